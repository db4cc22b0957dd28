"""Operating modes of continuous machines (docs/physics.md, Section 6), and whether a machine has a
work source.

The rule is restated here from the documentation, independently of `engines.thermo` (plain
Python over temperature levels, `_documented_mode`), and checked on hand-made currents, on the
Linden-Popescu-Skrzypczyk absorption machine around its threshold, and on random three-bath
machines built by hypothesis (level energies, coupling operators, couplings, temperatures, an
optional drive).
"""

from __future__ import annotations

import copy
import math
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, seed, settings
from hypothesis import strategies as st

from analysis.design import design_from_dict
from engines import (
    BosonicBath,
    Composite,
    Drive,
    Engine,
    FermionicLead,
    Levels,
    Qubit,
    ThermodynamicsWarning,
    thermo,
)

#: These tests check numerics and laws that hold in every regime; the random and reference machines
#: are often outside their flavour's regime on purpose, so the regime warning is not theirs to report
#: (tests/engines/test_master_equations.py and test_audit.py check it).
pytestmark = pytest.mark.filterwarnings("ignore::engines.checks.ModelValidityWarning")


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "absorption_refrigerator.toml"
#: Efficiency and COP of tight coupling (local flavour), and of the global flavour with g = 0.01
#: (its Bohr frequencies are shifted by O(g) from E_a).
TIGHT_TOL = 1e-8
GLOBAL_TOL = 1e-3
SEED = 1234
FLIP_FLOP = [("sigma_plus", 0), ("sigma_minus", 1)]


# ------------------------------------------------------------------------ the rule, restated
def _documented_mode(P, J, T, delta, work_source):
    """Mode by docs/physics.md, Section 6, from reported currents (zeros within delta already applied)."""
    levels = sorted(set(T.values()))

    def zero(x):
        return 0.0 if abs(x) <= delta else x

    P, J = zero(P), {a: zero(x) for a, x in J.items()}
    G = {t: zero(sum(J[a] for a in J if T[a] == t)) for t in levels}
    cuts = [zero(sum(G[t] for t in levels[: k + 1])) for k in range(len(levels) - 1)]
    upward = any(F > 0 for F in cuts)
    J_cold = G[levels[0]]
    if all(x == 0 for x in J.values()) and P == 0:
        return "undetermined" if work_source else "equilibrium"
    if work_source:
        if P == 0 or all(x == 0 for x in J.values()):
            return "undetermined"
        if P > 0:
            return "engine" if any(g > 0 for g in G.values()) else "undetermined"
        if J_cold > 0:
            return "refrigerator"
        if upward:
            return "heat pump"
        return "accelerator" if any(g > 0 for g in G.values()) else "heater"
    if P != 0:
        return "undetermined"
    if not upward:
        return "transport"
    sigma = -sum(x / T[a] for a, x in J.items())
    if sigma < -delta / min(T.values()):
        return "second-law violation"
    return "refrigerator" if J_cold > 0 else "heat transformer"


def _documented_figures(mode, P, J, T):
    """(efficiency, cop) of docs/physics.md, Sections 5 and 6 (distinct temperatures)."""
    cold, hot = min(T, key=T.get), max(T, key=T.get)
    given_heat = sum(x for x in J.values() if x > 0)
    if mode == "engine":
        return P / given_heat, None
    if mode == "refrigerator":
        if P < 0:
            return None, J[cold] / -P
        return None, J[cold] / sum(x for a, x in J.items() if a != cold and x > 0)
    if mode == "heat pump":
        return None, -J[hot] / -P
    if mode == "heat transformer":
        return -J[hot] / given_heat, None
    return None, None


