"""Which master equation fits a machine: the regime numbers and the solve-time warning.

The Davies (global) construction averages away the terms between Bohr frequencies w != w'; that needs
|w - w'| >> gamma for every pair of coupled transitions, gamma the bath's relaxation rate (Breuer &
Petruccione, *The Theory of Open Quantum Systems*, OUP 2002, 3.3.1).  The local construction neglects
the internal couplings g in the dissipators; that needs g small against the bath rates (Hofer et
al., NJP 19, 123037 (2017); Gonzalez et al., Open Syst. Inf. Dyn. 24, 1740010 (2017)).
The unified (partial-secular) construction keeps the terms between frequencies closer than the rates
and is valid in both limits (Trushechkin, PRA 103, 062226 (2021); Potts, Kalaee, Wacker, NJP 23,
123013 (2021)).

The numbers (docs/physics.md, Section 3, "Validity"):

- ``rate``: the largest total decay rate of an eigenstate of H, max_k Gamma_kk of the global Davies
  dissipators (Gamma = sum_a sum_w gamma_a(w) A_a(w)^dag A_a(w));
- ``bohr_spacing``: the smallest distance between two distinct Bohr frequencies |w| of H that a
  reservoir couples (|<m|A_a|k>| above the jump cutoff), inf when there are fewer than two;
- ``internal_coupling``: the largest matrix element of H - H_0, H_0 = sum_s h_s (0 for one site).

- ``local_rate``: the same for the local dissipators (each reservoir on its site's Hamiltonian).

Global is out of its regime when rate > 10 bohr_spacing, local when internal_coupling > 10 local_rate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from engines import _kernels, davies, linalg
from engines.checks import ModelValidityWarning, fail
from engines.generators import coupling_operator, eigenbasis_couplings, full_hamiltonian, largest_decay_rate

__all__ = ["FACTOR", "Validity", "validity", "warn_if_out_of_regime"]

#: How far outside its regime a flavour may be before a solve warns.
FACTOR = 10.0


@dataclass(frozen=True)
class Validity:
    """The regime of a machine and the master-equation flavour that fits it.

    Attributes
    ----------
    flavour : str
        The engine's flavour.
    rate : float
        Largest total decay rate of an eigenstate of H (global Davies dissipators).
    local_rate : float
        Largest total decay rate of the local dissipators (site Hamiltonians), summed over the
        reservoirs (the rate set against the internal couplings); NaN when a reservoir's operator
        acts on several sites (no local dissipator exists, and `local_valid` is False).
    bohr_spacing : float
        Smallest spacing between distinct coupled Bohr frequencies of H (inf if fewer than two).
    internal_coupling : float
        Largest matrix element of H - sum_s h_s.
    global_valid, local_valid : bool
        rate <= 10 bohr_spacing; internal_coupling <= 10 rate.
    recommended : str
        "global" where it is valid, else "local" where that is valid, else "unified".
    """

    flavour: str
    rate: float
    local_rate: float
    bohr_spacing: float
    internal_coupling: float
    global_valid: bool
    local_valid: bool
    recommended: str

    @property
    def valid(self) -> bool:
        """Whether the engine's own flavour is inside its regime ("unified"/"redfield": always)."""
        return {"global": self.global_valid, "local": self.local_valid}.get(self.flavour, True)

    def message(self) -> str:
        """One sentence naming the regime and the flavour that fits."""
        if self.flavour == "global":
            what = (
                f"bath rates up to {self.rate:.3g} exceed {FACTOR:g} times the smallest Bohr-frequency "
                f"spacing {self.bohr_spacing:.3g} the secular (global) master equation must resolve"
            )
        else:
            what = (
                f"internal couplings up to {self.internal_coupling:.3g} exceed {FACTOR:g} times the bath "
                f"rates {self.local_rate:.3g}, and the local master equation neglects them in the dissipators"
            )
        return (
            f"flavour {self.flavour!r} is used outside its regime: {what}; use flavour {self.recommended!r}."
        )


