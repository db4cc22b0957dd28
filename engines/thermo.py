"""Operating modes, figures of merit, entropy production and the numerical resolution of currents.

Everything here follows docs/physics.md, Sections 5-7, and is written once: `Engine.steady_state`,
`Batch`, and the cycles classify through these functions.  Sign conventions: heat J_a > 0 flows
from reservoir a into the medium; output power P > 0 leaves the medium as work (for a cycle, -W and
Q_a per cycle stand in for P and J_a: same signs, same ratios).

The resolution delta of a result bounds the error of any sum of its currents (each J_a alone, P,
the heat of a temperature level, the flux through a cut).  Values within delta are reported as
exactly 0.0 and count as zero in the mode rule; a mode that hinges on a value below delta is
"undetermined", with a `ThermodynamicsWarning` that says which value and why.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from engines import _kernels, linalg
from engines.checks import ThermodynamicsWarning

__all__ = [
    "MODES",
    "ROUNDOFF_FACTOR",
    "carnot_efficiency",
    "classify",
    "classify_many",
    "classify_nonthermal",
    "clausius_undefined",
    "current_resolution",
    "entropy_production",
    "entropy_production_many",
    "has_work_source",
    "resolved",
]

MODES = (
    "engine",
    "refrigerator",
    "heat pump",
    "accelerator",
    "heater",
    "heat transformer",
    "transport",
    "equilibrium",
    "second-law violation",
    "undetermined",
    "non-thermal",
)

#: c in delta = (||L rho|| / ||L|| + c eps) sum_a ||O_a||: the round-off of a steady-state solve and of
#: the trace products Tr[O_a rho], in units of machine epsilon, that the residual cannot see (the
#: computed residual itself bottoms out near eps ||L||).  Measured errors stay below 4 eps ||O||
#: (tests/engines/test_resolution.py); 16 leaves a margin for larger media.
ROUNDOFF_FACTOR = 16.0
EPS = float(np.finfo(float).eps)

# Heuristic zero for callers that pass no resolution to `warn_if_second_law_broken` (cycles).
_RELATIVE_ZERO = 1e-9
_ABSOLUTE_ZERO = 1e-15


# ----------------------------------------------------------------------------------------------
# numerical resolution


def current_resolution(residual, scale, observable_norms, dim=1, first_law_mismatch=0.0):
    """Numerical resolution delta of the currents of a steady state (vectorised over points).

    Parameters
    ----------
    residual : float or ndarray (n,)
        ||L(rho)|| of the returned state (Frobenius norm of the vectorised residual).
    scale : float or ndarray (n,)
        The generator's scale ||L|| (largest Hamiltonian entry plus largest total decay rate).
    observable_norms : ndarray (n_reservoirs,) or (n, n_reservoirs)
        ||O_a|| of each current observable O_a = D_a^dag(H_ref) - mu_a N_a (largest absolute row
        sum, which bounds the spectral norm of a Hermitian matrix).
    dim : int
        Dimension d of the medium (the round-off of solves and trace products grows with it).
    first_law_mismatch : float or ndarray (n,)
        |sum_a J^E_a - Tr[i[H_ref, H] rho]|: the two sides of the first law, equal at an exact NESS.

    Returns
    -------
    float or ndarray (n,)
        delta = max((||L rho|| / ||L|| + ROUNDOFF_FACTOR sqrt(d) eps) sum_a ||O_a||,
        2 first_law_mismatch), in the currents' units.

    Notes
    -----
    |Tr[O_a (rho - rho_exact)]| <= ||O_a|| ||rho - rho_exact||_1.  The residual relative to the
    generator's scale is the backward error of the solve; machine epsilon (times sqrt(d), the
    typical growth of round-off over the d^2 entries) is the floor the residual cannot resolve
    (docs/physics.md, Section 7).  Summing over reservoirs makes delta a bound for every partial sum
    of currents, P = sum_a J_a included.  The backward error can understate the forward error of an
    ill-conditioned generator (slow modes); the first-law mismatch measures the actual error of
    one sum of currents a posteriori, so delta never falls below twice it.
    """
    norms = np.asarray(observable_norms, dtype=float)
    total = norms.sum(axis=-1)
    relative = np.asarray(residual, dtype=float) / np.maximum(np.asarray(scale, dtype=float), 1e-300)
    out = (relative + ROUNDOFF_FACTOR * np.sqrt(dim) * EPS) * total
    out = np.maximum(out, 2.0 * np.asarray(first_law_mismatch, dtype=float))
    return float(out) if np.ndim(out) == 0 else out


def resolved(values, resolution):
    """`values` with every entry of magnitude <= `resolution` set to exactly 0.0 (no -0.0).

    `resolution` broadcasts against the leading (point) axis: a scalar, or one value per row.
    """
    values = np.asarray(values, dtype=float)
    res = np.asarray(resolution, dtype=float)
    if res.ndim == 1 and values.ndim == 2:
        res = res[:, None]
    return np.where(np.abs(values) <= res, 0.0, values) + 0.0  # + 0.0 turns -0.0 into 0.0


def has_work_source(generator, options=None) -> bool:
    """Whether a generator's machine exchanges work: its power observable W is not zero.

    At a NESS, 0 = Tr[H_ref L(rho)] = -i Tr[H_ref [H, rho]] + sum_a J^E_a, and the particle
    currents of a number-conserving medium sum to zero, so
    P = sum_a J_a = Tr[W rho] with W = i[H_ref, H] - sum_a mu_a N_a (H the coherent part, H_ref
    the Hamiltonian heat is booked against, N_a the particle-current observables).  The mechanical
    part vanishes for an undriven global generator, for local "full" bookkeeping (H_ref = H) and for
    local "bare" bookkeeping whose interaction commutes with the bare Hamiltonian; the chemical part
    vanishes unless particles are exchanged with leads at two or more chemical potentials.  Then
    P = 0 structurally.  Commutators below ``options.degeneracy_tol`` times ||H|| ||H_ref|| (largest
    entries) count as zero, as resonances do in the Davies construction.
    """
    import scipy.sparse as sp

    from engines.options import Options

    options = Options.coerce(options)
    potentials = {
        D.reservoir.mu for D in generator.dissipators if any(ch.particles for ch in D.reservoir.channels())
    }
    if len(potentials) > 1:
        return True
    if generator.davies is not None and not generator.driven:
        return False
    H = sp.csr_array(generator.hamiltonian)
    R = sp.csr_array(generator.reference)
    commutator = (H @ R - R @ H).tocsr()
    size = float(abs(commutator).max()) if commutator.nnz else 0.0
    scale = float(abs(H).max() if H.nnz else 0.0) * float(abs(R).max() if R.nnz else 0.0)
    return size > options.degeneracy_tol * scale


# ----------------------------------------------------------------------------------------------
# operating modes


def classify_many(power, heat, temperatures, *, resolution=0.0, work_source=True):
    """Operating mode and figures of merit of many points (docs/physics.md, Section 6).

    Parameters
    ----------
    power : ndarray (n,)
        Output power P (per-cycle -W for a cycle); > 0 when the medium delivers work.
    heat : ndarray (n, n_reservoirs)
        Heat currents J_a into the medium (Q_a per cycle).
    temperatures : ndarray (n_reservoirs,) or (n, n_reservoirs)
    resolution : float or ndarray (n,)
        Numerical resolution delta of the currents (`current_resolution`); currents, power,
        level heats and cut fluxes within delta count as zero.  0 means that none is known: then
        values within 1e-15 + 1e-9 times the largest of them count as zero (round-off of their
        sums), and a point where nothing exceeds that is "equilibrium" even with a work source.
    work_source : bool or ndarray (n,) of bool
        Whether the machine can exchange work (a drive, the boundary work of local "bare"
        bookkeeping, a cycle).  Without one P = 0 structurally.

    Returns
    -------
    mode : ndarray (n,) of str
        One of `MODES`.
    efficiency, cop : ndarray (n,)
        NaN where the mode leaves them undefined: efficiency for "engine" (P / sum of the heat the
        levels give) and "heat transformer" (heat lifted through a cut / heat given); COP for
        "refrigerator" (J_cold / (-P), or J_cold / heat given by hotter levels without work) and
        "heat pump" (-J_hot / (-P)).

    Warns
    -----
    ThermodynamicsWarning
        For "undetermined" points (which value is below resolution) and "second-law violation"
        points (negative entropy production with nothing driving the upward heat flow).
    """
    return _classify_many(power, heat, temperatures, resolution, work_source, depth=1)[:3]


_MODE_ARRAY = np.array(MODES)
_CODE = {m: np.int8(i) for i, m in enumerate(MODES)}


def _classify_many(power, heat, temperatures, resolution, work_source, depth):
    """`classify_many` plus the entropy production rate and the currents zeroed within resolution.

    Warnings point `depth` frames above the public caller's caller.  The rule runs point by point in
    `engines._kernels.classify_points`.
    """
    P = np.ascontiguousarray(np.atleast_1d(np.asarray(power, dtype=float)))
    n = P.size
    J = np.ascontiguousarray(np.atleast_2d(np.asarray(heat, dtype=float)))
    T = np.ascontiguousarray(np.broadcast_to(np.asarray(temperatures, dtype=float), J.shape))
    delta = np.broadcast_to(np.asarray(resolution, dtype=float), (n,))
    # No resolution known (0): the round-off floor used before results carried one.
    unknown = np.ascontiguousarray(delta == 0)
    if unknown.any():
        delta = np.where(unknown, _legacy_floor(P, J.T), delta)
    delta = np.ascontiguousarray(delta)
    source = np.ascontiguousarray(np.broadcast_to(np.asarray(work_source, dtype=np.bool_), (n,)))
    code = np.empty(n, dtype=np.int8)
    efficiency, cop, sigma = np.empty(n), np.empty(n), np.empty(n)
    resolved_heat = np.empty_like(J)
    _kernels.classify_points(P, J, T, delta, source, unknown, code, efficiency, cop, sigma, resolved_heat)
    mode = _MODE_ARRAY[code]
    _warn_modes(code, P, delta, source, sigma, stacklevel=2 + depth)
    return mode, efficiency, cop, sigma, resolved_heat


def classify(power, heat, temperatures, *, resolution=0.0, work_source=True):
    """Operating mode, efficiency and COP of one machine (see `classify_many` for the rule).

    Parameters
    ----------
    power : float
        Output power P (> 0 when the medium delivers work); -W per cycle for a cycle.
    heat : mapping name -> float
        Heat currents (or heats per cycle) into the medium.
    temperatures : mapping name -> float
    resolution : float
        Numerical resolution of the currents and the power.
    work_source : bool
        Whether the machine can exchange work.

    Returns
    -------
    (mode, efficiency, cop)
        `efficiency` is None unless the mode is "engine" or "heat transformer"; `cop` is None
        unless "refrigerator" or "heat pump".
    """
    return _classify_one(power, heat, temperatures, resolution, work_source, depth=1)


def _classify_one(power, heat, temperatures, resolution, work_source, depth):
    """`classify`; warnings point `depth` frames above the public caller's caller."""
    names = list(heat)
    row = [[heat[k] for k in names]], [[temperatures[k] for k in names]]
    mode, eta, cop, _, _ = _classify_many([power], *row, resolution, work_source, depth=depth + 1)
    return str(mode[0]), _none_if_nan(eta[0]), _none_if_nan(cop[0])


