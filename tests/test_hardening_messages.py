"""Issue 15, messages and the frictions of a first hour.

6. messages that quote a value quote at most ~80 characters of it, whatever it is (an integer of 5 000
   digits, a 100 KB string, an array); a wrong kind of argument is a ``TypeError``/``ValueError`` that
   names it, never NumPy's or Python's own words;
   first hour: ``Trace.__repr__`` is one line; ``net.loss`` and ``net.loss_fn`` say which is which;
   the gradient report defines ``rel (block)`` and prints no redundant ``"all"`` rows; the demo says
   what its sample is; a big network's parameter labels cost nothing until read.
"""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.chain.orders import check_tree
from jacobnet.check.report import Block, GradientReport, compare_gradients
from jacobnet.cli import main
from jacobnet.core.cost import decimal_digits, quote
from jacobnet.core.memory import JacobianMemoryError, check_budget, format_bytes
from jacobnet.core.validate import check_mode, positive_int, seed_value

HUGE = [10**5000, -(10**5000), "x" * 100_000, [1.5] * 10_000, np.arange(10_000.0), {"a": "b" * 10_000}]


# --- quoting ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", HUGE, ids=["int", "negative int", "str", "list", "array", "dict"])
def test_a_huge_value_is_quoted_short(value) -> None:
    for check in (positive_int, seed_value):
        if isinstance(value, int) and value > 0:
            continue  # (a positive integer, however large, is one: the layer's memory guard refuses it as a size)
        with pytest.raises(ValueError) as err:
            check(value, "Dense: n_in")
        assert str(err.value).startswith("Dense: n_in must be") and len(str(err.value)) < 200
    assert len(quote(value)) < 120


def test_digits_of_an_integer_too_long_to_print() -> None:
    for n in (0, 1, 9, 10, 99, 100, 2**63, 10**400 - 1, 10**400):
        assert decimal_digits(n) == len(str(n))
    assert decimal_digits(10**5000) == 5001 and quote(10**5000) == "an integer of 5001 digits"


@pytest.mark.parametrize("mode, kind, words", [
    (np.arange(3), TypeError, "mode must be a string, one of materialised, structured; got array([0, 1, 2]) (ndarray)"),
    (["structured"], TypeError, "got ['structured'] (list)"),
    (None, TypeError, "got None (NoneType)"),
    ("x" * 10_000, ValueError, "unknown mode 'xxxxxxxx"),
])
def test_a_mode_of_the_wrong_kind_is_named(mode, kind, words) -> None:
    with pytest.raises(kind, match=re.escape(words)) as err:
        check_mode(mode)
    assert len(str(err.value)) < 200
    net = jn.build_network("3,2", seed=0)
    with pytest.raises(kind, match=re.escape(words)):
        net.gradient(np.ones(3), np.array([0.0, 1.0]), mode=mode)


def test_a_gradient_method_of_the_wrong_kind_is_named() -> None:
    net = jn.build_network("3,2", seed=0)
    for bad in (np.arange(3), "x" * 10_000, None):
        with pytest.raises(ValueError, match="unknown gradient method") as err:
            net.gradient(np.ones(3), np.array([0.0, 1.0]), method=bad)
        assert len(str(err.value)) < 200


def test_a_memory_estimate_beyond_float64_is_a_memory_error_not_an_overflow() -> None:
    with pytest.raises(JacobianMemoryError, match=re.escape("would take ~1e+400 B (a number of 401 digits), over the memory budget")):
        check_budget(10**400, "a huge thing")
    assert format_bytes(2**1001).startswith("~1e+301 B") and format_bytes(1600) == "1.56 KiB"


@pytest.mark.parametrize("order", [tuple(range(5000)), [[0, 1]] * 3000, ((0, 1), "x" * 10_000), ((0, 2), (1, 3)) * 1])
def test_an_order_is_quoted_short(order) -> None:
    with pytest.raises(ValueError, match=r"^order ") as err:
        check_tree(order, 4)
    assert len(str(err.value)) < 400


# --- the trace, the loss, the labels -------------------------------------------------------------
def readme() -> tuple[jn.Network, np.ndarray, np.ndarray]:
    net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
    return net, np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])


def test_a_trace_repr_is_one_line_and_print_is_the_table() -> None:
    net, x, y = readme()
    trace = net.trace(x, y)
    text = repr(trace)
    assert "\n" not in text and len(text) < 400 and text.startswith("<Trace of Network([Dense(3, 4), Tanh(), Dense(4, 2)]")
    assert "one sample, materialised, 6 products, loss = 0.496871, gradient (26,); print(trace) for the table>" in text
    assert str(trace).startswith("Backward pass of Network(") and "∂L/∂θ(Dense 1) =" in str(trace)
    assert "<table" in trace._repr_html_()  # (Jupyter still shows the table)
    big = jn.Network([jn.Dense(2, 2, seed=k) for k in range(300)], jn.MSE()).trace(np.ones(2), np.zeros(2))
    assert len(repr(big)) < 400 and "a batch" not in repr(big)
    assert "a batch of 5" in repr(net.trace(np.ones((5, 3)), np.eye(2)[[0, 1, 0, 1, 1]]))


