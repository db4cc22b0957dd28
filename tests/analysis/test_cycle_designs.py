"""Facts about cycle designs (``[cycle]`` in `analysis.design`): the schema maps onto `cycles`, the cycle
examples reproduce their closed forms, and every malformed cycle fails with a message naming the field.

Reference cycles, with the closed forms the tests check (qubit H = (omega/2) sigma_z, so a Gibbs state at
(omega, T) has <sigma_z> = -tanh(omega/2T); oscillator H = omega n with Bose occupation
nbar(omega, T) = 1/(exp(omega/T) - 1)):

* Otto cycle with sudden quenches (Kieu, PRL 93, 140403 (2004)): the quenches keep the populations, so
  the hot stroke takes Q_h = w_h Delta and the cold one gives back w_c Delta, with Delta the change of
  the excitation per cycle; hence eta = 1 - w_c/w_h and, for full thermalisation of a qubit,
  -W = (w_h - w_c)(tanh(w_c/2T_c) - tanh(w_h/2T_h))/2.  When w_c/w_h < T_c/T_h the signs flip: a
  refrigerator with COP = Q_c/W = w_c/(w_h - w_c) (Quan, Liu, Sun & Nori, PRE 76, 031105 (2007)).
* Qubit Otto cycle at finite times (Rezek & Kosloff, NJP 8, 83 (2006); the derivation is also in
  tests/cycles/test_otto.py): a flat bath of coupling kappa through sigma_x (|<0|sigma_x|1>| = 1)
  moves the upper-level population p at rates kappa (1 + n) down and kappa n up, so
  dp/dt = -Gamma (p - p_eq) with Gamma = kappa (1 + 2n) = kappa coth(w/2T) and
  p_eq = 1/(1 + exp(w/T)); a stroke of length tau leaves x = exp(-Gamma tau) of the distance.  The
  unitary strokes of a qubit with H = (w/2) sigma_z commute with themselves at every w, so they keep p
  whatever their durations; the limit cycle p_2 = p_h + (p_1 - p_h) x_h, p_1 = p_c + (p_2 - p_c) x_c
  moves p_2 - p_1 = (p_h - p_c)(1 - x_h)(1 - x_c)/(1 - x_h x_c) per cycle, with
  -W = (w_h - w_c)(p_2 - p_1), Q_h = w_h (p_2 - p_1) and P = -W / (tau_h + tau_c + tau_compress +
  tau_expand).
* Oscillator Otto cycle at finite times (Rezek & Kosloff, NJP 8, 83 (2006), frictionless case): with a
  flat bath of coupling kappa through x = (a + a^dag)/sqrt(2), <n> relaxes as d<n>/dt = -gamma (<n> -
  nbar) with gamma = kappa |<0|x|1>|^2 = kappa/2, so a stroke of length tau leaves a fraction
  x = exp(-gamma tau) of the distance to nbar.  The unitary strokes keep <n>; the limit cycle
  n_h = nbar_h + (n_c - nbar_h) x_h, n_c = nbar_c + (n_h - nbar_c) x_c gives
  n_h - n_c = (nbar_h - nbar_c)(1 - x_h)(1 - x_c)/(1 - x_h x_c) and -W = (w_h - w_c)(n_h - n_c).
* Quasi-static isotherms (Alicki, J. Phys. A 12, L103 (1979)): the work done on the medium is the
  free-energy change, F_T(omega) = -T ln(2 cosh(omega/2T)) for the qubit, and the heat is T Delta S;
  a Carnot cycle then reaches eta_C = 1 - T_c/T_h (Geva & Kosloff, J. Chem. Phys. 96, 3054 (1992)).
  Piecewise-constant isotherms with `steps` steps miss this by O(1/steps).
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import systems

import cycles
import engines
from analysis.design import CYCLES, STROKES, Design, design_from_dict, load_design
from engines import WorkbenchError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOL = 1e-9
#: The truncated oscillator (n_max = 16) deviates from the untruncated closed form by ~1e-8.
TOL_TRUNCATION = 1e-6
#: Isotherms with 64 steps: Carnot efficiency and isothermal work within 1% of the quasi-static values.
TOL_QUASISTATIC = 0.01


def _data(stem: str) -> dict:
    with open(EXAMPLES / f"{stem}.toml", "rb") as f:
        return tomllib.load(f)


@functools.cache
def _example(stem: str):
    """(design, limit cycle) of an example, solved once per test session."""
    design = load_design(EXAMPLES / f"{stem}.toml")
    return design, design.run()


def _qubit_free_energy(w, T):
    return -T * math.log(2.0 * math.cosh(w / (2.0 * T)))


def _qubit_entropy(w, T):
    x = w / (2.0 * T)
    return math.log(2.0 * math.cosh(x)) - x * math.tanh(x)


CYCLE_EXAMPLES = ["otto_qubit", "otto_oscillator", "carnot_qubit", "stirling", "otto_refrigerator"]


# ------------------------------------------------------------------------------------ schema


def _keyword_arguments(fn, skip=()):
    params = [p for p in inspect.signature(fn).parameters.values() if p.name not in skip]
    required = {p.name for p in params if p.default is inspect.Parameter.empty}
    return required, {p.name for p in params} - required


@pytest.mark.parametrize("kind", list(CYCLES))
def test_named_cycle_schema_matches_the_constructor(kind):
    """The keys of ``[cycle] type = kind`` are exactly the constructor's keyword arguments."""
    build, required, optional = CYCLES[kind]
    assert build is getattr(cycles, kind)
    assert _keyword_arguments(build, skip=("medium", "options")) == (set(required), set(optional))


