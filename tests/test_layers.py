"""Every layer's materialised Jacobians against finite differences and autograd.

* ``jacobian_input`` ``(n_out, n_in)`` and ``jacobian_params`` ``(n_out, n_params)``
  on Hypothesis-drawn non-square shapes (width 1 included) and values:
  ``rel_error ≤ 1e-7`` against central differences (``check.jacobian_fd``),
  ``≤ 1e-12`` against ``autograd.jacobian`` of the independent reference
  (``tests/reference.py``);
* kinks (exact closed-form values; finite differences only away from them),
  extremes (±1000);
* batches: the stacked per-sample Jacobians; parameter-free layers: ``(n_out, 0)``;
* parameters: round trip, copies, and J_θ's columns in ``get_params()`` order;
* the structured operators: ``vjp``/``jvp`` equal the dense products;
* the tolerances are tight enough to reject a transposed or shifted Jacobian.
"""

from __future__ import annotations

import autograd
import numpy as np
import pytest
import reference as ref
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import (
    ACTIVATIONS,
    FAST,
    arrays,
    floats,
    layers_with_input,
    make_layer,
    no_warnings,
    nonsquare_shapes,
)

import jacobnet as jn
from jacobnet.check import jacobian_fd, rel_error

FD_TOL = 1e-7
AD_TOL = 1e-12
BATCH_TOL = 1e-14  # a batch vs its samples one by one: the same formula, summed in another order
OP_TOL = 1e-12  # structured product vs dense product: same numbers, different summation order
rng = np.random.default_rng(20240601)


# --- references -----------------------------------------------------------
def ad_input(layer: jn.Layer, x: np.ndarray) -> np.ndarray:
    """autograd's ∂f/∂x of the reference implementation, one sample."""
    fn = ref.layer_fn(layer)
    if layer.n_params:
        theta = layer.get_params()
        return autograd.jacobian(lambda v: fn(theta, v))(x)
    return autograd.jacobian(fn)(x)


def ad_params(layer: jn.Layer, x: np.ndarray) -> np.ndarray:
    """autograd's ∂f/∂θ of the reference implementation (θ in get_params order)."""
    fn = ref.layer_fn(layer)
    return autograd.jacobian(lambda t: fn(t, x))(layer.get_params())


def fd_params(layer: jn.Layer, x: np.ndarray) -> np.ndarray:
    """Central differences in θ through set_params/forward; parameters restored."""
    theta = layer.get_params()

    def f(t: np.ndarray) -> np.ndarray:
        layer.set_params(t)
        return layer.forward(x)

    try:
        return jacobian_fd(f, theta)
    finally:
        layer.set_params(theta)


def n_out(layer: jn.Layer, n_in: int) -> int:
    return layer.out_size(n_in)


# --- single samples: finite differences and autograd ---------------------
@FAST
@given(layers_with_input(fd=True))
@example((jn.Dense(1, 5), np.array([0.7])))  # width 1 in, a column
@example((jn.Dense(6, 1), np.linspace(-1, 2, 6)))  # width 1 out, a row
def test_jacobian_input_against_fd_and_autograd(case) -> None:
    layer, x = case
    J = layer.jacobian_input(x)
    assert J.shape == (n_out(layer, x.size), x.size) and J.dtype == np.float64
    assert rel_error(J, jacobian_fd(layer.forward, x)) <= FD_TOL
    assert rel_error(J, ad_input(layer, x)) <= AD_TOL


@FAST
@given(layers_with_input(kinds=("dense", *ACTIVATIONS)))
def test_jacobian_input_against_autograd_on_the_whole_domain(case) -> None:
    """Values anywhere in the rules' domain, ±1000 (too saturated for FD, not for autodiff)."""
    layer, x = case
    with no_warnings():
        J = layer.jacobian_input(x)
    assert rel_error(J, ad_input(layer, x)) <= AD_TOL


