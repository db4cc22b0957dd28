"""Media, reservoirs, drives and engines are immutable values, changed only through `replace`.

An `Engine` builds its generator once. If a part could be changed in place afterwards (``bath.T = 8``),
the engine would silently keep answering for the old physics. These tests check the three halves of
the fix: assignment raises (naming the class and `replace`), nothing a value holds can be changed in
place, and ``replace(**changes)`` returns a copy rebuilt (and re-checked) by the constructor whose
answer is the new physics while the original keeps the old one.

Physics references: the NESS of a system coupled to one thermal bath is its Gibbs state (Davies
generators obey detailed balance; H. Spohn, J. Math. Phys. 19, 1227 (1978)), so a qubit of splitting
w at temperature T has excited population 1 / (1 + exp(w / T)).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
import pickle
from collections.abc import Mapping

import numpy as np
import pytest
import scipy.sparse as sp

from engines import (
    BosonicBath,
    Composite,
    Custom,
    Drive,
    Engine,
    FermionicLead,
    HarmonicOscillator,
    Levels,
    Qubit,
    Spin,
    SpinChain,
    WorkbenchError,
)
from engines.values import Value

#: Steady states from a linear solve of a well-conditioned problem.
STATE_TOL = 1e-10

FLIP_FLOP = [("sigma_plus", 0), ("sigma_minus", 1)]


def _custom_h(a=1.0):
    return np.array([[0.0, 0.3], [0.3, a]])


def _values():
    """One of every immutable input, with the name of an attribute to try to set and a value for it."""
    sx = np.array([[0.0, 1.0], [1.0, 0.0]])
    qubit = Qubit(1.0)
    bath = BosonicBath("hot", 2.0, 0.1, "sigma_x")
    return [
        pytest.param(qubit, "dim", 3, id="Qubit"),
        pytest.param(Levels([0.0, 1.0, 3.0]), "dim", 4, id="Levels"),
        pytest.param(HarmonicOscillator(1.0, 5), "n_max", 50, id="HarmonicOscillator"),
        pytest.param(Spin(1.5, 1.0), "j", 2.5, id="Spin"),
        pytest.param(SpinChain(3, 1.0, 0.5), "n", 4, id="SpinChain"),
        pytest.param(Composite([Qubit(1.0), Qubit(2.0)], [(0.1, FLIP_FLOP)]), "dim", 8, id="Composite"),
        pytest.param(Custom(_custom_h, {"a": 1.0}, operators={"X": sx}), "dim", 3, id="Custom"),
        pytest.param(bath, "T", 8.0, id="BosonicBath"),
        pytest.param(BosonicBath("m", 1.0, 0.1, sx), "operator", np.eye(2), id="BosonicBath-matrix"),
        pytest.param(FermionicLead("lead", 1.0, 0.5, 0.1, "sigma_minus"), "mu", 0.0, id="FermionicLead"),
        pytest.param(Drive((0, 1), 0.1), "strength", 0.5, id="Drive"),
        pytest.param(Engine(qubit, [bath]), "reservoirs", (), id="Engine"),
    ]


def _qubit_engine(T=2.0, omega=1.0):
    return Engine(Qubit(omega), [BosonicBath("bath", T, 0.1, "sigma_x")])


def _excited_population(omega, T):
    """Gibbs weight of the upper level |0> of H = (omega/2) sigma_z."""
    return 1.0 / (1.0 + math.exp(omega / T))


# ----------------------------------------------------------------------------------- assignment
@pytest.mark.parametrize(("value", "attribute", "new"), _values())
def test_assignment_after_construction_raises_naming_the_class_and_replace(value, attribute, new):
    """Setting or deleting an attribute raises FrozenInstanceError (an AttributeError) and changes nothing."""
    before = getattr(value, attribute)
    names = [f.name for f in dataclasses.fields(value)] if isinstance(value, Drive) else value._arguments()
    how = rf"replace\({attribute}=" if attribute in names else r"replace\(\.\.\.\)` with any of"
    with pytest.raises(AttributeError, match=rf"^{type(value).__name__} is immutable.*{how}"):
        setattr(value, attribute, new)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(value, attribute)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.brand_new_attribute = 1.0
    assert getattr(value, attribute) is before


def _held(obj, seen=None):
    """Everything `obj` holds (its attributes, recursively through containers), except other values."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Mapping):
        items = obj.values()
    elif isinstance(obj, list | tuple | set):
        items = obj
    elif sp.issparse(obj):
        items = (obj.data, obj.indices, obj.indptr)
    else:
        items = [v for k, v in vars(obj).items() if k != "generator"] if hasattr(obj, "__dict__") else ()
    for item in items:
        yield item
        if not isinstance(item, Value | Drive | np.ndarray) and not callable(item):
            yield from _held(item, seen)


