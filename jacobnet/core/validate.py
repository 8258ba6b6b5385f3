"""Input checks shared by layers, losses and the network.

Every message names who complained, what shape it expected and what it got.

>>> as_input(np.zeros((2, 3)), "Dense 1", 3).shape
(2, 3)
>>> as_input(np.zeros(4), "Dense 1", 3)
Traceback (most recent call last):
...
ValueError: Dense 1 expects input of shape (3,) or (B, 3), got shape (4,)
"""

from __future__ import annotations

import numpy as np

from jacobnet.core.cost import quote

try:  # NumPy's C count itself (``np.count_nonzero`` wraps it in a dispatch layer)
    from numpy._core.multiarray import count_nonzero as _count_nonzero
except ImportError:  # (a NumPy that moved it)
    _count_nonzero = np.count_nonzero

Array = np.ndarray
F64 = np.dtype(np.float64)


def all_finite(arr: Array) -> bool:
    """Whether every entry of the float64 ``arr`` is finite (no NaN, no ±inf): one ufunc and a count.

    (The C count: ``np.count_nonzero``'s dispatch layer costs more than counting a small array.)

    >>> all_finite(np.ones((2, 3))), all_finite(np.array([1.0, np.nan]))
    (True, False)
    """
    return bool(_count_nonzero(np.isfinite(arr)) == arr.size)


def _shape_text(size: int | None) -> str:
    return "(n,) or (B, n)" if size is None else f"({size},) or (B, {size})"


def _asarray(x: object, expects: str) -> Array:
    """``np.asarray(x)``, with NumPy's error on ragged nested lists reworded to say who expects what."""
    try:
        return np.asarray(x)
    except ValueError:
        raise ValueError(f"{expects}, got a ragged sequence (rows of different lengths)") from None


def as_input(x: object, who: str, size: int | None = None, what: str = "input", makeup: str | None = None,
             copy: bool = True) -> Array:
    """Return ``x`` as a float64 array of shape ``(size,)`` or ``(B, size)``, or raise.

    ``makeup`` says what ``size`` is made of (``"tokens=3 × d_model=4"``), for the
    message when the feature size is wrong. ``copy=False`` returns a float64 array
    itself (other dtypes are still converted): for a caller that keeps nothing of
    ``x`` after it returns (``Network.gradient``); by default the result is a copy,
    so that what is kept (a trace, an operator) never changes with the caller's array.

    Raises:
        TypeError: ``x`` is not real-numeric (strings, objects, booleans, complex).
        ValueError: wrong number of dimensions, wrong feature size, NaN or inf.

    >>> as_input(np.ones(10), "SelfAttention", 12, makeup="tokens=3 × d_model=4")
    Traceback (most recent call last):
    ...
    ValueError: SelfAttention: the input has 10 features, but tokens=3 × d_model=4 = 12
    """
    if not copy and type(x) is np.ndarray and x.dtype is F64:  # already what is asked: only the shape and NaN/inf to check
        shape = x.shape
        if (len(shape) == 1 or (len(shape) == 2 and shape[0])) and shape[-1] and (size is None or shape[-1] == size):
            return x if all_finite(x) else check_finite(x, who, what, size)
    arr = x if type(x) is np.ndarray else _asarray(x, f"{who} expects {what} of shape {_shape_text(size)}")
    if arr.dtype.kind not in "iuf":  # signed/unsigned integers and floats; not bool, complex, str, object
        raise TypeError(
            f"{who} expects a real-valued numeric {what} of shape {_shape_text(size)}, "
            f"got dtype {arr.dtype} with shape {arr.shape}"
        )
    if makeup and arr.ndim in (1, 2) and size is not None and arr.shape[-1] != size:
        raise ValueError(f"{who}: the {what} has {arr.shape[-1]} features, but {makeup} = {size}")
    if arr.ndim not in (1, 2) or (size is not None and arr.shape[-1] != size):
        raise ValueError(f"{who} expects {what} of shape {_shape_text(size)}, got shape {arr.shape}")
    if arr.shape[-1] == 0 or (arr.ndim == 2 and arr.shape[0] == 0):
        raise ValueError(f"{who} expects a non-empty {what} of shape {_shape_text(size)}, got shape {arr.shape}")
    return check_finite(arr.astype(np.float64, copy=copy), who, what, size)


