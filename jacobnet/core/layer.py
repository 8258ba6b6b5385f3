"""The layer protocol: :class:`Layer`, and the parameters it declares, :class:`Param`.

A layer ``a = f(x; θ)`` is one class that owns every form of itself. It writes
the math, on an input the base class has already validated (float64, finite,
shape ``(n,)`` or ``(B, n)``):

* :meth:`Layer.apply` — ``f(x; θ)``;
* :meth:`Layer.jacobian_input_op` — ``J_x = ∂a/∂x`` as a structured operator
  (:mod:`jacobnet.core.operators`), per-sample shape ``(n_out, n_in)``;
* :meth:`Layer.jacobian_params_op` — ``J_θ = ∂a/∂θ``, ``(n_out, n_params)``, columns
  in ``get_params()`` order (parameter-free layers inherit the empty ``(n_out, 0)``);
* optionally :meth:`Layer.sympy_forward` (its SymPy expression, for
  ``method="symbolic"``) and :meth:`Layer.closed_form` (the hand-derived Jacobians,
  proved equal to SymPy's derivative of that expression), and the size estimate
  of its symbolic expressions (:meth:`Layer.symbolic_entry`, :meth:`Layer.symbolic_derivative`).

Parameters are declared once, as class attributes ``W = Param(shape)``; the base
class derives from them ``n_params``, ``get_params``/``set_params`` (``θ`` = the
arrays row-major, in declaration order), ``param_labels`` (``W^{(k)}_{i,j}``) and
the checks on assignment. The checked doors :meth:`Layer.forward`,
:meth:`Layer.jacobian_input` and :meth:`Layer.jacobian_params` validate, then
call the math; a network validates its input once and calls the math directly.

>>> import numpy as np
>>> class Scale(Layer):          # y = a ⊙ x, a of size n
...     a = Param(lambda self: (self.n_in,))
...     def __init__(self, n):
...         self.n_in, self.a = n, np.arange(1.0, n + 1)
...     def apply(self, x):
...         return self.a * x
>>> s = Scale(3)
>>> s.n_params, s.get_params(), list(s.param_labels(2))
(3, array([1., 2., 3.]), ['a^{(2)}_{1}', 'a^{(2)}_{2}', 'a^{(2)}_{3}'])
>>> s.forward([1, 1, 1])
array([1., 2., 3.])
"""

from __future__ import annotations

import functools
from math import prod
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from jacobnet.core.labels import param_labels, unravel_index
from jacobnet.core.operator import Operator
from jacobnet.core.operators import Empty
from jacobnet.core.validate import all_finite, as_input, as_params, check_finite

if TYPE_CHECKING:
    from jacobnet.core.sizes import Entry, Measured

Array = np.ndarray


class Param:
    """A parameter array declared on a layer class; ``shape(layer)`` gives its shape.

    Reading ``layer.W`` returns the array, kept in the layer's ``__dict__`` (read at
    attribute speed: the descriptor has no ``__get__``); assigning checks the dtype
    (real), the shape and finiteness, and stores a float64 copy. A parameter never
    assigned reads as this descriptor; it is named when the layer's parameters are first
    counted (:meth:`Layer.param_arrays`: by ``Network(…)`` and every checked door).

    >>> class Bias(Layer):
    ...     b = Param(lambda self: (self.n_in,))
    ...     def __init__(self, n):
    ...         self.n_in, self.b = n, np.zeros(n)
    >>> Bias(2).b = [1.0, 2.0, 3.0]
    Traceback (most recent call last):
    ...
    ValueError: Bias: b must be a real array of shape (2,), got float64 (3,)
    """

    def __init__(self, shape: Callable[[Any], tuple[int, ...]]):
        self.shape = shape
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __set__(self, layer: Layer, value: object) -> None:
        try:
            shape = tuple(self.shape(layer))
        except AttributeError as err:
            raise AttributeError(f"{type(layer).__name__}: set the sizes the shape of {self.name} needs first ({err})") from None
        if not all(isinstance(n, (int, np.integer)) for n in shape):
            raise ValueError(f"{type(layer).__name__}: the shape of {self.name} is {shape}; set the sizes it needs (e.g. n_in) first")
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf" or arr.shape != shape:
            raise ValueError(f"{layer.name}: {self.name} must be a real array of shape {shape}, got {arr.dtype} {arr.shape}")
        layer.__dict__[self.name] = check_finite(arr.astype(np.float64, copy=True), layer.name, self.name)
        layer.__dict__.pop("_n_params", None)


