"""jacobnet's backward pass, structured and materialised, against plain NumPy and PyTorch.

One table, every number measured side by side in one run (interleaved rounds,
best per-call time of each), for two networks: 64→32→10 and
784→128→10, tanh, softmax-cross-entropy, batch 1 and 32, float64.

Times are CPU times of this process (``time.process_time``: user + system,
page faults included): everything runs on one thread, so on an idle machine
they equal wall-clock times, and on a busy one they do not count the time
other processes hold the CPU.

Columns
    structured, materialised   ``Network.gradient(X, Y, mode=...)`` (forward pass included)
    NumPy                      a hand-written backprop of the same network (below)
    torch                      PyTorch CPU autograd of the same network, float64, if importable
    mat. bytes                 bytes materialised mode writes: every dense Jacobian and product
    bound                      those bytes at the bandwidth of a 256 MiB ``np.copyto``, timed in the same rounds
    fwd/rev                    forward-order / reverse-order FLOPs of the first layer's chain
    peak                       tracemalloc peak of one call of each jacobnet mode

Every thread pool is pinned to one thread (NumPy's BLAS and torch alike), the
fair comparison on a small shared machine. Run: ``python benchmarks/bench_chain.py``
(``--quick`` for fewer rounds).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread, set before NumPy loads (not when imported by a test)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

import jacobnet as jn  # noqa: E402
from jacobnet.chain.backward import backward  # noqa: E402
from jacobnet.check import rel_error  # noqa: E402
from jacobnet.core.memory import format_bytes  # noqa: E402
from jacobnet.core.table import Table  # noqa: E402

CASES = [("64,32,10", 1), ("64,32,10", 32), ("784,128,10", 1), ("784,128,10", 32)]
COPY_BYTES = 256 * 2**20
Array = np.ndarray


def numpy_backprop(W1: Array, b1: Array, W2: Array, b2: Array, X: Array, Y: Array) -> Array:
    """The gradient of the mean softmax-cross-entropy of ``W2 tanh(W1 x + b1) + b2``, by hand."""
    X, Y = np.atleast_2d(X), np.atleast_2d(Y)
    B = X.shape[0]
    a1 = np.tanh(X @ W1.T + b1)
    z2 = a1 @ W2.T + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    g2 = (e / e.sum(axis=1, keepdims=True) - Y) / B  # ∂L/∂z2
    g1 = (g2 @ W2) * (1.0 - a1 * a1)  # ∂L/∂z1
    return np.concatenate([(g1.T @ X).ravel(), g1.sum(axis=0), (g2.T @ a1).ravel(), g2.sum(axis=0)])


def torch_backprop(net: jn.Network) -> Callable[[Array, Array], Array] | None:
    """PyTorch CPU autograd of the same network and loss, or ``None`` without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    arrays = (net.layers[0].W, net.layers[0].b, net.layers[2].W, net.layers[2].b)
    params = [torch.tensor(p, requires_grad=True) for p in arrays]
    W1, b1, W2, b2 = params

    def grad(X: Array, Y: Array) -> Array:
        Xt, Yt = torch.from_numpy(np.atleast_2d(X)), torch.from_numpy(np.atleast_2d(Y))
        z2 = torch.tanh(Xt @ W1.T + b1) @ W2.T + b2
        loss = -(Yt * torch.log_softmax(z2, dim=1)).sum(dim=1).mean()
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]).numpy()

    return grad


def best_times(fns: dict[str, Callable[[], object]], rounds: int, target_s: float = 0.05) -> dict[str, float]:
    """Best per-call CPU seconds of each function, in interleaved rounds (each calibrated to ~``target_s``)."""
    clock, reps = time.process_time, {}
    for name, fn in fns.items():
        fn()  # warm up: first touch of fresh memory, caches, imports
        t0 = clock()
        fn()
        reps[name] = max(1, int(target_s / max(clock() - t0, 1e-6)))
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = clock()
            for _ in range(reps[name]):
                fn()
            best[name] = min(best[name], (clock() - t0) / reps[name])
    return best