@pytest.mark.parametrize("kind", list(STROKES))
def test_stroke_schema_matches_the_stroke_class(kind):
    """The keys of a ``[[cycle.strokes]]`` table of `type` kind are exactly the stroke's fields."""
    cls, required, optional = STROKES[kind]
    assert cls.__name__.lower() == kind
    assert _keyword_arguments(cls) == (set(required), set(optional))


def test_cycle_design_kind_and_reservoirs():
    design, result = _example("otto_qubit")
    assert isinstance(design, Design) and design.kind == "cycle" and design.engine is None
    assert isinstance(result, cycles.CycleResult)
    assert [r.name for r in design.reservoirs] == ["hot", "cold"]
    assert (design.name, design.source) == ("qubit Otto engine", str(EXAMPLES / "otto_qubit.toml"))


def test_inf_is_the_toml_float():
    """``tau_hot = inf`` in TOML reaches the thermalisation strokes as math.inf."""
    design, _ = _example("otto_refrigerator")
    hot = next(s for s in design.cycle.strokes if s.name == "hot")
    assert hot.duration == math.inf


def test_stroke_fields_reach_the_strokes():
    """Every optional field of an explicit stroke is passed to `cycles` unchanged."""
    data = _data("stirling")
    data["cycle"]["strokes"][0].update(steps=4, tol=0.5, schedule="linear", flavour="global", duration=50.0)
    data["cycle"]["strokes"][1]["flavour"] = "local"
    data["cycle"]["strokes"][2]["steps"] = 4
    strokes = design_from_dict(data).cycle.strokes
    iso, cool = strokes[0], strokes[1]
    assert (iso.steps, iso.tol, iso.schedule, iso.duration, iso.name) == (
        4,
        0.5,
        "linear",
        50.0,
        "hot isotherm",
    )
    assert (iso.bath.name, iso.start, iso.end) == ("hot", {"omega": 4.0}, {"omega": 2.0})
    assert (cool.flavour, cool.controls, cool.duration, cool.bath.name) == (
        "local",
        {"omega": 2.0},
        math.inf,
        "cold",
    )


def test_stroke_names_default_as_in_cycles():
    data = _data("stirling")
    for s in data["cycle"]["strokes"]:
        del s["name"]
    names = [s.name for s in design_from_dict(data).cycle.strokes]
    assert names == ["isotherm hot", "thermalize cold", "isotherm cold", "thermalize hot"]


