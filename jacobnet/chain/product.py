"""One explicit product of Jacobians, multiplied in any order: :class:`Chain`.

``dL/dθ_l = J_loss · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)`` as an ordered list
of named :class:`~jacobnet.chain.factor.Factor` objects. Shapes (per sample, rows =
outputs): ``J_loss`` ``(1, n_L)``; ``J_x(f_l)`` ``(n_l, n_{l−1})``;
``J_θ(f_l)`` ``(n_l, n_params_l)``; the product ``(1, n_params_l)``. For a
batch every factor and product carries a leading ``B``: ``(B, 1, n_params_l)``.

* ``evaluate(order)``: the product; ``order`` is ``"reverse"``, ``"forward"``,
  ``"optimal"`` or nested pairs of factor indices (:mod:`jacobnet.chain.orders`).
* ``steps(order)``: each multiplication in turn, a :class:`Step`.
* ``flops(order)``, ``bytes(order)``: its cost, counted from shapes alone.
* ``mode="structured"`` everywhere: multiply through the factors' structure
  instead of their dense matrices (cost model: :mod:`jacobnet.chain.kernels`).

Every order and both modes give the same matrix, up to rounding.

One choice, one spelling: ``mode="materialised" | "structured"``, for a whole
backward pass (``Network.gradient``, ``Network.trace``, ``train``) as for a
chain's methods (``evaluate``, ``steps``, ``flops``, ``bytes``, ``tree``;
``viz.chain_figure``, ``widgets.chain_stepper``). Defaults follow the purpose:
what shows the matrices (``Network.trace``, every ``Chain`` method)
materialises them; what computes a gradient to use (``Network.gradient``,
``train``) is structured.

>>> import numpy as np
>>> from jacobnet import Network, Dense, Tanh, SoftmaxCrossEntropy
>>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], SoftmaxCrossEntropy())
>>> c = net.chain(np.ones(3), np.array([0.0, 1.0]))
>>> c.shapes
[(1, 2), (2, 4), (4, 4), (4, 16)]
>>> [(s.name, s.shape, s.flops) for s in c.steps("reverse")]
[('∂L/∂a2', (1, 4), 8), ('∂L/∂a1', (1, 4), 16), ('∂L/∂θ(Dense 1)', (1, 16), 64)]
>>> c.flops("forward"), c.flops("reverse"), c.flops("reverse", mode="structured")
(416, 88, 24)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from jacobnet.chain.factor import Factor, find_factor
from jacobnet.chain.kernels import Multiplication, Operand, combine, leaf
from jacobnet.chain.orders import ORDER_NAMES, Tree, check_tree, forward_tree, optimal_tree, reverse_tree, tree_text
from jacobnet.core.cost import cut_text, shorten
from jacobnet.core.memory import check_budget, format_bytes
from jacobnet.core.operators import Matrix
from jacobnet.core.table import Table
from jacobnet.core.validate import check_mode

Array = np.ndarray
Order = str | Tree


@dataclass
class Step:
    """One multiplication of a chain, ``name = left · right``.

    Shapes are per sample; ``flops`` and ``bytes`` count the whole batch.
    ``value`` is the result's dense matrix, ``shape`` or ``(B, *shape)``.
    """

    index: int
    left: str
    right: str
    left_shape: tuple[int, int]
    right_shape: tuple[int, int]
    name: str
    shape: tuple[int, int]
    kind: str
    kernel: str
    flops: int
    bytes: int
    result: Operand = field(repr=False)

    @property
    def value(self) -> Array:
        """The result as a dense matrix (a diagonal result is materialised on demand)."""
        return self.result.matrix()

    def __str__(self) -> str:
        return (
            f"step {self.index}: {self.name} {self.shape} = {self.left} {self.left_shape} · "
            f"{self.right} {self.right_shape}   [{self.kernel}: {self.flops:,} FLOPs, {format_bytes(self.bytes)}]"
        )


@dataclass
class Chain:
    """One product ``J_loss · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)`` as ordered factors.

    ``target`` names what it computes, e.g. ``∂L/∂θ(Dense 1)``.
    """

    target: str
    factors: list[Factor]
    route: str = ""
    """Through blocks: which branch of each block this path takes (``Residual 1: skip``); empty for a straight chain."""

    def __post_init__(self) -> None:
        if not self.factors:
            raise ValueError(f"chain {self.target}: needs at least one factor")
        for a, b in zip(self.factors, self.factors[1:]):
            if a.shape[1] != b.shape[0]:
                raise ValueError(f"chain {self.target}: {a.name} {a.shape} cannot multiply {b.name} {b.shape}")

    def paths(self) -> list[Chain]:
        """The one path of a straight chain (a chain through blocks is a :class:`~jacobnet.chain.paths.PathSum`)."""
        return [self]

    @property
    def n_paths(self) -> int:
        return 1

    @classmethod
    def from_matrices(cls, matrices: Sequence[Array], names: Sequence[str] | None = None, target: str = "P") -> Chain:
        """A chain of plain dense factors ``(m, n)`` (or stacked ``(B, m, n)``), named ``A0, A1, …``.

        >>> Chain.from_matrices([np.ones((1, 3)), np.ones((3, 5))]).shapes
        [(1, 3), (3, 5)]
        >>> Chain.from_matrices([np.ones((1, 3)), np.ones((3, 5))], names=["A"])
        Traceback (most recent call last):
        ...
        ValueError: chain P: 2 matrices but 1 names (['A']); give one name per matrix
        """
        mats = [np.asarray(m, dtype=np.float64) for m in matrices]
        names = list(names) if names is not None else [f"A{i}" for i in range(len(mats))]
        if len(names) != len(mats):
            raise ValueError(f"chain {target}: {len(mats)} matrices but {len(names)} names ({names}); give one name per matrix")
        for name, m in zip(names, mats):
            if m.ndim not in (2, 3):
                raise ValueError(
                    f"chain factor {name}: expected a matrix (m, n) or a stack (B, m, n), got shape {m.shape}"
                )
        return cls(target, [Factor(n, Matrix(m)) for n, m in zip(names, mats)])

    @property
    def batch(self) -> int | None:
        """The batch size ``B``, or ``None`` for a single sample."""
        return next((f.batch for f in self.factors if f.batch is not None), None)

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """The per-sample shape of every factor, in order."""
        return [f.shape for f in self.factors]

    def factor(self, name: str) -> Factor:
        """The factor called ``name``, e.g. ``"J_x(Tanh 1)"``; ``KeyError`` listing the names if unknown.

        >>> import numpy as np
        >>> c = Chain.from_matrices([np.ones((1, 3)), np.ones((3, 2))], names=["A", "B"])
        >>> c.factor("B").shape
        (3, 2)
        """
        return find_factor(self.factors, name, f"the chain {self.target}")

    # --- orders -----------------------------------------------------------
    def tree(self, order: Order = "reverse", mode: str = "materialised") -> Tree:
        """The parenthesisation of ``order``; ``"optimal"`` is the cheapest under the cost model of ``mode``."""
        check_mode(_mode(mode))
        n = len(self.factors)
        if isinstance(order, str):
            if order == "reverse":
                return reverse_tree(n)
            if order == "forward":
                return forward_tree(n)
            if order == "optimal":
                leaves = [leaf(f, mode, i) for i, f in enumerate(self.factors)]
                return optimal_tree(leaves, _cost_only)
            choices = ", ".join(ORDER_NAMES)
            raise ValueError(f"unknown order {shorten(repr(order), 80)}; choose one of {choices} or nested pairs such as ((0, 1), 2)")
        try:
            return check_tree(order, n)
        except ValueError as err:  # (its message quotes the order whole)
            raise ValueError(shorten(str(err), 400)) from None

    def describe(self, order: Order = "reverse", mode: str = "materialised") -> str:
        """The order with factor names, e.g. ``((J_loss·J_x(Dense 2))·J_θ(Dense 1))``."""
        return tree_text(self.tree(order, mode), [f.name for f in self.factors])

    # --- cost -------------------------------------------------------------
    def flops(self, order: Order = "reverse", mode: str = "materialised") -> int:
        """Multiply-adds of the product in ``order``, summed over the batch.

        Dense: ``m·n·p`` per ``(m×n)·(n×p)``; structured: the kernel's count (:mod:`jacobnet.chain.kernels`).

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), np.ones((3, 5))])
        >>> c.flops("reverse"), c.flops("forward")     # 1·4·3 + 1·3·5  vs  4·3·5 + 1·4·5
        (27, 80)
        """
        return sum(m.flops for _, _, m in self._walk(self.tree(order, mode), mode, compute=False))

    def bytes(self, order: Order = "reverse", mode: str = "materialised", include_factors: bool = False) -> int:
        """Bytes written for every intermediate in ``order`` (float64, whole batch).

        ``include_factors`` adds the factors' storage: dense matrices, or their structured form.

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), np.ones((3, 5))])
        >>> c.bytes("reverse"), c.bytes("forward")    # 8·(3 + 5), 8·(20 + 5)
        (64, 200)
        >>> c.bytes("reverse", include_factors=True)  # + 8·(4 + 12 + 15)
        312
        """
        total = sum(m.nbytes for _, _, m in self._walk(self.tree(order, mode), mode, compute=False))
        if include_factors:
            total += sum(f.nbytes if mode == "structured" else f.nbytes_dense for f in self.factors)
        return total

    def memory(self) -> Table:
        """Per factor: name, shape, structure, dense bytes and structured bytes."""
        rows = [
            {"factor": f.name, "shape": str(f.shape), "structure": f.kind, "dense": f.nbytes_dense, "structured": f.nbytes}
            for f in self.factors
        ]
        who = "" if self.batch is None else f" (batch of {self.batch})"
        fmt = {"dense": format_bytes, "structured": format_bytes}
        return Table(f"Factors of {self.target}{who}: bytes", list(rows[0]), rows, fmt)

    def order_table(self, orders: Sequence[Order] | None = None) -> Table:
        """The orders side by side: FLOPs and bytes, dense and structured (:func:`order_table`)."""
        return order_table(self, orders)

    # --- evaluation -------------------------------------------------------
    def steps(self, order: Order = "reverse", mode: str = "materialised") -> Iterator[Step]:
        """Each multiplication in turn, computed; checks the memory budget first.

        Raises:
            JacobianMemoryError: the factors and intermediates would exceed the budget.

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), 2 * np.ones((3, 5))])
        >>> [(s.name, s.shape, s.flops) for s in c.steps("forward")]
        [('A1·A2', (4, 5), 60), ('P', (1, 5), 20)]
        >>> print(next(c.steps("reverse")))
        step 1: A0·A1 (1, 3) = A0 (1, 4) · A1 (4, 3)   [matmul: 12 FLOPs, 24 B]
        """
        tree = self.tree(order, mode)
        self._check_budget(order, tree, mode)
        return self._steps(tree, mode)

    def _steps(self, tree: Tree, mode: str) -> Iterator[Step]:
        i = 0  # (counted by hand: enumerate keeps its last item, the operands, alive through the next multiplication)
        for a, b, m in self._walk(tree, mode, compute=True):
            i, r = i + 1, m.result
            yield Step(i, a.name, b.name, a.shape, b.shape, r.name, r.shape, r.kind, m.kernel, m.flops, m.nbytes, r)
            del a, b, m, r  # (the next multiplication runs without this one's operands)

    def evaluate(self, order: Order = "reverse", mode: str = "materialised") -> Array:
        """The product: ``(1, n)`` for a loss chain, or ``(B, 1, n)`` per sample.

        ``"reverse"`` multiplies left to right, ``((J_loss J_L) J_{L−1}) ⋯`` (backprop);
        ``"forward"`` right to left, ``J_loss (J_L (⋯ J_θ))`` (forward mode).
        ``mode="structured"`` multiplies through the factors' structure instead of
        their dense matrices: the same numbers up to rounding. Only the operands still
        to be multiplied are alive at any time, and nothing but the result outlives the call.

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), 2 * np.ones((3, 5))])
        >>> c.evaluate("reverse"), c.evaluate(((0, 1), 2)).shape
        (array([[24., 24., 24., 24., 24.]]), (1, 5))
        """
        last = deque(self.steps(order, mode), maxlen=1)  # each step's result is the next one's input: keep the last
        if not last:
            return self.factors[0].dense()
        out = last.pop().value
        if self.batch is not None and out.ndim == 2:  # every factor was shared: the same for each sample
            out = np.broadcast_to(out, (self.batch, *out.shape)).copy()
        return out

    # --- internals --------------------------------------------------------
    def _walk(self, tree: Tree, mode: str, compute: bool) -> Iterator[tuple[Operand, Operand, Multiplication]]:
        """Each multiplication of ``tree``, in the order it runs (post-order), as it is made.

        A loop over an explicit stack, not a recursive closure (a closure that calls itself
        is a reference cycle, and would keep every dense intermediate alive until the
        garbage collector runs): a factor is made into an operand (materialised, for the
        dense model) only when its multiplication comes, and an operand is dropped as
        soon as its product exists.
        """
        todo: list[tuple[Tree, bool]] = [(tree, False)]
        done: list[Operand | int] = []  # the results waiting for their sibling; a factor index until it is needed
        while todo:
            node, children_done = todo.pop()
            if isinstance(node, int):
                done.append(node)
            elif not children_done:
                todo += [(node, True), (node[1], False), (node[0], False)]
            else:
                right, left = done.pop(), done.pop()
                a = leaf(self.factors[left], mode, left, compute) if isinstance(left, int) else left
                del left
                b = leaf(self.factors[right], mode, right, compute) if isinstance(right, int) else right
                del right
                m = combine(a, b, self._name(a.span[0], b.span[1]), compute)
                done.append(m.result)
                yield a, b, m
                del a, b, m

    def _name(self, i: int, j: int) -> str:
        if (i, j) == (0, len(self.factors) - 1):
            return self.target
        first, last = self.factors[i], self.factors[j]
        if first.out and last.wrt:
            return f"∂{first.out}/∂{last.wrt}"
        return "·".join(f.name for f in self.factors[i : j + 1])

    def _check_budget(self, order: Order, tree: Tree, mode: str) -> None:
        need = self.bytes(tree, mode, include_factors=mode != "structured")
        label = order if isinstance(order, str) else tree_text(tree)
        what = f"{self.target} in {label} order ({mode})"
        lean = format_bytes(self.bytes("reverse", "structured"))
        if mode == "structured":
            instead = f"use order='reverse' ({lean}) or a smaller batch"
        else:
            instead = f"use mode='structured' ({lean} in reverse order) or a smaller batch"
        check_budget(need, what, instead)

    def __repr__(self) -> str:
        inner = " · ".join(f"{f.name}{f.shape}" for f in self.factors)
        return f"Chain({self.target} = {inner})"


def _mode(mode: object) -> object:
    """``mode`` for :func:`check_mode`: a value that is no string refused as such, a long one cut for the message."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'materialised' or 'structured', got {type(mode).__name__}")
    return cut_text(mode)


