"""One multiplication of two chain operands: which kernel, what it costs, what it makes.

This is the one table both the cost counts (``Chain.flops``/``Chain.bytes``,
the optimal order) and the evaluation (``Chain.evaluate``/``Chain.steps``)
read, so a counted cost is always the cost of the kernel that runs.

Cost model, for ``A`` of shape ``(m, n)`` times ``B`` of shape ``(n, p)``,
per sample; FLOPs are multiply-adds, bytes are float64 bytes *written*:

**Dense** (``mode="materialised"``): every factor is its dense matrix and every
product a matmul: ``m·n·p`` FLOPs, the ``(m, p)`` result ``8·m·p`` bytes.

**Structured** (``mode="structured"``): an operand is *dense* (``Matrix``
factors — ``W``, ``J_loss`` — and every partial product but those below), *diagonal*
(``Diagonal`` factors and products of diagonals) or another structured
operator (``diag − rank-1``, ``[I ⊗ xᵀ | I]``):

=========================  ==================================  ===========
left · right               FLOPs                               result
=========================  ==================================  ===========
dense · dense              ``m·n·p``                           dense
dense · S                  ``S.vjp_flops(m)``                  dense
S · dense                  ``S.jvp_flops(p)``                  dense
diagonal · diagonal        ``n``                               diagonal
S · T (any other pair)     ``min(T.vjp_flops(m), S.jvp_flops(p))``  dense
=========================  ==================================  ===========

(``vjp_flops``: diagonal ``k·n``; diag − rank-1 ``3·k·n``; ``[I ⊗ xᵀ | I]``
``k·m·n``; see :mod:`jacobnet.core.operators`.) In the last row one operand is
densified (no FLOPs, but its bytes are counted) and the other's kernel applied,
whichever is cheaper. A diagonal result is ``8·n`` bytes.

Batches: an operand is per-sample (``batch = B``) or shared (``W``); a
product costs ``B ×`` the per-sample count when either operand is per-sample.
In the dense model every factor is materialised per sample.

>>> import numpy as np
>>> from jacobnet.chain.factor import Factor
>>> from jacobnet.core.operators import Diagonal, Matrix
>>> w = leaf(Factor("W", Matrix(np.ones((2, 3)))), mode="structured")
>>> d = leaf(Factor("D", Diagonal(np.array([1.0, 2.0, 3.0]))), mode="structured")
>>> r = combine(w, d, "W·D")
>>> r.kernel, r.flops, r.nbytes, r.result.shape
('vjp through diagonal', 6, 48, (2, 3))
>>> combine(leaf(w.factor, mode="materialised"), leaf(d.factor, mode="materialised"), "W·D").flops
18
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jacobnet.chain.factor import Factor
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Operator
from jacobnet.core.operators import Diagonal, Matrix
from jacobnet.core.validate import check_mode

Array = np.ndarray


@dataclass
class Operand:
    """A factor or a partial product, as the chain arithmetic sees it.

    Attributes:
        name: ``J_x(Dense 2)`` for a factor, ``∂a2/∂a1`` for a partial product.
        shape: the per-sample ``(rows, cols)``.
        kind: ``dense``, ``diagonal`` or an operator's structure label.
        batch: ``B`` when it differs per sample, ``None`` when shared or a single sample.
        span: the factor indices ``(i, j)`` it is the product of.
        op: the operator of a structured operand (``None`` for a dense one).
        value: the dense array ``(m, n)`` or ``(B, m, n)`` (``None`` when only costing).
        factor: the factor of a leaf.
    """

    name: str
    shape: tuple[int, int]
    kind: str
    batch: int | None
    span: tuple[int, int]
    op: Operator | None = None
    value: Array | None = None
    factor: Factor | None = None

    def matrix(self) -> Array:
        """The dense matrix: ``(m, n)``, or ``(B, m, n)`` per sample (materialised if structured)."""
        if self.value is not None:
            return self.value
        if self.op is None:
            raise ValueError(f"{self.name} was only costed, not computed; use Chain.steps to compute it")
        return self.op.dense(what=self.name)

    @property
    def nbytes(self) -> int:
        """Bytes of this operand as stored: ``8·n`` per sample if diagonal, else ``8·m·n``."""
        m, n = self.shape
        return (self.batch or 1) * F8 * (n if self.kind == "diagonal" else m * n)

    @property
    def nbytes_dense(self) -> int:
        """Bytes of its dense matrix: ``8·m·n`` per sample."""
        return (self.batch or 1) * F8 * self.shape[0] * self.shape[1]


@dataclass
class Multiplication:
    """The outcome of :func:`combine`: the result and what it cost."""

    result: Operand
    flops: int
    nbytes: int
    kernel: str


def leaf(factor: Factor, mode: str, index: int = 0, compute: bool = False) -> Operand:
    """The operand of a factor in the dense or the structured model.

    ``compute=True`` materialises a dense-model factor now (``factor.dense()``, guarded).
    """
    check_mode(mode)
    op, span = factor.op, (index, index)
    if mode == "materialised":
        value = factor.dense() if compute else None
        return Operand(factor.name, factor.shape, "dense", factor.batch, span, value=value, factor=factor)
    if isinstance(op, Matrix):  # already dense: its array, shared (W) or per sample
        batch = op.A.shape[0] if op.A.ndim == 3 else None
        return Operand(factor.name, factor.shape, "dense", batch, span, value=op.A, factor=factor)
    return Operand(factor.name, factor.shape, op.kind, op.batch, span, op=op, factor=factor)


def combine(a: Operand, b: Operand, name: str, compute: bool = False) -> Multiplication:
    """``a · b`` by the kernel the cost model picks; computes the value when ``compute``."""
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"cannot multiply {a.name} {a.shape} by {b.name} {b.shape}: {a.shape[1]} ≠ {b.shape[0]}")
    if a.batch and b.batch and a.batch != b.batch:
        raise ValueError(f"cannot multiply {a.name} (batch {a.batch}) by {b.name} (batch {b.batch})")
    (m, n), p = a.shape, b.shape[1]
    batch = a.batch or b.batch
    reps = batch or 1
    span = (a.span[0], b.span[1])
    if a.kind == b.kind == "diagonal":
        d = a.op.d * b.op.d if compute else np.zeros(n)
        out = Operand(name, (m, p), "diagonal", batch, span, op=Diagonal(d))
        return Multiplication(out, reps * n, out.nbytes, "diagonal · diagonal")
    flops, kernel, extra, fn = _pick(a, b, m, p)
    value = fn() if compute else None
    out = Operand(name, (m, p), "dense", batch, span, value=value)
    return Multiplication(out, reps * flops, out.nbytes + extra, kernel)


def _pick(a: Operand, b: Operand, m: int, p: int):  # -> (flops, kernel, extra bytes, thunk)
    if a.op is None and b.op is None:
        return m * a.shape[1] * p, "matmul", 0, lambda: a.value @ b.value
    if a.op is None:
        return b.op.vjp_flops(m), f"vjp through {b.kind}", 0, lambda: b.op.vjp(a.value)
    if b.op is None:
        return a.op.jvp_flops(p), f"jvp through {a.kind}", 0, lambda: a.op.jvp(b.value)
    by_vjp, by_jvp = b.op.vjp_flops(m), a.op.jvp_flops(p)
    if by_vjp <= by_jvp:  # densify the left operand, multiply through the right one
        return by_vjp, f"densify {a.kind}, vjp through {b.kind}", a.nbytes_dense, lambda: b.op.vjp(a.op.dense(what=a.name))
    return by_jvp, f"jvp through {a.kind}, densify {b.kind}", b.nbytes_dense, lambda: a.op.jvp(b.op.dense(what=b.name))
