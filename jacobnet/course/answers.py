"""An answer and its verdict: :class:`Feedback`, what every checker reads first, and the checkers of a shape and a number.

Every checker of the course returns a :class:`Feedback` — right, wrong (a hint at
the kind of mistake; the expected value only with ``reveal=True``) or not answered
yet (``answer = ...``, status ``"blank"``). This module holds what they share:
reading an answer as float64 numbers (:func:`read_answer`), the blank verdict
(:func:`not_answered`), the checks of their own arguments (:func:`flag`,
:func:`tolerance`, :func:`expected_number`), and the two checkers of a single
answer: :func:`check_shape` (a shape such as ``(2, 3)``) and :func:`check_number`
(a count, a loss, a derivative). :mod:`jacobnet.course.feedback` adds
:func:`~jacobnet.course.feedback.check_matrix` and is where lessons call all three from.

>>> print(check_number(25, 24, name="multiply-adds"))
✗ multiply-adds: not 25: off by one.
>>> print(check_shape(..., (2, 3)))
✗ shape: not answered yet: replace `...` with your answer, a tuple (rows, columns).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from jacobnet.check.entries import entry_tolerance, position
from jacobnet.core.cost import shorten
from jacobnet.core.validate import flag

Array = np.ndarray
RTOL, ATOL = 1e-6, 1e-12
ROUNDED = 1e-3
"""A wrong answer with every entry this close (relative) is taken for rounded decimals."""
FACTORS = (2.0, 3.0, 4.0, 0.5, 1 / 3, 0.25)
""":func:`check_number` calls an answer this many times the right one "off by a simple factor"."""
STATUSES = ("ok", "wrong", "blank")
"""What a :class:`Feedback` can say of an answer: right, wrong, or not answered yet (``...``)."""
COLUMNS = ("inputs", "parameters")
"""What a Jacobian's columns can be: the inputs (``J_x``) or the parameters (``J_θ``, a gradient ``dL/dθ``)."""


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


def is_blank(answer: object) -> bool:
    """An answer not given yet: ``...`` (what the student edition leaves) or ``None``."""
    return answer is Ellipsis or answer is None


def not_answered(name: str, example: str = "") -> Feedback:
    """The verdict on a blank answer (status ``"blank"``; a lesson's summary says "not answered yet").

    >>> not_answered("J_x", "a (2, 3) array").summary
    'not answered yet: replace `...` with your answer, a (2, 3) array.'
    """
    return Feedback(False, name, f"not answered yet: replace `...` with your answer{f', {example}' if example else ''}.", status="blank")