def test_explicit_strokes_reproduce_the_named_stirling_cycle():
    """stirling.toml written stroke by stroke is `cycles.stirling` with start = 4, end = 2."""
    data = _data("stirling")
    del data["cycle"]
    data["cycle"] = dict(
        type="stirling", hot="hot", cold="cold", start=4.0, end=2.0, tau_hot=1e4, tau_cold=1e4, steps=64
    )
    named = design_from_dict(data).run()
    _, explicit = _example("stirling")
    assert explicit.work == pytest.approx(named.work, rel=TOL)
    for name, Q in named.heat.items():
        assert explicit.heat[name] == pytest.approx(Q, rel=TOL)


def test_engine_and_cycle_designs_refuse_each_others_solve():
    design, _ = _example("otto_qubit")
    with pytest.raises(WorkbenchError, match=r"otto_qubit.toml: the design is a cycle, .* limit_cycle\(\)"):
        design.steady_state()
    with pytest.raises(WorkbenchError, match=r"`solver` = 'dense' applies to continuous engines"):
        design.run("dense")
    engine = load_design(EXAMPLES / "qubit_two_baths.toml")
    assert engine.kind == "engine"
    with pytest.raises(WorkbenchError, match=r"qubit_two_baths.toml: the design is a continuous engine"):
        engine.limit_cycle()
    with pytest.raises(WorkbenchError, match=r"exactly one of `engine` .* and `cycle`"):
        Design(name="nothing")


# ------------------------------------------------------------------------------- physics facts


@pytest.mark.parametrize("stem", CYCLE_EXAMPLES)
def test_first_and_second_law_per_cycle(stem):
    """W + sum_a Q_a = 0 and -sum_a Q_a / T_a >= 0 over one period of every cycle example."""
    _, r = _example(stem)
    scale = max(abs(r.work), *map(abs, r.heat.values()))
    assert r.work + sum(r.heat.values()) == pytest.approx(0.0, abs=TOL * scale)
    assert r.entropy_per_cycle >= 0.0
    assert r.fixed_point_residual < TOL


@pytest.mark.parametrize(
    ("T_hot", "T_cold", "w_c", "w_h"),
    [pytest.param(4.0, 1.0, 1.0, 2.0, id="example"), pytest.param(10.0, 0.5, 0.3, 2.5, id="hotter-wider")],
)
def test_qubit_otto_efficiency_is_kieu(T_hot, T_cold, w_c, w_h):
    """eta = 1 - w_c/w_h, -W = (w_h - w_c)(tanh(w_c/2T_c) - tanh(w_h/2T_h))/2 (derivation above).

    T. D. Kieu, Phys. Rev. Lett. 93, 140403 (2004).
    """
    data = _data("otto_qubit")
    data["reservoirs"][0]["T"], data["reservoirs"][1]["T"] = T_hot, T_cold
    data["cycle"].update(low=w_c, high=w_h, tau_hot=math.inf, tau_cold=math.inf)  # full thermalisation
    r = design_from_dict(data).run()
    assert r.mode == "engine"
    assert r.efficiency == pytest.approx(1.0 - w_c / w_h, abs=TOL)
    work = (w_h - w_c) * (math.tanh(w_c / (2 * T_cold)) - math.tanh(w_h / (2 * T_hot))) / 2
    assert -r.work == pytest.approx(work, rel=TOL)
    assert r.efficiency < r.carnot_efficiency


def _qubit_relaxation(kappa, w, T, tau):
    """x = exp(-kappa coth(w/2T) tau): the fraction of its distance to p_eq a population keeps."""
    return math.exp(-kappa / math.tanh(w / (2.0 * T)) * tau)


def _p_upper(w, T):
    return 1.0 / (1.0 + math.exp(w / T))


