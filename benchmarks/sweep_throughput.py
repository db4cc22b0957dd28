"""Benchmark: what the sweep machinery (`qhe sweep`) costs over the solvers it calls, and `qhe run`.

Four measurements, each in this run:

1. **Maser table**: a T_h x drive-strength grid of the three-level maser (`examples/maser.toml`)
   through `qhe sweep ... --out DIR` (Parquet chunks and a manifest: the table), against `Batch.solve` on
   the same grid called directly, and against a per-point loop over QuTiP's
   `steadystate(H, c_ops, method="svd")` on a random sample (the loop of `ness_sweep.py`; the default
   `steadystate` on a quarter of it is recorded too), extrapolated to the grid.  Targets: within 1.5x
   of `Batch`, at least 1000x QuTiP.
2. **Otto table**: the qubit Otto cycle (`examples/otto_qubit.toml`) over (tau_hot, tau_cold) through
   `qhe sweep` against `Cycle.sweep` on the same grid.  Target: within 1.5x.
3. **Per point on workers**: a design the batched kernel does not take (a local-flavour XXZ chain
   of 6 sites, d = 64, iterative solver) swept point by point in this process and on a local Dask
   cluster of 2 workers (`--workers 2`, cluster start-up included).  Target: at least 1.7x faster.
4. **qhe run**: the command on `examples/maser.toml` in a fresh interpreter (warm numba cache), the
   median of several runs.  Target: under 0.5 s.

Run `python benchmarks/sweep_throughput.py --help` for the options; this is a program that prints a
table, never a test (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
from _common import REPO_ROOT, Recorder, Row, Table, add_results_argument, best_of, print_table
from ness_sweep import maser_parameters, run_qutip

from analysis.cli import main as qhe
from analysis.design import design_from_dict
from analysis.sweep import read_table
from engines import Batch

EXAMPLES = REPO_ROOT / "examples"
#: Our tables against each other and against QuTiP (relative to the largest current).
AGREEMENT_TOL = 1e-9
QUTIP_AGREEMENT_TOL = 1e-6
TARGET_CLI_OVERHEAD = 1.5
TARGET_QUTIP_RATIO = 1000.0
TARGET_WORKERS_SPEEDUP = 1.7
TARGET_RUN_S = 0.5

#: The per-point design: a local-flavour XXZ chain between two baths (too big for the batched kernel).
CHAIN = """
[medium]
type = "SpinChain"
n = 6
J = 1.0
Delta = 0.5
field = 1.0

[engine]
flavour = "local"

[[reservoirs]]
name = "hot"
type = "bosonic"
T = 2.0
coupling = 0.1
operator = "sigma_x"
site = 0

