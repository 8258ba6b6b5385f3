"""The Hessian of a tiny network's loss, derived by SymPy: the symbolic counterpart of :mod:`jacobnet.chain.curvature`.

:func:`symbolic_hessian` builds the loss of one sample ``L(f_L(… f_1(x)), y)`` as one
SymPy expression (:func:`~jacobnet.symbolic.network.direct_gradient`'s machinery) and
takes SymPy's ``hessian`` of it in ``θ``: ``(n_params, n_params)`` over the symbols
``x``, ``θ``, ``y``. Its Gauss–Newton part is ``Jᵀ H_ℓ J``, with ``J`` SymPy's Jacobian of
the output expressions and ``H_ℓ`` SymPy's ``hessian`` of the loss in its input; the
residual is the rest. :meth:`SymbolicHessian.numeric` evaluates any of them at numbers
(the batch mean for a batch): an independent derivation to hold the R-pass's against.

The Hessian is about ``n_params`` times the size of the gradient, so the size guard
counts ``n_params`` derivations of it (:func:`~jacobnet.symbolic.guard.check_size`):
a 2→3→2 softmax network (17 parameters) takes a few seconds.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("2,2,1", "tanh", "mse", seed=0)
>>> h = symbolic_hessian(net)
>>> h.hessian.shape, h.labels[:2]
((9, 9), ['W^{(1)}_{1,1}', 'W^{(1)}_{1,2}'])
>>> x, y = np.array([0.5, -1.0]), np.array([0.3])
>>> bool(np.allclose(h.numeric(x, y, net.get_params()), net.hessian(x, y), rtol=1e-12, atol=1e-15))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import sympy as sp

from jacobnet.core.validate import as_input, as_params
from jacobnet.symbolic.derive import lambdify_safe, loss_expr, loss_input_name, vector_symbols
from jacobnet.symbolic.guard import check_size
from jacobnet.symbolic.network import _forward_exprs, network_input_size, network_symbols

if TYPE_CHECKING:
    from jacobnet.core.stack import Stack

Array = np.ndarray
PARTS = ("total", "gauss_newton", "residual")


@dataclass
class SymbolicHessian:
    """``∂²L/∂θ²`` of one sample, SymPy's ``hessian`` of the whole loss — ``(n_params, n_params)`` over ``x``, ``θ``, ``y``.

    ``output`` are the network's output expressions ``a_L``; :meth:`gauss_newton` and
    :meth:`residual` the two parts of ``hessian`` (built on first use).
    """

    x: list[sp.Symbol]
    y: list[sp.Symbol]
    theta: list[sp.Symbol]
    loss: sp.Expr
    output: list[sp.Expr]
    hessian: sp.Matrix
    loss_hessian: sp.Matrix
    """SymPy's ``H_ℓ = ∂²ℓ/∂a_L²`` of the loss expression, at the output expressions — ``(n_L, n_L)``."""
    _parts: dict[str, sp.Matrix] = field(default_factory=dict, repr=False)
    _compiled: dict[str, Callable] = field(default_factory=dict, repr=False)

    @property
    def labels(self) -> list[str]:
        """One name per parameter, ``W^{(1)}_{2,3}`` … (the symbols' names)."""
        return [t.name for t in self.theta]

    def gauss_newton(self) -> sp.Matrix:
        """``Jᵀ H_ℓ J`` with ``J = ∂a_L/∂θ`` SymPy's Jacobian of the output — ``(n_params, n_params)``."""
        if "gauss_newton" not in self._parts:
            J = sp.Matrix(self.output).jacobian(self.theta)
            self._parts["gauss_newton"] = J.T * self.loss_hessian * J
        return self._parts["gauss_newton"]

    def residual(self) -> sp.Matrix:
        """``H − GN = Σ_k (∂ℓ/∂a_{L,k}) ∇²a_{L,k}`` — ``(n_params, n_params)``."""
        if "residual" not in self._parts:
            self._parts["residual"] = self.hessian - self.gauss_newton()
        return self._parts["residual"]

    def matrix(self, part: str = "total") -> sp.Matrix:
        """``hessian`` (``"total"``), :meth:`gauss_newton` or :meth:`residual`."""
        if part not in PARTS:
            raise ValueError(f"SymbolicHessian: part must be one of {', '.join(map(repr, PARTS))}, got {part!r}")
        return self.hessian if part == "total" else getattr(self, part)()

    def numeric(self, x: object, y: object, theta: object, part: str = "total") -> Array:
        """The ``part`` at numbers: ``x`` ``(n_in,)`` or ``(B, n_in)``, ``y`` likewise, ``theta`` ``(n_params,)`` — the batch mean.

        Compiled once per part (``lambdify``, ``math``), then evaluated sample by sample.
        """
        M = self.matrix(part)
        if part not in self._compiled:
            self._compiled[part] = lambdify_safe(self.x + self.theta + self.y, list(M), "math")
        X = as_input(x, "SymbolicHessian", len(self.x))
        Y = as_input(y, "SymbolicHessian", len(self.y), what="target")
        if X.shape[:-1] != Y.shape[:-1]:
            raise ValueError(f"SymbolicHessian: x and y must have one batch shape, got {X.shape} and {Y.shape}")
        t = as_params(theta, "SymbolicHessian", len(self.theta)).tolist()
        f, shape = self._compiled[part], M.shape
        rows = [np.array(f(*xb, *t, *yb), dtype=np.float64).reshape(shape) for xb, yb in zip(X.reshape(-1, X.shape[-1]).tolist(), Y.reshape(-1, Y.shape[-1]).tolist())]
        return np.mean(rows, axis=0)


def symbolic_hessian(net: Stack, n_in: int | None = None, max_size: float | None = None) -> SymbolicHessian:
    """SymPy's ``hessian`` of the loss expression of one sample in ``θ``: a :class:`SymbolicHessian`.

    Refused by the size guard (:class:`~jacobnet.symbolic.guard.SymbolicSizeError`) before
    anything is built when ``n_params`` derivations of the gradient are over the limit.
    """
    n_in = network_input_size(net, n_in)
    check_size(net, n_in, max_size, advice="use net.hessian (the R-pass through the products) or a smaller network",
               derivations=max(net.n_params, 1))
    acts, _ = _forward_exprs(net, n_in)
    y = vector_symbols("y", len(acts[-1]))
    theta = network_symbols(net)
    loss = loss_expr(net.loss_fn, acts[-1], y)
    yhat = vector_symbols(loss_input_name(net.loss_fn), len(acts[-1]))
    H_l = sp.hessian(loss_expr(net.loss_fn, yhat, y), yhat).xreplace(dict(zip(yhat, acts[-1])))
    H = sp.hessian(loss, theta) if theta else sp.zeros(0, 0)
    return SymbolicHessian(acts[0], y, theta, loss, acts[-1], H, H_l)


def symbolic_hessian_at(net: Stack, x: object, y: object, part: str = "total", max_size: float | None = None) -> Array:
    """SymPy's Hessian (or one ``part`` of it) at ``x``, ``y`` and the network's parameters: ``(n_params, n_params)``, the batch mean.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("2,2,1", "tanh", "mse", seed=0)
    >>> x = np.array([0.5, -1.0])
    >>> H_res = symbolic_hessian_at(net, x, net.forward(x), part="residual")    # a perfect fit: ∂ℓ/∂a_L = 0
    >>> H_res.shape, float(np.abs(H_res).max())
    ((9, 9), 0.0)
    """
    n_in = np.shape(x)[-1] if net.input_size is None else None
    return symbolic_hessian(net, n_in, max_size).numeric(x, y, net.get_params(), part)
