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

from .composition import check_loss_fits, checked_layers, checked_loss
from .labels import number_layers, param_layer_indices
from .layers import Layer
from .losses import Loss
from .validate import as_input, as_params, check_mode

if TYPE_CHECKING:  # the higher modules, imported where they are used
    from .chain import Chain, Trace

Array = np.ndarray

GRADIENT_METHODS = ("jacobian", "symbolic", "finite-difference")  # the one list: report and CLI read it


class Network:
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

    Names (:mod:`jacobnet.labels`): ``names`` numbers the layers per type
    (``Dense 1, Tanh 1, Dense 2``); parameter labels number the layers with
    parameters (:meth:`param_layer_index`); ``a_l`` is the output of ``layers[l − 1]``.
    """

    def __init__(self, layers: Sequence[Layer], loss: Loss):
        self.layers = checked_layers(layers)
        self.loss_fn = checked_loss(loss)
        self.names = number_layers(self.layers)
        self._param_index = param_layer_indices([layer.n_params for layer in self.layers])
        self.input_size, self.sizes = self._chain_sizes()
        check_loss_fits(self.layers, self.loss_fn, self.names, self.sizes)
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
            acts.append(layer.forward_unchecked(acts[-1]))
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

    def param_layer_index(self, i: int) -> int | None:
        """``k`` of ``W^{(k)}`` for ``layers[i]``: 1-based among the layers with parameters, else ``None``.

        The one numbering of parameter labels (:func:`jacobnet.labels.param_layer_indices`).

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4), Tanh(), Dense(4, 2)], MSE())
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
        >>> Network([Dense(3, 1), Tanh(), Dense(1, 2)], MSE()).param_labels()[2:]
        ['W^{(1)}_{1,3}', 'b^{(1)}_{1}', 'W^{(2)}_{1,1}', 'W^{(2)}_{2,1}', 'b^{(2)}_{1}', 'b^{(2)}_{2}']
        """
        return [label for i in range(len(self.layers)) for label in self.layer_param_labels(i)]

    def layer_index(self, layer: int | str) -> int:
        """The 0-based position in ``layers`` of ``layer``: an index (negative counts from the end) or a name.

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Network([Dense(3, 4), Tanh(), Dense(4, 2)], MSE())
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

    # --- derivatives (doors into the higher modules) ----------------------
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
                (:mod:`jacobnet.memory`, default 1 GiB) raises a
                ``MemoryError`` before allocating.

        >>> import numpy as np
        >>> from jacobnet import Dense, Tanh, SoftmaxCrossEntropy
        >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], SoftmaxCrossEntropy())
        >>> X, Y = np.ones((5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]     # a batch of 5
        >>> g = net.gradient(X, Y)
        >>> g.shape, bool(np.allclose(g, net.gradient(X, Y, method="finite-difference"), rtol=1e-6, atol=1e-9))
        ((26,), True)
        """
        if method not in GRADIENT_METHODS:
            raise ValueError(f"unknown gradient method {method!r}; choose one of {', '.join(GRADIENT_METHODS)}")
        check_mode(mode)
        if method == "jacobian":
            from .trace import gradient

            return gradient(self, x, y, mode=mode)
        if method == "symbolic":
            from .symbolic import symbolic_gradient

            return symbolic_gradient(self, x, y)
        from .check import fd_gradient

        return fd_gradient(self, x, y)

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
        from .trace import backward

        return backward(self, x, y, mode=mode)

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
        from .chain import build_chain

        return build_chain(self, x, y, layer=layer, wrt=wrt)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{inner}], {self.loss_fn!r})"
