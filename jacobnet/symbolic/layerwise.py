"""The per-layer symbolic gradient — what ``method="symbolic"`` computes: each layer's Jacobians by SymPy, the chain by NumPy.

For every top-level layer (a block is one layer, through its own ``sympy_forward``)
SymPy builds the layer's forward expression at symbolic inputs ``x_1 … x_n`` and
parameters ``θ`` and differentiates it: ``J_x = ∂a/∂x`` — ``(n_out, n_in)``,
``J_θ = ∂a/∂θ`` — ``(n_out, n_params)``; never the hand-derived closed forms. The
loss row ``∂L/∂ŷ`` — ``(1, n)`` — is SymPy's derivative of the loss expression.
Each is compiled once per architecture — a layer's key is ``(type(layer),
layer.key(), n_in)`` — and cached, so new weights never recompile. The chain is
then multiplied numerically, last layer first,

    g ← J_loss(a_L);   ∂L/∂θ_l += g · J_θ(f_l)(a_{l−1});   g ← g · J_x(f_l)(a_{l−1}),

with the activations ``a_l`` from the compiled forward expressions too (SymPy's
values all the way). Several top-level layers may hold one layer's parameters
(shared weights): their contributions add up. A batch gives the mean of the
per-sample gradients, vectorised over the samples. The cost grows linearly with
depth; the whole-loss derivation (:func:`~jacobnet.symbolic.network.direct_gradient`)
grows exponentially.

How it stays cheap
    ``Matrix.jacobian`` (:func:`~jacobnet.symbolic.derive.layer_jacobians`) asks SymPy
    for every entry, zeros included, and each call walks the whole output expression:
    the 68 608 entries of a ``Dense(64, 32)`` take 25 s. Here (:func:`differentiate`):

    * **only the nonzero entries**: an output ``a_i = Σ_k t_k`` is differentiated term by
      term (the sum rule, as SymPy's ``Add`` does), ``∂a_i/∂s = Σ_{k: s ∈ t_k} ∂t_k/∂s``;
      a symbol that ``a_i`` does not hold gets no entry (SymPy's derivative is 0);
    * **each shape once**: a term is renamed to a *template*, its symbols ``c_0, c_1, …``
      level by level (:func:`rename`), so that every ``W_{i,j} x_j`` of a Dense layer is
      ``c_0 c_1``; SymPy differentiates each template once per symbol, and the
      derivative is renamed back. Each distinct template is lambdified once and
      evaluated for all of its instances in one NumPy call, its arguments gathered by
      index (:class:`Program`). A Dense layer's ``J_x`` entries are ``W_{i,j}``
      (gathered from ``θ`` and multiplied as the matrix they are), its ``J_θ``
      entries ``x_j`` and ``1``.

The formulas are the textbook ones, not the stabilised NumPy forms: at inputs that
overflow them (e.g. ``exp(1000)``) evaluation raises a ``ValueError`` — use
``method="jacobian"`` there.

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("4,8,3", "tanh", "softmax-ce", seed=0)
>>> x, y = np.array([0.5, -1.0, 2.0, 0.1]), np.array([0.0, 1.0, 0.0])
>>> g = layerwise_gradient(net, x, y)
>>> g.shape, float(np.max(np.abs(g - net.gradient(x, y)))) < 1e-15
((67,), True)
>>> d = compiled_layer(net.layers[0], 4)    # J_x: the 32 entries W; J_θ: 8·4 entries x_j and 8 ones, of 8·40
>>> d.shape, d.J_x.nonzeros, d.J_theta.nonzeros
((8, 4, 40), 32, 40)
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Collection, Iterator, Mapping, Sequence

import numpy as np
import sympy as sp

from jacobnet.symbolic.derive import forward_expr, lambdify_safe, loss_input_name, param_symbols, vector_symbols
from jacobnet.symbolic.guard import check_layer_derivation, check_layerwise_size

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.losses import Loss
    from jacobnet.core.stack import Stack

Array = np.ndarray
Piece = tuple[sp.Expr, tuple[sp.Symbol, ...]]
"""A template over ``c_0 … c_{k−1}`` and the ``k`` symbols it stands for."""
CACHE_SIZE = 64
"""How many compiled layer architectures (and loss rows) are kept, oldest forgotten first."""
CHUNK_VALUES = 2**22
"""At most about this many float64 intermediate values (32 MB) at once: a large batch runs in chunks of samples."""


# --- templates: each shape of term differentiated once ----------------------------------------------------
_DUMMIES: list[sp.Symbol] = []


def _dummies(n: int) -> list[sp.Symbol]:
    """``c_0 … c_{n−1}``: the real symbols templates are written in."""
    while len(_DUMMIES) < n:
        _DUMMIES.append(sp.Symbol(f"c_{len(_DUMMIES)}", real=True))
    return _DUMMIES[:n]


def rename(e: sp.Expr, known: Mapping[sp.Basic, object]) -> Piece:
    """``e`` with its ``known`` symbols renamed ``c_0, c_1, …`` level by level (shallowest first): ``(template, symbols)``.

    Shallowest first, so that every output ``exp(x_i) / Σ_j exp(x_j)`` of a softmax is
    the one template ``exp(c_0) / Σ_j exp(c_j)``, whatever ``i``.

    >>> x = vector_symbols("x", 3)
    >>> rename(sp.exp(x[1]) / (sp.exp(x[0]) + sp.exp(x[1]) + sp.exp(x[2])), set(x))
    (exp(c_0)/(exp(c_0) + exp(c_1) + exp(c_2)), (x_2, x_1, x_3))
    """
    found: dict[sp.Basic, None] = {}
    level = [e]
    while level:
        found.update((a, None) for a in level if a in known)
        level = [arg for a in level if a not in known for arg in a.args]
    symbols = tuple(found)
    return e.xreplace(dict(zip(symbols, _dummies(len(symbols))))), symbols


class Templates:
    """Terms renamed to templates (:func:`rename`), and SymPy's derivatives of templates, memoised.

    ``sample`` symbols take one value per sample (inputs, targets), ``static`` ones one
    value for the whole batch (parameters): ``where[s] = (is_sample, index)``.
    """

    def __init__(self, sample: Sequence[sp.Symbol], static: Sequence[sp.Symbol] = ()):
        self.where = {s: (True, j) for j, s in enumerate(sample)} | {s: (False, j) for j, s in enumerate(static)}
        self._derivatives: dict[tuple[sp.Expr, int], Piece | None] = {}

    def split(self, term: sp.Expr) -> Piece:
        return rename(term, self.where)

    def derivative(self, piece: Piece, k: int) -> Piece | None:
        """SymPy's ``∂ piece / ∂ symbols[k]``, a piece of its own; ``None`` where it is 0."""
        template, symbols = piece
        if (template, k) not in self._derivatives:
            dummies = _dummies(len(symbols))
            d = template.diff(dummies[k])
            renamed, held = rename(d, set(dummies))
            self._derivatives[template, k] = None if d == 0 else (renamed, tuple(dummies.index(c) for c in held))
        found = self._derivatives[template, k]
        return None if found is None else (found[0], tuple(symbols[j] for j in found[1]))


