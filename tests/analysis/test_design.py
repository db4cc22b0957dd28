"""Facts about design files (`analysis.design`): the schema maps onto `engines`, the examples reproduce
their published results, and every malformed design fails with a message naming the field.

Reference systems, with the closed forms the tests check:

* Three-level maser (Scovil & Schulz-DuBois, PRL 2, 262 (1959)): each quantum w_h taken from the hot
  bath leaves w_c in the cold bath and w_h - w_c in the field, so eta = 1 - w_c/w_h exactly.
* Three-qubit absorption refrigerator (Linden, Popescu & Skrzypczyk, PRL 105, 130401 (2010)): each
  swap |1_c 0_r 1_h> <-> |0_c 1_r 0_h> moves E_c out of the cold bath and E_h out of the hot bath,
  so COP = J_cold / J_hot -> E_c / E_h when the coupling g is weak.
* Qubit between two flat baths (rates kappa (1 + n_a) down, kappa n_a up, <0|sigma_x|1> = 1): the
  populations follow from balance, p_e = (n_h + n_c) / (2 (1 + n_h + n_c)), and
  J_hot = omega kappa (n_h (1 - p_e) - (1 + n_h) p_e) = kappa omega (n_h - n_c) / (2 (1 + n_h + n_c)).
* Single-level quantum dot between two leads (rates Gamma f_a in, Gamma (1 - f_a) out): the
  occupation is (f_L + f_R)/2 and the particle current from lead L is I = Gamma (f_L - f_R) / 2.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import tomllib
from pathlib import Path

import numpy as np
import pytest
import systems

import analysis.design
import engines
from analysis.design import RESERVOIRS, SITE_MEDIA, Design, design_from_dict, load_design
from engines import WorkbenchError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOL = 1e-9
#: The refrigerator example's COP differs from E_c/E_h by O(g^2) (levels split by the coupling).
TOL_COP = 1e-3


def _example(name: str) -> dict:
    with open(EXAMPLES / name, "rb") as f:
        return tomllib.load(f)


# ------------------------------------------------------------------------------------ schema


def test_site_media_schema_matches_the_constructors():
    """The documented keys of each medium type are exactly its constructor's keyword arguments."""
    tables = {**SITE_MEDIA, "SpinChain": (engines.SpinChain, ("n", "J", "Delta"), ("field",))}
    for kind, (cls, required, optional) in tables.items():
        params = list(inspect.signature(cls).parameters.values())
        assert tuple(p.name for p in params if p.default is inspect.Parameter.empty) == required, kind
        assert tuple(p.name for p in params if p.default is not inspect.Parameter.empty) == optional, kind


@pytest.mark.parametrize("kind", list(RESERVOIRS))
def test_reservoir_schema_matches_the_constructors(kind):
    """The keys of a ``[[reservoirs]]`` table of `type` kind are exactly its constructor's arguments."""
    cls, keys = RESERVOIRS[kind]
    assert set(keys) == set(inspect.signature(cls).parameters)


def test_options_table_in_the_docstring_lists_every_option():
    """The schema documents each `engines.Options` field with its default (memory_limit: 80 % RAM)."""
    doc = analysis.design.__doc__
    table = doc[doc.index("option          default") :].split("\n=")[1].splitlines()[1:]
    rows = dict(line.split()[:2] for line in table if line.strip())
    fields = {f.name: f for f in dataclasses.fields(engines.Options)}
    assert list(rows) == list(fields)
    for option, default in rows.items():
        if option != "memory_limit":
            assert float(default) == getattr(engines.Options(), option), option


def test_defaults_name_flavour_solver():
    """An unnamed design is named after its source; flavour defaults to global, solver to auto."""
    data = {
        "medium": {"type": "Qubit", "omega": 1.0},
        "reservoirs": [{"name": "b", "type": "bosonic", "T": 1.0, "coupling": 0.1, "operator": "sigma_x"}],
    }
    d = design_from_dict(data, source="designs/lonely_qubit.toml")
    assert isinstance(d, Design)
    assert (d.name, d.description, d.solver, d.source) == (
        "lonely_qubit",
        "",
        "auto",
        "designs/lonely_qubit.toml",
    )
    assert d.engine.flavour == "global"
    assert (d.kind, d.cycle) == ("engine", None)
    assert design_from_dict(data).name == "<dict>"


