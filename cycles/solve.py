"""Limit cycles of compiled strokes: the state space, the kernel tables, the NumPy twin, and dispatch.

The one-period map M (a CPTP superoperator) is the product of the steps' maps; the limit cycle is its
fixed point, found by a linear solve of (M - 1) vec(rho) = 0 with the trace constraint (not by
iterating, which is slow for weakly damped cycles, nor by an eigendecomposition of M, which loses
digits there).  When every step maps diagonal density matrices to diagonal ones (all Hamiltonians
diagonal and the dissipators secular, e.g. commuting Otto strokes) the cycle is solved on the
populations alone: d unknowns instead of d^2.  That is decided from the steps' Hamiltonians, bases
and jump operators before any superoperator is built.

Each step books its energy change; a step with a fermionic lead also books the particles it
exchanges, Delta N = int Tr[N rho(t)] dt (`cycles.steps`), as chemical work mu Delta N and heat
Delta E - mu Delta N (Esposito, Kawai, Lindenberg & Van den Broeck, PRE 81, 041106 (2010)).

`Solver.run` evaluates many sets of stroke durations at once in `cycles._kernels.limit_cycles` when
every generator is diagonalisable and the state space is small (at most KERNEL_MAX_UNKNOWNS
unknowns), and otherwise (one set, defective generators, large spaces) in `Solver.run_numpy`, the
kernel's NumPy twin, which applies each step's map to the columns of M without forming dense
superoperators in the medium's basis.
"""

from __future__ import annotations

import math

import numpy as np

from cycles import _kernels
from cycles.steps import Quench, to_medium
from engines.checks import WorkbenchError
from engines.linalg import stationary_vector, trace_vector, unvec

__all__ = ["Solver"]

#: A lead's stationary states carry no particle current when ||n P_0|| / ||n|| is below this.
CURRENT_TOL = 1e-10
#: Largest state space the kernel serves: its products are loops (fast for the small matrices of a
#: sweep over many points), while larger spaces go to BLAS point by point (12x faster at 256).
KERNEL_MAX_UNKNOWNS = 64


