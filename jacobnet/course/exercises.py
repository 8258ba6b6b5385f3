"""Answer checkers for the course: submit a Jacobian, a shape, a count or a gradient; get told what is wrong.

Each checker computes the package's own value for a stated layer, loss,
network, chain or function and compares the student's answer with it
(:func:`jacobnet.course.feedback.check_matrix`, :func:`~jacobnet.course.answers.check_number`,
:func:`~jacobnet.course.answers.check_shape`): ``.ok`` is ``True`` only for a
correct answer, and printing the :class:`~jacobnet.course.answers.Feedback` gives
a hint at what is wrong — a transposed or misshapen answer, a sign, rounding, a
constant factor, parameters in the wrong order, or the wrong entries by
name (counted from 1) — and, with ``reveal=True``, the expected values too.
The expected value is computed inside the checker, so an exercise's cell holds
no expression that prints it. A lesson records each verdict under its exercise's
number (:class:`jacobnet.course.lesson.Lesson`).

* :func:`check_layer_jacobian` — ``J_x`` or ``J_θ`` of a layer at ``x``;
* :func:`check_jacobian_shape` — the shape of a layer's ``J_x`` or ``J_θ``, or of any ``f``'s Jacobian;
* :func:`check_loss_jacobian` — the ``(1, n)`` row ``∂L/∂ŷ``;
* :func:`check_loss_value` — the loss of a network on a batch (a number);
* :func:`check_gradient` — ``dL/dθ`` of a network, entries named ``W^(1)_2,3``;
* :func:`check_batch_gradient` — ``Σ_b δ_bᵀ J_θ(x_b)`` of one layer over a batch, or one named entry of it;
* :func:`check_function_jacobian` — any ``f: ℝⁿ → ℝᵐ``, against central differences;
* :func:`check_flops` — the multiply-adds of a chain's product in an order;
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

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from jacobnet.check.entries import position
from jacobnet.core.cost import check_cost, shorten
from jacobnet.core.finite import as_point, jacobian_fd, loss_cost
from jacobnet.core.labels import Labels, entry_labels
from jacobnet.core.layer import Layer
from jacobnet.course.answers import RTOL, Feedback, check_shape, compare_number
from jacobnet.course.feedback import CHECK_OPS, compare, guard_check
from jacobnet.course.handout import ANSWER_TAG, SOLUTION_TAG, strip_answers

if TYPE_CHECKING:
    from jacobnet.chain.product import Chain
    from jacobnet.core.losses import Loss
    from jacobnet.net.network import Network

__all__ = [
    "check_layer_jacobian", "check_jacobian_shape", "check_loss_jacobian", "check_loss_value", "check_gradient",
    "check_batch_gradient", "check_function_jacobian", "check_flops", "strip_answers", "ANSWER_TAG", "SOLUTION_TAG",
]

Array = np.ndarray
GRADIENT_OPS = 3
"""A network's gradient costs about this many loss evaluations (forward, then backward)."""


def _plain(labels: Sequence[str]) -> Labels:
    """``W^{(1)}_{2,3}`` → ``W^(1)_2,3``: the LaTeX labels, readable in plain text (made on demand, as the labels are)."""
    return Labels(len(labels), lambda j: labels[j].replace("{", "").replace("}", ""))


WRT = ("input", "params")
"""What a layer's Jacobian is taken with respect to: its input (``J_x``) or its parameters (``J_θ``)."""
THETA_ORDER = "θ = [vec_r(W), b] is row-major: W_1,1, W_1,2, …, then b"


def _wrt(wrt: object, who: str, layer: object = None) -> str:
    """``wrt``, checked: ``"input"`` or ``"params"`` — and a layer with parameters for ``"params"``."""
    if not isinstance(wrt, str) or wrt not in WRT:
        raise ValueError(f"{who}: wrt must be 'input' or 'params', got {shorten(repr(wrt), 60)}")
    if wrt == "params" and isinstance(layer, Layer) and layer.n_params == 0:
        raise ValueError(f"{who}: {layer.name} has no parameters, so it has no J_θ (its J_x: wrt='input')")
    return wrt


