"""The explicit product: named factors, partial products, shapes.

A backward pass is a sequence of multiplications of a ``(1, ·)`` row by the
Jacobians of the layers, last to first:

    ∂L/∂a_L = J_loss
    ∂L/∂θ_l = ∂L/∂a_l · J_θ(f_l)          (for every layer with parameters)
    ∂L/∂a_{l−1} = ∂L/∂a_l · J_x(f_l)

:func:`backward` runs it and records every factor and every partial product
(a :class:`Trace`); :class:`Chain` is one of those products,
``dL/dθ_l = J_loss · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)``, as an ordered
list of :class:`Factor` objects that can be multiplied in any order.

Each multiplication runs in one of two modes: ``"materialised"`` builds the
factor's dense matrix and calls ``@`` (the lesson); ``"structured"``
multiplies through the factor's structure (``Operator.vjp``, the cost of
ordinary backprop). Same factors, same order, same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .structure import Operator

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray
MODES = ("materialised", "structured")


@dataclass
class Factor:
    """One Jacobian in a chain: its name, e.g. ``J_x(Dense 2)``, and its structured operator."""

    name: str
    op: Operator

    @property
    def shape(self) -> tuple[int, int]:
        """The per-sample shape ``(rows, cols)`` = ``(outputs, inputs)``."""
        return self.op.shape

    @property
    def kind(self) -> str:
        """The structure label: ``dense``, ``diagonal``, ``[I ⊗ xᵀ | I]``, …"""
        return self.op.kind

    @property
    def batch(self) -> int | None:
        """The batch size ``B``, or ``None`` for a single sample."""
        return self.op.batch

    def dense(self) -> Array:
        """The materialised matrix: ``shape``, or ``(B, *shape)`` for a batch."""
        return self.op.dense()

    def __repr__(self) -> str:
        return f"Factor({self.name!r}, shape={self.shape}, kind={self.kind!r})"


@dataclass
class Product:
    """One partial product of a backward pass, ``name = left · factor``."""

    name: str
    left: str
    factor: Factor
    value: Array

    @property
    def shape(self) -> tuple[int, ...]:
        """The per-sample shape of the product, e.g. ``(1, 10)``."""
        return tuple(self.value.shape[-2:])


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")


def multiply(G: Array, factor: Factor, mode: str) -> Array:
    """``G · J`` for a row block ``G`` (``(k, m)`` or ``(B, k, m)``): dense or through the structure."""
    _check_mode(mode)
    return G @ factor.dense() if mode == "materialised" else factor.op.vjp(G)


@dataclass
class Trace:
    """A whole backward pass: every factor, every partial product, the gradient.

    ``products`` is in execution order; ``products[0]`` is ``∂L/∂a_L = J_loss``.
    ``gradient`` is the flat ``(n_params,)`` gradient (the batch mean).
    ``str(trace)`` is a table; in Jupyter it renders as HTML.
    """

    network: Network
    mode: str
    batch: int | None
    loss: float
    products: list[Product] = field(default_factory=list)
    gradient: Array = field(default_factory=lambda: np.zeros(0))

    @property
    def factors(self) -> list[Factor]:
        """The factors in the order they are multiplied in."""
        return [p.factor for p in self.products]

    def rows(self) -> list[dict[str, str]]:
        """The table as data: one dict per multiplication."""
        out = []
        for i, p in enumerate(self.products):
            f = p.factor
            if p.left:
                left_shape = self.products_by_name[p.left].shape
                shapes = f"{left_shape} · {f.shape} → {p.shape}"
            else:
                shapes = f"{p.shape}"
            out.append(
                {"step": str(i), "product": p.name, "left": p.left, "factor": f.name, "structure": f.kind, "shapes": shapes}
            )
        return out

    @property
    def products_by_name(self) -> dict[str, Product]:
        """The partial products, by name."""
        return {p.name: p for p in self.products}

    def _header(self) -> str:
        who = "one sample" if self.batch is None else f"a batch of {self.batch} (per-sample shapes; gradient = mean)"
        return f"Backward pass of {self.network!r}: {who}, {self.mode}, loss = {self.loss:.6g}"

    def __str__(self) -> str:
        cols = ["step", "product", "left", "factor", "structure", "shapes"]
        rows = self.rows()
        for r in rows:
            r["left"] = r["left"] + " ·" if r["left"] else ""
            r["product"] = r["product"] + " ="
        width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
        lines = [self._header(), "  ".join(c.ljust(width[c]) for c in cols).rstrip()]
        lines.append("  ".join("─" * width[c] for c in cols))
        lines += ["  ".join(r[c].ljust(width[c]) for c in cols).rstrip() for r in rows]
        blocks = [f"{p.name} {p.shape[1]}" for p in self._param_products()]
        lines.append(f"gradient: ({self.gradient.size},) = [" + " | ".join(blocks) + "]")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r.values()) + "</tr>" for r in self.rows()
        )
        head = "".join(f"<th>{c}</th>" for c in ["step", "product", "left", "factor", "structure", "shapes"])
        return f"<p>{html.escape(self._header())}</p><table><tr>{head}</tr>{cells}</table>"

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
    _check_mode(mode)
    acts = net.activations(x)
    batch = acts[0].shape[0] if acts[0].ndim == 2 else None
    yhat = acts[-1]
    _, y = net.loss_fn._checked(yhat, y)
    L = len(net.layers)
    j_loss = Factor("J_loss", net.loss_fn.jacobian_op(yhat, y))
    trace = Trace(net, mode, batch, float(np.mean(net.loss_fn._per_sample(yhat, y))))
    g = j_loss.dense()
    trace.products.append(Product(f"∂L/∂a{L}", "", j_loss, g))
    first_param = next((i for i, layer in enumerate(net.layers) if layer.n_params), 0)
    grads: list[Array] = []
    for l in range(L, 0, -1):
        layer, name, a_in, left = net.layers[l - 1], net.names[l - 1], acts[l - 1], f"∂L/∂a{l}"
        if layer.n_params:
            f_theta = Factor(f"J_θ({name})", layer.jacobian_params_op(a_in))
            g_theta = multiply(g, f_theta, mode)
            trace.products.append(Product(f"∂L/∂θ({name})", left, f_theta, g_theta))
            grads.append(g_theta)
        if l - 1 <= first_param and not to_input:
            break
        f_x = Factor(f"J_x({name})", layer.jacobian_input_op(a_in))
        g = multiply(g, f_x, mode)
        trace.products.append(Product(f"∂L/∂a{l - 1}", left, f_x, g))
    rows = [gr.reshape(-1, gr.shape[-1]).mean(axis=0) for gr in reversed(grads)]
    trace.gradient = np.concatenate(rows) if rows else np.zeros(0)
    return trace


@dataclass
class Chain:
    """One product ``J_loss · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)`` as ordered factors.

    ``target`` names what it computes, e.g. ``∂L/∂θ(Dense 1)``.
    """

    target: str
    factors: list[Factor]

    @property
    def batch(self) -> int | None:
        """The batch size ``B``, or ``None`` for a single sample."""
        return self.factors[0].batch

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """The per-sample shape of every factor, in order."""
        return [f.shape for f in self.factors]

    def evaluate(self, order: str = "reverse") -> Array:
        """The product: ``(1, n)``, or ``(B, 1, n)`` per sample.

        ``"reverse"`` multiplies left to right, ``((J_loss J_L) J_{L−1}) ⋯`` (backprop);
        ``"forward"`` right to left, ``J_loss (J_L (⋯ J_θ))`` (forward mode).
        """
        mats = [f.dense() for f in self.factors]
        if order == "reverse":
            out = mats[0]
            for m in mats[1:]:
                out = out @ m
            return out
        if order == "forward":
            out = mats[-1]
            for m in reversed(mats[:-1]):
                out = m @ out
            return out
        raise ValueError(f"unknown order {order!r}; choose 'reverse' or 'forward'")

    def __repr__(self) -> str:
        inner = " · ".join(f"{f.name}{f.shape}" for f in self.factors)
        return f"Chain({self.target} = {inner})"


def build_chain(net: Network, x: Array, y: Array, layer: int | None = None, wrt: str = "params") -> Chain:
    """The factors of ``dL/dθ`` of ``net.layers[layer]`` (or of ``dL/dx`` with ``wrt="input"``).

    ``layer`` defaults to the first layer with parameters (the longest chain).

    >>> import numpy as np
    >>> from jacobnet import Network, Dense, Tanh, MSE
    >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
    >>> net.chain(np.ones(3), np.zeros(2)).shapes
    [(1, 2), (2, 4), (4, 4), (4, 16)]
    """
    if wrt not in ("params", "input"):
        raise ValueError(f"wrt must be 'params' or 'input', got {wrt!r}")
    acts = net.activations(x)
    yhat = acts[-1]
    _, y = net.loss_fn._checked(yhat, y)
    L = len(net.layers)
    if wrt == "input":
        stop = 0
    else:
        if layer is None:
            layer = next((i for i, f in enumerate(net.layers) if f.n_params), None)
            if layer is None:
                raise ValueError("this network has no parameters; use wrt='input'")
        if not isinstance(layer, (int, np.integer)) or not -L <= layer < L:
            raise ValueError(f"layer must be an index into the {L} layers, got {layer!r}")
        layer = int(layer) % L
        if not net.layers[layer].n_params:
            raise ValueError(f"{net.names[layer]} has no parameters; choose a layer with parameters or wrt='input'")
        stop = layer + 1
    factors = [Factor("J_loss", net.loss_fn.jacobian_op(yhat, y))]
    for l in range(L, stop, -1):
        factors.append(Factor(f"J_x({net.names[l - 1]})", net.layers[l - 1].jacobian_input_op(acts[l - 1])))
    if wrt == "input":
        return Chain("∂L/∂x", factors)
    name = net.names[layer]
    factors.append(Factor(f"J_θ({name})", net.layers[layer].jacobian_params_op(acts[layer])))
    return Chain(f"∂L/∂θ({name})", factors)
