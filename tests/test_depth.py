"""Depth as a product of Jacobians: initialisations, spectra across depth, through time, gradient clipping.

References are built plainly here: the product ``∂a_L/∂a_l`` from each layer's
own dense ``jacobian_input``, its singular values by ``numpy.linalg.svd``, the
RNN's forward pass written out step by step. The statistical checks are seeded;
each tolerance says how many standard errors (measured over the same seeds)
it allows.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import jacobnet as jn
from jacobnet.chain.spectra import Spectra, input_products, time_products
from jacobnet.check.jacobian import check_layer
from jacobnet.core.memory import JacobianMemoryError, memory_budget
from jacobnet.course.data import one_hot
from jacobnet.course.train import clip_by_norm, train
from jacobnet.net.depth import network, singular_values, sweep, table, through_time
from jacobnet.viz.spectra import spectrum_figure


def mixed_net() -> jn.Network:
    """5 → 7 → 7 → 3 with a Residual block and a LeakyReLU: non-square, a block, every kind of J_x."""
    layers = [jn.Dense(5, 7, seed=1), jn.Tanh(), jn.Residual([jn.Dense(7, 7, seed=2), jn.Sigmoid()]), jn.Dense(7, 3, seed=3),
              jn.LeakyReLU(0.1)]
    return jn.Network(layers, jn.MSE())


def plain_products(net: jn.Network, x: np.ndarray) -> list[np.ndarray]:
    """``[∂a_L/∂a_L, ∂a_L/∂a_{L−1}, …, ∂a_L/∂a_0]`` as plain matrix products of the layers' dense J_x."""
    acts = [np.asarray(x, dtype=float)]
    for layer in net.layers:
        acts.append(layer.forward(acts[-1]))
    P, out = np.eye(acts[-1].size), []
    out.append(P)
    for l in range(len(net.layers), 0, -1):
        P = P @ net.layers[l - 1].jacobian_input(acts[l - 1])
        out.append(P)
    return out


# --- initialisation ----------------------------------------------------------------
@pytest.mark.parametrize("n_in, n_out, tokens, seed", [(5, 3, 1, 1), (1, 4, 1, 0), (3, 2, 4, 7)])
def test_lecun_default_draws_bit_for_bit_what_it_always_drew(n_in, n_out, tokens, seed):
    old = np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(n_in), size=(n_out, n_in))
    for layer in (jn.Dense(n_in, n_out, tokens=tokens, seed=seed), jn.Dense(n_in, n_out, tokens=tokens, init="lecun", seed=seed)):
        assert np.array_equal(layer.W, old) and np.array_equal(layer.b, np.zeros(n_out))


INIT_VARIANCE = {  # the docstring's formulas, n = n_in, m = n_out
    "lecun": lambda n, m: 1.0 / n,
    "xavier": lambda n, m: 2.0 / (n + m),
    "he": lambda n, m: 2.0 / n,
}


@pytest.mark.parametrize("init", sorted(INIT_VARIANCE))
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_each_gaussian_init_has_its_formulas_variance(init, gain):
    n, m = 300, 200
    W = jn.Dense(n, m, init=init, gain=gain, seed=11).W
    want, N = gain**2 * INIT_VARIANCE[init](n, m), W.size
    # a sample variance of N Gaussian draws has standard error σ²·√(2/N) (0.58 % here); the mean, σ/√N: allow 5 of each
    assert abs(W.var() / want - 1) < 5 * np.sqrt(2 / N)
    assert abs(W.mean()) < 5 * np.sqrt(want / N)


@pytest.mark.parametrize("n_in, n_out", [(3, 5), (5, 3), (4, 4)])
@pytest.mark.parametrize("gain", [1.0, np.sqrt(2.0)])
def test_orthogonal_init_is_semi_orthogonal_with_the_formulas_variance(n_in, n_out, gain):
    W = jn.Dense(n_in, n_out, init="orthogonal", gain=gain, seed=3).W
    gram = W.T @ W if n_out >= n_in else W @ W.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(n_in, n_out)), rtol=0, atol=1e-14)
    # min(m, n) unit vectors spread over m·n entries: the mean square entry is exactly g²/max(m, n)
    assert abs(np.mean(W**2) - gain**2 / max(n_in, n_out)) < 1e-15


