"""Small data sets generated with NumPy, for the course and the tests.

Everything is float64 and seeded: the same arguments give the same arrays
on every machine.

>>> X, labels = two_spirals(5, seed=0)
>>> X.shape, labels.shape, X.dtype
((10, 2), (10,), dtype('float64'))
>>> one_hot(labels, 2).shape
(10, 2)
"""

from __future__ import annotations

import numpy as np

from jacobnet.core.cost import cut_text, shorten
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.validate import positive_int, seed_value

Array = np.ndarray
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
