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
layer (``Operator.vjp_sum``, e.g. ``Gᵀ X`` for a Dense layer's weights), and the
per-sample ``∂L/∂θ`` are only formed if you ask for ``Product.value``.

When nothing is recorded (:func:`gradient`, structured) the same loop asks each
layer for its two products directly — :meth:`~jacobnet.core.layer.Layer.vjp_params_sum`
into the gradient's slice, :meth:`~jacobnet.core.layer.Layer.vjp_input` for the row
below, handed the layer's stored output (``tanh' = 1 − a²``) — instead of building
named factors; a layer that defines neither goes through its operators, the
reference. The input is validated once, at the door; the loss rows are divided by
``B`` before the loop, so every block of the gradient is written once, as the mean.
A stack without blocks or shared layers walks a plan made once (:func:`_plan`: each
layer's forward and fast paths resolved to plain functions, remade when a class is
patched) at every input shape it has already checked: the same products, in the same
order, without the positions' bookkeeping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from jacobnet.chain.build import (
    activations_and_target,
    first_param_layer,
    input_factor,
    loss_factor,
    placement_factor,
    theta_factor,
)
from jacobnet.chain.factor import Factor, multiply
from jacobnet.chain.trace import Product, Trace
from jacobnet.core.layer import class_revision, fast_path_of, revision_counts
from jacobnet.core.validate import check_mode

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.stack import Position, Stack

Array = np.ndarray


def products(
    net: Stack, acts: list[Array], inputs: list[Array], y: Array, mode: str, grad: Array, to_input: bool = True,
    record: bool = True, outputs: list[Array] | None = None, mean: bool = False,
) -> Iterator[Product]:
    """The backward pass, last layer first: yield each partial product as it is formed.

    ``acts`` are the activations ``[a_0 … a_L]``, ``inputs`` every position's
    input (:meth:`~jacobnet.core.stack.Stack.run`) and ``y`` the target, all
    validated; each ``Σ_b ∂L_b/∂θ_l`` is written into its layer's slice of the flat
    ``grad`` (``(n_params,)``) as it is formed — added, for the second and later
    uses of a shared layer. Through a block the row goes down every branch and
    the branches' rows are summed (a :class:`Product` with ``terms``).
    ``to_input=False`` stops after the first layer with parameters (a gradient
    needs no ``∂L/∂x``). ``mean=True`` divides the loss rows by ``B`` first, so that
    ``grad`` receives the batch mean, not the sum.

    ``record=False`` runs the same loop and yields nothing. In structured mode each
    step is then the layer's own product (:meth:`~jacobnet.core.layer.Layer.vjp_params_sum`,
    :meth:`~jacobnet.core.layer.Layer.vjp_input`, handed the position's input and its
    stored output ``outputs`` — recomputed if not given): no operators, no names, one
    row per sample (``(n,)`` or ``(B, n)``) instead of ``(1, n)`` or ``(B, 1, n)``.
    """
    fast = not record and mode == "structured"
    if fast and outputs is None:
        outputs = []
        net.run(acts[0], outputs)
    j_loss = None if fast else loss_factor(net, acts, y)  # a materialised step builds its factor's dense matrix, by name
    g = net.loss_fn.row(acts[-1], y) if fast else j_loss.op.A  # (n,) or (B, n); named: (1, n) or (B, 1, n)
    if mean and acts[0].ndim == 2 and acts[0].shape[0] > 1:
        g = g * (1.0 / acts[0].shape[0])
    if record:
        yield Product(f"∂L/∂a{len(net.layers)}", "", j_loss, g)
    walk = _Walk(net, inputs, outputs, mode, grad, record, fast)
    first = first_param_layer(net) or 0
    for pos in reversed(net.positions):
        g = walk.through(pos, g, to_input or pos.top > first)
        if record:
            yield from walk.made  # (the products formed at this position, in order)
            walk.made.clear()
        if pos.top <= first and not to_input:
            break
    if record:
        yield from walk.totals()


