"""``jn.data.digits()``: scikit-learn's handwritten digits, split the same way every time, and trained to ≥ 97 %.

The split is checked against ``sklearn.datasets.load_digits`` itself (every image exactly
once, with its own label; the classes' shares kept), the arguments are refused with
messages that name them, a missing scikit-learn names the extra to install, and the
course's network — the one lesson 14 trains — reaches at least 97 % test accuracy for
each of five seeds with gradients from explicit Jacobian products (``jn.train``).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn
from jacobnet.course.data import DigitsSplit, digits
from jacobnet.course.predict import accuracy

sklearn_datasets = pytest.importorskip("sklearn.datasets")

LAYERS, ACTIVATION, LOSS = [64, 32, 10], "tanh", "softmax-ce"
SETTINGS = dict(steps=2000, lr=0.1, momentum=0.9, batch_size=64)  # lesson 14's training (tests/test_lesson_14.py holds the two to the same line)
SEEDS = range(5)
TARGET = 0.97


@pytest.fixture(scope="module")
def split() -> DigitsSplit:
    return digits()


@pytest.fixture(scope="module")
def original() -> tuple[np.ndarray, np.ndarray]:
    data = sklearn_datasets.load_digits()
    return data.data / 16.0, data.target


def rows_with_labels(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The rows ``[x, label]`` in lexicographic order: a multiset of (image, class) pairs."""
    A = np.column_stack([X, labels])
    return A[np.lexsort(A.T[::-1])]


def test_shapes_types_and_ranges(split):
    X_train, Y_train, X_test, Y_test = split
    assert (X_train.shape, Y_train.shape, X_test.shape, Y_test.shape) == ((1347, 64), (1347, 10), (450, 64), (450, 10))
    for A in split:
        assert A.dtype == np.float64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert np.array_equal(X_train * 16, np.round(X_train * 16))  # grey levels 0 … 16, divided by 16 exactly
    for Y in (Y_train, Y_test):
        assert set(np.unique(Y)) == {0.0, 1.0} and np.all(Y.sum(axis=1) == 1.0)
    assert np.array_equal(split.labels_train, np.argmax(Y_train, axis=1))
    assert repr(split) == "DigitsSplit(1347 train, 450 test images of 8×8, 10 classes)"


def test_the_split_holds_every_image_once_with_its_label(split, original):
    X, labels = original
    got = rows_with_labels(np.vstack([split.X_train, split.X_test]), np.concatenate([split.labels_train, split.labels_test]))
    assert np.array_equal(got, rows_with_labels(X, labels))


def test_the_split_is_stratified(split, original):
    counts = np.bincount(original[1], minlength=10)
    test_counts = np.bincount(split.labels_test, minlength=10)
    assert np.all(np.abs(test_counts - 0.25 * counts) < 1)  # every class keeps its share, to one image
    assert np.array_equal(test_counts + np.bincount(split.labels_train, minlength=10), counts)


def test_fixed_by_its_seed(split):
    again = digits()
    assert all(np.array_equal(a, b) for a, b in zip(split, again))
    other = digits(seed=1)
    assert not np.array_equal(other.X_test, split.X_test)
    assert np.array_equal(np.bincount(other.labels_test), np.bincount(split.labels_test))  # stratified the same way


@pytest.mark.parametrize("test_size, n_test", [(0.2, 360), (0.5, 899), (10 / 1797, 10), (1787 / 1797, 1787)])
def test_test_size(test_size, n_test):
    s = digits(test_size=test_size)
    assert len(s.X_test) == n_test and len(s.X_train) == 1797 - n_test
    assert set(s.labels_test) == set(range(10)) and set(s.labels_train) == set(range(10))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(test_size=0), TypeError, "digits: test_size must be a fraction (a float between 0 and 1), got int 0"),
    (dict(test_size="0.25"), TypeError, "got str '0.25'"),
    (dict(test_size=True), TypeError, "got bool True"),
    (dict(test_size=0.001), ValueError, "test_size must put 10 … 1787 of the 1797 images in the test part"),
    (dict(test_size=0.999), ValueError, "got 0.999 (1796 images)"),
    (dict(test_size=float("nan")), ValueError, "got nan (0 images)"),
    (dict(test_size=1.5), ValueError, "got 1.5"),
    (dict(seed=-1), ValueError, "digits: seed must be a non-negative integer, got -1"),
    (dict(seed=None), ValueError, "digits: seed must be a non-negative integer, got None"),
    (dict(seed=2**32), ValueError, "digits: seed must be below 2**32"),
    (dict(seed=0.5), ValueError, "digits: seed must be a non-negative integer, got 0.5"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error) as info:
        digits(**kwargs)
    assert message in str(info.value)


@FAST
@given(test_size=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.none(), st.text(max_size=3)),
       seed=st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.none()))
def test_any_arguments_give_a_stratified_split_or_an_error_that_names_them(test_size, seed):
    try:
        s = digits(test_size=test_size, seed=seed)
    except (TypeError, ValueError) as err:
        assert str(err).startswith("digits: ") and ("test_size" in str(err) or "seed" in str(err)), err
        return
    assert len(s.X_test) == int(np.ceil(test_size * 1797)) and len(s.X_train) + len(s.X_test) == 1797
    assert set(s.labels_test) == set(range(10)) == set(s.labels_train)


def test_positional_arguments_are_refused():
    with pytest.raises(TypeError):
        digits(0.25)  # keyword-only: digits(test_size=…, seed=…)


def test_without_scikit_learn_the_error_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # what `import sklearn` finds when it is not installed
    with pytest.raises(ModuleNotFoundError) as info:
        jn.data.digits()
    assert str(info.value) == "jn.data.digits() needs scikit-learn: pip install 'jacobnet[course]'"
    assert isinstance(info.value.__cause__, ImportError)


def test_reached_as_jn_data_digits(split):
    assert jn.data.digits is digits


def test_explicit_jacobian_training_reaches_97_percent_for_five_seeds(split):
    """The capstone's claim: ≥ 97 % test accuracy on the fixed split, for every one of five seeds."""
    X_train, Y_train, X_test, Y_test = split
    accs = []
    for seed in SEEDS:
        net = jn.build_network(LAYERS, activation=ACTIVATION, loss=LOSS, seed=seed)
        history = jn.train(net, X_train, Y_train, **SETTINGS, seed=seed, eval_every=SETTINGS["steps"], progress=False)
        assert history.loss[-1] < 0.01 * history.loss[0]
        accs.append(accuracy(net, X_test, Y_test))
    assert min(accs) >= TARGET, accs
