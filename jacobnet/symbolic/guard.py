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
* :func:`estimate_size` — the sum over all parameters (twice that for
  :func:`~jacobnet.symbolic.network.network_gradient`, which derives it twice);
  :func:`estimate_layer_size` — a layer's ``(J_x, J_θ)``: ``n_out · (n_in + n_params) · s_out``.

Over :data:`MAX_EXPRESSION_SIZE` nodes (or the ``max_size`` keyword of every
symbolic function) the work is refused with :class:`SymbolicSizeError`; the time
in its message is ``SECONDS_PER_NODE`` per node (``benchmarks/bench_symbolic.py``
measures both).

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
