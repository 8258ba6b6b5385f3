"""Second order as Jacobian products: Hessian, hvp, Gauss–Newton, output Jacobians, per-sample gradients, NTK.

* The Hessian (the R-pass through the explicit products) against SymPy's ``hessian`` of
  the loss expression on tiny networks (≤ 1e-12; every activation on a 2→3→1 MSE network), central differences of ``gradient``
  (≤ 1e-6) and HIPS autograd's ``hessian`` of the loss written plainly here (≤ 1e-10), on
  random networks of every activation and loss, with a Residual block and a shared layer,
  one sample and batches; symmetric without being symmetrised.
* ``hvp`` equals ``hessian @ v``; ``H = GN + residual``, three separate computations;
  GN equals ``Jᵀ H_ℓ J`` formed here with ``H_ℓ`` typed by hand, and equals ``H`` at a
  perfect MSE fit.
* ``output_jacobian`` against autograd's ``jacobian``; the mean of ``per_sample_gradients``
  is ``gradient``; the NTK is ``J Jᵀ``, symmetric positive semi-definite.
* Each piece: every rule's ``d2f`` against central differences of ``df`` and SymPy's second
  derivative; every layer's ``vjp_tangent`` against autograd's Hessian-vector product of
  ``g · f(x; θ)``; every loss's ``hessian_op`` against autograd, its ``closed_form_hessian``
  proved equal to SymPy's.
* Bad input: ``v`` of the wrong shape, a layer without ``vjp_tangent``, the memory guard (Hessian, output
  Jacobian, Gauss–Newton, NTK, per-sample gradients).
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import reference as ref
import sympy as sp

import jacobnet as jn
from jacobnet.chain import curvature
from jacobnet.check import rel_error
from jacobnet.core.finite import jacobian_fd
from jacobnet.core.memory import JacobianMemoryError, memory_budget
from jacobnet.core.rules import RULES
from jacobnet.symbolic.curvature import symbolic_hessian, symbolic_hessian_at
from jacobnet.symbolic.guard import SymbolicSizeError

SYMPY_TOL = 1e-12
FD_TOL = 1e-6
AD_TOL = 1e-10
EXACT_TOL = 1e-12  # two exact computations of one matrix, rounding apart
ACTS = ("tanh", "sigmoid", "relu", "leaky_relu", "softplus")
LOSSES = ("mse", "ce", "softmax-ce")
LAYER = {"tanh": jn.Tanh, "sigmoid": jn.Sigmoid, "relu": jn.ReLU, "softplus": jn.Softplus}


# --- the reference: networks written plainly in autograd.numpy ------------------------------------
def layout(layers, where=None, start=0):
    """θ's slice of every Dense, by first use (nested blocks walked): the order is the network's θ."""
    where = {} if where is None else where
    for layer in layers:
        if isinstance(layer, jn.Residual):
            start = layout(layer.layers, where, start)[1]
        elif isinstance(layer, jn.Dense) and id(layer) not in where:
            where[id(layer)] = slice(start, start + layer.n_in * layer.n_out + layer.n_out)
            start = where[id(layer)].stop
    return where, start


def plain_forward(layers, theta, a, where):
    """y = W x + b, x + g(x), and the activations, from their definitions (never jacobnet's numerics)."""
    for layer in layers:
        if isinstance(layer, jn.Residual):
            a = a + plain_forward(layer.layers, theta, a, where)
        elif isinstance(layer, jn.Dense):
            t, k = theta[where[id(layer)]], layer.n_in * layer.n_out
            a = anp.dot(a, anp.reshape(t[:k], (layer.n_out, layer.n_in)).T) + t[k:]
        elif isinstance(layer, jn.Softmax):
            a = ref.softmax(a)
        elif isinstance(layer, jn.LeakyReLU):
            a = ref.leaky_relu(a, layer.rule_params["alpha"])
        else:
            a = ref.ACTIVATIONS[layer.rule.name](a)
    return a


def plain_loss(net):
    """``(θ, x, y) ↦`` the mean loss of ``net``."""
    where, loss = layout(net.layers)[0], ref.LOSSES[type(net.loss_fn)]
    return lambda theta, x, y: anp.mean(loss(plain_forward(net.layers, theta, x, where), y))


def activation(name, rng):
    return jn.LeakyReLU(float(rng.uniform(0.05, 0.5))) if name == "leaky_relu" else LAYER[name]()


def random_net(act: str, loss: str, seed: int):
    """x (3) → Dense → act → Residual[Dense, act, Dense] → act → the shared Dense again → act → Dense → (Softmax for CE)."""
    rng = np.random.default_rng(seed)
    shared = jn.Dense(4, 4, seed=seed + 1)
    layers = [jn.Dense(3, 4, seed=seed), activation(act, rng), jn.Residual([shared, activation(act, rng), jn.Dense(4, 4, seed=seed + 2)]),
              activation(act, rng), shared, activation(act, rng), jn.Dense(4, 3, seed=seed + 3)]
    if loss == "ce":
        layers.append(jn.Softmax())
    return jn.Network(layers, {"mse": jn.MSE, "ce": jn.CrossEntropy, "softmax-ce": jn.SoftmaxCrossEntropy}[loss]())


def data(net, batch: int | None, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, 3) if batch else 3)
    out = net.forward(X)
    if isinstance(net.loss_fn, jn.MSE):
        return X, rng.normal(size=out.shape)
    Y = rng.dirichlet(np.ones(3), size=out.shape[:-1]) if seed % 2 else np.eye(3)[rng.integers(0, 3, size=out.shape[:-1])]
    return X, Y


