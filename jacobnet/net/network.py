"""``Network(layers, loss)``: a :class:`~jacobnet.core.stack.Stack` with doors to every derivative.

The gradient is the theorem backprop computes without showing it:

    dL/dθ_l = J_loss(a_L) · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)

A network is its stack (layers, names, parameters, values) plus three doors:
:meth:`Network.gradient` (the explicit product of :mod:`jacobnet.chain`, SymPy's
derivation of :mod:`jacobnet.symbolic`, or central differences),
:meth:`Network.trace` (the whole backward pass, recorded) and
:meth:`Network.chain` (one product, as named factors). It sits above those
subpackages and calls down into them; they know only the :class:`Stack`.

>>> import numpy as np
>>> from jacobnet import Dense, Tanh, SoftmaxCrossEntropy
>>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], SoftmaxCrossEntropy())
>>> net.names
['Dense 1', 'Tanh 1', 'Dense 2']
>>> net.n_params, net.gradient(np.ones(3), np.array([1.0, 0.0])).shape
(26, (26,))
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np

from jacobnet.chain import curvature
from jacobnet.chain.backward import backward, gradient
from jacobnet.chain.build import build_chain
from jacobnet.chain.product import Chain
from jacobnet.chain.trace import Trace
from jacobnet.core.cost import quote
from jacobnet.core.finite import fd_gradient
from jacobnet.core.losses import PredictionError
from jacobnet.core.stack import Stack
from jacobnet.core.validate import check_mode

Array = np.ndarray
F = TypeVar("F", bound=Callable[..., Any])


class OverflowingProducts(ValueError):
    """A product of the backward pass (or of a second-order method) is beyond float64: NaN or inf would come back."""


def _explained(method: F) -> F:
    """A door ``method(net, x, y, …)``: its parameters checked first (:meth:`Stack.check_params`), a prediction the loss
    refuses explained by the layer it comes from (:meth:`Stack.explain`), and a product beyond float64 an error
    (:class:`OverflowingProducts`) rather than NumPy's warnings and inf or NaN in the result — unless the caller lets
    overflow pass (``np.errstate(over="ignore")``, as ``train`` does), which is then kept."""

    raising = _RAISING(method)

    @functools.wraps(method)
    def door(self: Network, x: Array, y: Array, *args: Any, **kwargs: Any) -> Any:
        self.check_params()
        try:
            return _strict(self, method.__name__, raising, method, self, x, y, *args, lenient=_lets_overflow_pass(), **kwargs)
        except PredictionError as err:
            raise self.explain(err, x) from None

    return door  # type: ignore[return-value]


_RAISING = np.errstate(over="raise", invalid="raise", divide="raise")
"""As a decorator: the function runs with overflow, invalid and divide raised (what :func:`_strict` tries first)."""


def _lets_overflow_pass() -> bool:
    """Whether the caller's NumPy settings let overflow pass (``np.errstate(over="ignore")``, as ``train`` does)."""
    return np.geterr()["over"] not in ("warn", "raise")  # (not NumPy's default, nor an error asked for)


def _strict(net: Network, door: str, raising: Callable[..., Any], plain: Callable[..., Any], *args: Any,
            lenient: bool | None = None, **kwargs: Any) -> Any:
    """``plain(*args, **kwargs)`` with floating-point errors raised (``raising``: it under :data:`_RAISING`); one is :class:`OverflowingProducts`.

    ``args`` start with the door's ``(net, x, y)``. If the caller lets overflow pass
    (:func:`_lets_overflow_pass`), ``plain`` runs under the caller's own settings and its
    inf or NaN comes back. ``lenient`` says whether it does, for a door that asks first (one
    run, whatever happens); ``None`` asks only when a floating-point error comes, so that
    the common call does not pay for the question (that call, under a lenient caller, runs twice).
    """
    if not lenient:
        try:
            return raising(*args, **kwargs)
        except FloatingPointError as err:
            if lenient is not None or not _lets_overflow_pass():
                raise _overflowing(net, door, err, args[1], args[2]) from None
    try:
        return plain(*args, **kwargs)
    except FloatingPointError as err:  # (the caller's own settings raise one: named all the same)
        raise _overflowing(net, door, err, args[1], args[2]) from None