def tolerance(value: object, what: str) -> float:
    """A tolerance (``rtol``, ``atol``): a finite real number ≥ 0, else a ``TypeError``/``ValueError`` naming ``what``.

    >>> tolerance(0.05, "check_number: rtol")
    0.05
    >>> tolerance(-1, "check_number: rtol")
    Traceback (most recent call last):
    ...
    ValueError: check_number: rtol must be a finite number ≥ 0, got -1
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number ≥ 0 such as 1e-6, got {shorten(repr(value), 60)} ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:  # (an integer beyond float64)
        number = math.inf
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{what} must be a finite number ≥ 0, got {shorten(repr(value), 60)}")
    return number


def expected_number(value: object, who: str) -> float:
    """The right answer a checker was given for a single number: a finite real scalar, as a float — or a clear error.

    >>> expected_number(np.int64(88), "check_number")
    88.0
    >>> expected_number(10**400, "check_number")
    Traceback (most recent call last):
    ...
    ValueError: check_number: the expected value, an integer of 401 digits, is beyond float64
    """
    shape = "" if np.ndim(value) == 0 else f" (an array of shape {np.shape(value)})"
    if shape or isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{who}: the expected value must be a single real number, got {shorten(repr(value), 60)}{shape}")
    try:
        with np.errstate(over="ignore"):  # (a long double beyond float64 becomes inf: refused below)
            number = float(value) if isinstance(value, int) else float(np.asarray(value, dtype=np.float64))
    except OverflowError:  # (an int beyond float64)
        raise ValueError(f"{who}: the expected value, an integer of {len(str(abs(value)))} digits, is beyond float64") from None
    except (TypeError, ValueError):
        raise TypeError(f"{who}: the expected value must be a single real number, got {shorten(repr(value), 60)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{who}: the expected value is {number}, not a finite number — is the quantity defined here?")
    return number


def read_answer(answer: object, name: str) -> Array | Feedback:
    """The answer as a float64 array, or the :class:`Feedback` saying why it cannot be read (blank, not numbers, NaN/inf).

    >>> read_answer([[1, 2]], "J")
    array([[1., 2.]])
    >>> print(read_answer([1.0, np.inf], "J"))
    ✗ J: your answer has a non-finite value inf at entry 2.
    """
    if is_blank(answer):
        return not_answered(name)
    if isinstance(answer, (str, bytes)):  # (np.asarray("88", float) would read the text as a number)
        return Feedback(False, name, f"your answer is text ({shorten(repr(answer), 60)}); write numbers, not a string.",
                        reason="text, not numbers")
    try:
        arr = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # (OverflowError: an integer beyond float64)
        return Feedback(False, name, f"could not read your answer as an array of numbers ({shorten(str(exc), 120)}).",
                        reason="not readable as numbers")
    finite = np.isfinite(arr)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0]) if arr.ndim else ()
        at = f" at {position(where)}" if where else ""
        return Feedback(False, name, f"your answer has a non-finite value {arr[where]}{at}.", reason="a non-finite value")
    return arr


def count(n: int, word: str) -> str:
    """``count(1, "row")`` → ``"1 row"``, ``count(3, "row")`` → ``"3 rows"``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def singular(columns: str) -> str:
    """``"parameters"`` → ``"parameter"``: what one column (or one gradient entry) is; a ``ValueError`` for anything else."""
    if columns not in COLUMNS:
        raise ValueError(f"columns must be one of {', '.join(map(repr, COLUMNS))}, got {shorten(repr(columns), 60)}")
    return columns.removesuffix("s")


def shape_words(shape: tuple[int, ...], columns: str = "inputs") -> str:
    """``(2, 3)`` → ``"(2, 3) (rows = 2 outputs, columns = 3 inputs)"``; any other shape as itself."""
    if len(shape) == 2:
        return f"{shape} (rows = {count(shape[0], 'output')}, columns = {count(shape[1], singular(columns))})"
    return f"{shape}"


# --- a shape ----------------------------------------------------------------------------------------------
def _is_int(k: object) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _shape_of(value: object) -> tuple[int, ...] | None:
    """``value`` as a shape — a tuple, list or 1-D integer array of integers ≥ 0 — or ``None``."""
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.ndim == 1 and value.dtype.kind in "iu" else None
    if not isinstance(value, (tuple, list)) or not all(_is_int(k) and k >= 0 for k in value):
        return None
    return tuple(int(k) for k in value)


