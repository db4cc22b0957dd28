"""Benchmark: NESS of a boundary-driven open XXZ chain against its length, ours vs ``qutip.steadystate``.

The model: ``SpinChain(N, J=1, Delta=0.5, field=1)`` (H = sum_i J (sx sx + sy sy + Delta sz sz) +
sum_i (field/2) sz_i), a hot bath (T = 2) on site 0 and a cold bath (T = 0.5) on site N-1, both
flat (J(w) = kappa = 0.1) and coupled through sigma_x.  For each flavour ("global": Davies jumps
in the eigenbasis of the whole chain; "local": each bath sees its own site) and N = 4, 5, ...:

- **ours**: ``Engine(chain, baths, flavour).steady_state()`` with the automatic solver, timed from
  the generator's construction to the returned `SteadyState`.
- **QuTiP**: ``qutip.steadystate`` on the same model.  Local: ``steadystate(H, c_ops)`` with the
  chain Hamiltonian and our four local jump operators (``generator.dissipators[i].jumps``, medium
  basis); the Liouvillian QuTiP builds inside the call is timed.  Global: the Davies jumps number
  O(d^2) (about 5 million at N = 12), far too many for a list of ``Qobj``; the Liouvillian
  -i[H, .] + sum_j D[L_j] is assembled in bulk from the jump entries in the eigenbasis (untimed,
  checked against ``qutip.liouvillian(H, c_ops)`` for N <= 6) and only ``steadystate(L)`` is
  timed.

Every measurement runs in a fresh interpreter (``multiprocessing``, spawn) that first solves an
N = 4 chain of the same flavour (numba kernels loaded from the on-disk cache, QuTiP's dispatch
tables built), then measures; peak memory is that interpreter's ``ru_maxrss``, nothing subtracted
(the idle interpreter's RSS is printed above the tables).  QuTiP runs under a hard timeout and an
address-space cap; once it times out or runs out of memory, larger N are not tried.  The heat
currents must agree (max |J_ours - J_QuTiP| / max |J| <= 1e-6) wherever both finished, or the
program exits with 1.

BLAS threads: by default nothing is set, so each library, and our solvers through
``Options.blas_threads``, choose their own.  The setting and the BLAS thread pools of the measuring
interpreters (threadpoolctl, outside the timed call) are printed in the header and the tables and
stamped in the results file.  ``--blas-threads N`` sets ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` in the measuring interpreters, to compare against the
default.

Run ``python benchmarks/chain_scaling.py --help`` for the options; this is a program that prints a
table, never a test (docs/architecture.md item 14).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import tempfile
import time
import traceback
from functools import partial
from pathlib import Path

import numpy as np
from _common import (
    THREAD_VARIABLES,
    Recorder,
    Row,
    Table,
    add_results_argument,
    blas_threads,
    format_bytes,
    library_blas_policy,
    numba_cache_state,
    print_table,
    thread_settings,
)
from _common import (
    max_rss as _max_rss,
)
from _common import run_in_fresh_interpreter as _run

from engines import _kernels

#: Agreement required between our heat currents and QuTiP's (relative to the largest current).
AGREEMENT_TOL = 1e-6
#: The chain and its baths: (name, temperature, site) with site -1 the last one.
CHAIN = {"J": 1.0, "Delta": 0.5, "field": 1.0}
BATHS = (("hot", 2.0, 0), ("cold", 0.5, -1))
COUPLING = 0.1
OPERATOR = "sigma_x"
FLAVOURS = ("global", "local")
#: Chain length solved before each measurement (numba cache load, QuTiP dispatch tables).
WARMUP_N = 4
#: Largest N for which the bulk Davies Liouvillian is checked against qutip.liouvillian(H, c_ops).
CHECK_MAX_N = 6
#: The issue's targets.
TARGET_GLOBAL = (12, 16.0)  # N, seconds (no regression on the 10-16 s of the previous core)
TARGET_LOCAL_RATIO = (8, 5.0)  # N, QuTiP time / ours
TARGET_LOCAL = (10, 30.0)  # N, seconds, default settings on two cores
#: Wall-clock allowance for a QuTiP child to load and build its model before the timed call.
QUTIP_SETUP_TIMEOUT = 1800.0
#: A measurement whose first run took longer than this is not repeated.
REPEAT_MAX_SECONDS = 60.0


# ---------------------------------------------------------------------------------------------- model


def build_engine(n: int, flavour: str):
    """The boundary-driven XXZ chain of `n` sites with its two baths."""
    from engines import BosonicBath, Engine, SpinChain

    chain = SpinChain(n, **CHAIN)
    baths = [BosonicBath(name, T, COUPLING, OPERATOR, site=site % n) for name, T, site in BATHS]
    return Engine(chain, baths, flavour)


def _coo(jumps, first_id: int = 0):
    """Jump operators (sparse) as entries (jump id, row, column, value)."""
    parts = []
    for j, L in enumerate(jumps):
        L = L.tocoo()
        parts.append((np.full(L.nnz, first_id + j), L.row, L.col, L.data))
    if not parts:
        return tuple(np.empty(0, dtype=t) for t in (np.int64, np.int64, np.int64, complex))
    return tuple(np.concatenate(p) for p in zip(*parts))


def _davies_entries(generator, a: int):
    """Entries of reservoir `a`'s Davies jumps, sqrt(gamma(w)) A(w), with the Bohr cluster as jump id.

    Read from the eigenbasis data the generator keeps (`generator.davies`): materialising
    ``generator.dissipators[a].jumps`` needs one (d, d) CSR matrix per Bohr frequency, about 80 GB of
    index arrays at N = 12.  Same clustering and threshold as `engines.davies.jumps`.
    """
    from engines.davies import AMPLITUDE_CUTOFF

    tables = generator.davies
    ids = tables.spectrum.bohr_ids
    parts = []
    for c in tables.channels[a]:
        amp = np.sqrt(c.R) * c.X
        cutoff = AMPLITUDE_CUTOFF * max(1.0, float(np.max(np.abs(amp), initial=0.0)))
        m, k = np.nonzero(np.abs(amp) > cutoff)
        parts.append((ids[m, k] + len(parts) * ids.size, m, k, amp[m, k]))
    return tuple(np.concatenate(p) for p in zip(*parts))


def _export(engine, n: int, path: Path) -> None:
    """Write the model QuTiP solves (H, reference H, jump entries per bath) to `path` (.npz)."""
    import scipy.sparse as sp

    gen = engine.generator
    H = sp.csr_matrix(gen.hamiltonian)
    ref = sp.csr_matrix(gen.reference)
    arrays = {
        "d": np.array(gen.dim),
        "H_data": H.data,
        "H_indices": H.indices,
        "H_indptr": H.indptr,
        "ref_diag": ref.diagonal(),
        "ref_offdiag": np.array(abs(ref - sp.diags(ref.diagonal())).sum()),
        "names": np.array(gen.names),
    }
    for a, D in enumerate(gen.dissipators):
        if gen.flavour == "global":
            entries = _davies_entries(gen, a)
            if n <= CHECK_MAX_N:
                for key, x in zip(("id", "row", "col", "val"), _coo(D.jumps)):
                    arrays[f"check{a}_{key}"] = x
        else:
            entries = _coo(D.jumps)
        for key, x in zip(("id", "row", "col", "val"), entries):
            arrays[f"jumps{a}_{key}"] = x
    np.savez(path, **arrays)


# ----------------------------------------------------------------------------------------------- ours


def _ours_child(conn, n: int, flavour: str, export: str | None) -> None:
    """Measure our NESS of the n-site chain in this (fresh) interpreter; send the numbers to `conn`."""
    try:
        import numba

        warm = build_engine(WARMUP_N, flavour).steady_state()  # numba cache load, lazy imports
        del warm
        gc.collect()
        rss_before = _max_rss()
        start = time.perf_counter()
        engine = build_engine(n, flavour)
        built = time.perf_counter()
        ness = engine.steady_state()
        done = time.perf_counter()
        out = {
            "status": "ok",
            "time": done - start,
            "generator": built - start,
            "solve": done - built,
            "rss": _max_rss(),
            "rss_before": rss_before,
            "solver": ness.solver,
            "residual": ness.residual,
            "heat": [ness.heat_currents[name] for name, _, _ in BATHS],
            "threads": numba.get_num_threads(),
            "blas": blas_threads()["summary"],  # after the timed call: loading threadpoolctl is not timed
        }
        if export:
            # After the measurement: the export's own memory is not in `rss`.
            try:
                _export(engine, n, Path(export))
            except MemoryError:
                out["export"] = "out of memory"
        conn.send(out)
    except MemoryError:
        conn.send({"status": "out of memory", "message": traceback.format_exc(limit=3)})
    except Exception as exc:  # report, the parent marks the row
        conn.send({"status": "failed", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def _baseline_child(conn, kind: str, cap: int) -> None:
    """RSS of an idle interpreter with the imports done, then after the warm-up solves."""
    try:
        if kind == "ours":
            import numba

            import engines  # noqa: F401

            rss_imports = _max_rss()
            start = time.perf_counter()
            for flavour in FLAVOURS:
                build_engine(WARMUP_N, flavour).steady_state()
            warm = time.perf_counter() - start
            conn.send(
                {
                    "status": "ok",
                    "rss_imports": rss_imports,
                    "rss_warm": _max_rss(),
                    "warm": warm,
                    "numba": numba.__version__,
                    "threads": numba.get_num_threads(),
                    "cache": numba_cache_state(_kernels.sector_superoperator),
                    "thread_settings": thread_settings(library=library_blas_policy()),
                }
            )
        else:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            import qutip
            import scipy  # noqa: F401

            rss_imports = _max_rss()
            _qutip_warmup(qutip)
            out = {"status": "ok", "rss_imports": rss_imports, "qutip": qutip.__version__}
            conn.send({**out, "rss_warm": _max_rss()})
    except Exception as exc:
        conn.send({"status": "failed", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------- QuTiP


def _qutip_warmup(qutip) -> None:
    """A two-level steady state: QuTiP's first call builds its dispatch tables."""
    qutip.steadystate(qutip.sigmaz(), [0.1 * qutip.sigmam(), 0.05 * qutip.sigmap()])


