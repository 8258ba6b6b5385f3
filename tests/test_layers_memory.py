"""The memory guard on the layers of real networks: Conv1d/2d, pooling, LayerNorm, SelfAttention, per-token Dense.

Under a budget far below a layer's dense Jacobians (a batch of 2, each a few kB to a few hundred kB):

* materialising ``J_x`` or ``J_θ`` is refused before anything is allocated, by a ``JacobianMemoryError``
  that names the Jacobian, the layer and the batch's shape, and says how many bytes it would need;
* the structured products (``vjp``, ``vjp_sum``, ``jvp``) still run under that budget — their operators hold
  the kernel, the patches, the arg-max or the saved forward, not the matrix — and give the same numbers;
* a network through each kind of layer gets its structured gradient under the budget (the same as without
  one) while its materialised gradient is refused;
* a layer's weights larger than the budget are refused when the layer is built, naming it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import rel_error
from jacobnet.core.memory import JacobianMemoryError, memory_budget

BUDGET = 4_000  # bytes: above every operator's own storage here, below every dense Jacobian
B = 2


def layers():
    """Odd sizes, stride and padding, the causal mask: each layer's J_x and J_θ (if any) well over BUDGET dense."""
    return [
        jn.Conv1d(2, 3, 3, 40, stride=2, padding=1, seed=0),
        jn.Conv2d(1, 3, (3, 2), 7, 5, stride=(2, 1), padding=1, seed=0),
        jn.MaxPool1d(3, channels=3, length=45),
        jn.MaxPool2d(2, channels=3, height=10, width=10),
        jn.AvgPool1d(3, channels=3, length=45),
        jn.AvgPool2d((2, 5), channels=3, height=10, width=10),
        jn.LayerNorm(9, tokens=5),
        jn.SelfAttention(5, 8, 6, causal=True, seed=0),
        jn.SelfAttention(5, 8, 3, seed=0),
        jn.Dense(7, 9, tokens=5, seed=0),
    ]


LAYERS = [pytest.param(layer, id=repr(layer)) for layer in layers()]


def inputs(layer, seed=0):
    return np.random.default_rng(seed).normal(size=(B, layer.n_in))


@pytest.mark.parametrize("layer", LAYERS)
def test_materialising_is_refused_naming_the_jacobian_and_its_shape(layer):
    X = inputs(layer)
    for wrt, symbol, materialise in (("input", "J_x", layer.jacobian_input), ("params", "J_θ", layer.jacobian_params)):
        op = layer.jacobian_op(X, wrt)
        if op.shape[1] == 0:  # pooling has no parameters: J_θ is (n_out, 0), nothing to refuse
            assert materialise(X).shape == (B, op.shape[0], 0)
            continue
        assert op.nbytes <= BUDGET < op.nbytes_dense  # the structure fits, the matrix does not
        shape = re.escape(str((B, *op.shape)))
        with memory_budget(BUDGET), pytest.raises(JacobianMemoryError, match=rf"{symbol} of {re.escape(layer.name)} of shape {shape}") as err:
            materialise(X)
        assert err.value.needed == op.nbytes_dense and err.value.budget == BUDGET


@pytest.mark.parametrize("layer", LAYERS)
def test_the_structured_products_run_under_the_budget(layer):
    X = inputs(layer, seed=1)
    rng = np.random.default_rng(2)
    want, got = [], []
    for wrt in ("input", "params"):
        op = layer.jacobian_op(X, wrt)
        J = op.dense()  # outside the budget: the reference
        G, H = rng.normal(size=(B, 1, op.shape[0])), rng.normal(size=(B, op.shape[1], 2))
        want += [G @ J, np.sum(G @ J, axis=0), J @ H]
        with memory_budget(BUDGET):
            op = layer.jacobian_op(X, wrt)
            got += [op.vjp(G), op.vjp_sum(G), op.jvp(H)]
    for g, w in zip(got, want):
        assert g.shape == w.shape and rel_error(g, w) <= 1e-13


def networks():
    """A CNN (conv, pooling) and a transformer block (LayerNorm, attention, per-token Dense), each a few kB of weights."""
    cnn = jn.Network([jn.Conv2d(2, 3, 3, 8, 8, stride=2, padding=1, seed=0), jn.ReLU(), jn.MaxPool2d(2, channels=3, height=4, width=4),
                      jn.Dense(12, 4, seed=1)], jn.SoftmaxCrossEntropy())
    cnn1 = jn.Network([jn.Conv1d(2, 4, 3, 30, stride=2, padding=1, seed=0), jn.ReLU(), jn.AvgPool1d(3, channels=4, length=15),
                       jn.Dense(20, 3, seed=1)], jn.SoftmaxCrossEntropy())
    T, d = 5, 4
    block = jn.Network([
        jn.Residual([jn.LayerNorm(d, tokens=T), jn.SelfAttention(T, d, d, causal=True, seed=0)]),
        jn.Residual([jn.LayerNorm(d, tokens=T), jn.Dense(d, 4 * d, tokens=T, seed=1), jn.ReLU(), jn.Dense(4 * d, d, tokens=T, seed=2)]),
    ], jn.MSE())
    return [pytest.param(cnn, id="cnn-2d"), pytest.param(cnn1, id="cnn-1d"), pytest.param(block, id="transformer-block")]


@pytest.mark.parametrize("net", networks())
def test_a_network_gets_its_structured_gradient_under_the_budget_and_not_the_materialised_one(net):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(B, net.input_size))
    Y = np.eye(net.sizes[-1])[[0, 1]] if isinstance(net.loss_fn, jn.SoftmaxCrossEntropy) else rng.normal(size=(B, net.sizes[-1]))
    want = net.gradient(X, Y)
    with memory_budget(BUDGET):
        assert rel_error(net.gradient(X, Y), want) <= 1e-14
        with pytest.raises(JacobianMemoryError, match=r"^materialising J_(x|θ)\(.+\) of shape \(2, \d+, \d+\) would take .* over the memory budget"):
            net.gradient(X, Y, mode="materialised")


@pytest.mark.parametrize("build, name", [
    (lambda: jn.Conv1d(16, 16, 5, 10), r"the weights of Conv1d\(16, 16, 5, 10, stride=1, padding=0\)"),
    (lambda: jn.Conv2d(8, 8, 3, 6, 6), r"the weights of Conv2d\(8, 8, \(3, 3\), 6, 6"),
    (lambda: jn.SelfAttention(2, 16, 16), r"the weights of SelfAttention\(2, 16, 16\)"),
])
def test_weights_over_the_budget_are_refused_when_the_layer_is_built(build, name):
    with memory_budget(BUDGET), pytest.raises(JacobianMemoryError, match=name):
        build()
