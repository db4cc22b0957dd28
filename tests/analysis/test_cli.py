"""Facts about the ``qhe`` command line (`analysis.cli`): every example, continuous machine or cycle,
runs, reports and emits JSON; the published results survive the round trip through the CLI; bad
input is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from analysis.cli import SOLVER_NAMES, main
from analysis.design import load_design
from engines.steady import SOLVERS

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))
TOL = 1e-9
#: What a report shows, per kind of design.
REPORT_LABELS = {
    "engine": ("mode", "power P", "entropy production", "reservoir", "heat current J", "solver", "flavour"),
    "cycle": (
        "mode",
        "work per cycle W",
        "period",
        "power P = -",
        "entropy production / cycle",
        "fixed-point residual",
        "reservoir",
        "heat per cycle Q",
        "stroke",
        "duration",
        "energy",
        "entropy",
    ),
}
#: Keys of the JSON result, per kind of design.
JSON_KEYS = {
    "engine": {"mode", "power", "heat_currents", "residual", "solver", "flavour"},
    "cycle": {
        "mode",
        "work",
        "heat",
        "period",
        "power",
        "entropy_per_cycle",
        "fixed_point_residual",
        "strokes",
    },
}


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def _example(stem: str) -> Path:
    return next(p for p in EXAMPLES if p.stem == stem)


def test_examples_exist():
    assert {p.stem for p in EXAMPLES} >= {
        "maser",
        "absorption_refrigerator",
        "qubit_two_baths",
        "two_qubit_chain",
        "otto_qubit",
        "otto_oscillator",
        "carnot_qubit",
        "stirling",
        "otto_refrigerator",
        "dot",
        "double_dot",
        "coulomb_dot",
        "dot_thermoelectric",
    }


def _kind(path: Path) -> str:
    """ "engine" or "cycle", from the parsed TOML (building a cycle compiles its strokes)."""
    with open(path, "rb") as f:
        return "cycle" if "cycle" in tomllib.load(f) else "engine"


def test_kind_helper_agrees_with_the_loader():
    for stem in ("maser", "otto_qubit"):
        assert load_design(_example(stem)).kind == _kind(_example(stem))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in EXAMPLES])
def test_example_runs_and_reports(capsys, path):
    code, out, err = _run(capsys, "run", path)
    assert (code, err) == (0, "")
    for label in REPORT_LABELS[_kind(path)]:
        assert label in out, label


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in EXAMPLES])
def test_example_json_parses(capsys, path):
    code, out, err = _run(capsys, "run", path, "--json")
    assert (code, err) == (0, "")
    result = json.loads(out)
    kind = _kind(path)
    assert JSON_KEYS[kind] <= result.keys()
    assert result["residual" if kind == "engine" else "fixed_point_residual"] < 1e-8


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in EXAMPLES])
def test_json_carries_the_design_name_source_and_description(capsys, path):
    """The JSON names what was solved: the design's name, description, source file and kind, first."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    result = json.loads(_run(capsys, "run", path, "--json")[1])
    assert next(iter(result)) == "design"
    assert result["design"] == {
        "name": data["name"],
        "description": data["description"],
        "source": str(path),
        "kind": _kind(path),
    }
    assert ("initial" in result) == (_kind(path) == "engine")


def test_maser_example_has_scovil_schulz_dubois_efficiency(capsys):
    """eta = 1 - w_c/w_h = 2/3 for the example maser (w_c = 1, w_h = 3).

    H. E. D. Scovil and E. O. Schulz-DuBois, Phys. Rev. Lett. 2, 262 (1959).
    """
    code, out, _ = _run(capsys, "run", _example("maser"), "--json")
    result = json.loads(out)
    assert (code, result["mode"]) == (0, "engine")
    assert result["efficiency"] == pytest.approx(1.0 - 1.0 / 3.0, abs=TOL)


