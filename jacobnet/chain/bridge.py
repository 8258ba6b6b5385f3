"""VJP and JVP: a reverse step combines rows of ``J``, a forward step combines columns.

* Reverse mode multiplies a row vector from the left, ``vᵀ J`` — a
  vector–Jacobian product (VJP): ``vᵀ J = Σ_i v_i J_{i,:}``, the rows of ``J``
  weighted by ``v``. Each backprop step is one: ``∂L/∂a_{l−1} = ∂L/∂a_l · J_x``.
* Forward mode multiplies a column vector from the right, ``J u`` — a
  Jacobian–vector product (JVP): ``J u = Σ_j u_j J_{:,j}``, the columns of ``J``
  weighted by ``u`` (a directional derivative).

Neither ever needs more of ``J`` than one row or column at a time, which is
why frameworks store no Jacobian.

>>> import numpy as np
>>> J = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])        # (2, 3)
>>> r = vjp_as_rows(np.array([10.0, -1.0]), J)
>>> r.parts                                                 # 10·row 1, −1·row 2
array([[10., 20., 30.],
       [-4., -5., -6.]])
>>> r.total, np.array([10.0, -1.0]) @ J
(array([ 6., 15., 24.]), array([ 6., 15., 24.]))
>>> jvp_as_columns(J, np.array([1.0, 0.0, -1.0])).total    # column 1 − column 3
array([-2., -2.])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass
class Combination:
    """A weighted sum of the rows (VJP) or the columns (JVP) of a Jacobian.

    Attributes:
        parts: the weighted rows ``v_i J_{i,:}`` — ``(m, n)`` — or columns ``u_j J_{:,j}`` — ``(m, n)``.
        weights: ``v`` (``(m,)``) or ``u`` (``(n,)``).
        total: their sum, ``vᵀ J`` — ``(n,)`` — or ``J u`` — ``(m,)``.
        axis: ``"rows"`` or ``"columns"``.
    """

    parts: Array
    weights: Array
    total: Array
    axis: str


def _matrix(J: object) -> Array:
    """``J`` as a 2-D float64 matrix: an array, or anything with ``dense()`` (a Factor, an Operator)."""
    A = J.dense() if hasattr(J, "dense") else J
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"expected a single Jacobian of shape (m, n), got shape {A.shape}")
    return A


def _vector(v: object, n: int, who: str, side: str) -> Array:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 2 and 1 in v.shape:
        v = v.reshape(-1)
    if v.shape != (n,):
        raise ValueError(f"{who}: the vector must have {n} entries (one per {side} of J), got shape {v.shape}")
    return v


def vjp_as_rows(v: object, J: object) -> Combination:
    """``vᵀ J = Σ_i v_i J_{i,:}``: the rows of ``J`` (``(m, n)``) weighted by ``v`` (``(m,)`` or ``(1, m)``).

    Returns the weighted rows ``(m, n)`` and their sum ``(n,)``, which equals ``v @ J``.
    """
    A = _matrix(J)
    v = _vector(v, A.shape[0], "vjp_as_rows", "row")
    parts = v[:, None] * A
    return Combination(parts, v, parts.sum(axis=0), "rows")


def jvp_as_columns(J: object, u: object) -> Combination:
    """``J u = Σ_j u_j J_{:,j}``: the columns of ``J`` (``(m, n)``) weighted by ``u`` (``(n,)`` or ``(n, 1)``).

    Returns the weighted columns ``(m, n)`` and their sum ``(m,)``, which equals ``J @ u``.
    """
    A = _matrix(J)
    u = _vector(u, A.shape[1], "jvp_as_columns", "column")
    parts = A * u[None, :]
    return Combination(parts, u, parts.sum(axis=1), "columns")
