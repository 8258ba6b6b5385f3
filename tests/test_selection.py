"""The selection and averaging operators: the dense matrix against a plain construction, and every
structured product (vjp, jvp, vjp_sum, vjp_mean) against the dense product, for shared and
per-sample indices, rows of -1, repeated indices, batches and batch slices; costs, outlines, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import FAST

from jacobnet.check import rel_error
from jacobnet.core.operator import Box
from jacobnet.core.selection import OUTLINE_MAX, Averaging, Selection

TOL = 1e-14  # a product through the structure vs the dense product: sums of the same few numbers


def plain_selection(index: np.ndarray, n: int) -> np.ndarray:
    """``J[..., i, index[i]] = 1``, zeros where -1: written entry by entry."""
    J = np.zeros(index.shape + (n,))
    for pos, j in np.ndenumerate(index):
        if j >= 0:
            J[pos + (j,)] = 1.0
    return J


def plain_averaging(windows: np.ndarray, n: int) -> np.ndarray:
    J = np.zeros((windows.shape[0], n))
    for i, row in enumerate(windows):
        for j in row:
            J[i, j] += 1.0 / len(row)
    return J


def check_products(op, J: np.ndarray, rng: np.random.Generator, k: int) -> None:
    """Every structured product equals the dense one: G shared or per sample, H shared or per sample."""
    m, n = op.shape
    leads = [(), (op.batch,)] if op.batch else [()]
    for lead in leads:
        G, H = rng.normal(size=lead + (k, m)), rng.normal(size=lead + (n, k + 1))
        assert op.vjp(G).shape == np.broadcast_shapes(lead, J.shape[:-2]) + (k, n)
        assert rel_error(op.vjp(G), G @ J) <= TOL
        assert rel_error(op.jvp(H), J @ H) <= TOL
    if op.batch:
        G = rng.normal(size=(op.batch, k, m))
        assert rel_error(op.vjp_sum(G), np.sum(G @ J, axis=0)) <= TOL
        assert rel_error(op.vjp_mean(G), np.mean(G @ J, axis=0)) <= TOL
        out = np.full((k, n), np.nan)
        assert op.vjp_sum(G, out=out) is out and rel_error(out, np.sum(G @ J, axis=0)) <= TOL


def test_selection_pinned_non_square():
    S = Selection(np.array([2, 0, -1]), n=4)
    np.testing.assert_array_equal(S.dense(), [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(S.vjp(np.array([[10.0, 20.0, 30.0]])), [[20.0, 0.0, 10.0, 0.0]])
    np.testing.assert_array_equal(S.jvp(np.arange(8.0).reshape(4, 2)), [[4.0, 5.0], [0.0, 1.0], [0.0, 0.0]])


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("batch", [None, 1, 3])
@settings(FAST, max_examples=15)
@given(st.integers(1, 7), st.integers(1, 6), st.integers(1, 3), st.booleans(), st.integers(0, 2**32 - 1))
def test_selection_products_equal_dense(per_sample, batch, m, n, k, holes, seed):
    """Random indices: repeated ones (m may exceed n), and rows of -1 when ``holes``."""
    if per_sample and batch is None:
        batch = 2
    rng = np.random.default_rng(seed)
    index = rng.integers(-1 if holes else 0, n, size=(batch, m) if per_sample else (m,))
    op = Selection(index, n) if per_sample else Selection(index, n, batch=batch)
    J = op.dense()
    want = plain_selection(index, n)
    np.testing.assert_array_equal(J, want if per_sample or batch is None else np.broadcast_to(want, (batch, m, n)))
    assert op.batch == batch and op.shape == (m, n)
    check_products(op, J, rng, k)


@pytest.mark.parametrize("per_sample", [False, True])
def test_assignment_and_scatter_agree_on_distinct_indices(per_sample):
    rng = np.random.default_rng(5)
    index = np.stack([rng.permutation(7)[:4] for _ in range(3)]) if per_sample else rng.permutation(7)[:4]
    fast, scatter = Selection(index, 7, batch=None if per_sample else 3), Selection(index, 7, distinct=False, batch=None if per_sample else 3)
    assert fast.distinct and not scatter.distinct
    G = rng.normal(size=(3, 2, 4))
    np.testing.assert_array_equal(fast.vjp(G), scatter.vjp(G))
    np.testing.assert_array_equal(fast.vjp(G), G @ fast.dense())


def test_distinct_is_found_out():
    assert Selection(np.array([3, 0, 1]), 4).distinct
    assert not Selection(np.array([3, 0, 3]), 4).distinct  # repeated
    assert not Selection(np.array([3, -1, 1]), 4).distinct  # a row of zeros
    assert not Selection(np.array([[0, 1], [1, 1]]), 4).distinct  # sample 2 repeats


def test_repeated_indices_add_up():
    S = Selection(np.array([1, 1, 1]), n=2)
    np.testing.assert_array_equal(S.vjp(np.array([[1.0, 2.0, 4.0]])), [[0.0, 7.0]])
    np.testing.assert_array_equal(S.vjp_sum(np.ones((1, 1, 3))), [[0.0, 3.0]])  # unbatched op, a batch of one G


@pytest.mark.parametrize("per_sample", [False, True])
def test_batch_slice(per_sample):
    rng = np.random.default_rng(2)
    index = rng.integers(-1, 5, size=(4, 3) if per_sample else (3,))
    op = Selection(index, 5, batch=None if per_sample else 4)
    for start, stop in [(0, 4), (1, 3), (3, 4)]:
        part = op.batch_slice(start, stop)
        assert part.batch == stop - start
        np.testing.assert_array_equal(part.dense(), op.dense()[start:stop])
    assert Selection(index, 5, batch=None if per_sample else 4).batch_slice(1, 3).distinct == Selection(index, 5).distinct


def test_costs_count_moves():
    S = Selection(np.zeros((4, 6), dtype=int), n=9)
    assert (S.vjp_flops(3), S.jvp_flops(2), S.nbytes, S.nbytes_dense) == (18, 12, 4 * 6 * 8, 4 * 6 * 9 * 8)
    A = Averaging(np.arange(12).reshape(4, 3), n=12, batch=2)
    assert (A.vjp_flops(3), A.jvp_flops(2), A.nbytes, A.nbytes_dense) == (36, 24, 12 * 8, 2 * 4 * 12 * 8)


def test_selection_outline_marks_each_cell_then_bands():
    assert Selection(np.array([2, 0, -1]), n=4).outline() == [Box(0, 2, 1, 1), Box(1, 0, 1, 1)]
    assert Selection(np.array([[1, -1], [0, 0]]), n=2).outline() == [Box(0, 1, 1, 1)]  # the first sample
    rng = np.random.default_rng(0)
    index = np.sort(rng.integers(-1, 300, size=500))
    boxes = Selection(index, 300).outline()
    assert 1 < len(boxes) <= OUTLINE_MAX
    for i, j in enumerate(index):  # every selected cell lies inside a band
        assert j < 0 or any(b.row <= i < b.row + b.rows and b.col <= j < b.col + b.cols for b in boxes)


@pytest.mark.parametrize("batch", [None, 3])
@settings(FAST, max_examples=15)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(1, 8), st.booleans(), st.integers(0, 2**32 - 1))
def test_averaging_products_equal_dense(batch, m, w, n, disjoint, seed):
    rng = np.random.default_rng(seed)
    if disjoint:
        n = max(n, m * w)
        windows = rng.permutation(n)[: m * w].reshape(m, w)
    else:
        windows = rng.integers(0, n, size=(m, w))
    op = Averaging(windows, n, batch=batch)
    J = op.dense()
    want = plain_averaging(windows, n)
    assert rel_error(J, want if batch is None else np.broadcast_to(want, (batch, m, n))) <= TOL
    assert op.disjoint == (np.unique(windows).size == windows.size)
    check_products(op, J, rng, 2)


def test_averaging_assignment_and_scatter_agree_on_disjoint_windows():
    rng = np.random.default_rng(8)
    windows = rng.permutation(9)[:6].reshape(3, 2)
    fast, scatter = Averaging(windows, 9, batch=2), Averaging(windows, 9, batch=2, disjoint=False)
    assert fast.disjoint and not scatter.disjoint and fast.batch_slice(0, 1).disjoint
    G = rng.normal(size=(2, 4, 3))
    assert rel_error(fast.vjp(G), scatter.vjp(G)) <= TOL and rel_error(fast.vjp_sum(G), scatter.vjp_sum(G)) <= TOL


def test_averaging_pinned_and_slices():
    A = Averaging(np.array([[0, 1], [3, 4]]), n=5)
    np.testing.assert_array_equal(A.dense(), [[0.5, 0.5, 0, 0, 0], [0, 0, 0, 0.5, 0.5]])
    np.testing.assert_array_equal(A.jvp(np.arange(5.0)[:, None]), [[0.5], [3.5]])
    part = Averaging(np.array([[0, 1]]), n=2, batch=4).batch_slice(1, 3)
    assert part.batch == 2 and part.dense().shape == (2, 1, 2)


def test_averaging_outline_runs_of_each_window():
    # 2×2 windows of a 4×4 image, row-major: each window is two runs of two columns
    windows = np.array([[0, 1, 4, 5], [2, 3, 6, 7]])
    assert Averaging(windows, 16).outline() == [Box(0, 0, 1, 2), Box(0, 4, 1, 2), Box(1, 2, 1, 2), Box(1, 6, 1, 2)]
    assert Averaging(np.array([[3, 1, 2, 2]]), 4).outline() == [Box(0, 1, 1, 3)]  # unordered, repeated: one run
    big = Averaging(np.arange(400).reshape(200, 2), 400).outline()
    assert len(big) <= OUTLINE_MAX and big[0] == Box(0, 0, 4, 8)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Selection(np.array([0.0, 1.0]), 3), r"Selection: index must be an integer array of shape \(m,\) or \(B, m\), got float64"),
        (lambda: Selection(np.zeros((2, 2, 2), dtype=int), 3), r"got int64 of shape \(2, 2, 2\)"),
        (lambda: Selection(np.array([0, 3]), 3), r"Selection: index must hold column indices in \[-1, 2\] for n=3, got 3"),
        (lambda: Selection(np.array([0, -2]), 3), r"in \[-1, 2\] for n=3, got -2"),
        (lambda: Selection(np.array([0]), 0), "Selection: n must be a positive integer, got 0"),
        (lambda: Selection(np.zeros((2, 1), dtype=int), 3, batch=3), "Selection: batch=3 but the per-sample index has 2 samples"),
        (lambda: Selection(np.array([0]), 3, batch=0), "Selection: batch must be a positive integer, got 0"),
        (lambda: Averaging(np.array([0, 1]), 3), r"Averaging: windows must be an integer array of shape \(m, w\), got int64 of shape \(2,\)"),
        (lambda: Averaging(np.array([[0, -1]]), 3), r"Averaging: windows must hold column indices in \[0, 2\] for n=3, got -1"),
        (lambda: Averaging(np.zeros((2, 0), dtype=int), 3), r"Averaging: windows must hold at least one index each, got shape \(2, 0\)"),
    ],
)
def test_bad_construction_is_named(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_batch_sum_of_an_all_hole_selection_is_float_zeros():
    """Every row a hole: the per-sample bincount keeps no entries, and the sum and mean are float zeros."""
    op = Selection(np.full((2, 3), -1), 4)
    G = np.ones((2, 1, 3))
    for r in (op.vjp_sum(G), op.vjp_mean(G)):
        assert r.dtype == np.float64
        np.testing.assert_array_equal(r, np.zeros((1, 4)))
