"""Design parameters by dotted name: the one address of every numeric field of a design file.

The same names work in a design's ``[sweep]`` table, on the command line (``qhe sweep --grid``,
``qhe run --set``) and from Python (`with_values`)::

    medium.omega                 a field of the medium table (Qubit, HarmonicOscillator, Spin, SpinChain)
    medium.energies.2            an entry of an array field (Levels)
    medium.sites.0.omega         a field of a Composite's site
    medium.couplings.0.strength  a Composite coupling's strength
    reservoirs.hot.T             a field of the reservoir named "hot" (T, coupling, mu, cutoff, ...)
    drive.strength               a field of the classical drive (strength, detuning)
    cycle.tau_hot                a keyword of a named cycle (otto, carnot, stirling, swap)
    strokes.hot.duration         a field of the stroke named "hot" (duration, steps, tol, and
                                 strokes.<name>.start.<control>, .end.<control>, .controls.<control>)

For a named cycle, ``strokes.<name>.duration`` is the constructor's duration keyword of that stroke
(``strokes.hot.duration`` is ``cycle.tau_hot`` of an Otto cycle).  A name that is not there is
refused with the closest names.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
from collections.abc import Mapping

from engines.checks import WorkbenchError

__all__ = ["STROKE_DURATIONS", "parameters", "resolve", "stroke_name", "with_values"]

#: Per named cycle: the stroke names its constructor gives, and the keyword holding each duration.
STROKE_DURATIONS = {
    "otto": {"compress": "tau_compress", "hot": "tau_hot", "expand": "tau_expand", "cold": "tau_cold"},
    "carnot": {
        "hot isotherm": "tau_hot",
        "adiabat down": "tau_adiabats",
        "cold isotherm": "tau_cold",
        "adiabat up": "tau_adiabats",
    },
    "stirling": {
        "hot isotherm": "tau_hot",
        "cool": "tau_cool",
        "cold isotherm": "tau_cold",
        "heat": "tau_heat",
    },
}

#: Default names of explicit strokes without a ``name``, by type (as `cycles.strokes` names them).
_DEFAULT_STROKE_NAMES = {
    "thermalize": "thermalize {bath}",
    "unitary": "unitary",
    "isotherm": "isotherm {bath}",
}


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def stroke_name(table: Mapping) -> str:
    """The name of an explicit stroke table: its `name`, or the default `cycles.strokes` gives it."""
    if isinstance(table.get("name"), str):
        return table["name"]
    return _DEFAULT_STROKE_NAMES.get(table.get("type"), "?").format(bath=table.get("bath"))


def _walk(prefix: str, value, container, key, slots: dict) -> None:
    """Record every numeric leaf below `value` (= container[key]) in tables and arrays, by dotted name."""
    if _is_number(value):
        slots[prefix] = (container, key)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if k not in ("type", "name"):
                _walk(f"{prefix}.{k}", v, value, k, slots)
    elif isinstance(value, list) and value:
        if all(_is_number(v) for v in value) or all(isinstance(v, Mapping) for v in value):
            for i, v in enumerate(value):
                _walk(f"{prefix}.{i}", v, value, i, slots)


def _slots(data: Mapping) -> dict:
    """Name -> (container, key) for every addressable numeric field of the parsed design `data`."""
    slots: dict = {}
    if isinstance(data.get("medium"), Mapping):
        _walk("medium", data["medium"], data, "medium", slots)
    if isinstance(data.get("drive"), Mapping):
        _walk("drive", data["drive"], data, "drive", slots)
    for r in data.get("reservoirs", []) if isinstance(data.get("reservoirs"), list) else []:
        if isinstance(r, Mapping) and isinstance(r.get("name"), str):
            _walk(f"reservoirs.{r['name']}", r, None, None, slots)
    cycle = data.get("cycle")
    if isinstance(cycle, Mapping):
        if isinstance(cycle.get("strokes"), list):
            for t in cycle["strokes"]:
                if isinstance(t, Mapping):
                    _walk(f"strokes.{stroke_name(t)}", t, None, None, slots)
        else:
            _walk("cycle", cycle, data, "cycle", slots)
            for stroke, key in STROKE_DURATIONS.get(cycle.get("type"), {}).items():
                slots[f"strokes.{stroke}.duration"] = (cycle, key)
                slots.setdefault(f"cycle.{key}", (cycle, key))
    return slots


def parameters(data: Mapping) -> dict:
    """Every addressable numeric field of the parsed design `data`: {dotted name: current value}.

    Duration keywords a named cycle leaves at their defaults (e.g. ``tau_compress`` of an Otto cycle)
    are listed with the value None: setting them passes them to the constructor.
    """
    out = {}
    for name, (container, key) in _slots(data).items():
        present = key in container if isinstance(container, Mapping) else key < len(container)
        out[name] = container[key] if present else None
    return out


def resolve(data: Mapping, name: str, *, source: str = "<design>"):
    """(container, key) of the field `name` in `data`, or a `WorkbenchError` with the closest names."""
    slots = _slots(data)
    if name in slots:
        return slots[name]
    close = difflib.get_close_matches(name, list(slots), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(sorted(slots)[:12]) + (", ..." if len(slots) > 12 else "")
    raise WorkbenchError(f"{source}: no parameter {name!r} in this design{hint} (parameters: {shown})")


def with_values(data: Mapping, values: Mapping, *, source: str = "<design>") -> dict:
    """A deep copy of the parsed design `data` with the named fields set to `values`.

    Parameters
    ----------
    data : mapping
        A parsed design (as `tomllib.load` returns it).
    values : mapping of dotted name -> number
    source : str
        Names the design in error messages.

    Returns
    -------
    dict
        The changed design; pass it to `analysis.design.design_from_dict`.
    """
    out = copy.deepcopy(dict(data))
    out.pop("sweep", None)
    for name, value in values.items():
        container, key = resolve(out, name, source=source)
        present = key in container if isinstance(container, Mapping) else True
        old = container[key] if present else None
        container[key] = _converted(name, value, old, source)
    return out


def _converted(name: str, value, old, source: str):
    """`value` as the type the field holds: an integer field (n_max, steps, site) stays an integer."""
    if not _is_number(value) or math.isnan(value):
        raise WorkbenchError(f"{source}: parameter {name!r} must be a number, got {value!r}.")
    if isinstance(old, numbers.Integral) and not isinstance(old, bool):
        if float(value) != round(float(value)):
            raise WorkbenchError(f"{source}: parameter {name!r} must be an integer, got {value!r}.")
        return round(float(value))
    return float(value)
