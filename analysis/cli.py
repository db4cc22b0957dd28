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
    run.add_argument(
        "--initial",
        metavar="STATE",
        help=f"initial state that selects the steady state when it is not unique: {INITIAL_FORMS} "
        "(continuous machines only)",
    )
    run.set_defaults(func=_run)
    return parser


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        text = f"{error.filename}: {error.strerror or error}"
    else:
        text = str(error)
    return " ".join(text.split())


def _user_code_message(error: BaseException, wrappers: tuple) -> str:
    """The UserCodeError's message, and the type (and text, if not already quoted) of the exception the
    user's code raised: the first cause in the chain that is none of `wrappers` (the workbench's own
    errors, which re-raise with more context in front)."""
    text = _one_line(error)
    cause = error.__cause__
    while isinstance(cause, wrappers):
        cause = cause.__cause__
    if cause is not None:
        detail = _one_line(cause)
        said = f": {detail}" if detail and detail not in text else ""
        text += f" ({type(cause).__name__}{said})"
    return text


def _run(args) -> int:
    from analysis.design import load_design
    from engines.checks import WorkbenchError, choice
    from engines.steady import SOLVERS

    solver = None if args.solver is None else choice(PROG + " run", "--solver", args.solver, SOLVERS)
    design = load_design(args.design)
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


# ---------------------------------------------------------------------------------- initial state
def initial_state(design, state: str):
    """The density matrix that ``--initial STATE`` names, for a continuous machine's design.

    Parameters
    ----------
    design : analysis.design.Design
        A continuous machine (``design.kind == "engine"``).
    state : str
        ``k``, ``i0,i1,...``, ``gibbs:T`` or a path to a ``.npy`` file (module docstring).

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

    owner = f"{PROG} run"
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
    rows.append(("entropy production", _num(result.entropy_production)))
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
                "fermionic" if fermionic else "bosonic",
                _num(r.T),
                _num(r.mu) if fermionic else "-",
                _num(result.heat_currents[r.name], res),
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
    res = _resolution(result)
    lines = [f"{design.name} ({design.source})", ""]
    n = len(result.strokes)
    power = _num(result.power, res) + ("  (infinite period)" if math.isinf(result.period) else "")
    rows = [
        ("cycle", f"{n} stroke{'s' if n != 1 else ''}, medium {design.medium!r}"),
        ("mode", result.mode),
        ("work per cycle W", _num(result.work, res)),
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
        table.append((r.name, kind, _num(r.T), _num(result.heat[r.name], res)))
    lines.append("")
    lines += _table(table, left=2)
    lines.append("  (Q > 0: heat flows from the reservoir into the medium; W > 0: work done on the medium;")
    lines.append("   W + sum of Q = 0)")

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
