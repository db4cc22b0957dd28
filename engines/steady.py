"""Steady states (NESS) of GKSL generators, verified before they are returned.

Solvers (``solver=`` in `Engine.steady_state`):

``"pauli"``
    Global (secular) generators only.  The secular generator maps the zero-frequency sector
    (populations and the coherences inside degenerate blocks) to itself, so the NESS is found
    there: a d x d rate equation W_kl = sum_a gamma_a(E_l - E_k) |<k|A_a|l>|^2 for a
    non-degenerate spectrum, plus the coherences of each degenerate block otherwise
    (Breuer & Petruccione, *The Theory of Open Quantum Systems*, 3.3.2).
``"dense"``
    LU of the full d^2 x d^2 generator with the trace constraint (small d).
``"sparse"``
    Sparse LU of the generator restricted to the invariant sector that holds the populations:
    basis states are grouped into the blocks that H and the L^dag L connect, and only ket/bra
    block pairs reachable from the diagonal are kept (for a chain conserving magnetisation with
    single-spin jumps at its ends: the sector M_ket = M_bra, C(2N, N) instead of 4^N unknowns).
``"iterative"``
    GMRES on the jump-chain fixed point rho = -S^{-1} J rho, where S is the no-jump evolution
    (inverted block by block in Schur coordinates) and J the jumps; falls back to sparse LU when S
    is singular, GMRES misses its tolerance or the steady state may not be unique.

Every solution is checked: residual ||L rho||, Hermiticity, unit trace and positivity.  A
non-unique steady state is detected; it is resolved from an initial state with the spectral
projector onto the kernel of L, P = R (Lt^dag R)^{-1} Lt^dag (right and left null vectors).
"""

from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from engines import _kernels, linalg
from engines.checks import ModelValidityWarning, WorkbenchError, choice, matrix
from engines.linalg import _Progress as _progress
from engines.linalg import stationary_vector, unvec, vec
from engines.options import Options

__all__ = [
    "SOLVERS",
    "Solution",
    "auto_solver",
    "generator_scale",
    "population_sector",
    "solve_steady_state",
]

SOLVERS = ("auto", "pauli", "dense", "sparse", "iterative")


@dataclass(frozen=True)
class Solution:
    """A verified steady state in the generator's basis, with how it was found."""

    rho: np.ndarray
    solver: str
    residual: float
    kernel_dim: int
    energy_currents: np.ndarray  # per dissipator, Tr[H_ref D_a(rho)]
    particle_currents: np.ndarray  # per dissipator, Tr[N_a rho]
    scale: float  # ||L||: largest Hamiltonian entry plus largest total decay rate
    observable_norms: np.ndarray  # per dissipator, ||O_a||, O_a = D_a^dag(H_ref) - mu_a N_a
    particle_norms: np.ndarray  # per dissipator, ||N_a||
    mechanical_power: float  # Tr[i[H_ref, H] rho]: sum_a Tr[H_ref D_a(rho)] at an exact NESS


def solve_steady_state(generator, solver="auto", initial=None, options=None) -> Solution:
    """Steady state of `generator` (see module docstring for the solvers).

    Parameters
    ----------
    generator : engines.generators.Generator
    solver : {"auto", "pauli", "dense", "sparse", "iterative"}
    initial : ndarray (d, d), optional
        Initial state in the medium's basis; selects the steady state when it is not unique.
    options : engines.Options or mapping, optional

    Returns
    -------
    Solution
    """
    options = Options.coerce(options)
    solver = choice("steady_state", "solver", solver, SOLVERS)
    d = generator.dim
    if initial is not None:
        initial = generator.from_medium_basis(
            matrix("steady_state", "initial", initial, dim=d, hermitian=True)
        )
    if solver == "auto":
        solver = auto_solver(generator, options)
    if solver == "pauli" and not generator.secular:
        raise WorkbenchError(
            "steady_state: `solver` 'pauli' needs an undriven global (secular) generator; "
            "use 'dense', 'sparse' or 'auto'."
        )
    # Thread policy, set by the library so that speed never depends on an environment variable:
    # the iterative solver's many small products and small dense factorizations only pay
    # multi-threaded BLAS's synchronisation, which stalls badly when another process holds a core
    # (local N = 8 chain: 0.5 s alone, 25 s next to busy processes with default OpenBLAS threads),
    # and even the 4096-unknown LU of a global N = 12 chain was slower with two threads under load.
    with linalg.blas_threads(options.blas_threads):
        if solver == "pauli":
            return _pauli(generator, initial, options)
        if solver == "dense":
            A = generator.superoperator().toarray()
            x0 = None if initial is None else vec(initial)
            x, res, k = stationary_vector(A, linalg.trace_vector(d), x0, options)
            return _verified(generator, unvec(x, d), solver, res, k, options)
        if solver == "iterative":
            return _iterative(generator, initial, options)
        return _sparse(generator, initial, options)


