"""The workbench's numerics, written once: vectorisation, superoperators, embeddings, stationary solves,
propagators, sector-wise eigendecompositions and entropies.

Vectorisation stacks columns: element (i, j) of a d x d matrix sits at index i + d j, and

    vec(A rho B) = (B^T kron A) vec(rho),

so -i[H, rho] -> -i (I kron H - H^T kron I) and D[L] rho -> conj(L) kron L - (I kron L^dag L +
(L^dag L)^T kron I) / 2.  Everything two packages share (the exp(L t) propagator, the stationary
solve, the embedder, the entropy of a state) lives here; `engines`, `cycles` and `analysis` import it
from here and nowhere else.  The size thresholds that switch between dense and sparse numerics are
the named constants below.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from engines._kernels import solve_with_trace
from engines.checks import WorkbenchError
from engines.options import DEFAULT_OPTIONS

__all__ = [
    "BATCH_MAX_DIM",
    "DENSE_TRANSFORM_DIM",
    "SECTOR_DENSE_MAX",
    "SPARSE_HAMILTONIAN_DIM",
    "Propagator",
    "commutator",
    "dissipator",
    "eigh_sectors",
    "embed",
    "entropy_of_spectrum",
    "from_eigenbasis",
    "kernel_projector",
    "liouvillian",
    "solve_with_trace",
    "stationary_vector",
    "stationary_vectors",
    "to_dense",
    "to_eigenbasis",
    "trace_vector",
    "unvec",
    "vec",
    "von_neumann",
]

#: Up to this dimension basis changes and eigendecompositions are plain dense products; above it they
#: run sector by sector (blocks of H's sparsity graph).
DENSE_TRANSFORM_DIM = 256
#: Above this dimension the global generator takes the medium's sparse Hamiltonian when it has one.
SPARSE_HAMILTONIAN_DIM = 256
#: Largest invariant sector the sparse path may hand to a dense solve (when SuperLU finds it singular).
SECTOR_DENSE_MAX = 4096
#: Eigendecompositions of Hamiltonian blocks of at least this size use the BLAS library's default
#: threads; smaller ones run with `Options.blas_threads` (steady-state solves always do).
PARALLEL_BLAS_MIN_UNKNOWNS = 2048
#: Largest medium the batched kernel accepts (driven machines solve d^2 x d^2 systems per point).
BATCH_MAX_DIM = 16


# ----------------------------------------------------------------------------------------------
# vectorisation and superoperators


def vec(rho: np.ndarray) -> np.ndarray:
    """Column-stack a (d, d) matrix into a (d*d,) vector."""
    return np.asarray(rho).reshape(-1, order="F")


def unvec(v: np.ndarray, d: int | None = None) -> np.ndarray:
    """Inverse of `vec`: a (d*d,) vector back into a (d, d) matrix."""
    v = np.asarray(v)
    d = round(math.sqrt(v.size)) if d is None else d
    return v.reshape((d, d), order="F")


def trace_vector(d: int) -> np.ndarray:
    """vec(identity): Tr rho = trace_vector(d) . vec(rho)."""
    return vec(np.eye(d)).astype(complex)


def _kron(a, b, dense):
    if dense:
        return np.kron(to_dense(a), to_dense(b))
    return sp.kron(a, b, format="csr")


def commutator(H, dense: bool = False):
    """Superoperator of rho -> -i [H, rho] (sparse CSR, or a dense array with ``dense=True``)."""
    H = to_dense(H) if dense else sp.csr_array(H)
    d = H.shape[0]
    eye = np.eye(d) if dense else sp.eye_array(d, dtype=complex, format="csr")
    return (-1j) * (_kron(eye, H, dense) - _kron(H.T, eye, dense))


def dissipator(jumps, d: int, dense: bool = False):
    """Superoperator of rho -> sum_j (L_j rho L_j^dag - {L_j^dag L_j, rho}/2) on a d-dimensional space.

    An empty list of jumps gives the zero superoperator (a reservoir whose rates all vanish).
    """
    n = d * d
    out = np.zeros((n, n), dtype=complex) if dense else sp.csr_array((n, n), dtype=complex)
    if not jumps:
        return out
    jumps = [to_dense(L) if dense else sp.csr_array(L) for L in jumps]
    eye = np.eye(d) if dense else sp.eye_array(d, dtype=complex, format="csr")
    decay = np.zeros((d, d), dtype=complex) if dense else sp.csr_array((d, d), dtype=complex)
    for L in jumps:
        out = out + _kron(L.conj(), L, dense)
        decay = decay + L.conj().T @ L
    out = out - 0.5 * (_kron(eye, decay, dense) + _kron(decay.T, eye, dense))
    return out if dense else sp.csr_array(out)


def liouvillian(H, jumps=(), dense: bool = False):
    """Superoperator of the GKSL generator L rho = -i[H, rho] + sum_j D[L_j] rho."""
    out = commutator(H, dense) + dissipator(list(jumps), H.shape[0], dense)
    return out if dense else sp.csr_array(out)


def to_dense(m) -> np.ndarray:
    """Dense complex128 array of a sparse or dense matrix (a fresh C-contiguous copy).

    A sparse matrix is scattered into zeros rather than converted with ``toarray()``, which writes
    every entry (0.5 s at dimension 4096) while a scatter touches only the pages holding non-zeros.
    """
    if sp.issparse(m):
        coo = sp.coo_array(m)
        coo.sum_duplicates()
        out = np.zeros(coo.shape, dtype=np.complex128)
        out[coo.row, coo.col] = coo.data
        return out
    return np.array(m, dtype=np.complex128, order="C", copy=True)


def embed(op, site_dims, site: int, span: int = 1) -> sp.csr_array:
    """``kron(I_before, op, I_after)``: an operator on sites ``site .. site+span-1`` in the full space.

    Parameters
    ----------
    op : array_like or sparse, shape (d_op, d_op)
        With d_op the product of the spanned sites' dimensions.
    site_dims : sequence of int
        Local dimensions in tensor-product order (site 0 is the leftmost Kronecker factor).
    site, span : int
        First site the operator acts on, and how many consecutive sites it spans.

    Returns
    -------
    scipy.sparse.csr_array, shape (prod(site_dims), prod(site_dims)), complex128
    """
    dims = tuple(int(x) for x in site_dims)
    before = math.prod(dims[:site])
    after = math.prod(dims[site + span :])
    out = sp.csr_array(op, dtype=np.complex128)
    if before > 1:
        out = sp.kron(sp.eye_array(before, dtype=np.complex128), out, format="csr")
    if after > 1:
        out = sp.kron(out, sp.eye_array(after, dtype=np.complex128), format="csr")
    return sp.csr_array(out)


# ----------------------------------------------------------------------------------------------
# stationary solves


def stationary_vector(A: np.ndarray, trace: np.ndarray, x0: np.ndarray | None = None, options=None):
    """Solve A x = 0 with trace . x = 1; returns (x, residual ||A x||, kernel dimension).

    One row of A (a population row, linearly dependent on the others because trace . A = 0) is
    replaced by the trace constraint.  An ill-conditioned system (reciprocal condition number below
    ``options.rcond_suspect``) triggers an SVD of A to count the zero modes; with several, `x0`
    selects the stationary vector reached from it, ``P x0`` with P the spectral projector onto ker A
    (`kernel_projector`); without `x0` a `WorkbenchError` says the solution is not unique.
    """
    opts = options or DEFAULT_OPTIONS
    n = A.shape[0]
    if not np.any(A.imag):
        A, trace = A.real, trace.real  # rate matrices: a real LU is four times cheaper
    row = int(np.flatnonzero(trace)[0])
    B = A.copy()
    B[row, :] = trace
    b = np.zeros(n, dtype=A.dtype)
    b[row] = 1.0
    with warnings.catch_warnings():
        # A singular B is expected when the solution is not unique; gecon below detects it.
        warnings.simplefilter("ignore", la.LinAlgWarning)
        lu = la.lu_factor(B, check_finite=False)
    gecon = la.get_lapack_funcs("gecon", (lu[0],))
    rcond, _ = gecon(lu[0], np.linalg.norm(B, 1), norm="1")
    kernel_dim = 1
    if not rcond >= opts.rcond_suspect:
        kernel_dim, x = _kernel_by_svd(A, trace, x0, opts)
    else:
        x = la.lu_solve(lu, b, check_finite=False)
    return x, float(np.linalg.norm(A @ x)), kernel_dim


def _null_spaces(A, options):
    """Orthonormal bases of ker A and ker A^dag (columns) from one SVD."""
    U, s, Vh = la.svd(A)
    null = s <= options.null_tol * max(s[0], 1e-300)
    return Vh[null].conj().T, U[:, null]


def kernel_projector(A: np.ndarray, options=None) -> np.ndarray:
    """Spectral projector onto ker A along the range of A.

    P = R (Lt^dag R)^{-1} Lt^dag with R and Lt bases of the right and left null spaces.  For a GKSL
    generator L this is lim_{t -> inf} exp(L t) where the limit exists, and its time average
    (1/t) int_0^t exp(L s) ds otherwise (undamped oscillating modes average out).
    """
    right, left = _null_spaces(A, options or DEFAULT_OPTIONS)
    if right.shape[1] == 0:
        return np.zeros_like(A)
    return right @ la.solve(left.conj().T @ right, left.conj().T)


def _kernel_by_svd(A, trace, x0, options):
    right, left = _null_spaces(A, options)
    k = right.shape[1]
    if k <= 1:
        x = right[:, -1] if k else la.svd(A)[2][-1].conj()
        return 1, x / (trace @ x)
    if x0 is None:
        raise WorkbenchError(
            f"steady_state: the steady state is not unique (the generator has {k} zero modes: "
            "conserved quantities or disconnected sectors); pass `initial=` a density matrix (or "
            "`--initial` on the command line) to select the one reached from it."
        )
    P = right @ la.solve(left.conj().T @ right, left.conj().T)
    x = P @ x0
    return k, x / (trace @ x)


def stationary_vectors(A: np.ndarray, trace: np.ndarray) -> np.ndarray | None:
    """Solve A_p x_p = 0 with trace . x_p = 1 for a stack (P, m, m); None if any A_p is singular."""
    row = int(np.flatnonzero(trace)[0])
    B = A.copy()
    B[:, row, :] = trace
    b = np.zeros(A.shape[1], dtype=A.dtype)
    b[row] = 1.0
    try:
        return np.linalg.solve(B, np.broadcast_to(b, A.shape[:2])[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None


# ----------------------------------------------------------------------------------------------
# propagators


class Propagator:
    """exp(L t) on a space of vectors, reusing one eigendecomposition of L for every t.

    Falls back to ``scipy.linalg.expm`` when the eigenvectors are ill-conditioned (a defective L).
    ``t = inf`` gives the spectral projector onto ker L (`kernel_projector`): the limit of exp(L t),
    or its time average when undamped oscillations remain; it need not have rank one.

    Parameters
    ----------
    L : ndarray (m, m)
        The generator on the chosen space of vec(rho).
    options : engines.Options, optional
    """

    #: Condition number of the eigenvector matrix above which expm is used instead.
    MAX_CONDITION = 1e8

    def __init__(self, L: np.ndarray, options=None):
        self.L = L
        self.options = options or DEFAULT_OPTIONS
        self._eig = None
        self._projector = None

    def _decomposition(self):
        if self._eig is None:
            lam, P = la.eig(self.L)
            cond = np.linalg.cond(P)
            self._eig = (lam, P, la.inv(P)) if cond < self.MAX_CONDITION else False
        return self._eig

    def projector(self) -> np.ndarray:
        """lim_{t -> inf} exp(L t) (its time average where the limit does not exist)."""
        if self._projector is None:
            eig = self._decomposition()
            if eig is False:
                self._projector = kernel_projector(self.L, self.options)
            else:
                lam, P, Pinv = eig
                scale = max(1.0, float(np.max(np.abs(lam), initial=0.0)))
                zero = np.abs(lam) <= self.options.null_tol * scale
                self._projector = P[:, zero] @ Pinv[zero]
        return self._projector

    def spectral(self):
        """(lam, modes, dual, projector) with exp(L t) = modes diag(exp(lam t)) dual; None if defective."""
        eig = self._decomposition()
        if eig is False:
            return None
        lam, P, Pinv = eig
        return lam, P, Pinv, self.projector()

    def batch(self, t) -> np.ndarray:
        """exp(L t_p) for every t_p (inf: `projector`): shape (P, m, m)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.empty((t.size, *self.L.shape), dtype=complex)
        infinite = np.isinf(t)
        if infinite.any():
            out[infinite] = self.projector()
        finite = np.flatnonzero(~infinite)
        if finite.size:
            eig = self._decomposition()
            if eig is False:
                for p in finite:
                    out[p] = la.expm(self.L * t[p])
            else:
                lam, P, Pinv = eig
                out[finite] = np.einsum("ij,pj,jk->pik", P, np.exp(lam[None, :] * t[finite, None]), Pinv)
        return out

    def apply(self, v: np.ndarray):
        """t -> exp(L t) v as a function (one decomposition, any number of times)."""
        eig = self._decomposition()
        if eig is False:
            return lambda t: (self.projector() @ v) if math.isinf(t) else la.expm(self.L * t) @ v
        lam, P, Pinv = eig
        c = Pinv @ v
        return lambda t: (self.projector() @ v) if math.isinf(t) else P @ (np.exp(lam * t) * c)


