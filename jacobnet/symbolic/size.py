"""Size guards for symbolic work: estimate from the architecture, refuse before building.

What symbolic work costs is the size of what SymPy builds: the derivative of the
loss, one expression per parameter. Deriving, ``lambdify`` (with ``cse``) and the
first evaluation all take time proportional to its number of expression-tree nodes
(a shared subexpression counted every time it appears): measured cold on 2 shared
cores, from 2→3→1 to 3,3,3,3,3,3,3 and 1,2,2,2,2,2,2,2,1, ``1.2–2.2 · 10⁻⁵ s`` per node
(:data:`SECONDS_PER_NODE`; ``benchmarks/bench_symbolic.py`` re-measures it).
These estimates use only the sizes — nothing is built — and predict SymPy's
node count to within 0.75–1.25× on smooth networks (and over-estimate stacked kinks):

* an entry of a layer's output is summarised by ``s`` (its nodes), ``q`` (its nodes
  with every ``Piecewise`` resolved to its largest branch) and ``k`` (its number of
  branches; 1 without kinks). Dense ``n_in → n_out``: ``s ← n_in (s + 2) + 2``,
  ``k ← k^{n_in}``; Softmax on ``n``: ``s ← s + 1 + n (s + 1) + 4``; an elementwise rule
  puts ``s`` in place of its variable in its :data:`~jacobnet.core.rules.RULES` expression —
  except in a ``Piecewise`` condition such as ReLU's ``x ≤ 0``, which SymPy folds into
  one comparison per branch of its argument: ``k (q + 4)`` nodes, weighted
  :data:`FOLD_WEIGHT` (they compile into nested conditionals, twice as slow per node);
* the derivative of such an entry by one parameter (``d`` nodes, in ``m`` entries)
  follows the chain rule as SymPy writes it: an elementwise ``f`` gives
  ``f'(u) · du`` (the nodes of SymPy's ``f'`` with ``u`` in place of its variable,
  plus ``d + 1``), Dense ``Σ_j W_{ij} du_j`` (``m (d + 2) + 1``), Softmax the
  quotient rule; the loss ``m (s + d + 6) + 1`` (MSE, cross-entropy) or, for
  softmax-cross-entropy, ``n`` copies of ``∂ log Σ exp z``;
* a network's gradient: the sum over its parameters (twice that for
  :func:`~jacobnet.symbolic.network.network_gradient`, which derives it twice);
  a layer's two Jacobians ``(J_x, J_θ)``: ``n_out · (n_in + n_params) · s_out``.

Depth enters through ``s``: every layer's derivative contains the whole
expression below it, and a rule whose derivative contains its variable twice
(σ' = e^{−x}/(1 + e^{−x})², softplus') or a stacked kink multiplies it. So
``1,2,2,2,2,2,2,2,1`` with sigmoids (≈ 1 · 10⁶ nodes, 14 s cold) and
``2,3,3,3,3,1`` with sigmoids (3.7 · 10⁵, 5–7 s) are refused, while a 4→8→3
softmax network (1.6 · 10⁵, 2–3.5 s) of more parameters is admitted.

The limit :data:`MAX_EXPRESSION_SIZE` (or the ``max_size`` keyword of every
symbolic function) is 2.5 · 10⁵ nodes, ≈ 4 s: what passes stays within a few
seconds. The deepest admitted networks are timed in ``benchmarks/bench_symbolic.py``.

>>> from jacobnet import build_network
>>> estimate_size(build_network("2,3,1", "tanh", "mse"))
745
>>> check_size(build_network("784,128,10"))
Traceback (most recent call last):
...
jacobnet.symbolic.size.SymbolicSizeError: symbolic gradient of Network([Dense(784, 128), Tanh(), Dense(128, 10)], SoftmaxCrossEntropy()): estimated 6.1e+12 expression nodes (about 9.8e+07 s), over the limit of 2.5e+05 (jacobnet.symbolic.size.MAX_EXPRESSION_SIZE or max_size=...); use method='jacobian' or a smaller network
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jacobnet.core.layers import Dense, Elementwise, Layer, Softmax
from jacobnet.core.losses import Loss, SoftmaxCrossEntropy
from jacobnet.core.rules import get_rule

if TYPE_CHECKING:
    import sympy as sp

    from jacobnet.core.stack import Stack

MAX_EXPRESSION_SIZE: float = 2.5e5
"""Default limit on the estimated number of expression nodes (see the module docstring)."""
SECONDS_PER_NODE: float = 1.6e-5
"""Measured cold cost of deriving, compiling and evaluating one node (for the message; the limit is in nodes)."""
FOLD_WEIGHT = 2
"""Nodes of a folded ``Piecewise`` condition (stacked kinks) count this many times: ``lambdify`` turns
them into nested conditionals, measured about twice as slow per node."""
ADVICE = "use method='jacobian' or a smaller network"
_CAP = 1e300  # sizes saturate here instead of overflowing to inf


class SymbolicSizeError(ValueError):
    """Symbolic work refused: the estimated expression size is over the limit."""


@dataclass(frozen=True)
class Entry:
    """One output entry of a layer: ``s`` nodes; ``q`` with every ``Piecewise`` resolved; ``k`` branches."""

    s: float
    q: float = 1.0
    k: float = 1.0


@dataclass(frozen=True)
class _Piece:
    """One arm ``(value, condition)`` of a rule's ``Piecewise``, counted: nodes and occurrences of the variable."""

    value: tuple[int, int]
    cond: tuple[int, int]
    always: bool  # the condition is ``True``
    slope: tuple[int, int] | None  # SymPy's derivative of the value; None when it is the constant 1


