"""Elementary steps a stroke compiles into, and the maps each step applies to the state.

Every stroke becomes a sequence of steps on vec(rho):

* `Quench` H -> H' (an instantaneous change of controls): rho unchanged, W = Tr[(H' - H) rho];
* `Evolve` for a share of the stroke's duration under a fixed Hamiltonian H, unitary or with one
  reservoir attached: rho -> exp(L t) rho, Delta E = Tr[H (rho_out - rho_in)] booked to that
  reservoir, split into heat Delta E - mu Delta N and chemical work mu Delta N for a fermionic lead;
* `Precomposed` unitary of a whole time-ordered drive: W = Tr[H_end (rho_out - rho_in)].

So the first law W + W_chem + Q = Delta E holds step by step, exactly.  A time-ordered drive is one
unitary composed from fourth-order Magnus steps, doubled until it converges; an isotherm is the
piecewise-constant protocol of its `steps` (the Hamiltonian at each step's midpoint).

A step builds no superoperator when it is compiled.  The cycle's solver first decides the state
space (the populations, when every step maps diagonal states to diagonal states, or all of vec(rho))
and then asks each step for its map there (`Evolve.action`, `Precomposed.action`):

* on the populations, a Davies generator of a Hamiltonian diagonal in the medium's basis is its
  Pauli rate matrix (`engines.davies.DaviesTables.zero_frequency_generator`), d x d;
* on vec(rho), the generator is taken in its own basis (the eigenbasis of H for the global flavour,
  where it maps each Bohr-frequency sector into itself), diagonalised sector by sector
  (`engines.linalg.Propagator` with ``blocks="auto"``), and the basis change is applied as
  rho -> V rho V^dag to the columns it acts on (d^5 operations instead of the d^6 of a dense
  (conj(V) kron V) product).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from cycles.strokes import Isotherm, Thermalize, Unitary
from engines import davies
from engines.checks import UserCodeError, fail
from engines.generators import build_generator
from engines.linalg import Propagator, Spectral, trace_vector

__all__ = ["Evolve", "Precomposed", "Quench", "compile_stroke"]

#: Magnus steps of the first trial of a time-ordered drive.
FIRST_MAGNUS_STEPS = 8
#: Magnus steps formed and multiplied together (stacks of this many d x d matrices stay in cache).
MAGNUS_BLOCK = 64
#: Largest dt ||Omega||_1 for which a Magnus step's exponential is a Taylor polynomial (else eigh).
TAYLOR_NORM = 0.5
#: Largest medium dimension whose generator is built as a dense d^2 x d^2 array (sparse above).
DENSE_GENERATOR_DIM = 32


def compile_stroke(stroke, medium, options, n=None, cache=None) -> list:
    """The elementary steps of `stroke` on `medium` (`n` overrides an isotherm's step count).

    `cache` (a dict shared by the strokes of one cycle) memoises the medium's Hamiltonians by their
    controls: consecutive strokes share their end points, and a medium may be slow to build one.
    """
    hamiltonians = _Hamiltonians(medium, cache)
    if isinstance(stroke, Thermalize):
        controls = {**medium.controls, **stroke.controls}
        H = hamiltonians(controls)
        return [Evolve(H, medium, (stroke.bath,), stroke.flavour, controls, 1.0, options)]
    path = _Path(medium, stroke.start, stroke.end, stroke.schedule, stroke.name, hamiltonians)
    if isinstance(stroke, Isotherm):
        return path.piecewise(n or stroke.steps, stroke.bath, stroke.flavour, options)
    if isinstance(stroke, Unitary):
        return _unitary(stroke, path, medium, options)
    raise TypeError(f"not a stroke: {stroke!r}")  # pragma: no cover - Cycle checks the types


class _Hamiltonians:
    """medium.hamiltonian(**controls) and the affinity of segments, memoised in a shared dict."""

    def __init__(self, medium, cache):
        self.medium = medium
        self.cache = {} if cache is None else cache

    @staticmethod
    def _key(controls) -> tuple:
        return tuple(sorted((k, float(v)) for k, v in controls.items()))

    def __call__(self, controls) -> np.ndarray:
        key = ("H", self._key(controls))
        if key not in self.cache:
            H = np.asarray(self.medium.hamiltonian(**controls), dtype=complex)
            H.setflags(write=False)
            self.cache[key] = H
        return self.cache[key]

    def affine(self, a, b) -> bool:
        """Whether H is affine along the segment a -> b of controls (checked at two inner points)."""
        lo, hi = sorted((self._key(a), self._key(b)))
        key = ("affine", lo, hi)
        if key not in self.cache:
            lo, hi = dict(lo), dict(hi)
            H_lo, H_hi = self(lo), self(hi)
            self.cache[key] = all(
                np.allclose(
                    self({k: lo[k] + s * (hi[k] - lo[k]) for k in lo}),
                    H_lo + s * (H_hi - H_lo),
                    rtol=0,
                    atol=1e-13,
                )
                for s in (0.29, 0.71)
            )
        return self.cache[key]


def _unitary(stroke, path, medium, options) -> list:
    if stroke.duration == 0.0:
        return [Quench(path.hamiltonian(0.0), path.hamiltonian(1.0))]
    if path.commuting():
        # H(t) commutes with itself: populations in the common eigenbasis do not move and
        # W = Tr[(H_end - H_start) rho] exactly; the phases exp(-i int H dt) are kept by evolving
        # under the time-averaged Hamiltonian.
        H_mean = sum(path.hamiltonian(s) for s in np.linspace(0, 1, 9)) / 9
        return [
            Quench(path.hamiltonian(0.0), H_mean),
            Evolve(H_mean, medium, (), None, None, 1.0, options),
            Quench(H_mean, path.hamiltonian(1.0)),
        ]
    U, n = path.time_ordered(stroke.duration, options)
    return [Quench(path.hamiltonian(0.0), path.hamiltonian(1.0)), Precomposed(U, path.hamiltonian(1.0), n)]


class _Path:
    """Controls along a stroke: start + s (end - start), s = schedule(t / duration)."""

    def __init__(self, medium, start, end, schedule, name, hamiltonians=None):
        self.medium = medium
        base = medium.controls
        self.start = {**base, **start}
        self.end = {**base, **end}
        self.schedule = schedule
        self.name = name
        self._hamiltonians = hamiltonians or _Hamiltonians(medium, None)
        # Most media are affine in their controls: then H(s) = H_0 + s (H_1 - H_0) exactly, and
        # the many Hamiltonians of a time-ordered stroke cost no calls to the medium.  The verdict
        # belongs to the segment, whichever way a stroke runs along it (shared through the cache).
        self._ends = (self._build(0.0), self._build(1.0))
        self._affinity = None

    @property
    def _affine(self) -> bool:
        if self._affinity is None:  # two calls to the medium: only when an inner H is needed
            self._affinity = self._hamiltonians.affine(self.start, self.end)
        return self._affinity

    def _build(self, s: float) -> np.ndarray:
        return self._hamiltonians(self._at(s))

    def _at(self, s: float) -> dict:
        return {k: self.start[k] + s * (self.end[k] - self.start[k]) for k in self.start}

    def fraction(self, u: float) -> float:
        if self.schedule == "smooth":
            return u - math.sin(2.0 * math.pi * u) / (2.0 * math.pi)
        if not callable(self.schedule):
            return u
        try:
            s = self.schedule(u)
        except Exception as exc:
            raise UserCodeError(
                f"stroke {self.name!r}: the schedule failed at t/duration = {u}: {exc}"
            ) from exc
        if (
            isinstance(s, bool)
            or not isinstance(s, (int, float, np.floating, np.integer))
            or not math.isfinite(s)
        ):
            raise UserCodeError(
                f"stroke {self.name!r}: `schedule` must return a finite real number, "
                f"got {s!r} at t/duration = {u}."
            )
        return float(s)

    def controls(self, u: float) -> dict:
        return self._at(self.fraction(u))

    def hamiltonian(self, u: float) -> np.ndarray:
        if self._affine:
            H0, H1 = self._ends
            return H0 + self.fraction(u) * (H1 - H0)
        return self._build(self.fraction(u))

    def commuting(self) -> bool:
        """Whether H(t) commutes with itself along the path (checked at a few points)."""
        Hs = [self.hamiltonian(u) for u in (0.0, 0.37, 1.0)]
        scale = max(1.0, max(float(np.max(np.abs(H))) for H in Hs))
        return all(np.max(np.abs(A @ B - B @ A)) <= 1e-12 * scale**2 for A in Hs for B in Hs)

    def time_ordered(self, duration: float, options) -> tuple[np.ndarray, int]:
        """(U, n): the drive's propagator from n Magnus steps, n the first of 8, 16, 32, ... that converges.

        U_n converges when it differs from U_{n/2} by less than ``drive_tol``.

        Fourth-order steps make the change fall 16-fold per doubling, so after two trials the first n
        that can pass is predicted and only U_{n/2} and U_n are built there (further doublings if it
        fails).  A real H(s) run backwards along the same linear path gives the transpose: with
        H^T = H the Magnus steps of the reversed drive are the transposes of the forward ones in
        reverse order (the Gauss points mirror, and [H2, H1] is antisymmetric), so
        U_reverse = U^T step count for step count (time-reversal symmetry); it is taken from the
        cycle's cache when the forward drive was built.
        """
        cache = self._hamiltonians.cache
        a, b = _Hamiltonians._key(self.start), _Hamiltonians._key(self.end)
        schedule = self.schedule if callable(self.schedule) else str(self.schedule)
        key = ("magnus", a, b, float(duration), schedule)
        reverse = ("magnus", b, a, float(duration), schedule)
        # Both named schedules are symmetric, s(1 - u) = 1 - s(u): run backwards they retrace the path.
        if key not in cache and reverse in cache and schedule in ("linear", "smooth") and self._real():
            U, n = cache[reverse]
            cache[key] = (np.ascontiguousarray(U.T), n)
        if key not in cache:
            cache[key] = self._converge(duration, options)
        return cache[key]

    def _real(self) -> bool:
        """Whether H(s) is real along the path (affine with real ends)."""
        return self._affine and not (np.any(self._ends[0].imag) or np.any(self._ends[1].imag))

    def _converge(self, duration, options) -> tuple[np.ndarray, int]:
        tol, n = options.drive_tol, FIRST_MAGNUS_STEPS
        U, U2 = self.magnus(n, duration), self.magnus(2 * n, duration)
        change = float(np.max(np.abs(U2 - U)))
        n *= 2
        if change >= tol and change > 0:
            predicted = n * (change / tol) ** 0.25
            jump = 2 ** max(0, math.ceil(math.log2(predicted / n)) - 1)
            if jump > 1 and n * jump <= options.max_drive_steps:
                n *= jump
                U2 = self.magnus(n, duration)
        while change >= tol:
            if 2 * n > options.max_drive_steps:
                fail(
                    f"Unitary {self.name!r}",
                    "duration",
                    duration,
                    f"a drive that converges within {options.max_drive_steps} Magnus steps "
                    f"(change {change:.2g})",
                )
            U, U2 = U2, self.magnus(2 * n, duration)
            change = float(np.max(np.abs(U2 - U)))
            n *= 2
        return U2, n

    def magnus(self, n: int, duration: float) -> np.ndarray:
        """The propagator of H(t) from n steps of the fourth-order Magnus integrator.

        exp(-i dt Omega) per step with Omega = (H1 + H2)/2 - i (sqrt(3)/12) dt [H2, H1], H1, H2 at
        the two Gauss points (Blanes, Casas, Oteo, Ros, Phys. Rep. 470, 151 (2009), eq. 253).  All
        steps are formed together, MAGNUS_BLOCK at a time (batched products on stacks that stay in
        cache); for an affine H(s) = H_0 + s D the commutator is (s2 - s1) [D, H_0], one product for
        the whole drive.
        """
        dt = duration / n
        c = math.sqrt(3.0) / 6.0
        k = np.arange(n)
        s1 = np.array([self.fraction(u) for u in (k + 0.5 - c) / n])
        s2 = np.array([self.fraction(u) for u in (k + 0.5 + c) / n])
        kappa = 1j * (math.sqrt(3.0) / 12.0) * dt
        if self._affine:
            H0, H1 = self._ends
            D = H1 - H0
            C = D @ H0 - H0 @ D
            mean = 0.5 * (s1 + s2)
        U = None
        for start in range(0, n, MAGNUS_BLOCK):
            part = slice(start, start + MAGNUS_BLOCK)
            if self._affine:
                omega = H0 + mean[part, None, None] * D - (kappa * (s2[part] - s1[part]))[:, None, None] * C
            else:
                A = np.stack([self._build(s) for s in s1[part]])
                B = np.stack([self._build(s) for s in s2[part]])
                omega = 0.5 * (A + B) - kappa * (B @ A - A @ B)
            block = _ordered_product(_exp_hermitian(omega, dt))
            U = block if U is None else block @ U
        return U

    def piecewise(self, n: int, bath, flavour, options) -> list:
        out, previous = [], self.hamiltonian(0.0)
        for k in range(n):
            u = (k + 0.5) / n
            H = self.hamiltonian(u)
            out.append(Quench(previous, H))
            out.append(Evolve(H, self.medium, (bath,), flavour, self.controls(u), 1.0 / n, options))
            previous = H
        out.append(Quench(previous, self.hamiltonian(1.0)))
        return out


def _exp_hermitian(omega: np.ndarray, dt: float) -> np.ndarray:
    """exp(-i dt Omega_k) for a stack (n, d, d) of Hermitian Omega_k.

    When theta = dt max ||Omega_k||_1 <= TAYLOR_NORM: the Taylor polynomial of the smallest degree q
    with theta^(q+1)/(q+1)! < 1e-17 (the truncation bound, far below drive_tol even summed over all
    steps), evaluated by Paterson & Stockmeyer's scheme (SIAM J. Comput. 2, 60 (1973)): the powers
    A, ..., A^s, s ~ sqrt(q), then Horner in A^s, about 2 sqrt(q) batched products instead of q.
    Otherwise eigh.
    """
    theta = dt * float(np.max(np.sum(np.abs(omega), axis=1)))
    if theta > TAYLOR_NORM:
        E, V = np.linalg.eigh(omega)
        return (V * np.exp(-1j * dt * E)[:, None, :]) @ np.conj(np.swapaxes(V, 1, 2))
    q, term = 1, theta
    while term * theta / (q + 1) >= 1e-17:
        q += 1
        term *= theta / q
    n, d = omega.shape[0], omega.shape[-1]
    r = np.arange(d)
    s = max(2, math.ceil(math.sqrt(q + 1)))
    # powers[j - 1] = A^j for j = 1 .. s, written in place (each batched product is one pass)
    powers = np.empty((s, n, d, d), dtype=complex)
    np.multiply(omega, -1j * dt, out=powers[0])
    for j in range(1, s):
        np.matmul(powers[j - 1], powers[0], out=powers[j])
    # every chunk sum_{j=1}^{s-1} c_{m s + j} A^j at once, as one product over the stacked powers
    starts = list(range(0, q + 1, s))
    weights = np.zeros((len(starts), s - 1))
    for i, start in enumerate(starts):
        for j in range(1, s):
            if start + j <= q:
                weights[i, j - 1] = 1.0 / math.factorial(start + j)
    chunks = (weights @ powers[: s - 1].reshape(s - 1, -1)).reshape(len(starts), n, d, d)
    for i, start in enumerate(starts):
        chunks[i][:, r, r] += 1.0 / math.factorial(start)
    out = chunks[-1]
    for i in range(len(starts) - 2, -1, -1):
        out = powers[s - 1] @ out
        out += chunks[i]
    return out


def _ordered_product(U: np.ndarray) -> np.ndarray:
    """U_{n-1} ... U_1 U_0 by pairwise products (log2(n) batched products)."""
    while U.shape[0] > 1:
        if U.shape[0] % 2:
            U = np.concatenate([U[:-2], (U[-1] @ U[-2])[None]])
        U = U[1::2] @ U[0::2]
    return U[0]


# ----------------------------------------------------------------------------------------------
# steps


def _offdiagonal(A, tol) -> bool:
    """Whether the dense matrix A has an off-diagonal entry above tol * max(1, max |A|)."""
    return np.max(np.abs(A - np.diag(np.diag(A))), initial=0.0) > tol * max(1.0, np.max(np.abs(A)))


def _monomial(V, tol):
    """The permutation p with V[p[k], k] the only non-zero of column k (|V| a permutation), or None."""
    W = np.abs(V) ** 2
    p = np.argmax(W, axis=0)
    if np.unique(p).size != p.size or np.max(np.abs(W[p, np.arange(p.size)] - 1.0)) > tol:
        return None
    return p


class Quench:
    """Instantaneous H -> H': the state is unchanged, W = Tr[(H' - H) rho]."""

    def __init__(self, before: np.ndarray, after: np.ndarray):
        self.before = before
        self.after = after

    def preserves_populations(self, tol) -> bool:
        """Whether the step maps diagonal density matrices to diagonal ones (within `tol`)."""
        return True


class Evolve:
    """exp(L share * duration) for fixed H with the given reservoirs (none: unitary).

    `share` is the fraction of the stroke's duration this step takes; the energy change goes to the
    reservoir (split into heat and chemical work for a fermionic lead).  The generator's eigenbasis
    tables are built at once, so a reservoir that cannot attach to the medium fails here; no
    superoperator is built until the solver asks for one (`action`).
    """

    def __init__(self, H, medium, baths, flavour, controls, share, options):
        self.H = np.asarray(H, dtype=complex)
        self.baths = tuple(baths)
        self.share = share
        self.options = options
        self.generator = None
        if self.baths:
            self.generator = build_generator(medium, self.baths, flavour, controls=controls, options=options)

    @property
    def mu(self) -> float:
        """Chemical potential of the attached reservoir (0 for a bosonic bath or none)."""
        return float(self.baths[0].mu) if self.baths else 0.0

    @property
    def exchanges_particles(self) -> bool:
        """Whether the attached reservoir has channels that change the medium's particle number."""
        return bool(self.baths) and any(ch.particles for ch in self.baths[0].channels())

    def _permutation(self):
        """Generator basis -> medium basis as a permutation, or None (identity for the local flavour)."""
        V = self.generator.basis
        return np.arange(self.H.shape[0]) if V is None else _monomial(V, self.options.sector_tol)

    def preserves_populations(self, tol) -> bool:
        """Whether exp(L t) maps diagonal density matrices (medium basis) to diagonal ones."""
        if _offdiagonal(self.H, tol):
            return False
        if not self.baths:
            return True
        gen = self.generator
        if self._permutation() is None:
            return False
        if gen.davies is not None and not gen.davies.spectrum.degenerate:
            # Davies jumps of a non-degenerate spectrum are matrix units |k><l| grouped by Bohr
            # frequency: no column (row) holds two of them, so D maps |l><l| to diagonal states.
            return True
        for D in gen.dissipators:
            decay = sp.coo_array(D.decay)
            if np.any((decay.row != decay.col) & (np.abs(decay.data) > tol * max(1.0, abs(decay).max()))):
                return False
            for J in D.jumps:
                if np.max(np.diff(sp.csc_array(J).indptr), initial=0) > 1:
                    return False
        return True

    def action(self, populations: bool):
        """The step's map on the state space (populations, or all of vec(rho))."""
        d = self.H.shape[0]
        if not self.baths:
            if populations:  # a diagonal H only adds phases to coherences
                return _FixedMap(np.eye(d, dtype=complex), None)
            E, V = np.linalg.eigh(self.H)
            lam = -1j * (np.tile(E, d) - np.repeat(E, d))  # -i (E_k - E_l) at index k + d l
            return _SpectralMap(Propagator(sp.diags_array(lam), self.options, blocks="auto"), V, None)
        gen = self.generator
        number = None
        if self.exchanges_particles:
            number = sp.csr_array(gen.observables[0][1]).toarray()
        if populations:
            perm = self._permutation()
            G = self._rate_matrix()
            L = np.zeros((d, d), dtype=complex)
            L[np.ix_(perm, perm)] = G
            n = None
            if number is not None:
                n = np.zeros(d, dtype=complex)
                n[perm] = np.diag(number)
            prop = Propagator(L, self.options, blocks="auto", conserved=np.ones(d))
            return _SpectralMap(prop, None, n)
        L = generator_superoperator(gen, dense=d <= DENSE_GENERATOR_DIM)
        n = None if number is None else number.T.reshape(-1, order="F")
        # the generator's basis is unitary, so vec(1) is its trace functional there too
        prop = Propagator(L, self.options, blocks="auto", conserved=trace_vector(d))
        return _SpectralMap(prop, gen.basis, n)

    def _rate_matrix(self) -> np.ndarray:
        """The generator on the populations of its basis (the Pauli rate matrix), d x d."""
        gen = self.generator
        if gen.davies is not None and not gen.davies.spectrum.degenerate:
            return gen.davies.zero_frequency_generator()
        d = self.H.shape[0]
        G = np.zeros((d, d), dtype=complex)
        for D in gen.dissipators:
            for J in D.jumps:
                coo = sp.coo_array(J)
                np.add.at(G, (coo.row, coo.col), np.abs(coo.data) ** 2)
            G[np.arange(d), np.arange(d)] -= sp.csr_array(D.decay).diagonal()
        return G


