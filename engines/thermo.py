"""Operating modes, efficiencies and entropy production from currents (sign conventions in one place).

Heat J_a > 0 flows from reservoir a into the medium; output power P > 0 leaves the medium as work.
Engine: P > 0, efficiency eta = P / sum_{J_a > 0} J_a.  Refrigerator: the coldest reservoir gives heat;
COP = J_cold / (-P) when work drives it, J_cold / J_hot when heat from the hottest reservoir drives it
(absorption refrigerator).  Accelerator: work pushes heat from hot to cold.  Heater: all heat flows into
the reservoirs.  Transport: no work, heat flows down the temperature gradient.
Entropy production (Clausius form at a steady state or per cycle): sigma = -sum_a J_a / T_a.
"""

from __future__ import annotations

import math

__all__ = ["MODES", "carnot_efficiency", "classify", "entropy_production"]

MODES = ("engine", "refrigerator", "accelerator", "heater", "transport", "equilibrium")

#: Currents below this fraction of the largest current count as zero when classifying.
RELATIVE_ZERO = 1e-9


def _zero(scale: float) -> float:
    return RELATIVE_ZERO * scale + 1e-15


def classify(power: float, heat: dict, temperatures: dict) -> tuple[str, float | None, float | None]:
    """Operating mode, efficiency (engines) and COP (refrigerators) from P and the heats.

    Parameters
    ----------
    power : float
        Output power (positive when the medium delivers work).
    heat : dict name -> float
        Heat currents (or heats per cycle) into the medium.
    temperatures : dict name -> float

    Returns
    -------
    (mode, efficiency, cop)
        `efficiency` is None unless the mode is "engine"; `cop` is None unless "refrigerator".
    """
    scale = max([abs(power), *map(abs, heat.values())])
    tiny = _zero(scale)
    if scale <= 1e-15:
        return "equilibrium", None, None
    if power > tiny:
        absorbed = sum(J for J in heat.values() if J > 0)
        return "engine", power / absorbed, None
    cold = min(temperatures, key=temperatures.get)
    hot = max(temperatures, key=temperatures.get)
    J_cold, J_hot = heat[cold], heat[hot]
    if power < -tiny:
        if J_cold > tiny:
            return "refrigerator", None, J_cold / -power
        if J_hot > tiny:
            return "accelerator", None, None
        return "heater", None, None
    if J_cold > tiny and J_hot > tiny and temperatures[cold] < temperatures[hot]:
        return "refrigerator", None, J_cold / J_hot
    return "transport", None, None


def entropy_production(heat: dict, temperatures: dict) -> float:
    """-sum_a J_a / T_a; a nonzero current into or out of a T = 0 reservoir gives +-inf."""
    scale = max(map(abs, heat.values()), default=0.0)
    total = 0.0
    for name, J in heat.items():
        T = temperatures[name]
        if T == 0.0:
            if abs(J) > _zero(scale):
                total += math.inf if J < 0 else -math.inf
        else:
            total -= J / T
    return total


def carnot_efficiency(temperatures: dict) -> float | None:
    """1 - T_cold / T_hot over the reservoirs (None with fewer than two temperatures)."""
    values = sorted(temperatures.values())
    if len(values) < 2 or values[-1] <= 0 or values[0] == values[-1]:
        return None
    return 1.0 - values[0] / values[-1]