def test_load_design_reads_name_description_solver(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text(
        'name = "n"\ndescription = "d"\n[medium]\ntype = "Qubit"\nomega = 1\n[engine]\nsolver = "dense"\n'
        '[[reservoirs]]\nname = "b"\ntype = "bosonic"\nT = 1\ncoupling = 0.1\noperator = "sigma_x"\n'
    )
    d = load_design(path)
    assert (d.name, d.description, d.solver, d.source) == ("n", "d", "dense", str(path))
    assert d.steady_state().solver == "dense"


def test_bosonic_bath_options_reach_the_reservoir():
    """spectrum, cutoff, w0 and site are passed to `engines.BosonicBath` unchanged."""
    data = _example("two_qubit_chain.toml")
    data["reservoirs"][0].update(spectrum="ohmic", cutoff=5.0, w0=2.0)
    data["reservoirs"][1].update(dephasing=0.001)
    hot, cold = design_from_dict(data).engine.reservoirs
    assert (hot.spectrum, hot.cutoff, hot.w0, hot.site) == ("ohmic", 5.0, 2.0, 0)
    assert (cold.spectrum, cold.dephasing, cold.site, cold.T) == ("flat", 0.001, 1, 0.5)


def test_composite_coupling_is_the_lps_three_body_swap():
    """The refrigerator's coupling is g (|0 1 0><1 0 1| + h.c.) and nothing else.

    Basis |c r h>, site 0 leftmost, with |0> the excited level of each qubit (sigma_z = diag(1, -1)):
    |0 1 0> (index 2) has the cold and hot qubits excited, |1 0 1> (index 5) the room qubit.
    """
    medium = design_from_dict(_example("absorption_refrigerator.toml")).engine.medium
    H = medium.hamiltonian()
    V = H - np.diag(np.diag(H))
    expected = np.zeros((8, 8))
    expected[2, 5] = expected[5, 2] = 0.01
    np.testing.assert_allclose(V, expected, atol=TOL)
    E = np.real(np.diag(H))
    assert E[5] == pytest.approx(E[2]), "the swap must be resonant: E_c + E_h = E_r"
    assert E[2] == pytest.approx(0.5 * (1.0 - 3.0 + 2.0))  # (+E_c - E_r + E_h) / 2


# ------------------------------------------------------------------------------- physics facts


@pytest.mark.parametrize(
    ("T_hot", "strength"),
    [pytest.param(10.0, 0.05, id="example"), pytest.param(30.0, 0.2, id="hotter-stronger")],
)
def test_maser_efficiency_is_scovil_schulz_dubois(T_hot, strength):
    """eta = 1 - w_c/w_h for the three-level maser, whatever the temperatures and field strength.

    H. E. D. Scovil and E. O. Schulz-DuBois, Phys. Rev. Lett. 2, 262 (1959).
    """
    data = _example("maser.toml")
    data["reservoirs"][0]["T"] = T_hot
    data["drive"]["strength"] = strength
    s = design_from_dict(data).steady_state()
    assert s.mode == "engine"
    assert s.efficiency == pytest.approx(1.0 - 1.0 / 3.0, abs=TOL)
    assert s.efficiency < s.carnot_efficiency


def test_absorption_refrigerator_cools_with_cop_ec_over_eh():
    """Heat from the hot bath pumps heat out of the colder bath: COP -> E_c/E_h, below Carnot.

    N. Linden, S. Popescu and P. Skrzypczyk, Phys. Rev. Lett. 105, 130401 (2010); the absorption
    refrigerator's Carnot COP is (1 - T_r/T_h) / (T_r/T_c - 1).
    """
    s = design_from_dict(_example("absorption_refrigerator.toml")).steady_state()
    T = s.temperatures
    assert s.mode == "refrigerator"
    assert s.heat_currents["cold"] > 0 and s.heat_currents["hot"] > 0 and s.heat_currents["room"] < 0
    assert s.cop == pytest.approx(1.0 / 2.0, abs=TOL_COP)
    assert s.cop < (1 - T["room"] / T["hot"]) / (T["room"] / T["cold"] - 1)
    assert s.entropy_production_rate > 0


def test_absorption_refrigerator_local_flavour_agrees():
    """With kappa << g << E the local and global master equations agree (Hofer et al., NJP 19, 123037
    (2017)); the local one, with heat booked against the bare qubits, gives COP = E_c/E_h exactly."""
    data = _example("absorption_refrigerator.toml")
    glob = design_from_dict(data).steady_state()
    data["engine"]["flavour"] = "local"
    loc = design_from_dict(data).steady_state()
    assert loc.mode == "refrigerator"
    assert loc.cop == pytest.approx(0.5, abs=TOL)
    for name, J in glob.heat_currents.items():
        assert loc.heat_currents[name] == pytest.approx(J, rel=1e-3)


def test_qubit_between_two_baths_heat_current_closed_form():
    """J_hot = kappa omega (n_h - n_c) / (2 (1 + n_h + n_c)) = -J_cold (derivation in the module doc)."""
    s = design_from_dict(_example("qubit_two_baths.toml")).steady_state()
    n_h, n_c = systems.bose(1.0, 2.0), systems.bose(1.0, 0.5)
    expected = 0.01 * (n_h - n_c) / (2 * (1 + n_h + n_c))
    assert s.mode == "transport"
    assert s.heat_currents["hot"] == pytest.approx(expected, rel=TOL)
    assert s.heat_currents["cold"] == pytest.approx(-expected, rel=TOL)


def test_two_qubit_chain_carries_heat_downhill():
    """Resonant flip-flop chain, local flavour, bare bookkeeping: no boundary work, J_hot = -J_cold > 0."""
    s = design_from_dict(_example("two_qubit_chain.toml")).steady_state()
    assert (s.mode, s.flavour, s.bookkeeping) == ("transport", "local", "bare")
    assert s.heat_currents["hot"] > 0
    assert s.heat_currents["hot"] == pytest.approx(-s.heat_currents["cold"], rel=TOL)


def test_fermionic_leads_single_level_dot():
    """I_L = Gamma (f_L - f_R)/2 through a level at eps = 1 (closed form in the module doc)."""
    lead = {"type": "fermionic", "T": 1.0, "coupling": 0.01, "operator": "jump_0_1"}
    data = {
        "medium": {"type": "Levels", "energies": [0.0, 1.0]},
        "reservoirs": [{**lead, "name": "L", "mu": 2.0}, {**lead, "name": "R"}],  # mu defaults to 0
    }
    design = design_from_dict(data)
    assert [r.mu for r in design.engine.reservoirs] == [2.0, 0.0]
    s = design.steady_state()
    current = 0.01 * (systems.fermi(1.0, 1.0, 2.0) - systems.fermi(1.0, 1.0, 0.0)) / 2
    assert s.particle_currents["L"] == pytest.approx(current, rel=TOL)
    assert s.particle_currents["R"] == pytest.approx(-current, rel=TOL)
    # Heat J_a = J^E_a - mu_a I_a; the chemical work (mu_L - mu_R) I is dissipated: P < 0.
    assert s.power == pytest.approx(-2.0 * current, rel=TOL)


# ------------------------------------------------------------------------------------ bad input

_QUBIT = {
    "name": "q",
    "medium": {"type": "Qubit", "omega": 1.0},
    "engine": {"flavour": "global"},
    "reservoirs": [
        {"name": "hot", "type": "bosonic", "T": 2.0, "coupling": 0.01, "operator": "sigma_x"},
        {"name": "cold", "type": "bosonic", "T": 0.5, "coupling": 0.01, "operator": "sigma_x"},
    ],
}


def _set(path: str, value):
    """A mutation of `_QUBIT` setting the dotted `path` (list indices as integers) to `value`."""

    def mutate(d):
        *head, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        for k in head:
            d = d[k]
        if value is _DELETE:
            del d[last]
        else:
            d[last] = value

    return mutate


_DELETE = object()
_CHAIN = _example("two_qubit_chain.toml")

# (mutation of _QUBIT or a whole design, regex the message must match)
BAD = [
    pytest.param(
        _set("colour", "red"),
        r"unknown key 'colour' in the design; allowed keys: name, desc",
        id="unknown-top-level-key",
    ),
    pytest.param(_set("name", 3), r"`name` must be a string", id="name-not-string"),
    pytest.param(_set("medium", _DELETE), r"missing the required key 'medium'", id="missing-medium"),
    pytest.param(_set("medium", "Qubit"), r"\[medium\] must be a table", id="medium-not-table"),
    pytest.param(
        _set("medium.type", "Qbit"), r"\[medium\]: `type` must be one of 'Qubit'", id="unknown-medium"
    ),
    pytest.param(
        _set("medium.omgea", 1.0),
        r"unknown key 'omgea' in \[medium\] \(type 'Qubit'\); allowed keys: "
        r"type, omega, delta",
        id="unknown-medium-key",
    ),
    pytest.param(_set("medium.omega", _DELETE), r"missing the required key 'omega'", id="missing-medium-key"),
    pytest.param(
        _set("medium.omega", "one"),
        r"Qubit: `omega` must be a real number, got 'one'",
        id="medium-value-type",
    ),
    pytest.param(
        _set("medium", {"type": "Levels", "energies": 3}),
        r"Levels: `energies` must be a sequence",
        id="energies-not-array",
    ),
    pytest.param(
        _set("medium", {"type": "HarmonicOscillator", "omega": 1, "n_max": 2.5}),
        r"`n_max` must be an integer, got 2.5",
        id="n_max-float",
    ),
    pytest.param(
        _set("medium", {"type": "Composite", "sites": [{"type": "SpinChain", "n": 2}]}),
        r"medium.sites\[0\]: `type` must be one of 'Qubit', 'Levels'",
        id="composite-site-not-single",
    ),
    pytest.param(
        _set("medium", {"type": "Composite", "sites": {"type": "Qubit"}}),
        r"write \[\[medium.sites\]\], not \[medium.sites\]",
        id="composite-sites-table",
    ),
    pytest.param(
        _set("reservoirs", {"name": "hot"}),
        r"write \[\[reservoirs\]\], not \[reservoirs\]",
        id="reservoirs-table",
    ),
    pytest.param(_set("reservoirs", []), r"at least one \[\[reservoirs\]\]", id="no-reservoirs"),
    pytest.param(
        _set("reservoirs.0.temperature", 2.0),
        r"unknown key 'temperature' in reservoirs\[0\] \('hot'\) "
        r"\(type 'bosonic'\); allowed keys: name, type, T, coupling",
        id="unknown-reservoir-key",
    ),
    pytest.param(_set("reservoirs.0.mu", 0.1), r"unknown key 'mu' in reservoirs\[0\]", id="mu-on-bosonic"),
    pytest.param(
        _set("reservoirs.0.T", _DELETE),
        r"reservoirs\[0\] \('hot'\) .* missing the required key 'T'",
        id="missing-T",
    ),
    pytest.param(
        _set("reservoirs.0.T", -1.0),
        r"reservoirs\[0\] \('hot'\): BosonicBath 'hot': `T` must be >= 0",
        id="negative-T",
    ),
    pytest.param(_set("reservoirs.0.T", "hot"), r"`T` must be a real number, got 'hot'", id="T-string"),
    pytest.param(_set("reservoirs.0.T", True), r"`T` must be a real number, got True", id="T-boolean"),
    pytest.param(
        _set("reservoirs.0.coupling", [0.1]), r"`coupling` must be a real number", id="coupling-array"
    ),
    pytest.param(
        _set("reservoirs.0.type", "photonic"),
        r"`type` must be one of 'bosonic', 'fermionic'",
        id="unknown-reservoir-type",
    ),
    pytest.param(
        _set("reservoirs.0.spectrum", "lorentzian"),
        r"reservoirs\[0\] \('hot'\): BosonicBath 'hot': `spectrum` must be one of 'flat', 'ohmic', .*"
        r"got 'lorentzian'",
        id="unknown-spectrum",
    ),
    pytest.param(
        _set("reservoirs.0.cutoff", 5.0),
        r"unknown key 'cutoff' in reservoirs\[0\] \('hot'\) \(type 'bosonic', spectrum 'flat'\); "
        r"allowed keys: name, type, T, coupling, operator, site, spectrum, dephasing\.$",
        id="cutoff-on-flat",
    ),
    pytest.param(
        _set("reservoirs.0.operator", "sigma_q"),
        r"reservoirs\[0\] \('hot'\): Qubit: `operator name` "
        r"must be one of 'sigma_x'",
        id="unknown-operator",
    ),
    pytest.param(
        _set("reservoirs.0.operator", 1),
        r"reservoirs\[0\] \('hot'\): `operator` must be an operator name \(a string\) or a matrix written as "
        r"an array of rows of numbers \(complex entries as \[re, im\] pairs\), got 1\.$",
        id="operator-not-string",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [0.0, 1.0]),
        r"reservoirs\[0\] \('hot'\): `operator` must be an operator name .*, got \[0.0, 1.0\]\.$",
        id="operator-matrix-flat-array",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, 1.0], [1.0]]),
        r"reservoirs\[0\] \('hot'\): `operator` must be a square matrix \(2 rows of 2 entries\), "
        r"got '2 rows of lengths 2, 1'\.$",
        id="operator-matrix-ragged",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]),
        r"reservoirs\[0\] \('hot'\): `operator` must be of shape \(2, 2\) \(the medium's dimension\), "
        r"got 'a matrix of shape \(3, 3\)'\.$",
        id="operator-matrix-dimension",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, float("inf")], [1.0, 0.0]]),
        r"reservoirs\[0\] \('hot'\): `operator\[0\]\[1\]` must be a finite number .*, got inf\.$",
        id="operator-matrix-inf",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, float("nan")], [1.0, 0.0]]),
        r"`operator\[0\]\[1\]` must be a finite number \(no inf or nan in a matrix\), got nan\.$",
        id="operator-matrix-nan",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, "one"], [1.0, 0.0]]),
        r"reservoirs\[0\] \('hot'\): `operator\[0\]\[1\]` must be a number or an \[re, im\] pair of "
        r"numbers, got 'one'\.$",
        id="operator-matrix-entry",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, [1.0, 0.0, 2.0]], [1.0, True]]),
        r"`operator\[0\]\[1\]` must be a number or an \[re, im\] pair of numbers, got \[1.0, 0.0, 2.0\]",
        id="operator-matrix-triple",
    ),
    pytest.param(
        _set("reservoirs.0.operator", [[0.0, 1.0], [1.0, True]]),
        r"`operator\[1\]\[1\]` must be a number or an \[re, im\] pair of numbers, got True",
        id="operator-matrix-boolean",
    ),
    pytest.param(
        lambda d: d["reservoirs"][0].update(operator=[[0.0, 1.0], [1.0, 0.0]], site=1),
        r"reservoirs\[0\] \('hot'\): `site` must be 0 or unset \(single-site medium\), got 1\.$",
        id="operator-matrix-site-out-of-range",
    ),
    pytest.param(_set("reservoirs.0.site", 1), r"`site` must be 0 or None", id="site-out-of-range"),
    pytest.param(
        _set("reservoirs.1.name", "hot"),
        r"reservoirs\[1\]: `name` 'hot' is already used",
        id="duplicate-name",
    ),
    pytest.param(
        _set("engine.flavour", "regional"),
        r"\[engine\]: Engine: `flavour` must be one of 'global', 'local', 'unified', 'redfield', "
        r"got 'regional'",
        id="unknown-flavour",
    ),
    pytest.param(
        _set("engine.bookkeeping", "bare"),
        r"\[engine\]: Engine: `bookkeeping` must be 'full' \(or unset\) for the global flavour, got 'bare'",
        id="bare-bookkeeping-global",
    ),
    pytest.param(_set("engine.solver", "magic"), r"`solver` must be one of 'auto'", id="unknown-solver"),
    pytest.param(_set("engine.threads", 4), r"unknown key 'threads' in \[engine\]", id="unknown-engine-key"),
    pytest.param(
        _set("cycle", {"type": "otto", "hot": "hot", "cold": "cold", "low": 1.0, "high": 2.0}),
        r"the design has both \[cycle\] and \[engine\]: \[cycle\] describes a cycle",
        id="engine-and-cycle",
    ),
    pytest.param(
        _set("drive", {"levels": [0, 1], "strenght": 0.1}),
        r"unknown key 'strenght' in \[drive\]",
        id="unknown-drive-key",
    ),
    pytest.param(
        _set("drive", {"levels": 1, "strength": 0.1}),
        r"\[drive\]: Drive: `levels` must be a pair",
        id="drive-levels-not-pair",
    ),
    pytest.param(
        _set("drive", {"levels": [0, 5], "strength": 0.1}),
        r"\[drive\]: Drive: `levels` must be indices below the medium's dimension 2",
        id="drive-levels-out-of-range",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD)
