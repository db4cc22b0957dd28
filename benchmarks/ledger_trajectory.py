"""Benchmark: the per-bath entropy ledger along a relaxation trajectory, ours vs QuTiP's mesolve.

The model: ``SpinChain(6, J=1, Delta=0.5, field=1)`` (d = 64), a hot bath (T = 2) on site 0 and a cold
bath (T = 0.5) on site 5, flat spectra (kappa = 0.05), coupled through sigma_x, in the global
(Davies) and the local flavour.  The state starts in |0...0> (all spins down) and relaxes for
200 equally spaced times on [0, 2 / kappa].

- **ours**: ``analysis.entropy.relaxation(engine, rho0, times)`` from the engine's construction on
  (NESS included): per time S, D(rho_t || pi), dS/dt, sigma, sigma_na, sigma_hk, each bath's current,
  Spohn term, housekeeping share, entropy flow and exact integrated heat, the population/coherence
  split (global); one eigendecomposition of L per invariant sector for all times.
- **QuTiP**: the part of that QuTiP offers, on our generator's Liouvillian (``qutip.Qobj`` of the
  medium-basis superoperator, column stacking as QuTiP's): ``qutip.mesolve(L, rho0, times)`` to the
  default accuracy, ``qutip.steadystate(L)``, then ``entropy_vn`` and ``entropy_relative`` against
  the NESS at every time.  It is a lower bound on what QuTiP needs for the ledger (no currents, no
  per-bath terms).

Agreement: max over times |D_ours - D_QuTiP| (nats), which must be below 1e-4 (mesolve's default
tolerances set it) or the program exits with 1; times where QuTiP's ``entropy_relative`` returns NaN
(round-off eigenvalues of rho_t below 0 near a pure state) are left out and counted.

Run ``python benchmarks/ledger_trajectory.py --help`` for the options; this is a program that prints
a table, never a test (docs/architecture.md item 14).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
from _common import Recorder, Row, Table, add_results_argument, max_rss, print_table, thread_settings

#: Agreement required between our D(rho_t || pi) and QuTiP's (mesolve's default tolerances).
AGREEMENT_TOL = 1e-4
CHAIN = {"J": 1.0, "Delta": 0.5, "field": 1.0}
BATHS = (("hot", 2.0, 0), ("cold", 0.5, -1))
KAPPA = 0.05
#: The issue's target: the ledger along 200 times of a d = 64 machine under this many seconds.
TARGET = (6, 200, 2.0)


def build_engine(n: int, flavour: str):
    """The chain of `n` sites with its two flat-spectrum baths."""
    from engines import BosonicBath, Engine, SpinChain

    baths = [BosonicBath(name, T, KAPPA, "sigma_x", site=s % n) for name, T, s in BATHS]
    return Engine(SpinChain(n, **CHAIN), baths, flavour)


def initial_state(d: int) -> np.ndarray:
    rho0 = np.zeros((d, d), dtype=complex)
    rho0[-1, -1] = 1.0  # |1...1> in the 0/1 = up/down site basis: all spins down
    return rho0


def run_ours(n: int, flavour: str, times):
    """(seconds, Relaxation) from the engine's construction on."""
    from analysis.entropy import relaxation
    from engines import ModelValidityWarning

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelValidityWarning)
        engine = build_engine(n, flavour)
        rel = relaxation(engine, initial_state(2**n), times)
    return time.perf_counter() - start, rel


def run_qutip(n: int, flavour: str, times):
    """(seconds, D(rho_t || pi) per time): mesolve and the NESS on our Liouvillian, entropies per time."""
    import qutip

    from engines import ModelValidityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelValidityWarning)
        L = build_engine(n, flavour).generator.medium_superoperator()
    d = 2**n
    start = time.perf_counter()
    liouvillian = qutip.Qobj(np.asarray(L), dims=[[[d], [d]], [[d], [d]]])
    rho0 = qutip.Qobj(initial_state(d))
    states = [(s + s.dag()) / 2 for s in qutip.mesolve(liouvillian, rho0, times).states]
    pi = qutip.steadystate(liouvillian)
    pi = (pi + pi.dag()) / 2  # entropy_relative refuses round-off non-Hermiticity
    D = [qutip.entropy_relative(s, pi) for s in states]
    [qutip.entropy_vn(s) for s in states]
    return time.perf_counter() - start, np.array(D)


