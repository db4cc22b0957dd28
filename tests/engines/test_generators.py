"""Facts about the GKSL generators of `engines.generators` (and the superoperators of `engines.linalg`).

The global (Davies) generator is rebuilt here independently, in the medium's basis, from the
spectral projectors P_e of H (docs/physics.md, "Global"): for a coupling A of bath a,

    A(w) = sum_{e' - e = w} P_e A P_e',     D_a = sum_w gamma_a(w) D[A(w)],

which is basis independent inside degenerate eigenspaces (the engine's eigenvectors there are
arbitrary), and groups equal Bohr frequencies into one jump operator. The rates come from the closed
forms of docs/physics.md (Section 2), written out here, not from `engines.reservoirs`. The QuTiP
references go further: the Hamiltonians and coupling operators are built from QuTiP's own operators
(``qutip.sigmax``, ``qutip.destroy``, ``qutip.basis``, ``qutip.tensor``), the eigenprojectors come from
``Qobj.eigenstates`` and the Davies jumps are assembled from them by hand, so ``qutip.liouvillian``
checks the Davies (and local) construction itself, not only the vectorisation. References:
E. B. Davies, Commun. Math. Phys. 39, 91 (1974); H.-P. Breuer and F. Petruccione, The Theory of Open
Quantum Systems (OUP, 2002), sec. 3.3.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import qutip
import systems

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
    SpinChain,
    linalg,
)
from engines._kernels import sector_superoperator

#: Exact identities of matrix algebra in double precision (entries of order 1).
TOL = 1e-12
#: Generators built along different routes (eigendecompositions, products of d x d matrices).
GEN_TOL = 1e-10
#: Energies closer than this are one eigenspace in the independent construction.
DEGENERATE = 1e-8

SEED = 20240611


def _unitary(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def _fixed(H):
    """A Custom medium with the fixed Hamiltonian H."""
    return Custom(lambda: H)


def _rotated_spectrum(energies, seed):
    """U diag(energies) U^dag with a random unitary U: degeneracies not aligned with the basis."""
    rng = np.random.default_rng(seed)
    u = _unitary(rng, len(energies))
    return u @ np.diag(energies) @ u.conj().T


def _two_bosonic_baths(rng, d):
    return [
        BosonicBath("flat", 0.8, 0.3, systems.random_hermitian(rng, d)),
        BosonicBath(
            "ohmic", 2.0, 0.2, systems.random_hermitian(rng, d), spectrum="ohmic", w0=1.5, cutoff=6.0
        ),
    ]


def _double_dot():
    """Two spinless fermionic modes (Jordan-Wigner), hopping t, interaction U; a lead on each mode.

    Basis |n0 n1> with n = 0 (empty), 1 (occupied); c0 = a x 1, c1 = (-1)^n0 x a, a = |0><1|.
    """
    a = np.array([[0.0, 1.0], [0.0, 0.0]])
    parity = np.diag([1.0, -1.0])
    c0, c1 = np.kron(a, np.eye(2)), np.kron(parity, a)
    n0, n1 = c0.T @ c0, c1.T @ c1
    H = 0.4 * n0 + 1.1 * n1 + 0.3 * (c0.T @ c1 + c1.T @ c0) + 0.9 * n0 @ n1
    leads = [
        FermionicLead("left", 1.5, 1.0, 0.2, c0),
        FermionicLead("right", 0.5, -0.3, 0.1, c1),
    ]
    return _fixed(H.astype(complex)), leads


def _global_cases():
    """(medium, reservoirs), global flavour: generic, degenerate Bohr frequencies, degenerate levels."""
    rng = np.random.default_rng(SEED)
    generic = _fixed(systems.random_hermitian(rng, 4))
    spaced = _fixed(_rotated_spectrum([0.0, 1.0, 2.0, 3.0], SEED + 1))
    pair = _fixed(_rotated_spectrum([0.0, 1.0, 1.0, 2.5], SEED + 2))
    dot, leads = _double_dot()
    return [
        pytest.param(generic, _two_bosonic_baths(rng, 4), id="random-4-level"),
        pytest.param(spaced, _two_bosonic_baths(rng, 4), id="equally-spaced"),
        pytest.param(pair, _two_bosonic_baths(rng, 4), id="degenerate-pair"),
        pytest.param(dot, leads, id="double-dot-leads"),
    ]


def _xxz_chain():
    """XXZ chain at zero field (degenerate levels), transverse baths at both ends."""
    chain = SpinChain(4, J=1.0, Delta=0.5, field=0.0)
    baths = [
        BosonicBath("hot", 2.0, 0.1, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.1, "sigma_y", site=3, spectrum="ohmic", cutoff=5.0),
    ]
    return chain, baths


def _heterogeneous_composite():
    """Qubit (with transverse field) x 3-level system x oscillator, coupled pairwise, one bath per site."""
    medium = Composite(
        [Qubit(1.0, 0.3), Levels([0.0, 0.7, 1.9]), HarmonicOscillator(0.8, 3)],
        [(0.1, [("sigma_x", 0), ("pair_0_1", 1)]), (0.05, [("pair_1_2", 1), ("x", 2)])],
    )
    baths = [
        BosonicBath("b0", 1.5, 0.2, "sigma_x", site=0),
        BosonicBath("b1", 0.7, 0.1, "pair_0_2", site=1, spectrum="ohmic"),
        BosonicBath("b2", 0.3, 0.3, "x", site=2),
    ]
    return medium, baths


def _maser():
    """Scovil-Schulz-DuBois three-level maser: hot bath on 0-2, cold bath on 0-1."""
    maser = Levels([0.0, 1.0, 3.0])
    baths = [BosonicBath("hot", 5.0, 0.05, "pair_0_2"), BosonicBath("cold", 0.5, 0.05, "pair_0_1")]
    return maser, baths


def _engines():
    """A spread of generators: global, degenerate, fermionic, local (both bookkeepings), driven."""
    out = [pytest.param(Engine(*p.values), id=p.id) for p in _global_cases()]
    chain, chain_baths = _xxz_chain()
    medium, baths = _heterogeneous_composite()
    maser, maser_baths = _maser()
    out += [
        pytest.param(Engine(chain, chain_baths), id="xxz-chain"),
        pytest.param(Engine(medium, baths, flavour="local"), id="local-composite-bare"),
        pytest.param(Engine(medium, baths, flavour="local", bookkeeping="full"), id="local-composite-full"),
        pytest.param(Engine(maser, maser_baths, drive=Drive((1, 2), strength=0.1)), id="driven-global"),
        pytest.param(
            Engine(maser, maser_baths, flavour="local", drive=Drive((1, 2), strength=0.1, detuning=0.05)),
            id="driven-local-detuned",
        ),
    ]
    return out


# --------------------------------------------------------------------------- independent Davies
def _eigenspaces(H):
    """Distinct eigenvalues of H and the projectors onto their eigenspaces."""
    E, V = np.linalg.eigh(H)
    spaces = []
    for e, v in zip(E, V.T):
        if spaces and abs(e - spaces[-1][0]) < DEGENERATE:
            spaces[-1][1].append(v)
        else:
            spaces.append((e, [v]))
    return [(e, sum(np.outer(v, v.conj()) for v in vs)) for e, vs in spaces]


def _bohr_components(H, A):
    """{w: A(w)} with A(w) = sum_{e' - e = w} P_e A P_e' (w > 0: the jump releases energy w)."""
    spaces = _eigenspaces(H)
    parts: list[tuple[float, np.ndarray]] = []
    for e, P in spaces:
        for e2, P2 in spaces:
            w = e2 - e
            term = P @ A @ P2
            for i, (w0, acc) in enumerate(parts):
                if abs(w - w0) < DEGENERATE:
                    parts[i] = (w0, acc + term)
                    break
            else:
                parts.append((w, term))
    return parts


def _gksl_numpy(H, jumps):
    """Column-stacked -i[H, .] + sum_j D[L_j], written with np.kron (independent of engines.superop)."""
    d = H.shape[0]
    eye = np.eye(d)
    L = -1j * (np.kron(eye, H) - np.kron(H.T, eye))
    for J in jumps:
        JdJ = J.conj().T @ J
        L = L + np.kron(J.conj(), J) - 0.5 * (np.kron(eye, JdJ) + np.kron(JdJ.T, eye))
    return L


def _spectral_density(bath, w):
    """J(w), w > 0: kappa (flat) or kappa (w / w0) exp(-w / w_cut) (ohmic)."""
    if bath.spectrum == "flat":
        return bath.coupling
    return bath.coupling * (w / bath.w0) * math.exp(-w / bath.cutoff)


def _bosonic_rate(bath, w):
    """gamma(w) = J(w)(1 + n(w)), gamma(-w) = J(w) n(w), n = 1/(e^{w/T} - 1); gamma(0) = lim J n."""
    if abs(w) < DEGENERATE:
        return bath.coupling * bath.T / bath.w0 if bath.spectrum == "ohmic" else bath.dephasing
    n = 1.0 / math.expm1(abs(w) / bath.T) if bath.T > 0 else 0.0
    return _spectral_density(bath, abs(w)) * ((1.0 + n) if w > 0 else n)


def _fermi(x, lead):
    return 1.0 / (math.exp((x - lead.mu) / lead.T) + 1.0)


def _channels(reservoir, A):
    """(operator, rate(w)) per channel: A for a bath (Hermitian part); c at Gamma (1 - f(w)) and
    c^dag at Gamma f(-w) for a lead (docs/physics.md, Sections 2 and 3). `A` may be a Qobj or an array."""
    if isinstance(reservoir, FermionicLead):
        g = reservoir.coupling
        return [
            (A, lambda w: g * (1.0 - _fermi(w, reservoir))),
            (A.dag() if hasattr(A, "dag") else A.conj().T, lambda w: g * _fermi(-w, reservoir)),
        ]
    return [(A, lambda w: _bosonic_rate(reservoir, w))]


def _davies_jumps_numpy(H, reservoirs):
    """sqrt(rate) A(w) for every reservoir channel, Bohr frequency by Bohr frequency (docs/physics.md)."""
    jumps = []
    for r in reservoirs:
        A = np.asarray(r.operator, dtype=complex)
        for X, rate in _channels(r, A):
            for w, Xw in _bohr_components(H, X):
                jumps.append(np.sqrt(float(rate(w))) * Xw)
    return jumps


# ------------------------------------------------------------ references from QuTiP's own operators
def _qutip_eigenspaces(H: qutip.Qobj):
    """Distinct eigenvalues of H and their eigenprojectors, from Qobj.eigenstates."""
    E, states = H.eigenstates()
    spaces = []
    for e, ket in zip(E, states):
        P = ket * ket.dag()
        if spaces and abs(e - spaces[-1][0]) < DEGENERATE:
            spaces[-1] = (spaces[-1][0], spaces[-1][1] + P)
        else:
            spaces.append((e, P))
    return spaces


def _qutip_davies(H: qutip.Qobj, channels):
    """Davies jumps sqrt(gamma(w)) A(w), A(w) = sum_{e' - e = w} P_e A P_e', from Qobj projectors."""
    spaces = _qutip_eigenspaces(H)
    jumps = []
    for X, rate in channels:
        parts: list = []
        for e, P in spaces:
            for e2, P2 in spaces:
                w, term = e2 - e, P * X * P2
                for i, (w0, acc) in enumerate(parts):
                    if abs(w - w0) < DEGENERATE:
                        parts[i] = (w0, acc + term)
                        break
                else:
                    parts.append((w, term))
        jumps += [math.sqrt(rate(w)) * Xw for w, Xw in parts if rate(w) > 0 and Xw.norm() > 0]
    return jumps


def _hermitian_part(X: qutip.Qobj) -> qutip.Qobj:
    return X if X.isherm else X + X.dag()


def _reference_global(H, reservoirs):
    """Global-flavour reference for a numerical model: H and the couplings as Qobj, Davies by hand."""
    H = qutip.Qobj(H)
    channels = []
    for r in reservoirs:
        X = qutip.Qobj(np.asarray(r.operator))
        channels += _channels(r, X if isinstance(r, FermionicLead) else _hermitian_part(X))
    return H, _qutip_davies(H, channels)


def _reference_double_dot():
    """Two Jordan-Wigner modes from QuTiP's operators: c0 = a x 1, c1 = sigma_z x a, a = destroy(2)."""
    a, eye = qutip.destroy(2), qutip.qeye(2)
    c0, c1 = qutip.tensor(a, eye), qutip.tensor(qutip.sigmaz(), a)
    n0, n1 = c0.dag() * c0, c1.dag() * c1
    H = 0.4 * n0 + 1.1 * n1 + 0.3 * (c0.dag() * c1 + c1.dag() * c0) + 0.9 * n0 * n1
    _, leads = _double_dot()
    channels = _channels(leads[0], c0) + _channels(leads[1], c1)
    return H, _qutip_davies(H, channels)


def _pair(n, i, j):
    return qutip.basis(n, i) * qutip.basis(n, j).dag() + qutip.basis(n, j) * qutip.basis(n, i).dag()


def _reference_local_composite():
    """Qubit(1, 0.3) x Levels(0, 0.7, 1.9) x oscillator(0.8, n_max 3) from QuTiP's operators; each bath a
    Davies dissipator of its own site's Hamiltonian, embedded with qutip.tensor."""
    h = [
        0.5 * qutip.sigmaz() + 0.15 * qutip.sigmax(),
        sum(e * qutip.basis(3, i) * qutip.basis(3, i).dag() for i, e in enumerate([0.0, 0.7, 1.9])),
        0.8 * qutip.num(4),
    ]
    eye = [qutip.qeye(2), qutip.qeye(3), qutip.qeye(4)]
    x = (qutip.destroy(4) + qutip.create(4)) / math.sqrt(2.0)

    def embed(op, site):
        return qutip.tensor(*[op if s == site else eye[s] for s in range(3)])

    H = sum(embed(h[s], s) for s in range(3))
    H += 0.1 * qutip.tensor(qutip.sigmax(), _pair(3, 0, 1), eye[2])
    H += 0.05 * qutip.tensor(eye[0], _pair(3, 1, 2), x)
    _, baths = _heterogeneous_composite()
    local_ops = [qutip.sigmax(), _pair(3, 0, 2), x]
    jumps = []
    for bath, X in zip(baths, local_ops):
        s = bath.site
        jumps += [embed(j, s) for j in _qutip_davies(h[s], _channels(bath, X))]
    return H, jumps


def _reference_driven_maser(levels, strength, detuning):
    """H_rot = -detuning |j><j| + epsilon (|i><j| + |j><i|) (E_j > E_i) from qutip.basis; the jumps are
    the Davies jumps of the bare H0 = diag(0, 1, 3), which are eigen-operators of the rotating frame."""
    i, j = sorted(levels, key=[0.0, 1.0, 3.0].__getitem__)
    bi, bj = qutip.basis(3, i), qutip.basis(3, j)
    H_rot = -detuning * bj * bj.dag() + strength * (bi * bj.dag() + bj * bi.dag())
    H0 = sum(e * qutip.basis(3, k) * qutip.basis(3, k).dag() for k, e in enumerate([0.0, 1.0, 3.0]))
    hot, cold = _maser()[1]
    channels = _channels(hot, _pair(3, 0, 2)) + _channels(cold, _pair(3, 0, 1))
    return H_rot, _qutip_davies(H0, channels)


def _to_medium_superoperator(gen):
    """The engine's superoperator moved from its generator basis to the medium basis."""
    L = gen.superoperator().toarray()
    if gen.basis is None:
        return L
    U = np.kron(gen.basis.conj(), gen.basis)
    return U @ L @ U.conj().T


# ------------------------------------------------------------------------------ vectorisation
def test_column_stacking_identity():
    """vec(A X B) = (B^T kron A) vec(X) for column stacking (Horn & Johnson, Topics, Lemma 4.3.1)."""
    rng = np.random.default_rng(SEED)
    A = rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))
    X = rng.normal(size=(4, 5)) + 1j * rng.normal(size=(4, 5))
    B = rng.normal(size=(5, 2)) + 1j * rng.normal(size=(5, 2))
    np.testing.assert_allclose(linalg.vec(A @ X @ B), np.kron(B.T, A) @ linalg.vec(X), atol=TOL)
    # element (i, j) sits at i + d j, and unvec inverts vec
    Y = X[:, :4]
    assert linalg.vec(Y)[2 + 4 * 3] == Y[2, 3]
    np.testing.assert_array_equal(linalg.unvec(linalg.vec(Y)), Y)