@FAST
@given(center=floats(-1000, 1000), offsets=st.integers(1, 7).flatmap(lambda n: arrays((n,), floats(-3, 3))))
def test_softmax_jacobian_against_autograd_at_large_logits(center: float, offsets: np.ndarray) -> None:
    """Logits up to ±1000 whose spread (≤ 6) keeps J away from saturation.

    Saturated logits make every entry of J tiny; its absolute error (a few ε,
    in jacobnet and autograd alike) is then a large *relative* error: see
    test_stability for that regime, checked against mpmath in absolute terms.
    """
    z = center + offsets
    with no_warnings():
        J = jn.Softmax().jacobian_input(z)
    assert rel_error(J, ad_input(jn.Softmax(), z)) <= AD_TOL


@FAST
@given(layers_with_input(kinds=("dense",), fd=True))
@example((jn.Dense(1, 1), np.array([2.0])))
def test_dense_jacobian_params_against_fd_and_autograd(case) -> None:
    layer, x = case
    J = layer.jacobian_params(x)
    assert J.shape == (layer.n_out, layer.n_out * layer.n_in + layer.n_out)
    assert rel_error(J, fd_params(layer, x)) <= FD_TOL
    assert rel_error(J, ad_params(layer, x)) <= AD_TOL


@FAST
@given(layers_with_input(kinds=("dense",)))
def test_dense_jacobian_params_against_autograd_at_large_inputs(case) -> None:
    layer, x = case
    assert rel_error(layer.jacobian_params(x), ad_params(layer, x)) <= AD_TOL


@pytest.mark.parametrize("kind", [*ACTIVATIONS, "softmax"])
def test_parameter_free_layers_have_empty_parameter_jacobians(kind: str) -> None:
    layer = make_layer(kind, 3, 3)
    assert layer.n_params == 0 and layer.get_params().shape == (0,)
    assert layer.jacobian_params(np.ones(3)).shape == (3, 0)
    assert layer.jacobian_params(np.ones((4, 5))).shape == (4, 5, 0)
    layer.set_params(np.zeros(0))  # the one valid parameter vector


# --- batches --------------------------------------------------------------
@FAST
@given(layers_with_input(batch=True))
def test_batch_jacobians_are_the_stacked_per_sample_ones(case) -> None:
    layer, X = case
    B, n = X.shape
    m = n_out(layer, n)
    with no_warnings():
        Y, Jx, Jt = layer.forward(X), layer.jacobian_input(X), layer.jacobian_params(X)
        singles = [(layer.forward(x), layer.jacobian_input(x), layer.jacobian_params(x)) for x in X]
    assert Y.shape == (B, m) and Jx.shape == (B, m, n) and Jt.shape == (B, m, layer.n_params)
    for b, (y, jx, jt) in enumerate(singles):  # equal up to BLAS's summation order (gemm vs gemv)
        assert rel_error(Y[b], y) <= BATCH_TOL
        assert rel_error(Jx[b], jx) <= BATCH_TOL
        assert rel_error(Jt[b], jt) <= BATCH_TOL


# --- kinks ----------------------------------------------------------------
@pytest.mark.parametrize("layer, left", [(jn.ReLU(), 0.0), (jn.LeakyReLU(), 0.01), (jn.LeakyReLU(alpha=0.3), 0.3)])
def test_kinks_take_the_left_derivative(layer: jn.Layer, left: float) -> None:
    x = np.array([-2.0, 0.0, 0.5, -0.0, 3.0])
    J = layer.jacobian_input(x)
    # closed form: diag(f'(x)) with f'(x) = 1 for x > 0 and the left slope for x ≤ 0 (also at ±0)
    np.testing.assert_array_equal(J, np.diag([left, left, 1.0, left, 1.0]))
    assert rel_error(J, ad_input(layer, x)) == 0.0  # the reference uses the same convention
    # finite differences only in the coordinates away from the kink
    away = np.abs(x) > 0
    assert rel_error(J[:, away], jacobian_fd(layer.forward, x)[:, away]) <= FD_TOL
    # at the kink a central difference sees the average slope: the convention is a choice
    assert jacobian_fd(layer.forward, np.array([0.0]))[0, 0] == pytest.approx((left + 1.0) / 2, rel=1e-12)