def check_shape(answer: object, expected: object, *, name: str = "shape", columns: str = "inputs", reveal: bool = False) -> Feedback:
    """Compare a shape such as ``(2, 3)`` with ``expected`` (a shape, or anything with ``.shape``).

    The answer must be a tuple (or list) of integers — ``int`` or NumPy integers, not
    ``True``/``False``, not ``2.0``, not text. A wrong shape gets a hint — transposed, the wrong
    number of dimensions, or which of the rows and the columns is off — never the right shape;
    ``reveal=True`` adds it. ``columns`` names what a Jacobian's columns are: ``"inputs"``
    (``J_x``) or ``"parameters"`` (``J_θ``).

    >>> print(check_shape((3, 2), np.zeros((2, 3)), name="J_x"))
    ✗ J_x: transposed: (3, 2) has the rows and the columns swapped — rows are the outputs, columns the inputs.
    >>> print(check_shape((2, 4), np.zeros((2, 3)), name="J_x", reveal=True))
    ✗ J_x: the number of rows is right, the number of columns is not: count the inputs again; expected (2, 3) (rows = 2 outputs, columns = 3 inputs), got (2, 4).
    >>> print(check_shape((2.0, 3.0), (2, 3)))
    ✗ shape: a shape is a tuple of integers, (rows, columns), got (2.0, 3.0).
    """
    want = _shape_of(getattr(expected, "shape", expected))
    if want is None:
        raise TypeError(f"check_shape: expected must be a shape (a tuple of integers ≥ 0) or an array, got {shorten(repr(expected), 60)}")
    singular(columns)
    reveal = flag(reveal, "check_shape: reveal")
    if is_blank(answer):
        return not_answered(name, "a tuple (rows, columns)")
    got = _shape_of(answer)
    if got is None:
        return Feedback(False, name, f"a shape is a tuple of integers, (rows, columns), got {shorten(repr(answer), 60)}.",
                        reason="not a tuple of integers")
    if got == want:
        return Feedback(True, name, f"correct — {shape_words(want, columns)}.")
    hint = _shape_hint(got, want, columns)
    tail = f"; expected {shape_words(want, columns)}, got {got}." if reveal else "."
    return Feedback(False, name, hint + tail, reason=hint.split(":")[0].split(" — ")[0])


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...], columns: str) -> str:
    """What is wrong with shape ``got``, without saying ``want``."""
    if len(want) == 2 and got == want[::-1]:
        return f"transposed: {got} has the rows and the columns swapped — rows are the outputs, columns the {columns}"
    if len(got) != len(want):
        return f"{got} has {count(len(got), 'dimension')}, the answer has {len(want)}"
    if len(want) != 2:
        return f"not {got}: count the entries again"
    if got[0] == want[0]:
        return f"the number of rows is right, the number of columns is not: count the {columns} again"
    if got[1] == want[1]:
        return "the number of columns is right, the number of rows is not: count the outputs again"
    return f"neither the rows nor the columns: rows count the outputs, columns the {columns}"


# --- a number ---------------------------------------------------------------------------------------------
def check_number(
    answer: object, expected: float, *, name: str = "your answer", rtol: float = RTOL, reveal: bool = False, hint: str = ""
) -> Feedback:
    """Compare a single number (a count, a loss, a derivative, a prediction) with ``expected``.

    Right when ``|answer − expected| ≤ rtol · |expected| + 1e-12``. A wrong number gets
    ``not <yours>``, the kind of mistake when it can tell (sign flipped, rounded, off by one,
    by a power of ten, by a simple factor) and the exercise's own ``hint``; ``reveal=True``
    says ``expected …, got …`` instead. ``expected`` must be a finite real scalar and ``rtol``
    a finite number ≥ 0 (a ``TypeError``/``ValueError`` naming ``check_number`` otherwise).

    >>> check_number(24, 24, name="multiply-adds").ok
    True
    >>> print(check_number(25, 24, name="multiply-adds", hint="count the rows and the columns again"))
    ✗ multiply-adds: not 25: off by one; count the rows and the columns again.
    >>> print(check_number(25, 24, name="multiply-adds", reveal=True))
    ✗ multiply-adds: expected 24, got 25 — off by one.
    """
    return compare_number(answer, expected, who="check_number", name=name, rtol=rtol, reveal=reveal, hint=hint)


def compare_number(
    answer: object, expected: object, *, who: str, name: str, rtol: float = RTOL, reveal: bool = False, hint: str = ""
) -> Feedback:
    """:func:`check_number` for a checker ``who`` (its errors name ``who``): the one comparison of every number checker.

    >>> compare_number(1.0, float("inf"), who="check_loss_value", name="the loss")
    Traceback (most recent call last):
    ...
    ValueError: check_loss_value: the expected value is inf, not a finite number — is the quantity defined here?
    """
    e = expected_number(expected, who)
    rtol = tolerance(rtol, f"{who}: rtol")
    reveal = flag(reveal, f"{who}: reveal")
    if not isinstance(name, str) or not isinstance(hint, str):
        raise TypeError(f"{who}: name and hint must be strings, got {shorten(repr(name), 40)} and {shorten(repr(hint), 40)}")
    got = read_answer(answer, name)
    if isinstance(got, Feedback):
        return got
    if got.size != 1:
        return Feedback(False, name, f"expected a single number, got an array of shape {got.shape}.", reason="not a single number")
    g = float(got.ravel()[0])
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
