"""Which model to trust: an audit of a continuous machine's master equation and its numbers.

`audit(engine)` returns findings with a severity ("error": the numbers are wrong or meaningless;
"warning": they may be; "info": what was checked) on

* the regime: bath rates against the smallest Bohr-frequency spacing and against the internal
  couplings (`engines.validity`), and the flavour that fits it;
* the NESS: unique, and inside the oscillator truncation (the solve refuses otherwise);
* the second law: a negative entropy production, as the local master equation booked against the
  full Hamiltonian produces on detuned sites (Levy & Kosloff, EPL 107, 20004 (2014));
* the first law: heat currents that do not sum to zero in a machine with no work source (a
  bookkeeping defect);
* the numerical resolution of the reported currents;
* the same machine in every flavour, side by side, and how far their currents spread.

docs/physics.md, Sections 3, 6 and 7.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from engines.checks import ModelValidityWarning, ThermodynamicsWarning, WorkbenchError, fail

__all__ = ["SEVERITIES", "Audit", "Finding", "audit"]

SEVERITIES = ("error", "warning", "info")
#: Currents closer than this many resolutions to zero are reported as barely resolved.
RESOLUTION_MARGIN = 100.0
#: Relative spread of a current across the valid flavours above which they are said to disagree.
SPREAD_TOL = 0.1


@dataclass(frozen=True)
class Finding:
    """One finding: its severity (one of `SEVERITIES`), what it is about, and the message."""

    severity: str
    topic: str
    message: str


@dataclass(frozen=True)
class Audit:
    """The findings on one machine and its currents in every flavour.

    Attributes
    ----------
    findings : tuple of Finding
        Errors first, then warnings, then information.
    flavours : tuple of dict
        One row per flavour (and bookkeeping): mode, power, entropy production, heat currents
        ``J_<name>``, whether the flavour's regime holds, or the error that stopped it.
    recommended : str
        The flavour that fits the machine's regime.
    """

    findings: tuple
    flavours: tuple
    recommended: str

    @property
    def clean(self) -> bool:
        """No error and no warning."""
        return all(f.severity == "info" for f in self.findings)

    def to_dict(self) -> dict:
        """JSON-safe: findings, flavour rows and the recommendation."""
        return {
            "clean": self.clean,
            "recommended": self.recommended,
            "findings": [f.__dict__ for f in self.findings],
            "flavours": [dict(r) for r in self.flavours],
        }


def _solve(engine):
    """(state, [warning messages]) of `engine`; the state is None and the message says why on error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ThermodynamicsWarning)
        warnings.simplefilter("always", ModelValidityWarning)
        try:
            state = engine.steady_state()
        except WorkbenchError as e:
            return None, [" ".join(str(e).split())]
    kinds = (ThermodynamicsWarning, ModelValidityWarning)
    return state, [" ".join(str(w.message).split()) for w in caught if issubclass(w.category, kinds)]


def _variants(engine):
    """(flavour, bookkeeping) of every flavour the machine can be built in."""
    from engines.generators import ENGINE_FLAVOURS

    for flavour in ENGINE_FLAVOURS:
        if flavour == "local":
            yield flavour, "bare"
            yield flavour, "full"
        else:
            yield flavour, None


def audit(engine) -> Audit:
    """Audit a continuous machine (an `engines.Engine`); see the module docstring for what is checked."""
    from engines import Engine
    from engines.validity import validity

    if not isinstance(engine, Engine):
        fail("audit", "engine", engine, "an engines.Engine (a continuous machine)")
    findings: list[Finding] = []
    if not all(r.thermal for r in engine.reservoirs):
        fail(
            "audit",
            "engine",
            repr(engine),
            "a machine of thermal reservoirs (a non-thermal one has no regime rule)",
        )
    regime = validity(engine)
    local = (
        f"local dissipators {regime.local_rate:.3g}"
        if math.isfinite(regime.local_rate)
        else "no local dissipators: a bath couples to several sites at once"
    )
    findings.append(
        Finding(
            "info",
            "regime",
            f"largest bath rate {regime.rate:.3g} ({local}), smallest "
            f"coupled Bohr-frequency spacing {regime.bohr_spacing:.3g}, largest internal coupling "
            f"{regime.internal_coupling:.3g}: global {'valid' if regime.global_valid else 'NOT valid'}, "
            f"local {'valid' if regime.local_valid else 'NOT valid'}; recommended flavour "
            f"{regime.recommended!r}",
        )
    )
    if not regime.valid:
        findings.append(Finding("warning", "regime", regime.message()))
    state, messages = _solve(engine)
    if state is None:
        findings.append(Finding("error", "steady state", messages[0]))
    else:
        findings += _laws(engine, state)
        findings += [Finding("warning", "solve", m) for m in messages if "outside its regime" not in m]
    rows = []
    for flavour, bookkeeping in _variants(engine):
        try:
            variant = engine.replace(flavour=flavour, bookkeeping=bookkeeping)
        except WorkbenchError as e:
            rows.append({"flavour": flavour, "bookkeeping": bookkeeping, "error": " ".join(str(e).split())})
            continue
        s, notes = _solve(variant)
        row = {"flavour": flavour, "bookkeeping": variant.generator.bookkeeping}
        row["regime_valid"] = {"global": regime.global_valid, "local": regime.local_valid}.get(flavour, True)
        if s is None:
            row["error"] = notes[0]
        else:
            row.update(mode=s.mode, power=s.power, entropy_production_rate=s.entropy_production_rate)
            row.update({f"J_{k}": v for k, v in s.heat_currents.items()})
            row["error"] = None
        rows.append(row)
    findings += _spread(engine, rows, regime.recommended)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: order[f.severity])
    return Audit(tuple(findings), tuple(rows), regime.recommended)


