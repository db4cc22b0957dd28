"""Figures: efficiency-power loops and Pareto fronts, currents vs bias, cycle diagrams, entropy trajectories.

Every function takes a result or a table and an optional matplotlib ``ax``, and returns the
`matplotlib.figure.Figure`.  Figures are built with `matplotlib.figure.Figure` directly, never with
pyplot, so nothing here selects a backend or opens a window; `save` writes PNG, SVG or PDF by the
file's suffix, atomically.  Axis labels carry units (hbar = k_B = 1: energies and temperatures in
the same unit, times in its inverse).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.checks import WorkbenchError

__all__ = [
    "column",
    "comparison",
    "current_vs_size",
    "currents",
    "cycle_diagrams",
    "efficiency_power",
    "entropy_production",
    "save",
    "transport",
]

FORMATS = ("png", "svg", "pdf")

#: Axis labels of the columns the workbench writes.
LABELS = {
    "power": "output power P [energy/time]",
    "efficiency": "efficiency η",
    "eta_over_carnot": "η / η_Carnot",
    "cop": "COP",
    "entropy_production_rate": "entropy production rate σ [k_B/time]",
    "entropy_per_cycle": "entropy produced per cycle [k_B]",
    "work": "work per cycle W [energy]",
    "period": "period [1/energy]",
    "residual": "residual ||L ρ||",
    "N": "chain length N [sites]",
    "M_hot": "magnetisation current I_hot [1/time]",
}


def label(name: str) -> str:
    """The axis label of a table column (units in brackets, hbar = k_B = 1)."""
    name = str(name)
    if name in LABELS:
        return LABELS[name]
    head, _, tail = name.partition("_")
    if head == "J" and tail:
        return f"heat current J_{tail} [energy/time]"
    if head == "Q" and tail:
        return f"heat per cycle Q_{tail} [energy]"
    if head == "I" and tail:
        return f"particle current I_{tail} [1/time]"
    if head == "T" and tail:
        return f"temperature T_{tail} [energy]"
    if name.endswith((".T", ".mu", ".coupling", ".strength", ".omega", ".detuning")) or ".energies." in name:
        return f"{name} [energy]"
    if name.endswith(".duration") or ".tau_" in name:
        return f"{name} [1/energy]"
    return name


def _axes(ax, ncols=1):
    """(figure, axes): new ones, or the figure of the given axes."""
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * ncols, 3.8), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def save(fig, path) -> Path:
    """Write `fig` to `path` (PNG, SVG or PDF by suffix) atomically; returns the path."""
    from analysis.sweep import write_atomic

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise WorkbenchError(f"{path}: a figure file must end in {', '.join('.' + f for f in FORMATS)}.")
    write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=150))
    return path


def _need(table, columns, what):
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise WorkbenchError(
            f"{what}: the table has no column {missing[0]!r} (columns: {', '.join(map(str, table.columns))})."
        )


def efficiency_power(tables, ax=None, *, pareto: bool = True):
    """Efficiency against power of the engines of one sweep, or of several (one curve each).

    Parameters
    ----------
    tables : DataFrame or mapping label -> DataFrame
        Sweep tables (columns ``mode``, ``power``, ``efficiency``, ``T_<name>``).
    pareto : bool
        Draw each table's Pareto front as a line.

    Notes
    -----
    With one pair of temperatures throughout, the Carnot efficiency 1 - T_c/T_h and the Curzon-Ahlborn
    efficiency 1 - sqrt(T_c/T_h) are drawn as horizontal references.
    """
    from analysis.tables import pareto_front

    if not isinstance(tables, dict):
        tables = {None: tables}
    fig, ax = _axes(ax)
    references = set()
    for name, table in tables.items():
        _need(table, ("mode", "power", "efficiency"), "efficiency_power")
        engines = table[table["mode"] == "engine"]
        points = ax.scatter(engines["power"], engines["efficiency"], s=8, alpha=0.6, label=name)
        if pareto and len(engines):
            front = pareto_front(table)
            ax.plot(front["x"], front["y"], color=points.get_facecolor()[0], lw=1.5)
        T = table[[c for c in table.columns if str(c).startswith("T_")]].to_numpy(float)
        if T.size:
            lo, hi = T.min(axis=1), T.max(axis=1)
            if np.all(lo == lo[0]) and np.all(hi == hi[0]) and hi[0] > 0:
                references.add((float(lo[0]), float(hi[0])))
    if len(references) == 1:
        T_c, T_h = references.pop()
        ax.axhline(1 - T_c / T_h, ls="--", color="0.3", lw=1, label="Carnot 1 - T_c/T_h")
        ax.axhline(1 - np.sqrt(T_c / T_h), ls=":", color="0.3", lw=1, label="Curzon-Ahlborn")
    ax.set_xlabel(LABELS["power"])
    ax.set_ylabel(LABELS["efficiency"])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")
    return fig


def currents(table, x: str, ax=None):
    """Every heat current (``J_<name>``, or ``Q_<name>`` per cycle) of a sweep against column `x`."""
    _need(table, (x,), "currents")
    names = [c for c in table.columns if str(c).startswith(("J_", "Q_"))]
    if not names:
        raise WorkbenchError("currents: the table has no J_<reservoir> or Q_<reservoir> columns.")
    fig, ax = _axes(ax)
    order = np.argsort(table[x].to_numpy())
    for name in names:
        ax.plot(table[x].to_numpy()[order], table[name].to_numpy()[order], marker=".", label=name)
    ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel(label(x))
    ax.set_ylabel(
        "heat current [energy/time] (> 0: into the medium)"
        if names[0][0] == "J"
        else "heat per cycle [energy] (> 0: into the medium)"
    )
    ax.legend(fontsize="small")
    return fig


#: Line styles of the flavours in `current_vs_size`.
FLAVOUR_STYLES = {"local": ("-", "o"), "global": ("--", "s"), "unified": (":", "^"), "redfield": ("-.", "v")}


def current_vs_size(table, ax=None, *, current: str = "J_hot", logy: bool | None = None):
    """A current against chain length N: one line per anisotropy Delta, the flavours told apart by style.

    Parameters
    ----------
    table : DataFrame
        Columns ``N``, ``Delta``, ``flavour`` and `current` (rows without a value are skipped).
    current : str
        The column drawn (``J_hot``: heat current from the hot bath; ``M_hot``: magnetisation current).
    logy : bool, optional
        Logarithmic current axis; by default when every value is positive and they span more than a
        factor of 10.
    """
    _need(table, ("N", "Delta", "flavour", current), "current_vs_size")
    fig, ax = _axes(ax)
    rows = table[table[current].notna()]
    deltas = sorted(rows["Delta"].unique())
    colours = {D: f"C{i % 10}" for i, D in enumerate(deltas)}
    for (flavour, delta), group in rows.groupby(["flavour", "Delta"], sort=True):
        group = group.sort_values("N")
        line, marker = FLAVOUR_STYLES.get(flavour, ("-", "."))
        ax.plot(
            group["N"],
            group[current],
            line,
            marker=marker,
            color=colours[delta],
            label=f"Δ = {delta:g}, {flavour}",
        )
    values = rows[current].to_numpy(dtype=float)
    if logy is None:
        logy = values.size > 0 and values.min() > 0 and values.max() > 10 * values.min()
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(label("N"))
    ax.set_ylabel(label(current))
    ax.legend(fontsize="small", ncols=2)
    return fig


def column(table, x: str, y: str, color: str | None = None, ax=None):
    """Any two columns of a table; with `color` and a complete two-parameter grid, a heat map of it."""
    _need(table, [c for c in (x, y, color) if c is not None], "plot")
    fig, ax = _axes(ax)
    if color is not None:
        xs, ys = np.unique(table[x]), np.unique(table[y])
        values = table[color]
        if len(xs) * len(ys) == len(table) and np.issubdtype(values.dtype, np.number):
            grid = table.pivot_table(index=y, columns=x, values=color).to_numpy()
            mesh = ax.pcolormesh(xs, ys, grid, shading="nearest")
            fig.colorbar(mesh, ax=ax, label=label(color))
        elif np.issubdtype(values.dtype, np.number):
            points = ax.scatter(table[x], table[y], c=values, s=12)
            fig.colorbar(points, ax=ax, label=label(color))
        else:
            for value, group in table.groupby(color):
                ax.scatter(group[x], group[y], s=12, label=str(value))
            ax.legend(fontsize="small", title=color)
    else:
        order = np.argsort(table[x].to_numpy())
        ax.plot(table[x].to_numpy()[order], table[y].to_numpy()[order], marker=".")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    return fig


def comparison(comparison, ax=None):
    """Designs side by side (`analysis.compare.Comparison`): power, efficiency and eta/eta_C as bars."""
    if ax is not None:
        raise WorkbenchError("comparison draws three panels: call it without `ax`.")
    fig, axes = _axes(None, ncols=3)
    table = comparison.to_frame()
    names = list(table.index)
    for panel, name in zip(axes, ("power", "efficiency", "eta_over_carnot")):
        values = table[name].to_numpy(float) if name in table.columns else np.full(len(names), np.nan)
        panel.bar(range(len(names)), np.nan_to_num(values), color=[f"C{i}" for i in range(len(names))])
        panel.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize="small")
        panel.set_ylabel(LABELS[name])
    return fig


def cycle_diagrams(result, cycle, ax=None):
    """A cycle's T-S and E-control diagrams from its per-stroke table.

    Left: the medium's von Neumann entropy at the end of each stroke against the temperature of the
    reservoir it touched (unitary strokes keep the entropy of the state they start from); right: the
    medium's energy against the control the strokes change, one point per stroke end, joined in
    cycle order.

    Parameters
    ----------
    result : cycles.CycleResult
    cycle : cycles.Cycle
        The cycle that produced `result` (for the strokes' controls and reservoirs).
    """
    if ax is not None:
        raise WorkbenchError("cycle_diagrams draws two panels: call it without `ax`.")
    fig, (ts, ec) = _axes(None, ncols=2)
    rows = list(result.strokes)
    entropy = [r["entropy"] for r in rows]
    energy = [r["energy"] for r in rows]
    temperature = []
    for s in cycle.strokes:
        r = s.reservoir
        temperature.append(r.T if r is not None else np.nan)
    # a unitary stroke's end sits at the temperature of the stroke that follows it
    for i in range(len(temperature) - 1, -1, -1):
        if np.isnan(temperature[i]):
            temperature[i] = temperature[(i + 1) % len(temperature)]
    changing = [
        k
        for k in cycle.medium.controls
        if len({dict(s.end_controls()).get(k, cycle.medium.controls[k]) for s in cycle.strokes}) > 1
    ]
    control = changing[0] if changing else next(iter(cycle.medium.controls))
    values = [dict(s.end_controls()).get(control, cycle.medium.controls[control]) for s in cycle.strokes]
    for panel, xs, ys in ((ts, entropy, temperature), (ec, values, energy)):
        panel.plot([*xs, xs[0]], [*ys, ys[0]], marker="o")
        for x_, y_, r in zip(xs, ys, rows):
            panel.annotate(
                r["stroke"], (x_, y_), fontsize="x-small", xytext=(3, 3), textcoords="offset points"
            )
    ts.set_xlabel("entropy of the medium S [k_B]")
    ts.set_ylabel("reservoir temperature T [energy]")
    ec.set_xlabel(f"control {control} [energy]")
    ec.set_ylabel("energy of the medium ⟨H⟩ [energy]")
    return fig


def entropy_production(frame, ax=None):
    """sigma, sigma_na and sigma_hk along a relaxation (`analysis.entropy.relaxation`) against time.

    `frame` is the `Relaxation` result or its ``to_frame()``.
    """
    if hasattr(frame, "to_frame"):
        frame = frame.to_frame()
    _need(frame.reset_index(), ("t", "sigma_na"), "entropy_production")
    fig, ax = _axes(ax)
    t = frame.index.to_numpy() if frame.index.name == "t" else frame["t"].to_numpy()
    for name, text in (
        ("sigma", "σ (Clausius)"),
        ("sigma_na", "σ_na (non-adiabatic)"),
        ("sigma_hk", "σ_hk (housekeeping)"),
    ):
        if name in frame.columns and np.any(np.isfinite(frame[name].to_numpy(float))):
            ax.plot(t, frame[name], label=text)
    ax.set_xlabel("time t [1/energy]")
    ax.set_ylabel(LABELS["entropy_production_rate"])
    ax.legend(fontsize="small")
    return fig


def transport(result, ax=None):
    """The figure of a `qhe transport` result (its ``--json`` payload).

    Panels: each reservoir's heat current (bars; with the noise, error bars of sqrt(Var J), the
    zero-frequency noise per unit time); with ``bonds`` the currents through the chain, bond by bond
    (each divided by its mean, so equal currents lie on 1) and the site profiles; with
    ``rectification`` the forward and reversed heat currents against the bias.
    """
    rows = result["reservoirs"]
    panels = ["currents"] + [k for k in ("bonds", "rectification") if result.get(k)]
    if ax is not None and len(panels) > 1:
        raise WorkbenchError(f"transport: the result has {len(panels)} panels; pass ax=None")
    fig, axes = _axes(ax, len(panels))
    axes = np.atleast_1d(axes)
    names = [r["reservoir"] for r in rows]
    heat = np.array([r["J"] for r in rows], dtype=float)
    noise = [np.sqrt(r["var_J"]) if r.get("var_J") is not None else np.nan for r in rows]
    has_noise = np.any(np.isfinite(noise))
    axes[0].bar(names, heat, yerr=noise if has_noise else None, capsize=4, color="C0")
    axes[0].axhline(0.0, color="0.5", lw=0.8)
    axes[0].set_xlabel("reservoir")
    axes[0].set_ylabel("heat current J [energy/time] (> 0: into the medium)")
    if has_noise:
        axes[0].set_title("error bars: sqrt(Var J) [energy/time^(1/2)]", fontsize="small")
    k = 1
    if "bonds" in panels:
        ax_b = axes[k]
        for key, values in result["bonds"].items():
            if isinstance(values, str):
                continue
            values = np.asarray(values, dtype=float)
            if key in ("energy", "magnetisation", "occupation"):
                mean = np.mean(values)
                first = 1 if key == "energy" else 0  # energy currents start at site 1
                ax_b.plot(
                    np.arange(values.size) + first, values / mean, marker="o", label=f"{key} current / mean"
                )
            else:
                ax_b.plot(np.arange(values.size), values, marker=".", ls=":", label=f"<{key}> per site")
        ax_b.set_xlabel("bond k (between sites k, k+1; energy: through site k) / site")
        ax_b.set_ylabel("current / its mean; site expectation value")
        ax_b.legend(fontsize="small")
        k += 1
    if "rectification" in panels:
        ax_r = axes[k]
        rect = result["rectification"]
        bias = np.array([r["bias"] for r in rect], dtype=float)
        for key, text in (("J_forward", "forward (left hotter)"), ("J_reverse", "reversed (right hotter)")):
            ax_r.plot(bias, [r[key] for r in rect], marker="o", label=text)
        ax_r.set_xlabel("temperature bias ΔT [energy]")
        ax_r.set_ylabel("heat current from the hotter side [energy/time]")
        ax_r.legend(fontsize="small")
    return fig
