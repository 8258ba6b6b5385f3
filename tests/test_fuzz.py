"""A bounded fuzz of the command line and of the library calls that take user values (issue 15).

For every case, whatever Hypothesis draws (odd sizes, huge numbers, NaN, unicode,
option-like values, empty and very long strings, wrong types, corrupt notebooks):

* only documented exceptions: ``ValueError`` (``CostError``, ``SymbolicSizeError``),
  ``TypeError``, ``KeyError``, ``MemoryError`` (``JacobianMemoryError``), and for files ``OSError``;
* a message that names the layer, the argument or the file;
* no warning (recorded, so that one shows up as what it is);
* the command: no traceback, exit 2 with one line on stderr for bad input (0 or 1 otherwise),
  and nothing left in the directory it ran in;
* peak memory (tracemalloc) within the memory budget in force, plus a small slack.

Drawing is replaced by a stub (the gallery's writer and ``render``) and so is SymPy's
derivation (the guards still run): what is fuzzed is the handling of the input, and the
whole suite stays within ~20 s. Each test prints its counts (``pytest -s``): cases tried,
clean errors, accepted.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import tracemalloc
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import DERANDOMIZE

import jacobnet as jn
import jacobnet.cli as cli
import jacobnet.symbolic
import jacobnet.symbolic.compiled
from jacobnet.chain.timing import time_orders
from jacobnet.check.report import compare_gradients
from jacobnet.core.cost import CostError, check_cost, cost_limit
from jacobnet.core.finite import fd_gradient
from jacobnet.core.memory import JacobianMemoryError, memory_budget
from jacobnet.course.data import two_spirals
from jacobnet.course.exercises import check_gradient, strip_answers
from jacobnet.course.feedback import check_matrix
from jacobnet.course.predict import decision_grid
from jacobnet.net.spec import build_network, parse_sizes
from jacobnet.symbolic.latex import jacobian_latex

MiB = 2**20
BUDGET = 32 * MiB  # the memory budget every case runs under
SLACK = 24 * MiB  # what a case may allocate besides what the guard covers (NumPy, SymPy's guards, argparse)
FUZZ = settings(max_examples=int(os.environ.get("JACOBNET_FUZZ", "120")), deadline=None, derandomize=DERANDOMIZE,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
LIBRARY_ERRORS = (ValueError, TypeError, KeyError, MemoryError)
COUNTS: dict[str, Counter] = {}


def report(name: str, outcome: str) -> None:
    COUNTS.setdefault(name, Counter())[outcome] += 1


@pytest.fixture(autouse=True, scope="module")
def _print_counts():
    yield
    for name, c in sorted(COUNTS.items()):
        print(f"\nfuzz {name}: {sum(c.values())} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))


def guarded(call, names: tuple[str, ...], what: str):
    """Run ``call`` under the budget; check the exception (if any), its message, warnings and the peak. Return the result or None."""
    with warnings.catch_warnings(record=True) as caught, memory_budget(BUDGET):
        warnings.simplefilter("always")
        tracemalloc.start()
        try:
            result, err = call(), None
        except LIBRARY_ERRORS as e:
            result, err = None, e
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert not caught, f"{what}: warned {[str(w.message) for w in caught]}"
    assert peak < BUDGET + SLACK, f"{what}: peak {peak / MiB:.0f} MiB"
    if err is not None:
        msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
        assert msg and any(n in msg for n in names), f"{what}: {type(err).__name__} without a name: {msg!r}"
        assert len(msg) < 2000, f"{what}: a message of {len(msg)} characters"
    report(what, "accepted" if err is None else f"clean {type(err).__name__}")
    return result


# --- hostile values ---------------------------------------------------------------------------------
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),
    st.sampled_from(["", " ", "\x00", "-", "--", "--spy", "-1", "nan", "inf", "-inf", "1e309", "٣,٤", "３,４", "é", "\u202e", "🙂",
                     "__import__('os')", "../..", "a" * 100_000]),
)
numbers = st.one_of(st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, -1, 2**63, 10**400]))
sizes = st.lists(st.integers(-3, 12), min_size=0, max_size=5)
spec_text = st.one_of(sizes.map(lambda s: ",".join(map(str, s))), texts,
                      st.lists(st.sampled_from(["3", "0", "x", "99999999", "100001", " 2 ", "-2", "1e3"]), max_size=4).map(",".join))
hostile = st.one_of(st.none(), st.booleans(), numbers, texts, sizes, st.lists(texts, max_size=3), st.binary(max_size=8),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just(np.arange(3)), st.just(jn.Dense(2, 2)))
activations = st.one_of(st.sampled_from(["tanh", "relu", "relu,tanh", "leaky-relu", "SOFTPLUS", "sigmoid, tanh, relu"]), texts)
losses = st.one_of(st.sampled_from(["mse", "ce", "softmax-ce", "hinge", " MSE "]), texts)


# --- the command line -----------------------------------------------------------------------------
OPTIONS = ["--layers", "--activation", "--loss", "--seed", "--out", "--spy", "--entries", "--methods", "--max-size",
           "--max-work", "--version", "--lay", "-x", "--", "-"]
tokens = st.one_of(
    st.sampled_from(OPTIONS),
    spec_text,
    activations,
    losses,
    st.sampled_from(["jacobian,finite-difference", "jacobian", "symbolic,jacobian", "jacobian,,symbolic", "1e3", "1e12", "0", "-5"]),
    numbers.map(str),
).filter(lambda t: not t.startswith(("/", "\\", "~")))  # (relative paths only: the case runs in a fresh directory)
argvs = st.tuples(st.sampled_from(["demo", "heatmap", "check", "figures", "bogus", "", "--help"]), st.lists(tokens, max_size=7))


@pytest.fixture
def stubbed(monkeypatch):
    """Drawing and SymPy's derivation replaced by stubs that record the call (the guards before them still run)."""
    drawn = []
    monkeypatch.setattr(cli, "_write_heatmaps", lambda h: drawn.append(h.prefix) or [])
    monkeypatch.setattr("jacobnet.viz.gallery.render", lambda out: drawn.append(out) or [])
    monkeypatch.setattr(jacobnet.symbolic, "symbolic_gradient", lambda net, x, y, **kw: net.gradient(x, y))
    monkeypatch.setattr(jacobnet.symbolic.compiled, "compiled_gradient", lambda *a, **kw: None)
    return drawn