CASES = [(a, l) for a in ACTS for l in LOSSES]


# --- the Hessian against three references --------------------------------------------------------------
@pytest.mark.parametrize("act, loss", CASES)
@pytest.mark.parametrize("batch", [None, 4])
def test_hessian_equals_autograds_hessian_of_the_plain_loss(act, loss, batch):
    net = random_net(act, loss, seed=len(act) + 7 * len(loss))
    X, Y = data(net, batch, seed=3 + (batch or 0) + len(loss))
    H = net.hessian(X, Y)
    H_ad = autograd.hessian(plain_loss(net))(net.get_params(), X, Y)
    assert H.shape == (net.n_params, net.n_params) == (71, 71)
    assert rel_error(H, H_ad) <= AD_TOL


def fd_hessian(net, X, Y):
    """Central differences of ``net.gradient`` in θ (the parameters are put back afterwards)."""
    theta = net.get_params()

    def grad_at(t):
        net.set_params(t)
        return net.gradient(X, Y)

    try:
        return jacobian_fd(grad_at, theta)
    finally:
        net.set_params(theta)


@pytest.mark.parametrize("act, loss", CASES)
def test_hessian_equals_central_differences_of_the_gradient(act, loss):
    net = random_net(act, loss, seed=11 + len(act))
    X, Y = data(net, 3, seed=5)
    assert rel_error(net.hessian(X, Y), fd_hessian(net, X, Y)) <= FD_TOL


def sympy_case(net, x, y, parts=("total", "gauss_newton", "residual")):
    h = symbolic_hessian(net)
    for part in parts:
        assert rel_error(curvature.hessian(net, x, y, part=part), h.numeric(x, y, net.get_params(), part)) <= SYMPY_TOL


def test_hessian_of_a_2_2_1_tanh_mse_network_and_its_parts_equal_sympys():
    net = jn.Network([jn.Dense(2, 2, seed=0), jn.Tanh(), jn.Dense(2, 1, seed=1)], jn.MSE())
    sympy_case(net, np.array([[0.7, -1.3], [0.2, 0.4]]), np.array([[0.4], [-1.0]]))


def test_hessian_of_a_2_1_2_sigmoid_softmax_network_and_its_parts_equal_sympys():
    net = jn.Network([jn.Dense(2, 1, seed=2), jn.Sigmoid(), jn.Dense(1, 2, seed=3)], jn.SoftmaxCrossEntropy())
    sympy_case(net, np.array([0.7, -1.3]), np.array([0.25, 0.75]))


