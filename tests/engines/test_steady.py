"""Facts about the steady-state solvers of `engines.steady` (reached through `Engine.steady_state`).

All solvers solve L rho = 0 with Tr rho = 1 for the same generator, so they must agree; the
populations-only ("pauli") solver must keep the coherences inside degenerate blocks (docs/physics.md,
populations-only reduction); a non-unique steady state must be reported, and resolved from an
initial state by the conserved quantities. Reference: H.-P. Breuer and F. Petruccione, The Theory of
Open Quantum Systems (OUP, 2002), sec. 3.3; H. Spohn, Rev. Mod. Phys. 52, 569 (1980) (uniqueness).
"""

from __future__ import annotations

import numpy as np
import pytest
import qutip
import scipy.linalg as la
import scipy.sparse as sp
import systems

from engines import (
    BosonicBath,
    Composite,
    Custom,
    Drive,
    Engine,
    Levels,
    Qubit,
    SpinChain,
    WorkbenchError,
)
from engines.linalg import SYLVESTER_BLOCK, triangular_sylvester, unvec, vec

#: These tests check numerics and laws that hold in every regime; the random and reference machines
#: are often outside their flavour's regime on purpose, so the regime warning is not theirs to report
#: (tests/engines/test_master_equations.py and test_audit.py check it).
pytestmark = pytest.mark.filterwarnings("ignore::engines.checks.ModelValidityWarning")


#: Two solvers of the same well-conditioned linear problem (entries of rho are O(1)).
SOLVER_TOL = 1e-9
#: Our NESS against QuTiP's on the same Liouvillian.
QUTIP_TOL = 1e-9
#: Dimensionless currents relative to their scale.
CURRENT_RTOL = 1e-8

SEED = 7
SOLVERS = ["pauli", "dense", "sparse", "iterative"]
FLIP_FLOP = [("sigma_plus", 0), ("sigma_minus", 1)]


def _density_matrix(rng, d):
    z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = z @ z.conj().T
    return rho / np.trace(rho)


def _random_machine(d, seed):
    """Random Hermitian H (non-degenerate with probability 1) between a hot flat and a cold ohmic bath."""
    rng = np.random.default_rng(seed)
    H = systems.random_hermitian(rng, d)
    baths = [
        BosonicBath("hot", 3.0, 0.2, systems.random_hermitian(rng, d)),
        BosonicBath("cold", 0.4, 0.1, systems.random_hermitian(rng, d), spectrum="ohmic", cutoff=5.0),
    ]
    return Engine(Custom(lambda: H), baths)


def _degenerate_xxz():
    """XXZ chain, n = 4, J = 1, Delta = 0.5, zero field: levels with 2- and 4-fold degeneracy.

    The hot bath couples through sigma_x on site 0, the cold one through sigma_y on site 3. With
    sigma_x on both ends the spin-flip parity P = prod_i sigma_x^i would commute with H and with every
    jump operator (a strong symmetry), so the NESS would not be unique (see
    `test_strong_symmetry_makes_the_steady_state_non_unique`); sigma_y anticommutes with P and
    removes it. U(1) magnetisation is broken by both baths.
    """
    chain = SpinChain(4, J=1.0, Delta=0.5, field=0.0)
    baths = [
        BosonicBath("hot", 2.0, 0.1, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.1, "sigma_y", site=3),
    ]
    return Engine(chain, baths)


def _assert_same_ness(a, b, tol=SOLVER_TOL):
    np.testing.assert_allclose(a.rho, b.rho, atol=tol)
    scale = max(abs(J) for J in a.heat_currents.values())
    for name, J in a.heat_currents.items():
        assert b.heat_currents[name] == pytest.approx(J, rel=CURRENT_RTOL, abs=CURRENT_RTOL * scale)


