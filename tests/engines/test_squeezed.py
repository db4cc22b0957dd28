"""The squeezed thermal bath (`engines.SqueezedBath`): its stationary state, currents and refusals.

References: H.-P. Breuer and F. Petruccione, *The Theory of Open Quantum Systems* (OUP, 2002),
Sec. 3.4.3; M. O. Scully and M. S. Zubairy, *Quantum Optics* (CUP, 1997); C. W. Gardiner,
PRL 56, 1917 (1986) (a two-level atom in a squeezed vacuum).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

from engines import BosonicBath, Engine, HarmonicOscillator, Qubit, SpinChain, SqueezedBath, WorkbenchError
from tests.systems import bose, squeezed_moments

TOL = 1e-9


def _qutip_squeezed_liouvillian(a, gamma, N, M):
    """B&P Sec. 3.4.3 from QuTiP's operators: gamma (N+1) D[a] + gamma N D[a^dag] - gamma M D'[a^dag] - c.c.

    D'[x] rho = x rho x - (1/2){x x, rho}, in the frame rotating with the mode (no Hamiltonian).
    """

    def d_prime(x):
        return qutip.spre(x) * qutip.spost(x) - 0.5 * (qutip.spre(x * x) + qutip.spost(x * x))

    return (
        gamma * (N + 1) * qutip.lindblad_dissipator(a)
        + gamma * N * qutip.lindblad_dissipator(a.dag())
        - gamma * M * d_prime(a.dag())
        - gamma * np.conj(M) * d_prime(a)
    )


@pytest.mark.parametrize(("T", "r", "phi"), [(0.0, 0.5, 0.0), (0.7, 0.3, 1.1), (0.5, 0.4, -2.0)])
def test_squeezed_oscillator_ness_matches_qutip_master_equation(T, r, phi):
    """NESS of an oscillator (coupling x = (a + a^dag)/sqrt 2) equals QuTiP's for the B&P 3.4.3 form.

    The lowering part of x is a/sqrt 2, so QuTiP's rate is kappa/2; its Liouvillian is written term
    by term with N, M of Breuer & Petruccione (not the Bogoliubov jumps the workbench uses).
    """
    kappa, n_max = 0.1, 30
    osc = HarmonicOscillator(omega=1.0, n_max=n_max)
    ss = Engine(osc, [SqueezedBath("s", T, r, phi, kappa, "x")]).steady_state()
    N, M = squeezed_moments(1.0, T, r, phi)
    L = _qutip_squeezed_liouvillian(qutip.destroy(n_max + 1), kappa / 2, N, M)
    ref = qutip.steadystate(L).full()
    assert np.max(np.abs(ss.rho - ref)) < 1e-8


def test_squeezed_thermal_state_moments():
    """<a^dag a> = N and <a a> = M at the NESS (B&P 3.4.3), up to the truncation at n_max = 40."""
    osc = HarmonicOscillator(omega=2.0, n_max=40)
    T, r, phi = 1.0, 0.4, 0.7
    rho = Engine(osc, [SqueezedBath("s", T, r, phi, 0.2, "x")]).steady_state().rho
    a = osc.operator("a")
    N, M = squeezed_moments(2.0, T, r, phi)
    assert abs(np.trace(a.conj().T @ a @ rho) - N) < 1e-7
    assert abs(np.trace(a @ a @ rho) - M) < 1e-7


def test_squeezed_qubit_populations_gardiner():
    """A qubit in a squeezed bath relaxes to p_e = N/(2N+1) (Gardiner, PRL 56, 1917 (1986)), vs QuTiP."""
    T, r, phi, kappa = 0.8, 0.6, 0.4, 0.05
    q = Qubit(omega=1.0)
    ss = Engine(q, [SqueezedBath("s", T, r, phi, kappa, "sigma_x")]).steady_state()
    N, M = squeezed_moments(1.0, T, r, phi)
    p_e = ss.rho[0, 0].real  # sigma_z = diag(1, -1): the excited state is the first
    assert abs(p_e - N / (2 * N + 1)) < TOL
    ref = qutip.steadystate(_qutip_squeezed_liouvillian(qutip.sigmam(), kappa, N, M)).full()
    assert np.max(np.abs(ss.rho - ref)) < TOL


def test_zero_squeezing_is_the_thermal_bath():
    """r = 0 gives the thermal Davies bath's NESS and currents exactly (N = n_th, M = 0)."""
    osc = HarmonicOscillator(omega=1.0, n_max=20)
    cold = BosonicBath("cold", 0.3, 0.05, "x")
    a = Engine(osc, [SqueezedBath("hot", 1.2, 0.0, 0.0, 0.1, "x"), cold]).steady_state()
    b = Engine(osc, [BosonicBath("hot", 1.2, 0.1, "x"), cold]).steady_state()
    assert np.max(np.abs(a.rho - b.rho)) < TOL
    assert a.heat_currents["hot"] == pytest.approx(b.heat_currents["hot"], abs=TOL)


