"""Issue 15, the numeric classes: no NaN or inf in silence, and class indices as targets.

1. the cross-entropy row after a saturated softmax (``−y/ŷ`` beyond float64): right to high precision
   up to the edge, a named error beyond it, never NaN, never a warning;
6. a parameter written into in place (``layer.W[0, 0] = np.nan``) is named with its layer and entry;
   losses beyond float64 (logits ±1e308, MSE at 1e200) are errors from the loss doors, not NaN;
   first hour: class indices as targets for the cross-entropy losses.
"""

from __future__ import annotations

import re

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, arrays, floats, no_warnings

import jacobnet as jn
from jacobnet.check import rel_error
from jacobnet.core.losses import PredictionError

FLOAT_MAX = np.finfo(np.float64).max


# --- 1. the cross-entropy row after a saturated softmax ------------------------------------------
def identity_softmax_ce(n: int = 2) -> jn.Network:
    """The issue's reproducer: Dense with W = I, b = 0, then Softmax, then CrossEntropy: the logits are the input."""
    d = jn.Dense(n, n)
    d.W, d.b = np.eye(n), np.zeros(n)
    return jn.Network([d, jn.Softmax()], jn.CrossEntropy())


def exact_gradient(W: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """dL/dθ = [vec_r((s − y) xᵀ), s − y] and L = −Σ y log s of softmax(W x + b), at 60 digits (mpmath), rounded."""
    with mpmath.workdps(60):
        z = [mpmath.fsum(mpmath.mpf(float(W[i, j])) * mpmath.mpf(float(x[j])) for j in range(len(x))) + mpmath.mpf(float(b[i]))
             for i in range(len(b))]
        top = max(z)
        e = [mpmath.exp(v - top) for v in z]
        total = mpmath.fsum(e)
        s = [v / total for v in e]
        r = [s[i] - mpmath.mpf(float(y[i])) for i in range(len(s))]
        loss = -mpmath.fsum(mpmath.mpf(float(y[i])) * (z[i] - top - mpmath.log(total)) for i in range(len(s)))
        grad = [r[i] * mpmath.mpf(float(x[j])) for i in range(len(r)) for j in range(len(x))] + r
        return np.array([float(g) for g in grad]), float(loss)


@pytest.mark.parametrize("gap", [40.0, 300.0, 700.0, 708.0, 709.0, 709.7])
def test_up_to_the_edge_the_row_is_finite_and_the_gradient_right_to_high_precision(gap: float) -> None:
    net, x, y = identity_softmax_ce(), np.array([0.0, -gap]), np.array([0.0, 1.0])
    with no_warnings():
        g, g_mat, loss = net.gradient(x, y), net.gradient(x, y, mode="materialised"), net.loss(x, y)
        trace = net.trace(x, y)
    want, want_loss = exact_gradient(np.eye(2), np.zeros(2), x, y)
    assert rel_error(g, want) <= 1e-15 and rel_error(g_mat, want) <= 1e-15
    assert loss == pytest.approx(want_loss, rel=1e-15)
    assert all(np.all(np.isfinite(p.value)) for p in trace.products)
    assert np.abs(trace.factor("J_loss").dense()).max() > 1e17  # really −1/ŷ of a saturated softmax: huge, finite


@pytest.mark.parametrize("gap", [709.8, 710.0, 720.0, 745.0])
def test_beyond_the_edge_every_door_says_which_layer_and_what_to_use(gap: float) -> None:
    """The issue's reproducer (gap 710 gave [nan -inf nan nan inf nan] and three warnings): one named error instead."""
    net, x, y = identity_softmax_ce(), np.array([0.0, -gap]), np.array([0.0, 1.0])
    for call in (net.gradient, lambda a, b: net.gradient(a, b, mode="materialised"), net.trace, net.chain, net.hessian):
        with no_warnings(), pytest.raises(PredictionError) as err:
            call(x, y)
        msg = str(err.value)
        assert "CrossEntropy" in msg and "beyond float64" in msg and "ŷ is the output of Softmax 1" in msg
        assert "use SoftmaxCrossEntropy on the logits" in msg and len(msg) < 600
    with no_warnings():
        loss, s2 = net.loss(x, y), net.forward(x)[1]
    # the loss itself is finite, −log ŷ_2 of the network's own (subnormal) ŷ_2, as right as ŷ_2's last bit allows
    assert loss == pytest.approx(-np.log(s2), rel=1e-15) and abs(loss - gap) <= 1e-13 + 2 * 5e-324 / s2


def test_a_softmax_saturated_to_zero_is_an_infinite_loss_named_as_such() -> None:
    net, x, y = identity_softmax_ce(), np.array([0.0, -1000.0]), np.array([0.0, 1.0])
    for call in (net.loss, net.gradient, net.trace):
        with no_warnings(), pytest.raises(PredictionError, match=r"ŷ = 0 at index \(1,\) where the target is 1: the loss −y log ŷ is "
                                                                   r"infinite there .* use SoftmaxCrossEntropy on logits.*output of Softmax 1"):
            call(x, y)


def test_the_hessian_has_its_own_edge() -> None:
    """``y / ŷ²`` leaves float64 first, near ŷ ≈ 7.5e-155 (logits ≈ 354 apart): below it the row is fine, the Hessian refused."""
    net, y = identity_softmax_ce(), np.array([0.0, 1.0])
    with no_warnings():
        H = net.hessian(np.array([0.0, -300.0]), y)
        assert np.all(np.isfinite(H)) and net.gradient(np.array([0.0, -400.0]), y).shape == (6,)
        with pytest.raises(PredictionError, match=r"the Hessian entry y_\{2\}/ŷ_\{2\}² is beyond float64"):
            net.hessian(np.array([0.0, -400.0]), y)


@FAST
@given(n=st.integers(2, 4), B=st.integers(1, 3), scale=floats(1.0, 1000.0), seed=st.integers(0, 2**16), data=st.data())
def test_random_softmax_ce_networks_at_large_inputs_are_right_or_named(n, B, scale, seed, data) -> None:
    """The random sweep of the issue (it found the NaN at input scales 69–343): a right gradient or a named error, nothing else."""
    n_in = data.draw(st.integers(1, 3))
    d = jn.Dense(n_in, n, seed=seed)
    net = jn.Network([d, jn.Softmax()], jn.CrossEntropy())
    X = scale * data.draw(arrays((B, n_in), floats(-1, 1)))
    labels = data.draw(arrays((B,), st.integers(0, n - 1).map(float))).astype(int)
    Y = np.eye(n)[labels]
    try:
        with no_warnings():
            g = net.gradient(X, Y)
    except PredictionError as err:
        assert "Softmax 1" in str(err) and ("beyond float64" in str(err) or "infinite" in str(err))
        return
    want = np.mean([exact_gradient(d.W, d.b, X[k], Y[k])[0] for k in range(B)], axis=0)
    assert np.all(np.isfinite(g))
    assert np.max(np.abs(g - want)) <= 1e-13 * max(1.0, np.max(np.abs(want)))


# --- 6. a parameter written into in place ----------------------------------------------------------
def readme_network() -> tuple[jn.Network, np.ndarray, np.ndarray]:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    return net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])


