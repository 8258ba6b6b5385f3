"""A whole backward pass as explicit products, recorded: :func:`backward` and its :class:`Trace`.

A backward pass multiplies a ``(1, ·)`` row by the Jacobians of the layers,
last to first — the reverse order of every chain at once:

    ∂L/∂a_L = J_loss
    ∂L/∂θ_l = ∂L/∂a_l · J_θ(f_l)          (for every layer with parameters)
    ∂L/∂a_{l−1} = ∂L/∂a_l · J_x(f_l)

Each multiplication runs in one of two modes (:func:`jacobnet.factor.multiply`):
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

from typing import TYPE_CHECKING

import numpy as np

from .factor import Factor, check_mode, find_factor, multiply
from .labels import activation_labels
from .table import Table

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray


class Product:
    """One partial product of a backward pass, ``name = left · factor``.

    ``value`` is ``(1, n)``, or ``(B, 1, n)`` per sample; a structured-mode
    parameter product computes it on first access.
    """

    def __init__(self, name: str, left: str, factor: Factor, value: Array | None, left_value: Array | None = None):
        self.name, self.left, self.factor = name, left, factor
        self._value, self._left_value = value, left_value

    @property
    def value(self) -> Array:
        """The product: ``(1, n)`` or ``(B, 1, n)``."""
        if self._value is None:
            self._value = self.factor.op.vjp(self._left_value)
        return self._value

    @property
    def shape(self) -> tuple[int, int]:
        """The per-sample shape of the product, e.g. ``(1, 10)``."""
        rows = (self._value if self._value is not None else self._left_value).shape[-2]
        return (rows, self.factor.shape[1])

    def __repr__(self) -> str:
        return f"Product({self.name!r} = {self.left or '·'} · {self.factor.name}, shape={self.shape})"


class Trace:
    """A whole backward pass: every factor, every partial product, the gradient.

    Attributes:
        products: in execution order; ``products[0]`` is ``∂L/∂a_L = J_loss``.
        gradient: the flat ``(n_params,)`` gradient (the batch mean), layer order.
        mode, batch: how it was computed; ``batch`` is ``B`` or ``None``.
    ``str(trace)`` is a table; in Jupyter it renders as HTML.
    """

    def __init__(self, network: Network, mode: str, batch: int | None, yhat: Array, y: Array):
        self.network, self.mode, self.batch = network, mode, batch
        self._yhat, self._y = yhat, y
        self.products: list[Product] = []
        self.gradient: Array = np.zeros(0)

    @property
    def loss(self) -> float:
        """The loss (the mean over a batch)."""
        return float(np.mean(self.network.loss_fn.per_sample_unchecked(self._yhat, self._y)))

    @property
    def factors(self) -> list[Factor]:
        """The factors in the order they are multiplied in."""
        return [p.factor for p in self.products]

    def factor(self, name: str) -> Factor:
        """The factor called ``name``, e.g. ``"J_θ(Dense 1)"``; ``KeyError`` listing the names if unknown."""
        return find_factor(self.factors, name, "this trace")

    @property
    def products_by_name(self) -> dict[str, Product]:
        """The partial products, by name."""
        return {p.name: p for p in self.products}

    def rows(self) -> list[dict[str, str]]:
        """The table as data: one dict per multiplication."""
        out, shapes = [], {p.name: p.shape for p in self.products}
        for i, p in enumerate(self.products):
            f = p.factor
            where = f"{shapes[p.left]} · {f.shape} → {p.shape}" if p.left else f"{p.shape}"
            row = {"step": str(i), "product": p.name, "left": p.left, "factor": f.name, "structure": f.kind}
            out.append({**row, "shapes": where})
        return out

    def table(self) -> Table:
        """The trace as a :class:`~jacobnet.table.Table`."""
        rows = [{**r, "product": r["product"] + " =", "left": r["left"] and r["left"] + " ·"} for r in self.rows()]
        blocks = [f"{p.name} {p.shape[1]}" for p in self._param_products()]
        footer = f"gradient: ({self.gradient.size},) = [" + " | ".join(blocks) + "]"
        return Table(self._header(), ["step", "product", "left", "factor", "structure", "shapes"], rows, footer=footer)

    def _header(self) -> str:
        """Who, how, the loss; then what each ``a_l`` is (entry labels: :mod:`jacobnet.labels`)."""
        net = self.network
        who = "one sample" if self.batch is None else f"a batch of {self.batch} (per-sample shapes; gradient = mean)"
        acts = "; ".join(f"a{l} = output of {name}" for l, name in enumerate(net.names, start=1))
        return (
            f"Backward pass of {net!r}: {who}, {self.mode}, loss = {self.loss:.6g}\n"
            f"where a0 = x; {acts} = {net.loss_fn.input_name}"
        )

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:  # a REPL shows the table too
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def _param_products(self) -> list[Product]:
        """The ``∂L/∂θ`` products, in layer order."""
        return [p for p in reversed(self.products) if p.factor.wrt_params]


def backward(net: Network, x: Array, y: Array, mode: str = "materialised", to_input: bool = True) -> Trace:
    """Run the backward pass as explicit products and record it (what :meth:`Network.trace` returns).

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
    j_loss = loss_factor(net, acts, y)
    trace = Trace(net, mode, acts[0].shape[0] if acts[0].ndim == 2 else None, acts[-1], y)
    g, L = j_loss.op.A, len(net.layers)  # the loss row is already dense: (1, n) or (B, 1, n)
    trace.products.append(Product(f"∂L/∂a{L}", "", j_loss, g))
    first, grad, end = _first_param(net), np.empty(net.n_params), net.n_params
    for l in range(L, 0, -1):
        left, n = f"∂L/∂a{l}", net.layers[l - 1].n_params
        if n:
            f_theta = theta_factor(net, l, acts)
            value = _param_sum(g, f_theta, mode, grad[end - n : end])
            trace.products.append(Product(f"∂L/∂θ({net.names[l - 1]})", left, f_theta, value, left_value=g))
            end -= n
        if l - 1 <= first and not to_input:
            break
        f_x = input_factor(net, l, acts)
        g = multiply(g, f_x, mode)
        trace.products.append(Product(f"∂L/∂a{l - 1}", left, f_x, g))
    trace.gradient = _mean(grad, trace.batch)
    return trace


