"""Numerical kernels shared by the layers, the losses and the operators.

Written once each: the bytes of a float64 (:data:`F8`), a stable softmax
(:func:`softmax`), the sums ``Σ_{j≠i} v_j`` that keep ``1 − s_i`` accurate
when a softmax saturates (:func:`sum_others`), and zeroing at memory speed (:func:`zero`).

>>> softmax(np.array([0.0, 0.0, 1000.0]))
array([0., 0., 1.])
>>> sum_others(np.array([0.25, 0.75]))   # 1 − s_i, without computing 1 − s_i
array([0.75, 0.25])
"""

from __future__ import annotations

import functools

import numpy as np

Array = np.ndarray
F8 = 8  # bytes per float64: every byte count in jacobnet is entries × F8
SUM_OTHERS_PRODUCT_MAX = 64  # up to this length one (n × n) product is faster than two running sums


def softmax(z: Array) -> Array:
    """``s = exp(z) / Σ exp(z)`` along the last axis, shifted by ``max z`` so ``exp`` never overflows.

    ``z``: ``(n,)`` or ``(B, n)``; ``s`` has its shape, entries in ``[0, 1]`` summing to 1.

    >>> softmax(np.array([[1.0, 1.0, 1.0, 1.0], [0.0, -1000.0, 0.0, 0.0]]))[1]
    array([0.33333333, 0.        , 0.33333333, 0.33333333])
    """
    e = z - np.maximum.reduce(z, axis=-1, keepdims=True)  # (the ufuncs themselves: z.max() adds a Python layer)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    return e


def sum_others(v: Array, axis: int = -1) -> Array:
    """``Σ_{j≠i} v_j`` for every ``i`` along ``axis``, without ever subtracting ``v_i``.

    For probabilities this is ``1 − s_i`` with full relative accuracy even
    when ``s_i → 1``, where ``1 − s_i`` itself cancels to noise: the softmax
    Jacobian and loss row use it near saturation. Two ways, by length ``n``:
    up to :data:`SUM_OTHERS_PRODUCT_MAX`, one product ``v (𝟙𝟙ᵀ − I)`` (column
    ``i`` holds a 0 at ``j = i``: ``v_i`` is skipped, never added and taken
    away; one BLAS call, on short rows ~3× faster than running sums); longer,
    prefix plus suffix sums, ``O(n)`` where the product costs ``O(n²)``. Either
    way the error is within the summation bound ``(n − 2) u Σ_{j≠i} |v_j|``.

    >>> sum_others(np.array([[1.0, 2.0, 4.0], [1e-20, 1.0, 0.0]]))
    array([[6.e+00, 5.e+00, 3.e+00],
           [1.e+00, 1.e-20, 1.e+00]])
    """
    if axis not in (-1, v.ndim - 1):  # the sums run along the last axis: swap it there and back
        return sum_others(v.swapaxes(axis, -1)).swapaxes(axis, -1)
    n = v.shape[-1]
    if n <= SUM_OTHERS_PRODUCT_MAX:
        if v.ndim == 2:
            return np.dot(v, _ones_off_diagonal(n))  # (np.dot: less overhead than @)
        return (v.reshape(-1, n) @ _ones_off_diagonal(n)).reshape(v.shape)
    out, after = np.empty(v.shape), np.empty(v.shape)
    out[..., 0] = after[..., -1] = 0.0
    np.add.accumulate(v[..., :-1], axis=-1, out=out[..., 1:])  # out_i = v_0 + … + v_{i−1}
    np.add.accumulate(v[..., :0:-1], axis=-1, out=after[..., -2::-1])  # after_i = v_{n−1} + … + v_{i+1}
    out += after
    return out


def sum_others_and_total(v: Array) -> tuple[Array, Array]:
    """``(Σ_{j≠i} v_j for every i, Σ_j v_j)`` along the last axis: ``v``'s shape and ``v.shape[:-1] + (1,)``.

    As :func:`sum_others`; up to :data:`SUM_OTHERS_PRODUCT_MAX` (and ``v`` of one or two
    axes) one product ``v [𝟙𝟙ᵀ − I | 𝟙]`` gives both.

    >>> sum_others_and_total(np.array([[1.0, 2.0, 4.0]]))
    (array([[6., 5., 3.]]), array([[7.]]))
    """
    n = v.shape[-1]
    if n > SUM_OTHERS_PRODUCT_MAX or v.ndim > 2:
        return sum_others(v), np.add.reduce(v, axis=-1, keepdims=True)
    both = np.dot(v, _ones_off_diagonal_and_ones(n))
    return both[..., :n], both[..., n:]


@functools.lru_cache(maxsize=SUM_OTHERS_PRODUCT_MAX + 1)
def _ones_off_diagonal_and_ones(n: int) -> Array:
    """``[𝟙𝟙ᵀ − I | 𝟙]``, ``(n, n + 1)``, read-only (cached: one per length)."""
    m = np.ones((n, n + 1))
    np.fill_diagonal(m, 0.0)
    m.flags.writeable = False
    return m


@functools.lru_cache(maxsize=SUM_OTHERS_PRODUCT_MAX + 1)
def _ones_off_diagonal(n: int) -> Array:
    """``𝟙𝟙ᵀ − I``, ``(n, n)``, read-only (cached: one per length)."""
    m = np.ones((n, n))
    np.fill_diagonal(m, 0.0)
    m.flags.writeable = False
    return m


def zero(out: Array) -> Array:
    """Fill ``out`` with zeros at the speed of memory: a byte fill (``memset``) where its layout allows.

    (``fill(0.0)`` on float64 runs an element loop, ~1.3× slower on large arrays.)

    >>> zero(np.ones((2, 3)))
    array([[0., 0., 0.],
           [0., 0., 0.]])
    """
    if out.flags.c_contiguous:
        out.reshape(-1).view(np.uint8).fill(0)
    else:
        out.fill(0.0)
    return out


@functools.lru_cache(maxsize=16)
def ones(n: int) -> Array:
    """``𝟙``, ``(n,)``, read-only (cached: a batch size recurs in every step of training)."""
    v = np.ones(n)
    v.flags.writeable = False
    return v
