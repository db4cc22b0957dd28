"""The Bloch-Redfield flavour: the Born-Markov master equation without the secular approximation.

For H = sum_k E_k |k><k| and a bath coupled through a Hermitian A, with the one-sided transform
Gamma(w) of the bath correlation function (w > 0: energy the medium gives to the bath),

    D(rho) = Lam rho A + A rho Lam^dag - A Lam rho - rho Lam^dag A,     Lam_mk = Gamma(E_k - E_m) A_mk

in the eigenbasis (Breuer & Petruccione, *The Theory of Open Quantum Systems*, OUP 2002, 3.3.1).
Only the real part Gamma = gamma/2 is kept, gamma(w) the bath's rate function
(`engines.reservoirs.BosonicBath.rate`): the imaginary (Lamb-shift) part, a principal-value
integral over the whole spectral density, is dropped, as in QuTiP's `bloch_redfield_tensor`.
Secular terms reproduce the Davies dissipator exactly.

D is not of GKLS form.  It is written as a signed sum of GKLS terms so that the solvers and the
current routine treat it like the others:

    D = D[L+] - D[L-] - i[S, .],    L+- = (Lam +- A) / sqrt(2),    S = (A Lam - Lam^dag A) / (2i)

Heat is booked against H, J_a = Tr[H D_a(rho)] = Tr[D_a^dag(H) rho].  The steady state can fail to be
positive (Redfield is not completely positive); `engines.steady` then warns with
`engines.checks.ModelValidityWarning`, naming the most negative eigenvalue, instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from engines import davies, linalg
from engines.checks import WorkbenchError, fail
from engines.generators import Dissipator, Generator, eigenbasis_couplings, full_hamiltonian
from engines.reservoirs import BosonicBath

__all__ = ["RedfieldDissipator", "build"]


@dataclass(frozen=True, eq=False)
class RedfieldDissipator(Dissipator):
    """A Bloch-Redfield dissipator D = D[L+] - D[L-] - i[S, .] (see `engines.redfield`).

    `jumps` are (L+, L-), `signs` (+1, -1) and `shift` the Hermitian S.
    """

    shift: object = None

    @property
    def signs(self) -> tuple:
        """Weights (+1, -1) of the D[L+] and D[L-] terms."""
        return (1.0, -1.0)[: len(self.jumps)]

    @cached_property
    def decay(self) -> sp.csr_array:
        """sum_j s_j L_j^dag L_j = A Lam + Lam^dag A (its diagonal: the Davies decay rates)."""
        out = sp.csr_array((self.dim, self.dim), dtype=complex)
        for s, L in zip(self.signs, self.jumps):
            out = out + s * (L.conj().T @ L)
        return sp.csr_array(out)

    def apply(self, rho: np.ndarray) -> np.ndarray:
        """D(rho)."""
        S = self.shift
        out = -0.5 * (self.decay @ rho + (self.decay.T @ rho.T).T) - 1j * (S @ rho - (S.T @ rho.T).T)
        for s, L in zip(self.signs, self.jumps):
            out = out + s * (L @ (L @ rho.conj().T).conj().T)
        return np.asarray(out)

    def adjoint_apply(self, X) -> sp.csr_array:
        """D^dag(X) = sum_j s_j (L^dag X L - {L^dag L, X}/2) + i[S, X]."""
        X = sp.csr_array(X)
        S = self.shift
        out = -0.5 * (self.decay @ X + X @ self.decay) + 1j * (S @ X - X @ S)
        for s, L in zip(self.signs, self.jumps):
            out = out + s * (L.conj().T @ X @ L)
        return sp.csr_array(out)

    def superoperator(self, dense: bool = False):
        """D as a sparse (or dense) (d*d, d*d) matrix."""
        out = linalg.commutator(self.shift, dense)
        for s, L in zip(self.signs, self.jumps):
            out = out + s * linalg.dissipator([L], self.dim, dense)
        return out if dense else sp.csr_array(out)


def build(medium, reservoirs, drive, controls, tol):
    """The Redfield generator of `medium` and its bosonic `reservoirs`, in the medium's basis.

    The dissipators are built in the eigenbasis of H (of the bare H when driven, as for the global
    flavour) with each bath's rate function at the Bohr frequencies, and moved back to the medium's
    basis; the coherent part is H (the rotating-frame H when driven).
    """
    for r in reservoirs:
        if not isinstance(r, BosonicBath):
            fail(
                "Engine",
                "reservoirs",
                f"{type(r).__name__} {r.name!r}",
                "bosonic baths only for the redfield flavour (use 'global' or 'local' for leads)",
            )
    H = full_hamiltonian(medium, controls, drive)
    H_dense = linalg.to_dense(H)
    spec = davies.spectrum(H, tol)
    V = spec.basis
    d = spec.dim
    dissipators = []
    for r, Xe in zip(reservoirs, eigenbasis_couplings(medium, reservoirs, spec)):
        R = spec.rate_table(r.rate)
        if not np.all(np.isfinite(R)):
            bad = spec.frequencies[~np.isfinite(np.asarray(r.rate(spec.frequencies), dtype=float))]
            raise WorkbenchError(
                f"BosonicBath {r.name!r}: `spectrum` must give finite rates at every Bohr frequency for "
                f"the redfield flavour, got a non-finite rate at w = {float(bad[0]):.6g}."
            )
        lam_e = 0.5 * R * Xe
        lam = V @ lam_e @ V.conj().T
        A = V @ Xe @ V.conj().T
        plus = sp.csr_array((lam + A) / np.sqrt(2.0))
        minus = sp.csr_array((lam - A) / np.sqrt(2.0))
        K = A @ lam
        S = sp.csr_array((K - K.conj().T) / 2j)
        jumps = [plus, minus]
        dissipators.append(RedfieldDissipator(r, d, lambda jumps=jumps: (jumps, [0, 0]), shift=S))
    coherent = drive.rotating_hamiltonian(H_dense) if drive is not None else H
    return Generator(coherent, H, tuple(dissipators), "redfield", "full", None, None, drive is not None)
