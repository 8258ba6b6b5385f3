"""Size guards for symbolic work: estimate from the architecture, refuse before building.

SymPy expressions of a network grow multiplicatively with depth and width, so
symbolic work on a big network would hang. These estimates use only the sizes
(nothing is built) and count expression-tree nodes, a shared subexpression
counted every time it appears:

* per output entry, ``s`` = nodes of one activation: ``s_0 = 1`` (a symbol);
  Dense ``n_in → n_out``: ``s ← n_in (s + 2) + 2`` (``n_in`` products ``W x`` and ``+ b``);
  elementwise: ``s ← s + 3``; Softmax on ``n``: ``s ← 2 n (s + 2)`` (the numerator
  and the shared denominator ``Σ exp``);
* the loss on ``n`` outputs: ``T = c n (s + 4)``, ``c = 2`` for softmax-cross-entropy
  (``z_i`` and ``log Σ exp z``), else ``c = 1``;
* a network's gradient: ``T · (n_params + 1)`` (the loss and one derivative per
  parameter, each at most about as large as the loss);
* a layer's Jacobians ``(J_x, J_θ)``: ``n_out · (n_in + n_params) · s_out``.

The limit :data:`MAX_EXPRESSION_SIZE` (or the ``max_size`` keyword of every
symbolic function) is set so that what passes stays within a few seconds:
a 4→8→3 softmax network (estimate ≈ 6 · 10⁴) takes 2–3 s (time grows about linearly,
≈ 4 · 10⁻⁵ s per node, so the limit is ≈ 5 s), and
784→128→10 (≈ 6 · 10¹¹) is refused at once.

>>> from jacobnet import build_network
>>> estimate_size(build_network("2,3,1", "tanh", "mse"))
630
>>> check_size(build_network("784,128,10"))
Traceback (most recent call last):
...
jacobnet.symbolic_size.SymbolicSizeError: symbolic gradient of Network([Dense(784, 128), Tanh(), Dense(128, 10)], SoftmaxCrossEntropy()): estimated 6.1e+11 expression nodes, over the limit of 1e+05 (jacobnet.symbolic_size.MAX_EXPRESSION_SIZE or max_size=...); use method='jacobian' or a smaller network
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .layers import Layer
    from .network import Network

MAX_EXPRESSION_SIZE: float = 1e5
"""Default limit on the estimated number of expression nodes (see the module docstring)."""


class SymbolicSizeError(ValueError):
    """Symbolic work refused: the estimated expression size is over the limit."""


def entry_size(layer: Layer, n_in: int, s: int) -> int:
    """Nodes of one output entry of ``layer`` whose inputs have ``s`` nodes each."""
    from .layers import Dense, Softmax

    if isinstance(layer, Dense):
        return n_in * (s + 2) + 2
    if isinstance(layer, Softmax):
        return 2 * n_in * (s + 2)
    return s + 3


def estimate_size(net: Network, n_in: int | None = None) -> int:
    """Estimated nodes of the network's loss and its symbolic gradient: ``T · (n_params + 1)``."""
    from .losses import SoftmaxCrossEntropy

    n = net.input_size if n_in is None else n_in
    if n is None:
        raise ValueError("this network has no layer with a fixed input size: pass n_in")
    s = 1
    for layer in net.layers:
        s, n = entry_size(layer, n, s), layer.out_size(n)
    c = 2 if isinstance(net.loss_fn, SoftmaxCrossEntropy) else 1
    return c * n * (s + 4) * (net.n_params + 1)


def estimate_layer_size(layer: Layer, n_in: int) -> int:
    """Estimated nodes of a layer's two Jacobians: ``n_out · (n_in + n_params) · s_out``."""
    n_params = layer.n_params
    return layer.out_size(n_in) * (n_in + n_params) * entry_size(layer, n_in, 1)


def _refuse(what: str, size: int, max_size: float | None) -> None:
    limit = MAX_EXPRESSION_SIZE if max_size is None else max_size
    if size > limit:
        raise SymbolicSizeError(
            f"{what}: estimated {size:.2g} expression nodes, over the limit of {limit:.2g} "
            "(jacobnet.symbolic_size.MAX_EXPRESSION_SIZE or max_size=...); use method='jacobian' or a smaller network"
        )


def check_size(net: Network, n_in: int | None = None, max_size: float | None = None) -> int:
    """Return :func:`estimate_size`, or raise :class:`SymbolicSizeError` when it is over the limit."""
    size = estimate_size(net, n_in)
    _refuse(f"symbolic gradient of {net!r}", size, max_size)
    return size


def check_layer_size(layer: Layer, n_in: int, max_size: float | None = None) -> int:
    """Return :func:`estimate_layer_size`, or raise :class:`SymbolicSizeError` when it is over the limit."""
    size = estimate_layer_size(layer, n_in)
    _refuse(f"symbolic Jacobians of {layer.name}", size, max_size)
    return size
