"""Multi-bath NESS transport: counting statistics and the TUR, and the Onsager matrix.

Counting statistics (docs/physics.md, Section 10).  Each jump operator L_j of reservoir a moves a
definite amount nu_j of the counted quantity into the medium: its energy eps_j ([H_ref, L_j] =
eps_j L_j), its particle number n_j, or its heat eps_j - mu_a n_j.  The tilted generator

    L_chi rho = L rho + sum_j (exp(chi nu_j) - 1) L_j rho L_j^dag

has the scaled cumulant generating function theta(chi) of the counted quantity as its eigenvalue of
largest real part (Esposito, Harbola, Mukamel, Rev. Mod. Phys. 81, 1665 (2009)).  Its first two
derivatives at chi = 0, the mean current J = Tr[L_1 rho] and the zero-frequency noise
Var = Tr[L_2 rho] - 2 Tr[L_1 L^D (L_1 - J) rho] (L_k = sum_j nu_j^k L_j . L_j^dag, L^D the Drazin
inverse), come from one bordered linear solve, never a pseudo-inverse of L.  The TUR ratio
Var sigma / J^2 is >= 2 for classical Markov jump processes (Barato & Seifert, PRL 114, 158101
(2015)) and can fall below 2 in coherent machines.

Currents inside the medium.  Through the cut between sites k and k+1 of a chain flows
j_k = -<i[H, X_k]>, the coherent rate at which X_k, the part of the conserved quantity left of the
cut, leaves: X_k = sum_{m <= k} sz_m / 2 for the magnetisation, the bond energies left of site k for
the energy (continuity equation).  At the NESS every j_k equals the current the left reservoirs feed
in, the energy booked against the full Hamiltonian.

Linear response.  With terminal 0 as the reference, the entropy production of a machine without work
source is sigma = sum_{a>0} [J^E_a (beta_0 - beta_a) + I_a (beta_a mu_a - beta_0 mu_0)], so the
fluxes (J^E_a, I_a) and the affinities (beta_0 - beta_a, beta_a mu_a - beta_0 mu_0) define the
Onsager matrix dJ/dF.  It is computed from the linearised steady state, d rho = -L^D (dL) rho, with
dL the derivative of the generator (central differences of the generator, one factorisation of the
bordered system for every affinity), not from differences of separate solves.  At equilibrium it is
symmetric (Onsager reciprocity) and positive semidefinite.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from engines import _kernels
from engines.checks import WorkbenchError, fail, read_only
from engines.linalg import embed, trace_vector, unvec, vec
from engines.steady import jump_chain, population_sector, sector_generator

__all__ = [
    "Counting",
    "Onsager",
    "bond_currents",
    "counting",
    "magnetisation_currents",
    "onsager",
    "rectification",
    "scgf",
    "site_profile",
]

QUANTITIES = ("heat", "energy", "particles")
#: What `bond_currents` carries along a chain.
BOND_QUANTITIES = ("energy", "magnetisation")
#: ||[H, Q]|| relative to ||H|| ||Q|| below which the charge Q counts as conserved.
CONSERVATION_TOL = 1e-12
#: Relative tolerance for a jump to move a definite energy: ||[H, L] - eps L|| <= tol ||H|| ||L||.
EIGENOPERATOR_TOL = 1e-8
#: Sectors up to this many unknowns are factorised densely (LAPACK), larger ones by sparse LU.
DENSE_SECTOR = 2048
#: Relative step of the central differences of the generator (error ~ step^2).
DERIVATIVE_STEP = 1e-4


# ---------------------------------------------------------------------------------------------
# the tilted generator


def _reservoir_index(engine, reservoir: str, owner: str) -> int:
    names = engine.generator.names
    if reservoir not in names:
        fail(owner, "reservoir", reservoir, f"one of the engine's reservoirs {list(names)}")
    return names.index(reservoir)


def _jump_weights(generator, index: int, quantity: str, owner: str) -> tuple[list, np.ndarray]:
    """The jump operators of dissipator `index` and what each moves into the medium."""
    D = generator.dissipators[index]
    jumps = [sp.csr_array(L) for L in D.jumps]
    particles = np.array(D.particles, dtype=float)
    if quantity == "particles":
        return jumps, particles
    H = sp.csr_array(generator.reference)
    scale = max(abs(H).max() if H.nnz else 0.0, 1e-300)
    energies = np.empty(len(jumps))
    for j, L in enumerate(jumps):
        C = H @ L - L @ H
        norm = float(np.real(L.conj().multiply(L).sum()))
        energies[j] = np.real(L.conj().multiply(C).sum()) / norm
        defect = spla.norm(C - energies[j] * L) if C.nnz else 0.0
        if defect > EIGENOPERATOR_TOL * scale * math.sqrt(norm) * max(1.0, math.sqrt(L.shape[0])):
            raise WorkbenchError(
                f"{owner}: reservoir {D.reservoir.name!r}: its jumps do not move definite energies in the "
                f"{generator.flavour} flavour with {generator.bookkeeping!r} bookkeeping, so its energy and "
                "heat cannot be counted; count 'particles', or use flavour='global' or bookkeeping='bare'."
            )
    if quantity == "energy":
        return jumps, energies
    return jumps, energies - D.reservoir.mu * particles


@dataclass(frozen=True)
class _Sector:
    """L restricted to the population sector.

    The sector is the invariant subspace that holds the populations
    (`engines.steady.population_sector`); the tilted generator keeps it invariant, so counting never
    touches the rest of the d^2 unknowns.
    """

    index: np.ndarray
    L: sp.csr_array
    trace: np.ndarray

    @property
    def dense(self) -> bool:
        """Small enough for dense factorisations."""
        return self.index.size <= DENSE_SECTOR

    def restrict(self, superoperator) -> sp.csr_array:
        """A (d^2, d^2) superoperator restricted to the sector."""
        return sp.csr_array(sp.csr_array(superoperator)[self.index][:, self.index])

    def dissipator(self, generator, name: str) -> sp.csr_array:
        """The dissipator of reservoir `name` of `generator` on the sector.

        For a secular generator (whose sector is the zero-frequency sector) straight from its Davies
        tables, without the d^2 x d^2 superoperator.
        """
        k = generator.names.index(name)
        if not generator.secular:
            return self.restrict(generator.dissipators[k].superoperator())
        return _from_block_layout(generator, generator.davies.zero_frequency_generator(k))


def _from_block_layout(generator, M) -> sp.csr_array:
    """A zero-frequency-sector matrix from the block layout to the sector's sorted vec indices."""
    rows, cols = generator.davies.spectrum.block_entries
    order = np.argsort(rows + generator.dim * cols)
    return sp.csr_array(M[order][:, order])


