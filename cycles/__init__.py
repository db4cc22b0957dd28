"""Stroke protocols and cycles built on `engines`: Otto, Carnot-like and Stirling cycles, limit cycles.

W > 0 is work done on the medium, Q_a > 0 heat from reservoir a into the medium; output power
P = -W / period.
"""

from cycles.cycle import Cycle, CycleResult, carnot, otto, stirling
from cycles.strokes import Drive, Isotherm, Stroke, Thermalize

__all__ = ["Cycle", "CycleResult", "Drive", "Isotherm", "Stroke", "Thermalize", "carnot", "otto", "stirling"]
