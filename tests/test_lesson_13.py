"""Lesson 13 (curvature): every fact the lesson states, recomputed with package calls.

The lesson's networks are rebuilt with the same constructor calls as the notebook
(:func:`test_the_notebook_sets_up_what_these_tests_recompute` holds the two to the same
lines). Each test asserts what a section says: the Hessian of a tiny network and its two
independent checks; the softmax Jacobian as the cross-entropy Hessian in the logits; the
Gauss–Newton and residual parts; HVPs and power iteration; and lesson 8's loss spike —
``λ_max`` crossing ``2(1+μ)/η`` at step 118, peaking at 17.26 at step 131, the loss jumping
at steps 133–134 — plus each exercise's answer key and the slips it must catch.
"""

from __future__ import annotations

import lesson_source as source
import numpy as np
import pytest

import jacobnet as jn
from jacobnet.course import exercises, feedback
from jacobnet.course.data import one_hot, two_spirals
from jacobnet.course.predict import with_params

SETUP = [  # lines of the notebook whose objects the tests below rebuild
    "X6, labels6 = two_spirals(3, seed=0)",
    'net = jn.build_network("2,3,2", activation="tanh", loss="softmax-ce", seed=0)',
    "yhat_ce, y_ce = np.array([0.2, 0.5, 0.3]), np.array([0.1, 0.7, 0.2])",
    'net3 = jn.build_network("2,5,3", activation="tanh", loss="softmax-ce", seed=1)',
    "X4, Y4 = np.random.default_rng(1).standard_normal((4, 2)), one_hot(np.array([0, 1, 2, 1]), 3)",
    "X, labels = two_spirals(100, turns=1.5, noise=0.05, seed=0)",
    'spiral = jn.build_network([2, 16, 16, 2], activation="tanh", loss="softmax-ce", seed=0)',
    "eta, mu = 0.3, 0.9",
    "history = jn.train(spiral, X, Y, steps=600, lr=eta, momentum=mu, eval_every=1, progress=False)",
    "top = twin.top_eigenvalue(X, Y, v, tol=1e-9)",
]
ANSWERS = {  # exercise → its answer line in the notebook (the reference answers recomputed below)
    1: "answer_H_ce = np.diag(y_ce / yhat_ce**2)",
    2: "answer_rank = 4 * (3 - 1)",
    3: "answer_T = np.array([[1 - eta * lam_peak, mu], [-eta * lam_peak, mu]])",
}
ETA, MU = 0.3, 0.9
BOUND = 2 * (1 + MU) / ETA


def test_the_notebook_sets_up_what_these_tests_recompute():
    code = source.code(13)
    for line in SETUP + list(ANSWERS.values()):
        assert line in code, line


# --- 1. the Hessian of a tiny network ---------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    X6, labels6 = two_spirals(3, seed=0)
    Y6 = one_hot(labels6, 2)
    net = jn.build_network("2,3,2", activation="tanh", loss="softmax-ce", seed=0)
    return net, X6, Y6, net.hessian(X6, Y6, parts=True)


def test_the_tiny_hessian_is_17_by_17_symmetric_and_in_layer_blocks(tiny):
    net, X6, Y6, parts = tiny
    assert net.n_params == 17 == (3 * 2 + 3) + (2 * 3 + 2) and X6.shape == (6, 2)
    assert [s.stop - s.start for s in parts.slices] == [9, 8] and parts.names == ["Dense 1", "Dense 2"]
    H = net.hessian(X6, Y6)
    assert H.shape == (17, 17) and np.array_equal(H, parts.total)
    assert np.abs(H - H.T).max() <= 1e-15


def test_the_tiny_hessian_agrees_with_central_differences_and_sympy(tiny):
    net, X6, Y6, parts = tiny
    H_fd = jn.jacobian_fd(lambda t: with_params(net, t).gradient(X6, Y6), net.get_params())
    assert jn.rel_error(parts.total, H_fd) < 1e-8
    assert jn.rel_error(parts.total, jn.symbolic.symbolic_hessian_at(net, X6, Y6)) < 1e-13


