"""Lesson 12 (depth and initialisation): the facts the lesson states, recomputed with package calls.

Each test rebuilds the lesson's networks (same sizes, seeds and inputs) and asserts
what its text says about the singular values of ``∂a_L/∂a_l``: the product of the
chain's factors is the input Jacobian; what each init does to one layer; the
sweep's regimes (orthogonal linear at 1, sigmoid vanishing, ReLU singular, …);
the balanced gain of tanh and how it moves with the size of the input; ReLU's exact
``√2^N`` between ``he`` and ``lecun`` over ``N`` weight layers; sigmoid's ``(g/4)^N``
bound and the gains that do better without rescuing it; the RNN through time — and
that the exercises' reference answers are right and typical wrong ones are not.
"""

from __future__ import annotations

import lesson_source as source
import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import jacobian_fd, rel_error
from jacobnet.course import feedback

SETUP = [  # lines of the notebook whose objects the tests below rebuild
    "sweep = jn.depth.sweep(activations=(\"linear\", \"tanh\", \"relu\", \"sigmoid\"), inits=jn.Dense.INITS, depth=30, width=16)",
    "orthogonal_net = jn.depth.network(\"linear\", \"orthogonal\", depth=12, width=6, gain=0.9)",
    "gains = np.round(np.arange(0.8, 1.41, 0.05), 2)",
    "inputs = np.random.default_rng(0).normal(size=(8, width))",
    "jn.depth.network(\"tanh\", \"orthogonal\", depth, width, gain=g), 3 * inputs)",
    "for scale in (0.3, 1.0, 3.0):",
    "at_17 = relu_he.weight_steps()[17]",
    "sigmoid_net = jn.depth.network(\"sigmoid\", \"orthogonal\", depth=30, width=16, gain=4.0)",
    "for g in (1.0, 4.0, 8.0, 12.0, 16.0, 32.0):",
]
ANSWERS = ["answer = np.full(6, 0.9 ** 12)", "answer = 1", "answer = np.sqrt(2) ** 17"]
FD_TOL = 1e-7
GAINS = np.round(np.arange(0.8, 1.41, 0.05), 2)


def chain_net(activation: type[jn.Layer], width: int, depth: int, gain: float, init: str = "orthogonal") -> jn.Network:
    """``depth`` × (Dense(width, width, init, gain), activation), Dense ``k`` seeded ``k``, built by hand."""
    return jn.Network([layer for k in range(1, depth + 1)
                       for layer in (jn.Dense(width, width, init=init, gain=gain, seed=k), activation())], jn.MSE())


def lesson_net(activation: str, depth: int, gain: float, width: int = 16) -> jn.Network:
    """The lesson's networks: ``jn.depth.network(activation, "orthogonal", depth, width, gain=gain)``."""
    return jn.depth.network(activation, "orthogonal", depth, width, gain=gain)


@pytest.mark.parametrize("activation, layer", [("tanh", jn.Tanh), ("sigmoid", jn.Sigmoid)])
def test_depth_network_with_a_gain_is_the_hand_built_chain(activation, layer):
    """What the lesson builds with ``jn.depth.network(…, gain=g)`` is ``depth`` × (Dense seeded k, activation), as by hand."""
    x = np.random.default_rng(0).normal(size=(3, 5))
    ours, hand = lesson_net(activation, 4, 1.3, width=5), chain_net(layer, 5, 4, 1.3)
    assert ours.names == hand.names
    np.testing.assert_array_equal(ours.get_params(), hand.get_params())
    np.testing.assert_array_equal(ours.forward(x), hand.forward(x))


@pytest.fixture(scope="module")
def sweep() -> dict:
    return jn.depth.sweep(activations=("linear", "tanh", "relu", "sigmoid"), inits=jn.Dense.INITS, depth=30, width=16)


def at(s: jn.chain.spectra.Spectra, weights: int) -> int:
    """The index of the product over ``weights`` weight layers."""
    return s.weight_steps()[weights]


