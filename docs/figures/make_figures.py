"""Make the README's figure from the bundled examples: efficiency against power of two qubit engines.

The qubit Otto engine (examples/otto_qubit.toml) is swept over its two thermalisation times and the
Carnot-like qubit engine (examples/carnot_qubit.toml) over its two isotherm durations, both through
`analysis.sweep.run_sweep` (the path `qhe sweep` takes); `analysis.plots.efficiency_power` draws
both tables with their Pareto fronts and the Carnot and Curzon-Ahlborn references.

Run from the repository root::

    python docs/figures/make_figures.py        # writes docs/figures/efficiency_power.png
"""

from __future__ import annotations

from pathlib import Path

from analysis import plots
from analysis.design import read_design
from analysis.sweep import Grid, run_sweep

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "efficiency_power.png"


def main(out: Path = OUT) -> Path:
    """Sweep both engines and write the figure to `out`; returns its path."""
    otto = run_sweep(
        read_design(ROOT / "examples" / "otto_qubit.toml"),
        Grid.parse(["cycle.tau_hot=0.3:30:40:log", "cycle.tau_cold=0.3:30:40:log"]),
        progress=False,
    ).to_frame()
    carnot = run_sweep(
        read_design(ROOT / "examples" / "carnot_qubit.toml"),
        Grid.parse(["cycle.tau_hot=2:2000:30:log", "cycle.tau_cold=2:2000:30:log"]),
        progress=False,
    ).to_frame()
    fig = plots.efficiency_power({"qubit Otto": otto, "qubit Carnot-like": carnot})
    fig.axes[0].set_title("Qubit engines between T_h = 4 and T_c = 1", fontsize="medium")
    return plots.save(fig, out)


if __name__ == "__main__":
    print(main())