# --- 2. the softmax Jacobian is the cross-entropy Hessian in the logits ----------------------------
@pytest.mark.parametrize("z", [np.array([0.0012, -0.0014]), np.array([1.5, -0.3, 0.2]), np.array([3.0, -2.0, 0.5, 0.1, -1.0])])
def test_the_cross_entropy_hessian_in_the_logits_is_the_softmax_jacobian(z):
    loss, n = jn.SoftmaxCrossEntropy(), len(z)
    J_softmax = jn.Softmax().jacobian_input(z)
    for k in range(n):  # whatever the one-hot target
        y = np.eye(n)[k]
        H_loss = loss.hessian_op(z, y).dense()
        assert np.abs(H_loss - J_softmax).max() <= 1e-16
        assert jn.rel_error(H_loss, jn.jacobian_fd(lambda u, y=y: loss.jacobian(u, y)[0], z)) < 1e-8
    s = jn.Softmax().forward(z)
    assert jn.rel_error(J_softmax, np.diag(s) - np.outer(s, s)) < 1e-15
    ev = np.linalg.eigvalsh(J_softmax)
    assert ev[0] > -1e-15 and np.abs(J_softmax @ np.ones(n)).max() < 1e-16  # PSD, null vector 1
    assert np.sum(ev > 1e-12) == n - 1


def test_the_lessons_logits_and_target(tiny):
    net, X6, Y6, _ = tiny
    z = net.forward(X6[0])
    H_loss = net.loss_fn.hessian_op(z, Y6[0]).dense()
    assert np.array_equal(H_loss, net.loss_fn.hessian_op(z, 1 - Y6[0]).dense())  # "with the other target": no change
    assert np.abs(H_loss - jn.Softmax().jacobian_input(z)).max() == 0.0


def test_exercise_1_the_cross_entropy_hessian_on_probabilities():
    yhat, y = np.array([0.2, 0.5, 0.3]), np.array([0.1, 0.7, 0.2])
    key = np.diag(y / yhat**2)
    H_ref = jn.CrossEntropy().hessian_op(yhat, y).dense()
    assert feedback.check_matrix(key, H_ref).ok
    H_fd = jn.jacobian_fd(lambda u: jn.CrossEntropy().jacobian(u, y)[0], yhat)
    assert jn.rel_error(key, H_fd) < 1e-8  # independent of the package's closed form
    assert not np.allclose(jn.CrossEntropy().hessian_op(yhat, np.array([0.7, 0.1, 0.2])).dense(), key)  # it depends on y
    softmax_jacobian = np.diag(yhat) - np.outer(yhat, yhat)  # the other loss's H_ℓ (ŷ is a softmax output)
    for slip in (np.diag(y / yhat), np.diag(-y / yhat**2), np.diag(1 / yhat**2), softmax_jacobian):
        assert not feedback.check_matrix(slip, H_ref).ok


# --- 3. Gauss–Newton plus a residual ---------------------------------------------------------------
def test_gauss_newton_from_its_factors_and_the_decomposition(tiny):
    net, X6, Y6, parts = tiny
    J = net.output_jacobian(X6)
    H_l = net.loss_fn.hessian_op(net.forward(X6), Y6).dense()
    assert J.shape == (6, 2, 17) and H_l.shape == (6, 2, 2)
    GN = np.einsum("bki,bkl,blj->ij", J, H_l, J) / len(X6)
    assert jn.rel_error(GN, parts.gauss_newton) < 1e-14
    assert parts.gap < 1e-14


def test_gauss_newton_is_psd_of_low_rank_and_the_hessian_is_not(tiny):
    net, X6, Y6, parts = tiny
    ev_H, ev_GN = np.linalg.eigvalsh(parts.total), np.linalg.eigvalsh(parts.gauss_newton)
    assert ev_GN[0] > -1e-14 * ev_GN[-1]
    assert ev_H[0] < -0.1  # H has clearly negative eigenvalues
    assert np.linalg.matrix_rank(parts.gauss_newton) == 6 == len(X6) * (2 - 1) < net.n_params


def test_the_residual_vanishes_in_the_last_layers_own_block(tiny):
    net, X6, Y6, parts = tiny
    (s1, s2) = parts.slices
    assert np.abs(parts.residual[s2, s2]).max() == 0.0
    for rows, cols in ((s1, s1), (s1, s2), (s2, s1)):
        assert np.abs(parts.residual[rows, cols]).max() > 1e-2