[[reservoirs]]
name = "cold"
type = "bosonic"
T = 0.5
coupling = 0.1
operator = "sigma_x"
site = 5
"""


def _load(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


def _spec(name: str, lo: float, hi: float, n: int) -> str:
    return f"{name}={lo}:{hi}:{n}"


def _sweep_cli(design: Path, grids, out: Path, extra=()) -> float:
    """Wall time of `qhe sweep DESIGN --grid ... --out OUT --quiet` in this process."""
    args = ["sweep", str(design)]
    for g in grids:
        args += ["--grid", g]
    args += ["--out", str(out), "--quiet"]
    start = time.perf_counter()
    with open("/dev/null", "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            status = qhe([*args, *extra])
        finally:
            sys.stdout = stdout
    elapsed = time.perf_counter() - start
    if status != 0:
        sys.exit(f"sweep_throughput: qhe {' '.join(args)} exited with {status}")
    return elapsed


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def maser(args, work: Path) -> Row:
    design = EXAMPLES / "maser.toml"
    n = args.maser_axis
    T_h = np.linspace(1.0, 20.0, n)
    eps = np.linspace(1e-3, 0.1, n)
    grids = [_spec("reservoirs.hot.T", 1.0, 20.0, n), _spec("drive.strength", 1e-3, 0.1, n)]
    out = work / "maser"  # a sweep directory: the chunks are the table

    def cli():
        for p in (out, Path(f"{out}.parts")):  # a fresh sweep each time, not a resumed one
            subprocess.run(["rm", "-rf", str(p)], check=True)
        return _sweep_cli(design, grids, out)

    cli()  # warm-up: numba's cache, imports
    cli_s = min(cli() for _ in range(args.repeat))
    table = read_table(out)
    engine = design_from_dict(_load(design)).engine
    values = np.array([(a, b) for a in T_h for b in eps])
    batch = Batch(engine, ["hot.T", "drive.strength"])
    batch_s, result, _ = best_of(
        args.repeat, lambda: Batch(engine, ["hot.T", "drive.strength"]).solve(values)
    )
    heat = np.column_stack([table["J_hot"], table["J_cold"]])
    agreement = _relative(heat, np.asarray(result.heat))
    rng = np.random.default_rng(args.seed)
    sample = values[rng.choice(len(values), size=min(args.qutip_sample, len(values)), replace=False)]
    names = [r.name for r in batch.reservoirs]
    qt = run_qutip(maser_parameters(engine), sample, names, 1, "svd")
    default = run_qutip(maser_parameters(engine), sample[: max(1, len(sample) // 4)], names, 1, None)
    qutip_agreement = _relative(qt["heat"], np.asarray(batch.solve(sample).heat))
    qutip_s = len(values) / qt["rate"]
    return Row(
        case="maser table via qhe sweep",
        size={"designs": len(values)},
        ours_s=cli_s,
        qutip_s=qutip_s,
        qutip_reason=f"steadystate(method='svd') loop over {len(sample)} random designs, extrapolated",
        agreement=qutip_agreement,
        extra={
            "batch_direct_s": batch_s,
            "cli_over_batch": cli_s / batch_s,
            "qutip_default_s": len(values) / default["rate"],
            "qutip_default_over_ours": len(values) / default["rate"] / cli_s,
            "agreement_with_batch": agreement,
            "target_cli_overhead_met": cli_s / batch_s <= TARGET_CLI_OVERHEAD,
            "target_qutip_ratio_met": qutip_s / cli_s >= TARGET_QUTIP_RATIO,
        },
    )


def otto(args, work: Path) -> Row:
    design = EXAMPLES / "otto_qubit.toml"
    n = args.otto_axis
    taus = np.geomspace(0.5, 20.0, n)
    grids = [f"cycle.tau_hot=0.5:20:{n}:log", f"cycle.tau_cold=0.5:20:{n}:log"]
    out = work / "otto"

    def cli():
        for p in (out, Path(f"{out}.parts")):
            subprocess.run(["rm", "-rf", str(p)], check=True)
        return _sweep_cli(design, grids, out)

    cli()
    cli_s = min(cli() for _ in range(args.repeat))
    table = read_table(out)
    data = _load(design)

    def direct():
        cycle = design_from_dict(data).cycle
        t_h, t_c = (a.ravel() for a in np.meshgrid(taus, taus, indexing="ij"))
        return cycle.sweep({"hot": t_h, "cold": t_c})

    direct_s, result, _ = best_of(args.repeat, direct)
    agreement = _relative(table["work"].to_numpy(), np.asarray(result.work))
    return Row(
        case="qubit Otto table via qhe sweep",
        size={"designs": n * n},
        ours_s=cli_s,
        qutip_status="not run",
        qutip_reason="the baseline is Cycle.sweep on the same grid (extra.cycle_sweep_s)",
        extra={
            "cycle_sweep_s": direct_s,
            "cli_over_cycle_sweep": cli_s / direct_s,
            "agreement_with_cycle_sweep": agreement,
            "target_cli_overhead_met": cli_s / direct_s <= TARGET_CLI_OVERHEAD,
        },
    )


def workers(args, work: Path) -> Row:
    design = work / "chain.toml"
    design.write_text(CHAIN)
    grids = [_spec("reservoirs.hot.T", 1.0, 5.0, args.chain_points)]
    local_s = _sweep_cli(design, grids, work / "local")
    dask_s = _sweep_cli(design, grids, work / "dask", ["--workers", "2"])
    a, b = read_table(work / "local"), read_table(work / "dask")
    agreement = _relative(b["J_hot"].to_numpy(), a["J_hot"].to_numpy())
    return Row(
        case="per-point chain, 2 Dask workers",
        size={"designs": args.chain_points, "d": 64},
        ours_s=dask_s,
        qutip_status="not run",
        qutip_reason="the baseline is the same sweep in one process (extra.in_process_s)",
        extra={
            "in_process_s": local_s,
            "speedup": local_s / dask_s,
            "agreement_with_in_process": agreement,
            "target_speedup_met": local_s / dask_s >= TARGET_WORKERS_SPEEDUP,
        },
    )


def run_command(args) -> Row:
    qhe_script = Path(sys.executable).with_name("qhe")
    command = [str(qhe_script), "run", str(EXAMPLES / "maser.toml")]
    subprocess.run(command, check=True, capture_output=True)  # warm numba's disk cache
    times = []
    for _ in range(args.run_repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return Row(
        case="qhe run examples/maser.toml",
        size={"designs": 1},
        ours_s=median,
        qutip_status="not run",
        qutip_reason="a command's start-up time; no QuTiP counterpart",
        extra={"runs_s": times, "target_run_met": median < TARGET_RUN_S},
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep_throughput.py",
        description="The cost of qhe sweep over Batch and Cycle.sweep, per-point sweeps on Dask workers, "
        "and qhe run's start-up.",
    )
    parser.add_argument("--maser-axis", type=int, default=316, help="points per maser axis (316^2 ~ 1e5)")
    parser.add_argument("--otto-axis", type=int, default=100, help="points per Otto axis (100^2 = 1e4)")
    parser.add_argument("--chain-points", type=int, default=1200, help="designs of the per-point sweep")
    parser.add_argument("--qutip-sample", type=int, default=200, help="maser designs QuTiP solves")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions; the best is reported")
    parser.add_argument(
        "--run-repeat", type=int, default=7, help="qhe run repetitions; the median is reported"
    )
    parser.add_argument("--seed", type=int, default=1234, help="seed of the QuTiP subsample")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    add_results_argument(parser)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.maser_axis, args.otto_axis, args.chain_points = 10, 8, 16
        args.qutip_sample, args.repeat, args.run_repeat = 5, 1, 2
    recorder = Recorder("sweep_throughput", argv, quick=args.quick, results_dir=args.results_dir)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [maser(args, work), otto(args, work), workers(args, work), run_command(args)]
    status = 0
    for row in rows:
        for key in ("agreement_with_batch", "agreement_with_cycle_sweep", "agreement_with_in_process"):
            if key in row.extra and not row.extra[key] <= AGREEMENT_TOL:
                print(f"ERROR: {row.case}: {key} {row.extra[key]:.2e} above {AGREEMENT_TOL:g}")
                status = 1
        if row.agreement is not None and not row.agreement <= QUTIP_AGREEMENT_TOL:
            print(f"ERROR: {row.case}: QuTiP agreement {row.agreement:.2e} above {QUTIP_AGREEMENT_TOL:g}")
            status = 1
    print_table(
        [["case", "designs", "ours", "baseline", "ratio", "target"]]
        + [
            [
                r.case,
                str(r.size["designs"]),
                f"{r.ours_s:.3g} s",
                *_baseline(r),
            ]
            for r in rows
        ]
    )
    columns = (
        ("batch_direct_s", "Batch.solve [s]"),
        ("cycle_sweep_s", "Cycle.sweep [s]"),
        ("in_process_s", "in process [s]"),
        ("cli_over_batch", "qhe sweep / Batch"),
        ("qutip_default_over_ours", "QuTiP default steadystate / ours"),
        ("cli_over_cycle_sweep", "qhe sweep / Cycle.sweep"),
        ("speedup", "speed-up on 2 workers"),
    )
    # every row lists every column (None where it does not apply)
    rows = [dataclasses.replace(r, extra={**dict.fromkeys(k for k, _ in columns), **r.extra}) for r in rows]
    table = Table(
        name="sweep",
        title="The sweep machinery over the solvers it calls, Dask workers, and qhe run",
        ours="qhe sweep (in this process, --out DIR, --quiet), or qhe run in a fresh interpreter",
        qutip="maser: a per-point steadystate(method='svd') loop on a sample (the default method in "
        "extra.qutip_default_s); the other rows compare with our own direct calls (see extra)",
        time=f"best of {args.repeat} (qhe run: median of {args.run_repeat}); a fresh output each time",
        agreement_metric="max |J_ours - J_QuTiP| / max |J| on the QuTiP sample",
        agreement_tolerance=QUTIP_AGREEMENT_TOL,
        peak_memory="not measured",
        rows=rows,
        columns=columns,
        caveats=(
            "The worker speed-up includes starting the local Dask cluster (a few seconds), so it grows "
            "with the sweep's length; on a machine whose cores are busy it cannot reach the core count.",
        ),
        notes=tuple(_target_notes(rows)),
    )
    path = recorder.write([table], exit_status=status)
    print(f"results: {path}")
    return status


def _baseline(r: Row) -> list[str]:
    e = {k: v for k, v in r.extra.items() if v is not None}
    if "batch_direct_s" in e:
        return [
            f"Batch {e['batch_direct_s']:.3g} s; QuTiP {r.qutip_s:.3g} s",
            f"{e['cli_over_batch']:.2f}; QuTiP/ours {r.ratio:.0f}",
            f"<= {TARGET_CLI_OVERHEAD:g}; >= {TARGET_QUTIP_RATIO:g}",
        ]
    if "cycle_sweep_s" in e:
        return [
            f"Cycle.sweep {e['cycle_sweep_s']:.3g} s",
            f"{e['cli_over_cycle_sweep']:.2f}",
            f"<= {TARGET_CLI_OVERHEAD:g}",
        ]
    if "in_process_s" in e:
        return [
            f"in process {e['in_process_s']:.3g} s",
            f"{e['speedup']:.2f}x",
            f">= {TARGET_WORKERS_SPEEDUP:g}x",
        ]
    return ["-", "-", f"< {TARGET_RUN_S:g} s"]


def _target_notes(rows):
    for r in rows:
        for key, value in r.extra.items():
            if key.startswith("target_") and value is not None:
                yield f"target {key[len('target_') : -len('_met')].replace('_', ' ')} ({r.case}): " + (
                    "met" if value else "NOT met"
                )


if __name__ == "__main__":
    sys.exit(main())
