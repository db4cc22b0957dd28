"""Entropy production of a continuous machine away from its steady state: two faces and a coherence part.

For a state rho of the medium under the engine's GKSL generator L = -i[H, .] + sum_a D_a
(docs/physics.md, "Entropy production (two faces)"):

* Clausius (total) form: sigma = dS/dt - sum_a J_a / T_a, with dS/dt = -Tr[L(rho) ln rho] and the
  heat currents J_a = Tr[H_ref D_a(rho)] - mu_a I_a (positive into the medium);
* non-adiabatic (relative-entropy) form: sigma_na = -d/dt D(rho_t || pi) = -Tr[L(rho)(ln rho - ln pi)]
  with pi the NESS of L;
* housekeeping: sigma_hk = sigma - sigma_na = -Tr[L(rho) ln pi] - sum_a J_a / T_a.

All time derivatives are analytic (L acting on rho), never finite differences.  Units hbar = k_B = 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from engines import thermo
from engines.checks import FrozenMapping, WorkbenchError, matrix, real
from engines.linalg import (
    Propagator,
    blas_threads,
    entropy_of_spectrum,
    log_trace_value,
    trace_log,
    trace_vector,
    von_neumann,
)

__all__ = [
    "EntropyRates",
    "Relaxation",
    "entropy_production_rates",
    "relative_entropy",
    "relaxation",
    "von_neumann_entropy",
]

#: Absolute tolerance on a density matrix: max |rho - rho^dag|, |Tr rho - 1| and negative eigenvalues.
DENSITY_TOL = 1e-10
#: Eigenvalues at or below this are outside the support (clipped to 0 before taking logarithms).
SUPPORT_TOL = 1e-12
#: Weight of L(rho) (relative to its largest entry) on a kernel that counts as a flow into it.
FLOW_RTOL = 1e-10


# ----------------------------------------------------------------------------------------------
# states


def _spectrum(owner: str, field: str, rho, dim=None) -> tuple[np.ndarray, np.ndarray]:
    """Check `rho` is a density matrix (within `DENSITY_TOL`) and return its clipped eigen-decomposition.

    Eigenvalues in [-DENSITY_TOL, SUPPORT_TOL] are set to exactly 0 (round-off of a singular state).
    """
    m = matrix(owner, field, rho, dim=dim)
    herm_err = float(np.max(np.abs(m - m.conj().T)))
    if herm_err > DENSITY_TOL:
        raise WorkbenchError(
            f"{owner}: `{field}` must be a Hermitian density matrix, got max |rho - rho^dag| = "
            f"{herm_err:.3g} (> {DENSITY_TOL:g}); symmetrise it with (rho + rho^dag) / 2 "
            "if this is round-off."
        )
    trace = float(np.real(np.trace(m)))
    if abs(trace - 1.0) > DENSITY_TOL:
        raise WorkbenchError(
            f"{owner}: `{field}` must be a density matrix of unit trace, got Tr rho = {trace!r}; "
            "divide it by its trace."
        )
    p, V = np.linalg.eigh(0.5 * (m + m.conj().T))
    if p[0] < -DENSITY_TOL:
        raise WorkbenchError(
            f"{owner}: `{field}` must be positive semidefinite, got the eigenvalue {p[0]:.3g} "
            f"(< -{DENSITY_TOL:g}); it is not a state."
        )
    p = np.where(p <= SUPPORT_TOL, 0.0, p)
    return p, V


def von_neumann_entropy(rho) -> float:
    """Von Neumann entropy S(rho) = -Tr[rho ln rho] (nats).

    Parameters
    ----------
    rho : array_like (d, d)
        Density matrix (Hermitian, unit trace, positive within `DENSITY_TOL`).

    Returns
    -------
    float

    Raises
    ------
    WorkbenchError
        If `rho` is not a density matrix beyond tolerance.

    Notes
    -----
    Computed from the eigenvalues p_k of rho, S = -sum_k p_k ln p_k with 0 ln 0 = 0; eigenvalues
    within round-off of zero (<= `SUPPORT_TOL`) are clipped to 0.
    """
    p, _ = _spectrum("von_neumann_entropy", "rho", rho)
    return entropy_of_spectrum(p)


def relative_entropy(rho, sigma) -> float:
    """Quantum relative entropy D(rho || sigma) = Tr[rho (ln rho - ln sigma)] (nats).

    Parameters
    ----------
    rho, sigma : array_like (d, d)
        Density matrices.

    Returns
    -------
    float
        >= 0; ``math.inf`` when the support of rho is not inside the support of sigma.

    Raises
    ------
    WorkbenchError
        If either argument is not a density matrix beyond tolerance, or the shapes differ.

    Notes
    -----
    With rho = sum_k p_k |k><k| and sigma = sum_j s_j |j><j|,
    D = sum_k p_k ln p_k - sum_{s_j > 0} ln s_j <j|rho|j>, and D = +inf if Tr[P_0 rho] > `SUPPORT_TOL`
    with P_0 the projector on ker sigma (Umegaki 1962; Spohn, J. Math. Phys. 19, 1227 (1978)).
    """
    p, _ = _spectrum("relative_entropy", "rho", rho)
    s, W = _spectrum("relative_entropy", "sigma", sigma, dim=p.size)
    rho_m = np.asarray(rho, dtype=complex)
    finite, kernel = trace_log(rho_m, s, W, SUPPORT_TOL)
    if kernel > 0:
        return math.inf
    return max(0.0, -entropy_of_spectrum(p) - finite)  # D >= 0 (Klein); clip only round-off below zero


# ----------------------------------------------------------------------------------------------
# rates


@dataclass(frozen=True)
class EntropyRates:
    """Entropy balance of one state of the medium under an engine's generator.

    Attributes
    ----------
    entropy_rate : float
        dS/dt = -Tr[L(rho) ln rho]; +inf when rho is singular and L(rho) feeds its kernel.
    heat_currents : dict name -> float
        J_a = Tr[H_ref D_a(rho)] - mu_a I_a, positive into the medium.
    temperatures : dict name -> float
    reservoir_entropy_rate : float or None
        -sum_a J_a / T_a, the entropy the reservoirs gain per unit time (None for non-thermal ones).
    total : float or None
        Clausius form sigma = dS/dt - sum_a J_a / T_a (None when a reservoir is not thermal).
    non_adiabatic : float
        sigma_na = -Tr[L(rho)(ln rho - ln pi)] = -d/dt D(rho_t || pi).
    housekeeping : float or None
        sigma_hk = sigma - sigma_na = -Tr[L(rho) ln pi] - sum_a J_a / T_a.
    reason : str or None
        Why a rate is infinite, NaN or None (None when all are finite).
    spohn : dict name -> float or None
        Per-bath Spohn term sigma_a = -Tr[D_a(rho)(ln rho - ln pi_a)] >= 0, pi_a the fixed point of D_a
        alone; None when D_a has no unique fixed point.  sum_a sigma_a = sigma for global engines.
    bath_housekeeping : dict name -> float or None
        sigma_hk_a = -Tr[D_a(rho)(ln pi - ln pi_a)]; sums to sigma_hk for global engines, equals
        sigma_a at the NESS.
    entropy_flows : dict name -> float or None
        -J_a / T_a per reservoir (None for a non-thermal one).
    ledger_reason : str or None
        Why a per-bath term is None, infinite or NaN.
    """

    entropy_rate: float
    heat_currents: dict
    temperatures: dict
    reservoir_entropy_rate: float | None
    total: float | None
    non_adiabatic: float
    housekeeping: float | None
    reason: str | None = None
    spohn: Mapping = None
    bath_housekeeping: Mapping = None
    entropy_flows: Mapping = None
    ledger_reason: str | None = None

    def __post_init__(self):
        for name in ("spohn", "bath_housekeeping", "entropy_flows"):
            object.__setattr__(self, name, FrozenMapping(dict(getattr(self, name) or {})))

    def __repr__(self):
        def f(x):
            return "None" if x is None else f"{x:.4g}"

        return (
            f"EntropyRates(sigma={f(self.total)}, sigma_na={f(self.non_adiabatic)}, "
            f"sigma_hk={f(self.housekeeping)}, dS/dt={f(self.entropy_rate)})"
        )

    def to_dict(self) -> dict:
        """JSON-safe summary (inf and nan as strings)."""
        return {
            "entropy_rate": thermo.json_number(self.entropy_rate),
            "heat_currents": {k: thermo.json_number(v) for k, v in self.heat_currents.items()},
            "temperatures": dict(self.temperatures),
            "reservoir_entropy_rate": thermo.json_number(self.reservoir_entropy_rate),
            "total": thermo.json_number(self.total),
            "non_adiabatic": thermo.json_number(self.non_adiabatic),
            "housekeeping": thermo.json_number(self.housekeeping),
            "reason": self.reason,
            "spohn": {k: thermo.json_number(v) for k, v in self.spohn.items()},
            "bath_housekeeping": {k: thermo.json_number(v) for k, v in self.bath_housekeeping.items()},
            "entropy_flows": {k: thermo.json_number(v) for k, v in self.entropy_flows.items()},
            "ledger_reason": self.ledger_reason,
        }


class _Accounting:
    """What the rates of one engine share across states: its generator, its NESS and ln of it."""

    def __init__(self, engine, steady=None):
        self.engine = engine
        self.gen = engine.generator
        if steady is None:
            steady = engine.steady_state()
        self.steady = steady
        pi_g = self.gen.from_medium_basis(np.asarray(steady.rho, dtype=complex))
        self.pi_spec = _spectrum("entropy_production_rates", "NESS of the engine", pi_g)
        self.pi_g = pi_g
        self.reservoirs = engine.reservoirs
        self.thermal = all(getattr(r, "thermal", True) for r in self.reservoirs)
        # only thermal reservoirs have a temperature (a squeezed bath's T is not one of its state)
        self.temperatures = {r.name: r.T for r in self.reservoirs if getattr(r, "thermal", True)}
        self.secular = self.gen.secular
        self.blocks = self.gen.davies.spectrum.starts if self.secular else None
        self.fixed = [
            None if pi is None else thermo.spectrum_on_support(pi) for pi, _ in engine.bath_fixed_points
        ]
        self.fixed_reasons = [r for _, r in engine.bath_fixed_points if r is not None]

    def rates(self, rho_g: np.ndarray, spec=None) -> EntropyRates:
        """Entropy rates for rho in the generator's basis (`spec` its checked eigen-decomposition)."""
        gen = self.gen
        p, V = spec if spec is not None else _spectrum("entropy_production_rates", "rho", rho_g)
        Lrho = gen.apply(rho_g)
        Lrho = 0.5 * (Lrho + Lrho.conj().T)  # L preserves Hermiticity; drop round-off
        tol = FLOW_RTOL * max(float(np.max(np.abs(Lrho))), np.finfo(float).tiny)
        reasons = []

        # dS/dt = -Tr[L(rho) ln rho]; on ker rho, P_0 L(rho) P_0 >= 0 (positivity), so a nonzero
        # weight there means dS/dt = +inf (d/dt of -p ln p at p = 0 with dp/dt > 0).
        fin_rho, ker_rho = trace_log(Lrho, p, V, tol)
        if ker_rho > 0:
            dS = math.inf
            reasons.append(
                f"rho is singular and L(rho) feeds its kernel (Tr[P_0 L(rho)] = {ker_rho:.3g} > 0): "
                "dS/dt = +inf, and so are sigma and sigma_na"
            )
        elif ker_rho < 0:  # impossible for a GKSL generator on a state; reported, not hidden
            dS = -math.inf
            reasons.append(f"L(rho) drains the kernel of rho (Tr[P_0 L(rho)] = {ker_rho:.3g} < 0)")
        else:
            dS = -fin_rho

        # Tr[L(rho) ln pi]: infinite only if pi is singular (a reservoir at T = 0) and L(rho) moves
        # weight into or out of its kernel.
        fin_pi, ker_pi = trace_log(Lrho, *self.pi_spec, tol)
        tr_log_pi = log_trace_value(fin_pi, ker_pi)
        if ker_pi != 0:
            reasons.append(
                f"the NESS is singular and L(rho) has weight {ker_pi:.3g} on its kernel: "
                "Tr[L(rho) ln pi] is infinite"
            )

        energy, number = gen.currents(rho_g)
        heat = {r.name: float(e - r.mu * n) for r, e, n in zip(self.reservoirs, energy, number)}
        with np.errstate(invalid="ignore"):
            sigma_na = float(dS + tr_log_pi)
        if self.thermal:
            flow = thermo.entropy_production(heat, self.temperatures)
            with np.errstate(invalid="ignore"):
                sigma = float(dS + flow)
                sigma_hk = float(-tr_log_pi + flow)
            if math.isinf(flow):
                reasons.append("heat flows to or from a reservoir at T = 0: -sum_a J_a / T_a is infinite")
        else:
            flow = sigma = sigma_hk = None
            reasons.append("a reservoir is not thermal: the Clausius form has no meaning, only sigma_na")
        if any(x is not None and math.isnan(x) for x in (sigma_na, sigma, sigma_hk)):
            reasons.append("inf - inf: a rate is undefined (NaN)")
        spohn, bath_hk, ledger = {}, {}, list(self.fixed_reasons)
        for res, (s_a, hk_a, why) in zip(
            self.reservoirs, thermo.bath_entropy_rates(gen, rho_g, (p, V), self.fixed, self.pi_spec)
        ):
            spohn[res.name], bath_hk[res.name] = s_a, hk_a
            if why:
                ledger.append(why)
        flows = {
            r.name: (
                thermo.entropy_production({r.name: heat[r.name]}, {r.name: r.T}) if self.thermal else None
            )
            for r in self.reservoirs
        }
        return EntropyRates(
            ledger_reason="; ".join(ledger) or None,
            spohn=spohn,
            bath_housekeeping=bath_hk,
            entropy_flows=flows,
            entropy_rate=float(dS),
            heat_currents=heat,
            temperatures=dict(self.temperatures),
            reservoir_entropy_rate=flow,
            total=sigma,
            non_adiabatic=sigma_na,
            housekeeping=sigma_hk,
            reason="; ".join(reasons) or None,
        )

    def dephase(self, rho_g: np.ndarray) -> np.ndarray:
        """Delta(rho): pinching onto the eigenspaces of H (the generator's basis is H's eigenbasis)."""
        out = np.zeros_like(rho_g)
        for a, b in zip(self.blocks[:-1], self.blocks[1:]):
            out[a:b, a:b] = rho_g[a:b, a:b]
        return out


