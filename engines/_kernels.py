"""Numba kernels of `engines`: plain C-contiguous arrays in, preallocated outputs written in place.

The kernels check nothing; their wrappers in `generators.py` and `steady.py` validate and convert.
Index convention: column stacking, element (i, j) of a d x d matrix at vector index i + d j.
"""

from __future__ import annotations

import numpy as np

from engines._numba import njit, prange


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
def rate(kind, T, mu, coupling, cutoff, w0, dephasing, w):
    """Reservoir rate gamma(w) for one Bohr frequency w (energy given to the reservoir).

    kind 0: bosonic flat, 1: bosonic ohmic, 2: fermionic removal Gamma (1 - f(w)),
    3: fermionic addition of energy -w, Gamma f(-w).  Mirrors `reservoirs.py` (tested against it).
    """
    if kind >= 2:
        x = (w - mu) if kind == 2 else (-w - mu)
        # occupation f(x) for addition, 1 - f(x) = f(-x) for removal: no subtraction
        y = -x if kind == 2 else x
        if T == 0.0:
            f = 1.0 if y < 0 else (0.0 if y > 0 else 0.5)
        elif y > 0:
            e = np.exp(-y / T)
            f = e / (1.0 + e)
        else:
            f = 1.0 / (1.0 + np.exp(y / T))
        return coupling * f
    if w == 0.0:
        return coupling * T / w0 if kind == 1 else dephasing
    x = abs(w)
    J = coupling if kind == 0 else coupling * (x / w0) * np.exp(-x / cutoff)
    if T == 0.0:
        return J if w > 0 else 0.0
    if w > 0:
        return -J / np.expm1(-x / T)
    return J / np.expm1(x / T)


@njit
def rates_from_table(kind, T, mu, coupling, cutoff, w0, dephasing, omega, out):
    """`rate` for every entry of `omega`, written into `out` (same shape)."""
    flat_w = omega.ravel()
    flat_out = out.ravel()
    for i in range(flat_w.size):
        flat_out[i] = rate(kind, T, mu, coupling, cutoff, w0, dephasing, flat_w[i])


@njit
def degenerate_blocks(E, tol):
    """Starts of runs of (sorted) energies closer than tol * max(1, max|E|); snaps E to run means."""
    d = E.size
    scale = 1.0
    for i in range(d):
        scale = max(scale, abs(E[i]))
    starts = np.empty(d + 1, dtype=np.int64)
    nb = 0
    starts[0] = 0
    for i in range(1, d):
        if E[i] - E[i - 1] > tol * scale:
            nb += 1
            starts[nb] = i
    nb += 1
    starts[nb] = d
    starts = starts[: nb + 1].copy()
    for b in range(nb):
        mean = 0.0
        for i in range(starts[b], starts[b + 1]):
            mean += E[i]
        mean /= starts[b + 1] - starts[b]
        for i in range(starts[b], starts[b + 1]):
            E[i] = mean
    return starts


@njit
def davies_currents(E, starts, X, R, rho):
    """Energy current sum_m E_m (D rho)_mm and jump rate of one Davies channel.

    Only the zero-frequency part of rho (blocks of degenerate levels) feeds the diagonal of D(rho).
    """
    d = E.size
    energy = 0.0
    jumps = 0.0
    for b in range(starts.size - 1):
        s, e = starts[b], starts[b + 1]
        for m in range(d):
            gain = 0j
            for k in range(s, e):
                a = R[m, k] * X[m, k]
                if a == 0:
                    continue
                for k2 in range(s, e):
                    gain += a * rho[k, k2] * np.conj(X[m, k2])
            energy += E[m] * gain.real
            jumps += gain.real
        for m in range(s, e):
            loss = 0j
            for k in range(s, e):
                g = 0j
                for n in range(d):
                    g += R[n, m] * np.conj(X[n, m]) * X[n, k]
                loss += g * rho[k, m]
            energy -= E[m] * loss.real
    return energy, jumps