def _laws(engine, state) -> list[Finding]:
    """Second law, first law and resolution of the engine's own NESS."""
    out = []
    tol = state.resolution
    if state.mode == "second-law violation" or state.entropy_production_rate < -tol:
        why = ""
        if engine.flavour == "local" and engine.generator.bookkeeping == "full":
            why = (
                " The local master equation booked against the full Hamiltonian does this on sites with "
                "unequal gaps (Levy & Kosloff 2014): use bookkeeping='bare' or the global/unified flavour."
            )
        out.append(
            Finding(
                "error",
                "second law",
                f"negative entropy production {state.entropy_production_rate:.3e} with no work source "
                f"(mode {state.mode!r}).{why}",
            )
        )
    total = sum(state.heat_currents.values())
    bare = engine.flavour == "local" and engine.generator.bookkeeping == "bare"
    if engine.work_source and engine.drive is None and bare and abs(state.power) > tol:
        out.append(
            Finding(
                "warning",
                "first law",
                f"with bare bookkeeping the local dissipators exchange boundary work: P = {state.power:.3e} "
                "is the cost of the local master equation on coupled sites, not an output (De Chiara et al., "
                "NJP 20, 113024 (2018)).",
            )
        )
    if not engine.work_source:
        if abs(total) > tol:
            out.append(
                Finding(
                    "warning",
                    "first law",
                    f"the heat currents sum to {total:.3e} in a machine with no work source (resolution "
                    f"{tol:.2e}): the energy bookkeeping is inconsistent.",
                )
            )
    barely = [k for k, J in state.heat_currents.items() if J != 0.0 and abs(J) < RESOLUTION_MARGIN * tol]
    if barely or state.mode == "undetermined":
        out.append(
            Finding(
                "warning",
                "resolution",
                f"currents of {', '.join(barely) or 'the machine'} are within {RESOLUTION_MARGIN:g} times "
                f"the numerical resolution {tol:.2e}.",
            )
        )
    out.append(
        Finding(
            "info",
            "steady state",
            f"unique NESS ({state.solver} solver, residual {state.residual:.1e}), mode {state.mode!r}, "
            f"resolution {tol:.1e}",
        )
    )
    return out


def _spread(engine, rows, recommended) -> list[Finding]:
    """How far the flavours' heat currents spread, and the design's own against the reference.

    The reference is the unified flavour (valid where either global or local is) when it solved,
    else the recommended one.
    """
    names = [f"J_{r.name}" for r in engine.reservoirs]
    solved = [r for r in rows if r.get("error") is None]
    valid = [r for r in solved if r["regime_valid"]]
    if len(valid) < 2:
        return []

    def label(r):
        return r["flavour"] + (f"/{r['bookkeeping']}" if r["flavour"] == "local" else "")

    def currents(r):
        return np.array([r[n] for n in names])

    scale = float(np.max(np.abs([currents(r) for r in valid])))
    if scale == 0.0:
        return []
    spread = float(np.max(np.ptp([currents(r) for r in valid], axis=0)) / scale)
    out = [
        Finding(
            "info",
            "flavours",
            f"the heat currents of the flavours valid here ({', '.join(map(label, valid))}) spread by "
            f"{spread:.1%}",
        )
    ]
    reference = next((r for r in solved if r["flavour"] == "unified"), None) or next(
        (r for r in solved if r["flavour"] == recommended), None
    )
    own = next(
        (
            r
            for r in solved
            if (r["flavour"], r["bookkeeping"]) == (engine.flavour, engine.generator.bookkeeping)
        ),
        None,
    )
    if reference is None or own is None or reference is own:
        return out
    ref = currents(reference)
    deviation = float(np.max(np.abs(currents(own) - ref)) / max(float(np.max(np.abs(ref))), 1e-300))
    if deviation > SPREAD_TOL:
        out.append(
            Finding(
                "warning",
                "flavours",
                f"this design's flavour {label(own)!r} differs from {label(reference)!r} by {deviation:.1%} "
                f"in its heat currents; the {label(reference)} flavour is valid in this regime "
                f"(recommended: {recommended!r}).",
            )
        )
    return out
