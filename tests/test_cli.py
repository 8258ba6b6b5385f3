"""The jacobnet command as a user meets it: one line and exit 2 for bad input, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jacobnet.cli import EXIT_BAD_INPUT, main


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "choose a command: demo, heatmap, check, figures"),
        (["check", "--layers", "-1,2"], "--layers expects comma-separated positive integers"),
        (["check", "--layers", "٣,٤"], "--layers expects comma-separated positive integers"),
        (["check", "--seed", "-1"], "argument --seed: must be a non-negative integer, got '-1'"),
        (["check", "--seed", "abc"], "argument --seed: must be a non-negative integer, got 'abc'"),
        (["check", "--layers", "3,1"], "a softmax over 1 class is constant"),
        (["check", "--layers", "300,300"], "(90300 parameters: 180600 loss evaluations of ~4.5e+05 operations) would take about 8.2e+10 operations (~82 s), over the cost limit"),
        (["check", "--layers", "100000,100000"], "would take 74.5 GiB, over the memory budget of 1 GiB"),
        (["heatmap", "--layers", "1000,1000"], "on the command line, use smaller --layers"),
        (["check", "--activation", "__import__('os')"], "unknown activation"),
        (["demo", "--out", ""], "--out must name a directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written where the user stands
    assert run(argv) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == "" and not any(tmp_path.iterdir())


def run(argv: list[str]) -> int:
    """``main``'s exit status, whether it returns it or argparse raises it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def test_out_that_is_a_file_fails_before_any_work(tmp_path, capsys) -> None:
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert main(["demo", "--out", str(target)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and "exists and is not a directory" in captured.err
    assert target.read_text() == "keep me"  # nothing is lost


def test_check_falls_back_when_the_network_is_too_big_for_sympy(capsys) -> None:
    assert main(["check", "--layers", "2,60"]) == 0  # (a softmax-cross-entropy row over 60 classes: over the guard)
    out = capsys.readouterr().out
    assert "no symbolic gradient" in out and "jacobian vs finite-difference" in out and "all methods agree" in out


def test_check_compares_three_methods_on_a_network_with_two_hidden_layers(capsys) -> None:
    assert main(["check", "--layers", "6,6,6"]) == 0  # the per-layer derivation admits it
    out = capsys.readouterr().out
    assert "symbolic (per layer)" in out and "symbolic vs finite-difference" in out and "all methods agree" in out


def test_demo_leaves_out_the_long_table_for_bigger_networks(tmp_path, capsys) -> None:
    assert main(["demo", "--layers", "8,8,4", "--out", str(tmp_path), "--entries"]) == 0
    out = capsys.readouterr().out
    assert "the per-parameter table is left out" in out and len(out.splitlines()) < 60


def test_a_closed_pipe_is_not_an_error(tmp_path) -> None:
    cmd = [sys.executable, "-m", "jacobnet", "demo", "--out", str(tmp_path)]
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        proc.stdout.readline()
        proc.stdout.close()  # like `jacobnet demo | head -1`
        assert proc.wait(timeout=120) == 0
    assert (tmp_path / "stderr.txt").read_bytes() == b""
