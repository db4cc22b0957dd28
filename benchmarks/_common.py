"""Helpers shared by the benchmark programs: timing, the Bose factor, table formatting."""

from __future__ import annotations

import time

import numpy as np


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