def _gradient(net: Network, x: Array, y: Array, method: str, mode: str) -> Array:
    """:meth:`Network.gradient` by ``method`` (validated), a prediction the loss refuses explained by its layer."""
    try:
        if method == "jacobian":
            return gradient(net, x, y, mode=mode)
        if method == "symbolic":
            from jacobnet.symbolic import symbolic_gradient  # (SymPy loads on first use)

            return symbolic_gradient(net, x, y)
        return fd_gradient(net, x, y)
    except PredictionError as err:
        raise net.explain(err, x) from None


_gradient_raising = _RAISING(_gradient)


def _overflowing(net: Network, door: str, err: FloatingPointError, x: object, y: object) -> OverflowingProducts:
    """The error for a product beyond float64 in ``net.door(x, y)``: how large the input, the target and the weights are."""

    def largest(v: object) -> str:
        try:
            a = np.asarray(v, dtype=np.float64)
            return f"{np.max(np.abs(a), initial=0.0):.3g}"
        except (TypeError, ValueError):
            return "?"

    return OverflowingProducts(
        f"Network.{door}: a product of the backward pass is beyond float64 ({err}), with the input x up to "
        f"|x| = {largest(x)}, the target y up to |y| = {largest(y)} and the weights up to |θ| = {largest(net.get_params())}; "
        "rescale the data or the weights")


GRADIENT_METHODS = ("jacobian", "symbolic", "finite-difference")  # the one list: report and CLI read it


