"""Cycles: a medium driven through a closed sequence of strokes, and its limit cycle.

The limit cycle is the fixed point of the one-period map (`cycles.solve`); per cycle
W + W_chem + sum_a Q_a = 0 (W_chem = sum_a mu_a Delta N_a, the chemical work of fermionic leads) and
the entropy produced is -sum_a Q_a / T_a >= 0 (docs/physics.md, "Strokes and cycles").  Results are
frozen values: `CycleResult` for one cycle, `CycleSweep` for a table of stroke durations.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError, dataclass, field

import numpy as np

from cycles.solve import Solver
from cycles.steps import Precomposed, Quench, _Hamiltonians, compile_stroke
from cycles.strokes import Isotherm, Stroke, Unitary
from engines import davies, thermo
from engines.checks import FrozenMapping, WorkbenchError, fail
from engines.linalg import entropy_of_spectrum, trace_log, von_neumann
from engines.media import Medium
from engines.options import Options

__all__ = ["Cycle", "CycleResult", "CycleSweep", "relative_entropy_of_states", "stroke_irreversibility"]


def _frozen(array) -> np.ndarray:
    out = np.array(array)
    out.setflags(write=False)
    return out


def _clean(value: float, resolution: float) -> float:
    """`value` as a float, exactly 0.0 (never -0.0) when within `resolution`."""
    value = float(value)
    return 0.0 if abs(value) <= resolution else value


def _pinched_entropy(H, rho, tol):
    """S(Delta_H(rho)): the entropy of rho dephased onto the eigenspaces of H (degenerate blocks kept)."""
    spec = davies.spectrum(np.asarray(H, dtype=complex), tol)
    V = spec.basis
    r = V.conj().T @ rho @ V
    out = np.zeros_like(r)
    for a, b in zip(spec.starts[:-1], spec.starts[1:]):
        out[a:b, a:b] = r[a:b, a:b]
    return von_neumann(out), spec


def stroke_irreversibility(stroke, rho_start, rho_end, H_start, H_end, heat, tol) -> dict:
    """The entropy production of one stroke, split, or the inner friction of a unitary stroke.

    Relaxation strokes (a bath attached): sigma = Delta S - Q / T >= 0 (Clausius for a stroke;
    +-inf for heat exchanged with a T = 0 bath), split as sigma = sigma_populations +
    sigma_coherence with sigma_coherence = C(rho_start) - C(rho_end), C(rho) = S(Delta_H(rho)) -
    S(rho) the relative entropy of coherence in the eigenbasis of the stroke's Hamiltonian at each
    end (Santos, Celeri, Landi and Paternostro, npj Quantum Inf. 5, 23 (2019)); for a Thermalize
    stroke under a Davies bath sigma_populations = D(Delta rho_start || pi) - D(Delta rho_end || pi)
    and both parts are >= 0.

    Unitary strokes: the inner friction D(rho_end || rho_ad) (F. Plastina et al., Phys. Rev. Lett.
    113, 260601 (2014)), rho_ad = sum_k p_k |k_end><k_end| with p_k = <k_start| rho_start |k_start>:
    the populations an infinitely slow stroke carries from the k-th level of H_start to the k-th
    level of H_end (adiabatic theorem; levels ordered by energy, so no level crossings during the
    stroke).  It equals Plastina's inner friction when rho_start is diagonal in H_start's eigenbasis
    (every stroke after a Davies thermalization); otherwise it also counts C(rho_start).

    Returns ``{"sigma", "sigma_populations", "sigma_coherence", "inner_friction"}``, None where a
    figure does not apply.
    """
    out = dict.fromkeys(("sigma", "sigma_populations", "sigma_coherence", "inner_friction"))
    bath = stroke.reservoir
    if bath is not None:
        S0, S1 = von_neumann(rho_start), von_neumann(rho_end)
        if bath.T > 0:
            flow = heat / bath.T
        else:
            flow = 0.0 if heat == 0 else math.copysign(math.inf, heat)
        sigma = S1 - S0 - flow
        P0, _ = _pinched_entropy(H_start, rho_start, tol)
        P1, _ = _pinched_entropy(H_end, rho_end, tol)
        coherence = max(0.0, P0 - S0) - max(0.0, P1 - S1)
        out.update(
            sigma=float(sigma), sigma_populations=float(sigma - coherence), sigma_coherence=float(coherence)
        )
    elif isinstance(stroke, Unitary):
        start = davies.spectrum(np.asarray(H_start, dtype=complex), tol)
        end = davies.spectrum(np.asarray(H_end, dtype=complex), tol)
        p = np.real(np.einsum("ik,ij,jk->k", start.basis.conj(), rho_start, start.basis))
        rho_ad = (end.basis * np.clip(p, 0.0, None)) @ end.basis.conj().T
        out["inner_friction"] = relative_entropy_of_states(rho_end, rho_ad)
    return out


def relative_entropy_of_states(rho, sigma, support_tol: float = 1e-12) -> float:
    """D(rho || sigma) = Tr[rho (ln rho - ln sigma)] of trusted states (+inf off the support of sigma)."""
    p, _ = thermo.spectrum_on_support(rho, support_tol)
    s, W = thermo.spectrum_on_support(sigma, support_tol)
    finite, kernel = trace_log(np.asarray(rho, dtype=complex), s, W, support_tol)
    if kernel > 0:
        return math.inf
    return max(0.0, -entropy_of_spectrum(p) - finite)


@dataclass(frozen=True)
class CycleResult:
    """The limit cycle and its thermodynamics (per cycle; W > 0 is work done on the medium).

    Attributes
    ----------
    strokes : tuple of mappings
        Per stroke: name, duration, work, heat per reservoir (``Q_<name>``), energy and von Neumann
        entropy of the medium at the stroke's end; with fermionic leads also ``chemical_work`` (the
        work mu_a Delta N_a the particles bring in) and the particles exchanged per lead
        (``N_<lead>``, > 0 into the medium); then its irreversibility (`stroke_irreversibility`):
        ``sigma`` = Delta S - Q / T, ``sigma_populations``, ``sigma_coherence`` (strokes with a bath)
        and ``inner_friction`` (unitary strokes), None where it does not apply.
    work : float
        Mechanical work on the medium per cycle (the quenches and unitary strokes, and the dW of the
        isotherms).
    chemical_work : float
        Chemical work on the medium per cycle, sum_a mu_a Delta N_a (0 without fermionic leads).
    heat : mapping name -> float
        Heat from each reservoir per cycle, Q_a = Delta E_a - mu_a Delta N_a.
    particles : mapping name -> float
        Particles each fermionic lead brings into the medium per cycle, Delta N_a (leads only).
    temperatures : mapping name -> float
    period : float
    power : float
        Output power -(W + W_chem) / period (0 for an infinite period).
    mode : str
    efficiency, cop : float or None
        From the output work -(W + W_chem) and the heats (docs/physics.md, Sections 5 and 6).
    entropy_per_cycle : float or None
        -sum_a Q_a / T_a, the entropy produced per cycle (nats); None with a non-thermal reservoir.
    fixed_point_residual : float
        || M(rho*) - rho* ||: distance of the fixed point from one more applied cycle.
    resolution : float
        Absolute resolution of W, W_chem and Q per cycle, from the fixed-point residual, the norms of
        the steps' energy (and particle-current) vectors and machine epsilon (docs/physics.md,
        Section 7); every W, W_chem and Q within it is reported as exactly 0.0.
    rho : ndarray (d, d)
        The state at the start of the first stroke (read-only).
    undefined : str or None
        Why the temperature-based figures (Carnot efficiency, entropy per cycle, the mode rules that
        compare temperatures) are None: a reservoir is not thermal (`engines.thermo.clausius_undefined`);
        `temperatures` then lists the thermal ones only.

    Notes
    -----
    First law per cycle: W + W_chem + sum_a Q_a = 0.
    """

    strokes: tuple
    work: float
    chemical_work: float
    heat: FrozenMapping
    particles: FrozenMapping
    temperatures: FrozenMapping
    period: float
    power: float
    mode: str
    efficiency: float | None
    cop: float | None
    entropy_per_cycle: float | None
    fixed_point_residual: float
    resolution: float
    rho: np.ndarray = field(repr=False)
    undefined: str | None = None

    @property
    def entropy_production_rate(self) -> float | None:
        """entropy_per_cycle / period, nats per unit time; 0 for an infinite period (None: `undefined`)."""
        if self.entropy_per_cycle is None:
            return None
        if not 0 < self.period < math.inf:
            return 0.0
        return self.entropy_per_cycle / self.period

    @property
    def carnot_efficiency(self) -> float | None:
        """1 - T_cold / T_hot of the reservoirs (None: fewer than two temperatures, or `undefined`)."""
        if self.undefined is not None:
            return None
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
            "chemical_work": num(self.chemical_work),
            "heat": {k: num(v) for k, v in self.heat.items()},
            "particles": {k: num(v) for k, v in self.particles.items()},
            "period": num(self.period),
            "power": num(self.power),
            "efficiency": num(self.efficiency),
            "cop": num(self.cop),
            "carnot_efficiency": num(self.carnot_efficiency),
            "entropy_per_cycle": num(self.entropy_per_cycle),
            "entropy_production_rate": num(self.entropy_production_rate),
            "undefined": self.undefined,
            "fixed_point_residual": self.fixed_point_residual,
            "resolution": self.resolution,
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
        Mechanical work on the medium per cycle.
    chemical_work : ndarray (n,)
        Chemical work sum_a mu_a Delta N_a per cycle.
    heat : ndarray (n, n_reservoirs)
        Heat from each reservoir per cycle.
    temperatures : ndarray (n_reservoirs,)
    period, power : ndarray (n,)
        Cycle time and output power -(W + W_chem) / period (0 for infinite periods).
    mode : ndarray (n,) of str
    efficiency, cop : ndarray (n,)
        NaN where the mode does not define them.
    entropy_per_cycle : ndarray (n,)
        -sum_a Q_a / T_a per cycle.
    residual, resolution : ndarray (n,)
        Fixed-point residuals, and the absolute resolution of W, W_chem and Q (values within it are
        exactly 0).
    """

    strokes: tuple
    durations: np.ndarray
    reservoirs: tuple
    work: np.ndarray
    chemical_work: np.ndarray
    heat: np.ndarray
    temperatures: np.ndarray
    period: np.ndarray
    power: np.ndarray
    mode: np.ndarray
    efficiency: np.ndarray
    cop: np.ndarray
    entropy_per_cycle: np.ndarray
    residual: np.ndarray
    resolution: np.ndarray

    def __post_init__(self):
        for name in (
            "durations",
            "work",
            "chemical_work",
            "heat",
            "temperatures",
            "period",
            "power",
            "mode",
            "efficiency",
            "cop",
            "entropy_per_cycle",
            "residual",
            "resolution",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def __len__(self) -> int:
        return self.work.size

    @property
    def entropy_production_rate(self) -> np.ndarray:
        """entropy_per_cycle / period per point (0 where the period is infinite)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            finite = (self.period > 0) & np.isfinite(self.period)
            return np.where(finite, self.entropy_per_cycle / np.where(finite, self.period, 1.0), 0.0)

    def to_frame(self):
        """The sweep as a table, one row per point.

        Columns: ``tau[<stroke>]``, work, chemical work, ``Q_<reservoir>``, period, power, efficiency,
        COP, mode, entropy per cycle and rate, residual, resolution.
        """
        import pandas as pd

        table = {f"tau[{k}]": self.durations[:, i] for i, k in enumerate(self.strokes)}
        table["work"] = self.work
        table["chemical_work"] = self.chemical_work
        table.update({f"Q_{k}": self.heat[:, j] for j, k in enumerate(self.reservoirs)})
        table.update(
            period=self.period,
            power=self.power,
            efficiency=self.efficiency,
            cop=self.cop,
            mode=self.mode,
            entropy_per_cycle=self.entropy_per_cycle,
            entropy_production_rate=self.entropy_production_rate,
            residual=self.residual,
            resolution=self.resolution,
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

    A `Cycle` is an immutable value: its attributes cannot be reassigned (build a new cycle for new
    strokes), so the compiled steps can never describe outdated physics.

    Parameters
    ----------
    medium : engines.media.Medium
    strokes : sequence of Stroke
        Consecutive strokes must join: the controls at the end of one equal those at the start of
        the next, and the last joins the first.  At least one stroke attaches a reservoir.
    options : engines.Options or mapping, optional
        Tolerances (``drive_tol``, ``control_tol``, ``sector_tol``, ``fixed_point_tol``, ...).

    Attributes
    ----------
    medium, strokes, options
    reservoirs : mapping name -> Reservoir
        The reservoirs the strokes attach, read-only.
    """

    __slots__ = ("_hamiltonians", "_solver", "_work_source", "medium", "options", "reservoirs", "strokes")

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
        self._set("medium", medium)
        self._set("strokes", strokes)
        self._set("options", Options.coerce(options))
        self._check_closed()
        reservoirs = {}
        for s in strokes:
            r = s.reservoir
            if r is not None:
                if r.name in reservoirs and reservoirs[r.name] is not r:
                    fail(
                        "Cycle", f"stroke {s.name!r}", r.name, "reservoir names that name one reservoir each"
                    )
                reservoirs[r.name] = r
        if not reservoirs:
            fail(
                "Cycle",
                "strokes",
                [s.name for s in strokes],
                "a sequence with at least one stroke that attaches a reservoir (Thermalize or Isotherm): "
                "a cycle of unitary strokes alone has no heat to book and no unique limit cycle",
            )
        self._set("reservoirs", FrozenMapping(reservoirs))
        # the medium's Hamiltonians (and drives), shared by the strokes: they share end points
        self._set("_hamiltonians", _Hamiltonians(medium, {}))
        compiled = [self._compile(s) for s in strokes]
        self._set("_solver", Solver(medium.dim, compiled, self.options, names))
        self._set("_work_source", self._exchanges_work())

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}: a Cycle is immutable (build a new one)")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}: a Cycle is immutable")

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

    @property
    def work_source(self) -> bool:
        """Whether the cycle can exchange work.

        It can when some stroke changes the Hamiltonian, or leads at different chemical potentials
        can move particles (chemical work).

        A cycle whose strokes all hold one Hamiltonian between reservoirs of one chemical potential
        has W = W_chem = 0 structurally; then currents within resolution mean equilibrium, not an
        undetermined mode (docs/physics.md, Section 6).
        """
        return self._work_source

    def _exchanges_work(self) -> bool:
        H = None
        for ops in self._solver.compiled:
            for op in ops:
                if isinstance(op, Quench):
                    pair = (op.before, op.after)
                elif isinstance(op, Precomposed):
                    return True
                else:
                    pair = (op.H, op.H)
                for h in pair:
                    if H is None:
                        H = h
                    elif np.max(np.abs(h - H)) > self.options.control_tol * max(
                        1.0, float(np.max(np.abs(H)))
                    ):
                        return True
        mus = {self.reservoirs[name].mu for name in self.leads}
        return len(mus) > 1

    @property
    def leads(self) -> tuple:
        """Names of the reservoirs that exchange particles with the medium (fermionic leads)."""
        return tuple(name for name, r in self.reservoirs.items() if any(ch.particles for ch in r.channels()))

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
            return compile_stroke(stroke, self.medium, self.options, n, self._hamiltonians.cache)
        except WorkbenchError as exc:
            prefix = f"stroke {stroke.name!r}: "
            if str(exc).startswith(prefix):
                raise
            raise type(exc)(prefix + str(exc)) from exc

    # ------------------------------------------------------------------------------------------

    def limit_cycle(self) -> CycleResult:
        """The periodic steady state and the per-stroke, per-cycle thermodynamics."""
        durations = [s.duration for s in self.strokes]
        result = self._solve(self._solver, durations)
        self._check_isotherm_accuracy(result)
        return result

    def _solve(self, solver, durations) -> CycleResult:
        run = solver.run(durations, states=True)
        delta = float(run["resolution"][0])
        rho0 = solver.state(run["x"][0])
        rho0.setflags(write=False)
        leads = self.leads
        rows = []
        heat = dict.fromkeys(self.reservoirs, 0.0)
        particles = dict.fromkeys(leads, 0.0)
        for i, (stroke, tau) in enumerate(zip(self.strokes, durations)):
            W, Q = _clean(run["work"][0, i], delta), _clean(run["heat"][0, i], delta)
            W_chem = _clean(run["chemical"][0, i], delta)
            dN = float(run["particles"][0, i])
            bath = stroke.reservoir.name if stroke.reservoir is not None else None
            if bath is not None:
                heat[bath] += Q
                if bath in particles:
                    particles[bath] += dN
            rho = solver.state(run["states"][0, i])
            try:
                self.medium.check_state(rho)
            except WorkbenchError as exc:
                raise WorkbenchError(
                    f"limit cycle, state at the end of stroke {stroke.name!r}: {exc}"
                ) from exc
            H_end = self._hamiltonians({**self.medium.controls, **stroke.end_controls()})
            row = {"stroke": stroke.name, "duration": float(tau), "work": W}
            if leads:
                row["chemical_work"] = W_chem
            for name in self.reservoirs:
                row[f"Q_{name}"] = Q if bath == name else 0.0
            for name in leads:
                row[f"N_{name}"] = dN if bath == name else 0.0
            row["energy"] = float(np.real(np.trace(H_end @ rho)))
            row["entropy"] = von_neumann(rho)
            rho_start = rho0 if i == 0 else solver.state(run["states"][0, i - 1])
            H_start = self._hamiltonians({**self.medium.controls, **stroke.start_controls()})
            row.update(
                stroke_irreversibility(stroke, rho_start, rho, H_start, H_end, Q, self.options.degeneracy_tol)
            )
            rows.append(FrozenMapping(row))
        work_total = _clean(run["work"][0].sum(), delta)
        chemical_total = _clean(run["chemical"][0].sum(), delta)
        heat = {k: _clean(v, delta) for k, v in heat.items()}
        period = float(sum(durations))
        temperatures = {name: r.T for name, r in self.reservoirs.items() if r.thermal}
        output = -(work_total + chemical_total)
        power = output / period if 0 < period < math.inf else 0.0
        undefined = thermo.clausius_undefined(self.reservoirs.values())
        if undefined is not None:
            mode, eta, cop = thermo.classify_nonthermal(output, heat, delta)
            sigma = None
        else:
            # Per-cycle quantities classify like rates (same signs and ratios), also for infinite periods.
            mode, eta, cop = thermo.classify(
                output, heat, temperatures, resolution=delta, work_source=self.work_source
            )
            sigma = thermo.entropy_production(heat, temperatures)
            thermo.warn_if_second_law_broken(sigma, heat, temperatures, f"the limit cycle of {self!r}")
        return CycleResult(
            strokes=tuple(rows),
            work=work_total,
            chemical_work=chemical_total,
            heat=FrozenMapping(heat),
            particles=FrozenMapping(particles),
            temperatures=FrozenMapping(temperatures),
            period=period,
            power=power + 0.0,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_per_cycle=sigma,
            fixed_point_residual=float(run["residual"][0]),
            resolution=delta,
            rho=rho0,
            undefined=undefined,
        )

    def _check_isotherm_accuracy(self, result):
        for i, stroke in enumerate(self.strokes):
            if not isinstance(stroke, Isotherm) or stroke.tol is None:
                continue
            finer = list(self._solver.compiled)
            finer[i] = self._compile(stroke, 2 * stroke.steps)
            solver = Solver(self.medium.dim, finer, self.options, [s.name for s in self.strokes])
            check = self._solve(solver, [s.duration for s in self.strokes])
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
        delta = run["resolution"]
        names_res = list(self.reservoirs)
        heat = np.zeros((n, len(names_res)))
        for i, stroke in enumerate(self.strokes):
            if stroke.reservoir is not None:
                heat[:, names_res.index(stroke.reservoir.name)] += run["heat"][:, i]
        heat = np.where(np.abs(heat) <= delta[:, None], 0.0, heat)
        work = run["work"].sum(axis=1)
        work = np.where(np.abs(work) <= delta, 0.0, work)
        chemical = run["chemical"].sum(axis=1)
        chemical = np.where(np.abs(chemical) <= delta, 0.0, chemical)
        output = -(work + chemical)
        period = taus.sum(axis=0)
        T = np.array([self.reservoirs[k].T for k in names_res])
        temperatures = np.broadcast_to(T, heat.shape)
        undefined = thermo.clausius_undefined(self.reservoirs.values())
        if undefined is not None:
            fail(
                "Cycle.sweep",
                "reservoirs",
                [k for k, r in self.reservoirs.items() if not r.thermal],
                "thermal reservoirs (the sweep table's entropy and mode columns need temperatures; "
                "use limit_cycle per point for a non-thermal one)",
            )
        mode, eta, cop = thermo.classify_many(
            output, heat, temperatures, resolution=delta, work_source=self.work_source
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            power = np.where((period > 0) & np.isfinite(period), output / period, 0.0) + 0.0
        return CycleSweep(
            strokes=tuple(columns),
            durations=np.column_stack(list(columns.values())),
            reservoirs=tuple(names_res),
            work=work,
            chemical_work=chemical,
            heat=heat,
            temperatures=T,
            period=period,
            power=power,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_per_cycle=thermo.entropy_production_many(heat, temperatures),
            residual=run["residual"],
            resolution=delta,
        )
