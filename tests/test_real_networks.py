"""The layers of real networks, end to end: a small CNN and a transformer block.

* the networks — CNNs (``Conv2d → ReLU → MaxPool2d → Dense → SoftmaxCrossEntropy``; a ``Conv1d`` one with
  stride 2; an ``AvgPool2d`` one) and a transformer block (``Residual([LayerNorm, SelfAttention])`` then
  ``Residual([LayerNorm, Dense, ReLU, Dense])``, causal and not, with a per-token head and MSE or pooled
  over the tokens to a class) — are written again here plainly with ``autograd.numpy`` (their own
  convolution, pooling, layer norm and attention; no jacobnet call): the gradient in both modes, one
  sample and a batch of 3, against HIPS autograd (≤ 1e-12; the issue asks 1e-10) and against central
  differences; ``∂L/∂x`` (``chain(wrt="input")``, the trace's last product) against autograd, so that the
  first layer's ``J_x`` is checked too; larger instances of both (437 and 464 parameters) as well;
* ``trace``: its gradient is ``net.gradient``; ``chain`` of a first layer evaluates to its gradient block
  in reverse and forward order, dense and structured (through the residuals a ``PathSum``: the sum of its
  paths);
* figures (Agg): every factor of a trace as a heatmap with its structure outlined; ``chain_figure`` and
  ``path_figures``;
* ``train``: 30 steps on a tiny synthetic data set lower the loss.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import jacobnet as jn
from jacobnet.check import rel_error

AD_TOL = 1e-12  # whole networks against autograd: the issue asks ≤ 1e-10; observed ≤ 2e-15
FD_TOL = 1e-7  # against central differences
SAME_TOL = 1e-12  # one gradient computed two ways by jacobnet (trace, chain, modes)
T, D = 3, 4  # the transformer block: tokens, features


# --- the plain references: autograd.numpy, written from the definitions ------------------------------
def unpack(theta, shapes):
    """Consecutive slices of ``θ`` reshaped (row-major) to ``shapes``: the network's layout, in order."""
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(anp.reshape(theta[start : start + size], shape))
        start += size
    assert start == len(theta)
    return out


def pad(x, widths):
    """Zero padding of the trailing axes of ``x`` (channels first), ``widths[i]`` on each side of spatial axis ``i``."""
    for axis, p in enumerate(widths, start=1):
        if p:
            shape = list(x.shape)
            shape[axis] = p
            zeros = anp.zeros(shape)
            x = anp.concatenate([zeros, x, zeros], axis=axis)
    return x


def conv1d(x, W, b, stride, padding):
    """``y[o, t] = b[o] + Σ_{c,k} W[o,c,k] x_pad[c, t·s + k]``: ``x`` ``(C_in, L)`` → ``(C_out, L_out)``."""
    K = W.shape[2]
    xp = pad(x, [padding])
    L_out = (xp.shape[1] - K) // stride + 1
    cols = [anp.sum(W[:, None] * xp[None, :, t * stride : t * stride + K], axis=(1, 2, 3)) for t in range(L_out)]
    return anp.stack(cols, axis=1) + b[:, None]


def conv2d(x, W, b, stride, padding):
    """``y[o, i, j] = b[o] + Σ_{c,u,v} W[o,c,u,v] x_pad[c, i·s_h + u, j·s_w + v]``: ``(C_in, H, W)`` → ``(C_out, H_out, W_out)``."""
    kh, kw = W.shape[2:]
    (sh, sw), xp = stride, pad(x, padding)
    H_out, W_out = (xp.shape[1] - kh) // sh + 1, (xp.shape[2] - kw) // sw + 1
    rows = [
        anp.stack([anp.sum(W * xp[None, :, i * sh : i * sh + kh, j * sw : j * sw + kw], axis=(1, 2, 3)) for j in range(W_out)], axis=1)
        for i in range(H_out)
    ]
    return anp.stack(rows, axis=1) + b[:, None, None]


