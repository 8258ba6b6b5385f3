"""Issue 15, hardening: one regression test (or a few) per class of problem, each able to fail.

2. memory that escapes the guard (a reference cycle in ``Chain.evaluate``, ``time_orders``);
3. slow paths with no cost guard (finite differences, ``compare_gradients``, ``check --layers``,
   the answer checker, ``decision_grid``, ``check_layer``, ``time_orders``);
4. interrupts and files (Ctrl-C and SIGTERM at any moment of the command; long file names);
5. corrupt or hostile notebooks for ``strip_answers``;
6. loose edges of the command and the library (option-like values, ``2>/dev/full``, bad ``--out``,
   long arguments, clear messages), and the frictions of a first hour (where the figures go,
   ``--methods``, ``--max-size``, per-layer activations).
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import jacobnet as jn
import jacobnet.cli as cli
from jacobnet.chain.timing import best_time, time_orders
from jacobnet.check import check_layer, compare_gradients, fd_gradient, jacobian_fd
from jacobnet.cli import EXIT_BAD_INPUT, main
from jacobnet.core.cost import DEFAULT_LIMIT, CostError, check_cost, cost_limit, current_limit, set_cost_limit, shorten
from jacobnet.core.memory import JacobianMemoryError, memory_budget
from jacobnet.course.data import two_spirals
from jacobnet.course.exercises import check_gradient, strip_answers
from jacobnet.course.predict import decision_grid
from jacobnet.net.spec import build_network, demo_sample
from jacobnet.symbolic.latex import jacobian_latex

MiB = 2**20
ROOT = Path(__file__).resolve().parents[1]


def peak_of(fn) -> tuple[int, float, BaseException | None]:
    """tracemalloc's peak (bytes), the seconds ``fn`` took, and what it raised."""
    gc.collect()
    tracemalloc.start()
    start, err = time.perf_counter(), None
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - returned to the test
        err = e
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, seconds, err


