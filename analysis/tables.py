"""Tables from sweeps: efficiency at maximum power, Pareto fronts, mode boundaries, low-dissipation fits.

Every function takes a sweep table (`analysis.sweep.SweepResult.to_frame()`, or any DataFrame with
the same columns: the swept parameters, ``mode``, ``power``, ``efficiency``, ``cop``, ``J_<name>`` or
``Q_<name>`` and ``T_<name>`` per reservoir) and returns a frozen result or a DataFrame.  Units
hbar = k_B = 1; the sign conventions are those of docs/physics.md.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from engines.checks import WorkbenchError

__all__ = [
    "EfficiencyAtMaxPower",
    "LowDissipationFit",
    "efficiency_at_max_power",
    "efficiency_power",
    "low_dissipation_fit",
    "mode_boundaries",
    "pareto_front",
]


class EdgeWarning(UserWarning):
    """The maximum of a sweep lies on the edge of the swept range: widen the range."""


def _require(table, columns, what):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise WorkbenchError(
            f"{what}: the table has no column {missing[0]!r} (columns: {', '.join(map(str, table.columns))})."
        )


def _temperatures(table):
    """(T_c, T_h) per row: the lowest and highest reservoir temperatures (``T_<name>`` columns)."""
    cols = [c for c in table.columns if str(c).startswith("T_")]
    if not cols:
        raise WorkbenchError("the table has no T_<reservoir> columns (temperatures of the reservoirs).")
    T = table[cols].to_numpy(dtype=float)
    return T.min(axis=1), T.max(axis=1)


def swept(table) -> list:
    """The swept-parameter columns of a sweep table (those before ``path``)."""
    cols = list(table.columns)
    return cols[: cols.index("path")] if "path" in cols else []


def efficiency_power(table):
    """The engines of a sweep with their power, efficiency, eta/eta_C and Curzon-Ahlborn reference.

    Returns
    -------
    pandas.DataFrame
        The swept parameters, ``power``, ``efficiency``, ``eta_over_carnot``, ``carnot_efficiency``
        and ``curzon_ahlborn`` = 1 - sqrt(T_c/T_h) for every row whose mode is ``engine``, sorted by power.
    """
    _require(table, ("mode", "power", "efficiency"), "efficiency_power")
    engines = table[table["mode"] == "engine"].copy()
    T_c, T_h = _temperatures(engines) if len(engines) else (np.array([]), np.array([]))
    with np.errstate(divide="ignore", invalid="ignore"):
        engines["carnot_efficiency"] = 1.0 - T_c / T_h
        engines["curzon_ahlborn"] = 1.0 - np.sqrt(T_c / T_h)
        engines["eta_over_carnot"] = engines["efficiency"] / engines["carnot_efficiency"]
    columns = [*swept(table), "power", "efficiency", "eta_over_carnot", "carnot_efficiency", "curzon_ahlborn"]
    return engines[columns].sort_values("power", ignore_index=True)


@dataclass(frozen=True)
class EfficiencyAtMaxPower:
    """The engine of a sweep that delivers the most power, and the efficiency references beside it.

    Attributes
    ----------
    parameters : dict
        The swept parameters at maximum power.
    power, efficiency : float
    carnot, curzon_ahlborn : float
        1 - T_c/T_h and 1 - sqrt(T_c/T_h) (F. L. Curzon and B. Ahlborn, Am. J. Phys. 43, 22 (1975)).
    on_edge : tuple of str
        Swept parameters whose extreme value the maximum sits at (the true maximum may lie outside).
    """

    parameters: dict
    power: float
    efficiency: float
    carnot: float
    curzon_ahlborn: float
    on_edge: tuple

    def to_dict(self) -> dict:
        """JSON-safe fields."""
        return {
            "parameters": dict(self.parameters),
            "power": self.power,
            "efficiency": self.efficiency,
            "carnot": self.carnot,
            "curzon_ahlborn": self.curzon_ahlborn,
            "on_edge": list(self.on_edge),
        }


def efficiency_at_max_power(table) -> EfficiencyAtMaxPower:
    """Efficiency at maximum power among the engines of a sweep, with Carnot and Curzon-Ahlborn.

    Warns (`EdgeWarning`) when the maximum lies on the edge of the swept range of some parameter.

    Raises
    ------
    WorkbenchError
        If no row of the table is an engine.
    """
    _require(table, ("mode", "power", "efficiency"), "efficiency_at_max_power")
    engines = table[table["mode"] == "engine"]
    if engines.empty:
        raise WorkbenchError("efficiency_at_max_power: no row of the table runs as an engine.")
    best = engines.loc[engines["power"].idxmax()]
    names = swept(table)
    edge = tuple(n for n in names if table[n].nunique() > 2 and best[n] in (table[n].min(), table[n].max()))
    if edge:
        warnings.warn(
            f"the maximum power lies on the edge of the swept range of {', '.join(edge)}: the true maximum "
            "may lie outside it; widen the range.",
            EdgeWarning,
            stacklevel=2,
        )
    T_c, T_h = _temperatures(table.loc[[best.name]])
    return EfficiencyAtMaxPower(
        parameters={n: float(best[n]) for n in names},
        power=float(best["power"]),
        efficiency=float(best["efficiency"]),
        carnot=float(1.0 - T_c[0] / T_h[0]),
        curzon_ahlborn=float(1.0 - math.sqrt(T_c[0] / T_h[0])),
        on_edge=edge,
    )


def pareto_front(table, kind: str = "engine"):
    """The non-dominated designs: no other design has both more power and more efficiency.

    Parameters
    ----------
    table : pandas.DataFrame
    kind : {"engine", "refrigerator"}
        Engines trade power P against efficiency; refrigerators cooling power J_cold against COP.

    Returns
    -------
    pandas.DataFrame
        The front's rows, by decreasing power (columns ``x`` and ``y`` hold the two figures).
    """
    _require(table, ("mode",), "pareto_front")
    if kind == "engine":
        rows = table[table["mode"] == "engine"].copy()
        rows["x"], rows["y"] = rows["power"], rows["efficiency"]
    elif kind == "refrigerator":
        rows = table[table["mode"] == "refrigerator"].copy()
        if len(rows):
            T = rows[[c for c in rows.columns if str(c).startswith("T_")]]
            coldest = T.to_numpy().argmin(axis=1)
            names = [str(c)[2:] for c in T.columns]
            prefix = "J_" if f"J_{names[0]}" in rows.columns else "Q_"
            flows = rows[[f"{prefix}{n}" for n in names]].to_numpy()
            rows["x"] = flows[np.arange(len(rows)), coldest]
        else:
            rows["x"] = []
        rows["y"] = rows["cop"]
    else:
        raise WorkbenchError(f"pareto_front: `kind` must be 'engine' or 'refrigerator', got {kind!r}.")
    rows = rows.sort_values(["x", "y"], ascending=[False, False])
    keep, best = [], -math.inf
    for index, y in zip(rows.index, rows["y"].to_numpy()):
        if y > best:
            keep.append(index)
            best = y
    return rows.loc[keep].reset_index(drop=True)


def mode_boundaries(table, along: str):
    """Where the operating mode changes between neighbouring points along one swept parameter.

    Rows are grouped by the other swept parameters; within a group the points are ordered by `along`.

    Returns
    -------
    pandas.DataFrame
        One row per change: the other parameters, ``<along>_before``, ``<along>_after``,
        ``mode_before``, ``mode_after``.
    """
    import pandas as pd

    _require(table, ("mode", along), "mode_boundaries")
    others = [n for n in swept(table) if n != along]
    groups = table.groupby(others, sort=True) if others else [((), table)]
    rows = []
    for key, group in groups:
        g = group.sort_values(along)
        x, modes = g[along].to_numpy(), g["mode"].to_numpy()
        for i in np.flatnonzero(modes[1:] != modes[:-1]):
            row = dict(zip(others, key if isinstance(key, tuple) else (key,)))
            row.update({f"{along}_before": x[i], f"{along}_after": x[i + 1]})
            row.update(mode_before=modes[i], mode_after=modes[i + 1])
            rows.append(row)
    columns = [*others, f"{along}_before", f"{along}_after", "mode_before", "mode_after"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class LowDissipationFit:
    """The low-dissipation model fitted to a sweep over isotherm durations.

    Q_h = T_h (Delta S - Sigma_h / tau_h) and Q_c = T_c (-Delta S - Sigma_c / tau_c) (M. Esposito,
    R. Kawai, K. Lindenberg and C. Van den Broeck, Phys. Rev. Lett. 105, 150603 (2010)).

    Attributes
    ----------
    delta_s_hot, delta_s_cold : float
        The entropy change fitted from each isotherm (they agree when the model holds).
    sigma_hot, sigma_cold : float
        The dissipation coefficients Sigma_h, Sigma_c.
    predicted : float
        The efficiency at maximum power the fitted model predicts (over both durations, or over one
        duration when the sweep keeps tau_h = tau_c: `equal_durations`).
    measured : float or None
        The efficiency at maximum power in the table.
    bounds : (float, float)
        eta_C / 2 <= eta* <= eta_C / (2 - eta_C), which holds for Sigma_h, Sigma_c >= 0.
    equal_durations : bool
    rms_residual : float
        Root-mean-square misfit of the heats, relative to their largest magnitude.
    """

    delta_s_hot: float
    delta_s_cold: float
    sigma_hot: float
    sigma_cold: float
    predicted: float
    measured: float | None
    bounds: tuple
    equal_durations: bool
    rms_residual: float

    def to_dict(self) -> dict:
        """JSON-safe fields."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def low_dissipation_fit(table, *, tau_hot: str, tau_cold: str, hot: str = "hot", cold: str = "cold"):
    """Fit the low-dissipation model to a cycle sweep over its isotherm durations.

    Parameters
    ----------
    table : pandas.DataFrame
        A cycle sweep with the columns `tau_hot`, `tau_cold`, ``Q_<hot>``, ``Q_<cold>`` and
        ``T_<hot>``, ``T_<cold>``.
    tau_hot, tau_cold : str
        The columns holding the hot and the cold isotherm's duration.
    hot, cold : str
        Names of the hot and the cold reservoir.

    Returns
    -------
    LowDissipationFit

    Notes
    -----
    Each isotherm's heat is linear in 1/tau: Q_h / T_h = Delta S - Sigma_h / tau_h, so a least-squares
    line gives Delta S and Sigma_h (likewise -Q_c / T_c = Delta S + Sigma_c / tau_c).  Maximising
    P = (Q_h + Q_c) / (tau_h + tau_c) over both durations gives tau_c / tau_h = sqrt(b / a) with
    a = T_h Sigma_h, b = T_c Sigma_c, and eta* = eta_C / (2 - eta_C / (1 + sqrt(b / a)))
    (Esposito et al. 2010); with tau_h = tau_c = tau the maximum over tau gives
    eta* = eta_C / (2 - eta_C a / (a + b)).  Both lie in [eta_C / 2, eta_C / (2 - eta_C)].
    """
    Q_h, Q_c = f"Q_{hot}", f"Q_{cold}"
    _require(table, (tau_hot, tau_cold, Q_h, Q_c, f"T_{hot}", f"T_{cold}"), "low_dissipation_fit")
    t_h, t_c = table[tau_hot].to_numpy(float), table[tau_cold].to_numpy(float)
    if not (np.all(np.isfinite(t_h)) and np.all(np.isfinite(t_c)) and np.all(t_h > 0) and np.all(t_c > 0)):
        raise WorkbenchError("low_dissipation_fit: the isotherm durations must be finite and > 0.")
    if np.unique(t_h).size < 2 or np.unique(t_c).size < 2:
        raise WorkbenchError("low_dissipation_fit: the sweep needs at least two durations of each isotherm.")
    T_h, T_c = float(table[f"T_{hot}"].iloc[0]), float(table[f"T_{cold}"].iloc[0])
    q_h, q_c = table[Q_h].to_numpy(float), table[Q_c].to_numpy(float)
    slope_h, ds_h = np.polyfit(1.0 / t_h, q_h / T_h, 1)
    slope_c, ds_c = np.polyfit(1.0 / t_c, -q_c / T_c, 1)
    sigma_h, sigma_c = -slope_h, slope_c
    misfit = np.concatenate([q_h - T_h * (ds_h - sigma_h / t_h), q_c - T_c * (-ds_c - sigma_c / t_c)])
    scale = max(np.max(np.abs(q_h)), np.max(np.abs(q_c)))
    eta_c = 1.0 - T_c / T_h
    a, b = T_h * sigma_h, T_c * sigma_c
    equal = bool(np.allclose(t_h, t_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        if equal:
            predicted = eta_c / (2.0 - eta_c * a / (a + b))
        else:
            predicted = eta_c / (2.0 - eta_c / (1.0 + math.sqrt(b / a)))
    measured = None
    if "mode" in table.columns and (table["mode"] == "engine").any():
        measured = efficiency_at_max_power(table).efficiency
    return LowDissipationFit(
        delta_s_hot=float(ds_h),
        delta_s_cold=float(ds_c),
        sigma_hot=float(sigma_h),
        sigma_cold=float(sigma_c),
        predicted=float(predicted),
        measured=measured,
        bounds=(eta_c / 2.0, eta_c / (2.0 - eta_c)),
        equal_durations=equal,
        rms_residual=float(np.sqrt(np.mean(misfit**2)) / scale) if scale > 0 else 0.0,
    )
