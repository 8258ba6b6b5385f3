"""Plots of a training run: the loss and accuracy curves, and a 2-D classifier's decision boundary.

The figures of :func:`jacobnet.course.train.train`'s :class:`~jacobnet.course.train.History` and
:func:`~jacobnet.course.predict.decision_grid`'s :class:`~jacobnet.course.predict.Grid`. Same habits as
:mod:`jacobnet.viz.plots`: a :class:`~jacobnet.viz.figstyle.JFigure` built directly (no pyplot),
jacobnet's style, returned and never shown; importable from :mod:`jacobnet.viz`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from jacobnet.viz.figstyle import CMAP, JFigure, styled
from jacobnet.viz.plots import CLASS_COLOURS

if TYPE_CHECKING:
    from jacobnet.course.predict import Grid
    from jacobnet.course.train import History

Array = np.ndarray


def loss_curve_figure(history: History) -> Figure:
    """The loss (log scale) and the accuracy during training, against the step number.

    Light line: the loss of every step's gradient batch (all the data for full-batch
    training, else the minibatch of ``history.batch_size`` rows); dark: the loss on
    the whole data set at the evaluation steps.

    >>> from jacobnet.course.train import History
    >>> h = History(steps=[0, 2], loss=[0.7, 0.4], accuracy=[0.5, 1.0], batch_loss=[0.7, 0.6], grad_norm=[1.0, 0.8])
    >>> [ax.get_title() for ax in loss_curve_figure(h).axes]
    ['Loss', 'Accuracy on all data']
    """
    with styled():
        fig = JFigure(figsize=(9.0, 3.4))
        ax_loss, ax_acc = fig.subplots(1, 2)
        steps = np.arange(1, len(history.batch_loss) + 1)
        light = "loss at every step (all data)" if history.full_batch else (
            f"minibatch loss (B = {history.batch_size})" if history.batch_size else "loss of each step's batch")
        ax_loss.semilogy(steps, history.batch_loss, color="#9ecae1", linewidth=1, label=light)
        ax_loss.semilogy(history.steps, history.loss, "o-", ms=3, color="#08519c", label="loss on all data")
        ax_loss.set_xlabel("step")
        ax_loss.set_ylabel("loss")
        ax_loss.set_title("Loss")
        ax_loss.legend(fontsize=8)
        ax_acc.plot(history.steps, history.accuracy, "o-", ms=3, color="#006d2c")
        ax_acc.set_ylim(0, 1.02)
        ax_acc.set_xlabel("step")
        ax_acc.set_ylabel("accuracy")
        ax_acc.set_title("Accuracy on all data")
        fig.tight_layout()
    return fig


def decision_boundary_figure(grid: Grid, X: Array, labels: Array, title: str = "Decision boundary") -> Figure:
    """A 2-D classifier's predicted class as coloured regions, its data as points.

    ``grid`` comes from :func:`jacobnet.course.predict.decision_grid`; ``X`` is ``(N, 2)`` and ``labels`` ``(N,)``.
    For two classes the shading is ``p(class 1)`` and the boundary the contour ``p = 0.5``.

    >>> from jacobnet import build_network
    >>> from jacobnet.course.predict import decision_grid
    >>> X, labels = np.array([[0.0, 1.0], [1.0, -1.0], [-2.0, 0.5]]), np.array([0, 1, 2])
    >>> fig = decision_boundary_figure(decision_grid(build_network([2, 3], loss="softmax-ce"), X, 5), X, labels)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['class 0', 'class 1', 'class 2']
    """
    X, labels = np.asarray(X), np.asarray(labels)
    with styled():
        fig = JFigure(figsize=(4.8, 4.4))
        ax = fig.add_subplot()
        if grid.probs.shape[-1] == 2:
            ax.contourf(grid.xx, grid.yy, grid.probs[..., 1], levels=np.linspace(0, 1, 11), cmap=CMAP, alpha=0.45)
            ax.contour(grid.xx, grid.yy, grid.probs[..., 1], levels=[0.5], colors="k", linewidths=1.5)
        else:
            k = grid.probs.shape[-1]
            ax.contourf(grid.xx, grid.yy, grid.labels, levels=np.arange(k + 1) - 0.5, colors=CLASS_COLOURS[:k], alpha=0.3)
        for c in np.unique(labels):
            pts = X[labels == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=12, color=CLASS_COLOURS[int(c) % len(CLASS_COLOURS)], label=f"class {c}")
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="upper right")
        fig.tight_layout()
    return fig
