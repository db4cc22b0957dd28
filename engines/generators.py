"""GKSL generators L = -i[H, .] + sum_a D_a built from a medium and its reservoirs.

Two flavours (docs/physics.md, "Flavours of the dissipator"):

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

``"unified"``
    Partial-secular GKLS (Trushechkin, PRA 103, 062226 (2021); Potts, Kalaee, Wacker, NJP 23,
    123013 (2021)): levels closer than a width (``Options.unified_width`` times the largest Davies
    decay rate) whose coherence a reservoir feeds are grouped into a coarse-grained Hamiltonian H_TD
    (`engines.davies.coarse_grained`), and the dissipators are the
    Davies dissipators of H_TD (one jump per Bohr frequency of H_TD, rate at that frequency, the mean
    of the Bohr frequencies of H it groups) while the coherent part stays H.  Heat is booked against
    H_TD; the Gibbs state of H_TD is a fixed point of each dissipator and of L.
``"redfield"``
    Bloch-Redfield (`engines.redfield`): not GKLS; its steady state may not be positive.

A `Drive` adds a resonant classical field in its rotating frame; the dissipators stay those of
the bare Hamiltonian and heat is booked against it, so P = sum_a J_a is the power the field
carries away (Scovil & Schulz-DuBois, PRL 2, 262 (1959)).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np
import scipy.sparse as sp

from engines import _kernels, davies, linalg
from engines.checks import HERMITIAN_TOL, choice, fail, integer, known_names, matrix, real
from engines.options import Options
from engines.reservoirs import Reservoir
from engines.values import frozen_delattr, frozen_setattr

__all__ = [
    "BOOKKEEPINGS",
    "ENGINE_FLAVOURS",
    "FLAVOURS",
    "Dissipator",
    "Drive",
    "Generator",
    "build_generator",
    "check_reservoirs",
    "coupling_operator",
]

#: Flavours of the dissipators of strokes and cycles (GKLS, built from jump operators).
FLAVOURS = ("global", "local")
#: Flavours of a continuous machine (`engines.Engine`).
ENGINE_FLAVOURS = ("global", "local", "unified", "redfield")
BOOKKEEPINGS = ("bare", "full")


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

    def replace(self, **changes) -> Drive:
        """A copy with `changes` (``levels``, ``strength``, ``detuning``) applied and checked anew."""
        known_names("Drive.replace", "field", changes, [f.name for f in dataclasses.fields(self)])
        return dataclasses.replace(self, **changes)

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


# The dataclass's own refusal ("cannot assign to field 'strength'") names neither the class nor the
# way out; a frozen dataclass may not define __setattr__ in its body, so it is replaced afterwards.
Drive.__setattr__ = frozen_setattr
Drive.__delattr__ = frozen_delattr


@dataclass(frozen=True, eq=False)
class Dissipator:
    """The dissipator D_a of one reservoir, in its generator's basis.

    Attributes
    ----------
    reservoir : Reservoir
    dim : int
        Dimension d of the medium.
    jumps : tuple of scipy.sparse.csr_array (d, d)
        Jump operators sqrt(rate) A(w) (one per Bohr frequency and channel); empty when every rate
        vanishes (the reservoir then contributes nothing).
    particles : tuple of int
        Change of the medium's particle number in a jump of each operator.
    """

    reservoir: Reservoir
    dim: int
    _build_jumps: Callable = field(repr=False)  # () -> (jumps, particles), called once when needed
    #: () -> (energy observable, particle observable) when the construction knows them without jumps
    _build_observables: Callable | None = field(default=None, repr=False)
    #: () -> sparse superoperator when the construction knows it without jumps (Davies tables)
    _build_superoperator: Callable | None = field(default=None, repr=False)

    @cached_property
    def _superoperator(self) -> sp.csr_array:
        return sp.csr_array(self._build_superoperator())

    @cached_property
    def _jump_list(self):
        jumps, particles = self._build_jumps()
        return tuple(jumps), tuple(particles)

    @property
    def jumps(self) -> tuple:
        """Jump operators sqrt(rate) A(w) of this dissipator (built on first use)."""
        return self._jump_list[0]

    @property
    def particles(self) -> tuple:
        """Particle-number change of a jump of each operator in `jumps`."""
        return self._jump_list[1]

    @property
    def signs(self) -> tuple:
        """Weight of each jump's D[L] term: +1 for a GKLS dissipator (Redfield has -1 terms too)."""
        return (1.0,) * len(self.jumps)

    #: Hermitian part of the dissipator acting as -i[shift, rho] (None for a GKLS dissipator).
    shift = None

    @cached_property
    def decay(self) -> sp.csr_array:
        """sum_j L_j^dag L_j."""
        out = sp.csr_array((self.dim, self.dim), dtype=complex)
        for L in self.jumps:
            out = out + L.conj().T @ L
        return sp.csr_array(out)

    def apply(self, rho: np.ndarray) -> np.ndarray:
        """D_a(rho)."""
        if self._build_superoperator is not None:
            d = self.dim
            v = np.asarray(rho, dtype=complex).reshape(-1, order="F")
            return (self._superoperator @ v).reshape(d, d, order="F")
        out = -0.5 * (self.decay @ rho + (self.decay.T @ rho.T).T)
        for L in self.jumps:
            out = out + L @ (L @ rho.conj().T).conj().T
        return np.asarray(out)

    def adjoint_apply(self, X) -> sp.csr_array:
        """D_a^dag(X) = sum_j L^dag X L - {L^dag L, X}/2 (Heisenberg picture), X sparse or dense."""
        X = sp.csr_array(X)
        out = -0.5 * (self.decay @ X + X @ self.decay)
        for L in self.jumps:
            out = out + L.conj().T @ X @ L
        return sp.csr_array(out)

    def observables(self, reference) -> tuple:
        """(O_E, N): Tr[O_E rho] is the energy current Tr[H_ref D_a(rho)], Tr[N rho] the particle current.

        N = sum_j n_j L_j^dag L_j counts the particles each jump brings into the medium.
        """
        if self._build_observables is not None:
            return self._build_observables()
        number = sp.csr_array((self.dim, self.dim), dtype=complex)
        for L, n in zip(self.jumps, self.particles):
            if n:
                number = number + n * (L.conj().T @ L)
        return self.adjoint_apply(reference), sp.csr_array(number)

    def superoperator(self, dense: bool = False):
        """The dissipator as a sparse (or dense) (d*d, d*d) matrix."""
        if self._build_superoperator is not None:
            return self._superoperator.toarray() if dense else self._superoperator
        return linalg.dissipator(list(self.jumps), self.dim, dense)


