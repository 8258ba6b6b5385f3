"""The answer checkers: right answers pass, and each kind of wrong answer is named as such."""

from __future__ import annotations

import json

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import fd_gradient
from jacobnet.course.exercises import (
    check_function_jacobian,
    check_gradient,
    check_layer_jacobian,
    check_loss_jacobian,
    strip_answers,
)
from jacobnet.course.feedback import Feedback, check_matrix, check_number, check_shape

# A Dense 3 → 2 layer with W = [[0, 1, 2], [3, 4, 5]], b = [6, 7] at x = (1, 0, −1):
# J_x = W, J_θ = [I ⊗ xᵀ | I] written out by hand.
X = np.array([1.0, 0.0, -1.0])
W = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
J_THETA = np.array([[1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0, 1.0]])


@pytest.fixture
def dense() -> jn.Dense:
    layer = jn.Dense(3, 2, seed=0)
    layer.set_params(np.arange(8.0))
    return layer


def test_right_answers_pass(dense):
    for fb in (check_layer_jacobian(W, dense, X), check_layer_jacobian(J_THETA, dense, X, wrt="params")):
        assert fb.ok and bool(fb) and str(fb).startswith("✓") and "all" in fb.summary
    assert check_layer_jacobian(W.tolist(), dense, X).ok  # nested lists are fine


def test_tiny_rounding_passes_but_a_real_error_does_not(dense):
    assert check_layer_jacobian(W * (1 + 1e-9), dense, X).ok
    wrong = W.copy()
    wrong[1, 2] += 0.05  # 1 % of the entry: not rounding
    fb = check_layer_jacobian(wrong, dense, X)
    assert not fb.ok and "(1, 2)" in str(fb)


def test_non_square_transpose_is_detected(dense):
    fb = check_layer_jacobian(W.T, dense, X)
    assert not fb.ok
    assert "transpose" in fb.summary and "(2, 3)" in fb.summary and "got (3, 2)" in fb.summary
    assert "the numbers are right" in fb.summary


def test_transposed_shape_with_wrong_numbers_says_both(dense):
    fb = check_layer_jacobian(np.ones((3, 2)), dense, X)
    assert "transpose" in fb.summary and "numbers are wrong too" in fb.summary


def test_square_transpose_is_detected():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    fb = check_matrix(A.T, A)
    assert not fb.ok and "transpose" in fb.summary


def test_a_symmetric_matrix_is_not_called_transposed():
    S = np.array([[2.0, 1.0], [1.0, 3.0]])
    assert check_matrix(S.T, S).ok


def test_wrong_entry_is_named_with_expected_got_and_reason(dense):
    wrong = J_THETA.copy()
    wrong[1, 5] = 1.0  # sign flipped
    wrong[0, 6] = 0.0  # a missing 1
    wrong[1, 0] = 5.0  # a value where the output does not depend on the parameter
    fb = check_layer_jacobian(wrong, dense, X, wrt="params")
    text = str(fb)
    assert not fb.ok and fb.summary.startswith("3 of 16 entries wrong")
    assert "(1, 5) ∂a_2/∂W_2,3: expected -1, got 1 — sign flipped" in text
    assert "(0, 6) ∂a_1/∂b_1: expected 1, got 0 — should be nonzero" in text
    assert "(1, 0) ∂a_2/∂W_1,1: expected 0, got 5 — should be 0" in text


def test_swapped_indices_are_suggested():
    A = np.array([[1.0, 2.0, 0.5], [3.0, 4.0, 0.25], [6.0, 7.0, 8.0]])
    wrong = A.copy()
    wrong[0, 1] = A[1, 0]
    fb = check_matrix(wrong, A)
    assert "mirrored entry (j, i)" in str(fb)