def test_absorption_refrigerator_example_is_a_refrigerator(capsys):
    """Linden, Popescu and Skrzypczyk, Phys. Rev. Lett. 105, 130401 (2010): heat leaves the cold bath."""
    code, out, _ = _run(capsys, "run", _example("absorption_refrigerator"), "--json")
    result = json.loads(out)
    assert (code, result["mode"]) == (0, "refrigerator")
    assert result["heat_currents"]["cold"] > 0
    assert result["cop"] == pytest.approx(0.5, abs=1e-3)


def test_report_shows_efficiency_and_carnot_for_an_engine(capsys):
    _, out, _ = _run(capsys, "run", _example("maser"))
    assert "three-level maser" in out
    assert "efficiency          0.666667" in out
    assert "Carnot efficiency   0.95" in out


def test_report_shows_cycle_thermodynamics_and_strokes(capsys):
    """An Otto engine's report: W per cycle, its finite power, Carnot ratio, heats and the strokes in order.

    The power -W/period = 0.00317 over the period 5 + 7.5 + 1 + 1 is the finite-time closed form
    (tests/analysis/test_cycle_designs.py, `test_qubit_otto_example_power_is_the_finite_time_closed_form`).
    """
    _, out, _ = _run(capsys, "run", _example("otto_qubit"))
    assert "qubit Otto engine" in out
    assert "efficiency                  0.5\n" in out
    assert "eta / eta_Carnot            0.666667" in out
    assert "period                      14.5\n" in out
    assert "power P = -W/period         0.0031702\n" in out
    strokes = [
        line.split()[0]
        for line in out.splitlines()
        if line.startswith(("  compress", "  hot ", "  expand", "  cold "))
    ]
    assert strokes == ["hot", "cold", "compress", "hot", "expand", "cold"]  # reservoirs, then strokes


def test_report_shows_cop_and_carnot_cop_for_a_refrigerator(capsys):
    """Otto refrigerator: COP = w_c/(w_h - w_c) = 1/2 against the Carnot COP T_c/(T_h - T_c) = 1.

    Its strokes thermalise fully: the period is infinite and the power 0, and the report says why.
    """
    _, out, _ = _run(capsys, "run", _example("otto_refrigerator"))
    assert "power P = -W/period         0  (infinite period)\n" in out
    assert "mode                        refrigerator" in out
    assert "COP                         0.5\n" in out
    assert "Carnot COP T_c/(T_h - T_c)  1\n" in out
    assert "efficiency" not in out


def test_solver_option_overrides_the_design(capsys):
    """--solver picks the solver; dense and Pauli agree on a secular generator."""
    path = _example("qubit_two_baths")
    pauli = json.loads(_run(capsys, "run", path, "--json")[1])
    code, out, _ = _run(capsys, "run", path, "--json", "--solver", "dense")
    dense = json.loads(out)
    assert (code, pauli["solver"], dense["solver"]) == (0, "pauli", "dense")
    assert dense["heat_currents"]["hot"] == pytest.approx(pauli["heat_currents"]["hot"], rel=TOL)


def test_solver_names_in_help_match_the_engine():
    assert SOLVER_NAMES == SOLVERS


# ----------------------------------------------------------------------------------- bad input

_GOOD = """\
[medium]
type = "Qubit"
omega = 1.0

[engine]
flavour = "global"

[[reservoirs]]
name = "hot"
type = "bosonic"
T = 2.0
coupling = 0.01
operator = "sigma_x"
"""

BAD = [
    pytest.param(_GOOD.replace("omega = 1.0", "omega = "), "line 3, column 9", id="malformed-toml"),
    pytest.param("temperature = 1\n" + _GOOD, "'temperature'", id="unknown-top-level-key"),
    pytest.param(_GOOD + "colour = 'red'\n", "'colour'", id="unknown-reservoir-key"),
    pytest.param(_GOOD.replace("T = 2.0", "T = -1.0"), "`T`", id="negative-T"),
    pytest.param(_GOOD + "spectrum = 'lorentzian'\n", "`spectrum`", id="unknown-spectrum"),
    pytest.param(_GOOD.replace('"global"', '"regional"'), "`flavour`", id="unknown-flavour"),
    pytest.param(_GOOD.replace('"Qubit"', '"Qutrit"'), "`type`", id="unknown-medium-type"),
    pytest.param(_GOOD.replace("T = 2.0", 'T = "hot"'), "`T` must be a real number", id="wrong-value-type"),
    pytest.param(None, "no such design file", id="missing-file"),
]


