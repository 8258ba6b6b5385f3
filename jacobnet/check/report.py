"""A network's gradient three ways — Jacobian product, SymPy, central differences — and their errors.

:func:`compare_gradients` returns a :class:`GradientReport`: a table in the
terminal (``str``), HTML in Jupyter, and data for code and figures:

* ``labels`` — one name per parameter, ``net.param_labels()`` (``W^{(1)}_{2,3}``);
* ``gradients`` — ``{method: ndarray (n_params,)}`` for ``"jacobian"``,
  ``"symbolic"``, ``"finite-difference"``;
* ``blocks`` — one :class:`Block` per layer with parameters: ``name`` (``"Dense 1"``)
  and ``slice`` into the flat vector;
* ``rows`` — one :class:`PairError` per block and pair of methods, plus an
  ``"all"`` row per pair: max absolute error, relative errors, the worst entries by name
  (``—`` in the table where the two agree to the last bit); the table prints the blocks'
  rows, and each pair's ``"all"`` (the largest of its blocks') in the line under it;
* ``errors(a, b)`` — ``|g_a − g_b|`` per parameter (for a log-scale plot); ``ok``;
* ``symbolic`` — which symbolic derivation gave ``"symbolic"``: ``"symbolic (per layer)"``
  (each layer's SymPy Jacobians, multiplied as the chain: ``method="symbolic"``) or
  ``"symbolic (whole loss)"`` (SymPy's derivative of the whole loss), said under the table.

Relative errors are norm-wise (:func:`jacobnet.check.rel_error`), the second
method of a pair being the reference: ``rel (block)`` = ``max|Δ| / max|reference|``
within the block, and ``rel`` = ``max|Δ| in the block / max|reference| over all
parameters`` — the number held against the tolerance, so a pair agrees when
every block does: symbolic vs jacobian ≤ 1e-10, anything vs finite-difference
≤ 1e-6. The table's footer defines both. Gradient values print with 13
significant digits in e-notation, so that they line up.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("3,4,2", "tanh", "softmax-ce", seed=0)
>>> report = compare_gradients(net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
>>> report.ok, [b.name for b in report.blocks], report.gradients["symbolic"].shape, report.symbolic
(True, ['Dense 1', 'Dense 2'], (26,), 'symbolic (per layer)')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

import jacobnet.symbolic
from jacobnet.core.cost import shorten
from jacobnet.core.finite import check_fd_cost, fd_gradient, rel_error
from jacobnet.core.table import Table
from jacobnet.net.network import GRADIENT_METHODS
from jacobnet.symbolic.guard import check_layerwise_size, check_size, estimate_size

if TYPE_CHECKING:
    from jacobnet.net.network import Network

Array = np.ndarray
METHODS = GRADIENT_METHODS  # (the one list, network.GRADIENT_METHODS)
TOLERANCES: dict[tuple[str, str], float] = {
    ("symbolic", "jacobian"): 1e-10,
    ("jacobian", "finite-difference"): 1e-6,
    ("symbolic", "finite-difference"): 1e-6,
}
"""The agreement thresholds of each pair ``(method, reference)``, norm-wise relative."""
SYMBOLIC = {
    "per-layer": ("symbolic (per layer)", "each layer's Jacobians differentiated by SymPy from its own forward expression, "
                                          "multiplied as the chain"),
    "whole-loss": ("symbolic (whole loss)", "SymPy's derivative of the whole loss expression, the chain rule checked too"),
}
"""The symbolic derivations (``compare_gradients(symbolic=…)``, besides ``"auto"``): the report's name for each and what it is."""
WHOLE_LOSS_CHECK_SIZE = 2e4
"""``symbolic="auto"`` takes the whole-loss derivation up to this many estimated expression nodes
(:func:`~jacobnet.symbolic.guard.estimate_size`; about half a second cold, the CLI's default 3→4→2
network), the per-layer one above: tiny networks get the strongest check, others one that is linear in depth."""
WHOLE_LOSS_MAX_DEPTH = 64
"""``symbolic="auto"`` takes the per-layer derivation for a network of more layers than this (positions, blocks' inner
layers included) without estimating the whole loss: that estimate's own time grows with the depth squared."""


