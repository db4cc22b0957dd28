"""Facts about the working media in `engines.media`.

Each test states one fact (a convention shared with QuTiP, a commutation relation, a closed-form
spectrum, a validation rule). Reference systems with closed forms are derived in the docstrings.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import qutip
from hypothesis import given, settings
from hypothesis import strategies as st

from engines import BosonicBath, Engine
from engines.checks import UserCodeError, WorkbenchError
from engines.media import (
    Composite,
    Custom,
    HarmonicOscillator,
    Levels,
    Medium,
    Qubit,
    Spin,
    SpinChain,
)

TOL = 1e-12

FLIP_FLOP = [("sigma_plus", 0), ("sigma_minus", 1)]
LPS = [("sigma_plus", 0), ("sigma_minus", 1), ("sigma_plus", 2)]


def _two_level_custom(a=1.0):
    return np.array([[0.0, 0.3], [0.3, a]])


def _all_media() -> list:
    return [
        pytest.param(Qubit(1.3, 0.4), id="qubit"),
        pytest.param(Levels([0.0, 2.0, 0.5, 3.1]), id="levels"),
        pytest.param(HarmonicOscillator(0.7, 8), id="oscillator"),
        pytest.param(Spin(1.5, 0.9), id="spin-3/2"),
        pytest.param(SpinChain(4, 1.0, 0.6, 0.3), id="spin-chain"),
        pytest.param(Composite([Qubit(1.0), Qubit(2.0), Qubit(3.0)], [(0.1, LPS)]), id="composite-lps"),
        pytest.param(
            Composite([Qubit(1.0), HarmonicOscillator(1.0, 4)], [(0.2, [("sigma_plus", 0), ("a", 1)])]),
            id="composite-jaynes-cummings",
        ),
        pytest.param(Custom(_two_level_custom, {"a": 1.0}), id="custom"),
    ]


def _kron(*ops):
    out = np.eye(1)
    for op in ops:
        out = np.kron(out, op)
    return out


# ----------------------------------------------------------------------------------- every medium
@pytest.mark.parametrize("medium", _all_media())
def test_hamiltonian_is_hermitian(medium: Medium):
    """H = H^dag for every medium at its default controls."""
    h = medium.hamiltonian()
    assert h.shape == (medium.dim, medium.dim)
    np.testing.assert_allclose(h, h.conj().T, atol=TOL)


@pytest.mark.parametrize("medium", _all_media())
def test_matrices_are_fresh_contiguous_complex128(medium: Medium):
    """Returned matrices are C-contiguous complex128 copies: mutating one does not change the medium."""
    h = medium.hamiltonian()
    assert h.dtype == np.complex128 and h.flags["C_CONTIGUOUS"]
    h[:] = 99.0
    assert not np.allclose(medium.hamiltonian(), h)
    op = medium.operator("identity", site=0)
    assert op.dtype == np.complex128 and op.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(op, np.eye(medium.dim), atol=TOL)


@pytest.mark.parametrize("medium", _all_media())
def test_bare_plus_interaction_is_hamiltonian(medium: Medium):
    """bare_hamiltonian = sum_s embed(local_hamiltonian(s)); single-site media have no interaction."""
    bare = sum(medium.embed(medium.local_hamiltonian(s), s) for s in range(len(medium.site_dims)))
    np.testing.assert_allclose(medium.bare_hamiltonian(), bare, atol=TOL)
    if len(medium.site_dims) == 1:
        np.testing.assert_allclose(medium.bare_hamiltonian(), medium.hamiltonian(), atol=TOL)
    assert math.prod(medium.site_dims) == medium.dim


@pytest.mark.parametrize("medium", _all_media())
def test_every_listed_operator_is_available(medium: Medium):
    """Every name in operator_names builds a (dim, dim) operator on some site."""
    for op_name in medium.operator_names:
        built = False
        for s in range(len(medium.site_dims)):
            try:
                op = medium.operator(op_name, site=s)
            except WorkbenchError:
                continue
            assert op.shape == (medium.dim, medium.dim)
            built = True
        assert built, op_name


@pytest.mark.parametrize("medium", _all_media())
def test_controls_are_a_copy(medium: Medium):
    """`controls` is a copy: editing it does not change the defaults."""
    c = medium.controls
    c["nonsense"] = 1.0
    assert "nonsense" not in medium.controls


# ---------------------------------------------------------------------------------------- qubit
@pytest.mark.parametrize(
    ("name", "reference"),
    [
        pytest.param("sigma_x", qutip.sigmax, id="sigma_x"),
        pytest.param("sigma_y", qutip.sigmay, id="sigma_y"),
        pytest.param("sigma_z", qutip.sigmaz, id="sigma_z"),
        pytest.param("sigma_plus", qutip.sigmap, id="sigma_plus"),
        pytest.param("sigma_minus", qutip.sigmam, id="sigma_minus"),
        pytest.param("identity", lambda: qutip.qeye(2), id="identity"),
    ],
)
def test_qubit_operators_equal_qutip(name, reference):
    """Qubit Pauli operators are QuTiP's: sigma_z = diag(1, -1), sigma_minus = [[0, 0], [1, 0]]."""
    np.testing.assert_allclose(Qubit(1.0).operator(name), reference().full(), atol=TOL)