@pytest.mark.parametrize(("text", "field"), BAD)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, text, field):
    path = tmp_path / "design.toml"
    if text is not None:
        path.write_text(text)
    code, out, err = _run(capsys, "run", path)
    assert code == 2
    assert out == ""
    assert err.startswith("qhe: error: ") and err.count("\n") == 1, err
    assert str(path) in err and field in err
    assert "Traceback" not in err


_GOOD_CYCLE = """\
[medium]
type = "Qubit"
omega = 1.0

[[reservoirs]]
name = "hot"
type = "bosonic"
T = 4.0
coupling = 0.05
operator = "sigma_x"

[[reservoirs]]
name = "cold"
type = "bosonic"
T = 1.0
coupling = 0.05
operator = "sigma_x"

[[cycle.strokes]]
type = "unitary"
name = "compress"
start = { omega = 1.0 }
end = { omega = 2.0 }
duration = 0.0

[[cycle.strokes]]
type = "thermalize"
name = "hot"
bath = "hot"
controls = { omega = 2.0 }
duration = inf

[[cycle.strokes]]
type = "unitary"
name = "expand"
start = { omega = 2.0 }
end = { omega = 1.0 }
duration = 0.0

[[cycle.strokes]]
type = "thermalize"
name = "cold"
bath = "cold"
controls = { omega = 1.0 }
duration = inf
"""

BAD_CYCLES = [
    pytest.param(_GOOD_CYCLE.replace('"thermalize"', '"isochore"', 1), "`type`", id="unknown-stroke-type"),
    pytest.param(_GOOD_CYCLE.replace('bath = "hot"', 'bath = "warm"'), "`bath`", id="unknown-bath"),
    pytest.param(
        _GOOD_CYCLE.replace("end = { omega = 2.0 }", "end = { omega = 3.0 }"),
        "start['omega']",
        id="strokes-do-not-close",
    ),
    pytest.param(
        _GOOD_CYCLE.replace("duration = inf", "duration = -1.0", 1), "`duration`", id="negative-duration"
    ),
    pytest.param(_GOOD_CYCLE + '[engine]\nflavour = "global"\n', "[engine]", id="cycle-and-engine"),
]


@pytest.mark.parametrize(("text", "field"), BAD_CYCLES)
def test_bad_cycle_is_one_line_and_exit_2(capsys, tmp_path, text, field):
    path = tmp_path / "cycle.toml"
    path.write_text(text)
    code, out, err = _run(capsys, "run", path)
    assert (code, out) == (2, "")
    assert err.startswith(f"qhe: error: {path}: ") and err.count("\n") == 1, err
    assert field in err and "Traceback" not in err


def test_good_cycle_of_the_bad_cycle_tests_runs(capsys, tmp_path):
    """The design the bad cycles mutate is itself fine (a qubit Otto engine, eta = 1 - 1/2)."""
    path = tmp_path / "cycle.toml"
    path.write_text(_GOOD_CYCLE)
    code, out, _ = _run(capsys, "run", path, "--json")
    assert code == 0
    assert json.loads(out)["efficiency"] == pytest.approx(0.5, abs=TOL)


def test_solver_option_on_a_cycle_exits_2(capsys):
    """A cycle has no steady-state solver to choose: --solver is refused, naming the option."""
    code, out, err = _run(capsys, "run", _example("otto_qubit"), "--solver", "dense")
    assert (code, out) == (2, "")
    assert err.startswith("qhe: error: qhe run: `--solver` applies to continuous machines")


