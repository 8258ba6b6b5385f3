"""A gradient through blocks is a sum of path products: :class:`PathSum`, and the paths themselves.

Through a residual block ``y = x + g(x)`` the Jacobian is ``I + J_g``, so a
product through it splits in two: the skip path (the identity, no factor) and
the inner path (``J_g``'s factors). Through ``k`` residual blocks that is
``2^k`` products, one per subset of blocks whose inner path is taken — the
"ensemble of shallow paths" view of a ResNet. A concatenation splits a row
into its branches' columns (a factor ``E_b = [0; I; 0]`` per branch) and sums
what they send back. ``dL/dθ_l`` is the sum over every path from the loss down
to layer ``l`` of the product of the path's factors.

A *route* is a path as steps, loss side first: ``("x", pos, -1)`` a layer's
``J_x``; ``("place", pos, b)`` a concatenation's ``E_b``; ``("via", pos, b)``
which branch of a block it takes (no factor). :func:`paths_above` and
:func:`paths_through` list them; :func:`count_paths` counts them without
listing (the count can be exponential: from the first step of an unrolled RNN, ``2·3^(T−1)``). A chain
leaves out the routes a selection makes exactly zero (:func:`jacobnet.chain.build.picks_nothing`): through
an unrolled RNN, one path per use of a shared weight remains.

>>> import numpy as np
>>> from jacobnet import Network, Dense, Tanh, Residual, MSE
>>> net = Network([Dense(3, 4, seed=0), Residual([Dense(4, 4, seed=1), Tanh()]), Residual([Dense(4, 4, seed=2)]), Dense(4, 2, seed=3)], MSE())
>>> chain = net.chain(np.ones(3), np.zeros(2), layer="Dense 1")
>>> chain.n_paths, [p.route for p in chain.paths()][:2]
(4, ['Residual 2: skip · Residual 1: skip', 'Residual 2: skip · Residual 1: inner'])
>>> bool(np.allclose(chain.evaluate(), sum(p.evaluate() for p in chain.paths()), rtol=1e-14, atol=0))
True
>>> chain.path_lengths()
{3: 1, 4: 1, 5: 1, 6: 1}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from jacobnet.chain.factor import Factor, find_factor
from jacobnet.core.table import Table

if TYPE_CHECKING:
    from jacobnet.chain.product import Chain, Order
    from jacobnet.core.stack import Position, Stack

Array = np.ndarray
Step = tuple  # ("x" | "place" | "via", Position, b)
MAX_PATHS = 4096
"""The most paths a chain lists; a network with more is summed at its junctions (``trace``, ``gradient``)."""


def paths_through(seq: Sequence[Position]) -> list[list[Step]]:
    """Every route from the output of the last of ``seq`` down to the input of its first, loss side first."""
    routes: list[list[Step]] = [[]]
    for pos in reversed(seq):
        routes = [r + s for r in routes for s in _through(pos)]
    return routes


def _through(pos: Position) -> list[list[Step]]:
    if not pos.is_block:
        return [[("x", pos, -1)]]
    out: list[list[Step]] = []
    for b, branch in enumerate(pos.branches):
        head: list[Step] = [("via", pos, b)] + ([("place", pos, b)] if pos.layer.concatenates else [])
        out += [head + r for r in paths_through(branch)]
    return out


def paths_above(net: Stack, pos: Position) -> list[list[Step]]:
    """Every route from the loss down to the output of ``pos`` (the ``J_x`` of everything after it, each branch taken)."""
    if pos.parent is None:
        return paths_through(net.positions[pos.slot + 1 :])
    parent = pos.parent
    head: list[Step] = [("via", parent, pos.branch)] + ([("place", parent, pos.branch)] if parent.layer.concatenates else [])
    after = paths_through(parent.branches[pos.branch][pos.slot + 1 :])
    return [r + head + s for r in paths_above(net, parent) for s in after]


def count_paths(net: Stack, pos: Position | None) -> int:
    """How many routes :func:`paths_above` (``pos``) or :func:`paths_through` (``None``: the whole network) lists.

    A product over the blocks after ``pos`` of their branches' counts, without listing them.

    >>> from jacobnet import Network, Dense, Tanh, Residual, Concat, MSE
    >>> net = Network([Dense(2, 2), Residual([Dense(2, 2), Tanh()]), Concat([Dense(2, 1), [], Dense(2, 2)])], MSE())
    >>> count_paths(net, net.positions[0]), len(paths_above(net, net.positions[0])), count_paths(net, None)
    (6, 6, 6)
    """

    def through(p: Position) -> int:
        return 1 if not p.is_block else sum(seq(branch) for branch in p.branches)

    def seq(items: Sequence[Position]) -> int:
        n = 1
        for p in items:
            n *= through(p)
        return n

    if pos is None:
        return seq(net.positions)
    n = 1
    while pos.parent is not None:
        n *= seq(pos.parent.branches[pos.branch][pos.slot + 1 :])
        pos = pos.parent
    return n * seq(net.positions[pos.slot + 1 :])


@dataclass
class PathSum:
    """``Σ_paths`` of one product per path: what a chain through blocks is.

    Every path is a :class:`~jacobnet.chain.product.Chain` (its ``route`` says
    which branch of each block it takes); everything a chain answers, a path
    sum answers for the sum: ``evaluate(order)``, ``flops``, ``bytes``, the
    order table, ``factor(name)``.
    """

    target: str
    chains: list[Chain]

    def paths(self) -> list[Chain]:
        """Every path as its own chain of named factors."""
        return list(self.chains)

    @property
    def n_paths(self) -> int:
        return len(self.chains)

    @property
    def batch(self) -> int | None:
        return self.chains[0].batch

    @property
    def factors(self) -> list[Factor]:
        """Every distinct factor of every path, in the order first met."""
        seen: dict[int, Factor] = {}
        for c in self.chains:
            for f in c.factors:
                seen.setdefault(id(f), f)
        return list(seen.values())

    @property
    def shapes(self) -> list[list[tuple[int, int]]]:
        """Each path's factor shapes."""
        return [c.shapes for c in self.chains]

    def factor(self, name: str) -> Factor:
        """The factor called ``name`` on any path."""
        return find_factor(self.factors, name, "this sum of paths")

    def path_lengths(self) -> dict[int, int]:
        """``{number of factors: how many paths}``, shortest first (``J_loss`` and ``J_θ`` included)."""
        return dict(sorted(Counter(len(c.factors) for c in self.chains).items()))

    def evaluate(self, order: Order = "reverse", mode: str = "materialised") -> Array:
        """``Σ_paths`` of each path's product, each multiplied in ``order``: ``(1, n)`` or ``(B, 1, n)``."""
        total = self.chains[0].evaluate(order, mode)
        for c in self.chains[1:]:
            total = total + c.evaluate(order, mode)
        return total

    def flops(self, order: Order = "reverse", mode: str = "materialised") -> int:
        """Multiply-adds of every path's product in ``order``, plus the additions that sum them."""
        rows, cols = self.chains[0].factors[0].shape[0], self.chains[0].factors[-1].shape[1]
        adds = (self.n_paths - 1) * rows * cols * (self.batch or 1)
        return sum(c.flops(order, mode) for c in self.chains) + adds

    def bytes(self, order: Order = "reverse", mode: str = "materialised", include_factors: bool = False) -> int:
        """Bytes every path's products write (and, with ``include_factors``, read), summed."""
        return sum(c.bytes(order, mode, include_factors) for c in self.chains)

    def order_table(self, orders: Sequence[Order] | None = None) -> Table:
        """The orders' costs, each summed over the paths (one row per order)."""
        from jacobnet.chain.product import order_rows

        per_path = [order_rows(c, orders) for c in self.chains]
        rows = []
        for i, row in enumerate(per_path[0]):
            total = dict(row)
            for key in row:
                values = [p[i][key] for p in per_path]
                if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                    total[key] = sum(values)
                elif len(set(map(str, values))) > 1:
                    total[key] = "(each path its own)"
            rows.append(total)
        cols = list(rows[0])
        return Table(f"{self.target}: a sum of {self.n_paths} path products", cols, rows)

    def describe(self) -> str:
        """One line per path: its route and its factors."""
        return "\n".join(f"path {i}: {c.route or 'the straight path'} — " + " · ".join(f.name for f in c.factors)
                         for i, c in enumerate(self.chains, start=1))

    def __repr__(self) -> str:
        return f"PathSum({self.target!r}, {self.n_paths} paths)"
