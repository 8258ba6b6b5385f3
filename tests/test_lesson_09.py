"""Lesson 9 (blocks and paths): every fact the lesson states, recomputed with package calls.

The lesson's networks are rebuilt here with the same sizes and seeds; each test
asserts what a section says (a residual block's ``I + J_g``, the four paths and
their sum, ``2^k`` paths of ``C(k, j)`` lengths, a concatenation's stacked
Jacobian and summed rows, a shared layer's summed uses, backpropagation through
time) and that each exercise's answer key is right while the slip it targets is not.
"""

from __future__ import annotations

import math

import lesson_source as source
import numpy as np
import pytest

import jacobnet as jn
from jacobnet.chain.spectra import time_products
from jacobnet.check import check_layer, fd_gradient, jacobian_fd, rel_error
from jacobnet.course import Lesson, exercises, feedback

SETUP = [  # lines of the notebook whose objects the tests below rebuild
    "bottleneck = jn.Residual([jn.Dense(3, 2, seed=4), jn.Tanh(), jn.Dense(2, 3, seed=5)])",
    "x, y = np.array([0.5, -1.0]), np.array([0.0, 1.0])",
    "col_labels=net.param_labels()[dense_1], columns=\"parameters\"",
    "d = jn.Dense(3, 3, seed=6)",
    "tied = jn.Network([first, d, jn.Tanh(), d, last], jn.MSE())",
    "use_1 = trace_tied.products_by_name[\"use 1: ∂L/∂θ(Dense 2)\"].value",
    "row_a4 = trace_tied.products_by_name[\"∂L/∂a4\"].value",
    "rnn = jn.RNN(2, 3, steps=3, seed=0)",
    "x_steps, H, slopes = rnn.run(x_seq)",
    "through = jn.depth.through_time(rnn, x_seq)",
]
ANSWERS = ["answer_J = np.eye(3) + W2 @ np.diag(1 - np.tanh(W1 @ x_bottle + b1) ** 2) @ W1",
           "@ trace.factor(\"J_x(Residual 2 › Dense 3)\").dense() @ trace.factor(\"J_θ(Dense 1)\").dense())",
           "answer_use_2 = row_a4 @ d.jacobian_params(acts_tied[3])"]
EXACT = 1e-14  # the same products, multiplied or added in another order
FD = 1e-7  # central differences


def two_block_net() -> jn.Network:
    return jn.Network(
        [jn.Dense(2, 3, seed=0), jn.Residual([jn.Dense(3, 3, seed=1), jn.Tanh()]), jn.Residual([jn.Dense(3, 3, seed=2), jn.Tanh()]),
         jn.Dense(3, 2, seed=3)],
        jn.SoftmaxCrossEntropy(),
    )


X2, Y2 = np.array([0.5, -1.0]), np.array([0.0, 1.0])


def stack(k: int) -> jn.Network:
    blocks = [jn.Residual([jn.Dense(3, 3, seed=10 + j), jn.Tanh()]) for j in range(k)]
    return jn.Network([jn.Dense(2, 3, seed=0), *blocks, jn.Dense(3, 2, seed=3)], jn.SoftmaxCrossEntropy())


def test_the_notebook_sets_up_what_these_tests_recompute() -> None:
    code = source.code(9)
    assert [line for line in SETUP if line not in code] == []
    answers = [source.text(c) for c in source.cells(9) if "answer" in source.tags(c)]
    assert len(answers) == 3 and all(line in cell for line, cell in zip(ANSWERS, answers))
    assert "jacobnet.chain.spectra" not in code  # the public face: jn.depth.through_time
    assert "g_untied" not in code  # exercise 3 is built from the uses' factors, not from an untied network's gradient


# --- 1. a residual block ---------------------------------------------------------------------

def test_a_residual_block_is_identity_plus_the_inner_jacobian() -> None:
    block = jn.Residual([jn.Dense(3, 3, seed=1), jn.Tanh()])
    x = np.array([0.5, -1.0, 2.0])
    op = block.jacobian_input_op(x)
    assert op.kind == "I + [diagonal · dense]" and op.shape == (3, 3)
    assert [(b.style, b.rows, b.cols) for b in op.outline()] == [("diagonal", 3, 3)]  # the identity, outlined
    assert rel_error(block.jacobian_input(x) - np.eye(3), jn.Sequential(block.layers).jacobian_input(x)) <= EXACT
    by_input, by_params = check_layer(block, x)
    assert by_input.ok and by_params.ok and by_input.rel_error <= FD and by_params.rel_error <= FD