def check_finite(arr: Array, who: str, what: str = "input", size: int | None = None) -> Array:
    """Return the float64 ``arr`` unchanged if every entry is finite; else raise naming the first NaN/inf.

    The one NaN/inf check: :func:`as_input` ends with it, and a network's own
    output (already float64 and shaped, but it can overflow) gets only this.

    >>> check_finite(np.array([[1.0, np.inf]]), "Dense 1")
    Traceback (most recent call last):
    ...
    ValueError: Dense 1 got a non-finite input value inf at index (0, 1) (expects finite values, shape (n,) or (B, n); got shape (1, 2))
    """
    if not all_finite(arr):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(
            f"{who} got a non-finite {what} value {arr[where]} at index {where} "
            f"(expects finite values, shape {_shape_text(size)}; got shape {arr.shape})"
        )
    return arr


MODES = ("materialised", "structured")


def check_mode(mode: str) -> None:
    """Raise unless ``mode`` is ``"materialised"`` or ``"structured"``: ``TypeError`` for a non-string, else ``ValueError``.

    >>> check_mode("dense")
    Traceback (most recent call last):
    ...
    ValueError: unknown mode 'dense'; choose one of materialised, structured
    >>> check_mode(np.arange(3))
    Traceback (most recent call last):
    ...
    TypeError: mode must be a string, one of materialised, structured; got array([0, 1, 2]) (ndarray)
    """
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string, one of {', '.join(MODES)}; got {quote(mode)} ({type(mode).__name__})")
    if mode not in MODES:
        raise ValueError(f"unknown mode {quote(mode)}; choose one of {', '.join(MODES)}")


def flag(value: object, what: str) -> bool:
    """``value`` as a bool if it is ``True`` or ``False`` (NumPy's too), else a ``TypeError`` naming ``what``.

    A string such as ``"no"`` would be true, so it is refused.

    >>> flag(np.True_, "check_matrix: reveal")
    True
    >>> flag("no", "check_matrix: reveal")
    Traceback (most recent call last):
    ...
    TypeError: check_matrix: reveal must be True or False, got 'no'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {quote(value, 60)}")
    return bool(value)


def positive_int(value: object, what: str) -> int:
    """Return ``value`` as an ``int`` if it is a positive integer (``int`` or NumPy integer), else raise.

    The one "positive integer" check: booleans, floats (even ``2.0``) and
    strings are refused, so a typo never becomes a size. The message quotes
    at most about 80 characters of ``value`` (:func:`~jacobnet.core.cost.quote`).

    >>> positive_int(3, "Dense: n_in")
    3
    >>> positive_int(2.0, "train: steps")
    Traceback (most recent call last):
    ...
    ValueError: train: steps must be a positive integer, got 2.0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {quote(value)}")
    return int(value)


