"""The one notation for the names of layers, variables and their entries.

A network ``L(f_L(… f_1(x)), y)`` has these variables:

* ``a0 = x``, the input; ``a_l = f_l(a_{l−1})``, the output of layer ``l``
  (1-based position in ``net.layers``); ``a_L = ŷ``, the prediction.
  In the names of partial products and factors they are written ``a0, a1, …``
  (``∂L/∂a2``, ``J_x(Dense 2)`` links ``a2`` to ``a1``).
* Their entries, in the row and column labels of a Jacobian, are written
  LaTeX-style, 1-based: ``x_{j}`` for the input, ``a^{(l)}_{j}`` for layer
  ``l``'s output, ``ŷ_{j}`` for the prediction a loss receives (``z_{j}`` for
  the logits of ``SoftmaxCrossEntropy``), ``L`` for the loss.
* Parameters: ``W^{(k)}_{i,j}`` and ``b^{(k)}_{i}``, where ``k`` counts the
  layers *with parameters* from 1 (:func:`param_layer_indices`), so the
  second Dense layer's weights are ``W^{(2)}`` whatever sits between.
* Layers are named per type, in order: ``Dense 1, Tanh 1, Dense 2``
  (:func:`number_layers`); factors ``J_loss``, ``J_x(Dense 2)``, ``J_θ(Dense 1)``.

>>> activation_labels(0, 2), activation_labels(2, 3)
(['x_{1}', 'x_{2}'], ['a^{(2)}_{1}', 'a^{(2)}_{2}', 'a^{(2)}_{3}'])
>>> entry_labels("z", 2)
['z_{1}', 'z_{2}']

Label lists are :class:`Labels`: sequences made on demand, so that naming the
millions of columns of a big ``J_θ`` costs nothing until they are read.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from math import prod
from typing import Callable, Iterator


def number_layers(layers: Sequence[object]) -> list[str]:
    """Display names numbered per type: ``Dense 1, Tanh 1, Dense 2, …``.

    >>> class Dense: pass
    >>> class Tanh: pass
    >>> number_layers([Dense(), Tanh(), Dense()])
    ['Dense 1', 'Tanh 1', 'Dense 2']
    """
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        kind = type(layer).__name__
        counts[kind] = counts.get(kind, 0) + 1
        names.append(f"{kind} {counts[kind]}")
    return names


def param_layer_indices(n_params: Sequence[int]) -> list[int | None]:
    """``k`` of ``W^{(k)}`` for every layer: 1-based among the layers with parameters, else ``None``.

    >>> param_layer_indices([12, 0, 10, 0])
    [1, None, 2, None]
    """
    out: list[int | None] = []
    k = 0
    for n in n_params:
        k += bool(n)
        out.append(k if n else None)
    return out


class Labels(Sequence[str]):
    """``n`` labels made on demand by ``label(j)`` (``j`` 0-based): a sequence that stores none.

    What a factor's ``row_labels``/``col_labels`` hold: the ``J_θ`` of a
    4096→1024 layer has 4 195 328 columns, and a trace must not spend
    seconds and hundreds of MB naming them before anyone looks. Indexing,
    slicing, iteration, ``len`` and ``==`` against any sequence (a list)
    work as for a list; ``list(labels)`` materialises them.

    >>> w = Labels(6, lambda j: f"w_{{{j + 1}}}")
    >>> len(w), w[0], w[-1], w[1:3], w == [f"w_{{{j}}}" for j in range(1, 7)]
    (6, 'w_{1}', 'w_{6}', ['w_{2}', 'w_{3}'], True)
    """

    SHOWN = 6  # entries shown by repr

    def __init__(self, n: int, label: Callable[[int], str]):
        self._n, self._label = n, label

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, j):  # type: ignore[override]
        if isinstance(j, slice):
            return [self._label(i) for i in range(*j.indices(self._n))]
        if not -self._n <= j < self._n:
            raise IndexError(f"label index {j} out of range for {self._n} labels")
        return self._label(j % self._n)

    def __iter__(self) -> Iterator[str]:
        return (self._label(j) for j in range(self._n))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str) or len(other) != self._n:
            return False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # (mutable-looking, like a list)

    def __repr__(self) -> str:
        if self._n <= self.SHOWN:
            return repr(list(self))
        head = ", ".join(map(repr, self[:3]))
        return f"[{head}, …, {self[-1]!r}] ({self._n} labels)"


def entry_labels(base: str, n: int) -> Labels:
    """``base_{1} … base_{n}``: the entries of a vector variable, 1-based."""
    return Labels(n, lambda j: f"{base}_{{{j + 1}}}")


def activation_labels(l: int | str, n: int) -> Labels:
    """The ``n`` entries of ``a_l``: ``x_{j}`` for ``l = 0``, else ``a^{(l)}_{j}``.

    ``l`` may be a variable's name: ``"a0"`` is ``x``, ``"a2.1"`` (inside a block) ``a^{(2.1)}``.

    >>> activation_labels("a2.1", 2)
    ['a^{(2.1)}_{1}', 'a^{(2.1)}_{2}']
    """
    if isinstance(l, str):
        l = l[1:] if l.startswith("a") else l
    return entry_labels("x" if l in (0, "0") else f"a^{{({l})}}", n)


def param_labels(shapes: Sequence[tuple[str, tuple[int, ...]]], k: int | None = None) -> Labels:
    """``name^{(k)}_{i,j,…}`` for every entry of every named array, row-major (``vec_r``), arrays in order.

    ``shapes``: ``[(name, shape), …]``, e.g. ``[("W", (n_out, n_in)), ("b", (n_out,))]``;
    indices are 1-based, and there is no ``^{(k)}`` without ``k``.

    >>> param_labels([("W", (2, 1)), ("b", (2,))], k=3)
    ['W^{(3)}_{1,1}', 'W^{(3)}_{2,1}', 'b^{(3)}_{1}', 'b^{(3)}_{2}']
    >>> param_labels([("W", (2, 1, 3))])[5]
    'W_{2,1,3}'
    """
    sup = "" if k is None else f"^{{({k})}}"
    starts, total = [], 0
    for _, shape in shapes:
        starts.append(total)
        total += prod(shape)

    def label(j: int) -> str:
        a = bisect_right(starts, j) - 1
        name, shape = shapes[a]
        index = ",".join(str(i + 1) for i in unravel_index(j - starts[a], shape))
        return f"{name}{sup}_{{{index}}}"

    return Labels(total, label)


def unravel_index(j: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The row-major multi-index of flat position ``j`` in an array of ``shape`` (0-based).

    >>> unravel_index(5, (2, 3))
    (1, 2)
    """
    out = []
    for n in reversed(shape):
        j, i = divmod(j, n)
        out.append(i)
    return tuple(reversed(out))
