"""A lesson's exercises, checked one by one, and the summary that ends the lesson.

A course notebook declares its exercises once, records each checker's verdict
under the exercise's number (1-based), and ends with the summary:

.. code-block:: python

    lesson = Lesson("4 · Build backpropagation yourself", exercises=3)
    answer = ...                                          # the answer cell, tagged "answer"
    lesson.check(1, exercises.check_layer_jacobian(answer, layer, x))
    lesson.summary()   # Lesson 4: 0 of 3 exercises done; exercise 1: not answered yet; …

>>> from jacobnet.course.feedback import check_matrix, check_number
>>> lesson = Lesson("4 · Build backpropagation yourself", exercises=3)
>>> _ = lesson.check(1, check_number(88, 88))
>>> _ = lesson.check(3, check_matrix([[1.0, 3.0], [2.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]))
>>> lesson.summary()
Lesson 4: 1 of 3 exercises done; exercise 2: not checked — run its cell; exercise 3: not right yet (your answer is the transpose)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from jacobnet.core.cost import shorten
from jacobnet.core.validate import positive_int
from jacobnet.course.answers import Feedback

NUMBERED = re.compile(r"^\s*(\d+)\s*·")
"""A title such as ``"4 · Build backpropagation yourself"`` names lesson 4."""


@dataclass(frozen=True)
class LessonSummary:
    """Where a lesson stands: ``done`` of ``total`` exercises right, and a line for each one that is not.

    ``open`` holds ``(number, what)`` for every exercise not done, in order, e.g.
    ``(2, "not answered yet")``; printing the summary writes it as one line.

    >>> LessonSummary("Lesson 4", 2, 3, ((2, "not answered yet"),))
    Lesson 4: 2 of 3 exercises done; exercise 2: not answered yet
    >>> LessonSummary("Lesson 4", 3, 3).complete
    True
    """

    lesson: str
    done: int
    total: int
    open: tuple[tuple[int, str], ...] = ()

    @property
    def complete(self) -> bool:
        """Every exercise done."""
        return self.done == self.total

    def __str__(self) -> str:
        if self.complete:
            return f"{self.lesson}: all {self.total} exercise{'' if self.total == 1 else 's'} done ✓"
        head = f"{self.lesson}: {self.done} of {self.total} exercise{'' if self.total == 1 else 's'} done"
        return "; ".join([head, *(f"exercise {k}: {what}" for k, what in self.open)])

    __repr__ = __str__


class Lesson:
    """The exercises of one lesson: ``Lesson(title, exercises=N)`` numbers them ``1 … N``.

    :meth:`check` records exercise ``k``'s :class:`~jacobnet.course.answers.Feedback`
    (a later check of the same ``k`` replaces it); :meth:`summary` says how many are
    done and what is missing. A title starting ``"N · "`` is called "Lesson N" in the summary.

    >>> Lesson("2 · The dense layer", exercises=2).summary()
    Lesson 2: 0 of 2 exercises done; exercise 1: not checked — run its cell; exercise 2: not checked — run its cell
    >>> Lesson("2 · The dense layer", exercises=2).check(3, None)
    Traceback (most recent call last):
    ...
    ValueError: Lesson 2 has exercises 1 to 2; got exercise 3
    """

    def __init__(self, title: str, exercises: int):
        if not isinstance(title, str) or not title.strip():
            raise TypeError(f"Lesson: title must be a non-empty string such as '4 · Build backpropagation yourself', got {shorten(repr(title), 80)}")
        what = f"Lesson {shorten(repr(title), 80)}: exercises (how many the lesson has)"
        self.title, self.exercises = title, positive_int(_integer(exercises, what), what)
        numbered = NUMBERED.match(title)
        self.name = f"Lesson {int(numbered.group(1))}" if numbered else title.strip()
        self._records: dict[int, Feedback] = {}

    def __repr__(self) -> str:
        return f"Lesson({self.title!r}, exercises={self.exercises})"

    def check(self, number: int, feedback: Feedback) -> Feedback:
        """Record ``feedback`` as exercise ``number``'s (1-based) and return it, so that the cell shows it.

        Raises ``TypeError`` for a number that is not an integer (``int`` or NumPy's) or a
        ``feedback`` that is not a :class:`~jacobnet.course.answers.Feedback` (what the checkers
        return), ``ValueError`` for a number outside ``1 … exercises``.
        """
        if not 1 <= _integer(number, f"{self.name}: the exercise number") <= self.exercises:
            raise ValueError(f"{self.name} has exercises 1 to {self.exercises}; got exercise {shorten(repr(number), 40)}")
        if not isinstance(feedback, Feedback):
            raise TypeError(f"{self.name}, exercise {number}: check() takes the Feedback a checker returns "
                            f"(jacobnet.course.exercises / feedback), got {type(feedback).__name__}")
        self._records[number] = feedback
        return feedback

    def summary(self) -> LessonSummary:
        """How many exercises are done, and for each one that is not: not checked, not answered, or what is wrong."""
        open_ = []
        for k in range(1, self.exercises + 1):
            what = _state(self._records.get(k))
            if what:
                open_.append((k, what))
        return LessonSummary(self.name, self.exercises - len(open_), self.exercises, tuple(open_))


def _integer(value: object, what: str) -> int:
    """``value`` if it is an integer (``int`` or a NumPy integer, not a bool), else a ``TypeError`` naming ``what``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {shorten(repr(value), 40)} ({type(value).__name__})")
    return int(value)


def _state(fb: Feedback | None) -> str:
    """``""`` for a right answer, else what the summary says of the exercise (never raises)."""
    if fb is None:
        return "not checked — run its cell"
    status = getattr(fb, "status", "wrong")
    if status == "ok" and getattr(fb, "ok", False):
        return ""
    if status == "blank":
        return "not answered yet"
    reason = shorten(str(getattr(fb, "reason", "") or ""), 80)
    return f"not right yet ({reason})" if reason else "not right yet"
