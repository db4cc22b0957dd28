"""Tables from sweeps (`analysis.tables`): efficiency at maximum power, Pareto fronts, low dissipation.

References: M. Esposito, R. Kawai, K. Lindenberg and C. Van den Broeck, Phys. Rev. Lett. 105, 150603
(2010) (low-dissipation engines: eta_C/2 <= eta* <= eta_C/(2 - eta_C), Curzon-Ahlborn for symmetric
dissipation); F. L. Curzon and B. Ahlborn, Am. J. Phys. 43, 22 (1975).
"""

import math
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from analysis.sweep import Grid, run_sweep
from analysis.tables import (
    EdgeWarning,
    efficiency_at_max_power,
    efficiency_power,
    low_dissipation_fit,
    mode_boundaries,
    pareto_front,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Fit of an exact low-dissipation table (least squares on exact data).
FIT_TOL = 1e-9
#: Efficiency at maximum power read off a grid (500 log-spaced durations per decade pair) against the
#: model's optimum: the efficiency varies by about this much between neighbouring grid points there.
GRID_RTOL = 2e-3


def _low_dissipation_table(T_h, T_c, dS, sigma_h, sigma_c, taus_h, taus_c):
    """The low-dissipation model as a sweep table: Q_h = T_h (dS - S_h/t_h), Q_c = T_c (-dS - S_c/t_c)."""
    t_h, t_c = (a.ravel() for a in np.meshgrid(taus_h, taus_c, indexing="ij"))
    Q_h = T_h * (dS - sigma_h / t_h)
    Q_c = T_c * (-dS - sigma_c / t_c)
    W = -(Q_h + Q_c)
    power = -W / (t_h + t_c)
    mode = np.where(power > 0, "engine", "heater")
    return pd.DataFrame(
        {
            "cycle.tau_hot": t_h,
            "cycle.tau_cold": t_c,
            "path": "cycle-sweep",
            "work": W,
            "Q_hot": Q_h,
            "Q_cold": Q_c,
            "power": power,
            "efficiency": np.where(power > 0, -W / Q_h, np.nan),
            "mode": mode,
            "T_hot": T_h,
            "T_cold": T_c,
        }
    )


def _model_optimum(T_h, T_c, dS, sigma_h, sigma_c):
    """eta at the power maximum of the model, found numerically over log-durations (no closed form)."""

    def negative_power(x):
        t_h, t_c = np.exp(x)
        return -(T_h * (dS - sigma_h / t_h) + T_c * (-dS - sigma_c / t_c)) / (t_h + t_c)

    best = minimize(
        negative_power, x0=[0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-16}
    )
    t_h, t_c = np.exp(best.x)
    Q_h = T_h * (dS - sigma_h / t_h)
    return -negative_power(best.x) * (t_h + t_c) / Q_h


@pytest.mark.parametrize(
    ("sigma_h", "sigma_c"),
    [
        pytest.param(1.0, 1.0, id="symmetric"),
        pytest.param(1.0, 0.1, id="hot-dominated"),
        pytest.param(0.2, 2.0, id="cold-dominated"),
    ],
)
def test_low_dissipation_fit_recovers_the_model_and_its_optimum(sigma_h, sigma_c):
    """On an exact low-dissipation table the fit returns Delta S, Sigma_h, Sigma_c and the eta* of a
    numerical maximisation of the model's power; eta* lies in the Esposito bounds."""
    T_h, T_c, dS = 4.0, 1.0, 0.7
    taus = np.geomspace(0.5, 50.0, 500)
    table = _low_dissipation_table(T_h, T_c, dS, sigma_h, sigma_c, taus, taus)
    fit = low_dissipation_fit(table, tau_hot="cycle.tau_hot", tau_cold="cycle.tau_cold")
    assert (fit.delta_s_hot, fit.delta_s_cold) == pytest.approx((dS, dS), abs=FIT_TOL)
    assert (fit.sigma_hot, fit.sigma_cold) == pytest.approx((sigma_h, sigma_c), abs=FIT_TOL)
    assert fit.rms_residual < FIT_TOL
    assert not fit.equal_durations
    assert fit.predicted == pytest.approx(_model_optimum(T_h, T_c, dS, sigma_h, sigma_c), rel=1e-6)
    lo, hi = fit.bounds
    assert lo <= fit.predicted <= hi
    assert fit.measured == pytest.approx(fit.predicted, rel=GRID_RTOL)


def test_symmetric_dissipation_gives_curzon_ahlborn():
    """Sigma_h = Sigma_c (the endoreversible limit of Esposito et al. 2010): eta* = 1 - sqrt(T_c/T_h)."""
    T_h, T_c = 9.0, 1.0
    taus = np.geomspace(0.5, 50.0, 40)
    fit = low_dissipation_fit(
        _low_dissipation_table(T_h, T_c, 0.4, 0.3, 0.3, taus, taus),
        tau_hot="cycle.tau_hot",
        tau_cold="cycle.tau_cold",
    )
    assert fit.predicted == pytest.approx(1.0 - math.sqrt(T_c / T_h), rel=1e-12)


#: A Carnot-like qubit engine at eta_C = 1/4 whose isotherms start and end at zero speed (the smooth
#: schedule): maximum power then lies in the low-dissipation regime (tests/cycles/test_carnot.py).
SMOOTH_CARNOT = """
[medium]
type = "Qubit"
omega = 4.0

[[reservoirs]]
name = "hot"
type = "bosonic"
T = 2.0
coupling = 1.0
operator = "sigma_x"

[[reservoirs]]
name = "cold"
type = "bosonic"
T = 1.5
coupling = 1.0
operator = "sigma_x"

[[cycle.strokes]]
type = "isotherm"
name = "hot isotherm"
bath = "hot"
start = { omega = 4.0 }
end = { omega = 2.0 }
duration = 100.0
steps = 200
schedule = "smooth"

[[cycle.strokes]]
type = "unitary"
start = { omega = 2.0 }
end = { omega = 1.5 }
duration = 0.0
name = "adiabat down"

[[cycle.strokes]]
type = "isotherm"
name = "cold isotherm"
bath = "cold"
start = { omega = 1.5 }
end = { omega = 3.0 }
duration = 100.0
steps = 200
schedule = "smooth"

[[cycle.strokes]]
type = "unitary"
start = { omega = 3.0 }
end = { omega = 4.0 }
duration = 0.0
name = "adiabat up"
"""


def test_qubit_carnot_sweep_efficiency_at_max_power_lies_in_the_esposito_bounds():
    """The smooth Carnot-like qubit engine swept over equal isotherm durations through `run_sweep`: the
    efficiency at maximum power lies in [eta_C/2, eta_C/(2 - eta_C)] and matches the low-dissipation
    prediction fitted from the long-duration rows (O(1/tau*^2) terms neglected: 2 %)."""
    data = tomllib.loads(SMOOTH_CARNOT)
    taus = np.geomspace(2.0, 60.0, 40)
    names = ("strokes.hot isotherm.duration", "strokes.cold isotherm.duration")
    table = run_sweep(data, Grid(names, np.column_stack([taus, taus]))).to_frame()
    long = table[table[names[0]] >= 20.0]
    with pytest.warns(EdgeWarning):  # the long rows alone end before the power maximum
        fit = low_dissipation_fit(long, tau_hot=names[0], tau_cold=names[1])
    assert fit.equal_durations and fit.sigma_hot > 0 and fit.sigma_cold > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", EdgeWarning)
        emp = efficiency_at_max_power(table)
    lo, hi = fit.bounds
    assert lo <= emp.efficiency <= hi
    assert emp.efficiency == pytest.approx(fit.predicted, rel=0.02)


def test_edge_of_the_range_is_flagged():
    taus = np.geomspace(1.0, 100.0, 10)
    table = _low_dissipation_table(4.0, 1.0, 0.7, 1.0, 1.0, taus[6:], taus[6:])  # maximum below the range
    with pytest.warns(EdgeWarning, match="edge of the swept range"):
        emp = efficiency_at_max_power(table)
    assert set(emp.on_edge) == {"cycle.tau_hot", "cycle.tau_cold"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=40))
