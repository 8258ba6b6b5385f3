"""A network's symbolic gradient, derived twice — whole loss vs product of layer Jacobians — and compared.

:func:`network_gradient` derives ``dL/dθ`` twice, independently: ``direct`` is
SymPy's differentiation of the whole loss expression ``L(f_L(… f_1(x)), y)``;
``chain`` is the product ``J_loss · J_x(f_L) ⋯ J_θ(f_l)`` of the symbolic layer
Jacobians (:func:`~jacobnet.symbolic.derive.layer_jacobians`), each substituted
at the symbolic activations. :func:`gradients_agree` compares them, numerically
at random points and, on request, by proof (:func:`~jacobnet.symbolic.closed_forms.proved_zero`).

>>> from jacobnet import build_network
>>> g = network_gradient(build_network("2,3,1", "tanh", "mse", seed=0))
>>> g.direct.shape, g.chain.shape, g.labels[:2]
((1, 13), (1, 13), ['W^{(1)}_{1,1}', 'W^{(1)}_{1,2}'])
>>> agreement = gradients_agree(g, prove=True)
>>> agreement.ok, agreement.proved
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from jacobnet.core.finite import rel_error
from jacobnet.symbolic.closed_forms import proved_zero
from jacobnet.symbolic.derive import (
    forward_expr,
    lambdify_safe,
    layer_jacobians,
    loss_expr,
    loss_input_name,
    loss_jacobian,
    param_symbols,
    vector_symbols,
)
from jacobnet.symbolic.guard import check_size

if TYPE_CHECKING:
    from jacobnet.core.stack import Stack


@dataclass
class SymbolicGradient:
    """``dL/dθ`` of one sample, derived twice; both ``(1, n_params)`` rows over ``x``, ``θ``, ``y``.

    ``direct``: SymPy's ``Matrix.jacobian`` of the whole loss ``loss``;
    ``chain``: the product of the symbolic layer Jacobians. ``labels`` are
    ``net.param_labels()``.
    """

    x: list[sp.Symbol]
    y: list[sp.Symbol]
    theta: list[sp.Symbol]
    loss: sp.Expr
    direct: sp.Matrix
    chain: sp.Matrix = field(default_factory=lambda: sp.zeros(1, 0))

    @property
    def labels(self) -> list[str]:
        """One name per parameter, e.g. ``W^{(1)}_{2,3}`` (the symbols' names)."""
        return [t.name for t in self.theta]


def _forward_exprs(net: Stack, n_in: int) -> tuple[list[list[sp.Expr]], list[list[sp.Symbol]]]:
    """The symbolic activations ``[x, a_1, …, a_L]`` and each layer's parameter symbols."""
    acts: list[list[sp.Expr]] = [list(vector_symbols("x", n_in))]
    theta = network_symbols(net)
    thetas = []
    for i, layer in enumerate(net.layers):
        thetas.append([theta[j] for j in net.theta_index(i)])
        acts.append(forward_expr(layer, acts[-1], thetas[-1]))
    return acts, thetas


def network_symbols(net: Stack) -> list[sp.Symbol]:
    """``θ`` as real symbols named by ``net.param_labels()`` (a shared layer's once)."""
    return [sp.Symbol(label, real=True) for label in net.param_labels()]


def network_input_size(net: Stack, n_in: int | None) -> int:
    """``n_in`` if given, else the network's own input size (its first layer with a fixed one)."""
    n = net.input_size if n_in is None else n_in
    if n is None:
        raise ValueError("this network has no layer with a fixed input size: pass n_in")
    return n


def direct_gradient(net: Stack, n_in: int | None = None, max_size: float | None = None) -> SymbolicGradient:
    """SymPy's derivation only: ``dL/dθ = ∂L/∂θ`` of the whole loss expression — ``(1, n_params)``."""
    n_in = network_input_size(net, n_in)
    check_size(net, n_in, max_size)
    acts, thetas = _forward_exprs(net, n_in)
    y = vector_symbols("y", len(acts[-1]))
    loss = loss_expr(net.loss_fn, acts[-1], y)
    theta = network_symbols(net)
    direct = sp.Matrix([loss]).jacobian(theta) if theta else sp.zeros(1, 0)
    return SymbolicGradient(acts[0], y, theta, loss, direct)


def network_gradient(net: Stack, n_in: int | None = None, max_size: float | None = None) -> SymbolicGradient:
    """Both derivations of ``dL/dθ`` — ``direct`` (whole loss) and ``chain`` (layer Jacobians).

    ``chain`` runs the backward product symbolically, last layer first:
    ``g ← J_loss(a_L)``; per layer ``∂L/∂θ_l = g · J_θ(f_l)(a_{l−1})`` and
    ``g ← g · J_x(f_l)(a_{l−1})``, the layer Jacobians of :func:`layer_jacobians`
    with their input symbols replaced by the symbolic activations.

    Deriving twice costs about twice :func:`direct_gradient`, so the size guard
    counts both (:func:`~jacobnet.symbolic.guard.check_size` with ``derivations=2``).
    """
    n_in = network_input_size(net, n_in)
    check_size(net, n_in, max_size, derivations=2)
    grad = direct_gradient(net, n_in, max_size=math.inf)
    acts, _ = _forward_exprs(net, len(grad.x))
    at_output = dict(zip(vector_symbols(loss_input_name(net.loss_fn), len(acts[-1])), acts[-1]))
    g = loss_jacobian(net.loss_fn, len(acts[-1])).xreplace(at_output)
    chain = sp.zeros(1, net.n_params)
    for l in range(len(net.layers), 0, -1):
        layer, a_in = net.layers[l - 1], acts[l - 1]
        k = net.param_layer_index(l - 1)
        J_x, J_theta = layer_jacobians(layer, len(a_in), k, max_size=math.inf)
        at_input = dict(zip(vector_symbols("x", len(a_in)), a_in))
        columns = net.theta_index(l - 1).tolist()
        at_input.update(zip(param_symbols(layer, k), (grad.theta[j] for j in columns)))  # its symbols → θ's (shared layers)
        if layer.n_params:
            part = g * J_theta.xreplace(at_input)
            for c, j in enumerate(columns):
                chain[0, j] += part[0, c]
        g = g * J_x.xreplace(at_input)
    grad.chain = chain
    return grad


@dataclass(frozen=True)
class Agreement:
    """Result of comparing two symbolic derivations.

    ``max_rel_error``: the largest :func:`~jacobnet.check.rel_error` of ``chain``
    against ``direct`` over ``points`` random points (evidence, not proof);
    ``proved``: ``True`` when every entry of ``direct − chain`` is identically zero
    by :func:`~jacobnet.symbolic.closed_forms.proved_zero` (a proof), ``None`` when not
    attempted, ``False`` when not shown (not a disproof). ``ok``: the numbers are
    within ``tol`` and the proof, if attempted, succeeded.
    """

    max_rel_error: float
    points: int
    tol: float
    proved: bool | None

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tol and self.proved is not False

    def __bool__(self) -> bool:
        return self.ok


def gradients_agree(grad: SymbolicGradient, points: int = 3, seed: int = 0, tol: float = 1e-12,
                    prove: bool = False) -> Agreement:
    """Compare ``grad.direct`` and ``grad.chain`` at random points ``x, θ, y ~ N(0, 1)``; ``prove=True`` proves it.

    The proof (:func:`~jacobnet.symbolic.closed_forms.proved_zero` on every entry) takes
    seconds for networks of a few units; the numeric comparison is cheap.
    """
    if grad.chain.shape != grad.direct.shape:
        raise ValueError(f"no chain derivation to compare ({grad.chain.shape} vs {grad.direct.shape}): use network_gradient")
    args = grad.x + grad.theta + grad.y
    f_direct = lambdify_safe(args, list(grad.direct), "math")
    f_chain = lambdify_safe(args, list(grad.chain), "math")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(points):
        v = rng.normal(size=len(args)).tolist()
        worst = max(worst, rel_error(np.array(f_chain(*v)), np.array(f_direct(*v))))
    proved = None
    if prove:
        proved = all(proved_zero(d - c) for d, c in zip(grad.direct, grad.chain))
    return Agreement(worst, points, tol, proved)
