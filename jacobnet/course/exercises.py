"""Answer checkers for the course: submit a Jacobian, a shape or a gradient; get told what is wrong.

Each checker computes the package's own value for a stated layer, loss,
network or function and compares the student's answer with it
(:func:`jacobnet.course.feedback.check_matrix`): ``.ok`` is ``True`` only for a
correct answer, and printing the :class:`~jacobnet.course.feedback.Feedback` gives
a hint at what is wrong — a transposed or misshapen answer, a sign, rounding, a
constant factor, parameters in the wrong order, or the wrong entries by
name (counted from 1) — and, with ``reveal=True``, the expected values too.
A lesson records each verdict under its exercise's number (:class:`jacobnet.course.lesson.Lesson`).

* :func:`check_layer_jacobian` — ``J_x`` or ``J_θ`` of a layer at ``x``;
* :func:`check_loss_jacobian` — the ``(1, n)`` row ``∂L/∂ŷ``;
* :func:`check_gradient` — ``dL/dθ`` of a network, entries named ``W^(1)_2,3``;
* :func:`check_function_jacobian` — any ``f: ℝⁿ → ℝᵐ``, against central differences;
* :func:`~jacobnet.course.feedback.check_matrix`, :func:`~jacobnet.course.feedback.check_shape`,
  :func:`~jacobnet.course.feedback.check_number` — against a given value;
* :func:`~jacobnet.course.handout.strip_answers` — for teachers: a copy of a course notebook with every
  answer blanked (the student editions of the whole course: :func:`jacobnet.course.handout.write_handout`).

The course notebooks come with correct answers filled in, so they run green as they are.
Each exercise's answer cell carries the cell tag ``"answer"`` (:data:`ANSWER_TAG`) and assigns
the answer to names starting with ``answer``; ``strip_answers`` replaces those values by
``...``, and the checkers then say "not answered yet".

>>> import numpy as np
>>> from jacobnet import Dense
>>> layer = Dense(3, 2, seed=0)
>>> check_layer_jacobian(layer.W, layer, np.ones(3)).ok
True
>>> print(check_layer_jacobian(layer.W.T, layer, np.ones(3)))
✗ J_x(Dense(3→2)): your answer is the transpose. Expected shape (2, 3) (rows = 2 outputs, columns = 3 inputs), got (3, 2); the numbers are right, so take .T — a Jacobian's row i is the gradient of output i.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from jacobnet.core.cost import check_cost, shorten
from jacobnet.core.finite import jacobian_fd, loss_cost
from jacobnet.core.labels import Labels, entry_labels
from jacobnet.course.feedback import CHECK_OPS, Feedback, check_matrix, check_number, check_shape, guard_check
from jacobnet.course.handout import ANSWER_TAG, SOLUTION_TAG, strip_answers

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.losses import Loss
    from jacobnet.net.network import Network

__all__ = [
    "check_layer_jacobian", "check_loss_jacobian", "check_gradient", "check_function_jacobian",
    "check_matrix", "check_shape", "check_number", "Feedback", "strip_answers", "ANSWER_TAG", "SOLUTION_TAG",
]

Array = np.ndarray
GRADIENT_OPS = 3
"""A network's gradient costs about this many loss evaluations (forward, then backward)."""


def _plain(labels: Sequence[str]) -> Labels:
    """``W^{(1)}_{2,3}`` → ``W^(1)_2,3``: the LaTeX labels, readable in plain text (made on demand, as the labels are)."""
    return Labels(len(labels), lambda j: labels[j].replace("{", "").replace("}", ""))


def _param_labels(net: Network) -> Labels:
    """``net.param_labels()`` made on demand: a 5000 → 5000 layer has 25 million, and a check names at most a few."""
    parts = [layer.param_labels(k) for k, layer in enumerate(net.param_layers, start=1)]
    starts = np.cumsum([0, *(len(p) for p in parts)]).tolist()

    def label(j: int) -> str:
        a = bisect_right(starts, j) - 1
        return parts[a][j - starts[a]]

    return Labels(starts[-1], label)


