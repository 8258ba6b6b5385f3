"""Jacobians that know their structure.

Every Jacobian in jacobnet is first built as one of these operators, the one
place its formula is written. From it you can always get the full dense
matrix (``dense()``, the lesson). You can also multiply through the structure
without materialising anything (``vjp``/``jvp``, the cost of ordinary
backprop):

=================  ==========================  ===========================
operator           matrix                      where it appears
=================  ==========================  ===========================
``Matrix``         a dense ``A``               J_x of Dense (``W``), J_loss
``Diagonal``       ``diag(d)``                 J_x of elementwise layers
``DiagMinusOuter`` ``diag(s) − s sᵀ``          J_x of Softmax
``KronRows``       ``[I_m ⊗ xᵀ | I_m]``        J_θ of Dense
``Empty``          an ``(m, 0)`` matrix        J_θ of parameter-free layers
=================  ==========================  ===========================

Shapes: ``shape`` is the per-sample ``(m, n)`` (rows = outputs). For a batch
the data carries a leading axis ``B`` and ``dense()`` returns the stacked
``(B, m, n)``. ``vjp(G)`` is ``G @ J`` for ``G`` of shape ``(..., k, m)``;
``jvp(H)`` is ``J @ H`` for ``H`` of shape ``(..., n, p)``; leading axes
broadcast against the batch axis. ``vjp_sum(G)`` is ``Σ_b G_b @ J_b`` and
``vjp_mean(G)`` the batch mean (a batch gradient), each one contraction.

``dense()`` is guarded: over the memory budget (:mod:`jacobnet.memory`) it
raises a ``MemoryError`` before allocating anything.

>>> import numpy as np
>>> J = KronRows(np.array([1.0, 2.0, 3.0]), m=2)   # Dense 3 → 2, at x = (1, 2, 3)
>>> J.shape, J.kind
((2, 8), '[I ⊗ xᵀ | I]')
>>> J.dense()
array([[1., 2., 3., 0., 0., 0., 1., 0.],
       [0., 0., 0., 1., 2., 3., 0., 1.]])
>>> g = np.array([[10.0, 20.0]])                     # a (1, 2) row
>>> np.array_equal(J.vjp(g), g @ J.dense())
True
"""

from __future__ import annotations

import numpy as np

from .memory import check_budget

Array = np.ndarray
_F8 = 8  # bytes per float64


def _per_sample(out: Array, batch: int | None) -> Array:
    """A product with a shared (per-sample) operand, repeated for each of ``batch`` samples."""
    return out if batch is None or out.ndim > 2 else np.broadcast_to(out, (batch, *out.shape)).copy()


