"""The per-bath entropy ledger and the integrated quantities of a relaxation (`analysis.entropy`).

Laws checked (docs/physics.md, "Per-bath ledger"):

* Spohn, J. Math. Phys. 19, 1227 (1978): for each dissipator D_a with fixed point pi_a,
  sigma_a = -Tr[D_a(rho)(ln rho - ln pi_a)] >= 0 (monotonicity of D(. || pi_a) under exp(D_a t)).
* Davies detailed balance: the fixed point of a global dissipator alone is the Gibbs state of H at T_a,
  so ln pi_a = -H / T_a - ln Z_a and -Tr[D_a(rho) ln pi_a] = J_a / T_a: sum_a sigma_a = sigma (the
  commutator drops out of dS/dt), and sum_a sigma_hk_a = sigma_hk.
* Conservation: int_0^t sigma_na ds = D(rho_0 || pi) - D(rho_t || pi) (sigma_na = -dD/dt) and
  int_0^t J_a ds = Q_a(t), both checked by an independent adaptive quadrature (scipy.integrate.quad).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import strategies
import systems
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from analysis.entropy import entropy_production_rates, relaxation
from engines import BosonicBath, Composite, Engine, Qubit, WorkbenchError

#: These tests check numerics and laws that hold in every regime; the random and reference machines
#: are often outside their flavour's regime on purpose, so the regime warning is not theirs to report
#: (tests/engines/test_master_equations.py and test_audit.py check it).
pytestmark = pytest.mark.filterwarnings("ignore::engines.checks.ModelValidityWarning")


#: Exact identities between rates, relative to the largest |term|.
IDENTITY_RTOL = 1e-8
#: Quadrature against closed-form integrals (scipy quad is asked for 1e-10).
QUAD_RTOL = 1e-6


def _scale(*xs):
    return max(1e-12, *(abs(x) for x in xs))


def _ln_pi_roundoff(engine, rho) -> float:
    """Round-off of Tr[L(rho) ln pi], pi the NESS: its eigenvalues p_k come out of a normwise stable
    solve and two basis changes, exact to ~ d eps absolutely, so ln p_k to ~ d eps / p_k (a Gibbs
    population of 1e-10 has ln p_k uncertain by 1e-6), weighted by the diagonal of L(rho) there."""
    gen = engine.generator
    p, V = np.linalg.eigh(gen.from_medium_basis(np.asarray(engine.steady_state().rho, dtype=complex)))
    X = V.conj().T @ gen.apply(gen.from_medium_basis(np.asarray(rho, dtype=complex))) @ V
    weight = np.abs(np.real(np.diag(X))) / np.maximum(p, np.finfo(float).tiny)
    return 10 * gen.dim * np.finfo(float).eps * float(np.sum(weight))


@settings(max_examples=25, deadline=None)
@given(strategies.generic_machines(), st.data())
def test_spohn_terms_are_nonnegative_and_sum_to_sigma(engine, data):
    """Every Spohn term >= 0 and sum_a sigma_a = sigma, sum_a sigma_hk_a = sigma_hk (global machines)."""
    rho = data.draw(strategies.density_matrices(engine.generator.dim))
    r = entropy_production_rates(engine, rho)
    terms = list(r.spohn.values())
    assert all(t is not None for t in terms)
    # the pieces that cancel in the sums set the round-off: dS/dt, -sum_a J_a / T_a and the terms
    scale = _scale(r.total, r.entropy_rate, r.reservoir_entropy_rate, *terms)
    assert min(terms) >= -IDENTITY_RTOL * scale
    assert sum(terms) == pytest.approx(r.total, rel=0, abs=IDENTITY_RTOL * scale)
    hk = list(r.bath_housekeeping.values())
    # sigma_hk and its terms hold Tr[D_a(rho) ln pi]: add the round-off of ln pi
    hk_tol = IDENTITY_RTOL * _scale(scale, *hk) + _ln_pi_roundoff(engine, rho)
    assert sum(hk) == pytest.approx(r.housekeeping, rel=0, abs=hk_tol)


@settings(max_examples=15, deadline=None)
@given(strategies.generic_machines())
def test_global_fixed_point_is_the_gibbs_state(engine):
    """pi_a of a Davies dissipator alone = exp(-H / T_a) / Z (compared in the medium's basis)."""
    gen = engine.generator
    H = np.asarray(engine.medium.hamiltonian(), dtype=complex)
    for r, (pi, reason) in zip(engine.reservoirs, engine.bath_fixed_points):
        assert reason is None
        assert np.allclose(gen.to_medium_basis(pi), systems.gibbs(H, r.T), atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(strategies.generic_machines(min_baths=1, max_baths=1), st.data())
def test_one_bath_sigma_equals_sigma_na(engine, data):
    """One thermal bath: sigma = sigma_na and sigma_hk = 0 along the trajectory; Spohn term = sigma."""
    rho0 = data.draw(strategies.density_matrices(engine.generator.dim))
    rel = relaxation(engine, rho0, [0.0, 0.5, 2.0, 10.0])
    scale = np.maximum(1e-12, np.abs(rel.entropy_rate) + np.abs(rel.total))
    assert np.all(np.abs(rel.total - rel.non_adiabatic) <= IDENTITY_RTOL * scale)
    assert np.all(np.abs(rel.housekeeping) <= IDENTITY_RTOL * scale)
    (name,) = rel.spohn
    assert np.all(np.abs(rel.spohn[name] - rel.total) <= IDENTITY_RTOL * scale)


def test_steady_state_spohn_terms_sum_to_entropy_production():
    """At the NESS of a qubit between two baths each Spohn term >= 0 and they sum to -sum_a J_a / T_a."""
    ss = systems.qubit_two_baths().steady_state()
    assert ss.ledger_reason is None
    assert all(v > 0 for v in ss.spohn_rates.values())
    assert sum(ss.spohn_rates.values()) == pytest.approx(ss.entropy_production_rate, rel=1e-9)
    flows = {k: -ss.heat_currents[k] / ss.temperatures[k] for k in ss.heat_currents}
    assert dict(ss.entropy_flows) == pytest.approx(flows, rel=1e-12)
    assert ss.to_dict()["spohn_rates"].keys() == {"hot", "cold"}


def test_housekeeping_at_long_times_is_the_ness_value():
    """Several baths: sigma_hk(t -> inf) = -sum_a J_a / T_a (NESS); per bath sigma_hk_a -> sigma_a(pi)."""
    engine = systems.qubit_two_baths()
    ss = engine.steady_state()
    rel = relaxation(engine, np.diag([0.0, 1.0]), [0.0, 400.0], steady=ss)
    assert rel.housekeeping[-1] == pytest.approx(ss.entropy_production_rate, rel=1e-8)
    for k, v in ss.spohn_rates.items():
        assert rel.bath_housekeeping[k][-1] == pytest.approx(v, rel=1e-8)
        assert rel.spohn[k][-1] == pytest.approx(v, rel=1e-8)


def _three_level_two_baths():
    from engines import Levels

    X = np.array([[0, 1, 0.3], [1, 0, 1], [0.3, 1, 0]], dtype=complex)
    return Engine(
        Levels([0.0, 1.0, 2.5]),
        [BosonicBath("hot", 3.0, 0.05, X), BosonicBath("cold", 0.4, 0.08, X)],
    )


def test_integrated_sigma_na_is_the_drop_of_relative_entropy():
    """int_0^t sigma_na ds (scipy quad of the rates) = D(rho_0 || pi) - D(rho_t || pi) (logm reference)."""
    engine = _three_level_two_baths()
    ss = engine.steady_state()
    rho0 = systems.random_state(np.random.default_rng(3), 3)
    t_end = 30.0
    integral, _ = quad(
        lambda t: relaxation(engine, rho0, [t], steady=ss).non_adiabatic[0],
        0.0,
        t_end,
        epsabs=1e-12,
        limit=200,
    )
    rel = relaxation(engine, rho0, [0.0, t_end], steady=ss)
    pi = np.asarray(ss.rho)
    d0 = systems.relative_entropy(rho0, pi)
    assert rel.divergence[0] == pytest.approx(d0, rel=1e-9)
    assert integral == pytest.approx(d0 - rel.divergence[-1], rel=QUAD_RTOL)
    assert rel.non_adiabatic_produced[-1] == pytest.approx(integral, rel=QUAD_RTOL)


def test_exact_heat_matches_quadrature_of_the_current():
    """Q_a(t) from the propagator's integral = quad of J_a; Sigma(t) = quad of sigma (full-rank rho_0)."""
    engine = _three_level_two_baths()
    ss = engine.steady_state()
    rho0 = systems.random_state(np.random.default_rng(5), 3)
    t_end = 20.0
    rel = relaxation(engine, rho0, [0.0, t_end], steady=ss)
    for name in ("hot", "cold"):
        q, _ = quad(
            lambda t, name=name: relaxation(engine, rho0, [t], steady=ss).heat_currents[name][0],
            0.0,
            t_end,
            epsabs=1e-12,
        )
        assert rel.heat[name][-1] == pytest.approx(q, rel=QUAD_RTOL)
    s, _ = quad(lambda t: relaxation(engine, rho0, [t], steady=ss).total[0], 0.0, t_end, epsabs=1e-12)
    assert rel.entropy_produced[-1] == pytest.approx(s, rel=QUAD_RTOL)


def test_adaptive_grid_resolves_the_heat():
    """The grid of `until=` meets rtol: the trapezoid of each J_a is within rtol of the exact Q_a."""
    engine = _three_level_two_baths()
    rtol = 1e-4
    rel = relaxation(engine, np.diag([0.0, 0.0, 1.0]), until=60.0, rtol=rtol)
    assert rel.converged
    assert rel.times[0] == 0.0 and rel.times[-1] == 60.0
    for name, J in rel.heat_currents.items():
        trap = float(np.sum(0.5 * np.diff(rel.times) * (J[1:] + J[:-1])))
        q = rel.heat[name][-1]
        assert trap == pytest.approx(q, rel=10 * rtol)
    frame = rel.to_frame()
    for col in ("sigma_hot", "sigma_hk_cold", "flow_hot", "Q_cold", "Sigma", "Sigma_na"):
        assert col in frame
    coarse = relaxation(engine, np.diag([0.0, 0.0, 1.0]), until=60.0, rtol=1e-2)
    assert len(coarse) < len(rel)


def test_local_multi_site_bath_has_no_unique_fixed_point():
    """A local dissipator on one site leaves the other free: the ledger says so instead of inventing pi_a."""
    medium = Composite([Qubit(1.0), Qubit(1.2)], couplings=[(0.05, [("sigma_x", 0), ("sigma_x", 1)])])
    engine = Engine(
        medium,
        [BosonicBath("hot", 2.0, 0.05, "sigma_x", site=0), BosonicBath("cold", 0.5, 0.05, "sigma_x", site=1)],
        flavour="local",
    )
    ss = engine.steady_state()
    assert ss.spohn_rates == {"hot": None, "cold": None}
    assert "fixed points" in ss.ledger_reason
    r = entropy_production_rates(engine, np.eye(4) / 4)
    assert r.spohn["hot"] is None and "fixed points" in r.ledger_reason
    # the count stated without a solve, against the kernel of D_hot's superoperator (SVD)
    assert "(4 or more independent fixed points)" in ss.ledger_reason
    s = np.linalg.svd(engine.generator.dissipators[0].superoperator(dense=True), compute_uv=False)
    assert int(np.sum(s <= 1e-12 * s[0])) == 4


def test_relaxation_needs_times_or_until():
    engine = systems.qubit_two_baths()
    with pytest.raises(WorkbenchError, match="exactly one of"):
        relaxation(engine, np.eye(2) / 2)
    with pytest.raises(WorkbenchError, match="until"):
        relaxation(engine, np.eye(2) / 2, until=-1.0)
    with pytest.raises(WorkbenchError, match="rtol"):
        relaxation(engine, np.eye(2) / 2, until=1.0, rtol=2.0)
    assert math.isfinite(relaxation(engine, np.eye(2) / 2, until=1.0).entropy_produced[-1])
