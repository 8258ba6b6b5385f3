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
are the framework's attention backward (:mod:`jacobnet.core.attention_jacobians`): ``O(T² d_head + T d_head d_model)``
per row of ``G`` instead of the dense ``T² d_head d_model``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from jacobnet.core.attention_jacobians import (
    NAMES,
    AttentionInputJacobian,
    AttentionParamsJacobian,
    AttentionState,
    attention_weights,
)
from jacobnet.core.labels import Labels
from jacobnet.core.layer import Layer, Param
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Operator
from jacobnet.core.sizes import CAP, Entry, capped_power
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray
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
        A = attention_weights((Q @ np.swapaxes(K, -1, -2)) * (1.0 / np.sqrt(h)), self.causal)
        return AttentionState(X, Q, K, V, A, W, self.causal)

    def apply(self, x: Array) -> Array:
        s = self.state(x)
        return (s.A @ s.V).reshape(x.shape[:-1] + (self.tokens * self.d_head,))

    def jacobian_input_op(self, x: Array) -> Operator:
        return AttentionInputJacobian(self.state(x))

    def jacobian_params_op(self, x: Array) -> Operator:
        return AttentionParamsJacobian(self.state(x))

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``(g · R{J_x}, Σ_b g · R{J_θ})`` along ``(dX, dW_q, dW_k, dW_v)`` — ``(…, p, T·d_model)``, ``(p, 3 d_head d_model)``.

        Forward mode through the attention backward (``g`` held fixed): with ``dQKV = dX Wᵀ + X dWᵀ``,
        ``dS = r (dQ Kᵀ + Q dKᵀ)``, ``dA = A ⊙ (dS − rowsum(A ⊙ dS))`` and the backward's
        ``Ā = G Vᵀ``, ``S̄ = r A ⊙ (Ā − rowsum(Ā ⊙ A))``, ``Q̄K̄V̄ = [S̄ K | S̄ᵀ Q | Aᵀ G]``:

            R{S̄} = r (dA ⊙ (Ā − rowsum(Ā ⊙ A)) + A ⊙ (G dVᵀ − rowsum(G dVᵀ ⊙ A + Ā ⊙ dA)))
            R{Q̄K̄V̄} = [R{S̄} K + S̄ dK | R{S̄}ᵀ Q + S̄ᵀ dQ | dAᵀ G]
            g · R{J_x} = R{Q̄K̄V̄} W + Q̄K̄V̄ dW,     g · R{J_θ} = R{Q̄K̄V̄}ᵀ X + Q̄K̄V̄ᵀ dX   (summed over the batch)

        (:meth:`~jacobnet.core.attention_jacobians.AttentionState.backward_tangent`); the cost of about two
        attention backwards per direction.

        >>> att = SelfAttention(2, 3, 2, causal=True, seed=0)
        >>> x, g = np.array([0.5, -1.0, 2.0, 1.0, 0.0, -0.5]), np.array([1.0, 0.0, -1.0, 2.0])
        >>> dx, dtheta = np.ones((1, 6)), np.full((1, 18), 0.1)
        >>> gx, gt = att.vjp_tangent(x, g, dx, dtheta)
        >>> def vjp(e):                                  # g J_x at (x + e dx, θ + e dθ)
        ...     att.set_params(theta + e * dtheta[0])
        ...     return att.jacobian_input_op(x + e * dx[0]).vjp(g[None])[0]
        >>> theta = att.get_params()
        >>> gx.shape, gt.shape, bool(np.allclose(gx[0], (vjp(1e-6) - vjp(-1e-6)) / 2e-6, rtol=0, atol=1e-8))
        ((1, 6), (1, 18), True)
        """
        T, d, h, p = self.tokens, self.d_model, self.d_head, dtheta.shape[0]
        dX = dx.reshape(dx.shape[:-1] + (T, d))
        gx, gw = self.state(x).backward_tangent(g, dX, dtheta.reshape(p, 3 * h, d))
        return gx.reshape(dx.shape), gw.reshape(p, 3 * h * d)

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
