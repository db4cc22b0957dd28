"""Facts about ``qhe run --initial STATE`` (`analysis.cli.initial_state`): a steady state that is not
unique is refused without it and, with it, is the one the dynamics reaches from STATE; every form of
STATE names the state it should; bad STATEs and bad files are one line on stderr and exit 2.

Reference system: a qubit (w_0 = 1, site 0) between a hot and a cold flat bath (kappa, sigma_x), next
to an uncoupled spectator qubit (w_1 = 1.7, site 1), in the global flavour.  The projectors
Pi_j = 1 x |j><j| of the spectator commute with H and with every jump (sigma_-/+ x 1), so the
populations q_j = Tr[Pi_j rho] are conserved: ker L is spanned by rho_0 x |j><j| and the steady
state is not unique.  Within each sector the first qubit relaxes to the two-bath state
rho_0 = diag(p, 1 - p) (|0> the upper level), with rates kappa (1 + n_a) down and kappa n_a up,

    p = (n_h + n_c) / (2 (1 + n_h + n_c)),     n_a = 1 / (exp(w_0 / T_a) - 1),

and coherences of the spectator oscillate at +-1.7 without decay.  The state reached from rho(0)
is the spectral projection onto ker L, which is the long-time average of rho(t) (docs/physics.md,
Section 9; Baumgartner & Narnhofer, J. Phys. A 41, 395303 (2008)):

    rho_ss = rho_0 x diag(q_0, q_1),     q_j = Tr[Pi_j rho(0)],

with the heat current J_hot = kappa w_0 (n_h - n_c) / (2 (1 + n_h + n_c)) whatever rho(0).  QuTiP
checks it independently: mesolve from the same rho(0), with the jump operators built from its own
sigmam/sigmap, averaged over one period 2 pi / 1.7 of the undamped spectator coherence at a time
when everything else has relaxed (exp(-54)).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import qutip
import systems

from analysis.cli import main
from analysis.design import load_design
from engines.steady import SOLVERS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
W0, W1, T_HOT, T_COLD, KAPPA = 1.0, 1.7, 2.0, 0.5, 0.05
#: The closed form and the workbench's solvers (both exact up to round-off).
TOL = 1e-9
#: QuTiP's ODE integration (atol = rtol = 1e-12) over t = 200 and the one-period average (it agrees
#: to about 1e-12).
QUTIP_TOL = 1e-10
#: Relaxation of everything but the conserved populations: rate 2 kappa (1 + n_h + n_c) = 0.27.
T_RELAXED = 200.0
SEED = 1234

DESIGN = f"""\
name = "qubit beside a spectator"

[medium]
type = "Composite"
[[medium.sites]]
type = "Qubit"
omega = {W0}
[[medium.sites]]
type = "Qubit"
omega = {W1}

[[reservoirs]]
name = "hot"
type = "bosonic"
T = {T_HOT}
coupling = {KAPPA}
operator = "sigma_x"
site = 0

[[reservoirs]]
name = "cold"
type = "bosonic"
T = {T_COLD}
coupling = {KAPPA}
operator = "sigma_x"
site = 0
"""


@pytest.fixture
def design_path(tmp_path):
    path = tmp_path / "spectator.toml"
    path.write_text(DESIGN)
    return path


def _run(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return code, out, err


def _p_upper():
    n_h, n_c = systems.bose(W0, T_HOT), systems.bose(W0, T_COLD)
    return (n_h + n_c) / (2 * (1 + n_h + n_c))


def _closed_form(rho0):
    """rho_0 x diag(q) with q the spectator's populations in rho0 (module docstring)."""
    q = np.real(np.einsum("ajaj->j", rho0.reshape(2, 2, 2, 2)))
    p = _p_upper()
    return np.kron(np.diag([p, 1 - p]), np.diag(q))


def _qutip_long_time_average(rho0):
    """QuTiP mesolve from rho0, averaged over one period of the spectator's undamped coherence."""
    H = 0.5 * W0 * qutip.tensor(qutip.sigmaz(), qutip.qeye(2)) + 0.5 * W1 * qutip.tensor(
        qutip.qeye(2), qutip.sigmaz()
    )
    down, up = qutip.tensor(qutip.sigmam(), qutip.qeye(2)), qutip.tensor(qutip.sigmap(), qutip.qeye(2))
    c_ops = []
    for T in (T_HOT, T_COLD):
        n = systems.bose(W0, T)
        c_ops += [math.sqrt(KAPPA * (1 + n)) * down, math.sqrt(KAPPA * n) * up]
    period = 2 * math.pi / W1
    times = [0.0, *(T_RELAXED + period * k / 8 for k in range(8))]
    rho = qutip.Qobj(rho0, dims=[[2, 2], [2, 2]])
    states = qutip.mesolve(
        H, rho, times, c_ops, options={"atol": 1e-12, "rtol": 1e-12, "nsteps": 10**6}
    ).states[1:]
    # eight equally spaced samples over one period average exp(+-i W1 t) to zero exactly
    return sum(s.full() for s in states) / len(states)


