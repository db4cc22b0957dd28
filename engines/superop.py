"""Superoperators in the column-stacking convention, written down once.

vec(rho) stacks columns: element (i, j) of a d x d matrix sits at index i + d j, and

    vec(A rho B) = (B^T kron A) vec(rho).

So -i[H, rho] -> -i (I kron H - H^T kron I) and D[L] rho -> conj(L) kron L - (I kron L^dag L +
(L^dag L)^T kron I) / 2.  Functions take dense or scipy.sparse operators and return scipy.sparse CSR
matrices, or dense arrays with ``dense=True`` (faster for small d).
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


def _kron(a, b, dense):
    if dense:
        return np.kron(_array(a), _array(b))
    return sp.kron(a, b, format="csr")


def _array(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def commutator(H, dense: bool = False):
    """Superoperator of rho -> -i [H, rho] (sparse CSR, or a dense array with ``dense=True``)."""
    H = _array(H) if dense else sp.csr_matrix(H)
    eye = np.eye(H.shape[0]) if dense else sp.identity(H.shape[0], dtype=complex, format="csr")
    return (-1j) * (_kron(eye, H, dense) - _kron(H.T, eye, dense))


def dissipator(jumps, dense: bool = False):
    """Superoperator of rho -> sum_j (L_j rho L_j^dag - {L_j^dag L_j, rho}/2)."""
    jumps = [_array(L) if dense else sp.csr_matrix(L) for L in jumps]
    d = jumps[0].shape[0]
    eye = np.eye(d) if dense else sp.identity(d, dtype=complex, format="csr")
    gamma = np.zeros((d, d), dtype=complex) if dense else sp.csr_matrix((d, d), dtype=complex)
    out = 0
    for L in jumps:
        out = out + _kron(L.conj(), L, dense)
        gamma = gamma + L.conj().T @ L
    out = out - 0.5 * (_kron(eye, gamma, dense) + _kron(gamma.T, eye, dense))
    return out if dense else out.tocsr()


def liouvillian(H, jumps=(), dense: bool = False):
    """Superoperator of the GKSL generator L rho = -i[H, rho] + sum_j D[L_j] rho."""
    out = commutator(H, dense)
    jumps = list(jumps)
    if jumps:
        out = out + dissipator(jumps, dense)
    return out if dense else out.tocsr()
