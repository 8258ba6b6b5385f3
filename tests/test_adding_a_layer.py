"""A layer and an activation defined outside the package — the README's "Adding a layer" — work everywhere.

The two classes are the README's own code (executed from README.md, so the
README cannot drift from what works): ``Affine`` (``y = w ⊙ x + c``, two
parameter arrays) and ``Swish`` (one new rule). Each is checked the way the
built-in layers are: its Jacobians against central differences and the complex
step, whole-network gradients in both modes against HIPS autograd of the same
function written plainly, the trace, the chain in every order with its costs,
a heatmap, finite differences, the symbolic gradient and the proof that the
hand-derived Jacobians equal SymPy's.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from test_readme import README, blocks

import jacobnet as jn
from jacobnet import symbolic, viz
from jacobnet.chain.orders import all_trees
from jacobnet.check import check_jacobian, check_layer, compare_gradients, rel_error

GRAD_TOL = 1e-10


@pytest.fixture(scope="module")
def readme() -> dict:
    """The namespace of the README's "Adding a layer" examples (our own file, not user text)."""
    code = [b for b in blocks("python") if "class Affine" in b or "class Swish" in b]
    assert len(code) == 2
    namespace: dict = {}
    for block in code:
        exec(compile(block, str(README), "exec"), namespace)
    return namespace


def network(readme: dict, loss: jn.Loss, seed: int = 0) -> jn.Network:
    rng = np.random.default_rng(seed)
    affine = readme["Affine"](4)
    affine.set_params(rng.normal(size=8))
    return jn.Network([jn.Dense(3, 4, seed=seed), affine, readme["Swish"](), jn.Dense(4, 2, seed=seed + 1)], loss)


def plain_loss(theta, x, y, loss: str):
    """The same network written plainly: Dense, w ⊙ x + c, x σ(x), Dense, the loss (autograd's numpy)."""
    W1, b1 = theta[:12].reshape(4, 3), theta[12:16]
    w, c = theta[16:20], theta[20:24]
    W2, b2 = theta[24:32].reshape(2, 4), theta[32:34]
    h = (x @ W1.T + b1) * w + c
    z = (h / (1 + anp.exp(-h))) @ W2.T + b2
    if loss == "mse":
        per = anp.mean((z - y) ** 2, axis=-1)
    else:
        per = -anp.sum(y * (z - anp.log(anp.sum(anp.exp(z), axis=-1, keepdims=True))), axis=-1)
    return anp.mean(per)


@pytest.mark.parametrize("loss", ["mse", "softmax-ce"])
@pytest.mark.parametrize("batch", [None, 5])
def test_gradient_in_both_modes_equals_autograd(readme, loss, batch):
    net = network(readme, jn.MSE() if loss == "mse" else jn.SoftmaxCrossEntropy(), seed=3)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3,) if batch is None else (batch, 3))
    y = np.eye(2)[rng.integers(2, size=batch)] if batch else np.array([0.0, 1.0])
    reference = grad(plain_loss)(net.get_params(), x, y, loss)
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(x, y, mode=mode), reference) <= GRAD_TOL
    assert rel_error(net.gradient(x, y, method="finite-difference"), reference) <= 1e-6


def test_affine_jacobians_against_differences_and_complex_step(readme):
    layer = readme["Affine"](3)
    layer.set_params(np.array([2.0, -1.0, 0.5, 0.1, 0.2, 0.3]))
    x = np.array([0.7, -1.3, 2.1])
    assert check_jacobian(layer.forward, x, layer.jacobian_input(x)).ok
    assert check_jacobian(lambda v: layer.w * v + layer.c, x, layer.jacobian_input(x), method="complex-step").ok

    def of_theta(t):  # the layer's output as a function of θ = [w, c] (complex-step: plain NumPy, no checks)
        return t[:3] * x + t[3:]

    for method in ("central", "complex-step"):
        assert check_jacobian(of_theta, layer.get_params(), layer.jacobian_params(x), method=method).ok
    np.testing.assert_array_equal(layer.jacobian_params(x)[1], [0.0, -1.3, 0.0, 0.0, 1.0, 0.0])  # [diag(x) | I], row 2


def test_check_layer_finds_a_wrong_jacobian(readme):
    layer = readme["Affine"](3)
    layer.set_params(np.array([2.0, -1.0, 0.5, 0.1, 0.2, 0.3]))
    assert all(c.ok for c in check_layer(layer, np.array([0.7, -1.3, 2.1])))

    class Wrong(readme["Affine"]):  # J_θ = [I | diag(x)]: the two blocks swapped
        def jacobian_params_op(self, x):
            return jn.HStack([jn.Diagonal(np.ones_like(x)), jn.Diagonal(x)])

    wrong = Wrong(3)
    theta = np.array([2.0, -1.0, 0.5, 0.1, 0.2, 0.3])
    wrong.set_params(theta)
    by_input, by_params = check_layer(wrong, np.array([0.7, -1.3, 2.1]))
    assert by_input.ok and not by_params.ok and "w_{1}" in str(by_params)
    np.testing.assert_array_equal(wrong.get_params(), theta)  # restored


