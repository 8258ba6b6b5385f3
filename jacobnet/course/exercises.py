"""Answer checkers for the course: submit a Jacobian, a shape or a gradient; get told what is wrong.

Each checker computes the package's own value for a stated layer, loss,
network or function and compares the student's answer with it
(:func:`jacobnet.course.feedback.check_matrix`): ``.ok`` is ``True`` only for a
correct answer, and printing the :class:`~jacobnet.course.feedback.Feedback` says
what is wrong — a transposed or misshapen answer, a sign, rounding, a
constant factor, parameters in the wrong order, or the wrong entries by
name with expected vs got.

* :func:`check_layer_jacobian` — ``J_x`` or ``J_θ`` of a layer at ``x``;
* :func:`check_loss_jacobian` — the ``(1, n)`` row ``∂L/∂ŷ``;
* :func:`check_gradient` — ``dL/dθ`` of a network, entries named ``W^(1)_2,3``;
* :func:`check_function_jacobian` — any ``f: ℝⁿ → ℝᵐ``, against central differences;
* :func:`~jacobnet.course.feedback.check_matrix`, :func:`~jacobnet.course.feedback.check_shape`,
  :func:`~jacobnet.course.feedback.check_number` — against a given value;
* :func:`strip_answers` — for teachers: a copy of a course notebook with every answer blanked.

The course notebooks come with correct answers filled in, so they run green as they are.
Each exercise's answer cell carries the cell tag ``"answer"`` (:data:`ANSWER_TAG`) and assigns
the answer to names starting with ``answer``; :func:`strip_answers` replaces those values by
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

import ast
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from jacobnet.core.finite import jacobian_fd
from jacobnet.core.labels import entry_labels
from jacobnet.course.feedback import Feedback, check_matrix

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.losses import Loss
    from jacobnet.net.network import Network

Array = np.ndarray
ANSWER_TAG = "answer"
"""The cell tag of an exercise's answer cell (cell metadata ``{"tags": ["answer"]}``)."""


def _plain(labels: list[str]) -> list[str]:
    """``W^{(1)}_{2,3}`` → ``W^(1)_2,3``: the LaTeX labels, readable in plain text."""
    return [label.replace("{", "").replace("}", "") for label in labels]


def check_layer_jacobian(answer: object, layer: Layer, x: Array, wrt: str = "input") -> Feedback:
    """Check a layer's ``J_x`` (``wrt="input"``, shape ``(n_out, n_in)``) or ``J_θ`` (``wrt="params"``) at ``x``.

    The reference is the layer's own ``jacobian_input``/``jacobian_params``; columns of ``J_θ``
    are named by ``param_labels`` (``W_1,2``, ``b_1``).

    >>> from jacobnet import Tanh
    >>> check_layer_jacobian(np.eye(2), Tanh(), np.zeros(2)).ok
    True
    """
    x = np.asarray(x, dtype=np.float64)
    if wrt == "input":
        return check_matrix(answer, layer.jacobian_input(x), name=f"J_x({layer.name})")
    if wrt == "params":
        cols = _plain(layer.param_labels())
        hint = "θ = [vec_r(W), b] is row-major: W_1,1, W_1,2, …, then b"
        return check_matrix(
            answer, layer.jacobian_params(x), name=f"J_θ({layer.name})", col_labels=cols, column_hint=hint, columns="parameters"
        )
    raise ValueError(f"wrt must be 'input' or 'params', got {wrt!r}")


def check_loss_jacobian(answer: object, loss: Loss, yhat: Array, y: Array) -> Feedback:
    """Check the row ``∂L/∂ŷ`` — shape ``(1, n)`` — of ``loss`` at prediction ``yhat`` and target ``y``.

    >>> from jacobnet import MSE
    >>> print(check_loss_jacobian([1.0, 2.0], MSE(), np.array([1.0, 2.0]), np.zeros(2)))
    ✗ J_loss(MSE): the numbers are right but the shape is not: expected (1, 2) (rows = 1 output, columns = 2 inputs), got (2,); reshape it (e.g. .reshape(1, 2)).
    """
    expected = loss.jacobian(yhat, y)
    cols = _plain(loss.input_labels(expected.shape[-1]))  # ŷ_j, or z_j for the logits of SoftmaxCrossEntropy
    return check_matrix(answer, expected, name=f"J_loss({loss.name})", row_labels=["L"], col_labels=cols)


