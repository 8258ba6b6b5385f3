"""The wrong entries of a claimed Jacobian, gradient or vector: where, what they mean, expected vs got.

One rule, used by :func:`jacobnet.check.check_jacobian` and by the course's
answer checker (:mod:`jacobnet.course.feedback`): entry ``(i, j)`` is wrong when

    |claimed_ij − expected_ij| > rtol · max|expected| + atol

— norm-wise, like :func:`jacobnet.check.rel_error`, so entries that are zero
in the exact answer are judged on the matrix's scale — or when it is NaN.
Where an entry is, in text, counts from 1 like its name (:func:`position`): the
entry ``J[1, 2]`` is ``(2, 3) ∂a_2/∂x_3`` — row 2, column 3 — unless row and column
labels are given; a vector's ``g[4]`` is ``entry 5``, named by its column label (``x_5``).
The indices a :class:`WrongEntry` holds (``row``, ``col``) are NumPy's, from 0.

>>> import numpy as np
>>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])                  # (2, 3)
>>> [str(w) for w in entry_errors(J * [[1, 1, 1], [1, -1, 2]], J, rtol=1e-6, atol=1e-12)]
['(2, 3) ∂a_2/∂x_3: expected 3, got 6', '(2, 2) ∂a_2/∂x_2: expected -1, got 1']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np

Array = np.ndarray


def position(index: tuple[int, ...]) -> str:
    """A NumPy index (from 0) as the text feedback shows, counting from 1: ``(i+1, j+1)``, or ``entry j+1`` in a vector.

    The one way an entry's place is written, by :class:`WrongEntry` (so by
    :func:`jacobnet.check.check_jacobian`) and by the course's feedback.

    >>> position((0, 2)), position((4,)), position((0, 1, 2))
    ('(1, 3)', 'entry 5', '(1, 2, 3)')
    """
    if len(index) == 1:
        return f"entry {index[0] + 1}"
    return f"({', '.join(str(i + 1) for i in index)})"


@dataclass(frozen=True)
class WrongEntry:
    """One entry that disagrees: its NumPy index ``(row, col)`` (from 0; ``row`` is None in a vector), its name, the values.

    >>> w = WrongEntry(0, 2, "∂a_1/∂x_3", 3.0, 1.0)
    >>> w.where, str(w)
    ('(1, 3)', '(1, 3) ∂a_1/∂x_3: expected 3, got 1')
    """

    row: int | None
    col: int
    name: str
    expected: float
    got: float

    @property
    def where(self) -> str:
        """Where the entry is, counting from 1 like its name (:func:`position`): ``(i+1, j+1)``, or ``entry j+1`` in a vector."""
        return position((self.col,) if self.row is None else (self.row, self.col))

    def __str__(self) -> str:
        return f"{self.where} {self.name}: expected {self.expected:.6g}, got {self.got:.6g}"


def entry_tolerance(expected: Array, rtol: float, atol: float) -> float:
    """``rtol · max|expected| + atol``: how far any entry may be off (the one tolerance of :func:`entry_errors`).

    >>> entry_tolerance(np.array([[1.0, -4.0]]), rtol=0.5, atol=0.25)
    2.25
    """
    return rtol * float(np.max(np.abs(expected), initial=0.0)) + atol


class WrongEntries(Sequence[WrongEntry]):
    """The wrong entries of :func:`entry_errors`: a sequence that makes each :class:`WrongEntry` when it is read.

    A Jacobian with a million wrong entries is a million indices here, not a million
    objects (and labels) built before anyone looks; ``len``, indexing, slicing, iteration
    and ``==`` against a list work as for a list, and the repr shows the first few.
    """

    SHOWN = 6

    def __init__(self, flat: Array, expected: Array, claimed: Array, vector: bool,
                 rows: Callable[[int], str], cols: Callable[[int], str]):
        self._flat, self._E, self._G, self._vector, self._rows, self._cols = flat, expected, claimed, vector, rows, cols

    def __len__(self) -> int:
        return int(self._flat.size)

    def _make(self, k: int) -> WrongEntry:
        i, j = divmod(int(self._flat[k]), self._E.shape[1])
        name = self._cols(j) if self._vector else f"∂{self._rows(i)}/∂{self._cols(j)}"
        return WrongEntry(None if self._vector else i, j, name, float(self._E[i, j]), float(self._G[i, j]))

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self._make(i) for i in range(*k.indices(len(self)))]
        if not -len(self) <= k < len(self):
            raise IndexError(f"wrong-entry index {k} out of range for {len(self)} wrong entries")
        return self._make(k % len(self))

    def __iter__(self) -> Iterator[WrongEntry]:
        return (self._make(k) for k in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != len(self):
            return False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # (a list-like value)

    def __repr__(self) -> str:
        if len(self) <= self.SHOWN:
            return repr(list(self))
        return f"[{', '.join(map(repr, self[:3]))}, …] ({len(self)} wrong entries)"


def entry_errors(
    claimed: Array,
    expected: Array,
    rtol: float,
    atol: float,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    worst_first: bool = True,
) -> WrongEntries:
    """Every entry of ``claimed`` off by more than :func:`entry_tolerance` (or NaN), as :class:`WrongEntry`.

    ``claimed`` and ``expected``: the same shape, ``(m, n)`` or ``(n,)``. Labels name
    the rows (outputs, default ``a_{i+1}``) and columns (inputs or parameters, default
    ``x_{j+1}``); only the wrong entries are named. Sorted worst first (NaN first),
    ties in row-major order; ``worst_first=False`` keeps row-major order. A
    :class:`WrongEntries` sequence: found by NumPy, each entry made when it is read.

    >>> g = np.array([0.5, -2.0, 0.0])                                     # a gradient (3,)
    >>> entry_errors(np.array([0.5, 2.0, 1e-3]), g, 1e-6, 1e-12, col_labels=["W_{1,1}", "W_{1,2}", "b_{1}"])
    [WrongEntry(row=None, col=1, name='W_{1,2}', expected=-2.0, got=2.0), WrongEntry(row=None, col=2, name='b_{1}', expected=0.0, got=0.001)]
    """
    claimed, expected = np.asarray(claimed, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if claimed.shape != expected.shape or expected.ndim not in (1, 2):
        raise ValueError(f"entry_errors: claimed {claimed.shape} and expected {expected.shape} must be one (m, n) or (n,) shape")
    vector = expected.ndim == 1
    E, G = np.atleast_2d(expected), np.atleast_2d(claimed)
    with np.errstate(over="ignore", invalid="ignore"):  # (an overflowing difference is inf, inf − inf NaN: both wrong)
        diff = np.abs(G - E).ravel()
    flat = np.flatnonzero(~(diff <= entry_tolerance(E, rtol, atol)))  # NaN counts as wrong
    if worst_first:
        flat = flat[np.argsort(-np.nan_to_num(diff[flat], nan=np.inf), kind="stable")]
    rows = (lambda i: f"a_{i + 1}") if row_labels is None else row_labels.__getitem__
    cols = (lambda j: f"x_{j + 1}") if col_labels is None else col_labels.__getitem__
    return WrongEntries(flat, E, G, vector, rows, cols)
