"""The two-qubit SWAP engine and pure-dephasing strokes: strokes whose generator has several steady states.

Conventions as in test_otto.py: W > 0 is work on the medium, Q_a > 0 heat into the medium; qubits follow
QuTiP (sigma_z = diag(1, -1), |0> is the upper level of H = (w/2) sigma_z, p its population).

SWAP engine (A. E. Allahverdyan, K. Hovhannisyan, G. Mahler, Phys. Rev. E 81, 051129 (2010);
M. Campisi, J. Pekola, R. Fazio, New J. Phys. 17, 035012 (2015)): qubit A (omega_h, site 0) relaxes with
the hot bath while qubit B's populations are conserved, qubit B (omega_c, site 1) with the cold bath, then
a SWAP exchanges their states: a sudden quench to resonance with the flip-flop coupling g on, the
constant-H unitary for pi/(2g) (|10> -> -i|01>), a sudden quench back.  Each bath's generator alone has
several steady states (the other qubit's populations are conserved), so an infinite stroke is the
spectral projector onto its kernel (docs/physics.md, Section 9).

Closed forms (derived in `cycles.swap`): with the excited populations p = 1/(1 + e^{w/T}) and full
thermalisation W = -(omega_h - omega_c)(p_h - p_c), Q_h = omega_h (p_h - p_c), eta = 1 - omega_c/omega_h;
engine iff omega_c/omega_h > T_c/T_h.  At finite times each population relaxes as
p -> p_eq + (p - p_eq) e^{-Gamma tau} with Gamma = kappa (1 + 2n) (flat spectrum, sigma_x coupling), and
the limit cycle carries the same formulas with p_h - p_c replaced by
(p_h - p_c)(1 - e_h)(1 - e_c)/(1 - e_h e_c), e = e^{-Gamma tau}.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import qutip
import scipy.linalg as la
import systems

from analysis.design import load_design
from cycles import Cycle, Thermalize, Unitary, swap
from engines import BosonicBath, Composite, Qubit

#: Closed forms of W, Q and eta (fully thermalised or exponential relaxation).
CLOSED_FORM_TOL = 1e-12
#: First law per cycle (energies are O(1)).
FIRST_LAW_TOL = 1e-12
#: Our cycle against the period map built with QuTiP's propagators (ODE tolerances 1e-12).
QUTIP_TOL = 1e-9
#: A long finite stroke against the infinite one (e^{-80} of the distance is left).
LIMIT_TOL = 1e-12

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
W_H, W_C, G = 2.0, 1.0, 0.3


def _p(w, T):
    return 1.0 / (1.0 + math.exp(w / T))


def _medium(w_h=W_H, w_c=W_C):
    """Qubits A (site 0) and B (site 1) with a flip-flop coupling g (s+ s- + s- s+), g_0 = 0 by default."""
    return Composite([Qubit(w_h), Qubit(w_c)], [(0.0, [("sigma_plus", 0), ("sigma_minus", 1)])])


def _baths(T_h, T_c, kappa_h=0.2, kappa_c=0.3):
    return (
        BosonicBath("hot", T_h, kappa_h, "sigma_x", site=0),
        BosonicBath("cold", T_c, kappa_c, "sigma_x", site=1),
    )


def _swap(T_h, T_c, w_h=W_H, w_c=W_C, **kwargs):
    return swap(_medium(w_h, w_c), *_baths(T_h, T_c), omega_h=w_h, omega_c=w_c, coupling=G, **kwargs)


def _assert_first_law(result):
    assert abs(result.work + sum(result.heat.values())) <= FIRST_LAW_TOL
    assert result.entropy_per_cycle >= 0.0


# ----------------------------------------------------------------------------- full thermalisation
@pytest.mark.parametrize("flavour", [pytest.param("global", id="global"), pytest.param("local", id="local")])
@pytest.mark.parametrize(
    ("w_c", "T_h", "T_c", "mode"),
    [
        pytest.param(1.0, 4.0, 1.0, "engine", id="engine"),  # w_c/w_h = 1/2 > T_c/T_h = 1/4
        pytest.param(0.4, 4.0, 1.0, "refrigerator", id="refrigerator"),  # 0.2 < 1/4
        pytest.param(3.0, 4.0, 1.0, "accelerator", id="accelerator"),  # w_c > w_h
    ],
)
def test_swap_engine_closed_form_campisi_pekola_fazio(flavour, w_c, T_h, T_c, mode):
    """W = -(w_h - w_c)(p_h - p_c), Q_h = w_h (p_h - p_c), Q_c = -w_c (p_h - p_c), eta = 1 - w_c/w_h.

    Campisi, Pekola & Fazio, NJP 17, 035012 (2015), eqs. for the SWAP engine; Allahverdyan,
    Hovhannisyan & Mahler, PRE 81, 051129 (2010).  Engine for T_c/T_h < w_c/w_h < 1, refrigerator
    (COP = w_c/(w_h - w_c)) below T_c/T_h, accelerator for w_c > w_h.  The limit cycle enters the hot
    stroke with A holding p_c and B holding p_h (the SWAP has just exchanged them).
    """
    result = _swap(T_h, T_c, w_c=w_c, flavour=flavour).limit_cycle()
    p_h, p_c = _p(W_H, T_h), _p(w_c, T_c)
    assert result.work == pytest.approx(-(W_H - w_c) * (p_h - p_c), abs=CLOSED_FORM_TOL)
    assert result.heat["hot"] == pytest.approx(W_H * (p_h - p_c), abs=CLOSED_FORM_TOL)
    assert result.heat["cold"] == pytest.approx(-w_c * (p_h - p_c), abs=CLOSED_FORM_TOL)
    assert result.mode == mode
    if mode == "engine":
        assert result.efficiency == pytest.approx(1 - w_c / W_H, abs=CLOSED_FORM_TOL)
    if mode == "refrigerator":
        assert result.cop == pytest.approx(w_c / (W_H - w_c), abs=CLOSED_FORM_TOL)
    # the state entering the hot stroke: A at p_c, B at p_h, no coherences
    expected = np.kron(np.diag([p_c, 1 - p_c]), np.diag([p_h, 1 - p_h]))
    np.testing.assert_allclose(result.rho, expected, atol=CLOSED_FORM_TOL)
    _assert_first_law(result)


def test_swap_is_a_swap_of_the_populations():
    """The three SWAP strokes map |10> to -i|01>: the populations of the product basis are exchanged.

    Per-stroke booking: the SWAP's total work is Tr[H_0 (rho_out - rho_in)] with H_0 the relaxation
    Hamiltonian, and it equals -(w_h - w_c)(p_h - p_c) since A and B exchange p_h and p_c.
    """
    result = _swap(4.0, 1.0).limit_cycle()
    rows = {r["stroke"]: r for r in result.strokes}
    p_h, p_c = _p(W_H, 4.0), _p(W_C, 1.0)
    swap_work = rows["swap on"]["work"] + rows["swap"]["work"] + rows["swap off"]["work"]
    assert swap_work == pytest.approx(-(W_H - W_C) * (p_h - p_c), abs=CLOSED_FORM_TOL)
    assert rows["swap"]["work"] == pytest.approx(0.0, abs=CLOSED_FORM_TOL)  # H constant: energy kept
    assert rows["hot"]["work"] == 0.0 and rows["hot"]["Q_cold"] == 0.0
    for name in ("swap on", "swap", "swap off"):
        assert rows[name]["Q_hot"] == 0.0 and rows[name]["Q_cold"] == 0.0


# ------------------------------------------------------------------------------------- finite time
def _closed_form_finite(T_h, T_c, kappa_h, kappa_c, tau_h, tau_c):
    """(W, Q_h, Q_c) of the finite-time limit cycle from the rate equation (see the module docstring)."""
    p_h, p_c = _p(W_H, T_h), _p(W_C, T_c)
    e_h = math.exp(-kappa_h * (1 + 2 * systems.bose(W_H, T_h)) * tau_h)
    e_c = math.exp(-kappa_c * (1 + 2 * systems.bose(W_C, T_c)) * tau_c)
    moved = (p_h - p_c) * (1 - e_h) * (1 - e_c) / (1 - e_h * e_c)
    return -(W_H - W_C) * moved, W_H * moved, -W_C * moved


def _qutip_finite(T_h, T_c, kappa_h, kappa_c, tau_h, tau_c):
    """(W, Q_h, Q_c, rho_0) of the same cycle from QuTiP's own operators and propagators.

    H_0 = (w_h/2) sz x 1 + (w_c/2) 1 x sz; the Davies jumps of sigma_x on A in the eigenbasis of H_0 are
    sqrt(kappa (1 + n)) sm x 1 and sqrt(kappa n) sp x 1 (flat spectrum, no dephasing), likewise on B;
    the SWAP is qutip.propagator of H_on = (w_c/2)(sz x 1 + 1 x sz) + g (sp x sm + sm x sp) for
    pi/(2g); the quenches leave rho alone.  The fixed point of the one-period map comes from a NumPy
    linear solve with the trace condition.
    """
    opts = {"atol": 1e-12, "rtol": 1e-12, "nsteps": 10**6}
    sz, sm, sp, eye = qutip.sigmaz(), qutip.sigmam(), qutip.sigmap(), qutip.qeye(2)
    H0 = 0.5 * W_H * qutip.tensor(sz, eye) + 0.5 * W_C * qutip.tensor(eye, sz)
    n_h, n_c = systems.bose(W_H, T_h), systems.bose(W_C, T_c)
    hot = [
        math.sqrt(kappa_h * (1 + n_h)) * qutip.tensor(sm, eye),
        math.sqrt(kappa_h * n_h) * qutip.tensor(sp, eye),
    ]
    cold = [
        math.sqrt(kappa_c * (1 + n_c)) * qutip.tensor(eye, sm),
        math.sqrt(kappa_c * n_c) * qutip.tensor(eye, sp),
    ]
    P_h = qutip.propagator(H0, tau_h, hot, options=opts)
    P_c = qutip.propagator(H0, tau_c, cold, options=opts)
    H_on = 0.5 * W_C * (qutip.tensor(sz, eye) + qutip.tensor(eye, sz)) + G * (
        qutip.tensor(sp, sm) + qutip.tensor(sm, sp)
    )
    S = qutip.to_super(qutip.propagator(H_on, math.pi / (2 * G), options=opts))
    M = (S * P_c * P_h).full()
    A = M - np.eye(16)
    A[0] = np.eye(4).reshape(-1)
    b = np.zeros(16, dtype=complex)
    b[0] = 1.0
    x = np.linalg.solve(A, b)
    dims = [[[2, 2], [2, 2]], [1]]
    rho0 = qutip.vector_to_operator(qutip.Qobj(x.reshape(-1, 1), dims=dims))
    rho1 = qutip.vector_to_operator(P_h * qutip.operator_to_vector(rho0))
    rho2 = qutip.vector_to_operator(P_c * qutip.operator_to_vector(rho1))
    Q_h = qutip.expect(H0, rho1) - qutip.expect(H0, rho0)
    Q_c = qutip.expect(H0, rho2) - qutip.expect(H0, rho1)
    return -(Q_h + Q_c), Q_h, Q_c, rho0.full()


@pytest.mark.parametrize(
    ("tau_h", "tau_c"),
    [pytest.param(2.0, 3.0, id="partial"), pytest.param(0.3, 10.0, id="short-hot-long-cold")],
)
def test_finite_time_swap_engine_against_qutip_and_rate_equation(tau_h, tau_c):
    """Finite relaxation times: W, Q_h, Q_c and rho* against QuTiP and the rate-equation closed form.

    The efficiency stays 1 - w_c/w_h at any relaxation times (every quantum taken from the hot bath
    at w_h leaves at w_c), and the power is -W / (tau_h + tau_c + pi/(2g)).
    """
    T_h, T_c, kappa_h, kappa_c = 4.0, 1.0, 0.2, 0.3
    result = _swap(T_h, T_c, tau_hot=tau_h, tau_cold=tau_c).limit_cycle()
    W, Q_h, Q_c, rho0 = _qutip_finite(T_h, T_c, kappa_h, kappa_c, tau_h, tau_c)
    assert result.work == pytest.approx(W, abs=QUTIP_TOL)
    assert result.heat["hot"] == pytest.approx(Q_h, abs=QUTIP_TOL)
    assert result.heat["cold"] == pytest.approx(Q_c, abs=QUTIP_TOL)
    np.testing.assert_allclose(result.rho, rho0, atol=QUTIP_TOL)
    closed = _closed_form_finite(T_h, T_c, kappa_h, kappa_c, tau_h, tau_c)
    np.testing.assert_allclose((result.work, result.heat["hot"], result.heat["cold"]), closed, atol=1e-12)
    assert result.efficiency == pytest.approx(1 - W_C / W_H, abs=CLOSED_FORM_TOL)
    assert result.power == pytest.approx(-result.work / (tau_h + tau_c + math.pi / (2 * G)), rel=1e-14)
    _assert_first_law(result)


@pytest.mark.parametrize("flavour", [pytest.param("global", id="global"), pytest.param("local", id="local")])
def test_long_relaxation_tends_to_the_infinite_stroke(flavour):
    """exp(L t) -> P_0 as t -> inf: a stroke of 400/Gamma reproduces the infinite one (projector)."""
    finite = _swap(4.0, 1.0, tau_hot=400.0, tau_cold=400.0, flavour=flavour).limit_cycle()
    infinite = _swap(4.0, 1.0, flavour=flavour).limit_cycle()
    np.testing.assert_allclose(finite.rho, infinite.rho, atol=LIMIT_TOL)
    assert finite.work == pytest.approx(infinite.work, abs=LIMIT_TOL)
    assert finite.heat["hot"] == pytest.approx(infinite.heat["hot"], abs=LIMIT_TOL)


def test_swap_sweep_matches_limit_cycles():
    """`Cycle.sweep` over the relaxation times (the kernel) agrees with single limit cycles."""
    cycle = _swap(4.0, 1.0, tau_hot=1.0, tau_cold=1.0)
    taus = np.array([0.5, 2.0, math.inf])
    table = cycle.sweep({"hot": taus, "cold": taus[::-1]}).to_frame()
    for row in table.to_dict("records"):
        single = _swap(4.0, 1.0, tau_hot=row["tau[hot]"], tau_cold=row["tau[cold]"]).limit_cycle()
        assert row["work"] == pytest.approx(single.work, abs=1e-12)
        assert row["Q_hot"] == pytest.approx(single.heat["hot"], abs=1e-12)


def test_swap_example_design_reproduces_the_closed_form():
    """examples/swap_engine.toml: w_h = 2, w_c = 1, T_h = 4, T_c = 1, full thermalisation."""
    design = load_design(EXAMPLES / "swap_engine.toml")
    result = design.run()
    p_h, p_c = _p(2.0, 4.0), _p(1.0, 1.0)
    assert result.mode == "engine"
    assert result.work == pytest.approx(-(2.0 - 1.0) * (p_h - p_c), abs=CLOSED_FORM_TOL)
    assert result.efficiency == pytest.approx(0.5, abs=CLOSED_FORM_TOL)


# ----------------------------------------------------------------------------------- pure dephasing
def _dephasing_cycle(tau_dephase, flavour, gamma=0.4, delta=0.8, t_kick=1.3, T=1.5, w=1.0):
    """hot (full, sigma_x) -> kick (transverse field delta for t_kick) -> dephase (sigma_z bath).

    The dephasing bath couples through sigma_z, which commutes with H = (w/2) sigma_z: its Davies
    generator is -i[H, .] + gamma(0) D[sigma_z] (zero frequency only), which conserves both
    populations (two steady states) and damps the coherence as exp(-(2 gamma + i w) t).
    """
    base, kicked = {"omega": w, "delta": 0.0}, {"omega": w, "delta": delta}
    hot = BosonicBath("hot", T, 0.5, "sigma_x")
    dephasing = BosonicBath("dephasing", T, 0.1, "sigma_z", dephasing=gamma)
    return Cycle(
        Qubit(w),
        [
            Thermalize(hot, math.inf, base, flavour, name="hot"),
            Unitary(base, kicked, 0.0, name="kick on"),
            Unitary(kicked, kicked, t_kick, name="kick"),
            Unitary(kicked, base, 0.0, name="kick off"),
            Thermalize(dephasing, tau_dephase, base, flavour, name="dephase"),
        ],
    )


def _kicked_gibbs(delta=0.8, t_kick=1.3, T=1.5, w=1.0):
    """rho_B = U pi U^dag, U = exp(-i t (w sz + delta sx)/2), pi the Gibbs state of (w/2) sz."""
    sz, sx = np.diag([1.0, -1.0]), np.array([[0.0, 1.0], [1.0, 0.0]])
    p = _p(w, T)
    U = la.expm(-1j * t_kick * 0.5 * (w * sz + delta * sx))
    return U @ np.diag([p, 1 - p]) @ U.conj().T


@pytest.mark.parametrize("flavour", [pytest.param("global", id="global"), pytest.param("local", id="local")])
def test_infinite_dephasing_projects_onto_the_diagonal(flavour):
    """An infinite pure-dephasing stroke is the pinching rho -> diag(rho) = lim exp(L t) rho.

    The state leaving the dephasing stroke (= `rho`, the state entering the hot stroke) is the
    diagonal of the kicked Gibbs state, computed here with scipy's expm; a stroke of 200/gamma gives
    the same state; the dephasing stroke books no heat (H is diagonal, populations are kept) and the
    kick's work is Tr[H_0 (rho_B - pi)] >= 0 (pi is passive), returned as heat to the hot bath.
    """
    rho_B = _kicked_gibbs()
    infinite = _dephasing_cycle(math.inf, flavour).limit_cycle()
    np.testing.assert_allclose(infinite.rho, np.diag(np.diag(rho_B)), atol=CLOSED_FORM_TOL)
    long = _dephasing_cycle(200.0, flavour).limit_cycle()
    np.testing.assert_allclose(long.rho, infinite.rho, atol=LIMIT_TOL)
    rows = {r["stroke"]: r for r in infinite.strokes}
    assert rows["dephase"]["Q_dephasing"] == 0.0
    H0 = np.diag([0.5, -0.5])
    p = _p(1.0, 1.5)
    W = float(np.real(np.trace(H0 @ (rho_B - np.diag([p, 1 - p])))))
    assert W > 0
    assert infinite.work == pytest.approx(W, abs=CLOSED_FORM_TOL)
    assert infinite.heat["hot"] == pytest.approx(-W, abs=CLOSED_FORM_TOL)
    assert infinite.mode == "heater"


def test_finite_dephasing_damps_the_coherence_exponentially():
    """A dephasing stroke of duration t keeps the populations and multiplies rho_01 by e^{-(2 gamma + i w) t}.

    D[sqrt(gamma) sz] rho = gamma (sz rho sz - rho) damps rho_01 at 2 gamma; -i[(w/2) sz, rho] turns it
    by e^{-i w t} (rho_01 is the |0><1| element, |0> the upper level).
    """
    gamma, t, w = 0.4, 0.9, 1.0
    rho_B = _kicked_gibbs()
    result = _dephasing_cycle(t, "global", gamma=gamma).limit_cycle()
    expected = np.diag(np.diag(rho_B)).astype(complex)
    expected[0, 1] = rho_B[0, 1] * np.exp(-(2 * gamma + 1j * w) * t)
    expected[1, 0] = np.conj(expected[0, 1])
    np.testing.assert_allclose(result.rho, expected, atol=CLOSED_FORM_TOL)
