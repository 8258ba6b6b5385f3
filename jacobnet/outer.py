"""Jacobians built from outer products: ``diag(s) − s sᵀ`` and ``[I ⊗ xᵀ | I]``.

Two :class:`~jacobnet.structure.Operator` s whose structure saves a factor
``n`` in both memory and FLOPs: the softmax Jacobian ``DiagMinusOuter``
(stores ``s``, multiplies in ``3kn`` instead of ``kn²``) and a Dense layer's
parameter Jacobian ``KronRows`` (stores ``x``, never the ``m × m(n + 1)``
matrix; its batch sum is one GEMM ``Gᵀ X``).

>>> import numpy as np
>>> J = KronRows(np.array([1.0, 2.0, 3.0]), m=2)
>>> g = np.array([[10.0, 20.0]])
>>> J.vjp(g)
array([[10., 20., 30., 20., 40., 60., 10., 20.]])
>>> bool(np.array_equal(J.vjp(g), g @ J.dense()))
True
"""

from __future__ import annotations

import numpy as np

from .numerics import F8, ones, sum_others
from .structure import Operator

Array = np.ndarray


class DiagMinusOuter(Operator):
    """``diag(s) − s sᵀ`` (the softmax Jacobian), ``s`` of shape ``(n,)`` or ``(B, n)``.

    ``G @ J = G ∘ sᵀ − (G s) sᵀ``: ``3kn`` multiply-adds instead of ``kn²``.
    Every ``1 − s_i`` is computed as ``Σ_{j≠i} s_j`` (:func:`sum_others`): the
    diagonal is ``s_i Σ_{j≠i} s_j`` and ``(G J)_i = s_i (g_i Σ_{j≠i} s_j − Σ_{j≠i} g_j s_j)``,
    so a saturated softmax (``s_i → 1``) keeps its relative accuracy.

    >>> s = np.array([0.25, 0.75])
    >>> DiagMinusOuter(s).dense()
    array([[ 0.1875, -0.1875],
           [-0.1875,  0.1875]])
    """

    kind = "diag − rank-1"

    def __init__(self, s: Array):
        self.s = s
        n = s.shape[-1]
        self.shape = (n, n)
        self.batch = s.shape[0] if s.ndim == 2 else None

    def _fill(self, out: Array) -> None:
        s, idx = self.s, np.arange(self.shape[0])
        np.multiply(-s[..., :, None], s[..., None, :], out=out)
        out[..., idx, idx] = s * sum_others(s)  # s_i (1 − s_i), without cancellation

    def batch_slice(self, start: int, stop: int) -> DiagMinusOuter:
        return DiagMinusOuter(self.s[start:stop])

    def vjp(self, G: Array) -> Array:
        s = self.s[..., None, :]
        return s * (G * sum_others(s) - sum_others(G * s))

    def jvp(self, H: Array) -> Array:
        s = self.s[..., :, None]
        return s * (H * sum_others(s, axis=-2) - sum_others(s * H, axis=-2))

    @property
    def nbytes(self) -> int:
        return self.s.size * F8

    def vjp_flops(self, k: int) -> int:
        return 3 * k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return 3 * self.shape[0] * p


class KronRows(Operator):
    """``[I_m ⊗ xᵀ | I_m]``: J_θ of ``y = W x + b`` with ``θ = [vec_r(W), b]``.

    Row ``i`` holds ``xᵀ`` in the columns of ``W``'s row ``i`` and a 1 in the
    column of ``b_i``. Shape ``(m, m·n + m)``; ``x`` of shape ``(n,)`` or ``(B, n)``.
    ``G @ J = [vec_r(G_k ⊗ x) | G]`` row by row (an outer product, ``k·m·n``
    multiply-adds); ``J @ H = H_W x + H_b`` with ``H_W`` reshaped to ``(m, n, p)``.

    >>> KronRows(np.array([1.0, 2.0]), m=1).dense()
    array([[1., 2., 1.]])
    """

    kind = "[I ⊗ xᵀ | I]"

    def __init__(self, x: Array, m: int):
        self.x = x
        self.m = m
        self.n = x.shape[-1]
        self.shape = (m, m * self.n + m)
        self.batch = x.shape[0] if x.ndim == 2 else None

    def _fill(self, out: Array) -> None:
        m, n, x = self.m, self.n, self.x
        idx = np.arange(m)
        out.fill(0.0)  # then the nonzeros, in place: no temporaries
        blocks = out[..., : m * n].reshape(x.shape[:-1] + (m, m, n))  # a view
        blocks[..., idx, idx, :] = x[..., None, :]  # row i, block i: xᵀ  (I_m ⊗ xᵀ)
        out[..., idx, m * n + idx] = 1.0  # the b columns: I_m

    def batch_slice(self, start: int, stop: int) -> KronRows:
        return KronRows(self.x[start:stop], self.m)

    def vjp(self, G: Array) -> Array:
        m, n = self.m, self.n
        lead = np.broadcast_shapes(G.shape[:-2], self.x.shape[:-1])
        out = np.empty(lead + (G.shape[-2], m * n + m))
        outer = out[..., : m * n].reshape(out.shape[:-1] + (m, n))  # a view: (..., k, m, n)
        np.multiply(G[..., :, :, None], self.x[..., None, None, :], out=outer)
        out[..., m * n :] = G
        return out

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b [vec_r(G_b ⊗ x_b) | G_b]``: the W block is one GEMM ``Gᵀ X``, not ``B`` outer products."""
        if G.ndim != 3 or self.x.ndim != 2:
            return super().vjp_sum(G, out)
        B, k, m = G.shape
        n = self.n
        out = np.empty((k, m * n + m)) if out is None else out
        Gt = G.reshape(B, k * m).T
        if k == 1:  # a row per sample: both blocks are BLAS products written in place, Gᵀ X and Gᵀ 𝟙
            np.dot(Gt, self.x, out=out[0, : m * n].reshape(m, n))  # (np.dot: less overhead than matmul)
            np.dot(Gt, ones(B), out=out[0, m * n :])
            return out
        out[:, : m * n] = (Gt @ self.x).reshape(k, m * n)
        np.add.reduce(G, axis=0, out=out[:, m * n :])
        return out

    def vjp_mean(self, G: Array) -> Array:
        """``(1/B) Σ_b [vec_r(G_b ⊗ x_b) | G_b]``: :meth:`vjp_sum` over ``B``."""
        if G.ndim != 3 or self.x.ndim != 2:
            return super().vjp_mean(G)
        out = self.vjp_sum(G)
        out *= 1.0 / G.shape[0]
        return out

    def jvp(self, H: Array) -> Array:
        m, n = self.m, self.n
        HW = H[..., : m * n, :].reshape(H.shape[:-2] + (m, n, H.shape[-1]))
        return np.einsum("...ijp,...j->...ip", HW, self.x) + H[..., m * n :, :]

    @property
    def nbytes(self) -> int:
        return self.x.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.m * self.n

    def jvp_flops(self, p: int) -> int:
        return self.m * (self.n + 1) * p
