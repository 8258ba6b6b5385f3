"""What a network predicts: classes, accuracy, and its outputs over the plane.

The measures :func:`jacobnet.course.train.train` records, and the grid behind a
decision-boundary figure (:func:`jacobnet.viz.decision_boundary_figure`).

>>> from jacobnet import build_network
>>> net = build_network([2, 3], loss="softmax-ce", seed=0)
>>> X = np.array([[0.5, -1.0], [2.0, 0.0], [0.0, 0.0], [-1.0, 1.0]])   # (4, 2)
>>> predict(net, X).shape, 0.0 <= accuracy(net, X, np.array([0, 1, 2, 0])) <= 1.0
((4,), True)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from jacobnet.core.cost import check_cost, cut_text
from jacobnet.core.finite import loss_cost
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.validate import as_input, positive_int

if TYPE_CHECKING:
    from jacobnet.net.network import Network

Array = np.ndarray


def predict(net: Network, X: Array) -> Array:
    """The predicted class of each row of ``X``: ``argmax`` of the output — shape ``(N,)``.

    >>> from jacobnet import build_network
    >>> predict(build_network([2, 3], loss="softmax-ce"), np.zeros((4, 2))).shape
    (4,)
    """
    out = net.forward(np.atleast_2d(X))
    return np.argmax(out, axis=-1)


def accuracy(net: Network, X: Array, Y: Array) -> float:
    """Fraction of rows where ``argmax f(x) = argmax y``; ``Y`` one-hot ``(N, k)`` or labels ``(N,)``.

    >>> from jacobnet import build_network
    >>> accuracy(build_network([2, 3], loss="softmax-ce"), np.zeros((4, 2)), np.zeros(4, dtype=int))
    1.0
    """
    Y = np.asarray(Y)
    labels = Y if Y.ndim == 1 else np.argmax(Y, axis=-1)
    return float(np.mean(predict(net, X) == labels))


def with_params(net: Network, theta: Array) -> Network:
    """A copy of ``net`` with parameters ``theta`` (e.g. ``history.params[0]``); ``net`` is untouched.

    >>> from jacobnet import build_network
    >>> net = build_network([3, 2], loss="mse")
    >>> float(with_params(net, np.zeros(8)).get_params().sum()), net.get_params().shape
    (0.0, (8,))
    """
    twin = copy.deepcopy(net)
    twin.set_params(theta)
    return twin


@dataclass
class Grid:
    """A network's predictions on a regular grid over the plane (for decision-boundary plots).

    ``xx``, ``yy``: coordinates ``(ny, nx)``; ``probs``: class probabilities ``(ny, nx, k)``;
    ``labels``: the predicted class ``(ny, nx)``.
    """

    xx: Array
    yy: Array
    probs: Array
    labels: Array


GRID_CHUNK = 2**16
""":func:`decision_grid` runs the network on this many grid points at a time (its activations stay small)."""


def decision_grid(net: Network, X: Array, resolution: int = 100, margin: float = 0.25) -> Grid:
    """Evaluate a 2-input classifier on a ``resolution × resolution`` grid covering ``X`` (plus ``margin``).

    Probabilities are ``softmax(f(x))`` for a :class:`SoftmaxCrossEntropy` network (it outputs logits),
    else the outputs themselves. The grid is checked first against the memory budget (its
    arrays: ``xx``, ``yy``, ``probs``, ``labels``) and the cost limit (``resolution²`` forward
    passes, :mod:`jacobnet.core.cost`), then run :data:`GRID_CHUNK` points at a time.

    >>> from jacobnet import build_network
    >>> g = decision_grid(build_network([2, 3], loss="softmax-ce"), np.zeros((1, 2)), resolution=4)
    >>> g.xx.shape, g.probs.shape, bool(np.allclose(g.probs.sum(-1), 1))
    ((4, 4), (4, 4, 3), True)
    """
    X = np.atleast_2d(as_input(X, "decision_grid: X", 2))
    positive_int(cut_text(resolution), "decision_grid: resolution")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)) or not 0 <= margin < np.inf:
        raise ValueError(f"decision_grid: margin must be a finite number ≥ 0, got {margin!r:.60}")
    if net.input_size not in (None, 2):
        raise ValueError(f"decision_grid: the network must take 2 inputs (a point of the plane), it takes {net.input_size}")
    points = resolution * resolution
    k = net.sizes[-1] or net.forward(X[:1]).shape[-1]  # (the classes: known from the sizes, unless the last layer is size-free)
    per_point = 3 + 2 * k  # xx, yy and the labels; the outputs and the probabilities
    check_budget(F8 * min(points, 2**64) * per_point, f"a decision grid of {resolution} × {resolution} points and {k} classes",
                 "use a smaller resolution")
    chunks = -(-min(points, 2**64) // GRID_CHUNK)
    work = chunks * loss_cost(net, np.broadcast_to(0.0, (min(points, GRID_CHUNK), 2)))  # (a chunk's shape; nothing allocated)
    check_cost(work, f"a decision grid of {resolution} × {resolution} points ({points} forward passes)", "use a smaller resolution")
    with np.errstate(over="ignore"):
        lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
        finite = bool(np.all(np.isfinite(hi - lo)))
    if not finite:
        raise ValueError(f"decision_grid: the grid (the range of X plus margin={margin!r:.30} on each side) overflows float64")
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    flat = np.column_stack([xx.ravel(), yy.ravel()])
    probs = np.empty((points, k))
    for start in range(0, points, GRID_CHUNK):
        stop = min(points, start + GRID_CHUNK)
        probs[start:stop] = net.loss_fn.prediction(net.forward(flat[start:stop]))
    del flat
    probs = probs.reshape(resolution, resolution, k)
    return Grid(xx, yy, probs, np.argmax(probs, axis=-1))
