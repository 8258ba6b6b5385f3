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
from bisect import bisect_right
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from jacobnet.core.cost import check_cost, shorten
from jacobnet.core.finite import jacobian_fd, loss_cost
from jacobnet.core.labels import Labels, entry_labels
from jacobnet.course.feedback import CHECK_OPS, Feedback, check_matrix, guard_check

if TYPE_CHECKING:
    from jacobnet.core.layer import Layer
    from jacobnet.core.losses import Loss
    from jacobnet.net.network import Network

Array = np.ndarray
ANSWER_TAG = "answer"
"""The cell tag of an exercise's answer cell (cell metadata ``{"tags": ["answer"]}``)."""


MAX_NOTEBOOK_BYTES = 100 * 2**20
""":func:`strip_answers` refuses a file larger than this (a course notebook is well under a megabyte)."""
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

    The gradient and the check are guarded first, by the cost limit (:mod:`jacobnet.core.cost`)
    and the memory budget (:func:`~jacobnet.course.feedback.guard_check`); the labels are made
    only for the entries named.

    >>> from jacobnet import build_network
    >>> net = build_network([3, 2], loss="mse")
    >>> g = net.gradient(np.ones(3), np.zeros(2))
    >>> print(check_gradient(g * 2, net, np.ones(3), np.zeros(2)))
    ✗ dL/dθ: off by a constant factor: your answer is 2 × the right one.
    """
    x = net.check_input(x)
    n = net.n_params
    check_cost(GRADIENT_OPS * loss_cost(net, x) + CHECK_OPS * n, f"checking dL/dθ of {shorten(repr(net))} ({n} parameters)",
               "check the gradient of a smaller network")
    guard_check("dL/dθ", (n,))
    labels = _plain(_param_labels(net))
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


def strip_answers(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
    """Write a copy of a course notebook with every answer blanked (for students); return its path.

    In each code cell tagged :data:`ANSWER_TAG`, every assignment to names starting with
    ``answer`` gets ``...`` as its value (``answer_J, answer_row = (4, 16), (1, 4)`` becomes
    ``answer_J, answer_row = ..., ...``); every output is cleared, since outputs show answers.
    ``out`` defaults to ``<name>_blank.ipynb`` beside ``path``. It may not be ``path`` itself,
    nor the same file by another name (a hard link, a symbolic link, another path); an existing
    ``out`` is replaced only with ``overwrite=True``. The copy is written whole or not at all.

    Raises:
        ValueError: ``path`` is not a notebook (not JSON, too big, too deeply nested, or a
            cell that is not what nbformat says: ``cells`` a list of objects, ``source`` a
            string or a list of strings, ``metadata`` an object, ``tags`` a list of strings) —
            the message names the file and the cell; a tagged cell that is not Python or
            assigns no answer; ``out`` is ``path``, a directory, or exists without ``overwrite``.
        OSError: ``path`` cannot be read or ``out`` written (e.g. ``FileNotFoundError``).

    >>> import tempfile
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["answer"]}, "outputs": [], "execution_count": 3,
    ...         "source": ["answer = np.array([[1.0, 2.0, 3.0],\\n", "                   [4.0, 5.0, 6.0]])\\n", "check(answer)"]}
    >>> lesson = Path(tempfile.mkdtemp()) / "lesson.ipynb"
    >>> _ = lesson.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    >>> blank = strip_answers(lesson)
    >>> blank.name, json.loads(blank.read_text())["cells"][0]["source"]
    ('lesson_blank.ipynb', ['answer = ...\\n', 'check(answer)'])
    >>> strip_answers(lesson)
    Traceback (most recent call last):
    ...
    ValueError: strip_answers: lesson_blank.ipynb exists; pass overwrite=True to replace it
    """
    path = Path(path)
    out = path.with_name(f"{path.stem}_blank.ipynb") if out is None else Path(out)
    if not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"strip_answers: overwrite must be True or False, got {shorten(repr(overwrite), 60)}")
    _check_out(path, out, bool(overwrite))
    nb = _read_notebook(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = _blank_answers(source, f"{path.name}, cell {i}").splitlines(keepends=True)
    try:
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    except RecursionError:
        raise ValueError(f"strip_answers: {path.name} is nested too deeply to write back") from None
    _write_whole(out, text)
    return out


def _check_out(path: Path, out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that is ``path`` (by any name or link), a directory, or exists without ``overwrite``."""
    same = out.resolve() == path.resolve()
    if not same and out.exists() and path.exists():
        same = os.path.samefile(out, path)  # a hard link, or the same file by another path
    if same:
        raise ValueError(f"strip_answers: out must differ from {path} (it is the same file, and would lose the answers)")
    if out.is_dir():
        raise ValueError(f"strip_answers: out {out} is a directory; give a file name such as {path.stem}_blank.ipynb")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ValueError(f"strip_answers: {out.name} exists; pass overwrite=True to replace it")


