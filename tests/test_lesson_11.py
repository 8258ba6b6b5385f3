"""Lesson 11 (LayerNorm and attention): the facts the lesson states, recomputed with package calls.

Each test rebuilds what the notebook shows — on the lesson's own instances and on
other random, non-square ones — and asserts what its text says: LayerNorm's ``J_x``
is ``diag(γ) P/σ̂`` with ``P`` the projection that removes ``𝟙`` and ``x̂`` (up to ``ε``),
block-diagonal over tokens; a per-token Dense is ``I_T ⊗ W``; self-attention's ``J_x``
is ``A ⊗ W_v`` plus the scores' terms through softmax's ``diag(a) − aaᵀ``, zero above
the block diagonal with the causal mask; and the exercises' reference answers are
right (and typical wrong ones are not). The lesson's two SymPy checks, on ``LayerNorm(3, tokens=2)``
and ``SelfAttention(2, 2, 1, causal=True)``, are the instances of tests/test_layernorm.py and
tests/test_attention.py (``compare_closed_forms``), not repeated here.
"""

from __future__ import annotations

import lesson_source as source
import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import jacobian_fd, rel_error
from jacobnet.course import exercises, feedback

LESSON_X = np.array([1.0, 2.0, 4.0, -1.0, 0.5])
FD_TOL = 1e-7


def normalised(x: np.ndarray, eps: float) -> tuple[np.ndarray, float, float]:
    """``(x̂, σ̂, σ²)`` of one token, by the definition (biased variance)."""
    var = float(np.mean((x - x.mean()) ** 2))
    sigma_hat = np.sqrt(var + eps)
    return (x - x.mean()) / sigma_hat, sigma_hat, var


def projection(x: np.ndarray, eps: float) -> np.ndarray:
    """``P = I − 𝟙𝟙ᵀ/n − x̂x̂ᵀ/n`` of one token."""
    n, (x_hat, _, _) = x.size, normalised(x, eps)
    return np.eye(n) - np.ones((n, n)) / n - np.outer(x_hat, x_hat) / n


# --- sections 1 and 2: one token ---------------------------------------------------------------

def test_the_output_has_mean_0_and_variance_just_below_1():
    ln = jn.LayerNorm(5)
    y = ln.forward(LESSON_X)
    _, _, var = normalised(LESSON_X, ln.eps)
    assert abs(y.mean()) < 1e-15
    assert y.var() == pytest.approx(var / (var + ln.eps), rel=1e-13) and y.var() < 1


@pytest.mark.parametrize("n, seed", [(3, 0), (5, 1), (7, 2), (4, 3)])
def test_layernorm_jacobian_is_diag_gamma_times_the_projection_over_sigma(n, seed):
    rng = np.random.default_rng(seed)
    ln, x = jn.LayerNorm(n, eps=10.0 ** rng.uniform(-6, -1)), rng.normal(size=n) * 2
    ln.gamma = rng.uniform(0.5, 2.0, size=n)  # γ ≠ 1: J is not symmetric, a transposed formula fails
    _, sigma_hat, _ = normalised(x, ln.eps)
    J = ln.jacobian_input(x)
    assert rel_error(J, np.diag(ln.gamma) @ projection(x, ln.eps) / sigma_hat) < 1e-13
    assert rel_error(J, jacobian_fd(ln.forward, x)) < FD_TOL
    assert not np.allclose(J, J.T)
    assert np.linalg.norm(J @ np.ones(n)) < 1e-14 * np.abs(J).max() * n  # 𝟙 removed, γ or not


