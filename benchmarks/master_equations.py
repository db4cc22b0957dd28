"""Benchmark: Redfield and unified steady states of an XXZ chain, ours vs QuTiP's Bloch-Redfield tensor.

The model: ``SpinChain(N, J=1, Delta=0.5, field=1)``, a hot bath (T = 2) on site 0 and a cold bath
(T = 0.5) on site N-1, both ohmic (J(w) = kappa w, kappa = 0.1) and coupled through sigma_x.  For
N = 4, 5, 8 (d = 2^N, up to 256):

- **ours**: ``Engine(chain, baths, flavour).steady_state()`` with the automatic solver, timed from
  the generator's construction to the returned `SteadyState`, for ``flavour = "redfield"`` and
  ``"unified"``.
- **QuTiP**: ``qutip.bloch_redfield_tensor(H, a_ops, sec_cutoff=-1, fock_basis=True)`` from QuTiP's
  own sigmax/sigmaz/tensor, with a_ops spectra S(w) = kappa |w| (1 + n(|w|)) (w > 0), kappa |w|
  n(|w|) (w < 0), kappa T (w = 0), then ``qutip.steadystate(R)``; both calls timed.  It is the
  baseline of both rows (QuTiP has no unified master equation).  The full Redfield tensor is a
  dense d^2 x d^2 matrix: at d = 256 it has 4.3e9 entries (69 GB), so QuTiP is not run there.

Agreement (redfield rows): max |rho_ours - rho_QuTiP|, which must be below 1e-6 or the program
exits with 1.  The unified rows report the relative difference of their hot current from our Redfield
current (a model difference, not an error).

Run ``python benchmarks/master_equations.py --help`` for the options; this is a program that prints a
table, never a test (docs/architecture.md item 14).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
from _common import Recorder, Row, Table, add_results_argument, bose, max_rss, print_table, thread_settings

#: Agreement required between our Redfield state and QuTiP's.
AGREEMENT_TOL = 1e-6
CHAIN = {"J": 1.0, "Delta": 0.5, "field": 1.0}
BATHS = (("hot", 2.0, 0), ("cold", 0.5, -1))
KAPPA = 0.1
#: Largest N for which QuTiP's dense Redfield tensor (d^4 entries) is built.
QUTIP_MAX_N = 5
#: The issue's target: both steady states at d = 256 under this many seconds on two cores.
TARGET = (8, 60.0)


def build_engine(n: int, flavour: str):
    """The chain of `n` sites with its two ohmic baths."""
    from engines import BosonicBath, Engine, SpinChain

    baths = [BosonicBath(name, T, KAPPA, "sigma_x", "ohmic", site=s % n) for name, T, s in BATHS]
    return Engine(SpinChain(n, **CHAIN), baths, flavour)


def run_ours(n: int, flavour: str):
    """(seconds, steady state) of one solve from the engine's construction on."""
    from engines import ModelValidityWarning

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelValidityWarning)
        ss = build_engine(n, flavour).steady_state()
    return time.perf_counter() - start, ss


def _spectrum(T):
    def S(w):
        x = abs(float(w))
        if x == 0.0:
            return KAPPA * T
        return KAPPA * x * (1.0 + bose(x, T)) if w > 0 else KAPPA * x * bose(x, T)

    return S


def run_qutip(n: int):
    """(seconds, rho, version): QuTiP's full Bloch-Redfield tensor and its steady state, QuTiP's operators."""
    import qutip

    one, sx, sz = qutip.qeye(2), qutip.sigmax(), qutip.sigmaz()

    def site(op, i):
        return qutip.tensor([op if k == i else one for k in range(n)])

    H = sum(
        CHAIN["J"]
        * (
            site(sx, i) * site(sx, i + 1)
            + site(qutip.sigmay(), i) * site(qutip.sigmay(), i + 1)
            + CHAIN["Delta"] * site(sz, i) * site(sz, i + 1)
        )
        for i in range(n - 1)
    ) + sum(0.5 * CHAIN["field"] * site(sz, i) for i in range(n))
    a_ops = [[site(sx, s % n), _spectrum(T)] for _, T, s in BATHS]
    start = time.perf_counter()
    R = qutip.bloch_redfield_tensor(H, a_ops, sec_cutoff=-1, fock_basis=True)
    rho = qutip.steadystate(R)
    return time.perf_counter() - start, rho.full(), qutip.__version__