@FUZZ
@given(argv=argvs)
def test_the_command_on_hostile_argv(argv, stubbed):
    command, rest = argv
    args = [command, *rest] if command else list(rest)
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory() as where, contextlib.chdir(where), cost_limit(3e9), memory_budget(BUDGET), \
            warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        tracemalloc.start()
        try:
            code = cli.main(args)
        except SystemExit as stop:  # argparse: usage errors (2), --help and --version (0)
            code = stop.code
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        left = sorted(str(p.relative_to(where)) for p in Path(where).rglob("*"))
    text = err.getvalue()
    assert not caught, f"{args!r:.200}: warned {[str(w.message) for w in caught]}"
    assert code in (0, 1, 2), f"{args!r:.200}: exit {code}"
    assert "Traceback" not in text and "Exception ignored" not in text, text[-2000:]
    if code == 2:
        assert text.count("\n") == 1 and text.startswith("jacobnet") and len(text) < 1000, f"{args!r:.200}: {text!r:.500}"
    assert left == [], f"{args!r:.200} left {left}"
    assert peak < BUDGET + SLACK, f"{args!r:.200}: peak {peak / MiB:.0f} MiB"
    report("command line", {0: "accepted (exit 0)", 1: "disagreement (exit 1)", 2: "clean error (exit 2)"}[code])


# --- the library --------------------------------------------------------------------------------
SPEC_NAMES = ("--layers", "layer size", "layers", "--activation", "activation", "loss", "--seed", "memory budget", "softmax")


@FUZZ
@given(layers=st.one_of(spec_text, hostile), activation=st.one_of(activations, hostile), loss=st.one_of(losses, hostile),
       seed=st.one_of(st.integers(0, 5), hostile))
