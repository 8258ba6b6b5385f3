"""``Chain``: the factors, every order and both modes giving the same product, counted costs.

Orders agree to ``rel_error ≤ 1e-12`` on Hypothesis-drawn networks (single
samples and batches); structured equals materialised; FLOP and byte counts
equal hand counts; reverse ≤ forward and optimal ≤ both for every parameter
chain of a scalar loss; malformed orders raise clear errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from chain_strategies import abs_product, networks_with_data
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn
from jacobnet.chain import Chain
from jacobnet.check import rel_error

TOL = 1e-12
ORDERS = ("reverse", "forward", "optimal")


def small_net() -> tuple[jn.Network, np.ndarray, np.ndarray]:
    """3 → 4 → 2, tanh, softmax-cross-entropy: shapes (1,2), (2,4), (4,4), (4,16)."""
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    return net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])


def block(net: jn.Network, grad: np.ndarray, layer: int) -> np.ndarray:
    return grad[net.param_slices()[layer]]


# --- factors ---------------------------------------------------------------
def test_factors_have_names_shapes_kinds_and_dense_matrices():
    net, x, y = small_net()
    c = net.chain(x, y)
    assert c.target == "∂L/∂θ(Dense 1)"
    assert [f.name for f in c.factors] == ["J_loss", "J_x(Dense 2)", "J_x(Tanh 1)", "J_θ(Dense 1)"]
    assert [f.kind for f in c.factors] == ["dense", "dense", "diagonal", "[I ⊗ xᵀ | I]"]
    assert [f.dense().shape for f in c.factors] == [(1, 2), (2, 4), (4, 4), (4, 16)]
    assert np.array_equal(c.factors[1].dense(), net.layers[2].W)
    assert [(f.nbytes_dense, f.nbytes) for f in c.factors] == [(16, 16), (64, 64), (128, 32), (512, 24)]
    assert c.memory().column("dense") == [16, 64, 128, 512]


def test_chain_layer_and_input_targets():
    net, x, y = small_net()
    assert net.chain(x, y, layer=2).shapes == [(1, 2), (2, 10)]
    assert net.chain(x, y, layer=-1).target == "∂L/∂θ(Dense 2)"
    inp = net.chain(x, y, wrt="input")
    assert inp.target == "∂L/∂x" and inp.shapes[-1] == (4, 3)
    for bad, msg in [(1, "Tanh 1 has no parameters"), (3, "index into the 3 layers"), (True, "index"),
                     ("Tanh 1", "Tanh 1 has no parameters"), ("Dense 3", "no layer named 'Dense 3'; the layers are Dense 1, Tanh 1, Dense 2")]:
        with pytest.raises(ValueError, match=msg):
            net.chain(x, y, layer=bad)
    with pytest.raises(ValueError, match="wrt must be"):
        net.chain(x, y, wrt="weights")


def test_layer_is_a_0_based_index_or_a_name():
    """layer=2 is net.layers[2], here "Dense 2"; with an activation between, index and number differ."""
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 4, seed=1), jn.Tanh(), jn.Dense(4, 2, seed=2)], jn.MSE())
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.3, -0.2])
    assert net.chain(x, y, layer=4).target == net.chain(x, y, layer="Dense 3").target == "∂L/∂θ(Dense 3)"
    assert net.chain(x, y, layer=2).shapes == net.chain(x, y, layer="Dense 2").shapes == [(1, 2), (2, 4), (4, 4), (4, 20)]
    s = net.param_slices()[2]
    np.testing.assert_allclose(net.chain(x, y, layer="Dense 2").evaluate()[0], net.gradient(x, y)[s], rtol=1e-12, atol=0)


def test_chain_factors_are_the_trace_factors_with_labels():
    """build_chain and the trace build their factors with the same two functions: same names, labels, values."""
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])
    trace = net.trace(x, y)
    for f in net.chain(x, y).factors + net.chain(x, y, layer=2).factors + net.chain(x, y, wrt="input").factors:
        t = trace.factor(f.name)
        assert (f.row_labels, f.col_labels, f.layer, f.wrt_params) == (t.row_labels, t.col_labels, t.layer, t.wrt_params)
        np.testing.assert_array_equal(f.dense(), t.dense())


def test_chain_factor_by_name():
    net, x, y = small_net()
    c = net.chain(x, y)
    assert c.factor("J_x(Tanh 1)") is c.factors[2]
    with pytest.raises(KeyError, match=r"no factor named 'J_x\(Tanh 2\)' in the chain ∂L/∂θ\(Dense 1\); "
                                        r"the factors are: J_loss, J_x\(Dense 2\), J_x\(Tanh 1\), J_θ\(Dense 1\)"):
        c.factor("J_x(Tanh 2)")


# --- every order, both modes: the same matrix -------------------------------
@FAST
@given(networks_with_data(), st.sampled_from(["params", "input"]))
def test_orders_and_modes_agree_on_random_networks(case, wrt):
    net, x, y = case
    chain = net.chain(x, y, wrt=wrt)
    ref = chain.evaluate("reverse")
    n = chain.shapes[-1][1]
    assert ref.shape == ((1, n) if x.ndim == 1 else (x.shape[0], 1, n))
    for order in ORDERS:
        for mode in ("materialised", "structured"):
            assert rel_error(chain.evaluate(order, mode=mode), ref) <= TOL


@FAST
@given(networks_with_data())
def test_chain_is_the_gradient_block(case):
    net, x, y = case
    chain = net.chain(x, y)
    grad = net.gradient(x, y, mode="materialised")
    value = chain.evaluate("optimal", mode="structured")
    assert rel_error(value.reshape(-1, value.shape[-1]).mean(axis=0), block(net, grad, 0)) <= TOL


@FAST
@given(networks_with_data())
def test_gradient_modes_agree(case):
    net, x, y = case
    assert rel_error(net.gradient(x, y, mode="structured"), net.gradient(x, y, mode="materialised")) <= TOL


@FAST
@given(networks_with_data())
def test_trace_products_agree_between_modes(case):
    net, x, y = case
    dense, structured = net.trace(x, y, mode="materialised"), net.trace(x, y, mode="structured")
    assert [p.name for p in dense.products] == [p.name for p in structured.products]
    for p, q in zip(dense.products, structured.products):
        assert p.shape == q.shape and p.value.shape == q.value.shape
        assert rel_error(q.value, p.value) <= TOL
    assert rel_error(structured.gradient, dense.gradient) <= TOL


@pytest.mark.parametrize(
    "spec, activation, loss, x",
    [
        ("3,4,2", "relu", "mse", np.zeros(3)),  # every pre-activation exactly 0: ReLU at its kink
        ("3,4,2", "leaky-relu", "softmax-ce", np.zeros((2, 3))),
        ("3,5,2", "sigmoid", "softmax-ce", np.array([1000.0, -1000.0, 1000.0])),  # saturated
        ("3,5,2", "softplus", "ce", np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]])),
    ],
)
def test_orders_and_modes_agree_at_kinks_and_extremes(spec, activation, loss, x):
    net = jn.build_network(spec, activation, loss, seed=3)
    y = np.broadcast_to(np.array([1.0, 0.0]), x.shape[:-1] + (2,))
    chain = net.chain(x, y)
    ref = chain.evaluate("reverse")
    assert np.all(np.isfinite(ref))
    # saturated factors underflow differently in different orders (e.g. 3e-212 against 0), so
    # the error is measured against max |F_0|⋯|F_k|, the scale any order's rounding is bounded by
    scale = abs_product(chain)
    for order in ORDERS:
        for mode in ("materialised", "structured"):
            assert np.max(np.abs(chain.evaluate(order, mode=mode) - ref)) <= TOL * scale
    assert rel_error(net.gradient(x, y), net.gradient(x, y, mode="materialised")) <= TOL
    if activation == "relu":  # f'(0) = 0, the left derivative: nothing reaches Dense 1
        assert not np.any(ref) and not np.any(net.gradient(x, y)[: net.layers[0].n_params])


@pytest.mark.parametrize("method", jn.GRADIENT_METHODS)
def test_gradient_rejects_unknown_mode_for_every_method(method):
    net, x, y = small_net()
    with pytest.raises(ValueError, match="unknown mode 'dense'; choose one of materialised, structured"):
        net.gradient(x, y, method=method, mode="dense")
    with pytest.raises(ValueError, match="unknown mode 'nonsense'"):
        net.trace(x, y, mode="nonsense")
    with pytest.raises(ValueError, match="unknown gradient method 'j'; choose one of jacobian, symbolic, finite-difference"):
        net.gradient(x, y, method="j")


# --- steps ---------------------------------------------------------------------
def test_steps_name_every_partial_product():
    net, x, y = small_net()
    c = net.chain(x, y)
    rev = list(c.steps("reverse"))
    assert [(s.left, s.right, s.name) for s in rev] == [
        ("J_loss", "J_x(Dense 2)", "∂L/∂a2"),
        ("∂L/∂a2", "J_x(Tanh 1)", "∂L/∂a1"),
        ("∂L/∂a1", "J_θ(Dense 1)", "∂L/∂θ(Dense 1)"),
    ]
    fwd = list(c.steps("forward"))
    assert [(s.name, s.left_shape, s.right_shape, s.shape) for s in fwd] == [
        ("∂a2/∂θ(Dense 1)", (4, 4), (4, 16), (4, 16)),
        ("∂a3/∂θ(Dense 1)", (2, 4), (4, 16), (2, 16)),
        ("∂L/∂θ(Dense 1)", (1, 2), (2, 16), (1, 16)),
    ]
    for s in fwd:
        assert s.value.shape == s.shape
    J = [f.dense() for f in c.factors]
    assert rel_error(fwd[0].value, J[2] @ J[3]) <= TOL
    assert rel_error(rev[1].value, J[0] @ J[1] @ J[2]) <= TOL
    for mode in ("materialised", "structured"):
        steps = list(c.steps("optimal", mode))
        assert sum(s.flops for s in steps) == c.flops("optimal", mode)
        assert sum(s.bytes for s in steps) == c.bytes("optimal", mode)


def test_steps_of_a_batch_hold_per_sample_values():
    net, _, _ = small_net()
    X, Y = np.arange(9.0).reshape(3, 3) / 9, np.eye(2)[[0, 1, 1]]
    steps = list(net.chain(X, Y).steps("forward", mode="structured"))
    assert [s.value.shape for s in steps] == [(3, 4, 16), (3, 2, 16), (3, 1, 16)]
    one = list(net.chain(X[1], Y[1]).steps("forward", mode="structured"))
    assert rel_error(steps[0].value[1], one[0].value) <= TOL


# --- counted costs against hand counts ---------------------------------------
def test_flops_and_bytes_dense_hand_counts():
    c = Chain.from_matrices([np.ones((2, 3)), np.ones((3, 4)), np.ones((4, 5))])
    assert c.flops("reverse") == 2 * 3 * 4 + 2 * 4 * 5  # (A0 A1) A2
    assert c.flops("forward") == 3 * 4 * 5 + 2 * 3 * 5  # A0 (A1 A2)
    assert c.bytes("reverse") == 8 * (2 * 4 + 2 * 5)
    assert c.bytes("forward") == 8 * (3 * 5 + 2 * 5)
    assert c.bytes("reverse", include_factors=True) == 8 * (2 * 4 + 2 * 5) + 8 * (6 + 12 + 20)
    assert c.tree("optimal") == ((0, 1), 2)


def test_flops_of_a_network_chain_hand_counts():
    net, x, y = small_net()  # (1,2) · (2,4) · diag(4) · [I_4 ⊗ xᵀ | I_4] with x ∈ ℝ³
    c = net.chain(x, y)
    assert c.flops("reverse") == 1 * 2 * 4 + 1 * 4 * 4 + 1 * 4 * 16
    assert c.flops("forward") == 4 * 4 * 16 + 2 * 4 * 16 + 1 * 2 * 16
    # structured reverse: a matmul (1·2·4), a diagonal scaling (4), an outer product (1·4·3)
    assert c.flops("reverse", mode="structured") == 8 + 4 + 12
    # structured forward: diag·[I⊗xᵀ|I] by densifying the diagonal (4·4·3 < 4·16), then two matmuls
    assert c.flops("forward", mode="structured") == 48 + 2 * 4 * 16 + 1 * 2 * 16
    assert c.bytes("forward", mode="structured") == 8 * (4 * 16 + 4 * 4 + 2 * 16 + 1 * 16)
    X, Y = np.ones((5, 3)), np.eye(2)[[0, 1, 0, 1, 0]]
    assert net.chain(X, Y).flops("reverse") == 5 * c.flops("reverse")


# --- reverse ≤ forward, optimal ≤ both -------------------------------------------
@FAST
@given(networks_with_data(), st.sampled_from(("materialised", "structured")))
def test_reverse_never_beaten_by_forward_for_a_scalar_loss(case, mode):
    net, x, y = case
    for layer, f in enumerate(net.layers):
        if f.n_params:
            c = net.chain(x, y, layer=layer)
            rev, fwd, opt = (c.flops(o, mode) for o in ORDERS)
            assert rev <= fwd and opt <= rev


def test_forward_can_win_for_a_scalar_input():
    """∂L/∂x with one input and a wide first layer: forward − reverse = n_L − n_1 < 0 (dense)."""
    net = jn.build_network("1,50,2", "tanh", "mse", seed=0)
    c = net.chain(np.array([0.3]), np.zeros(2), wrt="input")
    assert c.flops("forward") - c.flops("reverse") == 2 - 50
    assert c.flops("optimal") <= c.flops("forward")


def test_784_128_10_forward_reverse_ratio():
    net = jn.build_network("784,128,10", "tanh", "softmax-ce", seed=0)
    t = net.chain(np.zeros(784), np.eye(10)[3]).order_table()
    flops = dict(zip(t.column("order"), t.column("flops")))
    assert flops["forward"] / flops["reverse = optimal = optimal (structured)"] > 100  # the optimal tree is the reverse one
    assert len(t.rows) == 2
    text = str(t).splitlines()
    assert text[0].startswith("Accumulation orders of ∂L/∂θ(Dense 1)")
    assert text[3].startswith("forward") and "(J_loss·(J_x(Dense 2)·(J_x(Tanh 1)·J_θ(Dense 1))))" in text[3]


# --- malformed orders ---------------------------------------------------------
@pytest.mark.parametrize(
    "order, msg",
    [
        ("fwd", "unknown order 'fwd'; choose one of reverse, forward, optimal"),
        ((0, 1, 2, 3), "exactly two items, got 4"),
        (((0, 1), (3, 2)), r"in order 0…3 \(a matrix product cannot be reordered\), got 0, 1, 3, 2"),
        (((0, 1), 2), "got 0, 1, 2"),
        (((0, 1), (2, 2)), "got 0, 1, 2, 2"),
        (((0, "1"), (2, 3)), r"found '1' \(str\)"),
        (((0, 1), (2, True)), r"found True \(bool\)"),
        (((0, 1.0), (2, 3)), r"found 1.0 \(float\)"),
        ((), "exactly two items, got 0"),
        (None, "found None"),
    ],
)
def test_malformed_orders_raise(order, msg):
    net, x, y = small_net()
    with pytest.raises(ValueError, match=msg):
        net.chain(x, y).evaluate(order)


def test_explicit_orders_accept_lists_and_numpy_ints():
    net, x, y = small_net()
    c = net.chain(x, y)
    order = [[np.int64(0), 1], [2, 3]]
    assert c.tree(order) == ((0, 1), (2, 3))
    assert c.describe(order) == "((J_loss·J_x(Dense 2))·(J_x(Tanh 1)·J_θ(Dense 1)))"
    assert rel_error(c.evaluate(order), c.evaluate()) <= TOL


def test_chain_rejects_factors_that_do_not_chain():
    with pytest.raises(ValueError, match=r"A0 \(2, 3\) cannot multiply A1 \(4, 5\)"):
        Chain.from_matrices([np.ones((2, 3)), np.ones((4, 5))])
    with pytest.raises(ValueError, match="expected a matrix"):
        Chain.from_matrices([np.ones(3)])


@pytest.mark.parametrize("names", [["A"], ["A", "B", "C"], []])
def test_from_matrices_wants_one_name_per_matrix(names):
    """zip() would silently drop the unnamed matrix B (a (1, 5) product computed as (1, 3))."""
    with pytest.raises(ValueError, match=f"chain P: 2 matrices but {len(names)} names"):
        Chain.from_matrices([np.ones((1, 3)), np.ones((3, 5))], names=names)
    assert Chain.from_matrices([np.ones((1, 3)), np.ones((3, 5))], names=["A", "B"]).evaluate().shape == (1, 5)
