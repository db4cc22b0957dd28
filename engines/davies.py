"""The Davies (secular) construction, written once.

For H = sum_k E_k |k><k| and a coupling operator A of reservoir a, the jump operators are
A(w) = sum_{E_l - E_k = w} |k><k|A|l><l| (w > 0 removes energy w from the medium) and
D_a(rho) = sum_w gamma_a(w) D[A(w)](rho) over every Bohr frequency w.  Degenerate levels (within a
relative tolerance) are snapped to their mean so that equal Bohr frequencies are exactly equal; Bohr
frequencies closer than the tolerance are grouped.

Everything the global flavour needs comes from here: the spectrum and its Bohr-frequency clusters
(`Spectrum`), each channel's coupling operator and rate table in the eigenbasis (`DaviesTables`),
jump operators (`jumps`), the generator restricted to the zero-frequency sector that holds the
populations and the coherences of degenerate levels (`zero_frequency_generator`; Breuer &
Petruccione, *The Theory of Open Quantum Systems*, OUP 2002, 3.3.2), and the current observables
D_a^dag(H) and the jump-rate operator (`current_observables`).  The global generator, the Pauli
solver, `engines.batch` (through the same kernels) and the entropy module use them.

Reference: E. B. Davies, Commun. Math. Phys. 39, 91 (1974); H. Spohn, J. Math. Phys. 19, 1227 (1978).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from engines import _kernels
from engines.linalg import eigh_sectors

__all__ = [
    "ChannelTable",
    "DaviesTables",
    "Spectrum",
    "coarse_grained",
    "current_observables",
    "jumps",
    "spectrum",
]

#: Jump amplitudes below this fraction of the largest are dropped from jump operators.
AMPLITUDE_CUTOFF = 1e-14


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigen-decomposition of a Hamiltonian with its degenerate blocks and Bohr-frequency clusters.

    Attributes
    ----------
    energies : ndarray (d,)
        Sorted levels, degenerate ones snapped to their block mean.
    starts : ndarray (n_blocks + 1,)
        Starts of the blocks of degenerate levels.
    basis : ndarray (d, d)
        Eigenvectors as columns.
    sectors : tuple of (rows, columns)
        Symmetry sectors of H (see `engines.linalg.eigh_sectors`).
    bohr_ids : ndarray (d, d) of int
        Cluster of the Bohr frequency E_k - E_m of the jump k -> m.
    frequencies : ndarray (n_clusters,)
        Each cluster's frequency (its mean).
    """

    energies: np.ndarray
    starts: np.ndarray
    basis: np.ndarray
    sectors: tuple
    bohr_ids: np.ndarray
    frequencies: np.ndarray

    @property
    def dim(self) -> int:
        """Dimension d of the medium."""
        return self.energies.size

    @property
    def degenerate(self) -> bool:
        """Whether some level is degenerate (then coherences inside its block are populations' partners)."""
        return self.starts.size != self.energies.size + 1

    @cached_property
    def block_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cols) of the zero-frequency sector, block by block, each block column-stacked."""
        rows, cols = [], []
        for a, b in zip(self.starts[:-1], self.starts[1:]):
            n = b - a
            rows.append(a + np.tile(np.arange(n), n))
            cols.append(a + np.repeat(np.arange(n), n))
        return np.concatenate(rows), np.concatenate(cols)

    def to_sector(self, rho: np.ndarray) -> np.ndarray:
        """The zero-frequency sector of rho (eigenbasis) as a vector in the block layout."""
        rows, cols = self.block_entries
        return np.asarray(rho)[rows, cols]

    def from_sector(self, x: np.ndarray) -> np.ndarray:
        """A (d, d) matrix holding the block-layout vector x on the zero-frequency sector."""
        rows, cols = self.block_entries
        out = np.zeros((self.dim, self.dim), dtype=complex)
        out[rows, cols] = x
        return out

    def rate_table(self, rate) -> np.ndarray:
        """R[m, k] = rate(E_k - E_m): the rate of the jump k -> m at its cluster's frequency."""
        return np.ascontiguousarray(np.asarray(rate(self.frequencies), dtype=float)[self.bohr_ids])


