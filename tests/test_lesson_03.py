"""Lesson 3 (activations, softmax, the loss as a row): every fact the lesson states, recomputed from the package.

Elementwise Jacobians are diagonal and stored as n numbers; softmax's is diag(s) − s sᵀ, symmetric with rows
summing to 0 (and softmax has no parameters: only J_x is compared with SymPy); a loss's Jacobian is a row;
cross-entropy after softmax is s − y, also where the separate forms fail; the exercises' answers and slips.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import jacobian_fd, rel_error
from jacobnet.core.rules import RULES
from jacobnet.course import exercises

Z_TANH = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
Z_EX = np.array([0.0, np.log(3.0)])


def test_tanh_jacobian_is_diagonal_and_stored_as_a_diagonal():
    J = jn.Tanh().jacobian_input(Z_TANH)
    assert J.shape == (5, 5) and rel_error(J, np.diag(1 - np.tanh(Z_TANH) ** 2)) < 1e-14
    assert np.count_nonzero(J - np.diag(np.diag(J))) == 0
    assert rel_error(J, jacobian_fd(jn.Tanh().forward, Z_TANH)) < 1e-8
    op = jn.Tanh().jacobian_input_op(Z_TANH)
    assert (op.kind, op.nbytes, op.nbytes_dense) == ("diagonal", 40, 200)
    big = jn.Tanh().jacobian_input_op(np.zeros(1000))
    assert big.nbytes * 1000 == big.nbytes_dense == 8_000_000


def test_rule_table_takes_the_left_derivative_at_relus_kink():
    points = np.array([-2.0, 0.0, 2.0])
    assert np.array_equal(RULES["relu"].df(points, **RULES["relu"].defaults), [0.0, 0.0, 1.0])
    leaky = RULES["leaky_relu"]
    assert leaky.df(points, **leaky.defaults)[1] == leaky.defaults["alpha"]


def test_softmax_jacobian():
    z = np.array([1.0, 2.0, 0.5, -1.0])
    s, J = jn.Softmax().forward(z), jn.Softmax().jacobian_input(z)
    assert abs(s.sum() - 1) < 1e-15 and rel_error(J, np.diag(s) - np.outer(s, s)) < 1e-15
    assert np.allclose(J, J.T) and np.abs(J.sum(axis=1)).max() < 1e-15
    assert rel_error(J, jacobian_fd(jn.Softmax().forward, z)) < 1e-8


def test_softmax_has_no_parameters_so_only_J_x_is_compared():
    checks = {c.name: c for c in symbolic.compare_closed_forms(jn.Softmax(), n=3)}
    assert jn.Softmax().n_params == 0 and checks["J_x"].proved and checks["J_x"].closed.shape == (3, 3)


def test_loss_rows():
    yhat, target = np.array([0.2, 0.7, 0.1]), np.array([0.0, 1.0, 0.0])
    for loss, closed in [(jn.MSE(), 2 / 3 * (yhat - target)), (jn.CrossEntropy(), -target / yhat)]:
        row = loss.jacobian(yhat, target)
        assert row.shape == (1, 3) and np.allclose(row, closed, rtol=1e-14)


def test_softmax_cross_entropy_is_s_minus_y():
    z, y = np.array([1.0, 2.0, 0.5]), np.array([0.0, 0.0, 1.0])
    s = jn.Softmax().forward(z)
    product = jn.CrossEntropy().jacobian(s, y) @ jn.Softmax().jacobian_input(z)
    fused = jn.SoftmaxCrossEntropy().jacobian(z, y)
    assert product.shape == fused.shape == (1, 3)
    assert rel_error(product, fused) < 1e-14 and rel_error(fused[0], s - y) < 1e-15
    assert all(c.proved for c in symbolic.compare_closed_forms(jn.SoftmaxCrossEntropy(), n=3))


def test_fused_form_is_stable_where_the_separate_one_fails():
    z_far, y_far = np.array([0.0, 0.0, 1000.0]), np.array([1.0, 0.0, 0.0])
    assert jn.Softmax().forward(z_far)[0] == 0.0
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy"):
        jn.CrossEntropy().jacobian(jn.Softmax().forward(z_far), y_far)
    row = jn.SoftmaxCrossEntropy().jacobian(z_far, y_far)
    assert np.isfinite(row).all() and np.array_equal(row, [[-1.0, 0.0, 1.0]])


def test_the_answers_are_right():
    z_sig = np.array([np.log(3.0), np.log(4.0)])
    assert exercises.check_layer_jacobian(np.diag([3 / 16, 4 / 25]), jn.Sigmoid(), z_sig).ok
    assert exercises.check_layer_jacobian(np.diag([0.1875, 0.16]), jn.Sigmoid(), z_sig).ok      # the same, as exact decimals
    assert exercises.check_layer_jacobian(np.array([[3, -3], [-3, 3]]) / 16, jn.Softmax(), Z_EX).ok
    assert exercises.check_loss_jacobian(np.array([[-0.75, 0.75]]), jn.SoftmaxCrossEntropy(), Z_EX, np.array([1.0, 0.0])).ok


def test_the_slips_shown_are_diagnosed():
    diag_only = exercises.check_layer_jacobian(np.diag(jn.Tanh().jacobian_input(Z_TANH)), jn.Tanh(), Z_TANH)
    assert not diag_only.ok and "diagonal" in diag_only.summary
    z, y = np.array([1.0, 2.0, 0.5]), np.array([0.0, 0.0, 1.0])
    flipped = exercises.check_loss_jacobian((y - jn.Softmax().forward(z))[None, :], jn.SoftmaxCrossEntropy(), z, y)
    assert not flipped.ok and "sign" in flipped.summary
