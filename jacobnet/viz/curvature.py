"""Heatmaps of curvature: the Hessian by blocks of layer pairs, and its Gauss–Newton and residual parts beside it.

``H = ∂²L/∂θ²`` is ``n_params × n_params``; its rows and columns are the parameters
of the network's distinct layers, one after another, so it falls into blocks
``∂²L/∂θ_k ∂θ_l``, one per pair of layers (a shared layer's block once). The figures
outline those blocks and name them by layer, on one colour scale centred at zero:

* :func:`hessian_figure` — one matrix (``H``, ``GN``, …) of a network;
* :func:`curvature_figure` — ``H = GN + R`` drawn as the decomposition it is
  (a :class:`~jacobnet.chain.curvature.HessianParts`): three panels, one scale.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("2,3,2", "tanh", "softmax-ce", seed=0)
>>> x, y = np.array([0.5, -1.0]), np.array([0.0, 1.0])
>>> fig = curvature_figure(net.hessian(x, y, parts=True))
>>> fig.get_label(), len(fig.axes)            # three panels and a colour bar
('H = GN + R ∈ ℝ^{17×17}', 4)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from matplotlib.colors import Normalize, SymLogNorm
from matplotlib.figure import Figure

from jacobnet.core.operator import Box
from jacobnet.viz.figstyle import FONT_PT, JFigure, styled, tex_labels
from jacobnet.viz.heatmaps import centred_norm, draw_matrix, outline, set_ticks, text_in, thin

if TYPE_CHECKING:
    from jacobnet.chain.curvature import HessianParts
    from jacobnet.net.network import Network

Array = np.ndarray
PANEL_IN = 3.6  # side of one panel, inches (at most)
TITLES = {
    "total": r"H = \partial^2 L/\partial\theta^2",
    "gauss_newton": r"\mathrm{GN} = J^T H_\ell\, J",
    "residual": r"R = \sum_k \partial\ell/\partial a_{L,k}\, \nabla^2 a_{L,k}",
}


def layer_blocks(names: Sequence[str], slices: Sequence[slice]) -> list[Box]:
    """One :class:`~jacobnet.core.operator.Box` per pair of layers ``(k, l)``: rows ``θ_k``, columns ``θ_l``; the top row named.

    >>> [(b.row, b.col, b.rows, b.cols, b.label) for b in layer_blocks(["Dense 1", "Dense 2"], [slice(0, 3), slice(3, 5)])][:2]
    [(0, 0, 3, 3, '\\\\mathrm{Dense\\\\ 1}'), (0, 3, 3, 2, '\\\\mathrm{Dense\\\\ 2}')]
    """
    boxes = []
    for k, rows in enumerate(slices):
        for cols, name in zip(slices, names):
            label = r"\mathrm{" + name.replace(" ", r"\ ") + "}" if k == 0 else ""
            boxes.append(Box(rows.start, cols.start, rows.stop - rows.start, cols.stop - cols.start, "box", label))
    return boxes


def _panels(fig: Figure, mats: Sequence[Array], titles: Sequence[str], boxes: list[Box], labels: Sequence[str],
            norm: Normalize) -> None:
    """Draw the matrices side by side on ``fig``'s axes, blocks outlined, ticks thinned; a colour bar at the right."""
    n = mats[0].shape[0]
    side = min(PANEL_IN, max(1.6, 0.3 * n))
    im = None
    for ax, A, title in zip(fig.axes, mats, titles):
        im = draw_matrix(ax, A, norm)
        set_ticks(ax, labels, labels, (side, side), FONT_PT)
        outline(ax, boxes, A.shape)
        ax.set_title(f"${title}$", pad=20)
    W, H = fig.get_size_inches()
    x0, y0, w, h = fig.axes[len(mats) - 1].get_position().bounds
    cax = fig.add_axes((x0 + w + 0.15 / W, y0, 0.16 / W, h))
    fig.colorbar(im, cax=cax)
    cax.tick_params(labelsize=FONT_PT)