def test_many_wrong_entries_are_summarised():
    A = np.arange(1.0, 13.0).reshape(3, 4)
    rng = np.random.default_rng(0)
    fb = check_matrix(A + rng.uniform(1, 2, size=A.shape), A)
    assert fb.summary.startswith("12 of 12") and len(fb.details) == 6 and "… and 7 more" in fb.details[-1]


def test_rounded_decimals_are_called_almost():
    f = lambda v: np.array([np.cos(v[0])])
    fb = check_function_jacobian([[-0.8415]], f, np.array([1.0]))  # −sin 1 = −0.841471…
    assert not fb.ok and fb.summary.startswith("almost") and "exact expressions" in fb.summary
    assert "almost" not in check_function_jacobian([[-0.84]], f, np.array([1.0])).summary  # 0.2 % off: wrong


def test_all_signs_flipped_and_constant_factor(dense):
    assert "every sign is flipped" in check_layer_jacobian(-W, dense, X).summary
    fb = check_layer_jacobian(0.5 * W, dense, X)
    assert "constant factor" in fb.summary and "0.5 ×" in fb.summary


def test_column_major_vec_is_recognised(dense):
    col_major = np.hstack([np.kron(X[None, :], np.eye(2)), np.eye(2)])  # [xᵀ ⊗ I | I]
    assert col_major.shape == J_THETA.shape and not np.array_equal(col_major, J_THETA)
    fb = check_layer_jacobian(col_major, dense, X, wrt="params")
    assert not fb.ok and "right columns in the wrong order" in fb.summary and "row-major" in fb.summary


def test_rows_in_wrong_order(dense):
    fb = check_layer_jacobian(W[::-1], dense, X)
    assert "right rows in the wrong order" in fb.summary


def test_right_numbers_wrong_shape():
    loss = jn.MSE()
    yhat, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    row = np.array([[0.0, 4.0 / 3.0, 2.0]])  # (2/n)(ŷ − y)ᵀ
    assert check_loss_jacobian(row, loss, yhat, y).ok
    fb = check_loss_jacobian(row.ravel(), loss, yhat, y)
    assert not fb.ok and "numbers are right but the shape is not" in fb.summary and ".reshape(1, 3)" in fb.summary


@pytest.mark.parametrize("answer, words", [
    (..., "not answered yet"),
    (None, "not answered yet"),
    ("W", "could not read your answer"),
    ([[1.0, 2.0], [3.0]], "could not read your answer"),
    ([[0.0, 1.0, np.nan], [3.0, 4.0, 5.0]], "non-finite value nan at index (0, 2)"),
    (np.zeros((4, 4)), "wrong shape: expected (2, 3)"),
])
def test_unusable_answers(dense, answer, words):
    fb = check_layer_jacobian(answer, dense, X)
    assert not fb.ok and words in fb.summary


def test_diagonal_given_as_a_vector():
    z = np.array([0.0, np.log(3.0)])
    diagonal = np.array([0.25, 0.1875])  # σ'(0) = 1/4, σ'(ln 3) = 3/4 · 1/4
    assert check_layer_jacobian(np.diag(diagonal), jn.Sigmoid(), z).ok
    fb = check_layer_jacobian(diagonal, jn.Sigmoid(), z)
    assert not fb.ok and "the right diagonal" in fb.summary and "np.diag" in fb.summary
    assert "wrong shape" in check_layer_jacobian(diagonal + 1, jn.Sigmoid(), z).summary


def test_check_shape():
    assert check_shape((2, 3), np.zeros((2, 3))).ok
    assert check_shape([4, 16], (4, 16)).ok
    assert "transposed" in check_shape((3, 2), (2, 3)).summary
    assert "expected (2, 3)" in check_shape((2, 2), (2, 3)).summary
    assert "tuple of integers" in check_shape("2x3", (2, 3)).summary
    assert "not answered" in check_shape(..., (2, 3)).summary