@pytest.mark.parametrize(("value", "attribute", "new"), _values())
def test_values_hold_only_read_only_arrays_and_immutable_containers(value, attribute, new):
    """Every array a value holds is read-only, every mapping a read-only view, every sequence a tuple.

    (The engine's cached generator is derived data and is not walked.)
    """
    if isinstance(value, SpinChain):
        value.hamiltonian_sparse()  # builds the cached bond sums
    for item in _held(value):
        assert not isinstance(item, list | dict | set), type(item)
        if isinstance(item, np.ndarray):
            assert not item.flags.writeable


def test_matrix_operator_is_copied_and_read_only():
    """A bath keeps its own read-only copy of a matrix operator: changing the caller's array does nothing."""
    sx = np.array([[0.0, 1.0], [1.0, 0.0]])
    bath = BosonicBath("b", 1.0, 0.1, sx)
    sx[0, 1] = 5.0
    np.testing.assert_array_equal(bath.operator, [[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="read-only"):
        bath.operator[0, 1] = 5.0


def test_engine_controls_are_a_read_only_mapping():
    """Engine.controls cannot be changed in place; the medium's `controls` is a fresh copy each time."""
    qubit = Qubit(1.0)
    engine = Engine(qubit, [BosonicBath("b", 1.0, 0.1, "sigma_x")], controls={"omega": 2.0})
    with pytest.raises(TypeError):
        engine.controls["omega"] = 3.0
    qubit.controls["omega"] = 5.0
    assert qubit.controls["omega"] == 1.0 and engine.controls["omega"] == 2.0


# -------------------------------------------------------------------------------------- replace
def _changed(values):
    """(value, changes) pairs: each class with a change of one of its constructor arguments."""
    return [
        pytest.param(Qubit(1.0, 0.2), {"omega": 2.0}, id="Qubit"),
        pytest.param(Levels([0.0, 1.0, 3.0]), {"energies": [0.0, 2.0, 3.0]}, id="Levels"),
        pytest.param(HarmonicOscillator(1.0, 5), {"n_max": 7}, id="HarmonicOscillator"),
        pytest.param(Spin(1.0, 1.0), {"j": 1.5}, id="Spin"),
        pytest.param(SpinChain(3, 1.0, 0.5), {"Delta": 1.0}, id="SpinChain"),
        pytest.param(
            Composite([Qubit(1.0), Qubit(2.0)], [(0.1, FLIP_FLOP)]), {"couplings": ()}, id="Composite"
        ),
        pytest.param(Custom(_custom_h, {"a": 1.0}), {"controls": {"a": 2.0}}, id="Custom"),
    ]


@pytest.mark.parametrize(("medium", "changes"), _changed(None))
def test_replaced_medium_is_the_constructed_one_and_the_original_is_unchanged(medium, changes):
    """m.replace(**c) has the Hamiltonian of a medium constructed with those arguments; m keeps its own."""
    before = medium.hamiltonian()
    changed = medium.replace(**changes)
    args = {**medium._arguments(), **changes}
    np.testing.assert_array_equal(changed.hamiltonian(), type(medium)(**args).hamiltonian())
    np.testing.assert_array_equal(medium.hamiltonian(), before)
    assert changed is not medium
    np.testing.assert_array_equal(medium.replace().hamiltonian(), before)


@pytest.mark.parametrize(("value", "attribute", "new"), _values())
def test_replace_accepts_exactly_the_constructor_arguments(value, attribute, new):
    """replace() knows the constructor's parameters and refuses any other name, listing the allowed ones."""
    if isinstance(value, Drive):
        names = [f.name for f in dataclasses.fields(Drive)]
    else:
        names = list(inspect.signature(type(value)).parameters)
        assert sorted(value._arguments()) == sorted(names)
    with pytest.raises(
        WorkbenchError, match=r"replace: `field` must be one of .*got 'no_such_field'"
    ) as info:
        value.replace(no_such_field=1.0)
    for n in names:
        assert repr(n) in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Qubit(1.0).replace(omega=math.nan), id="qubit-nan"),
        pytest.param(lambda: HarmonicOscillator(1.0, 5).replace(n_max=0), id="oscillator-n_max-0"),
        pytest.param(lambda: BosonicBath("b", 1.0, 0.1, "sigma_x").replace(T=-1.0), id="bath-negative-T"),
        pytest.param(
            lambda: BosonicBath("b", 1.0, 0.1, "sigma_x", spectrum="ohmic").replace(dephasing=0.1),
            id="ohmic-bath-dephasing",
        ),
        pytest.param(lambda: Drive((0, 1), 0.1).replace(levels=(1, 1)), id="drive-same-levels"),
        pytest.param(lambda: _qubit_engine().replace(flavour="quantum"), id="engine-flavour"),
        pytest.param(lambda: _qubit_engine().replace(controls={"omgea": 1.0}), id="engine-control"),
        pytest.param(lambda: _qubit_engine().replace(reservoirs=[]), id="engine-no-reservoirs"),
    ],
)
def test_replace_runs_the_constructor_checks_again(make):
    """A replaced value goes through its constructor, so bad changes are refused like bad input."""
    with pytest.raises(WorkbenchError):
        make()