def test_orthogonal_init_has_the_sign_fix():
    # Without the fix LAPACK's QR makes W[0, 0] negative every time; with it, W is Haar: positive half the time.
    positive = np.mean([jn.Dense(3, 5, init="orthogonal", seed=s).W[0, 0] > 0 for s in range(200)])
    assert 0.35 < positive < 0.65  # binomial(200, 1/2): sd 0.035, so ±4.3 sd


def test_init_leaves_key_and_function_alone():
    d = jn.Dense(3, 2, init="he", seed=0)
    assert d.key() == jn.Dense(3, 2).key() == jn.Dense(3, 2, init="orthogonal", gain=3.0).key()
    assert d.hyperparameters() == {"n_in": 3, "n_out": 2, "tokens": 1}
    assert repr(jn.Dense(3, 2)) == repr(jn.Dense(3, 2, init="lecun")) == "Dense(3, 2)"
    assert repr(d) == "Dense(3, 2, init='he')"
    assert repr(jn.Dense(3, 2, tokens=4, init="xavier", gain=0.5)) == "Dense(3, 2, tokens=4, init='xavier', gain=0.5)"
    assert all(c.ok for c in check_layer(jn.Dense(3, 2, tokens=2, init="orthogonal", seed=1), np.linspace(-1, 1, 6)))


@pytest.mark.parametrize("init", ["glorot", "", None, 3, "HE"])
def test_unknown_init_is_refused(init):
    with pytest.raises(ValueError, match=r"Dense: init must be one of 'lecun', 'xavier', 'he', 'orthogonal', got"):
        jn.Dense(3, 2, init=init)


@pytest.mark.parametrize("gain", [0, -1.0, np.inf, np.nan, True, "2"])
def test_bad_gain_is_refused(gain):
    with pytest.raises(ValueError, match=r"Dense: gain must be a positive finite number, got"):
        jn.Dense(3, 2, gain=gain)


# --- spectra across depth ----------------------------------------------------------
def test_products_and_singular_values_match_the_plain_product():
    net, x = mixed_net(), np.linspace(-1.0, 1.5, 5)
    plain = plain_products(net, x)
    ours = list(input_products(net, x))
    assert [l for l, _ in ours] == [5, 4, 3, 2, 1, 0]
    for (l, P), Q in zip(ours, plain):
        assert P.shape == Q.shape == (3, net.activations(x)[l].size)
        np.testing.assert_allclose(P, Q, rtol=1e-13, atol=1e-15)
    s = singular_values(net, x)
    for v, Q in zip(s.values, plain):
        ref = np.linalg.svd(Q, compute_uv=False)
        np.testing.assert_allclose(v, ref, rtol=0, atol=1e-13 * ref[0])
    # by hand: Dense, Tanh, Residual, Dense, LeakyReLU (parameters: 1st, 3rd, 4th)
    assert s.labels == ["∂a5/∂a5", "∂a5/∂a4", "∂a5/∂a3", "∂a5/∂a2", "∂a5/∂a1", "∂a5/∂a0"]
    assert s.depths == [0, 1, 2, 3, 4, 5] and s.weights == [0, 0, 1, 2, 2, 3]
    assert s.names == ["", "LeakyReLU 1", "Dense 3", "Residual 1", "Tanh 1", "Dense 1"]  # (Dense 2 is inside the block)
    assert s.weight_steps() == [0, 2, 3, 5]
    assert s.shapes == [(3, 3), (3, 3), (3, 7), (3, 7), (3, 7), (3, 5)]
    np.testing.assert_array_equal(s.sigma_max, [v[0] for v in s.values])
    np.testing.assert_array_equal(s.sigma_min, [v[-1] for v in s.values])
    np.testing.assert_array_equal(s.values[0], np.ones(3))