def _cost_only(a: Operand, b: Operand) -> tuple[Operand, int, int]:
    m = combine(a, b, "", compute=False)
    return m.result, m.flops, m.nbytes


COLUMNS = ["order", "parenthesisation", "flops", "bytes", "structured flops", "structured bytes"]


def _orders(chain: Chain, orders: Sequence[Order] | None) -> list[tuple[str, Tree]]:
    """``(label, tree)`` per order: by default forward, reverse, the dense-optimal and the structured-optimal tree."""
    if orders is None:
        labelled = [(o, chain.tree(o)) for o in ("forward", "reverse", "optimal")]
        labelled.append(("optimal (structured)", chain.tree("optimal", "structured")))
        return labelled
    return [(o if isinstance(o, str) else "explicit", chain.tree(o)) for o in orders]


def _costs(chain: Chain, tree: Tree) -> dict:
    return {
        "flops": chain.flops(tree),
        "bytes": chain.bytes(tree),
        "structured flops": chain.flops(tree, "structured"),
        "structured bytes": chain.bytes(tree, "structured"),
    }


def order_rows(chain: Chain, orders: Sequence[Order] | None = None) -> list[dict]:
    """One dict per order: its tree (factor indices, ``(0·(1·2))``), and FLOPs and bytes in the dense and the structured model.

    Default orders: forward, reverse, the dense-optimal tree and the
    structured-optimal tree (each row is one tree, costed under both models).
    """
    return [{"order": label, "parenthesisation": tree_text(tree), **_costs(chain, tree)} for label, tree in _orders(chain, orders)]


