"""Accumulation orders: the parenthesisations of a matrix chain ``A_0 A_1 ⋯ A_{n−1}``.

An order is a full binary tree over the factor indices, written as nested
pairs: ``((0, 1), (2, 3))`` multiplies ``A_0 A_1`` and ``A_2 A_3``, then the two
results. The factors keep their places (a matrix product is not
commutative); only the grouping changes — and with it the cost.

* ``reverse`` = ``(((0, 1), 2), 3)``: left to right, starting from the loss row
  (backpropagation, reverse mode: every intermediate is a ``(1, ·)`` row).
* ``forward`` = ``(0, (1, (2, 3)))``: right to left, starting from ``J_θ``
  (forward mode: every intermediate has ``n_params`` columns).
* ``optimal``: the cheapest tree for a cost function, by the classic
  ``O(n³)`` dynamic programme over sub-chains ``i … j`` (:func:`optimal_tree`).

>>> reverse_tree(4), forward_tree(4)
((((0, 1), 2), 3), (0, (1, (2, 3))))
>>> len(list(all_trees(5)))          # Catalan(4) parenthesisations
14
>>> check_tree(((0, 1), (2, 3)), 4)
((0, 1), (2, 3))
>>> check_tree((0, 2, 1), 3)
Traceback (most recent call last):
...
ValueError: order (0, 2, 1): each pair of parentheses must group exactly two items, got 3 items in (0, 2, 1)
"""

from __future__ import annotations

from typing import Callable, Iterator, TypeVar, Union

import numpy as np

from jacobnet.core.cost import quote, shorten

Tree = Union[int, tuple["Tree", "Tree"]]
ORDER_NAMES = ("reverse", "forward", "optimal")
T = TypeVar("T")


def reverse_tree(n: int, start: int = 0) -> Tree:
    """Left to right over factors ``start … start+n−1``: ``((0, 1), 2) …``."""
    tree: Tree = start
    for i in range(start + 1, start + n):
        tree = (tree, i)
    return tree


def forward_tree(n: int, start: int = 0) -> Tree:
    """Right to left over factors ``start … start+n−1``: ``(0, (1, (2, …)))``."""
    tree: Tree = start + n - 1
    for i in range(start + n - 2, start - 1, -1):
        tree = (i, tree)
    return tree


def all_trees(n: int, start: int = 0) -> Iterator[Tree]:
    """Every parenthesisation of ``n`` factors (there are Catalan(n−1) of them)."""
    if n == 1:
        yield start
        return
    for k in range(1, n):
        for left in all_trees(k, start):
            for right in all_trees(n - k, start + k):
                yield (left, right)


def leaves(tree: Tree) -> list[int]:
    """The factor indices of a tree, left to right."""
    return [tree] if isinstance(tree, int) else leaves(tree[0]) + leaves(tree[1])


def check_tree(order: object, n: int) -> Tree:
    """Validate an explicit parenthesisation of ``n`` factors; return it as nested tuples of ints.

    Raises:
        ValueError: not nested pairs, a leaf that is not an index, or the indices
            not exactly ``0 … n−1`` in order (each once). The message quotes at most
            about 80 characters of the order (:func:`~jacobnet.core.cost.quote`).

    >>> check_tree(tuple(range(3000)), 3)
    Traceback (most recent call last):
    ...
    ValueError: order (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, …(16890 characters): each pair of parentheses must group exactly two items, got 3000 items in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, …(16890 characters)
    """
    tree = _as_tree(order, quote(order))
    found = leaves(tree)
    if found != list(range(n)):
        raise ValueError(
            f"order {quote(order)}: the factors must appear once each, in order 0…{n - 1} "
            f"(a matrix product cannot be reordered), got {shorten(', '.join(map(str, found)), 80)}"
        )
    return tree


def _as_tree(node: object, whole: str) -> Tree:
    """``node`` as nested tuples of ints, or a ``ValueError`` quoting ``whole`` (the order, already cut to a readable length)."""
    if isinstance(node, (int, np.integer)) and not isinstance(node, (bool, np.bool_)):
        return int(node)
    if not isinstance(node, (tuple, list)):
        raise ValueError(
            f"order {whole}: expected nested pairs of factor indices such as ((0, 1), (2, 3)), "
            f"found {quote(node)} ({type(node).__name__})"
        )
    if len(node) != 2:
        raise ValueError(
            f"order {whole}: each pair of parentheses must group exactly two items, "
            f"got {len(node)} items in {quote(tuple(node))}"
        )
    return (_as_tree(node[0], whole), _as_tree(node[1], whole))


def tree_text(tree: Tree, names: list[str] | None = None) -> str:
    """``((0·1)·(2·3))``, or with factor names: ``((J_loss·J_x(Dense 2))·…)``.

    >>> tree_text(((0, 1), 2), ["a", "b", "c"])
    '((a·b)·c)'
    """
    if isinstance(tree, int):
        return names[tree] if names else str(tree)
    return f"({tree_text(tree[0], names)}·{tree_text(tree[1], names)})"


def optimal_tree(items: list[T], combine: Callable[[T, T], tuple[T, int, int]]) -> Tree:
    """The cheapest parenthesisation by dynamic programming over sub-chains.

    ``combine(a, b)`` → ``(product, flops, bytes)`` for two adjacent operands.
    ``best[i][j]`` = min over ``k`` of ``best[i][k] + best[k+1][j] + flops(P_ik · P_k+1,j)``,
    bytes breaking ties, then the later split (so the reverse order wins a tie).
    Exact whenever the product of a sub-chain (hence its cost as an operand)
    does not depend on how it was grouped — true of both cost models of
    :mod:`jacobnet.chain.kernels`.

    >>> dims = [(10, 30), (30, 5), (5, 60)]          # the textbook example: shapes only
    >>> def combine(a, b):
    ...     return (a[0], b[1]), a[0] * a[1] * b[1], 8 * a[0] * b[1]
    >>> optimal_tree(dims, combine)                  # (A0 A1) A2: 1500 + 3000, not 9000 + 18000
    ((0, 1), 2)
    """
    n = len(items)
    prod: dict[tuple[int, int], T] = {(i, i): items[i] for i in range(n)}
    cost: dict[tuple[int, int], tuple[int, int]] = {(i, i): (0, 0) for i in range(n)}
    split: dict[tuple[int, int], int] = {}
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            for k in range(j - 1, i - 1, -1):
                p, flops, nbytes = combine(prod[(i, k)], prod[(k + 1, j)])
                total = (cost[(i, k)][0] + cost[(k + 1, j)][0] + flops, cost[(i, k)][1] + cost[(k + 1, j)][1] + nbytes)
                if (i, j) not in cost or total < cost[(i, j)]:
                    cost[(i, j)], split[(i, j)], prod[(i, j)] = total, k, p
    return _rebuild(split, 0, n - 1)


def _rebuild(split: dict[tuple[int, int], int], i: int, j: int) -> Tree:
    if i == j:
        return i
    k = split[(i, j)]
    return (_rebuild(split, i, k), _rebuild(split, k + 1, j))
