"""Sweeps by dotted name (`analysis.parameters`, `analysis.sweep`): paths, chunks, resumption, Dask.

The fast paths are checked against the per-point path on the same grid (the batched kernel and
`Cycle.sweep` against one solve per design), and the per-point path against closed forms of
tests/systems.py; chunked, resumed and distributed sweeps against one uninterrupted in-process run.
"""

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import systems

from analysis.parameters import parameters, with_values
from analysis.sweep import Grid, plan, run_sweep
from engines import WorkbenchError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: Fast path against per-point solves of the same designs.
PATH_TOL = 1e-10
#: Closed forms against the solver.
CLOSED_FORM_RTOL = 1e-8


def _example(stem):
    with open(EXAMPLES / f"{stem}.toml", "rb") as f:
        return tomllib.load(f)


def _numeric(frame):
    return frame.select_dtypes("number")


def _assert_same_table(a, b, atol=PATH_TOL):
    assert list(a["mode"]) == list(b["mode"])
    common = [c for c in _numeric(a).columns if c in b.columns and c != "residual"]
    np.testing.assert_allclose(a[common].to_numpy(float), b[common].to_numpy(float), rtol=0, atol=atol)


# ------------------------------------------------------------------------------ dotted names
def test_every_example_field_has_a_dotted_name_that_sets_it():
    """Setting each listed parameter of every bundled example changes exactly that field."""
    for path in sorted(EXAMPLES.glob("*.toml")):
        with open(path, "rb") as f:
            data = tomllib.load(f)
        for name, value in parameters(data).items():
            if value is None or isinstance(value, int) or not math.isfinite(value):
                continue
            changed = parameters(with_values(data, {name: value + 0.25}))
            assert changed[name] == pytest.approx(value + 0.25), (path.name, name)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        pytest.param("reservoirs.hot.Temp", "reservoirs.hot.T", id="reservoir-field"),
        pytest.param("reservoirs.warm.T", "reservoirs.hot.T", id="reservoir-name"),
        pytest.param("drive.strenght", "drive.strength", id="drive"),
    ],
)
def test_unknown_name_is_refused_with_the_closest_names(name, hint):
    with pytest.raises(WorkbenchError, match=f"no parameter '{name}'.*did you mean.*'{hint}'"):
        with_values(_example("maser"), {name: 1.0}, source="maser.toml")


def test_named_cycle_stroke_duration_aliases_its_keyword():
    """strokes.hot.duration of an Otto cycle is the constructor's tau_hot."""
    data = _example("otto_qubit")
    assert with_values(data, {"strokes.hot.duration": 3.0})["cycle"]["tau_hot"] == 3.0


