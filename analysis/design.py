"""Design files: a continuous machine written down in TOML and loaded into an `engines.Engine`.

A design file names a working medium, the reservoirs it touches, an optional classical drive and
how the master equation is built and solved.  Every table is checked strictly: an unknown key, a
missing required key, a value of the wrong type or out of range raises `engines.WorkbenchError`
whose message names the file, the table, the key and what is allowed.

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

Units hbar = k_B = 1.  Sign conventions are those of `engines`: heat J_a > 0 flows from reservoir
a into the medium; output power P = sum_a J_a > 0 for an engine.

Examples
--------
>>> design = load_design("examples/maser.toml")          # doctest: +SKIP
>>> design.steady_state().efficiency                     # doctest: +SKIP
0.6666666666666669
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

import engines
from engines._checks import WorkbenchError, choice
from engines.generators import BOOKKEEPINGS, FLAVOURS
from engines.reservoirs import SPECTRA
from engines.steady import SOLVERS

__all__ = ["Design", "design_from_dict", "load_design"]

_TOP_KEYS = ("name", "description", "medium", "engine", "reservoirs", "drive")
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


@dataclass(frozen=True)
class Design:
    """A loaded design: the machine and how to solve it.

    Attributes
    ----------
    engine : engines.Engine
        Medium, reservoirs, drive and flavour (its generator is already built and checked).
    solver : str
        Steady-state solver named in ``[engine]`` (``"auto"`` unless set).
    name : str
        Display name (the file's stem unless the design sets ``name``).
    description : str
        Free text from the design (may be empty).
    source : str
        Where the design came from (a path, or ``"<dict>"``).
    """

    engine: engines.Engine
    solver: str = "auto"
    name: str = ""
    description: str = ""
    source: str = "<dict>"

    def steady_state(self, solver: str | None = None) -> engines.SteadyState:
        """The machine's NESS with `solver` (default: the design's own `solver`).

        Raises
        ------
        WorkbenchError
            From the solver or the medium's state check, prefixed with the design's `source`.
        """
        try:
            return self.engine.steady_state(self.solver if solver is None else solver)
        except WorkbenchError as e:
            raise type(e)(f"{self.source}: {e}") from e

    def __repr__(self) -> str:
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
    name = b.string(top, "the design", "name", default=_default_name(source))
    description = b.string(top, "the design", "description", default="")
    medium = b.medium(top["medium"])
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
