"""Training with gradients that are explicit Jacobian products.

Every step asks :meth:`Network.gradient` for ``dL/dθ`` — the product
``J_loss · J_x(f_L) ⋯ J_θ(f_l)`` of :mod:`jacobnet.chain`, averaged over a
minibatch — and takes a plain SGD step with (heavy-ball) momentum:

    v ← μ v − η g,    θ ← θ + v

With ``clip_norm = c``, ``g`` is first clipped by its norm, ``g ← g · min(1, c/‖g‖₂)``.
No hidden state is accumulated anywhere: the gradient is a value, the
update is a value, and :func:`train` returns a :class:`History`. A step
too large makes training diverge; the first non-finite loss, gradient or
parameter vector stops it with :class:`TrainingDiverged`, naming the step.

>>> from jacobnet import build_network
>>> from jacobnet.course.data import two_spirals, one_hot
>>> X, labels = two_spirals(20, seed=0)
>>> net = build_network([2, 8, 2], activation="tanh", loss="softmax-ce", seed=0)
>>> h = train(net, X, one_hot(labels, 2), steps=30, lr=0.2, progress=False)
>>> len(h.batch_loss), h.loss[-1] < h.loss[0]
(30, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import numpy as np

from jacobnet.core.progress import progress_bar
from jacobnet.core.validate import as_input, check_mode, positive_int, seed_value
from jacobnet.course.predict import accuracy

if TYPE_CHECKING:
    from jacobnet.net.network import Network

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
        grad_norm: ``‖g‖₂`` of every update's gradient (before clipping).
        clipped: for every update, whether its gradient was clipped (``‖g‖₂ > clip_norm``).
        params: the flat parameter vector at each of ``steps``, shape ``(n_params,)`` each.
        batch_size: the rows of ``X`` behind each step's gradient and ``batch_loss`` (0: not recorded).
        n_samples: the rows of ``X`` (``batch_size == n_samples``: full-batch gradient descent, and
            ``batch_loss[k]`` is the loss on all data before update ``k + 1``).
    """

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)
    params: list[Array] = field(default_factory=list)
    batch_size: int = 0
    n_samples: int = 0

    @property
    def full_batch(self) -> bool:
        """Whether every step used all of ``X`` (then ``batch_loss`` is not a minibatch loss)."""
        return 0 < self.batch_size == self.n_samples

    def __repr__(self) -> str:
        if not self.steps:
            return "History(empty)"
        return (
            f"History({len(self.batch_loss)} steps: loss {self.loss[0]:.4g} → {self.loss[-1]:.4g}, "
            f"accuracy {self.accuracy[0]:.1%} → {self.accuracy[-1]:.1%})"
        )


class TrainingDiverged(ValueError):
    """Training produced a non-finite loss, gradient or parameter vector: the step size is too large.

    ``step`` is the update at which it happened, ``history`` what :func:`train` recorded before;
    the network keeps its last finite parameters.
    """

    def __init__(self, step: int, loss: float, what: str, lr: float, history: History):
        self.step, self.history = step, history
        super().__init__(f"training diverged at step {step} (loss {loss:.4g}{what}); lower lr (now {lr:g})")


def _loss(net: Network, X: Array, Y: Array) -> float:
    """``net.loss(X, Y)``, or NaN if the forward pass overflowed (the data passed its checks up front)."""
    try:
        return net.loss(X, Y)
    except ValueError:
        if np.isfinite(net.forward(X)).all():
            raise  # a genuine error, not an overflow
        return float("nan")


def _divergence(loss: float, g: Array, theta: Array) -> str | None:
    """What went non-finite in one step, worded for :class:`TrainingDiverged`; ``None`` if nothing did."""
    if np.isnan(loss):
        return ": the network's output is not finite"
    if not np.isfinite(loss):
        return ""
    if not np.isfinite(g).all():
        return ", gradient not finite"
    if not np.isfinite(theta).all():
        return ", parameters overflowed to inf/NaN"
    return None


def _checked_data(net: Network, X: Array, Y: Array) -> tuple[Array, Array]:
    X = as_input(X, "train: X", net.input_size)
    Y = as_input(Y, "train: Y", None, what="target")
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"train expects X of shape (N, n_in) and Y of shape (N, n_out), got {X.shape} and {Y.shape}")
    return X, Y


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _checked_settings(steps: int, lr: float, momentum: float, batch_size: int | None, n: int) -> int:
    """Check the numbers that steer :func:`train`; return the batch size (``N`` for ``None``)."""
    positive_int(steps, "train: steps")
    if not (_is_real(lr) and lr > 0):
        raise ValueError(f"train: lr must be a positive number, got {lr!r}")
    if not (_is_real(momentum) and 0 <= momentum < 1):
        raise ValueError(f"train: momentum must lie in [0, 1), got {momentum!r}")
    if batch_size is None:
        return n
    if positive_int(batch_size, "train: batch_size") > n:
        raise ValueError(f"train: batch_size must be at most N = {n} (the rows of X), got {batch_size!r}")
    return int(batch_size)


