"""Spectra of the products backpropagation forms: the singular values of ``∂a_L/∂a_l`` at every depth.

The gradient reaching layer ``l`` is the row ``∂L/∂a_L`` times

    ∂a_L/∂a_l = J_x(f_L) · J_x(f_{L−1}) ⋯ J_x(f_{l+1})     — shape (n_L, n_l),

and the singular values of that product say what it does to every direction
at once: ``σ_max ≪ 1`` and the gradient vanishes, ``σ_min ≫ 1`` (or ``σ_max ≫ 1``)
and it explodes, a large ``σ_max/σ_min`` and some directions vanish while
others survive. :func:`input_products` forms the products the backward way,
``I``, ``I · J_x(f_L)``, ``I · J_x(f_L) · J_x(f_{L−1})``, … — one VJP per layer,
through each layer's structure, a block's ``J_x`` being its own (``I + J_g`` of a
``Residual``) — and yields each one materialised, under the memory guard, keeping
none; :func:`spectra` keeps only their singular values, a :class:`Spectra`.

Through time (:class:`~jacobnet.core.rnn.RNN`) the same products are
``∂h_T/∂h_t = D_T W_hh ⋯ D_{t+1} W_hh`` with the RNN's own slopes
``D_t = diag(f′(z_t))`` (:func:`time_products`, :func:`through_time`).

>>> import numpy as np
>>> from jacobnet import Network, Dense, Tanh, MSE
>>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
>>> s = spectra(net, np.ones(3))
>>> s.labels, [v.shape for v in s.values]
(['∂a3/∂a3', '∂a3/∂a2', '∂a3/∂a1', '∂a3/∂a0'], [(2,), (2,), (2,), (2,)])
>>> l, P = list(input_products(net, np.ones(3)))[-1]        # ∂a3/∂a0 = W_2 D_1 W_1
>>> l, P.shape, bool(np.allclose(np.linalg.svd(P, compute_uv=False), s.values[-1], rtol=1e-13))
(0, (2, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from jacobnet.core.blocks import kind_of
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.rnn import RNN
from jacobnet.core.stack import Stack
from jacobnet.core.table import Table
from jacobnet.core.validate import as_input

Array = np.ndarray


@dataclass
class Spectra:
    """The singular values of a family of products ``∂a_L/∂a_l`` (or ``∂h_T/∂h_t``), shallowest first.

    Attributes:
        title: what was measured, e.g. ``"∂a_L/∂a_l of Network([...])"``.
        labels: each product's name, ``∂a4/∂a2`` (``∂h5/∂h3`` through time).
        depths: how many factors each product has: ``L − l`` layers (``T − t`` time steps).
        weights: how many of those factors are layers with parameters (through time, ``T − t``).
        values: each product's singular values, descending: ``(k,)``, or ``(B, k)`` for a
            batch (per sample); ``k = min(n_L, n_l)``.
        names: each product's deepest factor (``Dense 1``; ``step 3``), ``""`` for the identity.
        shapes: each product's per-sample shape, ``(n_L, n_l)``.
        unit: what a depth counts, ``"layers"`` or ``"time steps"``.
    """

    title: str
    labels: list[str]
    depths: list[int]
    weights: list[int]
    values: list[Array]
    names: list[str]
    shapes: list[tuple[int, int]]
    unit: str = "layers"

    @property
    def batch(self) -> int | None:
        """The batch size, or ``None`` for one sample."""
        return self.values[0].shape[0] if self.values[0].ndim == 2 else None

    @property
    def sigma_max(self) -> Array:
        """``σ_max = ‖∂a_L/∂a_l‖₂`` of each product: ``(n_products,)``, or ``(B, n_products)``."""
        return np.stack([v[..., 0] for v in self.values], axis=-1)

    @property
    def sigma_min(self) -> Array:
        """The smallest singular value of each product: ``(n_products,)``, or ``(B, n_products)``."""
        return np.stack([v[..., -1] for v in self.values], axis=-1)

    norms = sigma_max

    @property
    def condition(self) -> Array:
        """``σ_max / σ_min`` of each product (``inf`` where ``σ_min = 0``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.sigma_min > 0, self.sigma_max / np.maximum(self.sigma_min, 1e-300), np.inf)

    @property
    def roundoff(self) -> Array:
        """``max(n_L, n_l) · ε · σ_max`` of each product: singular values below it are round-off, not the product's.

        The SVD finds each singular value to within about ``ε ‖P‖₂`` (``ε`` = 2.2e-16, float64);
        a ``σ_min`` below this level says only that the product is numerically singular.
        """
        size = np.array([max(shape) for shape in self.shapes])
        return size * np.finfo(np.float64).eps * self.sigma_max

    def weight_steps(self) -> list[int]:
        """The indices of the identity and of every product that begins (backward: ends) at a layer with parameters.

        One per count of weight layers: for ``Dense, Tanh`` × 3 the products over 0, 1, 2, 3 (Dense, Tanh) pairs.
        """
        return [i for i, w in enumerate(self.weights) if i == 0 or w > self.weights[i - 1]]

    def sample(self, b: int) -> Spectra:
        """The spectra of sample ``b`` of a batch."""
        if self.batch is None or not -self.batch <= b < self.batch:
            raise ValueError(f"Spectra.sample: b must index a batch of {self.batch}, got {b!r}")
        values = [v[b] for v in self.values]
        return Spectra(f"{self.title}, sample {b}", self.labels, self.depths, self.weights, values, self.names, self.shapes, self.unit)

    def table(self) -> Table:
        """One row per product: its depth, ``σ_max``, ``σ_min``, ``σ_max/σ_min`` (for a batch, over all samples)."""
        big, small, singular = self.sigma_max, self.sigma_min, self.sigma_min <= self.roundoff
        if big.ndim == 2:
            big, small, singular = big.max(axis=0), small.min(axis=0), singular.any(axis=0)
        rows = [
            {"product": lab, "down to": name, self.unit: d, "weight layers": w, "σ_max": hi, "σ_min": lo,
             "σ_max/σ_min": hi / lo if lo > 0 else float("inf"), "note": "σ_min at round-off: singular" if sing else ""}
            for lab, name, d, w, hi, lo, sing in zip(self.labels, self.names, self.depths, self.weights, big.tolist(), small.tolist(), singular)
        ]
        columns = ["product", "down to", self.unit, "weight layers", "σ_max", "σ_min", "σ_max/σ_min", "note"]
        if self.unit != "layers":
            columns.remove("weight layers")
        footer = "" if self.batch is None else f"over a batch of {self.batch}: the largest σ_max and the smallest σ_min"
        return Table(self.title, columns, rows, footer=footer)

    def __str__(self) -> str:
        return str(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def _checked(net: object, who: str) -> Stack:
    if not isinstance(net, Stack):
        raise TypeError(f"{who}: net must be a jacobnet Network, got {kind_of(net)}")
    return net


def _guard(batch: int | None, rows: int, cols: int, what: str) -> None:
    shape = (rows, cols) if batch is None else (batch, rows, cols)
    check_budget(F8 * (batch or 1) * rows * cols, f"{what} of shape {shape}", "use a smaller batch or narrower layers")


def _identity(n: int, batch: int | None) -> Array:
    return np.eye(n) if batch is None else np.broadcast_to(np.eye(n), (batch, n, n)).copy()


def input_products(net: Stack, x: object) -> Iterator[tuple[int, Array]]:
    """``(l, ∂a_L/∂a_l)`` for ``l = L, L − 1, …, 0``, formed the backward way and yielded one at a time.

    ``∂a_L/∂a_L = I``, then ``∂a_L/∂a_{l−1} = ∂a_L/∂a_l · J_x(f_l)``, a VJP of ``n_L`` rows
    through the ``l``-th top-level layer's structure (a block's whole ``J_x``). Each
    product is ``(n_L, n_l)``, or ``(B, n_L, n_l)`` per sample; the memory guard is
    asked before it is formed. ``x``: ``(n_in,)`` or ``(B, n_in)``.

    >>> from jacobnet import Network, Dense, Tanh, MSE
    >>> net = Network([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
    >>> [(l, P.shape) for l, P in input_products(net, np.ones((5, 3)))]       # a batch of 5: per sample
    [(3, (5, 2, 2)), (2, (5, 2, 4)), (1, (5, 2, 4)), (0, (5, 2, 3))]
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> P = dict(input_products(net, x))[1]                                   # ∂a3/∂a1 = W_2 diag(tanh′(z_1))
    >>> bool(np.allclose(P, net.layers[2].W * (1 - np.tanh(net.layers[0].forward(x)) ** 2), rtol=1e-14, atol=0))
    True
    """
    net = _checked(net, "input_products")
    acts = net.activations(x)
    L, batch = len(net.layers), acts[0].shape[0] if acts[0].ndim == 2 else None
    n_L = acts[-1].shape[-1]
    _guard(batch, n_L, n_L, f"∂a{L}/∂a{L}")
    P = _identity(n_L, batch)
    yield L, P
    for l in range(L, 0, -1):
        _guard(batch, n_L, acts[l - 1].shape[-1], f"∂a{L}/∂a{l - 1}")
        P = net.layers[l - 1].jacobian_op(acts[l - 1], "input").vjp(P)
        yield l - 1, P


def singular_values(P: Array) -> Array:
    """The singular values of ``P`` (``(m, n)``, or ``(B, m, n)`` per sample), descending: ``(k,)`` or ``(B, k)``, ``k = min(m, n)``.

    >>> singular_values(np.array([[3.0, 0.0, 0.0], [0.0, -4.0, 0.0]]))        # 2 × 3: the sizes of its axes
    array([4., 3.])
    """
    return np.linalg.svd(P, compute_uv=False)


def spectra(net: Stack, x: object) -> Spectra:
    """The singular values of ``∂a_L/∂a_l = J_x(f_L) ⋯ J_x(f_{l+1})`` for every ``l``, per sample for a batch.

    Products of :func:`input_products`, shallowest (``l = L``, the identity) first;
    each is reduced to its singular values as soon as it is formed.

    >>> from jacobnet import Network, Dense, ReLU, MSE
    >>> s = spectra(Network([Dense(3, 5, seed=0), ReLU(), Dense(5, 2, seed=1)], MSE()), np.ones(3))
    >>> s.depths, s.weights, s.shapes
    ([0, 1, 2, 3], [0, 1, 1, 2], [(2, 2), (2, 5), (2, 5), (2, 3)])
    """
    net = _checked(net, "spectra")
    L, params = len(net.layers), [layer.n_params > 0 for layer in net.layers]
    labels, depths, weights, values, names, shapes = [], [], [], [], [], []
    for l, P in input_products(net, x):
        shapes.append(P.shape[-2:])
        labels.append(f"∂a{L}/∂a{l}")
        depths.append(L - l)
        weights.append(sum(params[l:]))
        names.append(net.names[l] if l < L else "")
        values.append(singular_values(P))
    return Spectra(f"∂a{L}/∂a_l of {_short(net)}", labels, depths, weights, values, names, shapes)


def _short(net: Stack) -> str:
    """``repr(net)``, or for a long one its first and last layers: ``Network([Dense(32, 32), Tanh(), …, Tanh()], MSE()), 100 layers``."""
    text = repr(net)
    if len(text) <= 100:
        return text
    first, last = ", ".join(map(repr, net.layers[:2])), repr(net.layers[-1])
    return f"{type(net).__name__}([{first}, …, {last}], {net.loss_fn!r}), {len(net.layers)} layers"


def _checked_rnn(rnn: object, who: str) -> RNN:
    if not isinstance(rnn, RNN):
        raise TypeError(f"{who}: rnn must be a jacobnet RNN (jn.RNN), got {kind_of(rnn)}")
    return rnn


def time_products(rnn: RNN, x: object) -> Iterator[tuple[int, Array]]:
    """``(t, ∂h_T/∂h_t)`` for ``t = T, T − 1, …, 0``: ``I``, then ``∂h_T/∂h_{t−1} = ∂h_T/∂h_t · D_t W_hh``.

    ``D_t = diag(f′(z_t))`` are the RNN's own slopes (:meth:`~jacobnet.core.rnn.RNN.run`);
    each product is ``(n_h, n_h)``, or ``(B, n_h, n_h)``, formed under the memory guard.

    >>> rnn = RNN(2, 3, steps=4, seed=0)                  # 4 steps of 2 inputs, 3 hidden units
    >>> x = np.linspace(-1, 1, 8)
    >>> P = dict(time_products(rnn, x))
    >>> sorted(P), P[3].shape, bool(np.allclose(P[3], np.diag(rnn.run(x)[2][3]) @ rnn.W_hh))   # ∂h4/∂h3 = D_4 W_hh
    ([0, 1, 2, 3, 4], (3, 3), True)
    """
    rnn = _checked_rnn(rnn, "time_products")
    x = as_input(x, f"time_products: {rnn!r}", rnn.n_in)
    _, _, D = rnn.run(x)
    T, n_h, batch = rnn.steps, rnn.hidden_size, x.shape[0] if x.ndim == 2 else None
    _guard(batch, n_h, n_h, f"∂h{T}/∂h_t")
    P = _identity(n_h, batch)
    yield T, P
    for t in range(T, 0, -1):
        P = (P * D[..., None, t - 1, :]) @ rnn.W_hh  # · D_t W_hh  (D[..., t − 1, :] is f′(z_t))
        yield t - 1, P


def through_time(rnn: RNN, x: object) -> Spectra:
    """``‖∂h_T/∂h_t‖₂`` and every singular value of ``∂h_T/∂h_t = D_T W_hh ⋯ D_{t+1} W_hh``, for ``t = T … 0``.

    ``sigma_max`` of the result is the norm. Products of :func:`time_products`.

    >>> s = through_time(RNN(2, 3, steps=4, seed=0), np.ones((5, 8)))      # a batch of 5
    >>> s.labels[-1], s.unit, s.sigma_max.shape
    ('∂h4/∂h0', 'time steps', (5, 5))
    """
    rnn = _checked_rnn(rnn, "through_time")
    T = rnn.steps
    labels, depths, values, names, shapes = [], [], [], [], []
    for t, P in time_products(rnn, x):
        shapes.append(P.shape[-2:])
        labels.append(f"∂h{T}/∂h{t}")
        depths.append(T - t)
        names.append(f"step {t + 1}" if t < T else "")
        values.append(singular_values(P))
    return Spectra(f"∂h{T}/∂h_t of {rnn!r}", labels, depths, list(depths), values, names, shapes, unit="time steps")
