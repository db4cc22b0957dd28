"""Benchmark: heat and magnetisation currents through an XXZ chain between two baths, vs N and Delta.

The model is `examples/xxz_chain.toml` at every length and anisotropy: ``SpinChain(N, J=0.1,
Delta, field=2)`` (H = sum_i J (sx sx + sy sy + Delta sz sz) + sum_i (field/2) sz_i), a hot bath
(T = 2) on site 0 and a cold bath (T = 0.5) on site N-1, flat (J(w) = kappa = 0.05), coupled
through sigma_x.  Both Davies constructions split sigma_x into its sigma_- and sigma_+ parts
(frequencies +-field locally, +-(field + O(J)) globally), so every jump flips one spin, the
generator conserves the total magnetisation M = sum_i sz_i / 2 in the sense that its steady
state is block diagonal in the magnetisation sectors, and a magnetisation current is defined
(a sigma_z or dephasing bath would move none).  Heat in the local flavour is booked against the
full Hamiltonian (``bookkeeping="full"``, as the example), so that the hot bath's heat equals the
energy current through every bond.

For each flavour ("local": each bath sees its end site; "global": Davies jumps in the eigenbasis
of the whole chain), each Delta and N = n_min..n_max, one fresh interpreter (``spawn``) solves an
N = 4 chain first (numba's disk cache, lazy imports), then measures
``Engine(chain, baths, flavour).steady_state()`` with the automatic solver, generator construction
included; peak memory is that interpreter's ``ru_maxrss`` (nothing subtracted) beside the
library's own estimate (`engines.memory`).  Then, untimed: the heat currents, the magnetisation
each bath feeds in (`analysis.transport.magnetisation_currents`), and in the local flavour the
bond currents of energy and magnetisation (`analysis.transport.bond_currents`), which must all
equal the boundary currents (continuity; column ``continuity``, their largest relative
difference).  A ``ModelValidityWarning`` (the global flavour at J = 0.1: the bath rates exceed the
many-body level spacings) is recorded in the column ``regime warning``, not hidden.  Once a point
fails, times out or is refused (the library refuses before allocating what would not fit), larger
N of that flavour and Delta are not tried.

QuTiP: ``qutip.steadystate(H, c_ops)`` with our jump operators (in the generator's basis) for
N <= ``--qutip-max-n`` (global: N <= 5, its Davies jumps number up to d^2); agreement
max |rho_ours - rho_QuTiP| <= 1e-8 or the program exits with 1.
Timings against QuTiP at larger N are `chain_scaling.py`'s; this program is about the currents.

Outputs: the table printed, ``benchmarks/results/chain_transport.json`` (the results convention of
`_common.py`) and ``.csv`` beside it (one row a point), and the figure of the heat and magnetisation
currents against N, one line per Delta, the flavours by line style (`analysis.plots.current_vs_size`;
``docs/figures/chain_transport.png`` for a full run).

Physics the table shows (references in docs/physics.md style): at Delta = 0 (XX chain) the local
currents do not depend on N (ballistic transport of free fermions; M. Znidaric, J. Stat. Mech.
(2010) P05002, at zero dephasing); for 0 < Delta < 1 they approach a finite limit (ballistic,
T. Prosen, PRL 106, 217206 (2011)); at Delta = 1 and above they decrease with N (anomalous at
Delta = 1 and diffusive for Delta > 1 in linear response, M. Znidaric, PRL 106, 220601 (2011);
towards insulating for strong driving, T. Prosen, PRL 107, 137201 (2011)).  The global flavour puts
the baths' jumps between eigenstates of the whole chain, so its currents barely depend on N or
Delta: it is outside its regime here, which is why the example uses the local one.

Run ``python benchmarks/chain_transport.py --help`` for the options; this is a program that prints
a table, never a test (docs/architecture.md item 14).
"""

from __future__ import annotations

import argparse
import csv
import gc
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from _common import (
    REPO_ROOT,
    Recorder,
    Row,
    Table,
    add_results_argument,
    format_bytes,
    library_blas_policy,
    max_rss,
    print_table,
    run_in_fresh_interpreter,
    thread_settings,
)

