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
from typing import Callable

import numpy as np
import sympy as sp

Array = np.ndarray


@dataclass(frozen=True)
class Rule:
    """An elementwise function ``f: ℝ → ℝ`` with its derivative.

    Attributes:
        name: key in :data:`RULES` (also the CLI's ``--activation`` name).
        expr: ``expr(x, **params)`` → the SymPy expression of ``f(x)``.
        f: stable NumPy ``f(x, **params)``, elementwise.
        df: stable NumPy ``f'(x, **params)``, elementwise.
        domain: closed interval on which f and f' are finite and accurate.
        kinks: points where f is not differentiable; ``df`` takes the
            one-sided value given in ``kink_note`` there, and so does the
            symbolic form (``Piecewise`` with ``x <= 0`` on the left branch).
        defaults: default values of the rule's parameters (e.g. ``alpha``).
    """

    name: str
    expr: Callable[..., sp.Expr]
    f: Callable[..., Array]
    df: Callable[..., Array]
    domain: tuple[float, float] = (-1000.0, 1000.0)
    kinks: tuple[float, ...] = ()
    kink_note: str = ""
    defaults: dict[str, float] = field(default_factory=dict)
    latex: str = ""


def _sigmoid(x: Array) -> Array:
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _dsigmoid(x: Array) -> Array:
    e = np.exp(-np.abs(x))  # σ'(x) = e^{-|x|} / (1 + e^{-|x|})², symmetric in x
    return e / (1.0 + e) ** 2


def _dtanh(x: Array) -> Array:
    e = np.exp(-2.0 * np.abs(x))  # sech²(x) = 4 e^{-2|x|} / (1 + e^{-2|x|})²
    return 4.0 * e / (1.0 + e) ** 2


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
            latex=r"\sigma",
        ),
        Rule(
            "tanh",
            expr=lambda x: sp.tanh(x),
            f=np.tanh,
            df=_dtanh,
            latex=r"\tanh",
        ),
        Rule(
            "relu",
            expr=lambda x: sp.Piecewise((0, x <= 0), (x, True)),
            f=lambda x: np.where(x > 0, x, 0.0),
            df=lambda x: np.where(x > 0, 1.0, 0.0),
            kinks=(0.0,),
            kink_note="f'(0) = 0, the left derivative (as PyTorch and JAX)",
            latex=r"\operatorname{relu}",
        ),
        Rule(
            "leaky_relu",
            expr=lambda x, alpha=0.01: sp.Piecewise((alpha * x, x <= 0), (x, True)),
            f=lambda x, alpha=0.01: np.where(x > 0, x, alpha * x),
            df=lambda x, alpha=0.01: np.where(x > 0, 1.0, alpha),
            kinks=(0.0,),
            kink_note="f'(0) = alpha, the left derivative",
            defaults={"alpha": 0.01},
            latex=r"\operatorname{leaky}",
        ),
        Rule(
            "softplus",
            expr=lambda x: sp.log(1 + sp.exp(x)),
            f=_softplus,
            df=_sigmoid,
            latex=r"\operatorname{softplus}",
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
