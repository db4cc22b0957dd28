"""Helpers shared by the benchmark programs: timing, the Bose factor, table formatting, and the results
files (the run's stamp, the rows, the atomic JSON writer).

Importing this module puts the repository that holds it first on ``sys.path``, so that a program run
as ``python benchmarks/X.py`` measures the ``engines``/``cycles``/``analysis`` of its own checkout
and not whatever an editable install elsewhere points at.

A results file (``benchmarks/results/<name>.json``; quick runs ``benchmarks/results/quick/<name>.json``)
holds::

    {"schema": 1, "benchmark": name, "quick": bool, "exit_status": int,
     "stamp": {"git": {"commit", "dirty", "changed"}, "date_utc", "finished_utc", "command", "argv",
               "machine": {"platform", "cpus", "python", "numpy", ...}, "load_average": {"before",
               "after"}, "threads": {"numba", "blas", "environment", ...}, "packages": {...}},
     "tables": [{"name", "title", "ours", "qutip", "time", "agreement": {"metric", "tolerance"},
                 "peak_memory", "columns", "caveats", "notes",
                 "rows": [{"case", "size", "ours": {"status", "time_s", "peak_memory_bytes"},
                           "qutip": {"status", "time_s", "reason", "peak_memory_bytes"},
                           "ratio_qutip_over_ours", "ratio_lower_bound", "agreement", "extra"}]}]}

`benchmarks/report.py` turns these files into ``benchmarks/README.md`` and the README's Performance
table.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
if str(REPO_ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(REPO_ROOT))

#: Where full runs write; quick runs write to its `quick` subdirectory (git-ignored).
RESULTS_DIR = BENCHMARKS_DIR / "results"
QUICK_DIR_NAME = "quick"
#: Version of the results-file layout (bumped when a key changes meaning).
SCHEMA_VERSION = 1
#: States of a measurement: "ok" has a time, every other one says why there is none.
STATUSES = ("ok", "timeout", "out of memory", "crashed", "failed", "not run")
#: Environment variables that set BLAS/OpenMP thread counts when the libraries load.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Paths whose changes do not make the measured code "dirty" (the results and generated pages).
NOT_CODE = ("benchmarks/results/", "benchmarks/README.md", "README.md")
#: Packages whose versions are stamped; importing is lazy, a missing one is recorded as None.
PACKAGES = ("numpy", "scipy", "numba", "qutip", "threadpoolctl")


def bose(w: float, T: float) -> float:
    """n(w) = 1 / (exp(w/T) - 1) for w > 0 (0 at T = 0)."""
    return 0.0 if T == 0.0 else 1.0 / np.expm1(w / T)


def best_of(repeat: int, call):
    """Best wall time of `repeat` calls, the result of that call, and the first call's time."""
    best, out, first = np.inf, None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - start
        first = elapsed if first is None else first
        if elapsed < best:
            best, out = elapsed, result
    return best, out, first


def si(x: float, unit: str = "") -> str:
    """x with a k/M/G prefix and 3 significant digits."""
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g} {prefix}{unit}".rstrip()
    return f"{x:.3g} {unit}".rstrip()


def format_bytes(n: float) -> str:
    for factor, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n:.0f} B"


def print_table(rows: list[list[str]]) -> None:
    """Rows of strings as an aligned table; the first row is the header."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print(
            "  ".join(cell.rjust(w) if c else cell.ljust(w) for c, (cell, w) in enumerate(zip(row, widths)))
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))


def numba_cache_state(kernel) -> str:
    """Whether a numba kernel came from numba's disk cache ("cache hit") or was compiled."""
    stats = getattr(kernel, "stats", None)
    if stats is None:
        return "unknown"
    if sum(stats.cache_hits.values()):
        return "cache hit"
    if sum(stats.cache_misses.values()):
        return "compiled"
    return "unknown"


# ========================================================================= fresh interpreters


