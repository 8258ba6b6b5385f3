"""Figures of the course's own computations: a training run and a finite-difference step sweep.

Same habits as :mod:`jacobnet.viz`: matplotlib only, a
:class:`~jacobnet.figstyle.JFigure` built directly (no pyplot), jacobnet's
style, the Figure returned and never shown.

>>> from jacobnet.stepsize import step_size_sweep
>>> fig = step_sweep_figure(step_size_sweep(np.exp, np.array([1.0]), np.array([[np.e]])))
>>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
('log', 'log')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.figure import Figure

from .figstyle import CMAP, JFigure, styled
from .stepsize import EPS, StepSweep

if TYPE_CHECKING:
    from .train import Grid, History

Array = np.ndarray
CLASS_COLOURS = ("#2166ac", "#b2182b", "#1b7837", "#762a83")


def step_sweep_figure(sweeps: StepSweep | Sequence[StepSweep], labels: Sequence[str] | None = None) -> Figure:
    """Error against step ``h`` on log–log axes, with the slopes theory predicts.

    For each sweep: the measured relative error; a dotted round-off guide
    ``∝ ε/h`` and a dashed truncation guide ``∝ h^order``, both fitted to the
    measured curve (:meth:`StepSweep.guides`); a vertical line at the
    rule-of-thumb step ``ε^{1/(order+1)}``.
    """
    sweeps = [sweeps] if isinstance(sweeps, StepSweep) else list(sweeps)
    labels = list(labels) if labels is not None else [s.scheme for s in sweeps]
    with styled():
        fig = JFigure(figsize=(8.6, 4.2))
        ax = fig.add_subplot()
        for k, (s, label, colour) in enumerate(zip(sweeps, labels, CLASS_COLOURS)):
            roundoff, truncation = s.guides()
            left, right = s.h <= 10 * s.best_h, s.h >= s.best_h / 10
            ax.loglog(s.h, s.error, "o-", ms=3, color=colour, label=f"{label} differences")
            ax.loglog(s.h[left], roundoff[left], ":", color=colour, label=r"round-off $\propto \epsilon/h$" if k == 0 else None)
            ax.loglog(s.h[right], truncation[right], "--", color=colour, label=rf"truncation $\propto h^{s.order}$")
            ax.axvline(s.rule_h, color=colour, alpha=0.4, linewidth=1, label=rf"$\epsilon^{{1/{s.order + 1}}}$")
        ax.set_xlabel("step h (relative)")
        ax.set_ylabel("relative error of the Jacobian")
        ax.set_ylim(max(EPS / 10, min(s.error.min() for s in sweeps) / 10), 10.0)
        ax.set_title("Finite differences: truncation vs round-off")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
        fig.tight_layout()
    return fig


def loss_curve_figure(history: History) -> Figure:
    """The loss (log scale) and the accuracy during training, against the step number.

    Light line: the minibatch loss of every step; dark: the loss on the whole data set.
    """
    with styled():
        fig = JFigure(figsize=(9.0, 3.4))
        ax_loss, ax_acc = fig.subplots(1, 2)
        steps = np.arange(1, len(history.batch_loss) + 1)
        ax_loss.semilogy(steps, history.batch_loss, color="#9ecae1", linewidth=1, label="minibatch loss")
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

    ``grid`` comes from :func:`jacobnet.train.decision_grid`; ``X`` is ``(N, 2)`` and ``labels`` ``(N,)``.
    For two classes the shading is ``p(class 1)`` and the boundary the contour ``p = 0.5``.
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