# ----------------------------------------------------------------------------------------------
# eigendecompositions by sectors, and basis changes


def eigh_sectors(H, tol: float):
    """Eigendecomposition of Hermitian H, block by block where H is block diagonal.

    Returns
    -------
    energies : ndarray (d,)
        Sorted; levels closer than ``tol * max(1, max|E|)`` snapped to their block mean.
    starts : ndarray (n_blocks + 1,) of int64
        Starts of the blocks of degenerate levels.
    V : ndarray (d, d)
        Eigenvectors (columns), real when H is real.
    sectors : tuple of (rows, columns)
        Per connected component of H's sparsity graph (e.g. a magnetisation sector), the basis
        states it holds and the eigenvector columns that belong to it; working block by block
        keeps the eigenvectors inside the symmetry sectors.
    """
    # Thread policy: below PARALLEL_BLAS_MIN_UNKNOWNS multi-threaded BLAS only adds synchronisation,
    # and stalls when another process holds a core (a 256 x 256 eigh: 10 ms alone, 2 s under load).
    largest = H.shape[0] if not sp.issparse(H) or H.shape[0] <= DENSE_TRANSFORM_DIM else None
    if largest is None:
        largest = int(np.bincount(connected_components(abs(sp.csr_array(H)) > 0, directed=False)[1]).max())
    if largest >= PARALLEL_BLAS_MIN_UNKNOWNS:
        return _eigh_sectors(H, tol)
    with threadpool_limits(limits=DEFAULT_OPTIONS.blas_threads, user_api="blas"):
        return _eigh_sectors(H, tol)


