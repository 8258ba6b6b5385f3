"""The one table of elementwise rules against SymPy's own differentiation.

Each rule's NumPy ``f`` and hand-derived ``df`` are compared with SymPy's
``expr`` and ``diff(expr)`` evaluated by mpmath at 1000 digits (enough for
the cancellation in 1 − tanh² and log(1 + eˣ) anywhere in ±1000), then rounded
to float64: across the whole promised domain, at ±1000, near the over/underflow
thresholds, at tiny arguments and at the kinks, where the documented one-sided
value must hold.
"""

from __future__ import annotations

import re

import autograd
import mpmath
import numpy as np
import pytest
import reference as ref
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, no_warnings, rule_floats

from jacobnet.core.rules import RULES, Rule, get_rule

X = sp.Symbol("x", real=True)
RTOL = 4e-15  # ≈ 18 ulp: the NumPy forms are accurate to a few ulp everywhere (measured: ≤ 4 ulp)
DPS = 1000  # 1 − tanh²(1000) ≈ 1e-869 and log(1 + e^{−1000}) ≈ 1e-434 cancel that many digits
ATOL = 1e-300  # only below this (subnormal results) is an absolute error accepted
PARAMS = [(name, {}) for name in RULES] + [("leaky_relu", {"alpha": 0.2}), ("leaky_relu", {"alpha": 0.0})]
IDS = [f"{name}{params or ''}" for name, params in PARAMS]


def sympy_forms(rule: Rule, params: dict[str, float]):
    """``(f, f')`` from the SymPy expression, differentiated by SymPy, evaluated by mpmath."""
    expr = rule.expr(X, **params)
    return sp.lambdify(X, expr, "mpmath"), sp.lambdify(X, sp.diff(expr, X), "mpmath")


def exact(fn, xs: np.ndarray) -> np.ndarray:
    """``fn`` at every point of ``xs`` with DPS significant digits, rounded to float64."""
    with mpmath.workdps(DPS):
        return np.array([float(fn(mpmath.mpf(float(v)))) for v in xs])


def grid(rule: Rule) -> np.ndarray:
    """The domain end to end, ±1000, the exp over/underflow thresholds, tiny values, the kinks."""
    lo, hi = rule.domain
    mags = np.concatenate([np.logspace(-300, 3, 61), [18.4, 36.8, 709.78, 745.2, 1000.0]])
    special = [*rule.kinks, *(k + d for k in rule.kinks for d in (-1e-12, 1e-12))]
    pts = np.concatenate([np.linspace(lo, hi, 101), mags, -mags, [0.0], special])
    return np.unique(pts[(pts >= lo) & (pts <= hi)])


def numpy_forms(rule: Rule, params: dict[str, float], xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with no_warnings():
        return rule.f(xs, **params), rule.df(xs, **params)


@pytest.mark.parametrize("name, params", PARAMS, ids=IDS)
def test_f_and_df_match_sympy_across_the_domain(name: str, params: dict[str, float]) -> None:
    rule = get_rule(name)
    f_ref, df_ref = sympy_forms(rule, params)
    xs = grid(rule)
    f, df = numpy_forms(rule, params, xs)
    np.testing.assert_allclose(f, exact(f_ref, xs), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(df, exact(df_ref, xs), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(RULES))
@FAST
@given(data=st.data())
def test_f_and_df_match_sympy_at_random_points(name: str, data) -> None:
    rule = get_rule(name)
    v = data.draw(rule_floats(rule))
    f_ref, df_ref = sympy_forms(rule, rule.defaults)
    f, df = numpy_forms(rule, rule.defaults, np.array([v]))
    np.testing.assert_allclose(f, exact(f_ref, [v]), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(df, exact(df_ref, [v]), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(RULES))
def test_extremes_are_finite_exact_and_silent(name: str) -> None:
    rule = get_rule(name)
    xs = np.array([-1000.0, -745.2, -709.8, -1e-300, 0.0, 1e-300, 709.8, 745.2, 1000.0])
    f, df = numpy_forms(rule, rule.defaults, xs)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(df))
    # the limits, exactly: every rule here is x or 0 (or αx) at ±1000 in float64
    expected_f = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1000.0),
                  "leaky_relu": (-10.0, 1000.0), "softplus": (0.0, 1000.0)}[name]
    expected_df = {"sigmoid": (0.0, 0.0), "tanh": (0.0, 0.0), "relu": (0.0, 1.0),
                   "leaky_relu": (0.01, 1.0), "softplus": (0.0, 1.0)}[name]
    assert (f[0], f[-1]) == expected_f
    assert (df[0], df[-1]) == expected_df