class _Revised(type):
    """The metaclass of :class:`Layer`: it counts every assignment to (or deletion of) a layer class's attributes.

    What is resolved once from the classes (a gradient's plan of plain functions) is kept
    while :func:`class_revision` is unchanged: a method patched on a class is seen at once.
    """

    count = 0

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        _Revised.count += 1

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        _Revised.count += 1


def class_revision() -> int:
    """How many times an attribute of a :class:`Layer` class (any of them) has been assigned or deleted, so far.

    >>> before = class_revision()
    >>> class Twice(Layer):
    ...     def apply(self, x):
    ...         return 2 * x
    >>> Twice.apply = lambda self, x: 3 * x
    >>> class_revision() > before
    True
    """
    return _Revised.count


def revision_counts(cls: type) -> bool:
    """Whether :func:`class_revision` sees every change to ``cls``'s methods: every class it inherits from (but ``object``) is a Layer class.

    A mixin that is not a :class:`Layer` can be patched unseen: what was resolved from
    such a class must be looked up again on every call.

    >>> class Mixin:
    ...     pass
    >>> class Plain(Layer):
    ...     pass
    >>> class Mixed(Mixin, Layer):
    ...     pass
    >>> revision_counts(Plain), revision_counts(Mixed)
    (True, False)
    """
    return all(isinstance(k, _Revised) or k is object for k in cls.__mro__)