def differentiate(exprs: Sequence[sp.Expr], templates: Templates, wrt: Collection[sp.Symbol] | None = None
                  ) -> tuple[list[list[Piece]], dict[tuple[int, sp.Symbol], list[Piece]]]:
    """Each expression as pieces (its terms), and SymPy's nonzero ``∂ exprs[i] / ∂ s`` as pieces, for every ``s`` it holds.

    ``wrt`` limits the symbols to differentiate by (default: every known one).

    >>> x = vector_symbols("x", 2)
    >>> terms, d = differentiate([x[0] * x[1] + sp.tanh(x[0])], Templates(x))
    >>> {s.name: sp.Add(*(t.xreplace(dict(zip(_dummies(len(a)), a))) for t, a in p)) for (i, s), p in d.items()}
    {'x_1': x_2 - tanh(x_1)**2 + 1, 'x_2': x_1}
    """
    terms = [[templates.split(t) for t in sp.Add.make_args(e)] for e in exprs]
    derivatives: dict[tuple[int, sp.Symbol], list[Piece]] = {}
    for i, pieces in enumerate(terms):
        for piece in pieces:
            for k, s in enumerate(piece[1]):
                d = templates.derivative(piece, k) if wrt is None or s in wrt else None
                if d is not None:
                    derivatives.setdefault((i, s), []).append(d)
    return terms, derivatives


