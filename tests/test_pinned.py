"""Values worked out by hand, with the arithmetic in the comments.

An analytic Jacobian and an autodiff reference can be wrong the same way
(the same convention misread twice); a number computed with pencil and
paper cannot. Every expected value below is small integers or simple
fractions, so the comparisons are (nearly) exact.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn


def test_dense_3_to_2_with_softmax_cross_entropy() -> None:
    # W = [[1, 2, 0], [0, 1, -1]], b = [0, 2], x = [1, 2, -1]
    # z = W x + b = [1·1 + 2·2 + 0·(−1) + 0, 0·1 + 1·2 + (−1)(−1) + 2] = [5, 5]
    # equal logits → s = softmax(z) = [1/2, 1/2]; target y = [0, 1]
    # L = −log s_2 = log 2
    # ∂L/∂z = s − y = [1/2, −1/2]
    # ∂L/∂W = (s − y) xᵀ = [[1/2, 1, −1/2], [−1/2, −1, 1/2]];  ∂L/∂b = s − y = [1/2, −1/2]
    # ∂L/∂x = (s − y)ᵀ W = [1/2·1 − 1/2·0, 1/2·2 − 1/2·1, 1/2·0 − 1/2·(−1)] = [1/2, 1/2, 1/2]
    dense = jn.Dense(3, 2)
    dense.set_params(np.array([1.0, 2.0, 0.0, 0.0, 1.0, -1.0, 0.0, 2.0]))
    net = jn.Network([dense], jn.SoftmaxCrossEntropy())
    x, y = np.array([1.0, 2.0, -1.0]), np.array([0.0, 1.0])
    np.testing.assert_array_equal(net.forward(x), [5.0, 5.0])
    assert net.loss(x, y) == pytest.approx(np.log(2.0), rel=1e-15)
    for mode in ("structured", "materialised"):
        np.testing.assert_array_equal(net.gradient(x, y, mode=mode), [0.5, 1.0, -0.5, -0.5, -1.0, 0.5, 0.5, -0.5])
    trace = net.trace(x, y)
    np.testing.assert_array_equal(trace.products_by_name["∂L/∂a1"].value, [[0.5, -0.5]])
    np.testing.assert_array_equal(trace.products_by_name["∂L/∂a0"].value, [[0.5, 0.5, 0.5]])
    # J_θ at x: [I ⊗ xᵀ | I] = [[1, 2, −1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 2, −1, 0, 1]]
    np.testing.assert_array_equal(
        dense.jacobian_params(x), [[1, 2, -1, 0, 0, 0, 1, 0], [0, 0, 0, 1, 2, -1, 0, 1]]
    )


def test_dense_3_to_2_with_unequal_logits() -> None:
    # W = 0, b = [log 3, 0]: z = [log 3, 0] → e^z = [3, 1] → s = [3/4, 1/4]; y = [1, 0]
    # L = −log(3/4) = log 4 − log 3;  s − y = [−1/4, 1/4]
    # with x = [2, 0, −4]: ∂L/∂W = (s − y) xᵀ = [[−1/2, 0, 1], [1/2, 0, −1]]
    dense = jn.Dense(3, 2)
    dense.set_params(np.array([0, 0, 0, 0, 0, 0, np.log(3.0), 0.0]))
    net = jn.Network([dense], jn.SoftmaxCrossEntropy())
    x, y = np.array([2.0, 0.0, -4.0]), np.array([1.0, 0.0])
    assert net.loss(x, y) == pytest.approx(np.log(4.0) - np.log(3.0), rel=1e-15)
    np.testing.assert_allclose(net.gradient(x, y), [-0.5, 0, 1, 0.5, 0, -1, -0.25, 0.25], rtol=0, atol=1e-15)


def test_two_layer_relu_mse_by_hand() -> None:
    # x = [1, 2]; W1 = [[1, −1], [2, 0]], b1 = [0, 1]
    # z1 = [1 − 2 + 0, 2 + 0 + 1] = [−1, 3];  a1 = relu(z1) = [0, 3]
    # W2 = [[1, 2]], b2 = [1/2]: ŷ = 0 + 6 + 1/2 = 13/2;  y = [9/2]
    # L = (13/2 − 9/2)² / 1 = 4
    # ∂L/∂ŷ = 2 (ŷ − y) / n = 4
    # ∂L/∂W2 = 4 · a1ᵀ = [0, 12];  ∂L/∂b2 = 4
    # ∂L/∂a1 = 4 · W2 = [4, 8];  J_x(ReLU) = diag(0, 1) → ∂L/∂z1 = [0, 8]
    # ∂L/∂W1 = [0, 8]ᵀ x = [[0, 0], [8, 16]];  ∂L/∂b1 = [0, 8]
    # ∂L/∂x = [0, 8] · W1 = [0·1 + 8·2, 0·(−1) + 8·0] = [16, 0]
    d1, d2 = jn.Dense(2, 2), jn.Dense(2, 1)
    d1.set_params(np.array([1.0, -1.0, 2.0, 0.0, 0.0, 1.0]))
    d2.set_params(np.array([1.0, 2.0, 0.5]))
    net = jn.Network([d1, jn.ReLU(), d2], jn.MSE())
    x, y = np.array([1.0, 2.0]), np.array([4.5])
    assert net.loss(x, y) == 4.0
    np.testing.assert_array_equal(net.gradient(x, y), [0, 0, 8, 16, 0, 8, 0, 12, 4])
    np.testing.assert_array_equal(net.trace(x, y).products_by_name["∂L/∂a0"].value, [[16.0, 0.0]])


def test_batch_gradient_is_the_mean() -> None:
    # Dense(1 → 1), w = 2, b = 0, MSE; samples x = 1, y = 0 and x = 3, y = 0
    # ŷ = [2, 6]; per-sample L = [4, 36] → mean 20
    # ∂L_b/∂w = 2 (ŷ_b − y_b) x_b = [2·2·1, 2·6·3] = [4, 36] → mean 20
    # ∂L_b/∂b = 2 (ŷ_b − y_b) = [4, 12] → mean 8
    d = jn.Dense(1, 1)
    d.set_params(np.array([2.0, 0.0]))
    net = jn.Network([d], jn.MSE())
    X, Y = np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]])
    assert net.loss(X, Y) == 20.0
    for mode in ("structured", "materialised"):
        np.testing.assert_array_equal(net.gradient(X, Y, mode=mode), [20.0, 8.0])


def test_mse_on_a_tiny_case() -> None:
    # ŷ = [1, 2], y = [0, 4]: L = ((1 − 0)² + (2 − 4)²) / 2 = (1 + 4) / 2 = 5/2
    # ∂L/∂ŷ = (2/n)(ŷ − y) = (2/2) · [1, −2] = [1, −2]
    assert jn.MSE().forward(np.array([1.0, 2.0]), np.array([0.0, 4.0])) == 2.5
    np.testing.assert_array_equal(jn.MSE().jacobian(np.array([1.0, 2.0]), np.array([0.0, 4.0])), [[1.0, -2.0]])


def test_cross_entropy_on_a_tiny_case() -> None:
    # ŷ = [1/4, 1/2, 1/4], y = [0, 1, 0]: L = −log(1/2) = log 2; ∂L/∂ŷ = −y/ŷ = [0, −2, 0]
    yhat, y = np.array([0.25, 0.5, 0.25]), np.array([0.0, 1.0, 0.0])
    assert jn.CrossEntropy().forward(yhat, y) == pytest.approx(np.log(2.0), rel=1e-15)
    np.testing.assert_array_equal(jn.CrossEntropy().jacobian(yhat, y), [[0.0, -2.0, 0.0]])


def test_sigmoid_derivative_at_zero_is_a_quarter() -> None:
    # σ(0) = 1/(1 + e⁰) = 1/2;  σ'(0) = σ(0)(1 − σ(0)) = 1/2 · 1/2 = 1/4
    np.testing.assert_array_equal(jn.Sigmoid().forward(np.zeros(2)), [0.5, 0.5])
    np.testing.assert_array_equal(jn.Sigmoid().jacobian_input(np.zeros(2)), [[0.25, 0.0], [0.0, 0.25]])


def test_tanh_jacobian_at_zero_and_at_log_two() -> None:
    # tanh'(0) = 1 − tanh²(0) = 1 − 0 = 1: J = I
    np.testing.assert_array_equal(jn.Tanh().jacobian_input(np.zeros(3)), np.eye(3))
    # tanh(log 2) = (2 − 1/2)/(2 + 1/2) = 3/5;  1 − 9/25 = 16/25
    np.testing.assert_allclose(jn.Tanh().jacobian_input(np.array([np.log(2.0)])), [[16 / 25]], rtol=1e-15)


def test_softmax_jacobian_at_equal_logits() -> None:
    # s = [1/3, 1/3, 1/3];  J = diag(s) − s sᵀ: diagonal 1/3 − 1/9 = 2/9, off-diagonal −1/9
    J = jn.Softmax().jacobian_input(np.array([7.0, 7.0, 7.0]))
    np.testing.assert_allclose(J, np.full((3, 3), -1 / 9) + np.eye(3) / 3, rtol=1e-15, atol=0)
    # two logits apart by log 3: s = [3/4, 1/4] → s₁(1 − s₁) = 3/16 on the diagonal, −3/16 off it
    J2 = jn.Softmax().jacobian_input(np.array([np.log(3.0), 0.0]))
    np.testing.assert_allclose(J2, [[3 / 16, -3 / 16], [-3 / 16, 3 / 16]], rtol=1e-15)


def test_softplus_and_leaky_relu_by_hand() -> None:
    # softplus(0) = log(1 + 1) = log 2;  softplus'(0) = σ(0) = 1/2
    assert jn.Softplus().forward(np.array([0.0]))[0] == pytest.approx(np.log(2.0), rel=1e-16)
    np.testing.assert_array_equal(jn.Softplus().jacobian_input(np.array([0.0])), [[0.5]])
    # LeakyReLU(0.1) at [−2, 0, 3]: slopes 0.1 (x < 0), 0.1 (x = 0: the left one), 1 (x > 0)
    np.testing.assert_array_equal(np.diag(jn.LeakyReLU(0.1).jacobian_input(np.array([-2.0, 0.0, 3.0]))), [0.1, 0.1, 1.0])
    np.testing.assert_array_equal(jn.LeakyReLU(0.1).forward(np.array([-2.0, 0.0, 3.0])), [-0.2, 0.0, 3.0])