@pytest.mark.parametrize("n, seed", [(5, None), (4, 0), (9, 1)])
def test_p_is_a_projection_up_to_eps(n, seed):
    x = LESSON_X if seed is None else np.random.default_rng(seed).normal(size=n)
    eps = 1e-5
    P, (x_hat, sigma_hat, var) = projection(x, eps), normalised(x, eps)
    kept_radially = eps / (var + eps)
    eig = np.linalg.eigvalsh(P)
    assert np.allclose(P, P.T, rtol=0, atol=0)
    assert abs(eig[0]) < 1e-14                                               # 𝟙: exactly 0
    assert eig[1] == pytest.approx(kept_radially, rel=1e-6)                  # x̂: ε/(σ² + ε)
    assert np.allclose(eig[2:], 1.0, rtol=0, atol=1e-13) and eig.size - 2 == n - 2
    assert np.linalg.norm(P @ np.ones(n)) < 1e-14
    assert np.allclose(P @ x_hat, kept_radially * x_hat, rtol=1e-8, atol=1e-18)
    assert np.allclose(P @ P - P, -kept_radially * np.outer(x_hat, x_hat) / n, rtol=1e-8, atol=1e-15)
    eig_J = np.linalg.eigvalsh(jn.LayerNorm(n, eps=eps).jacobian_input(x))  # γ = 1: J = P/σ̂
    assert abs(eig_J[0]) < 1e-14 and eig_J[1] == pytest.approx(kept_radially / sigma_hat, rel=1e-6)
    assert np.allclose(eig_J[2:], 1 / sigma_hat, rtol=1e-12)


def test_layernorm_forgets_a_shift_exactly_and_a_stretch_up_to_eps():
    ln = jn.LayerNorm(5)
    y, mu = ln.forward(LESSON_X), LESSON_X.mean()
    assert np.abs(ln.forward(LESSON_X + 3.0) - y).max() < 1e-15 * 10
    stretch = np.abs(ln.forward(mu + 2 * (LESSON_X - mu)) - y).max()
    assert 0 < stretch < 1e-5
    tiny = jn.LayerNorm(5, eps=1e-12)
    assert np.abs(tiny.forward(mu + 2 * (LESSON_X - mu)) - tiny.forward(LESSON_X)).max() < 1e-11  # it is ε's doing


# --- exercise 1: two features -----------------------------------------------------------------

def test_exercise_1_reference_answer_and_the_eps_term():
    ln2, x2 = jn.LayerNorm(2, eps=0.25), np.array([1.0, 0.0])
    reference = np.sqrt(2) / 4 * np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert exercises.check_layer_jacobian(reference, ln2, x2).ok
    for wrong in (np.zeros((2, 2)), 2 * reference, np.eye(2) - 0.5, -reference):
        assert not exercises.check_layer_jacobian(wrong, ln2, x2).ok


@pytest.mark.parametrize("seed", range(4))
def test_two_features_leave_only_the_eps_term(seed):
    rng = np.random.default_rng(seed)
    eps, x = 10.0 ** rng.uniform(-4, 0), rng.normal(size=2)
    _, sigma_hat, var = normalised(x, eps)
    J = jn.LayerNorm(2, eps=eps).jacobian_input(x)
    cancellation = np.finfo(float).eps * (var + eps) / eps  # the layer forms 1 − 1/2 − x̂_i x̂_j/2, which cancels to O(ε/σ²)
    assert rel_error(J, eps / (2 * sigma_hat**3) * np.array([[1.0, -1.0], [-1.0, 1.0]])) < 10 * cancellation + 1e-14


def test_the_lessons_eigenvalues_of_j_x_printed():
    """Section 2 prints the eigenvalues of J_x = P/σ̂ with :.1e: 0, ε/(σ² + ε)/σ̂ ≈ 2.2e-06 (not 0), and 1/σ̂ three times."""
    ln = jn.LayerNorm(5)
    _, sigma_hat, var = normalised(LESSON_X, ln.eps)
    eig = np.linalg.eigvalsh(ln.jacobian_input(LESSON_X))
    assert f"{eig[1]:.1e}" == f"{ln.eps / (var + ln.eps) / sigma_hat:.1e}" == "2.2e-06"
    assert abs(eig[0]) < 1e-15 and f"{1 / sigma_hat:.4f}" == "0.6019" and np.allclose(eig[2:], 1 / sigma_hat, rtol=1e-12)