def _sympy(e: object, who: str) -> sp.Expr:
    """A SymPy forward entry; a Python number becomes a SymPy number (text is refused, never parsed)."""
    try:
        return sp.sympify(e, strict=True)
    except sp.SympifyError:
        raise TypeError(f"{who}: sympy_forward must give SymPy expressions or numbers, got {type(e).__name__} {e!r:.40}") from None


# --- compiled expressions, evaluated template by template ----------------------------------------------
@dataclass(frozen=True)
class Scatter:
    """Sums the rows of a ``(K, B)`` array into ``n`` rows by an index: sorted once, one ``np.add.reduceat`` per call.

    >>> Scatter.of(np.array([1, 0, 1]), 3)(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    array([[3., 4.],
           [6., 8.],
           [0., 0.]])
    """

    order: Array | None  # the permutation that sorts the index (None: sorted already)
    starts: Array  # where each distinct index begins, sorted
    targets: Array | None  # the distinct indices (None: every row 0 … n − 1)
    n: int

    @classmethod
    def of(cls, index: Array, n: int) -> Scatter:
        order = np.argsort(index, kind="stable")
        targets, starts = np.unique(index[order], return_index=True)
        return cls(None if np.array_equal(order, np.arange(len(order))) else order, starts,
                   None if np.array_equal(targets, np.arange(n)) else targets, n)

    def __call__(self, values: Array) -> Array:
        if not len(self.starts):
            return np.zeros((self.n, values.shape[1]))
        sums = np.add.reduceat(values if self.order is None else values[self.order], self.starts, axis=0)
        if self.targets is None:
            return sums
        out = np.zeros((self.n, values.shape[1]))
        out[self.targets] = sums
        return out


@dataclass(frozen=True)
class _Group:
    """The instances of one template: ``fn(*args)``, ``args[k]`` the ``k``-th symbol of every instance."""

    fn: Callable
    sample: tuple[bool, ...]  # per argument: a per-sample symbol, or a static one
    index: tuple[Array, ...]  # per argument: each instance's symbol (a row of the sample values, or of θ)
    terms: Array  # where the instances' values go among the terms


