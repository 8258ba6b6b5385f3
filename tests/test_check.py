"""The checkers: complex step, ``check_jacobian`` and the three-way gradient report.

* complex step is exact to rounding on analytic functions (non-square), where
  central differences are not;
* ``check_jacobian`` passes a right Jacobian and names the wrong entries of a wrong
  one (row, column, expected, got), with either reference; a transposed one is refused;
* ``compare_gradients``: the report's numbers are the true errors — a perturbed
  symbolic gradient and a layer with a wrong J_θ are found, by name and by size;
* bad input (a matrix for x, text for J, one method) gets a clear error; ``check`` imports nothing above it.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import jacobnet as jn
import jacobnet.check.report
import jacobnet.symbolic
from jacobnet import check
from jacobnet.check import (
    GradientReport,
    WrongEntry,
    check_jacobian,
    compare_gradients,
    entry_errors,
    fd_gradient,
    jacobian_complex_step,
    jacobian_fd,
    rel_error,
)
from jacobnet.check.report import Block, network_blocks
from jacobnet.core import finite
from jacobnet.core.cost import CostError
from jacobnet.core.operators import Matrix


def squire_trapp(v: np.ndarray) -> np.ndarray:
    """ℝ³ → ℝ²: the classic complex-step test function eˣ/√(sin³x + cos³x), and a product."""
    return np.array([np.exp(v[0]) / np.sqrt(np.sin(v[0]) ** 3 + np.cos(v[0]) ** 3), v[1] * np.sin(v[2])])


def squire_trapp_jacobian(v: np.ndarray) -> np.ndarray:
    s, c = np.sin(v[0]), np.cos(v[0])
    g = s**3 + c**3
    d0 = np.exp(v[0]) / np.sqrt(g) * (1 - (3 * s**2 * c - 3 * c**2 * s) / (2 * g))
    return np.array([[d0, 0.0, 0.0], [0.0, np.sin(v[2]), v[1] * np.cos(v[2])]])


X = np.array([1.5, -0.7, 0.3])


# --- complex step ------------------------------------------------------------
def test_complex_step_is_exact_to_rounding():
    J = jacobian_complex_step(squire_trapp, X)
    exact = squire_trapp_jacobian(X)
    assert J.shape == (2, 3)
    assert rel_error(J, exact) <= 4e-16
    assert rel_error(jacobian_fd(squire_trapp, X), exact) > 1e-12  # what it improves on


def test_complex_step_on_a_layer_forward():
    layer = jn.Dense(3, 2, seed=0)  # forward is x @ W.T + b: analytic, accepts complex input
    J = jacobian_complex_step(lambda v: v @ layer.W.T + layer.b, X)
    assert np.array_equal(J, layer.W)


# --- finite differences ----------------------------------------------------------
def test_forward_scheme_is_first_order_with_half_the_calls():
    calls = []

    def f(v):
        calls.append(v)
        return squire_trapp(v)

    exact = squire_trapp_jacobian(X)
    forward = jacobian_fd(f, X, scheme="forward")
    assert forward.shape == (2, 3) and len(calls) == X.size + 1
    assert 1e-10 < rel_error(forward, exact) < 1e-6  # O(h), h = √ε
    assert rel_error(jacobian_fd(squire_trapp, X), exact) < rel_error(forward, exact)  # central: O(h²)
    big = jacobian_fd(squire_trapp, X, rel_step=1e-3, scheme="forward")  # truncation error grows with h
    assert rel_error(big, exact) > 100 * rel_error(forward, exact)


@pytest.mark.parametrize("kwargs, match", [
    ({"scheme": "backward"}, "unknown scheme 'backward'; choose one of central, forward"),
    ({"rel_step": 0.0}, r"rel_step must be in \(0, 1\), got 0.0"),
])
def test_bad_finite_difference_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jacobian_fd(squire_trapp, X, **kwargs)


@pytest.mark.parametrize("fd", [jacobian_fd, jacobian_complex_step])
def test_x_must_be_a_vector(fd):
    with pytest.raises(ValueError, match=r"x must be a 1-D vector of shape \(n,\).*got shape \(4, 3\); flatten it"):
        fd(np.tanh, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"got shape \(\)"):
        fd(np.tanh, 1.0)
    with pytest.raises(TypeError, match="x must be a 1-D array of real numbers"):
        fd(np.tanh, ["a", "b"])
    with pytest.raises(ValueError, match="x has a non-finite value at index 1"):
        fd(np.tanh, [0.0, np.nan])


def test_f_must_map_to_a_vector():
    with pytest.raises(ValueError, match=r"f must return a scalar or a 1-D array \(m,\).*got shape \(2, 2\)"):
        jacobian_fd(lambda v: np.outer(v, v), np.ones(2))


def test_rel_error_with_a_scale():
    a, b = np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0])
    assert rel_error(a, b) == 0.5 / 3.0 and rel_error(a, b, scale=10.0) == 0.05
    assert rel_error(a, a, scale=0.0) == 0.0 and rel_error(a, b, scale=0.0) == np.inf
    with pytest.raises(ValueError, match="scale must be a non-negative number, got -1"):
        rel_error(a, b, scale=-1)


def test_fd_gradient_progress_bar_only_on_long_work(monkeypatch, capsys):
    net = jn.build_network("3,2", "tanh", "softmax-ce", seed=0)  # 8 parameters
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])
    g = fd_gradient(net, x, y)
    assert capsys.readouterr().err == ""  # short work: no bar
    assert np.array_equal(fd_gradient(net, x, y, progress=True), g)
    assert "finite differences" in capsys.readouterr().err and "8/8" not in capsys.readouterr().out
    monkeypatch.setattr(finite, "PROGRESS_FROM", 8)  # "long" from 8 parameters on
    fd_gradient(net, x, y)
    assert "finite differences" in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress must be True, False or None, got 'yes'"):
        fd_gradient(net, x, y, progress="yes")


# --- entry_errors: the one wrong-entry finder ---------------------------------------
def test_entry_errors_in_a_jacobian_and_a_vector():
    E = np.array([[1.0, -2.0, 0.0], [0.5, 0.0, 4.0]])  # (2, 3): tolerance 1e-3 · 4 + 0
    G = E + np.array([[0.0, 0.003, 0.0], [0.0, 0.005, -1.0]])
    wrong = entry_errors(G, E, rtol=1e-3, atol=0.0)
    assert wrong == [WrongEntry(1, 2, "∂a_2/∂x_3", 4.0, 3.0), WrongEntry(1, 1, "∂a_2/∂x_2", 0.0, 0.005)]
    assert [str(w) for w in entry_errors(G, E, 1e-3, 0.0, worst_first=False)] == [
        "(2, 2) ∂a_2/∂x_2: expected 0, got 0.005", "(2, 3) ∂a_2/∂x_3: expected 4, got 3"]  # (where: 1-based, as the names)
    g = entry_errors(np.array([1.0, np.nan]), np.array([1.0, 2.0]), 1e-6, 1e-12, col_labels=["W_{1,1}", "b_{1}"])
    assert len(g) == 1 and (g[0].row, g[0].col, g[0].name, g[0].where) == (None, 1, "b_{1}", "entry 2")
    with pytest.raises(ValueError, match=r"claimed \(3, 2\) and expected \(2, 3\)"):
        entry_errors(E.T, E, 1e-6, 0.0)


def test_check_jacobian_names_entries_with_entry_errors():
    J = squire_trapp_jacobian(X)
    J[0, 1], J[1, 2] = 0.5, 0.0
    result = check_jacobian(squire_trapp, X, J, method="complex-step")
    assert result.wrong == entry_errors(J, result.expected, result.rtol, result.atol)


# --- check_jacobian ------------------------------------------------------------
@pytest.mark.parametrize("method", ["central", "complex-step"])
def test_right_jacobian_passes(method):
    result = check_jacobian(squire_trapp, X, squire_trapp_jacobian(X), method=method)
    assert result.ok and bool(result) and not result.wrong
    assert result.rel_error <= (1e-9 if method == "central" else 1e-15)
    assert str(result).startswith("✓ Jacobian (2, 3) agrees")


@pytest.mark.parametrize("method", ["central", "complex-step"])
def test_wrong_entry_is_named(method):
    J = squire_trapp_jacobian(X)
    exact_12 = J[1, 2]
    J[1, 2] = -J[1, 2]
    result = check_jacobian(squire_trapp, X, J, method=method)
    assert not result.ok
    [w] = result.wrong
    assert (w.row, w.col, w.name) == (1, 2, "∂a_2/∂x_3")
    assert w.expected == pytest.approx(exact_12, rel=1e-8) and w.got == -exact_12
    assert "(2, 3) ∂a_2/∂x_3: expected" in str(result)  # where it is, counted from 1 as the name counts


def test_wrong_entries_sorted_worst_first_with_labels():
    J = squire_trapp_jacobian(X)
    J[0, 1] += 0.1
    J[1, 1] += 5.0
    J[1, 0] = np.nan
    result = check_jacobian(squire_trapp, X, J, row_labels=["u", "v"], col_labels=["p", "q", "r"])
    assert [(w.row, w.col) for w in result.wrong] == [(1, 0), (1, 1), (0, 1)]
    assert result.wrong[1].name == "∂v/∂q"


def test_small_error_below_tolerance_is_not_flagged_but_above_is():
    J = squire_trapp_jacobian(X)
    scale = np.max(np.abs(J))
    J[0, 0] += 1e-9 * scale
    assert check_jacobian(squire_trapp, X, J, method="complex-step").ok is False  # 1e-9 > 1e-10
    assert check_jacobian(squire_trapp, X, J).ok  # within the central-difference tolerance 1e-6


def test_transposed_jacobian_is_refused():
    with pytest.raises(ValueError, match=r"shape \(2, 3\); got \(3, 2\) \(that is the transpose"):
        check_jacobian(squire_trapp, X, squire_trapp_jacobian(X).T)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method 'forward'"):
        check_jacobian(squire_trapp, X, squire_trapp_jacobian(X), method="forward")


@pytest.mark.parametrize("J, error, match", [
    ("I", TypeError, r"J must be an \(m, n\) array of real numbers, got str 'I'"),
    ([[1.0, 2.0], [3.0]], TypeError, "J must be an"),  # ragged
    (np.zeros((2, 3, 1)), ValueError, r"Jacobian has shape \(2, 3\); got \(2, 3, 1\)"),
])
def test_bad_claimed_jacobian(J, error, match):
    with pytest.raises(error, match=match):
        check_jacobian(squire_trapp, X, J)


def test_check_jacobian_x_must_be_a_vector():
    with pytest.raises(ValueError, match=r"check_jacobian: x must be a 1-D vector of shape \(n,\).*\(4, 3\)"):
        check_jacobian(np.tanh, np.ones((4, 3)), np.eye(12))


# --- compare_gradients -----------------------------------------------------------
def sample(net: jn.Network, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=net.input_size), np.eye(net.sizes[-1])[0]


def test_report_of_a_correct_network():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=1)
    x, y = sample(net)
    report = compare_gradients(net, x, y)
    assert report.ok
    assert report.labels == net.param_labels()
    assert set(report.gradients) == {"jacobian", "symbolic", "finite-difference"}
    assert [(b.name, b.slice) for b in report.blocks] == [("Dense 1", slice(0, 16)), ("Dense 2", slice(16, 26))]
    by = {(r.block, r.a, r.b): r for r in report.rows}
    assert by[("all", "symbolic", "jacobian")].rel <= 1e-10
    assert by[("all", "jacobian", "finite-difference")].rel <= 1e-6
    assert report.errors("symbolic", "jacobian").shape == (26,)
    assert "all methods agree" in str(report)
    assert "✓ agree" in report._repr_html_() and "<table>" in report._repr_html_()


def test_report_numbers_are_the_true_errors(monkeypatch):
    net = jn.build_network("3,4,2", "sigmoid", "mse", seed=2)
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.3, -0.2])
    k, delta = 20, 1e-4  # W^{(2)}_{2,1}: block Dense 2
    true = net.gradient(x, y)
    real = jacobnet.symbolic.symbolic_gradient

    def perturbed(net, x, y, **kwargs):  # (the report passes its derivation and size limit)
        g = real(net, x, y, **kwargs)
        g[k] += delta
        return g

    monkeypatch.setattr(jacobnet.symbolic, "symbolic_gradient", perturbed)
    report = compare_gradients(net, x, y)
    assert not report.ok
    by = {(r.block, r.a, r.b): r for r in report.rows}
    wrong = by[("Dense 2", "symbolic", "jacobian")]
    assert wrong.max_abs == pytest.approx(delta, rel=1e-9)
    assert wrong.rel == pytest.approx(delta / np.max(np.abs(true)), rel=1e-9)
    assert wrong.worst[0][0] == net.param_labels()[k] == "W^{(2)}_{2,1}"
    assert wrong.worst[0][1] - wrong.worst[0][2] == pytest.approx(delta, rel=1e-9)
    assert not wrong.ok and by[("Dense 1", "symbolic", "jacobian")].ok
    assert by[("all", "jacobian", "finite-difference")].ok  # the other pair is untouched
    assert "METHODS DISAGREE" in str(report) and "✗" in str(report) and "W^{(2)}_{2,1}" in str(report)
    assert "✗ disagree" in report._repr_html_()


class WrongDense(jn.Dense):
    """A Dense layer whose J_θ has one column doubled: the Jacobian product gets one entry wrong."""

    column = 5

    def jacobian_params_op(self, x):
        J = super().jacobian_params_op(x).dense().copy()
        J[..., self.column] *= 2.0
        return Matrix(J, batch=x.shape[0] if x.ndim == 2 else None)


def test_injected_wrong_jacobian_is_named():
    good = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=3)
    bad_layer = WrongDense(3, 4)
    bad_layer.set_params(good.layers[0].get_params())
    bad = jn.Network([bad_layer, *good.layers[1:]], good.loss_fn)
    x, y = sample(good, seed=4)
    report = compare_gradients(bad, x, y)
    g_true = good.gradient(x, y)
    by = {(r.block, r.a, r.b): r for r in report.rows}
    for pair in [("jacobian", "finite-difference"), ("symbolic", "jacobian")]:
        row = by[("WrongDense 1", *pair)]  # names are numbered per type: WrongDense 1, Tanh 1, Dense 1
        assert row.max_abs == pytest.approx(abs(g_true[WrongDense.column]), rel=1e-6)  # doubled: off by g itself
        assert not row.ok
    worst = by[("WrongDense 1", "symbolic", "jacobian")].worst[0]
    assert worst[0] == "W^{(1)}_{2,3}" == good.param_labels()[WrongDense.column]
    assert by[("Dense 1", "symbolic", "jacobian")].ok  # the last layer's block is right
    assert by[("all", "symbolic", "finite-difference")].ok and not report.ok


def test_report_prints_a_dash_for_no_difference_aligned_values_and_no_negative_zero():
    report = GradientReport(["W_{1,1}", "b_{1}"], {"jacobian": np.array([-0.0, 0.125]),
                                                    "finite-difference": np.array([0.0, 0.125])}, [Block("Dense 1", slice(0, 2))])
    table, entries = str(report), str(report.entries())
    assert report.ok and all(r.worst == () for r in report.rows)
    assert [line.split()[-1] for line in table.splitlines()[2:3]] == ["—"]  # (no title line)
    assert not any(cell.startswith("-0") for cell in (table + entries).split())
    values = [line.split()[1:] for line in entries.splitlines()[2:]]
    assert values == [["0.000000000000e+00"] * 2, ["1.250000000000e-01"] * 2]  # 13 digits, every entry


def test_compare_gradients_methods_must_be_two_known_names():
    net = jn.build_network("3,2", "tanh", "mse", seed=0)
    x, y = np.ones(3), np.zeros(2)
    for methods in ("jacobian", ("jacobian",), ["jacobian", "jacobian"], 3):
        with pytest.raises(ValueError, match=r'methods must be a sequence of two or more of .*methods=\("jacobian", "finite-difference"\)'):
            compare_gradients(net, x, y, methods=methods)
    with pytest.raises(ValueError, match="unknown gradient method 'autograd'"):
        compare_gradients(net, x, y, methods=("jacobian", "autograd"))


def test_size_error_from_compare_gradients_names_the_methods_keyword():
    wide_softmax = jn.Network([jn.Dense(1, 80, seed=0), jn.Softmax()], jn.CrossEntropy())  # its J_x: 80² entries of ~340 nodes
    x, y = np.zeros(1), np.full(80, 1 / 80)
    with pytest.raises(jacobnet.symbolic.SymbolicSizeError, match=r'^symbolic Jacobians of Softmax 1 .*methods=\("jacobian", "finite-difference"\)'):
        compare_gradients(wide_softmax, x, y)
    report = compare_gradients(wide_softmax, x, y, methods=("jacobian", "finite-difference"))
    assert report.ok and list(report.gradients) == ["jacobian", "finite-difference"]
    deep = jn.build_network("1,2,2,2,2,2,2,2,1", "sigmoid", "mse")  # refused whole, admitted layer by layer
    with pytest.raises(jacobnet.symbolic.SymbolicSizeError, match=r'^symbolic gradient of .*methods=\("jacobian", "finite-difference"\)'):
        compare_gradients(deep, np.zeros(1), np.zeros(1), symbolic="whole-loss")
    report = compare_gradients(deep, np.zeros(1), np.zeros(1))
    assert report.ok and report.symbolic == "symbolic (per layer)" and "symbolic (per layer)" in str(report)


def test_finite_differences_are_a_leaf():
    code = ("import sys, jacobnet.core.finite, jacobnet.symbolic.network; "
            "print(sorted(m for m in sys.modules if m in ('jacobnet.check.report', 'jacobnet.symbolic.compiled', 'jacobnet.viz')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # neither imports the report, which imports both
    code = "import sys, jacobnet.check; print(sorted(m for m in ('sympy', 'matplotlib', 'jacobnet.viz') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    assert check.compare_gradients is jacobnet.check.report.compare_gradients  # the documented name, one object


def test_report_validates_shapes():
    with pytest.raises(ValueError, match=r"gradient 'jacobian' has shape \(2,\), expected \(3,\)"):
        GradientReport(["a", "b", "c"], {"jacobian": np.zeros(2)}, [Block("Dense 1", slice(0, 3))])


def test_subset_of_methods_and_batches():
    net = jn.build_network("5,3,2", "relu", "ce", seed=0)
    x = np.random.default_rng(1).normal(size=(4, 5))
    report = compare_gradients(net, x, np.eye(2)[[0, 1, 1, 0]], methods=("jacobian", "finite-difference"))
    assert report.ok and [r.a for r in report.rows] == ["jacobian"] * 3
    assert "a batch of 4" in report.title
    assert network_blocks(net) == report.blocks


def test_size_guard_before_any_gradient(monkeypatch):
    net = jn.build_network("784,128,10", "tanh", "softmax-ce")

    def slow(*args, **kwargs):
        raise AssertionError("no gradient may be computed before the size guard")

    monkeypatch.setattr(jn.Network, "gradient", slow)
    monkeypatch.setattr(jacobnet.check.report, "fd_gradient", slow)
    with pytest.raises(CostError, match=r"finite differences of dL/dθ of .* \(101770 parameters: .* over the cost limit"):
        compare_gradients(net, np.zeros(784), np.eye(10)[0])  # the cost of central differences, checked first
    with pytest.raises(jacobnet.symbolic.SymbolicSizeError, match="over the limit"):
        compare_gradients(net, np.zeros(784), np.eye(10)[0], methods=("jacobian", "symbolic"))


def test_networks_without_parameters_and_with_a_parameter_free_first_layer():
    x = np.array([0.1, -0.5, 2.0])
    none = jn.Network([jn.Softmax()], jn.CrossEntropy())
    report = compare_gradients(none, x, np.array([0.2, 0.3, 0.5]))
    assert report.ok and report.blocks == [] and report.gradients["symbolic"].shape == (0,)
    first_free = jn.Network([jn.Tanh(), jn.Dense(3, 2, seed=0), jn.Softmax()], jn.CrossEntropy())
    report = compare_gradients(first_free, x, np.array([0.3, 0.7]))
    assert report.ok and [b.name for b in report.blocks] == ["Dense 1"]
    assert jacobian_fd(lambda v: np.ones(2), np.zeros(0)).shape == (2, 0)
