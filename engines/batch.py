"""Many small machines at once: a parameterised template solved by one parallel numba kernel.

A sweep changes a few numbers of one design: medium controls that enter the Hamiltonian affinely
(H = H_0 + sum_i p_i H_i), reservoir temperatures, chemical potentials and couplings, and the drive's
strength and detuning.  `Batch` works out that structure once and hands plain arrays to
`engines._kernels.batched_ness`, which builds each point's Davies generator, solves it and books its
currents without creating a Python object per design.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines import _kernels, thermo
from engines.checks import WorkbenchError, fail, real
from engines.generators import Drive, coupling_operator
from engines.linalg import BATCH_MAX_DIM
from engines.reservoirs import Reservoir

__all__ = ["Batch", "BatchResult"]

_DRIVE_FIELDS = ("strength", "detuning")
#: Kernel target of a parameter that enters the Hamiltonian (reservoir fields use their column).
_HAMILTONIAN = -1


@dataclass(frozen=True)
class BatchResult:
    """Steady-state figures of every point of a batch (arrays with the point axis first).

    Attributes
    ----------
    parameters : tuple of str
    values : ndarray (n, n_params)
    reservoirs : tuple of str
    heat : ndarray (n, n_reservoirs)
        Heat currents into the medium, J_a = J^E_a - mu_a I_a.
    particles : ndarray (n, n_reservoirs)
    power : ndarray (n,)
        Output power sum_a J_a.
    entropy_production : ndarray (n,)
        -sum_a J_a / T_a.
    mode : ndarray (n,) of str
    efficiency, cop : ndarray (n,)
        NaN where the mode does not define them (see `mode`).
    residual : ndarray (n,)
    states : ndarray (n, d, d)
        The NESS of every point in the medium's basis (rotating frame if driven).
    """

    parameters: tuple
    values: np.ndarray
    reservoirs: tuple
    temperatures: np.ndarray
    heat: np.ndarray
    particles: np.ndarray
    power: np.ndarray
    entropy_production: np.ndarray
    mode: np.ndarray
    efficiency: np.ndarray
    cop: np.ndarray
    residual: np.ndarray
    states: np.ndarray = field(repr=False)

    def to_frame(self):
        """One row per point: parameters, power, efficiency, COP, mode, entropy production, currents."""
        import pandas as pd

        data = {name: self.values[:, i] for i, name in enumerate(self.parameters)}
        data.update(
            power=self.power,
            efficiency=self.efficiency,
            cop=self.cop,
            mode=self.mode,
            entropy_production=self.entropy_production,
        )
        for j, name in enumerate(self.reservoirs):
            data[f"J_{name}"] = self.heat[:, j]
        for j, name in enumerate(self.reservoirs):
            if np.any(self.particles[:, j]):
                data[f"I_{name}"] = self.particles[:, j]
        data["residual"] = self.residual
        return pd.DataFrame(data)


class Batch:
    """A design template whose parameters vary over a batch of points.

    Parameters
    ----------
    engine : engines.Engine
        The template (global flavour); its current settings are the defaults.
    parameters : sequence of str
        What varies: a medium control (``"omega"``, ``"E2"``), a reservoir field
        ``"<reservoir>.T"``, ``".mu"`` or ``".coupling"``, or ``"drive.strength"`` /
        ``"drive.detuning"``.

    Notes
    -----
    Medium controls must enter the Hamiltonian affinely; this is checked numerically.  Reservoir
    spectra must be "flat" or "ohmic" (user callables cannot run inside the kernel).
    """

    def __init__(self, engine, parameters):
        gen = engine.generator
        if gen.flavour != "global":
            fail(
                "Batch",
                "engine.flavour",
                gen.flavour,
                "'global' (the batched kernel builds Davies generators)",
            )
        medium = engine.medium
        if medium.dim > BATCH_MAX_DIM:
            fail(
                "Batch",
                "medium",
                f"a medium of dimension {medium.dim}",
                f"dimension <= {BATCH_MAX_DIM} (solve larger machines one by one)",
            )
        self.engine = engine
        self.parameters = tuple(parameters)
        if not self.parameters:
            fail("Batch", "parameters", parameters, "at least one parameter name")
        self.reservoirs = engine.reservoirs
        names = [r.name for r in self.reservoirs]
        d = medium.dim
        controls = {**medium.controls, **engine.controls}
        H_base = np.asarray(medium.hamiltonian(**controls), dtype=complex)
        drive = engine.drive
        Hc_base = drive.rotating_hamiltonian(H_base) if drive is not None else H_base
        n_par = len(self.parameters)
        self._targets = np.full(n_par, _HAMILTONIAN, dtype=np.int64)
        self._target_res = np.zeros(n_par, dtype=np.int64)
        Hd_coef = np.zeros((n_par, d, d), dtype=complex)
        Hc_coef = np.zeros((n_par, d, d), dtype=complex)
        self._base = np.zeros(n_par)
        for i, p in enumerate(self.parameters):
            head, _, tail = p.partition(".")
            if p in controls:
                self._base[i] = controls[p]
                shifted = np.asarray(medium.hamiltonian(**{**controls, p: controls[p] + 1.0}), dtype=complex)
                Hd_coef[i] = shifted - H_base
                if drive is not None:
                    Hc_coef[i] = drive.rotating_hamiltonian(shifted) - Hc_base
                else:
                    Hc_coef[i] = Hd_coef[i]
            elif head == "drive" and tail in _DRIVE_FIELDS and drive is not None:
                self._base[i] = getattr(drive, tail)
                Hc_coef[i] = _drive_coefficient(drive, tail, H_base)
            elif head in names and tail in Reservoir.KERNEL_FIELDS:
                r = self.reservoirs[names.index(head)]
                self._targets[i] = Reservoir.KERNEL_FIELDS[tail]
                self._target_res[i] = names.index(head)
                self._base[i] = getattr(r, tail)
            else:
                allowed = [*controls, *(f"{n}.{f}" for n in names for f in Reservoir.KERNEL_FIELDS)]
                if drive is not None:
                    allowed += [f"drive.{f}" for f in _DRIVE_FIELDS]
                fail("Batch", "parameters", p, "one of " + ", ".join(allowed))
        self._check_affine(medium, controls, H_base, Hd_coef)
        # Shift the base so that the kernel adds v_i * coef_i for absolute values v_i.
        Hd0 = H_base - np.tensordot(self._base, Hd_coef, axes=1)
        Hc0 = Hc_base - np.tensordot(self._base, Hc_coef, axes=1)
        self._fixed = not np.any(Hd_coef)
        if self._fixed:
            E, V = np.linalg.eigh(H_base)
            self._V = V
        else:
            self._V = np.eye(d, dtype=complex)
        Vh = self._V.conj().T
        self._Hd0 = np.ascontiguousarray(
            Vh @ Hd0 @ self._V if not self._fixed else np.diag(E).astype(complex)
        )
        self._Hd_coef = np.ascontiguousarray(Vh @ Hd_coef @ self._V)
        self._Hc0 = np.ascontiguousarray(Vh @ Hc0 @ self._V)
        self._Hc_coef = np.ascontiguousarray(Vh @ Hc_coef @ self._V)
        self._channels(medium, Vh)

    def _channels(self, medium, Vh):
        """Every reservoir channel as plain arrays: coupling in the template basis, reservoir, rate code."""
        X, ch_res, ch_kind, ch_particles = [], [], [], []
        for r_i, r in enumerate(self.reservoirs):
            op = coupling_operator(medium, r, local=False)[0]
            for ch in r.channels():
                if ch.kernel is None:
                    fail(
                        "Batch",
                        f"reservoirs[{r.name!r}].spectrum",
                        "a callable",
                        "'flat' or 'ohmic' on the batched path (user spectra cannot run in the kernel)",
                    )
                Xc = op.conj().T if ch.adjoint else op
                X.append(Vh @ Xc @ self._V)
                ch_res.append(r_i)
                ch_kind.append(ch.kernel)
                ch_particles.append(ch.particles)
        self._X = np.ascontiguousarray(np.array(X, dtype=complex))
        self._ch_res = np.array(ch_res, dtype=np.int64)
        self._ch_kind = np.array(ch_kind, dtype=np.int64)
        self._ch_particles = np.array(ch_particles, dtype=float)
        self._res_params = np.array([r.kernel_parameters() for r in self.reservoirs])

    def _check_affine(self, medium, controls, H_base, coef):
        """H(c0 + t) must equal H(c0) + sum_i t_i H_i for the swept controls."""
        swept = [i for i, p in enumerate(self.parameters) if p in controls]
        if not swept:
            return
        t = np.linspace(0.37, -0.61, len(swept))
        shifted = dict(controls)
        for ti, i in zip(t, swept):
            shifted[self.parameters[i]] += ti
        predicted = H_base + sum(ti * coef[i] for ti, i in zip(t, swept))
        actual = np.asarray(medium.hamiltonian(**shifted), dtype=complex)
        if np.max(np.abs(actual - predicted)) > 1e-9 * max(1.0, np.max(np.abs(actual))):
            fail(
                "Batch",
                "parameters",
                [self.parameters[i] for i in swept],
                "controls that enter the Hamiltonian affinely (H = H_0 + sum_i p_i H_i)",
            )

    def solve(self, values) -> BatchResult:
        """Solve every point; `values` has shape (n_points, n_parameters) (or (n,) for one parameter).

        Raises
        ------
        WorkbenchError
            When a value is invalid or any point's steady state fails verification (not unique,
            residual, positivity): the message names the first failing points.
        """
        values = np.asarray(values, dtype=float)
        if values.ndim == 1 and len(self.parameters) == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != len(self.parameters):
            fail(
                "Batch.solve",
                "values",
                f"an array of shape {values.shape}",
                f"shape (n_points, {len(self.parameters)}) for parameters {list(self.parameters)}",
            )
        if not np.all(np.isfinite(values)):
            fail("Batch.solve", "values", "an array with NaN or inf", "finite numbers")
        nonnegative = (_kernels.PARAM_T, _kernels.PARAM_COUPLING)
        for i, (target, p) in enumerate(zip(self._targets, self.parameters)):
            if target in nonnegative and np.any(values[:, i] < 0):
                real("Batch.solve", p, float(values[:, i].min()), minimum=0.0)
        options = self.engine.options
        n = values.shape[0]
        n_res = len(self.reservoirs)
        d = self._Hd0.shape[0]
        energy = np.zeros((n, n_res))
        number = np.zeros((n, n_res))
        residual = np.zeros(n)
        lowest = np.zeros(n)
        states = np.zeros((n, d, d), dtype=complex)
        _kernels.batched_ness(
            np.ascontiguousarray(values),
            self._targets,
            self._target_res,
            self._Hd0,
            self._Hd_coef,
            self._Hc0,
            self._Hc_coef,
            self.engine.drive is not None,
            self._fixed,
            self._X,
            self._ch_res,
            self._ch_kind,
            self._ch_particles,
            self._res_params,
            options.degeneracy_tol,
            energy,
            number,
            residual,
            lowest,
            states,
        )
        bad = np.flatnonzero(~(residual <= options.residual_tol) | (lowest < -options.state_tol))
        if bad.size:
            first = ", ".join(str(dict(zip(self.parameters, values[i]))) for i in bad[:3])
            raise WorkbenchError(
                f"Batch.solve: {bad.size} of {n} points have no unique verified steady state "
                f"(singular generator, residual or positivity), first at {first}."
            )
        if self._fixed:
            states = self._V @ states @ self._V.conj().T
        temperatures = np.broadcast_to(self._res_params[:, _kernels.PARAM_T], (n, n_res)).copy()
        mus = np.broadcast_to(self._res_params[:, _kernels.PARAM_MU], (n, n_res)).copy()
        for i, (target, r) in enumerate(zip(self._targets, self._target_res)):
            if target == _kernels.PARAM_T:
                temperatures[:, r] = values[:, i]
            elif target == _kernels.PARAM_MU:
                mus[:, r] = values[:, i]
        heat = energy - mus * number
        power = heat.sum(axis=1)
        mode, eta, cop = thermo.classify_many(power, heat, temperatures)
        return BatchResult(
            parameters=self.parameters,
            values=values,
            reservoirs=tuple(r.name for r in self.reservoirs),
            temperatures=temperatures,
            heat=heat,
            particles=number,
            power=power,
            entropy_production=thermo.entropy_production_many(heat, temperatures),
            mode=mode,
            efficiency=eta,
            cop=cop,
            residual=residual,
            states=states,
        )


def _drive_coefficient(drive, name, H_base):
    """d H_rot / d(strength or detuning): the drive's rotating Hamiltonian is affine in both."""
    zero = Drive(drive.levels, 0.0, 0.0)
    unit = Drive(drive.levels, 1.0 if name == "strength" else 0.0, 1.0 if name == "detuning" else 0.0)
    return unit.rotating_hamiltonian(H_base) - zero.rotating_hamiltonian(H_base)