def order_table(chain: Chain, orders: Sequence[Order] | None = None) -> Table:
    """The orders of ``chain`` as a printable :class:`~jacobnet.core.table.Table` (``.rows`` is the data).

    Each tree is written with the factors' names; orders that are the same tree share a
    row (``reverse = optimal``). FLOPs are multiply-adds; bytes are those written for
    intermediates. The footer gives the factors' own storage, dense and structured.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> chain = build_network("3,4,2", "tanh", "mse", seed=0).chain(np.ones(3), np.zeros(2))
    >>> [(r["order"], r["flops"]) for r in order_table(chain).rows]
    [('forward', 416), ('reverse = optimal = optimal (structured)', 88)]
    >>> order_table(chain).rows[1]["parenthesisation"]
    '(((J_loss·J_x(Dense 2))·J_x(Tanh 1))·J_θ(Dense 1))'
    """
    names = [f.name for f in chain.factors]
    rows: list[dict] = []
    seen: dict[str, dict] = {}
    for label, tree in _orders(chain, orders):  # an order that is the same tree as an earlier one joins its row
        key = tree_text(tree)
        if key in seen:
            seen[key]["order"] += f" = {label}"
        else:
            seen[key] = {"order": label, "parenthesisation": tree_text(tree, names), **_costs(chain, tree)}
            rows.append(seen[key])
    who = "" if chain.batch is None else f", batch of {chain.batch}"
    title = f"Accumulation orders of {chain.target} = " + " · ".join(f.name for f in chain.factors) + who
    dense = sum(f.nbytes_dense for f in chain.factors)
    structured = sum(f.nbytes for f in chain.factors)
    footer = f"factors: {format_bytes(dense)} dense, {format_bytes(structured)} structured"
    fmt = {c: format_bytes for c in ("bytes", "structured bytes")}
    return Table(title, COLUMNS, rows, fmt, footer=footer)
