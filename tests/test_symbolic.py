"""Symbolic Jacobians and gradients: SymPy's derivation against the numeric code and the hand forms.

* every layer's SymPy Jacobians equal its numeric ``jacobian_input``/``jacobian_params``
  at Hypothesis-drawn points (non-square Dense, width 1), at the kinks and at large values;
* the hand-derived closed forms equal SymPy's Jacobians (proved, per entry), and a
  wrong closed form is caught;
* the two derivations of a network's gradient (whole loss vs product of layer
  Jacobians) agree, proved on tiny networks and numerically on larger ones;
* ``Network.gradient(method="symbolic")`` against the Jacobian product (≤ 1e-10) and
  finite differences (≤ 1e-6), one sample and batches; compiled once per architecture;
* the size guard refuses big networks before building anything, and its estimate
  follows what SymPy builds (deep, narrow and kinked networks included); LaTeX and plain-text output.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from strategies import ACTIVATIONS, FAST, layers_with_input, targets

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import rel_error
from jacobnet.core import sizes as core_sizes
from jacobnet.core.rules import RULES
from jacobnet.symbolic import (
    SymbolicSizeError,
    closed_forms,
    compare_closed_forms,
    compiled,
    compiled_gradient,
    estimate_size,
    evaluate_layer_jacobians,
    gradients_agree,
    jacobian_latex,
    layer_jacobians,
    network_gradient,
    show_jacobians,
    symbolic_gradient,
)
from jacobnet.symbolic import guard as symbolic_size
from jacobnet.symbolic import network as symbolic_network

SYM_TOL = 1e-12  # SymPy's formula vs the stable NumPy form of the same derivative, one layer
GRAD_TOL = 1e-10  # the promise: symbolic vs jacobian
FD_TOL = 1e-6  # the promise: vs finite differences
rng = np.random.default_rng(7)
LOSSES = ("mse", "ce", "softmax-ce")


# --- symbols ------------------------------------------------------------------
def test_symbols_are_real_and_print_as_latex():
    x1 = symbolic.vector_symbols("x", 3)[0]
    w = symbolic.param_symbols(jn.Dense(3, 2), index=1)
    assert x1.is_real and all(t.is_real for t in w)
    assert sp.latex(x1) == "x_{1}"
    assert sp.latex(w[5]) == "W^{(1)}_{2,3}" and sp.latex(w[-1]) == "b^{(1)}_{2}"


def test_gradient_symbols_are_the_network_param_labels():
    net = jn.build_network("2,3,2", "tanh", "softmax-ce")
    assert network_gradient(net).labels == net.param_labels()


def test_layer_jacobian_shapes_nonsquare():
    J_x, J_t = layer_jacobians(jn.Dense(3, 2))
    assert (J_x.shape, J_t.shape) == ((2, 3), (2, 8))
    J_x, J_t = layer_jacobians(jn.Softmax(), n=4)
    assert (J_x.shape, J_t.shape) == ((4, 4), (4, 0))


@pytest.mark.parametrize("layer, n, match", [
    (jn.Tanh(), None, "no fixed input size"),
    (jn.Dense(3, 2), 4, "expects 3 inputs, got n=4"),
])
def test_layer_jacobians_bad_size(layer, n, match):
    with pytest.raises(ValueError, match=match):
        layer_jacobians(layer, n)


def test_unsupported_layer_is_named():
    class Custom(jn.Layer):
        n_in = 2

    with pytest.raises(TypeError, match="no symbolic form for layer Custom"):
        layer_jacobians(Custom())


# --- SymPy's layer Jacobians vs the numeric ones --------------------------------
def assert_layer_matches(layer: jn.Layer, x: np.ndarray) -> None:
    J_x, J_t = evaluate_layer_jacobians(layer, x)
    assert J_x.shape == layer.jacobian_input(x).shape and J_t.shape == layer.jacobian_params(x).shape
    assert rel_error(J_x, layer.jacobian_input(x)) <= SYM_TOL
    assert rel_error(J_t, layer.jacobian_params(x)) <= SYM_TOL


@FAST
@given(layers_with_input(fd=True))
def test_symbolic_layer_jacobians_equal_numeric(layer_x):
    assert_layer_matches(*layer_x)


@pytest.mark.parametrize("layer, left", [(jn.ReLU(), 0.0), (jn.LeakyReLU(alpha=0.2), 0.2)])
def test_kink_takes_left_derivative_symbolically(layer, left):
    x = np.array([0.0, -1.0, 2.0])
    assert_layer_matches(layer, x)
    assert evaluate_layer_jacobians(layer, x)[0][0, 0] == left


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_large_values(kind):
    assert_layer_matches(jn.spec.activation_class(kind)(), np.array([-30.0, 0.5, 30.0]))


def test_softmax_spread_logits():
    # Not ±30: there s_3(1 − s_3) ≈ 1.5e-13 is computed as s_3 − s_3² by both forms, and
    # cancellation leaves ~1e-3 relative error in each (differently) — the formula's limit, not a bug.
    assert_layer_matches(jn.Softmax(), np.array([-8.0, 0.5, 8.0]))


def test_a_transposed_jacobian_would_be_caught():
    d = jn.Dense(3, 3, seed=1)  # square: only the values can tell W from Wᵀ
    J_x, _ = evaluate_layer_jacobians(d, np.array([0.5, -1.0, 2.0]))
    assert np.array_equal(J_x, d.W)
    assert rel_error(J_x, d.W.T) > 0.1


# --- hand-derived closed forms vs SymPy -------------------------------------------
CLOSED = [jn.Dense(3, 2), jn.Dense(1, 3), jn.Sigmoid(), jn.Tanh(), jn.ReLU(), jn.LeakyReLU(alpha=0.2),
          jn.Softplus(), jn.Softmax(), jn.MSE(), jn.CrossEntropy(), jn.SoftmaxCrossEntropy()]


@pytest.mark.parametrize("what", CLOSED, ids=repr)
def test_closed_forms_equal_sympy(what):
    checks = compare_closed_forms(what, None if isinstance(what, jn.Dense) else 3)
    assert checks and all(c.proved for c in checks), [(c.name, c.unproved) for c in checks]
    assert all(c.closed.shape == c.sympy.shape for c in checks)


def test_wrong_closed_form_is_caught():
    tanh = jn.Tanh()
    tanh.rule = dataclasses.replace(tanh.rule, dexpr=lambda x: 1 + sp.tanh(x) ** 2)  # a sign error in f'
    (J_x,) = compare_closed_forms(tanh, n=2)  # (no parameters: no J_θ to prove)
    assert not J_x.proved and J_x.unproved == ((0, 0), (1, 1))


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize("params", [{}, {"alpha": 0.2}])
def test_hand_written_rule_derivatives_equal_sympys(name, params):
    rule = RULES[name]
    params = {k: v for k, v in params.items() if k in rule.defaults}
    x = sp.Symbol("x", real=True)
    hand, derived = rule.dexpr(x, **params), sp.diff(rule.expr(x, **params), x)
    assert closed_forms.proved_zero(hand - derived)
    assert not closed_forms.proved_zero(hand - derived + x / 7)  # the proof can fail


def test_softmax_ce_closed_form_needs_targets_summing_to_one():
    n = 2
    y = symbolic.vector_symbols("y", n)
    diff = closed_forms.closed_form_loss_row(jn.SoftmaxCrossEntropy(), n) - symbolic.loss_jacobian(jn.SoftmaxCrossEntropy(), n)
    assert not closed_forms.proved_zero(diff[0])  # s − y is not the gradient for arbitrary y …
    assert closed_forms.proved_zero(diff[0].xreplace({y[1]: 1 - y[0]}))  # … but is when Σy = 1


def test_dense_closed_forms_evaluate_to_the_numeric_jacobians():
    d = jn.Dense(3, 2, seed=3)
    x = np.array([0.5, -1.0, 2.0])
    J_x, J_t = closed_forms.closed_form_jacobians(d)
    values = dict(zip(symbolic.vector_symbols("x", 3) + symbolic.param_symbols(d), [*x, *d.get_params()]))
    assert np.array_equal(np.array(J_x.xreplace(values), dtype=float), d.W)
    assert np.array_equal(np.array(J_t.xreplace(values), dtype=float), d.jacobian_params(x))


# --- two derivations of a network's gradient ------------------------------------------
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_two_derivations_agree_proved_on_tiny_networks(act, loss):
    net = jn.build_network("2,1,2", act.replace("_", "-"), loss)
    agreement = gradients_agree(network_gradient(net), prove=True)
    assert agreement.proved is True and agreement.ok and agreement.max_rel_error <= 1e-12


@pytest.mark.parametrize("act, loss", [("tanh", "softmax-ce"), ("relu", "mse")])
def test_two_derivations_agree_numerically(act, loss):
    net = jn.build_network("3,4,2", act, loss)
    grad = network_gradient(net)
    assert grad.direct.shape == grad.chain.shape == (1, net.n_params)
    assert gradients_agree(grad, points=3).ok


def test_disagreement_between_derivations_is_reported():
    grad = network_gradient(jn.build_network("2,3,2", "tanh", "mse"))
    grad.chain = grad.chain.copy()
    grad.chain[0, 0], grad.chain[0, 1] = grad.chain[0, 1], grad.chain[0, 0]
    agreement = gradients_agree(grad, prove=True)
    assert not agreement.ok and agreement.max_rel_error > 1e-3 and agreement.proved is False


# --- Network.gradient(method="symbolic") -------------------------------------------
CASES = [("sigmoid", "mse"), ("tanh", "softmax-ce"), ("relu", "ce"), ("leaky-relu", "softmax-ce"), ("softplus", "mse")]


@pytest.mark.parametrize("act, loss", CASES)
@pytest.mark.parametrize("batch", [None, 3])
def test_symbolic_gradient_matches_jacobian_and_fd(act, loss, batch):
    net = jn.build_network("3,2,2", act, loss, seed=5)
    x = rng.normal(size=(3,) if batch is None else (batch, 3))
    y = targets(loss.replace("softmax-ce", "ce"), net.forward(x), rng, one_hot=False)
    g_sym = net.gradient(x, y, method="symbolic")
    assert g_sym.shape == (net.n_params,)
    assert rel_error(g_sym, net.gradient(x, y)) <= GRAD_TOL
    assert rel_error(g_sym, net.gradient(x, y, method="finite-difference")) <= FD_TOL


def test_batch_is_mean_of_samples():
    net = jn.build_network("3,2,2", "tanh", "softmax-ce", seed=2)
    x, y = rng.normal(size=(4, 3)), np.eye(2)[[0, 1, 1, 0]]
    per_sample = np.mean([symbolic_gradient(net, xi, yi) for xi, yi in zip(x, y)], axis=0)
    assert rel_error(symbolic_gradient(net, x, y), per_sample) <= 1e-14


def test_compiled_once_per_architecture():
    net = jn.build_network("2,3,1", "leaky-relu", "mse", seed=0)
    x, y = np.array([0.3, -0.7]), np.array([0.2])
    first = compiled_gradient(net)
    net.set_params(rng.normal(size=net.n_params))  # new weights: same compiled function, new numbers
    assert compiled_gradient(net) is first
    assert rel_error(symbolic_gradient(net, x, y), net.gradient(x, y)) <= GRAD_TOL
    same_shape = jn.build_network("2,3,1", "leaky-relu", "mse", seed=9)
    assert compiled_gradient(same_shape) is first
    other_alpha = jn.Network([jn.Dense(2, 3), jn.LeakyReLU(alpha=0.3), jn.Dense(3, 1)], jn.MSE())
    assert compiled_gradient(other_alpha) is not first
    assert rel_error(symbolic_gradient(other_alpha, x, y), other_alpha.gradient(x, y)) <= GRAD_TOL


@pytest.mark.parametrize("act, loss", [("tanh", "softmax-ce"), ("sigmoid", "mse"), ("relu", "ce")])
def test_what_is_compiled_is_the_direct_derivation_with_common_factors_out(act, loss):
    """The evaluator compiles SymPy's own derivative with common factors pulled out (fewer
    operations); every entry is proved identical to the derivative itself, Piecewise included."""
    grad = compiled_gradient(jn.build_network("2,3,2", act, loss)).grad
    factored = symbolic.common_factors_out(grad.direct)
    assert len(factored) == grad.direct.shape[1] and any(f != d for f, d in zip(factored, grad.direct))
    assert all(closed_forms.proved_zero(d - f) for d, f in zip(grad.direct, factored))


@pytest.mark.parametrize("x", [np.array([1000.0, -1000.0]), np.array([[1000.0, -1000.0], [0.0, 0.0]])])
def test_overflow_is_a_clear_error(x):
    net = jn.Network([jn.Dense(2, 2)], jn.SoftmaxCrossEntropy())
    net.set_params(np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]))  # logits = x: exp(1000) overflows
    y = np.broadcast_to([1.0, 0.0], x.shape)
    assert np.all(np.isfinite(net.gradient(x, y)))  # the stabilised numeric path copes
    with pytest.raises(ValueError, match="not stabilised.*method='jacobian'"):
        symbolic_gradient(net, x, y)


def test_bad_input_is_named():
    net = jn.build_network("2,2,2", "tanh", "mse")
    with pytest.raises(ValueError, match=r"Dense 1 expects input of shape \(2,\)"):
        symbolic_gradient(net, np.ones(3), np.ones(2))


# --- size guard ----------------------------------------------------------------
def test_estimate_worked_by_hand():
    # 2→3→1, tanh, MSE. Entries: x 1 → Dense 2·(1+2)+2 = 8 → tanh(u) 2+(8−1) = 9 → Dense 3·(9+2)+2 = 35.
    # SymPy's tanh' = 1 − tanh(x)² has 8 nodes, x once: with u in place, 8+(8−1) = 15.
    # ∂L/∂θ, L = (ŷ − y)²: m (s + d + 6) + 1 with s = 35, m = 1 dependent output, d nodes of ∂ŷ/∂θ:
    #   W2 (3): d = 9 (a_j)          → 51 · 3 = 153;   b2 (1): d = 1      → 43
    #   W1 (6): d = 15 + 1 + 1 = 17 through tanh, + 2 through Dense 2 = 19 → 61 · 6 = 366;   b1 (3): 61 · 3 = 183
    assert estimate_size(jn.build_network("2,3,1", "tanh", "mse")) == 153 + 43 + 366 + 183 == 745


def nodes(exprs) -> int:
    return sum(1 for e in exprs for _ in sp.preorder_traversal(e))


@pytest.mark.parametrize("spec, act, loss, high", [
    ("3,4,2", "tanh", "softmax-ce", 1.25), ("2,3,3,1", "sigmoid", "mse", 1.25), ("1,2,2,2,1", "softplus", "mse", 1.25),
    ("3,4,2", "relu", "ce", 1.25),
    # kinks on kinks: folded conditions weigh FOLD_WEIGHT = 2 (slower to compile), so up to 2 × 1.25
    ("2,3,3,1", "relu", "mse", 2.5), ("2,2,2,2", "leaky-relu", "softmax-ce", 2.5),
])
def test_estimate_follows_what_sympy_builds(spec, act, loss, high):
    net = jn.build_network(spec, act, loss)
    built = nodes(symbolic_network.direct_gradient(net).direct)
    assert 0.75 <= estimate_size(net) / built <= high


def test_folded_kink_conditions_are_estimated(monkeypatch):
    # ReLU after ReLU: SymPy folds the condition u ≤ 0 into one comparison per branch of u (2⁴ here)
    monkeypatch.setattr(core_sizes, "FOLD_WEIGHT", 1)  # count nodes, not their cost
    net = jn.build_network("3,4,4,1", "relu", "mse")
    acts, _ = symbolic_network._forward_exprs(net, 3)
    entry = core_sizes.Entry(1.0)
    for layer, n, a in zip(net.layers, [3, 4, 4, 4], acts[1:]):
        entry = layer.symbolic_entry(n, entry)
        assert 0.9 <= entry.s / nodes([a[0]]) <= 1.1


@pytest.mark.parametrize("spec, act, loss", [
    ("1,2,2,2,2,2,2,2,1", "sigmoid", "mse"),  # 14 s cold (review S1); depth: σ' holds σ's argument twice
    ("2,3,3,3,3,1", "sigmoid", "mse"),  # 5–7 s
    ("1,2,2,2,2,1", "relu", "mse"),  # > 50 s: stacked kinks
    ("10,10,10", "tanh", "mse"),  # 7.7 s: wide
])
def test_slow_networks_are_refused(spec, act, loss):
    with pytest.raises(SymbolicSizeError, match=r"expression nodes \(about [\d.e+]+ s\), over the limit of 2.5e\+05"):
        symbolic_size.check_size(jn.build_network(spec, act, loss))


@pytest.mark.parametrize("spec, act, loss", [("2,3,1", "tanh", "mse"), ("4,8,3", "tanh", "softmax-ce")])
def test_the_documented_networks_are_admitted(spec, act, loss):
    assert symbolic_size.check_size(jn.build_network(spec, act, loss)) <= symbolic_size.MAX_EXPRESSION_SIZE


def test_size_guard_fires_before_building_anything(monkeypatch):
    def built(*args, **kwargs):
        raise AssertionError("the guard must fire before any expression is built")

    monkeypatch.setattr(symbolic_network, "vector_symbols", built)
    monkeypatch.setattr(symbolic_network, "forward_expr", built)
    monkeypatch.setattr(symbolic.layerwise, "derive_layer", built)
    monkeypatch.setattr(symbolic.layerwise, "compiled_loss_row", built)
    net = jn.build_network("784,128,10", "tanh", "softmax-ce")
    x, y = np.zeros(784), np.eye(10)[0]
    calls = [  # method="symbolic" is the per-layer derivation: its guard names the layer
        (lambda: net.gradient(x, y, method="symbolic"),
         r"^symbolic Jacobians of Dense 1 \(Dense\(784, 128\)\) for the per-layer symbolic gradient: estimated 7e\+05"),
        (lambda: symbolic_gradient(net, x, y, derivation="whole-loss"), r"^symbolic gradient .* estimated 6\.1e\+12"),
        (lambda: network_gradient(net), r"^2 symbolic derivations .* estimated 1\.2e\+13"),
    ]
    for call, what in calls:
        with pytest.raises(SymbolicSizeError, match=what + r" expression nodes \(about .* s\), over the limit of 2.5e\+05"):
            call()
    with pytest.raises(SymbolicSizeError, match="symbolic Jacobians of Dense"):
        layer_jacobians(jn.Dense(784, 128))
    assert issubclass(SymbolicSizeError, ValueError)


def test_size_limit_is_configurable(monkeypatch):
    net = jn.build_network("2,3,1", "tanh", "mse")
    with pytest.raises(SymbolicSizeError, match="^symbolic gradient .*estimated 7.4e\\+02 .* limit of 1e\\+02"):
        symbolic_gradient(net, np.ones(2), np.ones(1), max_size=100, derivation="whole-loss")
    with pytest.raises(SymbolicSizeError, match="^2 symbolic derivations .*estimated 1.5e\\+03 .* limit of 1e\\+03"):
        network_gradient(net, max_size=1000)  # it derives twice: both derivations count
    monkeypatch.setattr(symbolic_size, "MAX_EXPRESSION_SIZE", 100)
    with pytest.raises(SymbolicSizeError):
        network_gradient(net)
    assert network_gradient(net, max_size=1500).direct.shape == (1, 13)


# --- LaTeX ---------------------------------------------------------------------
def test_latex_with_shape():
    J_x, J_t = layer_jacobians(jn.Dense(3, 2), index=1)
    text = jacobian_latex(J_x)
    assert text.startswith(r"\frac{\partial a}{\partial x} \in \mathbb{R}^{2\times 3} = \left[")
    assert "W^{(1)}_{2,3}" in text


def test_shown_jacobian_renders_in_jupyter():
    J_x, J_t = show_jacobians(jn.Dense(3, 2), index=2)
    assert J_t.shape == (2, 8)
    html = J_t._repr_latex_()
    assert html.startswith(r"$\displaystyle \frac{\partial a}{\partial \theta} \in \mathbb{R}^{2\times 8}")
    assert "x_{3}" in html and html.endswith("$")
    assert str(J_x).startswith("∂a/∂x ∈ ℝ^(2×3) =\n")


def test_shown_jacobian_prints_as_plain_text():
    J_x, J_t = show_jacobians(jn.Dense(2, 2), index=1)
    text = str(J_x) + str(J_t)
    assert "W⁽¹⁾₁,₁" in text and "W⁽¹⁾₂,₁" in text and "x₂" in text and str(J_t).startswith("∂a/∂θ ∈ ℝ^(2×6)")
    assert not any(tex in text for tex in ("__", "{", "\\theta", "^{"))
    assert repr(J_t) == "ShownJacobian(∂a/∂θ, shape (2, 6))"


# --- compiling ------------------------------------------------------------------
def test_lambdify_safe_compiles_sympy_objects_only():
    x = symbolic.vector_symbols("x", 2)
    with pytest.raises(TypeError, match="SymPy objects only, got str"):
        symbolic.lambdify_safe(x, ["x_1 + __import__('os').getpid()"], "math")


def test_layer_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(compiled, "CACHE_SIZE", 2)
    symbolic.clear_cache()
    for n_out in (1, 2, 3):
        evaluate_layer_jacobians(jn.Dense(2, n_out), np.ones(2))
    assert len(compiled._LAYER_CACHE) == 2 and all(dict(key[0][1][2])["n_out"] in (2, 3) for key in compiled._LAYER_CACHE)
