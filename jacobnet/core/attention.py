"""Self-attention, one head: ``Y = softmax_row(Q Kᵀ/√d_head) V`` over ``T`` tokens, and its two Jacobians.

A sample is the sequence ``X`` of shape ``(T, d_model)`` flattened row-major
(``X.reshape(-1)``, as PyTorch), one token per row. With ``W_q, W_k, W_v`` each
of shape ``(d_head, d_model)``::

    Q = X W_qᵀ,  K = X W_kᵀ,  V = X W_vᵀ            (T, d_head)
    S = Q Kᵀ / √d_head                               (T, T)   scores
    A = softmax_row(S)                               (T, T)   attention weights
    Y = A V                                          (T, d_head), flattened

``causal=True`` masks ``S_{t,u}`` for ``u > t`` to ``−∞`` before the softmax (as
``F.scaled_dot_product_attention(..., is_causal=True)``): token ``t`` attends to
tokens ``1 … t`` only, and ``A_{t,u} = 0`` exactly. ``θ = [vec_r(W_q), vec_r(W_k), vec_r(W_v)]``.

The Jacobians are written with ``C_{t,w,a} = A_{t,w} (V_{w,a} − Y_{t,a})`` (the
softmax's Jacobian, folded with ``V``) and ``r = 1/√d_head``::

    ∂Y_{t,a}/∂X_{s,c}     = A_{t,s} W_v[a,c] + δ_{ts} r Σ_w C_{t,w,a} (K W_q)_{w,c} + r C_{t,s,a} (Q W_k)_{t,c}
    ∂Y_{t,a}/∂W_q[b,c]    = r X_{t,c} (C K)_{t,a,b}        (C K)_{t,a,b} = Σ_w C_{t,w,a} K_{w,b}
    ∂Y_{t,a}/∂W_k[b,c]    = r Q_{t,b} (C X)_{t,a,c}
    ∂Y_{t,a}/∂W_v[b,c]    = δ_{ab} (A X)_{t,c}

``J_x`` is ``(T·d_head, T·d_model)``: a ``T × T`` grid of ``(d_head × d_model)``
token blocks, block-lower-triangular with the mask. Their structured products
are the framework's attention backward (:class:`AttentionState`): ``O(T² d_head + T d_head d_model)``
per row of ``G`` instead of the dense ``T² d_head d_model``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from jacobnet.core.labels import Labels
from jacobnet.core.layer import Layer, Param
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Box, Operator
from jacobnet.core.sizes import CAP, Entry, capped_power
from jacobnet.core.validate import positive_int, seed_value

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


class SelfAttention(Layer):
    """One attention head over ``T = tokens`` tokens: ``Y = softmax_row(Q Kᵀ/√d_head) V`` (module docstring).

    Input ``X`` ``(tokens, d_model)`` flattened row-major, output ``Y`` ``(tokens, d_head)``
    flattened; ``Q = X W_qᵀ``, ``K = X W_kᵀ``, ``V = X W_vᵀ``, each ``W`` ``(d_head, d_model)``,
    ``θ = [vec_r(W_q), vec_r(W_k), vec_r(W_v)]``. ``causal=True`` masks the scores above the
    diagonal (token ``t`` sees tokens ``≤ t``). Jacobians: ``J_x`` — ``(T·d_head, T·d_model)``,
    every output token depending on every (earlier, with the mask) input token;
    ``J_θ`` — ``(T·d_head, 3·d_head·d_model)``. Weights start as ``N(0, 1/d_model)``.

    >>> import numpy as np
    >>> att = SelfAttention(2, 3, 1, causal=True, seed=0)       # 2 tokens of 3 features → 2 tokens of 1
    >>> x = np.array([0.5, -1.0, 2.0, 1.0, 0.0, -0.5])
    >>> att.forward(x).shape, att.jacobian_input(x).shape, att.jacobian_params(x).shape
    ((2,), (2, 6), (2, 9))
    >>> att.jacobian_input(x)[0, 3:]                           # token 1 does not see token 2
    array([0., 0., 0.])
    >>> bool(np.allclose(att.forward(x)[0], att.W_v @ x[:3]))   # it attends to itself only
    True
    """

    W_q = Param(lambda self: (self.d_head, self.d_model))
    """The query weights, ``(d_head, d_model)``."""
    W_k = Param(lambda self: (self.d_head, self.d_model))
    """The key weights, ``(d_head, d_model)``."""
    W_v = Param(lambda self: (self.d_head, self.d_model))
    """The value weights, ``(d_head, d_model)``."""

    def __init__(self, tokens: int, d_model: int, d_head: int, *, causal: bool = False, seed: int | None = None):
        self.tokens = positive_int(tokens, "SelfAttention: tokens")
        self.d_model = positive_int(d_model, "SelfAttention: d_model")
        self.d_head = positive_int(d_head, "SelfAttention: d_head")
        if not isinstance(causal, (bool, np.bool_)):
            raise TypeError(f"SelfAttention: causal must be True or False, got {causal!r} ({type(causal).__name__})")
        self.causal = bool(causal)
        self.n_in = self.tokens * self.d_model
        h, d = self.d_head, self.d_model
        check_budget(F8 * 3 * h * d, f"the weights of {self!r}", "use smaller layers")
        rng = np.random.default_rng(seed_value(seed, "SelfAttention: seed"))
        self.W_q, self.W_k, self.W_v = (rng.normal(0.0, 1.0 / np.sqrt(d), size=(h, d)) for _ in NAMES)

    def out_size(self, n_in: int) -> int:
        return self.tokens * self.d_head

    def input_makeup(self) -> str:
        return f"tokens={self.tokens} × d_model={self.d_model}"

    # --- the math ---------------------------------------------------------------------
    def state(self, x: Array) -> AttentionState:
        """The forward pass at ``x`` ``(n_in,)`` or ``(B, n_in)``, kept for the Jacobians (:class:`AttentionState`)."""
        T, d, h = self.tokens, self.d_model, self.d_head
        X = x.reshape(x.shape[:-1] + (T, d))
        W = np.concatenate([self.W_q, self.W_k, self.W_v])
        QKV = X @ W.T  # one GEMM for the three projections
        Q, K, V = QKV[..., :h], QKV[..., h : 2 * h], QKV[..., 2 * h :]
        A = attention_weights((Q @ _t(K)) * (1.0 / np.sqrt(h)), self.causal)
        return AttentionState(X, Q, K, V, A, W, self.causal)

    def apply(self, x: Array) -> Array:
        s = self.state(x)
        return (s.A @ s.V).reshape(x.shape[:-1] + (self.tokens * self.d_head,))

    def jacobian_input_op(self, x: Array) -> Operator:
        return AttentionInputJacobian(self.state(x))

    def jacobian_params_op(self, x: Array) -> Operator:
        return AttentionParamsJacobian(self.state(x))

    def param_labels(self, layer_index: int | None = None) -> Sequence[str]:
        """``W^{q}_{i,j}``, ``W^{k}_{i,j}``, ``W^{v}_{i,j}`` in ``θ`` order; with the layer's index ``k``, ``W^{q(k)}_{i,j}``.

        >>> list(SelfAttention(2, 2, 1).param_labels(3))
        ['W^{q(3)}_{1,1}', 'W^{q(3)}_{1,2}', 'W^{k(3)}_{1,1}', 'W^{k(3)}_{1,2}', 'W^{v(3)}_{1,1}', 'W^{v(3)}_{1,2}']
        """
        h, d = self.d_head, self.d_model
        sup = "" if layer_index is None else f"({layer_index})"

        def label(j: int) -> str:
            w, rest = divmod(j, h * d)
            i, c = divmod(rest, d)
            return f"W^{{{NAMES[w]}{sup}}}_{{{i + 1},{c + 1}}}"

        return Labels(3 * h * d, label)

    # --- symbolic forms -------------------------------------------------------------------
    def _allowed(self, t: int) -> range:
        """The tokens ``u`` that token ``t`` attends to."""
        return range(t + 1 if self.causal else self.tokens)

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``Y_{t,a} = Σ_u exp(S_{t,u}) V_{u,a} / Σ_u exp(S_{t,u})``, ``S = Q Kᵀ/√d_head`` (masked terms omitted): ``T·d_head`` expressions.

        >>> import sympy as sp
        >>> SelfAttention(2, 1, 1, causal=True).sympy_forward(sp.symbols("x1 x2"), sp.symbols("q k v"))[0]
        v*x1
        """
        import sympy as sp

        T, d, h = self.tokens, self.d_model, self.d_head
        X = [list(x[t * d : (t + 1) * d]) for t in range(T)]
        Wq, Wk, Wv = ([list(theta[(w * h + b) * d : (w * h + b + 1) * d]) for b in range(h)] for w in range(3))

        def project(Wm: list, t: int) -> list:
            return [sp.Add(*(Wm[b][c] * X[t][c] for c in range(d))) for b in range(h)]

        Q, K, V = ([project(Wm, t) for t in range(T)] for Wm in (Wq, Wk, Wv))
        out = []
        for t in range(T):
            e = {u: sp.exp(sp.Add(*(Q[t][b] * K[u][b] for b in range(h))) / sp.sqrt(h)) for u in self._allowed(t)}
            total = sp.Add(*e.values())
            out += [sp.Add(*(e[u] * V[u][a] for u in e)) / total for a in range(h)]
        return out

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """The hand-derived ``(J_x, J_θ)`` of the module docstring — ``(T·d_head, T·d_model)``, ``(T·d_head, 3·d_head·d_model)``.

        >>> import sympy as sp
        >>> J_x, J_theta = SelfAttention(2, 1, 1, causal=True).closed_form(sp.symbols("x1 x2"), sp.symbols("q k v"))
        >>> J_x[0, :], J_theta[0, :]
        (Matrix([[v, 0]]), Matrix([[0, 0, x1]]))
        """
        import sympy as sp

        T, d, h = self.tokens, self.d_model, self.d_head
        X = sp.Matrix(T, d, list(x))
        Wq, Wk, Wv = (sp.Matrix(h, d, list(theta[w * h * d : (w + 1) * h * d])) for w in range(3))
        Q, K, V, r = X * Wq.T, X * Wk.T, X * Wv.T, 1 / sp.sqrt(h)
        S = Q * K.T * r
        E = sp.Matrix(T, T, lambda t, u: sp.exp(S[t, u]) if u in self._allowed(t) else 0)
        A = sp.Matrix(T, T, lambda t, u: E[t, u] / sum(E.row(t)))
        Y, KWq, QWk, AX = A * V, K * Wq, Q * Wk, A * X

        def C(t: int, w: int, a: int) -> Any:  # A_{t,w} (V_{w,a} − Y_{t,a})
            return A[t, w] * (V[w, a] - Y[t, a])

        def by_input(i: int, j: int) -> Any:
            (t, a), (s, c) = divmod(i, h), divmod(j, d)
            diagonal = r * sum(C(t, w, a) * KWq[w, c] for w in range(T)) if t == s else 0
            return A[t, s] * Wv[a, c] + diagonal + r * C(t, s, a) * QWk[t, c]

        def by_params(i: int, j: int) -> Any:
            (t, a), (w, rest) = divmod(i, h), divmod(j, h * d)
            b, c = divmod(rest, d)
            if w == 0:
                return r * X[t, c] * sum(C(t, u, a) * K[u, b] for u in range(T))
            if w == 1:
                return r * Q[t, b] * sum(C(t, u, a) * X[u, c] for u in range(T))
            return AX[t, c] if a == b else 0

        return sp.Matrix(T * h, T * d, by_input), sp.Matrix(T * h, 3 * h * d, by_params)

    # The size of the symbolic expressions (:mod:`jacobnet.core.sizes`), counted from the shape of
    # sympy_forward rather than measured: measuring builds and differentiates the whole layer, seconds
    # already at 16 inputs. Slopes and parameter derivatives are about 3.1–3.5 and 2.7–2.9 times an
    # output's nodes (measured at T ≤ 4, d_model ≤ 4, d_head ≤ 2).
    SLOPE_RATIO = 3.5
    PARAM_RATIO = 3.0

    def _output_nodes(self, s: float) -> float:
        """Nodes of ``Y_{t,a} = N / D`` when each input has ``s``: ``N = Σ_u e_u V_{u,a}``, ``D = Σ_u e_u``, ``e_u = exp(S_{t,u})``."""
        T, d, h = self.tokens, self.d_model, self.d_head
        v = 1 + d * (s + 2) if d > 1 else s + 2  # a projection Σ_c W_{b,c} x_c
        pair = 1 + 2 * v if d > 1 else 3 + 2 * s  # Q_{t,b} K_{u,b}
        e = (h * pair + 1 + 5 if h > 1 else pair) + 1  # exp(Σ_b Q K / √h)
        return min(CAP, 3 + (1 + T * (2 + e + v)) + (1 + T * e))

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """``Σ_u e_u V_{u,a} / Σ_u e_u`` over all ``T`` tokens: ``≈ T (2 e + v)`` nodes, ``e`` a score's ``exp``, ``v`` a projection."""
        return Entry(self._output_nodes(u.s), self._output_nodes(u.q), capped_power(u.k, n_in))

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """``Σ_j ∂a_i/∂x_j dx_j`` over the ``m`` inputs that carry the parameter (each reaches every output)."""
        held = min(math.ceil(m), n_in)
        slope = self.SLOPE_RATIO * self._output_nodes(u.s)
        return self.out_size(n_in), min(CAP, held * (slope + d + 1) + held - 1)

    def symbolic_params(self, u: Entry) -> list[tuple[float, int]]:
        """``∂a_i/∂W_{b,c}``: about :attr:`PARAM_RATIO` outputs' nodes each, ``3 d_head d_model`` of them."""
        return [(self.PARAM_RATIO * self._output_nodes(u.s), self.n_params)]

    def __repr__(self) -> str:
        causal = ", causal=True" if self.causal else ""
        return f"SelfAttention({self.tokens}, {self.d_model}, {self.d_head}{causal})"
