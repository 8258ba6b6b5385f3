"""Lesson 2 (the dense layer): every fact the lesson states, recomputed from the package.

J_x = W; J_θ = [I ⊗ xᵀ | I] from vec_r(AXB) = (A ⊗ Bᵀ) vec_r(X), against SymPy and central differences; the
column-major form xᵀ ⊗ I = (I ⊗ xᵀ) K with K the commutation matrix; for a batch, J_x = I_B ⊗ W block-diagonal
while J_θ stacks, and the batch gradient is [vec_r(Gᵀ X), Gᵀ 1]; the labels the exercise names, printed whole.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import jacobian_fd, rel_error
from jacobnet.course import exercises, feedback

X_SAMPLE = np.array([0.5, -1.0, 2.0])
X_EX = np.array([1.0, 0.0, -1.0])
BATCH = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0], [0.0, 2.0, 1.0], [-1.0, 1.0, 0.5], [2.0, 0.5, 0.0]])


@pytest.fixture
def layer() -> jn.Dense:
    dense = jn.Dense(3, 2, seed=0)
    dense.set_params(np.arange(1.0, 9.0))  # W = [[1, 2, 3], [4, 5, 6]], b = [7, 8]
    return dense


def by_kron(x: np.ndarray, m: int) -> np.ndarray:
    return np.hstack([np.kron(np.eye(m), x[None, :]), np.eye(m)])


def test_input_jacobian_is_W(layer):
    assert np.array_equal(layer.W, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]) and np.array_equal(layer.b, [7.0, 8.0])
    J_x = layer.jacobian_input(X_SAMPLE)
    assert J_x.shape == (2, 3) and np.array_equal(J_x, layer.W)
    assert rel_error(J_x, jacobian_fd(layer.forward, X_SAMPLE)) < 1e-8
    assert np.array_equal(layer.forward(X_SAMPLE), [11.5, 17.0])


@pytest.mark.parametrize("p, m, n, q", [(2, 3, 4, 5), (1, 4, 2, 3)])
def test_the_vec_identities(p, m, n, q):
    rng = np.random.default_rng(p)
    A, X, B = rng.normal(size=(p, m)), rng.normal(size=(m, n)), rng.normal(size=(n, q))
    assert rel_error((A @ X @ B).ravel(), np.kron(A, B.T) @ X.ravel()) < 1e-14           # row-major
    assert rel_error((A @ X @ B).ravel(order="F"), np.kron(B.T, A) @ X.ravel(order="F")) < 1e-14   # column-major
    assert rel_error((A @ X @ B).ravel(), np.kron(B.T, A) @ X.ravel()) > 1e-3           # the orders do not mix


def test_parameter_jacobian_is_the_kronecker_form(layer):
    J_theta = layer.jacobian_params(X_SAMPLE)
    assert J_theta.shape == (2, 8) and np.array_equal(J_theta, by_kron(X_SAMPLE, 2))
    # Wx = (I_m ⊗ xᵀ) vec_r(W): the identity with A = I, X = W, B = x
    assert np.allclose(layer.W @ X_SAMPLE, np.kron(np.eye(2), X_SAMPLE[None, :]) @ layer.W.ravel(), rtol=1e-15)
    y_of_theta = lambda t: t[:6].reshape(2, 3) @ X_SAMPLE + t[6:]  # noqa: E731
    assert rel_error(J_theta, jacobian_fd(y_of_theta, layer.get_params())) < 1e-8
    assert all(check.proved for check in symbolic.compare_closed_forms(layer))
    assert jn.Dense(4, 3, seed=1).jacobian_params(np.ones(4)).shape == (3, 15)


def test_param_labels_are_printed_whole(layer):
    labels = list(layer.param_labels())
    assert labels == ["W_{1,1}", "W_{1,2}", "W_{1,3}", "W_{2,1}", "W_{2,2}", "W_{2,3}", "b_{1}", "b_{2}"]
    assert "…" not in str(labels)


def test_commutation_matrix(layer):
    m, n = layer.W.shape
    perm = np.arange(m * n).reshape(m, n).ravel(order="F")
    K = np.eye(m * n)[:, perm]
    assert perm.tolist() == [0, 3, 1, 4, 2, 5] and sorted(perm) == list(range(m * n))
    assert np.array_equal(layer.W.ravel()[perm], layer.W.ravel(order="F"))
    assert np.array_equal(K @ layer.W.ravel(order="F"), layer.W.ravel())                    # vec_r = K vec_c
    assert np.array_equal(K @ layer.W.T.ravel(), layer.W.T.ravel(order="F"))                # K vec_c(W) = vec_c(Wᵀ)
    J_row = layer.jacobian_params(X_SAMPLE)[:, : m * n]
    J_col = np.kron(X_SAMPLE[None, :], np.eye(m))
    assert np.array_equal(J_row @ K, J_col) and np.array_equal(J_row[:, perm], J_col)
    assert not np.array_equal(J_row, J_col)


def test_batch_input_jacobian_is_block_diagonal(layer):
    B = BATCH.shape[0]
    Jx_batch, Jtheta_batch = layer.jacobian_input(BATCH), layer.jacobian_params(BATCH)
    assert Jx_batch.shape == (5, 2, 3) and Jtheta_batch.shape == (5, 2, 8)
    assert all(np.array_equal(Jtheta_batch[b], layer.jacobian_params(BATCH[b])) for b in range(B))
    whole = jacobian_fd(lambda v: layer.forward(v.reshape(B, 3)).ravel(), BATCH.ravel())
    assert whole.shape == (10, 15) and rel_error(whole, np.kron(np.eye(B), layer.W)) < 1e-8


def test_batch_parameter_jacobian_stacks_and_gives_GtX(layer):
    B = BATCH.shape[0]
    stacked = layer.jacobian_params(BATCH).reshape(B * 2, 8)
    Y_of_theta = lambda t: (BATCH @ t[:6].reshape(2, 3).T + t[6:]).ravel()  # noqa: E731
    assert stacked.shape == (10, 8) and rel_error(stacked, jacobian_fd(Y_of_theta, layer.get_params())) < 1e-8
    assert np.count_nonzero(stacked[:, :6]) == np.count_nonzero(BATCH) * 2               # no zero blocks beyond x's zeros
    G = np.random.default_rng(0).normal(size=(B, 2))
    outer_sum = sum(np.outer(G[b], BATCH[b]) for b in range(B))
    assert rel_error(G.T @ BATCH, outer_sum) < 1e-14
    assert rel_error(G.ravel() @ stacked, np.concatenate([(G.T @ BATCH).ravel(), G.sum(axis=0)])) < 1e-14
    assert rel_error(G.ravel() @ stacked, np.concatenate([(BATCH.T @ G).ravel(), G.sum(axis=0)])) > 1e-3   # Xᵀ G: transposed


def test_the_answers_are_right(layer):
    assert feedback.check_shape((4, 24), jn.Dense(5, 4).jacobian_params(np.zeros(5)), columns="parameters").ok
    J_ex = np.array([[1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0, 1.0]])
    assert exercises.check_layer_jacobian(J_ex, layer, X_EX, wrt="params").ok and np.array_equal(J_ex, by_kron(X_EX, 2))
    m, n = layer.W.shape
    perm = np.arange(m * n).reshape(m, n).ravel(order="F")
    col = np.array([[1.0, 0.0, 0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]])
    assert np.array_equal(col, np.kron(X_EX[None, :], np.eye(2)))                            # xᵀ ⊗ I, derived
    assert feedback.check_matrix(col, layer.jacobian_params(X_EX)[:, : m * n][:, perm], columns="parameters").ok


def test_the_slip_shown_is_diagnosed(layer):
    no_bias = exercises.check_layer_jacobian(layer.jacobian_params(X_SAMPLE)[:, :6], layer, X_SAMPLE, wrt="params")
    assert not no_bias.ok and "shape" in no_bias.summary
    column_major = np.hstack([np.kron(X_EX[None, :], np.eye(2)), np.eye(2)])
    permuted = exercises.check_layer_jacobian(column_major, layer, X_EX, wrt="params")
    assert not permuted.ok and "order" in permuted.summary
