"""The one parser of network specs, shared by every CLI command.

A spec is three small strings: ``--layers 3,4,2``, ``--activation tanh`` (or one
per hidden layer, ``relu,tanh``), ``--loss softmax-ce``. They are matched against
fixed tables and integer patterns only; user text never reaches ``eval``,
``sympify`` or a pickle, and a message quotes at most 80 characters of it.

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
from typing import Sequence

import numpy as np

from jacobnet.core.cost import cut_text, shorten
from jacobnet.core.layer import Layer
from jacobnet.core.layers import ACTIVATIONS, Dense, Softmax
from jacobnet.core.losses import LOSSES
from jacobnet.core.memory import check_budget
from jacobnet.core.numerics import F8
from jacobnet.core.validate import positive_int, seed_value
from jacobnet.net.network import Network

MAX_WIDTH = 100_000
MAX_SIZES = 10_000
"""At most this many sizes in a spec (a network of ~20 000 layers): what the other guards can still plan for."""
_SIZE = re.compile(r"[0-9]+")  # ASCII digits only (str.isdigit takes '٣' for 3)


def _echo(text: object) -> str:
    """``repr(text)`` for a message, cut to a readable length (a 100 KB argument is not echoed whole)."""
    return shorten(repr(text), 80)


def parse_sizes(text: str) -> list[int]:
    """``"3,4,2"`` → ``[3, 4, 2]``: at least two positive integers (input, …, output), each at most :data:`MAX_WIDTH`.

    >>> parse_sizes("3, 4,2")
    [3, 4, 2]
    >>> parse_sizes("3")
    Traceback (most recent call last):
    ...
    ValueError: --layers expects at least two sizes, input and output, such as 3,4,2 (input, hidden…, output), got '3'
    """
    usage = "such as 3,4,2 (input, hidden…, output)"
    if not isinstance(text, str):
        raise TypeError(f"--layers expects a string of comma-separated sizes {usage}, got {type(text).__name__} {_echo(text)}")
    tokens = [t.strip() for t in text.split(",", MAX_SIZES)]
    if not all(_SIZE.fullmatch(t) for t in tokens):
        raise ValueError(f"--layers expects comma-separated positive integers {usage}, got {_echo(text)}")
    if len(tokens) < 2:
        raise ValueError(f"--layers expects at least two sizes, input and output, {usage}, got {_echo(text)}")
    if len(tokens) > MAX_SIZES:
        raise ValueError(f"--layers gives more than {MAX_SIZES} sizes; give at most {MAX_SIZES}")
    if any(len(t) > 6 or not 1 <= int(t) <= MAX_WIDTH for t in tokens):
        raise ValueError(f"--layers sizes must be between 1 and {MAX_WIDTH}, got {_echo(text)}")
    return [int(t) for t in tokens]


def activation_class(name: str) -> type[Layer]:
    """The activation layer class for a name such as ``tanh`` or ``leaky-relu``.

    >>> activation_class("Leaky-ReLU").__name__
    'LeakyReLU'
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in ACTIVATIONS:
        raise ValueError(f"unknown activation {_echo(name)}; choose one of {', '.join(k.replace('_', '-') for k in ACTIVATIONS)}")
    return ACTIVATIONS[key]


def activation_classes(activation: str | Sequence[str], hidden: int) -> list[type[Layer]]:
    """One activation class per hidden layer: a name for all of them (``"tanh"``), or one name per hidden
    layer, comma-separated (``"relu,tanh"``) or as a list.

    >>> [c.__name__ for c in activation_classes("relu, tanh", 2)], [c.__name__ for c in activation_classes("relu", 3)]
    (['ReLU', 'Tanh'], ['ReLU', 'ReLU', 'ReLU'])
    >>> activation_classes("relu,tanh", 3)
    Traceback (most recent call last):
    ...
    ValueError: --activation gives 2 activations (relu,tanh) for 3 hidden layers: give one for all, or one per hidden layer
    """
    if isinstance(activation, str):
        names = activation.split(",", MAX_SIZES)
    elif isinstance(activation, Sequence) and activation and all(isinstance(a, str) for a in activation):
        names = list(activation)
    else:
        raise TypeError(f"--activation expects a name such as 'tanh', or one per hidden layer such as 'relu,tanh', "
                        f"got {type(activation).__name__} {_echo(activation)}")
    classes = [activation_class(name) for name in names]
    if len(classes) not in (1, hidden):
        given = shorten(",".join(n.strip() for n in names), 60)
        raise ValueError(f"--activation gives {len(classes)} activations ({given}) for {hidden} hidden layer"
                         f"{'' if hidden == 1 else 's'}: give one for all, or one per hidden layer")
    return classes * hidden if len(classes) == 1 else classes


def _checked_sizes(layers: object) -> list[int]:
    """A list of layer sizes from code: two or more positive integers."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"build_network: layers must be a spec string such as '3,4,2' or a list of sizes such as [3, 4, 2], "
                        f"got {type(layers).__name__} {_echo(layers)}")
    sizes = [positive_int(cut_text(size), "each layer size") for size in layers]
    if len(sizes) < 2:
        raise ValueError(f"a network needs two or more layer sizes (input, …, output), got {shorten(repr(list(layers)), 80)}")
    return sizes


def build_network(layers: str | Sequence[int], activation: str | Sequence[str] = "tanh", loss: str = "softmax-ce",
                  seed: int = 0) -> Network:
    """A network from a spec: Dense layers of the given sizes, an activation after each hidden one.

    ``layers``: ``"3,4,2"`` or ``[3, 4, 2]``. ``activation``: one name for every hidden layer,
    or one per hidden layer (``"relu,tanh"``, :func:`activation_classes`). ``loss``: ``mse``
    (linear output), ``ce`` (a final Softmax, then cross-entropy on probabilities) or
    ``softmax-ce`` (fused, on logits). Layer ``k`` is seeded ``seed + k``. The weights are
    checked against the memory budget before any is made.

    >>> build_network("3,5,4,2", activation="relu,tanh", loss="mse")
    Network([Dense(3, 5), ReLU(), Dense(5, 4), Tanh(), Dense(4, 2)], MSE())
    """
    sizes = parse_sizes(layers) if isinstance(layers, str) else _checked_sizes(layers)
    acts = activation_classes(activation, len(sizes) - 2)
    key = loss.strip().lower() if isinstance(loss, str) else None
    if key not in LOSSES:
        raise ValueError(f"unknown loss {_echo(loss)}; choose one of {', '.join(LOSSES)}")
    if key != "mse" and sizes[-1] < 2:
        raise ValueError(f"a softmax over {sizes[-1]} class is constant (loss 0, gradient 0): "
                         f"give --loss {key} at least 2 outputs, or use --loss mse")
    seed_value(cut_text(seed), "--seed", allow_none=False)
    n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes, sizes[1:]))
    check_budget(F8 * n_params, f"the weights of a network of {len(sizes)} sizes ({n_params} parameters)", "use smaller --layers")
    stack: list[Layer] = []
    for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if k:
            stack.append(acts[k - 1]())
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
