"""Lesson 4, "Build backpropagation yourself": the facts it states, recomputed with package calls, NumPy and autograd.

The lesson derives each layer's vector–Jacobian product (VJP) — a row ``δᵀ`` times a
Jacobian — and has the student write the backward pass from them:

* ``δᵀ [I ⊗ xᵀ | I] = [vec_r(δ xᵀ), δ]`` (by entries: ``δ_i x_j``; as an identity: ``δᵀ ⊗ xᵀ``);
* over a batch, ``Σ_b δ_bᵀ [I ⊗ x_bᵀ | I] = [vec_r(Gᵀ X), 1ᵀ G]`` (the samples' ``J_θ`` stack,
  while the batch ``J_x = I_B ⊗ W`` is block-diagonal);
* ``δᵀ J_x(Dense) = δᵀ W`` and ``δᵀ diag(f'(z)) = δ ⊙ f'(z)``, with ``f'`` from the output
  (``1 − a²``, ``a (1 − a)``);
* the reverse loop, materialised and structured, gives jacobnet's and autograd's gradient;
* the exercises' reference answers are right, and the lesson's bugged backward pass is wrong
  exactly where it says.

Each test rebuilds the lesson's objects from the same constructor calls as the notebook;
:func:`test_the_notebook_sets_up_what_these_tests_recompute` holds the two to the same lines.
"""

from __future__ import annotations

import autograd.numpy as anp
import lesson_source as source
import numpy as np
import pytest
from autograd import grad
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, arrays, batch_sizes, floats, nonsquare_shapes

import jacobnet as jn
from jacobnet.check import jacobian_fd, rel_error
from jacobnet.course import exercises, feedback

SETUP = [  # lines of the notebook whose objects the tests below rebuild
    "net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())",
    "x, y = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])",
    "delta = np.array([1.0, -2.0, 0.5, 3.0])",
    "G_ex = np.array([[1.0, -2.0], [0.0, 3.0], [2.0, 1.0]])",
    "X_ex = np.array([[1.0, 0.0, 2.0, -1.0], [3.0, 1.0, -1.0, 0.0], [0.0, 2.0, 1.0, 1.0]])",
    "layer_ex = jn.Dense(4, 2, seed=0)",
    "gate = lambda v: v[:3] * v[3:]",
    "v_ex = np.array([1.0, -2.0, 3.0, 4.0, 0.5, -1.0])",
    "J_gate_fd = jacobian_fd(gate, v_ex)",
    'col_labels=["x_1", "x_2", "x_3", "y_1", "y_2", "y_3"]',
    'exercises.check_batch_gradient(answer_W23, layer_ex, X_ex, G_ex, entry="W_{2,3}")',
    "net_b = jn.Network([jn.Dense(5, 3, seed=2), jn.Sigmoid(), jn.Dense(3, 2, seed=3)], jn.MSE())",
    "rng_b = np.random.default_rng(5)",
    "X_b, Y_b = rng_b.normal(size=(6, 5)), rng_b.normal(size=(6, 2))",
    "G1 = G2 * A1 * (1 - A1)",
    "big = jn.Dense(784, 128, seed=0)",
]
ANSWERS = {  # exercise → a line of its answer cell in the notebook (the reference answer the tests recompute)
    1: "answer_W23 = -6.0",
    2: "answer_J_gate = np.array([[4.0, 0.0, 0.0, 1.0, 0.0, 0.0],",
    3: "answer_delta1 = answer_delta2 * (1 - a2**2)",
    4: "(G2 * A2 * (1 - A2))",
}
EXACT = 1e-14  # a rearranged float64 sum; a transposed or permuted answer is O(1) off


def lesson_net() -> tuple[jn.Network, np.ndarray, np.ndarray]:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    return net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])


def bug_case() -> tuple[jn.Network, np.ndarray, np.ndarray]:
    net_b = jn.Network([jn.Dense(5, 3, seed=2), jn.Sigmoid(), jn.Dense(3, 2, seed=3)], jn.MSE())
    rng_b = np.random.default_rng(5)
    X_b, Y_b = rng_b.normal(size=(6, 5)), rng_b.normal(size=(6, 2))
    return net_b, X_b, Y_b