class Layer(metaclass=_Revised):
    """A layer ``a = f(x; θ)``: its forward pass, its Jacobians, its symbolic forms (see the module docstring).

    ``n_in`` is the fixed input size, or ``None`` for a layer that takes any
    size (elementwise layers); :meth:`out_size` gives the output size.
    """

    n_in: int | None = None
    outputs_probabilities: bool = False
    """True for a layer whose outputs are a probability distribution (``Softmax``)."""
    param_names: tuple[str, ...] = ()
    """The declared :class:`Param` s, in order (collected from the class and its bases)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found = (n for k in reversed(cls.__mro__) for n, v in vars(k).items() if isinstance(v, Param))
        cls.param_names = tuple(dict.fromkeys(found))
        for fast, reference in FAST_PATHS.items():  # a fast path holds for the operator it was written beside
            if fast in vars(cls):
                setattr(cls, fast, _paired(vars(cls)[fast], reference, getattr(cls, reference)))

    # --- the math: each layer writes these, on validated float64 input -------------
    def apply(self, x: Array) -> Array:
        """``f(x; θ)`` for ``x`` of shape ``(n_in,)`` or ``(B, n_in)``: ``(n_out,)`` or ``(B, n_out)``."""
        raise NotImplementedError(f"{self.name} does not define apply(x), its forward pass")

    def jacobian_input_op(self, x: Array) -> Operator:
        """``J_x`` at ``x`` as a structured operator, per-sample shape ``(n_out, n_in)``."""
        raise NotImplementedError(f"{self.name} does not define jacobian_input_op(x), its input Jacobian")

    def jacobian_params_op(self, x: Array) -> Operator:
        """``J_θ`` at ``x`` as a structured operator; without parameters the empty ``(n_out, 0)``."""
        if self.param_names:
            raise NotImplementedError(f"{self.name} has parameters but does not define jacobian_params_op(x)")
        return Empty(self.out_size(x.shape[-1]), x.shape[0] if x.ndim == 2 else None)

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """The backward products' derivative along ``(dx, dθ)``: ``(g · R{J_x}, Σ_b g · R{J_θ})`` (optional; for Hessians).

        ``R{J} = d/dε J(x + ε dx; θ + ε dθ)`` at ``ε = 0``, for the row ``g = ∂L/∂a`` at
        the output held fixed: the second-order terms of Pearlmutter's R-operator that
        :mod:`jacobnet.chain.curvature` adds to the backward pass. Shapes: ``x`` ``(n_in,)``
        or ``(B, n_in)``; ``g`` ``(n_out,)`` or ``(B, n_out)``; ``p`` directions at once,
        ``dx`` ``(p, n_in)`` or ``(B, p, n_in)``, ``dθ`` ``(p, n_params)`` (one for the batch).
        Returns ``g · R{J_x}`` — ``(p, n_in)`` or ``(B, p, n_in)`` — and ``g · R{J_θ}``
        summed over the batch — ``(p, n_params)``. A layer linear in ``x`` and ``θ``
        jointly has both zero; Dense has ``R{J_x} = dW`` and ``R{J_θ} = [I ⊗ dxᵀ | 0]``.
        """
        raise NotImplementedError(
            f"hessian: {self.name} does not define vjp_tangent(x, g, dx, dtheta), the derivative of its backward "
            "products that second-order methods (hessian, hvp) need; use gauss_newton, or add it to the layer"
        )

    def out_size(self, n_in: int) -> int:
        """The output size for an input of size ``n_in`` (by default it keeps it)."""
        return n_in

    # --- the gradient's fast path (optional): the products without the operators -----------
    # A class that defines vjp_input (vjp_params_sum) pairs it with the jacobian_input_op
    # (jacobian_params_op) in effect where it is defined: for a subclass that overrides that
    # operator, or one patched in later, the backward pass goes through the operator again.
    def vjp_input(self, x: Array, a: Array, g: Array) -> Array:
        """``g · J_x``: the row ``g = ∂L/∂a`` carried to the layer's input, given its output ``a = apply(x)``.

        Shapes: ``x`` ``(n_in,)`` or ``(B, n_in)``; ``a`` ``(n_out,)`` or ``(B, n_out)``;
        ``g`` one row per sample, ``(n_out,)`` or ``(B, n_out)`` (as in :meth:`vjp_tangent`)
        → ``(n_in,)`` or ``(B, n_in)``. What ``Network.gradient`` asks each layer, last
        to first. Default: through :meth:`jacobian_input_op`, the reference. A layer may
        override it to skip building the operator, or to reuse ``a`` (``tanh' = 1 − a²``);
        it must agree with the reference to rounding and never write into ``g`` (a
        block's branches share it).
        """
        return self.jacobian_op(x, "input").vjp(g[..., None, :])[..., 0, :]

    def vjp_params_sum(self, x: Array, a: Array, g: Array, out: Array) -> None:
        """Write ``Σ_b g_b · J_θ(x_b)`` (one sample: ``g · J_θ(x)``) into ``out``, a flat ``(n_params,)`` float64 array.

        ``out`` is typically the layer's slice of a whole gradient; shapes of ``x``,
        ``a``, ``g`` as in :meth:`vjp_input`. Default: through :meth:`jacobian_params_op`
        (its ``vjp_sum``, the reference); a layer may override it as :meth:`vjp_input`.
        """
        row = out.reshape(1, -1)
        r = self.jacobian_op(x, "params").vjp_sum(g[..., None, :], out=row)
        if r is not row:  # (an operator that returned its sum instead of writing it)
            row[...] = r

    # --- symbolic forms (optional) ------------------------------------------------
    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """The output ``a = f(x; θ)`` as SymPy expressions, one per output: a list of ``out_size(len(x))``.

        ``x`` are the input symbols (or expressions), ``theta`` the parameter symbols
        in ``get_params()`` order. SymPy's ``Matrix.jacobian`` of this list is the
        symbolic ``(J_x, J_θ)`` (:func:`jacobnet.symbolic.layer_jacobians`) and it
        composes into a network's loss for ``method="symbolic"``. The package's own
        layers import SymPy inside the method, so that ``import jacobnet`` never loads it.
        """
        raise TypeError(f"no symbolic form for layer {self!r}: {type(self).__name__} defines no sympy_forward")

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """The hand-derived ``(J_x, J_θ)`` as SymPy matrices over ``x`` and ``theta``, never computed by SymPy.

        Shapes ``(n_out, n_in)`` and ``(n_out, n_params)`` (``sp.zeros(n_out, 0)``
        without parameters): the formulas typed from paper, which
        :func:`jacobnet.symbolic.compare_closed_forms` proves equal to SymPy's
        derivative of :meth:`sympy_forward` (two independent derivations).
        """
        raise TypeError(f"no closed form for layer {self!r}: {type(self).__name__} defines no closed_form")

    # The size of the symbolic expressions, estimated before anything is built
    # (:mod:`jacobnet.core.sizes`). By default a layer is measured: its sympy_forward is
    # built once at its size (up to MEASURE_MAX inputs) and counted; a layer whose
    # expressions have a known shape (Dense, the elementwise rules) overrides these.
    def symbolic_entry(self, n_in: int, u: Entry) -> Entry:
        """The :class:`~jacobnet.core.sizes.Entry` of one output whose ``n_in`` inputs are each like ``u``.

        Default: :func:`~jacobnet.core.sizes.measured_entry`, the largest output's nodes
        with ``u`` in place of each input it holds.
        """
        from jacobnet.core.sizes import measured_entry

        return measured_entry(self._measured(n_in), n_in, u)

    def symbolic_derivative(self, n_in: int, u: Entry, m: float, d: float) -> tuple[float, float]:
        """``(m, d)`` after this layer, for a parameter below it on which ``m`` inputs depend, ``d`` nodes each.

        Returns how many outputs depend on that parameter and the nodes of each
        output's derivative by it. Default: :func:`~jacobnet.core.sizes.measured_derivative`,
        the chain rule ``Σ_j ∂a_i/∂x_j · dx_j`` over the measured slopes.
        """
        from jacobnet.core.sizes import measured_derivative

        return measured_derivative(self._measured(n_in), n_in, self.out_size(n_in), u, m, d)

    def symbolic_params(self, u: Entry) -> list[tuple[float, int]]:
        """``[(nodes of ∂a_i/∂θ_j, how many θ_j), …]`` for the layer's own parameters, at inputs like ``u``.

        Each ``θ_j`` is counted as reaching one output ``a_i``. Default:
        :func:`~jacobnet.core.sizes.measured_params`, the largest measured ``∂a_i/∂θ_j``.
        """
        from jacobnet.core.sizes import measured_params

        n_in = self.n_in or 1
        return measured_params(self._measured(n_in), n_in, self.n_params, u)

    def _measured(self, n_in: int) -> Measured | None:
        """This layer's SymPy forward at ``n_in`` inputs, counted once (:func:`jacobnet.core.sizes.measure`)."""
        from jacobnet.core.sizes import measure

        return measure(self.sympy_forward, self.n_params, (type(self), self.key()), n_in)

    # --- the checked doors ---------------------------------------------------------
    def forward(self, x: object) -> Array:
        """The layer's output ``a = f(x; θ)``: ``(n_out,)`` or ``(B, n_out)``."""
        x = self._x(x)
        self.check_params()
        return self.checked_output(self.apply(x), x)

    def checked_output(self, a: object, x: Array) -> Array:
        """``a = apply(x)`` if it has the shape it must, ``x.shape[:-1] + (out_size(n_in),)``; else a clear error."""
        want = x.shape[:-1] + (self.out_size(x.shape[-1]),)
        if getattr(a, "shape", None) != want:
            raise ValueError(f"{self.name}: apply gave an output of shape {getattr(a, 'shape', type(a).__name__)}; expected {want}")
        return a

    def jacobian_input(self, x: object, out: Array | None = None) -> Array:
        """The input Jacobian ``∂a/∂x``: ``(n_out, n_in)``, or ``(B, n_out, n_in)``.

        ``out``: a float64 array of that shape to write it into (a caller that materialises again and again).
        """
        x = self._x(x, copy=False)
        self.check_params()
        return self.jacobian_op(x, "input").dense(out=out, what=lambda: f"J_x of {self.name}")

    def jacobian_params(self, x: object, out: Array | None = None) -> Array:
        """The parameter Jacobian ``∂a/∂θ``: ``(n_out, n_params)``, or ``(B, n_out, n_params)``.

        ``out``: a float64 array of that shape to write it into, e.g. the 103 MB ``J_θ`` of a
        784→128 Dense layer materialised sample after sample.

        >>> import numpy as np
        >>> from jacobnet.core.layers import Dense
        >>> d, buf = Dense(3, 2, seed=0), np.empty((2, 8))
        >>> d.jacobian_params(np.array([1.0, 2.0, 3.0]), out=buf) is buf, buf[1]
        (True, array([0., 0., 0., 1., 2., 3., 0., 1.]))
        """
        x = self._x(x, copy=False)
        self.check_params()
        return self.jacobian_op(x, "params").dense(out=out, what=lambda: f"J_θ of {self.name}")

    def jacobian_op(self, x: Array, wrt: str) -> Operator:
        """``J_x`` (``wrt="input"``) or ``J_θ`` (``"params"``) at a validated ``x``, checked to be the operator it must be.

        Per-sample shape ``(n_out, n_in)`` or ``(n_out, n_params)``, one batch size with
        ``x``: what every product of :mod:`jacobnet.chain` relies on, so a layer's
        mistake is named here rather than deep inside a product.
        """
        op = self.jacobian_input_op(x) if wrt == "input" else self.jacobian_params_op(x)
        method = f"jacobian_{wrt}_op"
        if not isinstance(op, Operator):
            raise TypeError(f"{self.name}: {method} must return a structured operator (wrap an array in jn.Matrix), got {type(op).__name__}")
        want = (self.out_size(x.shape[-1]), x.shape[-1] if wrt == "input" else self.n_params)
        if op.shape != want:
            cols = "n_in" if wrt == "input" else "n_params"
            raise ValueError(f"{self.name}: {method} gave an operator of shape {op.shape}; expected (n_out, {cols}) = {want}")
        batch = x.shape[0] if x.ndim == 2 else None
        if op.batch != batch:
            got = "one sample" if op.batch is None else f"a batch of {op.batch}"
            want = "one sample" if batch is None else f"a batch of {batch} (build it from x, e.g. np.broadcast_to(d, x.shape))"
            raise ValueError(f"{self.name}: {method} gave an operator for {got}; the input is {want}")
        return op

    def _x(self, x: object, copy: bool = True) -> Array:
        """``x`` validated (``copy=False`` where nothing keeps it: the Jacobians' doors return new matrices)."""
        return as_input(x, self.name, self.n_in, makeup=self.input_makeup(), copy=copy)

    def input_makeup(self) -> str | None:
        """What the input size is made of, for the message when it is wrong (``"tokens=3 × d_model=4"``); ``None``: just ``n_in``."""
        return None

    # --- parameters, from the declared Params --------------------------------------
    def param_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """``[(name, shape), …]`` of the declared parameters, in ``get_params()`` order."""
        return [(n, getattr(type(self), n).shape(self)) for n in self.param_names]

    @property
    def n_params(self) -> int:
        """The number of parameters: the sizes of the declared arrays."""
        if "_n_params" not in self.__dict__:  # (cached; assigning a Param forgets it)
            self.__dict__["_n_params"] = sum(arr.size for arr in self.param_arrays())
        return self.__dict__["_n_params"]

    def param_arrays(self) -> list[Array]:
        """The declared parameters' arrays, in ``get_params()`` order; an ``AttributeError`` names one never assigned."""
        arrays = []
        for name in self.param_names:
            arr = self.__dict__.get(name)
            if arr is None:
                raise AttributeError(f"{type(self).__name__}: the parameter {name} was never assigned (set it in __init__)")
            arrays.append(arr)
        return arrays

    def param_layers(self) -> list[Layer]:
        """The distinct layers whose parameters this one holds: itself, if it has any (a block: its layers')."""
        return [self] if self.n_params else []

    def get_params(self) -> Array:
        """A flat copy of the parameters, shape ``(n_params,)``: each array row-major, in declaration order."""
        if not self.param_names:
            return np.zeros(0)
        return np.concatenate([arr.ravel() for arr in self.param_arrays()])

    def set_params(self, theta: object) -> None:
        """Set the parameters from a flat vector in ``get_params()`` order (checked, copied)."""
        theta, start = as_params(theta, self.name, self.n_params), 0
        for name, shape in self.param_shapes():
            size = prod(shape)
            self.__dict__[name] = theta[start : start + size].reshape(shape)
            start += size

    def check_params(self, name: str | None = None, k: int | None = None) -> None:
        """Raise ``ValueError`` naming the entry if a parameter is NaN or ±inf; a block checks its layers'.

        Parameters are checked when assigned (``layer.W = …``, :meth:`set_params`), but
        ``layer.W`` is the layer's own array, so writing into it (``layer.W[0, 0] = np.nan``)
        changes the layer unchecked: the checked doors and a network look again. ``name``
        and ``k`` say how the network calls the layer (``Dense 1``, ``W^{(1)}``).

        >>> import numpy as np
        >>> from jacobnet.core.layers import Dense
        >>> d = Dense(3, 2, seed=0)
        >>> d.W[1, 2] = np.inf
        >>> d.check_params("Dense 1", 1)
        Traceback (most recent call last):
        ...
        ValueError: Dense 1: the parameter W^{(1)}_{2,3} (W[1, 2]) is inf; parameters must be finite (layer.W is the layer's own array: writing into it in place skips the check made on assignment; assign finite values with layer.W = … or set_params)
        """
        for layer in self.param_layers():
            if layer is not self:  # (a block: each of its layers, by its own name)
                layer.check_params()
                continue
            for pname in self.param_names:
                arr = self.__dict__.get(pname)
                if arr is None or all_finite(arr):
                    continue
                j = int(np.flatnonzero(~np.isfinite(arr))[0])
                label = param_labels([(pname, arr.shape)], k)[j]
                where = ", ".join(str(i) for i in unravel_index(j, arr.shape))
                raise ValueError(
                    f"{name or self.name}: the parameter {label} ({pname}[{where}]) is {arr.flat[j]}; parameters must be finite "
                    f"(layer.{pname} is the layer's own array: writing into it in place skips the check made on assignment; "
                    f"assign finite values with layer.{pname} = … or set_params)"
                )

    def param_labels(self, layer_index: int | None = None) -> Sequence[str]:
        """One name per parameter in ``get_params()`` order, ``W^{(k)}_{i,j}`` (1-based; no ``^{(k)}`` without ``k``).

        A :class:`~jacobnet.core.labels.Labels` sequence, made on demand (``list()`` it for a list).
        """
        return param_labels(self.param_shapes(), layer_index)

    # --- names and identity --------------------------------------------------------
    @property
    def name(self) -> str:
        """A short display name, e.g. ``Dense(3→4)`` or ``Tanh``."""
        return type(self).__name__

    def hyperparameters(self) -> dict[str, object]:
        """Everything but the parameters that the layer's function depends on: its public attributes.

        Sizes, strides, ``eps``, a mask…: what :meth:`key` and ``repr`` are made of.
        A layer that keeps a hyper-parameter in a private attribute, or keeps a
        public attribute that is not one, overrides this.
        """
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in self.param_names}

    def key(self) -> tuple:
        """What the layer's symbolic form depends on: its class and every hyper-parameter, never the weights.

        >>> from jacobnet.core.layers import Dense, LeakyReLU
        >>> Dense(3, 2, seed=0).key() == Dense(3, 2, seed=1).key(), Dense(3, 2).key() == Dense(2, 3).key()
        (True, False)
        >>> LeakyReLU(0.1).key() == LeakyReLU(0.2).key()
        False
        """
        return (type(self).__module__, type(self).__qualname__, key_of(self.hyperparameters(), type(self).__name__))

    def __repr__(self) -> str:
        """``Affine(n_in=4)``: the class and its hyper-parameters (built-in layers print their own constructor call)."""
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.hyperparameters().items())})"