def test_qubit_hamiltonian_convention():
    """H = (omega/2) sigma_z + (delta/2) sigma_x, with controls overriding the defaults."""
    h = Qubit(1.0, 0.2).hamiltonian(omega=2.5, delta=-0.4)
    expected = 1.25 * qutip.sigmaz() - 0.2 * qutip.sigmax()
    np.testing.assert_allclose(h, expected.full(), atol=TOL)


def test_qubit_upper_state_is_zero():
    """With omega > 0, |0> is the upper level: <0|H|0> = +omega/2."""
    h = Qubit(2.0).hamiltonian()
    assert h[0, 0].real == pytest.approx(1.0) and h[1, 1].real == pytest.approx(-1.0)


def test_single_site_accepts_site_zero_or_none():
    """For single-site media, operator(name) == operator(name, site=0)."""
    q = Qubit(1.0)
    np.testing.assert_array_equal(q.operator("sigma_x"), q.operator("sigma_x", site=0))
    np.testing.assert_array_equal(q.local_operator("sigma_x", 0), q.operator("sigma_x"))
    np.testing.assert_array_equal(q.local_hamiltonian(0), q.hamiltonian())


# --------------------------------------------------------------------------------------- levels
def test_levels_hamiltonian_is_diagonal_in_given_order():
    """H = diag(E0, ..., E{N-1}) in the order given; controls are E0, E1, ..."""
    lv = Levels([0.0, 3.0, 1.0])
    assert lv.controls == {"E0": 0.0, "E1": 3.0, "E2": 1.0}
    np.testing.assert_allclose(lv.hamiltonian(E1=5.0), np.diag([0.0, 5.0, 1.0]), atol=TOL)


def test_levels_named_operators():
    """jump_i_j = |i><j|, pair_i_j = |i><j| + |j><i|, proj_i = |i><i|."""
    lv = Levels([0.0, 1.0, 2.0])
    ket = np.eye(3)
    np.testing.assert_array_equal(lv.operator("jump_0_2"), np.outer(ket[0], ket[2]))
    np.testing.assert_array_equal(
        lv.operator("pair_2_1"), np.outer(ket[2], ket[1]) + np.outer(ket[1], ket[2])
    )
    np.testing.assert_array_equal(lv.operator("proj_1"), np.outer(ket[1], ket[1]))


def test_levels_operator_names_complete_for_small_n():
    """For N <= 6 operator_names lists identity, N projectors, N(N-1) jumps and N(N-1)/2 pairs."""
    names = Levels([0.0, 1.0, 2.0, 3.0]).operator_names
    assert len(names) == 1 + 4 + 12 + 6 and "jump_3_0" in names and "pair_0_3" in names


def test_levels_operators_parse_for_large_n():
    """For N > 6 any valid jump_i_j is still accepted, though not listed."""
    lv = Levels(list(range(12)))
    assert "jump_11_10" not in lv.operator_names
    assert lv.operator("jump_11_10")[11, 10] == 1.0


# ----------------------------------------------------------------------------------- oscillator
@pytest.mark.parametrize(
    ("name", "reference"),
    [
        pytest.param("a", qutip.destroy, id="a"),
        pytest.param("a_dag", qutip.create, id="a_dag"),
        pytest.param("n", qutip.num, id="n"),
        pytest.param("x", qutip.position, id="x"),
        pytest.param("p", qutip.momentum, id="p"),
        pytest.param("identity", qutip.qeye, id="identity"),
    ],
)
def test_oscillator_operators_equal_qutip(name, reference):
    """a = qutip.destroy, x = (a + a^dag)/sqrt 2, p = -i (a - a^dag)/sqrt 2 in Fock space 0..n_max."""
    np.testing.assert_allclose(HarmonicOscillator(1.0, 7).operator(name), reference(8).full(), atol=TOL)


