"""The protocol every structured Jacobian follows: :class:`Operator`.

An operator holds a Jacobian ``J`` of per-sample shape ``(m, n)`` (rows =
outputs) in whatever form its structure allows, and answers:

* ``dense()`` — the full matrix, ``(m, n)`` or ``(B, m, n)`` for a batch,
  guarded by the memory budget (:mod:`jacobnet.core.memory`);
* ``vjp(G)`` — ``G @ J`` for ``G`` of shape ``(..., k, m)``; ``vjp_sum(G)`` the
  batch sum ``Σ_b G_b @ J_b`` and ``vjp_mean(G)`` its mean (a batch gradient);
* ``jvp(H)`` — ``J @ H`` for ``H`` of shape ``(..., n, p)``;
* ``nbytes``, ``nbytes_dense``, ``vjp_flops(k)``, ``jvp_flops(p)`` — what it stores and costs;
* ``outline()`` — its structure as :class:`Box` es, for a heatmap to outline.

The concrete operators are in :mod:`jacobnet.core.operators`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from jacobnet.core.memory import budget, check_budget
from jacobnet.core.numerics import F8, zero

Array = np.ndarray


@dataclass(frozen=True)
class Box:
    """A part of a Jacobian's structure, in entries: rows ``row … row + rows − 1``, columns ``col … col + cols − 1``.

    ``style``: ``"box"`` (outlined), ``"dashed"``, ``"diagonal"`` (the diagonal
    cells of a square block), ``"rule"`` (a line down its left edge) or ``"none"``;
    ``label`` (mathtext, without ``$``) is written above the box.

    >>> Box(0, 3, 2, 2, "dashed", "I_{2}").shifted(cols=4)
    Box(row=0, col=7, rows=2, cols=2, style='dashed', label='I_{2}')
    """

    row: int
    col: int
    rows: int
    cols: int
    style: str = "box"
    label: str = ""

    def shifted(self, rows: int = 0, cols: int = 0) -> Box:
        """The same box moved down ``rows`` and right ``cols`` (a block inside a bigger matrix)."""
        return replace(self, row=self.row + rows, col=self.col + cols)


def per_sample(out: Array, batch: int | None) -> Array:
    """A product with a shared (per-sample) operand, repeated for each of ``batch`` samples."""
    return out if batch is None or out.ndim > 2 else np.broadcast_to(out, (batch, *out.shape)).copy()


class Operator:
    """A Jacobian with known structure (abstract base)."""

    kind: str = "operator"
    shape: tuple[int, int]
    batch: int | None

    def dense(self, out: Array | None = None, what: str | Callable[[], str] = "", refill: bool = False) -> Array:
        """The full matrix: ``(m, n)``, or ``(B, m, n)`` for a batch; every entry written.

        Without ``out`` it is allocated after the one check against the memory
        budget, whose message names ``what`` (e.g. ``"J_θ(Dense 1)"``, or a function
        that gives it, called only for the message; default: the structure);
        ``out`` (of that shape, float64) reuses a buffer, for a
        caller that materialises again and again. A mostly-zero structure (one that
        defines :meth:`_fill_nonzeros`) starts a fresh matrix from ``np.zeros``,
        whose pages the system hands over already zero, and writes only its nonzeros.
        ``refill=True`` says that ``out`` holds the dense matrix of an operator of the
        same kind and shape (the previous sample's): a mostly-zero structure then
        rewrites only the entries of its structure, the zeros being in place already.
        """
        lead = () if self.batch is None else (self.batch,)
        if out is None:
            if self.nbytes_dense > budget():  # (the message only when it is needed)
                instead = "use the structured mode (multiply through its structure)"
                instead += "" if self.batch is None else " or a smaller batch"
                name = what() if callable(what) else what
                check_budget(self.nbytes_dense, f"{name or f'the {self.kind} Jacobian'} of shape {lead + self.shape}", instead)
            if self.mostly_zero:
                out = np.zeros(lead + self.shape)
                self._fill_nonzeros(out)
                return out
            out = np.empty(lead + self.shape)
        elif getattr(out, "shape", None) != lead + self.shape or out.dtype != np.float64:
            got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
            name = (what() if callable(what) else what) or f"the {self.kind} Jacobian"
            raise ValueError(f"dense(out=…) of {name}: out must be a float64 array of shape {lead + self.shape}, got {got}")
        if refill and self.mostly_zero:
            self._fill_nonzeros(out)
        else:
            self._fill(out)
        return out

    @property
    def mostly_zero(self) -> bool:
        """Whether the structure writes its nonzeros into zeros (:meth:`_fill_nonzeros`) rather than every entry."""
        return type(self)._fill_nonzeros is not Operator._fill_nonzeros

    def _fill(self, out: Array) -> None:
        """Write every entry of the dense matrix into ``out`` (``(m, n)`` or ``(B, m, n)``); by default zeros, then the nonzeros."""
        if not self.mostly_zero:
            raise NotImplementedError(f"{type(self).__name__} defines neither _fill nor _fill_nonzeros")
        zero(out)
        self._fill_nonzeros(out)

    def _fill_nonzeros(self, out: Array) -> None:
        """Write the entries of the structure into ``out``, whose other entries are zero (a mostly-zero structure defines this instead of :meth:`_fill`).

        Every entry the structure may hold is written, whatever its value (``xᵀ`` even where
        ``x_j = 0``): where those entries sit depends on the shape alone, so ``out`` may also
        hold another operator's matrix of the same kind and shape (``dense(refill=True)``).
        """
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
        if out is None:
            return np.add.reduce(r, axis=0) if r.ndim == 3 else r
        if r.ndim == 3:
            np.add.reduce(r, axis=0, out=out)  # straight into out: no second temporary
        else:
            out[...] = r
        return out

    def vjp_mean(self, G: Array) -> Array:
        """The batch mean ``(1/B) Σ_b G_b @ J_b``: ``(B, k, m)`` → ``(k, n)`` (:meth:`vjp_sum` over ``B``); unbatched: ``G @ J``."""
        if G.ndim != 3:
            return self.vjp(G)
        out = self.vjp_sum(G)
        out *= 1.0 / G.shape[0]
        return out

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

    def outline(self) -> list[Box]:
        """The structure of one sample's matrix, to outline in a heatmap (default: none, a plain matrix)."""
        return []

    def __repr__(self) -> str:
        b = "" if self.batch is None else f", batch={self.batch}"
        return f"{type(self).__name__}(shape={self.shape}, kind={self.kind!r}{b})"


class FreeOperator(Operator):
    """An operator that stores nothing and multiplies by nothing (it moves or drops entries): no bytes, no FLOPs."""

    @property
    def nbytes(self) -> int:
        return 0

    def vjp_flops(self, k: int) -> int:
        return 0

    def jvp_flops(self, p: int) -> int:
        return 0
