"""Stroke protocols and cycles built on `engines`: Otto, Carnot-like, Stirling and SWAP cycles, limit cycles.

W > 0 is work done on the medium, Q_a > 0 heat from reservoir a into the medium; output power
P = -(W + W_chem) / period, W_chem the chemical work of fermionic leads (docs/physics.md,
"Strokes and cycles").
"""

from cycles.cycle import Cycle, CycleResult, CycleSweep
from cycles.protocols import carnot, otto, stirling, swap
from cycles.strokes import Isotherm, Stroke, Thermalize, Unitary

__all__ = [
    "Cycle",
    "CycleResult",
    "CycleSweep",
    "Isotherm",
    "Stroke",
    "Thermalize",
    "Unitary",
    "carnot",
    "otto",
    "stirling",
    "swap",
]