@njit
def davies_full_superoperator(E, X, R, tol, out):
    """Add one Davies channel's full dissipator (all Bohr frequencies) in the eigenbasis to `out`.

    Jump term (m, m') <- (k, k') when E_k - E_m = E_k' - E_m' within tol, weight
    sqrt(R[m,k] R[m',k']) X[m,k] conj(X[m',k']); anticommutator with Gamma inside degenerate blocks.
    """
    d = E.size
    scale = 1.0
    for i in range(d):
        scale = max(scale, abs(E[i]))
    for m in range(d):
        for k in range(d):
            a = X[m, k]
            if a == 0 or R[m, k] == 0:
                continue
            w = E[k] - E[m]
            for m2 in range(d):
                for k2 in range(d):
                    if abs(E[k2] - E[m2] - w) <= tol * scale:
                        out[m + d * m2, k + d * k2] += np.sqrt(R[m, k] * R[m2, k2]) * a * np.conj(X[m2, k2])
    for k in range(d):
        for k2 in range(d):
            if abs(E[k] - E[k2]) > tol * scale:
                continue
            g = 0j
            for n in range(d):
                g += np.sqrt(R[n, k] * R[n, k2]) * np.conj(X[n, k]) * X[n, k2]
            for i in range(d):
                out[k + d * i, k2 + d * i] -= 0.5 * g  # Gamma rho
                out[i + d * k2, i + d * k] -= 0.5 * g  # rho Gamma
    return out


@njit
def solve_with_trace(A, trace, x):
    """Solve A x = 0 with trace . x = 1 by Gaussian elimination with partial pivoting.

    A is overwritten.  The first row where `trace` is nonzero is replaced by the constraint.
    Returns False when a pivot vanishes (singular: the steady state is not unique).
    """
    n = A.shape[0]
    row = 0
    while trace[row] == 0:
        row += 1
    b = np.zeros(n, dtype=np.complex128)
    for j in range(n):
        A[row, j] = trace[j]
    b[row] = 1.0
    norm = 0.0
    for i in range(n):
        for j in range(n):
            norm = max(norm, abs(A[i, j]))
    for c in range(n):
        p = c
        for i in range(c + 1, n):
            if abs(A[i, c]) > abs(A[p, c]):
                p = i
        if abs(A[p, c]) <= 1e-13 * norm:
            return False
        if p != c:
            for j in range(n):
                A[c, j], A[p, j] = A[p, j], A[c, j]
            b[c], b[p] = b[p], b[c]
        inv = 1.0 / A[c, c]
        for i in range(c + 1, n):
            f = A[i, c] * inv
            if f != 0:
                for j in range(c, n):
                    A[i, j] -= f * A[c, j]
                b[i] -= f * b[c]
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= A[i, j] * x[j]
        x[i] = acc / A[i, i]
    return True


