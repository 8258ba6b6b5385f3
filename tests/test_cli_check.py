"""``jacobnet check`` and the demo's three-way table: exit 0 when the methods agree,
1 when they disagree, 2 (one line on stderr, no traceback) for a bad or too-big spec."""

from __future__ import annotations

import subprocess
import sys

import pytest

import jacobnet.symbolic
import jacobnet.symbolic.compiled
import jacobnet.symbolic.guard
from jacobnet.cli import main

SPEC = ["--layers", "3,4,2", "--activation", "tanh", "--loss", "softmax-ce"]


def test_check_success(capsys):
    assert main(["check", *SPEC]) == 0
    out = capsys.readouterr().out
    assert "all methods agree" in out and "symbolic vs jacobian" in out and "W^{(1)}_{" in out
    assert "Network([Dense(3, 4), Tanh(), Dense(4, 2)], SoftmaxCrossEntropy())" in out


def test_check_entries(capsys):
    assert main(["check", "--layers", "2,3,1", "--activation", "relu", "--loss", "mse", "--entries"]) == 0
    out = capsys.readouterr().out
    assert "finite-difference" in out and "b^{(2)}_{1}" in out


def test_check_disagreement_exits_1(monkeypatch, capsys):
    real = jacobnet.symbolic.symbolic_gradient
    monkeypatch.setattr(jacobnet.symbolic, "symbolic_gradient", lambda net, x, y, **kw: real(net, x, y, **kw) * 1.01)
    assert main(["check", *SPEC]) == 1
    out = capsys.readouterr().out
    assert "METHODS DISAGREE" in out and "✗" in out


@pytest.mark.parametrize("args, message", [
    (["--layers", "3,x"], "--layers expects comma-separated positive integers"),
    (["--layers", "__import__('os').system('true')"], "--layers expects comma-separated positive integers"),
    (["--activation", "exp(x)"], "unknown activation 'exp(x)'"),
    (["--loss", "hinge"], "unknown loss 'hinge'"),
    (["--layers", "784,128,10"], "finite differences of dL/dθ of Network([Dense(784, 128), Tanh(), Dense(128, 10)], SoftmaxCrossEntropy()) (101770 parameters"),
])
def test_check_bad_spec_one_line_exit_2(args, message, capsys):
    assert main(["check", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_check_bad_seed_exits_2_through_argparse(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", "--seed", "one"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--seed: must be a non-negative integer, got 'one'" in err and err.count("\n") == 1


def test_real_process_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "jacobnet", "check", "--layers", "3,0,2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("jacobnet check: error:")


def test_demo_prints_the_summary_and_says_how_to_see_every_entry(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0 and "parameter by parameter: 26 rows)" in out and "\nW^{(1)}_{1,1} " not in out
    assert "all methods agree" in out


def test_demo_prints_three_way_comparison(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--entries"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("dL/dθ by each method, parameter by parameter"):]
    header = next(line for line in table.splitlines() if line.startswith("parameter"))
    assert header.split() == ["parameter", "jacobian", "symbolic", "finite-difference"]
    for label in ["W^{(1)}_{1,1}", "b^{(2)}_{2}"]:  # one row per parameter, first to last
        assert f"\n{label} " in table
    for pair in ["symbolic vs jacobian", "jacobian vs finite-difference", "symbolic vs finite-difference"]:
        assert pair in table
    assert "all methods agree" in table


def test_demo_skips_symbolic_for_big_networks(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(jacobnet.symbolic.guard, "MAX_EXPRESSION_SIZE", 10)
    monkeypatch.setattr(jacobnet.symbolic.compiled, "_CACHE", {})  # a compiled architecture is not guarded again
    monkeypatch.setattr("jacobnet.cli._write_heatmaps", lambda *a: [])
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(no symbolic gradient: symbolic Jacobians of Dense 1 (Dense(3, 4)) for the per-layer symbolic gradient" in out
    assert "jacobian vs finite-difference" in out and "symbolic vs" not in out
