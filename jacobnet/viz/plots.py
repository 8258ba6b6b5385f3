"""Plots of numbers about gradients: how the methods agree, what each order costs, which step is best.

* :func:`comparison_figure` — a :class:`~jacobnet.check.report.GradientReport` drawn:
  every parameter's gradient by each method (Jacobian product, SymPy,
  central differences), and the pairwise errors ``|g_a − g_b|`` on a log
  scale, each pair's tolerance marked.
* :func:`order_cost_figure` — FLOPs and bytes of the forward, reverse and
  optimal orders as networks grow wider and deeper, log scale.
* :func:`step_sweep_figure` — a finite difference's error against its step ``h``.

Same habits as :mod:`jacobnet.viz.heatmaps`: a :class:`~jacobnet.viz.figstyle.JFigure`
built directly, jacobnet's style, returned and never shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from jacobnet.viz.figstyle import FONT_PT, JFigure, styled
from jacobnet.viz.heatmaps import text_in, thin

if TYPE_CHECKING:
    from jacobnet.check.report import GradientReport
    from jacobnet.check.stepsize import StepSweep
    from jacobnet.core.table import Table

Array = np.ndarray
METHOD_STYLE = {  # marker, size, colour: drawn in this order, so agreeing values nest visibly
    "jacobian": ("o", 7.0, "#2166ac"),
    "symbolic": ("x", 7.0, "#b2182b"),
    "finite-difference": ("+", 9.0, "#1b7837"),
}
PAIR_COLOURS = ("#762a83", "#e08214", "#35978f", "#555555")
CLASS_COLOURS = ("#2166ac", "#b2182b", "#1b7837", "#762a83")
ROW_IN = 0.2  # height of one parameter's row, inches


def _floor(errors: Sequence[Array], scale: float) -> float:
    """Where an exact 0 is drawn on the log axis: a decade below the smallest nonzero error."""
    nonzero = [e[e > 0].min() for e in errors if np.any(e > 0)]
    return min([*nonzero, max(scale, 1e-300) * 1e-16]) / 10


def _blocks(ax: Axes, report: GradientReport, label: bool) -> None:
    """Shade every other parameter block; name the blocks at the right."""
    for k, block in enumerate(report.blocks):
        lo, hi = block.slice.start - 0.5, block.slice.stop - 0.5
        if k % 2 == 0:
            ax.axhspan(lo, hi, color="#f0f0f0", zorder=0)
        if label:
            ax.text(1.01, (lo + hi) / 2, block.name, transform=ax.get_yaxis_transform(), rotation=90,
                    ha="left", va="center", fontsize=FONT_PT)


def comparison_figure(report: GradientReport) -> Figure:
    """The gradients of each method side by side, and their pairwise errors on a log scale.

    Left: one row per parameter (``W^{(1)}_{2,3}`` …), one marker per method at
    its value of ``∂L/∂θ``; where the methods agree the markers sit on top of
    each other. Right: ``|g_a − g_b|`` per parameter for each pair of methods
    (log scale; an exact 0 at the left edge, hollow), and the pair's tolerance
    ``tol · max|g_b|`` as a dashed line — a pair agrees when all its points lie
    left of its line.

    >>> from jacobnet.check.report import Block, GradientReport
    >>> g = np.array([0.5, -1.0, 0.25])
    >>> r = GradientReport(["W_{1,1}", "W_{1,2}", "b_{1}"], {"jacobian": g, "finite-difference": g + 1e-9},
    ...                    [Block("Dense 1", slice(0, 3))])
    >>> fig = comparison_figure(r)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()], fig.axes[1].get_xscale()
    (['$W_{1,1}$', '$W_{1,2}$', '$b_{1}$'], 'log')
    """
    n = len(report.labels)
    labels = [f"${t}$" for t in report.labels]
    height = min(max(n * ROW_IN, 2.5), 14.0)
    pos, text = thin(labels, height, FONT_PT)
    with styled():
        fig = JFigure(figsize=(3.2 + text_in(text, FONT_PT) + 8.0, height + 1.6), layout="constrained")
        ax_g, ax_e = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.0, 1.15]})
        rows = np.arange(n)
        for method, g in report.gradients.items():
            marker, size, colour = METHOD_STYLE.get(method, ("s", 5.0, "#555555"))
            ax_g.plot(g, rows, linestyle="none", marker=marker, markersize=size, color=colour, label=method,
                      markerfacecolor="none" if marker == "o" else colour)
        ax_g.axvline(0.0, color="#888888", linewidth=0.8)
        ax_g.set_xlabel(r"$\partial L/\partial\theta$")
        ax_g.set_title("the gradient, by each method")
        ax_g.set_yticks(pos, text)
        ax_g.set_ylim(n - 0.5, -0.5)
        ax_g.legend(fontsize=FONT_PT, loc="lower left", bbox_to_anchor=(0, 1.06), ncol=3, frameon=False,
                    borderaxespad=0, handletextpad=0.3, columnspacing=1.0)
        _errors(ax_e, report)
        for ax in (ax_g, ax_e):
            _blocks(ax, report, label=ax is ax_e)
            ax.tick_params(labelsize=FONT_PT)
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        if report.title:
            fig.suptitle(report.title, fontsize=10)
    return fig


def _errors(ax: Axes, report: GradientReport) -> None:
    """``|g_a − g_b|`` per parameter for each pair, log x, with each pair's tolerance line."""
    rows = np.arange(len(report.labels))
    errors = [report.errors(a, b) for a, b in report.pairs]
    floor = _floor(errors, max(float(np.max(np.abs(g), initial=0.0)) for g in report.gradients.values()))
    verdicts = {(r.a, r.b): r for r in report.rows if r.block == "all"}
    for k, ((a, b), err) in enumerate(zip(report.pairs, errors)):
        colour = PAIR_COLOURS[k % len(PAIR_COLOURS)]
        offset = (k - (len(report.pairs) - 1) / 2) * 0.22  # the pairs side by side within a row
        zero = err == 0
        v = verdicts.get((a, b))
        label = f"{a} vs {b}" + (f": rel {v.rel:.1e} {'≤' if v.ok else '>'} {v.tol:g}" if v else "")
        ax.plot(err[~zero], rows[~zero] + offset, "o", markersize=4, color=colour, label=label)
        ax.plot(np.full(zero.sum(), floor), rows[zero] + offset, "o", markersize=4, markerfacecolor="none", color=colour)
        tol = report.tolerances[(a, b)] * float(np.max(np.abs(report.gradients[b]), initial=0.0))
        if tol > 0:
            ax.axvline(tol, color=colour, linestyle="--", linewidth=1.0)
    ax.set_xscale("log")
    ax.set_xlabel(r"$|g_a - g_b|$  (dashed: tolerance $\cdot\ \max|g_b|$; hollow: exactly 0)")
    ax.set_title("their differences, log scale")
    ax.legend(fontsize=FONT_PT - 0.5, loc="lower left", bbox_to_anchor=(0, 1.06), ncol=1, frameon=False, borderaxespad=0)