def test_exercise_2_the_rank_of_gauss_newton():
    net3 = jn.build_network("2,5,3", activation="tanh", loss="softmax-ce", seed=1)
    X4, Y4 = np.random.default_rng(1).standard_normal((4, 2)), one_hot(np.array([0, 1, 2, 1]), 3)
    assert net3.n_params == 33
    GN = net3.gauss_newton(X4, Y4)
    rank = np.linalg.matrix_rank(GN)
    assert rank == 4 * (3 - 1)
    sv = np.linalg.svd(GN, compute_uv=False)
    assert sv[rank - 1] > 1e8 * sv[rank]  # a clear gap: the rank is not a tolerance artefact
    for slip in (4, 4 * 3, 33):
        assert not feedback.check_number(slip, rank).ok


# --- 4. HVPs and power iteration ------------------------------------------------------------------
def test_hvps_equal_the_matrix_products(tiny):
    net, X6, Y6, parts = tiny
    v = np.random.default_rng(0).standard_normal(net.n_params)
    assert jn.rel_error(net.hvp(X6, Y6, v), parts.total @ v) < 1e-14
    assert jn.rel_error(net.hvp(X6, Y6, v, part="gauss_newton"), parts.gauss_newton @ v) < 1e-14
    assert jn.rel_error(net.hvp(X6, Y6, v, part="residual"), parts.residual @ v) < 1e-14
    assert (1e6) ** 2 * 8 == 8e12  # "a million parameters would need 8 TB"


def test_power_iteration_finds_the_positive_end_of_the_spectrum(tiny):
    net, X6, Y6, parts = tiny
    ev = np.linalg.eigvalsh(parts.total)
    assert ev[-1] > abs(ev[0])  # the largest in size is λ_max
    u = np.ones(net.n_params)
    for _ in range(30):
        Hu = net.hvp(X6, Y6, u)
        lam, u = u @ Hu / (u @ u), Hu / np.linalg.norm(Hu)
    assert abs(lam - ev[-1]) < 1e-12 * ev[-1]


# --- 5. lesson 8's loss spike -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def spike():
    X, labels = two_spirals(100, turns=1.5, noise=0.05, seed=0)
    Y = one_hot(labels, 2)
    spiral = jn.build_network([2, 16, 16, 2], activation="tanh", loss="softmax-ce", seed=0)
    history = jn.train(spiral, X, Y, steps=600, lr=ETA, momentum=MU, eval_every=1, progress=False)
    twin = with_params(spiral, history.params[0])
    v = np.random.default_rng(0).standard_normal(spiral.n_params)
    lam_max = np.empty(len(history.params))
    for k, theta_k in enumerate(history.params):
        twin.set_params(theta_k)
        previous = np.inf
        for _ in range(100):
            Hv = twin.hvp(X, Y, v)
            lam_max[k], v = v @ Hv / (v @ v), Hv / np.linalg.norm(Hv)
            if abs(lam_max[k] - previous) <= 1e-9 * abs(lam_max[k]):
                break
            previous = lam_max[k]
    return spiral, X, Y, history, lam_max[:-1]


def test_the_packages_power_iteration_tracks_the_same_curvature(spike):
    """net.top_eigenvalue, warm-started as the lesson does, gives the plain loop's λ_max at the crossing and the peak."""
    spiral, X, Y, history, lam_step = spike
    twin, v = with_params(spiral, history.params[0]), None
    for k in range(135):  # steps 1 … 135: past the peak
        twin.set_params(history.params[k])
        top = twin.top_eigenvalue(X, Y, v, tol=1e-9)
        v = top.vector
        assert top.converged and abs(top.value - lam_step[k]) <= 1e-7 * abs(lam_step[k])


def exact_lambda_max(spiral, X, Y, theta) -> float:
    return float(np.linalg.eigvalsh(with_params(spiral, theta).hessian(X, Y))[-1])


def test_the_training_is_lesson_8s(spike):
    spiral, X, Y, history, _ = spike
    assert spiral.n_params == 354 and len(history.params) == 601 and history.full_batch
    lesson8 = jn.train(jn.build_network([2, 16, 16, 2], activation="tanh", loss="softmax-ce", seed=0), X, Y,
                       steps=600, lr=ETA, momentum=MU, mode="materialised", progress=False)
    assert np.allclose(lesson8.batch_loss, history.batch_loss, rtol=1e-8, atol=0)
    assert abs(BOUND - 12.667) < 5e-4


