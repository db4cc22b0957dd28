"""Numba kernels of `engines`: plain C-contiguous arrays in, preallocated outputs written in place.

The kernels check nothing; their wrappers in `generators.py` and `steady.py` validate and convert.
Index convention: column stacking, element (i, j) of a d x d matrix at vector index i + d j.
"""

from __future__ import annotations

import numpy as np

from engines._numba import njit


@njit
def davies_jump_superoperator(order, starts, m_idx, k_idx, amp, d, out):
    """Add sum_w A(w) rho A(w)^dag to the dense superoperator `out` (d*d, d*d).

    Entries of all jump operators A(w) are listed cluster by cluster: entries
    order[starts[c]:starts[c+1]] belong to Bohr-frequency cluster c; entry e is
    amp[e] |m_idx[e]><k_idx[e]| (sqrt of the rate already absorbed).
    """
    for c in range(starts.size - 1):
        for a in range(starts[c], starts[c + 1]):
            ea = order[a]
            m, k, va = m_idx[ea], k_idx[ea], amp[ea]
            for b in range(starts[c], starts[c + 1]):
                eb = order[b]
                out[m + d * m_idx[eb], k + d * k_idx[eb]] += va * np.conj(amp[eb])


@njit
def sector_superoperator(starts, X, R, out):
    """Add one Davies channel's dissipator restricted to the zero-frequency sector to `out`.

    The sector holds the coherences inside each degenerate block b = starts[b]:starts[b+1] of the
    (sorted) spectrum, block by block, each block column-stacked. X is the channel's coupling
    operator in the eigenbasis, R[m, k] the rate of the jump k -> m.  Jump term:
    (m, m') <- (k, k') with weight R[m, k] X[m, k] conj(X[m', k']); anticommutator with
    Gamma[k, k'] = sum_m R[m, k] conj(X[m, k]) X[m, k'] inside each block.
    """
    nb = starts.size - 1
    offs = np.zeros(nb + 1, dtype=np.int64)
    for b in range(nb):
        n = starts[b + 1] - starts[b]
        offs[b + 1] = offs[b] + n * n
    for bm in range(nb):
        sm, nm = starts[bm], starts[bm + 1] - starts[bm]
        for bk in range(nb):
            sk, nk = starts[bk], starts[bk + 1] - starts[bk]
            for m in range(sm, sm + nm):
                for m2 in range(sm, sm + nm):
                    row = offs[bm] + (m - sm) + nm * (m2 - sm)
                    for k in range(sk, sk + nk):
                        a = R[m, k] * X[m, k]
                        if a == 0:
                            continue
                        for k2 in range(sk, sk + nk):
                            out[row, offs[bk] + (k - sk) + nk * (k2 - sk)] += a * np.conj(X[m2, k2])
    for b in range(nb):
        s, n = starts[b], starts[b + 1] - starts[b]
        gamma = np.zeros((n, n), dtype=np.complex128)
        for k in range(n):
            for k2 in range(n):
                acc = 0j
                for m in range(X.shape[0]):
                    acc += R[m, s + k] * np.conj(X[m, s + k]) * X[m, s + k2]
                gamma[k, k2] = acc
        # -(Gamma rho + rho Gamma)/2 on the block's column-stacked coherences
        for i in range(n):
            for j in range(n):
                row = offs[b] + i + n * j
                for k in range(n):
                    out[row, offs[b] + k + n * j] -= 0.5 * gamma[i, k]
                    out[row, offs[b] + i + n * k] -= 0.5 * gamma[k, j]


@njit
def rates_from_table(kind, T, mu, coupling, cutoff, w0, dephasing, omega, out):
    """Reservoir rate gamma(w) for every entry of `omega` (same layout as `out`).

    kind 0: bosonic flat, 1: bosonic ohmic, 2: fermionic removal Gamma (1 - f(w)),
    3: fermionic addition of energy -w, Gamma f(-w).  Mirrors `reservoirs.py` (tested against it).
    """
    flat_w = omega.ravel()
    flat_out = out.ravel()
    for i in range(flat_w.size):
        w = flat_w[i]
        if kind >= 2:
            x = (w - mu) if kind == 2 else (-w - mu)
            if T == 0.0:
                f = 1.0 if x < 0 else (0.0 if x > 0 else 0.5)
            else:
                f = 0.5 * (1.0 - np.tanh(0.5 * x / T))
            flat_out[i] = coupling * (1.0 - f) if kind == 2 else coupling * f
            continue
        if w == 0.0:
            flat_out[i] = coupling * T / w0 if kind == 1 else dephasing
            continue
        x = abs(w)
        J = coupling if kind == 0 else coupling * (x / w0) * np.exp(-x / cutoff)
        if T == 0.0:
            flat_out[i] = J if w > 0 else 0.0
        elif w > 0:
            flat_out[i] = -J / np.expm1(-x / T)
        else:
            flat_out[i] = J / np.expm1(x / T)