def _warn_modes(code, P, delta, source, sigma, stacklevel):
    """One `ThermodynamicsWarning` per kind of undetermined or second-law-violating points."""
    n = code.size
    where = "" if n == 1 else " points"
    undetermined = code == _CODE["undetermined"]
    if not undetermined.any() and not (code == _CODE["second-law violation"]).any():
        return
    P = np.where(np.abs(P) <= delta, 0.0, P)
    reasons = [
        (
            undetermined & source & (P == 0),
            "the power is within the numerical resolution of the currents, so its sign is not resolved",
        ),
        (
            undetermined & source & (P != 0),
            "the power exceeds the resolution but the heat currents that balance it do not",
        ),
        (
            undetermined & ~source,
            "the heat currents do not sum to zero within their resolution although the machine has "
            "no work source (first law)",
        ),
    ]
    for mask, why in reasons:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            count = "" if n == 1 else f"{int(mask.sum())} of {n}"
            warnings.warn(
                f"mode 'undetermined'{' for ' + count + where if count else ''}: {why} "
                f"(P = {P[i]:.3g}, resolution {delta[i]:.3g}"
                + ("" if n == 1 else f" at point {i}")
                + "). The resolution grows with the norms of the current observables (strong "
                "couplings, hot baths) and with the solver's residual.",
                ThermodynamicsWarning,
                stacklevel=stacklevel,
            )
    broken = code == _CODE["second-law violation"]
    if broken.any():
        i = int(np.flatnonzero(broken)[0])
        count = "" if n == 1 else f" at {int(broken.sum())} of {n} points"
        warnings.warn(
            f"mode 'second-law violation'{count}: heat flows up the temperature gradient with no work "
            f"source, negative entropy production {sigma[i]:.3e} (e.g. a local master equation "
            "booked against the full Hamiltonian).",
            ThermodynamicsWarning,
            stacklevel=stacklevel,
        )


