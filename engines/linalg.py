"""The workbench's numerics, written once.

Vectorisation, superoperators, embeddings, stationary solves, propagators, sector-wise
eigendecompositions and entropies.

Vectorisation stacks columns: element (i, j) of a d x d matrix sits at index i + d j, and

    vec(A rho B) = (B^T kron A) vec(rho),

so -i[H, rho] -> -i (I kron H - H^T kron I) and D[L] rho -> conj(L) kron L - (I kron L^dag L +
(L^dag L)^T kron I) / 2.  Everything two packages share (the exp(L t) propagator, the stationary
solve, the embedder, the entropy of a state) lives here; `engines`, `cycles` and `analysis` import it
from here and nowhere else.  The size thresholds that switch between dense and sparse numerics are
the named constants below.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from typing import NamedTuple

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from engines._kernels import solve_with_trace
from engines.checks import WorkbenchError
from engines.options import DEFAULT_OPTIONS


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def blas_threads(threads: int):
    """Context manager: BLAS limited to `threads` (the library's policy, `Options.blas_threads`).

    The loaded BLAS libraries are found once (a `threadpoolctl.ThreadpoolController`), so entering
    costs microseconds, not the millisecond of a fresh `threadpool_limits` scan.
    """
    return _blas_controller().limit(limits=threads, user_api="blas")


__all__ = [
    "BATCH_MAX_DIM",
    "DENSE_TRANSFORM_DIM",
    "SECTOR_DENSE_MAX",
    "SPARSE_HAMILTONIAN_DIM",
    "Propagator",
    "Spectral",
    "blas_threads",
    "commutator",
    "dissipator",
    "eigh_sectors",
    "embed",
    "entropy_of_spectrum",
    "expm1_complex",
    "from_eigenbasis",
    "kernel_projector",
    "liouvillian",
    "solve_with_trace",
    "stationary_vector",
    "to_dense",
    "to_eigenbasis",
    "trace_vector",
    "triangular_sylvester",
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


def connected_components(pattern, directed=False):
    """`scipy.sparse.csgraph.connected_components`, imported on first use (it costs `qhe run` 40 ms)."""
    from scipy.sparse.csgraph import connected_components as components

    return components(pattern, directed=directed)


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


def fixed_point(A: np.ndarray, trace: np.ndarray, options=None):
    """The unique x with A x = 0 and trace . x = 1, as ``(x, 1)``; ``(None, k)`` when dim ker A = k != 1."""
    try:
        x, _, k = stationary_vector(A, trace, None, options)
    except WorkbenchError:
        right, _ = _null_spaces(A, options or DEFAULT_OPTIONS)
        return None, right.shape[1]
    return x, k


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


# ----------------------------------------------------------------------------------------------
# propagators


class Propagator:
    """exp(L t) on a space of vectors, reusing one eigendecomposition of L for every t.

    With ``blocks`` the space splits into sectors that L maps into themselves (for a secular
    generator in the eigenbasis of H: the Bohr-frequency sectors), each diagonalised on its own, so a
    generator on d^2 unknowns costs the sum of its sectors' cubes instead of d^6.  A sector whose
    eigenvectors are ill-conditioned (a defective L) falls back to ``scipy.linalg.expm``.

    ``t = inf`` gives the spectral projector P_0 onto ker L (`kernel_projector`): the limit of
    exp(L t), or its time average when undamped oscillations remain; it need not have rank one.

    Parameters
    ----------
    L : ndarray (m, m) or scipy.sparse matrix
        The generator on the chosen space of vectors.
    options : engines.Options, optional
        ``null_tol`` decides which eigenvalues count as zero: |lam| <= null_tol * max(1, ||L||_inf).
    blocks : None, "auto" or sequence of index arrays, optional
        None: one sector.  "auto": the connected components of L's sparsity graph (exact, since an
        entry of L that is not stored or is exactly zero couples nothing).  A sequence: index arrays
        that partition range(m), each an invariant sector of L (not checked).
    conserved : ndarray (m,), optional
        A functional c with c . L = 0 (the trace vector of a GKSL generator): exp(L t) is made to keep
        it exactly, c . exp(L t) = c for every t (inf included).  Near a slow mode (gap g) computed
        eigenvectors carry errors of order eps/g, which would otherwise break trace preservation by as
        much once t ~ 1/g.

    Notes
    -----
    With L = R diag(lam) R^{-1}, exp(L t) = R diag(exp(lam t)) R^{-1} and the time integral

        int_0^t exp(L s) ds = R diag(phi(lam, t)) R^{-1},   phi = (exp(lam t) - 1) / lam  (t for lam = 0),

    evaluated with expm1 so that no digits cancel for |lam t| << 1.  Eigenvalues that count as zero
    are set to exactly 0 (a kernel mode must not grow or decay as exp(1e-16 t)).  For t = inf the
    integral of the part that decays, int_0^inf (exp(L s) - P_0) ds, is R diag(-1/lam) R^{-1} over the
    non-zero lam (the time average where lam is imaginary), that is -L^#, with
    L^# = (L - P_0)^{-1} + P_0 the group inverse of L (used for a defective sector).  A finite-time
    integral of a defective sector comes from the block exponential exp([[L, 1], [0, 0]] t), whose
    upper-right block is int_0^t exp(L s) ds (C. F. Van Loan, IEEE Trans. Autom. Control 23, 395
    (1978)).
    """

    #: Condition number (1-norm) of a sector's eigenvector matrix above which expm is used instead.
    MAX_CONDITION = 1e8
    #: Relative size (to ||L||_inf) of the departure from Hermiticity preservation, L(X^dag) = L(X)^dag,
    #: below which a sector's eigendecomposition is taken real or from its partner's.
    HERMITICITY_TOL = 1e-12

    def __init__(self, L, options=None, *, blocks=None, conserved=None):
        self.L = L
        self.options = options or DEFAULT_OPTIONS
        self.shape = L.shape
        self._blocks_spec = blocks
        self._conserved = None if conserved is None else np.asarray(conserved, dtype=complex)
        self._dense = None if sp.issparse(L) else np.asarray(L)
        self._csr = sp.csr_array(L) if sp.issparse(L) else None
        self._group_list = None
        self._partners = None
        self._sectors = []
        self._done = None
        self._projector = None
        scale = np.max(np.abs(L).sum(axis=1)) if self.shape[0] else 0.0
        self._scale = max(1.0, float(scale))  # ||L||_inf >= max |lam|

    # ------------------------------------------------------------------------------------------
    # the sectors and their eigendecompositions

    def _groups(self) -> list:
        """The sectors as index arrays (see `blocks`)."""
        if self._group_list is not None:
            return self._group_list
        m = self.shape[0]
        spec = self._blocks_spec
        if spec is None:
            groups = [np.arange(m)]
        elif isinstance(spec, str):
            pattern = sp.csr_array(abs(self._csr) > 0 if self._dense is None else np.abs(self._dense) > 0)
            _, labels = connected_components(pattern, directed=False)
            order = np.argsort(labels, kind="stable")
            groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
        else:
            groups = [np.asarray(g, dtype=np.int64) for g in spec]
        self._group_list = groups
        self._done = np.zeros(len(groups), dtype=bool)
        return groups

    def _block(self, idx) -> np.ndarray:
        """L restricted to the indices `idx` (dense, complex)."""
        if self._dense is not None:
            return self._dense[np.ix_(idx, idx)].astype(complex)
        return self._csr[idx][:, idx].toarray().astype(complex)

    def _partner_map(self):
        """(vec index -> index of its transpose, group of each index), or None unless m = d^2.

        On column-stacked d x d matrices, k = i + d j holds X_ij; X^dag has conj(X_ji) there.
        """
        if self._partners is None:
            m = self.shape[0]
            d = math.isqrt(m)
            if d * d != m or m == 0:
                self._partners = False
            else:
                k = np.arange(m)
                group = np.empty(m, dtype=np.int64)
                for n, g in enumerate(self._groups()):
                    group[g] = n
                self._partners = ((k % d) * d + k // d, group)
        return self._partners or None

    def _hermitian(self, block, partner_block) -> bool:
        """Whether two blocks are each other's images under X -> X^dag, to HERMITICITY_TOL."""
        return np.max(np.abs(block - partner_block.conj()), initial=0.0) <= (
            self.HERMITICITY_TOL * self._scale
        )

    def _decompose(self, needed=None) -> list:
        """The diagonalised sectors covering the groups `needed` (default all), each diagonalised once.

        Sectors of one size are stacked and diagonalised in one batched call; a sector whose
        eigenvectors are ill-conditioned (condition number above MAX_CONDITION) is kept apart, for
        expm.  For a Hermiticity-preserving L (every GKSL or Redfield generator on vec(rho)) a sector
        closed under X -> X^dag is real in a basis of Hermitian matrices (`_hermitian_basis`) and is
        diagonalised there, and a sector whose image under X -> X^dag is another sector hands that
        sector its eigendecomposition conjugated: L(X^dag) = L(X)^dag maps an eigenvector r (lam) to
        r^dag (conj(lam)).
        """
        groups = self._groups()
        todo = np.flatnonzero(~self._done) if needed is None else [n for n in needed if not self._done[n]]
        if len(todo) == 0:
            return self._sectors
        partners = self._partner_map()
        plain, real = {}, {}
        for n in todo:
            if self._done[n]:
                continue
            g = groups[n]
            self._done[n] = True
            if g.size == 1:
                plain.setdefault(1, []).append((g, None, None))
                continue
            block = self._block(g)
            if partners is None:
                plain.setdefault(g.size, []).append((g, block, None))
                continue
            flip, group = partners
            image = flip[g]
            if np.all(group[image] == n):  # closed under X -> X^dag
                U = _hermitian_basis(g, image)
                M = U.conj().T @ (U.T @ block.T).T
                if np.max(np.abs(M.imag), initial=0.0) <= self.HERMITICITY_TOL * self._scale:
                    real.setdefault(g.size, []).append((g, M.real, U))
                else:
                    plain.setdefault(g.size, []).append((g, block, None))
                continue
            m = group[image[0]]
            paired = (
                not self._done[m]
                and groups[m].size == g.size
                and bool(np.all(group[image] == m))
                and self._hermitian(self._block(image), block)
            )
            self._done[m] |= paired
            plain.setdefault(g.size, []).append((g, block, image if paired else None))
        new = []
        for n, members in sorted(plain.items()):
            if n == 1:
                idx = np.array([g[0] for g, _, _ in members], dtype=np.int64)
                diag = self._dense[idx, idx] if self._dense is not None else self._csr.diagonal()[idx]
                new.append(_Sector(idx, np.asarray(diag, dtype=complex)))
                continue
            idx = np.array([g for g, _, _ in members], dtype=np.int64)
            blocks = np.stack([b for _, b, _ in members])
            lam, R = np.linalg.eig(blocks)
            new += self._conditioned(idx, blocks, lam, R, [image for _, _, image in members])
        for _, members in sorted(real.items()):
            idx = np.array([g for g, _, _ in members], dtype=np.int64)
            lam, V = np.linalg.eig(np.stack([M for _, M, _ in members]))
            R = np.stack([U @ v for (_, _, U), v in zip(members, V)]).astype(complex, copy=False)
            blocks = np.stack([self._block(g) for g, _, _ in members])
            new += self._conditioned(idx, blocks, lam.astype(complex), R, [None] * len(members))
        self._finish(new)
        self._sectors += new
        return self._sectors

    def _conditioned(self, idx, blocks, lam, R, images) -> list:
        """`_Sector` records of a stack (and of the partners `images` it hands its decomposition to).

        Well-conditioned eigenvectors stay together; the rest, and their partners, go to expm.
        """
        Rinv = _inverses(R)
        with np.errstate(invalid="ignore"):
            condition = _norm1(R) * _norm1(Rinv)  # the 1-norm condition number (nan: singular)
        good = condition < self.MAX_CONDITION
        out = [_Sector(idx[good], lam[good], R[good], Rinv[good])] if good.any() else []
        paired = np.array([image is not None for image in images])
        if (good & paired).any():
            rows = np.flatnonzero(good & paired)
            image = np.stack([images[b] for b in rows])
            out.append(_Sector(image, lam[rows].conj(), R[rows].conj(), Rinv[rows].conj()))
        for b in np.flatnonzero(~good):
            out.append(_Sector(idx[b], None, block=blocks[b]))
            if images[b] is not None:
                out.append(_Sector(images[b], None, block=self._block(images[b])))
        return out

    def _finish(self, sectors) -> None:
        """Exact zeros for the kernel modes, and the conserved functional kept exactly."""
        for x in sectors:
            if x.lam is None:
                continue
            x.zero = np.abs(x.lam) <= self.options.null_tol * self._scale
            # a kernel mode's eigenvalue is 0 up to round-off: exactly 0, so that exp(L t) -> P_0
            # and no mode grows as exp(1e-16 t)
            x.lam = np.where(x.zero, 0.0, x.lam)
            if self._conserved is not None and x.R is not None:
                for b in np.flatnonzero(x.zero.any(axis=1)):
                    x.R[b], x.Rinv[b] = _keep_conserved(
                        self._conserved[x.idx[b]], x.R[b], x.Rinv[b], x.zero[b]
                    )

    def _support(self, X) -> np.ndarray:
        """Which components of X (a vector or columns) are not zero: (m,) bool."""
        return np.abs(X).reshape(X.shape[0], -1).max(axis=1) > 0

    def _touched(self, support) -> list:
        """The groups that meet `support`."""
        return [n for n, g in enumerate(self._groups()) if support[g].any()]

    @property
    def defective(self) -> bool:
        """Whether some sector has ill-conditioned eigenvectors (then expm is used there)."""
        return any(x.lam is None for x in self._decompose())

    def eigenvalues(self, x=None) -> tuple[np.ndarray, np.ndarray]:
        """(eigenvalues, which count as zero) of the sectors `x` has support on (default: all).

        A defective sector (see `defective`) contributes none.
        """
        if x is None:
            sectors, keep = self._decompose(), lambda idx: True
        else:
            support = self._support(np.asarray(x))
            sectors = self._decompose(self._touched(support))
            keep = lambda idx: support[idx].any()  # noqa: E731
        lam, zero = [np.zeros(0, dtype=complex)], [np.zeros(0, dtype=bool)]
        for s in sectors:
            if s.lam is None:
                continue
            if s.R is None:  # singletons
                rows = np.array([keep(i) for i in s.idx], dtype=bool)
                lam.append(s.lam[rows])
                zero.append(s.zero[rows])
                continue
            for b in range(s.idx.shape[0]):
                if keep(s.idx[b]):
                    lam.append(s.lam[b])
                    zero.append(s.zero[b])
        return np.concatenate(lam), np.concatenate(zero)

    def _map(self, x, X, t, kind):
        """exp(L t) X (kind "exp") or int_0^t exp(L s) ds X (kind "integral") on one `_Sector`."""
        if x.lam is not None:
            f = _spectral_factor(x.lam, x.zero, t, kind)
            if x.R is None:  # singletons: L is diagonal there
                return f[:, None] * X
            return x.R @ (f[..., None] * (x.Rinv @ X))
        block = x.block
        if kind == "exp":
            return (kernel_projector(block, self.options) if math.isinf(t) else la.expm(block * t)) @ X
        n = block.shape[0]
        if math.isinf(t):
            P0 = kernel_projector(block, self.options)
            return -(la.solve(block - P0, X) + P0 @ X)
        big = np.zeros((2 * n, 2 * n), dtype=complex)
        big[:n, :n], big[:n, n:] = block * t, np.eye(n) * t
        return la.expm(big)[:n, n:] @ X

    def _apply(self, X, t, kind):
        X = np.asarray(X)
        vector = X.ndim == 1
        X2 = X.reshape(X.shape[0], -1).astype(complex, copy=False)
        out = np.zeros_like(X2)
        for x in self._decompose(self._touched(self._support(X2))):
            out[x.idx] = self._map(x, X2[x.idx], float(t), kind)
        return out[:, 0] if vector else out

    # ------------------------------------------------------------------------------------------
    # the maps

    def trajectory(self, x, times, kind: str = "exp") -> np.ndarray:
        """exp(L t_p) x (kind "exp") or int_0^t_p exp(L s) ds x ("integral") for every t_p: (P, m).

        One product with each sector's eigenvectors for all times at once (R^{-1} x once, then
        R [f(lam, t_p) * R^{-1} x] as one matrix product), instead of two matrix-vector products
        per time.
        """
        x = np.asarray(x, dtype=complex)
        t = np.atleast_1d(np.asarray(times, dtype=float))
        out = np.zeros((t.size, x.size), dtype=complex)
        for s in self._decompose(self._touched(self._support(x))):
            xs = x[s.idx]
            if s.lam is None:
                out[:, s.idx] = [self._map(s, xs[:, None], tp, kind)[:, 0] for tp in t]
                continue
            f = np.stack([_spectral_factor(s.lam, s.zero, tp, kind) for tp in t])  # (P, k[, n])
            if s.R is None:
                out[:, s.idx] = f * xs
                continue
            c = np.matmul(s.Rinv, xs[..., None])[..., 0]  # (k, n)
            out[:, s.idx] = np.matmul(s.R, np.moveaxis(f * c, 0, -1)).transpose(2, 0, 1)
        return out

    def evolve(self, X, t: float) -> np.ndarray:
        """exp(L t) X for a vector (m,) or the columns of X (m, k); t = inf gives P_0 X."""
        return self._apply(X, t, "exp")

    def integrate(self, X, t: float) -> np.ndarray:
        """int_0^t exp(L s) ds X; for t = inf the decaying part int_0^inf (exp(L s) - P_0) ds X."""
        return self._apply(X, t, "integral")

    def projector(self) -> np.ndarray:
        """lim_{t -> inf} exp(L t) (its time average where the limit does not exist), dense (m, m)."""
        if self._projector is None:
            self._projector = self.evolve(np.eye(self.shape[0], dtype=complex), math.inf)
        return self._projector

    def spectral(self):
        """`Spectral` form exp(L t) = modes diag(exp(lam t)) dual, dense (None if a sector is defective)."""
        sectors = self._decompose()
        if any(x.lam is None for x in sectors):
            return None
        m = self.shape[0]
        lam = np.zeros(m, dtype=complex)
        zero = np.zeros(m, dtype=bool)
        modes = np.zeros((m, m), dtype=complex)
        dual = np.zeros((m, m), dtype=complex)
        col = 0
        for x in sectors:
            if x.R is None:
                cols = np.arange(col, col + x.idx.size)
                lam[cols], zero[cols] = x.lam, x.zero
                modes[x.idx, cols] = 1.0
                dual[cols, x.idx] = 1.0
                col += x.idx.size
                continue
            for b in range(x.idx.shape[0]):
                idx = x.idx[b]
                cols = np.arange(col, col + idx.size)
                lam[cols], zero[cols] = x.lam[b], x.zero[b]
                modes[np.ix_(idx, cols)] = x.R[b]
                dual[np.ix_(cols, idx)] = x.Rinv[b]
                col += idx.size
        return Spectral(lam, modes, dual, self.projector(), zero)

    def batch(self, t) -> np.ndarray:
        """exp(L t_p) for every t_p (inf: `projector`): shape (P, m, m)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        eye = np.eye(self.shape[0], dtype=complex)
        return np.stack([self.evolve(eye, tp) for tp in t])

    def integral(self, t) -> np.ndarray:
        """int_0^{t_p} exp(L s) ds for every t_p (inf: the decaying part, see `integrate`): (P, m, m)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        eye = np.eye(self.shape[0], dtype=complex)
        return np.stack([self.integrate(eye, tp) for tp in t])

    def apply(self, v: np.ndarray):
        """T -> exp(L t) v as a function (one decomposition, any number of times)."""
        v = np.asarray(v)
        return lambda t: self.evolve(v, t)