def validity(engine) -> Validity:
    """The regime numbers of `engine` (an `engines.Engine`) and the flavour that fits.

    For a global (or unified) engine the numbers come from its own eigenbasis tables; otherwise H is
    diagonalised once here.

    Raises
    ------
    WorkbenchError
        For a machine with a non-thermal reservoir (squeezed or channel): the regime rule compares
        thermal Davies rates, which such a reservoir does not have.
    """
    nonthermal = [r.name for r in engine.reservoirs if not r.thermal]
    if nonthermal:
        fail(
            "validity",
            "engine",
            f"a machine with the non-thermal reservoirs {nonthermal}",
            "a machine of thermal reservoirs (the regime of an engineered or squeezed bath is not assessed)",
        )
    gen = engine.generator
    tables = gen.davies if gen.flavour == "global" else None
    if tables is None:
        H = full_hamiltonian(engine.medium, dict(engine.controls), engine.drive)
        spec = davies.spectrum(H, engine.options.degeneracy_tol)
        tables = davies.DaviesTables.build(
            spec, engine.reservoirs, eigenbasis_couplings(engine.medium, engine.reservoirs, spec)
        )
    rate = largest_decay_rate(tables)
    spacing = _bohr_spacing(tables, engine.options.degeneracy_tol)
    coupling = _internal_coupling(engine)
    if not all(_acts_on_one_site(engine.medium, r) for r in engine.reservoirs):
        local_rate = math.nan  # a reservoir coupled to several sites at once has no local dissipator
    else:
        local_rate = _local_rate(engine) if coupling > 0 else rate
    global_valid = rate <= FACTOR * spacing
    local_valid = coupling <= FACTOR * local_rate  # False for NaN: the local flavour does not apply
    recommended = "global" if global_valid else "local" if local_valid else "unified"
    return Validity(gen.flavour, rate, local_rate, spacing, coupling, global_valid, local_valid, recommended)


def warn_if_out_of_regime(engine, stacklevel: int = 3) -> None:
    """Warn with `ModelValidityWarning` when `engine`'s global or local flavour is far outside its regime."""
    if engine.flavour not in ("global", "local") or not all(r.thermal for r in engine.reservoirs):
        return
    v = validity(engine)
    if not v.valid:
        warnings.warn(v.message(), ModelValidityWarning, stacklevel=stacklevel)


def _bohr_spacing(tables, tol: float) -> float:
    """Smallest spacing between distinct Bohr frequencies |w| of coupled transitions."""
    if not tables.channels:
        return math.inf
    # every channel of a reservoir couples through the operator or its adjoint: the first one decides
    X = np.ascontiguousarray(np.array([channels[0].X for channels in tables.channels], dtype=complex))
    return float(_kernels.coupled_bohr_spacing(tables.spectrum.energies, X, davies.AMPLITUDE_CUTOFF, tol))


def _acts_on_one_site(medium, reservoir) -> bool:
    """Whether the reservoir's operator lives on one site (a name, or a matrix of its site's size)."""
    dims = medium.site_dims
    if len(dims) == 1 or isinstance(reservoir.operator, str):
        return True
    return reservoir.site is not None and reservoir.operator.shape[0] == dims[reservoir.site] != medium.dim


def _local_rate(engine) -> float:
    """Largest total decay rate of the local dissipators (sum over reservoirs of max_k Gamma_kk on a site)."""
    medium, total = engine.medium, 0.0
    controls = dict(engine.controls)
    for r in engine.reservoirs:
        x, site = coupling_operator(medium, r, local=len(medium.site_dims) > 1)
        if len(medium.site_dims) > 1:
            h = np.asarray(medium.local_hamiltonian(site, **controls), dtype=complex)
        else:
            h = linalg.to_dense(full_hamiltonian(medium, controls))
        spec = davies.spectrum(h, engine.options.degeneracy_tol)
        xe = spec.basis.conj().T @ x @ spec.basis
        decay = np.zeros(spec.dim)
        for ch in r.channels():
            X = np.ascontiguousarray(xe.conj().T if ch.adjoint else xe)
            _kernels.add_decay_diagonal(X, spec.rate_table(ch.rate), decay)
        total += float(decay.max(initial=0.0))
    return total


def _internal_coupling(engine) -> float:
    """Largest |entry| of one interaction term of H - sum_s h_s (0 for a single-site medium).

    Term by term (`Medium.interaction_terms`): the scale a site's local dissipator neglects is the
    coupling to its neighbours, not the sum of every bond's diagonal (Ising-like) energies, which grows
    with the length of a chain.
    """
    terms = engine.medium.interaction_terms(**dict(engine.controls))
    return max((float(np.max(np.abs(V.data), initial=0.0)) for _, V in terms), default=0.0)