@pytest.mark.parametrize("layer, name, index, label", [
    (0, "W", (0, 0), "W^{(1)}_{1,1} (W[0, 0])"),
    (0, "b", (3,), "b^{(1)}_{4} (b[3])"),
    (2, "W", (1, 2), "W^{(2)}_{2,3} (W[1, 2])"),
])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_nan_written_into_a_parameter_is_named_by_every_door(layer, name, index, label, bad) -> None:
    net, x, y = readme_network()
    getattr(net.layers[layer], name)[index] = bad
    who = f"Dense {1 if layer == 0 else 2}: the parameter {label} is {bad}"
    doors = [net.trace, net.chain, net.hessian, net.gauss_newton, net.per_sample_gradients]
    if np.isnan(bad) or layer == 2 or x[index[-1] if name == "W" else 0] == 0:
        doors += [net.gradient, net.loss, lambda a, b: net.forward(a)]  # (a NaN always reaches the output)
    for call in doors:
        with no_warnings(), pytest.raises(ValueError, match=re.escape(who)):
            call(x, y)
    dense = net.layers[layer]
    for call in (dense.forward, dense.jacobian_input, dense.jacobian_params):  # the layer's own doors, named as it knows itself
        with pytest.raises(ValueError, match=re.escape(f"{dense.name}: the parameter {name}_")):
            call(np.ones(dense.n_in))