@dataclass(frozen=True)
class Program:
    """``size`` expressions, each a sum of pieces, compiled template by template.

    Called with ``S`` ``(n_sample, B)`` (a row per sample symbol) and ``v`` ``(n_static,)``,
    it returns the values ``(size, B)``, or ``(size, 1)`` when no expression depends on
    the samples (``static``).
    """

    size: int
    groups: tuple[_Group, ...]
    n_terms: int
    slots: Scatter | None  # the terms of each expression added up; None: term k is expression k

    @classmethod
    def build(cls, exprs: Sequence[Sequence[Piece]], templates: Templates) -> Program:
        found: dict[tuple, list[tuple[int, tuple[sp.Symbol, ...]]]] = {}
        slot = []
        for i, pieces in enumerate(exprs):
            for template, symbols in pieces:
                kinds = tuple(templates.where[s][0] for s in symbols)
                found.setdefault((template, kinds), []).append((len(slot), symbols))
                slot.append(i)
        groups = []
        for (template, kinds), uses in found.items():
            index = tuple(np.array([templates.where[s[k]][1] for _, s in uses], dtype=np.intp) for k in range(len(kinds)))
            fn = lambdify_safe(_dummies(len(kinds)), [template], "numpy")
            groups.append(_Group(fn, kinds, index, np.array([t for t, _ in uses], dtype=np.intp)))
        one_each = slot == list(range(len(exprs)))
        return cls(len(exprs), tuple(groups), len(slot), None if one_each else Scatter.of(np.array(slot, dtype=np.intp), len(exprs)))

    @property
    def static(self) -> bool:
        return not any(any(g.sample) for g in self.groups)

    @property
    def footprint(self) -> int:
        """Values per sample a call holds at once: the terms, the gathered arguments, the results."""
        return self.n_terms + self.size + sum(len(g.terms) * len(g.index) for g in self.groups)

    def __call__(self, S: Array, v: Array) -> Array:
        B = 1 if self.static else S.shape[1]
        terms = np.empty((self.n_terms, B))
        for g in self.groups:
            args = [S[i] if s else v[i][:, None] for s, i in zip(g.sample, g.index)]
            if any(g.sample):  # one shape for every argument (Max and Piecewise stack them)
                args = [np.broadcast_to(a, (len(g.terms), B)) for a in args]
            terms[g.terms] = g.fn(*args)[0]
        return terms if self.slots is None else self.slots(terms)


@dataclass(frozen=True)
class SparseJacobian:
    """The nonzero entries of a Jacobian ``(m, n)`` at ``(rows, cols)`` (row-major order), compiled.

    ``values(S, θ)`` — ``(nnz, B)``, or ``(nnz, 1)`` for a Jacobian that does not
    depend on the sample (a Dense layer's ``J_x = W``); :meth:`pull` and
    :meth:`pull_sum` multiply a row ``g`` through it.
    """

    shape: tuple[int, int]
    rows: Array
    cols: Array
    values: Program
    by_column: Scatter

    @classmethod
    def build(cls, shape: tuple[int, int], entries: Sequence[tuple[int, int, list[Piece]]], templates: Templates) -> SparseJacobian:
        rows, cols = (np.array([e[k] for e in entries], dtype=np.intp) for k in (0, 1))
        return cls(shape, rows, cols, Program.build([e[2] for e in entries], templates), Scatter.of(cols, shape[1]))

    @property
    def nonzeros(self) -> int:
        return len(self.rows)

    def pull(self, g: Array, V: Array) -> Array:
        """``g · J`` per sample: ``(n, B)`` from ``g`` ``(m, B)`` and the values ``V``."""
        m, n = self.shape
        if self.nonzeros == m * n:  # every entry, row-major: J itself, (m, n) or (m, n, B)
            J = V.reshape(m, n, V.shape[1])
            return J[:, :, 0].T @ g if V.shape[1] == 1 else np.einsum("mb,mnb->nb", g, J)
        return self.by_column(g[self.rows] * V)

    def pull_sum(self, g: Array, V: Array) -> Array:
        """``Σ_b g_b · J_b`` — ``(n,)`` from ``g`` ``(m, B)`` and the values ``V``."""
        G = g[self.rows]
        per_entry = G.sum(axis=1) * V[:, 0] if V.shape[1] == 1 else np.einsum("kb,kb->k", G, V)
        return np.bincount(self.cols, weights=per_entry, minlength=self.shape[1])


