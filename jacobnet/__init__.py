"""jacobnet: backpropagation as a product of explicit Jacobian matrices.

>>> import numpy as np
>>> import jacobnet as jn
>>> net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
>>> [f.shape for f in net.trace(np.ones(3), np.array([0.0, 1.0])).factors]
[(1, 2), (2, 10), (2, 4), (4, 4), (4, 16), (4, 3)]
>>> jn.rel_error(net.gradient(np.ones(3), np.array([0.0, 1.0])), np.zeros(26)) > 0
True

The house, one concept per subpackage, imports running one way
(``import-linter`` holds the order in ``make test``)::

    core  <  chain, symbolic  <  net  <  check  <  course  <  viz  <  cli

``import jacobnet`` loads NumPy only: the core, the chain, the network and the
training loop come with it. The checks (``jn.check``, ``jn.check_jacobian``,
``jn.compare_gradients``, …), SymPy (``jn.symbolic``) and matplotlib (``jn.viz``)
load on first use, and so does a module named by its short name (``jn.memory``,
``jn.rules``, ``jn.data``, …). ``jn.train`` is the training function.
"""

# ruff: noqa: E402
import os as _os  # noqa: I001 — first of all, with only modules Python has loaded at start-up: the command's guard below
import sys as _sys
import _signal


def _stop_early(signum: int, frame: object) -> None:
    """Ctrl-C (SIGTERM) while the command is loading the package: one line on stderr, exit 130 (143) at once."""
    try:
        _os.write(2, b"jacobnet: interrupted\n" if signum == _signal.SIGINT else b"jacobnet: terminated\n")
    except OSError:  # (stderr closed or full: the status still says it)
        pass
    _os._exit(128 + signum)


def _is_command(argv: list[str], orig_argv: list[str]) -> bool:
    """Whether this process is the ``jacobnet`` command: its console script, or ``python -m jacobnet`` (``argv[0]`` is ``-m`` while it loads).

    >>> _is_command(["-m", "demo"], ["python", "-m", "jacobnet", "demo"]), _is_command(["-m"], ["python", "-m", "pytest"])
    (True, False)
    >>> _is_command(["/venv/bin/jacobnet", "demo"], []), _is_command(["script.py"], ["python", "script.py"])
    (True, False)
    """
    if not argv:
        return False
    if argv[0] == "-m":
        return any(a == "-m" and b == "jacobnet" for a, b in zip(orig_argv, orig_argv[1:]))
    return _os.path.basename(argv[0]) in ("jacobnet", "jacobnet.exe")


if _is_command(_sys.argv, getattr(_sys, "orig_argv", [])):  # until cli.main installs its own handlers
    for _s in (_signal.SIGINT, _signal.SIGTERM):
        if _signal.getsignal(_s) in (_signal.default_int_handler, _signal.SIG_DFL):
            _signal.signal(_s, _stop_early)
    del _s

from importlib import import_module
from importlib.util import find_spec

from jacobnet.chain import Chain, Factor, PathSum, Trace
from jacobnet.core.attention import SelfAttention
from jacobnet.core.blocks import Block, Concat, Residual, Select, Sequential, Sum
from jacobnet.core.compose import Composition, Identity, OperatorSum, RowBlock, VStack
from jacobnet.core.conv import Conv1d, Conv2d
from jacobnet.core.cost import CostError, cost_limit, set_cost_limit
from jacobnet.core.layer import Layer, Param
from jacobnet.core.layers import Dense, Elementwise, LeakyReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh
from jacobnet.core.losses import MSE, CrossEntropy, Loss, SoftmaxCrossEntropy
from jacobnet.core.memory import JacobianMemoryError, memory_budget, set_budget
from jacobnet.core.norm import LayerNorm, LayerNormJacobian
from jacobnet.core.operators import DiagMinusOuter, Diagonal, Empty, HStack, KronRows, Matrix
from jacobnet.core.pool import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from jacobnet.core.rnn import RNN
from jacobnet.core.rules import Rule
from jacobnet.core.selection import Averaging, Selection
from jacobnet.core.toeplitz import BlockToeplitz, PatchRows
from jacobnet.core.tokens import TokenDiagRows, TokenKronRows, TokenMatrix
from jacobnet.course.train import train
from jacobnet.net import GRADIENT_METHODS, Network, build_network

_LAZY = {  # name → the module that defines it, imported on first use
    "check_jacobian": "check", "jacobian_fd": "check", "fd_gradient": "check", "rel_error": "check",
    "compare_gradients": "check", "GradientReport": "check",
    "SymbolicSizeError": "symbolic.guard",
}
_MODULES = {  # short names of the modules people reach for
    "memory": "core.memory", "rules": "core.rules", "operators": "core.operators", "layers": "core.layers",
    "blocks": "core.blocks", "compose": "core.compose", "paths": "chain.paths", "depth": "net.depth", "cost": "core.cost",
    "losses": "core.losses", "report": "check.report", "spec": "net.spec", "data": "course.data",
    "exercises": "course.exercises", "feedback": "course.feedback", "handout": "course.handout", "lessons": "course.lessons",
    "widgets": "viz.widgets", "gallery": "viz.gallery",
}

__all__ = [
    "Layer", "Param", "Dense", "Elementwise", "Rule", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "Softmax",
    "Loss", "MSE", "CrossEntropy", "SoftmaxCrossEntropy",
    "Block", "Residual", "Concat", "Sum", "Sequential", "Select", "RNN", "Conv1d", "Conv2d", "SelfAttention", "LayerNorm", "MaxPool1d", "AvgPool1d", "MaxPool2d", "AvgPool2d",
    "Matrix", "Diagonal", "DiagMinusOuter", "KronRows", "HStack", "Empty",
    "Identity", "Composition", "OperatorSum", "VStack", "RowBlock", "Selection", "Averaging", "BlockToeplitz", "PatchRows", "LayerNormJacobian", "TokenMatrix", "TokenKronRows", "TokenDiagRows",
    "Network", "GRADIENT_METHODS", "build_network", "Chain", "PathSum", "Factor", "Trace",
    "JacobianMemoryError", "memory_budget", "set_budget", "CostError", "cost_limit", "set_cost_limit", "train", *_LAZY,
]


def _version() -> str:
    """The installed distribution's version: the one source is pyproject.toml."""
    from importlib import metadata  # (only when asked)

    try:
        return metadata.version("jacobnet")
    except metadata.PackageNotFoundError:  # (a source tree that was never installed)
        return "0+unknown"


def __getattr__(name: str) -> object:
    """``__version__``, the lazy names of :data:`_LAZY`, the modules of :data:`_MODULES`, and every subpackage."""
    if name == "__version__":
        value: object = _version()
    elif name in _LAZY:
        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    elif name in _MODULES:
        value = import_module(f"{__name__}.{_MODULES[name]}")
    elif not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
