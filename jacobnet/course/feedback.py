"""Feedback on a submitted answer: right, or a hint at what is wrong — the expected value only when asked.

:func:`check_matrix` compares an answer (a Jacobian, a row, a vector) with the
expected array and diagnoses, in this order:

* not answered yet (``answer = ...``; status ``"blank"``) or not readable as numbers;
* a wrong shape — and whether it is the transpose (rows must be outputs,
  columns inputs — or parameters, for ``J_θ``: numerator layout), only the
  diagonal, or the right numbers in the wrong shape;
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
column 3 (``answer[1, 2]`` in NumPy).

Entry ``(i, j)`` is wrong when ``|got − expected| > rtol · max|expected| + atol``
(norm-wise, like :func:`jacobnet.check.rel_error`; the wrong entries are found and
named by :func:`jacobnet.check.entry_errors`, as in :func:`jacobnet.check.check_jacobian`). :func:`check_shape` and
:func:`check_number` do the same for a shape and a single number. The
course's checkers for layers, losses and networks are in :mod:`jacobnet.course.exercises`;
a lesson records their verdicts with :class:`jacobnet.course.lesson.Lesson`.

>>> import numpy as np
>>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])          # (2, 3)
>>> check_matrix(J, J).ok
True
>>> print(check_matrix(J.T, J, name="J"))
✗ J: your answer is the transpose. Expected shape (2, 3) (rows = 2 outputs, columns = 3 inputs), got (3, 2); the numbers are right, so take .T — a Jacobian's row i is the gradient of output i.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from jacobnet.check.entries import WrongEntry, entry_errors, entry_tolerance
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


STATUSES = ("ok", "wrong", "blank")
"""What a :class:`Feedback` can say of an answer: right, wrong, or not answered yet (``...``)."""


@dataclass
class Feedback:
    """The verdict on one answer: ``ok``, a one-line ``summary`` and, if wrong, ``details`` per entry.

    ``status`` is ``"ok"``, ``"wrong"`` or ``"blank"`` (not answered yet; default: ``"ok"`` if ``ok``
    else ``"wrong"``); ``reason`` is the mistake in a few words, for a lesson's summary
    (default: ``summary`` up to its first ``:``, ``;`` or ``.``).

    >>> fb = Feedback(False, "J", "your answer is the transpose: take .T.")
    >>> fb.status, fb.reason, bool(fb)
    ('wrong', 'your answer is the transpose', False)
    """

    ok: bool
    name: str
    summary: str
    details: list[str] = field(default_factory=list)
    status: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        self.ok = bool(self.ok)
        if not self.status:
            self.status = "ok" if self.ok else "wrong"
        if self.status not in STATUSES or (self.status == "ok") != self.ok:
            raise ValueError(f"Feedback: status must be one of {', '.join(map(repr, STATUSES))} and 'ok' exactly when ok, "
                             f"got status {self.status!r} with ok={self.ok}")
        if not self.reason and not self.ok:
            self.reason = re.split(r"[:;]|\.(?:\s|$)", self.summary, maxsplit=1)[0].strip()

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
FACTORS = (2.0, 3.0, 4.0, 0.5, 1 / 3, 0.25)
""":func:`check_number` calls an answer this many times the right one "off by a simple factor"."""


def _singular(columns: str) -> str:
    """``"parameters"`` → ``"parameter"``: what one column (or one gradient entry) is."""
    if columns not in COLUMNS:
        raise ValueError(f"columns must be one of {', '.join(map(repr, COLUMNS))}, got {columns!r}")
    return columns.removesuffix("s")


def _flag(reveal: object) -> bool:
    """``reveal`` as a bool, or a ``TypeError`` (a string such as ``"no"`` would be true)."""
    if not isinstance(reveal, (bool, np.bool_)):
        raise TypeError(f"reveal must be True or False, got {shorten(repr(reveal), 60)}")
    return bool(reveal)


def _shape_words(shape: tuple[int, ...], columns: str = "inputs") -> str:
    if len(shape) == 2:
        return f"{shape} (rows = {_count(shape[0], 'output')}, columns = {_count(shape[1], _singular(columns))})"
    return f"{shape}"


def _position(where: tuple[int, ...]) -> str:
    """A NumPy index in words, counting from 1: ``(0, 2)`` → ``"in row 1, column 3"``."""
    if len(where) == 1:
        return f" at entry {where[0] + 1}"
    if len(where) == 2:
        return f" in row {where[0] + 1}, column {where[1] + 1}"
    return f" at index {tuple(i + 1 for i in where)} (counting from 1)" if where else ""


def _one_line(a: Array) -> str:
    text = np.array2string(np.asarray(a), precision=6, threshold=24, edgeitems=2, max_line_width=10**6)
    return shorten(" ".join(text.split()), 240)


def _revealed(got: Array, expected: Array) -> list[str]:
    """The ``reveal=True`` lines of a mistake of the whole answer: expected vs got."""
    return [f"expected {_one_line(expected)}", f"got      {_one_line(got)}"]


def _read(answer: object, name: str) -> Array | Feedback:
    """The answer as a float64 array, or the Feedback saying why it cannot be read."""
    if answer is Ellipsis or answer is None:
        return Feedback(False, name, "not answered yet: replace `...` with your answer.", status="blank")
    try:
        arr = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # (OverflowError: an integer beyond float64)
        return Feedback(False, name, f"could not read your answer as an array of numbers ({shorten(str(exc), 120)}).",
                        reason="not readable as numbers")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        return Feedback(False, name, f"your answer has a non-finite value {arr[where]}{_position(where)}.", reason="a non-finite value")
    return arr


def _close(a: Array, b: Array, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= entry_tolerance(b, rtol, atol)))


def _shape_feedback(got: Array, expected: Array, name: str, rtol: float, atol: float, columns: str) -> Feedback:
    """Diagnose an answer whose shape differs from the expected one (the shape is a hint, not the answer's values)."""
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
            "use np.diag(answer) — the zeros off the diagonal are part of it.", reason="only the diagonal"
        )
    if got.size == expected.size and _close(got.reshape(expected.shape), expected, rtol, atol):
        return Feedback(
            False, name, f"the numbers are right but the shape is not: expected {want}, got {got.shape}; "
            f"reshape it (e.g. .reshape{expected.shape}).", reason="the right numbers in the wrong shape"
        )
    return Feedback(False, name, f"wrong shape: expected {want}, got {got.shape}.")