#: The chain of examples/xxz_chain.toml (Delta is swept) and its baths: (name, T, site), -1 the last.
CHAIN = {"J": 0.1, "field": 2.0}
BATHS = (("hot", 2.0, 0), ("cold", 0.5, -1))
COUPLING = 0.05
OPERATOR = "sigma_x"
BOOKKEEPING = "full"
FLAVOURS = ("local", "global")
DELTAS = (0.0, 0.5, 1.0, 1.5)
#: Agreement required between our NESS and QuTiP's, max |rho_ours - rho_QuTiP|.
AGREEMENT_TOL = 1e-8
#: QuTiP gets the global flavour's Davies jumps as a list of Qobj, up to d^2 of them (about 4000 at
#: N = 6, where steadystate takes minutes): it solves the global chain up to this N only.
GLOBAL_QUTIP_MAX_N = 5
#: Chain length solved in each measuring interpreter before the measurement.
WARMUP_N = 4
#: The issue's targets: (N, seconds).
TARGETS = {"local": (12, 600.0), "global": (14, 300.0)}
#: Row statuses of `_common.STATUSES` a point can have (anything else is "failed").
KNOWN_STATUSES = ("ok", "timeout", "out of memory", "crashed")
#: Where a full run puts its figure.
FIGURE = REPO_ROOT / "docs" / "figures" / "chain_transport.png"
#: The CSV columns, in order.
CSV_COLUMNS = (
    "flavour",
    "N",
    "Delta",
    "status",
    "J_hot",
    "J_cold",
    "M_hot",
    "M_cold",
    "M_bonds",
    "continuity",
    "time_s",
    "generator_s",
    "solve_s",
    "peak_rss_bytes",
    "estimate_bytes",
    "solver",
    "residual",
    "regime_warning",
    "qutip_s",
    "agreement",
    "message",
)


def build_engine(n: int, delta: float, flavour: str):
    """The chain of `n` sites with anisotropy `delta` between its two baths."""
    from engines import BosonicBath, Engine, SpinChain

    chain = SpinChain(n, CHAIN["J"], delta, CHAIN["field"])
    baths = [BosonicBath(name, T, COUPLING, OPERATOR, site=site % n) for name, T, site in BATHS]
    extra = {"bookkeeping": BOOKKEEPING} if flavour == "local" else {}
    return Engine(chain, baths, flavour, **extra)


def _estimate(n: int, delta: float, flavour: str) -> int | None:
    """The library's estimate of the generator's construction (`engines.memory.build`), in bytes."""
    from engines import BosonicBath, SpinChain, memory

    chain = SpinChain(n, CHAIN["J"], delta, CHAIN["field"])
    baths = [BosonicBath(name, T, COUPLING, OPERATOR, site=site % n) for name, T, site in BATHS]
    return int(memory.build(chain, baths, flavour, jumps=False).total)


def _relative_spread(values, reference: float) -> float:
    return float(np.max(np.abs(np.asarray(values) - reference)) / abs(reference))


def _qutip_solve(engine, ness) -> dict:
    """qutip.steadystate(H, c_ops) with our jumps in the generator's basis; its time and the agreement."""
    import qutip

    gen = engine.generator
    H = qutip.Qobj(gen.hamiltonian.toarray() if hasattr(gen.hamiltonian, "toarray") else gen.hamiltonian)
    c_ops = [qutip.Qobj(L.toarray()) for D in gen.dissipators for L in D.jumps]
    start = time.perf_counter()
    rho = qutip.steadystate(H, c_ops)
    elapsed = time.perf_counter() - start
    ours = gen.from_medium_basis(ness.rho)
    return {"qutip_s": elapsed, "agreement": float(np.max(np.abs(rho.full() - ours)))}


