"""Thermal reservoirs and their rate functions.

Conventions (docs/physics.md): a Bohr frequency ``w > 0`` is energy the medium *gives* to the
reservoir in one jump.  A bosonic bath with spectral density ``J(w)`` has

    gamma(w)  = J(w) (1 + n(w)),      gamma(-w) = J(w) n(w),      n(w) = 1 / (exp(w/T) - 1),

so detailed balance ``gamma(-w) = exp(-w/T) gamma(w)`` holds by construction.  A fermionic lead with
tunnelling rate ``Gamma`` removes a particle of energy ``w`` at rate ``Gamma (1 - f(w))`` and adds one at
rate ``Gamma f(w)``, ``f(w) = 1 / (exp((w - mu)/T) + 1)``.

A reservoir is an immutable value (`engines.values.Value`): ``bath.replace(T=2.0)`` returns a changed
copy built and checked by the constructor; assigning ``bath.T = 2.0`` raises.

References: H.-P. Breuer and F. Petruccione, *The Theory of Open Quantum Systems* (OUP, 2002), ch. 3;
E. B. Davies, Commun. Math. Phys. 39, 91 (1974).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from engines import _kernels
from engines.checks import UserCodeError, choice, fail, integer, name, read_only, real
from engines.values import Value

__all__ = ["BosonicBath", "ChannelReservoir", "FermionicLead", "Reservoir", "SqueezedBath"]

SPECTRA = ("flat", "ohmic")
_check_name = name


@dataclass(frozen=True)
class _Channel:
    """One Davies channel of a reservoir: sum_w rate(w) D[X(w)] with X = operator or its adjoint.

    `particles` is the change of the medium's particle number in one jump of this channel; `kernel`
    the rate function's code for the numba kernels (`_kernels.RATE_*`), None when the rate cannot be
    evaluated inside a kernel (a user-supplied spectral density).
    """

    adjoint: bool
    rate: Callable[[np.ndarray], np.ndarray]
    particles: int
    kernel: int | None


def _operator_matrix(owner: str, operator) -> np.ndarray:
    """A read-only copy of a matrix coupling operator (its shape is checked against the medium later)."""
    if sp.issparse(operator):
        operator = operator.toarray()
    elif callable(getattr(operator, "full", None)):  # a qutip.Qobj
        operator = operator.full()
    try:
        m = np.asarray(operator, dtype=np.complex128)
    except (TypeError, ValueError):
        fail(owner, "operator", type(operator).__name__, "an operator name or a square numeric matrix")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        fail(owner, "operator", f"an array of shape {m.shape}", "an operator name or a square matrix")
    if not np.all(np.isfinite(m)):
        fail(owner, "operator", "a matrix with NaN or inf entries", "finite")
    return read_only(m)


def _kernel_rates(kind, params, omega) -> np.ndarray:
    """`_kernels.rate` of code `kind` with parameter row `params` at every entry of `omega`."""
    w = np.ascontiguousarray(omega, dtype=float)
    out = np.empty_like(w)
    _kernels.rates_from_table(kind, *params, w, out)
    return out.reshape(np.shape(omega))


class Reservoir(Value):
    """Base class: a named reservoir attached to the medium through `operator` (on `site`).

    Immutable: attributes cannot be reassigned after construction (`replace` makes a changed copy),
    and a matrix `operator` is held as a read-only copy.
    """

    #: Whether the reservoir is a Gibbs bath (a temperature describes it); False for engineered ones.
    thermal = True
    mu = 0.0

    def __init__(self, name_, T, coupling, operator, site):
        owner = type(self).__name__
        self.name = name(owner, "name", name_)
        owner = f"{owner} {self.name!r}"
        self.T = real(owner, "T", T, minimum=0.0)
        self.coupling = real(owner, "coupling", coupling, minimum=0.0)
        if not isinstance(operator, str):
            operator = _operator_matrix(owner, operator)
        self.operator = operator
        self.site = None if site is None else integer(owner, "site", site, minimum=0)

    def replace(self, **changes) -> Reservoir:
        """A copy with constructor arguments `changes` applied (``bath.replace(T=2.0)``), checked anew."""
        return super().replace(**changes)

    def _replace_owner(self) -> str:
        return f"{self._owner()}.replace"

    @property
    def beta(self) -> float:
        """Inverse temperature 1/T (inf at T = 0)."""
        return math.inf if self.T == 0.0 else 1.0 / self.T

    def _owner(self) -> str:
        return f"{type(self).__name__} {self.name!r}"

    def channels(self) -> tuple[_Channel, ...]:
        """The reservoir's Davies channels (bosonic baths have one, fermionic leads two)."""
        raise NotImplementedError  # pragma: no cover - abstract

    #: Fields a sweep may set inside the kernels, and their columns in `kernel_parameters`.
    KERNEL_FIELDS: ClassVar[dict] = {
        "T": _kernels.PARAM_T,
        "mu": _kernels.PARAM_MU,
        "coupling": _kernels.PARAM_COUPLING,
    }

    def kernel_parameters(self) -> np.ndarray:
        """The reservoir's row of kernel parameters (columns `_kernels.PARAM_*`)."""
        row = np.zeros(_kernels.N_PARAMS)
        row[_kernels.PARAM_T] = self.T
        row[_kernels.PARAM_MU] = self.mu
        row[_kernels.PARAM_COUPLING] = self.coupling
        row[_kernels.PARAM_CUTOFF] = math.inf
        row[_kernels.PARAM_W0] = 1.0
        return row


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

    def _arguments(self):
        return {
            "name": self.name,
            "T": self.T,
            "coupling": self.coupling,
            "operator": self.operator,
            "spectrum": self.spectrum,
            "cutoff": self.cutoff,
            "w0": self.w0,
            "dephasing": self.dephasing,
            "site": self.site,
        }

    def __repr__(self):
        spec = getattr(self.spectrum, "__name__", "callable") if callable(self.spectrum) else self.spectrum
        return f"BosonicBath({self.name!r}, T={self.T}, coupling={self.coupling}, spectrum={spec!r})"

    def spectral_density(self, omega) -> np.ndarray:
        """J(w) for w > 0 (vectorised)."""
        w = np.asarray(omega, dtype=float)
        if callable(self.spectrum):
            fn = getattr(self.spectrum, "__qualname__", repr(self.spectrum))
            at = np.array2string(w, threshold=6, precision=4)
            try:
                out = self.spectrum(w)
            except Exception as exc:
                raise UserCodeError(
                    f"{self._owner()}: the `spectrum` callable {fn!r} raised {type(exc).__name__}: {exc} "
                    f"(at w = {at})."
                ) from exc
            try:
                values = np.asarray(out, dtype=float)
            except (TypeError, ValueError):
                values = None
            if (
                values is None
                or values.shape != w.shape
                or not np.all(np.isfinite(values))
                or np.any(values < 0)
            ):
                got = np.array2string(values, threshold=6) if values is not None else repr(out)
                raise UserCodeError(
                    f"{self._owner()}: the `spectrum` callable {fn!r} must return finite values >= 0 of "
                    f"shape {w.shape} (one per frequency), got {got} at w = {at}."
                )
            with np.errstate(over="ignore"):  # an overflow to inf is refused, by name, where rates are used
                return self.coupling * values
        if self.spectrum == "flat":
            return np.full_like(w, self.coupling)
        with np.errstate(over="ignore"):
            return self.coupling * (w / self.w0) * np.exp(-w / self.cutoff)

    def rate(self, omega) -> np.ndarray:
        """gamma(w): rate of jumps giving energy w to the bath (w < 0 takes energy from it)."""
        w = np.atleast_1d(np.asarray(omega, dtype=float))
        kind = self._kernel_code()
        if kind is not None:
            out = _kernel_rates(kind, self.kernel_parameters(), w)
        else:
            flat = w.ravel()
            J = np.zeros_like(flat)
            nonzero = flat != 0
            J[nonzero] = self.spectral_density(np.abs(flat[nonzero]))
            out = np.empty_like(flat)
            _kernels.bosonic_rates(J, self.T, self.zero_frequency_rate, flat, out)
        return out.reshape(np.shape(omega))

    @property
    def zero_frequency_rate(self) -> float:
        """gamma(0): kappa T / w0 for the ohmic spectrum, `dephasing` otherwise."""
        if self.spectrum == "ohmic":
            return self.coupling * self.T / self.w0
        return self.dephasing

    def _kernel_code(self) -> int | None:
        if callable(self.spectrum):
            return None
        return _kernels.RATE_FLAT if self.spectrum == "flat" else _kernels.RATE_OHMIC

    def kernel_parameters(self) -> np.ndarray:
        """The reservoir's row of kernel parameters (columns `_kernels.PARAM_*`)."""
        row = super().kernel_parameters()
        row[_kernels.PARAM_CUTOFF] = self.cutoff
        row[_kernels.PARAM_W0] = self.w0
        row[_kernels.PARAM_DEPHASING] = self.dephasing
        return row

    def channels(self):
        """The reservoir's Davies channels (bosonic baths have one, fermionic leads two)."""
        return (_Channel(adjoint=False, rate=self.rate, particles=0, kernel=self._kernel_code()),)


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

    def _arguments(self):
        return {
            "name": self.name,
            "T": self.T,
            "mu": self.mu,
            "coupling": self.coupling,
            "operator": self.operator,
            "site": self.site,
        }

    def __repr__(self):
        return f"FermionicLead({self.name!r}, T={self.T}, mu={self.mu}, coupling={self.coupling})"

    def rate_out(self, omega) -> np.ndarray:
        """Rate Gamma (1 - f(w)) of removing a particle of energy w from the medium."""
        return _kernel_rates(_kernels.RATE_FERMI_OUT, self.kernel_parameters(), omega)

    def rate_in(self, omega) -> np.ndarray:
        """Rate Gamma f(w) of adding a particle of energy w to the medium."""
        return _kernel_rates(
            _kernels.RATE_FERMI_IN, self.kernel_parameters(), -np.asarray(omega, dtype=float)
        )

    rate = rate_out

    def channels(self):
        """The reservoir's Davies channels (bosonic baths have one, fermionic leads two)."""
        # c(w) removes a particle of energy w; c^dag(w) removes energy w while adding a particle of
        # energy -w, which the lead supplies at rate Gamma f(-w).
        return (
            _Channel(
                adjoint=False,
                rate=self.rate_out,
                particles=-1,
                kernel=_kernels.RATE_FERMI_OUT,
            ),
            _Channel(
                adjoint=True,
                rate=lambda w: self.rate_in(-np.asarray(w, dtype=float)),
                particles=+1,
                kernel=_kernels.RATE_FERMI_IN,
            ),
        )


