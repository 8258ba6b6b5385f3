"""The Jacobians of token-wise layers: one map applied to each of ``T`` tokens, its parameters shared.

A sequence of ``T`` tokens of ``n`` features is one flat sample of length ``T·n``:
the ``(T, n)`` array flattened row-major, as PyTorch's ``tensor.reshape(-1)``, so
token ``t`` is entries ``t·n … t·n + n − 1``. A layer that applies the same map
to every token has Jacobians made of per-token blocks:

=================  ==========================================  ============================
operator           matrix                                      where it appears
=================  ==========================================  ============================
``TokenMatrix``    ``I_T ⊗ W``: ``T`` diagonal blocks ``W``    J_x of ``Dense(tokens=T)``
``TokenKronRows``  ``[I ⊗ x_tᵀ | I]``, stacked over tokens     J_θ of ``Dense(tokens=T)``
``TokenDiagRows``  ``[diag(v_t) | I]``, stacked over tokens    J_θ of ``LayerNorm``
=================  ==========================================  ============================

Token ``t``'s outputs depend on token ``t``'s inputs only (``J_x`` is block-diagonal),
while every token uses the same parameters: ``J_θ`` stacks the tokens' rows, and in
``∂L/∂θ = Σ_t ∂L/∂a_t · J_θ,t`` their contributions add up — as a batch's samples do.
So the structured products reshape ``(…, T·m)`` to ``(…, T, m)`` and treat tokens like
samples: ``I_T ⊗ W`` multiplies in one GEMM, and the weight gradient of a batch is one
GEMM ``Gᵀ X`` over all ``B·T`` (sample, token) rows.

>>> import numpy as np
>>> J = TokenKronRows(np.array([1.0, 2.0, 3.0, 4.0]), m=1, tokens=2)   # Dense(2, 1, tokens=2) at x = (1, 2 | 3, 4)
>>> J.shape, J.kind
((2, 3), '[I ⊗ x_tᵀ | I] per token')
>>> J.dense()
array([[1., 2., 1.],
       [3., 4., 1.]])
>>> J.vjp(np.array([[1.0, 1.0]]))        # the tokens' contributions to W and b add up
array([[4., 6., 2.]])
"""

from __future__ import annotations

import numpy as np

from jacobnet.core.numerics import F8
from jacobnet.core.operator import Box, Operator, per_sample

Array = np.ndarray


