"""jacobnet: backpropagation as a product of explicit Jacobian matrices.

>>> import numpy as np
>>> import jacobnet as jn
>>> net = jn.Network([jn.Dense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.SoftmaxCrossEntropy())
>>> [f.shape for f in net.trace(np.ones(3), np.array([0.0, 1.0])).factors]
[(1, 2), (2, 10), (2, 4), (4, 4), (4, 16), (4, 3)]
>>> jn.rel_error(net.gradient(np.ones(3), np.array([0.0, 1.0])), np.zeros(26)) > 0
True

``import jacobnet`` loads NumPy only. The checkers (``check_jacobian``,
``rel_error``, ``compare_gradients``, ``SymbolicSizeError``) and every submodule
(``jn.viz``, ``jn.check``, ``jn.symbolic``, ``jn.chain``, …) load on first use.
``jn.train`` is the training function (the module is ``jacobnet.train``).
"""

from importlib import import_module
from importlib.util import find_spec

from .chain import Chain, Factor, Trace
from .layers import Dense, LeakyReLU, Layer, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .losses import MSE, CrossEntropy, Loss, SoftmaxCrossEntropy
from .memory import JacobianMemoryError, memory_budget, set_budget
from .network import GRADIENT_METHODS, Network
from .spec import build_network
from .train import train

_LAZY = {  # name → the module that defines it, imported on first use
    "check_jacobian": "check", "jacobian_fd": "check", "fd_gradient": "check", "rel_error": "check",
    "compare_gradients": "report", "GradientReport": "report",
    "SymbolicSizeError": "symbolic_size",
}

__all__ = [
    "Layer", "Dense", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "Softmax",
    "Loss", "MSE", "CrossEntropy", "SoftmaxCrossEntropy",
    "Network", "GRADIENT_METHODS", "build_network", "Chain", "Factor", "Trace",
    "JacobianMemoryError", "memory_budget", "set_budget", "train", *_LAZY,
]



def _version() -> str:
    """The installed distribution's version: the one source is pyproject.toml."""
    from importlib import metadata  # (~25 ms: only when asked)

    try:
        return metadata.version("jacobnet")
    except metadata.PackageNotFoundError:  # (a source tree that was never installed)
        return "0+unknown"


def __getattr__(name: str) -> object:
    """``__version__``, the lazy names of :data:`_LAZY`, and any submodule: ``jn.viz``, ``jn.check``, …"""
    if name == "__version__":
        value: object = _version()
    elif name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    elif not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
