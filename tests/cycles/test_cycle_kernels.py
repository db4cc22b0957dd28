"""The cycles kernel (`cycles._kernels.limit_cycles`) against its NumPy twin (`Solver.run_numpy`)."""

import math

import numpy as np
import pytest

from cycles import Cycle, Isotherm, Thermalize, Unitary, otto
from cycles.solve import Solver
from cycles.steps import compile_stroke
from engines import BosonicBath, Composite, HarmonicOscillator, Qubit

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
    for key in ("work", "heat", "states", "x"):
        np.testing.assert_allclose(kernel[key], twin[key], rtol=0, atol=KERNEL_TOL, err_msg=key)