def max_rss() -> int:
    """Peak resident set size of this process in bytes (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_in_fresh_interpreter(target, args, timeout: float, setup_timeout: float | None = None) -> dict:
    """Run `target(conn, *args)` in a fresh interpreter; kill it after `timeout` seconds.

    The child sends a dict through `conn`; its peak memory is its own `max_rss`, untouched by what
    the parent or earlier measurements allocated.  With `setup_timeout`, the child first sends
    {"status": "ready"} (within `setup_timeout`) and `timeout` counts from then on (the timed call
    only).  Returns the child's dict, or {"status": "timeout"} / {"status": "crashed", ...}.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(child, *args))
    proc.start()
    child.close()
    result = None
    try:
        if setup_timeout is not None:
            result = _receive(parent, setup_timeout)
            if result is not None and result.get("status") == "ready":
                result = _receive(parent, timeout)
        else:
            result = _receive(parent, timeout)
        if result is None:
            result = {"status": "timeout"}
    except EOFError:  # the child died without a word: a crash, typically out of memory
        proc.join(5)
        code = proc.exitcode
        result = {"status": "crashed", "message": f"exit code {code}"}
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    return result


def _receive(conn, timeout: float):
    """The child's next message, or None after `timeout` seconds."""
    return conn.recv() if conn.poll(timeout) else None


# ============================================================================ the stamp of a run


def git_state(root: Path = REPO_ROOT) -> dict:
    """The checkout's commit and whether tracked code differs from it.

    ``dirty`` ignores the results files and the generated READMEs (`NOT_CODE`), so that a run after
    an earlier, uncommitted run still counts as clean; ``changed`` lists the paths that made it dirty.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
        ).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.SubprocessError) as exc:
        return {"commit": None, "dirty": None, "changed": [], "error": f"{type(exc).__name__}: {exc}"}
    changed = [line[3:] for line in status if not line[3:].startswith(NOT_CODE)]
    return {"commit": commit, "dirty": bool(changed), "changed": changed}


def package_versions() -> dict:
    """Versions of `PACKAGES` (None if not installed) and where the measured packages come from."""
    import importlib

    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = None
    return out


def code_location() -> dict:
    """The directories the project's packages were imported from (must be this checkout)."""
    import importlib

    out = {}
    for name in ("engines", "cycles", "analysis"):
        try:
            out[name] = str(Path(importlib.import_module(name).__file__).parent)
        except ImportError:
            out[name] = None
    return out


def machine() -> dict:
    """Platform, CPU count (and the CPUs this process may use), memory and interpreter."""
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "memory_bytes": None,
    }
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["memory_bytes"] = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    return info


def blas_threads() -> dict:
    """The BLAS thread pools of this process, as threadpoolctl reports them, or "library default".

    Returns ``{"source": "threadpoolctl", "libraries": [...], "summary": "openblas: 2, 2"}``, or
    without threadpoolctl ``{"source": "environment" | "library default", "summary": ...}``.
    """
    env = {v: os.environ[v] for v in THREAD_VARIABLES if v in os.environ}
    try:
        import threadpoolctl
    except ImportError:
        summary = ", ".join(f"{k}={v}" for k, v in env.items()) or "library default"
        return {"source": "environment" if env else "library default", "summary": summary}
    import scipy.linalg  # noqa: F401  (loads SciPy's own BLAS, so that it is reported too)

    libraries = [
        {k: lib.get(k) for k in ("user_api", "internal_api", "prefix", "version", "num_threads")}
        for lib in threadpoolctl.threadpool_info()
    ]
    blas = [lib for lib in libraries if lib["user_api"] == "blas"]
    by_api: dict[str, list[str]] = {}
    for lib in blas:
        by_api.setdefault(lib["internal_api"], []).append(str(lib["num_threads"]))
    summary = "; ".join(f"{api}: {', '.join(n)}" for api, n in by_api.items()) or "no BLAS loaded"
    return {"source": "threadpoolctl", "libraries": libraries, "summary": summary}


def thread_settings(**extra) -> dict:
    """numba's thread count, the BLAS pools (`blas_threads`), the thread variables that are set and
    ``setting``: how the BLAS threads were chosen ("library default" when no variable is set); `extra`
    adds or overrides entries."""
    import numba

    env = {v: os.environ[v] for v in (*THREAD_VARIABLES, "NUMBA_NUM_THREADS") if v in os.environ}
    blas_env = [f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if v in os.environ]
    return {
        "numba": numba.get_num_threads(),
        "blas": blas_threads(),
        "environment": env,
        "setting": ", ".join(blas_env) or "library default",
        **extra,
    }


