"""The input Jacobian of a convolution beside its kernel: :func:`kernel_figure`.

``J_x`` of a convolution holds its kernel and nothing else: block ``(o, c)`` of the block-Toeplitz
matrix is ``W[o, c]`` slid along the input, one row per output position, zeros elsewhere. The
figure draws ``J_x`` with its blocks and bands outlined (:func:`jacobnet.viz.heatmaps.heatmap`,
``structure=True``) and, beside it, the kernel ``W`` as its own small heatmap in the same colours:
tile ``(o, c)`` in the place of block ``(o, c)``, so every coloured cell of ``J_x`` is found in ``W``.

>>> from jacobnet.core.conv import Conv1d
>>> fig = kernel_figure(Conv1d(2, 1, 3, 5, seed=0))
>>> fig.get_label()
'J_x(Conv1d) ∈ ℝ^{3×10} beside its kernel W ∈ ℝ^{1×2×3}'
>>> fig.axes[-1].images[0].get_array().shape           # the kernel: C_out rows, C_in tiles of K
(1, 6)
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from jacobnet.core.conv import Conv1d, Conv2d
from jacobnet.core.operator import Box
from jacobnet.core.validate import as_input
from jacobnet.viz.figstyle import FONT_PT, shape_tex, styled
from jacobnet.viz.heatmaps import ANNOTATE_MAX_CELLS, annotate, draw_matrix, heatmap, outline

Array = np.ndarray
GAP_IN = 0.75  # from the right edge of J_x's figure to the kernel's image, inches (room for its row labels)
KERNEL_CELL_IN = (0.2, 0.42)  # a kernel cell's side, inches: at least, at most


def entry_names(letter: str, shape: tuple[int, ...]) -> list[str]:
    """``letter_{c,i,…}`` for every entry of an array of ``shape``, row-major, 1-based (the flattened order).

    >>> entry_names("x", (2, 2))
    ['x_{1,1}', 'x_{1,2}', 'x_{2,1}', 'x_{2,2}']
    """
    return [f"{letter}_{{{','.join(str(i + 1) for i in idx)}}}" for idx in itertools.product(*(range(n) for n in shape))]


def kernel_tiles(W: Array) -> Array:
    """The kernel ``(C_out, C_in, *K)`` as one matrix: tile ``(o, c)`` = ``W[o, c]`` (a row of ``K`` in 1-D, ``K_h × K_w`` in 2-D).

    >>> kernel_tiles(np.arange(8.0).reshape(2, 2, 2)).tolist()          # 1-D: (C_out, C_in·K)
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    >>> kernel_tiles(np.arange(4.0).reshape(1, 2, 2, 1)).tolist()       # 2-D: (C_out·K_h, C_in·K_w)
    [[0.0, 2.0], [1.0, 3.0]]
    """
    c_out, c_in, *K = W.shape
    kh, kw = (1, K[0]) if len(K) == 1 else K
    return W.reshape(c_out, c_in, kh, kw).transpose(0, 2, 1, 3).reshape(c_out * kh, c_in * kw)


def kernel_figure(layer: Conv1d | Conv2d, x: object = None, *, name: str | None = None, values: bool | None = None) -> Figure:
    """``J_x`` of a convolution layer at ``x`` (default zeros; ``J_x`` does not depend on it), its structure outlined,
    and the kernel ``W`` drawn beside it in the same colours — returns the Figure.

    Rows and columns of ``J_x`` are named by the entries they flatten, ``y_{o,t}`` and ``x_{c,i}``
    (``y_{o,i,j}``, ``x_{c,i,j}`` in 2-D). ``values``: write the values into the cells (default: when few).

    >>> from jacobnet.core.conv import Conv2d
    >>> fig = kernel_figure(Conv2d(1, 2, (2, 1), 3, 2, seed=0))
    >>> [ax.get_title() for ax in fig.axes[::2]]
    ['$J_{x}(\\\\mathrm{Conv2d}) \\\\in \\\\mathbb{R}^{8\\\\times 6}$', 'kernel $W \\\\in \\\\mathbb{R}^{2\\\\times 1\\\\times 2\\\\times 1}$']
    """
    if not isinstance(layer, (Conv1d, Conv2d)):
        raise TypeError(f"kernel_figure: expects a Conv1d or Conv2d layer, got {layer!r}")
    x = np.zeros(layer.n_in) if x is None else as_input(x, layer.name, layer.n_in)
    op = layer.jacobian_op(x[0] if x.ndim == 2 else x, "input")
    rows, cols = entry_names("y", layer.output_shape), entry_names("x", layer.input_shape)
    fig = heatmap(op, name=name or f"J_x({type(layer).__name__})", structure=True, values=values, row_labels=rows, col_labels=cols)
    with styled():
        _draw_kernel(fig, layer.W, fig.axes[0].images[0].norm, values)
    fig.set_label(f"{fig.get_label()} beside its kernel W ∈ ℝ^{{{'×'.join(map(str, layer.W.shape))}}}")
    return fig


def _draw_kernel(fig: Figure, W: Array, norm: Normalize, values: bool | None) -> Axes:
    """Widen ``fig`` and draw the kernel tiles right of it, top-aligned with ``J_x``, in ``J_x``'s colours."""
    tiles = kernel_tiles(W)
    kr, kc = tiles.shape
    W0, H0 = fig.get_size_inches()
    _, y0, _, h = fig.axes[0].get_position().bounds
    top = (y0 + h) * H0
    cell = float(np.clip(h * H0 / kr, *KERNEL_CELL_IN))
    width, height = kc * cell, kr * cell
    W1, H1 = W0 + GAP_IN + width + 0.3, max(H0, height + 1.2)
    bottom = max(top - height, 0.55)
    for ax in fig.axes:  # keep every axes where it is, in inches, on the wider figure
        bx, by, bw, bh = ax.get_position().bounds
        ax.set_position((bx * W0 / W1, by * H0 / H1, bw * W0 / W1, bh * H0 / H1))
    fig.set_size_inches(W1, H1)
    ax = fig.add_axes(((W0 + GAP_IN) / W1, bottom / H1, width / W1, height / H1))
    draw_matrix(ax, tiles, norm)
    _kernel_ticks(ax, W)
    c_out, c_in = W.shape[:2]
    kh, kw = kr // c_out, kc // c_in
    boxes = [Box(o * kh, c * kw, kh, kw, "box", "" if o else f"c={c + 1}") for o in range(c_out) for c in range(c_in)]
    outline(ax, boxes, tiles.shape)
    if values if values is not None else tiles.size <= ANNOTATE_MAX_CELLS and cell >= 0.35:
        annotate(ax, tiles, norm, FONT_PT - 2)
    ax.set_title(f"kernel $W {shape_tex(W.shape)}$", pad=18)
    return ax


def _kernel_ticks(ax: Axes, W: Array) -> None:
    """Columns: the kernel offset ``k`` (2-D: ``v``) in each tile; rows: the output channel ``o`` (2-D: ``o, u``)."""
    c_out, c_in, *K = W.shape
    kh, kw = (1, K[0]) if len(K) == 1 else K
    ax.set_xticks(range(c_in * kw), [f"${v + 1}$" for _ in range(c_in) for v in range(kw)])
    if len(K) == 1:
        ax.set_yticks(range(c_out), [f"$o={o + 1}$" for o in range(c_out)])
        ax.set_xlabel("$k$", fontsize=FONT_PT)
    else:
        ax.set_yticks(range(c_out * kh), [f"${o + 1},{u + 1}$" for o in range(c_out) for u in range(kh)])
        ax.set_xlabel("$v$", fontsize=FONT_PT)
        ax.set_ylabel("$o, u$", fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT, length=2)
