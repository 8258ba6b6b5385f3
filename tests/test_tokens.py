"""``Dense(n_in, n_out, tokens=T)``: one ``W``, ``b`` applied to each of ``T`` tokens, and its token operators.

* ``J_x = I_T ⊗ W`` and ``J_θ`` = the tokens' ``[I ⊗ x_tᵀ | I]`` stacked, against central
  differences (≤ 1e-7), the complex step and HIPS autograd of the layer written plainly (≤ 1e-12);
* ``tokens=1`` is today's layer: the same operators (``Matrix``, ``KronRows``), the same numbers, ``Dense(3, 2)``;
* the structured products of ``TokenMatrix``, ``TokenKronRows``, ``TokenDiagRows`` (``vjp``,
  ``vjp_sum``, ``vjp_mean``, ``jvp``) against the dense matrix, one sample and batches, shared
  and per-sample ``G``; their costs and outlines;
* batches equal the stacked per-sample Jacobians; the closed forms equal SymPy's derivative;
  a whole network's gradient (both modes, chains in every order, the symbolic method) against autograd;
* bad sizes are named.
"""

from __future__ import annotations

import re

import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp
from autograd import grad, jacobian

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.chain.batch import batch_chain, mean_of_products
from jacobnet.chain.orders import all_trees
from jacobnet.check import check_jacobian, check_layer, jacobian_fd, rel_error
from jacobnet.core.operators import KronRows, Matrix
from jacobnet.core.sizes import Entry
from jacobnet.core.tokens import TokenDiagRows, TokenKronRows, TokenMatrix
from jacobnet.core.validate import as_input
from jacobnet.symbolic import network as symbolic_network
from jacobnet.symbolic.guard import estimate_size

FD_TOL = 1e-7
AD_TOL = 1e-12
OP_TOL = 1e-13
GRAD_TOL = 1e-10
rng = np.random.default_rng(20250611)

# (n_in, n_out, tokens): non-square tokens, one feature, more tokens than features and the reverse
SHAPES = [(3, 2, 4), (2, 5, 3), (1, 3, 2), (4, 1, 5), (3, 3, 2)]


def dense(n_in: int, n_out: int, tokens: int, seed: int = 0) -> jn.Dense:
    layer = jn.Dense(n_in, n_out, tokens=tokens, seed=seed)
    layer.set_params(np.random.default_rng(seed).normal(size=layer.n_params))
    return layer


def plain(theta, x, n_in: int, n_out: int, tokens: int):
    """The layer written plainly: x as (T, n_in) rows, y_t = W x_t + b, flattened (autograd's numpy)."""
    W, b = anp.reshape(theta[: n_out * n_in], (n_out, n_in)), theta[n_out * n_in :]
    return anp.reshape(anp.dot(anp.reshape(x, (tokens, n_in)), W.T) + b, (-1,))


def ops(layer: jn.Layer, x: np.ndarray):
    x = as_input(x, layer.name, layer.n_in)
    return layer.jacobian_input_op(x), layer.jacobian_params_op(x)


# --- the Jacobians, one sample -----------------------------------------------------
@pytest.mark.parametrize("n_in, n_out, tokens", SHAPES)
def test_jacobians_against_differences_complex_step_and_autograd(n_in, n_out, tokens):
    layer = dense(n_in, n_out, tokens, seed=n_in + 7 * tokens)
    x, theta = rng.normal(size=tokens * n_in), layer.get_params()
    J_x, J_theta = layer.jacobian_input(x), layer.jacobian_params(x)
    assert J_x.shape == (tokens * n_out, tokens * n_in) and J_theta.shape == (tokens * n_out, n_out * n_in + n_out)
    assert rel_error(J_x, jacobian_fd(layer.forward, x)) <= FD_TOL
    assert all(c.ok for c in check_layer(layer, x, rtol=FD_TOL))
    assert check_jacobian(lambda v: plain(theta, v, n_in, n_out, tokens), x, J_x, method="complex-step").ok
    assert check_jacobian(lambda t: plain(t, x, n_in, n_out, tokens), theta, J_theta, method="complex-step").ok
    assert rel_error(J_x, jacobian(lambda v: plain(theta, v, n_in, n_out, tokens))(x)) <= AD_TOL
    assert rel_error(J_theta, jacobian(lambda t: plain(t, x, n_in, n_out, tokens))(theta)) <= AD_TOL
    np.testing.assert_allclose(layer.forward(x), plain(theta, x, n_in, n_out, tokens), rtol=1e-15, atol=1e-15)


