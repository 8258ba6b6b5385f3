"""Batches: per-sample Jacobians stacked, or one block-diagonal batch Jacobian.

A batch ``X = [x_1; …; x_B]`` through a layer is the map
``(x_1, …, x_B) ↦ (f(x_1), …, f(x_B))``. Its Jacobian is block-diagonal,
``blockdiag(J_1, …, J_B)`` of shape ``(B·m, B·n)``: sample ``b``'s outputs
depend on sample ``b``'s inputs only. jacobnet stores only the diagonal
blocks, stacked ``(B, m, n)``; :func:`block_diagonal` builds the full matrix
on demand (``B²`` times the memory of one block each side — guarded).

The parameters are shared by every sample, so ``J_θ`` of the batch is the
vertical stack ``[J_θ,1; …; J_θ,B]`` (``B·m × n_params``) and the loss of
the batch, ``L = (1/B) Σ_b L_b``, has the row ``(1/B)[J_loss,1 … J_loss,B]``.
Their product (:func:`batch_chain`) is the batch gradient:

    dL/dθ = (1/B)[J_loss,b]_b · blockdiag(J_x,b) ⋯ · [J_θ,b]_b = (1/B) Σ_b J_loss,b ⋯ J_θ,b,

the mean of the per-sample products (:func:`mean_of_products`).

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("3,4,2", "tanh", "softmax-ce")
>>> X, Y = np.arange(6.0).reshape(2, 3) / 6, np.eye(2)
>>> chain = net.chain(X, Y)
>>> big = batch_chain(chain)
>>> big.shapes
[(1, 4), (4, 8), (8, 8), (8, 16)]
>>> bool(np.allclose(big.evaluate(), mean_of_products(chain), rtol=1e-12, atol=0))
True
>>> block_diagonal(chain.factors[2]).shape
(8, 8)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jacobnet.chain.factor import Factor
from jacobnet.core.operator import Box, Operator
from jacobnet.core.operators import Matrix

if TYPE_CHECKING:
    from jacobnet.chain.product import Chain, Order

Array = np.ndarray


class _OverBatch(Operator):
    """A batch Jacobian made of the ``B`` per-sample blocks of ``inner``; it stores and costs ``B`` blocks."""

    def __init__(self, inner: Operator, batch: int, shape: tuple[int, int], label: str):
        self.inner, self.B, self.shape, self.batch = inner, batch, shape, None
        self.label, self.kind = label, f"{label} ({batch} × {inner.kind})"

    @property
    def nbytes(self) -> int:
        return self.inner.nbytes

    def vjp_flops(self, k: int) -> int:
        return self.B * self.inner.vjp_flops(k)

    def jvp_flops(self, p: int) -> int:
        return self.B * self.inner.jvp_flops(p)


class BlockDiagonal(_OverBatch):
    """``blockdiag(J_1, …, J_B)``, shape ``(B·m, B·n)``, over a batched operator of blocks ``(m, n)``.

    ``G @ J`` for ``G`` of shape ``(k, B·m)`` multiplies each sample's slice of
    ``G`` by its own block (``B`` vjps of the inner structure).
    """

    def __init__(self, inner: Operator, batch: int):
        m, n = inner.shape
        super().__init__(inner, batch, (batch * m, batch * n), "block-diagonal")

    def _fill(self, out: Array) -> None:
        (m, n), B = self.inner.shape, self.B
        out.fill(0.0)
        idx = np.arange(B)
        out.reshape(B, m, B, n)[idx, :, idx, :] = np.broadcast_to(self.inner.dense(), (B, m, n))

    def outline(self) -> list[Box]:
        """The samples' blocks on the diagonal."""
        m, n = self.inner.shape
        return [Box(b * m, b * n, m, n) for b in range(self.B)]

    def vjp(self, G: Array) -> Array:
        k, (m, n) = G.shape[0], self.inner.shape
        per = self.inner.vjp(G.reshape(k, self.B, m).transpose(1, 0, 2))  # (B, k, n)
        return np.broadcast_to(per, (self.B, k, n)).transpose(1, 0, 2).reshape(k, self.B * n)

    def jvp(self, H: Array) -> Array:
        p, (m, n) = H.shape[1], self.inner.shape
        return np.broadcast_to(self.inner.jvp(H.reshape(self.B, n, p)), (self.B, m, p)).reshape(self.B * m, p)


