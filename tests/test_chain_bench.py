"""The benchmark's references are right (no timing asserts): its hand-written NumPy backprop
is the gradient jacobnet computes, and its report reads a table without torch too."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import rel_error

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_chain.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_chain", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("batch", [None, 1, 5])
def test_numpy_backprop_is_the_gradient(bench, batch):
    net = jn.build_network("7,4,3", "tanh", "softmax-ce", seed=2)
    rng = np.random.default_rng(0)
    lead = () if batch is None else (batch,)
    X, Y = rng.normal(size=lead + (7,)), np.eye(3)[rng.integers(0, 3, lead or None)]
    W = (net.layers[0].W, net.layers[0].b, net.layers[2].W, net.layers[2].b)
    assert rel_error(bench.numpy_backprop(*W, X, Y), net.gradient(X, Y)) <= 1e-12


def test_materialised_bytes_count_every_dense_factor(bench):
    net = jn.build_network("7,4,3", "tanh", "softmax-ce", seed=2)
    X, Y = np.ones((2, 7)), np.eye(3)[[0, 2]]
    # J_θ(Dense 2) 3×15, J_x(Dense 2) 3×4, J_x(Tanh 1) 4×4, J_θ(Dense 1) 4×32; products 1×(15, 4, 4, 32)
    factors, products = 3 * 15 + 3 * 4 + 4 * 4 + 4 * 32, 15 + 4 + 4 + 32
    assert bench.materialised_bytes(net, X, Y) == 2 * 8 * (factors + products)


def test_report_without_torch(bench):
    row = {"network": "64→32→10", "B": 32, "copy GB/s": 10.0, "structured": 60.0, "materialised": 900.0, "NumPy": 40.0,
           "torch": None, "struct/NumPy": 1.5, "struct/torch": None, "mat. bytes": 2**20, "bound": 100.0,
           "mat/bound": 9.0, "fwd/rev": 41.5, "peak struct": 1000, "peak mat": 2**20}
    text = bench.report([row])
    assert "structured ≤ 2× NumPy: 1.50× ✓" in text and "n/a (torch not installed)" in text
    assert "materialised ≤ 3× bound: 9.00× ✗" in text and "1 MiB" in text
