"""The per-layer symbolic gradient (``method="symbolic"``): each layer's SymPy Jacobians, composed as the chain.

* it equals the whole-loss derivation (SymPy's derivative of the whole loss, lambdified)
  on tiny networks of every activation and loss, kinks included, and the Jacobian
  product on deeper ones — a Residual block, a Concat, a shared layer — and HIPS
  autograd on a network written plainly; batches are the mean of the samples, in chunks too;
* its entries are SymPy's own (those of ``Matrix.jacobian`` and ``loss_jacobian``),
  never the closed forms nor the numeric Jacobians: a layer whose closed form or
  hand-written derivative is wrong, or that has no numeric Jacobians, gets the right gradient;
* each layer architecture is compiled once (a second network of the same architecture
  compiles nothing); the guard is per layer (deep networks pass) and refuses a layer too
  big, naming it, before anything is built; ``jacobnet check`` says which derivation it used.
"""

from __future__ import annotations

import dataclasses

import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp
from autograd import grad as ad_grad
from strategies import ACTIVATIONS, targets

import jacobnet as jn
from jacobnet import symbolic
from jacobnet.check import compare_gradients, rel_error
from jacobnet.cli import main
from jacobnet.symbolic import SymbolicSizeError, compiled_layer, layerwise, symbolic_gradient
from jacobnet.symbolic.derive import lambdify_safe, layer_jacobians, loss_jacobian, param_symbols, vector_symbols
from jacobnet.symbolic.guard import MAX_EXPRESSION_SIZE, estimate_layerwise_size
from jacobnet.symbolic.network import direct_gradient

LOSSES = ("mse", "ce", "softmax-ce")
WHOLE_TOL = 1e-13  # per layer vs whole loss: two SymPy derivations of one gradient
JAC_TOL = 1e-12  # per layer vs the structured Jacobian product
rng = np.random.default_rng(11)


