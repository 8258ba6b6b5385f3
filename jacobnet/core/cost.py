"""The cost guard: refuse slow work at once, before doing any of it, with the estimate and the limit.

Every slow path of jacobnet — central differences in every parameter
(:func:`~jacobnet.core.finite.fd_gradient`), a gradient checked three ways
(:func:`~jacobnet.check.compare_gradients`, ``jacobnet check``), a layer checked by
differences (:func:`~jacobnet.check.check_layer`), the answer checker on a big
gradient, a decision grid, the timing of accumulation orders — first estimates
its *work* from shapes alone, as

    work = evaluations × operations of one evaluation

(an operation is one multiply-add; a Python-level call costs a fixed number of
them, see :data:`jacobnet.core.finite.CALL_OPS`), and calls :func:`check_cost`.
Over the limit it raises :class:`CostError`, a ``ValueError``, that says what
would be computed, the estimate, the limit and what to do instead; nothing has
been computed at that point.

The limit defaults to :data:`DEFAULT_LIMIT` = 3·10¹⁰ operations, about half a
minute at the nominal :data:`OPS_PER_SECOND` (10⁹: NumPy's matrix-vector speed
on one core). Raise it for the session with :func:`set_cost_limit`, or for a
block with :func:`cost_limit` (as :func:`jacobnet.core.memory.memory_budget` does
for memory):

>>> with cost_limit(1000):
...     check_cost(2 * 600, "finite differences of a (600,) point")
Traceback (most recent call last):
...
jacobnet.core.cost.CostError: finite differences of a (600,) point would take about 1.2e+03 operations (~1.2e-06 s), over the cost limit of 1e+03 operations; do less, or raise the limit with jacobnet.core.cost.cost_limit(work) or set_cost_limit(work)
>>> with cost_limit(10**4):
...     check_cost(1200, "the same")      # under the limit: returns the estimate
1200
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

DEFAULT_LIMIT = 3 * 10**10
"""Operations a guarded call may take without asking: about 30 s at :data:`OPS_PER_SECOND`."""
OPS_PER_SECOND = 10**9
"""The nominal speed the messages convert operations into seconds with (an estimate, not a measurement)."""
_limit: int | float = DEFAULT_LIMIT


class CostError(ValueError):
    """The estimated work is over the cost limit (nothing was computed).

    Attributes:
        what: what would have been computed, e.g. ``"finite differences of dL/dθ (90300 parameters)"``.
        work: the estimated operations.
        limit: the limit in force.
        instead: what to do instead (without the part about raising the limit).
    """

    def __init__(self, message: str, what: str, work: float, limit: float, instead: str):
        super().__init__(message)
        self.what, self.work, self.limit, self.instead = what, work, limit, instead


def format_work(work: float) -> str:
    """Operations, with the seconds they take at :data:`OPS_PER_SECOND`.

    >>> format_work(5.6e10), format_work(3 * 10**10)
    ('5.6e+10 operations (~56 s)', '3e+10 operations (~30 s)')
    """
    try:
        work = float(work)
    except OverflowError:  # (an integer beyond float64)
        return "more than 1e+308 operations"
    return f"{work:.2g} operations (~{work / OPS_PER_SECOND:.2g} s)"


def current_limit() -> int | float:
    """The current limit in operations (default :data:`DEFAULT_LIMIT`)."""
    return _limit


def _checked_limit(work: object) -> int | float:
    ok = isinstance(work, (int, float)) and not isinstance(work, bool) and work > 0  # (NaN > 0 is False)
    if not ok:
        raise ValueError(f"the cost limit must be a positive number of operations (e.g. 1e11, or math.inf for none), "
                         f"got {shorten(repr(cut_text(work)), 80)}")
    return work  # type: ignore[return-value]


def set_cost_limit(work: int | float) -> int | float:
    """Set the limit to ``work`` operations (a positive number; ``math.inf`` turns the guard off); return the previous one.

    >>> old = set_cost_limit(1e12); set_cost_limit(old)
    1000000000000.0
    """
    global _limit
    work = _checked_limit(work)
    previous, _limit = _limit, work
    return previous


@contextmanager
def cost_limit(work: int | float) -> Iterator[None]:
    """Use a limit of ``work`` operations inside a ``with`` block, then restore the previous one.

    >>> with cost_limit(5e10):
    ...     current_limit()
    50000000000.0
    >>> current_limit() == DEFAULT_LIMIT
    True
    """
    previous = set_cost_limit(work)
    try:
        yield
    finally:
        set_cost_limit(previous)


def check_cost(work: float, what: str, instead: str = "do less", limit: float | None = None) -> float:
    """Return ``work`` if it is within the limit; else raise :class:`CostError`, before anything is computed.

    Args:
        work: the estimated operations (evaluations × operations of one), from shapes alone.
        what: what would be computed, e.g. ``"finite differences of dL/dθ of Network(…)"``.
        instead: what to do instead (smaller network, fewer points, another method).
        limit: this call's limit; default the one in force (:func:`set_cost_limit`, :func:`cost_limit`).

    >>> check_cost(6e10, "finite differences of dL/dθ (100000 parameters)", "use method='jacobian'")
    Traceback (most recent call last):
    ...
    jacobnet.core.cost.CostError: finite differences of dL/dθ (100000 parameters) would take about 6e+10 operations (~60 s), over the cost limit of 3e+10 operations; use method='jacobian', or raise the limit with jacobnet.core.cost.cost_limit(work) or set_cost_limit(work)
    """
    bound = _limit if limit is None else _checked_limit(limit)
    if work > bound:
        raise CostError(
            f"{what} would take about {format_work(work)}, over the cost limit of {bound:.2g} operations; "
            f"{instead}, or raise the limit with jacobnet.core.cost.cost_limit(work) or set_cost_limit(work)",
            what, work, bound, instead,
        )
    return work


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was (a 100 KB argument, a network
    of 3 000 layers: what a message names, never echoed whole).

    >>> shorten("x" * 30, 12)
    'xxxxxxxxxxx…(30 characters)'
    """
    return text if len(text) <= limit else f"{text[: limit - 1]}…({len(text)} characters)"