class Operator:
    """A Jacobian with known structure (abstract base)."""

    kind: str = "operator"
    shape: tuple[int, int]
    batch: int | None

    def dense(self, out: Array | None = None) -> Array:
        """The full matrix: ``(m, n)``, or ``(B, m, n)`` for a batch; every entry written.

        Without ``out`` it is allocated after a check against the memory budget;
        ``out`` (of that shape, float64) reuses a buffer.
        """
        lead = () if self.batch is None else (self.batch,)
        if out is None:
            what = f"the {self.kind} Jacobian of shape {lead + self.shape}"
            check_budget(self.nbytes_dense, what, "multiply through its structure (vjp/jvp) or use a smaller batch")
            out = np.empty(lead + self.shape)
        self._fill(out)
        return out

    def _fill(self, out: Array) -> None:
        raise NotImplementedError

    def batch_slice(self, start: int, stop: int) -> Operator:
        """The operator of samples ``start:stop`` of a batch (views, no copies)."""
        raise NotImplementedError

    def vjp(self, G: Array) -> Array:
        """``G @ J`` through the structure; ``G``: ``(..., k, m)`` → ``(..., k, n)``."""
        raise NotImplementedError

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """The batch sum ``Σ_b G_b @ J_b``: ``(B, k, m)`` → ``(k, n)``; unbatched: ``G @ J``.

        ``out``: a ``(k, n)`` float64 array (e.g. a view into a whole gradient) to write it into.
        """
        r = self.vjp(G)
        r = r.sum(axis=0) if r.ndim == 3 else r
        if out is None:
            return r
        out[...] = r
        return out

    def vjp_mean(self, G: Array) -> Array:
        """The batch mean ``(1/B) Σ_b G_b @ J_b``: ``(B, k, m)`` → ``(k, n)``; unbatched: ``G @ J``."""
        out = self.vjp(G)
        return out.mean(axis=0) if out.ndim == 3 else out

    def jvp(self, H: Array) -> Array:
        """``J @ H`` through the structure; ``H``: ``(..., n, p)`` → ``(..., m, p)``."""
        raise NotImplementedError

    @property
    def nbytes_dense(self) -> int:
        """Bytes of the materialised float64 matrix (all samples of a batch)."""
        m, n = self.shape
        return (self.batch or 1) * m * n * _F8

    @property
    def nbytes(self) -> int:
        """Bytes of what the structured form actually stores."""
        raise NotImplementedError

    def vjp_flops(self, k: int) -> int:
        """Multiply-adds of ``G @ J`` through the structure, ``G`` with ``k`` rows, per sample."""
        raise NotImplementedError

    def jvp_flops(self, p: int) -> int:
        """Multiply-adds of ``J @ H`` through the structure, ``H`` with ``p`` columns, per sample."""
        raise NotImplementedError

    def __repr__(self) -> str:
        b = "" if self.batch is None else f", batch={self.batch}"
        return f"{type(self).__name__}(shape={self.shape}, kind={self.kind!r}{b})"


class Matrix(Operator):
    """A dense matrix ``A``: shared ``(m, n)`` (e.g. ``W``) or per-sample ``(B, m, n)``.

    ``batch`` marks a shared matrix as the Jacobian of every sample of a batch.

    >>> Matrix(np.ones((2, 3)), batch=4).dense().shape
    (4, 2, 3)
    """

    kind = "dense"

    def __init__(self, A: Array, batch: int | None = None):
        self.A = A
        self.shape = (A.shape[-2], A.shape[-1])
        self.batch = A.shape[0] if A.ndim == 3 else batch

    def _fill(self, out: Array) -> None:
        out[...] = self.A

    def batch_slice(self, start: int, stop: int) -> Matrix:
        return Matrix(self.A[start:stop]) if self.A.ndim == 3 else Matrix(self.A, batch=len(range(start, stop)))

    def vjp(self, G: Array) -> Array:
        if self.A.ndim == 2 and G.ndim == 3:  # one GEMM for the whole batch, not B small ones
            return (G.reshape(-1, G.shape[-1]) @ self.A).reshape(G.shape[:-1] + (self.shape[1],))
        return _per_sample(G @ self.A, self.batch)

    def jvp(self, H: Array) -> Array:
        return _per_sample(self.A @ H, self.batch)

    @property
    def nbytes(self) -> int:
        return self.A.size * _F8

    def vjp_flops(self, k: int) -> int:
        return k * self.shape[0] * self.shape[1]

    def jvp_flops(self, p: int) -> int:
        return self.shape[0] * self.shape[1] * p


class Diagonal(Operator):
    """``diag(d)`` with ``d`` of shape ``(n,)`` or ``(B, n)``: ``J_ij = d_i δ_ij``.

    >>> Diagonal(np.array([1.0, 2.0])).vjp(np.array([[3.0, 4.0]]))
    array([[3., 8.]])
    """

    kind = "diagonal"

    def __init__(self, d: Array):
        self.d = d
        n = d.shape[-1]
        self.shape = (n, n)
        self.batch = d.shape[0] if d.ndim == 2 else None

    def _fill(self, out: Array) -> None:
        idx = np.arange(self.shape[0])
        out.fill(0.0)
        out[..., idx, idx] = self.d

    def batch_slice(self, start: int, stop: int) -> Diagonal:
        return Diagonal(self.d[start:stop])

    def vjp(self, G: Array) -> Array:
        return G * self.d[..., None, :]

    def jvp(self, H: Array) -> Array:
        return self.d[..., :, None] * H

    @property
    def nbytes(self) -> int:
        return self.d.size * _F8

    def vjp_flops(self, k: int) -> int:
        return k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return self.shape[0] * p


