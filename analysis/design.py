"""Design files: a machine written down in TOML and loaded into an `engines.Engine` or a `cycles.Cycle`.

A design file names a working medium and the reservoirs it touches, and then either how a
continuous machine is built and solved (``[engine]``, an optional classical ``[drive]``) or the
strokes of a cycle (``[cycle]``); a design holding both ``[cycle]`` and ``[engine]``/``[drive]`` is
refused.  Every table is checked strictly: an unknown key, a missing required key, a value of the
wrong type or out of range raises `engines.WorkbenchError` whose message names the file, the
table, the key and what is allowed.

Schema
------
Top level (``name`` and ``description`` are optional strings; ``name`` defaults to the file's stem)::

    name = "three-level maser"
    description = "What the design shows, and the reference."

``[medium]`` (required): ``type`` and the constructor's keyword arguments.

==================== ==================================== =======================
type                 required keys                        optional keys
==================== ==================================== =======================
Qubit                omega                                delta
Levels               energies (array of numbers)
HarmonicOscillator   omega, n_max                         truncation_tol
Spin                 j, omega
SpinChain            n, J, Delta                          field
Composite            sites                                couplings
==================== ==================================== =======================

A ``Composite`` lists its sites as ``[[medium.sites]]`` tables (each a single-site medium: Qubit,
Levels, HarmonicOscillator or Spin, with its own ``type`` and keys; site 0 is the leftmost
Kronecker factor) and its couplings as ``[[medium.couplings]]`` tables with ``strength`` (a
number) and ``factors`` (an array of ``[operator_name, site]`` pairs on distinct sites; the
Hermitian conjugate is added when the product is not Hermitian)::

    [medium]
    type = "Composite"
    [[medium.sites]]
    type = "Qubit"
    omega = 1.0
    [[medium.sites]]
    type = "Qubit"
    omega = 1.0
    [[medium.couplings]]
    strength = 0.1
    factors = [["sigma_plus", 0], ["sigma_minus", 1]]

``[engine]`` (optional): ``flavour`` = ``"global"`` (default) or ``"local"``; ``bookkeeping`` =
``"bare"`` (default) or ``"full"`` for the local flavour (the global flavour always books heat
against the full Hamiltonian, so it accepts only ``"full"``); ``solver`` = ``"auto"``
(default), ``"pauli"``, ``"dense"``, ``"sparse"`` or ``"iterative"``.

``[[reservoirs]]`` (one or more tables, names unique): ``name``, ``type`` (``"bosonic"`` or
``"fermionic"``), ``T`` (>= 0), ``coupling`` (>= 0), ``operator`` (a name of the medium's
operators, e.g. ``"sigma_x"``, ``"pair_0_2"``, ``"a"``) are required; ``site`` is required for
multi-site media (SpinChain, Composite) and optional (0) otherwise.  Bosonic baths take
``spectrum`` = ``"flat"`` (default) or ``"ohmic"``, with ``cutoff`` (default inf) and ``w0``
(default 1) for the ohmic spectrum only, and ``dephasing`` (default 0) for the flat one.
Fermionic leads take ``mu`` (default 0).  TOML writes infinity as ``inf``.

``[drive]`` (optional, a resonant classical field, `engines.Drive`): ``levels`` (two basis-state
indices), ``strength``, ``detuning`` (default 0).  The medium's Hamiltonian must be diagonal.

``[cycle]`` (instead of ``[engine]`` and ``[drive]``): a cycle of strokes, `cycles.Cycle`.  Either
a named cycle, ``type`` and the keyword arguments of its constructor in `cycles` (reservoirs by
their ``name`` in ``[[reservoirs]]``; ``control`` is the medium control the strokes change)::

    [cycle]
    type = "otto"
    hot = "hot"
    cold = "cold"
    low = 1.0                       # control value against the cold reservoir
    high = 2.0                      # ... and against the hot one
    tau_hot = inf                   # full thermalisation (TOML's float infinity, no quotes)

========= ====================================== =============================================
type      required keys                          optional keys (default)
========= ====================================== =============================================
otto      hot, cold, low, high                   control ("omega"), tau_hot (inf), tau_cold
                                                 (inf), tau_compress (0), tau_expand (0),
                                                 flavour ("global")
carnot    hot, cold, start, end, tau_hot,        control, steps (64), tau_adiabats (0), flavour
          tau_cold
stirling  hot, cold, start, end, tau_hot,        control, tau_heat (inf), tau_cool (inf), steps
          tau_cold                               (64), flavour
swap      hot, cold, omega_h, omega_c, coupling  resonance (omega_c), tau_hot (inf),
                                                 tau_cold (inf), hot_control ("omega_0"),
                                                 cold_control ("omega_1"), coupling_control
                                                 ("g_0"), flavour
========= ====================================== =============================================

or an explicit list of ``[[cycle.strokes]]`` tables (then ``[cycle]`` holds nothing else), run in
order, the last joining the first; each has a ``type`` and that stroke's fields::

    [[cycle.strokes]]
    type = "unitary"
    start = { omega = 1.0 }
    end = { omega = 2.0 }
    duration = 0.0                  # a sudden quench

    [[cycle.strokes]]
    type = "thermalize"
    bath = "hot"
    controls = { omega = 2.0 }
    duration = inf

============ ============================= ===================================================
type         required keys                 optional keys
============ ============================= ===================================================
thermalize   bath, duration (>= 0, inf)    controls, flavour, name
unitary      start, end, duration (>= 0)   schedule ("linear"), name
isotherm     bath, start, end, duration    steps (64), tol, schedule, flavour, name
             (> 0)
============ ============================= ===================================================

``bath`` names a reservoir; ``controls``, ``start`` and ``end`` are inline tables of control
values (controls left out keep the medium's values); ``flavour`` is ``"global"`` (default) or
``"local"``; ``name`` labels the stroke in the per-stroke table (stroke names must be unique; the
default is ``"thermalize <bath>"``, ``"unitary"`` or ``"isotherm <bath>"``).  Consecutive strokes
must join (the controls one ends with are those the next starts with), and every reservoir must
be attached by some stroke.

Units hbar = k_B = 1.  Sign conventions are those of `engines` and `cycles`: heat J_a (Q_a per
cycle) > 0 flows from reservoir a into the medium; output power P = sum_a J_a > 0 for an engine; for
a cycle W > 0 is work done on the medium per cycle and P = -W / period.

Examples
--------
>>> design = load_design("examples/maser.toml")          # doctest: +SKIP
>>> design.run().efficiency                              # doctest: +SKIP
0.6666666666666669
>>> load_design("examples/otto_qubit.toml").run().efficiency   # doctest: +SKIP
0.5
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

import cycles
import engines
from cycles.strokes import SCHEDULES
from engines.checks import WorkbenchError, choice, integer, real
from engines.generators import BOOKKEEPINGS, FLAVOURS
from engines.reservoirs import SPECTRA
from engines.steady import SOLVERS

__all__ = ["Design", "design_from_dict", "load_design"]

_TOP_KEYS = ("name", "description", "medium", "engine", "reservoirs", "drive", "cycle")
_ENGINE_KEYS = ("flavour", "bookkeeping", "solver")
_DRIVE_REQUIRED, _DRIVE_OPTIONAL = ("levels", "strength"), ("detuning",)

#: Single-site media: type -> (class, required keys, optional keys).  Checked against the
#: constructors' signatures by the tests, so the schema cannot drift from `engines.media`.
SITE_MEDIA = {
    "Qubit": (engines.Qubit, ("omega",), ("delta",)),
    "Levels": (engines.Levels, ("energies",), ()),
    "HarmonicOscillator": (engines.HarmonicOscillator, ("omega", "n_max"), ("truncation_tol",)),
    "Spin": (engines.Spin, ("j", "omega"), ()),
}
#: Every medium type a design file may name.
MEDIA = (*SITE_MEDIA, "SpinChain", "Composite")
_CHAIN_REQUIRED, _CHAIN_OPTIONAL = ("n", "J", "Delta"), ("field",)
_COUPLING_KEYS = ("strength", "factors")

RESERVOIR_TYPES = ("bosonic", "fermionic")
_RESERVOIR_COMMON = ("name", "type", "T", "coupling", "operator", "site")
_RESERVOIR_REQUIRED = ("name", "type", "T", "coupling", "operator")
_RESERVOIR_EXTRA = {"bosonic": ("spectrum", "cutoff", "w0", "dephasing"), "fermionic": ("mu",)}
_OHMIC_ONLY = ("cutoff", "w0")

# What a key of a cycle table holds (checked and converted by `_Builder.cycle_value`).
_BATH = "reservoir"  # a reservoir's name
_CONTROL = "control"  # a name of the medium's controls
_NUMBER = "number"  # a finite real
_CONTROLS = "controls"  # an inline table {control: value}
_DURATION = "duration"  # >= 0, finite (a unitary stroke)
_RELAXATION = "relaxation"  # >= 0 or inf (a thermalisation)
_SPAN = "span"  # > 0, finite (an isotherm)
_STEPS = "steps"  # an integer >= 1
_TOL = "tol"  # > 0, finite
_FLAVOUR, _SCHEDULE, _NAME = "flavour", "schedule", "name"

#: Named cycles: type -> (constructor, {required key: what}, {optional key: what}).  The keys are
#: the constructors' keyword arguments (checked against their signatures by the tests).
CYCLES = {
    "otto": (
        cycles.otto,
        {"hot": _BATH, "cold": _BATH, "low": _NUMBER, "high": _NUMBER},
        {
            "control": _CONTROL,
            "tau_hot": _RELAXATION,
            "tau_cold": _RELAXATION,
            "tau_compress": _DURATION,
            "tau_expand": _DURATION,
            "flavour": _FLAVOUR,
        },
    ),
    "carnot": (
        cycles.carnot,
        {"hot": _BATH, "cold": _BATH, "start": _NUMBER, "end": _NUMBER, "tau_hot": _SPAN, "tau_cold": _SPAN},
        {"control": _CONTROL, "steps": _STEPS, "tau_adiabats": _DURATION, "flavour": _FLAVOUR},
    ),
    "stirling": (
        cycles.stirling,
        {"hot": _BATH, "cold": _BATH, "start": _NUMBER, "end": _NUMBER, "tau_hot": _SPAN, "tau_cold": _SPAN},
        {
            "control": _CONTROL,
            "tau_heat": _RELAXATION,
            "tau_cool": _RELAXATION,
            "steps": _STEPS,
            "flavour": _FLAVOUR,
        },
    ),
    "swap": (
        cycles.swap,
        {"hot": _BATH, "cold": _BATH, "omega_h": _NUMBER, "omega_c": _NUMBER, "coupling": _NUMBER},
        {
            "resonance": _NUMBER,
            "tau_hot": _RELAXATION,
            "tau_cold": _RELAXATION,
            "hot_control": _CONTROL,
            "cold_control": _CONTROL,
            "coupling_control": _CONTROL,
            "flavour": _FLAVOUR,
        },
    ),
}
#: Strokes of an explicit cycle: type -> (class, {required key: what}, {optional key: what}); the
#: keys are the stroke classes' fields (checked against their signatures by the tests).
STROKES = {
    "thermalize": (
        cycles.Thermalize,
        {"bath": _BATH, "duration": _RELAXATION},
        {"controls": _CONTROLS, "flavour": _FLAVOUR, "name": _NAME},
    ),
    "unitary": (
        cycles.Unitary,
        {"start": _CONTROLS, "end": _CONTROLS, "duration": _DURATION},
        {"schedule": _SCHEDULE, "name": _NAME},
    ),
    "isotherm": (
        cycles.Isotherm,
        {"bath": _BATH, "start": _CONTROLS, "end": _CONTROLS, "duration": _SPAN},
        {"steps": _STEPS, "tol": _TOL, "schedule": _SCHEDULE, "flavour": _FLAVOUR, "name": _NAME},
    ),
}
#: Spellings of infinity that TOML reads as a string, not the float ``inf``.
_INF_STRINGS = ("inf", "+inf", "infinity", "+infinity")


@dataclass(frozen=True)
class Design:
    """A loaded design: a continuous machine and how to solve it, or a cycle.

    Exactly one of `engine` and `cycle` is set; `kind` says which, and `run` solves either.

    Attributes
    ----------
    engine : engines.Engine or None
        Medium, reservoirs, drive and flavour (its generator is already built and checked).
    solver : str
        Steady-state solver named in ``[engine]`` (``"auto"`` unless set; unused by cycles).
    name : str
        Display name (the file's stem unless the design sets ``name``).
    description : str
        Free text from the design (may be empty).
    source : str
        Where the design came from (a path, or ``"<dict>"``).
    cycle : cycles.Cycle or None
        Medium and strokes of a cycle design (already compiled and checked to close).
    """

    engine: engines.Engine | None = None
    solver: str = "auto"
    name: str = ""
    description: str = ""
    source: str = "<dict>"
    cycle: cycles.Cycle | None = None

    def __post_init__(self):
        if (self.engine is None) == (self.cycle is None):
            raise WorkbenchError(
                "Design: give exactly one of `engine` (an engines.Engine) and `cycle` (a cycles.Cycle), "
                f"got engine={self.engine!r}, cycle={self.cycle!r}."
            )

    @property
    def kind(self) -> str:
        """``"engine"`` (a continuous machine, solved for its NESS) or ``"cycle"`` (a limit cycle)."""
        return "engine" if self.engine is not None else "cycle"

    @property
    def medium(self) -> engines.Medium:
        """The working medium (of the engine or of the cycle)."""
        return (self.engine if self.engine is not None else self.cycle).medium

    @property
    def reservoirs(self) -> tuple:
        """The design's reservoirs: an engine's in file order, a cycle's in the order its strokes
        attach them (every reservoir of a cycle design is attached by some stroke)."""
        if self.engine is not None:
            return tuple(self.engine.reservoirs)
        return tuple(self.cycle.reservoirs.values())

    def run(self, solver: str | None = None):
        """Solve the design: `steady_state` of an engine, `limit_cycle` of a cycle.

        Parameters
        ----------
        solver : str, optional
            Steady-state solver for an engine (default: the design's own); a cycle takes none.

        Returns
        -------
        engines.SteadyState or cycles.CycleResult
        """
        if self.kind == "engine":
            return self.steady_state(solver)
        if solver is not None:
            raise WorkbenchError(
                f"{self.source}: `solver` = {solver!r} applies to continuous engines; this design is a "
                "cycle (its limit cycle is a fixed point of the one-period map, with no solver to choose)."
            )
        return self.limit_cycle()

    def steady_state(self, solver: str | None = None) -> engines.SteadyState:
        """The machine's NESS with `solver` (default: the design's own `solver`).

        Raises
        ------
        WorkbenchError
            From the solver or the medium's state check, prefixed with the design's `source`; or if
            the design is a cycle.
        """
        if self.engine is None:
            raise WorkbenchError(
                f"{self.source}: the design is a cycle, which has a limit cycle, not a steady state; "
                "call limit_cycle() or run()."
            )
        try:
            return self.engine.steady_state(self.solver if solver is None else solver)
        except WorkbenchError as e:
            raise type(e)(f"{self.source}: {e}") from e

    def limit_cycle(self) -> cycles.CycleResult:
        """The cycle's periodic steady state and its per-cycle thermodynamics.

        The cycle applies the medium's `check_state` (e.g. the truncation of a harmonic oscillator)
        to the limit-cycle state at every stroke boundary.

        Raises
        ------
        WorkbenchError
            From the cycle or the state check, prefixed with the design's `source`; or if the
            design is a continuous engine.
        """
        if self.cycle is None:
            raise WorkbenchError(
                f"{self.source}: the design is a continuous engine, which has a steady state, not a "
                "limit cycle; call steady_state() or run()."
            )
        try:
            result = self.cycle.limit_cycle()
        except WorkbenchError as e:
            raise type(e)(f"{self.source}: {e}") from e
        return result

    def __repr__(self) -> str:
        if self.engine is None:
            return f"Design({self.name!r}, {self.cycle!r})"
        return f"Design({self.name!r}, {self.engine!r}, solver={self.solver!r})"


def load_design(path) -> Design:
    """Read a TOML design file into a `Design`.

    Parameters
    ----------
    path : str or os.PathLike
        The design file (schema in the module docstring).

    Returns
    -------
    Design

    Raises
    ------
    WorkbenchError
        If the file is missing or unreadable, is not valid TOML (the message carries tomllib's
        line and column), or breaks the schema.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise WorkbenchError(f"{path}: no such design file.") from None
    except IsADirectoryError:
        raise WorkbenchError(f"{path}: is a directory, not a design file.") from None
    except OSError as e:
        raise WorkbenchError(f"{path}: cannot read the design file: {e.strerror or e}.") from e
    except tomllib.TOMLDecodeError as e:
        raise WorkbenchError(f"{path}: not valid TOML: {e}.") from e
    except UnicodeDecodeError as e:
        raise WorkbenchError(f"{path}: not valid TOML: the file is not UTF-8 text ({e.reason}).") from e
    return design_from_dict(data, source=str(path))


def design_from_dict(data: Mapping, source: str = "<dict>") -> Design:
    """Build a `Design` from parsed TOML (or any nested dict of the same shape).

    Parameters
    ----------
    data : mapping
        The design, as `tomllib.load` returns it (schema in the module docstring).
    source : str
        Where `data` came from; it prefixes every error message and names an unnamed design.

    Returns
    -------
    Design

    Raises
    ------
    WorkbenchError
        Naming the table and key at fault and what is allowed.
    """
    b = _Builder(source)
    top = b.table(data, "the design", _TOP_KEYS, required=("medium", "reservoirs"))
    clash = [f"[{key}]" for key in ("engine", "drive") if key in top]
    if "cycle" in top and clash:
        b.fail(
            f"the design has both [cycle] and {' and '.join(clash)}: [cycle] describes a cycle of "
            "strokes, [engine] and [drive] a continuous machine; keep one or the other."
        )
    name = b.string(top, "the design", "name", default=_default_name(source))
    description = b.string(top, "the design", "description", default="")
    medium = b.medium(top["medium"])
    if "cycle" in top:
        reservoirs = b.reservoirs(top["reservoirs"], medium)
        cycle = b.cycle(top["cycle"], medium, reservoirs)
        return Design(cycle=cycle, name=name, description=description, source=source)
    eng = b.table(top.get("engine", {}), "[engine]", _ENGINE_KEYS)
    flavour = b.choice("[engine]", "flavour", eng.get("flavour", "global"), FLAVOURS)
    bookkeeping = eng.get("bookkeeping")
    if bookkeeping is not None:
        b.choice("[engine]", "bookkeeping", bookkeeping, BOOKKEEPINGS)
        if flavour == "global" and bookkeeping != "full":
            b.fail(
                f"[engine]: `bookkeeping` = {bookkeeping!r} needs flavour = 'local' (the global flavour "
                "always books heat against the full Hamiltonian); remove it or set flavour = 'local'."
            )
    solver = b.choice("[engine]", "solver", eng.get("solver", "auto"), SOLVERS)
    reservoirs = b.reservoirs(top["reservoirs"], medium)
    drive = b.drive(top["drive"]) if "drive" in top else None
    engine = b.check(
        "building the engine",
        lambda: engines.Engine(medium, reservoirs, flavour, drive, bookkeeping=bookkeeping),
    )
    return Design(engine=engine, solver=solver, name=name, description=description, source=source)


def _or(names) -> str:
    """'a', 'b' or 'c' (for messages listing what is allowed)."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _default_name(source: str) -> str:
    return source if source.startswith("<") else PurePath(source).stem


def _kind(value) -> str:
    """TOML's word for the type of a parsed value (for error messages)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


class _Builder:
    """Checks and builds the parts of one design; every error message starts with the source."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str):
        raise WorkbenchError(f"{self.source}: {message}")

    def check(self, where: str, build):
        """Call `build()`; re-raise its `WorkbenchError` (or a stray TypeError) with `where` in front."""
        try:
            return build()
        except WorkbenchError as e:
            raise type(e)(f"{self.source}: {where}: {e}") from e
        except TypeError as e:  # a constructor handed a value of a type it does not check for
            raise WorkbenchError(f"{self.source}: {where}: a value has the wrong type ({e}).") from e

    def choice(self, where: str, key: str, value, allowed) -> str:
        try:
            return choice(where, key, value, tuple(allowed))
        except WorkbenchError as e:
            raise WorkbenchError(f"{self.source}: {e}") from None

    def table(self, value, where: str, allowed, required=()) -> Mapping:
        """`value` checked to be a table holding only `allowed` keys and every `required` one."""
        if not isinstance(value, Mapping):
            self.fail(f"{where} must be a table, got {_kind(value)} ({value!r}).")
        for key in value:
            if key not in allowed:
                self.fail(f"unknown key {key!r} in {where}; allowed keys: {', '.join(allowed)}.")
        for key in required:
            if key not in value:
                self.fail(
                    f"{where} is missing the required key {key!r} (allowed keys: {', '.join(allowed)})."
                )
        return value

    def typed(self, value, where: str, allowed) -> Mapping:
        """A table whose `type` key picks the schema: returns its (checked) type."""
        if not isinstance(value, Mapping):
            self.fail(f"{where} must be a table, got {_kind(value)} ({value!r}).")
        if "type" not in value:
            self.fail(f"{where} is missing the required key 'type' (one of {', '.join(map(repr, allowed))}).")
        return self.choice(where, "type", value["type"], allowed)

    def string(self, table: Mapping, where: str, key: str, default=None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.fail(f"{where}: `{key}` must be a string, got {_kind(value)} ({value!r}).")
        return value

    def array(self, value, where: str, key: str, table: str) -> list:
        if isinstance(value, Mapping):
            self.fail(f"{where}: `{key}` must be an array of tables: write [[{table}]], not [{table}].")
        if not isinstance(value, (list, tuple)):
            self.fail(
                f"{where}: `{key}` must be an array of [[{table}]] tables, got {_kind(value)} ({value!r})."
            )
        return list(value)

    # ------------------------------------------------------------------------------------ media
    def medium(self, value) -> engines.Medium:
        where = "[medium]"
        kind = self.typed(value, where, MEDIA)
        if kind == "Composite":
            return self.composite(value)
        if kind == "SpinChain":
            self.table(
                value,
                f"{where} (type 'SpinChain')",
                ("type", *_CHAIN_REQUIRED, *_CHAIN_OPTIONAL),
                _CHAIN_REQUIRED,
            )
            args = {k: v for k, v in value.items() if k != "type"}
            return self.check(where, lambda: engines.SpinChain(**args))
        return self.site(value, where)

    def site(self, value, where: str) -> engines.Medium:
        """A single-site medium from its table."""
        kind = self.typed(value, where, SITE_MEDIA)
        cls, required, optional = SITE_MEDIA[kind]
        self.table(value, f"{where} (type {kind!r})", ("type", *required, *optional), required)
        args = {k: v for k, v in value.items() if k != "type"}
        return self.check(where, lambda: cls(**args))

    def composite(self, value) -> engines.Composite:
        where = "[medium]"
        self.table(value, f"{where} (type 'Composite')", ("type", "sites", "couplings"), ("sites",))
        sites = self.array(value["sites"], where, "sites", "medium.sites")
        if not sites:
            self.fail(f"{where}: `sites` must hold at least one [[medium.sites]] table, got [].")
        media = [self.site(s, f"medium.sites[{i}]") for i, s in enumerate(sites)]
        couplings = []
        for k, c in enumerate(self.array(value.get("couplings", []), where, "couplings", "medium.couplings")):
            at = f"medium.couplings[{k}]"
            self.table(c, at, _COUPLING_KEYS, _COUPLING_KEYS)
            factors = c["factors"]
            pairs = isinstance(factors, (list, tuple)) and all(isinstance(f, (list, tuple)) for f in factors)
            if not pairs:
                self.fail(
                    f"{at}: `factors` must be an array of [operator_name, site] pairs, "
                    f"e.g. [['sigma_plus', 0], ['sigma_minus', 1]], got {factors!r}."
                )
            couplings.append((c["strength"], [tuple(f) for f in factors]))
        return self.check(where, lambda: engines.Composite(media, couplings))

    # ------------------------------------------------------------------------------- reservoirs
    def reservoirs(self, value, medium) -> list:
        tables = self.array(value, "the design", "reservoirs", "reservoirs")
        if not tables:
            self.fail("`reservoirs` must hold at least one [[reservoirs]] table, got [].")
        out = [self.reservoir(r, i, medium) for i, r in enumerate(tables)]
        seen = {}
        for i, r in enumerate(out):
            if r.name in seen:
                self.fail(
                    f"reservoirs[{i}]: `name` {r.name!r} is already used by reservoirs[{seen[r.name]}]; "
                    "reservoir names must be unique (heat currents are keyed by them)."
                )
            seen[r.name] = i
        return out

    def reservoir(self, value, index: int, medium) -> engines.Reservoir:
        where = f"reservoirs[{index}]"
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            where += f" ({value['name']!r})"
        kind = self.typed(value, where, RESERVOIR_TYPES)
        allowed = (*_RESERVOIR_COMMON, *_RESERVOIR_EXTRA[kind])
        r = self.table(value, f"{where} (type {kind!r})", allowed, _RESERVOIR_REQUIRED)
        op, site = r["operator"], r.get("site")
        if not isinstance(op, str):
            self.fail(
                f"{where}: `operator` must be a name of the medium's operators "
                f"({', '.join(medium.operator_names)}), got {_kind(op)} ({op!r})."
            )
        n_sites = len(medium.site_dims)
        if site is None and n_sites > 1:
            self.fail(
                f"{where}: `site` is required for a medium with {n_sites} sites: an integer 0..{n_sites - 1}."
            )
        # Check the operator on its site now (cheap: the site's own space), so the error names this
        # reservoir rather than surfacing later from the generator.
        self.check(where, lambda: medium.local_operator(op, 0 if site is None else site))
        common = dict(name=r["name"], T=r["T"], coupling=r["coupling"], operator=op, site=site)
        if kind == "fermionic":
            return self.check(where, lambda: engines.FermionicLead(mu=r.get("mu", 0.0), **common))
        spectrum = self.choice(where, "spectrum", r.get("spectrum", "flat"), SPECTRA)
        for key in _OHMIC_ONLY:
            if key in r and spectrum != "ohmic":
                self.fail(
                    f"{where}: `{key}` applies to spectrum = 'ohmic' only, got spectrum = {spectrum!r}."
                )
        if "dephasing" in r and spectrum == "ohmic":
            self.fail(
                f"{where}: `dephasing` applies to spectrum = 'flat' only (the ohmic zero-frequency rate is "
                "coupling * T / w0)."
            )
        extra = {k: r[k] for k in ("cutoff", "w0", "dephasing") if k in r}
        return self.check(where, lambda: engines.BosonicBath(spectrum=spectrum, **common, **extra))

    # ------------------------------------------------------------------------------------ drive
    def drive(self, value) -> engines.Drive:
        where = "[drive]"
        d = self.table(value, where, (*_DRIVE_REQUIRED, *_DRIVE_OPTIONAL), _DRIVE_REQUIRED)
        detuning = d.get("detuning", 0.0)
        return self.check(
            where, lambda: engines.Drive(levels=d["levels"], strength=d["strength"], detuning=detuning)
        )

    # ------------------------------------------------------------------------------------ cycle
    def cycle(self, value, medium, reservoirs) -> cycles.Cycle:
        """A named cycle (``type``) or an explicit one (``[[cycle.strokes]]``) from ``[cycle]``."""
        where = "[cycle]"
        if not isinstance(value, Mapping):
            self.fail(f"{where} must be a table, got {_kind(value)} ({value!r}).")
        baths = {r.name: r for r in reservoirs}
        if "type" in value and "strokes" in value:
            self.fail(
                f"{where} has both `type` and `strokes`: name a cycle (type = {_or(CYCLES)}) or list "
                "its strokes ([[cycle.strokes]] tables), not both."
            )
        if "strokes" in value:
            cycle = self.explicit_cycle(value, medium, baths)
        elif "type" in value:
            cycle = self.named_cycle(value, medium, baths)
        else:
            self.fail(
                f"{where} needs either `type` ({_or(CYCLES)}) or [[cycle.strokes]] tables "
                f"(each with `type` {_or(STROKES)})."
            )
        for i, r in enumerate(reservoirs):
            if r.name not in cycle.reservoirs:
                self.fail(
                    f"reservoirs[{i}] ({r.name!r}) is attached by no stroke of [cycle]; remove it or "
                    "attach it (`hot`/`cold` of a named cycle, `bath` of a stroke)."
                )
        return cycle

    def named_cycle(self, value, medium, baths) -> cycles.Cycle:
        where = "[cycle]"
        kind = self.choice(where, "type", value["type"], CYCLES)
        build, required, optional = CYCLES[kind]
        at = f"{where} (type {kind!r})"
        self.table(value, at, ("type", *required, *optional), required)
        args = {
            key: self.cycle_value(where, key, {**required, **optional}[key], v, medium, baths)
            for key, v in value.items()
            if key != "type"
        }
        return self.check(at, lambda: build(medium, **args))

    def explicit_cycle(self, value, medium, baths) -> cycles.Cycle:
        self.table(value, "[cycle] (explicit [[cycle.strokes]])", ("strokes",))
        tables = self.array(value["strokes"], "[cycle]", "strokes", "cycle.strokes")
        if not tables:
            self.fail("[cycle]: `strokes` must hold at least one [[cycle.strokes]] table, got [].")
        strokes = [self.stroke(t, i, medium, baths) for i, t in enumerate(tables)]
        seen = {}
        for i, s in enumerate(strokes):
            if s.name in seen:
                self.fail(
                    f"cycle.strokes[{i}] ({s.name!r}): the stroke name {s.name!r} is already used by "
                    f"cycle.strokes[{seen[s.name]}]; stroke names must be unique (they label the "
                    "per-stroke table): set `name` on one of them."
                )
            seen[s.name] = i
        return self.check("[cycle]", lambda: cycles.Cycle(medium, strokes))

    def stroke(self, value, index: int, medium, baths) -> cycles.Stroke:
        where = f"cycle.strokes[{index}]"
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            where += f" ({value['name']!r})"
        kind = self.typed(value, where, STROKES)
        cls, required, optional = STROKES[kind]
        self.table(value, f"{where} (type {kind!r})", ("type", *required, *optional), required)
        args = {
            key: self.cycle_value(where, key, {**required, **optional}[key], v, medium, baths)
            for key, v in value.items()
            if key != "type"
        }
        return self.check(where, lambda: cls(**args))

    def cycle_value(self, where: str, key: str, what: str, value, medium, baths):
        """`value` of `key` checked and converted according to `what` (see `CYCLES`, `STROKES`)."""
        try:
            if what == _BATH:
                if not isinstance(value, str) or value not in baths:
                    self.fail(
                        f"{where}: `{key}` must name one of the design's reservoirs ({_or(baths)}), "
                        f"got {value!r}."
                    )
                return baths[value]
            if what == _CONTROL:
                return choice(where, key, value, tuple(medium.controls))
            if what == _CONTROLS:
                return self.controls(where, key, value, medium)
            if what == _NUMBER:
                return real(where, key, value)
            if what in (_DURATION, _RELAXATION, _SPAN, _TOL):
                if what == _RELAXATION and isinstance(value, str) and value.strip().lower() in _INF_STRINGS:
                    self.fail(
                        f"{where}: `{key}` must be a number, got the string {value!r}; write inf without "
                        "quotes (TOML's float infinity)."
                    )
                strict = what in (_SPAN, _TOL)
                return real(where, key, value, minimum=0.0, strict=strict, allow_inf=what == _RELAXATION)
            if what == _STEPS:
                return integer(where, key, value, minimum=1)
            if what == _FLAVOUR:
                return choice(where, key, value, FLAVOURS)
            if what == _SCHEDULE:
                return choice(where, key, value, SCHEDULES)
            if what == _NAME:
                if not isinstance(value, str) or not value.strip():
                    self.fail(f"{where}: `{key}` must be a non-empty string, got {value!r}.")
                return value
        except WorkbenchError as e:
            if str(e).startswith(f"{self.source}: "):
                raise
            raise WorkbenchError(f"{self.source}: {e}") from None
        raise AssertionError(f"no check for {what!r}")  # pragma: no cover

    def controls(self, where: str, key: str, value, medium) -> dict:
        """An inline table of control values, each a control of `medium` and a finite real."""
        allowed = tuple(medium.controls)
        if not isinstance(value, Mapping):
            self.fail(
                f"{where}: `{key}` must be an inline table of control values such as "
                f"{{ {allowed[0]} = 1.0 }} (controls: {', '.join(allowed)}), got {_kind(value)} ({value!r})."
            )
        out = {}
        for name, x in value.items():
            if name not in allowed:
                self.fail(
                    f"{where}: `{key}` sets {name!r}, which is not a control of the medium "
                    f"({type(medium).__name__} has {', '.join(allowed)})."
                )
            out[name] = real(where, f"{key}.{name}", x)
        return out