def test_qubit_otto_example_power_is_the_finite_time_closed_form():
    """otto_qubit.toml runs at finite times: P = -W/period > 0, with the closed form in the module doc.

    Y. Rezek and R. Kosloff, New J. Phys. 8, 83 (2006); T. D. Kieu, Phys. Rev. Lett. 93, 140403 (2004).
    The numbers its description quotes are these, to the digits quoted.
    """
    data = _data("otto_qubit")
    c = data["cycle"]
    hot, cold = (next(r for r in data["reservoirs"] if r["name"] == c[k]) for k in ("hot", "cold"))
    w_c, w_h = c["low"], c["high"]
    x_h = _qubit_relaxation(hot["coupling"], w_h, hot["T"], c["tau_hot"])
    x_c = _qubit_relaxation(cold["coupling"], w_c, cold["T"], c["tau_cold"])
    moved = (_p_upper(w_h, hot["T"]) - _p_upper(w_c, cold["T"])) * (1 - x_h) * (1 - x_c) / (1 - x_h * x_c)
    period = c["tau_hot"] + c["tau_cold"] + c["tau_compress"] + c["tau_expand"]
    power = (w_h - w_c) * moved / period

    _, r = _example("otto_qubit")
    assert math.isfinite(r.period) and r.power > 0  # the example shows a power, not 0
    assert r.period == period
    assert r.mode == "engine"
    assert -r.work == pytest.approx((w_h - w_c) * moved, rel=TOL)
    assert r.heat["hot"] == pytest.approx(w_h * moved, rel=TOL)
    assert r.heat["cold"] == pytest.approx(-w_c * moved, rel=TOL)
    assert r.power == pytest.approx(power, rel=TOL)
    assert r.efficiency == pytest.approx(1.0 - w_c / w_h, abs=TOL)
    text = " ".join(data["description"].split())
    for quoted in (f"x_h = {x_h:.3f}", f"x_c = {x_c:.3f}", f"Q_h = {w_h * moved:.3g}", f"P = {power:.3g}"):
        assert quoted in text, quoted


def test_otto_refrigerator_cop():
    """w_c/w_h < T_c/T_h: heat leaves the cold bath with COP = w_c/(w_h - w_c) < T_c/(T_h - T_c).

    T. D. Kieu, PRL 93, 140403 (2004); H. T. Quan, Y.-x. Liu, C. P. Sun and F. Nori, PRE 76, 031105 (2007).
    """
    design, r = _example("otto_refrigerator")
    w_c, w_h = design.cycle.strokes[0].start["omega"], design.cycle.strokes[0].end["omega"]
    T = r.temperatures
    assert w_c / w_h < T["cold"] / T["hot"]
    assert (r.mode, r.efficiency) == ("refrigerator", None)
    assert r.heat["cold"] > 0 and r.work > 0
    assert r.cop == pytest.approx(w_c / (w_h - w_c), abs=TOL)
    assert r.cop < T["cold"] / (T["hot"] - T["cold"])


def test_oscillator_otto_finite_time_closed_form():
    """Partial thermalisation, frictionless adiabats: eta = 1 - w_c/w_h and
    -W = (w_h - w_c)(nbar_h - nbar_c)(1 - x_h)(1 - x_c)/(1 - x_h x_c), x = exp(-kappa tau/2).

    Y. Rezek and R. Kosloff, New J. Phys. 8, 83 (2006) (derivation in the module docstring).
    """
    design, r = _example("otto_oscillator")
    hot, cold = design.reservoirs
    c = _data("otto_oscillator")["cycle"]
    w_c, w_h = c["low"], c["high"]
    x_h, x_c = math.exp(-hot.coupling * c["tau_hot"] / 2), math.exp(-cold.coupling * c["tau_cold"] / 2)
    moved = (systems.bose(w_h, hot.T) - systems.bose(w_c, cold.T)) * (1 - x_h) * (1 - x_c) / (1 - x_h * x_c)
    assert r.mode == "engine"
    assert r.efficiency == pytest.approx(1.0 - w_c / w_h, abs=TOL)
    assert -r.work == pytest.approx((w_h - w_c) * moved, rel=TOL_TRUNCATION)
    assert r.heat["hot"] == pytest.approx(w_h * moved, rel=TOL_TRUNCATION)
    period = c["tau_hot"] + c["tau_cold"] + c["tau_compress"] + c["tau_expand"]
    assert (r.period, r.power) == (period, pytest.approx(-r.work / period, rel=TOL))