def test_grid_specs():
    grid = Grid.parse(["reservoirs.hot.T=1:3:3", "drive.strength=0.1,0.2"])
    assert grid.names == ("reservoirs.hot.T", "drive.strength")
    np.testing.assert_array_equal(grid.values[:, 0], [1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(grid.values[:, 1], [0.1, 0.2] * 3)
    np.testing.assert_allclose(Grid.parse(["x=1:100:3:log"]).values[:, 0], [1, 10, 100])
    with pytest.raises(WorkbenchError, match="NAME=start:stop:num"):
        Grid.parse(["reservoirs.hot.T"])


# ------------------------------------------------------------------------------------ paths
def test_maser_batch_path_equals_per_point_solves():
    """The batched kernel's table equals one steady_state() per design (the dense solver: d = 3 driven)."""
    data = _example("maser")
    grid = Grid.parse(["reservoirs.hot.T=2:20:4", "drive.strength=0.01:0.1:3"])
    fast = run_sweep(data, grid)
    slow = run_sweep(data, grid, path="per-point")
    assert (fast.path, slow.path) == ("batch", "per-point")
    assert set(slow.to_frame()["solver"]) == {"dense"}
    _assert_same_table(fast.to_frame(), slow.to_frame())


def test_qubit_between_baths_per_point_rows_equal_the_closed_form():
    """Per-point rows of a qubit between two baths against the rate equation's closed form."""
    data = _example("qubit_two_baths")
    grid = Grid.parse(["reservoirs.hot.T=1:5:5"])
    table = run_sweep(data, grid, path="per-point").to_frame()
    hot = next(r for r in data["reservoirs"] if r["name"] == "hot")
    cold = next(r for r in data["reservoirs"] if r["name"] == "cold")
    w = data["medium"]["omega"]
    for T_h, J in zip(table["reservoirs.hot.T"], table["J_hot"]):
        _, expected = systems.qubit_two_baths_current(w, T_h, cold["T"], hot["coupling"], cold["coupling"])
        assert J == pytest.approx(expected, rel=CLOSED_FORM_RTOL)


def test_cycle_sweep_path_equals_per_point_limit_cycles():
    """`Cycle.sweep` over relaxation durations equals one limit_cycle() per point; a unitary duration
    goes per point."""
    data = _example("otto_qubit")
    grid = Grid.parse(["cycle.tau_hot=0.5:4:3", "cycle.tau_cold=1,2"])
    assert plan(data, grid.names)[0] == "cycle-sweep"
    fast = run_sweep(data, grid).to_frame()
    forced = Grid(
        ("cycle.tau_hot", "cycle.tau_cold", "cycle.tau_compress"),
        np.column_stack([grid.values, np.full(len(grid), data["cycle"].get("tau_compress", 0.0))]),
    )
    assert plan(data, forced.names)[0] == "per-point"
    slow = run_sweep(data, forced).to_frame()
    _assert_same_table(fast, slow)


def test_failing_points_get_a_row_with_the_error():
    """A negative temperature is refused by the reservoir; the sweep records it and goes on."""
    data = _example("qubit_two_baths")
    table = run_sweep(data, Grid.parse(["reservoirs.hot.T=-1,2"]), path="per-point").to_frame()
    assert list(table["mode"]) == ["failed", "transport"]
    assert "`T` must be >= 0" in table["error"][0]
    assert table["error"][1] is None or (
        isinstance(table["error"][1], float) and math.isnan(table["error"][1])
    )


def test_a_failing_point_in_a_batched_chunk_gets_its_row_and_the_rest_are_solved():
    """Both couplings 0 leave the qubit's populations conserved (no unique NESS): the batched kernel
    refuses the chunk, which is then solved point by point; only that point fails."""
    data = _example("qubit_two_baths")
    grid = Grid.parse(["reservoirs.hot.coupling=0,0.01", "reservoirs.cold.coupling=0,0.01"])
    result = run_sweep(data, grid)
    table = result.to_frame()
    assert (result.path, result.n_failed) == ("batch", 1)
    assert list(table["mode"]) == ["failed", "equilibrium", "equilibrium", "transport"]
    assert "not unique" in table["error"][0]
    assert set(table["path"]) == {"per-point"}  # the rows say how they were solved
    hot, cold = (next(r for r in data["reservoirs"] if r["name"] == n) for n in ("hot", "cold"))
    _, expected = systems.qubit_two_baths_current(data["medium"]["omega"], hot["T"], cold["T"], 0.01, 0.01)
    assert table["J_hot"][3] == pytest.approx(expected, rel=CLOSED_FORM_RTOL)
    assert table["J_hot"][1] == table["J_hot"][2] == 0.0


# ---------------------------------------------------------------------- chunks and resumption
def test_chunked_sweep_writes_parts_and_a_manifest(tmp_path):
    data = _example("qubit_two_baths")
    grid = Grid.parse(["reservoirs.hot.T=1:5:7"])
    result = run_sweep(data, grid, directory=tmp_path, chunk_size=3)
    assert sorted(p.name for p in tmp_path.glob("part-*.parquet")) == [
        f"part-0000{i}.parquet" for i in range(3)
    ]
    _assert_same_table(result.to_frame(), run_sweep(data, grid).to_frame())
    other = Grid.parse(["reservoirs.hot.T=1:5:8"])
    with pytest.raises(WorkbenchError, match="another grid"):
        run_sweep(data, other, directory=tmp_path, chunk_size=3)


#: A sweep whose chunks take 50 ms each, so that it can be killed part-way.
SLOW_SWEEP = textwrap.dedent(
    """
    import sys, time, tomllib
    import analysis.sweep as sweep
    solve = sweep.solve_chunk
    def slow(*args):
        time.sleep(0.05)
        return solve(*args)
    sweep.solve_chunk = slow
    data = tomllib.load(open(sys.argv[1], "rb"))
    sweep.run_sweep(data, sweep.Grid.parse(["reservoirs.hot.T=1:5:400"]), directory=sys.argv[2], chunk_size=4)
    """
)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path):
    """Kill a sweep after some chunks; the re-run computes only the missing ones and equals a full run."""
    out = tmp_path / "sweep"
    design = EXAMPLES / "qubit_two_baths.toml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SWEEP, str(design), str(out)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    if len(finished) >= 100:
        pytest.skip("the sweep finished before it could be interrupted (machine too fast for this test)")
    assert len(finished) >= 3
    data = _example("qubit_two_baths")
    grid = Grid.parse(["reservoirs.hot.T=1:5:400"])
    resumed = run_sweep(data, grid, directory=out, chunk_size=4)
    for name, mtime in finished.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert len(list(out.glob("part-*.parquet"))) == 100
    _assert_same_table(resumed.to_frame(), run_sweep(data, grid).to_frame())


# --------------------------------------------------------------------------------------- Dask
@pytest.mark.slow
def test_sweep_on_a_local_dask_cluster_equals_the_in_process_table():
    data = _example("qubit_two_baths")
    grid = Grid.parse(["reservoirs.hot.T=1:5:6", "reservoirs.cold.T=0.5,1"])
    local = run_sweep(data, grid, chunk_size=4).to_frame()
    distributed = run_sweep(data, grid, chunk_size=4, workers=2).to_frame()
    _assert_same_table(local, distributed, atol=0.0)
