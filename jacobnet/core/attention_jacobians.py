"""The Jacobians of self-attention, as operators: the forward pass kept (:class:`AttentionState`),
:class:`AttentionInputJacobian` (``J_x``) and :class:`AttentionParamsJacobian` (``J_θ``).

Their products are the framework's attention backward — ``dV = Aᵀ G``,
``dS = A ⊙ (dA − rowsum(dA ⊙ A))`` with ``dA = G Vᵀ``, ``dQ = r dS K``, ``dK = r dSᵀ Q``, then
``dX = dQ W_q + dK W_k + dV W_v`` — in ``O(T² d_head + T d_head d_model)`` per row of ``G``;
:mod:`jacobnet.core.attention` has the layer and the formulas of every entry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from jacobnet.core.numerics import F8
from jacobnet.core.operator import Box, Operator

Array = np.ndarray

NAMES = "qkv"
"""The superscripts of the three weight matrices, in ``θ`` order: ``W^q, W^k, W^v``."""


@functools.lru_cache(maxsize=16)
def _above_diagonal(T: int) -> Array:
    """The causal mask: ``True`` at ``(t, u)`` for ``u > t``, ``(T, T)``, read-only (cached per length)."""
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    mask.flags.writeable = False
    return mask


def attention_weights(S: Array, causal: bool) -> Array:
    """``A = softmax_row(S)`` over the last axis, masked above the diagonal when ``causal`` (those entries exactly 0).

    Shifted by each row's largest (unmasked) score, so ``exp`` never overflows; complex
    scores (the complex step) are shifted by their real part. ``S``: ``(..., T, T)``.

    >>> attention_weights(np.array([[0.0, 1000.0], [0.0, 0.0]]), causal=True)
    array([[1. , 0. ],
           [0.5, 0.5]])
    """
    if causal:
        S = np.where(_above_diagonal(S.shape[-1]), -np.inf, S)
    E = np.exp(S - S.real.max(axis=-1, keepdims=True))
    E /= E.sum(axis=-1, keepdims=True)
    return E


def _t(M: Array) -> Array:
    """The transpose of the last two axes (a view)."""
    return np.swapaxes(M, -1, -2)


@dataclass(frozen=True)
class AttentionState:
    """What the forward pass leaves for the backward, per sample (batch axis leading): the two products' kernels.

    ``X`` ``(…, T, d_model)``; ``Q, K, V`` ``(…, T, d_head)``; ``A`` ``(…, T, T)``;
    ``W = [W_q; W_k; W_v]`` ``(3 d_head, d_model)`` (shared by the batch); ``causal``: the mask.
    :meth:`cotangent` is the attention backward from ``∂L/∂Y`` to ``[∂L/∂Q | ∂L/∂K | ∂L/∂V]``;
    :meth:`tangent` its forward-mode analogue, from ``[dQ | dK | dV]`` to ``dY``.

    >>> from jacobnet.core.attention import SelfAttention
    >>> s = SelfAttention(2, 3, 1, causal=True, seed=0).state(np.arange(6.0) / 6)
    >>> s.A[0], s.sizes, s.cotangent(np.ones((4, 2))).shape     # 4 rows of G → 4 × [dQ | dK | dV]
    (array([1., 0.]), (2, 3, 1), (4, 2, 3))
    """

    X: Array
    Q: Array
    K: Array
    V: Array
    A: Array
    W: Array
    causal: bool = False

    @property
    def batch(self) -> int | None:
        return self.X.shape[0] if self.X.ndim == 3 else None

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(T, d_model, d_head)``."""
        return self.X.shape[-2], self.X.shape[-1], self.Q.shape[-1]

    @property
    def scale(self) -> float:
        return 1.0 / np.sqrt(self.Q.shape[-1])

    def sliced(self, start: int, stop: int) -> AttentionState:
        """Samples ``start:stop`` (views)."""
        s = slice(start, stop)
        return replace(self, X=self.X[s], Q=self.Q[s], K=self.K[s], V=self.V[s], A=self.A[s])

    def cotangent(self, G: Array) -> Array:
        """``G`` ``(…, k, T·d_head)`` → ``[dQ | dK | dV]`` ``(…, k, T, 3 d_head)``: the attention backward.

        ``dV = Aᵀ G``, ``dA = G Vᵀ``, ``dS = A ⊙ (dA − rowsum(dA ⊙ A))``, ``dQ = r dS K``, ``dK = r dSᵀ Q``;
        the ``k`` rows of ``G`` ride along as a batch axis of every matmul.
        """
        T, _, h = self.sizes
        G = G.reshape(G.shape[:-1] + (T, h))
        A = self.A[..., None, :, :]
        dA = G @ _t(self.V)[..., None, :, :]
        dS = A * (dA - np.sum(dA * A, axis=-1, keepdims=True))
        dS *= self.scale
        return np.concatenate([dS @ self.K[..., None, :, :], _t(dS) @ self.Q[..., None, :, :], _t(A) @ G], axis=-1)

    def tangent(self, dQKV: Array) -> Array:
        """``[dQ | dK | dV]`` ``(…, p, T, 3 d_head)`` → ``dY`` ``(…, p, T, d_head)``: the forward mode.

        ``dS = r (dQ Kᵀ + Q dKᵀ)``, ``dA = A ⊙ (dS − rowsum(A ⊙ dS))``, ``dY = dA V + A dV``.
        """
        h = self.sizes[2]
        dQ, dK, dV = dQKV[..., :h], dQKV[..., h : 2 * h], dQKV[..., 2 * h :]
        Q, K, V, A = (M[..., None, :, :] for M in (self.Q, self.K, self.V, self.A))
        dS = (dQ @ _t(K) + Q @ _t(dK)) * self.scale
        dA = A * (dS - np.sum(A * dS, axis=-1, keepdims=True))
        return dA @ V + A @ dV

    def backward_tangent(self, G: Array, dX: Array, dW: Array) -> tuple[Array, Array]:
        """The attention backward differentiated along ``(dX, dW)`` with ``G`` held fixed: ``(R{G J_x}, Σ_b R{G J_θ})``.

        ``G`` ``(…, T·d_head)`` one row per sample, ``dX`` ``(…, p, T, d_model)``, ``dW`` ``(p, 3 d_head, d_model)``
        (shared by the batch) → ``(…, p, T, d_model)`` and ``(p, 3 d_head, d_model)``. Forward mode through
        :meth:`cotangent` and the two GEMMs after it (``R{·}`` of every line, ``r = 1/√d_head``)::

            dQKV = dX Wᵀ + X dWᵀ,   dS = r (dQ Kᵀ + Q dKᵀ),   dA = A ⊙ (dS − rowsum(A ⊙ dS))
            Ā = G Vᵀ,  S̄ = r A ⊙ (Ā − rowsum(Ā ⊙ A)),  [Q̄ | K̄ | V̄] = [S̄ K | S̄ᵀ Q | Aᵀ G]      (the backward)
            R{Ā} = G dVᵀ
            R{S̄} = r (dA ⊙ (Ā − rowsum(Ā ⊙ A)) + A ⊙ (R{Ā} − rowsum(R{Ā} ⊙ A + Ā ⊙ dA)))
            R{Q̄} = R{S̄} K + S̄ dK,   R{K̄} = R{S̄}ᵀ Q + S̄ᵀ dQ,   R{V̄} = dAᵀ G
            R{G J_x} = R{Q̄K̄V̄} W + Q̄K̄V̄ dW,     R{G J_θ} = R{Q̄K̄V̄}ᵀ X + Q̄K̄V̄ᵀ dX

        With the mask, ``A``, ``dA``, ``S̄`` and ``R{S̄}`` are 0 above the diagonal (each carries a factor ``A``).

        >>> from jacobnet.core.attention import SelfAttention
        >>> s = SelfAttention(2, 3, 1, seed=0).state(np.arange(6.0) / 6)
        >>> gx, gw = s.backward_tangent(np.ones(2), np.ones((4, 2, 3)), np.zeros((4, 3, 3)))
        >>> gx.shape, gw.shape
        ((4, 2, 3), (4, 3, 3))
        """
        T, d, h = self.sizes
        r, W = self.scale, self.W
        X, Q, K, V, A = (M[..., None, :, :] for M in (self.X, self.Q, self.K, self.V, self.A))
        Gm = G.reshape(G.shape[:-1] + (1, T, h))
        dQKV = dX @ W.T + X @ _t(dW)  # (…, p, T, 3 d_head)
        dQ, dK, dV = dQKV[..., :h], dQKV[..., h : 2 * h], dQKV[..., 2 * h :]
        dS = (dQ @ _t(K) + Q @ _t(dK)) * r
        dA = A * (dS - np.sum(A * dS, axis=-1, keepdims=True))
        Abar = Gm @ _t(V)
        centred = Abar - np.sum(Abar * A, axis=-1, keepdims=True)
        Sbar = r * A * centred
        bar = np.concatenate([Sbar @ K, _t(Sbar) @ Q, _t(A) @ Gm], axis=-1)  # (…, 1, T, 3 d_head): the cotangent
        RAbar = Gm @ _t(dV)
        RSbar = r * (dA * centred + A * (RAbar - np.sum(RAbar * A + Abar * dA, axis=-1, keepdims=True)))
        Rbar = np.concatenate([RSbar @ K + Sbar @ dK, _t(RSbar) @ Q + _t(Sbar) @ dQ, _t(dA) @ Gm], axis=-1)  # (…, p, T, 3 d_head)
        gx = Rbar @ W + bar @ dW
        p = dX.shape[-3]
        bar_rows = np.broadcast_to(bar, Rbar.shape)
        # Σ over the batch and the tokens: one contraction each, (p, 3 d_head, B·T) by (B·T, d_model)
        first = np.moveaxis(Rbar, -3, 0).reshape(p, -1, 3 * h)
        second = np.moveaxis(bar_rows, -3, 0).reshape(p, -1, 3 * h)
        gw = _t(first) @ self.X.reshape(-1, d) + _t(second) @ np.moveaxis(dX, -3, 0).reshape(p, -1, d)
        return gx, gw

    def folded(self) -> Array:
        """``C_{t,w,a} = A_{t,w} (V_{w,a} − Y_{t,a})``, ``(…, T, T, d_head)``: the softmax Jacobian folded with ``V``."""
        Y = self.A @ self.V
        return self.A[..., :, :, None] * (self.V[..., None, :, :] - Y[..., :, None, :])

    def nbytes(self, *names: str) -> int:
        return sum(getattr(self, n).size for n in names) * F8

    def cotangent_flops(self, k: int) -> int:
        """Multiply-adds of :meth:`cotangent` per sample: four ``T × T × d_head`` products and the softmax's ``2T²``."""
        T, _, h = self.sizes
        return k * (4 * T * T * h + 2 * T * T)

    def tangent_flops(self, p: int) -> int:
        """Multiply-adds of :meth:`tangent` per sample: the same four products and ``2T²``."""
        return self.cotangent_flops(p)