def windows(z, kernel):
    """``z`` ``(C, *S)`` cut into non-overlapping windows: ``(C, S_1/K_1, K_1, S_2/K_2, K_2, …)``."""
    shape = [z.shape[0]] + [n for s, k in zip(z.shape[1:], kernel) for n in (s // k, k)]
    return anp.reshape(z, shape)


def max_pool(z, kernel):
    """The largest entry of each window (ties only where ReLU gave zeros, whose slope is 0 either way)."""
    return anp.max(windows(z, kernel), axis=tuple(range(2, 2 * len(kernel) + 1, 2)))


def avg_pool(z, kernel):
    return anp.mean(windows(z, kernel), axis=tuple(range(2, 2 * len(kernel) + 1, 2)))


def relu(z):
    return anp.where(z > 0, z, 0.0)  # f'(0) = 0


def mse(z, y):
    return anp.mean((z - y) ** 2)


def softmax_ce(z, y):
    """``−Σ y log softmax(z)``, the log-softmax shifted by ``max z``."""
    m = anp.max(z)
    return -anp.sum(y * (z - m - anp.log(anp.sum(anp.exp(z - m)))))


def layer_norm(X, gamma, beta, eps=1e-5):
    """Each row of ``X`` ``(T, d)`` centred, divided by √(biased variance + eps), scaled by γ and shifted by β."""
    c = X - anp.mean(X, axis=1, keepdims=True)
    return gamma * c / anp.sqrt(anp.mean(c**2, axis=1, keepdims=True) + eps) + beta


def attention(X, Wq, Wk, Wv, causal):
    """``softmax_row(Q Kᵀ/√h) V`` with ``Q = X W_qᵀ`` …; with the mask, row ``t`` weighs tokens ``≤ t`` only."""
    Q, K, V = anp.dot(X, Wq.T), anp.dot(X, Wk.T), anp.dot(X, Wv.T)
    S = anp.dot(Q, K.T) / np.sqrt(Q.shape[1])
    allowed = np.tril(np.ones(S.shape)) if causal else np.ones(S.shape)
    E = anp.exp(S - anp.max(S, axis=1, keepdims=True)) * allowed
    return anp.dot(E / anp.sum(E, axis=1, keepdims=True), V)


def mean_loss(per_sample, theta, X, Y):
    """The loss of one sample, or the mean over a batch (rows of ``X``, ``Y``)."""
    if X.ndim == 1:
        return per_sample(theta, X, Y)
    return sum(per_sample(theta, x, y) for x, y in zip(X, Y)) / len(X)


# --- the networks: each with its plain per-sample loss ---------------------------------------------
def randomised(net, seed):
    """``net`` with every parameter moved off its initial value (biases off 0, γ off 1, β off 0)."""
    theta = net.get_params()
    net.set_params(theta + 0.3 * np.random.default_rng(seed).normal(size=theta.shape))
    return net


def cnn_2d_max():
    """``Conv2d(2→3, 3×3, stride 2, padding 1)`` on 7×7 → 3×4×4, ReLU, ``MaxPool2d(2)`` → 3×2×2, ``Dense(12, 4)``."""
    conv = jn.Conv2d(2, 3, 3, 7, 7, stride=2, padding=1, seed=0)
    net = jn.Network([conv, jn.ReLU(), jn.MaxPool2d(2, channels=3, height=4, width=4), jn.Dense(12, 4, seed=1)],
                     jn.SoftmaxCrossEntropy())

    def loss(theta, x, y):
        W, b, W2, b2 = unpack(theta, [(3, 2, 3, 3), (3,), (4, 12), (4,)])
        a = max_pool(relu(conv2d(anp.reshape(x, (2, 7, 7)), W, b, (2, 2), (1, 1))), (2, 2))
        return softmax_ce(anp.dot(W2, anp.reshape(a, (-1,))) + b2, y)

    return randomised(net, 10), loss


def cnn_1d_max():
    """``Conv1d(2→3, K=3, stride 2, padding 1)`` on length 11 → 3×6, ReLU, ``MaxPool1d(2)`` → 3×3, ``Dense(9, 4)``."""
    conv = jn.Conv1d(2, 3, 3, 11, stride=2, padding=1, seed=2)
    net = jn.Network([conv, jn.ReLU(), jn.MaxPool1d(2, channels=3, length=6), jn.Dense(9, 4, seed=3)], jn.SoftmaxCrossEntropy())

    def loss(theta, x, y):
        W, b, W2, b2 = unpack(theta, [(3, 2, 3), (3,), (4, 9), (4,)])
        a = max_pool(relu(conv1d(anp.reshape(x, (2, 11)), W, b, 2, 1)), (2,))
        return softmax_ce(anp.dot(W2, anp.reshape(a, (-1,))) + b2, y)

    return randomised(net, 11), loss


def cnn_2d_avg():
    """``Conv2d(2→3, 3×2, padding 1)`` on 7×7 → 3×7×8, ReLU, ``AvgPool2d((7, 2))`` → 3×1×4, ``Dense(12, 4)``."""
    conv = jn.Conv2d(2, 3, (3, 2), 7, 7, padding=1, seed=4)
    net = jn.Network([conv, jn.ReLU(), jn.AvgPool2d((7, 2), channels=3, height=7, width=8), jn.Dense(12, 4, seed=5)],
                     jn.SoftmaxCrossEntropy())

    def loss(theta, x, y):
        W, b, W2, b2 = unpack(theta, [(3, 2, 3, 2), (3,), (4, 12), (4,)])
        a = avg_pool(relu(conv2d(anp.reshape(x, (2, 7, 7)), W, b, (1, 1), (1, 1))), (7, 2))
        return softmax_ce(anp.dot(W2, anp.reshape(a, (-1,))) + b2, y)

    return randomised(net, 12), loss


def big_cnn():
    """``Conv2d(3→4, 3×3, padding 1)`` on 12×12, ReLU, ``MaxPool2d(3)`` → 4×4×4, ``Dense(64, 5)``: 437 parameters."""
    conv = jn.Conv2d(3, 4, 3, 12, 12, padding=1, seed=6)
    net = jn.Network([conv, jn.ReLU(), jn.MaxPool2d(3, channels=4, height=12, width=12), jn.Dense(64, 5, seed=7)],
                     jn.SoftmaxCrossEntropy())

    def loss(theta, x, y):
        W, b, W2, b2 = unpack(theta, [(4, 3, 3, 3), (4,), (5, 64), (5,)])
        a = max_pool(relu(conv2d(anp.reshape(x, (3, 12, 12)), W, b, (1, 1), (1, 1))), (3, 3))
        return softmax_ce(anp.dot(W2, anp.reshape(a, (-1,))) + b2, y)

    return randomised(net, 17), loss


def transformer_block(causal, seed=0, tokens=T, d=D):
    """The issue's block (``T = 3`` tokens of ``d = 4`` unless told): attention then the MLP, each ``x + g(LayerNorm(x))``."""
    return [
        jn.Residual([jn.LayerNorm(d, tokens=tokens), jn.SelfAttention(tokens, d, d, causal=causal, seed=seed)]),
        jn.Residual([jn.LayerNorm(d, tokens=tokens), jn.Dense(d, 4 * d, tokens=tokens, seed=seed + 1), jn.ReLU(),
                     jn.Dense(4 * d, d, tokens=tokens, seed=seed + 2)]),
    ]


def block_shapes(d):
    """``θ`` of the block: γ₁, β₁, W_q, W_k, W_v, γ₂, β₂, W₁, b₁, W₂, b₂."""
    return [(d,), (d,), (d, d), (d, d), (d, d), (d,), (d,), (4 * d, d), (4 * d,), (d, 4 * d), (d,)]


def plain_block(params, x, causal, tokens, d):
    """The block's output ``(T, d)`` for one flat sample ``x``."""
    g1, be1, Wq, Wk, Wv, g2, be2, W1, b1, W2, b2 = params
    X = anp.reshape(x, (tokens, d))
    X = X + attention(layer_norm(X, g1, be1), Wq, Wk, Wv, causal)
    return X + anp.dot(relu(anp.dot(layer_norm(X, g2, be2), W1.T) + b1), W2.T) + b2


def transformer_tokens(causal, tokens=T, d=D):
    """The block, then a per-token ``Dense(d, 2, tokens=T)`` and MSE."""
    net = jn.Network([*transformer_block(causal, tokens=tokens, d=d), jn.Dense(d, 2, tokens=tokens, seed=7)], jn.MSE())

    def loss(theta, x, y):
        *block, W3, b3 = unpack(theta, block_shapes(d) + [(2, d), (2,)])
        return mse(anp.reshape(anp.dot(plain_block(block, x, causal, tokens, d), W3.T) + b3, (-1,)), y)

    return randomised(net, 13 + causal), loss


def transformer_pooled(causal):
    """The block, then the mean over the tokens (``AvgPool2d((3, 1))`` on ``(1, T, d)``), ``Dense(4, 3)``, cross-entropy."""
    net = jn.Network([*transformer_block(causal, seed=20), jn.AvgPool2d((T, 1), channels=1, height=T, width=D), jn.Dense(D, 3, seed=8)],
                     jn.SoftmaxCrossEntropy())

    def loss(theta, x, y):
        *block, W3, b3 = unpack(theta, block_shapes(D) + [(3, D), (3,)])
        return softmax_ce(anp.dot(W3, anp.mean(plain_block(block, x, causal, T, D), axis=0)) + b3, y)

    return randomised(net, 15 + causal), loss


CNNS = [pytest.param(cnn_2d_max, id="cnn-2d-max"), pytest.param(cnn_1d_max, id="cnn-1d-stride2-max"), pytest.param(cnn_2d_avg, id="cnn-2d-avg")]
TRANSFORMERS = [
    pytest.param(lambda: transformer_tokens(True), id="transformer-causal-tokens"),
    pytest.param(lambda: transformer_tokens(False), id="transformer-tokens"),
    pytest.param(lambda: transformer_pooled(True), id="transformer-causal-pooled"),
    pytest.param(lambda: transformer_pooled(False), id="transformer-pooled"),
]
BIG = [  # the same networks at larger sizes (5 tokens of 6; a 12×12 image in 3 channels)
    pytest.param(big_cnn, id="big-cnn"),
    pytest.param(lambda: transformer_tokens(True, tokens=5, d=6), id="big-transformer-causal"),
]
NETWORKS = CNNS + TRANSFORMERS + BIG


def data(net, batch, seed=0):
    """An input (or a batch of ``batch``) and a target: one-hot classes for cross-entropy, Gaussian for MSE."""
    rng = np.random.default_rng(seed)
    lead = () if batch is None else (batch,)
    X = rng.normal(size=lead + (net.input_size,))
    n_out = net.sizes[-1]
    if isinstance(net.loss_fn, jn.SoftmaxCrossEntropy):
        return X, np.eye(n_out)[rng.integers(n_out, size=lead)]
    return X, rng.normal(size=lead + (n_out,))


def render(fig) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


# --- the gradient against autograd and central differences --------------------------------------------
@pytest.mark.parametrize("batch", [None, 3], ids=["one sample", "batch of 3"])
@pytest.mark.parametrize("build", NETWORKS)
def test_the_gradient_is_autograds(build, batch):
    net, loss = build()
    X, Y = data(net, batch)
    theta = net.get_params()
    assert abs(net.loss(X, Y) - mean_loss(loss, theta, X, Y)) <= 1e-12 * abs(net.loss(X, Y))  # the same function
    want = autograd.grad(lambda t: mean_loss(loss, t, X, Y))(theta)
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(X, Y, mode=mode), want) <= AD_TOL, mode


@pytest.mark.parametrize("batch", [None, 3], ids=["one sample", "batch of 3"])
@pytest.mark.parametrize("build", NETWORKS)
def test_the_gradient_is_central_differences(build, batch):
    net, _ = build()
    X, Y = data(net, batch, seed=1)
    assert rel_error(net.gradient(X, Y), net.gradient(X, Y, method="finite-difference")) <= FD_TOL


@pytest.mark.parametrize("build", NETWORKS)
def test_the_input_gradient_is_autograds(build):
    """``∂L/∂x`` per sample — the chain ``wrt="input"`` and the trace's last product — through the first layer's ``J_x`` too."""
    net, loss = build()
    X, Y = data(net, 3, seed=8)
    theta = net.get_params()
    want = np.stack([autograd.grad(lambda x, y: loss(theta, x, y))(x, y) for x, y in zip(X, Y)])
    chain = net.chain(X, Y, wrt="input")
    assert chain.n_paths == (4 if isinstance(net.layers[0], jn.Residual) else 1)  # skip or inner, twice
    for order, mode in [("reverse", "materialised"), ("forward", "structured")]:
        assert rel_error(chain.evaluate(order, mode)[:, 0], want) <= AD_TOL, (order, mode)
    last = net.trace(X, Y, mode="structured").products[-1]
    assert last.name == "∂L/∂a0" and rel_error(last.value[:, 0], want) <= AD_TOL


def test_the_references_can_fail():
    """A reference that differs from the network (the causal mask dropped) is caught at once."""
    net, _ = transformer_tokens(True)
    _, other = transformer_tokens(False)
    X, Y = data(net, None)
    want = autograd.grad(lambda t: other(t, X, Y))(net.get_params())
    assert rel_error(net.gradient(X, Y), want) > 1e-3


# --- trace and chain ---------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [None, 3], ids=["one sample", "batch of 3"])
@pytest.mark.parametrize("build", NETWORKS)
def test_the_trace_records_the_gradient(build, batch):
    net, _ = build()
    X, Y = data(net, batch, seed=2)
    g = net.gradient(X, Y)
    for mode in ("materialised", "structured"):
        trace = net.trace(X, Y, mode=mode)
        assert rel_error(trace.gradient, g) <= SAME_TOL, mode
        assert trace.loss == pytest.approx(net.loss(X, Y), rel=1e-14)
        assert all(f.name in str(trace) for f in trace.factors)


@pytest.mark.parametrize(
    "build, kinds",
    [
        (cnn_2d_max, {"J_x(Conv2d 1)": "doubly block-Toeplitz", "J_θ(Conv2d 1)": "[I ⊗ P | I ⊗ 𝟙]", "J_x(ReLU 1)": "diagonal",
                      "J_x(MaxPool2d 1)": "selection"}),
        (cnn_1d_max, {"J_x(Conv1d 1)": "block-Toeplitz", "J_x(MaxPool1d 1)": "selection"}),
        (lambda: transformer_tokens(True), {
            "J_x(Residual 1 › LayerNorm 1)": "diag(γ/σ̂)·P per token",
            "J_x(Residual 1 › SelfAttention 1)": "attention (3×3 token blocks, causal)",
            "J_θ(Residual 1 › SelfAttention 1)": "attention [W^q | W^k | W^v]",
            "J_x(Residual 2 › Dense 1)": "I ⊗ W",
        }),
        (lambda: transformer_pooled(False), {"J_x(Residual 1 › SelfAttention 1)": "attention (3×3 token blocks)"}),
    ],
    ids=["cnn-2d", "cnn-1d", "transformer-causal", "transformer"],
)
def test_the_factors_keep_their_structure_inside_the_network(build, kinds):
    net, _ = build()
    trace = net.trace(*data(net, 3, seed=2), mode="structured")
    assert {name: trace.factor(name).kind for name in kinds} == kinds


def _per_sample(value: np.ndarray) -> np.ndarray:
    """A chain's value ``(1, n)`` or ``(B, 1, n)`` as the gradient block it is: the row, or the batch mean of the rows."""
    return value[0] if value.ndim == 2 else value[:, 0].mean(axis=0)


@pytest.mark.parametrize("batch", [None, 3], ids=["one sample", "batch of 3"])
@pytest.mark.parametrize("build", NETWORKS)
def test_the_chain_of_the_first_layer_is_its_gradient_block(build, batch):
    net, _ = build()
    X, Y = data(net, batch, seed=3)
    g = net.gradient(X, Y)
    chain = net.chain(X, Y)  # the first layer with parameters: Conv 1, or LayerNorm 1 inside Residual 1
    block = g[net.layer_slice(net.param_layers[0])]
    through_residuals = isinstance(net.layers[0], jn.Residual)
    assert isinstance(chain, jn.PathSum) == through_residuals
    assert chain.n_paths == (2 if through_residuals else 1)  # Residual 2: skip or inner (LayerNorm 1 is on Residual 1's inner path)
    for order in ("reverse", "forward"):
        for mode in ("materialised", "structured"):
            assert rel_error(_per_sample(chain.evaluate(order, mode)), block) <= SAME_TOL, (order, mode)
        assert rel_error(_per_sample(sum(p.evaluate(order) for p in chain.paths())), block) <= SAME_TOL, order


@pytest.mark.parametrize("build", TRANSFORMERS[:1] + TRANSFORMERS[3:])
def test_the_chain_of_the_attention_is_a_sum_over_the_residual_paths(build):
    net, _ = build()
    X, Y = data(net, 3, seed=4)
    name = "Residual 1 › SelfAttention 1"
    chain = net.chain(X, Y, layer=name)
    block = net.gradient(X, Y)[net.layer_slice(net.position(name).layer)]
    assert [p.route for p in chain.paths()] == ["Residual 2: skip · Residual 1: inner", "Residual 2: inner · Residual 1: inner"]
    straight = 2 + len(net.layers) - 2  # J_loss, the head's J_x (Dense; or AvgPool and Dense), J_θ
    assert [len(p.factors) for p in chain.paths()] == [straight, straight + 4]  # + J_x of Residual 2's four layers
    paths = [_per_sample(p.evaluate("forward", "structured")) for p in chain.paths()]
    assert rel_error(paths[0] + paths[1], block) <= SAME_TOL
    assert min(rel_error(p, block) for p in paths) > 1e-3  # neither path alone is the gradient


# --- figures -------------------------------------------------------------------------------------------
FACTORS = {  # the factors of each trace, in the order they are multiplied in
    "cnn-2d-max": ["J_loss", "J_θ(Dense 1)", "J_x(Dense 1)", "J_x(MaxPool2d 1)", "J_x(ReLU 1)", "J_θ(Conv2d 1)", "J_x(Conv2d 1)"],
    "transformer-causal-tokens": [
        "J_loss", "J_θ(Dense 3)", "J_x(Dense 3)",
        "J_θ(Residual 2 › Dense 2)", "J_x(Residual 2 › Dense 2)", "J_x(Residual 2 › ReLU 1)", "J_θ(Residual 2 › Dense 1)",
        "J_x(Residual 2 › Dense 1)", "J_θ(Residual 2 › LayerNorm 2)", "J_x(Residual 2 › LayerNorm 2)",
        "J_θ(Residual 1 › SelfAttention 1)", "J_x(Residual 1 › SelfAttention 1)", "J_θ(Residual 1 › LayerNorm 1)",
        "J_x(Residual 1 › LayerNorm 1)",
    ],
}
BUILDERS = {"cnn-2d-max": cnn_2d_max, "transformer-causal-tokens": lambda: transformer_tokens(True)}


@pytest.mark.parametrize("case", list(FACTORS))
def test_the_trace_has_every_factor(case):
    net, _ = BUILDERS[case]()
    assert [f.name for f in net.trace(*data(net, None, seed=5)).factors] == FACTORS[case]


@pytest.mark.parametrize(
    "case, name",
    [pytest.param(case, name, id=f"{case}: {name.replace('θ', 'theta').replace(' › ', ' > ')}") for case, names in FACTORS.items() for name in names],
)
def test_every_factor_of_the_trace_draws_with_its_structure(case, name):
    net, _ = BUILDERS[case]()
    f = net.trace(*data(net, None, seed=5)).factor(name)
    fig = jn.viz.heatmap(f, structure=True)
    pixels = render(fig)
    ax = fig.axes[0]
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert fig.get_label().startswith(f"{f.name} ∈ ℝ^{{{f.shape[0]}×{f.shape[1]}}}")
    np.testing.assert_array_equal(ax.images[0].get_array(), f.dense())
    boxes = f.op.outline()
    rects, rules = sum(b.style in ("box", "dashed") for b in boxes), sum(b.style == "rule" for b in boxes)
    diagonals = sum(b.style == "diagonal" for b in boxes)
    assert len(ax.patches) >= rects and len(ax.lines) >= rules  # every box and rule drawn (a diagonal: its cells or a line)
    assert bool(ax.patches or ax.lines) == bool(rects + rules + diagonals)  # nothing drawn where there is no structure


def test_the_chain_figure_of_the_cnn_shows_its_product():
    net, _ = cnn_2d_max()
    x, y = data(net, None, seed=6)
    chain = net.chain(x, y)
    fig = jn.viz.chain_figure(chain, "forward")
    render(fig)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert [im.shape for im in images[:-1]] == chain.shapes  # the factors, then the product
    np.testing.assert_allclose(images[-1][0], net.gradient(x, y)[net.layer_slice(net.layers[0])], rtol=1e-12, atol=1e-15)
    [one] = jn.viz.path_figures(chain)
    render(one)


def test_the_chain_figures_of_the_transformer_show_the_sum_of_its_paths():
    net, _ = transformer_tokens(True)
    x, y = data(net, None, seed=6)
    chain = net.chain(x, y)
    fig = jn.viz.chain_figure(chain)  # path 1 + path 2 = the gradient block
    render(fig)
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == chain.n_paths + 1
    np.testing.assert_allclose(images[0] + images[1], images[2], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(images[2][0], net.gradient(x, y)[net.layer_slice(net.param_layers[0])], rtol=1e-12, atol=1e-15)


def test_the_path_figures_of_the_transformer_name_their_routes():
    net, _ = transformer_tokens(True)
    chain = net.chain(*data(net, None, seed=6))
    figs = jn.viz.path_figures(chain)
    assert [f.get_suptitle() for f in figs] == [f"path {i} of 2: {p.route}" for i, p in enumerate(chain.paths(), start=1)]
    for f in figs:
        render(f)


# --- training --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, lr",
    [(cnn_2d_max, 0.1), (lambda: transformer_tokens(True), 0.02), (lambda: transformer_pooled(False), 0.05)],
    ids=["cnn-2d-max", "transformer-causal-tokens", "transformer-pooled"],
)
def test_thirty_steps_of_training_lower_the_loss(build, lr):
    net, _ = build()
    X, Y = data(net, 12, seed=7)
    before = net.loss(X, Y)
    history = jn.train(net, X, Y, steps=30, lr=lr, progress=False)
    assert len(history.batch_loss) == 30 and history.loss[0] == pytest.approx(before, rel=1e-14)
    assert history.loss[-1] < 0.8 * history.loss[0]
    assert history.loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-14)