def test_a_batch_gives_every_sample_its_own_spectra():
    net = mixed_net()
    X = np.random.default_rng(0).normal(size=(3, 5))
    s = singular_values(net, X)
    assert s.batch == 3 and s.sigma_max.shape == (3, 6)
    for b in range(3):
        one = singular_values(net, X[b])
        for v_batch, v_one in zip(s.values, one.values):
            np.testing.assert_allclose(v_batch[b], v_one, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(s.sample(b).sigma_max, s.sigma_max[b])
    # the batch products are the stacked per-sample plain products
    for (_, P), *Qs in zip(input_products(net, X), *(plain_products(net, X[b]) for b in range(3))):
        np.testing.assert_allclose(P, np.stack(Qs), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("widths", [[16] * 41, [3, 4, 6, 9, 9, 12], [12, 9, 9, 6, 4, 3]])
def test_an_orthogonal_linear_network_keeps_every_singular_value_at_one(widths):
    layers = [jn.Dense(a, b, init="orthogonal", seed=k) for k, (a, b) in enumerate(zip(widths, widths[1:]))]
    s = singular_values(jn.Network(layers, jn.MSE()), np.random.default_rng(0).normal(size=widths[0]))
    assert s.depths[-1] == len(widths) - 1
    for v in s.values:
        np.testing.assert_allclose(v, 1.0, rtol=0, atol=1e-12)
    # the control: lecun weights, same shapes, spread their singular values at once
    gaussian = [jn.Dense(a, b, seed=k) for k, (a, b) in enumerate(zip(widths, widths[1:]))]
    g = singular_values(jn.Network(gaussian, jn.MSE()), np.zeros(widths[0]))
    assert np.all(g.sigma_max[1:] - g.sigma_min[1:] > 0.3)


def products_over_seeds(activation: str, init: str, seeds=range(8), depth=8, width=64, batch=4):
    """``‖∂a_L/∂a_0‖_F² / n`` (the mean squared singular value) and its mean-field value ``Π_l g² mean_i f′(z_l,i)²``."""
    mean_sq, field = [], []
    g2 = {"lecun": 1.0, "he": 2.0}[init]  # n · Var(W_ij)
    for seed in seeds:
        net = network(activation, init, depth, width, seed=1000 * seed)
        X = np.random.default_rng(seed).normal(size=(batch, width))
        *_, (_, P) = input_products(net, X)
        mean_sq.append((P**2).sum(axis=(1, 2)) / width)
        acts = net.activations(X)
        slopes = [net.layers[2 * k + 1].rule.df(acts[2 * k + 1]) for k in range(depth)]
        field.append(np.prod([g2 * np.mean(d**2, axis=1) for d in slopes], axis=0))
    return np.concatenate(mean_sq), np.concatenate(field)


def test_he_relu_keeps_the_mean_squared_singular_value_at_one():
    # Theory: ReLU zeroes half the slopes, He's 2/n doubles the variance: E‖D W v‖² = ‖v‖² at every layer, so the
    # mean squared singular value of ∂a_L/∂a_0 is 1 in expectation. Over 8 seeds × 4 inputs (depth 8, width 64)
    # its mean is 0.90 with a standard error of 0.067: allow 1 ± 0.3 (4.5 standard errors).
    mean_sq, _ = products_over_seeds("relu", "he")
    assert abs(mean_sq.mean() - 1) < 0.3
    # lecun loses the factor 2 per layer: 2^−8 of He's — exactly, ReLU being positively homogeneous (W_he = √2 W_lecun)
    x = np.linspace(-1, 1, 16)
    he, lecun = network("relu", "he", 8, 16, seed=5), network("relu", "lecun", 8, 16, seed=5)
    for (l, P_he), (_, P_lecun) in zip(input_products(he, x), input_products(lecun, x)):
        k = sum(layer.n_params > 0 for layer in he.layers[l:])
        np.testing.assert_allclose(P_he, 2.0 ** (k / 2) * P_lecun, rtol=1e-12, atol=1e-14 * np.abs(P_he).max())


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_lecun_products_follow_the_mean_field_slopes(activation):
    # Theory: with lecun weights, E‖D W v‖² = mean_i f′(z_i)² ‖v‖², so the mean squared singular value of the product
    # is the product of the layers' mean squared slopes: for tanh at most 1 (f′ ≤ 1, = 1 at 0), for sigmoid (f′ ≤ 1/4)
    # it vanishes like 16^−depth. The log-ratio has sd 0.13–0.14 per input, 0.023–0.025 for the mean of 32: allow 15 %.
    mean_sq, field = products_over_seeds(activation, "lecun")
    assert abs(np.mean(mean_sq / field) - 1) < 0.15
    if activation == "tanh":
        assert 0.03 < mean_sq.mean() < 1  # shrinks, but not exponentially fast: 0.096 at depth 8
    else:
        assert mean_sq.mean() < 16.0**-8  # 8e-11


def test_sweep_builds_the_networks_of_the_figure():
    s = sweep(("tanh", "linear"), ("lecun", "orthogonal"), depth=3, width=5, seed=2)
    assert list(s) == [("tanh", "lecun"), ("tanh", "orthogonal"), ("linear", "lecun"), ("linear", "orthogonal")]
    assert s["tanh", "lecun"].depths[-1] == 6 and s["linear", "lecun"].depths[-1] == 3
    a, b = network("tanh", "he", 3, 5, seed=2), network("relu", "he", 3, 5, seed=2)
    for k in (0, 2, 4):  # the same weights whatever the activation
        assert np.array_equal(a.layers[k].W, b.layers[k].W)
    np.testing.assert_allclose(s["linear", "orthogonal"].values[-1], 1.0, atol=1e-13)
    x = np.random.default_rng(2).normal(size=5)
    np.testing.assert_array_equal(s["tanh", "lecun"].values[-1], singular_values(network("tanh", "lecun", 3, 5, seed=2), x).values[-1])
    t = table(s, weights=2)
    assert t.column("weight layers") == [2] * 4 and t.column("init")[:2] == ["lecun", "orthogonal"]
    assert t.column("σ_max")[0] == s["tanh", "lecun"].sigma_max[s["tanh", "lecun"].weight_steps()[2]]


def test_relu_products_are_flagged_singular():
    s = singular_values(network("relu", "he", 4, 8, seed=0), np.linspace(-1, 1, 8))
    assert np.all(s.sigma_min[2:] <= s.roundoff[2:])  # half the slopes are 0: rank-deficient
    assert "σ_min at round-off: singular" in str(s)
    assert "σ_min at round-off" in str(table({"relu": s}))
    orth = singular_values(network("linear", "orthogonal", 4, 8, seed=0), np.zeros(8))
    assert np.all(orth.sigma_min > orth.roundoff) and "singular" not in str(orth)
    np.testing.assert_allclose(orth.condition, 1.0, atol=1e-12)


# --- through time -----------------------------------------------------------------
def rnn_slopes(rnn: jn.RNN, x: np.ndarray) -> np.ndarray:
    """``f′(z_t)`` for t = 1 … T, the forward pass written out (h_0 = 0)."""
    h, out = np.zeros(rnn.hidden_size), []
    for t in range(rnn.steps):
        z = rnn.W_ih @ x[t * rnn.input_size : (t + 1) * rnn.input_size] + rnn.b_ih + rnn.W_hh @ h + rnn.b_hh
        h = np.tanh(z) if rnn.nonlinearity == "tanh" else np.maximum(z, 0.0)
        out.append(1 - h**2 if rnn.nonlinearity == "tanh" else (z > 0).astype(float))
    return np.array(out)


@pytest.mark.parametrize("nonlinearity, output", [("tanh", "last"), ("relu", "all"), ("tanh", "all")])
def test_through_time_matches_the_rnns_jacobian(nonlinearity, output):
    rnn = jn.RNN(3, 4, steps=6, nonlinearity=nonlinearity, output=output, seed=1)
    rnn.W_hh = 2.5 * rnn.W_hh  # large enough for some slopes and products to grow
    x = np.random.default_rng(4).normal(size=18)
    D, (n_h, n_x, T) = rnn_slopes(rnn, x), (4, 3, 6)
    J = rnn.jacobian_input(x)[-n_h:]  # the rows of h_T
    products = dict(time_products(rnn, x))
    assert sorted(products) == list(range(T + 1))
    P = np.eye(n_h)
    for t in range(T, 0, -1):
        np.testing.assert_allclose(products[t], P, rtol=1e-13, atol=1e-15)  # ∂h_T/∂h_t = D_T W_hh ⋯ D_{t+1} W_hh
        np.testing.assert_allclose(products[t] @ np.diag(D[t - 1]) @ rnn.W_ih, J[:, (t - 1) * n_x : t * n_x], rtol=1e-12, atol=1e-14)
        P = P @ np.diag(D[t - 1]) @ rnn.W_hh
    s = through_time(rnn, x)
    assert s.labels[0] == "∂h6/∂h6" and s.labels[-1] == "∂h6/∂h0" and s.depths == list(range(T + 1)) and s.unit == "time steps"
    for v, t in zip(s.values, range(T, -1, -1)):
        ref = np.linalg.svd(products[t], compute_uv=False)
        np.testing.assert_allclose(v, ref, rtol=0, atol=1e-13 * max(ref[0], 1e-300))
        assert abs(s.norms[T - t] - np.linalg.norm(products[t], 2)) <= 1e-13 * max(ref[0], 1e-300)


def test_through_time_of_a_batch_is_per_sample():
    rnn = jn.RNN(2, 3, steps=4, seed=0)
    X = np.random.default_rng(1).normal(size=(3, 8))
    s = through_time(rnn, X)
    assert s.batch == 3
    for b in range(3):
        for v, w in zip(s.values, through_time(rnn, X[b]).values):
            np.testing.assert_allclose(v[b], w, rtol=1e-13, atol=1e-16)


# --- errors -------------------------------------------------------------------------
def test_bad_inputs_are_refused_clearly():
    net = mixed_net()
    with pytest.raises(TypeError, match=r"spectra: net must be a jacobnet Network, got a list"):
        singular_values([jn.Dense(2, 2)], np.zeros(2))
    with pytest.raises(ValueError, match=r"Dense 1 expects input of shape \(5,\) or \(B, 5\), got shape \(4,\)"):
        singular_values(net, np.zeros(4))
    with pytest.raises(TypeError, match=r"through_time: rnn must be a jacobnet RNN \(jn.RNN\), got a Network"):
        through_time(net, np.zeros(5))
    with pytest.raises(ValueError, match=r"expects input of shape \(8,\) or \(B, 8\), got shape \(7,\)"):
        through_time(jn.RNN(2, 3, steps=4), np.zeros(7))
    with pytest.raises(ValueError, match=r"sweep: unknown init 'glorot'; choose from lecun, xavier, he, orthogonal"):
        sweep(inits=("glorot",))
    with pytest.raises(ValueError, match=r"sweep: unknown activation 'swish'.*\(or linear: no activation\)"):
        sweep(activations=("swish",))
    with pytest.raises(ValueError, match=r"sweep: activations must be a non-empty list of names, got 'tanh'"):
        sweep(activations="tanh")
    with pytest.raises(ValueError, match=r"sweep: depth must be a positive integer, got 0"):
        sweep(depth=0)
    with pytest.raises(ValueError, match=r"table: 'x' has products over 0 … 1 weight layers, not 2"):
        table({"x": singular_values(jn.Network([jn.Dense(2, 2)], jn.MSE()), np.ones(2))}, weights=2)
    with pytest.raises(ValueError, match=r"Spectra.sample: b must index a batch of None, got 0"):
        singular_values(net, np.zeros(5)).sample(0)


def test_each_product_asks_the_memory_guard_first():
    net = jn.Network([jn.Dense(4, 30, seed=0), jn.Tanh(), jn.Dense(30, 30, seed=1)], jn.MSE())
    with memory_budget(8 * 30 * 30 * 2 - 1), pytest.raises(JacobianMemoryError, match=r"materialising ∂a3/∂a3 of shape \(2, 30, 30\)"):
        singular_values(net, np.zeros((2, 4)))
    with memory_budget(8 * 30 * 30), pytest.raises(JacobianMemoryError, match=r"∂h4/∂h_t of shape \(2, 30, 30\)"):
        through_time(jn.RNN(1, 30, steps=4), np.zeros((2, 4)))


# --- the figure ----------------------------------------------------------------------
def test_spectrum_figure_draws_a_grid_on_one_log_scale():
    s = sweep(("tanh", "relu"), ("lecun", "orthogonal"), depth=4, width=6)
    fig = spectrum_figure(s)
    FigureCanvasAgg(fig).draw()
    assert len(fig.axes) == 4 and {ax.get_yscale() for ax in fig.axes} == {"log"}
    assert [ax.get_title().splitlines()[0] for ax in fig.axes[:2]] == ["lecun", "orthogonal"]
    assert fig.axes[0].get_ylabel().startswith("tanh") and fig.axes[2].get_ylabel().startswith("relu")
    assert len({ax.get_ylim() for ax in fig.axes}) == 1  # shared
    orth = s["tanh", "orthogonal"]
    red = fig.axes[1].get_lines()[0]
    np.testing.assert_array_equal(red.get_xdata(), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(red.get_ydata(), orth.sigma_max[orth.weight_steps()], rtol=1e-15)


def test_spectrum_figure_of_a_batch_of_networks_and_through_time():
    nets = {"mixed": singular_values(mixed_net(), np.ones((3, 5))), "rnn": through_time(jn.RNN(2, 3, steps=5, seed=0), np.ones(10))}
    fig = spectrum_figure(nets, x="depth")
    FigureCanvasAgg(fig).draw()
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == ["mixed", "rnn"]
    fig = spectrum_figure(nets["rnn"], title="through time")
    assert fig.get_suptitle() == "through time" and "T − t" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match=r"spectrum_figure: x must be one of weights, depth, got 'l'"):
        spectrum_figure(nets, x="l")
    with pytest.raises(TypeError, match=r"spectrum_figure: 'a' must map to a Spectra"):
        spectrum_figure({"a": np.ones(3)})
    with pytest.raises(ValueError, match=r"non-empty mapping"):
        spectrum_figure({})


# --- clipping -------------------------------------------------------------------------
def clip_problem():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2))
    return jn.build_network([2, 5, 3], activation="tanh", loss="softmax-ce", seed=0), X, one_hot(rng.integers(0, 3, 12), 3)