def copier(nbytes: int = COPY_BYTES) -> Callable[[], None]:
    """``np.copyto`` of ``nbytes`` between two arrays already in memory (the bandwidth reference)."""
    src = np.ones(nbytes // 8)
    dst = np.zeros_like(src)
    dst[:] = 2.0
    return lambda: np.copyto(dst, src)


def peak_bytes(fn: Callable[[], object]) -> int:
    """tracemalloc's peak during one call."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def materialised_bytes(net: jn.Network, X: Array, Y: Array) -> int:
    """Bytes materialised mode writes: every dense factor but the (already dense) loss row, and every product."""
    trace = backward(net, X, Y, mode="structured", to_input=False)
    B = X.shape[0] if X.ndim == 2 else 1
    factors = sum(f.nbytes_dense for f in trace.factors[1:])
    return factors + sum(B * p.shape[0] * p.shape[1] * 8 for p in trace.products[1:])


def measure(sizes: str, B: int, rounds: int, copy: Callable[[], None]) -> dict:
    """One row of the table."""
    net = jn.build_network(sizes, "tanh", "softmax-ce", seed=0)
    rng = np.random.default_rng(B)
    n_in, n_out = net.input_size, net.sizes[-1]
    X = rng.normal(size=(B, n_in)) if B > 1 else rng.normal(size=n_in)
    Y = np.eye(n_out)[rng.integers(0, n_out, B)] if B > 1 else np.eye(n_out)[rng.integers(n_out)]
    W = (net.layers[0].W, net.layers[0].b, net.layers[2].W, net.layers[2].b)
    fns = {
        "structured": lambda: net.gradient(X, Y, mode="structured"),
        "materialised": lambda: net.gradient(X, Y, mode="materialised"),
        "NumPy": lambda: numpy_backprop(*W, X, Y),
    }
    tgrad = torch_backprop(net)
    if tgrad is not None:
        fns["torch"] = lambda: tgrad(X, Y)
    ref = fns["structured"]()
    for name, fn in fns.items():
        assert rel_error(fn(), ref) <= 1e-12, f"{name} disagrees with jacobnet on {sizes}, batch {B}"
    t = best_times({**fns, "copy": copy}, rounds if "784" not in sizes or B == 1 else max(3, rounds // 3))
    bandwidth = COPY_BYTES / t["copy"]
    written = materialised_bytes(net, X, Y)
    chain = net.chain(X, Y)
    row = {"network": sizes.replace(",", "→"), "B": B, "copy GB/s": bandwidth / 1e9}
    row.update({name: t[name] * 1e6 for name in ("structured", "materialised", "NumPy")})
    row["torch"] = t["torch"] * 1e6 if "torch" in t else None
    row["struct/NumPy"] = t["structured"] / t["NumPy"]
    row["struct/torch"] = t["structured"] / t["torch"] if "torch" in t else None
    row["mat. bytes"] = written
    row["bound"] = written / bandwidth * 1e6
    row["mat/bound"] = t["materialised"] / (written / bandwidth)
    row["fwd/rev"] = chain.flops("forward") / chain.flops("reverse")
    row["peak struct"] = peak_bytes(fns["structured"])
    row["peak mat"] = peak_bytes(fns["materialised"])
    return row


def mark(value: float, ok: bool) -> str:
    """``1.23× ✓`` or ``1.23× ✗``."""
    return f"{value:.2f}× {'✓' if ok else '✗'}"


def report(rows: list[dict]) -> str:
    """The table and a verdict on each target (structured ≤ 2× NumPy, faster than torch, materialised ≤ 3× the copy bound)."""
    us = lambda v: "—" if v is None else f"{v:,.0f} µs" if v >= 100 else f"{v:.1f} µs"  # noqa: E731
    ratio = lambda v: "—" if v is None else f"{v:.2f}×"  # noqa: E731
    fmt = {c: us for c in ("structured", "materialised", "NumPy", "torch", "bound")}
    fmt.update({c: ratio for c in ("struct/NumPy", "struct/torch", "mat/bound")})
    fmt.update({c: format_bytes for c in ("mat. bytes", "peak struct", "peak mat")})
    fmt["fwd/rev"] = lambda v: f"{v:,.1f}"
    fmt["copy GB/s"] = lambda v: f"{v:.1f}"
    title = "jacobnet gradient vs NumPy backprop and torch autograd: float64, 1 thread, best CPU time per call"
    lines = [str(Table(title, list(rows[0]), rows, fmt)), ""]
    for r in (r for r in rows if r["B"] == 32):
        torch = "n/a (torch not installed)" if r["torch"] is None else mark(r["struct/torch"], r["struct/torch"] < 1)
        checks = [
            f"structured ≤ 2× NumPy: {mark(r['struct/NumPy'], r['struct/NumPy'] <= 2)}",
            f"faster than torch: {torch}",
            f"materialised ≤ 3× bound: {mark(r['mat/bound'], r['mat/bound'] <= 3)}",
            f"fwd/rev FLOPs {r['fwd/rev']:,.0f}",
        ]
        lines.append(f"{r['network']}, B=32: " + "; ".join(checks))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 15
    copy = copier()
    rows = [measure(sizes, B, rounds, copy) for sizes, B in CASES]
    print(report(rows))


if __name__ == "__main__":
    main()
