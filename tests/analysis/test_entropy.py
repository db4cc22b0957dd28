"""Facts about entropy production away from the steady state (`analysis.entropy`).

Laws checked (docs/physics.md, "Entropy production (two faces)"):

* Spohn, J. Math. Phys. 19, 1227 (1978): sigma_na = -d/dt D(rho_t || pi) >= 0 for any GKSL generator,
  and for Davies generators the Clausius form sigma = dS/dt - sum_a J_a / T_a >= 0.
* One thermal bath: pi = rho_beta, ln pi = -beta H - ln Z, so -Tr[L(rho) ln pi] = beta Tr[H D(rho)] =
  beta J and sigma_hk = 0; D(rho || rho_beta) = beta (F(rho) - F(rho_beta)) with F = <H> - T S.
* Esposito & Van den Broeck, PRL 104, 090601 (2010): sigma = sigma_na + sigma_hk with both parts
  >= 0; for Davies dynamics (populations obey a classical rate equation with local detailed balance)
  sigma_hk >= 0 by ln x >= 1 - 1/x and stationarity of pi.  At the NESS sigma_na = 0 and
  sigma_hk = -sum_a J_a / T_a.
* Santos, Celeri, Landi & Paternostro, npj Quantum Inf. 5, 23 (2019): D(rho || pi) =
  D(Delta(rho) || pi) + C(rho), and both D and C = D(rho || Delta(rho)) decrease under Davies
  dynamics (covariance: Delta commutes with exp(L t); data processing).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as la
import strategies
import systems
from hypothesis import given, settings

from analysis.entropy import (
    EntropyRates,
    entropy_production_rates,
    relative_entropy,
    relaxation,
    von_neumann_entropy,
)
from engines import BosonicBath, Composite, Custom, Drive, Engine, Levels, Qubit, WorkbenchError

#: These tests check numerics and laws that hold in every regime; the random and reference machines
#: are often outside their flavour's regime on purpose, so the regime warning is not theirs to report
#: (tests/engines/test_master_equations.py and test_audit.py check it).
pytestmark = pytest.mark.filterwarnings("ignore::engines.checks.ModelValidityWarning")


#: Our S and D against a direct scipy.linalg.logm computation.
LOGM_TOL = 1e-10
#: Identities between rates that hold exactly in exact arithmetic (relative to the rate scale).
IDENTITY_TOL = 1e-10
#: D(rho || rho_beta) against beta (F(rho) - F(rho_beta)) (absolute, nats).
FREE_ENERGY_TOL = 1e-10
#: sigma_na against a central difference of the D column, step FD_STEP (error ~ h^2 D''' / 6 plus
#: round-off ~ 1e-15 / h), relative to max |sigma_na|.
FD_STEP = 1e-4
FD_TOL = 1e-7
#: Second-law inequalities and monotonicity: allowed round-off below zero (absolute, nats or nats/time).
POSITIVITY_TOL = 1e-12
MONOTONE_TOL = 1e-12

SEED = 1234


def _random_engine(rng, d=3, temperatures=(2.0, 0.5)):
    """Global (Davies) engine: random Hermitian H, one random Hermitian coupling per bath."""
    H = systems.random_hermitian(rng, d)
    baths = [
        BosonicBath(f"bath{k}", T, 0.05 + 0.1 * rng.random(), systems.random_hermitian(rng, d))
        for k, T in enumerate(temperatures)
    ]
    return Engine(Custom(lambda: H), baths), H


def _propagate(engine, rho0, t):
    """exp(L t) rho0 by scipy.linalg.expm of the dense medium superoperator (independent of our route)."""
    d = rho0.shape[0]
    v = la.expm(engine.generator.medium_superoperator() * t) @ rho0.reshape(-1, order="F")
    return v.reshape(d, d, order="F")


# ---------------------------------------------------------------------------------------- S and D


def test_entropy_and_relative_entropy_match_logm():
    """S = -Tr[rho logm rho] and D = Tr[rho (logm rho - logm sigma)] (Umegaki) for full-rank states."""
    rng = np.random.default_rng(SEED)
    for d in (2, 3, 5):
        rho, sigma = systems.random_state(rng, d), systems.random_state(rng, d)
        S_ref = -np.trace(rho @ la.logm(rho)).real
        D_ref = np.trace(rho @ (la.logm(rho) - la.logm(sigma))).real
        assert von_neumann_entropy(rho) == pytest.approx(S_ref, abs=LOGM_TOL)
        assert relative_entropy(rho, sigma) == pytest.approx(D_ref, abs=LOGM_TOL)
        assert relative_entropy(rho, rho) == pytest.approx(0.0, abs=LOGM_TOL)


def test_relative_entropy_support_rule():
    """D(rho || sigma) = +inf iff supp rho is not inside supp sigma; S(pure) = 0, S(I/d) = ln d."""
    rng = np.random.default_rng(SEED)
    V = la.qr(rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3)))[0]

    def rotated(p):
        return (V * np.asarray(p, dtype=float)) @ V.conj().T

    assert relative_entropy(rotated([0.5, 0.5, 0]), rotated([1, 0, 0])) == math.inf
    assert relative_entropy(rotated([0, 0, 1]), rotated([1, 0, 0])) == math.inf  # disjoint supports
    assert relative_entropy(rotated([1, 0, 0]), rotated([0.5, 0.5, 0])) == pytest.approx(
        math.log(2), abs=LOGM_TOL
    )
    assert von_neumann_entropy(rotated([1, 0, 0])) == pytest.approx(0.0, abs=LOGM_TOL)
    assert von_neumann_entropy(np.eye(3) / 3) == pytest.approx(math.log(3), abs=LOGM_TOL)


BAD_STATES = [
    pytest.param(np.array([[0.5, 0.3], [0.0, 0.5]]), id="non-hermitian"),
    pytest.param(np.diag([1.2, -0.2]), id="negative-eigenvalue"),
    pytest.param(np.eye(2), id="trace-2"),
    pytest.param(np.ones((2, 3)) / 2, id="not-square"),
    pytest.param(np.diag([np.nan, 1.0]), id="nan"),
]


@pytest.mark.parametrize("bad", BAD_STATES)
def test_bad_states_raise(bad):
    """Non-states are refused with a WorkbenchError, never turned into a number."""
    good = np.eye(2) / 2
    with pytest.raises(WorkbenchError):
        von_neumann_entropy(bad)
    with pytest.raises(WorkbenchError):
        relative_entropy(bad, good)
    with pytest.raises(WorkbenchError):
        relative_entropy(good, bad)


def test_bad_engine_inputs_raise():
    """Wrong dimension, non-states and bad time grids are refused by the engine-level functions."""
    engine, _ = _random_engine(np.random.default_rng(SEED))
    with pytest.raises(WorkbenchError, match="shape"):
        entropy_production_rates(engine, np.eye(2) / 2)
    with pytest.raises(WorkbenchError, match="positive"):
        entropy_production_rates(engine, np.diag([1.5, -0.5, 0.0]))
    with pytest.raises(WorkbenchError, match="times"):
        relaxation(engine, np.eye(3) / 3, [-1.0, 0.0])
    with pytest.raises(WorkbenchError, match="times"):
        relaxation(engine, np.eye(3) / 3, [0.0, np.inf])


# ---------------------------------------------------------------------------------- one bath


def test_single_bath_sigma_equals_nonadiabatic_and_free_energy():
    """One thermal bath (global): pi = rho_beta, sigma = sigma_na, sigma_hk = 0 along a relaxation,
    and D(rho_t || rho_beta) = beta (F(rho_t) - F(rho_beta)) (Spohn 1978; docs/physics.md)."""
    rng = np.random.default_rng(SEED)
    T = 0.7
    engine, H = _random_engine(rng, temperatures=(T,))
    steady = engine.steady_state()
    gibbs = systems.gibbs(H, T)
    assert np.max(np.abs(steady.rho - gibbs)) < IDENTITY_TOL
    rho0 = systems.random_state(rng, 3)
    times = np.linspace(0.0, 30.0, 31)
    df = relaxation(engine, rho0, times, steady=steady).to_frame()
    scale = np.max(np.abs(df["sigma_na"]))
    np.testing.assert_allclose(df["sigma"], df["sigma_na"], rtol=0, atol=IDENTITY_TOL * scale)
    np.testing.assert_allclose(df["sigma_hk"], 0.0, rtol=0, atol=IDENTITY_TOL * scale)

    def free_energy(rho):
        return np.trace(rho @ H).real - T * von_neumann_entropy(rho)

    for t in times[::5]:
        rho_t = _propagate(engine, rho0, t)
        expected = (free_energy(rho_t) - free_energy(gibbs)) / T
        assert relative_entropy(rho_t, gibbs) == pytest.approx(expected, abs=FREE_ENERGY_TOL)
        assert df.loc[t, "D"] == pytest.approx(expected, abs=FREE_ENERGY_TOL)


def test_nonadiabatic_rate_is_minus_dD_dt():
    """sigma_na(t) = -d/dt D(rho_t || pi) (Spohn 1978): the analytic rate against an independent
    central difference of the D column, (D(t - h) - D(t + h)) / 2h, with two baths."""
    rng = np.random.default_rng(SEED + 1)
    engine, _ = _random_engine(rng)
    rho0 = systems.random_state(rng, 3)
    centres = np.linspace(0.5, 20.0, 14)
    times = np.concatenate([centres - FD_STEP, centres, centres + FD_STEP])
    df = relaxation(engine, rho0, times).to_frame()
    D = df["D"].to_numpy()
    n = centres.size
    numerical = (D[:n] - D[2 * n :]) / (2 * FD_STEP)
    analytic = df["sigma_na"].to_numpy()[n : 2 * n]
    scale = np.max(np.abs(analytic))
    np.testing.assert_allclose(analytic, numerical, rtol=0, atol=FD_TOL * scale)


# -------------------------------------------------------------------------------- two baths


def _maser():
    medium = Levels([0.0, 1.0, 3.0])
    hot = BosonicBath("hot", 4.0, 0.05, "pair_0_2")
    cold = BosonicBath("cold", 0.5, 0.05, "pair_1_2")
    return medium, [hot, cold]


def _two_qubits(flavour):
    """Detuned qubits with a flip-flop coupling, hot bath on site 0, cold bath on site 1."""
    medium = Composite([Qubit(2.0), Qubit(1.0)], [(0.05, [("sigma_plus", 0), ("sigma_minus", 1)])])
    baths = [
        BosonicBath("hot", 3.0, 0.02, "sigma_x", site=0),
        BosonicBath("cold", 0.3, 0.02, "sigma_x", site=1),
    ]
    return Engine(medium, baths, flavour=flavour)


NESS_ENGINES = [
    pytest.param(lambda: _random_engine(np.random.default_rng(SEED))[0], id="global-random"),
    pytest.param(lambda: Engine(*_maser(), drive=Drive((0, 1), 0.02)), id="driven-maser"),
    pytest.param(lambda: _two_qubits("local"), id="local-bare"),
    pytest.param(lambda: _two_qubits("global"), id="global-two-qubits"),
]


@pytest.mark.parametrize("make", NESS_ENGINES)
def test_at_ness_nonadiabatic_vanishes_and_housekeeping_is_clausius(make):
    """At the NESS, L(pi) = 0: sigma_na = 0 and sigma_hk = sigma = -sum_a J_a / T_a =
    SteadyState.entropy_production_rate (Esposito & Van den Broeck, PRL 104, 090601 (2010))."""
    engine = make()
    steady = engine.steady_state()
    rates = entropy_production_rates(engine, steady.rho, steady=steady)
    scale = sum(abs(J) / steady.temperatures[k] for k, J in steady.heat_currents.items())
    assert isinstance(rates, EntropyRates)
    assert rates.reason is None
    assert abs(rates.non_adiabatic) < IDENTITY_TOL * scale
    assert rates.housekeeping == pytest.approx(steady.entropy_production_rate, abs=IDENTITY_TOL * scale)
    assert rates.total == pytest.approx(steady.entropy_production_rate, abs=IDENTITY_TOL * scale)
    for k, J in steady.heat_currents.items():
        assert rates.heat_currents[k] == pytest.approx(J, abs=IDENTITY_TOL * scale)
    assert rates.to_dict()["housekeeping"] == rates.housekeeping


def test_pure_state_entropy_rate_is_infinite_with_reason():
    """A pure state that the baths mix has dS/dt = +inf (d(-p ln p)/dt at p = 0): reported as inf with
    a reason, never NaN; sigma_hk = -Tr[L(rho) ln pi] - sum_a J_a/T_a stays finite."""
    rng = np.random.default_rng(SEED)
    engine, _ = _random_engine(rng)
    rates = entropy_production_rates(engine, systems.random_state(rng, 3, rank=1))
    assert rates.entropy_rate == math.inf
    assert rates.total == math.inf and rates.non_adiabatic == math.inf
    assert math.isfinite(rates.housekeeping)
    assert "kernel" in rates.reason
    assert rates.to_dict()["total"] == "inf"


# ------------------------------------------------------------------ random Davies machines


def _davies_relaxation(engine, rho0):
    times = np.concatenate([[0.0], np.geomspace(1e-2, 200.0, 40)])
    return relaxation(engine, rho0, times).to_frame()


#: Random 3-level Davies machines between two baths, and an initial state.
DAVIES = {
    "engine": strategies.generic_machines(min_baths=2, max_baths=2, min_dim=3, max_dim=3),
    "rho0": strategies.density_matrices(3),
}


@settings(max_examples=20, deadline=None)
@given(**DAVIES)
def test_davies_entropy_productions_are_nonnegative(engine, rho0):
    """Random 3-level media between two baths (global flavour): sigma >= 0 (Spohn 1978),
    sigma_na >= 0 (Spohn 1978), sigma_hk >= 0 (Esposito & Van den Broeck 2010) along relaxation,
    and sigma = sigma_na + sigma_hk."""
    df = _davies_relaxation(engine, rho0)
    for column in ("sigma", "sigma_na", "sigma_hk"):
        assert df[column].min() >= -POSITIVITY_TOL, column
    scale = np.max(np.abs(df["sigma"]))
    np.testing.assert_allclose(
        df["sigma"], df["sigma_na"] + df["sigma_hk"], rtol=0, atol=IDENTITY_TOL * scale
    )


@settings(max_examples=20, deadline=None)
@given(**DAVIES)
def test_davies_relative_entropy_and_coherence_decrease(engine, rho0):
    """Under Davies dynamics D(rho_t || pi), D(Delta(rho_t) || pi) and C(rho_t) never increase, and
    D = D(Delta(rho) || pi) + C(rho) (Santos, Celeri, Landi & Paternostro, npj Quantum Inf. 5, 23 (2019))."""
    df = _davies_relaxation(engine, rho0)
    for column in ("D", "D_populations", "coherence"):
        assert np.max(np.diff(df[column].to_numpy())) <= MONOTONE_TOL, column
    np.testing.assert_allclose(df["D"], df["D_populations"] + df["coherence"], rtol=0, atol=IDENTITY_TOL)