def test_clip_by_norm_scales_only_long_gradients():
    g = np.array([3.0, -4.0])
    np.testing.assert_allclose(clip_by_norm(g, 2.0)[0], [1.2, -1.6], rtol=1e-15)
    assert clip_by_norm(g, 5.0)[0] is g and clip_by_norm(g, None) == (g, False)
    assert clip_by_norm(np.zeros(2), 1.0)[1] is False
    bad = np.array([np.inf, 1.0])
    assert clip_by_norm(bad, 1.0)[0] is bad  # left for the divergence check to name


def test_clipped_steps_move_theta_at_most_lr_times_clip_norm():
    net, X, Y = clip_problem()
    theta0, g0 = net.get_params(), net.gradient(X, Y)
    c, lr = 0.05, 0.5
    assert np.linalg.norm(g0) > c
    h = train(net, X, Y, steps=8, lr=lr, momentum=0.0, eval_every=1, progress=False, clip_norm=c)
    np.testing.assert_allclose(h.params[1], theta0 - lr * c * g0 / np.linalg.norm(g0), rtol=1e-13, atol=1e-15)
    steps = np.linalg.norm(np.diff(np.array(h.params), axis=0), axis=1)
    assert np.all(steps <= lr * c * (1 + 1e-12))
    for step, clipped, norm in zip(steps, h.clipped, h.grad_norm):
        assert clipped == (norm > c)
        assert abs(step - lr * min(norm, c)) <= 1e-12 * lr * c
    assert h.clipped and all(h.clipped)