def split(a: Array, tokens: int, axis: int = -1) -> Array:
    """``a`` with its ``axis`` (of length ``T·n``) split into ``(T, n)``: a view, never a copy.

    >>> split(np.arange(6.0), 2)
    array([[0., 1., 2.],
           [3., 4., 5.]])
    """
    axis %= a.ndim
    return a.reshape(a.shape[:axis] + (tokens, a.shape[axis] // tokens) + a.shape[axis + 1 :])


def diagonal_blocks(out: Array, tokens: int, value: Array) -> None:
    """Zero ``out`` ``(…, T·m, T·n)`` and write ``value`` ``(…, T, m, n)`` (or ``(m, n)``) into its diagonal blocks."""
    lead, (m, n) = out.shape[:-2], (out.shape[-2] // tokens, out.shape[-1] // tokens)
    out.fill(0.0)
    idx = np.arange(tokens)
    value = np.broadcast_to(value, lead + (tokens, m, n))
    out.reshape(lead + (tokens, m, tokens, n))[..., idx, :, idx, :] = np.moveaxis(value, -3, 0)  # (a view: split axes)


class TokenMatrix(Operator):
    """``I_T ⊗ W``: the same ``W`` ``(m, n)`` on each of ``T`` tokens — shape ``(T·m, T·n)``.

    Block ``(t, t)`` is ``W`` and every other block is 0: ``J_x`` of ``Dense(n, m, tokens=T)``.
    ``G @ J``: ``G`` ``(…, k, T·m)`` as rows of ``m``, times ``W``, one GEMM of
    ``k·T·m·n`` multiply-adds (the dense product: ``k·T²·m·n``); ``J @ H`` likewise,
    ``W`` times the ``T`` blocks of ``H`` side by side. ``W`` is shared; ``batch``
    marks it as the Jacobian of every sample of a batch.

    >>> J = TokenMatrix(np.array([[1.0, 2.0, 3.0]]), tokens=2)     # W (1, 3), two tokens: (2, 6)
    >>> J.dense()
    array([[1., 2., 3., 0., 0., 0.],
           [0., 0., 0., 1., 2., 3.]])
    >>> J.vjp(np.array([[10.0, 1.0]]))
    array([[10., 20., 30.,  1.,  2.,  3.]])
    """

    kind = "I ⊗ W"

    def __init__(self, W: Array, tokens: int, batch: int | None = None):
        self.W, self.tokens, self.batch = W, tokens, batch
        self.shape = (tokens * W.shape[0], tokens * W.shape[1])

    def _fill(self, out: Array) -> None:
        diagonal_blocks(out, self.tokens, self.W)

    def batch_slice(self, start: int, stop: int) -> TokenMatrix:
        return TokenMatrix(self.W, self.tokens, batch=len(range(start, stop)))

    def outline(self) -> list[Box]:
        """The ``T`` diagonal blocks, each labelled ``W``."""
        m, n = self.W.shape
        return [Box(t * m, t * n, m, n, "box", "W") for t in range(self.tokens)]

    def vjp(self, G: Array) -> Array:
        out = G.reshape(-1, self.W.shape[0]) @ self.W  # every (row, token) of G at once
        return per_sample(out.reshape(G.shape[:-1] + (self.shape[1],)), self.batch)

    def jvp(self, H: Array) -> Array:
        m, p = self.W.shape[0], H.shape[-1]
        Y = np.tensordot(split(H, self.tokens, axis=-2), self.W, axes=([-2], [1]))  # (…, T, p, m): one GEMM
        return per_sample(np.swapaxes(Y, -1, -2).reshape(H.shape[:-2] + (self.tokens * m, p)), self.batch)

    @property
    def nbytes(self) -> int:
        return self.W.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.tokens * self.W.size

    def jvp_flops(self, p: int) -> int:
        return self.tokens * self.W.size * p


class TokenKronRows(Operator):
    """``[I_m ⊗ x_tᵀ | I_m]`` for the tokens ``t = 1 … T``, one under the other: J_θ of ``Dense(n, m, tokens=T)``.

    ``x`` ``(T·n,)`` or ``(B, T·n)`` holds the tokens ``x_t`` of ``n`` features;
    ``θ = [vec_r(W), b]`` is shared by the tokens. Shape ``(T·m, m·n + m)``: token
    ``t``'s rows are :class:`~jacobnet.core.operators.KronRows` of ``x_t`` — row ``i``
    holds ``x_tᵀ`` in the columns of ``W``'s row ``i`` and a 1 in ``b_i``'s.
    ``G @ J = [vec_r(Σ_t g_t x_tᵀ) | Σ_t g_t]`` for each row ``[g_1 … g_T]`` of ``G``
    (the tokens' outer products add up): ``k·T·m·(n + 1)`` multiply-adds; the batch
    sum is one GEMM ``Gᵀ X`` with ``G`` ``(B·T, m)`` and ``X`` ``(B·T, n)``.
    ``J @ H = [H_W x_t + H_b]_t``, ``H_W`` reshaped to ``(m, n, p)``.

    >>> TokenKronRows(np.array([1.0, 2.0, 3.0, 4.0]), m=2, tokens=2).dense()
    array([[1., 2., 0., 0., 1., 0.],
           [0., 0., 1., 2., 0., 1.],
           [3., 4., 0., 0., 1., 0.],
           [0., 0., 3., 4., 0., 1.]])
    """

    kind = "[I ⊗ x_tᵀ | I] per token"

    def __init__(self, x: Array, m: int, tokens: int):
        self.x, self.m, self.tokens = x, m, tokens
        self.n = x.shape[-1] // tokens
        self.shape = (tokens * m, m * self.n + m)
        self.batch = x.shape[0] if x.ndim == 2 else None

    def _fill(self, out: Array) -> None:
        m, n, idx = self.m, self.n, np.arange(self.m)
        out.fill(0.0)
        rows = split(out, self.tokens, axis=-2)  # (…, T, m, m·n + m), a view
        rows[..., : m * n].reshape(rows.shape[:-1] + (m, n))[..., idx, idx, :] = split(self.x, self.tokens)[..., None, :]
        rows[..., idx, m * n + idx] = 1.0  # each token's I_m

    def batch_slice(self, start: int, stop: int) -> TokenKronRows:
        return TokenKronRows(self.x[start:stop], self.m, self.tokens)

    def outline(self) -> list[Box]:
        """Each token's rows outlined: its ``x_tᵀ`` in the columns of ``W``'s row ``i`` (``I ⊗ x_tᵀ``), then ``I_m``."""
        m, n = self.m, self.n
        boxes = [Box(0, 0, m, m * n, "none", rf"I_{{{m}}} \otimes x_t^T"), Box(0, m * n, m, m, "none", rf"I_{{{m}}}"), Box(0, m * n, m, m, "rule")]
        for r in range(0, self.shape[0], m):
            boxes += [Box(r, 0, m, m * n + m), *(Box(r + i, i * n, 1, n) for i in range(m)), Box(r, m * n, m, m, "dashed")]
        return boxes

    def vjp(self, G: Array) -> Array:
        m, n = self.m, self.n
        Gt = split(G, self.tokens)  # (…, k, T, m)
        lead = np.broadcast_shapes(G.shape[:-2], self.x.shape[:-1])
        out = np.empty(lead + (G.shape[-2], m * n + m))
        outer = out[..., : m * n].reshape(out.shape[:-1] + (m, n))  # a view: (…, k, m, n)
        np.matmul(np.swapaxes(Gt, -1, -2), split(self.x, self.tokens)[..., None, :, :], out=outer)  # Σ_t g_t x_tᵀ
        out[..., m * n :] = Gt.sum(axis=-2)
        return out

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b Σ_t [vec_r(g_bt x_btᵀ) | g_bt]``: the ``W`` block is one GEMM ``Gᵀ X`` over every sample and token."""
        if G.ndim != 3 or self.x.ndim != 2:
            return super().vjp_sum(G, out)
        (B, k, _), m, n, T = G.shape, self.m, self.n, self.tokens
        out = np.empty((k, m * n + m)) if out is None else out
        X = self.x.reshape(B * T, n)
        if k == 1:  # a row per sample: (B·T, m)ᵀ (B·T, n), written in place
            Gr = G.reshape(B * T, m)
            np.dot(Gr.T, X, out=out[0, : m * n].reshape(m, n))
            np.add.reduce(Gr, axis=0, out=out[0, m * n :])
            return out
        Gt = G.reshape(B, k, T, m)
        out[:, : m * n] = np.tensordot(Gt, X.reshape(B, T, n), axes=([0, 2], [0, 1])).reshape(k, m * n)
        out[:, m * n :] = Gt.sum(axis=(0, 2))
        return out

    def jvp(self, H: Array) -> Array:
        m, n, p = self.m, self.n, H.shape[-1]
        HW = H[..., : m * n, :].reshape(H.shape[:-2] + (m, n, p))
        Y = np.matmul(split(self.x, self.tokens)[..., None, :, :], HW)  # (…, m, T, p): H_W x_t for every token
        Y = np.swapaxes(Y, -3, -2) + H[..., None, m * n :, :]
        return Y.reshape(Y.shape[:-3] + (self.shape[0], p))

    @property
    def nbytes(self) -> int:
        return self.x.size * F8

    def vjp_flops(self, k: int) -> int:
        return k * self.shape[0] * (self.n + 1)

    def jvp_flops(self, p: int) -> int:
        return self.shape[0] * (self.n + 1) * p


class TokenDiagRows(Operator):
    """``[diag(v_t) | I_n]`` for the tokens ``t = 1 … T``, one under the other: J_θ of ``a_t = γ ⊙ v_t + β``.

    ``v`` ``(T·n,)`` or ``(B, T·n)`` holds the tokens ``v_t``; ``θ = [γ, β]`` (each
    ``(n,)``) is shared by the tokens. Shape ``(T·n, 2n)``. ``G @ J = [Σ_t g_t ⊙ v_t | Σ_t g_t]``
    (the tokens' contributions add up): ``2·k·T·n`` multiply-adds, and the batch sum is
    one reduction over every sample and token. ``name``/``tex``: how ``v`` is written
    in the kind and in the outline's label (e.g. ``"x̂"`` and ``r"\\hat{x}"``).

    >>> J = TokenDiagRows(np.array([1.0, 2.0, 3.0, 4.0]), tokens=2)    # v_1 = (1, 2), v_2 = (3, 4)
    >>> J.dense()
    array([[1., 0., 1., 0.],
           [0., 2., 0., 1.],
           [3., 0., 1., 0.],
           [0., 4., 0., 1.]])
    >>> J.vjp(np.array([[1.0, 1.0, 1.0, 1.0]]))
    array([[4., 6., 2., 2.]])
    """

    def __init__(self, v: Array, tokens: int, name: str = "v", tex: str = "v"):
        self.v, self.tokens, self.name, self.tex = v, tokens, name, tex
        self.n = v.shape[-1] // tokens
        self.shape = (tokens * self.n, 2 * self.n)
        self.batch = v.shape[0] if v.ndim == 2 else None
        self.kind = f"[diag({name}_t) | I] per token"

    def _fill(self, out: Array) -> None:
        n, idx = self.n, np.arange(self.n)
        out.fill(0.0)
        rows = split(out, self.tokens, axis=-2)  # (…, T, n, 2n), a view
        rows[..., idx, idx] = split(self.v, self.tokens)
        rows[..., idx, n + idx] = 1.0

    def batch_slice(self, start: int, stop: int) -> TokenDiagRows:
        return TokenDiagRows(self.v[start:stop], self.tokens, self.name, self.tex)

    def outline(self) -> list[Box]:
        """Each token's rows outlined, with its two diagonals ``diag(v_t)`` and ``I_n``."""
        n = self.n
        boxes = [Box(0, 0, n, n, "none", rf"\mathrm{{diag}}({self.tex}_t)"), Box(0, n, n, n, "none", rf"I_{{{n}}}"), Box(0, n, n, n, "rule")]
        for r in range(0, self.shape[0], n):
            boxes += [Box(r, 0, n, 2 * n), Box(r, 0, n, n, "diagonal"), Box(r, n, n, n, "diagonal")]
        return boxes

    def vjp(self, G: Array) -> Array:
        Gt = split(G, self.tokens)  # (…, k, T, n)
        by_scale = (Gt * split(self.v, self.tokens)[..., None, :, :]).sum(axis=-2)
        return np.concatenate(np.broadcast_arrays(by_scale, Gt.sum(axis=-2)), axis=-1)

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b Σ_t [g_bt ⊙ v_bt | g_bt]``: one reduction over every sample and token."""
        if G.ndim != 3 or self.v.ndim != 2:
            return super().vjp_sum(G, out)
        B, k, _ = G.shape
        n, T = self.n, self.tokens
        out = np.empty((k, 2 * n)) if out is None else out
        Gt = G.reshape(B, k, T, n)
        out[:, :n] = np.einsum("bktn,btn->kn", Gt, self.v.reshape(B, T, n))
        out[:, n:] = Gt.sum(axis=(0, 2))
        return out

    def jvp(self, H: Array) -> Array:
        n, p = self.n, H.shape[-1]
        Y = split(self.v, self.tokens)[..., :, :, None] * H[..., None, :n, :] + H[..., None, n:, :]  # (…, T, n, p)
        return Y.reshape(Y.shape[:-3] + (self.shape[0], p))

    @property
    def nbytes(self) -> int:
        return self.v.size * F8

    def vjp_flops(self, k: int) -> int:
        return 2 * k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return 2 * self.shape[0] * p