def bottleneck() -> tuple[jn.Residual, np.ndarray]:
    block = jn.Residual([jn.Dense(3, 2, seed=4), jn.Tanh(), jn.Dense(2, 3, seed=5)])
    block.layers[0].b = [0.3, -0.2]
    return block, np.array([1.0, -0.5, 0.25])


def test_exercise_1_the_key_is_the_bottleneck_jacobian_and_the_slips_are_not() -> None:
    block, x = bottleneck()
    W1, b1, W2 = block.layers[0].W, block.layers[0].b, block.layers[2].W
    D = np.diag(1 - np.tanh(W1 @ x + b1) ** 2)
    key = np.eye(3) + W2 @ D @ W1
    assert exercises.check_layer_jacobian(key, block, x).ok
    assert rel_error(key, jacobian_fd(block.forward, x)) <= FD
    for slip in (W2 @ D @ W1, np.eye(3) + (W2 @ D @ W1).T, np.eye(3) + W2 @ np.diag(1 - np.tanh(W1 @ x) ** 2) @ W1):
        assert not exercises.check_layer_jacobian(slip, block, x).ok  # no identity; transposed; b1 forgotten


# --- 2. two residual blocks: four paths --------------------------------------------------------

def test_the_trace_sums_skip_and_inner_at_each_block() -> None:
    trace = two_block_net().trace(X2, Y2)
    notes = [r["structure"] for r in trace.rows() if r["factor"] == ""]
    assert notes == ["Residual 2: skip + inner", "Residual 1: skip + inner"]


def test_the_gradient_of_dense_1_is_the_sum_of_four_path_products() -> None:
    net = two_block_net()
    chain = net.chain(X2, Y2, layer="Dense 1")
    assert isinstance(chain, jn.PathSum) and chain.n_paths == 4
    assert [p.route for p in chain.paths()] == [
        "Residual 2: skip · Residual 1: skip", "Residual 2: skip · Residual 1: inner",
        "Residual 2: inner · Residual 1: skip", "Residual 2: inner · Residual 1: inner",
    ]
    assert [len(p.factors) for p in chain.paths()] == [3, 5, 5, 7] and chain.path_lengths() == {3: 1, 5: 2, 7: 1}
    g = net.gradient(X2, Y2)
    assert rel_error(chain.evaluate()[0], g[net.layer_slice(net.layers[0])]) <= EXACT
    assert rel_error(sum(p.evaluate() for p in chain.paths())[0], g[:9]) <= EXACT
    assert rel_error(g, fd_gradient(net, X2, Y2)) <= FD


def test_exercise_2_path_3_is_the_product_of_its_factors() -> None:
    net = two_block_net()
    trace, chain = net.trace(X2, Y2), net.chain(X2, Y2, layer="Dense 1")
    names = ["J_loss", "J_x(Dense 4)", "J_x(Residual 2 › Tanh 2)", "J_x(Residual 2 › Dense 3)", "J_θ(Dense 1)"]
    key = np.linalg.multi_dot([trace.factor(n).dense() for n in names])
    path_3 = next(p for p in chain.paths() if p.route == "Residual 2: inner · Residual 1: skip")
    assert [f.name for f in path_3.factors] == names and chain.paths()[2] is path_3
    assert feedback.check_matrix(key, path_3.evaluate(), name="path 3").ok
    slip = np.linalg.multi_dot([trace.factor(n).dense() for n in names[:2] + ["J_x(Residual 1 › Tanh 1)", "J_x(Residual 1 › Dense 2)"] + names[-1:]])
    assert not feedback.check_matrix(slip, path_3.evaluate(), name="path 3").ok  # path 2, the other block's inner path


def test_exercise_2s_feedback_names_the_entries_by_dense_1s_parameters() -> None:
    net = two_block_net()
    path_3 = net.chain(X2, Y2, layer="Dense 1").paths()[2]
    wrong = path_3.evaluate().copy()
    wrong[0, 3] = -wrong[0, 3]
    labels = net.param_labels()[net.layer_slice(net.layers[0])]
    assert len(labels) == 9 and labels[3] == "W^{(1)}_{2,2}"
    shown = str(feedback.check_matrix(wrong, path_3.evaluate(), name="path 3", row_labels=["L"], col_labels=labels, columns="parameters"))
    assert "∂L/∂W^{(1)}_{2,2}" in shown and "∂a_" not in shown and "/∂x_" not in shown


# --- 3. k blocks -------------------------------------------------------------------------

