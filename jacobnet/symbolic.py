"""Symbolic gradients of a whole network: two derivations, one check, one cached evaluator.

* :func:`network_gradient` derives ``dL/dθ`` twice, independently: ``direct`` is
  SymPy's differentiation of the whole loss expression ``L(f_L(… f_1(x)), y)``;
  ``chain`` is the product ``J_loss · J_x(f_L) ⋯ J_θ(f_l)`` of the symbolic layer
  Jacobians (:func:`layer_jacobians`), each substituted at the symbolic
  activations. :func:`gradients_agree` compares them.
* :func:`symbolic_gradient` (what ``Network.gradient(method="symbolic")`` calls)
  evaluates the ``direct`` derivation through ``lambdify``, compiled once per
  architecture (layer types and sizes, rule parameters such as ``alpha``, loss
  type, input size) and cached; weights, inputs and targets are arguments, so
  new weights never recompile. A batch gives the mean of the per-sample gradients.

The symbolic formulas are the textbook ones, not the stabilised NumPy forms:
at inputs that overflow them (e.g. ``exp(1000)``) evaluation raises a
``ValueError`` — use ``method="jacobian"`` there. Size guards
(:mod:`jacobnet.symbolic_size`) refuse big networks before anything is built.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("2,3,1", "tanh", "mse", seed=0)
>>> g = network_gradient(net)
>>> g.direct.shape, g.chain.shape, g.labels[:2]
((1, 13), (1, 13), ['W^{(1)}_{1,1}', 'W^{(1)}_{1,2}'])
>>> bool(gradients_agree(g))
True
>>> x, y = np.array([0.5, -1.0]), np.array([0.3])
>>> float(np.max(np.abs(symbolic_gradient(net, x, y) - net.gradient(x, y)))) < 1e-14
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
import sympy as sp

from .check import rel_error
from .closed_forms import closed_form_jacobians, closed_form_loss_row, compare_closed_forms  # noqa: F401 (re-exported)
from .latex import jacobian_latex, show_jacobians  # noqa: F401 (re-exported)
from .symbolic_layers import (  # noqa: F401 (re-exported)
    forward_expr, input_size, layer_jacobians, loss_expr, loss_input_name, loss_jacobian, param_symbols,
    vector_symbols,
)
from .symbolic_size import SymbolicSizeError, check_size, estimate_size  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from .network import Network

Array = np.ndarray
CACHE_SIZE = 32


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


def _param_indices(net: Network) -> list[int | None]:
    """``l`` of ``W^{(l)}`` for every layer: 1-based among the layers with parameters."""
    out, k = [], 0
    for layer in net.layers:
        k += bool(layer.n_params)
        out.append(k if layer.n_params else None)
    return out


def _forward_exprs(net: Network, n_in: int) -> tuple[list[list[sp.Expr]], list[list[sp.Symbol]]]:
    """The symbolic activations ``[x, a_1, …, a_L]`` and each layer's parameter symbols."""
    acts: list[list[sp.Expr]] = [list(vector_symbols("x", n_in))]
    thetas = []
    for layer, k in zip(net.layers, _param_indices(net)):
        thetas.append(param_symbols(layer, k))
        acts.append(forward_expr(layer, acts[-1], thetas[-1]))
    return acts, thetas


def _n_in(net: Network, n_in: int | None) -> int:
    n = net.input_size if n_in is None else n_in
    if n is None:
        raise ValueError("this network has no layer with a fixed input size: pass n_in")
    return n


def direct_gradient(net: Network, n_in: int | None = None, max_size: float | None = None) -> SymbolicGradient:
    """SymPy's derivation only: ``dL/dθ = ∂L/∂θ`` of the whole loss expression — ``(1, n_params)``."""
    n_in = _n_in(net, n_in)
    check_size(net, n_in, max_size)
    acts, thetas = _forward_exprs(net, n_in)
    y = vector_symbols("y", len(acts[-1]))
    loss = loss_expr(net.loss_fn, acts[-1], y)
    theta = [t for block in thetas for t in block]
    direct = sp.Matrix([loss]).jacobian(theta) if theta else sp.zeros(1, 0)
    return SymbolicGradient(acts[0], y, theta, loss, direct)


def network_gradient(net: Network, n_in: int | None = None, max_size: float | None = None) -> SymbolicGradient:
    """Both derivations of ``dL/dθ`` — ``direct`` (whole loss) and ``chain`` (layer Jacobians).

    ``chain`` runs the backward product symbolically, last layer first:
    ``g ← J_loss(a_L)``; per layer ``∂L/∂θ_l = g · J_θ(f_l)(a_{l−1})`` and
    ``g ← g · J_x(f_l)(a_{l−1})``, the layer Jacobians of :func:`layer_jacobians`
    with their input symbols replaced by the symbolic activations.
    """
    grad = direct_gradient(net, n_in, max_size)
    acts, _ = _forward_exprs(net, len(grad.x))
    at_output = dict(zip(vector_symbols(loss_input_name(net.loss_fn), len(acts[-1])), acts[-1]))
    g = loss_jacobian(net.loss_fn, len(acts[-1])).xreplace(at_output)
    blocks = []
    for l in range(len(net.layers), 0, -1):
        layer, a_in = net.layers[l - 1], acts[l - 1]
        J_x, J_theta = layer_jacobians(layer, len(a_in), _param_indices(net)[l - 1], max_size=math.inf)
        at_input = dict(zip(vector_symbols("x", len(a_in)), a_in))
        if layer.n_params:
            blocks.append(g * J_theta.xreplace(at_input))
        g = g * J_x.xreplace(at_input)
    grad.chain = sp.Matrix.hstack(*reversed(blocks)) if blocks else sp.zeros(1, 0)
    return grad