def test_the_blocks_by_hand():
    """J_x = I_T ⊗ W: W on the diagonal blocks, 0 off them; token t's rows of J_θ hold x_t and I."""
    layer = dense(3, 2, 4, seed=1)
    x = np.arange(12.0) - 5.0
    J_x, J_theta = layer.jacobian_input(x), layer.jacobian_params(x)
    for s in range(4):
        for t in range(4):
            block = J_x[2 * s : 2 * s + 2, 3 * t : 3 * t + 3]
            np.testing.assert_array_equal(block, layer.W if s == t else np.zeros((2, 3)))
        rows = J_theta[2 * s : 2 * s + 2]
        np.testing.assert_array_equal(rows, np.hstack([np.kron(np.eye(2), x[3 * s : 3 * s + 3]), np.eye(2)]))


def test_shared_parameters_add_up_over_tokens():
    """g J_θ = [Σ_t g_t x_tᵀ | Σ_t g_t]: the W-gradient of T tokens is the sum of T single-token ones."""
    layer = dense(3, 2, 4, seed=2)
    x, g = rng.normal(size=12), rng.normal(size=(1, 8))
    single = jn.Dense(3, 2)
    single.set_params(layer.get_params())
    per_token = sum(g[:, 2 * t : 2 * t + 2] @ single.jacobian_params(x[3 * t : 3 * t + 3]) for t in range(4))
    assert rel_error(g @ layer.jacobian_params(x), per_token) <= 1e-15


# --- tokens=1 is today's Dense --------------------------------------------------------
def test_one_token_is_the_plain_dense_layer():
    layer = jn.Dense(3, 2, seed=4)
    assert jn.Dense(3, 2, tokens=1, seed=4).get_params().tolist() == layer.get_params().tolist()
    x, X = rng.normal(size=3), rng.normal(size=(3, 3))
    J_x, J_theta = ops(layer, x)
    assert type(J_x) is Matrix and J_x.A is layer.W and J_x.batch is None
    assert type(J_theta) is KronRows and J_theta.m == 2 and J_theta.kind == "[I ⊗ xᵀ | I]"
    assert [type(op) for op in ops(layer, X)] == [Matrix, KronRows] and ops(layer, X)[0].batch == 3
    np.testing.assert_array_equal(layer.forward(x), x @ layer.W.T + layer.b)  # bit for bit
    np.testing.assert_array_equal(layer.forward(X), X @ layer.W.T + layer.b)
    assert (layer.n_in, layer.n_out, layer.W.shape, layer.n_params) == (3, 2, (2, 3), 8)
    assert (repr(layer), layer.name, list(layer.param_labels(1))[:2]) == ("Dense(3, 2)", "Dense(3→2)", ["W^{(1)}_{1,1}", "W^{(1)}_{1,2}"])


def test_tokens_in_the_sizes_name_repr_and_key():
    layer = jn.Dense(3, 5, tokens=4, seed=0)
    assert (layer.n_in, layer.n_out, layer.out_size(12), layer.features_in, layer.features_out) == (12, 20, 20, 3, 5)
    assert (layer.W.shape, layer.b.shape, layer.n_params) == ((5, 3), (5,), 20)
    assert (repr(layer), layer.name) == ("Dense(3, 5, tokens=4)", "Dense(4×3→4×5)")
    assert layer.hyperparameters() == {"n_in": 3, "n_out": 5, "tokens": 4}
    assert layer.key() == jn.Dense(3, 5, tokens=4, seed=9).key()
    assert layer.key() != jn.Dense(3, 5, tokens=2).key() and jn.Dense(3, 5).key() != jn.Dense(15, 25).key()
    assert list(layer.param_labels(2))[-1] == "b^{(2)}_{5}" and len(layer.param_labels()) == 20
    assert [type(op) for op in ops(layer, np.ones(12))] == [TokenMatrix, TokenKronRows]