def test_bad_design_names_the_field(mutate, message):
    data = copy.deepcopy(_QUBIT)
    mutate(data)
    with pytest.raises(WorkbenchError, match=message) as info:
        design_from_dict(data, source="bad.toml")
    assert str(info.value).startswith("bad.toml: ")


# ------------------------------------------------------------------------------ matrix operators
_SIGMA_Y = [[0.0, [0.0, -1.0]], [[0.0, 1.0], 0.0]]  # -i |0><1| + i |1><0|, complex entries as [re, im]


def _two_qubits(operator, site) -> dict:
    qubit = {"type": "Qubit", "omega": 1.0}
    coupling = {"strength": 0.1, "factors": [["sigma_x", 0], ["sigma_x", 1]]}
    return {
        "medium": {"type": "Composite", "sites": [qubit, qubit], "couplings": [coupling]},
        "reservoirs": [
            {
                "name": "hot",
                "type": "bosonic",
                "T": 2.0,
                "coupling": 0.01,
                "operator": operator,
            }
            | ({} if site is None else {"site": site}),
            {"name": "cold", "type": "bosonic", "T": 0.5, "coupling": 0.01, "operator": "sigma_x", "site": 1},
        ],
    }


@pytest.mark.parametrize(
    ("by_name", "by_matrix"),
    [
        pytest.param(
            {**_QUBIT["reservoirs"][0], "operator": "sigma_y"},
            {**_QUBIT["reservoirs"][0], "operator": _SIGMA_Y},
            id="complex-qubit-sigma_y",
        ),
        pytest.param(
            {
                "name": "hot",
                "type": "fermionic",
                "T": 2.0,
                "mu": 0.3,
                "coupling": 0.01,
                "operator": "jump_0_1",
            },
            {
                "name": "hot",
                "type": "fermionic",
                "T": 2.0,
                "mu": 0.3,
                "coupling": 0.01,
                "operator": [[0, 1], [0, 0]],
            },
            id="real-lead-annihilator",
        ),
    ],
)
def test_matrix_operator_is_the_named_operator(by_name, by_matrix):
    """A matrix written in TOML couples the medium as the operator of that name does (same NESS)."""
    medium = (
        {"type": "Levels", "energies": [0.0, 1.0]} if by_name["type"] == "fermionic" else _QUBIT["medium"]
    )
    cold = {**by_name, "name": "cold", "T": 0.5}
    named = design_from_dict({"medium": medium, "reservoirs": [by_name, cold]}).steady_state()
    design = design_from_dict({"medium": medium, "reservoirs": [by_matrix, cold]})
    matrix = design.reservoirs[0].operator
    assert matrix.dtype == np.complex128 and not matrix.flags.writeable
    np.testing.assert_array_equal(matrix, design.medium.operator(by_name["operator"], None))
    ness = design.steady_state()
    assert np.max(np.abs(ness.rho - named.rho)) < 1e-12
    assert ness.heat_currents["hot"] == pytest.approx(named.heat_currents["hot"], rel=TOL)