def _legacy_floor(P, J):
    """1e-15 + 1e-9 max(|P|, |J_a|) per point: the zero of callers that know no resolution."""
    scale = np.maximum(np.abs(P), np.abs(J).max(axis=0, initial=0.0))
    return _ABSOLUTE_ZERO + _RELATIVE_ZERO * scale


def _none_if_nan(x):
    return None if np.isnan(x) else float(x)


# ----------------------------------------------------------------------------------------------
# entropy production, Carnot


def entropy_production_many(heat, temperatures, *, resolution=0.0):
    """-sum_a J_a / T_a per row of `heat` (n, n_reservoirs): the entropy production rate at a NESS.

    Currents within `resolution` count as zero; a nonzero current into (out of) a T = 0 reservoir
    gives +inf (-inf).  The result is 0.0 within its own resolution, `resolution` / min_a T_a.
    """
    J, T = _reservoir_major(heat, temperatures)
    delta = np.broadcast_to(np.asarray(resolution, dtype=float), J.shape[1:])
    unknown = delta == 0
    if unknown.any():
        delta = np.where(unknown, _legacy_floor(0.0, J), delta)
    return _entropy_rate(np.where(np.abs(J) <= delta, 0.0, J), T, delta)


def _entropy_rate(J, T, delta):
    """-sum_a J_a / T_a of reservoir-major currents already resolved (zeros within delta)."""
    positive = T > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if positive.all():
            sigma = -(J / T).sum(axis=0)
            floor = delta / T.min(axis=0)
        else:
            terms = np.where(
                positive, -J / np.where(positive, T, 1.0), np.where(J == 0, 0.0, -np.sign(J) * np.inf)
            )
            sigma = terms.sum(axis=0)
            floor = delta / np.where(positive, T, np.inf).min(axis=0)
    return np.where(np.abs(sigma) <= floor, 0.0, sigma) + 0.0


