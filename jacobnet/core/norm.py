r"""Layer normalisation, :class:`LayerNorm`, and its input Jacobian, :class:`LayerNormJacobian`.

Each token ``x`` of ``n`` features (a sample is ``T`` tokens, flattened row-major) is
centred and scaled to unit variance, then scaled and shifted by ``γ`` and ``β`` —
shared by the tokens — as ``torch.nn.functional.layer_norm`` over the last axis:

    μ = (1/n) Σ_j x_j,   σ² = (1/n) Σ_j (x_j − μ)²  (biased),   σ̂ = √(σ² + ε),
    x̂ = (x − μ) / σ̂,     y = γ ⊙ x̂ + β.

Its input Jacobian, token by token, is a scaled projection:

    J_x = diag(γ/σ̂) · P,   P = I − 𝟙𝟙ᵀ/n − x̂x̂ᵀ/n   (n × n, symmetric).

``P`` removes the two directions the normalisation cannot see: shifting ``x`` along
``𝟙`` moves ``μ`` and nothing else (``P𝟙 = 0`` exactly), and scaling ``x − μ``
moves ``σ`` and leaves ``x̂`` alone — up to ``ε``: ``x̂ᵀx̂ = nσ²/(σ² + ε)``, so
``P x̂ = (ε/(σ² + ε)) x̂`` and ``P² = P − (ε/(σ² + ε)) x̂x̂ᵀ/n``. With ``ε → 0``, ``P``
is the orthogonal projection onto the complement of ``span(𝟙, x − μ)``; with
``ε > 0`` it is one only approximately (to the factor ``ε/(σ² + ε)``). The formula
for ``J_x`` itself is exact for every ``ε``. (With ``n = 2`` nothing is left after the
two directions: ``J_x`` is that ``ε`` term alone; with ``n = 1``, ``J_x = 0``.)

>>> import numpy as np
>>> ln = LayerNorm(3, tokens=2)
>>> x = np.array([1.0, 2.0, 4.0, 0.0, 0.0, 3.0])
>>> ln.forward(x).round(4)
array([-1.069 , -0.2673,  1.3363, -0.7071, -0.7071,  1.4142])
>>> J = ln.jacobian_input(x)
>>> J.shape, float(np.abs(J @ np.ones(6)).max()) < 1e-15     # P𝟙 = 0, token by token
((6, 6), True)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from jacobnet.core.labels import Labels, param_labels
from jacobnet.core.layer import Layer, Param
from jacobnet.core.numerics import F8
from jacobnet.core.operator import Box, Operator
from jacobnet.core.sizes import CAP, Entry, capped_power, measured_derivative, measured_entry, measured_params
from jacobnet.core.tokens import TokenDiagRows, diagonal_blocks, split
from jacobnet.core.validate import positive_int

if TYPE_CHECKING:
    from jacobnet.core.sizes import Measured

Array = np.ndarray
MEASURE_FEATURES = 6
"""A token's SymPy forward is measured at this many features at most (``n = 16`` would take seconds) and extrapolated."""


