"""Many small machines at once: a parameterised template solved by one parallel numba kernel.

A sweep changes a few numbers of one design: medium controls that enter the Hamiltonian affinely
(H = H_0 + sum_i p_i H_i), reservoir temperatures, chemical potentials and couplings, and the drive's
strength and detuning.  `Batch` works out that structure once and hands plain arrays to
`engines._kernels.batched_ness`, which builds each point's Davies generator, solves it and books its
currents without creating a Python object per design.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, fields

import numba
import numpy as np
import scipy.sparse as sp

from engines import _kernels, davies, linalg, thermo, validity
from engines.checks import ModelValidityWarning, WorkbenchError, fail, real
from engines.generators import Drive, coupling_operator
from engines.linalg import BATCH_MAX_DIM, snap_degenerate
from engines.reservoirs import Reservoir

__all__ = ["Batch", "BatchResult"]

_DRIVE_FIELDS = ("strength", "detuning")
#: Kernel target of a parameter that enters the Hamiltonian (reservoir fields use their column).
_HAMILTONIAN = -1
#: Points per scratch allocation of the batched kernel (prange runs over chunks).
_CHUNK = 256


@dataclass(frozen=True)
class BatchResult:
    """Steady-state figures of every point of a batch (arrays with the point axis first, read-only).

    Attributes
    ----------
    parameters : tuple of str
    values : ndarray (n, n_params)
    reservoirs : tuple of str
    temperatures : ndarray (n, n_reservoirs)
    heat : ndarray (n, n_reservoirs)
        Heat currents into the medium, J_a = J^E_a - mu_a I_a (0.0 within `resolution`).
    particles : ndarray (n, n_reservoirs)
        Particle currents into the medium (0.0 within their resolution).
    power : ndarray (n,)
        Output power sum_a J_a (0.0 within `resolution`).
    entropy_production_rate : ndarray (n,)
        -sum_a J_a / T_a.
    mode : ndarray (n,) of str
        One of `engines.thermo.MODES` per point.
    efficiency, cop : ndarray (n,)
        NaN where the mode does not define them (see `mode`).
    resolution : ndarray (n,)
        Numerical resolution of each point's heat currents and power
        (`engines.thermo.current_resolution`).
    residual : ndarray (n,)
        ||L rho|| per point.
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
    entropy_production_rate: np.ndarray
    mode: np.ndarray
    efficiency: np.ndarray
    cop: np.ndarray
    resolution: np.ndarray
    residual: np.ndarray
    states: np.ndarray = field(repr=False)

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                if not value.flags.owndata or value.base is not None:
                    value = value.copy()
                value.setflags(write=False)
                object.__setattr__(self, f.name, value)

    def __len__(self) -> int:
        return self.values.shape[0]

    def to_frame(self):
        """The batch as a table, one row per point.

        Columns: parameters, mode, power, efficiency, COP, entropy production rate, currents J_<name>
        (and I_<name> for particle-exchanging reservoirs), resolution, residual.
        """
        import pandas as pd

        data = {name: self.values[:, i] for i, name in enumerate(self.parameters)}
        data.update(
            mode=self.mode,
            power=self.power,
            efficiency=self.efficiency,
            cop=self.cop,
            entropy_production_rate=self.entropy_production_rate,
        )
        for j, name in enumerate(self.reservoirs):
            data[f"J_{name}"] = self.heat[:, j]
        for j, name in enumerate(self.reservoirs):
            if np.any(self.particles[:, j]):
                data[f"I_{name}"] = self.particles[:, j]
        data["resolution"] = self.resolution
        data["residual"] = self.residual
        return pd.DataFrame(data)

    def to_dict(self) -> dict:
        """JSON-safe: lists per field (inf and nan as strings, undefined figures as None), no states."""

        def column(a):
            return [thermo.json_number(x) for x in np.asarray(a, dtype=float).ravel()]

        def undefined_as_none(a):
            return [None if np.isnan(x) else float(x) for x in a]

        return {
            "parameters": list(self.parameters),
            "values": [column(row) for row in self.values],
            "reservoirs": list(self.reservoirs),
            "temperatures": [column(row) for row in self.temperatures],
            "heat": [column(row) for row in self.heat],
            "particles": [column(row) for row in self.particles],
            "power": column(self.power),
            "entropy_production_rate": column(self.entropy_production_rate),
            "mode": [str(m) for m in self.mode],
            "efficiency": undefined_as_none(self.efficiency),
            "cop": undefined_as_none(self.cop),
            "resolution": column(self.resolution),
            "residual": column(self.residual),
        }


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
        engineered = [r.name for r in engine.reservoirs if not r.thermal]
        if engineered:
            fail(
                "Batch",
                "engine.reservoirs",
                engineered,
                "thermal reservoirs (the batched kernel builds Davies generators; solve squeezed or "
                "channel reservoirs one by one)",
            )
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
        tol = engine.options.degeneracy_tol
        if self._fixed:
            # One eigenbasis for every point: the dissipators' structure is fixed, only rates and the
            # coherent (drive) part change, so the sector generator is assembled from precomputed terms.
            E, V = np.linalg.eigh(H_base)
            self._E, self._starts = snap_degenerate(E, tol)
            self._V = np.ascontiguousarray(V, dtype=complex)
            self._identity_basis = bool(np.array_equal(self._V, np.eye(d)))
        else:
            self._V = np.eye(d, dtype=complex)
        Vh = self._V.conj().T
        self._Hd0 = np.ascontiguousarray(Vh @ Hd0 @ self._V)
        self._Hd_coef = np.ascontiguousarray(Vh @ Hd_coef @ self._V)
        self._Hc0 = np.ascontiguousarray(Vh @ Hc0 @ self._V)
        self._Hc_coef = np.ascontiguousarray(Vh @ Hc_coef @ self._V)
        self._channels(medium, Vh)
        if self._fixed:
            self._spacing = _kernels.coupled_bohr_spacing(self._E, self._X, davies.AMPLITUDE_CUTOFF, tol)
            self._terms = _sector_terms(
                self._E,
                self._starts,
                self._X,
                self._ch_res,
                self._ch_particles,
                self._Hc0,
                self._Hc_coef[self._targets == _HAMILTONIAN],
                tol,
            )
            # the kernel adds v_i * Hs_coef[i] for every parameter; reservoir parameters add zero
            coef = np.zeros((n_par, *self._terms["Hs0"].shape))
            coef[self._targets == _HAMILTONIAN] = self._terms.pop("Hs_coef")
            self._terms["Hs_coef"] = coef

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
        values = np.array(values, dtype=float, order="C")  # owned: BatchResult freezes it
        n = values.shape[0]
        n_res = len(self.reservoirs)
        d = self._Hd0.shape[0]
        energy = np.zeros((n, n_res))
        number = np.zeros((n, n_res))
        residual = np.zeros(n)
        positive = np.zeros(n, dtype=np.bool_)
        states = np.empty((n, d, d), dtype=complex)
        scale = np.zeros(n)
        norms = np.zeros((n, n_res))
        particle_norms = np.zeros((n, n_res))
        work = np.zeros(n, dtype=np.bool_)
        mechanical = np.zeros(n)
        decay_rate = np.zeros(n)
        outputs = (energy, number, residual, positive, states, scale, norms, particle_norms, work)
        outputs += (mechanical, decay_rate)
        spacing = np.full(n, self._spacing) if self._fixed else np.zeros(n)
        threads = numba.get_num_threads()
        numba.set_num_threads(_kernel_threads(threads, n))
        try:
            self._run_kernel(values, outputs, spacing, options)
        finally:
            numba.set_num_threads(threads)
        self._warn_if_out_of_regime(values, decay_rate, spacing)
        return self._result(values, *outputs[:-1], options)

    def _warn_if_out_of_regime(self, values, rate, spacing) -> None:
        """`ModelValidityWarning` where points use the global flavour outside its regime (`validity`)."""
        out = np.flatnonzero(rate > validity.FACTOR * spacing)
        if out.size == 0:
            return
        worst = out[np.argmax(rate[out] / spacing[out])]
        where = dict(zip(self.parameters, values[worst].tolist()))
        warnings.warn(
            f"Batch.solve: flavour 'global' is used outside its regime at {out.size} of {len(values)} "
            "points: "
            f"bath rates exceed {validity.FACTOR:g} times the smallest Bohr-frequency spacing the secular "
            f"master equation must resolve (worst at {where}: rate {rate[worst]:.3g}, spacing "
            f"{spacing[worst]:.3g}); solve those points one by one with flavour 'unified'.",
            ModelValidityWarning,
            stacklevel=3,
        )

    def _run_kernel(self, values, outputs, spacing, options):
        """One call of the batched kernel (sector path for a fixed eigenbasis, general otherwise)."""
        if self._fixed:
            t = self._terms
            _kernels.batched_ness_sector(
                values, self._targets, self._target_res, self._res_params,
                self._E, self._V, self._identity_basis, self._Hc0, self._Hc_coef,
                t["ent_ch"], t["ent_w"], self._ch_res, self._ch_kind, t["Hs0"], t["Hs_coef"],
                t["t_row"], t["t_col"], t["t_e1"], t["t_e2"], t["t_coef"], t["trace"],
                t["weights"], t["sc_k"], t["sc_i"], t["sc_j"], t["sc_f"],
                t["o_res"], t["o_e"], t["o_row"], t["o_col"], t["o_energy"], t["o_number"],
                t["o_slot"], t["slot_res"], t["slot_k"],
                t["dk_e"], t["dk_k"], t["dk_w"],
                options.degeneracy_tol, options.state_tol, _CHUNK,
                *outputs,
            )  # fmt: skip
        else:
            _kernels.batched_ness(
                values, self._targets, self._target_res, self._Hd0, self._Hd_coef,
                self._Hc0, self._Hc_coef, self.engine.drive is not None,
                self._X, self._ch_res, self._ch_kind, self._ch_particles, self._res_params,
                options.degeneracy_tol, options.degeneracy_tol, options.state_tol,
                *outputs, davies.AMPLITUDE_CUTOFF, spacing,
            )  # fmt: skip

    def _result(
        self,
        values,
        energy,
        number,
        residual,
        positive,
        states,
        scale,
        norms,
        particle_norms,
        work,
        mechanical,
        options,
    ):
        """Verify every point, book its currents and classify it (docs/physics.md, Sections 6-7)."""
        n, d = values.shape[0], states.shape[1]
        bad = np.flatnonzero(~(residual <= options.residual_tol * scale) | ~positive)
        if bad.size:
            first = ", ".join(str(dict(zip(self.parameters, values[i]))) for i in bad[:3])
            raise WorkbenchError(
                f"Batch.solve: {bad.size} of {n} points have no unique verified steady state "
                f"(singular generator, residual or positivity), first at {first}."
            )
        temperatures = np.repeat(self._res_params[None, :, _kernels.PARAM_T], n, axis=0)
        mus = np.repeat(self._res_params[None, :, _kernels.PARAM_MU], n, axis=0)
        for i, (target, r) in enumerate(zip(self._targets, self._target_res)):
            if target == _kernels.PARAM_T:
                temperatures[:, r] = values[:, i]
            elif target == _kernels.PARAM_MU:
                mus[:, r] = values[:, i]
        leads = self._ch_res[self._ch_particles != 0]
        heat = energy - mus * number if leads.size else energy
        if leads.size:
            # chemical work: particles exchanged with leads at different chemical potentials
            work |= np.ptp(mus[:, np.unique(leads)], axis=1) > 0
        mismatch = np.abs(energy.sum(axis=1) - mechanical)
        delta = thermo.current_resolution(residual, scale, norms, d, mismatch)
        power = heat.sum(axis=1)
        # classify_many returns the currents with zeros within delta; power is zeroed the same way
        power = thermo.resolved(power, delta)
        if leads.size:
            number = thermo.resolved(number, thermo.current_resolution(residual, scale, particle_norms, d))
        mode, eta, cop, sigma, heat = thermo._classify_many(power, heat, temperatures, delta, work, depth=2)
        return BatchResult(
            parameters=self.parameters,
            values=values,
            reservoirs=tuple(r.name for r in self.reservoirs),
            temperatures=temperatures,
            heat=heat,
            particles=number,
            power=power,
            entropy_production_rate=sigma,
            mode=mode,
            efficiency=eta,
            cop=cop,
            resolution=delta,
            residual=residual,
            states=states,
        )


