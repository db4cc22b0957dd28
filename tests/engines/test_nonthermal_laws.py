"""Laws that hold for any GKSL generator, on random machines with squeezed or channel reservoirs.

First law at the NESS: 0 = Tr[H L(rho)] = sum_a J_a with no work source (the squeezed bath's frame
rotates with H, channel jumps act under H), so P = sum_a J_a = 0 within the resolution; the NESS is
a state (Hermitian, trace one, positive); the relative-entropy production sigma_na >= 0 (Spohn,
J. Math. Phys. 19, 1227 (1978)).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

from analysis.entropy import entropy_production_rates
from tests.strategies import channel_machines, squeezed_machines

POSITIVITY_TOL = 1e-10


def _check_ness(engine):
    ss = engine.steady_state()
    rho = np.asarray(ss.rho)
    assert abs(np.trace(rho).real - 1.0) < 1e-12
    assert np.max(np.abs(rho - rho.conj().T)) < 1e-12
    assert np.linalg.eigvalsh(rho).min() > -POSITIVITY_TOL
    total = sum(ss.heat_currents.values())
    assert abs(total) <= 2 * ss.resolution + 1e-14
    assert ss.power == 0.0
    assert ss.entropy_production_rate is None and ss.undefined
    return ss


@settings(max_examples=25, deadline=None, database=None)
@given(squeezed_machines())
def test_first_law_and_positivity_with_squeezed_baths(engine):
    """sum_a J_a = 0, rho >= 0, Tr rho = 1 at the NESS of a machine with a squeezed bath."""
    _check_ness(engine)


@settings(max_examples=25, deadline=None, database=None)
@given(channel_machines())
def test_first_law_positivity_and_spohn_with_channel_reservoirs(engine):
    """sum_a J_a = 0 and a positive NESS with channel reservoirs; sigma_na >= 0 at a mixed state."""
    _check_ness(engine)
    d = engine.medium.dim
    rho = np.eye(d) / d + 0.1 * np.diag(np.linspace(-1, 1, d)) / d
    rates = entropy_production_rates(engine, rho)
    assert rates.non_adiabatic >= -1e-12
    assert rates.total is None
