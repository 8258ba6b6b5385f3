"""Blocks — ``Residual``, ``Concat``, ``Sum``, ``Sequential``, ``Select`` — and networks made of them.

* Random networks (widths up to 12, odd ones, every activation, every loss, blocks
  nested three deep, RNNs and unrolled RNNs at any depth, the same ``Dense``, ``RNN`` or
  block object at several positions, one sample and batches): ``Network.gradient`` in both modes, and ``trace.gradient``,
  against HIPS autograd of the network written plainly here (:func:`plain`, a little
  interpreter of the block structure in ``autograd.numpy`` that never calls
  jacobnet's numerics), ``rel_error ≤ 1e-10``.
* Every block standing alone: ``J_x`` and ``J_θ`` (one sample, a batch) against
  central differences (≤ 1e-7), the complex step and autograd (≤ 1e-12); its closed
  forms proved equal to SymPy's derivative; ``check_layer``.
* The block operators (``Identity``, ``Composition``, ``OperatorSum``, ``VStack``,
  ``RowBlock``): ``dense`` / ``vjp`` / ``vjp_sum`` / ``vjp_mean`` / ``jvp`` /
  ``batch_slice`` agree with each other and with autograd's matrix.
* Paths: a chain through blocks is the sum of its paths, in every order and both
  modes, and equals that layer's block of the gradient and the product of the top-level
  layers' materialised Jacobians (``I + J_g`` whole, never split into paths); ``2^k`` paths through ``k``
  residual blocks with binomial lengths; a concatenation multiplies the count by its
  branches; on random networks the count and the lengths match a count made here.
* The trace: junctions ``skip + inner`` whose terms are products; unique names.
* Symbolic: ``method="symbolic"`` and ``network_gradient`` / ``gradients_agree``.
* Bad input, each a clear error naming the block.

Bugs found are kept at the end as regression tests (``test_bug_…``).
Shared weights have their own file, ``test_shared_weights.py``.
"""

from __future__ import annotations

from collections import Counter

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import reference as ref
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import FAST, alphas, targets

import jacobnet as jn
from jacobnet.check import check_layer, rel_error
from jacobnet.core.compose import Composition, Identity, OperatorSum, RowBlock, VStack
from jacobnet.core.finite import jacobian_complex_step, jacobian_fd
from jacobnet.core.operators import Diagonal, Matrix