@pytest.mark.slow
def test_hessian_of_a_2_3_2_tanh_softmax_network_and_its_parts_equal_sympys():
    net = jn.build_network("2,3,2", "tanh", "softmax-ce", seed=0)
    sympy_case(net, np.array([[0.7, -1.3], [-0.2, 0.4]]), np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert rel_error(net.hessian(np.array([0.7, -1.3]), np.array([0.0, 1.0])),
                     symbolic_hessian_at(net, np.array([0.7, -1.3]), np.array([0.0, 1.0]))) <= SYMPY_TOL


@pytest.mark.slow
def test_hessian_of_a_softmax_layer_and_cross_entropy_equals_sympys():
    net = jn.Network([jn.Dense(2, 2, seed=4), jn.Softplus(), jn.Dense(2, 2, seed=5), jn.Softmax()], jn.CrossEntropy())
    sympy_case(net, np.array([0.7, -1.3]), np.array([0.25, 0.75]), parts=("total",))


@pytest.mark.parametrize("act", ACTS)
def test_hessian_of_a_2_3_1_network_of_every_activation_and_its_parts_equal_sympys(act):
    net = jn.Network([jn.Dense(2, 3, seed=0), activation(act, np.random.default_rng(1)), jn.Dense(3, 1, seed=1)], jn.MSE())
    X, Y = np.array([[0.7, -1.3], [0.2, 0.4]]), np.array([[0.4], [-1.0]])
    sympy_case(net, X, Y)
    assert np.abs(symbolic_hessian_at(net, X, Y, part="residual")).max() > 0.1  # the residual term is there to be checked


def test_symbolic_hessian_is_refused_by_the_size_guard():
    with pytest.raises(SymbolicSizeError, match="derivations of the gradient.*use net.hessian"):
        symbolic_hessian(jn.build_network("4,8,8,3", "tanh", "softmax-ce"))


@pytest.mark.parametrize("loss", LOSSES)
def test_hessian_is_symmetric_without_being_symmetrised(loss):
    net = random_net("softplus", loss, seed=2)
    H = net.hessian(*data(net, 5, seed=1))
    assert rel_error(H, H.T) <= EXACT_TOL
    assert not np.allclose(H, 0)


# --- hvp and the decomposition ---------------------------------------------------------------------------
@pytest.mark.parametrize("loss", LOSSES)
def test_hvp_equals_hessian_times_v_for_one_vector_and_several(loss):
    net = random_net("tanh", loss, seed=4)
    X, Y = data(net, 3, seed=2)
    H, rng = net.hessian(X, Y), np.random.default_rng(0)
    v, V = rng.normal(size=net.n_params), rng.normal(size=(net.n_params, 3))
    assert net.hvp(X, Y, v).shape == (net.n_params,)
    assert rel_error(net.hvp(X, Y, v), H @ v) <= EXACT_TOL
    assert rel_error(net.hvp(X, Y, V), H @ V) <= EXACT_TOL
    parts = net.hessian(X, Y, parts=True)
    assert rel_error(net.hvp(X, Y, v, part="gauss_newton"), parts.gauss_newton @ v) <= EXACT_TOL
    assert rel_error(net.hvp(X, Y, v, part="residual"), parts.residual @ v) <= EXACT_TOL


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_chunks_of_directions_give_the_same_hessian(chunk):
    net = random_net("sigmoid", "softmax-ce", seed=1)
    X, Y = data(net, 2, seed=0)
    assert rel_error(net.hessian(X, Y, chunk=chunk), net.hessian(X, Y)) <= EXACT_TOL


def hand_loss_hessian(loss, out, y):
    """H_ℓ typed from the formulas: (2/n) I, diag(y/ŷ²), (Σy)(diag(s) − s sᵀ)."""
    if isinstance(loss, jn.MSE):
        return np.broadcast_to(2.0 / out.shape[-1] * np.eye(out.shape[-1]), out.shape + out.shape[-1:])
    if isinstance(loss, jn.CrossEntropy):
        return np.einsum("...i,ij->...ij", y / out**2, np.eye(out.shape[-1]))
    e = np.exp(out - out.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    return y.sum(axis=-1)[..., None, None] * (np.einsum("...i,ij->...ij", s, np.eye(s.shape[-1])) - s[..., :, None] * s[..., None, :])


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("batch", [None, 4])
def test_gauss_newton_is_jt_hl_j_and_the_hessian_is_gn_plus_residual(loss, batch):
    net = random_net("tanh", loss, seed=6)
    X, Y = data(net, batch, seed=1)
    J, out = net.output_jacobian(X), net.forward(X)
    H_l = hand_loss_hessian(net.loss_fn, out, Y)
    GN = np.mean(np.einsum("...ki,...kl,...lj->...ij", J, H_l, J).reshape(-1, net.n_params, net.n_params), axis=0)
    assert rel_error(net.gauss_newton(X, Y), GN) <= EXACT_TOL
    parts = net.hessian(X, Y, parts=True)
    assert rel_error(parts.gauss_newton, GN) <= EXACT_TOL
    assert parts.gap <= EXACT_TOL and rel_error(parts.total, net.hessian(X, Y)) == 0.0
    assert rel_error(parts.residual, parts.total - GN) <= 1e-10 and not np.allclose(parts.residual, 0)
    assert parts.names == net.param_names() and parts.labels == net.param_labels()


@pytest.mark.parametrize("act", ACTS)
def test_at_a_perfect_mse_fit_the_residual_is_zero_and_gn_is_the_hessian(act):
    net = random_net(act, "mse", seed=8)
    X = data(net, 3, seed=2)[0]
    parts = net.hessian(X, net.forward(X), parts=True)
    assert np.abs(parts.residual).max() == 0.0
    assert rel_error(parts.total, parts.gauss_newton) <= EXACT_TOL
    assert np.linalg.eigvalsh(parts.total).min() >= -EXACT_TOL * np.abs(parts.total).max()  # GN of MSE is PSD


# --- output Jacobian, per-sample gradients, NTK -------------------------------------------------------------
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("batch", [None, 3])
def test_output_jacobian_equals_autograds_jacobian(loss, batch):
    net = random_net("leaky_relu", loss, seed=3)
    X = data(net, batch, seed=4)[0]
    where = layout(net.layers)[0]
    J_ad = autograd.jacobian(lambda t: plain_forward(net.layers, t, X, where))(net.get_params())
    J = net.output_jacobian(X)
    assert J.shape == ((batch,) if batch else ()) + (3, net.n_params)
    assert rel_error(J, J_ad) <= AD_TOL


@pytest.mark.parametrize("loss", LOSSES)
def test_per_sample_gradients_are_each_samples_gradient_and_average_to_the_gradient(loss):
    net = random_net("softplus", loss, seed=5)
    X, Y = data(net, 4, seed=6)
    G = net.per_sample_gradients(X, Y)
    assert G.shape == (4, net.n_params)
    assert rel_error(G.mean(axis=0), net.gradient(X, Y)) <= EXACT_TOL
    for b in range(4):
        assert rel_error(G[b], net.gradient(X[b], Y[b])) <= EXACT_TOL
    assert net.per_sample_gradients(X[0], Y[0]).shape == (1, net.n_params)


def test_ntk_is_j_jt_symmetric_positive_semidefinite():
    net = random_net("tanh", "softmax-ce", seed=9)
    X = data(net, 4, seed=3)[0]
    K = net.ntk(X)
    J = net.output_jacobian(X).reshape(-1, net.n_params)
    assert K.shape == (12, 12)
    assert rel_error(K, J @ J.T) <= EXACT_TOL and rel_error(K, K.T) == 0.0
    assert np.linalg.eigvalsh(K).min() >= -EXACT_TOL * np.abs(K).max()
    where = layout(net.layers)[0]
    J_ad = autograd.jacobian(lambda t: plain_forward(net.layers, t, X, where))(net.get_params()).reshape(-1, net.n_params)
    assert rel_error(K, J_ad @ J_ad.T) <= AD_TOL
    assert net.ntk(X[0]).shape == (3, 3)


# --- the pieces: rules, layers, losses ---------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RULES))
def test_every_rules_d2f_equals_central_differences_of_df_and_sympys_second_derivative(name):
    rule = RULES[name]
    params = {k: 0.2 for k in rule.defaults}
    x = np.concatenate([np.linspace(-3, 3, 61), [-20.0, 17.0]])
    x = x[np.all(np.abs(x[:, None] - np.array(rule.kinks or (np.inf,))) > 1e-2, axis=1)]
    d2 = rule.d2f(x, **params)
    fd = np.diag(jacobian_fd(lambda t: rule.df(t, **params), x))
    assert np.max(np.abs(d2 - fd)) <= 1e-7 * max(1.0, np.abs(d2).max())
    t = sp.Symbol("t", real=True)
    exact = sp.lambdify(t, sp.diff(rule.expr(t, **params), t, 2), "mpmath")
    want = np.array([float(exact(v)) for v in x])
    assert np.max(np.abs(d2 - want) / np.maximum(np.abs(want), 1e-300)) <= 1e-12 or np.max(np.abs(d2 - want)) <= 1e-15
    big = rule.d2f(np.array([-1000.0, 1000.0]), **params)
    assert np.isfinite(big).all() and np.abs(big).max() <= 1e-300


def layer_case(kind: str):
    if kind == "dense":
        return jn.Dense(3, 2, seed=0), 3
    if kind == "dense_tokens":
        return jn.Dense(3, 2, tokens=2, seed=1), 6
    if kind == "softmax":
        return jn.Softmax(), 4
    return (jn.LeakyReLU(0.3) if kind == "leaky_relu" else LAYER[kind]()), 4


def plain_layer(layer):
    """``(x, θ) ↦ f(x; θ)`` written plainly."""
    if isinstance(layer, jn.Dense):
        m, n, T = layer.features_out, layer.features_in, layer.tokens

        def f(x, t):
            xs = anp.reshape(x, x.shape[:-1] + (T, n))
            y = anp.dot(xs, anp.reshape(t[: m * n], (m, n)).T) + t[m * n :]
            return anp.reshape(y, x.shape[:-1] + (T * m,))

        return f
    return lambda x, t: plain_forward([layer], None, x, {})


@pytest.mark.parametrize("kind", ["dense", "dense_tokens", *ACTS, "softmax"])
@pytest.mark.parametrize("batch", [None, 3])
def test_every_layers_vjp_tangent_is_autograds_directional_derivative_of_g_dot_f(kind, batch):
    layer, n = layer_case(kind)
    rng = np.random.default_rng(len(kind))
    lead, p = (batch,) if batch else (), 2
    x, theta, m = rng.normal(size=lead + (n,)), layer.get_params(), layer.out_size(n)
    g, dx, dtheta = rng.normal(size=lead + (m,)), rng.normal(size=lead + (p, n)), rng.normal(size=(p, layer.n_params))
    gx, gt = layer.vjp_tangent(x, g, dx, dtheta)
    assert gx.shape == lead + (p, n) and gt.shape == (p, layer.n_params)
    if kind in ("relu", "leaky_relu"):  # piecewise linear: f'' = 0 (autograd's Hessian has nothing to trace)
        assert np.array_equal(gx, np.zeros_like(gx))
        return
    f = plain_layer(layer)
    xs, gs, dxs = (x, g, dx) if batch else (x[None], g[None], dx[None])
    want_t = np.zeros((p, layer.n_params))
    for c in range(len(xs)):  # φ_c(x, θ) = g_c · f(x; θ): its Hessian times (dx, dθ) is (g R{J_x}, g R{J_θ})
        Hphi = autograd.hessian(lambda z, c=c: anp.dot(gs[c], f(z[:n], z[n:])))(np.concatenate([xs[c], theta]))
        want = np.stack([Hphi @ np.concatenate([dxs[c, k], dtheta[k]]) for k in range(p)])
        assert rel_error(gx[c] if batch else gx, want[:, :n]) <= 1e-12
        want_t += want[:, n:]
    assert rel_error(gt, want_t) <= 1e-12
    assert not np.allclose(gx, 0)


@pytest.mark.parametrize("name", LOSSES)
def test_every_losss_hessian_op_equals_autograd_and_its_closed_form_equals_sympys(name):
    loss = {"mse": jn.MSE, "ce": jn.CrossEntropy, "softmax-ce": jn.SoftmaxCrossEntropy}[name]()
    rng = np.random.default_rng(0)
    yhat = rng.uniform(0.1, 0.9, size=(2, 3)) if name == "ce" else rng.normal(size=(2, 3))
    y = np.array([[0.2, 0.0, 0.8], [0.0, 1.0, 0.0]]) if name != "mse" else rng.normal(size=(2, 3))
    H = loss.hessian_op(yhat, y)
    assert H.shape == (3, 3) and H.batch == 2
    for b in range(2):
        want = autograd.hessian(lambda a, b=b: ref.LOSSES[type(loss)](a, y[b]))(yhat[b])
        assert rel_error(H.dense()[b], want) <= 1e-12
        assert rel_error(H.vjp(np.eye(3))[b], want) <= 1e-12
    a, t = [sp.Symbol(f"a{i}", real=True, positive=True) for i in range(3)], sp.symbols("t0:3", real=True)
    diff = loss.closed_form_hessian(a, t) - sp.hessian(loss.sympy_loss(a, t), a)
    assert sp.simplify(diff.xreplace(loss.closed_form_assumes(t))) == sp.zeros(3, 3)


def test_softmax_cross_entropy_hessian_scales_with_the_targets_total():
    z, y = np.array([0.3, -0.4, 1.1]), np.array([0.5, 1.0, 0.0])  # Σ y = 1.5: H = 1.5 (diag(s) − s sᵀ)
    want = autograd.hessian(lambda a: ref.softmax_cross_entropy(a, y))(z)
    assert rel_error(jn.SoftmaxCrossEntropy().hessian_op(z, y).dense(), want) <= 1e-12


# --- bad input ------------------------------------------------------------------------------------------------
@pytest.fixture
def small():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    return net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])