def _count(e: sp.Basic, x: sp.Symbol) -> tuple[int, int]:
    """``(nodes, occurrences of x)`` of the expression tree ``e``."""
    from sympy import preorder_traversal

    nodes = list(preorder_traversal(e))
    return len(nodes), sum(1 for a in nodes if a == x)


@functools.lru_cache(maxsize=64)
def _rule_shape(name: str, params: tuple) -> tuple[int, int, int, int] | tuple[_Piece, ...]:
    """The rule's expression in one symbol, counted once: smooth ``(f nodes, occ, f' nodes, occ)`` or its arms.

    ``f'`` is SymPy's own derivative of the one-variable expression, because its
    shape is what SymPy will build (σ' contains ``x`` twice, ``1 − tanh²`` once).
    (SymPy is imported here, not with the module: the CLI imports this one.)
    """
    import sympy as sp

    x = sp.Symbol("x", real=True)
    f = get_rule(name).expr(x, **dict(params))
    if not isinstance(f, sp.Piecewise):
        return (*_count(f, x), *_count(sp.diff(f, x), x))
    pieces = []
    for value, cond in f.args:
        slope = sp.diff(value, x)
        pieces.append(_Piece(_count(value, x), _count(cond, x), cond is sp.true, None if slope == 1 else _count(slope, x)))
    return tuple(pieces)


def _shape(layer: Elementwise) -> tuple:
    return _rule_shape(layer.rule.name, tuple(sorted(layer.rule_params.items())))


def _put(counted: tuple[int, int], size: float) -> float:
    """Nodes of a counted expression with a subtree of ``size`` nodes in place of its variable."""
    nodes, occ = counted
    return nodes + occ * (size - 1)


def _condition(piece: _Piece, u: Entry) -> float:
    """Nodes of an arm's condition on ``u``: folded by SymPy into one comparison per branch of ``u``."""
    if piece.always:
        return 1.0
    if u.k <= 1:
        return _put(piece.cond, u.s)
    return min(_CAP, FOLD_WEIGHT * u.k * (u.q + piece.cond[0] - piece.cond[1] + 2))


def entry_after(layer: Layer, n_in: int, u: Entry) -> Entry:
    """The :class:`Entry` of ``layer``'s output whose ``n_in`` inputs are each like ``u``."""
    if isinstance(layer, Dense):
        return Entry(n_in * (u.s + 2) + 2, n_in * (u.q + 2) + 2, min(_CAP, u.k**n_in))
    if isinstance(layer, Softmax):
        return Entry(u.s + n_in * (u.s + 1) + 5, u.q + n_in * (u.q + 1) + 5, min(_CAP, u.k**n_in))
    if isinstance(layer, Elementwise):
        shape = _shape(layer)
        if not isinstance(shape[0], _Piece):
            return Entry(_put(shape[:2], u.s), _put(shape[:2], u.q), u.k)
        s = 1 + sum(1 + _put(p.value, u.s) + _condition(p, u) for p in shape)
        q = max(_put(p.value, u.q) for p in shape)
        k = sum(u.k if p.value[1] else 1 for p in shape)
        return Entry(min(_CAP, s), q, min(_CAP, k))
    return Entry(u.s + 3, u.q + 3, u.k)  # no symbolic form: the forward expression will say so


