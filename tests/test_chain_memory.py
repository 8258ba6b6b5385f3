"""The memory guard: over the budget, a ``MemoryError`` that says how much and what instead,
raised before anything big is allocated (tracemalloc's peak stays small)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.chain.batch import batch_chain, block_diagonal
from jacobnet.core.memory import DEFAULT_BUDGET, JacobianMemoryError, budget, memory_budget, set_budget
from jacobnet.core.operators import KronRows

MiB = 2**20


def mnist_net(batch: int) -> tuple[jn.Network, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    net = jn.build_network("784,128,10", "tanh", "softmax-ce", seed=0)
    return net, rng.normal(size=(batch, 784)), np.eye(10)[rng.integers(0, 10, batch)]


def peak_of(fn) -> tuple[int, BaseException | None]:
    """tracemalloc's peak (bytes) while ``fn`` runs, and what it raised."""
    tracemalloc.start()
    err = None
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - returned to the test
        err = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, err


def test_default_budget_is_one_gib_and_configurable():
    assert budget() == DEFAULT_BUDGET == 2**30
    with memory_budget(123):
        assert budget() == 123
    assert budget() == 2**30
    for bad in (0, -1, 1.5, True, "1 GiB"):
        with pytest.raises(ValueError, match=r"the memory budget \(a number of bytes\) must be a positive integer"):
            set_budget(bad)


def test_materialised_gradient_is_refused_without_allocating():
    """4096→1024→10, one sample: J_θ(Dense 1) is 1024 × 4 195 328 float64 = 32 GiB."""
    rng = np.random.default_rng(0)
    net = jn.build_network("4096,1024,10", "tanh", "softmax-ce", seed=0)
    x, y = rng.normal(size=4096), np.eye(10)[3]
    peak, err = peak_of(lambda: net.gradient(x, y, mode="materialised"))
    assert isinstance(err, JacobianMemoryError) and isinstance(err, MemoryError)
    assert err.needed == 1024 * (4096 * 1024 + 1024) * 8 and err.budget == 2**30
    msg = str(err)
    for part in ("J_θ(Dense 1) of shape (1024, 4195328)", "32 GiB", "budget of 1 GiB", "structured mode"):
        assert part in msg
    # the gradient vector itself (4.2 M parameters, 32 MiB) and the Jacobians of Dense 2 and Tanh 1
    # (8 MiB), never the 32 GiB one
    assert peak < net.n_params * 8 + 16 * MiB
    assert net.gradient(x, y).shape == (net.n_params,)  # the structured default just works


def test_a_structured_trace_of_a_big_layer_names_its_columns_without_storing_them():
    """J_θ(Dense 1) of 4096→1024 has 4 195 328 columns: as strings ~400 MB; the labels are made on demand."""
    rng = np.random.default_rng(0)
    net = jn.build_network("4096,1024,10", "tanh", "softmax-ce", seed=0)
    x, y = rng.normal(size=4096), np.eye(10)[3]
    peak, err = peak_of(lambda: net.trace(x, y, mode="structured"))
    assert err is None and peak < 2 * net.n_params * 8 + 16 * MiB  # the gradient and one ∂L/∂θ row (32 MiB each), no labels
    f = net.trace(x, y, mode="structured").factor("J_θ(Dense 1)")
    assert len(f.col_labels) == 1024 * 4097 and f.col_labels[4096] == "W^{(1)}_{2,1}" and f.col_labels[-1] == "b^{(1)}_{1024}"
    assert f.row_labels[-1] == "a^{(1)}_{1024}"


def test_a_layer_jacobian_over_the_budget_names_the_layer():
    with memory_budget(MiB):
        with pytest.raises(JacobianMemoryError, match=r"materialising J_θ of Dense\(784→128\) of shape \(128, 100480\)"):
            jn.Dense(784, 128).jacobian_params(np.ones(784))
        with pytest.raises(JacobianMemoryError, match=r"J_x of Tanh of shape \(64, 512, 512\)"):
            jn.Tanh().jacobian_input(np.ones((64, 512)))


