"""Superoperators in the column-stacking convention, written down once.

vec(rho) stacks columns: element (i, j) of a d x d matrix sits at index i + d j, and

    vec(A rho B) = (B^T kron A) vec(rho).

So -i[H, rho] -> -i (I kron H - H^T kron I) and D[L] rho -> conj(L) kron L - (I kron L^dag L +
(L^dag L)^T kron I) / 2.  Functions take dense or scipy.sparse operators and return scipy.sparse CSR
matrices (or dense arrays for dense input when ``dense=True``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["commutator", "dissipator", "liouvillian", "unvec", "vec"]


def vec(rho: np.ndarray) -> np.ndarray:
    """Column-stack a (d, d) matrix into a (d*d,) vector."""
    return np.asarray(rho).reshape(-1, order="F")


def unvec(v: np.ndarray, d: int | None = None) -> np.ndarray:
    """Inverse of `vec`: a (d*d,) vector back into a (d, d) matrix."""
    v = np.asarray(v)
    d = round(np.sqrt(v.size)) if d is None else d
    return v.reshape((d, d), order="F")


def _kron(a, b):
    return sp.kron(a, b, format="csr")


def commutator(H) -> sp.csr_matrix:
    """Superoperator of rho -> -i [H, rho]."""
    H = sp.csr_matrix(H)
    eye = sp.identity(H.shape[0], dtype=complex, format="csr")
    return (-1j) * (_kron(eye, H) - _kron(H.T, eye))


def dissipator(jumps) -> sp.csr_matrix:
    """Superoperator of rho -> sum_j (L_j rho L_j^dag - {L_j^dag L_j, rho}/2)."""
    jumps = [sp.csr_matrix(L) for L in jumps]
    d = jumps[0].shape[0]
    eye = sp.identity(d, dtype=complex, format="csr")
    gamma = sp.csr_matrix((d, d), dtype=complex)
    out = sp.csr_matrix((d * d, d * d), dtype=complex)
    for L in jumps:
        out = out + _kron(L.conj(), L)
        gamma = gamma + L.conj().T @ L
    return (out - 0.5 * (_kron(eye, gamma) + _kron(gamma.T, eye))).tocsr()


def liouvillian(H, jumps=()) -> sp.csr_matrix:
    """Superoperator of the GKSL generator L rho = -i[H, rho] + sum_j D[L_j] rho."""
    out = commutator(H)
    jumps = list(jumps)
    if jumps:
        out = out + dissipator(jumps)
    return out.tocsr()