def test_pareto_front_is_non_dominated_and_complete(points):
    """No row of the front is dominated, and every dominated-free row of the table is on it."""
    table = pd.DataFrame(
        {"power": [p for p, _ in points], "efficiency": [e for _, e in points], "mode": "engine"}
    )
    front = pareto_front(table)
    pts = table[["power", "efficiency"]].to_numpy()

    def dominated(p, e):
        return np.any((pts[:, 0] >= p) & (pts[:, 1] >= e) & ((pts[:, 0] > p) | (pts[:, 1] > e)))

    on_front = {(p, e) for p, e in front[["x", "y"]].to_numpy()}
    for p, e in pts:
        assert ((p, e) in on_front) == (not dominated(p, e))


def test_mode_boundaries_of_the_otto_qubit_against_the_kieu_threshold():
    """The qubit Otto cycle changes from engine to refrigerator where w_c/w_h = T_c/T_h (Kieu 2004)."""
    with open(EXAMPLES / "otto_qubit.toml", "rb") as f:
        data = tomllib.load(f)
    data["cycle"].update(tau_hot=math.inf, tau_cold=math.inf, tau_compress=0.0, tau_expand=0.0)
    T_h = next(r["T"] for r in data["reservoirs"] if r["name"] == "hot")
    T_c = next(r["T"] for r in data["reservoirs"] if r["name"] == "cold")
    highs = np.linspace(1.55, 6.05, 10)  # not through the threshold itself, where W = Q = 0
    table = run_sweep(data, Grid(("cycle.high",), highs[:, None]), path="per-point").to_frame()
    changes = mode_boundaries(table, "cycle.high")
    assert len(changes) == 1
    row = changes.iloc[0]
    threshold = data["cycle"]["low"] * T_h / T_c  # w_h where w_c/w_h = T_c/T_h
    assert row["cycle.high_before"] < threshold < row["cycle.high_after"]
    assert (row["mode_before"], row["mode_after"]) == ("engine", "refrigerator")


def test_efficiency_power_lists_engines_with_their_references():
    taus = np.geomspace(1.0, 100.0, 8)
    table = _low_dissipation_table(4.0, 1.0, 0.7, 1.0, 1.0, taus, taus)
    ep = efficiency_power(table)
    assert set(ep.columns) >= {
        "power",
        "efficiency",
        "curzon_ahlborn",
        "carnot_efficiency",
        "eta_over_carnot",
    }
    assert np.all(np.diff(ep["power"]) >= 0)
    np.testing.assert_allclose(ep["curzon_ahlborn"], 0.5)
