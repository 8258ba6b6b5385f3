"""Pooling layers — MaxPool1d/2d, AvgPool1d/2d — against independent references.

* ``J_x`` on non-square instances (odd channel counts, rectangular 2-D kernels) against
  central differences (≤ 1e-7; max pooling at inputs whose values are far apart, so
  no step crosses a tie), the complex step for average pooling (max is not analytic),
  and HIPS autograd of the pooling written plainly here (≤ 1e-12);
* the tie rule: the FIRST maximal entry in row-major window order, against a loop
  written here, and pinned on hand-worked examples;
* batches equal the stacked samples; the structured products equal the dense ones;
* the closed forms are proved equal to SymPy's derivative (and a wrong one is not);
* ``check_layer``, the symbolic size guard, the symbolic gradient of a small network;
* bad sizes are named.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import jacobnet as jn
from jacobnet.check import check_layer, jacobian_complex_step, jacobian_fd, rel_error
from jacobnet.core.pool import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d, pool_windows
from jacobnet.core.selection import Averaging, Selection
from jacobnet.symbolic import compare_closed_forms
from jacobnet.symbolic.guard import MAX_EXPRESSION_SIZE, check_layer_size

FD_TOL = 1e-7
AD_TOL = 1e-12
OP_TOL = 1e-14

CASES = [
    (MaxPool1d, 3, 3, (9,)),
    (MaxPool1d, 2, 1, (6,)),
    (AvgPool1d, 3, 3, (9,)),
    (AvgPool1d, 2, 5, (4,)),
    (MaxPool2d, (2, 3), 3, (4, 6)),
    (MaxPool2d, 2, 1, (4, 2)),
    (MaxPool2d, (3, 1), 5, (3, 2)),
    (AvgPool2d, (3, 2), 3, (6, 4)),
    (AvgPool2d, 2, 1, (2, 2)),
]
IDS = [f"{c.__name__}-k{k}-C{ch}-{'x'.join(map(str, s))}" for c, k, ch, s in CASES]


def make(case):
    cls, k, channels, spatial = case
    return cls(k, channels, *spatial)


def kernel_of(layer) -> tuple[int, ...]:
    k = layer.kernel_size
    return k if isinstance(k, tuple) else (k,)


def spatial_of(layer) -> tuple[int, ...]:
    return (layer.length,) if hasattr(layer, "length") else (layer.height, layer.width)


def plain_pool(layer, x):
    """The pooling written plainly (autograd's numpy): reshape to (…, C, O₁, K₁[, O₂, K₂]) and reduce the K axes."""
    C, S, K = layer.channels, spatial_of(layer), kernel_of(layer)
    split = [C] + [s for size, k in zip(S, K) for s in (size // k, k)]
    axes = tuple(range(-len(split) + 2, 0, 2))  # the K axes
    blocks = anp.reshape(x, x.shape[:-1] + tuple(split))
    out = anp.max(blocks, axis=axes) if type(layer).__name__.startswith("Max") else anp.mean(blocks, axis=axes)
    return anp.reshape(out, x.shape[:-1] + (-1,))


def spread_values(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct values at least 0.1 apart, in random order: no finite-difference step crosses a tie."""
    return rng.permutation(n) * 0.1 - 0.05 * n + rng.uniform(0.0, 0.01)


def first_max_rows(layer, x: np.ndarray) -> list[int]:
    """For every output, the flat input index of its window's first maximum in row-major window order: plain loops."""
    C, S, K = layer.channels, spatial_of(layer), kernel_of(layer)
    if len(S) == 1:
        S, K = (1, *S), (1, *K)
    H, W = S
    img = x.reshape(C, H, W)
    picks = []
    for c in range(C):
        for p in range(H // K[0]):
            for q in range(W // K[1]):
                best = None
                for s in range(K[0]):
                    for t in range(K[1]):
                        i, j = p * K[0] + s, q * K[1] + t
                        if best is None or img[c, i, j] > img[c, best[0], best[1]]:
                            best = (i, j)
                picks.append((c * H + best[0]) * W + best[1])
    return picks


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jacobian_against_finite_differences_and_autograd(case):
    layer = make(case)
    rng = np.random.default_rng(7)
    x = spread_values(layer.n_in, rng)
    J = layer.jacobian_input(x)
    assert J.shape == (layer.out_size(layer.n_in), layer.n_in) and J.shape[0] < J.shape[1]
    assert rel_error(layer.forward(x), plain_pool(layer, x)) <= 1e-15  # a mean summed in another order
    assert rel_error(J, jacobian_fd(layer.forward, x)) <= FD_TOL
    assert rel_error(J, autograd.jacobian(lambda v: plain_pool(layer, v))(x)) <= AD_TOL
    assert layer.jacobian_params(x).shape == (J.shape[0], 0) and layer.n_params == 0


@pytest.mark.parametrize("case", [c for c in CASES if c[0].__name__.startswith("Avg")], ids=lambda c: c[0].__name__)
def test_average_pooling_against_the_complex_step(case):
    layer = make(case)
    x = np.random.default_rng(3).normal(size=layer.n_in)
    assert rel_error(layer.jacobian_input(x), jacobian_complex_step(layer.apply, x)) <= AD_TOL


def test_max_pooling_is_the_selection_of_each_first_maximum():
    layer = MaxPool2d((2, 3), 3, 4, 6)
    x = np.random.default_rng(1).normal(size=layer.n_in)
    J = layer.jacobian_input(x)
    np.testing.assert_array_equal(J.sum(axis=1), 1.0)  # one 1 per row
    np.testing.assert_array_equal(np.argmax(J, axis=1), first_max_rows(layer, x))


@pytest.mark.parametrize("case", [c for c in CASES if c[0].__name__.startswith("Max")], ids=lambda c: c[0].__name__)
def test_ties_take_the_first_maximum_in_row_major_window_order(case):
    layer = make(case)
    rng = np.random.default_rng(11)
    for x in (rng.integers(0, 3, size=layer.n_in).astype(float), np.zeros(layer.n_in)):  # many ties, all ties
        op = layer.jacobian_input_op(x)
        np.testing.assert_array_equal(op.index, first_max_rows(layer, x))
        np.testing.assert_array_equal(layer.forward(x), x[op.index])
        X = np.stack([x, -x, x[::-1]])  # a batch, with ties too
        np.testing.assert_array_equal(layer.jacobian_input_op(X).index, [first_max_rows(layer, v) for v in X])


def test_ties_pinned_by_hand():
    # channel 1 of a 2×2×4 input: [[1, 3, 3, 2], [4, 4, 0, 4]]; channel 2: [[5, 1, 5, 5], [0, 0, 0, 0]].
    # 2×2 windows, row-major: {1, 3, 4, 4} → the first 4 at (1, 0), flat 4; {3, 2, 0, 4} → (1, 3), flat 7;
    # {5, 1, 0, 0} → flat 8; {5, 5, 0, 0} → the first 5 at (0, 2), flat 8 + 2 = 10 (as torch's max_pool2d).
    x = np.array([1, 3, 3, 2, 4, 4, 0, 4, 5, 1, 5, 5, 0, 0, 0, 0], dtype=float)
    layer = MaxPool2d(2, 2, 2, 4)
    np.testing.assert_array_equal(layer.forward(x), [4.0, 4.0, 5.0, 5.0])
    np.testing.assert_array_equal(np.flatnonzero(layer.jacobian_input(x).sum(axis=0)), [4, 7, 8, 10])
    # 1-D: [2, 2, 1 | 7, 7, 7] with K = 3: the first of each tie, inputs 0 and 3
    np.testing.assert_array_equal(MaxPool1d(3, 1, 6).jacobian_input_op(np.array([2.0, 2, 1, 7, 7, 7])).index, [0, 3])


def test_row_major_flattening_pinned():
    # (2, 3, 4) = arange(24), 3×2 windows: channel 1's first window {0, 1, 4, 5, 8, 9} has mean 4.5
    np.testing.assert_array_equal(AvgPool2d((3, 2), 2, 3, 4).forward(np.arange(24.0)), [4.5, 6.5, 16.5, 18.5])
    np.testing.assert_array_equal(pool_windows((2, 4), (2,)), [[0, 1], [2, 3], [4, 5], [6, 7]])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_batch_equals_stacked_samples_and_structured_products(case):
    layer = make(case)
    rng = np.random.default_rng(5)
    X = np.stack([spread_values(layer.n_in, rng) for _ in range(3)])
    J = layer.jacobian_input(X)
    np.testing.assert_array_equal(J, np.stack([layer.jacobian_input(x) for x in X]))
    np.testing.assert_array_equal(layer.forward(X), np.stack([layer.forward(x) for x in X]))
    assert layer.jacobian_params(X).shape == (3, J.shape[1], 0)
    op = layer.jacobian_input_op(X)
    assert isinstance(op, Selection if type(layer).__name__.startswith("Max") else Averaging) and op.batch == 3
    if isinstance(op, Selection):  # the layer's hints (assignment instead of scatter) hold
        assert op.distinct and Selection(op.index, layer.n_in).distinct
    else:
        assert op.disjoint and np.unique(op.windows).size == op.windows.size == layer.n_in
    G, H = rng.normal(size=(3, 2, J.shape[1])), rng.normal(size=(3, layer.n_in, 2))
    assert rel_error(op.vjp(G), G @ J) <= OP_TOL and rel_error(op.vjp(G[0]), G[0] @ J) <= OP_TOL
    assert rel_error(op.jvp(H), J @ H) <= OP_TOL and rel_error(op.jvp(H[0]), J @ H[0]) <= OP_TOL
    assert rel_error(op.vjp_sum(G), np.sum(G @ J, axis=0)) <= OP_TOL
    for s in range(3):
        np.testing.assert_array_equal(op.batch_slice(s, s + 1).dense()[0], J[s])


def test_structured_costs_against_dense():
    layer = MaxPool2d(2, 3, 8, 8)
    op = layer.jacobian_input_op(np.random.default_rng(0).normal(size=(4, layer.n_in)))
    m, n = op.shape
    assert (m, n) == (48, 192)
    assert op.vjp_flops(1) == m and op.jvp_flops(5) == 5 * m  # moves, against m·n multiply-adds dense
    assert op.nbytes == 4 * m * 8 and op.nbytes_dense == 4 * m * n * 8
    avg = AvgPool2d(2, 3, 8, 8).jacobian_input_op(np.zeros(192))
    assert avg.vjp_flops(1) == n and avg.nbytes == n * 8


@pytest.mark.parametrize(
    "layer",
    [MaxPool1d(2, 1, 4), MaxPool1d(3, 3, 3), MaxPool2d(2, 1, 2, 4), MaxPool2d((1, 2), 3, 2, 2), AvgPool1d(2, 3, 4), AvgPool2d((2, 1), 1, 4, 2)],
    ids=repr,
)
def test_closed_form_is_proved_equal_to_sympys_derivative(layer):
    checks = compare_closed_forms(layer)
    assert [(c.name, c.proved) for c in checks] == [("J_x", True)]  # (no parameters: no J_θ)
    assert checks[0].shape == (layer.n_out, layer.n_in)


def test_a_wrong_closed_form_is_not_proved():
    class Swapped(MaxPool1d):  # the 1 on the other entry of each window
        def closed_form(self, x, theta):
            J, J_theta = super().closed_form(x, theta)
            return J[:, [1, 0, 3, 2]], J_theta

    assert not compare_closed_forms(Swapped(2, 1, 4))[0].proved


@pytest.mark.parametrize("layer", [MaxPool2d((1, 2), 3, 2, 2), AvgPool2d(2, 1, 2, 4), MaxPool1d(3, 1, 6)], ids=repr)
def test_closed_form_and_sympy_forward_at_numbers(layer):
    import sympy as sp

    rng = np.random.default_rng(2)
    for x in (rng.normal(size=layer.n_in), rng.integers(0, 2, size=layer.n_in).astype(float)):  # the second with ties
        J_x, J_theta = layer.closed_form([sp.Float(v) for v in x], [])
        np.testing.assert_array_equal(np.array(J_x, dtype=float), layer.jacobian_input(x))
        assert J_theta.shape == (layer.n_out, 0)
        forward = np.array([float(e) for e in layer.sympy_forward([sp.Float(v) for v in x], [])])
        assert rel_error(forward, layer.forward(x)) <= 1e-15


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_layer_passes(case):
    layer = make(case)
    assert all(c.ok for c in check_layer(layer, spread_values(layer.n_in, np.random.default_rng(4))))


def test_symbolic_size_guard_and_a_symbolic_gradient():
    assert 0 < check_layer_size(MaxPool2d(2, 2, 4, 4), 32) < MAX_EXPRESSION_SIZE
    assert 0 < check_layer_size(AvgPool2d(2, 2, 4, 4), 32) < MAX_EXPRESSION_SIZE
    net = jn.Network([jn.Dense(3, 6, seed=0), MaxPool1d(2, 3, 2), jn.Tanh(), jn.Dense(3, 2, seed=1)], jn.MSE())
    x, y = np.array([0.3, -0.2, 0.9]), np.array([0.1, 0.4])
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= 1e-12


@pytest.mark.parametrize("make_net", [
    lambda: [jn.Dense(3, 6, seed=0), MaxPool1d(2, 3, 2), jn.Tanh(), jn.Dense(3, 2, seed=1)],
    lambda: [jn.Dense(3, 8, seed=0), AvgPool2d(2, 2, 2, 2), jn.Dense(2, 2, seed=1)],
    lambda: [jn.Dense(2, 6, seed=0), MaxPool1d(3, 2, 3), jn.Dense(2, 1, seed=1)],
])
def test_size_estimate_follows_what_sympy_builds(make_net):
    import sympy as sp

    from jacobnet.symbolic import network as symbolic_network
    from jacobnet.symbolic.guard import estimate_size

    net = jn.Network(make_net(), jn.MSE())
    built = sum(1 for e in symbolic_network.direct_gradient(net).direct for _ in sp.preorder_traversal(e))
    assert 0.8 <= estimate_size(net) / built <= 1.25


def test_names_keys_and_sizes():
    a, b = MaxPool2d((2, 3), 3, 4, 6), MaxPool2d((3, 2), 3, 6, 4)
    assert a.name == "MaxPool2d(2×3)" and repr(a) == "MaxPool2d(kernel_size=(2, 3), channels=3, height=4, width=6)"
    assert a.key() != b.key() and a.key() == MaxPool2d([2, 3], 3, 4, 6).key()
    assert MaxPool1d(2, 3, 4).key() != AvgPool1d(2, 3, 4).key()
    assert (a.n_in, a.out_size(72), b.out_size(72)) == (72, 12, 12)
    assert MaxPool2d(2, 1, 2, 2).kernel_size == (2, 2)


@pytest.mark.parametrize(
    "make_layer, error, match",
    [
        (lambda: MaxPool1d(3, 1, 10), ValueError, "MaxPool1d: kernel_size 3 does not divide length 10"),
        (lambda: AvgPool1d(4, 2, 2), ValueError, "AvgPool1d: kernel_size 4 does not divide length 2"),
        (lambda: MaxPool2d((2, 3), 1, 4, 4), ValueError, r"MaxPool2d: kernel_size \(2, 3\): its width 3 does not divide width 4"),
        (lambda: AvgPool2d(3, 1, 4, 6), ValueError, r"AvgPool2d: kernel_size \(3, 3\): its height 3 does not divide height 4"),
        (lambda: MaxPool1d(0, 1, 4), ValueError, "MaxPool1d: kernel_size must be a positive integer, got 0"),
        (lambda: MaxPool1d(2.0, 1, 4), ValueError, "MaxPool1d: kernel_size must be a positive integer, got 2.0"),
        (lambda: MaxPool1d(2, 0, 4), ValueError, "MaxPool1d: channels must be a positive integer, got 0"),
        (lambda: AvgPool2d(2, 1, 4, -2), ValueError, "AvgPool2d: width must be a positive integer, got -2"),
        (lambda: MaxPool2d((2, 0), 1, 4, 4), ValueError, r"MaxPool2d: kernel_size\[1\] must be a positive integer, got 0"),
        (lambda: MaxPool2d((2, 2, 2), 1, 4, 4), TypeError, r"MaxPool2d: kernel_size must be a positive integer or a pair \(height, width\) of them, got \(2, 2, 2\)"),
        (lambda: AvgPool2d(True, 1, 4, 4), TypeError, "AvgPool2d: kernel_size must be a positive integer or a pair"),
    ],
)
def test_bad_sizes_are_named(make_layer, error, match):
    with pytest.raises(error, match=match):
        make_layer()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"MaxPool1d.* expects input of shape \(6,\) or \(B, 6\), got shape \(5,\)"):
        MaxPool1d(2, 3, 2).forward(np.zeros(5))
