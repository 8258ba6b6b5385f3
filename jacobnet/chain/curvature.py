"""Second order as Jacobian products: output Jacobians, per-sample gradients, the NTK, Gauss–Newton and the Hessian.

The backward pass multiplies rows by the layers' Jacobians (:mod:`jacobnet.chain.backward`).
Seeded with the identity rows instead of ``J_loss`` it gives the output Jacobian
``J = ∂a_L/∂θ``, ``(n_L, n_params)`` per sample; from it the per-sample gradients
``J_lossᵀ J``, the neural tangent kernel ``Θ = J Jᵀ`` and the Gauss–Newton matrix
``GN = Jᵀ H_ℓ J`` (``H_ℓ = ∂²ℓ/∂a_L²``, :meth:`~jacobnet.core.losses.Loss.hessian_op`).

The Hessian differentiates the backward products themselves (forward-over-reverse,
Pearlmutter's R-operator ``R{·} = d/dε (·)(θ + ε v)``). Forward, the tangents
``R{a_l} = J_x R{a_{l−1}} + J_θ v_l``; backward, with ``g_l = ∂ℓ/∂a_l`` the ordinary rows,

    R{g_L} = R{a_L}ᵀ H_ℓ
    R{g_{l−1}} = R{g_l} J_x + g_l R{J_x}         R{∇_θ ℓ}_l = R{g_l} J_θ + g_l R{J_θ}

and ``R{∇_θ ℓ} = H v``. The terms ``g · R{J}`` are each layer's
:meth:`~jacobnet.core.layer.Layer.vjp_tangent`. The seed alone gives ``GN v``; the
layers' terms alone give the residual ``Σ_k (∂ℓ/∂a_{L,k}) ∇²a_{L,k} v``: ``H = GN + residual``.
Several directions ``v`` go through at once (columns of ``V``), so the dense Hessian
is one R-pass over the unit vectors, in chunks. Through blocks both passes walk into
the branches, as :func:`~jacobnet.chain.backward.products` does; a shared layer's
uses add up. For a batch every result is the mean over the samples (the mean loss).

>>> import numpy as np
>>> from jacobnet import build_network
>>> net = build_network("3,4,2", "tanh", "mse", seed=0)          # 26 parameters
>>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
>>> H = hessian(net, X, Y)
>>> H.shape, output_jacobian(net, X).shape, bool(np.allclose(H, H.T, rtol=0, atol=1e-14))
((26, 26), (5, 2, 26), True)
>>> v = np.arange(26.0)
>>> bool(np.allclose(hvp(net, X, Y, v), H @ v, rtol=1e-13, atol=0))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from jacobnet.chain.build import activations_and_target, first_param_layer
from jacobnet.core.finite import rel_error
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.progress import progress_bar

if TYPE_CHECKING:
    from jacobnet.core.operator import Operator
    from jacobnet.core.stack import Position, Stack

Array = np.ndarray

PARTS = ("total", "gauss_newton", "residual")
"""What :func:`hvp` and :func:`hessian` compute: ``H``, its Gauss–Newton part, or the rest."""
CHUNK_BYTES = 64 << 20
"""The tangents of one R-pass over many directions are kept under this many bytes (the directions are chunked)."""
PROGRESS_FROM = 1000
"""A dense Hessian shows a progress bar from this many parameters on (``progress=None``)."""


def output_jacobian(net: Stack, x: Array) -> Array:
    """``J = ∂a_L/∂θ``: ``(n_L, n_params)``, or ``(B, n_L, n_params)`` per sample — the identity rows pulled back.

    The backward loop seeded with ``I_{n_L}`` instead of ``J_loss``: row ``k`` is
    ``e_kᵀ J_x(f_L) ⋯ J_θ(f_l)`` for every layer ``l``, written into ``l``'s columns.
    Materialised under the memory guard.

    >>> import numpy as np
    >>> from jacobnet import Network, Dense, Tanh, MSE
    >>> net = Network([Dense(3, 2, seed=0), Tanh()], MSE())      # a = tanh(W x + b): 8 parameters
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> J = output_jacobian(net, x)
    >>> J.shape, bool(np.allclose(J, net.layers[1].jacobian_input(net.layers[0].forward(x)) @ net.layers[0].jacobian_params(x)))
    ((2, 8), True)
    """
    acts, inputs = net.run(x)
    return _output_jacobian(net, acts, inputs)


def per_sample_gradients(net: Stack, x: Array, y: Array) -> Array:
    """``∂ℓ_b/∂θ`` of every sample: ``(B, n_params)`` (one sample: ``(1, n_params)``); their mean is the gradient.

    Each sample's ``J_loss`` row pulled back through its own products (never summed over the batch).

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    >>> X, Y = np.ones((5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    >>> G = per_sample_gradients(net, X, Y)
    >>> G.shape, bool(np.allclose(G.mean(axis=0), net.gradient(X, Y), rtol=1e-13, atol=0))
    ((5, 26), True)
    """
    acts, inputs, y = activations_and_target(net, x, y)
    rows = net.loss_fn.jacobian_op(acts[-1], y).A  # (1, n) or (B, 1, n)
    _guard(rows.shape[:-2] + (1, net.n_params), "the per-sample gradients", "use a smaller batch")
    return _pull(net, inputs, rows).reshape(-1, net.n_params)


def ntk(net: Stack, x: Array) -> Array:
    """The neural tangent kernel ``Θ = J Jᵀ``: ``(B·n_L, B·n_L)``, ``J`` the stacked ``(B·n_L, n_params)`` output Jacobians.

    Entry ``(b·n_L + i, c·n_L + k)`` is ``∂a_{L,i}(x_b)/∂θ · ∂a_{L,k}(x_c)/∂θ``: symmetric
    positive semi-definite. One sample: ``(n_L, n_L)``.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> K = ntk(build_network("3,4,2", "tanh", "mse", seed=0), np.ones((5, 3)))
    >>> K.shape, bool(np.allclose(K, K.T)), bool(np.linalg.eigvalsh(K).min() > -1e-12)
    ((10, 10), True, True)
    """
    acts, inputs = net.run(x)
    rows = _count(acts) * acts[-1].shape[-1]
    _guard((rows, rows), "the NTK", "use a smaller batch")  # (asked before J is formed)
    J = _output_jacobian(net, acts, inputs).reshape(rows, net.n_params)
    return J @ J.T


def gauss_newton(net: Stack, x: Array, y: Array) -> Array:
    """``GN = (1/B) Σ_b J_bᵀ H_ℓ,b J_b``: ``(n_params, n_params)``, ``J = ∂a_L/∂θ`` and ``H_ℓ`` the loss's Hessian in ``a_L``.

    ``H_ℓ`` is ``diag(p) − p pᵀ`` for softmax-cross-entropy on logits (the softmax
    Jacobian), ``(2/n) I`` for MSE, ``diag(y / ŷ²)`` for cross-entropy on probabilities
    (:meth:`~jacobnet.core.losses.Loss.hessian_op`). It is the Hessian without the
    residual term ``Σ_k (∂ℓ/∂a_{L,k}) ∇²a_{L,k}`` (:func:`hessian_parts`); every layer has it.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,4,2", "tanh", "mse", seed=0)
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> J = output_jacobian(net, x)
    >>> bool(np.allclose(gauss_newton(net, x, np.zeros(2)), J.T @ J))      # MSE over n = 2: H_ℓ = I
    True
    """
    P = net.n_params
    _guard((P, P), "the Gauss–Newton matrix", "use hvp(..., part='gauss_newton') for products with it")  # (before J)
    acts, inputs, y = activations_and_target(net, x, y)
    J = _output_jacobian(net, acts, inputs)
    HJ = net.loss_fn.hessian_op(acts[-1], y).jvp(J)
    return J.reshape(-1, P).T @ HJ.reshape(-1, P) / _count(acts)


def hvp(net: Stack, x: Array, y: Array, v: object, part: str = "total") -> Array:
    """``H v`` without forming ``H``: one R-pass (a JVP of the backward pass), ``v`` of shape ``(n_params,)`` or ``(n_params, k)``.

    ``part``: ``"total"`` (``H``), ``"gauss_newton"`` (``GN v``: the seed ``H_ℓ R{a_L}`` alone,
    every layer has it) or ``"residual"`` (the layers' ``g · R{J}`` alone). ``H`` is that of
    the mean loss over a batch. Raises ``NotImplementedError`` naming a layer without
    :meth:`~jacobnet.core.layer.Layer.vjp_tangent` (``"gauss_newton"`` does not need it).

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    >>> x, y, v = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]), np.ones(26)
    >>> Hv = hvp(net, x, y, v)
    >>> Hv.shape, bool(np.allclose(Hv, hvp(net, x, y, v, part="gauss_newton") + hvp(net, x, y, v, part="residual")))
    ((26,), True)
    """
    P = net.n_params
    V = np.asarray(v)
    if V.dtype.kind not in "iuf" or V.ndim not in (1, 2) or V.shape[0] != P:
        raise ValueError(f"hvp: v must be a real array of shape (n_params,) = ({P},) or (n_params, k), got {V.dtype} {V.shape}")
    if not np.isfinite(V).all():
        raise ValueError("hvp: v holds NaN or inf")
    _check_part(part, "hvp")
    acts, inputs, y = activations_and_target(net, x, y)
    cols = V.reshape(P, -1).astype(np.float64).T  # (k, P): the directions as rows
    out = _r_pass(net, acts, inputs, y, cols, part).T
    return out.reshape(V.shape)


def hessian(net: Stack, x: Array, y: Array, part: str = "total", chunk: int | None = None, progress: bool | None = None) -> Array:
    """The exact ``∂²L/∂θ²`` of the (mean) loss: ``(n_params, n_params)``, column ``j`` the R-pass of ``e_j``.

    Forward-over-reverse through the explicit products (module docstring), not finite
    differences; ``chunk`` unit vectors per pass (default: as many as keep the tangents
    under :data:`CHUNK_BYTES`). ``part`` as in :func:`hvp`. The dense result is checked
    against the memory budget first; ``progress`` shows a bar (``None``: from
    :data:`PROGRESS_FROM` parameters on). Not symmetrised: its asymmetry is rounding.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("2,3,1", "tanh", "mse", seed=0)
    >>> x, y = np.array([0.5, -1.0]), np.array([0.3])
    >>> H = hessian(net, x, y)
    >>> H.shape, bool(np.allclose(H, hessian(net, x, y, part="gauss_newton") + hessian(net, x, y, part="residual")))
    ((13, 13), True)
    """
    _check_part(part, "hessian")
    P = net.n_params
    _guard((P, P), "the Hessian", "use hvp(x, y, v) for products with it")
    acts, inputs, y = activations_and_target(net, x, y)
    step = chunk if chunk is not None else _chunk(net, acts, inputs)
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"hessian: chunk must be a positive integer (directions per pass), got {chunk!r}")
    H, eye = np.empty((P, P)), np.eye(P)
    with progress_bar(P, "hessian", "column", P >= PROGRESS_FROM if progress is None else bool(progress)) as bar:
        for start in range(0, P, step):
            stop = min(start + step, P)
            H[:, start:stop] = _r_pass(net, acts, inputs, y, eye[start:stop], part).T
            bar.update(stop - start)
    return H


@dataclass(frozen=True)
class TopEigen:
    """The dominant eigenpair of a curvature matrix found by power iteration: ``H u ≈ λ u``, ``‖u‖ = 1``."""

    value: float
    """``λ``, the eigenvalue of largest magnitude (the Rayleigh quotient ``uᵀ H u`` of the last product)."""
    vector: Array
    """``u``, ``(n_params,)``, unit length (a warm start for the next call: pass it as ``v0``)."""
    hvps: int
    """How many Hessian-vector products it took."""
    converged: bool
    """Whether two successive ``λ`` agreed to ``tol`` (relative) within ``max_iter`` products."""


def top_eigenvalue(net: Stack, x: Array, y: Array, v0: object = None, *, part: str = "total", tol: float = 1e-9,
                   max_iter: int = 100, seed: int = 0) -> TopEigen:
    """The eigenvalue of largest magnitude of ``H`` (or its ``part``) by power iteration on :func:`hvp`, ``H`` never formed.

    ``u_{k+1} = H u_k / ‖H u_k‖``, ``λ_k = u_kᵀ H u_k``, from ``v0`` (default: a seeded normal
    vector), until ``|λ_k − λ_{k−1}| ≤ tol · |λ_k|`` or ``max_iter`` products. One forward pass
    serves every product. Near a minimum the dominant eigenvalue is ``λ_max``, the curvature that
    bounds a stable step (``η λ_max < 2``; with momentum ``μ``: ``< 2(1 + μ)``). It converges at the
    rate ``|λ_2/λ_1|``: slowly when the two largest are close.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("3,4,2", "tanh", "mse", seed=0)
    >>> X, Y = np.ones((5, 3)), np.zeros((5, 2))
    >>> top = top_eigenvalue(net, X, Y)
    >>> top.vector.shape, top.converged, bool(np.isclose(top.value, np.linalg.eigvalsh(hessian(net, X, Y))[-1], rtol=1e-8))
    ((26,), True, True)
    """
    _check_part(part, "top_eigenvalue")
    for name, value in (("tol", tol), ("max_iter", max_iter)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 < value < np.inf:
            raise ValueError(f"top_eigenvalue: {name} must be a positive number, got {value!r}")
    P = net.n_params
    u = np.random.default_rng(seed).standard_normal(P) if v0 is None else np.array(v0, dtype=np.float64)
    if u.shape != (P,) or not np.isfinite(u).all() or not np.any(u):
        raise ValueError(f"top_eigenvalue: v0 must be a finite nonzero vector of shape (n_params,) = ({P},), got shape {u.shape}")
    acts, inputs, y = activations_and_target(net, x, y)
    u /= np.linalg.norm(u)
    value, previous = np.nan, np.inf
    for k in range(1, int(max_iter) + 1):
        Hu = _r_pass(net, acts, inputs, y, u[None, :], part)[0]
        value = float(u @ Hu)
        norm = float(np.linalg.norm(Hu))
        if norm == 0.0:  # H u = 0: u is in the null space, λ = 0 there
            return TopEigen(0.0, u, k, True)
        u = Hu / norm
        if abs(value - previous) <= tol * abs(value):
            return TopEigen(value, u, k, True)
        previous = value
    return TopEigen(value, u, int(max_iter), False)


@dataclass
class HessianParts:
    """``H = GN + R``: the Hessian of the mean loss and its two parts, each ``(n_params, n_params)``.

    ``gauss_newton`` is ``Jᵀ H_ℓ J`` (:func:`gauss_newton`, from the output Jacobians);
    ``residual`` is ``Σ_k (∂ℓ/∂a_{L,k}) ∇²a_{L,k}``, the R-pass of the layers' curvature
    alone; ``total`` the full R-pass. Three separate computations: :attr:`gap` is how far
    ``total`` is from ``gauss_newton + residual`` (rounding). ``names`` and ``slices``: the
    distinct layers with parameters and their blocks of ``θ`` (the heatmap's outlines);
    ``labels``: one name per parameter (``net.param_labels()``).
    """

    total: Array
    gauss_newton: Array
    residual: Array
    names: list[str]
    slices: list[slice]
    labels: list[str]

    @property
    def gap(self) -> float:
        """``max|H − (GN + R)| / max|H|``."""
        return rel_error(self.gauss_newton + self.residual, self.total)

    def __repr__(self) -> str:
        P = self.total.shape[0]
        norms = ", ".join(f"‖{n}‖ = {np.linalg.norm(a):.3g}" for n, a in (("H", self.total), ("GN", self.gauss_newton), ("R", self.residual)))
        return f"HessianParts(H = GN + R, {P}×{P}: {norms}; gap {self.gap:.1e})"


def hessian_parts(net: Stack, x: Array, y: Array, chunk: int | None = None, progress: bool | None = None) -> HessianParts:
    """``H``, ``GN`` and the residual ``H − GN = Σ_k (∂ℓ/∂a_{L,k}) ∇²a_{L,k}``, each computed on its own: a :class:`HessianParts`.

    >>> import numpy as np
    >>> from jacobnet import build_network
    >>> net = build_network("2,3,1", "tanh", "mse", seed=0)
    >>> parts = hessian_parts(net, np.array([0.5, -1.0]), np.array([0.3]))
    >>> parts.total.shape, parts.names, parts.gap < 1e-13
    ((13, 13), ['Dense 1', 'Dense 2'], True)
    """
    total = hessian(net, x, y, "total", chunk, progress)
    residual = hessian(net, x, y, "residual", chunk, progress)
    slices = [net.layer_slice(layer) for layer in net.param_layers]
    return HessianParts(total, gauss_newton(net, x, y), residual, net.param_names(), slices, net.param_labels())


# --- the passes -------------------------------------------------------------------------------------
def _output_jacobian(net: Stack, acts: list[Array], inputs: list[Array]) -> Array:
    """``∂a_L/∂θ`` from a forward pass already run: the identity rows pulled back, under the memory guard."""
    n_L, lead = acts[-1].shape[-1], acts[0].shape[:-1]
    _guard(lead + (n_L, net.n_params), "the output Jacobian ∂a_L/∂θ", "use a smaller batch")
    return _pull(net, inputs, np.broadcast_to(np.eye(n_L), lead + (n_L, n_L)))


def _pull(net: Stack, inputs: list[Array], rows: Array) -> Array:
    """The rows ``(…, k, n_L)`` pulled back to every layer's parameters: ``(…, k, n_params)``, per sample."""
    out = np.zeros(rows.shape[:-1] + (net.n_params,))

    def through(pos: Position, g: Array) -> Array:
        if pos.is_block:
            return _down_block(pos, inputs, g, through)
        layer, a = pos.layer, inputs[pos.index]
        if layer.n_params:
            out[..., pos.params] += layer.jacobian_op(a, "params").vjp(g)
        return layer.jacobian_op(a, "input").vjp(g)

    _backward(net, rows, through)
    return out


def _r_pass(net: Stack, acts: list[Array], inputs: list[Array], y: Array, V: Array, part: str) -> Array:
    """``(H v)ᵀ`` of the mean loss for the directions ``V`` ``(p, n_params)`` (rows): ``(p, n_params)``."""
    r = _RPass(net, inputs, V, part)
    da = np.zeros(acts[0].shape[:-1] + (V.shape[0], acts[0].shape[-1]))  # R{x} = 0
    for pos in net.positions:
        da = r.forward(pos, da)
    g = net.loss_fn.jacobian_op(acts[-1], y).A[..., 0, :]  # the ordinary rows ∂ℓ/∂a_L: (n,) or (B, n)
    rg = net.loss_fn.hessian_op(acts[-1], y).vjp(da) if part != "residual" else np.zeros_like(da)  # R{g_L} = R{a_L}ᵀ H_ℓ
    _backward(net, (g, rg), r.through)
    return r.out / _count(acts)


class _RPass:
    """One R-pass: the tangents ``R{a}`` forward, then the rows ``(g, R{g})`` back, ``R{∇_θ ℓ}`` summed into ``out``."""

    def __init__(self, net: Stack, inputs: list[Array], V: Array, part: str):
        self.inputs, self.V, self.second = inputs, V, part != "gauss_newton"
        self.ops: dict[int, tuple[Operator, Operator]] = {}
        self.tangents: dict[int, Array] = {}
        self.out = np.zeros((V.shape[0], net.n_params))

    def forward(self, pos: Position, da: Array) -> Array:
        """``R{a}`` at ``pos``'s output from ``da = R{a}`` at its input: ``J_x da + J_θ v`` (a block: its branches combined)."""
        self.tangents[pos.index] = da
        if pos.is_block:
            outs = []
            for branch in pos.branches:
                t = da
                for p in branch:
                    t = self.forward(p, t)
                outs.append(t)
            return pos.layer.combine(outs, da.shape[-1])
        layer, a = pos.layer, self.inputs[pos.index]
        J_x, J_t = self.ops[pos.index] = layer.jacobian_op(a, "input"), layer.jacobian_op(a, "params")
        out = _jvp_rows(J_x, da)
        return (out + _jvp_rows(J_t, self.V[:, pos.params])) if layer.n_params else out

    def through(self, pos: Position, rows: tuple[Array, Array]) -> tuple[Array, Array]:
        """``(g, R{g})`` at ``pos``'s input from those at its output; its ``R{g} J_θ + g R{J_θ}`` added to ``out``."""
        if pos.is_block:
            return _down_block(pos, self.inputs, rows, self.through)
        (g, rg), layer, a = rows, pos.layer, self.inputs[pos.index]
        J_x, J_t = self.ops[pos.index]
        gx, gt = layer.vjp_tangent(a, g, self.tangents[pos.index], self.V[:, pos.params]) if self.second else (0.0, 0.0)
        if layer.n_params:
            self.out[:, pos.params] += J_t.vjp_sum(rg) + gt
        return J_x.vjp(g[..., None, :])[..., 0, :], J_x.vjp(rg) + gx


def _backward(net: Stack, rows: object, through: Callable) -> None:
    """Carry ``rows`` down the positions, last first, until the first layer with parameters."""
    first = first_param_layer(net)
    if first is None:
        return
    for pos in reversed(net.positions):
        rows = through(pos, rows)
        if pos.top <= first:
            return


def _down_block(pos: Position, inputs: list[Array], rows: object, through: Callable) -> object:
    """Down every branch of the block at ``pos`` (the rows' slice for each); the sum of what comes back."""
    block = pos.layer
    sizes = block.branch_sizes(inputs[pos.index].shape[-1])
    total = None
    for b, branch in enumerate(pos.branches):
        row = _map(rows, lambda r, b=b: block.branch_row(r, b, sizes))
        for p in reversed(branch):
            row = through(p, row)
        total = row if total is None else _map2(total, row)
    return total


def _map(rows: object, f: Callable[[Array], Array]) -> object:
    return tuple(f(r) for r in rows) if isinstance(rows, tuple) else f(rows)


def _map2(a: object, b: object) -> object:
    return tuple(x + y for x, y in zip(a, b)) if isinstance(a, tuple) else a + b


def _jvp_rows(op: Operator, D: Array) -> Array:
    """``(J Dᵀ)ᵀ``: the tangents ``D`` ``(…, p, n)`` (rows) through ``J`` — ``(…, p, m)``."""
    return np.swapaxes(op.jvp(np.swapaxes(D, -1, -2)), -1, -2)


# --- sizes --------------------------------------------------------------------------------------------
def _count(acts: list[Array]) -> int:
    """``B`` for a batch, 1 for one sample (what the batch mean divides by)."""
    return acts[0].shape[0] if acts[0].ndim == 2 else 1


def _chunk(net: Stack, acts: list[Array], inputs: list[Array]) -> int:
    """Directions per R-pass: as many as keep every position's tangent (``B × p × n``) under :data:`CHUNK_BYTES`."""
    widths = sum(a.shape[-1] for a in inputs) + acts[-1].shape[-1]
    per_direction = _count(acts) * widths * F8 * 2  # (the tangents, and the rows R{g} coming back)
    return int(max(1, min(net.n_params, CHUNK_BYTES // per_direction)))


def _guard(shape: tuple[int, ...], what: str, instead: str) -> None:
    check_budget(int(np.prod(shape)) * F8, f"{what} of shape {shape}", instead)


def _check_part(part: object, who: str) -> None:
    if part not in PARTS:
        raise ValueError(f"{who}: part must be one of {', '.join(map(repr, PARTS))}, got {part!r}")