def _entry_reason(got: float, want: float, mirrored: tuple[float, str] | None, tol: float, columns: str) -> str:
    if abs(got + want) <= tol and want != 0:
        return " — sign flipped"
    if want == 0:
        return f" — should be 0: this output does not depend on this {_singular(columns)}"
    if got == 0:
        return " — should be nonzero"
    if mirrored is not None and abs(got - mirrored[0]) <= tol:
        return f" — this is the value of the mirrored entry {mirrored[1]}: indices swapped?"
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
    reveal: bool = False,
) -> Feedback:
    """Compare ``answer`` with ``expected`` (a Jacobian ``(m, n)``, a row ``(1, n)`` or a vector ``(n,)``).

    ``row_labels``/``col_labels`` name the outputs and inputs (defaults ``a_i``, ``x_j``); a wrong
    entry is reported as ``(i, j) ∂a_i/∂x_j`` with ``i, j`` counted from 1 (a vector's as ``entry j``),
    the student's value and the kind of mistake; ``reveal=True`` adds ``expected …, got …``.
    ``column_hint`` is added when the answer holds the right columns in another order.
    ``columns`` says what the columns (of a vector: the entries) are differentiated by —
    ``"inputs"`` for ``J_x``, ``"parameters"`` for ``J_θ`` and a gradient ``dL/dθ``.

    >>> J = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])          # (2, 3)
    >>> print(check_matrix(J * [[1, 1, 1], [1, -1, 1]], J, name="J"))
    ✗ J: 1 of 6 entries wrong (shape (2, 3) is right).
        (2, 2) ∂a_2/∂x_2: not 1 — sign flipped
    >>> print(check_matrix(J * [[1, 1, 1], [1, -1, 1]], J, name="J", reveal=True))
    ✗ J: 1 of 6 entries wrong (shape (2, 3) is right).
        (2, 2) ∂a_2/∂x_2: expected -1, got 1 — sign flipped
    """
    expected = np.asarray(expected, dtype=np.float64)
    _singular(columns)  # checked up front, not only when an answer is wrong
    reveal = _flag(reveal)
    guard_check(name, expected.shape)
    got = _read(answer, name)
    if isinstance(got, Feedback):
        return got
    with np.errstate(over="ignore", invalid="ignore"):  # (a difference that overflows is inf: wrong, as it should be)
        if got.shape != expected.shape:
            fb = _shape_feedback(got, expected, name, rtol, atol, columns)
            return _with_reveal(fb, got, expected, reveal)
        if _close(got, expected, rtol, atol):
            return Feedback(True, name, f"correct — shape {expected.shape}, all {expected.size} entries match.")
        pattern = _global_pattern(got, expected, rtol, atol, column_hint, columns, reveal)
        if pattern:
            return _with_reveal(Feedback(False, name, pattern[0], reason=pattern[1]), got, expected, reveal)
        return _wrong_entries(got, expected, name, (row_labels, col_labels), rtol, atol, columns, reveal)


