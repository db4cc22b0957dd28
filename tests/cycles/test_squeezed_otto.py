"""The oscillator Otto engine with a squeezed hot bath (Rossnagel, Abah, Schmidt-Kaler, Singer, Lutz,
PRL 112, 030602 (2014)), full thermalisation and sudden strokes; closed forms in `tests.systems`.
"""

from __future__ import annotations

import math

import pytest
from scipy.optimize import minimize_scalar

import cycles
from engines import BosonicBath, HarmonicOscillator, SqueezedBath, WorkbenchError
from tests.systems import (
    squeezed_otto_max_power_efficiency,
    squeezed_otto_threshold,
    squeezed_otto_work,
)

#: Truncation of the Fock space: the squeezed state's top population p_top ~ 1e-7 at these n_max moves
#: <n> by about n_max p_top (the Fock tail of a squeezed thermal state decays slowly).
TOL = 1e-5


def _otto(r, T_h, T_c, w_h, w_c, n_max=20):
    osc = HarmonicOscillator(omega=1.0, n_max=n_max)
    hot = SqueezedBath("hot", T_h, r, 0.0, 0.1, "x")
    cold = BosonicBath("cold", T_c, 0.1, "x")
    return cycles.otto(osc, hot, cold, control="omega", low=w_c, high=w_h).limit_cycle()


def test_squeezed_otto_beats_bare_carnot_at_the_otto_efficiency():
    """eta = 1 - w_c/w_h = 0.75 > eta_C = 1 - T_c/T_h = 0.5 of the bare temperatures (Rossnagel 2014).

    Without squeezing the same cycle is no engine (<n>_h < <n>_c); with r = 0.5 it is, and its work is
    W = (w_h - w_c)(<n>_c - <n>_h) (`squeezed_otto_work`).  The Clausius figures are refused.
    """
    res = _otto(0.5, 1.0, 0.5, 4.0, 1.0)
    assert res.mode == "engine"
    assert res.efficiency == pytest.approx(0.75, abs=1e-9)
    assert res.efficiency > 1 - 0.5 / 1.0
    assert res.work == pytest.approx(squeezed_otto_work(4.0, 1.0, 1.0, 0.5, 0.5), rel=TOL)
    assert res.work + sum(res.heat.values()) == pytest.approx(0.0, abs=1e-12)
    assert res.carnot_efficiency is None and res.entropy_per_cycle is None
    assert res.entropy_production_rate is None
    assert "not thermal" in res.undefined and res.to_dict()["undefined"] == res.undefined
    assert squeezed_otto_work(4.0, 1.0, 1.0, 0.5, 0.0) > 0  # no engine without squeezing


@pytest.mark.parametrize("side", [-1, 1], ids=["below", "above"])
def test_squeezed_otto_engine_threshold(side):
    """The cycle is an engine iff r > r*, cosh 2r* = (n_c + 1/2)/(n_h + 1/2) (`squeezed_otto_threshold`)."""
    w_h, w_c, T = 2.0, 1.0, 0.5
    r_star = squeezed_otto_threshold(w_h, w_c, T, T)
    assert r_star > 0
    r = r_star + side * 0.03
    res = _otto(r, T, T, w_h, w_c, n_max=20)
    assert (res.mode == "engine") == (side > 0)
    assert res.work == pytest.approx(squeezed_otto_work(w_h, w_c, T, T, r), abs=TOL)


def test_squeezed_otto_efficiency_at_maximum_power():
    """At fixed w_h and cycle time the work is largest at the closed-form w_c*, where eta = 1 - w_c*/w_h.

    w_c* maximises -W = (w_h - w_c)(<n>_h - n_c(w_c)) (exact Bose functions); the cycle's work at
    w_c* +- 0.02 is smaller.  In the high-temperature limit eta* tends to Rossnagel et al.'s
    1 - sqrt(T_c / (T_h (1 + 2 sinh^2 r))) (`squeezed_otto_max_power_efficiency`): the exact
    maximiser approaches it as T/w grows (its error falls like w/T: below 2e-3 at T_h = 4 w_h).
    """
    T_h, T_c, r, w_h = 0.5, 0.125, 0.3, 1.0
    best = minimize_scalar(
        lambda wc: squeezed_otto_work(w_h, wc, T_h, T_c, r),
        bounds=(0.05, 0.95),
        method="bounded",
        options={"xatol": 1e-10},
    ).x
    runs = [_otto(r, T_h, T_c, w_h, wc, n_max=18) for wc in (best - 0.02, best, best + 0.02)]
    works = [res.work for res in runs]
    assert works[1] < works[0] and works[1] < works[2]  # W < 0: the most work out at w_c*
    assert runs[1].efficiency == pytest.approx(1 - best / w_h, abs=1e-9)
    errors = []
    for scale in (2.0, 8.0):
        exact = minimize_scalar(
            lambda wc, s=scale: squeezed_otto_work(w_h, wc, s * T_h, s * T_c, r),
            bounds=(0.05, 0.95),
            method="bounded",
            options={"xatol": 1e-10},
        ).x
        errors.append(
            abs((1 - exact / w_h) - squeezed_otto_max_power_efficiency(scale * T_h, scale * T_c, r))
        )
    assert errors[1] < errors[0] / 4 and errors[1] < 2e-3


def test_squeezed_bath_refused_where_a_temperature_is_required():
    """A Carnot cycle or an isotherm needs a bath temperature: one-line WorkbenchError."""
    osc = HarmonicOscillator(omega=1.0, n_max=10)
    hot = SqueezedBath("hot", 1.0, 0.3, 0.0, 0.1, "x")
    cold = BosonicBath("cold", 0.5, 0.1, "x")
    with pytest.raises(WorkbenchError, match="carnot: `hot` must be a thermal reservoir") as info:
        cycles.carnot(osc, hot, cold, control="omega", start=1.0, end=0.8, tau_hot=10, tau_cold=10)
    assert "\n" not in str(info.value)
    with pytest.raises(WorkbenchError, match="an isotherm needs a temperature"):
        cycles.Isotherm(hot, {"omega": 1.0}, {"omega": 0.8}, 10.0)


def test_squeezed_cycle_sweep_refused_with_the_reason():
    """The vectorised sweep table needs temperatures: refused, naming the reservoir."""
    osc = HarmonicOscillator(omega=1.0, n_max=10)
    hot = SqueezedBath("hot", 0.5, 0.3, 0.0, 0.1, "x")
    c = cycles.otto(
        osc, hot, BosonicBath("cold", 0.3, 0.1, "x"), low=1.0, high=2.0, tau_hot=5.0, tau_cold=5.0
    )
    with pytest.raises(WorkbenchError, match="thermal reservoirs"):
        c.sweep({"hot": [1.0, 2.0]})
    assert math.isfinite(c.limit_cycle().work)
