"""The package surface: what ``import jacobnet`` exports, what it loads, and its version."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

import jacobnet as jn


def test_import_loads_neither_sympy_nor_matplotlib() -> None:
    """``import jacobnet`` stays fast: SymPy (~0.2 s) and matplotlib load on first use only."""
    code = "import sys, jacobnet; print(sorted(m for m in ('sympy', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name, module", [
    ("viz", "jacobnet.viz"), ("check", "jacobnet.check"), ("symbolic", "jacobnet.symbolic"), ("chain", "jacobnet.chain"),
    ("memory", "jacobnet.core.memory"), ("report", "jacobnet.check.report"),
])
def test_submodules_are_attributes(name: str, module: str) -> None:
    assert getattr(jn, name).__name__ == module


def test_exports() -> None:
    from jacobnet.chain import Chain
    from jacobnet.check import check_jacobian, rel_error
    from jacobnet.check.report import compare_gradients
    from jacobnet.core.memory import JacobianMemoryError, memory_budget, set_budget
    from jacobnet.course.train import train
    from jacobnet.symbolic.guard import SymbolicSizeError

    assert (jn.Chain, jn.check_jacobian, jn.rel_error, jn.compare_gradients, jn.SymbolicSizeError) == (
        Chain, check_jacobian, rel_error, compare_gradients, SymbolicSizeError)
    assert (jn.JacobianMemoryError, jn.memory_budget, jn.set_budget, jn.train) == (
        JacobianMemoryError, memory_budget, set_budget, train)
    assert callable(jn.train)  # the function, even after `import jacobnet.course.train`
    for name in jn.__all__:
        assert getattr(jn, name) is not None
    assert {"viz", "train", "Chain", "rel_error"} <= set(dir(jn))


def test_unknown_attributes_raise() -> None:
    with pytest.raises(AttributeError, match="module 'jacobnet' has no attribute 'nothing'"):
        jn.nothing  # noqa: B018


def test_version_has_one_source() -> None:
    assert jn.__version__ == metadata.version("jacobnet")