def test_changed_bath_temperature_changes_the_answer_and_the_original_keeps_its_own():
    """engine.replace(reservoirs=[bath.replace(T=T2)]) is the Gibbs state at T2; the engine stays at T1.

    Before the fix ``bath.T = T2`` was accepted and the engine returned the T1 state from its cached
    generator; now the assignment raises and the changed copy carries the new physics.
    """
    omega, T1, T2 = 1.0, 0.5, 3.0
    engine = _qubit_engine(T1, omega)
    bath = engine.reservoirs[0]
    p1 = engine.steady_state().rho[0, 0].real
    with pytest.raises(AttributeError):
        bath.T = T2
    hotter = engine.replace(reservoirs=[bath.replace(T=T2)])
    assert hotter.steady_state().rho[0, 0].real == pytest.approx(
        _excited_population(omega, T2), abs=STATE_TOL
    )
    assert engine.steady_state().rho[0, 0].real == pytest.approx(
        _excited_population(omega, T1), abs=STATE_TOL
    )
    assert p1 == pytest.approx(_excited_population(omega, T1), abs=STATE_TOL)
    assert bath.T == T1 and engine.reservoirs[0] is bath


def test_changed_medium_and_controls_change_the_answer():
    """A new splitting through replace(medium=...) or replace(controls=...) gives that Gibbs state."""
    T = 1.0
    engine = _qubit_engine(T, 1.0)
    by_medium = engine.replace(medium=engine.medium.replace(omega=2.5))
    by_control = engine.replace(controls={"omega": 2.5})
    for e in (by_medium, by_control):
        assert e.steady_state().rho[0, 0].real == pytest.approx(_excited_population(2.5, T), abs=STATE_TOL)
    assert engine.steady_state().rho[0, 0].real == pytest.approx(_excited_population(1.0, T), abs=STATE_TOL)


