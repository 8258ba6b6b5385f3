"""The wrong entries of a claimed Jacobian, gradient or vector: where, what they mean, expected vs got.

One rule, used by :func:`jacobnet.check.check_jacobian` and by the course's
answer checker (:mod:`jacobnet.course.feedback`): entry ``(i, j)`` is wrong when

    |claimed_ij − expected_ij| > rtol · max|expected| + atol

— norm-wise, like :func:`jacobnet.check.rel_error`, so entries that are zero
in the exact answer are judged on the matrix's scale — or when it is NaN.
A Jacobian's entry ``(i, j)`` is called ``∂a_{i+1}/∂x_{j+1}`` (or by the row and
column labels given); a vector's entry ``j`` by its column label (``x_{j+1}``).

>>> import numpy as np
>>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])                  # (2, 3)
>>> [str(w) for w in entry_errors(J * [[1, 1, 1], [1, -1, 2]], J, rtol=1e-6, atol=1e-12)]
['(1, 2) ∂a_2/∂x_3: expected 3, got 6', '(1, 1) ∂a_2/∂x_2: expected -1, got 1']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class WrongEntry:
    """One entry that disagrees: ``(row, col)`` (0-based; ``row`` is None in a vector), its name, the values."""

    row: int | None
    col: int
    name: str
    expected: float
    got: float

    @property
    def where(self) -> str:
        """The NumPy index as text: ``(i, j)``, or ``(j,)`` in a vector."""
        return f"({self.col},)" if self.row is None else f"({self.row}, {self.col})"

    def __str__(self) -> str:
        return f"{self.where} {self.name}: expected {self.expected:.6g}, got {self.got:.6g}"


def entry_tolerance(expected: Array, rtol: float, atol: float) -> float:
    """``rtol · max|expected| + atol``: how far any entry may be off (the one tolerance of :func:`entry_errors`).

    >>> entry_tolerance(np.array([[1.0, -4.0]]), rtol=0.5, atol=0.25)
    2.25
    """
    return rtol * float(np.max(np.abs(expected), initial=0.0)) + atol


def entry_errors(
    claimed: Array,
    expected: Array,
    rtol: float,
    atol: float,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    worst_first: bool = True,
) -> list[WrongEntry]:
    """Every entry of ``claimed`` off by more than :func:`entry_tolerance` (or NaN), as :class:`WrongEntry`.

    ``claimed`` and ``expected``: the same shape, ``(m, n)`` or ``(n,)``. Labels name
    the rows (outputs, default ``a_{i+1}``) and columns (inputs or parameters, default
    ``x_{j+1}``); only the wrong entries are named. Sorted worst first (NaN first),
    ties in row-major order; ``worst_first=False`` keeps row-major order.

    >>> g = np.array([0.5, -2.0, 0.0])                                     # a gradient (3,)
    >>> entry_errors(np.array([0.5, 2.0, 1e-3]), g, 1e-6, 1e-12, col_labels=["W_{1,1}", "W_{1,2}", "b_{1}"])
    [WrongEntry(row=None, col=1, name='W_{1,2}', expected=-2.0, got=2.0), WrongEntry(row=None, col=2, name='b_{1}', expected=0.0, got=0.001)]
    """
    claimed, expected = np.asarray(claimed, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if claimed.shape != expected.shape or expected.ndim not in (1, 2):
        raise ValueError(f"entry_errors: claimed {claimed.shape} and expected {expected.shape} must be one (m, n) or (n,) shape")
    vector = expected.ndim == 1
    E, G = np.atleast_2d(expected), np.atleast_2d(claimed)
    diff = np.abs(G - E)
    bad = np.argwhere(~(diff <= entry_tolerance(E, rtol, atol))).tolist()  # NaN counts as wrong
    if worst_first:
        bad.sort(key=lambda ij: -np.nan_to_num(diff[ij[0], ij[1]], nan=np.inf))
    rows = (lambda i: f"a_{i + 1}") if row_labels is None else row_labels.__getitem__
    cols = (lambda j: f"x_{j + 1}") if col_labels is None else col_labels.__getitem__
    return [
        WrongEntry(None if vector else i, j, cols(j) if vector else f"∂{rows(i)}/∂{cols(j)}", float(E[i, j]), float(G[i, j]))
        for i, j in bad
    ]