@functools.lru_cache(maxsize=8)
def _generator_sector(generator) -> _Sector:
    """The population sector of an (immutable) generator with L restricted to it, built once."""
    index = population_sector(generator)
    base = _Sector(index, sp.csr_array((index.size,) * 2, dtype=complex), trace_vector(generator.dim)[index])
    if generator.secular:  # from the Davies tables, without the d^2 x d^2 superoperator
        return dataclasses.replace(base, L=_from_block_layout(generator, sector_generator(generator)))
    return dataclasses.replace(base, L=base.restrict(generator.superoperator()))


def _sector(generator) -> _Sector:
    return _generator_sector(generator)


@dataclass(frozen=True)
class _Counted:
    """What one reservoir's jumps move, on the sector: ``weighted(f)`` = sum_j f(nu_j) K_j.

    K_j is the jump superoperator of jump j (vec(L rho L^dag) = (conj(L) kron L) vec(rho)) and nu_j
    what it moves into the medium; f = nu gives dL_chi/dchi at 0, f = nu^2 the second derivative and
    f = exp(chi nu) - 1 the tilt L_chi - L.  `scale` is the largest |nu_j|.
    """

    weighted: Callable
    scale: float


def _counted(generator, sector: _Sector, index: int, quantity: str, owner: str) -> _Counted:
    """The counted jumps of dissipator `index` (see `_Counted`).

    Global (Davies) generators: from the eigenbasis tables, the jump k -> m of a channel moving the
    energy E_m - E_k (exact: its Bohr cluster is degenerate) and the channel's particle number, with
    no jump operator built (a d = 256 chain has ~2e4 of them).  Otherwise from the jump operators,
    each checked to move a definite energy (`_jump_weights`).
    """
    if generator.secular and generator.flavour == "global":
        tables = generator.davies
        starts = tables.spectrum.starts
        h = np.real(sp.csr_array(generator.reference).diagonal())
        gained = h[:, None] - h[None, :]  # E_m - E_k of the jump k -> m
        mu = generator.dissipators[index].reservoir.mu
        channels = tables.channels[index]

        def moved(c):
            if quantity == "particles":
                return np.full_like(gained, float(c.particles))
            return gained if quantity == "energy" else gained - mu * c.particles

        def weighted(f):
            n = int(np.sum(np.diff(starts) ** 2))
            M = np.zeros((n, n), dtype=complex)
            for c in channels:
                _kernels.sector_jump_term(starts, c.X, np.ascontiguousarray(c.R * f(moved(c))), M)
            return _from_block_layout(generator, M)

        scale = max(
            (float(np.max(np.abs(moved(c))[(c.R * np.abs(c.X) ** 2) > 0], initial=0.0)) for c in channels),
            default=0.0,
        )
        return _Counted(weighted, scale)
    jumps, nu = _jump_weights(generator, index, quantity, owner)
    K = [sector.restrict(sp.kron(J.conj(), J, format="csr")) for J in jumps]

    def weighted(f):
        out = sp.csr_array((sector.index.size,) * 2, dtype=complex)
        for w, k in zip(f(nu), K):
            out = out + w * k
        return out

    return _Counted(weighted, float(np.max(np.abs(nu), initial=0.0)))