# ------------------------------------------------------------------------ solvers agree
@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(_random_machine(3, SEED), id="random-3-level"),
        pytest.param(_random_machine(4, SEED + 1), id="random-4-level"),
        pytest.param(_random_machine(5, SEED + 2), id="random-5-level"),
    ],
)
def test_solvers_agree_on_random_machines(engine):
    """pauli, dense, sparse and iterative give the same NESS and heat currents (non-degenerate H)."""
    states = {s: engine.steady_state(solver=s) for s in SOLVERS}
    for s in SOLVERS[1:]:
        _assert_same_ness(states["dense"], states[s])


def test_pauli_keeps_degenerate_block_coherences():
    """On the degenerate XXZ chain the block-secular 'pauli' solver equals the full dense solve.

    The degenerate blocks' coherences matter here: the NESS has coherences of ~0.09 between
    degenerate eigenstates in the engine's eigenbasis, and the rate equation on populations alone
    (W_kl = sum_a gamma_a(E_l - E_k) |<k|A_a|l>|^2 in that basis) misses the populations by ~0.05.
    So agreement with "dense" tests the coherent block equations, not just the rate equation.
    """
    engine = _degenerate_xxz()
    dense = engine.steady_state(solver="dense")
    for s in ("pauli", "sparse", "iterative"):
        _assert_same_ness(dense, engine.steady_state(solver=s))
    # the test is sensitive: populations alone give a different answer
    gen = engine.generator
    W = sum(c.R * np.abs(c.X) ** 2 for c in (channels[0] for channels in gen.davies.channels))
    np.fill_diagonal(W, 0.0)
    G = W - np.diag(W.sum(axis=0))
    G[0, :] = 1.0
    p_rate_equation = np.linalg.solve(G, np.eye(gen.dim)[0])
    rho_eigen = gen.from_medium_basis(dense.rho)
    assert np.max(np.abs(p_rate_equation - np.diag(rho_eigen).real)) > 1e-2
    assert np.max(np.abs(rho_eigen - np.diag(np.diag(rho_eigen)))) > 1e-2


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param(
            Engine(
                Composite([Qubit(2.0), Qubit(1.0)], [(0.3, FLIP_FLOP)]),
                [
                    BosonicBath("hot", 2.0, 0.1, "sigma_x", site=0),
                    BosonicBath("cold", 0.5, 0.1, "sigma_x", site=1),
                ],
                flavour="local",
            ),
            id="local-two-qubits",
        ),
        pytest.param(
            Engine(
                Levels([0.0, 1.0, 3.0]),
                [BosonicBath("hot", 5.0, 0.05, "pair_0_2"), BosonicBath("cold", 0.5, 0.05, "pair_0_1")],
                drive=Drive(levels=(1, 2), strength=0.03, detuning=0.01),
            ),
            id="driven-maser",
        ),
    ],
)
def test_full_space_solvers_agree_without_pauli(engine):
    """Local and driven generators: dense, sparse and iterative agree; 'pauli' refuses them."""
    dense = engine.steady_state(solver="dense")
    for s in ("sparse", "iterative"):
        _assert_same_ness(dense, engine.steady_state(solver=s))
    with pytest.raises(WorkbenchError, match="pauli"):
        engine.steady_state(solver="pauli")


# ------------------------------------------------------------------ non-unique steady states
def _dephased_qubit():
    """Qubit with a bath on sigma_z only (pure dephasing, rate gamma = 0.2).

    H = (w/2) sigma_z and A = sigma_z commute, so A has only the Bohr frequency 0 and
    L = -i[H, .] + gamma D[sigma_z]. Both projectors |k><k| commute with H and sigma_z: the populations
    are conserved (L^dag(|k><k|) = 0), while rho_01 decays as exp(-(i w + 2 gamma) t). The kernel is
    spanned by |0><0| and |1><1|, and the state reached from rho0 is diag(rho0).
    """
    engine = Engine(Qubit(1.0), [BosonicBath("b", 1.0, 0.3, "sigma_z", dephasing=0.2)])

    def expected(rho0):
        return np.diag(np.diag(rho0))

    return engine, expected


