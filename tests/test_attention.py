"""SelfAttention: one head, ``Y = softmax_row(Q Kᵀ/√d_head) V``, with and without the causal mask.

* a pinned two-token attention worked out by hand (scores, softmax, output, J_x, J_θ), causal too;
* J_x and J_θ on random non-square instances against central differences (≤ 1e-7),
  the complex step and HIPS autograd of the forward written plainly here (≤ 1e-12);
* batches (B = 3) equal the stacked per-sample Jacobians; the structured vjp / jvp /
  vjp_sum / batch_slice / dense(out=…) equal the dense matrix's products;
* the mask: J_x exactly zero above the block diagonal, A exactly 0 there;
* the hand-derived closed forms proved equal to SymPy's derivative (tiny instances),
  the symbolic gradient of a network through the layer, the size estimate;
* labels, initialisation, structure outline, bad input named.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import check_jacobian, check_layer, jacobian_fd, rel_error
from jacobnet.core.attention import SelfAttention
from jacobnet.core.attention_jacobians import attention_weights
from jacobnet.core.finite import jacobian_complex_step
from jacobnet.core.sizes import Entry
from jacobnet.symbolic import network as symbolic_network
from jacobnet.symbolic.guard import MAX_EXPRESSION_SIZE, SymbolicSizeError, check_layer_size, estimate_size

FD_TOL = 1e-7
CS_TOL = 1e-13
AD_TOL = 1e-12
OP_TOL = 1e-13  # structured product vs dense product: the same numbers, summed in another order
SHAPES = [(3, 5, 2), (4, 3, 5), (2, 1, 3), (1, 4, 3)]  # (tokens, d_model, d_head): non-square, one token too


def plain_attention(theta, x, T, d, h, causal):
    """The layer written plainly (autograd's numpy; complex input works too): Q, K, V, masked softmax, A V."""
    X = anp.reshape(x, (T, d))
    Wq, Wk, Wv = (anp.reshape(theta[i * h * d : (i + 1) * h * d], (h, d)) for i in range(3))
    Q, K, V = anp.dot(X, Wq.T), anp.dot(X, Wk.T), anp.dot(X, Wv.T)
    keep = np.tril(np.ones((T, T))) if causal else np.ones((T, T))
    E = anp.exp(anp.dot(Q, K.T) / np.sqrt(h)) * keep
    return anp.reshape(anp.dot(E / anp.sum(E, axis=1, keepdims=True), V), (-1,))


def instance(T, d, h, causal, seed=0):
    layer = SelfAttention(T, d, h, causal=causal, seed=seed)
    return layer, np.random.default_rng(seed + 100).normal(size=T * d)


def of_params(layer, x):
    """The layer's output as a function of θ, through set_params (θ restored by the caller)."""

    def f(t):
        layer.set_params(t)
        return layer.forward(x)

    return f


# --- a pinned attention, by hand ----------------------------------------------
def test_two_tokens_by_hand():
    # T = 2, d_model = d_head = 1, W_q = W_k = W_v = [[1]], x = (0, 1): Q = K = V = x.
    # Scores S = x xᵀ = [[0, 0], [0, 1]].
    # Softmax rows: A_1 = (1/2, 1/2); A_2 = (1/(1+e), e/(1+e)) = (1 − σ, σ), σ = σ(1) = 0.7310585786300049.
    # Output Y = A V = (1/2, σ) = (0.5, 0.7310585786300049).
    # J_x by hand (y_1 = (x_1 e^{x_1²} + x_2 e^{x_1 x_2}) / (e^{x_1²} + e^{x_1 x_2}), y_2 likewise):
    #   ∂y_1/∂x_1 = (2·2 − 1·1)/2² = 3/4,     ∂y_1/∂x_2 = (1·2 − 1·0)/2² = 1/2,
    #   ∂y_2/∂x_1 = 1/(1+e)² = (1 − σ)² = 0.07232948812851325,
    #   ∂y_2/∂x_2 = (3e + e²)/(1+e)² = σ + 2σ(1 − σ) = 1.1242824451129686.
    # J_θ, θ = (q, k, v): y_1 = v/2 at x_1 = 0, so (0, 0, 1/2); y_2 = v σ(q k) there, so (σ(1−σ), σ(1−σ), σ).
    layer = SelfAttention(2, 1, 1)
    layer.set_params([1.0, 1.0, 1.0])
    x = np.array([0.0, 1.0])
    e = np.e
    sig = e / (1 + e)
    np.testing.assert_allclose(layer.forward(x), [0.5, 0.7310585786300049], rtol=1e-15)
    np.testing.assert_allclose(layer.jacobian_input(x), [[0.75, 0.5], [0.07232948812851325, 1.1242824451129686]], rtol=1e-14)
    np.testing.assert_allclose(layer.jacobian_input(x)[1], [1 / (1 + e) ** 2, (3 * e + e * e) / (1 + e) ** 2], rtol=1e-14)
    np.testing.assert_allclose(layer.jacobian_params(x), [[0.0, 0.0, 0.5], [sig * (1 - sig), sig * (1 - sig), sig]], rtol=1e-14)
    np.testing.assert_allclose(layer.state(x).A, [[0.5, 0.5], [1 - sig, sig]], rtol=1e-15)


def test_two_tokens_by_hand_causal():
    # The same with the mask: token 1 sees only itself, A_1 = (1, 0), y_1 = v x_1 = 0,
    # so ∂y_1/∂x = (v, 0) = (1, 0) and ∂y_1/∂θ = (0, 0, x_1) = (0, 0, 0); token 2 sees both: unchanged.
    layer = SelfAttention(2, 1, 1, causal=True)
    layer.set_params([1.0, 1.0, 1.0])
    x = np.array([0.0, 1.0])
    sig = np.e / (1 + np.e)
    np.testing.assert_allclose(layer.forward(x), [0.0, 0.7310585786300049], rtol=1e-15)
    np.testing.assert_allclose(layer.jacobian_input(x), [[1.0, 0.0], [0.07232948812851325, 1.1242824451129686]], rtol=1e-14)
    np.testing.assert_allclose(layer.jacobian_params(x), [[0.0, 0.0, 0.0], [sig * (1 - sig), sig * (1 - sig), sig]], rtol=1e-14)
    assert layer.state(x).A[0, 1] == 0.0 and layer.jacobian_input(x)[0, 1] == 0.0


def test_one_token_is_a_projection():
    """T = 1: A = [[1]], so Y = W_v x exactly, J_x = W_v and J_θ = [0 | 0 | I ⊗ xᵀ]."""
    layer, x = instance(1, 4, 3, causal=False)
    np.testing.assert_array_equal(layer.jacobian_input(x), layer.W_v)
    J = layer.jacobian_params(x)
    np.testing.assert_array_equal(J[:, :24], 0.0)
    np.testing.assert_array_equal(J[:, 24:], np.kron(np.eye(3), x[None, :]))


# --- J_x, J_θ against finite differences, the complex step and autograd -----------
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T, d, h", SHAPES)
def test_jacobians_against_differences(T, d, h, causal):
    layer, x = instance(T, d, h, causal)
    theta = layer.get_params()
    assert rel_error(layer.jacobian_input(x), jacobian_fd(layer.forward, x)) <= FD_TOL
    try:
        assert rel_error(layer.jacobian_params(x), jacobian_fd(of_params(layer, x), theta)) <= FD_TOL
    finally:
        layer.set_params(theta)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T, d, h", SHAPES)
def test_jacobians_against_the_complex_step(T, d, h, causal):
    """The layer's own forward for J_x (it takes complex input); the plain one for J_θ."""
    layer, x = instance(T, d, h, causal)
    theta = layer.get_params()
    assert rel_error(layer.jacobian_input(x), jacobian_complex_step(layer.apply, x)) <= CS_TOL
    reference = jacobian_complex_step(lambda t: plain_attention(t, x, T, d, h, causal), theta)
    assert rel_error(layer.jacobian_params(x), reference) <= CS_TOL


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("T, d, h", SHAPES)
def test_jacobians_against_autograd(T, d, h, causal):
    layer, x = instance(T, d, h, causal)
    theta = layer.get_params()
    np.testing.assert_allclose(layer.forward(x), plain_attention(theta, x, T, d, h, causal), rtol=1e-13, atol=1e-15)
    assert rel_error(layer.jacobian_input(x), autograd.jacobian(lambda v: plain_attention(theta, v, T, d, h, causal))(x)) <= AD_TOL
    assert rel_error(layer.jacobian_params(x), autograd.jacobian(lambda t: plain_attention(t, x, T, d, h, causal))(theta)) <= AD_TOL


@pytest.mark.parametrize("causal", [False, True])
def test_check_layer_passes_and_finds_the_wrong_mask(causal):
    layer, x = instance(3, 5, 2, causal)
    assert all(c.ok for c in check_layer(layer, x))
    wrong = SelfAttention(3, 5, 2, causal=not causal, seed=0)  # the other mask's Jacobian, checked against this forward
    assert not check_jacobian(layer.forward, x, wrong.jacobian_input(x)).ok


def test_tolerances_reject_a_transposed_weight_role():
    """Swapping W_q and W_k transposes the scores: the check must see it."""
    layer, x = instance(3, 5, 2, causal=False)
    swapped = SelfAttention(3, 5, 2)
    swapped.W_q, swapped.W_k, swapped.W_v = layer.W_k, layer.W_q, layer.W_v
    assert rel_error(swapped.jacobian_input(x), layer.jacobian_input(x)) > 1e-3


# --- batches and the structured products --------------------------------------
@pytest.mark.parametrize("causal", [False, True])
def test_batches_are_the_stacked_samples(causal):
    layer, _ = instance(3, 5, 2, causal)
    X = np.random.default_rng(7).normal(size=(3, 15))
    np.testing.assert_allclose(layer.forward(X), np.stack([layer.forward(x) for x in X]), rtol=1e-14, atol=1e-16)
    for J, one in ((layer.jacobian_input, layer.jacobian_input), (layer.jacobian_params, layer.jacobian_params)):
        batch = J(X)
        assert batch.shape[0] == 3
        assert rel_error(batch, np.stack([one(x) for x in X])) <= 1e-14


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("wrt", ["input", "params"])
def test_structured_products_equal_the_dense_ones(wrt, causal):
    layer, _ = instance(3, 5, 2, causal)
    rng = np.random.default_rng(11)
    X = rng.normal(size=(3, 15))
    op = layer.jacobian_op(X, wrt)
    D = op.dense()
    m, n = op.shape
    G, H = rng.normal(size=(3, 4, m)), rng.normal(size=(3, n, 2))
    assert rel_error(op.vjp(G), G @ D) <= OP_TOL
    assert rel_error(op.jvp(H), D @ H) <= OP_TOL
    assert rel_error(op.vjp(G[0]), G[0] @ D) <= OP_TOL  # one G for every sample: broadcast
    assert rel_error(op.jvp(H[0]), D @ H[0]) <= OP_TOL
    assert rel_error(op.vjp_sum(G), np.einsum("bkm,bmn->kn", G, D)) <= OP_TOL
    out = np.zeros((2, 4, n))[1]  # a view into a bigger array, written in place
    assert op.vjp_sum(G, out=out) is out and rel_error(out, np.einsum("bkm,bmn->kn", G, D)) <= OP_TOL
    assert rel_error(op.vjp_mean(G), np.einsum("bkm,bmn->kn", G, D) / 3) <= OP_TOL
    np.testing.assert_array_equal(op.batch_slice(1, 3).dense(), D[1:3])
    one = layer.jacobian_op(X[2], wrt)
    assert one.batch is None and rel_error(one.vjp(G[2]), G[2] @ D[2]) <= OP_TOL
    assert rel_error(one.jvp(H[2]), D[2] @ H[2]) <= OP_TOL
    assert rel_error(one.vjp_sum(G[2]), G[2] @ D[2]) <= OP_TOL
    strided = np.zeros((n, m)).T  # Fortran order: the fill cannot reshape it as a view, and still writes every entry
    one.dense(out=strided)
    np.testing.assert_array_equal(strided, D[2])


def test_structured_costs():
    """Bytes: the saved forward, not the matrix; FLOPs: the attention backward, not a dense product."""
    T, d, h, B = 8, 16, 4, 3
    layer = SelfAttention(T, d, h, causal=True, seed=0)
    X = np.random.default_rng(0).normal(size=(B, T * d))
    J_x, J_theta = layer.jacobian_input_op(X), layer.jacobian_params_op(X)
    assert J_x.nbytes == 8 * (B * (3 * T * h + T * T) + 3 * h * d)
    assert J_theta.nbytes == 8 * B * (T * d + 3 * T * h + T * T)
    for op in (J_x, J_theta):
        m, n = op.shape
        assert op.nbytes < op.nbytes_dense / 10
        assert op.vjp_flops(1) == 4 * T * T * h + 2 * T * T + 3 * T * h * d < m * n
        assert op.jvp_flops(2) == 2 * op.vjp_flops(1) < m * n * 2


def test_the_network_gradient_through_attention():
    net = jn.Network([SelfAttention(3, 5, 2, causal=True, seed=0), jn.Dense(6, 2, seed=1)], jn.SoftmaxCrossEntropy())
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(3, 15)), np.eye(2)[[0, 1, 1]]
    g = net.gradient(X, Y)
    assert rel_error(net.gradient(X, Y, mode="materialised"), g) <= 1e-13
    assert rel_error(net.gradient(X, Y, method="finite-difference"), g) <= 1e-7
    assert net.param_labels()[0] == "W^{q(1)}_{1,1}" and net.names[0] == "SelfAttention 1"