class SqueezedBath(Reservoir):
    """A squeezed thermal bosonic bath (temperature T, squeezing r, phase phi) on one Bohr frequency.

    Parameters
    ----------
    name, T, coupling, operator, spectrum, cutoff, w0, site
        As for `BosonicBath`: gamma = J(w) at the mode's frequency w, n = n_th(w, T).
    r : float
        Squeezing parameter, >= 0 (r = 0 is the thermal `BosonicBath`).
    phi : float
        Squeezing phase.

    Notes
    -----
    For the lowering part A = A(w) of the coupling (the medium's only Bohr frequency w > 0 in it:
    an oscillator's x, a qubit's sigma_x) the secular dissipator in the frame rotating with the
    medium's Hamiltonian is (Breuer & Petruccione, *The Theory of Open Quantum Systems*, OUP 2002,
    Sec. 3.4.3; Scully & Zubairy, *Quantum Optics*, CUP 1997, ch. 8)

        gamma (N+1) D[A] + gamma N D[A^dag] - gamma M D'[A^dag] - gamma M* D'[A],
        D'[X] rho = X rho X - (1/2){X X, rho},
        N = n (cosh^2 r + sinh^2 r) + sinh^2 r,   M = -(2n + 1) e^{i phi} cosh r sinh r,

    equal to gamma (n+1) D[B] + gamma n D[B^dag] for the Bogoliubov operator
    B = A cosh r + A^dag e^{i phi} sinh r.  Its fixed point is a squeezed thermal state, not a Gibbs
    state: no temperature describes the bath (``thermal = False``), so Clausius quantities are
    undefined and only relative-entropy ones are reported (docs/physics.md, Section 2).
    """

    thermal = False

    def __init__(
        self,
        name,
        T,
        r,
        phi,
        coupling,
        operator,
        spectrum="flat",
        *,
        cutoff=math.inf,
        w0=1.0,
        site=None,
    ):
        super().__init__(name, T, coupling, operator, site)
        owner = self._owner()
        self.r = real(owner, "r", r, minimum=0.0)
        self.phi = real(owner, "phi", phi)
        # The rates at the mode's frequency are those of the unsqueezed bath (one definition).
        self.bare = BosonicBath(
            self.name, self.T, self.coupling, operator, spectrum, cutoff=cutoff, w0=w0, site=site
        )
        self.spectrum, self.cutoff, self.w0 = self.bare.spectrum, self.bare.cutoff, self.bare.w0

    def _arguments(self):
        return {
            "name": self.name,
            "T": self.T,
            "r": self.r,
            "phi": self.phi,
            "coupling": self.coupling,
            "operator": self.operator,
            "spectrum": self.spectrum,
            "cutoff": self.cutoff,
            "w0": self.w0,
            "site": self.site,
        }

    def __repr__(self):
        return (
            f"SqueezedBath({self.name!r}, T={self.T}, r={self.r}, phi={self.phi}, coupling={self.coupling})"
        )

    def moments(self, omega: float) -> tuple[float, float, complex]:
        """(gamma, N, M) at the mode frequency `omega` > 0: gamma = J(w), N = <a^dag a>, M = <a a>."""
        w = float(omega)
        gamma = float(self.bare.spectral_density(np.array([w]))[0])
        n = self.occupation(w)
        c, s = math.cosh(self.r), math.sinh(self.r)
        N = n * (c * c + s * s) + s * s
        M = -(2.0 * n + 1.0) * complex(math.cos(self.phi), math.sin(self.phi)) * c * s
        return gamma, N, M

    def occupation(self, omega: float) -> float:
        """n_th(w) = 1/(exp(w/T) - 1) of the unsqueezed bath (0 at T = 0)."""
        if self.T == 0.0:
            return 0.0
        x = float(omega) / self.T
        return math.exp(-x) / -math.expm1(-x)  # 1/(e^x - 1) without overflow at large x

    def channels(self):
        """The unsqueezed bath's channel (its rates at the mode frequency; no particle exchange)."""
        return self.bare.channels()