@pytest.mark.parametrize("v, message", [
    (np.ones(25), r"v must be a real array of shape \(n_params,\) = \(26,\) or \(n_params, k\), got float64 \(25,\)"),
    (np.ones((3, 26)), r"got float64 \(3, 26\)"),
    (np.array(["a"] * 26), "got <U1"),
    (np.full(26, np.nan), "v holds NaN or inf"),
])
def test_hvp_refuses_a_wrong_v(small, v, message):
    net, x, y = small
    with pytest.raises(ValueError, match=message):
        net.hvp(x, y, v)


def test_bad_part_and_chunk_are_refused(small):
    net, x, y = small
    with pytest.raises(ValueError, match="part must be one of 'total', 'gauss_newton', 'residual', got 'gn'"):
        net.hvp(x, y, np.ones(26), part="gn")
    with pytest.raises(ValueError, match="chunk must be a positive integer"):
        net.hessian(x, y, chunk=0)


def test_a_layer_without_vjp_tangent_is_named_and_gauss_newton_still_works():
    class Cubes(jn.Layer):  # y = x³, with first derivatives only
        def apply(self, x):
            return x**3

        def jacobian_input_op(self, x):
            return jn.Diagonal(3 * x**2)

    net = jn.Network([jn.Dense(3, 4, seed=0), Cubes(), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.MSE())
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.2, -0.1])
    with pytest.raises(NotImplementedError, match=r"hessian: Cubes does not define vjp_tangent"):
        net.hessian(x, y)
    J = net.output_jacobian(x)
    assert rel_error(net.gauss_newton(x, y), J.T @ J) <= EXACT_TOL  # MSE over 2 outputs: H_ℓ = I
    v = np.arange(net.n_params, dtype=float)
    assert rel_error(net.hvp(x, y, v, part="gauss_newton"), J.T @ (J @ v)) <= EXACT_TOL