def auto_solver(generator, options) -> str:
    """The solver ``"auto"`` picks.

    Pauli for a secular generator whose zero-frequency sector is small (for the unified flavour, whose
    level groups can be large: at most max(8 d, 4096) unknowns, a dense LU of at most 270 MB), else
    dense up to ``options.dense_max_dim``, else iterative.
    """
    d = generator.dim
    if generator.secular:
        starts = generator.davies.spectrum.starts
        if generator.flavour != "unified" or int(np.sum(np.diff(starts) ** 2)) <= max(8 * d, 4096):
            return "pauli"
    return "dense" if d <= options.dense_max_dim else "iterative"


def _verified(generator, rho, solver, residual, kernel_dim, options, eigenvalues=None) -> Solution:
    """Check Hermiticity, trace and positivity; return a Solution with the currents, or raise."""
    scale = max(1.0, float(np.max(np.abs(rho))))
    herm = float(np.max(np.abs(rho - rho.conj().T))) / scale
    trace = abs(np.trace(rho) - 1.0)
    rho = 0.5 * (rho + rho.conj().T)
    if eigenvalues is None:
        eigenvalues = np.linalg.eigvalsh(rho)
    lowest = float(np.min(eigenvalues))
    problems = []
    if not np.all(np.isfinite(rho)):
        problems.append("non-finite entries")
    if herm > options.state_tol:
        problems.append(f"not Hermitian (max |rho - rho^dag| = {herm:.2e})")
    if trace > options.state_tol:
        problems.append(f"trace off by {trace:.2e}")
    if lowest < -options.state_tol:
        if generator.flavour == "redfield":
            # Redfield is not completely positive: report the violation, do not fail.
            warnings.warn(
                f"steady_state: the redfield steady state is not positive: its most negative "
                f"eigenvalue is {lowest:.3e}; the bath coupling is too strong for the Born-Markov "
                "approximation here (the 'unified' flavour is GKLS and keeps positivity).",
                ModelValidityWarning,
                stacklevel=4,
            )
        else:
            problems.append(f"not positive (lowest eigenvalue {lowest:.2e})")
    size = generator_scale(generator)
    if not residual <= options.residual_tol * size:
        problems.append(
            f"residual ||L rho|| = {residual:.2e} above residual_tol * ||L|| = "
            f"{options.residual_tol:.0e} * {size:.3g}"
        )
    if problems:
        raise WorkbenchError(
            f"steady_state: the {solver!r} solver returned an invalid state: "
            + "; ".join(problems)
            + ". Try solver='dense' or check the model."
        )
    rho.setflags(write=False)
    energy, number = generator.currents(rho)
    mu = np.array([D.reservoir.mu for D in generator.dissipators])
    norms = np.array([_row_norm(obs - m * N) for (obs, N), m in zip(generator.observables, mu)])
    particle_norms = np.array([_row_norm(N) for _, N in generator.observables])
    return Solution(
        rho,
        solver,
        residual,
        kernel_dim,
        energy,
        number,
        size,
        norms,
        particle_norms,
        _mechanical_power(generator, rho),
    )


def _mechanical_power(generator, rho) -> float:
    """Tr[W rho] with W = i[H_ref, H]: what sum_a Tr[H_ref D_a(rho)] equals at an exact steady state.

    0 = Tr[H_ref L(rho)] = -i Tr[H_ref [H, rho]] + sum_a J^E_a, so sum_a J^E_a = i Tr[[H_ref, H] rho]
    (0 without a drive or boundary work).  Computed from the coherences directly, it carries no
    cancellation between the reservoirs' large in- and out-fluxes.
    """
    if generator.davies is not None and not generator.driven:
        return 0.0
    H = sp.csr_array(generator.hamiltonian)
    R = sp.csr_array(generator.reference)
    W = sp.coo_array(1j * (R @ H - H @ R))
    return float(np.real(np.sum(W.data * rho[W.col, W.row])))


