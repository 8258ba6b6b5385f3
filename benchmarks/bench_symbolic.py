"""The symbolic gradient: cold times of both derivations (a fresh process each), the guards' models, the cached cost per call.

Three tables, measured in one run:

1. **Cold** ``symbolic_gradient`` for 2→3→1 (tanh, MSE), 4→8→3 and 64→32→10 (tanh,
   softmax-cross-entropy), the largest network ``jacobnet check`` admits and a deep one,
   per layer (``method="symbolic"``) and whole loss (only where its guard admits it), each
   configuration in a fresh process so that no cache — jacobnet's, SymPy's, ``lambdify``'s
   imports — carries over. ``import`` is loading SymPy and the symbolic modules (paid once
   per process, whatever the derivation); ``cold`` the first call after it: deriving,
   compiling and evaluating. Targets (issue 14): per layer, < 1 s for 4→8→3 and < 3 s for 64→32→10.
2. **The per-layer guard** (:func:`jacobnet.symbolic.guard.estimate_layerwise_size`):
   one layer's estimate (nodes of its forward and its nonzero Jacobian entries) against
   the time to derive and compile it, and the seconds per node. The limit is per layer,
   ``MAX_EXPRESSION_SIZE`` = 2.5 · 10⁵ nodes: a Dense layer costs ≈ 1 · 10⁻⁵ s per node
   (the worst kind: every term distinct), so a layer at the limit takes ≈ 2.5 s; layers
   of regular structure (Softmax, LayerNorm: few templates) cost less. A ``Dense(784, 128)``
   (7 · 10⁵ nodes, ≈ 7 s) is refused; every Dense layer of a network the CLI accepts
   (≤ 20 000 parameters: ≈ 7 nodes per parameter) is admitted.
3. **Whole loss vs per layer, in one process**: the whole-loss guard's model — deriving,
   ``lambdify`` (with ``cse``) and the first evaluation all take time proportional to the
   nodes of the derivative, 1.2–2.2 · 10⁻⁵ s per node (``SECONDS_PER_NODE`` = 1.6 · 10⁻⁵),
   so its limit, 2.5 · 10⁵ nodes, is ≈ 4 s; depth multiplies the nodes (every layer's
   derivative contains the whole expression below it), which is why the deepest networks
   it admits are narrow — and the per-layer derivation on the same networks. Columns:
   ``estimate`` (the guard's: the whole loss's and the seconds it predicts, or the
   largest layer's), ``total`` (a cold
   ``symbolic_gradient`` after clearing the caches), ``symbolic``/``jacobian`` (one call,
   cached, best of interleaved rounds), their ``ratio`` and the ``rel error``.

A ✗ is information, never a failure. Run: ``python benchmarks/bench_symbolic.py``
(``--quick``: fewer rounds, the reference networks only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Callable

import numpy as np

import jacobnet as jn
from jacobnet.core.table import Table
from jacobnet.net.spec import demo_sample

TARGETS = {"4,8,3": 1.0, "64,32,10": 3.0}  # cold per-layer seconds (issue 14)
LARGEST_CHECKED = ("128,128,10", "tanh", "softmax-ce")  # 17 802 parameters: the widest square hidden layer under the CLI's cap
DEEPEST = ("16," * 12 + "4", "tanh", "softmax-ce")  # 11 hidden layers of 16: compiled once, used 11 times
COLD_CASES = [("2,3,1", "tanh", "mse"), ("4,8,3", "tanh", "softmax-ce"), ("64,32,10", "tanh", "softmax-ce"), LARGEST_CHECKED, DEEPEST]
DEEPEST_WHOLE_LOSS = [  # the deepest of each kind the whole-loss guard admits (one more layer is refused)
    ("1,2,2,2,2,2,1", "sigmoid", "mse"),
    ("1,2,2,2,2,2,2,1", "tanh", "mse"),
    ("1,2,2,2,1", "relu", "mse"),
    ("2,3,3,3,3,1", "tanh", "mse"),
    ("3,4,4,2", "sigmoid", "softmax-ce"),
    ("3,4,4,2", "softplus", "softmax-ce"),
]
DERIVATIONS = ("per-layer", "whole-loss")
RATIO_TARGET = 10.0


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


# --- 1. cold, a fresh process per configuration ------------------------------------------------------
def cold_child(spec: str, act: str, loss: str, derivation: str) -> dict[str, object]:
    """Run in the fresh process: time the imports, then the first ``symbolic_gradient``."""
    net = jn.build_network(spec, act, loss, seed=0)
    x, y = demo_sample(net.input_size, net.sizes[-1], 0)
    t0 = time.perf_counter()
    import sympy  # noqa: F401 — loaded here, so that the call below is timed without it

    from jacobnet.symbolic import compiled, guard, layerwise  # noqa: F401

    imported = time.perf_counter() - t0
    check = guard.check_layerwise_size if derivation == "per-layer" else guard.check_size
    try:
        check(net)
    except guard.SymbolicSizeError as err:
        return {"refused": str(err).split(":")[1].split("(")[0].strip()}
    t0 = time.perf_counter()
    g = compiled.symbolic_gradient(net, x, y, derivation=derivation)
    cold = time.perf_counter() - t0
    return {"import": imported, "cold": cold, "rel": float(jn.check.rel_error(g, net.gradient(x, y)))}


def cold_row(spec: str, act: str, loss: str, derivation: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, "--cold", spec, act, loss, derivation],
                          capture_output=True, text=True, check=True, timeout=600)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    net = jn.build_network(spec, act, loss)
    target = TARGETS.get(spec) if derivation == "per-layer" else None
    row = {"network": f"{spec} {act} {loss}", "params": net.n_params, "derivation": derivation}
    if "refused" in got:
        return {**row, "import": None, "cold": None, "target": "—", "rel error": None, "note": f"refused: {got['refused']}"}
    ok = target is None or got["cold"] < target
    return {**row, "import": got["import"], "cold": got["cold"], "target": "—" if target is None else f"< {target:g} s {mark(ok)}",
            "rel error": got["rel"], "note": "", "_ok": ok}


def cold_table(cases: list[tuple[str, str, str]]) -> Table:
    rows = [cold_row(*case, derivation) for case in cases for derivation in DERIVATIONS]
    secs = lambda v: "—" if v is None else f"{v:.2f} s"  # noqa: E731
    formats = {"import": secs, "cold": secs, "rel error": lambda v: "—" if v is None else f"{v:.1e}"}
    footer = (f"cold targets met: {mark(all(r.get('_ok', True) for r in rows))}   largest network `jacobnet check` admits: "
              f"{LARGEST_CHECKED[0]} (≤ 20 000 parameters, every layer under the per-layer limit)")
    columns = ["network", "params", "derivation", "import", "cold", "target", "rel error", "note"]
    return Table("1. Cold symbolic gradient, a fresh process per row", columns, rows, formats, footer)


# --- 2. the per-layer guard's model ----------------------------------------------------------------------
def guard_table(full: bool) -> Table:
    import sympy.core.cache

    from jacobnet.symbolic import clear_cache, layerwise
    from jacobnet.symbolic.guard import MAX_EXPRESSION_SIZE, SECONDS_PER_NODE, estimate_layerwise_size

    layers = [(jn.Dense(64, 32), 64), (jn.Dense(128, 128), 128), (jn.Dense(199, 100), 199), (jn.Tanh(), 128),
              (jn.Softmax(), 30), (jn.LayerNorm(12), 12)]
    if full:
        layers.append((jn.Dense(784, 128), 784))
    rows = []
    for layer, n in layers:
        clear_cache()
        sympy.core.cache.clear_cache()
        estimate = estimate_layerwise_size(layer, n)
        t0 = time.perf_counter()
        d = layerwise.compiled_layer(layer, n, max_size=float("inf"))
        seconds = time.perf_counter() - t0
        rows.append({"layer": f"{layer!r} at {n}", "estimate": estimate, "admitted": mark(estimate <= MAX_EXPRESSION_SIZE),
                     "nonzero J_x, J_θ": f"{d.J_x.nonzeros}, {d.J_theta.nonzeros}", "derive + compile": seconds,
                     "µs per node": seconds / estimate * 1e6})
    footer = (f"limit {MAX_EXPRESSION_SIZE:.2g} nodes per layer; the message's seconds use SECONDS_PER_NODE = {SECONDS_PER_NODE:.2g}")
    formats = {"derive + compile": "{:.2f} s".format, "µs per node": "{:.1f}".format, "estimate": "{:.3g}".format}
    return Table("2. The per-layer guard: estimate vs what deriving one layer costs (caches cleared)", list(rows[0]), rows,
                 formats, footer)


# --- 3. in one process: both derivations, cached cost per call --------------------------------------------
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


def measure(spec: str, act: str, loss: str, derivation: str, batch: int, rounds: int) -> dict[str, object]:
    import sympy.core.cache

    from jacobnet import symbolic
    from jacobnet.symbolic.guard import SECONDS_PER_NODE, estimate_layerwise_size, estimate_size

    net = jn.build_network(spec, act, loss, seed=0)
    x, y = demo_sample(net.input_size, net.sizes[-1], 0)
    if batch > 1:
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(batch, x.size)), np.eye(y.size)[rng.integers(0, y.size, batch)]
    symbolic.clear_cache()
    sympy.core.cache.clear_cache()  # SymPy memoises derivatives: a cold start for every row
    run = lambda: symbolic.symbolic_gradient(net, x, y, derivation=derivation)  # noqa: E731
    t0 = time.perf_counter()
    g = run()
    total = time.perf_counter() - t0
    per_call = best_per_call({"symbolic": run, "jacobian": lambda: net.gradient(x, y)}, calls=50, rounds=rounds)
    ratio = per_call["symbolic"] / per_call["jacobian"]
    if derivation == "whole-loss":
        estimate = f"{estimate_size(net):.2g} ≈ {SECONDS_PER_NODE * estimate_size(net):.1f} s"
    else:
        sizes = symbolic.check_layerwise_size(net)
        estimate = f"≤ {max(estimate_layerwise_size(l, n) for l, n in zip(net.layers, sizes)):.2g} per layer"
    return {
        "network": f"{spec} {act} {loss}", "derivation": derivation, "batch": batch,
        "estimate": estimate, "total": total,
        "symbolic": per_call["symbolic"] * 1e6, "jacobian": per_call["jacobian"] * 1e6,
        "ratio": f"{ratio:.2f}× {mark(ratio <= RATIO_TARGET)}", "rel error": float(jn.check.rel_error(g, net.gradient(x, y))),
    }


def in_process_table(quick: bool, rounds: int) -> Table:
    cases = [(*c, d, b) for c in COLD_CASES[:2] for d in DERIVATIONS for b in (1, 32)]
    cases += [(*COLD_CASES[2], "per-layer", b) for b in (1, 32)]
    if not quick:
        cases += [(*c, d, 1) for c in DEEPEST_WHOLE_LOSS for d in DERIVATIONS]
    rows = [measure(*c, rounds=rounds) for c in cases]
    us = "{:.1f} µs".format
    formats = {"total": "{:.3f} s".format, "symbolic": us, "jacobian": us, "rel error": "{:.1e}".format}
    footer = (f"estimate: the guard's, in nodes (whole loss: and the seconds it predicts; per layer: the largest layer's); "
              f"ratio: cached symbolic / the Jacobian product, ✓ within {RATIO_TARGET:g}×")
    return Table("3. Both derivations in one process: cold total and cached cost per call", list(rows[0]), rows, formats, footer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing rounds, the reference networks only")
    parser.add_argument("--cold", nargs=4, metavar=("SPEC", "ACT", "LOSS", "DERIVATION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        print(json.dumps(cold_child(*args.cold)))
        return
    print(cold_table(COLD_CASES[:4] if args.quick else COLD_CASES), end="\n\n")
    print(guard_table(full=not args.quick), end="\n\n")
    print(in_process_table(args.quick, rounds=3 if args.quick else 7))


if __name__ == "__main__":
    main()
