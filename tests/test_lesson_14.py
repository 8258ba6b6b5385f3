"""Lesson 14 (the digits capstone): every fact the lesson states, recomputed with package calls.

The lesson's network and training are rebuilt with the same calls as the notebook
(:func:`test_the_notebook_sets_up_what_these_tests_recompute` holds the two to the same
lines); ``tests/test_digits.py`` checks the data set and the five-seed accuracy. Each test
asserts what a section says — the product behind one gradient, structured = materialised,
the accuracy, the confusion matrix, the blank pixels whose weights training never moves,
the input–output Jacobian as a product — and that each exercise's answer key is right while
the slips it targets are not.
"""

from __future__ import annotations

import lesson_source as source
import numpy as np
import pytest

import jacobnet as jn
from jacobnet.course import exercises, feedback
from jacobnet.course.predict import accuracy, predict, with_params

pytest.importorskip("sklearn")

SETUP = [  # lines of the notebook whose objects the tests below rebuild
    "split = jn.data.digits()",
    'net = jn.build_network([64, 32, 10], activation="tanh", loss="softmax-ce", seed=0)',
    "x1, y1 = X_test[0], Y_test[0]",
    "history = jn.train(net, X_train, Y_train, steps=2000, lr=0.1, momentum=0.9, batch_size=64, seed=0, eval_every=100, progress=True)",
    'twin = jn.build_network([64, 32, 10], activation="tanh", loss="softmax-ce", seed=seed)',
    "jn.train(twin, X_train, Y_train, steps=2000, lr=0.1, momentum=0.9, batch_size=64, seed=seed, eval_every=2000, progress=False)",
    "blank = np.flatnonzero(X_train.max(axis=0) == 0)",
]
ANSWERS = {  # exercise → its answer line in the notebook (the reference answers recomputed below)
    1: "answer_J_theta = np.hstack([np.kron(np.eye(32), x1[None, :]), np.eye(32)])",
    2: "answer_blank_change = 0.0",
    3: "answer_J_zx = W2 @ np.diag(1 - np.tanh(W1 @ x1 + b1) ** 2) @ W1",
}


def test_the_notebook_sets_up_what_these_tests_recompute():
    code = source.code(14)
    for line in SETUP + list(ANSWERS.values()):
        assert line in code, line


def test_its_settings_are_the_ones_test_digits_holds_to_97_percent():
    from test_digits import ACTIVATION, LAYERS, LOSS, SETTINGS

    assert (LAYERS, ACTIVATION, LOSS) == ([64, 32, 10], "tanh", "softmax-ce")
    assert SETTINGS == dict(steps=2000, lr=0.1, momentum=0.9, batch_size=64)


@pytest.fixture(scope="module")
def lesson():
    split = jn.data.digits()
    X_train, Y_train, X_test, Y_test = split
    net = jn.build_network([64, 32, 10], activation="tanh", loss="softmax-ce", seed=0)
    theta_start = net.get_params()
    history = jn.train(net, X_train, Y_train, steps=2000, lr=0.1, momentum=0.9, batch_size=64, seed=0, eval_every=100, progress=False)
    return split, net, theta_start, history


def test_the_data_as_the_lesson_describes_it(lesson):
    split = lesson[0]
    assert len(split.X_train) + len(split.X_test) == 1797
    assert abs(len(split.X_test) / 1797 - 0.25) < 1 / 1797  # "25 % of the images held out"
    assert split.X_train.shape[1] == 64 == 8 * 8
    assert round(2000 * 64 / len(split.X_train)) == 95  # "about 95 passes over the 1,347 training images"


def test_the_product_behind_one_gradient(lesson):
    split = lesson[0]
    net = jn.build_network([64, 32, 10], activation="tanh", loss="softmax-ce", seed=0)
    assert net.n_params == 2410 and net.names == ["Dense 1", "Tanh 1", "Dense 2"]
    chain = net.chain(split.X_test[0], split.Y_test[0])
    assert [(f.name, f.shape) for f in chain.factors] == [
        ("J_loss", (1, 10)), ("J_x(Dense 2)", (10, 32)), ("J_x(Tanh 1)", (32, 32)), ("J_θ(Dense 1)", (32, 2080))]


def test_exercise_1_the_parameter_jacobian_of_the_first_layer(lesson):
    split = lesson[0]
    net = jn.build_network([64, 32, 10], activation="tanh", loss="softmax-ce", seed=0)
    x1 = split.X_test[0]
    key = np.hstack([np.kron(np.eye(32), x1[None, :]), np.eye(32)])
    assert np.array_equal(key, net.layers[0].jacobian_params(x1))
    assert exercises.check_layer_jacobian(key, net.layers[0], x1, wrt="params").ok
    column_major = np.hstack([np.kron(x1[None, :], np.eye(32)), np.eye(32)])  # vec_c instead of vec_r
    for slip in (column_major, key.T, np.kron(np.eye(32), x1[None, :])):
        assert not exercises.check_layer_jacobian(slip, net.layers[0], x1, wrt="params").ok
    assert np.count_nonzero(key) == 32 * (np.count_nonzero(x1) + 1) < key.size // 10  # "how few of its entries are not zero"