def test_the_notebook_sets_up_what_these_tests_recompute():
    code = source.code(4)
    missing = [line for line in SETUP if line not in code]
    assert not missing, missing
    answer_cells = [source.text(c) for c in source.cells(4) if "answer" in source.tags(c)]
    checked = {k: [a for a in answer_cells if f"lesson.check({k}," in a] for k in ANSWERS}
    assert all(len(v) == 1 for v in checked.values()), checked
    for k, line in ANSWERS.items():
        assert line in checked[k][0], (k, line)
    assert 'Lesson("4 · Build backpropagation yourself", exercises=4)' in code
    assert "summed_ex" not in code  # exercise 1's expected value is the checker's, not a name in the answer cell


# --- §2: a row times J_θ(Dense) is an outer product ------------------------------------------------------------


@FAST
@given(st.data())
def test_a_row_times_the_dense_parameter_jacobian_is_the_outer_product(data):
    n, m = data.draw(nonsquare_shapes())
    x = data.draw(arrays((n,), floats(-5, 5)))
    delta = data.draw(arrays((m,), floats(-5, 5)))
    row = delta @ jn.Dense(n, m, seed=0).jacobian_params(x)                       # (m·n + m,)
    assert row.shape == (m * n + m,)
    np.testing.assert_array_equal(row, np.concatenate([np.outer(delta, x).ravel(), delta]))   # [vec_r(δ xᵀ), δ]
    np.testing.assert_array_equal(row[: m * n], np.kron(delta, x))                # δᵀ ⊗ xᵀ (the mixed-product rule)
    i, j = data.draw(st.integers(0, m - 1)), data.draw(st.integers(0, n - 1))
    assert row[i * n + j] == delta[i] * x[j] and row[m * n + i] == delta[i]      # by entries: W_ij ↦ δ_i x_j, b_i ↦ δ_i


def test_the_outer_product_is_not_its_transpose_flattened():
    """The classic slip x δᵀ flattened has the right numbers in the wrong order (n ≠ m)."""
    delta, x = np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.5, -1.0, 2.0])
    row = delta @ jn.Dense(3, 4).jacobian_params(x)
    wrong = np.concatenate([np.outer(x, delta).ravel(), delta])
    assert not np.allclose(row, wrong) and np.allclose(np.sort(row), np.sort(wrong))


def test_section_2_numbers():
    net, x, _ = lesson_net()
    J = net.layers[0].jacobian_params(x)
    assert J.shape == (4, 16) and J.size == 64 and np.count_nonzero(J) == 16      # "64 entries (16 nonzero) vs 12 products"
    assert net.layers[0].W.size == 12 and J.size - np.count_nonzero(J) == 48      # §6: "48 of them by zero"


# --- §3: a batch -------------------------------------------------------------------------------------------------


@FAST
@given(st.data())
def test_the_batch_sum_is_gt_x_and_column_sums(data):
    n, m = data.draw(nonsquare_shapes())
    B = data.draw(batch_sizes)
    X = data.draw(arrays((B, n), floats(-5, 5)))
    G = data.draw(arrays((B, m), floats(-5, 5)))
    layer = jn.Dense(n, m, seed=0)
    J = layer.jacobian_params(X)                                                  # (B, m, m·n + m)
    summed = np.einsum("bm,bmp->p", G, J)
    closed = np.concatenate([(G.T @ X).ravel(), G.sum(axis=0)])                   # [vec_r(Gᵀ X), 1ᵀ G]
    assert rel_error(summed, closed) <= EXACT
    assert rel_error(layer.jacobian_params_op(X).vjp_sum(G[:, None, :])[0], closed) <= EXACT


