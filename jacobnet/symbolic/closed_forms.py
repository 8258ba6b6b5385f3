"""The hand-derived Jacobians, written as SymPy matrices, and their check against SymPy's own.

These are the formulas a student derives on paper. Each layer and loss types
its own by hand (:meth:`~jacobnet.core.layer.Layer.closed_form`,
:meth:`~jacobnet.core.losses.Loss.closed_form_row`) — never by differentiating
anything — so that comparing them with
:func:`jacobnet.symbolic.derive.layer_jacobians` (SymPy's ``Matrix.jacobian`` of
the forward expression) checks one derivation against another. The built-in
layers and losses type these:

==================  ============================================  ==================
layer / loss        closed form                                   shape
==================  ============================================  ==================
Dense               ``J_x = W``, ``J_θ = [I ⊗ xᵀ | I]``           (m, n), (m, m(n+1))
elementwise ``f``   ``J_x = diag(f'(x))``, ``f'`` = ``rule.dexpr``   (n, n)
Softmax             ``J_x = diag(s) − s sᵀ``                      (n, n)
MSE                 ``(2/n)(ŷ − y)ᵀ``                             (1, n)
CrossEntropy        ``−(y / ŷ)ᵀ``                                 (1, n)
SoftmaxCE           ``(s − y)ᵀ``, ``s = softmax(z)``, when Σy = 1 (1, n)
==================  ============================================  ==================

>>> from jacobnet import Sigmoid
>>> check = compare_closed_forms(Sigmoid(), n=2)
>>> [(c.name, c.shape, c.proved) for c in check]
[('J_x', (2, 2), True)]
>>> print(check[0])
✓ J_x (2, 2): the closed form equals SymPy's derivative (proved)
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from jacobnet.core.layer import Layer
from jacobnet.core.losses import Loss
from jacobnet.symbolic.derive import input_size, layer_jacobians, loss_input_name, loss_jacobian, param_symbols, vector_symbols


def closed_form_jacobians(layer: Layer, n: int | None = None, index: int | None = None) -> tuple[sp.Matrix, sp.Matrix]:
    """The hand-derived ``(J_x, J_θ)`` (``layer.closed_form``) over the symbols of ``layer_jacobians`` — same shapes.

    An elementwise layer's ``f'`` is its rule's hand-written ``dexpr``
    (:data:`jacobnet.core.rules.RULES`), never a derivative SymPy computed.

    >>> from jacobnet import Dense
    >>> J_x, J_theta = closed_form_jacobians(Dense(3, 2, seed=0))
    >>> J_theta[0, :]
    Matrix([[x_1, x_2, x_3, 0, 0, 0, 1, 0]])
    """
    J_x, J_theta = layer.closed_form(vector_symbols("x", input_size(layer, n)), param_symbols(layer, index))
    return sp.Matrix(J_x), sp.Matrix(J_theta)


def closed_form_loss_row(loss: Loss, n: int) -> sp.Matrix:
    """The hand-derived row ``∂L/∂ŷ`` (``loss.closed_form_row``) — shape ``(1, n)``.

    Softmax-cross-entropy's is ``s − y``, which holds for Σy = 1 (``loss.closed_form_assumes``).

    >>> from jacobnet import MSE
    >>> closed_form_loss_row(MSE(), 2)
    Matrix([[-y_1 + yhat_1, -y_2 + yhat_2]])
    """
    return sp.Matrix(loss.closed_form_row(vector_symbols(loss_input_name(loss), n), vector_symbols("y", n)))


def proved_zero(expr: sp.Expr) -> bool:
    """True when ``expr`` is identically zero by an exact, sufficient argument (a proof, never a guess).

    Every ``exp(Σ c_k m_k)`` becomes ``Π s_k^{c_k}`` (``s_k`` a positive symbol
    standing for ``exp(m_k)``, ``c_k`` rational), every ``Piecewise`` the sum of
    its arms times indicator symbols ``h`` (the condition holds) and ``1 − h``, and
    every other function application (``tanh(z)``, ``log(…)``) one symbol. If the
    resulting rational function cancels to 0 for ALL values of these symbols, it
    is 0 at the actual ones too. ``False`` means "not shown", not "nonzero".

    >>> from jacobnet.core.rules import RULES
    >>> x = sp.Symbol("x", real=True)
    >>> proved_zero(sp.exp(-x) / (1 + sp.exp(-x)) ** 2 - RULES["sigmoid"].dexpr(x))   # σ(1 − σ)
    True
    >>> proved_zero(sp.exp(2 * x) - sp.exp(x))
    False
    """
    expr = expr.xreplace({f: sp.Rational(f) for f in expr.atoms(sp.Float)})  # exact arithmetic
    names: dict[object, sp.Dummy] = {}

    def name(key: object, **assumptions: bool) -> sp.Dummy:
        return names.setdefault(key, sp.Dummy(**assumptions))

    def indicators(pw: sp.Piecewise) -> sp.Expr:
        out, rest = sp.S.Zero, sp.S.One
        for arm, cond in pw.args:
            h = sp.S.One if cond is sp.true else name(cond)
            out, rest = out + rest * h * arm, rest * (1 - h)
        return out

    def powers(e: sp.exp) -> sp.Expr:
        terms = [t.as_coeff_Mul() for t in sp.Add.make_args(sp.expand(e.args[0]))]
        return sp.Mul(*(name(m, positive=True) ** c if c.is_Rational and m != 1 else sp.exp(c * m) for c, m in terms))

    expr = expr.replace(lambda a: isinstance(a, sp.Piecewise), indicators)
    expr = expr.replace(lambda a: isinstance(a, sp.exp), powers)
    expr = expr.xreplace({f: name(f) for f in expr.atoms(sp.Function)})
    return sp.cancel(sp.together(expr)) == 0


@dataclass(frozen=True)
class FormCheck:
    """One closed form against SymPy's Jacobian.

    ``proved``: every entry of ``closed − sympy`` is zero by :func:`proved_zero`
    (a proof for these sizes); ``unproved`` lists the ``(row, col)`` entries not shown zero.
    """

    name: str
    closed: sp.Matrix
    sympy: sp.Matrix
    unproved: tuple[tuple[int, int], ...]

    @property
    def proved(self) -> bool:
        return not self.unproved

    @property
    def shape(self) -> tuple[int, int]:
        return self.closed.shape

    def __str__(self) -> str:
        """``✓ J_x (2, 2): the closed form equals SymPy's derivative (proved)``, or the entries not shown equal."""
        if self.proved:
            return f"✓ {self.name} {self.shape}: the closed form equals SymPy's derivative (proved)"
        shown = ", ".join(f"({i + 1}, {j + 1})" for i, j in self.unproved[:8]) + (" …" if len(self.unproved) > 8 else "")
        return f"✗ {self.name} {self.shape}: {len(self.unproved)} entries not shown equal to SymPy's derivative: {shown}"


