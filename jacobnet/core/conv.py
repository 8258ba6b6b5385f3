"""Convolutions as explicit Jacobians: :class:`Conv1d`, :class:`Conv2d` and their two structured operators.

A convolution layer (a cross-correlation with zero padding, as ``torch.nn.functional.conv1d``/``conv2d``)

    y[o, t] = b[o] + Σ_{c, κ} W[o, c, κ] · x_pad[c, t·s + κ]

maps an input of shape ``(C_in, *S)`` (``S = (L,)`` or ``(H, W)``), flattened row-major, to an output
``(C_out, *S_out)``, ``S_out = ⌊(S + 2p − K)/s⌋ + 1`` per axis, flattened the same way; ``θ = [vec_r(W), b]``
with ``W`` of shape ``(C_out, C_in, *K)``. Its two Jacobians (:mod:`jacobnet.core.toeplitz`) have a structure a dense matrix hides:

* ``J_x`` — :class:`BlockToeplitz`, ``(C_out·|S_out|, C_in·|S|)``: a ``C_out × C_in`` grid of blocks, block
  ``(o, c)`` the Toeplitz matrix of the kernel ``W[o, c]`` (2-D: doubly block-Toeplitz), entry ``(t, i)`` =
  ``W[o, c, i + p − t·s]`` where that is a kernel offset, else 0. It depends on ``W`` only: every sample
  of a batch shares it. ``G @ J_x`` is the transposed convolution of ``G`` (per kernel offset one GEMM
  ``W_κᵀ G``, added into a strided slice); ``J_x @ H`` the convolution of ``H``'s columns (im2col, one GEMM).
* ``J_θ`` — :class:`PatchRows`, ``(C_out·|S_out|, C_out·C_in·|K| + C_out)``:
  ``[I_{C_out} ⊗ P | I_{C_out} ⊗ 𝟙]``, ``P`` ``(|S_out|, C_in·|K|)`` the input patches as rows (im2col).
  The batch sum ``Σ_b G_b @ J_θ,b`` is the weight gradient, one GEMM ``Gᵀ P`` over the whole batch.

Both cost what a framework's backward costs: ``C_out·C_in·|K|·|S_out|`` multiply-adds per row of ``G``,
against ``C_out·|S_out|·C_in·|S|`` for the dense ``J_x``.

>>> import numpy as np
>>> conv = Conv1d(2, 1, 2, 3, seed=0)                     # 2 channels of length 3 → 1 channel of length 2
>>> conv.W = [[[1.0, 2.0], [3.0, 4.0]]]
>>> conv.jacobian_input(np.zeros(6))                      # [T(W_{1,1}) | T(W_{1,2})], (2, 6)
array([[1., 2., 0., 3., 4., 0.],
       [0., 1., 2., 0., 3., 4.]])
>>> conv.jacobian_params(np.arange(6.0))                  # [P | 𝟙]: rows = patches (x_1 x_2 | x_4 x_5), then b
array([[0., 1., 3., 4., 1.],
       [1., 2., 4., 5., 1.]])
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import numpy as np

from jacobnet.core.layer import Layer, Param
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Operator
from jacobnet.core.sizes import Entry, capped_power
from jacobnet.core.toeplitz import BlockToeplitz, ConvGeometry, PatchRows
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray
def _count(value: object, what: str, least: int) -> int:
    """``value`` as an ``int`` ≥ ``least`` (1: :func:`positive_int`; 0: a non-negative integer), else a ``ValueError``."""
    if least == 1:
        return positive_int(value, what)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def _pair(value: object, what: str, least: int) -> tuple[int, int]:
    """An int or a pair of ints, each ≥ ``least``, as a pair."""
    if isinstance(value, (tuple, list)):
        if len(value) == 2:
            try:
                return _count(value[0], what, least), _count(value[1], what, least)
            except ValueError:
                pass
        kind = "positive" if least == 1 else "non-negative"
        raise ValueError(f"{what} must be a {kind} integer or a pair of them, got {value!r}")
    n = _count(value, what, least)
    return n, n


class _Convolution(Layer):
    """What :class:`Conv1d` and :class:`Conv2d` share: the math on any number of spatial axes."""

    W = Param(lambda self: (self.out_channels, self.in_channels, *self._geometry.kernel))
    """The kernels, ``(C_out, C_in, *K)``."""
    b = Param(lambda self: (self.out_channels,))
    """The biases, ``(C_out,)``."""

    def _build(self, geometry: ConvGeometry, seed: int | None) -> None:
        """Set the sizes and draw ``W ~ N(0, 1/(C_in·|K|))`` (``b = 0``), as :class:`~jacobnet.core.layers.Dense` does."""
        kind = type(self).__name__
        self._geometry = geometry
        self.n_in, self.n_out = geometry.n_in, self.out_channels * geometry.positions
        shape = (self.out_channels, self.in_channels, *geometry.kernel)
        check_budget(F8 * (math.prod(shape) + self.out_channels), f"the weights of {self!r}", "use smaller layers")
        rng = np.random.default_rng(seed_value(seed, f"{kind}: seed"))
        self.W = rng.normal(0.0, 1.0 / np.sqrt(geometry.patch), size=shape)
        self.b = np.zeros(self.out_channels)

    @property
    def geometry(self) -> ConvGeometry:
        """The sizes: channels in, input, kernel, stride and padding per spatial axis (and what follows: ``out``, ``taps``)."""
        return self._geometry

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(C_in, *S)``: a sample ``x`` is this array flattened row-major."""
        return (self.in_channels, *self._geometry.size)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """``(C_out, *S_out)``: the output is this array flattened row-major."""
        return (self.out_channels, *self._geometry.out)

    def out_size(self, n_in: int) -> int:
        return self.n_out

    def apply(self, x: Array) -> Array:
        y = self._geometry.correlate(x.reshape(-1, self.n_in), self.W).reshape(-1, self.out_channels, self._geometry.positions)
        return (y + self.b[:, None]).reshape(x.shape[:-1] + (self.n_out,))

    def jacobian_input_op(self, x: Array) -> Operator:
        g = self._geometry
        return BlockToeplitz(self.W, g.size, g.stride, g.padding, batch=x.shape[0] if x.ndim == 2 else None)

    def jacobian_params_op(self, x: Array) -> Operator:
        P = self._geometry.patches(x.reshape(-1, self.n_in))
        return PatchRows(P if x.ndim == 2 else P[0], self.out_channels)

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``(g · R{J_x}, Σ_b g · R{J_θ})`` along ``(dx, dθ = [dW, db])`` — ``(…, p, n_in)``, ``(p, n_params)``.

        ``y`` is bilinear in ``(x, W)``: ``J_x = T(W)`` depends on ``W`` only and linearly, so
        ``R{J_x} = T(dW)`` and ``g · R{J_x}`` is the transposed convolution of ``g`` by the kernels ``dW``;
        ``J_θ = [I ⊗ P(x) | I ⊗ 𝟙]`` depends on ``x`` only and linearly, so ``R{J_θ} = [I ⊗ P(dx) | 0]`` and
        ``g · R{J_θ}`` is the weight gradient of ``g`` at the input ``dx`` (``Σ_t g_{o,t} P(dx)_t``), and 0 for ``b``.
        The ``p`` directions go through at once (:meth:`~jacobnet.core.toeplitz.ConvGeometry.correlate_transpose_directions`,
        :meth:`~jacobnet.core.toeplitz.ConvGeometry.weight_gradient`): the cost of one backward per direction.

        >>> conv = Conv1d(1, 2, 2, 3, seed=0)                    # (1, 3) → (2, 2): 4 + 2 parameters
        >>> g, dx, dtheta = np.array([1.0, 0.0, 0.0, 2.0]), np.array([[1.0, 0.0, -1.0]]), np.ones((1, 6))
        >>> gx, gt = conv.vjp_tangent(np.zeros(3), g, dx, dtheta)
        >>> gx, gt                                               # g·T(dW); [Σ_t g_{o,t} dx_{t:t+2} | 0]
        (array([[1., 3., 2.]]), array([[ 1.,  0.,  0., -2.,  0.,  0.]]))
        """
        geo, p, N = self._geometry, dtheta.shape[0], int(np.prod(x.shape[:-1]))
        G = g.reshape(N, self.n_out)
        dW = dtheta[:, : self.W.size].reshape((p,) + self.W.shape)
        gx = geo.correlate_transpose_directions(G, dW).reshape(dx.shape)
        gW = geo.weight_gradient(G, dx.reshape(N, p, self.n_in)).reshape(p, self.W.size)
        return gx, np.concatenate([gW, np.zeros((p, self.out_channels))], axis=1)

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``a_{o,t} = b_o + Σ_{c,κ} W_{o,c,κ} x_{c, t·s+κ−p}`` over the taps inside the input: ``C_out·|S_out|`` expressions."""
        import sympy as sp

        g, c_out, c_in = self._geometry, self.out_channels, self.in_channels
        taps, S, nW = math.prod(g.kernel), math.prod(g.size), self.W.size
        return [
            sp.Add(*(theta[(o * c_in + c) * taps + k] * x[c * S + i] for c in range(c_in) for k, i in window), theta[nW + o])
            for o in range(c_out)
            for window in g.windows()
        ]

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x``: ``W_{o,c,κ}`` at row ``(o, t)``, column ``(c, t·s + κ − p)`` (the Toeplitz blocks) — ``(n_out, n_in)``;
        ``J_θ = [I_{C_out} ⊗ P | I_{C_out} ⊗ 𝟙]``, ``P[t, (c, κ)] = x_{c, t·s+κ−p}`` (0 in the padding) — ``(n_out, n_params)``."""
        import sympy as sp

        g, c_out, c_in = self._geometry, self.out_channels, self.in_channels
        taps, S, T = math.prod(g.kernel), math.prod(g.size), g.positions
        J_x, P = sp.zeros(self.n_out, self.n_in), sp.zeros(T, g.patch)
        for t, window in enumerate(g.windows()):
            for (k, i), c in itertools.product(window, range(c_in)):
                P[t, c * taps + k] = x[c * S + i]
                for o in range(c_out):
                    J_x[o * T + t, c * S + i] = theta[(o * c_in + c) * taps + k]
        eye = sp.eye(c_out)
        return J_x, sp.Matrix.hstack(sp.kronecker_product(eye, P), sp.kronecker_product(eye, sp.ones(T, 1)))

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """``b_o + Σ W x`` over the ``F`` inputs an output holds (at most): ``s ← F (s + 2) + 2``, ``k ← k^F``."""
        F = self._geometry.most_held()
        return Entry(F * (u.s + 2) + 2, F * (u.q + 2) + 2, capped_power(u.k, F))

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """``Σ W du`` over the held inputs that carry the parameter: up to ``C_out·reach·m`` outputs, ``h (d + 2) + 1`` nodes."""
        held = min(math.ceil(m), self._geometry.most_held())
        return min(self.n_out, math.ceil(m) * self.out_channels * self._geometry.most_reached()), held * (d + 2) + (held > 1)

    def symbolic_params(self, u: Entry) -> list[tuple[float, int]]:
        """``∂a/∂W_{o,c,κ} = u`` (``s`` nodes, ``W.size`` of them), ``∂a/∂b_o = 1`` (``C_out``)."""
        return [(u.s, self.W.size), (1.0, self.out_channels)]


class Conv1d(_Convolution):
    """``y[o, t] = b[o] + Σ_{c,k} W[o, c, k] · x_pad[c, t·stride + k]`` (as ``F.conv1d``): ``(C_in, L)`` → ``(C_out, L_out)``.

    Input and output flattened row-major; ``L_out = ⌊(L + 2·padding − K)/stride⌋ + 1``; ``W`` ``(C_out, C_in, K)``,
    ``b`` ``(C_out,)``, ``θ = [vec_r(W), b]``. Weights start as ``N(0, 1/(C_in·K))``, biases at 0.
    ``J_x`` (:class:`BlockToeplitz`) — ``(C_out·L_out, C_in·L)``: a band per channel pair;
    ``J_θ`` (:class:`PatchRows`) — ``(C_out·L_out, C_out·C_in·K + C_out)``: rows = input patches.

    >>> conv = Conv1d(1, 1, 2, 3, padding=1)                # K = 2, L = 3, padding 1 → L_out = 4
    >>> conv.W, conv.b = [[[1.0, 2.0]]], [0.5]
    >>> conv.forward(np.array([1.0, 2.0, 3.0]))             # x_pad = (0, 1, 2, 3, 0)
    array([2.5, 5.5, 8.5, 3.5])
    >>> conv.jacobian_input(np.zeros(3))
    array([[2., 0., 0.],
           [1., 2., 0.],
           [0., 1., 2.],
           [0., 0., 1.]])
    >>> Conv1d(1, 1, 7, 3, padding=1)
    Traceback (most recent call last):
    ...
    ValueError: Conv1d: kernel_size 7 is larger than the padded input length 5 (length 3 + 2·padding 1)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, length: int, *, stride: int = 1, padding: int = 0,
                 seed: int | None = None):
        self.in_channels = _count(in_channels, "Conv1d: in_channels", 1)
        self.out_channels = _count(out_channels, "Conv1d: out_channels", 1)
        self.kernel_size = _count(kernel_size, "Conv1d: kernel_size", 1)
        self.length = _count(length, "Conv1d: length", 1)
        self.stride = _count(stride, "Conv1d: stride", 1)
        self.padding = _count(padding, "Conv1d: padding", 0)
        K, L, p = self.kernel_size, self.length, self.padding
        if K > L + 2 * p:
            raise ValueError(f"Conv1d: kernel_size {K} is larger than the padded input length {L + 2 * p} (length {L} + 2·padding {p})")
        self._build(ConvGeometry(self.in_channels, (L,), (K,), (self.stride,), (p,)), seed)

    @property
    def name(self) -> str:
        return f"Conv1d({self.in_channels}→{self.out_channels}, K={self.kernel_size})"

    def __repr__(self) -> str:
        return (f"Conv1d({self.in_channels}, {self.out_channels}, {self.kernel_size}, {self.length}, "
                f"stride={self.stride}, padding={self.padding})")