def test_matrix_operator_on_a_site_is_embedded():
    """On a Composite, a reservoir's d_s x d_s matrix acts on its `site`, as the operator name does."""
    named = design_from_dict(_two_qubits("sigma_x", 0)).steady_state()
    ness = design_from_dict(_two_qubits([[0, 1], [1, 0]], 0)).steady_state()
    assert np.max(np.abs(ness.rho - named.rho)) < 1e-12
    assert ness.heat_currents["hot"] == pytest.approx(named.heat_currents["hot"], rel=TOL)


@pytest.mark.parametrize(
    ("operator", "site", "message"),
    [
        pytest.param(
            np.eye(4).tolist(),
            0,
            "`operator` must be of shape (2, 2) (the dimension of site 0), got 'a matrix of shape (4, 4)'.",
            id="full-space-on-a-site",
        ),
        pytest.param(
            np.eye(2).tolist(),
            None,
            "`site` must be a site index 0..1 for a matrix operator on this medium, got None.",
            id="no-site",
        ),
        pytest.param(
            np.eye(2).tolist(),
            2,
            "`site` must be a site index 0..1 for a matrix operator on this medium, got 2.",
            id="site-out-of-range",
        ),
    ],
)
def test_matrix_operator_on_a_composite_needs_its_site(operator, site, message):
    with pytest.raises(WorkbenchError) as info:
        design_from_dict(_two_qubits(operator, site), source="bad.toml")
    assert str(info.value) == f"bad.toml: reservoirs[0] ('hot'): {message}"


