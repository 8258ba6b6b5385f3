"""The course's tools: data sets, training, predictions, exercises and their feedback.

* :mod:`~jacobnet.course.data` — two spirals, one-hot targets;
* :mod:`~jacobnet.course.train` — gradient descent on explicit Jacobian products;
* :mod:`~jacobnet.course.predict` — classes, accuracy, a decision grid;
* :mod:`~jacobnet.course.exercises`, :mod:`~jacobnet.course.feedback` — answers checked, mistakes diagnosed.

``jacobnet.train`` is the training function (:func:`jacobnet.course.train.train`).
"""

from jacobnet.course.data import one_hot, two_spirals
from jacobnet.course.predict import accuracy, decision_grid
from jacobnet.course.train import History, TrainingDiverged

__all__ = ["History", "TrainingDiverged", "one_hot", "two_spirals", "accuracy", "decision_grid"]
