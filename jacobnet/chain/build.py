"""The factors of a network's backward pass, named and labelled, and the chain of one product.

``J_loss`` (:func:`loss_factor`), ``J_θ(f_l)`` (:func:`theta_factor`) and
``J_x(f_l)`` (:func:`input_factor`) at the activations of a forward pass, each a
:class:`~jacobnet.chain.factor.Factor` whose rows and columns are named in the
notation of :mod:`jacobnet.core.labels`; :func:`build_chain` lines them up as the
:class:`~jacobnet.chain.product.Chain` of ``dL/dθ_l`` (or ``dL/dx``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jacobnet.chain.factor import Factor
from jacobnet.chain.product import Chain
from jacobnet.core.labels import activation_labels

if TYPE_CHECKING:
    from jacobnet.core.stack import Stack

Array = np.ndarray


def loss_factor(net: Stack, acts: list[Array], y: Array) -> Factor:
    """``J_loss`` at ``a_L`` (validated, with its target): ``(1, n_L)``; columns ``ŷ_{j}`` (``z_{j}`` for logits).

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,4,2", "tanh", "softmax-ce")
    >>> f = loss_factor(net, net.activations(np.ones(3)), np.array([0.0, 1.0]))
    >>> f.name, f.shape, f.row_labels, f.col_labels
    ('J_loss', (1, 2), ['L'], ['z_{1}', 'z_{2}'])
    """
    L, yhat = len(net.layers), acts[-1]
    labels = net.loss_fn.input_labels(yhat.shape[-1])
    return Factor("J_loss", net.loss_fn.jacobian_op(yhat, y), out="L", wrt=f"a{L}", row_labels=["L"], col_labels=labels)


def theta_factor(net: Stack, l: int, acts: list[Array]) -> Factor:
    """``J_θ(f_l)`` of layer ``l`` (1-based) at its input ``a_{l−1}``: ``(n_l, n_params_l)``.

    Rows ``a^{(l)}_{i}``; columns exactly layer ``l``'s slice of ``net.param_labels()``.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,1,2", "tanh", "mse")
    >>> f = theta_factor(net, 3, net.activations(np.ones(3)))
    >>> f.name, f.shape, f.row_labels, f.col_labels
    ('J_θ(Dense 2)', (2, 4), ['a^{(3)}_{1}', 'a^{(3)}_{2}'], ['W^{(2)}_{1,1}', 'W^{(2)}_{2,1}', 'b^{(2)}_{1}', 'b^{(2)}_{2}'])
    """
    name, op = net.names[l - 1], net.layers[l - 1].jacobian_op(acts[l - 1], "params")
    rows, cols = activation_labels(l, op.shape[0]), net.layer_param_labels(l - 1)
    return Factor(f"J_θ({name})", op, f"a{l}", f"θ({name})", rows, cols, layer=l, wrt_params=True)


def input_factor(net: Stack, l: int, acts: list[Array]) -> Factor:
    """``J_x(f_l)`` of layer ``l`` (1-based) at its input ``a_{l−1}``: ``(n_l, n_{l−1})``.

    Rows ``a^{(l)}_{i}``; columns the layer's input, ``x_{j}`` for the first layer, else ``a^{(l−1)}_{j}``.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "mse")
    >>> f = input_factor(net, 1, net.activations(np.ones(3)))
    >>> f.shape, f.row_labels, f.col_labels
    ((2, 3), ['a^{(1)}_{1}', 'a^{(1)}_{2}'], ['x_{1}', 'x_{2}', 'x_{3}'])
    """
    op = net.layers[l - 1].jacobian_op(acts[l - 1], "input")
    rows, cols = activation_labels(l, op.shape[0]), activation_labels(l - 1, op.shape[1])
    return Factor(f"J_x({net.names[l - 1]})", op, f"a{l}", f"a{l - 1}", rows, cols, layer=l)


def activations_and_target(net: Stack, x: Array, y: Array) -> tuple[list[Array], Array]:
    """The activations ``[a_0 … a_L]`` (validated once) and the validated target."""
    acts = net.activations(x)
    _, y = net.loss_fn.checked_target(acts[-1], y)
    return acts, y


def first_param_layer(net: Stack) -> int | None:
    """The 0-based index of the first layer with parameters, ``None`` if no layer has any."""
    return next((i for i, layer in enumerate(net.layers) if layer.n_params), None)


def build_chain(net: Stack, x: Array, y: Array, layer: int | None = None, wrt: str = "params") -> Chain:
    """The factors of ``dL/dθ`` of ``net.layers[layer]`` (or of ``dL/dx`` with ``wrt="input"``).

    ``layer`` defaults to the first layer with parameters (the longest chain).

    >>> import numpy as np
    >>> from jacobnet import Network, Dense, Tanh, MSE
    >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
    >>> net.chain(np.ones(3), np.zeros(2)).shapes
    [(1, 2), (2, 4), (4, 4), (4, 16)]
    >>> net.chain(np.ones((5, 3)), np.zeros((5, 2)), wrt="input").evaluate().shape
    (5, 1, 3)
    """
    if wrt not in ("params", "input"):
        raise ValueError(f"wrt must be 'params' or 'input', got {wrt!r}")
    stop = 0 if wrt == "input" else _target_layer(net, layer) + 1
    acts, y = activations_and_target(net, x, y)
    factors = [loss_factor(net, acts, y)]
    factors += [input_factor(net, l, acts) for l in range(len(net.layers), stop, -1)]
    if wrt == "input":
        return Chain("∂L/∂x", factors)
    factors.append(theta_factor(net, stop, acts))
    return Chain(f"∂L/∂θ({net.names[stop - 1]})", factors)


def _target_layer(net: Stack, layer: int | str | None) -> int:
    """The 0-based index of the layer whose parameters the chain differentiates by (validated)."""
    if layer is None:
        layer = first_param_layer(net)
        if layer is None:
            raise ValueError("this network has no parameters; use wrt='input'")
    i = net.layer_index(layer)
    if not net.layers[i].n_params:
        raise ValueError(f"{net.names[i]} has no parameters; choose a layer with parameters or wrt='input'")
    return i
