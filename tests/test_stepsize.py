"""The finite-difference step sweep: truncation and round-off have the slopes theory says."""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check.stepsize import network_step_sweep, step_size_sweep
from jacobnet.core.finite import EPS
from jacobnet.viz import step_sweep_figure

# f: ℝ² → ℝ³ and its Jacobian by hand (non-square).
F = lambda v: np.array([np.sin(v[0]) * v[1], np.exp(v[1]), v[0] ** 3])
X = np.array([0.7, -0.4])
J = np.array([[np.cos(0.7) * -0.4, np.sin(0.7)], [0.0, np.exp(-0.4)], [3 * 0.7**2, 0.0]])


@pytest.mark.parametrize("scheme, order", [("central", 2), ("forward", 1)])
def test_slopes_match_truncation_order_and_roundoff(scheme, order):
    s = step_size_sweep(F, X, J, scheme=scheme)
    roundoff_slope, truncation_slope = s.slopes()
    assert truncation_slope == pytest.approx(order, abs=0.1)
    assert roundoff_slope == pytest.approx(-1, abs=0.35)  # round-off is noisy, but clearly ∝ 1/h
    assert 0.05 * s.rule_h < s.best_h < 20 * s.rule_h
    assert s.order == order and s.rule_h == pytest.approx(EPS ** (1 / (order + 1)))


def test_central_beats_forward_at_its_best():
    central, forward = step_size_sweep(F, X, J), step_size_sweep(F, X, J, scheme="forward")
    assert central.best_error < 1e-9 < forward.best_error
    assert central.best_h > forward.best_h


def test_errors_are_the_true_relative_errors():
    hs = np.array([1e-1, 1e-3])
    s = step_size_sweep(np.sin, np.array([0.5]), np.array([[np.cos(0.5)]]), hs=hs)
    by_hand = np.abs((np.sin(0.5 + hs) - np.sin(0.5 - hs)) / (2 * hs) - np.cos(0.5)) / np.cos(0.5)
    np.testing.assert_allclose(s.error, by_hand, rtol=1e-6)


@pytest.mark.parametrize("scheme", ["central", "forward"])
def test_guides_fit_the_measurements(scheme):
    s = step_size_sweep(F, X, J, scheme=scheme)
    roundoff, truncation = s.guides()
    large = s.h > 100 * s.best_h
    np.testing.assert_allclose(truncation[large], s.error[large], rtol=0.3)
    assert roundoff[0] == pytest.approx(s.error[0], rel=3.0)


def test_network_sweep_reaches_the_jacobian_gradient():
    net = jn.build_network([3, 4, 2], activation="tanh", loss="softmax-ce", seed=0)
    s = network_step_sweep(net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]), hs=np.logspace(-9, -2, 8))
    assert s.best_error < 1e-8 and s.error[-1] > 1e-6


@pytest.mark.parametrize("kwargs, match", [
    ({"scheme": "backward"}, "unknown scheme 'backward'"),
    ({"hs": np.array([1e-3, -1e-3])}, r"relative steps in \(0, 1\)"),
    ({"hs": np.array([1e-3, 2.0])}, r"relative steps in \(0, 1\)"),
    ({"hs": np.array([])}, "non-empty"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        step_size_sweep(F, X, J, **kwargs)


def test_network_sweep_checks_its_steps():
    net = jn.build_network([3, 2], activation="tanh", loss="mse", seed=0)
    with pytest.raises(ValueError, match=r"network_step_sweep: hs must be .* relative steps in \(0, 1\)"):
        network_step_sweep(net, np.ones(3), np.zeros(2), hs=np.array([0.0]))


def test_figure_is_log_log_with_one_curve_per_sweep():
    sweeps = [step_size_sweep(F, X, J), step_size_sweep(F, X, J, scheme="forward")]
    ax = step_sweep_figure(sweeps).axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    measured = [line for line in ax.lines if line.get_label().endswith("differences")]
    assert [line.get_label() for line in measured] == ["central differences", "forward differences"]
    np.testing.assert_array_equal(measured[0].get_ydata(), sweeps[0].error)