def test_the_token_blocks_are_p_over_sigma_hat_not_projections():
    """Section 3: the heatmap's blocks (labelled P_t) are P_t/σ̂_t, with entries up to 2.62 (a projection's are at most 1)."""
    T, d = 3, 4
    X = np.random.default_rng(0).normal(size=T * d)
    J = jn.LayerNorm(d, tokens=T).jacobian_input(X)
    sigma_hat = np.sqrt(X.reshape(T, d).var(axis=1) + 1e-5)
    largest = [np.abs(J[t * d:(t + 1) * d, t * d:(t + 1) * d]).max() for t in range(T)]
    assert [f"{1 / s:.2f}" for s in sigma_hat] == ["3.55", "1.44", "2.16"]
    assert [f"{v:.2f}" for v in largest] == ["2.62", "1.06", "1.62"]
    for t in range(T):
        block = J[t * d:(t + 1) * d, t * d:(t + 1) * d]
        assert rel_error(block * sigma_hat[t], projection(X[t * d:(t + 1) * d], 1e-5)) < 1e-13
        assert np.abs(projection(X[t * d:(t + 1) * d], 1e-5)).max() <= 1


def test_the_two_feature_jacobian_shrinks_with_eps():
    x2 = np.array([1.0, 0.0])
    largest = [np.abs(jn.LayerNorm(2, eps=eps).jacobian_input(x2)).max() for eps in (0.25, 1e-2, 1e-5, 1e-8)]
    assert all(a > b for a, b in zip(largest, largest[1:]))
    assert largest[-1] == pytest.approx(4e-8, rel=1e-6)  # ε/(2σ̂³) with σ² = 1/4


# --- sections 3 and 4: tokens -----------------------------------------------------------------

@pytest.mark.parametrize("T, n, seed", [(3, 4, 0), (2, 5, 1), (4, 3, 2)])
def test_layernorm_over_tokens_is_block_diagonal_with_each_tokens_own_block(T, n, seed):
    ln, x = jn.LayerNorm(n, tokens=T), np.random.default_rng(seed).normal(size=T * n)
    J = ln.jacobian_input(x)
    for t in range(T):
        for u in range(T):
            block = J[t * n:(t + 1) * n, u * n:(u + 1) * n]
            if t == u:
                assert np.array_equal(block, jn.LayerNorm(n).jacobian_input(x[t * n:(t + 1) * n]))
            else:
                assert not block.any()
    assert ln.jacobian_params(x).shape == (T * n, 2 * n)


@pytest.mark.parametrize("T, n, seed", [(3, 4, 0), (2, 5, 1)])
def test_the_tokens_contributions_to_the_shared_gamma_and_beta_add_up(T, n, seed):
    rng = np.random.default_rng(seed)
    ln, x, g = jn.LayerNorm(n, tokens=T), rng.normal(size=T * n), rng.normal(size=T * n)
    x_hat = np.concatenate([normalised(x[t * n:(t + 1) * n], ln.eps)[0] for t in range(T)]).reshape(T, n)
    G = g.reshape(T, n)
    assert rel_error(g @ ln.jacobian_params(x), np.concatenate([(G * x_hat).sum(axis=0), G.sum(axis=0)])) < 1e-14


