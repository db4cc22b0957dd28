"""The redfield and unified flavours, and the regime check that tells which flavour fits."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engines
from engines import (
    BosonicBath,
    Composite,
    Engine,
    ModelValidityWarning,
    Options,
    Qubit,
    SpinChain,
    WorkbenchError,
)
from tests.strategies import generic_machines
from tests.systems import (
    bose,
    coupled_oscillators,
    coupled_oscillators_exact_heat,
    gibbs,
    redfield_nonpositive,
)

qutip = pytest.importorskip("qutip")

# ---------------------------------------------------------------------------------------------
# redfield against QuTiP


def _qutip_spectrum(kappa, T, ohmic):
    """QuTiP's a_ops spectrum S(w) from the closed form: S(w > 0) = J(w)(1 + n(w)), S(-w) = J(w) n(w).

    QuTiP 5's Bloch-Redfield tensor (qutip.bloch_redfield_tensor) uses S(w) at w = E_initial - E_final
    (w > 0: the system emits), with the rate of a secular jump |A_mk|^2 S(w) and no Lamb shift.
    """

    def S(w):
        w = float(w)
        x = abs(w)
        if x == 0.0:
            return kappa * T if ohmic else 0.0
        J = kappa * x if ohmic else kappa
        return J * (1.0 + bose(x, T)) if w > 0 else J * bose(x, T)

    return S


def _qutip_redfield(H, a_ops):
    """QuTiP's full Redfield tensor (no secular cut) per bath and its steady state."""
    R = qutip.bloch_redfield_tensor(H, a_ops, sec_cutoff=-1, fock_basis=True)
    return R, qutip.steadystate(R)


@pytest.mark.parametrize("solver", ["dense", "sparse", "iterative"])
@pytest.mark.parametrize("ohmic", [False, True])
def test_redfield_matches_qutip_on_coupled_qubits(solver, ohmic):
    """Two qubits with an XX coupling, each on its own bath: state and heat currents as QuTiP's Redfield.

    Reference: QuTiP 5 `bloch_redfield_tensor(H, a_ops, sec_cutoff=-1)` built from QuTiP's own sigmaz,
    sigmax and tensor, with a_ops spectra written from the closed form of the rates; the heat current
    of bath a is Tr[H D_a(rho)] with D_a = R_a - L_H, R_a the tensor of bath a alone.  The g = 0.05
    coupling against rates 0.02 makes the non-secular terms matter (Redfield differs from Davies by
    1e-2 here).
    """
    w1, w2, g, T_h, T_c, kappa = 1.0, 1.1, 0.05, 2.0, 0.5, 0.02
    spectrum = "ohmic" if ohmic else "flat"
    medium = Composite([Qubit(w1), Qubit(w2)], [(g, [("sigma_x", 0), ("sigma_x", 1)])])
    baths = [
        BosonicBath("hot", T_h, kappa, "sigma_x", spectrum, site=0),
        BosonicBath("cold", T_c, kappa, "sigma_x", spectrum, site=1),
    ]
    ours = Engine(medium, baths, "redfield").steady_state(solver)

    one, sx, sz = qutip.qeye(2), qutip.sigmax(), qutip.sigmaz()
    H = 0.5 * w1 * qutip.tensor(sz, one) + 0.5 * w2 * qutip.tensor(one, sz) + g * qutip.tensor(sx, sx)
    a_ops = [
        [qutip.tensor(sx, one), _qutip_spectrum(kappa, T_h, ohmic)],
        [qutip.tensor(one, sx), _qutip_spectrum(kappa, T_c, ohmic)],
    ]
    _, rho = _qutip_redfield(H, a_ops)
    assert np.max(np.abs(ours.rho - rho.full())) < 1e-9
    L_H = qutip.liouvillian(H)
    scale = max(abs(j) for j in ours.heat_currents.values())
    for name, op in zip(("hot", "cold"), a_ops):
        R_a, _ = _qutip_redfield(H, [op])
        D_rho = qutip.vector_to_operator((R_a - L_H) * qutip.operator_to_vector(rho))
        J = (H * D_rho).tr().real
        assert abs(ours.heat_currents[name] - J) <= 1e-8 * scale
    # Redfield is not Davies here: the test would not pass with the global flavour's state.
    davies = Engine(medium, baths, "global").steady_state()
    assert np.max(np.abs(davies.rho - rho.full())) > 1e-4


