"""The user channel reservoir (`engines.ChannelReservoir`): jumps with rates, as QuTiP's ``c_ops``.

Reference system: the XXZ chain driven at its ends by magnetisation baths (T. Prosen, PRL 107,
137201 (2011)), `tests.systems.boundary_driven_chain`; QuTiP builds the same model from its own
operators (``qutip.sigmap``, ``sigmam``, ``sigmax``... tensored).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

from engines import (
    BosonicBath,
    ChannelReservoir,
    Engine,
    HarmonicOscillator,
    Qubit,
    SqueezedBath,
    WorkbenchError,
)
from tests.systems import boundary_driven_chain

TOL = 1e-9


def _site(op, i, n):
    return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])


def _qutip_chain(n, Delta, G, mu, J=1.0):
    """H = J sum_i (sx sx + sy sy + Delta sz sz) and Prosen's four boundary jumps, from QuTiP operators."""
    sx, sy, sz = qutip.sigmax(), qutip.sigmay(), qutip.sigmaz()
    H = sum(
        J * (_site(sx, i, n) * _site(sx, i + 1, n) + _site(sy, i, n) * _site(sy, i + 1, n))
        + J * Delta * _site(sz, i, n) * _site(sz, i + 1, n)
        for i in range(n - 1)
    )
    sp_, sm_ = qutip.sigmap(), qutip.sigmam()
    c_ops = [
        math.sqrt(G * (1 + mu)) * _site(sp_, 0, n),
        math.sqrt(G * (1 - mu)) * _site(sm_, 0, n),
        math.sqrt(G * (1 - mu)) * _site(sp_, n - 1, n),
        math.sqrt(G * (1 + mu)) * _site(sm_, n - 1, n),
    ]
    return H, c_ops


@pytest.mark.parametrize(
    ("n", "Delta", "G", "mu"),
    [(3, 0.0, 1.0, 0.3), (4, 0.0, 0.5, 0.8), (4, 0.5, 1.0, 0.2), (5, 1.2, 0.7, 0.5)],
    ids=["XX-3", "XX-4", "XXZ-4", "XXZ-5"],
)
def test_boundary_driven_chain_matches_qutip(n, Delta, G, mu):
    """NESS and magnetisation current of the boundary-driven XXZ chain equal QuTiP's (Prosen 2011).

    QuTiP's current is the bond current of M = sum sz/2, j = J <sx_0 sy_1 - sy_0 sx_1> (i[H, sz_0/2]
    = -J (sx_0 sy_1 - sy_0 sx_1), from QuTiP's operators); the continuity equation
    d<sz_0/2>/dt = Tr[M D_left(rho)] - j = 0 makes it the magnetisation the left bath injects, and
    the right bath takes the same out.
    """
    for flavour in ("global", "local"):
        ss = boundary_driven_chain(n, Delta, G, mu).replace(flavour=flavour).steady_state()
        H, c_ops = _qutip_chain(n, Delta, G, mu)
        ref = qutip.steadystate(H, c_ops)
        assert np.max(np.abs(ss.rho - ref.full())) < TOL
        sx, sy = qutip.sigmax(), qutip.sigmay()
        j = qutip.expect(_site(sx, 0, n) * _site(sy, 1, n) - _site(sy, 0, n) * _site(sx, 1, n), ref)
        assert ss.particle_currents["left"] == pytest.approx(j, abs=TOL)
        assert ss.particle_currents["right"] == pytest.approx(-j, abs=TOL)
        assert j > 0  # magnetisation flows from the mu > 0 end


def test_channel_reservoir_energy_currents_and_first_law():
    """Energy currents Tr[H D_a(rho)] of the chain's boundary baths sum to zero (no work source)."""
    ss = boundary_driven_chain(4, 0.5, 1.0, 0.4).steady_state()
    J = ss.heat_currents
    assert abs(J["left"] + J["right"]) <= 2 * ss.resolution
    assert ss.power == 0.0
    assert ss.entropy_production_rate is None and ss.carnot_efficiency is None
    assert "not thermal" in ss.undefined


