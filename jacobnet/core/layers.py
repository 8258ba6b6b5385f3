"""The built-in layers — Dense, the elementwise activations, Softmax — each one class owning every form of itself.

Every layer ``a = f(x; θ)`` answers three questions:

* ``forward(x)``: the value ``a``, shape ``(n_out,)`` or ``(B, n_out)``;
* ``jacobian_input(x)``: ``J_x = ∂a/∂x``, shape ``(n_out, n_in)`` (rows = outputs);
* ``jacobian_params(x)``: ``J_θ = ∂a/∂θ``, shape ``(n_out, n_params)``, with
  columns in ``get_params()`` order; ``(n_out, 0)`` for a parameter-free layer.

For a batch ``(B, n_in)`` the Jacobian methods return the stacked per-sample
Jacobians ``(B, n_out, n_in)`` and ``(B, n_out, n_params)``. Each Jacobian is
written once, as a structured operator (``jacobian_input_op``,
``jacobian_params_op``, see :mod:`jacobnet.core.operators`); the dense matrices
are materialised from it. Each class also owns its symbolic forms: its SymPy
forward expression (``sympy_forward``), its hand-derived Jacobians
(``closed_form``) and the size estimate of its expressions (``symbolic_*``,
see :mod:`jacobnet.core.sizes`).

>>> import numpy as np
>>> layer = Dense(3, 2, seed=0)
>>> x = np.array([1.0, 2.0, 3.0])
>>> layer.jacobian_input(x).shape, layer.jacobian_params(x).shape
((2, 3), (2, 8))
>>> Tanh().jacobian_input(np.zeros((5, 4))).shape     # a batch of 5
(5, 4, 4)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from jacobnet.core.layer import Layer, Param
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8, ones, softmax
from jacobnet.core.operator import Operator
from jacobnet.core.operators import DiagMinusOuter, Diagonal, KronRows, Matrix
from jacobnet.core.rules import Rule, get_rule
from jacobnet.core.sizes import Entry, capped_power, rule_derivative, rule_entry
from jacobnet.core.tokens import TokenKronRows, TokenMatrix
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray


class Dense(Layer):
    """``y = W x + b`` with ``W`` of shape ``(n_out, n_in)`` and ``b`` of shape ``(n_out,)``.

    Jacobians: ``J_x = W`` — shape ``(n_out, n_in)``; with ``θ = [vec_r(W), b]``
    (row-major), ``J_θ = [I_{n_out} ⊗ xᵀ | I_{n_out}]`` — shape
    ``(n_out, n_out·n_in + n_out)``. Biases start at 0, weights as ``init`` says
    (``n = n_in``, ``m = n_out`` of a token; every init times ``gain``, default 1):

    ================  ==============================================================
    ``"lecun"``       ``W_ij ~ N(0, 1/n)`` (the default)
    ``"xavier"``      ``W_ij ~ N(0, 2/(n + m))`` (Glorot & Bengio, 2010)
    ``"he"``          ``W_ij ~ N(0, 2/n)`` (He et al., 2015)
    ``"orthogonal"``  ``Q`` of ``A = QR``, ``A`` a ``max(m, n) × min(m, n)`` standard Gaussian,
                      columns' signs set so that ``diag R > 0`` (uniform, Haar); ``Qᵀ`` if ``m < n``:
                      ``WᵀW = I`` (``m ≥ n``) or ``WWᵀ = I`` (Saxe et al., 2014)
    ================  ==============================================================

    The reason is the Jacobian: backpropagation multiplies by ``J_x = W`` and by
    an activation's ``D = diag(f′(z))``, and for ``W_ij ~ N(0, σ²)``,
    ``E‖W v‖² = m σ² ‖v‖²`` and ``E‖uᵀ W‖² = n σ² ‖u‖²``. Each init picks ``σ²`` so
    that a square layer and its activation keep a vector's length on average,
    ``E‖J v‖² = ‖v‖²`` with ``J = D W``, when ``E f′(z)² = 1/g²`` for the activation's
    gain ``g``: ``"lecun"`` for ``g = 1`` (linear; tanh near 0), keeping
    ``E z_i² = ‖x‖²/n`` forward; ``"xavier"`` the compromise ``2/(n + m)`` between
    forward (``1/n``) and backward (``1/m``), ``1/n`` when square; ``"he"`` for
    ReLU, which zeroes half the slopes (``E f′² = 1/2``, ``g = √2``).
    ``"orthogonal"`` keeps every length exactly, not only on average: all of ``W``'s
    singular values are 1 (``gain``), so a deep linear network's product is
    orthogonal too. With ``gain = g`` the variance is ``g²`` times the table's.
    The init changes only where ``θ`` starts, never the layer's function: it is
    not a hyper-parameter of :meth:`key`.

    With ``tokens=T`` the same ``W`` and ``b`` apply to each of ``T`` tokens: the
    input is ``(T, n_in)`` flattened row-major (a sample of ``T·n_in``), the output
    ``(T, n_out)`` flattened, ``y_t = W x_t + b``. Then ``J_x = I_T ⊗ W`` — shape
    ``(T·n_out, T·n_in)`` (:class:`~jacobnet.core.tokens.TokenMatrix`) — and ``J_θ``
    stacks the tokens' ``[I ⊗ x_tᵀ | I]`` — shape ``(T·n_out, n_out·n_in + n_out)``
    (:class:`~jacobnet.core.tokens.TokenKronRows`): the tokens' contributions to the
    shared ``W`` and ``b`` add up in the gradient. The layer's ``n_in`` and ``n_out``
    are then the flattened sizes, ``T·n_in`` and ``T·n_out``; ``features_in`` and
    ``features_out`` are a token's.

    >>> import numpy as np
    >>> d = Dense(3, 2, seed=0)
    >>> d.set_params(np.arange(8.0))            # W = [[0,1,2],[3,4,5]], b = [6,7]
    >>> d.forward(np.array([1.0, 0.0, -1.0]))
    array([4., 5.])
    >>> d.jacobian_params(np.array([1.0, 0.0, -1.0]))
    array([[ 1.,  0., -1.,  0.,  0.,  0.,  1.,  0.],
           [ 0.,  0.,  0.,  1.,  0., -1.,  0.,  1.]])
    >>> t = Dense(3, 2, tokens=2, seed=0)       # two tokens of 3 features → two of 2
    >>> t.set_params(np.arange(8.0))
    >>> t, t.n_in, t.n_out, t.forward(np.array([1.0, 0.0, -1.0, 0.0, 1.0, 0.0]))
    (Dense(3, 2, tokens=2), 6, 4, array([ 4.,  5.,  7., 11.]))
    >>> t.jacobian_input(np.zeros(6)).shape, t.jacobian_params(np.zeros(6)).shape
    ((4, 6), (4, 8))
    >>> q = Dense(3, 5, init="orthogonal", seed=0)      # 5 × 3: orthonormal columns
    >>> q, bool(np.allclose(q.W.T @ q.W, np.eye(3), atol=1e-15)), q.key() == Dense(3, 5).key()
    (Dense(3, 5, init='orthogonal'), True, True)
    """

    W = Param(lambda self: (self.features_out, self.features_in))
    """The weights, ``(n_out, n_in)`` (a token's sizes)."""
    b = Param(lambda self: (self.features_out,))
    """The biases, ``(n_out,)``."""
    INITS = ("lecun", "xavier", "he", "orthogonal")
    """The weight initialisations ``init`` may name (the class docstring gives each one's formula)."""

    def __init__(self, n_in: int, n_out: int, *, tokens: int = 1, init: str = "lecun", gain: float = 1.0, seed: int | None = None):
        self.features_in, self.features_out = positive_int(n_in, "Dense: n_in"), positive_int(n_out, "Dense: n_out")
        self.tokens = positive_int(tokens, "Dense: tokens")
        if not isinstance(init, str) or init not in self.INITS:
            raise ValueError(f"Dense: init must be one of {', '.join(map(repr, self.INITS))}, got {init!r}")
        if isinstance(gain, (bool, np.bool_)) or not isinstance(gain, (int, float, np.integer, np.floating)) or not 0 < gain < np.inf:
            raise ValueError(f"Dense: gain must be a positive finite number, got {gain!r}")
        self.init, self.gain = init, float(gain)
        self.n_in, self.n_out = self.tokens * self.features_in, self.tokens * self.features_out
        check_budget(F8 * self.features_out * (self.features_in + 1), f"the weights of Dense({n_in}, {n_out})", "use smaller layers")
        self.W = self._initial_weights(np.random.default_rng(seed_value(seed, "Dense: seed")))
        self.b = np.zeros(self.features_out)

    def _initial_weights(self, rng: np.random.Generator) -> Array:
        """``W`` drawn as :attr:`init` says, times :attr:`gain`: ``(n_out, n_in)`` (the class docstring's table)."""
        m, n = self.features_out, self.features_in
        if self.init == "orthogonal":
            Q, R = np.linalg.qr(rng.normal(size=(max(m, n), min(m, n))))
            Q = Q * np.where(np.diag(R) < 0, -1.0, 1.0)  # the sign fix: Haar-distributed, not biased by the QR
            return self.gain * (Q if m >= n else Q.T)
        std = {"lecun": 1.0 / np.sqrt(n), "xavier": np.sqrt(2.0 / (n + m)), "he": np.sqrt(2.0 / n)}[self.init]
        return rng.normal(0.0, self.gain * std, size=(m, n))

    @property
    def name(self) -> str:
        """``Dense(3→2)``; with tokens, ``Dense(4×3→4×2)``."""
        if self.tokens == 1:
            return f"Dense({self.n_in}→{self.n_out})"
        return f"Dense({self.tokens}×{self.features_in}→{self.tokens}×{self.features_out})"

    def hyperparameters(self) -> dict[str, object]:
        """The constructor's sizes: a token's ``n_in`` and ``n_out``, and ``tokens`` (not ``init``: it only starts ``θ``)."""
        return {"n_in": self.features_in, "n_out": self.features_out, "tokens": self.tokens}

    def input_makeup(self) -> str | None:
        """``tokens=4 × n_in=3`` for a per-token layer (what its input size is made of); ``None`` for one token."""
        return f"tokens={self.tokens} × n_in={self.features_in}" if self.tokens > 1 else None

    def out_size(self, n_in: int) -> int:
        return self.n_out

    def apply(self, x: Array) -> Array:
        if self.tokens == 1:
            y = x @ self.W.T
        else:
            y = x.reshape(-1, self.features_in) @ self.W.T  # every (sample, token) in one GEMM
        y += self.b  # (in place: no second array of the output's size)
        return y if self.tokens == 1 else y.reshape(x.shape[:-1] + (self.n_out,))

    def jacobian_input_op(self, x: Array) -> Operator:
        batch = x.shape[0] if x.ndim == 2 else None
        return Matrix(self.W, batch=batch) if self.tokens == 1 else TokenMatrix(self.W, self.tokens, batch=batch)

    def jacobian_params_op(self, x: Array) -> Operator:
        return KronRows(x, self.n_out) if self.tokens == 1 else TokenKronRows(x, self.features_out, self.tokens)

    def vjp_input(self, x: Array, a: Array, g: Array) -> Array:
        """``g W``: one GEMM (per token, ``g_t W``, every (sample, token) row in one) — ``(…, n_out)`` → ``(…, n_in)``."""
        if self.tokens == 1:
            return g @ self.W
        return (g.reshape(-1, self.features_out) @ self.W).reshape(g.shape[:-1] + (self.n_in,))

    def vjp_params_sum(self, x: Array, a: Array, g: Array, out: Array) -> None:
        """``[vec_r(Gᵀ X) | Gᵀ 𝟙]`` written in place: the W block one GEMM, as ``KronRows.vjp_sum`` (one sample: ``g ⊗ x``).

        With tokens, ``G`` and ``X`` hold a row per (sample, token): the tokens' contributions add up.

        >>> import numpy as np
        >>> d, out = Dense(3, 2, seed=0), np.empty(8)
        >>> d.vjp_params_sum(np.array([1.0, 2.0, 3.0]), None, np.array([1.0, -1.0]), out)
        >>> out
        array([ 1.,  2.,  3., -1., -2., -3.,  1., -1.])
        """
        m, n = self.features_out, self.features_in
        W = out[: m * n].reshape(m, n)
        if g.ndim == 1 and self.tokens == 1:
            np.dot(g[:, None], x[None, :], out=W)  # the outer product g ⊗ x as a BLAS product: faster than the ufunc's
            out[m * n :] = g
            return None
        G, X = g.reshape(-1, m), x.reshape(-1, n)  # (views: a row per sample and token)
        np.dot(G.T, X, out=W)
        np.dot(G.T, ones(G.shape[0]), out=out[m * n :])
        return None

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``R{J_x} = dW`` and ``R{J_θ} = [I ⊗ dxᵀ | 0]``: ``(g dW, Σ_b [vec_r(g ⊗ dx) | 0])`` — ``(…, p, n_in)``, ``(p, n_params)``.

        Per token: ``g_t dW`` for each token, and the tokens' ``g_t ⊗ dx_t`` add up.
        The weight part of a batch is one GEMM over every (sample, token) row.

        >>> import numpy as np
        >>> d = Dense(3, 2, seed=0)
        >>> gx, gt = d.vjp_tangent(np.ones(3), np.array([1.0, 2.0]), np.array([[1.0, 0.0, -1.0]]), np.ones((1, 8)))
        >>> gx, gt                                  # g dW = (3, 3, 3); g ⊗ dx, then 0 for b
        (array([[3., 3., 3.]]), array([[ 1.,  0., -1.,  2.,  0., -2.,  0.,  0.]]))
        """
        m, n, T, p = self.features_out, self.features_in, self.tokens, dtheta.shape[0]
        dW = dtheta[:, : m * n].reshape(p, m, n)
        G = g.reshape(g.shape[:-1] + (T, m))  # (…, T, m)
        gx = np.moveaxis(np.tensordot(G, dW, axes=([-1], [1])), -3, -2)  # (…, p, T, n)
        D = np.moveaxis(dx.reshape(dx.shape[:-1] + (T, n)), -3, -2)  # (…, T, p, n)
        gW = np.tensordot(G.reshape(-1, m), D.reshape(-1, p, n), axes=([0], [0]))  # (m, p, n): one GEMM
        gtheta = np.concatenate([np.moveaxis(gW, 1, 0).reshape(p, m * n), np.zeros((p, m))], axis=1)
        return gx.reshape(gx.shape[:-2] + (T * n,)), gtheta

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``a_i = Σ_j W_{i,j} x_j + b_i`` with ``θ = [vec_r(W), b]``: ``n_out`` expressions (per token, ``T·n_out``).

        >>> import sympy as sp
        >>> Dense(2, 1).sympy_forward(sp.symbols("x1 x2"), sp.symbols("w1 w2 b"))
        [b + w1*x1 + w2*x2]
        >>> Dense(1, 1, tokens=2).sympy_forward(sp.symbols("x1 x2"), sp.symbols("w b"))
        [b + w*x1, b + w*x2]
        """
        import sympy as sp

        m, n = self.features_out, self.features_in
        return [
            sp.Add(*(theta[i * n + j] * x[t * n + j] for j in range(n)), theta[m * n + i]) for t in range(self.tokens) for i in range(m)
        ]

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x = W`` — ``(n_out, n_in)``; ``J_θ = [I_{n_out} ⊗ xᵀ | I_{n_out}]`` — ``(n_out, n_out·(n_in + 1))``.

        With tokens: ``J_x = I_T ⊗ W`` and ``J_θ`` the tokens' ``[I ⊗ x_tᵀ | I]`` one under the other.

        >>> import sympy as sp
        >>> J_x, J_theta = Dense(2, 1).closed_form(sp.symbols("x1 x2"), sp.symbols("w1 w2 b"))
        >>> J_x, J_theta
        (Matrix([[w1, w2]]), Matrix([[x1, x2, 1]]))
        >>> Dense(1, 1, tokens=2).closed_form(sp.symbols("x1 x2"), sp.symbols("w b"))
        (Matrix([
        [w, 0],
        [0, w]]), Matrix([
        [x1, 1],
        [x2, 1]]))
        """
        import sympy as sp

        m, n, T = self.features_out, self.features_in, self.tokens
        W = sp.Matrix(m, n, list(theta[: m * n]))
        rows = [sp.Matrix.hstack(sp.kronecker_product(sp.eye(m), sp.Matrix([list(x[t * n : (t + 1) * n])])), sp.eye(m)) for t in range(T)]
        return sp.kronecker_product(sp.eye(T), W), sp.Matrix.vstack(*rows)

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """``Σ_j W_{i,j} u_j + b_i`` over a token's ``n_in`` inputs: ``s ← n_in (s + 2) + 2`` nodes, ``k ← k^{n_in}`` branches."""
        n = self.features_in
        return Entry(n * (u.s + 2) + 2, n * (u.q + 2) + 2, capped_power(u.k, n))

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """``Σ_j W_{i,j} du_j``: every output of a token that holds one of the ``m`` inputs depends;
        ``m' (d + 2) + 1`` nodes, ``m' = min(m, n_in)`` of them in a token (no ``Add`` for one term)."""
        per_token = min(m, self.features_in)
        return min(math.ceil(m), self.tokens) * self.features_out, per_token * (d + 2) + (per_token > 1)

    def symbolic_params(self, u: Entry) -> list[tuple[float, int]]:
        """``∂a_i/∂W_{i,j} = u_j`` (``s`` nodes, ``n_out·n_in`` of them), ``∂a_i/∂b_i = 1`` (``n_out``);
        each shared by the ``T`` tokens, so counted ``T`` times (once per output it reaches)."""
        T = self.tokens
        return [(u.s, T * self.features_out * self.features_in), (1.0, T * self.features_out)]

    def __repr__(self) -> str:
        """``Dense(3, 2)``; with tokens, ``Dense(3, 2, tokens=4)``; another init or gain, ``Dense(3, 2, init='he')``."""
        tokens = "" if self.tokens == 1 else f", tokens={self.tokens}"
        init = "" if self.init == "lecun" else f", init={self.init!r}"
        gain = "" if self.gain == 1.0 else f", gain={self.gain!r}"
        return f"Dense({self.features_in}, {self.features_out}{tokens}{init}{gain})"


class Elementwise(Layer):
    """``a_i = f(x_i)`` for a rule ``f``: ``rule_name`` in :data:`jacobnet.core.rules.RULES`, or a ``rule`` of its own.

    Jacobian: ``J_x = diag(f'(x))`` — shape ``(n, n)``; no parameters.
    """

    rule_name: str = ""
    rule: Rule | None = None
    """A rule of the class's own (a class attribute), for a function not in ``RULES``."""

    def __init__(self, *args: object, **rule_params: float):
        self.rule: Rule = type(self).rule or get_rule(self.rule_name)
        kind = type(self).__name__
        if args:  # Tanh(1): an elementwise layer takes no size (it fits any)
            accepted = ", ".join(f"{k}=…" for k in self.rule.defaults) or "no arguments"
            raise TypeError(f"{kind}: takes no positional arguments (an elementwise layer fits any size), got {args[0]!r:.40}; it accepts {accepted}")
        unknown = sorted(set(rule_params) - set(self.rule.defaults))
        if unknown:
            accepted = ", ".join(self.rule.defaults) or "no parameters"
            raise TypeError(f"{kind}: unknown parameter {', '.join(map(repr, unknown))}; {kind} accepts {accepted}")
        for key, value in rule_params.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{kind}: {key} must be a real number, got {value!r}")
            try:
                finite = np.isfinite(float(value))
            except OverflowError:  # an int beyond float64 (10**400)
                finite = False
            if not finite:
                raise ValueError(f"{kind}: {key} must be finite, got {value!r:.40} (as float64)")
        self.rule_params: dict[str, float] = {**self.rule.defaults, **{k: float(v) for k, v in rule_params.items()}}

    def hyperparameters(self) -> dict[str, object]:
        """The rule's parameters (e.g. ``alpha``); the rule itself is the class's."""
        return dict(self.rule_params)

    def apply(self, x: Array) -> Array:
        params = self.rule_params
        return self.rule.f(x, **params) if params else self.rule.f(x)

    def jacobian_input_op(self, x: Array) -> Operator:
        return Diagonal(self.rule.df(x, **self.rule_params))

    def vjp_input(self, x: Array, a: Array, g: Array) -> Array:
        """``g ⊙ f'``, ``f'`` from the output ``a`` where the rule's ``df_out`` is accurate there, else from ``x``.

        A rule whose ``df_out`` is accurate everywhere (softplus) always uses it. A rule
        whose ``df_out`` cancels where it saturates (``1 − a²`` for tanh) uses it wherever it
        is at least the rule's ``df_out_floor``; the entries below it (if one reduction finds
        any) take ``df(x)``. Relative error ≤ ~100 ε everywhere.

        >>> import numpy as np
        >>> x = np.array([0.5, -1.0, 30.0]); a = np.tanh(x)
        >>> bool(np.allclose(Tanh().vjp_input(x, a, np.ones(3)), 1 / np.cosh(x) ** 2, rtol=1e-15, atol=0))   # 30: not 1 − a² = 0
        True
        """
        rule, params = self.rule, self.rule_params
        if rule.df_out is None:
            d = rule.df(x, **params) if params else rule.df(x)
            return g * d
        d = rule.df_out(a, **params) if params else rule.df_out(a)
        floor = rule.df_out_floor
        if floor is not None and np.minimum.reduce(d, axis=None) < floor:  # (one reduction; NaN-free: a is finite)
            low = d < floor  # where the output has lost f′'s digits: from x there
            d[low] = rule.df(x[low], **params) if params else rule.df(x[low])
        d *= g
        return d

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``R{J_x} = diag(f''(x) ⊙ dx)``: ``(g ⊙ f''(x) ⊙ dx, ·)`` — ``(…, p, n)``, and ``(p, 0)`` (no parameters).

        >>> import numpy as np
        >>> x, g, dx = np.array([0.5, -1.0, 2.0]), np.ones(3), np.ones((2, 3))     # two directions
        >>> gx, gt = Tanh().vjp_tangent(x, g, dx, np.zeros((2, 0)))
        >>> gx.shape, gt.shape, bool(np.allclose(gx[1], -2 * np.tanh(x) / np.cosh(x) ** 2))   # tanh'' = −2 tanh sech²
        ((2, 3), (2, 0), True)
        """
        if self.rule.d2f is None:
            raise NotImplementedError(f"hessian: the rule {self.rule.name!r} of {self.name} has no d2f (its f''), which vjp_tangent needs")
        curve = g * self.rule.d2f(x, **self.rule_params)
        return curve[..., None, :] * dx, np.zeros((dtheta.shape[0], 0))

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``a_i = f(x_i)``, ``f`` the rule's SymPy ``expr``: ``len(x)`` expressions.

        >>> import sympy as sp
        >>> Tanh().sympy_forward(sp.symbols("x1 x2"), [])
        [tanh(x1), tanh(x2)]
        """
        return [self.rule.expr(xi, **self.rule_params) for xi in x]

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x = diag(f'(x))`` with ``f'`` the rule's hand-written ``dexpr`` — ``(n, n)``; ``J_θ`` ``(n, 0)``.

        >>> import sympy as sp
        >>> Tanh().closed_form(sp.symbols("x1 x2"), [])[0]
        Matrix([
        [1 - tanh(x1)**2,               0],
        [              0, 1 - tanh(x2)**2]])
        """
        import sympy as sp

        return sp.diag(*[self.rule.dexpr(xi, **self.rule_params) for xi in x]), sp.zeros(len(x), 0)

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """``f(u)``: the rule's expression with ``u`` in place of its variable (:func:`~jacobnet.core.sizes.rule_entry`)."""
        return rule_entry(self.rule, self.rule_params, u)

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """``f'(u) · du``: the same ``m`` outputs (:func:`~jacobnet.core.sizes.rule_derivative`)."""
        return rule_derivative(self.rule, self.rule_params, u, m, d)


class Sigmoid(Elementwise):
    """``σ(x) = 1 / (1 + e^{−x})``; ``J_x = diag(σ(x)(1 − σ(x)))`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Sigmoid().jacobian_input(np.array([0.0, 1000.0]))
    array([[0.25, 0.  ],
           [0.  , 0.  ]])
    """

    rule_name = "sigmoid"


class Tanh(Elementwise):
    """``tanh(x)``; ``J_x = diag(1 − tanh²(x))`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Tanh().jacobian_input(np.zeros((2, 3)))[1]   # batch of 2, sample 2
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """

    rule_name = "tanh"


class ReLU(Elementwise):
    """``max(x, 0)``; ``J_x = diag(1[x > 0])`` — shape ``(n, n)``; at the kink ``f'(0) = 0``.

    >>> import numpy as np
    >>> np.diag(ReLU().jacobian_input(np.array([-1.0, 0.0, 2.0])))
    array([0., 0., 1.])
    """

    rule_name = "relu"


class LeakyReLU(Elementwise):
    """``x`` for ``x > 0``, else ``αx``; ``J_x = diag(1 or α)`` — shape ``(n, n)``; ``f'(0) = α``.

    >>> import numpy as np
    >>> np.diag(LeakyReLU(alpha=0.1).jacobian_input(np.array([-1.0, 0.0, 2.0])))
    array([0.1, 0.1, 1. ])
    """

    rule_name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        super().__init__(alpha=alpha)

    @property
    def name(self) -> str:
        return f"LeakyReLU(α={self.rule_params['alpha']:g})"

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.rule_params['alpha']!r})"


