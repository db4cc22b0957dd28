"""Continuous (autonomous) machines: a medium, its reservoirs and an optional drive, and their NESS."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from engines import linalg, memory, thermo, validity
from engines.checks import FrozenMapping, WorkbenchError, choice, fail, mapping
from engines.generators import ENGINE_FLAVOURS, Drive, build_generator, check_reservoirs
from engines.media import Medium
from engines.options import Options
from engines.reservoirs import ChannelReservoir, FermionicLead
from engines.steady import SOLVERS, solve_steady_state
from engines.values import Value

__all__ = ["Engine", "SteadyState"]


def _known_ledger(spohn: dict, reason):
    return spohn, reason


def _rebuild_steady_state(fields: dict, ledger):
    return SteadyState(**fields, _ledger=ledger)


@dataclass(frozen=True)
class SteadyState:
    """A non-equilibrium steady state and its thermodynamics (docs/physics.md, Sections 5-7).

    Attributes
    ----------
    rho : ndarray (d, d)
        The NESS in the medium's basis (rotating frame when driven); read-only.
    heat_currents : mapping name -> float
        J_a = Tr[O_a rho], O_a = D_a^dag(H_ref) - mu_a N_a, positive into the medium; exactly 0.0
        within `resolution`.  Read-only.
    particle_currents : mapping name -> float
        I_a = Tr[N_a rho] for reservoirs that exchange particles (0.0 within their resolution).
    temperatures : mapping name -> float
    power : float
        Output power P = sum_a J_a (positive for an engine), 0.0 within `resolution`.
    mode : str
        One of `engines.thermo.MODES`; "undetermined" when the mode hinges on a value below
        `resolution` (a `ThermodynamicsWarning` says which).
    efficiency, cop : float or None
        Efficiency of an engine or heat transformer; COP of a refrigerator or heat pump.
    entropy_production_rate : float or None
        -sum_a J_a / T_a in nats per unit time: the housekeeping rate at the NESS (>= 0 for a
        consistent model); None with a non-thermal reservoir (see `undefined`).
    resolution : float
        Numerical resolution delta of the heat currents and the power: it bounds the error of any
        sum of them (`engines.thermo.current_resolution`).
    residual : float
        ||L rho|| (Frobenius norm).
    solver, flavour, bookkeeping : str
        How it was computed; `bookkeeping` names the Hamiltonian heat was booked against.
    spohn_rates : mapping name -> float or None
        Per-bath Spohn term sigma_a = -Tr[D_a(pi)(ln pi - ln pi_a)] >= 0 at the NESS pi, pi_a the fixed
        point of D_a alone (`engines.thermo.bath_fixed_points`): the housekeeping entropy production
        of bath a (sigma_na = 0 at the NESS).  None when D_a alone has no unique fixed point
        (`ledger_reason` says why).  For global engines sum_a sigma_a = `entropy_production_rate`.
    entropy_flows : mapping name -> float
        -J_a / T_a, the entropy flow into reservoir a (+-inf for a current into a T = 0 reservoir).
    ledger_reason : str or None
        Why a Spohn term is missing or infinite.
    undefined : str or None
        Why the temperature-based figures (Carnot efficiency, entropy production rate, the mode
        rules that compare temperatures) are None: a reservoir is not thermal
        (`engines.thermo.clausius_undefined`).  `temperatures` then lists the thermal ones only.
    """

    rho: np.ndarray = field(repr=False)
    heat_currents: Mapping
    particle_currents: Mapping
    temperatures: Mapping
    power: float
    mode: str
    efficiency: float | None
    cop: float | None
    entropy_production_rate: float | None
    resolution: float
    residual: float
    solver: str
    flavour: str
    bookkeeping: str
    entropy_flows: Mapping = field(default_factory=dict)
    undefined: str | None = None
    #: () -> ({name: sigma_a or None}, reason or None): the per-bath ledger, computed on first use
    #: (it costs more than the solve for large d, and most callers never read it).
    _ledger: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        for name in ("heat_currents", "particle_currents", "temperatures", "entropy_flows"):
            value = getattr(self, name)
            object.__setattr__(self, name, FrozenMapping({k: float(v) for k, v in value.items()}))

    def __reduce__(self):
        # the lazy ledger is a closure over the engine: a pickled steady state carries its values
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "_ledger"}
        known = functools.partial(_known_ledger, dict(self.spohn_rates), self.ledger_reason)
        return (_rebuild_steady_state, (fields, known))

    @cached_property
    def _spohn(self) -> tuple:
        spohn, reason = ({}, None) if self._ledger is None else self._ledger()
        return FrozenMapping({k: None if v is None else float(v) for k, v in spohn.items()}), reason

    @property
    def spohn_rates(self) -> Mapping:
        """Per-bath Spohn terms (see the class docstring), computed on first access."""
        return self._spohn[0]

    @property
    def ledger_reason(self) -> str | None:
        """Why a Spohn term is missing or infinite (None when all are defined)."""
        return self._spohn[1]

    @property
    def carnot_efficiency(self) -> float | None:
        """1 - T_cold / T_hot of the reservoirs (None when a reservoir is not thermal: `undefined`)."""
        if self.undefined is not None:
            return None
        return thermo.carnot_efficiency(self.temperatures)

    def to_dict(self) -> dict:
        """JSON-safe summary (the density matrix as its populations in the medium's basis)."""
        num = thermo.json_number
        return {
            "mode": self.mode,
            "power": num(self.power),
            "efficiency": num(self.efficiency),
            "cop": num(self.cop),
            "carnot_efficiency": num(self.carnot_efficiency),
            "entropy_production_rate": num(self.entropy_production_rate),
            "undefined": self.undefined,
            "heat_currents": {k: num(v) for k, v in self.heat_currents.items()},
            "particle_currents": {k: num(v) for k, v in self.particle_currents.items()},
            "temperatures": {k: num(v) for k, v in self.temperatures.items()},
            "populations": [float(p) for p in np.real(np.diag(self.rho))],
            "resolution": num(self.resolution),
            "residual": num(self.residual),
            "solver": self.solver,
            "flavour": self.flavour,
            "bookkeeping": self.bookkeeping,
            "spohn_rates": {k: num(v) for k, v in self.spohn_rates.items()},
            "entropy_flows": {k: num(v) for k, v in self.entropy_flows.items()},
            "ledger_reason": self.ledger_reason,
        }

    def to_series(self):
        """The figures as a `pandas.Series`, so that designs line up side by side (``pd.concat(axis=1)``).

        Index: mode, power, efficiency, cop, carnot_efficiency, entropy_production_rate, J_<name>
        per reservoir, I_<name> per particle-exchanging reservoir, resolution, residual, solver,
        flavour, bookkeeping, and ``undefined`` (the reason) with a non-thermal reservoir.  Undefined
        figures are None.
        """
        import pandas as pd

        data = {
            "mode": self.mode,
            "power": self.power,
            "efficiency": self.efficiency,
            "cop": self.cop,
            "carnot_efficiency": self.carnot_efficiency,
            "entropy_production_rate": self.entropy_production_rate,
        }
        data.update({f"J_{k}": v for k, v in self.heat_currents.items()})
        data.update({f"I_{k}": v for k, v in self.particle_currents.items()})
        data.update(
            resolution=self.resolution,
            residual=self.residual,
            solver=self.solver,
            flavour=self.flavour,
            bookkeeping=self.bookkeeping,
        )
        if self.undefined is not None:  # a non-thermal reservoir: why the T-based figures are None
            data["undefined"] = self.undefined
        return pd.Series(data, dtype=object)


class Engine(Value):
    """A continuous machine: `medium` coupled to `reservoirs` (and a `drive`) in a given flavour.

    Parameters
    ----------
    medium : engines.media.Medium
    reservoirs : sequence of Reservoir
    flavour : {"global", "local", "unified", "redfield"}
        Dissipator construction (see `engines.generators`; "redfield": `engines.redfield`).
    drive : Drive, optional
        Resonant classical field, treated in its rotating frame.
    bookkeeping : {"bare", "full"}, optional
        Local flavour only: book heat against the bare site Hamiltonians (default) or the full H.
    controls : dict, optional
        Control values of the medium (its defaults otherwise).
    options : engines.Options or mapping, optional
        Tolerances and limits of the numerics (`engines.Options`).

    Raises
    ------
    WorkbenchError
        For bad input, and when the generator and its steady state would not fit in
        ``options.memory_limit`` (estimated before anything is built; `engines.memory`).

    Notes
    -----
    An engine is an immutable value, like its parts: it builds its generator once, so that
    assigning ``engine.drive = ...`` (or ``bath.T = ...`` on one of its reservoirs) would leave the
    generator describing the old physics; both raise.  ``engine.replace(reservoirs=[hot.replace(T=8.0),
    cold])`` makes a changed engine, built and checked anew.
    """

    def __init__(
        self,
        medium,
        reservoirs,
        flavour="global",
        drive=None,
        *,
        bookkeeping=None,
        controls=None,
        options=None,
    ):
        if not isinstance(medium, Medium):
            fail("Engine", "medium", medium, "a working medium (an engines.media.Medium)")
        self.medium = medium
        self.reservoirs = check_reservoirs(reservoirs)
        self.flavour = choice("Engine", "flavour", flavour, ENGINE_FLAVOURS)
        if drive is not None and not isinstance(drive, Drive):
            fail("Engine", "drive", drive, "a Drive or None")
        self.drive = drive
        self.bookkeeping = bookkeeping
        if controls is not None and not isinstance(controls, Mapping):
            fail("Engine", "controls", controls, "a mapping {control name: value}")
        given = dict(controls or {})
        resolved = medium._resolve(given)
        self.controls = mapping({k: resolved[k] for k in given})
        self.options = Options.coerce(options)
        memory.check_engine(medium, self.reservoirs, self.flavour, drive, self.options)
        self.generator  # noqa: B018 - build now so bad input fails at construction

    def _arguments(self):
        return {
            "medium": self.medium,
            "reservoirs": self.reservoirs,
            "flavour": self.flavour,
            "drive": self.drive,
            "bookkeeping": self.bookkeeping,
            "controls": dict(self.controls),
            "options": self.options,
        }

    def replace(self, **changes) -> Engine:
        """A changed copy, built and checked anew (its generator too).

        ``replace(medium=..., reservoirs=..., flavour=..., drive=..., bookkeeping=..., controls=...,
        options=...)``.

        Each argument replaces the old one whole: ``options={"memory_limit": 1e9}`` starts from the
        defaults, ``options=engine.options.replace(memory_limit=1e9)`` keeps the other options.
        """
        return super().replace(**changes)

    def __repr__(self):
        names = ", ".join(r.name for r in self.reservoirs)
        return f"Engine({self.medium!r}, reservoirs=[{names}], flavour={self.flavour!r})"

    @cached_property
    def generator(self):
        """The GKSL generator (built once; the engine and its parts are immutable)."""
        # the library's thread policy: the basis changes of the coupling operators are many small products
        with linalg.blas_threads(self.options.blas_threads):
            return build_generator(
                self.medium,
                self.reservoirs,
                self.flavour,
                drive=self.drive,
                bookkeeping=self.bookkeeping,
                controls=self.controls,
                options=self.options,
            )

    def to_qutip(self):
        """The engine's Hamiltonian and jump operators as QuTiP objects, in the medium's basis.

        Returns
        -------
        H : qutip.Qobj
            The coherent part of the generator: the medium's Hamiltonian, or the rotating-frame
            Hamiltonian when driven (the frame `steady_state` reports rho in).
        c_ops : list of qutip.Qobj
            Every dissipator's jump operators sqrt(gamma) A(w), in reservoir order, so that
            ``qutip.liouvillian(H, c_ops)`` is the engine's generator and
            ``qutip.steadystate(H, c_ops)`` its steady state.  Multi-site media keep their tensor
            structure (``dims = [site_dims, site_dims]``).

        Raises
        ------
        ImportError
            If QuTiP is not installed (it is not a dependency of the workbench).
        """
        try:
            import qutip
        except ImportError as e:
            raise ImportError(
                "Engine.to_qutip needs QuTiP, which the workbench does not depend on: "
                "pip install qutip (or the project's dev extra, pip install -e '.[dev]')."
            ) from e
        gen = self.generator
        if gen.flavour == "redfield":
            raise WorkbenchError(
                "Engine.to_qutip: the redfield flavour has no jump operators (it is not GKLS); build "
                "QuTiP's own qutip.bloch_redfield_tensor from the Hamiltonian and the baths' spectra."
            )
        dims = [list(self.medium.site_dims), list(self.medium.site_dims)]
        if gen.basis is None:
            H = gen.hamiltonian
            jumps = [L for D in gen.dissipators for L in D.jumps]
        else:
            sectors = gen.davies.spectrum.sectors

            def to_medium(X):
                return linalg.from_eigenbasis(gen.basis, sectors, linalg.to_dense(X))

            H = to_medium(gen.hamiltonian)
            H = 0.5 * (H + H.conj().T)
            jumps = [sp.csr_array(to_medium(L)) for D in gen.dissipators for L in D.jumps]
        return qutip.Qobj(H, dims=dims), [qutip.Qobj(L, dims=dims) for L in jumps]

    def steady_state(self, solver="auto", initial=None) -> SteadyState:
        """The NESS and its currents, power, mode, efficiency or COP and entropy production rate.

        Parameters
        ----------
        solver : {"auto", "pauli", "dense", "sparse", "iterative"}
        initial : ndarray (d, d), optional
            Picks the steady state reached from this state when it is not unique.

        Warns
        -----
        ModelValidityWarning
            When the global or local flavour is used far outside its regime (`engines.validity`),
            or a redfield steady state is not positive.
        ThermodynamicsWarning
            When the mode is undetermined (a value it hinges on is below the numerical resolution)
            or the entropy production is negative (the model breaks the second law).
        """
        gen = self.generator
        choice("steady_state", "solver", solver, SOLVERS)
        validity.warn_if_out_of_regime(self, stacklevel=3)
        memory.check_solve(self, gen, solver, self.options)
        # the library's thread policy (engines.steady) also covers the basis change back
        with linalg.blas_threads(self.options.blas_threads):
            sol = solve_steady_state(gen, solver, initial, self.options)
            rho = gen.to_medium_basis(sol.rho)
        self.medium.check_state(rho)
        rho = np.array(rho)
        rho.setflags(write=False)
        mu = np.array([r.mu for r in self.reservoirs])
        heat_raw = sol.energy_currents - mu * sol.particle_currents
        mismatch = abs(float(np.sum(sol.energy_currents)) - sol.mechanical_power)
        if any(isinstance(r, ChannelReservoir) and r.energy is not None for r in self.reservoirs):
            mismatch = 0.0  # a current booked against the user's own operator is outside the first law
        delta = thermo.current_resolution(sol.residual, sol.scale, sol.observable_norms, gen.dim, mismatch)
        particle_delta = thermo.current_resolution(sol.residual, sol.scale, sol.particle_norms, gen.dim)
        names = [r.name for r in self.reservoirs]
        heat = dict(zip(names, thermo.resolved(heat_raw, delta).tolist()))
        number = thermo.resolved(sol.particle_currents, particle_delta).tolist()
        particles = {
            r.name: n
            for r, n in zip(self.reservoirs, number)
            if isinstance(r, FermionicLead) or (isinstance(r, ChannelReservoir) and r.particles is not None)
        }
        temperatures = {r.name: r.T for r in self.reservoirs if r.thermal}
        power = float(thermo.resolved(heat_raw.sum(), delta))
        common = {
            "rho": rho,
            "heat_currents": heat,
            "particle_currents": particles,
            "temperatures": temperatures,
            "power": power,
            "resolution": delta,
            "residual": sol.residual,
            "solver": sol.solver,
            "flavour": gen.flavour,
            "bookkeeping": gen.bookkeeping,
        }
        undefined = thermo.clausius_undefined(self.reservoirs)
        if undefined is not None:
            mode, eta, cop = thermo.classify_nonthermal(power, heat, delta)
            return SteadyState(
                **common,
                mode=mode,
                efficiency=eta,
                cop=cop,
                entropy_production_rate=None,
                undefined=undefined,
            )
        # depth 2: the warnings point at the caller of steady_state
        mode, eta, cop = thermo._classify_one(power, heat, temperatures, delta, self.work_source, depth=2)
        sigma = thermo.entropy_production(heat, temperatures, resolution=delta)
        if mode != "second-law violation":  # that mode has warned already
            thermo.warn_if_second_law_broken(
                sigma,
                heat,
                temperatures,
                f"the steady state of {self!r} (bookkeeping {gen.bookkeeping!r})",
                resolution=delta,
                stacklevel=4,
            )

        def ledger():
            spohn, reasons = {}, [r for _, r in self.bath_fixed_points if r is not None]
            fixed = [
                None if pi is None else thermo.spectrum_on_support(pi) for pi, _ in self.bath_fixed_points
            ]
            pi_spec = thermo.spectrum_on_support(np.asarray(sol.rho))
            for r, (s_a, _, why) in zip(
                self.reservoirs, thermo.bath_entropy_rates(gen, sol.rho, pi_spec, fixed)
            ):
                spohn[r.name] = s_a
                if why:
                    reasons.append(why)
            return spohn, "; ".join(reasons) or None

        flows = {
            k: thermo.entropy_production({k: heat[k]}, {k: temperatures[k]}, resolution=delta) for k in names
        }
        return SteadyState(
            **common,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_production_rate=sigma,
            entropy_flows=flows,
            _ledger=ledger,
        )

    @cached_property
    def bath_fixed_points(self) -> tuple:
        """Per reservoir, (pi_a, reason): the fixed point of its dissipator alone, or why there is none.

        See `engines.thermo.bath_fixed_points` (generator basis); computed once per engine.
        """
        return thermo.bath_fixed_points(self.generator, self.options, self.medium.site_dims)

    @cached_property
    def work_source(self) -> bool:
        """Whether the machine exchanges work: its power observable i[H_ref, H] is not zero.

        A drive, or local "bare" bookkeeping whose interaction does not commute with the bare
        Hamiltonian (boundary work), is a work source; an undriven global machine or local "full"
        bookkeeping (H_ref = H) is not, and its P = sum_a J_a vanishes structurally
        (docs/physics.md, Sections 5 and 6).
        """
        return thermo.has_work_source(self.generator, self.options)
