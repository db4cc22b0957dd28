"""The cycles kernel (`cycles._kernels.limit_cycles`) against its NumPy twin (`Solver.run_numpy`).

Both book W, Q, and for fermionic leads the chemical work mu Delta N and the particles Delta N, with
Delta N = int Tr[N rho] dt from the same spectral data (the kernel) or the sector-wise propagator (the
twin); cases cover populations-only and full state spaces, leads, a SWAP and pure dephasing.
"""

import math

import numpy as np
import pytest

from cycles import Cycle, Isotherm, Thermalize, Unitary, otto, swap
from cycles.solve import Solver
from cycles.steps import compile_stroke
from engines import BosonicBath, Composite, FermionicLead, HarmonicOscillator, Levels, Qubit

#: Kernel against its twin: same arithmetic, different summation order.
KERNEL_TOL = 1e-12


def _ising_pair():
    medium = Composite([Qubit(1.0), Qubit(1.0)], [(0.7, [("sigma_x", 0), ("sigma_x", 1)])])
    hot = BosonicBath("hot", 4.0, 0.2, "sigma_x", site=0)
    cold = BosonicBath("cold", 0.5, 0.2, "sigma_x", site=1)
    lo, hi = {"omega_0": 1.0, "omega_1": 1.0}, {"omega_0": 2.0, "omega_1": 2.0}
    return Cycle(
        medium,
        [
            Unitary(lo, hi, 1.0, name="compress"),
            Thermalize(hot, 1.0, hi, name="hot"),
            Unitary(hi, lo, 0.5, name="expand"),
            Thermalize(cold, 2.0, lo, name="cold"),
        ],
    )


def _dot_otto():
    hot = FermionicLead("hot", 4.0, 3.0, 0.3, "jump_0_1")
    cold = FermionicLead("cold", 1.0, -0.5, 0.2, "jump_0_1")
    return otto(Levels([0.0, 1.0]), hot, cold, control="E1", low=1.0, high=5.0, tau_hot=1.0, tau_cold=2.0)


def _double_dot():
    """Two sites with hopping (coherent: all of vec(rho)), a lead on each, a time-ordered drive."""
    medium = Composite([Levels([0.0, 1.0]), Levels([0.0, 1.4])], [(0.4, [("jump_0_1", 0), ("jump_1_0", 1)])])
    hot = FermionicLead("hot", 3.0, 1.5, 0.3, "jump_0_1", site=0)
    cold = FermionicLead("cold", 0.6, -0.3, 0.5, "jump_0_1", site=1)
    lo, hi = {"E1_0": 1.0}, {"E1_0": 2.5}
    return Cycle(
        medium,
        [
            Unitary(lo, hi, 0.4, name="compress"),
            Thermalize(hot, 1.0, hi, name="hot"),
            Unitary(hi, lo, 0.0, name="expand"),
            Thermalize(cold, 1.5, lo, name="cold"),
        ],
    )


def _swap_engine():
    medium = Composite([Qubit(2.0), Qubit(1.0)], [(0.0, [("sigma_plus", 0), ("sigma_minus", 1)])])
    hot = BosonicBath("hot", 4.0, 0.2, "sigma_x", site=0)
    cold = BosonicBath("cold", 1.0, 0.3, "sigma_x", site=1)
    return swap(medium, hot, cold, omega_h=2.0, omega_c=1.0, coupling=0.3, tau_hot=1.0, tau_cold=2.0)


def _dephasing():
    base, kicked = {"omega": 1.0, "delta": 0.0}, {"omega": 1.0, "delta": 0.7}
    return Cycle(
        Qubit(1.0),
        [
            Thermalize(BosonicBath("hot", 2.0, 0.4, "sigma_x"), 1.0, base, name="hot"),
            Unitary(base, kicked, 0.0, name="on"),
            Unitary(kicked, kicked, 1.1, name="kick"),
            Unitary(kicked, base, 0.0, name="off"),
            Thermalize(BosonicBath("deph", 1.0, 0.1, "sigma_z", dephasing=0.3), 1.0, base, name="dephase"),
        ],
    )