@pytest.mark.parametrize("k", range(1, 7))
def test_k_blocks_have_two_to_the_k_paths_with_binomial_lengths(k: int) -> None:
    net = stack(k)
    chain = net.chain(X2, Y2, layer="Dense 1")
    assert chain.n_paths == 2**k == jn.paths.count_paths(net, net.positions[0])
    assert chain.path_lengths() == {3 + 2 * j: math.comb(k, j) for j in range(k + 1)}
    assert rel_error(chain.evaluate()[0], net.gradient(X2, Y2)[:9]) <= EXACT


def test_in_the_stack_of_four_the_longer_paths_add_less() -> None:
    paths = stack(4).chain(X2, Y2, layer="Dense 1").paths()
    means = [np.mean([np.linalg.norm(p.evaluate()) for p in paths if p.route.count("inner") == j]) for j in range(5)]
    assert all(a > b for a, b in zip(means, means[1:])), means


# --- 4. concatenation ------------------------------------------------------------------------

def concat_block() -> jn.Concat:
    return jn.Concat([jn.Dense(3, 2, seed=6), [jn.Dense(3, 4, seed=7), jn.Tanh()]])


def test_a_concatenation_stacks_its_branches_jacobians_and_sums_their_rows() -> None:
    concat, x = concat_block(), np.array([0.5, -1.0, 2.0])
    J = concat.jacobian_input(x)
    J_1, J_2 = concat.branches[0][0].jacobian_input(x), jn.Sequential(concat.branches[1]).jacobian_input(x)
    assert J.shape == (6, 3) and rel_error(J, np.vstack([J_1, J_2])) == 0.0
    assert [(b.row, b.rows) for b in concat.jacobian_input_op(x).outline()] == [(0, 2), (2, 4)]
    assert check_layer(concat, x)[0].ok
    row = np.array([[0.3, -1.0, 0.5, 2.0, -0.2, 1.0]])
    assert rel_error(row @ J, row[:, :2] @ J_1 + row[:, 2:] @ J_2) <= EXACT


def test_the_trace_of_a_concatenation_has_its_placements_and_the_sum() -> None:
    net = jn.Network([jn.Dense(2, 3, seed=0), concat_block(), jn.Dense(6, 2, seed=8)], jn.SoftmaxCrossEntropy())
    rows = net.trace(X2, Y2).rows()
    assert [(r["factor"], r["structure"]) for r in rows if r["factor"].startswith("E_")] == [("E_1(Concat 1)", "[0; I; 0]"), ("E_2(Concat 1)", "[0; I; 0]")]
    assert [r["structure"] for r in rows if r["factor"] == ""] == ["Concat 1: branch 1 + branch 2"]


# --- 5. shared weights ------------------------------------------------------------------------

def shared_nets() -> tuple[jn.Network, jn.Network]:
    d = jn.Dense(3, 3, seed=6)
    first, last = jn.Dense(2, 3, seed=5), jn.Dense(3, 2, seed=7)
    copy_1, copy_2 = jn.Dense(3, 3), jn.Dense(3, 3)
    copy_1.set_params(d.get_params())
    copy_2.set_params(d.get_params())
    return jn.Network([first, d, jn.Tanh(), d, last], jn.MSE()), jn.Network([first, copy_1, jn.Tanh(), copy_2, last], jn.MSE())


XS, YS = np.array([0.5, -1.0]), np.array([0.2, -0.4])


def test_a_shared_layer_is_counted_once_and_traced_per_use() -> None:
    tied, untied = shared_nets()
    assert tied.names == ["Dense 1", "Dense 2", "Tanh 1", "Dense 2 (use 2)", "Dense 3"]
    assert (tied.n_params, untied.n_params, untied.n_params - tied.n_params) == (29, 41, 12)
    assert [(untied.layer_slice(l).start, untied.layer_slice(l).stop) for l in untied.param_layers] == [(0, 9), (9, 21), (21, 33), (33, 41)]
    trace = tied.trace(XS, YS)
    total = trace.products_by_name["∂L/∂θ(Dense 2) total"]
    assert total.terms == ["use 1: ∂L/∂θ(Dense 2)", "use 2: ∂L/∂θ(Dense 2 (use 2))"]
    assert [trace.products_by_name[t].left for t in total.terms] == ["∂L/∂a2", "∂L/∂a4"]
    assert rel_error(total.value, sum(trace.products_by_name[t].value for t in total.terms)) == 0.0
    assert rel_error(tied.gradient(XS, YS), fd_gradient(tied, XS, YS)) <= FD
    chain = tied.chain(XS, YS, layer="Dense 2")  # one path per use
    assert [p.route for p in chain.paths()] == ["use 1 (Dense 2)", "use 2 (Dense 2 (use 2))"]
    assert chain.describe().splitlines()[1] == "path 2: use 2 (Dense 2 (use 2)) — J_loss · J_x(Dense 3) · J_θ(Dense 2 (use 2))"
    assert rel_error(chain.evaluate()[0], tied.gradient(XS, YS)[9:21]) <= EXACT