def _load_jumps(data, a: int, prefix: str = "jumps"):
    return tuple(data[f"{prefix}{a}_{key}"] for key in ("id", "row", "col", "val"))


def _compressed_rows(ids, rows, cols, vals, d: int):
    """B with one row per (jump, row) pair, so that sum_j L_j^dag A L_j = B^dag diag(a) B for diagonal A.

    Returns B (sparse, (n_keys, d)) and the row of the medium each key belongs to.
    """
    import scipy.sparse as sp

    keys, key_index = np.unique(ids * d + rows, return_inverse=True)
    B = sp.csr_matrix((vals, (key_index, cols)), shape=(keys.size, d))
    return B, keys % d


def bulk_liouvillian(H, entries, d: int):
    """-i[H, .] + sum_j D[L_j] as a sparse (d^2, d^2) matrix (column stacking, QuTiP's convention).

    `entries` = (jump id, row, column, value) of all jump operators; entries with equal id belong to
    one operator.  sum_j conj(L_j) kron L_j has element (m + d m', k + d k') = sum_j L_j[m, k]
    conj(L_j[m', k']): with C[j, m + d k] = L_j[m, k] it is C^T conj(C), re-indexed.
    """
    import scipy.sparse as sp

    ids, rows, cols, vals = entries
    _, jump_index = np.unique(ids, return_inverse=True)
    C = sp.csr_matrix((vals, (jump_index, rows + d * cols)), shape=(jump_index.max() + 1, d * d))
    P = (C.T @ C.conj()).tocoo()
    del C
    m, k, m2, k2 = P.row % d, P.row // d, P.col % d, P.col // d
    jumps_kron = sp.csr_matrix((P.data, (m + d * m2, k + d * k2)), shape=(d * d, d * d))
    del P, m, k, m2, k2
    B, _ = _compressed_rows(ids, rows, cols, vals, d)
    gamma = (B.conj().T @ B).tocsr()
    eye = sp.identity(d, dtype=complex, format="csr")
    H = sp.csr_matrix(H)
    out = jumps_kron - 0.5 * (sp.kron(eye, gamma, format="csr") + sp.kron(gamma.T, eye, format="csr"))
    out = out - 1j * (sp.kron(eye, H, format="csr") - sp.kron(H.T, eye, format="csr"))
    return out.tocsr()


