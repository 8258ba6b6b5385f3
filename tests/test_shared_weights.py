"""Shared weights: one layer object at several positions (at the top, inside blocks, a whole block twice).

* Its gradient is the sum of the gradients of untied copies (the same network with a
  fresh copy, same weights, at every use after the first), on random networks with
  nested blocks, one sample and batches, both modes; and autograd's.
* The trace lists one product per use — each equal to that copy's product in the
  untied network — and a total that sums them; the layer's chain has every use's paths.
* The same for an RNN object used twice, and for an unrolled RNN (its two Dense layers at every
  step: backpropagation through time is the sum over the steps' copies).
* ``n_params`` counts the layer once; ``get_params``/``set_params`` round-trip and
  reach every use; labels and names; training a small residual network lowers the loss.

The random networks and the plain autograd reference are those of ``test_blocks.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_blocks import FEWER, GRAD_TOL, MODES, SETTINGS, ad_gradient, branches_of, networks, plain_seq, theta_layout, unsaturated

import jacobnet as jn
from jacobnet.check import rel_error

TIE_TOL = 1e-12  # the tied gradient against the sum of the copies': the same products, added in another order


def copy_of(layer: jn.Dense | jn.RNN) -> jn.Dense | jn.RNN:
    """A new Dense or RNN of the same sizes (and nonlinearity, output), holding the same weights."""
    if isinstance(layer, jn.RNN):
        twin = jn.RNN(layer.input_size, layer.hidden_size, layer.steps, nonlinearity=layer.nonlinearity, output=layer.output)
    else:
        twin = jn.Dense(layer.n_in, layer.n_out)
    twin.set_params(layer.get_params())
    return twin


def untie(layers, seen: dict[int, jn.Layer] | None = None, copies: dict[int, list] | None = None):
    """The same structure with every block rebuilt and every Dense or RNN met again replaced by a copy (same weights).

    Returns the layers and ``{id(original layer): [the original, copy, copy, …]}``.
    """
    seen = {} if seen is None else seen
    copies = {} if copies is None else copies
    out = []
    for layer in layers:
        if isinstance(layer, (jn.Dense, jn.RNN)):
            if id(layer) in seen:
                twin = copy_of(layer)
                copies[id(layer)].append(twin)
                out.append(twin)
            else:
                seen[id(layer)] = layer
                copies[id(layer)] = [layer]
                out.append(layer)
        elif isinstance(layer, jn.Residual):
            out.append(jn.Residual(untie(layer.layers, seen, copies)[0], name=layer.title))
        elif isinstance(layer, jn.Sequential):
            out.append(jn.Sequential(untie(layer.layers, seen, copies)[0], name=layer.title))
        elif isinstance(layer, (jn.Concat, jn.Sum)):
            out.append(type(layer)([untie(b, seen, copies)[0] for b in layer.branches], name=layer.title))
        else:
            out.append(layer)  # parameter-free: sharing it changes nothing
    return out, copies


def untied(net: jn.Network) -> tuple[jn.Network, dict[int, list]]:
    layers, copies = untie(net.layers)
    return jn.Network(layers, net.loss_fn), copies


def dense_layers(layers) -> list[jn.Dense | jn.RNN]:
    """The distinct Dense and RNN objects (the layers with parameters), in first-use order (counted here, not by jacobnet)."""
    found: dict[int, jn.Dense | jn.RNN] = {}

    def visit(layer) -> None:
        if isinstance(layer, (jn.Dense, jn.RNN)):
            found.setdefault(id(layer), layer)
        for branch in branches_of(layer):
            for inner in branch:
                visit(inner)

    for layer in layers:
        visit(layer)
    return list(found.values())


def uses(net: jn.Network, layer: jn.Layer) -> list:
    return [p for p in net.all_positions if p.layer is layer]


# --- the gradient of a shared layer is the sum of its copies' ----------------------------------------
@pytest.mark.parametrize("batch", [False, True], ids=["one sample", "batch"])
@SETTINGS
@given(data=st.data())
def test_shared_gradient_is_the_sum_of_untied_copies(batch: bool, data) -> None:
    net, x, y = data.draw(networks(batch=batch))
    free, copies = untied(net)
    assert not any(p.use > 1 and p.k for p in free.all_positions)
    shared = [d for d in dense_layers(net.layers) if len(copies[id(d)]) > 1]
    assert shared  # the strategy always shares one
    assert free.n_params == net.n_params + sum((len(copies[id(d)]) - 1) * d.n_params for d in shared)
    np.testing.assert_array_equal(free.forward(x), net.forward(x))
    where, where_free = theta_layout(net.layers), theta_layout(free.layers)
    for mode in MODES:
        g, g_free = net.gradient(x, y, mode=mode), free.gradient(x, y, mode=mode)
        for d in dense_layers(net.layers):
            total = sum(g_free[where_free[id(c)]] for c in copies[id(d)])
            assert rel_error(g[where[id(d)]], total, scale=np.max(np.abs(g))) <= TIE_TOL, (mode, d)
    if unsaturated(net, x):  # (autograd's softmax reference loses digits when saturated: see test_blocks)
        assert rel_error(net.gradient(x, y), ad_gradient(net, x, y)) <= GRAD_TOL


@FEWER
@given(networks(), st.sampled_from(MODES))
def test_trace_lists_one_product_per_use_and_a_total(case, mode: str) -> None:
    net, x, y = case
    free, copies = untied(net)
    trace, trace_free = net.trace(x, y, mode=mode), free.trace(x, y, mode=mode)
    by_name, by_name_free = trace.products_by_name, trace_free.products_by_name
    twin = {id(p): q for p, q in zip(net.all_positions, free.all_positions)}  # the same structure, position by position
    where = theta_layout(net.layers)
    B = x.shape[0] if x.ndim == 2 else None
    for d in dense_layers(net.layers):
        positions = uses(net, d)
        names = [f"use {p.use}: ∂L/∂θ({p.name})" if len(positions) > 1 else f"∂L/∂θ({p.name})" for p in positions]
        for p, name in zip(positions, names):
            product = by_name[name]
            assert product.factor.name == f"J_θ({p.name})" and product.shape == (1, d.n_params)
            mine = by_name_free[f"∂L/∂θ({twin[id(p)].name})"]  # that use's contribution is its copy's gradient
            assert rel_error(product.value, mine.value) <= 1e-13
        block = trace.gradient[where[id(d)]]
        if len(positions) == 1:
            assert not any(p.params and names[0] in p.terms for p in trace.products)
            continue
        totals = [p for p in trace.products if p.params and set(p.terms) == set(names)]
        assert len(totals) == 1
        total = totals[0]
        assert total.name == f"∂L/∂θ({positions[0].name.split(' › ')[-1]}) total" and total.factor is None
        assert sorted(total.terms) == sorted(names) and len(total.terms) == len(positions)
        value = total.value.reshape(-1, d.n_params).sum(axis=0) / (B or 1)
        assert rel_error(value, block) <= TIE_TOL
        assert total.name in str(trace)
    assert sum(p.params for p in trace.products) == sum(len(uses(net, d)) > 1 for d in dense_layers(net.layers))


def test_trace_of_a_layer_at_the_top_and_inside_a_residual_block() -> None:
    d = jn.Dense(3, 3, seed=0)
    net = jn.Network([d, jn.Residual([d, jn.Tanh()]), jn.Dense(3, 2, seed=1)], jn.MSE())
    x, y = np.array([0.2, -0.5, 1.1]), np.array([0.3, -0.1])
    trace = net.trace(x, y)
    names = [p.name for p in trace.products]
    assert names == [
        "∂L/∂a3", "∂L/∂θ(Dense 2)", "∂L/∂a2", "∂L/∂a2.1", "use 2: ∂L/∂θ(Residual 1 › Dense 1)", "∂L/∂a2.0", "∂L/∂a1",
        "use 1: ∂L/∂θ(Dense 1)", "∂L/∂a0", "∂L/∂θ(Dense 1) total",
    ]
    total = trace.products_by_name["∂L/∂θ(Dense 1) total"]
    assert total.terms == ["use 1: ∂L/∂θ(Dense 1)", "use 2: ∂L/∂θ(Residual 1 › Dense 1)"]
    assert "gradient: (20,) = [∂L/∂θ(Dense 1) total 12 | ∂L/∂θ(Dense 2) 8]" in str(trace)
    np.testing.assert_allclose(total.value[0], net.gradient(x, y)[:12], rtol=1e-13)


# --- chains: a shared layer's chain has the paths of every use; its sum is the gradient -------------------
@pytest.mark.parametrize("B", [None, 2])
def test_the_chain_of_a_shared_layer_sums_the_paths_of_every_use(B) -> None:
    d = jn.Dense(4, 4, seed=0)
    net = jn.Network([
        jn.Dense(3, 4, seed=1), d, jn.Tanh(),
        jn.Residual([d, jn.Sigmoid()]),
        jn.Concat([[d], [], [jn.Residual([jn.Tanh(), d])]]),
        jn.Dense(12, 2, seed=2),
    ], jn.SoftmaxCrossEntropy())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, 3) if B else 3)
    y = np.eye(2)[rng.integers(0, 2, B)] if B else np.array([0.0, 1.0])
    positions = uses(net, d)
    assert [p.name for p in positions] == [
        "Dense 2", "Residual 1 › Dense 2", "Concat 1 › Dense 2", "Concat 1 › Residual 2 › Dense 2",
    ]
    want = ad_gradient(net, x, y)[theta_layout(net.layers)[id(d)]]
    # from the use at the top: the residual (skip, inner) × the concatenation (branch 1, skip, branch 3's two);
    # from inside the residual: the concatenation's 4; from inside the concatenation: 1 each
    per_use = [2 * 4, 4, 1, 1]
    for p in positions:
        chain = net.chain(x, y, layer=p.name)  # any use: the layer's whole chain
        assert chain.target == "∂L/∂θ(Dense 2)" and chain.n_paths == sum(per_use)
        starts = [c.route.split(" · ")[0] for c in chain.paths()]
        assert [starts.count(f"use {q.use} ({q.name})") for q in positions] == per_use
    chain = net.chain(x, y, layer=1)  # the index of the top-level use
    for order in ("reverse", "optimal"):
        for mode in MODES:
            total = chain.evaluate(order, mode)
            got = total.mean(axis=0)[0] if B else total[0]
            assert rel_error(got, want) <= GRAD_TOL, (order, mode)
    # the paths of one use add up to that use's product in the trace
    trace = net.trace(x, y)
    for q in positions:
        mine = sum(c.evaluate() for c in chain.paths() if c.route.startswith(f"use {q.use} ({q.name})"))
        assert rel_error(mine, trace.products_by_name[f"use {q.use}: ∂L/∂θ({q.name})"].value) <= 1e-13


# --- parameters: once in θ, every use reads them ---------------------------------------------------------
def test_n_params_labels_and_round_trip() -> None:
    a, b = jn.Dense(3, 3, seed=0), jn.Dense(3, 2, seed=1)
    block = jn.Residual([a, jn.Tanh(), a])
    net = jn.Network([a, block, jn.Sum([[a], []]), block, b], jn.MSE())
    assert net.n_params == a.n_params + b.n_params == 12 + 8
    assert len(net.param_layers) == 2 and net.param_layers[0] is a and net.param_layers[1] is b
    labels = net.param_labels()
    assert len(labels) == len(set(labels)) == 20 and labels[0] == "W^{(1)}_{1,1}" and labels[12] == "W^{(2)}_{1,1}"
    assert net.param_names() == ["Dense 1", "Dense 2"]
    assert [s.stop - s.start for s in net.param_slices()] == [12, 0, 0, 0, 8]  # each layer's parameters at its first use
    np.testing.assert_array_equal(net.theta_index(1), np.arange(12))  # the block's get_params() is a's
    assert [p.name for p in uses(net, a)] == [
        "Dense 1", "Residual 1 › Dense 1", "Residual 1 › Dense 1 (use 3)", "Sum 1 › Dense 1",
        "Residual 1 (use 2) › Dense 1", "Residual 1 (use 2) › Dense 1 (use 6)",  # (use k): the layer's k-th use
    ]
    assert net.shared and [p.use for p in uses(net, a)] == [1, 2, 3, 4, 5, 6]
    theta = np.random.default_rng(1).normal(size=20)
    net.set_params(theta)
    np.testing.assert_array_equal(net.get_params(), theta)
    np.testing.assert_array_equal(a.get_params(), theta[:12])
    np.testing.assert_array_equal(b.get_params(), theta[12:])
    np.testing.assert_array_equal(block.get_params(), theta[:12])
    x = np.array([0.4, -0.2, 0.9])
    assert rel_error(net.forward(x), plain_seq(net.layers, theta, x, theta_layout(net.layers))) <= 1e-14
    got = net.get_params()
    got[:] = 0.0
    assert net.get_params()[0] == theta[0]  # a copy
    with pytest.raises(ValueError, match=r"\(20,\)"):
        net.set_params(np.zeros(12 + 12 + 8))


@SETTINGS
@given(networks(), st.integers(0, 2**32 - 1))
def test_set_params_reaches_every_use(case, seed: int) -> None:
    net, x, _ = case
    theta = np.random.default_rng(seed).normal(scale=0.5, size=net.n_params)
    net.set_params(theta)
    np.testing.assert_array_equal(net.get_params(), theta)
    where = theta_layout(net.layers)
    assert net.n_params == sum(d.n_params for d in dense_layers(net.layers)) == sum(s.stop - s.start for s in where.values())
    for d in dense_layers(net.layers):
        np.testing.assert_array_equal(d.get_params(), theta[where[id(d)]])
        np.testing.assert_array_equal(theta[net.layer_slice(d)], theta[where[id(d)]])
    assert rel_error(net.forward(x), plain_seq(net.layers, theta, x, where)) <= 1e-12


def test_a_whole_block_used_twice() -> None:
    block = jn.Residual([jn.Dense(3, 3, seed=0), jn.Tanh()])
    net = jn.Network([jn.Dense(2, 3, seed=1), block, jn.ReLU(), block, jn.Dense(3, 2, seed=2)], jn.MSE())
    assert net.names == ["Dense 1", "Residual 1", "ReLU 1", "Residual 1 (use 2)", "Dense 3"]
    assert net.n_params == 9 + 12 + 8
    x, y = np.array([0.5, -1.5]), np.array([0.2, 0.4])
    for mode in MODES:
        assert rel_error(net.gradient(x, y, mode=mode), ad_gradient(net, x, y)) <= GRAD_TOL
    inner = [p.name for p in net.all_positions if p.k == 2]
    assert inner == ["Residual 1 › Dense 2", "Residual 1 (use 2) › Dense 2"]
    for name in inner:
        chain = net.chain(x, y, layer=name)
        assert chain.n_paths == 2 + 1  # the first use lies below the second block (skip or inner); the second, 1
        np.testing.assert_allclose(chain.evaluate()[0], net.gradient(x, y)[9:21], rtol=1e-12, atol=1e-15)
    trace = net.trace(x, y)
    assert "∂L/∂θ(Dense 2) total" in trace.products_by_name
    assert trace.products_by_name["∂L/∂θ(Dense 2) total"].terms == [
        "use 1: ∂L/∂θ(Residual 1 › Dense 2)", "use 2: ∂L/∂θ(Residual 1 (use 2) › Dense 2)",
    ]


# --- training ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_training_a_small_residual_network_with_a_shared_layer_lowers_the_loss(mode: str) -> None:
    from jacobnet.course.data import one_hot, two_spirals

    X, labels = two_spirals(30, seed=0)
    Y = one_hot(labels, 2)
    d = jn.Dense(6, 6, seed=1)
    net = jn.Network([
        jn.Dense(2, 6, seed=0),
        jn.Residual([d, jn.Tanh()]),
        jn.Residual([d, jn.Tanh()]),
        jn.Concat([[jn.Dense(6, 2, seed=2)], [jn.Tanh()]]),
        jn.Dense(8, 2, seed=3),
    ], jn.SoftmaxCrossEntropy())
    before = net.get_params()
    history = jn.train(net, X, Y, steps=60, lr=0.1, batch_size=20, seed=0, mode=mode, progress=False)
    assert history.loss[-1] < 0.85 * history.loss[0]
    assert net.n_params == before.size == 18 + 42 + 14 + 18
    moved = net.get_params() - before
    assert np.all(np.abs(moved[18:60]) > 0)  # the shared layer learned (from both uses)
    np.testing.assert_array_equal(net.layers[1].layers[0].get_params(), net.layers[2].layers[0].get_params())
    assert history.loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-12)


@pytest.mark.parametrize("output", ["last", "all"])
@pytest.mark.parametrize("B", [None, 3])
def test_backpropagation_through_time_is_the_sum_over_untied_steps(output: str, B) -> None:
    """An unrolled RNN untied (every step its own two Dense copies): W_ih's and W_hh's gradients are the sums
    of the steps' gradients, and the RNN layer's own (in the unrolled order)."""
    rnn = jn.RNN(2, 3, steps=4, output=output, seed=0)
    m = rnn.out_size(rnn.n_in)
    net = jn.Network([rnn.unroll(), jn.Dense(m, 2, seed=1)], jn.MSE())
    free, copies = untied(net)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(B, 8) if B else 8), rng.normal(size=(B, 2) if B else 2)
    ih, hh = net.param_layers[:2]
    assert [len(copies[id(d)]) for d in (ih, hh)] == [4, 4] and free.n_params == 4 * rnn.n_params + 2 * m + 2
    g, g_free, where = net.gradient(x, y), free.gradient(x, y), theta_layout(free.layers)
    for d in (ih, hh):
        steps = [g_free[where[id(c)]] for c in copies[id(d)]]
        assert rel_error(g[net.layer_slice(d)], sum(steps)) <= TIE_TOL
    g_rnn = jn.Network([rnn, net.layers[1]], jn.MSE()).gradient(x, y)
    assert rel_error(g[: rnn.n_params], g_rnn[: rnn.n_params][rnn.unrolled_order()]) <= TIE_TOL


def test_an_rnn_object_at_two_positions() -> None:
    """The same RNN (3 → 3, every h) at the top and inside a residual block: its θ once, its gradient the copies' sum."""
    rnn = jn.RNN(1, 1, steps=3, output="all", seed=0)
    net = jn.Network([jn.Dense(2, 3, seed=1), rnn, jn.Residual([rnn, jn.Tanh()]), jn.Dense(3, 1, seed=2)], jn.MSE())
    assert [p.name for p in net.all_positions if p.layer is rnn] == ["RNN 1", "Residual 1 › RNN 1"]
    assert net.n_params == 9 + rnn.n_params + 4
    free, twins = untied(net)
    x, y = np.array([0.4, -0.9]), np.array([0.1])
    g, g_free, where = net.gradient(x, y), free.gradient(x, y), theta_layout(free.layers)
    assert len(twins[id(rnn)]) == 2
    assert rel_error(g[net.layer_slice(rnn)], sum(g_free[where[id(c)]] for c in twins[id(rnn)])) <= TIE_TOL
    assert rel_error(g, ad_gradient(net, x, y)) <= GRAD_TOL
    total = net.trace(x, y).products_by_name["∂L/∂θ(RNN 1) total"]
    assert total.terms == ["use 1: ∂L/∂θ(RNN 1)", "use 2: ∂L/∂θ(Residual 1 › RNN 1)"]