def test_the_tied_gradient_is_the_untied_one_with_the_copies_added() -> None:
    tied, untied = shared_nets()
    g = untied.gradient(XS, YS)
    key = np.concatenate([g[:9], g[9:21] + g[21:33], g[33:]])
    assert rel_error(key, tied.gradient(XS, YS)) <= EXACT
    assert exercises.check_gradient(key, tied, XS, YS).ok
    assert not exercises.check_gradient(np.concatenate([g[:9], g[9:21], g[33:]]), tied, XS, YS).ok  # one use only


def test_exercise_3_use_2_is_the_row_at_a4_times_j_theta_at_a3_and_the_sum_is_the_gradient() -> None:
    tied, _ = shared_nets()
    d = tied.layers[1]
    trace, acts = tied.trace(XS, YS), tied.activations(XS)
    use_1 = trace.products_by_name["use 1: ∂L/∂θ(Dense 2)"].value
    row_a4 = trace.products_by_name["∂L/∂a4"].value
    assert use_1.shape == (1, 12) and row_a4.shape == (1, 3)
    assert tied.names[2] == "Tanh 1" and tied.layers[3] is d  # a3 = the tanh's output = use 2's input
    use_2 = row_a4 @ d.jacobian_params(acts[3])
    assert rel_error(use_2, trace.products_by_name["use 2: ∂L/∂θ(Dense 2 (use 2))"].value) <= EXACT
    expected = tied.gradient(XS, YS)[None, tied.layer_slice(d)]
    labels = tied.param_labels()[tied.layer_slice(d)]
    check = lambda answer: feedback.check_matrix(answer, expected, name="∂L/∂θ_d", row_labels=["L"], col_labels=labels,  # noqa: E731
                                                 columns="parameters")
    assert check(use_1 + use_2).ok
    slips = {"use 1's input a1": use_1 + row_a4 @ d.jacobian_params(acts[1]), "the pre-activation a2": use_1 + row_a4 @ d.jacobian_params(acts[2]),
             "use 2 only": use_2, "use 1 only": use_1, "∂L/∂a2 for use 2": use_1 + trace.products_by_name["∂L/∂a2"].value @ d.jacobian_params(acts[3])}
    for name, wrong in slips.items():
        assert not check(wrong).ok, name


# --- 6. backpropagation through time -------------------------------------------------------------

X_SEQ, Y_SEQ = np.array([0.5, -1.0, 1.0, 0.3, -0.2, 0.8]), np.array([0.3])


def rnn_nets() -> tuple[jn.RNN, jn.Sequential, jn.Network, jn.Network]:
    rnn = jn.RNN(2, 3, steps=3, seed=0)
    unrolled = rnn.unroll()
    return (rnn, unrolled, jn.Network([rnn, jn.Dense(3, 1, seed=1)], jn.MSE()),
            jn.Network([unrolled, jn.Dense(3, 1, seed=1)], jn.MSE()))


def test_the_unrolled_rnn_is_the_same_computation() -> None:
    rnn, unrolled, net_rnn, net_unrolled = rnn_nets()
    assert [layer.name for layer in unrolled.layers] == ["h_0 = 0", "step 1", "step 2", "step 3"]
    assert rel_error(unrolled.forward(X_SEQ), rnn.forward(X_SEQ)) <= EXACT
    order = np.r_[rnn.unrolled_order(), rnn.n_params + np.arange(4)]
    assert rel_error(net_unrolled.gradient(X_SEQ, Y_SEQ), net_rnn.gradient(X_SEQ, Y_SEQ)[order]) <= EXACT
    assert net_unrolled.param_names()[:2] == ["RNN › step 1 › z › Dense 1", "RNN › step 1 › z › Dense 2"]  # W_ih, W_hh


