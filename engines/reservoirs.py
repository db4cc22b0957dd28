"""Thermal reservoirs and their rate functions.

Conventions (../shared/PHYSICS.md): a Bohr frequency ``w > 0`` is energy the medium *gives* to the
reservoir in one jump.  A bosonic bath with spectral density ``J(w)`` has

    gamma(w)  = J(w) (1 + n(w)),      gamma(-w) = J(w) n(w),      n(w) = 1 / (exp(w/T) - 1),

so detailed balance ``gamma(-w) = exp(-w/T) gamma(w)`` holds by construction.  A fermionic lead with
tunnelling rate ``Gamma`` removes a particle of energy ``w`` at rate ``Gamma (1 - f(w))`` and adds one at
rate ``Gamma f(w)``, ``f(w) = 1 / (exp((w - mu)/T) + 1)``.

References: H.-P. Breuer and F. Petruccione, *The Theory of Open Quantum Systems* (OUP, 2002), ch. 3;
E. B. Davies, Commun. Math. Phys. 39, 91 (1974).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from engines._checks import UserCodeError, choice, fail, integer, name, real

__all__ = ["BosonicBath", "FermionicLead", "Reservoir"]

SPECTRA = ("flat", "ohmic")


def bose(omega, T):
    """Bose occupation n(w) = 1/(exp(w/T) - 1) for w > 0 (0 at T = 0)."""
    omega = np.asarray(omega, dtype=float)
    if T == 0.0:
        return np.zeros_like(omega)
    with np.errstate(over="ignore"):
        return 1.0 / np.expm1(omega / T)


def fermi(omega, T, mu):
    """Fermi occupation f(w) = 1/(exp((w - mu)/T) + 1); a step (1/2 at w = mu) at T = 0.

    Evaluated as a logistic function so that both tails keep full relative precision
    (1 - f(w) is ``fermi`` at the mirrored argument, never a subtraction).
    """
    x = np.asarray(omega, dtype=float) - mu
    if T == 0.0:
        return np.where(x < 0, 1.0, np.where(x > 0, 0.0, 0.5))
    return expit(-x / T)


@dataclass(frozen=True)
class _Channel:
    """One Davies channel of a reservoir: sum_w rate(w) D[X(w)] with X = operator or its adjoint.

    `particles` is the change of the medium's particle number in one jump of this channel.
    """

    adjoint: bool
    rate: Callable[[np.ndarray], np.ndarray]
    particles: int


class Reservoir:
    """Base class: a named reservoir attached to the medium through `operator` (on `site`)."""

    thermal = True
    mu = 0.0

    def __init__(self, name_, T, coupling, operator, site):
        owner = type(self).__name__
        self.name = name(owner, "name", name_)
        owner = f"{owner} {self.name!r}"
        self.T = real(owner, "T", T, minimum=0.0)
        self.coupling = real(owner, "coupling", coupling, minimum=0.0)
        if not isinstance(operator, str):
            operator = np.asarray(operator)
        self.operator = operator
        self.site = None if site is None else integer(owner, "site", site, minimum=0)

    @property
    def beta(self) -> float:
        """Inverse temperature 1/T (inf at T = 0)."""
        return math.inf if self.T == 0.0 else 1.0 / self.T

    def _owner(self) -> str:
        return f"{type(self).__name__} {self.name!r}"

    def channels(self) -> tuple[_Channel, ...]:
        raise NotImplementedError


class BosonicBath(Reservoir):
    """A thermal bosonic bath coupled through a Hermitian system operator A.

    Parameters
    ----------
    name : str
        Label used in results (heat currents are keyed by it).
    T : float
        Temperature, >= 0.
    coupling : float
        Strength kappa of the spectral density J(w), >= 0.
    operator : str or ndarray (d, d)
        System part of the coupling: a name of the medium's operators (with `site` for
        multi-site media) or a matrix.  A non-Hermitian X is taken as X + X^dag.
    spectrum : {"flat", "ohmic"} or callable
        ``"flat"``: J = kappa; ``"ohmic"``: J = kappa (w/w0) exp(-w/cutoff); a callable
        ``J(w)`` (w > 0, vectorised) returns kappa-scaled values itself (kappa multiplies it).
    cutoff : float
        Ohmic cutoff frequency (default inf: no cutoff).
    w0 : float
        Ohmic reference frequency (default 1).
    dephasing : float
        Zero-frequency rate for flat and user spectra (default 0). For the ohmic spectrum the
        zero-frequency rate is the limit kappa T / w0 and this must stay 0.
    site : int, optional
        Site of a multi-site medium the operator acts on (needed by the local flavour).

    Notes
    -----
    gamma(w) = J(w)(1 + n(w)) for w > 0, gamma(-w) = J(w) n(w), gamma(0) = lim J(w) n(w).
    Detailed balance gamma(-w)/gamma(w) = exp(-w/T) holds exactly (Breuer & Petruccione 2002, 3.3).
    """

    def __init__(
        self,
        name,
        T,
        coupling,
        operator,
        spectrum="flat",
        *,
        cutoff=math.inf,
        w0=1.0,
        dephasing=0.0,
        site=None,
    ):
        super().__init__(name, T, coupling, operator, site)
        owner = self._owner()
        if callable(spectrum):
            self.spectrum = spectrum
        else:
            self.spectrum = choice(owner, "spectrum", spectrum, (*SPECTRA, "<callable J(w)>"))
        self.cutoff = real(owner, "cutoff", cutoff, minimum=0.0, strict=True, allow_inf=True)
        self.w0 = real(owner, "w0", w0, minimum=0.0, strict=True)
        self.dephasing = real(owner, "dephasing", dephasing, minimum=0.0)
        if self.spectrum == "ohmic" and self.dephasing:
            fail(
                owner,
                "dephasing",
                dephasing,
                "0 for the ohmic spectrum (its zero-frequency rate is kappa T / w0)",
            )

    def __repr__(self):
        spec = getattr(self.spectrum, "__name__", "callable") if callable(self.spectrum) else self.spectrum
        return f"BosonicBath({self.name!r}, T={self.T}, coupling={self.coupling}, spectrum={spec!r})"

    def spectral_density(self, omega) -> np.ndarray:
        """J(w) for w > 0 (vectorised)."""
        w = np.asarray(omega, dtype=float)
        if callable(self.spectrum):
            try:
                values = np.asarray(self.spectrum(w), dtype=float)
            except Exception as exc:
                raise UserCodeError(
                    f"{self._owner()}: the spectrum callable failed at w = {w!r}: {exc}"
                ) from exc
            if values.shape != w.shape or not np.all(np.isfinite(values)) or np.any(values < 0):
                raise UserCodeError(
                    f"{self._owner()}: the spectrum callable must return finite values >= 0 of shape "
                    f"{w.shape}, got {values!r}."
                )
            return self.coupling * values
        if self.spectrum == "flat":
            return np.full_like(w, self.coupling)
        with np.errstate(over="ignore"):
            return self.coupling * (w / self.w0) * np.exp(-w / self.cutoff)

    def rate(self, omega) -> np.ndarray:
        """gamma(w): rate of jumps giving energy w to the bath (w < 0 takes energy from it)."""
        w = np.atleast_1d(np.asarray(omega, dtype=float))
        out = np.zeros_like(w)
        pos, neg = w > 0, w < 0
        if pos.any():
            x = w[pos]
            occ_plus_one = 1.0 if self.T == 0.0 else -1.0 / np.expm1(-x / self.T)
            out[pos] = self.spectral_density(x) * occ_plus_one
        if neg.any():
            x = -w[neg]
            out[neg] = self.spectral_density(x) * bose(x, self.T)
        if (~pos & ~neg).any():
            out[~pos & ~neg] = self.zero_frequency_rate
        return out.reshape(np.shape(omega))

    @property
    def zero_frequency_rate(self) -> float:
        """gamma(0): kappa T / w0 for the ohmic spectrum, `dephasing` otherwise."""
        if self.spectrum == "ohmic":
            return self.coupling * self.T / self.w0
        return self.dephasing

    def channels(self):
        return (_Channel(adjoint=False, rate=self.rate, particles=0),)


class FermionicLead(Reservoir):
    """A fermionic lead exchanging particles with the medium through the annihilator `operator`.

    Parameters
    ----------
    name, T, coupling, operator, site
        As for `BosonicBath`; `operator` is the annihilation operator c of the mode the lead
        tunnels into, `coupling` the tunnelling rate Gamma (wide band: energy independent).
    mu : float
        Chemical potential.

    Notes
    -----
    Removing a particle of energy w happens at rate Gamma (1 - f(w)), adding one at Gamma f(w);
    f(w)/(1 - f(w)) = exp(-(w - mu)/T) (local detailed balance). Heat current J = J^E - mu I
    (Breuer & Petruccione 2002; Esposito, Lindenberg, Van den Broeck, EPL 85, 60010 (2009)).
    """

    def __init__(self, name, T, mu, coupling, operator, *, site=None):
        super().__init__(name, T, coupling, operator, site)
        self.mu = real(self._owner(), "mu", mu)

    def __repr__(self):
        return f"FermionicLead({self.name!r}, T={self.T}, mu={self.mu}, coupling={self.coupling})"

    def rate_out(self, omega) -> np.ndarray:
        """Rate Gamma (1 - f(w)) of removing a particle of energy w from the medium."""
        return self.coupling * fermi(2 * self.mu - np.asarray(omega, dtype=float), self.T, self.mu)

    def rate_in(self, omega) -> np.ndarray:
        """Rate Gamma f(w) of adding a particle of energy w to the medium."""
        return self.coupling * fermi(omega, self.T, self.mu)

    rate = rate_out

    def channels(self):
        # c(w) removes a particle of energy w; c^dag(w) removes energy w while adding a particle of
        # energy -w, which the lead supplies at rate Gamma f(-w).
        return (
            _Channel(adjoint=False, rate=self.rate_out, particles=-1),
            _Channel(adjoint=True, rate=lambda w: self.rate_in(-np.asarray(w, dtype=float)), particles=+1),
        )
