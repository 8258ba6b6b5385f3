"""Symbols and forward expressions of every layer and loss, and SymPy's own Jacobians of them.

Symbols are real and print well in LaTeX: inputs ``x_1 … x_n``, targets
``y_1 …``, a loss's input ``\\hat{y}_i`` (logits ``z_i`` for softmax-cross-entropy),
and parameters named exactly like :meth:`jacobnet.Network.param_labels`:
``W^{(l)}_{i,j}``, ``b^{(l)}_{i}`` (``l`` = 1-based index of the layer among the
layers with parameters; a stand-alone layer without an index gets ``W_{i,j}``).

The Jacobians here are SymPy's derivation: ``Matrix.jacobian`` of the layer's
own SymPy forward expression (:meth:`~jacobnet.core.layer.Layer.sympy_forward`;
an elementwise layer's comes from :data:`jacobnet.core.rules.RULES`, the one
table of elementwise functions), and of the loss's
(:meth:`~jacobnet.core.losses.Loss.sympy_loss`). The hand-derived closed forms
are compared with them in :mod:`jacobnet.symbolic.closed_forms`. ReLU and
LeakyReLU are ``Piecewise`` with ``x <= 0`` on the left branch, so at the kink
``f'(0)`` is the left derivative (0, resp. ``alpha``), the value the numeric
code uses too.

>>> from jacobnet import Dense
>>> J_x, J_theta = layer_jacobians(Dense(3, 2, seed=0))
>>> J_x.shape, J_theta.shape
((2, 3), (2, 8))
>>> J_theta[1, :]
Matrix([[0, 0, 0, x_1, x_2, x_3, 0, 1]])
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp

from jacobnet.core.layer import Layer
from jacobnet.core.losses import Loss
from jacobnet.core.validate import positive_int
from jacobnet.symbolic.guard import check_layer_size

Expr = sp.Expr


def vector_symbols(name: str, n: int) -> list[sp.Symbol]:
    """``[name_1, …, name_n]``: ``n`` real symbols, 1-based; ``x_1`` prints ``x_{1}`` in LaTeX.

    >>> vector_symbols("x", 3)
    [x_1, x_2, x_3]
    """
    return [sp.Symbol(f"{name}_{i}", real=True) for i in range(1, positive_int(n, "vector_symbols: n") + 1)]


def param_symbols(layer: Layer, index: int | None = None) -> list[sp.Symbol]:
    """The layer's parameters as real symbols named by ``layer.param_labels(index)``, in ``get_params()`` order.

    >>> from jacobnet import Dense
    >>> param_symbols(Dense(2, 1, seed=0), index=2)
    [W^{(2)}_{1,1}, W^{(2)}_{1,2}, b^{(2)}_{1}]
    """
    return [sp.Symbol(label, real=True) for label in layer.param_labels(index)]


def input_size(layer: Layer, n: int | None) -> int:
    """The layer's input size: its own ``n_in``, or ``n`` for a layer that takes any size."""
    if layer.n_in is not None:
        if n is not None and n != layer.n_in:
            raise ValueError(f"{layer.name} expects {layer.n_in} inputs, got n={n}")
        return layer.n_in
    if n is None:
        raise ValueError(f"{layer.name} has no fixed input size: pass its size n (a positive integer)")
    return positive_int(n, f"{layer.name}: n")


def forward_expr(layer: Layer, x: Sequence[Expr], theta: Sequence[Expr] = ()) -> list[Expr]:
    """The layer's output ``a = f(x; θ)`` as a list of SymPy expressions, one per output: ``layer.sympy_forward``.

    The layer's own expression (a Dense layer's ``Σ_j W_{i,j} x_j + b_i``), checked
    to give one expression per output.

    >>> from jacobnet import Dense
    >>> forward_expr(Dense(2, 1, seed=0), vector_symbols("x", 2), param_symbols(Dense(2, 1)))
    [W_{1,1}*x_1 + W_{1,2}*x_2 + b_{1}]
    """
    out = list(layer.sympy_forward(list(x), list(theta)))
    if len(out) != layer.out_size(len(x)):
        raise ValueError(f"{layer.name}: sympy_forward gave {len(out)} expressions for {layer.out_size(len(x))} outputs")
    return out


