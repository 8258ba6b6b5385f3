"""Independent reference implementations in HIPS autograd.

Every layer and loss written again from its mathematical definition with
``autograd.numpy`` (never by calling jacobnet's numerics), so that
``autograd.jacobian``/``autograd.grad`` give an autodiff reference for the
hand-derived Jacobians. All functions act on the last axis, so a batch
``(B, n)`` works too.

Conventions that must match jacobnet's documented ones:

* kinks: ``f'(0)`` is the LEFT derivative, so ReLU is ``where(x > 0, x, 0)``
  (autograd's ``np.maximum`` would split a tie 0.5/0.5);
* numerically sane up to ±1000: every exponential is taken of a non-positive
  argument, with the "double where" trick so that the branch *not* taken is
  evaluated at a harmless point (its gradient is masked to 0 by ``where``,
  and ``0 · inf`` would otherwise give NaN). ``anp.tanh`` is not used because
  autograd differentiates it as ``1/cosh²``, which overflows beyond |x| ≈ 355.
"""

from __future__ import annotations

from typing import Callable

import autograd.numpy as anp

import jacobnet as jn


def _split(x):
    """``(x⁺, x⁻)``: ``x`` where ``x > 0`` (else 0), ``x`` where ``x ≤ 0`` (else 0)."""
    return anp.where(x > 0, x, 0.0), anp.where(x > 0, 0.0, x)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{−x}) = e^{x} / (1 + e^{x})."""
    xp, xn = _split(x)
    return anp.where(x > 0, 1.0 / (1.0 + anp.exp(-xp)), anp.exp(xn) / (1.0 + anp.exp(xn)))


def tanh(x):
    """tanh(x) = (1 − e^{−2x}) / (1 + e^{−2x}) for x > 0 (odd), via expm1 for |x| ≤ 1/2.

    Two forms so that autograd's derivative keeps its digits too: near 0 the
    expm1 form (no cancellation in 1 − e^{−2x}); beyond, the exp form, whose
    derivative 4e/(1 + e)² has none either (the expm1 form's would, in e + 1).
    """
    small = anp.abs(x) <= 0.5
    xs = anp.where(small, x, 0.0)
    xp, xn = anp.where(x > 0.5, x, 1.0), anp.where(x < -0.5, x, -1.0)
    em = anp.expm1(-2.0 * xs)
    ep, en = anp.exp(-2.0 * xp), anp.exp(2.0 * xn)
    return anp.where(small, -em / (2.0 + em), anp.where(x > 0, (1.0 - ep) / (1.0 + ep), (en - 1.0) / (en + 1.0)))


def relu(x):
    """max(x, 0) with f'(0) = 0."""
    return anp.where(x > 0, x, 0.0)


def leaky_relu(x, alpha=0.01):
    """x for x > 0, αx otherwise; f'(0) = α."""
    return anp.where(x > 0, x, alpha * x)


def softplus(x):
    """log(1 + eˣ) = x + log(1 + e^{−x})."""
    xp, xn = _split(x)
    return anp.where(x > 0, xp + anp.log1p(anp.exp(-xp)), anp.log1p(anp.exp(xn)))


def logsumexp(z):
    """log Σ_j e^{z_j} = m + log Σ_j e^{z_j − m}, m = max z (any m is exact; this one is safe)."""
    m = anp.max(z, axis=-1, keepdims=True)
    return m + anp.log(anp.sum(anp.exp(z - m), axis=-1, keepdims=True))


def softmax(z):
    """s_i = e^{z_i} / Σ_j e^{z_j}."""
    return anp.exp(z - logsumexp(z))


def dense(W, b, x):
    """y = W x + b on the last axis of x."""
    return anp.dot(x, W.T) + b


def dense_theta(theta, x, n_in: int, n_out: int):
    """Dense with θ = [vec_r(W), b] (row-major W, then b)."""
    k = n_in * n_out
    return dense(anp.reshape(theta[:k], (n_out, n_in)), theta[k:], x)


def mse(yhat, y):
    """(1/n) Σ_i (ŷ_i − y_i)² per sample."""
    return anp.mean((yhat - y) ** 2, axis=-1)


def cross_entropy(yhat, y):
    """−Σ_i y_i log ŷ_i per sample, with 0 · log 0 = 0."""
    safe = anp.where(y != 0, yhat, 1.0)
    return -anp.sum(y * anp.log(safe), axis=-1)


def softmax_cross_entropy(z, y):
    """−Σ_i y_i log softmax(z)_i = −Σ_i y_i (z_i − logsumexp(z)) per sample."""
    return -anp.sum(y * (z - logsumexp(z)), axis=-1)


ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "leaky_relu": leaky_relu, "softplus": softplus,
}
LOSSES: dict[type, Callable] = {
    jn.MSE: mse, jn.CrossEntropy: cross_entropy, jn.SoftmaxCrossEntropy: softmax_cross_entropy,
}


def layer_fn(layer: jn.Layer) -> Callable:
    """``x ↦ f(x)`` for a parameter-free jacobnet layer, or ``(θ, x) ↦ f(x; θ)`` for a Dense one.

    Only the layer's *type and hyper-parameters* are read from jacobnet.
    """
    if isinstance(layer, jn.Dense):
        return lambda theta, x: dense_theta(theta, x, layer.n_in, layer.n_out)
    if isinstance(layer, jn.Softmax):
        return softmax
    if isinstance(layer, jn.LeakyReLU):
        alpha = layer.rule_params["alpha"]
        return lambda x: leaky_relu(x, alpha)
    return ACTIVATIONS[layer.rule.name]


def network_loss(net: jn.Network) -> Callable:
    """``(θ, x, y) ↦`` the mean loss of ``net`` with flat parameters θ (layer order)."""
    steps = []
    start = 0
    for layer in net.layers:
        steps.append((layer_fn(layer), slice(start, start + layer.n_params) if layer.n_params else None))
        start += layer.n_params
    loss = LOSSES[type(net.loss_fn)]

    def f(theta, x, y):
        a = x
        for fn, s in steps:
            a = fn(theta[s], a) if s is not None else fn(a)
        return anp.mean(loss(a, y))

    return f


def network_tail(net: jn.Network, start: int) -> Callable:
    """``(a, y) ↦`` the mean loss from activation ``a_start`` onward, at the current parameters."""
    theta = net.get_params()
    f = network_loss(jn.Network(net.layers[start:], net.loss_fn)) if start < len(net.layers) else None
    offset = sum(layer.n_params for layer in net.layers[:start])
    loss = LOSSES[type(net.loss_fn)]
    if f is None:
        return lambda a, y: anp.mean(loss(a, y))
    return lambda a, y: f(theta[offset:], a, y)
