"""Sweeps: a design solved over a grid of parameter values, one table row per design.

Parameters are addressed by dotted name (`analysis.parameters`).  A sweep picks the fastest correct
path itself and says which one ran:

``"batch"``
    Small undriven-or-driven global engines whose swept names are medium controls entering H
    affinely, reservoir T / mu / coupling, or the drive's strength and detuning:
    `engines.Batch`, one parallel numba kernel for all points.
``"cycle-sweep"``
    Cycles whose swept names are durations of thermalisation or isotherm strokes: `cycles.Cycle.sweep`,
    each stroke generator diagonalised once.
``"per-point"``
    Anything else: the design is rebuilt and solved at each point.  A point that fails gets a row
    with its error text; the sweep goes on.

Results are written in chunks: Parquet part files (each written atomically) in an output directory
with a manifest (design hash, grid hash, chunking, package version).  Re-running an interrupted
sweep computes only the missing chunks; a manifest that does not match the design or the grid is
refused.  Chunks run in this process by default; ``workers=N`` starts a local Dask cluster and
``scheduler="tcp://HOST:PORT"`` uses an existing `dask.distributed` cluster — the table is the same
in every mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from analysis.parameters import STROKE_DURATIONS, resolve, stroke_name, with_values
from engines.checks import UserCodeError, WorkbenchError

__all__ = ["PATHS", "Grid", "SweepResult", "plan", "read_table", "run_sweep", "write_table"]

PATHS = ("batch", "cycle-sweep", "per-point")
#: Points per chunk, by path (per-point chunks are small so that progress and resumption are fine).
CHUNK_SIZE = {"batch": 20_000, "cycle-sweep": 20_000, "per-point": 8}
MANIFEST = "manifest.json"

_RANGE = re.compile(r"^\s*([^:]+):([^:]+):([^:]+?)(?::(lin|log))?\s*$")


# ---------------------------------------------------------------------------------------------
# grids


@dataclass(frozen=True)
class Grid:
    """Points of a sweep: `values[p, i]` is parameter `names[i]` at point p.

    Build one with `Grid.parse` (command-line specs), `Grid.from_table` (a design's ``[sweep]``
    table), `Grid.from_csv` (one column per parameter), or directly from names and values.
    """

    names: tuple
    values: np.ndarray

    def __post_init__(self):
        values = np.array(self.values, dtype=float, ndmin=2)
        if values.shape[1] != len(self.names) or values.shape[0] == 0:
            raise WorkbenchError(
                f"Grid: `values` must have shape (n_points >= 1, {len(self.names)}), got {values.shape}."
            )
        if np.any(np.isnan(values)):
            raise WorkbenchError("Grid: `values` must not hold NaN.")
        values.setflags(write=False)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "values", values)
        if len(set(self.names)) != len(self.names):
            raise WorkbenchError(f"Grid: parameter names must be unique, got {list(self.names)}.")

    def __len__(self) -> int:
        return self.values.shape[0]

    @classmethod
    def product(cls, axes: Mapping) -> Grid:
        """The Cartesian product of named axes {name: values}, the last name varying fastest."""
        names = tuple(axes)
        mesh = np.meshgrid(*(np.asarray(v, dtype=float).ravel() for v in axes.values()), indexing="ij")
        return cls(names, np.column_stack([m.ravel() for m in mesh]))

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Grid:
        """``NAME=start:stop:num`` (evenly spaced; ``:log`` for geometric) or ``NAME=v1,v2,...`` specs.

        The axes are combined as a Cartesian product.
        """
        axes = {}
        for spec in specs:
            name, sep, rest = spec.partition("=")
            name = name.strip()
            if not sep or not name or not rest.strip():
                raise WorkbenchError(
                    f"--grid: {spec!r} must be NAME=start:stop:num or NAME=v1,v2,... "
                    "(e.g. reservoirs.hot.T=1:10:19)."
                )
            axes[name] = _axis(name, rest)
        if not axes:
            raise WorkbenchError("--grid: give at least one NAME=start:stop:num or NAME=v1,v2,...")
        return cls.product(axes)

    @classmethod
    def from_table(cls, table: Mapping, source: str = "[sweep]") -> Grid:
        """A design's ``[sweep]`` table: ``NAME = [v1, v2, ...]`` or ``NAME = {start, stop, num, scale}``."""
        if not isinstance(table, Mapping) or not table:
            raise WorkbenchError(f"{source}: [sweep] must be a table of NAME = [values] entries.")
        axes = {}
        for name, spec in _flatten(table):
            if isinstance(spec, list):
                axes[name] = [_number(f"{source}: [sweep] {name!r}", v) for v in spec]
            elif isinstance(spec, Mapping):
                unknown = set(spec) - {"start", "stop", "num", "scale"}
                if unknown or not {"start", "stop", "num"} <= set(spec):
                    raise WorkbenchError(
                        f"{source}: [sweep] {name!r} must be an array of values or a table with start, "
                        f"stop, num (and scale = 'linear' or 'log'), got keys {sorted(spec)}."
                    )
                axes[name] = _spaced(
                    name, spec["start"], spec["stop"], spec["num"], spec.get("scale", "linear")
                )
            else:
                raise WorkbenchError(
                    f"{source}: [sweep] {name!r} must be an array of values or a table with start, stop, "
                    f"num, got {spec!r}."
                )
        return cls.product(axes)

    @classmethod
    def from_csv(cls, path) -> Grid:
        """Points from a CSV file: a header row of parameter names, one row per point."""
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as e:
            raise WorkbenchError(f"{path}: cannot read the points file: {e}") from None
        try:
            values = frame.to_numpy(dtype=float)
        except ValueError:
            raise WorkbenchError(f"{path}: every column of the points file must hold numbers.") from None
        return cls(tuple(str(c) for c in frame.columns), values)


