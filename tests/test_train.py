"""Data, training loop, decision grid and the training figures."""

from __future__ import annotations

import re

import autograd
import numpy as np
import pytest
import reference as ref

import jacobnet as jn
from jacobnet.course.data import one_hot, two_spirals
from jacobnet.course.predict import accuracy, decision_grid, predict, with_params
from jacobnet.course.train import History, TrainingDiverged, _batches, _divergence, train
from jacobnet.viz import decision_boundary_figure, loss_curve_figure


def small_net(seed: int = 0) -> jn.Network:
    return jn.build_network([2, 5, 3], activation="tanh", loss="softmax-ce", seed=seed)


def toy_data(n: int = 12, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, one_hot(rng.integers(0, 3, size=n), 3)


# --- data -----------------------------------------------------------------
def test_two_spirals_shapes_labels_and_geometry():
    X, labels = two_spirals(50, noise=0.0)
    assert X.shape == (100, 2) and X.dtype == np.float64
    assert labels.tolist() == [0] * 50 + [1] * 50
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[:50], np.linspace(0, 1, 50), atol=1e-15)  # r = t
    np.testing.assert_allclose(X[50:], -X[:50], atol=1e-15)  # arm 1 = arm 0 turned by π
    angle = np.arctan2(X[49, 1], X[49, 0])  # t = 1: φ = 2π · 1.5 = 3π ≡ π
    assert abs(abs(angle) - np.pi) < 1e-12


def test_two_spirals_is_seeded():
    a, _ = two_spirals(30, seed=3)
    b, _ = two_spirals(30, seed=3)
    c, _ = two_spirals(30, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_per_class": 0}, "n_per_class must be a positive integer"),
    ({"n_per_class": 2.5}, "n_per_class must be a positive integer"),
    ({"noise": -0.1}, "noise ≥ 0"),
    ({"turns": float("nan")}, "turns must be finite"),
])
def test_two_spirals_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_spirals(**{"n_per_class": 5, **kwargs})