def _view_or_copy(out: Array, shape: tuple[int, ...]) -> tuple[Array, bool]:
    """``out`` reshaped to ``shape`` — a view when it can be; the flag says it is a copy to write back."""
    J = out.reshape(shape)
    return J, not np.may_share_memory(J, out)


class _AttentionOperator(Operator):
    """The two Jacobians share the saved forward and the one backward."""

    kind = "attention"

    def __init__(self, state: AttentionState, shape: tuple[int, int]):
        self.state = state
        self.shape = shape
        self.batch = state.batch

    def batch_slice(self, start: int, stop: int) -> _AttentionOperator:
        return type(self)(self.state.sliced(start, stop))


class AttentionInputJacobian(_AttentionOperator):
    """``J_x`` of :class:`SelfAttention`, ``(T·d_head, T·d_model)``, through the saved forward.

    ``G @ J``: the attention backward to ``[dQ | dK | dV]``, then ``dX = [dQ | dK | dV] [W_q; W_k; W_v]``.
    ``J @ H``: ``[dQ | dK | dV] = H_X [W_q; W_k; W_v]ᵀ``, then the forward mode.

    >>> from jacobnet.core.attention import SelfAttention
    >>> J = SelfAttention(2, 3, 1, seed=0).jacobian_input_op(np.arange(6.0) / 6)
    >>> J.shape, J.kind
    ((2, 6), 'attention (2×2 token blocks)')
    >>> G = np.array([[1.0, -2.0]])
    >>> bool(np.allclose(J.vjp(G), G @ J.dense())), bool(np.allclose(J.jvp(np.eye(6)), J.dense()))
    (True, True)
    """

    def __init__(self, state: AttentionState):
        T, d, h = state.sizes
        super().__init__(state, (T * h, T * d))
        self.kind = f"attention ({T}×{T} token blocks{', causal' if state.causal else ''})"

    def _fill(self, out: Array) -> None:
        """``A_{t,s} W_v[a,c] + δ_{ts} r Σ_w C_{t,w,a} (K W_q)_{w,c} + r C_{t,s,a} (Q W_k)_{t,c}`` (module docstring)."""
        s = self.state
        (T, d, h), r = s.sizes, s.scale
        Wq, Wk, Wv = s.W[:h], s.W[h : 2 * h], s.W[2 * h :]
        C = s.folded()
        J, copied = _view_or_copy(out, out.shape[:-2] + (T, h, T, d))
        np.einsum("...ts,ac->...tasc", s.A, Wv, out=J)
        J += np.einsum("...tsa,...tc->...tasc", C, (s.Q @ Wk) * r)
        idx = np.arange(T)  # the diagonal blocks t = s; their axes come first under this indexing
        J[..., idx, :, idx, :] += np.moveaxis(np.einsum("...twa,...wc->...tac", C, (s.K @ Wq) * r), -3, 0)
        if copied:
            out[...] = J.reshape(out.shape)

    def vjp(self, G: Array) -> Array:
        dX = self.state.cotangent(G) @ self.state.W  # (…, k, T, d_model): one GEMM over all three weights
        return dX.reshape(dX.shape[:-2] + (self.shape[1],))

    def jvp(self, H: Array) -> Array:
        T, d, _ = self.state.sizes
        HX = np.moveaxis(H.reshape(H.shape[:-2] + (T, d, H.shape[-1])), -1, -3)  # (…, p, T, d_model)
        dY = self.state.tangent(HX @ self.state.W.T)
        return _t(dY.reshape(dY.shape[:-2] + (self.shape[0],)))

    def outline(self) -> list[Box]:
        """The ``T × T`` grid of ``(d_head × d_model)`` token blocks; with the mask those above the diagonal are zero (dashed)."""
        T, d, h = self.state.sizes
        causal = self.state.causal and T > 1
        grid = [Box(t * h, u * d, h, d, "dashed" if causal and u > t else "box") for t in range(T) for u in range(T)]
        label = rf"{T} \times {T}\ \mathrm{{token\ blocks}}" + (r",\ \mathrm{causal}" if causal else "")
        return [Box(0, 0, T * h, T * d, "none", label), *grid]

    @property
    def nbytes(self) -> int:
        return self.state.nbytes("Q", "K", "V", "A", "W")

    def vjp_flops(self, k: int) -> int:
        T, d, h = self.state.sizes
        return self.state.cotangent_flops(k) + k * T * 3 * h * d

    def jvp_flops(self, p: int) -> int:
        T, d, h = self.state.sizes
        return self.state.tangent_flops(p) + p * T * 3 * h * d