def _jump_spec(owner, spec, k):
    """One jump operator of a `ChannelReservoir`, checked as far as it can be without the medium.

    A medium operator name (``"sigma_plus_0"`` or ``("sigma_plus", 0)``) or a matrix (its dimension is
    checked against the medium's when the generator is built).
    """
    if isinstance(spec, str):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return (spec[0], integer(owner, f"jumps[{k}] site", spec[1], minimum=0))
    return _operator_matrix(owner, spec)


class ChannelReservoir(Reservoir):
    """A user reservoir given by its jump operators and rates (as QuTiP's ``c_ops``).

    Parameters
    ----------
    name : str
    jumps : sequence of (operator, rate)
        D(rho) = sum_j rate_j D[L_j](rho), rate_j >= 0 finite; an operator is a matrix on the medium's
        space, a name of the medium's operators (``"sigma_plus"``; ``"sigma_plus_0"`` or
        ``("sigma_plus", 0)`` for a site of a multi-site medium).
    energy : str, ndarray (d, d) or None
        The Hamiltonian the energy current Tr[H D(rho)] is booked against (None: the medium's, the
        Hamiltonian the jumps act under).  Another operator makes the reported current Tr[E D(rho)];
        the first law P = sum_a J_a then no longer relates it to the others.
    particles : str, ndarray (d, d) or None
        A number operator N: the particle current Tr[N D(rho)] is reported (e.g. ``"magnetisation"``
        on a spin chain is sum_s sigma_z_s / 2, or any matrix).

    Notes
    -----
    Engineered or boundary-driven baths (Prosen, PRL 107, 137201 (2011)) have no temperature:
    ``thermal = False``, entropy production in the relative-entropy form only
    (docs/physics.md, Section 8).  The jumps act in the medium's basis (no secular approximation).
    """

    thermal = False

    def __init__(self, name, jumps, energy=None, particles=None):
        owner = type(self).__name__
        self.name = _check_name(owner, "name", name)
        owner = self._owner()
        if isinstance(jumps, (str, bytes)) or not hasattr(jumps, "__iter__"):
            fail(owner, "jumps", jumps, "a sequence of (operator, rate) pairs")
        items = []
        for k, item in enumerate(jumps):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                fail(owner, f"jumps[{k}]", item, "an (operator, rate) pair")
            op, rate = item
            items.append((_jump_spec(owner, op, k), real(owner, f"jumps[{k}] rate", rate, minimum=0.0)))
        if not items:
            fail(owner, "jumps", jumps, "at least one (operator, rate) pair")
        self.jumps = tuple(items)
        self.energy = energy if energy is None or isinstance(energy, str) else _operator_matrix(owner, energy)
        self.particles = (
            particles
            if particles is None or isinstance(particles, str)
            else _operator_matrix(owner, particles)
        )
        self.T = math.nan  # no temperature describes the reservoir; never used as one
        self.coupling = max(rate for _, rate in items)
        self.operator = None
        self.site = None

    def _arguments(self):
        return {
            "name": self.name,
            "jumps": list(self.jumps),
            "energy": self.energy,
            "particles": self.particles,
        }

    def __repr__(self):
        return f"ChannelReservoir({self.name!r}, {len(self.jumps)} jumps)"

    def channels(self):
        """No Davies channels: the jumps are the dissipator."""
        return ()