def test_superop_liouvillian_acts_as_gksl():
    """linalg.liouvillian(H, L) vec(rho) = vec(-i[H, rho] + sum_j L_j rho L_j^dag - {L_j^dag L_j, rho}/2)."""
    rng = np.random.default_rng(SEED + 1)
    d = 4
    H = systems.random_hermitian(rng, d)
    jumps = [rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)) for _ in range(2)]
    rho = systems.random_hermitian(rng, d)
    direct = -1j * (H @ rho - rho @ H)
    for J in jumps:
        JdJ = J.conj().T @ J
        direct = direct + J @ rho @ J.conj().T - 0.5 * (JdJ @ rho + rho @ JdJ)
    L = linalg.liouvillian(H, jumps).toarray()
    np.testing.assert_allclose(linalg.unvec(L @ linalg.vec(rho)), direct, atol=TOL)


# -------------------------------------------------------------------------- global construction
@pytest.mark.parametrize(("medium", "reservoirs"), _global_cases())
def test_global_generator_equals_independent_davies_construction(medium, reservoirs):
    """The global superoperator equals -i[H, .] + sum_a sum_w gamma_a(w) D[A_a(w)] built from projectors.

    Equally spaced levels test the grouping of equal Bohr frequencies into one jump operator (three
    transitions share w = 1); the degenerate pair tests A(w) on a degenerate eigenspace, where the
    engine's eigenvectors are arbitrary. The ohmic bath adds a zero-frequency (dephasing) channel
    A(0) = sum_e P_e A P_e with rate kappa T / w0 (Davies 1974; Breuer & Petruccione 2002, sec. 3.3).
    """
    gen = Engine(medium, reservoirs).generator
    H = medium.hamiltonian()
    expected = _gksl_numpy(H, _davies_jumps_numpy(H, reservoirs))
    np.testing.assert_allclose(_to_medium_superoperator(gen), expected, atol=GEN_TOL)