def test_clipping_with_momentum_clips_the_gradient_not_the_velocity():
    net, X, Y = clip_problem()
    theta0 = net.get_params()
    h = train(net, X, Y, steps=2, lr=0.5, momentum=0.9, eval_every=1, progress=False, clip_norm=0.01)
    assert abs(np.linalg.norm(h.params[1] - theta0) - 0.5 * 0.01) < 1e-15  # v_1 = −η g_clipped
    assert np.linalg.norm(h.params[2] - h.params[1]) > 0.5 * 0.01  # v_2 = μ v_1 − η g_2: longer than one clipped step


def test_a_huge_clip_norm_changes_nothing():
    runs = []
    for clip in (None, 1e300):
        net, X, Y = clip_problem()
        runs.append(train(net, X, Y, steps=15, lr=0.3, batch_size=4, eval_every=5, progress=False, clip_norm=clip))
    a, b = runs
    assert a.batch_loss == b.batch_loss and a.grad_norm == b.grad_norm and a.clipped == b.clipped == [False] * 15
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("clip", [0, -1.0, np.inf, np.nan, True, "1"])
def test_bad_clip_norm_is_refused(clip):
    net, X, Y = clip_problem()
    with pytest.raises(ValueError, match=r"train: clip_norm must be None or a positive number, got"):
        train(net, X, Y, steps=1, progress=False, clip_norm=clip)


def test_spectra_is_exported_for_the_chain():
    assert isinstance(singular_values(mixed_net(), np.ones(5)), Spectra)


def test_a_gain_scales_every_weight_of_the_swept_networks():
    """``gain=g`` multiplies each Dense's weights by g: a deep linear network's singular values by g^depth."""
    plain, loud = (sweep(("linear",), ("orthogonal",), depth=4, width=3, gain=g)["linear", "orthogonal"] for g in (1.0, 1.5))
    np.testing.assert_allclose(loud.values[-1], 1.5**4 * plain.values[-1], rtol=1e-12)
    np.testing.assert_allclose(plain.values[-1], np.ones(3), rtol=1e-12)
    assert all(layer.gain == 0.5 for layer in network("tanh", "he", 2, 3, gain=0.5).layers[::2])


def test_the_legend_of_a_spectrum_through_time_names_the_hidden_states():
    fig = spectrum_figure({"rnn": through_time(jn.RNN(2, 3, steps=4, seed=0), np.ones(8))}, x="depth")
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert r"\partial h_T/\partial h_t" in texts[2] and r"\partial a_L" not in " ".join(texts)
