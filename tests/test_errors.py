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
from jacobnet.spec import build_network, parse_sizes


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
    with pytest.raises(TypeError, match="Network: layer 1 must be a jacobnet Layer, got ufunc"):
        jn.Network([jn.Dense(2, 2), np.tanh], jn.MSE())
    with pytest.raises(TypeError, match="loss must be a jacobnet Loss, got str"):
        jn.Network([jn.Dense(2, 2)], "mse")


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
    with pytest.raises(ValueError, match=r"CrossEntropy expects probabilities ŷ ≥ 0 .* use SoftmaxCrossEntropy on logits"):
        jn.CrossEntropy().forward(np.array([0.0, 1.0]), np.array([1.0, 0.0]))  # log 0 on a positive target
    with pytest.raises(ValueError, match=r"got min ŷ = -0\.5"):
        jn.CrossEntropy().jacobian(np.array([-0.5, 1.5]), np.array([0.0, 1.0]))


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


def test_spec_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown activation 'swish'; choose one of sigmoid, tanh, relu, leaky-relu, softplus")):
        build_network("3,4,2", activation="swish")
    with pytest.raises(ValueError, match=re.escape("unknown loss 'hinge'; choose one of mse, ce, softmax-ce")):
        build_network("3,4,2", loss="hinge")
    with pytest.raises(ValueError, match=re.escape("--layers sizes must be between 1 and")):
        build_network("3,0,2")
    with pytest.raises(ValueError, match=re.escape("Dense: n_out must be a positive integer, got 0")):
        build_network([3, 0, 2])
    for text in ("3,-4,2", "3", "3,4,", "3;4", "__import__('os')", "1e3,2"):
        with pytest.raises(ValueError, match=re.escape("--layers expects comma-separated positive integers such as 3,4,2")):
            parse_sizes(text)


def test_other_named_choices() -> None:
    with pytest.raises(ValueError, match="LeakyReLU: alpha must be finite, got nan"):
        jn.LeakyReLU(alpha=float("nan"))
    net = net_3_4_2()
    with pytest.raises(ValueError, match="unknown gradient method 'autodiff'; choose one of jacobian, symbolic, finite-difference"):
        net.gradient(np.ones(3), np.array([0.0, 1.0]), method="autodiff")
    with pytest.raises(ValueError, match="unknown mode 'dense'; choose one of materialised, structured"):
        net.gradient(np.ones(3), np.array([0.0, 1.0]), mode="dense")
