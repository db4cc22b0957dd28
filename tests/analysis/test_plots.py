"""Figures (`analysis.plots`): each writes a file whose axes carry the expected labels and data."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis import plots
from cycles import otto
from engines import BosonicBath, Qubit, WorkbenchError


def _engine_table(n=30):
    rng = np.random.default_rng(1234)
    power = rng.uniform(0, 1, n)
    return pd.DataFrame(
        {
            "cycle.tau_hot": np.repeat(np.arange(n // 5), 5)[:n] + 1.0,
            "cycle.tau_cold": np.tile(np.arange(5), n // 5)[:n] + 1.0,
            "path": "cycle-sweep",
            "power": power,
            "efficiency": 0.5 * (1 - power**2),
            "mode": np.where(power > 0.05, "engine", "heater"),
            "Q_hot": power + 1,
            "Q_cold": -1.0 - 0.5 * power,
            "T_hot": 4.0,
            "T_cold": 1.0,
        }
    )


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_efficiency_power_figure_is_written_with_its_labels(tmp_path, suffix):
    fig = plots.efficiency_power(_engine_table())
    ax = fig.axes[0]
    assert ax.get_xlabel() == "output power P [energy/time]"
    assert ax.get_ylabel() == "efficiency η"
    references = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()}
    assert references["Carnot 1 - T_c/T_h"] == pytest.approx(0.75)
    assert references["Curzon-Ahlborn"] == pytest.approx(0.5)
    path = plots.save(fig, tmp_path / f"ep.{suffix}")
    assert path.stat().st_size > 1000


def test_several_sweeps_share_one_efficiency_power_plot():
    fig = plots.efficiency_power({"otto": _engine_table(), "carnot": _engine_table(20)})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert {"otto", "carnot"} <= set(labels)


def test_heat_map_of_two_swept_parameters():
    fig = plots.column(_engine_table(), "cycle.tau_hot", "cycle.tau_cold", color="power")
    ax, colorbar = fig.axes
    assert ax.get_xlabel() == "cycle.tau_hot [1/energy]"
    assert colorbar.get_ylabel() == "output power P [energy/time]"


def test_currents_against_a_parameter():
    fig = plots.currents(_engine_table(), "cycle.tau_hot")
    assert [line.get_label() for line in fig.axes[0].get_lines()][:2] == ["Q_hot", "Q_cold"]


def test_current_against_chain_length_draws_a_line_per_anisotropy_and_flavour():
    table = pd.DataFrame(
        [
            {"flavour": f, "N": n, "Delta": D, "J_hot": 0.02 / n**D * (1.1 if f == "global" else 1.0)}
            for f in ("local", "global")
            for D in (0.0, 3.0)
            for n in range(4, 9)
        ]
    )
    fig = plots.current_vs_size(table)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 4 and {line.get_linestyle() for line in lines} == {"-", "--"}
    assert ax.get_yscale() == "log" and "[energy/time]" in ax.get_ylabel()
    assert "Δ = 3, local" in [line.get_label() for line in lines]


def test_cycle_diagrams_of_an_otto_cycle():
    """T-S and E-control panels: one point per stroke end, closed (first point repeated)."""
    cycle = otto(
        Qubit(1.0),
        BosonicBath("hot", 4.0, 0.2, "sigma_x"),
        BosonicBath("cold", 1.0, 0.2, "sigma_x"),
        low=1.0,
        high=2.0,
        tau_hot=math.inf,
        tau_cold=math.inf,
    )
    result = cycle.limit_cycle()
    fig = plots.cycle_diagrams(result, cycle)
    ts, ec = fig.axes
    assert ts.get_xlabel() == "entropy of the medium S [k_B]"
    assert ec.get_xlabel() == "control omega [energy]"
    energies = ec.get_lines()[0].get_ydata()
    np.testing.assert_allclose(energies[:-1], [row["energy"] for row in result.strokes])
    assert energies[-1] == energies[0]


def test_entropy_production_trajectory():
    frame = pd.DataFrame(
        {"t": [0.0, 1.0, 2.0], "sigma": [1.0, 0.5, 0.2], "sigma_na": [0.8, 0.3, 0.1], "sigma_hk": [0.2] * 3}
    ).set_index("t")
    fig = plots.entropy_production(frame)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time t [1/energy]"
    assert len(ax.get_lines()) == 3


def test_unknown_column_and_format_are_refused(tmp_path):
    with pytest.raises(WorkbenchError, match="no column 'nope'"):
        plots.column(_engine_table(), "nope", "power")
    with pytest.raises(WorkbenchError, match=r"must end in \.png, \.svg, \.pdf"):
        plots.save(plots.efficiency_power(_engine_table()), tmp_path / "x.jpg")