def test_a_rule_without_d2f_is_named():
    class Cube(jn.Elementwise):
        rule = jn.Rule("cube", expr=lambda x: x**3, f=lambda x: x**3, df=lambda x: 3 * x**2, dexpr=lambda x: 3 * x**2)

    net = jn.Network([jn.Dense(2, 2, seed=0), Cube()], jn.MSE())
    with pytest.raises(NotImplementedError, match="the rule 'cube' of Cube has no d2f"):
        net.hessian(np.ones(2), np.zeros(2))


def test_the_dense_matrices_are_refused_over_the_memory_budget(small):
    net, x, y = small
    with memory_budget(26 * 26 * 8 - 1), pytest.raises(JacobianMemoryError, match=r"the Hessian of shape \(26, 26\).*use hvp"):
        net.hessian(x, y)
    with memory_budget(26 * 26 * 8 - 1):
        assert net.hvp(x, y, np.ones(26)).shape == (26,)  # no dense matrix: no refusal
    with memory_budget(100 * 2 * 26 * 8 - 1), pytest.raises(JacobianMemoryError, match=r"output Jacobian .* \(100, 2, 26\)"):
        net.output_jacobian(np.ones((100, 3)))


def test_gauss_newton_ntk_and_per_sample_gradients_are_refused_over_the_memory_budget(small):
    net, x, y = small  # 26 parameters, 2 outputs
    with memory_budget(26 * 26 * 8 - 1), pytest.raises(JacobianMemoryError, match=r"the Gauss–Newton matrix of shape \(26, 26\).*use hvp"):
        net.gauss_newton(x, y)
    X = np.ones((100, 3))
    with memory_budget(200 * 200 * 8 - 1), pytest.raises(JacobianMemoryError, match=r"the NTK of shape \(200, 200\)"):
        net.ntk(X)  # (its J, 100 × 2 × 26, is within the budget)
    with memory_budget(100 * 26 * 8 - 1), pytest.raises(JacobianMemoryError, match=r"the per-sample gradients of shape \(100, 1, 26\)"):
        net.per_sample_gradients(X, np.eye(2)[np.arange(100) % 2])
    with memory_budget(200 * 200 * 8):
        assert net.ntk(X).shape == (200, 200)