def test_oscillator_has_no_zero_point_energy():
    """H = omega a^dag a: spectrum omega * (0, 1, ..., n_max), ground energy 0."""
    h = HarmonicOscillator(0.5, 4).hamiltonian(omega=2.0)
    np.testing.assert_allclose(np.diag(h).real, 2.0 * np.arange(5), atol=TOL)


def test_oscillator_canonical_commutator_away_from_edge():
    """[a, a^dag] = 1 on Fock states below n_max; the truncation edge gives -n_max."""
    osc = HarmonicOscillator(1.0, 6)
    a, ad = osc.operator("a"), osc.operator("a_dag")
    comm = a @ ad - ad @ a
    np.testing.assert_allclose(comm[:6, :6], np.eye(6), atol=TOL)
    assert comm[6, 6] == pytest.approx(-6.0)


def _thermal_fock(omega, temperature, n_max):
    p = np.exp(-omega * np.arange(n_max + 1) / temperature)
    return np.diag(p / p.sum())


def test_oscillator_check_state_rejects_hot_thermal_state():
    """At T = 5 omega a 10-level truncation leaves ~3 % in |10>: n_max is too small."""
    osc = HarmonicOscillator(1.0, 10)
    with pytest.raises(WorkbenchError, match=r"n_max=10 is too small.*larger n_max"):
        osc.check_state(_thermal_fock(1.0, 5.0, 10))


def _suggested(osc, rho) -> int:
    with pytest.raises(WorkbenchError) as info:
        osc.check_state(rho)
    return int(re.search(r"Use a larger n_max: n_max=(\d+)", str(info.value)).group(1))


@pytest.mark.parametrize(
    ("T", "tol"),
    [
        pytest.param(0.5, 1e-6, id="T=0.5"),
        pytest.param(2.0, 1e-6, id="T=2"),
        pytest.param(5.0, 1e-6, id="T=5"),
        pytest.param(20.0, 1e-6, id="T=20"),
        pytest.param(5.0, 1e-10, id="T=5-tol=1e-10"),
    ],
)
def test_following_the_truncation_suggestion_once_suffices(T, tol):
    """From n_max = 3, the suggested n_max holds a thermal state within tol, and is the smallest that does.

    The Gibbs state of the truncated oscillator, p_n = (1 - q) q^n / (1 - q^(N+1)) with q = exp(-omega/T),
    has its top level at most tol exactly when q^N (1 - q + tol q) <= tol. The old suggestion used the
    truncated state's mean occupation, which underestimates nbar, and took four runs (3 -> 24 -> 78 -> 156).
    """
    omega = 1.0
    start = HarmonicOscillator(omega, 3, truncation_tol=tol)
    n = _suggested(start, _thermal_fock(omega, T, 3))
    HarmonicOscillator(omega, n, truncation_tol=tol).check_state(_thermal_fock(omega, T, n))
    smaller = HarmonicOscillator(omega, n - 1, truncation_tol=tol)
    if n - 1 > 3:
        with pytest.raises(WorkbenchError, match="too small"):
            smaller.check_state(_thermal_fock(omega, T, n - 1))
    q = math.exp(-omega / T)
    assert n == math.ceil(math.log(tol / (1 - q + tol * q)) / math.log(q))


def test_truncation_suggestion_through_the_steady_state():
    """A hot bath on a small oscillator: the NESS check suggests an n_max whose NESS then passes.

    One thermal bath: the NESS is the truncated Gibbs state (detailed balance), so one step is enough.
    """
    bath = BosonicBath("hot", 4.0, 0.1, "x")
    with pytest.raises(WorkbenchError, match="too small") as info:
        Engine(HarmonicOscillator(1.0, 3), [bath]).steady_state()
    n = int(re.search(r"n_max=(\d+) \(", str(info.value)).group(1))
    Engine(HarmonicOscillator(1.0, n), [bath]).steady_state()


def test_oscillator_check_state_accepts_cold_thermal_state():
    """At T = 0.5 omega the top-level weight is ~e^-20 < 1e-6."""
    HarmonicOscillator(1.0, 10).check_state(_thermal_fock(1.0, 0.5, 10))