def _uncoupled_qubits():
    """Two uncoupled qubits (w = 1, 1.7), one bath (T = 0.8) on sigma_x of the first.

    The projectors Pi_k = 1 x |k><k| of the second qubit commute with H and with every jump
    (sigma_-/+ x 1), so q_k = Tr[Pi_k rho] is conserved. The bath thermalises the first qubit, and
    coherences of the second oscillate at +-1.7 without decay (eigenvalues +-1.7 i, not 0). The
    kernel is {g x |0><0|, g x |1><1|}, g = exp(-h_1/T)/Z the first qubit's Gibbs state, and the
    state reached from rho0 is g x diag(q_0, q_1) with q_k the second qubit's reduced populations.
    """
    T = 0.8
    medium = Composite([Qubit(1.0), Qubit(1.7)])
    engine = Engine(medium, [BosonicBath("b", T, 0.3, "sigma_x", site=0)])
    h1 = Qubit(1.0).hamiltonian()
    gibbs = la.expm(-h1 / T)
    gibbs /= np.trace(gibbs)

    def expected(rho0):
        q = np.einsum("ajak->jk", rho0.reshape(2, 2, 2, 2))  # reduced state of the second qubit
        return np.kron(gibbs, np.diag(np.diag(q)))

    return engine, expected


NON_UNIQUE = [
    pytest.param(_dephased_qubit, id="dephasing-only-qubit"),
    pytest.param(_uncoupled_qubits, id="uncoupled-qubits"),
]


@pytest.mark.parametrize("solver", ["auto", *SOLVERS])
@pytest.mark.parametrize("model", NON_UNIQUE)
def test_non_unique_steady_state_needs_an_initial_state(model, solver):
    """Without `initial` a degenerate kernel raises; with it the state fixed by the conservation laws.

    With conserved quantities Q_i (left zero modes, Tr[Q_i L(rho)] = 0) the long-time state is the
    spectral projection of rho0 onto the kernel: the kernel element with Tr[Q_i rho] = Tr[Q_i rho0]
    (Baumgartner & Narnhofer, J. Phys. A 41, 395303 (2008)). The expected states are derived in the
    models' docstrings.
    """
    engine, expected = model()
    rho0 = _density_matrix(np.random.default_rng(SEED), engine.medium.dim)
    with pytest.raises(WorkbenchError, match="not unique"):
        engine.steady_state(solver=solver)
    ness = engine.steady_state(solver=solver, initial=rho0)
    np.testing.assert_allclose(ness.rho, expected(rho0), atol=SOLVER_TOL)


def test_strong_symmetry_makes_the_steady_state_non_unique():
    """XXZ chain (n = 3) at zero field, sigma_x baths at both ends: the parity P = prod sigma_x is conserved.

    P commutes with H (spin flip) and with sigma_x on any site, hence with every Davies jump
    A(w) = sum P_e A P_e' (B. Buca and T. Prosen, NJP 14, 073007 (2012): a strong symmetry). The NESS
    splits into the two parity sectors and <P> is fixed by the initial state; the state found from
    rho0 must be stationary and keep <P> = Tr[P rho0].
    """
    chain = SpinChain(3, J=1.0, Delta=0.5, field=0.0)
    baths = [
        BosonicBath("hot", 2.0, 0.1, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.1, "sigma_x", site=2),
    ]
    engine = Engine(chain, baths)
    parity = np.eye(1)
    for _ in range(3):
        parity = np.kron(parity, np.array([[0.0, 1.0], [1.0, 0.0]]))
    rho0 = _density_matrix(np.random.default_rng(SEED), chain.dim)
    for solver in ("pauli", "dense"):
        with pytest.raises(WorkbenchError, match="not unique"):
            engine.steady_state(solver=solver)
        ness = engine.steady_state(solver=solver, initial=rho0)
        assert np.trace(parity @ ness.rho).real == pytest.approx(np.trace(parity @ rho0).real, abs=SOLVER_TOL)
        gen = engine.generator
        L = gen.superoperator()
        residual = unvec(L @ vec(gen.from_medium_basis(ness.rho)), chain.dim)
        assert np.abs(residual).max() < SOLVER_TOL