def check_gradient(answer: object, net: Network, x: Array, y: Array) -> Feedback:
    """Check ``dL/dθ`` — the flat ``(n_params,)`` vector of ``net.gradient(x, y)`` — entries named by parameter.

    >>> from jacobnet import build_network
    >>> net = build_network([3, 2], loss="mse")
    >>> g = net.gradient(np.ones(3), np.zeros(2))
    >>> print(check_gradient(g * 2, net, np.ones(3), np.zeros(2)))
    ✗ dL/dθ: off by a constant factor: your answer is 2 × the right one.
    """
    labels = _plain(net.param_labels())
    hint = "layer order, each θ = [vec_r(W), b]: W row by row, then b"
    return check_matrix(answer, net.gradient(x, y), name="dL/dθ", col_labels=labels, column_hint=hint, columns="parameters")


def check_function_jacobian(answer: object, f: Callable[[Array], Array], x: Array, *, name: str = "J_f") -> Feedback:
    """Check a hand-derived Jacobian of any ``f: ℝⁿ → ℝᵐ`` at ``x`` against central differences — shape ``(m, n)``.

    >>> f = lambda v: np.array([v[0] * v[1], v[1] ** 2, 3 * v[0]])   # ℝ² → ℝ³
    >>> check_function_jacobian([[2.0, 1.0], [0.0, 4.0], [3.0, 0.0]], f, np.array([1.0, 2.0])).ok
    True
    """
    expected = jacobian_fd(f, np.asarray(x, dtype=np.float64))
    rows = _plain(entry_labels("f", expected.shape[0]))
    return check_matrix(answer, expected, name=name, row_labels=rows, rtol=1e-6, atol=1e-9)


def strip_answers(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write a copy of a course notebook with every answer blanked (for students); return its path.

    In each code cell tagged :data:`ANSWER_TAG`, every assignment to names starting with
    ``answer`` gets ``...`` as its value (``answer_J, answer_row = (4, 16), (1, 4)`` becomes
    ``answer_J, answer_row = ..., ...``); every output is cleared, since outputs show answers.
    ``out`` defaults to ``<name>_blank.ipynb`` beside ``path``; it may not be ``path`` itself.

    >>> import tempfile
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["answer"]}, "outputs": [], "execution_count": 3,
    ...         "source": ["answer = np.array([[1.0, 2.0, 3.0],\\n", "                   [4.0, 5.0, 6.0]])\\n", "check(answer)"]}
    >>> lesson = Path(tempfile.mkdtemp()) / "lesson.ipynb"
    >>> _ = lesson.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    >>> blank = strip_answers(lesson)
    >>> blank.name, json.loads(blank.read_text())["cells"][0]["source"]
    ('lesson_blank.ipynb', ['answer = ...\\n', 'check(answer)'])
    """
    path = Path(path)
    out = path.with_name(f"{path.stem}_blank.ipynb") if out is None else Path(out)
    if out.resolve() == path.resolve():
        raise ValueError(f"strip_answers: out must differ from {path} (it would lose the answers)")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"strip_answers: {path} is not a Jupyter notebook ({exc})") from None
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = _blank_answers(source, f"{path.name}, cell {i}").splitlines(keepends=True)
    out.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _answer_names(target: ast.expr) -> int:
    """How many ``answer…`` names ``target`` assigns (``answer`` or a tuple of them), else 0."""
    names = target.elts if isinstance(target, ast.Tuple) else [target]
    ok = all(isinstance(n, ast.Name) and n.id.startswith("answer") for n in names)
    return len(names) if ok else 0


def _blank_answers(source: str, where: str) -> str:
    """``source`` with the value of every top-level ``answer… = value`` statement replaced by ``...``."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"strip_answers: {where} is tagged {ANSWER_TAG!r} but is not Python ({exc.msg})") from None
    lines = source.splitlines(keepends=True)
    answers = [n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1 and _answer_names(n.targets[0])]
    if not answers:
        raise ValueError(f"strip_answers: {where} is tagged {ANSWER_TAG!r} but assigns no name starting with 'answer'")
    for node in reversed(answers):  # bottom-up, so the line numbers above stay valid
        target = ast.get_source_segment(source, node.targets[0])
        end = "\n" if lines[node.end_lineno - 1].endswith("\n") else ""
        blank = ", ".join(["..."] * _answer_names(node.targets[0]))
        lines[node.lineno - 1 : node.end_lineno] = [f"{target} = {blank}{end}"]
    return "".join(lines)
