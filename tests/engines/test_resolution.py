"""Numerical resolution of steady-state currents (docs/physics.md, Section 7).

Every steady state carries a resolution delta that bounds the error of its heat currents and power;
values within it are reported as exactly 0.0 and a mode that hinges on them is "undetermined". The
references are exact: the NESS of the three-level maser and of a qubit between two baths, solved in
rational arithmetic (`fractions.Fraction`) from the same double-precision rates, so their only error
is the conversion of the final currents to float.

Maser (Scovil & Schulz-DuBois, PRL 2, 262 (1959)), rotating frame, H = eps (|1><2| + |2><1|), hot
bath on 0 <-> 2 with rates g_h (down, 2 -> 0) and u_h (up), cold bath on 0 <-> 1 with g_c and u_c.
With c = rho_12 = x + i y the master equation gives dx/dt = -G x / 2 and
dy/dt = -eps (p_2 - p_1) - G y / 2, G = g_c + g_h (the decay rates out of levels 1 and 2), so x = 0,
2 eps y = -D (p_2 - p_1) with D = 4 eps^2 / G, and the populations solve

    u_c p_0 - g_c p_1 + D (p_2 - p_1) = 0,    u_h p_0 - g_h p_2 - D (p_2 - p_1) = 0,    sum p = 1,

with J_h = w_h (u_h p_0 - g_h p_2), J_c = w_c (u_c p_0 - g_c p_1) and P = J_h + J_c = D (w_h - w_c)
(p_2 - p_1). At bath coupling 1e6 the field's slow transfer D ~ 2e-9 makes P ~ 1e-9 while each
bath exchanges ~1e7 per unit time in each direction: the currents are differences of numbers
sixteen orders of magnitude larger, below what double precision resolves.
"""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from fractions import Fraction

import numpy as np
import pytest

from engines import (
    BosonicBath,
    Drive,
    Engine,
    Levels,
    Options,
    Qubit,
    ThermodynamicsWarning,
    WorkbenchError,
    thermo,
)

#: These tests check numerics and laws that hold in every regime; the random and reference machines
#: are often outside their flavour's regime on purpose, so the regime warning is not theirs to report
#: (tests/engines/test_master_equations.py and test_audit.py check it).
pytestmark = pytest.mark.filterwarnings("ignore::engines.checks.ModelValidityWarning")


W_C, W_H, T_C, T_H, EPS = 1.0, 3.0, 0.5, 10.0, 0.05  # examples/maser.toml
#: Scovil-Schulz-DuBois efficiency 1 - w_c/w_h at weak coupling.
EFFICIENCY_TOL = 1e-10
SOLVERS = ["dense", "sparse", "iterative"]


def _rates(kappa, w, T):
    """(down, up) = kappa (1 + n), kappa n, n = 1/(e^{w/T} - 1), written without cancellation."""
    return kappa * (-1.0 / math.expm1(-w / T)), kappa * (1.0 / math.expm1(w / T))


def _maser(kappa, T_h=T_H):
    return Engine(
        Levels([0.0, W_C, W_H]),
        [BosonicBath("hot", T_h, kappa, "pair_0_2"), BosonicBath("cold", T_C, kappa, "pair_0_1")],
        drive=Drive((1, 2), EPS),
    )


def _solve3(A, b):
    """Cramer's rule for a 3 x 3 system of Fractions."""

    def det(M):
        return (
            M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1])
            - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0])
            + M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])
        )

    D = det(A)
    out = []
    for j in range(3):
        M = [row[:] for row in A]
        for i in range(3):
            M[i][j] = b[i]
        out.append(det(M) / D)
    return out


def _exact_maser(kappa, T_h=T_H):
    """Exact (rational) heat currents {hot, cold} of the maser from the double-precision rates."""
    g_h, u_h = (Fraction(x) for x in _rates(kappa, W_H, T_h))
    g_c, u_c = (Fraction(x) for x in _rates(kappa, W_C, T_C))
    D = 4 * Fraction(EPS) ** 2 / (g_c + g_h)
    A = [[u_c, -g_c - D, D], [u_h, D, -g_h - D], [Fraction(1)] * 3]
    p0, p1, p2 = _solve3(A, [Fraction(0), Fraction(0), Fraction(1)])
    return {"hot": Fraction(W_H) * (u_h * p0 - g_h * p2), "cold": Fraction(W_C) * (u_c * p0 - g_c * p1)}