def _hermitian_basis(g, image):
    """Unitary U (sparse) from real coefficients to the Hermitian matrices on the vec indices `g`.

    `image[p]` is the index of the transpose of the entry `g[p]` (`g` is closed under it).  A pair
    p != q (entries ij and ji) gets (e_p + e_q)/sqrt 2 and i(e_p - e_q)/sqrt 2 at positions p < q; a
    diagonal entry keeps e_p.  Then U^dag L U is real for a Hermiticity-preserving L.
    """
    n = g.size
    position = np.empty(int(g.max()) + 1, dtype=np.int64)
    position[g] = np.arange(n)
    q = position[image]
    p = np.arange(n)
    single = p == q
    first = p < q
    s = 1.0 / math.sqrt(2.0)
    rows = np.concatenate([p[single], p[first], q[first], p[first], q[first]])
    cols = np.concatenate([p[single], p[first], p[first], q[first], q[first]])
    vals = np.concatenate(
        [
            np.ones(single.sum()),
            np.full(2 * first.sum(), s),
            np.full(first.sum(), 1j * s),
            np.full(first.sum(), -1j * s),
        ]
    )
    return sp.csr_array((vals.astype(complex), (rows, cols)), shape=(n, n))


def _norm1(A) -> np.ndarray:
    """The 1-norm (largest column sum) of each matrix of a stack (k, n, n)."""
    return np.max(np.sum(np.abs(A), axis=-2), axis=-1)