def heat_observable(entries, ref_diag: np.ndarray, d: int):
    """D^dag(H_ref) = sum_j L_j^dag H_ref L_j - {L_j^dag L_j, H_ref}/2 for a diagonal H_ref, sparse (d, d)."""
    import scipy.sparse as sp

    B, key_row = _compressed_rows(*entries, d)
    Bh = B.conj().T
    gain = Bh @ sp.diags(ref_diag[key_row]) @ B
    gamma = Bh @ B
    href = sp.diags(ref_diag)
    return (gain - 0.5 * (gamma @ href + href @ gamma)).tocsr()


def _qutip_child(conn, path: str, flavour: str, n: int, cap: int) -> None:
    """Time qutip.steadystate on the model in `path` under an address-space cap of `cap` bytes."""
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        import qutip
        import scipy.sparse as sp

        _qutip_warmup(qutip)
        data = np.load(path)
        d = int(data["d"])
        if float(data["ref_offdiag"]) != 0.0:
            raise ValueError("the reference Hamiltonian is not diagonal; heat_observable needs it diagonal")
        H = sp.csr_matrix((data["H_data"], data["H_indices"], data["H_indptr"]), shape=(d, d))
        names = [str(x) for x in data["names"]]
        entries = [_load_jumps(data, a) for a in range(len(names))]
        ref_diag = data["ref_diag"]
        setup = time.perf_counter()
        info = {"check": None}
        Hq = qutip.Qobj(H)
        if flavour == "global":
            # One id space for the jumps of both baths.
            offsets = np.cumsum([0] + [int(e[0].max(initial=-1)) + 1 for e in entries])
            all_entries = tuple(
                np.concatenate(x)
                for x in zip(*[(ids + off, r, c, v) for off, (ids, r, c, v) in zip(offsets, entries)])
            )
            L = bulk_liouvillian(H, all_entries, d)
            info["unknowns"], info["nnz"] = L.shape[0], L.nnz
            if n <= CHECK_MAX_N:
                # The bulk assembly against QuTiP's own, on our generator's list of jump operators.
                c_ops = []
                for a in range(len(names)):
                    ids, r, c, v = _load_jumps(data, a, "check")
                    for j in np.unique(ids):
                        s = ids == j
                        c_ops.append(qutip.Qobj(sp.csr_matrix((v[s], (r[s], c[s])), shape=(d, d))))
                reference = qutip.liouvillian(Hq, c_ops).to("csr").data.as_scipy()
                info["check"] = float(abs(L - reference).max() / abs(reference).max())
                del c_ops, reference
            A = qutip.Qobj(L, dims=[[[d], [d]], [[d], [d]]], superrep="super")
            del L
            args = (A,)
        else:
            c_ops = []
            for ids, r, c, v in entries:
                for j in np.unique(ids):
                    s = ids == j
                    c_ops.append(qutip.Qobj(sp.csr_matrix((v[s], (r[s], c[s])), shape=(d, d))))
            info["unknowns"] = d * d
            args = (Hq, c_ops)
        observables = [qutip.Qobj(heat_observable(e, ref_diag, d)) for e in entries]
        data.close()
        gc.collect()
        info["setup"] = time.perf_counter() - setup
        info["rss_before"] = _max_rss()
        conn.send({"status": "ready"})
        start = time.perf_counter()
        rho = qutip.steadystate(*args)
        elapsed = time.perf_counter() - start
        rss = _max_rss()
        heat = [float(np.real(qutip.expect(Q, rho))) for Q in observables]
        info["blas"] = blas_threads()["summary"]
        conn.send({"status": "ok", "time": elapsed, "rss": rss, "heat": heat, **info})
    except MemoryError:
        conn.send({"status": "out of memory", "message": traceback.format_exc(limit=3)})
    except Exception as exc:
        status = "out of memory" if "memory" in str(exc).lower() else "failed"
        conn.send({"status": status, "message": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------- running


# ---------------------------------------------------------------------------------------------- report


def _seconds(t: float) -> str:
    return f"{t:.3g} s" if t < 100 else f"{t:.0f} s"


def _ratio(ours: dict, qt: dict | None, args) -> str:
    """QuTiP time / ours; a lower bound when QuTiP timed out."""
    if ours["status"] != "ok" or qt is None:
        return "-"
    if qt["status"] == "ok":
        return f"{qt['time'] / ours['time']:.3g}"
    if qt["status"] == "timeout":
        return f"> {args.qutip_timeout / ours['time']:.3g}"
    return "-"


def _agreement(ours: dict, qutip: dict) -> float | None:
    if ours.get("status") != "ok" or qutip.get("status") != "ok":
        return None
    J = np.array(ours["heat"])
    return float(np.max(np.abs(J - np.array(qutip["heat"]))) / np.max(np.abs(J)))


def _status(result: dict | None) -> str:
    if result is None:
        return "-"
    return {"timeout": "timeout", "out of memory": "out of memory"}.get(result["status"], result["status"])


def report(flavour: str, rows: list[dict], args) -> None:
    """The table of one flavour and the lines below it."""
    print(f"{flavour} flavour")
    header = [
        "N",
        "d",
        "solver",
        "residual",
        "ours",
        "ours, BLAS 1 thread",
        "ours peak RSS",
        "QuTiP",
        "QuTiP peak RSS",
        "ratio QuTiP/ours",
        "max|dJ|/max|J|",
        "BLAS threads (ours)",
    ]
    table = [header]
    for row in rows:
        ours, qt = row["ours"], row["qutip"]
        ok, qok = ours["status"] == "ok", qt is not None and qt["status"] == "ok"
        agree = _agreement(ours, qt) if qok else None
        table.append(
            [
                str(row["n"]),
                str(2 ** row["n"]),
                ours["solver"] if ok else _status(ours),
                f"{ours['residual']:.1e}" if ok else "-",
                _seconds(ours["time"]) if ok else _status(ours),
                _seconds(_one_thread_time(row)) if _one_thread_time(row) is not None else "-",
                format_bytes(ours["rss"]) if ok else "-",
                _seconds(qt["time"]) if qok else _status(qt),
                format_bytes(qt["rss"]) if qok else "-",
                _ratio(ours, qt, args),
                f"{agree:.1e}" if agree is not None else "-",
                ours.get("blas", "-"),
            ]
        )
    print_table(table)
    print()
    for row in rows:
        ours, qt = row["ours"], row["qutip"]
        line = f"  N={row['n']}: "
        if ours["status"] == "ok":
            line += f"ours generator {_seconds(ours['generator'])} + solve {_seconds(ours['solve'])}"
            if ours["runs"] > 1:
                line += f" (best of {', '.join(_seconds(t) for t in ours['times'])})"
            line += f", RSS {format_bytes(ours['rss_before'])} before"
            if ours.get("export"):
                line += f"; export of the model for QuTiP: {ours['export']}"
        else:
            line += f"ours {ours['status']}: {ours.get('message', '')}"
        if qt is not None:
            if qt["status"] == "ok":
                line += f"; QuTiP {qt['unknowns']} unknowns"
                if qt["runs"] > 1:
                    line += f", best of {', '.join(_seconds(t) for t in qt['times'])}"
                line += (
                    f", model built untimed in {_seconds(qt['setup'])}, "
                    f"RSS {format_bytes(qt['rss_before'])} before the call"
                )
                if qt.get("check") is not None:
                    line += f", bulk Liouvillian vs qutip.liouvillian {qt['check']:.0e}"
            elif qt["status"] == "timeout":
                line += f"; QuTiP killed after {args.qutip_timeout:g} s"
            else:
                last = (qt.get("message") or "").strip().splitlines()[-1:]
                line += f"; QuTiP {qt['status']}" + (f": {last[0]}" if last else "")
        print(line)
    print()
    for line in targets(flavour, rows, args):
        print(line)
    print(flush=True)


def targets(flavour: str, rows: list[dict], args) -> list[str]:
    """The issue's targets for this flavour, each with its verdict."""
    by_n = {row["n"]: row for row in rows}
    if flavour == "global":
        return [_time_target("global", by_n, *TARGET_GLOBAL)]
    n, ratio = TARGET_LOCAL_RATIO
    row = by_n.get(n)
    if row is None or row["ours"]["status"] != "ok":
        verdict = "not measured"
    elif row["qutip"] is not None and row["qutip"]["status"] == "timeout":
        r = args.qutip_timeout / row["ours"]["time"]
        verdict = (
            f"{'met' if r >= ratio else 'not decided'} (QuTiP killed after {args.qutip_timeout:g} s, "
            f"ours {_seconds(row['ours']['time'])}: ratio > {r:.3g})"
        )
    elif row["qutip"] is None or row["qutip"]["status"] != "ok":
        verdict = f"not decided: QuTiP {_status(row['qutip'])} (ours {_seconds(row['ours']['time'])})"
    else:
        r = row["qutip"]["time"] / row["ours"]["time"]
        verdict = f"{'met' if r >= ratio else 'NOT met'} ({r:.3g}x)"
    return [
        f"target: local N = {n} at least {ratio:g}x faster than qutip.steadystate: {verdict}",
        _time_target("local", by_n, *TARGET_LOCAL),
    ]


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _best_of(repeat: int, measure) -> dict:
    """Best (shortest) of up to `repeat` runs of `measure()`, each in a fresh interpreter.

    Stops at the first failed run (that result is returned) and after a run longer than
    REPEAT_MAX_SECONDS.  The peak RSS reported is the largest over the runs.
    """
    runs = []
    for _ in range(repeat):
        result = measure()
        if result["status"] != "ok":
            return result
        runs.append(result)
        if result["time"] > REPEAT_MAX_SECONDS:
            break
    best = dict(min(runs, key=lambda r: r["time"]))
    best["rss"] = max(r["rss"] for r in runs)
    best["runs"] = len(runs)
    best["times"] = [r["time"] for r in runs]
    return best


def run_flavour(flavour: str, max_n: int, args, workdir: Path) -> list[dict]:
    """Measure ours and QuTiP for N = args.min_n .. max_n; QuTiP stops at its first timeout/OOM."""
    rows, qutip_on = [], not args.no_qutip
    cap = int(args.qutip_memory * 2**30)
    for n in range(args.min_n, max_n + 1):
        path = workdir / f"{flavour}_{n}.npz"
        export = str(path) if qutip_on else None
        ours = _best_of(args.repeat, partial(_run, _ours_child, (n, flavour, export), args.ours_timeout))
        msg = f"[{flavour} N={n}] ours: {ours['status']}"
        if ours["status"] == "ok":
            times = ", ".join(f"{t:.3g}" for t in ours["times"])
            msg += f" {times} s ({ours['solver']}), {format_bytes(ours['rss'])}"
        _progress(msg)
        one_thread = None
        if args.blas_threads is None and ours["status"] == "ok":
            # The same solve with BLAS limited to one thread by the environment: equal times show
            # that the library's own thread policy leaves nothing for a user's flag to gain.
            measure = partial(_run, _ours_child, (n, flavour, None), args.ours_timeout)
            one_thread = _best_of(args.repeat, partial(_with_one_blas_thread, measure))
            _progress(
                f"[{flavour} N={n}] ours, BLAS 1 thread: {one_thread['status']} {one_thread.get('times', '')}"
            )
        qt = None
        if qutip_on and ours["status"] == "ok" and path.exists():
            measure = partial(
                _run, _qutip_child, (str(path), flavour, n, cap), args.qutip_timeout, QUTIP_SETUP_TIMEOUT
            )
            qt = _best_of(args.repeat, measure)
            msg = f"[{flavour} N={n}] QuTiP: {qt['status']}"
            if qt["status"] == "ok":
                times = ", ".join(f"{t:.3g}" for t in qt["times"])
                msg += f" {times} s, {format_bytes(qt['rss'])}, agreement {_agreement(ours, qt):.1e}"
            elif qt.get("message"):
                msg += f" ({qt['message'].strip().splitlines()[-1]})"
            _progress(msg)
            if qt["status"] != "ok":
                qutip_on = False
        elif qutip_on and ours["status"] == "ok":
            qt = {"status": "failed", "message": f"no model exported ({ours.get('export', 'unknown')})"}
        path.unlink(missing_ok=True)
        rows.append({"n": n, "ours": ours, "qutip": qt, "one_thread": one_thread})
        if ours["status"] in ("timeout", "out of memory", "crashed"):
            break
    return rows


def _with_one_blas_thread(measure):
    """`measure()` with the BLAS/OpenMP thread variables set to 1 for the interpreter it spawns."""
    saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        return measure()
    finally:
        for v, value in saved.items():
            if value is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = value


def _one_thread_time(row) -> float | None:
    run = row.get("one_thread")
    return run["time"] if run is not None and run["status"] == "ok" else None


def _time_target(flavour: str, by_n: dict, n: int, limit: float) -> str:
    """Whether our solve at size N met its time limit."""
    row = by_n.get(n)
    if row is None or row["ours"]["status"] != "ok":
        verdict = "not measured"
    else:
        t = row["ours"]["time"]
        verdict = f"{'met' if t <= limit else 'NOT met'} ({_seconds(t)})"
    return f"target: {flavour} N = {n} within {limit:g} s: {verdict}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chain_scaling.py",
        description="NESS of a boundary-driven open XXZ chain (global and local flavour) against its "
        "length: Engine.steady_state against qutip.steadystate, each in a fresh interpreter.",
    )
    parser.add_argument("--max-n", type=int, help="largest N for both flavours (default 12 global, 10 local)")
    parser.add_argument("--max-n-global", type=int, help="largest N for the global flavour (default 12)")
    parser.add_argument("--max-n-local", type=int, help="largest N for the local flavour (default 10)")
    parser.add_argument("--min-n", type=int, default=4, help="smallest N (default 4)")
    parser.add_argument("--flavours", nargs="+", choices=FLAVOURS, default=list(FLAVOURS))
    parser.add_argument(
        "--qutip-timeout", type=float, default=300.0, help="seconds per qutip.steadystate call (300)"
    )
    parser.add_argument(
        "--qutip-memory", type=float, default=16.0, help="address-space cap of the QuTiP child, GiB (16)"
    )
    parser.add_argument("--ours-timeout", type=float, default=1800.0, help="seconds per measurement of ours")
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"fresh-interpreter runs per measurement, the best is reported (3, --quick 1; one run "
        f"above {REPEAT_MAX_SECONDS:g} s is not repeated)",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="sets OPENBLAS/OMP/MKL_NUM_THREADS in the measuring interpreters, to compare against the "
        "default (default: not set, each library and our solvers choose)",
    )
    parser.add_argument("--no-qutip", action="store_true", help="measure ours only")
    parser.add_argument("--quick", action="store_true", help="smoke run, N up to 6, repeat 1")
    add_results_argument(parser)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    max_n = {
        "global": args.max_n_global or args.max_n or 12,
        "local": args.max_n_local or args.max_n or 10,
    }
    if args.quick:
        max_n = {f: min(m, 6) for f, m in max_n.items()}
    if args.min_n < 2 or args.qutip_timeout <= 0 or args.ours_timeout <= 0 or args.repeat < 1:
        parser.error("--min-n must be >= 2, --repeat >= 1 and the timeouts > 0")
    if args.blas_threads is not None:
        # Inherited by the spawned interpreters, read by OpenBLAS/OpenMP when they load.
        for var in THREAD_VARIABLES:
            os.environ[var] = str(args.blas_threads)
    blas_setting = ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if v in os.environ)
    if args.blas_threads is not None:
        blas_setting = f"--blas-threads {args.blas_threads}"
    blas_setting = blas_setting or "library default"
    recorder = Recorder("chain_scaling", argv, quick=args.quick, results_dir=args.results_dir)

    load_before = recorder.load_before
    cap = int(args.qutip_memory * 2**30)
    base_ours = _run(_baseline_child, ("ours", cap), args.ours_timeout)
    if base_ours["status"] != "ok":
        sys.exit(f"chain_scaling: the warm-up solve failed: {base_ours.get('message', base_ours['status'])}")
    base_qutip = None if args.no_qutip else _run(_baseline_child, ("qutip", cap), 600.0)

    results = {}
    with tempfile.TemporaryDirectory(prefix="chain_scaling_") as tmp:
        for flavour in args.flavours:
            results[flavour] = run_flavour(flavour, max_n[flavour], args, Path(tmp))
    load_after = recorder.stop()

    print(
        f"Boundary-driven open XXZ chain SpinChain(N, J={CHAIN['J']}, Delta={CHAIN['Delta']}, "
        f"field={CHAIN['field']}); baths "
        + ", ".join(f"{b} T={T} on site {'N-1' if s == -1 else s}" for b, T, s in BATHS)
        + f", flat J(w) = {COUPLING}, operator {OPERATOR}"
    )
    versions = f"Python {platform.python_version()}, numpy {np.__version__}, numba {base_ours['numba']}"
    if base_qutip is not None and base_qutip["status"] == "ok":
        versions += f", QuTiP {base_qutip['qutip']}"
    print(
        f"{versions}, {os.cpu_count()} CPUs, numba threads {base_ours['threads']}, BLAS threads "
        f"{blas_setting} ({base_ours['thread_settings']['blas']['summary']}), load average "
        f"{load_before[0]:.2f} before / "
        f"{load_after[0]:.2f} after"
    )
    print(
        f"Each time is the best of up to {args.repeat} fresh interpreters (a run above "
        f"{REPEAT_MAX_SECONDS:g} s is not repeated); peak RSS is the largest of them."
    )
    print(
        f"numba warm-up (N = {WARMUP_N}, both flavours, before any measurement): {base_ours['warm']:.2f} s "
        f"({base_ours['cache']}); every measuring interpreter solves an N = {WARMUP_N} chain first, "
        "so neither compilation nor the cache load is timed."
    )
    line = (
        f"Idle interpreter max RSS: ours {format_bytes(base_ours['rss_imports'])} after imports, "
        f"{format_bytes(base_ours['rss_warm'])} after the warm-up solves"
    )
    if base_qutip is not None and base_qutip["status"] == "ok":
        line += (
            f"; QuTiP {format_bytes(base_qutip['rss_imports'])} after imports, "
            f"{format_bytes(base_qutip['rss_warm'])} after its warm-up"
        )
    print(line + ". Peak RSS in the tables is the measuring interpreter's ru_maxrss, nothing subtracted.")
    print(
        "ours: Engine(chain, baths, flavour).steady_state() (solver 'auto'), generator construction "
        "included. QuTiP: local steadystate(H, c_ops) (Liouvillian construction included); global "
        f"steadystate(L) on the bulk-assembled Davies Liouvillian (assembly untimed). QuTiP timeout "
        f"{args.qutip_timeout:g} s, address space cap {args.qutip_memory:g} GiB."
    )
    print()
    for flavour, rows in results.items():
        report(flavour, rows, args)

    status = 0
    for flavour, rows in results.items():
        for row in rows:
            if row["ours"]["status"] != "ok":
                print(f"ERROR: {flavour} N={row['n']}: our solve {row['ours']['status']}.", file=sys.stderr)
                status = max(status, 2)
            agree = _agreement(row["ours"], row["qutip"]) if row["qutip"] is not None else None
            if agree is not None and not agree <= AGREEMENT_TOL:
                print(
                    f"ERROR: {flavour} N={row['n']}: heat currents disagree with QuTiP: max|dJ|/max|J| = "
                    f"{agree:.2e} > {AGREEMENT_TOL:g}.",
                    file=sys.stderr,
                )
                status = max(status, 1)
    tables = [results_table(flavour, rows, args, blas_setting) for flavour, rows in results.items()]
    threads = {**base_ours["thread_settings"], "setting": blas_setting}
    path = recorder.write(tables, exit_status=status, threads=threads)
    print(f"results: {path}")
    return status


