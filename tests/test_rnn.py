"""jn.RNN: PyTorch's nn.RNN conventions, its Jacobians through time, and its unrolling into shared-weight blocks.

RNNs and unrolled RNNs inside random networks (against autograd, untied copies, paths) are drawn by
the strategies of ``test_blocks.py``; here, the layer itself: against a plain recurrence under autograd,
central differences and the complex step; ``unroll()`` on fixed and random sizes; the trace as
backpropagation through time; its closed forms; bad input.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn
from jacobnet.core.finite import jacobian_complex_step, jacobian_fd, rel_error
from jacobnet.symbolic import compare_closed_forms

AD_TOL = 1e-12
CASES = [  # input_size, hidden_size, steps, nonlinearity, output
    (3, 4, 5, "tanh", "last"),
    (2, 3, 4, "relu", "last"),
    (1, 5, 3, "tanh", "all"),
    (4, 2, 1, "relu", "all"),
]


def plain_rnn(theta, x, n_x, n_h, T, nonlinearity, output):
    """h_t = f(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), h_0 = 0, θ = [vec_r(W_ih), vec_r(W_hh), b_ih, b_hh] (torch's order)."""
    a, b = n_h * n_x, n_h * n_x + n_h * n_h
    W_ih, W_hh = anp.reshape(theta[:a], (n_h, n_x)), anp.reshape(theta[a:b], (n_h, n_h))
    b_ih, b_hh = theta[b : b + n_h], theta[b + n_h :]
    f = anp.tanh if nonlinearity == "tanh" else (lambda z: anp.maximum(z, 0.0))
    h, hs = anp.zeros(n_h), []
    for t in range(T):
        h = f(anp.dot(W_ih, x[t * n_x : (t + 1) * n_x]) + b_ih + anp.dot(W_hh, h) + b_hh)
        hs.append(h)
    return h if output == "last" else anp.concatenate(hs)


def make(case, seed=0):
    n_x, n_h, T, nl, out = case
    return jn.RNN(n_x, n_h, steps=T, nonlinearity=nl, output=out, seed=seed)


@pytest.mark.parametrize("case", CASES)
def test_forward_and_jacobians_match_a_plain_rnn_under_autograd(case) -> None:
    rnn, rng = make(case), np.random.default_rng(1)
    theta = rnn.get_params()

    def f(t, v):
        return plain_rnn(t, v, *case)

    for x in rng.normal(size=(3, rnn.n_in)):
        assert rel_error(rnn.forward(x), f(theta, x)) <= 1e-15
        assert rel_error(rnn.jacobian_input(x), autograd.jacobian(lambda v: f(theta, v))(x)) <= AD_TOL
        assert rel_error(rnn.jacobian_params(x), autograd.jacobian(lambda t, x=x: f(t, x))(theta)) <= AD_TOL


@pytest.mark.parametrize("case", CASES)
def test_jacobians_match_central_differences_and_the_complex_step(case) -> None:
    rnn, x = make(case, seed=2), np.random.default_rng(3).normal(size=case[0] * case[2])
    theta = rnn.get_params()

    def of_theta(t):
        rnn.set_params(t)
        try:
            return rnn.apply(x)
        finally:
            rnn.set_params(theta)

    assert rel_error(rnn.jacobian_input(x), jacobian_fd(rnn.forward, x)) <= 1e-7
    assert rel_error(rnn.jacobian_params(x), jacobian_fd(of_theta, theta)) <= 1e-7
    if case[3] == "tanh":  # analytic: the complex step is exact to rounding
        assert rel_error(rnn.jacobian_input(x), jacobian_complex_step(rnn.apply, x)) <= 1e-13


@pytest.mark.parametrize("case", CASES)
def test_the_structured_products_agree_with_the_dense_matrix_on_a_batch(case) -> None:
    rnn, rng = make(case), np.random.default_rng(4)
    X = rng.normal(size=(3, rnn.n_in))
    for wrt in ("input", "params"):
        op = rnn.jacobian_op(X, wrt)
        D = op.dense()
        G, H = rng.normal(size=(3, 2, op.shape[0])), rng.normal(size=(op.shape[1], 4))
        assert rel_error(op.vjp(G), G @ D) <= 1e-13
        assert rel_error(op.vjp_sum(G), (G @ D).sum(axis=0)) <= 1e-13
        assert rel_error(op.jvp(H), D @ H) <= 1e-13
        assert rel_error(op.batch_slice(1, 3).dense(), D[1:3]) == 0.0
        for b in range(3):
            assert rel_error(D[b], rnn.jacobian_op(X[b], wrt).dense()) <= 1e-15


@pytest.mark.parametrize("case", CASES)
def test_unroll_is_the_same_computation_with_two_shared_dense_layers(case) -> None:
    rnn, rng = make(case, seed=5), np.random.default_rng(6)
    unrolled = rnn.unroll()
    X = rng.normal(size=(4, rnn.n_in))
    assert rel_error(unrolled.forward(X), rnn.forward(X)) <= 1e-15
    assert rel_error(unrolled.jacobian_input(X), rnn.jacobian_input(X)) <= 1e-14
    perm = rnn.unrolled_order()
    assert rel_error(unrolled.get_params(), rnn.get_params()[perm]) == 0.0
    assert rel_error(unrolled.jacobian_params(X), rnn.jacobian_params(X)[..., perm]) <= 1e-14
    # and inside a network: the gradients agree entry for entry, in both modes
    m = rnn.out_size(rnn.n_in)
    head = jn.Dense(m, 2, seed=7)
    twin = jn.Dense(m, 2)
    twin.set_params(head.get_params())
    a, b = jn.Network([rnn, head], jn.SoftmaxCrossEntropy()), jn.Network([unrolled, twin], jn.SoftmaxCrossEntropy())
    Y = np.eye(2)[[0, 1, 1, 0]]
    g_rnn, n = a.gradient(X, Y), rnn.n_params
    for mode in ("structured", "materialised"):
        g = b.gradient(X, Y, mode=mode)
        assert rel_error(g[:n], g_rnn[:n][perm]) <= 1e-13 and rel_error(g[n:], g_rnn[n:]) <= 1e-13


def test_the_unrolled_trace_is_backpropagation_through_time() -> None:
    """W_hh's gradient is the sum over time of its uses' products, one per step."""
    T = 4
    rnn = jn.RNN(2, 3, steps=T, seed=0)
    net = jn.Network([rnn.unroll(), jn.Dense(3, 1, seed=1)], jn.MSE())
    x, y = np.linspace(-1, 1, 2 * T), np.array([0.3])
    trace = net.trace(x, y)
    totals = {p.name: p for p in trace.products if p.params}
    assert set(totals) == {"∂L/∂θ(Dense 1) total", "∂L/∂θ(Dense 2) total"}
    hh = totals["∂L/∂θ(Dense 2) total"]
    assert len(hh.terms) == T and all(f"step {t}" in term for t, term in zip(range(1, T + 1), hh.terms))
    uses = [trace.products_by_name[t].value for t in hh.terms]
    assert rel_error(hh.value, sum(uses)) == 0.0
    assert rel_error(trace.gradient, net.gradient(x, y)) <= 1e-15
    W_hh = slice(net.layer_slice(net.param_layers[1]).start, net.layer_slice(net.param_layers[1]).stop)
    assert rel_error(trace.gradient[W_hh], hh.value.ravel()) <= 1e-15
    # the latest step's use is formed first, the first step's last: the row travels back in time
    order = [p.name for p in trace.products if p.name in hh.terms]
    assert order == list(reversed(hh.terms))


@pytest.mark.parametrize("kwargs", [{}, {"output": "all"}, {"nonlinearity": "relu"}])
def test_the_closed_forms_are_proved_equal_to_sympys_derivative(kwargs) -> None:
    checks = compare_closed_forms(jn.RNN(1, 2, steps=2, seed=0, **kwargs))
    assert len(checks) == 2 and all(c.proved for c in checks)


def test_the_symbolic_gradient_of_a_network_with_an_rnn() -> None:
    net = jn.Network([jn.RNN(2, 2, steps=2, seed=0), jn.Dense(2, 1, seed=1)], jn.MSE())
    x, y = np.array([0.2, -0.4, 0.7, 0.1]), np.array([0.5])
    assert rel_error(net.gradient(x, y, method="symbolic"), net.gradient(x, y)) <= 1e-13


def test_bad_input_is_named() -> None:
    net = jn.Network([jn.RNN(3, 4, steps=5), jn.Dense(4, 1)], jn.MSE())
    with pytest.raises(ValueError, match=r"RNN 1: the input has 10 features, but steps=5 × input_size=3 = 15"):
        net.gradient(np.ones(10), np.ones(1))
    with pytest.raises(ValueError, match=r"RNN: the input has 7 features, but steps=2 × input_size=3 = 6"):
        jn.RNN(3, 4, steps=2).forward(np.ones(7))
    with pytest.raises(ValueError, match="RNN: nonlinearity must be one of tanh, relu, got 'gelu'"):
        jn.RNN(3, 4, steps=2, nonlinearity="gelu")
    with pytest.raises(ValueError, match="RNN: output must be one of last, all, got 'first'"):
        jn.RNN(3, 4, steps=2, output="first")
    with pytest.raises(ValueError, match="RNN: steps"):
        jn.RNN(3, 4, steps=0)


def test_repr_and_key() -> None:
    assert repr(jn.RNN(3, 4, steps=5)) == "RNN(3, 4, steps=5)"
    assert repr(jn.RNN(3, 4, steps=5, output="all")) == "RNN(3, 4, steps=5, output='all')"
    assert jn.RNN(3, 4, steps=5, seed=0).key() == jn.RNN(3, 4, steps=5, seed=1).key()
    assert jn.RNN(3, 4, steps=5).key() != jn.RNN(3, 4, steps=6).key()


@settings(FAST, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5), st.sampled_from(["tanh", "relu"]), st.sampled_from(["last", "all"]),
       st.sampled_from([None, 1, 3]), st.integers(0, 2**32 - 1))