# ------------------------------------------------------------------------ hand-made currents
T3 = {"c": 1.0, "m": 2.0, "h": 4.0}
RULE_CASES = [
    pytest.param(0.0, {"c": 0.0, "m": 0.0, "h": 0.0}, T3, False, "equilibrium", id="equilibrium"),
    pytest.param(0.5, {"c": -1.0, "m": 0.0, "h": 1.5}, T3, True, "engine", id="engine"),
    pytest.param(-1.0, {"c": 1.0, "m": 0.0, "h": -2.0}, T3, True, "refrigerator", id="work-refrigerator"),
    pytest.param(-1.0, {"c": -0.5, "m": 1.0, "h": -1.5}, T3, True, "heat pump", id="heat-pump"),
    pytest.param(-1.0, {"c": -2.0, "m": 0.0, "h": 1.0}, T3, True, "accelerator", id="accelerator"),
    pytest.param(-1.0, {"c": -0.5, "m": -0.5, "h": 0.0}, T3, True, "heater", id="heater"),
    pytest.param(
        0.0, {"c": 1.0, "m": -3.0, "h": 2.0}, T3, False, "refrigerator", id="absorption-refrigerator"
    ),
    pytest.param(0.0, {"c": -2.0, "m": 3.0, "h": -1.0}, T3, False, "heat transformer", id="heat-transformer"),
    pytest.param(0.0, {"c": -1.0, "m": -1.0, "h": 2.0}, T3, False, "transport", id="transport"),
    pytest.param(0.0, {"c": 1.0, "m": 0.0, "h": -1.0}, T3, False, "second-law violation", id="cold-to-hot"),
    pytest.param(0.0, {"c": 1.0, "m": -1.0}, {"c": 1.0, "m": 1.0}, False, "transport", id="pooled-equal-T"),
    pytest.param(-1.0, {"c": 2.0, "m": -3.0}, {"c": 1.0, "m": 1.0}, True, "heater", id="pooled-heater"),
    pytest.param(
        1e-12, {"c": -1.0, "h": 1.0}, {"c": 1.0, "h": 2.0}, True, "undetermined", id="power-at-resolution"
    ),
    pytest.param(
        0.0, {"c": 0.0, "h": 0.0}, {"c": 1.0, "h": 2.0}, True, "undetermined", id="all-at-resolution"
    ),
    pytest.param(
        0.5, {"c": -1.0, "h": 1.0}, {"c": 1.0, "h": 2.0}, False, "undetermined", id="first-law-mismatch"
    ),
]


@pytest.mark.parametrize(("P", "J", "T", "source", "expected"), RULE_CASES)
def test_mode_rule_on_hand_made_currents(P, J, T, source, expected):
    """Each mode of docs/physics.md, Section 6, with the figures of merit Section 5 defines."""
    delta = 1e-9
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mode, eta, cop = thermo.classify(P, J, T, resolution=delta, work_source=source)
        vector = thermo.classify_many(
            [P], [list(J.values())], [list(T.values())], resolution=delta, work_source=source
        )
    assert mode == expected == _documented_mode(P, J, T, delta, source)
    warned = any(issubclass(w.category, ThermodynamicsWarning) for w in caught)
    assert warned == (mode in ("undetermined", "second-law violation"))
    if len(set(T.values())) == len(T):
        expected_eta, expected_cop = _documented_figures(mode, P, J, T)
        assert eta == (None if expected_eta is None else pytest.approx(expected_eta))
        assert cop == (None if expected_cop is None else pytest.approx(expected_cop))
    assert vector[0][0] == mode


# ------------------------------------------------------------------------ LPS around its threshold
E_C, E_R, E_H = 1.0, 3.0, 2.0  # examples/absorption_refrigerator.toml
T_C, T_R = 0.9, 1.0
#: Linden, Popescu & Skrzypczyk, PRL 105, 130401 (2010): the swap |010> <-> |101> cools when the
#: virtual qubit E_r - E_h = E_c is colder than T_c, i.e. E_c/T_c + E_h/T_h < E_r/T_r.
T_H_THRESHOLD = E_H / (E_R / T_R - E_C / T_C)


def _lps(T_hot, flavour):
    data = tomllib.loads(EXAMPLE.read_text())
    data["reservoirs"][2]["T"] = T_hot
    data["engine"]["flavour"] = flavour
    return design_from_dict(copy.deepcopy(data)).steady_state()


