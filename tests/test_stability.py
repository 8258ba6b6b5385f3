"""Inputs up to ±1000: finite values, Jacobians and gradients, and not one warning.

Sigmoid, Softplus, Softmax and SoftmaxCrossEntropy are the functions whose
naive forms overflow (``e^{1000}``) or lose everything (``log(1 + e^{-1000})``,
``1 − σ(1000)``); each is checked alone, on batches, and inside a whole
network whose pre-activations reach ±1000. Every check runs under
:func:`strategies.no_warnings` (overflow, division by zero and invalid
operations raise; only the harmless underflow ``e^{−1000} → 0`` is allowed).
"""

from __future__ import annotations

import autograd
import mpmath
import numpy as np
import pytest
import reference as ref
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, arrays, floats, no_warnings

import jacobnet as jn
from jacobnet.check import rel_error

EPS = np.finfo(np.float64).eps
EXTREMES = np.array([-1000.0, -999.0, -745.0, -710.0, -40.0, -1e-300, 0.0, 1e-300, 40.0, 710.0, 745.0, 999.0, 1000.0])
LAYERS = [jn.Sigmoid(), jn.Softplus(), jn.Softmax(), jn.Tanh(), jn.ReLU(), jn.LeakyReLU(0.1)]


@pytest.mark.parametrize("layer", LAYERS, ids=repr)
def test_layers_at_extremes_are_finite_and_silent(layer: jn.Layer) -> None:
    batch = np.stack([EXTREMES, -EXTREMES, np.roll(EXTREMES, 3)])
    for x in (EXTREMES, batch):
        with no_warnings():
            out, J = layer.forward(x), layer.jacobian_input(x)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(J))


def test_sigmoid_and_softplus_limits_exactly() -> None:
    x = np.array([-1000.0, 1000.0])
    with no_warnings():
        np.testing.assert_array_equal(jn.Sigmoid().forward(x), [0.0, 1.0])
        np.testing.assert_array_equal(jn.Softplus().forward(x), [0.0, 1000.0])  # log(1 + e^{1000}) = 1000 + log(1 + e^{−1000})
        np.testing.assert_array_equal(np.diag(jn.Softplus().jacobian_input(x)), [0.0, 1.0])
        # σ(−40) = e^{−40}/(1 + e^{−40}) ≈ 4.248e-18 keeps its digits (no 1 − σ(40) cancellation)
        assert jn.Sigmoid().forward(np.array([-40.0]))[0] == pytest.approx(float(1 / (1 + mpmath.exp(40))), rel=1e-15)


@pytest.mark.parametrize("z, s", [
    ([0.0, 0.0, 1000.0], [0.0, 0.0, 1.0]),
    ([1000.0, 1000.0, -1000.0], [0.5, 0.5, 0.0]),
    ([-1000.0, -1000.0], [0.5, 0.5]),
    ([1000.0], [1.0]),  # width 1: s = 1, J = 0
])
def test_softmax_at_extremes_exactly(z, s) -> None:
    with no_warnings():
        got, J = jn.Softmax().forward(np.array(z)), jn.Softmax().jacobian_input(np.array(z))
    np.testing.assert_array_equal(got, s)
    np.testing.assert_array_equal(J, np.diag(s) - np.outer(s, s))  # e.g. [[¼, −¼, 0], [−¼, ¼, 0], [0, 0, 0]]


def exact_softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """diag(s) − s sᵀ at 50 digits (mpmath), rounded to float64."""
    with mpmath.workdps(50):
        e = [mpmath.exp(mpmath.mpf(float(v)) - mpmath.mpf(float(z.max()))) for v in z]
        total = mpmath.fsum(e)
        s = [v / total for v in e]
        return np.array([[float((s[i] if i == j else 0) - s[i] * s[j]) for j in range(len(z))] for i in range(len(z))])


@FAST
@given(st.integers(1, 6).flatmap(lambda n: arrays((n,), floats(-1000, 1000))))
def test_softmax_jacobian_error_is_a_few_eps_absolute_even_when_saturated(z: np.ndarray) -> None:
    """Saturated logits make every entry of J tiny; its error stays ≤ 4ε in absolute terms.

    (Not relative: with s₁ ≈ 1 − 1e-13, s₁(1 − s₁) inherits s₁'s rounding, ≈ ε,
    a large relative error on a 1e-13 entry — in autograd's reference just as in
    jacobnet. Unsaturated logits are held to rel_error ≤ 1e-12 in test_layers.)
    """
    with no_warnings():
        J = jn.Softmax().jacobian_input(z)
    assert np.max(np.abs(J - exact_softmax_jacobian(z))) <= 4 * EPS