class _Walk:
    """One backward pass through the positions: the state :func:`products` shares between blocks.

    Each step appends the products it forms to ``made`` (when recording), for the loop to yield.
    """

    def __init__(self, net: Stack, inputs: list[Array], outputs: list[Array] | None, mode: str, grad: Array,
                 record: bool, fast: bool):
        self.net, self.inputs, self.outputs, self.mode, self.grad = net, inputs, outputs, mode, grad
        self.record, self.fast = record, fast
        self.made: list[Product] = []
        self.written: dict[int, list[str]] = {}  # id(layer) → the names of its uses' products, so far
        self.shared = {id(layer) for layer in _shared(net)} if net.shared else ()

    def through(self, pos: Position, g: Array, need_input: bool = True, left: str = "") -> Array:
        """Form the products of ``pos`` (its ``∂L/∂θ``; ``g · J_x``); return the row at its input.

        ``left`` names the row ``g`` (default ``∂L/∂`` of the position's output).
        """
        if pos.branches is not None:
            return self._block(pos, g, left or f"∂L/∂{pos.out}")
        layer, a = pos.layer, self.inputs[pos.index]
        if self.fast:  # the layer's own products, into the gradient's slice
            out = self.outputs[pos.index]
            if pos.k is not None:  # (it has parameters)
                if self.shared and id(layer) in self.shared:
                    self._shared_params(pos, layer, a, out, g)
                else:
                    layer.vjp_params_sum(a, out, g, self.grad[pos.params])
            return layer.vjp_input(a, out, g) if need_input else g
        net, left = self.net, left or f"∂L/∂{pos.out}"
        if layer.n_params:
            f_theta = theta_factor(net, pos, a)
            add = False
            name = f"∂L/∂θ({pos.name})"
            if id(layer) in self.shared:  # one use of a shared layer: add its contribution
                uses = self.written.setdefault(id(layer), [])
                add = bool(uses)
                name = f"use {pos.use}: {name}"
                uses.append(name)
            value = _param_sum(g, f_theta, self.mode, self.grad[pos.params], add)
            if self.record:
                self.made.append(Product(name, left, f_theta, value, left_value=g, theta_start=pos.params.start))
        if not need_input:
            return g
        f_x = input_factor(net, pos, a)
        g = multiply(g, f_x, self.mode)
        if self.record:
            self.made.append(Product(f"∂L/∂{pos.via}", left, f_x, g))
        return g

    def _shared_params(self, pos: Position, layer: Layer, a: Array, out: Array, g: Array) -> None:
        """One use of a shared layer: its ``Σ_b g_b · J_θ`` written into its slice of the gradient, or added to it after the first."""
        block = self.grad[pos.params]
        uses = self.written.setdefault(id(layer), [])
        if uses:
            part = np.empty(block.shape)
            layer.vjp_params_sum(a, out, g, part)
            block += part
        else:
            layer.vjp_params_sum(a, out, g, block)
        uses.append(pos.name)

    def _block(self, pos: Position, g: Array, left: str) -> Array:
        """Down every branch of the block at ``pos``; return the sum of the rows the branches send back."""
        block, a = pos.layer, self.inputs[pos.index]
        sizes = block.branch_sizes(a.shape[-1])
        total, terms = None, []
        for b, branch in enumerate(pos.branches):
            row, name = block.branch_row(g, b, sizes), left
            if block.concatenates and not self.fast:
                f_e = placement_factor(pos, b, a)
                row, name = multiply(g, f_e, self.mode), f"∂L/∂{pos.branch_out(b)}"
                if self.record:
                    self.made.append(Product(name, left, f_e, row))
            for i, p in enumerate(reversed(branch)):
                row = self.through(p, row, left=name if i == 0 else "")
            terms.append(f"∂L/∂{branch[0].via}" if branch else name)
            total = row if total is None else total + row
        if self.record and len(terms) > 1:
            self.made.append(Product(f"∂L/∂{pos.via}", "", None, total, terms=terms, note=_paths_note(pos),
                                     block=input_factor(self.net, pos, a)))
        return total

    def totals(self) -> Iterator[Product]:
        """For each shared layer, its gradient: the sum of its uses' products."""
        for layer in _shared(self.net):
            uses = self.written.get(id(layer), [])
            if len(uses) > 1:
                name = self.net.param_names()[self.net.param_layers.index(layer)]
                yield Product(f"∂L/∂θ({name.split(' › ')[-1]}) total", "", None, None, terms=list(reversed(uses)), params=True)


def _shared(net: Stack) -> list[Layer]:
    """The layers with parameters that sit at more than one position."""
    if not net.shared:
        return []
    counts: dict[int, int] = {}
    for p in net.all_positions:
        counts[id(p.layer)] = counts.get(id(p.layer), 0) + 1
    return [layer for layer in net.param_layers if counts[id(layer)] > 1]


def _paths_note(pos: Position) -> str:
    """``Residual 1: skip + inner``, ``Concat 1: branch 1 + branch 2``: what the rows of a block's sum came down."""
    return f"{pos.name}: " + " + ".join(pos.layer.branch_name(b) for b in range(len(pos.branches)))


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
    acts, inputs, y = activations_and_target(net, x, y)
    trace = Trace(net, mode, _batch(acts), acts[-1], y)
    grad = np.zeros(net.n_params)
    trace.products = list(products(net, acts, inputs, y, mode, grad, to_input))
    for p in trace.products:
        p._trace = trace
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
    if mode == "structured":
        plan = _plan(net)
        if plan is not None:
            a = net.check_input(x, copy=False)  # (validated once, here; nothing of x or y is kept)
            if a.shape in net.__dict__.get("_shapes_checked", ()):  # (the layers' shapes at this input were checked)
                return _planned(net, plan, a, y)
    outputs: list[Array] = []
    acts, inputs, y = activations_and_target(net, x, y, outputs, copy=False)  # (nothing of x or y is kept)
    grad = np.empty(net.n_params) if not net.shared else np.zeros(net.n_params)
    for _ in products(net, acts, inputs, y, mode, grad, to_input=False, record=False, outputs=outputs, mean=True):
        pass
    return grad


