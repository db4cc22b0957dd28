"""Hypothesis strategies that build machines, so that a failing law shrinks to the smallest machine.

Draws are physical parameters (level energies, coupling matrices, temperatures, rates), never integer
seeds: hypothesis shrinks them towards few levels, round numbers and weak couplings.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from engines import BosonicBath, ChannelReservoir, Custom, Engine, HarmonicOscillator, Qubit, SqueezedBath

#: Smallest spacing of drawn levels (relative to their range): keeps spectra non-degenerate.
MIN_GAP = 0.05

temperatures = st.floats(0.2, 10.0)
couplings = st.floats(1e-3, 0.2)


@st.composite
def hermitian_matrices(draw, d, scale=1.0):
    """A d x d Hermitian matrix with entries in [-scale, scale] (not all zero)."""
    re = draw(st.lists(st.floats(-scale, scale), min_size=d * d, max_size=d * d))
    im = draw(st.lists(st.floats(-scale, scale), min_size=d * d, max_size=d * d))
    z = np.array(re).reshape(d, d) + 1j * np.array(im).reshape(d, d)
    h = 0.5 * (z + z.conj().T)
    if not np.any(np.abs(h) > 1e-3):
        h[0, -1] = h[-1, 0] = scale
    return h


@st.composite
def connected_couplings(draw, d):
    """A Hermitian matrix whose neighbouring basis states are coupled (|X[k, k+1]| >= 0.1)."""
    h = draw(hermitian_matrices(d))
    for k in range(d - 1):
        if abs(h[k, k + 1]) < 0.1:
            h[k, k + 1] = h[k + 1, k] = 0.5
    return h


@st.composite
def generic_hamiltonians(draw, d, min_gap=MIN_GAP):
    """A generic (non-diagonal) Hermitian d x d Hamiltonian whose levels are at least `min_gap` apart."""
    H = draw(hermitian_matrices(d, scale=2.0))
    E, V = np.linalg.eigh(H)
    gaps = np.maximum(np.diff(E), min_gap)  # spread crowded levels, keep the eigenvectors
    E = E[0] + np.concatenate([[0.0], np.cumsum(gaps)])
    return (V * E) @ V.conj().T


@st.composite
def generic_machines(draw, min_baths=1, max_baths=3, min_dim=2, max_dim=4):
    """A machine with a generic Hamiltonian (a `Custom` medium), each bath with its own coupling."""
    d = draw(st.integers(min_dim, max_dim))
    H = draw(generic_hamiltonians(d))
    _, V = np.linalg.eigh(H)
    n = draw(st.integers(min_baths, max_baths))
    # couplings drawn in the eigenbasis, so that each bath connects all levels (a unique NESS)
    baths = [
        BosonicBath(
            f"b{a}", draw(temperatures), draw(couplings), V @ draw(connected_couplings(d)) @ V.conj().T
        )
        for a in range(n)
    ]
    return Engine(Custom(lambda: H), baths)


@st.composite
def density_matrices(draw, d, rank=None):
    """A density matrix of dimension d (full rank unless `rank`), from drawn amplitudes."""
    k = d if rank is None else rank
    re = draw(st.lists(st.floats(-1.0, 1.0), min_size=d * k, max_size=d * k))
    im = draw(st.lists(st.floats(-1.0, 1.0), min_size=d * k, max_size=d * k))
    z = np.array(re).reshape(d, k) + 1j * np.array(im).reshape(d, k)
    z += 0.1 * np.eye(d, k)  # never the zero matrix, and full rank when k = d
    rho = z @ z.conj().T
    return rho / np.trace(rho).real


@st.composite
def squeezed_machines(draw):
    """A qubit (sigma_x) or a small oscillator (x) with a squeezed bath and, maybe, a thermal one."""
    if draw(st.booleans()):
        medium, op = Qubit(omega=draw(st.floats(0.5, 3.0))), "sigma_x"
        T_max, r_max = 10.0, 1.5
    else:  # low T and weak squeezing keep the squeezed state's Fock tail inside n_max = 24
        medium, op = HarmonicOscillator(omega=draw(st.floats(0.5, 2.0)), n_max=24), "x"
        T_max, r_max = 0.4, 0.3
    baths = [
        SqueezedBath(
            "sq",
            draw(st.floats(0.0, T_max)),
            draw(st.floats(0.0, r_max)),
            draw(st.floats(-np.pi, np.pi)),
            draw(couplings),
            op,
        )
    ]
    if draw(st.booleans()):
        baths.append(BosonicBath("th", draw(st.floats(0.05, T_max)), draw(couplings), op))
    return Engine(medium, baths)


@st.composite
def channel_machines(draw, min_dim=2, max_dim=4):
    """A generic Hamiltonian with one or two channel reservoirs of drawn jump matrices and rates."""
    d = draw(st.integers(min_dim, max_dim))
    H = draw(generic_hamiltonians(d))
    n = draw(st.integers(1, 2))
    reservoirs = []
    for a in range(n):
        k = draw(st.integers(1, 3))
        jumps = [
            (draw(hermitian_matrices(d)) + 1j * draw(hermitian_matrices(d)), draw(couplings))
            for _ in range(k)
        ]
        reservoirs.append(ChannelReservoir(f"c{a}", jumps))
    # a thermal bath coupling all levels keeps the NESS unique whatever the drawn jumps
    _, V = np.linalg.eigh(H)
    reservoirs.append(
        BosonicBath("th", draw(temperatures), draw(couplings), V @ draw(connected_couplings(d)) @ V.conj().T)
    )
    return Engine(Custom(lambda: H), reservoirs)
