"""Lesson 7 (accumulation order): every fact the lesson states, recomputed from the package (no timings: only counts).

The same matrix in every order; reverse cheapest for a scalar loss (and the optimal order here), rows only;
the orders written with factor names; forward cheapest for few inputs; VJPs as rows, JVPs as columns; softmax's
closed-form VJP; structured cheaper than materialised; the MNIST-sized chain; the exercises' answers.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.chain import Chain
from jacobnet.chain.bridge import jvp_as_columns, vjp_as_rows
from jacobnet.check import rel_error
from jacobnet.course import feedback
from jacobnet.net.sweeps import order_cost_sweep


@pytest.fixture(scope="module")
def setup():
    net = jn.build_network("64,32,10", activation="tanh", loss="softmax-ce", seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=64), np.eye(10)[3]
    return net, x, y, net.chain(x, y)


def test_same_matrix_every_order_reverse_cheapest(setup):
    net, x, y, chain = setup
    products = {order: chain.evaluate(order) for order in ("forward", "reverse", "optimal")}
    assert all(P.shape == (1, 2080) and rel_error(P, products["reverse"]) < 1e-12 for P in products.values())
    flops = {order: chain.flops(order) for order in ("forward", "reverse", "optimal")}
    assert flops["optimal"] <= flops["reverse"] <= flops["forward"]
    assert chain.tree("optimal") == chain.tree("reverse")            # the lesson's one line for "optimal"
    assert (flops["forward"], flops["reverse"]) == (2_816_320, 67_904) and round(flops["forward"] / flops["reverse"], 1) == 41.5
    assert all(s.shape[0] == 1 for s in chain.steps("reverse"))
    assert chain.describe("forward") == "(J_loss·(J_x(Dense 2)·(J_x(Tanh 1)·J_θ(Dense 1))))"   # names, not indices
    assert chain.flops("reverse", "structured") == 2_400 and chain.factors[-1].shape == (32, 2080)


def test_exercise_1_forward_count():
    small = jn.build_network("3,4,2", activation="tanh", loss="softmax-ce", seed=0).chain(np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
    assert small.shapes == [(1, 2), (2, 4), (4, 4), (4, 16)]
    assert small.flops("reverse") == 1 * 2 * 4 + 1 * 4 * 4 + 1 * 4 * 16 == 88
    assert small.flops("forward") == 416 and feedback.check_number(4 * 4 * 16 + 2 * 4 * 16 + 1 * 2 * 16, small.flops("forward")).ok


def test_order_cost_sweep_gap_grows():
    sweep = order_cost_sweep(widths=(16, 32, 64, 128, 256), depths=(1, 2, 3))
    assert len(sweep.rows) == 60
    ratios = {}
    for row in sweep.rows:
        ratios.setdefault((row["depth"], row["width"]), {})[row["order"]] = row["flops"]
    gaps = [ratios[(1, w)]["forward"] / ratios[(1, w)]["reverse"] for w in (16, 32, 64, 128, 256)]
    assert all(b > a for a, b in zip(gaps, gaps[1:]))


def test_few_inputs_forward_wins():
    decoder = jn.build_network([2, 64, 64, 100], activation="tanh", loss="mse", seed=0)
    to_input = decoder.chain(np.array([0.3, -0.7]), np.zeros(100), wrt="input")
    outputs = Chain("∂a5/∂x", to_input.factors[1:])
    assert outputs.flops("forward") == outputs.flops("optimal") == 37_376 < outputs.flops("reverse") == 1_241_600
    assert rel_error(outputs.evaluate("forward"), outputs.evaluate("reverse")) < 1e-12


def test_vjp_rows_and_jvp_columns(setup):
    net, x, y, chain = setup
    J = net.layers[2].jacobian_input(net.activations(x)[2])
    v = chain.factors[0].dense()[0]
    r = vjp_as_rows(v, J)
    assert r.parts.shape == (10, 32) and rel_error(r.total, v @ J) < 1e-14
    u = np.random.default_rng(1).normal(size=32)
    c = jvp_as_columns(J, u)
    assert c.parts.shape == (10, 32) and rel_error(c.total, J @ u) < 1e-14


def test_exercise_2_jvp():
    J_ex, u_ex = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([1.0, 0.0, -1.0])
    assert np.array_equal(jvp_as_columns(J_ex, u_ex).total, [-2.0, -2.0])
    assert feedback.check_matrix(J_ex[:, 0] - J_ex[:, 2], jvp_as_columns(J_ex, u_ex).total).ok


def test_exercise_3_softmax_vjp_closed_form():
    z = np.array([1.0, -0.5, 2.0, 0.0])
    s, v = jn.Softmax().forward(z), np.array([0.5, -1.0, 2.0, 1.0])
    closed = s * v - (v @ s) * s
    assert feedback.check_matrix(closed, v @ jn.Softmax().jacobian_input(z)).ok
    assert rel_error(jn.Softmax().jacobian_input_op(z).vjp(v[None, :])[0], closed) < 1e-14   # the package's structured VJP
    assert not feedback.check_matrix(s * v, v @ jn.Softmax().jacobian_input(z)).ok         # the diagonal part alone


def test_structured_cheaper_same_numbers(setup):
    net, x, y, chain = setup
    assert chain.flops("reverse", mode="structured") < chain.flops("reverse")
    assert rel_error(net.gradient(x, y, mode="materialised"), net.gradient(x, y, mode="structured")) < 1e-12


def test_mnist_sized_chain():
    mnist = jn.build_network("784,128,10", activation="tanh", loss="softmax-ce", seed=0)
    big = mnist.chain(np.random.default_rng(0).normal(size=784), np.eye(10)[0])
    assert big.shapes == [(1, 10), (10, 128), (128, 128), (128, 100480)]
    assert sum(f.nbytes for f in big.factors) * 1000 < sum(f.nbytes_dense for f in big.factors)
    assert 100 * 2**20 * 0.9 < big.factors[-1].nbytes_dense < 100 * 2**20 * 1.1              # "~100 MB per sample"
    ratio = big.flops("forward") / big.flops("reverse")
    expected = (128 * 128 * 100480 + 10 * 128 * 100480 + 1 * 10 * 100480) / (1 * 10 * 128 + 1 * 128 * 128 + 1 * 128 * 100480)
    assert ratio > 100 and abs(ratio - expected) < 1e-9 * expected