def test_what_the_math_returns_is_checked_and_named(readme):
    class BadShape(readme["Affine"]):
        def jacobian_input_op(self, x):
            return jn.Matrix(np.ones((3, 4)))

    class BadKind(readme["Affine"]):
        def jacobian_input_op(self, x):
            return np.diag(self.w)

    class BadOutput(readme["Affine"]):
        def apply(self, x):
            return x[..., :2]

    x = np.ones(3)
    with pytest.raises(ValueError, match=r"BadShape: jacobian_input_op gave an operator of shape \(3, 4\); expected \(n_out, n_in\) = \(3, 3\)"):
        BadShape(3).jacobian_input(x)
    net = jn.Network([BadShape(3), jn.Dense(3, 2, seed=0)], jn.MSE())
    with pytest.raises(ValueError, match=r"BadShape: jacobian_input_op gave an operator of shape \(3, 4\)"):
        net.trace(np.ones((2, 3)), np.zeros((2, 2)))  # the trace goes on to ∂L/∂x, through J_x(BadShape 1)
    with pytest.raises(TypeError, match="BadKind: jacobian_input_op must return a structured operator .*jn.Matrix"):
        BadKind(3).jacobian_input(x)
    with pytest.raises(ValueError, match=r"BadOutput: apply gave an output of shape \(2,\); expected \(3,\)"):
        jn.Network([BadOutput(3), jn.Dense(3, 2, seed=0)], jn.MSE()).gradient(x, np.zeros(2))

    class Shared(readme["Affine"]):  # one diag(w) for a whole batch: the operator must say it is per sample
        def jacobian_input_op(self, x):
            return jn.Diagonal(self.w)

    with pytest.raises(ValueError, match=r"Shared: jacobian_input_op gave an operator for one sample; the input is a batch of 2"):
        Shared(3).jacobian_input(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"check_layer\(Affine\): x must be one sample of shape \(n_in,\), got shape \(2, 3\)"):
        check_layer(readme["Affine"](3), np.ones((2, 3)))

    class Unset(jn.Layer):
        w = jn.Param(lambda self: (self.n_in,))

        def __init__(self, n):
            self.n_in = n

    with pytest.raises(AttributeError, match="Unset: the parameter w was never assigned"):
        jn.Network([Unset(3), jn.Dense(3, 2)], jn.MSE())
    with pytest.raises(TypeError, match=r"Network\(layers, loss\): the loss is missing"):
        jn.Network([jn.Dense(3, 2)])


def test_swish_jacobian_against_differences_and_complex_step(readme):
    swish = readme["Swish"]()
    x = np.array([-3.0, -0.4, 0.0, 1.7, 6.0])
    J = swish.jacobian_input(x)
    assert check_jacobian(swish.forward, x, J).ok
    assert check_jacobian(lambda v: v / (1 + np.exp(-v)), x, J, method="complex-step").ok


def test_params_labels_and_batches(readme):
    layer = readme["Affine"](3)
    assert layer.n_params == 6 and list(layer.param_labels(2))[:4] == ["w^{(2)}_{1}", "w^{(2)}_{2}", "w^{(2)}_{3}", "c^{(2)}_{1}"]
    assert layer.jacobian_params(np.ones((4, 3))).shape == (4, 3, 6)
    with pytest.raises(ValueError, match="Affine expects input of shape"):
        layer.forward(np.ones(4))
    with pytest.raises(ValueError, match=r"Affine: w must be a real array of shape \(3,\)"):
        layer.w = np.ones(2)


