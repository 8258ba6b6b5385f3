"""Conv1d and Conv2d: values worked out by hand, Jacobians against four references, structured products, bad input.

* pinned: a tiny convolution of each kind, output and Jacobians by hand (comments);
* J_x and J_θ on odd sizes, stride 2, padding 1 and (2-D) rectangular kernels against central
  differences (≤ 1e-7), the complex step, and HIPS autograd of a convolution written plainly here
  with loops (≤ 1e-12); the forward against the same plain convolution;
* batches (B = 3) are the stacked per-sample Jacobians; vjp / jvp / vjp_sum / vjp_mean through the
  structure equal the dense products, on random geometries too (kernel wider than the input, stride
  wider than the kernel);
* the closed forms proved equal to SymPy's derivative; ``check_layer``; labels, key, init, sizes;
* a network through a convolution: its gradient in both modes against autograd;
* bad input: named errors.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import check_layer, jacobian_fd, rel_error
from jacobnet.core.conv import Conv1d, Conv2d
from jacobnet.core.finite import jacobian_complex_step
from jacobnet.core.memory import JacobianMemoryError, memory_budget
from jacobnet.core.sizes import Entry
from jacobnet.core.toeplitz import BlockToeplitz, PatchRows

FD_TOL = 1e-7
AD_TOL = 1e-12
CS_TOL = 1e-13
OP_TOL = 1e-12

# (C_in, C_out, K, L, stride, padding): odd sizes, stride 2, padding 1, a kernel wider than the stride
CONV1D = [(2, 3, 3, 7, 2, 1), (3, 1, 2, 5, 1, 1), (1, 2, 4, 5, 3, 2)]
# (C_in, C_out, (K_h, K_w), H, W, stride, padding): rectangular kernels, strides and paddings
CONV2D = [(2, 3, (3, 2), 5, 4, (2, 1), (1, 0)), (1, 2, (2, 3), 3, 5, 2, 1), (3, 1, (1, 1), 3, 3, (1, 2), (0, 1))]


def conv1d(spec, seed=0):
    c_in, c_out, k, length, s, p = spec
    layer = Conv1d(c_in, c_out, k, length, stride=s, padding=p, seed=seed)
    layer.b = np.random.default_rng(seed + 100).normal(size=c_out)
    return layer


def conv2d(spec, seed=0):
    c_in, c_out, k, h, w, s, p = spec
    layer = Conv2d(c_in, c_out, k, h, w, stride=s, padding=p, seed=seed)
    layer.b = np.random.default_rng(seed + 100).normal(size=c_out)
    return layer


LAYERS = [pytest.param(conv1d, s, id=f"1d{s}") for s in CONV1D] + [pytest.param(conv2d, s, id=f"2d{s}") for s in CONV2D]


# --- the plain reference: loops over output positions, autograd's numpy -----------------------
def plain_conv1d(x, W, b, stride, padding):
    """``y[o, t] = b[o] + Σ_{c,k} W[o,c,k] x_pad[c, t·stride + k]``, x of shape (C_in·L,), flat out."""
    c_out, c_in, K = W.shape
    x = anp.reshape(x, (c_in, -1))
    zeros = anp.zeros((c_in, padding))
    xp = anp.concatenate([zeros, x, zeros], axis=1)
    L_out = (xp.shape[1] - K) // stride + 1
    return anp.stack([b[o] + anp.sum(W[o] * xp[:, t * stride : t * stride + K]) for o in range(c_out) for t in range(L_out)])


def plain_conv2d(x, W, b, height, stride, padding):
    """``y[o, i, j] = b[o] + Σ_{c,u,v} W[o,c,u,v] x_pad[c, i·s_h + u, j·s_w + v]``, flat in and out."""
    c_out, c_in, kh, kw = W.shape
    (sh, sw), (ph, pw) = stride, padding
    x = anp.reshape(x, (c_in, height, -1))
    x = anp.concatenate([anp.zeros((c_in, ph, x.shape[2])), x, anp.zeros((c_in, ph, x.shape[2]))], axis=1)
    xp = anp.concatenate([anp.zeros((c_in, x.shape[1], pw)), x, anp.zeros((c_in, x.shape[1], pw))], axis=2)
    H_out, W_out = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    return anp.stack([
        b[o] + anp.sum(W[o] * xp[:, i * sh : i * sh + kh, j * sw : j * sw + kw])
        for o in range(c_out) for i in range(H_out) for j in range(W_out)
    ])


def plain(layer):
    """The layer's function ``f(θ, x)`` written plainly (θ = [vec_r(W), b])."""
    shape, n_w = layer.W.shape, layer.W.size

    def f(theta, x):
        W, b = anp.reshape(theta[:n_w], shape), theta[n_w:]
        if isinstance(layer, Conv1d):
            return plain_conv1d(x, W, b, layer.stride, layer.padding)
        return plain_conv2d(x, W, b, layer.height, layer.stride, layer.padding)

    return f