def _inverses(R) -> np.ndarray:
    """Inverses of a stack (k, n, n); a singular matrix gets NaNs (an infinite condition number)."""
    try:
        return np.linalg.inv(R)
    except np.linalg.LinAlgError:
        out = np.full_like(R, np.nan)
        for b in range(R.shape[0]):
            try:
                out[b] = np.linalg.inv(R[b])
            except np.linalg.LinAlgError:
                pass
        return out


class _Sector:
    """Sectors of one size of a `Propagator`: indices (k, n) (n = 1: (k,)), eigenvalues and vectors.

    lam is None for a defective sector (one per record, `block` its matrix, used with expm).
    """

    __slots__ = ("R", "Rinv", "block", "idx", "lam", "zero")

    def __init__(self, idx, lam, R=None, Rinv=None, block=None):
        self.idx, self.lam, self.R, self.Rinv, self.block = idx, lam, R, Rinv, block
        self.zero = None


class Spectral(NamedTuple):
    """exp(L t) = modes diag(exp(lam t)) dual; `projector` is P_0, `zero` marks the modes of ker L."""

    lam: np.ndarray
    modes: np.ndarray
    dual: np.ndarray
    projector: np.ndarray
    zero: np.ndarray


def _keep_conserved(c, R, Rinv, zero):
    """(R', R'^{-1}) with c . r_j = 0 made exact for every mode j outside ker L.

    For c . L = 0, c . L r_j = lam_j c . r_j vanishes, so every mode with lam_j != 0 is orthogonal to c;
    computed eigenvectors miss this by their error (eps / gap near a slow mode).  Subtracting
    u (c . r_j), with u = R_0 a^dag / (a a^dag) in ker L (a = c . R_0, so c . u = 1), restores it; then
    c . exp(L t) = c for every t, and c . P_0 = c.  Nothing changes when c vanishes on the sector.
    """
    R0 = R[:, zero]
    a = c @ R0
    norm = np.real(np.vdot(a, a))
    if norm <= 1e-30 * max(1.0, np.real(np.vdot(c, c))):
        return R, Rinv
    u = R0 @ a.conj() / norm
    R = R.copy()
    moving = ~zero
    R[:, moving] -= np.outer(u, c @ R[:, moving])
    return R, la.inv(R)


