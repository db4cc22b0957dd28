"""Cycles and their results as values: immutability, names, numerical resolution, clear refusals.

docs/physics.md Section 7: every result carries a resolution for its currents (for cycles: from the
fixed-point residual ||M(rho*) - rho*||, the norms of the energy vectors and machine epsilon), and values
within it are reported as exactly 0.  Section 8: a cycle reports the entropy produced per cycle,
-sum_a Q_a / T_a, and its rate, the per-cycle value divided by the period (0 for an infinite period).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from cycles import Cycle, Thermalize, Unitary, carnot, otto
from engines import BosonicBath, HarmonicOscillator, Qubit, WorkbenchError

#: Per-cycle identities between the result's fields (same numbers, recombined).
IDENTITY_TOL = 1e-14


def _baths(T_h=4.0, T_c=0.5, op="sigma_x"):
    return BosonicBath("hot", T_h, 0.3, op), BosonicBath("cold", T_c, 0.2, op)


def _finite_otto():
    return otto(Qubit(1.0, 0.3), *_baths(), low=1.0, high=2.0, tau_hot=1.5, tau_cold=2.5, tau_compress=0.4)


# ------------------------------------------------------------------------------------ values
def test_cycle_is_immutable():
    """Assigning or deleting an attribute of a Cycle raises; its reservoirs mapping is read-only.

    A cycle compiles its strokes once; a reassigned `strokes` or `medium` would leave the compiled
    steps describing other physics (docs/architecture.md: inputs are immutable values).
    """
    cycle = _finite_otto()
    for name, value in (("strokes", ()), ("medium", Qubit(3.0)), ("options", None), ("extra", 1)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cycle, name, value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        del cycle.strokes
    with pytest.raises(TypeError):
        cycle.reservoirs["other"] = BosonicBath("other", 1.0, 0.1, "sigma_x")
    assert cycle.limit_cycle().mode == "engine"  # still usable


def test_entropy_per_cycle_and_rate():
    """entropy_per_cycle = -sum_a Q_a/T_a; entropy_production_rate = entropy_per_cycle / period."""
    result = _finite_otto().limit_cycle()
    sigma = -sum(Q / result.temperatures[k] for k, Q in result.heat.items())
    assert result.entropy_per_cycle == pytest.approx(sigma, abs=IDENTITY_TOL)
    assert result.entropy_per_cycle > 0
    assert result.period == pytest.approx(1.5 + 2.5 + 0.4)
    assert result.entropy_production_rate == pytest.approx(
        result.entropy_per_cycle / result.period, rel=1e-15
    )
    data = result.to_dict()
    assert data["entropy_per_cycle"] == result.entropy_per_cycle
    assert data["entropy_production_rate"] == result.entropy_production_rate
    assert data["resolution"] == result.resolution
    assert "entropy_production" not in data


def test_entropy_rate_of_an_infinite_period_is_zero():
    """With full thermalisation the period is infinite: the rate is 0, the per-cycle value is not."""
    result = otto(Qubit(1.0), *_baths(), low=1.0, high=2.0).limit_cycle()
    assert math.isinf(result.period)
    assert result.entropy_per_cycle > 0
    assert result.entropy_production_rate == 0.0


def test_sweep_reports_entropy_per_cycle_and_rate():
    """CycleSweep: the same two names, per point, and its rows equal single limit cycles."""
    cycle = _finite_otto()
    taus = np.array([0.5, 1.5, math.inf])
    sweep = cycle.sweep({"hot": taus})
    frame = sweep.to_frame()
    assert {"entropy_per_cycle", "entropy_production_rate", "resolution"} <= set(frame.columns)
    assert sweep.entropy_production_rate[-1] == 0.0  # infinite period
    for i, tau in enumerate(taus):
        single = otto(
            Qubit(1.0, 0.3), *_baths(), low=1.0, high=2.0, tau_hot=tau, tau_cold=2.5, tau_compress=0.4
        ).limit_cycle()
        assert sweep.entropy_per_cycle[i] == pytest.approx(single.entropy_per_cycle, abs=1e-12)
        assert sweep.entropy_production_rate[i] == pytest.approx(single.entropy_production_rate, abs=1e-12)


# --------------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("tau_hot", "tau_cold"),
    [pytest.param(math.inf, math.inf, id="full"), pytest.param(1.0, 2.0, id="finite")],
)
def test_equilibrium_cycle_reports_exact_zeros(tau_hot, tau_cold):
    """Two baths at one temperature and no change of the controls: W = Q_a = 0 exactly, mode equilibrium.

    The limit cycle is the Gibbs state; the booked energy changes are round-off of either sign
    (~1e-16), inside the result's resolution, and must be reported as 0.0 (not -0.0): Section 7.
    """
    hot, cold = _baths(T_h=1.0, T_c=1.0)
    cycle = otto(
        Qubit(1.0, 0.3), hot, cold, low=1.0, high=1.0, tau_hot=tau_hot, tau_cold=tau_cold, tau_compress=0.5
    )
    result = cycle.limit_cycle()
    assert 0 < result.resolution < 1e-12
    values = [result.work, result.chemical_work, *result.heat.values(), result.power]
    values += [row[k] for row in result.strokes for k in ("work", "Q_hot", "Q_cold")]
    for v in values:
        assert v == 0.0 and math.copysign(1.0, v) == 1.0
    assert result.mode == "equilibrium"
    sweep = cycle.sweep({"hot": [1.0, 3.0], "cold": [2.0, math.inf]})
    assert np.all(sweep.work == 0.0) and np.all(sweep.heat == 0.0)
    assert np.all(np.copysign(1.0, sweep.heat) == 1.0)


def test_resolution_is_far_below_the_figures_of_a_working_engine():
    """A working engine's W and Q are many orders above the resolution, and the first law holds within it."""
    result = _finite_otto().limit_cycle()
    assert result.resolution < 1e-12 * abs(result.work)
    assert abs(result.work + sum(result.heat.values())) <= result.resolution


