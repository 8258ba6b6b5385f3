"""MSE, CrossEntropy and SoftmaxCrossEntropy: values and ``(1, n)`` Jacobian rows.

Against central differences (``rel_error ≤ 1e-7``) and ``autograd.jacobian``
of the independent reference (``≤ 1e-12``), with one-hot and distribution
targets, on batches (the mean of the per-sample losses, and the stacked
per-sample rows), and at logits ±1000 without a single warning.
"""

from __future__ import annotations

import autograd
import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, FD_LIMIT, arrays, batch_sizes, floats, no_warnings, targets, widths

import jacobnet as jn
from jacobnet.check import jacobian_fd, rel_error

FD_TOL = 1e-7
AD_TOL = 1e-12
LOSSES = {"mse": jn.MSE, "ce": jn.CrossEntropy, "softmax-ce": jn.SoftmaxCrossEntropy}
REFS = {"mse": ref.mse, "ce": ref.cross_entropy, "softmax-ce": ref.softmax_cross_entropy}


def predictions(loss: str, shape: tuple[int, ...], fd: bool) -> st.SearchStrategy[np.ndarray]:
    """MSE: any reals; CE: probabilities in (0, 1] (in [0.05, 0.95] for FD, whose absolute
    step ≈ 6e-6 must stay ≪ ŷ — its error is ≈ (h/ŷ)²/3 — and inside the domain ŷ ≤ 1);
    softmax-CE: logits."""
    if loss == "ce":
        return arrays(shape, floats(0.05, 0.95) if fd else floats(1e-300, 1.0))
    lim = FD_LIMIT if fd else 1000.0
    if loss == "softmax-ce" and not fd:  # logits up to ±1000, spread ≤ 6 (see test_stability for saturation)
        return st.tuples(floats(-1000, 1000), arrays(shape, floats(-3, 3))).map(lambda t: t[0] + t[1])
    return arrays(shape, floats(-lim, lim))


@st.composite
def cases(draw: st.DrawFn, fd: bool, batch: bool = False):
    name = draw(st.sampled_from(list(LOSSES)))
    n = draw(widths)
    shape = (draw(batch_sizes), n) if batch else (n,)
    yhat = draw(predictions(name, shape, fd))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = targets(name, yhat, rng, one_hot=draw(st.booleans()))
    return name, yhat, y


def ad_row(name: str, yhat: np.ndarray, y: np.ndarray) -> np.ndarray:
    return autograd.jacobian(lambda v: REFS[name](v, y))(yhat)[None, :]


@FAST
@given(cases(fd=True))
def test_value_and_jacobian_against_fd_and_autograd(case) -> None:
    name, yhat, y = case
    loss = LOSSES[name]()
    J = loss.jacobian(yhat, y)
    assert J.shape == (1, yhat.size) and J.dtype == np.float64
    assert rel_error(J, jacobian_fd(lambda v: loss.forward(v, y), yhat)) <= FD_TOL
    assert rel_error(J, ad_row(name, yhat, y)) <= AD_TOL
    value = loss.forward(yhat, y)
    assert isinstance(value, float)
    assert rel_error(np.array(value), np.array(REFS[name](yhat, y))) <= AD_TOL


@FAST
@given(cases(fd=False))
def test_value_and_jacobian_against_autograd_on_wide_inputs(case) -> None:
    name, yhat, y = case
    loss = LOSSES[name]()
    with no_warnings():
        J, value = loss.jacobian(yhat, y), loss.forward(yhat, y)
    assert rel_error(J, ad_row(name, yhat, y)) <= AD_TOL
    assert rel_error(np.array(value), np.array(REFS[name](yhat, y))) <= AD_TOL


@FAST
@given(cases(fd=True, batch=True))
def test_batch_is_the_mean_and_rows_are_stacked(case) -> None:
    name, Yhat, Y = case
    loss = LOSSES[name]()
    B, n = Yhat.shape
    singles = [loss.forward(a, b) for a, b in zip(Yhat, Y)]
    assert loss.forward(Yhat, Y) == pytest.approx(np.mean(singles), rel=1e-14, abs=1e-300)
    np.testing.assert_array_equal(loss.per_sample(Yhat, Y), singles)
    J = loss.jacobian(Yhat, Y)
    assert J.shape == (B, 1, n)
    for b in range(B):
        assert rel_error(J[b], loss.jacobian(Yhat[b], Y[b])) <= 1e-15
    # the gradient of the batch MEAN w.r.t. every prediction is the stacked rows / B
    fd = jacobian_fd(lambda v: loss.forward(v.reshape(B, n), Y), Yhat.ravel())
    assert rel_error(J[:, 0, :].ravel()[None, :] / B, fd) <= FD_TOL


