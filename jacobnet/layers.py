"""Layers that materialise their Jacobians.

Every layer ``a = f(x; θ)`` answers three questions:

* ``forward(x)``: the value ``a``, shape ``(n_out,)`` or ``(B, n_out)``;
* ``jacobian_input(x)``: ``J_x = ∂a/∂x``, shape ``(n_out, n_in)`` (rows = outputs);
* ``jacobian_params(x)``: ``J_θ = ∂a/∂θ``, shape ``(n_out, n_params)``, with
  columns in ``get_params()`` order; ``(n_out, 0)`` for a parameter-free layer.

For a batch ``(B, n_in)`` the Jacobian methods return the stacked per-sample
Jacobians ``(B, n_out, n_in)`` and ``(B, n_out, n_params)``. Each Jacobian is
written once, as a structured operator (``jacobian_input_op``,
``jacobian_params_op``, see :mod:`jacobnet.structure`); the dense matrices
are materialised from it.

>>> import numpy as np
>>> layer = Dense(3, 2, seed=0)
>>> x = np.array([1.0, 2.0, 3.0])
>>> layer.jacobian_input(x).shape, layer.jacobian_params(x).shape
((2, 3), (2, 8))
>>> Tanh().jacobian_input(np.zeros((5, 4))).shape     # a batch of 5
(5, 4, 4)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .labels import dense_param_labels
from .memory import check_budget
from .numerics import F8, softmax
from .outer import DiagMinusOuter, KronRows
from .rules import Rule, get_rule
from .structure import Diagonal, Empty, Matrix, Operator
from .validate import as_input, as_params, check_finite, positive_int, seed_value

Array = np.ndarray


class Layer:
    """The Layer protocol.

    Subclasses implement, on an input already validated as float64 ``(n,)`` or
    ``(B, n)``: :meth:`forward_unchecked` and :meth:`jacobian_input_op` (and,
    with parameters, :meth:`jacobian_params_op`, ``get_params``, ``set_params``,
    ``param_labels`` and ``n_params``). The checked doors ``forward``,
    ``jacobian_input`` and ``jacobian_params`` validate first; a network validates
    its input once and then calls the unchecked methods layer after layer.
    """

    n_in: int | None = None  # fixed input size, or None for "any size"
    n_params: int = 0

    @property
    def name(self) -> str:
        """A short display name, e.g. ``Dense(3→4)`` or ``Tanh``."""
        return type(self).__name__

    def out_size(self, n_in: int) -> int:
        """The output size for an input of size ``n_in`` (elementwise layers keep it)."""
        return n_in

    def _x(self, x: object) -> Array:
        return as_input(x, self.name, self.n_in)

    def forward(self, x: Array) -> Array:
        """The layer's output ``a = f(x; θ)``: ``(n_out,)`` or ``(B, n_out)``."""
        return self.forward_unchecked(self._x(x))

    def jacobian_input(self, x: Array) -> Array:
        """The input Jacobian ``∂a/∂x``: ``(n_out, n_in)``, or ``(B, n_out, n_in)``."""
        return self.jacobian_input_op(self._x(x)).dense(what=f"J_x of {self.name}")

    def jacobian_params(self, x: Array) -> Array:
        """The parameter Jacobian ``∂a/∂θ``: ``(n_out, n_params)``, or ``(B, n_out, n_params)``."""
        return self.jacobian_params_op(self._x(x)).dense(what=f"J_θ of {self.name}")

    def jacobian_params_op(self, x: Array) -> Operator:
        """``J_θ`` as a structured operator; parameter-free layers: an ``(n_out, 0)`` ``Empty``."""
        return Empty(self.out_size(x.shape[-1]), x.shape[0] if x.ndim == 2 else None)

    def get_params(self) -> Array:
        """A flat copy of the parameters, shape ``(n_params,)``."""
        return np.zeros(0)

    def set_params(self, theta: Array) -> None:
        """Set the parameters from a flat vector in ``get_params()`` order."""
        as_params(theta, self.name, self.n_params)

    def param_labels(self, layer_index: int | None = None) -> Sequence[str]:
        """One readable name per parameter, in ``get_params()`` order (1-based indices).

        ``layer_index`` is ``k`` of ``W^{(k)}`` (:meth:`Network.param_layer_index`).
        """
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # subclasses implement these two on a validated float64 array
    def forward_unchecked(self, x: Array) -> Array:
        """``f(x; θ)`` on an input already validated (float64, finite, the right size)."""
        raise NotImplementedError

    def jacobian_input_op(self, x: Array) -> Operator:
        """``J_x`` as a structured operator (see :mod:`jacobnet.structure`)."""
        raise NotImplementedError