def check_layer_jacobian(answer: object, layer: Layer, x: Array, wrt: str = "input", *, reveal: bool = False) -> Feedback:
    """Check a layer's ``J_x`` (``wrt="input"``, shape ``(n_out, n_in)``) or ``J_θ`` (``wrt="params"``, ``(n_out, n_params)``) at ``x``.

    The reference is the layer's own ``jacobian_input``/``jacobian_params``; columns of ``J_θ``
    are named by ``param_labels`` (``W_1,2``, ``b_1``). ``reveal=True`` adds the expected values.
    A layer without parameters has no ``J_θ`` (a ``ValueError`` says so).

    >>> from jacobnet import Dense, Tanh
    >>> check_layer_jacobian(np.eye(2), Tanh(), np.zeros(2)).ok
    True
    >>> layer = Dense(3, 2, seed=0)
    >>> layer.set_params(np.arange(8.0))                            # W = [[0, 1, 2], [3, 4, 5]], b = [6, 7]
    >>> print(check_layer_jacobian([[0.0, 1.0, 2.0], [3.0, 4.0, 10.0]], layer, np.ones(3)))
    ✗ J_x(Dense(3→2)): 1 of 6 entries wrong (shape (2, 3) is right).
        (2, 3) ∂a_2/∂x_3: not 10
    """
    who = "check_layer_jacobian"
    if np.ndim(x) != 1:
        raise ValueError(f"{who}: x must be one sample of shape (n_in,), got shape {np.shape(x)}")
    if _wrt(wrt, who, layer) == "input":
        return compare(answer, layer.jacobian_input(x), who=who, name=f"J_x({layer.name})", reveal=reveal)
    return compare(answer, layer.jacobian_params(x), who=who, name=f"J_θ({layer.name})", col_labels=_plain(layer.param_labels()),
                   column_hint=THETA_ORDER, columns="parameters", reveal=reveal)


def check_jacobian_shape(
    answer: object, f: Layer | Callable[[Array], Array], x: Array, *, wrt: str = "input", name: str = "", reveal: bool = False
) -> Feedback:
    """Check the shape of a Jacobian at one sample ``x`` ``(n,)``, from one evaluation of ``f`` (the Jacobian is never built).

    ``f`` a layer: its ``J_x`` is ``(n_out, n_in)`` (``wrt="input"``), its ``J_θ`` ``(n_out, n_params)``
    (``wrt="params"``); ``f`` any function ``ℝⁿ → ℝᵐ``: its Jacobian is ``(m, n)``. The feedback is
    :func:`~jacobnet.course.answers.check_shape`'s: a hint, the right shape only with ``reveal=True``.

    >>> from jacobnet import Dense
    >>> check_jacobian_shape((2, 8), Dense(3, 2, seed=0), np.zeros(3), wrt="params").ok
    True
    >>> f = lambda v: np.array([v[0] * v[1], v[1], 3 * v[0]])      # ℝ² → ℝ³
    >>> print(check_jacobian_shape((2, 3), f, np.array([1.0, 2.0]), name="J_f"))
    ✗ J_f: transposed: (2, 3) has the rows and the columns swapped — rows are the outputs, columns the inputs.
    """
    who = "check_jacobian_shape"
    wrt = _wrt(wrt, who, f)
    x = as_point(x, who)
    if isinstance(f, Layer):
        m = int(np.size(f.forward(x)))
        want = (m, x.size) if wrt == "input" else (m, f.n_params)
        default = f"{'J_x' if wrt == 'input' else 'J_θ'}({f.name})"
    elif callable(f):
        if wrt != "input":
            raise ValueError(f"{who}: a function has no parameters; wrt='params' is for a layer, got f = {shorten(repr(f), 60)}")
        out = np.atleast_1d(f(x))
        if out.ndim != 1:
            raise ValueError(f"{who}: f must return a scalar or a 1-D array (m,) (f: ℝⁿ → ℝᵐ), got shape {out.shape}")
        want, default = (out.size, x.size), "J_f"
    else:
        raise TypeError(f"{who}: f must be a layer or a function ℝⁿ → ℝᵐ, got {type(f).__name__}")
    return check_shape(answer, want, name=name or default, columns="inputs" if wrt == "input" else "parameters", reveal=reveal)