def build_parser():
    parser = argparse.ArgumentParser(prog="master_equations.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 5, 8], help="chain lengths N")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (N = 4)")
    add_results_argument(parser)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.sizes = [4]
    recorder = Recorder("master_equations", argv, quick=args.quick, results_dir=args.results_dir)
    run_ours(4, "redfield")  # numba kernels from the cache, imports
    rows = {"redfield": [], "unified": []}
    printed = [["flavour", "N", "d", "ours [s]", "solver", "QuTiP BR [s]", "QuTiP/ours", "agreement"]]
    status = 0
    for n in args.sizes:
        d = 2**n
        red_t, red = run_ours(n, "redfield")
        uni_t, uni = run_ours(n, "unified")
        if n <= QUTIP_MAX_N:
            q_t, q_rho, _ = run_qutip(n)
            q_status, reason = "ok", None
            agreement = float(np.max(np.abs(red.rho - q_rho)))
        else:
            q_t, q_status, agreement = None, "not run", None
            reason = f"the dense Redfield tensor has d^4 = {d**4:.2g} entries ({16 * d**4 / 1e9:.0f} GB)"
        if agreement is not None and not agreement <= AGREEMENT_TOL:
            print(f"ERROR: N = {n}: redfield state differs from QuTiP's by {agreement:.2e}", file=sys.stderr)
            status = 1
        J_red = red.heat_currents["hot"]
        for flavour, t, ss in (("redfield", red_t, red), ("unified", uni_t, uni)):
            extra = {
                "solver": ss.solver,
                "J_hot": ss.heat_currents["hot"],
                "relative_to_redfield": (ss.heat_currents["hot"] - J_red) / abs(J_red),
            }
            rows[flavour].append(
                Row(
                    case=f"XXZ chain, {flavour}",
                    size={"N": n, "d": d},
                    ours_s=t,
                    qutip_s=q_t,
                    qutip_status=q_status,
                    qutip_reason=reason,
                    agreement=agreement if flavour == "redfield" else None,
                    extra=extra,
                )
            )
            ratio = f"{q_t / t:.3g}" if q_t is not None else "-"
            agree = f"{agreement:.1e}" if (agreement is not None and flavour == "redfield") else "-"
            printed.append(
                [
                    flavour,
                    str(n),
                    str(d),
                    f"{t:.2f}",
                    ss.solver,
                    f"{q_t:.2f}" if q_t else q_status,
                    ratio,
                    agree,
                ]
            )
    recorder.stop()
    print(
        f"Redfield and unified NESS of the XXZ chain (J = 1, Delta = 0.5, field = 1, ohmic kappa = {KAPPA}); "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{recorder.load_before[0]:.2f} before / {recorder.load_after[0]:.2f} after"
    )
    print_table(printed)
    target_n, target_s = TARGET
    for flavour, flavour_rows in rows.items():
        for row in flavour_rows:
            if row.size["N"] == target_n:
                verdict = "met" if row.ours_s <= target_s else "NOT met"
                print(
                    f"target {flavour} at d = {2**target_n} under {target_s:g} s: {verdict} "
                    f"({row.ours_s:.1f} s)"
                )
    tables = [
        Table(
            name=flavour,
            title=f"{flavour} steady state of the boundary-driven XXZ chain (ohmic baths, kappa = {KAPPA})",
            ours=f'Engine(chain, baths, "{flavour}").steady_state(), construction included',
            qutip="qutip.bloch_redfield_tensor(H, a_ops, sec_cutoff=-1, fock_basis=True) and "
            "qutip.steadystate(R), from QuTiP's own operators",
            time="one solve",
            agreement_metric="max |rho_ours - rho_QuTiP| (redfield); none for unified (no QuTiP equivalent)",
            agreement_tolerance=AGREEMENT_TOL,
            peak_memory="not measured",
            rows=tuple(flavour_rows),
            columns=(("solver", "our solver"), ("relative_to_redfield", "J_hot vs redfield")),
            caveats=(
                "QuTiP's full Redfield tensor is dense (d^4 entries): it is not built beyond N = "
                f"{QUTIP_MAX_N}; the unified rows use the same QuTiP Redfield solve as their baseline.",
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