def test_check_number():
    assert check_number(88, 88).ok
    assert check_number(np.array([0.5]), 0.5).ok
    assert "sign flipped" in check_number(-3.0, 3.0).summary
    assert "expected 88, got 89" in check_number(89, 88).summary
    assert "single number" in check_number([1, 2], 1).summary


def test_check_gradient_names_parameters():
    net = jn.Network([jn.Dense(3, 2, seed=0), jn.Tanh(), jn.Dense(2, 1, seed=1)], jn.MSE())
    x, y = np.array([0.3, -1.0, 2.0]), np.array([0.5])
    g = fd_gradient(net, x, y)  # the reference of the reference: central differences
    assert check_gradient(g, net, x, y).ok
    wrong = g.copy()
    wrong[4] = -g[4]  # W^{(1)}_{2,2}
    text = str(check_gradient(wrong, net, x, y))
    assert "(4,) W^(1)_2,2" in text and "sign flipped" in text
    layers_swapped = np.concatenate([g[8:], g[:8]])
    fb = check_gradient(layers_swapped, net, x, y)
    assert "the right entries in the wrong order" in fb.summary and "layer order" in fb.summary


def test_check_function_jacobian_against_finite_differences():
    f = lambda v: np.array([v[0] * v[1], v[0] ** 2, np.sin(v[1])])  # ℝ² → ℝ³
    x = np.array([1.0, 2.0])
    J = np.array([[2.0, 1.0], [2.0, 0.0], [0.0, np.cos(2.0)]])
    assert check_function_jacobian(J, f, x).ok
    fb = check_function_jacobian(J.T, f, x)
    assert "transpose" in fb.summary
    wrong = J.copy()
    wrong[2, 1] = np.sin(2.0)
    assert "(2, 1) ∂f_3/∂x_2" in str(check_function_jacobian(wrong, f, x))


def test_feedback_prints_and_repr_equal():
    fb = Feedback(False, "J", "wrong", ["(0, 0) …"])
    assert str(fb) == repr(fb) == "✗ J: wrong\n    (0, 0) …"


def test_unknown_wrt_is_refused(dense):
    with pytest.raises(ValueError, match="wrt must be 'input' or 'params'"):
        check_layer_jacobian(W, dense, X, wrt="theta")


# --- parameters are called parameters (J_θ columns, gradient entries) -------
def test_parameter_jacobian_feedback_says_parameters(dense):
    transposed = str(check_layer_jacobian(J_THETA.T, dense, X, wrt="params"))
    assert "columns = 8 parameters" in transposed and "input" not in transposed
    col_major = np.hstack([np.kron(X[None, :], np.eye(2)), np.eye(2)])
    assert "with respect to parameter j" in check_layer_jacobian(col_major, dense, X, wrt="params").summary
    wrong = J_THETA.copy()
    wrong[1, 0] = 5.0
    assert "does not depend on this parameter" in str(check_layer_jacobian(wrong, dense, X, wrt="params"))
    shape = check_shape((2, 9), J_THETA, name="J_θ", columns="parameters")
    assert "columns = 8 parameters" in shape.summary


@pytest.mark.parametrize("columns", ["params", "outputs", ""])
def test_columns_word_is_checked(dense, columns):
    with pytest.raises(ValueError, match="columns must be one of 'inputs', 'parameters'"):
        check_matrix(W, W, columns=columns)  # even for a right answer
    with pytest.raises(ValueError, match="columns must be one of"):
        check_shape((2, 3), W, columns=columns)


def test_input_jacobian_feedback_still_says_inputs(dense):
    assert "columns = 3 inputs" in check_layer_jacobian(W.T, dense, X).summary
    assert "columns = 3 inputs" in check_shape((3, 2), W).summary


def test_gradient_entries_are_parameters():
    net = jn.Network([jn.Dense(3, 2, seed=0), jn.Tanh(), jn.Dense(2, 1, seed=1)], jn.MSE())
    x, y = np.array([0.3, -1.0, 2.0]), np.array([0.5])
    g = net.gradient(x, y)
    fb = check_gradient(np.concatenate([g[8:], g[:8]]), net, x, y)
    assert "entry j must be the derivative with respect to parameter j" in fb.summary and "input" not in fb.summary


