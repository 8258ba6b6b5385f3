"""Order costs across network sizes: the data behind :func:`jacobnet.viz.order_cost_figure`.

:func:`order_cost_sweep` builds networks ``n_in → width × depth → n_out`` from a
spec and costs the accumulation orders of each one's longest chain
(:func:`jacobnet.chain.product.order_rows`), from shapes alone.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from jacobnet.chain.product import order_rows
from jacobnet.core.memory import format_bytes
from jacobnet.core.table import Table
from jacobnet.net.spec import build_network


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
