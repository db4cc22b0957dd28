"""The audit (`analysis.audit`, `qhe audit`): which master equation to trust.

References: Levy & Kosloff, EPL 107, 20004 (2014) (local master equation and the second law); Hofer
et al., NJP 19, 123037 (2017) (local for g << kappa, global for g >> kappa); De Chiara et al., NJP 20,
113024 (2018) (boundary work of bare bookkeeping).
"""

import pytest

from analysis.audit import audit
from engines import (
    BosonicBath,
    Composite,
    Engine,
    Qubit,
    WorkbenchError,
)


def _two_qubits(w_right, g, kappa, T_left, T_right, flavour="local", bookkeeping="full"):
    medium = Composite([Qubit(1.0), Qubit(w_right)], [(g, [("sigma_plus", 0), ("sigma_minus", 1)])])
    baths = [
        BosonicBath("left", T_left, kappa, "sigma_x", site=0),
        BosonicBath("right", T_right, kappa, "sigma_x", site=1),
    ]
    return Engine(medium, baths, flavour=flavour, bookkeeping=bookkeeping)


def _topics(result, severity):
    return {f.topic for f in result.findings if f.severity == severity}


def test_levy_kosloff_machine_is_flagged_and_passes_in_the_global_flavour():
    """Detuned qubits (1 and 2, g = 0.1) with local dissipators booked against the full H run heat from
    the colder to the hotter bath; the same machine in the global flavour is clean."""
    local = _two_qubits(2.0, 0.1, 0.01, 0.75, 1.25)
    result = audit(local)
    assert "second law" in _topics(result, "error")
    assert any("Levy & Kosloff" in f.message for f in result.findings)
    assert not result.clean
    glob = audit(local.replace(flavour="global", bookkeeping=None))
    assert glob.clean, glob.findings
    assert glob.recommended == "global"


def test_recommends_local_for_weak_internal_coupling_and_global_for_strong():
    weak = audit(_two_qubits(1.0, 1e-4, 0.01, 2.0, 0.5, bookkeeping="bare"))
    assert weak.recommended == "local"
    strong = audit(_two_qubits(1.0, 0.1, 1e-3, 2.0, 0.5, flavour="global", bookkeeping=None))
    assert strong.recommended == "global"
    assert strong.clean, strong.findings


def test_every_flavour_side_by_side():
    result = audit(_two_qubits(1.0, 0.02, 0.01, 2.0, 0.5, flavour="global", bookkeeping=None))
    flavours = [(r["flavour"], r["bookkeeping"]) for r in result.flavours]
    assert ("global", "full") in flavours and ("local", "bare") in flavours and ("local", "full") in flavours
    assert {"unified", "redfield"} <= {f for f, _ in flavours}
    assert all("J_left" in r or r["error"] for r in result.flavours)


def test_audit_refuses_what_is_not_an_engine_or_has_no_regime_rule():
    from engines import HarmonicOscillator, SqueezedBath

    with pytest.raises(WorkbenchError, match="`engine`"):
        audit("maser.toml")
    squeezed = Engine(HarmonicOscillator(1.0, 20), [SqueezedBath("hot", 1.0, 0.3, 0.0, 0.01, "x")])
    with pytest.raises(WorkbenchError, match="non-thermal"):
        audit(squeezed)


def test_qhe_audit_exit_status_and_json(tmp_path):
    """0 for a clean design, 1 with findings (the bundled chain booked locally at strong exchange), 2 for
    a cycle."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"

    def qhe(*args):
        proc = subprocess.run(
            [sys.executable, "-m", "analysis.cli", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        return proc.returncode, proc.stdout, proc.stderr

    code, text, err = qhe("audit", examples / "two_qubit_chain.toml", "--json")
    assert code == 0, err
    payload = json.loads(text)
    assert payload["clean"] and {r["flavour"] for r in payload["flavours"]} >= {"global", "local", "unified"}
    code, text, _ = qhe(
        "audit", examples / "xxz_chain.toml", "--set", "medium.J=1", "--set", "medium.field=0.3"
    )
    assert code == 1 and "differs from 'unified'" in text
    code, _, err = qhe("audit", examples / "otto_qubit.toml")
    assert code == 2 and err.count("\n") == 1
