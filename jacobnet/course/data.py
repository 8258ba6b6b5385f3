"""Small data sets for the course and the tests: two spirals made with NumPy, and scikit-learn's digits.

Everything is float64 and seeded: the same arguments give the same arrays
on every machine. :func:`digits` needs scikit-learn (the ``course`` extra).

>>> X, labels = two_spirals(5, seed=0)
>>> X.shape, labels.shape, X.dtype
((10, 2), (10,), dtype('float64'))
>>> one_hot(labels, 2).shape
(10, 2)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jacobnet.core.cost import cut_text, shorten
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray
DIGITS_SIZE, DIGITS_SIDE, DIGITS_CLASSES, DIGITS_LEVELS = 1797, 8, 10, 16
"""scikit-learn's digits: 1,797 images of 8 × 8 pixels, 10 classes, grey levels 0 … 16."""
MAX_TURNS, MAX_NOISE = 1e6, 1e100
""":func:`two_spirals` takes ``|turns| ≤ MAX_TURNS`` and ``0 ≤ noise ≤ MAX_NOISE``: beyond, its float64 angles or jitter overflow."""


def two_spirals(
    n_per_class: int = 100, *, turns: float = 1.5, noise: float = 0.1, seed: int | None = 0
) -> tuple[Array, Array]:
    """Two interleaved spirals in the plane, one per class.

    Class ``k ∈ {0, 1}``, point ``t ∈ [0, 1]``: radius ``r = t``, angle
    ``φ = 2π·turns·t + kπ``, ``x = (r cos φ, r sin φ) + noise·N(0, I)``.

    Args:
        n_per_class: points per class.
        turns: how many times each arm winds around the origin.
        noise: standard deviation of the Gaussian jitter added to each point.
        seed: seed of ``numpy.random.default_rng``: ``None`` or a non-negative integer.

    Returns:
        ``X`` of shape ``(2·n_per_class, 2)`` and integer ``labels`` of shape
        ``(2·n_per_class,)`` (class 0 first, then class 1).

    >>> X, labels = two_spirals(3, noise=0.0)
    >>> X.shape, labels.tolist()
    ((6, 2), [0, 0, 0, 1, 1, 1])
    >>> np.allclose(X[3:], -X[:3])          # without noise, arm 1 is arm 0 turned by π
    True
    """
    n = positive_int(cut_text(n_per_class), "two_spirals: n_per_class")
    for name, value in (("turns", turns), ("noise", noise)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"two_spirals: {name} must be a real number, got {type(value).__name__} {shorten(repr(value), 60)}")
    turns, noise = _real(turns), _real(noise)
    if not (abs(turns) <= MAX_TURNS and 0 <= noise <= MAX_NOISE):  # (beyond, the angles or the jitter overflow)
        raise ValueError(f"two_spirals: turns must be finite with |turns| ≤ {MAX_TURNS:g}, and noise ≥ 0 and ≤ {MAX_NOISE:g}; "
                         f"got turns={turns!r}, noise={noise!r}")
    seed = seed_value(cut_text(seed), "two_spirals: seed")
    check_budget(F8 * 2 * min(n, 2**64) * 4, f"two spirals of {n} points per class", "use a smaller n_per_class")  # X, its noise; the labels
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n) if n > 1 else np.ones(1)
    arms = []
    for k in (0, 1):
        phi = 2.0 * np.pi * turns * t + k * np.pi
        arms.append(np.column_stack([t * np.cos(phi), t * np.sin(phi)]))
    X = np.concatenate(arms) + noise * rng.standard_normal((2 * n, 2))
    labels = np.repeat(np.arange(2), n)
    return X.astype(np.float64), labels


def _real(value: int | float) -> float:
    """``float(value)``, an integer beyond float64 as ``±inf`` (refused as not finite, not as an ``OverflowError``)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def one_hot(labels: Array, n_classes: int) -> Array:
    """Integer class labels ``(N,)`` → one-hot float64 targets ``(N, n_classes)``.

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    k = positive_int(cut_text(n_classes), "one_hot: n_classes")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"one_hot expects integer labels of shape (N,), got dtype {labels.dtype}, shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"one_hot: labels must lie in 0…{k - 1}, got range {labels.min()}…{labels.max()}")
    return np.eye(k)[labels]