def _random_density_matrix(rng, d):
    z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = z @ z.conj().T
    return rho / np.trace(rho)


def _gibbs_populations(T):
    """Populations of a qubit (w) Gibbs state, |0> the upper level: (1, e^{w/T}) / (1 + e^{w/T})."""
    if T == 0:
        return lambda w: np.array([0.0, 1.0])
    return lambda w: np.array([1.0, math.exp(w / T)]) / (1.0 + math.exp(w / T))


# (STATE, the density matrix it names): built here from the definitions in analysis/cli.py
STATES = [
    pytest.param("0", np.diag([1.0, 0, 0, 0]), id="index-0"),
    pytest.param("3", np.diag([0, 0, 0, 1.0]), id="index-3"),
    pytest.param("1,0", np.diag([0, 0, 1.0, 0]), id="sites-1,0"),
    pytest.param("0,1", np.diag([0, 1.0, 0, 0]), id="sites-0,1"),
    pytest.param(
        "gibbs:0.7",
        np.kron(np.diag(_gibbs_populations(0.7)(W0)), np.diag(_gibbs_populations(0.7)(W1))),
        id="gibbs-0.7",
    ),
    pytest.param("gibbs:inf", np.eye(4) / 4, id="gibbs-inf"),
    pytest.param("gibbs:0", np.diag([0, 0, 0, 1.0]), id="gibbs-0-ground"),
]


def test_non_unique_steady_state_without_initial_names_the_option(capsys, design_path):
    code, out, err = _run(capsys, "run", design_path)
    assert (code, out) == (2, "")
    assert err.startswith(f"qhe: error: {design_path}: steady_state: the steady state is not unique")
    assert "`--initial`" in err and err.count("\n") == 1


@pytest.mark.parametrize(("state", "rho0"), STATES)
def test_initial_state_selects_the_steady_state_reached_from_it(capsys, design_path, state, rho0):
    """The JSON populations are those of rho_0 x diag(q(rho0)), and QuTiP's long-time average agrees."""
    np.testing.assert_allclose(load_design(design_path).run(initial=rho0).rho, _closed_form(rho0), atol=TOL)
    code, out, err = _run(capsys, "run", design_path, "--initial", state, "--json")
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["initial"] == state
    expected = np.real(np.diag(_closed_form(rho0)))
    np.testing.assert_allclose(result["populations"], expected, atol=TOL)
    np.testing.assert_allclose(np.real(np.diag(_qutip_long_time_average(rho0))), expected, atol=QUTIP_TOL)
    n_h, n_c = systems.bose(W0, T_HOT), systems.bose(W0, T_COLD)
    J = KAPPA * W0 * (n_h - n_c) / (2 * (1 + n_h + n_c))
    assert result["heat_currents"]["hot"] == pytest.approx(J, rel=TOL)
    assert result["mode"] == "transport"


def test_density_matrix_file_with_coherences(capsys, tmp_path, design_path):
    """A random state with coherences everywhere: the spectral projection keeps only q; QuTiP agrees."""
    rho0 = _random_density_matrix(np.random.default_rng(SEED), 4)
    path = tmp_path / "rho0.npy"
    np.save(path, rho0)
    code, out, err = _run(capsys, "run", design_path, "--initial", path, "--json")
    assert (code, err) == (0, "")
    expected = _closed_form(rho0)
    np.testing.assert_allclose(json.loads(out)["populations"], np.real(np.diag(expected)), atol=TOL)
    np.testing.assert_allclose(_qutip_long_time_average(rho0), expected, atol=QUTIP_TOL)
    # the whole state, coherences included, through the same parser the command line uses
    from analysis.cli import initial_state

    design = load_design(design_path)
    np.testing.assert_allclose(design.run(initial=initial_state(design, str(path))).rho, expected, atol=TOL)


@pytest.mark.parametrize("solver", SOLVERS)
def test_initial_state_reaches_every_solver(capsys, design_path, solver):
    code, out, err = _run(capsys, "run", design_path, "--initial", "1,1", "--solver", solver, "--json")
    assert (code, err) == (0, "")
    np.testing.assert_allclose(
        json.loads(out)["populations"], np.diag(_closed_form(np.diag([0, 0, 0, 1.0]))), atol=TOL
    )


def test_report_shows_the_initial_state(capsys, design_path):
    code, out, _ = _run(capsys, "run", design_path, "--initial", "gibbs:0.7")
    assert code == 0
    assert "  initial state       gibbs:0.7 (selects the steady state reached from it)\n" in out


