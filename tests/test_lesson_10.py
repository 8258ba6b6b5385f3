"""Lesson 10 (convolution and pooling): every fact the lesson states, recomputed with package calls.

The lesson's layers are rebuilt with the same sizes, seeds and kernels; each test
asserts what a section says (the Toeplitz bands and the kernel on them, stride and
padding, the patch rows of ``J_θ`` and the batch gradient ``Gᵀ P / B``, the doubly
block-Toeplitz ``J_x`` of a 2-D convolution, max pooling's selection and its tie,
the scatters) and that each exercise's answer key is right while the slip it targets is not.
"""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import check_layer, fd_gradient, rel_error
from jacobnet.course import Lesson, exercises

EXACT = 1e-14
FD = 1e-7


def conv_1() -> tuple[jn.Conv1d, np.ndarray]:
    conv = jn.Conv1d(2, 3, 3, 7, seed=0)
    return conv, np.random.default_rng(0).normal(size=conv.n_in)


def single(kernel: list[float], length: int, **kw: int) -> jn.Conv1d:
    conv = jn.Conv1d(1, 1, len(kernel), length, **kw)
    conv.W = [[kernel]]
    return conv


# --- 1. J_x of a convolution ------------------------------------------------------------------

def test_the_input_jacobian_is_block_toeplitz_with_the_kernel_on_its_diagonals() -> None:
    conv, x = conv_1()
    op = conv.jacobian_input_op(x)
    assert (conv.input_shape, conv.output_shape, op.kind, op.shape) == ((2, 7), (3, 5), "block-Toeplitz", (15, 14))
    J = conv.jacobian_input(x)
    blocks = J.reshape(3, 5, 2, 7).transpose(0, 2, 1, 3)
    for o in range(3):
        for c in range(2):
            for k in range(3):
                assert np.all(np.diagonal(blocks[o, c], k) == conv.W[o, c, k])
            assert np.count_nonzero(blocks[o, c]) == 5 * 3  # nothing off the band
    assert rel_error(conv.jacobian_input(np.ones(conv.n_in)), J) == 0.0
    assert check_layer(conv, x)[0].rel_error <= FD


def test_the_structured_row_product_costs_what_a_transposed_convolution_costs() -> None:
    conv, x = conv_1()
    op = conv.jacobian_input_op(x)
    assert op.vjp_flops(1) == 3 * 2 * 3 * 5 == 90 and op.dense().size == 210
    assert np.unique(op.dense()[op.dense() != 0]).size == conv.W.size == 18
    g = np.random.default_rng(3).normal(size=(1, 15))
    assert rel_error(op.vjp(g), g @ op.dense()) <= EXACT


def test_exercise_1_the_key_is_the_small_toeplitz_matrix() -> None:
    conv = single([2.0, -1.0, 0.5], 5)
    conv.b = [0.1]
    x = np.array([1.0, -2.0, 0.5, 3.0, -1.0])
    key = np.array([[2.0, -1.0, 0.5, 0.0, 0.0], [0.0, 2.0, -1.0, 0.5, 0.0], [0.0, 0.0, 2.0, -1.0, 0.5]])
    assert exercises.check_layer_jacobian(key, conv, x).ok
    assert not exercises.check_layer_jacobian(key[:, ::-1], conv, x).ok  # the kernel flipped (a true convolution)
    assert not exercises.check_layer_jacobian(key.T, conv, x).ok


# --- 2. stride and padding ------------------------------------------------------------------

def test_stride_two_shifts_the_kernel_two_columns_per_row() -> None:
    conv = single([1.0, 2.0, 3.0], 7, stride=2)
    assert conv.output_shape == (1, 3)
    assert np.array_equal(conv.jacobian_input(np.zeros(7)), [[1, 2, 3, 0, 0, 0, 0], [0, 0, 1, 2, 3, 0, 0], [0, 0, 0, 0, 1, 2, 3]])


def test_padding_cuts_the_taps_that_fall_on_the_zeros() -> None:
    conv = single([1.0, 2.0, 3.0], 5, padding=1)
    J = conv.jacobian_input(np.zeros(5))
    assert conv.output_shape == (1, 5)
    assert np.array_equal(J[0], [2, 3, 0, 0, 0]) and np.array_equal(J[-1], [0, 0, 0, 1, 2])  # no W_1, no W_3
    assert np.array_equal(J[2], [0, 1, 2, 3, 0])