# --- blanking the answers for students --------------------------------------
def notebook(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code_cell(source: str, tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "execution_count": 7, "metadata": {"tags": tags} if tags else {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "✓ correct"}], "source": source}


def write(tmp_path, nb: dict, name: str = "lesson.ipynb"):
    path = tmp_path / name
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_strip_answers_blanks_tagged_answers_only(tmp_path):
    answer = code_cell("x_ex = np.ones(3)\nanswer = np.array([[1.0, 2.0],\n                   [3.0, 4.0]])  # the right one\nfb = check(answer)\n", ["answer"])
    pair = code_cell("answer_J, answer_row = (4, 16), (1, 4)\nprint(answer_J)", ["answer"])
    demo = code_cell("answer_like = 3\nprint(answer_like)")  # untagged: left alone
    text = {"cell_type": "markdown", "metadata": {}, "source": "answer = 42 in prose"}
    src = write(tmp_path, notebook(answer, pair, demo, text))
    out = strip_answers(src)
    assert out == tmp_path / "lesson_blank.ipynb"
    cells = json.loads(out.read_text(encoding="utf-8"))["cells"]
    assert "".join(cells[0]["source"]) == "x_ex = np.ones(3)\nanswer = ...\nfb = check(answer)\n"
    assert "".join(cells[1]["source"]) == "answer_J, answer_row = ..., ...\nprint(answer_J)"
    assert cells[2]["source"] == demo["source"] and cells[3] == text
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")
    assert "[[1.0, 2.0]" in src.read_text(encoding="utf-8")  # the teacher's copy keeps its answers


def test_a_blanked_answer_is_not_answered_yet(tmp_path, dense):
    src = write(tmp_path, notebook(code_cell("answer = W\nfb = check_layer_jacobian(answer, dense, X)", ["answer"])))
    blank = "".join(json.loads(strip_answers(src, tmp_path / "student.ipynb").read_text())["cells"][0]["source"])
    scope = {"W": W, "dense": dense, "X": X, "check_layer_jacobian": check_layer_jacobian}
    exec(blank, scope)  # the student's cell, as they get it
    assert not scope["fb"].ok and "not answered yet" in scope["fb"].summary


@pytest.mark.parametrize("cell, match", [
    (code_cell("print(1)", ["answer"]), "assigns no name starting with 'answer'"),
    (code_cell("answer = (", ["answer"]), "is not Python"),
])
def test_strip_answers_refuses_mistagged_cells(tmp_path, cell, match):
    with pytest.raises(ValueError, match=match):
        strip_answers(write(tmp_path, notebook(cell)))


def test_strip_answers_refuses_to_overwrite_and_non_notebooks(tmp_path):
    src = write(tmp_path, notebook(code_cell("answer = 1", ["answer"])))
    with pytest.raises(ValueError, match="out must differ"):
        strip_answers(src, src)
    junk = tmp_path / "junk.ipynb"
    junk.write_text("not json", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a Jupyter notebook"):
        strip_answers(junk)


def test_loss_rows_name_the_loss_input():
    z, y = np.array([0.0, np.log(3.0), 1.0]), np.array([1.0, 0.0, 0.0])
    s = np.exp(z) / np.exp(z).sum()
    wrong = (s - y)[None, :] * [[1.0, 1.0, 3.0]]
    assert "∂L/∂z_3" in str(check_loss_jacobian(wrong, jn.SoftmaxCrossEntropy(), z, y))  # logits, not ŷ
    mse_wrong = np.array([[0.0, 4.0 / 3.0, 5.0]])
    assert "∂L/∂ŷ_3" in str(check_loss_jacobian(mse_wrong, jn.MSE(), np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])))
