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

The protocol and the plain operators live here; the two built from outer
products, ``DiagMinusOuter`` and ``KronRows``, in :mod:`jacobnet.outer`
(importable from here too).

Shapes: ``shape`` is the per-sample ``(m, n)`` (rows = outputs). For a batch
the data carries a leading axis ``B`` and ``dense()`` returns the stacked
``(B, m, n)``. ``vjp(G)`` is ``G @ J`` for ``G`` of shape ``(..., k, m)``;
``jvp(H)`` is ``J @ H`` for ``H`` of shape ``(..., n, p)``; leading axes
broadcast against the batch axis. ``vjp_sum(G)`` is ``Σ_b G_b @ J_b`` and
``vjp_mean(G)`` the batch mean (a batch gradient), each one contraction.

``dense()`` is guarded: over the memory budget (:mod:`jacobnet.memory`) it
raises a ``MemoryError`` before allocating anything.

>>> import numpy as np
>>> from jacobnet.structure import KronRows
>>> J = KronRows(np.array([1.0, 2.0, 3.0]), m=2)   # Dense 3 → 2, at x = (1, 2, 3)
>>> J.shape, J.kind
((2, 8), '[I ⊗ xᵀ | I]')
>>> J.dense()
array([[1., 2., 3., 0., 0., 0., 1., 0.],
       [0., 0., 0., 1., 2., 3., 0., 1.]])
>>> g = np.array([[10.0, 20.0]])                     # a (1, 2) row
>>> np.array_equal(J.vjp(g), g @ J.dense())
True
>>> Diagonal(np.array([1.0, 2.0, 3.0])).vjp(np.ones((2, 3)))   # a (2, 3) block · diag: columns scaled
array([[1., 2., 3.],
       [1., 2., 3.]])
"""

from __future__ import annotations

import numpy as np

from .memory import check_budget
from .numerics import F8, SUM_OTHERS_PRODUCT_MAX, sum_others

Array = np.ndarray
__all__ = [
    "Operator", "Matrix", "Diagonal", "DiagMinusOuter", "KronRows", "Empty", "sum_others", "SUM_OTHERS_PRODUCT_MAX",
]


def per_sample(out: Array, batch: int | None) -> Array:
    """A product with a shared (per-sample) operand, repeated for each of ``batch`` samples."""
    return out if batch is None or out.ndim > 2 else np.broadcast_to(out, (batch, *out.shape)).copy()


class Operator:
    """A Jacobian with known structure (abstract base)."""

    kind: str = "operator"
    shape: tuple[int, int]
    batch: int | None

    def dense(self, out: Array | None = None, what: str = "") -> Array:
        """The full matrix: ``(m, n)``, or ``(B, m, n)`` for a batch; every entry written.

        Without ``out`` it is allocated after the one check against the memory
        budget, whose message names ``what`` (e.g. ``"J_θ(Dense 1)"``; default:
        the structure); ``out`` (of that shape, float64) reuses a buffer.
        """
        lead = () if self.batch is None else (self.batch,)
        if out is None:
            instead = "use the structured mode (multiply through its structure)"
            instead += "" if self.batch is None else " or a smaller batch"
            check_budget(self.nbytes_dense, f"{what or f'the {self.kind} Jacobian'} of shape {lead + self.shape}", instead)
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
        return (self.batch or 1) * m * n * F8

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
        return per_sample(G @ self.A, self.batch)

    def jvp(self, H: Array) -> Array:
        return per_sample(self.A @ H, self.batch)

    @property
    def nbytes(self) -> int:
        return self.A.size * F8

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
        return self.d.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return self.shape[0] * p


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
        return per_sample(np.zeros(G.shape[:-1] + (0,)), self.batch)

    def jvp(self, H: Array) -> Array:
        return per_sample(np.zeros(H.shape[:-2] + (self.shape[0], H.shape[-1])), self.batch)

    @property
    def nbytes(self) -> int:
        return 0

    def vjp_flops(self, k: int) -> int:
        return 0

    def jvp_flops(self, p: int) -> int:
        return 0


def __getattr__(name: str) -> object:
    """``DiagMinusOuter`` and ``KronRows``, defined in :mod:`jacobnet.outer` (which builds on this module)."""
    if name in ("DiagMinusOuter", "KronRows"):
        from . import outer

        return getattr(outer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