def gradient(net: Network, x: Array, y: Array, mode: str = "structured") -> Array:
    """``dL/dθ``, flat ``(n_params,)`` (the batch mean): :func:`backward`'s products, unrecorded.

    The same factors in the same order; only the bookkeeping of a :class:`Trace`
    is skipped (in structured mode the operators are used bare, unnamed), and
    nothing after the first layer's parameters is computed.

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
    g, first, structured = net.loss_fn.jacobian_op(acts[-1], y).A, _first_param(net), mode == "structured"
    end = net.n_params
    grad = np.empty(end)  # each layer writes its block in place
    for l in range(len(net.layers), first, -1):
        layer, a = net.layers[l - 1], acts[l - 1]
        n = layer.n_params
        if n and structured:
            layer.jacobian_params_op(a).vjp_sum(g, out=grad[end - n : end].reshape(g.shape[-2], -1))
        elif n:
            _param_sum(g, theta_factor(net, l, acts), mode, grad[end - n : end])
        end -= n
        if l - 1 > first:
            g = layer.jacobian_input_op(a).vjp(g) if structured else multiply(g, input_factor(net, l, acts), mode)
    return _mean(grad, acts[0].shape[0] if acts[0].ndim == 2 else None)


def loss_factor(net: Network, acts: list[Array], y: Array) -> Factor:
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


def theta_factor(net: Network, l: int, acts: list[Array]) -> Factor:
    """``J_θ(f_l)`` of layer ``l`` (1-based) at its input ``a_{l−1}``: ``(n_l, n_params_l)``.

    Rows ``a^{(l)}_{i}``; columns exactly layer ``l``'s slice of ``net.param_labels()``.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,1,2", "tanh", "mse")
    >>> f = theta_factor(net, 3, net.activations(np.ones(3)))
    >>> f.name, f.shape, f.row_labels, f.col_labels
    ('J_θ(Dense 2)', (2, 4), ['a^{(3)}_{1}', 'a^{(3)}_{2}'], ['W^{(2)}_{1,1}', 'W^{(2)}_{2,1}', 'b^{(2)}_{1}', 'b^{(2)}_{2}'])
    """
    name, op = net.names[l - 1], net.layers[l - 1].jacobian_params_op(acts[l - 1])
    rows, cols = activation_labels(l, op.shape[0]), net.layer_param_labels(l - 1)
    return Factor(f"J_θ({name})", op, f"a{l}", f"θ({name})", rows, cols, layer=l, wrt_params=True)


def input_factor(net: Network, l: int, acts: list[Array]) -> Factor:
    """``J_x(f_l)`` of layer ``l`` (1-based) at its input ``a_{l−1}``: ``(n_l, n_{l−1})``.

    Rows ``a^{(l)}_{i}``; columns the layer's input, ``x_{j}`` for the first layer, else ``a^{(l−1)}_{j}``.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "mse")
    >>> f = input_factor(net, 1, net.activations(np.ones(3)))
    >>> f.shape, f.row_labels, f.col_labels
    ((2, 3), ['a^{(1)}_{1}', 'a^{(1)}_{2}'], ['x_{1}', 'x_{2}', 'x_{3}'])
    """
    op = net.layers[l - 1].jacobian_input_op(acts[l - 1])
    rows, cols = activation_labels(l, op.shape[0]), activation_labels(l - 1, op.shape[1])
    return Factor(f"J_x({net.names[l - 1]})", op, f"a{l}", f"a{l - 1}", rows, cols, layer=l)


def activations_and_target(net: Network, x: Array, y: Array) -> tuple[list[Array], Array]:
    """The activations ``[a_0 … a_L]`` (validated once) and the validated target."""
    acts = net.activations(x)
    _, y = net.loss_fn.checked_target(acts[-1], y)
    return acts, y


def _first_param(net: Network) -> int:
    """The index of the first layer with parameters (0 if none has any)."""
    for i, layer in enumerate(net.layers):
        if layer.n_params:
            return i
    return 0


def _param_sum(g: Array, factor: Factor, mode: str, out: Array) -> Array | None:
    """Write ``Σ_b g_b · J_θ,b`` (a ``(1, n)`` row for a loss) into the flat ``out``.

    Returns the per-sample products if they were formed (materialised mode);
    structured mode sums in one contraction (``Operator.vjp_sum``) and leaves
    them to :attr:`Product.value`, on demand.
    """
    if mode == "structured":
        factor.op.vjp_sum(g, out=out.reshape(g.shape[-2], -1))
        return None
    value = multiply(g, factor, mode)
    np.add.reduce(value.reshape(-1, value.shape[-1]), axis=0, out=out)
    return value


def _mean(grad: Array, batch: int | None) -> Array:
    """The flat gradient: over a batch, the sum of the per-sample products divided by ``B``, once."""
    if batch:
        grad *= 1.0 / batch
    return grad