# ----------------------------------------------------------------------------------------- spin
@pytest.mark.parametrize("j", [0.5, 1, 1.5, 2], ids=["j=1/2", "j=1", "j=3/2", "j=2"])
@pytest.mark.parametrize(
    ("name", "which"),
    [("j_x", "x"), ("j_y", "y"), ("j_z", "z"), ("j_plus", "+"), ("j_minus", "-")],
    ids=["j_x", "j_y", "j_z", "j_plus", "j_minus"],
)
def test_spin_operators_equal_qutip_jmat(j, name, which):
    """Spin operators equal qutip.jmat(j, which) in the basis m = j, ..., -j."""
    np.testing.assert_allclose(Spin(j, 1.0).operator(name), qutip.jmat(j, which).full(), atol=TOL)


@pytest.mark.parametrize("j", [0.5, 1, 1.5, 2, 3.5], ids=["j=1/2", "j=1", "j=3/2", "j=2", "j=7/2"])
def test_spin_angular_momentum_algebra(j):
    """[J_x, J_y] = i J_z (and cyclic), J^2 = j(j+1) (Sakurai, Modern QM, eq. 3.1.20)."""
    s = Spin(j, 1.0)
    jx, jy, jz = (s.operator(k) for k in ("j_x", "j_y", "j_z"))
    np.testing.assert_allclose(jx @ jy - jy @ jx, 1j * jz, atol=TOL)
    np.testing.assert_allclose(jy @ jz - jz @ jy, 1j * jx, atol=TOL)
    np.testing.assert_allclose(jx @ jx + jy @ jy + jz @ jz, j * (j + 1) * np.eye(s.dim), atol=1e-10)


def test_spin_hamiltonian_is_omega_jz():
    """H = omega J_z, dim = 2j + 1."""
    s = Spin(1, 0.8)
    assert s.dim == 3
    np.testing.assert_allclose(s.hamiltonian(omega=2.0), 2.0 * qutip.jmat(1, "z").full(), atol=TOL)


# ----------------------------------------------------------------------------------- spin chain
def _qutip_xxz(n, J, Delta, field):
    """Open XXZ chain built independently from QuTiP tensor products of Pauli matrices."""

    def site_op(op, i):
        return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])

    sx, sy, sz = ([site_op(p, i) for i in range(n)] for p in (qutip.sigmax(), qutip.sigmay(), qutip.sigmaz()))
    h = sum(J * (sx[i] * sx[i + 1] + sy[i] * sy[i + 1] + Delta * sz[i] * sz[i + 1]) for i in range(n - 1))
    return (h + sum(0.5 * field * sz[i] for i in range(n))).full()


def test_spin_chain_equals_qutip_tensor_products():
    """H_XXZ for n = 3 equals the same sum of Pauli tensor products built with QuTiP."""
    chain = SpinChain(3, 0.7, 0.4, 0.3)
    np.testing.assert_allclose(chain.hamiltonian(), _qutip_xxz(3, 0.7, 0.4, 0.3), atol=TOL)
    np.testing.assert_allclose(
        chain.hamiltonian(J=-1.1, Delta=2.0, field=-0.5), _qutip_xxz(3, -1.1, 2.0, -0.5), atol=TOL
    )


def test_spin_chain_conserves_total_magnetisation():
    """[H_XXZ, sum_i sz_i] = 0: the XXZ chain conserves total S_z."""
    chain = SpinChain(5, 1.0, 0.3, 0.2)
    sz_total = sum(chain.operator("sigma_z", site=i) for i in range(5))
    h = chain.hamiltonian()
    np.testing.assert_allclose(h @ sz_total - sz_total @ h, 0.0, atol=TOL)


def test_spin_chain_sparse_equals_dense():
    """hamiltonian_sparse(**c).toarray() == hamiltonian(**c)."""
    chain = SpinChain(6, 1.0, 0.5, 0.1)
    sparse = chain.hamiltonian_sparse(Delta=-0.3, field=0.7)
    assert sparse.format == "csr"
    np.testing.assert_allclose(sparse.toarray(), chain.hamiltonian(Delta=-0.3, field=0.7), atol=TOL)