@dataclass(frozen=True, eq=False)
class Generator:
    """A GKSL generator with each reservoir's dissipator kept separate.

    All matrices are in the generator's basis: the eigenbasis of the Hamiltonian the dissipators
    were built against (``basis`` = its eigenvectors as columns) for the global flavour, the
    medium's own basis (``basis`` is None) for the local flavour.

    Attributes
    ----------
    hamiltonian : scipy.sparse.csr_array (d, d)
        Coherent part (rotating frame when driven).
    reference : scipy.sparse.csr_array (d, d)
        The Hamiltonian heat is booked against.
    dissipators : tuple of Dissipator
    flavour, bookkeeping : str
    basis : ndarray (d, d) or None
    davies : engines.davies.DaviesTables or None
        The eigenbasis tables of a global generator.
    driven : bool
    """

    hamiltonian: object
    reference: object
    dissipators: tuple
    flavour: str
    bookkeeping: str
    basis: np.ndarray | None = None
    davies: davies.DaviesTables | None = None
    driven: bool = False

    def __post_init__(self):
        # An engine caches its generator, so nothing in it may change in place: its arrays are made
        # read-only (no copies: `build_generator` hands over freshly built ones).
        for name in ("hamiltonian", "reference"):
            m = sp.csr_array(getattr(self, name), dtype=complex)
            for a in (m.data, m.indices, m.indptr):
                a.setflags(write=False)
            object.__setattr__(self, name, m)
        if self.basis is not None:
            self.basis.setflags(write=False)

    @property
    def dim(self) -> int:
        """Dimension d of the medium."""
        return self.hamiltonian.shape[0]

    @property
    def names(self) -> tuple[str, ...]:
        """Reservoir names, in dissipator order."""
        return tuple(D.reservoir.name for D in self.dissipators)

    @property
    def secular(self) -> bool:
        """An undriven global generator: its steady state lives in the zero-frequency sector."""
        return self.davies is not None and not self.driven

    def to_medium_basis(self, rho: np.ndarray) -> np.ndarray:
        """Rho from the generator's basis to the medium's basis."""
        if self.basis is None:
            return rho
        return linalg.from_eigenbasis(self.basis, self.davies.spectrum.sectors, rho)

    def from_medium_basis(self, rho: np.ndarray) -> np.ndarray:
        """Rho from the medium's basis to the generator's basis."""
        if self.basis is None:
            return np.asarray(rho, dtype=complex)
        return linalg.to_eigenbasis(self.basis, self.davies.spectrum.sectors, rho)

    def superoperator(self, dense: bool = False):
        """L as a sparse CSR (or, with ``dense``, a dense) (d*d, d*d) matrix (column stacking)."""
        out = linalg.commutator(self.hamiltonian, dense)
        for D in self.dissipators:
            if D._build_superoperator is not None or D.jumps:
                out = out + D.superoperator(dense)
        return out if dense else sp.csr_array(out)

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
    def observables(self) -> tuple:
        """Per dissipator (O_E, N), sparse: Tr[O rho] gives its energy and particle currents."""
        return tuple(D.observables(self.reference) for D in self.dissipators)

    def currents(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energy and particle currents into the medium per dissipator, for rho in the generator's basis.

        J^E_a = Tr[H_ref D_a(rho)] = Tr[D_a^dag(H_ref) rho] (H_ref = `reference`) and I_a = Tr[N_a rho]:
        the one place currents are computed, for every flavour and solver.
        """
        rho = np.asarray(rho)
        energy = [_trace_product(obs, rho) for obs, _ in self.observables]
        number = [_trace_product(N, rho) for _, N in self.observables]
        return np.array(energy), np.array(number)


def _trace_product(obs, rho) -> float:
    """Re Tr[obs rho] for a sparse observable and a dense rho, touching only the observable's non-zeros."""
    coo = sp.coo_array(obs)
    return float(np.real(np.sum(coo.data * rho[coo.col, coo.row])))


# ----------------------------------------------------------------------------------------------
# construction


def build_generator(
    medium, reservoirs, flavour="global", *, drive=None, bookkeeping=None, controls=None, options=None
) -> Generator:
    """Build the GKSL generator of `medium` coupled to `reservoirs`.

    Parameters
    ----------
    medium : engines.media.Medium
    reservoirs : sequence of Reservoir
        Names must be unique.
    flavour : {"global", "local", "unified", "redfield"}
    drive : Drive, optional
        Resonant classical field (rotating frame); needs a diagonal Hamiltonian (not with
        "unified").
    bookkeeping : {"bare", "full"}, optional
        Hamiltonian heat is booked against; only for the local flavour (default "bare").
    controls : dict, optional
        Control values for the medium's Hamiltonian (defaults otherwise).
    options : engines.Options or mapping, optional
        Tolerances (``degeneracy_tol`` groups degenerate levels and equal Bohr frequencies).

    Returns
    -------
    Generator
    """
    options = Options.coerce(options)
    flavour = choice("Engine", "flavour", flavour, ENGINE_FLAVOURS)
    if flavour != "local":
        if bookkeeping not in (None, "full"):
            fail("Engine", "bookkeeping", bookkeeping, f"'full' (or unset) for the {flavour} flavour")
        bookkeeping = "full"
    else:
        bookkeeping = choice("Engine", "bookkeeping", bookkeeping or "bare", BOOKKEEPINGS)
    reservoirs = check_reservoirs(reservoirs)
    if drive is not None and not isinstance(drive, Drive):
        fail("Engine", "drive", drive, "a Drive or None")
    controls = dict(controls or {})
    tol = options.degeneracy_tol
    if not all(r.thermal for r in reservoirs):
        return _engineered(medium, reservoirs, flavour, drive, bookkeeping, controls, tol)
    if flavour == "global":
        return _global(medium, reservoirs, drive, controls, tol)
    if flavour == "unified":
        if drive is not None:
            fail("Engine", "drive", drive, "None for the unified flavour (use 'global' or 'redfield')")
        return _global(medium, reservoirs, None, controls, tol, unified_width=options.unified_width)
    if flavour == "redfield":
        from engines import redfield

        return redfield.build(medium, reservoirs, drive, controls, tol)
    return _local(medium, reservoirs, drive, bookkeeping, controls, tol)


def check_reservoirs(reservoirs) -> tuple:
    """`reservoirs` as a tuple, checked: at least one, all `Reservoir` objects, unique names."""
    reservoirs = tuple(reservoirs)
    if not reservoirs:
        fail("Engine", "reservoirs", reservoirs, "at least one reservoir")
    seen = set()
    for r in reservoirs:
        if not isinstance(r, Reservoir):
            fail(
                "Engine",
                "reservoirs",
                r,
                "Reservoir objects (BosonicBath, FermionicLead, SqueezedBath, ChannelReservoir)",
            )
        if r.name in seen:
            fail("Engine", "reservoirs", r.name, "unique reservoir names")
        seen.add(r.name)
    return reservoirs


def coupling_operator(medium, reservoir, *, local: bool):
    """The reservoir's coupling operator and its site: on the site's space if `local`, else on the full space.

    A bosonic coupling must be Hermitian: a non-Hermitian X is taken as X + X^dag.
    """
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
        X = np.asarray(X, dtype=complex)
    else:
        d_local = medium.site_dims[site]
        if local:
            X = matrix(owner, "operator", op, dim=d_local)
        elif reservoir.site is not None and op.shape == (d_local, d_local) and d_local != medium.dim:
            X = medium.embed(matrix(owner, "operator", op, dim=d_local), site)
        else:
            X = matrix(owner, "operator", op, dim=medium.dim)
    if all(ch.particles == 0 for ch in reservoir.channels()):
        if np.max(np.abs(X - X.conj().T), initial=0.0) > HERMITIAN_TOL * max(1.0, np.max(np.abs(X))):
            X = X + X.conj().T
    return X, site


def full_hamiltonian(medium, controls, drive=None):
    """The medium's H: sparse for a large medium that has a sparse form (undriven), else dense."""
    sparse_h = getattr(medium, "hamiltonian_sparse", None)
    if sparse_h is not None and medium.dim > linalg.SPARSE_HAMILTONIAN_DIM and drive is None:
        return sp.csr_array(sparse_h(**controls))
    return np.asarray(medium.hamiltonian(**controls), dtype=complex)


def eigenbasis_couplings(medium, reservoirs, spec) -> list:
    """Each reservoir's coupling operator on the full space, in the eigenbasis of `spec`."""
    return [
        linalg.to_eigenbasis(spec.basis, spec.sectors, coupling_operator(medium, r, local=False)[0])
        for r in reservoirs
    ]


def largest_decay_rate(tables) -> float:
    """max_k Gamma_kk of the Davies dissipators in `tables`: the fastest relaxation rate of a level."""
    decay = np.zeros(tables.spectrum.dim)
    for channels in tables.channels:
        for c in channels:
            _kernels.add_decay_diagonal(c.X, c.R, decay)
    return float(decay.max(initial=0.0))


def _global(medium, reservoirs, drive, controls, tol, unified_width=None) -> Generator:
    H = full_hamiltonian(medium, controls, drive)
    spec = davies.spectrum(H, tol)
    couplings = eigenbasis_couplings(medium, reservoirs, spec)
    tables = davies.DaviesTables.build(spec, reservoirs, couplings)
    d = spec.dim
    flavour = "global"
    coherent = None
    if unified_width is not None:
        # Unified: the true levels stay in the coherent part, the dissipators are those of H_TD.
        V = spec.basis
        true_levels = np.real(np.einsum("ij,ij->j", V.conj(), H @ V))
        width = unified_width * largest_decay_rate(tables)
        spec, order = davies.coarse_grained(spec, width, tol, couplings)
        couplings = [np.ascontiguousarray(X[np.ix_(order, order)]) for X in couplings]
        tables = davies.DaviesTables.build(spec, reservoirs, couplings)
        coherent = sp.diags_array(true_levels[order].astype(complex), format="csr")
        flavour = "unified"
    dissipators = tuple(
        Dissipator(
            r,
            d,
            _global_jumps(spec, channels),
            _global_observables(spec, channels),
            partial(davies.superoperator, spec, channels),
        )
        for r, channels in zip(reservoirs, tables.channels)
    )
    energies = sp.diags_array(spec.energies.astype(complex), format="csr")
    if drive is not None:
        # The basis is a permutation here (H diagonal): the rotating-frame H in the sorted basis.
        coherent = spec.basis.conj().T @ drive.rotating_hamiltonian(H) @ spec.basis
    elif coherent is None:
        coherent = energies
    return Generator(coherent, energies, dissipators, flavour, "full", spec.basis, tables, drive is not None)


def _global_jumps(spec, channels):
    """Deferred construction of the Davies jump list (one operator per Bohr frequency and channel)."""

    def build():
        jumps, particles = [], []
        for c in channels:
            new = davies.jumps(c.X, c.R, spec.bohr_ids)
            jumps += new
            particles += [c.particles] * len(new)
        return jumps, particles

    return build


def _global_observables(spec, channels):
    """Deferred current observables of a Davies dissipator, from the eigenbasis tables (no jumps)."""

    def build():
        n = int(np.sum(np.diff(spec.starts) ** 2))
        energy, number = np.zeros(n, dtype=complex), np.zeros(n, dtype=complex)
        for c in channels:
            e, rate = davies.current_observables(spec, c)
            energy += e
            number += c.particles * rate
        return davies.block_operator(spec, energy), davies.block_operator(spec, number)

    return build


def _rotated(V: sp.csr_array, J: sp.csr_array) -> sp.csr_array:
    """V J V^dag for a sparse eigenvector matrix V and a jump J in the eigenbasis, zeros dropped."""
    out = sp.csr_array(V @ J @ V.conj().T)
    out.eliminate_zeros()
    return out


def _local(medium, reservoirs, drive, bookkeeping, controls, tol) -> Generator:
    sparse_h = getattr(medium, "hamiltonian_sparse", None)
    dims = medium.site_dims
    if sparse_h is not None and drive is None:
        H = sp.csr_array(sparse_h(**controls), dtype=complex)
        H0 = sum(
            (linalg.embed(medium.local_hamiltonian(s, **controls), dims, s) for s in range(len(dims))),
            sp.csr_array(H.shape, dtype=complex),
        )
    else:
        H = np.asarray(medium.hamiltonian(**controls), dtype=complex)
        H0 = np.asarray(medium.bare_hamiltonian(**controls), dtype=complex)
    dissipators = []
    for r in reservoirs:
        x, site = coupling_operator(medium, r, local=True)
        spec = davies.spectrum(np.asarray(medium.local_hamiltonian(site, **controls), dtype=complex), tol)
        xe = spec.basis.conj().T @ x @ spec.basis
        # The eigenvectors as a sparse matrix: for a diagonal site Hamiltonian (an oscillator, a spin,
        # levels) they are a permutation, and the jumps move back to the site basis in O(nnz), not
        # in two dense d_s^3 products per jump.
        V = sp.csr_array(spec.basis)
        V.eliminate_zeros()
        jumps, particles = [], []
        for ch in r.channels():
            Xc = np.ascontiguousarray(xe.conj().T if ch.adjoint else xe)
            local_jumps = davies.jumps(Xc, spec.rate_table(ch.rate), spec.bohr_ids)
            jumps += [linalg.embed(_rotated(V, J), dims, site) for J in local_jumps]
            particles += [ch.particles] * len(local_jumps)
        dissipators.append(
            Dissipator(r, medium.dim, lambda jumps=jumps, particles=particles: (jumps, particles))
        )
    coherent = drive.rotating_hamiltonian(H) if drive is not None else H
    reference = H0 if (bookkeeping == "bare" or drive is not None) else H
    return Generator(
        coherent, reference, tuple(dissipators), "local", bookkeeping, None, None, drive is not None
    )


# ----------------------------------------------------------------------------------------------
# non-thermal reservoirs (engines.reservoirs.SqueezedBath, ChannelReservoir)


def _engineered(medium, reservoirs, flavour, drive, bookkeeping, controls, tol) -> Generator:
    """A generator with non-thermal reservoirs, in the medium's basis (no eigenbasis tables).

    The thermal reservoirs' dissipators come from the flavour's own construction (`_global` or
    `_local`), moved to the medium's basis; a `ChannelReservoir` adds its jumps as given.  A
    `SqueezedBath` is secular only in the frame rotating with the medium's Hamiltonian H (its
    two-photon correlations oscillate at twice the mode frequency; Breuer & Petruccione 2002,
    3.4.3): there every Davies dissipator is unchanged (they commute with the rotation), the
    coherent part H - H vanishes and energies Tr[H rho] are those of the lab frame.
    """
    from engines.reservoirs import ChannelReservoir, SqueezedBath

    squeezed = [r for r in reservoirs if isinstance(r, SqueezedBath)]
    if squeezed:
        owner = squeezed[0]._owner()
        if len(medium.site_dims) > 1:
            fail(
                owner,
                "medium",
                type(medium).__name__,
                "a single-site medium with one Bohr frequency in the coupling (an oscillator, a qubit)",
            )
        if drive is not None:
            fail(owner, "drive", drive, "None: a squeezed bath's rotating frame leaves no room for a drive")
        others = [r.name for r in reservoirs if isinstance(r, ChannelReservoir)]
        if others:
            fail(
                owner,
                "reservoirs",
                others,
                "no ChannelReservoir next to a squeezed bath (its jumps act in the lab frame, the squeezed "
                "dissipator in the frame rotating with H)",
            )
    thermal = [r for r in reservoirs if r.thermal]
    base = None
    if thermal:
        base = (
            _global(medium, thermal, drive, controls, tol)
            if flavour == "global"
            else _local(medium, thermal, drive, bookkeeping, controls, tol)
        )
    d = medium.dim
    H = np.asarray(medium.hamiltonian(**controls), dtype=complex)
    if base is None:
        coherent, reference = (drive.rotating_hamiltonian(H) if drive is not None else H), H
    elif base.basis is None:
        coherent, reference = base.hamiltonian, base.reference
    else:
        coherent = base.to_medium_basis(linalg.to_dense(base.hamiltonian))
        coherent = 0.5 * (coherent + coherent.conj().T)
        reference = H
    if squeezed:
        coherent = np.zeros((d, d), dtype=complex)
    made = {}
    if base is not None:
        for D in base.dissipators:
            made[D.reservoir.name] = _in_medium_basis(base, D)
    for r in reservoirs:
        if isinstance(r, SqueezedBath):
            made[r.name] = _squeezed_dissipator(medium, r, controls, tol)
        elif isinstance(r, ChannelReservoir):
            made[r.name] = _channel_dissipator(medium, r, reference)
    dissipators = tuple(made[r.name] for r in reservoirs)
    return Generator(
        coherent,
        reference,
        dissipators,
        flavour,
        base.bookkeeping if base else "full",
        None,
        None,
        drive is not None,
    )


def _in_medium_basis(gen: Generator, D: Dissipator) -> Dissipator:
    """Dissipator `D` of `gen` with its jumps in the medium's basis."""
    if gen.basis is None:
        return D
    sectors = gen.davies.spectrum.sectors

    def build():
        jumps = [
            sp.csr_array(linalg.from_eigenbasis(gen.basis, sectors, linalg.to_dense(J))) for J in D.jumps
        ]
        for J in jumps:
            J.eliminate_zeros()
        return jumps, list(D.particles)

    return Dissipator(D.reservoir, D.dim, build)


def squeezed_lowering(medium, bath, controls, tol) -> tuple[np.ndarray, float]:
    """The lowering part A = A(w) of a squeezed bath's coupling (medium's basis) and its frequency w.

    Refuses couplings with more than one Bohr frequency w > 0 or a zero-frequency part: the
    squeezed dissipator is defined for one mode (docs/physics.md, Section 2).
    """
    owner = bath._owner()
    H = np.asarray(medium.hamiltonian(**controls), dtype=complex)
    spec = davies.spectrum(H, tol)
    X = coupling_operator(medium, bath, local=False)[0]
    Xe = linalg.to_eigenbasis(spec.basis, spec.sectors, X)
    w = spec.frequencies[spec.bohr_ids]  # w[m, k] = E_k - E_m: the jump k -> m gives w to the bath
    amp = np.abs(Xe)
    mask = amp > davies.AMPLITUDE_CUTOFF * max(1.0, float(np.max(amp, initial=0.0)))
    present = np.unique(spec.bohr_ids[mask])
    positive = [f for f in spec.frequencies[present] if f > 0]
    zero = [f for f in spec.frequencies[present] if f == 0 or abs(f) <= tol]
    if len(positive) != 1 or zero:
        found = ", ".join(f"{f:.6g}" for f in sorted(set(np.abs(spec.frequencies[present]).round(12))))
        fail(
            owner,
            "operator",
            f"a coupling with Bohr frequencies {found or 'none'}",
            "a coupling with a single Bohr frequency w > 0 and no zero-frequency part (an oscillator's x, "
            "a qubit's sigma_x)",
        )
    omega = float(positive[0])
    lower = np.where(mask & (w > 0), Xe, 0.0)
    return linalg.from_eigenbasis(spec.basis, spec.sectors, lower), omega


def _squeezed_dissipator(medium, bath, controls, tol) -> Dissipator:
    """The dissipator gamma (n+1) D[B] + gamma n D[B^dag], B = A cosh r + A^dag e^{i phi} sinh r."""
    A, omega = squeezed_lowering(medium, bath, controls, tol)
    gamma, n = bath.moments(omega)[0], bath.occupation(omega)
    B = np.cosh(bath.r) * A + np.exp(1j * bath.phi) * np.sinh(bath.r) * A.conj().T

    def build():
        jumps = []
        for rate, L in ((gamma * (n + 1.0), B), (gamma * n, B.conj().T)):
            if rate > 0:
                J = sp.csr_array(np.sqrt(rate) * L)
                J.eliminate_zeros()
                jumps.append(J)
        return jumps, [0] * len(jumps)

    return Dissipator(bath, medium.dim, build)


def _channel_operator(medium, owner, spec, field_, dim):
    """A `ChannelReservoir` operator: a medium operator name (with a ``_<site>`` suffix) or a matrix."""
    if isinstance(spec, tuple):
        op, site = spec
    elif isinstance(spec, str):
        op, site = spec, None
        head, _, tail = spec.rpartition("_")
        if spec not in medium.operator_names and head and tail.isdigit():
            op, site = head, int(tail)
    else:
        return matrix(owner, field_, spec, dim=dim)
    known_names(owner, field_, [op], medium.operator_names)
    n_sites = len(medium.site_dims)
    if n_sites > 1 and site is None:
        fail(
            owner, field_, spec, f"an operator with its site, e.g. '{op}_0' (the medium has {n_sites} sites)"
        )
    if site is not None and site >= n_sites:
        fail(owner, field_, spec, f"a site index below {n_sites} (the medium's number of sites)")
    return np.asarray(medium.operator(op, site if n_sites > 1 else None), dtype=complex)


def _channel_dissipator(medium, res, reference) -> Dissipator:
    """sum_j rate_j D[L_j] of a `ChannelReservoir`, with its energy and particle observables."""
    owner = res._owner()
    d = medium.dim
    jumps = []
    for k, (op, rate) in enumerate(res.jumps):
        L = _channel_operator(medium, owner, op, f"jumps[{k}] operator", d)
        if rate > 0:
            J = sp.csr_array(np.sqrt(rate) * L)
            J.eliminate_zeros()
            jumps.append(J)
    energy = reference if res.energy is None else _channel_operator(medium, owner, res.energy, "energy", d)
    if res.energy is not None:
        matrix(owner, "energy", energy, dim=d, hermitian=True)
    number = None
    if res.particles is not None:
        number = matrix(
            owner,
            "particles",
            _channel_operator(medium, owner, res.particles, "particles", d),
            dim=d,
            hermitian=True,
        )
    plain = Dissipator(res, d, lambda: (jumps, [0] * len(jumps)))

    def observables():
        N = sp.csr_array((d, d), dtype=complex) if number is None else plain.adjoint_apply(number)
        return plain.adjoint_apply(energy), N

    return Dissipator(res, d, lambda: (jumps, [0] * len(jumps)), observables)