def spectrum(H, tol: float) -> Spectrum:
    """The `Spectrum` of Hermitian H (dense or sparse), with relative tolerance `tol`."""
    E, starts, V, sectors = eigh_sectors(H, tol)
    ids, reps = _bohr_clusters(E, tol)
    return Spectrum(E, starts, V, sectors, ids, reps)


def coarse_grained(spec: Spectrum, width: float, tol: float, couplings) -> tuple[Spectrum, np.ndarray]:
    """The spectrum of the coarse-grained Hamiltonian H_TD of the unified flavour, and its level order.

    Levels k and l are grouped when |E_k - E_l| <= `width` and a reservoir feeds their coherence
    (sum_a (|X_a| |X_a|^T)_kl above 1e-10 of its largest entry: some state m jumps to both, so the
    non-secular term A(w) rho A(w')^dag with w - w' = E_k - E_l is kept) and closed transitively; a
    component is then split, in energy order, into groups whose spread is at most `width` only when
    some transition a reservoir drives would otherwise land more than `width` off its Bohr frequency
    (Trushechkin, PRA 103, 062226 (2021): the rates are taken at H_TD's frequencies, and frequencies
    of H_TD that differ are treated as resolved); degenerate levels stay together.  Each group's
    levels are set to its mean, so every Bohr frequency of H_TD is the mean of the Bohr frequencies
    of H it stands for.  The eigenvectors are reordered so that groups are contiguous: `order` maps
    new positions to old ones (apply it to eigenbasis operators as ``X[np.ix_(order, order)]``).
    Bohr frequencies of H_TD are grouped at `tol` as usual.
    """
    from engines.linalg import connected_components

    E = spec.energies
    d = E.size
    scale = max(1.0, float(np.max(np.abs(E), initial=0.0)))
    feed = np.zeros((d, d))
    for X in couplings:
        a = np.abs(np.asarray(X))
        feed += a @ a.T
    close = np.abs(E[:, None] - E[None, :]) <= width
    linked = (close & (feed > 1e-10 * max(1.0, float(feed.max(initial=0.0))))) | (
        np.abs(E[:, None] - E[None, :]) <= tol * scale
    )
    _, labels = connected_components(sp.csr_array(linked), directed=False)
    # A chain of links can span far more than the width, and then a group's mean misplaces the Bohr
    # frequencies of its transitions.  Components are kept whole while every transition a reservoir
    # drives keeps its frequency within the width (the harmonic ladder w +- g: manifolds of spread
    # 2 g N whose transitions are all at w +- g); a component that a transition leaves further off is
    # split, in energy order, into groups whose spread stays within the width.  Splitting only where
    # needed keeps apart no two Bohr frequencies of H_TD that the bath rates cannot resolve.
    driven = np.zeros((d, d), dtype=bool)
    for X in couplings:
        a = np.abs(np.asarray(X))
        driven |= a > 1e-10 * max(1.0, float(a.max(initial=0.0)))
    limit = max(width, tol * scale)
    final = np.zeros(d, dtype=bool)  # the levels of components already split
    while True:
        labels = np.unique(labels, return_inverse=True)[1]
        mean = (np.bincount(labels, weights=E) / np.bincount(labels))[labels]
        m, k = np.nonzero(
            driven & (np.abs((mean[None, :] - mean[:, None]) - (E[None, :] - E[:, None])) > limit)
        )
        ends = np.concatenate([m, k])
        todo = np.unique(labels[ends[~final[ends]]])
        if todo.size == 0:
            break
        fresh = labels.max() + 1
        for c in todo:
            idx = np.flatnonzero(labels == c)
            idx = idx[np.argsort(E[idx], kind="stable")]
            first = E[idx[0]]
            for j in idx:
                if E[j] - first > limit:
                    fresh, first = fresh + 1, E[j]
                labels[j] = fresh
            fresh += 1
            final[idx] = True
    means = np.bincount(labels, weights=E) / np.bincount(labels)
    order = np.lexsort((E, labels, means[labels]))
    levels = means[labels][order]
    breaks = np.flatnonzero(np.diff(levels) > tol * scale) + 1
    starts = np.concatenate(([0], breaks, [d])).astype(np.int64)
    for a, b in itertools.pairwise(starts):
        levels[a:b] = levels[a:b].mean()
    position = np.empty(d, dtype=np.int64)
    position[order] = np.arange(d)
    sectors = tuple((rows, np.sort(position[cols])) for rows, cols in spec.sectors)
    ids, reps = _bohr_clusters(levels, tol)
    return Spectrum(levels, starts, np.ascontiguousarray(spec.basis[:, order]), sectors, ids, reps), order