def _channel(jump, **fields) -> dict:
    return {
        "medium": {"type": "Qubit", "omega": 1.0},
        "reservoirs": [
            {"name": "pump", "type": "channel", "jumps": [{"operator": jump, "rate": 0.2}], **fields},
            {"name": "bath", "type": "bosonic", "T": 0.5, "coupling": 0.1, "operator": "sigma_x"},
        ],
    }


def test_channel_jumps_energy_and_particles_take_matrices():
    """A channel's jump (and its energy and particle observables) as matrices equal the named ones."""
    sigma_plus = design_from_dict(_channel("sigma_plus")).medium.operator("sigma_plus", None)
    sigma_z = design_from_dict(_channel("sigma_plus")).medium.operator("sigma_z", None)
    named = design_from_dict(_channel("sigma_plus", particles="sigma_z")).steady_state()
    design = design_from_dict(
        _channel(
            sigma_plus.real.tolist(), particles=sigma_z.real.tolist(), energy=np.diag([-0.5, 0.5]).tolist()
        )
    )
    ness = design.steady_state()
    assert np.max(np.abs(ness.rho - named.rho)) < 1e-12
    assert ness.particle_currents["pump"] == pytest.approx(named.particle_currents["pump"], rel=TOL)


@pytest.mark.parametrize(
    ("design", "message"),
    [
        pytest.param(
            _channel([[0, 1, 0], [0, 0, 0], [0, 0, 0]]),
            "bad.toml: reservoirs[0] ('pump') jumps[0]: `operator` must be of shape (2, 2) (the medium's "
            "dimension), got 'a matrix of shape (3, 3)'.",
            id="jump-dimension",
        ),
        pytest.param(
            _channel("sigma_plus", particles=[[1, 0], [0, "x"]]),
            "bad.toml: reservoirs[0] ('pump'): `particles[1][1]` must be a number or an [re, im] pair of "
            "numbers, got 'x'.",
            id="particles-entry",
        ),
        pytest.param(
            _channel({"re": 1}),
            "bad.toml: reservoirs[0] ('pump') jumps[0]: `operator` must be an operator name (a string) or "
            "a matrix written as an array of rows of numbers (complex entries as [re, im] pairs), "
            "got {'re': 1}.",
            id="jump-table",
        ),
    ],
)
def test_bad_channel_matrix_is_one_line(design, message):
    with pytest.raises(WorkbenchError) as info:
        design_from_dict(design, source="bad.toml")
    assert str(info.value) == message


