"""``jn.depth``: what depth does to the products backpropagation forms — vanishing and exploding gradients.

The gradient reaching layer ``l`` is ``∂L/∂a_L · ∂a_L/∂a_l``, a product of ``L − l``
layer Jacobians. Its singular values decide whether the gradient vanishes
(``σ_max → 0``), explodes (``σ → ∞``) or keeps its length in some directions
only (``σ_max/σ_min`` large):

* :func:`singular_values` — every singular value of ``∂a_L/∂a_l`` for each ``l``
  (per sample for a batch), a :class:`~jacobnet.chain.spectra.Spectra`;
* :func:`sweep` — networks of ``depth`` × ``(Dense(width, width, init=…), activation)``
  for each activation and initialisation (:class:`~jacobnet.core.layers.Dense`
  documents the inits), and their spectra at a random input: the data of
  :func:`jacobnet.viz.spectrum_figure`; :func:`table` — their numbers at one depth;
* :func:`through_time` — ``‖∂h_T/∂h_t‖₂`` and the singular values of
  ``∂h_T/∂h_t = D_T W_hh ⋯ D_{t+1} W_hh`` for a :class:`~jacobnet.core.rnn.RNN`.

>>> import numpy as np
>>> s = sweep(activations=("linear",), inits=("orthogonal",), depth=20, width=6)
>>> spectra = s["linear", "orthogonal"]
>>> spectra.depths[-1], bool(np.allclose(spectra.values[-1], 1.0, atol=1e-12))   # 20 orthogonal factors
(20, True)
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jacobnet.chain.spectra import Spectra, spectra
from jacobnet.chain.spectra import through_time as _through_time
from jacobnet.core.layer import Layer
from jacobnet.core.layers import Dense
from jacobnet.core.losses import MSE
from jacobnet.core.rnn import RNN
from jacobnet.core.stack import Stack
from jacobnet.core.table import Table
from jacobnet.core.validate import positive_int, seed_value
from jacobnet.net.network import Network
from jacobnet.net.spec import activation_class

Array = np.ndarray
ACTIVATIONS = ("tanh", "relu", "sigmoid")
"""The default activations of :func:`sweep`; ``"linear"`` (no activation) and the other rules are accepted too."""


def singular_values(net: Stack, x: object) -> Spectra:
    """For each layer index ``l``, the singular values of ``∂a_L/∂a_l = J_x(f_L) ⋯ J_x(f_{l+1})``.

    The products are formed the backward way — ``I``, then one VJP per top-level
    layer (a block's ``J_x`` whole: ``I + J_g`` of a ``Residual``) — materialised one at
    a time under the memory guard, and each reduced to its singular values at once
    (:func:`jacobnet.chain.spectra.spectra`).

    Args:
        net: a :class:`~jacobnet.net.Network` (its loss is not used).
        x: the input, ``(n_in,)``, or a batch ``(B, n_in)`` (then every product is per sample).

    Returns:
        A :class:`~jacobnet.chain.spectra.Spectra`, shallowest product first: ``values[i]``
        descending, ``(min(n_L, n_l),)`` or ``(B, min(n_L, n_l))``; ``depths[i] = L − l``;
        ``sigma_max``, ``sigma_min``; ``print()`` it for a table.

    >>> from jacobnet import Network, Dense, ReLU, MSE
    >>> net = Network([Dense(3, 5, seed=0), ReLU(), Dense(5, 2, seed=1)], MSE())
    >>> s = singular_values(net, np.ones((4, 3)))      # a batch of 4
    >>> s.labels, s.values[-1].shape, s.sigma_max.shape
    (['∂a3/∂a3', '∂a3/∂a2', '∂a3/∂a1', '∂a3/∂a0'], (4, 2), (4, 4))
    """
    return spectra(net, x)


def through_time(rnn: RNN, x: object) -> Spectra:
    """``‖∂h_T/∂h_t‖₂`` and every singular value of ``∂h_T/∂h_t`` for ``t = T, T − 1, …, 0``.

    ``∂h_T/∂h_t = D_T W_hh · D_{T−1} W_hh ⋯ D_{t+1} W_hh`` with the RNN's own slopes
    ``D_t = diag(f′(z_t))``, formed backward from ``I`` (each ``(n_h, n_h)``, or per sample
    for a batch). ``∂h_T/∂x_t = ∂h_T/∂h_t · D_t W_ih`` is block ``t`` of ``rnn.jacobian_input(x)``.

    Returns:
        A :class:`~jacobnet.chain.spectra.Spectra` with ``depths[i] = T − t`` (time steps back);
        ``norms`` (= ``sigma_max``) is ``‖∂h_T/∂h_t‖₂``.

    >>> from jacobnet import RNN
    >>> rnn = RNN(2, 3, steps=5, seed=0)
    >>> s = through_time(rnn, np.linspace(-1, 1, 10))
    >>> s.labels[:3], s.norms.shape, bool(np.all(np.diff(s.norms[1:]) < 0))     # tanh, small W_hh: it vanishes
    (['∂h5/∂h5', '∂h5/∂h4', '∂h5/∂h3'], (6,), True)
    """
    return _through_time(rnn, x)


def _activation(name: object) -> Layer | None:
    """A fresh activation layer for ``name``; ``None`` for ``"linear"``."""
    if isinstance(name, str) and name.strip().lower() in ("linear", "identity"):
        return None
    try:
        return activation_class(str(name))()
    except ValueError as err:
        raise ValueError(f"sweep: {err} (or linear: no activation)") from None


def _names(values: object, what: str, allowed: Sequence[str] | None = None) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"sweep: {what} must be a non-empty list of names, got {values!r}")
    for v in values:
        if allowed is not None and v not in allowed:
            raise ValueError(f"sweep: unknown init {v!r}; choose from {', '.join(allowed)}")
        if allowed is None:
            _activation(v)  # (raises for an unknown activation, listing the known ones)
    return list(values)


def network(activation: str, init: str, depth: int, width: int, seed: int = 0, *, gain: float = 1.0) -> Network:
    """``depth`` × ``(Dense(width, width, init=init, gain=gain), activation)`` with an MSE loss; Dense ``k`` (1-based) seeded ``seed + k``.

    ``activation="linear"``: Dense layers only.

    >>> network("relu", "he", depth=2, width=3)
    Network([Dense(3, 3, init='he'), ReLU(), Dense(3, 3, init='he'), ReLU()], MSE())
    >>> network("tanh", "orthogonal", depth=1, width=3, gain=1.5).layers[0].gain
    1.5
    """
    layers: list[Layer] = []
    for k in range(1, positive_int(depth, "depth: depth") + 1):
        layers.append(Dense(width, width, init=init, gain=gain, seed=seed + k))
        act = _activation(activation)
        if act is not None:
            layers.append(act)
    return Network(layers, MSE())


def sweep(
    activations: Sequence[str] = ACTIVATIONS,
    inits: Sequence[str] = Dense.INITS,
    *,
    depth: int = 50,
    width: int = 32,
    seed: int = 0,
    samples: int = 1,
    gain: float = 1.0,
) -> dict[tuple[str, str], Spectra]:
    """The spectra across depth of one network per activation × init, at one random input.

    Each network is :func:`network` ``(activation, init, depth, width, seed, gain=gain)`` — the same
    weight seeds for every activation, so the columns differ only by the init — and
    its :func:`singular_values` at ``x ~ N(0, I)`` (seeded by ``seed``; ``samples > 1``: a
    batch of that many inputs, per sample). Products of ``k`` (Dense, activation) pairs
    sit at ``Spectra.weight_steps()``.

    Returns:
        ``{(activation, init): Spectra}``, activations outer, inits inner: what
        :func:`jacobnet.viz.spectrum_figure` draws as a grid and :func:`table` prints.

    >>> s = sweep(("tanh", "relu"), ("lecun", "he"), depth=3, width=4)
    >>> list(s), s["relu", "he"].depths[-1]
    ([('tanh', 'lecun'), ('tanh', 'he'), ('relu', 'lecun'), ('relu', 'he')], 6)
    """
    activations, inits = _names(activations, "activations"), _names(inits, "inits", Dense.INITS)
    width, samples = positive_int(width, "sweep: width"), positive_int(samples, "sweep: samples")
    positive_int(depth, "sweep: depth")
    rng = np.random.default_rng(seed_value(seed, "sweep: seed", allow_none=False))
    x = rng.normal(size=width if samples == 1 else (samples, width))
    return {(a, i): singular_values(network(a, i, depth, width, seed, gain=gain), x) for a in activations for i in inits}


def table(spectra_by_name: Mapping[object, Spectra], weights: int | None = None) -> Table:
    """``σ_max``, ``σ_min`` and ``σ_max/σ_min`` of each network's product over ``weights`` weight layers (default: all).

    Keys ``(activation, init)`` (a :func:`sweep`) give those two columns; other keys one, ``network``.
    For a batch, the largest ``σ_max`` and the smallest ``σ_min`` over its samples. A ``σ_min`` below
    round-off (:attr:`~jacobnet.chain.spectra.Spectra.roundoff`) is noted: the product is numerically singular.

    >>> print(table(sweep(("tanh", "sigmoid"), ("orthogonal",), depth=4, width=8), weights=4))
    ∂a_L/∂a_l over 4 weight layers
    activation  init        weight layers    σ_max    σ_min  σ_max/σ_min  note
    ──────────  ──────────  ─────────────  ───────  ───────  ───────────  ────
    tanh        orthogonal              4    0.695   0.0886         7.84
    sigmoid     orthogonal              4  0.00357  0.00212         1.68
    """
    rows = []
    for key, s in spectra_by_name.items():
        steps = s.weight_steps()
        want = s.weights[steps[-1]] if weights is None else weights
        i = next((j for j in steps if s.weights[j] == want), None)
        if i is None:
            raise ValueError(f"table: {key!r} has products over 0 … {s.weights[steps[-1]]} weight layers, not {weights!r}")
        hi, lo = float(np.max(s.sigma_max[..., i])), float(np.min(s.sigma_min[..., i]))
        singular = bool(np.any(s.sigma_min[..., i] <= s.roundoff[..., i]))
        names = dict(zip(("activation", "init"), key)) if isinstance(key, tuple) and len(key) == 2 else {"network": str(key)}
        rows.append({**names, "weight layers": want, "σ_max": hi, "σ_min": lo, "σ_max/σ_min": hi / lo if lo > 0 else float("inf"),
                     "note": "σ_min at round-off: singular" if singular else ""})
    first = [c for c in ("activation", "init", "network") if rows and c in rows[0]]
    title = "∂a_L/∂a_l over " + ("all weight layers" if weights is None else f"{weights} weight layers")
    return Table(title, [*first, "weight layers", "σ_max", "σ_min", "σ_max/σ_min", "note"], rows)