def entropy_production_rates(engine, rho, *, steady=None) -> EntropyRates:
    """Entropy production rates of the state `rho` under `engine`'s generator (both faces).

    Parameters
    ----------
    engine : engines.Engine
    rho : array_like (d, d)
        Density matrix in the medium's basis (rotating frame when driven).
    steady : engines.SteadyState, optional
        The engine's NESS, if already computed (saves a solve when sweeping states).

    Returns
    -------
    EntropyRates
        Rates in nats per unit time (hbar = k_B = 1).

    Raises
    ------
    WorkbenchError
        If `rho` is not a density matrix of the medium's dimension.

    Notes
    -----
    With L the generator, D_a the dissipator of reservoir a, pi the NESS (L(pi) = 0) and H_ref the
    Hamiltonian heat is booked against:

    * dS/dt = -Tr[L(rho) ln rho];
    * J_a = Tr[H_ref D_a(rho)] - mu_a I_a;
    * sigma = dS/dt - sum_a J_a / T_a (Clausius; Spohn, J. Math. Phys. 19, 1227 (1978): for Davies
      generators sigma = sum_a -Tr[D_a(rho)(ln rho - ln pi_a)] >= 0 with pi_a the Gibbs state at T_a);
    * sigma_na = -Tr[L(rho)(ln rho - ln pi)] = -d/dt D(rho_t || pi) >= 0 for any GKSL L (Spohn 1978);
    * sigma_hk = sigma - sigma_na = -Tr[L(rho) ln pi] - sum_a J_a / T_a (adiabatic/non-adiabatic split
      of M. Esposito and C. Van den Broeck, Phys. Rev. Lett. 104, 090601 (2010)).

    At the NESS sigma_na = 0 and sigma_hk = -sum_a J_a / T_a = `SteadyState.entropy_production_rate`; with a
    single thermal bath sigma_hk = 0.  Logarithms are taken on supports: if rho is singular and L(rho)
    feeds its kernel, dS/dt (and with it sigma and sigma_na) is +inf and `reason` says so; sigma_hk
    stays finite as long as pi is full rank.  For non-thermal reservoirs only sigma_na is reported.
    """
    acc = _Accounting(engine, steady)
    d = acc.gen.dim
    rho_m = matrix("entropy_production_rates", "rho", rho, dim=d)
    _spectrum("entropy_production_rates", "rho", rho_m, dim=d)  # fail in the user's basis first
    return acc.rates(acc.gen.from_medium_basis(rho_m))