def _with_reveal(fb: Feedback, got: Array, expected: Array, reveal: bool) -> Feedback:
    if reveal:
        fb.details.extend(_revealed(got, expected))
    return fb


def _global_pattern(
    got: Array, expected: Array, rtol: float, atol: float, column_hint: str, columns: str, reveal: bool
) -> tuple[str, str] | None:
    """A mistake that explains the whole answer (transpose, sign, rounding, factor, order): its message and its name."""
    if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and _close(got.T, expected, rtol, atol):
        return f"your answer is the transpose (rows must be outputs, columns {columns}): take .T.", "your answer is the transpose"
    if _close(-got, expected, rtol, atol):
        return "every sign is flipped: check the sign of your derivative.", "every sign is flipped"
    if np.all(np.abs(got - expected) <= ROUNDED * np.abs(expected) + atol):
        return (
            f"almost: every entry is within {ROUNDED * 100:g} % (relative error {rel_error(got, expected):.1g}); "
            "write exact expressions such as np.cos(1.0) or 3 / 16 instead of rounded decimals."
        ), "almost: rounded decimals"
    scale = float(np.max(np.abs(expected), initial=0.0)) or 1.0  # (scaled: a gradient of 1e154 squares to inf)
    e2 = float(np.sum((expected / scale) ** 2))
    c = float(np.sum((got / scale) * (expected / scale))) / e2 if e2 else 0.0
    if expected.size > 1 and c not in (0.0, 1.0) and _close(got, c * expected, rtol, atol):
        if reveal:
            return f"off by a constant factor: your answer is {c:.6g} × the right one.", "off by a constant factor"
        return "off by a constant factor: every entry is the same multiple of the right one; look for a factor missing or extra.", \
            "off by a constant factor"
    what = "entries" if expected.ndim == 1 else "columns"
    order = _permutation_hint(np.atleast_2d(got), np.atleast_2d(expected), rtol, atol, what, columns)
    if order:
        return order + (f" ({column_hint})" if column_hint and "rows" not in order else "") + ".", order.split(":")[0]
    return None


def _entry_line(w: WrongEntry, reason: str, reveal: bool) -> str:
    """``(2, 3) ∂a_2/∂x_3: not 1 — sign flipped`` (1-based); with ``reveal``, ``expected -1, got 1``."""
    where = f"entry {w.col + 1}" if w.row is None else f"({w.row + 1}, {w.col + 1})"
    value = f"expected {w.expected:.6g}, got {w.got:.6g}" if reveal else f"not {w.got:.6g}"
    return f"{where} {w.name}: {value}{reason}"