class DigitsSplit(NamedTuple):
    """A train/test split of the digits: ``X`` ``(N, 64)`` pixels in ``[0, 1]``, ``Y`` ``(N, 10)`` one-hot.

    A tuple, so ``X_train, Y_train, X_test, Y_test = digits()`` unpacks it; row ``i`` of ``X``
    is an 8 × 8 image flattened row-major (``X[i].reshape(8, 8)`` is the picture).
    """

    X_train: Array
    Y_train: Array
    X_test: Array
    Y_test: Array

    @property
    def labels_train(self) -> Array:
        """The training classes ``0 … 9``, ``(N_train,)``: ``argmax`` of ``Y_train``."""
        return np.argmax(self.Y_train, axis=1)

    @property
    def labels_test(self) -> Array:
        """The test classes ``0 … 9``, ``(N_test,)``: ``argmax`` of ``Y_test``."""
        return np.argmax(self.Y_test, axis=1)

    def __repr__(self) -> str:
        return f"DigitsSplit({len(self.X_train)} train, {len(self.X_test)} test images of 8×8, 10 classes)"


def digits(*, test_size: float = 0.25, seed: int = 0) -> DigitsSplit:
    """The handwritten digits that ship with scikit-learn, split in a fixed, stratified way.

    ``sklearn.datasets.load_digits`` (1,797 images of 8 × 8 pixels with grey levels
    0 … 16, nothing downloaded): ``x = pixels / 16 ∈ [0, 1]^64`` (row-major), ``y`` one-hot
    over the 10 classes. ``sklearn.model_selection.train_test_split(stratify=labels,
    random_state=seed)`` keeps every class's share the same in both parts, and the
    same ``seed`` gives the same split on every machine.

    Args:
        test_size: the fraction of the images held out for testing, ``0 < test_size < 1``
            (each part must have at least one image per class).
        seed: the split's seed, an integer ``0 ≤ seed < 2³²``.

    Returns:
        A :class:`DigitsSplit` ``(X_train, Y_train, X_test, Y_test)``: ``X`` ``(N, 64)``,
        ``Y`` ``(N, 10)``, float64; 1,347 and 450 rows for ``test_size=0.25``.

    Raises:
        ModuleNotFoundError: scikit-learn is not installed (it names the extra to install).

    >>> X_train, Y_train, X_test, Y_test = digits()
    >>> X_train.shape, Y_train.shape, X_test.shape, Y_test.shape
    ((1347, 64), (1347, 10), (450, 64), (450, 10))
    >>> float(X_train.min()), float(X_train.max()), np.bincount(digits().labels_test).tolist()[:3]
    (0.0, 1.0, [45, 46, 44])
    """
    fraction = _test_fraction(test_size)
    seed = seed_value(cut_text(seed), "digits: seed", allow_none=False)
    if seed >= 2**32:
        raise ValueError(f"digits: seed must be below 2**32 (scikit-learn's random_state), got {seed!r}")
    try:
        from sklearn.datasets import load_digits  # (scikit-learn loads only here)
        from sklearn.model_selection import train_test_split
    except ImportError as err:
        raise ModuleNotFoundError("jn.data.digits() needs scikit-learn: pip install 'jacobnet[course]'", name="sklearn") from err
    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64) / DIGITS_LEVELS
    labels = np.asarray(data.target, dtype=np.int64)
    X_train, X_test, l_train, l_test = train_test_split(X, labels, test_size=fraction, stratify=labels, random_state=seed)
    return DigitsSplit(X_train, one_hot(l_train, DIGITS_CLASSES), X_test, one_hot(l_test, DIGITS_CLASSES))


def _test_fraction(test_size: object) -> float:
    """``test_size`` as a float in ``(0, 1)`` that leaves at least one image per class in each part, else raise."""
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, (float, np.floating)):
        raise TypeError(f"digits: test_size must be a fraction (a float between 0 and 1), got {type(test_size).__name__} "
                        f"{shorten(repr(test_size), 60)}")
    n_test = int(np.ceil(float(test_size) * DIGITS_SIZE)) if 0 < test_size < 1 else 0
    if not DIGITS_CLASSES <= n_test <= DIGITS_SIZE - DIGITS_CLASSES:
        raise ValueError(f"digits: test_size must put {DIGITS_CLASSES} … {DIGITS_SIZE - DIGITS_CLASSES} of the {DIGITS_SIZE} images "
                         f"in the test part (one per class at least, in each part), got {test_size!r} ({n_test} images)")
    return float(test_size)
