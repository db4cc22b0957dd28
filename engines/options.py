"""Numerical tolerances and limits in one validated, immutable object.

Every solver, generator and cycle reads its tolerances from an `Options`; nothing keeps them as
module constants users cannot reach.  Pass ``options=Options(residual_tol=1e-12)`` or a plain
mapping ``options={"residual_tol": 1e-12}``; unknown names are refused with the closest match.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass

from engines.checks import WorkbenchError, integer, real

__all__ = ["DEFAULT_OPTIONS", "Options"]


def _physical_memory() -> float:
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8.0 * 2**30


@dataclass(frozen=True)
class Options:
    """Tolerances and limits of the workbench's numerics.

    Attributes
    ----------
    degeneracy_tol : float
        Relative tolerance (times max(1, max|E|)) below which levels count as degenerate and Bohr
        frequencies as equal (global flavour).
    residual_tol : float
        A steady state is accepted when ||L rho|| <= residual_tol * ||L||, ||L|| the generator's
        scale (largest Hamiltonian entry plus largest total decay rate).
    state_tol : float
        Largest accepted |rho - rho^dag|, |Tr rho - 1| and negative eigenvalue of a returned state.
    null_tol : float
        Singular values (relative to the largest) below this count as zero modes.
    rcond_suspect : float
        Reciprocal condition number below which a linear solve examines the kernel for degeneracy.
    dense_max_dim : int
        Largest medium dimension for which ``solver="auto"`` uses the dense d^2 x d^2 solve.
    drive_tol : float
        Convergence of a time-ordered unitary stroke: max change of its unitary when the Magnus
        steps double.
    max_drive_steps : int
        Most Magnus steps a unitary stroke may take.
    control_tol : float
        Consecutive strokes of a cycle must agree on their controls to this relative tolerance.
    sector_tol : float
        Leakage from populations to coherences below which a cycle step counts as population
        preserving (then the cycle is solved on the populations alone).
    fixed_point_tol : float
        ||M x - x|| above which a swept limit cycle is rejected.
    memory_limit : float
        Bytes a single build or solve may use; larger problems are refused before anything is
        allocated, with the estimate (default: 80 % of the machine's physical memory).
    unified_width : float
        Unified flavour: levels closer than ``unified_width`` times the largest total decay rate of
        a level (the Davies Gamma_kk, the bath's relaxation scale) are grouped, and so are the Bohr
        frequencies between them (default 1: coherences that relax faster than they rotate are kept).
    blas_threads : int
        BLAS threads inside steady-state solves and the eigendecompositions of Hamiltonian blocks
        below 2048 levels.  Multi-threaded BLAS slows their many small products down, many times
        over when another process holds a core (1 is fastest on every machine measured).  Set by
        the library around each call and restored afterwards.
    """

    degeneracy_tol: float = 1e-9
    residual_tol: float = 1e-9
    state_tol: float = 1e-8
    null_tol: float = 1e-10
    rcond_suspect: float = 1e-12
    dense_max_dim: int = 24
    drive_tol: float = 1e-10
    max_drive_steps: int = 2**14
    control_tol: float = 1e-12
    sector_tol: float = 1e-13
    fixed_point_tol: float = 1e-8
    memory_limit: float = dataclasses.field(default_factory=lambda: 0.8 * _physical_memory())
    blas_threads: int = 1
    unified_width: float = 1.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                checked = integer("Options", f.name, value, minimum=1)
            else:
                checked = real("Options", f.name, value, minimum=0.0, strict=True)
            object.__setattr__(self, f.name, checked)

    def replace(self, **changes) -> Options:
        """A copy with `changes` applied (names checked as in `coerce`)."""
        _check_names(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def coerce(cls, value) -> Options:
        """`value` as Options: None gives the defaults, a mapping is checked name by name."""
        if value is None:
            return DEFAULT_OPTIONS
        if isinstance(value, Options):
            return value
        if isinstance(value, Mapping):
            _check_names(value)
            return cls(**value)
        raise WorkbenchError(
            f"options: expected an engines.Options or a mapping of option names, got {type(value).__name__}."
        )


def _check_names(changes: Mapping) -> None:
    names = [f.name for f in dataclasses.fields(Options)]
    for key in changes:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise WorkbenchError(f"options: unknown option {key!r}{hint}; allowed: {', '.join(names)}.")


DEFAULT_OPTIONS = Options()
