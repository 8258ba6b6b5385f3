"""The one table of elementwise rules.

Each rule is one entry: a SymPy expression in one variable (the definition),
the stable NumPy forms of f and f' used by the numeric code, the domain on
which they are promised (and tested), and the value taken at any kink.
The tests check every NumPy form against SymPy's own derivative of the
expression, so the table cannot drift from the mathematics.

>>> import numpy as np
>>> r = RULES["sigmoid"]
>>> r.f(np.array([-1000.0, 0.0, 1000.0]))
array([0. , 0.5, 1. ])
>>> r.df(np.array([0.0]))
array([0.25])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import sympy as sp
else:

    class _SymPyOnFirstUse:
        """``sp.exp`` & co. import SymPy when a rule's expression is first built, not at ``import jacobnet``.

        (The numeric path never needs SymPy, and importing it is slow.)
        """

        def __getattr__(self, name: str) -> object:
            import sympy

            return getattr(sympy, name)

    sp = _SymPyOnFirstUse()

Array = np.ndarray


@dataclass(frozen=True)
class Rule:
    """An elementwise function ``f: ℝ → ℝ`` with its derivative.

    Attributes:
        name: key in :data:`RULES` (also the CLI's ``--activation`` name).
        expr: ``expr(x, **params)`` → the SymPy expression of ``f(x)``.
        f: stable NumPy ``f(x, **params)``, elementwise.
        df: stable NumPy ``f'(x, **params)``, elementwise.
        dexpr: ``dexpr(x, **params)`` → the SymPy expression of ``f'(x)``, typed
            by hand from the textbook (never computed with ``sp.diff``): the
            hand-derived closed form that :mod:`jacobnet.symbolic.closed_forms` uses and
            the tests compare with SymPy's derivative of ``expr``.
        domain: closed interval on which f and f' are finite and accurate.
        kinks: points where f is not differentiable; ``df`` takes the
            one-sided value given in ``kink_note`` there, and so does the
            symbolic form (``Piecewise`` with ``x <= 0`` on the left branch).
        defaults: default values of the rule's parameters (e.g. ``alpha``).
        d2f: stable NumPy ``f''(x, **params)``, elementwise (0 on the flat pieces of a
            piecewise-linear rule; at a kink, the one-sided value, 0), or ``None`` for a
            rule without one: the curvature of an elementwise layer (its ``J_x = diag(f'(x))``
            changes by ``diag(f''(x) ⊙ dx)``, :meth:`jacobnet.core.layers.Elementwise.vjp_tangent`).
        df_out: ``f'`` from the output ``a = f(x)``, ``df_out(a, **params)``, or ``None``:
            what the backward pass of a gradient may use when it already holds ``a``
            (:meth:`jacobnet.core.layers.Elementwise.vjp_input`; ``1 − a²`` for tanh, two
            cheap ufunc passes where ``sech²(x)`` takes five, one of them a ``cosh``).
            ``df`` stays the reference of the Jacobians.
        df_out_floor: ``None`` if ``df_out`` keeps its relative accuracy on the whole
            domain (softplus' ``−expm1(−a)``); else the value at or above which it is
            within ~100 ε of ``f'`` relatively. ``1 − a²`` and ``a (1 − a)`` lose every
            digit of a tiny ``f'`` where ``f`` saturates (``a`` rounds towards 1): below the
            floor ``f'`` comes from ``df(x)``.
    """

    name: str
    expr: Callable[..., sp.Expr]
    f: Callable[..., Array]
    df: Callable[..., Array]
    dexpr: Callable[..., sp.Expr]
    domain: tuple[float, float] = (-1000.0, 1000.0)
    kinks: tuple[float, ...] = ()
    kink_note: str = ""
    defaults: dict[str, float] = field(default_factory=dict)
    latex: str = ""
    d2f: Callable[..., Array] | None = None
    df_out: Callable[..., Array] | None = None
    df_out_floor: float | None = None


def _sigmoid(x: Array) -> Array:
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _dsigmoid(x: Array) -> Array:
    e = np.exp(-np.abs(x))  # σ'(x) = e^{-|x|} / (1 + e^{-|x|})², symmetric in x
    return e / (1.0 + e) ** 2


def _dtanh(x: Array) -> Array:
    """``tanh'(x) = sech²(x) = (1 / cosh x)²``: no cancellation anywhere, unlike ``1 − tanh²(x)``.

    Only products and quotients: the relative error is twice that of cosh and
    the reciprocal plus one rounding (≤ 4 ulp against 1000-digit mpmath,
    tests/test_rules.py), in five NumPy calls where ``4e/(1 + e)²`` with
    ``e = exp(−2|x|)`` takes seven. ``|x|`` is clamped at 400: cosh overflows past
    710.47, while ``sech²(x) ≈ 4e^{−2|x|} < 2⁻¹⁰⁷⁵`` rounds to 0 for every
    ``|x| > 373.3``, so the clamp changes no float64 result (``1/cosh(400)`` is a
    normal number; its square underflows silently to 0).
    """
    r = 1.0 / np.cosh(np.minimum(np.abs(x), 400.0))
    return r * r


def _d2sigmoid(x: Array) -> Array:
    """``σ''(x) = σ'(x) (1 − 2σ(x))`` with ``1 − 2σ(x) = −sign(x) (1 − e^{−|x|}) / (1 + e^{−|x|})``.

    ``1 − e^{−|x|}`` as ``−expm1(−|x|)``: no cancellation near 0, where ``σ''`` passes through 0.
    """
    e = np.exp(-np.abs(x))
    return -np.sign(x) * e * -np.expm1(-np.abs(x)) / (1.0 + e) ** 3


def _d2tanh(x: Array) -> Array:
    """``tanh''(x) = −2 tanh(x) sech²(x)``: products only, from :func:`_dtanh`."""
    return -2.0 * np.tanh(x) * _dtanh(x)


def _dtanh_out(a: Array) -> Array:
    """``tanh' = 1 − a²`` at ``a = tanh(x)``: relative error ``≈ 2ε a²/(1 − a²)``, ≤ ~100 ε where ``1 − a² ≥ 1 − 0.99²``."""
    d = a * a
    np.subtract(1.0, d, out=d)
    return d


def _dsigmoid_out(a: Array) -> Array:
    """``σ' = a (1 − a)`` at ``a = σ(x)``: relative error ``≈ ε a/(1 − a)``, ≤ ~100 ε where ``a (1 − a) ≥ 0.99 · 0.01``."""
    d = 1.0 - a
    d *= a
    return d


def _dsoftplus_out(a: Array) -> Array:
    """``softplus' = σ(x) = 1 − e^{−a}`` at ``a = softplus(x)``, as ``−expm1(−a)``: a few ``ε`` relative everywhere.

    ``1 − e^{−a}`` has relative condition number ``a e^{−a} / (1 − e^{−a}) ≤ 1`` in ``a``, and
    ``expm1`` has no cancellation near 0: ``a``'s own relative error carries over, no more.
    """
    d = np.negative(a)
    np.expm1(d, out=d)
    np.negative(d, out=d)
    return d


def _softplus(x: Array) -> Array:
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        Rule(
            "sigmoid",
            expr=lambda x: 1 / (1 + sp.exp(-x)),
            f=_sigmoid,
            df=_dsigmoid,
            dexpr=lambda x: 1 / (1 + sp.exp(-x)) * (1 - 1 / (1 + sp.exp(-x))),  # σ' = σ(1 − σ)
            latex=r"\sigma",
            d2f=_d2sigmoid,
            df_out=_dsigmoid_out,
            df_out_floor=0.99 * 0.01,  # a (1 − a) ≥ this ⇔ a ∈ [0.01, 0.99]: (1 − a) has not cancelled
        ),
        Rule(
            "tanh",
            expr=lambda x: sp.tanh(x),
            f=np.tanh,
            df=_dtanh,
            dexpr=lambda x: 1 - sp.tanh(x) ** 2,  # tanh' = 1 − tanh²
            latex=r"\tanh",
            d2f=_d2tanh,
            df_out=_dtanh_out,
            df_out_floor=1.0 - 0.99**2,  # 1 − a² ≥ this ⇔ |a| ≤ 0.99
        ),
        Rule(
            "relu",
            expr=lambda x: sp.Piecewise((0, x <= 0), (x, True)),
            f=lambda x: np.where(x > 0, x, 0.0),
            df=lambda x: np.where(x > 0, 1.0, 0.0),
            dexpr=lambda x: sp.Piecewise((0, x <= 0), (1, True)),  # 1[x > 0]; f'(0) = 0
            kinks=(0.0,),
            kink_note="f'(0) = 0, the left derivative (as PyTorch and JAX)",
            latex=r"\operatorname{relu}",
            d2f=lambda x: np.zeros_like(x),
        ),
        Rule(
            "leaky_relu",
            expr=lambda x, alpha=0.01: sp.Piecewise((alpha * x, x <= 0), (x, True)),
            f=lambda x, alpha=0.01: np.where(x > 0, x, alpha * x),
            df=lambda x, alpha=0.01: np.where(x > 0, 1.0, alpha),
            dexpr=lambda x, alpha=0.01: sp.Piecewise((alpha, x <= 0), (1, True)),  # f'(0) = α
            kinks=(0.0,),
            kink_note="f'(0) = alpha, the left derivative",
            defaults={"alpha": 0.01},
            latex=r"\operatorname{leaky}",
            d2f=lambda x, alpha=0.01: np.zeros_like(x),
        ),
        Rule(
            "softplus",
            expr=lambda x: sp.log(1 + sp.exp(x)),
            f=_softplus,
            df=_sigmoid,
            dexpr=lambda x: 1 / (1 + sp.exp(-x)),  # softplus' = σ
            latex=r"\operatorname{softplus}",
            d2f=_dsigmoid,  # softplus'' = σ'
            df_out=_dsoftplus_out,
        ),
    ]
}


def get_rule(name: str) -> Rule:
    """Look up an elementwise rule by name, with an error that lists the known ones.

    >>> get_rule("tanh").name
    'tanh'
    >>> get_rule("swish")
    Traceback (most recent call last):
    ...
    KeyError: "no elementwise rule named 'swish'; known: sigmoid, tanh, relu, leaky_relu, softplus"
    """
    try:
        return RULES[name]
    except KeyError:
        known = ", ".join(RULES)
        raise KeyError(f"no elementwise rule named {name!r}; known: {known}") from None

