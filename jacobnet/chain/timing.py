"""Wall-clock time of a chain product in each accumulation order, beside its counted cost.

FLOPs and bytes (:meth:`Chain.flops`, :meth:`Chain.bytes`) are counted from
shapes; :func:`time_orders` measures what they predict: the best of
``repeat`` runs of :meth:`Chain.evaluate` per order (best, not mean, because
other processes only ever add time). Timings vary between machines and runs;
the counts do not — compare ratios, not absolute numbers.

Before anything runs, every order is checked against the memory budget
(:meth:`Chain.steps` does it, from shapes) and the whole table against the cost
limit (:mod:`jacobnet.core.cost`: ``repeat`` × the FLOPs of every order), so a
table that could not be made fails at once, not after timing the first orders;
between orders nothing of the previous one is kept.

>>> import numpy as np
>>> from jacobnet import build_network
>>> chain = build_network("20,8,2", "tanh", "softmax-ce").chain(np.ones(20), np.array([0.0, 1.0]))
>>> t = time_orders(chain, ["forward", "reverse"], repeat=2)
>>> t.column("order"), t.column("flops")
(['forward', 'reverse'], [13776, 1424])
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Sequence

from jacobnet.core.cost import check_cost, cut_text
from jacobnet.core.memory import format_bytes
from jacobnet.core.table import Table
from jacobnet.core.validate import positive_int

if TYPE_CHECKING:
    from jacobnet.chain.product import Chain, Order


EVALUATE_OPS = 20_000
"""The fixed cost of one ``Chain.evaluate`` (planning, the budget check, the calls), in operations: ~20 µs."""


def best_time(chain: Chain, order: Order = "reverse", *, mode: str = "materialised", repeat: int = 5) -> float:
    """Seconds of the fastest of ``repeat`` evaluations of ``chain`` in ``order`` (guarded as :func:`time_orders`)."""
    positive_int(cut_text(repeat), "repeat")
    _check(chain, [order], mode, repeat)
    return _best(chain, order, mode, repeat)


def _best(chain: Chain, order: Order, mode: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        chain.evaluate(order, mode)  # (the product is dropped at once: one evaluation's memory at a time)
        best = min(best, time.perf_counter() - start)
    return best


def _check(chain: Chain, orders: Sequence[Order], mode: str, repeat: int) -> list[int]:
    """The FLOPs of every order, after checking each against the memory budget and them all against the cost limit."""
    flops = []
    for order in orders:
        chain.steps(order, mode)  # checks this order's memory now; computes nothing until iterated
        flops.append(chain.flops(order, mode))
    work = repeat * (sum(flops) + EVALUATE_OPS * len(flops))
    check_cost(work, f"timing {len(flops)} orders of {chain.target} ({mode}, best of {repeat})",
               "time fewer orders, a smaller repeat, or mode='structured'")
    return flops


def _microseconds(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs"


def time_orders(
    chain: Chain, orders: Sequence[Order] = ("forward", "reverse", "optimal"), *, mode: str = "materialised", repeat: int = 5
) -> Table:
    """One row per order: ``flops``, ``bytes`` (counted) and ``seconds`` (measured, best of ``repeat``).

    ``relative`` is each order's time over the fastest one's.

    Raises:
        JacobianMemoryError: an order would materialise more than the memory budget.
        CostError: ``repeat`` evaluations of every order would take more than the cost limit.
    """
    positive_int(cut_text(repeat), "repeat")
    orders = [orders] if isinstance(orders, str) else list(orders)  # (one order by name is one row)
    if not orders:
        raise ValueError("time_orders: orders is empty; give one or more, e.g. ['forward', 'reverse']")
    flops = _check(chain, orders, mode, repeat)
    rows = []
    for order, f in zip(orders, flops):
        seconds = _best(chain, order, mode, repeat)
        gc.collect()  # (between orders: nothing of this one is left to slow the next one down)
        rows.append({
            "order": order if isinstance(order, str) else chain.describe(order),
            "flops": f,
            "bytes": chain.bytes(order, mode),
            "seconds": seconds,
        })
    fastest = min(r["seconds"] for r in rows)
    for r in rows:
        r["relative"] = r["seconds"] / fastest if fastest > 0 else float("nan")
    title = f"{chain.target}: time per order ({mode}, best of {repeat})"
    fmt = {"bytes": format_bytes, "seconds": _microseconds, "relative": lambda v: f"{v:.1f}×"}
    return Table(title, ["order", "flops", "bytes", "seconds", "relative"], rows, fmt)