# --- batches --------------------------------------------------------------------------
@pytest.mark.parametrize("n_in, n_out, tokens", SHAPES[:3])
def test_batch_is_the_stacked_samples(n_in, n_out, tokens):
    layer = dense(n_in, n_out, tokens, seed=5)
    X = rng.normal(size=(3, tokens * n_in))
    Y, J_x, J_theta = layer.forward(X), layer.jacobian_input(X), layer.jacobian_params(X)
    assert J_x.shape == (3, tokens * n_out, tokens * n_in) and J_theta.shape == (3, tokens * n_out, layer.n_params)
    for b, x in enumerate(X):
        assert rel_error(Y[b], layer.forward(x)) <= 1e-15
        np.testing.assert_array_equal(J_x[b], layer.jacobian_input(x))
        np.testing.assert_array_equal(J_theta[b], layer.jacobian_params(x))


# --- the operators' products against the dense matrix -------------------------------------
def token_operators(batch: int | None):
    lead = () if batch is None else (batch,)
    W = rng.normal(size=(2, 3))
    return [
        TokenMatrix(W, tokens=4, batch=batch),
        TokenKronRows(rng.normal(size=lead + (4 * 3,)), m=2, tokens=4),
        TokenKronRows(rng.normal(size=lead + (5,)), m=3, tokens=5),  # one feature per token
        TokenDiagRows(rng.normal(size=lead + (3 * 5,)), tokens=3),
    ]


@pytest.mark.parametrize("batch", [None, 1, 3])
@pytest.mark.parametrize("k", [1, 3])
def test_vjp_jvp_and_batch_sums_equal_dense_products(batch, k):
    for op in token_operators(batch):
        J = op.dense()
        m, n = op.shape
        assert J.shape == ((m, n) if batch is None else (batch, m, n)) and op.batch == batch
        for lead in [(), (batch,)] if batch else [()]:  # a shared or a per-sample G, H
            G, H = rng.normal(size=lead + (k, m)), rng.normal(size=lead + (n, k))
            assert rel_error(op.vjp(G), G @ J) <= OP_TOL, op
            assert rel_error(op.jvp(H), J @ H) <= OP_TOL, op
        if batch:
            G = rng.normal(size=(batch, k, m))
            assert rel_error(op.vjp_sum(G), np.sum(G @ J, axis=0)) <= OP_TOL, op
            assert rel_error(op.vjp_mean(G), np.mean(G @ J, axis=0)) <= OP_TOL, op
            out = np.full((k, n), np.nan)
            assert op.vjp_sum(G, out=out) is out and rel_error(out, np.sum(G @ J, axis=0)) <= OP_TOL
            part = op.batch_slice(1, batch)
            assert part.batch == batch - 1 and np.array_equal(part.dense(), J[1:])


def test_dense_into_a_strided_buffer():
    """dense(out=…) writes every entry, also into a view of a bigger buffer."""
    for op in token_operators(2):
        big = np.full((2, op.shape[0], op.shape[1] + 3), np.nan)
        view = big[..., 1 : 1 + op.shape[1]]
        op.dense(out=view)
        assert not np.isnan(view).any() and np.array_equal(view, op.dense())


def test_vjp_sum_is_one_gemm_over_samples_and_tokens():
    X, G = rng.normal(size=(5, 12)), rng.normal(size=(5, 1, 8))
    out = TokenKronRows(X, m=2, tokens=4).vjp_sum(G)
    Gr, Xr = G.reshape(20, 2), X.reshape(20, 3)  # every (sample, token) a row
    assert rel_error(out[0], np.concatenate([(Gr.T @ Xr).ravel(), Gr.sum(axis=0)])) <= OP_TOL


