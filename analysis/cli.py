"""The ``qhe`` command line.

``qhe run DESIGN.toml [--json] [--solver S]``
    Load a design file (schema in `analysis.design`), solve for its non-equilibrium steady state
    (a continuous machine, ``[engine]``) or its limit cycle (``[cycle]``) and print a report, or the
    result's ``to_dict()`` as JSON.  ``--solver`` applies to continuous machines only.

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
        help="solve a design's steady state or limit cycle and report power, efficiency and heats",
        description="Solve a machine described in a TOML design file: the non-equilibrium steady state "
        "of a continuous machine ([engine]) or the limit cycle of a cycle ([cycle]). Reports its mode, "
        "power, efficiency or COP, entropy production and the heat of each reservoir (J, Q > 0: heat "
        "flows from the reservoir into the medium); for a cycle also the work per cycle (W > 0: done on "
        "the medium) and a table of the strokes.",
    )
    run.add_argument("design", metavar="DESIGN.toml", help="design file (see examples/)")
    run.add_argument("--json", action="store_true", help="print the result as JSON instead of a report")
    run.add_argument(
        "--solver",
        metavar="S",
        help=f"steady-state solver, one of {', '.join(SOLVER_NAMES)} (default: the design's [engine] "
        "solver; continuous machines only)",
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
    from engines.checks import WorkbenchError, choice
    from engines.steady import SOLVERS

    solver = None if args.solver is None else choice(PROG + " run", "--solver", args.solver, SOLVERS)
    design = load_design(args.design)
    if solver is not None and design.kind == "cycle":
        raise WorkbenchError(
            f"{PROG} run: `--solver` applies to continuous machines ([engine]); {design.source} is a "
            "cycle ([cycle]), solved without a choice of solver: drop --solver."
        )
    result = design.run(solver)
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


def _table(rows, left: int = 1) -> list[str]:
    """Rows of strings as aligned lines: the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row[:left], widths[:left])]
        cells += [cell.rjust(w) for cell, w in zip(row[left:], widths[left:])]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def report(design, result) -> str:
    """Human-readable summary of a solved design.

    Parameters
    ----------
    design : analysis.design.Design
    result : engines.SteadyState or cycles.CycleResult
        ``design.run()``.

    Returns
    -------
    str
        Several lines: the design, its mode, power, efficiency (with Carnot) or COP, entropy
        production, a table of reservoirs and how the state was computed; for a cycle also the
        work per cycle, the period, the fixed-point residual and a table of the strokes.
    """
    if design.kind == "cycle":
        return _cycle_report(design, result)
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
    rows.append(("entropy production", _num(result.entropy_production_rate)))
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
    lines.append("")
    lines += _table(table, left=2)
    lines.append("  (J > 0: heat flows from the reservoir into the medium; P = sum of J, > 0 for an engine)")
    lines.append("")
    lines.append(f"  solver {result.solver}, residual {result.residual:.2e}")
    lines.append(f"  flavour {result.flavour}, bookkeeping {result.bookkeeping}")
    return "\n".join(lines)


def _cycle_report(design, result) -> str:
    """`report` for a cycle design and its `cycles.CycleResult`."""
    lines = [f"{design.name} ({design.source})", ""]
    n = len(result.strokes)
    power = _num(result.power) + ("  (infinite period)" if math.isinf(result.period) else "")
    rows = [
        ("cycle", f"{n} stroke{'s' if n != 1 else ''}, medium {design.medium!r}"),
        ("mode", result.mode),
        ("work per cycle W", _num(result.work)),
        ("period", _num(result.period)),
        ("power P = -W/period", power),
    ]
    carnot = result.carnot_efficiency
    if result.efficiency is not None:
        rows.append(("efficiency", _num(result.efficiency)))
        rows.append(("Carnot efficiency", _num(carnot)))
        if carnot:
            rows.append(("eta / eta_Carnot", _num(result.efficiency / carnot)))
    elif result.cop is not None:
        rows.append(("COP", _num(result.cop)))
        temperatures = sorted(set(result.temperatures.values()))
        if len(temperatures) == 2 and temperatures[0] > 0:  # a work-driven refrigerator between two baths
            t_c, t_h = temperatures
            rows.append(("Carnot COP T_c/(T_h - T_c)", _num(t_c / (t_h - t_c))))
    else:
        rows.append(("efficiency", f"undefined (mode {result.mode})"))
    rows.append(("entropy production / cycle", _num(result.entropy_production)))
    rows.append(("fixed-point residual", f"{result.fixed_point_residual:.2e}"))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]

    from engines import FermionicLead

    table = [("reservoir", "type", "T", "heat per cycle Q")]
    for r in design.reservoirs:
        kind = "fermionic" if isinstance(r, FermionicLead) else "bosonic"
        table.append((r.name, kind, _num(r.T), _num(result.heat[r.name])))
    lines.append("")
    lines += _table(table, left=2)
    lines.append("  (Q > 0: heat flows from the reservoir into the medium; W > 0: work done on the medium;")
    lines.append("   W + sum of Q = 0)")

    columns = list(result.strokes[0]) if result.strokes else []
    table = [tuple(columns)]
    for row in result.strokes:
        table.append(tuple(v if isinstance(v, str) else _num(v) for v in row.values()))
    lines.append("")
    lines += _table(table, left=1)
    lines.append("  (work and heat booked during each stroke; energy and entropy of the medium at its end)")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
