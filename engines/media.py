"""Working media: finite-dimensional quantum systems with named controls and operators.

A medium knows its Hilbert-space dimension, the real *controls* that strokes change (frequencies,
couplings, level energies), how to build its Hamiltonian for any setting of those controls, and a set
of named operators (ladder operators, Pauli matrices, projectors) that reservoirs and couplings use.

Units are hbar = k_B = 1. Every matrix returned is a fresh C-contiguous complex128 NumPy array, so
callers may modify it freely. Multi-site media (`SpinChain`, `Composite`) are tensor products whose
site 0 is the leftmost Kronecker factor; single-site media have ``site_dims == (dim,)``.

A medium itself is an immutable value (`engines.values.Value`): its attributes cannot be reassigned
after construction, and ``medium.replace(omega=2.0)`` returns a changed copy built (and checked) by
the constructor.

Conventions follow QuTiP 5 so that results can be compared directly: ``sigma_z = diag(1, -1)`` (|0> is
the upper level when ``omega > 0``), ``sigma_minus = qutip.sigmam()``, ``a = qutip.destroy``, spin
matrices in ``qutip.jmat`` order (m = j, j-1, ..., -j).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from engines import linalg, memory
from engines.checks import (
    HERMITIAN_TOL,
    UserCodeError,
    WorkbenchError,
    fail,
    integer,
    mapping,
    matrix,
    name,
    read_only,
    real,
)
from engines.linalg import to_dense
from engines.values import Value

__all__ = ["Composite", "Custom", "HarmonicOscillator", "Levels", "Medium", "Qubit", "Spin", "SpinChain"]

_QUBIT_OPERATORS = ("sigma_x", "sigma_y", "sigma_z", "sigma_plus", "sigma_minus", "identity")


def _pauli(name_: str) -> np.ndarray:
    """Fresh 2x2 Pauli-type matrix in the QuTiP basis order [|0>, |1>], sigma_z = diag(1, -1)."""
    if name_ == "sigma_x":
        return np.array([[0, 1], [1, 0]], dtype=np.complex128)
    if name_ == "sigma_y":
        return np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
    if name_ == "sigma_z":
        return np.array([[1, 0], [0, -1]], dtype=np.complex128)
    if name_ == "sigma_plus":
        return np.array([[0, 1], [0, 0]], dtype=np.complex128)
    if name_ == "sigma_minus":
        return np.array([[0, 0], [1, 0]], dtype=np.complex128)
    return np.eye(2, dtype=np.complex128)


def _allowed(names) -> str:
    return "one of " + ", ".join(repr(n) for n in names) if names else "nothing (there are none)"


class Medium(Value):
    """Base class of all working media.

    Subclasses set ``dim`` and the default controls, and implement `_build` (the full Hamiltonian
    from a complete, validated control dict), `_local_op` (a named operator on one site's space) and
    `_arguments` (their constructor arguments, for `replace`). The single-site behaviour is
    implemented here; `SpinChain` and `Composite` override the site-aware methods.

    A medium is immutable: assigning an attribute after construction raises
    `dataclasses.FrozenInstanceError`; `replace` makes a changed copy through the constructor.

    Attributes
    ----------
    dim : int
        Hilbert-space dimension.
    """

    dim: int
    #: Controls that must stay strictly positive (checked on construction and on every override).
    _positive: frozenset[str] = frozenset()
    #: Whether the Hamiltonian is real for every setting of the controls (halves eigenvector memory).
    _real: bool = False

    def __init__(self, defaults: Mapping[str, float]):
        self._defaults = mapping({k: self._check_control(k, v, self._owner, k) for k, v in defaults.items()})

    def replace(self, **changes) -> Medium:
        """A copy with constructor arguments `changes` applied (``Qubit(1.0).replace(omega=2.0)``).

        The copy is built by the constructor, so every check runs again; an unknown name raises
        `WorkbenchError` listing the constructor's arguments.
        """
        return super().replace(**changes)

    # ------------------------------------------------------------------------------------ memory
    def _sparse_entries(self) -> int | None:
        """Stored entries of the sparse Hamiltonian this medium builds, or None if it builds dense ones."""
        return None

    def _largest_sector(self) -> int:
        """Size of the largest block of the Hamiltonian's sparsity graph (bounds sector-wise eigh)."""
        return self.dim

    def _require_dense(self, what: str, copies: int = 2) -> None:
        memory.require(self._owner, what, copies * memory.dense_bytes(self.dim))

    # ----------------------------------------------------------------------------------- controls
    @property
    def _owner(self) -> str:
        return type(self).__name__

    @property
    def controls(self) -> dict[str, float]:
        """Copy of the default control values, ``{name: value}``."""
        return dict(self._defaults)

    def _check_control(self, key: str, value, owner: str, field: str) -> float:
        if key in self._positive:
            return real(owner, field, value, minimum=0.0, strict=True)
        return real(owner, field, value)

    def _resolve(self, overrides: Mapping[str, float]) -> dict[str, float]:
        """Defaults updated with `overrides`, every name and value checked."""
        c = dict(self._defaults)
        for key, value in overrides.items():
            if key not in self._defaults:
                fail(self._owner, "control", key, _allowed(tuple(self._defaults)))
            c[key] = self._check_control(key, value, self._owner, key)
        return c

    # ------------------------------------------------------------------------------- Hamiltonian
    def hamiltonian(self, **controls: float) -> np.ndarray:
        """Hamiltonian with the given controls overriding the defaults.

        Parameters
        ----------
        **controls : float
            Control values by name (see `controls`); unknown names raise `WorkbenchError`.

        Returns
        -------
        H : ndarray, shape (dim, dim), complex128
            Fresh Hermitian matrix.

        Raises
        ------
        WorkbenchError
            If the dense matrix would not fit in memory (``engines.Options().memory_limit``); nothing
            is allocated then.
        """
        c = self._resolve(controls)
        self._require_dense(f"the dense {self.dim} x {self.dim} Hamiltonian")
        return to_dense(self._build(c))

    def bare_hamiltonian(self, **controls: float) -> np.ndarray:
        """Sum over sites of the embedded local Hamiltonians (no interaction terms).

        For single-site media this equals `hamiltonian`.

        Returns
        -------
        H0 : ndarray, shape (dim, dim), complex128
        """
        c = self._resolve(controls)
        self._require_dense(f"the dense {self.dim} x {self.dim} bare Hamiltonian")
        total = sp.csr_array((self.dim, self.dim), dtype=np.complex128)
        for s in range(len(self.site_dims)):
            total = total + linalg.embed(self._local_h(s, c), self.site_dims, s)
        return to_dense(total)

    def interaction_terms(self, **controls: float) -> tuple:
        """H - sum_s h_s as terms ``(sites, V)``: the sites a term couples (sorted) and its sparse operator.

        Empty for single-site media.  `analysis.transport` splits the energy into bond energies with
        them.

        Returns
        -------
        tuple of (tuple of int, scipy.sparse.csr_array (dim, dim))
        """
        self._resolve(controls)
        return ()

    def local_hamiltonian(self, site, **controls: float) -> np.ndarray:
        """The site's own Hamiltonian on its local space, without interaction terms.

        Parameters
        ----------
        site : int
            Site index (``0`` or ``None`` for single-site media).
        **controls : float
            Control overrides, named as in `controls`.

        Returns
        -------
        h : ndarray, shape (d_s, d_s), complex128
        """
        s = self._site(site, required=True)
        c = self._resolve(controls)
        d = self.site_dims[s]
        memory.require(self._owner, f"the dense {d} x {d} site Hamiltonian", 2 * memory.dense_bytes(d))
        return to_dense(self._local_h(s, c))

    def _local_h(self, site: int, c: dict[str, float]):
        return self._build(c)

    def _build(self, c: dict[str, float]):  # pragma: no cover - abstract
        raise NotImplementedError

    # --------------------------------------------------------------------------------- operators
    @property
    def operator_names(self) -> tuple[str, ...]:
        """Names accepted by `operator` and `local_operator`."""
        raise NotImplementedError  # pragma: no cover - abstract

    def operator(self, name: str, site=None) -> np.ndarray:
        """Named operator in the full Hilbert space.

        Parameters
        ----------
        name : str
            One of `operator_names`.
        site : int or None
            Site carrying the operator; required for multi-site media, ``None`` or ``0`` otherwise.
            The site operator is embedded with identities on the other sites.

        Returns
        -------
        op : ndarray, shape (dim, dim), complex128
        """
        s = self._site(site, required=len(self.site_dims) > 1)
        self._require_dense(f"the dense {self.dim} x {self.dim} operator {name!r}")
        return to_dense(linalg.embed(self._local_op(name, s), self.site_dims, s))

    def local_operator(self, name: str, site) -> np.ndarray:
        """Named operator on one site's own space.

        Returns
        -------
        op : ndarray, shape (d_s, d_s), complex128
        """
        s = self._site(site, required=True)
        d = self.site_dims[s]
        memory.require(self._owner, f"the dense {d} x {d} operator {name!r}", 2 * memory.dense_bytes(d))
        return to_dense(self._local_op(name, s))

    def _local_op(self, name_: str, site: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _unknown_operator(self, name_):
        fail(self._owner, "operator name", name_, _allowed(self.operator_names))

    # ------------------------------------------------------------------------------ tensor sites
    @property
    def site_dims(self) -> tuple[int, ...]:
        """Local dimensions in tensor-product order (site 0 is the leftmost Kronecker factor)."""
        return (self.dim,)

    def _site(self, site, *, required: bool) -> int:
        n = len(self.site_dims)
        if site is None:
            if required and n > 1:
                fail(
                    self._owner, "site", site, f"an integer site index 0..{n - 1} (this medium has {n} sites)"
                )
            return 0
        if isinstance(site, bool) or not isinstance(site, (int, np.integer)) or not 0 <= site < n:
            allowed = "0 or None (single-site medium)" if n == 1 else f"an integer site index 0..{n - 1}"
            fail(self._owner, "site", site, allowed)
        return int(site)

    def embed(self, op, site) -> np.ndarray:
        """Embed a site operator into the full space: ``kron(I_before, op, I_after)``.

        Parameters
        ----------
        op : array_like, shape (d_s, d_s)
            Operator on the site's local space.
        site : int
            Site index (``0`` or ``None`` for single-site media).

        Returns
        -------
        op_full : ndarray, shape (dim, dim), complex128
        """
        s = self._site(site, required=True)
        m = matrix(self._owner, "op", op)
        d = self.site_dims[s]
        if m.shape != (d, d):
            fail(
                self._owner,
                "op",
                f"matrix of shape {m.shape}",
                f"of shape ({d}, {d}) (the dimension of site {s})",
            )
        self._require_dense(f"the dense {self.dim} x {self.dim} embedded operator")
        return to_dense(linalg.embed(m, self.site_dims, s))

    # ------------------------------------------------------------------------------------ states
    def check_state(self, rho) -> None:
        """Check that `rho` is a usable density matrix for this medium (default: no check).

        Raises
        ------
        WorkbenchError
            If the medium cannot represent the state faithfully (see subclasses).
        """

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._defaults.items())
        return f"{self._owner}({args})"


class Qubit(Medium):
    """Two-level system ``H = (omega/2) sigma_z + (delta/2) sigma_x``.

    Parameters
    ----------
    omega : float
        Level splitting (control ``omega``). With ``omega > 0``, |0> is the upper level.
    delta : float, optional
        Transverse (tunnelling) field (control ``delta``).

    Notes
    -----
    Basis [|0>, |1>] with ``sigma_z = diag(1, -1)`` and ``sigma_minus = [[0, 0], [1, 0]]``, equal to
    ``qutip.sigmaz()`` and ``qutip.sigmam()``. Operators: ``sigma_x, sigma_y, sigma_z, sigma_plus,
    sigma_minus, identity``. The qubit Otto cycle is the textbook case, e.g. T. D. Kieu, Phys. Rev.
    Lett. 93, 140403 (2004).
    """

    _real = True

    def __init__(self, omega: float, delta: float = 0.0):
        super().__init__({"omega": omega, "delta": delta})
        self.dim = 2

    def _arguments(self):
        return {"omega": self._defaults["omega"], "delta": self._defaults["delta"]}

    def _build(self, c):
        return 0.5 * c["omega"] * _pauli("sigma_z") + 0.5 * c["delta"] * _pauli("sigma_x")

    @property
    def operator_names(self):
        """Names accepted by `operator` and `local_operator`."""
        return _QUBIT_OPERATORS

    def _local_op(self, name_, site):
        if name_ not in _QUBIT_OPERATORS:
            self._unknown_operator(name_)
        return _pauli(name_)


_LEVEL_OP = re.compile(r"(?:(jump|pair)_(\d+)_(\d+))|(?:proj_(\d+))|identity")


class Levels(Medium):
    """N-level system with ``H = diag(E0, ..., E{N-1})``.

    Parameters
    ----------
    energies : sequence of float, length N >= 2
        Level energies in basis order (any order; controls ``E0 ... E{N-1}``).

    Notes
    -----
    Operators: ``jump_i_j = |i><j|`` and ``pair_i_j = |i><j| + |j><i|`` for ``i != j``,
    ``proj_i = |i><i|`` and ``identity``. `operator_names` lists them all for N <= 6; for larger N it
    lists ``identity`` and the projectors only, but `operator` accepts any valid ``i, j``. The
    three-level maser is the original quantum heat engine: H. E. D. Scovil and E. O. Schulz-DuBois,
    Phys. Rev. Lett. 2, 262 (1959).
    """

    def __init__(self, energies: Sequence[float]):
        ok = isinstance(energies, Sequence) and not isinstance(energies, (str, bytes))
        ok = ok or (isinstance(energies, np.ndarray) and energies.ndim == 1)
        if not ok or len(energies) < 2:
            fail("Levels", "energies", energies, "a sequence of at least 2 real numbers")
        values = list(energies)
        super().__init__({f"E{i}": e for i, e in enumerate(values)})
        self.dim = len(values)

    _real = True

    def _arguments(self):
        return {"energies": tuple(self._defaults[f"E{i}"] for i in range(self.dim))}

    def _build(self, c):
        return np.diag(np.array([c[f"E{i}"] for i in range(self.dim)], dtype=np.complex128))

    @property
    def operator_names(self):
        """Names accepted by `operator` and `local_operator`."""
        n = self.dim
        names = ["identity"] + [f"proj_{i}" for i in range(n)]
        if n <= 6:
            pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
            names += [f"jump_{i}_{j}" for i, j in pairs]
            names += [f"pair_{i}_{j}" for i, j in pairs if i < j]
        return tuple(names)

    def _local_op(self, name_, site):
        n = self.dim
        m = _LEVEL_OP.fullmatch(name_) if isinstance(name_, str) else None
        if m is None:
            fail(
                "Levels",
                "operator name",
                name_,
                f"'identity', 'proj_i', 'jump_i_j' or 'pair_i_j' with 0 <= i, j < {n} and i != j",
            )
        kind, i, j, p = m.groups()
        if name_ == "identity":
            return np.eye(n, dtype=np.complex128)
        out = np.zeros((n, n), dtype=np.complex128)
        if p is not None:
            if int(p) >= n:
                fail("Levels", "operator name", name_, f"'proj_i' with 0 <= i < {n}")
            out[int(p), int(p)] = 1.0
            return out
        i, j = int(i), int(j)
        if i >= n or j >= n or i == j:
            fail("Levels", "operator name", name_, f"'{kind}_i_j' with 0 <= i, j < {n} and i != j")
        out[i, j] = 1.0
        if kind == "pair":
            out[j, i] = 1.0
        return out

    def __repr__(self):
        return f"Levels(energies={[self._defaults[f'E{i}'] for i in range(self.dim)]!r})"


class HarmonicOscillator(Medium):
    """Harmonic oscillator truncated to Fock states ``0 .. n_max``, ``H = omega a^dag a``.

    Parameters
    ----------
    omega : float
        Angular frequency, > 0 (control ``omega``).
    n_max : int
        Highest Fock state kept (>= 1); ``dim = n_max + 1``.
    truncation_tol : float, optional
        Largest population of the top Fock level |n_max> that `check_state` accepts.

    Notes
    -----
    The zero-point energy ``omega/2`` is **omitted**: ``H = omega n``, so the ground state has energy
    0. Energy differences, heat and work are unaffected, but ``<H>`` differs from the textbook
    ``omega (n + 1/2)``. Operators: ``a`` (= ``qutip.destroy``), ``a_dag``, ``n``,
    ``x = (a + a^dag)/sqrt(2)``, ``p = -i (a - a^dag)/sqrt(2)``, ``identity``. In the truncated space
    ``[a, a^dag] = 1`` except on |n_max>, where it is ``-n_max``; results are trustworthy only while
    |n_max> is empty, which `check_state` enforces. Oscillator Otto engines: R. Kosloff and Y. Rezek,
    Entropy 19, 136 (2017).
    """

    _positive = frozenset({"omega"})
    _real = True

    def __init__(self, omega: float, n_max: int, truncation_tol: float = 1e-6):
        self.n_max = integer("HarmonicOscillator", "n_max", n_max, minimum=1)
        self.truncation_tol = real("HarmonicOscillator", "truncation_tol", truncation_tol, minimum=0.0)
        super().__init__({"omega": omega})
        self.dim = self.n_max + 1

    def _arguments(self):
        return {"omega": self._defaults["omega"], "n_max": self.n_max, "truncation_tol": self.truncation_tol}

    def _build(self, c):
        return np.diag(c["omega"] * np.arange(self.dim, dtype=np.complex128))

    @property
    def operator_names(self):
        """Names accepted by `operator` and `local_operator`."""
        return ("a", "a_dag", "n", "x", "p", "identity")

    def _local_op(self, name_, site):
        a = np.diag(np.sqrt(np.arange(1, self.dim, dtype=np.float64)), k=1).astype(np.complex128)
        ops = {
            "a": lambda: a,
            "a_dag": lambda: a.conj().T,
            "n": lambda: np.diag(np.arange(self.dim, dtype=np.complex128)),
            "x": lambda: (a + a.conj().T) / math.sqrt(2.0),
            "p": lambda: -1j * (a - a.conj().T) / math.sqrt(2.0),
            "identity": lambda: np.eye(self.dim, dtype=np.complex128),
        }
        if name_ not in ops:
            self._unknown_operator(name_)
        return ops[name_]()

    def check_state(self, rho) -> None:
        """Raise `WorkbenchError` if the top Fock level holds more than `truncation_tol`.

        Parameters
        ----------
        rho : array_like, shape (dim, dim)
            Density matrix in the Fock basis.

        Notes
        -----
        The message suggests the smallest ``n_max`` at which the state's geometric tail meets
        `truncation_tol` (`suggested_n_max`), so that following it once is enough for a thermal state.
        """
        r = matrix("HarmonicOscillator", "rho", rho, dim=self.dim)
        p = np.real(np.diag(r))
        top = float(p[self.n_max])
        if top <= self.truncation_tol:
            return
        nbar = float(np.dot(np.arange(self.dim), p))
        suggest, why = self.suggested_n_max(p)
        raise WorkbenchError(
            f"HarmonicOscillator: the truncation n_max={self.n_max} is too small for this state: the top "
            f"Fock level |{self.n_max}> holds population {top:.3g} > truncation_tol={self.truncation_tol:g} "
            f"(mean occupation {nbar:.3g} in the truncated space). Use a larger n_max: n_max={suggest} "
            f"({why})."
        )

    def suggested_n_max(self, populations) -> tuple[int, str]:
        """The smallest truncation at which a state with these Fock populations meets `truncation_tol`.

        Parameters
        ----------
        populations : array_like, shape (dim,)
            Fock populations p_0 .. p_{n_max} of a state of this (truncated) oscillator.

        Returns
        -------
        n_max : int
            Suggested truncation (> the current one).
        reason : str
            How it was found, for messages.

        Notes
        -----
        The tail is taken as geometric, p_n ~ q^n, with the ratio q = p_{n_max} / p_{n_max - 1} of the
        top two populations.  That is exact for a thermal state, q = exp(-omega/T): the truncated
        oscillator's Gibbs state (and the NESS of any birth-death chain with a constant ratio of up
        and down rates, such as linear couplings to several baths) is p_n = (1 - q) q^n / (1 - q^(N+1))
        for n <= N.  Its top level holds at most `truncation_tol` = eps when

            q^N (1 - q + eps q) <= eps,    i.e.    N >= ln(eps / (1 - q + eps q)) / ln q.

        The mean occupation of the truncated state would not do: it underestimates the true nbar, so a
        suggestion built on it undershoots and has to be followed several times.  Where the tail does
        not decay (q >= 1) no geometric extrapolation exists and twice the current n_max is suggested.
        """
        p = np.asarray(populations, dtype=float)
        n, eps = self.n_max, self.truncation_tol
        fallback = max(2 * n, n + 1)
        if eps <= 0.0:
            return fallback, "truncation_tol = 0 only accepts an empty top level"
        if not p[n - 1] > 0.0:
            return fallback, f"the level |{n - 1}> is empty, so the tail's decay is unknown"
        q = float(p[n] / p[n - 1])
        if q >= 1.0:
            return fallback, f"the populations grow towards the top (p_{n}/p_{n - 1} = {q:.3g})"
        needed = math.log(eps / (1.0 - q + eps * q)) / math.log(q)
        return max(
            n + 1, math.ceil(needed)
        ), f"the geometric tail p_n ~ q^n with q = p_{n}/p_{n - 1} = {q:.4g}"

    def __repr__(self):
        return f"HarmonicOscillator(omega={self._defaults['omega']!r}, n_max={self.n_max})"


_SPIN_OPERATORS = ("j_x", "j_y", "j_z", "j_plus", "j_minus", "identity")


def _spin_matrix(j: float, name_: str) -> np.ndarray:
    """One spin-j matrix in the basis m = j, j-1, ..., -j (``qutip.jmat`` order), built alone."""
    d = round(2 * j) + 1
    m = j - np.arange(d)
    if name_ == "j_z":
        return np.diag(m).astype(np.complex128)
    if name_ == "identity":
        return np.eye(d, dtype=np.complex128)
    jp = np.zeros((d, d), dtype=np.complex128)
    # J+ |j, m> = sqrt(j(j+1) - m(m+1)) |j, m+1>; |m+1> sits one row above |m>.
    jp[np.arange(d - 1), np.arange(1, d)] = np.sqrt(j * (j + 1) - m[1:] * (m[1:] + 1))
    if name_ == "j_plus":
        return jp
    if name_ == "j_minus":
        return np.ascontiguousarray(jp.conj().T)
    if name_ == "j_x":
        return 0.5 * (jp + jp.conj().T)
    return -0.5j * (jp - jp.conj().T)


class Spin(Medium):
    """Spin j in a field along z, ``H = omega J_z``.

    Parameters
    ----------
    j : float
        Spin quantum number, a positive integer or half-integer; ``dim = 2j + 1``.
    omega : float
        Larmor frequency (control ``omega``).

    Notes
    -----
    Basis m = j, j-1, ..., -j, matrices equal to ``qutip.jmat(j, ...)``, with ``[J_x, J_y] = i J_z``
    (J. J. Sakurai, *Modern Quantum Mechanics*, ch. 3). Operators: ``j_x, j_y, j_z, j_plus, j_minus,
    identity``.
    """

    _real = True

    def __init__(self, j: float, omega: float):
        x = real("Spin", "j", j)
        if x <= 0 or abs(2 * x - round(2 * x)) > 1e-12:
            fail("Spin", "j", j, "a positive integer or half-integer (0.5, 1, 1.5, ...)")
        self.j = round(2 * x) / 2
        super().__init__({"omega": omega})
        self.dim = round(2 * self.j) + 1

    def _arguments(self):
        return {"j": self.j, "omega": self._defaults["omega"]}

    def _build(self, c):
        return c["omega"] * _spin_matrix(self.j, "j_z")

    @property
    def operator_names(self):
        """Names accepted by `operator` and `local_operator`."""
        return _SPIN_OPERATORS

    def _local_op(self, name_, site):
        if name_ not in _SPIN_OPERATORS:
            self._unknown_operator(name_)
        return _spin_matrix(self.j, name_)

    def __repr__(self):
        return f"Spin(j={self.j!r}, omega={self._defaults['omega']!r})"


class SpinChain(Medium):
    """Open-boundary spin-1/2 XXZ chain of ``n`` sites in a longitudinal field.

    ``H = sum_{i=0}^{n-2} J (sx_i sx_{i+1} + sy_i sy_{i+1} + Delta sz_i sz_{i+1}) + sum_i (field/2) sz_i``

    Parameters
    ----------
    n : int
        Number of sites (>= 2); ``dim = 2**n``.
    J : float
        Exchange coupling (control ``J``).
    Delta : float
        Anisotropy (control ``Delta``); ``Delta = 1`` is the Heisenberg chain, ``0`` the XX chain.
    field : float, optional
        Longitudinal field (control ``field``).

    Notes
    -----
    Pauli matrices with the `Qubit` conventions (``sz = diag(1, -1)``); site 0 is the leftmost
    Kronecker factor. The local Hamiltonian of site ``i`` is ``(field/2) sigma_z``. Site operators
    have the `Qubit` names and are addressed with ``site=i``. The chain conserves the total
    magnetisation ``sum_i sz_i``. The three bond sums are built as sparse matrices on first use
    (construction allocates nothing), so `hamiltonian_sparse` is cheap for any ``n`` that fits in
    memory (about ``24 (n + 1) 2**(n-1)`` bytes); the dense `hamiltonian` needs ``16 * 4**n`` bytes.
    Both refuse, before allocating, what would not fit. Spin-chain working media: M. Campisi and
    R. Fazio, Nat. Commun. 7, 11895 (2016).
    """

    _real = True

    def __init__(self, n: int, J: float, Delta: float, field: float = 0.0):
        self.n = integer("SpinChain", "n", n, minimum=2)
        super().__init__({"J": J, "Delta": Delta, "field": field})
        self.dim = 2**self.n

    def _arguments(self):
        d = self._defaults
        return {"n": self.n, "J": d["J"], "Delta": d["Delta"], "field": d["field"]}

    def _sparse_entries(self) -> int:
        # Each XY bond flips an antiparallel pair: 2**(n-1) entries per bond, on distinct positions
        # for distinct bonds; the ZZ and field terms are diagonal.
        return (self.n - 1) * 2 ** (self.n - 1) + self.dim

    def _largest_sector(self) -> int:
        # The XY terms connect all states of one magnetisation; without them H is diagonal.
        return math.comb(self.n, self.n // 2) if self._defaults["J"] != 0.0 else 1

    def _sparse_bytes(self) -> float:
        """Bond sums held by the chain, one Hamiltonian and the temporaries of its sum."""
        return memory.sparse_hamiltonian_bytes(self._sparse_entries(), self.dim)

    @cached_property
    def _bonds(self) -> tuple[sp.csr_array, sp.csr_array, sp.csr_array]:
        """The XY, ZZ and field sums (sparse, read-only), built once."""
        memory.require("SpinChain", f"the sparse Hamiltonian of n = {self.n} sites", self._sparse_bytes())
        sx, sy, sz = (sp.csr_array(_pauli(k)) for k in ("sigma_x", "sigma_y", "sigma_z"))
        xy_bond = sp.csr_array(sp.kron(sx, sx) + sp.kron(sy, sy))
        zz_bond = sp.csr_array(sp.kron(sz, sz))
        zero = sp.csr_array((self.dim, self.dim), dtype=np.complex128)
        xy = sum((linalg.embed(xy_bond, self.site_dims, i, span=2) for i in range(self.n - 1)), zero)
        zz = sum((linalg.embed(zz_bond, self.site_dims, i, span=2) for i in range(self.n - 1)), zero)
        z = sum((linalg.embed(sz, self.site_dims, i) for i in range(self.n)), zero)
        return tuple(_read_only_sparse(m) for m in (xy, zz, z))

    def hamiltonian_sparse(self, **controls: float) -> sp.csr_array:
        """Hamiltonian as a ``scipy.sparse.csr_array`` (for chains too long for dense matrices).

        Returns
        -------
        H : scipy.sparse.csr_array, shape (dim, dim), complex128

        Raises
        ------
        WorkbenchError
            If the sparse matrices would not fit in memory; nothing is allocated then.
        """
        return self._build(self._resolve(controls))

    def _build(self, c):
        xy, zz, z = self._bonds
        h = c["J"] * xy + (c["J"] * c["Delta"]) * zz + (0.5 * c["field"]) * z
        return sp.csr_array(h)

    def _local_h(self, site, c):
        return 0.5 * c["field"] * _pauli("sigma_z")

    def interaction_terms(self, **controls: float) -> tuple:
        """The bonds ``((i, i + 1), J (sx sx + sy sy + Delta sz sz))``, i = 0..n-2 (see `Medium`)."""
        c = self._resolve(controls)
        sx, sy, sz = (sp.csr_array(_pauli(k)) for k in ("sigma_x", "sigma_y", "sigma_z"))
        bond = sp.csr_array(c["J"] * (sp.kron(sx, sx) + sp.kron(sy, sy) + c["Delta"] * sp.kron(sz, sz)))
        return tuple(((i, i + 1), linalg.embed(bond, self.site_dims, i, span=2)) for i in range(self.n - 1))

    @property
    def site_dims(self):
        """Local dimensions in tensor-product order (site 0 is the leftmost Kronecker factor)."""
        return (2,) * self.n

    # every site is a qubit: the same operators, by the same names
    operator_names = Qubit.operator_names
    _local_op = Qubit._local_op

    def __repr__(self):
        d = self._defaults
        return f"SpinChain(n={self.n}, J={d['J']!r}, Delta={d['Delta']!r}, field={d['field']!r})"


def _read_only_sparse(m) -> sp.csr_array:
    """A CSR matrix whose data and index arrays are read-only (held by an immutable medium)."""
    m = sp.csr_array(m, dtype=np.complex128)
    for a in (m.data, m.indices, m.indptr):
        a.setflags(write=False)
    return m


def _partial_trace(rho: np.ndarray, dims: tuple[int, ...], keep: int) -> np.ndarray:
    """Reduced density matrix of site `keep` (site 0 = leftmost Kronecker factor)."""
    n = len(dims)
    t = rho.reshape(dims + dims)
    t = np.moveaxis(t, (keep, n + keep), (0, n))
    d = dims[keep]
    rest = rho.shape[0] // d
    return np.einsum("ajbj->ab", t.reshape(d, rest, d, rest))


class Composite(Medium):
    """Tensor product of single-site media with many-body couplings.

    ``H = sum_s I x h_s x I + sum_k g_k (V_k [+ V_k^dag])``, with ``V_k`` the product of the embedded
    site operators of coupling ``k``; the Hermitian conjugate is added (``+ h.c.``) exactly when
    ``V_k`` is not Hermitian.

    Parameters
    ----------
    sites : sequence of Medium
        Single-site media (`Qubit`, `Levels`, `HarmonicOscillator`, `Spin`, `Custom`); site 0 is the
        leftmost Kronecker factor.
    couplings : sequence of (float, sequence of (str, int)), optional
        ``(strength, factors)``; ``factors`` are two or more ``(operator_name, site)`` pairs on
        distinct sites.

    Notes
    -----
    Controls are each site's controls renamed ``{control}_{site}`` (``omega_0``, ``omega_1``, ...)
    followed by the coupling strengths ``g_0, g_1, ...`` (index in `couplings`).
    ``(g, [("sigma_plus", 0), ("sigma_minus", 1)])`` is the flip-flop (exchange) coupling
    ``g (s+ s- + s- s+)``; ``(g, [("sigma_plus", 0), ("sigma_minus", 1), ("sigma_plus", 2)])`` is the
    three-body coupling ``g (|010><101| + h.c.)`` of the smallest absorption refrigerator,
    N. Linden, S. Popescu and P. Skrzypczyk, Phys. Rev. Lett. 105, 130401 (2010).
    `check_state` checks every site's reduced state with that site's `check_state`.
    """

    def __init__(self, sites: Sequence[Medium], couplings: Sequence = ()):
        if isinstance(sites, Medium) or not isinstance(sites, Sequence) or len(sites) == 0:
            fail("Composite", "sites", sites, "a non-empty sequence of single-site media")
        for s, site in enumerate(sites):
            if (
                not isinstance(site, Medium)
                or isinstance(site, (Composite, SpinChain))
                or len(site.site_dims) != 1
            ):
                fail(
                    "Composite",
                    f"sites[{s}]",
                    site,
                    "a single-site medium (Qubit, Levels, HarmonicOscillator, Spin or Custom)",
                )
        self._sites = tuple(sites)
        self._dims = tuple(site.dim for site in self._sites)
        self.dim = math.prod(self._dims)
        defaults = {}
        control_map: dict[str, tuple[int, str]] = {}
        for s, site in enumerate(self._sites):
            for key, value in site.controls.items():
                defaults[f"{key}_{s}"] = value
                control_map[f"{key}_{s}"] = (s, key)
        self._control_map = mapping(control_map)
        if isinstance(couplings, (str, bytes)) or not isinstance(couplings, Sequence):
            fail("Composite", "couplings", couplings, "a sequence of (strength, factors) pairs")
        # Each coupling is a sparse product of embedded site operators (each at most d x d_s entries),
        # built now; with the identity it starts from and the product, three such matrices at a time.
        if couplings:
            plural = "s" if len(couplings) != 1 else ""
            memory.require(
                "Composite",
                f"{len(couplings)} coupling operator{plural} of dimension {self.dim}",
                (len(couplings) + 2) * memory.sparse_bytes(self.dim * max(self._dims), self.dim),
            )
        parsed, specs = [], []
        for k, coupling in enumerate(couplings):
            strength, v = self._parse_coupling(k, coupling)
            key = f"g_{k}"
            if key in defaults:
                fail(
                    "Composite",
                    f"couplings[{k}]",
                    key,
                    f"a control name not already used by a site (site control {key!r} clashes)",
                )
            defaults[key] = strength
            parsed.append(_read_only_sparse(v))
            specs.append((strength, tuple((f[0], int(f[1])) for f in coupling[1])))
        self._couplings = tuple(parsed)
        self._coupling_specs = tuple(specs)
        self._defaults = mapping(defaults)
        self._real = all(site._real for site in self._sites) and not any(
            np.any(v.data.imag) for v in self._couplings
        )

    def _arguments(self):
        return {"sites": self._sites, "couplings": self._coupling_specs}

    def _parse_coupling(self, k, coupling):
        field = f"couplings[{k}]"
        if not isinstance(coupling, Sequence) or isinstance(coupling, str) or len(coupling) != 2:
            fail("Composite", field, coupling, "a pair (strength, [(operator_name, site), ...])")
        strength = real("Composite", f"{field} strength", coupling[0])
        factors = coupling[1]
        if not isinstance(factors, Sequence) or isinstance(factors, str) or len(factors) < 2:
            fail(
                "Composite",
                f"{field} factors",
                factors,
                "a sequence of two or more (operator_name, site) pairs",
            )
        v = sp.csr_array(sp.eye_array(self.dim, dtype=np.complex128))
        used = set()
        for f in factors:
            if not isinstance(f, Sequence) or isinstance(f, str) or len(f) != 2:
                fail("Composite", f"{field} factor", f, "an (operator_name, site) pair")
            op_name, site = f
            s = self._site(site, required=True)
            if s in used:
                fail("Composite", f"{field} factors", factors, "factors on distinct sites")
            used.add(s)
            try:
                local = self._sites[s].local_operator(op_name, 0)
            except WorkbenchError as e:
                raise WorkbenchError(
                    f"Composite: {field} factor {tuple(f)!r} is not valid on site {s}: {e}"
                ) from e
            v = sp.csr_array(v @ linalg.embed(local, self.site_dims, s))
        err = abs(v - v.conj().T).max() if v.nnz else 0.0
        if err > HERMITIAN_TOL * max(1.0, abs(v).max() if v.nnz else 0.0):
            v = sp.csr_array(v + v.conj().T)
        if v.nnz == 0 or abs(v).max() == 0:
            fail("Composite", f"{field} factors", factors, "a product whose Hermitian part is non-zero")
        return strength, v

    def _check_control(self, key, value, owner, field):
        s, site_key = self._control_map.get(key, (None, None))
        if s is None:  # a coupling strength
            return real(owner, field, value)
        return self._sites[s]._check_control(site_key, value, owner, field)

    def _site_controls(self, s: int, c: dict[str, float]) -> dict[str, float]:
        return {key: c[f"{key}_{s}"] for key in self._sites[s].controls}

    def _local_h(self, site, c):
        return self._sites[site]._build(self._site_controls(site, c))

    def _build(self, c):
        total = sp.csr_array((self.dim, self.dim), dtype=np.complex128)
        for s in range(len(self._sites)):
            total = total + linalg.embed(self._local_h(s, c), self.site_dims, s)
        for k, v in enumerate(self._couplings):
            total = total + c[f"g_{k}"] * v
        return total

    def interaction_terms(self, **controls: float) -> tuple:
        """Each coupling ``(sites of its factors, g_k V_k)`` (see `Medium`)."""
        c = self._resolve(controls)
        return tuple(
            (tuple(sorted(site for _, site in factors)), sp.csr_array(c[f"g_{k}"] * v))
            for k, ((_, factors), v) in enumerate(zip(self._coupling_specs, self._couplings))
        )

    @property
    def sites(self) -> tuple[Medium, ...]:
        """The site media, in tensor-product order."""
        return self._sites

    @property
    def site_dims(self):
        """Local dimensions in tensor-product order (site 0 is the leftmost Kronecker factor)."""
        return self._dims

    @property
    def operator_names(self):
        """Names accepted by `operator` and `local_operator`."""
        names: dict[str, None] = {}
        for site in self._sites:
            names.update(dict.fromkeys(site.operator_names))
        return tuple(names)

    def _local_op(self, name_, site):
        try:
            return self._sites[site].local_operator(name_, 0)
        except WorkbenchError as e:
            raise WorkbenchError(f"Composite: operator {name_!r} is not valid on site {site}: {e}") from e

    def check_state(self, rho) -> None:
        """Check each site's reduced state (partial trace) with that site's `check_state`."""
        r = matrix("Composite", "rho", rho, dim=self.dim)
        for s, site in enumerate(self._sites):
            try:
                site.check_state(_partial_trace(r, self._dims, s))
            except WorkbenchError as e:
                raise type(e)(f"Composite: reduced state of site {s}: {e}") from e

    def __repr__(self):
        n = len(self._couplings)
        return f"Composite({' x '.join(map(repr, self._sites))}, {n} coupling{'s' if n != 1 else ''})"


class Custom(Medium):
    """Medium defined by a user Hamiltonian function.

    Parameters
    ----------
    hamiltonian_fn : callable
        ``hamiltonian_fn(**controls) -> (dim, dim)`` Hermitian matrix (array-like, scipy sparse or
        anything with a ``.full()`` method such as a ``qutip.Qobj``). Called once with the defaults
        at construction to find ``dim``.
    controls : dict of str to float, optional
        Default control values (may be empty); names must be Python identifiers.
    operators : dict of str to array_like, optional
        Named operators, each ``(dim, dim)``. ``identity`` is added unless given.

    Raises
    ------
    UserCodeError
        If `hamiltonian_fn` raises (the original exception is chained) or returns a non-square,
        non-finite or non-Hermitian matrix, or one whose shape changes between calls.
        `UserCodeError` is not a `WorkbenchError`: the fault is in the user's code, not in the input.
    """

    def __init__(
        self,
        hamiltonian_fn: Callable[..., np.ndarray],
        controls: Mapping[str, float] | None = None,
        operators: Mapping[str, object] | None = None,
    ):
        if not callable(hamiltonian_fn):
            fail("Custom", "hamiltonian_fn", hamiltonian_fn, "a callable returning a Hermitian matrix")
        self._fn = hamiltonian_fn
        controls = {} if controls is None else controls
        if not isinstance(controls, Mapping):
            fail("Custom", "controls", controls, "a dict {name: default value}")
        for key in controls:
            if not isinstance(key, str) or not key.isidentifier():
                fail("Custom", "controls", key, "names that are Python identifiers (passed as keywords)")
        super().__init__(controls)
        self.dim = None
        self.dim = self._build(self._defaults).shape[0]
        operators = {} if operators is None else operators
        if not isinstance(operators, Mapping):
            fail("Custom", "operators", operators, "a dict {name: (dim, dim) matrix}")
        ops = {}
        for key, op in operators.items():
            name("Custom", "operators", key)
            ops[key] = read_only(matrix("Custom", f"operators[{key!r}]", _to_array(op), dim=self.dim))
        self._given = tuple(ops)
        ops.setdefault("identity", read_only(np.eye(self.dim, dtype=np.complex128)))
        self._ops = mapping(ops)

    def _arguments(self):
        return {
            "hamiltonian_fn": self._fn,
            "controls": dict(self._defaults),
            "operators": {key: self._ops[key] for key in self._given},
        }

    def _build(self, c):
        fn_name = getattr(self._fn, "__qualname__", repr(self._fn))
        try:
            out = self._fn(**c)
        except Exception as e:
            raise UserCodeError(
                f"Custom: hamiltonian_fn {fn_name!r} raised {type(e).__name__}: {e} (controls {dict(c)})"
            ) from e
        try:
            return matrix(
                "Custom",
                f"result of hamiltonian_fn {fn_name!r} at controls {dict(c)}",
                _to_array(out),
                dim=self.dim,
                hermitian=True,
            ).copy()
        except WorkbenchError as e:
            raise UserCodeError(str(e)) from None

    @property
    def operator_names(self):
        """Names accepted by `operator` and `local_operator`."""
        return tuple(self._ops)

    def _local_op(self, name_, site):
        if name_ not in self._ops:
            self._unknown_operator(name_)
        return self._ops[name_].copy()

    def __repr__(self):
        fn_name = getattr(self._fn, "__qualname__", "fn")
        return f"Custom({fn_name}, controls={dict(self._defaults)!r}, dim={self.dim})"


def _to_array(value):
    """Accept scipy sparse matrices and objects with ``.full()`` (``qutip.Qobj``) as matrices."""
    if sp.issparse(value):
        return value.toarray()
    full = getattr(value, "full", None)
    return full() if callable(full) else value
