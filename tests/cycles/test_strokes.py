"""Strokes: each books its own work and heat, isotherms reach the quasi-static limit, bad input is named.

Conventions (docs/physics.md, Strokes and cycles): a thermalisation stroke has W = 0 and
Q = Tr[H (rho_out - rho_in)]; a unitary stroke has Q = 0 and W = Tr[H_end rho_out] - Tr[H_start rho_in];
an isotherm books dW = Tr[rho dH] and dQ = Tr[H d rho] step by step, so W + Q = Delta E. The per-stroke
table of `CycleResult` gives W, Q per reservoir and the energy Tr[H_end rho] at each stroke's end; the
energy at a stroke's start is the previous row's (the controls join, and the cycle closes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip
import systems

from cycles import Cycle, Isotherm, Thermalize, Unitary, otto
from engines import BosonicBath, HarmonicOscillator, Qubit, UserCodeError, WorkbenchError

#: Booking identities per stroke (energies are O(1)).
BOOKING_TOL = 1e-12
#: A stroke against the same stroke propagated with QuTiP (atol/rtol 1e-12 below).
QUTIP_TOL = 1e-9
#: Fully relaxed isotherm steps against the closed form of the n-step protocol (same arithmetic).
RELAXED_RTOL = 1e-9
#: The n-step quasi-static isotherm against T Delta S and Delta F (error ~ 1/(2n); n = 64 here).
QUASI_STATIC_RTOL = 2e-2

T_ISO = 1.5
DELTA = 0.3


def _qubit_h(w, delta=DELTA):
    return 0.5 * w * np.diag([1.0, -1.0]) + 0.5 * delta * np.array([[0.0, 1.0], [1.0, 0.0]])


def _free_energy(H, T):
    E = np.linalg.eigvalsh(H)
    return float(E[0] - T * np.log(np.sum(np.exp(-(E - E[0]) / T))))


# -------------------------------------------------------------------------------------- booking
def _booking_cycle(kind):
    """cool (Thermalize, cold bath) -> hot isotherm (a -> b) -> expand (Drive b -> a, finite duration)."""
    if kind == "qubit":
        medium, op, a, b, T_h = Qubit(1.0, DELTA), "sigma_x", 1.0, 2.5, 2.0
    else:  # w/T >= 2 in every state, so n_max = 10 leaves < e^{-20} on the top level
        medium, op, a, b, T_h = HarmonicOscillator(2.0, 10), "x", 2.0, 4.0, 1.0
    hot, cold = BosonicBath("hot", T_h, 0.4, op), BosonicBath("cold", 0.5, 0.7, op)
    lo, hi = {"omega": a}, {"omega": b}
    return Cycle(
        medium,
        [
            Thermalize(cold, 2.0, lo, name="cool"),
            Isotherm(hot, lo, hi, 5.0, 32, name="hot isotherm"),
            Unitary(hi, lo, 1.5, name="expand"),
        ],
    )


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("qubit", id="qubit-transverse-field"),  # full vec(rho), non-commuting drive
        pytest.param("oscillator", id="oscillator"),  # populations only, commuting drive
    ],
)
def test_each_stroke_books_its_own_work_and_heat(kind):
    """Thermalize: W = 0, Q = Delta E. Drive: Q = 0, W = Delta E. Isotherm: W + Q = Delta E.

    Delta E is measured from the table's energies (Tr[H_end rho] at each stroke's end), independently
    of the accumulated W and Q; the cycle's totals are the sums of its strokes'.
    """
    result = _booking_cycle(kind).limit_cycle()
    rows = result.strokes
    for i, row in enumerate(rows):
        dE = row["energy"] - rows[i - 1]["energy"]
        heat = row["Q_hot"] + row["Q_cold"]
        if row["stroke"] == "cool":
            assert row["work"] == 0.0 and row["Q_hot"] == 0.0
            assert row["Q_cold"] == pytest.approx(dE, abs=BOOKING_TOL)
        elif row["stroke"] == "expand":
            assert row["Q_hot"] == 0.0 and row["Q_cold"] == 0.0
            assert row["work"] == pytest.approx(dE, abs=BOOKING_TOL)
        else:
            assert row["Q_cold"] == 0.0
            assert row["work"] + heat == pytest.approx(dE, abs=BOOKING_TOL)
            assert row["work"] != 0.0 and row["Q_hot"] != 0.0
    assert result.work == pytest.approx(sum(r["work"] for r in rows), abs=BOOKING_TOL)
    assert result.heat["hot"] == pytest.approx(sum(r["Q_hot"] for r in rows), abs=BOOKING_TOL)
    assert result.heat["cold"] == pytest.approx(sum(r["Q_cold"] for r in rows), abs=BOOKING_TOL)
    assert result.period == 2.0 + 5.0 + 1.5
    assert result.entropy_per_cycle >= 0


def test_thermalize_and_drive_against_qutip():
    """The first two strokes of an Otto cycle, propagated from the limit-cycle state with QuTiP.

    Compress: H(t) = (w(t)/2) sigma_z + (delta/2) sigma_x with w linear from 1 to 2 in tau = 1.5
    (qutip.mesolve without jumps), W = Tr[H_end rho_out] - Tr[H_start rho_in]. Hot thermalisation for
    tau = 0.8: Davies jumps of H_h with sigma_x coupling, sqrt(kappa (1 + n)) |<g|sx|e>| |g><e| and
    sqrt(kappa n) |e><g| (flat spectrum, no dephasing), Q = Tr[H_h (rho_out - rho_in)].
    """
    kappa, T_h = 0.6, 3.0
    hot, cold = BosonicBath("hot", T_h, kappa, "sigma_x"), BosonicBath("cold", 0.5, 0.3, "sigma_x")
    result = otto(
        Qubit(1.0, DELTA),
        hot,
        cold,
        low=1.0,
        high=2.0,
        tau_hot=0.8,
        tau_cold=1.0,
        tau_compress=1.5,
        tau_expand=0.7,
    ).limit_cycle()
    opts = {"atol": 1e-12, "rtol": 1e-12, "nsteps": 10**6}
    rho0 = result.rho
    H_t = [0.5 * DELTA * qutip.sigmax(), [0.5 * qutip.sigmaz(), lambda t: 1.0 + t / 1.5]]
    rho1 = qutip.mesolve(H_t, qutip.Qobj(rho0), [0.0, 1.5], options=opts).states[-1].full()
    H_c, H_h = _qubit_h(1.0), _qubit_h(2.0)
    compress, heat = result.strokes[0], result.strokes[1]
    W = np.real(np.trace(H_h @ rho1) - np.trace(H_c @ rho0))
    assert compress["work"] == pytest.approx(W, abs=QUTIP_TOL)
    assert compress["Q_hot"] == 0.0 and compress["Q_cold"] == 0.0

    E, V = np.linalg.eigh(H_h)
    g, e = V[:, 0], V[:, 1]
    n = 1.0 / math.expm1((E[1] - E[0]) / T_h)
    A = abs(g.conj() @ np.array([[0, 1], [1, 0]]) @ e)
    c_ops = [
        qutip.Qobj(math.sqrt(kappa * (1 + n)) * A * np.outer(g, e.conj())),
        qutip.Qobj(math.sqrt(kappa * n) * A * np.outer(e, g.conj())),
    ]
    rho2 = qutip.mesolve(qutip.Qobj(H_h), qutip.Qobj(rho1), [0.0, 0.8], c_ops, options=opts).states[-1].full()
    assert heat["Q_hot"] == pytest.approx(np.real(np.trace(H_h @ (rho2 - rho1))), abs=QUTIP_TOL)
    assert heat["work"] == 0.0
    assert heat["energy"] == pytest.approx(np.real(np.trace(H_h @ rho2)), abs=QUTIP_TOL)
    assert heat["entropy"] == pytest.approx(systems.entropy(rho2), abs=QUTIP_TOL)


# ------------------------------------------------------------------------------ quasi-static limit
A_ISO, B_ISO, STEPS = 1.0, 3.0, 64


def _isotherm_cycle(duration):
    """equilibrate (full, separate reservoir at the same T) -> isotherm a -> b -> sudden reset b -> a.

    Two reservoir objects at the same temperature keep the isotherm's heat apart from the
    re-equilibration's in `Cycle.sweep`'s Q columns.
    """
    bath = BosonicBath("bath", T_ISO, 0.5, "sigma_x")
    reset = BosonicBath("reservoir", T_ISO, 0.5, "sigma_x")
    a, b = {"omega": A_ISO}, {"omega": B_ISO}
    return Cycle(
        Qubit(A_ISO, DELTA),
        [
            Thermalize(reset, math.inf, a, name="equilibrate"),
            Isotherm(bath, a, b, duration, STEPS, name="isotherm"),
            Unitary(b, a, 0.0, name="reset"),
        ],
    )


def _relaxed_isotherm():
    """W and Q of the n-step isotherm when every step relaxes to the Gibbs state of its Hamiltonian.

    Step k quenches H_{k-1} -> H_k (W += Tr[(H_k - H_{k-1}) pi_{k-1}]) and relaxes to pi_k
    (Q += Tr[H_k (pi_k - pi_{k-1})]); H_0 = H(a), pi_0 = pi(H(a)); a final quench H_n -> H(b).
    """
    ws = A_ISO + (np.arange(STEPS) + 0.5) / STEPS * (B_ISO - A_ISO)
    H_prev = _qubit_h(A_ISO)
    rho = systems.gibbs(H_prev, T_ISO)
    W = Q = 0.0
    for w in ws:
        H = _qubit_h(w)
        W += np.real(np.trace((H - H_prev) @ rho))
        new = systems.gibbs(H, T_ISO)
        Q += np.real(np.trace(H @ (new - rho)))
        rho, H_prev = new, H
    W += np.real(np.trace((_qubit_h(B_ISO) - H_prev) @ rho))
    return W, Q


def test_isotherm_converges_to_quasi_static_heat_and_work():
    """As the duration grows, Q -> T Delta S and W -> Delta F (to the O(1/n) of the n-step protocol).

    From the Gibbs state at a, |Q(tau) - Q_inf| decreases with tau, and for tau >> 1/Gamma every step
    relaxes fully: Q and W equal the n-step closed form of `_relaxed_isotherm`, which approaches the
    reversible values T [S(b) - S(a)] and F(b) - F(a) (Clausius equality; F = -T ln Z) as 1/n.
    A slower isotherm absorbs more heat and needs less work: Q < T Delta S, W > Delta F.
    """
    taus = np.array([0.3, 1.0, 3.0, 10.0, 30.0, 1e4])
    table = _isotherm_cycle(1.0).sweep({"isotherm": taus}).to_frame()
    W_inf, Q_inf = _relaxed_isotherm()
    Q = table["Q_bath"].to_numpy()
    assert np.all(np.diff(np.abs(Q - Q_inf)) < 0)
    assert Q[-1] == pytest.approx(Q_inf, rel=RELAXED_RTOL)

    result = _isotherm_cycle(1e4).limit_cycle()
    row = {r["stroke"]: r for r in result.strokes}["isotherm"]
    assert row["Q_bath"] == pytest.approx(Q_inf, rel=RELAXED_RTOL)
    assert row["work"] == pytest.approx(W_inf, rel=RELAXED_RTOL)
    H_a, H_b = _qubit_h(A_ISO), _qubit_h(B_ISO)
    dS = systems.entropy(systems.gibbs(H_b, T_ISO)) - systems.entropy(systems.gibbs(H_a, T_ISO))
    dF = _free_energy(H_b, T_ISO) - _free_energy(H_a, T_ISO)
    assert row["Q_bath"] == pytest.approx(T_ISO * dS, rel=QUASI_STATIC_RTOL)
    assert row["work"] == pytest.approx(dF, rel=QUASI_STATIC_RTOL)
    assert row["Q_bath"] < T_ISO * dS and row["work"] > dF


# ------------------------------------------------------------------------------------- bad input
def _qubit():
    return Qubit(1.0)


def _hot(operator="sigma_x"):
    return BosonicBath("hot", 2.0, 0.5, operator)


def _cold():
    return BosonicBath("cold", 1.0, 0.5, "sigma_x")


def _closing(start, name="back"):
    """A sudden drive from `start` back to omega = 1 that closes a one-stroke cycle."""
    return Unitary(start, {"omega": 1.0}, 0.0, name=name)


BAD_INPUT = [
    pytest.param(
        lambda: Cycle(
            _qubit(),
            [
                Thermalize(_hot(), math.inf, {"omega": 1.0}, name="heat"),
                Unitary({"omega": 2.0}, {"omega": 1.0}, 0.0, name="expand"),
            ],
        ),
        ("'expand'", "start['omega']"),
        id="open-cycle",
    ),
    pytest.param(
        lambda: Thermalize(_hot(), -1.0, name="heat"), ("heat", "`duration`"), id="thermalize-negative"
    ),
    pytest.param(
        lambda: Unitary({}, {}, -0.5, name="compress"), ("compress", "`duration`"), id="drive-negative"
    ),
    pytest.param(
        lambda: Isotherm(_hot(), {}, {}, -2.0, name="hot isotherm"),
        ("hot isotherm", "`duration`"),
        id="isotherm-negative",
    ),
    pytest.param(
        lambda: otto(_qubit(), _hot(), _cold(), low=1.0, high=2.0).sweep({"hot": [1.0, -1.0]}),
        ("'hot'", "durations"),
        id="sweep-negative",
    ),
    pytest.param(
        lambda: otto(_qubit(), _hot(operator="a"), _cold(), low=1.0, high=2.0),
        ("'hot'", "operator", "'a'"),
        id="operator-not-on-medium",
    ),
    pytest.param(
        lambda: Cycle(
            Qubit(1.0, 0.5),
            [
                Unitary({"omega": 1.0}, {"omega": 2.0}, 1.0, schedule=lambda u: "fast", name="compress"),
                Thermalize(_hot(), 1.0, {"omega": 2.0}, name="heat"),
                _closing({"omega": 2.0}),
            ],
        ).limit_cycle(),
        ("'compress'", "`schedule`", "'fast'"),
        id="drive-schedule-returns-string",
    ),
    pytest.param(
        lambda: Cycle(
            _qubit(),
            [
                Isotherm(_hot(), {"omega": 1.0}, {"omega": 2.0}, 1.0, schedule=lambda u: "slow", name="iso"),
                _closing({"omega": 2.0}),
            ],
        ).limit_cycle(),
        ("'iso'", "`schedule`", "'slow'"),
        id="isotherm-schedule-returns-string",
    ),
    pytest.param(
        lambda: Cycle(
            _qubit(),
            [
                Isotherm(_hot(), {"omega": 1.0}, {"omega": 2.0}, 5.0, steps=2, tol=1e-8, name="iso"),
                _closing({"omega": 2.0}),
            ],
        ).limit_cycle(),
        ("'iso'", "`steps`", "tol=1e-08"),
        id="isotherm-too-few-steps-for-tol",
    ),
    pytest.param(
        lambda: Cycle(
            _qubit(),
            [
                Unitary({"frequency": 1.0}, {"frequency": 2.0}, 0.0, name="compress"),
                Unitary({"frequency": 2.0}, {"frequency": 1.0}, 0.0, name="expand"),
            ],
        ),
        ("'compress'", "controls", "frequency"),
        id="unknown-control-drive",
    ),
    pytest.param(
        lambda: Cycle(_qubit(), [Thermalize(_hot(), 1.0, {"freq": 1.0}, name="heat")]),
        ("'heat'", "controls", "freq"),
        id="unknown-control-thermalize",
    ),
]


@pytest.mark.parametrize(("build", "words"), BAD_INPUT)
def test_bad_input_names_stroke_and_field(build, words):
    """Bad strokes raise WorkbenchError whose message names the stroke and the field."""
    with pytest.raises((WorkbenchError, UserCodeError)) as info:  # a bad schedule is user code
        build()
    for word in words:
        assert word in str(info.value)


def test_isotherm_with_enough_steps_meets_its_tol():
    """The accuracy check passes when doubling the steps moves work and heat by less than `tol`."""
    cycle = Cycle(
        _qubit(),
        [
            Isotherm(_hot(), {"omega": 1.0}, {"omega": 2.0}, 5.0, steps=64, tol=1e-2, name="iso"),
            _closing({"omega": 2.0}),
        ],
    )
    result = cycle.limit_cycle()
    assert abs(result.work + sum(result.heat.values())) <= BOOKING_TOL


@pytest.mark.parametrize(
    "schedule",
    [
        pytest.param(lambda u: 1 / 0, id="raises"),
        pytest.param(lambda u: "fast", id="returns-string"),
    ],
)
def test_failing_schedule_is_a_user_code_error(schedule):
    """A schedule that raises or returns garbage is a UserCodeError naming the stroke.

    engines/checks.py: "UserCodeError: A user-supplied callable (spectrum, Hamiltonian, schedule)
    failed or returned garbage" (the spectrum and Custom Hamiltonians follow this); it is not a
    WorkbenchError, so handlers for bad input do not swallow a bug in user code.
    """
    cycle = lambda: Cycle(  # noqa: E731
        _qubit(),
        [
            Isotherm(_hot(), {"omega": 1.0}, {"omega": 2.0}, 1.0, schedule=schedule, name="iso"),
            _closing({"omega": 2.0}),
        ],
    ).limit_cycle()
    with pytest.raises(UserCodeError, match="'iso'"):
        cycle()
