"""Jacobians of layers that move entries: :class:`Selection` (pick one input per output) and :class:`Averaging`.

A layer that only picks entries — max pooling (the arg-max of each window), a crop,
a gather — has a Jacobian of zeros and ones with at most one 1 per row:
``J[i, index[i]] = 1``. Multiplying by it is moving numbers, never multiplying them:
``G @ J`` scatters (adds) each column ``i`` of ``G`` into column ``index[i]``, and
``J @ H`` gathers the rows ``H[index]``. Average pooling's Jacobian averages a window
of inputs per output: ``J[i, j] = 1/w`` for ``j`` in window ``i``.

>>> import numpy as np
>>> S = Selection(np.array([2, 0, -1]), n=4)      # 3 outputs from 4 inputs; row 3 picks nothing
>>> S.dense()
array([[0., 0., 1., 0.],
       [1., 0., 0., 0.],
       [0., 0., 0., 0.]])
>>> S.vjp(np.array([[10.0, 20.0, 30.0]]))       # (1, 3) @ (3, 4): column i of G lands in column index[i]
array([[20.,  0., 10.,  0.]])
>>> S.jvp(np.arange(8.0).reshape(4, 2))          # (3, 4) @ (4, 2): the rows H[index], zeros for -1
array([[4., 5.],
       [0., 1.],
       [0., 0.]])
"""

from __future__ import annotations

import numpy as np

from jacobnet.core.operator import Box, Operator, per_sample
from jacobnet.core.validate import positive_int

Array = np.ndarray
OUTLINE_MAX = 64
"""Up to this many boxes an outline marks every selected cell (every window's run); above, bands of rows."""


def _index_array(index: object, n: int, who: str, shapes: dict[int, str], low: int) -> Array:
    """``index`` as an ``np.intp`` array of a dimension in ``shapes`` with entries in ``[low, n)``, or a clear error."""
    arr, what = np.asarray(index), "index" if who == "Selection" else "windows"
    if arr.dtype.kind not in "iu" or arr.ndim not in shapes:
        raise TypeError(f"{who}: {what} must be an integer array of shape {' or '.join(shapes.values())}, "
                        f"got {arr.dtype} of shape {arr.shape}")
    if arr.size and (arr.min() < low or arr.max() >= n):
        bad = arr[(arr < low) | (arr >= n)].flat[0]
        raise ValueError(f"{who}: {what} must hold column indices in [{low}, {n - 1}] for n={n}, got {bad}")
    return arr.astype(np.intp, copy=False)


def _batch_of(index: Array, batch: int | None) -> int | None:
    """The batch of a per-sample ``(B, m)`` index (``batch``, if given, must agree), or ``batch`` of a shared one."""
    if index.ndim == 2:
        if batch is not None and batch != index.shape[0]:
            raise ValueError(f"Selection: batch={batch} but the per-sample index has {index.shape[0]} samples")
        return index.shape[0]
    return None if batch is None else positive_int(batch, "Selection: batch")


def _scatter_add(index: Array, values: Array, n: int, valid: Array | None) -> Array:
    """``out[..., index[..., i]] += values[..., i]`` into ``(..., n)`` (``index`` broadcast to ``values``), one bincount.

    ``valid`` masks the entries to keep (``index ≥ 0``); ``None`` keeps all.
    """
    lead, m = values.shape[:-1], values.shape[-1]
    rows = int(np.prod(lead))
    flat = np.broadcast_to(index, values.shape).reshape(rows, m) + (np.arange(rows) * n)[:, None]
    vals = values.reshape(rows, m)
    if valid is not None:
        keep = np.broadcast_to(valid, values.shape).reshape(rows, m)
        flat, vals = flat[keep], vals[keep]
    out = np.bincount(flat.ravel(), weights=vals.ravel(), minlength=rows * n)  # (no entries kept: NumPy gives ints)
    return out.astype(np.float64, copy=False).reshape(lead + (n,))