class Conv2d(_Convolution):
    """``y[o, i, j] = b[o] + Σ_{c,u,v} W[o, c, u, v] · x_pad[c, i·s_h + u, j·s_w + v]`` (as ``F.conv2d``).

    ``(C_in, H, W)`` → ``(C_out, H_out, W_out)``, both flattened row-major; ``kernel_size``, ``stride`` and
    ``padding`` are each an int or a pair (height, width); ``H_out = ⌊(H + 2p_h − K_h)/s_h⌋ + 1``, likewise
    ``W_out``. ``W`` ``(C_out, C_in, K_h, K_w)``, ``b`` ``(C_out,)``, weights ``N(0, 1/(C_in·K_h·K_w))``.
    ``J_x`` (:class:`BlockToeplitz`) — ``(C_out·H_out·W_out, C_in·H·W)``, doubly block-Toeplitz;
    ``J_θ`` (:class:`PatchRows`) — ``(C_out·H_out·W_out, C_out·C_in·K_h·K_w + C_out)``.

    >>> conv = Conv2d(1, 2, (2, 1), 3, 2, seed=0)           # (1, 3, 2) → (2, 2, 2)
    >>> conv.output_shape, conv.jacobian_input(np.zeros(6)).shape, conv.jacobian_params(np.zeros(6)).shape
    ((2, 2, 2), (8, 6), (8, 6))
    >>> Conv2d(1, 1, (2, 4), 3, 3)
    Traceback (most recent call last):
    ...
    ValueError: Conv2d: kernel_size (2, 4) has width 4, larger than the padded input width 3 (width 3 + 2·padding 0)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int], height: int, width: int, *,
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0, seed: int | None = None):
        self.in_channels = _count(in_channels, "Conv2d: in_channels", 1)
        self.out_channels = _count(out_channels, "Conv2d: out_channels", 1)
        self.kernel_size = _pair(kernel_size, "Conv2d: kernel_size", 1)
        self.height = _count(height, "Conv2d: height", 1)
        self.width = _count(width, "Conv2d: width", 1)
        self.stride = _pair(stride, "Conv2d: stride", 1)
        self.padding = _pair(padding, "Conv2d: padding", 0)
        for axis, n, k, p in zip(("height", "width"), (self.height, self.width), self.kernel_size, self.padding):
            if k > n + 2 * p:
                raise ValueError(f"Conv2d: kernel_size {self.kernel_size} has {axis} {k}, larger than the padded input {axis} "
                                 f"{n + 2 * p} ({axis} {n} + 2·padding {p})")
        self._build(ConvGeometry(self.in_channels, (self.height, self.width), self.kernel_size, self.stride, self.padding), seed)

    @property
    def name(self) -> str:
        return f"Conv2d({self.in_channels}→{self.out_channels}, K={self.kernel_size[0]}×{self.kernel_size[1]})"

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, {self.kernel_size}, {self.height}, {self.width}, "
                f"stride={self.stride}, padding={self.padding})")