class _Step:
    """One layer of a :func:`_plan`: its forward function, and its two fast paths as plain functions (resolved once)."""

    __slots__ = ("layer", "apply", "vjp_input", "vjp_params_sum", "params")

    def __init__(self, pos: Position) -> None:
        layer, cls = pos.layer, type(pos.layer)
        self.layer, self.apply = layer, layer.apply
        self.vjp_input = fast_path_of(cls, "vjp_input")
        self.vjp_params_sum = fast_path_of(cls, "vjp_params_sum") if pos.k is not None else None
        self.params = pos.params if pos.k is not None else None


def _plan(net: Stack) -> tuple[list[_Step], int] | None:
    """A stack without blocks or shared layers as a list of :class:`_Step` and the first step with parameters; else ``None``.

    Made once per stack and kept while ``net.positions`` and every layer class are the ones
    it was made for (:func:`~jacobnet.core.layer.class_revision`: a method patched on a class
    later gets a new plan): what :func:`gradient` walks instead of the positions. A layer
    whose class inherits from a class that is not a Layer (a mixin, patched unseen) gets none.
    """
    cached = net.__dict__.get("_gradient_plan")
    revision = class_revision()
    if cached is not None and cached[0] is net.positions and cached[2] == revision:
        return cached[1]
    plan = None
    if not net.shared and all(p.branches is None and revision_counts(type(p.layer)) for p in net.positions):
        steps = [_Step(p) for p in net.positions]
        first = next((i for i, s in enumerate(steps) if s.params is not None), None)
        if first is not None:
            plan = (steps, first)
    net.__dict__["_gradient_plan"] = (net.positions, plan, revision)
    return plan


def _planned(net: Stack, plan: tuple[list[_Step], int], a: Array, y: Array) -> Array:
    """:func:`gradient` along a :func:`_plan`, for a validated input ``a`` of a shape the stack has checked.

    The same loop as :func:`products` with ``record=False``: the forward pass keeps every
    activation, the target and the prediction are checked (:meth:`~jacobnet.core.losses.Loss.checked_target`),
    the loss rows are divided by ``B`` and each layer's own products are written into its slice.
    """
    steps, first = plan
    acts = [a]
    for step in steps:
        acts.append(step.apply(acts[-1]))
    loss = net.loss_fn
    _, y = loss.checked_target(acts[-1], y, copy=False)
    g = loss.row(acts[-1], y)
    if a.ndim == 2 and a.shape[0] > 1:
        g = g * (1.0 / a.shape[0])
    grad = np.empty(net.n_params)
    for i in range(len(steps) - 1, first - 1, -1):
        step = steps[i]
        if step.params is not None:
            step.vjp_params_sum(step.layer, acts[i], acts[i + 1], g, grad[step.params])
        if i > first:
            g = step.vjp_input(step.layer, acts[i], acts[i + 1], g)
    return grad


def _param_sum(g: Array, factor: Factor, mode: str, out: Array, add: bool = False) -> Array | None:
    """Write ``Σ_b g_b · J_θ,b`` (a ``(1, n)`` row for a loss) into the flat ``out`` (``add``: add it to ``out``).

    Returns the per-sample products if they were formed (materialised mode);
    structured mode sums in one contraction (``Operator.vjp_sum``) and leaves
    them to :attr:`Product.value`, on demand.
    """
    if mode == "structured":
        op = factor.op
        if add:
            out += op.vjp_sum(g).reshape(-1)
        else:
            op.vjp_sum(g, out=out.reshape(g.shape[-2], -1))
        return None
    value = multiply(g, factor, mode)
    total = np.add.reduce(value.reshape(-1, value.shape[-1]), axis=0)
    if add:
        out += total
    else:
        out[...] = total
    return value


def _mean(grad: Array, batch: int | None) -> Array:
    """The flat gradient: over a batch, the sum of the per-sample products divided by ``B``, once."""
    if batch:
        grad *= 1.0 / batch
    return grad


def _batch(acts: list[Array]) -> int | None:
    """``B`` for a batch, ``None`` for one sample."""
    return acts[0].shape[0] if acts[0].ndim == 2 else None
