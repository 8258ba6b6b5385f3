"""Finite differences: the reference every Jacobian is checked against.

Central differences with a relative step: for coordinate ``i``,
``h_i = ε^{1/3} · max(|x_i|, 1)`` (ε = float64 machine epsilon), which
balances truncation error ``O(h²)`` against round-off ``O(ε/h)``; the
step actually taken is the representable ``(x_i + h_i) − x_i``. The forward
(one-sided) scheme, truncation ``O(h)``, takes ``ε^{1/2}`` instead.

>>> import numpy as np
>>> f = lambda v: np.array([v[0] * v[1], np.sin(v[2]), v[0] ** 2])   # ℝ³ → ℝ³
>>> J = jacobian_fd(lambda v: f(v)[:2], np.array([1.0, 2.0, 0.0]))  # ℝ³ → ℝ²
>>> J.shape, np.allclose(J, [[2.0, 1.0, 0.0], [0.0, 0.0, 1.0]], rtol=1e-9)
((2, 3), True)

Complex step (:func:`jacobian_complex_step`), for functions that accept complex
input and are analytic there, has no subtraction and is exact to rounding.
:func:`jacobnet.check.check_jacobian` checks any claimed Jacobian against either
and names the wrong entries.

They sit in ``core`` because everything above needs them: ``Network.gradient``
(``method="finite-difference"``, :func:`fd_gradient`), the symbolic derivations
(:func:`rel_error`) and every check of :mod:`jacobnet.check`.

Differences are slow: one evaluation per column (two, central), each as dear as
the function. Both :func:`jacobian_fd` and :func:`fd_gradient` estimate their work
first — evaluations × operations of one (:func:`loss_cost` for a network's loss) —
and refuse at once over the cost limit (:mod:`jacobnet.core.cost`, a ``CostError``);
:func:`jacobian_fd` also refuses a Jacobian over the memory budget after its first column.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import numpy as np

from jacobnet.core.cost import check_cost, shorten
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8

if TYPE_CHECKING:
    from jacobnet.core.stack import Stack

Array = np.ndarray
EPS = float(np.finfo(np.float64).eps)
REL_STEP = EPS ** (1 / 3)  # ≈ 6.06e-6
STEPS = {"central": REL_STEP, "forward": EPS**0.5}
"""The default relative step of each finite-difference scheme: ``ε^{1/3}`` central, ``ε^{1/2}`` forward."""
COMPLEX_STEP = 1e-20
PROGRESS_FROM = 2000
""":func:`fd_gradient` shows a progress bar by default from this many parameters on."""
CALL_OPS = 40_000
"""The fixed cost of one loss evaluation (validating ``x`` and ``y``, the loss, the calls), in operations: ~40 µs."""
LAYER_OPS = 3_000
"""The fixed cost of one layer's forward pass (its Python call and checks), in operations: ~3 µs."""
FUNCTION_OPS = 2_000
"""The least one evaluation of a user's ``f`` costs in :func:`jacobian_fd` when nothing else is known (a Python call)."""
ACTIVATION_OPS = 10
"""Operations per activation entry of a forward pass (an elementwise function, a softmax, the copies between layers)."""
SET_OPS = (3, 40_000, 5_000)
"""One ``net.set_params`` — what each difference in ``θ`` adds: operations per parameter (check, copy,
assign), per call and per layer with parameters."""


def rel_error(actual: Array, expected: Array, scale: float | None = None) -> float:
    """Norm-wise relative error ``max|actual − expected| / max|expected|`` (0 when both are 0).

    Norm-wise rather than entry-wise, so that entries that are zero or tiny
    in the exact answer do not blow the error up; a transposed or shifted
    Jacobian still scores ≈ 1. With ``scale``, divides by it instead of
    ``max|expected|`` (e.g. one block's error against the whole gradient's size).

    >>> rel_error(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 4.0]]))
    0.25
    >>> rel_error(np.array([1.0, 2.5]), np.array([1.0, 2.0]), scale=10.0)
    0.05
    >>> rel_error(np.zeros((2, 3)), np.zeros((2, 3)))
    0.0
    """
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"rel_error: shapes differ, {actual.shape} vs {expected.shape}")
    if scale is not None and not scale >= 0:
        raise ValueError(f"rel_error: scale must be a non-negative number, got {scale!r}")
    diff = float(np.max(np.abs(actual - expected), initial=0.0))
    scale = float(np.max(np.abs(expected), initial=0.0)) if scale is None else float(scale)
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


