"""Operating modes, efficiencies and entropy production from currents (sign conventions in one place).

Heat J_a > 0 flows from reservoir a into the medium; output power P > 0 leaves the medium as work.
Engine: P > 0, efficiency eta = P / sum_{J_a > 0} J_a.  Refrigerator: the coldest reservoir gives heat;
COP = J_cold / (-P) when work drives it, J_cold / J_hot when heat from the hottest reservoir drives it
(absorption refrigerator).  Accelerator: work pushes heat from hot to cold.  Heater: all heat flows into
the reservoirs.  Transport: no work, heat flows down the temperature gradient.
Entropy production (Clausius form at a steady state or per cycle): sigma = -sum_a J_a / T_a.
The same quantities serve cycles with W and Q per cycle in place of P and J.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from engines.checks import ThermodynamicsWarning

__all__ = [
    "MODES",
    "carnot_efficiency",
    "classify",
    "classify_many",
    "entropy_production",
    "entropy_production_many",
]

MODES = ("engine", "refrigerator", "accelerator", "heater", "transport", "equilibrium")

#: Currents below this fraction of the largest current count as zero when classifying.
RELATIVE_ZERO = 1e-9
_ABSOLUTE_ZERO = 1e-15


def classify_many(power, heat, temperatures):
    """Vectorised `classify`: power (n,), heat and temperatures (n, n_reservoirs).

    Returns mode (n,) strings and efficiency, cop (n,) floats, NaN where the mode leaves them
    undefined (efficiency only for engines, COP only for refrigerators).
    """
    power = np.asarray(power, dtype=float)
    # Reservoir-major copies: reductions over the few reservoirs become elementwise row operations.
    heat, temperatures = _reservoir_major(heat, temperatures)
    points = np.arange(power.size)
    scale = np.maximum(np.abs(power), np.abs(heat).max(axis=0))
    tiny = RELATIVE_ZERO * scale + _ABSOLUTE_ZERO
    # Among reservoirs sharing the lowest (highest) temperature, the one giving most heat counts.
    cold = np.where(temperatures == temperatures.min(axis=0), heat, -np.inf).argmax(axis=0)
    hot = np.where(temperatures == temperatures.max(axis=0), heat, -np.inf).argmax(axis=0)
    J_cold, J_hot = heat[cold, points], heat[hot, points]
    gradient = temperatures[cold, points] < temperatures[hot, points]
    absorbed = np.where(heat > 0, heat, 0.0).sum(axis=0)
    mode = np.full(power.size, "transport", dtype="<U12")
    efficiency = np.full(power.size, np.nan)
    cop = np.full(power.size, np.nan)
    consumes = power < -tiny
    idle = ~consumes & (power <= tiny)
    engine = power > tiny
    mode[engine] = "engine"
    efficiency[engine] = power[engine] / absorbed[engine]
    fridge = consumes & (J_cold > tiny)
    mode[fridge] = "refrigerator"
    cop[fridge] = J_cold[fridge] / -power[fridge]
    mode[consumes & ~fridge & (J_hot > tiny)] = "accelerator"
    mode[consumes & ~fridge & ~(J_hot > tiny)] = "heater"
    absorption = idle & (J_cold > tiny) & (J_hot > tiny) & gradient
    mode[absorption] = "refrigerator"
    cop[absorption] = J_cold[absorption] / J_hot[absorption]
    mode[scale <= _ABSOLUTE_ZERO] = "equilibrium"
    return mode, efficiency, cop


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
    names = list(heat)
    mode, eta, cop = classify_many([power], [[heat[n] for n in names]], [[temperatures[n] for n in names]])
    return (
        str(mode[0]),
        (None if np.isnan(eta[0]) else float(eta[0])),
        (None if np.isnan(cop[0]) else float(cop[0])),
    )


def entropy_production_many(heat, temperatures):
    """-sum_a J_a / T_a per row; a nonzero current into (out of) a T = 0 reservoir gives +inf (-inf)."""
    heat, temperatures = _reservoir_major(heat, temperatures)
    scale = np.abs(heat).max(axis=0)
    J = np.where(np.abs(heat) > RELATIVE_ZERO * scale + _ABSOLUTE_ZERO, heat, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(
            temperatures > 0,
            -heat / np.where(temperatures > 0, temperatures, 1.0),
            np.where(J == 0, 0.0, -np.sign(J) * np.inf),
        )
    return terms.sum(axis=0)


def _reservoir_major(heat, temperatures):
    """(n, n_reservoirs) heats and temperatures as C-contiguous (n_reservoirs, n) arrays."""
    heat = np.asarray(heat, dtype=float)
    temperatures = np.broadcast_to(np.asarray(temperatures, dtype=float), heat.shape)
    return np.ascontiguousarray(heat.T), np.ascontiguousarray(temperatures.T)


def entropy_production(heat: dict, temperatures: dict) -> float:
    """-sum_a J_a / T_a over the reservoirs (see `entropy_production_many`)."""
    names = list(heat)
    return float(entropy_production_many([[heat[n] for n in names]], [[temperatures[n] for n in names]])[0])


def carnot_efficiency(temperatures: dict) -> float | None:
    """1 - T_cold / T_hot over the reservoirs (None with fewer than two distinct temperatures)."""
    values = sorted(temperatures.values())
    if len(values) < 2 or values[-1] <= 0 or values[0] == values[-1]:
        return None
    return 1.0 - values[0] / values[-1]


def warn_if_second_law_broken(sigma: float, heat: dict, temperatures: dict, what: str) -> None:
    """Warn (`ThermodynamicsWarning`) when the entropy production is negative beyond round-off.

    The number itself is reported unchanged by the caller: a model that breaks the second law (a
    local master equation booked against the full Hamiltonian) is shown as it is, never clipped.
    """
    scale = sum(abs(J) / temperatures[k] for k, J in heat.items() if temperatures[k] > 0)
    if sigma < -RELATIVE_ZERO * scale - _ABSOLUTE_ZERO:
        warnings.warn(
            f"negative entropy production {sigma:.3e} for {what}: the model breaks the second law "
            "(e.g. a local master equation booked against the full Hamiltonian).",
            ThermodynamicsWarning,
            stacklevel=3,
        )


def json_number(x):
    """A float for JSON: None stays None, inf and nan become strings."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else str(x)
