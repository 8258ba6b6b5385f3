"""The course's two editions of its notebooks: the student's (answers blank) and the teacher's (the notebooks as they are).

The committed notebooks are the solutions. Each exercise's answer cell carries
the cell tag ``"answer"`` (:data:`ANSWER_TAG`) and assigns the answer to names
starting with ``answer``; a cell that would give an answer away carries the tag
``"solution"`` (:data:`SOLUTION_TAG`). The student edition replaces every answer
by ``...`` (the checkers then say "not answered yet"), removes the solution
cells and clears every output:

* :func:`strip_answers` — one notebook's student copy;
* :func:`write_handout` — every lesson of :data:`~jacobnet.course.lessons.LESSONS`,
  the student's edition or (``solutions=True``) the teacher's, into one folder.

Files are written whole or not at all (a temporary file beside the target, then a rename),
and an existing file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np

from jacobnet.core.cost import shorten
from jacobnet.course.lessons import LESSONS, NOTEBOOKS

ANSWER_TAG = "answer"
"""The cell tag of an exercise's answer cell (cell metadata ``{"tags": ["answer"]}``)."""
SOLUTION_TAG = "solution"
"""The cell tag of a cell the student edition leaves out (it would reveal an answer)."""
MAX_NOTEBOOK_BYTES = 100 * 2**20
"""A notebook larger than this is refused (a course notebook is well under a megabyte)."""


def strip_answers(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
    """Write a copy of a course notebook with every answer blanked (for students); return its path.

    In each code cell tagged :data:`ANSWER_TAG`, every assignment to names starting with
    ``answer`` gets ``...`` as its value (``answer_J, answer_row = (4, 16), (1, 4)`` becomes
    ``answer_J, answer_row = ..., ...``); cells tagged :data:`SOLUTION_TAG` are left out;
    every output is cleared, since outputs show answers.
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
    overwrite = _flag(overwrite, "overwrite", "strip_answers")
    _check_out(path, out, overwrite, "strip_answers")
    _write_whole(out, _student_text(path, "strip_answers"))
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
    >>> write_handout(Path(tempfile.mkdtemp()) / "handout", source=Path("/no/such/folder"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: write_handout: source /no/such/folder does not exist — an installed jacobnet (a wheel) carries no notebooks; pass source= the notebooks/ folder of a jacobnet checkout (it holds 01_chain_rule_as_matrices.ipynb …)
    """
    who = "write_handout"
    solutions, overwrite = _flag(solutions, "solutions", who), _flag(overwrite, "overwrite", who)
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


def _flag(value: object, name: str, who: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be True or False, got {shorten(repr(value), 60)}")
    return bool(value)


def _teacher_bytes(path: Path, who: str) -> bytes:
    """The notebook unchanged (checked to be one first)."""
    _read_notebook(path, who)
    return path.read_bytes()


def _student_text(path: Path, who: str) -> str:
    """The student edition of the notebook at ``path``, as the JSON text to write."""
    nb = _read_notebook(path, who)
    cells = []
    for i, cell in enumerate(nb["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            continue
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            if ANSWER_TAG in tags:
                source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                cell["source"] = _blank_answers(source, f"{path.name}, cell {i}", who).splitlines(keepends=True)
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
        raise ValueError(f"{who}: out {out} is a directory; give a file name such as {path.stem}_blank.ipynb")
    if (out.exists() or out.is_symlink()) and not overwrite:
        shown = out.name if who == "strip_answers" else str(out)
        raise ValueError(f"{who}: {shown} exists; pass overwrite=True to replace it")


def _read_notebook(path: Path, who: str) -> dict:
    """The notebook at ``path`` as JSON, checked cell by cell; a ``ValueError`` naming the file and what is wrong."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"{who}: {path.name} is {size} bytes, more than a notebook's {MAX_NOTEBOOK_BYTES}")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError(f"{who}: {path.name} is not a Jupyter notebook (its JSON is nested too deeply)") from None
    except ValueError as exc:  # (JSON and UTF-8 errors)
        raise ValueError(f"{who}: {path.name} is not a Jupyter notebook ({shorten(str(exc), 120)})") from None
    _check_notebook(nb, path.name, who)
    return nb


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check_notebook(nb: object, name: str, who: str) -> None:
    """What the editions read of a notebook is what nbformat 4 says it is, or a ``ValueError`` naming it."""
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        got = f"a JSON {_kind(nb)}" if not isinstance(nb, dict) else f"'cells' {_kind(nb.get('cells'))}"
        raise ValueError(f"{who}: {name} is not a Jupyter notebook (expected an object with a list 'cells', got {got})")
    if not isinstance(nb.get("metadata", {}), dict):
        raise ValueError(f"{who}: {name} is not a Jupyter notebook ('metadata' must be an object, got {_kind(nb['metadata'])})")
    for i, cell in enumerate(nb["cells"]):
        _check_cell(cell, f"{name}, cell {i}", who)


def _check_cell(cell: object, where: str, who: str) -> None:
    def bad(what: str) -> ValueError:
        return ValueError(f"{who}: {where} is not a notebook cell ({what})")

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


def _answer_names(target: ast.expr) -> int:
    """How many ``answer…`` names ``target`` assigns (``answer`` or a tuple of them), else 0."""
    names = target.elts if isinstance(target, ast.Tuple) else [target]
    ok = all(isinstance(n, ast.Name) and n.id.startswith("answer") for n in names)
    return len(names) if ok else 0


def _blank_answers(source: str, where: str, who: str) -> str:
    """``source`` with the value of every top-level ``answer… = value`` statement replaced by ``...``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:  # (NUL bytes; nesting too deep for the parser)
        why = exc.msg if isinstance(exc, SyntaxError) else "nested too deeply" if isinstance(exc, (RecursionError, MemoryError)) else str(exc)
        raise ValueError(f"{who}: {where} is tagged {ANSWER_TAG!r} but is not Python ({why})") from None
    lines = source.splitlines(keepends=True)
    answers = [n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1 and _answer_names(n.targets[0])]
    if not answers:
        raise ValueError(f"{who}: {where} is tagged {ANSWER_TAG!r} but assigns no name starting with 'answer'")
    for node in reversed(answers):  # bottom-up, so the line numbers above stay valid
        target = ast.get_source_segment(source, node.targets[0])
        end = "\n" if lines[node.end_lineno - 1].endswith("\n") else ""
        blank = ", ".join(["..."] * _answer_names(node.targets[0]))
        lines[node.lineno - 1 : node.end_lineno] = [f"{target} = {blank}{end}"]
    return "".join(lines)
