"""Problems too large for memory are refused before anything is allocated, with what would fit.

`engines.memory` estimates the arrays a build or a solve allocates from the dimensions alone. The
tests check three things: (1) the estimate is close to what is really allocated (the peak traced by
`tracemalloc`, which sees every NumPy and SciPy allocation), neither far below (a refusal would come too
late) nor far above (good problems would be refused); (2) with an artificial `memory_limit` the refusal
names the estimate, the limit and alternatives that do fit, and following an alternative works; (3) the
three reported cases at the default limit (a 30-site chain, a spin j = 10^6, a 16-site chain in the
global flavour) fail in the constructor without allocating, where they used to allocate for seconds and
die with MemoryError.
"""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

from engines import (
    BosonicBath,
    Composite,
    Custom,
    Engine,
    HarmonicOscillator,
    Levels,
    Qubit,
    Spin,
    SpinChain,
    WorkbenchError,
    memory,
)
from engines.options import DEFAULT_OPTIONS

#: These tests check numerics and laws that hold in every regime; the random and reference machines
#: are often outside their flavour's regime on purpose, so the regime warning is not theirs to report
#: (tests/engines/test_master_equations.py and test_audit.py check it).
pytestmark = pytest.mark.filterwarnings("ignore::engines.checks.ModelValidityWarning")


#: The estimate may exceed the traced peak by this factor (it counts upper bounds of sparse entries and
#: LAPACK workspace that tracemalloc does not see), and fall short of it by the inverse of LOW.
HIGH = 3.0
LOW = 0.7
#: Traced allocations of a refused construction: Python objects only, no array of the problem's size.
REFUSAL_BYTES = 1e6

SEED = 1234


def _chain_baths(n):
    return [
        BosonicBath("hot", 2.0, 0.1, "sigma_x", site=0),
        BosonicBath("cold", 0.5, 0.1, "sigma_y", site=n - 1, spectrum="ohmic", cutoff=5.0),
    ]


def _chain(n, flavour="global", **kw):
    return SpinChain(n, 1.0, 0.5, 0.3), _chain_baths(n), flavour, kw


def _random_machine(d):
    rng = np.random.default_rng(SEED)
    z = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    H = z + z.conj().T
    A = rng.normal(size=(d, d))
    # two baths on independent Hermitian couplings (a lead on a generic operator conserves no particles)
    baths = [BosonicBath("b", 1.0, 0.1, A + A.T), BosonicBath("c", 2.0, 0.1, 1j * (A - A.T))]
    return Custom(lambda: H), baths


def _composite():
    medium = Composite(
        [Qubit(1.0), Levels([0.0, 0.7, 1.9]), HarmonicOscillator(0.8, 10), Qubit(1.3)],
        [(0.1, [("sigma_x", 0), ("pair_0_1", 1)]), (0.05, [("pair_1_2", 1), ("x", 2)])],
    )
    baths = [
        BosonicBath("b0", 1.5, 0.2, "sigma_x", site=0),
        BosonicBath("b2", 0.3, 0.3, "x", site=2),
        BosonicBath("b3", 0.3, 0.3, "sigma_x", site=3),
    ]
    return medium, baths


def _refused(make, match):
    """Run make() and return the WorkbenchError it raises (whose message must match `match`)."""
    with pytest.raises(WorkbenchError, match=match) as info:
        make()
    return info.value


