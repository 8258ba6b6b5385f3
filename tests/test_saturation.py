"""Saturated softmax, to the last digit.

A confident, correct prediction has a softmax output s_k = 1 − c with c tiny,
a loss ≈ c and a gradient ≈ c. Computed naively (s_k − 1, s_k − s_k², log of
a sum that rounds to 1) all three cancel to noise or to exactly 0. jacobnet
computes 1 − s_k as Σ_{j≠k} s_j and the loss with log1p, so they keep full
relative accuracy. The references here are 400-digit mpmath: the textbook
formulas evaluated exactly, and SymPy's own derivative of the whole loss.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn
from jacobnet.check import rel_error
from jacobnet.symbolic import compiled_gradient
from jacobnet.symbolic.derive import lambdify_safe

EPS = np.finfo(np.float64).eps


def tol(z: np.ndarray) -> float:
    """What float64 can promise: e^{−d} for a rounded difference d = z_j − z_k carries a
    relative error ≈ d·ε (exp's condition number is d), so 4 ε (1 + spread of z).
    Cancellation would give ≈ ε / c instead, c = 1 − s_max: 30 and more orders larger."""
    return 4 * EPS * (1.0 + float(np.ptp(z)))
mp.mp.dps = 400  # enough to hold 1 − s_max ≈ e^{−700} exactly: no reference cancellation


def mp_softmax(z: np.ndarray) -> list[mp.mpf]:
    e = [mp.e ** mp.mpf(float(v)) for v in z]
    total = mp.fsum(e)
    return [v / total for v in e]


def saturated_logits(n: int, margin: float, seed: int) -> np.ndarray:
    """Logits whose largest entry beats the rest by at least ``margin``: 1 − s_max ≈ e^{−margin}."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-3.0, 3.0, size=n)
    z[rng.integers(n)] = z.max() + margin
    return z


@FAST
@given(n=st.integers(2, 7), margin=st.floats(15.0, 700.0), seed=st.integers(0, 2**31))
def test_softmax_ce_loss_and_row_keep_relative_accuracy(n: int, margin: float, seed: int) -> None:
    z = saturated_logits(n, margin, seed)
    y = np.zeros(n)
    y[np.argmax(z)] = 1.0  # the confident prediction is right: loss ≈ e^{−margin}
    s = mp_softmax(z)
    row_ref = np.array([float(si - yi) for si, yi in zip(s, y)])
    loss_ref = float(-mp.log(s[int(np.argmax(z))]))
    loss, TOL = jn.SoftmaxCrossEntropy(), tol(z)
    assert loss_ref > 0.0 and abs(loss.forward(z, y) - loss_ref) <= TOL * loss_ref
    # entry by entry: the tiny entries are not lost beside the large ones
    nonzero = row_ref != 0
    got = loss.jacobian(z, y)[0]
    assert np.all(got[~nonzero] == 0.0)
    assert np.all(np.abs(got[nonzero] - row_ref[nonzero]) <= TOL * np.abs(row_ref[nonzero]))


@FAST
@given(n=st.integers(2, 6), margin=st.floats(15.0, 700.0), seed=st.integers(0, 2**31))
def test_softmax_jacobian_entrywise_in_saturation(n: int, margin: float, seed: int) -> None:
    z = saturated_logits(n, margin, seed)
    s = mp_softmax(z)
    ref = np.array([[float((s[i] if i == j else 0) - s[i] * s[j]) for j in range(n)] for i in range(n)])
    op, TOL = jn.Softmax().jacobian_input_op(z), tol(z)
    nz = ref != 0
    dense = op.dense()
    assert np.all(np.abs(dense[nz] - ref[nz]) <= TOL * np.abs(ref[nz]))
    # through the structure: one-hot rows and columns pick out single rows / columns exactly
    for k in range(n):
        e = np.eye(n)[k]
        assert rel_error(op.vjp(e[None, :])[0], ref[k]) <= TOL
        assert rel_error(op.jvp(e[:, None])[:, 0], ref[:, k]) <= TOL


def test_naive_forms_do_cancel() -> None:
    """The failure the stable forms avoid (so the tests above can fail)."""
    z = np.array([0.0, -30.0, 40.0])
    s = jn.Softmax().forward(z)
    c = float(1 - mp_softmax(z)[2])
    assert s[2] - 1.0 == 0.0 and c > 1e-18  # naive s − y loses the whole entry
    assert jn.SoftmaxCrossEntropy().jacobian(z, np.array([0.0, 0.0, 1.0]))[0, 2] == pytest.approx(-c, rel=tol(z))
    assert jn.SoftmaxCrossEntropy().forward(z, np.array([0.0, 0.0, 1.0])) == pytest.approx(c, rel=tol(z))


def mp_reference_gradient(net: jn.Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """SymPy's derivative of the whole loss expression, evaluated in 400-digit mpmath."""
    grad = compiled_gradient(net).grad
    f = lambdify_safe(grad.x + grad.theta + grad.y, list(grad.direct), "mpmath")
    args = [mp.mpf(float(v)) for v in (*x, *net.get_params(), *y)]
    return np.array([float(g) for g in f(*args)])


@pytest.mark.parametrize("loss", ["softmax-ce", "ce"])
@pytest.mark.parametrize("scale", [20.0, 100.0, 300.0, 800.0])
def test_whole_network_gradient_in_saturation(loss: str, scale: float) -> None:
    """From 1 − s_max ≈ 3e-3 down to ≈ e^{−300}, where float64's s_max is exactly 1."""
    net = jn.build_network("3,4,3", activation="tanh", loss=loss, seed=3)
    dense = next(l for l in reversed(net.layers) if isinstance(l, jn.Dense))
    dense.W = dense.W * scale  # the logits' spread grows with the scale
    x = np.array([0.7, -1.2, 0.4])
    z = dense.forward(net.activations(x)[-2 if loss == "softmax-ce" else -3])
    y = np.eye(3)[int(np.argmax(z))]
    assert float(1 - max(mp_softmax(z))) < 1e-2 * np.exp(-scale / 20)  # really saturated
    ref = mp_reference_gradient(net, x, y)
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(x, y, mode=mode), ref) <= 4 * tol(z), mode
