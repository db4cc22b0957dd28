"""Memory estimates of what a build or a solve will allocate, made before anything is allocated.

A medium that is too large for the machine should be refused in a millisecond with the numbers,
not after seconds of allocation with a bare `MemoryError` (or a machine thrashing its swap).  The
estimates below count the large arrays each step allocates, from the dimensions alone; they are
compared with `Options.memory_limit` (default 80 % of physical memory) and a refusal says what the
estimate is, what the limit is and what would fit instead.

Model (d = dimension of the medium, 16 bytes a complex entry, 8 a real or an int64, a CSR entry its
value plus a column index, and every CSR matrix its d + 1 row pointers and about 1 kB of Python object):

* medium Hamiltonian: the sparse matrix a `SpinChain` builds (its bond sums and one Hamiltonian, and
  as much again in temporaries), or a dense d x d matrix;
* global flavour: eigenvectors (d x d, real for real Hamiltonians), Bohr-frequency ids and
  frequencies (d x d each), and per reservoir channel the coupling operator in the eigenbasis
  (complex d x d) and its rate table (real d x d); the transient peaks are the eigendecomposition's
  workspace, the Bohr-frequency clustering (seven d x d arrays) and each coupling's basis change
  (three complex d x d);
* local flavour: the Hamiltonian and the bare one, and per channel the embedded jump operators (a
  bound for sites of dimension d_s <= 16, counted on the site's own spectrum for larger ones);
* Davies jumps of the global flavour (built only for the full-space solvers): one CSR matrix per
  Bohr-frequency cluster with a non-zero amplitude, counted from the eigenbasis tables;
* steady state: the dense state, its Hermitian part and the eigenvalue check (four complex d x d);
* solvers: ``pauli`` three n x n matrices (n = sum of squared degenerate-block sizes), ``dense`` the
  d^2 x d^2 generator with its trace-constrained copy and LU factors, ``sparse`` the sparse
  superoperator, its population-sector restriction and the LU factors (fill-in not counted: a lower
  bound), ``iterative`` the Schur forms of the blocks of the no-jump Hamiltonian, the jump operators
  between blocks and the GMRES Krylov basis on the population sector.

The estimates are checked against measured peaks (``tracemalloc``) in ``tests/engines/test_memory.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engines.checks import WorkbenchError
from engines.linalg import SPARSE_HAMILTONIAN_DIM
from engines.options import DEFAULT_OPTIONS

__all__ = [
    "Estimate",
    "build",
    "check_engine",
    "check_solve",
    "dense_bytes",
    "engine_estimate",
    "format_bytes",
    "require",
    "solve",
    "sparse_bytes",
    "state",
]

COMPLEX = 16
REAL = 8
#: Krylov vectors GMRES keeps (restart 60, plus the start) and work vectors of the iterative solver.
GMRES_VECTORS = 61 + 9
#: Bytes of a CSR matrix's Python object and its three array headers (measured with tracemalloc).
SPARSE_OBJECT = 1000
#: Bytes of a CSR matrix object sharing another's arrays (``csr_array(L)`` of a CSR matrix).
SPARSE_VIEW = 400
#: Sites up to this dimension take the bound on their local jumps; larger ones are counted.
SMALL_SITE = 16
#: Bytes per stored entry of a LIL matrix (Python lists of ints and complex numbers).
LIL_ENTRY = 80
#: Solvers that work on the full space of vec(rho), for every generator.
SOLVERS_FULL = ("dense", "sparse", "iterative")


def dense_bytes(d: int, itemsize: int = COMPLEX) -> int:
    """Bytes of a dense d x d array."""
    return itemsize * d * d


def sparse_bytes(entries: int, rows: int, count: int = 1) -> int:
    """Bytes of `count` complex CSR matrices with `entries` stored entries in all and `rows` rows each.

    Each matrix also costs its row pointer and its Python object: a jump operator with one entry in a
    d x d space still holds d + 1 row pointers.
    """
    index = 4 if max(entries, rows) < 2**31 else 8
    return entries * (COMPLEX + index) + count * ((rows + 1) * index + SPARSE_OBJECT)


def sparse_hamiltonian_bytes(entries: int, d: int) -> int:
    """A medium's sparse Hamiltonian: the parts it keeps, one Hamiltonian and the temporaries of the sum."""
    return 4 * sparse_bytes(entries, d)