def _flatten(table: Mapping, prefix: str = ""):
    """(dotted name, spec) pairs of a [sweep] table whose keys may be dotted or nested."""
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and not ({"start", "stop", "num"} & set(value)):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def _number(where: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise WorkbenchError(f"{where}: {value!r} is not a number.") from None
    if math.isnan(x):
        raise WorkbenchError(f"{where}: NaN is not a parameter value.")
    return x


def _axis(name: str, text: str):
    m = _RANGE.match(text)
    if m:
        start, stop, num, scale = m.groups()
        return _spaced(name, start, stop, num, "log" if scale == "log" else "linear")
    return [_number(f"--grid {name}", v) for v in text.split(",")]


def _spaced(name, start, stop, num, scale):
    where = f"grid {name!r}"
    start, stop = _number(where, start), _number(where, stop)
    n = _number(where, num)
    if n != round(n) or n < 1:
        raise WorkbenchError(f"{where}: `num` must be a positive integer, got {num!r}.")
    if scale not in ("linear", "log"):
        raise WorkbenchError(f"{where}: `scale` must be 'linear' or 'log', got {scale!r}.")
    if scale == "log":
        if start <= 0 or stop <= 0:
            raise WorkbenchError(f"{where}: a log-spaced axis needs start, stop > 0, got {start}, {stop}.")
        return np.geomspace(start, stop, round(n))
    return np.linspace(start, stop, round(n))


# ---------------------------------------------------------------------------------------------
# planning: which path solves a sweep

#: Designs built in this process, by (design hash, source): designs are immutable values, so a sweep's
#: plan, its chunks and the command line share one build (each Dask worker keeps its own).
_BUILT: dict = {}
_BUILT_MAX = 16


def built(data: Mapping, source: str = "<design>"):
    """`analysis.design.design_from_dict` of `data` (without its [sweep] table), built once per process."""
    from analysis.design import design_from_dict

    key = (design_hash(data), source)
    if key not in _BUILT:
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = design_from_dict({k: v for k, v in data.items() if k != "sweep"}, source=source)
    return _BUILT[key]


def _batch(data: Mapping, source: str, names):
    """The `engines.Batch` of the design `data` over the dotted `names`, built once per process."""
    key = (design_hash(data), source, tuple(names))
    if key not in _BUILT:
        from engines import Batch

        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = Batch(built(data, source).engine, [_batch_parameter(data, n) for n in names])
    return _BUILT[key]


def _batch_parameter(data: Mapping, name: str) -> str | None:
    """The `engines.Batch` parameter a dotted name is, or None when Batch cannot sweep it."""
    parts = name.split(".")
    medium = data.get("medium", {})
    kind = medium.get("type")
    if parts[0] == "reservoirs" and len(parts) == 3 and parts[2] in ("T", "mu", "coupling"):
        return f"{parts[1]}.{parts[2]}"
    if parts[0] == "drive" and len(parts) == 2 and parts[1] in ("strength", "detuning"):
        return f"drive.{parts[1]}"
    if parts[0] != "medium":
        return None
    if kind == "Levels" and len(parts) == 3 and parts[1] == "energies":
        return f"E{parts[2]}"
    if kind == "Composite" and len(parts) == 4 and parts[1] == "sites":
        return f"{parts[3]}_{parts[2]}" if parts[3] in ("omega", "delta") else None
    if kind == "Composite" and len(parts) == 4 and parts[1] == "couplings" and parts[3] == "strength":
        return f"g_{parts[2]}"
    if kind in ("Qubit", "HarmonicOscillator", "Spin", "SpinChain") and len(parts) == 2:
        return parts[1] if parts[1] in ("omega", "delta", "J", "Delta", "field") else None
    return None


def _stroke_durations(data: Mapping, names) -> dict | None:
    """{dotted name: stroke name} when every name is a relaxation/isotherm duration of the cycle."""
    cycle = data.get("cycle", {})
    out = {}
    if isinstance(cycle.get("strokes"), list):
        kinds = {stroke_name(t): t.get("type") for t in cycle["strokes"]}
        for name in names:
            parts = name.split(".")
            if parts[0] != "strokes" or parts[-1] != "duration" or len(parts) != 3:
                return None
            if kinds.get(parts[1]) not in ("thermalize", "isotherm"):
                return None
            out[name] = parts[1]
        return out
    aliases = STROKE_DURATIONS.get(cycle.get("type"), {})
    relaxing = {s for s in aliases if not s.startswith(("compress", "expand", "adiabat"))}
    for name in names:
        parts = name.split(".")
        if parts[0] == "strokes" and len(parts) == 3 and parts[2] == "duration" and parts[1] in relaxing:
            out[name] = parts[1]
        elif parts[0] == "cycle" and len(parts) == 2:
            strokes = [s for s in relaxing if aliases[s] == parts[1]]
            if len(strokes) != 1:
                return None
            out[name] = strokes[0]
        else:
            return None
    return out


def plan(data: Mapping, names, *, source: str = "<design>") -> tuple[str, str]:
    """(path, reason): the path that solves a sweep of `names` over the design `data`, and why.

    Every name is checked to exist first (an unknown name is an error with the closest names).
    """
    for name in names:
        resolve(data, name, source=source)
    design = built(data, source)
    if design.kind == "cycle":
        if not all(r.thermal for r in design.reservoirs):
            return "per-point", "a non-thermal reservoir (the cycle-sweep table needs temperatures)"
        if _stroke_durations(data, names) is not None:
            return "cycle-sweep", "every swept name is a relaxation or isotherm duration"
        return "per-point", "a swept name changes the cycle's strokes, controls or reservoirs"
    params = [_batch_parameter(data, n) for n in names]
    if None in params:
        bad = names[params.index(None)]
        return "per-point", f"{bad!r} is not a field the batched kernel sweeps"
    try:
        _batch(data, source, names)
    except WorkbenchError as e:
        return "per-point", f"the batched kernel does not take this design ({e})"
    return "batch", "a small global engine with kernel-swept fields"


# ---------------------------------------------------------------------------------------------
# solving one chunk (a top-level function: it runs on Dask workers too)


def solve_chunk(data: Mapping, source: str, path: str, names, values) -> object:
    """The table rows of one chunk of points (a `pyarrow.Table`, one row per point, in order)."""
    import pyarrow as pa

    values = np.asarray(values, dtype=float).reshape(-1, len(names))
    columns = {name: values[:, i] for i, name in enumerate(names)}
    try:
        if path == "batch":
            solved = _batch_columns(data, source, names, values)
        elif path == "cycle-sweep":
            solved = _cycle_sweep_columns(data, source, names, values)
        else:
            solved = None
    except WorkbenchError:  # some point of the chunk fails: solve it point by point, with error rows
        solved = None
    if solved is None:
        path = "per-point"
        rows = [_point_row(data, source, names, row) for row in values]
        keys = dict.fromkeys(k for r in rows for k in r)  # a failed point's row has fewer columns
        solved = {k: pa.array([r.get(k) for r in rows]) for k in keys}
    columns["path"] = path
    for name, column in (columns | solved).items():
        if column is None or isinstance(column, str):  # one value for the whole chunk
            column = pa.repeat(pa.scalar(column, pa.string()), len(values))
        elif isinstance(column, np.ndarray) and column.dtype.kind == "U":
            column = column.astype(object)  # Arrow converts object strings much faster
        columns[name] = column
    return pa.table(columns)


def _batch_columns(data, source, names, values) -> dict:
    result = _batch(data, source, names).solve(values)
    columns = {"mode": result.mode, "power": result.power, "efficiency": result.efficiency}
    columns.update(cop=result.cop, entropy_production_rate=result.entropy_production_rate)
    columns.update({f"J_{k}": result.heat[:, j] for j, k in enumerate(result.reservoirs)})
    columns.update(
        {
            f"I_{k}": result.particles[:, j]
            for j, k in enumerate(result.reservoirs)
            if result.particles[:, j].any()
        }
    )
    columns.update(resolution=result.resolution, residual=result.residual)
    return columns | _temperature_columns(result.reservoirs, result.temperatures, result.efficiency, "batch")


def _temperature_columns(reservoirs, temperatures, efficiency, solver) -> dict:
    """T_<name>, Carnot efficiency, eta/eta_C, solver and (empty) error columns."""
    columns = {f"T_{k}": temperatures[:, j] for j, k in enumerate(reservoirs)}
    carnot = _carnot(temperatures)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(efficiency, dtype=float) / carnot
    return columns | {"carnot_efficiency": carnot, "eta_over_carnot": ratio, "solver": solver, "error": None}


def _carnot(temperatures: np.ndarray) -> np.ndarray:
    T = np.asarray(temperatures, dtype=float)
    lo, hi = T.min(axis=1), T.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((hi > 0) & (hi > lo), 1.0 - lo / hi, np.nan)


def _cycle_sweep_columns(data, source, names, values) -> dict:
    cycle = built(data, source).cycle
    strokes = _stroke_durations(data, names)
    durations = {}
    for i, name in enumerate(names):
        durations.setdefault(strokes[name], values[:, i])
    result = cycle.sweep(durations)
    frame = result.to_frame().drop(columns=[f"tau[{s}]" for s in result.strokes])
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    T = np.broadcast_to(result.temperatures, (len(result), result.temperatures.size))
    return columns | _temperature_columns(result.reservoirs, T, columns["efficiency"], "cycle-sweep")


def _point_row(data, source, names, row) -> dict:
    from analysis.design import design_from_dict

    values = dict(zip(names, row.tolist()))
    where = f"{source} at {', '.join(f'{k}={v:g}' for k, v in values.items())}"
    try:
        design = design_from_dict(with_values(data, values, source=source), source=where)
        result = design.run()
    except (WorkbenchError, UserCodeError) as e:
        return {"mode": "failed", "error": " ".join(str(e).split())}
    return result_row(result)


def result_row(result) -> dict:
    """The sweep-table columns of one solved design (an `engines.SteadyState` or `cycles.CycleResult`)."""
    carnot = result.carnot_efficiency
    row = {"mode": result.mode}
    if hasattr(result, "heat_currents"):  # a steady state
        row.update(
            power=result.power,
            efficiency=_float(result.efficiency),
            cop=_float(result.cop),
            entropy_production_rate=result.entropy_production_rate,
        )
        row.update({f"J_{k}": v for k, v in result.heat_currents.items()})
        row.update({f"I_{k}": v for k, v in result.particle_currents.items()})
        row.update(residual=result.residual, solver=result.solver)
    else:
        row.update(
            work=result.work,
            power=result.power,
            period=result.period,
            efficiency=_float(result.efficiency),
            cop=_float(result.cop),
            entropy_per_cycle=result.entropy_per_cycle,
            entropy_production_rate=result.entropy_production_rate,
        )
        row.update({f"Q_{k}": v for k, v in result.heat.items()})
        row.update(residual=result.fixed_point_residual, solver="limit cycle")
    row.update({f"T_{k}": float(v) for k, v in result.temperatures.items()})
    row["carnot_efficiency"] = _float(carnot)
    row["eta_over_carnot"] = _float(
        None if result.efficiency is None or not carnot else result.efficiency / carnot
    )
    if getattr(result, "undefined", None) is not None:  # a non-thermal reservoir: why T-figures are NaN
        row["undefined"] = result.undefined
    row["error"] = None
    return row


def _float(x) -> float:
    return math.nan if x is None else float(x)


# ---------------------------------------------------------------------------------------------
# the sweep: chunks, manifest, resumption, Dask


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: one row per design, in grid order.

    Attributes
    ----------
    names : tuple of str
        Swept parameters (the first columns of the table).
    path : str
        Which solver path ran (one of `PATHS`), and `reason` why.
    reason : str
    n_points, n_failed : int
    directory : str or None
        Where the chunks and the manifest are (None for an in-memory sweep).
    """

    names: tuple
    path: str
    reason: str
    n_points: int
    n_failed: int
    directory: str | None
    _table: object  # pandas.DataFrame, handed out as a copy

    def to_frame(self):
        """The sweep table (a copy)."""
        return self._table.copy()

    def to_dict(self) -> dict:
        """JSON-safe summary and the table as a list of records (NaN and inf as strings)."""
        records = self._table.to_dict("records")
        return {
            "names": list(self.names),
            "path": self.path,
            "reason": self.reason,
            "n_points": self.n_points,
            "n_failed": self.n_failed,
            "directory": self.directory,
            "rows": [{k: _json(v) for k, v in r.items()} for r in records],
        }


def _json(v):
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else str(float(v))
    if isinstance(v, np.integer):
        return int(v)
    return v


def design_hash(data: Mapping) -> str:
    """SHA-256 of the design (without its [sweep] table), independent of key order."""
    payload = json.dumps({k: v for k, v in data.items() if k != "sweep"}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def grid_hash(grid: Grid) -> str:
    """SHA-256 of the grid's names and values."""
    h = hashlib.sha256(json.dumps(list(grid.names)).encode())
    h.update(np.ascontiguousarray(grid.values).tobytes())
    return h.hexdigest()


def _version() -> str:
    try:
        return metadata.version("qhe-workbench")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _write_parquet(table, path) -> None:
    """Write a DataFrame or Arrow table as Parquet.

    Dictionary encoding only for the text columns and no compression: a sweep's float columns barely
    compress, and encoding them cost more than solving a batched chunk.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    text = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
    pq.write_table(table, path, use_dictionary=text, compression="none")


def write_atomic(path: Path, write) -> None:
    """Write a file through `write(temporary_path)` and move it into place (never a half file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _manifest(data, grid, path, reason, chunk_size, source) -> dict:
    return {
        "design_sha256": design_hash(data),
        "design_source": source,
        "grid_sha256": grid_hash(grid),
        "names": list(grid.names),
        "n_points": len(grid),
        "chunk_size": chunk_size,
        "n_chunks": math.ceil(len(grid) / chunk_size),
        "path": path,
        "reason": reason,
        "version": _version(),
    }


def _check_manifest(directory: Path, manifest: dict) -> None:
    """Refuse to mix a sweep into a directory that holds another design's or grid's chunks."""
    file = directory / MANIFEST
    if not file.exists():
        if any(directory.glob("part-*.parquet")):
            raise WorkbenchError(f"{directory}: holds sweep chunks but no {MANIFEST}; use another output.")
        return
    try:
        old = json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise WorkbenchError(f"{file}: unreadable sweep manifest ({e}); use another output.") from None
    for key, what in (("design_sha256", "design"), ("grid_sha256", "grid"), ("chunk_size", "chunk size")):
        if old.get(key) != manifest[key]:
            raise WorkbenchError(
                f"{directory}: the sweep there is of another {what} (manifest {MANIFEST} does not match "
                f"{manifest['design_source']}); choose another output, or delete {directory} to start over."
            )


def _part(directory: Path, index: int) -> Path:
    return directory / f"part-{index:05d}.parquet"


def run_sweep(
    data: Mapping,
    grid: Grid,
    *,
    source: str = "<design>",
    directory=None,
    chunk_size: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    path: str | None = None,
) -> SweepResult:
    """Solve the design `data` at every point of `grid`.

    Parameters
    ----------
    data : mapping
        The parsed design (`tomllib.load`); its ``[sweep]`` table, if any, is ignored here.
    grid : Grid
    source : str
        Names the design in messages.
    directory : path, optional
        Where chunks and the manifest go; an interrupted sweep re-run with the same directory
        computes only the missing chunks.  None keeps everything in memory.
    chunk_size : int, optional
        Points per chunk (default by path: `CHUNK_SIZE`).
    workers : int, optional
        Start a local Dask cluster with this many worker processes.
    scheduler : str, optional
        Address of an existing ``dask.distributed`` scheduler (``tcp://HOST:PORT``).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    path : {"batch", "cycle-sweep", "per-point"}, optional
        Force a path (default: the fastest correct one, `plan`); a fast path the design does not
        allow is refused.

    Returns
    -------
    SweepResult
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if workers is not None and scheduler is not None:
        raise WorkbenchError(
            "sweep: give `workers` (a local cluster) or `scheduler` (an existing one), not both."
        )
    best, reason = plan(data, grid.names, source=source)
    if path is None or path == best:
        path = best
    elif path == "per-point":
        reason = "asked for"
    else:
        raise WorkbenchError(
            f"sweep: `path` {path!r} cannot solve this sweep ({reason}); allowed: {best!r} or 'per-point'."
        )
    size = chunk_size or CHUNK_SIZE[path]
    if size < 1:
        raise WorkbenchError(f"sweep: `chunk_size` must be >= 1, got {size}.")
    data = {k: v for k, v in data.items() if k != "sweep"}
    n_chunks = math.ceil(len(grid) / size)
    chunks = [grid.values[i * size : (i + 1) * size] for i in range(n_chunks)]
    done: dict[int, object] = {}
    out = None
    if directory is not None:
        out = Path(directory)
        manifest = _manifest(data, grid, path, reason, size, source)
        _check_manifest(out, manifest)
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=2)))
        for i in range(n_chunks):
            if _part(out, i).exists():
                done[i] = None  # read at the end
    todo = [i for i in range(n_chunks) if i not in done]
    show = sys.stderr.isatty() if progress is None else progress

    def store(i, rows):
        if out is not None:
            write_atomic(_part(out, i), lambda tmp: _write_parquet(rows, tmp))
        done[i] = rows  # chunks finished earlier (None) are read back at the end

    with _progress(len(grid), show, initial=sum(len(chunks[i]) for i in done)) as bar:
        if workers is None and scheduler is None:
            for i in todo:
                store(i, solve_chunk(data, source, path, grid.names, chunks[i]))
                bar.update(len(chunks[i]))
        else:
            for i, rows in _on_dask(todo, chunks, data, source, path, grid.names, workers, scheduler):
                store(i, rows)
                bar.update(len(chunks[i]))
    parts = [pq.read_table(_part(out, i)) if done[i] is None else done[i] for i in range(n_chunks)]
    table = pa.concat_tables(parts, promote_options="permissive").to_pandas()
    failed = int((table["mode"] == "failed").sum()) if "mode" in table else 0
    return SweepResult(
        tuple(grid.names), path, reason, len(grid), failed, None if out is None else str(out), table
    )


def _on_dask(todo, chunks, data, source, path, names, workers, scheduler):
    """Yield (chunk index, rows) as the chunks finish on a Dask cluster."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - a declared dependency
        raise WorkbenchError(
            "sweep: `workers`/`scheduler` need dask.distributed (pip install distributed)."
        ) from None
    if workers is not None:
        if workers < 1:
            raise WorkbenchError(f"sweep: `workers` must be >= 1, got {workers}.")
        # one single-threaded process per worker: the parallelism is across processes, so numba's and
        # BLAS's own thread pools would only oversubscribe the cores
        single = dict.fromkeys(
            ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"
        )
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, env=single
        )
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as e:
            raise WorkbenchError(f"sweep: cannot reach the Dask scheduler at {scheduler!r}: {e}") from None
    try:
        futures = {
            client.submit(solve_chunk, data, source, path, names, chunks[i], pure=False): i for i in todo
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _progress(total: int, show: bool, initial: int = 0):
    """A tqdm bar on stderr when `show`, else a silent stand-in."""
    if show:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=initial, unit="design", file=sys.stderr, leave=False)
        try:
            yield bar
        finally:
            bar.close()
    else:
        yield _Silent()


class _Silent:
    def update(self, n):
        pass


# ---------------------------------------------------------------------------------------------
# tables on disk


TABLE_SUFFIXES = (".parquet", ".csv")


def write_table(frame, path, parts=None) -> Path:
    """Write a sweep table to `path` (``.parquet`` or ``.csv`` by suffix), atomically.

    With `parts` (a sweep directory holding the same rows as Parquet chunks) a ``.parquet`` table is
    assembled from the chunks' Arrow data, without converting the frame again.
    """
    path = Path(path)
    if path.suffix not in TABLE_SUFFIXES:
        raise WorkbenchError(f"{path}: a table file must end in .parquet or .csv.")
    if path.suffix == ".parquet" and parts is not None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        manifest = json.loads((Path(parts) / MANIFEST).read_text())
        tables = [pq.read_table(_part(Path(parts), i)) for i in range(manifest["n_chunks"])]
        combined = pa.concat_tables(tables, promote_options="permissive")
        write_atomic(path, lambda tmp: _write_parquet(combined, tmp))
    elif path.suffix == ".parquet":
        write_atomic(path, lambda tmp: _write_parquet(frame, tmp))
    else:
        write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
    return path


def read_table(path):
    """A sweep table from a ``.parquet`` or ``.csv`` file, or from a sweep directory (its chunks in order).

    Raises
    ------
    WorkbenchError
        If the path is missing, is a directory without a sweep manifest, or misses chunks (the
        sweep was interrupted: re-run it with the same output to finish it).
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        file = path / MANIFEST
        if not file.exists():
            raise WorkbenchError(f"{path}: not a sweep directory (no {MANIFEST}).")
        manifest = json.loads(file.read_text())
        parts = [_part(path, i) for i in range(manifest["n_chunks"])]
        missing = [p.name for p in parts if not p.exists()]
        if missing:
            raise WorkbenchError(
                f"{path}: the sweep is unfinished ({len(missing)} of {len(parts)} chunks missing, first "
                f"{missing[0]}); re-run `qhe sweep` with the same --out to finish it."
            )
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    if not path.exists():
        raise WorkbenchError(f"{path}: no such table or sweep directory.")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise WorkbenchError(f"{path}: a table must be a .parquet or .csv file or a sweep directory.")