def sum_others(v: Array, axis: int = -1) -> Array:
    """``Σ_{j≠i} v_j`` for every ``i`` along ``axis``, without ever subtracting ``v_i``.

    Prefix plus suffix sums. For probabilities this is ``1 − s_i`` with full
    relative accuracy even when ``s_i → 1``, where ``1 − s_i`` itself cancels
    to noise: the softmax Jacobian and loss row use it near saturation.

    >>> sum_others(np.array([[1.0, 2.0, 4.0], [1e-20, 1.0, 0.0]]))
    array([[6.e+00, 5.e+00, 3.e+00],
           [1.e+00, 1.e-20, 1.e+00]])
    """
    v = np.moveaxis(v, axis, -1)
    zero = np.zeros(v.shape[:-1] + (1,))
    before = np.concatenate([zero, np.cumsum(v[..., :-1], axis=-1)], axis=-1)
    after = np.concatenate([np.cumsum(v[..., :0:-1], axis=-1)[..., ::-1], zero], axis=-1)
    return np.moveaxis(before + after, -1, axis)


class DiagMinusOuter(Operator):
    """``diag(s) − s sᵀ`` (the softmax Jacobian), ``s`` of shape ``(n,)`` or ``(B, n)``.

    ``G @ J = G ∘ sᵀ − (G s) sᵀ``: ``3kn`` multiply-adds instead of ``kn²``.
    Every ``1 − s_i`` is computed as ``Σ_{j≠i} s_j`` (:func:`sum_others`): the
    diagonal is ``s_i Σ_{j≠i} s_j`` and ``(G J)_i = s_i (g_i Σ_{j≠i} s_j − Σ_{j≠i} g_j s_j)``,
    so a saturated softmax (``s_i → 1``) keeps its relative accuracy.

    >>> s = np.array([0.25, 0.75])
    >>> DiagMinusOuter(s).dense()
    array([[ 0.1875, -0.1875],
           [-0.1875,  0.1875]])
    """

    kind = "diag − rank-1"

    def __init__(self, s: Array):
        self.s = s
        n = s.shape[-1]
        self.shape = (n, n)
        self.batch = s.shape[0] if s.ndim == 2 else None

    def _fill(self, out: Array) -> None:
        s, idx = self.s, np.arange(self.shape[0])
        np.multiply(-s[..., :, None], s[..., None, :], out=out)
        out[..., idx, idx] = s * sum_others(s)  # s_i (1 − s_i), without cancellation

    def batch_slice(self, start: int, stop: int) -> DiagMinusOuter:
        return DiagMinusOuter(self.s[start:stop])

    def vjp(self, G: Array) -> Array:
        s = self.s[..., None, :]
        return s * (G * sum_others(s) - sum_others(G * s))

    def jvp(self, H: Array) -> Array:
        s = self.s[..., :, None]
        return s * (H * sum_others(s, axis=-2) - sum_others(s * H, axis=-2))

    @property
    def nbytes(self) -> int:
        return self.s.size * _F8

    def vjp_flops(self, k: int) -> int:
        return 3 * k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return 3 * self.shape[0] * p


