"""Numba kernels of `engines`: plain C-contiguous arrays in, preallocated outputs written in place.

The kernels check nothing; their wrappers (`engines.davies`, `engines.reservoirs`, `engines.batch`,
`engines.linalg`) validate and convert.
Index convention: column stacking, element (i, j) of a d x d matrix at vector index i + d j.
"""

from __future__ import annotations

import numpy as np

from engines.jit import njit, prange


@njit
def _block_offsets(starts):
    nb = starts.size - 1
    offs = np.zeros(nb + 1, dtype=np.int64)
    for b in range(nb):
        n = starts[b + 1] - starts[b]
        offs[b + 1] = offs[b] + n * n
    return offs


@njit
def sector_superoperator(starts, X, R, out):
    """Add one Davies channel's dissipator restricted to the zero-frequency sector to `out`.

    The sector holds the coherences inside each degenerate block b = starts[b]:starts[b+1] of the
    (sorted) spectrum, block by block, each block column-stacked. X is the channel's coupling
    operator in the eigenbasis, R[m, k] the rate of the jump k -> m.  Jump term
    (`sector_jump_term`); anticommutator with Gamma[k, k'] = sum_m R[m, k] conj(X[m, k]) X[m, k']
    inside each block.
    """
    sector_jump_term(starts, X, R, out)
    nb = starts.size - 1
    offs = _block_offsets(starts)
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
def sector_jump_term(starts, X, R, out):
    """Add the jump term of one Davies channel on the zero-frequency sector to `out`.

    (m, m') <- (k, k') with weight R[m, k] X[m, k] conj(X[m', k']).  With R weighted by what each
    jump k -> m moves, it is the counting-field derivative of the tilted generator.
    """
    nb = starts.size - 1
    offs = _block_offsets(starts)
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
    return _eliminate(A, trace, x, np.zeros(A.shape[0], dtype=np.complex128))


@njit
def _eliminate(A, trace, x, b):
    """`solve_with_trace` with a caller-provided scratch vector `b` (no allocation).

    Written for real and complex systems alike (numba compiles each dtype on its own): `.real`,
    `.imag` and `np.conj` are those of a real number for float64 arrays.
    """
    n = A.shape[0]
    row = 0
    while trace[row] == 0:
        row += 1
    for j in range(n):
        b[j] = 0.0
        A[row, j] = trace[j]
    b[row] = 1.0
    # Pivots by |Re| + |Im| (within sqrt 2 of the modulus, without a square root per entry).
    norm = 0.0
    for i in range(n):
        for j in range(n):
            norm = max(norm, abs(A[i, j].real) + abs(A[i, j].imag))
    for c in range(n):
        p = c
        best = abs(A[c, c].real) + abs(A[c, c].imag)
        for i in range(c + 1, n):
            size = abs(A[i, c].real) + abs(A[i, c].imag)
            if size > best:
                p, best = i, size
        if best <= 1e-13 * norm:
            return False
        if p != c:
            for j in range(n):
                A[c, j], A[p, j] = A[p, j], A[c, j]
            b[c], b[p] = b[p], b[c]
        # 1 / A[c, c] as conj / |.|^2: one real division instead of a robust complex one
        pivot = A[c, c]
        inv = np.conj(pivot) * (1.0 / (pivot.real * pivot.real + pivot.imag * pivot.imag))
        A[c, c] = inv  # kept for the back-substitution (the pivot itself is not needed again)
        for i in range(c + 1, n):
            f = A[i, c] * inv
            if f.real != 0.0 or f.imag != 0.0:
                for j in range(c + 1, n):
                    A[i, j] -= f * A[c, j]
                b[i] -= f * b[c]
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for j in range(i + 1, n):
            acc -= A[i, j] * x[j]
        x[i] = acc * A[i, i]
    return True


