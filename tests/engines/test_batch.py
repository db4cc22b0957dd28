"""The batched NESS kernel (engines.batch) equals one-by-one solves, and rejects what it cannot do.

The reference is `Engine.steady_state(solver="dense")` on the same design with the point's values
filled in: scipy's LU of the full d^2 x d^2 generator built in Python from jump operators, an
independent path (the Pauli solver would share the sector kernel with the batch).
"""

import json

import numpy as np
import pytest

from engines import (
    BosonicBath,
    Composite,
    Custom,
    Drive,
    Engine,
    FermionicLead,
    Levels,
    ModelValidityWarning,
    Qubit,
    ThermodynamicsWarning,
    WorkbenchError,
)
from engines.batch import Batch

#: Batched vs one-by-one currents, relative to the largest current of the point.
BATCH_RTOL = 1e-9
SEED = 1234


def _maser(T_hot=10.0, eps=0.05, E2=3.0, detuning=0.0):
    return Engine(
        Levels([0.0, 1.0, E2]),
        [BosonicBath("hot", T_hot, 0.01, "pair_0_2"), BosonicBath("cold", 0.5, 0.02, "pair_0_1")],
        drive=Drive((1, 2), eps, detuning),
    )


def _qubit(omega=1.0, T_h=2.0, kappa=0.1):
    return Engine(
        Qubit(omega, 0.3),
        [
            BosonicBath("h", T_h, kappa, "sigma_x"),
            BosonicBath("c", 0.5, 0.2, "sigma_x", spectrum="ohmic", cutoff=5.0),
        ],
    )


def _dot(mu_left=0.5, eps=1.0):
    lead = lambda name, mu, T: FermionicLead(name, T, mu, 0.1, "jump_0_1")  # noqa: E731
    return Engine(Levels([0.0, eps]), [lead("left", mu_left, 1.0), lead("right", -0.5, 0.3)])


def _two_qubits(g=0.1):
    medium = Composite([Qubit(1.0), Qubit(1.3)], [(g, [("sigma_plus", 0), ("sigma_minus", 1)])])
    return Engine(
        medium,
        [BosonicBath("hot", 3.0, 0.05, "sigma_x", site=0), BosonicBath("cold", 0.4, 0.05, "sigma_x", site=1)],
    )


CASES = [
    pytest.param(
        _maser(),
        ["hot.T", "drive.strength"],
        [(1.0, 20.0), (1e-3, 0.2)],
        lambda v: _maser(T_hot=v[0], eps=v[1]),
        id="maser-T-eps",
    ),
    pytest.param(
        _maser(),
        ["E2", "drive.detuning"],
        [(2.0, 5.0), (-0.05, 0.05)],
        lambda v: _maser(E2=v[0], detuning=v[1]),
        id="maser-level-detuning",
    ),
    pytest.param(
        _qubit(),
        ["omega", "h.T", "h.coupling"],
        [(0.5, 2.0), (0.1, 5.0), (0.0, 0.3)],
        lambda v: _qubit(v[0], v[1], v[2]),
        id="qubit-omega-T-coupling",
    ),
    pytest.param(
        _dot(),
        ["left.mu", "E1"],
        [(-1.0, 2.0), (-0.5, 1.5)],
        lambda v: _dot(v[0], v[1]),
        id="quantum-dot-mu-level",
    ),
    pytest.param(_two_qubits(), ["g_0"], [(0.0, 0.3)], lambda v: _two_qubits(v[0]), id="two-qubits-coupling"),
]