class KronRows(Operator):
    """``[I_m ⊗ xᵀ | I_m]``: J_θ of ``y = W x + b`` with ``θ = [vec_r(W), b]``.

    Row ``i`` holds ``xᵀ`` in the columns of ``W``'s row ``i`` and a 1 in the
    column of ``b_i``. Shape ``(m, m·n + m)``; ``x`` of shape ``(n,)`` or ``(B, n)``.
    ``G @ J = [vec_r(G_k ⊗ x) | G]`` row by row (an outer product, ``k·m·n``
    multiply-adds); ``J @ H = H_W x + H_b`` with ``H_W`` reshaped to ``(m, n, p)``.

    >>> KronRows(np.array([1.0, 2.0]), m=1).dense()
    array([[1., 2., 1.]])
    """

    kind = "[I ⊗ xᵀ | I]"

    def __init__(self, x: Array, m: int):
        self.x = x
        self.m = m
        self.n = x.shape[-1]
        self.shape = (m, m * self.n + m)
        self.batch = x.shape[0] if x.ndim == 2 else None

    def _fill(self, out: Array) -> None:
        m, n, x = self.m, self.n, self.x
        idx = np.arange(m)
        out.fill(0.0)  # then the nonzeros, in place: no temporaries
        blocks = out[..., : m * n].reshape(x.shape[:-1] + (m, m, n))  # a view
        blocks[..., idx, idx, :] = x[..., None, :]  # row i, block i: xᵀ  (I_m ⊗ xᵀ)
        out[..., idx, m * n + idx] = 1.0  # the b columns: I_m

    def batch_slice(self, start: int, stop: int) -> KronRows:
        return KronRows(self.x[start:stop], self.m)

    def vjp(self, G: Array) -> Array:
        m, n = self.m, self.n
        lead = np.broadcast_shapes(G.shape[:-2], self.x.shape[:-1])
        out = np.empty(lead + (G.shape[-2], m * n + m))
        outer = out[..., : m * n].reshape(out.shape[:-1] + (m, n))  # a view: (..., k, m, n)
        np.multiply(G[..., :, :, None], self.x[..., None, None, :], out=outer)
        out[..., m * n :] = G
        return out

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b [vec_r(G_b ⊗ x_b) | G_b]``: the W block is one GEMM ``Gᵀ X``, not ``B`` outer products."""
        if G.ndim != 3 or self.x.ndim != 2:
            return super().vjp_sum(G, out)
        B, k, m = G.shape
        n = self.n
        out = np.empty((k, m * n + m)) if out is None else out
        Gt = G.reshape(B, k * m).T  # written in place when k = 1
        if k == 1:
            np.matmul(Gt, self.x, out=out[0, : m * n].reshape(m, n))
        else:
            out[:, : m * n] = (Gt @ self.x).reshape(k, m * n)
        np.add.reduce(G, axis=0, out=out[:, m * n :])
        return out

    def vjp_mean(self, G: Array) -> Array:
        """``(1/B) Σ_b [vec_r(G_b ⊗ x_b) | G_b]``: :meth:`vjp_sum` over ``B``."""
        if G.ndim != 3 or self.x.ndim != 2:
            return super().vjp_mean(G)
        out = self.vjp_sum(G)
        out *= 1.0 / G.shape[0]
        return out

    def jvp(self, H: Array) -> Array:
        m, n = self.m, self.n
        HW = H[..., : m * n, :].reshape(H.shape[:-2] + (m, n, H.shape[-1]))
        return np.einsum("...ijp,...j->...ip", HW, self.x) + H[..., m * n :, :]

    @property
    def nbytes(self) -> int:
        return self.x.size * _F8

    def vjp_flops(self, k: int) -> int:
        return k * self.m * self.n

    def jvp_flops(self, p: int) -> int:
        return self.m * (self.n + 1) * p


class Empty(Operator):
    """The ``(m, 0)`` parameter Jacobian of a layer without parameters.

    >>> Empty(3).dense().shape
    (3, 0)
    """

    kind = "empty"

    def __init__(self, m: int, batch: int | None = None):
        self.shape = (m, 0)
        self.batch = batch

    def _fill(self, out: Array) -> None:
        pass  # no entries

    def batch_slice(self, start: int, stop: int) -> Empty:
        return Empty(self.shape[0], len(range(start, stop)))

    def vjp(self, G: Array) -> Array:
        return _per_sample(np.zeros(G.shape[:-1] + (0,)), self.batch)

    def jvp(self, H: Array) -> Array:
        return _per_sample(np.zeros(H.shape[:-2] + (self.shape[0], H.shape[-1])), self.batch)

    @property
    def nbytes(self) -> int:
        return 0

    def vjp_flops(self, k: int) -> int:
        return 0

    def jvp_flops(self, p: int) -> int:
        return 0