def test_oscillator_truncation_is_checked_on_the_limit_cycle():
    """Too small an n_max fails with the medium's truncation message, naming the stroke."""
    data = _data("otto_oscillator")
    data["medium"]["n_max"] = 4
    with pytest.raises(WorkbenchError, match=r"^<dict>: limit cycle, state at the end of stroke .*n_max=4"):
        design_from_dict(data).run()


def test_carnot_qubit_reaches_carnot_within_one_percent():
    """Long, finely stepped isotherms: eta within 1% of 1 - T_c/T_h, never above it.

    E. Geva and R. Kosloff, J. Chem. Phys. 96, 3054 (1992); R. Alicki, J. Phys. A 12, L103 (1979).
    """
    _, r = _example("carnot_qubit")
    assert r.mode == "engine"
    assert r.carnot_efficiency == pytest.approx(1.0 - 1.0 / 4.0, abs=TOL)
    assert r.efficiency < r.carnot_efficiency
    assert r.efficiency == pytest.approx(r.carnot_efficiency, rel=TOL_QUASISTATIC)


def test_stirling_work_is_the_free_energy_change():
    """Quasi-static isotherms: W = F_h(2) - F_h(4) + F_c(4) - F_c(2); eta far below Carnot.

    R. Alicki, J. Phys. A 12, L103 (1979).
    """
    _, r = _example("stirling")
    T_h, T_c = r.temperatures["hot"], r.temperatures["cold"]
    work = (
        _qubit_free_energy(2.0, T_h)
        - _qubit_free_energy(4.0, T_h)
        + _qubit_free_energy(4.0, T_c)
        - _qubit_free_energy(2.0, T_c)
    )
    assert r.mode == "engine"
    assert r.work == pytest.approx(work, rel=TOL_QUASISTATIC)
    hot_isotherm = r.strokes[0]
    assert hot_isotherm["Q_hot"] == pytest.approx(
        T_h * (_qubit_entropy(2.0, T_h) - _qubit_entropy(4.0, T_h)), rel=2 * TOL_QUASISTATIC
    )
    assert r.efficiency < 0.6 * r.carnot_efficiency


# ------------------------------------------------------------------------------------ bad input

_OTTO = _data("otto_qubit")
_STIRLING = _data("stirling")


def _otto(**changes):
    """A mutation of otto_qubit's [cycle] table (None deletes the key)."""

    def mutate(d):
        for k, v in changes.items():
            if v is None:
                del d["cycle"][k]
            else:
                d["cycle"][k] = v

    return mutate


def _stroke(index, **changes):
    """A mutation of stirling's stroke `index` (None deletes the key)."""

    def mutate(d):
        s = d["cycle"]["strokes"][index]
        for k, v in changes.items():
            if v is None:
                del s[k]
            else:
                s[k] = v

    return mutate


def _top(key, value):
    def mutate(d):
        d[key] = value

    return mutate


