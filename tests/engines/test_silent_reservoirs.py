"""A reservoir whose rates all vanish contributes nothing: no jumps, zero currents, the same NESS.

Three ways a reservoir falls silent (docs/physics.md, Sections 2 and 3):

* its coupling is 0 (kappa = 0: J(w) = 0 for every w);
* its operator commutes with H, so its only Bohr component is A(0) = A, and the flat spectrum has no
  zero-frequency rate unless `dephasing` is given (gamma(0) = 0): a projector ``proj_1`` on `Levels`,
  ``sigma_z`` on a `Qubit`;
* both at once.

Then D_a = 0, so L is the generator without reservoir a, its NESS is the NESS without it, and its
currents Tr[O_a rho] vanish exactly (O_a = D_a^dag(H) = 0). Where nothing else touches the medium
(a qubit with only a silent sigma_z bath) every diagonal state is stationary: the NESS is not unique
and the error must say so; from an initial state rho_0 the state reached is the time average of the
free evolution, the dephased state diag(rho_0) (H = (w/2) sigma_z is diagonal and non-degenerate).
Before the core refactor every solver but "pauli" crashed here with a NumPy shape error.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest

from engines import BosonicBath, Drive, Engine, Levels, Qubit, ThermodynamicsWarning, WorkbenchError
from engines.batch import Batch

#: Two solves of the same well-conditioned problem.
SOLVER_TOL = 1e-9

SOLVERS = ["pauli", "dense", "sparse", "iterative"]
FLAVOURS = ["global", "local"]


def _maser_baths():
    return [BosonicBath("hot", 5.0, 0.05, "pair_0_2"), BosonicBath("cold", 0.5, 0.05, "pair_0_1")]


def _cases():
    """(medium, active reservoirs, silent reservoir, drive)."""
    maser = Levels([0.0, 1.0, 3.0])
    hot, cold = _maser_baths()
    drive = Drive((1, 2), 0.05)
    return [
        pytest.param(maser, [hot], cold.replace(coupling=0.0), drive, id="driven-maser-cold-coupling-0"),
        pytest.param(maser, [hot, cold], BosonicBath("p", 1.0, 0.3, "proj_1"), None, id="maser-proj_1"),
        pytest.param(
            maser, [hot, cold], BosonicBath("p", 1.0, 0.3, "proj_1"), drive, id="driven-maser-proj_1"
        ),
        pytest.param(
            Qubit(1.0),
            [BosonicBath("x", 0.7, 0.1, "sigma_x")],
            BosonicBath("z", 2.0, 0.2, "sigma_z"),
            None,
            id="qubit-sigma_z",
        ),
        pytest.param(
            Qubit(1.0),
            [BosonicBath("x", 0.7, 0.1, "sigma_x")],
            BosonicBath("z", 2.0, 0.0, "sigma_x", spectrum="ohmic"),
            None,
            id="qubit-ohmic-coupling-0",
        ),
    ]


def _undetermined(expected: bool):
    """Expect the warning of an undetermined mode, or no warning at all."""
    if expected:
        return pytest.warns(ThermodynamicsWarning, match="undetermined")
    return contextlib.nullcontext()


def _solvers(flavour, driven=False):
    """The solvers that apply: "pauli" needs an undriven global (secular) generator."""
    return [s for s in SOLVERS if s != "pauli" or (flavour == "global" and not driven)]


def _solver_cases():
    return [
        pytest.param(*case.values, flavour, solver, id=f"{case.id}-{flavour}-{solver}")
        for case in _cases()
        for flavour in FLAVOURS
        for solver in _solvers(flavour, case.values[3] is not None)
    ]


@pytest.mark.parametrize(("medium", "active", "silent", "drive", "flavour", "solver"), _solver_cases())
def test_silent_reservoir_contributes_nothing(medium, active, silent, drive, flavour, solver):
    """With a silent reservoir the NESS is the NESS without it, and its heat current is exactly 0.

    A driven maser left with its hot bath only carries no current at all (nothing empties level 1, so
    the field moves no net population): with a work source and every current within resolution its
    mode is "undetermined", with a warning (docs/physics.md, Section 6).
    """
    with_silent = Engine(medium, [*active, silent], flavour=flavour, drive=drive)
    without = Engine(medium, active, flavour=flavour, drive=drive)
    (D,) = [D for D in with_silent.generator.dissipators if D.reservoir.name == silent.name]
    assert D.jumps == ()
    idle = drive is not None and len(active) == 1
    with _undetermined(idle):
        ness = with_silent.steady_state(solver=solver)
        reference = without.steady_state(solver="dense")
    if idle:
        assert ness.mode == "undetermined" and ness.power == 0.0
    assert ness.heat_currents[silent.name] == 0.0
    np.testing.assert_allclose(ness.rho, reference.rho, atol=SOLVER_TOL)
    for name, J in reference.heat_currents.items():
        assert ness.heat_currents[name] == pytest.approx(J, abs=SOLVER_TOL)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("medium", "active", "silent", "drive"), _cases())
def test_silent_reservoir_leaves_the_generator_unchanged(medium, active, silent, drive, flavour):
    """L with a silent reservoir equals L without it, entry by entry (D_a = 0)."""
    with_silent = Engine(medium, [*active, silent], flavour=flavour, drive=drive).generator
    without = Engine(medium, active, flavour=flavour, drive=drive).generator
    np.testing.assert_array_equal(with_silent.medium_superoperator(), without.medium_superoperator())


@pytest.mark.parametrize(
    ("flavour", "solver"), [pytest.param(f, s, id=f"{f}-{s}") for f in FLAVOURS for s in _solvers(f)]
)
def test_qubit_touched_only_by_a_silent_bath_has_no_unique_ness(flavour, solver):
    """A qubit whose only bath couples through sigma_z (no dephasing): every diagonal state is stationary.

    The solver must say the steady state is not unique, not crash; from rho_0 it returns diag(rho_0).
    """
    engine = Engine(Qubit(1.0), [BosonicBath("z", 2.0, 0.2, "sigma_z")], flavour=flavour)
    with pytest.raises(WorkbenchError, match=r"not unique"):
        engine.steady_state(solver=solver)
    rho0 = np.array([[0.3, 0.2 - 0.1j], [0.2 + 0.1j, 0.7]])
    ness = engine.steady_state(solver=solver, initial=rho0)
    np.testing.assert_allclose(ness.rho, np.diag(np.diag(rho0)), atol=SOLVER_TOL)
    assert ness.heat_currents["z"] == 0.0


def test_silent_reservoirs_in_a_batch():
    """Batch: a swept coupling of 0 and a silent proj_1 bath give zero currents and the engine's NESS."""
    hot, cold = _maser_baths()
    dephaser = BosonicBath("p", 1.0, 0.3, "proj_1")
    engine = Engine(Levels([0.0, 1.0, 3.0]), [hot, cold, dephaser], drive=Drive((1, 2), 0.05))
    points = [[0.0, 5.0], [0.05, 5.0], [0.0, 8.0]]
    with _undetermined(True):  # the points without a cold bath carry no current (see above)
        result = Batch(engine, ["cold.coupling", "hot.T"]).solve(points)
    assert list(result.mode) == ["undetermined", "engine", "undetermined"]
    for i, (kappa, T) in enumerate(points):
        point = engine.replace(reservoirs=[hot.replace(T=T), cold.replace(coupling=kappa), dephaser])
        with _undetermined(kappa == 0.0):
            ness = point.steady_state()
        assert result.heat[i, 2] == 0.0
        if kappa == 0.0:
            assert result.heat[i, 1] == 0.0
        np.testing.assert_allclose(result.states[i], ness.rho, atol=SOLVER_TOL)
        np.testing.assert_allclose(result.heat[i], list(ness.heat_currents.values()), atol=SOLVER_TOL)


def test_batch_reports_a_non_unique_ness():
    """A batch of qubits touched only by a silent bath: every point is refused as not unique."""
    engine = Engine(Qubit(1.0), [BosonicBath("z", 1.0, 0.2, "sigma_z")])
    with pytest.raises(WorkbenchError, match=r"no unique verified steady state"):
        Batch(engine, ["z.T"]).solve([[1.0], [2.0]])


def test_silent_bath_on_a_gibbs_qubit_keeps_the_gibbs_state():
    """Qubit with a sigma_x bath at T and a silent sigma_z bath: excited population 1 / (1 + e^{w/T})."""
    w, T = 1.3, 0.8
    engine = Engine(Qubit(w), [BosonicBath("x", T, 0.1, "sigma_x"), BosonicBath("z", 5.0, 1.0, "sigma_z")])
    for solver in SOLVERS:
        rho = engine.steady_state(solver=solver).rho
        assert rho[0, 0].real == pytest.approx(1.0 / (1.0 + math.exp(w / T)), abs=SOLVER_TOL)
