"""Losses: a scalar ``L(ŷ, y)`` and its ``(1, n)`` Jacobian row ``∂L/∂ŷ``.

``forward`` returns a float: the loss of one sample, or the mean over a
batch ``(B, n)``. ``jacobian`` returns the ``(1, n)`` row of one sample, or the
stacked per-sample rows ``(B, 1, n)`` (the batch mean's ``1/B`` is applied
by the network, where the per-sample products are averaged).

>>> import numpy as np
>>> MSE().jacobian(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))
array([[0.        , 1.33333333, 2.        ]])
"""

from __future__ import annotations

import numpy as np

from .structure import Matrix, sum_others
from .validate import as_input, as_target, check_finite

Array = np.ndarray


class Loss:
    """The Loss protocol: ``per_sample`` and ``_row`` on validated arrays."""

    name: str = "loss"

    def _checked(self, yhat: object, y: object) -> tuple[Array, Array]:
        return self._checked_target(as_input(yhat, self.name, what="prediction"), y)

    def _checked_target(self, yhat: Array, y: object) -> tuple[Array, Array]:
        """Check ``y`` against a prediction that is already a float64 ``(n,)`` or ``(B, n)`` array.

        What a network passes its own output ``a_L`` through (its input was
        validated once, in :meth:`Network.check_input`): ``y`` gets every check,
        ``ŷ`` only the NaN/inf one, since a forward pass can still overflow.
        """
        return check_finite(yhat, self.name, "prediction"), as_target(y, yhat, self.name)

    def per_sample(self, yhat: Array, y: Array) -> Array:
        """The loss of each sample: shape ``()`` for one sample, ``(B,)`` for a batch."""
        return self._per_sample(*self._checked(yhat, y))

    def forward(self, yhat: Array, y: Array) -> float:
        """``L(ŷ, y)``, or the mean of the per-sample losses over a batch."""
        return float(np.mean(self.per_sample(yhat, y)))

    def jacobian(self, yhat: Array, y: Array) -> Array:
        """The row ``∂L/∂ŷ``: shape ``(1, n)``, or ``(B, 1, n)`` per sample."""
        return self._row(*self._checked(yhat, y))[..., None, :]

    def jacobian_op(self, yhat: Array, y: Array) -> Matrix:
        """``∂L/∂ŷ`` as a structured (dense row) operator; inputs already validated."""
        return Matrix(self._row(yhat, y)[..., None, :])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _per_sample(self, yhat: Array, y: Array) -> Array:
        raise NotImplementedError

    def _row(self, yhat: Array, y: Array) -> Array:
        raise NotImplementedError


class MSE(Loss):
    """``L = (1/n) Σ_i (ŷ_i − y_i)²``; ``∂L/∂ŷ = (2/n)(ŷ − y)ᵀ`` — shape ``(1, n)``.

    >>> import numpy as np
    >>> MSE().forward(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    2.5
    """

    name = "MSE"

    def _per_sample(self, yhat: Array, y: Array) -> Array:
        return np.mean((yhat - y) ** 2, axis=-1)

    def _row(self, yhat: Array, y: Array) -> Array:
        return 2.0 * (yhat - y) / yhat.shape[-1]


class CrossEntropy(Loss):
    """``L = −Σ_i y_i log ŷ_i`` on probabilities ``ŷ``; ``∂L/∂ŷ = −(y / ŷ)ᵀ`` — shape ``(1, n)``.

    Terms with ``y_i = 0`` contribute 0 (also when ``ŷ_i = 0``). Targets are
    one-hot vectors or distributions. A zero probability on a positive target
    is an infinite loss and raises: use ``SoftmaxCrossEntropy`` on logits.

    >>> import numpy as np
    >>> CrossEntropy().jacobian(np.array([0.25, 0.5, 0.25]), np.array([0.0, 1.0, 0.0]))
    array([[-0., -2., -0.]])
    """

    name = "CrossEntropy"

    def _checked_target(self, yhat: Array, y: object) -> tuple[Array, Array]:
        yhat, y = super()._checked_target(yhat, y)
        if np.any(yhat < 0) or np.any((yhat == 0) & (y != 0)):
            raise ValueError(
                "CrossEntropy expects probabilities ŷ ≥ 0 with ŷ > 0 wherever the target is nonzero, "
                f"got min ŷ = {yhat.min():.3g}; use SoftmaxCrossEntropy on logits for a stable loss"
            )
        return yhat, y

    def _per_sample(self, yhat: Array, y: Array) -> Array:
        safe = np.where(y != 0, yhat, 1.0)
        return -np.sum(y * np.log(safe), axis=-1)

    def _row(self, yhat: Array, y: Array) -> Array:
        return -np.divide(y, yhat, out=np.zeros_like(y), where=y != 0)


class SoftmaxCrossEntropy(Loss):
    """Cross-entropy of ``softmax(z)`` on logits ``z``, fused and stable.

    ``L = −Σ_i y_i log s_i`` with ``log s = z − logsumexp(z)``; ``∂L/∂z = ((Σ_i y_i) s − y)ᵀ`` with
    ``s = softmax(z)`` — shape ``(1, n)``, which is ``s − y`` for a one-hot or
    distribution target. Computed as ``s_i Σ_{j≠i} y_j − y_i Σ_{j≠i} s_j`` and
    with ``log1p`` in the loss, so that a confident, correct prediction
    (``s_k → 1``) still gets its tiny loss and gradient to full relative accuracy.

    >>> import numpy as np
    >>> SoftmaxCrossEntropy().jacobian(np.array([0.0, 0.0, 1000.0]), np.array([1.0, 0.0, 0.0]))
    array([[-1.,  0.,  1.]])
    """

    name = "SoftmaxCrossEntropy"

    def _per_sample(self, z: Array, y: Array) -> Array:
        top = z.argmax(axis=-1)[..., None]
        shifted = z - np.take_along_axis(z, top, axis=-1)  # ≤ 0: exp never overflows
        rest = np.exp(shifted)
        np.put_along_axis(rest, top, 0.0, axis=-1)  # Σ e = 1 + Σ rest: log1p keeps tiny losses exact
        log_s = shifted - np.log1p(rest.sum(axis=-1, keepdims=True))
        return -np.sum(y * log_s, axis=-1)

    def _row(self, z: Array, y: Array) -> Array:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        s = e / e.sum(axis=-1, keepdims=True)
        # (Σ_j y_j) s_i − y_i = s_i Σ_{j≠i} y_j − y_i Σ_{j≠i} s_j: no 1 − s_i cancellation
        return s * sum_others(y) - y * sum_others(s)


LOSSES: dict[str, type[Loss]] = {"mse": MSE, "ce": CrossEntropy, "softmax-ce": SoftmaxCrossEntropy}