def sample(layer, seed=1, batch=None):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(layer.n_in,) if batch is None else (batch, layer.n_in))


# --- pinned values, by hand ----------------------------------------------------------------------
def test_a_tiny_conv1d_worked_out_by_hand():
    """C_in = C_out = 1, K = 2, L = 3, padding 1: x_pad = (0, 1, 2, 3, 0), L_out = (3 + 2 − 2)/1 + 1 = 4.

    y_t = 0.5 + 1·x_pad[t] + 2·x_pad[t + 1]:  y = (0.5 + 0 + 2, 0.5 + 1 + 4, 0.5 + 2 + 6, 0.5 + 3 + 0)
                                               = (2.5, 5.5, 8.5, 3.5).
    ∂y_t/∂x_i = W[i + 1 − t] (κ = i + padding − t):   row 0: x_1 under κ = 1 → (2, 0, 0);
    row 1: (1, 2, 0); row 2: (0, 1, 2); row 3: x_3 under κ = 0 → (0, 0, 1).
    J_θ rows = the patches (x_pad[t], x_pad[t+1]) and a 1 for b: (0,1,1), (1,2,1), (2,3,1), (3,0,1).
    """
    conv = Conv1d(1, 1, 2, 3, padding=1)
    conv.W, conv.b = [[[1.0, 2.0]]], [0.5]
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(conv.forward(x), [2.5, 5.5, 8.5, 3.5])
    np.testing.assert_array_equal(conv.jacobian_input(x), [[2, 0, 0], [1, 2, 0], [0, 1, 2], [0, 0, 1]])
    np.testing.assert_array_equal(conv.jacobian_params(x), [[0, 1, 1], [1, 2, 1], [2, 3, 1], [3, 0, 1]])


def test_a_tiny_conv2d_worked_out_by_hand():
    """(1, 2, 3) input [[1, 2, 3], [4, 5, 6]], kernel (1, 2) = [[1, −1]], stride (1, 2), padding (0, 1).

    x_pad rows: (0, 1, 2, 3, 0), (0, 4, 5, 6, 0); W_out = (3 + 2 − 2)/2 + 1 = 2, H_out = 2: windows at
    columns (0, 1) and (2, 3): y = (0 − 1, 2 − 3, 0 − 4, 5 − 6) = (−1, −1, −4, −1).
    J_x (4, 6): y_{0,0} = −x_{0,0}; y_{0,1} = x_{0,1} − x_{0,2}; y_{1,0} = −x_{1,0}; y_{1,1} = x_{1,1} − x_{1,2}.
    """
    conv = Conv2d(1, 1, (1, 2), 2, 3, stride=(1, 2), padding=(0, 1))
    conv.W = [[[[1.0, -1.0]]]]
    x = np.arange(1.0, 7.0)
    np.testing.assert_array_equal(conv.forward(x), [-1, -1, -4, -1])
    np.testing.assert_array_equal(
        conv.jacobian_input(x), [[-1, 0, 0, 0, 0, 0], [0, 1, -1, 0, 0, 0], [0, 0, 0, -1, 0, 0], [0, 0, 0, 0, 1, -1]]
    )
    assert conv.output_shape == (1, 2, 2) and conv.input_shape == (1, 2, 3)


