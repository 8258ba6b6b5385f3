"""Structured operators: multiplying through the structure equals multiplying by the dense
matrix (vjp, jvp, batch mean), on non-square shapes, single samples and batches, shared
and per-sample operands; memory and FLOP counts equal hand counts; the kernel table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from chain_strategies import KINDS, operator
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import FAST

from jacobnet.chain.batch import BlockDiagonal, StackedRows
from jacobnet.chain.factor import Factor
from jacobnet.chain.kernels import combine, leaf
from jacobnet.check import rel_error
from jacobnet.core.numerics import SUM_OTHERS_PRODUCT_MAX, sum_others
from jacobnet.core.operators import DiagMinusOuter, Diagonal, Empty, KronRows, Matrix

TOL = 1e-13


@pytest.mark.parametrize("batch", [None, 1, 3])
@pytest.mark.parametrize("kind", KINDS)
@settings(FAST, max_examples=10)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_vjp_jvp_and_batch_mean_equal_dense_products(kind, batch, rows, cols, k, seed):
    rng = np.random.default_rng(seed)
    op = operator(kind, rows, rng, batch, cols)
    J = op.dense()
    m, n = op.shape
    assert J.shape == ((m, n) if batch is None else (batch, m, n))
    for lead in [(), (batch,)] if batch else [()]:  # a shared or a per-sample G
        G, H = rng.normal(size=lead + (k, m)), rng.normal(size=lead + (n, k))
        assert rel_error(op.vjp(G), G @ J) <= TOL
        assert rel_error(op.jvp(H), J @ H) <= TOL
    if batch:
        G = rng.normal(size=(batch, k, m))
        assert rel_error(op.vjp_mean(G), np.mean(G @ J, axis=0)) <= TOL


def test_kron_rows_vjp_mean_is_one_gemm_of_the_batch():
    rng = np.random.default_rng(3)
    X, G = rng.normal(size=(5, 3)), rng.normal(size=(5, 1, 2))
    op = KronRows(X, m=2)
    out = op.vjp_mean(G)
    assert out.shape == (1, 8)
    W = (G[:, 0, :].T @ X) / 5  # Σ_b g_b x_bᵀ / B
    assert rel_error(out[0], np.concatenate([W.ravel(), G[:, 0, :].mean(axis=0)])) <= TOL


def test_memory_counts():
    x = np.ones((4, 3))
    assert (KronRows(x, m=2).nbytes_dense, KronRows(x, m=2).nbytes) == (4 * 2 * 8 * 8, 12 * 8)
    assert (Diagonal(np.ones(5)).nbytes_dense, Diagonal(np.ones(5)).nbytes) == (200, 40)
    assert (Matrix(np.ones((2, 3)), batch=7).nbytes_dense, Matrix(np.ones((2, 3)), batch=7).nbytes) == (336, 48)
    assert (DiagMinusOuter(np.ones((2, 3))).nbytes_dense, Empty(3, batch=2).nbytes) == (144, 0)


def test_flop_counts_by_hand():
    assert KronRows(np.ones(3), m=2).vjp_flops(1) == 2 * 3  # an outer product g xᵀ
    assert KronRows(np.ones(3), m=2).jvp_flops(5) == 2 * 4 * 5
    assert Diagonal(np.ones(4)).vjp_flops(2) == 8 and DiagMinusOuter(np.ones(4)).vjp_flops(2) == 3 * 2 * 4  # G∘s, G∘Σ_{j≠i}s_j, s∘(…)
    assert Matrix(np.ones((2, 3))).vjp_flops(4) == 24 and Matrix(np.ones((2, 3))).jvp_flops(5) == 30


@pytest.mark.parametrize(
    "left, right, kernel, flops, kind",
    [
        ("dense", "dense", "matmul", 3 * 4 * 5, "dense"),
        ("dense", "diagonal", "vjp through diagonal", 3 * 4, "dense"),
        ("diagonal", "dense", "jvp through diagonal", 4 * 5, "dense"),
        ("diagonal", "diagonal", "diagonal · diagonal", 4, "diagonal"),
        ("diag-rank1", "diagonal", "densify diag − rank-1, vjp through diagonal", 4 * 4, "dense"),
        ("diagonal", "kron", "densify diagonal, vjp through [I ⊗ xᵀ | I]", 4 * 4 * 2, "dense"),
    ],
)
def test_kernel_table(left, right, kernel, flops, kind):
    """Shapes: a dense left is (3, 4), a square left (4, 4); a dense right (4, 5), kron x ∈ ℝ²."""
    rng = np.random.default_rng(0)
    a = operator(left, 3 if left == "dense" else 4, rng, None, 4)
    b = operator(right, 4, rng, None, 5 if right == "dense" else 2)
    la, lb = (leaf(Factor(n, op), mode="structured", index=i) for i, (n, op) in enumerate([("A", a), ("B", b)]))
    m = combine(la, lb, "AB", compute=True)
    assert (m.kernel, m.flops, m.result.kind) == (kernel, flops, kind)
    assert rel_error(m.result.matrix(), a.dense() @ b.dense()) <= TOL


@pytest.mark.parametrize("kind", KINDS)
@settings(FAST, max_examples=10)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_block_diagonal_and_stacked_rows_equal_their_dense_matrices(kind, rows, cols, batch, seed):
    rng = np.random.default_rng(seed)
    inner = operator(kind, rows, rng, batch, cols)
    for op in (BlockDiagonal(inner, batch), StackedRows(inner, batch)):
        J = op.dense()
        assert J.shape == op.shape
        G, H = rng.normal(size=(2, op.shape[0])), rng.normal(size=(op.shape[1], 3))
        assert rel_error(op.vjp(G), G @ J) <= TOL
        assert rel_error(op.jvp(H), J @ H) <= TOL
        assert op.nbytes == inner.nbytes
    m, n = inner.shape
    assert BlockDiagonal(inner, batch).nbytes_dense == batch * batch * m * n * 8


@pytest.mark.parametrize("n", [1, 2, 7, SUM_OTHERS_PRODUCT_MAX, SUM_OTHERS_PRODUCT_MAX + 1, 150])
def test_sum_others_is_the_sum_of_the_others_on_both_paths(n):
    """``Σ_{j≠i} v_j`` against ``math.fsum`` (correctly rounded) on both sides of the switch from
    one product with ``𝟙𝟙ᵀ − I`` to prefix + suffix sums: within the summation bound
    ``(n − 2) u Σ_{j≠i} |v_j|``, also for saturated softmax rows, where ``1 − s_0`` is ~e^{−700}
    and subtracting ``s_0`` from 1 would leave nothing but noise."""
    rng = np.random.default_rng(n)
    z = rng.uniform(-3.0, 3.0, size=(3, n))
    z[:, 0] += [15.0, 300.0, 700.0]
    s = np.exp(z - z.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    for v in (s, rng.normal(size=(2, 3, n))):
        got = sum_others(v)
        assert got.shape == v.shape and got.dtype == np.float64
        rows, flat = v.reshape(-1, n), got.reshape(-1, n)
        for row, out in zip(rows, flat):
            others = [np.delete(row, i) for i in range(n)]
            exact = np.array([math.fsum(o) for o in others])
            bound = max(n - 2, 0) * 2.0**-53 * np.array([np.abs(o).sum() for o in others])
            assert np.all(np.abs(out - exact) <= bound)
        np.testing.assert_array_equal(sum_others(v.swapaxes(-1, -2), axis=-2), got.swapaxes(-1, -2))