def test_changed_drive_changes_the_maser_and_equals_a_fresh_engine():
    """A maser with drive.replace(strength=...) equals the maser constructed with that drive, and differs.

    Scovil-Schulz-DuBois maser: the efficiency is 1 - w_c/w_h whatever the strength (H. E. D. Scovil and
    E. O. Schulz-DuBois, PRL 2, 262 (1959)), the power is not.
    """
    levels = Levels([0.0, 1.0, 3.0])
    baths = [BosonicBath("hot", 10.0, 0.01, "pair_0_2"), BosonicBath("cold", 0.5, 0.01, "pair_0_1")]
    weak = Engine(levels, baths, drive=Drive((1, 2), 0.01))
    strong = weak.replace(drive=weak.drive.replace(strength=0.05))
    fresh = Engine(levels, baths, drive=Drive((1, 2), 0.05))
    a, b, c = weak.steady_state(), strong.steady_state(), fresh.steady_state()
    np.testing.assert_allclose(b.rho, c.rho, atol=STATE_TOL)
    assert abs(a.power - b.power) > 1e-4
    assert a.efficiency == pytest.approx(1 - 1.0 / 3.0) and b.efficiency == pytest.approx(1 - 1.0 / 3.0)
    assert weak.drive.strength == 0.01


def test_changed_flavour_and_options_through_replace():
    """replace(flavour=..., bookkeeping=..., options=...) builds the other generator with the new options."""
    chain = Composite([Qubit(1.0), Qubit(1.2)], [(0.05, FLIP_FLOP)])
    baths = [BosonicBath("h", 2.0, 0.1, "sigma_x", site=0), BosonicBath("c", 0.5, 0.1, "sigma_x", site=1)]
    engine = Engine(chain, baths)
    local = engine.replace(flavour="local", bookkeeping="full", options={"residual_tol": 1e-11})
    assert (local.flavour, local.generator.flavour, local.generator.bookkeeping) == ("local", "local", "full")
    assert local.options.residual_tol == 1e-11 and engine.options.residual_tol != 1e-11
    assert engine.generator.flavour == "global"


@pytest.mark.parametrize("flavour", ["global", "local"])
def test_the_cached_generator_cannot_be_changed_in_place(flavour):
    """The engine's cached generator holds read-only arrays (its Hamiltonians and eigenbasis)."""
    chain = Composite([Qubit(1.0), Qubit(1.2)], [(0.05, FLIP_FLOP)])
    baths = [BosonicBath("h", 2.0, 0.1, "sigma_x", site=0), BosonicBath("c", 0.5, 0.1, "sigma_x", site=1)]
    gen = Engine(chain, baths, flavour=flavour).generator
    arrays = [gen.hamiltonian.data, gen.reference.data, gen.hamiltonian.indices]
    if gen.basis is not None:
        arrays.append(gen.basis)
    for a in arrays:
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        gen.flavour = "local"


@pytest.mark.parametrize(("value", "attribute", "new"), _values())
def test_pickle_and_deepcopy_rebuild_an_equal_frozen_value(value, attribute, new):
    """pickle and copy.deepcopy go through the constructor: a frozen copy describing the same model."""
    for twin in (pickle.loads(pickle.dumps(value)), copy.deepcopy(value)):
        assert type(twin) is type(value) and twin is not value
        with pytest.raises(AttributeError):
            setattr(twin, attribute, new)
        if isinstance(value, Engine):
            np.testing.assert_array_equal(twin.steady_state().rho, value.steady_state().rho)
        elif isinstance(value, Drive):
            assert twin == value
        elif isinstance(value, BosonicBath | FermionicLead):
            w = np.array([-1.0, 0.5, 2.0])
            np.testing.assert_array_equal(twin.rate(w), value.rate(w))
            assert repr(twin) == repr(value)
        else:
            np.testing.assert_array_equal(twin.hamiltonian(), value.hamiltonian())
            assert twin.operator_names == value.operator_names
