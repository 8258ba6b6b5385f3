"""``Stack(layers, loss)``: the composition ``L(f_L(… f_1(x)), y)`` — layers, names, parameters, values.

What every part of jacobnet that multiplies Jacobians needs to know about a
network, and nothing about how its derivatives are computed: the layers in
order and their names (:mod:`jacobnet.core.labels`: ``Dense 1, Tanh 1, Dense 2``),
the sizes that chain, the flat parameter vector ``θ`` (each layer's
``get_params()``, in layer order), the activations ``[a_0 = x, a_1, …, a_L]`` and
the loss. :class:`jacobnet.net.Network` is a ``Stack`` with doors into the
backward pass (:mod:`jacobnet.chain`), SymPy (:mod:`jacobnet.symbolic`) and
finite differences.

A stack refuses what it cannot be built from, with errors that say why: a
list of distinct :class:`~jacobnet.core.layer.Layer` instances (not one layer,
not a class, not the same object twice: shared weights would need the two
positions' gradients summed) and a :class:`~jacobnet.core.losses.Loss` instance
that fits the output (:meth:`~jacobnet.core.losses.Loss.check_fits`).

>>> from jacobnet.core.layers import Dense, Tanh
>>> from jacobnet.core.losses import MSE
>>> s = Stack([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
>>> s.names, s.sizes, s.n_params
(['Dense 1', 'Tanh 1', 'Dense 2'], [4, 4, 2], 26)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Sequence

import numpy as np

from jacobnet.core.labels import number_layers, param_layer_indices
from jacobnet.core.layer import Layer
from jacobnet.core.losses import Loss
from jacobnet.core.validate import as_input, as_params

Array = np.ndarray


class Stack:
    """A stack of layers followed by a loss.

    Args:
        layers: the layers ``f_1 … f_L``, applied in order.
        loss: the loss applied to the last layer's output.

    Raises:
        TypeError: ``layers`` is not a list of :class:`Layer` instances (a single
            layer, a class instead of an instance), or the loss not a :class:`Loss` instance.
        ValueError: consecutive sizes do not chain (names both layers and both
            sizes); one layer object sits at two positions (names both: shared
            weights would need their gradients summed, which jacobnet does not do);
            a softmax twice (``Softmax`` then ``SoftmaxCrossEntropy``) or over one class.

    Names (:mod:`jacobnet.core.labels`): ``names`` numbers the layers per type
    (``Dense 1, Tanh 1, Dense 2``); parameter labels number the layers with
    parameters (:meth:`param_layer_index`); ``a_l`` is the output of ``layers[l − 1]``.
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss | None = None):
        self.layers = checked_layers(layers)
        if loss is None:
            raise TypeError(f"{type(self).__name__}(layers, loss): the loss is missing, e.g. jn.MSE() or jn.SoftmaxCrossEntropy()")
        self.loss_fn = checked_loss(loss)
        self.names = number_layers(self.layers)
        counts = [layer.n_params for layer in self.layers]  # fixed: a Param's shape comes from the layer's sizes
        self._param_index = param_layer_indices(counts)
        ends = np.cumsum([0, *counts]).tolist()
        self._slices = [slice(a, b) for a, b in zip(ends, ends[1:])]
        self.input_size, self.sizes = self._chain_sizes()
        self.loss_fn.check_fits(self.layers[-1], self.names[-1], self.sizes[-1])
        # who input errors name: the first layer with a fixed input size
        self._input_name = next((n for n, l in zip(self.names, self.layers) if l.n_in is not None), self.names[0])

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
        return as_input(x, self._input_name, self.input_size)

    def activations(self, x: Array) -> list[Array]:
        """``[a_0 = x, a_1, …, a_L]``: the input and every layer's output."""
        acts = [self.check_input(x)]
        for layer in self.layers:
            acts.append(layer.checked_output(layer.apply(acts[-1]), acts[-1]))
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
        return self._slices[-1].stop

    def param_slices(self) -> list[slice]:
        """Where each layer's parameters sit in the flat vector (empty slices included)."""
        return list(self._slices)

    def get_params(self) -> Array:
        """All parameters as one flat copy, in layer order: shape ``(n_params,)``."""
        return np.concatenate([layer.get_params() for layer in self.layers])

    def set_params(self, theta: Array) -> None:
        """Set all parameters from a flat vector in ``get_params()`` order."""
        theta = as_params(theta, "Network", self.n_params)
        for layer, s in zip(self.layers, self.param_slices()):
            layer.set_params(theta[s])

    def param_layer_index(self, i: int) -> int | None:
        """``k`` of ``W^{(k)}`` for ``layers[i]``: 1-based among the layers with parameters, else ``None``.

        The one numbering of parameter labels (:func:`jacobnet.core.labels.param_layer_indices`).

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Stack([Dense(3, 4), Tanh(), Dense(4, 2)], MSE())
        >>> [net.param_layer_index(i) for i in range(3)]
        [1, None, 2]
        """
        return self._param_index[i]

    def layer_param_labels(self, i: int) -> Sequence[str]:
        """The labels of ``layers[i]``'s parameters: its slice of :meth:`param_labels` (made on demand)."""
        return self.layers[i].param_labels(self._param_index[i])

    def param_labels(self) -> list[str]:
        """A readable name per parameter, e.g. ``W^{(1)}_{2,3}``; Dense layers numbered from 1.

        >>> from jacobnet import Dense, Tanh, MSE
        >>> Stack([Dense(3, 1), Tanh(), Dense(1, 2)], MSE()).param_labels()[2:]
        ['W^{(1)}_{1,3}', 'b^{(1)}_{1}', 'W^{(2)}_{1,1}', 'W^{(2)}_{2,1}', 'b^{(2)}_{1}', 'b^{(2)}_{2}']
        """
        return [label for i in range(len(self.layers)) for label in self.layer_param_labels(i)]

    def layer_index(self, layer: int | str) -> int:
        """The 0-based position in ``layers`` of ``layer``: an index (negative counts from the end) or a name.

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Stack([Dense(3, 4), Tanh(), Dense(4, 2)], MSE())
        >>> net.layer_index("Dense 2"), net.layer_index(-1), net.layer_index(1)
        (2, 2, 1)
        """
        L = len(self.layers)
        if isinstance(layer, str):
            if layer not in self.names:
                raise ValueError(f"no layer named {layer!r}; the layers are {', '.join(self.names)}")
            return self.names.index(layer)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -L <= layer < L:
            raise ValueError(
                f"layer must be a 0-based index into the {L} layers or a name ({', '.join(self.names)}), got {layer!r}"
            )
        return int(layer) % L

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([{inner}], {self.loss_fn!r})"


