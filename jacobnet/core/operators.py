"""Jacobians that know their structure.

Every Jacobian in jacobnet is first built as one of these operators, the one
place its formula is written. From it you can always get the full dense
matrix (``dense()``, the lesson). You can also multiply through the structure
without materialising anything (``vjp``/``jvp``, the cost of ordinary
backprop):

=================  ==========================  ===========================
operator           matrix                      where it appears
=================  ==========================  ===========================
``Matrix``         a dense ``A``               J_x of Dense (``W``), J_loss
``Diagonal``       ``diag(d)``                 J_x of elementwise layers
``DiagMinusOuter`` ``diag(s) − s sᵀ``          J_x of Softmax
``KronRows``       ``[I_m ⊗ xᵀ | I_m]``        J_θ of Dense
``Empty``          an ``(m, 0)`` matrix        J_θ of parameter-free layers
``HStack``         ``[J_1 | J_2 | …]``         J_θ of several parameter arrays
=================  ==========================  ===========================

The protocol they follow is :class:`~jacobnet.core.operator.Operator`.
``DiagMinusOuter`` and ``KronRows`` are built from outer products: their
structure saves a factor ``n`` in memory and FLOPs (``3kn`` instead of ``kn²``;
the batch sum of ``KronRows`` is one GEMM ``Gᵀ X``).

Shapes: ``shape`` is the per-sample ``(m, n)`` (rows = outputs). For a batch
the data carries a leading axis ``B`` and ``dense()`` returns the stacked
``(B, m, n)``. ``vjp(G)`` is ``G @ J`` for ``G`` of shape ``(..., k, m)``;
``jvp(H)`` is ``J @ H`` for ``H`` of shape ``(..., n, p)``; leading axes
broadcast against the batch axis. ``vjp_sum(G)`` is ``Σ_b G_b @ J_b`` and
``vjp_mean(G)`` the batch mean (a batch gradient), each one contraction.

``dense()`` is guarded: over the memory budget (:mod:`jacobnet.core.memory`) it
raises a ``MemoryError`` before allocating anything.

>>> import numpy as np
>>> J = KronRows(np.array([1.0, 2.0, 3.0]), m=2)   # Dense 3 → 2, at x = (1, 2, 3)
>>> J.shape, J.kind
((2, 8), '[I ⊗ xᵀ | I]')
>>> J.dense()
array([[1., 2., 3., 0., 0., 0., 1., 0.],
       [0., 0., 0., 1., 2., 3., 0., 1.]])
>>> g = np.array([[10.0, 20.0]])                     # a (1, 2) row
>>> np.array_equal(J.vjp(g), g @ J.dense())
True
>>> Diagonal(np.array([1.0, 2.0, 3.0])).vjp(np.ones((2, 3)))   # a (2, 3) block · diag: columns scaled
array([[1., 2., 3.],
       [1., 2., 3.]])
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from jacobnet.core.numerics import F8, ones, sum_others
from jacobnet.core.operator import Box, FreeOperator, Operator, per_sample

Array = np.ndarray


def diagonal_blocks(out: Array, m: int, n: int = 1, col: int = 0) -> Array:
    """The entries ``(i, col + i·n + j)`` (``i < m``, ``j < n``) of ``out``'s last two axes, as a writable view ``(…, m, n)``.

    Row ``i``'s block ``i`` of width ``n`` — the diagonal for ``n = 1`` — with the batch axes
    in front: assigning to it writes the structure in one strided copy, without index arrays.

    >>> a = np.zeros((2, 6))
    >>> diagonal_blocks(a, 2, 3)[...] = [[1, 2, 3], [4, 5, 6]]
    >>> a
    array([[1., 2., 3., 0., 0., 0.],
           [0., 0., 0., 4., 5., 6.]])
    """
    rows, cols = out.strides[-2:]
    shape, strides = out.shape[:-2] + (m, n), out.strides[:-2] + (rows + n * cols, cols)
    if out.flags.c_contiguous:  # (the quicker constructor of the same view)
        return np.ndarray(shape, out.dtype, out, col * cols, strides)
    return as_strided(out[..., col:], shape=shape, strides=strides)


class Matrix(Operator):
    """A dense matrix ``A``: shared ``(m, n)`` (e.g. ``W``) or per-sample ``(B, m, n)``.

    ``batch`` marks a shared matrix as the Jacobian of every sample of a batch.

    >>> Matrix(np.ones((2, 3)), batch=4).dense().shape
    (4, 2, 3)
    """

    kind = "dense"

    def __init__(self, A: Array, batch: int | None = None):
        self.A = A
        self.shape = (A.shape[-2], A.shape[-1])
        self.batch = A.shape[0] if A.ndim == 3 else batch

    def _fill(self, out: Array) -> None:
        out[...] = self.A

    def batch_slice(self, start: int, stop: int) -> Matrix:
        return Matrix(self.A[start:stop]) if self.A.ndim == 3 else Matrix(self.A, batch=len(range(start, stop)))

    def vjp(self, G: Array) -> Array:
        if self.A.ndim == 2 and G.ndim == 3:  # one GEMM for the whole batch, not B small ones
            return (G.reshape(-1, G.shape[-1]) @ self.A).reshape(G.shape[:-1] + (self.shape[1],))
        return per_sample(G @ self.A, self.batch)

    def jvp(self, H: Array) -> Array:
        return per_sample(self.A @ H, self.batch)

    @property
    def nbytes(self) -> int:
        return self.A.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.shape[0] * self.shape[1]

    def jvp_flops(self, p: int) -> int:
        return self.shape[0] * self.shape[1] * p


class Diagonal(Operator):
    """``diag(d)`` with ``d`` of shape ``(n,)`` or ``(B, n)``: ``J_ij = d_i δ_ij``.

    >>> Diagonal(np.array([1.0, 2.0])).vjp(np.array([[3.0, 4.0]]))
    array([[3., 8.]])
    """

    kind = "diagonal"

    def __init__(self, d: Array):
        self.d = d
        n = d.shape[-1]
        self.shape = (n, n)
        self.batch = d.shape[0] if d.ndim == 2 else None

    def _fill_nonzeros(self, out: Array) -> None:
        diagonal_blocks(out, self.shape[0])[..., 0] = self.d

    def batch_slice(self, start: int, stop: int) -> Diagonal:
        return Diagonal(self.d[start:stop])

    def outline(self) -> list[Box]:
        """The diagonal."""
        return [Box(0, 0, *self.shape, style="diagonal")]

    def vjp(self, G: Array) -> Array:
        return G * self.d[..., None, :]

    def jvp(self, H: Array) -> Array:
        return self.d[..., :, None] * H

    @property
    def nbytes(self) -> int:
        return self.d.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return self.shape[0] * p


class Empty(FreeOperator):
    """The ``(m, 0)`` parameter Jacobian of a layer without parameters.

    >>> Empty(3).dense().shape
    (3, 0)
    """

    kind = "empty"

    def __init__(self, m: int, batch: int | None = None):
        self.shape = (m, 0)
        self.batch = batch

    def _fill_nonzeros(self, out: Array) -> None:
        pass  # no entries

    def batch_slice(self, start: int, stop: int) -> Empty:
        return Empty(self.shape[0], len(range(start, stop)))

    def vjp(self, G: Array) -> Array:
        return per_sample(np.zeros(G.shape[:-1] + (0,)), self.batch)

    def jvp(self, H: Array) -> Array:
        return per_sample(np.zeros(H.shape[:-2] + (self.shape[0], H.shape[-1])), self.batch)


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
        s = self.s
        np.multiply(-s[..., :, None], s[..., None, :], out=out)
        diagonal_blocks(out, self.shape[0])[..., 0] = s * sum_others(s)  # s_i (1 − s_i), without cancellation

    def batch_slice(self, start: int, stop: int) -> DiagMinusOuter:
        return DiagMinusOuter(self.s[start:stop])

    def outline(self) -> list[Box]:
        """The diagonal ``diag(s)`` (the rank-1 part fills every cell)."""
        return [Box(0, 0, *self.shape, style="diagonal")]

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

    def _fill_nonzeros(self, out: Array) -> None:
        m, n = self.m, self.n  # the nonzeros, in place through strided views: no temporaries, no index arrays
        diagonal_blocks(out, m, n)[...] = self.x[..., None, :]  # row i, block i: xᵀ  (I_m ⊗ xᵀ)
        diagonal_blocks(out, m, 1, col=m * n)[...] = 1.0  # the b columns: I_m

    def batch_slice(self, start: int, stop: int) -> KronRows:
        return KronRows(self.x[start:stop], self.m)

    def outline(self) -> list[Box]:
        """Row ``i``'s ``xᵀ`` in the columns of ``W``'s row ``i`` (``I_m ⊗ xᵀ``), then the biases' ``I_m``."""
        m, n = self.m, self.n
        return [
            Box(0, 0, m, m * n, "none", rf"I_{{{m}}} \otimes x^T"),
            *(Box(i, i * n, 1, n) for i in range(m)),
            Box(0, m * n, m, m, "dashed", rf"I_{{{m}}}"),
            Box(0, m * n, m, m, "rule"),
        ]

    def vjp(self, G: Array) -> Array:
        lead = np.broadcast_shapes(G.shape[:-2], self.x.shape[:-1])
        return self._vjp_into(G, np.empty(lead + (G.shape[-2], self.shape[1])))

    def _vjp_into(self, G: Array, out: Array) -> Array:
        """``[vec_r(G_k ⊗ x) | G]`` written into ``out`` (``(..., k, m·n + m)``, rows C-contiguous)."""
        m, n = self.m, self.n
        outer = out[..., : m * n].reshape(out.shape[:-1] + (m, n))  # a view: (..., k, m, n)
        if G.shape[:-1] == (1,) and self.x.ndim == 1:  # one row, one sample: g ⊗ x as a BLAS product
            np.dot(G.reshape(m, 1), self.x.reshape(1, n), out=outer.reshape(m, n))
        else:
            np.multiply(G[..., :, :, None], self.x[..., None, None, :], out=outer)
        out[..., m * n :] = G
        return out

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b [vec_r(G_b ⊗ x_b) | G_b]``: the W block is one GEMM ``Gᵀ X``, not ``B`` outer products.

        One sample: the outer products written straight into ``out`` (no temporary of the
        product's size: a 784→128 layer's is 800 KB).
        """
        if G.ndim == 2 and self.x.ndim == 1 and (out is None or out.flags.c_contiguous):
            return self._vjp_into(G, np.empty((G.shape[0], self.shape[1])) if out is None else out)
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


class HStack(Operator):
    """``[J_1 | J_2 | …]``: operators with one row count, side by side — the ``J_θ`` of several parameter arrays.

    ``G @ J = [G @ J_1 | G @ J_2 | …]`` and ``J @ H = Σ_k J_k @ H_k`` (``H_k``
    the rows of ``H`` of block ``k``): each block multiplies through its own structure.

    >>> x = np.array([1.0, 2.0])
    >>> J = HStack([Diagonal(x), Diagonal(np.ones(2))])        # [diag(x) | I], (2, 4)
    >>> J.shape, J.kind
    ((2, 4), '[diagonal | diagonal]')
    >>> J.dense()
    array([[1., 0., 1., 0.],
           [0., 2., 0., 1.]])
    >>> J.vjp(np.array([[10.0, 20.0]]))
    array([[10., 40., 10., 20.]])
    """

    def __init__(self, blocks: list[Operator]):
        if not blocks or len({b.shape[0] for b in blocks}) != 1:
            raise ValueError(f"HStack: needs one or more operators with one row count, got shapes {[b.shape for b in blocks]}")
        self.blocks = list(blocks)
        self.edges = np.cumsum([0] + [b.shape[1] for b in blocks]).tolist()
        self.shape = (blocks[0].shape[0], self.edges[-1])
        self.batch = next((b.batch for b in blocks if b.batch is not None), None)
        self.kind = "[" + " | ".join(b.kind for b in blocks) + "]"

    def _columns(self) -> list[slice]:
        return [slice(a, b) for a, b in zip(self.edges, self.edges[1:])]

    def _fill(self, out: Array) -> None:
        for block, cols in zip(self.blocks, self._columns()):
            out[..., cols] = block.dense()

    def batch_slice(self, start: int, stop: int) -> HStack:
        return HStack([b.batch_slice(start, stop) for b in self.blocks])

    def outline(self) -> list[Box]:
        """Each block's own structure, in its columns, with a rule between blocks."""
        m = self.shape[0]
        boxes = [Box(0, a, m, b - a, "rule") for a, b in zip(self.edges[1:-1], self.edges[2:])]
        return boxes + [box.shifted(cols=a) for block, a in zip(self.blocks, self.edges) for box in block.outline()]

    def vjp(self, G: Array) -> Array:
        parts = [b.vjp(G) for b in self.blocks]
        lead = np.broadcast_shapes(*(p.shape[:-1] for p in parts))
        return np.concatenate([np.broadcast_to(p, lead + p.shape[-1:]) for p in parts], axis=-1)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b @ J_b``, block by block (each block's own batch sum, e.g. ``Gᵀ X``, written into its columns of ``out``)."""
        out = np.empty((G.shape[-2], self.shape[1])) if out is None else out
        for block, cols in zip(self.blocks, self._columns()):
            part = out[:, cols]
            r = block.vjp_sum(G, out=part)
            if r is not part:  # (an operator that returned its sum instead of writing it)
                part[...] = r
        return out

    def jvp(self, H: Array) -> Array:
        return sum(b.jvp(H[..., cols, :]) for b, cols in zip(self.blocks, self._columns()))

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.blocks)

    def vjp_flops(self, k: int) -> int:
        return sum(b.vjp_flops(k) for b in self.blocks)

    def jvp_flops(self, p: int) -> int:
        return sum(b.jvp_flops(p) for b in self.blocks)
