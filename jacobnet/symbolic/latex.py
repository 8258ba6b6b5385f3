r"""LaTeX of symbolic Jacobians, with their shape: ``\frac{\partial a}{\partial x} \in \mathbb{R}^{2\times 3} = …``.

:func:`jacobian_latex` returns the string; :class:`ShownJacobian` wraps a
matrix so that Jupyter renders it as that equation (``_repr_latex_``) and
``print`` shows it as plain text (``W⁽¹⁾₂,₃``, ``∂a/∂θ``: :func:`plain_text`);
:func:`show_jacobians` gives both Jacobians of a layer that way.

>>> import sympy as sp
>>> jacobian_latex(sp.Matrix([[1, 2, 3], [4, 5, 6]]))
'\\frac{\\partial a}{\\partial x} \\in \\mathbb{R}^{2\\times 3} = \\left[\\begin{matrix}1 & 2 & 3\\\\4 & 5 & 6\\end{matrix}\\right]'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from jacobnet.core.layer import Layer
from jacobnet.symbolic.derive import layer_jacobians

_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_WORDS = {r"\theta": "θ", r"\hat{y}": "ŷ", "yhat": "ŷ", r"\sigma": "σ", r"\gamma": "γ", r"\beta": "β", r"\partial ": "∂", r"\partial": "∂"}


def _script(table: dict, mark: str, text: str) -> str:
    """``text`` in super- or subscript digits if every character has one (commas kept), else ``mark{text}``."""
    if all(c == "," or ord(c) in table for c in text):
        return text.translate(table)
    return f"{mark}{{{text}}}"


def plain_text(label: str) -> str:
    r"""A LaTeX-ish label as plain Unicode text: ``W^{(1)}_{2,3}`` → ``W⁽¹⁾₂,₃``, ``x_1`` → ``x₁``, ``\theta`` → ``θ``.

    >>> [plain_text(s) for s in ["W^{(1)}_{2,3}", "b^{(2)}_{1}", "x_12", "yhat_3", r"\theta", "z_{i}"]]
    ['W⁽¹⁾₂,₃', 'b⁽²⁾₁', 'x₁₂', 'ŷ₃', 'θ', 'z_{i}']
    """
    for tex, text in _WORDS.items():
        label = label.replace(tex, text)
    label = re.sub(r"\^\{([^{}]*)\}", lambda m: _script(_SUP, "^", m.group(1)), label)
    return re.sub(r"_(?:\{([^{}]*)\}|(\w+))", lambda m: _script(_SUB, "_", m.group(1) or m.group(2)), label)


def jacobian_latex(J: sp.Matrix, of: str = "a", wrt: str = "x") -> str:
    r"""``\frac{\partial of}{\partial wrt} \in \mathbb{R}^{m\times n} = J`` for an ``(m, n)`` matrix ``J``.

    ``of`` and ``wrt`` are LaTeX fragments (e.g. ``"\theta"``), placed as text, never parsed.
    For a layer, :func:`show_jacobians` gives its two symbolic Jacobians.

    >>> from jacobnet import Dense
    >>> jacobian_latex(Dense(2, 2))
    Traceback (most recent call last):
    ...
    TypeError: jacobian_latex: J must be a SymPy matrix, got a Dense layer; for a layer's Jacobians use show_jacobians(layer)
    """
    if not isinstance(J, sp.MatrixBase):
        if isinstance(J, Layer):
            raise TypeError(f"jacobian_latex: J must be a SymPy matrix, got a {type(J).__name__} layer; "
                            "for a layer's Jacobians use show_jacobians(layer)")
        raise TypeError(f"jacobian_latex: J must be a SymPy matrix such as sp.Matrix([[1, 2]]), got a {type(J).__name__}")
    for name, text in (("of", of), ("wrt", wrt)):
        if not isinstance(text, str):
            raise TypeError(f"jacobian_latex: {name} must be a LaTeX string such as 'a' or r'\theta', got {type(text).__name__}")
    m, n = J.shape
    body = sp.latex(J) if m and n else r"\text{(no entries)}"
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}} \in \mathbb{{R}}^{{{m}\times {n}}} = {body}"


@dataclass(frozen=True)
class ShownJacobian:
    """A symbolic Jacobian that renders in Jupyter as ``∂of/∂wrt ∈ ℝ^{m×n} = …``.

    >>> import sympy as sp
    >>> ShownJacobian(sp.Matrix([[1, 0, 2]]), "L", r"\\hat{y}")
    ShownJacobian(∂L/∂ŷ, shape (1, 3))
    """

    matrix: sp.Matrix
    of: str = "a"
    wrt: str = "x"

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` = ``(outputs, inputs)``."""
        return self.matrix.shape

    def latex(self) -> str:
        """The equation as a LaTeX string (see :func:`jacobian_latex`)."""
        return jacobian_latex(self.matrix, self.of, self.wrt)

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"

    def __repr__(self) -> str:
        return f"ShownJacobian(∂{plain_text(self.of)}/∂{plain_text(self.wrt)}, shape {self.shape})"

    def __str__(self) -> str:
        """Plain text: ``∂a/∂θ ∈ ℝ^(2×8) =`` and the matrix drawn by SymPy's pretty printer, symbols as ``W⁽¹⁾₂,₃``."""
        readable = {s: sp.Symbol(plain_text(s.name)) for s in self.matrix.free_symbols}
        m, n = self.shape
        return f"∂{plain_text(self.of)}/∂{plain_text(self.wrt)} ∈ ℝ^({m}×{n}) =\n{sp.pretty(self.matrix.xreplace(readable))}"


def show_jacobians(layer: Layer, n: int | None = None, index: int | None = None) -> tuple[ShownJacobian, ShownJacobian]:
    r"""SymPy's ``(J_x, J_θ)`` of a layer, ready to display: ``∂a/∂x`` and ``∂a/∂θ``.

    >>> from jacobnet import Dense
    >>> J_x, J_theta = show_jacobians(Dense(3, 2, seed=0), index=1)
    >>> J_theta.latex().split(" = ")[0]
    '\\frac{\\partial a}{\\partial \\theta} \\in \\mathbb{R}^{2\\times 8}'
    """
    J_x, J_theta = layer_jacobians(layer, n, index)
    return ShownJacobian(J_x, "a", "x"), ShownJacobian(J_theta, "a", r"\theta")
