"""Facts about the reservoirs in `engines.reservoirs` and their numba rate kernel.

Conventions (docs/physics.md): a Bohr frequency w > 0 is energy the medium gives to the
reservoir in one jump. A bosonic bath with spectral density J(w) has

    gamma(w) = J(w) (1 + n(w)),   gamma(-w) = J(w) n(w),   n(w) = 1 / (exp(w/T) - 1),

so gamma(-w) / gamma(w) = n / (1 + n) = exp(-w/T) (detailed balance). A fermionic lead adds a particle
of energy w at rate Gamma f(w) and removes one at Gamma (1 - f(w)), f(w) = 1 / (exp((w - mu)/T) + 1),
so f / (1 - f) = exp(-(w - mu)/T) (local detailed balance). References: H.-P. Breuer and
F. Petruccione, The Theory of Open Quantum Systems (OUP, 2002), sec. 3.3; M. Esposito, K. Lindenberg
and C. Van den Broeck, EPL 85, 60010 (2009).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engines import BosonicBath, FermionicLead, UserCodeError, WorkbenchError
from engines._kernels import rates_from_table

#: Relative tolerance of an exact identity evaluated in double precision.
TOL = 1e-12
#: The kernel and its NumPy twin evaluate the same formula; they may differ by a few ulps.
KERNEL_TOL = 1e-14

FREQUENCIES = np.array([0.01, 0.3, 1.0, 2.5, 7.0])
TEMPERATURES = [
    pytest.param(0.1, id="T=0.1"),
    pytest.param(1.0, id="T=1"),
    pytest.param(6.0, id="T=6"),
]


def _structured_density(w):
    """A user spectral density: super-ohmic with a Lorentzian roll-off, finite and >= 0 for w > 0."""
    return w**3 * np.exp(-w / 2.0) / (1.0 + w**2)


def _baths(T):
    return [
        BosonicBath("flat", T, 0.7, "sigma_x"),
        BosonicBath("ohmic", T, 0.7, "sigma_x", spectrum="ohmic", cutoff=4.0, w0=1.5),
        BosonicBath("callable", T, 0.7, "sigma_x", spectrum=_structured_density),
    ]


SPECTRA = [pytest.param(k, id=name) for k, name in enumerate(("flat", "ohmic", "callable"))]


# ------------------------------------------------------------------------------- bosonic baths
@pytest.mark.parametrize("which", SPECTRA)
@pytest.mark.parametrize("T", TEMPERATURES)
def test_bosonic_detailed_balance(which, T):
    """gamma(-w) / gamma(w) = exp(-w/T) for every spectrum (Breuer & Petruccione 2002, sec. 3.3).

    The grid reaches w/T = 70, where the absorption rate is ~1e-31 of the emission rate.
    """
    bath = _baths(T)[which]
    down, up = bath.rate(FREQUENCIES), bath.rate(-FREQUENCIES)
    assert np.all(down > 0) and np.all(up > 0)
    np.testing.assert_allclose(up / down, np.exp(-FREQUENCIES / T), rtol=TOL, atol=0.0)


@pytest.mark.parametrize("which", SPECTRA)
@pytest.mark.parametrize("T", TEMPERATURES)
def test_bosonic_emission_is_spectral_density_times_one_plus_n(which, T):
    """gamma(w) = J(w) (1 + n(w)) and gamma(-w) = J(w) n(w) with J from the named spectrum."""
    bath = _baths(T)[which]
    w = FREQUENCIES
    J = {
        0: np.full_like(w, 0.7),
        1: 0.7 * (w / 1.5) * np.exp(-w / 4.0),
        2: 0.7 * _structured_density(w),
    }[which]
    n = 1.0 / np.expm1(w / T)
    np.testing.assert_allclose(bath.rate(w), J * (1.0 + n), rtol=TOL, atol=0.0)
    np.testing.assert_allclose(bath.rate(-w), J * n, rtol=TOL, atol=0.0)


@pytest.mark.parametrize("which", SPECTRA)
def test_zero_temperature_bath_cannot_give_energy(which):
    """At T = 0, n = 0: no absorption, gamma(-w) = 0, and emission gamma(w) = J(w)."""
    bath = _baths(0.0)[which]
    np.testing.assert_array_equal(bath.rate(-FREQUENCIES), 0.0)
    np.testing.assert_allclose(bath.rate(FREQUENCIES), bath.spectral_density(FREQUENCIES), rtol=TOL)


def test_ohmic_zero_frequency_rate_is_the_limit():
    """gamma(0) = lim_{w->0} J(w) n(w) = kappa T / w0 for the ohmic spectrum (docs/physics.md)."""
    kappa, T, w0 = 0.4, 1.3, 2.0
    bath = BosonicBath("b", T, kappa, "sigma_z", spectrum="ohmic", w0=w0, cutoff=10.0)
    assert bath.rate(0.0) == pytest.approx(kappa * T / w0, rel=TOL)
    # J(w) n(w) = kappa T / w0 (1 - w/(2T) + O(w^2)): the approach from both sides is continuous.
    for w in (1e-6, -1e-6):
        assert bath.rate(w) == pytest.approx(kappa * T / w0, rel=1e-6)


def test_flat_zero_frequency_rate_is_the_dephasing_rate():
    """A flat spectrum has no zero-frequency rate unless `dephasing` asks for one."""
    assert BosonicBath("b", 1.0, 0.5, "sigma_z").rate(0.0) == 0.0
    assert BosonicBath("b", 1.0, 0.5, "sigma_z", dephasing=0.25).rate(0.0) == 0.25


# ------------------------------------------------------------------------------ fermionic leads
@pytest.mark.parametrize(
    ("T", "mu", "w"),
    [
        pytest.param(1.0, 0.0, np.linspace(-5.0, 5.0, 11), id="T=1-mu=0"),
        pytest.param(2.5, -1.0, np.linspace(-4.0, 6.0, 11), id="T=2.5-mu=-1"),
        pytest.param(0.5, 1.5, np.linspace(-1.0, 4.0, 11), id="T=0.5-mu=1.5"),
        pytest.param(0.1, 0.0, np.array([-3.0, -1.0, 1.0, 2.0, 3.0]), id="cold-lead-T=0.1"),
    ],
)
def test_fermionic_local_detailed_balance(T, mu, w):
    """rate_in / rate_out = f / (1 - f) = exp(-(w - mu)/T) (Esposito et al., EPL 85, 60010 (2009)).

    The last case is a cold lead (T = 0.1) and levels up to 3 away from mu, an ordinary point of a
    thermoelectric scan: the identity is exact and must hold to relative precision there too.
    """
    lead = FermionicLead("lead", T, mu, 0.3, "jump_0_1")
    np.testing.assert_allclose(lead.rate_in(w) / lead.rate_out(w), np.exp(-(w - mu) / T), rtol=TOL, atol=0.0)


def test_fermionic_rates_sum_to_the_tunnelling_rate():
    """rate_in(w) + rate_out(w) = Gamma: f + (1 - f) = 1, and f(mu) = 1/2."""
    lead = FermionicLead("lead", 0.8, 0.4, 0.3, "jump_0_1")
    w = np.linspace(-3.0, 3.0, 13)
    np.testing.assert_allclose(lead.rate_in(w) + lead.rate_out(w), 0.3, rtol=TOL)
    assert lead.rate_in(0.4) == pytest.approx(0.15, rel=TOL)


def test_zero_temperature_lead_is_a_step():
    """At T = 0 the lead fills every level below mu and empties every level above it."""
    lead = FermionicLead("lead", 0.0, 0.5, 1.0, "jump_0_1")
    w = np.array([-1.0, 0.0, 0.49, 0.51, 2.0])
    np.testing.assert_array_equal(lead.rate_in(w), [1.0, 1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(lead.rate_out(w), [0.0, 0.0, 0.0, 1.0, 1.0])


# ---------------------------------------------------------------------------------- bad input
def _negative_density(w):
    return np.sin(w)


def _raising_density(w):
    raise RuntimeError("boom")


def _nan_density(w):
    return np.full_like(w, np.nan)


def _scalar_density(w):
    return 1.0


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: BosonicBath("b", -1.0, 0.1, "sigma_x"), "`T`", id="bath-T<0"),
        pytest.param(lambda: BosonicBath("b", math.nan, 0.1, "sigma_x"), "`T`", id="bath-T-nan"),
        pytest.param(lambda: BosonicBath("b", math.inf, 0.1, "sigma_x"), "`T`", id="bath-T-inf"),
        pytest.param(lambda: BosonicBath("b", 1.0, -0.1, "sigma_x"), "`coupling`", id="bath-coupling<0"),
        pytest.param(lambda: BosonicBath("b", 1.0, math.nan, "sigma_x"), "`coupling`", id="coupling-nan"),
        pytest.param(
            lambda: BosonicBath("b", 1.0, 0.1, "sigma_x", spectrum="lorentzian"),
            "`spectrum`",
            id="unknown-spectrum",
        ),
        pytest.param(
            lambda: BosonicBath("b", 1.0, 0.1, "sigma_x", spectrum="ohmic", cutoff=0.0),
            "`cutoff`",
            id="cutoff=0",
        ),
        pytest.param(
            lambda: BosonicBath("b", 1.0, 0.1, "sigma_x", spectrum="ohmic", w0=math.nan), "`w0`", id="w0-nan"
        ),
        pytest.param(
            lambda: BosonicBath("b", 1.0, 0.1, "sigma_x", dephasing=-1.0), "`dephasing`", id="dephasing<0"
        ),
        pytest.param(
            lambda: BosonicBath("b", 1.0, 0.1, "sigma_x", spectrum="ohmic", dephasing=0.1),
            "`dephasing`",
            id="ohmic-with-dephasing",
        ),
        pytest.param(lambda: BosonicBath("", 1.0, 0.1, "sigma_x"), "`name`", id="empty-name"),
        pytest.param(lambda: FermionicLead("l", -0.5, 0.0, 0.1, "jump_0_1"), "`T`", id="lead-T<0"),
        pytest.param(lambda: FermionicLead("l", math.inf, 0.0, 0.1, "jump_0_1"), "`T`", id="lead-T-inf"),
        pytest.param(lambda: FermionicLead("l", 1.0, math.nan, 0.1, "jump_0_1"), "`mu`", id="lead-mu-nan"),
        pytest.param(lambda: FermionicLead("l", 1.0, 0.0, -0.1, "jump_0_1"), "`coupling`", id="lead-Gamma<0"),
    ],
)
def test_bad_reservoir_input_raises_workbench_error(build, field):
    """Invalid parameters raise WorkbenchError naming the field (docs/architecture.md)."""
    with pytest.raises(WorkbenchError, match=field):
        build()


@pytest.mark.parametrize(
    "density",
    [
        pytest.param(_negative_density, id="negative-values"),
        pytest.param(_raising_density, id="raises"),
        pytest.param(_nan_density, id="nan"),
        pytest.param(_scalar_density, id="wrong-shape"),
    ],
)
def test_bad_spectrum_callable_raises_user_code_error(density):
    """A user spectral density that fails or returns negative/non-finite values raises UserCodeError.

    J(w) >= 0 is required for the rates to be those of a positive (GKSL) generator.
    """
    bath = BosonicBath("b", 1.0, 0.1, "sigma_x", spectrum=density)
    with pytest.raises(
        UserCodeError, match=rf"^BosonicBath 'b': the `spectrum` callable '{density.__name__}'"
    ) as info:
        bath.rate(np.array([0.5, 4.0, 5.0]))
    if density is _raising_density:
        assert isinstance(info.value.__cause__, RuntimeError)  # the user's exception, chained


def test_user_code_error_is_not_bad_input():
    """A bug inside user code is not bad input: UserCodeError is neither a WorkbenchError nor a ValueError.

    So handlers for bad input (``except WorkbenchError`` in the command line, ``except ValueError``)
    cannot swallow an exception raised inside a user's spectral density.
    """
    assert issubclass(UserCodeError, Exception)
    assert not issubclass(UserCodeError, WorkbenchError | ValueError)


# ------------------------------------------------------------------- numba kernel vs NumPy twin
KERNEL_OMEGA = np.array([[-7.0, -2.0, -0.5, -1e-3], [0.0, 1e-3, 0.5, 2.0], [7.0, 30.0, -30.0, 3.3]])


def _kernel_rates(kind, T, mu=0.0, coupling=0.7, cutoff=math.inf, w0=1.0, dephasing=0.0):
    omega = np.ascontiguousarray(KERNEL_OMEGA)
    out = np.full_like(omega, np.nan)
    rates_from_table(kind, T, mu, coupling, cutoff, w0, dephasing, omega, out)
    return out


KERNEL_TEMPERATURES = [
    pytest.param(0.0, id="T=0"),
    pytest.param(0.4, id="T=0.4"),
    pytest.param(3.0, id="T=3"),
]


@pytest.mark.parametrize("T", KERNEL_TEMPERATURES)
@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        pytest.param(0, {}, id="flat"),
        pytest.param(0, {"dephasing": 0.2}, id="flat-dephasing"),
        pytest.param(1, {"cutoff": 5.0, "w0": 1.5}, id="ohmic"),
        pytest.param(1, {}, id="ohmic-no-cutoff"),
    ],
)
def test_rate_kernel_equals_bosonic_bath(kind, kwargs, T):
    """`rates_from_table` kinds 0 (flat) and 1 (ohmic) equal BosonicBath.rate (its NumPy twin)."""
    spectrum = "flat" if kind == 0 else "ohmic"
    bath = BosonicBath("b", T, 0.7, "sigma_x", spectrum=spectrum, **kwargs)
    expected = bath.rate(KERNEL_OMEGA)
    np.testing.assert_allclose(_kernel_rates(kind, T, **kwargs), expected, rtol=KERNEL_TOL, atol=0.0)


@pytest.mark.parametrize("T", KERNEL_TEMPERATURES)
@pytest.mark.parametrize("mu", [pytest.param(0.0, id="mu=0"), pytest.param(-0.5, id="mu=-0.5")])
def test_rate_kernel_equals_fermionic_lead(T, mu):
    """Kind 2 (removal) is Gamma (1 - f(w)) = rate_out(w); kind 3 (adding -w) is Gamma f(-w) = rate_in(-w).

    Compared in relative precision: tail rates (here down to ~1e-8 Gamma) set detailed-balance ratios.
    """
    lead = FermionicLead("l", T, mu, 0.7, "jump_0_1")
    removal, addition = lead.rate_out(KERNEL_OMEGA), lead.rate_in(-KERNEL_OMEGA)
    np.testing.assert_allclose(_kernel_rates(2, T, mu=mu), removal, rtol=KERNEL_TOL, atol=0.0)
    np.testing.assert_allclose(_kernel_rates(3, T, mu=mu), addition, rtol=KERNEL_TOL, atol=0.0)