def test_the_notebook_sets_up_what_these_tests_recompute():
    code = source.code(12)
    assert [line for line in SETUP if line not in code] == []
    answers = [source.text(c) for c in source.cells(12) if "answer" in source.tags(c)]
    assert len(answers) == 3 and all(line in cell for line, cell in zip(ANSWERS, answers))
    assert "[layer for k in range" not in code  # the gain networks come from jn.depth.network(…, gain=g)


def test_no_cell_of_the_students_edition_gives_an_answer_away():
    """Ex. 1's g^N · orthogonal is the teacher's; Ex. 1 and 2 are measured after the prediction, in a cell of their own;
    Ex. 3's depth (17) is printed for he only."""
    cells = source.cells(12)
    text, tags = [source.text(c) for c in cells], [source.tags(c) for c in cells]
    student = "\n".join(t for t, tag in zip(text, tags) if "solution" not in tag)
    assert "0.9^{12}" in "\n".join(t for t, tag in zip(text, tags) if "solution" in tag) and "0.9^{12}" not in student
    assert "g^L" not in student and "times an orthogonal matrix" not in student
    answers = [i for i, tag in enumerate(tags) if "answer" in tag]
    for k, i in zip((1, 2), answers[:2]):  # the prediction alone; the next cell measures and checks it
        assert "lesson.check" not in text[i] and f"lesson.check({k}," in text[i + 1]
    before_ex3 = "\n".join(text[:answers[2]])
    assert "relu_lecun.sigma_max[at_17]" not in before_ex3 and "weight_steps()[17]" in before_ex3


# --- section 1: the product ---------------------------------------------------------------

@pytest.mark.parametrize("activation, init, depth, width", [("tanh", "lecun", 4, 5), ("relu", "he", 3, 7), ("sigmoid", "xavier", 2, 3)])
def test_the_chains_factors_multiply_to_the_input_jacobian(activation, init, depth, width):
    net = jn.depth.network(activation, init, depth=depth, width=width)
    x = np.random.default_rng(0).normal(size=width)
    chain = net.chain(x, np.zeros(width), wrt="input")
    assert [f.name for f in chain.factors[1:]][:2] == [f"J_x({net.names[-1]})", f"J_x({net.names[-2]})"]
    product = np.linalg.multi_dot([np.asarray(f) for f in chain.factors[1:]])
    assert rel_error(product, jacobian_fd(net.forward, x)) < FD_TOL
    spectra = jn.depth.singular_values(net, x)
    assert spectra.depths == list(range(2 * depth + 1)) and spectra.weights[-1] == depth
    assert rel_error(spectra.values[-1], np.linalg.svd(product, compute_uv=False)) < 1e-13


# --- section 2: one layer -----------------------------------------------------------------

def test_what_each_init_does_to_one_square_layer():
    values = {init: np.linalg.svd(jn.Dense(64, 64, init=init, seed=0).W, compute_uv=False) for init in jn.Dense.INITS}
    assert np.mean(values["lecun"] ** 2) == pytest.approx(1.0, abs=0.05)
    assert np.mean(values["he"] ** 2) == pytest.approx(2.0, abs=0.1)
    assert np.allclose(values["orthogonal"], 1.0, rtol=0, atol=1e-12)
    assert 1.8 < values["lecun"][0] < 2.2 and values["lecun"][-1] < 0.1             # spread over [0, 2]
    assert np.array_equal(jn.Dense(64, 64, init="lecun", seed=0).W, jn.Dense(64, 64, init="xavier", seed=0).W)
    assert not np.array_equal(jn.Dense(64, 32, init="lecun", seed=0).W, jn.Dense(64, 32, init="xavier", seed=0).W)