@pytest.mark.parametrize("flavour", ["global", "local"])
@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9], ids=["T_h-near-T_r", "midway", "T_h-near-threshold"])
def test_lps_machine_below_threshold_is_a_heat_transformer(fraction, flavour):
    """T_r < T_h < T_h*: the swap runs backwards and lifts heat from the room into the hotter bath.

    Each backward swap takes E_r from the room and gives E_c to the cold bath and E_h to the hot
    one: J_r = E_r I > 0, J_c = -E_c I, J_h = -E_h I (tight coupling), so heat flows from T_r up to
    T_h > T_r driven by the downhill flow to T_c, with nothing else: an absorption heat
    transformer (it was labelled "transport"), efficiency -J_h / J_r = E_h / E_r. The second law
    bounds it by (1/T_c - 1/T_r) / (1/T_c - 1/T_h).
    """
    T_h = T_R + fraction * (T_H_THRESHOLD - T_R)
    ness = _lps(T_h, flavour)
    J = ness.heat_currents
    assert J["room"] > 0 > J["hot"] and J["cold"] < 0
    assert ness.mode == "heat transformer"
    assert ness.efficiency == pytest.approx(E_H / E_R, abs=TIGHT_TOL if flavour == "local" else GLOBAL_TOL)
    assert ness.efficiency < (1 / T_C - 1 / T_R) / (1 / T_C - 1 / T_h)
    assert ness.entropy_production_rate > 0


@pytest.mark.parametrize("flavour", ["global", "local"])
def test_lps_machine_above_threshold_is_an_absorption_refrigerator(flavour):
    """T_h just above T_h*: the swap turns round, the cold bath is cooled, COP = E_c / E_h."""
    ness = _lps(1.01 * T_H_THRESHOLD, flavour)
    assert ness.mode == "refrigerator"
    assert ness.cop == pytest.approx(E_C / E_H, abs=TIGHT_TOL if flavour == "local" else GLOBAL_TOL)


@pytest.mark.parametrize("flavour", ["global", "local"])
def test_lps_machine_with_the_room_hottest_is_transport(flavour):
    """T_h < T_r: the room is the hottest bath and feeds both others, heat flows downhill."""
    ness = _lps(0.95, flavour)
    assert ness.heat_currents["room"] > 0
    assert ness.mode == "transport"


# ------------------------------------------------------------------------ work sources
WORK_SOURCES = [
    pytest.param(
        lambda: Engine(
            Qubit(1.0), [BosonicBath("h", 2.0, 0.1, "sigma_x"), BosonicBath("c", 1.0, 0.1, "sigma_x")]
        ),
        False,
        id="undriven-global",
    ),
    pytest.param(
        lambda: Engine(
            Levels([0.0, 1.0, 3.0]),
            [BosonicBath("h", 5.0, 0.1, "pair_0_2"), BosonicBath("c", 0.5, 0.1, "pair_0_1")],
            drive=Drive((1, 2), 0.05),
        ),
        True,
        id="driven",
    ),
    pytest.param(
        lambda: Engine(
            Levels([0.0, 1.0, 3.0]),
            [BosonicBath("h", 5.0, 0.1, "pair_0_2"), BosonicBath("c", 0.5, 0.1, "pair_0_1")],
            drive=Drive((1, 2), 0.0),
        ),
        False,
        id="drive-of-zero-strength",
    ),
    pytest.param(lambda: _two_qubits(4.0, 1.0, "bare"), True, id="local-bare-detuned"),
    pytest.param(lambda: _two_qubits(1.0, 1.0, "bare"), False, id="local-bare-resonant"),
    pytest.param(lambda: _two_qubits(4.0, 1.0, "full"), False, id="local-full"),
    pytest.param(lambda: _dot(0.5, -0.5), True, id="leads-at-two-potentials"),
    pytest.param(lambda: _dot(0.2, 0.2), False, id="leads-at-one-potential"),
]


def _two_qubits(w_h, w_c, bookkeeping):
    medium = Composite([Qubit(w_h), Qubit(w_c)], [(0.05, FLIP_FLOP)])
    baths = [BosonicBath("h", 2.0, 0.05, "sigma_x", site=0), BosonicBath("c", 1.0, 0.05, "sigma_x", site=1)]
    return Engine(medium, baths, flavour="local", bookkeeping=bookkeeping)


