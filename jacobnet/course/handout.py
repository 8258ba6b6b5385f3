"""The course's two editions of its notebooks: the student's (answers blank) and the teacher's (the notebooks as they are).

The committed notebooks are the solutions. Each exercise's answer cell is a code
cell tagged ``"answer"`` (:data:`ANSWER_TAG`) that assigns each answer once, at its
top level, to a name starting with ``answer`` (``answer_J = …``, or
``answer_J, answer_row = …, …``); a cell that would give an answer away carries the
tag ``"solution"`` (:data:`SOLUTION_TAG`). The student edition replaces the value
of every answer by ``...`` — that value only: the rest of the cell is kept as it is
— (the checkers then say "not answered yet"), removes the solution cells and clears
every output:

* :func:`strip_answers` — one notebook's student copy;
* :func:`write_handout` — every lesson of :data:`~jacobnet.course.lessons.LESSONS`,
  the student's edition or (``solutions=True``) the teacher's, into one folder.

An answer cell that binds an ``answer…`` name any other way (``+=``, ``answer[0] = …``,
a loop, ``:=``, an annotation, inside an ``if``) is refused with the cell and the line:
its value could not be blanked, so the hand-out would carry it. Files are written whole
or not at all (a temporary file beside the target, then a rename), and an existing
file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
from pathlib import Path

from jacobnet.core.cost import shorten
from jacobnet.core.validate import flag
from jacobnet.course.lessons import LESSONS, NOTEBOOKS, cell_source, read_notebook

__all__ = ["strip_answers", "write_handout", "blank_answers", "ANSWER_TAG", "SOLUTION_TAG"]

ANSWER_TAG = "answer"
"""The cell tag of an exercise's answer cell (cell metadata ``{"tags": ["answer"]}``)."""
SOLUTION_TAG = "solution"
"""The cell tag of a cell the student edition leaves out (it would reveal an answer)."""
ANSWER_PREFIX = "answer"
"""An answer cell assigns its answers to names that start with this."""
TRAILING_COMMENT = re.compile(rb"(?:[ \t]*#[^\r\n]*)?")


def strip_answers(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
    """Write a copy of a course notebook with every answer blanked (for students); return its path.

    In each code cell tagged :data:`ANSWER_TAG`, the value of every top-level assignment to
    names starting with ``answer`` becomes ``...`` (``answer_J, answer_row = (4, 16), (1, 4)``
    becomes ``answer_J, answer_row = ..., ...``) and everything else in the cell stays;
    cells tagged :data:`SOLUTION_TAG` are left out; every output is cleared, since outputs
    show answers. ``out`` defaults to ``<name>_blank.ipynb`` beside ``path``, in an existing
    folder. It may not be ``path`` itself, nor the same file by another name (a hard link, a
    symbolic link, another path); an existing ``out`` is replaced only with ``overwrite=True``.
    The copy is written whole or not at all.

    Raises:
        ValueError: ``path`` is not a notebook (not JSON, too big, too deeply nested, or a
            cell that is not what nbformat says: ``cells`` a list of objects, ``source`` a
            string or a list of strings, ``metadata`` an object, ``tags`` a list of strings) —
            the message names the file and the cell; a tagged cell that is not Python code,
            assigns no answer, or binds an answer in a way that cannot be blanked (naming the
            line); ``out`` is ``path``, a directory, or exists without ``overwrite``.
        OSError: ``path`` cannot be read, ``out``'s folder does not exist (``FileNotFoundError``),
            or ``out`` cannot be written.

    >>> import tempfile
    >>> cell = {"cell_type": "code", "metadata": {"tags": ["answer"]}, "outputs": [], "execution_count": 3,
    ...         "source": ["x = 5; answer = np.array([[1.0, 2.0, 3.0],\\n", "                          [4.0, 5.0, 6.0]]) * x\\n",
    ...                    "check(answer)"]}
    >>> lesson = Path(tempfile.mkdtemp()) / "lesson.ipynb"
    >>> _ = lesson.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    >>> blank = strip_answers(lesson)
    >>> blank.name, json.loads(blank.read_text())["cells"][0]["source"]
    ('lesson_blank.ipynb', ['x = 5; answer = ...\\n', 'check(answer)'])
    >>> strip_answers(lesson)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: strip_answers: .../lesson_blank.ipynb exists; pass overwrite=True to replace it
    """
    who = "strip_answers"
    path = Path(path)
    out = path.with_name(f"{path.stem}_blank.ipynb") if out is None else Path(out)
    overwrite = flag(overwrite, f"{who}: overwrite")
    _check_out(path, out, overwrite, who)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"{who}: the folder of out, {out.parent}, does not exist; create it first, or choose another out")
    _write_whole(out, _student_text(path, who))
    return out