def _eigh_sectors(H, tol: float):
    d = H.shape[0]
    if d <= DENSE_TRANSFORM_DIM and not sp.issparse(H):
        H = np.asarray(H)
        H = H.real if not np.any(H.imag) else H
        E, V = np.linalg.eigh(H)
        return (*snap_degenerate(E, tol), V, ((np.arange(d), np.arange(d)),))
    H = sp.csr_array(H)
    if not np.any(H.data.imag):
        H = H.real  # real symmetric: half the memory and a faster eigh
    n_comp, labels = connected_components(abs(H) > 0, directed=False)
    E = np.empty(d)
    V = np.zeros((d, d), dtype=H.dtype)
    column_sector = np.empty(d, dtype=np.int64)
    col = 0
    sizes = np.bincount(labels, minlength=n_comp)
    with _Progress(
        f"eigendecomposition of H ({d} levels, {n_comp} sectors)", total=int(np.sum(sizes**3))
    ) as bar:
        for c in range(n_comp):
            idx = np.flatnonzero(labels == c)
            e, v = np.linalg.eigh(H[idx][:, idx].toarray())
            E[col : col + idx.size] = e
            V[idx, col : col + idx.size] = v
            column_sector[col : col + idx.size] = c
            col += idx.size
            bar.update(int(idx.size) ** 3)  # eigh costs ~ size^3
    order = np.argsort(E, kind="stable")
    E, V, column_sector = E[order], V[:, order], column_sector[order]
    sectors = tuple((np.flatnonzero(labels == c), np.flatnonzero(column_sector == c)) for c in range(n_comp))
    return (*snap_degenerate(E, tol), V, sectors)