def _bohr_clusters(E: np.ndarray, tol: float):
    """Cluster ids (d, d) of the Bohr frequencies w[m, k] = E[k] - E[m], and each cluster's mean."""
    w = (E[None, :] - E[:, None]).ravel()
    order = np.argsort(w, kind="stable")
    scale = max(1.0, float(np.max(np.abs(E), initial=0.0)))
    new = np.concatenate(([True], np.diff(w[order]) > tol * scale))
    ids_sorted = np.cumsum(new) - 1
    ids = np.empty_like(ids_sorted)
    ids[order] = ids_sorted
    reps = np.bincount(ids_sorted, weights=w[order]) / np.bincount(ids_sorted)
    return ids.reshape(E.size, E.size), reps


@dataclass(frozen=True, eq=False)
class ChannelTable:
    """One channel of a reservoir in the eigenbasis: coupling X[m, k], rates R[m, k] of k -> m."""

    X: np.ndarray
    R: np.ndarray
    particles: int


@dataclass(frozen=True, eq=False)
class DaviesTables:
    """The eigenbasis data of a global generator: its spectrum and every channel of every reservoir."""

    spectrum: Spectrum
    channels: tuple  # per reservoir: tuple of ChannelTable

    @classmethod
    def build(cls, spec: Spectrum, reservoirs, couplings) -> DaviesTables:
        """Tables for `reservoirs` coupled through `couplings` (operators in the eigenbasis of `spec`)."""
        channels = []
        for r, X in zip(reservoirs, couplings):
            X = np.ascontiguousarray(X, dtype=complex)
            channels.append(
                tuple(
                    ChannelTable(
                        np.ascontiguousarray(X.conj().T) if ch.adjoint else X,
                        spec.rate_table(ch.rate),
                        ch.particles,
                    )
                    for ch in r.channels()
                )
            )
        return cls(spec, tuple(channels))

    def zero_frequency_generator(self, reservoir: int | None = None) -> np.ndarray:
        """The secular generator on the zero-frequency sector (block layout of `Spectrum.block_entries`).

        The secular dissipators map this sector to itself, so the steady state of an undriven global
        machine lives in it: a Pauli rate matrix for a non-degenerate spectrum.  With `reservoir` (an
        index) only that reservoir's dissipator D_a.
        """
        starts = self.spectrum.starts
        n = int(np.sum(np.diff(starts) ** 2))
        M = np.zeros((n, n), dtype=complex)
        chosen = self.channels if reservoir is None else self.channels[reservoir : reservoir + 1]
        for per_reservoir in chosen:
            for c in per_reservoir:
                _kernels.sector_superoperator(starts, c.X, c.R, M)
        return M

    def sector_trace(self) -> np.ndarray:
        """T with Tr rho = t . x for x in the block layout."""
        rows, cols = self.spectrum.block_entries
        return (rows == cols).astype(complex)


def current_observables(spec: Spectrum, channel: ChannelTable) -> tuple[np.ndarray, np.ndarray]:
    """Energy-current and jump-rate observables of one channel, as block-layout vectors of their transposes.

    O_E = D^dag(H) and Gamma = sum_w gamma(w) A(w)^dag A(w) are block diagonal (degenerate blocks), with
    O_E[k, k'] = sum_m R[m, k] conj(X[m, k]) X[m, k'] (E_m - E_k); Tr[O rho] = o . x with o the block
    layout of O^T and x that of rho.  The energy current into the medium is Tr[O_E rho], the rate of
    jumps Tr[Gamma rho] (times the channel's particle number: the particle current).
    """
    n = int(np.sum(np.diff(spec.starts) ** 2))
    energy = np.zeros(n, dtype=complex)
    rate = np.zeros(n, dtype=complex)
    _kernels.davies_observables(spec.energies, spec.starts, channel.X, channel.R, energy, rate)
    return energy, rate


