"""The ``qhe`` command line.

``qhe run DESIGN.toml [--json] [--solver S]``
    Load a design file (schema in `analysis.design`), solve for its non-equilibrium steady state
    and print a report, or the result's ``to_dict()`` as JSON.

Errors in the input (`engines.WorkbenchError`, unreadable files) print one line,
``qhe: error: <message>``, to stderr and exit with status 2; no traceback.  The physics packages
are imported only when a command runs, so ``qhe --help`` stays fast; ``run`` never imports pandas
or matplotlib.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings

__all__ = ["main"]

PROG = "qhe"
#: Exit status for bad input (the argparse convention).
EXIT_USAGE = 2
#: Listed in ``--help``; the authoritative list is `engines.steady.SOLVERS` (a test keeps them equal).
SOLVER_NAMES = ("auto", "pauli", "dense", "sparse", "iterative")


def main(argv=None) -> int:
    """Run the ``qhe`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (``sys.argv[1:]`` if None).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input (usage, design or file errors).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help or a usage error: argparse has printed its message
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    from engines import WorkbenchError

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except (WorkbenchError, OSError) as e:
            print(f"{PROG}: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_USAGE


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (e.g. a `ThermodynamicsWarning`) as one line each, like errors."""
    print(f"{PROG}: warning: {_one_line(message)} ({category.__name__})", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Quantum heat engine workbench: run machine designs written as TOML files.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run",
        help="solve a design's steady state and report power, efficiency and currents",
        description="Solve the non-equilibrium steady state of a continuous machine described in a TOML "
        "design file and report its mode, power, efficiency or COP, entropy production and the heat "
        "current of each reservoir (J > 0: heat flows from the reservoir into the medium).",
    )
    run.add_argument("design", metavar="DESIGN.toml", help="design file (see examples/)")
    run.add_argument("--json", action="store_true", help="print the result as JSON instead of a report")
    run.add_argument(
        "--solver",
        metavar="S",
        help=f"steady-state solver, one of {', '.join(SOLVER_NAMES)} (default: the design's [engine] solver)",
    )
    run.set_defaults(func=_run)
    return parser


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        text = f"{error.filename}: {error.strerror or error}"
    else:
        text = str(error)
    return " ".join(text.split())


def _run(args) -> int:
    from analysis.design import load_design
    from engines._checks import choice
    from engines.steady import SOLVERS

    solver = None if args.solver is None else choice(PROG + " run", "--solver", args.solver, SOLVERS)
    design = load_design(args.design)
    result = design.steady_state(solver)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(report(design, result))
    return 0


# ----------------------------------------------------------------------------------------- report
def _num(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.6g}"


def report(design, result) -> str:
    """Human-readable summary of a design's steady state.

    Parameters
    ----------
    design : analysis.design.Design
    result : engines.SteadyState

    Returns
    -------
    str
        Several lines: the design, its mode, power, efficiency (with Carnot) or COP, entropy
        production, a table of reservoirs and how the state was computed.
    """
    lines = [f"{design.name} ({design.source})", ""]
    rows = [("mode", result.mode), ("power P", _num(result.power))]
    if result.efficiency is not None:
        carnot = result.carnot_efficiency
        rows.append(("efficiency", _num(result.efficiency)))
        rows.append(("Carnot efficiency", _num(carnot)))
        if carnot:
            rows.append(("eta / eta_Carnot", _num(result.efficiency / carnot)))
    elif result.cop is not None:
        rows.append(("COP", _num(result.cop)))
    else:
        rows.append(("efficiency", f"undefined (mode {result.mode})"))
    rows.append(("entropy production", _num(result.entropy_production)))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]

    from engines import FermionicLead

    table = [("reservoir", "type", "T", "mu", "heat current J", "particle current")]
    for r in design.engine.reservoirs:
        fermionic = isinstance(r, FermionicLead)
        table.append(
            (
                r.name,
                "fermionic" if fermionic else "bosonic",
                _num(r.T),
                _num(r.mu) if fermionic else "-",
                _num(result.heat_currents[r.name]),
                _num(result.particle_currents.get(r.name)),
            )
        )
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    lines.append("")
    for row in table:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(w) for cell, w in zip(row[2:], widths[2:])]
        lines.append("  " + "  ".join(cells).rstrip())
    lines.append("  (J > 0: heat flows from the reservoir into the medium; P = sum of J, > 0 for an engine)")
    lines.append("")
    lines.append(f"  solver {result.solver}, residual {result.residual:.2e}")
    lines.append(f"  flavour {result.flavour}, bookkeeping {result.bookkeeping}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
