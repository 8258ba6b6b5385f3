"""Training with gradients that are explicit Jacobian products.

Every step asks :meth:`Network.gradient` for ``dL/dθ`` — the product
``J_loss · J_x(f_L) ⋯ J_θ(f_l)`` of :mod:`jacobnet.chain`, averaged over a
minibatch — and takes a plain SGD step with (heavy-ball) momentum:

    v ← μ v − η g,    θ ← θ + v

No hidden state is accumulated anywhere: the gradient is a value, the
update is a value, and :func:`train` returns a :class:`History`.

>>> from jacobnet import build_network
>>> from jacobnet.data import two_spirals, one_hot
>>> X, labels = two_spirals(20, seed=0)
>>> net = build_network([2, 8, 2], activation="tanh", loss="softmax-ce", seed=0)
>>> h = train(net, X, one_hot(labels, 2), steps=30, lr=0.2, progress=False)
>>> len(h.batch_loss), h.loss[-1] < h.loss[0]
(30, True)
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .layers import Softmax
from .losses import SoftmaxCrossEntropy
from .validate import as_input

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray


@dataclass
class History:
    """What a training run did, step by step.

    Attributes:
        steps: the step numbers at which the full data set was evaluated
            (0 = before the first update, the last one = after the last).
        loss: the mean loss over all of ``X`` at each of ``steps``.
        accuracy: the fraction of ``argmax`` predictions equal to ``argmax Y`` at each of ``steps``.
        batch_loss: the minibatch loss of every update, in order.
        grad_norm: ``‖g‖₂`` of every update's gradient.
        params: the flat parameter vector at each of ``steps``, shape ``(n_params,)`` each.
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    params: list[Array] = field(default_factory=list)

    def __repr__(self) -> str:
        if not self.steps:
            return "History(empty)"
        return (
            f"History({len(self.batch_loss)} steps: loss {self.loss[0]:.4g} → {self.loss[-1]:.4g}, "
            f"accuracy {self.accuracy[0]:.1%} → {self.accuracy[-1]:.1%})"
        )


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


def _checked_data(net: Network, X: Array, Y: Array) -> tuple[Array, Array]:
    X = as_input(X, "train: X", net.input_size)
    Y = as_input(Y, "train: Y", None, what="target")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"train expects X of shape (N, n_in) and Y of shape (N, n_out), got {X.shape} and {Y.shape}")
    return X, Y


def _checked_settings(steps: int, lr: float, momentum: float, batch_size: int | None, n: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"train: steps must be a positive integer, got {steps!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"train: lr must be a positive number, got {lr!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"train: momentum must lie in [0, 1), got {momentum!r}")
    if batch_size is None:
        return n
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= n:
        raise ValueError(f"train: batch_size must be an integer between 1 and N = {n}, got {batch_size!r}")
    return int(batch_size)


def _batches(n: int, batch_size: int, seed: int | None) -> Iterator[Array]:
    """Endless minibatch indices: a fresh seeded permutation per epoch, cut in ``batch_size`` pieces."""
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def _progress(total: int, enabled: bool):  # -> tqdm
    """A ``tqdm.auto`` bar (a widget in Jupyter when ipywidgets is installed, text otherwise)."""
    from tqdm import TqdmWarning

    with warnings.catch_warnings():  # no ipywidgets: tqdm.auto falls back to text, which is what we want
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm(total=total, disable=not enabled, desc="train", unit="step", leave=True)


def train(
    net: Network,
    X: Array,
    Y: Array,
    *,
    steps: int = 300,
    lr: float = 0.1,
    momentum: float = 0.9,
    batch_size: int | None = None,
    seed: int | None = 0,
    eval_every: int = 10,
    mode: str = "structured",
    progress: bool = True,
) -> History:
    """Minibatch SGD with momentum on ``net``, in place; gradients from explicit Jacobian products.

    Each step: ``g = net.gradient(X_b, Y_b, method="jacobian", mode=mode)`` — shape ``(n_params,)``,
    the mean over the minibatch of ``J_loss · J_x(f_L) ⋯ J_θ(f_l)`` — then ``v ← μv − ηg, θ ← θ + v``.

    Args:
        net: the network to train (its parameters are updated).
        X: inputs ``(N, n_in)``.
        Y: targets ``(N, n_out)`` (one-hot for classification).
        steps: number of updates.
        lr: learning rate ``η``.
        momentum: ``μ ∈ [0, 1)``; 0 is plain SGD.
        batch_size: minibatch size; ``None`` uses all ``N`` rows (full-batch gradient descent).
        seed: seeds the minibatch order, so a run is repeatable.
        eval_every: evaluate loss and accuracy on all of ``X`` every this many steps.
        mode: ``"structured"`` (multiply through each factor's structure) or
            ``"materialised"`` (build every dense Jacobian): same numbers.
        progress: show a ``tqdm.auto`` progress bar.

    Returns:
        A :class:`History` (loss curve, accuracy, per-step gradient norms, parameter snapshots).
    """
    X, Y = _checked_data(net, X, Y)
    batch_size = _checked_settings(steps, lr, momentum, batch_size, X.shape[0])
    history = History()

    def record(step: int) -> None:
        history.steps.append(step)
        history.loss.append(net.loss(X, Y))
        history.accuracy.append(accuracy(net, X, Y))
        history.params.append(net.get_params())

    record(0)
    theta, velocity = net.get_params(), np.zeros(net.n_params)
    batches = _batches(X.shape[0], batch_size, seed)
    with _progress(steps, progress) as bar:
        for step in range(1, steps + 1):
            idx = next(batches)
            history.batch_loss.append(net.loss(X[idx], Y[idx]))
            g = net.gradient(X[idx], Y[idx], method="jacobian", mode=mode)
            history.grad_norm.append(float(np.linalg.norm(g)))
            velocity = momentum * velocity - lr * g
            theta = theta + velocity
            net.set_params(theta)
            if step % eval_every == 0 or step == steps:
                record(step)
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}", acc=f"{history.accuracy[-1]:.0%}", refresh=False)
            bar.update(1)
    return history


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


def decision_grid(net: Network, X: Array, resolution: int = 100, margin: float = 0.25) -> Grid:
    """Evaluate a 2-input classifier on a ``resolution × resolution`` grid covering ``X`` (plus ``margin``).

    Probabilities are ``softmax(f(x))`` for a :class:`SoftmaxCrossEntropy` network (it outputs logits),
    else the outputs themselves.

    >>> from jacobnet import build_network
    >>> g = decision_grid(build_network([2, 3], loss="softmax-ce"), np.zeros((1, 2)), resolution=4)
    >>> g.xx.shape, g.probs.shape, bool(np.allclose(g.probs.sum(-1), 1))
    ((4, 4), (4, 4, 3), True)
    """
    X = as_input(X, "decision_grid: X", 2)
    X = np.atleast_2d(X)
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    out = net.forward(np.column_stack([xx.ravel(), yy.ravel()]))
    probs = Softmax().forward(out) if isinstance(net.loss_fn, SoftmaxCrossEntropy) else out
    probs = probs.reshape(resolution, resolution, -1)
    return Grid(xx, yy, probs, np.argmax(probs, axis=-1))