def test_one_hot_values_and_errors():
    np.testing.assert_array_equal(one_hot(np.array([1, 0, 2]), 3), [[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match=r"labels must lie in 0…1, got range 0…2"):
        one_hot(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="integer labels"):
        one_hot(np.array([0.5]), 2)


# --- the training loop ----------------------------------------------------
def autograd_gradient(net: jn.Network, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The independent reference: autograd's gradient of the same mean loss."""
    return np.asarray(autograd.grad(ref.network_loss(net))(net.get_params(), X, Y), dtype=np.float64)


def test_one_plain_sgd_step_uses_the_true_gradient():
    X, Y = toy_data()
    net = small_net()
    theta0, g = net.get_params(), autograd_gradient(net, X, Y)
    train(net, X, Y, steps=1, lr=0.05, momentum=0.0, progress=False)
    np.testing.assert_allclose(net.get_params(), theta0 - 0.05 * g, rtol=0, atol=1e-14)


def test_momentum_is_heavy_ball():
    X, Y = toy_data()
    net, twin = small_net(), small_net()
    theta0 = net.get_params()
    train(net, X, Y, steps=2, lr=0.05, momentum=0.8, progress=False)
    g0 = autograd_gradient(twin, X, Y)
    theta1 = theta0 - 0.05 * g0
    twin.set_params(theta1)
    theta2 = theta1 + 0.8 * (theta1 - theta0) - 0.05 * autograd_gradient(twin, X, Y)
    np.testing.assert_allclose(net.get_params(), theta2, rtol=0, atol=1e-13)


def test_minibatches_cover_every_sample_once_per_epoch():
    gen = _batches(10, 3, seed=0)
    epoch = np.concatenate([next(gen) for _ in range(3)])  # 3 batches of 3; the 10th sample waits
    assert len(set(epoch.tolist())) == 9
    again = _batches(10, 3, seed=0)
    np.testing.assert_array_equal(next(again), epoch[:3])


def test_training_is_repeatable_and_modes_agree():
    X, Y = toy_data(20)
    runs = []
    for mode in ("structured", "structured", "materialised"):
        net = small_net()
        runs.append(train(net, X, Y, steps=15, lr=0.1, batch_size=5, eval_every=5, mode=mode, progress=False))
    assert runs[0].loss == runs[1].loss and runs[0].batch_loss == runs[1].batch_loss
    np.testing.assert_allclose(runs[2].loss, runs[0].loss, rtol=1e-12)
    np.testing.assert_allclose(runs[2].params[-1], runs[0].params[-1], rtol=0, atol=1e-12)


def test_history_records_what_happened():
    X, Y = toy_data(20)
    net = small_net()
    theta0 = net.get_params()
    h = train(net, X, Y, steps=23, lr=0.1, eval_every=10, progress=False)
    assert h.steps == [0, 10, 20, 23]
    assert (h.batch_size, h.n_samples, h.full_batch) == (20, 20, True)
    assert len(h.batch_loss) == len(h.grad_norm) == 23
    assert h.loss[0] == pytest.approx(small_net().loss(X, Y), rel=1e-15)
    assert h.loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-15)
    np.testing.assert_array_equal(h.params[0], theta0)
    np.testing.assert_array_equal(h.params[-1], net.get_params())
    assert h.accuracy[-1] == accuracy(net, X, Y)
    assert h.grad_norm[0] == pytest.approx(np.linalg.norm(autograd_gradient(small_net(), X, Y)), rel=1e-12)
    assert "23 steps" in repr(h) and repr(History()) == "History(empty)"


def test_learns_two_spirals():
    X, labels = two_spirals(60, noise=0.05, seed=0)
    net = jn.build_network([2, 16, 16, 2], activation="tanh", loss="softmax-ce", seed=0)
    h = train(net, X, one_hot(labels, 2), steps=500, lr=0.3, progress=False)
    assert h.loss[-1] < 0.5 * h.loss[0]
    assert h.accuracy[-1] >= 0.9


def test_progress_bar_is_optional(capsys):
    X, Y = toy_data()
    train(small_net(), X, Y, steps=3, progress=False)
    assert capsys.readouterr().err == ""
    train(small_net(), X, Y, steps=3, progress=True)
    err = capsys.readouterr().err
    assert "train" in err and "3/3" in err


def test_minibatch_history_says_so():
    X, Y = toy_data(12)
    h = train(small_net(), X, Y, steps=4, batch_size=5, progress=False)
    assert (h.batch_size, h.n_samples, h.full_batch) == (5, 12, False)
    assert not History().full_batch  # not recorded: not claimed


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps must be a positive integer"),
    ({"steps": True}, "steps must be a positive integer"),
    ({"steps": 2.0}, "steps must be a positive integer"),
    ({"lr": -1.0}, "lr must be a positive number"),
    ({"lr": float("nan")}, "lr must be a positive number"),
    ({"lr": float("inf")}, "lr must be a positive number"),
    ({"lr": "0.1"}, "lr must be a positive number"),
    ({"lr": True}, "lr must be a positive number"),
    ({"momentum": 1.0}, r"momentum must lie in \[0, 1\)"),
    ({"momentum": -0.1}, r"momentum must lie in \[0, 1\)"),
    ({"momentum": float("nan")}, r"momentum must lie in \[0, 1\)"),
    ({"momentum": "0.9"}, r"momentum must lie in \[0, 1\)"),
    ({"batch_size": 13}, r"batch_size must be at most N = 12 \(the rows of X\), got 13"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
    ({"eval_every": 0}, "eval_every must be a positive integer, got 0"),
    ({"eval_every": -5}, "eval_every must be a positive integer"),
    ({"eval_every": 1.5}, "eval_every must be a positive integer"),
    ({"seed": -1}, "seed must be None or a non-negative integer, got -1"),
    ({"seed": "a"}, "seed must be None or a non-negative integer"),
    ({"mode": "dense"}, "unknown mode 'dense'"),
    ({"progress": "yes"}, "progress must be True or False"),
])
def test_bad_settings_are_refused(kwargs, match):
    X, Y = toy_data()
    net = small_net()
    theta = net.get_params()
    with pytest.raises(ValueError, match=match):
        train(net, X, Y, **{"progress": False, **kwargs})
    np.testing.assert_array_equal(net.get_params(), theta)


# --- divergence ------------------------------------------------------------
@pytest.mark.parametrize("activation, loss, lr, step, what", [
    ("tanh", "mse", 1e3, 40, "loss inf on all of X"),  # the evaluation on all data overflows first
    ("relu", "mse", 1e150, 2, "loss inf"),
    ("relu", "softmax-ce", 1e300, 2, "loss nan: the network's output is not finite"),
])
def test_divergence_is_one_clear_error_without_numpy_warnings(activation, loss, lr, step, what):
    """Warnings are errors in this suite: a leaked RuntimeWarning would fail here instead of TrainingDiverged."""
    X, labels = two_spirals(20, seed=0)
    net = jn.build_network([2, 8, 2], activation=activation, loss=loss, seed=0)
    settings = np.geterr()
    expected = rf"^training diverged at step {step} \({re.escape(what)}\); lower lr \(now {re.escape(f'{lr:g}')}\)$"
    with pytest.raises(TrainingDiverged, match=expected) as err:
        train(net, X, one_hot(labels, 2), steps=200, lr=lr, progress=False)
    assert np.geterr() == settings  # the error state was changed locally only
    assert err.value.step == step and len(err.value.history.batch_loss) in (step, step - 1)
    assert np.isfinite(net.get_params()).all()  # the last finite parameters are kept
    assert isinstance(err.value, ValueError)


def test_divergence_in_the_update_names_the_parameters():
    X, Y = np.array([[1000.0, -1000.0], [500.0, 200.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    net = jn.build_network([2, 3, 2], activation="relu", loss="mse", seed=0)
    theta = net.get_params()
    with pytest.raises(TrainingDiverged, match=r"at step 1 \(loss [\d.e+]+, parameters overflowed to inf/NaN\); lower lr"):
        train(net, X, Y, steps=5, lr=1e308, momentum=0.0, progress=False)
    np.testing.assert_array_equal(net.get_params(), theta)


def test_divergence_messages():
    finite = np.ones(3)
    assert _divergence(0.5, finite, finite) is None
    assert _divergence(np.inf, finite, finite) == ""
    assert _divergence(0.5, np.array([1.0, np.nan, 0.0]), finite) == ", gradient not finite"
    assert _divergence(0.5, finite, np.array([np.inf, 0.0, 0.0])) == ", parameters overflowed to inf/NaN"


def test_bad_data_is_refused_with_shapes():
    X, Y = toy_data()
    with pytest.raises(ValueError, match=r"got \(12, 2\) and \(11, 3\)"):
        train(small_net(), X, Y[:11], progress=False)
    with pytest.raises(ValueError, match=r"expects input of shape \(2,\) or \(B, 2\), got shape \(12, 3\)"):
        train(small_net(), np.ones((12, 3)), Y, progress=False)
    with pytest.raises(ValueError, match="non-finite"):
        train(small_net(), np.full((12, 2), np.nan), Y, progress=False)


# --- predictions and the decision grid ------------------------------------
def test_predict_accuracy_and_with_params():
    net = jn.Network([jn.Dense(2, 2, seed=0)], jn.SoftmaxCrossEntropy())
    net.set_params(np.array([1.0, 0.0, -1.0, 0.0, 0.0, 0.0]))  # logits (x1, −x1): class 0 iff x1 > 0
    X = np.array([[1.0, 5.0], [-2.0, 0.0], [3.0, -1.0]])
    assert predict(net, X).tolist() == [0, 1, 0]
    assert accuracy(net, X, np.array([0, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(net, X, one_hot(np.array([0, 1, 0]), 2)) == 1.0
    twin = with_params(net, np.zeros(6))
    assert twin is not net and np.all(twin.get_params() == 0) and net.get_params()[0] == 1.0


def test_decision_grid_covers_the_data_and_gives_probabilities():
    X = np.array([[-1.0, 0.0], [2.0, 3.0]])
    net = jn.Network([jn.Dense(2, 2, seed=0)], jn.SoftmaxCrossEntropy())
    net.set_params(np.array([1.0, 0.0, -1.0, 0.0, 0.0, 0.0]))
    g = decision_grid(net, X, resolution=7, margin=0.5)
    assert g.xx.shape == g.yy.shape == g.labels.shape == (7, 7) and g.probs.shape == (7, 7, 2)
    assert (g.xx.min(), g.xx.max(), g.yy.min(), g.yy.max()) == (-1.5, 2.5, -0.5, 3.5)
    np.testing.assert_allclose(g.probs.sum(axis=-1), 1.0)
    expected_p0 = 1.0 / (1.0 + np.exp(-2.0 * g.xx))  # softmax of (x1, −x1)
    np.testing.assert_allclose(g.probs[..., 0], expected_p0, rtol=1e-12)
    mse_net = jn.Network([jn.Dense(2, 3, seed=0)], jn.MSE())  # no softmax: outputs as they are
    np.testing.assert_allclose(decision_grid(mse_net, X, resolution=3).probs[0, 0], mse_net.forward(np.array([-1.25, -0.25])))


@pytest.mark.parametrize("kwargs, match", [
    ({"resolution": 0}, "resolution must be a positive integer, got 0"),
    ({"resolution": 2.5}, "resolution must be a positive integer"),
    ({"margin": -1.0}, "margin must be a finite number ≥ 0, got -1.0"),
    ({"margin": float("inf")}, "margin must be a finite number ≥ 0"),
])
def test_decision_grid_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        decision_grid(small_net(), np.zeros((3, 2)), **kwargs)


# --- figures --------------------------------------------------------------
def test_loss_curve_figure_plots_the_history():
    X, Y = toy_data()
    h = train(small_net(), X, Y, steps=12, eval_every=4, progress=False)
    fig = loss_curve_figure(h)
    ax_loss, ax_acc = fig.axes
    assert ax_loss.get_yscale() == "log"
    np.testing.assert_array_equal(ax_loss.lines[1].get_ydata(), h.loss)
    np.testing.assert_array_equal(ax_acc.lines[0].get_xdata(), h.steps)


def test_decision_boundary_figure_shows_every_class():
    X, labels = two_spirals(10, seed=0)
    net = jn.build_network([2, 4, 2], loss="softmax-ce")
    fig = decision_boundary_figure(decision_grid(net, X, resolution=20), X, labels)
    ax = fig.axes[0]
    assert len(ax.collections) >= 2 and [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