def entropy_production(heat, temperatures, *, resolution=0.0) -> float:
    """-sum_a J_a / T_a over the reservoirs of the mappings `heat` and `temperatures`."""
    names = list(heat)
    rows = [[heat[k] for k in names]], [[temperatures[k] for k in names]]
    return float(entropy_production_many(*rows, resolution=resolution)[0])


def _reservoir_major(heat, temperatures):
    """(n, n_reservoirs) heats and temperatures as C-contiguous (n_reservoirs, n) arrays."""
    heat = np.atleast_2d(np.asarray(heat, dtype=float))
    temperatures = np.broadcast_to(np.asarray(temperatures, dtype=float), heat.shape)
    return np.ascontiguousarray(heat.T), np.ascontiguousarray(temperatures.T)


def carnot_efficiency(temperatures) -> float | None:
    """1 - T_cold / T_hot over the reservoirs (None with fewer than two distinct temperatures)."""
    values = sorted(temperatures.values())
    if len(values) < 2 or values[-1] <= 0 or values[0] == values[-1]:
        return None
    return 1.0 - values[0] / values[-1]


def warn_if_second_law_broken(
    sigma: float, heat, temperatures, what: str, resolution=None, stacklevel: int = 3
) -> None:
    """Warn (`ThermodynamicsWarning`) when the entropy production is negative beyond its resolution.

    The number itself is reported unchanged by the caller: a model that breaks the second law (a
    local master equation booked against the full Hamiltonian) is shown as it is, never clipped.
    Without a `resolution`, a relative round-off heuristic stands in for it (cycles).
    """
    if resolution is not None:
        floor = 0.0
    else:
        scale = sum(abs(J) / temperatures[k] for k, J in heat.items() if temperatures[k] > 0)
        floor = _RELATIVE_ZERO * scale + _ABSOLUTE_ZERO
    if sigma < -floor:
        warnings.warn(
            f"negative entropy production {sigma:.3e} for {what}: the model breaks the second law "
            "(e.g. a local master equation booked against the full Hamiltonian).",
            ThermodynamicsWarning,
            stacklevel=stacklevel,
        )