def test_a_nan_through_a_block_and_a_shared_layer_is_named_by_its_position() -> None:
    shared = jn.Dense(2, 2, seed=3)
    net = jn.Network([jn.Dense(3, 2, seed=0), jn.Residual([jn.Dense(2, 2, seed=1), jn.Tanh()]), jn.Residual([shared]), shared],
                     jn.MSE())
    inner = net.layers[1].branches[-1][0]
    inner.W[1, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("Residual 1 › Dense 2: the parameter W^{(2)}_{2,2} (W[1, 1]) is nan")):
        net.gradient(np.ones(3), np.zeros(2))
    inner.W[1, 1] = 0.0
    shared.b[0] = np.nan
    with pytest.raises(ValueError, match=re.escape("Residual 2 › Dense 3: the parameter b^{(3)}_{1} (b[0]) is nan")):
        net.trace(np.ones(3), np.zeros(2))


def test_an_overflowing_forward_pass_names_the_layer_where_it_overflowed() -> None:
    d = jn.Dense(2, 2, seed=0)
    d.W = np.full((2, 2), 1e308)
    net = jn.Network([jn.Dense(2, 2, seed=1), d], jn.SoftmaxCrossEntropy())
    x = np.array([100.0, 100.0])
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(PredictionError) as err:
        net.gradient(x, 0)
    msg = str(err.value)
    assert msg.startswith("SoftmaxCrossEntropy got a non-finite prediction value")
    assert "the forward pass overflows float64 in Dense 2 (Dense(2, 2)), whose output is" in msg and "from a finite input" in msg
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.all(np.isfinite(net.forward(x)))  # (the forward pass returns what it computed: for training, a divergence)


# --- beyond ±1000: losses beyond float64 -------------------------------------------------------------
@pytest.mark.parametrize("loss, yhat, y", [
    (jn.MSE(), [1e200, 0.0], [0.0, 0.0]),
    (jn.MSE(), [[1.0, 2.0], [-1e160, 1e160]], [[0.0, 0.0], [0.0, 0.0]]),
    (jn.SoftmaxCrossEntropy(), [1e308, -1e308], [0.0, 1.0]),
    (jn.SoftmaxCrossEntropy(), [1.7e308, -1.7e308, 0.0], [0.0, 1.0, 0.0]),
])
def test_a_loss_beyond_float64_is_an_error_not_inf_or_nan(loss, yhat, y) -> None:
    with no_warnings():
        for call in (loss.forward, loss.per_sample):
            with pytest.raises(PredictionError, match=rf"{loss.name}: the loss overflows float64 .* rescale the data or the network"):
                call(np.array(yhat), np.array(y))


def test_extreme_logits_on_the_right_class_are_a_zero_loss_not_nan() -> None:
    """``0 · log 0``: a class the target does not hold adds 0, even where its softmax is exactly 0 (log s = −inf)."""
    loss = jn.SoftmaxCrossEntropy()
    with no_warnings():
        assert loss.forward(np.array([1e308, -1e308]), np.array([1.0, 0.0])) == 0.0
        assert loss.forward(np.array([[5.0, -1e308], [0.0, 0.0]]), np.eye(2)) == pytest.approx(np.log(2) / 2, rel=1e-15)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(loss.jacobian(np.array([1e308, -1e308]), np.array([1.0, 0.0])), [[0.0, 0.0]])


def test_the_mse_row_beyond_float64_is_refused_by_its_door() -> None:
    with no_warnings(), pytest.raises(PredictionError, match=r"MSE: its row ∂L/∂ŷ overflows float64"):
        jn.MSE().jacobian(np.array([1.5e308, 0.0]), np.array([-1.5e308, 0.0]))


def test_a_network_loss_beyond_float64_is_inf_without_warnings_for_training_to_see() -> None:
    net = jn.Network([jn.Dense(1, 1, seed=0)], jn.MSE())
    net.layers[0].W = np.array([[1e200]])
    with no_warnings():
        assert net.loss(np.array([1.0]), np.array([0.0])) == np.inf


# --- class indices as targets ----------------------------------------------------------------------
@pytest.mark.parametrize("loss, last", [(jn.SoftmaxCrossEntropy(), []), (jn.CrossEntropy(), [jn.Softmax()])])
def test_class_indices_are_their_one_hot_rows(loss, last) -> None:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 3, seed=1), *last], loss)
    X = np.random.default_rng(0).normal(size=(5, 3))
    labels = np.array([2, 0, 1, 1, 2])
    Y = np.eye(3)[labels]
    for target in (labels, list(labels), labels.astype(np.uint8), labels.astype(np.int32)):
        np.testing.assert_array_equal(net.gradient(X, target), net.gradient(X, Y))
        assert net.loss(X, target) == net.loss(X, Y)
        np.testing.assert_array_equal(net.trace(X, target).gradient, net.trace(X, Y).gradient)
    for k in range(3):
        for target in (k, np.int64(k), np.array(k)):
            np.testing.assert_array_equal(net.gradient(X[0], target), net.gradient(X[0], np.eye(3)[k]))
    np.testing.assert_array_equal(loss.jacobian(np.full(3, 1 / 3), 1), loss.jacobian(np.full(3, 1 / 3), [0.0, 1.0, 0.0]))
    assert net.gradient(X[0], np.array([0, 1, 0])).shape == (31,)  # an integer one-hot row is still a one-hot row


