"""Input validation and the workbench's exceptions, in one place.

Every check names the object that owns the field, the field, the offending value
and what is allowed, so a user can fix a design file without reading a traceback.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping

import numpy as np

__all__ = [
    "ModelValidityWarning",
    "ThermodynamicsWarning",
    "UserCodeError",
    "WorkbenchError",
]

#: Absolute tolerance for Hermiticity of user-supplied matrices.
HERMITIAN_TOL = 1e-10


class WorkbenchError(ValueError):
    """Bad input or an unusable result; the message names the field and the fix."""


class UserCodeError(Exception):
    """A user-supplied callable (spectrum, Hamiltonian, schedule) failed or returned garbage.

    Not a `WorkbenchError` (nor a `ValueError`): a bug inside user code is not bad input to the
    workbench, and handlers for bad input (the command line's one-line errors, ``except ValueError``
    around a design) must not swallow it.  The message names the callable; when the callable raised,
    its exception is chained as ``__cause__``.
    """


class ThermodynamicsWarning(UserWarning):
    """A model breaks a law of thermodynamics beyond tolerance (reported, never clipped)."""


class ModelValidityWarning(UserWarning):
    """A master equation is used far outside its regime of validity, or its result is unphysical.

    Raised at solve time (global flavour with bath rates far above a Bohr-frequency spacing it must
    resolve, local flavour with internal couplings far above the bath rates; the message names the
    regime and the flavour that fits) and for a Redfield steady state that is not positive (the
    message gives its most negative eigenvalue).  See docs/physics.md, Section 3.
    """


def fail(owner: str, field: str, value, allowed: str):
    """Raise a `WorkbenchError` naming `owner`'s `field`, its `value` and what is allowed."""
    raise WorkbenchError(f"{owner}: `{field}` must be {allowed}, got {value!r}.")


def real(owner: str, field: str, value, *, minimum=None, strict=False, allow_inf=False) -> float:
    """Return `value` as a float after checking it is real, finite (unless allowed) and in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(owner, field, value, "a real number")
    x = float(value)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        fail(owner, field, value, "a finite real number" if not allow_inf else "a real number")
    if minimum is not None and (x < minimum or (strict and x == minimum)):
        fail(owner, field, value, f"{'>' if strict else '>='} {minimum}")
    return x


def integer(owner: str, field: str, value, *, minimum=None) -> int:
    """Return `value` as an int after checking it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        fail(owner, field, value, "an integer")
    if minimum is not None and value < minimum:
        fail(owner, field, value, f"an integer >= {minimum}")
    return int(value)


def matrix(owner: str, field: str, value, *, dim=None, hermitian=False) -> np.ndarray:
    """Return `value` as a C-contiguous complex128 square matrix, checked for shape and Hermiticity."""
    try:
        m = np.ascontiguousarray(value, dtype=np.complex128)
    except (TypeError, ValueError):
        fail(owner, field, type(value).__name__, "a square numeric matrix")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        fail(owner, field, f"array of shape {m.shape}", "a square matrix")
    if dim is not None and m.shape[0] != dim:
        fail(owner, field, f"matrix of shape {m.shape}", f"of shape ({dim}, {dim}) (the medium's dimension)")
    if not np.all(np.isfinite(m)):
        fail(owner, field, "a matrix with NaN or inf entries", "finite")
    if hermitian:
        err = float(np.max(np.abs(m - m.conj().T))) if m.size else 0.0
        if err > HERMITIAN_TOL * max(1.0, float(np.max(np.abs(m)))):
            fail(owner, field, f"a matrix with max |H - H^dag| = {err:.3g}", "Hermitian")
    return m


def known_names(owner: str, field: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """Raise a `WorkbenchError` for the first of `given` not in `allowed`, with the closest match."""
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            fail(owner, field, key, "one of " + ", ".join(repr(a) for a in allowed) + hint)


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only copy of `array` (held by an immutable value, so nobody can change it in place)."""
    out = np.array(array, copy=True)
    out.setflags(write=False)
    return out


class FrozenMapping(Mapping):
    """A read-only mapping (a fresh copy of what it is given) that pickles and deep-copies.

    `types.MappingProxyType` is read-only too but cannot be pickled, and results travel: to Dask
    workers and back, into multiprocessing pools, into pickled caches.
    """

    __slots__ = ("_data",)

    def __init__(self, data=()):
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name, value):
        raise AttributeError(f"FrozenMapping is read-only: cannot set `{name}`")

    def __reduce__(self):
        return (FrozenMapping, (self._data,))

    def __repr__(self) -> str:
        return repr(self._data)


def mapping(value: Mapping) -> FrozenMapping:
    """A read-only copy of `value` (`FrozenMapping`)."""
    return FrozenMapping(value)


def choice(owner: str, field: str, value, allowed) -> str:
    """Return `value` if it is one of `allowed` (strings)."""
    if value not in allowed:
        fail(owner, field, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def name(owner: str, field: str, value) -> str:
    """Return a non-empty string name."""
    if not isinstance(value, str) or not value.strip():
        fail(owner, field, value, "a non-empty string")
    return value