def _wrong_entries(got, expected, name, labels, rtol, atol, columns, reveal) -> Feedback:  # noqa: ANN001
    """List the wrong entries (:func:`~jacobnet.check.entry_errors`, in reading order), and why when it can tell."""
    wrong = entry_errors(got, expected, rtol, atol, *labels, worst_first=False)
    E, tol = np.atleast_2d(expected), entry_tolerance(expected, rtol, atol)
    square = expected.ndim == 2 and E.shape[0] == E.shape[1]
    lines = []
    for w in wrong[:MAX_SHOWN]:
        mirrored = (float(E[w.col, w.row]), f"({w.col + 1}, {w.row + 1})") if square else None
        lines.append(_entry_line(w, _entry_reason(w.got, w.expected, mirrored, tol, columns), reveal))
    if len(wrong) > MAX_SHOWN:
        lines.append(f"… and {len(wrong) - MAX_SHOWN} more (relative error {rel_error(got, expected):.3g}).")
        if reveal:
            lines.extend(_revealed(got, expected))
    if expected.ndim == 2 and len(wrong) > 1:
        lines.extend(_shared_line(~(np.abs(got - expected) <= tol), labels, columns))
    return Feedback(False, name, f"{len(wrong)} of {expected.size} entries wrong (shape {expected.shape} is right).", lines,
                    reason=f"{len(wrong)} of {expected.size} entries wrong")


def _shared_line(wrong: Array, labels: tuple, columns: str) -> list[str]:
    """``["all in row 2 (a_2): …"]`` when every wrong entry sits in one row or one column of a matrix (1-based)."""
    rows, cols = np.flatnonzero(wrong.any(axis=1)), np.flatnonzero(wrong.any(axis=0))
    row_labels, col_labels = labels
    if rows.size == 1 and wrong.shape[0] > 1:
        i = int(rows[0])
        label = row_labels[i] if row_labels is not None else f"a_{i + 1}"
        return [f"all in row {i + 1} ({label}): recheck the derivatives of that output."]
    if cols.size == 1 and wrong.shape[1] > 1:
        j = int(cols[0])
        label = col_labels[j] if col_labels is not None else f"x_{j + 1}"
        return [f"all in column {j + 1} ({label}): recheck the derivatives with respect to that {_singular(columns)}."]
    return []


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


def check_shape(answer: object, expected: object, *, name: str = "shape", columns: str = "inputs", reveal: bool = False) -> Feedback:
    """Compare a shape such as ``(2, 3)`` with ``expected`` (a tuple, or anything with ``.shape``).

    A wrong shape gets a hint — transposed, the wrong number of dimensions, or which of the rows and
    the columns is off; ``reveal=True`` adds the expected shape. ``columns`` names what a Jacobian's
    columns are: ``"inputs"`` (``J_x``) or ``"parameters"`` (``J_θ``).

    >>> print(check_shape((3, 2), np.zeros((2, 3)), name="J_x"))
    ✗ J_x: transposed: (3, 2) has the rows and the columns swapped — rows are the outputs, columns the inputs.
    >>> print(check_shape((2, 4), np.zeros((2, 3)), name="J_x", reveal=True))
    ✗ J_x: the number of rows is right, the number of columns is not: count the inputs again; expected (2, 3) (rows = 2 outputs, columns = 3 inputs), got (2, 4).
    """
    want = tuple(int(k) for k in getattr(expected, "shape", expected))
    _singular(columns)
    reveal = _flag(reveal)
    if answer is Ellipsis or answer is None:
        return Feedback(False, name, "not answered yet: replace `...` with a tuple such as (2, 3).", status="blank")
    try:
        got = tuple(int(k) for k in answer)  # type: ignore[union-attr]
    except (TypeError, ValueError, OverflowError):
        return Feedback(False, name, f"a shape is a tuple of integers such as (2, 3), got {shorten(repr(answer), 60)}.",
                        reason="not a tuple of integers")
    if got == want:
        return Feedback(True, name, f"correct — {_shape_words(want, columns)}.")
    hint = _shape_hint(got, want, columns)
    tail = f"; expected {_shape_words(want, columns)}, got {got}." if reveal else "."
    return Feedback(False, name, hint + tail, reason=hint.split(":")[0].split(" — ")[0])


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...], columns: str) -> str:
    """What is wrong with shape ``got``, without saying ``want``."""
    if len(want) == 2 and got == want[::-1]:
        return f"transposed: {got} has the rows and the columns swapped — rows are the outputs, columns the {columns}"
    if len(got) != len(want):
        return f"{got} has {_count(len(got), 'dimension')}, the answer has {len(want)}"
    if len(want) != 2:
        return f"not {got}: count the entries again"
    if got[0] == want[0]:
        return f"the number of rows is right, the number of columns is not: count the {columns} again"
    if got[1] == want[1]:
        return "the number of columns is right, the number of rows is not: count the outputs again"
    return f"neither the rows nor the columns: rows count the outputs, columns the {columns}"


