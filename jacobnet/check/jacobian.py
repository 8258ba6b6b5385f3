"""Checking a claimed Jacobian against finite differences or the complex step, entry by entry.

:func:`check_jacobian` takes ``f: ℝⁿ → ℝᵐ``, a point and a claimed ``(m, n)``
Jacobian, computes a reference (:func:`~jacobnet.core.finite.jacobian_fd` or
:func:`~jacobnet.core.finite.jacobian_complex_step`) and names every wrong entry
(:func:`~jacobnet.check.entries.entry_errors`, also what the course's answer checker uses).

>>> import numpy as np
>>> f = lambda v: np.array([v[0] * v[1], v[1] + 3 * v[2]])
>>> check_jacobian(f, np.array([1.0, 2.0, 3.0]), [[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]]).ok
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from jacobnet.check.entries import WrongEntry, entry_errors
from jacobnet.core.cost import check_cost
from jacobnet.core.finite import LAYER_OPS, SET_OPS, as_point, jacobian_complex_step, jacobian_fd, rel_error

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer

Array = np.ndarray
TOLERANCES = {"central": 1e-6, "complex-step": 1e-10}
"""Default ``rtol`` of :func:`check_jacobian` per method (norm-wise, as :func:`~jacobnet.core.finite.rel_error`)."""


@dataclass
class JacobianCheck:
    """A claimed Jacobian ``got`` against a reference ``expected`` (both ``(m, n)``).

    ``wrong`` lists every entry with ``|got − expected| > rtol · max|expected| + atol``
    (norm-wise, like :func:`rel_error`; :func:`entry_errors`), worst first; ``ok`` when there is none.
    """

    method: str
    expected: Array
    got: Array
    rtol: float
    atol: float
    wrong: Sequence[WrongEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.wrong

    @property
    def rel_error(self) -> float:
        """:func:`rel_error` of ``got`` against ``expected``."""
        return rel_error(self.got, self.expected)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        shape = self.expected.shape
        if self.ok:
            return f"✓ Jacobian {shape} agrees with {self.method} (relative error {self.rel_error:.2g} ≤ {self.rtol:g})"
        head = f"✗ {len(self.wrong)} of {self.expected.size} entries of the Jacobian {shape} disagree with {self.method}:"
        more = [f"  … and {len(self.wrong) - 10} more"] if len(self.wrong) > 10 else []
        return "\n".join([head, *(f"  {w}" for w in self.wrong[:10]), *more])


def check_jacobian(
    f: Callable[[Array], Array],
    x: Array,
    J: Array,
    method: str = "central",
    rtol: float | None = None,
    atol: float = 1e-12,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    cost: float | None = None,
) -> JacobianCheck:
    """Check a claimed Jacobian ``J`` of ``f: ℝⁿ → ℝᵐ`` at ``x`` ``(n,)`` and name the wrong entries.

    The reference is :func:`jacobian_fd` (``method="central"``) or
    :func:`jacobian_complex_step` (``"complex-step"``); ``rtol`` defaults to
    :data:`TOLERANCES` of the method. Entry ``(i, j)`` is wrong when
    ``|J_ij − ref_ij| > rtol · max|ref| + atol`` (:func:`entry_errors`) and is called
    ``∂a_{i+1}/∂x_{j+1}`` unless ``row_labels``/``col_labels`` name the outputs and inputs.
    ``cost``: the operations of one evaluation of ``f``, for the reference's cost guard
    (:func:`~jacobnet.core.finite.jacobian_fd`); the complex step takes ``n`` evaluations, central ``2n``.

    Raises:
        ValueError: ``x`` is not 1-D, ``J`` is not ``(m, n)`` (the message says if it is
            the transpose), or an unknown method.
        TypeError: ``J`` is not an array of real numbers.

    >>> f = lambda v: np.array([v[0] * v[1], v[1] + 3 * v[2]])             # ℝ³ → ℝ²
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> print(check_jacobian(f, x, [[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]]).ok)
    True
    >>> print(check_jacobian(f, x, [[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]], method="complex-step"))
    ✗ 1 of 6 entries of the Jacobian (2, 3) disagree with complex-step:
      (2, 3) ∂a_2/∂x_3: expected 3, got 1
    """
    references = {"central": jacobian_fd, "complex-step": jacobian_complex_step}
    if method not in references:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(references)}")
    x = as_point(x, "check_jacobian")
    try:
        got = np.asarray(J, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"check_jacobian: J must be an (m, n) array of real numbers, got {type(J).__name__} {J!r:.60}") from None
    expected = references[method](f, x, cost=cost)
    if got.shape != expected.shape:
        hint = " (that is the transpose: rows = outputs, columns = inputs)" if got.shape == expected.shape[::-1] else ""
        raise ValueError(
            f"check_jacobian: f maps {x.size} inputs to {expected.shape[0]} outputs, so its Jacobian has shape "
            f"{expected.shape}; got {got.shape}{hint}"
        )
    rtol = TOLERANCES[method] if rtol is None else rtol
    wrong = entry_errors(got, expected, rtol, atol, row_labels, col_labels)
    return JacobianCheck(method, expected, got, rtol, atol, wrong)



def check_layer(layer: Layer, x: object, rtol: float | None = None, atol: float = 1e-12) -> tuple[JacobianCheck, JacobianCheck]:
    """A layer's ``J_x`` — ``(n_out, n_in)`` — and ``J_θ`` — ``(n_out, n_params)`` — at one sample ``x``, each
    against central differences, entry by entry (:func:`check_jacobian`).

    ``J_θ`` is differenced through ``set_params`` (the layer's parameters are
    restored afterwards, whatever happens); its wrong entries are named by the
    layer's parameter labels. For a layer of your own, this is the first check.

    >>> import numpy as np
    >>> from jacobnet import Dense
    >>> [c.ok for c in check_layer(Dense(3, 2, seed=0), np.array([0.5, -1.0, 2.0]))]
    [True, True]
    """
    who = f"check_layer({layer.name})"
    if np.ndim(x) != 1:
        raise ValueError(f"{who}: x must be one sample of shape (n_in,), got shape {np.shape(x)}")
    x = as_point(x, who)
    forward = layer_forward_cost(layer, x.size)
    per_param, per_call, _ = SET_OPS
    set_cost = per_param * layer.n_params + per_call
    work = 2 * x.size * (x.size + forward) + 2 * layer.n_params * (layer.n_params + forward + set_cost)
    check_cost(work, f"{who}: finite differences in its {x.size} inputs and {layer.n_params} parameters "
               f"({2 * (x.size + layer.n_params)} forward passes)", "check a smaller instance of the layer")
    J_x, J_theta, theta = layer.jacobian_input(x), layer.jacobian_params(x), layer.get_params()

    def at(t: Array) -> Array:
        layer.set_params(t)
        return layer.forward(x)

    try:
        by_input = check_jacobian(layer.forward, x, J_x, rtol=rtol, atol=atol, cost=forward)
        by_params = check_jacobian(at, theta, J_theta, rtol=rtol, atol=atol, col_labels=layer.param_labels(),
                                   cost=forward + set_cost)
    finally:
        layer.set_params(theta)
    return by_input, by_params


def layer_forward_cost(layer: Layer, n_in: int) -> int:
    """Estimated operations of one ``layer.forward(x)`` at one sample of ``n_in`` inputs (as :func:`~jacobnet.core.finite.loss_cost`).

    >>> from jacobnet import Dense
    >>> layer_forward_cost(Dense(3, 2), 3)       # 8 parameters, 3 inputs, 2 outputs, one call
    3013
    """
    return layer.n_params + n_in + layer.out_size(n_in) + LAYER_OPS