class AttentionParamsJacobian(_AttentionOperator):
    """``J_θ`` of :class:`SelfAttention`, ``(T·d_head, 3·d_head·d_model)``, ``θ = [vec_r(W_q), vec_r(W_k), vec_r(W_v)]``.

    ``G @ J``: the attention backward to ``dQKV = [dQ | dK | dV]``, then ``[dW_q; dW_k; dW_v] = dQKVᵀ X``;
    its batch sum is one contraction over samples and tokens. ``J @ H``: ``dQKV = X [H_q; H_k; H_v]ᵀ``, then the forward mode.

    >>> from jacobnet.core.attention import SelfAttention
    >>> J = SelfAttention(2, 3, 1, seed=0).jacobian_params_op(np.arange(12.0).reshape(2, 6) / 12)   # a batch of 2
    >>> J.shape, J.batch, J.kind
    ((2, 9), 2, 'attention [W^q | W^k | W^v]')
    >>> G = np.ones((2, 1, 2))
    >>> bool(np.allclose(J.vjp_sum(G), (G @ J.dense()).sum(axis=0)))
    True
    """

    kind = "attention [W^q | W^k | W^v]"

    def __init__(self, state: AttentionState):
        T, d, h = state.sizes
        super().__init__(state, (T * h, 3 * h * d))

    def _fill(self, out: Array) -> None:
        """``[r X_{t,c} (C K)_{t,a,b} | r Q_{t,b} (C X)_{t,a,c} | δ_{ab} (A X)_{t,c}]`` (module docstring)."""
        s = self.state
        (T, d, h), r = s.sizes, s.scale
        C = s.folded()
        J, copied = _view_or_copy(out, out.shape[:-2] + (T, h, 3, h, d))
        np.einsum("...tab,...tc->...tabc", np.einsum("...twa,...wb->...tab", C, s.K) * r, s.X, out=J[..., 0, :, :])
        np.einsum("...tb,...tac->...tabc", s.Q * r, np.einsum("...twa,...wc->...tac", C, s.X), out=J[..., 1, :, :])
        J[..., 2, :, :] = 0.0
        idx = np.arange(h)
        J[..., :, idx, 2, idx, :] = (s.A @ s.X)[..., :, None, :]  # δ_{ab}: row a of W_v only
        if copied:
            out[...] = J.reshape(out.shape)

    def vjp(self, G: Array) -> Array:
        dW = _t(self.state.cotangent(G)) @ self.state.X[..., None, :, :]  # (…, k, 3 d_head, d_model)
        return dW.reshape(dW.shape[:-2] + (self.shape[1],))

    def vjp_sum(self, G: Array, out: Array | None = None) -> Array:
        """``Σ_b dQKV_bᵀ X_b``: one GEMM over the ``B·T`` tokens of the batch, not ``B`` small ones."""
        if G.ndim != 3 or self.state.X.ndim != 3:
            return super().vjp_sum(G, out)
        B, k, _ = G.shape
        T, d, h = self.state.sizes
        dQKV = self.state.cotangent(G).transpose(1, 3, 0, 2).reshape(k, 3 * h, B * T)
        dW = (dQKV @ self.state.X.reshape(B * T, d)).reshape(k, self.shape[1])
        if out is None:
            return dW
        out[...] = dW
        return out

    def jvp(self, H: Array) -> Array:
        T, d, h = self.state.sizes
        HW = np.moveaxis(H.reshape(H.shape[:-2] + (3 * h, d, H.shape[-1])), -1, -3)  # (…, p, 3 d_head, d_model)
        dY = self.state.tangent(self.state.X[..., None, :, :] @ _t(HW))
        return _t(dY.reshape(dY.shape[:-2] + (self.shape[0],)))

    def outline(self) -> list[Box]:
        """The blocks of ``W^q``, ``W^k``, ``W^v``, ruled; in ``W^v``'s, row ``(t, a)`` holds ``(A X)_t`` in the columns of ``W^v``'s row ``a``."""
        T, d, h = self.state.sizes
        m, n = self.shape[0], h * d
        boxes = [Box(0, w * n, m, n, "none", f"W^{{{q}}}") for w, q in enumerate(NAMES)]
        boxes += [Box(0, w * n, m, n, "rule") for w in (1, 2)]
        return boxes + [Box(t * h + a, 2 * n + a * d, 1, d) for t in range(T) for a in range(h)]

    @property
    def nbytes(self) -> int:
        return self.state.nbytes("X", "Q", "K", "V", "A")

    def vjp_flops(self, k: int) -> int:
        T, d, h = self.state.sizes
        return self.state.cotangent_flops(k) + k * 3 * h * T * d

    def jvp_flops(self, p: int) -> int:
        T, d, h = self.state.sizes
        return self.state.tangent_flops(p) + p * T * 3 * h * d