# --- the Jacobians against four references ----------------------------------------------------------
@pytest.mark.parametrize("make, spec", LAYERS)
def test_forward_equals_the_plain_convolution(make, spec):
    layer = make(spec)
    X = sample(layer, batch=3)
    f, theta = plain(layer), layer.get_params()
    want = np.stack([f(theta, x) for x in X])
    assert rel_error(layer.forward(X), want) <= 1e-14
    assert rel_error(layer.forward(X[1]), want[1]) <= 1e-14


@pytest.mark.parametrize("make, spec", LAYERS)
def test_jacobians_against_central_differences(make, spec):
    layer = make(spec)
    x, theta = sample(layer), layer.get_params()

    def of_theta(t):
        layer.set_params(t)
        return layer.forward(x)

    assert rel_error(layer.jacobian_input(x), jacobian_fd(layer.forward, x)) <= FD_TOL
    J_theta = layer.jacobian_params(x)
    assert rel_error(J_theta, jacobian_fd(of_theta, theta)) <= FD_TOL
    layer.set_params(theta)


@pytest.mark.parametrize("make, spec", LAYERS)
def test_jacobians_against_the_complex_step(make, spec):
    """J_x through the layer's own forward (``apply`` is analytic); J_θ through the plain convolution."""
    layer = make(spec)
    x, theta = sample(layer), layer.get_params()
    assert rel_error(layer.jacobian_input(x), jacobian_complex_step(layer.apply, x)) <= CS_TOL
    f = plain(layer)
    assert rel_error(layer.jacobian_params(x), jacobian_complex_step(lambda t: f(t, x), theta)) <= CS_TOL


@pytest.mark.parametrize("make, spec", LAYERS)
def test_jacobians_against_autograd(make, spec):
    layer = make(spec)
    x, theta, f = sample(layer), layer.get_params(), plain(layer)
    assert rel_error(layer.jacobian_input(x), autograd.jacobian(lambda v: f(theta, v))(x)) <= AD_TOL
    assert rel_error(layer.jacobian_params(x), autograd.jacobian(lambda t: f(t, x))(theta)) <= AD_TOL


@pytest.mark.parametrize("make, spec", LAYERS)
def test_check_layer_passes(make, spec):
    layer = make(spec)
    assert all(c.ok for c in check_layer(layer, sample(layer)))


def test_check_layer_finds_a_transposed_kernel():
    """A kernel read backwards (convolution instead of correlation) is caught and named."""

    class Flipped(Conv1d):
        def jacobian_input_op(self, x):
            g = self.geometry
            return BlockToeplitz(self.W[..., ::-1].copy(), g.size, g.stride, g.padding, batch=None)

    layer = Flipped(2, 1, 3, 5, padding=1, seed=3)
    by_input, by_params = check_layer(layer, sample(layer))
    assert not by_input.ok and by_params.ok


# --- batches and the structured products ------------------------------------------------------------
@pytest.mark.parametrize("make, spec", LAYERS)
def test_a_batch_is_the_stacked_per_sample_jacobians(make, spec):
    layer = make(spec)
    X = sample(layer, batch=3)
    J_x, J_theta = layer.jacobian_input(X), layer.jacobian_params(X)
    assert J_x.shape == (3, layer.n_out, layer.n_in) and J_theta.shape == (3, layer.n_out, layer.n_params)
    for b in range(3):
        np.testing.assert_array_equal(J_x[b], layer.jacobian_input(X[b]))
        np.testing.assert_array_equal(J_theta[b], layer.jacobian_params(X[b]))


