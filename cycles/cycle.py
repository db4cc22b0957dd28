"""Cycles: a medium driven through a closed sequence of strokes, and its limit cycle.

The one-period map M (a CPTP superoperator) is the product of the strokes' maps; the limit cycle is
its fixed point, found by a linear solve of (M - 1) vec(rho) = 0 with the trace constraint (not by
iterating, which is slow for weakly damped cycles, nor by an eigendecomposition of M, which loses
digits there).  Per cycle W + sum_a Q_a = 0 and the entropy production is -sum_a Q_a / T_a >= 0.

When every step of the cycle maps diagonal density matrices to diagonal ones (all Hamiltonians
diagonal and the dissipators secular, e.g. commuting Otto strokes), the cycle is solved on the
populations alone: d unknowns instead of d^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cycles import _kernels
from cycles.strokes import (
    Drive,
    Isotherm,
    Stroke,
    Thermalize,
    _Evolve,
    _Propagated,
    _Quench,
    trace_vector,
)
from engines import thermo
from engines._checks import WorkbenchError, fail
from engines.media import Medium
from engines.steady import stationary_vector
from engines.superop import unvec

__all__ = ["Cycle", "CycleResult", "carnot", "otto", "stirling"]

#: Controls of consecutive strokes must agree to this (relative) tolerance.
CONTROL_TOL = 1e-12
#: Off-diagonal-from-diagonal leakage below which a generator counts as population preserving.
SECTOR_TOL = 1e-13
#: || M x - x || above which a swept point's limit cycle is rejected.
FIXED_POINT_TOL = 1e-8


@dataclass(frozen=True)
class CycleResult:
    """The limit cycle and its thermodynamics (per cycle; W > 0 is work done on the medium).

    Attributes
    ----------
    strokes : tuple of dict
        Per stroke: name, duration, work, heat per reservoir (``Q_<name>``), energy and von Neumann
        entropy of the medium at the stroke's end.
    work : float
        Total work on the medium per cycle.
    heat : dict name -> float
        Heat from each reservoir per cycle.
    temperatures : dict name -> float
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
        The state at the start of the first stroke.
    """

    strokes: tuple
    work: float
    heat: dict
    temperatures: dict
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
        return thermo.carnot_efficiency(self.temperatures)

    def to_frame(self):
        """The per-stroke table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(list(self.strokes))

    def to_dict(self) -> dict:
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