def _drazin_solver(generator, sector: _Sector, rho_vec):
    """The map y -> L^D y on traceless y (vectors on the sector): x with L x = y and Tr x = 0.

    Small sectors: one LU of the bordered matrix [[L, vec rho], [tr, 0]], non-singular when the NESS
    is unique.  Large sectors of non-secular generators (local chains, Redfield), whose LU fills in
    (d = 256: minutes): GMRES on the jump-chain splitting of the iterative NESS solver
    (`engines.steady.JumpChain.drazin`), with the LU as the fallback if it does not converge.
    """
    if sector.dense or generator.secular:
        return _lu_drazin(sector, rho_vec)
    chain = jump_chain(generator)
    if not chain.damped:
        return _lu_drazin(sector, rho_vec)
    d, index = generator.dim, sector.index
    ness = _on_sector(rho_vec, index, d)
    fallback = []

    def solve(y):
        x = chain.drazin(_on_sector(y, index, d), ness)
        if x is not None:
            return vec(x)[index]
        if not fallback:
            fallback.append(_lu_drazin(sector, rho_vec))
        return fallback[0](y)

    return solve


def _on_sector(x, index, d) -> np.ndarray:
    """The (d, d) matrix of a sector vector (zero elsewhere)."""
    full = np.zeros(d * d, dtype=complex)
    full[index] = x
    return unvec(full, d)


def _lu_drazin(sector: _Sector, rho_vec):
    L = sector.L
    n = L.shape[0]
    if sector.dense:
        B = np.zeros((n + 1, n + 1), dtype=complex)
        B[:n, :n] = L.toarray()
        B[:n, n] = rho_vec
        B[n, :n] = sector.trace
        lu = la.lu_factor(B, check_finite=False)
        return lambda y: la.lu_solve(lu, np.append(y, 0.0), check_finite=False)[:n]
    B = sp.bmat(
        [[L, sp.csc_array(rho_vec[:, None])], [sp.csr_array(sector.trace[None, :]), None]], format="csc"
    )
    lu = spla.splu(B)
    return lambda y: lu.solve(np.append(y, 0.0).astype(complex))[:n]


def _steady(engine, steady):
    state = engine.steady_state() if steady is None else steady
    generator = engine.generator
    return state, vec(generator.from_medium_basis(state.rho))


# ---------------------------------------------------------------------------------------------
# counting statistics


@dataclass(frozen=True)
class Counting:
    """Counting statistics of one reservoir's current at the NESS (hbar = k_B = 1).

    Attributes
    ----------
    reservoir, quantity : str
        What is counted: the heat, energy or particles moved from `reservoir` into the medium.
    mean : float
        The current J (the first cumulant rate); equals the steady state's current.
    variance : float
        The zero-frequency noise, the second cumulant rate: Var(Q_t)/t as t -> inf.
    entropy_production_rate : float or None
        sigma of the NESS (None when a reservoir is not thermal).
    tur_ratio : float or None
        Var sigma / J^2 (None when J is below the NESS's numerical resolution or sigma is undefined);
        >= 2 for classical jump processes.
    """

    reservoir: str
    quantity: str
    mean: float
    variance: float
    entropy_production_rate: float | None
    tur_ratio: float | None

    def to_dict(self) -> dict:
        """The fields as a JSON-safe mapping."""
        return dict(self.__dict__)