def check_layer_jacobian(answer: object, layer: Layer, x: Array, wrt: str = "input", *, reveal: bool = False) -> Feedback:
    """Check a layer's ``J_x`` (``wrt="input"``, shape ``(n_out, n_in)``) or ``J_θ`` (``wrt="params"``) at ``x``.

    The reference is the layer's own ``jacobian_input``/``jacobian_params``; columns of ``J_θ``
    are named by ``param_labels`` (``W_1,2``, ``b_1``). ``reveal=True`` adds the expected values.

    >>> from jacobnet import Dense, Tanh
    >>> check_layer_jacobian(np.eye(2), Tanh(), np.zeros(2)).ok
    True
    >>> layer = Dense(3, 2, seed=0)
    >>> layer.set_params(np.arange(8.0))                            # W = [[0, 1, 2], [3, 4, 5]], b = [6, 7]
    >>> print(check_layer_jacobian([[0.0, 1.0, 2.0], [3.0, 4.0, 10.0]], layer, np.ones(3)))
    ✗ J_x(Dense(3→2)): 1 of 6 entries wrong (shape (2, 3) is right).
        (2, 3) ∂a_2/∂x_3: not 10
    """
    x = np.asarray(x, dtype=np.float64)
    if wrt == "input":
        return check_matrix(answer, layer.jacobian_input(x), name=f"J_x({layer.name})", reveal=reveal)
    if wrt == "params":
        cols = _plain(layer.param_labels())
        hint = "θ = [vec_r(W), b] is row-major: W_1,1, W_1,2, …, then b"
        return check_matrix(answer, layer.jacobian_params(x), name=f"J_θ({layer.name})", col_labels=cols, column_hint=hint,
                            columns="parameters", reveal=reveal)
    raise ValueError(f"wrt must be 'input' or 'params', got {wrt!r}")


def check_loss_jacobian(answer: object, loss: Loss, yhat: Array, y: Array, *, reveal: bool = False) -> Feedback:
    """Check the row ``∂L/∂ŷ`` — shape ``(1, n)`` — of ``loss`` at prediction ``yhat`` and target ``y``.

    >>> from jacobnet import MSE
    >>> print(check_loss_jacobian([1.0, 2.0], MSE(), np.array([1.0, 2.0]), np.zeros(2)))
    ✗ J_loss(MSE): the numbers are right but the shape is not: expected (1, 2) (rows = 1 output, columns = 2 inputs), got (2,); reshape it (e.g. .reshape(1, 2)).
    """
    expected = loss.jacobian(yhat, y)
    cols = _plain(loss.input_labels(expected.shape[-1]))  # ŷ_j, or z_j for the logits of SoftmaxCrossEntropy
    return check_matrix(answer, expected, name=f"J_loss({loss.name})", row_labels=["L"], col_labels=cols, reveal=reveal)


def check_gradient(answer: object, net: Network, x: Array, y: Array, *, reveal: bool = False) -> Feedback:
    """Check ``dL/dθ`` — the flat ``(n_params,)`` vector of ``net.gradient(x, y)`` — entries named by parameter.

    The gradient and the check are guarded first, by the cost limit (:mod:`jacobnet.core.cost`)
    and the memory budget (:func:`~jacobnet.course.feedback.guard_check`); the labels are made
    only for the entries named.

    >>> from jacobnet import build_network
    >>> net = build_network([3, 2], loss="mse")
    >>> g = net.gradient(np.ones(3), np.zeros(2))
    >>> print(check_gradient(g * 2, net, np.ones(3), np.zeros(2), reveal=True).summary)
    off by a constant factor: your answer is 2 × the right one.
    >>> wrong = g.copy(); wrong[4] = -wrong[4]
    >>> print(check_gradient(wrong, net, np.ones(3), np.zeros(2)))
    ✗ dL/dθ: 1 of 8 entries wrong (shape (8,) is right).
        entry 5 W^(1)_2,2: not 0.0399377 — sign flipped
    """
    x = net.check_input(x)
    n = net.n_params
    check_cost(GRADIENT_OPS * loss_cost(net, x) + CHECK_OPS * n, f"checking dL/dθ of {shorten(repr(net))} ({n} parameters)",
               "check the gradient of a smaller network")
    guard_check("dL/dθ", (n,))
    labels = _plain(_param_labels(net))
    hint = "layer order, each θ = [vec_r(W), b]: W row by row, then b"
    return check_matrix(answer, net.gradient(x, y), name="dL/dθ", col_labels=labels, column_hint=hint, columns="parameters",
                        reveal=reveal)


def check_function_jacobian(
    answer: object, f: Callable[[Array], Array], x: Array, *, name: str = "J_f", reveal: bool = False
) -> Feedback:
    """Check a hand-derived Jacobian of any ``f: ℝⁿ → ℝᵐ`` at ``x`` against central differences — shape ``(m, n)``.

    >>> f = lambda v: np.array([v[0] * v[1], v[1] ** 2, 3 * v[0]])   # ℝ² → ℝ³
    >>> check_function_jacobian([[2.0, 1.0], [0.0, 4.0], [3.0, 0.0]], f, np.array([1.0, 2.0])).ok
    True
    """
    expected = jacobian_fd(f, np.asarray(x, dtype=np.float64))
    rows = _plain(entry_labels("f", expected.shape[0]))
    return check_matrix(answer, expected, name=name, row_labels=rows, rtol=1e-6, atol=1e-9, reveal=reveal)