class _Progress:
    """A progress line on stderr for long solves, shown only when stderr is a terminal.

    A context manager around `tqdm` that stays silent when stderr is not a terminal (tests, pipes,
    logs) and appears only after `delay` seconds, so that quick solves never print.  `update(k)`
    advances by k units; `update_residual(r)` advances by one iteration and shows the residual.
    """

    #: Seconds before a bar appears.
    DELAY = 1.0

    def __init__(self, description: str, total: int | None):
        self.description = description
        self.total = total
        self._bar = None

    def __enter__(self):
        import sys

        if sys.stderr is not None and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total, desc=self.description, file=sys.stderr, delay=self.DELAY, leave=False
            )
        return self

    def update(self, k: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(k)

    def update_residual(self, residual: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"residual {residual:.1e}", refresh=False)
            self._bar.update(1)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False


def snap_degenerate(E, tol: float):
    """(energies snapped to their block means, block starts) for sorted levels E."""
    E = np.array(E, dtype=float)
    scale = max(1.0, float(np.max(np.abs(E), initial=0.0)))
    breaks = np.flatnonzero(np.diff(E) > tol * scale) + 1
    starts = np.concatenate(([0], breaks, [E.size])).astype(np.int64)
    for a, b in itertools.pairwise(starts):
        E[a:b] = E[a:b].mean()
    return E, starts


def to_eigenbasis(V, sectors, X) -> np.ndarray:
    """V^dag X V, sector pair by sector pair (only the pairs X connects)."""
    if len(sectors) == 1 or V.shape[0] <= DENSE_TRANSFORM_DIM:
        X = X.toarray() if sp.issparse(X) else X
        return V.conj().T @ X @ V
    X = sp.csr_array(X)
    out = np.zeros(X.shape, dtype=complex)
    for ra, ca in sectors:
        rows = X[ra]
        for rb, cb in sectors:
            block = rows[:, rb]
            if block.nnz:
                out[np.ix_(ca, cb)] = V[np.ix_(ra, ca)].conj().T @ (block @ V[np.ix_(rb, cb)])
    return out


def from_eigenbasis(V, sectors, rho) -> np.ndarray:
    """V rho V^dag, sector pair by sector pair (only the pairs where rho is nonzero)."""
    if len(sectors) == 1 or V.shape[0] <= DENSE_TRANSFORM_DIM:
        return V @ rho @ V.conj().T
    out = np.zeros(rho.shape, dtype=complex)
    for ra, ca in sectors:
        for rb, cb in sectors:
            block = rho[np.ix_(ca, cb)]
            if np.any(block):
                out[np.ix_(ra, rb)] = V[np.ix_(ra, ca)] @ block @ V[np.ix_(rb, cb)].conj().T
    return out


# ----------------------------------------------------------------------------------------------
# entropy


def entropy_of_spectrum(p: np.ndarray) -> float:
    """-sum_k p_k ln p_k over the positive p_k (0 ln 0 = 0)."""
    q = p[p > 0]
    return float(-np.sum(q * np.log(q)))


def von_neumann(rho, support_tol: float = 1e-15) -> float:
    """S(rho) = -Tr[rho ln rho] of a (trusted) density matrix; eigenvalues <= `support_tol` count as 0."""
    p = np.linalg.eigvalsh(0.5 * (rho + np.conj(rho).T))
    return entropy_of_spectrum(np.where(p <= support_tol, 0.0, p))