def test_lambda_max_crosses_the_bound_at_step_118_and_peaks_at_17_26_at_step_131(spike):
    spiral, X, Y, history, lam_step = spike
    cross = int(np.argmax(lam_step > BOUND)) + 1
    peak = int(np.argmax(lam_step)) + 1
    assert (cross, peak) == (118, 131)
    assert round(lam_step[peak - 1], 2) == 17.26
    exact = {step: exact_lambda_max(spiral, X, Y, history.params[step - 1]) for step in (cross - 1, cross, peak, peak + 1)}
    for step, value in exact.items():  # power iteration = the full Hessian's eigvalsh
        assert abs(lam_step[step - 1] - value) < 1e-7 * BOUND
    assert exact[cross - 1] < BOUND < exact[cross] and exact[peak + 1] < exact[peak]
    assert np.all(np.diff(lam_step[20:peak]) > 0)  # from step 21 on, λ_max rises at every step until the peak
    assert round(lam_step[0], 3) == 0.816


def test_the_loss_spikes_at_steps_133_and_134(spike):
    _, _, _, history, lam_step = spike
    loss = np.array(history.batch_loss)
    spike_step, top = int(np.argmax(np.diff(loss))) + 2, int(np.argmax(loss)) + 1
    assert (spike_step, top) == (133, 134) and round(loss[top - 1], 3) == 1.461
    cross = int(np.argmax(lam_step > BOUND)) + 1
    assert spike_step - cross > 12  # "more than a dozen steps after the crossing"
    assert np.all(np.diff(loss[cross - 1 : cross + 11]) < 0)  # "nothing shows for about a dozen steps": the loss still falls
    g = np.array(history.grad_norm)
    assert g[spike_step - 1] > 100 * g[cross - 1]  # ‖g‖ grew with the unstable component


def test_above_the_bound_once_then_never_again(spike):
    _, _, _, _, lam_step = spike
    above = np.flatnonzero(lam_step > BOUND) + 1
    assert above[0] == 118 and above[-1] == 132 and np.all(np.diff(above) == 1)
    assert lam_step[above[-1]:].max() < BOUND


def growth(lam: float) -> float:
    """ρ(T): the largest root in size of r² − (1 + μ − ηλ) r + μ."""
    return float(np.abs(np.roots([1.0, -(1 + MU - ETA * lam), MU])).max())


def test_exercise_3_the_jacobian_of_one_step_and_its_spectral_radius(spike):
    _, _, _, _, lam_step = spike
    lam_peak = float(lam_step.max())
    key = np.array([[1 - ETA * lam_peak, MU], [-ETA * lam_peak, MU]])
    step = lambda s: np.array([s[0] + (MU * s[1] - ETA * lam_peak * s[0]), MU * s[1] - ETA * lam_peak * s[0]])  # noqa: E731
    assert exercises.check_function_jacobian(key, step, np.zeros(2)).ok
    for slip in (key.T, np.array([[1 - ETA * lam_peak, MU], [ETA * lam_peak, MU]]), np.array([[1 + MU - ETA * lam_peak, -MU], [1.0, 0.0]])):
        assert not exercises.check_function_jacobian(slip, step, np.zeros(2)).ok
    assert np.allclose(np.sort_complex(np.linalg.eigvals(key)), np.sort_complex(np.roots([1.0, -(1 + MU - ETA * lam_peak), MU])))
    eig = np.linalg.eigvals(key)
    assert np.all(np.isreal(eig)) and np.all(eig.real < 0)  # "changing sign each time"
    assert round(growth(lam_peak), 3) == 2.976  # "nearly triples per step"


def test_the_growth_factor_passes_1_exactly_at_the_bound(spike):
    _, _, _, _, lam_step = spike
    for lam in np.linspace(0.1, 3 * BOUND, 301):
        if abs(lam - BOUND) > 1e-9:
            assert (growth(lam) > 1 + 1e-12) == (lam > BOUND), lam
    assert abs(growth(BOUND) - 1) < 1e-7
    cross, peak = int(np.argmax(lam_step > BOUND)) + 1, int(np.argmax(lam_step)) + 1
    rho = np.array([growth(lam) for lam in lam_step])
    assert rho[cross - 2] < 1 < rho[cross - 1] < 1.1  # "a few percent per step" just past the crossing
    assert 1e4 <= np.prod(rho[cross - 1 : peak]) < 1e5  # "a factor of order 10⁴"