class LayerNormJacobian(Operator):
    """``blockdiag_t(diag(γ/σ̂_t) · (I − 𝟙𝟙ᵀ/n − x̂_t x̂_tᵀ/n))``: J_x of :class:`LayerNorm` — shape ``(T·n, T·n)``.

    ``xhat`` ``(T·n,)`` or ``(B, T·n)`` holds the normalised tokens ``x̂_t``, ``inv_sigma``
    ``(T,)`` or ``(B, T)`` their ``1/σ̂_t``, ``gamma`` ``(n,)`` the shared scale. Each block
    is a scaled projection (see :mod:`jacobnet.core.norm`). ``G @ J`` is the standard
    layer-norm backward, ``O(n)`` per token and row: with ``h = γ ⊙ g``,
    ``g ↦ (h − mean(h) − x̂ · mean(h ⊙ x̂)) / σ̂`` (``5·k·T·n`` multiply-adds; the dense
    product: ``k·T²·n²``); ``J @ H`` the same, down the columns of ``H``.

    >>> J = LayerNorm(3).jacobian_input_op(np.array([1.0, 2.0, 4.0]))     # γ = 1: P/σ̂, symmetric
    >>> J.dense().round(3)
    array([[ 0.229, -0.344,  0.115],
           [-0.344,  0.515, -0.172],
           [ 0.115, -0.172,  0.057]])
    >>> g = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])               # (2, 3) rows
    >>> bool(np.allclose(J.vjp(g), g @ J.dense(), rtol=1e-14, atol=0))
    True
    """

    kind = "diag(γ/σ̂)·P per token"

    def __init__(self, xhat: Array, inv_sigma: Array, gamma: Array):
        self.xhat, self.inv_sigma, self.gamma = xhat, inv_sigma, gamma
        self.tokens, n = inv_sigma.shape[-1], gamma.shape[0]
        self.shape = (self.tokens * n, self.tokens * n)
        self.batch = xhat.shape[0] if xhat.ndim == 2 else None

    def _tokens(self) -> Array:
        return split(self.xhat, self.tokens)  # (…, T, n)

    def _fill(self, out: Array) -> None:
        n, xh = self.gamma.shape[0], self._tokens()
        P = np.eye(n) - 1.0 / n - xh[..., :, None] * xh[..., None, :] / n  # (…, T, n, n)
        diagonal_blocks(out, self.tokens, (self.gamma[:, None] * self.inv_sigma[..., :, None, None]) * P)

    def batch_slice(self, start: int, stop: int) -> LayerNormJacobian:
        return LayerNormJacobian(self.xhat[start:stop], self.inv_sigma[start:stop], self.gamma)

    def outline(self) -> list[Box]:
        """The ``T`` diagonal blocks ``diag(γ/σ̂_t) P_t``."""
        n = self.gamma.shape[0]
        return [Box(t * n, t * n, n, n, "box", rf"P_{{{t + 1}}}") for t in range(self.tokens)]

    def vjp(self, G: Array) -> Array:
        h = split(G, self.tokens) * self.gamma  # (…, k, T, n)
        xh = self._tokens()[..., None, :, :]
        out = h - h.mean(axis=-1, keepdims=True) - xh * (h * xh).mean(axis=-1, keepdims=True)
        out *= self.inv_sigma[..., None, :, None]
        return out.reshape(out.shape[:-2] + (self.shape[1],))

    def jvp(self, H: Array) -> Array:
        Ht = split(H, self.tokens, axis=-2)  # (…, T, n, p)
        xh = self._tokens()[..., :, :, None]
        out = Ht - Ht.mean(axis=-2, keepdims=True) - xh * (xh * Ht).mean(axis=-2, keepdims=True)
        out *= self.gamma[:, None] * self.inv_sigma[..., :, None, None]
        return out.reshape(out.shape[:-3] + (self.shape[0], H.shape[-1]))

    @property
    def nbytes(self) -> int:
        return (self.xhat.size + self.inv_sigma.size + self.gamma.size) * F8

    def vjp_flops(self, k: int) -> int:
        return 5 * k * self.shape[0]

    def jvp_flops(self, p: int) -> int:
        return 5 * self.shape[0] * p