GRAD_TOL = 1e-10  # a network's gradient against autograd
MODE_TOL = 1e-12  # structured against materialised: the same factors, summed in another order
AD_TOL = 1e-12  # one block's Jacobian against autograd
CS_TOL = 1e-12  # … against the complex step
FD_TOL = 1e-7  # … against central differences
OP_TOL = 1e-13  # a structured product against the dense matrix's product
ATOL = 1e-15  # autograd's round-off where the exact value is 0 (a softmax of equal entries: ±1e-17)
LOSSES = {"mse": jn.MSE, "ce": jn.CrossEntropy, "softmax-ce": jn.SoftmaxCrossEntropy}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "leaky_relu", "softplus")
ORDERS = ("reverse", "forward", "optimal")
MODES = ("materialised", "structured")
SETTINGS = settings(FAST, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEWER = settings(SETTINGS, max_examples=max(1, FAST.max_examples // 2))


# --- the reference: the block structure interpreted plainly -------------------------------
def theta_size(layer) -> int:
    """A Dense's ``[vec_r(W), b]``, an RNN's ``[vec_r(W_ih), vec_r(W_hh), b_ih, b_hh]``: counted from its sizes here."""
    if isinstance(layer, jn.RNN):
        return layer.hidden_size * (layer.input_size + layer.hidden_size + 2)
    return layer.n_out * (layer.n_in + 1)


def theta_layout(layers) -> dict[int, slice]:
    """Each distinct ``Dense``'s or ``RNN``'s slice of θ, in the order the forward pass first meets it."""
    out: dict[int, slice] = {}
    start = 0

    def visit(layer) -> None:
        nonlocal start
        if isinstance(layer, (jn.Dense, jn.RNN)):
            if id(layer) not in out:
                size = theta_size(layer)
                out[id(layer)] = slice(start, start + size)
                start += size
        for branch in branches_of(layer):
            for inner in branch:
                visit(inner)

    for layer in layers:
        visit(layer)
    return out


def branches_of(layer) -> list[list]:
    """The sub-sequences a block runs (a residual block's ``g``), in forward order; ``[]`` for a layer."""
    if isinstance(layer, (jn.Residual, jn.Sequential)):
        return [list(layer.layers)]
    if isinstance(layer, (jn.Concat, jn.Sum)):
        return [list(b) for b in layer.branches]
    return []


STABLE = {**ref.ACTIVATIONS, "softmax": ref.softmax}  # autograd-safe forms (reference.py)


def _softmax_c(z):
    e = anp.exp(z - anp.max(anp.real(z), axis=-1, keepdims=True))
    return e / anp.sum(e, axis=-1, keepdims=True)


ANALYTIC_FNS = {  # the textbook forms: analytic, so the complex step goes through them
    "tanh": anp.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + anp.exp(-x)),
    "softplus": lambda x: anp.log1p(anp.exp(x)),
    "relu": lambda x: anp.where(anp.real(x) > 0, x, 0.0),
    "leaky_relu": lambda x, alpha: anp.where(anp.real(x) > 0, x, alpha * x),
    "softmax": _softmax_c,
}


def plain(layer, theta, a, where: dict[int, slice], fns=STABLE):
    """``layer``'s output at ``a`` (last axis), its parameters read from ``theta`` at ``where[id(dense)]``.

    y = x + g(x), [g_1(x); g_2(x)], Σ g_i(x), g_k(⋯ g_1(x)), x[index] (0 at −1), W x + b,
    the Elman recurrence (:func:`plain_rnn`) and the activations — from the definitions, not from jacobnet.
    """
    if isinstance(layer, jn.Residual):
        return a + plain_seq(layer.layers, theta, a, where, fns)
    if isinstance(layer, jn.Sequential):
        return plain_seq(layer.layers, theta, a, where, fns)
    if isinstance(layer, jn.Concat):
        return anp.concatenate([plain_seq(b, theta, a, where, fns) for b in layer.branches], axis=-1)
    if isinstance(layer, jn.Sum):
        outs = [plain_seq(b, theta, a, where, fns) for b in layer.branches]
        total = outs[0]
        for o in outs[1:]:
            total = total + o
        return total
    if isinstance(layer, jn.Select):
        idx = np.asarray(layer.index)
        return a[..., np.maximum(idx, 0)] * (idx >= 0).astype(float)
    if isinstance(layer, jn.RNN):
        return plain_rnn(layer, theta[where[id(layer)]], a, fns)
    if isinstance(layer, jn.Dense):
        t = theta[where[id(layer)]]
        k = layer.n_in * layer.n_out
        return anp.dot(a, anp.reshape(t[:k], (layer.n_out, layer.n_in)).T) + t[k:]
    if isinstance(layer, jn.Softmax):
        return fns["softmax"](a)
    if isinstance(layer, jn.LeakyReLU):
        return fns["leaky_relu"](a, layer.rule_params["alpha"])
    return fns[layer.rule.name](a)


def plain_rnn(rnn, t, a, fns=STABLE):
    """h_s = f(W_ih x_s + b_ih + W_hh h_{s−1} + b_hh), h_0 = 0, over [x_1; …; x_T] on the last axis of ``a``;
    ``t = [vec_r(W_ih), vec_r(W_hh), b_ih, b_hh]`` (PyTorch's order); ``h_T`` or ``[h_1; …; h_T]``."""
    n_x, n_h, T = rnn.input_size, rnn.hidden_size, rnn.steps
    i, j = n_h * n_x, n_h * (n_x + n_h)
    W_ih, W_hh = anp.reshape(t[:i], (n_h, n_x)), anp.reshape(t[i:j], (n_h, n_h))
    b_ih, b_hh = t[j : j + n_h], t[j + n_h :]
    f = fns[rnn.nonlinearity]
    h, hs = anp.zeros(a.shape[:-1] + (n_h,)), []
    for s in range(T):
        h = f(anp.dot(a[..., s * n_x : (s + 1) * n_x], W_ih.T) + b_ih + anp.dot(h, W_hh.T) + b_hh)
        hs.append(h)
    return h if rnn.output == "last" else anp.concatenate(hs, axis=-1)


def plain_seq(layers, theta, a, where, fns=STABLE):
    for layer in layers:
        a = plain(layer, theta, a, where, fns)
    return a


def plain_loss(net: jn.Network):
    """``(θ, x, y) ↦`` the mean loss of ``net``, θ laid out by :func:`theta_layout`."""
    where, loss = theta_layout(net.layers), ref.LOSSES[type(net.loss_fn)]
    return lambda theta, x, y: anp.mean(loss(plain_seq(net.layers, theta, x, where), y))


def plain_block(block, fns=STABLE):
    """``(θ, x) ↦`` a block's output, θ in the block's own first-use order."""
    where = theta_layout([block])
    return lambda theta, x: plain(block, theta, x, where, fns)


def agree(got: np.ndarray, want: np.ndarray, rtol: float, atol: float = ATOL) -> bool:
    """``max|got − want| ≤ rtol · max|want| + atol`` — :func:`rel_error` with the absolute floor of ``check_jacobian``."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want), initial=0.0)) <= rtol * float(np.max(np.abs(want), initial=0.0)) + atol


def ad_jacobian(f, v: np.ndarray, m: int) -> np.ndarray:
    """autograd's Jacobian of ``f: ℝⁿ → ℝᵐ`` at ``v``; ``(m, 0)`` without inputs (autograd warns on those)."""
    return np.zeros((m, 0)) if v.size == 0 else autograd.jacobian(f)(v)


def ad_gradient(net: jn.Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return autograd.grad(plain_loss(net))(net.get_params(), x, y)


def unsaturated(net: jn.Network, x: np.ndarray) -> bool:
    """No output probability within 1e-3 of 1 (autograd's softmax reference cancels there; see test_network)."""
    if isinstance(net.loss_fn, jn.MSE):
        return True
    out = net.forward(x)
    probs = out if isinstance(net.loss_fn, jn.CrossEntropy) else jn.Softmax().forward(out)
    return bool(np.max(probs) <= 1.0 - 1e-3)


# --- random block structures ------------------------------------------------------------------
LEAVES = ("dense", "act", "act", "softmax", "select", "rnn")
BLOCKS = ("residual", "concat", "sum", "sequential", "same_block", "unrolled")


class Builder:
    """Draws layers and blocks, remembering every Dense and block it made so that it can use them again."""

    def __init__(self, draw: st.DrawFn, share: bool = True):
        self.draw, self.share = draw, share
        self.dense: list[jn.Dense] = []
        self.rnns: list[jn.RNN] = []
        self.recurrent = False  # an RNN or an unrolled one made
        self.blocks: list[tuple[jn.Layer, int, int]] = []  # (block, n_in, n_out)

    def dense_layer(self, n: int, m: int) -> jn.Dense:
        """A Dense n → m: one made before (shared weights), or a new one."""
        pool = [d for d in self.dense if (d.n_in, d.n_out) == (n, m)]
        if self.share and pool and self.draw(st.integers(0, 2)):  # two times in three: shared weights
            return self.draw(st.sampled_from(pool))
        d = jn.Dense(n, m)
        self.dense.append(d)
        return d

    def new_rnn(self, n: int, cap: int, max_steps: int = 4) -> jn.RNN:
        """An RNN reading ``n = T·n_x`` features (tanh or relu, ``h_T`` or every ``h_t``)."""
        T = self.draw(st.sampled_from([t for t in range(1, max_steps + 1) if n % t == 0]))
        return jn.RNN(n // T, self.draw(st.integers(1, min(cap, 6))), steps=T,
                      nonlinearity=self.draw(st.sampled_from(("tanh", "relu"))), output=self.draw(st.sampled_from(("last", "all"))))

    def rnn_layer(self, n: int, cap: int) -> jn.RNN:
        """An RNN reading ``n`` features: one made before (shared weights), or a new one."""
        pool = [r for r in self.rnns if r.n_in == n]
        if self.share and pool and self.draw(st.integers(0, 2)):
            return self.draw(st.sampled_from(pool))
        rnn = self.new_rnn(n, cap)
        self.rnns.append(rnn)
        self.recurrent = True
        return rnn

    def activation(self, n: int) -> jn.Layer:
        kind = self.draw(st.sampled_from(ACTIVATIONS + (("softmax",) if n >= 2 else ())))
        if kind == "leaky_relu":
            return jn.LeakyReLU(self.draw(alphas))
        return {"tanh": jn.Tanh, "sigmoid": jn.Sigmoid, "relu": jn.ReLU, "softplus": jn.Softplus, "softmax": jn.Softmax}[kind]()

    def piece(self, n: int, depth: int, cap: int, kind: str | None = None) -> tuple[jn.Layer, int]:
        """One layer or block reading ``n`` features, and its output size."""
        if kind is None:
            kinds = LEAVES + (BLOCKS if depth > 0 else ())
            kind = self.draw(st.sampled_from(kinds))
        if kind == "dense":
            m = self.draw(st.integers(1, cap))
            return self.dense_layer(n, m), m
        if kind == "act":
            return self.activation(n), n
        if kind == "softmax":
            return (jn.Softmax(), n) if n >= 2 else (self.activation(n), n)
        if kind == "rnn":
            rnn = self.rnn_layer(n, cap)
            return rnn, rnn.out_size(n)
        if kind == "select":
            index = self.draw(st.lists(st.integers(-1, n - 1), min_size=1, max_size=min(cap, 12)))
            if max(index) < 0:  # only padding: its products are integer arrays (test_bug_select_of_padding_only)
                index[0] = n - 1
            return jn.Select(n, index), len(index)
        if kind == "same_block":
            pool = [(b, m) for b, k, m in self.blocks if k == n]
            if not pool:
                return self.piece(n, depth, cap, "residual")
            return self.draw(st.sampled_from(pool))
        block, m = self.block(kind, n, depth, cap)
        self.blocks.append((block, n, m))
        return block, m

    def block(self, kind: str, n: int, depth: int, cap: int) -> tuple[jn.Layer, int]:
        if kind == "unrolled":  # an RNN as blocks: its two Dense layers shared by every step
            rnn = self.new_rnn(n, cap, max_steps=3)
            unrolled = rnn.unroll()
            self.dense += unrolled.param_layers()  # (new objects: randomised, and open to sharing, like any Dense)
            self.recurrent = True
            return unrolled, rnn.out_size(n)
        if kind == "residual":
            inner, m = self.seq(n, depth - 1, 1, 3, cap, branch=True)
            if m != n:
                inner.append(self.dense_layer(m, n))
            return jn.Residual(inner), n
        if kind == "sequential":
            inner, m = self.seq(n, depth - 1, 1, 3, cap, branch=True)
            return jn.Sequential(inner), m
        if kind == "concat":
            parts = [self.seq(n, depth - 1, 0, 2, min(cap, 5), branch=True) for _ in range(self.draw(st.integers(1, 3)))]
            if not any(layers for layers, _ in parts):  # an all-identity concatenation is refused
                parts[0] = ([self.dense_layer(n, parts[0][1])], parts[0][1])
            return jn.Concat([layers for layers, _ in parts]), sum(m for _, m in parts)
        # sum: every branch brought to one size m (an empty branch, the identity, when m = n)
        m = self.draw(st.integers(1, cap))
        branches = []
        for _ in range(self.draw(st.integers(1, 3))):
            layers, k = self.seq(n, depth - 1, 0 if m == n else 1, 2, cap, branch=True)
            if k != m:
                layers.append(self.dense_layer(k, m))
            branches.append(layers)
        if not any(branches):
            branches[0] = [self.dense_layer(n, m)]
        return jn.Sum(branches), m

    def seq(self, n: int, depth: int, lo: int, hi: int, cap: int, branch: bool = False) -> tuple[list[jn.Layer], int]:
        """``lo … hi`` pieces in a row, each output brought back to at most ``cap`` features by a Dense.

        In a block's branch, a size-free piece that changes the size gets a Dense n → n before it
        unless a layer already fixed the size (see test_bug_size_free_block_valid_at_one_size).
        """
        layers: list[jn.Layer] = []
        for _ in range(self.draw(st.integers(lo, hi))):
            layer, n2 = self.piece(n, depth, cap)
            if branch and n2 != n and layer.n_in is None and all(l.n_in is None for l in layers):
                layers.append(self.dense_layer(n, n))
            layers.append(layer)
            if n2 > cap:
                m = self.draw(st.integers(1, cap))
                layers.append(self.dense_layer(n2, m))
                n2 = m
            n = n2
        return layers, n

    def randomise(self, rng: np.random.Generator) -> None:
        """Moderate weights: W ~ N(0, 1/n_in), b ~ N(0, 1/4) (an RNN's W_hh ~ N(0, 1/n_h) too)."""
        for d in self.dense:
            d.set_params(np.concatenate([rng.normal(size=d.n_in * d.n_out) / np.sqrt(d.n_in), rng.normal(scale=0.5, size=d.n_out)]))
        for r in self.rnns:
            n_x, n_h = r.input_size, r.hidden_size
            r.set_params(np.concatenate([rng.normal(size=n_h * n_x) / np.sqrt(n_x), rng.normal(size=n_h * n_h) / np.sqrt(n_h),
                                         rng.normal(scale=0.5, size=2 * n_h)]))


@st.composite
def networks(draw: st.DrawFn, batch: bool | None = None, max_depth: int = 3, share: bool = True):
    """``(net, x, y)``: top-level layers and blocks nested up to ``max_depth`` (RNNs and unrolled RNNs among them),
    then what the loss needs."""
    build = Builder(draw, share)
    n0 = draw(st.integers(1, 12))
    layers, m = build.seq(n0, max_depth, 1, 4, 12)
    if not build.blocks:  # at least one block
        block, m = build.piece(m, max_depth, 12, draw(st.sampled_from(BLOCKS[:4])))
        layers.append(block)
    if not build.recurrent and draw(st.booleans()):  # recurrence in about two networks in three
        piece, m = build.piece(m, 0, 12, draw(st.sampled_from(["rnn", "unrolled"])))
        layers.append(piece)
    if share and not any(p.use > 1 and p.k for p in jn.Network(layers, jn.MSE()).all_positions):
        # at least one Dense at two positions: at the top and inside a block
        d = build.dense_layer(m, m)
        if draw(st.booleans()):
            layers += [d, jn.Residual([build.activation(m), d])]
        else:
            layers += [jn.Concat([[d], []]), build.dense_layer(2 * m, m), d]
    loss = draw(st.sampled_from(list(LOSSES)))
    if loss != "mse" or not build.dense or draw(st.booleans()):
        k = draw(st.integers(1 if loss == "mse" else 2, 12))
        layers.append(build.dense_layer(m, k))
    if loss == "ce":
        layers.append(jn.Softmax())
    net = jn.Network(layers, LOSSES[loss]())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    build.randomise(rng)
    is_batch = draw(st.booleans()) if batch is None else batch
    x = rng.normal(size=(draw(st.integers(1, 4)), n0) if is_batch else n0)
    y = targets(loss, net.forward(x), rng, one_hot=draw(st.booleans()))
    return net, x, y


@st.composite
def blocks_with_input(draw: st.DrawFn, batch: bool = False, kinds: tuple[str, ...] = BLOCKS[:4], max_n: int = 6,
                      analytic: bool = False):
    """``(block, x)``: one random block (nested up to two deep, shared layers inside), moderate weights."""
    build = Builder(draw)
    if analytic:
        build.activation = lambda n: draw(st.sampled_from([jn.Tanh, jn.Sigmoid, jn.Softplus]))()
    n = draw(st.integers(1, max_n))
    block, _ = build.piece(n, 2, 6, draw(st.sampled_from(kinds)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    build.randomise(rng)
    x = rng.normal(size=(draw(st.integers(1, 3)), n) if batch else n)
    return block, x


# --- 1. the gradient of random networks against autograd ---------------------------------------
@pytest.mark.parametrize("batch", [False, True], ids=["one sample", "batch"])
@SETTINGS
@given(data=st.data())
def test_gradient_matches_autograd_in_both_modes(batch: bool, data) -> None:
    net, x, y = data.draw(networks(batch=batch))
    assume(unsaturated(net, x))
    want = ad_gradient(net, x, y)
    g = net.gradient(x, y)
    assert g.shape == (net.n_params,) == want.shape
    assert rel_error(g, want) <= GRAD_TOL
    assert rel_error(net.gradient(x, y, mode="materialised"), want) <= GRAD_TOL
    assert net.loss(x, y) == pytest.approx(float(plain_loss(net)(net.get_params(), x, y)), rel=1e-12)


@FEWER
@given(networks(), st.sampled_from(MODES))
def test_trace_gradient_is_the_gradient(case, mode: str) -> None:
    net, x, y = case
    assume(unsaturated(net, x))
    trace = net.trace(x, y, mode=mode)
    assert rel_error(trace.gradient, net.gradient(x, y)) <= MODE_TOL
    assert rel_error(trace.gradient, ad_gradient(net, x, y)) <= GRAD_TOL


def nested_network(loss: str) -> tuple[jn.Network, jn.Dense]:
    """A Residual inside a Concat inside a Residual, the same Dense at the top and at two depths inside."""
    shared = jn.Dense(5, 5, seed=0)
    inner = jn.Residual([jn.Dense(5, 3, seed=1), jn.Softplus(), jn.Dense(3, 5, seed=2)])
    middle = jn.Concat([[inner, jn.Tanh()], [], [shared, jn.LeakyReLU(0.1), jn.Select(5, [4, -1, 0])]])
    outer = jn.Residual([middle, jn.Dense(13, 5, seed=3), jn.Sigmoid(), shared])
    layers = [jn.Dense(3, 5, seed=4), shared, jn.ReLU(), outer, jn.Sum([[shared], [], [jn.Dense(5, 5, seed=5), jn.Tanh()]])]
    layers.append(jn.Dense(5, 3, seed=6))
    if loss == "ce":
        layers.append(jn.Softmax())
    return jn.Network(layers, LOSSES[loss]()), shared


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("B", [None, 1, 4])
def test_deeply_nested_network_with_a_shared_layer(loss: str, B: int | None) -> None:
    net, shared = nested_network(loss)
    rng = np.random.default_rng(7)
    net.set_params(rng.normal(scale=0.5, size=net.n_params))
    x = rng.normal(size=(B, 3) if B else 3)
    y = targets(loss, net.forward(x), rng, one_hot=False)
    want = ad_gradient(net, x, y)
    for mode in MODES:
        assert rel_error(net.gradient(x, y, mode=mode), want) <= GRAD_TOL, mode
    assert sum(p.layer is shared for p in net.all_positions) == 4
    assert rel_error(net.trace(x, y).gradient, want) <= GRAD_TOL


@pytest.mark.slow
@settings(SETTINGS, max_examples=max(1, FAST.max_examples // 3))
@given(networks(batch=False, max_depth=2))
def test_gradient_matches_central_differences(case) -> None:
    """A third opinion, independent of both autodiff codes, where FD can resolve the gradient."""
    net, x, y = case
    g = net.gradient(x, y)
    assume(np.max(np.abs(g)) >= 1e-3 * max(1.0, abs(net.loss(x, y))))
    assert rel_error(g, net.gradient(x, y, method="finite-difference")) <= 1e-6


# --- 2. each block's Jacobians: differences, complex step, autograd, closed forms --------------
def of_params(layer, x):
    """The layer's output as a function of θ, through set_params (the caller restores θ)."""

    def f(t):
        layer.set_params(t)
        return layer.forward(x)

    return f


@SETTINGS
@given(blocks_with_input())
def test_block_jacobians_against_differences_and_autograd(case) -> None:
    block, x = case
    theta = block.get_params()
    J_x, J_theta = block.jacobian_input(x), block.jacobian_params(x)
    m = block.out_size(x.size)
    assert J_x.shape == (m, x.size) and J_theta.shape == (m, block.n_params) == (m, theta.size)
    f = plain_block(block)
    assert agree(J_x, autograd.jacobian(lambda v: f(theta, v))(x), AD_TOL)
    assert agree(J_theta, ad_jacobian(lambda t: f(t, x), theta, m), AD_TOL)
    assert rel_error(J_x, jacobian_fd(block.forward, x)) <= FD_TOL
    try:
        assert rel_error(J_theta, jacobian_fd(of_params(block, x), theta)) <= FD_TOL
    finally:
        block.set_params(theta)
    assert all(c.ok for c in check_layer(block, x))


@SETTINGS
@given(blocks_with_input(analytic=True))
def test_block_jacobians_against_the_complex_step(case) -> None:
    """Tanh, sigmoid, softplus, softmax and Select inside: the plain forward is analytic, complex input and all."""
    block, x = case
    theta = block.get_params()
    f = plain_block(block, ANALYTIC_FNS)
    assert agree(block.jacobian_input(x), jacobian_complex_step(lambda v: f(theta, v), x), CS_TOL)
    if theta.size:
        assert agree(block.jacobian_params(x), jacobian_complex_step(lambda t: f(t, x), theta), CS_TOL)


@SETTINGS
@given(blocks_with_input(batch=True))
def test_block_batch_jacobians_are_the_per_sample_ones(case) -> None:
    block, X = case
    theta = block.get_params()
    J_x, J_theta = block.jacobian_input(X), block.jacobian_params(X)
    m = block.out_size(X.shape[1])
    assert J_x.shape == (X.shape[0], m, X.shape[1]) and J_theta.shape == (X.shape[0], m, block.n_params)
    f = plain_block(block)
    for b, x in enumerate(X):
        assert agree(J_x[b], autograd.jacobian(lambda v: f(theta, v))(x), AD_TOL)
        assert agree(J_theta[b], ad_jacobian(lambda t, x=x: f(t, x), theta, m), AD_TOL)
    assert rel_error(block.forward(X), np.stack([block.forward(x) for x in X])) <= 1e-14


def tiny_blocks() -> dict[str, jn.Layer]:
    d = jn.Dense(2, 2, seed=0)
    return {
        "residual": jn.Residual([d, jn.Tanh()]),
        "residual, a layer twice": jn.Residual([d, jn.Sigmoid(), d]),
        "residual of a softmax": jn.Residual([jn.Softmax()]),
        "residual at kinks": jn.Sequential([jn.Residual([jn.ReLU()]), jn.Residual([jn.LeakyReLU(0.1)])]),
        "concat": jn.Concat([jn.Dense(2, 1, seed=1), [], [jn.Residual([d])], jn.Select(2, [1, -1, 1])]),
        "sum": jn.Sum([[], [d], [jn.Softplus()]]),
        "sequential": jn.Sequential([jn.Dense(2, 3, seed=2), jn.Tanh(), jn.Dense(3, 1, seed=3)]),
        "nested": jn.Residual([jn.Concat([[jn.Residual([d, jn.Tanh()])], [jn.Dense(2, 1, seed=4)]]), jn.Dense(3, 2, seed=5)]),
        "select": jn.Select(2, [1, -1, 0, 0]),
    }


@pytest.mark.parametrize("name", list(tiny_blocks()))
def test_block_closed_forms_are_proved_equal_to_sympy(name: str) -> None:
    from jacobnet.symbolic import compare_closed_forms

    block = tiny_blocks()[name]
    checks = compare_closed_forms(block, n=2)
    assert [c.name for c in checks] == (["J_x", "J_θ"] if block.n_params else ["J_x"])
    m = block.out_size(2)
    assert checks[0].shape == (m, 2) and all(c.shape == (m, block.n_params) for c in checks[1:])
    assert all(c.proved for c in checks), [str(c) for c in checks]


def test_block_closed_form_numbers_are_the_jacobians() -> None:
    """The closed forms evaluated at a point are the numeric Jacobians (a second check of the composition)."""
    import sympy as sp

    from jacobnet.symbolic.derive import param_symbols, vector_symbols

    block = tiny_blocks()["nested"]
    xs, ts = vector_symbols("x", 2), param_symbols(block)
    J_x, J_theta = block.closed_form(xs, ts)
    x, theta = np.array([0.4, -1.3]), block.get_params()
    f = sp.lambdify([*xs, *ts], [sp.Matrix(J_x), sp.Matrix(J_theta)], "numpy")
    got_x, got_theta = f(*x, *theta)
    assert rel_error(np.array(got_x, dtype=float), block.jacobian_input(x)) <= 1e-14
    assert rel_error(np.array(got_theta, dtype=float), block.jacobian_params(x)) <= 1e-14


def test_a_block_s_parameters_are_its_layers_once_in_first_use_order() -> None:
    a, b = jn.Dense(2, 2, seed=0), jn.Dense(2, 2, seed=1)
    block = jn.Sum([[b, jn.Tanh(), a], [a], [jn.Residual([b])]])
    assert block.n_params == 12
    np.testing.assert_array_equal(block.get_params(), np.concatenate([b.get_params(), a.get_params()]))
    theta = np.arange(12.0)
    block.set_params(theta)
    np.testing.assert_array_equal(b.get_params(), theta[:6])
    np.testing.assert_array_equal(a.get_params(), theta[6:])
    assert list(block.param_labels(3))[:1] == ["W^{(3)}_{1,1}"] and list(block.param_labels(3))[6:7] == ["W^{(4)}_{1,1}"]


def test_block_key_tells_sharing_apart() -> None:
    """Residual([d, Tanh, d]) and Residual([d, Tanh, e]) are different functions of θ: different keys."""
    d, e = jn.Dense(2, 2, seed=0), jn.Dense(2, 2, seed=0)
    assert jn.Residual([d, jn.Tanh(), d]).key() != jn.Residual([d, jn.Tanh(), e]).key()
    assert jn.Residual([d, jn.Tanh()]).key() == jn.Residual([e, jn.Tanh()]).key()
    assert jn.Concat([d, []]).key() != jn.Sum([d, []]).key()


# --- 3. the block operators ------------------------------------------------------------------------
def check_operator(op, J: np.ndarray, rng: np.random.Generator) -> None:
    """``op`` against a reference matrix ``J`` (``(m, n)`` or ``(B, m, n)``); every product against its own dense
    matrix; nothing it is given is changed."""
    B = J.shape[0] if J.ndim == 3 else None
    lead = (B,) if B else ()
    m, n = J.shape[-2:]
    assert op.shape == (m, n) and op.batch == B
    assert agree(op.dense(), J, OP_TOL)
    J = op.dense()  # the products against the operator's own matrix: the same numbers, exactly 0 where it is
    out = np.full(lead + (m, n), np.nan)
    op.dense(out=out)
    assert agree(out, J, OP_TOL)
    G, H = rng.normal(size=lead + (2, m)), rng.normal(size=lead + (n, 3))
    G0, H0 = G.copy(), H.copy()
    assert agree(op.vjp(G), G @ J, OP_TOL)
    assert agree(op.jvp(H), J @ H, OP_TOL)
    want = (G @ J).sum(axis=0) if B else G @ J
    assert agree(op.vjp_sum(G), want, OP_TOL)
    out = np.full((2, n), np.nan)
    op.vjp_sum(G, out=out)
    assert agree(out, want, OP_TOL)
    assert agree(op.vjp_mean(G), want / (B or 1), OP_TOL)
    np.testing.assert_array_equal(G, G0)
    np.testing.assert_array_equal(H, H0)
    if B:
        for start, stop in [(0, B), (B - 1, B), (0, (B + 1) // 2)]:
            part = op.batch_slice(start, stop)
            assert part.batch == stop - start
            assert agree(part.dense(), J[start:stop], OP_TOL)
            assert agree(part.vjp(G[start:stop]), G[start:stop] @ J[start:stop], OP_TOL)
        if B > 1:  # a shared row G (k, m): every sample's G J_b
            assert agree(op.vjp(G0[0]), G0[0] @ J, OP_TOL)


@SETTINGS
@given(blocks_with_input(batch=True), st.integers(0, 2**32 - 1))
def test_block_operators_agree_with_autograd_and_each_other(case, seed: int) -> None:
    block, X = case
    rng = np.random.default_rng(seed)
    theta, f = block.get_params(), plain_block(block)
    J_x = np.stack([autograd.jacobian(lambda v: f(theta, v))(x) for x in X])
    J_theta = np.stack([ad_jacobian(lambda t, x=x: f(t, x), theta, J_x.shape[1]) for x in X])
    check_operator(block.jacobian_input_op(X), J_x, rng)
    check_operator(block.jacobian_params_op(X), J_theta, rng)
    check_operator(block.jacobian_input_op(X[0]), J_x[0], rng)  # one sample
    check_operator(block.jacobian_params_op(X[0]), J_theta[0], rng)


def random_part(kind: str, m: int, n: int, rng: np.random.Generator, B: int | None):
    """A Matrix (per sample or shared), a Diagonal or an Identity of shape (m, n) (square for the last two)."""
    lead = (B,) if B else ()
    if kind == "dense":
        return Matrix(rng.normal(size=lead + (m, n)))
    if kind == "shared":
        return Matrix(rng.normal(size=(m, n)), batch=B)
    if kind == "diagonal":
        return Diagonal(rng.normal(size=lead + (n,)))
    return Identity(n, B)


def dense_of(op, B: int | None) -> np.ndarray:
    """The matrix of a part, per sample: (B, m, n) or (m, n)."""
    J = op.A if isinstance(op, Matrix) else (np.eye(op.shape[0]) if isinstance(op, Identity) else None)
    if J is None:
        J = op.d[..., :, None] * np.eye(op.shape[0])
    return np.broadcast_to(J, ((B,) if B else ()) + op.shape).copy()


parts_kinds = st.sampled_from(["dense", "shared", "diagonal", "identity"])


@SETTINGS
@given(st.sampled_from([None, 1, 3]), st.lists(parts_kinds, min_size=1, max_size=4), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_composition_sum_and_stack_of_random_parts(B, kinds, n: int, seed: int) -> None:
    """Composition, OperatorSum, VStack, RowBlock built by hand from dense, shared, diagonal and identity parts."""
    rng = np.random.default_rng(seed)
    # a composition: sizes chain (square parts keep the size)
    sizes = [n]
    parts = []
    for kind in kinds:
        m = sizes[-1] if kind in ("diagonal", "identity") else int(rng.integers(1, 6))
        parts.append(random_part(kind, m, sizes[-1], rng, B))
        sizes.append(m)
    parts = parts[::-1]  # leftmost first: the last part made is A_1
    J = dense_of(parts[0], B)
    for p in parts[1:]:
        J = J @ dense_of(p, B)
    comp = Composition(parts)
    check_operator(comp, J, rng)
    # a sum of operators of one shape (n, n), with the identity (first, too: it is what a one-sample vjp returns as is)
    terms = [random_part(k, n, n, rng, B) for k in kinds] + [Identity(n, B)]
    check_operator(OperatorSum(terms), sum(dense_of(t, B) for t in terms), rng)
    # a stack of operators with n columns, and where a block sits in it
    rows = [random_part(k, int(rng.integers(1, 4)) if k in ("dense", "shared") else n, n, rng, B) for k in kinds]
    stacked = np.concatenate([dense_of(r, B) for r in rows], axis=-2)
    check_operator(VStack(rows), stacked, rng)
    total = stacked.shape[-2]
    offset = int(rng.integers(0, total - n + 1)) if total >= n else 0
    if total >= n:
        E = np.zeros((total, n))
        E[offset : offset + n] = np.eye(n)
        check_operator(RowBlock(n, offset, total, B), np.broadcast_to(E, ((B,) if B else ()) + E.shape).copy(), rng)


def test_block_operator_kinds_and_outlines() -> None:
    x = np.array([0.5, -1.0, 2.0])
    r = jn.Residual([jn.Dense(3, 3, seed=0), jn.Tanh()])
    op = r.jacobian_input_op(x)
    assert isinstance(op, OperatorSum) and op.kind == "I + [diagonal · dense]"
    assert any(b.style == "diagonal" and b.label == "I_{3}" for b in op.outline())
    c = jn.Concat([jn.Dense(3, 2, seed=1), [], jn.Select(3, [0])])
    op = c.jacobian_input_op(x)
    assert isinstance(op, VStack) and op.kind == "[dense; I; selection]" and op.shape == (6, 3)
    assert [(b.row, b.rows) for b in op.outline() if b.style == "box"][:3] == [(0, 2), (2, 3), (5, 1)]
    assert c.jacobian_params_op(x).kind == "[[0; I; 0] · [I ⊗ xᵀ | I]]"
    assert jn.Sequential([jn.Dense(3, 2), jn.Tanh()]).jacobian_input_op(x).kind == "[diagonal · dense]"
    assert RowBlock(2, 1, 4).outline() == [jn.core.operator.Box(1, 0, 2, 2, "diagonal", "I_{2}")]


def test_block_operators_cost_what_their_parts_cost() -> None:
    """``I + J_g``: the identity is free; a VJP through ``[J_1; J_2]`` is its blocks' plus the adds."""
    x = np.array([0.5, -1.0, 2.0])
    d = jn.Dense(3, 3, seed=0)
    op = jn.Residual([d]).jacobian_input_op(x)
    assert op.vjp_flops(2) == 2 * 3 * 3 + 2 * 3 and op.jvp_flops(4) == 3 * 3 * 4 + 3 * 4
    assert op.nbytes == d.W.nbytes and Identity(5).nbytes == 0 and RowBlock(2, 1, 4).vjp_flops(7) == 0
    c = jn.Concat([jn.Dense(3, 2, seed=1), jn.Dense(3, 4, seed=2)]).jacobian_input_op(x)
    assert c.vjp_flops(1) == 2 * 3 + 4 * 3 + 3 and c.jvp_flops(1) == 2 * 3 + 4 * 3


# --- 4. paths ------------------------------------------------------------------------------------------
def residual_tower(k: int, width: int = 3, seed: int = 0) -> jn.Network:
    """Dense 1, then k residual blocks [Dense, Tanh], then a Dense: 2^k paths down to Dense 1."""
    layers = [jn.Dense(2, width, seed=seed)]
    layers += [jn.Residual([jn.Dense(width, width, seed=seed + i + 1), jn.Tanh()]) for i in range(k)]
    return jn.Network([*layers, jn.Dense(width, 2, seed=seed + 99)], jn.SoftmaxCrossEntropy())


def data(net: jn.Network, B: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, net.input_size) if B else net.input_size)
    yhat = net.forward(x)
    return x, targets("mse" if isinstance(net.loss_fn, jn.MSE) else "ce", yhat, rng, one_hot=True)


def layer_block(net: jn.Network, layer: jn.Layer, g: np.ndarray) -> np.ndarray:
    """``layer``'s block of a flat gradient, by the layout of :func:`theta_layout` (not jacobnet's)."""
    return g[theta_layout(net.layers)[id(layer)]]


@pytest.mark.parametrize("k", range(1, 7))
def test_2_to_the_k_paths_through_k_residual_blocks_with_binomial_lengths(k: int) -> None:
    net = residual_tower(k)
    x, y = data(net, None)
    chain = net.chain(x, y, layer="Dense 1")
    assert isinstance(chain, jn.PathSum) and chain.n_paths == 2**k == len(chain.paths())
    # J_loss, J_x(last Dense), J_θ(Dense 1), and 2 factors per inner path taken
    from math import comb

    assert chain.path_lengths() == {3 + 2 * j: comb(k, j) for j in range(k + 1)}
    routes = [p.route for p in chain.paths()]
    assert len(set(routes)) == 2**k
    assert all(r.count("skip") + r.count("inner") == k for r in routes)
    g = net.gradient(x, y)
    np.testing.assert_allclose(chain.evaluate(mode="structured")[0], layer_block(net, net.layers[0], g), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("B", [None, 3])
def test_sum_of_paths_is_the_path_sum_and_the_gradient_in_every_order_and_mode(B) -> None:
    net = jn.Network([
        jn.Dense(3, 4, seed=0),
        jn.Residual([jn.Dense(4, 4, seed=1), jn.Tanh()]),
        jn.Concat([[jn.Dense(4, 2, seed=2)], [], [jn.Residual([jn.Dense(4, 4, seed=3), jn.Sigmoid()])]]),
        jn.Sum([[jn.Dense(10, 3, seed=4)], [jn.Dense(10, 3, seed=5), jn.Softplus()]]),
        jn.Dense(3, 2, seed=6),
    ], jn.MSE())
    x, y = data(net, B)
    g = ad_gradient(net, x, y)
    for pos in [p for p in net.all_positions if p.k is not None]:
        chain = net.chain(x, y, layer=pos.name)
        want = layer_block(net, pos.layer, g)
        for order in ORDERS:
            for mode in MODES:
                total = chain.evaluate(order, mode)
                assert total.shape == ((B,) if B else ()) + (1, pos.layer.n_params)
                parts = sum(p.evaluate(order, mode) for p in chain.paths())
                assert rel_error(parts, total) <= 1e-14, (pos.name, order, mode)
                mean = total.mean(axis=0)[0] if B else total[0]
                assert rel_error(mean, want) <= GRAD_TOL, (pos.name, order, mode)
    assert net.chain(x, y, layer="Dense 1").n_paths == 2 * 4 * 2
    assert net.chain(x, y, layer="Concat 1 › Residual 2 › Dense 4").n_paths == 2
    assert net.chain(x, y, layer="Sum 1 › Dense 6").n_paths == 1


@pytest.mark.parametrize("b", [1, 2, 3, 5])
def test_a_concatenation_of_b_branches_multiplies_the_paths_by_b(b: int) -> None:
    branches = [[jn.Dense(3, 2, seed=i)] if i % 2 else [jn.Tanh(), jn.Dense(3, 1, seed=i)] for i in range(b)]
    width = sum(br[-1].n_out for br in branches)
    for k in (0, 2):
        layers = [jn.Dense(2, 3, seed=10)] + [jn.Residual([jn.Dense(3, 3, seed=20 + i)]) for i in range(k)]
        net = jn.Network([*layers, jn.Concat(branches), jn.Dense(width, 2, seed=30)], jn.MSE())
        x, y = data(net, None)
        chain = net.chain(x, y, layer=0)
        assert chain.n_paths == b * 2**k
        # every path through branch i carries E_i(Concat 1)
        for i in range(b):
            assert sum(f"E_{i + 1}(Concat 1)" in [f.name for f in p.factors] for p in chain.paths()) == 2**k
        assert rel_error(chain.evaluate()[0], layer_block(net, layers[0], ad_gradient(net, x, y))) <= GRAD_TOL


def convolve(a: Counter, b: Counter) -> Counter:
    out: Counter = Counter()
    for i, u in a.items():
        for j, v in b.items():
            out[i + j] += u * v
    return out


def picks_from_a_concatenation(net) -> bool:
    """Some ``Select`` reads a concatenation's output directly: a route through a branch it picks nothing of is
    exactly zero and left out of the chain, so :func:`count_routes` (the structure alone) over-counts."""

    def below(pos):
        siblings = net.positions if pos.parent is None else pos.parent.branches[pos.branch]
        return siblings[pos.slot - 1] if pos.slot > 0 else (None if pos.parent is None else below(pos.parent))

    def ends_in_concat(pos) -> bool:
        if pos is None or not pos.is_block:
            return False
        return isinstance(pos.layer, jn.Concat) or any(branch and ends_in_concat(branch[-1]) for branch in pos.branches)

    return any(isinstance(p.layer, jn.Select) and ends_in_concat(below(p)) for p in net.all_positions)


def count_routes(layers) -> Counter:
    """``{number of J_x / E_b factors: how many routes}`` through a sequence, counted from the structure here.

    A layer is one factor; a residual block the skip (none) or ``g``'s routes; a sum its
    branches' routes; a concatenation its branches' routes, each with one more factor (``E_b``).
    """
    total = Counter({0: 1})
    for layer in layers:
        if isinstance(layer, jn.Residual):
            one = Counter({0: 1}) + count_routes(layer.layers)
        elif isinstance(layer, jn.Sequential):
            one = count_routes(layer.layers)
        elif isinstance(layer, (jn.Concat, jn.Sum)):
            shift = 1 if isinstance(layer, jn.Concat) else 0
            one = Counter()
            for branch in layer.branches:
                one += Counter({k + shift: v for k, v in count_routes(branch).items()})
        else:
            one = Counter({1: 1})
        total = convolve(total, one)
    return total


@FEWER
@given(networks())
def test_paths_of_random_networks(case) -> None:
    """The chain of dL/dx: as many paths, of as many factors, as counted here; their sum is autograd's dL/dx."""
    net, x, y = case
    assume(unsaturated(net, x))
    want = count_routes(net.layers)
    assume(sum(want.values()) <= 128)
    chain = net.chain(x, y, wrt="input")
    if not picks_from_a_concatenation(net):
        assert chain.n_paths == sum(want.values())
        lengths = chain.path_lengths() if isinstance(chain, jn.PathSum) else {len(chain.factors): 1}
        assert lengths == {k + 1: v for k, v in sorted(want.items())}  # + J_loss
    theta, f = net.get_params(), plain_loss(net)
    dx = autograd.grad(lambda v: f(theta, v, y))(x)
    got = chain.evaluate(mode="structured")
    B = x.shape[0] if x.ndim == 2 else None
    assert agree(got[..., 0, :] / (B or 1), dx, GRAD_TOL)


def routes_above(net: jn.Network, pos) -> Counter:
    """The routes from the loss down to ``pos``'s output, counted from the structure (as :func:`count_routes`)."""
    if pos.parent is None:
        return count_routes(net.layers[pos.slot + 1 :])
    parent = pos.parent
    rest = count_routes(parent.layer.branches[pos.branch][pos.slot + 1 :])
    if isinstance(parent.layer, jn.Concat):
        rest = Counter({k + 1: v for k, v in rest.items()})
    return convolve(rest, routes_above(net, parent))


@FEWER
@given(networks())
def test_chains_of_random_networks_are_their_layers_gradients(case) -> None:
    """Each Dense's chain: the paths of every use, counted and measured here; its sum is autograd's block of the gradient."""
    net, x, y = case
    assume(unsaturated(net, x))
    by_layer: dict[int, list] = {}
    for p in net.all_positions:
        if p.k is not None:
            by_layer.setdefault(id(p.layer), []).append(p)
    counts = {key: sum((routes_above(net, p) for p in ps), Counter()) for key, ps in by_layer.items()}
    assume(sum(sum(c.values()) for c in counts.values()) <= 256)
    g, where = ad_gradient(net, x, y), theta_layout(net.layers)
    assume(np.max(np.abs(g)) > 1e-8)  # (a gradient at rounding level, e.g. through dead ReLUs, has no digits to compare)
    for key, ps in by_layer.items():
        chain = net.chain(x, y, layer=ps[-1].name)  # any use names the layer
        want = counts[key]
        if not picks_from_a_concatenation(net):
            assert chain.n_paths == sum(want.values())
            lengths = chain.path_lengths() if isinstance(chain, jn.PathSum) else {len(chain.factors): 1}
            assert lengths == {k + 2: v for k, v in sorted(want.items())}  # + J_loss and J_θ
        if len(ps) > 1 and not picks_from_a_concatenation(net):  # each path says which use it ends at
            starts = Counter(c.route.split(" · ")[0] for c in chain.paths())
            assert starts == {f"use {p.use} ({p.name})": sum(routes_above(net, p).values()) for p in ps}
        value = chain.evaluate(mode="structured")
        value = value.mean(axis=0)[0] if x.ndim == 2 else value[0]
        assert rel_error(value, g[where[key]], scale=np.max(np.abs(g))) <= GRAD_TOL, ps[0].name


def materialised_product(net: jn.Network, x: np.ndarray, y: np.ndarray, layer: jn.Layer) -> np.ndarray:
    """``Σ_positions J_loss · J_x(f_L) ⋯ J_x(f_{i+1}) · J_θ(f_i)[:, layer]`` at one sample, every factor a dense matrix.

    The product over the top-level layers, each block's Jacobian materialised whole (``I + J_g``,
    ``[J_1; J_2]``) and never expanded into paths; ``f_i`` runs over the top-level positions that
    hold ``layer`` (itself, or a block with it inside: its columns of that block's ``J_θ``).
    """
    acts = net.activations(x)
    row, after = net.loss_fn.jacobian(acts[-1], y), [None] * len(net.layers)
    for i in range(len(net.layers) - 1, -1, -1):
        after[i] = row
        row = row @ net.layers[i].jacobian_input(acts[i])
    total = np.zeros((1, layer.n_params))
    for i, top in enumerate(net.layers):
        leaves = top.param_layers()
        if any(leaf is layer for leaf in leaves):
            start = sum(leaf.n_params for leaf in leaves[: [id(v) for v in leaves].index(id(layer))])
            total += after[i] @ top.jacobian_params(acts[i])[:, start : start + layer.n_params]
    return total


@FEWER
@given(networks())
def test_the_sum_of_the_paths_is_the_materialised_product(case) -> None:
    """Every layer's chain: Σ of ``chain.paths()`` against the product of the top-level layers' dense Jacobians."""
    net, x, y = case
    by_layer: dict[int, list] = {}
    for p in net.all_positions:
        if p.k is not None:
            by_layer.setdefault(id(p.layer), []).append(p)
    assume(all(sum(sum(routes_above(net, p).values()) for p in ps) <= 256 for ps in by_layer.values()))
    samples = [(x, y)] if x.ndim == 1 else list(zip(x, y))
    for ps in by_layer.values():
        chain = net.chain(x, y, layer=ps[0].name)
        paths = chain.paths() if isinstance(chain, jn.PathSum) else [chain]
        total = sum(c.evaluate(mode="structured") for c in paths)
        for b, (xb, yb) in enumerate(samples):
            want = materialised_product(net, xb, yb, ps[0].layer)
            got = total if x.ndim == 1 else total[b]
            assert rel_error(got, want) <= MODE_TOL, ps[0].name


@pytest.mark.parametrize("k", range(1, 7))
def test_the_2_to_the_k_paths_sum_to_the_product_of_the_blocks_jacobians(k: int) -> None:
    """Through k residual blocks: the 2^k path products add up to J_loss · J_x(Dense) · Π (I + J_g) · J_θ(Dense 1)."""
    net = residual_tower(k)
    x, y = data(net, None)
    paths = net.chain(x, y, layer="Dense 1").paths()
    assert len(paths) == 2**k
    assert rel_error(sum(p.evaluate() for p in paths), materialised_product(net, x, y, net.layers[0])) <= MODE_TOL


def test_path_sum_costs_are_its_paths_costs() -> None:
    net = residual_tower(3)
    x, y = data(net, 2)
    chain = net.chain(x, y, layer=0)
    cols = chain.paths()[0].factors[-1].shape[1]
    for order in ORDERS:
        for mode in MODES:
            adds = (chain.n_paths - 1) * cols * 2
            assert chain.flops(order, mode) == sum(p.flops(order, mode) for p in chain.paths()) + adds
            assert chain.bytes(order, mode) == sum(p.bytes(order, mode) for p in chain.paths())
    assert chain.flops("reverse", "structured") < chain.flops("reverse") < chain.flops("forward")
    table = chain.order_table()
    assert "a sum of 8 path products" in table.title
    rows = {r["order"]: r for r in table.rows}
    assert rows["reverse"]["flops"] == chain.flops("reverse") - (chain.n_paths - 1) * cols * 2
    assert "Residual 3: inner · Residual 2: skip · Residual 1: inner" in chain.describe()


def test_chain_layer_by_index_or_by_any_position_name() -> None:
    net = jn.Network([jn.Dense(3, 3, seed=0), jn.Residual([jn.Dense(3, 3, seed=1), jn.Tanh()]), jn.Dense(3, 2, seed=2)], jn.MSE())
    x, y = data(net, None)
    by_index, by_name = net.chain(x, y, layer=1), net.chain(x, y, layer="Residual 1 › Dense 2")
    assert by_index.target == by_name.target == "∂L/∂θ(Residual 1 › Dense 2)"
    np.testing.assert_array_equal(by_index.evaluate(), by_name.evaluate())
    assert net.chain(x, y).target == "∂L/∂θ(Dense 1)"  # default: the first layer with parameters
    assert net.names == ["Dense 1", "Residual 1", "Dense 3"]
    assert [p.name for p in net.all_positions] == ["Dense 1", "Residual 1", "Residual 1 › Dense 2", "Residual 1 › Tanh 1", "Dense 3"]


def test_too_many_paths_are_refused_by_name() -> None:
    from jacobnet.chain.paths import MAX_PATHS

    k = int(np.log2(MAX_PATHS)) + 1
    net = jn.Network([jn.Dense(2, 2, seed=0)] + [jn.Residual([jn.Tanh()]) for _ in range(k)], jn.MSE())
    x, y = np.ones(2), np.zeros(2)
    with pytest.raises(ValueError, match=rf"^the chain of ∂L/∂θ\(Dense 1\) has {2**k:,} paths, over the {MAX_PATHS:,}"):
        net.chain(x, y, layer=0)
    assert net.trace(x, y).gradient.shape == (6,)  # the trace sums at each junction instead


# --- 6. the trace -------------------------------------------------------------------------------------
def test_a_residual_junction_is_skip_plus_inner() -> None:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Residual([jn.Dense(4, 4, seed=1), jn.Tanh()]), jn.Dense(4, 2, seed=2)], jn.MSE())
    x, y = data(net, None)
    trace = net.trace(x, y)
    by_name = trace.products_by_name
    junction = by_name["∂L/∂a1"]
    assert junction.is_sum and junction.note == "Residual 1: skip + inner"
    skip, inner = junction.terms
    assert skip == "∂L/∂a2" and inner == "∂L/∂a2.0"
    assert by_name[skip].factor.name == "J_x(Dense 3)" and by_name[inner].factor.name == "J_x(Residual 1 › Dense 2)"
    np.testing.assert_allclose(junction.value, by_name[skip].value + by_name[inner].value, rtol=1e-15)
    theta, f = net.get_params(), plain_loss(net)
    a1 = net.activations(x)[1]
    tail = lambda a: anp.mean(ref.LOSSES[jn.MSE](plain_seq(net.layers[1:], theta, a, theta_layout(net.layers)), y))  # noqa: E731
    assert rel_error(junction.value[0], autograd.grad(tail)(a1)) <= GRAD_TOL
    assert "Residual 1: skip + inner" in str(trace)
    assert f(theta, x, y) == pytest.approx(trace.loss, rel=1e-14)
    # the junction carries the block's own J_x = I + J_g, which its terms multiply out
    J = trace.factor("J_x(Residual 1)").dense()
    assert rel_error(J, net.layers[1].jacobian_input(a1)) <= 1e-15
    assert rel_error(junction.value, by_name[skip].value @ J) <= 1e-14


@FEWER
@given(networks(), st.sampled_from(MODES))
def test_trace_names_are_unique_and_every_sum_adds_products(case, mode: str) -> None:
    net, x, y = case
    trace = net.trace(x, y, mode=mode)
    names = [p.name for p in trace.products]
    assert len(names) == len(set(names))
    assert len({p.name for p in net.all_positions}) == len(net.all_positions)
    by_name = trace.products_by_name
    for p in trace.products:
        if p.is_sum:
            assert all(t in by_name for t in p.terms), (p.name, p.terms)
            assert names.index(p.name) > max(names.index(t) for t in p.terms)
            np.testing.assert_allclose(p.value, sum(by_name[t].value for t in p.terms), rtol=1e-13, atol=1e-300)
            if not p.params:
                block = p.note.split(":")[0]
                pos = next(q for q in net.all_positions if q.name == block)
                assert p.note == f"{block}: " + " + ".join(pos.layer.branch_name(b) for b in range(len(pos.layer.branches)))
        elif p.left:
            assert p.left in by_name and names.index(p.left) < names.index(p.name)


def test_concat_junction_names_its_branches() -> None:
    net = jn.Network([jn.Concat([jn.Dense(3, 2, seed=0), [], [jn.Tanh(), jn.Dense(3, 1, seed=1)]]), jn.Dense(6, 2, seed=2)], jn.SoftmaxCrossEntropy())
    x, y = data(net, 2)
    trace = net.trace(x, y)
    top = trace.products_by_name["∂L/∂a0"]
    assert top.note == "Concat 1: branch 1 + skip + branch 3"
    assert [trace.products_by_name[t].name for t in top.terms] == top.terms
    assert {f.name for f in trace.factors} >= {"E_1(Concat 1)", "E_2(Concat 1)", "E_3(Concat 1)"}
    assert trace.factor("E_2(Concat 1)").shape == (6, 3)


# --- 7. symbolic ---------------------------------------------------------------------------------------
def tiny_network(tied: bool = True) -> jn.Network:
    """A Residual, a Concat and a layer used twice; the block's own θ order (B, A) differs from the network's (A, B).

    ``tied=False``: the same architecture with a copy of A (same weights) in the block.
    """
    A = jn.Dense(2, 2, seed=0)
    inside = A if tied else jn.Dense(2, 2, seed=0)
    return jn.Network([
        A,
        jn.Residual([jn.Dense(2, 2, seed=1), jn.Tanh(), inside]),
        jn.Concat([[], [jn.Sigmoid()]]),
        jn.Dense(4, 1, seed=2),
    ], jn.MSE())


@pytest.mark.parametrize("B", [None, 3])
def test_symbolic_gradient_equals_the_jacobian_one(B) -> None:
    net = tiny_network()
    rng = np.random.default_rng(3)
    net.set_params(rng.normal(scale=0.7, size=net.n_params))
    x, y = data(net, B, seed=4)
    g = net.gradient(x, y, method="symbolic")
    assert rel_error(g, net.gradient(x, y)) <= MODE_TOL
    assert rel_error(g, ad_gradient(net, x, y)) <= GRAD_TOL


def test_symbolic_cache_tells_a_shared_layer_from_its_copy() -> None:
    """The same architecture untied: a different compiled gradient (more parameters), each right."""
    x, y = np.array([0.3, -0.8]), np.array([0.5])
    for net in (tiny_network(), tiny_network(tied=False), tiny_network()):
        g = net.gradient(x, y, method="symbolic")
        assert g.shape == (net.n_params,) and rel_error(g, ad_gradient(net, x, y)) <= GRAD_TOL


def test_network_gradient_derivations_agree() -> None:
    from jacobnet.symbolic import gradients_agree, network_gradient

    net = jn.Network([jn.Residual([jn.Dense(2, 2, seed=0), jn.Tanh()]), jn.Concat([jn.Dense(2, 1, seed=1), []])], jn.MSE())
    grad = network_gradient(net)
    assert grad.direct.shape == grad.chain.shape == (1, net.n_params)
    assert grad.labels == net.param_labels()
    assert gradients_agree(grad).ok
    assert gradients_agree(grad, prove=True).proved


# --- 8. bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, message", [
    (lambda: jn.Residual([jn.Dense(2, 3)]), ValueError,
     r"^Residual: y = x \+ g\(x\) needs g to map n → n, but g = \[Dense\(2, 3\)\] maps 2 → 3$"),
    (lambda: jn.Residual([jn.Dense(3, 4), jn.Tanh(), jn.Dense(4, 2)], name="Block A"), ValueError,
     r"^Block A: y = x \+ g\(x\) needs g to map n → n, .* maps 3 → 2$"),
    (lambda: jn.Residual([]), ValueError, r"^Residual: the block is empty"),
    (lambda: jn.Concat([]), ValueError, r"^Concat: the block is empty"),
    (lambda: jn.Concat([[]]), ValueError, r"^Concat: the block is empty"),
    (lambda: jn.Sum([]), ValueError, r"^Sum: the block is empty"),
    (lambda: jn.Sequential([]), ValueError, r"^Sequential: the block is empty"),
    (lambda: jn.Concat([jn.Dense(3, 2), "tanh"]), TypeError, r"^Concat: branch 2 must be a layer or a list of layers, got a str$"),
    (lambda: jn.Concat([jn.Dense(3, 2), [jn.Tanh(), jn.Tanh]]), TypeError,
     r"^Concat: branch 2, item 2, must be a jacobnet Layer, got the class Tanh \(pass an instance: Tanh\(\)\)$"),
    (lambda: jn.Sum([jn.Dense(3, 2), 7]), TypeError, r"^Sum: branch 2 must be a layer or a list of layers, got an int$"),
    (lambda: jn.Concat(jn.Dense(3, 2)), TypeError, r"^Concat: branches must be a list of branches"),
    (lambda: jn.Residual("tanh"), TypeError, r"^Residual: layers must be a layer or a list of layers, got a str$"),
    (lambda: jn.Sequential([jn.Dense(2, 2), None]), TypeError, r"^Sequential: layers, item 2, must be a jacobnet Layer, got a NoneType$"),
    (lambda: jn.Concat([jn.Dense(3, 2), jn.Dense(4, 2)]), ValueError,
     r"^Concat: its branches read the same input but expect different sizes: branch 1 expects 3, branch 2 expects 4$"),
    (lambda: jn.Sum([[jn.Tanh(), jn.Dense(3, 2)], [], jn.Dense(5, 2)]), ValueError,
     r"^Sum: its branches read the same input but expect different sizes: branch 1 expects 3, branch 3 expects 5$"),
    (lambda: jn.Sum([jn.Dense(3, 2), jn.Dense(3, 4)]), ValueError,
     r"^Sum: adds its branches' outputs, which must have one size, but branch 1 gives 2, branch 2 gives 4$"),
    (lambda: jn.Sum([[], jn.Dense(3, 2)]), ValueError, r"^Sum: adds its branches' outputs, .* branch 1 gives 3, branch 2 gives 2$"),
    (lambda: jn.Concat([jn.Tanh(), [jn.Dense(3, 4), jn.Dense(5, 1)]]), ValueError,
     r"^Concat \(branch 2\): sizes do not chain: layer 1 \(Dense\(3, 4\)\) outputs 4 features but layer 2 \(Dense\(5, 1\)\) expects 5"),
    (lambda: jn.Residual([jn.Dense(3, 4), jn.Dense(5, 3)]), ValueError,
     r"^Residual \(inner\): sizes do not chain: layer 1 \(Dense\(3, 4\)\) outputs 4 features but layer 2 \(Dense\(5, 3\)\) expects 5"),
    (lambda: jn.Select(3, [0, 3]), ValueError, r"^Select: index 3 is out of range for an input of 3 \(0 … 2, or −1 for a zero\)$"),
    (lambda: jn.Select(3, [-2, 1]), ValueError, r"^Select: index -2 is out of range for an input of 3"),
    (lambda: jn.Select(3, []), ValueError, r"^Select: index must be a non-empty list of integers"),
    (lambda: jn.Select(3, [0.5]), ValueError, r"^Select: index must be a non-empty list of integers"),
    (lambda: jn.Residual([jn.Tanh()], name=""), ValueError, r"^Residual: name must be a short non-empty string"),
    (lambda: jn.Network([jn.Dense(3, 4), jn.Residual([jn.Dense(3, 3)])], jn.MSE()), ValueError,
     r"^sizes do not chain: Dense 1 \(Dense\(3, 4\)\) outputs 4 features but Residual 1 \(Residual\(\[Dense\(3, 3\)\]\)\) expects 3"),
], ids=lambda v: None)
def test_bad_blocks_are_refused_by_name(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


def test_bad_inputs_and_chains_are_refused_by_name() -> None:
    r = jn.Residual([jn.Dense(3, 3), jn.Tanh()])
    with pytest.raises(ValueError, match=r"^Residual expects .* shape \(3,\) or \(B, 3\), got shape \(4,\)"):
        r.forward(np.ones(4))
    net = jn.Network([jn.Dense(2, 3, seed=0), jn.Residual([jn.Tanh()]), jn.Concat([jn.Dense(3, 1), jn.Dense(3, 2)])], jn.MSE())
    x, y = np.ones(2), np.zeros(3)
    with pytest.raises(ValueError, match=r"^Residual 1 has no parameters; choose a layer with parameters or wrt='input'$"):
        net.chain(x, y, layer="Residual 1")
    with pytest.raises(ValueError, match=r"^Residual 1 › Tanh 1 has no parameters"):
        net.chain(x, y, layer="Residual 1 › Tanh 1")
    with pytest.raises(ValueError, match=r"^Concat 1 is a block; choose one of its layers with parameters: 'Concat 1 › Dense 2', 'Concat 1 › Dense 3'$"):
        net.chain(x, y, layer="Concat 1")
    with pytest.raises(ValueError, match=r"^no layer named 'Dense 9'; the layers are Dense 1, Residual 1, Residual 1 › Tanh 1, Concat 1"):
        net.chain(x, y, layer="Dense 9")


# --- once bugs, now fixed: kept as regression tests ----------------------------------------------------
def test_vjp_sum_of_a_sum_block_with_an_identity_branch_first() -> None:
    """(Was: OperatorSum.vjp_sum added in place into G, which a one-sample Identity returns as itself.)"""
    block = jn.Sum([[], jn.Dense(3, 3, seed=1), jn.Dense(3, 3, seed=2)])
    op = block.jacobian_input_op(np.array([0.5, -1.0, 2.0]))
    G = np.random.default_rng(0).normal(size=(2, 3))
    G0 = G.copy()
    got = op.vjp_sum(G)
    assert rel_error(got, G0 @ op.dense()) <= OP_TOL  # (was wrong: the third term multiplied G + G·A₁)
    np.testing.assert_array_equal(G, G0)


@pytest.mark.parametrize("block", [jn.Residual([jn.Dense(3, 3, seed=1)]), jn.Concat([[], jn.Dense(3, 2, seed=1)])],
                         ids=["residual", "concat"])
def test_vjp_sum_of_one_sample_leaves_g_alone(block) -> None:
    """(Was: OperatorSum.vjp_sum (I + J_g) and VStack.vjp_sum (an identity branch first) wrote into the caller's G.)"""
    op = block.jacobian_input_op(np.array([0.5, -1.0, 2.0]))
    G = np.random.default_rng(0).normal(size=(2, op.shape[0]))
    G0 = G.copy()
    assert rel_error(op.vjp_sum(G), G0 @ op.dense()) <= OP_TOL
    np.testing.assert_array_equal(G, G0)


@pytest.mark.parametrize("where", ["alone", "in a network"])
def test_residual_of_a_size_free_size_changing_block_is_refused(where: str) -> None:
    """(Was: accepted, and its forward failed with NumPy's broadcast error.)"""
    with pytest.raises(ValueError, match=r"^Residual: y = x \+ g\(x\) needs g to map n → n, but g = \[Concat\(\[\[Tanh\(\)\], \[\]\]\)\] maps"):
        r = jn.Residual([jn.Concat([[jn.Tanh()], []])])
        if where == "alone":
            r.forward(np.ones(3))
        else:
            jn.Network([r, jn.Dense(3, 2)], jn.MSE()).forward(np.ones(3))


def test_softmax_twice_through_a_block_is_refused() -> None:
    """(Was: refused for Softmax → SoftmaxCrossEntropy, but not when the Softmax ended a block.)"""
    with pytest.raises(ValueError, match=r"^Network: Sequential 1 followed by SoftmaxCrossEntropy applies softmax twice"):
        jn.Network([jn.Dense(3, 2), jn.Sequential([jn.Dense(2, 2), jn.Softmax()])], jn.SoftmaxCrossEntropy())
    jn.Network([jn.Dense(3, 2), jn.Concat([[jn.Softmax()], []])], jn.MSE())  # a concatenation is no distribution: fine


def test_input_size_after_a_size_changing_size_free_block() -> None:
    """(Was: the first sized layer's n_in taken as the network's input size, after Concat([[Tanh()], []]): n → 2n.)"""
    net = jn.Network([jn.Concat([[jn.Tanh()], []]), jn.Dense(6, 2, seed=0)], jn.MSE())
    x = np.array([0.1, -0.4, 0.9])  # 3 → Concat → 6 → Dense(6, 2)
    d = net.layers[1]
    np.testing.assert_allclose(net.forward(x), d.W @ np.concatenate([np.tanh(x), x]) + d.b, rtol=1e-14)
    assert rel_error(net.gradient(x, np.ones(2)), ad_gradient(net, x, np.ones(2))) <= GRAD_TOL
    with pytest.raises(ValueError, match=r"^Dense 1 \(Dense\(6, 2\)\) expects 6 inputs, but its input has 8 features$"):
        net.forward(np.ones(4))


@pytest.mark.parametrize("make", [
    lambda: jn.Sum([[jn.Concat([[jn.Tanh()], []]), jn.Dense(6, 2, seed=0)], jn.Dense(3, 2, seed=1)]),
    lambda: jn.Residual([jn.Concat([[jn.Tanh()], []]), jn.Dense(6, 3, seed=0)]),
], ids=["sum", "residual"])
def test_a_branch_that_starts_size_free(make) -> None:
    """(Was: the same inside a block: the valid block refused, or given the wrong input size.)"""
    block = make()  # 3 → [tanh(x); x] (6) → Dense(6, ·)
    x = np.array([0.1, -0.4, 0.9])
    f = plain_block(block)
    assert rel_error(block.forward(x), f(block.get_params(), x)) <= 1e-14


# --- bugs found, and fixed: regression tests ------------------------------------------------------------
def test_bug_select_of_padding_only() -> None:
    """(fixed) Selection.vjp of an index that is all −1 returned int64 (np.bincount of no weights)."""
    select = jn.Select(2, [-1, -1])
    assert select.jacobian_input_op(np.ones(2)).vjp(np.ones((1, 2))).dtype == np.float64
    net = jn.Network([jn.Dense(2, 2, seed=0), select, jn.Dense(2, 1, seed=1)], jn.MSE())
    assert net.trace(np.ones(2), np.ones(1), mode="structured").products_by_name["∂L/∂a1"].value.dtype == np.float64
    op = jn.Sum([[jn.Select(1, [-1])], []]).jacobian_input_op(np.array([[0.5]]))
    np.testing.assert_array_equal(op.vjp_sum(np.ones((1, 1, 1))), [[1.0]])


@pytest.mark.parametrize("make", [
    lambda g: jn.Network([g], jn.MSE()),
    lambda g: jn.Network([jn.Tanh(), g, jn.Dense(2, 1)], jn.MSE()),
    lambda g: jn.Concat([[g], [jn.Dense(3, 1)]]),
], ids=["network", "network after an activation", "concat"])
def test_bug_size_free_block_valid_at_one_size(make) -> None:
    """(fixed) A size-free block valid at one size only made the size probe raise, refusing a valid network."""
    g = jn.Sequential([jn.Concat([[jn.Tanh()], []]), jn.Dense(6, 2, seed=0)])  # only for 3 inputs: 3 → 6 → 2
    x = np.array([0.1, -0.4, 0.9])
    g.forward(x)  # fine alone
    made = make(g)
    assert made.forward(x).shape[-1] in (1, 2, 3)



def test_two_empty_branches_are_a_block() -> None:
    """``Concat([[], []])`` is ``[x; x]`` and ``Sum([[], []])`` is ``2x``: well defined, not empty."""
    x = np.array([0.5, -2.0])
    np.testing.assert_array_equal(jn.Concat([[], []]).forward(x), np.concatenate([x, x]))
    np.testing.assert_array_equal(jn.Sum([[], []]).jacobian_input(x), 2 * np.eye(2))


def test_a_route_through_a_branch_the_next_selection_picks_nothing_of_is_left_out():
    """``Select`` after a concatenation reads only branch 1: the paths through branch 2 are exactly zero, not listed."""
    net = jn.Network([jn.Concat([jn.Dense(3, 2, seed=1), jn.Dense(3, 4, seed=2)]), jn.Select(6, [1, 0]), jn.Dense(2, 2, seed=3)], jn.MSE())
    x, y = np.array([0.3, -1.1, 0.7]), np.array([0.5, -0.2])
    everything = net.chain(x, y, wrt="input")
    assert not isinstance(everything, jn.PathSum) and everything.route == "Concat 1: branch 1"
    assert rel_error(everything.evaluate()[0], jacobian_fd(lambda v: np.array([net.loss(v, y)]), x)[0]) <= 1e-8
    g = net.gradient(x, y)
    dead = net.chain(x, y, layer="Concat 1 › Dense 2")  # every path is zero: one stands for the zero gradient
    np.testing.assert_array_equal(dead.evaluate().ravel(), np.zeros(16))
    np.testing.assert_array_equal(g[net.layer_slice(net.position("Concat 1 › Dense 2").layer)], np.zeros(16))


def test_backpropagation_through_time_has_one_path_per_use():
    """In the unrolled RNN a path that reaches the x part of the state is zero: W_hh's chain is one path per step."""
    net = jn.Network([jn.RNN(2, 3, steps=3, seed=0).unroll(), jn.Dense(3, 1, seed=1)], jn.MSE())
    x, y = np.random.default_rng(0).normal(size=6), np.zeros(1)
    name = net.param_names()[1]  # W_hh and b_hh: the second Dense of every step
    chain = net.chain(x, y, layer=name)
    assert [p.route.split(" (")[0] for p in chain.paths()] == ["use 1", "use 2", "use 3"]
    want = net.gradient(x, y)[net.layer_slice(net.position(name).layer)]
    assert rel_error(chain.evaluate().ravel(), want) <= 1e-14


@pytest.mark.parametrize("make", [
    lambda: [jn.RNN(1, 1, steps=1, seed=s).unroll() for s in range(3)],  # a stack of three RNNs, each unrolled ("RNN")
    lambda: [jn.Residual([jn.Tanh()], name="block") for _ in range(3)],
], ids=["unrolled RNNs", "named residuals"])
def test_distinct_blocks_of_one_title_have_unique_names(make) -> None:
    """Three distinct blocks titled alike are ``RNN``, ``RNN (2)``, ``RNN (3)``: unique, and no "use", which says shared."""
    net = jn.Network(make(), jn.MSE())
    names = [p.name for p in net.all_positions]
    assert len(set(names)) == len(names), names
    assert not any("(use" in name for name in names), names


def test_a_title_that_spells_another_layers_name_is_told_apart_and_a_shared_block_keeps_its_uses() -> None:
    block = jn.Residual([jn.Dense(2, 2, seed=1)])
    net = jn.Network([jn.Dense(2, 2, seed=0), jn.Residual([jn.Tanh()], name="Dense 1"), block, block], jn.MSE())
    names = [p.name for p in net.positions]
    assert names == ["Dense 1", "Dense 1 (2)", "Residual 1", "Residual 1 (use 2)"]
    assert len(set(p.name for p in net.all_positions)) == len(net.all_positions)
