"""One explicit product of Jacobians, multiplied in any order: :class:`Chain`.

``dL/dθ_l = J_loss · J_x(f_L) ⋯ J_x(f_{l+1}) · J_θ(f_l)`` as an ordered list
of named :class:`~jacobnet.factor.Factor` objects. Shapes (per sample, rows =
outputs): ``J_loss`` ``(1, n_L)``; ``J_x(f_l)`` ``(n_l, n_{l−1})``;
``J_θ(f_l)`` ``(n_l, n_params_l)``; the product ``(1, n_params_l)``. For a
batch every factor and product carries a leading ``B``: ``(B, 1, n_params_l)``.

* ``evaluate(order)``: the product; ``order`` is ``"reverse"``, ``"forward"``,
  ``"optimal"`` or nested pairs of factor indices (:mod:`jacobnet.orders`).
* ``steps(order)``: each multiplication in turn, a :class:`Step`.
* ``flops(order)``, ``bytes(order)``: its cost, counted from shapes alone.
* ``structured=True`` everywhere: multiply through the factors' structure
  instead of their dense matrices (cost model: :mod:`jacobnet.kernels`).

Every order and both modes give the same matrix, up to rounding.

One choice, two spellings (both named by issue 4): a whole backward pass takes
``mode="materialised" | "structured"`` (``Network.gradient``, ``Network.trace``,
``train``); a chain's methods take ``structured: bool`` (``evaluate``,
``steps``, ``flops``, ``bytes``, ``tree``; ``viz.chain_figure``,
``widgets.chain_stepper``), where ``structured=False`` means materialised.
Defaults follow the purpose: what shows the matrices (``Network.trace``,
``trace.backward``, every ``Chain`` method) materialises them; what computes a
gradient to use (``Network.gradient``, ``trace.gradient``, ``train``) is structured.

>>> import numpy as np
>>> from jacobnet import Network, Dense, Tanh, SoftmaxCrossEntropy
>>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], SoftmaxCrossEntropy())
>>> c = net.chain(np.ones(3), np.array([0.0, 1.0]))
>>> c.shapes
[(1, 2), (2, 4), (4, 4), (4, 16)]
>>> [(s.name, s.shape, s.flops) for s in c.steps("reverse")]
[('∂L/∂a2', (1, 4), 8), ('∂L/∂a1', (1, 4), 16), ('∂L/∂θ(Dense 1)', (1, 16), 64)]
>>> c.flops("forward"), c.flops("reverse"), c.flops("reverse", structured=True)
(416, 88, 24)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from .factor import MODES, Factor, find_factor, multiply
from .kernels import Multiplication, Operand, combine, leaf
from .memory import check_budget, format_bytes
from .orders import ORDER_NAMES, Tree, check_tree, forward_tree, optimal_tree, reverse_tree, tree_text
from .structure import Matrix
from .table import Table
from .trace import Product, Trace, activations_and_target, backward, input_factor, loss_factor, theta_factor

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray
Order = str | Tree
__all__ = ["Chain", "Step", "Factor", "Product", "Trace", "backward", "build_chain", "multiply", "MODES"]


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

    def __post_init__(self) -> None:
        if not self.factors:
            raise ValueError(f"chain {self.target}: needs at least one factor")
        for a, b in zip(self.factors, self.factors[1:]):
            if a.shape[1] != b.shape[0]:
                raise ValueError(f"chain {self.target}: {a.name} {a.shape} cannot multiply {b.name} {b.shape}")

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
    def tree(self, order: Order = "reverse", structured: bool = False) -> Tree:
        """The parenthesisation of ``order``; ``"optimal"`` is the cheapest under the chosen cost model."""
        n = len(self.factors)
        if isinstance(order, str):
            if order == "reverse":
                return reverse_tree(n)
            if order == "forward":
                return forward_tree(n)
            if order == "optimal":
                leaves = [leaf(f, structured, i) for i, f in enumerate(self.factors)]
                return optimal_tree(leaves, _cost_only)
            choices = ", ".join(ORDER_NAMES)
            raise ValueError(f"unknown order {order!r}; choose one of {choices} or nested pairs such as ((0, 1), 2)")
        return check_tree(order, n)

    def describe(self, order: Order = "reverse", structured: bool = False) -> str:
        """The order with factor names, e.g. ``((J_loss·J_x(Dense 2))·J_θ(Dense 1))``."""
        return tree_text(self.tree(order, structured), [f.name for f in self.factors])

    # --- cost -------------------------------------------------------------
    def flops(self, order: Order = "reverse", structured: bool = False) -> int:
        """Multiply-adds of the product in ``order``, summed over the batch.

        Dense: ``m·n·p`` per ``(m×n)·(n×p)``; structured: the kernel's count (:mod:`jacobnet.kernels`).

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), np.ones((3, 5))])
        >>> c.flops("reverse"), c.flops("forward")     # 1·4·3 + 1·3·5  vs  4·3·5 + 1·4·5
        (27, 80)
        """
        return sum(m.flops for _, _, m in self._walk(self.tree(order, structured), structured, compute=False))

    def bytes(self, order: Order = "reverse", structured: bool = False, include_factors: bool = False) -> int:
        """Bytes written for every intermediate in ``order`` (float64, whole batch).

        ``include_factors`` adds the factors' storage: dense matrices, or their structured form.

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), np.ones((3, 5))])
        >>> c.bytes("reverse"), c.bytes("forward")    # 8·(3 + 5), 8·(20 + 5)
        (64, 200)
        >>> c.bytes("reverse", include_factors=True)  # + 8·(4 + 12 + 15)
        312
        """
        total = sum(m.nbytes for _, _, m in self._walk(self.tree(order, structured), structured, compute=False))
        if include_factors:
            total += sum(f.nbytes if structured else f.nbytes_dense for f in self.factors)
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
        """The orders side by side: FLOPs and bytes, dense and structured (:func:`jacobnet.ordertable.order_table`)."""
        from .ordertable import order_table

        return order_table(self, orders)

    # --- evaluation -------------------------------------------------------
    def steps(self, order: Order = "reverse", structured: bool = False) -> Iterator[Step]:
        """Each multiplication in turn, computed; checks the memory budget first.

        Raises:
            JacobianMemoryError: the factors and intermediates would exceed the budget.

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), 2 * np.ones((3, 5))])
        >>> [(s.name, s.shape, s.flops) for s in c.steps("forward")]
        [('A1·A2', (4, 5), 60), ('P', (1, 5), 20)]
        >>> print(next(c.steps("reverse")))
        step 1: A0·A1 (1, 3) = A0 (1, 4) · A1 (4, 3)   [matmul: 12 FLOPs, 24 B]
        """
        tree = self.tree(order, structured)
        self._check_budget(order, tree, structured)
        return self._steps(tree, structured)

    def _steps(self, tree: Tree, structured: bool) -> Iterator[Step]:
        for i, (a, b, m) in enumerate(self._walk(tree, structured, compute=True), start=1):
            r = m.result
            yield Step(i, a.name, b.name, a.shape, b.shape, r.name, r.shape, r.kind, m.kernel, m.flops, m.nbytes, r)

    def evaluate(self, order: Order = "reverse", structured: bool = False) -> Array:
        """The product: ``(1, n)`` for a loss chain, or ``(B, 1, n)`` per sample.

        ``"reverse"`` multiplies left to right, ``((J_loss J_L) J_{L−1}) ⋯`` (backprop);
        ``"forward"`` right to left, ``J_loss (J_L (⋯ J_θ))`` (forward mode).
        ``structured=True`` multiplies through the factors' structure instead of
        their dense matrices: the same numbers up to rounding.

        >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), 2 * np.ones((3, 5))])
        >>> c.evaluate("reverse"), c.evaluate(((0, 1), 2)).shape
        (array([[24., 24., 24., 24., 24.]]), (1, 5))
        """
        last = None
        for last in self.steps(order, structured):
            pass
        if last is None:
            return self.factors[0].dense()
        out = last.value
        if self.batch is not None and out.ndim == 2:  # every factor was shared: the same for each sample
            out = np.broadcast_to(out, (self.batch, *out.shape)).copy()
        return out

    # --- internals --------------------------------------------------------
    def _walk(self, tree: Tree, structured: bool, compute: bool) -> Iterator[tuple[Operand, Operand, Multiplication]]:
        leaves = [leaf(f, structured, i, compute) for i, f in enumerate(self.factors)]
        steps: list[tuple[Operand, Operand, Multiplication]] = []

        def go(node: Tree) -> Operand:
            if isinstance(node, int):
                return leaves[node]
            a, b = go(node[0]), go(node[1])
            m = combine(a, b, self._name(a.span[0], b.span[1]), compute)
            steps.append((a, b, m))
            return m.result

        go(tree)
        return iter(steps)

    def _name(self, i: int, j: int) -> str:
        if (i, j) == (0, len(self.factors) - 1):
            return self.target
        first, last = self.factors[i], self.factors[j]
        if first.out and last.wrt:
            return f"∂{first.out}/∂{last.wrt}"
        return "·".join(f.name for f in self.factors[i : j + 1])

    def _check_budget(self, order: Order, tree: Tree, structured: bool) -> None:
        need = self.bytes(tree, structured, include_factors=not structured)
        label = order if isinstance(order, str) else tree_text(tree)
        what = f"{self.target} in {label} order ({'structured' if structured else 'materialised'})"
        lean = format_bytes(self.bytes("reverse", True))
        if structured:
            instead = f"use order='reverse' ({lean}) or a smaller batch"
        else:
            instead = f"use structured=True ({lean} in reverse order) or a smaller batch"
        check_budget(need, what, instead)

    def __repr__(self) -> str:
        inner = " · ".join(f"{f.name}{f.shape}" for f in self.factors)
        return f"Chain({self.target} = {inner})"


def _cost_only(a: Operand, b: Operand) -> tuple[Operand, int, int]:
    m = combine(a, b, "", compute=False)
    return m.result, m.flops, m.nbytes


def build_chain(net: Network, x: Array, y: Array, layer: int | None = None, wrt: str = "params") -> Chain:
    """The factors of ``dL/dθ`` of ``net.layers[layer]`` (or of ``dL/dx`` with ``wrt="input"``).

    ``layer`` defaults to the first layer with parameters (the longest chain).

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
    stop = 0 if wrt == "input" else _target_layer(net, layer) + 1
    acts, y = activations_and_target(net, x, y)
    factors = [loss_factor(net, acts, y)]
    factors += [input_factor(net, l, acts) for l in range(len(net.layers), stop, -1)]
    if wrt == "input":
        return Chain("∂L/∂x", factors)
    factors.append(theta_factor(net, stop, acts))
    return Chain(f"∂L/∂θ({net.names[stop - 1]})", factors)


def _target_layer(net: Network, layer: int | str | None) -> int:
    """The 0-based index of the layer whose parameters the chain differentiates by (validated)."""
    if layer is None:
        layer = next((i for i, f in enumerate(net.layers) if f.n_params), None)
        if layer is None:
            raise ValueError("this network has no parameters; use wrt='input'")
    i = net.layer_index(layer)
    if not net.layers[i].n_params:
        raise ValueError(f"{net.names[i]} has no parameters; choose a layer with parameters or wrt='input'")
    return i