class Network(Stack):
    """A stack of layers followed by a loss, and its derivatives (see :class:`~jacobnet.core.stack.Stack`).

    Targets ``y`` are of the output's shape, or class indices for the cross-entropy losses
    (``net.gradient(x, 1)``; ``(B,)`` integers for a batch).

    A parameter written into in place (``layer.W[0, 0] = np.nan``) is named with its layer
    and entry (:meth:`~jacobnet.core.stack.Stack.check_params`): by :meth:`trace`, :meth:`chain`
    and the second-order doors, which check every parameter first, and by ``forward``,
    ``loss`` and :meth:`gradient` as soon as it makes the output NaN or inf (these look at
    the parameters only then, to stay at backprop's cost). A prediction the loss cannot take
    names the layer that made it: a saturated softmax under ``CrossEntropy``, a forward
    pass that overflowed (:meth:`~jacobnet.core.stack.Stack.explain`).
    """

    def gradient(self, x: Array, y: Array, method: str = "jacobian", mode: str = "structured") -> Array:
        """``dL/dθ`` as a flat ``(n_params,)`` vector (the mean over a batch).

        Args:
            x: the input, ``(n_in,)`` or a batch ``(B, n_in)``.
            y: the target, ``(n_out,)`` or ``(B, n_out)``.
            method: one of :data:`GRADIENT_METHODS`: ``"jacobian"`` (the explicit
                product of layer Jacobians), ``"symbolic"`` (SymPy's derivation,
                lambdified and cached), or ``"finite-difference"`` (central
                differences, relative step).
            mode: ``"structured"`` (default) multiplies each factor through its
                structure (the cost of ordinary backprop); ``"materialised"``
                builds every dense Jacobian first (the lesson). Same factors,
                same order, same numbers (≤ 1e-12). Only ``"jacobian"`` uses it,
                but it is checked for every method. Computing defaults to
                structured (a 784→128 layer's ``J_θ`` is ~100 MB per sample
                dense); showing — :meth:`trace` — defaults to materialised.
                Materialising more than the memory budget
                (:mod:`jacobnet.core.memory`, default 1 GiB) raises a
                ``MemoryError`` before allocating.

        A product beyond float64 raises :class:`OverflowingProducts` (a ``ValueError``) instead
        of NumPy's warnings and an inf or NaN gradient — unless the caller lets overflow pass
        (``np.errstate(over="ignore")``), as :func:`jacobnet.course.train` does to call it a divergence.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, SoftmaxCrossEntropy
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], SoftmaxCrossEntropy())
        >>> X, Y = np.ones((5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]     # a batch of 5
        >>> g = net.gradient(X, Y)
        >>> g.shape, bool(np.allclose(g, net.gradient(X, Y, method="finite-difference"), rtol=1e-6, atol=1e-9))
        ((26,), True)
        """
        if not isinstance(method, str) or method not in GRADIENT_METHODS:
            raise ValueError(f"unknown gradient method {quote(method)}; choose one of {', '.join(GRADIENT_METHODS)}")
        if method != "jacobian":  # (the product checks its mode itself)
            check_mode(mode)
        return _strict(self, "gradient", _gradient_raising, _gradient, self, x, y, method, mode)

    @_explained
    def trace(self, x: Array, y: Array, mode: str = "materialised") -> Trace:
        """Every factor of the backward product and every partial product, with shapes: a :class:`Trace`.

        ``mode`` as in :meth:`gradient`; the default is ``"materialised"``, the
        lesson: every factor is built as its dense matrix and multiplied with
        ``@`` (``mode="structured"`` gives the same products at backprop's cost).
        Shown in a REPL or a notebook it is a table; ``trace.factor(name)`` is one factor.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> t = net.trace(np.ones(3), np.zeros(2))
        >>> [(f.name, f.shape) for f in t.factors][:3]
        [('J_loss', (1, 2)), ('J_θ(Dense 2)', (2, 10)), ('J_x(Dense 2)', (2, 4))]
        >>> t.factor("J_x(Dense 2)").col_labels
        ['a^{(2)}_{1}', 'a^{(2)}_{2}', 'a^{(2)}_{3}', 'a^{(2)}_{4}']
        """
        return backward(self, x, y, mode=mode)

    @_explained
    def chain(self, x: Array, y: Array, layer: int | str | None = None, wrt: str = "params") -> Chain:
        """One product as a :class:`~jacobnet.chain.Chain`: ``dL/dθ`` of one layer, or ``dL/dx``.

        ``layer``: a 0-based index into ``net.layers`` (negative counts from the
        end) or a layer's name such as ``"Dense 2"`` (``net.names``); default: the
        first layer with parameters (the longest chain). ``wrt="input"`` gives ``dL/dx``.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> net.chain(np.ones(3), np.zeros(2)).shapes
        [(1, 2), (2, 4), (4, 4), (4, 16)]
        >>> net.chain(np.ones(3), np.zeros(2), layer="Dense 2").target, net.chain(np.ones(3), np.zeros(2), layer=2).target
        ('∂L/∂θ(Dense 2)', '∂L/∂θ(Dense 2)')
        """
        return build_chain(self, x, y, layer=layer, wrt=wrt)

    # --- second order (jacobnet.chain.curvature) ------------------------------------------
    def output_jacobian(self, x: Array) -> Array:
        """``∂a_L/∂θ``: ``(n_L, n_params)``, or ``(B, n_L, n_params)`` — the backward loop seeded with the identity rows.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE()).output_jacobian(np.ones((5, 3))).shape
        (5, 2, 26)
        """
        return curvature.output_jacobian(self, x)

    @_explained
    def per_sample_gradients(self, x: Array, y: Array) -> Array:
        """``∂ℓ_b/∂θ`` of each sample: ``(B, n_params)`` (one sample: ``(1, n_params)``); their mean is :meth:`gradient`.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> X, Y = np.arange(15.0).reshape(5, 3) / 10, np.zeros((5, 2))
        >>> G = net.per_sample_gradients(X, Y)
        >>> G.shape, bool(np.allclose(G.mean(axis=0), net.gradient(X, Y), rtol=1e-14, atol=0))
        ((5, 26), True)
        """
        return curvature.per_sample_gradients(self, x, y)

    def ntk(self, x: Array) -> Array:
        """The neural tangent kernel ``Θ = J Jᵀ``: ``(B·n_L, B·n_L)``, ``J`` the stacked output Jacobians.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> X = np.arange(15.0).reshape(5, 3) / 10
        >>> K, J = net.ntk(X), net.output_jacobian(X).reshape(10, 26)
        >>> K.shape, bool(np.allclose(K, J @ J.T, rtol=1e-14, atol=0))
        ((10, 10), True)
        """
        return curvature.ntk(self, x)

    @_explained
    def gauss_newton(self, x: Array, y: Array) -> Array:
        """``Jᵀ H_ℓ J`` (the batch mean): ``(n_params, n_params)``, ``H_ℓ`` the loss's Hessian in the output.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> X, Y = np.arange(15.0).reshape(5, 3) / 10, np.zeros((5, 2))
        >>> J = net.output_jacobian(X)                      # (5, 2, 26); MSE over 2 outputs: H_ℓ = (2/2) I
        >>> GN = net.gauss_newton(X, Y)
        >>> GN.shape, bool(np.allclose(GN, np.einsum("bki,bkj->ij", J, J) / 5, rtol=1e-13, atol=1e-15))
        ((26, 26), True)
        """
        return curvature.gauss_newton(self, x, y)

    @_explained
    def hessian(self, x: Array, y: Array, parts: bool = False, chunk: int | None = None,
                progress: bool | None = None) -> Array | curvature.HessianParts:
        """The exact Hessian of the (mean) loss, ``(n_params, n_params)``: forward-over-reverse through the products.

        ``parts=True`` returns the decomposition ``H = GN + Σ_k (∂ℓ/∂a_{L,k}) ∇²a_{L,k}``
        (:class:`~jacobnet.chain.curvature.HessianParts`: ``.total``, ``.gauss_newton``,
        ``.residual``). Guarded by the memory budget; ``chunk``, ``progress``: see
        :func:`jacobnet.chain.curvature.hessian`.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(2, 3, seed=0), Tanh(), Dense(3, 1, seed=1)], MSE())
        >>> x = np.array([0.5, -1.0])
        >>> y = net.forward(x)                      # a perfect fit: the residual term is 0, H = GN
        >>> H = net.hessian(x, y)
        >>> H.shape, bool(np.allclose(H, net.gauss_newton(x, y), rtol=0, atol=1e-15))
        ((13, 13), True)
        """
        if parts:
            return curvature.hessian_parts(self, x, y, chunk, progress)
        return curvature.hessian(self, x, y, chunk=chunk, progress=progress)

    @_explained
    def hvp(self, x: Array, y: Array, v: Array, part: str = "total") -> Array:
        """``H v`` without forming ``H`` (a JVP of the backward pass); ``v``: ``(n_params,)`` or ``(n_params, k)``.

        ``part="gauss_newton"`` or ``"residual"`` multiplies by that part of ``H`` only.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> X, Y, v = np.arange(15.0).reshape(5, 3) / 10, np.zeros((5, 2)), np.linspace(-1, 1, 26)
        >>> bool(np.allclose(net.hvp(X, Y, v), net.hessian(X, Y) @ v, rtol=1e-12, atol=1e-15))
        True
        """
        return curvature.hvp(self, x, y, v, part)

    @_explained
    def top_eigenvalue(self, x: Array, y: Array, v0: Array | None = None, *, part: str = "total", tol: float = 1e-9,
                       max_iter: int = 100) -> curvature.TopEigen:
        """The dominant eigenvalue of ``H`` (``λ_max`` near a minimum) by power iteration on :meth:`hvp`, ``H`` never formed.

        ``v0`` warm-starts it (the last call's ``.vector``); see :func:`jacobnet.chain.curvature.top_eigenvalue`.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
        >>> top = net.top_eigenvalue(X, Y)
        >>> bool(np.isclose(top.value, np.linalg.eigvalsh(net.hessian(X, Y))[-1], rtol=1e-8)), top.vector.shape
        (True, (26,))
        """
        return curvature.top_eigenvalue(self, x, y, v0, part=part, tol=tol, max_iter=max_iter)
