"""The symbolic gradient: what deriving costs, what evaluating a compiled one costs, and the size guard's model.

One table, measured side by side in one run: the two reference networks —
2→3→1 (tanh, MSE) and 4→8→3 (tanh, softmax-cross-entropy) — and the deepest
networks the size guard admits (:mod:`jacobnet.symbolic.guard`), narrow and deep,
smooth and kinked, which must still stay within a few seconds.

What the guard measures, and why
    Deriving, ``lambdify`` (with ``cse``) and the first evaluation all take time
    proportional to the number of expression-tree nodes of the derivative (a
    shared subexpression counted every time it appears). Measured cold on 2 shared
    cores, from 2→3→1 to 3,3,3,3,3,3,3 and 1,2,2,2,2,2,2,2,1: 1.2–2.2 · 10⁻⁵ s per
    node (``SECONDS_PER_NODE`` = 1.6 · 10⁻⁵). The estimate — each layer's and loss's
    ``symbolic_*`` hooks, from the sizes alone — predicts SymPy's node count to within
    0.75–1.25× on smooth networks and over-estimates stacked kinks (their folded
    ``Piecewise`` conditions weigh ``FOLD_WEIGHT`` = 2: nested conditionals compile
    about twice as slow per node). A layer that keeps the base class's defaults is
    over-estimated (the defaults assume every output holds every input).

    Depth enters through the size of an entry: every layer's derivative contains the
    whole expression below it, and a rule whose derivative contains its variable
    twice (σ' = e^{−x}/(1 + e^{−x})², softplus') or a stacked kink multiplies it. So
    1,2,2,2,2,2,2,2,1 with sigmoids (≈ 1 · 10⁶ nodes, 14 s cold) and 2,3,3,3,3,1 with
    sigmoids (3.7 · 10⁵, 5–7 s) are refused, while a 4→8→3 softmax network
    (1.6 · 10⁵, 2–3.5 s) of more parameters is admitted. The limit,
    ``MAX_EXPRESSION_SIZE`` = 2.5 · 10⁵ nodes, is ≈ 4 s: what passes stays within a few
    seconds, which the deepest admitted networks below confirm.

Columns
    estimate      the size guard's estimate (expression nodes) and the seconds it predicts
                  (``SECONDS_PER_NODE``); the limit is ``MAX_EXPRESSION_SIZE``
    derive        SymPy differentiates the whole loss (cold caches, SymPy's own included)
    lambdify      compiling the derivative (``lambdify`` with ``cse``): ``math`` for one
                  sample, ``numpy`` (vectorised over the batch) for a batch
    total         derive + lambdify + the first evaluation: ``symbolic_gradient`` on a cold cache
    target        total < 1 s (2→3→1), < 10 s (4→8→3); the guard's promise, < 5 s, for the others
    symbolic      one call of the cached compiled gradient (``Network.gradient(method="symbolic")``)
    jacobian      one call of the numeric Jacobian product (``Network.gradient()``, structured)
    ratio         symbolic / jacobian, with ✓ when within 10×
    rel error     ``rel_error(symbolic, jacobian)``

Per-call times are the best of several interleaved rounds (wall clock).
Run: ``python benchmarks/bench_symbolic.py`` (``--quick``: fewer rounds, the reference networks only).
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import sympy.core.cache

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import rel_error
from jacobnet.core.table import Table
from jacobnet.net.spec import demo_sample
from jacobnet.symbolic.guard import MAX_EXPRESSION_SIZE, SECONDS_PER_NODE, estimate_size

TARGET_CASES = [("2,3,1", "tanh", "mse", 1.0), ("4,8,3", "tanh", "softmax-ce", 10.0)]
FEW_SECONDS = 5.0
DEEPEST_ADMITTED = [  # the deepest of each kind under MAX_EXPRESSION_SIZE (one more layer is refused)
    ("1,2,2,2,2,2,1", "sigmoid", "mse", FEW_SECONDS),
    ("1,2,2,2,2,2,2,1", "tanh", "mse", FEW_SECONDS),
    ("1,2,2,2,1", "relu", "mse", FEW_SECONDS),
    ("2,3,3,3,3,1", "tanh", "mse", FEW_SECONDS),
    ("3,4,4,2", "sigmoid", "softmax-ce", FEW_SECONDS),
    ("3,4,4,2", "softplus", "softmax-ce", FEW_SECONDS),
]
RATIO_TARGET = 10.0


def best_per_call(fns: dict[str, Callable[[], object]], calls: int, rounds: int) -> dict[str, float]:
    """Best seconds per call of each function, rounds interleaved so both see the same machine."""
    best = {k: np.inf for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                f()
            best[k] = min(best[k], (time.perf_counter() - t0) / calls)
    return best


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def measure(spec: str, act: str, loss: str, target: float, batch: int, rounds: int) -> dict[str, object]:
    net = jn.build_network(spec, act, loss, seed=0)
    x, y = demo_sample(net.input_size, net.sizes[-1], 0)
    if batch > 1:
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(batch, x.size)), np.eye(y.size)[rng.integers(0, y.size, batch)]
    symbolic.clear_cache()
    sympy.core.cache.clear_cache()  # SymPy memoises derivatives: a cold start for every row
    t0 = time.perf_counter()
    g = net.gradient(x, y, method="symbolic")
    total = time.perf_counter() - t0
    compiled = symbolic.compiled_gradient(net)
    per_call = best_per_call(
        {"symbolic": lambda: net.gradient(x, y, method="symbolic"), "jacobian": lambda: net.gradient(x, y)},
        calls=200, rounds=rounds,
    )
    ratio = per_call["symbolic"] / per_call["jacobian"]
    estimate = estimate_size(net)
    return {
        "network": f"{spec} {act} {loss}", "batch": batch,
        "estimate": f"{estimate:.2g} ≈ {SECONDS_PER_NODE * estimate:.1f} s",
        "derive": compiled.derive_seconds, "lambdify": compiled.compile_seconds, "total": total,
        "target": f"< {target:g} s {mark(total < target)}",
        "symbolic": per_call["symbolic"] * 1e6, "jacobian": per_call["jacobian"] * 1e6,
        "ratio": f"{ratio:.2f}× {mark(ratio <= RATIO_TARGET)}", "ratio_ok": ratio <= RATIO_TARGET,
        "total_ok": total < target, "rel error": rel_error(g, net.gradient(x, y)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing rounds, the two networks with time targets only")
    quick = parser.parse_args().quick
    rounds = 3 if quick else 7
    rows = [measure(*case, batch=b, rounds=rounds) for case in TARGET_CASES for b in (1, 32)]
    if not quick:
        rows += [measure(*case, batch=1, rounds=rounds) for case in DEEPEST_ADMITTED]
    secs, us = "{:.3f} s".format, "{:.1f} µs".format
    formats = {"derive": secs, "lambdify": secs, "total": secs, "symbolic": us, "jacobian": us, "rel error": "{:.1e}".format}
    columns = [c for c in rows[0] if not c.endswith("_ok")]
    ratio_ok, total_ok = all(r["ratio_ok"] for r in rows), all(r["total_ok"] for r in rows)
    footer = (
        f"cold total within target: {mark(total_ok)}   cached symbolic ≤ {RATIO_TARGET:g}× the numeric Jacobian product "
        f"(per call, same run): {mark(ratio_ok)}   size limit {MAX_EXPRESSION_SIZE:.2g} nodes"
    )
    print(Table("Symbolic gradient: derive, compile, evaluate", columns, rows, formats, footer))


if __name__ == "__main__":
    main()