def write_handout(out: Path, *, solutions: bool = False, overwrite: bool = False, source: Path | None = None) -> list[Path]:
    """Write every lesson of the course into the folder ``out``; return the files written, in lesson order.

    The student edition (default) is :func:`strip_answers`' copy of each lesson: answers
    blank, solution cells removed, outputs cleared. ``solutions=True`` writes the teacher's
    edition: the notebooks byte for byte. ``source`` is the folder of the course notebooks
    (default ``notebooks/`` of the repository, :data:`~jacobnet.course.lessons.NOTEBOOKS`);
    ``out`` is created if need be. Every lesson is read and checked before anything is
    written; an existing file in ``out`` is replaced only with ``overwrite=True``; each file
    is written whole or not at all.

    Raises:
        FileNotFoundError: ``source`` is not a folder (e.g. jacobnet installed from a wheel,
            which has no notebooks), or a lesson's notebook is missing — naming the folder and the files.
        ValueError: a notebook is not one, a file of ``out`` exists without ``overwrite``
            (naming it), ``out`` is a file or is ``source`` itself.

    >>> import tempfile
    >>> files = write_handout(Path(tempfile.mkdtemp()) / "handout")
    >>> len(files), files[3].name
    (14, '04_build_backprop_yourself.ipynb')
    >>> write_handout(Path(tempfile.mkdtemp()) / "handout", source=Path("/no/such/folder"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: write_handout: source /no/such/folder does not exist — an installed jacobnet (a wheel) carries no notebooks; pass source= the notebooks/ folder of a jacobnet checkout (it holds 01_chain_rule_as_matrices.ipynb …)
    """
    who = "write_handout"
    solutions, overwrite = flag(solutions, f"{who}: solutions"), flag(overwrite, f"{who}: overwrite")
    folder, out = _source_folder(source), Path(out)
    paths = [info.path(folder) for info in LESSONS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{who}: {folder} lacks {len(missing)} of the {len(LESSONS)} lessons: {shorten(', '.join(missing), 200)}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{who}: out {out} is a file; give a folder for the {len(LESSONS)} lessons")
    targets = [out / p.name for p in paths]
    for path, target in zip(paths, targets):
        _check_out(path, target, overwrite, who)
    texts = [_teacher_bytes(p, who) if solutions else _student_text(p, who).encode("utf-8") for p in paths]
    out.mkdir(parents=True, exist_ok=True)
    for target, data in zip(targets, texts):
        _write_whole(target, data)
    return targets


def _source_folder(source: Path | None) -> Path:
    folder = NOTEBOOKS if source is None else Path(source)
    if not folder.is_dir():
        where = "the repository's notebooks/ folder" if source is None else "source"
        raise FileNotFoundError(
            f"write_handout: {where} {folder} does not exist — an installed jacobnet (a wheel) carries no notebooks; "
            f"pass source= the notebooks/ folder of a jacobnet checkout (it holds {LESSONS[0].filename} …)"
        )
    return folder


def _teacher_bytes(path: Path, who: str) -> bytes:
    """The notebook unchanged (checked to be one first)."""
    read_notebook(path, who)
    return path.read_bytes()


def _student_text(path: Path, who: str) -> str:
    """The student edition of the notebook at ``path``, as the JSON text to write."""
    nb = read_notebook(path, who)
    cells = []
    for i, cell in enumerate(nb["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            continue
        where = f"{path.name}, cell {i}"
        if ANSWER_TAG in tags and cell["cell_type"] != "code":
            raise ValueError(f"{who}: {where} is a {shorten(cell['cell_type'], 20)} cell tagged {ANSWER_TAG!r}; only a code cell "
                             f"holds an answer (tag text that gives an answer away {SOLUTION_TAG!r})")
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if ANSWER_TAG in tags:
                cell["source"] = _lines(blank_answers(cell_source(cell), where, who))
        cells.append(cell)
    nb["cells"] = cells
    try:
        return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    except RecursionError:
        raise ValueError(f"{who}: {path.name} is nested too deeply to write back") from None


def _check_out(path: Path, out: Path, overwrite: bool, who: str) -> None:
    """Refuse an ``out`` that is ``path`` (by any name or link), a directory, or exists without ``overwrite``."""
    same = out.resolve() == path.resolve()
    if not same and out.exists() and path.exists():
        same = os.path.samefile(out, path)  # a hard link, or the same file by another path
    if same:
        raise ValueError(f"{who}: out must differ from {path} (it is the same file, and would lose the answers)")
    if out.is_dir():
        raise ValueError(f"{who}: {out} is a directory, where the notebook {path.name} would be written as a file; move it, or choose another out")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ValueError(f"{who}: {out} exists; pass overwrite=True to replace it")


def _write_whole(out: Path, data: str | bytes) -> None:
    """Write ``data`` to ``out`` through a temporary file beside it: a reader never sees half a notebook."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


# --- blanking an answer cell ------------------------------------------------------------------------------
def _lines(source: str) -> list[str]:
    """``source`` as nbformat's list of lines, split where Python splits lines (``\\n``, ``\\r\\n``, ``\\r``; not ``\\f``)."""
    return io.StringIO(source, newline="").readlines()


def _is_answer(name: str) -> bool:
    return name.startswith(ANSWER_PREFIX)


def _answer_count(node: ast.stmt) -> int:
    """How many answers a top-level statement assigns the one way that can be blanked, ``answer… = value``
    (or ``answer_a, answer_b = …``): that number, else 0."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1:
        return 0
    target = node.targets[0]
    names = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
    return len(names) if all(isinstance(n, ast.Name) and _is_answer(n.id) for n in names) else 0


def _bound_answer(node: ast.AST) -> str | None:
    """The ``answer…`` name ``node`` binds, deletes or changes in place (``answer[0] = …``), if any."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        return node.id if _is_answer(node.id) else None
    if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
        base = node.value
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            base = base.value
        return base.id if isinstance(base, ast.Name) and _is_answer(base.id) else None
    names: list[str | None] = []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names = [node.name]
    elif isinstance(node, ast.alias):
        names = [node.asname or node.name.split(".")[0]]
    elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        names = [node.name]
    elif isinstance(node, ast.MatchMapping):
        names = [node.rest]
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        names = list(node.names)
    return next((n for n in names if n and _is_answer(n)), None)


def _answer_assignments(tree: ast.Module, source: str, where: str, who: str) -> list[ast.Assign]:
    """The top-level ``answer… = value`` statements of a cell; a ``ValueError`` naming the line of any other binding."""
    blankable = [node for node in tree.body if _answer_count(node)]
    allowed = {id(t) for node in blankable for t in ast.walk(node.targets[0])}
    for node in ast.walk(tree):
        name = None if id(node) in allowed else _bound_answer(node)
        if name:
            line = node.lineno  # (every node that binds a name has a position)
            text = shorten(_lines(source)[line - 1].strip(), 60)
            raise ValueError(
                f"{who}: {where}, line {line}: `{text}` binds {name} in a way the student edition cannot blank; "
                f"assign each answer once, at the top level of the cell, as `{name} = value`"
            )
    return blankable


def blank_answers(source: str, where: str = "the cell", who: str = "blank_answers") -> str:
    """The code ``source`` of an answer cell with the value of every answer replaced by ``...`` — and nothing else changed.

    Only the text after each top-level ``answer… =`` up to the end of its statement — and a
    comment that ends its line, which would explain the value — is replaced (found by ``ast``'s
    offsets, which count UTF-8 bytes on Python's own lines).
    ``where`` and ``who`` name the cell and the caller in the errors.

    Raises:
        ValueError: ``source`` is not Python, assigns no answer, or binds an ``answer…`` name
            any other way (``+=``, ``answer[i] = …``, an annotation, ``:=``, a loop, inside a block,
            ``a = answer_b = …``, ``answer, x = …``) — naming the line.

    >>> print(blank_answers("x = 5; answer = x * 2  # doubled\\nanswer_a, answer_b = (1,\\n  2), 3\\nprint(answer)"))
    x = 5; answer = ...
    answer_a, answer_b = ..., ...
    print(answer)
    >>> blank_answers("answer = 80\\nanswer += 8", "lesson.ipynb, cell 3", "strip_answers")
    Traceback (most recent call last):
    ...
    ValueError: strip_answers: lesson.ipynb, cell 3, line 2: `answer += 8` binds answer in a way the student edition cannot blank; assign each answer once, at the top level of the cell, as `answer = value`
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # (NUL bytes; nesting too deep for the parser)
        why = exc.msg if isinstance(exc, SyntaxError) else "nested too deeply" if isinstance(exc, (RecursionError, MemoryError)) else str(exc)
        raise ValueError(f"{who}: {where} is tagged {ANSWER_TAG!r} but is not Python code ({why})") from None
    answers = _answer_assignments(tree, source, where, who)
    if not answers:
        raise ValueError(f"{who}: {where} is tagged {ANSWER_TAG!r} but assigns no name starting with {ANSWER_PREFIX!r}")
    data = source.encode("utf-8")
    starts = [0]
    for line in _lines(source):
        starts.append(starts[-1] + len(line.encode("utf-8")))
    for node in reversed(answers):  # from the end, so that the offsets before stay valid
        target = node.targets[0]
        eq = _equals_sign(data, starts[target.end_lineno - 1] + target.end_col_offset)
        end = starts[node.end_lineno - 1] + node.end_col_offset
        end += len(TRAILING_COMMENT.match(data, end)[0])  # (a comment ending the answer's line explains its value: it goes too)
        data = data[: eq + 1] + b" " + ", ".join(["..."] * _answer_count(node)).encode() + data[end:]
    return data.decode("utf-8")


def _equals_sign(data: bytes, start: int) -> int:
    """The offset of the ``=`` after an assignment's target ending at ``start`` (past closing brackets, comments, ``\\``-newlines)."""
    k = start
    while k < len(data) and data[k] != ord("="):
        if data[k] == ord("#"):  # a comment (inside brackets) runs to the end of its line
            ends = [e for e in (data.find(b"\n", k), data.find(b"\r", k)) if e >= 0]
            k = min(ends, default=len(data))
        k += 1
    if k >= len(data):
        raise ValueError(f"blank_answers: no '=' after the target at byte {start}")  # (an Assign always has one)
    return k
