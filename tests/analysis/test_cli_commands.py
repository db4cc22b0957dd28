"""End-to-end runs of every `qhe` command in a subprocess, on the bundled examples.

Each command exits 0 with its output, or 2 with one line naming what is wrong; the tables it writes
read back equal to the same sweep run from Python.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import systems

from analysis.design import read_design
from analysis.sweep import Grid, read_table, run_sweep

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _qhe(*args, cwd=ROOT):
    proc = subprocess.run(
        [sys.executable, "-m", "analysis.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_version_and_help_with_examples():
    code, out, _ = _qhe("--version")
    assert code == 0 and out.startswith("qhe ")
    for command in ("run", "entropy", "sweep", "table", "compare", "plot", "transport"):
        code, out, _ = _qhe(command, "--help")
        assert code == 0 and "Example:" in out, command


def test_sweep_table_and_plot_of_the_otto_example(tmp_path):
    out = tmp_path / "otto.parquet"
    grid = ["--grid", "cycle.tau_hot=0.5:8:4:log", "--grid", "cycle.tau_cold=0.5:8:3:log"]
    code, text, err = _qhe("sweep", EXAMPLES / "otto_qubit.toml", *grid, "--out", out, "--quiet")
    assert (code, err) == (0, ""), err
    assert "path cycle-sweep" in text
    table = read_table(out)
    expected = run_sweep(
        read_design(EXAMPLES / "otto_qubit.toml"),
        Grid.parse(["cycle.tau_hot=0.5:8:4:log", "cycle.tau_cold=0.5:8:3:log"]),
    ).to_frame()
    np.testing.assert_allclose(table["power"], expected["power"], rtol=0, atol=0)

    code, text, _ = _qhe("table", out, "--emp", "--json")
    assert code == 0
    emp = json.loads(text)
    assert emp["power"] == pytest.approx(expected.loc[expected["mode"] == "engine", "power"].max())
    code, text, _ = _qhe("table", out, "--pareto")
    assert code == 0 and "efficiency" in text
    code, text, _ = _qhe("plot", out, "-o", tmp_path / "ep.png")
    assert code == 0 and (tmp_path / "ep.png").stat().st_size > 1000
    code, _, err = _qhe("plot", out, "--x", "cycle.tau_hot", "--y", "nope", "-o", tmp_path / "x.png")
    assert code == 2 and "no column 'nope'" in err and err.count("\n") == 1


def test_sweep_directory_is_its_table_and_json(tmp_path):
    out = tmp_path / "maser"
    code, text, _ = _qhe(
        "sweep", EXAMPLES / "maser.toml", "--grid", "reservoirs.hot.T=2,10", "--out", out, "--json", "--quiet"
    )
    assert code == 0
    payload = json.loads(text)
    assert payload["path"] == "batch" and len(payload["rows"]) == 2
    assert len(read_table(out)) == 2 and (out / "manifest.json").exists()


def _dot_maximum_power(T_c):
    """(eps*, mu_c*, P*) maximising the closed-form power of the tight-coupling dot of
    examples/dot_thermoelectric.toml (T_h = 1, mu_h = 0, Gamma = 0.01 both):
    P = (mu_c - mu_h) I, I = Gamma_h Gamma_c (f_h - f_c)/(Gamma_h + Gamma_c) (`systems.dot_currents`)."""
    from scipy.optimize import minimize

    def minus_power(x):
        eps, mu_c = x
        return -(mu_c * systems.dot_currents(eps, 1.0, T_c, 0.0, mu_c, 0.01, 0.01)[0]) * 1e4

    best = minimize(
        minus_power,
        [2.0, 0.5 * (1 - T_c)],
        method="Nelder-Mead",
        options=dict(xatol=1e-9, fatol=1e-13, maxfev=20000),
    )
    assert best.success
    return best.x[0], best.x[1], -best.fun * 1e-4


def _grid_bound(eps, mu_c, h_eps, h_mu):
    """How far eta = mu_c/eps moves over one grid cell around (eps, mu_c): the grid's maximum of the
    power sits in a cell next to the true maximum, so its efficiency is within this of eta*."""
    return h_mu / eps + mu_c * h_eps / eps**2


def test_thermoelectric_dot_sweep_gives_its_efficiency_power_table(tmp_path):
    """`qhe sweep` over the dot's [sweep] grid, then `qhe table`, `--emp` and `--pareto`. Independent
    checks: every engine of the tightly coupled dot has eta = (mu_c - mu_h)/(eps - mu_h); the EMP is
    the maximum of the closed-form power P = (mu_c - mu_h) Gamma (f_h - f_c)/2 (scipy) to within one
    grid cell; eta*/eta_C lies between 1/2 and 1/(2 - eta_C), the bounds of Esposito, Kawai,
    Lindenberg, Van den Broeck, PRL 105, 150603 (2010), above Curzon-Ahlborn."""
    design, out = EXAMPLES / "dot_thermoelectric.toml", tmp_path / "dot-sweep"
    code, text, err = _qhe("sweep", design, "--out", out, "--quiet")
    assert (code, err) == (0, ""), err
    assert "504 designs, 0 failed" in text and "path batch" in text
    code, text, err = _qhe("table", out, "--json")
    assert (code, err) == (0, ""), err
    rows = json.loads(text)
    assert len(rows) > 100
    for row in rows:
        eps, mu_c = row["medium.energies.1"], row["reservoirs.right.mu"]
        assert row["efficiency"] == pytest.approx(mu_c / eps, rel=1e-9)  # tight coupling
        assert 0 < row["eta_over_carnot"] < 1 and row["carnot_efficiency"] == 0.5
    assert {row["mode"] for row in read_table(out).to_dict("records") if row["power"] > 1e-6} == {"engine"}

    code, text, err = _qhe("table", out, "--emp", "--json")
    assert (code, err) == (0, ""), err
    emp = json.loads(text)
    eps, mu_c, power = _dot_maximum_power(0.5)
    eta = mu_c / eps
    assert emp["on_edge"] == [] and emp["carnot"] == 0.5
    assert emp["power"] <= power * (1 + 1e-9)
    assert abs(emp["efficiency"] - eta) <= _grid_bound(eps, mu_c, 0.1, 0.05)  # measured: 1.3e-3 of 0.039
    assert 0.5 <= emp["efficiency"] / emp["carnot"] <= 1 / (2 - emp["carnot"])
    assert emp["efficiency"] > emp["curzon_ahlborn"]

    code, text, err = _qhe("table", out, "--pareto", "--json")
    assert (code, err) == (0, ""), err
    front = json.loads(text)
    assert {row["mode"] for row in front} == {"engine"}
    assert max(row["power"] for row in front) == emp["power"]  # the maximum-power design is on the front
    code, text, err = _qhe("table", out, "--pareto")
    assert code == 0 and "efficiency" in text


def test_thermoelectric_dot_efficiency_at_maximum_power_is_universal_to_second_order(tmp_path):
    """At eta_C = 0.1 (T_c = 0.9) the EMP of a fine CLI sweep around the maximum is eta_C/2 + eta_C^2/8
    (Esposito, Lindenberg, Van den Broeck, PRL 102, 130602 (2009)) up to the third-order term (for
    this dot 0.083 eta_C^3, from the closed form's maximum) and one grid cell; the Python-level
    extrapolation of the second-order coefficient is in tests/analysis/test_transport.py."""
    eta_c, h_eps, h_mu = 0.1, 0.0025, 0.0001
    grid = ["--grid", "medium.energies.1=2.29:2.39:41", "--grid", "reservoirs.right.mu=0.118:0.122:41"]
    out = tmp_path / "emp"
    code, _, err = _qhe(
        "sweep",
        EXAMPLES / "dot_thermoelectric.toml",
        "--set",
        "reservoirs.right.T=0.9",
        *grid,
        "--out",
        out,
        "--quiet",
    )
    assert (code, err) == (0, ""), err
    code, text, err = _qhe("table", out, "--emp", "--json")
    assert (code, err) == (0, ""), err
    emp = json.loads(text)
    assert emp["on_edge"] == [] and emp["carnot"] == pytest.approx(eta_c, rel=1e-12)
    eps, mu_c, _ = _dot_maximum_power(1 - eta_c)
    cell = _grid_bound(eps, mu_c, h_eps, h_mu)
    assert abs(emp["efficiency"] - mu_c / eps) <= cell  # measured: 3.6e-6 of 9.8e-5
    series = eta_c / 2 + eta_c**2 / 8
    assert abs(emp["efficiency"] - series) <= 0.1 * eta_c**3 + cell  # measured: 8.7e-5 of 2.0e-4
    assert abs(emp["efficiency"] - eta_c / 2) > 4 * (0.1 * eta_c**3 + cell)  # the second order is resolved


def test_compare_two_examples_with_a_figure(tmp_path):
    figure = tmp_path / "compare.png"
    code, text, err = _qhe(
        "compare", EXAMPLES / "otto_qubit.toml", EXAMPLES / "carnot_qubit.toml", "--plot", figure
    )
    assert code == 0, err
    assert "qubit Otto engine" in text and "qubit Carnot-like engine" in text
    assert figure.stat().st_size > 1000
    code, text, err = _qhe("compare", EXAMPLES / "maser.toml", EXAMPLES / "otto_qubit.toml", "--json")
    assert code == 0
    assert json.loads(text)["differences"]  # the reservoirs differ
    assert "do not see the same reservoirs" in err


def test_transport_of_the_dot_example_noise_and_linear_response():
    """The dot's noise against the two-state closed form; at equilibrium its Onsager matrix is
    tightly coupled (ZT = inf, Seebeck (eps - mu)/T)."""
    code, text, err = _qhe("transport", EXAMPLES / "dot.toml", "--noise", "--json")
    assert (code, err) == (0, ""), err
    rows = {r["reservoir"]: r for r in json.loads(text)["reservoirs"]}
    f_l, f_r = systems.fermi(1.0, 1.0, 0.0), systems.fermi(1.0, 0.5, 0.2)
    g_l, g_r = 0.02, 0.01
    mean, variance = systems.two_state_counting(g_l * f_l, g_l * (1 - f_l), g_r * f_r, g_r * (1 - f_r))
    assert rows["left"]["I"] == pytest.approx(mean, rel=1e-9)
    assert rows["left"]["var_I"] == pytest.approx(variance, rel=1e-9)
    assert rows["left"]["tur_ratio"] >= 2.0
    equilibrium = ["--set", "reservoirs.right.T=1", "--set", "reservoirs.right.mu=0"]
    code, text, err = _qhe("transport", EXAMPLES / "dot.toml", "--onsager", *equilibrium)
    assert (code, err) == (0, ""), err
    assert "ZT inf" in text and "seebeck 1," in text
    code, _, err = _qhe("transport", EXAMPLES / "maser.toml", "--onsager")
    assert code == 2 and "undriven machine" in err and err.count("\n") == 1


def test_run_and_transport_of_the_coulomb_dot_example():
    """The spinful dot (four spin reservoirs): `qhe run` and `qhe transport` agree reservoir by
    reservoir, the leads' summed currents balance, and the noise of a classical jump process obeys
    the TUR. The currents themselves are checked against the sequential-tunnelling closed forms and
    QuTiP in tests/engines/test_coulomb_dot.py."""
    design = EXAMPLES / "coulomb_dot.toml"
    code, text, err = _qhe("run", design, "--json")
    assert (code, err) == (0, ""), err
    ness = json.loads(text)
    assert ness["mode"] == "engine"
    code, text, err = _qhe("transport", design, "--noise", "--json")
    assert (code, err) == (0, ""), err
    rows = {r["reservoir"]: r for r in json.loads(text)["reservoirs"]}
    assert set(rows) == {"hot_up", "hot_dn", "cold_up", "cold_dn"}
    for name, row in rows.items():
        assert row["I"] == pytest.approx(ness["particle_currents"][name], rel=1e-9)
        assert row["tur_ratio"] >= 2.0
    hot = rows["hot_up"]["I"] + rows["hot_dn"]["I"]
    assert hot > 0 and hot == pytest.approx(-(rows["cold_up"]["I"] + rows["cold_dn"]["I"]), rel=1e-9)
    code, text, err = _qhe("transport", design)
    assert (code, err) == (0, ""), err
    assert "hot_dn" in text


def test_transport_bonds_of_the_chain_and_rectification_of_the_two_qubit_chain():
    code, text, err = _qhe("transport", EXAMPLES / "xxz_chain.toml", "--bonds", "--json")
    assert (code, err) == (0, ""), err
    payload = json.loads(text)
    hot = next(r["J"] for r in payload["reservoirs"] if r["reservoir"] == "hot")
    np.testing.assert_allclose(payload["bonds"]["energy"], hot, rtol=1e-9)  # full bookkeeping
    assert len(payload["bonds"]["magnetisation"]) == 5 and len(payload["bonds"]["sigma_z"]) == 6
    code, text, err = _qhe(
        "transport", EXAMPLES / "two_qubit_chain.toml", "--rectify", "hot:cold", "--bias", "0.2,1"
    )
    assert (code, err) == (0, ""), err
    assert "rectification hot:cold" in text
    code, _, err = _qhe("transport", EXAMPLES / "two_qubit_chain.toml", "--rectify", "hot")
    assert code == 2 and "LEFT:RIGHT" in err


def test_transport_plot_has_a_panel_per_result(tmp_path):
    """`qhe transport --plot`: the figure file is written; the payloads drawn in Python have the current
    panel (with noise error bars) and, with --bonds, the bond panel, with their labelled axes."""
    from analysis import plots

    figure = tmp_path / "transport.png"
    code, text, err = _qhe("transport", EXAMPLES / "xxz_chain.toml", "--bonds", "--plot", figure)
    assert (code, err) == (0, ""), err
    assert f"figure {figure}" in text and figure.stat().st_size > 1000
    code, text, _ = _qhe("transport", EXAMPLES / "xxz_chain.toml", "--bonds", "--json")
    currents, bonds = plots.transport(json.loads(text)).axes
    assert currents.get_ylabel().startswith("heat current J")
    assert [t.get_text() for t in bonds.get_legend().get_texts()][:2] == [
        "energy current / mean",
        "magnetisation current / mean",
    ]
    code, text, _ = _qhe("transport", EXAMPLES / "qubit_two_baths.toml", "--noise", "--json")
    (alone,) = plots.transport(json.loads(text)).axes
    assert "sqrt(Var J)" in alone.get_title()
    code, _, err = _qhe("transport", EXAMPLES / "xxz_chain.toml", "--plot", tmp_path / "x.gif")
    assert code == 2 and ".png" in err


def test_entropy_ledger_of_two_baths(tmp_path):
    """`qhe entropy` on the two-bath qubit: its table, figure and JSON agree with `relaxation` from Python.

    Independent check: at long times the per-bath Spohn terms sum to the NESS value -sum_a J_a / T_a of
    `qhe run --json`, which lists the same per-bath terms.
    """
    figure, table = tmp_path / "sigma.png", tmp_path / "ledger.csv"
    design = EXAMPLES / "qubit_two_baths.toml"
    code, text, err = _qhe(
        "entropy", design, "--initial", "0", "--until", "400", "--plot", figure, "--out", table
    )
    assert code == 0, err
    assert "sigma_hot" in text and figure.stat().st_size > 1000
    frame = pd.read_csv(table, index_col="t")
    code, text, err = _qhe("run", design, "--json")
    assert code == 0, err
    ness = json.loads(text)
    last = frame.iloc[-1]
    for name, value in ness["spohn_rates"].items():
        assert last[f"sigma_{name}"] == pytest.approx(value, rel=1e-6)
    assert last["sigma_hot"] + last["sigma_cold"] == pytest.approx(ness["entropy_production_rate"], rel=1e-6)
    code, text, err = _qhe("entropy", design, "--initial", "gibbs:1", "--until", "10", "--json")
    assert code == 0, err
    payload = json.loads(text)
    assert payload["converged"] and payload["ledger"]["t"][0] == 0.0
    assert payload["ledger"]["Sigma_na"][-1] == pytest.approx(
        payload["ledger"]["D"][0] - payload["ledger"]["D"][-1]
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(
            ["sweep", "maser.toml", "--grid", "reservoirs.hot.Temp=1:2:2"], "did you mean", id="grid-name"
        ),
        pytest.param(
            ["sweep", "maser.toml", "--grid", "reservoirs.hot.T"], "NAME=start:stop:num", id="grid-spec"
        ),
        pytest.param(["sweep", "maser.toml"], "no [sweep] table", id="no-grid"),
        pytest.param(["run", "maser.toml", "--set", "drive.strength=x"], "--set", id="set-value"),
        pytest.param(["table", "missing.parquet"], "missing.parquet", id="table-file"),
        pytest.param(["transport", "otto_qubit.toml"], "continuous machine", id="transport-cycle"),
        pytest.param(
            ["entropy", "otto_qubit.toml", "--initial", "0", "--until", "1"], "is a cycle", id="entropy-cycle"
        ),
        pytest.param(
            ["entropy", "maser.toml", "--initial", "0", "--until", "-1"],
            "`until` must be",
            id="entropy-until",
        ),
        pytest.param(
            ["entropy", "maser.toml", "--initial", "9", "--until", "1"],
            "qhe entropy: `--initial`",
            id="entropy-state",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(args, words):
    code, out, err = _qhe(*args, cwd=EXAMPLES)
    assert (code, out) == (2, "")
    assert words in err and err.count("\n") == 1, err
