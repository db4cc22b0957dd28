"""Strokes: the value types a cycle is made of.

Conventions (docs/physics.md, "Strokes and cycles"): W > 0 is work done on the medium, Q_a > 0 heat
from reservoir a into the medium.  A stroke is a plain frozen value: what it does to the medium's
state, and how it books work and heat, is compiled by `cycles.steps` when a `cycles.Cycle` is
built.

* `Thermalize`: fixed Hamiltonian, one reservoir attached (isochoric);
* `Unitary`: the controls change with no reservoir attached (sudden quench or time-ordered drive);
* `Isotherm`: the controls change while one reservoir is attached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engines.checks import FrozenMapping, choice, fail, integer, real
from engines.generators import FLAVOURS
from engines.reservoirs import Reservoir

__all__ = ["SCHEDULES", "Isotherm", "Stroke", "Thermalize", "Unitary"]

#: Named schedules s(u), u = t/duration: "linear" s = u; "smooth" s = u - sin(2 pi u)/(2 pi), which
#: starts and ends at zero speed (ds/du = 0), so the controls move gently near the stroke's ends.
SCHEDULES = ("linear", "smooth")


def _controls(owner, field_, value) -> Mapping:
    if value is None:
        return FrozenMapping({})
    if not isinstance(value, Mapping):
        fail(owner, field_, value, "a mapping of control names to numbers")
    return FrozenMapping({k: real(owner, f"{field_}[{k!r}]", v) for k, v in value.items()})


def _schedule(owner, schedule):
    if not callable(schedule):
        choice(owner, "schedule", schedule, (*SCHEDULES, "<callable s -> fraction>"))


@dataclass(frozen=True)
class Stroke:
    """Base of all strokes.

    Every stroke has a `name` (unique within a cycle: it labels the per-stroke table), a `duration`,
    the controls it starts and ends with (`start_controls`, `end_controls`; controls it does not
    name keep the medium's values) and the `reservoir` it attaches (None for a unitary stroke).
    """

    def start_controls(self) -> Mapping:
        """Control values at the start of the stroke."""
        raise NotImplementedError  # pragma: no cover - abstract

    def end_controls(self) -> Mapping:
        """Control values at the end of the stroke."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def reservoir(self) -> Reservoir | None:
        """The reservoir attached during the stroke (None: unitary)."""
        return None

    def _named(self, default: str) -> str:
        """Set the default name; return the owner string of error messages."""
        object.__setattr__(self, "name", self.name or default)
        return f"{type(self).__name__} {self.name!r}"

    def _check_bath(self) -> None:
        if not isinstance(self.bath, Reservoir):
            fail(
                f"{type(self).__name__} {self.name}".strip(),
                "bath",
                self.bath,
                "a Reservoir (BosonicBath, FermionicLead, SqueezedBath, ChannelReservoir)",
            )


@dataclass(frozen=True)
class Thermalize(Stroke):
    """Fixed Hamiltonian with one reservoir attached (isochoric stroke).

    Parameters
    ----------
    bath : Reservoir
    duration : float
        >= 0; ``math.inf`` relaxes fully: the state is projected onto the steady states of the
        stroke's generator (the Gibbs state for a thermal bath in the global flavour; when the bath
        leaves some quantity conserved, the steady state reached from the incoming state: the spectral
        projector onto ker L, docs/physics.md Section 9).  For a fermionic lead whose stationary
        states carry a particle current (a Hamiltonian that does not conserve the particle number),
        an infinite duration is refused: the particles exchanged would grow without bound.
    controls : mapping, optional
        Control values held during the stroke (the medium's defaults otherwise).
    flavour : {"global", "local"}
    name : str, optional
        Default ``"thermalize <bath>"``.

    Notes
    -----
    W = 0 and Delta E = Tr[H (rho_out - rho_in)].  A bosonic bath books it all as heat; a fermionic lead
    (T, mu) splits it into heat Q = Delta E - mu Delta N and chemical work mu Delta N, with
    Delta N = int_0^tau Tr[N rho(t)] dt the particles the lead brings in (the jump-counted current,
    N = sum_j n_j L_j^dag L_j; Esposito, Kawai, Lindenberg & Van den Broeck, PRE 81, 041106 (2010)).
    """

    bath: Reservoir
    duration: float
    controls: Mapping = field(default_factory=dict)
    flavour: str = "global"
    name: str = ""

    def __post_init__(self):
        self._check_bath()
        owner = self._named(f"thermalize {self.bath.name}")
        object.__setattr__(
            self, "duration", real(owner, "duration", self.duration, minimum=0.0, allow_inf=True)
        )
        object.__setattr__(self, "controls", _controls(owner, "controls", self.controls))
        choice(owner, "flavour", self.flavour, FLAVOURS)

    def start_controls(self):
        """Control values at the start of the stroke."""
        return self.controls

    def end_controls(self):
        """Control values at the end of the stroke."""
        return self.controls

    @property
    def reservoir(self):
        """The reservoir attached during the stroke."""
        return self.bath


@dataclass(frozen=True)
class Unitary(Stroke):
    """Unitary change of the controls from `start` to `end` (no reservoir attached).

    Parameters
    ----------
    start, end : mapping
        Control values at the start and at the end.
    duration : float
        0 is a sudden quench; a finite duration is propagated time-ordered (fourth-order Magnus
        steps, doubled until the stroke's unitary changes by less than ``Options.drive_tol``), so
        a Hamiltonian that does not commute with itself at different times shows quantum friction.
    schedule : "linear", "smooth" or callable
        The fraction s(t/duration) of the way from start to end, s(0) = 0, s(1) = 1 (`SCHEDULES`);
        a callable maps a float in [0, 1] to a float.
    name : str, optional
        Default ``"unitary"``.
    """

    start: Mapping
    end: Mapping
    duration: float
    schedule: str | Callable = "linear"
    name: str = ""

    def __post_init__(self):
        owner = self._named("unitary")
        object.__setattr__(self, "start", _controls(owner, "start", self.start))
        object.__setattr__(self, "end", _controls(owner, "end", self.end))
        object.__setattr__(self, "duration", real(owner, "duration", self.duration, minimum=0.0))
        _schedule(owner, self.schedule)

    def start_controls(self):
        """Control values at the start of the stroke."""
        return self.start

    def end_controls(self):
        """Control values at the end of the stroke."""
        return self.end


@dataclass(frozen=True)
class Isotherm(Stroke):
    """Controls change from `start` to `end` while one reservoir is attached.

    Parameters
    ----------
    bath : Reservoir
    start, end : mapping
    duration : float
        > 0.
    steps : int
        Number of piecewise-constant steps (the Hamiltonian at each step's midpoint).
    tol : float, optional
        Requested accuracy of the stroke's work and heat, relative to the larger of |W| and |Q|:
        the cycle repeats the stroke with twice the steps and raises if either moves by more.
    schedule, flavour, name
        As for `Unitary` and `Thermalize`; the default name is ``"isotherm <bath>"``.

    Notes
    -----
    dW = Tr[rho dH] at each step boundary, dQ = Tr[H d rho] during each step; the quasi-static limit
    (duration and steps to infinity) reaches the reversible heat T Delta S.  Second order in the step
    while the bath acts weakly within a step, first order in 1/steps in the quasi-static regime (each
    step relaxes fully, so the work is a Riemann sum of Tr[rho dH]).
    """

    bath: Reservoir
    start: Mapping
    end: Mapping
    duration: float
    steps: int = 64
    tol: float | None = None
    schedule: str | Callable = "linear"
    flavour: str = "global"
    name: str = ""

    def __post_init__(self):
        self._check_bath()
        owner = self._named(f"isotherm {self.bath.name}")
        if not self.bath.thermal:
            # dQ = T dS along the stroke needs a bath temperature; a squeezed or engineered bath has none.
            fail(
                owner,
                "bath",
                self.bath,
                "a thermal reservoir (BosonicBath, FermionicLead): an isotherm needs a temperature, and a "
                "squeezed or channel reservoir has none (use it in a Thermalize stroke)",
            )
        object.__setattr__(self, "start", _controls(owner, "start", self.start))
        object.__setattr__(self, "end", _controls(owner, "end", self.end))
        object.__setattr__(self, "duration", real(owner, "duration", self.duration, minimum=0.0, strict=True))
        object.__setattr__(self, "steps", integer(owner, "steps", self.steps, minimum=1))
        if self.tol is not None:
            object.__setattr__(self, "tol", real(owner, "tol", self.tol, minimum=0.0, strict=True))
        _schedule(owner, self.schedule)
        choice(owner, "flavour", self.flavour, FLAVOURS)

    def start_controls(self):
        """Control values at the start of the stroke."""
        return self.start

    def end_controls(self):
        """Control values at the end of the stroke."""
        return self.end

    @property
    def reservoir(self):
        """The reservoir attached during the stroke."""
        return self.bath