class Precomposed:
    """A precomposed unitary U of a whole time-ordered drive; work Tr[H_end (rho_out - rho_in)]."""

    share = 0.0  # the map does not depend on a duration: it was built for the stroke's own
    baths = ()
    mu = 0.0
    exchanges_particles = False

    def __init__(self, U, H, steps):
        self.U = U
        self.H = H
        self.steps = steps

    def preserves_populations(self, tol) -> bool:
        """Whether the step maps diagonal density matrices to diagonal ones (within `tol`)."""
        return _monomial(self.U, tol) is not None

    def action(self, populations: bool) -> _FixedMap:
        """The step's map on the chosen state space (populations only, or all of vec(rho))."""
        if populations:
            return _FixedMap(np.abs(self.U) ** 2, None)
        return _FixedMap(None, self.U)


# ----------------------------------------------------------------------------------------------
# the generator's superoperator, assembled from its transitions


def generator_superoperator(gen, dense: bool):
    """The superoperator of `gen` (engines.generators.Generator) in its own basis, column stacking.

    Equal to ``gen.superoperator(dense)``, but assembled in one vectorised pass: for the global
    flavour straight from the eigenbasis tables, whose Davies jump of Bohr cluster w is
    A_w = sum_{ids[m, k] = w} sqrt(R[m, k]) X[m, k] |m><k| (as `engines.davies.jumps`, with the same
    amplitude cutoff), without forming the jumps one by one; for the local flavour from the jumps.
    A many-level spectrum has hundreds of Bohr clusters, and a kron per jump would dominate the
    cost of a cycle.
    """
    d = gen.dim
    rows, cols, vals = [], [], []
    if gen.davies is not None:
        spec = gen.davies.spectrum
        for channels in gen.davies.channels:
            for c in channels:
                amp = np.sqrt(c.R) * c.X
                cutoff = davies.AMPLITUDE_CUTOFF * max(1.0, float(np.max(np.abs(amp), initial=0.0)))
                m, k = np.nonzero(np.abs(amp) > cutoff)
                _add_jumps(d, m, k, amp[m, k], spec.bohr_ids[m, k], rows, cols, vals)
    else:
        for D in gen.dissipators:
            for j, J in enumerate(D.jumps):
                coo = sp.coo_array(J)
                _add_jumps(d, coo.row, coo.col, coo.data, np.full(coo.nnz, j), rows, cols, vals)
    H = sp.coo_array(gen.hamiltonian)
    eye = np.arange(d)
    # -i [H, rho]: (H rho)_{ij} = H_ik rho_kj, (rho H)_{ij} = rho_ik H_kj
    rows += [np.add.outer(d * eye, H.row).ravel(), np.add.outer(d * H.col, eye).ravel()]
    cols += [np.add.outer(d * eye, H.col).ravel(), np.add.outer(d * H.row, eye).ravel()]
    vals += [np.tile(-1j * H.data, d), np.repeat(1j * H.data, d)]
    L = sp.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(d * d, d * d)
    )
    L.sum_duplicates()
    return L.toarray() if dense else sp.csr_array(L)