def test_costs_by_hand():
    W, x = np.ones((2, 3)), np.ones((7, 12))
    J_x, J_theta = TokenMatrix(W, tokens=4), TokenKronRows(x, m=2, tokens=4)
    assert (J_x.vjp_flops(1), J_x.jvp_flops(5), J_x.nbytes, J_x.nbytes_dense) == (4 * 6, 4 * 6 * 5, 48, 8 * 12 * 8)
    assert (J_theta.vjp_flops(1), J_theta.jvp_flops(5), J_theta.nbytes) == (8 * 4, 8 * 4 * 5, 7 * 12 * 8)
    assert J_theta.nbytes_dense == 7 * 8 * 8 * 8
    D = TokenDiagRows(np.ones((2, 15)), tokens=3)
    assert (D.vjp_flops(2), D.jvp_flops(1), D.nbytes, D.shape) == (2 * 2 * 15, 2 * 15, 2 * 15 * 8, (15, 10))


def test_outlines():
    W = np.ones((2, 3))
    boxes = TokenMatrix(W, tokens=3).outline()
    assert [(b.row, b.col, b.rows, b.cols, b.label) for b in boxes] == [(0, 0, 2, 3, "W"), (2, 3, 2, 3, "W"), (4, 6, 2, 3, "W")]
    boxes = TokenKronRows(np.ones(6), m=2, tokens=2).outline()  # Dense(3, 2, tokens=2): (4, 8)
    token_rows = [(b.row, b.rows) for b in boxes if b.style == "box" and b.cols == 8]
    assert token_rows == [(0, 2), (2, 2)]  # each token's rows outlined
    assert sorted((b.row, b.col) for b in boxes if b.style == "box" and b.rows == 1) == [(0, 0), (1, 3), (2, 0), (3, 3)]
    assert [b.col for b in boxes if b.style == "rule"] == [6] and [b.label for b in boxes if b.label] == [r"I_{2} \otimes x_t^T", "I_{2}"]
    diagonals = [(b.row, b.col) for b in TokenDiagRows(np.ones(6), tokens=2, name="x̂", tex=r"\hat{x}").outline() if b.style == "diagonal"]
    assert diagonals == [(0, 0), (0, 3), (3, 0), (3, 3)]


# --- symbolic forms ----------------------------------------------------------------------
@pytest.mark.parametrize("n_in, n_out, tokens", [(2, 3, 2), (1, 2, 3), (3, 1, 2)])
def test_closed_forms_equal_sympys_derivative(n_in, n_out, tokens):
    layer = jn.Dense(n_in, n_out, tokens=tokens)
    assert all(c.proved for c in symbolic.compare_closed_forms(layer))
    x = sp.symbols(f"x1:{tokens * n_in + 1}")
    out = layer.sympy_forward(x, symbolic.param_symbols(layer))
    assert len(out) == tokens * n_out and out[-1].free_symbols & set(x) == set(x[-n_in:])  # the last token's inputs only


def test_size_hooks_by_hand():
    """An output holds its token's n_in inputs; m inputs reach at most m tokens; W_ij and b_i reach T outputs each."""
    layer, u = jn.Dense(2, 3, tokens=4), Entry(5.0)
    assert layer.symbolic_entry(8, u) == jn.Dense(2, 3).symbolic_entry(2, u) == Entry(2 * (5 + 2) + 2, 2 * (1 + 2) + 2)
    assert [layer.symbolic_derivative(8, u, m, 1.0) for m in (1, 2, 8)] == [(3, 3.0), (6, 7.0), (12, 7.0)]
    assert layer.symbolic_params(u) == [(5.0, 4 * 6), (1.0, 4 * 3)]


@pytest.mark.parametrize("layers", [
    [dense(2, 3, 2, seed=1), jn.Tanh(), dense(3, 1, 2, seed=2)],
    [dense(2, 6, 1, seed=3), jn.Softmax(), dense(1, 1, 6, seed=4)],  # θ of Dense 1 reaches every token of Dense 2
])
def test_symbolic_gradient_and_its_size_estimate(layers):
    net = jn.Network(layers, jn.MSE())
    x, y = rng.normal(size=net.input_size), rng.normal(size=layers[-1].n_out)
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= GRAD_TOL
    built = sum(1 for e in symbolic_network.direct_gradient(net).direct for _ in sp.preorder_traversal(e))
    assert 0.75 <= estimate_size(net) / built <= 1.5


