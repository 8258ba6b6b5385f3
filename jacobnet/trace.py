"""A whole backward pass as explicit products, recorded: :func:`backward` and its :class:`Trace`.

A backward pass multiplies a ``(1, ·)`` row by the Jacobians of the layers,
last to first — the reverse order of every chain at once:

    ∂L/∂a_L = J_loss
    ∂L/∂θ_l = ∂L/∂a_l · J_θ(f_l)          (for every layer with parameters)
    ∂L/∂a_{l−1} = ∂L/∂a_l · J_x(f_l)

Each multiplication runs in one of two modes (:func:`jacobnet.factor.multiply`):
``"materialised"`` builds the factor's dense matrix and calls ``@`` (the
lesson); ``"structured"`` multiplies through its structure (the cost of
ordinary backprop). Same factors, same order, same numbers.

For a batch the products are per sample, ``(B, 1, ·)``, and the gradient is
their mean. In structured mode that mean is one contraction per layer
(``Operator.vjp_mean``, e.g. ``Gᵀ X / B`` for a Dense layer's weights) and the
per-sample ``∂L/∂θ`` are only formed if you ask for ``Product.value``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .factor import Factor, check_mode, multiply
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
        return float(np.mean(self.network.loss_fn._per_sample(self._yhat, self._y)))

    @property
    def factors(self) -> list[Factor]:
        """The factors in the order they are multiplied in."""
        return [p.factor for p in self.products]

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
            out.append({"step": str(i), "product": p.name, "left": p.left, "factor": f.name, "structure": f.kind, "shapes": where})
        return out

    def table(self) -> Table:
        """The trace as a :class:`~jacobnet.table.Table`."""
        rows = [{**r, "product": r["product"] + " =", "left": r["left"] + " ·" if r["left"] else ""} for r in self.rows()]
        blocks = [f"{p.name} {p.shape[1]}" for p in self._param_products()]
        footer = f"gradient: ({self.gradient.size},) = [" + " | ".join(blocks) + "]"
        return Table(self._header(), ["step", "product", "left", "factor", "structure", "shapes"], rows, footer=footer)

    def _header(self) -> str:
        who = "one sample" if self.batch is None else f"a batch of {self.batch} (per-sample shapes; gradient = mean)"
        return f"Backward pass of {self.network!r}: {who}, {self.mode}, loss = {self.loss:.6g}"

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def _param_products(self) -> list[Product]:
        """The ``∂L/∂θ`` products, in layer order."""
        return [p for p in reversed(self.products) if p.name.startswith("∂L/∂θ")]


def backward(net: Network, x: Array, y: Array, mode: str = "structured", to_input: bool = True) -> Trace:
    """Run the backward pass as explicit products and record it.

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
    acts = net.activations(x)
    yhat = acts[-1]
    _, y = net.loss_fn._checked(yhat, y)
    L = len(net.layers)
    trace = Trace(net, mode, acts[0].shape[0] if acts[0].ndim == 2 else None, yhat, y)
    j_loss = Factor("J_loss", net.loss_fn.jacobian_op(yhat, y), out="L", wrt=f"a{L}")
    g = j_loss.op.A  # the loss row is already dense: (1, n) or (B, 1, n)
    trace.products.append(Product(f"∂L/∂a{L}", "", j_loss, g))
    first_param = next((i for i, layer in enumerate(net.layers) if layer.n_params), 0)
    grads: list[Array] = []
    for l in range(L, 0, -1):
        layer, name, a_in, left = net.layers[l - 1], net.names[l - 1], acts[l - 1], f"∂L/∂a{l}"
        if layer.n_params:
            f_theta = Factor(f"J_θ({name})", layer.jacobian_params_op(a_in), out=f"a{l}", wrt=f"θ({name})")
            trace.products.append(_param_product(f"∂L/∂θ({name})", left, g, f_theta, mode, grads))
        if l - 1 <= first_param and not to_input:
            break
        f_x = Factor(f"J_x({name})", layer.jacobian_input_op(a_in), out=f"a{l}", wrt=f"a{l - 1}")
        g = multiply(g, f_x, mode)
        trace.products.append(Product(f"∂L/∂a{l - 1}", left, f_x, g))
    trace.gradient = np.concatenate(grads[::-1]) if grads else np.zeros(0)
    return trace


def _param_product(name: str, left: str, g: Array, factor: Factor, mode: str, grads: list[Array]) -> Product:
    """``∂L/∂θ = g · J_θ``; appends its batch mean, a flat row, to ``grads``."""
    if mode == "structured":  # the batch mean in one contraction; per-sample values on demand
        grads.append(factor.op.vjp_mean(g).reshape(-1))
        return Product(name, left, factor, None, left_value=g)
    value = multiply(g, factor, mode)
    grads.append(value.reshape(-1, value.shape[-1]).mean(axis=0))
    return Product(name, left, factor, value)