# ------------------------------------------------------------------------------------ refusals
def test_cycle_without_a_reservoir_stroke_is_refused():
    """Unitary strokes alone: no heat to book and no unique limit cycle; a WorkbenchError names it."""
    with pytest.raises(WorkbenchError, match="at least one stroke that attaches a reservoir"):
        Cycle(
            Qubit(1.0, 0.2),
            [
                Unitary({"omega": 1.0}, {"omega": 2.0}, 0.5, name="up"),
                Unitary({"omega": 2.0}, {"omega": 1.0}, 0.5, name="down"),
            ],
        )


def test_carnot_refuses_a_hot_bath_at_zero_temperature():
    """The adiabats scale the control by T_c/T_h: T_h = 0 is refused with a message naming hot.T."""
    hot, cold = BosonicBath("hot", 0.0, 0.3, "sigma_x"), BosonicBath("cold", 0.0, 0.3, "sigma_x")
    with pytest.raises(WorkbenchError, match=r"carnot: `hot.T` must be > 0"):
        carnot(Qubit(1.0), hot, cold, start=2.0, end=1.0, tau_hot=1.0, tau_cold=1.0)


def test_limit_cycle_with_a_conserved_quantity_is_refused():
    """A qubit no stroke relaxes (bath on site 0 only, no coupling): the fixed point is not unique."""
    from engines import Composite

    medium = Composite([Qubit(1.0), Qubit(2.0)])
    hot = BosonicBath("hot", 2.0, 0.3, "sigma_x", site=0)
    cycle = Cycle(medium, [Thermalize(hot, 1.0, name="hot")])
    with pytest.raises(WorkbenchError, match="several fixed points"):
        cycle.limit_cycle()


# ------------------------------------------------------------------------------- commuting cycles
def _oscillator_closed_form(n_max, tau, T_h=1.5, T_c=0.5, w_c=1.0, w_h=2.0, kappa=0.2):
    """W of the oscillator Otto cycle from the rate equation of <n> (untruncated; x = (a + a^dag)/sqrt 2).

    Each bath relaxes <n> to nbar at rate kappa/2; sudden quenches keep <n>, so the limit cycle is two
    geometric sums and W = (w_h - w_c)(n_0 - n_1) (Rezek & Kosloff, NJP 8, 83 (2006)).
    """
    n_h, n_c = 1 / math.expm1(w_h / T_h), 1 / math.expm1(w_c / T_c)
    e = math.exp(-kappa / 2 * tau)
    n_1 = (n_h * (1 - e) + e * n_c * (1 - e)) / (1 - e * e)
    n_0 = n_c * (1 - e) + e * n_1
    return (w_h - w_c) * (n_0 - n_1)


def test_large_oscillator_otto_is_solved_on_the_populations():
    """n_max = 60: the commuting cycle is solved on the d = 61 populations (the Pauli rate matrices of
    both Davies generators, no d^2 object), and W agrees with the untruncated closed form."""
    hot, cold = BosonicBath("hot", 1.5, 0.2, "x"), BosonicBath("cold", 0.5, 0.2, "x")
    cycle = otto(HarmonicOscillator(1.0, 60), hot, cold, low=1.0, high=2.0, tau_hot=1.0, tau_cold=1.0)
    assert cycle.state_space_size == 61
    result = cycle.limit_cycle()
    assert result.work == pytest.approx(_oscillator_closed_form(60, 1.0), rel=1e-10)
    assert result.efficiency == pytest.approx(0.5, abs=1e-12)