# ------------------------------------------------------------------------------------ QuTiP
def _qutip_cases():
    rng = np.random.default_rng(SEED + 10)
    H = systems.random_hermitian(rng, 3)
    generic = Engine(
        Custom(lambda: H),
        [
            BosonicBath("hot", 2.0, 0.3, systems.random_hermitian(rng, 3)),
            BosonicBath("cold", 0.3, 0.2, systems.random_hermitian(rng, 3)),
        ],
    )
    maser = Engine(
        Levels([0.0, 1.0, 2.6]),
        [BosonicBath("hot", 4.0, 0.05, "pair_0_2"), BosonicBath("cold", 0.4, 0.08, "pair_0_1")],
        drive=Drive(levels=(1, 2), strength=0.04, detuning=0.01),
    )
    local = Engine(
        Levels([0.0, 1.0, 2.6]),
        [
            BosonicBath("hot", 4.0, 0.05, "pair_0_2"),
            BosonicBath("cold", 0.4, 0.08, "pair_0_1", spectrum="ohmic"),
        ],
        flavour="local",
    )
    return [
        pytest.param(generic, id="random-3-level-global"),
        pytest.param(maser, id="driven-3-level"),
        pytest.param(local, id="3-level-local"),
    ]


@pytest.mark.parametrize("engine", _qutip_cases())
def test_ness_equals_qutip_steadystate(engine):
    """Our NESS equals qutip.steadystate of the same Liouvillian (QuTiP 5, method 'direct').

    The Liouvillian is handed to QuTiP in the medium basis: H (rotating frame if driven) and the jump
    operators V J V^dag with V the generator's eigenvectors.
    """
    gen = engine.generator
    V = np.eye(gen.dim) if gen.basis is None else gen.basis
    H = V @ gen.hamiltonian.toarray() @ V.conj().T
    c_ops = [qutip.Qobj(V @ J.toarray() @ V.conj().T) for D in gen.dissipators for J in D.jumps]
    expected = qutip.steadystate(qutip.liouvillian(qutip.Qobj(H), c_ops)).full()
    for solver in ("auto", "dense", "sparse"):
        np.testing.assert_allclose(engine.steady_state(solver=solver).rho, expected, atol=QUTIP_TOL)


# ------------------------------------------------------------------------------ results as values
def test_steady_state_is_a_frozen_value_with_json_dict_and_series():
    """Mappings are read-only, to_dict survives json, to_series lines designs up side by side."""
    import json
    import pickle
    from collections.abc import Mapping

    import pandas as pd

    from engines import FermionicLead

    dot = Engine(
        Levels([0.0, 1.0]),
        [FermionicLead("l", 1.0, 0.5, 0.1, "jump_0_1"), FermionicLead("r", 0.3, -0.5, 0.1, "jump_0_1")],
    )
    maser = Engine(
        Levels([0.0, 1.0, 3.0]),
        [BosonicBath("hot", 10.0, 0.01, "pair_0_2"), BosonicBath("cold", 0.5, 0.01, "pair_0_1")],
        drive=Drive(levels=(1, 2), strength=0.05),
    )
    results = {"dot": dot.steady_state(), "maser": maser.steady_state()}
    for ness in results.values():
        for name in ("heat_currents", "particle_currents", "temperatures"):
            assert isinstance(getattr(ness, name), Mapping)
            with pytest.raises(TypeError):
                getattr(ness, name)["x"] = 1.0
        assert json.loads(json.dumps(ness.to_dict()))["mode"] == ness.mode
        with pytest.raises(ValueError, match="read-only"):
            ness.rho[0, 0] = 1.0
        # results travel (Dask workers, process pools): a pickled state keeps every figure
        back = pickle.loads(pickle.dumps(ness))
        assert back.to_dict() == ness.to_dict() and back.ledger_reason == ness.ledger_reason
    table = pd.concat({k: v.to_series() for k, v in results.items()}, axis=1)
    head = ["mode", "power", "efficiency", "cop", "carnot_efficiency", "entropy_production_rate"]
    tail = ["resolution", "residual", "solver", "flavour", "bookkeeping"]
    assert list(results["dot"].to_series().index) == [*head, "J_l", "J_r", "I_l", "I_r", *tail]
    assert table.loc["efficiency", "maser"] == pytest.approx(2 / 3, abs=1e-10)
    # particles are conserved: what enters from one lead leaves through the other
    assert table.loc["I_l", "dot"] == pytest.approx(-table.loc["I_r", "dot"], rel=1e-12)
    assert table.loc["mode", "maser"] == results["maser"].mode
    assert table.loc["J_hot", "maser"] == results["maser"].heat_currents["hot"]


