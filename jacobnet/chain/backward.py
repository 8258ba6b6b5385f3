"""The one backward loop: :func:`products`, and the two ways it is consumed, :func:`backward` and :func:`gradient`.

A backward pass multiplies a ``(1, ·)`` row by the Jacobians of the layers,
last to first — the reverse order of every chain at once:

    ∂L/∂a_L = J_loss
    ∂L/∂θ_l = ∂L/∂a_l · J_θ(f_l)          (for every layer with parameters)
    ∂L/∂a_{l−1} = ∂L/∂a_l · J_x(f_l)

:func:`products` is that loop, written once: it yields each partial product
as it forms it and writes each ``∂L/∂θ_l`` into its slice of the gradient.
:func:`backward` records every product in a :class:`~jacobnet.chain.trace.Trace`
(what ``Network.trace`` returns); :func:`gradient` runs the same loop without
keeping them, and stops after the first layer's parameters.

Each multiplication runs in one of two modes (:func:`jacobnet.chain.factor.multiply`):
``"materialised"`` builds the factor's dense matrix and calls ``@`` (the
lesson); ``"structured"`` multiplies through its structure (the cost of
ordinary backprop). Same factors, same order, same numbers. Defaults: what
shows (:func:`backward`, ``Network.trace``) is materialised; what computes
(:func:`gradient`, ``Network.gradient``, ``train``) is structured.

For a batch the products are per sample, ``(B, 1, ·)``, and the gradient is
their mean. In structured mode the sum over the batch is one contraction per
layer (``Operator.vjp_sum``, e.g. ``Gᵀ X`` for a Dense layer's weights), divided
by ``B`` once, and the per-sample ``∂L/∂θ`` are only formed if you ask for
``Product.value``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from jacobnet.chain.build import activations_and_target, first_param_layer, input_factor, loss_factor, theta_factor
from jacobnet.chain.factor import Factor, multiply
from jacobnet.chain.trace import Product, Trace
from jacobnet.core.validate import check_mode

if TYPE_CHECKING:
    from jacobnet.core.operator import Operator
    from jacobnet.core.stack import Stack

Array = np.ndarray


def products(
    net: Stack, acts: list[Array], y: Array, mode: str, grad: Array, to_input: bool = True, record: bool = True
) -> Iterator[Product]:
    """The backward pass, last layer first: yield each partial product as it is formed.

    ``acts`` are the activations ``[a_0 … a_L]`` and ``y`` the target, both
    validated; each ``Σ_b ∂L_b/∂θ_l`` is written into its slice of the flat
    ``grad`` (``(n_params,)``, layer order) as it is formed. ``to_input=False``
    stops after the first layer with parameters (a gradient needs no ``∂L/∂x``).
    ``record=False`` runs the same loop and yields nothing; in structured mode it
    then multiplies by the layers' bare operators, without naming them as factors.
    """
    named = record or mode == "materialised"  # a materialised step builds its factor's dense matrix, by name
    j_loss = loss_factor(net, acts, y) if named else None
    g = j_loss.op.A if named else net.loss_fn.jacobian_op(acts[-1], y).A  # already dense: (1, n) or (B, 1, n)
    L, first, slices = len(net.layers), first_param_layer(net) or 0, net.param_slices()
    if record:
        yield Product(f"∂L/∂a{L}", "", j_loss, g)
    for l in range(L, 0, -1):
        layer, a, block = net.layers[l - 1], acts[l - 1], slices[l - 1]
        if block.stop > block.start:
            f_theta = theta_factor(net, l, acts) if named else layer.jacobian_op(a, "params")
            value = _param_sum(g, f_theta, mode, grad[block])
            if record:
                yield Product(f"∂L/∂θ({net.names[l - 1]})", f"∂L/∂a{l}", f_theta, value, left_value=g)
        if l - 1 <= first and not to_input:
            return
        if not named:
            g = layer.jacobian_op(a, "input").vjp(g)
            continue
        f_x = input_factor(net, l, acts)
        g = multiply(g, f_x, mode)
        if record:
            yield Product(f"∂L/∂a{l - 1}", f"∂L/∂a{l}", f_x, g)


def backward(net: Stack, x: Array, y: Array, mode: str = "materialised", to_input: bool = True) -> Trace:
    """Run the backward pass and record every product (what :meth:`Network.trace` returns).

    ``mode`` defaults to ``"materialised"``, like :meth:`Network.trace`: a trace
    is for showing; :func:`gradient` (for computing) defaults to ``"structured"``.

    For a batch ``(B, n)`` every product is per sample, ``(B, 1, ·)``, and the
    gradient is their mean. ``to_input=False`` stops after the first layer's
    parameters (training needs no ``∂L/∂x``).

    >>> import numpy as np
    >>> from jacobnet import Network, Dense, Tanh, MSE
    >>> net = Network([Dense(3, 2, seed=0), Tanh()], MSE())
    >>> t = backward(net, np.ones(3), np.zeros(2), mode="materialised")
    >>> [(p.name, p.shape) for p in t.products]
    [('∂L/∂a2', (1, 2)), ('∂L/∂a1', (1, 2)), ('∂L/∂θ(Dense 1)', (1, 8)), ('∂L/∂a0', (1, 3))]
    """
    check_mode(mode)
    acts, y = activations_and_target(net, x, y)
    trace = Trace(net, mode, _batch(acts), acts[-1], y)
    grad = np.empty(net.n_params)
    trace.products = list(products(net, acts, y, mode, grad, to_input))
    trace.gradient = _mean(grad, trace.batch)
    return trace


def gradient(net: Stack, x: Array, y: Array, mode: str = "structured") -> Array:
    """``dL/dθ``, flat ``(n_params,)`` (the batch mean): the products of :func:`products`, not kept.

    The same factors in the same order as :func:`backward`; nothing after the
    first layer's parameters is computed.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,4,2", "tanh", "softmax-ce")
    >>> X, Y = np.ones((5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    >>> g = gradient(net, X, Y)
    >>> g.shape, bool(np.allclose(g, gradient(net, X, Y, mode="materialised"), rtol=1e-12, atol=0))
    ((26,), True)
    """
    check_mode(mode)
    acts, y = activations_and_target(net, x, y)
    grad = np.empty(net.n_params)
    for _ in products(net, acts, y, mode, grad, to_input=False, record=False):
        pass
    return _mean(grad, _batch(acts))


def _param_sum(g: Array, factor: Factor | Operator, mode: str, out: Array) -> Array | None:
    """Write ``Σ_b g_b · J_θ,b`` (a ``(1, n)`` row for a loss) into the flat ``out``.

    Returns the per-sample products if they were formed (materialised mode, a
    named factor); structured mode sums in one contraction (``Operator.vjp_sum``,
    of a factor's operator or a bare one) and leaves them to :attr:`Product.value`, on demand.
    """
    if mode == "structured":
        op = factor.op if isinstance(factor, Factor) else factor
        op.vjp_sum(g, out=out.reshape(g.shape[-2], -1))
        return None
    value = multiply(g, factor, mode)
    np.add.reduce(value.reshape(-1, value.shape[-1]), axis=0, out=out)
    return value


def _mean(grad: Array, batch: int | None) -> Array:
    """The flat gradient: over a batch, the sum of the per-sample products divided by ``B``, once."""
    if batch:
        grad *= 1.0 / batch
    return grad


def _batch(acts: list[Array]) -> int | None:
    """``B`` for a batch, ``None`` for one sample."""
    return acts[0].shape[0] if acts[0].ndim == 2 else None
