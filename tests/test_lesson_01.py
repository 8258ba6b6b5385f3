"""Lesson 1 (the chain rule as a product of matrices): every fact the lesson states, recomputed from the package.

The notebook narrates; these tests hold it to its numbers without executing it: the scalar chain rule,
the Jacobian as the best linear approximation (the remainder is o(‖h‖)), J_g∘f = J_g J_f against SymPy and
central differences, the two bracketings of J_g J_f J_e and their costs, and the exercises' answers and slips.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from jacobnet.chain import Chain
from jacobnet.check import jacobian_fd, rel_error
from jacobnet.course import exercises, feedback


def f(x):  # ℝ² → ℝ³, the lesson's f
    return np.array([x[0] * x[1], x[0] ** 2, np.sin(x[1])])


def g(u):  # ℝ³ → ℝ¹
    return np.array([u[0] + u[1] * u[2]])


def e(x):  # ℝ² → ℝ², linear
    return np.array([x[0] + x[1], x[0] - x[1]])


def J_f(x):  # by hand: rows f_1, f_2, f_3; columns x_1, x_2
    return np.array([[x[1], x[0]], [2 * x[0], 0.0], [0.0, np.cos(x[1])]])


def J_g(u):
    return np.array([[1.0, u[2], u[1]]])


X0 = np.array([1.0, 2.0])
X_EX = np.array([3.0, -1.0])


def test_scalar_chain_rule():
    t = sp.Symbol("t", real=True)
    h = sp.sin(t**2)
    assert sp.simplify(sp.diff(h, t) - sp.cos(t**2) * 2 * t) == 0
    t0 = 0.8
    J_h = np.array([[np.cos(t0**2)]]) @ np.array([[2 * t0]])
    J_fd = jacobian_fd(lambda v: np.sin(v**2), np.array([t0]))
    assert J_h.shape == J_fd.shape == (1, 1) and rel_error(J_h, J_fd) < 1e-8


def test_sympy_jacobians_match_finite_differences():
    x1, x2 = sp.symbols("x_1 x_2", real=True)
    u1, u2, u3 = sp.symbols("u_1 u_2 u_3", real=True)
    Jf_sym = sp.Matrix([x1 * x2, x1**2, sp.sin(x2)]).jacobian([x1, x2])
    Jg_sym = sp.Matrix([u1 + u2 * u3]).jacobian([u1, u2, u3])
    assert Jf_sym.shape == (3, 2) and Jg_sym.shape == (1, 3)
    Jf = np.array(Jf_sym.subs({x1: X0[0], x2: X0[1]}), dtype=float)
    u0 = f(X0)
    Jg = np.array(Jg_sym.subs({u1: u0[0], u2: u0[1], u3: u0[2]}), dtype=float)
    assert rel_error(Jf, jacobian_fd(f, X0)) < 1e-8 and rel_error(Jg, jacobian_fd(g, u0)) < 1e-8
    assert np.array_equal(Jf, J_f(X0))


def test_the_remainder_after_the_linear_term_is_second_order():
    """(f(x0 + h) − f(x0) − J_f h)/‖h‖ → 0, in proportion to ‖h‖ (each tenfold smaller step: a tenfold smaller ratio)."""
    d = np.array([0.6, -0.8])
    ratios = [np.linalg.norm(f(X0 + s * d) - f(X0) - J_f(X0) @ (s * d)) / s for s in (1e-1, 1e-2, 1e-3, 1e-4)]
    assert all(0.09 < b / a < 0.11 for a, b in zip(ratios, ratios[1:])), ratios
    assert ratios[-1] < 1e-4
    # a wrong "Jacobian" (the transpose's numbers, reshaped) leaves an O(1) ratio: the test can fail
    wrong = J_f(X0).T.reshape(3, 2)
    assert np.linalg.norm(f(X0 + 1e-4 * d) - f(X0) - wrong @ (1e-4 * d)) / 1e-4 > 0.1


def test_chain_rule_is_the_product():
    J_h2 = J_g(f(X0)) @ J_f(X0)
    assert J_h2.shape == (1, 2)
    x1, x2 = sp.symbols("x_1 x_2", real=True)
    h_expr = sp.Matrix([x1 * x2 + x1**2 * sp.sin(x2)])
    J_direct = np.array(h_expr.jacobian([x1, x2]).subs({x1: X0[0], x2: X0[1]}), dtype=float)
    assert rel_error(J_h2, J_direct) < 1e-12
    assert rel_error(J_h2, jacobian_fd(lambda x: g(f(x)), X0)) < 1e-8


def test_the_factors_must_fit():
    with pytest.raises(ValueError, match="cannot multiply"):
        Chain.from_matrices([J_f(X0), J_g(f(X0))], names=["J_f", "J_g"], target="J_f · J_g")


def test_two_bracketings_same_matrix_different_cost():
    Je = jacobian_fd(e, np.zeros(2))
    Jf_e, Jg_fe = jacobian_fd(f, e(X0)), jacobian_fd(g, f(e(X0)))
    left_first, right_first = (Jg_fe @ Jf_e) @ Je, Jg_fe @ (Jf_e @ Je)
    cost_left, cost_right = 1 * 3 * 2 + 1 * 2 * 2, 3 * 2 * 2 + 1 * 3 * 2
    assert np.allclose(left_first, right_first, rtol=1e-12) and (cost_left, cost_right) == (10, 18)
    chain3 = Chain.from_matrices([Jg_fe, Jf_e, Je], names=["J_g", "J_f", "J_e"], target="J_h")
    assert chain3.shapes == [(1, 3), (3, 2), (2, 2)]
    assert (chain3.flops("reverse"), chain3.flops("forward")) == (cost_left, cost_right)
    assert chain3.describe("reverse") == "((J_g·J_f)·J_e)" and chain3.describe("forward") == "(J_g·(J_f·J_e))"
    assert np.allclose(chain3.evaluate("forward"), left_first, rtol=1e-12)
    assert rel_error(left_first, jacobian_fd(lambda x: g(f(e(x))), X0)) < 1e-7


def test_the_answers_are_right():
    k = lambda v: np.array([v[0] * v[3], v[1] + v[2] ** 2])  # noqa: E731  ℝ⁴ → ℝ²
    assert feedback.check_shape((2, 4), jacobian_fd(k, np.ones(4))).ok
    assert exercises.check_function_jacobian(J_f(X_EX), f, X_EX).ok
    composite = np.array([[-1.0 + 6.0 * np.sin(-1.0), 3.0 + 9.0 * np.cos(-1.0)]])
    assert exercises.check_function_jacobian(composite, lambda x: g(f(x)), X_EX).ok
    assert np.allclose(composite, J_g(f(X_EX)) @ J_f(X_EX), rtol=1e-12)


def test_the_slips_shown_are_diagnosed_without_the_answer():
    shape = feedback.check_shape((2, 3), J_f(X0), name="J_f")
    assert not shape.ok and "transposed" in shape.summary and "(3, 2)" not in str(shape)
    transposed = exercises.check_function_jacobian(J_f(X0).T, f, X0)
    assert not transposed.ok and "transpose" in transposed.summary
    sign = exercises.check_function_jacobian(J_f(X0) * [[1, 1], [1, 1], [1, -1]], f, X0)
    assert not sign.ok and "sign flipped" in str(sign) and "(3, 2)" in str(sign)  # 1-based: row 3, column 2
    column = exercises.check_function_jacobian((J_g(f(X0)) @ J_f(X0)).T, lambda x: g(f(x)), X0)
    assert not column.ok and "transpose" in column.summary