def _exact_qubit(T_h, T_c=0.5, kappa=0.01, w=1.0):
    """Exact heat currents of a qubit between two flat baths (rate equation, Segal & Nitzan 2005)."""
    rates = {
        name: tuple(Fraction(x) for x in _rates(kappa, w, T)) for name, T in (("hot", T_h), ("cold", T_c))
    }
    up = sum(u for _, u in rates.values())
    p_e = up / sum(g + u for g, u in rates.values())
    return {name: Fraction(w) * (u * (1 - p_e) - g * p_e) for name, (g, u) in rates.items()}


def _qubit(T_h, T_c=0.5, kappa=0.01):
    return Engine(
        Qubit(1.0), [BosonicBath("hot", T_h, kappa, "sigma_x"), BosonicBath("cold", T_c, kappa, "sigma_x")]
    )


# ------------------------------------------------------------------------ the two defects
@pytest.mark.parametrize("solver", SOLVERS)
def test_strongly_coupled_maser_power_is_below_resolution(solver):
    """Maser at bath coupling 1e6: the exact P ~ +1.3e-9 (an engine at 2/3) is below the resolution.

    The dense solver used to call it a heater and the iterative one an engine at efficiency 0.33;
    the honest answer is "undetermined", with a warning, and currents reported as 0.0.
    """
    exact = _exact_maser(1e6)
    P_exact = float(sum(exact.values()))
    assert 0 < P_exact < 1e-8
    assert float(exact["hot"]) / P_exact == pytest.approx(1 / (1 - W_C / W_H), rel=1e-12)
    with pytest.warns(ThermodynamicsWarning, match="undetermined"):
        ness = _maser(1e6).steady_state(solver=solver)
    assert ness.mode == "undetermined"
    assert ness.resolution > P_exact
    assert ness.power == 0.0 and math.copysign(1.0, ness.power) == 1.0
    assert ness.efficiency is None and ness.cop is None
    for name, J in ness.heat_currents.items():
        assert abs(J - float(exact[name])) <= ness.resolution


@pytest.mark.parametrize("solver", SOLVERS)
def test_weakly_coupled_maser_is_an_engine_at_scovil_efficiency(solver):
    """The same maser at coupling 0.01 (the example file) resolves: engine, eta = 1 - w_c/w_h = 2/3."""
    ness = _maser(0.01).steady_state(solver=solver)
    exact = _exact_maser(0.01)
    assert ness.mode == "engine"
    assert ness.efficiency == pytest.approx(1 - W_C / W_H, abs=EFFICIENCY_TOL)
    assert ness.power == pytest.approx(float(sum(exact.values())), rel=1e-10)
    assert ness.resolution < 1e-10 * ness.power


def test_qubit_with_a_very_hot_bath_is_transport_with_zero_power():
    """Qubit between T_h = 1e8 and T_c = 0.5: heat flows downhill, P = 0 exactly (no work source).

    The hot rates are ~1e6 while the current is ~5e-3, so J_h + J_c = O(1e-10) is round-off; it used
    to be classified "engine" with efficiency 1e-8.
    """
    ness = _qubit(1e8).steady_state()
    exact = _exact_qubit(1e8)
    assert ness.mode == "transport"
    assert ness.power == 0.0 and math.copysign(1.0, ness.power) == 1.0
    assert ness.efficiency is None
    assert ness.heat_currents["hot"] > 0 > ness.heat_currents["cold"]
    for name, J in ness.heat_currents.items():
        assert abs(J - float(exact[name])) <= ness.resolution
    assert ness.entropy_production_rate > 0


