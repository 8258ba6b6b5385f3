"""Feedback on a submitted answer: right, or what exactly is wrong with it.

:func:`check_matrix` compares an answer (a Jacobian, a row, a vector) with the
expected array and diagnoses, in this order:

* not answered yet (``answer = ...``) or not readable as numbers;
* a wrong shape — and whether it is the transpose (rows must be outputs,
  columns inputs — or parameters, for ``J_θ``: numerator layout), only the
  diagonal, or the right numbers in the wrong shape;
* a transposed square matrix, every sign flipped, rounded decimals (right
  to 0.1 %, not to ``rtol``), a constant factor off, or the right columns or
  rows in another order;
* otherwise the wrong entries, ``(i, j)`` with their meaning
  (``∂a_2/∂x_3``, ``W^(1)_2,3``), expected vs got, and why when it can tell
  (sign flipped, should be 0, entries swapped).

Entry ``(i, j)`` is wrong when ``|got − expected| > rtol · max|expected| + atol``
(norm-wise, like :func:`jacobnet.check.rel_error`; the wrong entries are found and
named by :func:`jacobnet.check.entry_errors`, as in :func:`jacobnet.check.check_jacobian`). :func:`check_shape` and
:func:`check_number` do the same for a shape and a single number. The
course's checkers for layers, losses and networks are in :mod:`jacobnet.course.exercises`.

>>> import numpy as np
>>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])          # (2, 3)
>>> check_matrix(J, J).ok
True
>>> print(check_matrix(J.T, J, name="J"))
✗ J: your answer is the transpose. Expected shape (2, 3) (rows = 2 outputs, columns = 3 inputs), got (3, 2); the numbers are right, so take .T — a Jacobian's row i is the gradient of output i.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from jacobnet.check.entries import entry_errors, entry_tolerance
from jacobnet.core.cost import check_cost, shorten
from jacobnet.core.finite import rel_error
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8

Array = np.ndarray
RTOL, ATOL = 1e-6, 1e-12
ROUNDED = 1e-3  # a wrong answer with every entry this close (relative) is taken for rounded decimals
MAX_SHOWN = 5
CHECK_OPS = 500
"""Operations per entry of checking an answer (comparisons, the patterns, the sorts of the order hint): measured
~60 for a right answer, ~480 for one with every entry wrong."""
WORK_COPIES = 4
"""Arrays of the expected answer's size a check holds at once, besides the answer and the expected value (measured)."""


def guard_check(name: str, shape: tuple[int, ...]) -> None:
    """Refuse at once a check of an answer of ``shape`` over the memory budget or the cost limit (before any work).

    >>> from jacobnet.core.memory import memory_budget
    >>> with memory_budget(2**20):
    ...     guard_check("dL/dθ", (25_005_000,))
    Traceback (most recent call last):
    ...
    jacobnet.core.memory.JacobianMemoryError: materialising the working copies of a check of dL/dθ of shape (25005000,) would take 763 MiB, over the memory budget of 1 MiB; check a smaller instance, or raise the budget with jacobnet.core.memory.set_budget(nbytes)
    """
    size = int(np.prod(shape, dtype=np.float64))
    check_budget(WORK_COPIES * F8 * size, f"the working copies of a check of {name} of shape {shape}", "check a smaller instance")
    check_cost(CHECK_OPS * size, f"checking {name} of shape {shape}", "check a smaller instance")


@dataclass
class Feedback:
    """The verdict on one answer: ``ok``, a one-line ``summary`` and, if wrong, ``details`` per entry."""

    ok: bool
    name: str
    summary: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        return "\n".join([f"{mark} {self.name}: {self.summary}", *(f"    {d}" for d in self.details)])

    __repr__ = __str__

    def __bool__(self) -> bool:
        return self.ok


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


COLUMNS = ("inputs", "parameters")
"""What a Jacobian's columns can be: the inputs (``J_x``) or the parameters (``J_θ``, a gradient ``dL/dθ``)."""


def _singular(columns: str) -> str:
    """``"parameters"`` → ``"parameter"``: what one column (or one gradient entry) is."""
    if columns not in COLUMNS:
        raise ValueError(f"columns must be one of {', '.join(map(repr, COLUMNS))}, got {columns!r}")
    return columns.removesuffix("s")


def _shape_words(shape: tuple[int, ...], columns: str = "inputs") -> str:
    if len(shape) == 2:
        return f"{shape} (rows = {_count(shape[0], 'output')}, columns = {_count(shape[1], _singular(columns))})"
    return f"{shape}"


def _read(answer: object, name: str) -> Array | Feedback:
    """The answer as a float64 array, or the Feedback saying why it cannot be read."""
    if answer is Ellipsis or answer is None:
        return Feedback(False, name, "not answered yet: replace `...` with your answer.")
    try:
        arr = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # (OverflowError: an integer beyond float64)
        return Feedback(False, name, f"could not read your answer as an array of numbers ({shorten(str(exc), 120)}).")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        return Feedback(False, name, f"your answer has a non-finite value {arr[where]} at index {where}.")
    return arr


