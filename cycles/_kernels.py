"""Numba kernels of `cycles`: limit cycles of many stroke-duration sets at once.

Plain arrays in, preallocated outputs written in place; the wrapper (`cycles.solve.Solver`) checks
and converts.
"""

from __future__ import annotations

import numpy as np

from engines.jit import njit, prange
from engines.linalg import solve_with_trace

QUENCH, EVOLVE, FIXED = 0, 1, 2


@njit
def _matmul(a, b, out):
    """out = a @ b by loops: faster than a BLAS call for the small matrices of a cycle."""
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0j
            for q in range(k):
                acc += a[i, q] * b[q, j]
            out[i, j] = acc


@njit(parallel=True)
def limit_cycles(
    taus,
    kind,
    stroke,
    share,
    lam,
    modes,
    dual,
    fixed,
    h_before,
    h_after,
    books_heat,
    trace,
    work,
    heat,
    residual,
    states,
):
    """Fixed point of the one-period map and the per-stroke booking, for every column of `taus`.

    Op o of the cycle (in order) is a quench (kind 0: W += h_after.x - h_before.x), an evolution
    (kind 1: map = modes diag(exp(lam t)) dual with t = share * taus[stroke[o], p], or the stored
    steady-state projector fixed[o] for t = inf) or a fixed map (kind 2: fixed[o]).  A map books
    h_after.(y - x) as heat (books_heat) or work.  States are vectors on the cycle's state space.
    """
    n_ops = kind.size
    n_points = taus.shape[1]
    m = trace.size
    r = lam.shape[1]
    for p in prange(n_points):
        maps = np.zeros((n_ops, m, m), dtype=np.complex128)
        M = np.eye(m, dtype=np.complex128)
        tmp = np.empty((m, m), dtype=np.complex128)
        scaled = np.empty((m, r), dtype=np.complex128)
        for o in range(n_ops):
            if kind[o] == QUENCH:
                continue
            if kind[o] == FIXED:
                maps[o] = fixed[o]
            else:
                t = share[o] * taus[stroke[o], p]
                if np.isinf(t):
                    maps[o] = fixed[o]
                else:
                    for j in range(r):
                        e = np.exp(lam[o, j] * t)
                        for i in range(m):
                            scaled[i, j] = modes[o, i, j] * e
                    _matmul(scaled, dual[o], maps[o])
            _matmul(maps[o], M, tmp)
            M[:, :] = tmp
        A = M.copy()
        for i in range(m):
            A[i, i] -= 1.0
        x = np.zeros(m, dtype=np.complex128)
        ok = solve_with_trace(A.copy(), trace, x)
        res = 0.0
        for i in range(m):
            acc = 0j
            for j in range(m):
                acc += A[i, j] * x[j]
            res += abs(acc) ** 2
        residual[p] = np.sqrt(res) if ok else np.inf
        y = np.empty(m, dtype=np.complex128)
        for o in range(n_ops):
            s = stroke[o]
            if kind[o] == QUENCH:
                work[p, s] += (np.dot(h_after[o], x) - np.dot(h_before[o], x)).real
            else:
                # y = map x, written into a buffer of this point (no rebinding: numba may hoist
                # allocations out of the loop, which would alias x and y)
                for i in range(m):
                    acc = 0j
                    for j in range(m):
                        acc += maps[o, i, j] * x[j]
                    y[i] = acc
                booked = (np.dot(h_after[o], y) - np.dot(h_after[o], x)).real
                if books_heat[o]:
                    heat[p, s] += booked
                else:
                    work[p, s] += booked
                x[:] = y
            if o == n_ops - 1 or stroke[o + 1] != s:
                states[p, s] = x