BAD = [
    # both kinds of design, or neither kind of cycle
    pytest.param(
        _OTTO,
        _top("engine", {"flavour": "global"}),
        r"the design has both \[cycle\] and \[engine\]",
        id="cycle-and-engine",
    ),
    pytest.param(
        _OTTO,
        _top("drive", {"levels": [0, 1], "strength": 0.1}),
        r"both \[cycle\] and \[drive\]",
        id="cycle-and-drive",
    ),
    pytest.param(_OTTO, _top("cycle", 3), r"\[cycle\] must be a table", id="cycle-not-table"),
    pytest.param(_OTTO, _top("cycle", {}), r"\[cycle\] needs either `type`", id="empty-cycle"),
    pytest.param(
        _OTTO,
        _otto(strokes=[]),
        r"\[cycle\] has both `type` and `strokes`",
        id="type-and-strokes",
    ),
    # named cycles
    pytest.param(_OTTO, _otto(type="diesel"), r"\[cycle\]: `type` must be one of 'otto'", id="unknown-cycle"),
    pytest.param(
        _OTTO,
        _otto(lo=1.0),
        r"unknown key 'lo' in \[cycle\] \(type 'otto'\); allowed keys: type, hot, cold, low",
        id="unknown-cycle-key",
    ),
    pytest.param(_OTTO, _otto(high=None), r"missing the required key 'high'", id="missing-high"),
    pytest.param(
        _OTTO,
        _otto(hot="warm"),
        r"\[cycle\] \(type 'otto'\): `hot` must be the name of one of the design's reservoirs "
        r"\('hot' or 'cold'\), got 'warm'",
        id="unknown-reservoir",
    ),
    pytest.param(
        _OTTO,
        _otto(hot=1),
        r"`hot` must be the name of one of the design's reservoirs",
        id="reservoir-number",
    ),
    pytest.param(
        _OTTO,
        _otto(control="frequency"),
        r"\[cycle\] \(type 'otto'\): Cycle stroke 'compress': `controls` must be controls of the medium: "
        r"\['delta', 'omega'\], got \['frequency'\]",
        id="unknown-control",
    ),
    pytest.param(
        _OTTO,
        _otto(control=1),
        r"`control` must be a string \(a control of the medium\)",
        id="control-number",
    ),
    pytest.param(
        _OTTO,
        _otto(low="1.0"),
        r"\[cycle\] \(type 'otto'\): `low` must be a number \(a TOML float or integer\), got '1.0'",
        id="low-string",
    ),
    # a protocol hands its durations to the strokes it names after their roles (tau_hot -> 'hot')
    pytest.param(
        _OTTO,
        _otto(tau_hot=-1.0),
        r"\[cycle\] \(type 'otto'\): Thermalize 'hot': `duration` must be >= 0",
        id="negative-tau",
    ),
    pytest.param(
        _OTTO,
        _otto(tau_hot="inf"),
        r"`tau_hot` must be a number \(a TOML float or integer\), got 'inf'",
        id="inf-string",
    ),
    pytest.param(
        _OTTO,
        _otto(tau_compress=math.inf),
        r"Unitary 'compress': `duration` must be a finite real number, got inf",
        id="infinite-quench",
    ),
    pytest.param(
        _OTTO, _otto(flavour="regional"), r"`flavour` must be one of 'global', 'local'", id="flavour"
    ),
    pytest.param(
        _OTTO,
        _top("reservoirs", [*_OTTO["reservoirs"], {**_OTTO["reservoirs"][0], "name": "room"}]),
        r"reservoirs\[2\] \('room'\) is attached by no stroke of \[cycle\]",
        id="unused-reservoir",
    ),
    # explicit strokes
    pytest.param(
        _STIRLING,
        _stroke(1, type="isochore"),
        r"cycle.strokes\[1\] \('cool'\): `type` must be one of 'thermalize', 'unitary', 'isotherm', "
        r"got 'isochore'",
        id="unknown-stroke-type",
    ),
    pytest.param(
        _STIRLING, _stroke(1, type=None), r"missing the required key 'type'", id="missing-stroke-type"
    ),
    pytest.param(
        _STIRLING,
        _stroke(1, bath="col"),
        r"cycle.strokes\[1\] \('cool'\): `bath` must be the name of one of the design's reservoirs",
        id="unknown-bath",
    ),
    pytest.param(
        _STIRLING,
        _stroke(1, duration=-2.0),
        r"cycle.strokes\[1\] \('cool'\): Thermalize 'cool': `duration` must be >= 0",
        id="negative-duration",
    ),
    pytest.param(
        _STIRLING,
        _stroke(0, duration=0.0),
        r"strokes\[0\] .*: `duration` must be > 0",
        id="isotherm-zero-duration",
    ),
    pytest.param(
        _STIRLING,
        _stroke(0, end={"omega": 2.5}),
        r"\[cycle\]: Cycle stroke 'cool': `start\['omega'\]` must be 2.5, "
        r"the value stroke 'hot isotherm' ends",
        id="strokes-do-not-close",
    ),
    pytest.param(
        _STIRLING,
        _stroke(0, start={"omgea": 4.0}),
        r"unknown key 'omgea' in cycle.strokes\[0\] \('hot isotherm'\) `start`; allowed keys \(controls "
        r"of the medium\): omega, delta; did you mean 'omega'\?",
        id="unknown-control-in-stroke",
    ),
    pytest.param(
        _STIRLING,
        _stroke(0, start=4.0),
        r"`start` must be an inline table of control values",
        id="start-number",
    ),
    pytest.param(
        _STIRLING,
        _stroke(1, controls={"omega": "two"}),
        r"cycle.strokes\[1\] \('cool'\): Thermalize 'cool': `controls\['omega'\]` must be a real number",
        id="control-value",
    ),
    pytest.param(_STIRLING, _stroke(0, steps=6.5), r"`steps` must be an integer, got 6.5", id="steps-float"),
    pytest.param(_STIRLING, _stroke(0, steps=0), r"`steps` must be an integer >= 1", id="steps-zero"),
    pytest.param(_STIRLING, _stroke(0, tol=0.0), r"`tol` must be > 0", id="tol-zero"),
    pytest.param(
        _STIRLING, _stroke(0, schedule="cubic"), r"`schedule` must be one of 'linear'", id="schedule"
    ),
    pytest.param(
        _STIRLING,
        _stroke(1, controls=None, bath=None),
        r"cycle.strokes\[1\] \('cool'\) \(type 'thermalize'\) is missing the required key 'bath'",
        id="missing-bath",
    ),
    pytest.param(
        _STIRLING,
        _stroke(1, temperature=1.0),
        r"unknown key 'temperature' in cycle.strokes\[1\] \('cool'\) \(type 'thermalize'\); "
        r"allowed keys: type, bath",
        id="unknown-stroke-key",
    ),
    pytest.param(_STIRLING, _stroke(1, name=""), r"`name` must be a non-empty string", id="empty-name"),
    pytest.param(
        _STIRLING,
        _stroke(3, name="cool"),
        r"\[cycle\]: Cycle: `strokes\[3\].name` must be a name no other stroke has .*, got 'cool'",
        id="duplicate-stroke-name",
    ),
    pytest.param(
        _STIRLING,
        _top("cycle", {"strokes": []}),
        r"\[cycle\]: Cycle: `strokes` must be at least one stroke",
        id="no-strokes",
    ),
    pytest.param(
        _STIRLING,
        _top("cycle", {"strokes": {"type": "unitary"}}),
        r"write \[\[cycle.strokes\]\], not \[cycle.strokes\]",
        id="strokes-table",
    ),
    pytest.param(
        _STIRLING,
        lambda d: d["cycle"].update(flavour="local"),
        r"unknown key 'flavour' in \[cycle\] \(explicit \[\[cycle.strokes\]\]\); allowed keys: strokes",
        id="key-beside-strokes",
    ),
    pytest.param(
        _STIRLING,
        lambda d: d["cycle"]["strokes"].append(
            {"type": "unitary", "start": {"omega": 4.0}, "end": {"omega": 4.0}, "duration": math.inf}
        ),
        r"cycle.strokes\[4\]: Unitary 'unitary': `duration` must be a finite real number, got inf",
        id="infinite-drive",
    ),
]