@pytest.mark.parametrize("L, K, s, p", [(6, 3, 2, 1), (7, 3, 2, 0), (5, 3, 1, 1), (9, 2, 3, 2)])
def test_the_output_length_formula(L: int, K: int, s: int, p: int) -> None:
    assert jn.Conv1d(1, 1, K, L, stride=s, padding=p).output_shape[1] == (L + 2 * p - K) // s + 1


def test_exercise_2_the_key_is_the_strided_padded_matrix() -> None:
    conv = single([-1.0, 3.0, 2.0], 6, stride=2, padding=1)
    x = np.array([0.5, 1.0, -1.0, 2.0, 0.0, 1.5])
    key = np.array([[3.0, 2.0, 0.0, 0.0, 0.0, 0.0], [0.0, -1.0, 3.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, -1.0, 3.0, 2.0]])
    assert conv.output_shape == (1, 3)
    assert exercises.check_layer_jacobian(key, conv, x).ok and check_layer(conv, x)[0].ok
    unpadded = np.array([[-1.0, 3.0, 2.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 3.0, 2.0, 0.0]])  # padding forgotten: L_out = 2
    assert not exercises.check_layer_jacobian(unpadded, conv, x).ok
    assert not exercises.check_layer_jacobian(np.vstack([key, [0, 0, 0, 0, 0, -1.0]]), conv, x).ok  # a 4th row on the right padding


# --- 3. J_θ ----------------------------------------------------------------------------------

def test_the_parameter_jacobian_holds_the_patches_as_rows() -> None:
    conv, x = conv_1()
    P = conv.geometry.patches(x[None])[0]
    X = x.reshape(2, 7)
    assert P.shape == (5, 6)
    for t in range(5):
        assert np.array_equal(P[t], np.r_[X[0, t : t + 3], X[1, t : t + 3]])  # patch t: each channel's window, channel 1 first
    J_theta = conv.jacobian_params(x)
    assert J_theta.shape == (15, 21)
    assert rel_error(J_theta, np.hstack([np.kron(np.eye(3), P), np.kron(np.eye(3), np.ones((5, 1)))])) == 0.0
    assert check_layer(conv, x)[1].rel_error <= FD
    g = np.random.default_rng(4).normal(size=(1, 15))
    grad = (g @ J_theta)[0]
    for o in range(3):  # ∂L/∂W_o = g_{o,·} P
        assert rel_error(grad[o * 6 : (o + 1) * 6], g[0, o * 5 : (o + 1) * 5] @ P) <= EXACT


# --- 4. Conv2d ---------------------------------------------------------------------------------

def test_a_2d_convolution_is_doubly_block_toeplitz() -> None:
    conv2d = jn.Conv2d(1, 1, 2, 3, 4, seed=0)
    op = conv2d.jacobian_input_op(np.zeros(12))
    assert (conv2d.input_shape, conv2d.output_shape, op.kind, op.shape) == ((1, 3, 4), (1, 2, 3), "doubly block-Toeplitz", (6, 12))
    blocks = op.dense().reshape(2, 3, 3, 4).transpose(0, 2, 1, 3)
    for i in range(2):
        for r in range(3):
            u = r - i
            if 0 <= u < 2:
                row_conv = jn.Conv1d(1, 1, 2, 4)
                row_conv.W = conv2d.W[:, :, u, :]
                assert rel_error(blocks[i, r], row_conv.jacobian_input(np.zeros(4))) == 0.0
            else:
                assert not blocks[i, r].any()


# --- 5. pooling ------------------------------------------------------------------------------------

X_POOL = np.array([0.3, -1.2, 2.0, 2.0, 0.5, 1.5, -0.4, 0.9, 1.1, -2.0, 0.0, 0.7])
G_POOL = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])


def test_max_pooling_selects_the_first_maximum() -> None:
    pool = jn.MaxPool1d(2, channels=2, length=6)
    op = pool.jacobian_input_op(X_POOL)
    assert op.kind == "selection" and op.shape == (6, 12)
    assert np.array_equal(pool.forward(X_POOL), [0.3, 2.0, 1.5, 0.9, 1.1, 0.7])
    assert (op.index + 1).tolist() == [1, 3, 6, 8, 9, 12]  # the tie (x_3 = x_4 = 2): the first
    J = op.dense()
    assert np.array_equal(J.sum(axis=1), np.ones(6)) and set(np.unique(J)) == {0.0, 1.0}


