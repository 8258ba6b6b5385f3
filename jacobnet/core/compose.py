"""Jacobians of blocks, built from their parts' operators: identity, products, sums, stacks.

A block is made of layers (:mod:`jacobnet.core.blocks`), and so is its
Jacobian: a residual block ``y = x + g(x)`` has ``J_x = I + J_{g_k} ⋯ J_{g_1}``,
a concatenation ``y = [g_1(x); g_2(x)]`` has ``J_x = [J_{g_1}; J_{g_2}]``. These
operators hold the parts and multiply through each part's own structure:

===================  ==============================  ======================================
operator             matrix                          where it appears
===================  ==============================  ======================================
``Identity``         ``I_n``                         the skip path of a residual block
``Composition``      ``A_1 A_2 ⋯ A_k``               a branch: its layers' Jacobians, last first
``OperatorSum``      ``A_1 + A_2 + …``               ``I + J_g``; a shared layer's uses
``VStack``           ``[A_1; A_2; …]``               ``J_x`` of a concatenation
``RowBlock``         ``[0; I_n; 0]``                 a branch's place in a concatenation
===================  ==============================  ======================================

``G @ (A_1 ⋯ A_k)`` is ``(((G A_1) A_2) ⋯ A_k)``: one VJP per part, in order,
never the dense product; ``dense()`` multiplies the identity through the
parts (from the shorter side) under the memory guard.

>>> import numpy as np
>>> from jacobnet.core.operators import Diagonal, Matrix
>>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
>>> J = OperatorSum([Identity(2), Composition([Matrix(W), Diagonal(np.array([1.0, 0.5]))])])
>>> J.kind, J.dense()
('I + [dense · diagonal]', array([[2., 1.],
       [3., 3.]]))
>>> S = VStack([Matrix(np.ones((1, 2))), Identity(2)])       # (3, 2): [1 1; I]
>>> S.shape, S.vjp(np.array([[1.0, 2.0, 3.0]]))
((3, 2), array([[3., 4.]]))
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jacobnet.core.operator import Box, FreeOperator, Operator, per_sample

Array = np.ndarray


def _own(out: Array, G: Array) -> Array:
    """``out``, or a copy of it where it is (a view of) ``G``: what a sum then adds into must not be the caller's row."""
    return out.copy() if np.shares_memory(out, G) else out


def _batch_of(ops: Sequence[Operator], batch: int | None = None) -> int | None:
    return next((op.batch for op in ops if op.batch is not None), batch)


class Identity(FreeOperator):
    """``I_n``, the Jacobian of ``y = x`` (the skip path); ``batch`` marks it as every sample's.

    >>> Identity(3).vjp(np.array([[1.0, 2.0, 3.0]]))
    array([[1., 2., 3.]])
    """

    kind = "I"

    def __init__(self, n: int, batch: int | None = None):
        self.shape, self.batch = (n, n), batch

    def _fill(self, out: Array) -> None:
        out.fill(0.0)
        idx = np.arange(self.shape[0])
        out[..., idx, idx] = 1.0

    def batch_slice(self, start: int, stop: int) -> Identity:
        return Identity(self.shape[0], len(range(start, stop)))

    def outline(self) -> list[Box]:
        """The diagonal, labelled ``I``."""
        return [Box(0, 0, *self.shape, style="diagonal", label=f"I_{{{self.shape[0]}}}")]

    def vjp(self, G: Array) -> Array:
        return per_sample(G, self.batch)

    def jvp(self, H: Array) -> Array:
        return per_sample(H, self.batch)