CASES = [
    pytest.param(
        otto(
            Qubit(1.0),
            BosonicBath("h", 3.0, 0.2, "sigma_x"),
            BosonicBath("c", 0.5, 0.2, "sigma_x"),
            low=1.0,
            high=2.0,
            tau_hot=1.0,
            tau_cold=1.0,
        ),
        id="qubit-otto-populations",
    ),
    pytest.param(
        otto(
            Qubit(1.0, 0.4),
            BosonicBath("h", 3.0, 0.2, "sigma_x"),
            BosonicBath("c", 0.5, 0.2, "sigma_x"),
            low=1.0,
            high=2.0,
            tau_hot=1.0,
            tau_cold=math.inf,
            tau_compress=0.3,
            tau_expand=0.0,
        ),
        id="qubit-otto-friction",
    ),
    pytest.param(
        otto(
            HarmonicOscillator(1.0, 10),
            BosonicBath("h", 1.0, 0.2, "x"),
            BosonicBath("c", 0.3, 0.2, "x"),
            low=1.0,
            high=1.5,
            tau_hot=0.7,
            tau_cold=1.3,
        ),
        id="oscillator-otto",
    ),
    pytest.param(_ising_pair(), id="ising-pair-time-ordered-drives"),
    pytest.param(
        Cycle(
            Qubit(1.0),
            [
                Isotherm(BosonicBath("h", 2.0, 0.3, "sigma_x"), {"omega": 2.0}, {"omega": 1.0}, 3.0, steps=8),
                Unitary({"omega": 1.0}, {"omega": 0.5}, 0.0, name="down"),
                Isotherm(BosonicBath("c", 1.0, 0.3, "sigma_x"), {"omega": 0.5}, {"omega": 1.0}, 3.0, steps=8),
                Unitary({"omega": 1.0}, {"omega": 2.0}, 0.0),
            ],
        ),
        id="qubit-isotherms",
    ),
    pytest.param(_dot_otto(), id="dot-otto-leads-populations"),
    pytest.param(_double_dot(), id="double-dot-leads-coherent"),
    pytest.param(_swap_engine(), id="swap-engine"),
    pytest.param(_dephasing(), id="pure-dephasing"),
]


@pytest.mark.parametrize("cycle", CASES)
def test_limit_cycle_kernel_equals_numpy_twin(cycle):
    """Work, heat, fixed points and stroke-end states agree for several duration sets at once."""
    rng = np.random.default_rng(1234)
    durations = np.array([[s.duration] * 3 for s in cycle.strokes], dtype=float)
    for i, s in enumerate(cycle.strokes):
        if not isinstance(s, Unitary) and math.isfinite(s.duration):
            durations[i] = s.duration * rng.uniform(0.3, 3.0, 3)
    solver = Solver(
        cycle.medium.dim,
        [compile_stroke(s, cycle.medium, cycle.options) for s in cycle.strokes],
        cycle.options,
    )
    assert solver.kernel_tables(solver.compiled) is not None  # the kernel path runs
    kernel = solver.run(durations)
    twin = solver.run_numpy(solver.compiled, durations, True)
    for key in ("work", "heat", "chemical", "particles", "states", "x"):
        np.testing.assert_allclose(kernel[key], twin[key], rtol=0, atol=KERNEL_TOL, err_msg=key)


@pytest.mark.parametrize(
    "cycle", [pytest.param(_dot_otto(), id="dot"), pytest.param(_double_dot(), id="double-dot")]
)
def test_kernel_books_infinite_lead_strokes_like_the_twin(cycle):
    """t = inf: the projector, and Delta N from -1/lam over the decaying modes, in both paths."""
    solver = Solver(
        cycle.medium.dim,
        [compile_stroke(s, cycle.medium, cycle.options) for s in cycle.strokes],
        cycle.options,
    )
    durations = np.array([[s.duration] * 2 for s in cycle.strokes], dtype=float)
    for i, s in enumerate(cycle.strokes):
        if isinstance(s, Thermalize):
            durations[i] = [math.inf, 0.7]
    kernel = solver.run(durations)
    twin = solver.run_numpy(solver.compiled, durations, True)
    leads = [i for i, s in enumerate(cycle.strokes) if isinstance(s, Thermalize)]
    assert np.all(kernel["particles"][:, leads] != 0.0)
    for key in ("work", "heat", "chemical", "particles", "states", "x"):
        np.testing.assert_allclose(kernel[key], twin[key], rtol=0, atol=KERNEL_TOL, err_msg=key)