# --- one layer, one loss ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerDerivation:
    """A layer architecture's SymPy forward and Jacobians, compiled: ``forward``, ``J_x``, ``J_theta``.

    At inputs ``X`` ``(n_in, B)`` (one row per input) and the layer's ``θ``:
    ``forward(X, θ)`` ``(n_out, B)``; ``J_x.values(X, θ)``, ``J_theta.values(X, θ)`` the
    nonzero entries. ``derive_seconds``: building and differentiating the expressions;
    ``compile_seconds``: lambdifying the templates.
    """

    name: str
    shape: tuple[int, int, int]  # (n_out, n_in, n_params)
    forward: Program
    J_x: SparseJacobian
    J_theta: SparseJacobian
    derive_seconds: float
    compile_seconds: float

    @property
    def footprint(self) -> int:
        return self.forward.footprint + self.J_x.values.footprint + self.J_theta.values.footprint


def derive_layer(layer: Layer, n_in: int) -> LayerDerivation:
    """SymPy's forward and nonzero ``(J_x, J_θ)`` entries of the layer at ``n_in`` inputs, compiled (not cached).

    The entries are SymPy's derivatives of ``layer.sympy_forward`` (:func:`differentiate`):
    the nonzero entries of :func:`~jacobnet.symbolic.derive.layer_jacobians`, at a cost
    that follows them rather than the whole matrix.
    """
    t0 = time.perf_counter()
    x, theta = vector_symbols("x", n_in), param_symbols(layer)
    templates = Templates(x, theta)
    outputs, derivatives = differentiate([_sympy(e, layer.name) for e in forward_expr(layer, x, theta)], templates)
    entries: tuple[list, list] = ([], [])  # J_x's, J_θ's: (row, column, pieces)
    for (i, s), pieces in derivatives.items():
        is_x, j = templates.where[s]
        entries[0 if is_x else 1].append((i, j, pieces))
    t1 = time.perf_counter()
    m = len(outputs)
    J_x, J_theta = (SparseJacobian.build((m, n), sorted(e, key=lambda e: e[:2]), templates)
                    for n, e in zip((n_in, layer.n_params), entries))
    forward = Program.build(outputs, templates)
    return LayerDerivation(layer.name, (m, n_in, layer.n_params), forward, J_x, J_theta, t1 - t0, time.perf_counter() - t1)


def compiled_layer(layer: Layer, n_in: int, max_size: float | None = None) -> LayerDerivation:
    """The cached :class:`LayerDerivation` of the layer's architecture at ``n_in`` inputs (derived on a miss).

    The size guard (:func:`~jacobnet.symbolic.guard.check_layer_derivation`) runs on
    every call, cached or not, so a ``max_size`` always means the same thing.
    """
    check_layer_derivation(layer, n_in, max_size)
    key = (type(layer), layer.key(), n_in)
    if key not in _LAYERS:
        _remember(_LAYERS, key, derive_layer(layer, n_in))
    return _LAYERS[key]


@dataclass(frozen=True)
class LossRow:
    """SymPy's ``∂L/∂ŷ`` of a loss at ``n`` inputs, compiled: ``(n, B)`` at ``ŷ`` and ``y`` ``(n, B)``."""

    program: Program
    seconds: float

    def __call__(self, yhat: Array, y: Array) -> Array:
        return np.broadcast_to(self.program(np.concatenate([yhat, y]), np.zeros(0)), yhat.shape)


def compiled_loss_row(loss: Loss, n: int) -> LossRow:
    """The cached :class:`LossRow` of the loss at ``n`` inputs (derived on a miss).

    SymPy's derivative of ``loss.sympy_loss`` by each input, term by term
    (:func:`differentiate`): the entries of :func:`~jacobnet.symbolic.derive.loss_jacobian`.
    """
    key = (type(loss), loss.key(), n)
    if key not in _LOSSES:
        t0 = time.perf_counter()
        yhat, y = vector_symbols(loss_input_name(loss), n), vector_symbols("y", n)
        templates = Templates(yhat + y)
        _, derivatives = differentiate([_sympy(loss.sympy_loss(yhat, y), loss.name)], templates, set(yhat))
        row = Program.build([derivatives.get((0, s), []) for s in yhat], templates)
        _remember(_LOSSES, key, LossRow(row, time.perf_counter() - t0))
    return _LOSSES[key]


