"""Hypothesis strategies shared by the numeric-core tests.

Shapes include width 1 and non-square layers (a transposed Jacobian passes on
square ones); values are drawn from each rule's promised ``domain`` in
:mod:`jacobnet.core.rules`, or from a moderate sub-range where a test compares
against finite differences (whose round-off, ``ε·|f|/h``, swamps a saturated
Jacobian whose entries are all ≈ 0), always at least ``KINK_GAP`` away from
a kink there (a central difference straddling a kink averages the two sides).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jacobnet as jn
from jacobnet.core.rules import RULES, Rule

DERANDOMIZE = not os.environ.get("JACOBNET_RANDOM")
"""The same examples on every run, so a red CI is reproducible (``JACOBNET_RANDOM=1`` draws new ones)."""

FAST = settings(max_examples=int(os.environ.get("JACOBNET_EXAMPLES", "30")), deadline=None, derandomize=DERANDOMIZE)
"""The settings of every property test here: modest, so the suite stays fast
(``JACOBNET_RANDOM=1 JACOBNET_EXAMPLES=2000 pytest …`` for a deep search)."""

MAX_WIDTH = 7
FD_LIMIT = 3.0  # |x| ≤ 3: no activation is saturated, softmax logits spread ≤ 6
KINK_GAP = 1e-2  # ≫ the FD step at |x| ≤ 3 (≈ 2e-5)
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus")
LAYER_KINDS = ("dense", *ACTIVATIONS, "softmax")

widths = st.integers(1, MAX_WIDTH)
batch_sizes = st.integers(1, 4)
alphas = st.one_of(st.just(0.0), st.floats(1e-3, 0.5))  # no subnormal slopes: FD cannot see them


@st.composite
def nonsquare_shapes(draw: st.DrawFn, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """``(n_in, n_out)`` with ``n_in ≠ n_out``; width 1 on either side included."""
    n_in = draw(st.integers(1, max_width))
    n_out = draw(st.integers(1, max_width).filter(lambda n: n != n_in))
    return n_in, n_out


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Finite float64 values in ``[lo, hi]`` (Hypothesis also tries 0, the ends and tiny values)."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


def away_from(points: tuple[float, ...], lo: float, hi: float, gap: float = KINK_GAP) -> st.SearchStrategy[float]:
    """Values in ``[lo, hi]`` at least ``gap`` from every point in ``points``."""
    return floats(lo, hi).filter(lambda v: all(abs(v - p) >= gap for p in points))


def rule_floats(rule: Rule, fd: bool = False) -> st.SearchStrategy[float]:
    """Values from the rule's domain; with ``fd=True`` the FD-safe part of it."""
    lo, hi = rule.domain
    if not fd:
        return floats(lo, hi)
    return away_from(rule.kinks, max(lo, -FD_LIMIT), min(hi, FD_LIMIT))


def arrays(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of a fixed shape."""
    return hnp.arrays(np.float64, shape, elements=elements)


def layer_values(kind: str, shape: tuple[int, ...], fd: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Inputs for a layer kind: its rule's domain (Dense, Softmax: ±1000, or ±FD_LIMIT for FD)."""
    if kind in RULES:
        return arrays(shape, rule_floats(RULES[kind], fd))
    lim = FD_LIMIT if fd else 1000.0
    return arrays(shape, floats(-lim, lim))


def make_layer(kind: str, n_in: int, n_out: int, alpha: float = 0.01) -> jn.Layer:
    """A fresh layer of the kind (``n_out`` is used by Dense only)."""
    classes = {"sigmoid": jn.Sigmoid, "tanh": jn.Tanh, "relu": jn.ReLU, "softplus": jn.Softplus, "softmax": jn.Softmax}
    if kind == "dense":
        return jn.Dense(n_in, n_out)
    if kind == "leaky_relu":
        return jn.LeakyReLU(alpha=alpha)
    return classes[kind]()


@st.composite
def layers_with_input(
    draw: st.DrawFn, kinds: tuple[str, ...] = LAYER_KINDS, batch: bool = False, fd: bool = False
) -> tuple[jn.Layer, np.ndarray]:
    """A layer (Dense non-square, random parameters) and an input, one sample or a batch."""
    kind = draw(st.sampled_from(kinds))
    n_in, n_out = draw(nonsquare_shapes())
    layer = make_layer(kind, n_in, n_out, draw(alphas))
    if layer.n_params:  # for FD no tiny weights: a Jacobian of all-1e-38 entries is below FD's noise, ε·|f|/h
        weights = st.one_of(st.just(0.0), away_from((0.0,), -FD_LIMIT, FD_LIMIT)) if fd else floats(-10, 10)
        layer.set_params(draw(arrays((layer.n_params,), weights)))
    shape = (draw(batch_sizes), n_in) if batch else (n_in,)
    return layer, draw(layer_values(kind, shape, fd))


def probabilities(n: int, rng: np.random.Generator, spread: float = 3.0) -> np.ndarray:
    """A strictly positive probability vector (softmax of logits in ±spread)."""
    e = np.exp(rng.uniform(-spread, spread, n))
    return e / e.sum()


def targets(loss: str, yhat: np.ndarray, rng: np.random.Generator, one_hot: bool) -> np.ndarray:
    """A target of ``yhat``'s shape: real values for MSE, one-hot rows or distributions otherwise."""
    if loss == "mse":
        return rng.normal(size=yhat.shape)
    rows = yhat.reshape(-1, yhat.shape[-1])
    if one_hot:
        out = np.eye(rows.shape[1])[rng.integers(0, rows.shape[1], rows.shape[0])]
    else:
        out = np.stack([probabilities(rows.shape[1], rng) for _ in rows])
    return out.reshape(yhat.shape)


@contextmanager
def no_warnings() -> Iterator[None]:
    """Fail on any warning and on any overflow, division by zero or invalid operation.

    Underflow to 0 (``exp(−1000)``) is the correct, silent result and stays allowed,
    as it is under NumPy's defaults.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            yield