def test_he_keeps_the_length_with_relu_on_average_over_inputs():
    rng = np.random.default_rng(1)
    he = jn.Dense(64, 64, init="he", seed=0)
    Z = he.forward(rng.normal(size=(500, 64)))
    J = jn.ReLU().jacobian_input(Z) @ he.W
    V = rng.normal(size=(500, 64))
    ratio = np.sum(np.einsum("bij,bj->bi", J, V) ** 2, axis=1) / np.sum(V**2, axis=1)
    assert ratio.mean() == pytest.approx(1.0, abs=0.05) and np.mean(Z > 0) == pytest.approx(0.5, abs=0.02)
    lecun = jn.Dense(64, 64, init="lecun", seed=0)  # the same draws, half the variance: half the length²
    J_lecun = jn.ReLU().jacobian_input(lecun.forward(rng.normal(size=(500, 64)))) @ lecun.W
    assert np.mean(np.sum(np.einsum("bij,bj->bi", J_lecun, V) ** 2, axis=1) / np.sum(V**2, axis=1)) == pytest.approx(0.5, abs=0.03)


# --- section 3: the sweep -----------------------------------------------------------------

def test_orthogonal_linear_keeps_every_singular_value_at_1(sweep):
    s = sweep["linear", "orthogonal"]
    assert all(np.allclose(v, 1.0, rtol=0, atol=1e-12) for v in s.values)


def test_gaussian_linear_keeps_sigma_max_and_loses_sigma_min(sweep):
    s = sweep["linear", "lecun"]
    assert all(0.3 < v[0] < 5 for v in s.values)
    assert s.sigma_min[-1] <= s.roundoff[-1]


def test_lecun_and_xavier_are_the_same_for_square_layers(sweep):
    for activation in ("linear", "tanh", "relu", "sigmoid"):
        assert all(np.array_equal(a, b) for a, b in zip(sweep[activation, "lecun"].values, sweep[activation, "xavier"].values))


def test_sigmoid_vanishes_for_every_init(sweep):
    for init in jn.Dense.INITS:
        assert sweep["sigmoid", init].sigma_max[-1] < 1e-12


def test_relu_products_are_singular_and_he_vanishes_slowly(sweep):
    for init in jn.Dense.INITS:
        s = sweep["relu", init]
        assert s.sigma_min[at(s, 10)] <= s.roundoff[at(s, 10)]
    rate = {init: (sweep["relu", init].sigma_max[-1] / sweep["relu", init].sigma_max[at(sweep["relu", init], 10)]) ** (1 / 20)
            for init in ("lecun", "he")}
    assert rate["lecun"] < 0.8 and 0.85 < rate["he"] < 1  # he: slowly, but it vanishes
    assert f"{rate['he']:.3f}" == "0.915" and f"{sweep['relu', 'he'].sigma_max[-1]:.3g}" == "0.254"
    he = sweep["relu", "he"]
    assert all(0.1 < he.sigma_max[at(he, w)] < 10 for w in range(31))


def test_tanh_orthogonal_is_the_one_nonlinear_band_near_1(sweep):
    tanh = sweep["tanh", "orthogonal"]
    assert 0.5 < tanh.sigma_min[at(tanh, 10)] <= tanh.sigma_max[at(tanh, 10)] < 1
    for (activation, init), s in sweep.items():
        if activation != "linear" and (activation, init) != ("tanh", "orthogonal"):
            assert s.sigma_min[at(s, 10)] < 1e-3 or s.sigma_max[at(s, 10)] < 1e-3


# --- exercise 1 ---------------------------------------------------------------------------

def test_exercise_1_a_product_of_orthogonal_matrices_is_g_to_the_N_times_orthogonal():
    net = jn.depth.network("linear", "orthogonal", depth=12, width=6, gain=0.9)
    hand = jn.Network([jn.Dense(6, 6, init="orthogonal", gain=0.9, seed=k) for k in range(1, 13)], jn.MSE())
    np.testing.assert_array_equal(net.get_params(), hand.get_params())
    assert net.names == [f"Dense {k}" for k in range(1, 13)]
    values = jn.depth.singular_values(net, np.random.default_rng(0).normal(size=6)).values[-1]
    assert np.allclose(values, 0.9**12, rtol=1e-12, atol=0)
    assert feedback.check_matrix(np.full(6, 0.9**12), values).ok
    for wrong in (np.full(6, 0.9), np.ones(6), np.full(6, 0.9 * 12), np.full(6, 0.9**11)):
        assert not feedback.check_matrix(wrong, values).ok
    gaussian = jn.Network([jn.Dense(6, 6, gain=0.9, seed=k) for k in range(1, 13)], jn.MSE())
    spread = jn.depth.singular_values(gaussian, np.zeros(6)).values[-1]
    assert spread[0] / spread[-1] > 10  # a Gaussian product's are not all equal