@dataclass(frozen=True)
class Block:
    """The parameters of one layer: its name (``"Dense 1"``) and where they sit in the flat vector."""

    name: str
    slice: slice


@dataclass(frozen=True)
class PairError:
    """The errors between two methods ``a`` and ``b`` (the reference) on one block.

    ``worst``: up to three ``(label, a value, b value)`` with ``Δ ≠ 0``, largest ``|Δ|`` first.
    """

    block: str
    a: str
    b: str
    max_abs: float
    rel_block: float
    rel: float
    tol: float
    worst: tuple[tuple[str, float, float], ...]

    @property
    def ok(self) -> bool:
        return self.rel <= self.tol


class GradientReport:
    """Gradients of several methods, compared pair by pair and block by block (see the module docstring).

    ``derivation``: the derivation behind ``"symbolic"``, a key of :data:`SYMBOLIC` (or
    ``None``: not said); ``symbolic`` is its name, ``"symbolic (per layer)"`` or ``"symbolic (whole loss)"``.
    """

    def __init__(self, labels: Sequence[str], gradients: Mapping[str, Array], blocks: Sequence[Block],
                 tolerances: Mapping[tuple[str, str], float] | None = None, title: str = "", derivation: str | None = None):
        self.labels, self.blocks, self.title = list(labels), list(blocks), title
        if derivation is not None and derivation not in SYMBOLIC:
            raise ValueError(f"GradientReport: derivation must be one of {', '.join(map(repr, SYMBOLIC))} or None, got {derivation!r}")
        self.derivation = derivation
        self.symbolic = None if derivation is None else SYMBOLIC[derivation][0]
        self.gradients = {m: np.asarray(g, dtype=np.float64) for m, g in gradients.items()}
        for m, g in self.gradients.items():
            if g.shape != (len(self.labels),):
                raise ValueError(f"GradientReport: gradient {m!r} has shape {g.shape}, expected ({len(self.labels)},)")
        self.tolerances = {**TOLERANCES, **(tolerances or {})}
        self.pairs = [p for p in self.tolerances if p[0] in self.gradients and p[1] in self.gradients]
        self.rows = [self._pair_error(b, a, ref) for a, ref in self.pairs for b in self._with_all()]

    def _with_all(self) -> list[Block]:
        return self.blocks + [Block("all", slice(0, len(self.labels)))]

    def errors(self, a: str, b: str) -> Array:
        """``|g_a − g_b|`` per parameter — shape ``(n_params,)``."""
        return np.abs(self.gradients[a] - self.gradients[b])

    def _pair_error(self, block: Block, a: str, b: str) -> PairError:
        ga, gb, err = self.gradients[a][block.slice], self.gradients[b][block.slice], self.errors(a, b)[block.slice]
        scale = float(np.max(np.abs(self.gradients[b]), initial=0.0))  # the whole reference gradient's size
        order = [i for i in np.argsort(-err, kind="stable")[:3] if err[i] != 0]
        labels = self.labels[block.slice]
        worst = tuple((labels[i], float(ga[i]), float(gb[i])) for i in order)
        return PairError(block.name, a, b, float(np.max(err, initial=0.0)), rel_error(ga, gb),
                         rel_error(ga, gb, scale=scale), self.tolerances[(a, b)], worst)

    @property
    def ok(self) -> bool:
        """Every pair agrees within its tolerance."""
        return all(r.ok for r in self.rows)

    def table(self) -> Table:
        """The summary: one row per block and pair; under it each pair's verdict and what the columns mean.

        The ``"all"`` rows of :attr:`rows` are not printed: each is the largest of its
        blocks' (their ``max |Δ|``, ``rel`` and worst entry), said once per pair in the footer.
        """
        rows = [
            {"block": r.block, "methods": f"{r.a} vs {r.b}", "max |Δ|": r.max_abs, "rel (block)": r.rel_block,
             "rel": r.rel, "tol": r.tol, "ok": "✓" if r.ok else "✗",
             "worst entry": f"{r.worst[0][0]}: {value(r.worst[0][1])} vs {value(r.worst[0][2])}" if r.worst else "—"}
            for r in self.rows if r.block != "all"
        ]
        sci = {c: (lambda v: f"{v + 0.0:.1e}") for c in ("max |Δ|", "rel (block)", "rel")}
        verdict = "all methods agree" if self.ok else "METHODS DISAGREE"
        pairs = "; ".join(f"{r.a} vs {r.b} {r.rel + 0.0:.1e} {'≤' if r.ok else '>'} {r.tol:g}" for r in self.rows if r.block == "all")
        footer = (f"{verdict}: {pairs} (the largest rel over the blocks)\n"
                  "rel (block) = max|Δ| / max|reference| within the block; rel = max|Δ| in the block / max|reference| "
                  "over all parameters, held against tol; reference = the second method")
        if self.derivation and "symbolic" in self.gradients:
            footer += "\nthe symbolic gradient is {}: {}".format(*SYMBOLIC[self.derivation])
        return Table(self.title, list(rows[0]) if rows else ["block"], rows, {**sci, "tol": "{:g}".format}, footer)

    def entries(self) -> Table:
        """Every parameter: its name and its gradient by each method."""
        rows = [{"parameter": l, **{m: float(g[i]) for m, g in self.gradients.items()}} for i, l in enumerate(self.labels)]
        fmt = {m: value for m in self.gradients}
        return Table(self.title, ["parameter", *self.gradients], rows, fmt)

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        verdict = f'<p style="color:{colour};font-weight:bold">{"✓ agree" if self.ok else "✗ disagree"}</p>'
        details = f"<details><summary>every parameter</summary>{self.entries()._repr_html_()}</details>"
        return verdict + self.table()._repr_html_() + details

    def __repr__(self) -> str:
        return f"GradientReport({len(self.labels)} parameters, methods {list(self.gradients)}, ok={self.ok})"