def assert_products_equal_dense(op, rng, k=2):
    """vjp, jvp (shared and per-sample operands), vjp_sum (also into ``out``), vjp_mean and batch_slice."""
    J = op.dense()
    (m, n), B = op.shape, op.batch
    for lead in [(), (B,)] if B else [()]:
        G, H = rng.normal(size=lead + (k, m)), rng.normal(size=lead + (n, k + 1))
        assert rel_error(op.vjp(G), G @ J) <= OP_TOL
        assert rel_error(op.jvp(H), J @ H) <= OP_TOL
    if B:
        G = rng.normal(size=(B, k, m))
        assert rel_error(op.vjp_sum(G), np.sum(G @ J, axis=0)) <= OP_TOL
        assert rel_error(op.vjp_mean(G), np.mean(G @ J, axis=0)) <= OP_TOL
        out = np.full((k, n), np.nan)
        assert op.vjp_sum(G, out=out) is out and rel_error(out, np.sum(G @ J, axis=0)) <= OP_TOL
        np.testing.assert_array_equal(op.batch_slice(1, B).dense(), J[1:B])
        G1 = rng.normal(size=(k, m))  # one G shared by the samples, summed over the batch
        assert rel_error(op.vjp_sum(G1), np.sum(G1 @ J, axis=0)) <= OP_TOL


@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("make, spec", LAYERS)
def test_structured_products_equal_the_dense_ones(make, spec, batch):
    layer = make(spec)
    x = sample(layer, batch=batch)
    rng = np.random.default_rng(7)
    for op in (layer.jacobian_op(x, "input"), layer.jacobian_op(x, "params")):
        assert_products_equal_dense(op, rng)


@given(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 4), st.integers(0, 3),
    st.booleans(), st.integers(0, 2**32 - 1),
)
@FAST
def test_products_on_random_geometries(c_in, c_out, k, length, stride, padding, two_d, seed):
    """Kernels wider than the input, strides wider than the kernel, windows wholly in the padding."""
    if k > length + 2 * padding:
        with pytest.raises(ValueError, match="is larger than the padded input"):
            Conv1d(c_in, c_out, k, length, stride=stride, padding=padding)
        return
    if two_d:
        layer = Conv2d(c_in, c_out, (k, 1), length, 2, stride=(stride, 1), padding=(padding, 1), seed=seed)
    else:
        layer = Conv1d(c_in, c_out, k, length, stride=stride, padding=padding, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, layer.n_in))
    f, theta = plain(layer), layer.get_params()
    assert rel_error(layer.forward(X[0]), f(theta, X[0])) <= 1e-14
    for op in (layer.jacobian_op(X, "input"), layer.jacobian_op(X, "params")):
        assert_products_equal_dense(op, rng, k=1)


def test_the_batch_sum_of_j_theta_is_one_gemm_the_weight_gradient():
    """Σ_b G_b J_θ,b = [Σ_{b,t} g_{b,o,t} P_b[t] | Σ_{b,t} g_{b,o,t}]: the weight gradient of a convolution."""
    layer = conv1d(CONV1D[0])
    X = sample(layer, batch=4)
    G = np.random.default_rng(2).normal(size=(4, 1, layer.n_out))
    out = layer.jacobian_op(X, "params").vjp_sum(G)[0]
    c_out, L_out = layer.output_shape
    g = G[:, 0].reshape(4, c_out, L_out)
    P = layer.geometry.patches(X)  # (B, L_out, C_in·K)
    dW = np.einsum("bot,btq->oq", g, P)
    assert rel_error(out, np.concatenate([dW.ravel(), g.sum(axis=(0, 2))])) <= OP_TOL


def test_byte_and_flop_counts_by_hand():
    layer = conv1d(CONV1D[0])  # 2 → 3 channels, K = 3, L = 7, stride 2, padding 1: L_out = 4
    J_x, J_theta = layer.jacobian_op(sample(layer), "input"), layer.jacobian_op(sample(layer), "params")
    assert J_x.shape == (12, 14) and J_theta.shape == (12, 3 * 6 + 3)
    assert J_x.nbytes == 3 * 2 * 3 * 8 and J_theta.nbytes == 4 * 6 * 8  # W; the (L_out, C_in·K) patches
    assert J_x.vjp_flops(5) == 5 * 3 * 4 * 2 * 3 == J_x.jvp_flops(5)  # C_out·L_out·C_in·K per row
    assert J_theta.vjp_flops(1) == 3 * 4 * (6 + 1) and J_theta.jvp_flops(2) == 3 * 4 * 7 * 2
    assert J_x.kind == "block-Toeplitz" and conv2d(CONV2D[0]).jacobian_op(np.zeros(40), "input").kind == "doubly block-Toeplitz"