def _derivative_after(layer: Layer, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
    """``(m, d)`` after ``layer``: how many of its outputs depend on the parameter, and their derivative's nodes."""
    if isinstance(layer, Dense):
        return layer.n_out, m * (d + 2) + (m > 1)
    if isinstance(layer, Softmax):
        total = 1 + n_in * (u.s + 1)  # Σ exp u_j
        return n_in, 2 * (u.s + total) + d + 11 + m * (u.s + d + 3)
    if isinstance(layer, Elementwise):
        shape = _shape(layer)
        if not isinstance(shape[0], _Piece):
            return m, _put(shape[2:], u.s) + d + 1
        arms = (d if p.slope is None else 1 if p.value[1] == 0 else _put(p.slope, u.s) + d + 1 for p in shape)
        return m, 1 + sum(1 + arm + _condition(p, u) for arm, p in zip(arms, shape))
    return m, u.s + d + 3


def _loss_derivative(loss: Loss, n: int, u: Entry, m: float, d: float) -> float:
    """Nodes of ``∂L/∂θ`` for a parameter on which ``m`` of the ``n`` predictions depend (``d`` nodes each)."""
    if isinstance(loss, SoftmaxCrossEntropy):  # −Σ_i y_i (z_i − log Σ exp z): ∂ log Σ exp z once per i
        total = 1 + n * (u.s + 1)
        return n * (total + 8 + m * (u.s + d + 3)) + m * d
    return m * (u.s + d + 6) + 1


def estimate_size(net: Stack, n_in: int | None = None) -> int:
    """Estimated nodes of the network's symbolic gradient ``dL/dθ`` (see the module docstring)."""
    n = net.input_size if n_in is None else n_in
    if n is None:
        raise ValueError("this network has no layer with a fixed input size: pass n_in")
    sizes, entries = [n], [Entry(1.0)]
    for layer in net.layers:
        entries.append(entry_after(layer, sizes[-1], entries[-1]))
        sizes.append(layer.out_size(sizes[-1]))
    total = 0.0
    for k, layer in enumerate(net.layers):
        if not layer.n_params:
            continue
        n_weights = layer.n_params - getattr(layer, "n_out", 0)  # Dense: ∂(W x)/∂W_ij = x_j, ∂/∂b_i = 1
        for start, count in ((entries[k].s, n_weights), (1.0, layer.n_params - n_weights)):
            m, d = 1.0, start
            for l in range(k + 1, len(net.layers)):
                m, d = _derivative_after(net.layers[l], sizes[l], entries[l], m, min(d, _CAP))
            total += count * _loss_derivative(net.loss_fn, sizes[-1], entries[-1], m, min(d, _CAP))
    return int(min(total, _CAP))


def estimate_layer_size(layer: Layer, n_in: int) -> int:
    """Estimated nodes of a layer's two Jacobians: ``n_out · (n_in + n_params) · s_out``."""
    s_out = entry_after(layer, n_in, Entry(1.0)).s
    return int(layer.out_size(n_in) * (n_in + layer.n_params) * s_out)


def _refuse(what: str, size: int, max_size: float | None, advice: str) -> None:
    limit = MAX_EXPRESSION_SIZE if max_size is None else max_size
    if size > limit:
        raise SymbolicSizeError(
            f"{what}: estimated {size:.2g} expression nodes (about {SECONDS_PER_NODE * size:.2g} s), over the limit "
            f"of {limit:.2g} (jacobnet.symbolic.size.MAX_EXPRESSION_SIZE or max_size=...); {advice}"
        )


def check_size(net: Stack, n_in: int | None = None, max_size: float | None = None, advice: str = ADVICE,
               derivations: int = 1) -> int:
    """Return :func:`estimate_size` times ``derivations``, or raise :class:`SymbolicSizeError` over the limit.

    ``derivations=2`` for :func:`~jacobnet.symbolic.network.network_gradient`, which
    derives the gradient twice (whole loss and chain product); ``advice`` ends the message.
    """
    size = estimate_size(net, n_in) * derivations
    what = "symbolic gradient" if derivations == 1 else f"{derivations} symbolic derivations of the gradient"
    _refuse(f"{what} of {net!r}", size, max_size, advice)
    return size


def check_layer_size(layer: Layer, n_in: int, max_size: float | None = None) -> int:
    """Return :func:`estimate_layer_size`, or raise :class:`SymbolicSizeError` when it is over the limit."""
    size = estimate_layer_size(layer, n_in)
    _refuse(f"symbolic Jacobians of {layer.name}", size, max_size, "use the numeric jacobian_input/jacobian_params")
    return size