# ------------------------------------------------------------------------ the resolution itself
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kappa", [1e-3, 1.0, 1e2, 1e4, 1e6, 1e8])
def test_resolution_bounds_the_maser_current_errors(kappa, solver):
    """|J_a - J_a(exact)| <= delta over ten decades of coupling, for every solver."""
    exact = _exact_maser(kappa)
    with pytest.warns(ThermodynamicsWarning) if kappa >= 1e6 else nullcontext():
        ness = _maser(kappa).steady_state(solver=solver)
    for name, J in ness.heat_currents.items():
        assert abs(J - float(exact[name])) <= ness.resolution
    assert abs(ness.power - float(sum(exact.values()))) <= ness.resolution


@pytest.mark.parametrize("T_h", [1.0, 1e2, 1e4, 1e6, 1e8, 1e10])
def test_resolution_bounds_the_qubit_current_errors(T_h):
    """|J_a - J_a(exact)| <= delta for a qubit whose hot bath grows from T = 1 to 1e10."""
    exact = _exact_qubit(T_h)
    ness = _qubit(T_h).steady_state()
    for name, J in ness.heat_currents.items():
        assert abs(J - float(exact[name])) <= ness.resolution


def test_resolution_grows_with_the_coupling():
    """delta ~ sum_a ||O_a|| (r + c eps) with ||O_a|| proportional to the coupling kappa."""
    deltas = {}
    for kappa in (1e-2, 1e2, 1e6):
        with pytest.warns(ThermodynamicsWarning) if kappa >= 1e6 else nullcontext():
            deltas[kappa] = _maser(kappa).steady_state(solver="dense").resolution
    per_kappa = [deltas[k] / k for k in deltas]
    assert max(per_kappa) / min(per_kappa) < 2.0


def test_resolution_grows_with_the_hot_temperature():
    """The hot rates grow like kappa T_h / w, and with them the current observable and delta."""
    deltas = [_qubit(T).steady_state().resolution for T in (1e2, 1e4, 1e6)]
    assert deltas[1] / deltas[0] == pytest.approx(100.0, rel=0.05)
    assert deltas[2] / deltas[1] == pytest.approx(100.0, rel=0.05)


def test_resolution_formula_grows_with_the_residual():
    """delta = (||L rho|| / ||L|| + c eps) sum_a ||O_a||: the round-off floor, then linear in the residual."""
    norms = np.array([2.0, 3.0])
    floor = thermo.current_resolution(0.0, 10.0, norms)
    assert floor == pytest.approx(thermo.ROUNDOFF_FACTOR * np.finfo(float).eps * 5.0, rel=1e-15)
    assert thermo.current_resolution(1e-6, 10.0, norms) == pytest.approx(1e-7 * 5.0 + floor, rel=1e-12)
    assert thermo.current_resolution(1e-6, 100.0, norms) < thermo.current_resolution(1e-6, 10.0, norms)


def test_residual_is_tested_relative_to_the_generator_scale():
    """||L rho|| <= residual_tol ||L||: the maser at coupling 1e8 (||L|| ~ 4e8) is accepted at an
    absolute residual far above residual_tol, and a tolerance below round-off is refused with a
    message naming the scale."""
    engine = _maser(1e8)
    with pytest.warns(ThermodynamicsWarning, match="undetermined"):
        ness = engine.steady_state(solver="dense")
    assert ness.residual > engine.options.residual_tol
    strict = Engine(engine.medium, engine.reservoirs, drive=engine.drive, options=Options(residual_tol=1e-30))
    with pytest.raises(WorkbenchError, match=r"residual_tol \* \|\|L\|\|"):
        strict.steady_state(solver="dense")


def test_values_within_resolution_are_exact_zeros_in_every_output():
    """No 6.8e-20 or -0.0: the power of an undriven machine and its JSON are exactly 0.0."""
    ness = _qubit(3.0).steady_state()
    assert ness.power == 0.0 and math.copysign(1.0, ness.power) == 1.0
    data = json.loads(json.dumps(ness.to_dict()))
    assert data["power"] == 0.0 and not str(data["power"]).startswith("-")
    assert data["resolution"] == ness.resolution