def test_dense_has_no_kink_at_zero_input() -> None:
    layer = jn.Dense(3, 2, seed=1)
    x = np.zeros(3)
    assert rel_error(layer.jacobian_input(x), layer.W) == 0.0
    np.testing.assert_array_equal(layer.jacobian_params(x), np.hstack([np.zeros((2, 6)), np.eye(2)]))


# --- extremes ---------------------------------------------------------------
X_EXTREME = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
EXACT_DIAG = {  # f'(±1000) in float64, worked out: σ' = e^{-1000}… = 0, sech² = 0, softplus' = σ
    "sigmoid": [0.0, None, 0.25, None, 0.0],
    "tanh": [0.0, None, 1.0, None, 0.0],
    "relu": [0.0, 0.0, 0.0, 1.0, 1.0],
    "leaky_relu": [0.01, 0.01, 0.01, 1.0, 1.0],
    "softplus": [0.0, None, 0.5, None, 1.0],
}


@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_activation_jacobians_at_extremes(kind: str) -> None:
    layer = make_layer(kind, 5, 5)
    with no_warnings():
        J = layer.jacobian_input(X_EXTREME)
    assert np.all(np.isfinite(J)) and np.count_nonzero(J - np.diag(np.diag(J))) == 0
    for got, want in zip(np.diag(J), EXACT_DIAG[kind]):
        if want is not None:
            assert got == want
    assert rel_error(J, ad_input(layer, X_EXTREME)) <= AD_TOL


def test_dense_jacobians_at_extremes() -> None:
    layer = jn.Dense(5, 2, seed=3)
    J = layer.jacobian_params(X_EXTREME)
    np.testing.assert_array_equal(J[0, :5], X_EXTREME)  # ∂y_1/∂W_1j = x_j, exactly
    np.testing.assert_array_equal(J[1, 5:10], X_EXTREME)
    assert rel_error(J, ad_params(layer, X_EXTREME)) == 0.0


# --- parameters -------------------------------------------------------------
@FAST
@given(shape=nonsquare_shapes(), data=st.data())
def test_dense_params_round_trip_and_are_copies(shape: tuple[int, int], data) -> None:
    n_in, n_out_ = shape
    layer = jn.Dense(n_in, n_out_)
    theta = data.draw(arrays((layer.n_params,), floats(-10, 10)))
    layer.set_params(theta)
    got = layer.get_params()
    np.testing.assert_array_equal(got, theta)
    got[:] = 99.0  # get_params is a copy
    theta[:] = 77.0  # set_params copied its argument
    assert not np.any(layer.get_params() == 99.0) and not np.any(layer.get_params() == 77.0)