def check_loss_jacobian(answer: object, loss: Loss, yhat: Array, y: Array, *, reveal: bool = False) -> Feedback:
    """Check the row ``∂L/∂ŷ`` — shape ``(1, n)`` — of ``loss`` at prediction ``yhat`` and target ``y``.

    >>> from jacobnet import MSE
    >>> print(check_loss_jacobian([1.0, 2.0], MSE(), np.array([1.0, 2.0]), np.zeros(2)))
    ✗ J_loss(MSE): the numbers are right but the shape is not: expected (1, 2) (rows = 1 output, columns = 2 inputs), got (2,); reshape it (e.g. .reshape(1, 2)).
    """
    expected = loss.jacobian(yhat, y)
    cols = _plain(loss.input_labels(expected.shape[-1]))  # ŷ_j, or z_j for the logits of SoftmaxCrossEntropy
    return compare(answer, expected, who="check_loss_jacobian", name=f"J_loss({loss.name})", row_labels=["L"], col_labels=cols,
                   reveal=reveal)


def check_loss_value(
    answer: object, net: Network, x: Array, y: Array, *, rtol: float = RTOL, name: str = "the loss", hint: str = "",
    reveal: bool = False
) -> Feedback:
    """Check a number against ``net.loss(x, y)``: the loss at one sample, or its mean over a batch ``(B, n_in)``.

    ``rtol`` says how close counts (``0.05`` for a prediction within 5 %); the feedback is
    :func:`~jacobnet.course.answers.check_number`'s, with the exercise's ``hint``.

    >>> from jacobnet import build_network
    >>> net = build_network([2, 3, 2], loss="softmax-ce", seed=0)
    >>> X, Y = np.zeros((4, 2)), np.eye(2)[[0, 1, 0, 1]]
    >>> check_loss_value(np.log(2), net, X, Y, rtol=0.05).ok
    True
    >>> print(check_loss_value(2 * np.log(2), net, X, Y, rtol=0.05))
    ✗ the loss: not 1.38629: off by a simple factor (2, 3 or 4, or one over it).
    """
    who = "check_loss_value"
    x = net.check_input(x)
    check_cost(loss_cost(net, x), f"{who}: the loss of {shorten(repr(net))} at {x.shape[0] if x.ndim == 2 else 1} samples",
               "check the loss of fewer samples")
    return compare_number(answer, net.loss(x, y), who=who, name=name, rtol=rtol, hint=hint, reveal=reveal)


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
    hint = "layer order, each θ = [vec_r(W), b]: W row by row, then b"
    return compare(answer, net.gradient(x, y), who="check_gradient", name="dL/dθ", col_labels=_plain(net.param_labels()),
                   column_hint=hint, columns="parameters", reveal=reveal)


def check_batch_gradient(
    answer: object, layer: Layer, X: Array, G: Array, *, entry: str | None = None, name: str = "", reveal: bool = False
) -> Feedback:
    """Check ``Σ_b δ_bᵀ J_θ(x_b)``: a layer's parameter gradient over a batch — ``(n_params,)``, or its ``entry``.

    ``X`` ``(B, n_in)`` holds the batch's inputs of the layer, ``G`` ``(B, n_out)`` the rows
    ``δ_bᵀ = ∂L/∂a(x_b)`` that reach its output; the reference sums the ``B`` materialised
    per-sample products, in the layer's parameter order (``θ = [vec_r(W), b]`` for Dense, so
    ``[vec_r(Gᵀ X), 1ᵀ G]``). ``entry`` names one parameter (``"W_{2,3}"`` or ``"W_2,3"``, as
    ``param_labels``): the answer is then that single number.

    >>> from jacobnet import Dense
    >>> X, G = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]), np.array([[1.0], [2.0], [-1.0]])    # B = 3, Dense(2→1)
    >>> check_batch_gradient([-2.0, -1.0, 2.0], Dense(2, 1, seed=0), X, G).ok         # [vec_r(Gᵀ X), 1ᵀ G]
    True
    >>> print(check_batch_gradient(2.0, Dense(2, 1, seed=0), X, G, entry="W_{1,1}"))
    ✗ the batch gradient's W_1,1: not 2: sign flipped.
    """
    who = "check_batch_gradient"
    _wrt("params", who, layer)
    J = layer.jacobian_params(X)  # (B, n_out, n_params): the layer checks X, the budget guards the size
    if J.ndim != 3:
        raise ValueError(f"{who}: X must be a batch of the layer's inputs, shape (B, n_in); got one sample of shape {np.shape(X)} "
                         "(write it as a batch of one, X[None, :])")
    G = np.asarray(G, dtype=np.float64)
    if G.shape != J.shape[:2]:
        raise ValueError(f"{who}: G must hold one row δ_bᵀ per input, shape (B, n_out) = {J.shape[:2]}, got {G.shape}")
    expected = np.einsum("bm,bmp->p", G, J)
    labels = _plain(layer.param_labels())
    if entry is None:
        return compare(answer, expected, who=who, name=name or f"Σ_b δ_bᵀ J_θ({layer.name})", col_labels=labels,
                       column_hint=THETA_ORDER, columns="parameters", reveal=reveal)
    j = _label_index(layer.param_labels(), entry, who, layer.name)
    return compare_number(answer, expected[j], who=who, name=name or f"the batch gradient's {labels[j]}", reveal=reveal)