def _check_quantity(owner, quantity):
    if quantity not in QUANTITIES:
        fail(owner, "quantity", quantity, f"one of {list(QUANTITIES)}")


def counting(engine, reservoir: str, quantity: str = "heat", *, steady=None) -> Counting:
    """Mean, zero-frequency noise and TUR ratio of the `quantity` moved from `reservoir` into the medium.

    Parameters
    ----------
    engine : engines.Engine
    reservoir : str
        The counted reservoir's name.
    quantity : {"heat", "energy", "particles"}
    steady : engines.SteadyState, optional
        The engine's NESS, when already solved.
    """
    owner = "counting"
    _check_quantity(owner, quantity)
    index = _reservoir_index(engine, reservoir, owner)
    state, rho = _steady(engine, steady)
    generator = engine.generator
    sector = _sector(generator)
    counted = _counted(generator, sector, index, quantity, owner)
    rho, tr = rho[sector.index], sector.trace
    L1, L2 = counted.weighted(lambda nu: nu), counted.weighted(lambda nu: nu**2)
    L1rho = L1 @ rho
    mean = float(np.real(tr @ L1rho))
    x = _drazin_solver(generator, sector, rho)(L1rho - mean * rho)
    variance = float(np.real(tr @ (L2 @ rho)) - 2.0 * np.real(tr @ (L1 @ x)))
    sigma = state.entropy_production_rate if all(r.thermal for r in engine.reservoirs) else None
    resolved = abs(mean) > state.resolution * max(1.0, counted.scale)
    tur = variance * sigma / mean**2 if sigma is not None and resolved else None
    return Counting(reservoir, quantity, mean, variance, sigma, tur)


def scgf(engine, reservoir: str, chi, quantity: str = "heat"):
    """theta(chi): the scaled cumulant generating function of the `quantity` moved from `reservoir`.

    The eigenvalue of largest real part of the tilted generator L_chi (dense eigenvalues: small d).
    theta(0) = 0, theta'(0) = J and theta''(0) = Var.  For a machine whose one current flows between
    two thermal baths a and b, theta(chi) = theta(-chi - (beta_b - beta_a)) (Gallavotti-Cohen).
    """
    owner = "scgf"
    _check_quantity(owner, quantity)
    index = _reservoir_index(engine, reservoir, owner)
    generator = engine.generator
    sector = _sector(generator)
    if not sector.dense:
        fail(owner, "engine", f"a population sector of {sector.index.size} unknowns", f"<= {DENSE_SECTOR}")
    chi = np.atleast_1d(np.asarray(chi, dtype=float))
    out = np.empty(chi.shape)
    counted = _counted(generator, sector, index, quantity, owner)
    for i, c in enumerate(chi):
        tilted = sector.L + counted.weighted(lambda nu, c=c: np.expm1(c * nu))
        out[i] = np.max(np.linalg.eigvals(tilted.toarray()).real)
    return out


# ---------------------------------------------------------------------------------------------
# linear response


@dataclass(frozen=True)
class Onsager:
    """The Onsager matrix of a multi-terminal machine at a reference state.

    Attributes
    ----------
    reference : str
        The reference terminal (affinities are measured against it).
    fluxes : tuple of str
        ``"J_<name>"`` (energy current) and ``"I_<name>"`` (particle current, leads only) into the
        medium from each other terminal, in matrix order.
    matrix : ndarray (n, n)
        L_ij = dJ_i / dF_j, F the affinities conjugate to the fluxes (module docstring).
    """

    reference: str
    fluxes: tuple
    matrix: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "matrix", read_only(np.array(self.matrix, dtype=float)))

    def asymmetry(self) -> float:
        """The relative asymmetry max |L - L^T| / max |L|: zero (Onsager reciprocity) at equilibrium."""
        scale = max(np.max(np.abs(self.matrix)), 1e-300)
        return float(np.max(np.abs(self.matrix - self.matrix.T)) / scale)

    def thermoelectric(self, terminal: str, T: float, mu: float) -> dict:
        """Two-terminal coefficients of `terminal` (a lead) at temperature T and chemical potential mu.

        In the heat basis J_Q = J_E - mu I with forces (Delta T / T^2, Delta mu / T), L' = A L A^T,
        A = [[1, -mu], [0, 1]]: conductance G = L'_NN / T, Seebeck S = L'_QN / (T L'_NN), Peltier
        Pi = T S, thermal conductance at zero particle current kappa = det L' / (T^2 L'_NN) and the
        figure of merit ZT = L'_QN^2 / det L' (inf in tight coupling) (Benenti, Casati, Saito,
        Whitney, Phys. Rep. 694, 1 (2017)).
        """
        names = (f"J_{terminal}", f"I_{terminal}")
        if not all(n in self.fluxes for n in names):
            fail(
                "Onsager.thermoelectric", "terminal", terminal, "a lead (a terminal with a particle current)"
            )
        i, j = (self.fluxes.index(n) for n in names)
        block = self.matrix[np.ix_([i, j], [i, j])]
        A = np.array([[1.0, -mu], [0.0, 1.0]])
        Lp = A @ block @ A.T
        det = float(np.linalg.det(Lp))
        det = 0.0 if abs(det) <= 1e-12 * np.max(np.abs(Lp)) ** 2 else det
        S = Lp[0, 1] / (T * Lp[1, 1])
        return {
            "conductance": Lp[1, 1] / T,
            "seebeck": S,
            "peltier": T * S,
            "thermal_conductance": det / (T**2 * Lp[1, 1]),
            "ZT": math.inf if det == 0.0 else Lp[0, 1] ** 2 / det,
        }


