"""Heatmaps of Jacobians: sign pattern, structure, sparsity and size at a glance.

A Jacobian ``J ∈ ℝ^{m×n}`` is drawn as an ``m × n`` grid of cells, rows =
outputs, columns = inputs (numerator layout), in a diverging colormap centred
at zero (``vmin = −vmax``): red is positive, blue negative, white zero.
Rows and columns carry the factor's own labels (``Factor.row_labels`` and
``col_labels``, filled by the network: ``a^{(l)}_i``, ``W^{(k)}_{i,j}``,
``b^{(k)}_i``, ``ŷ_j`` …) where they fit, thinned ticks where they don't; a
bare array is labelled with 1-based indices.

A matrix with more entries than the drawn image has pixels (at
:data:`~jacobnet.viz.figstyle.DPI`) cannot be shown cell by cell: it is drawn
block-averaged, each cell the mean of ``k_r × k_c`` entries (with ``spy=True``:
dark where any entry of the block is nonzero), and the title says so
(:func:`pixel_blocks`). What matplotlib then copies (its RGBA images) is bounded
by the figure's pixels, whatever the matrix: the matrix itself is the one big
array, materialised under the memory budget (:mod:`jacobnet.core.memory`).

Every function builds a :class:`matplotlib.figure.Figure` directly (no
pyplot, no global figure state) and returns it; nothing is shown. The text
helpers that turn project names into mathtext live in :mod:`jacobnet.viz.figstyle`.

>>> import numpy as np
>>> fig = heatmap(np.array([[1.0, 0.0, -2.0], [0.0, 3.0, 0.0]]), name="A")
>>> fig.get_label()
'A ∈ ℝ^{2×3}'
>>> fig.axes[0].images[0].get_clim()
(-3.0, 3.0)
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from jacobnet.core.labels import Labels
from jacobnet.viz.figstyle import CMAP, DPI, FONT_PT, JFigure, plain_title, styled, tex_title
from jacobnet.viz.panels import Panel

if TYPE_CHECKING:
    from jacobnet.core.operator import Box

Array = np.ndarray
CELL_IN = 0.42  # side of one cell, inches, for small matrices
MAX_W_IN, MAX_H_IN = 11.0, 7.0  # largest image, inches
ANNOTATE_MAX_CELLS = 160  # write the values into the cells up to this many
SPY_CMAP = ListedColormap(["#ffffff", "#1f3b73"])
EDGE = "#111111"
NICE_STEPS = [k * 10**e for e in range(12) for k in (1, 2, 5)]
MPL_BYTES_PER_CELL = 64
"""What matplotlib allocates per drawn cell while it draws an image (its float copy, mask, scaled and RGBA arrays), bytes."""
_TEX_CMD = re.compile(r"\\[a-zA-Z]+|[{}_^]")  # what mathtext does not print


def centred_norm(A: Array) -> Normalize:
    """``Normalize(−v, v)`` with ``v = max|A|`` (``v = 1`` for an all-zero or empty matrix).

    >>> n = centred_norm(np.array([[1.0, -4.0, 2.0]]))
    >>> n.vmin, n.vmax
    (-4.0, 4.0)
    """
    v = max(float(A.max()), -float(A.min())) if A.size else 0.0  # (no |A| copy of a big matrix)
    if not np.isfinite(v):
        raise ValueError("heatmap: the matrix holds NaN or inf")
    return Normalize(vmin=-(v or 1.0), vmax=v or 1.0)


def pixel_blocks(shape: tuple[int, int], size_in: tuple[float, float]) -> tuple[int, int]:
    """``(k_r, k_c)``: the entries per drawn cell for a matrix ``(m, n)`` with more entries than its image of
    ``size_in = (w, h)`` inches has pixels at :data:`DPI`: ``k_r = ⌈m / (h·DPI)⌉``, ``k_c = ⌈n / (w·DPI)⌉``, a pixel per cell.

    ``(1, 1)`` — drawn cell by cell — when ``m·n`` is at most the image's pixels (matplotlib then
    resamples it as it draws, within memory bounded by the figure's pixels).

    >>> pixel_blocks((128, 100480), (11.0, 1.8)), pixel_blocks((4, 16), (6.72, 1.68)), pixel_blocks((32, 3232), (11.0, 1.8))
    ((1, 84), (1, 1), (1, 1))
    """
    rows_px, cols_px = max(1, int(size_in[1] * DPI)), max(1, int(size_in[0] * DPI))
    if shape[0] * shape[1] <= rows_px * cols_px:
        return 1, 1
    return max(1, math.ceil(shape[0] / rows_px)), max(1, math.ceil(shape[1] / cols_px))


def block_reduce(A: Array, blocks: tuple[int, int], spy: bool = False) -> Array:
    """``A`` ``(m, n)`` as ``⌈m/k_r⌉ × ⌈n/k_c⌉`` cells: the mean of each ``k_r × k_c`` block (the last ones may be smaller), or with
    ``spy`` whether any entry of the block is nonzero (``1.0``/``0.0``). The axis cut most is reduced first: nothing as big as ``A`` is made.

    >>> block_reduce(np.arange(12.0).reshape(2, 6), (1, 4))
    array([[ 1.5,  4.5],
           [ 7.5, 10.5]])
    >>> block_reduce(np.eye(4), (2, 2), spy=True)
    array([[1., 0.],
           [0., 1.]])
    """
    out = A != 0 if spy else A
    for axis in sorted((0, 1), key=lambda a: -blocks[a]):
        k, size = blocks[axis], A.shape[axis]
        if k > 1:
            starts = np.arange(0, size, k)
            out = (np.logical_or if spy else np.add).reduceat(out, starts, axis=axis)
            if not spy:
                counts = np.diff(np.append(starts, size)).astype(np.float64)
                out /= counts[:, None] if axis == 0 else counts[None, :]  # (in place: the reduced copy is the only one)
    return out.astype(np.float64, copy=False)


def image_size(shape: tuple[int, int]) -> tuple[float, float]:
    """Width and height of the drawn matrix, inches: square cells (0.42–0.6 in), shrunk to fit
    ``MAX_W_IN × MAX_H_IN``; a very flat matrix gets taller cells so its rows stay visible.

    >>> image_size((4, 16))
    (6.72, 1.68)
    """
    m, n = max(shape[0], 1), max(shape[1], 1)
    big = min(max(3.0 / max(m, n), CELL_IN), 0.6)
    c = min(big, MAX_W_IN / n, MAX_H_IN / m)
    return max(n * c, 0.3), max(m * c, min(m * big, 1.8))


def axes_inches(ax: Axes) -> tuple[float, float]:
    """The width and height of ``ax`` on its figure, inches."""
    W, H = ax.figure.get_size_inches()
    box = ax.get_position()
    return box.width * W, box.height * H


def draw_matrix(ax: Axes, A: Array, norm: Normalize | None = None, *, spy: bool = False, cmap: str = CMAP,
                blocks: tuple[int, int] | None = None) -> AxesImage:
    """Draw ``A`` cell by cell on ``ax`` (cell ``(i, j)`` centred at ``x = j, y = i``), or, when its cells would be smaller
    than a pixel, block-averaged (:func:`pixel_blocks` of the axes, or ``blocks``; :func:`block_reduce`) in the same coordinates.

    So what matplotlib copies while drawing (its float, scaled and RGBA arrays, about
    :data:`MPL_BYTES_PER_CELL` bytes a cell) grows with the figure's pixels, never with the matrix.
    ``norm``: default centred on what is drawn (:func:`centred_norm`).
    """
    m, n = A.shape
    blocks = blocks or pixel_blocks((m, n), axes_inches(ax))
    shown = A if blocks == (1, 1) else block_reduce(A, blocks, spy)
    where = {} if blocks == (1, 1) else {"extent": (-0.5, shown.shape[1] * blocks[1] - 0.5, shown.shape[0] * blocks[0] - 0.5, -0.5)}
    if spy:
        im = ax.imshow(shown != 0, cmap=SPY_CMAP, norm=Normalize(0, 1), interpolation="nearest", aspect="auto", **where)
    else:
        im = ax.imshow(shown, cmap=cmap, norm=norm or centred_norm(shown), interpolation="nearest", aspect="auto", **where)
    if where:  # (the last blocks may reach past the matrix: show the matrix, no more)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(m - 0.5, -0.5)
    if m <= 40 and n <= 60:  # white cell borders while cells are big enough to see them (lines, not minor ticks: cheaper)
        segments = [((j, -0.5), (j, m - 0.5)) for j in np.arange(-0.5, n)] + [((-0.5, i), (n - 0.5, i)) for i in np.arange(-0.5, m)]
        borders = LineCollection(segments, colors="white" if not spy else "#d0d0d0", linewidths=0.8, zorder=1.5)
        ax.add_collection(borders, autolim=False)
    for side in ax.spines.values():
        side.set_color("#888888")
    return im


def thin(labels: Sequence[str], length_in: float, font_pt: float) -> tuple[list[int], list[str]]:
    """Tick positions and labels: all of them if they fit in ``length_in`` inches, else every k-th
    for a round ``k`` (1, 2, 5, 10, 20, …).

    >>> thin([str(i) for i in range(1, 31)], length_in=1.0, font_pt=9.0)[0]  # 5 fit: every 6th → every 10th
    [0, 10, 20]
    """
    fit = max(1, int(length_in * 72 / (font_pt * 1.6)))
    step = next(k for k in NICE_STEPS if k * fit >= len(labels)) if len(labels) > fit else 1
    pos = list(range(0, len(labels), step))
    return pos, [labels[i] for i in pos]


def set_ticks(ax: Axes, rows: Sequence[str], cols: Sequence[str], size_in: tuple[float, float], font_pt: float) -> None:
    """Row labels on the left, column labels below (rotated), thinned to fit."""
    pos, text = thin(cols, size_in[0], font_pt)
    wide = max((len(_TEX_CMD.sub("", t)) for t in text), default=0) * font_pt * 0.6 > 72 * size_in[0] / max(len(pos), 1)
    ax.set_xticks(pos, [f"${t}$" for t in text], rotation=90 if wide else 0)
    pos, text = thin(rows, size_in[1], font_pt)
    ax.set_yticks(pos, [f"${t}$" for t in text])
    ax.tick_params(labelsize=font_pt, length=2)


def colorbar(fig: Figure, ax: Axes, im: AxesImage) -> None:
    """A colorbar beside the drawn matrix, as tall as it (at least 1.1 in), centred on it."""
    W, H = fig.get_size_inches()
    x0, y0, w, h = ax.get_position().bounds
    height = max(h, 1.1 / H)
    cax = fig.add_axes((x0 + w + 0.15 / W, y0 + (h - height) / 2, 0.16 / W, height))
    fig.colorbar(im, cax=cax)
    cax.tick_params(labelsize=FONT_PT)


def text_in(labels: Sequence[str], font_pt: float) -> float:
    """A generous estimate of the printed width, in inches, of the longest mathtext label."""
    return max((len(_TEX_CMD.sub("", t)) for t in labels), default=0) * font_pt * 0.62 / 72


def outline(ax: Axes, boxes: Sequence[Box], shape: tuple[int, int], names: bool = True) -> None:
    """Outline the structure: the :class:`~jacobnet.core.operator.Box` es of an operator or of a batch
    Jacobian's samples, their labels above the axes with ``names``."""
    m, n = shape
    cell_pt = 72 * ax.get_position().width * ax.figure.get_figwidth() / max(n, 1)
    lw = float(np.clip(cell_pt / 20, 0.4, 1.4))
    box = dict(fill=False, edgecolor=EDGE, linewidth=lw, zorder=3, clip_on=False)
    for b in boxes:
        if b.style == "diagonal" and b.rows == b.cols:
            if b.rows > 40:
                ax.plot([b.col - 0.5, b.col + b.cols - 0.5], [b.row - 0.5, b.row + b.rows - 0.5], color=EDGE, linewidth=lw)
            for i in range(b.rows if b.rows <= 40 else 0):
                ax.add_patch(Rectangle((b.col + i - 0.5, b.row + i - 0.5), 1, 1, **box))
        elif b.style in ("box", "dashed"):
            dashed = {"linestyle": "--"} if b.style == "dashed" else {}
            ax.add_patch(Rectangle((b.col - 0.5, b.row - 0.5), b.cols, b.rows, **box, **dashed))
    for b in boxes:
        if b.style == "rule":
            ax.axvline(b.col - 0.5, color=EDGE, linewidth=1.5 * lw)
    if not names:
        return
    top = dict(transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=FONT_PT)
    for b in boxes:
        if b.label:
            ax.text(b.col + (b.cols - 1) / 2, 1.01, f"${b.label}$", **top)