def library_blas_policy() -> dict:
    """The library's own BLAS thread setting (``engines.options.Options().blas_threads``), if it has one."""
    try:
        from engines.options import Options

        return {"Options.blas_threads": getattr(Options(), "blas_threads", None)}
    except Exception as exc:  # a benchmark stamp must not fail on the library's options
        return {"error": f"{type(exc).__name__}: {exc}"}


def _utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ================================================================================== rows and tables


def _finite(x) -> float | None:
    """A JSON-safe float, None for None (a NaN or inf is a bug in the caller: rejected)."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"benchmark results must be finite numbers or None, got {x!r}")
    return x


@dataclass(frozen=True)
class Row:
    """One measured problem: our time, QuTiP's (or why there is none), their agreement, peak memory.

    Parameters
    ----------
    case : str
        What was measured (a label unique in its table).
    size : mapping
        Problem size (e.g. ``{"N": 12, "d": 4096}``), JSON scalars.
    ours_s, qutip_s : float or None
        Wall times in seconds of the same problem; None unless the status is "ok".
    ours_status, qutip_status : str
        One of `STATUSES`; a time requires "ok", "ok" requires a time.
    qutip_reason : str, optional
        Why QuTiP has no time (or a note on how its time was obtained).
    agreement : float, optional
        The table's agreement metric between the two answers (None if one of them is missing).
    ours_peak_bytes, qutip_peak_bytes : int, optional
        Peak memory as the table's `peak_memory` describes it.
    ratio_lower_bound : float, optional
        When QuTiP was stopped by a time limit: that limit over our time.
    extra : mapping
        Benchmark-specific figures (JSON scalars, lists or mappings).
    """

    case: str
    size: Mapping
    ours_s: float | None
    qutip_s: float | None = None
    ours_status: str = "ok"
    qutip_status: str = "ok"
    qutip_reason: str | None = None
    agreement: float | None = None
    ours_peak_bytes: int | None = None
    qutip_peak_bytes: int | None = None
    ratio_lower_bound: float | None = None
    extra: Mapping = field(default_factory=dict)

    def __post_init__(self):
        for side in ("ours", "qutip"):
            status, t = getattr(self, f"{side}_status"), getattr(self, f"{side}_s")
            if status not in STATUSES:
                raise ValueError(
                    f"Row {self.case!r}: `{side}_status` must be one of {STATUSES}, got {status!r}"
                )
            if (status == "ok") != (t is not None):
                raise ValueError(f"Row {self.case!r}: `{side}_s` is {t!r} with status {status!r}")
            if t is not None and not (math.isfinite(t) and t > 0):
                raise ValueError(f"Row {self.case!r}: `{side}_s` must be a positive time, got {t!r}")

    @property
    def ratio(self) -> float | None:
        """QuTiP's time over ours (> 1: we are faster; < 1: QuTiP is), None unless both ran."""
        if self.ours_s is None or self.qutip_s is None:
            return None
        return self.qutip_s / self.ours_s

    def to_dict(self) -> dict:
        def peak(x):
            return None if x is None else int(x)

        return {
            "case": self.case,
            "size": dict(self.size),
            "ours": {
                "status": self.ours_status,
                "time_s": _finite(self.ours_s),
                "peak_memory_bytes": peak(self.ours_peak_bytes),
            },
            "qutip": {
                "status": self.qutip_status,
                "time_s": _finite(self.qutip_s),
                "reason": self.qutip_reason,
                "peak_memory_bytes": peak(self.qutip_peak_bytes),
            },
            "ratio_qutip_over_ours": _finite(self.ratio),
            "ratio_lower_bound": _finite(self.ratio_lower_bound),
            "agreement": _finite(self.agreement),
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Table:
    """A table of rows with what its numbers mean.

    Parameters
    ----------
    name : str
        Short key (``"global"``, ``"part1"``).
    title : str
        One line saying what the table measures.
    ours, qutip : str
        What is timed on each side.
    time : str
        What one time covers (e.g. "the whole grid; QuTiP extrapolated from its sample").
    agreement_metric : str
        How `Row.agreement` is computed.
    agreement_tolerance : float
        The largest agreement the program accepts (it exits with 1 above it).
    peak_memory : str
        How peak memory was measured.
    columns : sequence of (key, header)
        `Row.extra` entries shown in the generated tables, in order.
    caveats : sequence of str
        What a reader must know before quoting a ratio (quoted in the README's Performance section).
    notes : sequence of str
        Further lines (targets, splits of the times).
    """

    name: str
    title: str
    ours: str
    qutip: str
    time: str
    agreement_metric: str
    agreement_tolerance: float
    peak_memory: str
    rows: Sequence[Row]
    columns: Sequence[tuple[str, str]] = ()
    caveats: Sequence[str] = ()
    notes: Sequence[str] = ()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "ours": self.ours,
            "qutip": self.qutip,
            "time": self.time,
            "agreement": {"metric": self.agreement_metric, "tolerance": _finite(self.agreement_tolerance)},
            "peak_memory": self.peak_memory,
            "columns": [list(c) for c in self.columns],
            "caveats": list(self.caveats),
            "notes": list(self.notes),
            "rows": [row.to_dict() for row in self.rows],
        }