def test_unroll_matches_the_rnn_on_random_sizes(n_x, n_h, T, nonlinearity, output, B, seed) -> None:
    """Output, J_x, J_θ and a network's gradient (both modes): the unrolled blocks against the RNN layer."""
    case = (n_x, n_h, T, nonlinearity, output)
    rnn, rng = make(case, seed=seed % 1000), np.random.default_rng(seed)
    unrolled, perm = rnn.unroll(), rnn.unrolled_order()
    X = rng.normal(size=(B, rnn.n_in) if B else rnn.n_in)
    assert rel_error(unrolled.forward(X), rnn.forward(X)) <= 1e-13  # (the biases added in another order, T times)
    assert rel_error(unrolled.jacobian_input(X), rnn.jacobian_input(X)) <= 1e-13
    assert rel_error(unrolled.jacobian_params(X), rnn.jacobian_params(X)[..., perm]) <= 1e-13
    m = rnn.out_size(rnn.n_in)
    head, twin = jn.Dense(m, 3, seed=seed % 997), jn.Dense(m, 3)
    twin.set_params(head.get_params())
    Y = rng.normal(size=(B, 3) if B else 3)
    g_rnn = jn.Network([rnn, head], jn.MSE()).gradient(X, Y)
    want = np.concatenate([g_rnn[: rnn.n_params][perm], g_rnn[rnn.n_params :]])
    theta = rnn.get_params()
    ad = autograd.grad(lambda t: anp.mean(anp.mean((anp.dot(plain_batch(t, X, *case), head.W.T) + head.b - Y) ** 2, axis=-1)))
    assert rel_error(g_rnn[: rnn.n_params], ad(theta)) <= 1e-10
    for mode in ("structured", "materialised"):
        assert rel_error(jn.Network([unrolled, twin], jn.MSE()).gradient(X, Y, mode=mode), want) <= 1e-13