@pytest.mark.parametrize(("medium", "reservoirs"), _global_cases())
def test_global_jumps_are_eigenoperators_of_the_hamiltonian(medium, reservoirs):
    """[H, A(w)] = -w A(w): each Davies jump changes the energy by a definite Bohr frequency."""
    gen = Engine(medium, reservoirs).generator
    H = gen.hamiltonian.toarray()
    for D in gen.dissipators:
        for J in D.jumps:
            J = J.toarray()
            comm = H @ J - J @ H
            k = np.unravel_index(np.argmax(np.abs(J)), J.shape)
            w = -comm[k] / J[k]
            np.testing.assert_allclose(comm, -w * J, atol=GEN_TOL)


def _qutip_cases():
    """(engine, reference (H, c_ops) built from QuTiP's operators)."""
    out = []
    for p in _global_cases()[:3]:
        medium, reservoirs = p.values
        out.append(
            pytest.param(
                lambda m=medium, r=reservoirs: Engine(m, r),
                lambda m=medium, r=reservoirs: _reference_global(m.hamiltonian(), r),
                id=p.id,
            )
        )
    maser, maser_baths = _maser()
    out += [
        pytest.param(lambda: Engine(*_double_dot()), _reference_double_dot, id="double-dot-leads"),
        pytest.param(
            lambda: Engine(*_heterogeneous_composite(), flavour="local"),
            _reference_local_composite,
            id="local-composite",
        ),
        pytest.param(
            lambda: Engine(maser, maser_baths, drive=Drive(levels=(1, 2), strength=0.1)),
            lambda: _reference_driven_maser((1, 2), 0.1, 0.0),
            id="driven-global",
        ),
        pytest.param(
            lambda: Engine(
                maser, maser_baths, flavour="local", drive=Drive(levels=(2, 1), strength=0.1, detuning=0.02)
            ),
            lambda: _reference_driven_maser((2, 1), 0.1, 0.02),
            id="driven-local-detuned",
        ),
    ]
    return out