def _bands(lo: Array, hi: Array, limit: int) -> list[Box]:
    """At most ``limit`` boxes over equal bands of rows, each spanning the columns ``lo … hi`` its rows touch.

    ``lo``/``hi``: per row the smallest and largest column it touches (``-1`` for none).
    """
    m = lo.shape[0]
    height = -(-m // limit)
    boxes = []
    for start in range(0, m, height):
        used = lo[start : start + height] >= 0
        if used.any():
            a, b = lo[start : start + height][used].min(), hi[start : start + height][used].max()
            boxes.append(Box(start, int(a), min(height, m - start), int(b - a + 1)))
    return boxes


class Selection(Operator):
    """The Jacobian of a layer that picks entries: ``J[i, index[i]] = 1``, a row of zeros where ``index[i] = −1``.

    Per-sample shape ``(m, n)``. ``index``: integers in ``[−1, n)``, of shape ``(m,)``
    (shared by every sample; ``batch=B`` marks it as the Jacobian of each of ``B``
    samples, like ``Matrix(A, batch=B)``) or ``(B, m)`` (per sample, e.g. the arg-max
    of each window of max pooling). ``distinct``: whether no index is ``−1`` and no
    row repeats an index (``None``: found out on the first ``vjp``); then ``G @ J`` is
    a plain assignment, else a scatter-add (one ``bincount``).

    Costs (per sample, in moves — a selection multiplies nothing): ``G @ J`` ``k·m``,
    ``J @ H`` ``m·p``; it stores the ``m`` indices.

    >>> S = Selection(np.array([[1, 1], [0, -1]]), n=3)     # 2 samples, 2 outputs each, from 3 inputs
    >>> S.shape, S.batch, S.kind
    ((2, 3), 2, 'selection')
    >>> S.dense()[0]                                         # sample 1 picks input 2 twice
    array([[0., 1., 0.],
           [0., 1., 0.]])
    >>> S.vjp(np.array([[1.0, 2.0]]))                        # a shared (1, 2) row: repeated indices add
    array([[[0., 3., 0.]],
    <BLANKLINE>
           [[1., 0., 0.]]])
    """

    kind = "selection"

    def __init__(self, index: object, n: int, *, batch: int | None = None, distinct: bool | None = None):
        n = positive_int(n, "Selection: n")
        self.index = _index_array(index, n, "Selection", {1: "(m,)", 2: "(B, m)"}, -1)
        self.batch = _batch_of(self.index, batch)
        self.shape = (self.index.shape[-1], n)
        self.valid = None if self.index.size == 0 or self.index.min() >= 0 else self.index >= 0
        self._distinct = distinct

    @property
    def distinct(self) -> bool:
        """No index is ``−1`` and no sample's row repeats one: ``G @ J`` is then an assignment."""
        if self._distinct is None:
            s = np.sort(self.index, axis=-1)
            self._distinct = self.valid is None and bool(np.all(s[..., 1:] != s[..., :-1]))
        return self._distinct

    def _safe(self) -> Array:
        """The index with every ``−1`` replaced by 0 (a harmless column to gather from; zeroed afterwards)."""
        return self.index if self.valid is None else np.where(self.valid, self.index, 0)

    def _fill(self, out: Array) -> None:
        out.fill(0.0)
        rows = np.arange(self.shape[0])
        if self.index.ndim == 1:
            keep = rows if self.valid is None else rows[self.valid]
            out[..., keep, self.index[keep]] = 1.0
        else:
            b, i = np.nonzero(self.index >= 0)
            out[b, i, self.index[b, i]] = 1.0

    def batch_slice(self, start: int, stop: int) -> Selection:
        if self.index.ndim == 2:
            return Selection(self.index[start:stop], self.shape[1], distinct=self._distinct)
        return Selection(self.index, self.shape[1], batch=len(range(start, stop)), distinct=self._distinct)

    def vjp(self, G: Array) -> Array:
        """``G @ J``: column ``i`` of ``G`` added into column ``index[i]`` — ``(..., k, m)`` → ``(..., k, n)``."""
        n = self.shape[1]
        if self.index.ndim == 1:
            if self.distinct:
                out = np.zeros(G.shape[:-1] + (n,))
                out[..., self.index] = G
            else:
                out = _scatter_add(self.index, G, n, self.valid)
            return per_sample(out, self.batch)
        idx = self.index[:, None, :]  # (B, 1, m): one index row for the k rows of each sample's G
        G = np.broadcast_to(G, np.broadcast_shapes(G.shape[:-2], idx.shape[:-2]) + G.shape[-2:])
        if not self.distinct:
            return _scatter_add(idx, G, n, None if self.valid is None else self.valid[:, None, :])
        out = np.zeros(G.shape[:-1] + (n,))
        np.put_along_axis(out, np.broadcast_to(idx, G.shape), G, axis=-1)
        return out

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b @ J_b``: a shared index sums ``G`` over the batch first; a per-sample one is one bincount into ``(k, n)``."""
        if G.ndim != 3 or self.batch is None:
            return super().vjp_sum(G, out)
        k, n = G.shape[1], self.shape[1]
        if self.index.ndim == 1:
            r = Selection(self.index, n, distinct=self._distinct).vjp(G.sum(axis=0))
        else:  # row r of every sample lands in row r of the sum: column index + r·n of one (k·n) bincount
            flat = np.broadcast_to(self.index[:, None, :] + (np.arange(k) * n)[None, :, None], G.shape)
            if self.valid is None:
                flat, vals = flat.ravel(), G.ravel()
            else:
                keep = np.broadcast_to(self.valid[:, None, :], G.shape)
                flat, vals = flat[keep], G[keep]
            r = np.bincount(flat, weights=vals, minlength=k * n).astype(np.float64, copy=False).reshape(k, n)
        if out is None:
            return r
        out[...] = r
        return out

    def jvp(self, H: Array) -> Array:
        """``J @ H``: the rows ``H[index]``, zero where ``index = −1`` — ``(..., n, p)`` → ``(..., m, p)``."""
        safe = self._safe()
        if self.index.ndim == 1:
            out = H[..., safe, :]
        else:
            idx = safe[:, :, None]  # (B, m, 1)
            H = np.broadcast_to(H, np.broadcast_shapes(H.shape[:-2], idx.shape[:-2]) + H.shape[-2:])
            out = np.take_along_axis(H, idx, axis=-2)
        if self.valid is not None:
            out *= self.valid[..., :, None]
        return per_sample(out, self.batch)

    @property
    def nbytes(self) -> int:
        return self.index.nbytes

    def vjp_flops(self, k: int) -> int:
        """``k·m`` moves (adds): no multiplications."""
        return k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        """``m·p`` moves: no multiplications."""
        return self.shape[0] * p

    def outline(self) -> list[Box]:
        """One box per selected cell; above :data:`OUTLINE_MAX` cells, bands of rows and the columns they pick.

        A per-sample index is outlined for its first sample (draw ``batch_slice(s, s + 1)`` for sample ``s``).
        """
        index = self.index if self.index.ndim == 1 else self.index[0]
        rows = np.flatnonzero(index >= 0)
        if rows.size <= OUTLINE_MAX:
            return [Box(int(i), int(index[i]), 1, 1) for i in rows]
        return _bands(index, index, OUTLINE_MAX)


class Averaging(Operator):
    """Each output averages a window of inputs: ``J[i, j] = 1/w`` for ``j`` in window ``i`` (average pooling).

    Per-sample shape ``(m, n)``, shared by every sample (``batch=B`` marks it as the
    Jacobian of each of ``B`` samples). ``windows``: an integer array ``(m, w)`` of
    column indices in ``[0, n)``, ``w`` per window (an index repeated in a window
    counts twice); ``disjoint``: whether no index is in two windows (``None``: found
    out). ``G @ J`` scatters ``G/w`` into each window's columns,
    ``J @ H`` is the mean of each window's rows of ``H``: ``k·m·w`` and ``m·w·p``
    moves (adds), plus the scaling by ``1/w``; it stores the ``m·w`` indices.

    >>> A = Averaging(np.array([[0, 1], [3, 4]]), n=5)     # two windows of 2 out of 5 inputs
    >>> A.dense()
    array([[0.5, 0.5, 0. , 0. , 0. ],
           [0. , 0. , 0. , 0.5, 0.5]])
    >>> A.vjp(np.array([[2.0, 6.0]]))
    array([[1., 1., 0., 3., 3.]])
    """

    kind = "averaging"

    def __init__(self, windows: object, n: int, *, batch: int | None = None, disjoint: bool | None = None):
        n = positive_int(n, "Averaging: n")
        self.windows = _index_array(windows, n, "Averaging", {2: "(m, w)"}, 0)
        if self.windows.shape[1] == 0:
            raise ValueError(f"Averaging: windows must hold at least one index each, got shape {self.windows.shape}")
        self.batch = None if batch is None else positive_int(batch, "Averaging: batch")
        self.shape = (self.windows.shape[0], n)
        self.w = self.windows.shape[1]
        self.disjoint = np.unique(self.windows).size == self.windows.size if disjoint is None else disjoint
        """Every input is in one window at most: ``G @ J`` is then an assignment."""

    def _matrix(self) -> Array:
        one = np.zeros(self.shape)
        np.add.at(one, (np.arange(self.shape[0])[:, None], self.windows), 1.0 / self.w)
        return one

    def _fill(self, out: Array) -> None:
        out[...] = self._matrix()

    def batch_slice(self, start: int, stop: int) -> Averaging:
        return Averaging(self.windows, self.shape[1], batch=len(range(start, stop)), disjoint=self.disjoint)

    def vjp(self, G: Array) -> Array:
        """``G @ J``: ``G[..., i] / w`` into each column of window ``i`` — ``(..., k, m)`` → ``(..., k, n)``."""
        scaled = G * (1.0 / self.w)
        if self.disjoint:
            out = np.zeros(G.shape[:-1] + (self.shape[1],))
            out[..., self.windows] = scaled[..., None]  # (…, k, m, w) ← (…, k, m, 1)
        else:
            out = _scatter_add(self.windows.ravel(), np.repeat(scaled, self.w, axis=-1), self.shape[1], None)
        return per_sample(out, self.batch)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b G_b @ J = (Σ_b G_b) @ J``: the batch summed first, one scatter."""
        if G.ndim != 3:
            return super().vjp_sum(G, out)
        r = Averaging(self.windows, self.shape[1], disjoint=self.disjoint).vjp(G.sum(axis=0))
        if out is None:
            return r
        out[...] = r
        return out

    def jvp(self, H: Array) -> Array:
        """``J @ H``: the mean of the rows of each window — ``(..., n, p)`` → ``(..., m, p)`` (a loop over the ``w`` offsets)."""
        out = H[..., self.windows[:, 0], :].copy()
        for t in range(1, self.w):
            out += H[..., self.windows[:, t], :]
        out *= 1.0 / self.w
        return per_sample(out, self.batch)

    @property
    def nbytes(self) -> int:
        return self.windows.nbytes

    def vjp_flops(self, k: int) -> int:
        """``k·m·w`` moves (adds)."""
        return k * self.windows.size

    def jvp_flops(self, p: int) -> int:
        """``m·w·p`` adds."""
        return self.windows.size * p

    def outline(self) -> list[Box]:
        """One box per run of adjacent columns of each window; above :data:`OUTLINE_MAX` boxes, bands of rows."""
        cols = np.sort(self.windows, axis=1)
        starts = np.ones(cols.shape, dtype=bool)
        starts[:, 1:] = np.diff(cols, axis=1) > 1  # a repeated index (diff 0) stays in its run
        if starts.sum() > OUTLINE_MAX:
            return _bands(cols[:, 0], cols[:, -1], OUTLINE_MAX)
        boxes = []
        for i, (row, first) in enumerate(zip(cols, starts)):
            edges = [*np.flatnonzero(first), len(row)]
            boxes += [Box(i, int(row[a]), 1, int(row[b - 1] - row[a] + 1)) for a, b in zip(edges, edges[1:])]
        return boxes
