"""Limit cycles of compiled strokes: the state space, the kernel tables, the NumPy twin, and dispatch.

The one-period map M (a CPTP superoperator) is the product of the steps' maps; the limit cycle is its
fixed point, found by a linear solve of (M - 1) vec(rho) = 0 with the trace constraint (not by
iterating, which is slow for weakly damped cycles, nor by an eigendecomposition of M, which loses
digits there).  When every step maps diagonal density matrices to diagonal ones (all Hamiltonians
diagonal and the dissipators secular, e.g. commuting Otto strokes) the cycle is solved on the
populations alone: d unknowns instead of d^2.

`Solver.run` evaluates many sets of stroke durations at once, in `cycles._kernels.limit_cycles`
when every generator is diagonalisable, and in `Solver.run_numpy` (the kernel's NumPy twin) otherwise.
"""

from __future__ import annotations

import numpy as np

from cycles import _kernels
from cycles.steps import Evolve, Precomposed, Quench
from engines.linalg import stationary_vector, stationary_vectors, trace_vector, unvec

__all__ = ["Solver"]


class Solver:
    """Limit cycles of one cycle's compiled strokes for any stroke durations.

    Parameters
    ----------
    dim : int
        The medium's dimension d.
    compiled : list of list of steps
        Per stroke, its elementary steps (`cycles.steps`).
    options : engines.Options
    """

    def __init__(self, dim: int, compiled, options):
        self.dim = dim
        self.compiled = compiled
        self.options = options
        self.space = self._state_space()
        self.trace = trace_vector(dim)[self.space]
        self._propagators = {}
        self._tables = {}

    # ------------------------------------------------------------------------------------------
    # the state space: all of vec(rho), or the populations when every step preserves them

    def _state_space(self) -> np.ndarray:
        d, tol = self.dim, self.options.sector_tol
        diag = np.arange(d) * (d + 1)
        off = np.setdiff1d(np.arange(d * d), diag)
        for ops in self.compiled:
            for op in ops:
                H = op.after if isinstance(op, Quench) else op.H
                if isinstance(op, Precomposed) and np.max(np.abs(op.U - np.diag(np.diag(op.U)))) > tol:
                    return np.arange(d * d)
                if np.max(np.abs(H - np.diag(np.diag(H)))) > tol * max(1.0, np.max(np.abs(H))):
                    return np.arange(d * d)
                if isinstance(op, Evolve) and op.baths:
                    L = op.L
                    if np.max(np.abs(L[np.ix_(off, diag)])) > tol * max(1.0, np.max(np.abs(L))):
                        return np.arange(d * d)
        return diag

    def propagator(self, op):
        key = id(op)
        if key not in self._propagators:
            self._propagators[key] = (op, op.propagator(self.space))
        return self._propagators[key][1]

    def energy_vector(self, H) -> np.ndarray:
        """h with Tr[H rho] = h . x on the state space (x the state's vector there)."""
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

        Returns arrays: fixed points x (P, m) on the state space, residual (P,), work and heat per
        stroke (P, n_strokes), and with `states` the state at every stroke's end (P, n_strokes, m)
        (always with the kernel).  `compiled` replaces the cycle's steps (an isotherm re-check).
        """
        compiled = self.compiled if compiled is None else compiled
        durations = np.asarray(durations, dtype=float).reshape(len(compiled), -1)
        tables = self.kernel_tables(compiled)
        if tables is not None:
            return self._run_kernel(tables, durations, len(compiled))
        return self.run_numpy(compiled, durations, states)

    def kernel_tables(self, compiled):
        """Plain arrays describing every op for `_kernels.limit_cycles` (None if an L is defective)."""
        key = tuple(id(ops) for ops in compiled)
        if key in self._tables:
            return self._tables[key]
        ops = [(i, op) for i, stroke_ops in enumerate(compiled) for op in stroke_ops]
        m = self.space.size
        spectral = {}
        for _, op in ops:
            if isinstance(op, Evolve):
                form = self.propagator(op).spectral()
                if form is None:
                    self._tables[key] = None
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
            if isinstance(op, Quench):
                t["h_before"][o] = self.energy_vector(op.before)
                t["h_after"][o] = self.energy_vector(op.after)
                continue
            t["h_after"][o] = self.energy_vector(op.H)
            t["books_heat"][o] = bool(op.baths)
            if isinstance(op, Precomposed):
                t["kind"][o] = _kernels.FIXED
                t["fixed"][o] = self.propagator(op).superop
                continue
            lam, modes, dual, projector = spectral[id(op)]
            k = lam.size
            t["kind"][o], t["share"][o] = _kernels.EVOLVE, op.share
            t["lam"][o, :k], t["modes"][o, :, :k], t["dual"][o, :k, :] = lam, modes, dual
            if projector is not None:
                t["fixed"][o] = projector
        self._tables[key] = t
        return t

    def _run_kernel(self, t, durations, n_strokes) -> dict:
        P, m = durations.shape[1], self.space.size
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
            self.trace,
            out["work"],
            out["heat"],
            out["residual"],
            out["states"],
        )
        out["x"] = out["states"][:, -1]
        return out

    def _energy(self, H, x):
        """Tr[H rho] for state-space vectors x (..., m): vec(H^T) . vec(rho)."""
        return x @ H.T.reshape(-1, order="F")[self.space]

    def run_numpy(self, compiled, durations, states=False) -> dict:
        """NumPy twin of `_kernels.limit_cycles` (and the path for defective generators)."""
        durations = np.asarray(durations, dtype=float).reshape(len(compiled), -1)
        P, m = durations.shape[1], self.space.size
        maps = []
        for ops, tau in zip(compiled, durations):
            maps.append(
                [None if isinstance(op, Quench) else self.propagator(op).batch(op.share * tau) for op in ops]
            )
        M = np.broadcast_to(np.eye(m, dtype=complex), (P, m, m))
        for stroke_maps in maps:
            for mp in stroke_maps:
                if mp is not None:
                    M = mp @ M
        A = M - np.eye(m)
        if P == 1:
            x = stationary_vector(A[0], self.trace, None, self.options)[0][None, :]
        else:
            x = stationary_vectors(A, self.trace)
            if x is None:
                x = np.full((P, m), np.nan, dtype=complex)
        residual = np.linalg.norm(np.einsum("pij,pj->pi", A, x), axis=1)
        out = {
            "x": x.copy(),
            "residual": residual,
            "work": np.zeros((P, len(compiled))),
            "heat": np.zeros((P, len(compiled))),
        }
        if states:
            out["states"] = np.zeros((P, len(compiled), m), dtype=complex)
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
