"""The factors of a network's backward pass, named and labelled, and the chains of one gradient block.

``J_loss`` (:func:`loss_factor`), ``J_θ`` (:func:`theta_factor`) and ``J_x``
(:func:`input_factor`) of the layer at a :class:`~jacobnet.core.stack.Position`,
at the activations of a forward pass, each a :class:`~jacobnet.chain.factor.Factor`
whose rows and columns are named in the notation of :mod:`jacobnet.core.labels`;
``E_b(Concat 1)`` (:func:`placement_factor`), where a branch's output sits in a
concatenation. :func:`build_chain` lines them up as the
:class:`~jacobnet.chain.product.Chain` of ``dL/dθ_l`` (or ``dL/dx``) — or, through
blocks, as the :class:`~jacobnet.chain.paths.PathSum` of every path's product.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from jacobnet.chain.factor import Factor
from jacobnet.chain.paths import MAX_PATHS, PathSum, Step, count_paths, paths_above, paths_through
from jacobnet.chain.product import Chain
from jacobnet.core.compose import RowBlock
from jacobnet.core.labels import activation_labels
from jacobnet.core.selection import Selection

if TYPE_CHECKING:
    from jacobnet.core.stack import Position, Stack

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


def theta_factor(net: Stack, pos: Position, a: Array) -> Factor:
    """``J_θ`` of the layer at ``pos`` at its input ``a``: ``(n_out, n_params)``.

    Rows the position's output entries; columns exactly its layer's slice of ``net.param_labels()``.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,1,2", "tanh", "mse")
    >>> f = theta_factor(net, net.positions[2], net.activations(np.ones(3))[2])
    >>> f.name, f.shape, f.row_labels, f.col_labels
    ('J_θ(Dense 2)', (2, 4), ['a^{(3)}_{1}', 'a^{(3)}_{2}'], ['W^{(2)}_{1,1}', 'W^{(2)}_{2,1}', 'b^{(2)}_{1}', 'b^{(2)}_{2}'])
    """
    op = pos.layer.jacobian_op(a, "params")
    rows, cols = activation_labels(pos.out, op.shape[0]), net.position_param_labels(pos)
    return Factor(f"J_θ({pos.name})", op, pos.out, f"θ({pos.name})", rows, cols, layer=pos.top + 1, wrt_params=True)


def input_factor(net: Stack, pos: Position, a: Array) -> Factor:
    """``J_x`` of the layer at ``pos`` at its input ``a``: ``(n_out, n_in)``.

    Rows the position's output entries; columns its input's, ``x_{j}`` for the network's input.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "mse")
    >>> f = input_factor(net, net.positions[0], np.ones(3))
    >>> f.shape, f.row_labels, f.col_labels
    ((2, 3), ['a^{(1)}_{1}', 'a^{(1)}_{2}'], ['x_{1}', 'x_{2}', 'x_{3}'])
    """
    op = pos.layer.jacobian_op(a, "input")
    rows, cols = activation_labels(pos.out, op.shape[0]), activation_labels(pos.inp, op.shape[1])
    return Factor(f"J_x({pos.name})", op, pos.out, pos.via, rows, cols, layer=pos.top + 1)


def placement_factor(pos: Position, b: int, a: Array) -> Factor:
    """``E_b`` of the concatenation at ``pos`` (input ``a``): where branch ``b``'s output sits, ``[0; I; 0]``."""
    block = pos.layer
    sizes = block.branch_sizes(a.shape[-1])
    op = block.placement(b, sizes, a.shape[0] if a.ndim == 2 else None)
    out = pos.branch_out(b)
    rows, cols = activation_labels(pos.out, op.shape[0]), activation_labels(out, op.shape[1])
    return Factor(f"E_{b + 1}({pos.name})", op, pos.out, out, rows, cols, layer=pos.top + 1)


def activations_and_target(net: Stack, x: Array, y: Array, outputs: list[Array] | None = None,
                           copy: bool = True) -> tuple[list[Array], list[Array], Array]:
    """The activations ``[a_0 … a_L]`` (validated once), every position's input, and the validated target.

    ``outputs`` and ``copy`` as in :meth:`~jacobnet.core.stack.Stack.run` (``copy=False``: for a caller that keeps nothing).
    """
    acts, inputs = net.run(x, outputs, copy)
    _, y = net.loss_fn.checked_target(acts[-1], y, copy)
    return acts, inputs, y