def as_point(x: object, who: str) -> Array:
    """``x`` as a float64 vector ``(n,)`` — the point a Jacobian ``(m, n)`` is taken at — or a clear error."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: x must be a 1-D array of real numbers, shape (n,); got {type(x).__name__} {x!r:.60}") from None
    if arr.ndim != 1:
        raise ValueError(
            f"{who}: x must be a 1-D vector of shape (n,) (f: ℝⁿ → ℝᵐ), got shape {arr.shape}; "
            "flatten it (x.ravel()) and reshape inside f"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{who}: x has a non-finite value at index {int(np.argwhere(~np.isfinite(arr))[0][0])}")
    return arr


def _steps(x: Array, rel_step: float) -> Array:
    h = rel_step * np.maximum(np.abs(x), 1.0)
    return (x + h) - x  # exactly representable


def jacobian_fd(f: Callable[[Array], Array], x: Array, rel_step: float | None = None, scheme: str = "central",
                progress: bool = False, *, cost: float | None = None, max_work: float | None = None) -> Array:
    """Finite-difference Jacobian of ``f: ℝⁿ → ℝᵐ`` at ``x`` ``(n,)`` — shape ``(m, n)``; a scalar ``f`` gives ``(1, n)``.

    ``scheme="central"``: ``J[:, i] ≈ (f(x + h_i e_i) − f(x − h_i e_i)) / (2 h_i)``, error ``O(h²)``;
    ``scheme="forward"``: ``J[:, i] ≈ (f(x + h_i e_i) − f(x)) / h_i``, error ``O(h)``, half the calls.
    ``h_i = rel_step · max(|x_i|, 1)``, ``rel_step`` by default :data:`STEPS` of the scheme.
    ``progress`` shows a bar over the ``n`` columns.

    Guards: ``n`` (central ``2n``) evaluations of ``cost`` operations each (default
    :data:`FUNCTION_OPS`), plus the ``n``-vector each one builds, are checked against the
    cost limit before the first (``max_work``: this call's limit, see :mod:`jacobnet.core.cost`);
    after the first column, the ``(m, n)`` result against the memory budget.

    >>> f = lambda v: np.array([v[0] * v[1], v[1] ** 2])       # ℝ² → ℝ², at (3, 2): [[2, 3], [0, 4]]
    >>> J = jacobian_fd(f, np.array([3.0, 2.0]), scheme="forward")
    >>> J.shape, bool(np.allclose(J, [[2.0, 3.0], [0.0, 4.0]], rtol=1e-7))
    ((2, 2), True)
    """
    if scheme not in STEPS:
        raise ValueError(f"jacobian_fd: unknown scheme {scheme!r}; choose one of {', '.join(STEPS)}")
    rel_step = STEPS[scheme] if rel_step is None else rel_step
    if not 0 < rel_step < 1:
        raise ValueError(f"jacobian_fd: rel_step must be in (0, 1), got {rel_step!r}")
    x = as_point(x, "jacobian_fd")
    _check_evaluations(x, x.size * (1 if scheme == "forward" else 2), cost, max_work)
    h = _steps(x, rel_step)
    if scheme == "forward":
        fx = _output(f, x)
        return _by_columns(f, x, lambda i, e: (_output(f, x + h[i] * e) - fx) / h[i], progress)
    return _by_columns(f, x, lambda i, e: (_output(f, x + h[i] * e) - _output(f, x - h[i] * e)) / (2.0 * h[i]), progress)


def jacobian_complex_step(f: Callable[[Array], Array], x: Array, h: float = COMPLEX_STEP, *, cost: float | None = None,
                          max_work: float | None = None) -> Array:
    """Complex-step Jacobian of ``f: ℝⁿ → ℝᵐ`` at ``x`` — shape ``(m, n)``.

    ``J[:, i] = Im f(x + i·h·e_i) / h``: no subtraction, so no cancellation, and
    ``h = 1e-20`` leaves a truncation error ``O(h²)`` far below rounding. ``f`` must
    accept complex input and be analytic (no ``abs``, ``max``, comparisons, ``np.real``).
    ``n`` evaluations, guarded as in :func:`jacobian_fd` (``cost``, ``max_work``).

    >>> f = lambda v: np.array([v[0] * np.exp(v[1]), np.sin(v[0]) * v[2]])    # ℝ³ → ℝ²
    >>> J = jacobian_complex_step(f, np.array([1.0, 0.0, 2.0]))
    >>> J.shape, np.allclose(J, [[1.0, 1.0, 0.0], [2 * np.cos(1.0), 0.0, np.sin(1.0)]], rtol=1e-15)
    ((2, 3), True)
    """
    x = as_point(x, "jacobian_complex_step")
    _check_evaluations(x, x.size, cost, max_work)
    return _by_columns(f, x, lambda i, e: np.imag(_output(f, x + 1j * h * e)) / h)


def _check_evaluations(x: Array, evaluations: int, cost: float | None, max_work: float | None) -> None:
    """The cost guard of a Jacobian by columns: ``evaluations`` of ``f`` (``cost`` each, default :data:`FUNCTION_OPS`), an ``n``-vector each."""
    each = x.size + (FUNCTION_OPS if cost is None else cost)
    check_cost(evaluations * each, f"a Jacobian by differences at a point of shape {x.shape} ({evaluations} evaluations "
               f"of f, ~{each:.2g} operations each)", "differentiate fewer inputs at a time, or use an exact Jacobian", max_work)


def _output(f: Callable[[Array], Array], x: Array) -> Array:
    """``f(x)`` as a vector ``(m,)`` (a scalar becomes ``(1,)``), or a clear error for any other shape."""
    out = np.atleast_1d(f(x))
    if out.ndim != 1:
        raise ValueError(f"f must return a scalar or a 1-D array (m,) (f: ℝⁿ → ℝᵐ), got shape {out.shape}")
    return out


def _by_columns(f: Callable[[Array], Array], x: Array, column: Callable[[int, Array], Array],
                progress: bool = False) -> Array:
    """Stack ``column(i, e_i)`` for every unit vector ``e_i`` of ``x``'s space as the columns of a matrix."""
    if x.size == 0:  # no inputs: an (m, 0) Jacobian
        return np.zeros(_output(f, x).shape + (0,))
    bar = None
    if progress:
        from jacobnet.core.progress import progress_bar  # (tqdm is imported only when a bar is shown)

        bar = progress_bar(x.size, "finite differences", "column", True)
    cols = []
    e = np.zeros_like(x)
    try:
        for i in range(x.size):
            e[i] = 1.0
            cols.append(column(i, e))
            e[i] = 0.0
            if i == 0:  # the output size is known now: the columns and their stack, before the other n − 1
                m = cols[0].size
                check_budget(2 * F8 * m * x.size, f"a finite-difference Jacobian of shape ({m}, {x.size})",
                             "differentiate fewer inputs or outputs at a time")
            if bar is not None:
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return np.stack(cols, axis=-1)


def fd_gradient(net: Stack, x: Array, y: Array, rel_step: float = REL_STEP, progress: bool | None = None,
                max_work: float | None = None) -> Array:
    """``dL/dθ`` by central differences in every parameter — shape ``(n_params,)``.

    Two loss evaluations per parameter; the network's parameters are restored
    afterwards, whatever happens. ``progress``: show a progress bar (``None``:
    only for long work, from :data:`PROGRESS_FROM` parameters on). The work is
    checked first (:func:`check_fd_cost`; ``max_work``: this call's limit).

    >>> from jacobnet import build_network
    >>> net = build_network("3,2", "tanh", "softmax-ce", seed=0)          # 3 → 2: 8 parameters
    >>> x, y = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])
    >>> g = fd_gradient(net, x, y)
    >>> g.shape, bool(rel_error(g, net.gradient(x, y)) < 1e-8)
    ((8,), True)
    """
    x = net.check_input(x)
    check_fd_cost(net, x, max_work)
    theta = net.get_params()
    if progress is None:
        progress = theta.size >= PROGRESS_FROM
    elif not isinstance(progress, bool):
        raise ValueError(f"fd_gradient: progress must be True, False or None, got {progress!r}")

    def loss_at(t: Array) -> float:
        net.set_params(t)
        return net.loss(x, y)

    try:  # (its cost is checked above, loss by loss: jacobian_fd's own guard, which knows only the point, is off)
        return jacobian_fd(loss_at, theta, rel_step, progress=progress, max_work=math.inf)[0]
    finally:
        net.set_params(theta)


def loss_cost(net: Stack, x: Array) -> int:
    """Estimated operations of one ``net.loss(x, y)`` at a validated ``x`` ``(n,)`` or ``(B, n)``.

    Per sample, a multiply-add per parameter (exact for Dense layers, a lower bound where
    a parameter is used at several positions, as in a convolution) and :data:`ACTIVATION_OPS`
    per activation; per layer :data:`LAYER_OPS`; per call :data:`CALL_OPS`.

    >>> from jacobnet import build_network
    >>> loss_cost(build_network("3,4,2"), np.ones(3))        # 26 parameters, 4 + 4 + 2 activations, 3 layers
    49126
    """
    batch = 1 if x.ndim == 1 else x.shape[0]
    width, activations = x.shape[-1], 0
    for layer in net.layers:
        width = layer.out_size(width)
        activations += width
    return batch * (net.n_params + ACTIVATION_OPS * activations) + LAYER_OPS * len(net.all_positions) + CALL_OPS


def check_fd_cost(net: Stack, x: Array, max_work: float | None = None) -> float:
    """The work of :func:`fd_gradient` at a validated ``x`` — ``2 · n_params`` evaluations of
    :func:`loss_cost` plus ``set_params`` each — or a ``CostError`` over the limit (``max_work``: this call's).

    >>> from jacobnet import build_network
    >>> check_fd_cost(build_network("3,4,2"), np.ones(3))    # 52 evaluations of 49 126 + 78 + 40 000 + 2 · 5 000
    5158608
    """
    n = net.n_params
    per_param, per_call, per_layer = SET_OPS
    each = loss_cost(net, x) + per_param * n + per_call + per_layer * len(net.param_layers)
    what = f"finite differences of dL/dθ of {shorten(repr(net))} ({n} parameters: {2 * n} loss evaluations of ~{each:.2g} operations)"
    return check_cost(2 * n * each, what, "use method='jacobian' (the same gradient in one backward pass), a smaller network "
                      "or a smaller batch", max_work)