@pytest.mark.parametrize("target, words", [
    (3, "class index 3 is outside 0…2, for a prediction of 3 classes"),
    (-1, "class index -1 is outside 0…2"),
    (10**30, "expects a real-valued numeric target"),  # (beyond int64: NumPy holds it as an object)
    (np.int64(2**62), "class index 4611686018427387904 is outside 0…2"),
    (np.array([0, 5]), "class index 5 (sample 2) is outside 0…2"),
    (np.array([0, 1, 2]), "3 class indices for a batch of 2 predictions; give one per sample"),
    (np.array([0.0, 1.0]), "got shape (2,) of dtype float64; pass class indices as integers (labels.astype(int)) or one-hot rows "
                           "(jn.data.one_hot(labels, 3))"),
    (True, "expects a real-valued numeric target"),
])
def test_bad_class_indices_are_named(target, words) -> None:
    net = jn.Network([jn.Dense(2, 3, seed=0)], jn.SoftmaxCrossEntropy())
    x = np.ones((2, 2)) if np.ndim(target) == 1 else np.ones(2)
    with pytest.raises((ValueError, TypeError), match=re.escape(words)):
        net.gradient(x, target)


def test_mse_refuses_class_indices_and_says_what_to_do() -> None:
    net = jn.Network([jn.Dense(2, 3, seed=0)], jn.MSE())
    with pytest.raises(ValueError, match=re.escape("class indices are for the cross-entropy losses: for MSE make one-hot targets "
                                                   "with jn.data.one_hot(labels, 3)")):
        net.gradient(np.ones((4, 2)), np.array([0, 1, 2, 0]))
    one = jn.Network([jn.Dense(2, 1, seed=0)], jn.MSE())
    with pytest.raises(ValueError, match=re.escape("for one output per sample give y the shape (4, 1) (y.reshape(-1, 1))")):
        one.gradient(np.ones((4, 2)), np.zeros(4))


def test_a_backward_product_beyond_float64_is_named_unless_the_caller_chose_otherwise() -> None:
    """Targets near ±1.8e308: the row is finite, its products with the weights are not. An error, not warnings and inf."""
    from jacobnet.net.network import OverflowingProducts

    net = jn.build_network("3,4,1", "tanh", "mse", seed=0)
    x, y = np.array([0.5, -1.0, 2.0]), np.array([-1.7e308])
    for call in (net.gradient, net.trace, net.per_sample_gradients):
        with no_warnings(), pytest.raises(OverflowingProducts, match=r"beyond float64 .* the target y up to \|y\| = 1\.7e\+308"):
            call(x, y)
    with np.errstate(all="ignore"):  # (train's way: an overflow is a divergence, which it reports itself)
        assert not np.all(np.isfinite(net.gradient(x, y)))


def test_a_caller_that_lets_overflow_pass_gets_one_run_from_a_door_and_a_named_error_for_what_it_raises() -> None:
    """Under ``over="ignore"`` the caller's settings hold: a door runs once; the gradient asks only when an error comes (then runs
    again, under them); a floating-point error those settings raise (``invalid``) is named either way."""
    from jacobnet.net.network import OverflowingProducts

    class Root(jn.Tanh):  # √(x − 10): invalid for every input here
        runs = 0

        def apply(self, x):
            Root.runs += 1
            return np.sqrt(x - 10.0)

    net = jn.Network([jn.Dense(3, 4, seed=0), Root(), jn.Dense(4, 2, seed=1)], jn.MSE())
    x, y = np.ones(3), np.zeros(2)
    for call, runs in ((net.trace, 1), (net.per_sample_gradients, 1), (net.gradient, 2)):
        Root.runs = 0
        with np.errstate(over="ignore", invalid="raise"), pytest.raises(OverflowingProducts, match="invalid value encountered in sqrt"):
            call(x, y)
        assert Root.runs == runs, call.__name__
    with np.errstate(all="ignore"), pytest.raises(PredictionError, match=r"in Root 1 \(Root\(\)\), whose output is nan"):
        net.trace(x, y)  # (everything let pass: the NaN reaches the loss, which names the layer it came from)