def sample(net: jn.Network, batch: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r = np.random.default_rng(seed)
    x = r.normal(size=(net.input_size,) if batch is None else (batch, net.input_size))
    loss = {"MSE": "mse"}.get(type(net.loss_fn).__name__, "ce")
    return x, targets(loss, net.forward(x), r, one_hot=False)


def whole_loss(net: jn.Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SymPy's derivative of the whole loss expression, lambdified plainly (no common factors pulled out)."""
    g = direct_gradient(net)
    f = lambdify_safe(g.x + g.theta + g.y, list(g.direct), "math")
    return np.array(f(*x, *net.get_params(), *y), dtype=float)


# --- the same gradient as the whole-loss derivation and the Jacobian product --------------------------
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_equals_the_whole_loss_derivation_on_tiny_networks(act, loss):
    net = jn.build_network("2,2,2", act.replace("_", "-"), loss, seed=3)
    x, y = sample(net, seed=4)
    g = symbolic_gradient(net, x, y)
    assert rel_error(g, whole_loss(net, x, y)) <= WHOLE_TOL
    assert rel_error(g, net.gradient(x, y)) <= JAC_TOL


@pytest.mark.parametrize("act, left", [("relu", 0.0), ("leaky-relu", 0.01)])
def test_at_the_kink_both_derivations_take_the_left_derivative(act, left):
    net = jn.build_network("2,2,1", act, "mse", seed=0)
    net.layers[0].set_params(np.array([1.0, -1.0, 0.5, 0.5, 0.0, 0.0]))  # z_1 = x_1 − x_2 = 0 at x = (1, 1)
    x, y = np.array([1.0, 1.0]), np.array([0.3])
    g = symbolic_gradient(net, x, y)
    assert rel_error(g, whole_loss(net, x, y)) <= WHOLE_TOL and rel_error(g, net.gradient(x, y)) <= JAC_TOL
    w2 = net.layers[2].W[0, 0]
    residual = 2 * (net.forward(x)[0] - y[0])
    assert g[0] == pytest.approx(residual * w2 * left * x[0], abs=1e-15)  # ∂L/∂W^{(1)}_{1,1} through f'(0) = left


def shared_residual() -> jn.Network:
    d = jn.Dense(3, 3, seed=1)
    layers = [d, jn.Tanh(), d, jn.Residual([jn.Dense(3, 3, seed=2), jn.Sigmoid(), d]), jn.Dense(3, 2, seed=3)]
    return jn.Network(layers, jn.SoftmaxCrossEntropy())


DEEP = [
    lambda: jn.build_network("4,8,8,8,3", "tanh", "softmax-ce", seed=1),
    lambda: jn.build_network("3,5,4,4,2", "softplus", "ce", seed=2),
    lambda: jn.build_network("1,2,2,2,2,2,2,2,1", "sigmoid", "mse", seed=3),  # refused whole, admitted per layer
    shared_residual,
    lambda: jn.Network([jn.Dense(3, 4, seed=4), jn.Concat([[jn.Tanh()], [], [jn.Dense(4, 2, seed=5), jn.ReLU()]]),
                        jn.Dense(10, 1, seed=6)], jn.MSE()),
    lambda: jn.Network([jn.Tanh(), jn.Dense(3, 2, seed=7), jn.Softmax()], jn.CrossEntropy()),  # a size-free first layer
]


@pytest.mark.parametrize("make", DEEP)
@pytest.mark.parametrize("batch", [None, 3])
def test_equals_the_jacobian_product_on_deeper_networks(make, batch):
    net = make()
    x, y = sample(net, batch, seed=5)
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= JAC_TOL


def test_shared_and_residual_network_equals_autograd_written_plainly():
    net = shared_residual()
    x, y = sample(net, 3, seed=6)

    def loss(theta):  # d (θ[0:12]) at positions 1, 3 and inside the residual; Dense 2 (θ[12:24]); Dense 3 (θ[24:32])
        W, b = anp.reshape(theta[:9], (3, 3)), theta[9:12]
        V, c = anp.reshape(theta[12:21], (3, 3)), theta[21:24]
        U, e = anp.reshape(theta[24:30], (2, 3)), theta[30:32]
        h = anp.dot(anp.tanh(anp.dot(x, W.T) + b), W.T) + b
        h = h + anp.dot(1 / (1 + anp.exp(-(anp.dot(h, V.T) + c))), W.T) + b
        z = anp.dot(h, U.T) + e
        lse = anp.log(anp.sum(anp.exp(z), axis=1))
        return anp.mean(-anp.sum(y * z, axis=1) + anp.sum(y, axis=1) * lse)

    assert net.n_params == 32
    assert rel_error(net.gradient(x, y, method="symbolic"), ad_grad(loss)(net.get_params())) <= JAC_TOL


def test_batch_is_the_mean_of_the_samples_also_in_chunks(monkeypatch):
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=8)
    x, y = sample(net, 7, seed=9)
    each = np.mean([symbolic_gradient(net, xi, yi) for xi, yi in zip(x, y)], axis=0)
    whole = symbolic_gradient(net, x, y)
    assert rel_error(whole, each) <= 1e-15
    monkeypatch.setattr(layerwise, "CHUNK_VALUES", 1)  # one sample at a time
    assert rel_error(symbolic_gradient(net, x, y), whole) <= 1e-15


def test_no_parameters():
    net = jn.Network([jn.Softmax()], jn.CrossEntropy())
    assert symbolic_gradient(net, np.array([0.1, -0.5, 2.0]), np.array([0.2, 0.3, 0.5])).shape == (0,)


# --- SymPy's own entries, never the closed forms --------------------------------------------------------
def evaluate(derivation: layerwise.LayerDerivation, x: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dense ``(J_x, J_θ)`` from the compiled nonzero entries at one sample."""
    X = x[:, None]
    out = []
    for J in (derivation.J_x, derivation.J_theta):
        dense = np.zeros(J.shape)
        dense[J.rows, J.cols] = np.broadcast_to(J.values(X, theta), (J.nonzeros, 1))[:, 0]
        out.append(dense)
    return out[0], out[1]


LAYERS = [
    (jn.Dense(3, 2, seed=0), 3), (jn.Dense(2, 1, tokens=3, seed=1), 6), (jn.Softmax(), 4), (jn.LeakyReLU(alpha=0.2), 3),
    (jn.Residual([jn.Dense(3, 3, seed=2), jn.Tanh()]), 3), (jn.Concat([jn.Dense(2, 3, seed=3), [jn.Sigmoid()]]), 2),
]


@pytest.mark.parametrize("layer, n", LAYERS, ids=lambda v: repr(v) if isinstance(v, jn.Layer) else str(v))
def test_entries_are_sympys_matrix_jacobian(layer, n):
    """The nonzero entries, evaluated, equal SymPy's ``Matrix.jacobian``; every entry left out is identically 0 there."""
    d = compiled_layer(layer, n)
    x, theta = rng.normal(size=n), layer.get_params()
    J_x, J_t = layer_jacobians(layer, n)
    values = dict(zip(vector_symbols("x", n) + param_symbols(layer), [*x, *theta]))
    got = evaluate(d, x, theta)
    for built, compiled, stored in zip((J_x, J_t), got, (d.J_x, d.J_theta)):
        kept = np.zeros(built.shape, dtype=bool)
        kept[stored.rows, stored.cols] = True
        assert all(built[i, j] == 0 for i, j in zip(*np.nonzero(~kept)))
        assert rel_error(compiled, np.array(built.xreplace(values), dtype=float)) <= 1e-15
    assert rel_error(d.forward(x[:, None], theta)[:, 0], layer.forward(x)) <= 1e-15


@pytest.mark.parametrize("loss", [jn.MSE(), jn.CrossEntropy(), jn.SoftmaxCrossEntropy()], ids=repr)
def test_loss_row_is_sympys_loss_jacobian(loss):
    n = 3
    yhat, y = rng.uniform(0.1, 0.9, size=(n, 2)), rng.dirichlet(np.ones(n), 2).T
    row = layerwise.compiled_loss_row(loss, n)(yhat, y)
    symbols = vector_symbols(symbolic.loss_input_name(loss), n) + vector_symbols("y", n)
    f = lambdify_safe(symbols, list(loss_jacobian(loss, n)), "math")
    assert rel_error(row, np.array([f(*yhat[:, b], *y[:, b]) for b in range(2)]).T) <= 1e-15


class WrongClosedForm(jn.Dense):
    """A Dense layer whose hand-derived Jacobians are wrong (doubled)."""

    def closed_form(self, x, theta):
        J_x, J_theta = super().closed_form(x, theta)
        return 2 * J_x, 2 * J_theta


def test_the_closed_forms_are_never_used():
    tanh = jn.Tanh()
    tanh.rule = dataclasses.replace(tanh.rule, dexpr=lambda x: 1 + sp.tanh(x) ** 2)  # a sign error in the hand-written f'
    first = WrongClosedForm(3, 4, seed=0)
    net = jn.Network([first, tanh, jn.Residual([WrongClosedForm(4, 4, seed=1)]), jn.Dense(4, 2, seed=2)], jn.MSE())
    assert not all(c.proved for c in symbolic.compare_closed_forms(first))  # the closed form is wrong …
    x, y = sample(net, 2, seed=10)
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= JAC_TOL  # … and unused


class NoNumericJacobians(jn.Dense):
    """A Dense layer without numeric Jacobians: the symbolic gradient must never ask for them."""

    def jacobian_input_op(self, x):
        raise AssertionError("the symbolic gradient asked for a numeric J_x")

    def jacobian_params_op(self, x):
        raise AssertionError("the symbolic gradient asked for a numeric J_θ")


def test_independent_of_the_numeric_jacobians():
    layers = [NoNumericJacobians(3, 4, seed=0), jn.Tanh(), NoNumericJacobians(4, 2, seed=1)]
    plain = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.MSE())
    net = jn.Network(layers, jn.MSE())
    x, y = sample(net, 2, seed=12)
    g = net.gradient(x, y, method="symbolic")
    assert rel_error(g, plain.gradient(x, y)) <= JAC_TOL
    assert rel_error(g, net.gradient(x, y, method="finite-difference")) <= 1e-6


# --- compiled once per architecture ----------------------------------------------------------------------
def test_a_second_network_of_the_same_architecture_compiles_nothing(monkeypatch):
    symbolic.clear_cache()
    net = jn.build_network("4,8,8,3", "leaky-relu", "softmax-ce", seed=0)
    x, y = sample(net, seed=13)
    net.gradient(x, y, method="symbolic")
    assert len(layerwise._LAYERS) == 4 and len(layerwise._LOSSES) == 1  # Dense(4, 8), LeakyReLU(8), Dense(8, 8), Dense(8, 3)

    def derived(*args):
        raise AssertionError("nothing may be derived for an architecture already compiled")

    monkeypatch.setattr(layerwise, "derive_layer", derived)
    other = jn.build_network("4,8,8,3", "leaky-relu", "softmax-ce", seed=5)
    assert rel_error(other.gradient(x, y, method="symbolic"), other.gradient(x, y)) <= JAC_TOL
    other.set_params(rng.normal(size=other.n_params))  # new weights: nothing new either
    assert rel_error(other.gradient(x, y, method="symbolic"), other.gradient(x, y)) <= JAC_TOL
    with pytest.raises(AssertionError, match="already compiled"):  # another alpha is another architecture
        jn.Network([jn.Dense(4, 8), jn.LeakyReLU(alpha=0.3), jn.Dense(8, 3)], jn.SoftmaxCrossEntropy()).gradient(
            x, y, method="symbolic")


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(layerwise, "CACHE_SIZE", 2)
    symbolic.clear_cache()
    for n_out in (1, 2, 3):
        compiled_layer(jn.Dense(2, n_out), 2)
    assert [key[1][2] for key in layerwise._LAYERS] == [(("n_in", 2), ("n_out", n), ("tokens", 1)) for n in (2, 3)]


# --- the guard: per layer ----------------------------------------------------------------------------------
def test_a_layer_too_big_is_refused_by_name_before_anything_is_built(monkeypatch):
    def built(*args):
        raise AssertionError("the guard must fire before any expression is built")

    monkeypatch.setattr(layerwise, "derive_layer", built)
    monkeypatch.setattr(layerwise, "compiled_loss_row", built)
    net = jn.build_network("4,3,784,128,10", "tanh", "softmax-ce")
    x, y = np.zeros(4), np.eye(10)[0]
    with pytest.raises(SymbolicSizeError, match=r"^symbolic Jacobians of Dense 3 \(Dense\(784, 128\)\) for the per-layer symbolic "
                                                r"gradient: estimated 7e\+05 expression nodes \(about 11 s\), over the limit of 2\.5e\+05"):
        net.gradient(x, y, method="symbolic")
    with pytest.raises(SymbolicSizeError, match=r"^symbolic loss row of SoftmaxCrossEntropy\(\) over 60 outputs"):
        symbolic_gradient(jn.Network([jn.Dense(1, 60)], jn.SoftmaxCrossEntropy()), np.zeros(1), np.eye(60)[0])
    with pytest.raises(SymbolicSizeError, match=r"^symbolic Jacobians of Dense\(2→3\) .* over the limit of 10 "):
        compiled_layer(jn.Dense(2, 3), 2, max_size=10)


def test_the_estimate_is_not_below_what_is_built():
    """Nodes of the forward and of the nonzero entries of SymPy's Jacobians, against the estimate."""
    for layer, n in [(jn.Dense(5, 3), 5), (jn.Tanh(), 4), (jn.Softmax(), 4), (jn.Residual([jn.Dense(3, 3), jn.Tanh()]), 3)]:
        x, theta = vector_symbols("x", n), param_symbols(layer)
        exprs = [*layer.sympy_forward(x, theta), *(e for J in layer_jacobians(layer, n) for e in J if e != 0)]
        built = sum(1 for e in exprs for _ in sp.preorder_traversal(e))
        assert 1.0 <= estimate_layerwise_size(layer, n) / built <= 4.0, layer


def test_deep_networks_pass_and_wide_ones_do_not():
    deep = jn.build_network("3," + "16," * 12 + "2", "tanh", "softmax-ce")  # the whole loss: far over
    with pytest.raises(SymbolicSizeError):
        symbolic.check_size(deep)
    assert max(estimate_layerwise_size(l, 16) for l in deep.layers[1:]) < MAX_EXPRESSION_SIZE
    x, y = sample(deep, seed=14)
    assert rel_error(deep.gradient(x, y, method="symbolic"), deep.gradient(x, y)) <= JAC_TOL


# --- jacobnet check says which derivation -------------------------------------------------------------------
@pytest.mark.parametrize("layers, derivation", [("3,4,2", "whole loss"), ("4,8,8,3", "per layer")])
def test_check_compares_three_ways_and_says_which_derivation(layers, derivation, capsys):
    assert main(["check", "--layers", layers]) == 0
    out = capsys.readouterr().out
    assert "symbolic vs jacobian" in out and "all methods agree" in out
    assert f"the symbolic gradient is symbolic ({derivation}): " in out


def test_report_names_the_derivation():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce")
    x, y = sample(net, seed=15)
    assert compare_gradients(net, x, y).symbolic == "symbolic (per layer)"
    report = compare_gradients(net, x, y, symbolic="whole-loss")
    assert report.ok and report.symbolic == "symbolic (whole loss)" and "symbolic (whole loss): SymPy's derivative" in str(report)
    with pytest.raises(ValueError, match="symbolic must be one of 'per-layer', 'whole-loss', 'auto', got 'chain'"):
        compare_gradients(net, x, y, symbolic="chain")
    with pytest.raises(ValueError, match="derivation must be one of 'per-layer', 'whole-loss', got 'both'"):
        symbolic_gradient(net, x, y, derivation="both")