def _figure(count: int, n: int, labels: Sequence[str]) -> Figure:
    """A figure with ``count`` square panels side by side, margins fitting the labels."""
    side = min(PANEL_IN, max(1.6, 0.3 * n))
    left = 0.3 + text_in(thin(labels, side, FONT_PT)[1], FONT_PT)
    bottom, top, gap, right = left + 0.05, 0.9, left + 0.35, 0.9
    W, H = left + count * side + (count - 1) * gap + right, bottom + side + top
    fig = JFigure(figsize=(W, H))
    for i in range(count):
        fig.add_axes(((left + i * (side + gap)) / W, bottom / H, side / W, side / H))
    return fig


def scale_norm(A: Array, scale: str, who: str) -> Normalize:
    """The colour scale of ``A``: ``"linear"`` (centred at 0, ``±max|A|``) or ``"symlog"``
    (linear within ``±10⁻³ max|A|``, logarithmic beyond: small blocks stay visible beside large ones).

    >>> n = scale_norm(np.array([[1.0, -100.0]]), "symlog", "f")
    >>> n.vmin, n.vmax, n.linthresh
    (-100.0, 100.0, 0.1)
    """
    norm = centred_norm(A)
    if scale == "linear":
        return norm
    if scale != "symlog":
        raise ValueError(f"{who}: scale must be 'linear' or 'symlog', got {scale!r}")
    return SymLogNorm(linthresh=1e-3 * norm.vmax, vmin=norm.vmin, vmax=norm.vmax, base=10)


def _checked(A: object, n: int, who: str) -> Array:
    A = np.asarray(A, dtype=np.float64)
    if A.shape != (n, n):
        raise ValueError(f"{who}: expected a square matrix of shape ({n}, {n}) (n_params), got {A.shape}")
    if not np.isfinite(A).all():
        raise ValueError(f"{who}: the matrix holds NaN or inf")
    return A


def hessian_figure(H: object, net: Network, name: str = "total", scale: str = "linear") -> Figure:
    """One ``(n_params, n_params)`` curvature matrix of ``net``, its blocks by layer pair outlined and named.

    ``name``: ``"total"``, ``"gauss_newton"`` or ``"residual"`` (the title), or any mathtext;
    ``scale``: ``"linear"`` or ``"symlog"`` (:func:`scale_norm`).

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("2,3,1", "tanh", "mse", seed=0)
    >>> x, y = np.array([0.5, -1.0]), np.array([0.3])
    >>> fig = hessian_figure(net.gauss_newton(x, y), net, "gauss_newton")
    >>> fig.get_label(), len([p for p in fig.axes[0].patches])      # 2 layers: 4 blocks
    ('gauss_newton ∈ ℝ^{13×13}', 4)
    """
    n = net.n_params
    A = _checked(H, n, "hessian_figure")
    labels = tex_labels(net.param_labels())
    boxes = layer_blocks(net.param_names(), [net.layer_slice(layer) for layer in net.param_layers])
    with styled():
        fig = _figure(1, n, labels)
        _panels(fig, [A], [TITLES.get(name, name)], boxes, labels, scale_norm(A, scale, "hessian_figure"))
        fig.set_label(f"{name} ∈ ℝ^{{{n}×{n}}}")
    return fig


def curvature_figure(parts: HessianParts, scale: str = "linear") -> Figure:
    """``H``, ``GN = Jᵀ H_ℓ J`` and the residual ``R = H − GN`` side by side, one colour scale, blocks by layer pair.

    The scale (``"linear"`` or ``"symlog"``, :func:`scale_norm`; symlog for a network
    with a few large entries) is that of the largest entry of the three, so the parts' sizes compare;
    where ``R`` is white, Gauss–Newton is the whole Hessian (a perfect fit, or a network
    linear in its parameters up to the loss).
    """
    n = parts.total.shape[0]
    mats = [_checked(getattr(parts, k), n, "curvature_figure") for k in ("total", "gauss_newton", "residual")]
    labels = tex_labels(parts.labels)
    boxes = layer_blocks(parts.names, parts.slices)
    with styled():
        fig = _figure(3, n, labels)
        _panels(fig, mats, [TITLES[k] for k in ("total", "gauss_newton", "residual")], boxes, labels, scale_norm(np.stack(mats), scale, "curvature_figure"))
        fig.set_label(f"H = GN + R ∈ ℝ^{{{n}×{n}}}")
    return fig
