"""The spinful Anderson dot with Coulomb repulsion (``examples/coulomb_dot.toml``) in sequential tunnelling.

The dot: one spin-degenerate level eps with on-site repulsion U, H = eps (n_up + n_dn) + U n_up n_dn,
basis |0>, |up>, |dn>, |2> = d_up^dag d_dn^dag |0> with energies 0, eps, eps, 2 eps + U. Each lead a
(T_a, mu_a, tunnelling rate Gamma_a for either spin) is two `FermionicLead` reservoirs, one per spin,
with the annihilators d_up = |0><up| + |dn><2| and d_dn = |0><dn| - |up><2| (Jordan-Wigner); the
lead's currents are the sums over its two reservoirs.

Rate convention (engines/reservoirs.py, docs/physics.md): a lead of coupling Gamma adds a particle on
a transition of energy w = E_final - E_initial at Gamma f(w) |<final|d^dag|initial>|^2 and removes one
at Gamma (1 - f(w)) |<final|d|initial>|^2, f(w) = 1/(exp((w - mu)/T) + 1). Every matrix element of
d_up, d_dn is +-1, so the rates are Gamma_a f_a and Gamma_a (1 - f_a) at w = eps (0 <-> one electron)
and w = eps + U (one electron <-> |2>); the Jordan-Wigner sign enters squared.

Sequential-tunnelling rate equations (C. W. J. Beenakker, Phys. Rev. B 44, 1646 (1991); E. Bonet,
M. M. Deshmukh, D. C. Ralph, Phys. Rev. B 65, 045317 (2002)). With f_a = f_a(eps), g_a = f_a(eps + U),
P_up = P_dn = P_1 / 2 by spin symmetry:

    A = sum_a Gamma_a f_a,  B = sum_a Gamma_a (1 - f_a),  C = sum_a Gamma_a g_a,  D = sum_a Gamma_a (1 - g_a)
    0 -> one electron at 2 A (either spin can tunnel in: the factor 2 is the spin degeneracy),
    one electron -> 0 at B (only the spin that is there can tunnel out),
    one electron -> 2 at C (only the other spin can tunnel in), 2 -> one electron at 2 D (either out),
    P_1 / P_0 = 2 A / B,  P_2 / P_1 = C / (2 D).

The particle current into the dot from lead L, through the lower (eps) and upper (eps + U) transitions,

    I_L^(1) = 2 Gamma_L f_L P_0 - Gamma_L (1 - f_L) P_1,
    I_L^(2) = Gamma_L g_L P_1 - 2 Gamma_L (1 - g_L) P_2,

I_L = I_L^(1) + I_L^(2), and its heat current J_L = (eps - mu_L) I_L^(1) + (eps + U - mu_L) I_L^(2)
(each electron enters at the energy of its transition). For U >> T (g_a -> 0: P_2 = 0) this is the
infinite-U dot, I_L = 2 Gamma_L f_L P_0 - Gamma_L (1 - f_L) P_1 with P_1/P_0 = 2 sum_a Gamma_a f_a /
sum_a Gamma_a (1 - f_a); for two leads I_L = 2 Gamma_L Gamma_R (f_L - f_R) / sum_a Gamma_a (1 + f_a),
and J_L = (eps - mu_L) I_L.

Finite U against QuTiP: the same Davies (secular) Lindblad operators built from QuTiP's own objects:
the Fock space of two fermionic modes as tensor(destroy(2), qeye(2)) and sigmaz() x destroy(2),
split into Bohr components d_s (1 - n_s') (w = eps) and d_s n_s' (w = eps + U), each with its own
sqrt(Gamma f(w)) d_s(w)^dag and sqrt(Gamma (1 - f(w))) d_s(w), solved by qutip.steadystate.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import qutip
import systems

from analysis.design import design_from_dict, read_design
from analysis.parameters import with_values
from engines import Engine, FermionicLead, Levels

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "coulomb_dot.toml"
#: Two linear solves of the same rate problem (closed form: exact up to rounding).
RTOL = 1e-9
#: QuTiP's LU of its 16 x 16 Liouvillian against our Pauli solve.
QUTIP_TOL = 1e-9

D_UP = np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=float)
D_DN = np.array([[0, 0, 1, 0], [0, 0, 0, -1], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=float)


def _lead_sums(ness, lead: str):
    """(particle current, heat current) of a lead: the sums over its spin reservoirs."""
    names = (f"{lead}_up", f"{lead}_dn")
    return (
        sum(ness.particle_currents[n] for n in names),
        sum(ness.heat_currents[n] for n in names),
    )


def _leads(data) -> dict:
    """{lead: (T, mu, Gamma)} of a parsed Coulomb-dot design (checked equal for both spins)."""
    out = {}
    for r in data["reservoirs"]:
        lead = r["name"].rsplit("_", 1)[0]
        values = (r["T"], r.get("mu", 0.0), r["coupling"])
        assert out.setdefault(lead, values) == values
    return out


def _dot(eps, U, leads) -> Engine:
    """The dot from Python (leads: {name: (T, mu, Gamma)}), the same model as the example."""
    reservoirs = [
        FermionicLead(f"{name}_{spin}", T, mu, gamma, d)
        for name, (T, mu, gamma) in leads.items()
        for spin, d in (("up", D_UP), ("dn", D_DN))
    ]
    return Engine(Levels([0.0, eps, eps, 2 * eps + U]), reservoirs)


def sequential_tunnelling(eps, U, leads) -> dict:
    """{lead: (I, J)} of the finite-U rate equations in the module docstring (U = inf: g_a = 0)."""
    f = {a: systems.fermi(eps, T, mu) for a, (T, mu, _) in leads.items()}
    g = {a: 0.0 if math.isinf(U) else systems.fermi(eps + U, T, mu) for a, (T, mu, _) in leads.items()}
    gamma = {a: G for a, (_, _, G) in leads.items()}
    A = sum(gamma[a] * f[a] for a in leads)
    B = sum(gamma[a] * (1 - f[a]) for a in leads)
    C = sum(gamma[a] * g[a] for a in leads)
    D = sum(gamma[a] * (1 - g[a]) for a in leads)
    p1_over_p0 = 2 * A / B
    p2_over_p1 = C / (2 * D)
    p0 = 1.0 / (1.0 + p1_over_p0 * (1.0 + p2_over_p1))
    p1 = p1_over_p0 * p0
    p2 = p2_over_p1 * p1
    out = {}
    for a, (_, mu, _) in leads.items():
        lower = 2 * gamma[a] * f[a] * p0 - gamma[a] * (1 - f[a]) * p1
        upper = gamma[a] * g[a] * p1 - 2 * gamma[a] * (1 - g[a]) * p2
        heat = (eps - mu) * lower + (0.0 if math.isinf(U) else (eps + U - mu) * upper)
        out[a] = (lower + upper, heat)
    return out


def test_lead_rates_are_gamma_f_in_and_gamma_one_minus_f_out():
    """The convention the closed forms use: a lead of coupling Gamma adds at Gamma f(w), removes at
    Gamma (1 - f(w)), w the transition energy."""
    lead = FermionicLead("hot", 1.0, 0.3, 0.01, D_UP)
    for w in (1.0, 5.0):
        f = systems.fermi(w, 1.0, 0.3)
        assert float(lead.rate_in(w)) == pytest.approx(0.01 * f, rel=1e-14)
        assert float(lead.rate_out(w)) == pytest.approx(0.01 * (1 - f), rel=1e-14)


def test_jordan_wigner_annihilators_anticommute():
    """d_up, d_dn are fermion annihilators on |0>, |up>, |dn>, |2>: {d_s, d_s'^dag} = delta_ss',
    {d_up, d_dn} = 0, and d_up^dag d_up + d_dn^dag d_dn = N."""
    eye = np.eye(4)
    for a in (D_UP, D_DN):
        for b in (D_UP, D_DN):
            np.testing.assert_array_equal(a @ b.T + b.T @ a, eye if a is b else 0 * eye)
            np.testing.assert_array_equal(a @ b + b @ a, 0 * eye)
    np.testing.assert_array_equal(D_UP.T @ D_UP + D_DN.T @ D_DN, np.diag([0, 1, 1, 2]))


@pytest.mark.parametrize(
    "leads",
    [
        pytest.param({"hot": (1.0, 0.0, 0.01), "cold": (0.5, 0.2, 0.01)}, id="example-leads"),
        pytest.param({"left": (0.7, 1.3, 0.03), "right": (0.4, -0.5, 0.01)}, id="biased-asymmetric"),
    ],
)
def test_infinite_u_dot_currents_are_the_sequential_tunnelling_closed_form(leads):
    """U = 40 >> T: every correction is O(f_a(eps + U)) <= exp(-(eps + U - mu_a)/T_a) < 1e-16, so the
    workbench's particle and heat currents equal the infinite-U closed form to rounding (Beenakker
    1991; Bonet, Deshmukh, Ralph 2002), I_L = 2 Gamma_L Gamma_R (f_L - f_R) / sum_a Gamma_a (1 + f_a)."""
    eps, U = 1.0, 40.0
    assert max(systems.fermi(eps + U, T, mu) for T, mu, _ in leads.values()) < 1e-16
    ness = _dot(eps, U, leads).steady_state()
    expected = sequential_tunnelling(eps, math.inf, leads)
    (left, (T_l, mu_l, g_l)), (_, (T_r, mu_r, g_r)) = leads.items()
    f_l, f_r = systems.fermi(eps, T_l, mu_l), systems.fermi(eps, T_r, mu_r)
    two_leads = 2 * g_l * g_r * (f_l - f_r) / (g_l * (1 + f_l) + g_r * (1 + f_r))
    assert expected[left][0] == pytest.approx(two_leads, rel=1e-12)
    for lead, (current, heat) in expected.items():
        particles, energy = _lead_sums(ness, lead)
        assert particles == pytest.approx(current, rel=RTOL)
        assert energy == pytest.approx(heat, rel=RTOL)
    assert ness.rho[3, 3].real < 1e-16  # |2> is blockaded


def test_example_is_the_infinite_u_dot_up_to_its_first_order_double_occupancy():
    """At the example's U = 4 the current exceeds the infinite-U one by r = c1 g_h + O(g^2), g_h =
    f_hot(eps + U) = 1/(e^5 + 1) = 6.7e-3: to first order in g_a (P_2/P_1 = gbar/2, gbar = sum_a
    Gamma_a g_a / sum_a Gamma_a) the upper transition adds P_1 Gamma_L (g_L - gbar) and the
    normalisation removes P_1 gbar/2 I_L, so r = P_1 Gamma_L (g_L - gbar)/I_L - P_1 gbar/2 (P_1, I_L of
    the infinite-U dot). The remainder is second order: |r - r1| <= 2 g_h r1 (measured: 0.8 g_h r1)."""
    data = read_design(EXAMPLE)
    leads = _leads(data)
    eps, U = data["medium"]["energies"][1], data["medium"]["energies"][3] - 2 * data["medium"]["energies"][1]
    ness = design_from_dict(data).steady_state()
    current, _ = _lead_sums(ness, "hot")
    infinite = sequential_tunnelling(eps, math.inf, leads)["hot"][0]
    f = {a: systems.fermi(eps, T, mu) for a, (T, mu, _) in leads.items()}
    g = {a: systems.fermi(eps + U, T, mu) for a, (T, mu, _) in leads.items()}
    gamma = {a: G for a, (_, _, G) in leads.items()}
    A, B = sum(gamma[a] * f[a] for a in leads), sum(gamma[a] * (1 - f[a]) for a in leads)
    p1 = 2 * A / (B + 2 * A)
    gbar = sum(gamma[a] * g[a] for a in leads) / sum(gamma.values())
    r1 = p1 * gamma["hot"] * (g["hot"] - gbar) / infinite - p1 * gbar / 2
    r = current / infinite - 1
    assert 0.01 < r < 0.02  # a 1.4 % effect of the blockaded channel
    assert r == pytest.approx(r1, rel=2 * g["hot"])


#: The example, and a regime where |2> is well populated (U = 1, hot leads at mu = 1.5).
FINITE_U_CASES = [
    pytest.param({}, id="example"),
    pytest.param(
        {"medium.energies.3": 3.0, "reservoirs.hot_up.mu": 1.5, "reservoirs.hot_dn.mu": 1.5},
        id="U=1-strong-double-occupancy",
    ),
]


@pytest.mark.parametrize("changes", FINITE_U_CASES)
def test_finite_u_dot_is_the_four_state_rate_equations(changes):
    """The example (and a regime where |2> is well populated) against the finite-U rate equations of
    the module docstring: particle and heat currents per lead, exact up to rounding."""
    data = with_values(read_design(EXAMPLE), changes)
    E = data["medium"]["energies"]
    eps, U = E[1], E[3] - 2 * E[1]
    ness = design_from_dict(data).steady_state()
    for lead, (current, heat) in sequential_tunnelling(eps, U, _leads(data)).items():
        particles, energy = _lead_sums(ness, lead)
        assert particles == pytest.approx(current, rel=RTOL)
        assert energy == pytest.approx(heat, rel=RTOL)
    if changes:
        assert ness.rho[3, 3].real > 0.05


def _qutip_currents(eps, U, leads) -> dict:
    """{lead: (I, J)} from qutip.steadystate with the secular Lindblad operators of the module doc."""
    d_up = qutip.tensor(qutip.destroy(2), qutip.qeye(2))
    d_dn = qutip.tensor(qutip.sigmaz(), qutip.destroy(2))  # Jordan-Wigner string (-1)^{n_up}
    n_up, n_dn = d_up.dag() * d_up, d_dn.dag() * d_dn
    N = n_up + n_dn
    H = eps * N + U * n_up * n_dn
    one = qutip.qeye([2, 2])
    components = []  # (transition energy, d_s(w))
    for d, other in ((d_up, n_dn), (d_dn, n_up)):
        components += [(eps, d * (one - other)), (eps + U, d * other)]
    c_ops, owner = [], []
    for lead, (T, mu, gamma) in leads.items():
        for w, d in components:
            f = systems.fermi(w, T, mu)
            c_ops += [math.sqrt(gamma * f) * d.dag(), math.sqrt(gamma * (1 - f)) * d]
            owner += [lead, lead]
    rho = qutip.steadystate(H, c_ops)
    out = {lead: [0.0, 0.0] for lead in leads}
    for c, lead in zip(c_ops, owner):
        drho = qutip.vector_to_operator(qutip.lindblad_dissipator(c) * qutip.operator_to_vector(rho))
        mu = leads[lead][1]
        out[lead][0] += qutip.expect(N, drho)
        out[lead][1] += qutip.expect(H - mu * N, drho)
    return {lead: tuple(v) for lead, v in out.items()}


@pytest.mark.parametrize("changes", FINITE_U_CASES)
def test_finite_u_dot_currents_match_qutip(changes):
    """The example's particle and heat currents per lead against qutip.steadystate of the same
    Lindblad operators built from QuTiP's own fermion operators."""
    data = with_values(read_design(EXAMPLE), changes)
    E = data["medium"]["energies"]
    ness = design_from_dict(data).steady_state()
    for lead, (current, heat) in _qutip_currents(E[1], E[3] - 2 * E[1], _leads(data)).items():
        particles, energy = _lead_sums(ness, lead)
        assert particles == pytest.approx(current, rel=QUTIP_TOL)
        assert energy == pytest.approx(heat, rel=QUTIP_TOL)


def test_example_is_a_diagonal_engine_with_both_spins_alike():
    """The degenerate |up>, |dn> block: no reservoir feeds its coherence, so the NESS is diagonal with
    P_up = P_dn; the dot runs as an engine below the bias-limited efficiency (mu_c - mu_h)/(eps - mu_h)."""
    ness = design_from_dict(read_design(EXAMPLE)).steady_state()
    assert np.max(np.abs(ness.rho - np.diag(np.diag(ness.rho)))) < 1e-14
    assert ness.rho[1, 1].real == pytest.approx(ness.rho[2, 2].real, rel=1e-12)
    assert ness.mode == "engine"
    assert 0.15 < ness.efficiency < 0.2
    current, _ = _lead_sums(ness, "hot")
    assert ness.power == pytest.approx(0.2 * current, rel=RTOL)  # P = (mu_c - mu_h) I