ORDER_LINES = (  # (label, order row, cost column prefix, style)
    ("forward", "forward", "", dict(color="#b2182b", linestyle="--", marker="s")),
    ("reverse (backprop)", "reverse", "", dict(color="#2166ac", linestyle="-", marker="o")),
    ("optimal", "optimal", "", dict(color="black", linestyle="none", marker="o", markersize=10, markerfacecolor="none")),
    ("optimal, through the structure", "optimal (structured)", "structured ", dict(color="#1b7837", linestyle="-", marker="^")),
)


def _series(rows: list[dict], order: str, column: str, key: str, fixed: str, value: int) -> tuple[list[int], list[int]]:
    picked = sorted((r[key], r[column]) for r in rows if r["order"] == order and r[fixed] == value)
    return [k for k, _ in picked], [c for _, c in picked]


def order_cost_figure(sweep: Table | None = None, *, depth: int | None = None, width: int | None = None) -> Figure:
    """FLOPs and bytes of the forward, reverse and optimal orders for growing networks, log scale.

    ``sweep`` is a :func:`jacobnet.net.sweeps.order_cost_sweep` table (default: its
    default sweep, ``784 → width × depth → 10``). Top row: multiply-adds; bottom
    row: bytes written for intermediates. Left: against the hidden width at
    ``depth`` hidden layers (default the deepest); right: against the depth at
    ``width`` (default the widest). The optimal order is the dense matrix-chain
    optimum; the green line multiplies the structured-optimal order through the
    factors' structure (diagonal, ``[I ⊗ xᵀ | I]``), the cost of ordinary backprop.

    >>> from jacobnet.net.sweeps import order_cost_sweep
    >>> fig = order_cost_figure(order_cost_sweep(widths=(4, 8), depths=(1, 2), n_in=3, n_out=2))
    >>> forward = fig.axes[0].get_lines()[0].get_ydata().tolist()   # 3 → w → w → 2: 12w³ + 8w² + 8w
    >>> [ax.get_yscale() for ax in fig.axes], forward == [12 * w**3 + 8 * w**2 + 8 * w for w in (4, 8)]
    (['log', 'log', 'log', 'log'], True)
    """
    if sweep is None:
        from jacobnet.net.sweeps import order_cost_sweep

        sweep = order_cost_sweep()
    rows = sweep.rows
    depth = max(r["depth"] for r in rows) if depth is None else depth
    width = max(r["width"] for r in rows) if width is None else width
    with styled():
        fig = JFigure(figsize=(10.0, 7.0), layout="constrained")
        axes = fig.subplots(2, 2, sharex="col")
        for row, (metric, unit) in enumerate((("flops", "multiply-adds"), ("bytes", "bytes written"))):
            for col, (key, fixed, value) in enumerate((("width", "depth", depth), ("depth", "width", width))):
                ax = axes[row, col]
                for label, order, prefix, style in ORDER_LINES:
                    xs, ys = _series(rows, order, prefix + metric, key, fixed, value)
                    ax.plot(xs, ys, label=label, **{"markersize": 5, **style})
                _ratio(ax, rows, metric, key, fixed, value)
                ax.set_yscale("log")
                ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
                ax.tick_params(labelsize=FONT_PT)
                if col == 0:
                    ax.set_ylabel(unit)
                if row == 1:
                    ax.set_xlabel("hidden width" if key == "width" else "hidden layers (depth)")
                if row == 0:
                    ax.set_title(f"growing width, depth {depth}" if key == "width" else f"growing depth, width {width}")
        axes[0, 0].set_xscale("log", base=2)
        for col, key in enumerate(("width", "depth")):
            xs = sorted({r[key] for r in rows})
            axes[1, col].set_xticks(xs, [str(x) for x in xs])
            lo, hi = xs[0], xs[-1]  # room right of the last point for the ratio's label
            axes[1, col].set_xlim(*((lo / 2**0.2, hi * (hi / lo) ** 0.27) if col == 0 else (lo - 0.25, hi + 0.3 * (hi - lo) + 0.4)))
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=FONT_PT, frameon=False)
        fig.suptitle(f"{sweep.title}: the product ∂L/∂θ(Dense 1) in each order", fontsize=10)
    return fig