@pytest.mark.parametrize(("make", "reference"), _qutip_cases())
def test_generator_equals_qutip_liouvillian_of_an_independent_construction(make, reference):
    """The generator equals qutip.liouvillian(H, c_ops) with H, couplings and Davies jumps built in QuTiP.

    The reference knows nothing of the engine: QuTiP's operators, its eigenprojectors, the rates written
    out from docs/physics.md. The engine works in its generator basis (eigenvectors V of H, global
    flavour); its superoperator is moved to the medium basis as U L U^dag with U = conj(V) kron V
    (vec(V rho V^dag) = (conj(V) kron V) vec(rho)); QuTiP also stacks columns.
    """
    gen = make().generator
    H, c_ops = reference()
    expected = qutip.liouvillian(H, c_ops).full()
    np.testing.assert_allclose(_to_medium_superoperator(gen), expected, atol=GEN_TOL)


# --------------------------------------------------------------------------- structural laws
@pytest.mark.parametrize("engine", _engines())
def test_generator_preserves_trace(engine):
    """Tr L(rho) = 0 for every rho: vec(I)^dag L = 0 (GKSL form; Lindblad, CMP 48, 119 (1976))."""
    L = engine.generator.superoperator().toarray()
    d = engine.generator.dim
    np.testing.assert_allclose(linalg.vec(np.eye(d)).conj() @ L, 0.0, atol=TOL)