@njit
def positive_within(rho, tol, work):
    """Whether the Hermitian `rho` + tol * I is positive definite (Cholesky; `work` is (d, d) scratch).

    Equivalent to: the lowest eigenvalue of rho exceeds -tol.  Cheaper than an eigendecomposition
    and needs no LAPACK call inside a parallel loop.
    """
    d = rho.shape[0]
    for i in range(d):
        for j in range(d):
            work[i, j] = rho[i, j]
        work[i, i] += tol
    for j in range(d):
        diag = work[j, j].real
        for k in range(j):
            diag -= work[j, k].real ** 2 + work[j, k].imag ** 2
        if not diag > 0.0:
            return False
        root = np.sqrt(diag)
        work[j, j] = root
        inv = 1.0 / root
        for i in range(j + 1, d):
            acc = work[i, j]
            for k in range(j):
                acc -= work[i, k] * np.conj(work[j, k])
            work[i, j] = acc * inv
    return True


@njit
def _coherent_figures(Hc, E, work_tol):
    """(largest entry of Hc with its diagonal centred, whether [Hc, diag(E)] is nonzero beyond round-off)."""
    d = E.size
    lo, hi, off, size, emax = np.inf, -np.inf, 0.0, 0.0, 0.0
    comm = 0.0
    for i in range(d):
        emax = max(emax, abs(E[i]))
        for j in range(d):
            h = Hc[i, j]
            a = np.sqrt(h.real * h.real + h.imag * h.imag)
            size = max(size, a)
            if i == j:
                lo = min(lo, Hc[i, i].real)
                hi = max(hi, Hc[i, i].real)
            else:
                off = max(off, a)
                comm = max(comm, a * abs(E[j] - E[i]))
    return max(off, 0.5 * (hi - lo)), comm > work_tol * size * emax


@njit
def _mechanical_power(Hc, E, rho):
    """Tr[i[diag(E), Hc] rho]: the energy the coherent part exchanges, sum_a J^E_a at an exact NESS."""
    d = E.size
    acc = 0.0
    for i in range(d):
        for j in range(d):
            if i != j:
                acc += (1j * (E[i] - E[j]) * Hc[i, j] * rho[j, i]).real
    return acc


@njit
def _row_norm(op, d):
    """Largest absolute row sum of the (d, d) matrix `op`."""
    best = 0.0
    for k in range(d):
        acc = 0.0
        for k2 in range(d):
            acc += abs(op[k, k2])
        best = max(best, acc)
    return best


@njit
def _basis_out(V, rho, tmp, out, identity):
    """Out = V rho V^dag (Hermitian part of rho), or the Hermitian part itself when `identity`."""
    d = rho.shape[0]
    for i in range(d):
        for j in range(d):
            tmp[i, j] = 0.5 * (rho[i, j] + np.conj(rho[j, i]))
    if identity:
        for i in range(d):
            for j in range(d):
                out[i, j] = tmp[i, j]
        return
    for i in range(d):
        for j in range(d):
            acc = 0j
            for k in range(d):
                vk = V[i, k]
                if vk == 0:
                    continue
                for k2 in range(d):
                    acc += vk * tmp[k, k2] * np.conj(V[j, k2])
            out[i, j] = acc