def quote(value: object, limit: int = 80) -> str:
    """``repr(value)`` as a message quotes it: at most about ``limit`` characters, whatever ``value`` is.

    An integer too long to print (``repr`` refuses beyond 4 300 digits) is described by its
    number of digits, and so is any integer whose ``repr`` would be longer than ``limit``; an
    object whose ``repr`` fails is named by its type.

    >>> quote("x" * 100, 20), quote(10**400), quote([0.5] * 3), quote(-(10**5000))
    ("'xxxxxxxxxxxxxxxxxx…(102 characters)", 'an integer of 401 digits', '[0.5, 0.5, 0.5]', 'a negative integer of 5001 digits')
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3.33 * limit:
        return f"a{' negative' if value < 0 else 'n'} integer of {decimal_digits(value)} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 — (a repr that fails, or an integer too long for one)
        return f"a {type(value).__name__}"
    return shorten(text, limit)


def decimal_digits(n: int) -> int:
    """The number of decimal digits of ``|n|``, without printing it (``str`` refuses beyond 4 300 digits).

    >>> decimal_digits(999), decimal_digits(-1000), decimal_digits(10**5000)
    (3, 4, 5001)
    """
    n = abs(n)
    k = max(1, int(n.bit_length() * 0.30102999566398120))  # log10(2): exact or one short
    return k + (n >= 10**k)


def cut_text(value: object, limit: int = 60) -> object:
    """``value`` as a check such as ``positive_int`` may quote it back: itself when its ``repr`` is short (any
    integer that is not hugely negative, whatever its size), else a string that describes it in ``limit`` characters.

    >>> cut_text("9" * 100, 10), cut_text(7), cut_text(10**100) == 10**100, cut_text(-(10**100))
    ('999999999…(100 characters)', 7, True, 'a negative integer of 333 bits')
    >>> cut_text([0.5] * 100, 20)
    '[0.5, 0.5, 0.5, 0.5…(500 characters)'
    """
    if isinstance(value, str):
        return shorten(value, limit)
    if isinstance(value, int):  # (a valid size or seed stays what it is, however large)
        return value if value > -(10**limit) else f"a negative integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 — (an object whose repr fails: described by its type)
        return f"a {type(value).__name__}"
    return value if len(text) <= limit else shorten(text, limit)
