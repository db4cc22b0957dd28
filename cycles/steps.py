"""Elementary steps a stroke compiles into, and the propagators of each.

Every stroke becomes a sequence of steps on vec(rho):

* `Quench` H -> H' (an instantaneous change of controls): rho unchanged, W = Tr[(H' - H) rho];
* `Evolve` for a share of the stroke's duration under a fixed Hamiltonian H, unitary or with one
  reservoir attached: rho -> exp(L t) rho, Q = Tr[H (rho_out - rho_in)] booked to that reservoir;
* `Precomposed` unitary of a whole time-ordered drive: W = Tr[H_end (rho_out - rho_in)].

So the first law W + Q = Delta E holds step by step, exactly.  A time-ordered drive is one unitary
composed from fourth-order Magnus steps, doubled until it converges; an isotherm is the
piecewise-constant protocol of its `steps` (the Hamiltonian at each step's midpoint).
"""

from __future__ import annotations

import math

import numpy as np

from cycles.strokes import Isotherm, Thermalize, Unitary
from engines.checks import UserCodeError, fail
from engines.generators import build_generator
from engines.linalg import Propagator

__all__ = ["Evolve", "Precomposed", "Quench", "compile_stroke"]


def compile_stroke(stroke, medium, options, n=None) -> list:
    """The elementary steps of `stroke` on `medium` (`n` overrides an isotherm's step count)."""
    if isinstance(stroke, Thermalize):
        controls = {**medium.controls, **stroke.controls}
        H = medium.hamiltonian(**controls)
        return [Evolve(H, medium, (stroke.bath,), stroke.flavour, controls, 1.0, options)]
    path = _Path(medium, stroke.start, stroke.end, stroke.schedule, stroke.name)
    if isinstance(stroke, Isotherm):
        return path.piecewise(n or stroke.steps, stroke.bath, stroke.flavour, options)
    if isinstance(stroke, Unitary):
        return _unitary(stroke, path, medium, options)
    raise TypeError(f"not a stroke: {stroke!r}")  # pragma: no cover - Cycle checks the types


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
    # Time-ordered: one precomposed unitary, Magnus steps doubled until it converges.
    H_start, H_end = path.hamiltonian(0.0), path.hamiltonian(1.0)
    n = 8
    U = path.magnus(n, stroke.duration)
    while True:
        U2 = path.magnus(2 * n, stroke.duration)
        change = float(np.max(np.abs(U2 - U)))
        n, U = 2 * n, U2
        if change < options.drive_tol:
            break
        if n >= options.max_drive_steps:
            fail(
                f"Unitary {stroke.name!r}",
                "duration",
                stroke.duration,
                f"a drive that converges within {options.max_drive_steps} Magnus steps (change {change:.2g})",
            )
    return [Quench(H_start, H_end), Precomposed(U, H_end, n)]


class _Path:
    """Controls along a stroke: start + s (end - start), s = schedule(t / duration)."""

    def __init__(self, medium, start, end, schedule, name):
        self.medium = medium
        base = medium.controls
        self.start = {**base, **start}
        self.end = {**base, **end}
        self.schedule = schedule
        self.name = name
        # Most media are affine in their controls: then H(s) = H_0 + s (H_1 - H_0) exactly, and
        # the many Hamiltonians of a time-ordered stroke cost no calls to the medium.
        self._ends = (self._build(0.0), self._build(1.0))
        self._affine = all(
            np.allclose(
                self._build(s), self._ends[0] + s * (self._ends[1] - self._ends[0]), rtol=0, atol=1e-13
            )
            for s in (0.29, 0.71)
        )

    def _build(self, s: float) -> np.ndarray:
        return np.asarray(self.medium.hamiltonian(**self._at(s)), dtype=complex)

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

        exp(-i dt H_eff) per step with H_eff = (H1 + H2)/2 - i (sqrt(3)/12) dt [H2, H1], H1, H2 at
        the two Gauss points (Blanes, Casas, Oteo, Ros, Phys. Rep. 470, 151 (2009), eq. 253).
        """
        dt = duration / n
        c = math.sqrt(3.0) / 6.0
        U = np.eye(self.medium.dim, dtype=complex)
        for k in range(n):
            H1, H2 = self.hamiltonian((k + 0.5 - c) / n), self.hamiltonian((k + 0.5 + c) / n)
            H = 0.5 * (H1 + H2) - 1j * (math.sqrt(3.0) / 12.0) * dt * (H2 @ H1 - H1 @ H2)
            E, V = np.linalg.eigh(H)
            U = (V * np.exp(-1j * E * dt)) @ V.conj().T @ U
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


class Quench:
    """Instantaneous H -> H': the state is unchanged, W = Tr[(H' - H) rho]."""

    def __init__(self, before: np.ndarray, after: np.ndarray):
        self.before = before
        self.after = after


class Evolve:
    """exp(L share * duration) for fixed H with the given reservoirs (none: unitary).

    `share` is the fraction of the stroke's duration this step takes; heat goes to the reservoir.
    The generator is built at once, so a reservoir that cannot attach to the medium fails here.
    """

    def __init__(self, H, medium, baths, flavour, controls, share, options):
        self.H = np.asarray(H, dtype=complex)
        self.baths = tuple(baths)
        self.share = share
        self.options = options
        if self.baths:
            gen = build_generator(medium, self.baths, flavour, controls=controls, options=options)
            self.L = gen.medium_superoperator()
        else:
            d = self.H.shape[0]
            eye = np.eye(d)
            self.L = -1j * (np.kron(eye, self.H) - np.kron(self.H.T, eye))

    def propagator(self, space: np.ndarray):
        """exp(L t) restricted to the indices `space` of vec(rho), as a function of t."""
        if self.baths:
            return Propagator(self.L[np.ix_(space, space)], self.options)
        return _UnitaryPropagator(self.H, space)


class Precomposed:
    """A precomposed unitary U of a whole time-ordered drive; work Tr[H_end (rho_out - rho_in)]."""

    share = 0.0  # the map does not depend on a duration: it was built for the stroke's own
    baths = ()

    def __init__(self, U, H, steps):
        self.U = U
        self.H = H
        self.steps = steps

    def propagator(self, space):
        return _FixedMap(np.kron(self.U.conj(), self.U)[np.ix_(space, space)])


class _FixedMap:
    """A map that does not depend on time."""

    def __init__(self, superop):
        self.superop = superop

    def batch(self, t):
        return np.broadcast_to(self.superop, (np.size(t), *self.superop.shape))


class _UnitaryPropagator:
    """conj(U) kron U with U = exp(-i H t), from one eigendecomposition of H."""

    def __init__(self, H, space):
        self.E, self.V = np.linalg.eigh(H)
        self.space = space

    def spectral(self):
        """conj(U) kron U = W diag(exp(i (E_b - E_a) t)) W^dag, W = conj(V) kron V, on the state space."""
        W = np.kron(self.V.conj(), self.V)
        lam = 1j * (np.repeat(self.E, self.E.size) - np.tile(self.E, self.E.size))
        return lam, W[self.space], W.conj().T[:, self.space], None

    def batch(self, t) -> np.ndarray:
        """conj(U_p) kron U_p on the state space for every time t_p: (P, m, m)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        U = np.einsum("ij,pj,kj->pik", self.V, np.exp(-1j * self.E[None, :] * t[:, None]), self.V.conj())
        d = self.E.size
        K = np.einsum("pbe,pac->pbaec", U.conj(), U).reshape(t.size, d * d, d * d)
        return K[:, self.space][:, :, self.space]
