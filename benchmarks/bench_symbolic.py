"""The symbolic gradient: what deriving costs, and what evaluating a compiled one costs.

One table, measured side by side in one run, for the networks of issue 3:
2→3→1 (tanh, MSE) and 4→8→3 (tanh, softmax-cross-entropy).

Columns
    estimate      the size guard's estimate (expression nodes, :mod:`jacobnet.symbolic_size`)
    derive        SymPy differentiates the whole loss (cold caches, SymPy's own included)
    lambdify      compiling the derivative (``lambdify`` with ``cse``): ``math`` for one
                  sample, ``numpy`` (vectorised over the batch) for a batch
    total         derive + lambdify + the first evaluation: ``symbolic_gradient`` on a cold cache
    target        issue 3: total < 1 s (2→3→1), < 10 s (4→8→3)
    symbolic      one call of the cached compiled gradient (``Network.gradient(method="symbolic")``)
    jacobian      one call of the numeric Jacobian product (``Network.gradient()``, structured)
    ratio         symbolic / jacobian; target ≤ 10
    rel error     ``rel_error(symbolic, jacobian)``

Per-call times are the best of several interleaved rounds (wall clock).
Run: ``python benchmarks/bench_symbolic.py`` (``--quick`` for fewer rounds).
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
from jacobnet.spec import demo_sample
from jacobnet.symbolic_size import estimate_size
from jacobnet.table import Table

CASES = [("2,3,1", "tanh", "mse", 1.0), ("4,8,3", "tanh", "softmax-ce", 10.0)]


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
    return {
        "network": f"{spec} {act} {loss}", "batch": batch, "estimate": estimate_size(net),
        "derive": compiled.derive_seconds, "lambdify": compiled.compile_seconds, "total": total,
        "target": f"< {target:g} s {'✓' if total < target else '✗'}",
        "symbolic": per_call["symbolic"] * 1e6, "jacobian": per_call["jacobian"] * 1e6,
        "ratio": per_call["symbolic"] / per_call["jacobian"],
        "rel error": rel_error(g, net.gradient(x, y)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing rounds")
    rounds = 3 if parser.parse_args().quick else 7
    rows = [measure(*case, batch=b, rounds=rounds) for case in CASES for b in (1, 32)]
    secs, us = "{:.3f} s".format, "{:.1f} µs".format
    formats = {"derive": secs, "lambdify": secs, "total": secs, "symbolic": us, "jacobian": us,
               "ratio": "{:.2f}×".format, "rel error": "{:.1e}".format}
    footer = "ratio target ≤ 10× (cached symbolic vs numeric Jacobian product, per call, same run)"
    print(Table("Symbolic gradient: derive, compile, evaluate (issue 3)", list(rows[0]), rows, formats, footer))


if __name__ == "__main__":
    main()