def test_the_batch_parameter_jacobian_stacks_and_the_input_jacobian_is_block_diagonal():
    layer, B = jn.Dense(3, 2, seed=1), 4
    X = np.random.default_rng(0).normal(size=(B, 3))
    theta = layer.get_params()

    def batch_of_theta(t: np.ndarray) -> np.ndarray:  # ℝ⁸ → ℝ^{B·2}: the whole batch's output as a function of θ
        return (X @ t[:6].reshape(2, 3).T + t[6:]).ravel()

    J_theta = jacobian_fd(batch_of_theta, theta)                                   # (B·2, 8)
    assert rel_error(J_theta, layer.jacobian_params(X).reshape(B * 2, 8)) < 1e-8   # the samples' J_θ stacked
    J_x = jacobian_fd(lambda v: layer.forward(v.reshape(B, 3)).ravel(), X.ravel())  # (B·2, B·3)
    assert rel_error(J_x, np.kron(np.eye(B), layer.W)) < 1e-8                      # I_B ⊗ W


def test_exercise_1_reference_answer():
    G_ex = np.array([[1.0, -2.0], [0.0, 3.0], [2.0, 1.0]])
    X_ex = np.array([[1.0, 0.0, 2.0, -1.0], [3.0, 1.0, -1.0, 0.0], [0.0, 2.0, 1.0, 1.0]])
    layer_ex = jn.Dense(4, 2, seed=0)
    summed = sum(G_ex[b] @ layer_ex.jacobian_params(X_ex[b]) for b in range(3))
    expected = summed[list(layer_ex.param_labels()).index("W_{2,3}")]
    assert expected == (G_ex.T @ X_ex)[1, 2] == -2.0 * 2.0 + 3.0 * -1.0 + 1.0 * 1.0 == -6.0
    assert feedback.check_number(-6.0, expected).ok
    assert exercises.check_batch_gradient(-6.0, layer_ex, X_ex, G_ex, entry="W_{2,3}").ok  # the lesson's checker
    slips = {"column 4": (G_ex.T @ X_ex)[1, 3], "row 1": (G_ex.T @ X_ex)[0, 2], "the first sample only": G_ex[0, 1] * X_ex[0, 2],
             "the mean, not the sum": (G_ex.T @ X_ex)[1, 2] / 3}
    for name, slip in slips.items():
        assert not feedback.check_number(slip, expected).ok, name
        assert not exercises.check_batch_gradient(slip, layer_ex, X_ex, G_ex, entry="W_{2,3}").ok, name


# --- §4: δᵀ W, δ ⊙ f', and the exercise on x ⊙ y ------------------------------------------------------------------


@FAST
@given(st.data())
def test_the_input_vjps(data):
    n, m = data.draw(nonsquare_shapes())
    layer = jn.Dense(n, m, seed=data.draw(st.integers(0, 9)))
    x, delta = data.draw(arrays((n,), floats(-3, 3))), data.draw(arrays((m,), floats(-3, 3)))
    np.testing.assert_array_equal(delta @ layer.jacobian_input(x), delta @ layer.W)          # δᵀ J_x = δᵀ W
    z, d = data.draw(arrays((n,), floats(-3, 3))), data.draw(arrays((n,), floats(-3, 3)))
    for act, from_output in ((jn.Tanh(), lambda a: 1 - a**2), (jn.Sigmoid(), lambda a: a * (1 - a))):
        J = act.jacobian_input(z)
        assert np.count_nonzero(J - np.diag(np.diag(J))) == 0                               # diagonal
        np.testing.assert_allclose(d @ J, d * np.diag(J), rtol=1e-15, atol=0)               # δ ⊙ f'(z)
        np.testing.assert_allclose(from_output(act.forward(z)), np.diag(J), rtol=1e-12, atol=1e-15)  # f' from a = f(z)


