r"""LaTeX of symbolic Jacobians, with their shape: ``\frac{\partial a}{\partial x} \in \mathbb{R}^{2\times 3} = …``.

:func:`jacobian_latex` returns the string; :class:`ShownJacobian` wraps a
matrix so that Jupyter renders it as that equation (``_repr_latex_``), and
:func:`show_jacobians` gives both Jacobians of a layer that way.

>>> import sympy as sp
>>> jacobian_latex(sp.Matrix([[1, 2, 3], [4, 5, 6]]))
'\\frac{\\partial a}{\\partial x} \\in \\mathbb{R}^{2\\times 3} = \\left[\\begin{matrix}1 & 2 & 3\\\\4 & 5 & 6\\end{matrix}\\right]'
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .layers import Layer
from .symbolic_layers import layer_jacobians


def jacobian_latex(J: sp.Matrix, of: str = "a", wrt: str = "x") -> str:
    r"""``\frac{\partial of}{\partial wrt} \in \mathbb{R}^{m\times n} = J`` for an ``(m, n)`` matrix ``J``.

    ``of`` and ``wrt`` are LaTeX fragments (e.g. ``"\theta"``), placed as text, never parsed.
    """
    m, n = J.shape
    body = sp.latex(J) if m and n else r"\text{(no entries)}"
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}} \in \mathbb{{R}}^{{{m}\times {n}}} = {body}"


@dataclass(frozen=True)
class ShownJacobian:
    """A symbolic Jacobian that renders in Jupyter as ``∂of/∂wrt ∈ ℝ^{m×n} = …``.

    >>> import sympy as sp
    >>> ShownJacobian(sp.Matrix([[1, 0, 2]]), "L", r"\\hat{y}")
    ShownJacobian(∂L/∂\\hat{y}, shape (1, 3))
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
        return f"ShownJacobian(∂{self.of}/∂{self.wrt}, shape {self.shape})"

    def __str__(self) -> str:
        return f"∂{self.of}/∂{self.wrt} ∈ ℝ^{self.shape[0]}×{self.shape[1]} =\n{sp.pretty(self.matrix)}"


def show_jacobians(layer: Layer, n: int | None = None, index: int | None = None) -> tuple[ShownJacobian, ShownJacobian]:
    r"""SymPy's ``(J_x, J_θ)`` of a layer, ready to display: ``∂a/∂x`` and ``∂a/∂θ``.

    >>> from jacobnet import Dense
    >>> J_x, J_theta = show_jacobians(Dense(3, 2, seed=0), index=1)
    >>> J_theta.latex().split(" = ")[0]
    '\\frac{\\partial a}{\\partial \\theta} \\in \\mathbb{R}^{2\\times 8}'
    """
    J_x, J_theta = layer_jacobians(layer, n, index)
    return ShownJacobian(J_x, "a", "x"), ShownJacobian(J_theta, "a", r"\theta")