def _chain_coupling(**changes):
    """A mutation of the two-qubit chain example's coupling table."""

    def mutate(d):
        d["medium"]["couplings"][0].update(changes)

    return mutate


def _chain_hot(**changes):
    """A mutation of the two-qubit chain example's hot bath (None deletes the key)."""

    def mutate(d):
        bath = d["reservoirs"][0]
        bath.update({k: v for k, v in changes.items() if v is not None})
        for k in (k for k, v in changes.items() if v is None):
            del bath[k]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            _chain_hot(site=None),
            r"reservoirs\[0\] \('hot'\): Composite: `site` must be an integer site index 0..1 "
            r"\(this medium has 2 sites\), got None",
            id="site-missing-on-composite",
        ),
        pytest.param(
            _chain_hot(site=2),
            r"Composite: `site` must be an integer site index 0..1, got 2",
            id="site-beyond-composite",
        ),
        pytest.param(
            _chain_hot(spectrum="ohmic", dephasing=0.1),
            r"reservoirs\[0\] \('hot'\): BosonicBath 'hot': `dephasing` must be 0 for the ohmic spectrum",
            id="dephasing-on-ohmic",
        ),
        pytest.param(
            _chain_coupling(phase=0.0),
            r"unknown key 'phase' in medium.couplings\[0\]",
            id="unknown-coupling-key",
        ),
        pytest.param(
            _chain_coupling(factors=["sigma_plus", 0]),
            r"\[medium\]: Composite: `couplings\[0\] factor` must be an \(operator_name, site\) pair, "
            r"got 'sigma_plus'",
            id="coupling-factors-flat",
        ),
        pytest.param(
            _chain_coupling(factors=[["sigma_plus", 0], ["a", 1]]),
            r"Composite: couplings\[0\] factor \('a', 1\) is not valid on site 1",
            id="coupling-operator",
        ),
        pytest.param(
            _chain_coupling(strength="weak"),
            r"`couplings\[0\] strength` must be a real number",
            id="coupling-strength-string",
        ),
    ],
)
def test_bad_composite_or_bath_names_the_field(mutate, message):
    data = copy.deepcopy(_CHAIN)
    mutate(data)
    with pytest.raises(WorkbenchError, match=message):
        design_from_dict(data, source="bad.toml")