def test_channel_with_thermal_jumps_is_the_davies_bath():
    """A qubit channel with jumps sqrt(g(1+n)) sigma^- and sqrt(g n) sigma^+ equals the thermal bath.

    For a qubit coupled through sigma_x, the Davies jumps are exactly these (Breuer & Petruccione 3.4).
    """
    T, g = 0.7, 0.05
    n = 1.0 / math.expm1(1.0 / T)
    q = Qubit(omega=1.0)
    cold = BosonicBath("cold", 0.2, 0.03, "sigma_x")
    ch = ChannelReservoir("hot", [("sigma_minus", g * (1 + n)), ("sigma_plus", g * n)])
    a = Engine(q, [ch, cold]).steady_state()
    b = Engine(q, [BosonicBath("hot", T, g, "sigma_x"), cold]).steady_state()
    assert np.max(np.abs(a.rho - b.rho)) < TOL
    assert a.heat_currents["hot"] == pytest.approx(b.heat_currents["hot"], abs=TOL)


def test_channel_energy_operator_named_by_the_user():
    """`energy` books the current against the named Hamiltonian: Tr[E D(rho)] with E = n for an oscillator."""
    osc = HarmonicOscillator(omega=2.0, n_max=10)
    rho_th = BosonicBath("th", 1.0, 0.1, "x")
    eng = Engine(osc, [rho_th, ChannelReservoir("loss", [("a", 0.02)], energy="n")])
    ss = eng.steady_state()
    a = osc.operator("a")
    n_mean = np.trace(a.conj().T @ a @ ss.rho).real
    assert ss.heat_currents["loss"] == pytest.approx(-0.02 * n_mean, rel=1e-9)  # d<n>/dt = -k <n>


@pytest.mark.parametrize(
    ("jumps", "match"),
    [
        ([("sigma_minus", math.inf)], r"jumps\[0\] rate"),
        ([("sigma_minus", math.nan)], r"jumps\[0\] rate"),
        ([("sigma_minus", -1.0)], r"jumps\[0\] rate"),
        ([], "at least one"),
        ([("sigma_minus",)], r"jumps\[0\]"),
        ([(np.ones((2, 3)), 1.0)], "operator"),
        ([(np.array([[0, np.nan], [0, 0]]), 1.0)], "operator"),
    ],
    ids=["inf-rate", "nan-rate", "negative-rate", "empty", "no-rate", "non-square", "nan-matrix"],
)
def test_channel_reservoir_bad_input(jumps, match):
    """Non-finite or negative rates, malformed jumps, operators of the wrong shape: one-line errors."""
    with pytest.raises(WorkbenchError, match=match) as info:
        ChannelReservoir("c", jumps)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("op", "match"),
    [(np.eye(3), r"shape \(3, 3\)"), ("sigma_q", "did you mean"), ("sigma_minus_7", "site index")],
    ids=["wrong-dimension", "unknown-name", "bad-site"],
)
def test_channel_operator_checked_against_the_medium(op, match):
    """An operator of another dimension or an unknown name fails when the engine is built."""
    from engines import SpinChain

    medium = Qubit(omega=1.0) if not isinstance(op, str) or "7" not in op else SpinChain(2, J=1.0, Delta=0.0)
    with pytest.raises(WorkbenchError, match=match) as info:
        Engine(medium, [ChannelReservoir("c", [(op, 0.1)])])
    assert "\n" not in str(info.value)


def test_channel_next_to_squeezed_bath_is_refused():
    """The squeezed dissipator lives in the frame rotating with H, the channel jumps in the lab frame."""
    osc = HarmonicOscillator(omega=1.0, n_max=8)
    with pytest.raises(WorkbenchError, match="no ChannelReservoir next to a squeezed bath"):
        Engine(osc, [SqueezedBath("s", 0.5, 0.2, 0.0, 0.1, "x"), ChannelReservoir("c", [("a", 0.1)])])
