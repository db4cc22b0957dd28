"""The numerics cycles stand on: `engines.linalg.Propagator` and the assembled stroke generators.

exp(L t), its time integral and the t = inf limits are checked against independent constructions:
scipy's expm, Van Loan's block exponential for int_0^t exp(L s) ds (C. F. Van Loan, IEEE Trans. Autom.
Control 23, 395 (1978)), and the group inverse L^# = (L - P_0)^{-1} + P_0, with
int_0^inf (exp(L s) - P_0) ds = -L^# (for an L whose non-zero eigenvalues have Re < 0).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as la

from cycles.steps import generator_superoperator
from engines import BosonicBath, Composite, FermionicLead, Levels, Qubit, SpinChain
from engines.generators import build_generator
from engines.linalg import Propagator, kernel_projector, trace_vector

#: Same matrix function by two routes (eigendecomposition against expm / a linear solve).
ROUTE_TOL = 1e-11
#: Assembled superoperator against the generator's own (same entries, another summation order).
ASSEMBLY_TOL = 1e-13

SEED = 1234


def _generators():
    """Davies generators with degenerate levels, Bohr frequencies, leads, dephasing, local jumps."""
    chain = SpinChain(4, 0.5, 0.5, field=2.0)
    ising = Composite(
        [Qubit(2.0) for _ in range(3)], [(1.0, [("sigma_x", i), ("sigma_x", i + 1)]) for i in range(2)]
    )
    dots = Composite([Levels([0.0, 1.0]), Levels([0.0, 1.5])], [(0.3, [("jump_0_1", 0), ("jump_1_0", 1)])])
    pair = Composite([Qubit(1.0), Qubit(1.0)], [(0.2, [("sigma_x", 0), ("sigma_x", 1)])])
    lead = FermionicLead("lead", 0.7, 0.3, 0.4, "jump_0_1", site=0)
    return [
        pytest.param(build_generator(chain, [BosonicBath("b", 3.0, 0.2, "sigma_x", site=0)]), id="xxz-chain"),
        pytest.param(build_generator(ising, [BosonicBath("b", 1.0, 0.2, "sigma_x", site=1)]), id="ising"),
        pytest.param(build_generator(dots, [lead]), id="double-dot-lead"),
        pytest.param(build_generator(dots, [lead], "local"), id="double-dot-lead-local"),
        pytest.param(
            build_generator(Qubit(1.0), [BosonicBath("b", 1.0, 0.2, "sigma_z", dephasing=0.3)]),
            id="dephasing",
        ),
        pytest.param(
            build_generator(pair, [BosonicBath("b", 1.0, 0.2, "sigma_x", site=0, spectrum="ohmic")], "local"),
            id="local-ohmic",
        ),
    ]


@pytest.mark.parametrize("gen", _generators())
def test_assembled_superoperator_equals_the_generators(gen):
    """`generator_superoperator` (one vectorised pass over Davies tables or jumps) = gen.superoperator()."""
    np.testing.assert_allclose(
        generator_superoperator(gen, dense=True), gen.superoperator(dense=True), rtol=0, atol=ASSEMBLY_TOL
    )
    sparse = generator_superoperator(gen, dense=False)
    np.testing.assert_allclose(sparse.toarray(), gen.superoperator(dense=True), rtol=0, atol=ASSEMBLY_TOL)


@pytest.mark.parametrize("gen", _generators())
@pytest.mark.parametrize("blocks", [pytest.param(None, id="one-sector"), pytest.param("auto", id="sectors")])
def test_propagator_against_expm_van_loan_and_the_group_inverse(gen, blocks):
    """exp(L t), int_0^t exp(L s) ds, P_0 and int_0^inf (exp(L s) - P_0) ds by independent routes.

    Sector by sector (blocks="auto") and in one piece give the same maps; trace preservation is exact
    with `conserved` (vec(1) . exp(L t) = vec(1) for every t).
    """
    L = gen.superoperator(dense=True)
    m = L.shape[0]
    prop = Propagator(L, blocks=blocks, conserved=trace_vector(gen.dim))
    eye = np.eye(m)
    for t in (0.3, 2.0, 17.0):
        np.testing.assert_allclose(prop.evolve(eye, t), la.expm(L * t), rtol=0, atol=ROUTE_TOL)
        big = np.zeros((2 * m, 2 * m), dtype=complex)
        big[:m, :m], big[:m, m:] = L * t, eye * t
        np.testing.assert_allclose(prop.integrate(eye, t), la.expm(big)[:m, m:], rtol=0, atol=ROUTE_TOL * t)
        np.testing.assert_allclose(
            trace_vector(gen.dim) @ prop.evolve(eye, t), trace_vector(gen.dim), atol=1e-14
        )
    P0 = kernel_projector(L)
    np.testing.assert_allclose(prop.projector(), P0, rtol=0, atol=ROUTE_TOL)
    group_inverse = la.solve(L - P0, eye) + P0
    np.testing.assert_allclose(prop.integrate(eye, math.inf), -group_inverse, rtol=0, atol=1e3 * ROUTE_TOL)


@pytest.mark.parametrize("gen", _generators())
def test_trajectory_equals_the_maps_at_each_time(gen):
    """`Propagator.trajectory` (all times in one product per sector) = evolve / integrate time by time."""
    L = gen.superoperator(dense=True)
    prop = Propagator(L, blocks="auto", conserved=trace_vector(gen.dim))
    x = np.random.default_rng(SEED).normal(size=L.shape[0]) + 0j
    times = [0.0, 0.3, 2.0, 17.0, math.inf]
    for kind, one in (("exp", prop.evolve), ("integral", prop.integrate)):
        expected = np.stack([one(x, t) for t in times])
        np.testing.assert_allclose(prop.trajectory(x, times, kind), expected, rtol=0, atol=ROUTE_TOL)


def test_trajectory_of_a_defective_generator():
    """A Jordan block takes the expm route inside `trajectory` too."""
    L = np.array([[-1.0, 1.0], [0.0, -1.0]], dtype=complex)
    prop = Propagator(L)
    x = np.array([0.3, 0.7], dtype=complex)
    np.testing.assert_allclose(
        prop.trajectory(x, [0.7, 2.0]), [la.expm(L * t) @ x for t in (0.7, 2.0)], atol=1e-14
    )


def test_integral_is_accurate_for_short_times():
    """phi(lam, t) = (exp(lam t) - 1)/lam loses no digits for |lam t| << 1: the integral is t + L t^2/2.

    Computed as (exp(lam t) - 1)/lam, the difference would cancel to relative error eps/|lam t| ~ 1e-7
    of t here; with expm1 the map is accurate to round-off of its norm t.
    """
    L = np.array([[-1.0, 0.5], [1.0, -0.5]], dtype=complex)
    prop = Propagator(L)
    t = 1e-9
    expected = np.eye(2) * t + L * t**2 / 2
    np.testing.assert_allclose(prop.integrate(np.eye(2), t), expected, rtol=0, atol=1e-14 * t)


def test_defective_generator_falls_back_to_expm():
    """A Jordan block (ill-conditioned eigenvectors) takes the expm route for every map."""
    L = np.array([[-1.0, 1.0], [0.0, -1.0]], dtype=complex)
    prop = Propagator(L)
    assert prop.defective and prop.spectral() is None
    t = 0.7
    np.testing.assert_allclose(prop.evolve(np.eye(2), t), la.expm(L * t), atol=1e-14)
    big = np.zeros((4, 4), dtype=complex)
    big[:2, :2], big[:2, 2:] = L * t, np.eye(2) * t
    np.testing.assert_allclose(prop.integrate(np.eye(2), t), la.expm(big)[:2, 2:], atol=1e-14)
    np.testing.assert_allclose(prop.integrate(np.eye(2), math.inf), -la.inv(L), atol=1e-14)


def test_spectral_form_reproduces_the_maps():
    """modes diag(exp(lam t)) dual = exp(L t); the zero modes span the range of P_0."""
    rng = np.random.default_rng(SEED)
    gen = build_generator(SpinChain(3, 0.7, 0.3, field=1.1), [BosonicBath("b", 2.0, 0.3, "sigma_x", site=1)])
    L = gen.superoperator(dense=True)
    prop = Propagator(L, blocks="auto", conserved=trace_vector(gen.dim))
    form = prop.spectral()
    t = rng.uniform(0.1, 3.0)
    np.testing.assert_allclose(
        (form.modes * np.exp(form.lam * t)) @ form.dual, la.expm(L * t), atol=ROUTE_TOL
    )
    np.testing.assert_allclose(
        form.modes[:, form.zero] @ form.dual[form.zero], form.projector, atol=ROUTE_TOL
    )


def _local_chain_generator():
    """A local XXZ chain between two baths: sectors of N(ket) - N(bra), none secular."""
    chain = SpinChain(3, 1.0, 0.5, field=1.0)
    baths = [BosonicBath("h", 2.0, 0.1, "sigma_x", site=0), BosonicBath("c", 0.5, 0.1, "sigma_x", site=2)]
    return build_generator(chain, baths, "local")


def test_hermiticity_preserving_sectors_are_diagonalised_once_and_real(monkeypatch):
    """L(X^dag) = L(X)^dag: a sector closed under X -> X^dag is diagonalised as a real matrix and of a
    pair of sectors mapped onto each other only one is diagonalised; the maps still equal expm.
    """
    gen = _local_chain_generator()
    L = gen.superoperator(dense=True)
    calls = []
    eig = np.linalg.eig

    def spy(a):
        calls.append((a.dtype, a.shape))
        return eig(a)

    monkeypatch.setattr(np.linalg, "eig", spy)
    prop = Propagator(L, blocks="auto", conserved=trace_vector(gen.dim))
    t = 1.3
    np.testing.assert_allclose(prop.evolve(np.eye(L.shape[0]), t), la.expm(L * t), rtol=0, atol=ROUTE_TOL)
    sizes = {dtype.kind: sum(math.prod(s[:-1]) for k, s in calls if k == dtype) for dtype, _ in calls}
    d = gen.dim
    # N = 3 spins: the q = 0 sector (sum_k C(3,k)^2 = 20) is self-conjugate, q = +-1, +-2, +-3 pair up
    assert sizes == {"f": 20, "c": (d * d - 20 - 2) // 2}


def test_a_trajectory_diagonalises_only_the_sectors_it_visits(monkeypatch):
    """From a population state only the sector of N(ket) = N(bra) is diagonalised (and its rates reported)."""
    gen = _local_chain_generator()
    L = gen.superoperator(dense=True)
    d = gen.dim
    rho = np.zeros((d, d), dtype=complex)
    rho[-1, -1] = 1.0
    x = rho.reshape(-1, order="F")
    prop = Propagator(L, blocks="auto", conserved=trace_vector(d))
    lam, zero = prop.eigenvalues(x)
    assert lam.size == 20 and zero.sum() == 1
    for t in (0.5, 4.0):
        np.testing.assert_allclose(prop.trajectory(x, [t])[0], la.expm(L * t) @ x, rtol=0, atol=ROUTE_TOL)
    assert prop.eigenvalues()[0].size == d * d


def test_a_generator_that_does_not_preserve_hermiticity_takes_the_complex_route():
    """A random L with a GKSL generator's sectors but no X -> X^dag symmetry: the maps are expm's."""
    gen = _local_chain_generator()
    L = gen.superoperator(dense=True)
    rng = np.random.default_rng(SEED)
    noise = (rng.normal(size=L.shape) + 1j * rng.normal(size=L.shape)) * (np.abs(L) > 0)
    A = L + 0.1 * noise
    prop = Propagator(A, blocks="auto")
    t = 0.9
    np.testing.assert_allclose(prop.evolve(np.eye(A.shape[0]), t), la.expm(A * t), rtol=0, atol=ROUTE_TOL)
