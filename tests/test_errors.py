"""Every error case of the numeric core, with its message.

Each message must name who complained (the layer, the loss, the network), what
it expected and what it got, so that a student can fix the call from the
message alone.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.net.spec import build_network, parse_sizes


def net_3_4_2() -> jn.Network:
    return jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())


# --- sizes that do not chain ------------------------------------------------------
@pytest.mark.parametrize("middle", [[], [jn.Tanh()], [jn.ReLU(), jn.Softmax()]])
def test_sizes_that_do_not_chain_name_both_layers_and_sizes(middle: list[jn.Layer]) -> None:
    with pytest.raises(ValueError) as err:
        jn.Network([jn.Dense(3, 4), *middle, jn.Dense(5, 2)], jn.MSE())
    msg = str(err.value)
    assert re.search(r"Dense 1 \(Dense\(3, 4\)\) outputs 4 features", msg), msg
    assert re.search(r"Dense 2 \(Dense\(5, 2\)\) expects 5 inputs", msg), msg


def test_an_empty_network_and_wrong_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        jn.Network([], jn.MSE())
    with pytest.raises(TypeError, match="Network: layer 1 must be a jacobnet Layer, got a ufunc"):
        jn.Network([jn.Dense(2, 2), np.tanh], jn.MSE())
    with pytest.raises(TypeError, match="loss must be a jacobnet Loss, got a str"):
        jn.Network([jn.Dense(2, 2)], "mse")


def test_a_layer_instead_of_a_list_and_classes_instead_of_instances_are_named() -> None:
    with pytest.raises(TypeError, match="layers must be a list of Layer objects, got a Dense"):
        jn.Network(jn.Dense(3, 4), jn.MSE())
    with pytest.raises(TypeError, match=re.escape("pass an instance: MSE()")):
        jn.Network([jn.Dense(3, 4)], jn.MSE)
    with pytest.raises(TypeError, match=re.escape("layer 1 must be a jacobnet Layer, got the class Tanh (pass an instance: Tanh())")):
        jn.Network([jn.Dense(3, 4), jn.Tanh], jn.MSE())


def test_the_same_layer_twice_is_one_layer_with_two_uses() -> None:
    """Weight tying: the object's parameters appear once; its second position gets its own name."""
    d = jn.Dense(3, 3, seed=0)
    net = jn.Network([d, jn.Tanh(), d], jn.MSE())
    assert net.n_params == d.n_params and net.names == ["Dense 1", "Tanh 1", "Dense 1 (use 2)"]


def test_softmax_twice_and_a_softmax_over_one_class_are_refused() -> None:
    with pytest.raises(ValueError, match="Softmax 1 followed by SoftmaxCrossEntropy applies softmax twice"):
        jn.Network([jn.Dense(3, 2), jn.Softmax()], jn.SoftmaxCrossEntropy())
    for layers, loss in (([jn.Dense(3, 1)], jn.SoftmaxCrossEntropy()), ([jn.Dense(3, 1), jn.Softmax()], jn.CrossEntropy())):
        with pytest.raises(ValueError, match="softmax over one class"):
            jn.Network(layers, loss)
    jn.Network([jn.Dense(3, 1), jn.Sigmoid()], jn.CrossEntropy())  # one probability, no softmax: allowed


# --- inputs: shape, NaN/inf, dtype ----------------------------------------------------
WRONG_SHAPES = [(np.zeros(4), "(4,)"), (np.zeros((2, 5)), "(2, 5)"), (np.zeros((2, 3, 1)), "(2, 3, 1)"), (np.float64(1.0), "()")]