def _checked_clip(clip_norm: float | None) -> float | None:
    """``clip_norm`` as a float: ``None`` (no clipping) or a positive finite number."""
    if clip_norm is None:
        return None
    if not (_is_real(clip_norm) and clip_norm > 0):
        raise ValueError(f"train: clip_norm must be None or a positive number, got {clip_norm!r}")
    return float(clip_norm)


def clip_by_norm(g: Array, clip_norm: float | None) -> tuple[Array, bool]:
    """``g · min(1, clip_norm/‖g‖₂)`` and whether it was scaled: the direction kept, the length at most ``clip_norm``.

    ``None`` and a non-finite ``g`` (training is about to stop on it) are returned unchanged.

    >>> clip_by_norm(np.array([3.0, 4.0]), 1.0)
    (array([0.6, 0.8]), True)
    >>> clip_by_norm(np.array([0.3, 0.4]), 1.0)
    (array([0.3, 0.4]), False)
    """
    norm = float(np.linalg.norm(g))
    if clip_norm is None or not np.isfinite(norm) or norm <= clip_norm:
        return g, False
    return g * (clip_norm / norm), True


def _checked_options(seed: int | None, eval_every: int, mode: str, progress: bool) -> None:
    """Check the options of :func:`train` that do not change the numbers' size."""
    seed_value(seed, "train: seed")
    positive_int(eval_every, "train: eval_every")
    check_mode(mode)
    if not isinstance(progress, bool):
        raise ValueError(f"train: progress must be True or False, got {progress!r}")


def _batches(n: int, batch_size: int, seed: int | None) -> Iterator[Array]:
    """Endless minibatch indices: a fresh seeded permutation per epoch, cut in ``batch_size`` pieces."""
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


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
    clip_norm: float | None = None,
) -> History:
    """Minibatch SGD with momentum on ``net``, in place; gradients from explicit Jacobian products.

    Each step: ``g = net.gradient(X_b, Y_b, method="jacobian", mode=mode)`` — shape ``(n_params,)``,
    the mean over the minibatch of ``J_loss · J_x(f_L) ⋯ J_θ(f_l)`` — then ``v ← μv − ηg, θ ← θ + v``.
    With ``clip_norm = c`` the gradient is clipped by its 2-norm first, ``g ← g · min(1, c/‖g‖₂)``
    (:func:`clip_by_norm`): same direction, length at most ``c``, so no single step moves ``θ``
    by more than ``η c`` (without momentum) however steep the loss — the usual guard against
    exploding gradients (e.g. through time, :func:`jacobnet.net.depth.through_time`).

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
        clip_norm: ``None`` (default: no clipping) or a positive number ``c``, the largest
            gradient norm a step uses.

    Returns:
        A :class:`History` (loss curve, accuracy, per-step gradient norms before clipping,
        which steps were clipped, parameter snapshots).

    Raises:
        ValueError: bad data or settings, naming the argument.
        TrainingDiverged: the loss, the gradient or the parameters stopped being finite at some step
            (``lr`` too large); NumPy's overflow warnings are replaced by this one error.
    """
    X, Y = _checked_data(net, X, Y)
    batch_size = _checked_settings(steps, lr, momentum, batch_size, X.shape[0])
    _checked_options(seed, eval_every, mode, progress)
    clip_norm = _checked_clip(clip_norm)
    history = History(batch_size=batch_size, n_samples=X.shape[0])

    def record(step: int) -> None:
        loss = _loss(net, X, Y)
        if not np.isfinite(loss):
            raise TrainingDiverged(step, loss, " on all of X", lr, history)
        history.steps.append(step)
        history.loss.append(loss)
        history.accuracy.append(accuracy(net, X, Y))
        history.params.append(net.get_params())

    record(0)
    theta, velocity = net.get_params(), np.zeros(net.n_params)
    batches = _batches(X.shape[0], batch_size, seed)
    # Overflow is not warned about array by array; the first non-finite value stops training, named, below.
    with progress_bar(steps, "train", "step", progress, leave=True) as bar, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step in range(1, steps + 1):
            idx = next(batches)
            loss = _loss(net, X[idx], Y[idx])
            g = net.gradient(X[idx], Y[idx], method="jacobian", mode=mode) if np.isfinite(loss) else theta * np.nan
            grad_norm = float(np.linalg.norm(g))
            g, clipped = clip_by_norm(g, clip_norm)
            velocity = momentum * velocity - lr * g
            theta = theta + velocity
            problem = _divergence(loss, g, theta)
            if problem is not None:
                raise TrainingDiverged(step, loss, problem, lr, history)
            history.batch_loss.append(loss)
            history.grad_norm.append(grad_norm)
            history.clipped.append(clipped)
            net.set_params(theta)
            if step % eval_every == 0 or step == steps:
                record(step)
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}", acc=f"{history.accuracy[-1]:.0%}", refresh=False)
            bar.update(1)
    return history