@pytest.mark.parametrize("T, n_in, n_out, seed", [(3, 4, 3, 1), (2, 5, 2, 0), (4, 2, 3, 3)])
def test_per_token_dense_is_I_kron_W_and_its_gradient_sums_the_tokens(T, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    dense, x, g = jn.Dense(n_in, n_out, tokens=T, seed=seed), rng.normal(size=T * n_in), rng.normal(size=T * n_out)
    assert np.array_equal(dense.jacobian_input(x), np.kron(np.eye(T), dense.W))
    X, G = x.reshape(T, n_in), g.reshape(T, n_out)
    assert rel_error(g @ dense.jacobian_params(x), np.concatenate([(G.T @ X).ravel(), G.sum(axis=0)])) < 1e-14
    assert rel_error(dense.jacobian_input(x), jacobian_fd(dense.forward, x)) < FD_TOL


# --- exercise 2: the rank of LayerNorm then Dense ----------------------------------------------

def lesson_pair_singular_values(eps: float, T: int = 3, n: int = 4, m: int = 3, seed: int = 1) -> np.ndarray:
    """The singular values of J_x(Dense) · J_x(LayerNorm) at the lesson's X (rng 0), as the lesson forms them.

    (The Dense's seed must not be 0: its rows would be the tokens of X, scaled, and lie in span(𝟙, x̂_t).)"""
    X = np.random.default_rng(0).normal(size=T * n)
    ln, dense = jn.LayerNorm(n, tokens=T, eps=eps), jn.Dense(n, m, tokens=T, seed=seed)
    return np.linalg.svd(dense.jacobian_input(ln.forward(X)) @ ln.jacobian_input(X), compute_uv=False)


def test_exercise_2_reference_answer():
    values = lesson_pair_singular_values(1e-5)
    expected = int(np.sum(values > 1e-3 * values[0]))
    assert expected == 3 * min(3, 4 - 2) == 6
    assert feedback.check_number(6, expected).ok
    assert not feedback.check_number(9, expected).ok and not feedback.check_number(3, expected).ok


def test_the_eps_directions_scale_with_eps_and_the_rest_stay():
    big, small = lesson_pair_singular_values(1e-5), lesson_pair_singular_values(1e-9)
    X = np.random.default_rng(0).normal(size=12)
    pair = jn.LayerNorm(4, tokens=3).jacobian_input(X)
    assert np.linalg.matrix_rank(jn.Dense(4, 3, tokens=3, seed=1).jacobian_input(jn.LayerNorm(4, tokens=3).forward(X)) @ pair) == 9
    assert np.allclose(big[:6], small[:6], rtol=1e-4)
    assert np.allclose(big[6:] / small[6:], 1e4, rtol=1e-3)


def test_the_lesson_forms_the_pair_as_jn_depth_does():
    X = np.random.default_rng(0).normal(size=12)
    net = jn.Network([jn.LayerNorm(4, tokens=3), jn.Dense(4, 3, tokens=3, seed=1)], jn.MSE())
    assert rel_error(jn.depth.singular_values(net, X).values[-1], lesson_pair_singular_values(1e-5)) < 1e-12


@pytest.mark.parametrize("T, n, m, seed", [(2, 5, 2, 0), (3, 4, 3, 1), (2, 6, 5, 2), (3, 3, 4, 3)])
def test_rank_in_the_limit_is_tokens_times_min_of_out_and_n_minus_2(T, n, m, seed):
    values = lesson_pair_singular_values(1e-9, T, n, m, seed + 10)
    assert int(np.sum(values > 1e-4 * values[0])) == T * min(m, n - 2)


# --- sections 5 to 7: attention ---------------------------------------------------------------

def three_terms(att: jn.SelfAttention, x: np.ndarray) -> np.ndarray:
    """The lesson's formula of every block, values + query (diagonal blocks) + key, from the forward quantities."""
    T, d, h = att.tokens, att.d_model, att.d_head
    s = att.state(x)
    A, V, Q, K, r = s.A, s.V, s.Q, s.K, 1 / np.sqrt(h)
    Y = A @ V
    C = A[:, :, None] * (V[None, :, :] - Y[:, None, :])          # C_{t,w,a}
    J = np.einsum("ts,ac->tasc", A, att.W_v)
    J += np.einsum("tsa,tc->tasc", C, r * Q @ att.W_k)
    for t in range(T):
        J[t, :, t, :] += r * np.einsum("wa,wc->ac", C[t], K @ att.W_q)
    return J.reshape(T * h, T * d)


@pytest.mark.parametrize("T, d, h, causal, seed", [(3, 4, 2, False, 0), (4, 3, 2, True, 2), (3, 2, 3, True, 5), (2, 5, 1, False, 7)])
def test_attention_jacobian_is_values_plus_query_plus_key(T, d, h, causal, seed):
    att = jn.SelfAttention(T, d, h, causal=causal, seed=seed)
    x = np.random.default_rng(seed + 1).normal(size=T * d)
    J = att.jacobian_input(x)
    assert J.shape == (T * h, T * d)
    assert rel_error(J, three_terms(att, x)) < 1e-13
    assert rel_error(J, jacobian_fd(att.forward, x)) < FD_TOL


@pytest.mark.parametrize("causal", [False, True])
def test_without_scores_attention_is_A_kron_W_v(causal):
    T, d = 3, 4
    att = jn.SelfAttention(T, d, 2, causal=causal, seed=0)
    att.W_q = np.zeros((2, d))
    x = np.random.default_rng(5).normal(size=T * d)
    A = att.state(x).A
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None] if causal else np.full((T, T), 1 / T)
    assert np.allclose(A, uniform, rtol=1e-15, atol=0)
    assert np.array_equal(att.jacobian_input(x), np.kron(A, att.W_v))
    assert rel_error(jn.SelfAttention(T, d, 2, causal=causal, seed=0).jacobian_input(x), np.kron(A, att.W_v)) > 1e-3  # the scores matter


