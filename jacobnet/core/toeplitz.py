"""The Jacobians of a convolution, as operators: :class:`BlockToeplitz` (``J_x``) and :class:`PatchRows` (``J_θ``).

For ``y[o, t] = b[o] + Σ_{c, κ} W[o, c, κ] · x_pad[c, t·s + κ]`` (:mod:`jacobnet.core.conv`):

* ``J_x`` — :class:`BlockToeplitz`, ``(C_out·|S_out|, C_in·|S|)``: a ``C_out × C_in`` grid of blocks, block
  ``(o, c)`` the Toeplitz matrix of the kernel ``W[o, c]`` (2-D: doubly block-Toeplitz). ``G @ J_x`` is the
  transposed convolution of ``G``; ``J_x @ H`` the convolution of ``H``'s columns (im2col, one GEMM).
* ``J_θ`` — :class:`PatchRows`, ``[I_{C_out} ⊗ P | I_{C_out} ⊗ 𝟙]`` with ``P`` the input patches as rows
  (im2col); the batch sum ``Σ_b G_b @ J_θ,b`` is the weight gradient, one GEMM ``Gᵀ P``.

:class:`ConvGeometry` holds the shapes both need (taps, im2col).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from jacobnet.core.numerics import F8
from jacobnet.core.operator import Box, Operator, per_sample

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

    def correlate_transpose_directions(self, G: Array, Ws: Array) -> Array:
        """:meth:`correlate_transpose` by ``p`` kernels at once: ``G`` ``(N, C_out·|S_out|)``, ``Ws`` ``(p, C_out, C_in, *K)`` → ``(N, p, n_in)``.

        Entry ``[n, k]`` is ``G_n @ J_x(Ws[k])``, the transposed convolution of ``G_n`` by the kernels ``Ws[k]``.
        The ``p`` kernels are stacked as ``p·C_in`` input channels (direction-major), so it is one transposed
        convolution: per kernel offset one GEMM ``(p·C_in × C_out)·(C_out × N·|S_out|)``.

        >>> g = ConvGeometry(1, (3,), (2,), (1,), (0,))
        >>> Ws = np.array([[[[1.0, 2.0]]], [[[0.0, -1.0]]]])        # two kernels of (1, 1, 2)
        >>> g.correlate_transpose_directions(np.array([[1.0, 10.0]]), Ws)
        array([[[  1.,  12.,  20.],
                [  0.,  -1., -10.]]])
        """
        p, c_out = Ws.shape[:2]
        stacked = np.moveaxis(Ws, 0, 1).reshape((c_out, p * self.c_in) + Ws.shape[3:])
        out = replace(self, c_in=p * self.c_in).correlate_transpose(G, stacked)
        return out.reshape(G.shape[0], p, self.n_in)

    def weight_gradient(self, G: Array, x: Array) -> Array:
        """``Σ_n G_n ⊗ P(x_n)`` for ``p`` inputs per row: ``G`` ``(N, C_out·|S_out|)``, ``x`` ``(N, p, n_in)`` → ``(p, C_out, C_in·|K|)``.

        Entry ``[k, o, (c, κ)] = Σ_{n,t} G[n, o, t] · x_pad[n, k, c, t·s + κ]``: the weight gradient of the
        rows ``G`` at the inputs ``x[:, k]`` (im2col of all ``N·p`` inputs, then one contraction over ``(n, t)``).

        >>> g = ConvGeometry(1, (3,), (2,), (1,), (0,))
        >>> g.weight_gradient(np.array([[1.0, 10.0]]), np.array([[[1.0, 2.0, 3.0]]]))   # 1·(1, 2) + 10·(2, 3)
        array([[[21., 32.]]])
        """
        N, p = x.shape[:2]
        cols = self.columns(x.reshape(N * p, self.n_in)).reshape(self.patch, N, p, self.positions)
        Gm = G.reshape(N, -1, self.positions)  # (N, C_out, |S_out|)
        return np.tensordot(Gm, cols, axes=([0, 2], [1, 3])).transpose(2, 0, 1)  # (C_out, q, p) → (p, C_out, q)


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