def _affinity_jacobian(T: float, mu: float) -> np.ndarray:
    """d(F_E, F_N)/d(T, mu) of one terminal: F_E = beta_0 - beta, F_N = beta mu - beta_0 mu_0."""
    return np.array([[1.0 / T**2, 0.0], [-mu / T**2, 1.0 / T]])


def onsager(engine, reference: str | None = None) -> Onsager:
    """The Onsager matrix dJ/dF of `engine` at its reservoirs' temperatures and chemical potentials.

    Parameters
    ----------
    engine : engines.Engine
        An undriven machine of thermal reservoirs at T > 0.
    reference : str, optional
        The reference terminal (default: the first reservoir).
    """
    owner = "onsager"
    reservoirs = engine.reservoirs
    if engine.drive is not None or not all(r.thermal for r in reservoirs):
        fail(owner, "engine", repr(engine), "an undriven machine of thermal reservoirs")
    if len(reservoirs) < 2:
        fail(owner, "engine", repr(engine), "a machine with at least two terminals")
    names = [r.name for r in reservoirs]
    ref = names[0] if reference is None else reference
    if ref not in names:
        fail(owner, "reference", ref, f"one of the engine's reservoirs {names}")
    for r in reservoirs:
        if not r.T > 0.0:
            fail(owner, f"reservoir {r.name!r} T", r.T, "T > 0 (affinities need finite 1/T)")
    _, rho_full = _steady(engine, None)
    generator = engine.generator
    sector = _sector(generator)
    rho = rho_full[sector.index]
    drazin = _drazin_solver(generator, sector, rho)
    leads = {r.name: any(ch.particles != 0 for ch in r.channels()) for r in reservoirs}
    others = [r for r in reservoirs if r.name != ref]
    fluxes = []
    for r in others:
        fluxes.append(f"J_{r.name}")
        if leads[r.name]:
            fluxes.append(f"I_{r.name}")

    def flux_vector(gen, rho_vec):
        """The fluxes of the reservoirs `gen` has (0 for the others) at the sector vector rho_vec."""
        energy, number = gen.currents(_on_sector(rho_vec, sector.index, gen.dim))
        out = []
        for r in others:
            k = gen.names.index(r.name) if r.name in gen.names else None
            out.append(0.0 if k is None else energy[k])
            if leads[r.name]:
                out.append(0.0 if k is None else number[k])
        return np.array(out)

    columns = []
    for r in others:
        fields = ("T", "mu") if leads[r.name] else ("T",)
        by_field = []
        for f in fields:
            value = getattr(r, f)
            h = DERIVATIVE_STEP * max(abs(value), r.T)
            # only D_r and r's currents depend on r's T and mu: engines holding r alone, shifted
            shifted = [engine.replace(reservoirs=[r.replace(**{f: value + s * h})]) for s in (1.0, -1.0)]
            dL = (
                sector.dissipator(shifted[0].generator, r.name)
                - sector.dissipator(shifted[1].generator, r.name)
            ) / (2 * h)
            drho = -drazin(dL @ rho)
            dobs = (flux_vector(shifted[0].generator, rho) - flux_vector(shifted[1].generator, rho)) / (2 * h)
            by_field.append(dobs + flux_vector(generator, drho))
        dJ = np.column_stack(by_field)  # d fluxes / d (T, mu) of terminal r
        jac = _affinity_jacobian(r.T, r.mu)[: len(fields), : len(fields)]
        columns.append(dJ @ np.linalg.inv(jac))
    return Onsager(ref, tuple(fluxes), np.real(np.column_stack(columns)))


