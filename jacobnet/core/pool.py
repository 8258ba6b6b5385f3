"""Pooling layers — max and average, 1-D and 2-D — whose Jacobians pick or average entries.

Input ``(C, L)`` or ``(C, H, W)`` flattened row-major (as ``tensor.reshape(-1)``),
output ``(C, L/K)`` or ``(C, H/K_H, W/K_W)`` flattened; stride = kernel size, no
padding (``torch.nn.functional.max_pool1d(x, K)`` and friends). Each output ``i``
reduces a window of ``w`` inputs (``w = K`` or ``K_H·K_W``), listed in row-major
window order by ``windows`` ``(n_out, w)``; the windows tile the input, so every input
sits in exactly one.

* Max pooling: ``a_i = max_{j ∈ window_i} x_j``; ``J_x`` is a
  :class:`~jacobnet.core.selection.Selection`, one 1 per row at the window's
  arg-max. At a tie the derivative is a one-sided choice, as ReLU's at 0: the FIRST
  maximal entry in row-major window order (``np.argmax``, and PyTorch's CPU kernels).
* Average pooling: ``a_i = (1/w) Σ_{j ∈ window_i} x_j``; ``J_x`` is an
  :class:`~jacobnet.core.selection.Averaging` matrix, ``1/w`` on each window.

Both are parameter-free (``J_θ`` is ``(n_out, 0)``).

>>> import numpy as np
>>> pool = MaxPool1d(2, channels=1, length=6)
>>> x = np.array([1.0, 3.0, 5.0, 2.0, 4.0, 4.0])
>>> pool.forward(x)
array([3., 5., 4.])
>>> pool.jacobian_input(x)                         # (3, 6); the tie 4 = 4 takes the first
array([[0., 1., 0., 0., 0., 0.],
       [0., 0., 1., 0., 0., 0.],
       [0., 0., 0., 0., 1., 0.]])
"""

from __future__ import annotations

import math
from math import prod
from typing import Any, Sequence

import numpy as np

from jacobnet.core.layer import Layer
from jacobnet.core.operator import Operator
from jacobnet.core.selection import Averaging, Selection
from jacobnet.core.sizes import Entry, Measured, measure, measured_derivative, measured_entry
from jacobnet.core.validate import positive_int

Array = np.ndarray