SCE_BATCH = np.array([[0.0, 0.0, 1000.0], [-1000.0, 1000.0, 0.0], [1000.0, 1000.0, 1000.0], [-1000.0, -1000.0, -1000.0]])


def test_softmax_cross_entropy_on_an_extreme_batch() -> None:
    Y = np.eye(3)[[0, 1, 2, 0]]
    loss = jn.SoftmaxCrossEntropy()
    with no_warnings():
        per, J = loss.per_sample(SCE_BATCH, Y), loss.jacobian(SCE_BATCH, Y)
    # L = logsumexp(z) − z_target: 1000 − 0; 1000 − 1000; 1000 + log 3 − 1000; −1000 + log 3 + 1000
    np.testing.assert_allclose(per, [1000.0, 0.0, np.log(3.0), np.log(3.0)], rtol=1e-15, atol=1e-13)
    assert loss.forward(SCE_BATCH, Y) == pytest.approx((1000 + 2 * np.log(3.0)) / 4, rel=1e-15)
    np.testing.assert_allclose(J[:, 0, :], [[-1, 0, 1], [0, 0, 0], [1 / 3, 1 / 3, -2 / 3], [-2 / 3, 1 / 3, 1 / 3]], atol=1e-15)
    assert rel_error(J[:, 0, :], autograd.jacobian(lambda Z: ref.softmax_cross_entropy(Z, Y).sum())(SCE_BATCH)) <= 1e-12


def extreme_network(final: str) -> tuple[jn.Network, np.ndarray, np.ndarray]:
    """Pre-activations beyond ±1000: 3 → 4 sigmoid → 4 softplus → 2 (→ softmax for CE)."""
    d1, d2, d3 = jn.Dense(3, 4), jn.Dense(4, 4), jn.Dense(4, 2)
    d1.set_params(np.concatenate([500.0 * np.array([[1, -1, 0], [0, 2, -1], [-1, 0, 1], [1, 1, 1]]).ravel(), [0, 0, 0, 1]]))
    d2.set_params(np.concatenate([np.array([[800, -900, 1, 0], [0, 1, 0, -1], [-1000, 0, 0, 1], [1, 1, 1, 1]]).ravel(), np.zeros(4)]))
    d3.set_params(np.concatenate([np.array([[1, -1, 0, 0.5], [-1, 1, 0.5, 0]]).ravel(), [0.0, 0.0]]))
    layers = [d1, jn.Sigmoid(), d2, jn.Softplus(), d3]
    if final == "ce":
        # pre-activations ±2500 but logits ≈ (2.1, −0.3): a saturated softmax would leave CE
        # with a zero gradient (J_softmax = 0) or an infinite loss (log 0), neither worth testing
        return jn.Network([*layers, jn.Softmax()], jn.CrossEntropy()), np.array([-2.0, 1.0, 3.0]), np.array([0.0, 1.0])
    return jn.Network(layers, jn.SoftmaxCrossEntropy()), np.array([[1.0, -1.0, 0.5], [-2.0, 1.0, 3.0]]), np.eye(2)


@pytest.mark.parametrize("final", ["softmax-ce", "ce"])
def test_a_whole_network_at_extremes(final: str) -> None:
    net, x, y = extreme_network(final)
    with no_warnings():
        acts = net.activations(x)
        g = net.gradient(x, y)
        g_mat = net.gradient(x, y, mode="materialised")
        loss = net.loss(x, y)
        trace = net.trace(x, y)
    assert np.max(np.abs(acts[1])) >= 1000  # really extreme: σ(±2500), softplus(800), logits ±800 for softmax-ce
    assert final == "ce" or np.max(np.abs(acts[-1])) >= 500
    assert np.isfinite(loss) and np.all(np.isfinite(g)) and np.all(np.isfinite(g_mat))
    assert all(np.all(np.isfinite(p.value)) for p in trace.products)
    assert rel_error(g_mat, g) <= 1e-12
    want = autograd.grad(ref.network_loss(net))(net.get_params(), x, y)
    assert rel_error(g, want) <= 1e-10
    assert np.count_nonzero(g) > 0  # not a vacuous all-zero gradient