def _close(a: Array, b: Array, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= entry_tolerance(b, rtol, atol)))


def _shape_feedback(got: Array, expected: Array, name: str, rtol: float, atol: float, columns: str) -> Feedback:
    """Diagnose an answer whose shape differs from the expected one."""
    want = _shape_words(expected.shape, columns)
    if expected.ndim == 2 and got.shape == expected.shape[::-1]:
        tail = (
            "the numbers are right, so take .T — a Jacobian's row i is the gradient of output i."
            if _close(got.T, expected, rtol, atol)
            else f"rows must be outputs and columns {columns} (numerator layout); the numbers are wrong too."
        )
        return Feedback(False, name, f"your answer is the transpose. Expected shape {want}, got {got.shape}; {tail}")
    square = expected.ndim == 2 and expected.shape[0] == expected.shape[1]
    if square and got.shape == expected.shape[:1] and _close(np.diag(got), expected, rtol, atol):
        return Feedback(
            False, name, f"the right diagonal, but a Jacobian is the whole matrix {want}: "
            "use np.diag(answer) — the zeros off the diagonal are part of it."
        )
    if got.size == expected.size and _close(got.reshape(expected.shape), expected, rtol, atol):
        return Feedback(
            False, name, f"the numbers are right but the shape is not: expected {want}, got {got.shape}; "
            f"reshape it (e.g. .reshape{expected.shape})."
        )
    return Feedback(False, name, f"wrong shape: expected {want}, got {got.shape}.")


def _entry_reason(got: float, want: float, swapped: float | None, rtol_abs: float, columns: str) -> str:
    if abs(got + want) <= rtol_abs and want != 0:
        return " — sign flipped"
    if want == 0:
        return f" — should be 0: this output does not depend on this {_singular(columns)}"
    if got == 0:
        return " — should be nonzero"
    if swapped is not None and abs(got - swapped) <= rtol_abs:
        return " — this is the value of the mirrored entry (j, i): indices swapped?"
    return ""


def check_matrix(
    answer: object,
    expected: Array,
    *,
    name: str = "your answer",
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    column_hint: str = "",
    columns: str = "inputs",
) -> Feedback:
    """Compare ``answer`` with ``expected`` (a Jacobian ``(m, n)``, a row ``(1, n)`` or a vector ``(n,)``).

    ``row_labels``/``col_labels`` name the outputs and inputs (defaults ``a_i``, ``x_j``); a wrong
    entry is reported as ``(i, j) ∂a_{i+1}/∂x_{j+1}: expected …, got …`` (0-based NumPy indices).
    ``column_hint`` is added when the answer holds the right columns in another order.
    ``columns`` says what the columns (of a vector: the entries) are differentiated by —
    ``"inputs"`` for ``J_x``, ``"parameters"`` for ``J_θ`` and a gradient ``dL/dθ``.

    >>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])          # (2, 3)
    >>> print(check_matrix(J * [[1, 1, 1], [1, -1, 1]], J, name="J"))
    ✗ J: 1 of 6 entries wrong (shape (2, 3) is right).
        (1, 1) ∂a_2/∂x_2: expected -1, got 1 — sign flipped
    """
    expected = np.asarray(expected, dtype=np.float64)
    _singular(columns)  # checked up front, not only when an answer is wrong
    guard_check(name, expected.shape)
    got = _read(answer, name)
    if isinstance(got, Feedback):
        return got
    with np.errstate(over="ignore", invalid="ignore"):  # (a difference that overflows is inf: wrong, as it should be)
        if got.shape != expected.shape:
            return _shape_feedback(got, expected, name, rtol, atol, columns)
        if _close(got, expected, rtol, atol):
            return Feedback(True, name, f"correct — shape {expected.shape}, all {expected.size} entries match.")
        return _diagnose(got, expected, name, row_labels, col_labels, rtol, atol, column_hint, columns)


def _diagnose(got, expected, name, row_labels, col_labels, rtol, atol, column_hint, columns) -> Feedback:  # noqa: ANN001
    """Same shape, wrong values: a global pattern if there is one, else the wrong entries."""
    pattern = _global_pattern(got, expected, rtol, atol, column_hint, columns)
    if pattern:
        return Feedback(False, name, pattern)
    return _wrong_entries(got, expected, name, row_labels, col_labels, rtol, atol, columns)


def _global_pattern(got: Array, expected: Array, rtol: float, atol: float, column_hint: str, columns: str) -> str:
    """A mistake that explains the whole answer (transpose, sign, rounding, factor, order), or ``""``."""
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and _close(got.T, expected, rtol, atol):
        return f"your answer is the transpose (rows must be outputs, columns {columns}): take .T."
    if _close(-got, expected, rtol, atol):
        return "every sign is flipped: check the sign of your derivative."
    if np.all(np.abs(got - expected) <= ROUNDED * np.abs(expected) + atol):
        return (
            f"almost: every entry is within {ROUNDED * 100:g} % (relative error {rel_error(got, expected):.1g}); "
            "write exact expressions such as np.cos(1.0) or 3 / 16 instead of rounded decimals."
        )
    scale = float(np.max(np.abs(expected), initial=0.0)) or 1.0  # (scaled: a gradient of 1e154 squares to inf)
    e2 = float(np.sum((expected / scale) ** 2))
    c = float(np.sum((got / scale) * (expected / scale))) / e2 if e2 else 0.0
    if expected.size > 1 and c not in (0.0, 1.0) and _close(got, c * expected, rtol, atol):
        return f"off by a constant factor: your answer is {c:.6g} × the right one."
    what = "entries" if expected.ndim == 1 else "columns"
    order = _permutation_hint(np.atleast_2d(got), np.atleast_2d(expected), rtol, atol, what, columns)
    if order:
        return order + (f" ({column_hint})" if column_hint and "rows" not in order else "") + "."
    return ""


