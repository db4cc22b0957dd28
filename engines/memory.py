"""Memory estimates of what a build or a solve will allocate, made before anything is allocated.

A medium that is too large for the machine should be refused in a millisecond with the numbers,
not after seconds of allocation with a bare `MemoryError` (or a machine thrashing its swap).  The
estimates below count the large arrays each step allocates, from the dimensions alone; they are
compared with `Options.memory_limit` (default 80 % of physical memory) and a refusal says what the
estimate is, what the limit is and what would fit instead.

Model (d = dimension of the medium, 16 bytes a complex entry, 8 a real or an int64, a CSR entry its
value plus a column index):

* medium Hamiltonian: the sparse matrix a `SpinChain` builds (its bond sums and one Hamiltonian, and
  as much again in temporaries), or a dense d x d matrix;
* global flavour: eigenvectors (d x d, real for real Hamiltonians), Bohr-frequency ids and
  frequencies (d x d each), and per reservoir channel the coupling operator in the eigenbasis
  (complex d x d) and its rate table (real d x d); the transient peaks are the eigendecomposition's
  workspace, the Bohr-frequency clustering (seven d x d arrays) and each coupling's basis change
  (three complex d x d);
* local flavour: the Hamiltonian and the bare one, and per channel the embedded jump operators (at
  most d x d_s entries for a site of dimension d_s);
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
#: Bytes per stored entry of a LIL matrix (Python lists of ints and complex numbers).
LIL_ENTRY = 80
#: Solvers that work on the full space of vec(rho) (every generator), and the populations-only one.
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
        nnz = medium._sparse_entries()
        return Estimate(
            kept=(("sparse Hamiltonian", 2 * sparse_bytes(nnz, d)),),
            peaks=(("sparse Hamiltonian temporaries", 2 * sparse_bytes(nnz, d)),),
        )
    return Estimate(during=(("dense Hamiltonian", dense_bytes(d)),))


def _channels(reservoirs) -> int:
    return sum(len(r.channels()) for r in reservoirs)


def build(medium, reservoirs, flavour: str, drive=None) -> Estimate:
    """Estimated allocations of `engines.generators.build_generator` (nothing is built).

    Parameters
    ----------
    medium : engines.media.Medium
    reservoirs : sequence of Reservoir
    flavour : {"global", "local"}
    drive : Drive or None
    """
    d = medium.dim
    has_sparse = medium._sparse_entries() is not None
    if flavour == "global":
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
    jumps = 0
    for r in reservoirs:
        ds = medium.site_dims[r.site] if r.site is not None and r.site < len(medium.site_dims) else d
        n_jumps = min(ds * ds, ds * (ds - 1) + 1)
        jumps += len(r.channels()) * sparse_bytes(d * ds, d, n_jumps)
    return out + Estimate(kept=(("jump operators", jumps),))


def state(d: int) -> Estimate:
    """The steady state itself: the dense state, its Hermitian part and the eigenvalue check."""
    return Estimate(peaks=(("steady state and its checks", 4 * dense_bytes(d)),))


# ----------------------------------------------------------------------------------------------
# solving


def resolve_solver(generator, solver: str, options) -> str:
    """The solver ``"auto"`` picks (the rule of `engines.steady.solve_steady_state`)."""
    if solver != "auto":
        return solver
    if generator.secular:
        return "pauli"
    return "dense" if generator.dim <= options.dense_max_dim else "iterative"


def _jumps_built(generator) -> bool:
    return generator.davies is None or all("_jump_list" in vars(D) for D in generator.dissipators)


def _jumps(generator) -> Estimate:
    """Davies jumps not yet built: their entries and number, counted from the eigenbasis tables.

    One CSR matrix per Bohr-frequency cluster and channel with a non-zero amplitude: a generic
    spectrum has about d^2 clusters, so the row pointers alone can outweigh every table.
    """
    if _jumps_built(generator):
        return Estimate()
    d = generator.dim
    ids = generator.davies.spectrum.bohr_ids
    total = 0
    for channels in generator.davies.channels:
        for c in channels:
            nonzero = (c.R > 0) & (c.X != 0)
            entries = int(np.count_nonzero(nonzero))
            count = int(np.unique(ids[nonzero]).size)
            total += sparse_bytes(entries, d, count)
    return Estimate(kept=(("jump operators", total),))


def _nnz(m) -> int:
    return int(m.nnz)


def _jump_count(generator) -> int:
    return sum(len(D.jumps) for D in generator.dissipators)


def _superoperator_entries(generator) -> int:
    """Stored entries of the sparse d^2 x d^2 superoperator (an upper bound: no cancellations)."""
    d = generator.dim
    n = 2 * d * _nnz(generator.hamiltonian)
    for D in generator.dissipators:
        n += sum(_nnz(L) ** 2 for L in D.jumps) + 2 * d * _nnz(D.decay)
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
        nnz_s = _superoperator_entries(generator)
        nnz_a = max(m, nnz_s * m // (d * d))
        return out + Estimate(
            during=(
                ("sparse superoperator", 2 * sparse_bytes(nnz_s, d * d)),
                ("copies of the jump operators", SPARSE_VIEW * _jump_count(generator)),
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
    onehot_label = sec.label
    for D in generator.dissipators:
        for L in D.jumps:
            coo = L.tocoo()
            pairs = set(zip(onehot_label[coo.row].tolist(), onehot_label[coo.col].tolist()))
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


def _largest_chain(medium, reservoirs, flavour, drive, limit) -> int | None:
    for n in range(medium.n - 1, 1, -1):
        smaller = medium.replace(n=n)
        if (build(smaller, reservoirs, flavour, drive) + state(smaller.dim)).total <= limit:
            return n
    return None


def _fits(medium, reservoirs, flavour, drive, limit) -> list[str]:
    """What would fit: a smaller medium in this flavour, and the other flavour."""
    from engines.media import SpinChain

    out = []
    here = (build(medium, reservoirs, flavour, drive) + state(medium.dim)).total
    if isinstance(medium, SpinChain):
        n = _largest_chain(medium, reservoirs, flavour, drive, limit)
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
    there = build(medium, reservoirs, other, drive) + state(medium.dim)
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
    estimate = build(medium, reservoirs, flavour, drive) + state(medium.dim)
    limit = options.memory_limit
    if estimate.total <= limit:
        return
    fits = "; ".join(_fits(medium, reservoirs, flavour, drive, limit))
    raise WorkbenchError(
        f"Engine: `medium` {medium!r} needs {estimate.summary()} in the {flavour} flavour "
        f"(generator and steady state), above `options.memory_limit` = {format_bytes(limit)}; nothing "
        f"was allocated. What fits: {fits}."
    )


def _solve_estimate(engine, generator, name: str, options) -> Estimate:
    """The generator's tables plus the solve with solver `name` (a lower bound where it already fails)."""
    d = generator.dim
    kept = Estimate(kept=build(engine.medium, engine.reservoirs, generator.flavour, engine.drive).kept)
    if name == "pauli":
        return kept + solve(generator, "pauli", options)
    first = kept + _jumps(generator)
    if name == "dense":
        alone = first + dense_solve(d)
        return alone if alone.total > options.memory_limit else kept + solve(generator, name, options)
    # The sparse and iterative solvers need the jumps and the sector structure: build them only
    # when they fit.
    if (first + state(d)).total > options.memory_limit:
        return first + state(d)
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