class Solver:
    """Limit cycles of one cycle's compiled strokes for any stroke durations.

    Parameters
    ----------
    dim : int
        The medium's dimension d.
    compiled : list of list of steps
        Per stroke, its elementary steps (`cycles.steps`).
    options : engines.Options
    names : sequence of str, optional
        The strokes' names, for messages.
    """

    def __init__(self, dim: int, compiled, options, names=None):
        self.dim = dim
        self.compiled = compiled
        self.options = options
        self.names = list(names) if names is not None else [f"#{i}" for i in range(len(compiled))]
        tol = options.sector_tol
        self.populations = all(op.preserves_populations(tol) for ops in compiled for op in ops)
        d = dim
        self.space = np.arange(d) * (d + 1) if self.populations else np.arange(d * d)
        self.trace = trace_vector(dim)[self.space]
        self._maps = {}
        self._tables = {}

    # ------------------------------------------------------------------------------------------

    def map(self, op):
        """The step's map on the state space (built once per step)."""
        key = id(op)
        if key not in self._maps:
            self._maps[key] = (op, op.action(self.populations))
        return self._maps[key][1]

    def energy_vector(self, H) -> np.ndarray:
        """H with Tr[H rho] = h . x on the state space (x the state's vector there)."""
        return np.ascontiguousarray(H.T.reshape(-1, order="F")[self.space], dtype=complex)

    def state(self, x) -> np.ndarray:
        """The density matrix of a state-space vector, Hermitian part."""
        d = self.dim
        full = np.zeros(d * d, dtype=complex)
        full[self.space] = x
        rho = unvec(full, d)
        return 0.5 * (rho + rho.conj().T)

    # ------------------------------------------------------------------------------------------

    def run(self, durations, compiled=None, states=False) -> dict:
        """Limit cycles for P sets of durations at once (durations: (n_strokes, P)).

        Returns arrays: fixed points x (P, m) on the state space, residual (P,), resolution (P,),
        and per stroke (P, n_strokes) work, heat, chemical work and particles exchanged with its
        reservoir; with `states` the state at every stroke's end (P, n_strokes, m) (always with the
        kernel).  `compiled` replaces the cycle's steps with others on the same state space.
        """
        compiled = self.compiled if compiled is None else compiled
        durations = np.asarray(durations, dtype=float).reshape(len(compiled), -1)
        self._check_infinite_leads(compiled, durations)
        if durations.shape[1] > 1 and self.space.size <= KERNEL_MAX_UNKNOWNS:
            tables = self.kernel_tables(compiled)
            if tables is not None:
                out = self._run_kernel(tables, durations, len(compiled))
                out["resolution"] = self.resolution(compiled, durations, out["residual"])
                return out
        out = self.run_numpy(compiled, durations, states)
        out["resolution"] = self.resolution(compiled, durations, out["residual"])
        return out

    def _check_infinite_leads(self, compiled, durations):
        """Refuse an infinite stroke with a lead whose stationary states carry a particle current."""
        for i, (ops, taus) in enumerate(zip(compiled, durations)):
            if not np.any(np.isinf(taus)):
                continue
            for op in ops:
                if getattr(op, "exchanges_particles", False) and op.share > 0:
                    current, resolution = self.map(op).stationary_current()
                    if current > max(CURRENT_TOL, resolution):
                        lead = op.baths[0].name
                        raise WorkbenchError(
                            f"stroke {self.names[i]!r}: `duration` must be finite for lead {lead!r}, "
                            "got inf: a stationary state of the stroke carries a particle current "
                            f"(||N P_0|| / ||N|| = {current:.2g}; the Hamiltonian does not conserve the "
                            "particle number), so the particles exchanged and the chemical work grow "
                            "without bound; give the stroke a finite duration."
                        )

    def kernel_tables(self, compiled):
        """Plain arrays describing every op for `_kernels.limit_cycles` (None if an L is defective)."""
        key = tuple(id(ops) for ops in compiled)
        if key in self._tables:
            return self._tables[key]
        ops = [(i, op) for i, stroke_ops in enumerate(compiled) for op in stroke_ops]
        m = self.space.size
        spectral = {}
        for _, op in ops:
            if not isinstance(op, Quench) and hasattr(self.map(op), "spectral"):
                form = self.map(op).spectral()
                if form is None:
                    self._tables[key] = None
                    return None
                spectral[id(op)] = form
        r = max((f.lam.size for f in spectral.values()), default=1)
        n = len(ops)
        t = {
            "kind": np.zeros(n, dtype=np.int64),
            "stroke": np.array([i for i, _ in ops], dtype=np.int64),
            "share": np.zeros(n),
            "lam": np.zeros((n, r), dtype=complex),
            "zero": np.ones((n, r), dtype=np.bool_),  # padding counts as kernel modes (weight 0)
            "modes": np.zeros((n, m, r), dtype=complex),
            "dual": np.zeros((n, r, m), dtype=complex),
            "fixed": np.zeros((n, m, m), dtype=complex),
            "h_before": np.zeros((n, m), dtype=complex),
            "h_after": np.zeros((n, m), dtype=complex),
            "books_heat": np.zeros(n, dtype=np.bool_),
            "mu": np.zeros(n),
            "counts": np.zeros(n, dtype=np.bool_),
            "number": np.zeros((n, r), dtype=complex),
        }
        for o, (_, op) in enumerate(ops):
            if isinstance(op, Quench):
                t["h_before"][o] = self.energy_vector(op.before)
                t["h_after"][o] = self.energy_vector(op.after)
                continue
            t["h_after"][o] = self.energy_vector(op.H)
            t["books_heat"][o] = bool(op.baths)
            mp = self.map(op)
            if id(op) not in spectral:
                t["kind"][o] = _kernels.FIXED
                t["fixed"][o] = mp.superop
                continue
            form = spectral[id(op)]
            k = form.lam.size
            t["kind"][o], t["share"][o] = _kernels.EVOLVE, op.share
            t["lam"][o, :k], t["zero"][o, :k] = form.lam, form.zero
            t["modes"][o, :, :k], t["dual"][o, :k, :] = form.modes, form.dual
            t["fixed"][o] = form.projector
            if op.exchanges_particles:
                t["mu"][o], t["counts"][o] = op.mu, True
                t["number"][o, :k] = mp.particle_modes()
        self._tables[key] = t
        return t

    def _run_kernel(self, t, durations, n_strokes) -> dict:
        P, m = durations.shape[1], self.space.size
        out = {
            "work": np.zeros((P, n_strokes)),
            "heat": np.zeros((P, n_strokes)),
            "chemical": np.zeros((P, n_strokes)),
            "particles": np.zeros((P, n_strokes)),
            "residual": np.zeros(P),
            "states": np.zeros((P, n_strokes, m), dtype=complex),
        }
        _kernels.limit_cycles(
            np.ascontiguousarray(durations),
            t["kind"],
            t["stroke"],
            t["share"],
            t["lam"],
            t["zero"],
            t["modes"],
            t["dual"],
            t["fixed"],
            t["h_before"],
            t["h_after"],
            t["books_heat"],
            t["mu"],
            t["counts"],
            t["number"],
            self.trace,
            out["work"],
            out["heat"],
            out["chemical"],
            out["particles"],
            out["residual"],
            out["states"],
        )
        out["x"] = out["states"][:, -1]
        return out

    def _fixed_point(self, A, strict: bool):
        """X with A x = 0 and Tr x = 1, and ||A x||; a non-unique fixed point raises if `strict`."""
        try:
            x, residual, _ = stationary_vector(A, self.trace, None, self.options)
        except WorkbenchError as exc:
            if not strict:
                return np.full(A.shape[0], np.nan, dtype=complex), math.inf
            raise WorkbenchError(
                "limit cycle: the one-period map has several fixed points (a quantity that no stroke "
                "relaxes is conserved, e.g. a subsystem no reservoir reaches); attach a reservoir that "
                f"relaxes it. ({exc})"
            ) from None
        return x, residual

    def run_numpy(self, compiled, durations, states=False) -> dict:
        """NumPy twin of `_kernels.limit_cycles` (and the path for one point or defective generators).

        Per point, M is built by applying each step's map to the columns of the identity (on the
        populations a d x d matrix; on vec(rho) in the step's own basis, sector by sector), the fixed
        point solved for, and each step applied once more to book W, Q, W_chem and Delta N.
        """
        durations = np.asarray(durations, dtype=float).reshape(len(compiled), -1)
        P, m, ns = durations.shape[1], self.space.size, len(compiled)
        out = {
            "x": np.zeros((P, m), dtype=complex),
            "residual": np.zeros(P),
            "work": np.zeros((P, ns)),
            "heat": np.zeros((P, ns)),
            "chemical": np.zeros((P, ns)),
            "particles": np.zeros((P, ns)),
        }
        if states:
            out["states"] = np.zeros((P, ns, m), dtype=complex)
        steps = []
        for i, ops in enumerate(compiled):
            for op in ops:
                if isinstance(op, Quench):
                    steps.append((i, op, None, self.energy_vector(op.before), self.energy_vector(op.after)))
                else:
                    steps.append((i, op, self.map(op), None, self.energy_vector(op.H)))
        eye = np.eye(m, dtype=complex)
        for p in range(P):
            M, frame = eye, None
            for i, op, mp, _, _ in steps:
                if mp is not None:
                    M, frame = mp.compose(M, frame, op.share * durations[i, p])
            M = to_medium(M, frame)
            x, residual = self._fixed_point(M - eye, strict=P == 1)
            out["x"][p], out["residual"][p] = x, residual
            for k, (i, op, mp, h_before, h) in enumerate(steps):
                if mp is None:
                    out["work"][p, i] += np.real(h @ x - h_before @ x)
                else:
                    t = op.share * durations[i, p]
                    y = mp.evolve(x[:, None], t)[:, 0]
                    booked = np.real(h @ y - h @ x)
                    if op.baths:
                        dN = mp.particles(x, t) if op.exchanges_particles else 0.0
                        out["heat"][p, i] += booked - op.mu * dN
                        out["chemical"][p, i] += op.mu * dN
                        out["particles"][p, i] += dN
                    else:
                        out["work"][p, i] += booked  # unitary maps book work
                    x = y
                if states and (k == len(steps) - 1 or steps[k + 1][0] != i):
                    out["states"][p, i] = x
        return out

    def resolution(self, compiled, durations, residual) -> np.ndarray:
        """Absolute resolution of W, Q and W_chem per cycle, for every point (P,).

        delta = (||M x - x|| + m eps) sum_steps w, with w = ||h_before|| + ||h_after|| for a quench,
        2 ||h|| for a map, plus 2 |mu| ||n|| s for a lead (n the particle-current row, s the
        duration, or 2 / min |lam| over the decaying modes for an infinite one): the fixed-point
        residual stands for the state's error and m eps for the round-off of the trace products
        (docs/physics.md, Section 7).
        """
        durations = np.asarray(durations, dtype=float).reshape(len(compiled), -1)
        total = np.zeros(durations.shape[1])
        for i, ops in enumerate(compiled):
            for op in ops:
                if isinstance(op, Quench):
                    total += np.linalg.norm(self.energy_vector(op.before))
                    total += np.linalg.norm(self.energy_vector(op.after))
                    continue
                total += 2 * np.linalg.norm(self.energy_vector(op.H))
                if getattr(op, "exchanges_particles", False):
                    mp = self.map(op)
                    t = op.share * durations[i]
                    slowest = mp.slowest()
                    span = np.where(np.isinf(t), 2.0 / slowest if slowest > 0 else 0.0, t)
                    total += 2 * abs(op.mu) * np.linalg.norm(mp.number) * span
        eps = np.finfo(float).eps
        return (np.asarray(residual, dtype=float) + self.space.size * eps) * total
