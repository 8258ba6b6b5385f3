"""Chain figures: a product of Jacobians drawn as the row of matrices it is, whole or step by step.

``dL/dθ_l = J_loss · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)`` drawn as what it
is: a row of matrices, ``×`` between them, ``=`` and the result, every cell
the same size, so that the columns of each factor visibly match the rows of
the next (an ``(m×n)·(n×p)`` product needs the ``n`` to agree).

This module draws those products: :func:`product_figure` (any ``A · B ⋯ = R`` of
:class:`~jacobnet.viz.panels.Panel` s), :func:`chain_figure` (a chain) and
:func:`chain_step_figures` (one figure per multiplication, for stepping through).

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("3,4,2", "tanh", "softmax-ce")
>>> fig = chain_figure(net.chain(np.ones(3), np.array([0.0, 1.0])))
>>> fig.get_label()
'∂L/∂θ(Dense 1) = J_loss · J_x(Dense 2) · J_x(Tanh 1) · J_θ(Dense 1)'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.figure import Figure

from jacobnet.chain.orders import tree_text
from jacobnet.chain.paths import PathSum
from jacobnet.chain.product import Chain
from jacobnet.core.cost import quote
from jacobnet.core.memory import format_bytes
from jacobnet.viz.figstyle import FONT_PT, JFigure, styled, tex_name
from jacobnet.viz.heatmaps import EDGE, centred_norm, draw_matrix, outline, text_in
from jacobnet.viz.panels import Panel, one_sample

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.image import AxesImage

    from jacobnet.chain.product import Order

Array = np.ndarray
PANEL_CELL_IN = 0.34  # largest cell in a product figure, inches
MIN_CELL_IN = 0.1  # smallest: below it a long product wraps onto more rows instead
MAX_ROW_W_IN, MAX_ROW_H_IN = 15.0, 4.5
SEP_IN = 0.45  # room for "×" and "="
CBAR_SLOT_IN, CBAR_H_IN = 0.95, 0.07  # a panel's own colour bar: least room for it, its height
ROW_TOP_IN, ROW_BOTTOM_IN = 0.4, 0.32  # above a panel (its name), below it (its shape)
SCALES = ("panel", "shared")
NOTES = {
    "panel": "each matrix on its own colour scale (the bar below it), centred at 0: red > 0, blue < 0, white = 0",
    "shared": "one colour scale for every matrix (the bar below), centred at 0: red > 0, blue < 0, white = 0",
}


def product_figure(
    operands: Sequence[Panel], result: Panel, title: str = "", *, structure: bool = True, scale: str = "panel",
    sign: str = r"\times",
) -> Figure:
    r"""``A · B · … = R`` as heatmaps with equal cells, each labelled with its shape.

    Every cell is the same size in every panel, so ``A``'s columns are as wide as
    ``B``'s rows are tall; a product too long for one row at :data:`MIN_CELL_IN`
    per cell wraps onto the next row, like a line of text. Colours are centred at
    zero (red > 0, blue < 0): ``scale="panel"`` gives each matrix its own scale and
    a colour bar below it; ``scale="shared"`` one scale and one bar for all.
    ``sign`` (mathtext) goes between the operands: ``+`` draws a sum.

    >>> A, B = np.array([[1.0, -1.0]]), np.arange(6.0).reshape(2, 3)
    >>> fig = product_figure([Panel(A, "A"), Panel(B, "B")], Panel(A @ B, "C"))
    >>> fig.get_label(), [ax.get_xlabel() for ax in fig.axes if ax.images]
    ('C = A · B', ['$1\\times 2$', '$2\\times 3$', '$1\\times 3$'])
    >>> [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes if not ax.images]  # bars: ±max|entry|
    [['−1', '0', '1'], ['−5', '0', '5'], ['−3', '0', '3']]
    """
    if scale not in SCALES:
        raise ValueError(f"product_figure: unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    panels = [*operands, result]
    shapes = [p.matrix.shape for p in panels]
    least = [text_in([tex_name(p.name)], 10.0) + 0.15 for p in panels]  # each panel's name fits above it
    if scale == "panel":
        least = [max(s, CBAR_SLOT_IN) for s in least]
    cell = _cell(shapes, least)
    sizes = [(max(n * cell, 0.04), max(m * cell, 0.04)) for m, n in shapes]
    slots = [max(w, s) for (w, _), s in zip(sizes, least)]
    rows = _rows(slots)
    below = ROW_BOTTOM_IN + (0.33 if scale == "panel" else 0.0)
    heights = [ROW_TOP_IN + max(sizes[k][1] for k in row) + below for row in rows]
    top, bottom, margin = 0.2 + 0.3 * bool(title), 0.3 + (0.55 if scale == "shared" else 0.0), 0.2
    H = top + sum(heights) + bottom
    widths = [sum(slots[k] for k in row) + SEP_IN * len([k for k in row if k < len(operands)]) for row in rows]
    W = max(2 * margin + max(widths), text_in([title], 11.0) + 0.4, text_in([NOTES[scale]], 7.5) + 0.4)
    norm = centred_norm(np.concatenate([p.matrix.ravel() for p in panels])[None, :]) if scale == "shared" else None
    with styled():
        fig = JFigure(figsize=(W, H))
        images: list[tuple[Axes, AxesImage, float]] = []
        y_top = H - top
        for row, width, height in zip(rows, widths, heights):
            mid = y_top - ROW_TOP_IN - (height - ROW_TOP_IN - below) / 2
            x = (W - width) / 2
            for k in row:
                (w, h), p = sizes[k], panels[k]
                ax = fig.add_axes(((x + (slots[k] - w) / 2) / W, (mid - h / 2) / H, w / W, h / H))
                images.append((ax, draw_matrix(ax, p.matrix, norm), slots[k]))
                ax.set_xticks([])
                ax.set_yticks([])
                if structure:
                    outline(ax, p.boxes, p.matrix.shape, names=False)
                ax.set_title(f"${tex_name(p.name)}$", fontsize=10, pad=5)
                ax.set_xlabel(rf"${shapes[k][0]}\times {shapes[k][1]}$", fontsize=FONT_PT, labelpad=3)
                x += slots[k]
                if k < len(operands):
                    between = "=" if k == len(operands) - 1 else sign
                    fig.text((x + SEP_IN / 2) / W, mid / H, f"${between}$", ha="center", va="center", fontsize=16, color=EDGE)
                    x += SEP_IN
            y_top -= height
        if scale == "panel":
            for ax, im, slot in images:
                _colorbar_below(fig, ax, im, min(slot, max(ax.get_position().width * W, 0.8), 2.5), 0.3)
        else:
            ax0 = fig.add_axes(((W - 2.4) / 2 / W, (bottom - 0.3) / H, 2.4 / W, 0.1 / H))
            _colorbar_below(fig, ax0, images[0][1], 2.4, -0.12, own_axes=True)
        if title:
            fig.text(0.5, 1 - 0.12 / H, title, ha="center", va="top", fontsize=11)
        fig.text(0.5, 0.08 / H, NOTES[scale], ha="center", va="bottom", fontsize=7.5, color="#666666")
        joiner = " + " if sign == "+" else " · "
        fig.set_label(" = ".join([result.name, joiner.join(p.name for p in operands)]))
    return fig


def _cell(shapes: Sequence[tuple[int, int]], least: Sequence[float]) -> float:
    """The side of one cell, inches: the largest that puts the product on one row (at most
    :data:`PANEL_CELL_IN`); if that is below :data:`MIN_CELL_IN`, that minimum (the row wraps),
    but never wider than one row or taller than :data:`MAX_ROW_H_IN` for any one matrix."""
    cap = min(PANEL_CELL_IN, MAX_ROW_H_IN / max(m for m, _ in shapes), (MAX_ROW_W_IN - SEP_IN) / max(n for _, n in shapes))

    def row_width(c: float) -> float:
        return sum(max(n * c, s) for (_, n), s in zip(shapes, least)) + SEP_IN * (len(shapes) - 1)

    if row_width(cap) <= MAX_ROW_W_IN:
        return cap
    lo, hi = 0.0, cap  # row_width grows with c: bisect for the widest cell that fits
    for _ in range(40):
        lo, hi = ((lo + hi) / 2, hi) if row_width((lo + hi) / 2) <= MAX_ROW_W_IN else (lo, (lo + hi) / 2)
    return min(cap, max(lo, MIN_CELL_IN))


def _rows(slots: Sequence[float]) -> list[list[int]]:
    """Panels ``0 … k`` split into rows of at most :data:`MAX_ROW_W_IN` (a sign after all but the last)."""
    rows: list[list[int]] = [[]]
    width = 0.0
    for k, slot in enumerate(slots):
        need = slot + (SEP_IN if k < len(slots) - 1 else 0.0)
        if rows[-1] and width + need > MAX_ROW_W_IN:
            rows.append([])
            width = 0.0
        rows[-1].append(k)
        width += need
    return rows


def _colorbar_below(fig: Figure, ax: Axes, im: AxesImage, width_in: float, gap_in: float, own_axes: bool = False) -> None:
    """A horizontal colour bar ``width_in`` wide under ``ax`` (or in ``ax`` itself), ticks at ``−v, 0, v``."""
    W, H = fig.get_size_inches()
    if own_axes:
        cax = ax
    else:
        x0, y0, w, _ = ax.get_position().bounds
        cax = fig.add_axes((x0 + w / 2 - width_in / 2 / W, y0 - (gap_in + CBAR_H_IN) / H, width_in / W, CBAR_H_IN / H))
    cax.set_label("<colorbar>")
    fig.colorbar(im, cax=cax, orientation="horizontal")
    v = float(im.norm.vmax)
    cax.set_xticks([-v, 0.0, v], [f"{-v:.2g}".replace("-", "−"), "0", f"{v:.2g}"])
    cax.tick_params(labelsize=6.5, length=2, pad=1)
    cax.set_xlim(-v, v)


def _one_sample_chain(chain: Chain, sample: int) -> Chain:
    """``chain`` restricted to one sample of its batch: every batched factor sliced
    (:func:`~jacobnet.viz.panels.one_sample`), so nothing of the other samples is materialised."""
    from jacobnet.chain.product import Chain

    if chain.batch is None:
        return chain
    return Chain(chain.target, [one_sample(f, sample) for f in chain.factors])


def checked_chain(chain: object, who: str, sums: bool = True) -> Chain | PathSum:
    """``chain`` if it is a :class:`~jacobnet.chain.Chain` (or, with ``sums``, a
    :class:`~jacobnet.chain.paths.PathSum`), else a ``TypeError`` naming ``who`` and what to pass.

    >>> checked_chain("x", "chain_figure")
    Traceback (most recent call last):
    ...
    TypeError: chain_figure expects a chain, net.chain(x, y) (a Chain, or the PathSum of a network with blocks), got str 'x'
    """
    if isinstance(chain, Chain) or (sums and isinstance(chain, PathSum)):
        return chain
    kinds = "a Chain, or the PathSum of a network with blocks" if sums else "a Chain; a PathSum's paths are chain.paths()"
    raise TypeError(f"{who} expects a chain, net.chain(x, y) ({kinds}), got {type(chain).__name__} {quote(chain, 60)}")


def _order_name(order: Order) -> str:
    return order if isinstance(order, str) else "explicit"


def chain_figure(
    chain: Chain | PathSum, order: Order = "reverse", *, mode: str = "materialised", sample: int = 0, scale: str = "panel"
) -> Figure:
    r"""The whole product ``target = F_1 · F_2 ⋯ F_k`` as heatmaps, ``×`` and ``=`` between.

    Cells are the same size in every panel, so a factor ``(m×n)`` is as wide as
    the next one ``(n×p)`` is tall (a long product wraps onto more rows rather
    than shrink its cells below :data:`MIN_CELL_IN`). The result is the product in
    ``order`` (the same matrix in every order); the title gives the order's
    parenthesisation and its cost, dense and through the structure, for the whole
    chain. ``mode`` picks the cost model that ``"optimal"`` minimises. For a
    batch, one ``sample`` is drawn, and only it is materialised. ``scale``: see
    :func:`product_figure`.

    A chain through blocks (a :class:`~jacobnet.chain.paths.PathSum`) is drawn as
    the sum it is, each path's product ``+`` the next ``=`` the gradient block
    (:func:`path_figures` draws each path's own product).

    >>> from jacobnet import build_network
    >>> c = build_network("3,4,2", "tanh", "mse").chain(np.ones(3), np.zeros(2))
    >>> [ax.get_xlabel() for ax in chain_figure(c, "forward").axes if ax.images]
    ['$1\\times 2$', '$2\\times 4$', '$4\\times 4$', '$4\\times 16$', '$1\\times 16$']
    """
    if isinstance(checked_chain(chain, "chain_figure"), PathSum):
        return _sum_figure(chain, order, mode, sample, scale)
    tree = chain.tree(order, mode)
    one = _one_sample_chain(chain, sample)
    panels = [Panel.of(f) for f in one.factors]
    value = np.asarray(one.evaluate(tree, mode))
    first, last = panels[0], panels[-1]
    result = Panel(value[0] if value.ndim == 3 else value, chain.target, rows=first.rows, cols=last.cols)
    names = [f"${tex_name(f.name)}$" for f in chain.factors]
    who = "" if chain.batch is None else f" for the batch of {chain.batch} (sample {sample} drawn)"
    title = (
        f"{_order_name(order)} order {tree_text(tree, names).replace('·', ' · ')}:  "
        f"{chain.flops(tree):,} multiply-adds dense, {chain.flops(tree, 'structured'):,} through the structure{who}"
    )
    return product_figure(panels, result, title, scale=scale)


def _sum_figure(chain: PathSum, order: Order, mode: str, sample: int, scale: str) -> Figure:
    """``target = path 1 + path 2 + …``: each path's product (its route under it), and their sum."""
    panels, total = [], None
    for i, c in enumerate(chain.paths(), start=1):
        one = _one_sample_chain(c, sample)
        value = np.asarray(one.evaluate(order, mode))
        value = value[0] if value.ndim == 3 else value
        total = value if total is None else total + value
        first, last = Panel.of(one.factors[0]), Panel.of(one.factors[-1])
        panels.append(Panel(value, f"path {i}", rows=first.rows, cols=last.cols))  # (mathtext: "path 1")
    result = Panel(total, chain.target, rows=panels[0].rows, cols=panels[0].cols)
    who = "" if chain.batch is None else f" (sample {sample} of {chain.batch})"
    title = f"{chain.target}: the sum of its {chain.n_paths} path products{who}; {chain.flops(order, mode):,} multiply-adds in all"
    return product_figure(panels, result, title, scale=scale, sign="+")


def path_figures(
    chain: Chain | PathSum, order: Order = "reverse", *, mode: str = "materialised", sample: int = 0, scale: str = "panel"
) -> list[Figure]:
    """One :func:`chain_figure` per path of ``chain`` (one for a straight chain), titled with its route.

    >>> import numpy as np
    >>> from jacobnet import Network, Dense, Residual, Tanh, MSE
    >>> net = Network([Dense(2, 3, seed=0), Residual([Dense(3, 3, seed=1), Tanh()]), Dense(3, 1, seed=2)], MSE())
    >>> [f.get_label().split(" = ")[1] for f in path_figures(net.chain(np.ones(2), np.zeros(1)))]
    ['J_loss · J_x(Dense 3) · J_θ(Dense 1)', 'J_loss · J_x(Dense 3) · J_x(Residual 1 › Tanh 1) · J_x(Residual 1 › Dense 2) · J_θ(Dense 1)']
    """
    figs = []
    for i, c in enumerate(checked_chain(chain, "path_figures").paths(), start=1):
        fig = chain_figure(c, order, mode=mode, sample=sample, scale=scale)
        if chain.n_paths > 1:
            fig.suptitle(f"path {i} of {chain.n_paths}: {c.route}", fontsize=9, y=1.0, va="top", color="#444444")
        figs.append(fig)
    return figs


def chain_step_figures(
    chain: Chain, order: Order = "reverse", *, mode: str = "materialised", sample: int = 0, scale: str = "panel"
) -> list[Figure]:
    """One figure per multiplication of ``chain`` in ``order`` (``Chain.steps``): ``left × right = product``.

    Each figure's title gives the step number, its FLOPs and the bytes it writes
    (for the drawn sample of a batch); the product keeps the row labels of the left
    operand and the column labels of the right one.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> c = build_network("3,4,2", "tanh", "softmax-ce").chain(np.ones(3), np.array([0.0, 1.0]))
    >>> [f.get_label() for f in chain_step_figures(c, "forward")][0]
    '∂a2/∂θ(Dense 1) = J_x(Tanh 1) · J_θ(Dense 1)'
    """
    one = _one_sample_chain(checked_chain(chain, "chain_step_figures", sums=False), sample)
    seen = {f.name: Panel.of(f) for f in one.factors}
    steps = list(one.steps(order, mode))
    per = "" if chain.batch is None else f" for sample {sample} of {chain.batch}"
    figs = []
    for s in steps:
        left, right = seen[s.left], seen[s.right]
        value = np.asarray(s.value)
        boxes = s.result.op.outline() if s.result.op is not None else ()
        seen[s.name] = Panel(value[0] if value.ndim == 3 else value, s.name, s.kind, rows=left.rows, cols=right.cols, boxes=boxes)
        title = (
            f"step {s.index} of {len(steps)}, {_order_name(order)} order:  "
            f"{s.flops:,} multiply-adds ({s.kernel}), {format_bytes(s.bytes)} written{per}"
        )
        figs.append(product_figure([left, right], seen[s.name], title, scale=scale))
    return figs
