"""Spectra across depth drawn: where gradients vanish, explode, or keep their length.

:func:`spectrum_figure` draws :class:`~jacobnet.chain.spectra.Spectra` (from
:func:`jacobnet.net.depth.singular_values`, :func:`~jacobnet.net.depth.sweep` or
:func:`~jacobnet.net.depth.through_time`): for each network, ``σ_max`` and ``σ_min`` of
``∂a_L/∂a_l`` and the band of all its singular values against the depth of the
product, on one shared log scale, several networks side by side — a grid of
activations × inits for a sweep. Same habits as :mod:`jacobnet.viz.plots`: a
:class:`~jacobnet.viz.figstyle.JFigure` built directly, jacobnet's style, returned
and never shown.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from jacobnet.chain.spectra import Spectra
from jacobnet.viz.figstyle import FONT_PT, JFigure, styled

Array = np.ndarray
MAX_COLOUR, MIN_COLOUR, BAND_COLOUR = "#b2182b", "#2166ac", "#7f7f7f"
XS = ("weights", "depth")


def _series(s: Spectra, x: str) -> tuple[Array, list[int]]:
    """The x values and the product indices to draw: weight layers (at :meth:`Spectra.weight_steps`) or every depth."""
    idx = s.weight_steps() if x == "weights" else list(range(len(s.depths)))
    return np.array([s.weights[i] if x == "weights" else s.depths[i] for i in idx]), idx


def _curves(s: Spectra, idx: list[int]) -> dict[str, Array]:
    """σ_max, σ_min (geometric means over a batch), the round-off level and the quantiles of all singular values."""
    def geo(a: Array) -> Array:
        with np.errstate(divide="ignore"):
            return np.exp(np.log(a).mean(axis=0)) if a.ndim == 2 else a

    pooled = [s.values[i].ravel() for i in idx]
    q = np.array([np.quantile(v, [0.0, 0.25, 0.75, 1.0]) for v in pooled])
    return {"max": geo(s.sigma_max[..., idx]), "min": geo(s.sigma_min[..., idx]), "roundoff": geo(s.roundoff[..., idx]),
            "lo": q[:, 0], "q1": q[:, 1], "q3": q[:, 2], "hi": q[:, 3]}


def _floor(curves: list[dict[str, Array]]) -> float:
    """Where a singular value at round-off is drawn: a decade below the smallest resolved σ_min or σ_max."""
    resolved = [c["min"][c["min"] > c["roundoff"]] for c in curves] + [c["max"][c["max"] > 0] for c in curves]
    smallest = min((float(r.min()) for r in resolved if r.size), default=1e-16)
    return smallest / 10


SIGMA_MAX = {"layers": r"$\sigma_{\max} = \|\partial a_L/\partial a_l\|_2$", "time steps": r"$\sigma_{\max} = \|\partial h_T/\partial h_t\|_2$"}
"""The legend of the σ_max curve, by what a depth counts (:attr:`jacobnet.chain.spectra.Spectra.unit`)."""


def _panel(ax: Axes, xs: Array, c: dict[str, Array], floor: float, head: str, unit: str = "layers") -> None:
    """One network: the band of all singular values, its middle half, σ_max and σ_min (at round-off: hollow, on the floor)."""
    lift = lambda a: np.where(a > c["roundoff"], np.maximum(a, floor), floor)
    ax.fill_between(xs, lift(c["lo"]), c["hi"], color=BAND_COLOUR, alpha=0.18, linewidth=0, label="all singular values")
    ax.fill_between(xs, lift(c["q1"]), c["q3"], color=BAND_COLOUR, alpha=0.35, linewidth=0, label="their middle half")
    ax.plot(xs, np.maximum(c["max"], floor), color=MAX_COLOUR, linewidth=1.4, label=SIGMA_MAX.get(unit, SIGMA_MAX["layers"]))
    resolved = c["min"] > c["roundoff"]
    ax.plot(xs, np.where(resolved, np.maximum(c["min"], floor), np.nan), color=MIN_COLOUR, linewidth=1.4, label=r"$\sigma_{\min}$")
    ax.plot(xs[~resolved], np.full((~resolved).sum(), floor), "v", color=MIN_COLOUR, markersize=3.5,
            markerfacecolor="none", label=r"$\sigma_{\min}$ at round-off ($\leq n\,\varepsilon\,\sigma_{\max}$): singular")
    ax.axhline(1.0, color="black", linestyle=":", linewidth=0.8)
    ax.set_yscale("log")
    ax.grid(True, which="major", axis="y", color="#e5e5e5", linewidth=0.5)
    ax.tick_params(labelsize=FONT_PT - 1)
    last = f"{c['min'][-1]:.1e}" if resolved[-1] else "≈ 0"
    numbers = f"at {xs[-1]}: σ_max {c['max'][-1]:.1e}, σ_min {last}"
    ax.set_title(f"{head}\n{numbers}" if head else numbers, fontsize=FONT_PT - 1.5 if not head else FONT_PT)


def _grid(keys: list[object]) -> tuple[list[object], list[object], bool]:
    """Rows and columns: ``(activation, init)`` keys make a grid; other keys one row (of at most 4 per row)."""
    if keys and all(isinstance(k, tuple) and len(k) == 2 for k in keys):
        rows = list(dict.fromkeys(k[0] for k in keys))  # type: ignore[index]
        cols = list(dict.fromkeys(k[1] for k in keys))  # type: ignore[index]
        return rows, cols, True
    n_cols = min(len(keys), 4)
    return list(range(-(-len(keys) // n_cols))), list(range(n_cols)), False


def spectrum_figure(spectra_by_name: Mapping[object, Spectra], *, x: str = "weights", title: str | None = None) -> Figure:
    """σ_max, σ_min and the band of all singular values of ``∂a_L/∂a_l`` against depth, log scale, networks side by side.

    Args:
        spectra_by_name: ``{name: Spectra}``; keys ``(activation, init)`` (a
            :func:`jacobnet.net.depth.sweep`) are laid out as a grid, rows = activations,
            columns = inits; other keys (or one :class:`~jacobnet.chain.spectra.Spectra`) side by side.
        x: ``"weights"`` — against the number of layers with parameters in the product
            (the products that begin at one, e.g. whole (Dense, activation) pairs);
            ``"depth"`` — against every depth ``L − l`` (time steps for :func:`through_time`).
        title: the figure's title (default: says what is drawn).

    Every panel shares one log y axis, so a vanishing product (everything far below
    the dotted 1) and an exploding one (far above) read off the same scale. Red:
    ``σ_max``; blue: ``σ_min``; grey: the range of all singular values and their
    middle half. For a batch, σ_max and σ_min are geometric means over the samples
    and the band holds every sample's values. A ``σ_min`` at round-off level
    (:attr:`~jacobnet.chain.spectra.Spectra.roundoff`: the product is numerically
    singular, e.g. ReLU's zero slopes) is drawn hollow on the floor of the axis, a decade below the
    smallest σ_max or resolved σ_min; the band is cut off there too.

    >>> from jacobnet.net.depth import sweep
    >>> fig = spectrum_figure(sweep(("tanh", "relu"), ("lecun", "orthogonal"), depth=3, width=4))
    >>> len(fig.axes), {ax.get_yscale() for ax in fig.axes}, fig.axes[1].get_title().splitlines()[0]
    (4, {'log'}, 'orthogonal')
    """
    if isinstance(spectra_by_name, Spectra):
        spectra_by_name = {"": spectra_by_name}
    if x not in XS:
        raise ValueError(f"spectrum_figure: x must be one of {', '.join(XS)}, got {x!r}")
    if not isinstance(spectra_by_name, Mapping) or not spectra_by_name:
        raise ValueError(f"spectrum_figure: expects a non-empty mapping of names to Spectra, got {type(spectra_by_name).__name__}")
    for key, s in spectra_by_name.items():
        if not isinstance(s, Spectra):
            raise TypeError(f"spectrum_figure: {key!r} must map to a Spectra (jn.depth.singular_values), got {type(s).__name__}")
    keys = list(spectra_by_name)
    rows, cols, grid = _grid(keys)
    series = {k: _series(spectra_by_name[k], x) for k in keys}
    curves = {k: _curves(spectra_by_name[k], series[k][1]) for k in keys}
    floor = _floor(list(curves.values()))
    unit = next(iter(spectra_by_name.values())).unit
    with styled():
        fig = JFigure(figsize=(1.2 + 2.5 * len(cols), 1.3 + 2.1 * len(rows)), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(rows), len(cols), sharex=True, sharey=True, squeeze=False))
        for n, key in enumerate(keys):
            r, c = (rows.index(key[0]), cols.index(key[1])) if grid else divmod(n, len(cols))  # type: ignore[index]
            head = (str(key[1]) if r == 0 else "") if grid else str(key)  # type: ignore[index]
            _panel(axes[r, c], series[key][0], curves[key], floor, head, unit)
        for ax in axes.ravel()[len(keys):] if not grid else ():
            ax.set_visible(False)
        if grid:
            for r, name in enumerate(rows):
                axes[r, 0].set_ylabel(f"{name}\nsingular values", fontsize=FONT_PT)
        else:
            axes[0, 0].set_ylabel("singular values", fontsize=FONT_PT)
        if unit != "layers":
            what, product = "time steps back, T − t", r"$\partial h_T/\partial h_t$"
        else:
            what = "weight layers in the product" if x == "weights" else "layers in the product, L − l"
            product = r"$\partial a_L/\partial a_l$"
        for ax in axes[-1]:
            ax.set_xlabel(what, fontsize=FONT_PT)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=FONT_PT - 0.5, frameon=False)
        fig.suptitle(title if title is not None else f"Singular values of {product} at each depth (log scale; dotted: 1)", fontsize=10)
    return fig
