"""Losses: a scalar ``L(ŷ, y)`` and its ``(1, n)`` Jacobian row ``∂L/∂ŷ``.

``forward`` returns a float: the loss of one sample, or the mean over a
batch ``(B, n)``. ``jacobian`` returns the ``(1, n)`` row of one sample, or the
stacked per-sample rows ``(B, 1, n)`` (the batch mean's ``1/B`` is applied
by the network, where the per-sample products are averaged).

A loss never hands back NaN or inf in silence: a prediction it cannot take —
non-finite, outside its domain, or one whose loss or row is beyond float64 —
raises :class:`PredictionError` (a ``ValueError``), which a network completes
with the layer that produced the prediction. The cross-entropy losses take
class indices as targets too (an integer, or an integer array ``(B,)``): each
is its one-hot row.

>>> import numpy as np
>>> MSE().jacobian(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))
array([[0.        , 1.33333333, 2.        ]])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from jacobnet.core.compose import Composition
from jacobnet.core.labels import entry_labels
from jacobnet.core.layer import key_of
from jacobnet.core.numerics import softmax, sum_others, sum_others_and_total
from jacobnet.core.operator import Operator
from jacobnet.core.operators import DiagMinusOuter, Diagonal, Matrix
from jacobnet.core.validate import all_finite, as_input, as_target, check_finite

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.sizes import Entry

Array = np.ndarray
FLOAT_MAX = float(np.finfo(np.float64).max)


class PredictionError(ValueError):
    """A prediction ``ŷ`` its loss cannot take, and why (``kind``).

    ``"non-finite"``: ``ŷ`` holds NaN or inf; ``"domain"``: ``ŷ`` is outside the loss's
    domain (a negative probability; ``ŷ_i = 0`` where ``y_i ≠ 0``, an infinite loss);
    ``"overflow"``: the loss, its row ``∂L/∂ŷ`` or its Hessian is beyond float64 at this ``ŷ``.
    A network catches it and adds which layer's output ``ŷ`` is, and why it is so
    (a parameter written into in place, a forward pass that overflowed).
    """

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


class Loss:
    """The Loss protocol.

    A loss writes the math, on arrays already validated: :meth:`apply`
    (the loss of each sample) and :meth:`row` (``∂L/∂ŷ`` of each sample,
    ``(n,)`` or ``(B, n)``), and may refuse inputs outside the loss's domain in
    :meth:`check_domain`. The checked doors ``forward``, ``per_sample`` and
    ``jacobian`` validate first (:meth:`checked`); a network validates its own
    output once with :meth:`checked_target`.

    ``input_symbol`` names the loss's input in labels: ``ŷ`` (a prediction), or
    ``z`` for a loss on logits; ``input_name`` says it in words.

    Its symbolic forms, optional: :meth:`sympy_loss` (the SymPy expression),
    :meth:`closed_form_row` (the hand-derived ``∂L/∂ŷ``, valid under
    :meth:`closed_form_assumes`), :meth:`symbolic_derivative` (the size estimate)
    and :meth:`key` (what a compiled gradient depends on).
    """

    name: str = "loss"
    input_symbol: str = "ŷ"
    input_name: str = "ŷ, the prediction"
    sympy_input: str = "yhat"
    """The name of the loss's input symbols in SymPy: ``yhat_1 …`` (``z_1 …`` for logits)."""
    takes_logits: bool = False
    """True for a loss with a softmax inside it (:class:`SoftmaxCrossEntropy`): its input is logits."""
    takes_class_indices: bool = False
    """True for a loss whose targets may be class indices (an integer per sample: its one-hot row)."""

    def prediction(self, out: Array) -> Array:
        """What the network predicts from its output ``a_L``: ``a_L`` itself, or ``softmax(a_L)`` for logits."""
        return softmax(out) if self.takes_logits else out

    def check_fits(self, last: Layer, last_name: str, size: int | None) -> None:
        """Refuse the two compositions that are always a mistake: a softmax twice, a softmax over one class.

        ``last`` is the network's last layer (named ``last_name``), ``size`` its output size.

        >>> from jacobnet.core.layers import Dense
        >>> SoftmaxCrossEntropy().check_fits(Dense(3, 1), "Dense 1", 1)
        Traceback (most recent call last):
        ...
        ValueError: Network: SoftmaxCrossEntropy over 1 output is a softmax over one class: always 1, loss constant, gradient 0; use at least 2 classes, or MSE for one output
        """
        if self.takes_logits and last.outputs_probabilities:
            raise ValueError(
                f"Network: {last_name} followed by {self.name} applies softmax twice; "
                f"drop the {type(last).__name__} layer ({self.name} takes logits) or use CrossEntropy"
            )
        if size == 1 and (self.takes_logits or last.outputs_probabilities):
            who = self.name if self.takes_logits else f"{last_name} then {self!r}"
            raise ValueError(
                f"Network: {who} over 1 output is a softmax over one class: always 1, loss constant, "
                "gradient 0; use at least 2 classes, or MSE for one output"
            )

    def checked(self, yhat: object, y: object) -> tuple[Array, Array]:
        """``(ŷ, y)`` as float64 arrays of one shape ``(n,)`` or ``(B, n)``, in the loss's domain, or raise.

        ``y`` may be class indices for a loss that :attr:`takes_class_indices` (:func:`~jacobnet.core.validate.as_target`).
        """
        yhat = as_input(yhat, self.name, what="prediction")
        return self.check_domain(yhat, as_target(y, yhat, self.name, classes=self.takes_class_indices))

    def checked_target(self, yhat: Array, y: object, copy: bool = True) -> tuple[Array, Array]:
        """:meth:`checked` for a prediction that is already a float64 ``(n,)`` or ``(B, n)`` array.

        What a network passes its own output ``a_L`` through (its input was
        validated once, at the network's door): ``y`` gets every check,
        ``ŷ`` only the NaN/inf one (a forward pass can overflow: :class:`PredictionError`)
        and the loss's domain check. ``copy=False``: a float64 ``y`` is used as it is
        (for a caller that keeps nothing of it).
        """
        if not all_finite(yhat):
            try:
                check_finite(yhat, self.name, "prediction")
            except ValueError as err:
                raise PredictionError(str(err), "non-finite") from None
        return self.check_domain(yhat, as_target(y, yhat, self.name, copy=copy, classes=self.takes_class_indices))

    def check_domain(self, yhat: Array, y: Array) -> tuple[Array, Array]:
        """``(ŷ, y)`` unchanged, or raise where the loss is undefined (e.g. log 0)."""
        return yhat, y

    def input_labels(self, n: int) -> list[str]:
        """The names of the loss's ``n`` inputs, the columns of ``J_loss``: ``ŷ_{1} … ŷ_{n}`` (or ``z_{j}``)."""
        return entry_labels(self.input_symbol, n)

    def per_sample(self, yhat: Array, y: Array) -> Array:
        """The loss of each sample: shape ``()`` for one sample, ``(B,)`` for a batch."""
        return self.values(*self.checked(yhat, y))

    def forward(self, yhat: Array, y: Array) -> float:
        """``L(ŷ, y)``, or the mean of the per-sample losses over a batch."""
        return self.mean(*self.checked(yhat, y))

    def jacobian(self, yhat: Array, y: Array) -> Array:
        """The row ``∂L/∂ŷ``: shape ``(1, n)``, or ``(B, 1, n)`` per sample; :class:`PredictionError` where it overflows float64."""
        yhat, y = self.checked(yhat, y)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            row = self.row(yhat, y)
        self._finite(row, yhat, y, "its row ∂L/∂ŷ")
        return row[..., None, :]

    def values(self, yhat: Array, y: Array) -> Array:
        """:meth:`apply` on validated arrays — ``()`` or ``(B,)`` — or :class:`PredictionError` where a loss overflows float64.

        >>> import numpy as np
        >>> MSE().values(np.array([1e200, 0.0]), np.zeros(2))
        Traceback (most recent call last):
        ...
        jacobnet.core.losses.PredictionError: MSE: the loss overflows float64 (inf) at the prediction ŷ, up to |ŷ| = 1e+200, and the target y, up to |y| = 0; rescale the data or the network
        """
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.apply(yhat, y)
        return self._finite(out, yhat, y, "the loss")

    def mean(self, yhat: Array, y: Array) -> float:
        """The loss of one sample, or the mean over a batch, on validated arrays (:meth:`values`)."""
        out = self.values(yhat, y)
        with np.errstate(over="ignore", invalid="ignore"):
            total = float(np.mean(out))
        return float(self._finite(np.array(total), yhat, y, "the batch's mean loss"))

    def _finite(self, out: Array, yhat: Array, y: Array, what: str) -> Array:
        """``out`` if every entry is finite, else :class:`PredictionError` saying that ``what`` overflows at this ``(ŷ, y)``."""
        if all_finite(out):
            return out
        bad = out[~np.isfinite(out)].flat[0]
        sizes = f"the prediction {self.input_symbol}, up to |{self.input_symbol}| = {np.max(np.abs(yhat)):.3g}, and the target y, up to |y| = {np.max(np.abs(y)):.3g}"
        raise PredictionError(f"{self.name}: {what} overflows float64 ({bad}) at {sizes}; rescale the data or the network", "overflow")

    def jacobian_op(self, yhat: Array, y: Array) -> Matrix:
        """``∂L/∂ŷ`` as a structured (dense row) operator; inputs already validated (:meth:`checked_target`)."""
        return Matrix(self.row(yhat, y)[..., None, :])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def apply(self, yhat: Array, y: Array) -> Array:
        """The loss of each sample, ``()`` or ``(B,)``, on validated arrays."""
        raise NotImplementedError

    def row(self, yhat: Array, y: Array) -> Array:
        """``∂L/∂ŷ`` of each sample, ``(n,)`` or ``(B, n)``, on validated arrays."""
        raise NotImplementedError

    def hessian_op(self, yhat: Array, y: Array) -> Operator:
        """``H_ℓ = ∂²L/∂ŷ²`` of each sample as a structured operator, per-sample ``(n, n)`` (``batch=B``), on validated arrays.

        The curvature of the loss in the network's output: ``Jᵀ H_ℓ J`` is the
        Gauss–Newton matrix, and ``H_ℓ R{a_L}`` seeds the R-backward pass of a Hessian.
        """
        raise NotImplementedError(f"hessian: {self.name} does not define hessian_op(yhat, y), its Hessian in the prediction")

    # --- symbolic forms (optional) ------------------------------------------------
    def sympy_loss(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """The loss of one sample as a SymPy expression of the input symbols ``yhat`` and targets ``y`` (length ``n``)."""
        raise TypeError(f"no symbolic form for loss {self!r}: {type(self).__name__} defines no sympy_loss")

    def closed_form_row(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """The hand-derived row ``∂L/∂ŷ`` as a SymPy matrix — shape ``(1, n)`` — never computed by SymPy."""
        raise TypeError(f"no closed form for loss {self!r}: {type(self).__name__} defines no closed_form_row")

    def closed_form_assumes(self, y: Sequence[Any]) -> dict:
        """The substitution on the targets ``y`` under which :meth:`closed_form_row` holds: none, ``{}``."""
        return {}

    def closed_form_hessian(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """The hand-derived ``H_ℓ = ∂²L/∂ŷ²`` as a SymPy matrix — ``(n, n)`` — never computed by SymPy (under :meth:`closed_form_assumes`)."""
        raise TypeError(f"no closed-form Hessian for loss {self!r}: {type(self).__name__} defines no closed_form_hessian")

    def symbolic_derivative(self, n: int, u: Entry, m: float, d: float) -> float:
        """Nodes of ``∂L/∂θ`` for a parameter on which ``m`` of the ``n`` inputs (each like ``u``) depend, ``d`` nodes each.

        Default, pessimistic: every input appears in each ``∂L/∂ŷ_i``,
        ``m (n (s + 1) + d + 6) + 1`` (:mod:`jacobnet.core.sizes`).
        """
        return m * (n * (u.s + 1) + d + 6) + 1

    def key(self) -> tuple:
        """What the loss's symbolic form depends on: its class and its public scalar attributes.

        >>> MSE().key() == MSE().key(), MSE().key() == CrossEntropy().key()
        (True, False)
        """
        hyper = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return (type(self).__module__, type(self).__qualname__, key_of(hyper, type(self).__name__))


class MSE(Loss):
    """``L = (1/n) Σ_i (ŷ_i − y_i)²``; ``∂L/∂ŷ = (2/n)(ŷ − y)ᵀ`` — shape ``(1, n)``.

    >>> import numpy as np
    >>> MSE().forward(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    2.5
    """

    name = "MSE"

    def apply(self, yhat: Array, y: Array) -> Array:
        return np.mean((yhat - y) ** 2, axis=-1)

    def row(self, yhat: Array, y: Array) -> Array:
        return (yhat - y) * (2.0 / yhat.shape[-1])  # (2/n ≤ 1 first: no overflow where ŷ − y is finite and n ≥ 2)

    def hessian_op(self, yhat: Array, y: Array) -> Diagonal:
        """``H_ℓ = (2/n) I`` — ``(n, n)``, whatever ``ŷ`` and ``y``.

        >>> import numpy as np
        >>> MSE().hessian_op(np.zeros(4), np.ones(4)).dense()[0]
        array([0.5, 0. , 0. , 0. ])
        """
        return Diagonal(np.full(yhat.shape, 2.0 / yhat.shape[-1]))

    def sympy_loss(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """``(1/n) Σ_i (ŷ_i − y_i)²``."""
        import sympy as sp

        return sp.Add(*((a - t) ** 2 for a, t in zip(yhat, y))) / len(yhat)

    def closed_form_row(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """``(2/n)(ŷ − y)ᵀ`` — shape ``(1, n)``."""
        import sympy as sp

        return sp.Rational(2, len(yhat)) * sp.Matrix([[a - t for a, t in zip(yhat, y)]])

    def closed_form_hessian(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """``(2/n) I_n``."""
        import sympy as sp

        return sp.Rational(2, len(yhat)) * sp.eye(len(yhat))

    def symbolic_derivative(self, n: int, u: Entry, m: float, d: float) -> float:
        """``Σ_i (2/n)(ŷ_i − y_i) ∂ŷ_i``, over the ``m`` dependent ``ŷ_i``: ``m (s + d + 6) + 1`` nodes."""
        return m * (u.s + d + 6) + 1


class CrossEntropy(Loss):
    """``L = −Σ_i y_i log ŷ_i`` on probabilities ``ŷ``; ``∂L/∂ŷ = −(y / ŷ)ᵀ`` — shape ``(1, n)``.

    Terms with ``y_i = 0`` contribute 0 (also when ``ŷ_i = 0``). Targets are
    one-hot vectors, distributions or class indices. ``ŷ`` must be probabilities, each in
    ``[0, 1]`` (end the network with ``Softmax``), and ``ŷ_i > 0`` wherever
    ``y_i ≠ 0`` (else the loss is infinite): anything else raises and points
    to ``SoftmaxCrossEntropy``, the stable loss on logits. ``Σ ŷ = 1`` is not
    required: ``J_loss = ∂L/∂ŷ`` is the derivative on the whole box
    ``(0, 1]ⁿ``, where finite differences perturb one entry at a time and
    leave the simplex (a softmax output is on it anyway).

    A saturated softmax gives a ``ŷ_i`` so small that ``y_i / ŷ_i`` is beyond float64
    (``ŷ_i < |y_i| / 1.8e308``, about ``5.6e-309`` for a one-hot target: logits 710 apart):
    the row ``∂L/∂ŷ`` (and below ``≈1e-154`` the Hessian ``y / ŷ²``) cannot be formed, and
    raises :class:`PredictionError` rather than pass ``inf`` on to become NaN in the gradient.
    ``SoftmaxCrossEntropy`` on the logits has the row ``s − y``, finite at any logits.

    >>> import numpy as np
    >>> CrossEntropy().jacobian(np.array([0.25, 0.5, 0.25]), np.array([0.0, 1.0, 0.0]))
    array([[ 0., -2.,  0.]])
    >>> CrossEntropy().forward(np.array([2.0, 3.0]), np.array([1.0, 0.0]))
    Traceback (most recent call last):
    ...
    jacobnet.core.losses.PredictionError: CrossEntropy expects probabilities 0 ≤ ŷ ≤ 1, with ŷ > 0 wherever the target is nonzero; got ŷ = 2 at index (0,); end the network with Softmax, or use SoftmaxCrossEntropy on logits
    >>> CrossEntropy().jacobian(np.array([1.0, 4e-309]), np.array([0.0, 1.0]))
    Traceback (most recent call last):
    ...
    jacobnet.core.losses.PredictionError: CrossEntropy: ∂L/∂ŷ_{2} = −y_{2}/ŷ_{2} is beyond float64 at ŷ_{2} = 4e-309, y_{2} = 1 (|y/ŷ| > 1.8e308: the prediction of a saturated softmax); use SoftmaxCrossEntropy on the logits (without the final Softmax), whose row s − y stays finite at any logits
    """

    name = "CrossEntropy"
    takes_class_indices = True

    def check_domain(self, yhat: Array, y: Array) -> tuple[Array, Array]:
        bad = (yhat < 0) | (yhat > 1)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise PredictionError(
                "CrossEntropy expects probabilities 0 ≤ ŷ ≤ 1, with ŷ > 0 wherever the target is nonzero; "
                f"got ŷ = {yhat[where]:.6g} at index {where}; end the network with Softmax, "
                "or use SoftmaxCrossEntropy on logits", "domain"
            )
        zero = (yhat == 0) & (y != 0)
        if zero.any():
            where = tuple(int(i) for i in np.argwhere(zero)[0])
            raise PredictionError(
                "CrossEntropy expects probabilities 0 ≤ ŷ ≤ 1, with ŷ > 0 wherever the target is nonzero; "
                f"got ŷ = 0 at index {where} where the target is {y[where]:.6g}: the loss −y log ŷ is infinite there "
                "(a softmax saturated to 0 in float64, logits more than 745 apart); use SoftmaxCrossEntropy on logits, "
                "which stays finite at any logits", "domain"
            )
        return yhat, y

    def apply(self, yhat: Array, y: Array) -> Array:
        safe = np.where(y != 0, yhat, 1.0)
        return -np.sum(y * np.log(safe), axis=-1)

    def row(self, yhat: Array, y: Array) -> Array:
        self._representable(yhat, y, 1)
        return np.divide(-y, yhat, out=np.zeros_like(y), where=y != 0)  # (−y: no −0 where y = 0)

    def hessian_op(self, yhat: Array, y: Array) -> Diagonal:
        """``H_ℓ = diag(y / ŷ²)`` — ``(n, n)`` (0 where ``y_i = 0``).

        >>> import numpy as np
        >>> CrossEntropy().hessian_op(np.array([0.25, 0.5, 0.25]), np.array([0.0, 1.0, 0.0])).d
        array([0., 4., 0.])
        """
        self._representable(yhat, y, 2)
        return Diagonal(np.divide(y, yhat * yhat, out=np.zeros_like(y), where=y != 0))

    def _representable(self, yhat: Array, y: Array, power: int) -> None:
        """Raise :class:`PredictionError` where ``|y| / ŷ^power`` is beyond float64 (``ŷ`` in ``(0, 1]``: no product overflows)."""
        with np.errstate(under="ignore"):
            scale = yhat * FLOAT_MAX if power == 1 else yhat * yhat * FLOAT_MAX
        big = np.abs(y) > scale
        if not big.any():
            return
        where = tuple(int(i) for i in np.argwhere(big)[0])
        j, sample = where[-1] + 1, f" in sample {where[0] + 1}" if yhat.ndim == 2 else ""
        what = f"∂L/∂ŷ_{{{j}}} = −y_{{{j}}}/ŷ_{{{j}}}" if power == 1 else f"the Hessian entry y_{{{j}}}/ŷ_{{{j}}}²"
        raise PredictionError(
            f"CrossEntropy: {what} is beyond float64 at ŷ_{{{j}}} = {yhat[where]:.3g}, y_{{{j}}} = {y[where]:.6g}{sample} "
            f"(|y/ŷ{'²' if power == 2 else ''}| > 1.8e308: the prediction of a saturated softmax); use SoftmaxCrossEntropy "
            "on the logits (without the final Softmax), whose row s − y stays finite at any logits", "overflow"
        )

    def sympy_loss(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """``−Σ_i y_i log ŷ_i``."""
        import sympy as sp

        return -sp.Add(*(t * sp.log(a) for a, t in zip(yhat, y)))

    def closed_form_row(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """``−(y / ŷ)ᵀ`` — shape ``(1, n)``."""
        import sympy as sp

        return -sp.Matrix([[t / a for a, t in zip(yhat, y)]])

    def closed_form_hessian(self, yhat: Sequence[Any], y: Sequence[Any]) -> Any:
        """``diag(y / ŷ²)``."""
        import sympy as sp

        return sp.diag(*[t / a**2 for a, t in zip(yhat, y)])

    def symbolic_derivative(self, n: int, u: Entry, m: float, d: float) -> float:
        """``−Σ_i (y_i / ŷ_i) ∂ŷ_i``, over the ``m`` dependent ``ŷ_i``: ``m (s + d + 6) + 1`` nodes."""
        return m * (u.s + d + 6) + 1


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
    takes_class_indices = True
    input_symbol = "z"  # its input is the logits, not a prediction
    input_name = "z, the logits"
    sympy_input = "z"
    takes_logits = True

    def apply(self, z: Array, y: Array) -> Array:
        top = z.argmax(axis=-1)[..., None]
        shifted = z - np.take_along_axis(z, top, axis=-1)  # ≤ 0: exp never overflows
        rest = np.exp(shifted)
        np.put_along_axis(rest, top, 0.0, axis=-1)  # Σ e = 1 + Σ rest: log1p keeps tiny losses exact
        log_s = shifted - np.log1p(rest.sum(axis=-1, keepdims=True))
        terms = np.multiply(y, log_s, out=np.zeros_like(log_s), where=y != 0)  # (y_i = 0 adds 0, even where log s_i = −inf)
        return -np.sum(terms, axis=-1)

    def row(self, z: Array, y: Array) -> Array:
        # (Σ_j y_j) s_i − y_i = s_i Σ_{j≠i} y_j − y_i Σ_{j≠i} s_j = (e_i Σ_{j≠i} y_j − y_i Σ_{j≠i} e_j) / Σ_j e_j
        # with e = exp(z − max z) ∈ (0, 1]: no 1 − s_i cancellation, and one division
        e = z - np.maximum.reduce(z, axis=-1, keepdims=True)
        np.exp(e, out=e)
        others, total = sum_others_and_total(e)  # Σ_{j≠i} e_j and Σ_j e_j ≥ 1, in one product
        r = e * sum_others(y)
        r -= y * others
        r /= total
        return r

    def hessian_op(self, z: Array, y: Array) -> Operator:
        """``H_ℓ = (Σ_i y_i)(diag(s) − s sᵀ)``, ``s = softmax(z)`` — ``(n, n)``: the softmax Jacobian (``Σ y = 1``).

        >>> import numpy as np
        >>> SoftmaxCrossEntropy().hessian_op(np.zeros(2), np.array([1.0, 0.0])).dense()
        array([[ 0.25, -0.25],
               [-0.25,  0.25]])
        """
        op = DiagMinusOuter(softmax(z))
        total = np.sum(y, axis=-1, keepdims=True)
        return op if np.all(total == 1.0) else Composition([Diagonal(np.broadcast_to(total, z.shape).copy()), op])

    def sympy_loss(self, z: Sequence[Any], y: Sequence[Any]) -> Any:
        """``−Σ_i y_i (z_i − log Σ_j exp z_j)`` (unshifted: the textbook form)."""
        import sympy as sp

        lse = sp.log(sp.Add(*(sp.exp(zi) for zi in z)))
        return -sp.Add(*(t * (zi - lse) for zi, t in zip(z, y)))

    def closed_form_row(self, z: Sequence[Any], y: Sequence[Any]) -> Any:
        """``(s − y)ᵀ`` with ``s = softmax(z)`` — shape ``(1, n)``; it holds when ``Σ y = 1`` (:meth:`closed_form_assumes`)."""
        import sympy as sp

        e = sp.Matrix([[sp.exp(zi) for zi in z]])
        return e / sum(e) - sp.Matrix([list(y)])

    def closed_form_hessian(self, z: Sequence[Any], y: Sequence[Any]) -> Any:
        """``diag(s) − s sᵀ`` with ``s = softmax(z)`` — ``(n, n)``; it holds when ``Σ y = 1`` (:meth:`closed_form_assumes`)."""
        import sympy as sp

        e = sp.Matrix([sp.exp(zi) for zi in z])
        s = e / sum(e)
        return sp.diag(*s) - s * s.T

    def closed_form_assumes(self, y: Sequence[Any]) -> dict:
        """``Σ y = 1``, as ``{y_n: 1 − Σ_{i<n} y_i}``."""
        return {y[-1]: 1 - sum(y[:-1])}

    def symbolic_derivative(self, n: int, u: Entry, m: float, d: float) -> float:
        """``∂ log Σ exp z`` once per ``i``: ``n (Σ + 8 + m (s + d + 3)) + m d`` nodes, ``Σ = 1 + n (s + 1)``."""
        total = 1 + n * (u.s + 1)
        return n * (total + 8 + m * (u.s + d + 3)) + m * d


LOSSES: dict[str, type[Loss]] = {"mse": MSE, "ce": CrossEntropy, "softmax-ce": SoftmaxCrossEntropy}