def value(v: float) -> str:
    """A gradient entry as printed: 13 significant digits, e-notation, a space for the sign, never ``-0``.

    >>> [value(v) for v in (0.5, -0.0, -1234.5)]
    [' 5.000000000000e-01', ' 0.000000000000e+00', '-1.234500000000e+03']
    """
    return f"{v + 0.0: .12e}"


def network_blocks(net: Network) -> list[Block]:
    """One :class:`Block` per layer with parameters (a shared one once), named by its first position."""
    return [Block(n, net.layer_slice(l)) for n, l in zip(net.param_names(), net.param_layers)]


def compare_gradients(net: Network, x: Array, y: Array, methods: Sequence[str] = METHODS,
                      tolerances: Mapping[tuple[str, str], float] | None = None,
                      max_size: float | None = None, symbolic: str = "per-layer",
                      max_work: float | None = None) -> GradientReport:
    """``dL/dθ`` by each method (``Network.gradient(method=…)``), compared: a :class:`GradientReport`.

    ``methods``: two or more of :data:`~jacobnet.net.network.GRADIENT_METHODS`, e.g.
    ``("jacobian", "finite-difference")``. ``symbolic``: the derivation behind
    ``"symbolic"`` — ``"per-layer"`` (what ``method="symbolic"`` computes),
    ``"whole-loss"`` (tiny networks), or ``"auto"`` (:func:`symbolic_derivation`). The
    guards run first, before any gradient: the cost of central differences
    (:func:`~jacobnet.core.finite.check_fd_cost`, ``max_work``, see :mod:`jacobnet.core.cost`),
    then SymPy's size guard (``max_size``, see :mod:`jacobnet.symbolic.guard`), so a network
    too big for either fails at once.

    Raises:
        CostError: central differences would take more than the cost limit (a ``ValueError``).
        SymbolicSizeError: SymPy's expressions would be over the size limit (a ``ValueError``).
    """
    methods = checked_methods(methods)
    x = net.check_input(x)
    if "finite-difference" in methods:
        check_fd_cost(net, x, max_work)
    derivation = None
    if "symbolic" in methods:
        derivation = symbolic_derivation(net, x.shape[-1], symbolic)
        advice = 'compare without SymPy, methods=("jacobian", "finite-difference"), or use a smaller network'
        if derivation == "whole-loss":
            from jacobnet.symbolic.compiled import compiled_gradient

            check_size(net, x.shape[-1], max_size, advice)
            compiled_gradient(net, x.shape[-1], max_size)  # derive (and cache) under this limit
        else:
            check_layerwise_size(net, x.shape[-1], max_size, advice)
    gradients = {
        m: jacobnet.symbolic.symbolic_gradient(net, x, y, max_size=max_size, derivation=derivation) if m == "symbolic"
        else fd_gradient(net, x, y, max_work=max_work) if m == "finite-difference"
        else net.gradient(x, y, method=m)
        for m in methods
    }
    who = "one sample" if x.ndim == 1 else f"a batch of {x.shape[0]} (mean gradient)"
    title = f"Gradient check of {net!r}: {who}, {net.n_params} parameters"
    return GradientReport(net.param_labels(), gradients, network_blocks(net), tolerances, title, derivation)