@pytest.mark.parametrize(("base", "mutate", "message"), BAD)
def test_bad_cycle_names_the_field(base, mutate, message):
    data = copy.deepcopy(base)
    mutate(data)
    with pytest.raises(WorkbenchError, match=message) as info:
        design_from_dict(data, source="bad.toml")
    assert str(info.value).startswith("bad.toml: ")
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------- one message style, options
def _error(build) -> str:
    """The message of the WorkbenchError `build()` raises (a constructor called directly)."""
    with pytest.raises(WorkbenchError) as info:
        build()
    return str(info.value)


def _bath(data, name):
    table = next(r for r in data["reservoirs"] if r["name"] == name)
    return engines.BosonicBath(**{k: v for k, v in table.items() if k != "type"})


def _otto_call(**changes):
    """cycles.otto called directly with otto_qubit's arguments and `changes`."""
    c = {k: v for k, v in _OTTO["cycle"].items() if k not in ("type", "hot", "cold")}
    return lambda: cycles.otto(
        engines.Qubit(1.0), _bath(_OTTO, "hot"), _bath(_OTTO, "cold"), **{**c, **changes}
    )


@pytest.mark.parametrize(
    ("base", "mutate", "where", "build"),
    [
        pytest.param(
            _OTTO, _otto(tau_hot=-1.0), "[cycle] (type 'otto')", _otto_call(tau_hot=-1.0), id="otto-tau"
        ),
        pytest.param(
            _OTTO,
            _otto(flavour="regional"),
            "[cycle] (type 'otto')",
            _otto_call(flavour="regional"),
            id="otto-flavour",
        ),
        pytest.param(
            _OTTO,
            _otto(control="frequency"),
            "[cycle] (type 'otto')",
            _otto_call(control="frequency"),
            id="otto-control",
        ),
        pytest.param(
            _STIRLING,
            _stroke(1, duration=-2.0),
            "cycle.strokes[1] ('cool')",
            lambda: cycles.Thermalize(_bath(_STIRLING, "cold"), -2.0, {"omega": 2.0}, name="cool"),
            id="thermalize-duration",
        ),
        pytest.param(
            _STIRLING,
            _stroke(0, steps=0),
            "cycle.strokes[0] ('hot isotherm')",
            lambda: cycles.Isotherm(
                _bath(_STIRLING, "hot"), {"omega": 4.0}, {"omega": 2.0}, 1e4, 0, name="hot isotherm"
            ),
            id="isotherm-steps",
        ),
    ],
)
def test_constructor_errors_get_only_the_file_and_table_in_front(base, mutate, where, build):
    """One message style: the loader reports the stroke's or protocol's own message, with the file and
    the table in front (a named cycle's durations are checked by the strokes it names after their
    roles: tau_hot by stroke 'hot')."""
    data = copy.deepcopy(base)
    mutate(data)
    with pytest.raises(WorkbenchError) as info:
        design_from_dict(data, source="x.toml")
    assert str(info.value) == f"x.toml: {where}: {_error(build)}"