def _add_jumps(d, m, k, amp, group, rows, cols, vals):
    """Append the entries of sum_w D[A_w], A_w = sum_{group = w} amp |m><k|, to the COO lists.

    Jump term A rho A^dag: |k><l| -> amp_mk conj(amp_nl) |m><n| for two transitions of one group
    (row m + d n, column k + d l); anticommutator -(Gamma rho + rho Gamma)/2 with
    Gamma[k, l] = sum conj(amp_mk) amp_ml over pairs that share m.
    """
    if m.size == 0:
        return
    order = np.argsort(group, kind="stable")
    m, k, amp, group = m[order], k[order], amp[order], group[order]
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    sizes = np.diff(np.concatenate((starts, [group.size])))
    size = np.repeat(sizes, sizes)  # each transition's group size
    a = np.repeat(np.arange(group.size), size)
    first = np.repeat(np.repeat(starts, sizes), size)
    b = first + (np.arange(a.size) - np.repeat(np.cumsum(size) - size, size))
    rows.append(m[a] + d * m[b])
    cols.append(k[a] + d * k[b])
    vals.append(amp[a] * np.conj(amp[b]))
    share = m[a] == m[b]
    ka, kb, g = k[b][share], k[a][share], np.conj(amp[b][share]) * amp[a][share]  # Gamma[ka, kb]
    eye = np.arange(d)
    rows += [np.add.outer(d * eye, ka).ravel(), np.add.outer(d * kb, eye).ravel()]
    cols += [np.add.outer(d * eye, kb).ravel(), np.add.outer(d * ka, eye).ravel()]
    vals += [np.tile(-0.5 * g, d), np.repeat(-0.5 * g, d)]