@njit(parallel=True)
def batched_ness(
    values,
    targets,
    target_res,
    Hd0,
    Hd_coef,
    Hc0,
    Hc_coef,
    driven,
    fixed_basis,
    X,
    ch_res,
    ch_kind,
    res_params,
    tol,
    energy,
    number,
    residual,
    lowest,
    rho_out,
):
    """Steady states and currents of many global-flavour machines at once (prange over points).

    Per point p: the parameters values[p] shift Hamiltonians (targets == 0, by coefficient
    matrices) or reservoir fields (targets 1: T, 2: mu, 3: coupling of reservoir target_res).
    The dissipation Hamiltonian Hd = Hd0 + sum_i v_i Hd_coef[i] is diagonalised (skipped when
    `fixed_basis`: Hd0 is then diagonal and sorted), each channel's coupling X[c] rotated into its
    eigenbasis and Davies rates evaluated; undriven machines are solved in the zero-frequency sector
    (populations and degenerate-block coherences), driven ones on the full d^2 space with the coherent
    part Hc = Hc0 + sum_i v_i Hc_coef[i] (rotating frame).  Outputs per point and reservoir: energy
    current Tr[Hd D_a(rho)], jump-counted particle current (sign from ch_kind), residual ||L rho||,
    lowest eigenvalue of rho, and rho itself in the medium's basis.

    res_params[r] = (kind-independent) T, mu, coupling, cutoff, w0, dephasing.
    """
    n_points, n_par = values.shape
    d = Hd0.shape[0]
    n_ch = X.shape[0]
    for p in prange(n_points):
        params = res_params.copy()
        Hd = Hd0.copy()
        Hc = Hc0.copy()
        for i in range(n_par):
            v = values[p, i]
            if targets[i] == 0:
                Hd += v * Hd_coef[i]
                Hc += v * Hc_coef[i]
            else:
                params[target_res[i], targets[i] - 1] = v
        if fixed_basis:
            E = np.empty(d)
            for i in range(d):
                E[i] = Hd[i, i].real
            V = np.eye(d, dtype=np.complex128)
        else:
            E, V0 = np.linalg.eigh(Hd)
            V = np.ascontiguousarray(V0)
        starts = degenerate_blocks(E, tol)
        Vh = np.ascontiguousarray(V.conj().T)
        Xe = np.empty((n_ch, d, d), dtype=np.complex128)
        Re = np.empty((n_ch, d, d))
        for c in range(n_ch):
            Xe[c] = X[c] if fixed_basis else Vh @ np.ascontiguousarray(X[c]) @ V
            r = ch_res[c]
            for m in range(d):
                for k in range(d):
                    Re[c, m, k] = rate(
                        ch_kind[c],
                        params[r, 0],
                        params[r, 1],
                        params[r, 2],
                        params[r, 3],
                        params[r, 4],
                        params[r, 5],
                        E[k] - E[m],
                    )
        rho = np.zeros((d, d), dtype=np.complex128)
        if driven:
            n = d * d
            L = np.zeros((n, n), dtype=np.complex128)
            Hce = Hc if fixed_basis else Vh @ Hc @ V
            for i in range(d):
                for j in range(d):
                    for k in range(d):
                        L[i + d * j, k + d * j] += -1j * Hce[i, k]
                        L[i + d * j, i + d * k] += 1j * Hce[k, j]
            for c in range(n_ch):
                davies_full_superoperator(E, Xe[c], Re[c], tol, L)
            trace = np.zeros(n, dtype=np.complex128)
            for i in range(d):
                trace[i * (d + 1)] = 1.0
            x = np.zeros(n, dtype=np.complex128)
            ok = solve_with_trace(L.copy(), trace, x)
            res = np.sqrt(np.sum(np.abs(L @ x) ** 2))
            for i in range(d):
                for j in range(d):
                    rho[i, j] = x[i + d * j]
        else:
            nb = starts.size - 1
            n = 0
            for b in range(nb):
                n += (starts[b + 1] - starts[b]) ** 2
            M = np.zeros((n, n), dtype=np.complex128)
            for c in range(n_ch):
                sector_superoperator(starts, Xe[c], Re[c], M)
            trace = np.zeros(n, dtype=np.complex128)
            off = 0
            for b in range(nb):
                s = starts[b + 1] - starts[b]
                for i in range(s):
                    trace[off + i * (s + 1)] = 1.0
                off += s * s
            x = np.zeros(n, dtype=np.complex128)
            ok = solve_with_trace(M.copy(), trace, x)
            res = np.sqrt(np.sum(np.abs(M @ x) ** 2))
            off = 0
            for b in range(nb):
                a, s = starts[b], starts[b + 1] - starts[b]
                for i in range(s):
                    for j in range(s):
                        rho[a + i, a + j] = x[off + i + s * j]
                off += s * s
        for c in range(n_ch):
            e_c, jumps = davies_currents(E, starts, Xe[c], Re[c], rho)
            energy[p, ch_res[c]] += e_c
            sign = -1.0 if ch_kind[c] == 2 else (1.0 if ch_kind[c] == 3 else 0.0)
            number[p, ch_res[c]] += sign * jumps
        residual[p] = res if ok else np.inf
        herm = 0.5 * (rho + rho.conj().T)
        lowest[p] = np.linalg.eigvalsh(herm)[0]
        rho_out[p] = herm if fixed_basis else V @ np.ascontiguousarray(herm) @ Vh