#: Why the BLAS setting matters, quoted with the tables.
BLAS_CAVEAT = (
    "BLAS threads were left at the libraries' default (QuTiP's side included; our solvers may limit "
    "their own). On a loaded machine multi-threaded OpenBLAS slows small sparse solves down badly: "
    "QuTiP's local steadystate at N = 6-7 took 0.9-144 s with the default and 0.12-4.2 s with "
    "--blas-threads 1 (2 CPUs, load average 4-5), so default-setting ratios from a loaded machine "
    "flatter ours; compare with --blas-threads 1."
)
BLAS_CAVEAT_SET = (
    "BLAS threads were set by --blas-threads for both sides (OPENBLAS/OMP/MKL_NUM_THREADS in the "
    "measuring interpreters)."
)
#: What a row's status becomes in the results file (`_common.STATUSES`).
_STATUS = {"ok": "ok", "timeout": "timeout", "out of memory": "out of memory", "crashed": "crashed"}


def results_table(flavour: str, rows: list[dict], args, blas_setting: str) -> Table:
    """The rows of one flavour for the results file."""
    out, stopped = [], None
    for row in rows:
        ours, qt, n = row["ours"], row["qutip"], row["n"]
        ok = ours["status"] == "ok"
        if qt is None:
            if args.no_qutip:
                q_status, reason = "not run", "--no-qutip"
            elif not ok:
                q_status, reason = "not run", f"our solve: {ours['status']}"
            else:
                q_status, reason = "not run", f"QuTiP {stopped[1]} at N = {stopped[0]}; larger N not tried"
        else:
            q_status = _STATUS.get(qt["status"], "failed")
            reason = None
            if q_status == "timeout":
                reason = f"killed after {args.qutip_timeout:g} s"
            elif q_status != "ok":
                reason = (qt.get("message") or "").strip().splitlines()[-1:] or [qt["status"]]
                reason = reason[0]
            if q_status != "ok" and stopped is None:
                stopped = (n, q_status)
        q_ok = q_status == "ok"
        extra = {
            "solver": ours.get("solver"),
            "residual": ours.get("residual"),
            "ours_generator_s": ours.get("generator"),
            "ours_solve_s": ours.get("solve"),
            "ours_runs_s": ours.get("times"),
            "ours_message": None if ok else ours.get("message"),
            "numba_threads": ours.get("threads"),
            "blas_setting": blas_setting,
            "blas_threads": ours.get("blas"),
            "ours_one_blas_thread_s": _one_thread_time(row),
            "heat_ours": ours.get("heat"),
        }
        if q_ok:
            extra.update(
                {
                    "qutip_unknowns": qt["unknowns"],
                    "qutip_runs_s": qt["times"],
                    "qutip_model_setup_s": qt["setup"],
                    "qutip_blas_threads": qt.get("blas"),
                    "bulk_liouvillian_check": qt.get("check"),
                    "heat_qutip": qt["heat"],
                }
            )
        out.append(
            Row(
                case=f"{flavour} N={n}",
                size={"N": n, "d": 2**n},
                ours_s=ours["time"] if ok else None,
                ours_status=_STATUS.get(ours["status"], "failed"),
                qutip_s=qt["time"] if q_ok else None,
                qutip_status=q_status,
                qutip_reason=reason,
                agreement=_agreement(ours, qt) if q_ok else None,
                ours_peak_bytes=ours.get("rss"),
                qutip_peak_bytes=qt.get("rss") if q_ok else None,
                ratio_lower_bound=args.qutip_timeout / ours["time"] if ok and q_status == "timeout" else None,
                extra=extra,
            )
        )
    if flavour == "global":
        qutip = (
            "qutip.steadystate(L) on the Davies Liouvillian -i[H, .] + sum_j D[L_j], assembled in bulk "
            "from our jump entries (assembly untimed; checked against qutip.liouvillian for N <= "
            f"{CHECK_MAX_N})"
        )
        caveats = (
            "Global: QuTiP's time excludes building the Liouvillian, ours includes building the "
            "generator, so the ratio favours QuTiP.",
        )
    else:
        qutip = (
            "qutip.steadystate(H, c_ops) with our local jump operators (Liouvillian built inside the call)"
        )
        caveats = ()
    return Table(
        name=flavour,
        title=f"XXZ chain NESS, {flavour} flavour, N = {args.min_n}..{rows[-1]['n'] if rows else '-'}",
        ours="Engine(chain, baths, flavour).steady_state() (solver 'auto'), generator construction included",
        qutip=qutip,
        time=f"one NESS; best of up to {args.repeat} fresh interpreters (a run above "
        f"{REPEAT_MAX_SECONDS:g} s is not repeated); QuTiP killed after {args.qutip_timeout:g} s",
        agreement_metric="max |J_ours - J_QuTiP| / max |J| over both baths",
        agreement_tolerance=AGREEMENT_TOL,
        peak_memory="ru_maxrss of the measuring interpreter (imports and an N = 4 warm-up included, "
        f"nothing subtracted), largest over the runs; QuTiP's under a {args.qutip_memory:g} GiB "
        "address-space cap",
        rows=out,
        columns=(
            ("solver", "solver"),
            ("residual", "residual"),
            ("blas_setting", "BLAS setting"),
            ("blas_threads", "BLAS threads (ours)"),
            ("ours_one_blas_thread_s", "ours, BLAS 1 thread [s]"),
        ),
        caveats=(*caveats, BLAS_CAVEAT if args.blas_threads is None else BLAS_CAVEAT_SET),
        notes=tuple(targets(flavour, rows, args)),
    )


if __name__ == "__main__":
    sys.exit(main())