def expm1_complex(z):
    """exp(z) - 1 without cancellation for small |z|, elementwise (the formula the cycle kernel uses).

    exp(x + iy) - 1 = expm1(x) cos(y) - 2 sin^2(y/2) + i exp(x) sin(y).
    """
    x, y = np.real(z), np.imag(z)
    return np.expm1(x) * np.cos(y) - 2.0 * np.sin(0.5 * y) ** 2 + 1j * np.exp(x) * np.sin(y)


def _spectral_factor(lam, zero, t, kind):
    """exp(lam t) or phi(lam, t) = int_0^t exp(lam s) ds per eigenvalue (t = inf: limits, see Propagator)."""
    if kind == "exp":
        if math.isinf(t):
            return zero.astype(complex)
        return np.exp(lam * t)
    if math.isinf(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(zero, 0.0, -1.0 / np.where(zero, 1.0, lam))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(zero, t, expm1_complex(lam * t) / np.where(zero, 1.0, lam))


# ----------------------------------------------------------------------------------------------
# eigendecompositions by sectors, and basis changes


#: Below this size a triangular Sylvester block goes to LAPACK's (unblocked) ztrsyl (a 924 x 924 block,
#: one thread: 0.59 s with 32, 0.80 s with 96, 5.8 s for ztrsyl alone).
SYLVESTER_BLOCK = 32


def triangular_sylvester(R1: np.ndarray, R2: np.ndarray, C: np.ndarray) -> np.ndarray:
    """X with R1 X - X R2^dag = C, for upper triangular R1 (m, m) and R2 (n, n) (complex Schur forms).

    LAPACK's ``trsyl`` does the same with level-2 operations, which is slow for blocks of hundreds of
    rows; this splits the larger of the two triangles in halves and solves the two smaller problems,
    the coupling between them by one matrix product, down to ``SYLVESTER_BLOCK`` where ``trsyl`` is
    called, so nearly all the work runs in level-3 BLAS (recursive blocking: I. Jonsson and
    B. Kagstrom, ACM Trans. Math. Softw. 28, 392 (2002)).  Split on R1 = [[A11, A12], [0, A22]]:
    A22 X2 - X2 R2^dag = C2, then A11 X1 - X1 R2^dag = C1 - A12 X2.  Split on R2 = [[B11, B12],
    [0, B22]] (R2^dag lower triangular): R1 X2 - X2 B22^dag = C2, then R1 X1 - X1 B11^dag =
    C1 + X2 B12^dag.  Unique when no eigenvalue of R1 equals one of R2^dag.
    """
    m, n = C.shape
    if max(m, n) <= SYLVESTER_BLOCK:
        trsyl = la.get_lapack_funcs("trsyl", (R1, R2, C))
        X, scale, info = trsyl(R1, R2, C, trana="N", tranb="C", isgn=-1)
        if info < 0:
            raise ValueError(f"trsyl: argument {-info} is invalid")
        return X / scale if scale != 1.0 else X
    X = np.empty((m, n), dtype=np.result_type(R1, R2, C))
    if m >= n:
        k = m // 2
        X[k:] = triangular_sylvester(R1[k:, k:], R2, C[k:])
        X[:k] = triangular_sylvester(R1[:k, :k], R2, C[:k] - R1[:k, k:] @ X[k:])
    else:
        k = n // 2
        X[:, k:] = triangular_sylvester(R1, R2[k:, k:], C[:, k:])
        X[:, :k] = triangular_sylvester(R1, R2[:k, :k], C[:, :k] + X[:, k:] @ R2[:k, k:].conj().T)
    return X


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
    with blas_threads(DEFAULT_OPTIONS.blas_threads):
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


def trace_log(X: np.ndarray, p: np.ndarray, V: np.ndarray, tol: float) -> tuple[float, float]:
    """Tr[X ln A] for A = V diag(p) V^dag (p >= 0), split into its finite part and the weight of X on ker A.

    Returns ``(finite, kernel)`` with finite = sum_{p_k > 0} ln p_k <k|X|k> and kernel = Tr[P_0 X]
    (zeroed when |kernel| <= `tol`).  Tr[X ln A] is `finite` if kernel = 0 and -inf * sign(kernel)
    otherwise (ln 0 = -inf): the matrix logarithm taken on the support of A.
    """
    diag = np.real(np.sum(V.conj() * (X @ V), axis=0))  # <k|X|k>, one matrix product
    support = p > 0
    finite = float(np.sum(np.log(p[support]) * diag[support]))
    kernel = float(np.sum(diag[~support]))
    return finite, (kernel if abs(kernel) > tol else 0.0)


def log_trace_value(finite: float, kernel: float) -> float:
    """Tr[X ln A] from the ``(finite, kernel)`` pair of `trace_log`."""
    return finite if kernel == 0 else -math.copysign(math.inf, kernel)
