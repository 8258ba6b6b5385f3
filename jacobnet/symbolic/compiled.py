"""Symbolic gradients evaluated through a cached ``lambdify``: what ``method="symbolic"`` computes.

:func:`symbolic_gradient` (what ``Network.gradient(method="symbolic")`` calls) has
two derivations (:data:`DERIVATIONS`):

* ``"per-layer"`` (the default): each layer's Jacobians by SymPy from its own
  forward expression, the chain multiplied numerically —
  :func:`~jacobnet.symbolic.layerwise.layerwise_gradient`, linear in depth;
* ``"whole-loss"``: SymPy's derivative of the whole loss expression, the ``direct``
  derivation of :func:`~jacobnet.symbolic.network.direct_gradient`, which grows
  exponentially with depth — for tiny networks, where it is the strongest check of
  the chain rule itself. It is evaluated with its common factors pulled out
  (:func:`common_factors_out`: the same expression in fewer operations), compiled
  once per architecture (:func:`architecture_key`: every layer's and the loss's
  class and ``key()`` — sizes, rule parameters such as ``alpha``, any other
  hyper-parameter — and the input size) and cached (:func:`compiled_gradient`).

Weights, inputs and targets are arguments, so new weights never recompile. A
batch gives the mean of the per-sample gradients, vectorised.

The symbolic formulas are the textbook ones, not the stabilised NumPy forms:
at inputs that overflow them (e.g. ``exp(1000)``) evaluation raises a
``ValueError`` — use ``method="jacobian"`` there.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("2,3,1", "tanh", "mse", seed=0)
>>> x, y = np.array([0.5, -1.0]), np.array([0.3])
>>> per_layer, whole = (symbolic_gradient(net, x, y, derivation=d) for d in DERIVATIONS)
>>> float(np.max(np.abs(per_layer - net.gradient(x, y)))) < 1e-15, float(np.max(np.abs(whole - per_layer))) < 1e-15
(True, True)
>>> compiled_gradient(net) is compiled_gradient(build_network("2,3,1", "tanh", "mse", seed=7))
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np
import sympy as sp

from jacobnet.core.validate import as_input
from jacobnet.symbolic.derive import lambdify_safe, layer_jacobians, param_symbols, vector_symbols
from jacobnet.symbolic.guard import check_size
from jacobnet.symbolic.layerwise import clear_layer_cache, layerwise_gradient
from jacobnet.symbolic.network import SymbolicGradient, direct_gradient, network_input_size

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.losses import Loss
    from jacobnet.core.stack import Stack

Array = np.ndarray
CACHE_SIZE = 32
"""How many compiled gradients, and how many compiled layer Jacobians, are kept (oldest forgotten first)."""
DERIVATIONS = ("per-layer", "whole-loss")
"""The two symbolic derivations of :func:`symbolic_gradient`; ``method="symbolic"`` is the first."""


@dataclass
class CompiledGradient:
    """The ``direct`` (whole-loss) symbolic gradient of one architecture, lambdified once.

    Calling it with ``x`` ``(n,)`` or ``(B, n)``, ``θ`` ``(n_params,)`` and ``y``
    returns the (mean) gradient ``(n_params,)``: single samples run on Python
    floats (``math``), batches vectorised over ``B`` (``numpy``).
    ``derive_seconds`` / ``compile_seconds`` record what building it cost.
    """

    grad: SymbolicGradient
    derive_seconds: float
    compile_seconds: float = 0.0
    _fns: dict[str, Callable] = field(default_factory=dict)
    _factored: list[sp.Expr] | None = None

    def function(self, module: str) -> Callable:
        """The lambdified gradient for ``"math"`` (scalars) or ``"numpy"`` (arrays), compiled on first use.

        What is compiled is ``grad.direct`` with its common factors pulled out
        (:func:`common_factors_out`): the same expression, fewer operations.
        """
        if module not in self._fns:
            t0 = time.perf_counter()
            if self._factored is None:
                self._factored = common_factors_out(self.grad.direct)
            self._fns[module] = lambdify_safe(self.grad.x + self.grad.theta + self.grad.y, self._factored, module)
            self.compile_seconds += time.perf_counter() - t0
        return self._fns[module]

    def __call__(self, x: Array, theta: Array, y: Array) -> Array:
        try:
            if x.ndim == 1:
                g = np.array(self.function("math")(*x.tolist(), *theta.tolist(), *y.tolist()), dtype=np.float64)
            else:
                with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                    cols = self.function("numpy")(*x.T, *theta.tolist(), *y.T)
                g = _batch_mean(cols, x.shape[0])
            if not np.all(np.isfinite(g)):
                raise OverflowError("a non-finite result")
            return g
        except (OverflowError, ZeroDivisionError, FloatingPointError, ValueError) as err:
            raise ValueError(
                f"the symbolic gradient could not be evaluated at these values ({err}); the symbolic formulas are "
                "not stabilised for large magnitudes: use method='jacobian'"
            ) from None


def common_factors_out(exprs: Iterable[sp.Expr]) -> list[sp.Expr]:
    """The same expressions with the common factors of every sum pulled out: ``a·b + a·c → a·(b + c)``.

    ``sympy.gcd_terms`` applied bottom-up, once per distinct subexpression (the
    entries of a gradient share most of theirs). Nothing is expanded, no
    fractions are combined (``fraction=False``) and ``Piecewise`` arms and
    conditions are left as they are, so the value is the same (up to rounding)
    and so are the overflow thresholds; ``cse`` then finds the products the entries share.
    SymPy's derivative of a whole loss repeats them per output and per input:
    for 4→8→3 softmax-cross-entropy the compiled gradient falls from 1119 to
    357 operations.

    >>> a, b, c = sp.symbols("a b c")
    >>> common_factors_out([a * b + a * c * sp.exp(b * c + b)])
    [a*(b + c*exp(b*(c + 1)))]
    """
    memo: dict[sp.Basic, sp.Basic] = {}

    def pull(e: sp.Basic) -> sp.Basic:
        if e not in memo:
            out = e.func(*map(pull, e.args)) if isinstance(e, sp.Expr) and e.args else e
            memo[e] = sp.gcd_terms(out, fraction=False) if out.is_Add else out
        return memo[e]

    exprs = list(exprs)
    for e in exprs:  # SymPy objects only: nothing here ever parses text
        if not isinstance(e, sp.Basic):
            raise TypeError(f"common_factors_out expects SymPy expressions, got {type(e).__name__}")
    return [pull(e) for e in exprs]


def _batch_mean(cols: list, batch: int) -> Array:
    """The batch mean of every lambdified entry, ``(n_params,)``: one ``(n_params, B)`` array, one ``mean``.

    An entry that does not depend on ``x`` or ``y`` comes back as a scalar; it is broadcast over the batch.
    """
    per_sample = np.empty((len(cols), batch))
    for row, col in zip(per_sample, cols):
        row[...] = col
    return per_sample.mean(axis=1)


_LAYER_CACHE: dict[tuple, Callable] = {}


def _remember(cache: dict, key: tuple, value: object) -> None:
    """``cache[key] = value``, forgetting the oldest entry first when the cache holds :data:`CACHE_SIZE`."""
    if len(cache) >= CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def evaluate_layer_jacobians(layer: Layer, x: Array) -> tuple[Array, Array]:
    """SymPy's ``(J_x, J_θ)`` of :func:`layer_jacobians`, evaluated at ``x`` ``(n,)`` and the layer's parameters.

    Shapes ``(n_out, n)`` and ``(n_out, n_params)`` — to compare with
    ``layer.jacobian_input(x)`` and ``layer.jacobian_params(x)``. Compiled once per layer architecture.

    >>> from jacobnet import Dense
    >>> d = Dense(3, 2, seed=0)
    >>> J_x, J_theta = evaluate_layer_jacobians(d, np.array([1.0, 2.0, 3.0]))
    >>> J_x.shape, J_theta.shape, bool(np.array_equal(J_x, d.W))
    ((2, 3), (2, 8), True)
    """
    x = as_input(x, layer.name, layer.n_in)
    if x.ndim != 1:
        raise ValueError(f"{layer.name}: evaluate_layer_jacobians takes one sample (n,), got shape {x.shape}")
    n, m = x.size, layer.out_size(x.size)
    key = (_key(layer), n)
    if key not in _LAYER_CACHE:
        J_x, J_theta = layer_jacobians(layer, n)
        args = vector_symbols("x", n) + param_symbols(layer)
        _remember(_LAYER_CACHE, key, lambdify_safe(args, list(J_x) + list(J_theta), "math"))
    flat = np.array(_LAYER_CACHE[key](*x.tolist(), *layer.get_params().tolist()), dtype=np.float64)
    return flat[: m * n].reshape(m, n), flat[m * n :].reshape(m, layer.n_params)


_CACHE: dict[tuple, CompiledGradient] = {}


def _key(what: Layer | Loss) -> tuple:
    """``(class, what.key())`` of a layer or loss.

    The class object as well as its name: a class redefined under the same name
    (a notebook cell run again) is compiled anew.
    """
    return (type(what), what.key())


def architecture_key(net: Stack, n_in: int) -> tuple:
    """What a compiled gradient depends on: input size, every layer's ``key()``, the loss's — never the weights.

    >>> from jacobnet import MSE, Dense, LeakyReLU, Network
    >>> key = lambda alpha, seed: architecture_key(Network([Dense(2, 2, seed=seed), LeakyReLU(alpha)], MSE()), 2)
    >>> key(0.1, 0) == key(0.1, 1), key(0.1, 0) == key(0.2, 0)
    (True, False)
    """
    first: dict[int, int] = {}
    sharing = tuple(first.setdefault(id(p.layer), i) for i, p in enumerate(net.all_positions))  # which positions share a layer
    return (n_in, tuple(_key(l) for l in net.layers), sharing, _key(net.loss_fn))


def compiled_gradient(net: Stack, n_in: int | None = None, max_size: float | None = None) -> CompiledGradient:
    """The cached whole-loss :class:`CompiledGradient` of the network's architecture (derived on a cache miss).

    The size guard runs on every call, cached or not (the estimate is a formula,
    microseconds), so a ``max_size`` always means the same thing.
    """
    n_in = network_input_size(net, n_in)
    key = architecture_key(net, n_in)
    check_size(net, n_in, max_size)
    if key not in _CACHE:
        t0 = time.perf_counter()
        grad = direct_gradient(net, n_in, max_size)
        _remember(_CACHE, key, CompiledGradient(grad, time.perf_counter() - t0))
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every compiled gradient, layer Jacobian and per-layer derivation (the next call derives and compiles again)."""
    _CACHE.clear()
    _LAYER_CACHE.clear()
    clear_layer_cache()


