"""Strokes: CPTP maps on the medium's state that book their own work and heat.

Conventions (../shared/PHYSICS.md): W > 0 is work done on the medium, Q_a > 0 heat from reservoir a
into the medium.  Every stroke is compiled into a sequence of elementary steps on vec(rho):

* a *quench* H -> H' (instantaneous change of controls): rho unchanged, W = Tr[(H' - H) rho];
* an *evolution* for a time dt under a fixed Hamiltonian H, unitary or with one reservoir attached:
  rho -> exp(L dt) rho, Q = Tr[H (rho_out - rho_in)] booked to that reservoir.

* a *unitary* map with no reservoir: W = Tr[H (rho_out - rho_in)] with H its final Hamiltonian
  (zero for a fixed H).

So the first law W + Q = Delta E holds step by step, exactly.  A time-ordered drive is one unitary
composed from fourth-order Magnus steps, doubled until it converges.  An isotherm is the
piecewise-constant protocol of its `steps` (the Hamiltonian at each step's midpoint): second
order in the step while the bath acts weakly within a step, but first order in 1/steps in the
quasi-static regime (each step relaxes fully, so the work is a Riemann sum of Tr[rho dH]); its
`tol` checks work and heat against a run with twice the steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as la

from engines._checks import UserCodeError, choice, fail, integer, real
from engines.generators import FLAVOURS, build_generator
from engines.reservoirs import Reservoir
from engines.steady import stationary_vector
from engines.superop import vec

__all__ = ["Drive", "Isotherm", "Propagator", "Stroke", "Thermalize"]

#: Convergence of a time-ordered unitary drive: max change of the stroke map when steps double.
DRIVE_TOL = 1e-10
MAX_DRIVE_STEPS = 2**14
SCHEDULES = ("linear",)


def _duration(owner, value, *, allow_inf=False):
    return real(owner, "duration", value, minimum=0.0, allow_inf=allow_inf)


def _controls(owner, field_, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        fail(owner, field_, value, "a mapping of control names to numbers")
    return {k: real(owner, f"{field_}[{k!r}]", v) for k, v in value.items()}


def _schedule(owner, schedule):
    if callable(schedule):
        return schedule
    choice(owner, "schedule", schedule, (*SCHEDULES, "<callable s -> fraction>"))
    return None


@dataclass(frozen=True)
class Stroke:
    """Base of all strokes: a name (for tables), a duration, start and end controls."""

    def start_controls(self) -> dict:
        raise NotImplementedError

    def end_controls(self) -> dict:
        raise NotImplementedError

    @property
    def reservoir(self) -> Reservoir | None:
        return None


@dataclass(frozen=True)
class Thermalize(Stroke):
    """Fixed Hamiltonian with one reservoir attached (isochoric stroke).

    Parameters
    ----------
    bath : Reservoir
    duration : float
        >= 0; ``math.inf`` relaxes fully to the reservoir's steady state (Gibbs for a thermal bath
        and the global flavour).
    controls : dict, optional
        Control values held during the stroke (the medium's defaults otherwise).
    flavour : {"global", "local"}
    name : str, optional
    """

    bath: Reservoir
    duration: float
    controls: dict = field(default_factory=dict)
    flavour: str = "global"
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.bath, Reservoir):
            fail(
                f"Thermalize {self.name}".strip(),
                "bath",
                self.bath,
                "a Reservoir (BosonicBath, FermionicLead)",
            )
        object.__setattr__(self, "name", self.name or f"thermalize {self.bath.name}")
        owner = f"Thermalize {self.name!r}"
        object.__setattr__(self, "duration", _duration(owner, self.duration, allow_inf=True))
        object.__setattr__(self, "controls", _controls(owner, "controls", self.controls))
        choice(owner, "flavour", self.flavour, FLAVOURS)

    def start_controls(self):
        return self.controls

    def end_controls(self):
        return self.controls

    @property
    def reservoir(self):
        return self.bath

    def compile(self, medium, n=None):
        controls = {**medium.controls, **self.controls}
        H = medium.hamiltonian(**controls)
        return [_Evolve(H, medium, (self.bath,), self.flavour, controls, 1.0)]


@dataclass(frozen=True)
class Drive(Stroke):
    """Unitary change of the controls from `start` to `end` (no reservoir attached).

    Parameters
    ----------
    start, end : dict
        Control values at the start and at the end.
    duration : float
        0 is a sudden quench; a finite duration is propagated time-ordered (fourth-order Magnus
        steps) with the number of steps doubled until the stroke's map changes by less than
        `DRIVE_TOL`, so a Hamiltonian that does not commute with itself at different times shows
        quantum friction.
    schedule : "linear" or callable
        The fraction s(t/duration) of the way from start to end, s(0) = 0, s(1) = 1; a callable
        maps a float in [0, 1] to a float.
    name : str, optional
    """

    start: dict
    end: dict
    duration: float
    schedule: str | Callable = "linear"
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "name", self.name or "drive")
        owner = f"Drive {self.name!r}"
        object.__setattr__(self, "start", _controls(owner, "start", self.start))
        object.__setattr__(self, "end", _controls(owner, "end", self.end))
        object.__setattr__(self, "duration", _duration(owner, self.duration))
        _schedule(owner, self.schedule)

    def start_controls(self):
        return self.start

    def end_controls(self):
        return self.end

    def compile(self, medium, n=None):
        path = _Path(medium, self.start, self.end, self.schedule, self.name)
        if self.duration == 0.0 or path.commuting():
            # A sudden quench, or H(t) that commutes with itself: populations in the common eigenbasis
            # do not move and W = Tr[(H_end - H_start) rho] exactly; the phases exp(-i int H dt) are kept
            # by evolving under the time-averaged Hamiltonian.
            if self.duration == 0.0:
                return [_Quench(path.hamiltonian(0.0), path.hamiltonian(1.0))]
            H_mean = sum(path.hamiltonian(s) for s in np.linspace(0, 1, 9)) / 9
            return [
                _Quench(path.hamiltonian(0.0), H_mean),
                _Evolve(H_mean, medium, (), None, None, 1.0),
                _Quench(H_mean, path.hamiltonian(1.0)),
            ]
        # Time-ordered: one precomposed unitary, Magnus steps doubled until it converges.
        H_start, H_end = path.hamiltonian(0.0), path.hamiltonian(1.0)
        n = n or 8
        U = path.magnus(n, self.duration)
        while True:
            U2 = path.magnus(2 * n, self.duration)
            change = float(np.max(np.abs(U2 - U)))
            n, U = 2 * n, U2
            if change < DRIVE_TOL:
                break
            if n >= MAX_DRIVE_STEPS:
                fail(
                    f"Drive {self.name!r}",
                    "duration",
                    self.duration,
                    f"a drive that converges within {MAX_DRIVE_STEPS} Magnus steps (change {change:.2g})",
                )
        return [_Quench(H_start, H_end), _Propagated(U, H_end, n)]


@dataclass(frozen=True)
class Isotherm(Stroke):
    """Controls change from `start` to `end` while one reservoir is attached.

    Parameters
    ----------
    bath : Reservoir
    start, end : dict
    duration : float
        > 0.
    steps : int
        Number of piecewise-constant steps (the Hamiltonian at each step's midpoint).
    tol : float, optional
        Requested accuracy of the stroke's work and heat, relative to the larger of |W| and |Q|:
        the cycle repeats the stroke with twice the steps and raises if either moves by more.
    schedule, flavour, name
        As for `Drive` and `Thermalize`.

    Notes
    -----
    dW = Tr[rho dH] at each step boundary, dQ = Tr[H d rho] during each step; the quasi-static limit
    (duration and steps to infinity) reaches the reversible heat T Delta S.
    """

    bath: Reservoir
    start: dict
    end: dict
    duration: float
    steps: int = 64
    tol: float | None = None
    schedule: str | Callable = "linear"
    flavour: str = "global"
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.bath, Reservoir):
            fail(
                f"Isotherm {self.name}".strip(), "bath", self.bath, "a Reservoir (BosonicBath, FermionicLead)"
            )
        object.__setattr__(self, "name", self.name or f"isotherm {self.bath.name}")
        owner = f"Isotherm {self.name!r}"
        object.__setattr__(self, "start", _controls(owner, "start", self.start))
        object.__setattr__(self, "end", _controls(owner, "end", self.end))
        object.__setattr__(self, "duration", real(owner, "duration", self.duration, minimum=0.0, strict=True))
        object.__setattr__(self, "steps", integer(owner, "steps", self.steps, minimum=1))
        if self.tol is not None:
            object.__setattr__(self, "tol", real(owner, "tol", self.tol, minimum=0.0, strict=True))
        _schedule(owner, self.schedule)
        choice(owner, "flavour", self.flavour, FLAVOURS)

    def start_controls(self):
        return self.start

    def end_controls(self):
        return self.end

    @property
    def reservoir(self):
        return self.bath

    def compile(self, medium, n=None):
        path = _Path(medium, self.start, self.end, self.schedule, self.name)
        return path.piecewise(n or self.steps, bath=self.bath, flavour=self.flavour)


# ----------------------------------------------------------------------------------------------
# elementary steps


class _Path:
    """Controls along a stroke: start + s (end - start), s = schedule(t / duration)."""

    def __init__(self, medium, start, end, schedule, name):
        self.medium = medium
        self.base = {**medium.controls}
        self.start = {**self.base, **start}
        self.end = {**self.base, **end}
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
        controls = {k: self.start[k] + s * (self.end[k] - self.start[k]) for k in self.start}
        return np.asarray(self.medium.hamiltonian(**controls), dtype=complex)

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
        s = self.fraction(u)
        return {k: self.start[k] + s * (self.end[k] - self.start[k]) for k in self.start}

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

    def piecewise(self, n: int, bath, flavour) -> list:
        baths = () if bath is None else (bath,)
        out, previous = [], self.hamiltonian(0.0)
        for k in range(n):
            u = (k + 0.5) / n
            H = self.hamiltonian(u)
            out.append(_Quench(previous, H))
            out.append(_Evolve(H, self.medium, baths, flavour, self.controls(u), 1.0 / n))
            previous = H
        out.append(_Quench(previous, self.hamiltonian(1.0)))
        return out


@dataclass(frozen=True, eq=False)
class _Quench:
    """Instantaneous H -> H': the state is unchanged, W = Tr[(H' - H) rho]."""

    before: np.ndarray
    after: np.ndarray


class _Evolve:
    """exp(L share * duration) for fixed H with the given reservoirs (none: unitary).

    `share` is the fraction of the stroke's duration this step takes; heat goes to the reservoir.
    The generator is built at once, so a reservoir that cannot attach to the medium fails here.
    """

    def __init__(self, H, medium, baths, flavour, controls, share):
        self.H = np.asarray(H, dtype=complex)
        self.baths = tuple(baths)
        self.share = share
        if self.baths:
            self.L = build_generator(medium, self.baths, flavour, controls=controls).medium_superoperator()
        else:
            d = self.H.shape[0]
            eye = np.eye(d)
            self.L = -1j * (np.kron(eye, self.H) - np.kron(self.H.T, eye))

    def propagator(self, space: np.ndarray, trace: np.ndarray):
        """exp(L t) restricted to the indices `space` of vec(rho), as a function of t."""
        if self.baths:
            return Propagator(self.L[np.ix_(space, space)], trace)
        return _Unitary(self.H, space)


class _Propagated:
    """A precomposed unitary U of a whole time-ordered drive; work Tr[H_end (rho_out - rho_in)]."""

    share = 0.0  # the map does not depend on a duration: it was built for the stroke's own

    def __init__(self, U, H, steps):
        self.U = U
        self.H = H
        self.steps = steps
        self.baths = ()

    def propagator(self, space, trace):
        return _Fixed(np.kron(self.U.conj(), self.U)[np.ix_(space, space)])


class _Fixed:
    """A map that does not depend on time."""

    def __init__(self, superop):
        self.superop = superop

    def batch(self, t):
        return np.broadcast_to(self.superop, (np.size(t), *self.superop.shape))


class _Unitary:
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


class Propagator:
    """exp(L t) on a subspace of vec(rho), reusing one eigendecomposition of L for every t.

    Falls back to scipy.linalg.expm when the eigenvectors are ill-conditioned (a defective L).
    `t = inf` gives the projector onto the steady state, vec(pi) tr^T.
    """

    #: Condition number of the eigenvector matrix above which expm is used instead.
    MAX_CONDITION = 1e8

    def __init__(self, L: np.ndarray, trace: np.ndarray):
        self.L = L
        self.trace = trace
        self._eig = None
        self._stationary = None

    def _decomposition(self):
        if self._eig is None:
            lam, P = la.eig(self.L)
            cond = np.linalg.cond(P)
            self._eig = (lam, P, la.inv(P)) if cond < self.MAX_CONDITION else False
        return self._eig

    def _projector(self):
        if self._stationary is None:
            x, _, _kernel = stationary_vector(self.L, self.trace, None)
            self._stationary = np.outer(x, self.trace)
        return self._stationary

    def spectral(self):
        """(lam, modes, dual, projector) with exp(L t) = modes diag(exp(lam t)) dual; None if defective."""
        eig = self._decomposition()
        if eig is False:
            return None
        lam, P, Pinv = eig
        return lam, P, Pinv, self._projector()

    def batch(self, t) -> np.ndarray:
        """exp(L t_p) for every t_p (inf: the projector onto the steady state): (P, m, m)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.empty((t.size, *self.L.shape), dtype=complex)
        infinite = np.isinf(t)
        if infinite.any():
            out[infinite] = self._projector()
        finite = np.flatnonzero(~infinite)
        if finite.size:
            eig = self._decomposition()
            if eig is False:
                for p in finite:
                    out[p] = la.expm(self.L * t[p])
            else:
                lam, P, Pinv = eig
                out[finite] = np.einsum("ij,pj,jk->pik", P, np.exp(lam[None, :] * t[finite, None]), Pinv)
        return out


def trace_vector(d: int) -> np.ndarray:
    """vec(identity): tr(rho) = trace_vector . vec(rho)."""
    return vec(np.eye(d)).astype(complex)
