"""The course's tools: data sets, training, predictions, exercises and their feedback, lessons and hand-outs.

* :mod:`~jacobnet.course.data` — two spirals, scikit-learn's handwritten digits, one-hot targets;
* :mod:`~jacobnet.course.train` — gradient descent on explicit Jacobian products;
* :mod:`~jacobnet.course.predict` — classes, accuracy, a decision grid;
* :mod:`~jacobnet.course.exercises`, :mod:`~jacobnet.course.feedback` — answers checked, mistakes diagnosed, hints first;
* :mod:`~jacobnet.course.answers` — the verdict (``Feedback``) and the checks of a shape or a number;
* :mod:`~jacobnet.course.lesson` — :class:`~jacobnet.course.lesson.Lesson`: a lesson's exercises and its summary;
* :mod:`~jacobnet.course.lessons` — :data:`~jacobnet.course.lessons.LESSONS`, the list of the course;
* :mod:`~jacobnet.course.handout` — the student's and the teacher's editions of the notebooks;
* :mod:`~jacobnet.course.site` — the HTML edition, an offline site of the executed lessons.

``jacobnet.train`` is the training function (:func:`jacobnet.course.train.train`).
``Lesson``, ``LESSONS`` and ``write_handout`` load on first use (with the checks they need).
"""

from importlib import import_module

from jacobnet.course.data import one_hot, two_spirals
from jacobnet.course.predict import accuracy, decision_grid
from jacobnet.course.train import History, TrainingDiverged

_LAZY = {"Lesson": "lesson", "LessonSummary": "lesson", "LESSONS": "lessons", "LessonInfo": "lessons", "write_handout": "handout"}

__all__ = ["History", "TrainingDiverged", "one_hot", "two_spirals", "accuracy", "decision_grid", *_LAZY]


def __getattr__(name: str) -> object:
    """``Lesson``, ``LESSONS``, ``write_handout``, …: imported from their module on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
