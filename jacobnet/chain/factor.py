"""A named Jacobian in a product: :class:`Factor`, and one multiplication by it.

A factor is a structured operator (:mod:`jacobnet.core.operators`) with a name,
e.g. ``J_x(Dense 2)``, and the two variables it links: ``out`` (its rows)
and ``wrt`` (its columns), so that a partial product of factors ``i … j`` is
named ``∂out_i/∂wrt_j`` (e.g. ``∂a2/∂θ(Dense 1)``). Factors built from a
network also name every row and column (``row_labels``, ``col_labels``, in the
notation of :mod:`jacobnet.core.labels`: ``a^{(1)}_{2}``, ``x_{3}``, ``W^{(1)}_{2,3}``).

>>> import numpy as np
>>> from jacobnet.core.operators import KronRows
>>> f = Factor("J_θ(Dense 1)", KronRows(np.array([1.0, 2.0, 3.0]), m=2), out="a1", wrt="θ(Dense 1)")
>>> f.shape, f.kind, f.nbytes_dense, f.nbytes
((2, 8), '[I ⊗ xᵀ | I]', 128, 24)
>>> f.row_labels is None    # (a network's factors carry them: see Network.trace)
True
>>> multiply(np.array([[1.0, -1.0]]), f, "structured")
array([[ 1.,  2.,  3., -1., -2., -3.,  1., -1.]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Operator
from jacobnet.core.validate import check_mode

Array = np.ndarray
CHUNK_BYTES = 64 * 2**20  # a batch is materialised this many bytes at a time (at least one sample)


@dataclass
class Factor:
    """One Jacobian in a chain: its name, e.g. ``J_x(Dense 2)``, and its structured operator.

    Attributes:
        name: the display name, ``J_loss``, ``J_x(Tanh 1)``, ``J_θ(Dense 1)``.
        op: the operator that holds the Jacobian (see :mod:`jacobnet.core.operators`).
        out: the variable of its rows, e.g. ``a2`` (``L`` for the loss).
        wrt: the variable of its columns, e.g. ``a1`` or ``θ(Dense 1)``.
        row_labels: one name per row, e.g. ``["a^{(2)}_{1}", …]`` (``["L"]`` for
            ``J_loss``), or ``None`` when unknown (1-based, :mod:`jacobnet.core.labels`;
            a network's factors hold a :class:`~jacobnet.core.labels.Labels` sequence,
            made on demand, that compares equal to the list).
        col_labels: one name per column: the input's entries (``x_{j}``,
            ``a^{(1)}_{j}``, ``ŷ_{j}``, ``z_{j}``) or, for ``J_θ``, exactly that
            layer's slice of ``net.param_labels()``; or ``None``.
        layer: the 1-based position in ``net.layers`` of the layer it belongs
            to (``None`` for ``J_loss`` and factors not built from a network).
        wrt_params: ``True`` for a ``J_θ``: its columns are parameters.
    """

    name: str
    op: Operator
    out: str = ""
    wrt: str = ""
    row_labels: Sequence[str] | None = None
    col_labels: Sequence[str] | None = None
    layer: int | None = None
    wrt_params: bool = False

    def __post_init__(self) -> None:
        for what, labels, size in (("row", self.row_labels, self.shape[0]), ("col", self.col_labels, self.shape[1])):
            if labels is not None and len(labels) != size:
                raise ValueError(f"factor {self.name}: {len(labels)} {what} labels for shape {self.shape}")

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
        return self.op.dense(what=self.name)

    def __array__(self, dtype: object = None, copy: object = None) -> Array:
        """``np.asarray(factor)``: its materialised matrix (:meth:`dense`, memory-guarded)."""
        return self.dense() if dtype is None else self.dense().astype(dtype)

    def __repr__(self) -> str:
        return f"Factor({self.name!r}, shape={self.shape}, kind={self.kind!r})"


def find_factor(factors: list[Factor], name: str, where: str) -> Factor:
    """The factor called ``name``; ``KeyError`` listing the known names if there is none.

    >>> from jacobnet.core.operators import Diagonal
    >>> fs = [Factor("J_x(Tanh 1)", Diagonal(np.ones(2)))]
    >>> find_factor(fs, "J_x(Tanh 1)", "this chain").shape
    (2, 2)
    >>> find_factor(fs, "J_x(Tanh 2)", "this chain")
    Traceback (most recent call last):
    ...
    KeyError: "no factor named 'J_x(Tanh 2)' in this chain; the factors are: J_x(Tanh 1)"
    """
    for f in factors:
        if f.name == name:
            return f
    raise KeyError(f"no factor named {name!r} in {where}; the factors are: {', '.join(f.name for f in factors)}")


def multiply(G: Array, factor: Factor, mode: str) -> Array:
    """``G · J``: one reverse step, for a row block ``G`` of shape ``(k, m)`` or ``(B, k, m)``.

    ``"structured"`` multiplies through ``J``'s structure (``Operator.vjp``).
    ``"materialised"`` builds ``J``'s dense matrix and calls ``@``; a batch is
    materialised a chunk of samples at a time into one reused buffer of at most
    ``CHUNK_BYTES`` (or one sample), so every per-sample dense Jacobian is
    built, yet memory holds one chunk, not the whole ``(B, m, n)`` stack (a
    mostly-zero structure zeroes the buffer once and then rewrites only its entries).
    Result ``(k, n)`` or ``(B, k, n)``.

    Raises:
        JacobianMemoryError: one chunk would exceed the memory budget (checked before allocating).
    """
    check_mode(mode)
    if mode == "structured":
        return factor.op.vjp(G)
    B, (m, n) = factor.batch, factor.shape
    per_sample = m * n * F8
    chunk = 1 if B is None else max(1, min(B, CHUNK_BYTES // max(per_sample, 1)))
    if B is None or chunk == B:
        return G @ factor.dense()
    what = f"{factor.name}, {chunk} sample(s) of shape {factor.shape}"
    check_budget(chunk * per_sample, what, "use the structured mode")
    G = np.broadcast_to(G, (B, *G.shape[-2:]))
    out, buffer = np.empty((B, G.shape[1], n)), np.empty((chunk, m, n))
    for start in range(0, B, chunk):
        stop = min(B, start + chunk)
        # after the first chunk the buffer holds this structure's zeros: only its entries are rewritten
        J = factor.op.batch_slice(start, stop).dense(out=buffer[: stop - start], refill=start > 0)
        np.matmul(G[start:stop], J, out=out[start:stop])
    return out
