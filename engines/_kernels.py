"""Numba kernels of `engines`: plain C-contiguous arrays in, preallocated outputs written in place.

The kernels check nothing; their wrappers (`engines.davies`, `engines.reservoirs`, `engines.batch`,
`engines.linalg`) validate and convert.
Index convention: column stacking, element (i, j) of a d x d matrix at vector index i + d j.
"""

from __future__ import annotations

import numpy as np

from engines.jit import njit, prange


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


#: Rate functions a channel's kernel code selects (`engines.reservoirs` encodes its channels with them).
RATE_FLAT, RATE_OHMIC, RATE_FERMI_OUT, RATE_FERMI_IN = 0, 1, 2, 3
#: Columns of a reservoir's kernel parameter row.
PARAM_T, PARAM_MU, PARAM_COUPLING, PARAM_CUTOFF, PARAM_W0, PARAM_DEPHASING = 0, 1, 2, 3, 4, 5
N_PARAMS = 6


@njit
def bose_weight(T, w):
    """Thermal weight of a jump giving energy w != 0 to a bosonic bath: 1 + n(w) for w > 0, n(|w|) for w < 0.

    n(x) = 1/(exp(x/T) - 1); at T = 0 the weights are 1 and 0.  Written with expm1 so that neither
    tail loses precision, and -1/expm1(-x/T) = 1 + n(x) without a subtraction.
    """
    x = abs(w)
    if T == 0.0:
        return 1.0 if w > 0 else 0.0
    if w > 0:
        return -1.0 / np.expm1(-x / T)
    return 1.0 / np.expm1(x / T)


@njit
def fermi_weight(T, x):
    """Fermi occupation f(x) = 1/(exp(x/T) + 1) (1/2 at x = 0 when T = 0), as a logistic function.

    Both tails keep full relative precision: 1 - f(x) is written as f(-x), never a subtraction.
    """
    if T == 0.0:
        return 1.0 if x < 0 else (0.0 if x > 0 else 0.5)
    if x > 0:
        e = np.exp(-x / T)
        return e / (1.0 + e)
    return 1.0 / (1.0 + np.exp(x / T))


@njit
def rate(kind, T, mu, coupling, cutoff, w0, dephasing, w):
    """Rate gamma(w) of one channel for one Bohr frequency w (energy given to the reservoir).

    `kind` is RATE_FLAT (J = coupling), RATE_OHMIC (J = coupling (w/w0) exp(-w/cutoff), zero-frequency
    limit coupling T / w0), RATE_FERMI_OUT (removing a particle of energy w: Gamma (1 - f(w))) or
    RATE_FERMI_IN (adding a particle of energy -w: Gamma f(-w)).  Bosonic rates are J(|w|) times
    `bose_weight`; at w = 0 they are the dephasing (flat) or the ohmic limit.
    """
    if kind == RATE_FERMI_OUT:
        return coupling * fermi_weight(T, mu - w)
    if kind == RATE_FERMI_IN:
        return coupling * fermi_weight(T, -w - mu)
    if w == 0.0:
        return coupling * T / w0 if kind == RATE_OHMIC else dephasing
    x = abs(w)
    J = coupling if kind == RATE_FLAT else coupling * (x / w0) * np.exp(-x / cutoff)
    return J * bose_weight(T, w)


@njit
def rates_from_table(kind, T, mu, coupling, cutoff, w0, dephasing, omega, out):
    """`rate` for every entry of `omega`, written into `out` (same shape)."""
    flat_w = omega.ravel()
    flat_out = out.ravel()
    for i in range(flat_w.size):
        flat_out[i] = rate(kind, T, mu, coupling, cutoff, w0, dephasing, flat_w[i])