def test_initial_on_a_cycle_is_refused(capsys):
    """A limit cycle is the fixed point of the one-period map: it has no initial state to choose."""
    code, out, err = _run(capsys, "run", EXAMPLES / "otto_qubit.toml", "--initial", "0")
    assert (code, out) == (2, "")
    assert err.startswith("qhe: error: qhe run: `--initial` applies to continuous machines ([engine]); ")
    assert "has no initial state: drop --initial.\n" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------------- bad input
BAD_STATES = [
    pytest.param(
        "4", "`--initial` must be a basis-state index 0..3 (the medium's dimension is 4), got '4'", id="index"
    ),
    pytest.param(
        "0,2", "one basis index per site, 2 in all, each below its site's dimension (2, 2)", id="site-index"
    ),
    pytest.param("0,0,0", "one basis index per site, 2 in all", id="site-count"),
    pytest.param("gibbs:-1", "`--initial gibbs:T` must be >= 0.0, got -1.0", id="gibbs-negative"),
    pytest.param("gibbs:nan", "`--initial gibbs:T` must be a real number, got nan", id="gibbs-nan"),
    pytest.param("gibbs:warm", "gibbs:T with a temperature T >= 0", id="gibbs-word"),
    pytest.param("ground", "`--initial` must be a basis-state index k, one index per site", id="no-form"),
]


@pytest.mark.parametrize(("state", "message"), BAD_STATES)
def test_bad_state_is_one_line_and_exit_2(capsys, design_path, state, message):
    code, out, err = _run(capsys, "run", design_path, "--initial", state)
    assert (code, out) == (2, "")
    assert err.startswith("qhe: error: qhe run: ") and err.count("\n") == 1, err
    assert message in err


def _save(array, **kwargs):
    def write(path):
        np.save(path, array, **kwargs)

    return write


def _write_bytes(data):
    def write(path):
        path.write_bytes(data)

    return write


def _savez(path):
    np.savez(path.with_suffix(".npz"), rho=np.eye(4) / 4)
    path.with_suffix(".npz").rename(path)


BAD_FILES = [
    pytest.param(None, "must be a .npy file holding a density matrix, got no such file", id="missing"),
    pytest.param(_write_bytes(b"rho = 1\n"), "a file numpy cannot load", id="not-npy"),
    pytest.param(_write_bytes(b""), "a file numpy cannot load", id="empty"),
    pytest.param(
        _save(np.array([{}], dtype=object), allow_pickle=True), "a file numpy cannot load", id="pickle"
    ),
    pytest.param(_savez, "got an .npz archive", id="npz"),
    pytest.param(
        _save(np.array([["a", "b"], ["c", "d"]])), "a numeric array, got an array of dtype <U1", id="strings"
    ),
    pytest.param(
        _save(np.eye(2) / 2),
        "a matrix of shape (4, 4) (the medium's dimension), got an array of shape (2, 2)",
        id="shape",
    ),
    pytest.param(_save(np.full((4, 4), np.nan)), "a finite matrix, got NaN or inf entries", id="nan"),
    pytest.param(
        _save(np.triu(np.ones((4, 4))) / 4),
        "Hermitian (to state_tol = 1e-08), got max |rho - rho^dag| = 0.25",
        id="not-hermitian",
    ),
    pytest.param(_save(np.eye(4) / 2), "of unit trace (to state_tol = 1e-08), got trace 2", id="trace"),
    pytest.param(
        _save(np.diag([1.5, -0.5, 0, 0])),
        "positive semi-definite (to state_tol = 1e-08), got lowest eigenvalue -0.5",
        id="negative",
    ),
]


@pytest.mark.parametrize(("write", "message"), BAD_FILES)
def test_bad_density_matrix_file_names_the_file(capsys, tmp_path, design_path, write, message):
    path = tmp_path / "rho0.npy"
    if write is not None:
        write(path)
    code, out, err = _run(capsys, "run", design_path, "--initial", path)
    assert (code, out) == (2, "")
    assert err.startswith(f"qhe: error: {path}: `--initial` must be ") and err.count("\n") == 1, err
    assert message in err


def test_state_tol_of_the_design_applies_to_the_file(capsys, tmp_path, design_path):
    """A state off by 1e-6 in its trace fails the default state_tol = 1e-8 and passes state_tol = 1e-5."""
    path = tmp_path / "rho0.npy"
    np.save(path, np.eye(4) / 4 * (1 + 1e-6))
    assert _run(capsys, "run", design_path, "--initial", path)[0] == 2
    design_path.write_text(DESIGN + "\n[options]\nstate_tol = 1e-5\n")
    code, out, err = _run(capsys, "run", design_path, "--initial", path, "--json")
    assert (code, err) == (0, "")
    np.testing.assert_allclose(
        json.loads(out)["populations"], np.diag(_closed_form(np.eye(4) / 4)), atol=1e-5
    )