# ----------------------------------------------------------------------------------------------
# maps on the state space (medium basis)


def conjugate(V, X, d) -> np.ndarray:
    """The columns of X (d^2, k), each vec(C), replaced by vec(V C V^dag).

    Two products of d x d matrices with d x (d k) ones (no d^2 x d^2 (conj(V) kron V)): with
    A[c, j, i] = C_c[i, j] (the C-ordered rows of X^T), B = A V^T gives B[c, j, b] = (V C_c)[b, j], and
    conj(V) applied to the j index gives (V C_c V^dag)^T, whose rows are the vec(V C_c V^dag).
    """
    k = X.shape[1]
    A = np.ascontiguousarray(X.T).reshape(k * d, d)
    B = (A @ V.T).reshape(k, d, d)  # [c, j, b]
    F = V.conj() @ np.ascontiguousarray(B.transpose(1, 0, 2)).reshape(d, k * d)  # [e, (c, b)]
    return np.ascontiguousarray(F.reshape(d, k, d).transpose(1, 0, 2)).reshape(k, d * d).T


class _SpectralMap:
    """exp(L t) of a generator given in a basis V (None: the medium's), on medium-basis vectors.

    `number` is the particle-current row n in the generator's basis (Tr[N rho] = n . x), or None.
    """

    def __init__(self, propagator: Propagator, basis, number):
        self.propagator = propagator
        self.basis = basis
        self.number = number
        self.d = None if basis is None else basis.shape[0]

    def _in(self, X):
        return X if self.basis is None else conjugate(self.basis.conj().T, X, self.d)

    def _out(self, X):
        return X if self.basis is None else conjugate(self.basis, X, self.d)

    def evolve(self, X, t) -> np.ndarray:
        """exp(L t) X for medium-basis vectors X (m, k)."""
        return self._out(self.propagator.evolve(self._in(X), t))

    def compose(self, X, frame, t):
        """(exp(L t) X, the basis it is given in), for X given in the basis `frame` (None: medium).

        A product of maps is kept in the basis of its last map: going from one map's basis to the
        next is one change of basis (V_next^dag V_frame) instead of two.
        """
        if self.basis is None:
            return self.propagator.evolve(to_medium(X, frame), t), None
        change = self.basis.conj().T if frame is None else self.basis.conj().T @ frame
        return self.propagator.evolve(conjugate(change, X, self.d), t), self.basis

    def particles(self, x, t) -> float:
        """Delta N = int_0^t Tr[N rho(s)] ds from the state x (t = inf: the decaying part)."""
        y = self.propagator.integrate(self._in(x[:, None]), t)[:, 0]
        return float(np.real(self.number @ y))

    def stationary_current(self) -> tuple[float, float]:
        """(||n P_0|| / ||n||, its numerical resolution): the current the stationary states carry.

        Two things bound what counts as zero: modes with |lam| <= null_tol max(1, max|lam|) count as
        stationary, and such a mode moves particles at a rate of that order (relative to ||n||, the
        scale of the jump rates); and near a slow mode of rate g (an almost conserved quantity) the
        stationary eigenvectors carry errors of order eps max|lam| / g, and so does their current.
        """
        m = self.propagator.shape[0]
        size = max(float(np.linalg.norm(self.number)), 1e-300)
        row = self.propagator.evolve(np.eye(m, dtype=complex), math.inf).T @ self.number
        current = float(np.linalg.norm(row)) / size
        form = self.propagator.spectral()
        if form is None:
            return current, 0.0
        lam = np.abs(form.lam)
        scale = max(1.0, float(lam.max(initial=0.0)))
        resolution = 16 * self.propagator.options.null_tol * scale / size
        slow = lam[~form.zero]
        if slow.size:
            resolution = max(resolution, 16 * np.finfo(float).eps * scale / float(slow.min()))
        return current, resolution

    def spectral(self) -> Spectral | None:
        """The spectral form on medium-basis vectors (None when a sector is defective)."""
        form = self.propagator.spectral()
        if form is None or self.basis is None:
            return form
        modes = self._out(form.modes)
        dual = self._out(form.dual.conj().T).conj().T
        projector = self._out(self._out(form.projector).conj().T).conj().T
        return Spectral(form.lam, modes, dual, projector, form.zero)

    def particle_modes(self) -> np.ndarray:
        """N . modes in the generator's basis (the same numbers as on medium-basis modes)."""
        form = self.propagator.spectral()
        return self.number @ form.modes

    def slowest(self) -> float:
        """Smallest |lam| over the modes outside ker L (inf if there are none)."""
        form = self.propagator.spectral()
        if form is None:
            return 0.0
        lam = np.abs(form.lam[~form.zero])
        return float(lam.min()) if lam.size else math.inf


class _FixedMap:
    """A map that does not depend on time: a dense matrix on the populations, or rho -> U rho U^dag."""

    def __init__(self, matrix, unitary):
        self.matrix = matrix
        self.unitary = unitary

    @property
    def superop(self) -> np.ndarray:
        if self.matrix is None:
            self.matrix = np.kron(self.unitary.conj(), self.unitary)
        return self.matrix

    def evolve(self, X, t=None) -> np.ndarray:
        if self.unitary is not None:
            return conjugate(self.unitary, X, self.unitary.shape[0])
        return self.matrix @ X

    def compose(self, X, frame, t=None):
        """As `_SpectralMap.compose`: U acts in the basis `frame` as V^dag U V."""
        if self.unitary is None:
            return self.matrix @ to_medium(X, frame), None
        U = self.unitary if frame is None else frame.conj().T @ self.unitary @ frame
        return conjugate(U, X, U.shape[0]), frame


def to_medium(X, frame):
    """Vectors given in the basis `frame` (None: the medium's) in the medium's basis."""
    return X if frame is None else conjugate(frame, X, frame.shape[0])