@njit
def bosonic_rates(J, T, zero_rate, omega, out):
    """Rates of a bosonic bath with a tabulated spectral density: J[i] (at |omega[i]|) times `bose_weight`.

    Used for user-supplied spectra, which cannot run inside a kernel; omega[i] = 0 gives `zero_rate`.
    """
    for i in range(omega.size):
        out[i] = zero_rate if omega[i] == 0.0 else J[i] * bose_weight(T, omega[i])


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
def _observable_entry(E, X, R, k, k2):
    """(O_E[k, k2], Gamma[k, k2]) of one Davies channel, for k, k2 in one degenerate block.

    O_E = D^dag(H): sum_m R[m, k] conj(X[m, k]) X[m, k2] (E_m - E_k); Gamma the same without the
    energy factor.
    """
    e = 0j
    g = 0j
    for m in range(E.size):
        a = R[m, k] * np.conj(X[m, k]) * X[m, k2]
        g += a
        e += a * (E[m] - E[k])
    return e, g


@njit
def davies_observables(E, starts, X, R, energy, rate):
    """Write the block layout of O_E^T and Gamma^T of one channel into `energy` and `rate`.

    Block b (levels s..s+n-1) occupies offs[b] .. offs[b] + n^2, entry offs[b] + i + n j holding
    O[s + j, s + i], so that Tr[O rho] = sum(out * x) with x the same layout of rho.
    """
    off = 0
    for b in range(starts.size - 1):
        s, n = starts[b], starts[b + 1] - starts[b]
        for j in range(n):
            for i in range(n):
                e, g = _observable_entry(E, X, R, s + j, s + i)
                energy[off + i + n * j] = e
                rate[off + i + n * j] = g
        off += n * n


@njit
def davies_current(E, starts, X, R, rho):
    """(Tr[O_E rho], Tr[Gamma rho]) of one channel: energy current into the medium and jump rate."""
    energy = 0.0
    jumps = 0.0
    for b in range(starts.size - 1):
        s, e_ = starts[b], starts[b + 1]
        for k in range(s, e_):
            for k2 in range(s, e_):
                e, g = _observable_entry(E, X, R, k, k2)
                energy += (e * rho[k2, k]).real
                jumps += (g * rho[k2, k]).real
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
    ch_particles,
    res_params,
    tol,
    energy,
    number,
    residual,
    lowest,
    rho_out,
):
    """Steady states and currents of many global-flavour machines at once (prange over points).

    Per point p: the parameters values[p] shift Hamiltonians (targets[i] < 0, by coefficient
    matrices) or set column targets[i] (PARAM_T, PARAM_MU, PARAM_COUPLING) of the kernel parameter
    row res_params[target_res[i]] of a reservoir.
    The dissipation Hamiltonian Hd = Hd0 + sum_i v_i Hd_coef[i] is diagonalised (skipped when
    `fixed_basis`: Hd0 is then diagonal and sorted), each channel's coupling X[c] rotated into its
    eigenbasis and Davies rates evaluated; undriven machines are solved in the zero-frequency sector
    (populations and degenerate-block coherences), driven ones on the full d^2 space with the coherent
    part Hc = Hc0 + sum_i v_i Hc_coef[i] (rotating frame).  Outputs per point and reservoir: energy
    current Tr[Hd D_a(rho)], jump-counted particle current (ch_particles per jump of channel c),
    residual ||L rho||, lowest eigenvalue of rho, and rho itself in the medium's basis.

    Channel c belongs to reservoir ch_res[c] and has rate function ch_kind[c] (RATE_*); reservoir
    rows of res_params hold the PARAM_* columns.
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
            if targets[i] < 0:
                Hd += v * Hd_coef[i]
                Hc += v * Hc_coef[i]
            else:
                params[target_res[i], targets[i]] = v
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
                        params[r, PARAM_T],
                        params[r, PARAM_MU],
                        params[r, PARAM_COUPLING],
                        params[r, PARAM_CUTOFF],
                        params[r, PARAM_W0],
                        params[r, PARAM_DEPHASING],
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
            e_c, jumps = davies_current(E, starts, Xe[c], Re[c], rho)
            energy[p, ch_res[c]] += e_c
            number[p, ch_res[c]] += ch_particles[c] * jumps
        residual[p] = res if ok else np.inf
        herm = 0.5 * (rho + rho.conj().T)
        lowest[p] = np.linalg.eigvalsh(herm)[0]
        rho_out[p] = herm if fixed_basis else V @ np.ascontiguousarray(herm) @ Vh