@pytest.mark.parametrize("name, params", PARAMS, ids=IDS)
def test_the_autograd_reference_is_as_accurate_as_the_rules(name: str, params: dict[str, float]) -> None:
    """tests/reference.py and autograd's derivative of it, against SymPy: so that agreeing
    with it to 1e-12 (test_layers, test_network) means agreeing with the mathematics."""
    rule = get_rule(name)
    f_ref, df_ref = sympy_forms(rule, params)
    fn = ref.ACTIVATIONS[name]
    if params:
        fn = (lambda alpha: lambda x: ref.leaky_relu(x, alpha))(params["alpha"])
    xs = grid(rule)
    with no_warnings():
        f, df = fn(xs), autograd.elementwise_grad(fn)(xs)
    np.testing.assert_allclose(f, exact(f_ref, xs), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(df, exact(df_ref, xs), rtol=RTOL, atol=ATOL)


def test_every_domain_covers_plus_minus_1000() -> None:
    for rule in RULES.values():
        assert rule.domain[0] <= -1000.0 and rule.domain[1] >= 1000.0, rule.name


KINKED = [(n, p) for n, p in PARAMS if get_rule(n).kinks]


def documented_kink(rule: Rule, params: dict[str, float]) -> tuple[float, float]:
    """``(point, value)`` read from ``kink_note``, e.g. ``"f'(0) = alpha, …"`` → ``(0.0, α)``."""
    m = re.match(r"f'\(([-\d.]+)\) = ([A-Za-z_]\w*|[-\d.]+)", rule.kink_note)
    assert m, f"{rule.name}: kink_note must start with f'(point) = value, got {rule.kink_note!r}"
    point, value = m.groups()
    values = {**rule.defaults, **params}
    return float(point), float(values[value]) if value in values else float(value)


@pytest.mark.parametrize("name, params", KINKED, ids=[f"{n}{p or ''}" for n, p in KINKED])
def test_kink_takes_the_documented_left_derivative(name: str, params: dict[str, float]) -> None:
    rule = get_rule(name)
    point, value = documented_kink(rule, params)
    assert point in rule.kinks and "left derivative" in rule.kink_note
    # SymPy, from the definition: lim_{h→0⁻} (f(k + h) − f(k)) / h, and from the right
    h = sp.Symbol("h", negative=True)
    expr = rule.expr(X, **params)
    quotient = (expr.subs(X, point + h) - expr.subs(X, point)) / h
    left = float(sp.limit(quotient, h, 0, "-"))
    hp = sp.Symbol("h", positive=True)
    right = float(sp.limit((expr.subs(X, point + hp) - expr.subs(X, point)) / hp, hp, 0, "+"))
    assert left == pytest.approx(value, abs=0, rel=1e-15)
    if left == right:
        pytest.fail(f"{name}: listed as a kink but its one-sided derivatives agree ({left})")
    with no_warnings():
        df = rule.df(np.array([point, np.nextafter(point, -1), np.nextafter(point, 1)]), **params)
    assert df[0] == left and df[1] == left and df[2] == right
    # and SymPy's own derivative, evaluated at the kink, agrees (Piecewise with x <= 0 on the left)
    assert float(sp.diff(expr, X).subs(X, point)) == left


def test_get_rule_names_the_unknown_and_the_known() -> None:
    with pytest.raises(KeyError, match=r"no elementwise rule named 'swish'; known: sigmoid, tanh, relu"):
        get_rule("swish")


@pytest.mark.parametrize("name", list(RULES))
def test_rules_are_elementwise_on_batches(name: str) -> None:
    rule = get_rule(name)
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    with no_warnings():
        f, df = rule.f(x, **rule.defaults), rule.df(x, **rule.defaults)
        f_flat, df_flat = rule.f(x.ravel(), **rule.defaults), rule.df(x.ravel(), **rule.defaults)
    assert f.shape == df.shape == (3, 4) and f.dtype == df.dtype == np.float64
    np.testing.assert_array_equal(f.ravel(), f_flat)
    np.testing.assert_array_equal(df.ravel(), df_flat)