def _traced_peak(f):
    """(result, peak bytes traced while f runs)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = f()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ----------------------------------------------------------------------------- estimate vs peak
BUILDS = [
    pytest.param(*_chain(9)[:3], id="xxz-n9-global-sparse-H"),
    pytest.param(*_chain(10, "local")[:3], id="xxz-n10-local"),
    pytest.param(*_random_machine(256), "global", id="random-d256-global"),
    pytest.param(*_composite(), "global", id="composite-global"),
    pytest.param(
        HarmonicOscillator(1.0, 400), [BosonicBath("b", 1.0, 0.1, "x")], "local", id="oscillator-n400-local"
    ),
    pytest.param(
        Composite([Qubit(1.0), HarmonicOscillator(0.9, 40)], [(0.05, [("sigma_x", 0), ("x", 1)])]),
        [BosonicBath("q", 1.0, 0.1, "sigma_x", site=0), BosonicBath("o", 0.5, 0.1, "x", site=1)],
        "local",
        id="qubit-oscillator-local",
    ),
]


@pytest.mark.parametrize(("medium", "reservoirs", "flavour"), BUILDS)
def test_build_estimate_matches_the_traced_peak(medium, reservoirs, flavour):
    """LOW <= estimate / traced peak of Engine(...) <= HIGH (the generator and nothing else)."""
    Engine(medium, reservoirs, flavour=flavour)  # compile and cache everything first-call only
    estimate = memory.build(medium, reservoirs, flavour).total
    _, peak = _traced_peak(lambda: Engine(medium, reservoirs, flavour=flavour))
    assert LOW <= estimate / peak <= HIGH, (memory.format_bytes(estimate), memory.format_bytes(peak))


SOLVES = [
    pytest.param(*_chain(8)[:3], "pauli", id="xxz-n8-global-pauli"),
    pytest.param(*_random_machine(24), "global", "sparse", id="random-d24-global-sparse"),
    pytest.param(*_chain(7, "local")[:3], "iterative", id="xxz-n7-local-iterative"),
    pytest.param(*_chain(6, "local")[:3], "sparse", id="xxz-n6-local-sparse"),
    pytest.param(*_random_machine(20), "global", "dense", id="random-d20-dense"),
    pytest.param(*_random_machine(256), "global", "pauli", id="random-d256-pauli"),
    pytest.param(*_composite(), "local", "iterative", id="composite-local-iterative"),
]


@pytest.mark.parametrize(("medium", "reservoirs", "flavour", "solver"), SOLVES)
def test_solve_estimate_matches_the_traced_peak(medium, reservoirs, flavour, solver):
    """LOW <= estimate / traced peak of steady_state(solver) <= HIGH (sparse LU fill-in is not counted,
    so the sparse estimate is a lower bound of the factors but an upper bound of the rest)."""
    engine = Engine(medium, reservoirs, flavour=flavour)
    engine.steady_state(solver=solver)
    estimate = memory.solve(engine.generator, solver, engine.options).total
    _, peak = _traced_peak(lambda: engine.steady_state(solver=solver))
    assert LOW <= estimate / peak <= HIGH, (memory.format_bytes(estimate), memory.format_bytes(peak))


# ------------------------------------------------------------------------- artificial limits
def _limit_between(small, large):
    """A memory limit between two engines' estimates (generator and steady state)."""
    a = (memory.build(*small) + memory.state(small[0].dim)).total
    b = (memory.build(*large) + memory.state(large[0].dim)).total
    assert a < b
    return 0.5 * (a + b)


def test_refusal_names_estimate_limit_and_the_largest_chain_that_fits():
    """A chain over the limit is refused with both numbers and the largest n that fits, and that n fits.

    The suggestion is checked by constructing the suggested chain (it must fit) and the next one (it must
    not), under the same limit.
    """
    limit = _limit_between(_chain(7)[:3], _chain(8)[:3])
    options = {"memory_limit": limit}
    with pytest.raises(WorkbenchError) as info:
        Engine(*_chain(10)[:3], options=options)
    message = str(info.value)
    assert message.startswith("Engine: `medium` SpinChain(n=10")
    assert "global flavour" in message and "nothing was allocated" in message
    assert f"`options.memory_limit` = {memory.format_bytes(limit)}" in message
    estimate = (memory.build(*_chain(10)[:3]) + memory.state(1024)).total
    assert f"about {memory.format_bytes(estimate)}" in message
    n = int(re.search(r"this chain up to n = (\d+) sites in the global flavour", message).group(1))
    assert n == 7
    Engine(*_chain(n)[:3], options=options)
    with pytest.raises(WorkbenchError, match="memory_limit"):
        Engine(*_chain(n + 1)[:3], options=options)


def test_refusal_points_to_the_other_flavour_when_it_fits():
    """A global chain over the limit whose local flavour fits says so, and the local engine builds."""
    medium, baths, _, _ = _chain(9)
    options = {"memory_limit": _limit_between((medium, baths, "local"), (medium, baths, "global"))}
    with pytest.raises(WorkbenchError, match=r"What fits: .*; the local flavour \(about "):
        Engine(medium, baths, options=options)
    Engine(medium, baths, flavour="local", options=options)


def test_refusal_of_a_dense_medium_gives_the_largest_dimension_that_fits():
    """For a medium without a sparse form the suggestion is a dimension, which then fits."""
    medium, baths = _random_machine(64)
    limit = 0.25 * (memory.build(medium, baths, "global") + memory.state(64)).total
    with pytest.raises(WorkbenchError) as info:
        Engine(medium, baths, options={"memory_limit": limit})
    d = int(
        re.search(r"a medium of dimension up to about (\d+) in the global flavour", str(info.value)).group(1)
    )
    assert 16 <= d < 64
    smaller, small_baths = _random_machine(d)
    Engine(smaller, small_baths, options={"memory_limit": limit})