def block_operator(spec: Spectrum, transposed_layout: np.ndarray) -> sp.csr_array:
    """The (sparse, block-diagonal) operator O from the block layout of O^T."""
    rows, cols = spec.block_entries
    d = spec.dim
    return sp.csr_array((transposed_layout, (cols, rows)), shape=(d, d))


def jumps(X: np.ndarray, R: np.ndarray, ids: np.ndarray, basis=None) -> list:
    """Jump operators sqrt(gamma(w)) A(w), one per Bohr-frequency cluster, as sparse matrices.

    X is the coupling operator in the eigenbasis, R[m, k] the rate of k -> m; `basis` (eigenvectors)
    maps the jumps back to another basis if given.  Clusters whose rates all vanish give no jump.
    """
    d = X.shape[0]
    amp = np.sqrt(R) * X
    cutoff = AMPLITUDE_CUTOFF * max(1.0, float(np.max(np.abs(amp), initial=0.0)))
    m, k = np.nonzero(np.abs(amp) > cutoff)
    if m.size == 0:
        return []
    c = ids[m, k]
    order = np.argsort(c, kind="stable")
    m, k, c = m[order], k[order], c[order]
    splits = np.flatnonzero(np.diff(c)) + 1
    out = []
    for mm, kk in zip(np.split(m, splits), np.split(k, splits)):
        J = sp.csr_array((amp[mm, kk], (mm, kk)), shape=(d, d))
        if basis is not None:
            J = sp.csr_array(basis @ J.toarray() @ basis.conj().T)
            J.eliminate_zeros()
        out.append(J)
    return out


def superoperator(spec: Spectrum, channels) -> sp.csr_array:
    """The Davies dissipator of `channels` as a sparse (d^2, d^2) matrix (column stacking), from the tables.

    D(rho) = sum_w [A_w rho A_w^dag - {A_w^dag A_w, rho} / 2] with A_w = sqrt(gamma(w)) X restricted to
    the Bohr cluster w (the operators `jumps` builds), assembled entry by entry without the jumps:
    <m|A_w rho A_w^dag|l> couples rho_kj to rho_ml for (m, k) and (l, j) in the same cluster, and
    sum_w A_w^dag A_w is block diagonal in the degenerate blocks.  Equal to
    ``linalg.dissipator(jumps)`` (the tests compare them) at a cost of sum_w n_w^2 entries, n_w the
    pairs in cluster w, instead of one Kronecker product per jump.
    """
    d = spec.dim
    rows, cols, vals = [], [], []
    G = np.zeros((d, d), dtype=complex)
    ids = spec.bohr_ids
    for c in channels:
        amp = np.sqrt(c.R) * c.X
        cutoff = AMPLITUDE_CUTOFF * max(1.0, float(np.max(np.abs(amp), initial=0.0)))
        amp = np.where(np.abs(amp) > cutoff, amp, 0.0)
        m, k = np.nonzero(amp)
        if m.size == 0:
            continue
        cl = ids[m, k]
        order = np.argsort(cl, kind="stable")
        m, k, cl = m[order], k[order], cl[order]
        a = amp[m, k]
        for sl in np.split(np.arange(m.size), np.flatnonzero(np.diff(cl)) + 1):
            mi, ki, ai = m[sl], k[sl], a[sl]
            # row (m, l) = m + l d, column (k, j) = k + j d, value a_(m,k) conj(a_(l,j))
            rows.append((mi[:, None] + d * mi[None, :]).ravel())
            cols.append((ki[:, None] + d * ki[None, :]).ravel())
            vals.append((ai[:, None] * ai.conj()[None, :]).ravel())
        for lo, hi in zip(spec.starts[:-1], spec.starts[1:]):
            block = amp[:, lo:hi]
            G[lo:hi, lo:hi] += block.conj().T @ block
    n = d * d
    jump = (
        sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        if vals
        else sp.csr_array((n, n), dtype=complex)
    )
    eye = sp.identity(d, dtype=complex, format="csr")
    Gs = sp.csr_array(G)
    decay = sp.kron(eye, Gs, format="csr") + sp.kron(Gs.T, eye, format="csr")
    return sp.csr_array(jump - 0.5 * decay)