_LAYERS: dict[tuple, LayerDerivation] = {}
_LOSSES: dict[tuple, LossRow] = {}


def _remember(cache: dict, key: tuple, value: object) -> None:
    """``cache[key] = value``, forgetting the oldest entry first when the cache holds :data:`CACHE_SIZE`."""
    if len(cache) >= CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def clear_layer_cache() -> None:
    """Forget every compiled layer and loss row."""
    _LAYERS.clear()
    _LOSSES.clear()


# --- the chain --------------------------------------------------------------------------------------------
def layerwise_gradient(net: Stack, x: Array, y: Array, max_size: float | None = None) -> Array:
    """``dL/dθ`` — ``(n_params,)`` — from each layer's SymPy Jacobians, multiplied as the chain (module docstring).

    ``x`` ``(n,)`` or a batch ``(B, n)``: the mean of the per-sample gradients. Raises
    :class:`~jacobnet.symbolic.guard.SymbolicSizeError` naming the first layer over the
    size limit (before anything is built), and ``ValueError`` where the textbook formulas overflow.
    """
    x = net.check_input(x)
    sizes = check_layerwise_size(net, x.shape[-1], max_size)  # every layer and the loss row, before building any
    _, y = net.loss_fn.checked_target(net.forward(x), y)  # (the numeric forward only checks y against ŷ)
    layers = [compiled_layer(layer, n, max_size=math.inf) for layer, n in zip(net.layers, sizes)]
    row = compiled_loss_row(net.loss_fn, sizes[-1])
    X, Y = np.atleast_2d(x), np.atleast_2d(y)
    theta = net.get_params()
    thetas = [theta[net.theta_index(i)] for i in range(len(layers))]
    chunk = max(1, CHUNK_VALUES // (sum(layer.footprint for layer in layers) + 1))
    total = np.zeros(net.n_params)
    with overflow_is_an_error():
        for start in range(0, X.shape[0], chunk):
            part = slice(start, start + chunk)
            for i, g_theta in chain_products(layers, row, thetas, X[part].T, Y[part].T):
                total[net.theta_index(i)] += g_theta
        if not np.all(np.isfinite(total)):
            raise OverflowError("a non-finite result")
    return total / X.shape[0]


def chain_products(layers: Sequence[LayerDerivation], row: LossRow, thetas: Sequence[Array], X: Array,
                   Y: Array) -> Iterator[tuple[int, Array]]:
    """``(l, Σ_b ∂L_b/∂θ_l)`` for each layer with parameters, last first, at inputs ``X`` and targets ``Y`` (a column per sample).

    The forward through every layer's compiled expressions, then ``g ← J_loss(a_L)``;
    ``Σ_b g · J_θ``; ``g ← g · J_x`` — per sample, vectorised over the samples.
    """
    acts, values = [X], []
    for layer, theta in zip(layers, thetas):
        a = acts[-1]
        values.append((layer.J_x.values(a, theta), layer.J_theta.values(a, theta)))
        acts.append(np.broadcast_to(layer.forward(a, theta), (layer.shape[0], a.shape[1])))
    g = row(acts[-1], Y)
    for i in range(len(layers) - 1, -1, -1):
        J_x, J_theta = values[i]
        if layers[i].J_theta.nonzeros:
            yield i, layers[i].J_theta.pull_sum(g, J_theta)
        if i:
            g = layers[i].J_x.pull(g, J_x)


@contextmanager
def overflow_is_an_error() -> Iterator[None]:
    """NumPy's overflow, division by zero and invalid results raised and reworded: a ``ValueError``, use method='jacobian'."""
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield
    except (OverflowError, ZeroDivisionError, FloatingPointError) as err:
        raise ValueError(
            f"the symbolic gradient could not be evaluated at these values ({err}); the symbolic formulas are "
            "not stabilised for large magnitudes: use method='jacobian'"
        ) from None
