"""Ctrl-C while the ``jacobnet`` command is still loading: one line on stderr and exit 130, never a traceback.

The package installs the command's handler as its first statement (``jacobnet/__init__.py``),
before cli.main installs its own. The signal is sent at several moments after the start. Not
counted: a run that Python itself was still starting when the signal came (its traceback
names no file of the package: no handler of ours could exist yet), or that SIGINT's default
action ended silently before Python had installed any handler (a shell reports it as 130).
Every other run must end with status 130 and exactly one line on stderr.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jacobnet import _is_command

ROOT = Path(__file__).resolve().parents[1]
JACOBNET = Path(sys.executable).with_name("jacobnet")


def _interrupt(cmd: list[str], delay: float, cwd: Path) -> tuple[int, list[str]]:
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)  # (the demo draws into cwd)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    return p.returncode, err.decode(errors="replace").splitlines()


PACKAGE = f"{ROOT / 'jacobnet'}/"


def _before_the_package(lines: list[str]) -> bool:
    """Python's own report of a signal during its start-up (``site``, ``.pth`` files): it names no file of the package."""
    return bool(lines) and not any(PACKAGE in line for line in lines) and any("KeyboardInterrupt" in line for line in lines)


@pytest.mark.parametrize("how", ["-m", "script"])
def test_ctrl_c_while_loading_is_one_line_and_130(how, tmp_path):
    cmd = [sys.executable, "-m", "jacobnet", "demo"] if how == "-m" else [str(JACOBNET), "demo"]
    if how == "script" and not JACOBNET.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    counted = 0
    for delay in (0.02, 0.03, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.25):  # (the loading: later, cli.main's own handling)
        status, lines = _interrupt(cmd, delay, tmp_path)
        if status == 0:  # (the demo ended before the signal: nothing to see)
            continue
        if _before_the_package(lines) or (status == -signal.SIGINT and not lines):
            continue  # (before Python's own handler existed, SIGINT's default action ends it silently: a shell says 130)
        assert status == 130, (delay, status, "\n".join(lines))
        assert len(lines) == 1 and lines[0].startswith("jacobnet") and lines[0].endswith(": interrupted"), (delay, lines)
        counted += 1
    assert counted >= 3


def test_the_guard_is_only_for_the_command():
    assert _is_command(["-m", "demo"], ["python", "-m", "jacobnet", "demo"])
    assert not _is_command(["-m"], ["python", "-m", "pytest"])
    assert _is_command(["/venv/bin/jacobnet", "check"], [])
    assert not _is_command([sys.argv[0]], list(getattr(sys, "orig_argv", [])))  # (pytest itself)
    assert signal.getsignal(signal.SIGINT) is not None