def test_the_memory_guard_names_the_jacobian():
    layer = Conv1d(2, 2, 3, 50, seed=0)
    with memory_budget(10_000), pytest.raises(JacobianMemoryError, match=r"J_x of Conv1d\(2→2, K=3\) of shape \(96, 100\)"):
        layer.jacobian_input(np.zeros(100))


# --- outlines ------------------------------------------------------------------------------------
def covered(boxes, shape, style):
    mask = np.zeros(shape, dtype=bool)
    for b in boxes:
        if b.style == style:
            assert not mask[b.row : b.row + b.rows, b.col : b.col + b.cols].any(), "overlapping boxes"
            mask[b.row : b.row + b.rows, b.col : b.col + b.cols] = True
    return mask


@pytest.mark.parametrize("make, spec", LAYERS)
def test_the_outline_shows_the_blocks_and_exactly_the_band(make, spec):
    layer = make(spec)
    x = sample(layer)
    op = layer.jacobian_op(x, "input")
    boxes = op.outline()
    blocks = [b for b in boxes if b.style == "box"]
    c_out, c_in = layer.out_channels, layer.in_channels
    assert len(blocks) == c_out * c_in and covered(boxes, op.shape, "box").all()
    assert [b.label for b in blocks[:c_in]] == [f"T(W_{{1,{c + 1}}})" for c in range(c_in)]
    np.testing.assert_array_equal(covered(boxes, op.shape, "dashed"), op.dense() != 0)  # W has no zeros
    params = layer.jacobian_op(x, "params")
    J = params.dense()
    patches = covered(params.outline(), params.shape, "box")
    assert patches.sum() == c_out * params.positions * params.q and not (J[~patches & (np.arange(J.shape[1]) < c_out * params.q)]).any()
    np.testing.assert_array_equal(covered(params.outline(), params.shape, "dashed"), J == 1.0)


def test_a_big_outline_keeps_the_blocks_only():
    op = Conv2d(3, 8, 3, 32, 32, seed=0).jacobian_op(np.zeros(3 * 32 * 32), "input")
    assert len(op.outline()) == 24


# --- symbolic forms, labels, key, init, sizes --------------------------------------------------------
@pytest.mark.parametrize(
    "layer",
    [Conv1d(2, 1, 2, 4, stride=2, padding=1), Conv1d(1, 2, 3, 3, padding=1), Conv2d(1, 2, (2, 1), 3, 2, stride=(2, 1), padding=(1, 0))],
    ids=repr,
)
def test_closed_forms_proved_equal_to_sympy(layer):
    checks = symbolic.compare_closed_forms(layer)
    assert [c.name for c in checks] == ["J_x", "J_θ"] and all(c.proved for c in checks)
    assert checks[0].shape == (layer.n_out, layer.n_in) and checks[1].shape == (layer.n_out, layer.n_params)


def test_the_symbolic_jacobians_evaluate_to_the_numeric_ones():
    import sympy as sp

    layer = conv1d((2, 1, 2, 4, 2, 1))
    J_x, J_theta = symbolic.layer_jacobians(layer)
    x = sample(layer)
    xs = [sp.Symbol(f"x_{i}", real=True) for i in range(1, layer.n_in + 1)]
    ts = [sp.Symbol(label, real=True) for label in layer.param_labels()]
    values = dict(zip(xs + ts, [*x, *layer.get_params()]))
    assert rel_error(np.array(J_x.subs(values), dtype=float), layer.jacobian_input(x)) <= 1e-15
    assert rel_error(np.array(J_theta.subs(values), dtype=float), layer.jacobian_params(x)) <= 1e-15


def test_labels_come_from_the_param_shapes():
    assert list(Conv1d(2, 3, 4, 5).param_labels(1))[:2] == ["W^{(1)}_{1,1,1}", "W^{(1)}_{1,1,2}"]
    labels = list(Conv2d(2, 3, (2, 1), 4, 4).param_labels())
    assert len(labels) == 3 * 2 * 2 * 1 + 3 and labels[11] == "W_{3,2,2,1}" and labels[-1] == "b_{3}"