def symbolic_gradient(net: Stack, x: Array, y: Array, max_size: float | None = None, derivation: str = "per-layer") -> Array:
    """``dL/dθ`` from SymPy's derivation, evaluated at the current parameters — shape ``(n_params,)``.

    ``derivation``: ``"per-layer"`` (each layer's SymPy Jacobians, composed as the
    chain: :func:`~jacobnet.symbolic.layerwise.layerwise_gradient`) or
    ``"whole-loss"`` (SymPy's derivative of the whole loss: :func:`compiled_gradient`).
    For a batch ``(B, n)`` the mean of the per-sample gradients. Raises
    :class:`SymbolicSizeError` over the size limit (before deriving: per layer, or
    for the whole loss), and ``ValueError`` where the textbook formulas overflow (e.g. ``exp(1000)``).

    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "softmax-ce", seed=0)
    >>> X, Y = np.ones((4, 3)), np.eye(2)[[0, 1, 1, 0]]
    >>> g = symbolic_gradient(net, X, Y)
    >>> g.shape, bool(np.allclose(g, net.gradient(X, Y), rtol=1e-12, atol=0))
    ((8,), True)
    """
    if derivation not in DERIVATIONS:
        raise ValueError(f"symbolic_gradient: derivation must be one of {', '.join(map(repr, DERIVATIONS))}, got {derivation!r}")
    if derivation == "per-layer":
        return layerwise_gradient(net, x, y, max_size)
    acts = net.activations(x)  # x validated once; the forward pass only checks y against ŷ
    _, y = net.loss_fn.checked_target(acts[-1], y)
    return compiled_gradient(net, acts[0].shape[-1], max_size)(acts[0], net.get_params(), y)
