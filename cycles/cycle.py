"""Cycles: a medium driven through a closed sequence of strokes, and its limit cycle.

The limit cycle is the fixed point of the one-period map (`cycles.solve`); per cycle
W + sum_a Q_a = 0 and the entropy production is -sum_a Q_a / T_a >= 0 (docs/physics.md, "Strokes and
cycles").  Results are frozen values: `CycleResult` for one cycle, `CycleSweep` for a table of
stroke durations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from cycles.solve import Solver
from cycles.steps import compile_stroke
from cycles.strokes import Isotherm, Stroke, Unitary
from engines import thermo
from engines.checks import WorkbenchError, fail
from engines.linalg import von_neumann
from engines.media import Medium
from engines.options import Options

__all__ = ["Cycle", "CycleResult", "CycleSweep"]


def _frozen(array) -> np.ndarray:
    out = np.array(array)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class CycleResult:
    """The limit cycle and its thermodynamics (per cycle; W > 0 is work done on the medium).

    Attributes
    ----------
    strokes : tuple of mappings
        Per stroke: name, duration, work, heat per reservoir (``Q_<name>``), energy and von Neumann
        entropy of the medium at the stroke's end.
    work : float
        Total work on the medium per cycle.
    heat : mapping name -> float
        Heat from each reservoir per cycle.
    temperatures : mapping name -> float
    period : float
    power : float
        Output power -W / period (inf period: 0).
    mode : str
    efficiency, cop : float or None
    entropy_production : float
        -sum_a Q_a / T_a per cycle.
    fixed_point_residual : float
        || M(rho*) - rho* ||: distance of the fixed point from one more applied cycle.
    rho : ndarray (d, d)
        The state at the start of the first stroke (read-only).
    """

    strokes: tuple
    work: float
    heat: MappingProxyType
    temperatures: MappingProxyType
    period: float
    power: float
    mode: str
    efficiency: float | None
    cop: float | None
    entropy_production: float
    fixed_point_residual: float
    rho: np.ndarray = field(repr=False)

    @property
    def carnot_efficiency(self) -> float | None:
        """1 - T_cold / T_hot of the cycle's reservoirs (None with fewer than two temperatures)."""
        return thermo.carnot_efficiency(self.temperatures)

    def to_frame(self):
        """The per-stroke table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([dict(s) for s in self.strokes])

    def to_dict(self) -> dict:
        """JSON-safe summary: totals, figures of merit and the per-stroke table."""
        num = thermo.json_number
        return {
            "mode": self.mode,
            "work": num(self.work),
            "heat": {k: num(v) for k, v in self.heat.items()},
            "period": num(self.period),
            "power": num(self.power),
            "efficiency": num(self.efficiency),
            "cop": num(self.cop),
            "carnot_efficiency": num(self.carnot_efficiency),
            "entropy_production": num(self.entropy_production),
            "fixed_point_residual": self.fixed_point_residual,
            "strokes": [
                {k: (num(v) if isinstance(v, float) else v) for k, v in s.items()} for s in self.strokes
            ],
        }


@dataclass(frozen=True)
class CycleSweep:
    """Limit cycles of one cycle over many sets of stroke durations (arrays with the point axis first).

    Attributes
    ----------
    strokes : tuple of str
        The strokes whose durations vary, in the order of `durations`' columns.
    durations : ndarray (n, n_swept)
    reservoirs : tuple of str
    work : ndarray (n,)
        Work on the medium per cycle.
    heat : ndarray (n, n_reservoirs)
        Heat from each reservoir per cycle.
    temperatures : ndarray (n_reservoirs,)
    period, power : ndarray (n,)
        Cycle time and output power -W / period (0 for infinite periods).
    mode : ndarray (n,) of str
    efficiency, cop : ndarray (n,)
        NaN where the mode does not define them.
    entropy_production : ndarray (n,)
        -sum_a Q_a / T_a per cycle.
    residual : ndarray (n,)
        Fixed-point residuals.
    """

    strokes: tuple
    durations: np.ndarray
    reservoirs: tuple
    work: np.ndarray
    heat: np.ndarray
    temperatures: np.ndarray
    period: np.ndarray
    power: np.ndarray
    mode: np.ndarray
    efficiency: np.ndarray
    cop: np.ndarray
    entropy_production: np.ndarray
    residual: np.ndarray

    def __post_init__(self):
        for name in (
            "durations",
            "work",
            "heat",
            "temperatures",
            "period",
            "power",
            "mode",
            "efficiency",
            "cop",
            "entropy_production",
            "residual",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __len__(self) -> int:
        return self.work.size

    def to_frame(self):
        """One row per point: ``tau[<stroke>]``, work, ``Q_<reservoir>``, period, power, efficiency,
        COP, mode, entropy production, residual."""
        import pandas as pd

        table = {f"tau[{k}]": self.durations[:, i] for i, k in enumerate(self.strokes)}
        table["work"] = self.work
        table.update({f"Q_{k}": self.heat[:, j] for j, k in enumerate(self.reservoirs)})
        table.update(
            period=self.period,
            power=self.power,
            efficiency=self.efficiency,
            cop=self.cop,
            mode=self.mode,
            entropy_production=self.entropy_production,
            residual=self.residual,
        )
        return pd.DataFrame(table)

    def to_dict(self) -> dict:
        """JSON-safe columns (lists; NaN and inf as strings)."""
        frame = self.to_frame()
        return {
            col: [thermo.json_number(v) if not isinstance(v, str) else v for v in frame[col].tolist()]
            for col in frame.columns
        }


class Cycle:
    """A medium driven through `strokes`, in order, forever.

    Parameters
    ----------
    medium : engines.media.Medium
    strokes : sequence of Stroke
        Consecutive strokes must join: the controls at the end of one equal those at the start of
        the next, and the last joins the first.  At least one stroke attaches a reservoir.
    options : engines.Options or mapping, optional
        Tolerances (``drive_tol``, ``control_tol``, ``sector_tol``, ``fixed_point_tol``, ...).
    """

    def __init__(self, medium, strokes, options=None):
        if not isinstance(medium, Medium):
            fail("Cycle", "medium", medium, "a working medium (engines.media.Medium)")
        strokes = tuple(strokes)
        if not strokes:
            fail("Cycle", "strokes", strokes, "at least one stroke")
        for i, s in enumerate(strokes):
            if not isinstance(s, Stroke):
                fail("Cycle", f"strokes[{i}]", s, "a Thermalize, Unitary or Isotherm stroke")
        names = [s.name for s in strokes]
        for i, name in enumerate(names):
            if name in names[:i]:
                fail(
                    "Cycle", f"strokes[{i}].name", name, "a name no other stroke has (names label the tables)"
                )
        self.medium = medium
        self.strokes = strokes
        self.options = Options.coerce(options)
        self._check_closed()
        self.reservoirs = {}
        for s in strokes:
            r = s.reservoir
            if r is not None:
                if r.name in self.reservoirs and self.reservoirs[r.name] is not r:
                    fail(
                        "Cycle", f"stroke {s.name!r}", r.name, "reservoir names that name one reservoir each"
                    )
                self.reservoirs[r.name] = r
        self._solver = Solver(medium.dim, [self._compile(s) for s in strokes], self.options)

    def __repr__(self):
        return f"Cycle({self.medium!r}, strokes=[{', '.join(s.name for s in self.strokes)}])"

    @property
    def state_space_size(self) -> int:
        """Unknowns of the limit-cycle solve: d (populations only) or d^2."""
        return int(self._solver.space.size)

    @property
    def steps(self) -> tuple:
        """The elementary steps (`cycles.steps`) each stroke was compiled into, stroke by stroke."""
        return tuple(tuple(ops) for ops in self._solver.compiled)

    def _check_closed(self):
        base = self.medium.controls
        tol = self.options.control_tol
        for i, s in enumerate(self.strokes):
            nxt = self.strokes[(i + 1) % len(self.strokes)]
            end, start = {**base, **s.end_controls()}, {**base, **nxt.start_controls()}
            for k in base:
                if abs(end[k] - start[k]) > tol * max(1.0, abs(end[k])):
                    fail(
                        f"Cycle stroke {nxt.name!r}",
                        f"start[{k!r}]",
                        start[k],
                        f"{end[k]!r}, the value stroke {s.name!r} ends with (strokes must close the cycle)",
                    )
            unknown = set(s.start_controls()) | set(s.end_controls())
            unknown -= set(base)
            if unknown:
                fail(
                    f"Cycle stroke {s.name!r}",
                    "controls",
                    sorted(unknown),
                    f"controls of the medium: {sorted(base)}",
                )

    def _compile(self, stroke, n=None):
        try:
            return compile_stroke(stroke, self.medium, self.options, n)
        except WorkbenchError as exc:
            prefix = f"stroke {stroke.name!r}: "
            if str(exc).startswith(prefix):
                raise
            raise type(exc)(prefix + str(exc)) from exc

    # ------------------------------------------------------------------------------------------

    def limit_cycle(self) -> CycleResult:
        """The periodic steady state and the per-stroke, per-cycle thermodynamics."""
        durations = [s.duration for s in self.strokes]
        result = self._solve(None, durations)
        self._check_isotherm_accuracy(result)
        return result

    def _solve(self, compiled, durations) -> CycleResult:
        solver = self._solver
        run = solver.run(durations, compiled, states=True)
        rho0 = solver.state(run["x"][0])
        rho0.setflags(write=False)
        rows = []
        heat = dict.fromkeys(self.reservoirs, 0.0)
        for i, (stroke, tau) in enumerate(zip(self.strokes, durations)):
            W, Q = float(run["work"][0, i]), float(run["heat"][0, i])
            if stroke.reservoir is not None:
                heat[stroke.reservoir.name] += Q
            rho = solver.state(run["states"][0, i])
            try:
                self.medium.check_state(rho)
            except WorkbenchError as exc:
                raise WorkbenchError(
                    f"limit cycle, state at the end of stroke {stroke.name!r}: {exc}"
                ) from exc
            H_end = self.medium.hamiltonian(**{**self.medium.controls, **stroke.end_controls()})
            row = {"stroke": stroke.name, "duration": float(tau), "work": W}
            for name in self.reservoirs:
                row[f"Q_{name}"] = (
                    Q if stroke.reservoir is not None and stroke.reservoir.name == name else 0.0
                )
            row["energy"] = float(np.real(np.trace(H_end @ rho)))
            row["entropy"] = von_neumann(rho)
            rows.append(MappingProxyType(row))
        work_total = float(run["work"][0].sum())
        period = float(sum(durations))
        temperatures = {name: r.T for name, r in self.reservoirs.items()}
        power = -work_total / period if 0 < period < math.inf else 0.0
        # per-cycle quantities classify like rates (same signs and ratios), also for infinite periods
        mode, eta, cop = thermo.classify(-work_total, heat, temperatures)
        sigma = thermo.entropy_production(heat, temperatures)
        thermo.warn_if_second_law_broken(sigma, heat, temperatures, f"the limit cycle of {self!r}")
        return CycleResult(
            strokes=tuple(rows),
            work=work_total,
            heat=MappingProxyType(heat),
            temperatures=MappingProxyType(temperatures),
            period=period,
            power=power,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_production=sigma,
            fixed_point_residual=float(run["residual"][0]),
            rho=rho0,
        )

    def _check_isotherm_accuracy(self, result):
        for i, stroke in enumerate(self.strokes):
            if not isinstance(stroke, Isotherm) or stroke.tol is None:
                continue
            finer = list(self._solver.compiled)
            finer[i] = self._compile(stroke, 2 * stroke.steps)
            check = self._solve(finer, [s.duration for s in self.strokes])
            name = f"Q_{stroke.bath.name}"
            W, Q = result.strokes[i]["work"], result.strokes[i][name]
            change = max(abs(check.strokes[i]["work"] - W), abs(check.strokes[i][name] - Q))
            scale = max(abs(W), abs(Q))
            if change > stroke.tol * scale:
                fail(
                    f"Isotherm {stroke.name!r}",
                    "steps",
                    stroke.steps,
                    f"enough steps for tol={stroke.tol:g}: work or heat change by {change:.3g} "
                    f"(relative {change / scale if scale else math.inf:.2g}) when the steps double; "
                    f"use steps >= {4 * stroke.steps}",
                )

    def sweep(self, durations) -> CycleSweep:
        """Limit cycles for many stroke durations at once: an efficiency-power table.

        Parameters
        ----------
        durations : mapping stroke name -> array (n,)
            New durations of the named strokes (Thermalize or Isotherm), one row per point; other
            strokes keep theirs.  Each stroke generator is diagonalised once and reused.

        Returns
        -------
        CycleSweep
            ``.to_frame()`` gives the table.
        """
        names = [s.name for s in self.strokes]
        columns = {}
        for name, values in durations.items():
            if name not in names:
                fail("Cycle.sweep", "durations", name, "names of the cycle's strokes: " + ", ".join(names))
            stroke = self.strokes[names.index(name)]
            if isinstance(stroke, Unitary):
                fail(
                    "Cycle.sweep",
                    "durations",
                    name,
                    "Thermalize or Isotherm strokes (a Unitary stroke re-checks its steps)",
                )
            arr = np.asarray(values, dtype=float).ravel()
            if np.any(~(arr >= 0)):
                fail("Cycle.sweep", f"durations[{name!r}]", values, "durations >= 0")
            columns[name] = arr
        lengths = {a.size for a in columns.values()}
        if len(lengths) != 1:
            fail("Cycle.sweep", "durations", {k: v.size for k, v in columns.items()}, "arrays of one length")
        n = lengths.pop()
        taus = np.array(
            [columns[s.name] if s.name in columns else np.full(n, s.duration) for s in self.strokes]
        )
        run = self._solver.run(taus)
        bad = np.flatnonzero(~(run["residual"] <= self.options.fixed_point_tol))
        if bad.size:
            fail(
                "Cycle.sweep",
                "durations",
                {k: float(v[bad[0]]) for k, v in columns.items()},
                f"durations with a unique limit cycle ({bad.size} points have none)",
            )
        names_res = list(self.reservoirs)
        heat = np.zeros((n, len(names_res)))
        for i, stroke in enumerate(self.strokes):
            if stroke.reservoir is not None:
                heat[:, names_res.index(stroke.reservoir.name)] += run["heat"][:, i]
        work = run["work"].sum(axis=1)
        period = taus.sum(axis=0)
        T = np.array([self.reservoirs[k].T for k in names_res])
        temperatures = np.broadcast_to(T, heat.shape)
        mode, eta, cop = thermo.classify_many(-work, heat, temperatures)
        with np.errstate(divide="ignore", invalid="ignore"):
            power = np.where((period > 0) & np.isfinite(period), -work / period, 0.0)
        return CycleSweep(
            strokes=tuple(columns),
            durations=np.column_stack(list(columns.values())),
            reservoirs=tuple(names_res),
            work=work,
            heat=heat,
            temperatures=T,
            period=period,
            power=power,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_production=thermo.entropy_production_many(heat, temperatures),
            residual=run["residual"],
        )