def test_init_like_dense_key_and_repr():
    layer = Conv2d(3, 4, (3, 2), 6, 5, seed=11)
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(layer.W, rng.normal(0.0, 1 / np.sqrt(3 * 3 * 2), size=(4, 3, 3, 2)))
    np.testing.assert_array_equal(layer.b, np.zeros(4))
    assert Conv1d(2, 3, 3, 7, seed=0).key() == Conv1d(2, 3, 3, 7, seed=1).key()
    assert Conv1d(2, 3, 3, 7).key() != Conv1d(2, 3, 3, 7, stride=2).key() != Conv1d(2, 3, 3, 7, padding=1).key()
    assert Conv2d(1, 1, (2, 1), 3, 3).key() != Conv2d(1, 1, (1, 2), 3, 3).key()
    for conv in (Conv1d(2, 3, 3, 7, stride=2, padding=1), Conv2d(1, 2, (2, 3), 4, 5, stride=(2, 1), padding=1)):
        assert eval(repr(conv), {"Conv1d": Conv1d, "Conv2d": Conv2d}).key() == conv.key()
    assert repr(Conv2d(1, 2, 3, 4, 5)) == "Conv2d(1, 2, (3, 3), 4, 5, stride=(1, 1), padding=(0, 0))"


@pytest.mark.parametrize("layer", [Conv1d(2, 2, 3, 5, stride=2, padding=1), Conv2d(1, 2, (2, 3), 3, 4, padding=(0, 1))], ids=repr)
def test_the_size_estimate_equals_the_measured_one(layer):
    """The hooks' Entry is what measuring the SymPy forward gives (the base class's default)."""
    for u in (Entry(1.0), Entry(7.0, 5.0, 2.0)):
        assert layer.symbolic_entry(layer.n_in, u) == jn.Layer.symbolic_entry(layer, layer.n_in, u)
    m, d = layer.symbolic_derivative(layer.n_in, Entry(1.0), 1.0, 3.0)
    assert (m, d) == jn.Layer.symbolic_derivative(layer, layer.n_in, Entry(1.0), 1.0, 3.0)
    assert symbolic.guard.check_layer_size(layer, layer.n_in) > 0