def plain_batch(theta, X, n_x, n_h, T, nonlinearity, output):
    """:func:`plain_rnn` on one sample or on every row of a batch."""
    if X.ndim == 1:
        return plain_rnn(theta, X, n_x, n_h, T, nonlinearity, output)
    return anp.stack([plain_rnn(theta, x, n_x, n_h, T, nonlinearity, output) for x in X])


@pytest.mark.parametrize("case", CASES)
def test_the_parameter_jacobian_against_the_complex_step(case) -> None:
    """J_θ through the plain recurrence with a complex θ (tanh is analytic; relu is, away from its kink)."""
    rnn, x = make(case, seed=8), np.random.default_rng(9).normal(size=case[0] * case[2])
    assert rel_error(rnn.jacobian_params(x), jacobian_complex_step(lambda t: plain_rnn(t, x, *case), rnn.get_params())) <= 1e-13


def test_the_unrolled_trace_carries_dh_T_dh_t_as_the_product_of_the_steps_jacobians() -> None:
    """∂L/∂h_t in the unrolled trace is ∂L/∂h_T · J_T ⋯ J_{t+1}, J_s = ∂h_s/∂h_{s−1} = D_s W_hh (from autograd of one step)."""
    n_x, n_h, T = 2, 3, 4
    rnn = jn.RNN(n_x, n_h, steps=T, seed=3)
    net = jn.Network([rnn.unroll(), jn.Dense(n_h, 2, seed=4)], jn.MSE())
    x, y = np.random.default_rng(5).normal(size=n_x * T), np.array([0.3, -0.2])
    trace = net.trace(x, y)
    theta = rnn.get_params()
    hs = [np.zeros(n_h)] + [plain_rnn(theta, x[: s * n_x], n_x, n_h, s, "tanh", "last") for s in range(1, T + 1)]
    W_ih, W_hh, b = rnn.W_ih, rnn.W_hh, rnn.b_ih + rnn.b_hh

    def step(h, s):  # h_s as a function of h_{s−1}
        return anp.tanh(anp.dot(W_ih, x[(s - 1) * n_x : s * n_x]) + b + anp.dot(W_hh, h))

    row = trace.products_by_name["∂L/∂a1"].value  # ∂L/∂h_T (1, n_h)
    for t in range(T - 1, -1, -1):  # ∂L/∂h_t = ∂L/∂h_{t+1} · J_{t+1}
        row = row @ autograd.jacobian(step)(hs[t], t + 1)
        assert rel_error(trace.products_by_name[f"∂L/∂a1.{t + 1}"].value[:, :n_h], row) <= 1e-13, t
