"""Finite differences: the reference every Jacobian is checked against.

Central differences with a relative step: for coordinate ``i``,
``h_i = ε^{1/3} · max(|x_i|, 1)`` (ε = float64 machine epsilon), which
balances truncation error ``O(h²)`` against round-off ``O(ε/h)``; the
step actually taken is the representable ``(x_i + h_i) − x_i``.

>>> import numpy as np
>>> f = lambda v: np.array([v[0] * v[1], np.sin(v[2]), v[0] ** 2])   # ℝ³ → ℝ³
>>> J = jacobian_fd(lambda v: f(v)[:2], np.array([1.0, 2.0, 0.0]))  # ℝ³ → ℝ²
>>> J.shape, np.allclose(J, [[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]], rtol=1e-9)
((2, 3), True)

Complex step (:func:`jacobian_complex_step`), for functions that accept complex
input and are analytic there, has no subtraction and is exact to rounding.
:func:`check_jacobian` checks any claimed Jacobian against either and names
the wrong entries; :func:`compare_gradients` (in :mod:`jacobnet.report`, also
importable from here) compares a network's three gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray
REL_STEP = np.finfo(np.float64).eps ** (1 / 3)  # ≈ 6.06e-6
COMPLEX_STEP = 1e-20
TOLERANCES = {"central": 1e-6, "complex-step": 1e-10}
"""Default ``rtol`` of :func:`check_jacobian` per method (norm-wise, as :func:`rel_error`)."""


def rel_error(actual: Array, expected: Array) -> float:
    """Norm-wise relative error ``max|actual − expected| / max|expected|`` (0 when both are 0).

    Norm-wise rather than entry-wise, so that entries that are zero or tiny
    in the exact answer do not blow the error up; a transposed or shifted
    Jacobian still scores ≈ 1.

    >>> rel_error(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 4.0]]))
    0.25
    >>> rel_error(np.zeros((2, 3)), np.zeros((2, 3)))
    0.0
    """
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"rel_error: shapes differ, {actual.shape} vs {expected.shape}")
    diff = float(np.max(np.abs(actual - expected), initial=0.0))
    scale = float(np.max(np.abs(expected), initial=0.0))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


def _steps(x: Array, rel_step: float) -> Array:
    h = rel_step * np.maximum(np.abs(x), 1.0)
    return (x + h) - x  # exactly representable


def jacobian_fd(f: Callable[[Array], Array], x: Array, rel_step: float = REL_STEP) -> Array:
    """Central-difference Jacobian of ``f: ℝⁿ → ℝᵐ`` at ``x`` — shape ``(m, n)``.

    ``J[:, i] ≈ (f(x + h_i e_i) − f(x − h_i e_i)) / (2 h_i)``; a scalar ``f`` gives ``(1, n)``.
    """
    x = np.asarray(x, dtype=np.float64)
    h = _steps(x, rel_step)
    return _by_columns(f, x, lambda i, e: (np.atleast_1d(f(x + h[i] * e)) - np.atleast_1d(f(x - h[i] * e))) / (2.0 * h[i]))


def jacobian_complex_step(f: Callable[[Array], Array], x: Array, h: float = COMPLEX_STEP) -> Array:
    """Complex-step Jacobian of ``f: ℝⁿ → ℝᵐ`` at ``x`` — shape ``(m, n)``.

    ``J[:, i] = Im f(x + i·h·e_i) / h``: no subtraction, so no cancellation, and
    ``h = 1e-20`` leaves a truncation error ``O(h²)`` far below rounding. ``f`` must
    accept complex input and be analytic (no ``abs``, ``max``, comparisons, ``np.real``).

    >>> f = lambda v: np.array([v[0] * np.exp(v[1]), np.sin(v[0]) * v[2]])    # ℝ³ → ℝ²
    >>> J = jacobian_complex_step(f, np.array([1.0, 0.0, 2.0]))
    >>> J.shape, np.allclose(J, [[1.0, 1.0, 0.0], [2 * np.cos(1.0), 0.0, np.sin(1.0)]], rtol=1e-15)
    ((2, 3), True)
    """
    x = np.asarray(x, dtype=np.float64)
    return _by_columns(f, x, lambda i, e: np.imag(np.atleast_1d(f(x + 1j * h * e))) / h)


def _by_columns(f: Callable[[Array], Array], x: Array, column: Callable[[int, Array], Array]) -> Array:
    """Stack ``column(i, e_i)`` for every unit vector ``e_i`` of ``x``'s space as the columns of a matrix."""
    if x.size == 0:  # no inputs: an (m, 0) Jacobian
        return np.zeros(np.atleast_1d(f(x)).shape + (0,))
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = 1.0
        cols.append(column(i, e))
    return np.stack(cols, axis=-1)