def _dot(mu_left, mu_right):
    return Engine(
        Levels([0.0, 1.0]),
        [
            FermionicLead("l", 1.0, mu_left, 0.1, "jump_0_1"),
            FermionicLead("r", 0.3, mu_right, 0.1, "jump_0_1"),
        ],
    )


@pytest.mark.parametrize(("build", "expected"), WORK_SOURCES)
def test_work_source_is_a_nonzero_power_observable(build, expected):
    """P = Tr[W rho] at the NESS with W = i[H_ref, H] - sum_a mu_a N_a: a work source iff W != 0.

    With no work source P = sum_a J_a vanishes structurally, and the steady state reports 0.0.
    """
    engine = build()
    assert engine.work_source is expected
    if not expected:
        with warnings.catch_warnings():
            # local "full" bookkeeping of detuned qubits breaks the second law (Levy & Kosloff 2014)
            warnings.simplefilter("ignore", ThermodynamicsWarning)
            assert engine.steady_state().power == 0.0


# ------------------------------------------------------------------------ random three-bath machines
def _hermitian_from(entries, d):
    a = np.array(entries[: d * d]).reshape(d, d) + 1j * np.array(entries[d * d :]).reshape(d, d)
    return a + a.conj().T


@st.composite
def three_bath_machines(draw):
    """A random global machine: levels, three flat baths, maybe a drive.

    Either every bath couples through a drawn Hermitian operator (all transitions), or each bath
    drives one transition of a three-level system (tight coupling: the maser, absorption
    refrigerator and heat transformer families).
    """
    transitions = draw(st.permutations([(0, 1), (0, 2), (1, 2)])) if draw(st.booleans()) else None
    d = 3 if transitions is not None else draw(st.integers(3, 4))
    gaps = draw(st.lists(st.floats(0.2, 2.0), min_size=d - 1, max_size=d - 1))
    energies = [0.0, *np.cumsum(gaps).tolist()]
    temperatures = draw(st.lists(st.floats(0.2, 8.0), min_size=3, max_size=3, unique=True))
    if draw(st.integers(0, 4)) == 0:  # sometimes two baths share a temperature (pooled levels)
        temperatures[2] = temperatures[1]
    baths = []
    for k in range(3):
        if transitions is not None:
            i, j = transitions[k]
            X = f"pair_{i}_{j}"
        else:
            entries = draw(st.lists(st.floats(-1.0, 1.0), min_size=2 * d * d, max_size=2 * d * d))
            X = _hermitian_from(entries, d)
            assume(np.max(np.abs(X)) > 0.1)
        baths.append(BosonicBath(f"bath{k}", temperatures[k], draw(st.floats(0.01, 0.2)), X))
    drive = None
    if draw(st.booleans()):
        i, j = draw(st.sampled_from([(a, b) for a in range(d) for b in range(a + 1, d)]))
        drive = Drive((i, j), draw(st.floats(0.01, 0.3)))
    return Engine(Levels(energies), baths, drive=drive)


@seed(SEED)
@settings(max_examples=80, deadline=None, database=None)
@given(engine=three_bath_machines())
def test_mode_label_follows_the_documented_rule_on_random_machines(engine):
    """The reported mode (and efficiency or COP) is the documented rule applied to the reported currents."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ness = engine.steady_state()
    J, T, P = dict(ness.heat_currents), dict(ness.temperatures), ness.power
    expected = _documented_mode(P, J, T, ness.resolution, engine.work_source)
    assert ness.mode == expected
    warned = any(issubclass(w.category, ThermodynamicsWarning) for w in caught)
    assert warned == (ness.mode in ("undetermined", "second-law violation"))
    if engine.drive is None:
        assert ness.mode in ("transport", "refrigerator", "heat transformer", "equilibrium")
        assert ness.entropy_production_rate >= 0
    if len(set(T.values())) == len(T):
        eta, cop = _documented_figures(ness.mode, P, J, T)
        assert ness.efficiency == (None if eta is None else pytest.approx(eta, rel=1e-12))
        assert ness.cop == (None if cop is None else pytest.approx(cop, rel=1e-12))
    assert all(math.copysign(1.0, x) == 1.0 for x in J.values() if x == 0)