def test_options_reach_a_named_cycle():
    """``[options]`` reaches the protocol: a transverse field makes the unitary strokes time-ordered,
    which converge in 64 Magnus steps or so but not within max_drive_steps = 2."""
    data = _data("otto_qubit")
    data["medium"]["delta"] = 0.5
    assert design_from_dict(data).cycle.options == engines.Options()
    data["options"] = {"max_drive_steps": 2}
    with pytest.raises(
        WorkbenchError,
        match=r"^x.toml: \[cycle\] \(type 'otto'\): .*Unitary 'compress': `duration` must be a drive that "
        r"converges within 2 Magnus steps",
    ):
        design_from_dict(data, source="x.toml")
    data["options"] = {"drive_tol": 1e-11}
    assert design_from_dict(data).options == engines.Options(drive_tol=1e-11)


def test_options_reach_an_explicit_cycle():
    """control_tol sets how closely strokes must join: a 1e-7 mismatch fails by default, passes at 1e-6."""
    data = _data("stirling")
    data["cycle"]["strokes"][0]["end"] = {"omega": 2.0 + 2e-7}
    with pytest.raises(WorkbenchError, match=r"\[cycle\]: Cycle stroke 'cool': `start\['omega'\]` must be"):
        design_from_dict(data)
    data["options"] = {"control_tol": 1e-6}
    design = design_from_dict(data)
    assert design.cycle.options == engines.Options(control_tol=1e-6)


def test_unknown_option_is_refused_with_the_allowed_names():
    data = _data("otto_qubit")
    data["options"] = {"drive_tl": 1e-11}
    with pytest.raises(
        WorkbenchError,
        match=r"^x.toml: \[options\]: options: unknown option 'drive_tl' \(did you mean 'drive_tol'\?\); "
        r"allowed: degeneracy_tol, ",
    ):
        design_from_dict(data, source="x.toml")


def test_initial_state_is_refused_by_a_cycle_design():
    design, _ = _example("otto_qubit")
    with pytest.raises(
        WorkbenchError, match=r"`initial` applies to continuous engines; .* has no initial state"
    ):
        design.run(initial=np.eye(2) / 2)