def fd_gradient(net: Network, x: Array, y: Array, rel_step: float = REL_STEP) -> Array:
    """``dL/dθ`` by central differences in every parameter — shape ``(n_params,)``.

    The network's parameters are restored afterwards, whatever happens.
    """
    theta = net.get_params()

    def loss_at(t: Array) -> float:
        net.set_params(t)
        return net.loss(x, y)

    try:
        return jacobian_fd(loss_at, theta, rel_step)[0]
    finally:
        net.set_params(theta)


@dataclass(frozen=True)
class WrongEntry:
    """One entry of a claimed Jacobian that disagrees: ``(row, col)`` (0-based), its meaning, the values."""

    row: int
    col: int
    name: str
    expected: float
    got: float

    def __str__(self) -> str:
        return f"({self.row}, {self.col}) {self.name}: expected {self.expected:.6g}, got {self.got:.6g}"


@dataclass
class JacobianCheck:
    """A claimed Jacobian ``got`` against a reference ``expected`` (both ``(m, n)``).

    ``wrong`` lists every entry with ``|got − expected| > rtol · max|expected| + atol``
    (norm-wise, like :func:`rel_error`), worst first; ``ok`` when there is none.
    """

    method: str
    expected: Array
    got: Array
    rtol: float
    atol: float
    wrong: list[WrongEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.wrong

    @property
    def rel_error(self) -> float:
        """:func:`rel_error` of ``got`` against ``expected``."""
        return rel_error(self.got, self.expected)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        shape = self.expected.shape
        if self.ok:
            return f"✓ Jacobian {shape} agrees with {self.method} (relative error {self.rel_error:.2g} ≤ {self.rtol:g})"
        head = f"✗ {len(self.wrong)} of {self.expected.size} entries of the Jacobian {shape} disagree with {self.method}:"
        more = [f"  … and {len(self.wrong) - 10} more"] if len(self.wrong) > 10 else []
        return "\n".join([head, *(f"  {w}" for w in self.wrong[:10]), *more])


def check_jacobian(
    f: Callable[[Array], Array],
    x: Array,
    J: Array,
    method: str = "central",
    rtol: float | None = None,
    atol: float = 1e-12,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> JacobianCheck:
    """Check a claimed Jacobian ``J`` of ``f: ℝⁿ → ℝᵐ`` at ``x`` and name the wrong entries.

    The reference is :func:`jacobian_fd` (``method="central"``) or
    :func:`jacobian_complex_step` (``"complex-step"``); ``rtol`` defaults to
    :data:`TOLERANCES` of the method. Entry ``(i, j)`` is called ``∂a_{i+1}/∂x_{j+1}``
    unless ``row_labels``/``col_labels`` name the outputs and inputs.

    Raises:
        ValueError: ``J`` is not ``(m, n)`` (the message says if it is the transpose), or unknown method.

    >>> f = lambda v: np.array([v[0] * v[1], v[1] + 3 * v[2]])             # ℝ³ → ℝ²
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> print(check_jacobian(f, x, [[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]]).ok)
    True
    >>> print(check_jacobian(f, x, [[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]], method="complex-step"))
    ✗ 1 of 6 entries of the Jacobian (2, 3) disagree with complex-step:
      (1, 2) ∂a_2/∂x_3: expected 3, got 1
    """
    references = {"central": jacobian_fd, "complex-step": jacobian_complex_step}
    if method not in references:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(references)}")
    x = np.asarray(x, dtype=np.float64)
    expected = references[method](f, x)
    got = np.asarray(J, dtype=np.float64)
    if got.shape != expected.shape:
        hint = " (that is the transpose: rows = outputs, columns = inputs)" if got.shape == expected.shape[::-1] else ""
        raise ValueError(
            f"check_jacobian: f maps {x.size} inputs to {expected.shape[0]} outputs, so its Jacobian has shape "
            f"{expected.shape}; got {got.shape}{hint}"
        )
    rtol = TOLERANCES[method] if rtol is None else rtol
    tol = rtol * float(np.max(np.abs(expected), initial=0.0)) + atol
    diff = np.abs(got - expected)
    bad = np.argwhere(~(diff <= tol))  # NaN in J counts as wrong
    bad = sorted(bad.tolist(), key=lambda ij: -np.nan_to_num(diff[ij[0], ij[1]], nan=np.inf))
    rows = list(row_labels) if row_labels is not None else [f"a_{i + 1}" for i in range(expected.shape[0])]
    cols = list(col_labels) if col_labels is not None else [f"x_{j + 1}" for j in range(expected.shape[1])]
    wrong = [WrongEntry(i, j, f"∂{rows[i]}/∂{cols[j]}", float(expected[i, j]), float(got[i, j])) for i, j in bad]
    return JacobianCheck(method, expected, got, rtol, atol, wrong)


def __getattr__(name: str) -> object:
    """``compare_gradients`` and ``GradientReport`` live in :mod:`jacobnet.report`, which builds on this module."""
    if name in ("compare_gradients", "GradientReport"):
        from . import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
