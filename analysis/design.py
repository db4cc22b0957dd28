"""Design files: a machine written down in TOML and loaded into an `engines.Engine` or a `cycles.Cycle`.

A design file names a working medium and the reservoirs it touches, and then either how a
continuous machine is built and solved (``[engine]``, an optional classical ``[drive]``) or the
strokes of a cycle (``[cycle]``); a design holding both ``[cycle]`` and ``[engine]``/``[drive]`` is
refused.

Two layers check a design, and every message names the file and the table:

* the loader checks the file's structure: unknown keys (with the closest allowed key), missing
  keys, TOML types where it reads or converts a value (tables, arrays of tables, names and
  inline tables of controls, the numbers of a named cycle), and names that refer to other tables
  (the reservoirs a stroke attaches);
* every value is then handed to the constructors of `engines` and `cycles`, which check it and
  raise `engines.WorkbenchError` naming the owner, the field, the value and what is allowed; the
  loader only puts the file and the table in front, e.g.
  ``examples/x.toml: reservoirs[1] ('cold'): BosonicBath 'cold': `T` must be >= 0, got -1.0.``

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

``[engine]`` (optional): ``flavour`` = ``"global"`` (default), ``"local"``, ``"unified"`` or
``"redfield"`` (docs/physics.md, Section 3); ``bookkeeping`` =
``"bare"`` (default) or ``"full"`` for the local flavour (the global flavour always books heat
against the full Hamiltonian, so it accepts only ``"full"``); ``solver`` = ``"auto"``
(default), ``"pauli"``, ``"dense"``, ``"sparse"`` or ``"iterative"``.

``[[reservoirs]]`` (one or more tables, names unique): ``name``, ``type`` (``"bosonic"`` or
``"fermionic"``), ``T`` (>= 0), ``coupling`` (>= 0), ``operator`` (a name of the medium's
operators, e.g. ``"sigma_x"``, ``"pair_0_2"``, ``"a"``) are required; ``site`` is required for
multi-site media (SpinChain, Composite) and optional (0) otherwise.  Bosonic baths
(`engines.BosonicBath`) take ``spectrum`` = ``"flat"`` (default) or ``"ohmic"``, with ``cutoff``
(default inf) and ``w0`` (default 1) for the ohmic spectrum only, and ``dephasing`` (default 0,
the zero-frequency rate of the flat spectrum).  Fermionic leads (`engines.FermionicLead`) take
``mu`` (default 0).  TOML writes infinity as ``inf`` (no quotes).

``type = "squeezed"`` (`engines.SqueezedBath`, a squeezed thermal bath on the medium's one Bohr
frequency): the bosonic keys (not ``dephasing``) and ``r`` (squeezing, >= 0, required) and ``phi``
(its phase, default 0); ``examples/squeezed_otto.toml``.  It has no temperature in the thermodynamic
sense: Clausius figures are reported as undefined, with the reason.

``type = "channel"`` (`engines.ChannelReservoir`, jump operators with rates, as QuTiP's ``c_ops``):
``name`` and ``jumps`` (an array of tables ``{operator = ..., rate = ...}``, rates finite and >= 0)
are required; ``energy`` (the operator the energy current is booked against, default the medium's
Hamiltonian) and ``particles`` (a number operator whose current is reported) are optional.  No
``T``, ``coupling`` or ``site``; entropy production in the relative-entropy form only::

    [[reservoirs]]
    name = "pump"
    type = "channel"
    jumps = [{operator = "sigma_plus_0", rate = 0.05}]

An ``operator`` (of a reservoir, or of a channel reservoir's ``jumps``, ``energy`` or ``particles``)
is either a name of the medium's operators or a matrix written out as an array of rows, each row an
array of entries; an entry is a number or, for a complex one, an ``[re, im]`` pair of numbers.  The
matrix is square, finite and d x d, d the medium's dimension; on a multi-site medium a reservoir's
matrix acts on its ``site`` (required, as for a name) and is that site's d_s x d_s matrix, while a
channel's matrices act on the whole space.  The spinful dot's annihilator
d_dn = |0><dn| - |up><2| on the basis |0>, |up>, |dn>, |2> (``examples/coulomb_dot.toml``)::

    operator = [[0, 0, 1, 0],
                [0, 0, 0, -1],
                [0, 0, 0, 0],
                [0, 0, 0, 0]]
    operator = [[0, [0, 1]], [0, 0]]      # i |0><1|: complex entries as [re, im]

Matrices are not parameters: a sweep cannot address their entries.

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

``[options]`` (optional, engines and cycles alike): the tolerances and limits of the numerics,
passed to `engines.Options` (unknown names are refused with the allowed ones)::

    [options]
    residual_tol = 1e-12            # accept a steady state when ||L rho|| <= residual_tol ||L||
    drive_tol = 1e-11               # convergence of time-ordered unitary strokes

=============== ========= ==================================================================
option          default   what it sets
=============== ========= ==================================================================
degeneracy_tol  1e-9      levels (Bohr frequencies) closer than this, relative, are equal
residual_tol    1e-9      largest accepted ||L rho|| / ||L|| of a steady state
state_tol       1e-8      largest accepted non-Hermiticity, trace error, negative eigenvalue
null_tol        1e-10     singular values below this (relative) are zero modes of L
rcond_suspect   1e-12     reciprocal condition number below which the kernel is examined
dense_max_dim   24        largest dimension ``solver = "auto"`` solves densely
drive_tol       1e-10     Magnus steps of a unitary stroke double until it changes less
max_drive_steps 16384     most Magnus steps of a unitary stroke
control_tol     1e-12     relative mismatch of the controls allowed where strokes join
sector_tol      1e-13     leakage below which a cycle step keeps diagonal states diagonal
fixed_point_tol 1e-8      largest accepted fixed-point residual of a swept limit cycle
memory_limit    80 % RAM  bytes one build or solve may use (refused beforehand)
blas_threads    1         BLAS threads inside the iterative steady-state solver
unified_width   1         unified flavour: levels closer than this x the largest decay rate group
=============== ========= ==================================================================

``[sweep]`` (optional): the grid ``qhe sweep`` solves when no ``--grid`` is given, one entry per
parameter by its dotted name (`analysis.parameters`), an array of values or an evenly spaced range;
the axes combine as a Cartesian product::

    [sweep]
    "reservoirs.hot.T" = [2.0, 5.0, 10.0, 20.0]
    "drive.strength" = { start = 0.01, stop = 0.1, num = 10 }      # scale = "log" for geometric

Loading a design ignores this table; ``qhe sweep`` reads it (`analysis.sweep.Grid.from_table`).

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

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

import cycles
import engines
from engines.checks import UserCodeError, WorkbenchError, choice, fail, name
from engines.steady import SOLVERS

__all__ = ["Design", "design_from_dict", "load_design", "read_design"]

_TOP_KEYS = ("name", "description", "medium", "engine", "reservoirs", "drive", "cycle", "options", "sweep")
_ENGINE_KEYS = ("flavour", "bookkeeping", "solver")
_DRIVE_REQUIRED, _DRIVE_OPTIONAL = ("levels", "strength"), ("detuning",)
#: The errors the constructors raise on bad input, under the hierarchy of today (UserCodeError a
#: WorkbenchError) and of tomorrow (UserCodeError its own class): both get the file and table in front.
_INPUT_ERRORS = (WorkbenchError, UserCodeError)

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

#: Reservoirs: type -> (class, keys besides ``type``); the keys are the constructors' arguments
#: (checked against their signatures by the tests).
RESERVOIRS = {
    "bosonic": (
        engines.BosonicBath,
        ("name", "T", "coupling", "operator", "site", "spectrum", "cutoff", "w0", "dephasing"),
    ),
    "fermionic": (engines.FermionicLead, ("name", "T", "coupling", "operator", "site", "mu")),
    "squeezed": (
        engines.SqueezedBath,
        ("name", "T", "r", "phi", "coupling", "operator", "site", "spectrum", "cutoff", "w0"),
    ),
    "channel": (engines.ChannelReservoir, ("name", "jumps", "energy", "particles")),
}
RESERVOIR_TYPES = tuple(RESERVOIRS)
_RESERVOIR_REQUIRED = ("name", "type", "T", "coupling", "operator")
#: Required keys of the reservoir types that differ from `_RESERVOIR_REQUIRED`.
_REQUIRED = {"squeezed": (*_RESERVOIR_REQUIRED, "r"), "channel": ("name", "type", "jumps")}
_JUMP_KEYS = ("operator", "rate")
#: difflib similarity above which an unknown key is offered its closest allowed key.
_CLOSE_MATCH = 0.7
#: Keys that shape the ohmic spectrum only: `engines.BosonicBath` accepts and ignores them for the
#: flat spectrum, so the loader refuses them there (an unknown key for that spectrum).
_OHMIC_ONLY = ("cutoff", "w0")

# What the loader does with a key of a cycle table (see `_Builder.cycle_value`).  Only what the
# loader must read or convert is checked here; every value is checked by the stroke or protocol.
_BATH = "reservoir"  # a reservoir's name: looked up in [[reservoirs]]
_CONTROL = "control"  # a string (the Cycle checks that it names a control of the medium)
_NUMBER = "number"  # a TOML number (a named cycle renames it; its stroke checks the range)
_CONTROLS = "controls"  # an inline table {control: value}: keys checked here, values by the stroke
_NAME = "name"  # a non-empty string (a stroke takes "" for "unset")
_VALUE = "value"  # handed to the constructor unchanged, which checks it under the same name

#: Named cycles: type -> (constructor, {required key: what}, {optional key: what}).  The keys are
#: the constructors' keyword arguments (checked against their signatures by the tests).
CYCLES = {
    "otto": (
        cycles.otto,
        {"hot": _BATH, "cold": _BATH, "low": _NUMBER, "high": _NUMBER},
        {
            "control": _CONTROL,
            "tau_hot": _NUMBER,
            "tau_cold": _NUMBER,
            "tau_compress": _NUMBER,
            "tau_expand": _NUMBER,
            "flavour": _VALUE,
        },
    ),
    "carnot": (
        cycles.carnot,
        {
            "hot": _BATH,
            "cold": _BATH,
            "start": _NUMBER,
            "end": _NUMBER,
            "tau_hot": _NUMBER,
            "tau_cold": _NUMBER,
        },
        {"control": _CONTROL, "steps": _VALUE, "tau_adiabats": _NUMBER, "flavour": _VALUE},
    ),
    "stirling": (
        cycles.stirling,
        {
            "hot": _BATH,
            "cold": _BATH,
            "start": _NUMBER,
            "end": _NUMBER,
            "tau_hot": _NUMBER,
            "tau_cold": _NUMBER,
        },
        {
            "control": _CONTROL,
            "tau_heat": _NUMBER,
            "tau_cool": _NUMBER,
            "steps": _VALUE,
            "flavour": _VALUE,
        },
    ),
    "swap": (
        cycles.swap,
        {"hot": _BATH, "cold": _BATH, "omega_h": _NUMBER, "omega_c": _NUMBER, "coupling": _NUMBER},
        {
            "resonance": _NUMBER,
            "tau_hot": _NUMBER,
            "tau_cold": _NUMBER,
            "hot_control": _CONTROL,
            "cold_control": _CONTROL,
            "coupling_control": _CONTROL,
            "flavour": _VALUE,
        },
    ),
}
#: Strokes of an explicit cycle: type -> (class, {required key: what}, {optional key: what}); the
#: keys are the stroke classes' fields (checked against their signatures by the tests).
STROKES = {
    "thermalize": (
        cycles.Thermalize,
        {"bath": _BATH, "duration": _VALUE},
        {"controls": _CONTROLS, "flavour": _VALUE, "name": _NAME},
    ),
    "unitary": (
        cycles.Unitary,
        {"start": _CONTROLS, "end": _CONTROLS, "duration": _VALUE},
        {"schedule": _VALUE, "name": _NAME},
    ),
    "isotherm": (
        cycles.Isotherm,
        {"bath": _BATH, "start": _CONTROLS, "end": _CONTROLS, "duration": _VALUE},
        {"steps": _VALUE, "tol": _VALUE, "schedule": _VALUE, "flavour": _VALUE, "name": _NAME},
    ),
}


@dataclass(frozen=True)
class Design:
    """A loaded design: a continuous machine and how to solve it, or a cycle.

    Exactly one of `engine` and `cycle` is set; `kind` says which, and `run` solves either.

    Attributes
    ----------
    engine : engines.Engine or None
        Medium, reservoirs, drive, flavour and options (its generator is already built and checked).
    solver : str
        Steady-state solver named in ``[engine]`` (``"auto"`` unless set; unused by cycles).
    name : str
        Display name (the file's stem unless the design sets ``name``).
    description : str
        Free text from the design (may be empty).
    source : str
        Where the design came from (a path, or ``"<dict>"``).
    cycle : cycles.Cycle or None
        Medium, strokes and options of a cycle design (already compiled and checked to close).
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
        return self._machine.medium

    @property
    def options(self) -> engines.Options:
        """The numerical tolerances and limits (``[options]``, `engines.Options`)."""
        return self._machine.options

    @property
    def _machine(self):
        return self.engine if self.engine is not None else self.cycle

    @property
    def reservoirs(self) -> tuple:
        """The design's reservoirs: an engine's in file order, a cycle's in its strokes' order.

        Every reservoir of a cycle design is attached by some stroke.
        """
        if self.engine is not None:
            return tuple(self.engine.reservoirs)
        return tuple(self.cycle.reservoirs.values())

    def run(self, solver: str | None = None, initial=None):
        """Solve the design: `steady_state` of an engine, `limit_cycle` of a cycle.

        Parameters
        ----------
        solver : str, optional
            Steady-state solver for an engine (default: the design's own); a cycle takes none.
        initial : ndarray (d, d), optional
            Initial state of an engine, selecting its steady state when that is not unique (see
            `steady_state`); a cycle takes none.

        Returns
        -------
        engines.SteadyState or cycles.CycleResult
        """
        if self.kind == "engine":
            return self.steady_state(solver, initial)
        if solver is not None:
            raise WorkbenchError(
                f"{self.source}: `solver` = {solver!r} applies to continuous engines; this design is a "
                "cycle (its limit cycle is a fixed point of the one-period map, with no solver to choose)."
            )
        if initial is not None:
            raise WorkbenchError(
                f"{self.source}: `initial` applies to continuous engines; this design is a cycle, whose "
                "limit cycle is the fixed point of the one-period map and has no initial state."
            )
        return self.limit_cycle()

    def steady_state(self, solver: str | None = None, initial=None) -> engines.SteadyState:
        """The machine's NESS with `solver` (default: the design's own `solver`).

        Parameters
        ----------
        solver : str, optional
        initial : ndarray (d, d), optional
            A density matrix in the medium's basis (the rotating frame when driven).  When the
            steady state is not unique (conserved quantities), the one reached from `initial`:
            its spectral projection onto the kernel of L (`engines.Engine.steady_state`).

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
            return self.engine.steady_state(self.solver if solver is None else solver, initial=initial)
        except _INPUT_ERRORS as e:
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
            return self.cycle.limit_cycle()
        except _INPUT_ERRORS as e:
            raise type(e)(f"{self.source}: {e}") from e

    def __repr__(self) -> str:
        if self.engine is None:
            return f"Design({self.name!r}, {self.cycle!r})"
        return f"Design({self.name!r}, {self.engine!r}, solver={self.solver!r})"


def load_design(path) -> Design:
    """Read a TOML design file into a `Design`.

    Parameters
    ----------
    path : str or os.PathLike
        The design file (schema in the `analysis.design` module docstring).

    Returns
    -------
    Design
        A continuous machine (``design.engine``, solved by ``design.steady_state()``) or a cycle
        (``design.cycle``, solved by ``design.limit_cycle()``); ``design.run()`` solves either.

    Raises
    ------
    WorkbenchError
        If the file is missing or unreadable, is not valid TOML (the message carries tomllib's
        line and column), or breaks the schema; the message starts with the path and names the
        table and the key.

    See Also
    --------
    design_from_dict : the same from an already parsed mapping.

    Examples
    --------
    >>> from analysis import load_design
    >>> maser = load_design("examples/maser.toml")          # doctest: +SKIP
    >>> maser.kind, maser.run().mode                        # doctest: +SKIP
    ('engine', 'engine')
    >>> otto = load_design("examples/otto_qubit.toml")      # doctest: +SKIP
    >>> otto.kind, otto.run().efficiency                    # doctest: +SKIP
    ('cycle', 0.5)
    """
    return design_from_dict(read_design(path), source=str(path))


def read_design(path) -> dict:
    """The parsed TOML of a design file (not yet checked against the schema).

    Raises
    ------
    WorkbenchError
        If the file is missing or unreadable or is not valid TOML (with tomllib's line and column).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
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


def design_from_dict(data: Mapping, source: str = "<dict>") -> Design:
    """Build a `Design` from parsed TOML (or any nested mapping of the same shape).

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
        Naming the source, the table and the key at fault and what is allowed.
    """
    b = _Builder(source)
    top = b.table(data, "the design", _TOP_KEYS, required=("medium", "reservoirs"))
    clash = [f"[{key}]" for key in ("engine", "drive") if key in top]
    if "cycle" in top and clash:
        b.fail(
            f"the design has both [cycle] and {' and '.join(clash)}: [cycle] describes a cycle of "
            "strokes, [engine] and [drive] a continuous machine; keep one or the other."
        )
    name_ = b.string(top, "the design", "name", default=_default_name(source))
    description = b.string(top, "the design", "description", default="")
    options = b.options(top.get("options"))
    medium = b.medium(top["medium"])
    reservoirs = b.reservoirs(top["reservoirs"], medium)
    if "cycle" in top:
        cycle = b.cycle(top["cycle"], medium, reservoirs, options)
        return Design(cycle=cycle, name=name_, description=description, source=source)
    eng = b.table(top.get("engine", {}), "[engine]", _ENGINE_KEYS)
    # The solver is only used when the design runs; checking it now reports a typo at load time.
    solver = b.choice("[engine]", "solver", eng.get("solver", "auto"), SOLVERS)
    drive = b.drive(top["drive"], medium) if "drive" in top else None
    engine = b.check(
        "[engine]",
        lambda: engines.Engine(
            medium,
            reservoirs,
            eng.get("flavour", "global"),
            drive,
            bookkeeping=eng.get("bookkeeping"),
            options=options,
        ),
    )
    return Design(engine=engine, solver=solver, name=name_, description=description, source=source)


def _or(names) -> str:
    """'a', 'b' or 'c' (for messages listing what is allowed)."""
    quoted = [repr(n) for n in names]
    if not quoted:
        return "none (there are none)"
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


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Builder:
    """Checks the structure of one design and builds its parts; every error message starts with the source."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, message: str):
        raise WorkbenchError(f"{self.source}: {message}")

    def check(self, where: str, build):
        """Call `build()`; re-raise a constructor's error (or a stray TypeError) with `where` in front."""
        try:
            return build()
        except _INPUT_ERRORS as e:
            raise type(e)(f"{self.source}: {where}: {e}") from e
        except TypeError as e:  # a constructor handed a value of a type it does not check for
            raise WorkbenchError(f"{self.source}: {where}: a value has the wrong type ({e}).") from e

    def choice(self, where: str, key: str, value, allowed) -> str:
        return choice(f"{self.source}: {where}", key, value, tuple(allowed))

    def table(self, value, where: str, allowed, required=()) -> Mapping:
        """`value` checked to be a table holding only `allowed` keys and every `required` one."""
        if not isinstance(value, Mapping):
            self.fail(f"{where} must be a table, got {_kind(value)} ({value!r}).")
        for key in value:
            if key not in allowed:
                self.unknown_key(key, where, allowed)
        for key in required:
            if key not in value:
                self.fail(
                    f"{where} is missing the required key {key!r} (allowed keys: {', '.join(allowed)})."
                )
        return value

    def unknown_key(self, key, where: str, allowed, what: str = "allowed keys"):
        close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1, cutoff=_CLOSE_MATCH)
        hint = f"; did you mean {close[0]!r}?" if close else "."
        self.fail(f"unknown key {key!r} in {where}; {what}: {', '.join(allowed)}{hint}")

    def typed(self, value, where: str, allowed) -> str:
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

    # ---------------------------------------------------------------------------------- options
    def options(self, value) -> engines.Options | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(f"[options] must be a table, got {_kind(value)} ({value!r}).")
        return self.check("[options]", lambda: engines.Options.coerce(dict(value)))

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
        media = [self.site(s, f"medium.sites[{i}]") for i, s in enumerate(sites)]
        couplings = []
        for k, c in enumerate(self.array(value.get("couplings", []), where, "couplings", "medium.couplings")):
            self.table(c, f"medium.couplings[{k}]", _COUPLING_KEYS, _COUPLING_KEYS)
            couplings.append((c["strength"], c["factors"]))
        return self.check(where, lambda: engines.Composite(media, couplings))

    # ------------------------------------------------------------------------------- reservoirs
    def reservoirs(self, value, medium) -> list:
        tables = self.array(value, "the design", "reservoirs", "reservoirs")
        if not tables:
            self.fail("`reservoirs` must hold at least one [[reservoirs]] table, got [].")
        out = [self.reservoir(r, i, medium) for i, r in enumerate(tables)]
        # Names are how [cycle] refers to reservoirs and how results key their heats.
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
        cls, keys = RESERVOIRS[kind]
        allowed = ("name", "type", *keys[1:])
        r = self.table(value, f"{where} (type {kind!r})", allowed, _REQUIRED.get(kind, _RESERVOIR_REQUIRED))
        if kind == "channel":
            return self.channel(r, where, medium)
        args = {k: v for k, v in r.items() if k != "type"}
        args["operator"] = self.operator(r["operator"], where, "operator", medium)
        if kind == "fermionic":
            args.setdefault("mu", 0.0)
        if kind == "squeezed":
            args.setdefault("phi", 0.0)
        reservoir = self.check(where, lambda: cls(**args))
        if getattr(reservoir, "spectrum", None) == "flat":
            for key in _OHMIC_ONLY:
                if key in r:
                    self.unknown_key(
                        key,
                        f"{where} (type 'bosonic', spectrum 'flat')",
                        [k for k in allowed if k not in _OHMIC_ONLY],
                    )
        # The operator on its site now (the medium checks a name and the site on the site's own space,
        # cheaply; a matrix's shape is checked against the site's and the medium's dimension), so an
        # error names this reservoir rather than surfacing later from the engine.
        if isinstance(reservoir.operator, str):
            self.check(where, lambda: medium.local_operator(reservoir.operator, reservoir.site))
        else:
            self.check_shape(reservoir.operator, where, "operator", medium, reservoir.site, on_site=True)
        return reservoir

    def channel(self, r: Mapping, where: str, medium) -> engines.ChannelReservoir:
        """A ``type = "channel"`` reservoir: ``jumps`` = [{operator = NAME, rate = X}, ...]."""
        tables = self.array(r["jumps"], where, "jumps", "jumps")
        jumps = []
        for k, t in enumerate(tables):
            t = self.table(t, f"{where} jumps[{k}]", _JUMP_KEYS, _JUMP_KEYS)
            op = self.operator(t["operator"], f"{where} jumps[{k}]", "operator", medium)
            if not isinstance(op, str):
                self.check_shape(op, f"{where} jumps[{k}]", "operator", medium)
            jumps.append((op, t["rate"]))
        args = {"name": r["name"], "jumps": jumps}
        for key in ("energy", "particles"):
            args[key] = None
            if key in r:
                args[key] = self.operator(r[key], where, key, medium)
                if not isinstance(args[key], str):
                    self.check_shape(args[key], where, key, medium)
        return self.check(where, lambda: engines.ChannelReservoir(**args))

    # -------------------------------------------------------------------------------- operators
    def operator(self, value, where: str, key: str, medium) -> str | np.ndarray:
        """An operator field: a name (returned as is, for the medium to check) or a TOML matrix.

        A matrix is an array of rows, each an array of entries, an entry a number or an ``[re, im]``
        pair; it is returned as a complex (d, d) array checked to be square and finite (its
        dimension against the medium's is `check_shape`'s, which knows the reservoir's site).
        """
        if isinstance(value, str):
            return value
        owner = f"{self.source}: {where}"
        allowed = (
            "an operator name (a string) or a matrix written as an array of rows of numbers "
            "(complex entries as [re, im] pairs)"
        )
        if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
            fail(owner, key, value, allowed)
        rows = []
        for i, row in enumerate(value):
            entries = []
            for j, x in enumerate(row):
                if _is_number(x):
                    entries.append(complex(x))
                elif isinstance(x, list) and len(x) == 2 and all(_is_number(v) for v in x):
                    entries.append(complex(x[0], x[1]))
                else:
                    fail(owner, f"{key}[{i}][{j}]", x, "a number or an [re, im] pair of numbers")
            rows.append(entries)
        n = len(rows)
        if any(len(row) != n for row in rows):
            lengths = ", ".join(str(len(row)) for row in rows)
            fail(owner, key, f"{n} rows of lengths {lengths}", f"a square matrix ({n} rows of {n} entries)")
        m = np.array(rows, dtype=np.complex128)
        if not np.all(np.isfinite(m)):
            i, j = np.argwhere(~np.isfinite(m))[0]
            fail(owner, f"{key}[{i}][{j}]", value[i][j], "a finite number (no inf or nan in a matrix)")
        return m

    def check_shape(self, matrix: np.ndarray, where: str, key: str, medium, site=None, *, on_site=False):
        """A matrix operator of the medium's dimension, or (`on_site`) of its `site`'s.

        A reservoir's coupling operator (`on_site`) acts on its site's space, so that, as for an
        operator name, `site` is required on a multi-site medium (the local flavour and the regime
        check take each reservoir's operator on its own site).  A channel's operators act on the
        whole space.
        """
        owner = f"{self.source}: {where}"
        n_sites = len(medium.site_dims)
        d, what = medium.dim, "the medium's dimension"
        if on_site and n_sites > 1:
            if site is None or site >= n_sites:
                fail(
                    owner, "site", site, f"a site index 0..{n_sites - 1} for a matrix operator on this medium"
                )
            d, what = medium.site_dims[site], f"the dimension of site {site}"
        elif on_site and site not in (None, 0):
            fail(owner, "site", site, "0 or unset (single-site medium)")
        if matrix.shape[0] != d:
            fail(owner, key, f"a matrix of shape {matrix.shape}", f"of shape ({d}, {d}) ({what})")

    # ------------------------------------------------------------------------------------ drive
    def drive(self, value, medium) -> engines.Drive:
        where = "[drive]"
        d = self.table(value, where, (*_DRIVE_REQUIRED, *_DRIVE_OPTIONAL), _DRIVE_REQUIRED)
        drive = self.check(where, lambda: engines.Drive(**d))
        # The field against the medium now (the Drive checks its levels and the diagonal H), so an
        # error names [drive] rather than surfacing later from the engine.
        self.check(where, lambda: drive.rotating_hamiltonian(medium.hamiltonian()))
        return drive

    # ------------------------------------------------------------------------------------ cycle
    def cycle(self, value, medium, reservoirs, options) -> cycles.Cycle:
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
            cycle = self.explicit_cycle(value, medium, baths, options)
        elif "type" in value:
            cycle = self.named_cycle(value, medium, baths, options)
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

    def named_cycle(self, value, medium, baths, options) -> cycles.Cycle:
        where = "[cycle]"
        kind = self.choice(where, "type", value["type"], CYCLES)
        build, required, optional = CYCLES[kind]
        at = f"{where} (type {kind!r})"
        self.table(value, at, ("type", *required, *optional), required)
        args = {
            key: self.cycle_value(at, key, {**required, **optional}[key], v, medium, baths)
            for key, v in value.items()
            if key != "type"
        }
        return self.check(at, lambda: build(medium, **args, options=options))

    def explicit_cycle(self, value, medium, baths, options) -> cycles.Cycle:
        self.table(value, "[cycle] (explicit [[cycle.strokes]])", ("strokes",))
        tables = self.array(value["strokes"], "[cycle]", "strokes", "cycle.strokes")
        strokes = [self.stroke(t, i, medium, baths) for i, t in enumerate(tables)]
        return self.check("[cycle]", lambda: cycles.Cycle(medium, strokes, options))

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
        """`value` of `key` read according to `what` (see `CYCLES`, `STROKES`)."""
        owner = f"{self.source}: {where}"
        if what == _BATH:
            if not isinstance(value, str) or value not in baths:
                fail(owner, key, value, f"the name of one of the design's reservoirs ({_or(baths)})")
            return baths[value]
        if what == _CONTROL and not isinstance(value, str):
            fail(owner, key, value, "a string (a control of the medium)")
        if what == _NUMBER and not _is_number(value):
            fail(owner, key, value, "a number (a TOML float or integer)")
        if what == _NAME:
            return name(owner, key, value)
        if what == _CONTROLS:
            return self.controls(where, key, value, medium)
        return value

    def controls(self, where: str, key: str, value, medium) -> Mapping:
        """An inline table of control values, keyed by controls of `medium` (the stroke checks values)."""
        allowed = tuple(medium.controls)
        if not isinstance(value, Mapping):
            self.fail(
                f"{where}: `{key}` must be an inline table of control values such as "
                f"{{ {allowed[0]} = 1.0 }}, got {_kind(value)} ({value!r})."
            )
        for control in value:
            if control not in allowed:
                self.unknown_key(
                    control, f"{where} `{key}`", allowed, "allowed keys (controls of the medium)"
                )
        return value