def check_number(
    answer: object, expected: float, *, name: str = "your answer", rtol: float = RTOL, reveal: bool = False, hint: str = ""
) -> Feedback:
    """Compare a single number (a count, a loss, a derivative, a prediction) with ``expected``.

    A wrong number gets ``not <yours>``, the kind of mistake when it can tell (sign flipped,
    rounded, off by one, by a power of ten, by a simple factor) and the exercise's own ``hint``;
    ``reveal=True`` says ``expected …, got …`` instead.

    >>> check_number(24, 24, name="multiply-adds").ok
    True
    >>> print(check_number(25, 24, name="multiply-adds", hint="count the rows and the columns again"))
    ✗ multiply-adds: not 25: off by one; count the rows and the columns again.
    >>> print(check_number(25, 24, name="multiply-adds", reveal=True))
    ✗ multiply-adds: expected 24, got 25 — off by one.
    """
    reveal = _flag(reveal)
    got = _read(answer, name)
    if isinstance(got, Feedback):
        return got
    if got.size != 1:
        return Feedback(False, name, f"expected a single number, got an array of shape {got.shape}.", reason="not a single number")
    g, e = float(got.ravel()[0]), float(expected)
    tol = entry_tolerance(np.float64(e), rtol, ATOL)
    if abs(g - e) <= tol:
        return Feedback(True, name, f"correct — {e:.6g}.")
    kind = _number_kind(g, e, tol, reveal)
    head = f"expected {e:.6g}, got {g:.6g}" + (f" — {kind}" if kind else "") if reveal else f"not {g:.6g}" + (f": {kind}" if kind else "")
    tail = (f"; {hint}" if kind or reveal else f": {hint}") if hint else ""
    return Feedback(False, name, f"{head}{tail}.", reason=kind or f"not {g:.6g}")


def _number_kind(g: float, e: float, tol: float, reveal: bool) -> str:
    """The kind of mistake a wrong number ``g`` makes against ``e``, or ``""`` — never ``e`` itself."""
    if e != 0 and abs(g + e) <= tol:
        return "sign flipped"
    if abs(g - e) <= ROUNDED * abs(e):
        return "almost — rounded decimals? write an exact expression such as 3 / 16 or np.cos(1.0)"
    if g.is_integer() and e.is_integer() and abs(g - e) == 1:
        return "off by one"
    if e == 0 or g == 0:
        return ""
    with np.errstate(all="ignore"):
        ratio = float(np.float64(g) / np.float64(e))
    power = np.log10(abs(ratio)) if np.isfinite(ratio) else 0.0
    if ratio > 0 and round(power) != 0 and abs(power - round(power)) < 1e-9:
        return f"off by a factor of {ratio:.6g}" if reveal else "off by a power of ten"
    if any(abs(ratio - f) <= RTOL * f for f in FACTORS):
        return f"off by a factor of {ratio:.6g}" if reveal else "off by a simple factor (2, 3 or 4, or one over it)"
    return ""