def test_large_site_jumps_are_counted_not_bounded():
    """An oscillator of 1501 levels with a linear coupling has two local jumps (w = +-omega), not ~d^2.

    The bound d_s (d_s - 1) + 1 jumps of d + 1 row pointers each would claim about 16 GB and refuse
    this engine under a 1 GB limit; counted on the site's spectrum, its jumps take about 100 kB
    (a: 1500 entries, a^dag: 1500 entries).
    """
    d = 1501
    medium, baths = HarmonicOscillator(1.0, d - 1), [BosonicBath("b", 0.5, 0.1, "x")]
    jumps = dict(memory.build(medium, baths, "local").kept)["jump operators"]
    assert jumps == memory.sparse_bytes(2 * (d - 1), d, 2)
    Engine(medium, baths, flavour="local", options={"memory_limit": 1e9})


def test_solver_refusal_names_the_solvers_that_fit():
    """The dense solve of a 6-site local chain (d^2 = 4096) is refused; the suggested iterative one works."""
    engine = Engine(*_chain(6, "local")[:3])
    dense = (
        memory.build(*_chain(6, "local")[:3]) + memory.solve(engine.generator, "dense", engine.options)
    ).total
    limited = engine.replace(options={"memory_limit": 0.5 * dense})
    with pytest.raises(WorkbenchError) as info:
        limited.steady_state(solver="dense")
    message = str(info.value)
    assert message.startswith("steady_state: `solver` 'dense' needs about")
    assert "solver='iterative'" in message and "solver='sparse'" in message
    ness = limited.steady_state(solver="iterative")
    np.testing.assert_allclose(ness.rho, engine.steady_state(solver="sparse").rho, atol=1e-9)


def test_auto_solver_refusal_says_it_was_chosen_by_auto():
    """'auto' on an undriven global machine is the Pauli solver; its refusal names it and 'auto'.

    Two degenerate levels of 24 states each: the zero-frequency sector holds 2 * 24^2 unknowns (the
    coherences inside each block), so the Pauli solve needs far more than the generator.
    """
    rng = np.random.default_rng(SEED)
    A = rng.normal(size=(48, 48))
    engine = Engine(Levels([0.0] * 24 + [1.0] * 24), [BosonicBath("b", 1.0, 0.1, A + A.T)])
    pauli = memory.solve(engine.generator, "pauli", engine.options).total
    assert pauli > 10 * (memory.build(engine.medium, engine.reservoirs, "global") + memory.state(48)).total
    with pytest.raises(WorkbenchError, match=r"`solver` 'pauli' \(chosen by 'auto'\) needs about"):
        engine.replace(options={"memory_limit": 0.1 * pauli}).steady_state()


# ------------------------------------------------------------------- the reported cases, default limit
REPORTED = [
    pytest.param(lambda: Engine(*_chain(30)[:3]), id="spin-chain-n30-global"),
    pytest.param(lambda: Engine(*_chain(30, "local")[:3]), id="spin-chain-n30-local"),
    pytest.param(lambda: Engine(Spin(1e6, 1.0), [BosonicBath("b", 1.0, 0.1, "j_x")]), id="spin-j1e6"),
    pytest.param(lambda: Engine(*_chain(16)[:3]), id="spin-chain-n16-global"),
]


@pytest.mark.parametrize("make", REPORTED)
def test_reported_cases_are_refused_without_allocating(make):
    """At the default limit (80 % of physical memory) each is refused before any large array exists."""
    _, peak = _traced_peak(lambda: _refused(make, "memory_limit"))
    assert peak < REFUSAL_BYTES


def test_reported_cases_exceed_the_default_limit():
    """The premise of the test above: these problems do not fit on this machine (else it tests nothing)."""
    for medium, reservoirs, flavour in [
        _chain(16)[:3],
        (Spin(1e6, 1.0), [BosonicBath("b", 1.0, 0.1, "j_x")], "global"),
    ]:
        assert memory.build(medium, reservoirs, flavour).total > DEFAULT_OPTIONS.memory_limit


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: SpinChain(30, 1.0, 0.5).hamiltonian_sparse(), id="chain-sparse-hamiltonian"),
        pytest.param(lambda: SpinChain(20, 1.0, 0.5).hamiltonian(), id="chain-dense-hamiltonian"),
        pytest.param(lambda: Spin(1e6, 1.0).hamiltonian(), id="spin-hamiltonian"),
        pytest.param(lambda: Spin(1e6, 1.0).operator("j_x"), id="spin-operator"),
    ],
)
def test_media_refuse_matrices_too_large_for_memory(make):
    """A medium's own matrices are checked against the default limit before they are built."""
    _, peak = _traced_peak(lambda: _refused(make, r"needs about .*nothing was allocated"))
    assert peak < REFUSAL_BYTES


def test_a_large_chain_is_a_cheap_value():
    """Constructing SpinChain(30) builds nothing (its sparse bond sums are built on first use)."""
    chain, peak = _traced_peak(lambda: SpinChain(30, 1.0, 0.5))
    assert chain.dim == 2**30 and peak < REFUSAL_BYTES