def test_spin_chain_site_operators_embed_leftmost_first():
    """operator(name, site=i) = kron(I_{2^i}, sigma, I_{2^(n-i-1)}) with site 0 leftmost."""
    chain = SpinChain(3, 1.0, 1.0)
    expected = _kron(np.eye(2), qutip.sigmam().full(), np.eye(2))
    np.testing.assert_allclose(chain.operator("sigma_minus", site=1), expected, atol=TOL)


def test_spin_chain_local_hamiltonian_is_field_term():
    """Local Hamiltonian of each site is (field/2) sigma_z; bond terms are the interaction."""
    chain = SpinChain(3, 1.0, 0.5, 0.4)
    np.testing.assert_allclose(chain.local_hamiltonian(2, field=1.0), np.diag([0.5, -0.5]), atol=TOL)
    np.testing.assert_allclose(
        chain.hamiltonian() - chain.bare_hamiltonian(), _qutip_xxz(3, 1.0, 0.5, 0.0), atol=TOL
    )


# ------------------------------------------------------------------------------------- composite
def test_composite_controls_are_renamed_per_site():
    """Site controls become {control}_{site}; coupling strengths g_k follow."""
    c = Composite([Qubit(1.0), Levels([0.0, 2.0])], [(0.1, [("sigma_x", 0), ("pair_0_1", 1)])])
    assert c.controls == {"omega_0": 1.0, "delta_0": 0.0, "E0_1": 0.0, "E1_1": 2.0, "g_0": 0.1}
    np.testing.assert_allclose(c.local_hamiltonian(0, omega_0=3.0), np.diag([1.5, -1.5]), atol=TOL)


def test_composite_flip_flop_equals_kron_formula():
    """H = (w0/2) sz x 1 + (w1/2) 1 x sz + g (s+ x s- + s- x s+)."""
    g, w0, w1 = 0.15, 1.0, 1.4
    c = Composite([Qubit(w0), Qubit(w1)], [(g, FLIP_FLOP)])
    sz, sp_, sm = (qutip.sigmaz().full(), qutip.sigmap().full(), qutip.sigmam().full())
    expected = 0.5 * w0 * _kron(sz, np.eye(2)) + 0.5 * w1 * _kron(np.eye(2), sz)
    expected = expected + g * (_kron(sp_, sm) + _kron(sm, sp_))
    np.testing.assert_allclose(c.hamiltonian(), expected, atol=TOL)


def test_resonant_flip_flop_spectrum():
    """Two resonant qubits with flip-flop coupling have spectrum {-omega, -g, +g, +omega}.

    In the basis |00>, |01>, |10>, |11> the bare energies are +omega, 0, 0, -omega (|0> is the upper
    level). The flip-flop term g (s+ s- + s- s+) only couples the degenerate pair |01>, |10> with
    matrix element g, splitting it into (|01> +- |10>)/sqrt 2 at +-g; |00> and |11> are untouched.
    """
    omega, g = 1.0, 0.2
    c = Composite([Qubit(omega), Qubit(omega)], [(g, FLIP_FLOP)])
    np.testing.assert_allclose(np.linalg.eigvalsh(c.hamiltonian()), [-omega, -g, g, omega], atol=TOL)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(c.hamiltonian(g_0=0.35, omega_0=2.0, omega_1=2.0)),
        [-2.0, -0.35, 0.35, 2.0],
        atol=TOL,
    )


def test_lps_three_body_coupling():
    """s+ s- s+ + h.c. = |010><101| + |101><010|: the LPS refrigerator coupling.

    N. Linden, S. Popescu, P. Skrzypczyk, Phys. Rev. Lett. 105, 130401 (2010). With |0> the upper
    level, s+ x s- x s+ maps |101> -> |010>, so the interaction is g (|010><101| + h.c.).
    """
    g = 0.05
    c = Composite([Qubit(1.0), Qubit(3.0), Qubit(2.0)], [(g, LPS)])
    ket = np.eye(8)
    expected = g * (np.outer(ket[0b010], ket[0b101]) + np.outer(ket[0b101], ket[0b010]))
    np.testing.assert_allclose(c.hamiltonian() - c.bare_hamiltonian(), expected, atol=TOL)


def test_hermitian_coupling_gets_no_conjugate():
    """A Hermitian product (sigma_x x sigma_x) is used as is, not doubled by '+ h.c.'."""
    c = Composite([Qubit(1.0), Qubit(1.0)], [(0.3, [("sigma_x", 0), ("sigma_x", 1)])])
    sx = qutip.sigmax().full()
    np.testing.assert_allclose(c.hamiltonian() - c.bare_hamiltonian(), 0.3 * _kron(sx, sx), atol=TOL)


