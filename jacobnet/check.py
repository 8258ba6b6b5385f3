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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray
REL_STEP = np.finfo(np.float64).eps ** (1 / 3)  # ≈ 6.06e-6


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
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h[i]
        cols.append((np.atleast_1d(f(x + e)) - np.atleast_1d(f(x - e))) / (2.0 * h[i]))
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