# --- the mask and the forward's numerics ----------------------------------------
def test_causal_jacobian_is_block_lower_triangular():
    T, d, h = 4, 3, 2
    for causal in (False, True):
        layer, x = instance(T, d, h, causal)
        blocks = layer.jacobian_input(x).reshape(T, h, T, d)
        for t in range(T):
            for s in range(T):
                if causal and s > t:
                    assert np.all(blocks[t, :, s, :] == 0.0), (t, s)  # exactly zero, not small
                else:
                    assert np.abs(blocks[t, :, s, :]).max() > 1e-3, (t, s)
        A = layer.state(x).A
        assert np.all((A == 0.0) == (np.triu(np.ones((T, T)), 1).astype(bool) & causal))


def test_the_first_token_attends_to_itself_only():
    layer, x = instance(3, 5, 2, causal=True)
    np.testing.assert_array_equal(layer.state(x).A[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(layer.forward(x)[:2], layer.W_v @ x[:5], rtol=1e-14, atol=1e-16)


def test_large_scores_do_not_overflow():
    """Scores in the thousands: the shifted softmax saturates to one-hot rows, no overflow (warnings are errors)."""
    layer, x = instance(3, 5, 2, causal=False)
    x = 400.0 * x
    s = layer.state(x)
    S = s.Q @ s.K.T / np.sqrt(2)
    assert np.abs(S).max() > 1000
    np.testing.assert_allclose(s.A.sum(axis=1), 1.0, rtol=1e-15)
    winners = s.V[np.argmax(S, axis=1)]  # each token copies the value of its top-scoring token
    np.testing.assert_allclose(layer.forward(x), winners.ravel(), rtol=1e-12)
    assert np.all(np.isfinite(layer.jacobian_input(x))) and np.all(np.isfinite(layer.jacobian_params(x)))
    np.testing.assert_array_equal(attention_weights(np.array([[0.0, -np.inf], [1e4, 0.0]]), False), [[1.0, 0.0], [1.0, 0.0]])


# --- symbolic forms ----------------------------------------------------------------
SLOW = pytest.mark.slow


@pytest.mark.parametrize("T, d, h, causal", [
    (2, 1, 1, False), (2, 1, 1, True), (2, 2, 1, True),
    pytest.param(2, 2, 1, False, marks=SLOW),  # 2–3 s: SymPy's derivative of the unmasked softmax cancels slowly
    pytest.param(2, 1, 2, False, marks=SLOW),  # d_head = 2: the scale 1/√2 is irrational, C has two columns
    pytest.param(2, 1, 2, True, marks=SLOW),
])
def test_closed_forms_equal_sympy(T, d, h, causal):
    checks = symbolic.compare_closed_forms(SelfAttention(T, d, h, causal=causal))
    assert [(c.name, c.shape, c.proved) for c in checks] == [("J_x", (T * h, T * d), True), ("J_θ", (T * h, 3 * h * d), True)]


def test_a_wrong_closed_form_is_not_proved():
    class Transposed(SelfAttention):  # the token grid transposed: ∂y_s/∂x_t in place of ∂y_t/∂x_s
        def closed_form(self, x, theta):
            J_x, J_theta = super().closed_form(x, theta)
            return J_x.T, J_theta

    by_input, by_params = symbolic.compare_closed_forms(Transposed(2, 1, 1))
    assert not by_input.proved and by_params.proved


def test_sympy_forward_evaluates_to_the_numeric_forward():
    for causal in (False, True):
        layer, x = instance(2, 3, 2, causal)
        xs, ts = sp.symbols(f"x:{layer.n_in}"), sp.symbols(f"t:{layer.n_params}")
        values = dict(zip(xs, x)) | dict(zip(ts, layer.get_params()))
        got = [float(e.xreplace(values)) for e in layer.sympy_forward(xs, ts)]
        np.testing.assert_allclose(got, layer.forward(x), rtol=1e-13)


@pytest.mark.parametrize("causal", [False, True])
def test_symbolic_gradient_through_attention(causal):
    net = jn.Network([SelfAttention(2, 2, 1, causal=causal, seed=0), jn.Dense(2, 1, seed=1)], jn.MSE())
    x, y = np.array([0.3, -0.8, 1.1, 0.4]), np.array([0.2])
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= 1e-10


def nodes(exprs) -> int:
    return sum(1 for e in exprs for _ in sp.preorder_traversal(e))


@pytest.mark.parametrize("T, d, h", [(2, 2, 1), (3, 1, 2), (2, 3, 2), (4, 2, 1)])
def test_size_estimate_follows_the_forward(T, d, h):
    layer = SelfAttention(T, d, h)
    xs = [sp.Symbol(f"x_{i}", real=True) for i in range(layer.n_in)]
    ts = [sp.Symbol(f"t_{i}", real=True) for i in range(layer.n_params)]
    built = max(nodes([e]) for e in layer.sympy_forward(xs, ts))
    assert 0.9 <= layer.symbolic_entry(layer.n_in, Entry(1.0)).s / built <= 1.2


@pytest.mark.parametrize("layers", [
    lambda: [SelfAttention(2, 2, 1, seed=0), jn.Dense(2, 1, seed=1)],
    lambda: [SelfAttention(2, 1, 2, causal=True, seed=0), jn.Tanh(), jn.Dense(4, 1, seed=1)],
    lambda: [jn.Dense(2, 4, seed=2), SelfAttention(2, 2, 1, seed=0), jn.Dense(2, 1, seed=1)],  # a derivative through it
])
def test_size_estimate_follows_what_sympy_builds(layers):
    net = jn.Network(layers(), jn.MSE())
    built = nodes(symbolic_network.direct_gradient(net).direct)
    assert 0.75 <= estimate_size(net) / built <= 1.25


def test_size_guard_admits_tiny_and_refuses_large():
    assert check_layer_size(SelfAttention(2, 2, 1), 4) <= MAX_EXPRESSION_SIZE
    assert check_layer_size(SelfAttention(3, 5, 2, causal=True), 15) <= MAX_EXPRESSION_SIZE
    for layer in (SelfAttention(4, 4, 4), SelfAttention(16, 64, 16)):
        with pytest.raises(SymbolicSizeError, match=r"symbolic Jacobians of SelfAttention: estimated .* over the limit"):
            symbolic.layer_jacobians(layer)


# --- labels, initialisation, structure, identity -----------------------------------
def test_labels_render_in_mathtext():
    from matplotlib.mathtext import MathTextParser

    layer = SelfAttention(2, 3, 2)
    labels = list(layer.param_labels(2))
    assert len(labels) == layer.n_params == 18
    assert labels[0] == "W^{q(2)}_{1,1}" and labels[5] == "W^{q(2)}_{2,3}" and labels[6] == "W^{k(2)}_{1,1}"
    assert labels[-1] == "W^{v(2)}_{2,3}" and layer.param_labels()[-1] == "W^{v}_{2,3}"
    parser = MathTextParser("path")
    for label in labels + list(layer.param_labels()):
        assert label.count("^") == 1  # no double superscripts
        parser.parse(f"${label}$")
    assert len(set(labels)) == len(labels)


def test_initialisation():
    a, b = SelfAttention(2, 3, 2, seed=5), SelfAttention(2, 3, 2, seed=5)
    np.testing.assert_array_equal(a.get_params(), b.get_params())
    assert not np.array_equal(a.get_params(), SelfAttention(2, 3, 2, seed=6).get_params())
    assert not np.array_equal(a.W_q, a.W_k) and not np.array_equal(a.W_k, a.W_v)
    big = SelfAttention(1, 400, 100, seed=0)  # each W ~ N(0, 1/d_model): std 1/20
    for W in (big.W_q, big.W_k, big.W_v):
        assert W.shape == (100, 400) and abs(W.std() - 0.05) < 0.001 and abs(W.mean()) < 0.001


def test_outline_shows_the_token_blocks():
    T, d, h = 3, 5, 2
    for causal in (False, True):
        layer, x = instance(T, d, h, causal)
        boxes = layer.jacobian_input_op(x).outline()
        grid = [b for b in boxes if b.style in ("box", "dashed")]
        assert len(grid) == T * T and {(b.rows, b.cols) for b in grid} == {(h, d)}
        dashed = {(b.row // h, b.col // d) for b in grid if b.style == "dashed"}
        assert dashed == ({(t, s) for t in range(T) for s in range(T) if s > t} if causal else set())
        params = layer.jacobian_params_op(x).outline()
        assert [b.label for b in params if b.label] == ["W^{q}", "W^{k}", "W^{v}"]
        assert [b.col for b in params if b.style == "rule"] == [h * d, 2 * h * d]


def test_identity_and_shapes():
    layer = SelfAttention(3, 5, 2, causal=True, seed=0)
    assert repr(layer) == "SelfAttention(3, 5, 2, causal=True)" and repr(SelfAttention(2, 1, 1)) == "SelfAttention(2, 1, 1)"
    assert layer.n_in == 15 and layer.out_size(15) == 6 and layer.n_params == 30
    assert layer.key() == SelfAttention(3, 5, 2, causal=True, seed=1).key() != SelfAttention(3, 5, 2, seed=0).key()
    assert layer.key() != SelfAttention(5, 3, 2, causal=True).key()


# --- bad input ---------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, error, message", [
    ((0, 2, 1), {}, ValueError, "SelfAttention: tokens must be a positive integer, got 0"),
    ((2, -1, 1), {}, ValueError, "SelfAttention: d_model must be a positive integer, got -1"),
    ((2, 2.0, 1), {}, ValueError, r"SelfAttention: d_model must be a positive integer, got 2.0"),
    ((2, 2, True), {}, ValueError, "SelfAttention: d_head must be a positive integer, got True"),
    ((2, 2, "1"), {}, ValueError, "SelfAttention: d_head must be a positive integer, got '1'"),
    ((2, 2, 1), {"causal": 1}, TypeError, r"SelfAttention: causal must be True or False, got 1 \(int\)"),
    ((2, 2, 1), {"causal": "yes"}, TypeError, r"SelfAttention: causal must be True or False, got 'yes' \(str\)"),
    ((2, 2, 1), {"seed": -1}, ValueError, "SelfAttention: seed must be None or a non-negative integer, got -1"),
])
def test_bad_sizes_are_named(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        SelfAttention(*args, **kwargs)


def test_bad_input_is_named():
    layer = SelfAttention(3, 4, 2, seed=0)
    wrong = r"SelfAttention: the input has 10 features, but tokens=3 × d_model=4 = 12"
    for call in (layer.forward, layer.jacobian_input, layer.jacobian_params):
        with pytest.raises(ValueError, match=wrong):
            call(np.ones(10))
        with pytest.raises(ValueError, match=wrong):
            call(np.ones((2, 10)))
    with pytest.raises(ValueError, match=r"SelfAttention expects input of shape \(12,\) or \(B, 12\), got shape \(1, 2, 12\)"):
        layer.forward(np.ones((1, 2, 12)))
    with pytest.raises(ValueError, match="SelfAttention got a non-finite input value nan"):
        layer.forward(np.full(12, np.nan))
    with pytest.raises(ValueError, match=r"SelfAttention: W_k must be a real array of shape \(2, 4\), got float64 \(4, 2\)"):
        layer.W_k = np.ones((4, 2))
    assert np.array_equal(SelfAttention(3, 4, 2, causal=np.bool_(True)).causal, True)