def checked_layers(layers: object) -> list[Layer]:
    """``layers`` as a list of distinct :class:`Layer` instances, or a clear error.

    >>> from jacobnet.core.layers import Dense, Tanh
    >>> checked_layers(Dense(3, 2))
    Traceback (most recent call last):
    ...
    TypeError: Network: layers must be a list of Layer objects, got a Dense
    >>> d = Dense(3, 3)
    >>> checked_layers([d, Tanh(), d])
    Traceback (most recent call last):
    ...
    ValueError: Network: layers 0 and 2 are the same Dense(3, 3) object; each position needs its own layer (shared weights are not supported: the gradient would be wrong), e.g. build a second one
    """
    if isinstance(layers, (Layer, type, str)) or not isinstance(layers, Iterable):
        what = _kind(layers)
        raise TypeError(f"Network: layers must be a list of Layer objects, got {what}")
    layers = list(layers)
    if not layers:
        raise ValueError("Network needs at least one layer")
    seen: dict[int, int] = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"Network: layer {i} must be a jacobnet Layer, got {_kind(layer)}")
        if id(layer) in seen:
            raise ValueError(
                f"Network: layers {seen[id(layer)]} and {i} are the same {layer!r} object; "
                "each position needs its own layer (shared weights are not supported: the "
                "gradient would be wrong), e.g. build a second one"
            )
        seen[id(layer)] = i
    return layers


def checked_loss(loss: object) -> Loss:
    """``loss`` if it is a :class:`Loss` instance; a class gets "pass an instance: MSE()"."""
    if isinstance(loss, type) and issubclass(loss, Loss):
        raise TypeError(f"Network: loss must be a Loss instance; pass an instance: {loss.__name__}()")
    if not isinstance(loss, Loss):
        raise TypeError(f"Network: loss must be a jacobnet Loss, got {_kind(loss)}")
    return loss


def _kind(obj: object) -> str:
    """``"a Dense"``, ``"the class Tanh (pass an instance: Tanh())"``, ``"a str"``: for error messages."""
    if isinstance(obj, type):
        return f"the class {obj.__name__} (pass an instance: {obj.__name__}())"
    return f"a {type(obj).__name__}"