def test_redfield_non_positive_state_warns_with_its_size():
    """A strongly coupled three-level machine: the Redfield NESS has a negative eigenvalue, and the solve
    warns (ModelValidityWarning) with its value instead of failing; QuTiP's Redfield tensor on the same
    model (built from Qobj matrices and the closed-form spectra) has the same state, so the violation is
    Redfield's, not the solver's.
    """
    engine, H, A, B, kappa = redfield_nonpositive()
    with pytest.warns(ModelValidityWarning, match="not positive") as record:
        ss = engine.steady_state()
    lowest = float(np.linalg.eigvalsh(ss.rho).min())
    assert lowest < -0.1
    assert f"{lowest:.3e}" in str(record[0].message)
    a_ops = [
        [qutip.Qobj(A), _qutip_spectrum(kappa, 0.05, ohmic=True)],
        [qutip.Qobj(B), _qutip_spectrum(kappa, 0.0, ohmic=False)],
    ]
    _, rho = _qutip_redfield(qutip.Qobj(H), a_ops)
    assert np.max(np.abs(ss.rho - rho.full())) < 1e-8


def test_redfield_bad_input_is_one_line():
    """A spectrum whose rates overflow (finite J times a huge coupling) and a lead: one-line errors."""
    big = BosonicBath("hot", 1.0, 1e300, "sigma_x", lambda w: 1e300 * np.ones_like(w))
    with pytest.raises(WorkbenchError, match="finite rates") as err:
        Engine(Qubit(1.0), [big], "redfield")
    assert "\n" not in str(err.value) and "'hot'" in str(err.value)
    lead = engines.FermionicLead("L", 1.0, 0.0, 0.1, "sigma_minus")
    with pytest.raises(WorkbenchError, match="bosonic baths only"):
        Engine(Qubit(1.0), [lead], "redfield")
    with pytest.raises(WorkbenchError, match="not GKLS"):
        Engine(Qubit(1.0), [BosonicBath("b", 1.0, 0.1, "sigma_x")], "redfield").to_qutip()


def test_redfield_secular_limit_is_davies():
    """A single qubit has no pair of distinct Bohr frequencies closer than 1: Redfield's extra terms
    oscillate at w = 1 against rates 1e-3, and its NESS is the Gibbs state up to O(kappa/w)
    (Breuer & Petruccione 2002, 3.3.1); the Gibbs populations are the closed form.
    """
    bath = BosonicBath("b", 0.7, 1e-3, "sigma_x")
    rho = Engine(Qubit(1.0), [bath], "redfield").steady_state().rho
    assert np.max(np.abs(rho - gibbs(np.diag([0.5, -0.5]), 0.7))) < 1e-6


# ---------------------------------------------------------------------------------------------
# unified


def _coarse_grained_levels(engine):
    """H_TD's levels from numpy's eigh and the documented rule: levels within the width whose coherence a
    bath feeds ((|X| |X|^T)_kl > 0 in the eigenbasis) are linked; a component is split in energy order
    into groups of spread <= width only while some driven transition (|X|_kl > 0) lands more than the
    width off its Bohr frequency; each group's levels share its mean."""
    from scipy.sparse.csgraph import connected_components

    H = np.asarray(engine.medium.hamiltonian(), dtype=complex)
    E, V = np.linalg.eigh(H)
    width = engine.options.unified_width * engines.validity(engine.replace(flavour="global")).rate
    X = [np.abs(V.conj().T @ r.operator @ V) for r in engine.reservoirs]
    feed = sum(x @ x.T for x in X)
    driven = np.any([x > 1e-10 * max(1.0, x.max()) for x in X], axis=0)
    linked = (np.abs(E[:, None] - E[None, :]) <= width) & (feed > 1e-20 * feed.max())
    labels = [(int(c),) for c in connected_components(linked, directed=False)[1]]
    done = set()
    while True:
        groups = sorted(set(labels))
        means = {c: E[[k for k in range(E.size) if labels[k] == c]].mean() for c in groups}
        level = np.array([means[c] for c in labels])
        off = driven & (np.abs((level[None, :] - level[:, None]) - (E[None, :] - E[:, None])) > width)
        bad = {labels[k] for pair in zip(*np.nonzero(off)) for k in pair} - done
        if not bad:
            return level, V
        for c in bad:
            members = [k for k in range(E.size) if labels[k] == c]  # eigh sorts E: energy order
            first, part = E[members[0]], 0
            for k in members:
                if E[k] - first > width:
                    part, first = part + 1, E[k]
                labels[k] = (*c, part)
                done.add(labels[k])


@settings(max_examples=25, deadline=None)
@given(generic_machines(max_baths=1), st.floats(0.5, 5.0))
def test_unified_one_bath_relaxes_to_the_gibbs_state_of_the_coarse_grained_hamiltonian(engine, width):
    """One bath: the unified NESS is exp(-H_TD/T)/Z (detailed balance of each Davies dissipator of H_TD,
    Spohn 1978), H_TD built here from numpy's eigh with the documented grouping of levels.  (A width
    that merges every level leaves no transition at a non-zero frequency: no unique NESS, not drawn.)"""
    engine = engine.replace(flavour="unified", options=Options(unified_width=width))
    assume(np.unique(_coarse_grained_levels(engine)[0]).size > 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelValidityWarning)
        ss = engine.steady_state()
    E, V = _coarse_grained_levels(engine)
    T = engine.reservoirs[0].T
    p = np.exp(-(E - E.min()) / T)
    pi = (V * (p / p.sum())) @ V.conj().T
    assert np.max(np.abs(ss.rho - pi)) < 1e-8