# ----------------------------------------------------------------------------------------------
# relaxation


def _frozen(x):
    if x is None:
        return None
    out = np.array(x, dtype=float)
    out.setflags(write=False)
    return out


#: Most points `relaxation(..., until=T)` places before it stops refining (and reports `converged=False`).
MAX_ADAPTIVE_POINTS = 4097
#: Points of the initial grid of an adaptive trajectory (half linear, half geometric in t).
INITIAL_POINTS = 17


def _frozen_map(m):
    return FrozenMapping({k: _frozen(v) for k, v in (m or {}).items()})


@dataclass(frozen=True)
class Relaxation:
    """Entropies and entropy production along a relaxation rho_t = exp(L t) rho_0 (arrays over `times`).

    Attributes
    ----------
    times : ndarray (n,)
    entropy, divergence : ndarray (n,)
        S(rho_t) and D(rho_t || pi), pi the NESS.
    entropy_rate, total, non_adiabatic, housekeeping : ndarray (n,)
        dS/dt, sigma (Clausius), sigma_na and sigma_hk (`EntropyRates`); sigma and sigma_hk are NaN
        for non-thermal reservoirs.
    heat_currents : mapping name -> ndarray (n,)
    population_divergence, coherence : ndarray (n,) or None
        D(Delta(rho_t) || pi) and C(rho_t) for undriven global (Davies) engines, None otherwise.
    spohn, bath_housekeeping, entropy_flows : mapping name -> ndarray (n,)
        The per-bath ledger of `EntropyRates` (NaN where a bath's fixed point is not unique).
    heat : mapping name -> ndarray (n,)
        Q_a(t) = int_0^t J_a ds, exact: Tr[O_a int_0^t rho_s ds] from the same eigendecomposition.
    converged : bool
        For an adaptive grid (``until=``), whether it met `rtol` within `MAX_ADAPTIVE_POINTS`.
    ledger_reason : str or None
        Why a bath's ledger columns are NaN (its dissipator alone has no unique fixed point).

    Notes
    -----
    Integrated figures (properties): `entropy_produced` Sigma(t) = S(t) - S(0) - sum_a Q_a(t) / T_a
    = int_0^t sigma ds, and `non_adiabatic_produced` = D(rho_0 || pi) - D(rho_t || pi) = int_0^t
    sigma_na ds; both are state functions and exact heats, so no quadrature of rates that diverge at
    t = 0 for a pure rho_0.
    """

    times: np.ndarray
    entropy: np.ndarray
    divergence: np.ndarray
    entropy_rate: np.ndarray
    total: np.ndarray
    non_adiabatic: np.ndarray
    housekeeping: np.ndarray
    heat_currents: FrozenMapping
    population_divergence: np.ndarray | None = None
    coherence: np.ndarray | None = None
    spohn: FrozenMapping = None
    bath_housekeeping: FrozenMapping = None
    entropy_flows: FrozenMapping = None
    heat: FrozenMapping = None
    temperatures: FrozenMapping = None
    converged: bool = True
    ledger_reason: str | None = None

    def __post_init__(self):
        for name in (
            "times",
            "entropy",
            "divergence",
            "entropy_rate",
            "total",
            "non_adiabatic",
            "housekeeping",
            "population_divergence",
            "coherence",
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        for name in ("heat_currents", "spohn", "bath_housekeeping", "entropy_flows", "heat"):
            object.__setattr__(self, name, _frozen_map(getattr(self, name)))
        object.__setattr__(self, "temperatures", FrozenMapping(dict(self.temperatures or {})))

    def __len__(self) -> int:
        return self.times.size

    @property
    def entropy_produced(self) -> np.ndarray | None:
        """Sigma(t) = S(t) - S(0) - sum_a Q_a(t) / T_a (None for non-thermal reservoirs or no heats)."""
        if not self.heat or not self.temperatures or np.all(np.isnan(self.total)):
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            flow = sum(self.heat[k] / self.temperatures[k] for k in self.heat)
        out = self.entropy - self.entropy[0] - flow
        out.setflags(write=False)
        return out

    @property
    def non_adiabatic_produced(self) -> np.ndarray:
        """D(rho_0 || pi) - D(rho_t || pi) = int_0^t sigma_na ds (`times` sorted)."""
        out = self.divergence[0] - self.divergence
        out.setflags(write=False)
        return out

    def to_frame(self):
        """The trajectory as a table indexed by ``t``.

        Columns S, D, dS_dt, sigma, sigma_na, sigma_hk, J_<name>, and D_populations, coherence where
        defined, then the per-bath ledger sigma_<name>, sigma_hk_<name>, flow_<name> (-J/T), the
        exact heats Q_<name> and the integrals Sigma (int sigma) and Sigma_na (int sigma_na).
        """
        import pandas as pd  # lazily: `qhe run` imports `analysis` and must not pay for pandas

        data = {
            "S": self.entropy,
            "D": self.divergence,
            "dS_dt": self.entropy_rate,
            "sigma": self.total,
            "sigma_na": self.non_adiabatic,
            "sigma_hk": self.housekeeping,
            **{f"J_{k}": v for k, v in self.heat_currents.items()},
        }
        if self.population_divergence is not None:
            data.update(D_populations=self.population_divergence, coherence=self.coherence)
        data.update({f"sigma_{k}": v for k, v in self.spohn.items()})
        data.update({f"sigma_hk_{k}": v for k, v in self.bath_housekeeping.items()})
        data.update({f"flow_{k}": v for k, v in self.entropy_flows.items()})
        data.update({f"Q_{k}": v for k, v in self.heat.items()})
        if self.heat:
            produced = self.entropy_produced
            data["Sigma"] = produced if produced is not None else np.full(self.times.size, np.nan)
            data["Sigma_na"] = self.non_adiabatic_produced
        return pd.DataFrame(data, index=pd.Index(self.times, name="t"))

    def to_dict(self) -> dict:
        """JSON-safe columns (lists; inf and NaN as strings)."""
        frame = self.to_frame().reset_index()
        return {c: [thermo.json_number(v) for v in frame[c].tolist()] for c in frame.columns}


def _none_nan(x):
    return math.nan if x is None else float(x)


class _Trajectory:
    """Rows of the ledger at any t from one eigendecomposition of L.

    L acts on vec(rho) in the generator's basis (column stacking), split into the sectors it maps
    into themselves (`Propagator` with ``blocks="auto"``: for a secular generator the Bohr-frequency
    sectors), trace kept exactly.
    """

    def __init__(self, acc, rho0):
        self.acc = acc
        gen = acc.gen
        self.d = gen.dim
        self.v0 = gen.from_medium_basis(rho0).reshape(-1, order="F")
        self.prop = Propagator(
            gen.superoperator(), acc.engine.options, blocks="auto", conserved=trace_vector(self.d)
        )

    def rows(self, times) -> list[dict]:
        """The ledger at each of `times`: the states and their integrals from one product per sector."""
        states = self.prop.trajectory(self.v0, times)
        integrals = self.prop.trajectory(self.v0, times, "integral")
        return [self._row(float(tk), v, w) for tk, v, w in zip(times, states, integrals)]

    def _row(self, tk: float, state: np.ndarray, integral: np.ndarray) -> dict:
        acc, gen, d = self.acc, self.acc.gen, self.d
        rho_g = state.reshape(d, d, order="F")
        rho_g = 0.5 * (rho_g + rho_g.conj().T)
        spec = _spectrum("relaxation", "rho_t", rho_g)
        r = acc.rates(rho_g, spec)
        S = entropy_of_spectrum(spec[0])
        # D(rho || pi) = -S(rho) - Tr[rho ln pi], with pi's decomposition computed once
        fin, ker = trace_log(rho_g, *acc.pi_spec, SUPPORT_TOL)
        row = {
            "t": float(tk),
            "S": S,
            "D": math.inf if ker > 0 else max(0.0, -S - fin),
            "dS_dt": r.entropy_rate,
            "sigma": _none_nan(r.total),
            "sigma_na": r.non_adiabatic,
            "sigma_hk": _none_nan(r.housekeeping),
        }
        row.update({f"J_{k}": v for k, v in r.heat_currents.items()})
        if acc.secular:
            # pi is block diagonal in H's eigenbasis, so Tr[Delta(rho) ln pi] = Tr[rho ln pi]
            S_dephased = von_neumann(acc.dephase(rho_g), SUPPORT_TOL)
            row["D_populations"] = math.inf if ker > 0 else max(0.0, -S_dephased - fin)
            row["coherence"] = max(0.0, S_dephased - S)
        row.update({f"sigma_{k}": _none_nan(v) for k, v in r.spohn.items()})
        row.update({f"sigmahk_{k}": _none_nan(v) for k, v in r.bath_housekeeping.items()})
        row.update({f"flow_{k}": _none_nan(v) for k, v in r.entropy_flows.items()})
        # exact heat: Q_a(t) = Tr[O_a int_0^t rho_s ds] (the currents are linear in rho)
        energy, number = gen.currents(integral.reshape(d, d, order="F"))
        row.update(
            {f"Q_{res.name}": float(e - res.mu * n) for res, e, n in zip(acc.reservoirs, energy, number)}
        )
        return row

    def slowest_fastest(self) -> tuple[float, float]:
        """The smallest and largest nonzero decay rates |Re lambda| of L where rho0 goes (see eigenvalues)."""
        lam, zero = self.prop.eigenvalues(self.v0)
        rates = np.abs(lam.real[~zero])
        rates = rates[rates > 0]
        if rates.size == 0:
            return math.nan, math.nan
        return float(rates.min()), float(rates.max())


def _adaptive_times(traj, until: float, rtol: float) -> tuple[list, bool]:
    """Rows on a grid refined until it resolves the trajectory to `rtol`.

    The initial grid mixes a linear grid on [0, until] with a geometric one from 0.1 / (fastest rate
    of L) so that the fast transients are sampled.  An interval [a, b] is accepted when (i) the
    trapezoid of every J_a over it matches the exact heat Q_a(b) - Q_a(a), and (ii) linear
    interpolation of S, D and the finite rates at the midpoint matches their values there, both
    within rtol times the column's range over the trajectory; otherwise its midpoint is added.
    """
    _, fastest = traj.slowest_fastest()
    lin = np.linspace(0.0, until, INITIAL_POINTS)
    if math.isfinite(fastest) and 0.1 / fastest < until:
        geo = np.geomspace(0.1 / fastest, until, INITIAL_POINTS)
    else:
        geo = np.array([])
    grid = np.unique(np.concatenate([lin, geo]))
    rows = dict(zip(grid.tolist(), traj.rows(grid)))
    keys = [k for k in rows[0.0] if k != "t"]
    heats = [k for k in keys if k.startswith("Q_")]
    values = [k for k in keys if not k.startswith("Q_")]
    flagged = sorted(rows)
    flagged = list(itertools.pairwise(flagged))
    while flagged:
        if len(rows) + len(flagged) > MAX_ADAPTIVE_POINTS:
            return [rows[t] for t in sorted(rows)], False
        table = np.array([[rows[t][k] for k in keys] for t in sorted(rows)], dtype=float)
        finite = np.isfinite(table)
        high = np.max(np.where(finite, table, -np.inf), axis=0)
        low = np.min(np.where(finite, table, np.inf), axis=0)
        with np.errstate(invalid="ignore"):
            spread = high - low  # NaN (inf - inf) for a column without a finite value
        scale = {k: (float(v) if np.isfinite(v) and v > 0 else 0.0) for k, v in zip(keys, spread)}
        refine = []
        mids = [0.5 * (a + b) for a, b in flagged]
        rows.update(zip(mids, traj.rows(mids)))
        for (a, b), m in zip(flagged, mids):
            ra, rb, mid = rows[a], rows[b], rows[m]
            bad = False
            for k in heats:
                j = "J_" + k[2:]
                trap = 0.5 * (b - a) * (ra[j] + rb[j])
                tol = rtol * max(scale[k], np.finfo(float).tiny) * (b - a) / until + 1e-14
                bad |= abs(trap - (rb[k] - ra[k])) > tol
            for k in values:
                va, vb, vm = ra[k], rb[k], mid[k]
                if not all(map(math.isfinite, (va, vb, vm))) or scale[k] == 0:
                    continue
                bad |= abs(0.5 * (va + vb) - vm) > rtol * scale[k]
            if bad:
                refine += [(a, m), (m, b)]
        flagged = refine
    return [rows[t] for t in sorted(rows)], True


def relaxation(engine, rho0, times=None, *, until=None, rtol=1e-3, steady=None) -> Relaxation:
    """Entropy, distance to the NESS, entropy production and its per-bath ledger along rho_t = exp(L t) rho0.

    Parameters
    ----------
    engine : engines.Engine
    rho0 : array_like (d, d)
        Initial density matrix in the medium's basis.
    times : array_like (n,), optional
        Times >= 0 (any order).  Give either `times` or `until`.
    until : float, optional
        Final time T > 0 of an adaptive grid on [0, T], refined until it resolves the trajectory
        to `rtol` (see Notes).
    rtol : float, optional
        Relative accuracy of the adaptive grid (default 1e-3), in (0, 1).
    steady : engines.SteadyState, optional
        The engine's NESS pi, if already computed.

    Returns
    -------
    Relaxation
        Its ``to_frame()`` is indexed by ``t``, with columns ``S`` (S(rho_t)), ``D`` (D(rho_t || pi)),
        ``dS_dt``, ``sigma``, ``sigma_na``, ``sigma_hk`` (see `entropy_production_rates`; sigma and
        sigma_hk are NaN for non-thermal reservoirs), ``J_<name>`` per reservoir, for undriven global
        (Davies) engines ``D_populations`` = D(Delta(rho_t) || pi) and ``coherence`` = C(rho_t), the
        per-bath ledger and the integrated quantities (`Relaxation`).

    Raises
    ------
    WorkbenchError
        If `rho0` is not a density matrix, `times` are not finite and >= 0, or neither or both of
        `times` and `until` are given.

    Notes
    -----
    rho_t is computed from the superoperator in the generator's basis (column stacking), each
    invariant sector (the Bohr-frequency sectors of a secular generator) diagonalised once; a
    near-defective sector (eigenvector condition number above `Propagator.MAX_CONDITION`) falls back
    to ``scipy.linalg.expm`` at each time.  The heats Q_a(t) = Tr[O_a int_0^t rho_s ds] use the same
    decomposition (exact, not a quadrature).  The adaptive grid starts from a linear and a
    geometric grid (the latter from 0.1 over the fastest decay rate of L) and halves every interval
    on which the trapezoid of a current misses the exact heat, or linear interpolation misses a
    state function or finite rate at the midpoint, by more than `rtol` of that column's range.

    The coherence split (secular dynamics; Davies generators are covariant, so Delta commutes with
    exp(L t) and Delta(pi) = pi):

        D(rho || pi) = D(Delta(rho) || pi) + C(rho),   C(rho) = S(Delta(rho)) - S(rho) = D(rho || Delta(rho)),

    with Delta the dephasing (pinching) onto the eigenspaces of H.  Both parts decrease monotonically
    under the dynamics by data processing (J. P. Santos, L. C. Celeri, G. T. Landi
    and M. Paternostro, npj Quantum Inf. 5, 23 (2019)).
    """
    acc = _Accounting(engine, steady)
    gen = acc.gen
    d = gen.dim
    rho0 = matrix("relaxation", "rho0", rho0, dim=d)
    _spectrum("relaxation", "rho0", rho0, dim=d)
    if (times is None) == (until is None):
        raise WorkbenchError(
            f"relaxation: give exactly one of `times` (a list of times) and `until` (the end of an "
            f"adaptive grid), got times={times!r}, until={until!r}."
        )
    if until is not None:
        until = real("relaxation", "until", until)
        if not until > 0 or not math.isfinite(until):
            raise WorkbenchError(f"relaxation: `until` must be a finite time > 0, got {until!r}.")
        rtol = real("relaxation", "rtol", rtol)
        if not 0 < rtol < 1:
            raise WorkbenchError(f"relaxation: `rtol` must be in (0, 1), got {rtol!r}.")
    else:
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(times < 0):
            raise WorkbenchError(
                f"relaxation: `times` must be a non-empty 1-d array of finite times >= 0, got {times!r}."
            )
    # the library's thread policy (engines.Options.blas_threads): many small products per time
    with blas_threads(engine.options.blas_threads):
        traj = _Trajectory(acc, rho0)
        if until is not None:
            rows, converged = _adaptive_times(traj, until, rtol)
        else:
            rows, converged = traj.rows(times), True
    columns = {k: np.array([row[k] for row in rows], dtype=float) for k in rows[0]}

    def per_bath(prefix):
        return {k[len(prefix) :]: columns.pop(k) for k in list(columns) if k.startswith(prefix)}

    return Relaxation(
        times=columns.pop("t"),
        entropy=columns.pop("S"),
        divergence=columns.pop("D"),
        entropy_rate=columns.pop("dS_dt"),
        total=columns.pop("sigma"),
        non_adiabatic=columns.pop("sigma_na"),
        housekeeping=columns.pop("sigma_hk"),
        heat_currents=per_bath("J_"),
        population_divergence=columns.pop("D_populations", None),
        coherence=columns.pop("coherence", None),
        spohn=per_bath("sigma_"),
        bath_housekeeping=per_bath("sigmahk_"),
        entropy_flows=per_bath("flow_"),
        heat=per_bath("Q_"),
        temperatures=dict(acc.temperatures),
        converged=converged,
        ledger_reason="; ".join(acc.fixed_reasons) or None,
    )