class Softplus(Elementwise):
    """``log(1 + eˣ)``; ``J_x = diag(σ(x))`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Softplus().forward(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.6931471805599453, 1000.0]
    """

    rule_name = "softplus"


class Softmax(Layer):
    """``s = exp(x) / Σ exp(x)`` (shifted by ``max x``); ``J_x = diag(s) − s sᵀ`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Softmax().jacobian_input(np.array([0.0, 0.0]))
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """

    outputs_probabilities = True

    def apply(self, x: Array) -> Array:
        return softmax(x)

    def jacobian_input_op(self, x: Array) -> Operator:
        return DiagMinusOuter(softmax(x))

    def vjp_input(self, x: Array, a: Array, g: Array) -> Array:
        """``g (diag(s) − s sᵀ)`` with ``s = a``, the stored output (no second softmax)."""
        return DiagMinusOuter(a).vjp(g[..., None, :])[..., 0, :]

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``R{J_x} = diag(ds) − ds sᵀ − s dsᵀ`` with ``ds = J_x dx``: ``g ⊙ ds − (g·ds) sᵀ − (g·s) dsᵀ`` — ``(…, p, n)``.

        >>> import numpy as np
        >>> x, g, dx = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, -1.0]), np.array([[1.0, 0.0, 0.0]])
        >>> gx = Softmax().vjp_tangent(x, g, dx, np.zeros((1, 0)))[0]
        >>> h = 1e-6; J = Softmax().jacobian_input       # g · R{J_x} is the derivative of g J_x along dx:
        >>> gx.shape, bool(np.allclose(gx[0], g @ (J(x + h * dx[0]) - J(x - h * dx[0])) / (2 * h), rtol=0, atol=1e-9))
        ((1, 3), True)
        """
        s = softmax(x)
        ds = DiagMinusOuter(s).vjp(dx)  # (J dx)ᵀ = dxᵀ J: J is symmetric
        G, S = g[..., None, :], s[..., None, :]
        gs = np.sum(g * s, axis=-1)[..., None, None]
        return G * ds - np.sum(G * ds, axis=-1, keepdims=True) * S - gs * ds, np.zeros((dtheta.shape[0], 0))

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``a_i = exp(x_i) / Σ_j exp(x_j)`` (unshifted: the textbook form): ``len(x)`` expressions."""
        import sympy as sp

        e = [sp.exp(xi) for xi in x]
        total = sp.Add(*e)
        return [ei / total for ei in e]

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x = diag(s) − s sᵀ`` with ``s = softmax(x)`` — ``(n, n)``; ``J_θ`` ``(n, 0)``."""
        import sympy as sp

        e = sp.Matrix(list(x)).applyfunc(sp.exp)
        s = e / sum(e)
        return sp.diag(*s) - s * s.T, sp.zeros(len(x), 0)

    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """``exp(u_i) / Σ_j exp(u_j)``: ``s ← s + n (s + 1) + 5`` nodes, ``k ← k^n`` branches."""
        return Entry(u.s + n_in * (u.s + 1) + 5, u.q + n_in * (u.q + 1) + 5, capped_power(u.k, n_in))

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """The quotient rule: every output depends, ``2 (s + Σ) + d + 11 + m (s + d + 3)`` nodes, ``Σ = 1 + n (s + 1)``."""
        total = 1 + n_in * (u.s + 1)  # Σ exp u_j
        return n_in, 2 * (u.s + total) + d + 11 + m * (u.s + d + 3)


ACTIVATIONS: dict[str, type[Elementwise]] = {cls.rule_name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Softplus)}