class LayerNorm(Layer):
    r"""``y_t = γ ⊙ (x_t − μ_t)/√(σ_t² + eps) + β`` for each of ``tokens`` blocks ``x_t`` of ``n`` features.

    ``μ_t`` and ``σ_t²`` are the mean and the biased variance of token ``t`` (as
    ``torch.nn.functional.layer_norm(x.reshape(T, n), (n,), γ, β, eps)``); ``γ`` and
    ``β`` ``(n,)`` are shared by the tokens and start at 1 and 0; ``θ = [γ, β]``,
    labelled ``\gamma_{i}``, ``\beta_{i}``. Input and output: ``T·n`` features.

    Jacobians: ``J_x`` — shape ``(T·n, T·n)`` — is block-diagonal, token ``t``'s block
    ``diag(γ/σ̂_t)(I − 𝟙𝟙ᵀ/n − x̂_t x̂_tᵀ/n)``, a scaled projection
    (:class:`LayerNormJacobian`, :mod:`jacobnet.core.norm`); ``J_θ`` — shape ``(T·n, 2n)`` —
    stacks the tokens' ``[diag(x̂_t) | I_n]`` (:class:`~jacobnet.core.tokens.TokenDiagRows`):
    the tokens' contributions to the shared ``γ`` and ``β`` add up.

    >>> ln = LayerNorm(2, tokens=3)
    >>> ln, ln.n_in, ln.n_params, list(ln.param_labels(1))[:3]
    (LayerNorm(2, tokens=3), 6, 4, ['\\gamma^{(1)}_{1}', '\\gamma^{(1)}_{2}', '\\beta^{(1)}_{1}'])
    >>> ln.jacobian_params(np.array([1.0, 3.0, 0.0, 0.0, 5.0, 4.0])).round(3)   # [diag(x̂_t) | I] per token
    array([[-1.,  0.,  1.,  0.],
           [ 0.,  1.,  0.,  1.],
           [ 0.,  0.,  1.,  0.],
           [ 0.,  0.,  0.,  1.],
           [ 1.,  0.,  1.,  0.],
           [ 0., -1.,  0.,  1.]])
    """

    gamma = Param(lambda self: (self.n,))
    """The scale ``γ``, ``(n,)``, shared by the tokens."""
    beta = Param(lambda self: (self.n,))
    """The shift ``β``, ``(n,)``, shared by the tokens."""

    def __init__(self, n: int, *, tokens: int = 1, eps: float = 1e-5):
        self.n, self.tokens = positive_int(n, "LayerNorm: n"), positive_int(tokens, "LayerNorm: tokens")
        if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer, np.floating)):
            raise TypeError(f"LayerNorm: eps must be a positive real number, got {eps!r}")
        if not (math.isfinite(eps) and eps > 0):
            raise ValueError(f"LayerNorm: eps must be a positive finite number, got {eps!r}")
        self.eps = float(eps)
        self.n_in = self.tokens * self.n
        self.gamma, self.beta = np.ones(self.n), np.zeros(self.n)

    def hyperparameters(self) -> dict[str, object]:
        """``n``, ``tokens`` and ``eps`` (the input size ``n_in = tokens·n`` follows from them)."""
        return {"n": self.n, "tokens": self.tokens, "eps": self.eps}

    def __repr__(self) -> str:
        """``LayerNorm(4)``, ``LayerNorm(4, tokens=3, eps=0.001)``: the arguments that are not the defaults."""
        extra = ([f"tokens={self.tokens}"] if self.tokens != 1 else []) + ([f"eps={self.eps!r}"] if self.eps != 1e-5 else [])
        return f"LayerNorm({', '.join([str(self.n), *extra])})"

    def param_labels(self, layer_index: int | None = None) -> Labels:
        r"""``\gamma^{(k)}_{i}`` then ``\beta^{(k)}_{i}``, ``i = 1 … n`` (mathtext: ``γ``, ``β``)."""
        return param_labels([(r"\gamma", (self.n,)), (r"\beta", (self.n,))], layer_index)

    def input_makeup(self) -> str:
        return f"tokens={self.tokens} × n={self.n}"

    def _normalised(self, x: Array) -> tuple[Array, Array]:
        """``(x̂, 1/σ̂)`` of every token: ``(…, T, n)`` and ``(…, T)``, for ``x`` ``(…, T·n)``."""
        c = split(x, self.tokens)
        c = c - c.mean(axis=-1, keepdims=True)
        inv = 1.0 / np.sqrt((c * c).mean(axis=-1) + self.eps)
        return c * inv[..., None], inv

    def apply(self, x: Array) -> Array:
        xhat, _ = self._normalised(x)
        return (self.gamma * xhat + self.beta).reshape(x.shape)

    def jacobian_input_op(self, x: Array) -> Operator:
        xhat, inv = self._normalised(x)
        return LayerNormJacobian(xhat.reshape(x.shape), inv, self.gamma)

    def jacobian_params_op(self, x: Array) -> Operator:
        xhat, _ = self._normalised(x)
        return TokenDiagRows(xhat.reshape(x.shape), self.tokens, "x̂", r"\hat{x}")

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        r"""``(g · R{J_x}, Σ_b g · R{J_θ})`` along ``(dx, dθ = [dγ, dβ])`` — ``(…, p, T·n)``, ``(p, 2n)``; by hand, per token.

        With ``s = 1/σ̂`` and ``h = γ ⊙ g`` the VJP is ``g J_x = s q``, ``q = h − mean(h) − x̂ mean(h ⊙ x̂)``,
        and ``g J_θ = [g ⊙ x̂ | g]``. Along ``(dx, dγ)`` (``β`` appears in neither; ``g`` held fixed):

            dx̂ = s (dx − mean(dx) − x̂ mean(x̂ ⊙ dx))     (= J_x dx at γ = 1)
            ds = −s² mean(x̂ ⊙ dx)                         (dσ̂² = 2 mean((x − μ) ⊙ dx))
            dh = dγ ⊙ g
            g · R{J_x} = ds q + s (dh − mean(dh) − dx̂ mean(h ⊙ x̂) − x̂ mean(dh ⊙ x̂ + h ⊙ dx̂))
            g · R{J_θ} = [g ⊙ dx̂ | 0]

        the last summed over the tokens and the batch (``γ``, ``β`` are shared). Exact for every ``eps``.

        >>> ln = LayerNorm(3, tokens=2)
        >>> x, g = np.array([1.0, 2.0, 4.0, 0.0, -1.0, 3.0]), np.array([1.0, 0.0, -1.0, 2.0, 1.0, 0.0])
        >>> dx, dtheta = np.array([[0.5, 0.0, 1.0, -1.0, 0.0, 0.0]]), np.array([[1.0, -1.0, 0.5, 0.0, 0.0, 0.0]])
        >>> gx, gt = ln.vjp_tangent(x, g, dx, dtheta)
        >>> def vjp(e):                                  # g J_x at (x + e dx, γ + e dγ)
        ...     ln.gamma = 1.0 + e * dtheta[0, :3]
        ...     return ln.jacobian_input_op(x + e * dx[0]).vjp(g[None])[0]
        >>> gx.shape, gt.shape, bool(np.allclose(gx[0], (vjp(1e-6) - vjp(-1e-6)) / 2e-6, rtol=0, atol=1e-8))
        ((1, 6), (1, 6), True)
        """
        n, T, p = self.n, self.tokens, dtheta.shape[0]
        xh, inv = self._normalised(x)  # (…, T, n), (…, T)
        xh_, s = xh[..., None, :, :], inv[..., None, :, None]  # with the direction axis: (…, 1, T, n), (…, 1, T, 1)
        G = split(g, T)[..., None, :, :]
        D = split(dx, T)  # (…, p, T, n)
        h = self.gamma * G
        m_hx = (h * xh_).mean(axis=-1, keepdims=True)
        q = h - h.mean(axis=-1, keepdims=True) - xh_ * m_hx
        m_xd = (xh_ * D).mean(axis=-1, keepdims=True)
        dxh = s * (D - D.mean(axis=-1, keepdims=True) - xh_ * m_xd)
        ds = -(s * s) * m_xd
        dh = dtheta[:, None, :n] * G
        inner = dh - dh.mean(axis=-1, keepdims=True) - dxh * m_hx - xh_ * (dh * xh_ + h * dxh).mean(axis=-1, keepdims=True)
        gx = ds * q + s * inner
        gamma = np.moveaxis(G * dxh, -3, 0).reshape(p, -1, n).sum(axis=1)  # Σ over the batch and the tokens
        return gx.reshape(dx.shape), np.concatenate([gamma, np.zeros((p, n))], axis=1)

    # --- symbolic forms -------------------------------------------------------------
    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``a_{t,i} = γ_i (x_{t,i} − μ_t)/√(σ_t² + eps) + β_i``, ``eps`` a SymPy ``Float``: ``T·n`` expressions.

        >>> import sympy as sp
        >>> LayerNorm(2, eps=0.25).sympy_forward(sp.symbols("x1 x2"), sp.symbols("g1 g2 b1 b2"))[0]
        b1 + g1*(x1/2 - x2/2)/sqrt((-x1/2 + x2/2)**2/2 + (x1/2 - x2/2)**2/2 + 0.25)
        """
        import sympy as sp

        n, eps, out = self.n, sp.Float(self.eps), []
        for t in range(self.tokens):
            xt = x[t * n : (t + 1) * n]
            mu = sp.Add(*xt) / n
            sd = sp.sqrt(sp.Add(*((xi - mu) ** 2 for xi in xt)) / n + eps)
            out += [theta[i] * (xt[i] - mu) / sd + theta[n + i] for i in range(n)]
        return out

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x = blockdiag_t(diag(γ)/σ̂_t · (I − 𝟙𝟙ᵀ/n − x̂_t x̂_tᵀ/n))`` — ``(T·n, T·n)``;
        ``J_θ`` = the tokens' ``[diag(x̂_t) | I]`` one under the other — ``(T·n, 2n)``. Typed from the formulas.

        >>> import sympy as sp
        >>> J_x, J_theta = LayerNorm(2, tokens=2).closed_form(sp.symbols("x1:5"), sp.symbols("g1 g2 b1 b2"))
        >>> J_x.shape, J_theta.shape, J_theta[1, 3]
        ((4, 4), (4, 4), 1)
        """
        import sympy as sp

        n, eps = self.n, sp.Float(self.eps)
        blocks, rows = [], []
        for t in range(self.tokens):
            xt = sp.Matrix(list(x[t * n : (t + 1) * n]))
            centred = xt - sp.ones(n, 1) * (sum(xt) / n)
            sd = sp.sqrt(sum(c**2 for c in centred) / n + eps)
            xhat = centred / sd
            blocks.append(sp.diag(*theta[:n]) / sd * (sp.eye(n) - sp.ones(n, n) / n - xhat * xhat.T / n))
            rows.append(sp.Matrix.hstack(sp.diag(*xhat), sp.eye(n)))
        return sp.diag(*blocks), sp.Matrix.vstack(*rows)

    # The size of the symbolic expressions: one token, measured (a token's outputs hold its n
    # inputs only); above MEASURE_FEATURES features the measurement there is extrapolated,
    # by (n / MEASURE_FEATURES)² — every output holds n centred inputs of n terms each.
    def _token(self) -> tuple[Measured | None, int, float]:
        """One token's forward measured at ``k = min(n, MEASURE_FEATURES)`` features, ``k``, and the growth ``(n/k)²``."""
        k = min(self.n, MEASURE_FEATURES)
        return LayerNorm(k, eps=self.eps)._measured(k), k, (self.n / k) ** 2

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """The largest output of a token whose inputs are each like ``u`` (measured, extrapolated)."""
        meas, k, grow = self._token()
        e = measured_entry(meas, k, u)
        return Entry(min(CAP, e.s * grow), min(CAP, e.q * grow), capped_power(u.k, self.n))

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """Every output of each token that holds one of the ``m`` inputs; the chain rule over a token's slopes."""
        meas, k, grow = self._token()
        outs, nodes = measured_derivative(meas, k, k, u, min(m, k), d)
        terms = min(m, self.n) / min(m, k)  # more terms in a wider token
        return min(self.n_in, min(math.ceil(m), self.tokens) * outs * self.n / k), min(CAP, nodes * grow * terms)

    def symbolic_params(self, u: Entry) -> list[tuple[float, int]]:
        """``∂a_{t,i}/∂γ_i = x̂_{t,i}``, ``∂a_{t,i}/∂β_i = 1``: the largest, measured; each shared by the ``T`` tokens."""
        meas, k, grow = self._token()
        [(nodes, _)] = measured_params(meas, k, 2 * k, u)
        return [(min(CAP, nodes * grow), 2 * self.n * self.tokens)]
