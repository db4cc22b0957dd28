"""Stroke protocols and cycles built on `engines`: Otto, Carnot-like and Stirling cycles, limit cycles.

W > 0 is work done on the medium, Q_a > 0 heat from reservoir a into the medium; output power
P = -W / period (docs/physics.md, "Strokes and cycles").
"""

from cycles.cycle import Cycle, CycleResult, CycleSweep
from cycles.protocols import carnot, otto, stirling
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
]
