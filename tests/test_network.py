"""``Network``: the gradient as an explicit Jacobian product, against autograd.

Random architectures (1–5 Dense layers, widths 1–12, every activation between
them, every loss incl. cross-entropy after Softmax; single samples and
batches): ``Network.gradient`` agrees with ``autograd.grad`` of the independent
reference to ``rel_error ≤ 1e-10`` (whenever the output softmax is not
saturated to within 1e-3: see :func:`unsaturated`); the materialised and structured modes
agree to ``≤ 1e-12``; the trace names every factor and partial product with
the right shapes, and its partial products ``∂L/∂a_l`` are autograd's
gradients with respect to the activations.
"""

from __future__ import annotations

import autograd
import numpy as np
import pytest
import reference as ref
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import ACTIVATIONS, FAST, alphas, make_layer, targets

import jacobnet as jn
from jacobnet.check import fd_gradient, rel_error

GRAD_TOL = 1e-10
MODE_TOL = 1e-12
LOSSES = {"mse": jn.MSE, "ce": jn.CrossEntropy, "softmax-ce": jn.SoftmaxCrossEntropy}


@st.composite
def networks(draw: st.DrawFn, batch: bool | None = None):
    """``(net, x, y)``: a random architecture with random parameters and data.

    Dense layers with an activation drawn for each gap (sometimes one before
    the first Dense, sometimes one after the last for MSE), a final Softmax
    for cross-entropy on probabilities; at least 2 outputs for the softmax losses.
    """
    depth = draw(st.integers(1, 5))
    loss = draw(st.sampled_from(list(LOSSES)))
    sizes = draw(st.lists(st.integers(1, 12), min_size=depth, max_size=depth))
    sizes.append(draw(st.integers(1 if loss == "mse" else 2, 12)))  # a softmax over one class is refused

    def activation() -> jn.Layer:
        return make_layer(draw(st.sampled_from(ACTIVATIONS)), 0, 0, draw(alphas))

    layers: list[jn.Layer] = [activation()] if draw(st.booleans()) else []
    for k in range(depth):
        if k:
            layers.append(activation())
        layers.append(jn.Dense(sizes[k], sizes[k + 1]))
    if loss == "mse" and draw(st.booleans()):
        layers.append(activation())
    if loss == "ce":
        layers.append(jn.Softmax())
    net = jn.Network(layers, LOSSES[loss]())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    net.set_params(rng.normal(size=net.n_params))
    batch = draw(st.booleans()) if batch is None else batch
    x = rng.normal(scale=1.5, size=(draw(st.integers(1, 4)), sizes[0]) if batch else sizes[0])
    y = targets(loss, net.forward(x), rng, one_hot=draw(st.booleans()))
    return net, x, y


SATURATION = 1e-3


def unsaturated(net: jn.Network, x: np.ndarray) -> bool:
    """No output probability within 1e-3 of 1 (losses on a softmax only).

    The autograd reference computes s_k − 1 and s_k(1 − s_k) naively: for a
    saturated softmax, s_k = 1 − c with c ≪ 1, those cancel to a relative error
    ≈ ε/c in the *reference*. jacobnet itself does not cancel (it computes
    1 − s_k as Σ_{j≠k} s_j); that regime is checked against a 400-digit
    mpmath reference in test_saturation.py instead of against autograd.
    """
    if isinstance(net.loss_fn, jn.MSE):
        return True
    out = net.forward(x)
    probs = out if isinstance(net.loss_fn, jn.CrossEntropy) else jn.Softmax().forward(out)
    return bool(np.max(probs) <= 1.0 - SATURATION)


