"""Squeezed (``type = "squeezed"``) and channel (``type = "channel"``) reservoirs in design files.

The physics is checked in tests/engines/test_squeezed.py, test_channel.py and
tests/cycles/test_squeezed_otto.py; here: the schema builds the same machines, dotted names reach the
new fields, and bad input is one line with exit code 2.
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.cli import main
from analysis.design import design_from_dict
from analysis.parameters import parameters, with_values
from engines import Engine, SqueezedBath
from tests.systems import boundary_driven_chain

TOL = 1e-12

SQUEEZED_ENGINE = {
    "medium": {"type": "HarmonicOscillator", "omega": 1.0, "n_max": 16},
    "reservoirs": [
        {"name": "hot", "type": "squeezed", "T": 0.5, "r": 0.3, "phi": 0.2, "coupling": 0.1, "operator": "x"},
        {"name": "cold", "type": "bosonic", "T": 0.2, "coupling": 0.1, "operator": "x"},
    ],
}

CHAIN = {
    "medium": {"type": "SpinChain", "n": 3, "J": 1.0, "Delta": 0.5},
    "reservoirs": [
        {
            "name": "left",
            "type": "channel",
            "jumps": [{"operator": "sigma_plus_0", "rate": 1.2}, {"operator": "sigma_minus_0", "rate": 0.8}],
        },
        {
            "name": "right",
            "type": "channel",
            "jumps": [{"operator": "sigma_plus_2", "rate": 0.8}, {"operator": "sigma_minus_2", "rate": 1.2}],
        },
    ],
}


def test_squeezed_design_builds_the_python_engine():
    """``type = "squeezed"`` is `engines.SqueezedBath` with the same arguments (phi defaults to 0)."""
    ss = design_from_dict(SQUEEZED_ENGINE).steady_state()
    medium = design_from_dict(SQUEEZED_ENGINE).medium
    hot = SqueezedBath("hot", 0.5, 0.3, 0.2, 0.1, "x")
    from engines import BosonicBath

    ref = Engine(medium, [hot, BosonicBath("cold", 0.2, 0.1, "x")]).steady_state()
    assert np.max(np.abs(ss.rho - ref.rho)) < TOL
    assert ss.undefined is not None and ss.entropy_production_rate is None


def test_squeezing_is_a_dotted_parameter():
    """`reservoirs.hot.r` and `.phi` are sweepable names; r = 0 turns the bath thermal-equivalent."""
    names = parameters(SQUEEZED_ENGINE)
    assert "reservoirs.hot.r" in names and "reservoirs.hot.phi" in names
    changed = design_from_dict(with_values(SQUEEZED_ENGINE, {"reservoirs.hot.r": 0.0}))
    assert changed.reservoirs[0].r == 0.0


def test_channel_design_builds_the_boundary_driven_chain():
    """``type = "channel"`` with named jumps is the Python `ChannelReservoir` (Prosen's chain, mu = 0.2)."""
    ss = design_from_dict(CHAIN).steady_state()
    ref = boundary_driven_chain(3, 0.5, 1.0, 0.2).steady_state()
    assert np.max(np.abs(ss.rho - ref.rho)) < 1e-10
    assert "reservoirs.left.jumps.0.rate" in parameters(CHAIN)


def _write(tmp_path, text):
    path = tmp_path / "design.toml"
    path.write_text(text)
    return path


SQUEEZED_TOML = """
[medium]
type = "HarmonicOscillator"
omega = 1.0
n_max = 10

[[reservoirs]]
name = "hot"
type = "squeezed"
T = 1.0
r = {r}
coupling = 0.1
operator = "x"

[[reservoirs]]
name = "cold"
type = "bosonic"
T = 0.5
coupling = 0.1
operator = "x"
"""


@pytest.mark.parametrize(
    ("text", "field"),
    [
        pytest.param(SQUEEZED_TOML.format(r=-0.5), "`r` must be >= 0.0", id="negative-r"),
        pytest.param(
            SQUEEZED_TOML.format(r=0.3)
            + '\n[cycle]\ntype = "carnot"\nhot = "hot"\ncold = "cold"\nstart = 1.0\nend = 0.8\n'
            "tau_hot = 10.0\ntau_cold = 10.0\n",
            "must be a thermal reservoir",
            id="squeezed-carnot",
        ),
        pytest.param(
            SQUEEZED_TOML.format(r=0.3).replace('operator = "x"', 'operator = "n"', 1),
            "single Bohr frequency",
            id="squeezed-coupling-n",
        ),
        pytest.param(
            '[medium]\ntype = "Qubit"\nomega = 1.0\n\n[[reservoirs]]\nname = "c"\ntype = "channel"\n'
            'jumps = [{operator = "sigma_minus", rate = inf}]\n',
            "rate` must be a finite real number",
            id="channel-inf-rate",
        ),
        pytest.param(
            '[medium]\ntype = "Qubit"\nomega = 1.0\n\n[[reservoirs]]\nname = "c"\ntype = "channel"\n'
            'jumps = [{operator = "sigma_q", rate = 1.0}]\n',
            "did you mean",
            id="channel-unknown-operator",
        ),
    ],
)
def test_nonthermal_bad_input_is_one_line_and_exit_2(capsys, tmp_path, text, field):
    """Bad squeezed or channel input: `qhe run` exits 2 with one line naming the field."""
    path = _write(tmp_path, text)
    code = main(["run", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("qhe: error: ") and err.count("\n") == 1, err
    assert field in err


def test_sweep_over_squeezing_reports_the_reason_per_point():
    """A sweep of `reservoirs.hot.r` runs point by point: heat currents, NaN Carnot columns and the reason."""
    from analysis.sweep import Grid, run_sweep

    grid = Grid(("reservoirs.hot.r",), np.array([[0.0], [0.3]]))
    table = run_sweep(SQUEEZED_ENGINE, grid).to_frame()
    assert list(table["mode"]) == ["non-thermal", "non-thermal"]
    assert table["J_hot"].iloc[1] > table["J_hot"].iloc[0] > 0
    assert table["carnot_efficiency"].isna().all()
    assert table["undefined"].str.contains("not thermal").all()