def symbolic_derivation(net: Network, n_in: int, choice: str = "auto") -> str:
    """The derivation behind ``"symbolic"``: ``choice`` (a key of :data:`SYMBOLIC`), or for ``"auto"`` the whole
    loss when its estimate is at most :data:`WHOLE_LOSS_CHECK_SIZE` nodes, else the per-layer one.

    >>> from jacobnet import build_network
    >>> symbolic_derivation(build_network("3,4,2"), 3), symbolic_derivation(build_network("4,8,3"), 4)
    ('whole-loss', 'per-layer')
    """
    if choice == "auto":
        if net.n_params > WHOLE_LOSS_CHECK_SIZE or len(net.all_positions) > WHOLE_LOSS_MAX_DEPTH:
            return "per-layer"  # (too big anyway, and the whole-loss estimate's time grows with depth squared)
        return "whole-loss" if estimate_size(net, n_in) <= WHOLE_LOSS_CHECK_SIZE else "per-layer"
    if choice not in SYMBOLIC:
        raise ValueError(f"compare_gradients: symbolic must be one of {', '.join(map(repr, [*SYMBOLIC, 'auto']))}, got {choice!r}")
    return choice


def checked_methods(methods: object) -> tuple[str, ...]:
    """``methods`` as a tuple of two or more distinct names from :data:`~jacobnet.net.network.GRADIENT_METHODS`, or raise.

    >>> checked_methods("jacobian")
    Traceback (most recent call last):
    ...
    ValueError: compare_gradients: methods must be a sequence of two or more of 'jacobian', 'symbolic', 'finite-difference', e.g. methods=("jacobian", "finite-difference"); got the string 'jacobian'
    """
    known = ", ".join(map(repr, GRADIENT_METHODS))
    usage = f'compare_gradients: methods must be a sequence of two or more of {known}, e.g. methods=("jacobian", "finite-difference")'
    if isinstance(methods, str) or not isinstance(methods, Sequence):
        raise ValueError(f"{usage}; got {'the string' if isinstance(methods, str) else type(methods).__name__} {shorten(repr(methods), 80)}")
    for m in methods:
        if not isinstance(m, str) or m not in GRADIENT_METHODS:
            raise ValueError(f"compare_gradients: unknown gradient method {shorten(repr(m), 80)}; choose from {known}")
    if len(set(methods)) != len(methods) or len(methods) < 2:
        raise ValueError(f"{usage}; got {shorten(repr(tuple(methods)), 80)}")
    return tuple(methods)