def test_build_network_and_parse_sizes(layers, activation, loss, seed):
    guarded(lambda: build_network(layers, activation, loss, seed=seed), SPEC_NAMES, "build_network")
    guarded(lambda: parse_sizes(layers), ("--layers",), "parse_sizes")


@FUZZ
@given(n=st.one_of(st.integers(-3, 50), hostile), turns=st.one_of(st.floats(-3, 3), hostile),
       noise=st.one_of(st.floats(0, 1), hostile), seed=st.one_of(st.integers(0, 9), hostile))
def test_two_spirals(n, turns, noise, seed):
    names = ("two_spirals", "n_per_class", "turns", "noise", "seed", "memory budget")
    guarded(lambda: two_spirals(n, turns=turns, noise=noise, seed=seed), names, "two_spirals")


NET = build_network("3,4,2", seed=0)
X3, Y2 = np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])
arrays = st.one_of(hostile, st.lists(numbers, max_size=4), st.just(np.full(3, np.nan)), st.just(np.zeros((2, 3))),
                   st.just(np.zeros((10**4, 3))), st.just(np.array(["a", "b", "c"])), st.just(X3))
NET_NAMES = ("Dense 1", "SoftmaxCrossEntropy", "finite differences", "memory budget", "cost limit", "methods", "method",
             "compare_gradients", "decision_grid", "resolution", "margin", "X", "answer", "dL/dθ")


targets = st.one_of(hostile, st.lists(st.floats(-1e6, 1e6), max_size=4), st.just(np.full(2, np.nan)), st.just(Y2),
                    st.lists(st.floats(width=64), min_size=2, max_size=2),  # (any float64, ±1.8e308 and NaN included)
                    st.integers(-3, 3), st.lists(st.integers(-2, 3), min_size=1, max_size=3).map(np.array))  # class indices


@FUZZ
@given(x=arrays, y=targets, methods=st.one_of(hostile, st.lists(st.sampled_from(jn.GRADIENT_METHODS), max_size=4)))
def test_gradients_and_checks(x, y, methods, monkeypatch):
    monkeypatch.setattr(jacobnet.symbolic, "symbolic_gradient", lambda net, x, y, **kw: net.gradient(x, y))
    monkeypatch.setattr(jacobnet.symbolic.compiled, "compiled_gradient", lambda *a, **kw: None)
    with cost_limit(2e8):
        guarded(lambda: fd_gradient(NET, x, y), NET_NAMES, "fd_gradient")
        guarded(lambda: compare_gradients(NET, x, y, methods=methods), NET_NAMES, "compare_gradients")
        guarded(lambda: check_gradient(x, NET, X3, Y2), NET_NAMES, "check_gradient (the answer)")
        guarded(lambda: check_gradient(np.zeros(26), NET, x, y), NET_NAMES, "check_gradient (the point)")


@FUZZ
@given(y=targets, loss=st.sampled_from(["softmax-ce", "ce", "mse"]))
def test_targets_of_every_kind_at_a_valid_point(y, loss):
    """Targets drawn from everything (class indices, ±1.8e308, NaN, lists, hostile values) at a valid input."""
    net = build_network("3,4,2", "tanh", loss, seed=0)
    names = (*NET_NAMES, "CrossEntropy", "MSE", "Softmax 1", "Dense 2", "the target y")
    guarded(lambda: net.gradient(X3, y), names, f"gradient ({loss})")
    guarded(lambda: net.trace(X3, y), names, f"trace ({loss})")
    guarded(lambda: net.loss_fn.forward(net.forward(X3), y), names, f"the loss itself ({loss})")


finite = st.floats(allow_nan=False, allow_infinity=False)


@FUZZ
@given(expected=st.lists(finite, min_size=1, max_size=5), answer=st.one_of(arrays, st.lists(finite, min_size=1, max_size=5)))
def test_the_answer_checker_at_the_extremes(expected, answer):
    """Gradients up to ±1.8e308 and answers of any kind: a verdict, never an overflow warning."""
    fb = guarded(lambda: check_matrix(answer, np.array(expected), name="J"), ("J",), "check_matrix")
    assert fb is not None and isinstance(fb.ok, bool) and fb.summary