def loss_input_name(loss: Loss) -> str:
    """The name of a loss's input symbols, ``loss.sympy_input``: ``yhat`` (a prediction), ``z`` (logits)."""
    return loss.sympy_input


def loss_expr(loss: Loss, yhat: Sequence[Expr], y: Sequence[Expr]) -> Expr:
    """The loss of one sample as a SymPy expression: ``loss.sympy_loss``.

    MSE: ``(1/n) Σ (ŷ_i − y_i)²``; CrossEntropy: ``−Σ y_i log ŷ_i``;
    SoftmaxCrossEntropy: ``−Σ y_i (z_i − log Σ_j exp z_j)``.

    >>> from jacobnet import MSE
    >>> loss_expr(MSE(), vector_symbols("yhat", 2), vector_symbols("y", 2))
    (-y_1 + yhat_1)**2/2 + (-y_2 + yhat_2)**2/2
    """
    return loss.sympy_loss(list(yhat), list(y))


def layer_jacobians(
    layer: Layer, n: int | None = None, index: int | None = None, max_size: float | None = None
) -> tuple[sp.Matrix, sp.Matrix]:
    """SymPy's Jacobians ``(J_x, J_θ)`` of the layer's forward expression, over the symbols above.

    ``J_x = ∂a/∂x`` — shape ``(n_out, n_in)``; ``J_θ = ∂a/∂θ`` — shape
    ``(n_out, n_params)``, columns in ``get_params()`` order (``(n, 0)`` without
    parameters). Parameter-free layers take their size ``n``; ``index`` numbers the
    parameter symbols (``W^{(index)}_{i,j}``). Raises
    :class:`~jacobnet.symbolic.guard.SymbolicSizeError` before building a matrix whose
    estimated size exceeds the limit.

    >>> from jacobnet import Softmax
    >>> J_x, J_theta = layer_jacobians(Softmax(), n=2)
    >>> J_x.shape, J_theta.shape
    ((2, 2), (2, 0))
    """
    n_in = input_size(layer, n)
    check_layer_size(layer, n_in, max_size)
    x = vector_symbols("x", n_in)
    theta = param_symbols(layer, index)
    a = sp.Matrix(forward_expr(layer, x, theta))
    J_theta = a.jacobian(theta) if theta else sp.zeros(len(a), 0)
    return a.jacobian(x), J_theta


def loss_jacobian(loss: Loss, n: int) -> sp.Matrix:
    """SymPy's ``∂L/∂ŷ`` of the loss expression (``loss.sympy_loss``) — a ``(1, n)`` row over ``ŷ`` (or ``z``) and ``y``.

    >>> from jacobnet import MSE
    >>> loss_jacobian(MSE(), 3).shape
    (1, 3)
    """
    yhat, y = vector_symbols(loss_input_name(loss), n), vector_symbols("y", n)
    return sp.Matrix([loss.sympy_loss(yhat, y)]).jacobian(yhat)


def lambdify_safe(args: list[sp.Symbol], exprs: list[sp.Expr], module: str) -> Callable:
    """``sp.lambdify(args, exprs, module, cse=True)`` over safe argument names.

    The readable names (``W^{(1)}_{2,3}``) are not Python identifiers, so the
    arguments are renamed ``_a0, _a1, …`` first; call the result positionally.
    Only SymPy objects are compiled: text is refused (``TypeError``), never parsed.

    >>> x = vector_symbols("x", 2)
    >>> lambdify_safe(x, [x[0] * x[1], x[0] + 1], "math")(2.0, 3.0)
    [6.0, 3.0]
    """
    exprs = list(exprs)
    for e in [*args, *exprs]:
        if not isinstance(e, sp.Basic):
            raise TypeError(f"lambdify_safe compiles SymPy objects only, got {type(e).__name__} {e!r:.40}")
    safe = [sp.Symbol(f"_a{i}", real=True) for i in range(len(args))]
    sub = dict(zip(args, safe))
    return sp.lambdify(safe, [e.xreplace(sub) for e in exprs], modules=module, cse=True)