def _row_norm(op) -> float:
    """Largest absolute row sum of a sparse operator (bounds the spectral norm of a Hermitian one)."""
    op = sp.csr_array(op)
    return float(np.max(abs(op).sum(axis=1), initial=0.0))


def generator_scale(generator) -> float:
    """||L||: the largest Hamiltonian entry plus the largest total decay rate (docs/physics.md, 7).

    The Hamiltonian's diagonal is measured from its midpoint, so that a constant energy shift,
    which L does not see, does not change the scale.  The total decay rate of basis state k is
    Gamma_kk, Gamma = sum_a sum_j L_aj^dag L_aj; for a global generator it is read from the
    eigenbasis tables, Gamma_kk = sum_m R[m, k] |X[m, k]|^2 per channel, without building jumps.
    """
    H = sp.coo_array(generator.hamiltonian)
    diagonal = H.row == H.col
    off = float(np.max(np.abs(H.data[~diagonal]), initial=0.0))
    energies = np.real(H.data[diagonal])
    spread = 0.5 * (float(energies.max()) - float(energies.min())) if energies.size else 0.0
    if energies.size and energies.size < generator.dim:  # implicit zeros on the diagonal
        spread = 0.5 * (max(float(energies.max()), 0.0) - min(float(energies.min()), 0.0))
    decay = np.zeros(generator.dim)
    if generator.davies is not None:
        for channels in generator.davies.channels:
            for c in channels:
                _kernels.add_decay_diagonal(c.X, c.R, decay)
    else:
        for D in generator.dissipators:
            if D.jumps:
                decay += np.real(D.decay.diagonal())
    return max(off, spread) + float(decay.max(initial=0.0))


# ----------------------------------------------------------------------------------------------
# populations-only (block-secular) path


def sector_generator(generator) -> np.ndarray:
    """L of a secular generator on its zero-frequency sector (block layout of `Spectrum.block_entries`)."""
    tables = generator.davies
    M = tables.zero_frequency_generator()
    # The coherent part inside the sector: zero for the global flavour (degenerate levels), the true
    # level differences inside each level cluster for the unified flavour.
    h = np.real(sp.csr_array(generator.hamiltonian).diagonal())
    rows, cols = tables.spectrum.block_entries
    M[np.diag_indices_from(M)] += -1j * (h[rows] - h[cols])
    return M


def _pauli(generator, initial, options) -> Solution:
    """The NESS of a secular generator from its zero-frequency sector (`engines.davies`)."""
    tables = generator.davies
    spec = tables.spectrum
    M = sector_generator(generator)
    x0 = None if initial is None else spec.to_sector(initial)
    x, res, k = stationary_vector(M, tables.sector_trace(), x0, options)
    rho = spec.from_sector(x)
    rho = 0.5 * (rho + rho.conj().T)
    eigenvalues = np.concatenate(
        [np.linalg.eigvalsh(rho[a:b, a:b]) for a, b in itertools.pairwise(spec.starts)]
    )
    return _verified(generator, rho, "pauli", res, k, options, eigenvalues)


# ----------------------------------------------------------------------------------------------
# sparse path on the invariant sector holding the populations


@dataclass(frozen=True)
class _Sectors:
    """Block structure of a generator: basis-state blocks and the ket/bra block pairs holding the NESS."""

    label: np.ndarray  # block of each basis state
    blocks: tuple  # index arrays of the blocks
    pairs: tuple  # (c, c') block pairs of the population sector


