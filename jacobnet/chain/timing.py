"""Wall-clock time of a chain product in each accumulation order, beside its counted cost.

FLOPs and bytes (:meth:`Chain.flops`, :meth:`Chain.bytes`) are counted from
shapes; :func:`time_orders` measures what they predict: the best of
``repeat`` runs of :meth:`Chain.evaluate` per order (best, not mean, because
other processes only ever add time). Timings vary between machines and runs;
the counts do not — compare ratios, not absolute numbers.

>>> import numpy as np
>>> from jacobnet import build_network
>>> chain = build_network("20,8,2", "tanh", "softmax-ce").chain(np.ones(20), np.array([0.0, 1.0]))
>>> t = time_orders(chain, ["forward", "reverse"], repeat=2)
>>> t.column("order"), t.column("flops")
(['forward', 'reverse'], [13776, 1424])
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from jacobnet.core.memory import format_bytes
from jacobnet.core.table import Table
from jacobnet.core.validate import positive_int

if TYPE_CHECKING:
    from jacobnet.chain.product import Chain, Order


def best_time(chain: Chain, order: Order = "reverse", *, mode: str = "materialised", repeat: int = 5) -> float:
    """Seconds of the fastest of ``repeat`` evaluations of ``chain`` in ``order``."""
    positive_int(repeat, "repeat")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        chain.evaluate(order, mode)
        best = min(best, time.perf_counter() - start)
    return best


def _microseconds(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def time_orders(
    chain: Chain, orders: Sequence[Order] = ("forward", "reverse", "optimal"), *, mode: str = "materialised", repeat: int = 5
) -> Table:
    """One row per order: ``flops``, ``bytes`` (counted) and ``seconds`` (measured, best of ``repeat``).

    ``relative`` is each order's time over the fastest one's.
    """
    rows = []
    for order in orders:
        rows.append({
            "order": order if isinstance(order, str) else chain.describe(order),
            "flops": chain.flops(order, mode),
            "bytes": chain.bytes(order, mode),
            "seconds": best_time(chain, order, mode=mode, repeat=repeat),
        })
    fastest = min(r["seconds"] for r in rows)
    for r in rows:
        r["relative"] = r["seconds"] / fastest if fastest > 0 else float("nan")
    title = f"{chain.target}: time per order ({mode}, best of {repeat})"
    fmt = {"bytes": format_bytes, "seconds": _microseconds, "relative": lambda v: f"{v:.1f}×"}
    return Table(title, ["order", "flops", "bytes", "seconds", "relative"], rows, fmt)