class Composition(Operator):
    """``A_1 A_2 ⋯ A_k``: the product of operators, ``ops[0]`` leftmost (the last layer of a branch).

    Shape ``(rows of A_1, columns of A_k)``; each part multiplies through its own structure.

    >>> from jacobnet.core.operators import Matrix
    >>> C = Composition([Matrix(np.ones((2, 3))), Matrix(np.arange(12.0).reshape(3, 4))])
    >>> C.shape, bool(np.array_equal(C.dense(), np.ones((2, 3)) @ np.arange(12.0).reshape(3, 4)))
    ((2, 4), True)
    """

    def __init__(self, ops: Sequence[Operator]):
        if not ops:
            raise ValueError("Composition: needs at least one operator")
        for a, b in zip(ops, ops[1:]):
            if a.shape[1] != b.shape[0]:
                raise ValueError(f"Composition: shapes {a.shape} and {b.shape} do not multiply")
        self.ops = list(ops)
        self.shape = (ops[0].shape[0], ops[-1].shape[1])
        self.batch = _batch_of(ops)
        self.kind = "[" + " · ".join(op.kind for op in ops) + "]"

    def _fill(self, out: Array) -> None:
        m, n = self.shape
        if m <= n:  # rows of I_m through every part, left to right
            r = np.eye(m)
            for op in self.ops:
                r = op.vjp(r)
        else:  # columns of I_n, right to left
            r = np.eye(n)
            for op in reversed(self.ops):
                r = op.jvp(r)
        out[...] = r

    def batch_slice(self, start: int, stop: int) -> Composition:
        return Composition([op.batch_slice(start, stop) for op in self.ops])

    def vjp(self, G: Array) -> Array:
        for op in self.ops:
            G = op.vjp(G)
        return per_sample(G, self.batch)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b A_1 ⋯ A_k``: the parts' VJPs per sample, the last part's own batch sum."""
        for op in self.ops[:-1]:
            G = op.vjp(G)
        return self.ops[-1].vjp_sum(G, out=out)

    def jvp(self, H: Array) -> Array:
        for op in reversed(self.ops):
            H = op.jvp(H)
        return per_sample(H, self.batch)

    @property
    def nbytes(self) -> int:
        return sum(op.nbytes for op in self.ops)

    def vjp_flops(self, k: int) -> int:
        return sum(op.vjp_flops(k) for op in self.ops)

    def jvp_flops(self, p: int) -> int:
        return sum(op.jvp_flops(p) for op in self.ops)


class OperatorSum(Operator):
    """``A_1 + A_2 + …``: operators of one shape, added (``I + J_g``; the uses of a shared layer).

    >>> OperatorSum([Identity(2), Identity(2)]).dense()
    array([[2., 0.],
           [0., 2.]])
    """

    def __init__(self, ops: Sequence[Operator]):
        if not ops or len({op.shape for op in ops}) != 1:
            raise ValueError(f"OperatorSum: needs operators of one shape, got {[op.shape for op in ops]}")
        self.ops = list(ops)
        self.shape = ops[0].shape
        self.batch = _batch_of(ops)
        self.kind = " + ".join(op.kind for op in ops)

    def _fill(self, out: Array) -> None:
        self.ops[0]._fill(out)
        for op in self.ops[1:]:
            out += op.dense(what=f"a term of {self.kind}")

    def batch_slice(self, start: int, stop: int) -> OperatorSum:
        return OperatorSum([op.batch_slice(start, stop) for op in self.ops])

    def outline(self) -> list[Box]:
        """Every term's structure (the identity's diagonal in ``I + J_g``)."""
        return [box for op in self.ops for box in op.outline()]

    def vjp(self, G: Array) -> Array:
        out = self.ops[0].vjp(G)
        for op in self.ops[1:]:
            out = out + op.vjp(G)
        return per_sample(out, self.batch)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b (A_1 + A_2 + …)``: each term's own batch sum, added."""
        out = _own(self.ops[0].vjp_sum(G, out=out), G)
        for op in self.ops[1:]:
            out += op.vjp_sum(G)
        return out

    def jvp(self, H: Array) -> Array:
        out = self.ops[0].jvp(H)
        for op in self.ops[1:]:
            out = out + op.jvp(H)
        return per_sample(out, self.batch)

    @property
    def nbytes(self) -> int:
        return sum(op.nbytes for op in self.ops)

    def vjp_flops(self, k: int) -> int:
        return sum(op.vjp_flops(k) for op in self.ops) + (len(self.ops) - 1) * k * self.shape[1]

    def jvp_flops(self, p: int) -> int:
        return sum(op.jvp_flops(p) for op in self.ops) + (len(self.ops) - 1) * self.shape[0] * p