def test_composite_operator_union_and_embedding():
    """operator_names is the union of site names; operator(name, site) embeds with identities."""
    c = Composite([Qubit(1.0), HarmonicOscillator(1.0, 3)])
    assert {"sigma_minus", "a", "identity"} <= set(c.operator_names)
    np.testing.assert_allclose(c.operator("a", site=1), _kron(np.eye(2), qutip.destroy(4).full()), atol=TOL)


def test_composite_check_state_delegates_to_sites():
    """A hot oscillator inside a composite is caught through its reduced state."""
    c = Composite([Qubit(1.0), HarmonicOscillator(1.0, 6)])
    qubit_ground = np.diag([0.0, 1.0])
    c.check_state(_kron(qubit_ground, _thermal_fock(1.0, 0.3, 6)))
    with pytest.raises(WorkbenchError, match=r"site 1.*n_max=6 is too small"):
        c.check_state(_kron(qubit_ground, _thermal_fock(1.0, 4.0, 6)))


@settings(max_examples=30, deadline=None, database=None)
@given(
    omegas=st.lists(st.floats(-5, 5), min_size=3, max_size=3),
    g0=st.floats(-2, 2),
    g1=st.floats(-2, 2),
)
def test_composite_hamiltonian_is_hermitian_and_linear_in_couplings(omegas, g0, g1):
    """For random controls H is Hermitian and H - H_bare = g_0 V_0 + g_1 V_1."""
    c = Composite([Qubit(1.0), Qubit(1.0), Qubit(1.0)], [(1.0, FLIP_FLOP), (1.0, LPS)])
    v0 = c.hamiltonian(g_1=0.0) - c.bare_hamiltonian()
    v1 = c.hamiltonian(g_0=0.0) - c.bare_hamiltonian()
    ctrl = {f"omega_{i}": w for i, w in enumerate(omegas)} | {"g_0": g0, "g_1": g1}
    h = c.hamiltonian(**ctrl)
    np.testing.assert_allclose(h, h.conj().T, atol=TOL)
    np.testing.assert_allclose(h - c.bare_hamiltonian(**ctrl), g0 * v0 + g1 * v1, atol=1e-10)


# ---------------------------------------------------------------------------------------- custom
def test_custom_wraps_user_function_and_operators():
    """Custom calls hamiltonian_fn(**controls); dim comes from the default call; identity is added."""
    sx = qutip.sigmax().full()
    c = Custom(_two_level_custom, {"a": 1.0}, operators={"X": sx})
    assert c.dim == 2 and set(c.operator_names) == {"X", "identity"}
    np.testing.assert_allclose(c.hamiltonian(a=4.0), _two_level_custom(4.0), atol=TOL)
    np.testing.assert_allclose(c.operator("X"), sx, atol=TOL)


def test_custom_accepts_qutip_objects():
    """A hamiltonian_fn returning a qutip.Qobj is accepted."""
    c = Custom(lambda w: 0.5 * w * qutip.sigmaz(), {"w": 2.0})
    np.testing.assert_allclose(c.hamiltonian(), np.diag([1.0, -1.0]), atol=TOL)


def test_raising_user_function_gives_user_code_error():
    """An exception inside hamiltonian_fn becomes UserCodeError naming the function, chained."""

    def broken(a):
        raise RuntimeError("boom")

    with pytest.raises(UserCodeError, match=r"broken.*boom") as info:
        Custom(broken, {"a": 1.0})
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: Custom(lambda: np.array([[0, 1], [0, 0]]), {}), id="non-hermitian"),
        pytest.param(lambda: Custom(lambda: np.zeros((2, 3)), {}), id="non-square"),
        pytest.param(lambda: Custom(lambda: np.diag([0.0, np.nan]), {}), id="non-finite"),
        pytest.param(
            lambda: Custom(lambda n: np.eye(int(n)), {"n": 2.0}).hamiltonian(n=3.0), id="dim-changes"
        ),
    ],
)
def test_user_function_returning_garbage_gives_user_code_error(make):
    """A hamiltonian_fn returning a non-Hermitian, non-square, non-finite or resized matrix: UserCodeError.

    The fault is in the user's code, not in the workbench's input, so it is not a WorkbenchError.
    """
    with pytest.raises(UserCodeError, match=r"^Custom: .*hamiltonian_fn") as info:
        make()
    assert not isinstance(info.value, WorkbenchError)


