"""The standard cycles, built from strokes: Otto, Carnot-like and Stirling.

Each constructor returns a `cycles.Cycle`; its strokes are named so that `Cycle.sweep` and the
per-stroke tables can address them (``"hot"``, ``"cold"``, ``"compress"``, ``"expand"`` for Otto).
"""

from __future__ import annotations

import math

from cycles.cycle import Cycle
from cycles.strokes import Isotherm, Thermalize, Unitary
from engines.checks import fail

__all__ = ["carnot", "otto", "stirling"]


def otto(
    medium,
    hot,
    cold,
    *,
    control="omega",
    low,
    high,
    tau_hot=math.inf,
    tau_cold=math.inf,
    tau_compress=0.0,
    tau_expand=0.0,
    flavour="global",
    options=None,
) -> Cycle:
    """Four-stroke Otto cycle: compress (low -> high), heat at high, expand (high -> low), cool at low.

    Parameters
    ----------
    medium : Medium
    hot, cold : Reservoir
    control : str
        The frequency-like control the unitary strokes change.
    low, high : float
        Its values in contact with the cold and the hot reservoir.
    tau_hot, tau_cold : float
        Thermalisation times (inf: full thermalisation).
    tau_compress, tau_expand : float
        Durations of the unitary strokes (0: sudden quench).
    flavour : {"global", "local"}
    options : engines.Options or mapping, optional

    Returns
    -------
    Cycle
        Strokes ``compress``, ``hot``, ``expand``, ``cold``.

    References
    ----------
    T. D. Kieu, Phys. Rev. Lett. 93, 140403 (2004); Y. Rezek and R. Kosloff, New J. Phys. 8, 83 (2006).
    """
    lo, hi = {control: low}, {control: high}
    return Cycle(
        medium,
        [
            Unitary(lo, hi, tau_compress, name="compress"),
            Thermalize(hot, tau_hot, hi, flavour, name="hot"),
            Unitary(hi, lo, tau_expand, name="expand"),
            Thermalize(cold, tau_cold, lo, flavour, name="cold"),
        ],
        options,
    )


def carnot(
    medium,
    hot,
    cold,
    *,
    control="omega",
    start,
    end,
    tau_hot,
    tau_cold,
    steps=64,
    tau_adiabats=0.0,
    flavour="global",
    options=None,
) -> Cycle:
    """Carnot-like cycle: hot isotherm (start -> end), adiabat to T_c, cold isotherm, adiabat back.

    Parameters
    ----------
    medium : Medium
    hot, cold : Reservoir
        Thermal reservoirs, ``hot.T > 0``.
    control : str
        The frequency-like control the strokes change.
    start, end : float
        Its values at the start and the end of the hot isotherm.
    tau_hot, tau_cold : float
        Durations of the isotherms (> 0).
    steps : int
        Piecewise-constant steps per isotherm.
    tau_adiabats : float
        Duration of the two unitary strokes (0: sudden).
    flavour : {"global", "local"}
    options : engines.Options or mapping, optional

    Returns
    -------
    Cycle
        Strokes ``hot isotherm``, ``adiabat down``, ``cold isotherm``, ``adiabat up``.

    Notes
    -----
    The adiabats scale the control by T_c/T_h and back, so that for a medium whose Hamiltonian is
    proportional to the control (qubit, oscillator, spin) a Gibbs state at T_h stays a Gibbs state at
    T_c; the quasi-static limit then reaches eta_C = 1 - T_c/T_h.
    """
    if not hot.T > 0:
        fail("carnot", "hot.T", hot.T, "> 0 (the adiabats scale the control by T_c / T_h)")
    ratio = cold.T / hot.T
    a, b = {control: start}, {control: end}
    c, d = {control: end * ratio}, {control: start * ratio}
    return Cycle(
        medium,
        [
            Isotherm(hot, a, b, tau_hot, steps, flavour=flavour, name="hot isotherm"),
            Unitary(b, c, tau_adiabats, name="adiabat down"),
            Isotherm(cold, c, d, tau_cold, steps, flavour=flavour, name="cold isotherm"),
            Unitary(d, a, tau_adiabats, name="adiabat up"),
        ],
        options,
    )


def stirling(
    medium,
    hot,
    cold,
    *,
    control="omega",
    start,
    end,
    tau_hot,
    tau_cold,
    tau_heat=math.inf,
    tau_cool=math.inf,
    steps=64,
    flavour="global",
    options=None,
) -> Cycle:
    """Stirling cycle: hot isotherm (start -> end), isochoric cooling, cold isotherm back, heating.

    Parameters
    ----------
    medium : Medium
    hot, cold : Reservoir
    control : str
        The frequency-like control the isotherms change.
    start, end : float
        Its values at the start and the end of the hot isotherm.
    tau_hot, tau_cold : float
        Durations of the isotherms (> 0).
    tau_heat, tau_cool : float
        Durations of the isochoric strokes (inf: full thermalisation).
    steps : int
        Piecewise-constant steps per isotherm.
    flavour : {"global", "local"}
    options : engines.Options or mapping, optional

    Returns
    -------
    Cycle
        Strokes ``hot isotherm``, ``cool``, ``cold isotherm``, ``heat``.
    """
    a, b = {control: start}, {control: end}
    return Cycle(
        medium,
        [
            Isotherm(hot, a, b, tau_hot, steps, flavour=flavour, name="hot isotherm"),
            Thermalize(cold, tau_cool, b, flavour, name="cool"),
            Isotherm(cold, b, a, tau_cold, steps, flavour=flavour, name="cold isotherm"),
            Thermalize(hot, tau_heat, a, flavour, name="heat"),
        ],
        options,
    )
