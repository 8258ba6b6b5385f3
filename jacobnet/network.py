"""``Network(layers, loss)``: a composition ``L(f_L(… f_1(x)), y)`` and its gradient.

The gradient is the theorem backprop computes without showing it:

    dL/dθ_l = J_loss(a_L) · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)

``Network`` owns the layers, their names and their parameters; the products
themselves live in :mod:`jacobnet.chain` (``gradient``, ``trace``, ``chain``
are thin doors into it), the symbolic derivation in :mod:`jacobnet.symbolic`
and finite differences in :mod:`jacobnet.check`.

>>> import numpy as np
>>> from jacobnet import Dense, Tanh, SoftmaxCrossEntropy
>>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], SoftmaxCrossEntropy())
>>> net.names
['Dense 1', 'Tanh 1', 'Dense 2']
>>> net.n_params, net.gradient(np.ones(3), np.array([1.0, 0.0])).shape
(26, (26,))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .layers import Layer
from .losses import Loss
from .validate import as_input, as_params

if TYPE_CHECKING:  # the higher modules, imported where they are used
    from .chain import Chain, Trace

Array = np.ndarray

GRADIENT_METHODS = ("jacobian", "symbolic", "finite-difference")


class Network:
    """A stack of layers followed by a loss.

    Args:
        layers: the layers ``f_1 … f_L``, applied in order.
        loss: the loss applied to the last layer's output.

    Raises:
        TypeError: a layer is not a :class:`Layer`, or the loss not a :class:`Loss`.
        ValueError: consecutive sizes do not chain (names both layers and both sizes).
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss):
        layers = list(layers)
        if not layers:
            raise ValueError("Network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Network: layer {i} must be a jacobnet Layer, got {type(layer).__name__}")
        if not isinstance(loss, Loss):
            raise TypeError(f"Network: loss must be a jacobnet Loss, got {type(loss).__name__}")
        self.layers = layers
        self.loss_fn = loss
        self.names = _number_layers(layers)
        self.input_size, self.sizes = self._chain_sizes()

    def _chain_sizes(self) -> tuple[int | None, list[int | None]]:
        """Input size and each layer's output size; raise where they do not chain."""
        size: int | None = None
        source = "the input"
        input_size: int | None = None
        sizes: list[int | None] = []
        for name, layer in zip(self.names, self.layers):
            if layer.n_in is not None:
                if size is None:
                    input_size = layer.n_in
                elif size != layer.n_in:
                    raise ValueError(
                        f"sizes do not chain: {source} outputs {size} features "
                        f"but {name} ({layer!r}) expects {layer.n_in} inputs"
                    )
                size = layer.n_in
            if size is not None:
                size = layer.out_size(size)
                if layer.n_in is not None:
                    source = f"{name} ({layer!r})"
            sizes.append(size)
        return input_size, sizes

    # --- values -----------------------------------------------------------
    def check_input(self, x: object) -> Array:
        """``x`` as float64 ``(n_in,)`` or ``(B, n_in)``; errors name the first sized layer."""
        first = next((n for n, l in zip(self.names, self.layers) if l.n_in is not None), self.names[0])
        return as_input(x, first, self.input_size)

    def activations(self, x: Array) -> list[Array]:
        """``[a_0 = x, a_1, …, a_L]``: the input and every layer's output."""
        acts = [self.check_input(x)]
        for layer in self.layers:
            acts.append(layer._forward(acts[-1]))
        return acts

    def forward(self, x: Array) -> Array:
        """The network's output ``a_L``: ``(n_out,)`` or ``(B, n_out)``."""
        return self.activations(x)[-1]

    def loss(self, x: Array, y: Array) -> float:
        """``L(f(x), y)``, or its mean over a batch."""
        return self.loss_fn.forward(self.forward(x), y)

    # --- parameters -------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Total number of parameters."""
        return sum(layer.n_params for layer in self.layers)

    def param_slices(self) -> list[slice]:
        """Where each layer's parameters sit in the flat vector (empty slices included)."""
        out, start = [], 0
        for layer in self.layers:
            out.append(slice(start, start + layer.n_params))
            start += layer.n_params
        return out

    def get_params(self) -> Array:
        """All parameters as one flat copy, in layer order: shape ``(n_params,)``."""
        return np.concatenate([layer.get_params() for layer in self.layers])

    def set_params(self, theta: Array) -> None:
        """Set all parameters from a flat vector in ``get_params()`` order."""
        theta = as_params(theta, "Network", self.n_params)
        for layer, s in zip(self.layers, self.param_slices()):
            layer.set_params(theta[s])

    def param_labels(self) -> list[str]:
        """A readable name per parameter, e.g. ``W^{(1)}_{2,3}``; Dense layers numbered from 1."""
        labels: list[str] = []
        k = 0
        for layer in self.layers:
            if layer.n_params:
                k += 1
                labels += layer.param_labels(k)
        return labels

    # --- derivatives (doors into the higher modules) ----------------------
    def gradient(self, x: Array, y: Array, method: str = "jacobian", mode: str = "structured") -> Array:
        """``dL/dθ`` as a flat ``(n_params,)`` vector (the mean over a batch).

        Args:
            method: ``"jacobian"`` (the explicit product of layer Jacobians),
                ``"symbolic"`` (SymPy's derivation, lambdified and cached), or
                ``"finite-difference"`` (central differences, relative step).
            mode: for ``"jacobian"``: ``"structured"`` multiplies each factor
                through its structure (the cost of ordinary backprop);
                ``"materialised"`` builds every dense Jacobian first (the
                lesson). Same factors, same order, same numbers (≤ 1e-12).
                The default is ``"structured"``: training at realistic sizes
                stays fast (a 784→128 layer's ``J_θ`` is ~100 MB per sample
                dense), while every Jacobian can still be shown on demand by
                :meth:`trace` and :meth:`chain`. Materialising more than the
                memory budget (:mod:`jacobnet.memory`, default 1 GiB) raises
                a ``MemoryError`` before allocating.
        """
        if method == "jacobian":
            from .trace import gradient

            return gradient(self, x, y, mode=mode)
        if method == "symbolic":
            from .symbolic import symbolic_gradient

            return symbolic_gradient(self, x, y)
        if method == "finite-difference":
            from .check import fd_gradient

            return fd_gradient(self, x, y)
        raise ValueError(f"unknown gradient method {method!r}; choose one of {', '.join(GRADIENT_METHODS)}")

    def trace(self, x: Array, y: Array, mode: str = "materialised") -> Trace:
        """Every factor of the backward product and every partial product, with shapes."""
        from .chain import backward

        return backward(self, x, y, mode=mode)

    def chain(self, x: Array, y: Array, layer: int | None = None, wrt: str = "params") -> Chain:
        """One product as a :class:`~jacobnet.chain.Chain`: ``dL/dθ`` of ``layers[layer]``, or ``dL/dx``."""
        from .chain import build_chain

        return build_chain(self, x, y, layer=layer, wrt=wrt)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{inner}], {self.loss_fn!r})"


def _number_layers(layers: Sequence[Layer]) -> list[str]:
    """Display names numbered per type: ``Dense 1, Tanh 1, Dense 2, …``."""
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        kind = type(layer).__name__
        counts[kind] = counts.get(kind, 0) + 1
        names.append(f"{kind} {counts[kind]}")
    return names
