"""The standard cycles, built from strokes: Otto, Carnot-like, Stirling and the two-qubit SWAP engine.

Each constructor returns a `cycles.Cycle`; its strokes are named so that `Cycle.sweep` and the
per-stroke tables can address them (``"hot"``, ``"cold"``, ``"compress"``, ``"expand"`` for Otto).
"""

from __future__ import annotations

import math

from cycles.cycle import Cycle
from cycles.strokes import Isotherm, Thermalize, Unitary
from engines.checks import fail, real

__all__ = ["carnot", "otto", "stirling", "swap"]


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

    Notes
    -----
    With fermionic leads (a level eps = `control` in contact with leads at mu_h and mu_c) the leads
    also do chemical work mu Delta N; for a single level and full relaxation the output work is
    -(W + W_chem) = ((eps_h - mu_h) - (eps_c - mu_c))(f_h - f_c) and the efficiency
    1 - (eps_c - mu_c)/(eps_h - mu_h), with f the Fermi occupations (examples/dot_otto.toml).

    References
    ----------
    T. D. Kieu, Phys. Rev. Lett. 93, 140403 (2004); Y. Rezek and R. Kosloff, New J. Phys. 8, 83 (2006);
    M. Esposito, R. Kawai, K. Lindenberg and C. Van den Broeck, Phys. Rev. E 81, 041106 (2010).
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
    for field_, bath in (("hot", hot), ("cold", cold)):
        if not getattr(bath, "thermal", True):
            fail(
                "carnot",
                field_,
                bath,
                "a thermal reservoir: the adiabats scale the control by T_c / T_h, and a squeezed or "
                "channel reservoir has no temperature",
            )
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


def swap(
    medium,
    hot,
    cold,
    *,
    omega_h,
    omega_c,
    coupling,
    resonance=None,
    tau_hot=math.inf,
    tau_cold=math.inf,
    hot_control="omega_0",
    cold_control="omega_1",
    coupling_control="g_0",
    flavour="global",
    options=None,
) -> Cycle:
    """Two-qubit SWAP engine: each qubit relaxes with its own bath, then a SWAP exchanges their states.

    Parameters
    ----------
    medium : Medium
        Two qubits with a flip-flop coupling, e.g.
        ``Composite([Qubit(omega_h), Qubit(omega_c)], [(0.0, [("sigma_plus", 0), ("sigma_minus", 1)])])``.
    hot, cold : Reservoir
        The bath of qubit A (``site=0``) and of qubit B (``site=1``).
    omega_h, omega_c : float
        Splittings of qubit A and qubit B while they relax (the coupling is off then).
    coupling : float
        Flip-flop strength g (not 0) during the SWAP, which lasts pi / (2 |g|).
    resonance : float, optional
        The common splitting of both qubits during the SWAP (default `omega_c`); the work per cycle
        does not depend on it.
    tau_hot, tau_cold : float
        Relaxation times of qubit A with the hot bath and of qubit B with the cold bath (inf: full).
    hot_control, cold_control, coupling_control : str
        The controls of the two splittings and of the coupling strength.
    flavour : {"global", "local"}
    options : engines.Options or mapping, optional

    Returns
    -------
    Cycle
        Strokes ``hot`` (qubit A with the hot bath; B's state is kept), ``cold`` (qubit B with the cold
        bath), ``swap on`` (sudden quench of both splittings to `resonance` and of the coupling to g),
        ``swap`` (unitary under that constant H for pi / (2 |g|)) and ``swap off`` (sudden quench
        back).  The two relaxations act on different qubits and commute; here they run one after the
        other, so the period is tau_hot + tau_cold + pi / (2 |g|).

    Notes
    -----
    With both qubits at the splitting w and the coupling g (s+ s- + s- s+) on, H leaves |00> and |11>
    alone (phases) and acts as g sigma_x on {|01>, |10>}, so after t = pi / (2g)
    exp(-i g sigma_x t) = -i sigma_x: |10> -> -i |01>, |01> -> -i |10>.  On the diagonal product states
    the relaxations leave, this is the SWAP of the two qubits' populations.

    Closed form with full thermalisation.  Let p_h = 1 / (1 + exp(omega_h / T_h)) and
    p_c = 1 / (1 + exp(omega_c / T_c)) be the excited populations (qubit H = (w/2) sigma_z, energy
    w (p - 1/2)).  The limit cycle enters the SWAP with A at p_h and B at p_c and leaves it with A at
    p_c and B at p_h, so

        W   = omega_h (p_c - p_h) + omega_c (p_h - p_c) = -(omega_h - omega_c)(p_h - p_c),
        Q_h = omega_h (p_h - p_c),       Q_c = -omega_c (p_h - p_c),
        eta = -W / Q_h = 1 - omega_c / omega_h.

    It is an engine (W < 0) iff p_h > p_c, i.e. omega_h / T_h < omega_c / T_c, i.e.
    T_c / T_h < omega_c / omega_h < 1; a refrigerator for omega_c / omega_h < T_c / T_h; an
    accelerator for omega_c > omega_h.

    References
    ----------
    A. E. Allahverdyan, K. Hovhannisyan and G. Mahler, Phys. Rev. E 81, 051129 (2010);
    M. Campisi, J. Pekola and R. Fazio, New J. Phys. 17, 035012 (2015).
    """
    g = real("swap", "coupling", coupling)
    if g == 0.0:
        fail("swap", "coupling", coupling, "a non-zero flip-flop strength (the SWAP lasts pi / (2 |g|))")
    w_h, w_c = real("swap", "omega_h", omega_h), real("swap", "omega_c", omega_c)
    w_r = w_c if resonance is None else real("swap", "resonance", resonance)
    off = {hot_control: w_h, cold_control: w_c, coupling_control: 0.0}
    on = {hot_control: w_r, cold_control: w_r, coupling_control: g}
    return Cycle(
        medium,
        [
            Thermalize(hot, tau_hot, off, flavour, name="hot"),
            Thermalize(cold, tau_cold, off, flavour, name="cold"),
            Unitary(off, on, 0.0, name="swap on"),
            Unitary(on, on, math.pi / (2.0 * abs(g)), name="swap"),
            Unitary(on, off, 0.0, name="swap off"),
        ],
        options,
    )