def test_w_hh_has_one_use_per_step_latest_first_and_their_total() -> None:
    rnn, _, net_rnn, net_unrolled = rnn_nets()
    trace = net_unrolled.trace(X_SEQ, Y_SEQ)
    rows = [r["product"] for r in trace.rows() if "Dense 2)" in r["product"]]
    assert rows == [f"use {t}: ∂L/∂θ(RNN › step {t} › z › Dense 2)" for t in (3, 2, 1)] + ["∂L/∂θ(Dense 2) total"]
    total = trace.products_by_name["∂L/∂θ(Dense 2) total"]
    assert rel_error(total.value, sum(trace.products_by_name[t].value for t in total.terms)) == 0.0
    W_hh = slice(6, 15)  # θ = [W_ih (6) | W_hh (9) | b_ih | b_hh]: entries 7–15, 1-based
    assert rnn.W_ih.size == 6 and rnn.W_hh.size == 9
    assert rel_error(total.value.ravel()[:9], net_rnn.gradient(X_SEQ, Y_SEQ)[W_hh]) <= EXACT


def test_dh3_dh1_is_the_product_of_two_step_jacobians() -> None:
    rnn, unrolled, _, net_unrolled = rnn_nets()
    trace = net_unrolled.trace(X_SEQ, Y_SEQ)
    J_t = {t: trace.factor(f"J_x(RNN › step {t} › Tanh {t})").dense() @ trace.factor(f"J_x(RNN › step {t} › z › Dense 2)").dense()
           for t in (2, 3)}
    _, H, D = rnn.run(X_SEQ)
    for t in (2, 3):
        assert rel_error(J_t[t], np.diag(1 - H[t] ** 2) @ rnn.W_hh) <= EXACT  # diag(1 − h_t²) W_hh
        assert rel_error(J_t[t], np.diag(D[t - 1]) @ rnn.W_hh) <= EXACT
    product = J_t[3] @ J_t[2]
    assert rel_error(product, dict(time_products(rnn, X_SEQ))[1]) <= EXACT
    through = jn.depth.through_time(rnn, X_SEQ)  # the lesson's public face: the singular values of ∂h3/∂h1
    assert through.labels[2] == "∂h3/∂h1"
    assert rel_error(np.linalg.svd(product, compute_uv=False), through.values[2]) <= EXACT
    X, H_run, slopes = rnn.run(X_SEQ)
    assert (X.shape, H_run.shape, slopes.shape) == ((3, 2), (4, 3), (3, 3)) and np.array_equal(H_run, H)
    h3_of_h1 = lambda h: jn.Sequential(unrolled.layers[2:]).forward(np.concatenate([h, X_SEQ[2:]]))  # noqa: E731
    assert rel_error(product, jacobian_fd(h3_of_h1, H[1])) <= FD


def test_the_rnn_input_jacobian_has_one_block_per_time_step() -> None:
    rnn = jn.RNN(2, 3, steps=3, seed=0)
    op = rnn.jacobian_input_op(X_SEQ)
    assert op.shape == (3, 6) and [b.label for b in op.outline()] == ["x_{1}", "x_{2}", "x_{3}"]
    assert check_layer(rnn, X_SEQ)[0].ok
    J = rnn.jacobian_input(X_SEQ)
    norms = [np.linalg.norm(J[:, 2 * t - 2:2 * t], 2) for t in (1, 2, 3)]
    assert [f"{v:.3f}" for v in norms] == ["0.405", "0.685", "0.885"]  # the lesson's printed block norms


def test_the_activation_numbering_the_lesson_explains() -> None:
    _, _, _, net_unrolled = rnn_nets()
    output_of = {p.out: p.name for p in net_unrolled.all_positions}
    assert output_of["a1"] == "RNN" and output_of["a1.4"] == "RNN › step 3" and output_of["a1.1"] == "RNN › h_0 = 0"
    assert output_of["a1.4.1.1"] == "RNN › step 3 › z" and output_of["a1.4.1.2"] == "RNN › step 3 › Tanh 3"
    lefts = [r["left"] for r in net_unrolled.trace(X_SEQ, Y_SEQ).rows() if "Dense 2)" in r["product"] and r["factor"]]
    assert lefts == ["∂L/∂a1.4.1.1", "∂L/∂a1.3.1.1", "∂L/∂a1.2.1.1"]


# --- the lesson's bookkeeping ---------------------------------------------------------------------

def test_the_lesson_has_three_exercises() -> None:
    lesson = Lesson("9 · Blocks and paths: residuals, concatenation, shared weights", exercises=3)
    assert str(lesson.summary()).startswith("Lesson 9: 0 of 3 exercises done")
    assert jn.course.LESSONS[8].heading == lesson.title
