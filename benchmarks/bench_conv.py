"""A convolution's Jacobians multiplied through their structure, against the dense matrices.

Two layers, a batch of B = 8, float64, one row of G per sample (a gradient):

    Conv1d   8 → 16 channels, K = 5, L = 256            J_x (4 032 × 2 048), J_θ (4 032 × 656) per sample
    Conv2d   3 → 8 channels, 3×3 kernel, 32×32 input    J_x (7 200 × 3 072), J_θ (7 200 × 224) per sample

Rows
    J_x vjp       ``G @ J_x`` for ``G`` of shape (B, 1, m): structured = the transposed convolution
                  (one GEMM ``Wᵀ G`` and a col2im over the kernel offsets); dense = one GEMM
                  ``G (B, m) @ J_x (m, n)`` (J_x is shared by the batch)
    J_θ vjp_sum   ``Σ_b G_b @ J_θ,b``, the weight gradient: structured = one im2col GEMM ``Gᵀ P``;
                  dense = the product with the stacked dense ``(B, m, n_params)``

Columns
    dense J          the dense matrix and its bytes (all B samples for J_θ)
    structured       the structured product (median CPU time per call)
    dense product    the dense product, with J already materialised (not counted)
    materialise      ``op.dense()`` itself
    dense/struct     dense product time over structured time
    FLOPs ratio      multiply-adds of the dense product over the structured one
    torch            PyTorch's own backward for the same product (``torch.nn.grad.conv*d_input`` /
                     ``conv*d_weight`` and a sum for the bias), if torch is importable

Times are medians, over ``--rounds`` rounds, of CPU time per call (``time.process_time``), each
round calibrated to ~20 ms of calls; every thread pool is pinned to one thread. Run:
``python benchmarks/bench_conv.py`` (``--quick`` for fewer rounds).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread, set before NumPy loads (not when imported by a test)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

from jacobnet.check import rel_error  # noqa: E402
from jacobnet.core.conv import Conv1d, Conv2d  # noqa: E402
from jacobnet.core.memory import format_bytes  # noqa: E402
from jacobnet.core.table import Table  # noqa: E402

B = 8
Array = np.ndarray


def layers() -> list[Conv1d | Conv2d]:
    """The two layers of the table."""
    return [Conv1d(8, 16, 5, 256, seed=0), Conv2d(3, 8, 3, 32, 32, seed=0)]


def median_time(fn: Callable[[], object], rounds: int, target_s: float = 0.02) -> float:
    """Median per-call CPU seconds of ``fn`` over ``rounds`` rounds of ~``target_s`` each (after a warm-up)."""
    clock = time.process_time
    fn()
    t0 = clock()
    fn()
    reps = max(1, int(target_s / max(clock() - t0, 1e-6)))
    times = []
    for _ in range(rounds):
        t0 = clock()
        for _ in range(reps):
            fn()
        times.append((clock() - t0) / reps)
    return statistics.median(times)


def torch_products(layer: Conv1d | Conv2d, X: Array, G: Array) -> dict[str, Callable[[], Array]]:
    """PyTorch's backward of the same convolution: the input gradient and the weight (+ bias) gradient, or none."""
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(1)
    grad_input = torch.nn.grad.conv1d_input if isinstance(layer, Conv1d) else torch.nn.grad.conv2d_input
    grad_weight = torch.nn.grad.conv1d_weight if isinstance(layer, Conv1d) else torch.nn.grad.conv2d_weight
    W, Xt = torch.from_numpy(layer.W), torch.from_numpy(X.reshape((B, *layer.input_shape)))
    Gt = torch.from_numpy(np.ascontiguousarray(G[:, 0]).reshape((B, *layer.output_shape)))
    kw = {"stride": layer.stride, "padding": layer.padding}

    def weights() -> Array:
        dW = grad_weight(Xt, W.shape, Gt, **kw)
        return torch.cat([dW.reshape(-1), Gt.sum(dim=tuple(d for d in range(Gt.ndim) if d != 1))]).numpy()[None]

    return {
        "J_x vjp": lambda: grad_input(Xt.shape, W, Gt, **kw).reshape(B, 1, -1).numpy(),
        "J_θ vjp_sum": weights,
    }


def measure(layer: Conv1d | Conv2d, rounds: int) -> list[dict]:
    """The two rows of one layer."""
    rng = np.random.default_rng(0)
    X, G = rng.normal(size=(B, layer.n_in)), rng.normal(size=(B, 1, layer.n_out))
    J_x, J_theta = layer.jacobian_op(X, "input"), layer.jacobian_op(X, "params")
    D_x = J_x.batch_slice(0, 1).dense()[0]  # shared by the batch: one (m, n) matrix
    D_theta = J_theta.dense()  # (B, m, n_params)
    cases = {
        "J_x vjp": (J_x, lambda: J_x.vjp(G), lambda: (G[:, 0] @ D_x)[:, None, :], lambda: J_x.batch_slice(0, 1).dense(), D_x.nbytes,
                    B * J_x.vjp_flops(1), B * D_x.size),
        "J_θ vjp_sum": (J_theta, lambda: J_theta.vjp_sum(G), lambda: np.einsum("bkm,bmn->kn", G, D_theta, optimize=True),
                        J_theta.dense, D_theta.nbytes, B * J_theta.vjp_flops(1), D_theta.size),
    }
    framework = torch_products(layer, X, G)
    rows = []
    for what, (op, structured, dense, materialise, nbytes, flops, dense_flops) in cases.items():
        reference = dense()
        assert rel_error(structured(), reference) <= 1e-12, f"{what} of {layer!r}: structured ≠ dense"
        if what in framework:
            assert rel_error(framework[what](), reference) <= 1e-12, f"{what} of {layer!r}: torch ≠ dense"
        t_struct, t_dense = median_time(structured, rounds), median_time(dense, rounds)
        shape = ("" if what.startswith("J_x") else f"{B} × ") + "×".join(map(str, op.shape))
        rows.append({
            "layer": layer.name, "product": what, "dense J": f"{shape}, {format_bytes(nbytes)}",
            "structured": t_struct * 1e6, "dense product": t_dense * 1e6, "materialise": median_time(materialise, max(3, rounds // 3)) * 1e6,
            "dense/struct": t_dense / t_struct, "FLOPs ratio": dense_flops / flops,
            "torch": median_time(framework[what], rounds) * 1e6 if what in framework else None,
        })
    return rows


def report(rows: list[dict]) -> str:
    """The table."""
    us = lambda v: "—" if v is None else f"{v:,.0f} µs" if v >= 100 else f"{v:.1f} µs"  # noqa: E731
    fmt = {c: us for c in ("structured", "dense product", "materialise", "torch")}
    fmt.update({"dense/struct": lambda v: f"{v:,.1f}×", "FLOPs ratio": lambda v: f"{v:,.0f}×"})
    title = f"convolution Jacobians, batch {B}, one row of G per sample: structured vs dense (float64, 1 thread, median CPU time)"
    return str(Table(title, list(rows[0]), rows, fmt))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per measurement (default 15)")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    print(report([row for layer in layers() for row in measure(layer, rounds)]))


if __name__ == "__main__":
    main()