def json_number(x):
    """A float for JSON: None stays None, inf and nan become strings."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else str(x)


# ----------------------------------------------------------------------------------------------
# per-bath entropy ledger (Spohn)

#: Largest medium dimension for which the fixed point of a local dissipator is found from its dense
#: (d^2, d^2) superoperator; above it the per-bath ledger of a local engine is reported as unavailable.
FIXED_POINT_DENSE_MAX_DIM = 32


def bath_fixed_points(generator, options=None, site_dims=(None,)) -> tuple:
    """Per dissipator D_a, its fixed point pi_a (D_a(pi_a) = 0, generator basis) and why it is missing.

    Returns a tuple of ``(pi_a, reason)``: ``(ndarray, None)`` when D_a alone has one fixed state,
    ``(None, reason)`` otherwise (several, e.g. a local dissipator leaves the other sites free, or a
    reservoir with zero rates), never an invented one.  For global (Davies) dissipators the kernel is
    sought in the zero-frequency sector, where D_a's states are (D_a is covariant: it maps that
    sector to itself); pi_a is then the Gibbs state of H at T_a (mu_a for leads), Davies' detailed
    balance.  A local dissipator on one site of a multi-site medium (`site_dims` its site
    dimensions) is D_s (x) id on the other sites: it leaves their state free, so its fixed points
    pi_s (x) X span at least (d / d_s)^2 dimensions, known without a solve.  Other local dissipators
    are solved on their dense superoperator for d <= `FIXED_POINT_DENSE_MAX_DIM`.
    """
    out = []
    d = generator.dim
    for a, D in enumerate(generator.dissipators):
        name = D.reservoir.name
        site = D.reservoir.site
        if generator.flavour == "local" and len(site_dims) > 1 and site is not None:
            free = (d // site_dims[site]) ** 2
            out.append(
                (
                    None,
                    f"reservoir {name!r}: its local dissipator acts on site {site} only and leaves the "
                    f"state of the other sites free ({free} or more independent fixed points), so its "
                    "Spohn term is not defined",
                )
            )
            continue
        if generator.davies is not None:
            spec = generator.davies.spectrum
            M = generator.davies.zero_frequency_generator(a)
            x, k = linalg.fixed_point(M, generator.davies.sector_trace(), options)
            pi = None if x is None else spec.from_sector(x)
        elif d > FIXED_POINT_DENSE_MAX_DIM:
            out.append(
                (
                    None,
                    f"reservoir {name!r}: fixed point of a local dissipator not sought for d = {d} "
                    f"> {FIXED_POINT_DENSE_MAX_DIM}",
                )
            )
            continue
        else:
            A = linalg.to_dense(D.superoperator(dense=True)) if D.jumps else np.zeros((d * d, d * d))
            x, k = linalg.fixed_point(A, linalg.trace_vector(d), options)
            pi = None if x is None else linalg.unvec(x, d)
        if pi is None:
            out.append(
                (
                    None,
                    f"reservoir {name!r}: its dissipator alone has {k} independent fixed points, "
                    "so its Spohn term is not defined",
                )
            )
        else:
            pi = 0.5 * (pi + pi.conj().T)
            out.append((pi, None))
    return tuple(out)


def spectrum_on_support(rho, support_tol: float = 1e-12):
    """Eigen-decomposition (p, V) of a trusted density matrix, eigenvalues <= `support_tol` set to 0."""
    p, V = np.linalg.eigh(0.5 * (rho + np.conj(rho).T))
    return np.where(p <= support_tol, 0.0, p), V


def bath_entropy_rates(generator, rho, rho_spectrum, fixed, reference_spectrum=None, *, rtol=1e-10):
    """Spohn's per-bath entropy production of the state `rho` (generator basis) and its housekeeping part.

    For each dissipator D_a with fixed point pi_a (`bath_fixed_points`, as eigen-decompositions
    ``fixed`` = tuple of (p, V) or None):

    * sigma_a = -Tr[D_a(rho)(ln rho - ln pi_a)] >= 0 (H. Spohn, J. Math. Phys. 19, 1227 (1978));
    * sigma_hk_a = -Tr[D_a(rho)(ln pi - ln pi_a)], pi the NESS (`reference_spectrum`), so that
      sum_a sigma_hk_a = sigma_hk; at rho = pi it is sigma_a.

    Returns a list of ``(sigma_a, sigma_hk_a, reason)`` with None where pi_a is missing and inf / nan
    where a logarithm is infinite on a kernel (``reason`` says which).
    """
    out = []
    for D, fp in zip(generator.dissipators, fixed):
        if fp is None:
            out.append((None, None, None))
            continue
        X = np.asarray(D.apply(rho))
        X = 0.5 * (X + X.conj().T)
        tol = rtol * max(float(np.max(np.abs(X), initial=0.0)), np.finfo(float).tiny)
        reasons = []
        log_pi_a = linalg.log_trace_value(*linalg.trace_log(X, *fp, tol))
        log_rho = linalg.log_trace_value(*linalg.trace_log(X, *rho_spectrum, tol))
        with np.errstate(invalid="ignore"):
            sigma = float(-log_rho + log_pi_a)
        hk = None
        if reference_spectrum is not None:
            log_pi = linalg.log_trace_value(*linalg.trace_log(X, *reference_spectrum, tol))
            with np.errstate(invalid="ignore"):
                hk = float(-log_pi + log_pi_a)
        for label, v in (("sigma", sigma), ("sigma_hk", hk)):
            if v is not None and not math.isfinite(v):
                reasons.append(
                    f"{label}_{D.reservoir.name} is {v}: D_a(rho) has weight on the kernel "
                    "of a singular state"
                )
        out.append((sigma, hk, "; ".join(reasons) or None))
    return out


# non-thermal reservoirs


def clausius_undefined(reservoirs) -> str | None:
    """Why temperature-based figures are undefined for `reservoirs`, or None when all are thermal.

    A squeezed or engineered reservoir's fixed point is no Gibbs state, so no temperature describes
    it: Carnot efficiency, eta / eta_C, -sum_a J_a / T_a and the mode rules that compare temperatures
    have no meaning (docs/physics.md, Sections 2 and 8).  No effective temperature is made up.
    """
    names = [r.name for r in reservoirs if not getattr(r, "thermal", True)]
    if not names:
        return None
    return (
        "reservoir"
        + ("s " if len(names) > 1 else " ")
        + ", ".join(repr(n) for n in names)
        + " not thermal (no temperature describes a squeezed or engineered bath): Carnot efficiency, "
        "Clausius entropy production and the temperature-based mode rules are undefined; the energy "
        "currents and the relative-entropy form are reported"
    )


def classify_nonthermal(power, heat, resolution):
    """Mode, efficiency and COP of a machine with a non-thermal reservoir (no temperatures).

    Only what needs no temperature is classified: P > resolution with heat taken in is an "engine"
    with efficiency P / (sum of the heats J_a > 0) (W / Q_in of Rossnagel et al., PRL 112, 030602
    (2014)); everything else is "non-thermal" (which reservoir is cold is not defined).

    Returns
    -------
    (mode, efficiency, cop) : (str, float or None, None)
    """
    delta = float(resolution)
    given = sum(J for J in heat.values() if J > delta)
    if power > delta and given > delta:
        return "engine", float(power / given), None
    return "non-thermal", None, None
