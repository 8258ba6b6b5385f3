"""Size guards for symbolic work: estimate from the architecture, refuse before building.

What symbolic work costs is the size of what SymPy builds: the derivative of the
loss, one expression per parameter, counted in expression-tree nodes (a shared
subexpression every time it appears). The estimate uses only the sizes — nothing
is built — through the hooks each layer and loss defines (:mod:`jacobnet.core.sizes`):

* forward, layer by layer: the :class:`~jacobnet.core.sizes.Entry` ``u`` of an
  output entry, ``u ← layer.symbolic_entry(n_in, u)`` from ``Entry(1)`` for an input;
* per parameter of layer ``k``: ``(d, count) ∈ layer_k.symbolic_params(u_k)``, then
  ``(m, d) ← layer_l.symbolic_derivative(n_l, u_l, m, d)`` for every layer above
  (from ``m = 1``), and ``loss.symbolic_derivative(n_L, u_L, m, d)`` nodes, ``count`` times;
* :func:`estimate_size` — the sum over all parameters: the whole-loss derivation
  (twice that for :func:`~jacobnet.symbolic.network.network_gradient`, which derives it twice);
* :func:`estimate_layer_size` — a layer's ``(J_x, J_θ)`` as ``Matrix.jacobian`` builds
  them (:func:`~jacobnet.symbolic.derive.layer_jacobians`), every entry, zeros included,
  a walk of its output: ``n_out · (n_in + n_params) · s_out``;
* :func:`estimate_layerwise_size` — what the per-layer derivation
  (:mod:`jacobnet.symbolic.layerwise`, ``method="symbolic"``) builds for a layer: its
  forward and its *nonzero* Jacobian entries (a Dense layer's ``J_θ``, mostly zeros,
  costs ``n_out · n_in + n_out`` entries of one node), and :func:`estimate_loss_row_size`
  for the loss row; :func:`check_layerwise_size` checks every layer of a network on its
  own, so a deep network of small layers passes.

Over :data:`MAX_EXPRESSION_SIZE` nodes (or the ``max_size`` keyword of every
symbolic function) the work is refused with :class:`SymbolicSizeError` — for the
per-layer derivation, per layer; the time in its message is ``SECONDS_PER_NODE``
per node (``benchmarks/bench_symbolic.py`` measures both: a Dense layer derived per
layer costs ≈ 1 · 10⁻⁵ s per node, so one at the limit ≈ 2.5 s, and a
``Dense(784, 128)``, 7 · 10⁵ nodes, ≈ 7 s, is refused).

>>> from jacobnet import build_network
>>> estimate_size(build_network("2,3,1", "tanh", "mse"))
745
>>> check_size(build_network("784,128,10"))
Traceback (most recent call last):
...
jacobnet.symbolic.guard.SymbolicSizeError: symbolic gradient of Network([Dense(784, 128), Tanh(), Dense(128, 10)], SoftmaxCrossEntropy()): estimated 6.1e+12 expression nodes (about 9.8e+07 s), over the limit of 2.5e+05 (jacobnet.symbolic.guard.MAX_EXPRESSION_SIZE or max_size=...); use method='jacobian' or a smaller network
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jacobnet.core.sizes import CAP, Entry

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.losses import Loss
    from jacobnet.core.stack import Stack

MAX_EXPRESSION_SIZE: float = 2.5e5
"""Default limit on the estimated number of expression nodes: what passes stays within a few seconds."""
SECONDS_PER_NODE: float = 1.6e-5
"""Cold cost of deriving, compiling and evaluating one node (for the message; the limit is in nodes)."""
ADVICE = "use method='jacobian' or a smaller network"


class SymbolicSizeError(ValueError):
    """Symbolic work refused: the estimated expression size is over the limit."""


def estimate_size(net: Stack, n_in: int | None = None) -> int:
    """Estimated nodes of the network's symbolic gradient ``dL/dθ``: ``Σ_θ`` nodes of ``∂L/∂θ`` (module docstring)."""
    n = net.input_size if n_in is None else n_in
    if n is None:
        raise ValueError("this network has no layer with a fixed input size: pass n_in")
    layers, sizes, entries = net.layers, [n], [Entry(1.0)]
    for layer in layers:
        entries.append(layer.symbolic_entry(sizes[-1], entries[-1]))
        sizes.append(layer.out_size(sizes[-1]))
    total = 0.0
    for k, layer in enumerate(layers):
        for start, count in layer.symbolic_params(entries[k]):
            m, d = 1.0, start
            for l in range(k + 1, len(layers)):
                m, d = layers[l].symbolic_derivative(sizes[l], entries[l], m, min(d, CAP))
            total += count * net.loss_fn.symbolic_derivative(sizes[-1], entries[-1], m, min(d, CAP))
    return int(min(total, CAP))


def estimate_layer_size(layer: Layer, n_in: int) -> int:
    """Estimated nodes of a layer's two Jacobians: ``n_out · (n_in + n_params) · s_out``."""
    s_out = layer.symbolic_entry(n_in, Entry(1.0)).s
    return int(min(layer.out_size(n_in) * (n_in + layer.n_params) * s_out, CAP))