def test_trace_chain_orders_costs_and_heatmap(readme):
    net = network(readme, jn.SoftmaxCrossEntropy())
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])
    trace = net.trace(x, y)
    names = [f.name for f in trace.factors]
    assert {"J_x(Affine 1)", "J_θ(Affine 1)", "J_x(Swish 1)"} <= set(names)
    assert trace.factor("J_θ(Affine 1)").kind == "[diagonal | diagonal]"
    assert rel_error(trace.gradient, net.gradient(x, y)) <= 1e-13
    chain = net.chain(x, y, layer="Affine 1")
    reference = chain.evaluate("reverse")
    assert reference.shape == (1, 8)
    for tree in [*all_trees(len(chain.factors)), "forward", "optimal"]:
        for mode in ("materialised", "structured"):
            assert rel_error(chain.evaluate(tree, mode), reference) <= 1e-13
    assert chain.flops("reverse", "structured") < chain.flops("reverse") < chain.flops("forward")
    assert chain.bytes("reverse", "structured") <= chain.bytes("forward")
    np.testing.assert_allclose(reference[0], net.gradient(x, y)[16:24], rtol=1e-13, atol=1e-15)
    fig = viz.heatmap(trace.factor("J_θ(Affine 1)"), structure=True)
    assert fig.get_axes() and "J_θ(Affine 1)" in fig.get_label()
    ax = fig.axes[0]  # [diag(x) | I]: both diagonals outlined, a rule between the two blocks
    cells = sorted((r.get_x(), r.get_y()) for r in ax.patches if r.get_width() == r.get_height() == 1)
    assert cells == sorted([(i - 0.5, i - 0.5) for i in range(4)] + [(4 + i - 0.5, i - 0.5) for i in range(4)])
    assert [line.get_xdata()[0] for line in ax.lines] == [3.5]
    assert viz.chain_figure(chain).get_label().startswith("∂L/∂θ(Affine 1) = J_loss · J_x(Dense 2) · J_x(Swish 1)")


@pytest.mark.parametrize("batch", [None, 4])
def test_chains_through_the_new_layers_in_every_order(readme, batch):
    """The longest chain runs through J_x(Affine) and J_x(Swish); dL/dx too; one sample and a batch."""
    net = network(readme, jn.MSE(), seed=7)
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(3,) if batch is None else (batch, 3)), rng.normal(size=(2,) if batch is None else (batch, 2))
    for chain in (net.chain(x, y, layer="Dense 1"), net.chain(x, y, wrt="input")):
        assert {"J_x(Affine 1)", "J_x(Swish 1)"} <= {f.name for f in chain.factors}
        reference = chain.evaluate("reverse", "structured")
        for tree in all_trees(len(chain.factors)):
            for mode in ("materialised", "structured"):
                assert rel_error(chain.evaluate(tree, mode), reference) <= 1e-13
    grads = net.chain(x, y, layer="Dense 1").evaluate()
    mean = grads if batch is None else grads.mean(axis=0)
    assert rel_error(mean[0], net.gradient(x, y)[:16]) <= 1e-13


def test_symbolic_gradient_and_the_closed_form_proofs(readme):
    net = network(readme, jn.MSE(), seed=5)
    x, y = np.array([0.2, -0.4, 1.1]), np.array([0.3, -0.7])
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= GRAD_TOL
    shown = readme["net"]  # the README's own network, softmax-cross-entropy: admitted by the size guard
    x3, y2 = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])
    assert rel_error(shown.gradient(x3, y2, method="symbolic"), shown.gradient(x3, y2)) <= GRAD_TOL
    assert all(c.proved for c in symbolic.compare_closed_forms(readme["Affine"](3)))
    assert all(c.proved for c in symbolic.compare_closed_forms(readme["Swish"](), n=2))
    small = jn.Network([readme["Affine"](2), readme["Swish"](), jn.Dense(2, 1, seed=0)], jn.MSE())
    assert symbolic.gradients_agree(symbolic.network_gradient(small), prove=True).ok
    assert compare_gradients(net, x, y).ok


class Mask(jn.Layer):
    """``y = m ⊙ x`` for a fixed mask ``m``: a hyper-parameter that is an array."""

    def __init__(self, mask):
        self.mask = np.asarray(mask, dtype=float)
        self.n_in = self.mask.size

    def apply(self, x):
        return self.mask * x

    def jacobian_input_op(self, x):
        return jn.Diagonal(np.broadcast_to(self.mask, x.shape))

    def sympy_forward(self, x, theta):
        return [float(m) * xi for m, xi in zip(self.mask, x)]


def test_an_array_hyperparameter_is_part_of_the_cache_key():
    x, y = np.array([0.2, -0.4]), np.array([0.3])
    for mask in ([1.0, 0.0], [0.0, 1.0], [1.0, 0.0]):
        net = jn.Network([Mask(mask), jn.Dense(2, 1, seed=0)], jn.MSE())
        assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= GRAD_TOL
    assert Mask([1.0, 0.0]).key() != Mask([0.0, 1.0]).key() and repr(Mask([1.0])) == "Mask(mask=array([1.]), n_in=1)"


def test_the_symbolic_cache_tells_new_layers_apart(readme):
    """A layer class of its own, or another size, never gets another's compiled gradient."""
    x, y = np.array([0.2, -0.4]), np.array([0.3])
    plain = jn.Network([jn.Dense(2, 2, seed=0), jn.Tanh(), jn.Dense(2, 1, seed=1)], jn.MSE())
    swished = jn.Network([jn.Dense(2, 2, seed=0), readme["Swish"](), jn.Dense(2, 1, seed=1)], jn.MSE())
    for net in (plain, swished, plain):
        assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= GRAD_TOL