@njit(parallel=True)
def batched_ness_sector(
    values,
    targets,
    target_res,
    res_params,
    E,
    V,
    identity_basis,
    Hc0,
    Hc_coef,
    ent_ch,
    ent_w,
    ch_res,
    ch_kind,
    Hs0,
    Hs_coef,
    t_row,
    t_col,
    t_e1,
    t_e2,
    t_coef,
    trace,
    weights,
    sc_k,
    sc_i,
    sc_j,
    sc_f,
    o_res,
    o_e,
    o_row,
    o_col,
    o_energy,
    o_number,
    o_slot,
    slot_res,
    slot_k,
    dk_e,
    dk_k,
    dk_w,
    work_tol,
    state_tol,
    chunk,
    energy,
    number,
    residual,
    positive,
    rho_out,
    scale,
    norms,
    particle_norms,
    work,
    mechanical,
    decay_rate,
):
    """Steady states and currents of many global-flavour machines sharing one eigenbasis.

    The medium's Hamiltonian (energies E, eigenvectors V) is the same at every point; the points
    differ in reservoir parameters (targets[i] >= 0: column targets[i] of reservoir target_res[i])
    and in the coherent part Hc = Hc0 + sum_i v_i Hc_coef[i] (a drive in its rotating frame;
    targets[i] < 0), all in the eigenbasis.  The generator is assembled directly on the invariant
    sector that holds the populations, in real coordinates y of its Hermitian states (populations,
    real and imaginary parts of the coherences: rho[sc_i, sc_j] += sc_f y[sc_k]; ||x||^2 =
    sum weights y^2), where it is a real matrix, from precomputed terms:

    - Hamiltonian part: Hs0 + sum_i v_i Hs_coef[i] (the commutator on the sector);
    - Davies dissipator: M[t_row, t_col] += t_coef * sqrt(r[t_e1] r[t_e2]), with r[e] the rate of
      rate entry e (channel ent_ch[e], Bohr frequency ent_w[e]);
    - currents: Tr[O_a rho] = sum_q r[o_e] o_energy rho[o_row, o_col] over the terms q of reservoir o_res
      (o_number for the particle current); term q adds to the matrix entry o_slot[q] of O_a, in
      row slot_k of reservoir slot_res;
    - decay diagonal Gamma_kk = sum r[dk_e] dk_w over the terms at level dk_k.

    Points are processed in chunks of `chunk` (one scratch allocation per chunk, prange over
    chunks).  Outputs per point: energy and particle currents per reservoir, residual ||L rho||
    (inf when singular), whether rho + state_tol is positive, rho in the medium's basis, the
    generator's scale (centred largest entry of Hc plus largest decay rate), ||O_a - mu_a N_a||
    and ||N_a|| (largest row sums), whether [Hc, H] != 0 (a work source) and Tr[i[H, Hc] rho].
    """
    n_points, n_par = values.shape
    d = E.size
    n_s = trace.size
    n_res = res_params.shape[0]
    n_ent = ent_w.size
    n_chunks = (n_points + chunk - 1) // chunk
    for c in prange(n_chunks):
        params = np.empty_like(res_params)
        Hc = np.empty((d, d), dtype=np.complex128)
        r = np.empty(n_ent)
        s = np.empty(n_ent)
        M = np.empty((n_s, n_s))
        A = np.empty((n_s, n_s))
        x = np.empty(n_s)
        b = np.empty(n_s)
        rho = np.empty((d, d), dtype=np.complex128)
        tmp = np.empty((d, d), dtype=np.complex128)
        slot_e = np.empty(slot_res.size, dtype=np.complex128)
        slot_n = np.empty(slot_res.size, dtype=np.complex128)
        rows_o = np.empty((n_res, d))
        rows_n = np.empty((n_res, d))
        decay = np.empty(d)
        for p in range(c * chunk, min(n_points, (c + 1) * chunk)):
            # explicit loops: array expressions inside prange would become nested parallel loops
            for a in range(n_res):
                for a2 in range(res_params.shape[1]):
                    params[a, a2] = res_params[a, a2]
            for a in range(d):
                for a2 in range(d):
                    Hc[a, a2] = Hc0[a, a2]
            for a in range(n_s):
                for a2 in range(n_s):
                    M[a, a2] = Hs0[a, a2]
            for i in range(n_par):
                v = values[p, i]
                if targets[i] < 0:
                    for a in range(d):
                        for a2 in range(d):
                            Hc[a, a2] += v * Hc_coef[i, a, a2]
                    for a in range(n_s):
                        for a2 in range(n_s):
                            M[a, a2] += v * Hs_coef[i, a, a2]
                else:
                    params[target_res[i], targets[i]] = v
            for e in range(n_ent):
                ch = ent_ch[e]
                q = ch_res[ch]
                r[e] = rate(
                    ch_kind[ch],
                    params[q, PARAM_T],
                    params[q, PARAM_MU],
                    params[q, PARAM_COUPLING],
                    params[q, PARAM_CUTOFF],
                    params[q, PARAM_W0],
                    params[q, PARAM_DEPHASING],
                    ent_w[e],
                )
                s[e] = np.sqrt(r[e])
            for t in range(t_row.size):
                M[t_row[t], t_col[t]] += t_coef[t] * (s[t_e1[t]] * s[t_e2[t]])
            for a in range(n_s):
                for a2 in range(n_s):
                    A[a, a2] = M[a, a2]
            ok = _eliminate(A, trace, x, b)
            acc = 0.0
            for a in range(n_s):
                y = 0.0
                for a2 in range(n_s):
                    y += M[a, a2] * x[a2]
                acc += weights[a] * y * y
            residual[p] = np.sqrt(acc) if ok else np.inf
            for a in range(d):
                for a2 in range(d):
                    rho[a, a2] = 0.0
            for a in range(sc_k.size):
                rho[sc_i[a], sc_j[a]] += sc_f[a] * x[sc_k[a]]
            for a in range(slot_res.size):
                slot_e[a] = 0.0
                slot_n[a] = 0.0
            for q in range(o_res.size):
                a = o_res[q]
                rq = r[o_e[q]]
                oe = rq * o_energy[q]
                on = rq * o_number[q]
                xq = rho[o_row[q], o_col[q]]
                energy[p, a] += (oe * xq).real
                number[p, a] += (on * xq).real
                slot_e[o_slot[q]] += oe
                slot_n[o_slot[q]] += on
            for a in range(n_res):
                for k in range(d):
                    rows_o[a, k] = 0.0
                    rows_n[a, k] = 0.0
            for sl in range(slot_res.size):
                a = slot_res[sl]
                o = slot_e[sl] - params[a, PARAM_MU] * slot_n[sl]
                rows_o[a, slot_k[sl]] += np.sqrt(o.real * o.real + o.imag * o.imag)
                rows_n[a, slot_k[sl]] += np.sqrt(slot_n[sl].real ** 2 + slot_n[sl].imag ** 2)
            for a in range(n_res):
                best_o = best_n = 0.0
                for k in range(d):
                    best_o = max(best_o, rows_o[a, k])
                    best_n = max(best_n, rows_n[a, k])
                norms[p, a] = best_o
                particle_norms[p, a] = best_n
            for k in range(d):
                decay[k] = 0.0
            for q in range(dk_e.size):
                decay[dk_k[q]] += r[dk_e[q]] * dk_w[q]
            h, source = _coherent_figures(Hc, E, work_tol)
            largest = 0.0
            for k in range(d):
                largest = max(largest, decay[k])
            scale[p] = h + largest
            decay_rate[p] = largest
            work[p] = source
            mechanical[p] = _mechanical_power(Hc, E, rho)
            _basis_out(V, rho, tmp, rho_out[p], identity_basis)
            positive[p] = positive_within(rho_out[p], state_tol, tmp)


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
    X,
    ch_res,
    ch_kind,
    ch_particles,
    res_params,
    tol,
    work_tol,
    state_tol,
    energy,
    number,
    residual,
    positive,
    rho_out,
    scale,
    norms,
    particle_norms,
    work,
    mechanical,
    decay_rate,
    amplitude_cutoff,
    spacing,
):
    """Steady states and currents of many global-flavour machines whose Hamiltonian changes (prange).

    Per point: the parameters values[p] shift Hamiltonians (targets[i] < 0, by coefficient
    matrices) or set column targets[i] (PARAM_T, PARAM_MU, PARAM_COUPLING) of the kernel parameter
    row res_params[target_res[i]] of a reservoir.  The dissipation Hamiltonian
    Hd = Hd0 + sum_i v_i Hd_coef[i] is diagonalised, each channel's coupling X[c] rotated into its
    eigenbasis and Davies rates evaluated; undriven machines are solved in the zero-frequency sector
    (populations and degenerate-block coherences), driven ones on the full d^2 space with the coherent
    part Hc = Hc0 + sum_i v_i Hc_coef[i] (rotating frame).  Outputs as `batched_ness_sector`.

    Channel c belongs to reservoir ch_res[c] and has rate function ch_kind[c] (RATE_*); reservoir
    rows of res_params hold the PARAM_* columns.
    """
    n_points, n_par = values.shape
    d = Hd0.shape[0]
    n_ch = X.shape[0]
    n_res = res_params.shape[0]
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
        E, V0 = np.linalg.eigh(Hd)
        V = np.ascontiguousarray(V0)
        starts = degenerate_blocks(E, tol)
        Vh = np.ascontiguousarray(V.conj().T)
        Xe = np.empty((n_ch, d, d), dtype=np.complex128)
        Re = np.empty((n_ch, d, d))
        decay = np.zeros(d)
        for c in range(n_ch):
            Xe[c] = Vh @ np.ascontiguousarray(X[c]) @ V
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
            add_decay_diagonal(Xe[c], Re[c], decay)
        Hce = Vh @ Hc @ V
        rho = np.zeros((d, d), dtype=np.complex128)
        if driven:
            n = d * d
            L = np.zeros((n, n), dtype=np.complex128)
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
        obs = np.zeros((n_res, d, d), dtype=np.complex128)
        Nn = np.zeros((n_res, d, d), dtype=np.complex128)
        for c in range(n_ch):
            e_c, jumps = davies_current(E, starts, Xe[c], Re[c], rho)
            a = ch_res[c]
            energy[p, a] += e_c
            number[p, a] += ch_particles[c] * jumps
            for b in range(starts.size - 1):
                for k in range(starts[b], starts[b + 1]):
                    for k2 in range(starts[b], starts[b + 1]):
                        oe, g = _observable_entry(E, Xe[c], Re[c], k, k2)
                        obs[a, k, k2] += oe - params[a, PARAM_MU] * ch_particles[c] * g
                        Nn[a, k, k2] += ch_particles[c] * g
        for a in range(n_res):
            norms[p, a] = _row_norm(obs[a], d)
            particle_norms[p, a] = _row_norm(Nn[a], d)
        h, source = _coherent_figures(Hce, E, work_tol)
        scale[p] = h + decay.max()
        decay_rate[p] = decay.max()
        spacing[p] = coupled_bohr_spacing(E, Xe, amplitude_cutoff, tol)
        work[p] = source
        mechanical[p] = _mechanical_power(Hce, E, rho)
        residual[p] = res if ok else np.inf
        tmp = np.empty((d, d), dtype=np.complex128)
        _basis_out(V, rho, tmp, rho_out[p], False)
        positive[p] = positive_within(rho_out[p], state_tol, tmp)


