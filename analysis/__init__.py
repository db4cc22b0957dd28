"""Thermodynamic accounting, entropy production, tables and the `qhe` command line."""

from analysis.entropy import (
    EntropyRates,
    entropy_production_rates,
    relative_entropy,
    relaxation,
    von_neumann_entropy,
)

__all__: list[str] = [
    "EntropyRates",
    "entropy_production_rates",
    "relative_entropy",
    "relaxation",
    "von_neumann_entropy",
]
