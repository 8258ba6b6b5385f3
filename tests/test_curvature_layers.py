"""Second order through every layer: each layer's ``vjp_tangent``, and the Hessians of networks built from them.

* ``vjp_tangent`` of Conv1d, Conv2d (stride > 1, padding > 0), MaxPool1d/2d, AvgPool1d/2d, Select,
  LayerNorm (one token and several, a large ``eps``), SelfAttention (with and without the mask) and
  RNN (tanh / last, relu / all): against central differences of the layer's own structured VJP
  along ``(dx, dθ)`` (≤ 1e-7 relative) and against HIPS autograd's Hessian-vector product of the
  scalar ``g · f(x; θ)``, ``f`` written plainly here in ``autograd.numpy`` (≤ 1e-10); one sample
  and a batch, ``p = 2`` directions at once. Each plain ``f`` is first checked to be the layer's forward.
* Whole networks: the Hessian against autograd's ``hessian`` of the plain mean loss (≤ 1e-10) and
  central differences of ``gradient`` (≤ 1e-6) for a small CNN (Conv2d → ReLU → MaxPool2d → Dense →
  softmax-CE), a deeper 1-D CNN (the second convolution sees a tangent input), a transformer block
  (Residual[LayerNorm, SelfAttention] → per-token Dense, MSE) and an RNN (RNN → Dense, MSE); ``hvp``
  equals ``hessian @ v``; the unrolled RNN (Select, Sum, Concat, shared Dense) has the RNN's Hessian.
"""

from __future__ import annotations

import itertools
import warnings
from math import prod

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import reference as ref
from test_curvature import fd_hessian

import jacobnet as jn
from jacobnet.check import rel_error
from jacobnet.core.finite import jacobian_fd

FD_TOL = 1e-7  # vjp_tangent against central differences of the VJP
AD_TOL = 1e-12  # against autograd (the issue asks ≤ 1e-10; the agreement is ~1e-14)
HESS_FD_TOL = 1e-6  # the Hessian against central differences of the gradient
EXACT_TOL = 1e-12  # hvp against hessian @ v: two exact computations
P = 2  # directions per call


# --- the layers, written plainly: f(x, θ) for one sample x (1-D) ---------------------------------
def conv_sizes(layer):
    """(size, kernel, stride, padding), each a tuple per spatial axis, from the constructor's arguments."""
    if isinstance(layer, jn.Conv1d):
        return (layer.length,), (layer.kernel_size,), (layer.stride,), (layer.padding,)
    return (layer.height, layer.width), tuple(layer.kernel_size), tuple(layer.stride), tuple(layer.padding)


def plain_conv(layer, x, theta):
    """y[o, t] = b[o] + Σ_{c,κ} W[o, c, κ] x_pad[c, t·s + κ]: a sum over the kernel offsets κ."""
    size, kernel, stride, pad = conv_sizes(layer)
    C, O = layer.in_channels, layer.out_channels
    nW = O * C * prod(kernel)
    W, b = anp.reshape(theta[:nW], (O, C) + kernel), theta[nW:]
    xp = anp.reshape(x, (C,) + size)
    for axis, p in enumerate(pad):  # zeros on both sides of each spatial axis
        zeros = anp.zeros(xp.shape[: axis + 1] + (p,) + xp.shape[axis + 2 :])
        xp = anp.concatenate([zeros, xp, zeros], axis=axis + 1)
    out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(size, kernel, stride, pad))
    y = anp.reshape(b, (O,) + (1,) * len(size))
    for k in itertools.product(*(range(n) for n in kernel)):
        window = xp[(slice(None),) + tuple(slice(kk, kk + s * (o - 1) + 1, s) for kk, s, o in zip(k, stride, out))]
        y = y + anp.tensordot(W[(slice(None), slice(None)) + k], window, axes=([1], [0]))
    return anp.reshape(y, (-1,))