def pool_windows(shape: tuple[int, ...], kernel: tuple[int, ...]) -> Array:
    """The flat input indices of every window, ``(n_out, w)``: outputs row-major, each window row-major.

    ``shape`` = ``(C, *spatial)``, ``kernel`` one size per spatial axis, each dividing it.

    >>> pool_windows((1, 2, 4), (2, 2))                # a 2×4 image, 2×2 windows: 2 outputs of 4 inputs
    array([[0, 1, 4, 5],
           [2, 3, 6, 7]])
    """
    split = [shape[0]] + [s for S, K in zip(shape[1:], kernel) for s in (S // K, K)]
    d = len(kernel)
    order = [0, *range(1, 2 * d, 2), *range(2, 2 * d + 1, 2)]  # (C, O_1, …, O_d, K_1, …, K_d)
    return np.arange(prod(shape)).reshape(split).transpose(order).reshape(-1, prod(kernel))


def _first_max_conditions(xs: Sequence[Any]) -> list[Any]:
    """SymPy conditions, in arm order, of "``xs[t]`` is the first maximal entry" (the arms before it failed).

    Arm ``t`` holds when ``xs[t] ≥ xs[s]`` for every later ``s``; an earlier arm failing
    means an earlier entry is smaller than some other, so ``xs[t]`` is the first maximum.
    """
    import sympy as sp

    return [sp.And(*(xs[t] >= xs[s] for s in range(t + 1, len(xs)))) for t in range(len(xs))]


class _Pool(Layer):
    """What every pooling layer shares: the sizes, the windows, the size estimate, the name."""

    def _setup(self, kernel: tuple[int, ...], channels: int, spatial: dict[str, int]) -> None:
        kind = type(self).__name__
        self.channels = positive_int(channels, f"{kind}: channels")
        sizes = {name: positive_int(size, f"{kind}: {name}") for name, size in spatial.items()}
        for (name, size), k in zip(sizes.items(), kernel):
            if size % k:
                which = "kernel_size" if len(kernel) == 1 else f"kernel_size {kernel}: its {name}"
                raise ValueError(f"{kind}: {which} {k} does not divide {name} {size}")
        for name, size in sizes.items():
            setattr(self, name, size)
        self.n_in = self.channels * prod(sizes.values())
        self._kernel = kernel
        self._windows = pool_windows((self.channels, *sizes.values()), kernel)
        self._windows.flags.writeable = False

    @property
    def n_out(self) -> int:
        return self._windows.shape[0]

    @property
    def window(self) -> int:
        """``w``, the inputs per window."""
        return self._windows.shape[1]

    def out_size(self, n_in: int) -> int:
        return self.n_out

    @property
    def name(self) -> str:
        return f"{type(self).__name__}({'×'.join(map(str, self._kernel))})"

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's arguments: ``kernel_size``, ``channels`` and the spatial sizes."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in ("n_in",)}

    def _gather(self, x: Array) -> Array:
        """Each window's inputs, ``(..., n_out, w)``."""
        return x[..., self._windows]

    # --- symbolic: one window, whatever the size -----------------------------------
    def _window_expr(self, xs: Sequence[Any]) -> Any:
        raise NotImplementedError

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """One expression per output, of its window's inputs (:meth:`_window_expr`)."""
        return [self._window_expr([x[j] for j in row]) for row in self._windows.tolist()]

    def _measured_window(self) -> Measured | None:
        """One output's expression, measured at its ``w`` inputs (every output has the same shape)."""
        return measure(lambda x, theta: [self._window_expr(x)], 0, (type(self), self.key(), "window"), self.window)

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """One window's expression with ``u`` in place of each of its ``w`` inputs (measured once)."""
        return measured_entry(self._measured_window(), self.window, u)

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """Each input reaches one output: ``min(n_out, m)`` outputs, each ``Σ_j ∂a_i/∂x_j dx_j`` over ≤ ``w`` inputs."""
        m_win = min(m, self.window)
        return min(self.n_out, math.ceil(m)), measured_derivative(self._measured_window(), self.window, 1, u, m_win, d)[1]


def _kernel_1d(kind: str, kernel_size: object) -> int:
    return positive_int(kernel_size, f"{kind}: kernel_size")


def _kernel_2d(kind: str, kernel_size: object) -> tuple[int, int]:
    if isinstance(kernel_size, (tuple, list)) and len(kernel_size) == 2:
        return (positive_int(kernel_size[0], f"{kind}: kernel_size[0]"), positive_int(kernel_size[1], f"{kind}: kernel_size[1]"))
    if isinstance(kernel_size, (int, np.integer)) and not isinstance(kernel_size, (bool, np.bool_)):
        k = positive_int(kernel_size, f"{kind}: kernel_size")
        return (k, k)
    raise TypeError(f"{kind}: kernel_size must be a positive integer or a pair (height, width) of them, got {kernel_size!r}")


class _MaxPool(_Pool):
    """``a_i = max_{j ∈ window_i} x_j``; ``J_x`` = the selection of each window's first arg-max."""

    def apply(self, x: Array) -> Array:
        return self._gather(x).max(axis=-1)

    def argmax(self, x: Array) -> Array:
        """The flat input index of each window's FIRST maximal entry: ``(n_out,)`` or ``(B, n_out)``."""
        g = self._gather(x)  # (…, n_out, w)
        # np.argmax's choice, found 3–4× faster than argmax along a short last axis: the largest of w − t over the maxima
        first = self.window - ((g == g.max(axis=-1, keepdims=True)) * np.arange(self.window, 0, -1)).max(axis=-1)
        return self._windows.ravel()[first + np.arange(self.n_out) * self.window]

    def jacobian_input_op(self, x: Array) -> Operator:
        """``J_x[i, argmax_i] = 1`` — a :class:`Selection`, ``(n_out, n_in)``; per sample for a batch."""
        return Selection(self.argmax(x), self.n_in, distinct=True)  # disjoint windows: distinct indices

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``R{J_x} = 0``: ``(0, ·)`` — ``(…, p, n_in)`` and ``(p, 0)`` (no parameters).

        ``J_x`` is the 0/1 selection of each window's arg-max, a piecewise-constant function
        of ``x``: it does not change under a small enough ``dx`` wherever the arg-max is
        unique, so its derivative there is 0 (max pooling is piecewise linear, like ReLU).
        At a tie the selection jumps and has no derivative; the convention is the one
        ``J_x`` already takes — the FIRST maximal entry, a one-sided choice held fixed —
        and its ``R{J_x}`` is 0 too (as ReLU's ``f''(0) = 0``).

        >>> pool = MaxPool1d(2, channels=1, length=4)
        >>> gx, gt = pool.vjp_tangent(np.array([1.0, 3.0, 2.0, 2.0]), np.ones(2), np.ones((3, 4)), np.zeros((3, 0)))
        >>> gx.shape, gt.shape, bool((gx == 0).all())
        ((3, 4), (3, 0), True)
        """
        return np.zeros(dx.shape), np.zeros((dtheta.shape[0], 0))

    def _window_expr(self, xs: Sequence[Any]) -> Any:
        """``max(xs)`` as a ``Piecewise``: arm ``t`` is ``xs[t]`` where it is the first maximal entry.

        The same function as ``sp.Max``, written (like ReLU's ``Piecewise`` with
        ``x ≤ 0`` on the left arm) so that SymPy's derivative takes the numeric
        code's one-sided value at a tie: SymPy's own ``Max`` differentiates to
        ``Heaviside(x_1 − Max(…))``, ½ at a tie.
        """
        import sympy as sp

        return sp.Piecewise(*zip(xs, _first_max_conditions(xs)))

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x[i, j] = 1`` if ``x_j`` is the first maximal entry of window ``i``, else 0 — ``(n_out, n_in)``.

        For symbolic ``x`` each entry is a ``Piecewise`` over the window's arms
        (1 on the arm that picks ``x_j``, 0 on the others); at a numeric ``x`` the
        comparisons decide and the matrix is the 0/1 selection.

        >>> import sympy as sp
        >>> x = sp.symbols("x1:5", real=True)
        >>> J_x, J_theta = MaxPool1d(2, channels=1, length=4).closed_form([3, 7, 5, 5], [])
        >>> J_x, J_theta.shape                     # the tie 5 = 5: the first
        (Matrix([
        [0, 1, 0, 0],
        [0, 0, 1, 0]]), (2, 0))
        >>> MaxPool1d(2, channels=1, length=2).closed_form(x[:2], [])[0]
        Matrix([[Piecewise((1, x1 >= x2), (0, True)), Piecewise((0, x1 >= x2), (1, True))]])
        """
        import sympy as sp

        x = [sp.sympify(v) for v in x]
        J = sp.zeros(self.n_out, self.n_in)
        for i, row in enumerate(self._windows.tolist()):
            arms = _first_max_conditions([x[j] for j in row])
            for t, j in enumerate(row):
                J[i, j] = sp.Piecewise(*((1 if s == t else 0, cond) for s, cond in enumerate(arms)))
        return J, sp.zeros(self.n_out, 0)


class _AvgPool(_Pool):
    """``a_i = (1/w) Σ_{j ∈ window_i} x_j``; ``J_x`` = the averaging matrix, ``1/w`` on each window."""

    def apply(self, x: Array) -> Array:
        return self._gather(x).mean(axis=-1)

    def jacobian_input_op(self, x: Array) -> Operator:
        """``J_x[i, j] = 1/w`` for ``j`` in window ``i`` — an :class:`Averaging`, ``(n_out, n_in)``, shared by a batch."""
        return Averaging(self._windows, self.n_in, batch=x.shape[0] if x.ndim == 2 else None, disjoint=True)  # windows tile x

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``R{J_x} = 0``: ``(0, ·)`` — ``(…, p, n_in)`` and ``(p, 0)``. Average pooling is linear: ``J_x`` is constant.

        >>> pool = AvgPool1d(2, channels=1, length=4)
        >>> gx, gt = pool.vjp_tangent(np.arange(4.0), np.ones(2), np.ones((3, 4)), np.zeros((3, 0)))
        >>> gx.shape, gt.shape, bool((gx == 0).all())
        ((3, 4), (3, 0), True)
        """
        return np.zeros(dx.shape), np.zeros((dtheta.shape[0], 0))

    def _window_expr(self, xs: Sequence[Any]) -> Any:
        import sympy as sp

        return sp.Add(*xs) * sp.Rational(1, len(xs))

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x[i, j] = 1/w`` for ``j`` in window ``i``, else 0 — ``(n_out, n_in)``.

        >>> AvgPool1d(2, channels=1, length=4).closed_form([0, 0, 0, 0], [])[0]
        Matrix([
        [1/2, 1/2,   0,   0],
        [  0,   0, 1/2, 1/2]])
        """
        import sympy as sp

        J = sp.zeros(self.n_out, self.n_in)
        for i, row in enumerate(self._windows.tolist()):
            for j in row:
                J[i, j] = sp.Rational(1, self.window)
        return J, sp.zeros(self.n_out, 0)


class MaxPool1d(_MaxPool):
    """Max pooling over ``(C, L)``: ``a[c, o] = max_{t<K} x[c, oK + t]`` → ``(C, L/K)``; ``J_x`` ``(C·L/K, C·L)``.

    ``J_x`` is a :class:`Selection` with one 1 per row, at the window's FIRST maximal
    entry (the one-sided choice at a tie, as ``np.argmax``). ``K`` must divide ``L``.

    >>> import numpy as np
    >>> pool = MaxPool1d(3, channels=2, length=3)
    >>> pool.forward(np.array([1.0, 4.0, 2.0, 0.0, -1.0, 0.0]))     # channel 2 ties at 0: the first
    array([4., 0.])
    >>> pool.jacobian_input_op(np.array([1.0, 4.0, 2.0, 0.0, -1.0, 0.0])).index
    array([1, 3])
    >>> MaxPool1d(3, channels=1, length=10)
    Traceback (most recent call last):
    ...
    ValueError: MaxPool1d: kernel_size 3 does not divide length 10
    """

    def __init__(self, kernel_size: int, channels: int, length: int):
        self.kernel_size = _kernel_1d("MaxPool1d", kernel_size)
        self._setup((self.kernel_size,), channels, {"length": length})


class AvgPool1d(_AvgPool):
    """Average pooling over ``(C, L)``: ``a[c, o] = (1/K) Σ_{t<K} x[c, oK + t]`` → ``(C, L/K)``; ``J_x`` ``(C·L/K, C·L)``.

    >>> import numpy as np
    >>> AvgPool1d(2, channels=1, length=4).jacobian_input(np.zeros(4))
    array([[0.5, 0.5, 0. , 0. ],
           [0. , 0. , 0.5, 0.5]])
    """

    def __init__(self, kernel_size: int, channels: int, length: int):
        self.kernel_size = _kernel_1d("AvgPool1d", kernel_size)
        self._setup((self.kernel_size,), channels, {"length": length})


class MaxPool2d(_MaxPool):
    """Max pooling over ``(C, H, W)`` with ``K_H × K_W`` windows → ``(C, H/K_H, W/K_W)``; ``J_x`` ``(n_out, C·H·W)``.

    ``a[c, p, q] = max_{s<K_H, t<K_W} x[c, pK_H + s, qK_W + t]``; ``kernel_size`` an int
    or a pair ``(K_H, K_W)``. ``J_x`` is a :class:`Selection`, one 1 per row at the
    window's FIRST maximal entry in row-major window order (``s``, then ``t``).

    >>> import numpy as np
    >>> pool = MaxPool2d((1, 2), channels=1, height=2, width=4)     # 2×4 → 2×2
    >>> x = np.array([1.0, 2.0, 9.0, 3.0, 6.0, 6.0, 0.0, 5.0])
    >>> pool.forward(x), pool.jacobian_input_op(x).index
    (array([2., 9., 6., 5.]), array([1, 2, 4, 7]))
    """

    def __init__(self, kernel_size: int | tuple[int, int], channels: int, height: int, width: int):
        self.kernel_size = _kernel_2d("MaxPool2d", kernel_size)
        self._setup(self.kernel_size, channels, {"height": height, "width": width})


class AvgPool2d(_AvgPool):
    """Average pooling over ``(C, H, W)`` with ``K_H × K_W`` windows → ``(C, H/K_H, W/K_W)``; ``J_x`` ``(n_out, C·H·W)``.

    ``a[c, p, q] = (1/(K_H K_W)) Σ_{s,t} x[c, pK_H + s, qK_W + t]``.

    >>> import numpy as np
    >>> AvgPool2d(2, channels=1, height=2, width=4).forward(np.arange(8.0))
    array([2.5, 4.5])
    """

    def __init__(self, kernel_size: int | tuple[int, int], channels: int, height: int, width: int):
        self.kernel_size = _kernel_2d("AvgPool2d", kernel_size)
        self._setup(self.kernel_size, channels, {"height": height, "width": width})
