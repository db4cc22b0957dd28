"""`Engine.to_qutip()` hands QuTiP the engine's model: (H, c_ops) whose steady state is the engine's.

QuTiP solves the same GKSL equation with its own solver (``qutip.steadystate``, LU of its own
Liouvillian), so agreement checks the hand-over: the frame (rotating frame when driven), the basis
(the medium's, not the eigenbasis the global flavour works in), the jump operators and the tensor
structure. The rotating-frame Hamiltonian of the driven maser is also rebuilt from QuTiP's basis
states: H_rot = -detuning |j><j| + epsilon (|i><j| + |j><i|) for the field on i <-> j, E_j > E_i
(docs/physics.md; H. E. D. Scovil and E. O. Schulz-DuBois, PRL 2, 262 (1959)).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import qutip

from engines import BosonicBath, Composite, Drive, Engine, Levels, Qubit, SpinChain

#: Two LU solves of the same well-conditioned problem (QuTiP's and ours).
QUTIP_TOL = 1e-9
#: The same superoperator assembled twice.
GEN_TOL = 1e-12

LPS = [("sigma_plus", 0), ("sigma_minus", 1), ("sigma_plus", 2)]


def _driven_maser():
    baths = [BosonicBath("hot", 10.0, 0.01, "pair_0_2"), BosonicBath("cold", 0.5, 0.01, "pair_0_1")]
    return Engine(Levels([0.0, 1.0, 3.0]), baths, drive=Drive((1, 2), strength=0.05, detuning=0.01))


def _local_two_qubit_chain():
    chain = SpinChain(2, J=0.1, Delta=0.5, field=1.0)
    baths = [
        BosonicBath("hot", 2.0, 0.05, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.05, "sigma_x", site=1, spectrum="ohmic", cutoff=5.0),
    ]
    return Engine(chain, baths, flavour="local")


def _global_refrigerator():
    """The three-qubit absorption refrigerator (Linden, Popescu & Skrzypczyk, PRL 105, 130401 (2010))."""
    medium = Composite([Qubit(1.0), Qubit(3.0), Qubit(2.0)], [(0.05, LPS)])
    baths = [
        BosonicBath("cold", 0.6, 0.02, "sigma_x", site=0),
        BosonicBath("hot", 3.0, 0.02, "sigma_x", site=1),
        BosonicBath("room", 1.0, 0.02, "sigma_x", site=2),
    ]
    return Engine(medium, baths)


ENGINES = [
    pytest.param(_driven_maser, id="driven-maser-global"),
    pytest.param(lambda: _driven_maser().replace(flavour="local"), id="driven-maser-local"),
    pytest.param(_local_two_qubit_chain, id="two-qubit-chain-local"),
    pytest.param(_global_refrigerator, id="lps-refrigerator-global"),
]


@pytest.mark.parametrize("make", ENGINES)
def test_qutip_steadystate_of_to_qutip_is_the_engines_ness(make):
    """qutip.steadystate(*engine.to_qutip()) equals engine.steady_state().rho (medium basis)."""
    engine = make()
    H, c_ops = engine.to_qutip()
    expected = qutip.steadystate(H, c_ops).full()
    np.testing.assert_allclose(engine.steady_state().rho, expected, atol=QUTIP_TOL)


@pytest.mark.parametrize("make", ENGINES)
def test_qutip_liouvillian_of_to_qutip_is_the_engines_generator(make):
    """qutip.liouvillian(H, c_ops) equals the engine's superoperator in the medium's basis."""
    engine = make()
    H, c_ops = engine.to_qutip()
    assert H.isherm
    dims = list(engine.medium.site_dims)
    assert H.dims == [dims, dims] and all(c.dims == [dims, dims] for c in c_ops)
    L = qutip.liouvillian(H, c_ops).full()
    np.testing.assert_allclose(L, engine.generator.medium_superoperator(), atol=GEN_TOL)


def test_driven_hamiltonian_is_the_rotating_frame_one():
    """For the maser driven on 1 <-> 2 (E_2 > E_1): H = -detuning |2><2| + epsilon (|1><2| + |2><1|)."""
    engine = _driven_maser()
    H, _ = engine.to_qutip()
    b1, b2 = qutip.basis(3, 1), qutip.basis(3, 2)
    expected = -0.01 * b2 * b2.dag() + 0.05 * (b1 * b2.dag() + b2 * b1.dag())
    np.testing.assert_allclose(H.full(), expected.full(), atol=GEN_TOL)


def test_undriven_hamiltonian_is_the_mediums():
    """Without a drive the Hamiltonian handed to QuTiP is the medium's, in the medium's basis."""
    engine = _global_refrigerator()
    H, _ = engine.to_qutip()
    np.testing.assert_allclose(H.full(), engine.medium.hamiltonian(), atol=GEN_TOL)


def test_to_qutip_without_qutip_says_how_to_install_it(monkeypatch):
    """QuTiP is a test-only dependency: without it to_qutip raises ImportError naming the fix."""
    engine = _driven_maser()
    monkeypatch.setitem(sys.modules, "qutip", None)  # import qutip now raises ImportError
    with pytest.raises(ImportError, match=r"Engine.to_qutip needs QuTiP.*pip install qutip"):
        engine.to_qutip()