@settings(max_examples=25, deadline=None)
@given(generic_machines(min_baths=2, max_baths=3), st.floats(0.5, 5.0))
def test_unified_second_law_and_first_law_on_random_machines(engine, width):
    """Several baths: sum_a J_a = 0 (heat booked against H_TD, which commutes with H) and
    sigma = -sum_a J_a/T_a >= 0 (Spohn's inequality for the Davies dissipators of H_TD)."""
    engine = engine.replace(flavour="unified", options=Options(unified_width=width))
    assume(np.unique(_coarse_grained_levels(engine)[0]).size > 1)
    ss = engine.steady_state()
    J = np.array(list(ss.heat_currents.values()))
    T = np.array(list(ss.temperatures.values()))
    assert abs(J.sum()) <= ss.resolution
    assert -np.sum(J / T) >= -ss.resolution / T.min()


#: |J - J_exact| / J_exact for `coupled_oscillators` (w = 2, T_h = 0.5, T_c = 0.25, kappa = 0.01).
GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)


def test_unified_current_is_as_close_to_exact_as_the_better_of_global_and_local():
    """Two coupled oscillators, flat baths, against the exact (Landauer) current for every g of the grid.

    Reference: `tests.systems.coupled_oscillators_exact_heat` (quantum Langevin / Landauer form,
    Hofer et al., NJP 19, 123037 (2017); Gardiner & Collett, PRA 31, 3761 (1985)).  Measured relative
    errors (the unified width is 1 x the largest decay rate, 0.14 here, so the normal-mode levels
    w +- g are grouped for 2g < 0.14, each manifold of N quanta whole: its levels spread over 2gN but
    every transition between manifolds is at w +- g, within the width of H_TD's w):

        g       J_exact      global     local      unified
        1e-3    7.047e-06   +2.5e+01   -2.6e-05   -2.6e-05
        3e-3    4.850e-05   +2.8e+00   -3.4e-05   -3.4e-05
        1e-2    1.466e-04   +2.5e-01   -1.3e-04   -1.3e-04
        3e-2    1.784e-04   +2.8e-02   -9.2e-04   -9.2e-04
        1e-1    1.846e-04   +2.5e-03   -9.9e-03   +2.5e-03
        3e-1    1.997e-04   +5.8e-04   -8.3e-02   +5.8e-04
        1.0     3.623e-04   +2.6e-03   -4.9e-01   +2.6e-03

    Global fails at small g (its secular step cannot resolve w +- g), local at large g (its rates
    ignore the normal-mode splitting); unified follows the better one.  The bare comparison is strict:
    the unified error must not exceed the better one by more than 1e-3 of it (the last digits of the
    solvers and of the quadrature, 1e-10 of J).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelValidityWarning)  # global and local, out of regime on purpose
        for g in GRID:
            exact = coupled_oscillators_exact_heat(g)
            errors = {}
            for flavour in ("global", "local", "unified"):
                J = coupled_oscillators(g, flavour).steady_state().heat_currents["hot"]
                errors[flavour] = abs(J - exact) / exact
            best = min(errors["global"], errors["local"])
            assert errors["unified"] <= best * (1 + 1e-3) + 1e-9, (g, errors)


# ---------------------------------------------------------------------------------------------
# validity


def test_global_xxz_chain_at_weak_coupling_warns_and_names_the_fitting_flavour():
    """XXZ chain N = 6 (J = 1, Delta = 0.5, field = 1) with rates 0.03: Bohr spacings down to 3e-5.

    The closed-form check: the smallest coupled Bohr spacing is no larger than the smallest spacing
    between any two Bohr frequencies of H from numpy's eigh that sigma_x on site 0 or 5 connects.
    """
    n = 6
    chain = SpinChain(n, 1.0, 0.5, 1.0)
    baths = [
        BosonicBath("hot", 2.0, 0.01, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.01, "sigma_x", site=n - 1),
    ]
    engine = Engine(chain, baths, "global")
    v = engines.validity(engine)
    assert not v.global_valid and v.rate > 10 * v.bohr_spacing
    E, V = np.linalg.eigh(chain.hamiltonian())
    coupled = set()
    for site in (0, n - 1):
        X = V.T @ chain.operator("sigma_x", site) @ V
        m, k = np.nonzero(np.abs(X) > 1e-12)
        coupled |= {round(abs(E[a] - E[b]), 9) for a, b in zip(m, k)}
    w = np.sort(np.array(sorted(coupled)))
    assert v.bohr_spacing <= np.diff(w).min() * (1 + 1e-6) + 1e-9
    assert v.bohr_spacing < 1e-3
    with pytest.warns(ModelValidityWarning, match=r"flavour 'global' is used outside its regime.*use"):
        engine.steady_state()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelValidityWarning)
        engine.replace(flavour="unified").steady_state()  # never warns


def test_local_with_strong_internal_coupling_warns_and_weak_one_does_not():
    """Resonant qubits with flip-flop coupling g: local is out of regime for g = 0.5 against rates
    about 0.02 (it recommends global, whose Bohr spacing 2g is resolved), and in regime for g = 1e-3,
    where global is not (spacing 2g = 2e-3 against 0.02)."""

    def engine(g, flavour):
        medium = Composite([Qubit(1.0), Qubit(1.0)], [(g, [("sigma_plus", 0), ("sigma_minus", 1)])])
        baths = [
            BosonicBath("hot", 2.0, 0.01, "sigma_x", site=0),
            BosonicBath("cold", 0.5, 0.01, "sigma_x", site=1),
        ]
        return Engine(medium, baths, flavour)

    strong = engines.validity(engine(0.5, "local"))
    assert strong.internal_coupling == pytest.approx(0.5) and strong.recommended == "global"
    assert math.isclose(strong.bohr_spacing, 1.0, rel_tol=1e-9)  # w + g - (w - g)
    with pytest.warns(ModelValidityWarning, match=r"flavour 'local'.*use flavour 'global'"):
        engine(0.5, "local").steady_state()
    weak = engines.validity(engine(1e-3, "global"))
    assert math.isclose(weak.bohr_spacing, 2e-3, rel_tol=1e-6) and weak.recommended == "local"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelValidityWarning)
        engine(1e-3, "local").steady_state()
        engine(0.5, "global").steady_state()


@pytest.mark.parametrize("n", [3, 6, 10])
def test_internal_coupling_is_the_bond_scale_not_the_chain_sum(n):
    """XXZ chain: each bond J (sx sx + sy sy + Delta sz sz) has entries 2J (flip) and J Delta (diagonal),
    so the internal coupling is max(2J, J |Delta|) at every length; the sum over bonds of the diagonal
    energies, (n - 1) J Delta, is not a coupling a site's dissipator neglects."""
    J, Delta = 0.1, 1.5
    chain = SpinChain(n, J, Delta, field=2.0)
    baths = [
        BosonicBath("hot", 2.0, 0.05, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.05, "sigma_x", site=n - 1),
    ]
    v = engines.validity(Engine(chain, baths, "local"))
    assert v.internal_coupling == pytest.approx(max(2 * J, J * Delta), rel=1e-12)