def first_param_layer(net: Stack) -> int | None:
    """The 0-based index in ``net.layers`` of the first layer (or block) with parameters, ``None`` if none has any.

    (The first position with parameters, in the order the forward pass runs: ``net.all_positions``.)
    """
    return next((p.top for p in net.all_positions if p.k is not None), None)


def build_chain(net: Stack, x: Array, y: Array, layer: int | str | None = None, wrt: str = "params") -> Chain | PathSum:
    """The factors of ``dL/dθ`` of the layer at ``layer`` (or of ``dL/dx`` with ``wrt="input"``).

    ``layer``: an index into ``net.layers``, or the name of any position
    (``"Residual 1 › Dense 2"``); default: the first layer with parameters (the
    longest chain). Through blocks there is a product per path (a residual
    block's skip and inner path; a concatenation's branches), and a layer used at
    several positions (shared weights) has the paths of every use: the result is
    then a :class:`~jacobnet.chain.paths.PathSum`, whose ``paths()`` are the chains.

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
    target = None if wrt == "input" else _target_position(net, layer)
    uses = [None] if target is None else [p for p in net.all_positions if p.k == target.k]  # a shared layer: every use
    name = "∂L/∂x" if target is None else f"∂L/∂θ({net.param_names()[target.k - 1]})"
    n = sum(count_paths(net, use) for use in uses)
    if n > MAX_PATHS:
        raise ValueError(
            f"the chain of {name} has {n:,} paths, over the {MAX_PATHS:,} it lists (jacobnet.chain.paths.MAX_PATHS); "
            "net.trace and net.gradient sum them at each junction instead"
        )
    acts, inputs, y = activations_and_target(net, x, y)
    j_loss = loss_factor(net, acts, y)
    made: dict[tuple, Factor] = {}

    def factor(step: Step) -> Factor:
        if step not in made:
            kind, pos, b = step
            a = inputs[pos.index]
            made[step] = input_factor(net, pos, a) if kind == "x" else placement_factor(pos, b, a)
        return made[step]

    chains, zero = [], None
    for use in uses:
        routes = paths_through(net.positions) if use is None else paths_above(net, use)
        tail = [] if use is None else [theta_factor(net, use, inputs[use.index])]
        for route in routes:
            words = describe_route(route)
            if len(uses) > 1:
                words = f"use {use.use} ({use.name})" + (f" · {words}" if words else "")
            chain = Chain(name, [j_loss, *(factor(s) for s in route if s[0] != "via"), *tail], route=words)
            if picks_nothing(chain.factors):
                zero = zero or chain
            else:
                chains.append(chain)
    chains = chains or [zero]  # (every path zero: one of them stands for the zero gradient)
    return chains[0] if len(chains) == 1 else PathSum(name, chains)


def picks_nothing(factors: Sequence[Factor]) -> bool:
    """A selection right above a concatenation's ``E_b`` that picks none of branch ``b``'s rows: the product is 0.

    Through an unrolled RNN, step ``t + 1`` picks ``x_{t+1}`` and ``h_t`` from the state, so a path that reaches
    the ``x`` part of the state from below is exactly zero; such paths are left out of the sum.
    """
    for above, below in zip(factors, factors[1:]):
        if isinstance(above.op, Selection) and isinstance(below.op, RowBlock):
            index = above.op.index
            if not np.any((index >= below.op.offset) & (index < below.op.offset + below.op.n)):
                return True
    return False


def describe_route(route: list[Step]) -> str:
    """A path in words: the blocks it passes and how (``Residual 1: skip``, ``Concat 1: branch 2``); a block of one branch has no choice to name."""
    return " · ".join(f"{pos.name}: {pos.layer.branch_name(b)}" for kind, pos, b in route if kind == "via" and len(pos.branches) > 1)


def _target_position(net: Stack, layer: int | str | None) -> Position:
    """The position of the layer whose parameters the chain differentiates by (validated)."""
    if layer is None:
        first = next((p for p in net.all_positions if p.k is not None), None)
        if first is None:
            raise ValueError("this network has no parameters; use wrt='input'")
        return first
    pos = net.position(layer)
    if pos.is_block:
        inner = [p for p in pos.walk() if p.k is not None]
        if not inner:
            raise ValueError(f"{pos.name} has no parameters; choose a layer with parameters or wrt='input'")
        if len(inner) > 1:
            names = ", ".join(repr(p.name) for p in inner)
            raise ValueError(f"{pos.name} is a block; choose one of its layers with parameters: {names}")
        return inner[0]
    if not pos.layer.n_params:
        raise ValueError(f"{pos.name} has no parameters; choose a layer with parameters or wrt='input'")
    return pos
