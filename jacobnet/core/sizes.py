"""The size of a layer's symbolic expressions, estimated from its sizes alone (nothing is built).

Each layer describes its own symbolic size through three hooks of
:class:`~jacobnet.core.layer.Layer` (``symbolic_entry``, ``symbolic_derivative``,
``symbolic_params``); this module holds what they share:

* :class:`Entry` — one output entry of a layer, summarised by ``s`` (its
  expression-tree nodes), ``q`` (its nodes with every ``Piecewise`` resolved to
  its largest branch) and ``k`` (its number of branches; 1 without kinks);
* :func:`rule_entry`, :func:`rule_derivative` — the same for an elementwise
  :class:`~jacobnet.core.rules.Rule` (of :data:`~jacobnet.core.rules.RULES` or
  not): its expression (and SymPy's derivative of it) counted once, with the
  input's nodes put in place of its variable;
* :func:`capped_power` and :data:`CAP` — sizes saturate instead of overflowing.

A ``Piecewise`` condition such as ReLU's ``x ≤ 0`` is folded by SymPy into one
comparison per branch of its argument: ``k (q + 4)`` nodes, weighted
:data:`FOLD_WEIGHT` (they compile into nested conditionals, slower per node).
SymPy is imported only when a rule is first counted.

>>> from jacobnet.core.rules import get_rule
>>> rule_entry(get_rule("tanh"), {}, Entry(8.0, 8.0))      # tanh(u) for a u of 8 nodes
Entry(s=9.0, q=9.0, k=1.0)
>>> rule_entry(get_rule("relu"), {}, Entry(1.0)).k    # two branches
2.0
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from jacobnet.core.rules import Rule

if TYPE_CHECKING:
    import sympy as sp

FOLD_WEIGHT = 2
"""Nodes of a folded ``Piecewise`` condition (stacked kinks) count this many times: ``lambdify`` turns
them into nested conditionals, about twice as slow per node."""
CAP = 1e300
"""Sizes saturate here instead of overflowing to ``inf``."""


@dataclass(frozen=True)
class Entry:
    """One output entry of a layer: ``s`` nodes; ``q`` with every ``Piecewise`` resolved; ``k`` branches."""

    s: float
    q: float = 1.0
    k: float = 1.0


def capped_power(k: float, n: int) -> float:
    """``min(CAP, kⁿ)`` without overflow: the branches of an entry made of ``n`` inputs of ``k`` branches each.

    >>> capped_power(2.0, 3), capped_power(2.0, 5000)
    (8.0, 1e+300)
    """
    if k > 1 and n * math.log(k) >= math.log(CAP):
        return CAP
    return min(CAP, float(k) ** n)


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
def _expr_shape(expr: Callable, params: tuple) -> tuple[int, int, int, int] | tuple[_Piece, ...]:
    """A rule's expression in one symbol, counted once: smooth ``(f nodes, occ, f' nodes, occ)`` or its arms.

    ``f'`` is SymPy's own derivative of the one-variable expression, because its
    shape is what SymPy will build (σ' contains ``x`` twice, ``1 − tanh²`` once).
    Cached by the expression function itself, so a rule outside ``RULES`` counts too.
    """
    import sympy as sp

    x = sp.Symbol("x", real=True)
    f = expr(x, **dict(params))
    if not isinstance(f, sp.Piecewise):
        return (*_count(f, x), *_count(sp.diff(f, x), x))
    pieces = []
    for value, cond in f.args:
        slope = sp.diff(value, x)
        pieces.append(_Piece(_count(value, x), _count(cond, x), cond is sp.true, None if slope == 1 else _count(slope, x)))
    return tuple(pieces)


def _rule_shape(rule: Rule, params: dict[str, float]) -> tuple[int, int, int, int] | tuple[_Piece, ...]:
    """:func:`_expr_shape` of the rule's expression with these parameters."""
    return _expr_shape(rule.expr, tuple(sorted(params.items())))


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
    return min(CAP, FOLD_WEIGHT * u.k * (u.q + piece.cond[0] - piece.cond[1] + 2))


def rule_entry(rule: Rule, params: dict[str, float], u: Entry) -> Entry:
    """The :class:`Entry` of ``f(u)``: the rule's expression with ``u`` in place of its variable.

    A ``Piecewise`` rule: ``1 + Σ_arms (1 + value(u) + condition(u))`` nodes, the
    largest arm for ``q``, and the branches of ``u`` counted once per arm that contains it.
    """
    shape = _rule_shape(rule, params)
    if not isinstance(shape[0], _Piece):
        return Entry(_put(shape[:2], u.s), _put(shape[:2], u.q), u.k)
    s = 1 + sum(1 + _put(p.value, u.s) + _condition(p, u) for p in shape)
    q = max(_put(p.value, u.q) for p in shape)
    k = sum(u.k if p.value[1] else 1 for p in shape)
    return Entry(min(CAP, s), q, min(CAP, k))


def rule_derivative(rule: Rule, params: dict[str, float], u: Entry, m: float, d: float) -> tuple[float, float]:
    """``(m, d)`` after ``f``: ``f'(u) · du`` has SymPy's ``f'`` with ``u`` in place, plus ``d + 1`` nodes.

    A ``Piecewise`` rule differentiates arm by arm and keeps its conditions.
    """
    shape = _rule_shape(rule, params)
    if not isinstance(shape[0], _Piece):
        return m, _put(shape[2:], u.s) + d + 1
    arms = (d if p.slope is None else 1 if p.value[1] == 0 else _put(p.slope, u.s) + d + 1 for p in shape)
    return m, 1 + sum(1 + arm + _condition(p, u) for arm, p in zip(arms, shape))


MEASURE_MAX = 16
"""A layer without size hooks of its own is measured (its SymPy forward built once at this many inputs or fewer)."""
MEASURE_PARAMS = 32
"""At most this many ``∂a_i/∂θ_j`` are differentiated to measure a layer's parameters (the largest counts)."""


@dataclass(frozen=True)
class Measured:
    """A layer's SymPy forward at ``n_in`` symbolic inputs, counted (nodes, and occurrences of any input).

    ``outputs``: per output ``(nodes, occurrences, distinct inputs)``; ``slopes``:
    per output, ``∂a_i/∂x_j`` counted for every input ``j`` it holds; ``fan_out``:
    the most outputs one input reaches; ``params``: every nonzero ``∂a_i/∂θ_j``, counted.
    """

    outputs: tuple[tuple[int, int, int], ...]
    slopes: tuple[tuple[tuple[int, int], ...], ...]
    fan_out: int
    params: tuple[tuple[int, int], ...]


def _count_all(e: sp.Basic, xs: frozenset) -> tuple[int, int]:
    """``(nodes, occurrences of any symbol of xs)`` of the expression tree ``e``."""
    from sympy import preorder_traversal

    nodes = list(preorder_traversal(e))
    return len(nodes), sum(1 for a in nodes if a in xs)


_MEASURED: dict[tuple, Measured | None] = {}


def measure(forward: Callable, n_params: int, key: tuple, n_in: int) -> Measured | None:
    """:class:`Measured` of a layer's SymPy ``forward(x, theta)`` at ``n_in`` inputs (cached by ``key`` and size),
    or ``None`` above :data:`MEASURE_MAX` inputs, or when the layer has no SymPy forward (``TypeError``)."""
    if n_in > MEASURE_MAX:
        return None
    if (key, n_in) not in _MEASURED:
        import sympy as sp

        x = [sp.Symbol(f"x_{i}", real=True) for i in range(n_in)]
        theta = [sp.Symbol(f"t_{j}", real=True) for j in range(n_params)]
        try:
            out = forward(x, theta)
        except TypeError:
            return None
        xs = frozenset(x)
        outputs, slopes, params, reach = [], [], [], [0] * n_in
        for e in out:
            held = [j for j, xj in enumerate(x) if xj in e.free_symbols]
            for j in held:
                reach[j] += 1
            outputs.append((*_count_all(e, xs), len(held)))
            slopes.append(tuple(_count_all(sp.diff(e, x[j]), xs) for j in held))
            room = MEASURE_PARAMS - len(params)
            params += [_count_all(sp.diff(e, t), xs) for t in theta if t in e.free_symbols][: max(room, 0)]
        _MEASURED[(key, n_in)] = Measured(tuple(outputs), tuple(slopes), max(reach, default=0), tuple(params))
    return _MEASURED[(key, n_in)]


def measured_entry(m: Measured | None, n_in: int, u: Entry) -> Entry:
    """The :class:`Entry` of the largest measured output, its inputs each like ``u``; unmeasured (``None``):
    every output holding every input, ``(n_in + 1)(s + 2) + 2``."""
    if m is None:
        return Entry((n_in + 1) * (u.s + 2) + 2, (n_in + 1) * (u.q + 2) + 2, capped_power(u.k, n_in))
    s = max((_put(c[:2], u.s) for c in m.outputs), default=1.0)
    q = max((_put(c[:2], u.q) for c in m.outputs), default=1.0)
    return Entry(min(CAP, s), min(CAP, q), capped_power(u.k, max((c[2] for c in m.outputs), default=0)))


def measured_derivative(meas: Measured | None, n_in: int, n_out: int, u: Entry, m: float, d: float) -> tuple[float, float]:
    """``(m, d)`` after a layer of ``n_out`` outputs, by the chain rule ``Σ_j ∂a_i/∂x_j · dx_j`` over the ``m``
    inputs that carry the parameter; unmeasured: every output, ``2 s_out + m (s + d + 3)``."""
    if meas is None:
        return n_out, 2 * measured_entry(None, n_in, u).s + m * (u.s + d + 3)
    worst = 0.0
    for slopes in meas.slopes:
        terms = sorted((_put(c, u.s) + d + 1 for c in slopes), reverse=True)[: max(1, int(math.ceil(m)))]
        worst = max(worst, sum(terms) + len(terms) - 1)
    return min(len(meas.outputs), math.ceil(m) * max(meas.fan_out, 1)), min(CAP, worst)


def measured_params(meas: Measured | None, n_in: int, n_params: int, u: Entry) -> list[tuple[float, int]]:
    """``[(nodes of the largest ∂a_i/∂θ_j, n_params)]``; unmeasured: a whole output entry's nodes."""
    if not n_params:
        return []
    if meas is None or not meas.params:
        return [(measured_entry(meas, n_in, u).s, n_params)]
    return [(min(CAP, max(_put(c, u.s) for c in meas.params)), n_params)]