# --- section 4 and exercise 2: the gain ------------------------------------------------------

@pytest.fixture(scope="module")
def by_gain() -> dict[float, jn.chain.spectra.Spectra]:
    inputs = np.random.default_rng(0).normal(size=(8, 16))
    return {g: jn.depth.singular_values(lesson_net("tanh", 30, g), inputs) for g in GAINS}


def balanced_gain(spectra: list[jn.chain.spectra.Spectra]) -> float:
    """The grid's gain whose largest σ_max over the batch is closest to 1 on a log scale (the lesson's measure)."""
    return float(GAINS[np.argmin([abs(np.log(s.sigma_max[..., -1].max())) for s in spectra])])


def test_the_balanced_gain_of_the_lesson(by_gain):
    sigma_max = np.array([s.sigma_max[..., -1].max() for s in by_gain.values()])
    table = jn.depth.table({f"gain {g:.2f}": s for g, s in by_gain.items()})
    assert np.allclose([row["σ_max"] for row in table.rows], sigma_max, rtol=0, atol=0)  # the column the lesson reads
    assert np.all(np.diff(sigma_max) > 0)
    assert balanced_gain(list(by_gain.values())) == 1.05


def test_exercise_2_three_times_larger_inputs_move_the_balanced_gain_up(by_gain):
    inputs = np.random.default_rng(0).normal(size=(8, 16))
    larger = [jn.depth.singular_values(lesson_net("tanh", 30, g), 3 * inputs) for g in GAINS]
    balanced, balanced_3x = balanced_gain(list(by_gain.values())), balanced_gain(larger)
    assert (balanced, balanced_3x) == (1.05, 1.10)
    move = np.sign(balanced_3x - balanced)
    assert feedback.check_number(1, move).ok
    for wrong in (-1, 0):
        assert not feedback.check_number(wrong, move).ok
    first = lambda X: np.mean(1 - np.tanh(lesson_net("tanh", 30, 1.0).activations(X)[1]) ** 2)  # noqa: E731
    assert first(3 * inputs) < first(inputs)  # the reason: the first layer's slopes are lower


def test_how_far_above_1_depends_on_the_size_of_the_input():
    """The lesson's table: σ_max at gain 1 below 1 for every size, and σ_max = 1 at 1.02, 1.07 and 1.11 (interpolated)."""
    inputs = np.random.default_rng(0).normal(size=(8, 16))
    crossing, at_1 = [], []
    for scale in (0.3, 1.0, 3.0):
        sigma_max = np.array([jn.depth.singular_values(lesson_net("tanh", 30, g), scale * inputs).sigma_max[..., -1].max()
                              for g in GAINS])
        assert np.all(np.diff(sigma_max) > 0)  # (np.interp needs increasing points)
        at_1.append(sigma_max[GAINS == 1.0][0])
        crossing.append(np.interp(0.0, np.log(sigma_max), GAINS))
    assert [f"{c:.2f}" for c in crossing] == ["1.02", "1.07", "1.11"]
    assert all(a < 1 for a in at_1) and at_1[0] > at_1[1] > at_1[2]


@pytest.mark.parametrize("depth, scale", [(10, 0.3), (10, 3.0), (30, 0.3), (30, 3.0)])
def test_the_balanced_gain_is_above_1_whatever_the_depth_and_input(depth, scale):
    inputs = scale * np.random.default_rng(0).normal(size=(8, 16))
    at_1 = jn.depth.singular_values(chain_net(jn.Tanh, 16, depth, 1.0), inputs)
    at_14 = jn.depth.singular_values(chain_net(jn.Tanh, 16, depth, 1.4), inputs)
    assert np.all(at_1.sigma_max[:, -1] < 1)            # every sample: the balanced gain is not below 1
    assert at_14.sigma_max[:, -1].max() > 1             # the lesson's measure (the largest over the batch) has passed 1


