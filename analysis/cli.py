"""The ``qhe`` command line.

``qhe run DESIGN.toml [--json] [--solver S] [--initial STATE]``
    Load a design file (schema in `analysis.design`), solve for its non-equilibrium steady state
    (a continuous machine, ``[engine]``) or its limit cycle (``[cycle]``) and print a report, or
    the design's name, description and source followed by the result's ``to_dict()`` as JSON.
    ``--solver`` and ``--initial`` apply to continuous machines only.  ``--initial`` selects the
    steady state when it is not unique (conserved quantities, disconnected sectors: the one
    reached from STATE, its spectral projection onto the kernel of L); STATE is

    * ``k``: the basis state |k><k| of the medium's basis (`engines.media`: a qubit's |0> is its
      upper level, an oscillator's |k> the Fock state, a spin's |k> has m = j - k);
    * ``i0,i1,...``: one basis index per site of a multi-site medium, site 0 (the leftmost
      Kronecker factor) first: the product state |i0> x |i1> x ..., basis index
      i0 d1 d2 ... + i1 d2 ... + ... (``1,0`` of two qubits is ``2``);
    * ``gibbs:T``: the Gibbs state exp(-H/T)/Z of the medium's Hamiltonian with the design's
      controls (T >= 0 or inf; T = 0 spreads evenly over the ground level);
    * a path to a ``.npy`` file (`numpy.save`) holding a (d, d) density matrix, checked to be
      Hermitian, of unit trace and positive within ``Options.state_tol``.

``qhe entropy DESIGN.toml --initial STATE --until T [--rtol R] [--plot FILE] [--json] [--out FILE.csv]``
    The entropy ledger of a continuous machine relaxing from STATE (the forms above) up to time T
    (`analysis.entropy.relaxation` on an adaptive grid of relative accuracy R): S, D(rho_t || pi),
    sigma, sigma_na, sigma_hk, the currents, each bath's Spohn term sigma_<name>, housekeeping part
    sigma_hk_<name> and entropy flow flow_<name>, the heats Q_<name> and the integrals Sigma and
    Sigma_na.  ``--plot`` draws sigma, sigma_na and sigma_hk against t; ``--out`` writes the table.

``qhe run DESIGN.toml --set NAME=VALUE`` solves the design with a parameter changed (dotted names
of `analysis.parameters`, e.g. ``reservoirs.hot.T=5``); ``--set`` repeats and works for every command
that reads a design.

``qhe sweep DESIGN.toml [--grid NAME=start:stop:num | --grid NAME=v1,v2,... | --points FILE.csv]
[--workers N | --scheduler ADDR] [--out DIR|FILE.parquet|FILE.csv] [--quiet] [--json]``
    Solve the design over a grid (the design's ``[sweep]`` table when no grid is given) and write
    the table (`analysis.sweep`): chunked into DIR with a manifest, so an interrupted sweep re-run
    with the same ``--out`` computes only what is missing.

``qhe table DIR|FILE [--emp | --pareto [--refrigerator] | --boundaries NAME |
--low-dissipation --tau-hot NAME --tau-cold NAME] [--json]``
    Tables from a sweep (`analysis.tables`); by default the efficiency-power table of its engines.

``qhe compare A.toml B.toml ... [--grid ...] [--plot FILE] [--json]``
    Designs side by side (`analysis.compare`); with ``--grid``, each design is swept and
    ``--plot`` draws their efficiency-power curves on one figure.

``qhe plot DIR|FILE [--x NAME --y NAME [--color NAME]] -o FILE``
    A figure of a sweep table (`analysis.plots`): two columns (a heat map for two swept parameters
    with ``--color``), or the efficiency-power plot when no columns are given.

``qhe audit DESIGN.toml [--json]``
    Which master equation to trust (`analysis.audit`): findings with severities and the machine in
    every flavour; exit status 0 when clean, 1 with findings, 2 on bad input.

``qhe transport DESIGN.toml [--noise] [--onsager [--reference NAME]] [--bonds]
[--rectify LEFT:RIGHT [--bias SPEC]] [--json] [--plot FILE]``
    Each reservoir's currents, with ``--noise`` their counting statistics and TUR ratio, with
    ``--onsager`` the Onsager matrix and each lead's thermoelectric coefficients, with ``--bonds`` the
    currents along a chain of sites, with ``--rectify`` forward and reversed currents and their ratio
    (`analysis.transport`); ``--plot`` draws them (`analysis.plots.transport`).

Errors in the input (`engines.WorkbenchError`, unreadable files) print one line,
``qhe: error: <message>``, to stderr and exit with status 2; an exception raised inside user code
(`engines.UserCodeError`: a spectrum or a Hamiltonian supplied as a callable) prints
``qhe: error in user code: <message>`` and exits with status 2 too; no traceback either way.
Warnings (`engines.ThermodynamicsWarning`) print one line each, ``qhe: warning: ...``.  The physics
packages are imported only when a command runs, so ``qhe --help`` stays fast; ``run`` never
imports pandas or matplotlib.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import sys
import warnings
from pathlib import Path

__all__ = ["initial_state", "main", "report", "to_json"]

PROG = "qhe"
#: Exit status for bad input (the argparse convention).
EXIT_USAGE = 2
#: Exit status when the reader of stdout goes away (as Python's own on EPIPE).
EXIT_BROKEN_PIPE = 1
#: Listed in ``--help``; the authoritative list is `engines.steady.SOLVERS` (a test keeps them equal).
SOLVER_NAMES = ("auto", "pauli", "dense", "sparse", "iterative")
#: The forms of ``--initial STATE`` (module docstring).
INITIAL_FORMS = (
    "a basis-state index k, one index per site i0,i1,..., gibbs:T (the Gibbs state of the medium at "
    "temperature T) or a .npy file holding a (d, d) density matrix"
)
_INDEX = re.compile(r"\d+")
_SITE_INDICES = re.compile(r"\d+(?:,\d+)+")
_GIBBS = "gibbs:"


def main(argv=None) -> int:
    """Run the ``qhe`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (``sys.argv[1:]`` if None).

    Returns
    -------
    int
        Exit status: 0 on success; 2 on bad input (usage, design or file errors) and on errors
        inside user code; 1 when the reader of stdout went away before the output was written.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help or a usage error: argparse has printed its message
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    from engines import UserCodeError, WorkbenchError

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        # First: a UserCodeError is a WorkbenchError today and its own class tomorrow; either way
        # the user should hear that their code failed, not that their design has a typo.
        except UserCodeError as e:
            message = _user_code_message(e, (UserCodeError, WorkbenchError))
            print(f"{PROG}: error in user code: {message}", file=sys.stderr)
            return EXIT_USAGE
        except BrokenPipeError:  # the reader closed stdout (`qhe run ... | head`): no input error
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        except (WorkbenchError, OSError) as e:
            print(f"{PROG}: error: {_one_line(e)}", file=sys.stderr)
            return EXIT_USAGE


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing at exit does not raise again (Python docs, signal)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (e.g. a `ThermodynamicsWarning`) as one line each, like errors."""
    print(f"{PROG}: warning: {_one_line(message)} ({category.__name__})", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Quantum heat engine workbench: run, sweep, tabulate, compare and plot machine "
        "designs written as TOML files.",
        epilog="Examples: qhe run examples/maser.toml | qhe sweep examples/maser.toml --grid "
        "reservoirs.hot.T=2:20:10 --out maser-sweep | qhe table maser-sweep --emp",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
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
    run.epilog = "Example: qhe run examples/maser.toml --set reservoirs.hot.T=20 --json"
    run.add_argument("design", metavar="DESIGN.toml", help="design file (see examples/)")
    _add_set(run)
    run.add_argument("--json", action="store_true", help="print the result as JSON instead of a report")
    run.add_argument(
        "--solver",
        metavar="S",
        help=f"steady-state solver, one of {', '.join(SOLVER_NAMES)} (default: the design's [engine] "
        "solver; continuous machines only)",
    )
    run.add_argument(
        "--initial",
        metavar="STATE",
        help=f"initial state that selects the steady state when it is not unique: {INITIAL_FORMS} "
        "(continuous machines only)",
    )
    run.set_defaults(func=_run)

    ent = sub.add_parser(
        "entropy",
        help="the entropy ledger of a continuous machine relaxing from an initial state",
        description="Relax a continuous machine ([engine]) from --initial STATE up to --until T and "
        "print its entropy ledger over time: S, D(rho_t||pi), sigma (Clausius), sigma_na, sigma_hk, the "
        "heat currents, per bath the Spohn term sigma_<name>, its housekeeping part and the entropy "
        "flow -J/T, the heats Q and the integrals Sigma (int sigma) and Sigma_na (int sigma_na).",
    )
    ent.epilog = "Example: qhe entropy examples/maser.toml --initial 0 --until 200 --plot sigma.png"
    ent.add_argument("design", metavar="DESIGN.toml", help="design file of a continuous machine")
    _add_set(ent)
    ent.add_argument("--initial", required=True, metavar="STATE", help=f"initial state: {INITIAL_FORMS}")
    ent.add_argument("--until", required=True, metavar="T", help="final time T > 0 (1/energy)")
    ent.add_argument("--rtol", default="1e-3", metavar="R", help="accuracy of the adaptive time grid")
    ent.add_argument("--plot", metavar="FILE", help="figure of the entropy production (.png, .svg, .pdf)")
    ent.add_argument("--out", metavar="FILE.csv", help="write the table as CSV")
    ent.add_argument("--json", action="store_true", help="print the ledger as JSON columns")
    ent.set_defaults(func=_entropy)

    sweep = sub.add_parser(
        "sweep",
        help="solve a design over a grid of parameter values and write the table",
        description="Solve a design at every point of a grid and write one table row per design: the "
        "swept parameters, mode, power, efficiency, eta/eta_C, COP, heat (and particle) currents, entropy "
        "production, solver and residual. The fastest correct path is chosen and reported (batched kernel, "
        "cycle duration sweep or one solve per point); failing points get a row with the error.",
        epilog="Example: qhe sweep examples/otto_qubit.toml --grid cycle.tau_hot=0.5:20:40:log "
        "--grid cycle.tau_cold=0.5:20:40:log --out otto.parquet",
    )
    sweep.add_argument("design", metavar="DESIGN.toml", help="design file")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="an axis: NAME=start:stop:num (':log' for geometric spacing) or NAME=v1,v2,...; axes combine "
        "as a Cartesian product (default: the design's [sweep] table)",
    )
    sweep.add_argument("--points", metavar="FILE.csv", help="points from a CSV file (a column per parameter)")
    sweep.add_argument(
        "--out",
        metavar="PATH",
        help="a directory (Parquet chunks and a manifest: the table) or a "
        ".parquet/.csv file (chunks beside it in PATH.parts)",
    )
    sweep.add_argument("--workers", type=int, metavar="N", help="start a local Dask cluster of N processes")
    sweep.add_argument("--scheduler", metavar="ADDR", help="use an existing Dask scheduler (tcp://HOST:PORT)")
    sweep.add_argument("--chunk-size", type=int, metavar="N", help="points per chunk")
    sweep.add_argument("--path", choices=("batch", "cycle-sweep", "per-point"), help="force a solver path")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--json", action="store_true", help="print the sweep as JSON (every row)")
    _add_set(sweep)
    sweep.set_defaults(func=_sweep)

    table = sub.add_parser(
        "table",
        help="efficiency-power table, efficiency at maximum power, Pareto front, mode boundaries, low "
        "dissipation fit",
        description="Tables from a sweep (a sweep directory or a .parquet/.csv table).",
        epilog="Example: qhe table otto.parquet --emp",
    )
    table.add_argument("table", metavar="DIR|FILE", help="the sweep")
    what = table.add_mutually_exclusive_group()
    what.add_argument(
        "--emp", action="store_true", help="efficiency at maximum power, Carnot, Curzon-Ahlborn"
    )
    what.add_argument("--pareto", action="store_true", help="Pareto front of power and efficiency")
    what.add_argument("--boundaries", metavar="NAME", help="where the mode changes along a swept parameter")
    what.add_argument(
        "--low-dissipation", action="store_true", help="fit Q = T (dS - Sigma/tau) to the isotherms"
    )
    table.add_argument("--refrigerator", action="store_true", help="with --pareto: cooling power against COP")
    table.add_argument(
        "--tau-hot", metavar="NAME", help="with --low-dissipation: the hot isotherm's duration"
    )
    table.add_argument(
        "--tau-cold", metavar="NAME", help="with --low-dissipation: the cold isotherm's duration"
    )
    table.add_argument("--json", action="store_true", help="print JSON")
    table.set_defaults(func=_table_command)

    compare = sub.add_parser(
        "compare",
        help="designs side by side on the same reservoirs",
        description="Solve several designs and line up mode, power, efficiency, eta/eta_C, COP, entropy "
        "production, heat per reservoir and each reservoir's relaxation rate; warns when the reservoirs "
        "differ. With --grid each design is swept and --plot draws their efficiency-power curves.",
        epilog="Example: qhe compare examples/otto_qubit.toml examples/carnot_qubit.toml",
    )
    compare.add_argument("designs", nargs="+", metavar="DESIGN.toml", help="two or more design files")
    compare.add_argument("--grid", action="append", default=[], metavar="NAME=SPEC", help="sweep each design")
    compare.add_argument("--plot", metavar="FILE", help="figure of the comparison (.png, .svg, .pdf)")
    compare.add_argument("--json", action="store_true", help="print JSON")
    _add_set(compare)
    compare.set_defaults(func=_compare)

    plot = sub.add_parser(
        "plot",
        help="a figure of a sweep table",
        description="Plot two columns of a sweep table, a heat map of a third over two swept parameters "
        "(--color), or, without --x/--y, efficiency against power with the Pareto front.",
        epilog="Example: qhe plot otto.parquet --x cycle.tau_hot --y cycle.tau_cold --color power "
        "-o power.png",
    )
    plot.add_argument("table", metavar="DIR|FILE", help="the sweep")
    plot.add_argument("--x", metavar="NAME", help="column on the x axis")
    plot.add_argument("--y", metavar="NAME", help="column on the y axis")
    plot.add_argument("--color", metavar="NAME", help="column coding the colour")
    plot.add_argument("-o", "--output", required=True, metavar="FILE", help="figure file (.png, .svg, .pdf)")
    plot.set_defaults(func=_plot)

    transport = sub.add_parser(
        "transport",
        help="currents, counting statistics and the TUR, and the Onsager matrix of a continuous machine",
        description="Transport through a continuous machine's medium: each reservoir's heat (and particle) "
        "current; with --noise, its zero-frequency noise and the TUR ratio Var sigma / J^2; with "
        "--onsager, the Onsager matrix at the reservoirs' temperatures and chemical potentials (an "
        "equilibrium design gives the linear-response coefficients) and thermoelectric coefficients "
        "of each lead.",
        epilog="Example: qhe transport examples/qubit_two_baths.toml --noise --onsager",
    )
    transport.add_argument("design", metavar="DESIGN.toml", help="design file of a continuous machine")
    transport.add_argument("--noise", action="store_true", help="counting statistics of every reservoir")
    transport.add_argument("--onsager", action="store_true", help="the Onsager matrix (undriven machines)")
    transport.add_argument("--reference", metavar="NAME", help="with --onsager: the reference reservoir")
    transport.add_argument(
        "--bonds",
        action="store_true",
        help="energy, magnetisation or occupation currents along a chain of sites (local flavour)",
    )
    transport.add_argument(
        "--rectify",
        metavar="LEFT:RIGHT",
        help="forward and reversed heat currents between two reservoirs and their ratio, at each --bias",
    )
    transport.add_argument(
        "--bias",
        metavar="SPEC",
        default="0.2:1:5",
        help="with --rectify: temperature biases, start:stop:num or v1,v2,... (default 0.2:1:5)",
    )
    transport.add_argument("--json", action="store_true", help="print JSON")
    transport.add_argument(
        "--plot", metavar="FILE", help="figure: currents (with noise), bond currents, rectification"
    )
    _add_set(transport)
    transport.set_defaults(func=_transport)

    audit = sub.add_parser(
        "audit",
        help="which master equation to trust: regime, laws, resolution and every flavour side by side",
        description="Audit a continuous machine: its regime (bath rates against Bohr-frequency spacings and "
        "internal couplings) and the flavour that fits, the uniqueness of its NESS, the first and second "
        "laws, the numerical resolution of its currents, and the same machine in every flavour with the "
        "spread of their currents. Exit status 0: clean; 1: findings; 2: bad input.",
        epilog="Example: qhe audit examples/two_qubit_chain.toml --json",
    )
    audit.add_argument("design", metavar="DESIGN.toml", help="design file of a continuous machine")
    audit.add_argument("--json", action="store_true", help="print JSON")
    _add_set(audit)
    audit.set_defaults(func=_audit)
    return parser


def _add_set(parser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a parameter of the design by its dotted name (e.g. reservoirs.hot.T=5); repeatable",
    )


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("qhe-workbench")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _design(path: str, sets):
    """The design file at `path` with the ``--set NAME=VALUE`` changes applied."""
    from analysis.design import read_design
    from analysis.sweep import built

    data = read_design(path)
    if not sets:
        return built(data, path), data
    from analysis.parameters import with_values
    from engines.checks import WorkbenchError

    values = {}
    for item in sets:
        name, sep, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise WorkbenchError(f"--set: {item!r} must be NAME=VALUE with a number VALUE.") from None
        if not sep:
            raise WorkbenchError(f"--set: {item!r} must be NAME=VALUE.")
    data = with_values(data, values, source=path)
    return built(data, path), data


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        text = f"{error.filename}: {error.strerror or error}"
    else:
        text = str(error)
    return " ".join(text.split())


def _user_code_message(error: BaseException, wrappers: tuple) -> str:
    """The UserCodeError's message with the type of the exception the user's code raised.

    That exception is the first cause in the chain that is none of `wrappers` (the workbench's own
    errors, which re-raise with more context in front); its text is added if not already quoted.
    """
    text = _one_line(error)
    cause = error.__cause__
    while isinstance(cause, wrappers):
        cause = cause.__cause__
    if cause is not None and type(cause).__name__ not in text:
        detail = _one_line(cause)
        said = f": {detail}" if detail and detail not in text else ""
        text += f" ({type(cause).__name__}{said})"
    return text


def _run(args) -> int:
    from engines.checks import WorkbenchError, choice
    from engines.steady import SOLVERS

    solver = None if args.solver is None else choice(PROG + " run", "--solver", args.solver, SOLVERS)
    design, _ = _design(args.design, args.set)
    if design.kind == "cycle":
        for option, value in (("--solver", args.solver), ("--initial", args.initial)):
            if value is not None:
                why = {
                    "--solver": "solved without a choice of solver",
                    "--initial": "whose limit cycle is the fixed point of the one-period map and has no "
                    "initial state",
                }[option]
                raise WorkbenchError(
                    f"{PROG} run: `{option}` applies to continuous machines ([engine]); {design.source} is "
                    f"a cycle ([cycle]), {why}: drop {option}."
                )
    initial = None if args.initial is None else initial_state(design, args.initial)
    result = design.run(solver, initial)
    if args.json:
        print(json.dumps(to_json(design, result, args.initial), indent=2))
    else:
        print(report(design, result, initial=args.initial))
    return 0


def _number(option: str, text: str) -> float:
    from engines.checks import WorkbenchError

    try:
        return float(text)
    except ValueError:
        raise WorkbenchError(f"{PROG} entropy: `{option}` must be a number, got {text!r}.") from None


def _entropy(args) -> int:
    from analysis.entropy import relaxation
    from engines.checks import WorkbenchError

    until, rtol = _number("--until", args.until), _number("--rtol", args.rtol)
    if args.out is not None and not args.out.endswith(".csv"):
        raise WorkbenchError(f"{PROG} entropy: `--out` must be a .csv file, got {args.out!r}.")
    design, _ = _design(args.design, args.set)
    if design.kind != "engine":
        raise WorkbenchError(
            f"{PROG} entropy: {design.source} is a cycle ([cycle]); the relaxation ledger is for "
            "continuous machines ([engine])."
        )
    rho0 = initial_state(design, args.initial, "entropy")
    rel = relaxation(design.engine, rho0, until=until, rtol=rtol)
    frame = rel.to_frame()
    if args.out:
        from analysis.sweep import write_atomic

        write_atomic(Path(args.out), lambda tmp: frame.to_csv(tmp))
    if args.plot:
        from analysis import plots

        plots.save(plots.entropy_production(rel), args.plot)
    if args.json:
        payload = {"design": {"name": design.name, "source": design.source}, "initial": args.initial}
        payload.update(converged=rel.converged, ledger_reason=rel.ledger_reason, ledger=rel.to_dict())
        print(_dumps(payload))
        return 0
    print(f"  {design.name}: relaxation from {args.initial} to t = {until:g} ({len(rel)} times)")
    if not rel.converged:
        print(f"  the time grid did not reach rtol = {rtol:g} within its point limit")
    if rel.ledger_reason:
        print(f"  per-bath ledger: {rel.ledger_reason}")
    print(_frame_text(frame.reset_index(), max_rows=40))
    for name, path in (("table", args.out), ("figure", args.plot)):
        if path:
            print(f"  {name} {path}")
    return 0


# ------------------------------------------------------------------------- sweep, table, compare, plot
#: Columns a sweep summary prints (those present), after the swept parameters.
SUMMARY_COLUMNS = (
    "mode",
    "power",
    "efficiency",
    "cop",
    "eta_over_carnot",
    "entropy_production_rate",
    "error",
)


def _frame_text(frame, max_rows: int = 20) -> str:
    import pandas as pd

    with pd.option_context(
        "display.max_columns", 30, "display.width", 160, "display.float_format", "{:.6g}".format
    ):
        return frame.to_string(max_rows=max_rows, index=False)


def _dumps(payload) -> str:
    return json.dumps(payload, indent=2, default=lambda v: v if not hasattr(v, "item") else v.item())


def _sweep(args) -> int:
    from analysis.sweep import Grid, run_sweep, write_table
    from engines.checks import WorkbenchError

    design, data = _design(args.design, args.set)
    if args.points and args.grid:
        raise WorkbenchError(f"{PROG} sweep: give --grid or --points, not both.")
    if args.points:
        grid = Grid.from_csv(args.points)
    elif args.grid:
        grid = Grid.parse(args.grid)
    elif "sweep" in data:
        grid = Grid.from_table(data["sweep"], source=args.design)
    else:
        raise WorkbenchError(
            f"{PROG} sweep: {args.design} has no [sweep] table; give --grid NAME=start:stop:num (names: "
            f"`qhe sweep {args.design} --grid` with a wrong name lists them) or --points FILE.csv."
        )
    directory = final = None
    if args.out:
        out = Path(args.out)
        if out.suffix in (".parquet", ".csv"):
            directory, final = Path(f"{out}.parts"), out
        else:  # the directory is the table: its chunks are a Parquet dataset (`read_table`)
            directory = out
    result = run_sweep(
        data,
        grid,
        source=args.design,
        directory=directory,
        chunk_size=args.chunk_size,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=False if args.quiet else None,
        path=args.path,
    )
    table = result.to_frame()
    if final is not None:
        write_table(table, final, parts=directory)
    if args.json:
        print(
            _dumps(
                {
                    "design": design.name,
                    "source": design.source,
                    "table": str(final) if final else None,
                    **result.to_dict(),
                }
            )
        )
        return 0
    print(f"{design.name} ({design.source}): {result.n_points} designs, {result.n_failed} failed")
    print(f"  path {result.path} ({result.reason})")
    if final is not None:
        print(f"  table {final} (chunks in {directory})")
    elif directory is not None:
        print(f"  table {directory} (chunks and manifest; `qhe table {directory}` reads it)")
    shown = [*result.names, *(c for c in SUMMARY_COLUMNS if c in table.columns and table[c].notna().any())]
    print(_frame_text(table[shown]))
    return 0


def _table_command(args) -> int:
    from analysis import tables
    from analysis.sweep import read_table
    from engines.checks import WorkbenchError

    frame = read_table(args.table)
    if args.emp:
        result = tables.efficiency_at_max_power(frame)
        if args.json:
            print(_dumps(result.to_dict()))
        else:
            rows = [(k, f"{v:.6g}") for k, v in result.parameters.items()]
            rows += [
                ("power", f"{result.power:.6g}"),
                ("efficiency at maximum power", f"{result.efficiency:.6g}"),
                ("Curzon-Ahlborn 1 - sqrt(T_c/T_h)", f"{result.curzon_ahlborn:.6g}"),
                ("Carnot 1 - T_c/T_h", f"{result.carnot:.6g}"),
            ]
            if result.on_edge:
                rows.append(("on the edge of the range of", ", ".join(result.on_edge)))
            width = max(len(k) for k, _ in rows)
            print("\n".join(f"  {k:<{width}}  {v}" for k, v in rows))
        return 0
    if args.low_dissipation:
        if not (args.tau_hot and args.tau_cold):
            raise WorkbenchError(f"{PROG} table: --low-dissipation needs --tau-hot NAME and --tau-cold NAME.")
        fit = tables.low_dissipation_fit(frame, tau_hot=args.tau_hot, tau_cold=args.tau_cold)
        if args.json:
            print(_dumps(fit.to_dict()))
        else:
            lo, hi = fit.bounds
            rows = [
                ("Delta S (hot, cold isotherm)", f"{fit.delta_s_hot:.6g}, {fit.delta_s_cold:.6g}"),
                ("Sigma_h, Sigma_c", f"{fit.sigma_hot:.6g}, {fit.sigma_cold:.6g}"),
                (
                    "predicted eta*",
                    f"{fit.predicted:.6g}" + (" (tau_h = tau_c)" if fit.equal_durations else ""),
                ),
                (
                    "measured efficiency at maximum power",
                    "-" if fit.measured is None else f"{fit.measured:.6g}",
                ),
                ("bounds eta_C/2, eta_C/(2 - eta_C)", f"{lo:.6g}, {hi:.6g}"),
                ("rms misfit of the heats (relative)", f"{fit.rms_residual:.2g}"),
            ]
            width = max(len(k) for k, _ in rows)
            print("\n".join(f"  {k:<{width}}  {v}" for k, v in rows))
        return 0
    if args.pareto:
        out = tables.pareto_front(frame, "refrigerator" if args.refrigerator else "engine")
    elif args.boundaries:
        out = tables.mode_boundaries(frame, args.boundaries)
    else:
        out = tables.efficiency_power(frame)
    if args.json:
        print(_dumps(out.to_dict("records")))
    else:
        print(_frame_text(out, max_rows=60))
    return 0


def _compare(args) -> int:
    from analysis import plots
    from analysis.compare import compare
    from analysis.sweep import Grid, run_sweep

    loaded = [_design(p, args.set) for p in args.designs]
    comparison = compare([d for d, _ in loaded])
    curves = {}
    if args.grid:
        grid = Grid.parse(args.grid)
        curves = {
            d.name: run_sweep(data, grid, source=d.source, progress=False).to_frame() for d, data in loaded
        }
    if args.plot:
        fig = plots.efficiency_power(curves) if curves else plots.comparison(comparison)
        plots.save(fig, args.plot)
    if args.json:
        payload = comparison.to_dict()
        if curves:
            payload["sweeps"] = {k: v.to_dict("records") for k, v in curves.items()}
        print(_dumps(payload))
        return 0
    table = comparison.to_frame()
    print(_frame_text(table.T.reset_index(names="design"), max_rows=80))
    if args.plot:
        print(f"  figure {args.plot}")
    return 0


def _plot(args) -> int:
    from analysis import plots
    from analysis.sweep import read_table
    from engines.checks import WorkbenchError

    frame = read_table(args.table)
    if (args.x is None) != (args.y is None):
        raise WorkbenchError(f"{PROG} plot: give both --x and --y, or neither (the efficiency-power plot).")
    fig = plots.efficiency_power(frame) if args.x is None else plots.column(frame, args.x, args.y, args.color)
    plots.save(fig, args.output)
    print(f"  figure {args.output}")
    return 0


def _transport(args) -> int:
    from analysis import transport
    from engines.checks import WorkbenchError

    design, _ = _design(args.design, args.set)
    if design.kind != "engine":
        raise WorkbenchError(
            f"{args.design}: `qhe transport` needs a continuous machine ([engine]), not a cycle."
        )
    engine = design.engine
    state = engine.steady_state()
    rows = []
    for r in engine.reservoirs:
        row = {"reservoir": r.name, "T": r.T, "J": state.heat_currents[r.name]}
        if r.name in state.particle_currents:
            row["I"] = state.particle_currents[r.name]
        if args.noise:
            heat = transport.counting(engine, r.name, "heat", steady=state)
            row.update(var_J=heat.variance, tur_ratio=heat.tur_ratio)
            if "I" in row:
                row["var_I"] = transport.counting(engine, r.name, "particles", steady=state).variance
        rows.append(row)
    payload = {
        "design": design.name,
        "entropy_production_rate": state.entropy_production_rate,
        "reservoirs": rows,
    }
    if args.onsager:
        result = transport.onsager(engine, args.reference)
        payload["onsager"] = {
            "reference": result.reference,
            "fluxes": list(result.fluxes),
            "matrix": result.matrix.tolist(),
            "asymmetry": result.asymmetry(),
            "thermoelectric": {
                r.name: result.thermoelectric(r.name, r.T, r.mu)
                for r in engine.reservoirs
                if f"I_{r.name}" in result.fluxes
            },
        }
    if args.bonds:
        bonds = {"energy": transport.bond_currents(engine, "energy", steady=state).tolist()}
        names = engine.medium.operator_names
        # the charges a chain of qubits or of dots carries, where every site has them and H conserves them
        sites = getattr(engine.medium, "sites", ())
        for label, quantity, operator in (
            ("magnetisation", "magnetisation", "sigma_z"),
            ("occupation", "proj_1", "proj_1"),
        ):
            if operator not in names or any(operator not in site.operator_names for site in sites):
                continue
            try:
                bonds[label] = transport.bond_currents(engine, quantity, steady=state).tolist()
            except WorkbenchError as e:  # not conserved by H: no continuity equation to report
                bonds[label] = str(e)
                continue
            bonds[operator] = transport.site_profile(engine, operator, steady=state).tolist()
        payload["bonds"] = bonds
    if args.rectify:
        left, sep, right = args.rectify.partition(":")
        if not sep:
            raise WorkbenchError(f"--rectify: {args.rectify!r} must be LEFT:RIGHT (two reservoir names).")
        from analysis.sweep import Grid

        biases = Grid.parse([f"bias={args.bias}"]).values[:, 0]
        payload["rectification"] = transport.rectification(engine, left, right, biases).to_dict("records")
    if args.plot:
        from analysis import plots

        plots.save(plots.transport(payload), args.plot)
    if args.json:
        print(_dumps(payload))
        return 0
    print(f"{design.name} ({args.design})")
    print(f"  entropy production rate  {state.entropy_production_rate:.6g}")
    header = list(dict.fromkeys(k for row in rows for k in row))
    print("\n".join(_table([header, *([_cell(row.get(k)) for k in header] for row in rows)])))
    print(
        "  (J, I > 0: into the medium; var_J: zero-frequency noise; TUR ratio Var sigma / J^2, >= 2 "
        "classically)"
    )
    if args.onsager:
        onsager = payload["onsager"]
        print(
            f"  Onsager matrix against {onsager['reference']!r} (fluxes {', '.join(onsager['fluxes'])}), "
            f"asymmetry {onsager['asymmetry']:.2g}:"
        )
        for name, line in zip(onsager["fluxes"], onsager["matrix"]):
            print(f"    {name:>12}  " + "  ".join(f"{x: .6g}" for x in line))
        for lead, coefficients in onsager["thermoelectric"].items():
            print(f"  {lead}: " + ", ".join(f"{k} {v:.6g}" for k, v in coefficients.items()))
    if args.bonds:
        labels = {
            "energy": "energy current through sites 1..n-2",
            "magnetisation": "magnetisation current per bond",
        }
        for key, values in payload["bonds"].items():
            label = labels.get(key, f"{key} current per bond" if key == "occupation" else f"<{key}> per site")
            text = values if isinstance(values, str) else "  ".join(f"{x:.6g}" for x in values)
            print(f"  {label + ':':<38}{text}")
    if args.rectify:
        rows = payload["rectification"]
        header = ["bias", "J_forward", "J_reverse", "ratio", "note"]
        print(
            f"  rectification {args.rectify} (J_forward: heat from LEFT when it is the hotter; J_reverse: "
            "from RIGHT)"
        )
        print("\n".join(_table([header, *([_cell(r[k]) for k in header] for r in rows)])))
    if args.plot:
        print(f"  figure {args.plot}")
    return 0


#: Exit status of `qhe audit` when it has findings (errors or warnings).
EXIT_FINDINGS = 1


def _audit(args) -> int:
    from analysis.audit import audit
    from engines.checks import WorkbenchError

    design, _ = _design(args.design, args.set)
    if design.kind != "engine":
        raise WorkbenchError(
            f"{args.design}: `qhe audit` needs a continuous machine ([engine]), not a cycle."
        )
    result = audit(design.engine)
    status = 0 if result.clean else EXIT_FINDINGS
    if args.json:
        print(_dumps(result.to_dict()))
        return status
    print(f"{design.name} ({args.design}): {'clean' if result.clean else 'findings'}")
    for f in result.findings:
        print(f"  {f.severity:<8} {f.topic:<13} {f.message}")
    columns = list(dict.fromkeys(k for row in result.flavours for k in row if k != "error"))
    table = [columns, *([_cell(row.get(k)) for k in columns] for row in result.flavours)]
    print("\n".join(_table(table, left=3)))
    for row in result.flavours:
        if row.get("error"):
            print(f"  {row['flavour']}: {row['error']}")
    return status


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return (value or "-") if isinstance(value, str) else f"{value:.6g}"


# ---------------------------------------------------------------------------------- initial state
def initial_state(design, state: str, command: str = "run"):
    """The density matrix that ``--initial STATE`` names, for a continuous machine's design.

    Parameters
    ----------
    design : analysis.design.Design
        A continuous machine (``design.kind == "engine"``).
    state : str
        ``k``, ``i0,i1,...``, ``gibbs:T`` or a path to a ``.npy`` file (module docstring).
    command : str, optional
        The ``qhe`` command that errors name (``run`` or ``entropy``).

    Returns
    -------
    ndarray (d, d), complex128
        A density matrix in the medium's basis.

    Raises
    ------
    WorkbenchError
        If `state` has none of the forms, names a basis state or site index out of range, a
        temperature below 0, or a file that is missing, is not a .npy array or holds no density
        matrix of the medium's dimension (the message names the file).

    Notes
    -----
    The Gibbs state is rho = sum_k exp(-(E_k - E_0)/T) |k><k| / Z over the eigenstates |k> of the
    medium's H (docs/physics.md, Section 8); at T = 0 it is the even mixture of the eigenstates
    within ``Options.degeneracy_tol`` of the ground energy, at T = inf the maximally mixed state.
    """
    import numpy as np

    from engines.checks import fail, real

    owner = f"{PROG} {command}"
    medium = design.medium
    d = medium.dim
    text = state.strip()
    if _INDEX.fullmatch(text):
        k = int(text)
        if k >= d:
            fail(owner, "--initial", state, f"a basis-state index 0..{d - 1} (the medium's dimension is {d})")
        return _basis_state(d, k)
    if _SITE_INDICES.fullmatch(text):
        dims = medium.site_dims
        index = tuple(int(i) for i in text.split(","))
        if len(index) != len(dims) or any(i >= n for i, n in zip(index, dims)):
            fail(
                owner,
                "--initial",
                state,
                f"one basis index per site, {len(dims)} in all, each below its site's dimension "
                f"({', '.join(map(str, dims))})",
            )
        return _basis_state(d, int(np.ravel_multi_index(index, dims)))
    if text.startswith(_GIBBS):
        try:
            T = float(text[len(_GIBBS) :])
        except ValueError:
            fail(owner, "--initial", state, "gibbs:T with a temperature T >= 0 (a number, or inf)")
        T = real(owner, "--initial gibbs:T", T, minimum=0.0, allow_inf=True)
        H = medium.hamiltonian(**design.engine.controls)
        return _gibbs(H, T, design.options.degeneracy_tol)
    if text.endswith(".npy") or Path(text).is_file():
        return _density_matrix_file(Path(text), d, design.options.state_tol)
    fail(owner, "--initial", state, INITIAL_FORMS)


def _basis_state(d: int, k: int):
    import numpy as np

    rho = np.zeros((d, d), dtype=complex)
    rho[k, k] = 1.0
    return rho


def _gibbs(H, T: float, tol: float):
    """exp(-H/T)/Z from the eigendecomposition of H (T = 0: the even mixture of the ground level)."""
    import numpy as np

    E, V = np.linalg.eigh(H)
    gaps = E - E[0]
    if math.isinf(T):
        weights = np.ones_like(E)
    elif T == 0.0:
        weights = (gaps <= tol * max(1.0, float(np.max(np.abs(E))))).astype(float)
    else:
        weights = np.exp(-gaps / T)  # gaps >= 0: no overflow
    return (V * (weights / weights.sum())) @ V.conj().T


def _density_matrix_file(path: Path, d: int, tol: float):
    """The (d, d) density matrix saved in `path` (numpy.save), checked; errors name the file."""
    import numpy as np

    from engines.checks import WorkbenchError

    def bad(allowed: str, got: str):
        raise WorkbenchError(f"{path}: `--initial` must be {allowed}, got {got}.")

    try:
        rho = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        bad("a .npy file holding a density matrix", "no such file")
    except IsADirectoryError:
        bad("a .npy file holding a density matrix", "a directory")
    except (OSError, ValueError, EOFError) as e:
        bad(
            "a .npy file (numpy.save) holding one numeric array", f"a file numpy cannot load ({_one_line(e)})"
        )
    if not isinstance(rho, np.ndarray):  # an .npz archive
        rho.close()
        bad("a .npy file holding one array", "an .npz archive")
    if rho.dtype == bool or not np.issubdtype(rho.dtype, np.number):
        bad("a numeric array", f"an array of dtype {rho.dtype}")
    if rho.shape != (d, d):
        bad(f"a matrix of shape ({d}, {d}) (the medium's dimension)", f"an array of shape {rho.shape}")
    rho = rho.astype(complex)
    if not np.all(np.isfinite(rho)):
        bad("a finite matrix", "NaN or inf entries")
    scale = max(1.0, float(np.max(np.abs(rho))))
    herm = float(np.max(np.abs(rho - rho.conj().T)))
    if herm > tol * scale:
        bad(f"Hermitian (to state_tol = {tol:g})", f"max |rho - rho^dag| = {herm:.3g}")
    rho = 0.5 * (rho + rho.conj().T)
    trace = float(np.real(np.trace(rho)))
    if abs(trace - 1.0) > tol:
        bad(f"of unit trace (to state_tol = {tol:g})", f"trace {trace:.12g}")
    lowest = float(np.linalg.eigvalsh(rho)[0])
    if lowest < -tol:
        bad(f"positive semi-definite (to state_tol = {tol:g})", f"lowest eigenvalue {lowest:.3g}")
    return rho


# ----------------------------------------------------------------------------------------- report
def _num(x, resolution: float = 0.0) -> str:
    """A figure for the report: 6 significant digits; 0 (never -0) when |x| is below `resolution`."""
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if x == 0 or abs(x) < resolution:  # -0.0 and round-off dust print as 0
        return "0"
    return f"{x:.6g}"


def _resolution(result) -> float:
    """The result's numerical resolution of its energy currents (power, heats, work), 0 if it has none.

    ``getattr``: `resolution` is being added to `engines.SteadyState` and `cycles.CycleResult`.
    """
    value = getattr(result, "resolution", None)
    return float(value) if value is not None and math.isfinite(value) else 0.0


def _table(rows, left: int = 1) -> list[str]:
    """Rows of strings as aligned lines: the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row[:left], widths[:left])]
        cells += [cell.rjust(w) for cell, w in zip(row[left:], widths[left:])]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def to_json(design, result, initial: str | None = None) -> dict:
    """What ``qhe run --json`` prints: the design, then the result's ``to_dict()``.

    Parameters
    ----------
    design : analysis.design.Design
    result : engines.SteadyState or cycles.CycleResult
    initial : str, optional
        The ``--initial`` STATE the steady state was selected with (engines only).

    Returns
    -------
    dict
        ``{"design": {"name", "description", "source", "kind"}, "initial": ...}`` (``initial``
        for engines only, None when not given) followed by the keys of ``result.to_dict()``.
    """
    out = {
        "design": {
            "name": design.name,
            "description": design.description,
            "source": design.source,
            "kind": design.kind,
        }
    }
    if design.kind == "engine":
        out["initial"] = initial
    out.update(result.to_dict())
    return out


def report(design, result, initial: str | None = None) -> str:
    """Human-readable summary of a solved design.

    Parameters
    ----------
    design : analysis.design.Design
    result : engines.SteadyState or cycles.CycleResult
        ``design.run()``.
    initial : str, optional
        The ``--initial`` STATE that selected an engine's steady state (shown in the report).

    Returns
    -------
    str
        Several lines: the design, its mode, power, efficiency (with Carnot) or COP, entropy
        production, a table of reservoirs and how the state was computed; for a cycle also the
        work per cycle, the period, the fixed-point residual and a table of the strokes.  Power,
        heats and work below the result's numerical resolution print as 0, and nothing prints as -0.
    """
    if design.kind == "cycle":
        return _cycle_report(design, result)
    res = _resolution(result)
    lines = [f"{design.name} ({design.source})", ""]
    rows = [("mode", result.mode), ("power P", _num(result.power, res))]
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
    if initial is not None:
        rows.append(("initial state", f"{initial} (selects the steady state reached from it)"))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]

    from engines import FermionicLead

    table = [("reservoir", "type", "T", "mu", "heat current J", "particle current")]
    for r in design.engine.reservoirs:
        fermionic = isinstance(r, FermionicLead)
        table.append(
            (
                r.name,
                _reservoir_kind(r),
                _num(r.T) if r.thermal else "-",
                _num(r.mu) if fermionic else "-",
                _num(result.heat_currents[r.name], res),
                _num(result.particle_currents.get(r.name)),
            )
        )
    lines.append("")
    lines += _table(table, left=2)
    lines.append("  (J > 0: heat flows from the reservoir into the medium; P = sum of J, > 0 for an engine)")
    if getattr(result, "undefined", None):
        lines.append(f"  undefined: {result.undefined}")
    lines.append("")
    lines.append(f"  solver {result.solver}, residual {result.residual:.2e}")
    lines.append(f"  flavour {result.flavour}, bookkeeping {result.bookkeeping}")
    return "\n".join(lines)


def _cycle_report(design, result) -> str:
    """`report` for a cycle design and its `cycles.CycleResult`."""
    res = _resolution(result)
    lines = [f"{design.name} ({design.source})", ""]
    n = len(result.strokes)
    per_time = res / result.period if 0 < result.period < math.inf else 0.0  # resolution is per cycle
    power = _num(result.power, per_time) + ("  (infinite period)" if math.isinf(result.period) else "")
    rows = [
        ("cycle", f"{n} stroke{'s' if n != 1 else ''}, medium {design.medium!r}"),
        ("mode", result.mode),
        ("work per cycle W", _num(result.work, res)),
        *([("chemical work per cycle", _num(result.chemical_work, res))] if result.particles else []),
        ("period", _num(result.period)),
        ("power P = -(W + W_chem)/period" if result.particles else "power P = -W/period", power),
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
    rows.append(("entropy production / cycle", _num(result.entropy_per_cycle)))
    rows.append(("fixed-point residual", f"{result.fixed_point_residual:.2e}"))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]

    table = [("reservoir", "type", "T", "heat per cycle Q")]
    for r in design.reservoirs:
        table.append(
            (r.name, _reservoir_kind(r), _num(r.T) if r.thermal else "-", _num(result.heat[r.name], res))
        )
    lines.append("")
    lines += _table(table, left=2)
    lines.append("  (Q > 0: heat flows from the reservoir into the medium; W > 0: work done on the medium;")
    lines.append("   W + W_chem + sum of Q = 0, W_chem the chemical work of fermionic leads)")
    if result.undefined:
        lines.append(f"  undefined: {result.undefined}")

    columns = list(result.strokes[0]) if result.strokes else []
    table = [tuple(columns)]
    for row in result.strokes:
        cells = []
        for column, v in row.items():
            if isinstance(v, str):
                cells.append(v)
            else:  # work and heat are energies booked per stroke; energy and entropy are state functions
                booked = column == "work" or column.startswith("Q_")
                cells.append(_num(v, res if booked else 0.0))
        table.append(tuple(cells))
    lines.append("")
    lines += _table(table, left=1)
    lines.append("  (work and heat booked during each stroke; energy and entropy of the medium at its end)")
    return "\n".join(lines)


def _reservoir_kind(r) -> str:
    """The reservoir's type for the report tables (a squeezed bath with its bare T and r)."""
    from engines import ChannelReservoir, FermionicLead, SqueezedBath

    if isinstance(r, SqueezedBath):
        return f"squeezed (T={_num(r.T)}, r={_num(r.r)})"
    if isinstance(r, ChannelReservoir):
        return "channel"
    return "fermionic" if isinstance(r, FermionicLead) else "bosonic"


def command() -> None:
    """The ``qhe`` script: `main`, then exit without the garbage collector's passes at shutdown.

    Once numba has run a kernel some 1e5 objects are alive, and the full collections at interpreter
    shutdown walk them all (about 0.2 s, a quarter of a ``qhe run``); `gc.freeze` moves them out of
    the collector's reach first.  Tests and benchmarks call `main` in-process and are unaffected.
    """
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    command()
