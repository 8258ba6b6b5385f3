"""``LayerNorm(n, tokens=T, eps)``: each token normalised, ``y = γ ⊙ (x − μ)/√(σ² + eps) + β``, γ and β shared.

* the forward pass against ``F.layer_norm``'s semantics written plainly (biased variance), and a
  value worked by hand;
* ``J_x`` (block-diagonal, ``diag(γ/σ̂) P`` per token) and ``J_θ`` (the tokens' ``[diag(x̂_t) | I]``)
  against central differences (≤ 1e-7), the complex step and HIPS autograd (≤ 1e-12), odd ``n``;
* the projection: ``J_x 𝟙_t = 0`` per token, ``J_x x̂_t = (γ/σ̂_t) ⊙ x̂_t · eps/(σ_t² + eps)`` exactly,
  ``P`` symmetric, ``P² = P − (eps/(σ² + eps)) x̂x̂ᵀ/n``;
* the structured products against the dense matrix; batches equal the stacked samples;
* the closed forms equal SymPy's derivative; the size estimate; a network's gradient;
* bad sizes and arguments are named.
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
from jacobnet.check import check_jacobian, check_layer, jacobian_fd, rel_error
from jacobnet.core.norm import LayerNorm, LayerNormJacobian
from jacobnet.core.sizes import Entry
from jacobnet.core.tokens import TokenDiagRows
from jacobnet.core.validate import as_input
from jacobnet.symbolic import network as symbolic_network
from jacobnet.symbolic.guard import SymbolicSizeError, check_layer_size, estimate_layer_size, estimate_size

FD_TOL = 1e-7
AD_TOL = 1e-12
OP_TOL = 1e-13
GRAD_TOL = 1e-10
rng = np.random.default_rng(20250612)

# (n, tokens, eps): odd n, one token and several, a large eps where its effect shows
CASES = [(3, 2, 1e-5), (5, 1, 1e-5), (5, 3, 0.5), (1, 3, 1e-5), (4, 2, 1e-3), (7, 2, 2.0), (2, 3, 0.5)]  # n = 2: J_x is the eps term


def layer_norm(n: int, tokens: int = 1, eps: float = 1e-5, seed: int = 0) -> LayerNorm:
    layer = LayerNorm(n, tokens=tokens, eps=eps)
    r = np.random.default_rng(seed)
    layer.set_params(np.concatenate([r.uniform(0.5, 2.0, n) * r.choice([-1, 1], n), r.normal(size=n)]))
    return layer


def plain(theta, x, n: int, tokens: int, eps: float, np_=anp):
    """F.layer_norm over the last axis of x as (T, n), written plainly: biased variance, eps inside the root."""
    gamma, beta = theta[:n], theta[n:]
    X = np_.reshape(x, (tokens, n))
    mu = np_.mean(X, axis=1, keepdims=True)
    var = np_.mean((X - mu) ** 2, axis=1, keepdims=True)
    return np_.reshape(gamma * (X - mu) / np_.sqrt(var + eps) + beta, (-1,))


def ops(layer: LayerNorm, x: np.ndarray):
    x = as_input(x, layer.name, layer.n_in)
    return layer.jacobian_input_op(x), layer.jacobian_params_op(x)


# --- forward ---------------------------------------------------------------------------
def test_a_value_worked_by_hand():
    """x = (1, 2, 4): μ = 7/3, σ² = ((4/3)² + (1/3)² + (5/3)²)/3 = 14/9; at start γ = 1, β = 0."""
    layer = LayerNorm(3)
    assert layer.gamma.tolist() == [1.0, 1.0, 1.0] and layer.beta.tolist() == [0.0, 0.0, 0.0]
    want = np.array([-4.0, -1.0, 5.0]) / 3 / np.sqrt(14 / 9 + 1e-5)
    np.testing.assert_allclose(layer.forward([1.0, 2.0, 4.0]), want, rtol=1e-15)
    two = LayerNorm(3, tokens=2, eps=0.25)
    two.set_params([2.0, 2.0, 2.0, 1.0, 0.0, -1.0])  # token 2 = (0, 0, 3): μ = 1, σ² = 2, σ̂ = 1.5
    np.testing.assert_allclose(two.forward([1.0, 2.0, 4.0, 0.0, 0.0, 3.0])[3:], [1 - 4 / 3, -4 / 3, 8 / 3 - 1], rtol=1e-15)


@pytest.mark.parametrize("n, tokens, eps", CASES)
def test_forward_is_layer_norm(n, tokens, eps):
    layer = layer_norm(n, tokens, eps, seed=n)
    X = rng.normal(size=(3, tokens * n)) * 3 + 1
    want = np.stack([plain(layer.get_params(), x, n, tokens, eps, np) for x in X])
    assert rel_error(layer.forward(X), want) <= 1e-15
    assert rel_error(layer.forward(X[1]), want[1]) <= 1e-15


def test_one_feature_and_constant_tokens():
    """n = 1: x̂ = 0, so y = β and J_x = 0; a constant token: x̂ = 0, J_x = (γ/√eps)(I − 𝟙𝟙ᵀ/n)."""
    layer = layer_norm(1, tokens=3)
    x = np.array([2.0, -1.0, 7.0])
    np.testing.assert_array_equal(layer.forward(x), np.broadcast_to(layer.beta, 3))
    np.testing.assert_array_equal(layer.jacobian_input(x), np.zeros((3, 3)))
    layer = layer_norm(3, eps=1e-4)
    J = layer.jacobian_input(np.full(3, 5.0))
    assert rel_error(J, np.diag(layer.gamma) / 1e-2 @ (np.eye(3) - 1 / 3)) <= 1e-15


# --- the Jacobians, one sample ----------------------------------------------------------
@pytest.mark.parametrize("n, tokens, eps", CASES)
def test_jacobians_against_differences_complex_step_and_autograd(n, tokens, eps):
    layer = layer_norm(n, tokens, eps, seed=n + tokens)
    x, theta = rng.normal(size=tokens * n) * 2, layer.get_params()
    J_x, J_theta = layer.jacobian_input(x), layer.jacobian_params(x)
    assert J_x.shape == (tokens * n, tokens * n) and J_theta.shape == (tokens * n, 2 * n)
    assert rel_error(J_x, jacobian_fd(layer.forward, x)) <= FD_TOL
    assert all(c.ok for c in check_layer(layer, x, rtol=FD_TOL))
    f_x, f_theta = (lambda v: plain(theta, v, n, tokens, eps, np)), (lambda t: plain(t, x, n, tokens, eps, np))
    assert check_jacobian(f_x, x, J_x, method="complex-step").ok
    assert check_jacobian(f_theta, theta, J_theta, method="complex-step").ok
    assert rel_error(J_x, jacobian(lambda v: plain(theta, v, n, tokens, eps))(x)) <= AD_TOL
    assert rel_error(J_theta, jacobian(lambda t: plain(t, x, n, tokens, eps))(theta)) <= AD_TOL


def test_jacobians_by_their_formulas():
    """Token t's block of J_x is diag(γ/σ̂_t)(I − 𝟙𝟙ᵀ/n − x̂_t x̂_tᵀ/n), off-diagonal blocks 0; J_θ rows [diag(x̂_t) | I]."""
    n, T = 5, 3
    layer = layer_norm(n, T, eps=0.1, seed=3)
    x = rng.normal(size=n * T)
    J_x, J_theta = layer.jacobian_input(x), layer.jacobian_params(x)
    for t in range(T):
        xt = x[t * n : (t + 1) * n]
        sd = np.sqrt(np.var(xt) + 0.1)
        xhat = (xt - xt.mean()) / sd
        block = np.diag(layer.gamma / sd) @ (np.eye(n) - np.ones((n, n)) / n - np.outer(xhat, xhat) / n)
        rows = slice(t * n, (t + 1) * n)
        assert rel_error(J_x[rows, rows], block) <= 1e-14
        assert np.count_nonzero(np.delete(J_x[rows], np.arange(t * n, (t + 1) * n), axis=1)) == 0
        assert rel_error(J_theta[rows], np.hstack([np.diag(xhat), np.eye(n)])) <= 1e-14


