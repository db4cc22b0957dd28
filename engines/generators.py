"""GKSL generators L = -i[H, .] + sum_a D_a built from a medium and its reservoirs.

Two flavours (../shared/PHYSICS.md):

``"global"``
    Davies / secular construction in the eigenbasis of the full Hamiltonian: for a coupling
    operator A, A(w) = sum_{E_l - E_k = w} |k><k|A|l><l|, and D_a = sum_w gamma_a(w) D[A(w)].
    Degenerate levels (within `tol`) are snapped to their mean so that equal Bohr frequencies are
    exactly equal; Bohr frequencies closer than `tol` are grouped.  Consistent with the second
    law by construction (Spohn, J. Math. Phys. 19, 1227 (1978)).
``"local"``
    Each reservoir sees only its site's Hamiltonian h_s (Davies construction on that site),
    embedded in the full space.  Heat is booked against the bare Hamiltonian H_0 = sum_s h_s
    (``bookkeeping="bare"``; the interaction then carries boundary work, De Chiara et al.,
    NJP 20, 113024 (2018)) or against the full H (``"full"``; this exposes the second-law
    violation of Levy & Kosloff, EPL 107, 20004 (2014)).

A `Drive` adds a resonant classical field in its rotating frame; the dissipators stay those of
the bare Hamiltonian and heat is booked against it, so P = sum_a J_a is the power the field
carries away (Scovil & Schulz-DuBois, PRL 2, 262 (1959)).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from engines import superop
from engines._checks import HERMITIAN_TOL, choice, fail, integer, matrix, real
from engines.reservoirs import Reservoir

__all__ = ["FLAVOURS", "Drive", "Generator", "build_generator"]

FLAVOURS = ("global", "local")
BOOKKEEPINGS = ("bare", "full")

#: Relative tolerance for degenerate levels and equal Bohr frequencies.
DEGENERACY_TOL = 1e-9
#: Below this dimension basis changes are plain dense products (sector by sector above it).
DENSE_TRANSFORM_DIM = 256


@dataclass(frozen=True)
class Drive:
    """A classical field resonant (up to `detuning`) with the transition between levels i and j.

    Parameters
    ----------
    levels : (int, int)
        Basis states coupled by the field; the medium's Hamiltonian must be diagonal.
    strength : float
        Rabi coupling epsilon: H_drive = epsilon (|i><j| e^{i w_d t} + h.c.).
    detuning : float
        w_d - (E_j - E_i), with E_j > E_i.

    Notes
    -----
    In the frame rotating with F = H_0 + detuning |j><j| the Hamiltonian is time independent,
    H_rot = -detuning |j><j| + epsilon (|i><j| + |j><i|); the Davies jumps of H_0 are eigen-operators
    of F, so the dissipators are unchanged (weak drive).
    """

    levels: tuple[int, int]
    strength: float
    detuning: float = 0.0

    def __post_init__(self):
        owner = "Drive"
        if not isinstance(self.levels, (tuple, list)) or len(self.levels) != 2:
            fail(owner, "levels", self.levels, "a pair of two different level indices (i, j)")
        i, j = (integer(owner, "levels", x, minimum=0) for x in self.levels)
        if i == j:
            fail(owner, "levels", self.levels, "two different level indices")
        object.__setattr__(self, "levels", (i, j))
        object.__setattr__(self, "strength", real(owner, "strength", self.strength))
        object.__setattr__(self, "detuning", real(owner, "detuning", self.detuning))

    def rotating_hamiltonian(self, H0: np.ndarray) -> np.ndarray:
        """H_rot for the diagonal bare Hamiltonian H0."""
        d = H0.shape[0]
        if max(self.levels) >= d:
            fail("Drive", "levels", self.levels, f"indices below the medium's dimension {d}")
        if np.max(np.abs(H0 - np.diag(np.diag(H0)))) > HERMITIAN_TOL * max(1.0, np.max(np.abs(H0))):
            fail(
                "Drive",
                "medium",
                "a medium with a non-diagonal Hamiltonian",
                "a medium whose Hamiltonian is diagonal in its basis (e.g. Levels)",
            )
        i, j = self.levels
        if H0[i, i].real > H0[j, j].real:
            i, j = j, i
        H = np.zeros((d, d), dtype=complex)
        H[j, j] = -self.detuning
        H[i, j] = H[j, i] = self.strength
        return H


@dataclass(frozen=True, eq=False)
class Dissipator:
    """The dissipator D_a of one reservoir, in its generator's basis.

    Attributes
    ----------
    reservoir : Reservoir
    jumps : tuple of scipy.sparse.csr_matrix (d, d)
        Jump operators sqrt(rate) A(w) (one per Bohr frequency and channel).
    particles : tuple of int
        Change of the medium's particle number in a jump of each operator.
    """

    reservoir: Reservoir
    _build_jumps: object = field(repr=False)  # () -> (jumps, particles), called once when needed

    @cached_property
    def _jump_list(self):
        jumps, particles = self._build_jumps()
        return tuple(jumps), tuple(particles)

    @property
    def jumps(self) -> tuple:
        return self._jump_list[0]

    @property
    def particles(self) -> tuple:
        return self._jump_list[1]

    @cached_property
    def decay(self) -> sp.csr_matrix:
        """sum_j L_j^dag L_j."""
        d = self.jumps[0].shape[0] if self.jumps else 0
        out = sp.csr_matrix((d, d), dtype=complex)
        for L in self.jumps:
            out = out + L.conj().T @ L
        return out

    def apply(self, rho: np.ndarray) -> np.ndarray:
        """D_a(rho)."""
        out = -0.5 * (self.decay @ rho + (self.decay.T @ rho.T).T)
        for L in self.jumps:
            out = out + L @ (L @ rho.conj().T).conj().T
        return np.asarray(out)

    def adjoint_apply(self, X: np.ndarray) -> np.ndarray:
        """D_a^dag(X) = sum_j L^dag X L - {L^dag L, X}/2 (Heisenberg picture)."""
        out = -0.5 * (self.decay @ X + (self.decay.T @ X.T).T)
        for L in self.jumps:
            out = out + L.conj().T @ (L.T @ X.T).T
        return np.asarray(out)

    def particle_observable(self) -> np.ndarray:
        """N_a with Tr[N_a rho] the particle current into the medium."""
        d = self.jumps[0].shape[0] if self.jumps else 0
        out = sp.csr_matrix((d, d), dtype=complex)
        for L, n in zip(self.jumps, self.particles):
            if n:
                out = out + n * (L.conj().T @ L)
        return out.toarray()

    def superoperator(self, dense: bool = False):
        """The dissipator as a sparse (or dense) (d*d, d*d) matrix."""
        return superop.dissipator(self.jumps, dense)


@dataclass(frozen=True, eq=False)
class _Davies:
    """Eigenbasis data of a global (Davies) generator, used by the fast kernels."""

    energies: np.ndarray  # (d,) sorted, degenerate levels snapped to their block mean
    starts: np.ndarray  # (nb + 1,) starts of degenerate blocks
    couplings: tuple  # per reservoir: tuple of (X (d, d) in the eigenbasis, R (d, d) rates k -> m)
    sectors: tuple  # per symmetry sector of H: (rows in the medium basis, columns of the eigenbasis)


@dataclass(frozen=True, eq=False)
class Generator:
    """A GKSL generator with each reservoir's dissipator kept separate.

    All matrices are in the generator's basis: the eigenbasis of the Hamiltonian the dissipators
    were built against (``basis`` = its eigenvectors as columns) for the global flavour, the
    medium's own basis (``basis`` is None) for the local flavour.

    Attributes
    ----------
    hamiltonian : scipy.sparse.csr_matrix (d, d)
        Coherent part (rotating frame when driven).
    reference : scipy.sparse.csr_matrix (d, d)
        The Hamiltonian heat is booked against.
    dissipators : tuple of Dissipator
    flavour, bookkeeping : str
    """

    hamiltonian: object
    reference: object
    dissipators: tuple
    flavour: str
    bookkeeping: str
    basis: np.ndarray | None = None
    davies: _Davies | None = None
    driven: bool = False

    def __post_init__(self):
        object.__setattr__(self, "hamiltonian", sp.csr_matrix(self.hamiltonian, dtype=complex))
        object.__setattr__(self, "reference", sp.csr_matrix(self.reference, dtype=complex))

    @property
    def dim(self) -> int:
        return self.hamiltonian.shape[0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(D.reservoir.name for D in self.dissipators)

    def to_medium_basis(self, rho: np.ndarray) -> np.ndarray:
        """rho from the generator's basis to the medium's basis."""
        if self.basis is None:
            return rho
        return _from_eigen(self.basis, self.davies.sectors, rho)

    def from_medium_basis(self, rho: np.ndarray) -> np.ndarray:
        """rho from the medium's basis to the generator's basis."""
        if self.basis is None:
            return np.asarray(rho, dtype=complex)
        return _to_eigen(self.basis, self.davies.sectors, rho)

    def superoperator(self, dense: bool = False):
        """L as a sparse CSR (or, with ``dense``, a dense) (d*d, d*d) matrix (column stacking)."""
        out = superop.commutator(self.hamiltonian, dense)
        for D in self.dissipators:
            if D.jumps:
                out = out + D.superoperator(dense)
        return out if dense else out.tocsr()

    def medium_superoperator(self) -> np.ndarray:
        """L as a dense (d*d, d*d) array acting on vec(rho) in the medium's basis (small d)."""
        L = self.superoperator(dense=True)
        if self.basis is None:
            return L
        U = np.kron(self.basis.conj(), self.basis)  # vec(V X V^dag) = (conj(V) kron V) vec(X)
        return U @ L @ U.conj().T

    def apply(self, rho: np.ndarray) -> np.ndarray:
        """L(rho) in the generator's basis."""
        H = self.hamiltonian
        out = -1j * (H @ rho - (H.T @ rho.T).T)
        for D in self.dissipators:
            out = out + D.apply(rho)
        return np.asarray(out)

    @cached_property
    def _observables(self):
        """Per dissipator (D_a^dag(H_ref), N_a): Tr[. rho] gives the energy and particle currents."""
        ref = self.reference.toarray()
        return tuple((D.adjoint_apply(ref), D.particle_observable()) for D in self.dissipators)

    def currents(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energy and particle currents into the medium per dissipator, for rho in the generator's basis.

        Energy current J^E_a = Tr[H_ref D_a(rho)] (H_ref = `reference`), particle current
        I_a = Tr[N_a rho] with N_a = sum_j n_j L_j^dag L_j.
        """
        energy = [float(np.real(np.sum(Q.T * rho))) for Q, _ in self._observables]
        number = [float(np.real(np.sum(N.T * rho))) for _, N in self._observables]
        return np.array(energy), np.array(number)


# ----------------------------------------------------------------------------------------------
# construction


def build_generator(
    medium, reservoirs, flavour="global", *, drive=None, bookkeeping=None, controls=None, tol=DEGENERACY_TOL
) -> Generator:
    """Build the GKSL generator of `medium` coupled to `reservoirs`.

    Parameters
    ----------
    medium : engines.media.Medium
    reservoirs : sequence of Reservoir
        Names must be unique.
    flavour : {"global", "local"}
    drive : Drive, optional
        Resonant classical field (rotating frame); needs a diagonal Hamiltonian.
    bookkeeping : {"bare", "full"}, optional
        Hamiltonian heat is booked against; only for the local flavour (default "bare").
    controls : dict, optional
        Control values for the medium's Hamiltonian (defaults otherwise).
    tol : float
        Relative tolerance for degenerate levels and equal Bohr frequencies.

    Returns
    -------
    Generator
    """
    flavour = choice("Engine", "flavour", flavour, FLAVOURS)
    if flavour == "global":
        if bookkeeping not in (None, "full"):
            fail("Engine", "bookkeeping", bookkeeping, "'full' (or unset) for the global flavour")
        bookkeeping = "full"
    else:
        bookkeeping = choice("Engine", "bookkeeping", bookkeeping or "bare", BOOKKEEPINGS)
    reservoirs = _check_reservoirs(reservoirs)
    if drive is not None and not isinstance(drive, Drive):
        fail("Engine", "drive", drive, "a Drive or None")
    controls = dict(controls or {})
    if flavour == "global":
        return _global(medium, reservoirs, drive, controls, tol)
    return _local(medium, reservoirs, drive, bookkeeping, controls, tol)


def _check_reservoirs(reservoirs):
    reservoirs = tuple(reservoirs)
    if not reservoirs:
        fail("Engine", "reservoirs", reservoirs, "at least one reservoir")
    seen = set()
    for r in reservoirs:
        if not isinstance(r, Reservoir):
            fail("Engine", "reservoirs", r, "Reservoir objects (BosonicBath, FermionicLead)")
        if r.name in seen:
            fail("Engine", "reservoirs", r.name, "unique reservoir names")
        seen.add(r.name)
    return reservoirs


def _coupling_operator(medium, reservoir, *, local: bool):
    """The reservoir's coupling operator: (matrix, site) on the site's space if local, else full space."""
    owner = f"{type(reservoir).__name__} {reservoir.name!r}"
    op, site = reservoir.operator, reservoir.site
    n_sites = len(medium.site_dims)
    if site is not None and site >= n_sites:
        fail(owner, "site", site, f"a site index below {n_sites} (the medium's number of sites)")
    if n_sites > 1 and site is None and (local or isinstance(op, str)):
        fail(owner, "site", None, f"a site index 0..{n_sites - 1} (the medium has {n_sites} sites)")
    site = 0 if site is None else site
    if isinstance(op, str):
        X = medium.local_operator(op, site) if local else medium.operator(op, site if n_sites > 1 else None)
        return np.asarray(X, dtype=complex), site
    d_local = medium.site_dims[site]
    if local or (reservoir.site is not None and op.shape == (d_local, d_local) and d_local != medium.dim):
        X = matrix(owner, "operator", op, dim=d_local)
        return (X, site) if local else (medium.embed(X, site), site)
    return matrix(owner, "operator", op, dim=medium.dim), site


def _hermitian_part(X, reservoir):
    """A bosonic coupling must be Hermitian: a non-Hermitian X is taken as X + X^dag."""
    if reservoir.mu == 0.0 and all(c.particles == 0 for c in reservoir.channels()):
        if np.max(np.abs(X - X.conj().T), initial=0.0) > HERMITIAN_TOL * max(1.0, np.max(np.abs(X))):
            return X + X.conj().T
    return X


def _eigh(H, tol: float):
    """Eigen-decomposition of Hermitian H, block by block where H is block diagonal.

    Returns energies (sorted, degenerate levels snapped to their mean), block starts of
    degenerate levels, and eigenvectors (columns).  Working block by block (connected components
    of H's sparsity graph, e.g. magnetisation sectors) makes eigenvectors respect the symmetry.
    """
    d = H.shape[0]
    if d <= DENSE_TRANSFORM_DIM and not sp.issparse(H):
        H = np.asarray(H)
        H = H.real if not np.any(H.imag) else H
        E, V = np.linalg.eigh(H)
        return (*_snap(E, tol), V, ((np.arange(d), np.arange(d)),))
    H = sp.csr_matrix(H)
    if not np.any(H.data.imag):
        H = H.real  # real symmetric: half the memory and a faster eigh
    n_comp, labels = connected_components(abs(H) > 0, directed=False)
    E = np.empty(d)
    V = np.zeros((d, d), dtype=H.dtype)
    column_sector = np.empty(d, dtype=np.int64)
    col = 0
    for c in range(n_comp):
        idx = np.flatnonzero(labels == c)
        e, v = np.linalg.eigh(H[idx][:, idx].toarray())
        E[col : col + idx.size] = e
        V[idx, col : col + idx.size] = v
        column_sector[col : col + idx.size] = c
        col += idx.size
    order = np.argsort(E, kind="stable")
    E, V, column_sector = E[order], V[:, order], column_sector[order]
    sectors = tuple((np.flatnonzero(labels == c), np.flatnonzero(column_sector == c)) for c in range(n_comp))
    return (*_snap(E, tol), V, sectors)


def _snap(E, tol):
    """Block starts of degenerate (sorted) levels, and the levels snapped to their block means."""
    E = np.array(E, dtype=float)
    scale = max(1.0, float(np.max(np.abs(E), initial=0.0)))
    breaks = np.flatnonzero(np.diff(E) > tol * scale) + 1
    starts = np.concatenate(([0], breaks, [E.size])).astype(np.int64)
    for a, b in itertools.pairwise(starts):
        E[a:b] = E[a:b].mean()
    return E, starts


def _to_eigen(V, sectors, X) -> np.ndarray:
    """V^dag X V, sector pair by sector pair (only pairs that X connects)."""
    if len(sectors) == 1 or V.shape[0] <= DENSE_TRANSFORM_DIM:
        X = X.toarray() if sp.issparse(X) else X
        return V.conj().T @ X @ V
    X = sp.csr_matrix(X)
    out = np.zeros(X.shape, dtype=complex)
    for ra, ca in sectors:
        rows = X[ra]
        for rb, cb in sectors:
            block = rows[:, rb]
            if block.nnz:
                out[np.ix_(ca, cb)] = V[np.ix_(ra, ca)].conj().T @ (block @ V[np.ix_(rb, cb)])
    return out


def _from_eigen(V, sectors, rho) -> np.ndarray:
    """V rho V^dag, sector pair by sector pair (only pairs where rho is nonzero)."""
    if len(sectors) == 1 or V.shape[0] <= DENSE_TRANSFORM_DIM:
        return V @ rho @ V.conj().T
    out = np.zeros(rho.shape, dtype=complex)
    for ra, ca in sectors:
        for rb, cb in sectors:
            block = rho[np.ix_(ca, cb)]
            if np.any(block):
                out[np.ix_(ra, rb)] = V[np.ix_(ra, ca)] @ block @ V[np.ix_(rb, cb)].conj().T
    return out


def _bohr_clusters(E: np.ndarray, tol: float):
    """Cluster the Bohr frequencies w[m, k] = E[k] - E[m] (energy released in the jump k -> m).

    Returns cluster ids (d, d) and each cluster's representative frequency (its mean).
    """
    w = (E[None, :] - E[:, None]).ravel()
    order = np.argsort(w, kind="stable")
    scale = max(1.0, float(np.max(np.abs(E), initial=0.0)))
    new = np.concatenate(([True], np.diff(w[order]) > tol * scale))
    ids_sorted = np.cumsum(new) - 1
    ids = np.empty_like(ids_sorted)
    ids[order] = ids_sorted
    reps = np.bincount(ids_sorted, weights=w[order]) / np.bincount(ids_sorted)
    return ids.reshape(E.size, E.size), reps


def _davies_jumps(X: np.ndarray, rates: np.ndarray, ids: np.ndarray, basis=None):
    """Jump operators sqrt(gamma(w)) A(w), one per Bohr-frequency cluster, as sparse matrices.

    X is the coupling operator in the eigenbasis, rates[m, k] the rate of k -> m at the cluster's
    frequency; `basis` (eigenvectors) maps the jumps back to another basis if given.
    """
    d = X.shape[0]
    amp = np.sqrt(rates) * X
    m, k = np.nonzero(np.abs(amp) > 1e-14 * max(1.0, float(np.max(np.abs(amp), initial=0.0))))
    if m.size == 0:
        return []
    c = ids[m, k]
    order = np.argsort(c, kind="stable")
    m, k, c = m[order], k[order], c[order]
    splits = np.flatnonzero(np.diff(c)) + 1
    jumps = []
    for mm, kk in zip(np.split(m, splits), np.split(k, splits)):
        J = sp.csr_matrix((amp[mm, kk], (mm, kk)), shape=(d, d))
        if basis is not None:
            J = sp.csr_matrix(basis @ J.toarray() @ basis.conj().T)
            J.eliminate_zeros()
        jumps.append(J)
    return jumps


def _channel_operators(X, reservoir):
    for ch in reservoir.channels():
        yield (X.conj().T if ch.adjoint else X), ch


def _global(medium, reservoirs, drive, controls, tol) -> Generator:
    sparse_h = getattr(medium, "hamiltonian_sparse", None)
    if sparse_h is not None and medium.dim > 256 and drive is None:
        H = sp.csr_matrix(sparse_h(**controls))
    else:
        H = np.asarray(medium.hamiltonian(**controls), dtype=complex)
    E, starts, V, sectors = _eigh(H, tol)
    ids, reps = _bohr_clusters(E, tol)
    couplings, dissipators = [], []
    for r in reservoirs:
        X_full = _hermitian_part(_coupling_operator(medium, r, local=False)[0], r)
        X = _to_eigen(V, sectors, X_full)
        per_channel = []
        for Xc, ch in _channel_operators(X, r):
            rates = np.asarray(ch.rate(reps), dtype=float)[ids]
            per_channel.append(
                (np.ascontiguousarray(Xc, dtype=complex), np.ascontiguousarray(rates), ch.particles)
            )
        couplings.append(tuple((X, R) for X, R, _ in per_channel))
        dissipators.append(Dissipator(r, _global_jumps(per_channel, ids)))
    energies = sp.diags(E.astype(complex), format="csr")
    if drive is not None:
        # V is a permutation here (H diagonal): the rotating-frame H in the sorted basis.
        coherent = V.conj().T @ drive.rotating_hamiltonian(H) @ V
    else:
        coherent = energies
    davies = _Davies(E, starts, tuple(couplings), sectors)
    return Generator(coherent, energies, tuple(dissipators), "global", "full", V, davies, drive is not None)


def _global_jumps(per_channel, ids):
    """Deferred construction of the Davies jump list (one operator per Bohr frequency)."""

    def build():
        jumps, particles = [], []
        for X, R, n in per_channel:
            new = _davies_jumps(X, R, ids)
            jumps += new
            particles += [n] * len(new)
        return jumps, particles

    return build


def _embed_sparse(op, site, site_dims) -> sp.csr_matrix:
    """kron(I_before, op, I_after) as a sparse matrix."""
    before = int(np.prod(site_dims[:site], dtype=np.int64))
    after = int(np.prod(site_dims[site + 1 :], dtype=np.int64))
    out = sp.kron(sp.identity(before, dtype=complex), sp.csr_matrix(op), format="csr")
    return sp.kron(out, sp.identity(after, dtype=complex), format="csr")


def _local(medium, reservoirs, drive, bookkeeping, controls, tol) -> Generator:
    sparse_h = getattr(medium, "hamiltonian_sparse", None)
    if sparse_h is not None and drive is None:
        H = sp.csr_matrix(sparse_h(**controls), dtype=complex)
        H0 = sum(
            (
                _embed_sparse(medium.local_hamiltonian(s, **controls), s, medium.site_dims)
                for s in range(len(medium.site_dims))
            ),
            sp.csr_matrix(H.shape, dtype=complex),
        )
    else:
        H = np.asarray(medium.hamiltonian(**controls), dtype=complex)
        H0 = np.asarray(medium.bare_hamiltonian(**controls), dtype=complex)
    dissipators = []
    for r in reservoirs:
        x, site = _coupling_operator(medium, r, local=True)
        x = _hermitian_part(x, r)
        h = np.asarray(medium.local_hamiltonian(site, **controls), dtype=complex)
        e, _starts, v, _sectors = _eigh(h, tol)
        ids, reps = _bohr_clusters(e, tol)
        xe = v.conj().T @ x @ v
        jumps, particles = [], []
        for Xc, ch in _channel_operators(xe, r):
            rates = np.asarray(ch.rate(reps), dtype=float)[ids]
            new = [_embed_sparse(J, site, medium.site_dims) for J in _davies_jumps(Xc, rates, ids, v)]
            jumps += new
            particles += [ch.particles] * len(new)
        dissipators.append(Dissipator(r, lambda jumps=jumps, particles=particles: (jumps, particles)))
    coherent = drive.rotating_hamiltonian(H) if drive is not None else H
    reference = H0 if (bookkeeping == "bare" or drive is not None) else H
    return Generator(
        coherent, reference, tuple(dissipators), "local", bookkeeping, None, None, drive is not None
    )
