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
broadcast against the batch axis. ``vjp_mean(G)`` is the batch mean
``(1/B) Σ_b G_b @ J_b`` (a batch gradient) in one contraction.

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

    def dense(self) -> Array:
        """The full matrix: ``(m, n)``, or ``(B, m, n)`` for a batch; guarded by the memory budget."""
        lead = () if self.batch is None else (self.batch,)
        what = f"the {self.kind} Jacobian of shape {lead + self.shape}"
        check_budget(self.nbytes_dense, what, "multiply through its structure (vjp/jvp) or use a smaller batch")
        return self._dense()

    def _dense(self) -> Array:
        raise NotImplementedError

    def vjp(self, G: Array) -> Array:
        """``G @ J`` through the structure; ``G``: ``(..., k, m)`` → ``(..., k, n)``."""
        raise NotImplementedError

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

    def _dense(self) -> Array:
        if self.batch is None or self.A.ndim == 3:
            return self.A.copy()
        return np.broadcast_to(self.A, (self.batch, *self.shape)).copy()

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

    def _dense(self) -> Array:
        n = self.shape[0]
        out = np.zeros(self.d.shape[:-1] + (n, n))
        idx = np.arange(n)
        out[..., idx, idx] = self.d
        return out

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


class DiagMinusOuter(Operator):
    """``diag(s) − s sᵀ`` (the softmax Jacobian), ``s`` of shape ``(n,)`` or ``(B, n)``.

    ``G @ J = G ∘ sᵀ − (G s) sᵀ``: ``2kn`` multiply-adds instead of ``kn²``.

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

    def _dense(self) -> Array:
        s, idx = self.s, np.arange(self.shape[0])
        out = -(s[..., :, None] * s[..., None, :])
        out[..., idx, idx] += s
        return out

    def vjp(self, G: Array) -> Array:
        s = self.s[..., None, :]
        return G * s - (G * s).sum(axis=-1, keepdims=True) * s

    def jvp(self, H: Array) -> Array:
        s = self.s[..., :, None]
        return s * H - s * (s * H).sum(axis=-2, keepdims=True)

    @property
    def nbytes(self) -> int:
        return self.s.size * _F8

    def vjp_flops(self, k: int) -> int:
        return 2 * k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return 2 * self.shape[0] * p


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

    def _dense(self) -> Array:
        m, n, x = self.m, self.n, self.x
        lead = x.shape[:-1]
        idx = np.arange(m)
        out = np.zeros(lead + (m, m * n + m))  # written once, in place: no temporaries
        blocks = out[..., : m * n].reshape(lead + (m, m, n))  # a view
        blocks[..., idx, idx, :] = x[..., None, :]  # row i, block i: xᵀ  (I_m ⊗ xᵀ)
        out[..., idx, m * n + idx] = 1.0  # the b columns: I_m
        return out

    def vjp(self, G: Array) -> Array:
        m, n = self.m, self.n
        lead = np.broadcast_shapes(G.shape[:-2], self.x.shape[:-1])
        out = np.empty(lead + (G.shape[-2], m * n + m))
        outer = out[..., : m * n].reshape(out.shape[:-1] + (m, n))  # a view: (..., k, m, n)
        np.multiply(G[..., :, :, None], self.x[..., None, None, :], out=outer)
        out[..., m * n :] = G
        return out

    def vjp_mean(self, G: Array) -> Array:
        """``(1/B) Σ_b [vec_r(G_b ⊗ x_b) | G_b]``: the W block is one GEMM ``Gᵀ X / B``."""
        if G.ndim != 3 or self.x.ndim != 2:
            return super().vjp_mean(G)
        B, k, m = G.shape
        n, G = self.n, G * (1.0 / B)
        out = np.empty((k, m * n + m))
        Gt = G.reshape(B, k * m).T  # Σ_b G_b[i] x_bᵀ / B: one GEMM, written in place when k = 1
        if k == 1:
            np.matmul(Gt, self.x, out=out[0, : m * n].reshape(m, n))
        else:
            out[:, : m * n] = (Gt @ self.x).reshape(k, m * n)
        np.add.reduce(G, axis=0, out=out[:, m * n :])
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

    def _dense(self) -> Array:
        lead = () if self.batch is None else (self.batch,)
        return np.zeros(lead + self.shape)

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