def test_a_bath_on_several_sites_has_no_local_regime_and_solves_globally():
    """A full-space coupling operator (sigma_x sigma_x, no site) on two qubits: the global engine solves
    (its NESS with one bath is the Gibbs state, Davies detailed balance); the local flavour does not
    apply, so the regime check says so (local_rate NaN, local not valid) instead of failing."""
    medium = Composite([Qubit(1.0), Qubit(1.3)], [(0.2, [("sigma_x", 0), ("sigma_x", 1)])])
    sx = np.array([[0, 1], [1, 0]], dtype=complex)
    bath = BosonicBath("b", 0.7, 0.01, np.kron(sx, np.eye(2)) + np.kron(np.eye(2), sx))
    engine = Engine(medium, [bath], "global")
    v = engines.validity(engine)
    assert math.isnan(v.local_rate) and not v.local_valid
    H = medium.hamiltonian()
    E, V = np.linalg.eigh(H)
    gibbs = (V * np.exp(-E / 0.7)) @ V.conj().T
    np.testing.assert_allclose(engine.steady_state().rho, gibbs / np.trace(gibbs), atol=1e-10)


@pytest.mark.parametrize("flavour", ["unified", "redfield"])
def test_design_files_take_the_new_flavours(flavour):
    """``[engine] flavour = "redfield"`` (or "unified") in a design builds that engine; its NESS is the
    same as the engine built in Python from the same parts."""
    from analysis.design import design_from_dict, read_design

    data = read_design(Path(__file__).resolve().parents[2] / "examples" / "two_qubit_chain.toml")
    data["engine"] = {"flavour": flavour}
    engine = design_from_dict(data).engine
    assert engine.flavour == flavour
    direct = Engine(engine.medium, engine.reservoirs, flavour)
    assert np.max(np.abs(engine.steady_state().rho - direct.steady_state().rho)) == 0.0
