"""Lesson 6 (symbolic vs numeric vs finite differences): every fact the lesson states, recomputed from the package.

The three methods agree (product = SymPy to rounding, finite differences to ~ε^(2/3)); the complex step is exact for
an analytic f and silently wrong for |·|; truncation slopes 2 (central) and 1 (forward), round-off slope −1, the best
step near ε^(1/3); ReLU's and LeakyReLU's kinks under each method; the exercises' answers.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import check_jacobian, compare_gradients, jacobian_complex_step, jacobian_fd, rel_error
from jacobnet.check.stepsize import network_step_sweep, step_size_sweep
from jacobnet.course import exercises, feedback

X0 = np.array([1.0, 2.0])
J_EXACT = np.array([[X0[1], X0[0]], [2 * X0[0], 0.0], [0.0, np.cos(X0[1])]])


def f(v):  # ℝ² → ℝ³, lesson 1's f (analytic)
    return np.array([v[0] * v[1], v[0] ** 2, np.sin(v[1])])


def test_three_methods_agree():
    net = jn.build_network("3,4,2", activation="tanh", loss="softmax-ce", seed=0)
    report = compare_gradients(net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
    assert report.ok and set(report.gradients) == {"jacobian", "symbolic", "finite-difference"}
    assert rel_error(report.gradients["symbolic"], report.gradients["jacobian"]) < 1e-10
    fd_gap = rel_error(report.gradients["finite-difference"], report.gradients["jacobian"])
    assert 1e-13 < fd_gap < 1e-6                                   # far above rounding, far below the tolerance


def test_whole_loss_derivation_of_a_tiny_network():
    sym = symbolic.network_gradient(jn.build_network("2,2,1", activation="tanh", loss="mse", seed=0))
    assert sym.direct.shape == (1, 9) and len(sym.labels) == 9
    assert bool(symbolic.gradients_agree(sym))


def test_check_jacobian_names_the_wrong_entry():
    z = np.array([1.0, 2.0, 0.5])
    J = jn.Softmax().jacobian_input(z)
    assert check_jacobian(jn.Softmax().forward, z, J).ok
    J[0, 2] = -J[0, 2]
    bad = check_jacobian(jn.Softmax().forward, z, J)
    assert not bad.ok and "1 of 9" in str(bad)


def test_complex_step_exact_for_analytic_f_and_wrong_for_abs():
    J_cs, J_fd = jacobian_complex_step(f, X0), jacobian_fd(f, X0)
    assert rel_error(J_cs, J_EXACT) < 1e-15 < rel_error(J_fd, J_EXACT)
    v0 = np.array([-2.0, 3.0])
    assert np.array_equal(jacobian_complex_step(np.abs, v0), np.zeros((2, 2)))          # silently zero
    assert np.allclose(jacobian_fd(np.abs, v0), np.diag(np.sign(v0)), rtol=1e-9)        # the truth
    with pytest.raises(TypeError, match="real-valued"):
        jacobian_complex_step(jn.ReLU().forward, v0)


def test_step_size_sweep():
    central = step_size_sweep(f, X0, J_EXACT, scheme="central")
    forward = step_size_sweep(f, X0, J_EXACT, scheme="forward")
    assert central.h.shape == central.error.shape == (53,)
    roundoff, truncation = central.slopes()
    assert abs(truncation - 2) < 0.2 and abs(forward.slopes()[1] - 1) < 0.2 and abs(roundoff + 1) < 0.4
    assert round(truncation) == 2 and central.order == 2 and forward.order == 1
    assert central.rule_h / 20 < central.best_h < central.rule_h * 20                    # best h ≈ ε^(1/3)
    assert central.best_error < 1e-9 < forward.best_error                               # central beats forward


def test_network_step_sweep_best_error_near_eps_two_thirds():
    net = jn.build_network("3,4,2", activation="tanh", loss="softmax-ce", seed=0)
    sweep = network_step_sweep(net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]), hs=np.logspace(-12, -1, 23))
    eps = np.finfo(float).eps
    assert sweep.best_error < 100 * eps ** (2 / 3) and sweep.rule_h / 20 < sweep.best_h < sweep.rule_h * 20


def test_relu_kink():
    relu, z = jn.ReLU(), np.array([-1.0, 0.0, 2.0])
    assert np.array_equal(np.diag(relu.jacobian_input(z)), [0.0, 0.0, 1.0])
    assert np.allclose(np.diag(jacobian_fd(relu.forward, z)), [0.0, 0.5, 1.0], rtol=1e-12)
    assert jacobian_fd(relu.forward, np.zeros(1))[0, 0] == 0.5


def test_kinked_network():
    kinked = jn.Network([jn.Dense(2, 3, seed=0), jn.ReLU(), jn.Dense(3, 1, seed=1)], jn.MSE())
    W1, b1 = np.array([[0.5, -0.25], [1.0, 0.5], [-0.5, 1.0]]), np.array([0.1, 0.0, 0.2])
    kinked.set_params(np.concatenate([W1.ravel(), b1, [1.0, -2.0, 0.5], [0.0]]))
    x_k, y_k = np.array([1.0, -2.0]), np.array([0.5])
    assert kinked.activations(x_k)[1][1] == 0.0                                          # unit 2 exactly on the kink
    report = compare_gradients(kinked, x_k, y_k)
    assert not report.ok
    assert rel_error(report.gradients["symbolic"], report.gradients["jacobian"]) == 0.0  # same convention
    gap = report.errors("jacobian", "finite-difference")
    differ = [label for label, d in zip(report.labels, gap) if d > 1e-6 * np.abs(report.gradients["jacobian"]).max()]
    assert differ == ["W^{(1)}_{2,1}", "W^{(1)}_{2,2}", "b^{(1)}_{2}"]                   # unit 2 of Dense 1, only
    assert compare_gradients(kinked, x_k + np.array([1e-3, 0.0]), y_k).ok


def test_the_answers_are_right():
    assert feedback.check_number(2, round(step_size_sweep(f, X0, J_EXACT, scheme="central").slopes()[1])).ok
    leaky_fd = jacobian_fd(jn.LeakyReLU(alpha=0.1).forward, np.zeros(1))[0, 0]
    assert feedback.check_number(0.55, leaky_fd).ok and not feedback.check_number(0.5, leaky_fd).ok
    z = np.array([-1.0, 0.0, 2.0])
    assert exercises.check_layer_jacobian(np.diag([0.1, 0.1, 1.0]), jn.LeakyReLU(alpha=0.1), z).ok
    assert not exercises.check_layer_jacobian(np.diag([0.1, 1.0, 1.0]), jn.LeakyReLU(alpha=0.1), z).ok  # right derivative at 0
