"""Accumulation orders side by side: what each costs, dense and structured.

:func:`order_table` compares the orders of one chain; :func:`order_cost_sweep`
does it for networks of growing width and depth (the data behind
``viz.order_cost_figure``). Costs are counted from shapes alone
(:mod:`jacobnet.kernels`), so even chains far too big to materialise can be
costed.

Why reverse wins for a scalar loss: every reverse intermediate is a
``(1, ·)`` row, costing ``n_i·n_{i+1}`` per step, while every forward
intermediate has all ``p = n_params`` columns, costing ``n_{i−1}·n_i·p``.
Reverse ≤ forward whenever the last factor is at least as wide as it is tall
(``p ≥ m``), which a parameter Jacobian ``J_θ`` (``m × m(n+1)``) always is.
For ``∂L/∂x`` of a network with fewer inputs than its first hidden width,
forward can win: ``flops_fwd − flops_rev = n_L − n_1`` when ``x`` is a scalar.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("784,128,10", "tanh", "softmax-ce")
>>> t = order_table(net.chain(np.zeros(784), np.eye(10)[0]))
>>> t.column("order")
['forward', 'reverse', 'optimal', 'optimal (structured)']
>>> t.rows[0]["flops"] // t.rows[1]["flops"]             # forward / reverse
137
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .memory import format_bytes
from .orders import Tree, tree_text
from .table import Table

if TYPE_CHECKING:
    from .chain import Chain, Order

COLUMNS = ["order", "parenthesisation", "flops", "bytes", "structured flops", "structured bytes"]


def order_rows(chain: Chain, orders: Sequence[Order] | None = None) -> list[dict]:
    """One dict per order: its tree, and FLOPs and bytes in the dense and the structured model.

    Default orders: forward, reverse, the dense-optimal tree and the
    structured-optimal tree (each row is one tree, costed under both models).
    """
    labelled: list[tuple[str, Tree]]
    if orders is None:
        labelled = [(o, chain.tree(o)) for o in ("forward", "reverse", "optimal")]
        labelled.append(("optimal (structured)", chain.tree("optimal", structured=True)))
    else:
        labelled = [(o if isinstance(o, str) else "explicit", chain.tree(o)) for o in orders]
    return [
        {
            "order": label,
            "parenthesisation": tree_text(tree),
            "flops": chain.flops(tree),
            "bytes": chain.bytes(tree),
            "structured flops": chain.flops(tree, structured=True),
            "structured bytes": chain.bytes(tree, structured=True),
        }
        for label, tree in labelled
    ]


def order_table(chain: Chain, orders: Sequence[Order] | None = None) -> Table:
    """The orders of ``chain`` as a printable :class:`~jacobnet.table.Table` (``.rows`` is the data).

    FLOPs are multiply-adds; bytes are those written for intermediates. The
    footer gives the factors' own storage, dense and structured.
    """
    rows = order_rows(chain, orders)
    who = "" if chain.batch is None else f", batch of {chain.batch}"
    title = f"Accumulation orders of {chain.target} = " + " · ".join(f.name for f in chain.factors) + who
    dense = sum(f.nbytes_dense for f in chain.factors)
    structured = sum(f.nbytes for f in chain.factors)
    footer = f"factors: {format_bytes(dense)} dense, {format_bytes(structured)} structured"
    fmt = {c: format_bytes for c in ("bytes", "structured bytes")}
    return Table(title, COLUMNS, rows, fmt, footer=footer)


def order_cost_sweep(
    widths: Sequence[int] = (16, 32, 64, 128, 256),
    depths: Sequence[int] = (1, 2, 3),
    n_in: int = 784,
    n_out: int = 10,
    activation: str = "tanh",
    loss: str = "softmax-ce",
    seed: int = 0,
) -> Table:
    """Order costs for networks ``n_in → width × depth → n_out`` (the chain of the first layer).

    One row per (depth, width, order), the orders of :func:`order_rows`: keys
    ``depth``, ``width``, ``n_params`` (of the first layer), ``order``, ``flops``, ``bytes``, ``structured flops``, ``structured bytes``.

    >>> t = order_cost_sweep(widths=(4, 8), depths=(1,), n_in=3, n_out=2)
    >>> [(r["width"], r["order"], r["flops"]) for r in t.rows][:3]
    [(4, 'forward', 416), (4, 'reverse', 88), (4, 'optimal', 88)]
    """
    from .spec import build_network

    rng = np.random.default_rng(seed)
    rows = []
    for depth in depths:
        for width in widths:
            net = build_network([n_in] + [width] * depth + [n_out], activation, loss, seed=seed)
            chain = net.chain(rng.normal(size=n_in), np.eye(n_out)[rng.integers(n_out)])
            for r in order_rows(chain):
                rows.append({"depth": depth, "width": width, "n_params": chain.factors[-1].shape[1], **r})
    cols = ["depth", "width", "n_params", "order", "flops", "bytes", "structured flops", "structured bytes"]
    fmt = {c: format_bytes for c in ("bytes", "structured bytes")}
    return Table(f"Order costs, {n_in} → width × depth → {n_out}, {activation}, {loss}", cols, rows, fmt)