class Dense(Layer):
    """``y = W x + b`` with ``W`` of shape ``(n_out, n_in)`` and ``b`` of shape ``(n_out,)``.

    Jacobians: ``J_x = W`` — shape ``(n_out, n_in)``; with ``θ = [vec_r(W), b]``
    (row-major), ``J_θ = [I_{n_out} ⊗ xᵀ | I_{n_out}]`` — shape
    ``(n_out, n_out·n_in + n_out)``. Weights start as ``N(0, 1/n_in)``, biases at 0.

    >>> import numpy as np
    >>> d = Dense(3, 2, seed=0)
    >>> d.set_params(np.arange(8.0))            # W = [[0,1,2],[3,4,5]], b = [6,7]
    >>> d.forward(np.array([1.0, 0.0, -1.0]))
    array([4., 5.])
    >>> d.jacobian_params(np.array([1.0, 0.0, -1.0]))
    array([[ 1.,  0., -1.,  0.,  0.,  0.,  1.,  0.],
           [ 0.,  0.,  0.,  1.,  0., -1.,  0.,  1.]])
    """

    def __init__(self, n_in: int, n_out: int, *, seed: int | None = None):
        self.n_in, self.n_out = positive_int(n_in, "Dense: n_in"), positive_int(n_out, "Dense: n_out")
        check_budget(F8 * self.n_out * (self.n_in + 1), f"the weights of Dense({n_in}, {n_out})", "use smaller layers")
        rng = np.random.default_rng(seed_value(seed, "Dense: seed"))
        self._W = rng.normal(0.0, 1.0 / np.sqrt(self.n_in), size=(self.n_out, self.n_in))
        self._b = np.zeros(self.n_out)

    @property
    def W(self) -> Array:
        """The weights, ``(n_out, n_in)``; assigning checks shape, dtype and finiteness and copies."""
        return self._W

    @W.setter
    def W(self, value: object) -> None:
        self._W = self._checked(value, "W", (self.n_out, self.n_in))

    @property
    def b(self) -> Array:
        """The biases, ``(n_out,)``; assigning checks shape, dtype and finiteness and copies."""
        return self._b

    @b.setter
    def b(self, value: object) -> None:
        self._b = self._checked(value, "b", (self.n_out,))

    def _checked(self, value: object, what: str, shape: tuple[int, ...]) -> Array:
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf" or arr.shape != shape:
            raise ValueError(f"{self.name}: {what} must be a real array of shape {shape}, got {arr.dtype} {arr.shape}")
        return check_finite(arr.astype(np.float64, copy=True), self.name, what)

    @property
    def name(self) -> str:
        return f"Dense({self.n_in}→{self.n_out})"

    @property
    def n_params(self) -> int:  # type: ignore[override]
        return self.n_out * self.n_in + self.n_out

    def out_size(self, n_in: int) -> int:
        return self.n_out

    def forward_unchecked(self, x: Array) -> Array:
        return x @ self._W.T + self._b

    def jacobian_input_op(self, x: Array) -> Operator:
        return Matrix(self._W, batch=x.shape[0] if x.ndim == 2 else None)

    def jacobian_params_op(self, x: Array) -> Operator:
        return KronRows(x, self.n_out)

    def get_params(self) -> Array:
        return np.concatenate([self._W.ravel(), self._b])

    def set_params(self, theta: Array) -> None:
        theta = as_params(theta, self.name, self.n_params)
        k = self.n_out * self.n_in
        self._W = theta[:k].reshape(self.n_out, self.n_in)
        self._b = theta[k:].copy()

    def param_labels(self, layer_index: int | None = None) -> Sequence[str]:
        """``W^{(k)}_{i,j}`` row-major, then ``b^{(k)}_{i}`` (1-based; no ``^{(k)}`` without an index).

        A :class:`~jacobnet.labels.Labels` sequence, made on demand (``list()`` it for a list).
        """
        return dense_param_labels(self.n_out, self.n_in, layer_index)

    def __repr__(self) -> str:
        return f"Dense({self.n_in}, {self.n_out})"