def _refuse(what: str, size: int, max_size: float | None, advice: str) -> None:
    limit = MAX_EXPRESSION_SIZE if max_size is None else max_size
    if size > limit:
        raise SymbolicSizeError(
            f"{what}: estimated {size:.2g} expression nodes (about {SECONDS_PER_NODE * size:.2g} s), over the limit "
            f"of {limit:.2g} (jacobnet.symbolic.guard.MAX_EXPRESSION_SIZE or max_size=...); {advice}"
        )


def check_size(net: Stack, n_in: int | None = None, max_size: float | None = None, advice: str = ADVICE,
               derivations: int = 1) -> int:
    """Return :func:`estimate_size` times ``derivations``, or raise :class:`SymbolicSizeError` over the limit.

    ``derivations=2`` for :func:`~jacobnet.symbolic.network.network_gradient`, which
    derives the gradient twice (whole loss and chain product); ``advice`` ends the message.
    """
    size = estimate_size(net, n_in) * derivations
    what = "symbolic gradient" if derivations == 1 else f"{derivations} symbolic derivations of the gradient"
    _refuse(f"{what} of {net!r}", size, max_size, advice)
    return size


def check_layer_size(layer: Layer, n_in: int, max_size: float | None = None) -> int:
    """Return :func:`estimate_layer_size`, or raise :class:`SymbolicSizeError` when it is over the limit."""
    size = estimate_layer_size(layer, n_in)
    _refuse(f"symbolic Jacobians of {layer.name}", size, max_size, "use the numeric jacobian_input/jacobian_params")
    return size


def estimate_layerwise_size(layer: Layer, n_in: int) -> int:
    """Estimated nodes of what the per-layer derivation builds for one layer: its forward and its nonzero Jacobian entries.

    ``n_out · s_out`` (the forward) ``+ n_in · m_x · d_x`` (``J_x``: each input reaches
    ``m_x`` outputs, ``d_x`` nodes each) ``+ Σ count · d`` (``J_θ``: the layer's
    ``symbolic_params``); the zero entries cost nothing
    (:mod:`jacobnet.symbolic.layerwise` never builds them).

    >>> from jacobnet import Dense
    >>> estimate_layerwise_size(Dense(3, 2), 3)      # forward 2·11, J_x 3·2 entries W of 3, J_θ 6 x_j and 2 ones
    48
    """
    one = Entry(1.0)
    n_out = layer.out_size(n_in)
    m_x, d_x = layer.symbolic_derivative(n_in, one, 1.0, 1.0)
    jx = min(n_in * m_x, n_in * n_out) * d_x
    jt = sum(count * d for d, count in layer.symbolic_params(one))
    return int(min(n_out * layer.symbolic_entry(n_in, one).s + jx + jt, CAP))


def estimate_loss_row_size(loss: Loss, n: int) -> int:
    """Estimated nodes of the loss row ``∂L/∂ŷ``: ``n`` entries of ``loss.symbolic_derivative(n, 1, m=1, d=1)`` each.

    >>> from jacobnet import MSE, SoftmaxCrossEntropy
    >>> estimate_loss_row_size(MSE(), 10), estimate_loss_row_size(SoftmaxCrossEntropy(), 10)
    (90, 3410)
    """
    return int(min(n * loss.symbolic_derivative(n, Entry(1.0), 1.0, 1.0), CAP))


def check_layer_derivation(layer: Layer, n_in: int, max_size: float | None = None, name: str | None = None,
                           advice: str = ADVICE) -> int:
    """Return :func:`estimate_layerwise_size`, or raise :class:`SymbolicSizeError` naming the layer (``name``: its place in a network)."""
    size = estimate_layerwise_size(layer, n_in)
    who = layer.name if name is None else f"{name} ({layer!r})"
    _refuse(f"symbolic Jacobians of {who} for the per-layer symbolic gradient", size, max_size, advice)
    return size


def check_layerwise_size(net: Stack, n_in: int | None = None, max_size: float | None = None, advice: str = ADVICE) -> list[int]:
    """The per-layer derivation's guard: every top-level layer (:func:`check_layer_derivation`) and the loss row.

    Per layer, so a deep network of small layers passes. Returns the input size of
    every layer and of the loss, ``[n_0, …, n_L]``; raises :class:`SymbolicSizeError`
    naming the first layer over the limit, before anything is built.

    >>> from jacobnet import build_network
    >>> check_layerwise_size(build_network("4,8,8,8,8,3"))
    [4, 8, 8, 8, 8, 8, 8, 8, 8, 3]
    >>> check_layerwise_size(build_network("784,128,10"))
    Traceback (most recent call last):
    ...
    jacobnet.symbolic.guard.SymbolicSizeError: symbolic Jacobians of Dense 1 (Dense(784, 128)) for the per-layer symbolic gradient: estimated 7e+05 expression nodes (about 11 s), over the limit of 2.5e+05 (jacobnet.symbolic.guard.MAX_EXPRESSION_SIZE or max_size=...); use method='jacobian' or a smaller network
    """
    sizes = [net.input_size if n_in is None else n_in]
    if sizes[0] is None:
        raise ValueError("this network has no layer with a fixed input size: pass n_in")
    for name, layer in zip(net.names, net.layers):
        check_layer_derivation(layer, sizes[-1], max_size, name, advice)
        sizes.append(layer.out_size(sizes[-1]))
    what = f"symbolic loss row of {net.loss_fn!r} over {sizes[-1]} outputs for the per-layer symbolic gradient"
    _refuse(what, estimate_loss_row_size(net.loss_fn, sizes[-1]), max_size, advice)
    return sizes