def test_materialised_batch_holds_one_chunk_not_the_stack():
    """784→128→10 at batch 4: one sample's J_θ(Dense 1) is 98 MiB, the stack (4, 128, 100480) 392 MiB."""
    net, X, Y = mnist_net(4)
    one = 128 * 100480 * 8
    peak, err = peak_of(lambda: net.gradient(X, Y, mode="materialised"))
    assert err is None and one < peak < 1.5 * one
    with memory_budget(64 * MiB):
        peak, err = peak_of(lambda: net.gradient(X, Y, mode="materialised"))
        assert isinstance(err, JacobianMemoryError) and err.needed == one
        assert "J_θ(Dense 1), 1 sample(s) of shape (128, 100480)" in str(err) and peak < 8 * MiB
        peak, err = peak_of(lambda: net.chain(X, Y).factors[-1].dense())  # the stacked (B, m, n) on demand
        assert isinstance(err, JacobianMemoryError) and err.needed == 4 * one and peak < MiB


@pytest.mark.parametrize("mode", ["materialised", "structured"])
def test_chain_evaluation_checks_the_whole_plan_first(mode):
    """Forward order of 784→128→10, one sample: ~211 MiB materialised, ~108 MiB structured."""
    net, X, Y = mnist_net(1)
    chain = net.chain(X[0], Y[0])
    with memory_budget(64 * MiB):
        peak, err = peak_of(lambda: chain.evaluate("forward", mode=mode))
        assert isinstance(err, JacobianMemoryError)
        assert err.needed == chain.bytes("forward", mode, include_factors=mode == "materialised") > 64 * MiB
        assert "∂L/∂θ(Dense 1) in forward order" in str(err)
        assert ("use order='reverse'" if mode == "structured" else "use mode='structured'") in str(err)
        assert peak < 2 * MiB
        assert chain.evaluate("reverse", mode="structured").shape == (1, 100480)  # ~0.8 MiB: fine


def test_factor_and_operator_dense_are_guarded():
    net, X, Y = mnist_net(1)
    factor = net.chain(X[0], Y[0]).factors[-1]
    with memory_budget(10 * MiB):
        peak, err = peak_of(factor.dense)
        assert isinstance(err, JacobianMemoryError) and "J_θ(Dense 1) of shape (128, 100480)" in str(err)
        assert peak < MiB
        peak, err = peak_of(KronRows(X, 128).dense)
        assert isinstance(err, JacobianMemoryError) and "[I ⊗ xᵀ | I] Jacobian of shape (1, 128, 100480)" in str(err)
        assert peak < MiB
        peak, err = peak_of(lambda: net.layers[0].jacobian_params(X[0]))
        assert isinstance(err, JacobianMemoryError) and peak < 3 * MiB


def test_block_diagonal_batch_jacobian_is_guarded():
    """blockdiag of 64 diagonal 128 × 128 blocks: (8192, 8192), 512 MiB of mostly zeros."""
    net, X, Y = mnist_net(64)
    chain = net.chain(X, Y)
    with memory_budget(100 * MiB):
        peak, err = peak_of(lambda: block_diagonal(chain.factors[2]))
        assert isinstance(err, JacobianMemoryError) and err.needed == 8192 * 8192 * 8
        assert peak < MiB
        big = batch_chain(chain)
        peak, err = peak_of(lambda: big.evaluate("reverse"))
        assert isinstance(err, JacobianMemoryError) and peak < MiB
        assert big.evaluate("reverse", mode="structured").shape == (1, net.layers[0].n_params)


def test_cli_reports_the_guard_in_one_line(capsys):
    from jacobnet.cli import main

    with memory_budget(1024):
        status = main(["demo", "--layers", "30,20,2"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "memory budget" in err