@pytest.mark.parametrize(("template", "parameters", "ranges", "build"), CASES)
def test_batched_kernel_equals_one_by_one_solves(template, parameters, ranges, build):
    """Heat and particle currents, power, mode and NESS of every point equal Engine.steady_state."""
    rng = np.random.default_rng(SEED)
    values = np.column_stack([rng.uniform(lo, hi, 12) for lo, hi in ranges])
    result = Batch(template, parameters).solve(values)
    names = [r.name for r in template.reservoirs]
    for i, v in enumerate(values):
        ness = build(v).steady_state(solver="dense")
        expected = np.array([ness.heat_currents[n] for n in names])
        scale = max(np.max(np.abs(expected)), 1e-300)
        np.testing.assert_allclose(result.heat[i], expected, rtol=0, atol=BATCH_RTOL * scale)
        for j, n in enumerate(names):
            if n in ness.particle_currents:
                assert result.particles[i, j] == pytest.approx(
                    ness.particle_currents[n], abs=BATCH_RTOL * scale
                )
        assert result.mode[i] == ness.mode
        np.testing.assert_allclose(result.states[i], ness.rho, atol=1e-9)
        # both are within their resolutions of the exact currents
        assert np.all(np.abs(result.heat[i] - expected) <= result.resolution[i] + ness.resolution)
        assert result.residual[i] <= 1e-9 * max(1.0, result.resolution[i])


def test_batched_maser_efficiency_is_scovil_schulz_dubois():
    """Every engine-mode point of a maser sweep has eta = 1 - w_c/w_h (Scovil & Schulz-DuBois 1959)."""
    T = np.linspace(1.0, 30.0, 40)
    result = Batch(_maser(), ["hot.T"]).solve(T)
    engine = result.mode == "engine"
    assert engine.any() and (~engine).any()
    np.testing.assert_allclose(result.efficiency[engine], 1 - 1 / 3, rtol=1e-9)
    assert np.all(np.isnan(result.efficiency[~engine]))


def test_batch_frame_has_one_row_per_point():
    frame = Batch(_dot(), ["left.mu"]).solve(np.linspace(-1, 1, 5)).to_frame()
    assert len(frame) == 5
    assert {
        "left.mu",
        "power",
        "efficiency",
        "mode",
        "J_left",
        "I_left",
        "entropy_production_rate",
        "resolution",
    } <= set(frame)


@pytest.mark.parametrize(
    ("build", "parameters", "match"),
    [
        pytest.param(
            lambda: Engine(Qubit(1.0), [BosonicBath("h", 1.0, 0.1, "sigma_x")], "local"),
            ["omega"],
            "flavour",
            id="local-flavour",
        ),
        pytest.param(lambda: _qubit(), ["T"], "parameters", id="unknown-parameter"),
        pytest.param(
            lambda: Engine(Qubit(1.0), [BosonicBath("h", 1.0, 0.1, "sigma_x", spectrum=lambda w: w)]),
            ["h.T"],
            "callable",
            id="callable-spectrum",
        ),
    ],
)
def test_batch_rejects_what_the_kernel_cannot_do(build, parameters, match):
    with pytest.raises(WorkbenchError, match=match):
        Batch(build(), parameters)


def test_batch_rejects_non_affine_controls():
    """H(w) = diag(0, w^2) is not H_0 + w H_1: the batched path must refuse, not silently linearise."""
    medium = Custom(lambda w: np.diag([0.0, w**2]), {"w": 1.0}, operators={"x": np.array([[0, 1], [1, 0]])})
    engine = Engine(medium, [BosonicBath("h", 1.0, 0.1, "x")])
    with pytest.raises(WorkbenchError, match="affinely"):
        Batch(engine, ["w"])


@pytest.mark.parametrize(
    ("values", "match"),
    [
        pytest.param([[-1.0]], "h.T", id="negative-temperature"),
        pytest.param([[np.nan]], "finite", id="nan"),
        pytest.param([[1.0, 2.0]], "shape", id="wrong-shape"),
    ],
)
def test_batch_rejects_bad_values(values, match):
    with pytest.raises(WorkbenchError, match=match):
        Batch(_qubit(), ["h.T"]).solve(values)