def _kernel_threads(threads: int, n: int) -> int:
    """Threads for the batched kernel: all of numba's unless the machine is busy or the batch small.

    The kernel's parallel loop splits the points evenly between threads and waits for the slowest;
    when another process holds a core, that thread runs at a fraction of its speed and two threads
    were slower than one (maser sweep, 2 CPUs, load 1.9: 24 ms against 20 ms).  The 1-minute load
    average is the signal; the results do not depend on the choice.
    """
    if n < _CHUNK * 4:
        return 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this platform
        return threads
    return threads if load < (os.cpu_count() or 1) - 0.5 else 1


def _sector_terms(E, starts, X, ch_res, ch_particles, Hc0, Hc_coef, tol) -> dict:
    """Precomputed terms of the sector generator, currents and decay rates (`batched_ness_sector`).

    E (snapped) and starts are the fixed spectrum and its degenerate blocks, X (n_ch, d, d) the
    channels' couplings in the eigenbasis, Hc0 and Hc_coef (k, d, d) the coherent part and its
    coefficients.  Rate entries are the nonzero X[c, m, k] (jump k -> m at Bohr frequency
    E_k - E_m).  The sector is the union of the components of the generator's sparsity graph
    (the union over all points: Hc0, every Hc_coef, every Davies term) that hold a population, an
    invariant subspace of every point's generator.
    """
    d = E.size
    n = d * d
    escale = max(1.0, float(np.max(np.abs(E), initial=0.0)))
    block = np.repeat(np.arange(starts.size - 1), np.diff(starts))
    ent_ch, ent_m, ent_k = np.nonzero(X)
    ent_w = E[ent_k] - E[ent_m]
    # Davies dissipator terms on the full d^2 space: (row, col, e1, e2, coefficient).
    rows, cols, e1s, e2s, coefs = [], [], [], [], []
    for c in range(X.shape[0]):
        ids = np.flatnonzero(ent_ch == c)
        for e1 in ids:
            m, k = ent_m[e1], ent_k[e1]
            for e2 in ids:
                m2, k2 = ent_m[e2], ent_k[e2]
                if abs(ent_w[e1] - ent_w[e2]) <= tol * escale:  # jump term, same Bohr frequency
                    rows.append(m + d * m2)
                    cols.append(k + d * k2)
                    e1s.append(e1)
                    e2s.append(e2)
                    coefs.append(X[c, m, k] * np.conj(X[c, m2, k2]))
                if m2 == m and block[k] == block[k2]:  # -(Gamma rho + rho Gamma)/2
                    g = -0.5 * np.conj(X[c, m, k]) * X[c, m, k2]
                    for i in range(d):
                        rows += [k + d * i, i + d * k2]
                        cols += [k2 + d * i, i + d * k]
                        e1s += [e1, e1]
                        e2s += [e2, e2]
                        coefs += [g, g]
    rows, cols = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
    H_all = np.abs(Hc0) + np.abs(Hc_coef).sum(axis=0)
    Hsup = linalg.commutator(H_all, dense=True) != 0
    pattern = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n)) + sp.csr_array(Hsup)
    _, component = linalg.connected_components(pattern, directed=False)
    diagonal = np.arange(d) * (d + 1)
    nodes = np.flatnonzero(np.isin(component, component[diagonal]))
    where = np.full(n, -1, dtype=np.int64)
    where[nodes] = np.arange(nodes.size)
    keep = where[cols] >= 0
    commutator = lambda H: linalg.commutator(H, dense=True)[np.ix_(nodes, nodes)]  # noqa: E731
    # Current observables O_E[k, k2] = sum_m R[m, k] conj(X[m, k]) X[m, k2] (E_m - E_k), k ~ k2.
    o = {key: [] for key in ("res", "e", "k", "k2", "node", "energy", "number")}
    for e, (c, m, k) in enumerate(zip(ent_ch, ent_m, ent_k)):
        for k2 in range(starts[block[k]], starts[block[k] + 1]):
            if X[c, m, k2] == 0:
                continue
            amp = np.conj(X[c, m, k]) * X[c, m, k2]
            o["res"].append(ch_res[c])
            o["e"].append(e)
            o["k"].append(k)
            o["k2"].append(k2)
            o["node"].append(where[k2 + d * k])
            o["energy"].append(amp * (E[m] - E[k]))
            o["number"].append(amp * ch_particles[c])
    ints = lambda a: np.array(a, dtype=np.int64)  # noqa: E731
    # one accumulator per matrix entry (reservoir, k, k2) of the current observables
    entries = np.array([o["res"], o["k"], o["k2"]], dtype=np.int64).reshape(3, -1).T
    slots, o_slot = np.unique(entries, axis=0, return_inverse=True)
    cplx = lambda a: np.array(a, dtype=complex)  # noqa: E731
    trace = np.zeros(nodes.size, dtype=complex)
    trace[where[diagonal]] = 1.0
    # Real coordinates of the Hermitian states in the sector: x = T y with y = (p_i; Re, Im of
    # rho_ij, i < j).  A Hermiticity-preserving generator is real in them: R = T^-1 M T, so the
    # kernel assembles and solves a real system (a quarter of the complex work).
    T, Tinv, weights, scatter = _real_coordinates(nodes, d)
    Hs = [commutator(H) for H in (Hc0, *Hc_coef)]
    Hs_real = [_real_part(Tinv @ H @ T) for H in Hs]
    r_row, r_col, r_e1, r_e2, r_coef = [], [], [], [], []
    for row, col, e1, e2, coef in zip(
        where[rows[keep]], where[cols[keep]], ints(e1s)[keep], ints(e2s)[keep], cplx(coefs)[keep]
    ):
        for a in np.flatnonzero(Tinv[:, row]):
            for b in np.flatnonzero(T[col]):
                r_row.append(a)
                r_col.append(b)
                r_e1.append(min(e1, e2))  # sqrt(r1 r2) is symmetric: conjugate partners share a key
                r_e2.append(max(e1, e2))
                r_coef.append(Tinv[a, row] * coef * T[col, b])
    r_coef = np.array(r_coef, dtype=complex)
    # Terms sharing (row, col, e1, e2) are summed: each one's imaginary part cancels in the sum.
    key = np.array([r_row, r_col, r_e1, r_e2], dtype=np.int64).reshape(4, -1).T
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    summed = np.zeros(unique.shape[0], dtype=complex)
    np.add.at(summed, inverse.ravel(), r_coef)
    coef_real = _real_part(summed)
    nonzero = coef_real != 0
    return {
        "ent_ch": ints(ent_ch),
        "ent_w": np.ascontiguousarray(ent_w, dtype=float),
        "Hs0": np.ascontiguousarray(Hs_real[0]),
        "Hs_coef": np.array(Hs_real[1:], dtype=float).reshape(len(Hc_coef), nodes.size, nodes.size),
        "t_row": np.ascontiguousarray(unique[nonzero, 0]),
        "t_col": np.ascontiguousarray(unique[nonzero, 1]),
        "t_e1": np.ascontiguousarray(unique[nonzero, 2]),
        "t_e2": np.ascontiguousarray(unique[nonzero, 3]),
        "t_coef": np.ascontiguousarray(coef_real[nonzero]),
        "trace": _real_part(trace @ T),
        "weights": weights,
        "sc_k": scatter[0],
        "sc_i": scatter[1],
        "sc_j": scatter[2],
        "sc_f": scatter[3],
        "o_res": ints(o["res"]),
        "o_e": ints(o["e"]),
        "o_slot": ints(o_slot).ravel(),
        "slot_res": np.ascontiguousarray(slots[:, 0]),
        "slot_k": np.ascontiguousarray(slots[:, 1]),
        "o_row": ints(o["k2"]),
        "o_col": ints(o["k"]),
        "o_energy": cplx(o["energy"]),
        "o_number": cplx(o["number"]),
        "dk_e": np.arange(ent_ch.size, dtype=np.int64),
        "dk_k": ints(ent_k),
        "dk_w": np.abs(X[ent_ch, ent_m, ent_k]) ** 2,
    }


