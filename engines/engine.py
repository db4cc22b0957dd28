"""Continuous (autonomous) machines: a medium, its reservoirs and an optional drive, and their NESS."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from engines import thermo
from engines.generators import build_generator
from engines.options import Options
from engines.reservoirs import FermionicLead
from engines.steady import solve_steady_state

__all__ = ["Engine", "SteadyState"]


@dataclass(frozen=True)
class SteadyState:
    """A non-equilibrium steady state and its thermodynamics.

    Attributes
    ----------
    rho : ndarray (d, d)
        The NESS in the medium's basis (rotating frame when driven); read-only.
    heat_currents : dict name -> float
        J_a = Tr[H_ref D_a(rho)] - mu_a I_a, positive into the medium.
    particle_currents : dict name -> float
        I_a = Tr[N D_a(rho)] for reservoirs that exchange particles.
    temperatures : dict name -> float
    power : float
        Output power P = sum_a J_a (positive for an engine).
    mode : str
        One of engines.thermo.MODES.
    efficiency, cop : float or None
        Defined for engines and refrigerators respectively.
    entropy_production : float
        -sum_a J_a / T_a: at the NESS this is the housekeeping entropy production (>= 0 for a
        consistent model).
    residual : float
        ||L rho|| (Frobenius norm).
    solver, flavour, bookkeeping : str
        How it was computed; `bookkeeping` names the Hamiltonian heat was booked against.
    """

    rho: np.ndarray = field(repr=False)
    heat_currents: dict
    particle_currents: dict
    temperatures: dict
    power: float
    mode: str
    efficiency: float | None
    cop: float | None
    entropy_production: float
    residual: float
    solver: str
    flavour: str
    bookkeeping: str

    @property
    def carnot_efficiency(self) -> float | None:
        """1 - T_cold / T_hot of the reservoirs."""
        return thermo.carnot_efficiency(self.temperatures)

    def to_dict(self) -> dict:
        """JSON-safe summary (the density matrix as its populations in the medium's basis)."""

        return {
            "mode": self.mode,
            "power": thermo.json_number(self.power),
            "efficiency": thermo.json_number(self.efficiency),
            "cop": thermo.json_number(self.cop),
            "carnot_efficiency": thermo.json_number(self.carnot_efficiency),
            "entropy_production": thermo.json_number(self.entropy_production),
            "heat_currents": {k: thermo.json_number(v) for k, v in self.heat_currents.items()},
            "particle_currents": {k: thermo.json_number(v) for k, v in self.particle_currents.items()},
            "temperatures": dict(self.temperatures),
            "populations": [float(p) for p in np.real(np.diag(self.rho))],
            "residual": self.residual,
            "solver": self.solver,
            "flavour": self.flavour,
            "bookkeeping": self.bookkeeping,
        }


class Engine:
    """A continuous machine: `medium` coupled to `reservoirs` (and a `drive`) in a given flavour.

    Parameters
    ----------
    medium : engines.media.Medium
    reservoirs : sequence of Reservoir
    flavour : {"global", "local"}
        Dissipator construction (see `engines.generators`).
    drive : Drive, optional
        Resonant classical field, treated in its rotating frame.
    bookkeeping : {"bare", "full"}, optional
        Local flavour only: book heat against the bare site Hamiltonians (default) or the full H.
    controls : dict, optional
        Control values of the medium (its defaults otherwise).
    options : engines.Options or mapping, optional
        Tolerances and limits of the numerics (`engines.Options`).
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
        self.medium = medium
        self.reservoirs = tuple(reservoirs)
        self.flavour = flavour
        self.drive = drive
        self.bookkeeping = bookkeeping
        self.controls = dict(controls or {})
        self.options = Options.coerce(options)
        self.generator  # noqa: B018 - build now so bad input fails at construction

    def __repr__(self):
        names = ", ".join(r.name for r in self.reservoirs)
        return f"Engine({self.medium!r}, reservoirs=[{names}], flavour={self.flavour!r})"

    @cached_property
    def generator(self):
        """The GKSL generator (built once)."""
        return build_generator(
            self.medium,
            self.reservoirs,
            self.flavour,
            drive=self.drive,
            bookkeeping=self.bookkeeping,
            controls=self.controls,
            options=self.options,
        )

    def steady_state(self, solver="auto", initial=None) -> SteadyState:
        """The NESS and its currents, power, efficiency, mode and entropy production.

        Parameters
        ----------
        solver : {"auto", "pauli", "dense", "sparse", "iterative"}
        initial : ndarray (d, d), optional
            Picks the steady state reached from this state when it is not unique.
        """
        gen = self.generator
        sol = solve_steady_state(gen, solver, initial, self.options)
        rho = gen.to_medium_basis(sol.rho)
        self.medium.check_state(rho)
        rho = np.array(rho)
        rho.setflags(write=False)
        heat, particles = {}, {}
        for r, energy, number in zip(self.reservoirs, sol.energy_currents, sol.particle_currents):
            heat[r.name] = float(energy - r.mu * number)
            if isinstance(r, FermionicLead):
                particles[r.name] = float(number)
        temperatures = {r.name: r.T for r in self.reservoirs}
        power = float(sum(heat.values()))
        mode, eta, cop = thermo.classify(power, heat, temperatures)
        sigma = thermo.entropy_production(heat, temperatures)
        thermo.warn_if_second_law_broken(
            sigma, heat, temperatures, f"the steady state of {self!r} (bookkeeping {gen.bookkeeping!r})"
        )
        return SteadyState(
            rho=rho,
            heat_currents=heat,
            particle_currents=particles,
            temperatures=temperatures,
            power=power,
            mode=mode,
            efficiency=eta,
            cop=cop,
            entropy_production=sigma,
            residual=sol.residual,
            solver=sol.solver,
            flavour=gen.flavour,
            bookkeeping=gen.bookkeeping,
        )