def _lambdify(args: list[sp.Symbol], exprs: list[sp.Expr], module: str) -> Callable:
    """``lambdify`` over safe argument names (the LaTeX-ish names are not identifiers)."""
    safe = [sp.Symbol(f"_a{i}", real=True) for i in range(len(args))]
    sub = dict(zip(args, safe))
    return sp.lambdify(safe, [sp.sympify(e).xreplace(sub) for e in exprs], modules=module, cse=True)


@dataclass(frozen=True)
class Agreement:
    """Result of comparing two symbolic derivations.

    ``max_rel_error``: the largest :func:`~jacobnet.check.rel_error` over ``points``
    random points (evidence); ``proved``: ``True`` when ``simplify(direct − chain)``
    is exactly zero (a proof), ``None`` when not attempted, ``False`` when SymPy
    could not reduce it to zero (not a disproof). ``ok`` needs the numbers within ``tol``.
    """

    max_rel_error: float
    points: int
    tol: float
    proved: bool | None

    @property
    def ok(self) -> bool:
        return self.max_rel_error <= self.tol

    def __bool__(self) -> bool:
        return self.ok


def gradients_agree(grad: SymbolicGradient, points: int = 3, seed: int = 0, tol: float = 1e-12,
                    prove: bool = False) -> Agreement:
    """Compare ``grad.direct`` and ``grad.chain`` at random points ``x, θ, y ~ N(0, 1)``; ``prove`` also simplifies."""
    args = grad.x + grad.theta + grad.y
    f_direct = _lambdify(args, list(grad.direct), "math")
    f_chain = _lambdify(args, list(grad.chain), "math")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(points):
        v = rng.normal(size=len(args)).tolist()
        worst = max(worst, rel_error(np.array(f_chain(*v)), np.array(f_direct(*v))))
    proved = None
    if prove:
        proved = all(sp.simplify(d - c) == 0 for d, c in zip(grad.direct, grad.chain))
    return Agreement(worst, points, tol, proved)


@dataclass
class CompiledGradient:
    """The ``direct`` symbolic gradient of one architecture, lambdified once.

    Calling it with ``x`` ``(n,)`` or ``(B, n)``, ``θ`` ``(n_params,)`` and ``y``
    returns the (mean) gradient ``(n_params,)``: single samples run on Python
    floats (``math``), batches vectorised over ``B`` (``numpy``).
    ``derive_seconds`` / ``compile_seconds`` record what building it cost.
    """

    grad: SymbolicGradient
    derive_seconds: float
    compile_seconds: float = 0.0
    _fns: dict[str, Callable] = field(default_factory=dict)

    def function(self, module: str) -> Callable:
        """The lambdified gradient for ``"math"`` (scalars) or ``"numpy"`` (arrays), compiled on first use."""
        if module not in self._fns:
            t0 = time.perf_counter()
            self._fns[module] = _lambdify(self.grad.x + self.grad.theta + self.grad.y, list(self.grad.direct), module)
            self.compile_seconds += time.perf_counter() - t0
        return self._fns[module]

    def __call__(self, x: Array, theta: Array, y: Array) -> Array:
        try:
            if x.ndim == 1:
                return np.array(self.function("math")(*x.tolist(), *theta.tolist(), *y.tolist()), dtype=np.float64)
            with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                cols = self.function("numpy")(*x.T, *theta, *y.T)
            return np.stack([np.broadcast_to(c, x.shape[:1]) for c in cols]).mean(axis=1)
        except (OverflowError, ZeroDivisionError, FloatingPointError, ValueError) as err:
            raise ValueError(
                f"the symbolic gradient could not be evaluated at these values ({err}); the symbolic formulas are "
                "not stabilised for large magnitudes: use method='jacobian'"
            ) from None


_CACHE: dict[tuple, CompiledGradient] = {}


def architecture_key(net: Network, n_in: int) -> tuple:
    """What a compiled gradient depends on: input size, layer classes, sizes, rule parameters, loss class."""
    layers = tuple(
        (type(l), l.n_in, getattr(l, "n_out", None), tuple(sorted(getattr(l, "rule_params", {}).items())))
        for l in net.layers
    )
    return (n_in, layers, type(net.loss_fn))


def compiled_gradient(net: Network, n_in: int | None = None, max_size: float | None = None) -> CompiledGradient:
    """The cached :class:`CompiledGradient` of the network's architecture (derived on a cache miss)."""
    n_in = _n_in(net, n_in)
    key = architecture_key(net, n_in)
    if key not in _CACHE:
        t0 = time.perf_counter()
        grad = direct_gradient(net, n_in, max_size)
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = CompiledGradient(grad, time.perf_counter() - t0)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every compiled gradient (the next call derives and compiles again)."""
    _CACHE.clear()


def symbolic_gradient(net: Network, x: Array, y: Array, max_size: float | None = None) -> Array:
    """``dL/dθ`` from SymPy's derivation, evaluated at the current parameters — shape ``(n_params,)``.

    For a batch ``(B, n)`` the mean of the per-sample gradients. Raises
    :class:`SymbolicSizeError` for networks over the size limit (before deriving).
    """
    x = net.check_input(x)
    _, y = net.loss_fn._checked(net.forward(x), y)
    return compiled_gradient(net, x.shape[-1], max_size)(x, net.get_params(), y)