def format_bytes(n: float) -> str:
    """``1.23 GB`` style (decimal units)."""
    if n >= 1e18:
        return f"{n:.3g} B"
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def require(owner: str, what: str, nbytes: float, limit: float | None = None) -> None:
    """Refuse (`WorkbenchError`) to allocate `nbytes` for `what` when that exceeds `limit`.

    Media have no options, so they check against the default limit (80 % of physical memory).
    """
    limit = DEFAULT_OPTIONS.memory_limit if limit is None else limit
    if nbytes > limit:
        raise WorkbenchError(
            f"{owner}: {what} needs about {format_bytes(nbytes)}, above the memory limit "
            f"{format_bytes(limit)} (engines.Options().memory_limit); nothing was allocated."
        )


@dataclass(frozen=True)
class Estimate:
    """Estimated allocations of one step (a build, a solve), in bytes.

    Attributes
    ----------
    kept : tuple of (str, int)
        Arrays alive to the end of the step and after it (a generator's tables).
    during : tuple of (str, int)
        Arrays alive through the whole step and freed at its end.
    peaks : tuple of (str, int)
        Short-lived workspaces, one at a time.
    """

    kept: tuple = ()
    during: tuple = ()
    peaks: tuple = ()

    @property
    def total(self) -> int:
        """Peak memory: everything kept and alive during the step, plus the largest workspace."""
        return (
            sum(b for _, b in self.kept)
            + sum(b for _, b in self.during)
            + max((b for _, b in self.peaks), default=0)
        )

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(self.kept + other.kept, self.during + other.during, self.peaks + other.peaks)

    def summary(self, parts: int = 4) -> str:
        """``about 1.2 GB (eigenvectors 400 MB, ...)``: the total and its largest parts."""
        merged: dict[str, int] = {}
        for label, b in (*self.kept, *self.during, *self.peaks):
            merged[label] = merged.get(label, 0) + b
        largest = sorted(merged.items(), key=lambda kv: -kv[1])[:parts]
        detail = ", ".join(f"{label} {format_bytes(b)}" for label, b in largest if b > 0)
        return f"about {format_bytes(self.total)}" + (f" [{detail}]" if detail else "")


# ----------------------------------------------------------------------------------------------
# building a generator


