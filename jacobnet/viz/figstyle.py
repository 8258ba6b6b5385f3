"""The look and the words of every figure: style, colormap, mathtext names and labels.

One place for what all of :mod:`jacobnet.viz` shares, so every figure looks
the same: the diverging colormap, the fonts, the figure class (a
:class:`~matplotlib.figure.Figure` that Jupyter displays as PNG even when
pyplot was never imported), and the translation of project names into
mathtext — ``J_θ(Dense 1)`` becomes :math:`J_\\theta(\\mathrm{Dense\\ 1})`.

>>> tex_name("J_θ(Dense 1)")
'J_{\\\\theta}(\\\\mathrm{Dense\\\\ 1})'
>>> plain_title("J_θ(Dense 1)", (4, 16))
'J_θ(Dense 1) ∈ ℝ^{4×16}'
>>> tex_label("ŷ_{1}")
'\\\\hat{y}_{1}'
"""

from __future__ import annotations

import io
import os
import re
from contextlib import AbstractContextManager
from typing import Sequence

import matplotlib as mpl
from matplotlib import ft2font
from matplotlib.figure import Figure

CMAP = "RdBu_r"  # red = positive, blue = negative, white = 0
FONT_PT = 9.0
DPI = 110  # every saved PNG
RENDERER = f"matplotlib {mpl.__version__}, FreeType {ft2font.__freetype_version__}"
# No timestamp and no jacobnet version: the same figure gives the same bytes on every run.
# The renderer is recorded, so a test can tell a changed figure from a changed matplotlib.
SAVE_METADATA = {"Software": None, "Source": RENDERER}
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "mathtext.fontset": "dejavusans",
    "axes.unicode_minus": True,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
    "axes.spines.top": True,
    "axes.spines.right": True,
}
_SYMBOLS = {"⊗": r"\otimes ", "ᵀ": "^{T}", "θ": r"\theta ", "−": "-", "ŷ": r"\hat{y}", "y\u0302": r"\hat{y}"}
_PLAIN_MATH = re.compile(r"[A-Za-z0-9 ⊗ᵀθ−+()]+")  # names drawn as math; anything else as upright text
_SPECIAL = re.compile(r"([\\{}_^$%#&~])")
_NAME = re.compile(
    r"(?:(?P<head>[JE])_(?P<j>[^\W_]+)|∂(?P<out>[^\W\d_]+)(?P<oidx>[\d.]*)/∂(?P<wrt>[^\W\d_]+)(?P<idx>[\d.]*))(?:\((?P<inner>.+)\))?"
)


def styled() -> AbstractContextManager:
    """A context in which figures get jacobnet's fonts and defaults (:data:`STYLE`)."""
    return mpl.rc_context(STYLE)


class JFigure(Figure):
    """A Figure that Jupyter shows as a PNG (``_repr_png_``), with or without pyplot."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes, saved as every figure is (:func:`save_png`)."""
    buf = io.BytesIO()
    save_png(fig, buf)
    return buf.getvalue()


def save_png(fig: Figure, target: str | os.PathLike | io.BytesIO) -> None:
    """Save as PNG the one way every figure is saved: :data:`DPI`, tight box, no timestamps.

    Figures laid out by hand (the heatmaps) are cropped to their tight bounding box;
    figures with a layout engine (``layout="constrained"``) are saved as laid out.

    Same figure, same bytes: PNG has no date, matplotlib's ``Software`` stamp is
    dropped; the ``Source`` text chunk records the renderer (:data:`RENDERER`).
    """
    tight = "tight" if fig.get_layout_engine() is None else None  # a layout engine already fits the text
    fig.savefig(target, format="png", dpi=DPI, bbox_inches=tight, pad_inches=0.12, metadata=SAVE_METADATA)