def test_exercise_2_reference_answer_and_its_vjp():
    gate = lambda v: v[:3] * v[3:]  # ℝ⁶ → ℝ³, the lesson's function
    v_ex = np.array([1.0, -2.0, 3.0, 4.0, 0.5, -1.0])
    x, y = v_ex[:3], v_ex[3:]
    answer = np.hstack([np.diag(y), np.diag(x)])                                  # [diag(y) | diag(x)], (3, 6)
    np.testing.assert_array_equal(answer, [[4.0, 0, 0, 1.0, 0, 0], [0, 0.5, 0, 0, -2.0, 0], [0, 0, -1.0, 0, 0, 3.0]])
    assert exercises.check_function_jacobian(answer, gate, v_ex).ok
    assert not exercises.check_function_jacobian(answer.T, gate, v_ex).ok
    assert not exercises.check_function_jacobian(np.hstack([np.diag(x), np.diag(y)]), gate, v_ex).ok   # the factors swapped
    d = np.array([1.0, -1.0, 2.0])
    assert rel_error(d @ jacobian_fd(gate, v_ex), np.concatenate([d * y, d * x])) < 1e-9     # [δ ⊙ y, δ ⊙ x]


def test_exercise_2s_feedback_calls_the_columns_x_and_y():
    """The lesson checks with check_matrix and the labels of v = [x; y], so a wrong entry is named ∂f_i/∂y_j, not ∂f_i/∂x_{j+3}."""
    gate = lambda v: v[:3] * v[3:]  # ℝ⁶ → ℝ³  # noqa: E731
    v_ex = np.array([1.0, -2.0, 3.0, 4.0, 0.5, -1.0])
    J_gate_fd = jacobian_fd(gate, v_ex)
    answer = np.hstack([np.diag(v_ex[3:]), np.diag(v_ex[:3])])
    check = lambda a: feedback.check_matrix(a, J_gate_fd, name="J of x ⊙ y", row_labels=["f_1", "f_2", "f_3"],  # noqa: E731
                                            col_labels=["x_1", "x_2", "x_3", "y_1", "y_2", "y_3"])
    assert check(answer).ok
    wrong = answer.copy()
    wrong[1, 4] = -wrong[1, 4]
    shown = str(check(wrong))
    assert "(2, 5) ∂f_2/∂y_2" in shown and "x_5" not in shown
    assert not check(np.hstack([np.diag(v_ex[:3]), np.diag(v_ex[3:])])).ok   # the factors swapped


@FAST
@given(st.integers(1, 6), st.data())
def test_the_product_jacobian_for_any_size(n, data):
    v = data.draw(arrays((2 * n,), floats(-3, 3)))
    J = jacobian_fd(lambda u: u[:n] * u[n:], v)
    assert J.shape == (n, 2 * n)
    np.testing.assert_allclose(J, np.hstack([np.diag(v[n:]), np.diag(v[:n])]), rtol=1e-6, atol=1e-8)


# --- §5–6: the reverse loop ----------------------------------------------------------------------------------------


