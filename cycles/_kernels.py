"""Numba kernels of `cycles`: limit cycles of many stroke-duration sets at once.

Plain arrays in, preallocated outputs written in place; the wrapper (`cycles.solve.Solver`) checks
and converts.  The NumPy twin is `cycles.solve.Solver.run_numpy`.
"""

from __future__ import annotations

import math

import numpy as np

from engines.jit import njit, prange
from engines.linalg import solve_with_trace

QUENCH, EVOLVE, FIXED = 0, 1, 2


@njit
def _matmul(a, b, out):
    """Out = a @ b by loops: faster than a BLAS call for the small matrices of a cycle."""
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0j
            for q in range(k):
                acc += a[i, q] * b[q, j]
            out[i, j] = acc


@njit
def _expm1(z):
    """exp(z) - 1 for complex z without cancellation (as `engines.linalg.expm1_complex`)."""
    x, y = z.real, z.imag
    s = math.sin(0.5 * y)
    return complex(math.expm1(x) * math.cos(y) - 2.0 * s * s, math.exp(x) * math.sin(y))


@njit(parallel=True)
def limit_cycles(
    taus,
    kind,
    stroke,
    share,
    lam,
    zero,
    modes,
    dual,
    fixed,
    h_before,
    h_after,
    books_heat,
    mu,
    counts,
    number,
    trace,
    work,
    heat,
    chemical,
    particles,
    residual,
    states,
):
    """Fixed point of the one-period map and the per-stroke booking, for every column of `taus`.

    Op o of the cycle (in order) is a quench (kind 0: W += h_after.x - h_before.x), an evolution
    (kind 1: map = modes diag(exp(lam t)) dual with t = share * taus[stroke[o], p], or the stored
    projector fixed[o] for t = inf) or a fixed map (kind 2: fixed[o]).  A map books
    Delta E = h_after.(y - x) as heat (books_heat) or work.  An evolution with a lead (counts[o])
    also books Delta N = sum_j number[o, j] phi_j (dual x)_j, phi_j = int_0^t exp(lam_j s) ds (t for a
    kernel mode, -1/lam_j and 0 for t = inf), as chemical work mu Delta N and heat Delta E - mu Delta N.
    States are vectors on the cycle's state space.
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
                dn = 0.0
                if counts[o]:
                    t = share[o] * taus[s, p]
                    acc_n = 0j
                    for j in range(r):
                        c = 0j
                        for i in range(m):
                            c += dual[o, j, i] * x[i]
                        if zero[o, j]:
                            phi = 0j if np.isinf(t) else complex(t, 0.0)
                        elif np.isinf(t):
                            phi = -1.0 / lam[o, j]
                        else:
                            phi = _expm1(lam[o, j] * t) / lam[o, j]
                        acc_n += number[o, j] * phi * c
                    dn = acc_n.real
                # y = map x, written into a buffer of this point (no rebinding: numba may hoist
                # allocations out of the loop, which would alias x and y)
                for i in range(m):
                    acc = 0j
                    for j in range(m):
                        acc += maps[o, i, j] * x[j]
                    y[i] = acc
                booked = (np.dot(h_after[o], y) - np.dot(h_after[o], x)).real
                if books_heat[o]:
                    heat[p, s] += booked - mu[o] * dn
                    chemical[p, s] += mu[o] * dn
                    particles[p, s] += dn
                else:
                    work[p, s] += booked
                x[:] = y
            if o == n_ops - 1 or stroke[o + 1] != s:
                states[p, s] = x
