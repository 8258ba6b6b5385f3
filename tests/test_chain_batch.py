"""Batches (stacked per-sample Jacobians vs one block-diagonal batch Jacobian) and the
VJP/JVP bridge (a reverse step combines rows, a forward step combines columns)."""

from __future__ import annotations

import numpy as np
import pytest
from chain_strategies import networks_with_data
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn
from jacobnet.chain.batch import batch_chain, block_diagonal, mean_of_products
from jacobnet.chain.bridge import jvp_as_columns, vjp_as_rows
from jacobnet.check import rel_error

TOL = 1e-12


@FAST
@given(networks_with_data(batch=True))
def test_batch_gradient_is_the_mean_of_a_per_sample_loop(case):
    net, X, Y = case
    loop = np.mean([net.gradient(x, y, mode="materialised") for x, y in zip(X, Y)], axis=0)
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(X, Y, mode=mode), loop) <= TOL
    chain = net.chain(X, Y)
    stacked = chain.evaluate("forward", mode="structured")
    for b, (x, y) in enumerate(zip(X, Y)):
        assert rel_error(stacked[b], net.chain(x, y).evaluate("reverse")) <= TOL


@FAST
@given(networks_with_data(batch=True))
def test_block_diagonal_equals_the_stacked_blocks(case):
    net, X, Y = case
    for f in net.chain(X, Y, wrt="input").factors[1:]:
        stacked, big = f.dense(), block_diagonal(f)
        B, m, n = stacked.shape
        assert big.shape == (B * m, B * n)
        blocks = big.reshape(B, m, B, n).transpose(0, 2, 1, 3)  # [b, c] = block (b, c)
        for b in range(B):
            for c in range(B):
                assert np.array_equal(blocks[b, c], stacked[b] if b == c else np.zeros((m, n)))


@FAST
@given(networks_with_data(batch=True), st.sampled_from(["reverse", "forward", "optimal"]), st.sampled_from(("materialised", "structured")))
def test_block_diagonal_product_equals_the_mean_of_products(case, order, mode):
    net, X, Y = case
    chain = net.chain(X, Y)
    big = batch_chain(chain)
    B = X.shape[0]
    assert big.shapes[0] == (1, B * chain.shapes[0][1]) and big.shapes[-1] == (B * chain.shapes[-1][0], chain.shapes[-1][1])
    value = big.evaluate(order, mode=mode)
    assert value.shape == (1, chain.shapes[-1][1])
    assert rel_error(value, mean_of_products(chain)) <= TOL
    assert rel_error(value[0], net.gradient(X, Y)[net.param_slices()[0]]) <= TOL


def test_batch_input_chain_lays_per_sample_gradients_side_by_side():
    net = jn.build_network("3,4,2", "sigmoid", "mse", seed=1)
    X, Y = np.arange(6.0).reshape(2, 3) / 6, np.array([[1.0, 0.0], [0.0, 2.0]])
    row = batch_chain(net.chain(X, Y, wrt="input")).evaluate("forward", mode="structured")
    per = [net.chain(x, y, wrt="input").evaluate()[0] / 2 for x, y in zip(X, Y)]
    assert row.shape == (1, 6) and rel_error(row[0], np.concatenate(per)) <= TOL


def test_batch_helpers_refuse_single_samples():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.ones(3), np.array([0.0, 1.0]))
    for fn in (batch_chain, mean_of_products, lambda c: block_diagonal(c.factors[1])):
        with pytest.raises(ValueError, match="single-sample"):
            fn(chain)


# --- the VJP/JVP bridge ---------------------------------------------------------
@FAST
@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_vjp_is_a_combination_of_rows_and_jvp_of_columns(m, n, seed):
    rng = np.random.default_rng(seed)
    J, v, u = rng.normal(size=(m, n)), rng.normal(size=m), rng.normal(size=n)
    rows = vjp_as_rows(v, J)
    assert rows.parts.shape == (m, n) and rows.axis == "rows"
    for i in range(m):
        assert np.array_equal(rows.parts[i], v[i] * J[i])
    assert rel_error(rows.total, v @ J) <= TOL
    cols = jvp_as_columns(J, u)
    for j in range(n):
        assert np.array_equal(cols.parts[:, j], u[j] * J[:, j])
    assert rel_error(cols.total, J @ u) <= TOL


def test_a_backprop_step_is_a_vjp_of_a_factor():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
    steps = list(chain.steps("reverse"))
    rows = vjp_as_rows(steps[0].value, chain.factors[2])  # ∂L/∂a2 (1, 4) · J_x(Tanh 1) (4, 4)
    assert rel_error(rows.total, steps[1].value[0]) <= TOL
    d = np.diag(chain.factors[2].dense())
    assert np.count_nonzero(rows.parts - np.diag(steps[0].value[0] * d)) == 0  # diagonal: one entry per row


def test_bridge_errors_name_the_expected_size():
    with pytest.raises(ValueError, match=r"must have 2 entries \(one per row of J\), got shape \(3,\)"):
        vjp_as_rows(np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"must have 3 entries \(one per column of J\), got shape \(2,\)"):
        jvp_as_columns(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match=r"single Jacobian of shape \(m, n\), got shape \(2, 2, 3\)"):
        vjp_as_rows(np.ones(2), np.ones((2, 2, 3)))