def annotate(ax: Axes, A: Array, norm: Normalize, font_pt: float) -> None:
    """Write each nonzero value into its cell (2 significant digits); zeros stay blank."""
    for (i, j), v in np.ndenumerate(A):
        if v != 0:
            dark = abs(v) > 0.6 * norm.vmax
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=font_pt, color="white" if dark else "#222222")


def figure_around(
    img: tuple[float, float], rows: Sequence[str], cols: Sequence[str], title: str, *, colorbar_room: bool = True, top_extra: float = 0.0
) -> Figure:
    """A figure with one axes of exactly ``img`` inches, and margins that fit its labels and title."""
    img_w, img_h = img
    left = 0.3 + text_in(thin(rows, img_h, FONT_PT)[1], FONT_PT)
    bottom = 0.35 + text_in(thin(cols, img_w, FONT_PT)[1], FONT_PT)
    top = 0.45 + 0.22 * title.count("\n") + top_extra
    right = 1.0 if colorbar_room else 0.25
    W = max(left + img_w + right, text_in([title], 11.0) + 0.6)
    H = max(bottom + img_h + top, 1.1 + 0.8 if colorbar_room else 0.0)
    y0 = bottom + (H - bottom - img_h - top) / 2
    fig = JFigure(figsize=(W, H))
    fig.add_axes((left / W, y0 / H, img_w / W, img_h / H))
    return fig