def _real_coordinates(nodes, d):
    """X = T y for the sector's entries x of rho and real coordinates y (populations, Re and Im).

    Returns T (n, n) complex, its inverse, the weights w with ||x||^2 = sum_k w_k y_k^2 (2 for the
    coordinates of an off-diagonal pair, which appears as rho_ij and rho_ji), and the scatter list
    (k, i, j, factor): rho[i, j] += factor y_k.
    """
    n = nodes.size
    where = {int(v): k for k, v in enumerate(nodes)}
    T = np.zeros((n, n), dtype=complex)
    weights = np.ones(n)
    scatter = []
    k = 0
    for v in nodes:
        i, j = int(v % d), int(v // d)
        if i == j:
            T[where[int(v)], k] = 1.0
            scatter.append((k, i, i, 1.0))
            k += 1
        elif i < j:
            u, w = where[int(v)], where[j + d * i]  # rho_ij, rho_ji
            T[u, k], T[w, k] = 1.0, 1.0
            T[u, k + 1], T[w, k + 1] = 1j, -1j
            weights[k : k + 2] = 2.0
            scatter += [(k, i, j, 1.0), (k, j, i, 1.0), (k + 1, i, j, 1j), (k + 1, j, i, -1j)]
            k += 2
    Tinv = np.linalg.inv(T)
    Tinv[np.abs(Tinv) < 1e-15] = 0.0
    columns = list(zip(*scatter))
    return (
        T,
        Tinv,
        weights,
        (
            np.array(columns[0], dtype=np.int64),
            np.array(columns[1], dtype=np.int64),
            np.array(columns[2], dtype=np.int64),
            np.array(columns[3], dtype=complex),
        ),
    )


def _real_part(a):
    """The real part of an array that must be real up to round-off (a check, not a projection)."""
    a = np.asarray(a)
    if np.max(np.abs(a.imag), initial=0.0) > 1e-12 * max(1.0, float(np.max(np.abs(a.real), initial=0.0))):
        raise AssertionError("a Hermiticity-preserving generator must be real in Hermitian coordinates")
    return np.ascontiguousarray(a.real)


def _drive_coefficient(drive, name, H_base):
    """D H_rot / d(strength or detuning): the drive's rotating Hamiltonian is affine in both."""
    zero = Drive(drive.levels, 0.0, 0.0)
    unit = Drive(drive.levels, 1.0 if name == "strength" else 0.0, 1.0 if name == "detuning" else 0.0)
    return unit.rotating_hamiltonian(H_base) - zero.rotating_hamiltonian(H_base)
