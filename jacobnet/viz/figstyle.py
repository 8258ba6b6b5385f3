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
import math
import os
import re
from contextlib import AbstractContextManager, contextmanager
from typing import Iterator, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib import ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg  # (loaded with the package: never half-way through a save)
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.mathtext import MathTextParser

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

    Figures laid out by hand (the heatmaps) are cropped to their tight bounding box
    plus :data:`PAD_IN`: drawn once at full size, then cut (:func:`tight_pixels`) —
    ``savefig(bbox_inches="tight")`` draws every figure twice, once to measure it.
    Figures with a layout engine (``layout="constrained"``) are saved as laid out.

    Same figure, same bytes: PNG has no date, matplotlib's ``Software`` stamp is
    dropped; the ``Source`` text chunk records the renderer (:data:`RENDERER`).
    Mathtext is parsed once per text for all figures (:func:`shared_mathtext`).
    """
    with shared_mathtext():
        if fig.get_layout_engine() is not None:  # a layout engine already fits the text
            fig.savefig(target, format="png", dpi=DPI, metadata=SAVE_METADATA)
            return
        pixels = tight_pixels(fig)
        if pixels is None:  # (something drawn outside the figure: matplotlib's own tight box, which grows it)
            fig.savefig(target, format="png", dpi=DPI, bbox_inches="tight", pad_inches=PAD_IN, metadata=SAVE_METADATA)
            return
    imsave(target, pixels, format="png", dpi=DPI, metadata=SAVE_METADATA)


PAD_IN = 0.12
"""The margin around a figure's tight bounding box, inches."""


def tight_pixels(fig: Figure) -> np.ndarray | None:
    """The figure drawn once at :data:`DPI`, cut to its tight bounding box plus :data:`PAD_IN`: RGBA ``(h, w, 4)``.

    ``None`` when that box reaches outside the figure (then only a bigger canvas holds it).
    The figure's dpi and canvas are as they were afterwards.
    """
    canvas, dpi = fig.canvas, fig.dpi
    try:
        fig.dpi = DPI
        agg = FigureCanvasAgg(fig)
        agg.draw()
        box = fig.get_tightbbox(agg.get_renderer()).padded(PAD_IN)
        rgba = np.asarray(agg.buffer_rgba())
        H, W = rgba.shape[:2]
        left, right = math.floor(box.x0 * DPI), math.ceil(box.x1 * DPI)
        top, bottom = math.floor(H - box.y1 * DPI), math.ceil(H - box.y0 * DPI)
        if left < 0 or top < 0 or right > W or bottom > H:
            return None
        return rgba[top:bottom, left:right].copy()
    finally:
        fig.dpi = dpi
        fig.set_canvas(canvas)


_MATHTEXT: dict[tuple, object] = {}
MATHTEXT_CACHE_SIZE = 4096
"""Parsed mathtext kept by :func:`shared_mathtext` (past that many, it starts again)."""


@contextmanager
def shared_mathtext() -> Iterator[None]:
    """Within: each mathtext string is parsed once for every renderer and figure, not once per renderer.

    matplotlib caches a parse per renderer, and a PNG with a tight box draws the figure
    with two renderers (one to measure, one to save); the tick labels recur from figure
    to figure (``a^{(1)}_{1}`` in three of the demo's six). Parsing (pyparsing) is the
    largest cost of a heatmap, so the parses are kept here, keyed by everything a parse
    depends on: the text, the dpi, the font properties, antialiasing, hinting, the
    output type and the ``mathtext.*`` settings. The result is the same object matplotlib
    would have built: the same pixels. (Without matplotlib's private ``_parse_cached``,
    nothing changes.)
    """
    original = MathTextParser.__dict__.get("_parse_cached")
    parse = getattr(original, "__wrapped__", None)
    if parse is None:  # (another matplotlib: its own cache only)
        yield
        return

    # the mathtext settings, fixed while saving (by key: reading rcParams["backend"] would load pyplot)
    rc = tuple((k, str(mpl.rcParams[k])) for k in mpl.rcParams if k.startswith("mathtext."))

    def cached(self: MathTextParser, s: str, dpi: float, prop: object, antialiased: bool, load_glyph_flags: object) -> object:
        key = (self._output_type, s, dpi, prop, antialiased, load_glyph_flags, rc)
        if key not in _MATHTEXT:
            if len(_MATHTEXT) >= MATHTEXT_CACHE_SIZE:
                _MATHTEXT.clear()
            _MATHTEXT[key] = parse(self, s, dpi, prop, antialiased, load_glyph_flags)
        return _MATHTEXT[key]

    MathTextParser._parse_cached = cached
    try:
        yield
    finally:
        MathTextParser._parse_cached = original


def _math(text: str) -> str:
    """``I ⊗ xᵀ`` → ``I \\otimes x^{T}``: symbols to mathtext, words upright."""
    text = re.sub(r"[A-Za-z]{2,}(?: \d+)?", lambda w: rf"\mathrm{{{w[0].replace(' ', chr(92) + ' ')}}}", text)
    text = re.sub(r"(?<=\S) (?=\\mathrm\{)|(?<=\})(?<!\\\}) (?=\S)", r"\\ ", text)  # a space beside a word stays a space
    for symbol, tex in _SYMBOLS.items():
        text = text.replace(symbol, tex)
    return text


_LITERAL = {"\\": r"\backslash{}", "#": r"\#{}", "^": r"\^{}", "%": r"\%", "$": r"\$", "_": r"\_", "{": r"\{", "}": r"\}", " ": r"\ "}
"""How each character that mathtext reads as markup is written to be drawn as itself inside ``\\mathrm{…}``
(each tried between letters, at either end, before a digit and beside a space; ``&`` and ``~`` need nothing)."""


def _escape(text: str) -> str:
    r"""``text`` as literal characters inside ``\mathrm{…}``: mathtext's markup escaped (:data:`_LITERAL`), spaces kept.

    >>> print(_escape("a\\b $1 #2 x_y^z"))
    a\backslash{}b\ \$1\ \#{}2\ x\_y\^{}z
    """
    return "".join(_LITERAL.get(c, c) for c in text)


def tex_name(name: str) -> str:
    """Mathtext (without ``$``) for a project name: factors, partial products, ``A · B``.

    >>> tex_name("J_loss"), tex_name("∂L/∂a3"), tex_name("∂L/∂θ(Dense 2)")
    ('J_{\\\\mathrm{loss}}', '\\\\partial L/\\\\partial a_{3}', '\\\\partial L/\\\\partial \\\\theta(\\\\mathrm{Dense\\\\ 2})')
    >>> tex_name("I ⊗ xᵀ"), tex_name("A0"), tex_name("my #1")
    ('I \\\\otimes  x^{T}', 'A0', '\\\\mathrm{my\\\\ \\\\#{}1}')
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