def _math(text: str) -> str:
    """``I ⊗ xᵀ`` → ``I \\otimes x^{T}``: symbols to mathtext, words upright."""
    text = re.sub(r"[A-Za-z]{2,}(?: \d+)?", lambda w: rf"\mathrm{{{w[0].replace(' ', chr(92) + ' ')}}}", text)
    for symbol, tex in _SYMBOLS.items():
        text = text.replace(symbol, tex)
    return text


def _escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text).replace(" ", r"\ ")


def tex_name(name: str) -> str:
    """Mathtext (without ``$``) for a project name: factors, partial products, ``A · B``.

    >>> tex_name("J_loss"), tex_name("∂L/∂a3"), tex_name("∂L/∂θ(Dense 2)")
    ('J_{\\\\mathrm{loss}}', '\\\\partial L/\\\\partial a_{3}', '\\\\partial L/\\\\partial \\\\theta(\\\\mathrm{Dense\\\\ 2})')
    >>> tex_name("I ⊗ xᵀ"), tex_name("A0"), tex_name("my #1")
    ('I \\\\otimes  x^{T}', 'A0', '\\\\mathrm{my\\\\ \\\\#1}')
    >>> tex_name("E_2(Concat 1)"), tex_name("∂L/∂a2.1"), tex_name("path 3")
    ('E_{2}(\\\\mathrm{Concat\\\\ 1})', '\\\\partial L/\\\\partial a_{2.1}', '\\\\mathrm{path\\\\ 3}')
    """
    if "·" in name:
        return r" \cdot ".join(tex_name(part.strip()) for part in name.split("·"))
    m = _NAME.fullmatch(name)
    if m is None:
        return _math(name) if _PLAIN_MATH.fullmatch(name) else rf"\mathrm{{{_escape(name)}}}"
    if m["j"]:
        sub = m["j"]
        sub = r"\theta" if sub == "θ" else sub if len(sub) == 1 or sub.isdigit() else r"\mathrm{" + sub + "}"
        head = m["head"] + "_{" + sub + "}"
    else:
        head = rf"\partial {_var(m['out'], m['oidx'])}/\partial {_var(m['wrt'], m['idx'])}"
    return head + (rf"(\mathrm{{{_escape(m['inner'])}}})" if m["inner"] else "")


def _var(letter: str, index: str) -> str:
    return (r"\theta" if letter == "θ" else letter) + (f"_{{{index}}}" if index else "")


def shape_tex(shape: tuple[int, ...]) -> str:
    r"""``\in \mathbb{R}^{m\times n}`` for a shape ``(m, n)``."""
    return r"\in \mathbb{R}^{" + r"\times ".join(str(s) for s in shape) + "}"


def tex_title(name: str, shape: tuple[int, ...]) -> str:
    """The mathtext title ``$name ∈ ℝ^{m×n}$``."""
    return f"${tex_name(name)} {shape_tex(shape)}$"


def plain_title(name: str, shape: tuple[int, ...]) -> str:
    """The plain-text title ``name ∈ ℝ^{m×n}`` (the Figure's label)."""
    return f"{name} ∈ ℝ^{{{'×'.join(str(s) for s in shape)}}}"


def tex_label(label: str) -> str:
    """Mathtext (without ``$``) for a row or column label such as ``W^{(1)}_{2,3}`` or ``ŷ_{1}``.

    The labels are LaTeX-ish already; the few Unicode letters they use are spelled out.

    >>> tex_label("ŷ_{2}"), tex_label("θ1"), tex_label("W^{(1)}_{2,3}")
    ('\\\\hat{y}_{2}', '\\\\theta 1', 'W^{(1)}_{2,3}')
    """
    for symbol, tex in _SYMBOLS.items():
        label = label.replace(symbol, tex)
    return label


def tex_labels(labels: Sequence[str] | None) -> list[str]:
    """:func:`tex_label` of each label; ``[]`` for ``None`` (no labels: draw indices)."""
    return [tex_label(str(label)) for label in labels or ()]