@pytest.mark.parametrize("x, shape", WRONG_SHAPES, ids=[s for _, s in WRONG_SHAPES])
def test_wrong_input_shape_names_the_layer_and_both_shapes(x, shape: str) -> None:
    dense = jn.Dense(3, 2)
    for method in (dense.forward, dense.jacobian_input, dense.jacobian_params):
        with pytest.raises(ValueError, match=re.escape(f"Dense(3→2) expects input of shape (3,) or (B, 3), got shape {shape}")):
            method(x)
    net = net_3_4_2()
    for call in (lambda: net.forward(x), lambda: net.loss(x, [0.0, 1.0]), lambda: net.gradient(x, [0.0, 1.0]),
                 lambda: net.trace(x, [0.0, 1.0]), lambda: net.gradient(x, [0.0, 1.0], mode="materialised")):
        with pytest.raises(ValueError, match=re.escape(f"Dense 1 expects input of shape (3,) or (B, 3), got shape {shape}")):
            call()


def test_a_network_starting_with_an_activation_names_its_first_dense_layer() -> None:
    net = jn.Network([jn.Tanh(), jn.Dense(3, 2)], jn.MSE())
    with pytest.raises(ValueError, match=re.escape("Dense 1 expects input of shape (3,) or (B, 3), got shape (2,)")):
        net.forward(np.zeros(2))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_the_layer_the_value_and_the_shapes(bad: float) -> None:
    x = np.array([[0.0, 1.0, 2.0], [3.0, bad, 5.0]])
    expected = f"got a non-finite input value {bad} at index (1, 1) (expects finite values, shape (3,) or (B, 3); got shape (2, 3))"
    with pytest.raises(ValueError, match=re.escape("Dense(3→2) " + expected)):
        jn.Dense(3, 2).jacobian_input(x)
    with pytest.raises(ValueError, match=re.escape("Dense 1 " + expected)):
        net_3_4_2().gradient(x, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=re.escape("Tanh got a non-finite input value")):
        jn.Tanh().forward(x)


BAD_DTYPES = [
    (np.array(["1", "2", "3"]), "<U1"),
    (["a", "b", "c"], "<U1"),
    (np.array([1.0, 2.0, 3.0], dtype=object), "object"),
    (np.array([True, False, True]), "bool"),
    (np.array([1 + 0j, 2.0, 3.0]), "complex128"),
]


@pytest.mark.parametrize("x, dtype", BAD_DTYPES, ids=[d for _, d in BAD_DTYPES])
def test_non_numeric_dtypes_name_the_layer_the_dtype_and_the_shapes(x, dtype: str) -> None:
    msg = f"expects a real-valued numeric input of shape (3,) or (B, 3), got dtype {dtype} with shape (3,)"
    with pytest.raises(TypeError, match=re.escape("Dense(3→2) " + msg)):
        jn.Dense(3, 2).forward(x)
    with pytest.raises(TypeError, match=re.escape("Dense 1 " + msg)):
        net_3_4_2().gradient(x, [0.0, 1.0])
    with pytest.raises(TypeError, match=re.escape(f"Softmax expects a real-valued numeric input of shape (n,) or (B, n), got dtype {dtype}")):
        jn.Softmax().jacobian_input(x)


