"""Feedback on a submitted answer: right, or a hint at what is wrong — the expected value only when asked.

The three checkers a lesson calls as ``feedback.check_…``: :func:`check_matrix`
(here), :func:`~jacobnet.course.answers.check_shape` and
:func:`~jacobnet.course.answers.check_number` (with :class:`~jacobnet.course.answers.Feedback`,
in :mod:`jacobnet.course.answers`). :func:`check_matrix` compares an answer (a
Jacobian, a row, a vector) with the expected array and diagnoses, in this order:

* not answered yet (``answer = ...``; status ``"blank"``) or not readable as numbers;
* a wrong shape — and whether it is the transpose (rows must be outputs,
  columns inputs — or parameters, for ``J_θ``: numerator layout), only the
  diagonal, or the right numbers in the wrong shape. The message names the
  expected shape: in a matrix exercise the shape is the frame of the answer,
  not the answer (an exercise whose answer *is* a shape uses ``check_shape``,
  which hides it);
* a transposed square matrix, every sign flipped, rounded decimals (right
  to 0.1 %, not to ``rtol``), a constant factor off, or the right columns or
  rows in another order;
* otherwise the wrong entries, ``(i, j)`` with their meaning
  (``∂a_2/∂x_3``, ``W^(1)_2,3``), and why when it can tell (sign flipped,
  should be 0, the value of the mirrored entry), and whether they share a row or a column.

A hint names where the answer is wrong and what kind of mistake it looks like,
never the expected values; ``reveal=True`` adds them (``expected -1, got 1``, or
the whole expected array for a mistake of the whole answer). Every index in
feedback counts from 1, like the names: entry ``(2, 3)`` is ``∂a_2/∂x_3``, row 2,
column 3 (``answer[1, 2]`` in NumPy; :func:`jacobnet.check.entries.position`).

Entry ``(i, j)`` is wrong when ``|got − expected| > rtol · max|expected| + atol``
(norm-wise, like :func:`jacobnet.check.rel_error`; the wrong entries are found and
named by :func:`jacobnet.check.entry_errors`, as in :func:`jacobnet.check.check_jacobian`).
The course's checkers for layers, losses and networks are in :mod:`jacobnet.course.exercises`;
a lesson records their verdicts with :class:`jacobnet.course.lesson.Lesson`.

>>> import numpy as np
>>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])          # (2, 3)
>>> check_matrix(J, J).ok
True
>>> print(check_matrix(J.T, J, name="J"))
✗ J: your answer is the transpose. Expected shape (2, 3) (rows = 2 outputs, columns = 3 inputs), got (3, 2); the numbers are right, so take .T — a Jacobian's row i is the gradient of output i.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jacobnet.check.entries import WrongEntry, entry_errors, entry_tolerance, position
from jacobnet.core.cost import check_cost, shorten
from jacobnet.core.finite import rel_error
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.validate import flag
from jacobnet.course.answers import (
    ATOL,
    ROUNDED,
    RTOL,
    Feedback,
    check_number,
    check_shape,
    read_answer,
    shape_words,
    singular,
    tolerance,
)

__all__ = ["check_matrix", "check_shape", "check_number", "Feedback", "compare", "guard_check", "RTOL", "ATOL", "CHECK_OPS"]

Array = np.ndarray
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


@dataclass(frozen=True)
class _Rules:
    """How one check judges and words an answer: the tolerances, what the columns are, the labels, ``reveal``."""

    rtol: float
    atol: float
    columns: str
    reveal: bool
    row_labels: Sequence[str] | None
    col_labels: Sequence[str] | None
    column_hint: str

    def close(self, a: Array, b: Array) -> bool:
        return a.shape == b.shape and bool(np.all(np.abs(a - b) <= entry_tolerance(b, self.rtol, self.atol)))


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
    reveal: bool = False,
) -> Feedback:
    """Compare ``answer`` with ``expected`` (a Jacobian ``(m, n)``, a row ``(1, n)`` or a vector ``(n,)``).

    ``row_labels``/``col_labels`` name the outputs and inputs (defaults ``a_i``, ``x_j``), one per
    row and column; a wrong entry is reported as ``(i, j) ∂a_i/∂x_j`` with ``i, j`` counted from 1
    (a vector's as ``entry j``), the student's value and the kind of mistake; ``reveal=True`` adds
    ``expected …, got …``. ``column_hint`` is added when the answer holds the right columns in
    another order. ``columns`` says what the columns (of a vector: the entries) are differentiated
    by — ``"inputs"`` for ``J_x``, ``"parameters"`` for ``J_θ`` and a gradient ``dL/dθ``.

    Raises ``TypeError``/``ValueError`` naming ``check_matrix`` for a bad ``expected`` (not
    finite, empty, not 1-D or 2-D), labels that do not fit its rows or columns, or a tolerance
    that is not a finite number ≥ 0 — never for a bad answer, which gets its feedback.

    >>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])          # (2, 3)
    >>> print(check_matrix(J * [[1, 1, 1], [1, -1, 1]], J, name="J"))
    ✗ J: 1 of 6 entries wrong (shape (2, 3) is right).
        (2, 2) ∂a_2/∂x_2: not 1 — sign flipped
    >>> print(check_matrix(J * [[1, 1, 1], [1, -1, 1]], J, name="J", reveal=True))
    ✗ J: 1 of 6 entries wrong (shape (2, 3) is right).
        (2, 2) ∂a_2/∂x_2: expected -1, got 1 — sign flipped
    """
    return compare(answer, expected, who="check_matrix", name=name, row_labels=row_labels, col_labels=col_labels, rtol=rtol,
                   atol=atol, column_hint=column_hint, columns=columns, reveal=reveal)


def compare(answer: object, expected: Array, *, who: str, name: str, row_labels: Sequence[str] | None = None,
            col_labels: Sequence[str] | None = None, rtol: float = RTOL, atol: float = ATOL, column_hint: str = "",
            columns: str = "inputs", reveal: bool = False) -> Feedback:
    """:func:`check_matrix` for a checker ``who`` (its errors name ``who``): the one comparison of every matrix checker.

    >>> compare([1.0], [np.nan], who="check_function_jacobian", name="J_f")
    Traceback (most recent call last):
    ...
    ValueError: check_function_jacobian: the expected value has a non-finite entry nan at entry 1
    """
    expected = _expected_array(expected, who, name)
    rules = _rules(expected, who, rtol, atol, columns, reveal, row_labels, col_labels, column_hint)
    got = read_answer(answer, name)
    if isinstance(got, Feedback):
        return got
    with np.errstate(over="ignore", invalid="ignore"):  # (a difference that overflows is inf: wrong, as it should be)
        if got.shape != expected.shape:
            return _with_reveal(_shape_feedback(got, expected, name, rules), got, expected, rules.reveal)
        if rules.close(got, expected):
            return Feedback(True, name, f"correct — shape {expected.shape}, all {expected.size} entries match.")
        pattern = _global_pattern(got, expected, rules)
        if pattern:
            return _with_reveal(Feedback(False, name, pattern[0], reason=pattern[1]), got, expected, rules.reveal)
        return _wrong_entries(got, expected, name, rules)


def _expected_array(expected: object, who: str, name: object) -> Array:
    """``expected`` as a finite, non-empty float64 matrix or vector (guarded by the budget), or an error naming ``who``."""
    if not isinstance(name, str):
        raise TypeError(f"{who}: name must be a string (what the answer is, e.g. 'J_x'), got {shorten(repr(name), 60)}")
    try:
        arr = np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{who}: the expected value must be an array of real numbers ({shorten(str(exc), 80)})") from None
    if arr.ndim not in (1, 2):
        raise ValueError(f"{who}: the expected value must be a matrix (m, n) or a vector (n,), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{who}: the expected value has no entries (shape {arr.shape}): there is nothing to check")
    guard_check(name, arr.shape)
    finite = np.isfinite(arr)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{who}: the expected value has a non-finite entry {arr[where]} at {position(where)}")
    return arr


def _rules(expected: Array, who: str, rtol: float, atol: float, columns: str, reveal: bool,
           row_labels: Sequence[str] | None, col_labels: Sequence[str] | None, column_hint: str) -> _Rules:
    """The options of a check, each checked (an error naming ``who``)."""
    singular(columns)  # (checked up front, not only when an answer is wrong)
    rows = expected.shape[0] if expected.ndim == 2 else 1
    for labels, what, n in ((row_labels, "row", rows), (col_labels, "column", expected.shape[-1])):
        if labels is None:
            continue
        sequence = hasattr(labels, "__getitem__") and hasattr(labels, "__len__") and not isinstance(labels, (str, bytes))
        if not sequence or len(labels) != n:
            got = f"{len(labels)} labels" if sequence else shorten(repr(labels), 40)
            raise ValueError(f"{who}: {what[:3]}_labels must be a sequence of {n} strings, one per {what} of the expected value "
                             f"{expected.shape}; got {got}")
    if not isinstance(column_hint, str):
        raise TypeError(f"{who}: column_hint must be a string, got {shorten(repr(column_hint), 60)}")
    return _Rules(tolerance(rtol, f"{who}: rtol"), tolerance(atol, f"{who}: atol"), columns, flag(reveal, f"{who}: reveal"),
                  row_labels, col_labels, column_hint)


def _one_line(a: Array) -> str:
    text = np.array2string(np.asarray(a), precision=6, threshold=24, edgeitems=2, max_line_width=10**6)
    return shorten(" ".join(text.split()), 240)


def _revealed(got: Array, expected: Array) -> list[str]:
    """The ``reveal=True`` lines of a mistake of the whole answer: expected vs got."""
    return [f"expected {_one_line(expected)}", f"got      {_one_line(got)}"]


def _with_reveal(fb: Feedback, got: Array, expected: Array, reveal: bool) -> Feedback:
    if reveal:
        fb.details.extend(_revealed(got, expected))
    return fb


def _shape_feedback(got: Array, expected: Array, name: str, rules: _Rules) -> Feedback:
    """Diagnose an answer whose shape differs from the expected one (the shape is a hint, not the answer's values)."""
    want = shape_words(expected.shape, rules.columns)
    if expected.ndim == 2 and got.shape == expected.shape[::-1]:
        tail = (
            "the numbers are right, so take .T — a Jacobian's row i is the gradient of output i."
            if rules.close(got.T, expected)
            else f"rows must be outputs and columns {rules.columns} (numerator layout); the numbers are wrong too."
        )
        return Feedback(False, name, f"your answer is the transpose. Expected shape {want}, got {got.shape}; {tail}")
    square = expected.ndim == 2 and expected.shape[0] == expected.shape[1]
    if square and got.shape == expected.shape[:1] and rules.close(np.diag(got), expected):
        return Feedback(
            False, name, f"the right diagonal, but a Jacobian is the whole matrix {want}: "
            "use np.diag(answer) — the zeros off the diagonal are part of it.", reason="only the diagonal"
        )
    if got.size == expected.size and rules.close(got.reshape(expected.shape), expected):
        return Feedback(
            False, name, f"the numbers are right but the shape is not: expected {want}, got {got.shape}; "
            f"reshape it (e.g. .reshape{expected.shape}).", reason="the right numbers in the wrong shape"
        )
    return Feedback(False, name, f"wrong shape: expected {want}, got {got.shape}.")


def _global_pattern(got: Array, expected: Array, rules: _Rules) -> tuple[str, str] | None:
    """A mistake that explains the whole answer (transpose, sign, rounding, factor, order): its message and its name."""
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and rules.close(got.T, expected):
        return f"your answer is the transpose (rows must be outputs, columns {rules.columns}): take .T.", "your answer is the transpose"
    if rules.close(-got, expected):
        return "every sign is flipped: check the sign of your derivative.", "every sign is flipped"
    if np.all(np.abs(got - expected) <= ROUNDED * np.abs(expected) + rules.atol):
        return (
            f"almost: every entry is within {ROUNDED * 100:g} % (relative error {rel_error(got, expected):.1g}); "
            "write exact expressions such as np.cos(1.0) or 3 / 16 instead of rounded decimals."
        ), "almost: rounded decimals"
    scale = float(np.max(np.abs(expected), initial=0.0)) or 1.0  # (scaled: a gradient of 1e154 squares to inf)
    e2 = float(np.sum((expected / scale) ** 2))
    c = float(np.sum((got / scale) * (expected / scale))) / e2 if e2 else 0.0
    if expected.size > 1 and c not in (0.0, 1.0) and rules.close(got, c * expected):
        if rules.reveal:
            return f"off by a constant factor: your answer is {c:.6g} × the right one.", "off by a constant factor"
        return "off by a constant factor: every entry is the same multiple of the right one; look for a factor missing or extra.", \
            "off by a constant factor"
    what = "entries" if expected.ndim == 1 else "columns"
    order = _permutation_hint(np.atleast_2d(got), np.atleast_2d(expected), rules, what)
    if order:
        return order + (f" ({rules.column_hint})" if rules.column_hint and "rows" not in order else "") + ".", order.split(":")[0]
    return None


def _entry_line(w: WrongEntry, reason: str, reveal: bool) -> str:
    """``(2, 3) ∂a_2/∂x_3: not 1 — sign flipped`` (where: 1-based, :attr:`WrongEntry.where`); with ``reveal``, ``expected -1, got 1``."""
    value = f"expected {w.expected:.6g}, got {w.got:.6g}" if reveal else f"not {w.got:.6g}"
    return f"{w.where} {w.name}: {value}{reason}"


def _entry_reason(got: float, want: float, mirrored: tuple[float, str] | None, tol: float, columns: str) -> str:
    if abs(got + want) <= tol and want != 0:
        return " — sign flipped"
    if want == 0:
        return f" — should be 0: this output does not depend on this {singular(columns)}"
    if got == 0:
        return " — should be nonzero"
    if mirrored is not None and abs(got - mirrored[0]) <= tol:
        return f" — this is the value of the mirrored entry {mirrored[1]}: indices swapped?"
    return ""


def _wrong_entries(got: Array, expected: Array, name: str, rules: _Rules) -> Feedback:
    """List the wrong entries (:func:`~jacobnet.check.entry_errors`, in reading order), and why when it can tell."""
    wrong = entry_errors(got, expected, rules.rtol, rules.atol, rules.row_labels, rules.col_labels, worst_first=False)
    E, tol = np.atleast_2d(expected), entry_tolerance(expected, rules.rtol, rules.atol)
    square = expected.ndim == 2 and E.shape[0] == E.shape[1]
    lines = []
    G = np.atleast_2d(got)
    for w in wrong[:MAX_SHOWN]:
        mirrored = None
        if square and min(abs(G[w.col, w.row] - E[w.col, w.row]), abs(G[w.col, w.row] - w.expected)) <= tol:
            # (only when the answer's own mirrored entry is right, or holds this one's value: the hint then tells nothing new)
            mirrored = (float(E[w.col, w.row]), position((w.col, w.row)))
        lines.append(_entry_line(w, _entry_reason(w.got, w.expected, mirrored, tol, rules.columns), rules.reveal))
    if len(wrong) > MAX_SHOWN:
        lines.append(f"… and {len(wrong) - MAX_SHOWN} more (relative error {rel_error(got, expected):.3g}).")
        if rules.reveal:
            lines.extend(_revealed(got, expected))
    if expected.ndim == 2 and len(wrong) > 1:
        lines.extend(_shared_line(~(np.abs(got - expected) <= tol), rules))
    return Feedback(False, name, f"{len(wrong)} of {expected.size} entries wrong (shape {expected.shape} is right).", lines,
                    reason=f"{len(wrong)} of {expected.size} entries wrong")


def _shared_line(wrong: Array, rules: _Rules) -> list[str]:
    """``["all in row 2 (a_2): …"]`` when every wrong entry sits in one row or one column of a matrix (1-based)."""
    rows, cols = np.flatnonzero(wrong.any(axis=1)), np.flatnonzero(wrong.any(axis=0))
    if rows.size == 1 and wrong.shape[0] > 1:
        i = int(rows[0])
        label = rules.row_labels[i] if rules.row_labels is not None else f"a_{i + 1}"
        return [f"all in row {i + 1} ({label}): recheck the derivatives of that output."]
    if cols.size == 1 and wrong.shape[1] > 1:
        j = int(cols[0])
        label = rules.col_labels[j] if rules.col_labels is not None else f"x_{j + 1}"
        return [f"all in column {j + 1} ({label}): recheck the derivatives with respect to that {singular(rules.columns)}."]
    return []


def _sorted_lines(A: Array, axis: int, decimals: int) -> Array:
    """The rows (axis 0) or columns (axis 1) of ``A``, rounded and sorted lexicographically."""
    lines = np.round(A if axis == 0 else A.T, decimals)
    return lines[np.lexsort(lines.T[::-1])]


def _permutation_hint(G: Array, E: Array, rules: _Rules, what: str) -> str:
    """Say so when ``G`` holds the right columns (or rows) in another order."""
    tol = rules.rtol * (float(np.max(np.abs(E), initial=0.0)) or 1.0) + rules.atol
    decimals = 15 if tol <= 0 else max(0, min(15, int(-np.log10(tol)) - 1))  # (rtol = atol = 0: compare to the last digit)
    if E.shape[1] > 1 and rules.close(_sorted_lines(G, 1, decimals), _sorted_lines(E, 1, decimals)):
        one = {"columns": "column", "entries": "entry"}[what]
        return f"the right {what} in the wrong order: {one} j must be the derivative with respect to {singular(rules.columns)} j"
    if E.shape[0] > 1 and rules.close(_sorted_lines(G, 0, decimals), _sorted_lines(E, 0, decimals)):
        return "the right rows in the wrong order: row i must be the derivative of output i"
    return ""