def _ratio(ax: Axes, rows: list[dict], metric: str, key: str, fixed: str, value: int) -> None:
    """Write ``forward / reverse = k×`` right of the last point, where no line runs."""
    xs, fwd = _series(rows, "forward", metric, key, fixed, value)
    _, rev = _series(rows, "reverse", metric, key, fixed, value)
    if xs and rev[-1]:
        ax.annotate("", (xs[-1], fwd[-1]), (xs[-1], rev[-1]), arrowprops=dict(arrowstyle="<->", color="#444444", shrinkA=6, shrinkB=6))
        ax.annotate(f"forward\n÷ reverse\n= {fwd[-1] / rev[-1]:,.0f}×", (xs[-1], (fwd[-1] * rev[-1]) ** 0.5), xytext=(8, 0),
                    textcoords="offset points", ha="left", va="center", multialignment="left", fontsize=FONT_PT, color="#444444")


def step_sweep_figure(sweeps: StepSweep | Sequence[StepSweep], labels: Sequence[str] | None = None) -> Figure:
    """Error against step ``h`` on log–log axes, with the slopes theory predicts.

    For each sweep: the measured relative error; a dotted round-off guide
    ``∝ ε/h`` and a dashed truncation guide ``∝ h^order``, both fitted to the
    measured curve (:meth:`StepSweep.guides`); a vertical line at the
    rule-of-thumb step ``ε^{1/(order+1)}``.

    >>> from jacobnet.check.stepsize import step_size_sweep
    >>> x = np.array([1.0, 2.0, 0.5])   # exp of 3 inputs, a (3, 3) Jacobian
    >>> fig = step_sweep_figure(step_size_sweep(np.exp, x, np.diag(np.exp(x))))
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
    ('log', 'log')
    """
    from jacobnet.check.stepsize import StepSweep
    from jacobnet.core.finite import EPS

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
