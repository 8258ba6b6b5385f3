"""The one parser of network specs, shared by every CLI command.

A spec is three small strings: ``--layers 3,4,2``, ``--activation tanh``,
``--loss softmax-ce``. They are matched against fixed tables and integer
patterns only; user text never reaches ``eval``, ``sympify`` or a pickle.

>>> net = build_network("3,4,2", activation="tanh", loss="softmax-ce", seed=0)
>>> net
Network([Dense(3, 4), Tanh(), Dense(4, 2)], SoftmaxCrossEntropy())
>>> parse_sizes("3,x")
Traceback (most recent call last):
...
ValueError: --layers expects comma-separated positive integers such as 3,4,2 (input, hidden…, output), got '3,x'
"""

from __future__ import annotations

import re

import numpy as np

from jacobnet.core.layer import Layer
from jacobnet.core.layers import ACTIVATIONS, Dense, Softmax
from jacobnet.core.losses import LOSSES
from jacobnet.core.validate import positive_int, seed_value
from jacobnet.net.network import Network

MAX_WIDTH = 100_000
_SIZES = re.compile(r"\s*[0-9]{1,9}\s*(,\s*[0-9]{1,9}\s*)+")  # ASCII digits only


def parse_sizes(text: str) -> list[int]:
    """``"3,4,2"`` → ``[3, 4, 2]``: at least two positive integers (input, …, output)."""
    if not isinstance(text, str) or not _SIZES.fullmatch(text):
        raise ValueError(f"--layers expects comma-separated positive integers such as 3,4,2 (input, hidden…, output), got {text!r}")
    sizes = [int(t) for t in text.split(",")]
    if min(sizes) < 1 or max(sizes) > MAX_WIDTH:
        raise ValueError(f"--layers sizes must be between 1 and {MAX_WIDTH}, got {text!r}")
    return sizes


def activation_class(name: str) -> type[Layer]:
    """The activation layer class for a name such as ``tanh`` or ``leaky-relu``."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(k.replace('_', '-') for k in ACTIVATIONS)}")
    return ACTIVATIONS[key]


def _checked_sizes(layers: list[int]) -> list[int]:
    """A list of layer sizes from code: two or more positive integers."""
    sizes = [positive_int(size, "each layer size") for size in layers]
    if len(sizes) < 2:
        raise ValueError(f"a network needs two or more layer sizes (input, …, output), got {list(layers)!r}")
    return sizes


def build_network(layers: str | list[int], activation: str = "tanh", loss: str = "softmax-ce", seed: int = 0) -> Network:
    """A network from a spec: Dense layers of the given sizes, the activation between them.

    ``loss``: ``mse`` (linear output), ``ce`` (a final Softmax, then cross-entropy on
    probabilities) or ``softmax-ce`` (fused, on logits). Layer ``k`` is seeded ``seed + k``.
    """
    sizes = parse_sizes(layers) if isinstance(layers, str) else _checked_sizes(layers)
    act = activation_class(activation)
    key = str(loss).strip().lower()
    if key not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if key != "mse" and sizes[-1] < 2:
        raise ValueError(f"a softmax over {sizes[-1]} class is constant (loss 0, gradient 0): "
                         f"give --loss {key} at least 2 outputs, or use --loss mse")
    seed_value(seed, "--seed", allow_none=False)
    stack: list[Layer] = []
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if k:
            stack.append(act())
        stack.append(Dense(n_in, n_out, seed=seed + k))
    if key == "ce":
        stack.append(Softmax())
    return Network(stack, LOSSES[key]())


def demo_sample(n_in: int, n_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible input ``x ~ N(0, 1)`` of shape ``(n_in,)`` and a one-hot target ``(n_out,)``.

    The sample every command (and the figure gallery) feeds a spec's network.

    >>> x, y = demo_sample(3, 2, seed=0)
    >>> x.shape, sorted(y.tolist())                 # y is one-hot
    ((3,), [0.0, 1.0])
    """
    rng = np.random.default_rng(seed + 1000)
    y = np.zeros(n_out)
    y[rng.integers(n_out)] = 1.0
    return rng.normal(size=n_in), y