def _sectors(generator) -> _Sectors:
    """Basis states grouped into blocks connected by H or by any L^dag L; the pairs reachable from (c, c).

    A jump L maps block pairs (c, c') to (a, b) where L connects c -> a and c' -> b, so the ket/bra
    block pairs connected to a diagonal pair span an invariant subspace of L and of its adjoint
    (for magnetisation-conserving chains with single-spin jumps: M_ket - M_bra = 0).
    """
    d = generator.dim
    pattern = abs(sp.csr_array(generator.hamiltonian)) > 0
    for D in generator.dissipators:
        pattern = pattern + (abs(sp.csr_array(D.decay)) > 0)
        if D.shift is not None:
            pattern = pattern + (abs(sp.csr_array(D.shift)) > 0)
    nb, label = linalg.connected_components(pattern, directed=False)
    blocks = tuple(np.flatnonzero(label == c) for c in range(nb))
    onehot = sp.csr_array((np.ones(d), (np.arange(d), label)), shape=(d, nb))
    pair = sp.identity(nb * nb, format="csr")
    for D in generator.dissipators:
        for L in D.jumps:
            B = (onehot.T @ (abs(sp.csr_array(L)) > 0).astype(float) @ onehot) > 0
            pair = pair + sp.kron(B, B)  # pair index c + nb * c'  <->  kron(bra map, ket map)
    _, comp = linalg.connected_components(pair, directed=False)
    keep = np.isin(comp, comp[np.arange(nb) * (nb + 1)])
    pairs = tuple((int(p % nb), int(p // nb)) for p in np.flatnonzero(keep))
    return _Sectors(label, blocks, pairs)


def population_sector(generator) -> np.ndarray:
    """Indices (into vec, column stacking) of the invariant sector that holds every population.

    For a secular generator it is the zero-frequency sector of its eigenbasis (populations and the
    coherences inside degenerate blocks), which Davies dissipators map to itself (covariance), known
    from the spectrum; otherwise it is found from the block structure of H and the jumps (`_sectors`).
    """
    if generator.secular:
        rows, cols = generator.davies.spectrum.block_entries
        return np.sort(rows + generator.dim * cols)
    sec = _sectors(generator)
    d = generator.dim
    return np.sort(
        np.concatenate(
            [(sec.blocks[c][:, None] + d * sec.blocks[c2][None, :]).ravel() for c, c2 in sec.pairs]
        )
    )


def _sparse(generator, initial, options) -> Solution:
    """Sparse LU (SuperLU, minimum-degree ordering on A^T + A) of the generator on the population sector."""
    d = generator.dim
    idx = population_sector(generator)
    A = generator.superoperator()[idx][:, idx].tocsc()
    diag_pos = np.flatnonzero(idx % (d + 1) == 0)
    trace = np.zeros(idx.size, dtype=complex)
    trace[diag_pos] = 1.0
    row = int(diag_pos[0])
    B = _replace_row(A, row, trace).tocsc()
    b = np.zeros(idx.size, dtype=complex)
    b[row] = 1.0
    x, solver = None, "sparse"
    import scipy.sparse.linalg as spla  # imported when a sparse solve runs (not on `qhe run`'s path)

    try:
        lu = spla.splu(B, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.01, options={"SymmetricMode": True})
        x = lu.solve(b)
    except RuntimeError:  # exactly singular: not unique
        pass
    if x is None or not np.all(np.isfinite(x)):
        if idx.size > linalg.SECTOR_DENSE_MAX:
            raise WorkbenchError(
                "steady_state: the sparse solve found a singular generator (the steady state is "
                "probably not unique); pass `initial=` on a smaller model or check the couplings."
            )
        x0 = None if initial is None else vec(initial)[idx]
        x, _, _k = stationary_vector(A.toarray(), trace, x0, options)
        solver = "dense (sector)"
    rho_vec = np.zeros(d * d, dtype=complex)
    rho_vec[idx] = x
    res = float(np.linalg.norm(A @ x))
    return _verified(generator, unvec(rho_vec, d), solver, res, 1, options)


def _replace_row(B, row: int, values: np.ndarray) -> sp.csr_array:
    B = B.tolil()
    B.rows[row] = list(np.flatnonzero(values))
    B.data[row] = list(values[np.flatnonzero(values)])
    return B.tocsr()


# ----------------------------------------------------------------------------------------------
# iterative path: GMRES preconditioned by the no-jump evolution


class JumpChain:
    """L = S + J of a generator, split for iterative solves, block by block in Schur coordinates.

    S(rho) = -i(K rho - rho K^dag), K = H - (i/2) sum_j L_j^dag L_j (no-jump evolution) and
    J(rho) = sum_j L_j rho L_j^dag.  The NESS solves rho = T(rho), T = -S^{-1} J (T is similar to the
    CPTP jump-chain map -J S^{-1}); S^{-1} is a Sylvester solve that costs a triangular solve per
    block pair once each block of K is in Schur form K_c = Q_c R_c Q_c^dag
    (`engines.linalg.triangular_sylvester`, recursive, in level-3 BLAS).  Vectors `x` hold the
    block pairs of the population sector in Schur coordinates (`to_schur`, `from_schur`).
    `damped` is False when S is singular (an undamped eigenstate of K): then none of this applies.
    """

    def __init__(self, generator):
        self.d = generator.dim
        sec = self.sectors = _sectors(generator)
        H = sp.csr_array(generator.hamiltonian)
        jumps = [sp.csr_array(L) for D in generator.dissipators for L in D.jumps]
        signs = [s for D in generator.dissipators for s in D.signs]
        decay = sum(
            (sp.csr_array(D.decay) for D in generator.dissipators), sp.csr_array(H.shape, dtype=complex)
        )
        for D in generator.dissipators:
            if D.shift is not None:  # Redfield: its Hermitian part joins the no-jump evolution
                H = H + sp.csr_array(D.shift)
        K = (H - 0.5j * decay).tocsr()
        self.schur = [la.schur(K[idx][:, idx].toarray(), output="complex") for idx in sec.blocks]
        damping = np.array([-np.max(np.imag(np.diag(R))) for R, _ in self.schur])
        self.damped = bool(np.all(damping > 1e-12 * max(1.0, abs(H).max())))
        pair_index = {p: i for i, p in enumerate(sec.pairs)}
        self.shapes = [(sec.blocks[c].size, sec.blocks[c2].size) for c, c2 in sec.pairs]
        self.offsets = np.concatenate(([0], np.cumsum([a * b for a, b in self.shapes])))
        self.n = int(self.offsets[-1])
        self.diagonal = [pair_index[c, c] for c in range(len(sec.blocks))]
        # Jump operators between blocks, in Schur coordinates: Lt[a, c] = Q_a^dag L[a, c] Q_c.
        self.moves = []  # (target pair, source pair, sign * Lt_ket, Lt_bra)
        for L, sign in zip(jumps, signs):
            pieces = {}
            for c, idx in enumerate(sec.blocks):
                col = L[:, idx]
                for a in np.unique(sec.label[col.nonzero()[0]]):
                    pieces[a, c] = self.schur[a][1].conj().T @ col[sec.blocks[a]].toarray() @ self.schur[c][1]
            for (a, c), Lk in pieces.items():
                for (b, c2), Lb in pieces.items():
                    if (c, c2) in pair_index:
                        self.moves.append((pair_index[a, b], pair_index[c, c2], sign * Lk, Lb))

    def _blocks(self, x) -> list:
        return [x[self.offsets[i] : self.offsets[i + 1]].reshape(s) for i, s in enumerate(self.shapes)]

    def solve_S(self, Y: list) -> np.ndarray:
        """S^{-1} of the block pairs Y (Schur coordinates), as a vector."""
        out = np.zeros(self.n, dtype=complex)
        for i, (c, c2) in enumerate(self.sectors.pairs):
            # S(X) = Y  <=>  R_c X - X R_c2^dag = i Y   (Schur coordinates)
            X = linalg.triangular_sylvester(self.schur[c][0], self.schur[c2][0], 1j * Y[i])
            out[self.offsets[i] : self.offsets[i + 1]] = X.ravel()
        return out

    def T(self, x) -> np.ndarray:
        """T(x) = -S^{-1} J(x)."""
        blocks = self._blocks(x)
        Y = [np.zeros(s, dtype=complex) for s in self.shapes]
        for tgt, src, Lk, Lb in self.moves:
            Y[tgt] += Lk @ blocks[src] @ Lb.conj().T
        return -self.solve_S(Y)

    def trace(self, x):
        blocks = self._blocks(x)
        return sum(np.trace(blocks[i]) for i in self.diagonal)

    def to_schur(self, rho) -> np.ndarray:
        """The population sector of the (d, d) matrix `rho` (generator basis) in Schur coordinates."""
        sec, out = self.sectors, np.zeros(self.n, dtype=complex)
        for i, (c, c2) in enumerate(sec.pairs):
            block = rho[np.ix_(sec.blocks[c], sec.blocks[c2])]
            out[self.offsets[i] : self.offsets[i + 1]] = (
                self.schur[c][1].conj().T @ block @ self.schur[c2][1]
            ).ravel()
        return out

    def from_schur(self, x) -> np.ndarray:
        """The (d, d) matrix (generator basis, zero outside the population sector) of `x`."""
        sec, rho = self.sectors, np.zeros((self.d, self.d), dtype=complex)
        for (c, c2), block in zip(sec.pairs, self._blocks(x)):
            rho[np.ix_(sec.blocks[c], sec.blocks[c2])] = self.schur[c][1] @ block @ self.schur[c2][1].conj().T
        return rho

    def gmres(self, v, b, x0, what: str):
        """The x with (I - T) x + v tr(x) = b (non-singular for a unique NESS v, tr v = 1), or None."""
        import scipy.sparse.linalg as spla  # imported when an iterative solve runs

        A = spla.LinearOperator(
            (self.n, self.n), matvec=lambda x: x - self.T(x) + v * self.trace(x), dtype=complex
        )
        with _progress(f"{what} (iterative, {self.n} unknowns): GMRES iterations", total=None) as bar:
            x, info = spla.gmres(
                A,
                b,
                x0=x0,
                rtol=1e-13,
                atol=0.0,
                restart=60,
                maxiter=40,
                callback=lambda r: bar.update_residual(r),
                callback_type="pr_norm",
            )
        return x if info == 0 else None

    def drazin(self, y: np.ndarray, ness: np.ndarray):
        """The x with L x = y and Tr x = 0, for a traceless y and the unique NESS `ness`.

        All three are (d, d) matrices in the generator's basis.

        L x = y <=> (I - T) x = S^{-1} y; with the NESS v, (I - T) x + v tr(x) = S^{-1} y has the
        traceless solution as its only one.  None when GMRES does not converge.
        """
        v = self.to_schur(ness)
        b = self.solve_S(self._blocks(self.to_schur(y)))
        x = self.gmres(v / self.trace(v), b, np.zeros(self.n, dtype=complex), "drazin inverse")
        return None if x is None else self.from_schur(x)


@functools.lru_cache(maxsize=4)
def jump_chain(generator) -> JumpChain:
    """The `JumpChain` of an (immutable) generator, built once for its NESS and its noise."""
    return JumpChain(generator)


def _iterative(generator, initial, options) -> Solution:
    """NESS by GMRES on the jump-chain fixed point (`JumpChain`).

    GMRES solves (I - T) x + v tr(x) = v, non-singular for a unique NESS (v = T(1/d), tr(J v) > 0).
    Falls back to sparse LU when S is singular (an undamped eigenstate of K) or GMRES stalls.
    """
    chain = jump_chain(generator)
    if not chain.damped:
        return _sparse(generator, initial, options)
    sec, d = chain.sectors, generator.dim

    def solve(start):
        """NESS from the start vector `start` (diagonal blocks), or None."""
        v = chain.T(start)
        v /= chain.trace(v)
        x = chain.gmres(v, v, v, "steady_state")
        if x is None:
            return None
        rho = chain.from_schur(x)
        return rho / np.trace(rho)

    # Two starts: with a unique NESS both give it; otherwise (I - T) has a larger kernel and the
    # answers differ, and the sparse/dense path decides with the spectral projector.
    starts = [np.zeros(chain.n, dtype=complex) for _ in range(2)]
    weights = np.random.default_rng(0).uniform(0.5, 1.5, d)
    for i in chain.diagonal:
        c = sec.pairs[i][0]
        Q = chain.schur[c][1]
        lo, hi = chain.offsets[i], chain.offsets[i + 1]
        starts[0][lo:hi] = (np.eye(chain.shapes[i][0]) / d).ravel()
        starts[1][lo:hi] = (Q.conj().T @ np.diag(weights[sec.blocks[c]]) @ Q).ravel()
    rho = solve(starts[0])
    other = solve(starts[1]) if rho is not None else None
    if other is None or np.max(np.abs(rho - other)) > options.state_tol:
        return _sparse(generator, initial, options)
    residual = float(np.linalg.norm(generator.apply(rho)))
    if not residual <= options.residual_tol * generator_scale(generator):
        return _sparse(generator, initial, options)
    return _verified(generator, rho, "iterative", residual, 1, options)
