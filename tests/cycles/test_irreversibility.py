"""Per-stroke irreversibility of limit cycles (`cycles.cycle.stroke_irreversibility`).

Laws checked:

* Clausius per stroke: sigma = Delta S - Q / T >= 0 for every stroke with a bath, and the strokes'
  sigma sum to the entropy per cycle -sum_a Q_a / T_a (S is a state function and unitary strokes keep
  it), a conservation law independent of the per-stroke bookkeeping.
* Coherence split (Santos, Celeri, Landi and Paternostro, npj Quantum Inf. 5, 23 (2019)): under a
  Davies bath at fixed H, both the population and the coherence part are >= 0.
* Inner friction (Plastina et al., PRL 113, 260601 (2014)) of a unitary stroke: 0 when [H(t), H(t')] = 0,
  and for a qubit in a field rotating at constant angular velocity Omega the closed form below.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cycles import Cycle, Thermalize, Unitary, otto
from engines import BosonicBath, Custom, Levels, Qubit

#: Identities between entropies of the limit cycle (fixed-point and Magnus accuracy).
CYCLE_TOL = 1e-8

SZ = np.diag([1.0, -1.0]).astype(complex)
SX = np.array([[0, 1], [1, 0]], dtype=complex)
SY = np.array([[0, -1j], [1j, 0]])


@settings(max_examples=20, deadline=None)
@given(
    w_low=st.floats(0.3, 1.5),
    ratio=st.floats(1.2, 4.0),
    T_c=st.floats(0.2, 2.0),
    T_ratio=st.floats(1.5, 10.0),
    tau_hot=st.floats(0.5, 20.0),
    tau_cold=st.floats(0.5, 20.0),
    tau_compress=st.floats(0.0, 3.0),
    tilt=st.floats(0.0, 1.0),
)
def test_every_stroke_is_irreversible_and_the_strokes_add_up(
    w_low, ratio, T_c, T_ratio, tau_hot, tau_cold, tau_compress, tilt
):
    """Random qubit Otto cycles with a non-commuting compression: every figure >= 0, sums conserved."""
    w_high = w_low * ratio

    def H(omega):  # the field tilts as it grows: [H(omega), H(omega')] != 0 when tilt > 0
        theta = tilt * (omega - w_low) / (w_high - w_low)
        return 0.5 * omega * (math.cos(theta) * SZ + math.sin(theta) * SX)

    medium = Custom(H, controls={"omega": w_low})
    hot = BosonicBath("hot", T_c * T_ratio, 0.1, SY)
    cold = BosonicBath("cold", T_c, 0.1, SY)
    result = otto(
        medium,
        hot,
        cold,
        low=w_low,
        high=w_high,
        tau_hot=tau_hot,
        tau_cold=tau_cold,
        tau_compress=tau_compress,
    ).limit_cycle()
    frame = result.to_frame()
    bath = frame["sigma"].notna()
    scale = max(1.0, float(frame["entropy"].abs().max()))
    assert (frame.loc[bath, "sigma"] >= -CYCLE_TOL * scale).all()
    assert (frame.loc[bath, "sigma_populations"] >= -CYCLE_TOL * scale).all()
    assert (frame.loc[bath, "sigma_coherence"] >= -CYCLE_TOL * scale).all()
    assert (frame.loc[~bath, "inner_friction"] >= 0).all()
    assert frame.loc[bath, "sigma"].sum() == pytest.approx(result.entropy_per_cycle, abs=CYCLE_TOL * scale)
    parts = frame.loc[bath, "sigma_populations"] + frame.loc[bath, "sigma_coherence"]
    np.testing.assert_allclose(parts, frame.loc[bath, "sigma"], atol=1e-12 * scale)


def test_commuting_stroke_has_no_inner_friction():
    """A qubit Otto cycle changes only |H|: [H(t), H(t')] = 0, so a finite-time stroke is frictionless."""
    result = otto(
        Qubit(1.0),
        BosonicBath("hot", 4.0, 0.1, "sigma_x"),
        BosonicBath("cold", 0.5, 0.1, "sigma_x"),
        low=1.0,
        high=2.0,
        tau_hot=3.0,
        tau_cold=3.0,
        tau_compress=0.7,
        tau_expand=0.4,
    ).limit_cycle()
    frame = result.to_frame().set_index("stroke")
    assert frame.loc["compress", "inner_friction"] == pytest.approx(0.0, abs=1e-12)
    assert frame.loc["expand", "inner_friction"] == pytest.approx(0.0, abs=1e-12)


def _rotating_field_friction(w, T, theta, tau):
    """Inner friction of H(t) = (w/2)(cos th sigma_z + sin th sigma_x), th = theta t / tau (closed form).

    Start: the Gibbs state of (w/2) sigma_z at T, eigenvalues p > q with p / q = exp(w / T).  In the frame
    rotating with the field, U = exp(-i th sigma_y / 2), the Hamiltonian is time independent,
    H' = (w/2) sigma_z - (Omega/2) sigma_y with Omega = theta / tau, so the Bloch vector turns by
    phi = tau sqrt(w^2 + Omega^2) about n = (0, -Omega, w) / sqrt(w^2 + Omega^2) while rho_ad is the
    initial state carried along with the frame.  D(rho_end || rho_ad) is then the relative entropy of
    two states with the same spectrum whose Bloch vectors make an angle alpha, with
    cos alpha = n_z^2 + (1 - n_z^2) cos phi: writing ln rho = (ln pq)/2 + (ln(p/q)/2) m.sigma,
    D = (1/2)(p - q) ln(p/q) (1 - cos alpha).  (Bloch representation; rotating-frame solution of the
    Rabi problem, e.g. Plastina et al., PRL 113, 260601 (2014).)
    """
    p = 1.0 / (1.0 + math.exp(-w / T))
    q = 1.0 - p
    omega = theta / tau
    nz2 = w * w / (w * w + omega * omega)
    phi = tau * math.sqrt(w * w + omega * omega)
    cos_alpha = nz2 + (1.0 - nz2) * math.cos(phi)
    return 0.5 * (p - q) * math.log(p / q) * (1.0 - cos_alpha)


@pytest.mark.parametrize(("theta", "tau"), [(0.8, 0.5), (1.2, 2.0), (0.4, 7.0)])
def test_rotating_field_inner_friction_matches_the_closed_form(theta, tau):
    """Finite-time rotation of a qubit's field: the library's friction = the rotating-frame closed form."""
    w, T = 1.0, 0.7

    def H(th):
        return 0.5 * w * (math.cos(th) * SZ + math.sin(th) * SX)

    cold = BosonicBath("cold", T, 0.2, SY)
    cycle = Cycle(
        Custom(H, controls={"th": 0.0}),
        [
            Thermalize(cold, math.inf, {"th": 0.0}, name="equilibrate"),
            Unitary({"th": 0.0}, {"th": theta}, tau, name="rotate"),
            Thermalize(cold, math.inf, {"th": theta}, name="settle"),
            Unitary({"th": theta}, {"th": 0.0}, 0.0, name="back"),
        ],
    )
    frame = cycle.limit_cycle().to_frame().set_index("stroke")
    expected = _rotating_field_friction(w, T, theta, tau)
    assert expected > 1e-5  # a non-commuting finite-time stroke has friction
    assert frame.loc["rotate", "inner_friction"] == pytest.approx(expected, rel=1e-6)
    # the sudden return: rho_end = rho_start, the Bloch vector off by theta: cos alpha = cos theta
    p = 1.0 / (1.0 + math.exp(-w / T))
    sudden = 0.5 * (2 * p - 1) * math.log(p / (1 - p)) * (1 - math.cos(theta))
    assert frame.loc["back", "inner_friction"] == pytest.approx(sudden, rel=1e-9)


def test_thermalize_split_without_coherences():
    """Davies Thermalize strokes of an Otto cycle on diagonal H: the states stay diagonal, so the coherence
    part is 0 and sigma = sigma_populations > 0 (a finite-time thermalization is irreversible)."""
    levels = Levels([0.0, 1.0, 1.7])
    X = np.array([[0, 1, 0.5], [1, 0, 1], [0.5, 1, 0]], dtype=complex)
    hot, cold = BosonicBath("hot", 3.0, 0.1, X), BosonicBath("cold", 0.5, 0.1, X)
    result = otto(levels, hot, cold, control="E1", low=1.0, high=1.5, tau_hot=2.0, tau_cold=1.0).limit_cycle()
    frame = result.to_frame().set_index("stroke")
    for name in ("hot", "cold"):
        row = frame.loc[name]
        assert row["sigma"] > 0
        assert row["sigma_coherence"] == pytest.approx(0.0, abs=1e-10)
        assert row["sigma_populations"] == pytest.approx(row["sigma"], abs=1e-10)