def _wrong_entries(got, expected, name, row_labels, col_labels, rtol, atol, columns) -> Feedback:  # noqa: ANN001
    """List the wrong entries (:func:`~jacobnet.check.entry_errors`, in reading order), and why when it can tell."""
    wrong = entry_errors(got, expected, rtol, atol, row_labels, col_labels, worst_first=False)
    E, tol = np.atleast_2d(expected), entry_tolerance(expected, rtol, atol)
    lines = []
    for w in wrong[:MAX_SHOWN]:
        swapped = E[w.col, w.row or 0] if E.shape[0] == E.shape[1] else None
        lines.append(f"{w}{_entry_reason(w.got, w.expected, swapped, tol, columns)}")
    if len(wrong) > MAX_SHOWN:
        lines.append(f"… and {len(wrong) - MAX_SHOWN} more (relative error {rel_error(got, expected):.3g}).")
    return Feedback(False, name, f"{len(wrong)} of {expected.size} entries wrong (shape {expected.shape} is right).", lines)


def _sorted_lines(A: Array, axis: int, decimals: int) -> Array:
    """The rows (axis 0) or columns (axis 1) of ``A``, rounded and sorted lexicographically."""
    lines = np.round(A if axis == 0 else A.T, decimals)
    return lines[np.lexsort(lines.T[::-1])]


def _permutation_hint(G: Array, E: Array, rtol: float, atol: float, what: str, columns: str) -> str:
    """Say so when ``G`` holds the right columns (or rows) in another order."""
    scale = float(np.max(np.abs(E), initial=0.0)) or 1.0
    decimals = max(0, int(-np.log10(rtol * scale + atol)) - 1)
    if E.shape[1] > 1 and _close(_sorted_lines(G, 1, decimals), _sorted_lines(E, 1, decimals), rtol, atol):
        one = {"columns": "column", "entries": "entry"}[what]
        return f"the right {what} in the wrong order: {one} j must be the derivative with respect to {_singular(columns)} j"
    if E.shape[0] > 1 and _close(_sorted_lines(G, 0, decimals), _sorted_lines(E, 0, decimals), rtol, atol):
        return "the right rows in the wrong order: row i must be the derivative of output i"
    return ""


def check_shape(answer: object, expected: object, *, name: str = "shape", columns: str = "inputs") -> Feedback:
    """Compare a shape such as ``(2, 3)`` with ``expected`` (a tuple, or anything with ``.shape``).

    ``columns`` names what a Jacobian's columns are: ``"inputs"`` (``J_x``) or ``"parameters"`` (``J_θ``).

    >>> print(check_shape((3, 2), np.zeros((2, 3)), name="J_x"))
    ✗ J_x: transposed: expected (2, 3) (rows = 2 outputs, columns = 3 inputs), got (3, 2).
    """
    want = tuple(int(k) for k in getattr(expected, "shape", expected))
    _singular(columns)
    if answer is Ellipsis or answer is None:
        return Feedback(False, name, "not answered yet: replace `...` with a tuple such as (2, 3).")
    try:
        got = tuple(int(k) for k in answer)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return Feedback(False, name, f"a shape is a tuple of integers such as (2, 3), got {answer!r}.")
    if got == want:
        return Feedback(True, name, f"correct — {_shape_words(want, columns)}.")
    if len(want) == 2 and got == want[::-1]:
        return Feedback(False, name, f"transposed: expected {_shape_words(want, columns)}, got {got}.")
    return Feedback(False, name, f"expected {_shape_words(want, columns)}, got {got}.")


def check_number(answer: object, expected: float, *, name: str = "your answer", rtol: float = RTOL) -> Feedback:
    """Compare a single number (a count, a loss, a derivative) with ``expected``.

    >>> check_number(24, 24, name="multiply-adds").ok
    True
    """
    got = _read(answer, name)
    if isinstance(got, Feedback):
        return got
    if got.size != 1:
        return Feedback(False, name, f"expected a single number, got an array of shape {got.shape}.")
    g, e = float(got.ravel()[0]), float(expected)
    tol = entry_tolerance(np.float64(e), rtol, ATOL)
    if abs(g - e) <= tol:
        return Feedback(True, name, f"correct — {e:.6g}.")
    hint = " — sign flipped" if abs(g + e) <= tol else ""
    return Feedback(False, name, f"expected {e:.6g}, got {g:.6g}{hint}.")