GRID_NET = build_network("2,3,2", seed=0)


@FUZZ
@given(X=st.one_of(arrays, st.just(np.zeros((4, 2))), st.just(np.array([[1e308, -1e308], [0.0, 1.0]]))), resolution=st.one_of(st.integers(-2, 40), hostile, st.just(10**5)),
       margin=st.one_of(st.floats(0, 2), hostile))
def test_decision_grid(X, resolution, margin):
    with cost_limit(2e8):
        guarded(lambda: decision_grid(GRID_NET, X, resolution=resolution, margin=margin), NET_NAMES + ("grid",), "decision_grid")


CHAIN = build_network("6,5,3", seed=0).chain(np.linspace(-1, 1, 6), np.eye(3)[1])
orders = st.one_of(st.sampled_from(["forward", "reverse", "optimal", "sideways", ((0, 1), (2, 3)), ((0, 1), 2), (0, (1, (2, (3, 3))))]), hostile)


@FUZZ
@given(order=orders, mode=st.one_of(st.sampled_from(["materialised", "structured", "dense"]), hostile),
       repeat=st.one_of(st.integers(-1, 3), hostile), work=st.one_of(numbers, hostile))
def test_chains_timing_and_the_cost_limit(order, mode, repeat, work):
    names = ("order", "mode", "repeat", "tree", "factor", "cost limit", "memory budget", "index", "orders", "pairs")
    guarded(lambda: CHAIN.evaluate(order, mode), names, "Chain.evaluate")
    with cost_limit(1e7):
        guarded(lambda: time_orders(CHAIN, [order], mode=mode, repeat=repeat), names, "time_orders")

    def limited():
        with cost_limit(work):
            check_cost(10, "ten operations")

    guarded(limited, ("cost limit", "ten operations"), "cost_limit")
    guarded(lambda: jacobian_latex(order), ("jacobian_latex",), "jacobian_latex")


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                           max_leaves=12)
cells = st.fixed_dictionaries({"cell_type": st.one_of(st.sampled_from(["code", "markdown"]), json_values)}, optional={
    "source": st.one_of(st.sampled_from(["answer = 1\n", "answer_x, answer_y = 1, 2", "print(1)", "answer = ("]), json_values),
    "metadata": st.one_of(st.just({"tags": ["answer"]}), st.fixed_dictionaries({"tags": json_values}), json_values),
    "outputs": json_values})
notebooks = st.one_of(json_values, st.fixed_dictionaries({"cells": st.one_of(st.lists(cells, max_size=3), json_values)},
                                                         optional={"metadata": json_values, "nbformat": json_values}))


@FUZZ
@given(nb=notebooks, out_exists=st.booleans(), overwrite=st.sampled_from([False, True, False, True, None, 1, "yes", np.True_]))
def test_strip_answers_on_hostile_notebooks(nb, out_exists, overwrite):
    with tempfile.TemporaryDirectory() as where:
        src, out = Path(where) / "lesson.ipynb", Path(where) / "lesson_blank.ipynb"
        src.write_text(json.dumps(nb), encoding="utf-8")
        if out_exists:
            out.write_text("keep", encoding="utf-8")
        result = guarded(lambda: strip_answers(src, overwrite=overwrite), ("strip_answers", "lesson"), "strip_answers")
        names = sorted(p.name for p in Path(where).iterdir())
        assert names == (["lesson.ipynb", "lesson_blank.ipynb"] if out_exists or result else ["lesson.ipynb"])
        if out_exists and not (overwrite is True or overwrite is np.True_):
            assert out.read_text(encoding="utf-8") == "keep"
        assert json.loads(src.read_text(encoding="utf-8")) == nb or (isinstance(nb, float) and math.isnan(nb))


def test_the_guards_in_the_fuzz_are_the_real_ones():
    """(The fuzz's limits are lowered, not switched off: the same calls over them still fail at once.)"""
    with memory_budget(BUDGET), pytest.raises(JacobianMemoryError):
        build_network([3000, 3000])
    with cost_limit(2e8), pytest.raises(CostError):
        fd_gradient(build_network("60,60"), np.ones(60), np.eye(60)[0])