class Cycle:
    """A medium driven through `strokes`, in order, forever.

    Parameters
    ----------
    medium : engines.media.Medium
    strokes : sequence of Stroke
        Consecutive strokes must join: the controls at the end of one equal those at the start of
        the next, and the last joins the first.
    """

    def __init__(self, medium, strokes):
        if not isinstance(medium, Medium):
            fail("Cycle", "medium", medium, "a working medium (engines.media.Medium)")
        strokes = tuple(strokes)
        if not strokes:
            fail("Cycle", "strokes", strokes, "at least one stroke")
        for i, s in enumerate(strokes):
            if not isinstance(s, Stroke):
                fail("Cycle", f"strokes[{i}]", s, "a Thermalize, Drive or Isotherm stroke")
        names = [s.name for s in strokes]
        for i, name in enumerate(names):
            if name in names[:i]:
                fail(
                    "Cycle", f"strokes[{i}].name", name, "a name no other stroke has (names label the tables)"
                )
        self.medium = medium
        self.strokes = strokes
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
        self._compiled = [self._compile(s) for s in strokes]
        self._space = self._state_space()
        d = medium.dim
        self._trace = trace_vector(d)[self._space]
        self._propagators = {}

    def __repr__(self):
        return f"Cycle({self.medium!r}, strokes=[{', '.join(s.name for s in self.strokes)}])"

    def _check_closed(self):
        base = self.medium.controls
        for i, s in enumerate(self.strokes):
            nxt = self.strokes[(i + 1) % len(self.strokes)]
            end, start = {**base, **s.end_controls()}, {**base, **nxt.start_controls()}
            for k in base:
                if abs(end[k] - start[k]) > CONTROL_TOL * max(1.0, abs(end[k])):
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
            ops = stroke.compile(self.medium, n)
        except WorkbenchError as exc:
            prefix = f"stroke {stroke.name!r}: "
            if str(exc).startswith(prefix):
                raise
            raise type(exc)(prefix + str(exc)) from exc
        return ops

    # ------------------------------------------------------------------------------------------
    # the state space: all of vec(rho), or the populations when every step preserves them

    def _state_space(self) -> np.ndarray:
        d = self.medium.dim
        diag = np.arange(d) * (d + 1)
        off = np.setdiff1d(np.arange(d * d), diag)
        for ops in self._compiled:
            for op in ops:
                H = op.after if isinstance(op, _Quench) else op.H
                if isinstance(op, _Propagated) and np.max(np.abs(op.U - np.diag(np.diag(op.U)))) > SECTOR_TOL:
                    return np.arange(d * d)
                if np.max(np.abs(H - np.diag(np.diag(H)))) > SECTOR_TOL * max(1.0, np.max(np.abs(H))):
                    return np.arange(d * d)
                if isinstance(op, _Evolve) and op.baths:
                    L = op.L
                    if np.max(np.abs(L[np.ix_(off, diag)])) > SECTOR_TOL * max(1.0, np.max(np.abs(L))):
                        return np.arange(d * d)
        return diag

    def _propagator(self, op):
        key = id(op)
        if key not in self._propagators:
            self._propagators[key] = (op, op.propagator(self._space, self._trace))
        return self._propagators[key][1]

    # ------------------------------------------------------------------------------------------

    def _run(self, compiled, durations, states=False) -> dict:
        """Limit cycles for P sets of durations at once (durations: (n_strokes, P)).

        Returns arrays: fixed points x (P, m) on the state space, residual (P,), work and heat per
        stroke (P, n_strokes), and with `states` the state at every stroke's end (P, n_strokes, m).
        """
        durations = np.asarray(durations, dtype=float).reshape(len(self.strokes), -1)
        tables = self._kernel_tables(compiled)
        if tables is not None:
            return self._run_kernel(tables, durations)
        return self._run_numpy(compiled, durations, states)

    def _kernel_tables(self, compiled):
        """Plain arrays describing every op for `_kernels.limit_cycles` (None if an L is defective)."""
        key = tuple(id(ops) for ops in compiled)
        cache = self.__dict__.setdefault("_tables", {})
        if key in cache:
            return cache[key]
        ops = [(i, op) for i, stroke_ops in enumerate(compiled) for op in stroke_ops]
        m = self._space.size
        spectral = {}
        for _, op in ops:
            if isinstance(op, _Evolve):
                form = self._propagator(op).spectral()
                if form is None:
                    cache[key] = None
                    return None
                spectral[id(op)] = form
        r = max((f[0].size for f in spectral.values()), default=1)
        n = len(ops)
        t = {
            "kind": np.zeros(n, dtype=np.int64),
            "stroke": np.array([i for i, _ in ops], dtype=np.int64),
            "share": np.zeros(n),
            "lam": np.zeros((n, r), dtype=complex),
            "modes": np.zeros((n, m, r), dtype=complex),
            "dual": np.zeros((n, r, m), dtype=complex),
            "fixed": np.zeros((n, m, m), dtype=complex),
            "h_before": np.zeros((n, m), dtype=complex),
            "h_after": np.zeros((n, m), dtype=complex),
            "books_heat": np.zeros(n, dtype=np.bool_),
        }
        for o, (_, op) in enumerate(ops):
            if isinstance(op, _Quench):
                t["h_before"][o], t["h_after"][o] = (
                    self._energy_vector(op.before),
                    self._energy_vector(op.after),
                )
                continue
            t["h_after"][o] = self._energy_vector(op.H)
            t["books_heat"][o] = bool(op.baths)
            if isinstance(op, _Propagated):
                t["kind"][o] = _kernels.FIXED
                t["fixed"][o] = self._propagator(op).superop
                continue
            lam, modes, dual, projector = spectral[id(op)]
            k = lam.size
            t["kind"][o], t["share"][o] = _kernels.EVOLVE, op.share
            t["lam"][o, :k], t["modes"][o, :, :k], t["dual"][o, :k, :] = lam, modes, dual
            if projector is not None:
                t["fixed"][o] = projector
        cache[key] = t
        return t

    def _run_kernel(self, t, durations) -> dict:
        P, n_strokes, m = durations.shape[1], len(self.strokes), self._space.size
        out = {
            "work": np.zeros((P, n_strokes)),
            "heat": np.zeros((P, n_strokes)),
            "residual": np.zeros(P),
            "states": np.zeros((P, n_strokes, m), dtype=complex),
        }
        _kernels.limit_cycles(
            np.ascontiguousarray(durations),
            t["kind"],
            t["stroke"],
            t["share"],
            t["lam"],
            t["modes"],
            t["dual"],
            t["fixed"],
            t["h_before"],
            t["h_after"],
            t["books_heat"],
            self._trace,
            out["work"],
            out["heat"],
            out["residual"],
            out["states"],
        )
        out["x"] = out["states"][:, -1]
        return out

    def _energy_vector(self, H) -> np.ndarray:
        """h with Tr[H rho] = h . x on the state space."""
        return np.ascontiguousarray(H.T.reshape(-1, order="F")[self._space], dtype=complex)

    def _run_numpy(self, compiled, durations, states):
        """NumPy twin of `_kernels.limit_cycles` (and the path for defective generators)."""
        P, m = durations.shape[1], self._space.size
        maps = []
        for ops, tau in zip(compiled, durations):
            maps.append(
                [
                    None if isinstance(op, _Quench) else self._propagator(op).batch(op.share * tau)
                    for op in ops
                ]
            )
        M = np.broadcast_to(np.eye(m, dtype=complex), (P, m, m))
        for stroke_maps in maps:
            for mp in stroke_maps:
                if mp is not None:
                    M = mp @ M
        A = M - np.eye(m)
        if P == 1:
            x = stationary_vector(A[0], self._trace, None)[0][None, :]
        else:
            x = _batched_fixed_points(A, self._trace)
        residual = np.linalg.norm(np.einsum("pij,pj->pi", A, x), axis=1)
        out = {
            "x": x.copy(),
            "residual": residual,
            "work": np.zeros((P, len(self.strokes))),
            "heat": np.zeros((P, len(self.strokes))),
        }
        if states:
            out["states"] = np.zeros((P, len(self.strokes), m), dtype=complex)
        for i, (ops, stroke_maps) in enumerate(zip(compiled, maps)):
            for op, mp in zip(ops, stroke_maps):
                if mp is None:
                    out["work"][:, i] += np.real(self._energy(op.after, x) - self._energy(op.before, x))
                    continue
                y = np.einsum("pij,pj->pi", mp, x)
                booked = np.real(self._energy(op.H, y) - self._energy(op.H, x))
                out["heat" if op.baths else "work"][:, i] += booked  # unitary maps book work
                x = y
            if states:
                out["states"][:, i] = x
        return out

    def limit_cycle(self) -> CycleResult:
        """The periodic steady state and the per-stroke, per-cycle thermodynamics."""
        durations = [s.duration for s in self.strokes]
        result = self._solve(self._compiled, durations)
        self._check_isotherm_accuracy(result)
        return result

    def _solve(self, compiled, durations) -> CycleResult:
        run = self._run(compiled, durations, states=True)
        rho0 = self._state(run["x"][0])
        rho0.setflags(write=False)
        rows = []
        heat = dict.fromkeys(self.reservoirs, 0.0)
        for i, (stroke, tau) in enumerate(zip(self.strokes, durations)):
            W, Q = float(run["work"][0, i]), float(run["heat"][0, i])
            if stroke.reservoir is not None:
                heat[stroke.reservoir.name] += Q
            rho = self._state(run["states"][0, i])
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
            row["entropy"] = _von_neumann(rho)
            rows.append(row)
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
            heat=heat,
            temperatures=temperatures,
            period=period,
            power=power,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_production=sigma,
            fixed_point_residual=float(run["residual"][0]),
            rho=rho0,
        )

    def _energy(self, H, x):
        """Tr[H rho] for state-space vectors x (..., m): vec(H^T) . vec(rho)."""
        return x @ H.T.reshape(-1, order="F")[self._space]

    def _state(self, x) -> np.ndarray:
        d = self.medium.dim
        full = np.zeros(d * d, dtype=complex)
        full[self._space] = x
        rho = unvec(full, d)
        return 0.5 * (rho + rho.conj().T)

    def _check_isotherm_accuracy(self, result):
        for i, stroke in enumerate(self.strokes):
            if not isinstance(stroke, Isotherm) or stroke.tol is None:
                continue
            finer = list(self._compiled)
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

    def sweep(self, durations) -> object:
        """Limit cycles for many stroke durations at once: an efficiency-power table.

        Parameters
        ----------
        durations : dict stroke name -> array (n,)
            New durations of the named strokes (Thermalize or Isotherm), one row per point; other
            strokes keep theirs.  Each stroke generator is diagonalised once and reused.

        Returns
        -------
        pandas.DataFrame
            Durations, W, Q per reservoir, period, power, efficiency, COP, mode, entropy production.
        """
        import pandas as pd

        names = [s.name for s in self.strokes]
        columns = {}
        for name, values in durations.items():
            if name not in names:
                fail("Cycle.sweep", "durations", name, "names of the cycle's strokes: " + ", ".join(names))
            stroke = self.strokes[names.index(name)]
            if isinstance(stroke, Drive):
                fail(
                    "Cycle.sweep",
                    "durations",
                    name,
                    "Thermalize or Isotherm strokes (a Drive re-checks its steps)",
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
        run = self._run(self._compiled, taus)
        bad = np.flatnonzero(~(run["residual"] <= FIXED_POINT_TOL))
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
        temperatures = np.broadcast_to([self.reservoirs[k].T for k in names_res], heat.shape)
        mode, eta, cop = thermo.classify_many(-work, heat, temperatures)
        with np.errstate(divide="ignore", invalid="ignore"):
            power = np.where((period > 0) & np.isfinite(period), -work / period, 0.0)
        table = {f"tau[{k}]": v for k, v in columns.items()}
        table.update(
            work=work,
            **{f"Q_{k}": heat[:, j] for j, k in enumerate(names_res)},
            period=period,
            power=power,
            efficiency=eta,
            cop=cop,
            mode=mode,
            entropy_production=thermo.entropy_production_many(heat, temperatures),
        )
        return pd.DataFrame(table)


def _batched_fixed_points(A, trace):
    """Solve A_p x_p = 0 with trace . x_p = 1 for a stack of small matrices (first trace row replaced)."""
    row = int(np.flatnonzero(trace)[0])
    B = A.copy()
    B[:, row, :] = trace
    b = np.zeros(A.shape[1], dtype=complex)
    b[row] = 1.0
    try:
        return np.linalg.solve(B, np.broadcast_to(b, A.shape[:2])[..., None])[..., 0]
    except np.linalg.LinAlgError:
        raise WorkbenchError(
            "Cycle.sweep: a limit cycle is not unique at some durations (singular one-period map); "
            "solve those points with limit_cycle() to see which."
        ) from None


def _von_neumann(rho) -> float:
    p = np.linalg.eigvalsh(rho)
    p = p[p > 1e-15]
    return float(-np.sum(p * np.log(p)))


# ----------------------------------------------------------------------------------------------
# standard cycles


def otto(
    medium,
    hot,
    cold,
    *,
    control="omega",
    low,
    high,
    tau_hot=math.inf,
    tau_cold=math.inf,
    tau_compress=0.0,
    tau_expand=0.0,
    flavour="global",
) -> Cycle:
    """Four-stroke Otto cycle: compress (low -> high), heat at high, expand (high -> low), cool at low.

    Parameters
    ----------
    medium : Medium
    hot, cold : Reservoir
    control : str
        The frequency-like control the adiabatic strokes change.
    low, high : float
        Its values in contact with the cold and the hot reservoir.
    tau_hot, tau_cold : float
        Thermalisation times (inf: full thermalisation).
    tau_compress, tau_expand : float
        Durations of the unitary strokes (0: sudden quench).

    References
    ----------
    Kieu, PRL 93, 140403 (2004); Rezek & Kosloff, NJP 8, 83 (2006).
    """
    lo, hi = {control: low}, {control: high}
    return Cycle(
        medium,
        [
            Drive(lo, hi, tau_compress, name="compress"),
            Thermalize(hot, tau_hot, hi, flavour, name="hot"),
            Drive(hi, lo, tau_expand, name="expand"),
            Thermalize(cold, tau_cold, lo, flavour, name="cold"),
        ],
    )


def carnot(
    medium,
    hot,
    cold,
    *,
    control="omega",
    start,
    end,
    tau_hot,
    tau_cold,
    steps=64,
    tau_adiabats=0.0,
    flavour="global",
) -> Cycle:
    """Carnot-like cycle: hot isotherm (start -> end), adiabat to T_c, cold isotherm, adiabat back.

    The adiabats scale the control by T_c/T_h and back, so that for a medium whose Hamiltonian is
    proportional to the control (qubit, oscillator, spin) a Gibbs state at T_h stays a Gibbs state at
    T_c; the quasi-static limit then reaches eta_C = 1 - T_c/T_h.
    """
    ratio = cold.T / hot.T
    a, b = {control: start}, {control: end}
    c, d = {control: end * ratio}, {control: start * ratio}
    return Cycle(
        medium,
        [
            Isotherm(hot, a, b, tau_hot, steps, flavour=flavour, name="hot isotherm"),
            Drive(b, c, tau_adiabats, name="adiabat down"),
            Isotherm(cold, c, d, tau_cold, steps, flavour=flavour, name="cold isotherm"),
            Drive(d, a, tau_adiabats, name="adiabat up"),
        ],
    )


def stirling(
    medium,
    hot,
    cold,
    *,
    control="omega",
    start,
    end,
    tau_hot,
    tau_cold,
    tau_heat=math.inf,
    tau_cool=math.inf,
    steps=64,
    flavour="global",
) -> Cycle:
    """Stirling cycle: hot isotherm (start -> end), isochoric cooling, cold isotherm back, heating."""
    a, b = {control: start}, {control: end}
    return Cycle(
        medium,
        [
            Isotherm(hot, a, b, tau_hot, steps, flavour=flavour, name="hot isotherm"),
            Thermalize(cold, tau_cool, b, flavour, name="cool"),
            Isotherm(cold, b, a, tau_cold, steps, flavour=flavour, name="cold isotherm"),
            Thermalize(hot, tau_heat, a, flavour, name="heat"),
        ],
    )