def _unvec(v, d):
    return np.asarray(v).reshape((d, d), order="F")


# ---------------------------------------------------------------------------------------------
# currents inside the medium


def _line(engine, owner):
    """The medium, its controls and its interaction terms, checked to form a chain of sites."""
    medium = engine.medium
    n = len(medium.site_dims)
    if n < 2:
        fail(owner, "engine", repr(engine), "an engine whose medium has sites (a SpinChain or a Composite)")
    if engine.drive is not None:
        fail(owner, "engine", repr(engine), "an undriven engine (a drive makes H time-dependent)")
    controls = {**medium.controls, **engine.controls}
    terms = medium.interaction_terms(**controls)
    for sites, _ in terms:
        if len(sites) != 2 or sites[1] != sites[0] + 1:
            fail(
                owner,
                "engine",
                f"a medium with a coupling between the sites {list(sites)}",
                "a chain: every coupling joins two neighbouring sites k, k + 1",
            )
    return medium, controls, terms


def _site_sum(medium, name, sites):
    """sum_{m in sites} o_m of the named site operator, embedded (sparse)."""
    dims = medium.site_dims
    zero = sp.csr_array((medium.dim, medium.dim), dtype=complex)
    return sum((embed(medium.local_operator(name, m), dims, m) for m in sites), zero)


def bond_currents(engine, quantity: str = "energy", *, steady=None) -> np.ndarray:
    """The current along a chain of sites at the NESS, from the continuity equation of `quantity`.

    A conserved charge Q = sum_m q_m (magnetisation: q_m = sz_m / 2; or any site operator the
    Hamiltonian conserves in sum, such as a dot's occupation ``proj_1``): j_k through the bond
    (k, k+1), k = 0..n-2, j_k = -<i[H, X_k]> with X_k = sum_{m <= k} q_m.  Energy: H = sum_b h_b with
    bond energies h_b = V_b + (its sites' Hamiltonians)/2 (the end sites' wholly in the end bonds),
    and j_k the current from bond k-1 into bond k through site k, k = 1..n-2, j_k = -<i[H, X_k]> with
    X_k = sum_{b < k} h_b.  Reservoirs on the end sites feed the end bonds only, so at the NESS every
    j_k equals the heat current of the left reservoirs booked against the full Hamiltonian.

    Parameters
    ----------
    engine : engines.Engine
        An undriven engine, in the local flavour, whose medium is a chain of sites: an
        `engines.SpinChain` or an `engines.Composite` whose couplings join neighbouring sites.
    quantity : str
        ``"energy"``, ``"magnetisation"`` or the name of a site operator whose sum over the sites
        commutes with H.
    steady : engines.SteadyState, optional

    Returns
    -------
    ndarray
        n - 1 charge currents, or n - 2 energy currents (hbar = 1).

    Raises
    ------
    WorkbenchError
        In the global (secular) flavour: its NESS commutes with H, so no current flows through the
        bonds coherently; its non-local dissipators move the heat between eigenstates directly.  For
        a charge H does not conserve, or a medium whose couplings are not nearest-neighbour.
    """
    owner = "bond_currents"
    medium, controls, terms = _line(engine, owner)
    names = medium.operator_names
    if quantity not in (*BOND_QUANTITIES, *names):
        fail(
            owner, "quantity", quantity, f"one of {list(BOND_QUANTITIES)} or a site operator of {list(names)}"
        )
    if engine.flavour == "global":
        raise WorkbenchError(
            f"{owner}: in the global (secular) flavour the NESS commutes with H, so no current flows "
            "through the bonds coherently (the non-local dissipators move heat between eigenstates); use "
            "flavour='local'."
        )
    rho = (engine.steady_state() if steady is None else steady).rho
    n, dims = len(medium.site_dims), medium.site_dims
    local = [sp.csr_array(embed(medium.local_hamiltonian(m, **controls), dims, m)) for m in range(n)]
    H = sp.csr_array(sum(local) + sum(V for _, V in terms))  # = the medium's H, sparse
    if quantity == "energy":
        cuts = [
            sum(local[:k], 0.5 * local[k]) + sum((V for sites, V in terms if sites[1] <= k), 0 * H)
            for k in range(1, n - 1)
        ]
    else:
        name, factor = ("sigma_z", 0.5) if quantity == "magnetisation" else (quantity, 1.0)
        try:
            total = _site_sum(medium, name, range(n))
        except WorkbenchError as e:
            raise WorkbenchError(f"{owner}: `quantity` {quantity!r} is not defined on every site: {e}") from e
        leak = abs(H @ total - total @ H).max() if total.nnz else 0.0
        scale = max(1.0, abs(H).max()) * max(1.0, abs(total).max())
        if leak > CONSERVATION_TOL * scale:
            fail(
                owner,
                "quantity",
                quantity,
                f"a charge the Hamiltonian conserves (||[H, sum_m {name}_m]|| = {leak:.3g}); the energy "
                "always is",
            )
        cuts = [factor * _site_sum(medium, name, range(k + 1)) for k in range(n - 1)]
    out = []
    for X in cuts:
        C = sp.csr_array(H @ X - X @ H)
        out.append(-np.real(1j * np.sum(C.multiply(rho.T))))
    return np.array(out)