def ad_gradient(net: jn.Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return autograd.grad(ref.network_loss(net))(net.get_params(), x, y)


@FAST
@given(networks())
def test_gradient_matches_autograd_in_both_modes(case) -> None:
    net, x, y = case
    assume(unsaturated(net, x))
    g = net.gradient(x, y)
    g_mat = net.gradient(x, y, mode="materialised")
    assert g.shape == g_mat.shape == (net.n_params,)
    assert rel_error(g, ad_gradient(net, x, y)) <= GRAD_TOL
    assert rel_error(g_mat, g) <= MODE_TOL
    assert net.loss(x, y) == pytest.approx(float(ref.network_loss(net)(net.get_params(), x, y)), rel=1e-12)


def expected_products(net: jn.Network, n_in: int) -> list[tuple[str, str, str, tuple, tuple]]:
    """``(product, left, factor, factor shape, product shape)`` of the backward pass, worked out
    from the layer sizes alone: J_loss, then per layer from the last: J_θ (if any), J_x."""
    n = [n_in]
    for layer in net.layers:
        n.append(layer.out_size(n[-1]))
    L = len(net.layers)
    rows = [(f"∂L/∂a{L}", "", "J_loss", (1, n[L]), (1, n[L]))]
    for l in range(L, 0, -1):
        name, layer = net.names[l - 1], net.layers[l - 1]
        if layer.n_params:
            rows.append((f"∂L/∂θ({name})", f"∂L/∂a{l}", f"J_θ({name})", (n[l], layer.n_params), (1, layer.n_params)))
        rows.append((f"∂L/∂a{l - 1}", f"∂L/∂a{l}", f"J_x({name})", (n[l], n[l - 1]), (1, n[l - 1])))
    return rows


@FAST
@given(networks(), st.sampled_from(["materialised", "structured"]))
def test_trace_names_shapes_and_partial_products(case, mode: str) -> None:
    net, x, y = case
    assume(unsaturated(net, x))
    trace = net.trace(x, y, mode=mode)
    B = x.shape[0] if x.ndim == 2 else None
    got = [(p.name, p.left, p.factor.name, p.factor.shape, p.shape) for p in trace.products]
    assert got == expected_products(net, x.shape[-1])
    assert [f.name for f in trace.factors] == [row[2] for row in got]
    assert trace.batch == B and trace.mode == mode
    assert rel_error(trace.gradient, net.gradient(x, y)) <= MODE_TOL
    assert trace.loss == pytest.approx(net.loss(x, y), rel=1e-15)
    # every ∂L/∂a_l (per sample) is autograd's gradient of the loss from a_l on, w.r.t. a_l
    acts = net.activations(x)
    for l in range(len(net.layers) + 1):
        p = trace.products_by_name[f"∂L/∂a{l}"]
        value = p.value  # (1, n) or (B, 1, n); the batch MEAN's gradient is that / B
        want = autograd.grad(ref.network_tail(net, l))(acts[l], y)
        assert value.shape == ((B,) if B else ()) + (1, acts[l].shape[-1])
        assert rel_error(value[..., 0, :] / (B or 1), want) <= GRAD_TOL, p.name
    # every ∂L/∂θ: its per-sample values average to that layer's block of the gradient
    for p, s in zip(trace._param_products(), [s for s, lay in zip(net.param_slices(), net.layers) if lay.n_params]):
        assert rel_error(p.value.reshape(-1, p.shape[1]).mean(axis=0), trace.gradient[s]) <= MODE_TOL
    # the printed table shows all of it
    text = str(trace)
    for name, _left, factor, fshape, pshape in got:
        for piece in (name, factor, str(fshape), str(pshape)):
            assert piece in text, piece
    for f in trace.factors:
        assert f.kind in text


def test_trace_of_the_readme_network() -> None:
    """3 → 4 → 2 with tanh and softmax-CE: the exact list of factors, in order."""
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    trace = net.trace(np.array([1.0, -0.5, 2.0]), np.array([0.0, 1.0]))
    assert [(f.name, f.shape, f.kind) for f in trace.factors] == [
        ("J_loss", (1, 2), "dense"),
        ("J_θ(Dense 2)", (2, 10), "[I ⊗ xᵀ | I]"),
        ("J_x(Dense 2)", (2, 4), "dense"),
        ("J_x(Tanh 1)", (4, 4), "diagonal"),
        ("J_θ(Dense 1)", (4, 16), "[I ⊗ xᵀ | I]"),
        ("J_x(Dense 1)", (4, 3), "dense"),
    ]
    assert [p.name for p in trace.products] == ["∂L/∂a3", "∂L/∂θ(Dense 2)", "∂L/∂a2", "∂L/∂a1", "∂L/∂θ(Dense 1)", "∂L/∂a0"]
    assert "gradient: (26,)" in str(trace)


@FAST
@given(networks(batch=False))
def test_gradient_matches_central_differences(case) -> None:
    """A third opinion, independent of both autodiff codes, where FD can resolve the gradient.

    FD's round-off is ≈ ε·|L|/h ≈ 2e-11·|L|; a gradient below 1e-3·|L| (a saturated
    network) is left to the autograd check above, which has no such floor.
    """
    net, x, y = case
    g = net.gradient(x, y)
    assume(np.max(np.abs(g)) >= 1e-3 * max(1.0, abs(net.loss(x, y))))
    assert rel_error(g, fd_gradient(net, x, y)) <= 1e-6


# --- parameters, names, sizes -------------------------------------------------
def test_params_round_trip_in_layer_order() -> None:
    layers = [jn.Dense(3, 4, seed=0), jn.ReLU(), jn.Dense(4, 2, seed=1), jn.Softmax()]
    net = jn.Network(layers, jn.CrossEntropy())
    assert net.n_params == (3 * 4 + 4) + (4 * 2 + 2) == 26
    theta = np.arange(26.0) / 10
    net.set_params(theta)
    np.testing.assert_array_equal(net.get_params(), theta)
    np.testing.assert_array_equal(layers[0].W.ravel(), theta[:12])
    np.testing.assert_array_equal(layers[0].b, theta[12:16])
    np.testing.assert_array_equal(layers[2].W.ravel(), theta[16:24])
    np.testing.assert_array_equal(layers[2].b, theta[24:])
    got = net.get_params()
    got[:] = -1.0
    assert net.get_params()[0] == 0.0  # a copy
    assert [s.stop - s.start for s in net.param_slices()] == [16, 0, 10, 0]


def test_names_labels_and_sizes() -> None:
    net = jn.Network(
        [jn.Dense(3, 5), jn.Tanh(), jn.Dense(5, 4), jn.Tanh(), jn.LeakyReLU(0.2), jn.Dense(4, 2)], jn.MSE()
    )
    assert net.names == ["Dense 1", "Tanh 1", "Dense 2", "Tanh 2", "LeakyReLU 1", "Dense 3"]
    assert net.input_size == 3 and net.sizes == [5, 5, 4, 4, 4, 2]
    labels = net.param_labels()
    assert len(labels) == net.n_params == 20 + 24 + 10
    assert labels[0] == "W^{(1)}_{1,1}" and labels[5] == "W^{(1)}_{2,3}" and labels[15] == "b^{(1)}_{1}"
    assert labels[20] == "W^{(2)}_{1,1}" and labels[-1] == "b^{(3)}_{2}"
    assert net.forward(np.ones(3)).shape == (2,) and net.forward(np.ones((4, 3))).shape == (4, 2)


def test_a_transposed_layer_jacobian_fails_the_gradient_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1e-10 check can fail: feed the chain Wᵀ instead of W in a square network."""
    from jacobnet.core.operators import Matrix

    net = jn.Network([jn.Dense(3, 3, seed=0), jn.Tanh(), jn.Dense(3, 3, seed=1)], jn.SoftmaxCrossEntropy())
    x, y = np.array([0.5, -1.0, 2.0]), np.array([0.0, 0.0, 1.0])
    want = ad_gradient(net, x, y)
    assert rel_error(net.gradient(x, y), want) <= GRAD_TOL
    monkeypatch.setattr(jn.Dense, "jacobian_input_op", lambda self, a: Matrix(self.W.T))
    for mode in ("structured", "materialised"):
        assert rel_error(net.gradient(x, y, mode=mode), want) > 1e-3


# --- one numbering, factor labels ------------------------------------------------
class MyDense(jn.Dense):
    """A subclass: named "MyDense 1" per type, yet the first layer with parameters: W^{(1)}."""


def test_factor_labels_are_the_network_numbering() -> None:
    """J_θ columns are exactly the layer's slice of net.param_labels(), whatever the layer's type name."""
    net = jn.Network([MyDense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.MSE())
    assert net.names == ["MyDense 1", "Tanh 1", "Dense 1"]
    assert [net.param_layer_index(i) for i in range(3)] == [1, None, 2]
    trace = net.trace(np.array([0.5, -1.0, 2.0]), np.array([0.1, 0.2]))
    labels = net.param_labels()
    for i, s in enumerate(net.param_slices()):
        if s.stop > s.start:
            f = trace.factor(f"J_θ({net.names[i]})")
            assert f.col_labels == labels[s] and f.wrt_params and f.layer == i + 1
    assert trace.factor("J_θ(Dense 1)").col_labels[:2] == ["W^{(2)}_{1,1}", "W^{(2)}_{1,2}"]  # not W^{(1)}
    assert trace.factor("J_θ(MyDense 1)").col_labels[-1] == "b^{(1)}_{4}"


def test_factor_rows_and_columns_name_outputs_and_inputs() -> None:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    trace = net.trace(np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
    want = {  # (rows, cols), written out: a1 = Dense 1's output, a2 = Tanh 1's, a3 = the logits z
        "J_loss": (["L"], ["z_{1}", "z_{2}"]),
        "J_x(Dense 2)": (["a^{(3)}_{1}", "a^{(3)}_{2}"], ["a^{(2)}_{1}", "a^{(2)}_{2}", "a^{(2)}_{3}", "a^{(2)}_{4}"]),
        "J_x(Tanh 1)": ([f"a^{{(2)}}_{{{i}}}" for i in range(1, 5)], [f"a^{{(1)}}_{{{i}}}" for i in range(1, 5)]),
        "J_x(Dense 1)": ([f"a^{{(1)}}_{{{i}}}" for i in range(1, 5)], ["x_{1}", "x_{2}", "x_{3}"]),
        "J_θ(Dense 2)": (["a^{(3)}_{1}", "a^{(3)}_{2}"], None),
    }
    for name, (rows, cols) in want.items():
        f = trace.factor(name)
        assert list(f.row_labels) == rows and (cols is None or list(f.col_labels) == cols), name
        assert (len(f.row_labels), len(f.col_labels)) == f.shape
    mse = jn.Network([jn.Dense(3, 2, seed=0)], jn.MSE()).trace(np.ones(3), np.zeros(2))
    assert mse.factor("J_loss").col_labels == ["ŷ_{1}", "ŷ_{2}"]


def test_trace_factor_lookup_and_repr() -> None:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    trace = net.trace(np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))
    with pytest.raises(KeyError, match=r"no factor named 'J_x\(Dense 3\)' in this trace; the factors are: J_loss, J_θ\(Dense 2\)"):
        trace.factor("J_x(Dense 3)")
    assert str(trace).startswith("Backward pass of Network(") and "a3 = output of Dense 2 = z, the logits" in str(trace)
    assert repr(trace).startswith("<Trace of Network(") and "print(trace) for the table" in repr(trace) and "\n" not in repr(trace)


def test_layer_index_accepts_names_and_indices() -> None:
    net = jn.Network([jn.Dense(3, 4), jn.Tanh(), jn.Dense(4, 2)], jn.MSE())
    assert [net.layer_index(k) for k in ("Dense 1", "Tanh 1", "Dense 2", 0, -1, np.int64(1))] == [0, 1, 2, 0, 2, 1]
    for bad in ("Dense 3", "dense 1", 3, -4, 1.0, None):
        with pytest.raises(ValueError, match="no layer named|0-based index into the 3 layers"):
            net.layer_index(bad)