class StackedRows(_OverBatch):
    """``[J_1; …; J_B]``, shape ``(B·m, n)``: the batch Jacobian by shared parameters.

    ``G @ J = Σ_b G_b J_b`` for ``G = [G_1 … G_B]`` of shape ``(k, B·m)``.
    """

    def __init__(self, inner: Operator, batch: int):
        m, n = inner.shape
        super().__init__(inner, batch, (batch * m, n), "stacked")

    def _fill(self, out: Array) -> None:
        m, n = self.inner.shape
        blocks = out.reshape(self.B, m, n)  # a view
        if self.inner.batch == self.B:
            self.inner.dense(out=blocks)
        else:
            blocks[...] = self.inner.dense()

    def outline(self) -> list[Box]:
        """The samples' blocks, one under the other."""
        m, n = self.inner.shape
        return [Box(b * m, 0, m, n) for b in range(self.B)]

    def vjp(self, G: Array) -> Array:
        k, m = G.shape[0], self.inner.shape[0]
        return self.inner.vjp_sum(G.reshape(k, self.B, m).transpose(1, 0, 2))

    def jvp(self, H: Array) -> Array:
        m, p = self.inner.shape[0], H.shape[1]
        return np.broadcast_to(self.inner.jvp(H), (self.B, m, p)).reshape(self.B * m, p)


def block_diagonal(factor: Factor) -> Array:
    """The batch Jacobian ``blockdiag(J_1, …, J_B)`` of a batched factor: ``(B·m, B·n)``, guarded.

    >>> from jacobnet.core.operators import Diagonal
    >>> block_diagonal(Factor("J_x(Tanh 1)", Diagonal(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))))[2:4]
    array([[0., 0., 3., 0., 0., 0.],
           [0., 0., 0., 4., 0., 0.]])
    """
    return _batch_op(factor).dense(what=f"the block-diagonal batch Jacobian of {factor.name}")


def batch_chain(chain: Chain) -> Chain:
    """The derivative of the batch's mean loss as one product of batch Jacobians.

    Factors: ``(1/B)·J_loss`` ``(1, B·n_L)``, then ``blockdiag(J_x)`` ``(B·m, B·n)`` for
    every layer, then — for a parameter chain — the stacked ``J_θ`` ``(B·m, n_params)``.
    Result: ``(1, n_params)``, the batch gradient; for ``wrt="input"`` chains
    ``(1, B·n_0)``, every sample's ``∂L_b/∂x_b / B`` side by side.

    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "mse")
    >>> c = batch_chain(net.chain(np.ones((4, 3)), np.zeros((4, 2))))
    >>> c.shapes, c.evaluate().shape
    ([(1, 8), (8, 8)], (1, 8))
    """
    from jacobnet.chain.product import Chain

    B = chain.batch
    if B is None:
        raise ValueError(f"batch_chain: {chain.target} is a single-sample chain; build it from a batch (B, n)")
    first, *rest = chain.factors
    row = np.broadcast_to(first.dense(), (B, *first.shape)).reshape(1, B * first.shape[1]) / B
    factors = [Factor(f"(1/B)·{first.name}", Matrix(row), first.out, first.wrt)]
    for f in rest:
        factors.append(Factor(f"{f.name}[1…{B}]", batch_operator(f), f.out, f.wrt, layer=f.layer, wrt_params=f.wrt_params))
    return Chain(f"{chain.target} (batch mean loss)", factors)


def mean_of_products(chain: Chain, order: Order = "reverse", mode: str = "materialised") -> Array:
    """The batch gradient as the mean of the per-sample products: ``(B, 1, n)`` → ``(1, n)``.

    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "mse")
    >>> X, Y = np.ones((4, 3)), np.zeros((4, 2))
    >>> m = mean_of_products(net.chain(X, Y))
    >>> m.shape, bool(np.allclose(m[0], net.gradient(X, Y), rtol=1e-12, atol=0))
    ((1, 8), True)
    """
    if chain.batch is None:
        raise ValueError(f"mean_of_products: {chain.target} is a single-sample chain; build it from a batch (B, n)")
    return chain.evaluate(order, mode).mean(axis=0)


def batch_operator(factor: Factor) -> BlockDiagonal | StackedRows:
    """The batch Jacobian of a batched factor as an operator: stacked for ``J_θ`` (θ is shared), else block-diagonal.

    >>> from jacobnet.core.operators import KronRows
    >>> op = batch_operator(Factor("J_θ(Dense 1)", KronRows(np.array([[1.0, 2.0], [3.0, 4.0]]), m=1), wrt_params=True))
    >>> op.label, op.dense()
    ('stacked', array([[1., 2., 1.],
           [3., 4., 1.]]))
    """
    return StackedRows(factor.op, _batch(factor)) if factor.wrt_params else _batch_op(factor)


def _batch_op(factor: Factor) -> BlockDiagonal:
    return BlockDiagonal(factor.op, _batch(factor))


def _batch(factor: Factor) -> int:
    if factor.batch is None:
        raise ValueError(f"{factor.name} is a single-sample Jacobian; build the chain from a batch (B, n)")
    return factor.batch