@njit
def add_decay_diagonal(X, R, out):
    """out[k] += sum_m R[m, k] |X[m, k]|^2: the total decay rate of eigenstate k in one Davies channel.

    This is the diagonal of Gamma = sum_w gamma(w) A(w)^dag A(w), read from the eigenbasis tables
    without forming the jump operators (or a d x d temporary).
    """
    d = X.shape[0]
    for m in range(d):
        for k in range(d):
            a = X[m, k]
            out[k] += R[m, k] * (a.real * a.real + a.imag * a.imag)


@njit
def coupled_bohr_spacing(E, X, amplitude_cutoff, tol):
    """Smallest spacing between distinct Bohr frequencies |E_k - E_m| that the couplings X reach.

    X[c] (eigenbasis, (n_ch, d, d)) reaches k -> m where |X[c, m, k]| > amplitude_cutoff *
    max(1, max |X[c]|); frequencies closer than 2 tol max(1, max |E|) count as one (+w and -w,
    degenerate levels); inf when there are fewer than two.
    """
    d = E.size
    scale = 1.0
    for k in range(d):
        scale = max(scale, abs(E[k]))
    w = np.empty(X.shape[0] * d * d)
    n = 0
    for c in range(X.shape[0]):
        largest = 1.0
        for m in range(d):
            for k in range(d):
                largest = max(largest, abs(X[c, m, k]))
        cut = amplitude_cutoff * largest
        for m in range(d):
            for k in range(d):
                if abs(X[c, m, k]) > cut:
                    w[n] = abs(E[k] - E[m])
                    n += 1
    w = np.sort(w[:n])
    best = np.inf
    for i in range(1, n):
        gap = w[i] - w[i - 1]
        if gap > 2.0 * tol * scale:
            best = min(best, gap)
    return best


