"""Lesson 8 (training with explicit Jacobians): every fact the lesson states, recomputed from the package.

Two spirals; the loss before training near ln 2; 600 materialised full-batch steps that lower the loss, with a
spike near step 130 where the gradient grows fiftyfold in four steps; the largest Hessian eigenvalue climbing past
2(1 + μ)/η before the spike and falling far below it after; a smaller step stable and stuck; the trained Jacobians
measured by spectral norms; the gradient still equal to finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.chain.curvature import hessian
from jacobnet.check import fd_gradient, rel_error
from jacobnet.course import exercises, feedback
from jacobnet.course.data import one_hot, two_spirals
from jacobnet.course.predict import accuracy, decision_grid, with_params
from jacobnet.course.train import train

LR, MOMENTUM = 0.3, 0.9


def spiral_net() -> jn.Network:
    return jn.build_network([2, 16, 16, 2], activation="tanh", loss="softmax-ce", seed=0)


@pytest.fixture(scope="module")
def run():
    X, labels = two_spirals(100, turns=1.5, noise=0.05, seed=0)
    Y = one_hot(labels, 2)
    net = spiral_net()
    theta_start = net.get_params()
    history = train(net, X, Y, steps=600, lr=LR, momentum=MOMENTUM, mode="materialised", progress=False)
    return X, labels, Y, net, theta_start, history


def test_data_and_network(run):
    X, labels, Y, net, theta_start, history = run
    assert X.shape == (200, 2) and X.dtype == np.float64 and Y.shape == (200, 2)
    assert np.bincount(labels).tolist() == [100, 100]
    assert net.n_params == (2 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2) == 354
    assert net.names == ["Dense 1", "Tanh 1", "Dense 2", "Tanh 2", "Dense 3"]


def test_exercise_1_loss_before_training_is_near_ln2(run):
    X, labels, Y, net, theta_start, history = run
    before = with_params(net, theta_start)
    assert abs(before.loss(X, Y) - np.log(2)) < 0.05 * np.log(2) and history.loss[0] == before.loss(X, Y)
    assert feedback.check_number(np.log(2), before.loss(X, Y), rtol=0.05).ok
    assert not feedback.check_number(1.0, before.loss(X, Y), rtol=0.05).ok
    assert accuracy(before, X, Y) == 0.58


def test_exercise_2_shape(run):
    X, labels, Y, net, theta_start, history = run
    assert feedback.check_shape((16, 272), net.chain(X[0], Y[0], layer=2).factors[-1], columns="parameters").ok
    chain = with_params(net, theta_start).chain(X, Y)
    assert chain.batch == 200 and chain.shapes[-1] == (16, 48) and chain.evaluate("reverse").shape == (200, 1, 48)


def test_training_lowers_the_loss_with_a_spike(run):
    X, labels, Y, net, theta_start, history = run
    assert history.steps[0] == 0 and history.steps[-1] == 600 and len(history.batch_loss) == 600
    assert np.array_equal(history.params[0], theta_start) and history.full_batch
    assert history.loss[-1] < 0.25 * history.loss[0]
    assert history.accuracy[-1] >= 0.9 and accuracy(net, X, Y) == history.accuracy[-1]
    jump = int(np.argmax(np.diff(history.batch_loss))) + 1
    assert 120 <= jump + 1 <= 140                                           # "around step 130"
    assert 0.55 < history.batch_loss[jump - 4] < 0.65 and 1.4 < max(history.batch_loss) < 1.5   # 0.6 → almost 1.5
    assert history.grad_norm[jump] > 40 * history.grad_norm[jump - 4]      # fiftyfold in four steps
    assert history.grad_norm[jump] > 100 * history.grad_norm[jump - 10]


def test_the_valley_is_steeper_than_the_step_allows(run):
    X, labels, Y, net, theta_start, history = run
    limit = 2 * (1 + MOMENTUM) / LR
    sharpness = {step: np.linalg.eigvalsh(hessian(with_params(net, history.params[history.steps.index(step)]), X, Y))[-1]
                 for step in (100, 110, 120, 130, 140)}
    assert sharpness[100] < sharpness[110] < sharpness[120] < sharpness[130]          # it sharpens on the plateau
    assert sharpness[100] < limit < sharpness[120] < sharpness[130]                  # … past 2(1 + μ)/η before the spike
    assert sharpness[140] < limit / 4                                                 # … and is far flatter after it


def test_a_smaller_step_is_stable_and_stays_on_the_plateau(run):
    X, labels, Y, net, theta_start, history = run
    cautious = train(spiral_net(), X, Y, steps=600, lr=0.05, momentum=MOMENTUM, progress=False)
    assert np.diff(cautious.batch_loss).max() <= 0 and cautious.loss[-1] > 0.5
    assert 2 * (1 + MOMENTUM) / 0.05 == pytest.approx(6 * 2 * (1 + MOMENTUM) / LR)    # "six times higher"


def test_decision_grid(run):
    X, labels, Y, net, theta_start, history = run
    grid = decision_grid(net, X, resolution=150)
    assert grid.xx.shape == (150, 150) and grid.probs.shape == (150, 150, 2)


def test_trained_jacobians_by_spectral_norm(run):
    X, labels, Y, net, theta_start, history = run
    x_k, y_k = X[150], Y[150]
    start, end = with_params(net, history.params[0]).chain(x_k, y_k), net.chain(x_k, y_k)

    def norm2(chain, name):
        return np.linalg.norm(chain.factor(name).dense(), 2)

    assert norm2(end, "J_loss") < norm2(start, "J_loss")                                   # a confident point: s ≈ y
    for dense in ("J_x(Dense 2)", "J_x(Dense 3)"):
        assert norm2(end, dense) > norm2(start, dense)                                     # the weights grew
    for tanh in ("J_x(Tanh 1)", "J_x(Tanh 2)"):
        before, after = np.diag(start.factor(tanh).dense()), np.diag(end.factor(tanh).dense())
        assert after.mean() < before.mean() and 0.9 < after.max() <= 1.0                  # mean fell, the largest near 1
    g_start, g_end = np.linalg.norm(start.evaluate()), np.linalg.norm(end.evaluate())
    assert g_end / g_start > norm2(end, "J_loss") / norm2(start, "J_loss")                # shrank less than J_loss
    # the spectral norms bound the row that reaches J_θ: ‖∂L/∂a1‖ ≤ ‖J_loss‖ · Π ‖J_x‖₂
    for chain in (start, end):
        row = np.linalg.multi_dot([f.dense() for f in chain.factors[:-1]])
        assert np.linalg.norm(row) <= np.prod([np.linalg.norm(f.dense(), 2) for f in chain.factors[:-1]]) * (1 + 1e-12)


def test_exercise_3_and_the_final_gradient(run):
    X, labels, Y, net, theta_start, history = run
    x_j, y_j = X[22], Y[22]
    z_j = net.forward(x_j)
    s_j = jn.Softmax().forward(z_j)
    assert exercises.check_loss_jacobian((s_j - y_j)[None, :], net.loss_fn, z_j, y_j).ok
    assert 0.5 < s_j[labels[22]] < 0.95 < jn.Softmax().forward(net.forward(X[150]))[labels[150]]   # less confident than point k
    assert rel_error(net.gradient(X, Y), fd_gradient(net, X, Y)) < 1e-6