def heatmap(
    J: object,
    *,
    name: str | None = None,
    sample: int | str = 0,
    structure: bool = False,
    spy: bool = False,
    values: bool | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cmap: str = CMAP,
) -> Figure:
    r"""A heatmap of one Jacobian ``J ∈ ℝ^{m×n}`` (a chain ``Factor`` or an array) — returns the Figure.

    Args:
        J: a :class:`~jacobnet.chain.Factor` (its ``name``, ``kind``, labels and values are used),
            a structured operator, or an array ``(m, n)``; a batch ``(B, m, n)`` shows one
            ``sample`` (a factor's other samples are never materialised).
        name: override (or, for an array, supply) the title name.
        sample: which sample of a batch to draw, or ``"block"`` for the batch Jacobian:
            block-diagonal ``(B·m, B·n)`` for ``J_x``, stacked ``(B·m, n_params)`` for ``J_θ``
            (its samples' blocks outlined with ``structure=True``).
        structure: outline the structure (the diagonal; the blocks ``I ⊗ xᵀ`` and ``I``).
        spy: draw the sparsity pattern (nonzero / zero) instead of the values.
        values: write the values into the cells (default: when there are few cells; never when block-averaged).
        row_labels, col_labels: mathtext labels (without ``$``); default: the factor's
            ``row_labels``/``col_labels``, else 1-based indices.

    The title is ``name ∈ ℝ^{m×n}`` in mathtext; ``fig.get_label()`` holds it as plain text. A matrix
    with more entries than the image has pixels is drawn block-averaged, and the title says how
    (:func:`pixel_blocks`); the colour bar is then the scale of the block means.

    >>> import numpy as np
    >>> J = np.array([[0.5, 0.0, -2.0], [0.0, 1.0, 0.0]])
    >>> fig = heatmap(J, name="J_x(Dense 1)", col_labels=["x_{1}", "x_{2}", "x_{3}"])
    >>> fig.get_label(), fig.axes[0].get_title()
    ('J_x(Dense 1) ∈ ℝ^{2×3}', '$J_{x}(\\mathrm{Dense\\ 1}) \\in \\mathbb{R}^{2\\times 3}$')
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()], [t.get_text() for t in fig.axes[0].get_yticklabels()]
    (['$x_{1}$', '$x_{2}$', '$x_{3}$'], ['$1$', '$2$'])
    >>> fig.axes[0].images[0].get_clim()
    (-2.0, 2.0)
    """
    p = Panel.of(J, sample)
    A, name = p.matrix, name or p.name
    m, n = A.shape
    rows, cols = _labels(row_labels, p.rows, m), _labels(col_labels, p.cols, n)
    img_w, img_h = image_size((m, n))
    blocks = pixel_blocks((m, n), (img_w, img_h))
    norm = centred_norm(A)  # (refuses NaN and inf; block-averaged, the colours are the means': draw_matrix's own norm)
    title = tex_title(name, (m, n))
    if spy:
        nnz = int(np.count_nonzero(A))
        title += f"\nnonzeros: {nnz} of {m * n} ({100 * nnz / max(m * n, 1):.0f}%)"
    if blocks != (1, 1):
        each = "dark where any entry is nonzero" if spy else "the mean of its entries"
        title += f"\nmore entries than pixels: each cell is a block of {blocks[0]} × {blocks[1]} entries, {each}"
    if p.note:
        title += f"\n{p.note}"
    labelled = structure and any(b.label for b in p.boxes)
    with styled():
        fig = figure_around((img_w, img_h), rows, cols, title, colorbar_room=not spy, top_extra=0.25 * labelled)
        ax = fig.axes[0]
        im = draw_matrix(ax, A, norm if blocks == (1, 1) else None, spy=spy, cmap=cmap, blocks=blocks)
        set_ticks(ax, rows, cols, (img_w, img_h), FONT_PT)
        if structure:
            outline(ax, p.boxes, (m, n))
        few = m * n <= ANNOTATE_MAX_CELLS and img_w / max(n, 1) >= 0.35 and not spy
        if blocks == (1, 1) and (values if values is not None else few):  # (never one text per entry of a block-averaged matrix)
            annotate(ax, A, norm, FONT_PT - 2)
        if not spy:
            colorbar(fig, ax, im)
        ax.set_title(title, pad=18 if labelled else 8)
        fig.set_label(plain_title(name, (m, n)))
    return fig


def _labels(given: Sequence[str] | None, own: Sequence[str], k: int) -> Sequence[str]:
    """An axis's labels: ``given``, else the panel's ``own``, else 1-based indices — never listed whole (a 100 480-column axis)."""
    chosen = given or own
    return chosen if len(chosen) else Labels(k, lambda i: str(i + 1))