def materialised_loop(net: jn.Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exercise 3 (a), as the notebook's answer: rows times materialised Jacobians, at the stored activations."""
    dense1, tanh1, dense2 = net.layers
    a0, a1, a2, a3 = net.activations(x)
    row_a3 = net.loss_fn.jacobian(a3, y)
    row_theta2 = row_a3 @ dense2.jacobian_params(a2)
    row_a2 = row_a3 @ dense2.jacobian_input(a2)
    row_a1 = row_a2 @ tanh1.jacobian_input(a1)
    row_theta1 = row_a1 @ dense1.jacobian_params(a0)
    return np.concatenate([row_theta1[0], row_theta2[0]])


def structured_loop(net: jn.Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Exercise 3 (b), as the notebook's answer: outer products, ``@ W``, ``⊙ (1 − a²)`` — no Jacobian built."""
    dense1, _, dense2 = net.layers
    a0, _, a2, a3 = net.activations(x)
    delta3 = net.loss_fn.jacobian(a3, y)[0]
    grad_W2, grad_b2 = np.outer(delta3, a2), delta3
    delta1 = (delta3 @ dense2.W) * (1 - a2**2)
    grad_W1, grad_b1 = np.outer(delta1, a0), delta1
    return np.concatenate([grad_W1.ravel(), grad_b1, grad_W2.ravel(), grad_b2])


def autograd_loss(x: np.ndarray, y: np.ndarray):  # the notebook's loss_of: ℝ²⁶ → ℝ, a plain autograd.numpy forward
    logits = lambda t: anp.dot(t[16:24].reshape(2, 4), anp.tanh(anp.dot(t[:12].reshape(4, 3), x) + t[12:16])) + t[24:26]
    return lambda t: anp.log(anp.sum(anp.exp(logits(t)))) - anp.dot(y, logits(t))


def test_exercise_3_both_loops_give_jacobnets_and_autograds_gradient():
    net, x, y = lesson_net()
    g = net.gradient(x, y)
    loss_of = autograd_loss(x, y)
    assert abs(loss_of(net.get_params()) - net.loss(x, y)) < 1e-15
    g_autograd = grad(loss_of)(net.get_params())
    assert rel_error(g_autograd, g) <= EXACT
    for answer in (materialised_loop(net, x, y), structured_loop(net, x, y)):
        assert rel_error(answer, g) <= EXACT and rel_error(answer, g_autograd) <= EXACT
        assert exercises.check_gradient(answer, net, x, y).ok
        assert feedback.check_matrix(answer, g_autograd, columns="parameters").ok
    assert rel_error(net.gradient(x, y, mode="materialised"), g) <= EXACT


def test_exercise_3_classic_slips_are_caught():
    net, x, y = lesson_net()
    dense1, tanh1, dense2 = net.layers
    a0, a1, a2, a3 = net.activations(x)
    delta3 = net.loss_fn.jacobian(a3, y)[0]
    delta1 = (delta3 @ dense2.W) * (1 - a2**2)
    right = structured_loop(net, x, y)
    slips = {
        "x δᵀ": np.concatenate([np.outer(a0, delta1).ravel(), delta1, right[16:]]),
        "no f'": np.concatenate([np.outer(delta3 @ dense2.W, a0).ravel(), delta3 @ dense2.W, right[16:]]),
        "f' at the output": np.concatenate([np.outer((delta3 @ dense2.W) * (1 - np.tanh(a2) ** 2), a0).ravel(),
                                            (delta3 @ dense2.W) * (1 - np.tanh(a2) ** 2), right[16:]]),
        "pre-activation in δ aᵀ": np.concatenate([right[:16], np.outer(delta3, a1).ravel(), delta3]),
        "backprop order": np.concatenate([right[16:], right[:16]]),
    }
    for name, wrong in slips.items():
        assert not exercises.check_gradient(wrong, net, x, y).ok, name


def test_what_the_backward_pass_reads_is_what_the_forward_pass_stored():
    net, x, y = lesson_net()
    acts = net.activations(x)
    assert [a.shape for a in acts] == [(3,), (4,), (4,), (2,)] and sum(a.size for a in acts) == 13
    dense1, tanh1, dense2 = net.layers
    a0, a1, a2, a3 = acts
    shapes = [net.loss_fn.jacobian(a3, y).shape, dense2.jacobian_params(a2).shape, dense2.jacobian_input(a2).shape,
              tanh1.jacobian_input(a1).shape, dense1.jacobian_params(a0).shape]
    assert shapes == [(1, 2), (2, 10), (2, 4), (4, 4), (4, 16)]
    np.testing.assert_array_equal(dense2.jacobian_input(a1), dense2.jacobian_input(a2))      # J_x = W2: at nothing
    np.testing.assert_allclose(np.diag(tanh1.jacobian_input(a1)), 1 - a2**2, rtol=1e-14)      # tanh' from the output a2
    assert not np.allclose(dense2.jacobian_params(a2), dense2.jacobian_params(np.tanh(a2)))  # J_θ needs its own input


# --- §7: the bug ---------------------------------------------------------------------------------------------------


def bugged_and_fixed() -> tuple[np.ndarray, np.ndarray]:
    """The lesson's batch backward pass with σ' from the pre-activation A1, and the same pass fixed (σ' from A2)."""
    net_b, X_b, Y_b = bug_case()
    A0, A1, A2, A3 = net_b.activations(X_b)
    G3 = net_b.loss_fn.jacobian(A3, Y_b)[:, 0, :] / len(X_b)
    grad_W2, grad_b2 = G3.T @ A2, G3.sum(axis=0)
    G2 = G3 @ net_b.layers[2].W
    out = []
    for G1 in (G2 * A1 * (1 - A1), G2 * A2 * (1 - A2)):
        out.append(np.concatenate([(G1.T @ A0).ravel(), G1.sum(axis=0), grad_W2.ravel(), grad_b2]))
    return out[0], out[1]


def test_exercise_4_the_bug_is_wrong_exactly_in_dense_1s_block_and_the_fix_is_right():
    net_b, X_b, Y_b = bug_case()
    bugged, fixed = bugged_and_fixed()
    g = net_b.gradient(X_b, Y_b)
    assert rel_error(fixed, g) <= EXACT and exercises.check_gradient(fixed, net_b, X_b, Y_b).ok
    fb = exercises.check_gradient(bugged, net_b, X_b, Y_b)
    assert not fb.ok and "18 of 26 entries wrong" in fb.summary                   # Dense 1: 5·3 weights + 3 biases
    wrong = ~np.isclose(bugged, g, rtol=0, atol=1e-6 * np.abs(g).max())
    assert wrong[:18].all() and not wrong[18:].any()                             # Dense 2's block is right
    A1, A2 = net_b.activations(X_b)[1:3]
    assert A1.shape == A2.shape == (6, 3)                                         # "the shapes cannot tell"


def test_exercise_4_the_hint_names_the_first_wrong_entries_by_parameter_without_the_expected_values():
    net_b, X_b, Y_b = bug_case()
    bugged, _ = bugged_and_fixed()
    g = net_b.gradient(X_b, Y_b)
    shown = str(exercises.check_gradient(bugged, net_b, X_b, Y_b))
    assert "W^(1)_1,1" in shown and "W^(2)" not in shown and "b^(2)" not in shown
    assert f"{g[0]:.6g}" not in shown


# --- §8: any network, any size --------------------------------------------------------------------------------------


def test_the_operator_loop_is_the_gradient_of_any_stack():
    for net, x, y in (lesson_net(), bug_case()):
        acts = net.activations(x)
        rows = net.loss_fn.jacobian(acts[-1], y) / (len(x) if x.ndim == 2 else 1)
        blocks = []
        for layer, a_in in zip(reversed(net.layers), reversed(acts[:-1])):
            blocks.insert(0, layer.jacobian_params_op(a_in).vjp_sum(rows))
            rows = layer.jacobian_input_op(a_in).vjp(rows)
        assert [b.shape[0] for b in blocks] == [1, 1, 1]
        assert rel_error(np.concatenate([b.ravel() for b in blocks]), net.gradient(x, y)) <= EXACT


def test_the_784_to_128_numbers():
    big = jn.Dense(784, 128, seed=0)
    op = big.jacobian_params_op(np.zeros(784))
    assert op.shape == (128, 100_480) == (128, 784 * 128 + 128)                   # "128 × 100 480 entries"
    assert f"{op.nbytes_dense / 1e6:.1f}" == "102.9" and op.nbytes_dense == 8 * 128 * 100_480
    assert op.nbytes < 1e-3 * op.nbytes_dense and big.n_params * 8 == 803_840


@pytest.mark.parametrize("tag", ["solution"])
def test_the_cells_that_give_answers_away_are_teacher_only(tag):
    """Ex. 2's VJP [δ ⊙ y, δ ⊙ x] and Ex. 4's diagnosis are in cells the student edition leaves out."""
    tagged = [source.text(c) for c in source.cells(4) if tag in source.tags(c)]
    assert any("d_gate * v_ex[3:]" in t for t in tagged) and any("It is `G1`" in t for t in tagged)
    untagged = "\n".join(source.text(c) for c in source.cells(4) if tag not in source.tags(c))
    assert r"(\delta \odot y)" not in untagged and "It is `G1`" not in untagged
    assert any(r"(\delta \odot y)" in t for t in tagged)