def _hamiltonian(medium, sparse: bool) -> Estimate:
    d = medium.dim
    if sparse:
        total = sparse_hamiltonian_bytes(medium._sparse_entries(), d)
        return Estimate(
            kept=(("sparse Hamiltonian", total // 2),),
            peaks=(("sparse Hamiltonian temporaries", total // 2),),
        )
    return Estimate(during=(("dense Hamiltonian", dense_bytes(d)),))


def _channels(reservoirs) -> int:
    return sum(len(r.channels()) for r in reservoirs)


def build(medium, reservoirs, flavour: str, drive=None, options=None, jumps: bool = True) -> Estimate:
    """Estimated allocations of `engines.generators.build_generator` (nothing of its size is built).

    Parameters
    ----------
    medium : engines.media.Medium
    reservoirs : sequence of Reservoir
    flavour : {"global", "local"}
    drive : Drive or None
    options : engines.Options, optional
        Its ``degeneracy_tol`` groups the Bohr frequencies of large sites (local flavour).
    jumps : bool
        Local flavour: include the jump operators. On a site larger than `SMALL_SITE` they are
        counted from the site's own spectrum (a site-sized eigendecomposition), so check the estimate
        without them first.
    """
    d = medium.dim
    has_sparse = medium._sparse_entries() is not None
    if flavour != "local":  # global, unified, redfield: an eigendecomposition of H
        sparse = has_sparse and d > SPARSE_HAMILTONIAN_DIM and drive is None
        eig = REAL if medium._real else COMPLEX
        n_ch = _channels(reservoirs)
        b = min(d, medium._largest_sector()) if sparse else d
        out = _hamiltonian(medium, sparse) + Estimate(
            kept=(
                ("eigenvectors", dense_bytes(d, eig)),
                ("Bohr-frequency ids", dense_bytes(d, REAL)),
                ("Bohr frequencies", dense_bytes(d, REAL)),
                ("coupling operators in the eigenbasis", n_ch * dense_bytes(d)),
                ("rate tables", n_ch * dense_bytes(d, REAL)),
            ),
            peaks=(
                ("eigendecomposition workspace", dense_bytes(b, eig) * 2 + dense_bytes(b, REAL) * 2),
                ("Bohr-frequency clustering", 7 * dense_bytes(d, REAL)),
                ("coupling operator basis change", 3 * dense_bytes(d)),
            ),
        )
        if drive is not None:
            out += Estimate(peaks=(("rotating-frame Hamiltonian", 3 * dense_bytes(d)),))
        return out
    sparse = has_sparse and drive is None
    if sparse:
        out = _hamiltonian(medium, True) + Estimate(kept=(("bare Hamiltonian", 2 * sparse_bytes(d, d)),))
    else:
        out = Estimate(
            kept=(("Hamiltonians as sparse matrices", 2 * sparse_bytes(d * d, d)),),
            during=(("dense Hamiltonians", 2 * dense_bytes(d)),),
        )
    sites = {r.site or 0 for r in reservoirs if (r.site or 0) < len(medium.site_dims)}
    largest = max((medium.site_dims[s] for s in sites), default=1)
    out += Estimate(peaks=(("site eigendecompositions", 4 * dense_bytes(largest)),))
    if jumps:
        out += Estimate(kept=(("jump operators", _local_jumps(medium, reservoirs, options)),))
    return out


def _local_jumps(medium, reservoirs, options) -> int:
    """Bytes of the local flavour's embedded jump operators.

    A site of dimension d_s has at most d_s (d_s - 1) + 1 Bohr frequencies, and each jump on it, embedded,
    at most d d_s entries; small sites take that bound.  Larger sites (an oscillator, a big spin) would
    make it absurd, so their jumps are counted on the site's spectrum: one per Bohr-frequency cluster with
    a non-zero amplitude, with as many entries as the amplitude has when the site's eigenbasis is its own
    basis (a diagonal site Hamiltonian), else d_s^2.
    """
    from engines import davies
    from engines.generators import coupling_operator

    options = options or DEFAULT_OPTIONS
    d = medium.dim
    total = 0
    spectra: dict = {}
    for r in reservoirs:
        if not r.thermal:  # built in the medium's basis from its own jumps (engines.generators)
            continue
        site = r.site or 0
        ds = medium.site_dims[site] if site < len(medium.site_dims) else d
        if ds <= SMALL_SITE:
            n_jumps = min(ds * ds, ds * (ds - 1) + 1)
            total += len(r.channels()) * sparse_bytes(n_jumps * d * ds, d, n_jumps)
            continue
        x, site = coupling_operator(medium, r, local=True)
        if site not in spectra:
            h = np.asarray(medium.local_hamiltonian(site), dtype=complex)
            spectra[site] = davies.spectrum(h, options.degeneracy_tol)
        spec = spectra[site]
        own_basis = np.count_nonzero(np.abs(spec.basis) > davies.AMPLITUDE_CUTOFF) == ds
        xe = spec.basis.conj().T @ x @ spec.basis
        for ch in r.channels():
            amp = np.abs(np.sqrt(spec.rate_table(ch.rate)) * (xe.conj().T if ch.adjoint else xe))
            mask = amp > davies.AMPLITUDE_CUTOFF * max(1.0, float(np.max(amp, initial=0.0)))
            clusters, counts = np.unique(spec.bohr_ids[mask], return_counts=True)
            entries = int(counts.sum()) if own_basis else clusters.size * ds * ds
            total += sparse_bytes(entries * (d // ds), d, clusters.size)
    return total


def engine_estimate(medium, reservoirs, flavour, drive, options) -> Estimate:
    """The generator and the steady state (what constructing and solving an `Engine` needs at least)."""
    limit = (options or DEFAULT_OPTIONS).memory_limit
    out = build(medium, reservoirs, flavour, drive, options, jumps=False) + state(medium.dim)
    if flavour == "local" and out.total <= limit:
        out = build(medium, reservoirs, flavour, drive, options) + state(medium.dim)
    return out


def state(d: int) -> Estimate:
    """The steady state itself: the dense state, its Hermitian part and the eigenvalue check."""
    return Estimate(peaks=(("steady state and its checks", 4 * dense_bytes(d)),))


# ----------------------------------------------------------------------------------------------
# solving


def resolve_solver(generator, solver: str, options) -> str:
    """The solver ``"auto"`` picks (the rule of `engines.steady.solve_steady_state`)."""
    if solver != "auto":
        return solver
    from engines.steady import auto_solver

    return auto_solver(generator, options)


def _jumps_built(generator) -> bool:
    return generator.davies is None or all("_jump_list" in vars(D) for D in generator.dissipators)


def _jumps(generator) -> Estimate:
    """The jump operators: measured when built, else counted from the eigenbasis tables.

    Unbuilt Davies jumps are one CSR matrix per Bohr-frequency cluster and channel with a non-zero
    amplitude: a generic spectrum has about d^2 clusters, so their row pointers alone can outweigh
    every table.
    """
    d = generator.dim
    if _jumps_built(generator):
        total = sum(sparse_bytes(L.nnz, d) for D in generator.dissipators for L in D.jumps)
        return Estimate(kept=(("jump operators", total),))
    ids = generator.davies.spectrum.bohr_ids
    total = 0
    for channels in generator.davies.channels:
        for c in channels:
            nonzero = (c.R > 0) & (c.X != 0)
            entries = int(np.count_nonzero(nonzero))
            count = int(np.unique(ids[nonzero]).size)
            total += sparse_bytes(entries, d, count)
    return Estimate(kept=(("jump operators", total),))


def _jump_count(generator) -> int:
    return sum(len(D.jumps) for D in generator.dissipators)


def _superoperator_entries(generator) -> int:
    """Stored entries of the sparse d^2 x d^2 superoperator (an upper bound: no cancellations)."""
    d = generator.dim
    n = 2 * d * generator.hamiltonian.nnz
    for D in generator.dissipators:
        n += sum(L.nnz**2 for L in D.jumps) + 2 * d * D.decay.nnz
    return min(n, d**4)


def solve(generator, solver: str, options) -> Estimate:
    """Estimated allocations of the solve itself (workspace and the state; not the generator).

    For ``"sparse"`` and ``"iterative"`` this builds the jump operators (both solvers need them)
    and reads the population sector from `engines.steady`; check `_jumps` first.
    """
    d = generator.dim
    solver = resolve_solver(generator, solver, options)
    out = state(d)
    if solver == "pauli":
        n = int(np.sum(np.diff(generator.davies.spectrum.starts) ** 2))
        return out + Estimate(during=(("zero-frequency generator and its LU", 3 * dense_bytes(n)),))
    if solver == "dense":
        return dense_solve(d, _superoperator_entries(generator), _jump_count(generator))
    from engines.steady import _sectors  # the solvers' own sector structure

    sec = _sectors(generator)
    sizes = np.array([b.size for b in sec.blocks], dtype=np.int64)
    m = int(sum(sizes[c] * sizes[c2] for c, c2 in sec.pairs))
    if solver == "sparse":
        from engines.steady import population_sector

        m = int(population_sector(generator).size)  # a secular generator's: its zero-frequency sector
        nnz_s = _superoperator_entries(generator)
        nnz_a = max(m, nnz_s * m // (d * d))
        # a secular superoperator comes from the Davies tables, without jump operators
        jumps = 0 if generator.secular else SPARSE_VIEW * _jump_count(generator)
        return out + Estimate(
            during=(
                ("sparse superoperator", 2 * sparse_bytes(nnz_s, d * d)),
                ("copies of the jump operators", jumps),
                (
                    "population-sector matrix and its LU factors (no fill-in)",
                    4 * sparse_bytes(nnz_a, m) + LIL_ENTRY * nnz_a,
                ),
            )
        )
    # iterative: Schur forms of the blocks, jump operators between blocks, the Krylov basis
    schur = 2 * COMPLEX * int(np.sum(sizes**2))
    largest = 3 * COMPLEX * int(sizes.max()) ** 2
    pieces = 0
    for D in generator.dissipators:
        for L in D.jumps:
            coo = L.tocoo()
            pairs = set(zip(sec.label[coo.row].tolist(), sec.label[coo.col].tolist()))
            pieces += COMPLEX * sum(int(sizes[a]) * int(sizes[c]) for a, c in pairs)
    return out + Estimate(
        during=(
            ("Schur forms of the no-jump blocks", schur),
            ("jump operators between blocks", pieces),
            (f"GMRES Krylov basis ({m} unknowns)", GMRES_VECTORS * COMPLEX * m),
        ),
        peaks=(("Schur decomposition of the largest block", largest),),
    )


# ----------------------------------------------------------------------------------------------
# refusals with what would fit


def _largest_chain(medium, reservoirs, flavour, drive, options) -> int | None:
    for n in range(medium.n - 1, 1, -1):
        smaller = medium.replace(n=n)
        # A reservoir at the far end of the chain stays at its end.
        moved = [r.replace(site=n - 1) if r.site is not None and r.site >= n else r for r in reservoirs]
        if engine_estimate(smaller, moved, flavour, drive, options).total <= options.memory_limit:
            return n
    return None


def _fits(medium, reservoirs, flavour, drive, options) -> list[str]:
    """What would fit: a smaller medium in this flavour, and the other flavour."""
    from engines.media import SpinChain

    out = []
    limit = options.memory_limit
    here = engine_estimate(medium, reservoirs, flavour, drive, options).total
    if isinstance(medium, SpinChain):
        n = _largest_chain(medium, reservoirs, flavour, drive, options)
        out.append(
            f"this chain up to n = {n} sites in the {flavour} flavour"
            if n is not None
            else f"no chain in the {flavour} flavour"
        )
    else:
        # Every part of a dense medium's estimate grows like d^2.
        d = int(medium.dim * math.sqrt(limit / here))
        out.append(
            f"a medium of dimension up to about {d} in the {flavour} flavour (this one has {medium.dim})"
        )
    other = "local" if flavour == "global" else "global"
    there = engine_estimate(medium, reservoirs, other, drive, options)
    if there.total <= limit:
        out.append(f"the {other} flavour (about {format_bytes(there.total)})")
    else:
        out.append(f"not the {other} flavour either (about {format_bytes(there.total)})")
    return out


def check_engine(medium, reservoirs, flavour, drive, options) -> None:
    """Refuse an engine whose generator and steady state would not fit in `options.memory_limit`.

    Raises
    ------
    WorkbenchError
        With the estimate, the limit and what would fit (a smaller chain or medium, the other flavour).
    """
    estimate = engine_estimate(medium, reservoirs, flavour, drive, options)
    limit = options.memory_limit
    if estimate.total <= limit:
        return
    fits = "; ".join(_fits(medium, reservoirs, flavour, drive, options))
    raise WorkbenchError(
        f"Engine: `medium` {medium!r} needs {estimate.summary()} in the {flavour} flavour "
        f"(generator and steady state), above `options.memory_limit` = {format_bytes(limit)}; nothing "
        f"was allocated. What fits: {fits}."
    )


def _solve_estimate(engine, generator, name: str, options) -> Estimate:
    """The generator's tables plus the solve with solver `name` (a lower bound where it already fails)."""
    d = generator.dim
    tables = build(engine.medium, engine.reservoirs, generator.flavour, engine.drive, options, jumps=False)
    kept = Estimate(kept=tables.kept)
    if name == "pauli":
        return kept + solve(generator, "pauli", options)
    kept += _jumps(generator)
    if name == "dense":
        alone = kept + dense_solve(d)
        return alone if alone.total > options.memory_limit else kept + solve(generator, name, options)
    # The sparse and iterative solvers need the jumps and the sector structure: build them only
    # when they fit.
    if (kept + state(d)).total > options.memory_limit:
        return kept + state(d)
    return kept + solve(generator, name, options)


def check_solve(engine, generator, solver: str, options) -> None:
    """Refuse a steady-state solve that would not fit next to the generator, naming the solvers that fit.

    Raises
    ------
    WorkbenchError
        With the estimate, the limit and the solvers whose estimate fits.
    """
    limit = options.memory_limit
    chosen = resolve_solver(generator, solver, options)
    if chosen == "pauli" and not generator.secular:
        return  # the solver refuses this generator itself
    here = _solve_estimate(engine, generator, chosen, options)
    if here.total <= limit:
        return
    others = []
    candidates = ("pauli", "dense", "sparse", "iterative") if generator.secular else SOLVERS_FULL
    for name in candidates:
        if name != chosen:
            e = _solve_estimate(engine, generator, name, options)
            if e.total <= limit:
                others.append(f"solver={name!r} (about {format_bytes(e.total)})")
    fits = ", ".join(others) if others else "no solver for this machine, only a smaller medium"
    auto = " (chosen by 'auto')" if solver == "auto" else ""
    raise WorkbenchError(
        f"steady_state: `solver` {chosen!r}{auto} needs {here.summary()} for {engine.medium!r}, above "
        f"`options.memory_limit` = {format_bytes(limit)}; nothing was allocated. What fits: {fits}."
    )


def dense_solve(d: int, entries: int | None = None, jumps: int = 0) -> Estimate:
    """The dense solver: the d^2 x d^2 generator, its trace-constrained copy and its LU factors.

    `entries` is the number of stored entries of the sparse superoperator it is converted from
    (built and summed first: twice its size) and `jumps` the number of jump operators, when known.
    """
    out = state(d) + Estimate(
        during=(("dense d^2 x d^2 generator, its copy and LU", 3 * dense_bytes(d * d)),),
        peaks=(("imaginary part of the generator", dense_bytes(d * d, REAL)),),
    )
    if entries is not None:
        out += Estimate(peaks=(("sparse superoperator", 2 * sparse_bytes(entries, d * d)),))
        out += Estimate(during=(("copies of the jump operators", SPARSE_VIEW * jumps),))
    return out