@pytest.mark.parametrize("name", ["ce", "softmax-ce"])
def test_distribution_and_unnormalised_targets(name: str) -> None:
    """∂L/∂z of softmax-CE is (Σy) s − y: s − y only when the target sums to 1."""
    z = np.array([0.5, -1.0, 2.0, 0.0])
    yhat = z if name == "softmax-ce" else np.exp(z) / np.exp(z).sum()
    loss = LOSSES[name]()
    for y in (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 0.5, 0.5, 0.0]), np.array([2.0, 0.0, 1.0, 0.5])):
        assert rel_error(loss.jacobian(yhat, y), ad_row(name, yhat, y)) <= AD_TOL
        assert rel_error(loss.jacobian(yhat, y), jacobian_fd(lambda v, y=y: loss.forward(v, y), yhat)) <= FD_TOL


def test_cross_entropy_ignores_zero_probabilities_on_zero_targets() -> None:
    yhat, y = np.array([0.0, 0.25, 0.75]), np.array([0.0, 1.0, 0.0])
    loss = jn.CrossEntropy()
    with no_warnings():
        assert loss.forward(yhat, y) == pytest.approx(np.log(4.0), rel=1e-15)  # −log ¼
        np.testing.assert_array_equal(loss.jacobian(yhat, y), [[0.0, -4.0, 0.0]])  # −y/ŷ, 0 where y = 0


SCE_EXTREMES = [  # (logits, target, loss, ∂L/∂z) worked out: L = logsumexp(z) − Σ y z for Σy = 1
    ([0.0, 0.0, 1000.0], [1.0, 0.0, 0.0], 1000.0, [-1.0, 0.0, 1.0]),  # s = (0, 0, 1)
    ([0.0, 0.0, 1000.0], [0.0, 0.0, 1.0], 0.0, [0.0, 0.0, 0.0]),
    ([-1000.0, 1000.0], [1.0, 0.0], 2000.0, [-1.0, 1.0]),
    ([1000.0, 1000.0, 1000.0], [0.0, 1.0, 0.0], np.log(3.0), [1 / 3, -2 / 3, 1 / 3]),  # s = ⅓ each
    ([-1000.0, -1000.0], [0.5, 0.5], np.log(2.0), [0.0, 0.0]),
]


@pytest.mark.parametrize("z, y, value, row", SCE_EXTREMES)
def test_softmax_cross_entropy_at_plus_minus_1000(z, y, value, row) -> None:
    loss = jn.SoftmaxCrossEntropy()
    with no_warnings():
        got, J = loss.forward(np.array(z), np.array(y)), loss.jacobian(np.array(z), np.array(y))
    assert np.isfinite(got) and np.all(np.isfinite(J))
    assert got == pytest.approx(value, rel=1e-15, abs=1e-15)
    np.testing.assert_allclose(J, [row], rtol=1e-15, atol=1e-16)
    assert rel_error(J, ad_row("softmax-ce", np.array(z), np.array(y))) <= AD_TOL


def test_mse_at_plus_minus_1000() -> None:
    loss = jn.MSE()
    yhat, y = np.array([1000.0, -1000.0, 0.0]), np.array([-1000.0, 1000.0, 0.0])
    with no_warnings():
        assert loss.forward(yhat, y) == 8e6 / 3  # (2000² + 2000² + 0) / 3
        np.testing.assert_array_equal(loss.jacobian(yhat, y), [[4000 / 3, -4000 / 3, 0.0]])  # 2(ŷ − y)/n


def test_a_wrong_loss_row_fails_the_check() -> None:
    """A missing factor 2 or 1/n in MSE's row, or s instead of s − y, is far outside the tolerance."""
    yhat, y = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.0, 0.0])
    fd = jacobian_fd(lambda v: jn.MSE().forward(v, y), yhat)
    for wrong in ((yhat - y)[None] / 3, 2 * (yhat - y)[None], np.roll(jn.MSE().jacobian(yhat, y), 1)):
        assert rel_error(wrong, fd) > 1e3 * FD_TOL
    s = np.exp(yhat) / np.exp(yhat).sum()
    assert rel_error(s[None], ad_row("softmax-ce", yhat, y)) > 1e3 * FD_TOL