@pytest.mark.parametrize("engine", _engines())
def test_generator_preserves_hermiticity(engine):
    """L(X^dag) = L(X)^dag for any (non-Hermitian) X, and Generator.apply equals the superoperator."""
    gen = engine.generator
    d = gen.dim
    rng = np.random.default_rng(SEED + d)
    X = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    L = gen.superoperator().toarray()
    LX = linalg.unvec(L @ linalg.vec(X), d)
    LXd = linalg.unvec(L @ linalg.vec(X.conj().T), d)
    np.testing.assert_allclose(LXd, LX.conj().T, atol=TOL * max(1.0, np.abs(L).max()))
    np.testing.assert_allclose(gen.apply(X), LX, atol=TOL * max(1.0, np.abs(L).max()))


# ------------------------------------------------------------- zero-frequency sector (kernel)
def _sector_cases():
    medium, baths = _xxz_chain()
    return [*_global_cases(), pytest.param(medium, baths, id="xxz-chain")]


def _sector_indices(starts, d):
    """vec indices i + d j of the coherences inside each degenerate block, in the kernel's order."""
    idx = []
    for a, b in itertools.pairwise(starts):
        idx += [i + d * j for j in range(a, b) for i in range(a, b)]
    return np.array(idx)


@pytest.mark.parametrize(("medium", "reservoirs"), _sector_cases())
def test_sector_kernel_equals_block_of_full_superoperator(medium, reservoirs):
    """`sector_superoperator` equals the zero-frequency-sector block of the full superoperator.

    The NumPy twin of the kernel is the restriction of the sparse superoperator (built with kron
    products from the jump operators) to the populations and degenerate-block coherences, in the
    kernel's order (block by block, each block column-stacked). The secular generator maps that
    sector to itself, so the block of the full L leaving it is zero (docs/physics.md, populations-only
    reduction).
    """
    gen = Engine(medium, reservoirs).generator
    starts = gen.davies.spectrum.starts
    d = gen.dim
    sizes = np.diff(starts)
    n = int(np.sum(sizes**2))
    M = np.zeros((n, n), dtype=complex)
    for channels in gen.davies.channels:
        for c in channels:
            sector_superoperator(starts, c.X, c.R, M)
    L = gen.superoperator().toarray()
    idx = _sector_indices(starts, d)
    outside = np.setdiff1d(np.arange(d * d), idx)
    np.testing.assert_allclose(M, L[np.ix_(idx, idx)], atol=GEN_TOL)
    np.testing.assert_allclose(L[np.ix_(outside, idx)], 0.0, atol=GEN_TOL)