def _read_notebook(path: Path) -> dict:
    """The notebook at ``path`` as JSON, checked cell by cell; a ``ValueError`` naming the file and what is wrong."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"strip_answers: {path.name} is {size} bytes, more than a notebook's {MAX_NOTEBOOK_BYTES}")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError(f"strip_answers: {path.name} is not a Jupyter notebook (its JSON is nested too deeply)") from None
    except ValueError as exc:  # (JSON and UTF-8 errors)
        raise ValueError(f"strip_answers: {path.name} is not a Jupyter notebook ({shorten(str(exc), 120)})") from None
    _check_notebook(nb, path.name)
    return nb


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check_notebook(nb: object, name: str) -> None:
    """What :func:`strip_answers` reads of a notebook is what nbformat 4 says it is, or a ``ValueError`` naming it."""
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        got = f"a JSON {_kind(nb)}" if not isinstance(nb, dict) else f"'cells' {_kind(nb.get('cells'))}"
        raise ValueError(f"strip_answers: {name} is not a Jupyter notebook (expected an object with a list 'cells', got {got})")
    if not isinstance(nb.get("metadata", {}), dict):
        raise ValueError(f"strip_answers: {name} is not a Jupyter notebook ('metadata' must be an object, got {_kind(nb['metadata'])})")
    for i, cell in enumerate(nb["cells"]):
        _check_cell(cell, f"{name}, cell {i}")


def _check_cell(cell: object, where: str) -> None:
    def bad(what: str) -> ValueError:
        return ValueError(f"strip_answers: {where} is not a notebook cell ({what})")

    if not isinstance(cell, dict):
        raise bad(f"expected an object, got {_kind(cell)}")
    if not isinstance(cell.get("cell_type"), str):
        raise bad(f"'cell_type' must be a string, got {_kind(cell.get('cell_type'))}")
    source = cell.get("source")
    if not (isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)):
        raise bad("'source' is missing" if "source" not in cell else f"'source' must be a string or a list of strings, got {_kind(source)}")
    metadata = cell.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad(f"'metadata' must be an object, got {_kind(metadata)}")
    tags = metadata.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad(f"metadata 'tags' must be a list of strings, got {_kind(tags)}")


def _write_whole(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` through a temporary file beside it: a reader never sees half a notebook."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _answer_names(target: ast.expr) -> int:
    """How many ``answer…`` names ``target`` assigns (``answer`` or a tuple of them), else 0."""
    names = target.elts if isinstance(target, ast.Tuple) else [target]
    ok = all(isinstance(n, ast.Name) and n.id.startswith("answer") for n in names)
    return len(names) if ok else 0


def _blank_answers(source: str, where: str) -> str:
    """``source`` with the value of every top-level ``answer… = value`` statement replaced by ``...``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # (NUL bytes; nesting too deep for the parser)
        why = exc.msg if isinstance(exc, SyntaxError) else "nested too deeply" if isinstance(exc, (RecursionError, MemoryError)) else str(exc)
        raise ValueError(f"strip_answers: {where} is tagged {ANSWER_TAG!r} but is not Python ({why})") from None
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
