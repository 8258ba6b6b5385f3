"""What a :class:`~jacobnet.network.Network` refuses to be built from, with errors that say why.

A list of distinct :class:`~jacobnet.layers.Layer` instances (not one layer,
not a class, not the same object twice: shared weights would need the two
positions' gradients summed) and a :class:`~jacobnet.losses.Loss` instance
that fits the output (no softmax applied twice, no softmax over one class).
"""

from __future__ import annotations

from collections.abc import Iterable

from .layers import Layer, Softmax
from .losses import Loss, SoftmaxCrossEntropy


def checked_layers(layers: object) -> list[Layer]:
    """``layers`` as a list of distinct :class:`Layer` instances, or a clear error.

    >>> from jacobnet.layers import Dense, Tanh
    >>> checked_layers(Dense(3, 2))
    Traceback (most recent call last):
    ...
    TypeError: Network: layers must be a list of Layer objects, got a Dense
    >>> d = Dense(3, 3)
    >>> checked_layers([d, Tanh(), d])
    Traceback (most recent call last):
    ...
    ValueError: Network: layers 0 and 2 are the same Dense(3, 3) object; each position needs its own layer (shared weights are not supported: the gradient would be wrong), e.g. build a second one
    """
    if isinstance(layers, (Layer, type, str)) or not isinstance(layers, Iterable):
        what = _kind(layers)
        raise TypeError(f"Network: layers must be a list of Layer objects, got {what}")
    layers = list(layers)
    if not layers:
        raise ValueError("Network needs at least one layer")
    seen: dict[int, int] = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"Network: layer {i} must be a jacobnet Layer, got {_kind(layer)}")
        if id(layer) in seen:
            raise ValueError(
                f"Network: layers {seen[id(layer)]} and {i} are the same {layer!r} object; "
                "each position needs its own layer (shared weights are not supported: the "
                "gradient would be wrong), e.g. build a second one"
            )
        seen[id(layer)] = i
    return layers


def checked_loss(loss: object) -> Loss:
    """``loss`` if it is a :class:`Loss` instance; a class gets "pass an instance: MSE()"."""
    if isinstance(loss, type) and issubclass(loss, Loss):
        raise TypeError(f"Network: loss must be a Loss instance; pass an instance: {loss.__name__}()")
    if not isinstance(loss, Loss):
        raise TypeError(f"Network: loss must be a jacobnet Loss, got {_kind(loss)}")
    return loss


def check_loss_fits(layers: list[Layer], loss: Loss, names: list[str], sizes: list[int | None]) -> None:
    """Refuse the two compositions that are always a mistake: a softmax twice, a softmax over one class.

    >>> from jacobnet.layers import Dense
    >>> check_loss_fits([Dense(3, 1)], SoftmaxCrossEntropy(), ["Dense 1"], [1])
    Traceback (most recent call last):
    ...
    ValueError: Network: SoftmaxCrossEntropy over 1 output is a softmax over one class: always 1, loss constant, gradient 0; use at least 2 classes, or MSE for one output
    """
    last, fused = layers[-1], isinstance(loss, SoftmaxCrossEntropy)
    if fused and isinstance(last, Softmax):
        raise ValueError(
            f"Network: {names[-1]} followed by SoftmaxCrossEntropy applies softmax twice; "
            "drop the Softmax layer (SoftmaxCrossEntropy takes logits) or use CrossEntropy"
        )
    if sizes[-1] == 1 and (fused or isinstance(last, Softmax)):
        who = "SoftmaxCrossEntropy" if fused else f"{names[-1]} then {loss!r}"
        raise ValueError(
            f"Network: {who} over 1 output is a softmax over one class: always 1, loss constant, "
            "gradient 0; use at least 2 classes, or MSE for one output"
        )


def _kind(obj: object) -> str:
    """``"a Dense"``, ``"the class Tanh (pass an instance: Tanh())"``, ``"a str"``: for error messages."""
    if isinstance(obj, type):
        return f"the class {obj.__name__} (pass an instance: {obj.__name__}())"
    return f"a {type(obj).__name__}"