#: Mode codes of `classify_points`, in the order of `engines.thermo.MODES`.
(
    MODE_ENGINE,
    MODE_REFRIGERATOR,
    MODE_HEAT_PUMP,
    MODE_ACCELERATOR,
    MODE_HEATER,
    MODE_HEAT_TRANSFORMER,
    MODE_TRANSPORT,
    MODE_EQUILIBRIUM,
    MODE_VIOLATION,
    MODE_UNDETERMINED,
) = range(10)


@njit(parallel=True)
def classify_points(P, J, T, delta, source, unknown, code, efficiency, cop, sigma, resolved_heat):
    """The mode rule of docs/physics.md, Section 6, point by point (prange over points).

    P (n,), J and T (n, n_res), delta (n,) the resolution, source (n,) whether the machine has a
    work source, unknown (n,) whether no resolution was known (then "equilibrium" is allowed with a
    work source).  Writes the mode code (MODE_*), efficiency and COP (NaN where undefined), the
    entropy production rate -sum_a J_a / T_a and the currents with zeros within delta.
    """
    n, n_res = J.shape
    for p in prange(n):
        d = delta[p]
        Pz = 0.0 if abs(P[p]) <= d else P[p]
        some_heat = False
        t_min, t_max = np.inf, -np.inf
        t_pos = np.inf
        for r in range(n_res):
            x = J[p, r]
            x = 0.0 if abs(x) <= d else x
            resolved_heat[p, r] = x
            some_heat = some_heat or x != 0.0
            t_min = min(t_min, T[p, r])
            t_max = max(t_max, T[p, r])
            if T[p, r] > 0:
                t_pos = min(t_pos, T[p, r])
        # entropy production rate, zero within delta / min T
        s = 0.0
        for r in range(n_res):
            x = resolved_heat[p, r]
            if T[p, r] > 0:
                s -= x / T[p, r]
            elif x != 0.0:
                s -= np.inf if x > 0 else -np.inf
        if abs(s) <= d / t_pos:
            s = 0.0
        sigma[p] = s + 0.0
        # temperature levels: totals (each level counted at its first reservoir), cut fluxes
        J_cold = J_hot = given = given_hotter = 0.0
        upward = False
        lift = 0.0
        for r in range(n_res):
            first = True
            for r2 in range(r):
                if T[p, r2] == T[p, r]:
                    first = False
            if first:
                G = 0.0
                for r2 in range(n_res):
                    if T[p, r2] == T[p, r]:
                        G += resolved_heat[p, r2]
                if abs(G) <= d:
                    G = 0.0
                if T[p, r] == t_min:
                    J_cold = G
                if T[p, r] == t_max:
                    J_hot = G
                if G > 0:
                    given += G
                    if T[p, r] > t_min:
                        given_hotter += G
            if T[p, r] < t_max:
                F = 0.0
                for r2 in range(n_res):
                    if T[p, r2] <= T[p, r]:
                        F += resolved_heat[p, r2]
                if F > d:
                    upward = True
                    lift = max(lift, F)
        c = MODE_UNDETERMINED
        eta = np.nan
        k = np.nan
        if Pz == 0.0 and not some_heat:
            if not source[p] or unknown[p]:
                c = MODE_EQUILIBRIUM
        elif source[p]:
            if Pz > 0 and given > 0:
                c = MODE_ENGINE
                eta = Pz / given
            elif Pz < 0 and some_heat:
                if J_cold > 0:
                    c = MODE_REFRIGERATOR
                    k = J_cold / -Pz
                elif upward:
                    c = MODE_HEAT_PUMP
                    k = -J_hot / -Pz
                elif given > 0:
                    c = MODE_ACCELERATOR
                else:
                    c = MODE_HEATER
        elif Pz == 0.0:
            if not upward:
                c = MODE_TRANSPORT
            elif sigma[p] < 0:
                c = MODE_VIOLATION
            elif J_cold > 0:
                c = MODE_REFRIGERATOR
                k = J_cold / given_hotter
            else:
                c = MODE_HEAT_TRANSFORMER
                eta = lift / given
        code[p] = c
        efficiency[p] = eta
        cop[p] = k