def test_batch_reports_points_without_a_unique_steady_state():
    """Zero coupling to every bath leaves the populations free: the point is refused, never returned."""
    engine = Engine(Qubit(1.0), [BosonicBath("h", 1.0, 0.1, "sigma_x")])
    with pytest.raises(WorkbenchError, match="no unique verified steady state"):
        Batch(engine, ["h.coupling"]).solve([[0.1], [0.0]])


def test_batch_result_is_a_frozen_value_with_a_json_dict():
    """Arrays are read-only; to_dict is JSON-safe (NaN figures as None) and has one entry per point."""
    result = Batch(_maser(), ["hot.T"]).solve(np.linspace(1.0, 30.0, 7))
    for name in ("values", "heat", "power", "mode", "efficiency", "resolution", "states"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(result, name)[0] = 0
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["mode"]) == len(result) == 7
    assert all(e is None for e, m in zip(data["efficiency"], data["mode"]) if m != "engine")
    assert data["resolution"] == result.resolution.tolist()


def test_batch_values_are_not_frozen_in_place():
    """Freezing the result must not make the caller's array read-only."""
    values = np.linspace(1.0, 30.0, 5)
    Batch(_maser(), ["hot.T"]).solve(values)
    values[0] = 2.0


def test_batch_resolution_marks_unresolved_points_undetermined():
    """A maser sweep into bath coupling 1e6: the strongly coupled points are undetermined, with one warning,
    and report exact zeros; the weakly coupled ones are engines at 2/3 (Scovil & Schulz-DuBois 1959)."""
    template = Engine(
        Levels([0.0, 1.0, 3.0]),
        [BosonicBath("hot", 10.0, 0.01, "pair_0_2"), BosonicBath("cold", 0.5, 0.01, "pair_0_1")],
        drive=Drive((1, 2), 0.05),
    )
    kappa = np.array([0.01, 1e6])
    with (
        pytest.warns(ThermodynamicsWarning, match="undetermined.* for 1 of 2 points"),
        pytest.warns(ModelValidityWarning, match="outside its regime at 1 of 2 points"),  # kappa = 1e6
    ):
        result = Batch(template, ["hot.coupling", "cold.coupling"]).solve(np.column_stack([kappa, kappa]))
    assert list(result.mode) == ["engine", "undetermined"]
    assert result.efficiency[0] == pytest.approx(2 / 3, abs=1e-10)
    assert result.power[1] == 0.0 and np.all(result.heat[1] == 0.0)
    assert result.resolution[1] > 1e6 * result.resolution[0]


def _resonant_pair(g=0.01, kappa=0.02):
    """Resonant qubits with a flip-flop coupling: coupled Bohr frequencies 1 +- g, spacing 2g."""
    medium = Composite([Qubit(1.0), Qubit(1.0)], [(g, [("sigma_plus", 0), ("sigma_minus", 1)])])
    baths = [
        BosonicBath("hot", 2.0, kappa, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.02, "sigma_x", site=1),
    ]
    return Engine(medium, baths)


@pytest.mark.parametrize(
    ("parameter", "values", "build"),
    [
        pytest.param("g_0", np.geomspace(1e-4, 0.3, 9), _resonant_pair, id="hamiltonian-varies"),
        pytest.param(
            "hot.coupling", np.geomspace(1e-3, 1.0, 9), lambda v: _resonant_pair(0.05, v), id="fixed-basis"
        ),
    ],
)
def test_batch_warns_at_the_points_a_single_solve_warns(parameter, values, build):
    """The batched kernel applies the regime rule of `engines.validity` point by point: it warns for
    exactly the points where `validity` of the one-by-one engine says global is out of regime (rate >
    10 x the smallest coupled Bohr spacing), and names their number."""
    from engines import validity

    expected = [not validity(build(v)).global_valid for v in values]
    assert 0 < sum(expected) < len(values)  # the sweep crosses the boundary
    with pytest.warns(
        ModelValidityWarning, match=rf"outside its regime at {sum(expected)} of {len(values)} "
    ):
        Batch(build(values[0]), [parameter]).solve(values)