# --- the projection -------------------------------------------------------------------
@pytest.mark.parametrize("eps", [1e-5, 0.3, 4.0])
def test_the_projection_kills_the_mean_and_almost_the_radial_direction(eps):
    n, T = 5, 3
    layer = layer_norm(n, T, eps=eps, seed=4)
    x = np.random.default_rng(11).normal(size=n * T) * 1.5  # (its own data: the eps term must stand out of the rounding)
    J = layer.jacobian_input(x)
    for t in range(T):
        xt, rows = x[t * n : (t + 1) * n], slice(t * n, (t + 1) * n)
        one = np.zeros(n * T)
        one[rows] = 1.0
        assert np.abs(J @ one).max() <= 1e-15 * np.abs(J).max()  # shifting a token changes nothing
        var = np.var(xt)
        xhat = np.zeros(n * T)
        xhat[rows] = (xt - xt.mean()) / np.sqrt(var + eps)
        # J x̂ = (γ/σ̂) ⊙ (x̂ − x̂ (x̂ᵀx̂)/n), x̂ᵀx̂ = n σ²/(σ² + eps): exactly eps/(σ² + eps) of (γ/σ̂) ⊙ x̂ is left
        left = layer.gamma / np.sqrt(var + eps) * xhat[rows] * eps / (var + eps)
        rounding = np.abs(J).max() * np.abs(xhat).max()  # J x̂ cancels down to `left`: its error is ε·|J|·|x̂|
        assert rel_error((J @ xhat)[rows], left, scale=rounding) <= 1e-14 and np.abs(left).max() >= 1e-6 * rounding
        assert np.count_nonzero((J @ xhat)[np.arange(n * T) // n != t]) == 0  # the other tokens: untouched


def test_the_projection_is_symmetric_and_idempotent_up_to_eps():
    n, eps = 7, 0.2
    layer = LayerNorm(n, eps=eps)  # γ = 1: J_x = P / σ̂
    x = rng.normal(size=n)
    var = np.var(x)
    P = layer.jacobian_input(x) * np.sqrt(var + eps)
    xhat = (x - x.mean()) / np.sqrt(var + eps)
    np.testing.assert_allclose(P, P.T, rtol=0, atol=1e-15)
    assert rel_error(P @ P, P - eps / (var + eps) * np.outer(xhat, xhat) / n) <= 1e-14
    assert np.linalg.matrix_rank(P) == n - 1  # eps > 0: only 𝟙 is killed exactly (n − 2 with eps → 0)
    assert np.linalg.matrix_rank(LayerNorm(n, eps=1e-300).jacobian_input(x), tol=1e-8) == n - 2


# --- structured products, batches ------------------------------------------------------------
@pytest.mark.parametrize("batch", [None, 1, 3])
@pytest.mark.parametrize("k", [1, 4])
def test_vjp_jvp_and_batch_sums_equal_dense_products(batch, k):
    layer = layer_norm(5, tokens=3, eps=0.05, seed=5)
    x = rng.normal(size=(15,) if batch is None else (batch, 15))
    for op in ops(layer, x):
        J = op.dense()
        m, n = op.shape
        assert op.batch == batch and J.shape == ((m, n) if batch is None else (batch, m, n))
        for lead in [(), (batch,)] if batch else [()]:
            G, H = rng.normal(size=lead + (k, m)), rng.normal(size=lead + (n, k))
            assert rel_error(op.vjp(G), G @ J) <= OP_TOL, op
            assert rel_error(op.jvp(H), J @ H) <= OP_TOL, op
        if batch:
            G = rng.normal(size=(batch, k, m))
            assert rel_error(op.vjp_sum(G), np.sum(G @ J, axis=0)) <= OP_TOL, op
            assert rel_error(op.vjp_mean(G), np.mean(G @ J, axis=0)) <= OP_TOL, op
            part = op.batch_slice(1, batch)
            assert part.batch == batch - 1 and np.array_equal(part.dense(), J[1:]) and part.kind == op.kind


def test_the_vjp_is_the_layer_norm_backward():
    """g ↦ (h − mean(h) − x̂ mean(h ⊙ x̂))/σ̂ with h = γ ⊙ g, token by token (the framework's formula)."""
    layer = layer_norm(5, tokens=2, seed=6)
    x, g = rng.normal(size=10), rng.normal(size=10)
    J_x, _ = ops(layer, x)
    assert isinstance(J_x, LayerNormJacobian) and J_x.kind == "diag(γ/σ̂)·P per token"
    want = []
    for xt, gt in zip(x.reshape(2, 5), g.reshape(2, 5)):
        sd = np.sqrt(xt.var() + 1e-5)
        xhat, h = (xt - xt.mean()) / sd, layer.gamma * gt
        want.append((h - h.mean() - xhat * (h * xhat).mean()) / sd)
    assert rel_error(J_x.vjp(g[None, :])[0], np.concatenate(want)) <= 1e-15
    assert (J_x.vjp_flops(1), J_x.nbytes, J_x.nbytes_dense) == (5 * 10, (10 + 2 + 5) * 8, 100 * 8)


def test_batch_is_the_stacked_samples():
    layer = layer_norm(3, tokens=2, seed=7)
    X = rng.normal(size=(3, 6))
    Y, J_x, J_theta = layer.forward(X), layer.jacobian_input(X), layer.jacobian_params(X)
    assert J_x.shape == (3, 6, 6) and J_theta.shape == (3, 6, 6)
    for b, x in enumerate(X):
        np.testing.assert_array_equal(Y[b], layer.forward(x))
        np.testing.assert_array_equal(J_x[b], layer.jacobian_input(x))
        np.testing.assert_array_equal(J_theta[b], layer.jacobian_params(x))


def test_outlines_and_labels():
    layer = LayerNorm(3, tokens=2)
    J_x, J_theta = ops(layer, rng.normal(size=6))
    assert [(b.row, b.col, b.rows, b.cols, b.label) for b in J_x.outline()] == [(0, 0, 3, 3, "P_{1}"), (3, 3, 3, 3, "P_{2}")]
    assert isinstance(J_theta, TokenDiagRows) and J_theta.kind == "[diag(x̂_t) | I] per token"
    assert [b.label for b in J_theta.outline() if b.label] == [r"\mathrm{diag}(\hat{x}_t)", "I_{3}"]
    assert list(layer.param_labels(2)) == [*(rf"\gamma^{{(2)}}_{{{i}}}" for i in (1, 2, 3)), *(rf"\beta^{{(2)}}_{{{i}}}" for i in (1, 2, 3))]
    net = jn.Network([jn.Dense(2, 3, tokens=2), LayerNorm(3, tokens=2)], jn.MSE())
    assert list(net.param_labels())[9:11] == [r"\gamma^{(2)}_{1}", r"\gamma^{(2)}_{2}"]


def test_repr_name_and_key():
    assert [repr(LayerNorm(4)), repr(LayerNorm(4, tokens=3)), repr(LayerNorm(4, eps=1e-3))] == [
        "LayerNorm(4)", "LayerNorm(4, tokens=3)", "LayerNorm(4, eps=0.001)"]
    assert LayerNorm(4, tokens=3).hyperparameters() == {"n": 4, "tokens": 3, "eps": 1e-5}
    assert LayerNorm(4).key() != LayerNorm(4, eps=1e-3).key() and LayerNorm(4, tokens=2).key() != LayerNorm(8).key()
    layer = LayerNorm(4, tokens=3)
    assert (layer.n_in, layer.out_size(12), layer.n_params, layer.name) == (12, 12, 8, "LayerNorm")


# --- symbolic forms -------------------------------------------------------------------
def test_closed_forms_equal_sympys_derivative():
    checks = symbolic.compare_closed_forms(LayerNorm(3, tokens=2))
    assert [(c.name, c.shape, c.proved) for c in checks] == [("J_x", (6, 6), True), ("J_θ", (6, 6), True)]
    assert all(c.proved for c in symbolic.compare_closed_forms(LayerNorm(2, eps=0.5)))


def test_the_closed_form_is_not_a_different_derivative():
    """A wrong closed form (the radial term dropped) is caught: the proof can fail."""

    class Wrong(LayerNorm):
        def closed_form(self, x, theta):
            n, J_theta = self.n, super().closed_form(x, theta)[1]
            xs = sp.Matrix(list(x))
            sd = sp.sqrt(sum((xi - sum(xs) / n) ** 2 for xi in xs) / n + sp.Float(self.eps))
            return sp.diag(*theta[:n]) / sd * (sp.eye(n) - sp.ones(n, n) / n), J_theta

    checks = symbolic.compare_closed_forms(Wrong(3))
    assert [c.proved for c in checks] == [False, True]


def test_sympy_forward_and_the_numeric_forward_agree():
    layer = layer_norm(3, tokens=2, eps=0.1, seed=8)
    x = rng.normal(size=6)
    xs = sp.symbols("x1:7")
    exprs = layer.sympy_forward(xs, list(layer.get_params()))
    got = [float(e.subs(dict(zip(xs, x)))) for e in exprs]
    assert rel_error(np.array(got), layer.forward(x)) <= 1e-14


def test_size_estimates():
    small = LayerNorm(3, tokens=2)
    Jx, Jt = symbolic.layer_jacobians(small)
    built = sum(1 for M in (Jx, Jt) for e in M for _ in sp.preorder_traversal(e))
    assert 1.0 <= check_layer_size(small, 6) / built <= 2.5  # never below what SymPy builds
    wide = [estimate_layer_size(LayerNorm(n), n) for n in (6, 12, 24)]
    assert wide[0] < wide[1] < wide[2] and wide[2] / wide[1] > 8  # ~n⁴: n² entries of ~n² nodes
    with pytest.raises(SymbolicSizeError, match=r"^symbolic Jacobians of LayerNorm: estimated"):
        check_layer_size(LayerNorm(64, tokens=4), 256)


def test_size_hooks_by_hand():
    """An input reaches the n outputs of its token; m inputs reach at most m tokens; γ_i, β_i reach T outputs each."""
    layer, u = LayerNorm(3, tokens=4), Entry(1.0)
    assert [layer.symbolic_derivative(12, u, m, 1.0)[0] for m in (1, 2, 3, 12)] == [3, 6, 9, 12]
    assert [count for _, count in layer.symbolic_params(u)] == [2 * 3 * 4]
    xs = sp.symbols("x1:13")
    exprs = layer.sympy_forward(xs, sp.symbols("t1:7"))
    assert [sum(xs[j] in e.free_symbols for e in exprs) for j in (0, 5, 11)] == [3, 3, 3]
    assert layer.symbolic_entry(12, u).s == LayerNorm(3).symbolic_entry(3, u).s  # a token's outputs hold its inputs only


@pytest.mark.parametrize("layers", [
    [layer_norm(3, tokens=2, seed=1), jn.Dense(3, 1, tokens=2, seed=1)],
    [jn.Dense(2, 4, seed=2), layer_norm(4, seed=2), jn.Dense(2, 1, tokens=2, seed=3)],  # each γ_i reaches 4 inputs, 2 tokens
])
def test_symbolic_gradient_of_a_network(layers):
    net = jn.Network(layers, jn.MSE())
    x, y = rng.normal(size=net.input_size), rng.normal(size=layers[-1].n_out)
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= GRAD_TOL
    built = sum(1 for e in symbolic_network.direct_gradient(net).direct for _ in sp.preorder_traversal(e))
    assert 0.75 <= estimate_size(net) / built <= 1.5


# --- a whole network -------------------------------------------------------------------
def plain_loss(theta, x, y):
    """Dense(3→4 per token) → LayerNorm(4) → tanh → Dense(4→2 per token), two tokens, MSE, batch mean."""
    W1, b1 = anp.reshape(theta[:12], (4, 3)), theta[12:16]
    gamma, beta = theta[16:20], theta[20:24]
    W2, b2 = anp.reshape(theta[24:32], (2, 4)), theta[32:34]
    H = anp.dot(anp.reshape(x, (-1, 2, 3)), W1.T) + b1  # (B, 2, 4)
    mu = anp.mean(H, axis=-1, keepdims=True)
    var = anp.mean((H - mu) ** 2, axis=-1, keepdims=True)
    Z = anp.dot(anp.tanh(gamma * (H - mu) / anp.sqrt(var + 1e-5) + beta), W2.T) + b2
    return anp.mean((anp.reshape(Z, (-1, 4)) - anp.reshape(y, (-1, 4))) ** 2)


@pytest.mark.parametrize("batch", [None, 3])
def test_network_gradient_equals_autograd(batch):
    norm = layer_norm(4, tokens=2, seed=9)
    net = jn.Network([jn.Dense(3, 4, tokens=2, seed=1), norm, jn.Tanh(), jn.Dense(4, 2, tokens=2, seed=2)], jn.MSE())
    x = rng.normal(size=(6,) if batch is None else (batch, 6))
    y = rng.normal(size=(4,) if batch is None else (batch, 4))
    reference = grad(plain_loss)(net.get_params(), x, y)
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(x, y, mode=mode), reference) <= GRAD_TOL
    chain = net.chain(x, y, layer="Dense 1")
    assert "J_x(LayerNorm 1)" in [f.name for f in chain.factors]
    reference_chain = chain.evaluate("reverse", "structured")
    for order in ("forward", "optimal"):
        for mode in ("materialised", "structured"):
            assert rel_error(chain.evaluate(order, mode), reference_chain) <= 1e-13


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 0}, ValueError, "LayerNorm: n must be a positive integer, got 0"),
    ({"n": 2.5}, ValueError, "LayerNorm: n must be a positive integer, got 2.5"),
    ({"n": "4"}, ValueError, "LayerNorm: n must be a positive integer, got '4'"),
    ({"n": 4, "tokens": 0}, ValueError, "LayerNorm: tokens must be a positive integer, got 0"),
    ({"n": 4, "tokens": 1.0}, ValueError, "LayerNorm: tokens must be a positive integer, got 1.0"),
    ({"n": 4, "eps": 0.0}, ValueError, "LayerNorm: eps must be a positive finite number, got 0.0"),
    ({"n": 4, "eps": -1e-5}, ValueError, "LayerNorm: eps must be a positive finite number, got -1e-05"),
    ({"n": 4, "eps": float("inf")}, ValueError, "LayerNorm: eps must be a positive finite number, got inf"),
    ({"n": 4, "eps": "1e-5"}, TypeError, "LayerNorm: eps must be a positive real number, got '1e-5'"),
    ({"n": 4, "eps": True}, TypeError, "LayerNorm: eps must be a positive real number, got True"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    n = kwargs.pop("n")
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        LayerNorm(n, **kwargs)


def test_an_input_of_the_wrong_size_is_named():
    layer = LayerNorm(4, tokens=3)
    for x in (np.ones(10), np.ones((2, 10))):
        with pytest.raises(ValueError, match=r"^LayerNorm: the input has 10 features, but tokens=3 × n=4 = 12$"):
            layer.forward(x)
    with pytest.raises(ValueError, match="the input has 10 features"):
        layer.jacobian_input(np.ones(10))
    with pytest.raises(ValueError, match=r"LayerNorm expects input of shape \(12,\) or \(B, 12\), got shape \(2, 3, 4\)"):
        layer.forward(np.ones((2, 3, 4)))
    with pytest.raises(TypeError, match="LayerNorm expects a real-valued numeric input"):
        layer.forward(np.array(["a"] * 12))
    with pytest.raises(ValueError, match=r"LayerNorm: gamma must be a real array of shape \(4,\)"):
        layer.gamma = np.ones(12)
    with pytest.raises(ValueError, match=r"LayerNorm\(4, tokens=3\).* expects 12 inputs"):
        jn.Network([jn.Dense(3, 2, tokens=5), layer], jn.MSE())