def test_at_gain_1_the_norm_is_at_most_the_product_of_the_largest_slopes():
    inputs = np.random.default_rng(0).normal(size=(8, 16))
    net = chain_net(jn.Tanh, 16, 30, 1.0)
    acts = net.activations(inputs)
    largest = np.prod([np.max(1 - np.tanh(acts[2 * k - 1]) ** 2, axis=1) for k in range(1, 31)], axis=0)
    assert np.all(jn.depth.singular_values(net, inputs).sigma_max[:, -1] <= largest * (1 + 1e-12))


@pytest.mark.parametrize("gain", [0.9, 1.0])
def test_below_the_balanced_gain_the_slopes_rise_towards_1_with_depth(gain):
    acts = chain_net(jn.Tanh, 16, 30, gain).activations(np.random.default_rng(0).normal(size=(8, 16)))
    slopes = [float(np.mean(1 - np.tanh(acts[2 * k - 1]) ** 2)) for k in (1, 10, 30)]
    assert slopes[0] < 0.7 and slopes[0] < slopes[1] < slopes[2] < 1


def test_a_large_gain_keeps_the_slopes_low():
    acts = chain_net(jn.Tanh, 16, 30, 1.4).activations(np.random.default_rng(0).normal(size=(8, 16)))
    assert float(np.mean(1 - np.tanh(acts[59]) ** 2)) < 0.75


# --- section 5 and exercise 3: ReLU's √2, sigmoid's 1/4 ---------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_exercise_3_he_is_exactly_sqrt2_to_the_N_times_lecun_for_homogeneous_activations(sweep, activation):
    he, lecun = sweep[activation, "he"], sweep[activation, "lecun"]
    for w in (1, 10, 17, 30):
        i = at(he, w)
        assert he.sigma_max[i] / lecun.sigma_max[i] == pytest.approx(np.sqrt(2) ** w, rel=1e-10)
    i = at(he, 17)
    assert i == at(lecun, 17)
    ratio = he.sigma_max[i] / lecun.sigma_max[i]
    assert feedback.check_number(np.sqrt(2) ** 17, ratio).ok and feedback.check_number(2.0**8.5, ratio).ok
    for wrong in (np.sqrt(2), np.sqrt(2) ** 30, np.sqrt(2) ** 16, 2.0**17):
        assert not feedback.check_number(wrong, ratio).ok


def test_exercise_3s_depth_is_printed_by_no_table(sweep):
    """17 weight layers: the section 3 tables print 10 and 30, and section 5 prints only the he product's σ_max."""
    he = sweep["relu", "he"]
    assert f"{he.sigma_max[at(he, 17)]:.6g}" == "1.59739"
    for weights in (10, 30):
        assert {row["weight layers"] for row in jn.depth.table(sweep, weights=weights).rows} == {weights}


def test_tanh_is_not_homogeneous(sweep):
    ratio = sweep["tanh", "he"].sigma_max[-1] / sweep["tanh", "lecun"].sigma_max[-1]
    assert abs(np.log(ratio / np.sqrt(2) ** 30)) > 1


def test_sigmoid_slope_is_at_most_a_quarter_and_bounds_the_product(sweep):
    slopes = jn.Sigmoid().jacobian_input(np.linspace(-6, 6, 1001)).diagonal()
    assert slopes.max() == 0.25 and slopes.argmax() == 500
    s = sweep["sigmoid", "orthogonal"]
    for w in (1, 10, 30):
        assert s.sigma_max[at(s, w)] <= 0.25**w
    assert s.sigma_max[at(s, 10)] > 0.5 * 0.25**10  # near the bound: the pre-activations are small


def test_reference_answer_of_the_quarter():
    assert feedback.check_number(4.0, 1 / jn.Sigmoid().jacobian_input(np.zeros(1))[0, 0]).ok