def test_the_folded_softmax_is_softmax_jacobian_times_V():
    T, d = 3, 4
    att = jn.SelfAttention(T, d, 2, seed=1)
    x = np.random.default_rng(0).normal(size=T * d)
    state = att.state(x)
    S = state.Q @ state.K.T / np.sqrt(att.d_head)
    assert att.d_head == 2
    C = state.folded()
    assert C.shape == (T, T, att.d_head)
    assert rel_error(C, state.A[:, :, None] * (state.V[None, :, :] - (state.A @ state.V)[:, None, :])) < 1e-15  # A_tw (V_wa − Y_ta)
    for t in range(T):
        op = jn.Softmax().jacobian_input_op(S[t])
        assert isinstance(op, jn.DiagMinusOuter)
        a = state.A[t]
        assert rel_error(op.dense(), np.diag(a) - np.outer(a, a)) < 1e-14
        assert rel_error(state.folded()[t], op.dense() @ state.V) < 1e-13


@pytest.mark.parametrize("T, d, h, seed", [(4, 3, 2, 2), (5, 2, 3, 0)])
def test_causal_attention_is_zero_above_the_block_diagonal(T, d, h, seed):
    att = jn.SelfAttention(T, d, h, causal=True, seed=seed)
    x = np.random.default_rng(seed + 1).normal(size=T * d)
    J, A = att.jacobian_input(x), att.state(x).A
    assert np.array_equal(A, np.tril(A))
    for t in range(T):
        for u in range(T):
            block = J[t * h:(t + 1) * h, u * d:(u + 1) * d]
            assert (not block.any()) if u > t else block.any()


def test_exercise_3_reference_answer_the_first_token_sees_only_itself():
    causal = jn.SelfAttention(4, 3, 2, causal=True, seed=2)
    X = np.random.default_rng(3).normal(size=12)
    rows = causal.jacobian_input(X)[:2]
    reference = np.hstack([causal.W_v, np.zeros((2, 9))])
    assert np.array_equal(rows, reference)                              # A_11 = 1 and softmax of one score has slope 0
    assert feedback.check_matrix(reference, rows).ok
    for wrong in (np.hstack([causal.W_v] * 4), np.hstack([causal.W_q, np.zeros((2, 9))]), np.zeros((2, 12)), causal.W_v.T):
        assert not feedback.check_matrix(wrong, rows).ok


# --- the notebook: what would give an answer away is the teacher's only ------------------------------


def test_the_cells_that_explain_an_answer_are_teacher_only():
    """Ex. 1's ε = 0 limit, Ex. 2's "rank 2 per token, 3 · 2 = 6" and Ex. 3's A and heatmap are tagged "solution"."""
    cells, text = source.cells(11), source.text
    solution = [text(c) for c in cells if "solution" in source.tags(c)]
    student = "\n".join(text(c) for c in cells if "solution" not in source.tags(c))
    for giveaway in ("the Jacobian would be zero", "3 \\cdot 2 = 6", 'print("A =\\n", causal.state(X_c).A)'):
        assert any(giveaway in t for t in solution) and giveaway not in student, giveaway
    assert "spy=True" in student  # the causal mask's pattern stays in the student's edition, without the values
    code = source.code(11)
    assert "np.sqrt(att.d_head)" in code and "/ np.sqrt(2)" not in code
