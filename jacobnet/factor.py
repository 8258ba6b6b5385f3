"""A named Jacobian in a product: :class:`Factor`, and one multiplication by it.

A factor is a structured operator (:mod:`jacobnet.structure`) with a name,
e.g. ``J_x(Dense 2)``, and the two variables it links: ``out`` (its rows)
and ``wrt`` (its columns), so that a partial product of factors ``i … j`` is
named ``∂out_i/∂wrt_j`` (e.g. ``∂a2/∂θ(Dense 1)``).

>>> import numpy as np
>>> from jacobnet.structure import KronRows
>>> f = Factor("J_θ(Dense 1)", KronRows(np.array([1.0, 2.0, 3.0]), m=2), out="a1", wrt="θ(Dense 1)")
>>> f.shape, f.kind, f.nbytes_dense, f.nbytes
((2, 8), '[I ⊗ xᵀ | I]', 128, 24)
>>> multiply(np.array([[1.0, -1.0]]), f, "structured")
array([[ 1.,  2.,  3., -1., -2., -3.,  1., -1.]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .memory import check_budget
from .structure import Operator

Array = np.ndarray
MODES = ("materialised", "structured")


@dataclass
class Factor:
    """One Jacobian in a chain: its name, e.g. ``J_x(Dense 2)``, and its structured operator.

    Attributes:
        name: the display name, ``J_loss``, ``J_x(Tanh 1)``, ``J_θ(Dense 1)``.
        op: the operator that holds the Jacobian (see :mod:`jacobnet.structure`).
        out: the variable of its rows, e.g. ``a2`` (``L`` for the loss).
        wrt: the variable of its columns, e.g. ``a1`` or ``θ(Dense 1)``.
    """

    name: str
    op: Operator
    out: str = ""
    wrt: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        """The per-sample shape ``(rows, cols)`` = ``(outputs, inputs)``."""
        return self.op.shape

    @property
    def kind(self) -> str:
        """The structure label: ``dense``, ``diagonal``, ``diag − rank-1``, ``[I ⊗ xᵀ | I]``, …"""
        return self.op.kind

    @property
    def batch(self) -> int | None:
        """The batch size ``B``, or ``None`` for a single sample."""
        return self.op.batch

    @property
    def nbytes_dense(self) -> int:
        """Bytes of the materialised matrix: ``B · rows · cols · 8``."""
        return self.op.nbytes_dense

    @property
    def nbytes(self) -> int:
        """Bytes the structured form stores (a diagonal: ``n · 8``; ``[I ⊗ xᵀ | I]``: ``x``)."""
        return self.op.nbytes

    def dense(self) -> Array:
        """The materialised matrix: ``shape``, or ``(B, *shape)`` for a batch.

        Raises:
            JacobianMemoryError: it would take more than the memory budget (nothing is allocated).
        """
        lead = () if self.batch is None else (self.batch,)
        instead = "use the structured mode" + ("" if self.batch is None else " or a smaller batch")
        check_budget(self.nbytes_dense, f"{self.name} of shape {lead + self.shape}", instead)
        return self.op.dense()

    def __repr__(self) -> str:
        return f"Factor({self.name!r}, shape={self.shape}, kind={self.kind!r})"


def check_mode(mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is ``"materialised"`` or ``"structured"``."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def multiply(G: Array, factor: Factor, mode: str) -> Array:
    """``G · J``: one reverse step, for a row block ``G`` of shape ``(k, m)`` or ``(B, k, m)``.

    ``"materialised"`` builds ``J``'s dense matrix and calls ``@``; ``"structured"``
    multiplies through its structure (``Operator.vjp``). Result ``(k, n)`` or ``(B, k, n)``.
    """
    check_mode(mode)
    return G @ factor.dense() if mode == "materialised" else factor.op.vjp(G)