def test_raising_user_function_later_gives_user_code_error():
    """A failure at a later control value is also wrapped, with the controls in the message."""
    c = Custom(lambda a: np.diag([0.0, 1.0 / a]), {"a": 1.0})
    with pytest.raises(UserCodeError, match=r"ZeroDivisionError.*'a': 0.0"):
        c.hamiltonian(a=0)


# ------------------------------------------------------------------------------------ bad inputs
def _anti_hermitian_custom():
    k = np.array([[0.0, 1.0], [-1.0, 0.0]])
    return Custom(lambda: np.zeros((2, 2)), {}, operators={"k": k})


BAD_INPUTS = [
    # Qubit
    pytest.param(lambda: Qubit(1.0).hamiltonian(omgea=2.0), "Qubit", id="qubit-unknown-control"),
    pytest.param(lambda: Qubit(1.0).hamiltonian(omega=float("nan")), "Qubit", id="qubit-nan-control"),
    pytest.param(lambda: Qubit(1.0).hamiltonian(delta=math.inf), "Qubit", id="qubit-inf-control"),
    pytest.param(lambda: Qubit(1j), "Qubit", id="qubit-complex-omega"),
    pytest.param(lambda: Qubit("1"), "Qubit", id="qubit-string-omega"),
    pytest.param(lambda: Qubit(1.0).operator("sigma_q"), "Qubit", id="qubit-unknown-operator"),
    pytest.param(lambda: Qubit(1.0).operator("sigma_x", site=1), "Qubit", id="qubit-site-1"),
    pytest.param(lambda: Qubit(1.0).local_hamiltonian(2), "Qubit", id="qubit-local-site-2"),
    pytest.param(lambda: Qubit(1.0).embed(np.eye(3), 0), "Qubit", id="qubit-embed-wrong-shape"),
    # Levels
    pytest.param(lambda: Levels([0.0]), "Levels", id="levels-one-level"),
    pytest.param(lambda: Levels(3.0), "Levels", id="levels-not-a-sequence"),
    pytest.param(lambda: Levels([0.0, float("nan")]), "Levels", id="levels-nan-energy"),
    pytest.param(lambda: Levels([0.0, 1.0]).hamiltonian(E2=1.0), "Levels", id="levels-unknown-control"),
    pytest.param(lambda: Levels([0.0, 1.0, 2.0]).operator("jump_0_3"), "Levels", id="levels-index-too-big"),
    pytest.param(lambda: Levels([0.0, 1.0]).operator("pair_1_1"), "Levels", id="levels-pair-diagonal"),
    pytest.param(lambda: Levels([0.0, 1.0]).operator("proj_2"), "Levels", id="levels-proj-too-big"),
    pytest.param(lambda: Levels([0.0, 1.0]).operator("hop_0_1"), "Levels", id="levels-garbage-name"),
    # HarmonicOscillator
    pytest.param(lambda: HarmonicOscillator(1.0, 0), "HarmonicOscillator", id="oscillator-n_max-0"),
    pytest.param(lambda: HarmonicOscillator(1.0, 5.0), "HarmonicOscillator", id="oscillator-n_max-float"),
    pytest.param(lambda: HarmonicOscillator(-1.0, 5), "HarmonicOscillator", id="oscillator-negative-omega"),
    pytest.param(
        lambda: HarmonicOscillator(1.0, 5).hamiltonian(omega=0.0),
        "HarmonicOscillator",
        id="oscillator-omega-0",
    ),
    pytest.param(
        lambda: HarmonicOscillator(1.0, 5, -1e-3), "HarmonicOscillator", id="oscillator-negative-tol"
    ),
    pytest.param(
        lambda: HarmonicOscillator(1.0, 5).check_state(np.eye(3) / 3),
        "HarmonicOscillator",
        id="oscillator-state-wrong-shape",
    ),
    pytest.param(
        lambda: HarmonicOscillator(1.0, 5).operator("b"), "HarmonicOscillator", id="oscillator-bad-op"
    ),
    # Spin
    pytest.param(lambda: Spin(0.3, 1.0), "Spin", id="spin-j-not-half-integer"),
    pytest.param(lambda: Spin(0, 1.0), "Spin", id="spin-j-zero"),
    pytest.param(lambda: Spin(-0.5, 1.0), "Spin", id="spin-j-negative"),
    pytest.param(lambda: Spin(1, 1.0).operator("sigma_x"), "Spin", id="spin-unknown-operator"),
    # SpinChain
    pytest.param(lambda: SpinChain(1, 1.0, 1.0), "SpinChain", id="chain-one-site"),
    pytest.param(lambda: SpinChain(3, math.inf, 1.0), "SpinChain", id="chain-inf-J"),
    pytest.param(lambda: SpinChain(3, 1.0, 1.0).operator("sigma_x"), "SpinChain", id="chain-missing-site"),
    pytest.param(lambda: SpinChain(3, 1.0, 1.0).operator("sigma_x", 3), "SpinChain", id="chain-site-too-big"),
    pytest.param(lambda: SpinChain(3, 1.0, 1.0).operator("j_x", 0), "SpinChain", id="chain-unknown-operator"),
    pytest.param(lambda: SpinChain(3, 1.0, 1.0).hamiltonian(h=1.0), "SpinChain", id="chain-unknown-control"),
    # Composite
    pytest.param(lambda: Composite([]), "Composite", id="composite-empty"),
    pytest.param(lambda: Composite([Composite([Qubit(1.0)])]), "Composite", id="composite-nested"),
    pytest.param(lambda: Composite([SpinChain(2, 1.0, 1.0)]), "Composite", id="composite-spin-chain-site"),
    pytest.param(lambda: Composite([Qubit(1.0), "qubit"]), "Composite", id="composite-site-not-medium"),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)], [(1.0, [("sigma_x", 0)])]),
        "Composite",
        id="composite-one-factor",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)], [(1.0, [("sigma_x", 0), ("sigma_z", 0)])]),
        "Composite",
        id="composite-repeated-site",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)], [(1.0, [("sigma_x", 0), ("sigma_z", 2)])]),
        "Composite",
        id="composite-site-out-of-range",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)], [(1.0, [("sigma_x", 0), ("a", 1)])]),
        "Composite",
        id="composite-operator-not-on-site",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)], [("big", FLIP_FLOP)]),
        "Composite",
        id="composite-bad-strength",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)], [(1.0,)]), "Composite", id="composite-malformed"
    ),
    pytest.param(
        lambda: Composite([_anti_hermitian_custom(), Qubit(1.0)], [(1.0, [("k", 0), ("sigma_z", 1)])]),
        "Composite",
        id="composite-coupling-vanishes-with-hc",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)]).hamiltonian(omega=1.0),
        "Composite",
        id="composite-unrenamed-control",
    ),
    pytest.param(
        lambda: Composite([HarmonicOscillator(1.0, 3)]).hamiltonian(omega_0=-1.0),
        "Composite",
        id="composite-site-control-out-of-range",
    ),
    pytest.param(
        lambda: Composite([Qubit(1.0), Qubit(1.0)]).operator("sigma_x"),
        "Composite",
        id="composite-missing-site",
    ),
    # Custom
    pytest.param(lambda: Custom(np.eye(2), {}), "Custom", id="custom-not-callable"),
    pytest.param(
        lambda: Custom(lambda **k: np.eye(2), {"not valid": 1.0}), "Custom", id="custom-bad-control-name"
    ),
    pytest.param(
        lambda: Custom(lambda: np.eye(2), {}, operators={"X": np.eye(3)}),
        "Custom",
        id="custom-operator-wrong-dim",
    ),
    pytest.param(lambda: Custom(lambda: np.eye(2), {}).operator("X"), "Custom", id="custom-unknown-operator"),
    pytest.param(lambda: Custom(lambda: np.eye(2), {}).hamiltonian(a=1.0), "Custom", id="custom-no-controls"),
]


@pytest.mark.parametrize(("make", "owner"), BAD_INPUTS)
def test_bad_input_raises_workbench_error_naming_owner(make, owner):
    """Every bad input raises WorkbenchError whose message starts with the owning class."""
    with pytest.raises(WorkbenchError, match=rf"^{owner}\b"):
        make()


def test_unknown_control_message_lists_allowed_names():
    """The error for an unknown control names it and lists the allowed ones."""
    with pytest.raises(WorkbenchError, match=r"'omega', 'delta', got 'omgea'"):
        Qubit(1.0).hamiltonian(omgea=2.0)
