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
from engines.checks import UserCodeError, fail
from engines.generators import build_generator
from engines.linalg import Propagator, Spectral, trace_vector

__all__ = ["Evolve", "Precomposed", "Quench", "compile_stroke"]

#: Magnus steps of the first trial of a time-ordered drive.
FIRST_MAGNUS_STEPS = 8
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
    if stroke.duration == 0.0 or path.commuting():
        # A sudden quench, or H(t) that commutes with itself: populations in the common eigenbasis
        # do not move and W = Tr[(H_end - H_start) rho] exactly; the phases exp(-i int H dt) are kept
        # by evolving under the time-averaged Hamiltonian.
        if stroke.duration == 0.0:
            return [Quench(path.hamiltonian(0.0), path.hamiltonian(1.0))]
        H_mean = sum(path.hamiltonian(s) for s in np.linspace(0, 1, 9)) / 9
        return [
            Quench(path.hamiltonian(0.0), H_mean),
            Evolve(H_mean, medium, (), None, None, 1.0, options),
            Quench(H_mean, path.hamiltonian(1.0)),
        ]
    # Time-ordered: one precomposed unitary.  The accepted U_n is the first of the sequence
    # n = 8, 16, 32, ... that differs from U_{n/2} by less than drive_tol.  Fourth-order steps make
    # the change fall 16-fold per doubling, so after two trials the first n that can pass is
    # predicted, and only U_{n/2} and U_n are built there (and further doublings if it fails).
    H_start, H_end = path.hamiltonian(0.0), path.hamiltonian(1.0)
    tol, n = options.drive_tol, FIRST_MAGNUS_STEPS
    U, U2 = path.magnus(n, stroke.duration), path.magnus(2 * n, stroke.duration)
    change = float(np.max(np.abs(U2 - U)))
    n *= 2
    if change >= tol and change > 0:
        predicted = n * (change / tol) ** 0.25
        jump = 2 ** max(0, math.ceil(math.log2(predicted / n)) - 1)
        if jump > 1 and n * jump <= options.max_drive_steps:
            n *= jump
            U2 = path.magnus(n, stroke.duration)
    while change >= tol:
        if 2 * n > options.max_drive_steps:
            fail(
                f"Unitary {stroke.name!r}",
                "duration",
                stroke.duration,
                f"a drive that converges within {options.max_drive_steps} Magnus steps (change {change:.2g})",
            )
        U, U2 = U2, path.magnus(2 * n, stroke.duration)
        change = float(np.max(np.abs(U2 - U)))
        n *= 2
    return [Quench(H_start, H_end), Precomposed(U2, H_end, n)]


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
        self._affine = self._hamiltonians.affine(self.start, self.end)

    def _build(self, s: float) -> np.ndarray:
        return self._hamiltonians(self._at(s))

    def _at(self, s: float) -> dict:
        return {k: self.start[k] + s * (self.end[k] - self.start[k]) for k in self.start}

    def fraction(self, u: float) -> float:
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

    def magnus(self, n: int, duration: float) -> np.ndarray:
        """The propagator of H(t) from n steps of the fourth-order Magnus integrator.

        exp(-i dt Omega) per step with Omega = (H1 + H2)/2 - i (sqrt(3)/12) dt [H2, H1], H1, H2 at
        the two Gauss points (Blanes, Casas, Oteo, Ros, Phys. Rep. 470, 151 (2009), eq. 253).  All
        n steps are formed at once; for an affine H(s) = H_0 + s D the commutator is
        (s2 - s1) [D, H_0], one product for the whole drive.
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
            omega = H0 + mean[:, None, None] * D - (kappa * (s2 - s1))[:, None, None] * C
        else:
            A = np.stack([self._build(s) for s in s1])
            B = np.stack([self._build(s) for s in s2])
            omega = 0.5 * (A + B) - kappa * (B @ A - A @ B)
        return _ordered_product(_exp_hermitian(omega, dt))

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

    A Taylor polynomial of degree q with theta^(q+1)/(q+1)! below 1e-17 (theta = dt max ||Omega||_1)
    when theta <= TAYLOR_NORM (batched products, no eigendecomposition), else eigh.
    """
    theta = dt * float(np.max(np.sum(np.abs(omega), axis=1)))
    d = omega.shape[-1]
    if theta <= TAYLOR_NORM:
        q, term = 1, theta
        while term * theta / (q + 1) >= 1e-17:
            q += 1
            term *= theta / q
        r = np.arange(d)
        A = (-1j * dt) * omega
        out = A / q  # Horner: I + A (I + A/2 (I + ... (I + A/q)))
        out[:, r, r] += 1.0
        for j in range(q - 1, 0, -1):
            out = A @ out
            out /= j
            out[:, r, r] += 1.0
        return out
    E, V = np.linalg.eigh(omega)
    return (V * np.exp(-1j * dt * E)[:, None, :]) @ np.conj(np.swapaxes(V, 1, 2))


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

    def action(self, populations: bool) -> _SpectralMap:
        """The step's map on the state space (populations, or all of vec(rho))."""
        d = self.H.shape[0]
        if not self.baths:
            if populations:  # a diagonal H only adds phases to coherences
                return _SpectralMap(Propagator(np.zeros((d, d)), self.options, blocks="auto"), None, None)
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
        L = gen.superoperator(dense=d <= DENSE_GENERATOR_DIM)
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
        return _monomial(self.U, tol) is not None

    def action(self, populations: bool) -> _FixedMap:
        if populations:
            return _FixedMap(np.abs(self.U) ** 2, None)
        return _FixedMap(None, self.U)


# ----------------------------------------------------------------------------------------------
# maps on the state space (medium basis)


def conjugate(V, X, d) -> np.ndarray:
    """The columns of X (d^2, k), each vec(C), replaced by vec(V C V^dag)."""
    k = X.shape[1]
    C = X.T.reshape(k, d, d).transpose(0, 2, 1)
    out = V @ C @ V.conj().T
    return out.transpose(0, 2, 1).reshape(k, d * d).T


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
        """n . modes in the generator's basis (the same numbers as on medium-basis modes)."""
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