def _point_child(conn, flavour: str, n: int, delta: float, qutip_max_n: int) -> None:
    """Measure one point in this (fresh) interpreter and send its numbers through `conn`."""
    try:
        from analysis.transport import bond_currents, magnetisation_currents
        from engines import ModelValidityWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_engine(WARMUP_N, delta, flavour).steady_state()
        gc.collect()
        out = {"status": "ok", "rss_before": max_rss(), "estimate": _estimate(n, delta, flavour)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            engine = build_engine(n, delta, flavour)
            built = time.perf_counter()
            ness = engine.steady_state()
            done = time.perf_counter()
        out.update(
            time=done - start,
            generator=built - start,
            solve=done - built,
            rss=max_rss(),
            solver=ness.solver,
            residual=ness.residual,
        )
        validity = [str(w.message) for w in caught if issubclass(w.category, ModelValidityWarning)]
        out["regime_warning"] = validity[0].split(":")[0] if validity else ""
        out["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        out["J"] = {name: ness.heat_currents[name] for name, _, _ in BATHS}
        out["M"] = magnetisation_currents(engine, steady=ness)
        J_hot, M_hot = out["J"]["hot"], out["M"]["hot"]
        spreads = [_relative_spread([-out["M"]["cold"]], M_hot), _relative_spread([-out["J"]["cold"]], J_hot)]
        if flavour == "local":
            bonds_m = bond_currents(engine, "magnetisation", steady=ness)
            out["M_bonds"] = float(np.mean(bonds_m))
            spreads.append(_relative_spread(bonds_m, M_hot))
            if n >= 3:
                spreads.append(_relative_spread(bond_currents(engine, "energy", steady=ness), J_hot))
        out["continuity"] = max(spreads)
        if n <= (min(qutip_max_n, GLOBAL_QUTIP_MAX_N) if flavour == "global" else qutip_max_n):
            out.update(_qutip_solve(engine, ness))
        out["analysis"] = time.perf_counter() - done
        conn.send(out)
    except MemoryError:
        conn.send({"status": "out of memory", "message": traceback.format_exc(limit=3)})
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        # The library refuses, before allocating, what its estimate says would not fit.
        status = "out of memory" if "memory" in text.lower() and "limit" in text.lower() else "failed"
        conn.send({"status": status, "message": text})
    finally:
        conn.close()


def measure(args) -> dict[str, list[dict]]:
    """Every point: per flavour, the rows in the order (Delta, N)."""
    out = {}
    for flavour in args.flavours:
        n_max = args.n_max_global if flavour == "global" and args.n_max_global else args.n_max
        rows = []
        for delta in args.deltas:
            for n in range(args.n_min, n_max + 1):
                print(f"  {flavour} N={n} Delta={delta:g} ...", end="", flush=True, file=sys.stderr)
                result = run_in_fresh_interpreter(
                    _point_child, (flavour, n, delta, args.qutip_max_n), args.timeout
                )
                if result["status"] == "timeout":
                    result["message"] = f"killed after {args.timeout:g} s"
                shown = f"{result['time']:.3g} s" if result["status"] == "ok" else result["status"]
                print(f" {shown}", file=sys.stderr)
                rows.append({"flavour": flavour, "N": n, "Delta": delta, **result})
                if result["status"] != "ok":
                    break  # larger N of this Delta are not tried
        out[flavour] = rows
    return out


def _csv_row(row: dict) -> dict:
    ok = row["status"] == "ok"
    get = row.get
    return {
        "flavour": row["flavour"],
        "N": row["N"],
        "Delta": row["Delta"],
        "status": row["status"],
        "J_hot": get("J", {}).get("hot") if ok else None,
        "J_cold": get("J", {}).get("cold") if ok else None,
        "M_hot": get("M", {}).get("hot") if ok else None,
        "M_cold": get("M", {}).get("cold") if ok else None,
        "M_bonds": get("M_bonds"),
        "continuity": get("continuity"),
        "time_s": get("time"),
        "generator_s": get("generator"),
        "solve_s": get("solve"),
        "peak_rss_bytes": get("rss"),
        "estimate_bytes": get("estimate"),
        "solver": get("solver"),
        "residual": get("residual"),
        "regime_warning": get("regime_warning"),
        "qutip_s": get("qutip_s"),
        "agreement": get("agreement"),
        "message": get("message"),
    }


def _g(x, fmt=".4g") -> str:
    return "-" if x is None else format(x, fmt)


def print_tables(results: dict[str, list[dict]]) -> None:
    header = [
        "N",
        "Delta",
        "J_hot",
        "M_hot",
        "continuity",
        "time",
        "peak RSS",
        "estimate",
        "solver",
        "residual",
        "regime warning",
    ]
    for flavour, rows in results.items():
        print(f"{flavour} flavour")
        table = [header]
        for r in rows:
            c = _csv_row(r)
            ok = r["status"] == "ok"
            table.append(
                [
                    str(r["N"]),
                    f"{r['Delta']:g}",
                    _g(c["J_hot"], ".6e"),
                    _g(c["M_hot"], ".6e"),
                    _g(c["continuity"], ".1e"),
                    f"{r['time']:.3g} s" if ok else r["status"],
                    format_bytes(r["rss"]) if ok else "-",
                    format_bytes(r["estimate"]) if r.get("estimate") else "-",
                    r.get("solver") or "-",
                    _g(c["residual"], ".1e"),
                    (r.get("regime_warning") or "") if ok else (r.get("message") or "")[:100],
                ]
            )
        print_table(table)
        print()


def write_csv(path: Path, results: dict[str, list[dict]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for rows in results.values():
            for row in rows:
                writer.writerow(_csv_row(row))
    return path


def write_figure(path: Path, results: dict[str, list[dict]]) -> Path:
    """Heat and magnetisation currents against N (`analysis.plots.current_vs_size`), side by side."""
    import pandas as pd
    from matplotlib.figure import Figure

    from analysis import plots

    frame = pd.DataFrame([_csv_row(r) for rows in results.values() for r in rows])
    frame = frame[frame["status"] == "ok"]
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    plots.current_vs_size(frame, left, current="J_hot", logy=True)
    plots.current_vs_size(frame, right, current="M_hot", logy=True)
    fig.suptitle(
        f"XXZ chain (J = {CHAIN['J']:g}, field = {CHAIN['field']:g}) between baths at T = 2 and 0.5 "
        f"(kappa = {COUPLING:g}, {OPERATOR})",
        fontsize="medium",
    )
    return plots.save(fig, path)


def results_table(flavour: str, rows: list[dict], args) -> Table:
    out = []
    for r in rows:
        ok = r["status"] == "ok"
        qutip_ok = ok and r.get("qutip_s") is not None
        if qutip_ok:
            qutip_status, reason = "ok", None
        elif not ok:
            qutip_status, reason = "not run", f"our solve: {r['status']}"
        else:
            qutip_status = "not run"
            limit = min(args.qutip_max_n, GLOBAL_QUTIP_MAX_N) if flavour == "global" else args.qutip_max_n
            reason = f"N > {limit} (timings vs QuTiP: chain_scaling.py)"
        c = _csv_row(r)
        extra = {k: c[k] for k in CSV_COLUMNS if k not in ("flavour", "N", "Delta", "status", "time_s")}
        extra["peak_rss_before_bytes"] = r.get("rss_before")
        extra["analysis_s"] = r.get("analysis")
        extra["warnings"] = r.get("warnings")
        extra["estimate"] = format_bytes(r["estimate"]) if r.get("estimate") else None
        out.append(
            Row(
                case=f"{flavour} N={r['N']} Delta={r['Delta']:g}",
                size={"N": r["N"], "Delta": r["Delta"], "d": 2 ** r["N"]},
                ours_s=r["time"] if ok else None,
                ours_status=r["status"] if r["status"] in KNOWN_STATUSES else "failed",
                qutip_s=r["qutip_s"] if qutip_ok else None,
                qutip_status=qutip_status,
                qutip_reason=reason,
                agreement=r.get("agreement") if qutip_ok else None,
                ours_peak_bytes=r.get("rss"),
                extra=extra,
            )
        )
    n_target, t_target = TARGETS[flavour]
    hits = [r for r in rows if r["N"] == n_target]
    if hits:
        met = all(r["status"] == "ok" and r["time"] <= t_target for r in hits)
        times = ", ".join(
            f"Delta = {r['Delta']:g}: " + (f"{r['time']:.0f} s" if r["status"] == "ok" else r["status"])
            for r in hits
        )
        note = f"target: N = {n_target} under {t_target:g} s: {'met' if met else 'NOT met'} ({times})"
    else:
        longest = max(r["N"] for r in rows)
        note = f"target: N = {n_target} under {t_target:g} s: not measured (N up to {longest})"
    notes = [note]
    stopped = [r for r in rows if r["status"] != "ok"]
    notes += [
        f"Delta = {r['Delta']:g} stopped at N = {r['N']}: {r['status']} ({r.get('message', '')})"
        for r in stopped
    ]
    caveats = ()
    if flavour == "global":
        caveats = (
            "Global flavour at J = 0.1: a ModelValidityWarning at every N (bath rates above the many-body "
            "level spacings); its currents are reported, not trusted.",
        )
    return Table(
        name=flavour,
        title=f"Currents through the XXZ chain (J = {CHAIN['J']:g}, field = {CHAIN['field']:g}), {flavour} "
        f"flavour, N = {args.n_min}..{max(r['N'] for r in rows)}",
        ours="Engine(chain, baths, flavour).steady_state() (solver 'auto'), generator construction included",
        qutip=f"qutip.steadystate(H, c_ops) with our jump operators, N <= {args.qutip_max_n}",
        time="one NESS in a fresh interpreter after an N = 4 warm-up; currents and bond currents untimed",
        agreement_metric="max |rho_ours - rho_QuTiP|",
        agreement_tolerance=AGREEMENT_TOL,
        peak_memory="ru_maxrss of the measuring interpreter (imports and the warm-up included, nothing "
        "subtracted); the library's build estimate in extra.estimate_bytes",
        rows=out,
        columns=(
            ("J_hot", "J_hot"),
            ("M_hot", "M_hot"),
            ("continuity", "continuity"),
            ("solver", "solver"),
            ("residual", "residual"),
            ("estimate", "build estimate"),
            ("regime_warning", "regime warning"),
        ),
        caveats=caveats,
        notes=tuple(notes),
    )


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chain_transport.py",
        description="Heat and magnetisation currents through an XXZ chain between two baths, vs N and Delta.",
    )
    parser.add_argument("--n-min", type=int, default=4, help="shortest chain")
    parser.add_argument("--n-max", type=int, default=12, help="longest chain")
    parser.add_argument(
        "--n-max-global", type=int, default=14, help="longest chain of the global flavour (default 14)"
    )
    parser.add_argument(
        "--deltas", type=_floats, default=list(DELTAS), help="anisotropies, comma-separated (0,0.5,1,1.5)"
    )
    parser.add_argument(
        "--flavours",
        type=lambda s: [f for f in s.split(",") if f],
        default=list(FLAVOURS),
        help="comma-separated flavours (local,global)",
    )
    parser.add_argument("--qutip-max-n", type=int, default=6, help="longest chain QuTiP also solves (6)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per point (1800)")
    parser.add_argument("--figure", type=Path, help=f"the figure (default {FIGURE.relative_to(REPO_ROOT)})")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: N = 3..4, Delta = 0.5, QuTiP at N <= 4"
    )
    add_results_argument(parser)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.n_min, args.n_max, args.n_max_global, args.deltas, args.qutip_max_n = 3, 4, 4, [0.5], 4
    if args.n_min < 2 or args.n_max < args.n_min or not args.deltas or args.timeout <= 0:
        parser.error("need 2 <= --n-min <= --n-max, at least one Delta and a positive --timeout")
    if any(f not in FLAVOURS for f in args.flavours):
        parser.error(f"--flavours must be among {','.join(FLAVOURS)}")
    recorder = Recorder("chain_transport", argv, quick=args.quick, results_dir=args.results_dir)
    results = measure(args)
    load_after = recorder.stop()
    print(
        f"XXZ chain SpinChain(N, J={CHAIN['J']}, Delta, field={CHAIN['field']}); baths "
        + ", ".join(f"{b} T={T} on site {'N-1' if s == -1 else s}" for b, T, s in BATHS)
        + f", flat kappa = {COUPLING}, {OPERATOR}; local heat booked against the full H. Load average "
        f"{recorder.load_before[0]:.2f} before / {load_after[0]:.2f} after."
    )
    print(
        "J_hot: heat from the hot bath [energy/time]; M_hot: magnetisation from the hot bath [1/time]; "
        "continuity: largest relative difference of the bond currents and -J_cold, -M_cold from them.\n"
    )
    print_tables(results)
    status = 0
    for rows in results.values():
        for r in rows:
            a = r.get("agreement")
            if a is not None and not a <= AGREEMENT_TOL:
                where = f"{r['flavour']} N={r['N']} Delta={r['Delta']:g}"
                print(f"ERROR: {where}: QuTiP differs by {a:.1e}", file=sys.stderr)
                status = 1
    tables = [results_table(f, rows, args) for f, rows in results.items()]
    for t in tables:
        for line in t.notes:
            print(f"{t.name}: {line}")
    path = recorder.write(tables, exit_status=status, threads=thread_settings(library=library_blas_policy()))
    csv_path = write_csv(path.with_suffix(".csv"), results)
    figure = args.figure or (path.with_suffix(".png") if args.quick or args.results_dir else FIGURE)
    write_figure(figure, results)
    print(f"results: {path}, {csv_path}; figure: {figure}")
    return status


if __name__ == "__main__":
    sys.exit(main())
