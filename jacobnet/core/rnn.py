"""``RNN``: the same weights at every time step, and backpropagation through time as a product of Jacobians.

PyTorch's ``nn.RNN`` (one layer, ``batch_first``-free flat input): the input is
``[x_1; …; x_T]`` of length ``T·n_x``, ``h_0 = 0`` and

    z_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh,     h_t = f(z_t)     (f = tanh or relu),

the output ``h_T`` (``output="last"``) or ``[h_1; …; h_T]`` (``output="all"``);
``θ = [vec_r(W_ih), vec_r(W_hh), b_ih, b_hh]``. With ``D_t = diag(f′(z_t))``,

    ∂h_T/∂h_t = D_T W_hh · D_{T−1} W_hh ⋯ D_{t+1} W_hh,     ∂h_T/∂x_t = ∂h_T/∂h_t · D_t W_ih,

and ``∂h_T/∂W_hh = Σ_t ∂h_T/∂h_t · D_t [I ⊗ h_{t−1}ᵀ]``: the gradient of a shared
weight is the sum over time of its contributions. :meth:`RNN.unroll` builds the
same computation as blocks with shared :class:`~jacobnet.core.layers.Dense`
layers (one step per time step), whose trace is backpropagation through time.

>>> import numpy as np
>>> rnn = RNN(2, 3, steps=4, seed=0)
>>> x = np.linspace(-1, 1, 8)
>>> rnn.n_in, rnn.out_size(8), rnn.n_params
(8, 3, 21)
>>> J = rnn.jacobian_input(x)
>>> J.shape, bool(np.allclose(J, rnn.unroll().jacobian_input(x), rtol=1e-13, atol=1e-15))
((3, 8), True)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from jacobnet.core.blocks import Concat, Select, Sequential, Sum
from jacobnet.core.layer import Layer, Param
from jacobnet.core.layers import Dense, Elementwise
from jacobnet.core.operator import Box, Operator
from jacobnet.core.rules import get_rule
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray
NONLINEARITIES = ("tanh", "relu")
OUTPUTS = ("last", "all")


class RNN(Layer):
    """An Elman RNN over ``steps`` time steps (PyTorch's ``nn.RNN`` conventions; module docstring).

    Args:
        input_size: ``n_x``, the features of each ``x_t``.
        hidden_size: ``n_h``, the size of ``h_t``.
        steps: ``T``; the input has ``T·n_x`` entries.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        output: ``"last"`` (``h_T``, size ``n_h``) or ``"all"`` (``[h_1; …; h_T]``, size ``T·n_h``).
        seed: weights ``U(−1/√n_h, 1/√n_h)``, as PyTorch.
    """

    W_ih = Param(lambda self: (self.hidden_size, self.input_size))
    W_hh = Param(lambda self: (self.hidden_size, self.hidden_size))
    b_ih = Param(lambda self: (self.hidden_size,))
    b_hh = Param(lambda self: (self.hidden_size,))

    def __init__(self, input_size: int, hidden_size: int, steps: int, *, nonlinearity: str = "tanh",
                 output: str = "last", seed: int | None = None):
        self.input_size = positive_int(input_size, "RNN: input_size")
        self.hidden_size = positive_int(hidden_size, "RNN: hidden_size")
        self.steps = positive_int(steps, "RNN: steps")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"RNN: nonlinearity must be one of {', '.join(NONLINEARITIES)}, got {nonlinearity!r}")
        if output not in OUTPUTS:
            raise ValueError(f"RNN: output must be one of {', '.join(OUTPUTS)}, got {output!r}")
        self.nonlinearity, self.output = nonlinearity, output
        rng = np.random.default_rng(seed_value(seed, "RNN: seed"))
        bound = 1.0 / np.sqrt(self.hidden_size)
        self.W_ih = rng.uniform(-bound, bound, (self.hidden_size, self.input_size))
        self.W_hh = rng.uniform(-bound, bound, (self.hidden_size, self.hidden_size))
        self.b_ih = rng.uniform(-bound, bound, self.hidden_size)
        self.b_hh = rng.uniform(-bound, bound, self.hidden_size)

    @property
    def n_in(self) -> int:  # type: ignore[override]
        return self.steps * self.input_size

    def out_size(self, n_in: int) -> int:
        return self.hidden_size * (self.steps if self.output == "all" else 1)

    def input_makeup(self) -> str:
        return f"steps={self.steps} × input_size={self.input_size}"

    def hyperparameters(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("input_size", "hidden_size", "steps", "nonlinearity", "output")}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k, d in (("nonlinearity", "tanh"), ("output", "last")) if getattr(self, k) != d)
        return f"RNN({self.input_size}, {self.hidden_size}, steps={self.steps}{extra})"

    # --- the math -----------------------------------------------------------------------
    def run(self, x: Array) -> tuple[Array, Array, Array]:
        """The inputs ``X`` (``(…, T, n_x)``), the states ``[h_0 … h_T]`` (``(…, T + 1, n_h)``), the slopes ``f′(z_t)`` (``(…, T, n_h)``)."""
        rule = get_rule(self.nonlinearity)
        X = x.reshape(x.shape[:-1] + (self.steps, self.input_size))
        dtype = np.result_type(x, self.W_ih)  # (complex for the complex step)
        H = np.zeros(x.shape[:-1] + (self.steps + 1, self.hidden_size), dtype)
        D = np.empty(x.shape[:-1] + (self.steps, self.hidden_size), dtype)
        U = X @ self.W_ih.T + (self.b_ih + self.b_hh)  # every step's input part at once
        for t in range(self.steps):
            z = U[..., t, :] + H[..., t, :] @ self.W_hh.T
            H[..., t + 1, :] = rule.f(z)
            D[..., t, :] = rule.df(z)
        return X, H, D

    def _output(self, H: Array) -> Array:
        if self.output == "last":
            return H[..., -1, :]
        return H[..., 1:, :].reshape(H.shape[:-2] + (self.steps * self.hidden_size,))

    def apply(self, x: Array) -> Array:
        return self._output(self.run(x)[1]).copy()

    def jacobian_input_op(self, x: Array) -> Operator:
        """``∂h/∂x``, backpropagation through time: :class:`ThroughTime` with ``wrt="input"``."""
        return ThroughTime(self, *self.run(x), wrt="input")

    def jacobian_params_op(self, x: Array) -> Operator:
        """``∂h/∂θ``, ``θ = [vec_r(W_ih), vec_r(W_hh), b_ih, b_hh]``: :class:`ThroughTime` with ``wrt="params"``."""
        return ThroughTime(self, *self.run(x), wrt="params")

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``(g · R{J_x}, Σ_b g · R{J_θ})`` along ``(dx, dθ)``: forward mode through backpropagation through time.

        Shapes ``(…, p, T·n_x)`` and ``(p, n_params)``. First the tangents of the forward pass
        (``dθ = [dW_ih, dW_hh, db_ih, db_hh]``, ``dh_0 = 0``)::

            dz_t = W_ih dx_t + dW_ih x_t + W_hh dh_{t−1} + dW_hh h_{t−1} + db_ih + db_hh,   dh_t = f′(z_t) ⊙ dz_t

        then BPTT (``δ_T = g`` — with ``output="all"``, ``δ_t`` gets ``g_t`` added — ``e_t = δ_t ⊙ f′(z_t)``,
        ``δ_{t−1} = e_t W_hh``) and its tangent, ``g`` held fixed (``R{δ_T} = 0``)::

            R{e_t} = R{δ_t} ⊙ f′(z_t) + δ_t ⊙ f″(z_t) ⊙ dz_t,     R{δ_{t−1}} = R{e_t} W_hh + e_t dW_hh
            g · R{J_x}:  R{e_t} W_ih + e_t dW_ih                                  (block x_t)
            g · R{J_θ}:  Σ_t [R{e_t} ⊗ x_t + e_t ⊗ dx_t | R{e_t} ⊗ h_{t−1} + e_t ⊗ dh_{t−1} | R{e_t} | R{e_t}]

        summed over the batch. A loop over time (as BPTT's), vectorised over samples and directions.

        >>> rnn = RNN(2, 3, steps=2, seed=0)
        >>> x, g = np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, 0.0, -1.0])
        >>> dx, dtheta = np.ones((1, 4)), np.full((1, rnn.n_params), 0.1)
        >>> gx, gt = rnn.vjp_tangent(x, g, dx, dtheta)
        >>> def vjp(e):                                  # g J_x at (x + e dx, θ + e dθ)
        ...     rnn.set_params(theta + e * dtheta[0])
        ...     return rnn.jacobian_input_op(x + e * dx[0]).vjp(g[None])[0]
        >>> theta = rnn.get_params()
        >>> gx.shape, gt.shape, bool(np.allclose(gx[0], (vjp(1e-6) - vjp(-1e-6)) / 2e-6, rtol=0, atol=1e-8))
        ((1, 4), (1, 21), True)
        """
        T, n_h, n_x, p = self.steps, self.hidden_size, self.input_size, dtheta.shape[0]
        rule = get_rule(self.nonlinearity)
        lead = x.shape[:-1]
        X, H, D = self.run(x.reshape(-1, self.n_in))  # (N, T, n_x), (N, T + 1, n_h), (N, T, n_h)
        N = X.shape[0]
        Z = X @ self.W_ih.T + H[:, :-1] @ self.W_hh.T + (self.b_ih + self.b_hh)
        D2 = rule.d2f(Z)
        a, b = n_h * n_x, n_h * (n_x + n_h)
        dW_ih, dW_hh = dtheta[:, :a].reshape(p, n_h, n_x), dtheta[:, a:b].reshape(p, n_h, n_h)
        db = dtheta[:, b : b + n_h] + dtheta[:, b + n_h :]
        dX = dx.reshape(N, p, T, n_x)
        # the forward tangents: every part but W_hh dh_{t−1} at once, then the recurrence
        known = dX @ self.W_ih.T + np.einsum("ntj,pij->npti", X, dW_ih) + np.einsum("ntj,pij->npti", H[:, :-1], dW_hh)
        known += db[None, :, None, :]
        dZ, dH = np.empty((N, p, T, n_h)), np.zeros((N, p, T + 1, n_h))
        for t in range(T):
            dZ[:, :, t] = known[:, :, t] + dH[:, :, t] @ self.W_hh.T
            dH[:, :, t + 1] = D[:, None, t] * dZ[:, :, t]
        # BPTT and its tangent
        Gt = g.reshape(N, T, n_h) if self.output == "all" else None
        delta, Rdelta = (np.zeros((N, n_h)) if Gt is not None else g.reshape(N, n_h).copy()), np.zeros((N, p, n_h))
        E, RE = np.empty((N, T, n_h)), np.empty((N, p, T, n_h))
        for t in range(T - 1, -1, -1):
            if Gt is not None:
                delta = delta + Gt[:, t]
            E[:, t] = e = delta * D[:, t]
            RE[:, :, t] = Re = Rdelta * D[:, None, t] + (delta * D2[:, t])[:, None, :] * dZ[:, :, t]
            Rdelta = Re @ self.W_hh + np.einsum("ni,pij->npj", e, dW_hh)
            delta = e @ self.W_hh
        gx = RE @ self.W_ih + np.einsum("nti,pij->nptj", E, dW_ih)
        g_ih = np.einsum("npti,ntj->pij", RE, X) + np.einsum("nti,nptj->pij", E, dX)
        g_hh = np.einsum("npti,ntj->pij", RE, H[:, :-1]) + np.einsum("nti,nptj->pij", E, dH[:, :, :-1])
        g_b = RE.sum(axis=(0, 2))
        gtheta = np.concatenate([g_ih.reshape(p, a), g_hh.reshape(p, n_h * n_h), g_b, g_b], axis=1)
        return gx.reshape(lead + (p, T * n_x)), gtheta

    # --- symbolic forms -------------------------------------------------------------------
    def _split(self, theta: Sequence[Any]) -> tuple[Any, Any, Any, Any]:
        import sympy as sp

        n_h, n_x = self.hidden_size, self.input_size
        a, b = n_h * n_x, n_h * n_x + n_h * n_h
        theta = list(theta)
        return (sp.Matrix(n_h, n_x, theta[:a]), sp.Matrix(n_h, n_h, theta[a:b]),
                sp.Matrix(theta[b : b + n_h]), sp.Matrix(theta[b + n_h :]))

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """``h_t = f(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`` with the rule's SymPy ``f``, ``h_0 = 0``."""
        import sympy as sp

        rule, (W_ih, W_hh, b_ih, b_hh) = get_rule(self.nonlinearity), self._split(theta)
        h, out = sp.zeros(self.hidden_size, 1), []
        for t in range(self.steps):
            x_t = sp.Matrix(list(x[t * self.input_size : (t + 1) * self.input_size]))
            h = (W_ih * x_t + b_ih + W_hh * h + b_hh).applyfunc(rule.expr)
            out.append(list(h))
        return out[-1] if self.output == "last" else [e for h_t in out for e in h_t]

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``∂h_s/∂x_t = D_s W_hh ⋯ D_{t+1} W_hh D_t W_ih`` and ``∂h_s/∂θ = Σ_{t≤s} (D_s W_hh ⋯ D_{t+1} W_hh) D_t [I ⊗ x_tᵀ | I ⊗ h_{t−1}ᵀ | I | I]``.

        ``D_t = diag(f′(z_t))`` with ``f′`` the rule's hand-written ``dexpr``; rows ``h_T`` (or every ``h_s``).
        """
        import sympy as sp

        rule, (W_ih, W_hh, b_ih, b_hh) = get_rule(self.nonlinearity), self._split(theta)
        n_h, n_x, T = self.hidden_size, self.input_size, self.steps
        h, Ds, xs, hs = sp.zeros(n_h, 1), [], [], []
        for t in range(T):
            x_t = sp.Matrix(list(x[t * n_x : (t + 1) * n_x]))
            z = W_ih * x_t + b_ih + W_hh * h + b_hh
            xs.append(x_t)
            hs.append(h)
            Ds.append(sp.diag(*[rule.dexpr(zi) for zi in z]))
            h = z.applyfunc(rule.expr)
        I = sp.eye(n_h)
        rows_x, rows_t = [], []
        for s in range(T) if self.output == "all" else [T - 1]:
            J_x, J_t, carry = sp.zeros(n_h, T * n_x), sp.zeros(n_h, self.n_params), I  # carry = ∂h_s/∂h_t
            for t in range(s, -1, -1):
                J_x[:, t * n_x : (t + 1) * n_x] = carry * Ds[t] * W_ih
                local = sp.Matrix.hstack(sp.kronecker_product(I, xs[t].T), sp.kronecker_product(I, hs[t].T), I, I)
                J_t += carry * Ds[t] * local
                carry = carry * Ds[t] * W_hh
            rows_x.append(J_x)
            rows_t.append(J_t)
        return sp.Matrix.vstack(*rows_x), sp.Matrix.vstack(*rows_t)

    # --- the same computation as blocks ------------------------------------------------------
    def unroll(self) -> Sequential:
        """The RNN as blocks: a zero ``h_0`` prepended, then one step per time step, with two shared Dense layers.

        Step ``t`` maps ``[h_{t−1}; x_t; …; x_T]`` (with ``output="all"``:
        ``[h_1; …; h_{t−1}; x_t; …; x_T]``) to ``[h_t; x_{t+1}; …; x_T]`` (keeping
        the earlier ``h``): a ``Concat`` of the cell ``f(Sum([W_ih x_t + b_ih,
        W_hh h_{t−1} + b_hh]))`` and a ``Select`` of the inputs still to come.
        Its θ is ``[vec_r(W_ih), b_ih, vec_r(W_hh), b_hh]`` (Dense 1, then Dense 2)
        — the RNN's entries in another order (:meth:`unrolled_order`). It is a
        :class:`~jacobnet.core.blocks.Sequential` block (a layer: put it in a
        ``Network``), built from a copy of the weights as they are now: training it
        does not change the RNN.

        >>> rnn = RNN(1, 2, steps=3, seed=0)
        >>> u = rnn.unroll()
        >>> [layer.name for layer in u.layers], u.n_params == rnn.n_params
        (['h_0 = 0', 'step 1', 'step 2', 'step 3'], True)
        """
        n_x, n_h, T = self.input_size, self.hidden_size, self.steps
        ih, hh = Dense(n_x, n_h), Dense(n_h, n_h)
        ih.W, ih.b, hh.W, hh.b = self.W_ih, self.b_ih, self.W_hh, self.b_hh
        layers: list[Layer] = [Select(T * n_x, [-1] * n_h + list(range(T * n_x)), name="h_0 = 0")]
        kept = n_h  # entries of h at the front of the state (h_0 = 0 at first)
        for t in range(1, T + 1):
            rest = (T - t) * n_x
            size = kept + n_x + rest
            h_prev, x_t = list(range(kept - n_h, kept)), list(range(kept, kept + n_x))
            picks = [Select(size, x_t, name=f"x_{t}"), Select(size, h_prev, name=f"h_{t - 1}")]
            cell = [Sum([[picks[0], ih], [picks[1], hh]], name="z"), _activation(self.nonlinearity)]
            branches: list[list[Layer]] = []
            if self.output == "all" and t > 1:
                branches.append([Select(size, list(range(kept)), name=_span("h", 1, t - 1))])
            branches.append(cell)
            if rest:
                branches.append([Select(size, list(range(kept + n_x, size)), name=_span("x", t + 1, T))])
            layers.append(Concat(branches, name=f"step {t}"))
            kept = (t if self.output == "all" else 1) * n_h
        return Sequential(layers, name="RNN")

    def unrolled_order(self) -> Array:
        """``perm`` with ``θ_unrolled = θ_rnn[perm]``: where each entry of the unrolled θ sits in the RNN's.

        >>> RNN(1, 2, steps=3).unrolled_order()        # [W_ih (2) | b_ih (2) | W_hh (4) | b_hh (2)]
        array([0, 1, 6, 7, 2, 3, 4, 5, 8, 9])
        """
        n_h, n_x = self.hidden_size, self.input_size
        a, b = n_h * n_x, n_h * n_x + n_h * n_h
        w_ih, w_hh = np.arange(a), np.arange(a, b)
        b_ih, b_hh = np.arange(b, b + n_h), np.arange(b + n_h, b + 2 * n_h)
        return np.concatenate([w_ih, b_ih, w_hh, b_hh])


def _span(v: str, a: int, b: int) -> str:
    """``x_3`` or ``x_3…x_5``: the names of the entries a step's ``Select`` carries on."""
    return f"{v}_{a}" if a == b else f"{v}_{a}…{v}_{b}"


def _activation(name: str) -> Elementwise:
    from jacobnet.core.layers import ReLU, Tanh

    return Tanh() if name == "tanh" else ReLU()


class ThroughTime(Operator):
    """``∂h/∂x`` or ``∂h/∂θ`` of an :class:`RNN`, multiplied through time, never materialised to multiply.

    ``G J`` runs backpropagation through time on each row of ``G``: ``δ_T = g``,
    ``δz_t = δ_t ⊙ f′(z_t)``, ``δ_{t−1} = δz_t W_hh`` (plus the row's part for
    ``h_{t−1}`` when every ``h`` is an output); the input's part is
    ``δz_t W_ih``, the weights' ``Σ_t δz_t ⊗ x_t`` and ``Σ_t δz_t ⊗ h_{t−1}``.
    ``J H`` runs the same recurrence forward (``dh_t = f′(z_t) ⊙ dz_t``).
    Per step, the costs of ordinary backprop. Shape ``(n_h, T·n_x)`` or ``(n_h, n_params)``
    (``T·n_h`` rows with ``output="all"``); ``X`` ``(…, T, n_x)``, ``H`` ``(…, T + 1, n_h)``,
    ``D`` ``(…, T, n_h)`` from :meth:`RNN.run`.

    >>> rnn = RNN(2, 3, steps=4, seed=0)
    >>> J = rnn.jacobian_input_op(np.ones(8))
    >>> J.shape, J.kind, bool(np.allclose(J.vjp(np.eye(3)), J.dense()))
    ((3, 8), 'through time', True)
    """

    def __init__(self, rnn: RNN, X: Array, H: Array, D: Array, wrt: str):
        self.rnn, self.X, self.H, self.D, self.wrt = rnn, X, H, D, wrt
        m = rnn.out_size(rnn.n_in)
        self.shape = (m, rnn.n_in if wrt == "input" else rnn.n_params)
        self.batch = X.shape[0] if X.ndim == 3 else None
        self.kind = "through time"

    def _fill(self, out: Array) -> None:
        m = self.shape[0]
        out[...] = self.vjp(np.eye(m))

    def batch_slice(self, start: int, stop: int) -> ThroughTime:
        return ThroughTime(self.rnn, self.X[start:stop], self.H[start:stop], self.D[start:stop], self.wrt)

    def outline(self) -> list[Box]:
        """The time steps' blocks of columns (``x_t``), or the four parameter arrays."""
        r, (m, n) = self.rnn, self.shape
        if self.wrt == "input":
            return [Box(0, t * r.input_size, m, r.input_size, "box", f"x_{{{t + 1}}}") for t in range(r.steps)]
        a, b = r.hidden_size * r.input_size, r.hidden_size * (r.input_size + r.hidden_size)
        edges = [0, a, b, b + r.hidden_size, n]
        labels = ["W_{ih}", "W_{hh}", "b_{ih}", "b_{hh}"]
        return [Box(0, e0, m, e1 - e0, "box", lab) for e0, e1, lab in zip(edges, edges[1:], labels)]

    def _backward(self, G: Array) -> Array:
        """Backpropagation through time of the rows ``G`` (``(…, k, m)``): ``G J``, ``(…, k, n)``."""
        r = self.rnn
        T, n_h, n_x = r.steps, r.hidden_size, r.input_size
        lead = np.broadcast_shapes(G.shape[:-2], self.X.shape[:-2])
        k = G.shape[-2]
        per_step = G.reshape(G.shape[:-1] + (T, n_h)) if r.output == "all" else None
        delta = np.zeros(lead + (k, n_h))
        if per_step is None:
            delta = delta + G
        if self.wrt == "input":
            out = np.empty(lead + (k, T, n_x))
        else:
            dW_ih, dW_hh, db = np.zeros(lead + (k, n_h, n_x)), np.zeros(lead + (k, n_h, n_h)), np.zeros(lead + (k, n_h))
        for t in range(T - 1, -1, -1):
            if per_step is not None:
                delta = delta + per_step[..., t, :]
            dz = delta * self.D[..., None, t, :]  # (…, k, n_h)
            if self.wrt == "input":
                out[..., t, :] = dz @ r.W_ih
            else:
                dW_ih += dz[..., :, None] * self.X[..., None, t, None, :]
                dW_hh += dz[..., :, None] * self.H[..., None, t, None, :]
                db += dz
            delta = dz @ r.W_hh
        if self.wrt == "input":
            return out.reshape(lead + (k, T * n_x))
        return np.concatenate([dW_ih.reshape(lead + (k, -1)), dW_hh.reshape(lead + (k, -1)), db, db], axis=-1)

    def vjp(self, G: Array) -> Array:
        return self._backward(G)

    def jvp(self, Hd: Array) -> Array:
        r = self.rnn
        T, n_h, n_x = r.steps, r.hidden_size, r.input_size
        p = Hd.shape[-1]
        lead = np.broadcast_shapes(Hd.shape[:-2], self.X.shape[:-2])
        dh = np.zeros(lead + (n_h, p))
        outs = []
        if self.wrt == "params":
            a, b = n_h * n_x, n_h * (n_x + n_h)
            dW_ih = Hd[..., :a, :].reshape(Hd.shape[:-2] + (n_h, n_x, p))
            dW_hh = Hd[..., a:b, :].reshape(Hd.shape[:-2] + (n_h, n_h, p))
            db = Hd[..., b : b + n_h, :] + Hd[..., b + n_h :, :]
        for t in range(T):
            dz = r.W_hh @ dh
            if self.wrt == "input":
                dz = dz + r.W_ih @ Hd[..., t * n_x : (t + 1) * n_x, :]
            else:
                dz = dz + np.einsum("...ijp,...j->...ip", dW_ih, self.X[..., t, :])
                dz = dz + np.einsum("...ijp,...j->...ip", dW_hh, self.H[..., t, :]) + db
            dh = self.D[..., t, :, None] * dz
            outs.append(dh)
        if r.output == "last":
            return dh
        return np.concatenate(outs, axis=-2)

    @property
    def nbytes(self) -> int:
        return (self.X.size + self.H.size + self.D.size) * 8

    def vjp_flops(self, k: int) -> int:
        r = self.rnn
        step = r.hidden_size * (r.hidden_size + 1) + r.hidden_size * (r.input_size if self.wrt == "input" else r.input_size + r.hidden_size)
        return k * r.steps * step

    def jvp_flops(self, p: int) -> int:
        return self.vjp_flops(p)