def test_missing_file_is_a_workbench_error(tmp_path):
    with pytest.raises(WorkbenchError, match=r"nowhere.toml: no such design file"):
        load_design(tmp_path / "nowhere.toml")


def test_malformed_toml_reports_line_and_column(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[medium]\ntype = "Qubit"\nomega = \n')
    with pytest.raises(WorkbenchError, match=r"broken.toml: not valid TOML: .*\(at line 3, column 9\)"):
        load_design(path)


def test_non_utf8_file_is_a_workbench_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Schrödinger"\n'.encode("latin-1"))
    with pytest.raises(WorkbenchError, match=r"latin1.toml: not valid TOML"):
        load_design(path)


def test_run_is_steady_state_for_an_engine():
    """`Design.run` of a continuous machine is its `steady_state`, with the same solver choice."""
    design = design_from_dict(_example("qubit_two_baths.toml"))
    ran, direct = design.run("dense"), design.steady_state("dense")
    assert ran.solver == direct.solver == "dense"
    assert ran.heat_currents == pytest.approx(direct.heat_currents, rel=TOL)


def test_solver_errors_name_the_design():
    """Errors raised while solving carry the design's source too."""
    data = copy.deepcopy(_QUBIT)
    data["drive"] = {"levels": [0, 1], "strength": 0.1}
    with pytest.raises(WorkbenchError, match=r"^q.toml: steady_state: `solver` 'pauli' needs an undriven"):
        design_from_dict(data, source="q.toml").steady_state("pauli")


# ------------------------------------------------------------------- one message style, options
def _error(build) -> str:
    """The message of the WorkbenchError `build()` raises (a constructor called directly)."""
    with pytest.raises(WorkbenchError) as info:
        build()
    return str(info.value)


_HOT = dict(name="hot", T=2.0, coupling=0.01, operator="sigma_x")


@pytest.mark.parametrize(
    ("mutate", "where", "build"),
    [
        pytest.param(
            _set("reservoirs.0.T", -1.0),
            "reservoirs[0] ('hot')",
            lambda: engines.BosonicBath(**{**_HOT, "T": -1.0}),
            id="bath-T",
        ),
        pytest.param(
            _set("reservoirs.0.spectrum", "lorentzian"),
            "reservoirs[0] ('hot')",
            lambda: engines.BosonicBath(**_HOT, spectrum="lorentzian"),
            id="bath-spectrum",
        ),
        pytest.param(
            lambda d: d["reservoirs"][0].update(spectrum="ohmic", dephasing=0.1),
            "reservoirs[0] ('hot')",
            lambda: engines.BosonicBath(**_HOT, spectrum="ohmic", dephasing=0.1),
            id="bath-dephasing-ohmic",
        ),
        pytest.param(
            _set("reservoirs.0.operator", "sigma_q"),
            "reservoirs[0] ('hot')",
            lambda: engines.Qubit(1.0).local_operator("sigma_q", None),
            id="operator-name",
        ),
        pytest.param(
            _set("medium.omega", "one"), "[medium]", lambda: engines.Qubit(omega="one"), id="medium-omega"
        ),
        pytest.param(
            _set("engine.flavour", "regional"),
            "[engine]",
            lambda: engines.Engine(engines.Qubit(1.0), [engines.BosonicBath(**_HOT)], "regional"),
            id="engine-flavour",
        ),
        pytest.param(
            _set("drive", {"levels": [0, 5], "strength": 0.1}),
            "[drive]",
            lambda: engines.Drive(levels=[0, 5], strength=0.1).rotating_hamiltonian(np.diag([0.5, -0.5])),
            id="drive-levels",
        ),
        pytest.param(
            _set("options", {"residual_tl": 1e-12}),
            "[options]",
            lambda: engines.Options.coerce({"residual_tl": 1e-12}),
            id="options-name",
        ),
        pytest.param(
            _set("options", {"residual_tol": -1.0}),
            "[options]",
            lambda: engines.Options(residual_tol=-1.0),
            id="options-value",
        ),
    ],
)
def test_constructor_errors_get_only_the_file_and_table_in_front(mutate, where, build):
    """One message style: what the loader reports is the constructor's own message, prefixed with the
    file and the table (no second copy of the check in the loader, in words of its own)."""
    data = copy.deepcopy(_QUBIT)
    mutate(data)
    with pytest.raises(WorkbenchError) as info:
        design_from_dict(data, source="x.toml")
    assert str(info.value) == f"x.toml: {where}: {_error(build)}"


@pytest.mark.parametrize(
    ("mutate", "suggestion"),
    [
        pytest.param(_set("reservoir", []), "reservoirs", id="top-level"),
        pytest.param(_set("medium.omgea", 1.0), "omega", id="medium"),
        pytest.param(_set("reservoirs.1.couplng", 0.1), "coupling", id="reservoir"),
        pytest.param(_set("engine.solvr", "dense"), "solver", id="engine"),
        pytest.param(_set("drive", {"levels": [0, 1], "strenght": 0.1}), "strength", id="drive"),
    ],
)
def test_unknown_key_suggests_the_closest_allowed_key(mutate, suggestion):
    data = copy.deepcopy(_QUBIT)
    mutate(data)
    with pytest.raises(WorkbenchError, match=rf"; allowed keys: .*; did you mean {suggestion!r}\?$"):
        design_from_dict(data, source="x.toml")


def test_unknown_key_far_from_every_allowed_key_gets_no_suggestion():
    data = copy.deepcopy(_QUBIT)
    data["reservoirs"][0]["temperature"] = 2.0
    with pytest.raises(WorkbenchError, match=r"allowed keys: name, type, T, .*, dephasing\.$"):
        design_from_dict(data, source="x.toml")


def test_options_reach_the_engine_and_its_solver():
    """``[options]`` becomes the engine's `engines.Options`: dense_max_dim = 2 sends the driven maser
    (d = 3, not secular) from the dense solve to the iterative one, with the same NESS."""
    data = _example("maser.toml")
    dense = design_from_dict(data).steady_state()
    data["options"] = {"dense_max_dim": 2, "residual_tol": 1e-10}
    design = design_from_dict(data)
    assert design.options == engines.Options(dense_max_dim=2, residual_tol=1e-10)
    assert design.engine.options is design.options
    iterative = design.steady_state()
    assert (dense.solver, iterative.solver) == ("dense", "iterative")
    assert iterative.power == pytest.approx(dense.power, rel=1e-8)


def test_options_must_be_a_table():
    data = copy.deepcopy(_QUBIT)
    data["options"] = 1e-9
    with pytest.raises(WorkbenchError, match=r"^x.toml: \[options\] must be a table, got float"):
        design_from_dict(data, source="x.toml")