def test_ragged_and_empty_inputs() -> None:
    with pytest.raises(ValueError, match=re.escape("Dense(3→2) expects input of shape (3,) or (B, 3), got a ragged sequence")):
        jn.Dense(3, 2).forward([[1.0, 2.0, 3.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match=re.escape("Tanh expects a non-empty input of shape (n,) or (B, n), got shape (2, 0)")):
        jn.Tanh().forward(np.zeros((2, 0)))
    with pytest.raises(ValueError, match=re.escape("Dense(3→2) expects a non-empty input of shape (3,) or (B, 3), got shape (0, 3)")):
        jn.Dense(3, 2).forward(np.zeros((0, 3)))


def test_integer_and_float32_inputs_are_upcast_not_refused() -> None:
    dense = jn.Dense(3, 2, seed=0)
    want = dense.forward(np.array([1.0, 2.0, 3.0]))
    for x in ([1, 2, 3], np.array([1, 2, 3], dtype=np.uint8), np.array([1, 2, 3], dtype=np.float32)):
        out = dense.forward(x)
        assert out.dtype == np.float64 and np.array_equal(out, want)


# --- losses -----------------------------------------------------------------------
@pytest.mark.parametrize("loss", [jn.MSE(), jn.CrossEntropy(), jn.SoftmaxCrossEntropy()], ids=repr)
def test_loss_target_shape_mismatch(loss: jn.Loss) -> None:
    name = type(loss).__name__
    yhat = np.array([0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=re.escape(f"{name} expects target of shape (3,) or (B, 3), got shape (2,)")):
        loss.forward(yhat, np.zeros(2))
    with pytest.raises(ValueError, match=re.escape(f"{name} expects a target of the prediction's shape (2, 3), got shape (3, 3)")):
        loss.jacobian(np.tile(yhat, (2, 1)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=re.escape(f"{name} expects a target of the prediction's shape (2, 3), got shape (3,)")):
        loss.forward(np.tile(yhat, (2, 1)), np.zeros(3))
    with pytest.raises(ValueError, match=re.escape(f"{name} got a non-finite target value nan")):
        loss.forward(yhat, np.array([0.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match=re.escape(f"{name} expects a real-valued numeric prediction")):
        loss.forward(np.array(["a", "b", "c"]), yhat)


def test_network_loss_with_a_wrong_target_names_the_loss() -> None:
    net = net_3_4_2()
    with pytest.raises(ValueError, match=re.escape("SoftmaxCrossEntropy expects target of shape (2,) or (B, 2), got shape (3,)")):
        net.gradient(np.ones(3), np.array([0.0, 1.0, 0.0]))


def test_cross_entropy_refuses_impossible_probabilities() -> None:
    with pytest.raises(ValueError, match=r"CrossEntropy expects probabilities 0 ≤ ŷ ≤ 1.* use SoftmaxCrossEntropy on logits"):
        jn.CrossEntropy().forward(np.array([0.0, 1.0]), np.array([1.0, 0.0]))  # log 0 on a positive target
    with pytest.raises(ValueError, match=r"got ŷ = -0\.5 at index \(0,\)"):
        jn.CrossEntropy().jacobian(np.array([-0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"got ŷ = 2 at index \(0,\); end the network with Softmax"):
        jn.CrossEntropy().forward(np.array([2.0, 3.0]), np.array([1.0, 0.0]))  # was a negative "loss", −0.693
    with pytest.raises(ValueError, match=r"got ŷ = 1\.5 at index \(1, 1\)"):
        jn.CrossEntropy().per_sample(np.array([[0.5, 0.5], [0.2, 1.5]]), np.eye(2))
    # the boundary is in the domain: ŷ = 1 and ŷ = 0 where the target is 0
    assert jn.CrossEntropy().forward(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0


# --- parameters ----------------------------------------------------------------------
def test_set_params_of_the_wrong_length_or_kind() -> None:
    with pytest.raises(ValueError, match=re.escape("Dense(3→2) expects parameters of shape (8,), got shape (7,)")):
        jn.Dense(3, 2).set_params(np.zeros(7))
    with pytest.raises(ValueError, match=re.escape("Dense(3→2) expects parameters of shape (8,), got shape (2, 4)")):
        jn.Dense(3, 2).set_params(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=re.escape("Tanh expects parameters of shape (0,), got shape (1,)")):
        jn.Tanh().set_params([1.0])
    with pytest.raises(ValueError, match=re.escape("Network expects parameters of shape (26,), got shape (25,)")):
        net_3_4_2().set_params(np.zeros(25))
    with pytest.raises(ValueError, match=re.escape("Network got a non-finite parameter inf at index 3 of 26")):
        net_3_4_2().set_params(np.where(np.arange(26) == 3, np.inf, 0.0))
    with pytest.raises(TypeError, match=re.escape("Dense(3→2) expects real-valued parameters of shape (8,), got dtype <U1")):
        jn.Dense(3, 2).set_params(list("abcdefgh"))


def test_a_refused_set_params_changes_nothing() -> None:
    net = net_3_4_2()
    before = net.get_params()
    with pytest.raises(ValueError):
        net.set_params(np.concatenate([np.ones(25), [np.nan]]))
    np.testing.assert_array_equal(net.get_params(), before)


# --- constructors and the spec parser -----------------------------------------------------
@pytest.mark.parametrize("args, bad", [((0, 3), "n_in must be a positive integer, got 0"),
                                       ((3, -1), "n_out must be a positive integer, got -1"),
                                       ((2.5, 3), "n_in must be a positive integer, got 2.5"),
                                       ((True, 3), "n_in must be a positive integer, got True")])
def test_non_positive_or_non_integer_dense_sizes(args, bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"Dense: {bad}")):
        jn.Dense(*args)


@pytest.mark.parametrize("make, kind, bad", [
    (lambda: jn.Tanh(foo=1), TypeError, "Tanh: unknown parameter 'foo'; Tanh accepts no parameters"),
    (lambda: jn.ReLU(alpha=0.3), TypeError, "ReLU: unknown parameter 'alpha'; ReLU accepts no parameters"),
    (lambda: jn.Sigmoid(beta=2, alpha=1), TypeError, "Sigmoid: unknown parameter 'alpha', 'beta'"),
    (lambda: jn.LeakyReLU(alpha="x"), TypeError, "LeakyReLU: alpha must be a real number, got 'x'"),
    (lambda: jn.LeakyReLU(alpha=True), TypeError, "LeakyReLU: alpha must be a real number, got True"),
    (lambda: jn.LeakyReLU(alpha=np.nan), ValueError, "LeakyReLU: alpha must be finite, got nan"),
    (lambda: jn.Dense(3, 3, seed="a"), ValueError, "Dense: seed must be None or a non-negative integer, got 'a'"),
    (lambda: jn.Dense(3, 3, seed=-1), ValueError, "Dense: seed must be None or a non-negative integer, got -1"),
])
def test_layer_options_are_checked_at_construction(make, kind, bad: str) -> None:
    """Not at the first forward pass, with NumPy's words and no layer name."""
    with pytest.raises(kind, match=re.escape(bad)):
        make()


def test_leaky_relu_takes_its_alpha() -> None:
    assert jn.LeakyReLU(alpha=np.float32(0.5)).forward(np.array([-2.0])).tolist() == [-1.0]
    assert jn.LeakyReLU(1).rule_params == {"alpha": 1.0}


@pytest.mark.parametrize("attr, value, bad", [
    ("W", np.zeros((2, 3)), "Dense(2→3): W must be a real array of shape (3, 2), got float64 (2, 3)"),  # Wᵀ
    ("W", np.zeros(6), "W must be a real array of shape (3, 2), got float64 (6,)"),
    ("b", np.zeros(2), "Dense(2→3): b must be a real array of shape (3,), got float64 (2,)"),
    ("b", np.array(["a", "b", "c"]), "b must be a real array of shape (3,), got <U1 (3,)"),
    ("W", np.full((3, 2), np.nan), "Dense(2→3) got a non-finite W value nan at index (0, 0)"),
])
def test_assigning_weights_is_checked_and_names_the_layer(attr: str, value, bad: str) -> None:
    d = jn.Dense(2, 3, seed=0)
    before = d.get_params()
    with pytest.raises(ValueError, match=re.escape(bad)):
        setattr(d, attr, value)
    np.testing.assert_array_equal(d.get_params(), before)  # nothing changed


def test_assigned_weights_are_copied_as_float64() -> None:
    d = jn.Dense(2, 3, seed=0)
    W = np.arange(6).reshape(3, 2)  # integers
    d.W = W
    W[0, 0] = 99
    assert d.W.dtype == np.float64 and d.W[0, 0] == 0.0
    np.testing.assert_array_equal(d.forward(np.array([1.0, 1.0])), [1.0, 5.0, 9.0])


def test_spec_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown activation 'swish'; choose one of sigmoid, tanh, relu, leaky-relu, softplus")):
        build_network("3,4,2", activation="swish")
    with pytest.raises(ValueError, match=re.escape("unknown loss 'hinge'; choose one of mse, ce, softmax-ce")):
        build_network("3,4,2", loss="hinge")
    with pytest.raises(ValueError, match=re.escape("--layers sizes must be between 1 and")):
        build_network("3,0,2")
    with pytest.raises(ValueError, match=re.escape("each layer size must be a positive integer, got 0")):
        build_network([3, 0, 2])
    for sizes in ([3, 2.5], [3, "4"], [True, 2]):
        with pytest.raises(ValueError, match=re.escape(f"each layer size must be a positive integer, got {sizes[1] if sizes[0] is not True else True!r}")):
            build_network(sizes)
    with pytest.raises(ValueError, match=re.escape("a network needs two or more layer sizes (input, …, output), got [3]")):
        build_network([3])
    with pytest.raises(ValueError, match=re.escape("a softmax over 1 class is constant")):
        build_network("3,1", loss="softmax-ce")
    with pytest.raises(ValueError, match=re.escape("--seed must be a non-negative integer, got -1")):
        build_network("3,2", seed=-1)
    for text in ("3,-4,2", "3,4,", "3;4", "__import__('os')", "1e3,2"):
        with pytest.raises(ValueError, match=re.escape("--layers expects comma-separated positive integers such as 3,4,2")):
            parse_sizes(text)
    with pytest.raises(ValueError, match=re.escape("--layers expects at least two sizes, input and output, such as 3,4,2")):
        parse_sizes("3")  # (one size is a well-formed list: what is wrong is that it is one)


def test_other_named_choices() -> None:
    with pytest.raises(ValueError, match="LeakyReLU: alpha must be finite, got nan"):
        jn.LeakyReLU(alpha=float("nan"))
    net = net_3_4_2()
    with pytest.raises(ValueError, match="unknown gradient method 'autodiff'; choose one of jacobian, symbolic, finite-difference"):
        net.gradient(np.ones(3), np.array([0.0, 1.0]), method="autodiff")
    with pytest.raises(ValueError, match="unknown mode 'dense'; choose one of materialised, structured"):
        net.gradient(np.ones(3), np.array([0.0, 1.0]), mode="dense")


def test_dense_too_big_for_the_memory_budget_is_refused_before_allocating() -> None:
    import tracemalloc

    from jacobnet.core.memory import JacobianMemoryError

    tracemalloc.start()
    try:
        with pytest.raises(JacobianMemoryError, match=r"Dense\(100000, 100000\) would take 74.5 GiB"):
            jn.Dense(100_000, 100_000)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20  # peak: nothing big was allocated
    finally:
        tracemalloc.stop()


# --- the network's own output: validated once, still checked ------------------------------
@pytest.mark.parametrize("mode", ["structured", "materialised"])
def test_an_overflowing_forward_pass_is_named_not_passed_on_as_nan(mode: str) -> None:
    dense = jn.Dense(2, 2, seed=0)
    dense.W = np.full((2, 2), 1e308)  # finite weights, finite input: W x = 2e309 overflows
    net = jn.Network([dense], jn.SoftmaxCrossEntropy())
    expected = "SoftmaxCrossEntropy got a non-finite prediction value inf at index (0, 0)"
    with np.errstate(over="ignore"), pytest.raises(ValueError, match=re.escape(expected)):
        net.gradient(np.full((3, 2), 10.0), np.eye(2)[[0, 1, 0]], mode=mode)


def test_a_network_output_outside_the_loss_domain_is_refused() -> None:
    net = jn.Network([jn.Dense(2, 2, seed=0), jn.Tanh()], jn.CrossEntropy())  # tanh < 0 is no probability
    x = np.array([[1.0, -2.0], [-3.0, 1.0]])
    assert np.any(net.forward(x) < 0)
    for call in (net.gradient, net.chain, net.trace):
        with pytest.raises(ValueError, match=r"CrossEntropy expects probabilities 0 ≤ ŷ ≤ 1"):
            call(x, np.eye(2))
