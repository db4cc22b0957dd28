"""Smoke tests of the benchmark programs in ``benchmarks/`` and of their results files.

Each program's ``--quick`` run must exit 0 (it exits 1 when its answer disagrees with QuTiP's) and
write a results file with the stamp and the rows `benchmarks/_common.py` describes. No time is ever
asserted (docs/architecture.md): the benchmarks measure speed, these tests only that they run and
report what they measured. ``benchmarks/report.py --check`` must find the generated READMEs current.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
#: A quick run that takes longer than this has hung (they take seconds to a minute).
QUICK_TIMEOUT = 900.0
#: The ratio in a row is QuTiP's time over ours, to rounding.
RATIO_RTOL = 1e-12
#: Tables each program writes.
PROGRAMS = {
    "ness_sweep": ("sweep",),
    "chain_scaling": ("global", "local"),
    "cycle_table": ("part1", "part2"),
    "sweep_throughput": ("sweep",),
    "master_equations": ("redfield", "unified"),
    "ledger_trajectory": ("global", "local"),
    "chain_transport": ("local", "global"),
}
STAMP_KEYS = {
    "git",
    "date_utc",
    "finished_utc",
    "command",
    "argv",
    "machine",
    "packages",
    "code",
    "load_average",
    "threads",
}
MACHINE_KEYS = {"platform", "cpus", "python"}
PACKAGE_KEYS = {"numpy", "scipy", "numba", "qutip"}
TABLE_KEYS = {"name", "title", "ours", "qutip", "time", "agreement", "peak_memory", "columns", "rows"}
ROW_KEYS = {
    "case",
    "size",
    "ours",
    "qutip",
    "ratio_qutip_over_ours",
    "ratio_lower_bound",
    "agreement",
    "extra",
}
SIDE_KEYS = {"status", "time_s", "peak_memory_bytes"}


# The programs import their helpers as top-level modules; appended, so that nothing is shadowed.
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))
common = importlib.import_module("_common")
report = importlib.import_module("report")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=QUICK_TIMEOUT
    )


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in PROGRAMS])
def test_quick_run_exits_0_and_writes_its_results(name, tmp_path):
    """``python benchmarks/<name>.py --quick`` agrees with QuTiP (exit 0) and writes a stamped file."""
    done = _run(f"benchmarks/{name}.py", "--quick", "--results-dir", str(tmp_path))
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    data = json.loads((tmp_path / f"{name}.json").read_text())
    assert not list(tmp_path.glob(".*.tmp")), "the atomic writer left its temporary file"

    assert (data["schema"], data["benchmark"], data["quick"], data["exit_status"]) == (
        common.SCHEMA_VERSION,
        name,
        True,
        0,
    )
    stamp = data["stamp"]
    assert STAMP_KEYS <= stamp.keys()
    assert MACHINE_KEYS <= stamp["machine"].keys() and PACKAGE_KEYS <= stamp["packages"].keys()
    assert stamp["command"].startswith(f"python benchmarks/{name}.py") and "--quick" in stamp["argv"]
    commit = stamp["git"]["commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    # The programs measure the checkout they live in, not an installed copy elsewhere.
    assert stamp["code"] == {pkg: str(ROOT / pkg) for pkg in ("engines", "cycles", "analysis")}
    assert {"before", "after"} <= stamp["load_average"].keys()
    threads = stamp["threads"]
    assert {"numba", "blas", "setting"} <= threads.keys() and "summary" in threads["blas"]

    assert tuple(t["name"] for t in data["tables"]) == PROGRAMS[name]
    for table in data["tables"]:
        assert TABLE_KEYS <= table.keys() and table["rows"]
        tolerance = table["agreement"]["tolerance"]
        for row in table["rows"]:
            assert ROW_KEYS <= row.keys() and row["size"]
            for side in ("ours", "qutip"):
                assert SIDE_KEYS <= row[side].keys()
                assert row[side]["status"] in common.STATUSES
                assert (row[side]["status"] == "ok") == (row[side]["time_s"] is not None)
            if row["ratio_qutip_over_ours"] is not None:
                expected = row["qutip"]["time_s"] / row["ours"]["time_s"]
                assert math.isclose(row["ratio_qutip_over_ours"], expected, rel_tol=RATIO_RTOL)
            if row["agreement"] is not None:
                assert row["agreement"] <= tolerance
            for key, _ in table["columns"]:
                assert key in row["extra"]


def test_quick_runs_write_to_the_ignored_quick_directory():
    """Without ``--results-dir``, quick runs go to benchmarks/results/quick/, which git ignores."""
    assert common.results_path("x", quick=False) == BENCHMARKS / "results" / "x.json"
    quick = common.results_path("x", quick=True)
    assert quick == BENCHMARKS / "results" / "quick" / "x.json"
    if (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", str(quick)], cwd=ROOT, timeout=30)
        assert ignored.returncode == 0, f"{quick} is not git-ignored"


def test_results_file_is_replaced_atomically(tmp_path):
    """A failed write (a NaN) leaves the previous file whole and no temporary file behind."""
    path = tmp_path / "bench.json"
    common.write_json(path, {"x": 1.0})
    with pytest.raises(ValueError):
        common.write_json(path, {"x": float("nan")})
    assert json.loads(path.read_text()) == {"x": 1.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_row_without_a_time_needs_a_reason_status():
    """A row cannot claim "ok" without a time, nor a time with a failure status."""
    with pytest.raises(ValueError):
        common.Row(case="c", size={"N": 4}, ours_s=1.0, qutip_s=None, qutip_status="ok")
    with pytest.raises(ValueError):
        common.Row(case="c", size={"N": 4}, ours_s=1.0, qutip_s=2.0, qutip_status="timeout")
    row = common.Row(case="c", size={"N": 4}, ours_s=2.0, qutip_s=None, qutip_status="not run").to_dict()
    assert row["ratio_qutip_over_ours"] is None and row["qutip"]["status"] == "not run"


@pytest.mark.parametrize(
    ("ours", "qutip", "shown"),
    [
        pytest.param(2.0, 1.0, "0.5 (QuTiP 2x faster)", id="qutip-faster"),
        pytest.param(1.0, 250.0, "250", id="ours-faster"),
    ],
)
def test_report_shows_every_ratio(ours, qutip, shown):
    """The generated tables print ratios below 1 as numbers, never as '-'."""
    row = common.Row(case="c", size={"N": 4}, ours_s=ours, qutip_s=qutip).to_dict()
    assert report.ratio(row) == shown


def test_generated_readmes_are_current():
    """benchmarks/README.md and README.md's Performance table match the results and the programs."""
    done = _run("benchmarks/report.py", "--check")
    assert done.returncode == 0, done.stderr