def test_net_loss_is_the_value_and_net_loss_fn_the_object_and_each_says_so() -> None:
    net, x, y = readme()
    assert isinstance(net.loss_fn, jn.SoftmaxCrossEntropy) and net.loss(x, y) == net.loss_value(x, y) == net.trace(x, y).loss
    assert repr(net.loss) == "net.loss(x, y): the value of net.loss_fn = SoftmaxCrossEntropy() at the output"
    for attribute in ("name", "jacobian", "takes_logits"):
        with pytest.raises(AttributeError, match=re.escape(f"the loss object is net.loss_fn: net.loss_fn.{attribute}")):
            getattr(net.loss, attribute)
    assert not hasattr(net.loss, "__wrapped__") and callable(net.loss)
    assert "net.loss_fn" in (jn.Network.loss.__doc__ or "")


def test_param_labels_of_a_big_network_cost_nothing_until_read() -> None:
    """Before: 4 M labels built up front (207 s on this machine, 290 MiB). Now: made on demand."""
    net = jn.Network([jn.Dense(2000, 2000, seed=0), jn.Tanh(), jn.Dense(2000, 10, seed=1)], jn.SoftmaxCrossEntropy())
    tracemalloc.start()
    start = time.perf_counter()
    try:
        labels = net.param_labels()
        first, last, middle = labels[0], labels[-1], labels[4_001_999:4_002_001]
        seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(labels) == net.n_params == 4_022_010 and seconds < 0.5 and peak < 2**20
    assert (first, last, middle) == ("W^{(1)}_{1,1}", "b^{(2)}_{10}", ["b^{(1)}_{2000}", "W^{(2)}_{1,1}"])


def test_param_labels_are_each_layers_labels_in_theta_order() -> None:
    shared = jn.Dense(2, 2, seed=2)
    net = jn.Network([jn.Dense(3, 2, seed=0), jn.Residual([shared, jn.Tanh()]), jn.LayerNorm(2), shared], jn.MSE())
    want = [label for k, layer in enumerate(net.param_layers, start=1) for label in layer.param_labels(k)]
    assert list(net.param_labels()) == want and net.param_labels() == want and len(want) == net.n_params
    assert net.param_labels().index("W^{(2)}_{1,1}") == 8


# --- the report and the demo -----------------------------------------------------------------------
def test_the_report_defines_its_columns_and_prints_no_all_rows() -> None:
    net, x, y = readme()
    report = compare_gradients(net, x, y, methods=("jacobian", "finite-difference"))
    text = str(report)
    lines = text.splitlines()
    assert not any(re.match(r"all\s+\S+ vs ", line) for line in lines) and any(r.block == "all" for r in report.rows)  # (data)
    assert sum(line.startswith(("Dense 1 ", "Dense 2 ")) for line in lines) == 2
    assert "rel (block) = max|Δ| / max|reference| within the block; rel = max|Δ| in the block / max|reference| over all " \
           "parameters, held against tol; reference = the second method" in text
    overall = next(r for r in report.rows if r.block == "all")
    assert f"all methods agree: jacobian vs finite-difference {overall.rel:.1e} ≤ 1e-06" in text


def test_a_disagreeing_pair_is_said_in_the_footer() -> None:
    report = GradientReport(["a", "b"], {"jacobian": np.array([1.0, 2.0]), "finite-difference": np.array([1.0, 2.1])},
                            [Block("Dense 1", slice(0, 2))])
    assert "METHODS DISAGREE: jacobian vs finite-difference 4.8e-02 > 1e-06" in str(report) and not report.ok


def test_the_demo_says_what_its_network_and_sample_are(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("jacobnet.cli._write_heatmaps", lambda h: [])
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "network: Network([Dense(3, 4), Tanh(), Dense(4, 2)], SoftmaxCrossEntropy()) (its Dense layers seeded 0, 1, … from --seed)"
    x, y = jn.spec.demo_sample(3, 2, 0)
    with np.printoptions(precision=4, suppress=True):
        assert out[1] == f"sample: x = {x}, y = {y} (demo_sample(3, 2, seed=0): x ~ N(0, 1), y one-hot, drawn from --seed)"
    net = jn.build_network("3,4,2", seed=0)
    assert f"loss = {net.loss(x, y):.6g}" in "\n".join(out) and f"{net.loss(x, y):.6g}" == "0.736933"