@pytest.mark.parametrize(
    "medium",
    [
        pytest.param(SpinChain(4, 1.0, 0.5, field=1.0), id="xxz-chain"),
        pytest.param(SpinChain(3, 1.0, 1.0), id="heisenberg-degenerate"),
    ],
)
def test_secular_population_sector_is_invariant_and_holds_the_populations(medium):
    """The zero-frequency sector of a Davies generator (populations and coherences inside degenerate
    blocks) is mapped to itself by L (covariance) and holds every population; it contains the sector
    the block-structure search finds."""
    from engines.steady import _sectors, population_sector

    n = len(medium.site_dims)
    baths = [
        BosonicBath("hot", 2.0, 0.1, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.1, "sigma_x", site=n - 1),
    ]
    gen = Engine(medium, baths, "global").generator
    d = gen.dim
    index = population_sector(gen)
    L = sp.csr_array(gen.superoperator()).tocsc()
    outside = np.setdiff1d(np.arange(d * d), index)
    assert abs(L[outside][:, index]).max() <= 1e-14 * abs(L).max()
    assert set(np.arange(d) * (d + 1)) <= set(index.tolist())
    sec = _sectors(gen)
    generic = np.concatenate(
        [(sec.blocks[c][:, None] + d * sec.blocks[c2][None, :]).ravel() for c, c2 in sec.pairs]
    )
    assert set(generic.tolist()) <= set(index.tolist())


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param((5, 7), id="below-the-block"),
        pytest.param((3 * SYLVESTER_BLOCK + 5, 2 * SYLVESTER_BLOCK + 1), id="tall"),
        pytest.param((SYLVESTER_BLOCK + 3, 4 * SYLVESTER_BLOCK), id="wide"),
    ],
)
def test_recursive_triangular_sylvester_equals_lapack_trsyl(shape):
    """R1 X - X R2^dag = C by recursive blocking (Jonsson & Kagstrom, ACM TOMS 28, 392 (2002)) gives
    LAPACK's ztrsyl answer; the no-jump evolution's Schur forms are well separated (damped), so are
    these (spectra shifted by -5i and +5i)."""
    rng = np.random.default_rng(1234)
    m, n = shape

    def schur(k, shift):
        A = rng.standard_normal((k, k)) + 1j * rng.standard_normal((k, k))
        return la.schur(A + shift * np.eye(k), output="complex")[0]

    R1, R2 = schur(m, -5j), schur(n, 5j)
    C = rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))
    X = triangular_sylvester(R1, R2, C)
    trsyl = la.get_lapack_funcs("trsyl", (R1,))
    expected, scale, _ = trsyl(R1, R2, C, trana="N", tranb="C", isgn=-1)
    np.testing.assert_allclose(X, expected / scale, rtol=0, atol=1e-10 * np.abs(expected).max())
    np.testing.assert_allclose(R1 @ X - X @ R2.conj().T, C, rtol=0, atol=1e-10 * np.abs(C).max())


def test_blas_thread_policy_is_applied_and_restored():
    """`linalg.blas_threads(n)` limits every loaded BLAS to n threads inside and restores the counts."""
    from threadpoolctl import threadpool_info

    from engines.linalg import blas_threads

    def counts():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = counts()
    with blas_threads(1):
        assert set(counts()) <= {1}
    assert counts() == before