def test_central_differences_disagree_only_at_the_tie() -> None:
    check = check_layer(jn.MaxPool1d(2, channels=2, length=6), X_POOL)[0]
    wrong = sorted(check.wrong, key=lambda w: w.col)
    assert [(w.row, w.col, w.got) for w in wrong] == [(1, 2, 1.0), (1, 3, 0.0)]  # row a_2, columns x_3 and x_4 (0-based: row 1, columns 2 and 3)
    assert [w.expected for w in wrong] == pytest.approx([0.5, 0.5], rel=1e-9)  # the two one-sided slopes averaged
    assert check_layer(jn.MaxPool1d(2, channels=2, length=6), X_POOL + np.r_[0, 0, 0, 1e-3, np.zeros(8)])[0].ok  # tie broken


def test_the_row_products_are_scatters() -> None:
    J_max = jn.MaxPool1d(2, channels=2, length=6).jacobian_input_op(X_POOL)
    assert np.array_equal(J_max.vjp(G_POOL), [[1, 0, 2, 0, 0, 3, 0, 4, 5, 0, 0, 6]])
    J_avg = jn.AvgPool1d(2, channels=2, length=6).jacobian_input_op(X_POOL)
    assert J_avg.kind == "averaging"
    assert np.array_equal(J_avg.vjp(G_POOL), np.repeat(G_POOL / 2, 2, axis=1))
    assert np.array_equal(J_avg.dense(), np.kron(np.eye(6), [[0.5, 0.5]]))


def test_exercise_3_the_key_is_the_selection_at_the_first_maximum() -> None:
    pool = jn.MaxPool2d(2, channels=1, height=2, width=4)
    x = np.array([[1.0, 3.0, 0.0, 2.0], [3.0, -1.0, 2.0, 1.0]]).reshape(-1)
    assert np.array_equal(pool.forward(x), [3.0, 2.0])
    key = np.zeros((2, 8))
    key[0, 1] = key[1, 3] = 1.0  # x_2 (not x_5) and x_4 (not x_7): first in row-major window order
    assert exercises.check_layer_jacobian(key, pool, x).ok
    last = np.zeros((2, 8))
    last[0, 4] = last[1, 6] = 1.0
    assert not exercises.check_layer_jacobian(last, pool, x).ok


# --- 6. a small CNN -----------------------------------------------------------------------------

def cnn() -> tuple[jn.Conv1d, jn.Network, np.ndarray, np.ndarray]:
    conv = jn.Conv1d(2, 3, 3, 8, padding=1, seed=0)
    net = jn.Network([conv, jn.ReLU(), jn.MaxPool1d(2, channels=3, length=8), jn.Dense(12, 2, seed=1)], jn.SoftmaxCrossEntropy())
    return conv, net, np.random.default_rng(1).normal(size=(5, conv.n_in)), np.eye(2)[[0, 1, 1, 0, 1]]


def test_the_cnn_trace_names_each_structure() -> None:
    _, net, X, Y = cnn()
    kinds = {r["factor"]: r["structure"] for r in net.trace(X, Y).rows()}
    assert kinds["J_x(Conv1d 1)"] == "block-Toeplitz" and kinds["J_θ(Conv1d 1)"] == "[I ⊗ P | I ⊗ 𝟙]"
    assert kinds["J_x(ReLU 1)"] == "diagonal" and kinds["J_x(MaxPool1d 1)"] == "selection"


def test_the_batch_weight_gradient_is_one_product_gt_p() -> None:
    conv, net, X, Y = cnn()
    trace = net.trace(X, Y)
    B, C_out, L_out = 5, 3, 8
    G = trace.products_by_name["∂L/∂a1"].value.reshape(B, C_out, L_out).transpose(0, 2, 1).reshape(B * L_out, C_out)
    P = conv.geometry.patches(X).reshape(B * L_out, -1)
    g = net.gradient(X, Y)
    assert rel_error((G.T @ P / B).ravel(), g[net.layer_slice(conv)][: conv.W.size]) <= EXACT
    assert rel_error(g, fd_gradient(net, X, Y)) <= FD
    assert rel_error(g, net.gradient(X, Y, mode="materialised")) <= EXACT
    rows = trace.products_by_name["∂L/∂a1"].value  # one row per sample: ∂ℓ_b/∂a1 of sample b's own loss (not over B)
    for b in range(B):
        assert rel_error(rows[b], net.trace(X[b], Y[b]).products_by_name["∂L/∂a1"].value) <= EXACT


# --- the lesson's bookkeeping ---------------------------------------------------------------------

def test_the_lesson_has_three_exercises() -> None:
    lesson = Lesson("10 · Convolution and pooling", exercises=3)
    assert str(lesson.summary()).startswith("Lesson 10: 0 of 3 exercises done")
    assert jn.course.LESSONS[9].heading == lesson.title