def test_structured_and_materialised_give_the_same_gradient(lesson):
    split = lesson[0]
    net = jn.build_network([64, 32, 10], activation="tanh", loss="softmax-ce", seed=0)
    Xb, Yb = split.X_train[:64], split.Y_train[:64]
    assert jn.rel_error(net.gradient(Xb, Yb, mode="structured"), net.gradient(Xb, Yb, mode="materialised")) < 1e-13


def test_training_reaches_the_goal(lesson):
    split, net, theta_start, history = lesson
    assert history.steps[-1] == 2000 and len(history.steps) == 21 and history.batch_size == 64
    assert np.array_equal(history.params[0], theta_start)
    assert accuracy(net, split.X_test, split.Y_test) >= 0.97  # "at least 97 % accuracy on images the network never saw"
    assert history.loss[-1] < 0.01 * history.loss[0]


def test_the_confusion_matrix(lesson):
    split, net, _, _ = lesson
    predicted = predict(net, split.X_test)
    C = np.bincount(10 * split.labels_test + predicted, minlength=100).reshape(10, 10)
    assert C.sum() == 450 and np.array_equal(C.sum(axis=1), np.bincount(split.labels_test))
    assert np.trace(C) == round(accuracy(net, split.X_test, split.Y_test) * 450)
    off = C - np.diag(np.diag(C))
    assert off.max() >= 1  # there is a most frequent mistake to look at
    true_c, pred_c = np.unravel_index(np.argmax(off), C.shape)
    confused = np.flatnonzero((split.labels_test == true_c) & (predicted == pred_c))
    assert len(confused) == off.max()


def test_blank_pixels_are_at_the_edges(lesson):
    split = lesson[0]
    blank = np.flatnonzero(split.X_train.max(axis=0) == 0)
    assert blank.tolist() == [0, 24, 32, 39]
    assert {int(j) % 8 for j in blank} <= {0, 7}  # "the left and right edges of the scans"


def test_exercise_2_training_never_moves_a_blank_pixels_weights(lesson):
    split, net, theta_start, _ = lesson
    blank = np.flatnonzero(split.X_train.max(axis=0) == 0)
    W1, W1_start = net.layers[0].W, with_params(net, theta_start).layers[0].W
    change = np.abs(W1 - W1_start)
    assert change[:, blank].max() == 0.0  # exactly: their columns of J_θ are zero in every step
    lit = np.setdiff1d(np.arange(64), blank)
    assert change[:, lit].max(axis=0).min() > 0  # every other pixel's weights moved
    assert feedback.check_number(0.0, change[:, blank].max()).ok
    assert not feedback.check_number(0.1, change[:, blank].max()).ok
    # the reason: a pixel that is 0 in a whole minibatch gives those weights a zero gradient
    net0 = with_params(net, theta_start)
    g = net0.gradient(split.X_train[:64], split.Y_train[:64])
    g_W1 = g[: 32 * 64].reshape(32, 64)
    assert np.all(g_W1[:, blank] == 0.0)


def test_a_blank_training_pixel_is_lit_in_some_test_image(lesson):
    split = lesson[0]
    blank = np.flatnonzero(split.X_train.max(axis=0) == 0)
    lit = [int(j) for j in blank if split.X_test[:, j].max() > 0]
    assert lit == [24]


def test_exercise_3_the_input_output_jacobian(lesson):
    split, net, _, _ = lesson
    x1 = split.X_test[0]
    W1, b1, W2 = net.layers[0].W, net.layers[0].b, net.layers[2].W
    key = W2 @ np.diag(1 - np.tanh(W1 @ x1 + b1) ** 2) @ W1
    assert key.shape == (10, 64)
    assert exercises.check_function_jacobian(key, net.forward, x1, name="∂z/∂x").ok
    chain = net.chain(x1, split.Y_test[0], wrt="input")
    assert [f.name for f in chain.factors] == ["J_loss", "J_x(Dense 2)", "J_x(Tanh 1)", "J_x(Dense 1)"]
    assert jn.rel_error(np.linalg.multi_dot([f.dense() for f in chain.factors[1:]]), key) < 1e-14
    assert jn.rel_error(key, jn.jacobian_fd(net.forward, x1)) < 1e-8
    for slip in (W2 @ np.diag(np.tanh(W1 @ x1 + b1)) @ W1, W2 @ W1, (W1.T @ np.diag(1 - np.tanh(W1 @ x1 + b1) ** 2) @ W2.T)):
        assert not exercises.check_function_jacobian(slip, net.forward, x1).ok


def test_the_saliency_of_a_misread_image(lesson):
    split, net, _, _ = lesson
    predicted = predict(net, split.X_test)
    k = int(np.flatnonzero(predicted != split.labels_test)[0])
    p = jn.Softmax().forward(net.forward(split.X_test[k]))
    assert p[predicted[k]] > p[split.labels_test[k]]  # the lesson prints both probabilities of the misread image