class Elementwise(Layer):
    """``a_i = f(x_i)`` for a rule ``f`` of :data:`jacobnet.rules.RULES`.

    Jacobian: ``J_x = diag(f'(x))`` — shape ``(n, n)``; no parameters.
    """

    rule_name: str = ""

    def __init__(self, **rule_params: float):
        self.rule: Rule = get_rule(self.rule_name)
        kind = type(self).__name__
        unknown = sorted(set(rule_params) - set(self.rule.defaults))
        if unknown:
            accepted = ", ".join(self.rule.defaults) or "no parameters"
            raise TypeError(f"{kind}: unknown parameter {', '.join(map(repr, unknown))}; {kind} accepts {accepted}")
        for key, value in rule_params.items():
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{kind}: {key} must be a real number, got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"{kind}: {key} must be finite, got {value!r}")
        self.rule_params: dict[str, float] = {**self.rule.defaults, **{k: float(v) for k, v in rule_params.items()}}

    def forward_unchecked(self, x: Array) -> Array:
        return self.rule.f(x, **self.rule_params)

    def jacobian_input_op(self, x: Array) -> Operator:
        return Diagonal(self.rule.df(x, **self.rule_params))


class Sigmoid(Elementwise):
    """``σ(x) = 1 / (1 + e^{−x})``; ``J_x = diag(σ(x)(1 − σ(x)))`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Sigmoid().jacobian_input(np.array([0.0, 1000.0]))
    array([[0.25, 0.  ],
           [0.  , 0.  ]])
    """

    rule_name = "sigmoid"


class Tanh(Elementwise):
    """``tanh(x)``; ``J_x = diag(1 − tanh²(x))`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Tanh().jacobian_input(np.zeros((2, 3)))[1]   # batch of 2, sample 2
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """

    rule_name = "tanh"


class ReLU(Elementwise):
    """``max(x, 0)``; ``J_x = diag(1[x > 0])`` — shape ``(n, n)``; at the kink ``f'(0) = 0``.

    >>> import numpy as np
    >>> np.diag(ReLU().jacobian_input(np.array([-1.0, 0.0, 2.0])))
    array([0., 0., 1.])
    """

    rule_name = "relu"


class LeakyReLU(Elementwise):
    """``x`` for ``x > 0``, else ``αx``; ``J_x = diag(1 or α)`` — shape ``(n, n)``; ``f'(0) = α``.

    >>> import numpy as np
    >>> np.diag(LeakyReLU(alpha=0.1).jacobian_input(np.array([-1.0, 0.0, 2.0])))
    array([0.1, 0.1, 1. ])
    """

    rule_name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        super().__init__(alpha=alpha)

    @property
    def name(self) -> str:
        return f"LeakyReLU(α={self.rule_params['alpha']:g})"

    def __repr__(self) -> str:
        return f"LeakyReLU(alpha={self.rule_params['alpha']!r})"


class Softplus(Elementwise):
    """``log(1 + eˣ)``; ``J_x = diag(σ(x))`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Softplus().forward(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.6931471805599453, 1000.0]
    """

    rule_name = "softplus"


class Softmax(Layer):
    """``s = exp(x) / Σ exp(x)`` (shifted by ``max x``); ``J_x = diag(s) − s sᵀ`` — shape ``(n, n)``.

    >>> import numpy as np
    >>> Softmax().jacobian_input(np.array([0.0, 0.0]))
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """

    def forward_unchecked(self, x: Array) -> Array:
        return softmax(x)

    def jacobian_input_op(self, x: Array) -> Operator:
        return DiagMinusOuter(softmax(x))


ACTIVATIONS: dict[str, type[Elementwise]] = {cls.rule_name: cls for cls in (Sigmoid, Tanh, ReLU, LeakyReLU, Softplus)}
