"""The record of a backward pass: every partial product (:class:`Product`) and the whole pass (:class:`Trace`).

A :class:`Trace` is what :meth:`jacobnet.net.Network.trace` returns: the products
in execution order, each ``name = left · factor`` with its shapes, the gradient,
and a table of it all (``str(trace)``; HTML in Jupyter). The products come
from the one backward loop, :func:`jacobnet.chain.backward.products`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from jacobnet.chain.factor import Factor, find_factor
from jacobnet.core.cost import shorten
from jacobnet.core.table import Table

if TYPE_CHECKING:
    from jacobnet.core.stack import Stack

Array = np.ndarray


class Product:
    """One partial product of a backward pass, ``name = left · factor`` — or a sum, ``name = Σ terms``.

    ``value`` is ``(1, n)``, or ``(B, 1, n)`` per sample; a structured-mode
    parameter product computes it on first access. A sum (``factor is None``)
    adds the rows of the products named in ``terms``: at a block's input, what
    its branches send back (``note``: ``Residual 1: skip + inner``); with
    ``params=True``, a shared layer's gradient, the sum of its uses'.
    """

    def __init__(self, name: str, left: str, factor: Factor | None, value: Array | None, left_value: Array | None = None,
                 terms: list[str] | None = None, note: str = "", params: bool = False, block: Factor | None = None,
                 theta_start: int = 0):
        self.name, self.left, self.factor = name, left, factor
        self._value, self._left_value = value, left_value
        self.terms, self.note, self.params = terms or [], note, params
        self.block = block
        """At a block's junction, the block's own ``J_x`` (``J_x(Residual 1) = I + J_g``), which the terms multiply out."""
        self.theta_start = theta_start  # (where a ∂L/∂θ block sits in θ: the table's footer orders by it)
        self._trace: Trace | None = None

    @property
    def is_sum(self) -> bool:
        return self.factor is None and bool(self.terms)

    @property
    def value(self) -> Array:
        """The product: ``(1, n)`` or ``(B, 1, n)``."""
        if self._value is None:
            if self.factor is None:  # a shared layer's total: the sum of its uses' products
                assert self._trace is not None
                by_name = self._trace.products_by_name
                self._value = sum(by_name[t].value for t in self.terms)
            else:
                self._value = self.factor.op.vjp(self._left_value)
        return self._value

    @property
    def shape(self) -> tuple[int, int]:
        """The per-sample shape of the product, e.g. ``(1, 10)``."""
        if self.factor is None:
            if self._value is None:
                assert self._trace is not None
                return self._trace.products_by_name[self.terms[0]].shape
            return self._value.shape[-2:]
        rows = (self._value if self._value is not None else self._left_value).shape[-2]
        return (rows, self.factor.shape[1])

    def __repr__(self) -> str:
        if self.factor is None:
            return f"Product({self.name!r} = {' + '.join(self.terms)}, shape={self.shape})"
        return f"Product({self.name!r} = {self.left or '·'} · {self.factor.name}, shape={self.shape})"


class Trace:
    """A whole backward pass: every factor, every partial product, the gradient.

    Attributes:
        products: in execution order; ``products[0]`` is ``∂L/∂a_L = J_loss``.
        gradient: the flat ``(n_params,)`` gradient (the batch mean), layer order.
        mode, batch: how it was computed; ``batch`` is ``B`` or ``None``.
    ``str(trace)`` (``print(trace)``) is a table, and so is its HTML in Jupyter;
    ``repr(trace)`` is one line that says what it holds.

    >>> import numpy as np
    >>> from jacobnet import Network, Dense, Tanh, MSE
    >>> Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE()).trace(np.ones(3), np.zeros(2))
    <Trace of Network([Dense(3, 4), Tanh(), Dense(4, 2)], MSE()): one sample, materialised, 6 products, loss = 0.264806, gradient (26,); print(trace) for the table>
    """

    def __init__(self, network: Stack, mode: str, batch: int | None, yhat: Array, y: Array):
        self.network, self.mode, self.batch = network, mode, batch
        self._yhat, self._y = yhat, y
        self.products: list[Product] = []
        self.gradient: Array = np.zeros(0)

    @property
    def loss(self) -> float:
        """The loss (the mean over a batch); ``inf`` beyond float64, as ``net.loss``."""
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.mean(self.network.loss_fn.apply(self._yhat, self._y)))

    @property
    def factors(self) -> list[Factor]:
        """The factors in the order they are multiplied in."""
        return [p.factor for p in self.products if p.factor is not None]

    @property
    def block_factors(self) -> list[Factor]:
        """Each block's own ``J_x`` (``I + J_g``, ``[J_{g_1}; J_{g_2}]``), at its junction: the sum its paths multiply out."""
        return [p.block for p in self.products if p.block is not None]

    def factor(self, name: str) -> Factor:
        """The factor called ``name``, e.g. ``"J_θ(Dense 1)"`` or a block's ``"J_x(Residual 1)"``; ``KeyError`` listing the names."""
        return find_factor(self.factors + self.block_factors, name, "this trace")

    @property
    def products_by_name(self) -> dict[str, Product]:
        """The partial products, by name."""
        if getattr(self, "_by_name", (None, -1))[1] != len(self.products):
            self._by_name = ({p.name: p for p in self.products}, len(self.products))
        return self._by_name[0]

    def rows(self) -> list[dict[str, str]]:
        """The table as data: one dict per multiplication."""
        out, shapes = [], {p.name: p.shape for p in self.products}
        for i, p in enumerate(self.products):
            f = p.factor
            if f is None:
                where = " + ".join(str(shapes[t]) for t in p.terms) + f" → {p.shape}"
                what = p.note or "the sum of its uses"
                out.append({"step": str(i), "product": p.name, "left": " + ".join(p.terms), "factor": "", "structure": what, "shapes": where})
                continue
            where = f"{shapes[p.left]} · {f.shape} → {p.shape}" if p.left else f"{p.shape}"
            row = {"step": str(i), "product": p.name, "left": p.left, "factor": f.name, "structure": f.kind}
            out.append({**row, "shapes": where})
        return out

    def table(self) -> Table:
        """The trace as a :class:`~jacobnet.core.table.Table`."""
        rows = [{**r, "product": r["product"] + " =", "left": r["left"] and r["left"] + (" ·" if r["factor"] else "")}
                for r in self.rows()]
        blocks = [f"{p.name} {p.shape[1]}" for p in self._param_products()]
        footer = f"gradient: ({self.gradient.size},) = [" + " | ".join(blocks) + "]"
        return Table(self._header(), ["step", "product", "left", "factor", "structure", "shapes"], rows, footer=footer)

    def _header(self) -> str:
        """Who, how, the loss; then what each ``a_l`` is (entry labels: :mod:`jacobnet.core.labels`)."""
        net = self.network
        who = "one sample" if self.batch is None else f"a batch of {self.batch} (per-sample shapes; gradient = mean)"
        parts = []
        for p in net.all_positions:
            parts.append(f"{p.out} = output of {p.name}")
            for b, branch in enumerate(p.branches or ()):
                if branch and branch[0].via != p.via:  # a branch's entry: the block's input, down that branch
                    parts.append(f"{branch[0].via} = {p.inp} as {p.name}'s {p.layer.branch_name(b)} reads it")
                elif not branch and p.layer.concatenates:  # an empty branch of a concatenation: its output is the input
                    parts.append(f"{p.branch_out(b)} = {p.inp}, {p.name}'s {p.layer.branch_name(b)}")
        acts = "; ".join(parts)
        return (
            f"Backward pass of {net!r}: {who}, {self.mode}, loss = {self.loss:.6g}\n"
            f"where a0 = x; {acts} = {net.loss_fn.input_name}"
        )

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        who = "one sample" if self.batch is None else f"a batch of {self.batch}"
        return (f"<Trace of {shorten(repr(self.network), 160)}: {who}, {self.mode}, {len(self.products)} products, "
                f"loss = {self.loss:.6g}, gradient {self.gradient.shape}; print(trace) for the table>")

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def _param_products(self) -> list[Product]:
        """The blocks of the gradient, in ``θ`` order: each layer's ``∂L/∂θ`` (a shared layer's total)."""
        used = {t for p in self.products if p.params for t in p.terms}
        blocks = [p for p in self.products if (p.params or (p.factor is not None and p.factor.wrt_params)) and p.name not in used]
        return sorted(blocks, key=self._theta_start)

    def _theta_start(self, p: Product) -> int:
        return self.products_by_name[p.terms[0]].theta_start if p.params else p.theta_start
