"""The reference systems of tests/systems.py solved by the workbench, against their closed forms.

Each closed form is derived in its docstring in tests/systems.py (with its reference); these tests
are the table of those facts, run through the public API from design to number.
"""

import math

import pytest
import systems

from cycles import otto
from engines import BosonicBath, HarmonicOscillator, Qubit

#: A NESS from a linear solve against a rational closed form.
RTOL = 1e-9


@pytest.mark.parametrize(("T_h", "T_c", "k_h", "k_c"), [(2.0, 0.5, 0.1, 0.1), (5.0, 1.0, 0.02, 0.3)])
def test_qubit_between_two_baths(T_h, T_c, k_h, k_c):
    ness = systems.qubit_two_baths(1.0, T_h, T_c, k_h, k_c).steady_state()
    p_e, J_h = systems.qubit_two_baths_current(1.0, T_h, T_c, k_h, k_c)
    assert ness.rho[0, 0].real == pytest.approx(p_e, rel=RTOL)  # |0> is the upper level
    assert ness.heat_currents["hot"] == pytest.approx(J_h, rel=RTOL)
    assert ness.mode == "transport" and ness.power == 0.0


def test_maser_runs_at_the_scovil_schulz_dubois_efficiency():
    ness = systems.maser().steady_state()
    assert ness.mode == "engine"
    assert ness.efficiency == pytest.approx(1.0 - 1.0 / 3.0, rel=1e-10)


@pytest.mark.parametrize("T_h", [4.0, 10.0, 30.0])
def test_lps_fridge_cools_above_its_threshold_with_cop_e_c_over_e_h(T_h):
    """Above the threshold E_c/T_c + E_h/T_h < E_r/T_r it refrigerates at COP E_c/E_h (the global
    flavour's secular approximation shifts it by O(kappa/g))."""
    assert systems.lps_cools(1.0, 2.0, 0.9, 1.0, T_h)
    ness = systems.lps_fridge(T_h=T_h).steady_state()
    assert ness.mode == "refrigerator"
    assert ness.cop == pytest.approx(systems.lps_cop(1.0, 2.0), rel=1e-3)


def test_single_level_dot_currents():
    args = (1.0, 1.0, 1.0, 0.5, -0.5, 0.01, 0.02)
    ness = systems.dot(*args).steady_state()
    I_l, J_l = systems.dot_currents(*args)
    assert ness.particle_currents["left"] == pytest.approx(I_l, rel=RTOL)
    assert ness.heat_currents["left"] == pytest.approx(J_l, rel=RTOL)


@pytest.mark.parametrize(
    ("medium", "operator", "work"),
    [
        pytest.param(Qubit(1.0), "sigma_x", systems.otto_qubit_work, id="qubit"),
        # n_max = 80: the truncated Gibbs tail exp(-w_h n_max / T_h) is below 1e-17
        pytest.param(HarmonicOscillator(1.0, 80), "x", systems.otto_oscillator_work, id="oscillator"),
    ],
)
def test_otto_work_with_full_thermalisation(medium, operator, work):
    T_h, T_c, w_c, w_h = 4.0, 1.0, 1.0, 2.0
    cycle = otto(
        medium,
        BosonicBath("hot", T_h, 0.1, operator),
        BosonicBath("cold", T_c, 0.1, operator),
        low=w_c,
        high=w_h,
        tau_hot=math.inf,
        tau_cold=math.inf,
    )
    result = cycle.limit_cycle()
    assert result.work == pytest.approx(work(w_c, w_h, T_c, T_h), rel=1e-9)
    assert result.efficiency == pytest.approx(1.0 - w_c / w_h, rel=1e-9)
