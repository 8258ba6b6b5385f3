"""Lesson 5 (backpropagation is a product of Jacobians): every fact the lesson states, recomputed from the package.

One numbering (a_k = f_k(a_{k−1}), factors named after their layers), the trace's rows and shapes, the chain
∂L/∂θ(Dense 1) and its reverse steps, the gradient against HIPS autograd, the materialised product and central
differences, the batch gradient as a mean, and the exercises: the predicted shape, the buggy tanh step, the
gradient assembled in layer order.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import jacobnet as jn
from jacobnet.check import fd_gradient, rel_error
from jacobnet.course import exercises, feedback

X = np.array([0.5, -1.0, 2.0])
Y = np.array([0.0, 1.0])


@pytest.fixture
def net() -> jn.Network:
    return jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())


def test_one_numbering(net):
    acts = net.activations(X)
    assert [a.shape for a in acts] == [(3,), (4,), (4,), (2,)]
    assert net.names == ["Dense 1", "Tanh 1", "Dense 2"] and net.n_params == 26
    assert np.allclose(acts[2], np.tanh(acts[1]), rtol=1e-15)                    # a2 = f2(a1) is the activation
    assert np.allclose(acts[1], net.layers[0].W @ X + net.layers[0].b)            # a1, a3: pre-activations
    trace = net.trace(X, Y)
    factors = {f.name: f for f in trace.factors}
    assert (factors["J_x(Tanh 1)"].out, factors["J_x(Tanh 1)"].wrt) == ("a2", "a1")        # ∂a2/∂a1
    assert (factors["J_x(Dense 2)"].out, factors["J_x(Dense 2)"].wrt) == ("a3", "a2")
    # the [I ⊗ xᵀ | I] of Dense 2 (f3) is built from its own input a2
    J_theta2 = factors["J_θ(Dense 2)"].dense()
    assert np.array_equal(J_theta2, np.hstack([np.kron(np.eye(2), acts[2][None, :]), np.eye(2)]))


def test_trace(net):
    trace = net.trace(X, Y)
    assert [p.shape for p in trace.products] == [(1, 2), (1, 10), (1, 4), (1, 4), (1, 16), (1, 3)]
    assert rel_error(trace.gradient, net.gradient(X, Y)) < 1e-14


def test_chain_and_its_reverse_steps(net):
    chain = net.chain(X, Y)
    assert chain.shapes == [(1, 2), (2, 4), (4, 4), (4, 16)]
    assert [f.name for f in chain.factors] == ["J_loss", "J_x(Dense 2)", "J_x(Tanh 1)", "J_θ(Dense 1)"]
    assert [s.shape for s in chain.steps("reverse")] == [(1, 4), (1, 4), (1, 16)]      # every intermediate a row
    assert rel_error(chain.evaluate("reverse")[0], net.gradient(X, Y)[:16]) < 1e-14


def test_gradient_equals_autograd_and_finite_differences(net):
    logits = lambda t: anp.dot(t[16:24].reshape(2, 4), anp.tanh(anp.dot(t[:12].reshape(4, 3), X) + t[12:16])) + t[24:26]  # noqa: E731
    loss_of_theta = lambda t: anp.log(anp.sum(anp.exp(logits(t)))) - anp.dot(Y, logits(t))  # noqa: E731
    theta = net.get_params()
    assert abs(loss_of_theta(theta) - net.loss(X, Y)) < 1e-14
    g = net.gradient(X, Y)
    assert rel_error(g, grad(loss_of_theta)(theta)) < 1e-12
    assert rel_error(net.gradient(X, Y, mode="materialised"), g) < 1e-12
    assert rel_error(g, fd_gradient(net, X, Y)) < 1e-7


def test_batch_gradient_is_the_mean(net):
    XB = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0], [0.0, 2.0, 1.0], [-1.0, 1.0, 0.5], [2.0, 0.5, 0.0]])
    YB = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert net.trace(XB, YB).products_by_name["∂L/∂θ(Dense 1)"].value.shape == (5, 1, 16)
    g_mean = np.mean([net.gradient(XB[b], YB[b]) for b in range(5)], axis=0)
    assert rel_error(net.gradient(XB, YB), g_mean) < 1e-14


def test_exercise_1_the_predicted_shape(net):
    acts = net.activations(X)
    assert feedback.check_shape((2, 10), net.layers[2].jacobian_params(acts[2]), columns="parameters").ok
    assert not feedback.check_shape((2, 8), net.layers[2].jacobian_params(acts[2]), columns="parameters").ok  # forgot b


def test_exercise_2_the_bug_and_its_fix(net):
    x_b, y_b = np.array([1.0, 0.0, -1.0]), np.array([1.0, 0.0])
    trace_b, acts_b = net.trace(x_b, y_b), net.activations(x_b)
    g2, a1, a2 = trace_b.products_by_name["∂L/∂a2"].value, acts_b[1], acts_b[2]
    expected = trace_b.products_by_name["∂L/∂a1"].value
    student = feedback.check_matrix(g2 * (1 - a1**2), expected)
    assert not student.ok and "4 of 4" in student.summary                              # every entry wrong
    assert feedback.check_matrix(g2 * (1 - a2**2), expected).ok
    # a different sample from the one the chain figure and the stepper draw
    assert not np.allclose(expected, net.trace(X, Y).products_by_name["∂L/∂a1"].value)


def test_exercise_3_layer_order(net):
    blocks = net.trace(X, Y).products_by_name
    first, second = blocks["∂L/∂θ(Dense 1)"].value.ravel(), blocks["∂L/∂θ(Dense 2)"].value.ravel()
    assert exercises.check_gradient(np.concatenate([first, second]), net, X, Y).ok
    swapped = exercises.check_gradient(np.concatenate([second, first]), net, X, Y)
    assert not swapped.ok and "order" in swapped.summary