def _label_index(labels: Sequence[str], entry: object, who: str, layer: str) -> int:
    """The index of the parameter named ``entry`` (a LaTeX label ``W_{2,3}`` or its plain form ``W_2,3``)."""
    plain = _plain(labels)
    for j in range(len(labels)):
        if entry in (labels[j], plain[j]):
            return j
    shown = ", ".join(plain[j] for j in range(min(len(labels), 4)))
    raise ValueError(f"{who}: {layer} has no parameter {shorten(repr(entry), 40)}; its parameters are {shown}, …")


def check_function_jacobian(
    answer: object, f: Callable[[Array], Array], x: Array, *, name: str = "J_f", reveal: bool = False
) -> Feedback:
    """Check a hand-derived Jacobian of any ``f: ℝⁿ → ℝᵐ`` at ``x`` against central differences — shape ``(m, n)``.

    Raises ``ValueError`` when the differences are not finite (``f`` is not defined around ``x``).

    >>> f = lambda v: np.array([v[0] * v[1], v[1] ** 2, 3 * v[0]])   # ℝ² → ℝ³
    >>> check_function_jacobian([[2.0, 1.0], [0.0, 4.0], [3.0, 0.0]], f, np.array([1.0, 2.0])).ok
    True
    """
    who = "check_function_jacobian"
    with np.errstate(all="ignore"):  # (an f undefined around x is refused below, by name, not by a warning)
        expected = jacobian_fd(f, as_point(x, who))
    bad = np.argwhere(~np.isfinite(expected))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise ValueError(f"{who}: the central differences of f at x are not finite ({expected[where]} at {position(where)}): "
                         "f is not defined, or not differentiable, around this x")
    rows = _plain(entry_labels("f", expected.shape[0]))
    return compare(answer, expected, who=who, name=name, row_labels=rows, rtol=1e-6, atol=1e-9, reveal=reveal)


def check_flops(
    answer: object, chain: Chain, order: str = "reverse", *, mode: str = "materialised", name: str = "", hint: str = "",
    reveal: bool = False
) -> Feedback:
    """Check a count of multiply-adds: ``chain.flops(order, mode)``, the cost of the chain's product in ``order``.

    A ``(m×n)·(n×p)`` product costs ``m·n·p`` multiply-adds (materialised); the feedback is
    :func:`~jacobnet.course.answers.check_number`'s (off by one, by a factor, …), with ``hint``.

    >>> from jacobnet.chain import Chain
    >>> c = Chain.from_matrices([np.ones((1, 4)), np.ones((4, 3)), np.ones((3, 5))])
    >>> check_flops(1 * 4 * 3 + 1 * 3 * 5, c, "reverse").ok
    True
    >>> print(check_flops(81, c, "forward"))
    ✗ multiply-adds of the forward order: not 81: off by one.
    """
    who = "check_flops"
    if not callable(getattr(chain, "flops", None)):
        raise TypeError(f"{who}: chain must be a product of factors such as net.chain(x, y), got {type(chain).__name__}")
    return compare_number(answer, chain.flops(order, mode), who=who, name=name or f"multiply-adds of the {order} order", hint=hint,
                          reveal=reveal)