# --- the figure ----------------------------------------------------------------------------------------------
def test_curvature_figure_draws_h_gn_and_residual_with_the_layer_blocks(small):
    from jacobnet.viz.curvature import curvature_figure, hessian_figure

    net, x, y = small
    fig = curvature_figure(net.hessian(x, y, parts=True))
    assert fig.get_label() == "H = GN + R ∈ ℝ^{26×26}" and len(fig.axes) == 4
    for ax in fig.axes[:3]:
        assert len(ax.patches) == 4  # 2 layers with parameters: 2 × 2 blocks
        assert {t.get_text() for t in ax.texts} == {r"$\mathrm{Dense\ 1}$", r"$\mathrm{Dense\ 2}$"}
    assert fig.axes[0].images[0].get_clim() == fig.axes[2].images[0].get_clim()  # one colour scale
    widths = sorted(p.get_width() for p in fig.axes[0].patches)
    assert widths == [10, 10, 16, 16]
    with pytest.raises(ValueError, match=r"expected a square matrix of shape \(26, 26\)"):
        hessian_figure(np.ones((26, 25)), net)
    with pytest.raises(ValueError, match="scale must be 'linear' or 'symlog'"):
        hessian_figure(np.eye(26), net, scale="log")


def test_top_eigenvalue_is_the_dominant_eigenvalue_of_the_dense_hessian():
    """Power iteration on HVPs against eigvalsh of the R-pass Hessian and of Gauss–Newton (non-square layers, a batch)."""
    from jacobnet.chain.curvature import gauss_newton, hessian, top_eigenvalue

    net = jn.build_network("3,5,2", "tanh", "softmax-ce", seed=3)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(7, 3)), np.eye(2)[rng.integers(2, size=7)]
    for part, dense in (("total", hessian(net, X, Y)), ("gauss_newton", gauss_newton(net, X, Y))):
        ev = np.linalg.eigvalsh((dense + dense.T) / 2)
        want = ev[np.argmax(np.abs(ev))]
        top = top_eigenvalue(net, X, Y, part=part, tol=1e-13, max_iter=5000)
        assert top.converged and abs(top.value - want) <= 1e-9 * abs(want)
        assert np.linalg.norm(dense @ top.vector - top.value * top.vector) <= 1e-5 * abs(want)
        warm = top_eigenvalue(net, X, Y, top.vector, part=part, tol=1e-13, max_iter=5000)
        assert warm.hvps < top.hvps  # a warm start from the eigenvector converges at once


@pytest.mark.parametrize("kwargs, match", [
    ({"v0": np.zeros(32)}, r"v0 must be a finite nonzero vector of shape \(n_params,\) = \(32,\), got shape \(32,\)"),
    ({"v0": np.ones(4)}, r"got shape \(4,\)"),
    ({"tol": 0.0}, "tol must be a positive number, got 0.0"),
    ({"max_iter": True}, "max_iter must be a positive number, got True"),
    ({"part": "diagonal"}, "diagonal"),
])
def test_top_eigenvalue_refuses_bad_arguments(kwargs, match):
    from jacobnet.chain.curvature import top_eigenvalue

    net = jn.build_network("3,5,2", "tanh", "mse", seed=0)
    with pytest.raises(ValueError, match=match):
        top_eigenvalue(net, np.ones(3), np.zeros(2), **kwargs)
