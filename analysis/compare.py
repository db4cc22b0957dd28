"""Designs side by side: the same figures of merit for engines and cycles, and a fairness check.

A comparison is fair when the designs see the same reservoirs.  `compare` warns (`ComparisonWarning`)
naming every difference in the reservoirs' temperatures, chemical potentials, couplings and
spectra, and reports each reservoir's relaxation rate in each design: the same coupling constant
relaxes a qubit and an oscillator at different rates, so "the same coupling" is not always the same
bath.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.sweep import result_row
from engines.checks import WorkbenchError
from engines.generators import build_generator

__all__ = ["Comparison", "ComparisonWarning", "compare", "relaxation_rates"]

#: Largest medium dimension for which relaxation rates are computed (a dense d^2 x d^2 eigenproblem).
RATE_MAX_DIM = 32
#: Eigenvalues of L with |Re| below this (relative to the largest) count as stationary.
STATIONARY_RTOL = 1e-9


class ComparisonWarning(UserWarning):
    """Designs compared side by side do not see the same reservoirs."""


def relaxation_rates(design) -> dict:
    """Each reservoir's relaxation rate in a design: the spectral gap of the medium under it alone.

    For reservoir a the generator L_a = -i[H, .] + D_a (at the controls of the engine, or of the first
    stroke of a cycle that attaches a) relaxes every state at least as fast as exp(-g_a t), with g_a
    the smallest |Re lambda| over the non-stationary eigenvalues of L_a.  NaN for media larger than
    `RATE_MAX_DIM` (the eigenproblem is dense) and when the bath leaves nothing to relax.
    """
    medium = design.medium
    if design.kind == "engine":
        engine = design.engine
        attach = {r.name: (r, engine.flavour, engine.controls) for r in engine.reservoirs}
    else:
        attach = {}
        for s in design.cycle.strokes:
            r = s.reservoir
            if r is not None and r.name not in attach:
                attach[r.name] = (r, s.flavour, dict(s.start_controls()))
    rates = {}
    for name, (r, flavour, controls) in attach.items():
        if medium.dim > RATE_MAX_DIM:
            rates[name] = math.nan
            continue
        gen = build_generator(medium, [r], flavour, controls=controls)
        lam = np.linalg.eigvals(gen.superoperator(dense=True))
        decay = -lam.real
        scale = max(float(np.max(np.abs(lam))), 1e-300)
        moving = decay[decay > STATIONARY_RTOL * scale]
        rates[name] = float(moving.min()) if moving.size else math.nan
    return rates


def _reservoir_summary(r) -> dict:
    summary = {"type": type(r).__name__, "T": r.T, "coupling": r.coupling}
    if getattr(r, "mu", 0.0) or type(r).__name__ == "FermionicLead":
        summary["mu"] = r.mu
    spectrum = getattr(r, "spectrum", None)
    if spectrum is not None:
        summary["spectrum"] = spectrum if isinstance(spectrum, str) else "user function"
    return summary


def _differences(designs) -> list[str]:
    """Human-readable differences between the designs' reservoirs, matched by name."""
    out = []
    summaries = [{r.name: _reservoir_summary(r) for r in d.reservoirs} for d in designs]
    names = sorted(set().union(*summaries))
    for name in names:
        holders = [d.name for d, s in zip(designs, summaries) if name in s]
        if len(holders) != len(designs):
            lacking = [d.name for d, s in zip(designs, summaries) if name not in s]
            out.append(f"reservoir {name!r} is in {', '.join(holders)} but not in {', '.join(lacking)}")
            continue
        for field in sorted(set().union(*(s[name] for s in summaries))):
            values = [s[name].get(field) for s in summaries]
            if any(v != values[0] for v in values):
                shown = ", ".join(f"{v} in {d.name}" for v, d in zip(values, designs))
                out.append(f"reservoir {name!r}: {field} = {shown}")
    return out


@dataclass(frozen=True)
class Comparison:
    """Several designs solved side by side.

    Attributes
    ----------
    names : tuple of str
        The designs, in the order given.
    differences : tuple of str
        How their reservoirs differ (empty for a fair comparison).
    """

    names: tuple
    differences: tuple
    _table: object

    def to_frame(self):
        """One row per design, indexed by its name.

        Columns: kind, mode, power, efficiency, eta/eta_C, COP, entropy production rate, heat per
        reservoir and unit time (``J_<name>``) and relaxation rate per reservoir (``rate_<name>``).
        """
        return self._table.copy()

    def to_dict(self) -> dict:
        """JSON-safe: the designs, the differences and the table's records."""
        rows = self._table.reset_index().to_dict("records")
        clean = [
            {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
            for r in rows
        ]
        return {"designs": list(self.names), "differences": list(self.differences), "rows": clean}


def compare(designs: Sequence) -> Comparison:
    """Solve each design and line up its figures of merit.

    Parameters
    ----------
    designs : sequence of analysis.design.Design
        Two or more; their names must be unique.

    Returns
    -------
    Comparison

    Warns
    -----
    ComparisonWarning
        When the designs' reservoirs differ (each difference named).
    """
    import pandas as pd

    designs = list(designs)
    if len(designs) < 2:
        raise WorkbenchError(f"compare: give two or more designs, got {len(designs)}.")
    names = [d.name for d in designs]
    if len(set(names)) != len(names):
        raise WorkbenchError(f"compare: the designs' names must be unique, got {names}.")
    differences = _differences(designs)
    if differences:
        warnings.warn(
            "the designs do not see the same reservoirs: " + "; ".join(differences),
            ComparisonWarning,
            stacklevel=2,
        )
    rows = []
    for design in designs:
        result = design.run()
        row = {"design": design.name, "kind": design.kind, **result_row(result)}
        if design.kind == "cycle":  # heat per unit time, to line up with the engines' currents
            for name, Q in result.heat.items():
                row[f"J_{name}"] = Q / result.period if 0 < result.period < math.inf else 0.0
        row.update({f"rate_{k}": v for k, v in relaxation_rates(design).items()})
        rows.append(row)
    table = pd.DataFrame(rows).set_index("design")
    return Comparison(tuple(names), tuple(differences), table)
