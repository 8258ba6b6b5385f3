"""Timing the accumulation orders: the table carries the counted cost and a measured time."""

from __future__ import annotations

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.chain.timing import best_time, time_orders


@pytest.fixture
def chain():
    net = jn.build_network("6,5,3", "tanh", "softmax-ce", seed=0)
    return net.chain(np.linspace(-1, 1, 6), np.eye(3)[1])


def test_table_rows_carry_counts_and_times(chain):
    t = time_orders(chain, ["forward", "reverse", ((0, 1), (2, 3))], repeat=2)
    assert t.column("order") == ["forward", "reverse", "((J_loss·J_x(Dense 2))·(J_x(Tanh 1)·J_θ(Dense 1)))"]
    # shapes (1,3)(3,5)(5,5)(5,35): reverse = 15 + 25 + 175, forward = 875 + 525 + 105
    assert t.column("flops") == [1505, 215, 15 + 875 + 175]
    assert t.column("bytes")[1] == chain.bytes("reverse")
    assert all(s > 0 for s in t.column("seconds"))
    assert min(t.column("relative")) == 1.0
    assert "µs" in str(t) and "best of 2" in t.title


def test_structured_counts(chain):
    t = time_orders(chain, ["reverse"], mode="structured", repeat=1)
    assert t.column("flops") == [chain.flops("reverse", mode="structured")] and "structured" in t.title


@pytest.mark.parametrize("repeat", [0, -1, 1.5, True])
def test_repeat_must_be_a_positive_integer(chain, repeat):
    with pytest.raises(ValueError, match="repeat must be a positive integer"):
        best_time(chain, repeat=repeat)