def test_gain_4_lifts_the_bound_but_not_the_sigmoid_network():
    x16 = np.random.default_rng(0).normal(size=16)
    net = lesson_net("sigmoid", 30, 4.0)
    acts = net.activations(x16)
    pre, out = np.array(acts[1::2]), np.array(acts[2::2])
    assert pre.shape == out.shape == (30, 16)
    sigma_max = jn.depth.singular_values(net, x16).sigma_max[-1]
    assert sigma_max < 1e-5 and sigma_max <= 1.0
    assert np.all(out > 0) and 0.4 < out.mean() < 0.6
    assert np.abs(pre).mean() > 1 and np.mean(out * (1 - out)) < 0.15
    weaker = jn.depth.singular_values(lesson_net("sigmoid", 30, 1.0), x16).sigma_max[-1]
    assert sigma_max > weaker  # the gain helps, the slopes undo most of it


def sigmoid_rates() -> dict[float, float]:
    """The lesson's factor per weight layer from layer 10 to layer 30, for each gain, at x16."""
    x16 = np.random.default_rng(0).normal(size=16)
    rates = {}
    for g in (1.0, 4.0, 8.0, 12.0, 16.0, 32.0):
        s = jn.depth.singular_values(lesson_net("sigmoid", 30, g), x16)
        assert s.sigma_max[-1] <= (g / 4) ** 30  # the bound (g/4)^N
        rates[g] = (s.sigma_max[at(s, 30)] / s.sigma_max[at(s, 10)]) ** (1 / 20)
    return rates


def test_gains_8_to_16_do_better_than_4_but_none_keeps_sigmoid_near_1():
    """The lesson's words: "Gains 8–16 do better than 4, but none keeps σ_max near 1: at best × 0.75 per layer"; summary: gain 12."""
    rates = sigmoid_rates()
    assert all(rates[g] > rates[4.0] for g in (8.0, 12.0, 16.0))
    best = max(rates, key=rates.get)
    assert best == 12.0 and f"{rates[best]:.2f}" == "0.75"
    assert all(r < 0.76 for r in rates.values())


@pytest.mark.parametrize("depth", [10, 30])
def test_the_sigmoid_bound_holds_for_every_gain(depth):
    x16 = np.random.default_rng(0).normal(size=16)
    for g in (1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 32.0, 64.0):
        s = jn.depth.singular_values(lesson_net("sigmoid", depth, g), x16)
        assert s.sigma_max[-1] <= (g / 4) ** depth and s.sigma_max[-1] < 0.5


# --- section 6: through time ----------------------------------------------------------------

def rnn_with(gain: float | None) -> jn.RNN:
    rnn = jn.RNN(3, 8, steps=25, seed=0)
    if gain is not None:
        rnn.W_hh = jn.Dense(8, 8, init="orthogonal", gain=gain, seed=0).W
    return rnn


def test_through_time_default_vanishes_orthogonal_keeps_longer_a_larger_gain_grows():
    x_seq = np.random.default_rng(1).normal(size=75)
    norms = {g: jn.depth.through_time(rnn_with(g), x_seq).norms for g in (None, 1.0, 1.5)}
    assert norms[None][25] < 1e-6 and np.all(np.diff(norms[None]) < 0)
    assert norms[1.0][25] > 100 * norms[None][25] and np.all(norms[1.0][1:] < 1)
    assert norms[1.5][25] > 1
    assert np.linalg.norm(rnn_with(1.5).W_hh, 2) == pytest.approx(1.5, rel=1e-12)


def test_through_time_is_the_product_of_the_steps_jacobians():
    rnn, x_seq = rnn_with(1.0), np.random.default_rng(1).normal(size=75)
    H, h = [], np.zeros(8)
    for t in range(25):
        h = np.tanh(rnn.W_ih @ x_seq[3 * t:3 * t + 3] + rnn.b_ih + rnn.W_hh @ h + rnn.b_hh)
        H.append(h)
    P = np.eye(8)
    for t in range(24, 14, -1):  # ten steps back: D_25 W_hh ⋯ D_16 W_hh
        P = P @ (np.diag(1 - H[t] ** 2) @ rnn.W_hh)
    assert rel_error(jn.depth.through_time(rnn, x_seq).values[10], np.linalg.svd(P, compute_uv=False)) < 1e-12