def test_dense_parameter_order_is_row_major_w_then_b() -> None:
    layer = jn.Dense(3, 2)  # W: (2, 3)
    layer.set_params(np.arange(8.0))
    np.testing.assert_array_equal(layer.W, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(layer.b, [6.0, 7.0])
    assert layer.W.shape == (layer.n_out, layer.n_in) and layer.n_params == 8


@FAST
@given(shape=nonsquare_shapes(), data=st.data())
def test_jacobian_params_columns_follow_get_params_order(shape: tuple[int, int], data) -> None:
    """Column i·n_in + j is ∂y/∂W_ij = x_j e_i; column n_out·n_in + i is ∂y/∂b_i = e_i."""
    n_in, m = shape
    layer = jn.Dense(n_in, m)
    x = data.draw(arrays((n_in,), floats(-5, 5)))
    J = layer.jacobian_params(x)
    eye = np.eye(m)
    for i in range(m):
        for j in range(n_in):
            np.testing.assert_array_equal(J[:, i * n_in + j], x[j] * eye[i])
        np.testing.assert_array_equal(J[:, m * n_in + i], eye[i])


# --- structured operators -----------------------------------------------------
def operators(layer: jn.Layer, x: np.ndarray):
    from jacobnet.core.validate import as_input

    x = as_input(x, layer.name, layer.n_in)
    return {"J_x": layer.jacobian_input_op(x), "J_θ": layer.jacobian_params_op(x)}


@FAST
@given(case=st.one_of(layers_with_input(fd=True), layers_with_input(batch=True, fd=True)), k=st.integers(1, 3))
def test_structured_products_equal_dense_products(case, k: int) -> None:
    layer, x = case
    lead = x.shape[:-1]  # () or (B,)
    for name, op in operators(layer, x).items():
        D = op.dense()
        m, n = op.shape
        assert D.shape == lead + (m, n), name
        assert op.batch == (x.shape[0] if x.ndim == 2 else None)
        G = rng.normal(size=lead + (k, m))
        H = rng.normal(size=lead + (n, k))
        assert op.vjp(G).shape == lead + (k, n) and op.jvp(H).shape == lead + (m, k)
        assert rel_error(op.vjp(G), G @ D) <= OP_TOL, name
        assert rel_error(op.jvp(H), D @ H) <= OP_TOL, name
        mean = (G @ D).mean(axis=0) if lead else G @ D  # the batch gradient's contraction
        assert rel_error(op.vjp_mean(G), mean) <= OP_TOL, name
        if lead:  # one row block shared by every sample of the batch broadcasts against it
            assert rel_error(op.vjp(G[0]), G[0] @ D) <= OP_TOL, name
            assert rel_error(op.jvp(H[0]), D @ H[0]) <= OP_TOL, name


# --- the tolerances can fail ----------------------------------------------------
@pytest.mark.parametrize("n_in, n_out_", [(3, 3), (4, 2)])
def test_a_transposed_or_shifted_jacobian_fails_the_same_checks(n_in: int, n_out_: int) -> None:
    layer = jn.Dense(n_in, n_out_, seed=7)
    x = np.linspace(-1.0, 1.5, n_in)
    J, fd, ad = layer.jacobian_input(x), jacobian_fd(layer.forward, x), ad_input(layer, x)
    assert rel_error(J, fd) <= FD_TOL and rel_error(J, ad) <= AD_TOL  # the right one passes
    wrong = [np.roll(J, 1, axis=1), np.roll(J, 1, axis=0)]
    wrong.append(J.T if n_in == n_out_ else J.T.reshape(J.shape))  # square: transposed; else: the
    for W in wrong:  # transposed entries poured into the right shape (a shape check alone misses it)
        assert rel_error(W, fd) > 1e3 * FD_TOL and rel_error(W, ad) > 1e3 * FD_TOL
    if n_in != n_out_:
        with pytest.raises(ValueError, match="shapes differ"):
            rel_error(J.T, fd)
    # a column-major vec(W) (xᵀ ⊗ I instead of I ⊗ xᵀ) is caught in J_θ
    Jt = layer.jacobian_params(x)
    k = n_in * n_out_
    perm = np.arange(k).reshape(n_out_, n_in).T.ravel()  # column-major order of W's entries
    col_major = np.hstack([Jt[:, :k][:, perm], Jt[:, k:]])
    assert rel_error(col_major, fd_params(layer, x)) > 1e3 * FD_TOL
    assert rel_error(col_major, ad_params(layer, x)) > 1e3 * FD_TOL


def test_wrong_softmax_jacobians_fail() -> None:
    """Softmax's J is symmetric, so transposing it proves nothing: drop a term instead."""
    x = np.array([0.3, -1.2, 2.0, 0.1])
    J = jn.Softmax().jacobian_input(x)
    s = jn.Softmax().forward(x)
    assert rel_error(J, jacobian_fd(jn.Softmax().forward, x)) <= FD_TOL
    for wrong in (np.diag(s), np.diag(s) + np.outer(s, s), np.diag(s * (1 - s))):
        assert rel_error(wrong, ad_input(jn.Softmax(), x)) > 1e3 * FD_TOL