def build_parser():
    parser = argparse.ArgumentParser(prog="ledger_trajectory.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6], help="chain lengths N")
    parser.add_argument("--points", type=int, default=200, help="times on the trajectory")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (N = 3, 20 times)")
    add_results_argument(parser)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.sizes, args.points = [3], 20
    recorder = Recorder("ledger_trajectory", argv, quick=args.quick, results_dir=args.results_dir)
    times = np.linspace(0.0, 2.0 / KAPPA, args.points)
    rows = {"global": [], "local": []}
    for flavour in rows:  # numba kernels from the cache, imports
        run_ours(3, flavour, times[:3])
    printed = [["flavour", "N", "d", "times", "ours [s]", "QuTiP [s]", "QuTiP/ours", "max |dD|"]]
    status = 0
    for flavour, flavour_rows in rows.items():
        for n in args.sizes:
            ours_t, rel = run_ours(n, flavour, times)
            q_t, q_D = run_qutip(n, flavour, times)
            # QuTiP's entropy_relative is NaN where round-off leaves an eigenvalue of rho_t below 0
            finite = np.isfinite(q_D)
            agreement = float(np.max(np.abs(rel.divergence - q_D)[finite]))
            if not agreement <= AGREEMENT_TOL:
                print(f"ERROR: {flavour} N = {n}: D(rho_t || pi) differs from QuTiP's by {agreement:.2e}")
                status = 1
            flavour_rows.append(
                Row(
                    case=f"XXZ chain, {flavour}",
                    size={"N": n, "d": 2**n, "times": args.points},
                    ours_s=ours_t,
                    qutip_s=q_t,
                    agreement=agreement,
                    extra={
                        "entropy_produced": float(rel.entropy_produced[-1]),
                        "qutip_nan_times": int(np.sum(~finite)),
                    },
                )
            )
            printed.append(
                [
                    flavour,
                    str(n),
                    str(2**n),
                    str(args.points),
                    f"{ours_t:.2f}",
                    f"{q_t:.2f}",
                    f"{q_t / ours_t:.3g}",
                    f"{agreement:.1e}",
                ]
            )
    recorder.stop()
    print(
        "Entropy ledger along a relaxation of the XXZ chain "
        f"(J = 1, Delta = 0.5, field = 1, kappa = {KAPPA}); "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{recorder.load_before[0]:.2f} before / {recorder.load_after[0]:.2f} after"
    )
    print_table(printed)
    target_n, target_points, target_s = TARGET
    for flavour, flavour_rows in rows.items():
        for row in flavour_rows:
            if row.size["N"] == target_n and row.size["times"] == target_points:
                verdict = "met" if row.ours_s <= target_s else "NOT met"
                print(
                    f"target {flavour}: {target_points} times at d = {2**target_n} under {target_s:g} s: "
                    f"{verdict} ({row.ours_s:.2f} s)"
                )
    tables = [
        Table(
            name=flavour,
            title=f"per-bath entropy ledger along a relaxation, {flavour} XXZ chain (kappa = {KAPPA})",
            ours=f'relaxation(Engine(chain, baths, "{flavour}"), rho0, times), construction and NESS '
            "included",
            qutip="qutip.mesolve(L, rho0, times), qutip.steadystate(L), entropy_vn and entropy_relative "
            "per time, on our Liouvillian",
            time="one trajectory",
            agreement_metric="max_t |D(rho_t || pi)_ours - D_QuTiP| (nats)",
            agreement_tolerance=AGREEMENT_TOL,
            peak_memory="not measured",
            rows=tuple(flavour_rows),
            columns=(("entropy_produced", "Sigma(t_end)"), ("qutip_nan_times", "QuTiP NaN times")),
            caveats=(
                "QuTiP computes only the states and two entropies per time (no currents, heats or "
                "per-bath terms): its time is a lower bound for the same ledger.",
            ),
            notes=(),
        )
        for flavour, flavour_rows in rows.items()
    ]
    path = recorder.write(tables, exit_status=status, threads=thread_settings(process_max_rss=max_rss()))
    print(f"results: {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
