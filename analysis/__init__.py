"""Thermodynamic accounting, entropy production, design files and the `qhe` command line.

Public names (imported on first use, so that ``qhe --help`` does not load the physics packages):

* design files (`analysis.design`): `load_design` reads a TOML design into a `Design`, a
  continuous machine (`engines.Engine`) or a cycle (`cycles.Cycle`) with ``run()``;
  `design_from_dict` builds one from an already parsed mapping;
* entropy production (`analysis.entropy`): `entropy_production_rates`, `relaxation`,
  `relative_entropy`, `von_neumann_entropy`, the `EntropyRates` ledger and the `Relaxation`
  trajectory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__: list[str] = [
    "Design",
    "EntropyRates",
    "Relaxation",
    "design_from_dict",
    "entropy_production_rates",
    "load_design",
    "relative_entropy",
    "relaxation",
    "von_neumann_entropy",
]

#: Public name -> the module that defines it.
_HOME = {
    "Design": "analysis.design",
    "design_from_dict": "analysis.design",
    "load_design": "analysis.design",
    "EntropyRates": "analysis.entropy",
    "Relaxation": "analysis.entropy",
    "entropy_production_rates": "analysis.entropy",
    "relative_entropy": "analysis.entropy",
    "relaxation": "analysis.entropy",
    "von_neumann_entropy": "analysis.entropy",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from analysis.design import Design, design_from_dict, load_design
    from analysis.entropy import (
        EntropyRates,
        Relaxation,
        entropy_production_rates,
        relative_entropy,
        relaxation,
        von_neumann_entropy,
    )


def __getattr__(name: str):
    """Import a public name from its module on first access (PEP 562)."""
    if name not in _HOME:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
