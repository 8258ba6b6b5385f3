"""The memory guard: refuse to materialise more than a budget, before allocating it.

A dense Jacobian can be enormous — ``J_θ`` of a 784→128 layer is
128 × 100 480 float64 numbers, ~100 MB per sample, ~3.3 GB for a batch of 32.
Every place that materialises (``Operator.dense``, ``Factor.dense``, a
materialised chain evaluation, a block-diagonal batch Jacobian) first calls
:func:`check_budget` with the number of bytes it is about to write, computed
from shapes alone. Over the budget it raises :class:`JacobianMemoryError`
(a ``MemoryError``) that says how much it would have taken and what to do
instead; nothing big has been allocated at that point.

The budget defaults to 1 GiB. Change it for the whole session with
:func:`set_budget`, or for a block with :func:`memory_budget`.

>>> with memory_budget(1000):
...     check_budget(8 * 200, "a (10, 20) matrix")
Traceback (most recent call last):
...
jacobnet.core.memory.JacobianMemoryError: materialising a (10, 20) matrix would take 1.56 KiB, over the memory budget of 1000 B; use the structured mode, or raise the budget with jacobnet.core.memory.set_budget(nbytes)
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from jacobnet.core.cost import decimal_digits
from jacobnet.core.validate import positive_int

DEFAULT_BUDGET = 1 << 30  # 1 GiB
_budget = DEFAULT_BUDGET


class JacobianMemoryError(MemoryError):
    """Materialising would exceed the memory budget.

    Attributes:
        needed: bytes the operation would have allocated.
        budget: the budget in force, in bytes.
    """

    def __init__(self, message: str, needed: int, budget: int):
        super().__init__(message)
        self.needed = needed
        self.budget = budget


def format_bytes(n: int | float) -> str:
    """Bytes, human-readable with binary prefixes above 1 KiB; a count beyond float64 by its number of digits.

    >>> format_bytes(512), format_bytes(1600), format_bytes(3 * 2**30), format_bytes(10**400)
    ('512 B', '1.56 KiB', '3 GiB', '~1e+400 B (a number of 401 digits)')
    """
    if isinstance(n, int) and n.bit_length() > 1000:  # (n / 2**30 would not fit a float)
        return f"~1e+{decimal_digits(n) - 1} B (a number of {decimal_digits(n)} digits)"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def budget() -> int:
    """The current memory budget in bytes (default ``DEFAULT_BUDGET`` = 1 GiB)."""
    return _budget


def set_budget(nbytes: int) -> int:
    """Set the memory budget to ``nbytes`` (a positive integer); return the previous one.

    >>> old = set_budget(2**20); set_budget(old)
    1048576
    """
    global _budget
    nbytes = positive_int(nbytes, "the memory budget (a number of bytes)")
    previous, _budget = _budget, nbytes
    return previous


@contextmanager
def memory_budget(nbytes: int) -> Iterator[None]:
    """Use a budget of ``nbytes`` inside a ``with`` block, then restore the previous one.

    >>> with memory_budget(4096):
    ...     budget()
    4096
    >>> budget() == DEFAULT_BUDGET
    True
    """
    previous = set_budget(nbytes)
    try:
        yield
    finally:
        set_budget(previous)


def check_budget(nbytes: int, what: str, instead: str = "use the structured mode") -> None:
    """Raise :class:`JacobianMemoryError` if materialising ``what`` needs more than the budget.

    Args:
        nbytes: bytes the caller is about to allocate (computed from shapes, before allocating).
        what: what would be materialised, e.g. ``"J_θ(Dense 1), (32, 128, 100480)"``.
        instead: what to do instead (smaller batch, structured mode, another order).

    >>> check_budget(8 * 2 * 3, "J_x(Dense 1) of shape (2, 3)")      # 48 B: fine, returns None
    >>> with memory_budget(2**20):
    ...     check_budget(8 * 32 * 128 * 784, "J_x(Dense 1) of shape (32, 128, 784)", "use a smaller batch")
    Traceback (most recent call last):
    ...
    jacobnet.core.memory.JacobianMemoryError: materialising J_x(Dense 1) of shape (32, 128, 784) would take 24.5 MiB, over the memory budget of 1 MiB; use a smaller batch, or raise the budget with jacobnet.core.memory.set_budget(nbytes)
    """
    if nbytes > _budget:
        raise JacobianMemoryError(
            f"materialising {what} would take {format_bytes(nbytes)}, over the memory budget of "
            f"{format_bytes(_budget)}; {instead}, or raise the budget with jacobnet.core.memory.set_budget(nbytes)",
            nbytes,
            _budget,
        )