# ================================================================================= the results file


def add_results_argument(parser) -> None:
    """The ``--results-dir`` option every benchmark takes."""
    parser.add_argument(
        "--results-dir",
        type=Path,
        help=f"directory of the JSON results (default {RESULTS_DIR.relative_to(REPO_ROOT)}, "
        f"--quick runs in its {QUICK_DIR_NAME}/ subdirectory)",
    )


def results_path(name: str, quick: bool, results_dir: Path | None = None) -> Path:
    """``<results_dir>/<name>.json``; without `results_dir`, `RESULTS_DIR` (its `quick/` for quick runs)."""
    if results_dir is None:
        results_dir = RESULTS_DIR / QUICK_DIR_NAME if quick else RESULTS_DIR
    return Path(results_dir) / f"{name}.json"


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def write_json(path: Path, data) -> Path:
    """Write `data` to `path` atomically: a temporary file in the same directory, then os.replace.

    A reader never sees a half-written file, and a failed write (NaN, an unserialisable value) leaves
    the previous file as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, allow_nan=False, default=_json_default) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class Recorder:
    """The stamp of one benchmark run and its results file.

    Create it right after parsing the command line (it takes the load average "before" and the start
    time), measure, then `write` the tables (it takes the load average "after").

    Parameters
    ----------
    name : str
        The program's name (``"ness_sweep"``): the results file is ``<name>.json``.
    argv : sequence of str or None
        The program's arguments (None: ``sys.argv[1:]``).
    quick : bool
        A ``--quick`` run (written under ``results/quick/`` unless `results_dir` is given).
    results_dir : Path, optional
        Where to write instead of the default.
    """

    def __init__(self, name: str, argv=None, *, quick: bool, results_dir: Path | None = None):
        self.name = name
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.quick = bool(quick)
        self.path = results_path(name, quick, results_dir)
        self.started = _utc_now()
        self.load_before = list(os.getloadavg())
        self.load_after: list[float] | None = None
        self.finished: str | None = None

    @property
    def command(self) -> str:
        return shlex.join(["python", f"benchmarks/{self.name}.py", *self.argv])

    def stop(self) -> list[float]:
        """Take the load average "after" (once) and return it."""
        if self.load_after is None:
            self.load_after = list(os.getloadavg())
            self.finished = _utc_now()
        return self.load_after

    def stamp(self, threads: Mapping | None = None) -> dict:
        self.stop()
        return {
            "git": git_state(),
            "date_utc": self.started,
            "finished_utc": self.finished,
            "command": self.command,
            "argv": self.argv,
            "machine": machine(),
            "packages": package_versions(),
            "code": code_location(),
            "load_average": {"before": self.load_before, "after": self.load_after},
            "threads": dict(threads) if threads is not None else thread_settings(),
        }

    def write(
        self,
        tables: Sequence[Table],
        *,
        exit_status: int,
        threads: Mapping | None = None,
        extra: Mapping | None = None,
    ) -> Path:
        """Write the results file; returns its path.

        `threads` defaults to this process's `thread_settings`; a program whose measurements run in
        other interpreters passes what those reported.
        """
        data = {
            "schema": SCHEMA_VERSION,
            "benchmark": self.name,
            "quick": self.quick,
            "exit_status": int(exit_status),
            "stamp": self.stamp(threads),
            "tables": [t.to_dict() for t in tables],
            "extra": dict(extra or {}),
        }
        return write_json(self.path, data)