#: A level's magnetisation must be a multiple of 1/2 within this for it to be an eigenstate of M.
MAGNETISATION_TOL = 1e-8


def magnetisation_currents(engine, *, steady=None) -> dict[str, float]:
    """The magnetisation each reservoir feeds into a chain at the NESS, I_a = Tr[M D_a(rho)].

    M = sum_i sz_i / 2.  In the local flavour D_a^dag(M) is built from the site jumps; in the global
    flavour from the eigenbasis tables, without the Davies jump operators (one per Bohr frequency, far
    too many for a long chain): H conserves M, so its eigenvectors have definite magnetisations m_k,
    and D_a^dag(M) is block diagonal in the degenerate levels with entries
    sum_m R[m, k] conj(X[m, k]) X[m, k'] (m_m - (m_k + m_k') / 2) (the Hermitian part of the energy
    observable of `engines.davies.current_observables` with the levels replaced by the m_k).

    Parameters
    ----------
    engine : engines.Engine
        An undriven engine, local or global flavour, whose medium is a chain of qubits (an
        `engines.SpinChain`, or a `Composite` of qubits with nearest-neighbour couplings).
    steady : engines.SteadyState, optional

    Returns
    -------
    dict
        Reservoir name -> magnetisation current into the chain [1/time] (hbar = 1).  At the NESS they
        sum to zero; in the local flavour the hot one equals every `bond_currents(engine,
        "magnetisation")`.

    Notes
    -----
    The current is a conserved flow only if every reservoir's dissipator is covariant under the
    rotations generated by M: sigma_x couplings qualify because the (local or global) Davies
    construction splits them into sigma_- and sigma_+ parts of distinct frequencies; a dephasing
    (sigma_z) channel moves no magnetisation.
    """
    owner = "magnetisation_currents"
    medium, _, _ = _line(engine, owner)
    if engine.flavour not in ("local", "global"):
        fail(owner, "engine", repr(engine), "an engine of the local or the global flavour")
    state = engine.steady_state() if steady is None else steady
    gen = engine.generator
    try:
        M = 0.5 * _site_sum(medium, "sigma_z", range(len(medium.site_dims)))
    except WorkbenchError as e:
        raise WorkbenchError(f"{owner}: the magnetisation is not defined on every site: {e}") from e
    if engine.flavour == "local":
        rho = state.rho
        return {
            D.reservoir.name: float(np.real(np.sum(D.adjoint_apply(M).multiply(rho.T))))
            for D in gen.dissipators
        }
    tables = gen.davies
    spec = tables.spectrum
    levels = np.real(np.asarray(M.diagonal()) @ np.abs(spec.basis) ** 2)  # <k|M|k>
    if np.max(np.abs(2.0 * levels - np.round(2.0 * levels)), initial=0.0) > MAGNETISATION_TOL:
        raise WorkbenchError(
            f"{owner}: the chain's eigenvectors do not have definite magnetisations (degenerate levels "
            "of different sectors mixed), so the magnetisation currents are not defined by the tables; "
            "lift the degeneracy (a small field) or use flavour='local'."
        )
    x = spec.to_sector(gen.from_medium_basis(state.rho))
    n = x.size
    out = {}
    for D, per_reservoir in zip(gen.dissipators, tables.channels):
        total = 0.0
        for c in per_reservoir:
            observable, rate = np.zeros(n, dtype=complex), np.zeros(n, dtype=complex)
            _kernels.davies_observables(levels, spec.starts, c.X, c.R, observable, rate)
            total += float(np.real(observable @ x))
        out[D.reservoir.name] = total
    return out