def plain_pool(layer, x, theta):
    """Each window's max or mean: x reshaped to (C, O_1, K_1, …), reduced over the K axes."""
    kernel = (layer.kernel_size,) if isinstance(layer.kernel_size, int) else tuple(layer.kernel_size)
    spatial = [layer.length] if len(kernel) == 1 else [layer.height, layer.width]
    split = [layer.channels] + [s for S, K in zip(spatial, kernel) for s in (S // K, K)]
    blocks = anp.reshape(x, split)
    axes = tuple(range(2, 2 * len(kernel) + 1, 2))
    out = anp.max(blocks, axis=axes) if type(layer).__name__.startswith("Max") else anp.mean(blocks, axis=axes)
    return anp.reshape(out, (-1,))


def plain_select(layer, x, theta):
    return anp.concatenate([x[i : i + 1] if i >= 0 else anp.zeros(1) for i in layer.index.tolist()])


def plain_layernorm(layer, x, theta):
    """γ ⊙ (x_t − μ_t)/√(σ_t² + eps) + β per token, σ² the biased variance."""
    n = layer.n
    X = anp.reshape(x, (-1, n))
    mu = anp.mean(X, axis=1, keepdims=True)
    var = anp.mean((X - mu) ** 2, axis=1, keepdims=True)
    return anp.reshape(theta[:n] * (X - mu) / anp.sqrt(var + layer.eps) + theta[n:], (-1,))


def plain_attention(layer, x, theta):
    """softmax_row(Q Kᵀ/√h) V, masked above the diagonal when causal."""
    T, d, h = layer.tokens, layer.d_model, layer.d_head
    X = anp.reshape(x, (T, d))
    Wq, Wk, Wv = (anp.reshape(theta[i * h * d : (i + 1) * h * d], (h, d)) for i in range(3))
    Q, K, V = anp.dot(X, Wq.T), anp.dot(X, Wk.T), anp.dot(X, Wv.T)
    keep = np.tril(np.ones((T, T))) if layer.causal else np.ones((T, T))
    E = anp.exp(anp.dot(Q, K.T) / np.sqrt(h)) * keep
    return anp.reshape(anp.dot(E / anp.sum(E, axis=1, keepdims=True), V), (-1,))


def plain_rnn(layer, x, theta):
    """h_t = f(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), h_0 = 0; h_T or all of them."""
    n_x, n_h, T = layer.input_size, layer.hidden_size, layer.steps
    a, b = n_h * n_x, n_h * (n_x + n_h)
    W_ih, W_hh = anp.reshape(theta[:a], (n_h, n_x)), anp.reshape(theta[a:b], (n_h, n_h))
    b_ih, b_hh = theta[b : b + n_h], theta[b + n_h :]
    f = ref.tanh if layer.nonlinearity == "tanh" else ref.relu
    h, hs = anp.zeros(n_h), []
    for t in range(T):
        h = f(anp.dot(W_ih, x[t * n_x : (t + 1) * n_x]) + b_ih + anp.dot(W_hh, h) + b_hh)
        hs.append(h)
    return h if layer.output == "last" else anp.concatenate(hs)


def plain_dense(layer, x, theta):
    m, n = layer.features_out, layer.features_in
    y = anp.dot(anp.reshape(x, (-1, n)), anp.reshape(theta[: m * n], (m, n)).T) + theta[m * n :]
    return anp.reshape(y, (-1,))


def plain(layer):
    """``(x, θ) ↦ f(x; θ)`` for one sample, by the layer's type (only its hyper-parameters are read)."""
    for kind, f in ((jn.Conv1d, plain_conv), (jn.Conv2d, plain_conv), (jn.Select, plain_select), (jn.LayerNorm, plain_layernorm),
                    (jn.SelfAttention, plain_attention), (jn.RNN, plain_rnn), (jn.Dense, plain_dense)):
        if isinstance(layer, kind):
            return lambda x, t: f(layer, x, t)
    if isinstance(layer, (jn.MaxPool1d, jn.MaxPool2d, jn.AvgPool1d, jn.AvgPool2d)):
        return lambda x, t: plain_pool(layer, x, t)
    if isinstance(layer, jn.ReLU):
        return lambda x, t: ref.relu(x)
    if isinstance(layer, jn.Tanh):
        return lambda x, t: ref.tanh(x)
    raise TypeError(layer)


# --- the layers under test ------------------------------------------------------------------------------
def randomised(layer, seed):
    """The layer with random parameters (biases and γ, β away from their 0 / 1 starts)."""
    if layer.n_params:
        layer.set_params(np.random.default_rng(seed).normal(size=layer.n_params))
    return layer


LAYERS = {
    "conv1d": lambda: randomised(jn.Conv1d(2, 3, 3, 7, stride=2, padding=1), 0),  # (2, 7) → (3, 4)
    "conv2d": lambda: randomised(jn.Conv2d(2, 3, (2, 3), 5, 4, stride=(2, 1), padding=(1, 1)), 1),  # (2, 5, 4) → (3, 3, 4)
    "maxpool1d": lambda: jn.MaxPool1d(3, channels=2, length=6),
    "maxpool2d": lambda: jn.MaxPool2d((2, 3), channels=2, height=4, width=3),
    "avgpool1d": lambda: jn.AvgPool1d(2, channels=3, length=4),
    "avgpool2d": lambda: jn.AvgPool2d((1, 2), channels=2, height=3, width=4),
    "select": lambda: jn.Select(5, [3, -1, 0, 0, 4, 2]),
    "layernorm": lambda: randomised(jn.LayerNorm(3, tokens=2), 2),
    "layernorm_eps": lambda: randomised(jn.LayerNorm(5, eps=0.3), 3),
    "attention": lambda: randomised(jn.SelfAttention(3, 4, 2), 4),
    "attention_causal": lambda: randomised(jn.SelfAttention(3, 2, 3, causal=True), 5),
    "rnn": lambda: randomised(jn.RNN(2, 3, steps=3), 6),
    "rnn_relu_all": lambda: randomised(jn.RNN(3, 2, steps=4, nonlinearity="relu", output="all"), 7),
}
ZERO = ("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d", "select")
"""The layers whose J_x is piecewise constant: R{J} = 0."""


def instance(kind, batch):
    """The layer, x, g, dx (p directions per sample), dθ (p directions), at a random point."""
    layer = LAYERS[kind]()
    rng = np.random.default_rng(len(kind) + 10 * (batch or 0))
    n = layer.n_in
    lead = (batch,) if batch else ()
    x = rng.normal(size=lead + (n,))
    g = rng.normal(size=lead + (layer.out_size(n),))
    return layer, x, g, rng.normal(size=lead + (P, n)), rng.normal(size=(P, layer.n_params))


def structured_vjp(layer, x, g):
    """``(g J_x, Σ_b g J_θ)`` at the layer's current θ, by its structured operators."""
    rows = g[..., None, :]
    gx = layer.jacobian_op(x, "input").vjp(rows)[..., 0, :]
    gt = layer.jacobian_op(x, "params").vjp(rows)[..., 0, :]
    return gx, gt.reshape((-1, layer.n_params)).sum(axis=0) if layer.n_params else np.zeros(0)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("batch", [None, 3])
def test_vjp_tangent_equals_central_differences_of_the_structured_vjp(kind, batch):
    layer, x, g, dx, dtheta = instance(kind, batch)
    gx, gt = layer.vjp_tangent(x, g, dx, dtheta)
    assert gx.shape == dx.shape and gt.shape == dtheta.shape
    theta = layer.get_params()

    def along(k):
        def f(e):
            layer.set_params(theta + e[0] * dtheta[k])
            vx, vt = structured_vjp(layer, x + e[0] * dx[..., k, :], g)
            return np.concatenate([vx.ravel(), vt])

        return f

    try:
        for k in range(P):
            fd = jacobian_fd(along(k), np.zeros(1))[:, 0]
            assert rel_error(np.concatenate([gx[..., k, :].ravel(), gt[k]]), fd) <= FD_TOL
    finally:
        layer.set_params(theta)
    if kind in ZERO:
        assert np.array_equal(gx, np.zeros_like(gx)) and gt.size == 0
    else:
        assert not np.allclose(gx, 0) and (layer.n_params == 0 or not np.allclose(gt, 0))


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("batch", [None, 3])
def test_vjp_tangent_equals_autograds_hessian_vector_product_of_g_dot_f(kind, batch):
    layer, x, g, dx, dtheta = instance(kind, batch)
    gx, gt = layer.vjp_tangent(x, g, dx, dtheta)
    f, theta, n = plain(layer), layer.get_params(), layer.n_in
    xs, gs, dxs = (x, g, dx) if batch else (x[None], g[None], dx[None])
    assert rel_error(np.stack([f(xc, theta) for xc in xs]), layer.forward(xs)) <= 1e-13  # the reference is the layer
    gxs, want_t = gx if batch else gx[None], np.zeros_like(gt)
    for c in range(len(xs)):  # φ_c(z) = g_c · f(z), z = (x, θ): ∇²φ_c (dx, dθ) = (g R{J_x}, g R{J_θ})
        grad = autograd.grad(lambda z, c=c: anp.dot(gs[c], f(z[:n], z[n:])))
        z0 = np.concatenate([xs[c], theta])
        for k in range(P):
            v = np.concatenate([dxs[c, k], dtheta[k]])
            with warnings.catch_warnings():  # a gradient that does not depend on z (pooling, Select): autograd says so, H v = 0
                warnings.filterwarnings("ignore", "Output seems independent of input", UserWarning)
                Hv = autograd.grad(lambda z, v=v, grad=grad: anp.dot(grad(z), v))(z0)
            assert rel_error(gxs[c, k], Hv[:n]) <= AD_TOL
            want_t[k] += Hv[n:]
    assert rel_error(gt, want_t) <= AD_TOL


def test_max_pooling_at_a_tie_keeps_the_first_maximum_and_has_no_curvature():
    pool = jn.MaxPool1d(2, channels=1, length=4)
    x, g = np.array([2.0, 2.0, -1.0, 3.0]), np.array([1.0, -2.0])  # window 1 ties: the first is picked
    assert pool.jacobian_input_op(x).index.tolist() == [0, 3]
    gx, gt = pool.vjp_tangent(x, g, np.array([[0.0, 1.0, 0.0, 0.0]]), np.zeros((1, 0)))
    assert np.array_equal(gx, np.zeros((1, 4))) and gt.shape == (1, 0)
    # one-sided: moving the second entry down keeps the choice, so g J_x does not change on that side
    right = pool.jacobian_op(x - 1e-3 * np.array([0.0, 1.0, 0.0, 0.0]), "input").vjp(g[None])
    assert np.array_equal(right, pool.jacobian_op(x, "input").vjp(g[None]))


# --- whole networks -----------------------------------------------------------------------------------
def cnn():
    conv = randomised(jn.Conv2d(2, 2, (2, 3), 5, 6, stride=(1, 2), padding=(0, 1)), 10)  # (2, 5, 6) → (2, 4, 3)
    return jn.Network([conv, jn.ReLU(), jn.MaxPool2d((2, 3), channels=2, height=4, width=3), randomised(jn.Dense(4, 3), 11)],
                      jn.SoftmaxCrossEntropy())


def cnn_1d():
    """The second convolution gets a tangent input (R{a} ≠ 0) and passes its g·R{J_x} down: both halves of its vjp_tangent."""
    return jn.Network([randomised(jn.Conv1d(1, 2, 3, 8, padding=1), 12), jn.Tanh(), randomised(jn.Conv1d(2, 2, 3, 8, stride=1), 13),
                       jn.AvgPool1d(2, channels=2, length=6), jn.Tanh(), randomised(jn.Dense(6, 2), 14)], jn.MSE())


def transformer(causal=False):
    T, d = 2, 3
    block = jn.Residual([randomised(jn.LayerNorm(d, tokens=T), 15), randomised(jn.SelfAttention(T, d, d, causal=causal), 16)])
    return jn.Network([block, randomised(jn.Dense(d, 2, tokens=T), 17)], jn.MSE())


def transformer_fed():
    """A per-token Dense in front: the LayerNorm and the attention see a tangent input (R{a} ≠ 0) — every term of theirs."""
    inner = transformer()
    return jn.Network([randomised(jn.Dense(3, 3, tokens=2), 22), *inner.layers], jn.MSE())


def rnn_net():
    return jn.Network([randomised(jn.RNN(2, 3, steps=3), 18), randomised(jn.Dense(3, 1), 19)], jn.MSE())


NETWORKS = {"cnn": cnn, "cnn_1d": cnn_1d, "transformer": transformer, "transformer_causal": lambda: transformer(True),
            "transformer_fed": transformer_fed, "rnn": rnn_net}


def plain_net_loss(net):
    """``(θ, X, Y) ↦`` the mean loss, every layer by its plain form (a Residual: x + its layers), sample by sample."""
    def run(layers, theta, a):
        for layer in layers:
            if isinstance(layer, jn.Residual):
                a = a + run(layer.layers, theta, a)
            else:
                s = net.layer_slice(layer) if layer.n_params else slice(0, 0)
                a = plain(layer)(a, theta[s])
        return a

    loss = ref.LOSSES[type(net.loss_fn)]
    return lambda theta, X, Y: sum(loss(run(net.layers, theta, X[b]), Y[b]) for b in range(len(X))) / len(X)


def net_data(net, batch, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch or 1, net.layers[0].n_in))
    out = net.forward(X)
    Y = rng.normal(size=out.shape) if isinstance(net.loss_fn, jn.MSE) else np.eye(out.shape[-1])[rng.integers(0, out.shape[-1], len(X))]
    return (X, Y) if batch else (X[0], Y[0])


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("batch", [None, 3])
def test_network_hessian_equals_autograds_hessian_of_the_plain_loss_and_hvp_is_hessian_times_v(name, batch):
    net = NETWORKS[name]()
    X, Y = net_data(net, batch, seed=len(name))
    H = net.hessian(X, Y)
    Xs, Ys = (X, Y) if batch else (X[None], Y[None])
    f = plain_net_loss(net)
    assert abs(f(net.get_params(), Xs, Ys) - net.loss(X, Y)) <= 1e-13 * max(1.0, abs(net.loss(X, Y)))
    H_ad = autograd.hessian(f)(net.get_params(), Xs, Ys)
    assert H.shape == (net.n_params, net.n_params)
    assert rel_error(H, H_ad) <= AD_TOL
    assert not np.allclose(net.hessian(X, Y, parts=True).residual, 0)  # the layers' curvature is in it
    V = np.random.default_rng(1).normal(size=(net.n_params, 2))
    assert rel_error(net.hvp(X, Y, V[:, 0]), H @ V[:, 0]) <= EXACT_TOL
    assert rel_error(net.hvp(X, Y, V), H @ V) <= EXACT_TOL


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_hessian_equals_central_differences_of_the_gradient(name):
    net = NETWORKS[name]()
    X, Y = net_data(net, 3, seed=2)
    assert rel_error(net.hessian(X, Y), fd_hessian(net, X, Y)) <= HESS_FD_TOL


@pytest.mark.parametrize("nonlinearity, output", [("tanh", "last"), ("relu", "all")])
def test_the_unrolled_rnn_has_the_rnns_hessian(nonlinearity, output):
    rnn = randomised(jn.RNN(2, 3, steps=3, nonlinearity=nonlinearity, output=output), 20)
    head = randomised(jn.Dense(rnn.out_size(rnn.n_in), 2), 21)
    net, unrolled = jn.Network([rnn, head], jn.MSE()), jn.Network([rnn.unroll(), head], jn.MSE())
    X, Y = net_data(net, 3, seed=4)
    perm = np.concatenate([rnn.unrolled_order(), rnn.n_params + np.arange(head.n_params)])  # θ_unrolled = θ[perm]
    H, H_u = net.hessian(X, Y), unrolled.hessian(X, Y)
    assert rel_error(H_u, H[np.ix_(perm, perm)]) <= EXACT_TOL