# ---------------------------------------------------------------------------- local flavour
def _split_site(J, dims, site):
    """If J = I x j x I with j on `site`, return j (the normalised partial trace over the other sites)."""
    n = len(dims)
    t = J.reshape(dims + dims)
    others = [k for k in range(n) if k != site]
    for k in sorted(others, reverse=True):
        t = np.trace(t, axis1=k, axis2=k + t.ndim // 2)
    return t / np.prod([dims[k] for k in others])


def test_local_jumps_act_on_one_site_only():
    """Local flavour: every jump of bath a is I x j x I with j an eigen-operator of its site's h_s.

    Each site sees only its own Hamiltonian (docs/physics.md, "Local"; De Chiara et al., NJP 20, 113024
    (2018)), so j changes the local energy by a Bohr frequency of h_s: [h_s, j] = -w j.
    """
    medium, baths = _heterogeneous_composite()
    gen = Engine(medium, baths, flavour="local").generator
    dims = medium.site_dims
    for D, bath in zip(gen.dissipators, baths):
        s = bath.site
        assert D.jumps
        h = medium.local_hamiltonian(s)
        bohr = (np.linalg.eigvalsh(h)[None, :] - np.linalg.eigvalsh(h)[:, None]).ravel()
        for J in D.jumps:
            J = J.toarray()
            j = _split_site(J, dims, s)
            assert np.abs(j).max() > 0
            np.testing.assert_allclose(J, medium.embed(j, s), atol=TOL)
            comm = h @ j - j @ h
            k = np.unravel_index(np.argmax(np.abs(j)), j.shape)
            w = -comm[k] / j[k]
            np.testing.assert_allclose(comm, -w * j, atol=GEN_TOL)
            assert np.min(np.abs(bohr - w.real)) < GEN_TOL and abs(w.imag) < GEN_TOL