def seed_value(value: object, what: str, allow_none: bool = True) -> int | None:
    """Return a seed for ``numpy.random.default_rng``: a non-negative integer (or ``None``), else raise.

    >>> seed_value(None, "Dense: seed"), seed_value(7, "--seed", allow_none=False)
    (None, 7)
    >>> seed_value(-1, "train: seed")
    Traceback (most recent call last):
    ...
    ValueError: train: seed must be None or a non-negative integer, got -1
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        expected = "None or a non-negative integer" if allow_none else "a non-negative integer"
        raise ValueError(f"{what} must be {expected}, got {quote(value)}")
    return int(value)


def as_target(y: object, yhat: Array, who: str, copy: bool = True, classes: bool = False) -> Array:
    """Return the target ``y`` as float64 with exactly the prediction's shape, or raise (``copy``: as :func:`as_input`).

    ``classes=True`` (the cross-entropy losses) also takes class indices, what PyTorch users type:
    an integer ``k`` for one sample ``ŷ`` ``(n,)``, an integer array ``(B,)`` for a batch ``(B, n)``;
    each becomes its one-hot row, ``y_k = 1`` (:func:`one_hot_target`). A numeric target one
    dimension short of ``ŷ`` is otherwise refused with what to do (``jn.data.one_hot``, a reshape).

    >>> as_target([2, 0], np.zeros((2, 3)), "CrossEntropy", classes=True)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    >>> as_target(1, np.zeros(3), "MSE")
    Traceback (most recent call last):
    ...
    ValueError: MSE expects a target of the prediction's shape (3,), got a scalar; class indices are for the cross-entropy losses: for MSE make one-hot targets with jn.data.one_hot(labels, 3)
    """
    if not copy and type(y) is np.ndarray and y.dtype is F64 and y.shape == yhat.shape and all_finite(y):
        return y  # (already what is asked)
    if getattr(y, "shape", None) != yhat.shape:  # (a target of the right shape goes straight on)
        arr = _asarray(y, f"{who} expects a target of shape {yhat.shape}")
        if arr.ndim == yhat.ndim - 1 and arr.dtype.kind in "iuf":
            return one_hot_target(arr, yhat, who, classes)
    arr = as_input(y, who, yhat.shape[-1], what="target", copy=copy)
    if arr.shape != yhat.shape:
        raise ValueError(f"{who} expects a target of the prediction's shape {yhat.shape}, got shape {arr.shape}")
    return arr


def one_hot_target(labels: Array, yhat: Array, who: str, classes: bool = True) -> Array:
    """Class indices ``labels`` — ``()`` for a prediction ``(n,)``, ``(B,)`` for ``(B, n)`` — as one-hot float64 rows of ``yhat``'s shape.

    Raises ``ValueError`` naming ``who`` for indices that are not integers, outside ``0 … n−1``
    or not one per sample, and for any indices when ``classes`` is false (a loss that takes none),
    each time saying what to pass instead.

    >>> one_hot_target(np.array(2), np.zeros(3), "SoftmaxCrossEntropy")
    array([0., 0., 1.])
    >>> one_hot_target(np.array([0, 3]), np.zeros((2, 3)), "SoftmaxCrossEntropy")
    Traceback (most recent call last):
    ...
    ValueError: SoftmaxCrossEntropy: class index 3 (sample 2) is outside 0…2, for a prediction of 3 classes
    """
    n, integers = yhat.shape[-1], labels.dtype.kind in "iu"
    got = f"expects a target of the prediction's shape {yhat.shape}, got " + ("a scalar" if labels.ndim == 0 else f"shape {labels.shape}")
    if not classes:
        hint = f"; for one output per sample give y the shape {yhat.shape[:-1] + (1,)} (y.reshape(-1, 1))" if n == 1 and labels.ndim else ""
        if integers:
            hint += f"; class indices are for the cross-entropy losses: for {who} make one-hot targets with jn.data.one_hot(labels, {n})"
        raise ValueError(f"{who} {got}{hint}")
    if not integers:
        raise ValueError(f"{who} {got} of dtype {labels.dtype}; pass class indices as integers (labels.astype(int)) "
                         f"or one-hot rows (jn.data.one_hot(labels, {n}))")
    if labels.shape != yhat.shape[:-1]:
        raise ValueError(f"{who}: {labels.shape[0]} class indices for a batch of {yhat.shape[0]} predictions; give one per sample")
    bad = (labels < 0) | (labels >= n)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        sample = f" (sample {where[0] + 1})" if where else ""
        raise ValueError(f"{who}: class index {quote(labels[where].item())}{sample} is outside 0…{n - 1}, for a prediction of {n} classes")
    return np.eye(n)[labels]


def as_params(theta: object, who: str, n: int) -> Array:
    """Return a flat parameter vector of length ``n`` as float64, or raise."""
    arr = _asarray(theta, f"{who} expects parameters of shape ({n},)")
    if arr.dtype.kind not in "iuf":
        raise TypeError(
            f"{who} expects real-valued parameters of shape ({n},), got dtype {arr.dtype} with shape {arr.shape}"
        )
    if arr.shape != (n,):
        raise ValueError(f"{who} expects parameters of shape ({n},), got shape {arr.shape}")
    with np.errstate(over="ignore"):  # (a longdouble beyond float64 becomes inf here, and is refused below)
        out = arr.astype(np.float64, copy=True)
    if not np.isfinite(out).all():
        where = int(np.argwhere(~np.isfinite(out))[0][0])
        raise ValueError(f"{who} got a non-finite parameter {str(arr[where]):.40} at index {where} of {n} (as float64)")
    return out
