"""Convolutions as explicit Jacobians: :class:`Conv1d`, :class:`Conv2d` and their two structured operators.

A convolution layer (a cross-correlation with zero padding, as ``torch.nn.functional.conv1d``/``conv2d``)

    y[o, t] = b[o] + Σ_{c, κ} W[o, c, κ] · x_pad[c, t·s + κ]

maps an input of shape ``(C_in, *S)`` (``S = (L,)`` or ``(H, W)``), flattened row-major, to an output
``(C_out, *S_out)``, ``S_out = ⌊(S + 2p − K)/s⌋ + 1`` per axis, flattened the same way; ``θ = [vec_r(W), b]``
with ``W`` of shape ``(C_out, C_in, *K)``. Its two Jacobians have a structure a dense matrix hides:

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

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from jacobnet.core.layer import Layer, Param
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Box, Operator, per_sample
from jacobnet.core.sizes import Entry, capped_power
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray
MAX_BAND_BOXES = 2000
"""Above this many band segments, :meth:`BlockToeplitz.outline` draws the blocks only."""


@dataclass(frozen=True)
class ConvGeometry:
    """The input side of a convolution: ``c_in`` channels of spatial ``size``; ``kernel``, ``stride``, ``padding`` per axis.

    >>> g = ConvGeometry(2, (5,), (3,), (2,), (1,))
    >>> g.out, g.positions, g.patch, g.n_in
    ((3,), 3, 6, 10)
    """

    c_in: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]

    @property
    def out(self) -> tuple[int, ...]:
        """``S_out = ⌊(S + 2p − K)/s⌋ + 1`` per axis."""
        return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(self.size, self.kernel, self.stride, self.padding))

    @property
    def positions(self) -> int:
        """``|S_out|``, the output positions of one channel."""
        return math.prod(self.out)

    @property
    def patch(self) -> int:
        """``C_in·|K|``, the entries of one patch (one row of ``P``)."""
        return self.c_in * math.prod(self.kernel)

    @property
    def n_in(self) -> int:
        """``C_in·|S|``, the input size."""
        return self.c_in * math.prod(self.size)

    @functools.cached_property
    def taps(self) -> tuple[Array, Array, Array]:
        """``(t, κ, i)``: every output position ``t``, kernel offset ``κ`` and input position ``i = t·s + κ − p``
        that lies inside the input (not in the padding), each flat (row-major); sorted by ``t``, then ``κ``."""
        nd = len(self.size)
        grid = np.meshgrid(*(np.arange(n) for n in self.out + self.kernel), indexing="ij")
        t, k = grid[:nd], grid[nd:]
        i = [tt * s + kk - p for tt, kk, s, p in zip(t, k, self.stride, self.padding)]
        inside = np.logical_and.reduce([(ii >= 0) & (ii < n) for ii, n in zip(i, self.size)])
        flat = lambda parts, shape: np.ravel_multi_index([a[inside] for a in parts], shape)  # noqa: E731
        return flat(t, self.out), flat(k, self.kernel), flat(i, self.size)

    def windows(self) -> list[list[tuple[int, int]]]:
        """For each output position ``t``, the ``(κ, i)`` of its window that lie inside the input."""
        out: list[list[tuple[int, int]]] = [[] for _ in range(self.positions)]
        for t, k, i in zip(*(a.tolist() for a in self.taps)):
            out[t].append((k, i))
        return out

    def most_held(self) -> int:
        """The most inputs one output holds: ``C_in`` times its window's taps inside the input."""
        return self.c_in * int(np.bincount(self.taps[0], minlength=self.positions).max())

    def most_reached(self) -> int:
        """The most output positions one input position reaches (per channel)."""
        return int(np.bincount(self.taps[2], minlength=math.prod(self.size)).max())

    def _slices(self) -> list[tuple[tuple[int, ...], tuple[slice, ...]]]:
        """For each kernel offset ``κ``, the strided slice of the padded input its taps read: ``κ + s·t`` for every ``t``."""
        return [
            (k, tuple(slice(kk, kk + s * (o - 1) + 1, s) for kk, s, o in zip(k, self.stride, self.out)))
            for k in itertools.product(*(range(n) for n in self.kernel))
        ]

    def columns(self, x: Array) -> Array:
        """im2col: ``x`` ``(N, n_in)`` → ``(C_in·|K|, N·|S_out|)``, column ``(n, t)`` = sample ``n``'s zero-padded window at ``t``.

        Built one kernel offset at a time (a strided slice of the padded input per offset), channels first.
        """
        N, every = x.shape[0], (slice(None), slice(None))
        xp = np.pad(x.reshape((N, self.c_in) + self.size), [(0, 0), (0, 0)] + [(p, p) for p in self.padding])
        cols = np.empty((self.c_in, *self.kernel, N) + self.out, dtype=x.dtype)
        for k, at in self._slices():
            cols[(slice(None),) + k] = xp[every + at].swapaxes(0, 1)
        return cols.reshape(self.patch, N * self.positions)

    def patches(self, x: Array) -> Array:
        """``P`` ``(N, |S_out|, C_in·|K|)``: row ``t`` of sample ``n`` = its window at ``t`` (a view of :meth:`columns`)."""
        return self.columns(x).reshape(self.patch, x.shape[0], self.positions).transpose(1, 2, 0)

    def correlate(self, x: Array, W: Array) -> Array:
        """``Σ_{c,κ} W[o, c, κ] x_pad[c, t·s + κ]`` for every row of ``x`` ``(N, n_in)`` → ``(N, C_out·|S_out|)``: one GEMM ``W cols``."""
        c_out, N = W.shape[0], x.shape[0]
        y = W.reshape(c_out, self.patch) @ self.columns(x)  # (C_out, N·|S_out|)
        return y.reshape(c_out, N, self.positions).swapaxes(0, 1).reshape(N, c_out * self.positions)

    def correlate_transpose(self, G: Array, W: Array) -> Array:
        """The adjoint of :meth:`correlate`: ``G`` ``(N, C_out·|S_out|)`` → ``(N, n_in)``, ``Σ_{o,t} W[o, c, κ] G[n, o, t]`` added
        at input position ``t·s + κ − p`` — per kernel offset ``κ`` one GEMM ``W_κᵀ G`` added into a strided slice."""
        c_out, N, every = W.shape[0], G.shape[0], (slice(None), slice(None))
        Gm = G.reshape(N, c_out, self.positions).transpose(1, 0, 2).reshape(c_out, N * self.positions)
        Wk = W.reshape(c_out, self.c_in, -1)
        padded = np.zeros((self.c_in, N) + tuple(n + 2 * p for n, p in zip(self.size, self.padding)), dtype=np.result_type(W, G))
        for j, (_, at) in enumerate(self._slices()):
            padded[every + at] += (Wk[:, :, j].T @ Gm).reshape((self.c_in, N) + self.out)
        inside = padded[every + tuple(slice(p, p + n) for p, n in zip(self.padding, self.size))]
        return inside.swapaxes(0, 1).reshape(N, self.n_in)