def _form_check(name: str, closed: sp.Matrix, derived: sp.Matrix, assume: dict | None = None) -> FormCheck:
    if closed.shape != derived.shape:
        raise ValueError(f"{name}: closed form has shape {closed.shape}, SymPy's Jacobian {derived.shape}")
    diff = (closed - derived).xreplace(assume or {})
    rows, cols = diff.shape
    unproved = tuple((i, j) for i in range(rows) for j in range(cols) if not proved_zero(diff[i, j]))
    return FormCheck(name, closed, derived, unproved)


def compare_closed_forms(what: Layer | Loss, n: int | None = None) -> list[FormCheck]:
    """Show each hand-derived form equals SymPy's Jacobian: ``[J_x, J_θ]`` of a layer (``[J_x]`` without parameters), ``[J_loss]`` of a loss.

    A loss's closed form may hold only under an assumption on the targets
    (``loss.closed_form_assumes``): softmax-cross-entropy's ``s − y`` holds for
    targets that sum to 1, so both sides are compared with
    ``y_n = 1 − Σ_{i<n} y_i`` substituted.

    >>> from jacobnet import SoftmaxCrossEntropy
    >>> [c.proved for c in compare_closed_forms(SoftmaxCrossEntropy(), n=2)]
    [True]
    >>> from jacobnet import Dense, Tanh
    >>> [(c.name, c.closed.shape) for c in compare_closed_forms(Dense(3, 2, seed=0))], [c.name for c in compare_closed_forms(Tanh(), n=3)]
    ([('J_x', (2, 3)), ('J_θ', (2, 8))], ['J_x'])
    """
    if isinstance(what, Loss):  # the loss protocol: one row, L's derivative
        if n is None:
            raise ValueError(f"{what!r}: pass the number of outputs n")
        assume = what.closed_form_assumes(vector_symbols("y", n))
        return [_form_check("J_loss", closed_form_loss_row(what, n), loss_jacobian(what, n), assume)]
    closed, derived = closed_form_jacobians(what, n), layer_jacobians(what, n)
    checks = [_form_check(name, c, d) for name, c, d in zip(("J_x", "J_θ"), closed, derived)]
    return checks if what.n_params else checks[:1]  # (a layer without parameters has no J_θ to prove)
