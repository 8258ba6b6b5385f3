"""The answer checkers: right answers pass, each kind of wrong answer is named as such — a hint first, the expected
values only with ``reveal=True`` — and every index in feedback counts from 1."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import fd_gradient
from jacobnet.course.exercises import (
    check_batch_gradient,
    check_flops,
    check_function_jacobian,
    check_gradient,
    check_jacobian_shape,
    check_layer_jacobian,
    check_loss_jacobian,
    check_loss_value,
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
    assert not fb.ok and "(2, 3) ∂a_2/∂x_3" in str(fb)


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
    assert not fb.ok and fb.status == "wrong" and fb.summary.startswith("3 of 16 entries wrong")
    assert "(2, 6) ∂a_2/∂W_2,3: not 1 — sign flipped" in text
    assert "(1, 7) ∂a_1/∂b_1: not 0 — should be nonzero" in text
    assert "(2, 1) ∂a_2/∂W_1,1: not 5 — should be 0" in text
    revealed = str(check_layer_jacobian(wrong, dense, X, wrt="params", reveal=True))
    assert "(2, 6) ∂a_2/∂W_2,3: expected -1, got 1 — sign flipped" in revealed
    assert "(1, 7) ∂a_1/∂b_1: expected 1, got 0 — should be nonzero" in revealed
    assert "(2, 1) ∂a_2/∂W_1,1: expected 0, got 5 — should be 0" in revealed


def test_swapped_indices_are_suggested():
    A = np.array([[1.0, 2.0, 0.5], [3.0, 4.0, 0.25], [6.0, 7.0, 8.0]])
    wrong = A.copy()
    wrong[0, 1] = A[1, 0]
    fb = check_matrix(wrong, A)
    assert "(1, 2) ∂a_1/∂x_2: not 3 — this is the value of the mirrored entry (2, 1): indices swapped?" in str(fb)


def test_many_wrong_entries_are_summarised():
    A = np.arange(1.0, 13.0).reshape(3, 4)
    rng = np.random.default_rng(0)
    fb = check_matrix(A + rng.uniform(1, 2, size=A.shape), A)
    assert fb.summary.startswith("12 of 12") and len(fb.details) == 6 and "… and 7 more" in fb.details[-1]
    assert fb.reason == "12 of 12 entries wrong"


def test_rounded_decimals_are_called_almost():
    f = lambda v: np.array([np.cos(v[0])])
    fb = check_function_jacobian([[-0.8415]], f, np.array([1.0]))  # −sin 1 = −0.841471…
    assert not fb.ok and fb.summary.startswith("almost") and "exact expressions" in fb.summary and fb.reason == "almost: rounded decimals"
    assert "almost" not in check_function_jacobian([[-0.84]], f, np.array([1.0])).summary  # 0.2 % off: wrong


def test_all_signs_flipped_and_constant_factor(dense):
    assert "every sign is flipped" in check_layer_jacobian(-W, dense, X).summary
    fb = check_layer_jacobian(0.5 * W, dense, X)
    assert "constant factor" in fb.summary and "0.5" not in str(fb)  # the hint names the mistake, not the factor
    assert "0.5 ×" in check_layer_jacobian(0.5 * W, dense, X, reveal=True).summary


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
    ("W", "your answer is text"),
    ("88", "your answer is text"),  # (not read as the number 88)
    ([[1.0, 2.0], [3.0]], "could not read your answer"),
    ([[0.0, 1.0, np.nan], [3.0, 4.0, 5.0]], "non-finite value nan at (1, 3)"),
    (np.zeros((4, 4)), "wrong shape: expected (2, 3)"),
])
def test_unusable_answers(dense, answer, words):
    fb = check_layer_jacobian(answer, dense, X)
    assert not fb.ok and words in fb.summary
    assert fb.status == ("blank" if words == "not answered yet" else "wrong")


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
    assert "the number of rows is right, the number of columns is not" in check_shape((2, 2), (2, 3)).summary
    assert "the number of columns is right, the number of rows is not" in check_shape((4, 3), (2, 3)).summary
    assert "neither the rows nor the columns" in check_shape((4, 4), (2, 3)).summary
    assert "has 3 dimensions, the answer has 2" in check_shape((2, 3, 1), (2, 3)).summary
    assert "count the entries" in check_shape((5,), (4,)).summary
    assert "expected (2, 3)" in check_shape((2, 2), (2, 3), reveal=True).summary
    assert "tuple of integers" in check_shape("2x3", (2, 3)).summary
    blank = check_shape(..., (2, 3))
    assert "not answered" in blank.summary and blank.status == "blank"


def test_check_number():
    assert check_number(88, 88).ok
    assert check_number(np.array([0.5]), 0.5).ok
    assert "sign flipped" in check_number(-3.0, 3.0).summary
    assert check_number(89, 88).summary == "not 89: off by one."
    assert "expected 88, got 89 — off by one" in check_number(89, 88, reveal=True).summary
    assert "off by a power of ten" in check_number(880, 88).summary
    assert "off by a simple factor" in check_number(44, 88).summary
    assert "factor of 0.5" in check_number(44, 88, reveal=True).summary
    assert "rounded" in check_number(0.8415, np.sin(1.0)).summary
    assert check_number(85, 88, hint="count the rows and the columns again").summary == "not 85: count the rows and the columns again."
    assert check_number(12.5, 88).summary == "not 12.5."
    assert "single number" in check_number([1, 2], 1).summary
    assert check_number(..., 88).status == "blank"


def test_check_gradient_names_parameters():
    net = jn.Network([jn.Dense(3, 2, seed=0), jn.Tanh(), jn.Dense(2, 1, seed=1)], jn.MSE())
    x, y = np.array([0.3, -1.0, 2.0]), np.array([0.5])
    g = fd_gradient(net, x, y)  # the reference of the reference: central differences
    assert check_gradient(g, net, x, y).ok
    wrong = g.copy()
    wrong[4] = -g[4]  # W^{(1)}_{2,2}
    text = str(check_gradient(wrong, net, x, y))
    assert "entry 5 W^(1)_2,2: not" in text and "sign flipped" in text
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
    assert "(3, 2) ∂f_3/∂x_2" in str(check_function_jacobian(wrong, f, x))


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
    assert "count the parameters again" in shape.summary and "input" not in shape.summary
    assert "columns = 8 parameters" in check_shape((2, 9), J_THETA, columns="parameters", reveal=True).summary


@pytest.mark.parametrize("columns", ["params", "outputs", ""])
def test_columns_word_is_checked(dense, columns):
    with pytest.raises(ValueError, match="columns must be one of 'inputs', 'parameters'"):
        check_matrix(W, W, columns=columns)  # even for a right answer
    with pytest.raises(ValueError, match="columns must be one of"):
        check_shape((2, 3), W, columns=columns)


def test_input_jacobian_feedback_still_says_inputs(dense):
    assert "columns = 3 inputs" in check_layer_jacobian(W.T, dense, X).summary
    assert "columns the inputs" in check_shape((3, 2), W).summary


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


# --- hints first: a default wrong answer never shows the expected values; reveal=True does --------------
E_VALUES = np.array([[1.25, -3.5, 7.75], [2.125, 0.0, -6.5]])  # (2, 3): every nonzero value distinctive
NOISE = np.array([[0.37, 0.0, 0.0], [0.0, 0.0, -0.91]])


def shown(value: float, text: str) -> bool:
    """``value`` written in ``text`` as a number of its own (``7.75`` in ``got 7.75``, not in ``17.75``)."""
    return re.search(rf"(?<![\d.]){re.escape(f'{value:.6g}')}(?![\d])", text) is not None


WRONG_MATRICES = {
    "two entries": E_VALUES + NOISE,
    "every entry": E_VALUES + 0.013 + np.arange(6.0).reshape(2, 3) * 0.1,
    "a factor": 1.5 * E_VALUES,
    "transposed, numbers wrong": (E_VALUES + 0.29).T,
    "a wrong shape": np.full((3, 3), 0.61),
    "the right columns in another order": E_VALUES[:, [2, 0, 1]],
    "rounded": np.round(E_VALUES * (1 + 4e-4), 4),
}


@pytest.mark.parametrize("case", WRONG_MATRICES)
def test_a_hint_never_shows_the_expected_values(case):
    answer = WRONG_MATRICES[case]
    hint = str(check_matrix(answer, E_VALUES, name="J"))
    own = {float(v) for v in np.ravel(answer)}  # the student's own numbers may be quoted back
    hidden = [v for v in E_VALUES.ravel() if v != 0 and v not in own and shown(v, hint)]
    assert not hidden, (hidden, hint)
    assert "expected" not in hint.replace("expected shape", "") or case == "a wrong shape", hint
    revealed = str(check_matrix(answer, E_VALUES, name="J", reveal=True))
    wrong = np.abs(np.asarray(answer) - E_VALUES) > 1e-6 * 7.75 if np.shape(answer) == E_VALUES.shape else np.ones((2, 3), bool)
    assert all(shown(v, revealed) for v in E_VALUES[wrong]), revealed  # the expected value of every wrong entry
    assert "expected" in revealed


@pytest.mark.parametrize("answer, expected", [(87, 88), (44, 88), (880, 88), (12.5, 88), (-3.0, 3.25), (0.7072, np.sqrt(0.5))])
def test_a_number_hint_never_shows_the_expected_number(answer, expected):
    hint = str(check_number(answer, expected, name="count"))
    assert not shown(expected, hint) and "expected" not in hint, hint
    assert shown(expected, str(check_number(answer, expected, name="count", reveal=True)))


@pytest.mark.parametrize("answer", [(3, 2), (2, 2), (4, 3), (4, 4), (2, 3, 1), (6,)])
def test_a_shape_hint_never_shows_the_expected_shape(answer):
    hint = str(check_shape(answer, (2, 3), name="J_x"))
    assert "(2, 3)" not in hint and "2 outputs" not in hint and "3 inputs" not in hint, hint
    assert "expected (2, 3)" in str(check_shape(answer, (2, 3), name="J_x", reveal=True))


def test_gradients_and_layer_jacobians_hint_first(dense):
    net = jn.Network([jn.Dense(3, 2, seed=0), jn.Tanh(), jn.Dense(2, 1, seed=1)], jn.MSE())
    x, y = np.array([0.3, -1.0, 2.0]), np.array([0.5])
    g = net.gradient(x, y)
    wrong = g + np.where(np.arange(g.size) == 3, 0.25, 0.0)
    hint, revealed = str(check_gradient(wrong, net, x, y)), str(check_gradient(wrong, net, x, y, reveal=True))
    assert "entry 4 W^(1)_2,1" in hint and not shown(g[3], hint) and shown(g[3], revealed)
    bad = W + [[0, 0, 0], [0, 0.375, 0]]
    assert "expected" not in str(check_layer_jacobian(bad, dense, X)) and "expected 4, got 4.375" in str(check_layer_jacobian(bad, dense, X, reveal=True))
    f = lambda v: np.array([v[0] * v[1], np.sin(v[1])])  # ℝ² → ℝ²
    fb = check_function_jacobian([[2.0, 1.0], [0.0, 0.5]], f, np.array([1.0, 2.0]), reveal=True)
    assert f"expected {np.cos(2.0):.6g}, got 0.5" in str(fb)
    row = check_loss_jacobian([[0.0, 1.0, 2.0]], jn.MSE(), np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0]), reveal=True)
    assert "expected 1.33333, got 1" in str(row)


@pytest.mark.parametrize("reveal", ["yes", 1, None])
def test_reveal_must_be_a_bool(reveal):
    with pytest.raises(TypeError, match="reveal must be True or False"):
        check_matrix(W, W, reveal=reveal)
    with pytest.raises(TypeError, match="reveal must be True or False"):
        check_number(1, 1, reveal=reveal)


# --- every index in feedback counts from 1 ----------------------------------------------------------------
ENTRY = re.compile(r"^\((\d+), (\d+)\) ∂a_(\d+)/∂x_(\d+): ")


@pytest.mark.parametrize("shape", [(2, 3), (3, 2), (1, 4), (5, 1)])
def test_every_index_is_one_based(shape):
    rng = np.random.default_rng(sum(shape))
    expected = rng.uniform(1.0, 2.0, size=shape)
    for i, j in [(0, 0), (shape[0] - 1, shape[1] - 1)]:
        wrong = expected.copy()
        wrong[i, j] += 0.5
        fb = check_matrix(wrong, expected)
        assert fb.details[0].startswith(f"({i + 1}, {j + 1}) ∂a_{i + 1}/∂x_{j + 1}: "), fb
        for line in fb.details:  # the position and the name agree
            m = ENTRY.match(line)
            assert m is None or (m[1], m[2]) == (m[3], m[4]), line
    vector = rng.uniform(1.0, 2.0, size=4)
    assert check_matrix(vector + [0.5, 0, 0, 0], vector).details[0].startswith("entry 1 x_1: ")
    assert "inf at (2, 1)" in check_matrix([[1.0, 2.0], [np.inf, 3.0]], np.ones((2, 2))).summary
    assert "at entry 3" in check_matrix([1.0, 2.0, np.nan], np.ones(3)).summary
    assert check_number(np.inf, 1).summary == "your answer has a non-finite value inf."  # (a 0-d answer: no position)


def test_check_jacobian_and_the_course_write_an_entry_s_place_the_same_way():
    """One source (WrongEntry.where): the library's check and the course's feedback both say (2, 3), 1-based, for J[1, 2]."""
    f = lambda v: np.array([v[0] * v[1], v[1] + 3 * v[2]])  # ℝ³ → ℝ²
    x = np.array([1.0, 2.0, 3.0])
    claimed = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]])  # J[1, 2] is 3
    library = str(jn.check.check_jacobian(f, x, claimed)).splitlines()[1].strip()
    course = check_function_jacobian(claimed, f, x, name="J").details[0]
    assert library.startswith("(2, 3) ∂a_2/∂x_3: expected 3") and course.startswith("(2, 3) ∂f_2/∂x_3: not 1")


def test_the_wrong_entries_of_one_row_or_column_are_said_to_share_it():
    E = np.arange(1.0, 13.0).reshape(3, 4)
    row = E + [[0] * 4, [0.5, 0, 0.5, 0], [0] * 4]
    assert "all in row 2 (a_2)" in str(check_matrix(row, E))
    col = E + [[0, 0, 0, 0.5], [0, 0, 0, 0.25], [0] * 4]
    assert "all in column 4 (x_4)" in str(check_matrix(col, E))
    assert "all in" not in str(check_matrix(E + np.eye(3, 4) * 0.5, E))


# --- the status a lesson's summary reads --------------------------------------------------------------------
def test_feedback_status_and_reason(dense):
    assert check_layer_jacobian(W, dense, X).status == "ok"
    assert check_layer_jacobian(..., dense, X).status == "blank"
    fb = check_layer_jacobian(W.T, dense, X)
    assert (fb.status, fb.reason, bool(fb)) == ("wrong", "your answer is the transpose", False)
    assert check_layer_jacobian(-W, dense, X).reason == "every sign is flipped"
    assert Feedback(False, "J", "wrong shape: expected (2, 3).").reason == "wrong shape"
    with pytest.raises(ValueError, match="status must be one of"):
        Feedback(True, "J", "right", status="blank")
    with pytest.raises(ValueError, match="status must be one of"):
        Feedback(False, "J", "wrong", status="maybe")


def test_strip_answers_leaves_out_solution_cells(tmp_path):
    slip = code_cell("print(expected)", ["solution"])
    src = write(tmp_path, notebook(code_cell("answer = 1\nprint(answer)", ["answer"]), slip, code_cell("x = 2")))
    cells = json.loads(strip_answers(src).read_text(encoding="utf-8"))["cells"]
    assert ["".join(c["source"]) for c in cells] == ["answer = ...\nprint(answer)", "x = 2"]


# --- a shape is integers; a checker's own arguments are checked, naming the checker ------------------------
@pytest.mark.parametrize("answer", [(2.9, 3.2), (2.0, 3.0), "23", (True, 3), ("2", "3"), (2, None), {2: 0, 3: 0}, np.array([2.0, 3.0])])
def test_a_shape_is_a_tuple_of_integers(answer):
    fb = check_shape(answer, (2, 3))
    assert not fb.ok and fb.reason == "not a tuple of integers", fb


def test_numpy_integers_are_a_shape():
    assert check_shape((np.int64(2), np.int32(3)), (2, 3)).ok and check_shape(np.array([2, 3]), (2, 3)).ok
    assert check_shape(np.zeros((2, 3)).shape, np.zeros((2, 3))).ok


@pytest.mark.parametrize("call, error, words", [
    (lambda: check_matrix([1.0], [np.nan]), ValueError, "check_matrix: the expected value has a non-finite entry nan at entry 1"),
    (lambda: check_matrix(1.0, 2.0), ValueError, r"check_matrix: the expected value must be a matrix \(m, n\) or a vector \(n,\), got shape \(\)"),
    (lambda: check_matrix(np.ones((2, 2, 2)), np.ones((2, 2, 2))), ValueError, r"got shape \(2, 2, 2\)"),
    (lambda: check_matrix(np.zeros((2, 0)), np.zeros((2, 0))), ValueError, r"check_matrix: the expected value has no entries \(shape \(2, 0\)\)"),
    (lambda: check_matrix(W + 1, W, col_labels=["p", "q"]), ValueError,
     r"check_matrix: col_labels must be a sequence of 3 strings, one per column of the expected value \(2, 3\); got 2 labels"),
    (lambda: check_matrix(W + 1, W, row_labels="ab"), ValueError, "check_matrix: row_labels must be a sequence of 2 strings"),
    (lambda: check_matrix(W, W, rtol="a"), TypeError, "check_matrix: rtol must be a number ≥ 0"),
    (lambda: check_matrix(W, W, atol=-1e-9), ValueError, "check_matrix: atol must be a finite number ≥ 0, got -1e-09"),
    (lambda: check_matrix(W, W, rtol=np.inf), ValueError, "check_matrix: rtol must be a finite number ≥ 0, got inf"),
    (lambda: check_matrix(W, W, name=3), TypeError, "check_matrix: name must be a string"),
    (lambda: check_matrix(W, [["a", "b"]]), TypeError, "check_matrix: the expected value must be an array of real numbers"),
    (lambda: check_number(88, 88, rtol=-1), ValueError, "check_number: rtol must be a finite number ≥ 0, got -1"),
    (lambda: check_number(1, 10**400), ValueError, "check_number: the expected value, an integer of 401 digits, is beyond float64"),
    (lambda: check_number(1, np.array([1.0, 2.0])), TypeError, r"check_number: the expected value must be a single real number, got array"),
    (lambda: check_number(1, float("nan")), ValueError, "check_number: the expected value is nan, not a finite number"),
    (lambda: check_number(1, "88"), TypeError, "check_number: the expected value must be a single real number, got '88'"),
    (lambda: check_shape((2, 3), (2.5, 3)), TypeError, r"check_shape: expected must be a shape \(a tuple of integers ≥ 0\) or an array"),
])
def test_a_bad_expected_value_or_option_is_named_by_its_checker(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_zero_tolerances_compare_exactly_and_never_crash():
    E = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert check_matrix(E.copy(), E, rtol=0, atol=0).ok
    assert "wrong order" in check_matrix(E[:, ::-1], E, rtol=0, atol=0).summary  # (the order hint used log10 of the tolerance)


def test_a_function_undefined_at_x_is_named_not_a_nan_crash():
    f = lambda v: np.sqrt(v)  # ℝ² → ℝ², undefined left of 0
    with pytest.raises(ValueError, match=r"check_function_jacobian: the central differences of f at x are not finite \(nan at \(1, 1\)\)"):
        check_function_jacobian(np.eye(2), f, np.array([0.0, 1.0]))


def test_a_layer_without_parameters_has_no_parameter_jacobian():
    with pytest.raises(ValueError, match=re.escape("check_layer_jacobian: Tanh has no parameters, so it has no J_θ (its J_x: wrt='input')")):
        check_layer_jacobian(np.zeros((2, 0)), jn.Tanh(), np.zeros(2), wrt="params")


def test_the_mirrored_entry_hint_gives_nothing_away():
    E = np.array([[1.0, 2.0], [5.0, 4.0]])
    copied = str(check_matrix([[1.0, 5.0], [5.0, 4.0]], E))  # (2, 1) right, (1, 2) holds its value: a copy, said so
    assert "value of the mirrored entry (2, 1): indices swapped?" in copied
    leak = str(check_matrix([[1.0, 5.0], [3.0, 4.0]], E))  # (2, 1) wrong too: saying (1, 2) holds its value would reveal 5
    assert "mirrored" not in leak and "2 of 4 entries wrong" in leak


# --- checkers that compute the expected value themselves (so that a cell holds no expression that prints it) -------------
def test_check_jacobian_shape_of_a_layer_and_of_a_function(monkeypatch):
    layer = jn.Dense(5, 4, seed=0)
    monkeypatch.setattr(jn.Dense, "jacobian_params", lambda *a, **k: pytest.fail("the Jacobian was built for its shape"))
    assert check_jacobian_shape((4, 24), layer, np.zeros(5), wrt="params").ok
    assert check_jacobian_shape((4, 5), layer, np.zeros(5)).ok
    fb = check_jacobian_shape((24, 4), layer, np.zeros(5), wrt="params")
    assert "transposed" in fb.summary and "columns the parameters" in fb.summary and fb.name == "J_θ(Dense(5→4))"
    k = lambda v: np.array([v[0] * v[3], v[1] + v[2] ** 2])  # ℝ⁴ → ℝ²
    assert check_jacobian_shape((2, 4), k, np.ones(4), name="J_k").ok
    hint = str(check_jacobian_shape((4, 4), k, np.ones(4), name="J_k"))
    assert "(2, 4)" not in hint and "expected (2, 4)" in str(check_jacobian_shape((4, 4), k, np.ones(4), reveal=True))
    assert check_jacobian_shape(..., k, np.ones(4)).status == "blank"
    with pytest.raises(ValueError, match="check_jacobian_shape: Tanh has no parameters"):
        check_jacobian_shape((2, 0), jn.Tanh(), np.zeros(2), wrt="params")
    with pytest.raises(ValueError, match="check_jacobian_shape: a function has no parameters"):
        check_jacobian_shape((2, 4), k, np.ones(4), wrt="params")


def test_check_loss_value():
    net = jn.build_network([2, 3, 2], loss="softmax-ce", seed=0)
    X, Y = np.random.default_rng(0).normal(size=(6, 2)), np.eye(2)[[0, 1, 0, 1, 1, 0]]
    loss = net.loss(X, Y)
    assert check_loss_value(loss, net, X, Y).ok and not check_loss_value(loss * 1.01, net, X, Y).ok
    assert check_loss_value(loss * 1.01, net, X, Y, rtol=0.05).ok
    hint = str(check_loss_value(2 * loss, net, X, Y, hint="−log of the probability of the class"))
    assert not shown(loss, hint) and "−log of the probability" in hint and "simple factor" in hint
    assert shown(loss, str(check_loss_value(2 * loss, net, X, Y, reveal=True)))
    assert check_loss_value(..., net, X, Y).status == "blank"


def test_check_batch_gradient_is_the_sum_of_the_per_sample_products():
    layer = jn.Dense(4, 2, seed=0)
    G = np.array([[1.0, -2.0], [0.0, 3.0], [2.0, 1.0]])  # (B, m) = (3, 2)
    X3 = np.array([[1.0, 0.0, 2.0, -1.0], [3.0, 1.0, -1.0, 0.0], [0.0, 2.0, 1.0, 1.0]])  # (B, n) = (3, 4)
    exact = np.concatenate([(G.T @ X3).ravel(), G.sum(axis=0)])  # [vec_r(Gᵀ X), 1ᵀ G], (10,)
    assert check_batch_gradient(exact, layer, X3, G).ok
    assert exact[6] == -6.0 and check_batch_gradient(-6.0, layer, X3, G, entry="W_{2,3}").ok
    assert check_batch_gradient(-6.0, layer, X3, G, entry="W_2,3").ok  # the plain label too
    wrong = check_batch_gradient(-5.0, layer, X3, G, entry="W_{2,3}")
    assert wrong.summary == "not -5: off by one." and wrong.name == "the batch gradient's W_2,3"
    col_major = np.concatenate([(G.T @ X3).ravel(order="F"), G.sum(axis=0)])
    assert "wrong order" in check_batch_gradient(col_major, layer, X3, G).summary
    with pytest.raises(ValueError, match=r"check_batch_gradient: G must hold one row δ_bᵀ per input, shape \(B, n_out\) = \(3, 2\), got \(2, 3\)"):
        check_batch_gradient(exact, layer, X3, G.T)
    with pytest.raises(ValueError, match=r"check_batch_gradient: Dense.* has no parameter 'W_\{3,1\}'"):
        check_batch_gradient(0.0, layer, X3, G, entry="W_{3,1}")
    with pytest.raises(ValueError, match=r"X must be a batch of the layer's inputs"):
        check_batch_gradient(exact, layer, X3[0], G[0])


def test_check_flops_counts_the_order_asked():
    chain = jn.build_network("3,4,2", activation="tanh", loss="softmax-ce", seed=0).chain(np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
    forward = 4 * 4 * 16 + 2 * 4 * 16 + 1 * 2 * 16  # (4×4)(4×16), then (2×4)·, then (1×2)·, as the lesson counts it
    assert check_flops(forward, chain, "forward").ok and check_flops(88, chain, "reverse").ok
    hint = str(check_flops(forward + 1, chain, "forward", hint="start from the right"))
    assert "off by one" in hint and "start from the right" in hint and not shown(forward, hint)
    with pytest.raises(TypeError, match="check_flops: chain must be a product of factors"):
        check_flops(1, np.eye(2), "forward")


def test_a_layer_jacobian_is_checked_at_one_sample(dense):
    with pytest.raises(ValueError, match=r"check_layer_jacobian: x must be one sample of shape \(n_in,\), got shape \(2, 3\)"):
        check_layer_jacobian(W, dense, np.ones((2, 3)))