def site_profile(engine, operator: str = "sigma_z", *, steady=None) -> np.ndarray:
    """<o_k> of the named site operator on every site at the NESS (e.g. the magnetisation profile).

    For a chain of sites (`bond_currents`); every site must have the operator.
    """
    medium, _, _ = _line(engine, "site_profile")
    rho = (engine.steady_state() if steady is None else steady).rho
    dims = medium.site_dims
    return np.array(
        [
            np.real(np.sum(embed(medium.local_operator(operator, k), dims, k).multiply(rho.T)))
            for k in range(len(dims))
        ]
    )


# ---------------------------------------------------------------------------------------------
# rectification


def rectification(engine, left: str, right: str, biases, T: float | None = None):
    """Forward and reversed heat currents of a two-terminal design, and their ratio, against the bias.

    At bias Delta T the forward machine has T_left = T + Delta T/2, T_right = T - Delta T/2 and the
    reversed one the temperatures swapped; J_forward is the heat from `left` into the medium in the
    first, J_reverse the heat from `right` in the second (both > 0 for heat running downhill), and
    the rectification ratio is J_forward / J_reverse (1 for a mirror-symmetric medium).  A point where
    either current runs uphill with no work source (a second-law violation, e.g. a local master
    equation on sites with unequal gaps booked against the full Hamiltonian) gets no ratio and says so.

    Parameters
    ----------
    engine : engines.Engine
        A design with (at least) the thermal reservoirs `left` and `right`.
    left, right : str
        The two terminals.
    biases : sequence of float
        Delta T > 0, each below 2 T.
    T : float, optional
        The mean temperature (default: the mean of the two reservoirs' temperatures).

    Returns
    -------
    pandas.DataFrame
        Columns bias, J_forward, J_reverse, ratio, mode_forward, mode_reverse, note.
    """
    import warnings

    import pandas as pd

    from engines import ThermodynamicsWarning

    owner = "rectification"
    names = [r.name for r in engine.reservoirs]
    for field, value in (("left", left), ("right", right)):
        if value not in names:
            fail(owner, field, value, f"one of the engine's reservoirs {names}")
    if left == right:
        fail(owner, "right", right, "a reservoir other than `left`")
    by_name = {r.name: r for r in engine.reservoirs}
    if not (by_name[left].thermal and by_name[right].thermal):
        fail(owner, "engine", repr(engine), "a design whose two terminals are thermal baths")
    mean = 0.5 * (by_name[left].T + by_name[right].T) if T is None else T
    biases = np.atleast_1d(np.asarray(biases, dtype=float))
    if not np.all((biases > 0) & (biases < 2 * mean)):
        fail(owner, "biases", biases.tolist(), f"values in (0, 2 T) = (0, {2 * mean:g})")

    def solve(T_hot_side, hot, cold, bias):
        changed = {hot: T_hot_side + bias / 2, cold: T_hot_side - bias / 2}
        machine = engine.replace(
            reservoirs=[r.replace(T=changed[r.name]) if r.name in changed else r for r in engine.reservoirs]
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ThermodynamicsWarning)
            state = machine.steady_state()
        return state, [str(w.message) for w in caught if issubclass(w.category, ThermodynamicsWarning)]

    rows = []
    for bias in biases:
        forward, fw = solve(mean, left, right, bias)
        reverse, rw = solve(mean, right, left, bias)
        J_f, J_r = forward.heat_currents[left], reverse.heat_currents[right]
        both = (("forward", J_f, forward), ("reversed", J_r, reverse))
        uphill = [d for d, J, s in both if J < -s.resolution]
        unresolved = [d for d, J, s in both if abs(J) <= s.resolution]
        note = "; ".join(fw + rw)
        if uphill:
            note = (
                f"heat runs from cold to hot ({' and '.join(uphill)} bias) with no work source: the model "
                "breaks the second law here, so no ratio is given"
            )
        elif unresolved:
            note = f"the {' and '.join(unresolved)} current is below numerical resolution: no ratio"
        rows.append(
            {
                "bias": bias,
                "J_forward": J_f,
                "J_reverse": J_r,
                "ratio": math.nan if uphill or unresolved else J_f / J_r,
                "mode_forward": forward.mode,
                "mode_reverse": reverse.mode,
                "note": note,
            }
        )
    return pd.DataFrame(rows)