FAST_PATHS = {"vjp_input": "jacobian_input_op", "vjp_params_sum": "jacobian_params_op"}
"""Each optional fast path of a gradient's backward pass, and the reference operator it must agree with."""


def _paired(fast: Callable[..., Any], reference: str, op: Callable[..., Any]) -> Callable[..., Any]:
    """``fast``, used while its class's ``reference`` method is still ``op``; else :class:`Layer`'s own, through the operator."""
    default = getattr(Layer, fast.__name__)

    @functools.wraps(fast)
    def method(self: Layer, *args: Any) -> Any:
        if getattr(type(self), reference) is op:
            return fast(self, *args)
        return default(self, *args)

    method.fast_path = (fast, reference, op)  # type: ignore[attr-defined]  (for a plan that resolves it once: fast_path_of)
    return method


def fast_path_of(cls: type, name: str) -> Callable[..., Any]:
    """The plain function that ``cls.<name>`` (a key of :data:`FAST_PATHS`) runs today, resolved once.

    The class's own fast path while its reference operator is still the one it was written
    beside, else :class:`Layer`'s (through the operator): what the method itself decides on
    every call, for a caller that calls it many times on layers of unchanged classes.

    >>> from jacobnet.core.layers import Dense
    >>> fast_path_of(Dense, "vjp_input") is Dense.vjp_input.fast_path[0], fast_path_of(Layer, "vjp_input") is Layer.vjp_input
    (True, True)
    """
    method = getattr(cls, name)
    paired = getattr(method, "fast_path", None)
    if paired is None:
        return method
    fast, reference, op = paired
    return fast if getattr(cls, reference) is op else getattr(Layer, name)


def key_of(value: object, who: str) -> object:
    """``value`` as a hashable key that tells every different value apart: numbers, text, arrays, lists, dicts.

    Arrays are keyed by dtype, shape and bytes. Anything else raises a ``TypeError``
    naming ``who``: a hyper-parameter the cache key could not tell apart would let
    two different layers share one compiled symbolic gradient.

    >>> key_of({"mask": np.array([1.0, 0.0]), "n": 2}, "Mask") == key_of({"n": 2, "mask": np.array([0.0, 1.0])}, "Mask")
    False
    >>> key_of({"f": print}, "Odd")
    Traceback (most recent call last):
    ...
    TypeError: Odd: cannot key the hyper-parameter value print (builtin_function_or_method) for the symbolic cache; override hyperparameters() to return what the layer's function depends on
    """
    if value is None or isinstance(value, (bool, int, float, str, np.integer, np.floating, np.bool_)):
        return value
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return tuple(key_of(v, who) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), key_of(v, who)) for k, v in value.items()))
    raise TypeError(
        f"{who}: cannot key the hyper-parameter value {getattr(value, '__name__', value)!s:.40} ({type(value).__name__}) for "
        "the symbolic cache; override hyperparameters() to return what the layer's function depends on"
    )
