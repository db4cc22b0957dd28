"""Hypothesis strategies that build machines, so that a failing law shrinks to the smallest machine.

Draws are physical parameters (level energies, coupling matrices, temperatures, rates), never integer
seeds: hypothesis shrinks them towards few levels, round numbers and weak couplings.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from engines import BosonicBath, Custom, Engine, Levels

#: Smallest spacing of drawn levels (relative to their range): keeps spectra non-degenerate.
MIN_GAP = 0.05

temperatures = st.floats(0.2, 10.0)
couplings = st.floats(1e-3, 0.2)


@st.composite
def level_energies(draw, min_levels=2, max_levels=5):
    """Sorted level energies in [0, 3] with gaps of at least `MIN_GAP` (a non-degenerate spectrum)."""
    n = draw(st.integers(min_levels, max_levels))
    gaps = draw(st.lists(st.floats(MIN_GAP, 1.0), min_size=n - 1, max_size=n - 1))
    return [0.0, *np.cumsum(gaps).tolist()]


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
    """A Hermitian coupling operator connecting every pair of adjacent levels (so each bath mixes all)."""
    h = draw(hermitian_matrices(d))
    for k in range(d - 1):
        if abs(h[k, k + 1]) < 0.1:
            h[k, k + 1] = h[k + 1, k] = 0.5
    return h


@st.composite
def global_machines(draw, min_baths=1, max_baths=3, min_levels=2, max_levels=4):
    """An undriven global-flavour machine: drawn levels, each bath with its own coupling operator."""
    E = draw(level_energies(min_levels, max_levels))
    d = len(E)
    n = draw(st.integers(min_baths, max_baths))
    baths = [
        BosonicBath(f"b{a}", draw(temperatures), draw(couplings), draw(connected_couplings(d)))
        for a in range(n)
    ]
    return Engine(Levels(E), baths)


@st.composite
def generic_machines(draw, min_baths=1, max_baths=3, d=3):
    """A machine with a generic (non-diagonal) Hamiltonian given as a `Custom` medium."""
    H = draw(hermitian_matrices(d, scale=2.0))
    spectrum = np.linalg.eigvalsh(H)
    if np.min(np.diff(spectrum)) < MIN_GAP:
        H = H + np.diag(np.arange(d) * MIN_GAP * 4)
    n = draw(st.integers(min_baths, max_baths))
    baths = [
        BosonicBath(f"b{a}", draw(temperatures), draw(couplings), draw(connected_couplings(d)))
        for a in range(n)
    ]
    return Engine(Custom(lambda: H), baths)
