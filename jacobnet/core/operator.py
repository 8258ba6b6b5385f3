"""The protocol every structured Jacobian follows: :class:`Operator`.

An operator holds a Jacobian ``J`` of per-sample shape ``(m, n)`` (rows =
outputs) in whatever form its structure allows, and answers:

* ``dense()`` — the full matrix, ``(m, n)`` or ``(B, m, n)`` for a batch,
  guarded by the memory budget (:mod:`jacobnet.core.memory`);
* ``vjp(G)`` — ``G @ J`` for ``G`` of shape ``(..., k, m)``; ``vjp_sum(G)`` the
  batch sum ``Σ_b G_b @ J_b`` and ``vjp_mean(G)`` its mean (a batch gradient);
* ``jvp(H)`` — ``J @ H`` for ``H`` of shape ``(..., n, p)``;
* ``nbytes``, ``nbytes_dense``, ``vjp_flops(k)``, ``jvp_flops(p)`` — what it stores and costs.

The concrete operators are in :mod:`jacobnet.core.operators`.
"""

from __future__ import annotations

import numpy as np

from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8

Array = np.ndarray


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
