"""What a figure draws of a Jacobian: one matrix, with its name, structure and labels — :class:`Panel`.

A chain factor holds a structured operator, possibly for a whole batch
``(B, m, n)``; a figure draws one matrix ``(m, n)``. :meth:`Panel.of` picks it:
one sample of a batch, sliced before anything is materialised
(:func:`one_sample`: ``op.batch_slice(s, s + 1)``), or the block-diagonal batch
Jacobian; the factor's own ``row_labels``/``col_labels`` become mathtext
(:func:`jacobnet.viz.figstyle.tex_labels`). A bare array has no labels: figures
number its rows and columns.

>>> from jacobnet.core.operators import Diagonal
>>> p = Panel.of(Factor("J_x(Tanh 1)", Diagonal(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))), sample=2)
>>> p.name, p.kind, p.matrix.tolist()
('J_x(Tanh 1)', 'diagonal', [[5.0, 0.0], [0.0, 6.0]])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from jacobnet.chain.batch import batch_operator
from jacobnet.chain.factor import Factor
from jacobnet.core.operator import Box, Operator
from jacobnet.core.operators import Matrix
from jacobnet.viz.figstyle import tex_labels

Array = np.ndarray


def sample_index(sample: object, batch: int) -> int:
    """``sample`` as an index ``0 … B−1`` into a batch of ``B`` (negative counts from the end).

    >>> sample_index(-1, 4)
    3
    """
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not -batch <= sample < batch:
        raise ValueError(f"sample must be an index into the batch of {batch} (or, for a heatmap, 'block'), got {sample!r}")
    return int(sample) % batch


def one_sample(factor: Factor, sample: int) -> Factor:
    """The factor of one sample of a batch: ``op.batch_slice(s, s + 1)`` (views), labels kept.

    Drawing one sample never materialises the others: ``one_sample(f, s).dense()`` is
    ``(1, m, n)``, checked against the memory budget as that, not as ``(B, m, n)``.
    An unbatched factor is returned as it is.

    >>> from jacobnet.core.operators import KronRows
    >>> f = one_sample(Factor("J_θ(Dense 1)", KronRows(np.arange(6.0).reshape(2, 3), m=2)), -1)  # x of 2 samples
    >>> f.dense().shape, f.dense()[0, 0, :3].tolist()
    ((1, 2, 8), [3.0, 4.0, 5.0])
    """
    if factor.batch is None:
        return factor
    s = sample_index(sample, factor.batch)
    return replace(factor, op=factor.op.batch_slice(s, s + 1))


@dataclass
class Panel:
    """One matrix to draw: its values ``(m, n)``, name, structure label and axis labels.

    ``rows``/``cols`` are mathtext labels (without ``$``); empty means 1-based indices.
    ``boxes`` is the structure to outline (:meth:`Operator.outline <jacobnet.core.operator.Operator.outline>`,
    or a batch Jacobian's per-sample blocks); ``note`` a line under the title.
    """

    matrix: Array
    name: str = "J"
    kind: str | None = None
    rows: Sequence[str] = ()
    cols: Sequence[str] = ()
    boxes: Sequence[Box] = ()
    note: str = ""

    @classmethod
    def of(cls, J: object, sample: int | str = 0) -> Panel:
        """The panel of a chain factor, a structured operator or an array ``(m, n)`` / ``(B, m, n)``.

        A batch is drawn as one ``sample`` (a factor is sliced first, :func:`one_sample`: the
        other samples are never materialised), or with ``sample="block"`` as the batch
        Jacobian: block-diagonal ``(B·m, B·n)`` by the inputs, stacked ``(B·m, n)`` for a
        factor by the parameters (every sample shares them; pass the factor, not its operator). A factor's labels are its
        ``row_labels``/``col_labels``; an array gets none (indices).

        >>> p = Panel.of(np.ones((2, 1, 3)), sample="block")
        >>> p.matrix.shape, [(b.row, b.col) for b in p.boxes], p.note
        ((2, 6), [(0, 0), (1, 3)], 'block-diagonal over a batch of 2')
        """
        if isinstance(J, Operator):
            J = Factor("J", J)
        if isinstance(J, Factor):
            name, kind = J.name, J.kind
            if sample == "block" and J.batch is not None:  # built (and memory-guarded) by jacobnet.chain.batch
                return cls.of_batch(J)
            one = one_sample(J, sample if J.batch is not None else 0)
            A = _real(one.dense()[0] if J.batch is not None else one.dense(), name)
            rows, cols = tex_labels(getattr(J, "row_labels", None)), tex_labels(getattr(J, "col_labels", None))
            return cls(A, name, kind, rows, cols, boxes=one.op.outline())  # (the drawn sample's structure)
        A = _real(np.asarray(J), None)
        if A.ndim == 2:
            return cls(A)
        if sample == "block":
            return cls.of_batch(Factor("J", Matrix(A)))
        return cls(A[sample_index(sample, A.shape[0])])

    @classmethod
    def of_batch(cls, J: Factor) -> Panel:
        """The batch Jacobian of a batched factor, its samples' blocks outlined (see :meth:`of`).

        A factor by the parameters (``wrt_params``) is stacked; any other factor, and
        an operator or array given directly, is block-diagonal.
        """
        op = batch_operator(J)
        A = _real(op.dense(what=f"the {op.label} batch Jacobian of {J.name}"), J.name)
        note = f"{op.label} over a batch of {op.B}" + (": θ is shared" if J.wrt_params else "")
        return cls(A, J.name, J.kind, boxes=op.outline(), note=note)


def _real(A: Array, name: str | None) -> Array:
    """``A`` as float64, refusing non-real dtypes, empty matrices and shapes other than 2-D / 3-D."""
    if A.dtype.kind not in "biuf":
        raise TypeError(f"heatmap: expected a real matrix, got dtype {A.dtype}")
    A = A.astype(np.float64, copy=False)
    if A.size == 0:
        raise ValueError(f"heatmap: {name or 'the matrix'} has no entries (shape {A.shape}): nothing to draw")
    if A.ndim not in (2, 3):
        raise ValueError(f"heatmap: expected a matrix (m, n) or a batch (B, m, n), got shape {A.shape}")
    return A