# --- a whole network ----------------------------------------------------------------------
def network(seed: int = 0) -> jn.Network:
    return jn.Network([dense(3, 5, 4, seed=seed), jn.Tanh(), dense(5, 2, 4, seed=seed + 1)], jn.MSE())


def plain_loss(theta, x, y):
    """The network written plainly: tokens (4, 3) → W1 x_t + b1 → tanh → W2 h_t + b2 → (4, 2), MSE, batch mean."""
    W1, b1 = anp.reshape(theta[:15], (5, 3)), theta[15:20]
    W2, b2 = anp.reshape(theta[20:30], (2, 5)), theta[30:32]
    X = anp.reshape(x, (-1, 4, 3))
    Z = anp.dot(anp.tanh(anp.dot(X, W1.T) + b1), W2.T) + b2  # (B, 4, 2)
    return anp.mean((anp.reshape(Z, (-1, 8)) - anp.reshape(y, (-1, 8))) ** 2)


@pytest.mark.parametrize("batch", [None, 3])
def test_network_gradient_equals_autograd(batch):
    net = network(seed=3)
    x = rng.normal(size=(12,) if batch is None else (batch, 12))
    y = rng.normal(size=(8,) if batch is None else (batch, 8))
    reference = grad(plain_loss)(net.get_params(), x, y)
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(x, y, mode=mode), reference) <= GRAD_TOL
    assert rel_error(net.gradient(x, y, method="finite-difference"), reference) <= 1e-6


@pytest.mark.parametrize("batch", [None, 2])
def test_chains_in_every_order(batch):
    net = network(seed=4)
    x = rng.normal(size=(12,) if batch is None else (batch, 12))
    y = rng.normal(size=(8,) if batch is None else (batch, 8))
    for chain in (net.chain(x, y, layer="Dense 1"), net.chain(x, y, wrt="input")):
        reference = chain.evaluate("reverse", "structured")
        for tree in [*all_trees(len(chain.factors)), "forward", "optimal"]:
            for mode in ("materialised", "structured"):
                assert rel_error(chain.evaluate(tree, mode), reference) <= 1e-13
    chain = net.chain(x, y, layer="Dense 1")
    assert chain.flops("reverse", "structured") < chain.flops("reverse")
    if batch:  # the batch Jacobians: blockdiag(I ⊗ W) and the stacked token rows
        assert rel_error(batch_chain(chain).evaluate("reverse", "structured")[0], mean_of_products(chain)[0]) <= 1e-13
        assert rel_error(mean_of_products(chain)[0], net.gradient(x, y)[:20]) <= 1e-13
    trace = net.trace(x, y)
    assert trace.factor("J_x(Dense 2)").kind == "I ⊗ W" and trace.factor("J_θ(Dense 1)").kind == "[I ⊗ x_tᵀ | I] per token"


def test_spec_networks_are_unchanged():
    net = jn.build_network("3,4,2", "tanh", "mse")
    assert [repr(l) for l in net.layers] == ["Dense(3, 4)", "Tanh()", "Dense(4, 2)"]


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("tokens", [0, -2, 2.0, "4", True, None])
def test_bad_tokens_are_named(tokens):
    with pytest.raises(ValueError, match=f"^{re.escape(f'Dense: tokens must be a positive integer, got {tokens!r}')}$"):
        jn.Dense(3, 2, tokens=tokens)


def test_an_input_of_the_wrong_size_is_named():
    layer = jn.Dense(3, 2, tokens=4)
    with pytest.raises(ValueError, match=r"^Dense\(4×3→4×2\): the input has 3 features, but tokens=4 × n_in=3 = 12$"):
        layer.forward(np.ones(3))
    with pytest.raises(ValueError, match=r"Dense\(5, 2, tokens=3\).* expects 15 inputs"):
        jn.Network([jn.Dense(3, 5, tokens=4), jn.Dense(5, 2, tokens=3)], jn.MSE())
    with pytest.raises(TypeError):
        jn.Dense(3, 2, 4)  # tokens is keyword-only