def test_bad_solver_option_exits_2(capsys):
    code, out, err = _run(capsys, "run", _example("maser"), "--solver", "magic")
    assert (code, out) == (2, "")
    assert err == "qhe: error: qhe run: `--solver` must be one of " + ", ".join(map(repr, SOLVERS)) + (
        ", got 'magic'.\n"
    )


def test_pauli_solver_on_a_driven_design_exits_2(capsys):
    """The Pauli solver needs an undriven secular generator: the error names the design and the fix."""
    code, _, err = _run(capsys, "run", _example("maser"), "--solver", "pauli")
    assert code == 2
    assert err.startswith(f"qhe: error: {_example('maser')}: steady_state: `solver` 'pauli'")


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["run"]) == 2
    assert main(["fly", "x.toml"]) == 2
    capsys.readouterr()


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert main(["run", "--help"]) == 0
    out, _ = capsys.readouterr()
    assert "--json" in out and "--solver" in out and "--initial" in out and "gibbs:T" in out


@pytest.mark.parametrize("stem", ["qubit_two_baths", "otto_qubit"])
def test_run_does_not_import_pandas_or_matplotlib(stem):
    """Start-up stays light: `qhe run` needs numpy, scipy and numba only, for engines and cycles."""
    code = (
        "import sys; from analysis.cli import main; "
        f"assert main(['run', {str(_example(stem))!r}]) == 0; "
        f"assert main(['run', {str(_example(stem))!r}, '--json']) == 0; "
        "heavy = [m for m in ('pandas', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_cli_import_does_not_load_the_physics(tmp_path):
    """``qhe --help`` stays fast: importing the command line (and the package) loads no engines or numpy."""
    code = (
        "import sys, analysis.cli; "
        "loaded = [m for m in ('engines', 'cycles', 'numpy', 'analysis.design') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_load_design_is_public_api():
    """`analysis` exports the design-file API (documented, in __all__), loaded on first use."""
    import analysis
    import analysis.design

    for name in ("load_design", "design_from_dict", "Design"):
        assert name in analysis.__all__
        assert getattr(analysis, name) is getattr(analysis.design, name)
        assert getattr(analysis, name).__doc__
    assert set(analysis.__all__) <= set(dir(analysis))
    with pytest.raises(AttributeError, match="no attribute 'load'"):
        analysis.load  # noqa: B018


def test_closed_stdout_is_not_an_input_error():
    """``qhe run X --json | head``: when the reader goes away, no bogus "error" and no exit status 2."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "analysis.cli", "run", str(_example("qubit_two_baths")), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # before the child writes anything
    err = proc.stderr.read()
    proc.stderr.close()
    assert (proc.wait(timeout=120), err) == (1, b"")


# ------------------------------------------------------------------------ numbers in the report
class _WithResolution:
    """A result with a numerical `resolution` (and optional overrides), as `SteadyState` will have."""

    def __init__(self, result, resolution, **overrides):
        self._result, self.resolution = result, resolution
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._result, name)


def _figure(report_text: str, label: str) -> str:
    line = next(line for line in report_text.splitlines() if line.strip().startswith(label))
    return line.split()[-1]


def test_power_below_resolution_prints_as_zero():
    """A transport machine's P = J_hot + J_cold is round-off: within its resolution it is 0.

    The heat currents themselves, far above the resolution, print unchanged; a stand-in result whose
    power is round-off (1e-18) below its resolution also prints 0.
    """
    from analysis.cli import report

    design = load_design(_example("qubit_two_baths"))
    result = design.run()
    assert result.resolution > 0 and result.power == 0.0  # reported as exactly 0 by the solver
    text = report(design, result)
    assert _figure(text, "power P") == "0"
    hot = next(line for line in text.splitlines() if line.startswith("  hot "))
    assert hot.split()[4] == f"{result.heat_currents['hot']:.6g}"
    dusty = _WithResolution(result, 1e-15, power=1e-18)
    assert _figure(report(design, dusty), "power P") == "0"


def test_cycle_work_and_heat_below_resolution_print_as_zero():
    from analysis.cli import report

    design = load_design(_example("otto_qubit"))
    result = design.run()
    heat = {name: 1e-20 for name in result.heat}
    text = report(design, _WithResolution(result, 1e-15, work=-3e-19, power=-2e-20, heat=heat))
    assert _figure(text, "work per cycle W") == "0"
    assert _figure(text, "power P = -W/period") == "0"
    assert _figure(text, "hot ") == "0" and _figure(text, "cold ") == "0"


@pytest.mark.parametrize("stem", ["qubit_two_baths", "otto_qubit"])
def test_report_never_prints_negative_zero(stem):
    """-0.0 (a sum of cancelling terms, a sign-flipped zero) prints as 0, with or without a resolution."""
    from analysis.cli import report

    design = load_design(_example(stem))
    result = design.run()
    if design.kind == "engine":
        zeros = dict(
            power=-0.0, entropy_production=-0.0, heat_currents={k: -0.0 for k in result.heat_currents}
        )
    else:
        zeros = dict(work=-0.0, power=-0.0, entropy_production=-0.0, heat={k: -0.0 for k in result.heat})
    text = report(design, _WithResolution(result, 0.0, **zeros))
    assert not any(cell == "-0" for line in text.splitlines() for cell in line.split()), text


# -------------------------------------------------------------------------------- user code
class _StandaloneUserCodeError(Exception):
    """The UserCodeError to come: its own class, neither a ValueError nor a WorkbenchError."""


@pytest.mark.parametrize("stage", ["building", "solving"])
@pytest.mark.parametrize(
    "hierarchy",
    [
        pytest.param("today", id="UserCodeError-is-a-WorkbenchError"),
        pytest.param("new", id="UserCodeError-alone"),
    ],
)
def test_error_in_user_code_is_reported_as_such(capsys, monkeypatch, tmp_path, hierarchy, stage):
    """A user's spectrum raising inside the engines: "qhe: error in user code: ..." with the original
    message and the original exception's type, exit 2, one line, whatever UserCodeError derives from,
    and however often the workbench re-raised it with context in front (`Design.steady_state`)."""
    import engines
    import engines.checks
    import engines.reservoirs
    from engines import WorkbenchError

    if hierarchy == "new":
        for module in (engines, engines.checks, engines.reservoirs):
            monkeypatch.setattr(module, "UserCodeError", _StandaloneUserCodeError)
        assert not issubclass(engines.UserCodeError, (WorkbenchError, ValueError))

    def spectrum(w):
        raise ZeroDivisionError("the user divided by zero")

    def load(path, sets):  # a design whose bath has a Python spectrum, as a Python design file would
        kwargs = {"spectrum": spectrum} if stage == "building" else {}
        bath = engines.BosonicBath("hot", 1.0, 0.1, "sigma_x", **kwargs)
        design = analysis.design.Design(engine=engines.Engine(engines.Qubit(1.0), [bath]), source=str(path))
        return design, {}

    def steady_state(self, solver="auto", initial=None):  # the spectrum is evaluated while solving
        return self.reservoirs[0].__class__("hot", 1.0, 0.1, "sigma_x", spectrum=spectrum).rate([1.0])

    if stage == "solving":
        monkeypatch.setattr(engines.Engine, "steady_state", steady_state)

    import analysis.cli
    import analysis.design

    monkeypatch.setattr(analysis.cli, "_design", load)
    code, out, err = _run(capsys, "run", tmp_path / "python_design.toml")
    assert (code, out) == (2, "")
    source = re.escape(f"{tmp_path / 'python_design.toml'}: ")  # in front when Design re-raised it
    assert re.fullmatch(
        rf"qhe: error in user code: ({source})?BosonicBath 'hot': the `spectrum` callable '[^']*spectrum' "
        r"raised ZeroDivisionError: the user divided by zero \(at w = [^\n]*\)\.\n",
        err,
    ), err
