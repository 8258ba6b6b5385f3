"""The README's examples are executed, and its printed trace is what the code prints now."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(kind: str) -> list[str]:
    """The fenced code blocks whose info string is ``kind`` ('' for plain blocks), in order."""
    found, current, info = [], None, ""
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```") and current is None:
            current, info = [], line[3:].strip()
        elif line.startswith("```"):
            if info == kind:
                found.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return found


def test_the_readme_has_examples() -> None:
    assert len(blocks("python")) >= 2 and len(blocks("")) >= 1


def test_python_examples_run_and_the_shown_trace_is_current() -> None:
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks("python"):  # later examples continue the first one
            exec(compile(code, str(README), "exec"), namespace)  # our own file, not user text
    shown = [b.strip() for b in blocks("") if b.startswith("Backward pass of")]
    assert len(shown) >= 2 and blocks("")[0].strip() == shown[0]  # the straight chain's, then the residual network's
    for trace in shown:
        assert trace in out.getvalue(), f"README's trace differs from what the example prints now: {trace[:60]}…"


def test_flop_counts_in_the_readme_are_true() -> None:
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for code in blocks("python"):
            exec(compile(code, str(README), "exec"), namespace)
    chain = namespace["chain"]
    claimed = re.search(r"# (\d+) vs (\d+) multiply-adds", README.read_text(encoding="utf-8"))
    assert claimed is not None
    assert (chain.flops("reverse"), chain.flops("forward")) == (int(claimed[1]), int(claimed[2]))
    assert [f.shape for f in chain.factors] == [(1, 2), (2, 4), (4, 4), (4, 16)]


@pytest.mark.parametrize("name", ["demo", "check", "heatmap", "figures"])
def test_every_command_is_documented(name: str) -> None:
    from jacobnet.cli import COMMANDS

    assert name in COMMANDS and f"jacobnet {name}" in README.read_text(encoding="utf-8")
