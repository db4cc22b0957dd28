"""Each numba kernel of engines._kernels against a plain NumPy/SciPy twin (docs/architecture.md)."""

import numpy as np
import pytest

from engines import BosonicBath, Drive, Engine, FermionicLead, Levels, Options, Qubit, _kernels

DEGENERACY_TOL = Options().degeneracy_tol

#: Kernel against its twin (same arithmetic up to summation order).
KERNEL_TOL = 1e-12
SEED = 1234


def _random_global_engine(d=4, degenerate=False):
    rng = np.random.default_rng(SEED)
    energies = np.sort(rng.uniform(0, 3, d))
    if degenerate:
        energies[1] = energies[2]
    A = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    return Engine(
        Levels(list(energies)),
        [BosonicBath("a", 1.3, 0.2, A + A.conj().T), BosonicBath("b", 0.4, 0.1, "pair_0_1")],
    )


@pytest.mark.parametrize("degenerate", [False, True], ids=["non-degenerate", "degenerate"])
def test_davies_full_superoperator_equals_the_generator(degenerate):
    """The kernel's Davies superoperator (all Bohr frequencies) equals the one assembled from jump lists."""
    gen = _random_global_engine(degenerate=degenerate).generator
    d = gen.dim
    out = np.zeros((d * d, d * d), dtype=complex)
    for channels in gen.davies.channels:
        for c in channels:
            _kernels.davies_full_superoperator(gen.davies.spectrum.energies, c.X, c.R, DEGENERACY_TOL, out)
    expected = sum(D.superoperator().toarray() for D in gen.dissipators)
    np.testing.assert_allclose(out, expected, atol=KERNEL_TOL)


def test_degenerate_blocks_snaps_like_the_generator():
    E = np.array([0.0, 1.0, 1.0 + 1e-12, 2.0, 2.0, 2.0 - 1e-13, 3.0])
    E.sort()
    snapped = E.copy()
    starts = _kernels.degenerate_blocks(snapped, DEGENERACY_TOL)
    np.testing.assert_array_equal(starts, [0, 1, 3, 6, 7])
    np.testing.assert_allclose(snapped[1:3], E[1:3].mean(), rtol=0, atol=0)


def test_solve_with_trace_equals_numpy_solve():
    """Gaussian elimination with the trace row against numpy.linalg.solve of the same bordered system."""
    gen = _random_global_engine().generator
    A = gen.superoperator().toarray()
    d = gen.dim
    trace = np.eye(d).ravel(order="F").astype(complex)
    x = np.zeros(d * d, dtype=complex)
    assert _kernels.solve_with_trace(A.copy(), trace, x)
    B = A.copy()
    B[0] = trace
    b = np.zeros(d * d, dtype=complex)
    b[0] = 1
    np.testing.assert_allclose(x, np.linalg.solve(B, b), atol=KERNEL_TOL)


def test_solve_with_trace_reports_a_singular_system():
    A = np.zeros((4, 4), dtype=complex)  # L = 0: every state is stationary
    trace = np.array([1, 0, 0, 1], dtype=complex)
    assert not _kernels.solve_with_trace(A, trace, np.zeros(4, dtype=complex))


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(_random_global_engine(), id="random-4-level"),
        pytest.param(_random_global_engine(degenerate=True), id="degenerate"),
        pytest.param(
            Engine(
                Levels([0.0, 1.0, 3.0]),
                [BosonicBath("h", 5.0, 0.1, "pair_0_2"), BosonicBath("c", 0.5, 0.1, "pair_0_1")],
                drive=Drive((1, 2), 0.2),
            ),
            id="driven-maser",
        ),
        pytest.param(Engine(Levels([0.0, 0.7]), [FermionicLead("l", 1.0, 0.3, 0.1, "jump_0_1")]), id="lead"),
        pytest.param(Engine(Qubit(1.0, 0.4), [BosonicBath("h", 2.0, 0.1, "sigma_x")]), id="qubit"),
    ],
)
def test_davies_current_equals_the_trace_of_h_times_the_dissipator(engine):
    """The kernel's energy current and jump rate equal Tr[H D(rho)] and Tr[sum_j n_j L_j^dag L_j rho].

    The twin applies each dissipator to rho with its jump operators (no observables involved); the
    generator's `currents` (the one current routine) must agree with both.
    """
    gen = engine.generator
    d = gen.dim
    rng = np.random.default_rng(SEED)
    M = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = M @ M.conj().T
    rho /= np.trace(rho)
    spec = gen.davies.spectrum
    energy, number = gen.currents(rho)
    for a, (D, channels) in enumerate(zip(gen.dissipators, gen.davies.channels)):
        e_a = n_a = 0.0
        for c in channels:
            e, jumps = _kernels.davies_current(spec.energies, spec.starts, c.X, c.R, rho)
            e_a += e
            n_a += c.particles * jumps
        twin_energy = np.real(np.trace(gen.reference.toarray() @ D.apply(rho)))
        twin_number = sum(n * np.real(np.trace(L.conj().T @ L @ rho)) for L, n in zip(D.jumps, D.particles))
        assert e_a == pytest.approx(twin_energy, abs=KERNEL_TOL)
        assert n_a == pytest.approx(twin_number, abs=KERNEL_TOL)
        assert energy[a] == pytest.approx(twin_energy, abs=KERNEL_TOL)
        assert number[a] == pytest.approx(twin_number, abs=KERNEL_TOL)


@pytest.mark.parametrize("shift", [0.0, -0.3, 1e-3], ids=["psd", "negative", "slightly-negative"])
def test_positive_within_equals_the_lowest_eigenvalue_test(shift):
    """Cholesky of rho + tol I succeeds exactly when eigvalsh(rho).min() > -tol."""
    rng = np.random.default_rng(SEED)
    M = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    rho = M @ M.conj().T
    rho /= np.trace(rho)
    lowest = np.linalg.eigvalsh(rho).min()
    rho = rho - (lowest + shift) * np.eye(4)  # lowest eigenvalue now -shift
    lowest = np.linalg.eigvalsh(rho).min()
    for tol in (1e-8, 1e-2, 0.5):
        expected = lowest > -tol
        assert _kernels.positive_within(rho, tol, np.empty((4, 4), dtype=complex)) == expected


def test_decay_diagonal_equals_the_diagonal_of_the_decay_operator():
    """sum_m R[m, k] |X[m, k]|^2 equals diag(sum_j L_j^dag L_j) built from the jump operators."""
    gen = _random_global_engine().generator
    out = np.zeros(gen.dim)
    for channels in gen.davies.channels:
        for c in channels:
            _kernels.add_decay_diagonal(c.X, c.R, out)
    expected = sum(np.real(D.decay.diagonal()) for D in gen.dissipators)
    np.testing.assert_allclose(out, expected, atol=KERNEL_TOL)


def test_real_elimination_equals_numpy_solve():
    """The real Gaussian elimination of the batched kernel against numpy.linalg.solve (bordered system)."""
    rng = np.random.default_rng(SEED)
    A = rng.normal(size=(6, 6))
    A -= np.diag(A.sum(axis=0))  # columns sum to zero, like a rate matrix
    trace = np.zeros(6)
    trace[[0, 2, 5]] = 1.0
    x = np.zeros(6)
    assert _kernels._eliminate(A.copy(), trace, x, np.zeros(6))
    B = A.copy()
    B[0] = trace
    np.testing.assert_allclose(x, np.linalg.solve(B, np.eye(6)[0]), atol=KERNEL_TOL)