# --- in a network ------------------------------------------------------------------------------------
def test_a_network_through_a_convolution_gets_autograds_gradient():
    conv = conv1d((2, 3, 3, 7, 2, 1))
    dense = jn.Dense(conv.n_out, 2, seed=1)
    net = jn.Network([conv, jn.Tanh(), dense], jn.MSE())
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(3, conv.n_in)), rng.normal(size=(3, 2))
    f, n_c = plain(conv), conv.n_params

    def loss(theta):
        W2, b2 = anp.reshape(theta[n_c : n_c + 2 * conv.n_out], (2, conv.n_out)), theta[n_c + 2 * conv.n_out :]
        total = 0.0
        for x, y in zip(X, Y):
            z = anp.dot(W2, anp.tanh(f(theta[:n_c], x))) + b2
            total = total + anp.mean((z - y) ** 2)
        return total / len(X)

    want = autograd.grad(loss)(net.get_params())
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(X, Y, mode=mode), want) <= 1e-12
    chain = net.chain(X, Y, layer="Conv1d 1")
    assert rel_error(chain.evaluate("forward", "structured"), chain.evaluate("reverse", "materialised")) <= 1e-12


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Conv1d(1, 1, 7, 3, padding=1), r"Conv1d: kernel_size 7 is larger than the padded input length 5 \(length 3 \+ 2·padding 1\)"),
        (lambda: Conv1d(0, 1, 2, 3), "Conv1d: in_channels must be a positive integer, got 0"),
        (lambda: Conv1d(1, -2, 2, 3), "Conv1d: out_channels must be a positive integer, got -2"),
        (lambda: Conv1d(1, 1, 2.0, 3), "Conv1d: kernel_size must be a positive integer, got 2.0"),
        (lambda: Conv1d(1, 1, 2, "3"), "Conv1d: length must be a positive integer, got '3'"),
        (lambda: Conv1d(1, 1, 2, 3, stride=0), "Conv1d: stride must be a positive integer, got 0"),
        (lambda: Conv1d(1, 1, 2, 3, padding=-1), "Conv1d: padding must be a non-negative integer, got -1"),
        (lambda: Conv1d(1, 1, 2, 3, padding=True), "Conv1d: padding must be a non-negative integer, got True"),
        (lambda: Conv1d(1, 1, 2, 3, seed=-1), "Conv1d: seed must be None or a non-negative integer, got -1"),
        (lambda: Conv2d(1, 1, (4, 2), 3, 3), r"Conv2d: kernel_size \(4, 2\) has height 4, larger than the padded input height 3 \(height 3 \+ 2·padding 0\)"),
        (lambda: Conv2d(1, 1, 3, 3, 1, padding=(1, 0)), r"Conv2d: kernel_size \(3, 3\) has width 3, larger than the padded input width 1 \(width 1 \+ 2·padding 0\)"),
        (lambda: Conv2d(1, 1, (2, 0), 3, 3), r"Conv2d: kernel_size must be a positive integer or a pair of them, got \(2, 0\)"),
        (lambda: Conv2d(1, 1, (2, 2, 2), 3, 3), r"Conv2d: kernel_size must be a positive integer or a pair of them, got \(2, 2, 2\)"),
        (lambda: Conv2d(1, 1, 2, 3, 3, stride=(1, 0)), r"Conv2d: stride must be a positive integer or a pair of them, got \(1, 0\)"),
        (lambda: Conv2d(1, 1, 2, 3, 3, padding=(-1, 0)), r"Conv2d: padding must be a non-negative integer or a pair of them, got \(-1, 0\)"),
        (lambda: Conv2d(1, 1, 2, 0, 3), "Conv2d: height must be a positive integer, got 0"),
        (lambda: Conv2d(1, 1, 2, 3, 2.5), "Conv2d: width must be a positive integer, got 2.5"),
    ],
)
def test_bad_sizes_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_input_and_parameters_are_named():
    conv = Conv1d(2, 1, 2, 4)
    with pytest.raises(ValueError, match=r"Conv1d\(2→1, K=2\) expects input of shape \(8,\) or \(B, 8\), got shape \(4,\)"):
        conv.forward(np.zeros(4))
    with pytest.raises(ValueError, match=r"Conv1d\(2→1, K=2\): W must be a real array of shape \(1, 2, 2\), got float64 \(2, 2\)"):
        conv.W = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"Conv2d\(1→1, K=2×2\) expects input of shape \(9,\)"):
        Conv2d(1, 1, 2, 3, 3).forward(np.zeros((2, 8)))


def test_patch_rows_and_block_toeplitz_stand_alone():
    P = np.arange(6.0).reshape(3, 2)
    J = PatchRows(P, c_out=2).dense()  # [I_2 ⊗ P | I_2 ⊗ 𝟙]
    np.testing.assert_array_equal(J, np.hstack([np.kron(np.eye(2), P), np.kron(np.eye(2), np.ones((3, 1)))]))
    W = np.arange(1.0, 4.0).reshape(1, 1, 3)  # K = 3, L = 4, no padding: a plain banded Toeplitz (2, 4)
    np.testing.assert_array_equal(BlockToeplitz(W, (4,), (1,), (0,)).dense(), [[1, 2, 3, 0], [0, 1, 2, 3]])


def test_windows_wholly_in_the_padding_give_zero_rows():
    """L = 1, K = 1, padding 1, stride 2: the windows read x_pad[0] and x_pad[2], both padding, so y = b and J_x = 0."""
    conv = Conv1d(1, 2, 1, 1, stride=2, padding=1, seed=0)
    conv.b = [1.0, -2.0]
    x = np.array([5.0])
    np.testing.assert_array_equal(conv.forward(x), [1.0, 1.0, -2.0, -2.0])
    np.testing.assert_array_equal(conv.jacobian_input(x), np.zeros((4, 1)))
    np.testing.assert_array_equal(conv.jacobian_params(x), [[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    assert [b.style for b in conv.jacobian_op(x, "input").outline()] == ["box", "box"]
    assert all(c.proved for c in symbolic.compare_closed_forms(conv))