class VStack(Operator):
    """``[A_1; A_2; …]``: operators with one column count, stacked — ``J_x`` of a concatenation.

    ``G J = Σ_b G_b A_b`` with ``G_b`` the columns of ``G`` that belong to block ``b``.

    >>> VStack([Identity(2), Identity(2)]).dense().shape
    (4, 2)
    """

    def __init__(self, ops: Sequence[Operator]):
        if not ops or len({op.shape[1] for op in ops}) != 1:
            raise ValueError(f"VStack: needs operators with one column count, got {[op.shape for op in ops]}")
        self.ops = list(ops)
        self.edges = np.cumsum([0] + [op.shape[0] for op in ops]).tolist()
        self.shape = (self.edges[-1], ops[0].shape[1])
        self.batch = _batch_of(ops)
        self.kind = "[" + "; ".join(op.kind for op in ops) + "]"

    def _rows(self) -> list[slice]:
        return [slice(a, b) for a, b in zip(self.edges, self.edges[1:])]

    def _fill(self, out: Array) -> None:
        for op, rows in zip(self.ops, self._rows()):
            op._fill(out[..., rows, :])

    def batch_slice(self, start: int, stop: int) -> VStack:
        return VStack([op.batch_slice(start, stop) for op in self.ops])

    def outline(self) -> list[Box]:
        """A box around each block of rows, and each block's own structure inside it."""
        n = self.shape[1]
        boxes = [Box(a, 0, b - a, n, "box") for a, b in zip(self.edges, self.edges[1:])]
        return boxes + [box.shifted(rows=a) for op, a in zip(self.ops, self.edges) for box in op.outline()]

    def vjp(self, G: Array) -> Array:
        out = None
        for op, rows in zip(self.ops, self._rows()):
            part = op.vjp(G[..., rows])
            out = part if out is None else out + part
        return per_sample(out, self.batch)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b Σ_i G_{b,i} A_{b,i}``: each block's own batch sum, added."""
        rows = self._rows()
        out = _own(self.ops[0].vjp_sum(G[..., rows[0]], out=out), G)
        for op, r in zip(self.ops[1:], rows[1:]):
            out += op.vjp_sum(G[..., r])
        return out

    def jvp(self, H: Array) -> Array:
        parts = [op.jvp(H) for op in self.ops]
        lead = np.broadcast_shapes(*(p.shape[:-2] for p in parts))
        return np.concatenate([np.broadcast_to(p, lead + p.shape[-2:]) for p in parts], axis=-2)

    @property
    def nbytes(self) -> int:
        return sum(op.nbytes for op in self.ops)

    def vjp_flops(self, k: int) -> int:
        return sum(op.vjp_flops(k) for op in self.ops) + (len(self.ops) - 1) * k * self.shape[1]

    def jvp_flops(self, p: int) -> int:
        return sum(op.jvp_flops(p) for op in self.ops)


class RowBlock(FreeOperator):
    """``[0; I_n; 0]`` of shape ``(total, n)``, the identity in rows ``offset … offset + n − 1``.

    ``∂y/∂y_b`` of a concatenation ``y = [y_1; …; y_b; …]``: where branch ``b``'s
    output sits. ``G J`` is the slice ``G[:, offset:offset + n]`` (no arithmetic).

    >>> RowBlock(2, offset=1, total=4).dense()
    array([[0., 0.],
           [1., 0.],
           [0., 1.],
           [0., 0.]])
    """

    kind = "[0; I; 0]"

    def __init__(self, n: int, offset: int, total: int, batch: int | None = None):
        self.n, self.offset, self.shape, self.batch = n, offset, (total, n), batch

    def _fill(self, out: Array) -> None:
        out.fill(0.0)
        idx = np.arange(self.n)
        out[..., self.offset + idx, idx] = 1.0

    def batch_slice(self, start: int, stop: int) -> RowBlock:
        return RowBlock(self.n, self.offset, self.shape[0], len(range(start, stop)))

    def outline(self) -> list[Box]:
        """The identity block."""
        return [Box(self.offset, 0, self.n, self.n, "diagonal", f"I_{{{self.n}}}")]

    def vjp(self, G: Array) -> Array:
        return per_sample(G[..., self.offset : self.offset + self.n], self.batch)

    def jvp(self, H: Array) -> Array:
        out = np.zeros(H.shape[:-2] + (self.shape[0], H.shape[-1]))
        out[..., self.offset : self.offset + self.n, :] = H
        return per_sample(out, self.batch)