def run(argv: list[str]) -> int:
    """``main``'s exit status, whether it returns it or argparse raises it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# --- 2. memory that escapes the guard ----------------------------------------------------------
@pytest.mark.parametrize("order", ["forward", "reverse", "optimal", ((0, 1), (2, (3, (4, 5))))])
@pytest.mark.parametrize("mode", ["materialised", "structured"])
def test_evaluate_leaves_nothing_behind(order, mode):
    """No reference cycle: with the collector off, repeated evaluations do not accumulate, and there is nothing to collect."""
    net = build_network("60,60,60,2", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.linspace(-1, 1, 60), np.eye(2)[1])
    one = chain.bytes(order, mode, include_factors=True)
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        chain.evaluate(order, mode)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(6):
            chain.evaluate(order, mode)
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert gc.collect() == 0  # evaluate made no garbage that only the collector could free
    finally:
        gc.enable()
    assert grown < min(8 * 1024, one / 4)  # (the leak kept ~one evaluation per call: 6 × 7 MB for the forward order)


def test_evaluate_holds_only_the_operands_still_to_multiply():
    """Forward order of 60→60→60→2, materialised: the peak is far below every factor and intermediate at once."""
    net = build_network("60,60,60,2", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.linspace(-1, 1, 60), np.eye(2)[1])
    peak, _, err = peak_of(lambda: chain.evaluate("forward"))
    assert err is None and peak < 0.7 * chain.bytes("forward", include_factors=True)


def test_time_orders_checks_every_order_before_timing_any(monkeypatch):
    net = build_network("60,60,60,2", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.linspace(-1, 1, 60), np.eye(2)[1])
    timed = []
    real = jn.chain.timing._best
    monkeypatch.setattr(jn.chain.timing, "_best", lambda *a: timed.append(a[1]) or real(*a))
    need = chain.bytes("forward", include_factors=True)
    with memory_budget(need - 1):  # the reverse order fits, the forward one does not
        with pytest.raises(JacobianMemoryError, match="in forward order"):
            time_orders(chain, ["reverse", "forward"], repeat=1)
    assert timed == []  # refused before the reverse order was timed
    with cost_limit(1000), pytest.raises(CostError, match=r"timing 2 orders of ∂L/∂θ\(Dense 1\) \(materialised, best of 3\)"):
        time_orders(chain, ["reverse", "forward"], repeat=3)
    with cost_limit(1000), pytest.raises(CostError):
        best_time(chain, "forward")
    assert timed == []


def test_time_orders_peak_is_one_evaluation_not_the_repeats():
    net = build_network("60,60,60,2", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.linspace(-1, 1, 60), np.eye(2)[1])
    one, _, _ = peak_of(lambda: time_orders(chain, ["forward"], repeat=1))
    many, _, err = peak_of(lambda: time_orders(chain, ["forward", "reverse", "optimal"], repeat=6))
    assert err is None and many < 1.3 * one


# --- 3. cost guards on every slow path ---------------------------------------------------------
def test_the_cost_limit_is_documented_configurable_and_checked():
    assert current_limit() == DEFAULT_LIMIT == 3 * 10**10
    with cost_limit(5):
        assert current_limit() == 5
        with pytest.raises(CostError) as err:
            check_cost(6, "six things", "do five")
        assert isinstance(err.value, ValueError) and (err.value.work, err.value.limit, err.value.what) == (6, 5, "six things")
        assert "six things would take about 6 operations" in str(err.value) and "over the cost limit of 5 operations" in str(err.value)
        assert "do five, or raise the limit with jacobnet.core.cost.cost_limit(work)" in str(err.value)
    assert current_limit() == DEFAULT_LIMIT
    assert check_cost(10, "ten", limit=10) == 10
    for bad in (0, -1, float("nan"), True, "1e9", None):
        with pytest.raises(ValueError, match="the cost limit must be a positive number of operations"):
            set_cost_limit(bad)
    assert current_limit() == DEFAULT_LIMIT


def test_finite_differences_of_millions_of_parameters_are_refused_at_once():
    net = jn.Network([jn.Dense(2000, 2000, seed=0)], jn.MSE())  # 4 002 000 parameters, 32 MB
    x, y = np.ones(2000), np.zeros(2000)
    for call in (lambda: fd_gradient(net, x, y), lambda: net.gradient(x, y, method="finite-difference")):
        peak, seconds, err = peak_of(call)
        assert isinstance(err, CostError) and seconds < 1.0 and peak < MiB
        msg = str(err)
        assert "finite differences of dL/dθ of Network([Dense(2000, 2000)], MSE()) (4002000 parameters: 8004000 loss evaluations" in msg
        assert "over the cost limit of 3e+10 operations" in msg and "use method='jacobian'" in msg


def test_the_limit_can_be_raised_and_lowered_per_call_and_per_block():
    net = build_network("3,4,2", seed=0)
    x, y = demo_sample(3, 2, 0)
    with cost_limit(1e5), pytest.raises(CostError):
        net.gradient(x, y, method="finite-difference")
    with pytest.raises(CostError):
        fd_gradient(net, x, y, max_work=1e5)
    with cost_limit(1e5):
        assert fd_gradient(net, x, y, max_work=1e8).shape == (26,)  # the call's own limit wins


def test_compare_gradients_on_a_big_network_is_refused_before_any_gradient(monkeypatch):
    net = build_network("300,300,2", seed=0)
    x, y = demo_sample(300, 2, 0)

    def never(*args, **kwargs):
        raise AssertionError("no gradient may be computed before the guards")

    monkeypatch.setattr(jn.Network, "gradient", never)
    monkeypatch.setattr(jacobnet_check_report(), "fd_gradient", never)
    monkeypatch.setattr(jacobnet_check_report(), "symbolic_derivation", never)
    _, seconds, err = peak_of(lambda: compare_gradients(net, x, y))
    assert isinstance(err, CostError) and seconds < 1.0 and "90902 parameters" in str(err)


def jacobnet_check_report():
    import jacobnet.check.report

    return jacobnet.check.report


def test_check_with_thousands_of_sizes_fails_at_once(capsys):
    """3 001 sizes of 2: 18 000 parameters, but 6 001 layers deep (the old guard counted parameters only)."""
    spec = ",".join(["2"] * 3001)
    start = time.perf_counter()
    assert run(["check", "--layers", spec]) == EXIT_BAD_INPUT
    assert time.perf_counter() - start < 10  # (was ~27 minutes; most of this is building 3 000 layers)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "18000 parameters" in err and "over the cost limit" in err and "--max-work" in err
    assert len(err) < 700  # the network's repr is cut, not echoed whole


def test_check_gradient_refuses_at_once_and_names_only_what_it_shows():
    """Refused before any work: no 4 M labels built (they are made on demand; the peak would show them), no gradient."""
    net = jn.Network([jn.Dense(2000, 2000, seed=0)], jn.MSE())  # 4 M parameters
    x, y = np.ones(2000), np.zeros(2000)
    answer = np.zeros(net.n_params)
    with cost_limit(1e8):
        peak, seconds, err = peak_of(lambda: check_gradient(answer, net, x, y))
    assert isinstance(err, CostError) and "checking dL/dθ of Network([Dense(2000, 2000)], MSE()) (4002000 parameters)" in str(err)
    assert seconds < 1.0 and peak < MiB
    with memory_budget(8 * MiB):
        peak, _, err = peak_of(lambda: check_gradient(answer, net, x, y))
    assert isinstance(err, JacobianMemoryError) and "check of dL/dθ of shape (4002000,)" in str(err) and peak < MiB
    small = jn.Network([jn.Dense(300, 300, seed=0)], jn.MSE())  # 90 300 parameters: checked, labels made on demand
    g = small.gradient(np.ones(300), np.zeros(300))
    wrong = g.copy()
    wrong[90299] = -wrong[90299] + 1.0
    fb = check_gradient(wrong, small, np.ones(300), np.zeros(300))
    assert not fb.ok and fb.details[0].startswith("entry 90300 b^(1)_300")  # (named, 1-based; labels made on demand)


def test_decision_grid_is_guarded_before_allocating(monkeypatch):
    net = build_network([2, 8, 2], seed=0)
    forward = jn.Network.forward
    monkeypatch.setattr(jn.Network, "forward", lambda self, x: pytest.fail("the grid was evaluated"))
    peak, seconds, err = peak_of(lambda: decision_grid(net, np.zeros((3, 2)), resolution=20000))
    assert isinstance(err, JacobianMemoryError) and "a decision grid of 20000 × 20000 points" in str(err)
    assert peak < MiB and seconds < 0.5
    with memory_budget(2**40):
        peak, seconds, err = peak_of(lambda: decision_grid(net, np.zeros((3, 2)), resolution=20000))
    assert isinstance(err, CostError) and "(400000000 forward passes)" in str(err) and peak < MiB
    monkeypatch.setattr(jn.Network, "forward", forward)
    g = decision_grid(net, np.zeros((3, 2)), resolution=300)  # 90 000 points: two chunks, the same as one pass
    assert np.allclose(g.probs.reshape(-1, 2), net.loss_fn.prediction(net.forward(np.column_stack([g.xx.ravel(), g.yy.ravel()]))))


def test_check_layer_and_jacobian_fd_are_guarded():
    with cost_limit(1e7), pytest.raises(CostError, match=r"check_layer\(Dense\(300→300\)\): finite differences"):
        check_layer(jn.Dense(300, 300), np.ones(300))
    with cost_limit(1e5), pytest.raises(CostError, match=r"a Jacobian by differences at a point of shape \(1000,\)"):
        jacobian_fd(np.sin, np.ones(1000))
    with memory_budget(MiB):  # 1000 × 1000 floats: refused after the first column, not after the last
        calls = []
        with pytest.raises(JacobianMemoryError, match=r"a finite-difference Jacobian of shape \(1000, 1000\)"):
            jacobian_fd(lambda v: calls.append(1) or np.sin(v), np.ones(1000))
        assert len(calls) == 2


def test_a_step_size_sweep_is_guarded_as_a_whole(monkeypatch):
    from jacobnet.check.stepsize import network_step_sweep

    net = build_network("60,60,2", seed=0)
    x, y = demo_sample(60, 2, 0)
    monkeypatch.setattr(jn.Network, "gradient", lambda *a, **k: pytest.fail("work before the guard"))
    with pytest.raises(CostError, match=r"network_step_sweep: 53 finite-difference gradients of 3782 parameters"):
        network_step_sweep(net, x, y)  # each one is within the limit; the 53 of the default steps are not


# --- 4. interrupts and files ----------------------------------------------------------------
def _interrupt_once_writing(sig: int, tmp_path: Path) -> tuple[int, str, list[str]]:
    """``python -m jacobnet figures``, stopped by ``sig`` (twice) once it writes its first file."""
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "jacobnet", "figures", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    def writing() -> bool:  # a figure's file (its temporary or the PNG), not the probe of `--out` (made and removed at once)
        try:
            return any(not p.name.startswith(".jacobnet-probe-") for p in out.iterdir())
        except FileNotFoundError:
            return False

    while not writing() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(sig)
    time.sleep(0.002)
    if proc.poll() is None:
        proc.send_signal(sig)  # a second one changes nothing
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.slow
def test_ctrl_c_while_writing_is_one_line_130_and_no_temporary_file(tmp_path):
    code, err, left = _interrupt_once_writing(signal.SIGINT, tmp_path)
    assert code in (130, -signal.SIGINT)  # (a shell shows both as 130: Python re-raises SIGINT when it landed in an exec)
    assert err == "jacobnet figures: interrupted\n" and left == []


@pytest.mark.slow
def test_sigterm_while_writing_is_one_line_143_and_no_temporary_file(tmp_path):
    code, err, left = _interrupt_once_writing(signal.SIGTERM, tmp_path)
    assert (code, err, left) == (143, "jacobnet figures: terminated\n", [])


def test_ctrl_c_during_the_lazy_imports_is_one_line_and_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt  # (as when it lands in `import matplotlib` inside the command)

    monkeypatch.setattr(cli, "_network", interrupted)
    before = signal.getsignal(signal.SIGINT)
    assert main(["check"]) == 130
    assert capsys.readouterr().err == "jacobnet check: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is before  # called with argv: the handlers are back


def test_a_stop_that_lands_in_a_destructor_still_stops(monkeypatch, capsys):
    """Python ignores exceptions raised in ``__del__`` ("Exception ignored in …"): the stop is delivered again."""
    class Trap:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10**5):  # the handler runs here, inside __del__
                pass

    def work(args):
        Trap()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.001)
        raise AssertionError("the run was not stopped")

    monkeypatch.setattr(cli, "_network", work)
    assert main(["check"]) == 130
    assert capsys.readouterr().err == "jacobnet check: interrupted\n"


def test_a_spec_of_many_sizes_gets_bounded_file_names_checked_before_any_work(monkeypatch, tmp_path, capsys):
    planned = {}
    monkeypatch.setattr(cli, "_write_heatmaps", lambda h: planned.setdefault("prefix", h.prefix) and [])
    spec = ",".join(["2"] * 40)
    assert run(["heatmap", "--layers", spec, "--out", str(tmp_path), "--max-work", "1e12"]) == 0
    assert len(planned["prefix"]) <= jn.gallery.MAX_PREFIX and planned["prefix"].startswith("heatmap_2-2-2-")
    monkeypatch.setattr(cli, "_limit", lambda out, name, default: 40 if name == "PC_NAME_MAX" else default)
    assert run(["heatmap", "--layers", "3,4,2", "--out", str(tmp_path / "new")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "over this file system's limit of 40" in err and tree(tmp_path) == []


def test_heatmaps_of_a_hundred_sizes_are_refused_at_once(tmp_path, capsys):
    start = time.perf_counter()
    assert run(["heatmap", "--layers", ",".join(["3"] * 120), "--out", str(tmp_path)]) == EXIT_BAD_INPUT
    assert time.perf_counter() - start < 5 and tree(tmp_path) == []
    err = capsys.readouterr().err
    assert re.search(r"drawing \d+ heatmaps \(\d+ entries\) would take about .* over the cost limit", err)


# --- 5. corrupt or hostile notebooks ------------------------------------------------------------
def answer_cell(**changes) -> dict:
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {"tags": ["answer"]}, "outputs": [], "source": "answer = 1\n"}
    cell.update(changes)
    return cell


HOSTILE = [
    ({"cells": 5}, "expected an object with a list 'cells', got 'cells' int"),
    ([1, 2], "expected an object with a list 'cells', got a JSON list"),
    ({"cells": [5]}, "cell 0 is not a notebook cell (expected an object, got int)"),
    ({"cells": [answer_cell(metadata=[])]}, "cell 0 is not a notebook cell ('metadata' must be an object, got list)"),
    ({"cells": [answer_cell()], "metadata": []}, "'metadata' must be an object, got list"),
    ({"cells": [answer_cell(metadata={"tags": None})]}, "metadata 'tags' must be a list of strings, got null"),
    ({"cells": [answer_cell(metadata={"tags": [1]})]}, "metadata 'tags' must be a list of strings, got list"),
    ({"cells": [{"cell_type": "code", "metadata": {}}]}, "cell 0 is not a notebook cell ('source' is missing)"),
    ({"cells": [answer_cell(source=7)]}, "'source' must be a string or a list of strings, got int"),
    ({"cells": [answer_cell(source=["a", 7])]}, "'source' must be a string or a list of strings, got list"),
    ({"cells": [answer_cell(cell_type=None)]}, "'cell_type' must be a string, got null"),
    ({"cells": [answer_cell(source="answer = " + "(" * 5000 + ")" * 5000)]}, "is tagged 'answer' but is not Python"),
    ({"cells": [answer_cell(source="answer = 1\x00")]}, "is tagged 'answer' but is not Python"),
]


@pytest.mark.parametrize("nb, words", HOSTILE, ids=range(len(HOSTILE)))
def test_a_corrupt_notebook_is_one_clear_value_error(tmp_path, nb, words):
    src = tmp_path / "lesson.ipynb"
    src.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(ValueError) as err:
        strip_answers(src)
    assert "strip_answers: lesson.ipynb" in str(err.value) and words in str(err.value)
    assert tree(tmp_path) == ["lesson.ipynb"]


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("not json", "is not a Jupyter notebook (Expecting value"),
    ("\udcff", "is not a Jupyter notebook"),
])
def test_unreadable_json_is_one_clear_value_error(tmp_path, text, words):
    src = tmp_path / "lesson.ipynb"
    src.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ValueError, match=re.escape(words)):
        strip_answers(src)


def lesson(tmp_path: Path) -> Path:
    src = tmp_path / "lesson.ipynb"
    src.write_text(json.dumps({"cells": [answer_cell(source="answer = 42\n")], "metadata": {}}), encoding="utf-8")
    return src


@pytest.mark.parametrize("how", ["hard link", "symbolic link", "another path"])
def test_the_same_file_by_another_name_is_refused(tmp_path, how):
    src = lesson(tmp_path)
    other = tmp_path / "copy.ipynb"
    if how == "hard link":
        os.link(src, other)
    elif how == "symbolic link":
        other.symlink_to(src)
    else:
        (tmp_path / "sub").mkdir()
        other = tmp_path / "sub" / ".." / "lesson.ipynb"
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="out must differ from .*it is the same file"):
            strip_answers(src, other, overwrite=overwrite)
    assert "answer = 42" in src.read_text(encoding="utf-8")  # the teacher's answers are intact


def test_an_existing_out_is_replaced_only_when_asked(tmp_path):
    src = lesson(tmp_path)
    out = tmp_path / "student.ipynb"
    out.write_text("a student's work", encoding="utf-8")
    keep = tmp_path / "also.ipynb"
    os.link(out, keep)  # another name for the old out
    with pytest.raises(ValueError, match="student.ipynb exists; pass overwrite=True to replace it"):
        strip_answers(src, out)
    assert out.read_text(encoding="utf-8") == "a student's work"
    assert strip_answers(src, out, overwrite=True) == out
    assert "answer = ..." in out.read_text(encoding="utf-8")
    assert keep.read_text(encoding="utf-8") == "a student's work"  # replaced, not written through
    with pytest.raises(ValueError, match="is a directory"):
        strip_answers(src, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["also.ipynb", "lesson.ipynb", "student.ipynb"]  # no temporary left


# --- 6. loose edges ----------------------------------------------------------------------------
def test_an_option_where_a_value_belongs_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["heatmap", "--out", "--spy"]) == EXIT_BAD_INPUT
    assert "argument --out: expected one argument" in capsys.readouterr().err
    assert run(["heatmap", "--out=--spy"]) == EXIT_BAD_INPUT
    assert "--out '--spy' looks like an option" in capsys.readouterr().err
    assert run(["check", "--layers", "-1,2"]) == EXIT_BAD_INPUT  # a negative size is a value, and wrong
    assert "--layers expects comma-separated positive integers" in capsys.readouterr().err
    assert tree(tmp_path) == []


def test_an_error_message_that_cannot_be_written_still_exits_2():
    with open(os.devnull if not Path("/dev/full").exists() else "/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "jacobnet", "check", "--layers", "x"], stderr=full,
                              stdout=subprocess.PIPE, timeout=60)
    assert proc.returncode == 2 and proc.stdout == b""


@pytest.mark.parametrize("make", ["symlink loop", "/proc", "a file", "unwritable"])
def test_a_bad_out_is_reported_before_the_work_naming_out(make, tmp_path, monkeypatch, capsys):
    if make == "symlink loop":
        (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
        (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
        out = str(tmp_path / "loop1")
    elif make == "/proc":
        if not Path("/proc/self").exists():
            pytest.skip("no /proc")
        out = "/proc/x"
    elif make == "a file":
        out = str(tmp_path / "f")
        Path(out).write_text("")
    else:
        out = "/dev/null/x"
    monkeypatch.setattr(cli, "_compare", lambda *a, **k: pytest.fail("the work ran before --out was checked"))
    before = tree(tmp_path)
    assert run(["demo", "--out", out]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.err.startswith("jacobnet demo: error: --out ") and captured.err.count("\n") == 1 and captured.out == ""
    assert tree(tmp_path) == before


def test_a_huge_argument_is_not_echoed_whole(capsys):
    for argv in (["check", "--layers", "3," * 50_000 + "x"], ["check", "--activation", "é" * 100_000],
                 ["check", "--seed", "9" * 100_000], ["x" * 100_000], ["check", "--methods", "a," * 50_000]):
        assert run(argv) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and len(err) < 700, err[:200]


def test_library_messages_name_the_argument():
    with pytest.raises(TypeError, match=r"build_network: layers must be a spec string such as '3,4,2' or a list of sizes .* got NoneType None"):
        build_network(None)
    with pytest.raises(TypeError, match=r"jacobian_latex: J must be a SymPy matrix, got a Dense layer; .* show_jacobians\(layer\)"):
        jacobian_latex(jn.Dense(2, 2))
    with pytest.raises(ValueError, match=r"two_spirals: seed must be None or a non-negative integer, got -3"):
        two_spirals(seed=-3)
    with pytest.raises(TypeError, match=r"--activation expects a name such as 'tanh'"):
        build_network("3,4,2", activation=None)
    with pytest.raises(ValueError, match=r"unknown loss None"):
        build_network("3,4,2", loss=None)
    assert shorten("x" * 1000, 20).endswith("…(1000 characters)")


def test_the_weights_of_a_spec_are_checked_against_the_budget_before_any_is_made():
    spec = ",".join(["100000", "1"] * 3000)  # 6 000 Dense layers of 10⁵ parameters each: 4.5 GiB in all
    peak, seconds, err = peak_of(lambda: build_network(spec, loss="mse"))
    assert isinstance(err, JacobianMemoryError) and "the weights of a network of 6000 sizes" in str(err)
    assert peak < MiB and seconds < 1


def test_check_needs_two_sizes_and_says_so(capsys):
    assert run(["check", "--layers", "3"]) == EXIT_BAD_INPUT
    assert "--layers expects at least two sizes, input and output" in capsys.readouterr().err


def test_methods_max_size_and_per_layer_activations(capsys):
    assert run(["check", "--layers", "3,4,2", "--methods", "jacobian,finite-difference"]) == 0
    out = capsys.readouterr().out
    assert "jacobian vs finite-difference" in out and "symbolic" not in out
    assert run(["check", "--layers", "2,60"]) == 0
    out = capsys.readouterr().out
    assert "(no symbolic gradient: " in out and "raise --max-size" in out and "max_size=" not in out and "methods=(" not in out
    assert run(["check", "--layers", "2,60", "--methods", "jacobian,symbolic"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "over the limit of 2.5e+05 nodes (--max-size); raise --max-size" in err and "jacobnet.symbolic" not in err
    assert run(["check", "--layers", "2,60", "--max-size", "1e6", "--methods", "jacobian,symbolic"]) == 0
    assert "symbolic vs jacobian" in capsys.readouterr().out
    assert run(["check", "--layers", "3,5,4,2", "--activation", "relu,tanh"]) == 0
    assert "Network([Dense(3, 5), ReLU(), Dense(5, 4), Tanh(), Dense(4, 2)], SoftmaxCrossEntropy())" in capsys.readouterr().out
    for argv, words in ((["--methods", "jacobian"], "needs two or more different methods"),
                        (["--methods", "jacobian,autodiff"], "unknown method 'autodiff'"),
                        (["--max-size", "nan"], "--max-size: must be a positive number"),
                        (["--max-work", "-5"], "--max-work: must be a positive number"),
                        (["--activation", "relu,tanh"], "--activation gives 2 activations (relu,tanh) for 1 hidden layer")):
        assert run(["check", *argv]) == EXIT_BAD_INPUT
        assert words in capsys.readouterr().err


def test_the_figures_go_to_a_folder_of_their_own_and_the_command_says_where(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_write_heatmaps", lambda h: [h.out / "drawn.png"])
    for command in ("demo", "heatmap"):
        assert run([command]) == 0
        out = capsys.readouterr().out
        assert f"in jacobnet-figures/ ({tmp_path / 'jacobnet-figures'})" in out
    assert cli.DEFAULT_OUT == "jacobnet-figures" and tree(tmp_path) == []  # (nothing drawn: the writer was replaced)


# --- loose edges in the layers and the factors ----------------------------------------------------
def test_a_parameter_beyond_float64_is_refused_after_the_cast() -> None:
    d = jn.Dense(3, 2)
    with pytest.raises(ValueError, match=r"non-finite parameter 1e\+4000 at index 0 of 8 \(as float64\)"):
        d.set_params(np.full(8, np.longdouble("1e4000")))
    assert np.isfinite(d.get_params()).all()


def test_a_rule_parameter_beyond_float64_and_a_positional_size_are_named() -> None:
    with pytest.raises(ValueError, match=r"LeakyReLU: alpha must be finite, got 1000000000"):
        jn.LeakyReLU(10**400)
    with pytest.raises(TypeError, match=r"Tanh: takes no positional arguments \(an elementwise layer fits any size\), got 1"):
        jn.Tanh(1)


def test_a_factor_is_an_array() -> None:
    net = jn.build_network("3,2", "tanh", "mse")
    factor = net.trace(np.ones(3), np.zeros(2)).factor("J_x(Dense 1)")
    np.testing.assert_array_equal(np.asarray(factor), factor.dense())
    assert np.asarray(factor, dtype=np.float32).dtype == np.float32