def test_squeezed_heat_current_closed_form_and_first_law():
    """J_s = w gamma_s (N_s - <n>) with <n> the rate-weighted mean of N_s and n_c; J_s + J_c = 0.

    Both baths relax <n> linearly, d<n>/dt = sum_a gamma_a (N_a - <n>) (B&P 3.4.3; gamma = kappa/2 for
    the coupling x), so <n> = (gamma_s N_s + gamma_c n_c)/(gamma_s + gamma_c) at the NESS.
    """
    w, ks, kc = 1.0, 0.1, 0.05
    osc = HarmonicOscillator(omega=w, n_max=45)
    sq = SqueezedBath("hot", 0.8, 0.5, 0.3, ks, "x")
    ss = Engine(osc, [sq, BosonicBath("cold", 0.3, kc, "x")]).steady_state()
    Ns, nc = squeezed_moments(w, 0.8, 0.5, 0.3)[0], bose(w, 0.3)
    n = (ks * Ns + kc * nc) / (ks + kc)
    assert ss.heat_currents["hot"] == pytest.approx(w * ks / 2 * (Ns - n), rel=1e-7)
    assert ss.heat_currents["hot"] + ss.heat_currents["cold"] == pytest.approx(0.0, abs=1e-12)


def test_clausius_figures_are_undefined_with_the_reason():
    """Carnot efficiency, entropy production rate and T-based modes are None, with the reason; no T_eff."""
    osc = HarmonicOscillator(omega=1.0, n_max=20)
    ss = Engine(
        osc, [SqueezedBath("hot", 1.0, 0.5, 0.0, 0.1, "x"), BosonicBath("cold", 0.2, 0.1, "x")]
    ).steady_state()
    assert ss.carnot_efficiency is None
    assert ss.entropy_production_rate is None
    assert ss.mode == "non-thermal"
    assert "'hot' not thermal" in ss.undefined
    assert "hot" not in ss.temperatures  # no temperature is reported for it
    d = ss.to_dict()
    assert d["carnot_efficiency"] is None and d["undefined"] == ss.undefined
    assert math.isfinite(ss.heat_currents["hot"]) and ss.heat_currents["hot"] > 0


def test_relative_entropy_form_is_reported():
    """sigma_na >= 0 is reported and the Clausius sigma, sigma_hk are None (docs/physics.md, 8)."""
    from analysis.entropy import entropy_production_rates

    osc = HarmonicOscillator(omega=1.0, n_max=16)
    eng = Engine(osc, [SqueezedBath("hot", 0.5, 0.3, 0.0, 0.1, "x"), BosonicBath("cold", 0.2, 0.1, "x")])
    rho = np.diag(np.exp(-np.arange(17) / 0.6))
    rates = entropy_production_rates(eng, rho / np.trace(rho))
    assert rates.non_adiabatic > 0
    assert rates.total is None and rates.housekeeping is None
    assert "not thermal" in rates.reason


@pytest.mark.parametrize(
    ("medium", "operator", "why"),
    [
        (Qubit(omega=1.0), "sigma_z", "single Bohr frequency"),
        (HarmonicOscillator(omega=1.0, n_max=5), "n", "single Bohr frequency"),
        (SpinChain(2, J=1.0, Delta=0.5), "sigma_x", "single-site medium"),
    ],
    ids=["qubit-sigma_z", "oscillator-n", "spin-chain"],
)
def test_squeezed_bath_refuses_couplings_without_one_bohr_frequency(medium, operator, why):
    """The squeezed dissipator is defined for one mode: other couplings are refused in one line."""
    site = 0 if isinstance(medium, SpinChain) else None
    with pytest.raises(WorkbenchError, match=why) as info:
        Engine(medium, [SqueezedBath("s", 1.0, 0.3, 0.0, 0.1, operator, site=site)])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("r", {"r": -0.1}), ("T", {"T": -1.0}), ("phi", {"phi": math.nan}), ("coupling", {"coupling": -1})],
)
def test_squeezed_bath_bad_input(field, kwargs):
    """Negative r (or T, coupling) and non-finite phi: a one-line WorkbenchError naming the field."""
    args = {"name": "s", "T": 1.0, "r": 0.2, "phi": 0.0, "coupling": 0.1, "operator": "x", **kwargs}
    with pytest.raises(WorkbenchError, match=f"SqueezedBath 's': `{field}`") as info:
        SqueezedBath(**args)
    assert "\n" not in str(info.value)


def test_squeezed_bath_is_an_immutable_value():
    """replace() rebuilds and checks; assignment raises."""
    s = SqueezedBath("s", 1.0, 0.2, 0.0, 0.1, "x")
    assert s.replace(r=0.5).r == 0.5
    with pytest.raises(WorkbenchError):
        s.replace(r=-1.0)
    with pytest.raises(AttributeError):
        s.r = 0.3


def test_batch_and_sweep_plan_refuse_the_kernel_path():
    """The batched Davies kernel cannot hold a squeezed bath: Batch refuses, a sweep goes point by point."""
    from analysis.sweep import plan
    from engines import Batch

    osc = HarmonicOscillator(omega=1.0, n_max=8)
    eng = Engine(osc, [SqueezedBath("hot", 0.3, 0.2, 0.0, 0.1, "x"), BosonicBath("cold", 0.2, 0.1, "x")])
    with pytest.raises(WorkbenchError, match=r"Batch: `engine\.reservoirs`"):
        Batch(eng, ["hot.T"])
    data = {
        "medium": {"type": "HarmonicOscillator", "omega": 1.0, "n_max": 8},
        "reservoirs": [
            {"name": "hot", "type": "squeezed", "T": 0.3, "r": 0.2, "coupling": 0.1, "operator": "x"},
            {"name": "cold", "type": "bosonic", "T": 0.2, "coupling": 0.1, "operator": "x"},
        ],
    }
    assert plan(data, ["reservoirs.hot.T"])[0] == "per-point"
