"""Hypothesis strategies for the chain tests: random networks and random structured chains.

``networks_with_data`` draws a network from the one spec parser (1–3 Dense
layers, non-square widths 1–6, at least 2 classes for the softmax losses,
any activation and loss) with an input and a target, one sample or a batch. ``operator_chains`` draws chains of every
structured operator (dense, diagonal, diag − rank-1, ``[I ⊗ xᵀ | I]``, a
shared ``W``) in any order, so that every kernel pair of
:mod:`jacobnet.chain.kernels` is exercised, including structured · structured.
Values come from a drawn seed (fast), magnitudes in [0.5, 2] with random
signs: no exact zeros, no overflow.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from jacobnet import build_network
from jacobnet.chain import Chain
from jacobnet.chain.factor import Factor
from jacobnet.core.operators import DiagMinusOuter, Diagonal, KronRows, Matrix

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky-relu", "softplus")
LOSSES = ("mse", "ce", "softmax-ce")
KINDS = ("dense", "shared", "diagonal", "diag-rank1", "kron")


def values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Magnitudes in [0.5, 2] with random signs."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


@st.composite
def networks_with_data(draw: st.DrawFn, batch: bool | None = None, max_depth: int = 3):
    """``(net, x, y)``: a random network (non-square layers) with an input and a target."""
    depth = draw(st.integers(1, max_depth))
    activation, loss = draw(st.sampled_from(ACTIVATIONS)), draw(st.sampled_from(LOSSES))
    sizes = [draw(st.integers(1, 6)) for _ in range(depth)]
    sizes.append(draw(st.integers(1 if loss == "mse" else 2, 6)))  # a softmax over one class is refused
    if depth == 1 and sizes[0] == sizes[1]:
        sizes[1] += 1
    net = build_network(sizes, activation, loss, seed=draw(st.integers(0, 99)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    is_batch = draw(st.booleans()) if batch is None else batch
    lead = (draw(st.integers(1, 4)),) if is_batch else ()
    x = rng.normal(size=lead + (sizes[0],))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], lead or None)]
    if net.loss_fn.name == "MSE":
        y = rng.normal(size=lead + (sizes[-1],))
    return net, x, y


def operator(kind: str, rows: int, rng: np.random.Generator, batch: int | None, cols: int):
    """A structured operator with ``rows`` rows (``cols`` used by the dense kinds, ``n`` = cols for kron)."""
    lead = () if batch is None else (batch,)
    if kind == "dense":
        return Matrix(values(rng, lead + (rows, cols)))
    if kind == "shared":
        return Matrix(values(rng, (rows, cols)), batch=batch)
    if kind == "diagonal":
        return Diagonal(values(rng, lead + (rows,)))
    if kind == "diag-rank1":
        return DiagMinusOuter(rng.uniform(0.1, 1.0, lead + (rows,)))
    return KronRows(values(rng, lead + (cols,)), m=rows)


@st.composite
def operator_chains(draw: st.DrawFn, min_len: int = 2, max_len: int = 6, batch: bool | None = False) -> Chain:
    """A chain of ``min_len…max_len`` random structured factors whose shapes match."""
    n = draw(st.integers(min_len, max_len))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    is_batch = draw(st.booleans()) if batch is None else batch
    B = draw(st.integers(1, 3)) if is_batch else None
    rows = draw(st.integers(1, 4))
    factors = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS if rows <= 6 else KINDS[:4]))
        op = operator(kind, rows, rng, B, draw(st.integers(1, 4)))
        factors.append(Factor(f"F{i}", op))
        rows = op.shape[1]
    return Chain("P", factors)


def magnitude(factor: Factor) -> np.ndarray:
    """``|F|`` entrywise, as the factor's kernels see it: ``diag(|s|) + |s||s|ᵀ`` for ``diag(s) − s sᵀ``.

    A kernel that multiplies through ``diag(s) − s sᵀ`` rounds relative to its two
    terms, not to their difference (which cancels when the softmax saturates).
    """
    op = factor.op
    if isinstance(op, DiagMinusOuter):
        s = np.abs(op.s)
        return Diagonal(s).dense() + s[..., :, None] * s[..., None, :]
    return np.abs(factor.dense())


def abs_product(chain: Chain) -> float:
    """``max |F_0|·|F_1|⋯|F_k|``: the scale that rounding errors of any order are bounded by."""
    out = None
    for f in chain.factors:
        A = magnitude(f)
        out = A if out is None else out @ A
    return float(np.max(out))