class BlockToeplitz(Operator):
    """``J_x`` of a convolution: block ``(o, c)`` is the Toeplitz matrix of ``W[o, c]`` — ``(C_out·|S_out|, C_in·|S|)``.

    Entry ``(o·|S_out| + t, c·|S| + i)`` is ``W[o, c, κ]`` for ``i = t·s + κ − p`` (flat positions; in 2-D
    the blocks are themselves block-Toeplitz), else 0. Shared by every sample (``batch`` marks a batch).
    ``G @ J`` is the transposed convolution of ``G`` — for each of the ``|K|`` kernel offsets one GEMM
    ``W_κᵀ G`` added into a strided slice; ``J @ H`` the convolution of ``H``'s columns (im2col and one
    GEMM). ``W``: ``(C_out, C_in, *K)``.

    >>> J = BlockToeplitz(np.array([[[1.0, 2.0]]]), size=(3,), stride=(2,), padding=(1,))  # K = 2, L = 3 → 2
    >>> J.dense()
    array([[2., 0., 0.],
           [0., 1., 2.]])
    >>> J.vjp(np.array([[10.0, 1.0]]))                       # a transposed convolution
    array([[20.,  1.,  2.]])
    """

    def __init__(self, W: Array, size: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...], batch: int | None = None):
        self.W, self.batch = W, batch
        self.geometry = g = ConvGeometry(W.shape[1], tuple(size), tuple(W.shape[2:]), tuple(stride), tuple(padding))
        self.shape = (W.shape[0] * g.positions, g.n_in)
        self.kind = "block-Toeplitz" if len(size) == 1 else "doubly block-Toeplitz"

    def _fill(self, out: Array) -> None:
        (c_out, c_in), g = self.W.shape[:2], self.geometry
        t, k, i = g.taps
        rows = np.arange(c_out)[:, None, None] * g.positions + t  # (C_out, 1, R)
        cols = np.arange(c_in)[None, :, None] * (g.n_in // c_in) + i  # (1, C_in, R)
        out.fill(0.0)
        out[..., rows, cols] = self.W.reshape(c_out, c_in, -1)[:, :, k]

    def batch_slice(self, start: int, stop: int) -> BlockToeplitz:
        g = self.geometry
        return BlockToeplitz(self.W, g.size, g.stride, g.padding, batch=len(range(start, stop)))

    def outline(self) -> list[Box]:
        """The ``C_out × C_in`` blocks (the top row labelled by its kernel), and in each the band: every row's
        run of kernel taps (dashed), up to :data:`MAX_BAND_BOXES` of them."""
        (c_out, c_in), g = self.W.shape[:2], self.geometry
        T, n = g.positions, g.n_in // c_in
        blocks = [Box(o * T, c * n, T, n, "box", "" if o else rf"T(W_{{1,{c + 1}}})") for o in range(c_out) for c in range(c_in)]
        band = self._band()
        if c_out * c_in * len(band) > MAX_BAND_BOXES:
            return blocks
        return blocks + [b.shifted(o * T, c * n) for o in range(c_out) for c in range(c_in) for b in band]

    def _band(self) -> list[Box]:
        """One block's nonzeros as runs: for each output position and input row, the contiguous taps along the last axis."""
        t, _, i = self.geometry.taps
        last = self.geometry.size[-1]
        key = t * (math.prod(self.geometry.size) // last) + i // last
        if not key.size:  # every window in the padding: J_x = 0
            return []
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        ends = np.r_[starts[1:], key.size] - 1
        return [Box(int(t[a]), int(i[a]), 1, int(i[b] - i[a]) + 1, "dashed") for a, b in zip(starts, ends)]

    def _transposed(self, G: Array) -> Array:
        """``G @ J`` for ``G`` ``(..., k, m)``, once (not per sample): the transposed convolution of every row of ``G``."""
        return self.geometry.correlate_transpose(G.reshape(-1, self.shape[0]), self.W).reshape(G.shape[:-1] + (self.shape[1],))

    def vjp(self, G: Array) -> Array:
        return per_sample(self._transposed(G), self.batch)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b @ J = (Σ_b G_b) @ J``: every sample shares ``J``, so one transposed convolution."""
        r = self._transposed(G.sum(axis=0)) if G.ndim == 3 else self._transposed(G) * (self.batch or 1)
        if out is None:
            return r
        out[...] = r
        return out

    def vjp_mean(self, G: Array) -> Array:
        """``(1/B) Σ_b G_b @ J = (mean_b G_b) @ J``."""
        return self._transposed(G.mean(axis=0) if G.ndim == 3 else G)

    def jvp(self, H: Array) -> Array:
        lead, p = H.shape[:-2], H.shape[-1]
        Y = self.geometry.correlate(np.swapaxes(H, -1, -2).reshape(-1, self.shape[1]), self.W)  # a column = a direction
        return per_sample(np.swapaxes(Y.reshape(lead + (p, self.shape[0])), -1, -2), self.batch)

    @property
    def nbytes(self) -> int:
        return self.W.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.W.shape[0] * self.geometry.positions * self.geometry.patch

    def jvp_flops(self, p: int) -> int:
        return self.vjp_flops(p)


class PatchRows(Operator):
    """``J_θ`` of a convolution, ``[I_{C_out} ⊗ P | I_{C_out} ⊗ 𝟙_{|S_out|}]`` — ``(C_out·T, C_out·q + C_out)``.

    ``P`` ``(T, q)`` or ``(B, T, q)``: the input patches as rows (im2col, ``T = |S_out|``, ``q = C_in·|K|``).
    Row ``o·T + t`` holds patch ``t`` in the columns of ``W[o]`` and a 1 in the column of ``b[o]``.
    ``G @ J = [G_o P | Σ_t G_{o,t}]`` per output channel (one GEMM per sample); the batch sum is one GEMM
    ``Gᵀ P`` over the whole batch — the weight gradient.

    >>> J = PatchRows(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), c_out=1)   # 3 patches of 2
    >>> J.dense()
    array([[1., 2., 1.],
           [3., 4., 1.],
           [5., 6., 1.]])
    >>> J.vjp(np.array([[1.0, 0.0, -1.0]]))
    array([[-4., -4.,  0.]])
    """

    kind = "[I ⊗ P | I ⊗ 𝟙]"

    def __init__(self, P: Array, c_out: int):
        self.P, self.c_out = P, c_out
        self.positions, self.q = P.shape[-2:]
        self.shape = (c_out * self.positions, c_out * self.q + c_out)
        self.batch = P.shape[0] if P.ndim == 3 else None

    def _fill(self, out: Array) -> None:
        c, T, q = self.c_out, self.positions, self.q
        o = np.arange(c)[:, None, None]
        out.fill(0.0)
        out[..., o * T + np.arange(T)[:, None], o * q + np.arange(q)] = self.P[..., None, :, :]
        rows = np.arange(c * T)
        out[..., rows, c * q + rows // T] = 1.0

    def batch_slice(self, start: int, stop: int) -> PatchRows:
        return PatchRows(self.P[start:stop], self.c_out)

    def outline(self) -> list[Box]:
        """``P`` in each output channel's ``W`` columns (``I ⊗ P``), then the biases' columns of ones."""
        c, T, q = self.c_out, self.positions, self.q
        return [
            Box(0, 0, c * T, c * q, "none", rf"I_{{{c}}} \otimes P"),
            *(Box(o * T, o * q, T, q) for o in range(c)),
            Box(0, c * q, c * T, c, "none", rf"I_{{{c}}} \otimes 1"),
            *(Box(o * T, c * q + o, T, 1, "dashed") for o in range(c)),
            Box(0, c * q, c * T, c, "rule"),
        ]

    def vjp(self, G: Array) -> Array:
        c, T, q = self.c_out, self.positions, self.q
        k = G.shape[-2]
        Wpart = G.reshape(G.shape[:-2] + (k * c, T)) @ self.P  # (..., k·C_out, q): per sample one GEMM
        lead = Wpart.shape[:-2]
        out = np.empty(lead + (k, c * q + c))
        out[..., : c * q] = Wpart.reshape(lead + (k, c * q))
        out[..., c * q :] = G.reshape(G.shape[:-1] + (c, T)).sum(axis=-1)
        return out

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b @ J_b``: the ``W`` block is one GEMM ``Gᵀ P`` over all ``B·T`` patches, the ``b`` block a sum."""
        if G.ndim != 3 or self.P.ndim != 3:
            return super().vjp_sum(G, out)
        (B, k, _), c, T, q = G.shape, self.c_out, self.positions, self.q
        out = np.empty((k, c * q + c)) if out is None else out
        Gt = G.reshape(B, k * c, T).transpose(1, 0, 2).reshape(k * c, B * T)
        out[:, : c * q] = (Gt @ self.P.reshape(B * T, q)).reshape(k, c * q)
        out[:, c * q :] = G.reshape(B, k, c, T).sum(axis=(0, 3))
        return out

    def vjp_mean(self, G: Array) -> Array:
        """``(1/B) Σ_b G_b @ J_b``: :meth:`vjp_sum` over ``B``."""
        if G.ndim != 3 or self.P.ndim != 3:
            return super().vjp_mean(G)
        out = self.vjp_sum(G)
        out *= 1.0 / G.shape[0]
        return out

    def jvp(self, H: Array) -> Array:
        c, T, q = self.c_out, self.positions, self.q
        HW = H[..., : c * q, :].reshape(H.shape[:-2] + (c, q, H.shape[-1]))
        out = self.P[..., None, :, :] @ HW + H[..., c * q :, None, :]  # (..., C_out, T, p)
        return out.reshape(out.shape[:-3] + (c * T, H.shape[-1]))

    @property
    def nbytes(self) -> int:
        return self.P.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.c_out * self.positions * (self.q + 1)

    def jvp_flops(self, p: int) -> int:
        return self.c_out * self.positions * (self.q + 1) * p


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
