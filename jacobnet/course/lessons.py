"""The course's lessons, once: their numbers, notebook files and titles, in order.

:data:`LESSONS` is the one list of the course. The hand-outs
(:func:`jacobnet.course.handout.write_handout`), the HTML edition's index and
the notebook tests all read it; a lesson's minutes are read from its notebook
(:func:`read_minutes`: the "About N minutes" of its first cell), so they are
written in one place too. :func:`read_notebook` is the one reader of a course
notebook's file: JSON checked to be what nbformat 4 says, or a ``ValueError``
naming the file and the cell.

>>> [(info.number, info.filename) for info in LESSONS[:2]]
[(1, '01_chain_rule_as_matrices.ipynb'), (2, '02_dense_layer.ipynb')]
>>> lesson_info(14).title
'Capstone: handwritten digits'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from jacobnet.core.cost import shorten

NOTEBOOKS = Path(__file__).resolve().parent.parent.parent / "notebooks"
"""Where the course notebooks are in a checkout of the repository (``notebooks/`` next to the package)."""
TOTAL_MINUTES = re.compile(r"About (\d+) minutes")
MAX_NOTEBOOK_BYTES = 100 * 2**20
"""A notebook larger than this is refused (a course notebook is well under a megabyte)."""


@dataclass(frozen=True)
class LessonInfo:
    """One lesson of the course: its ``number`` (1-based), its notebook's file ``stem`` and its ``title``."""

    number: int
    stem: str
    title: str

    @property
    def filename(self) -> str:
        """The notebook's file name, ``<stem>.ipynb``."""
        return f"{self.stem}.ipynb"

    @property
    def heading(self) -> str:
        """The title as the notebook's first line writes it (without the ``#``): ``"4 · Build backpropagation yourself"``."""
        return f"{self.number} · {self.title}"

    def path(self, source: Path | None = None) -> Path:
        """The notebook's path in ``source`` (default :data:`NOTEBOOKS`)."""
        return (NOTEBOOKS if source is None else Path(source)) / self.filename


LESSONS: tuple[LessonInfo, ...] = tuple(
    LessonInfo(n, stem, title)
    for n, (stem, title) in enumerate(
        [
            ("01_chain_rule_as_matrices", "The chain rule, as a product of matrices"),
            ("02_dense_layer", "The dense layer: J_x = W and J_θ = [I ⊗ xᵀ | I]"),
            ("03_activations_and_softmax", "Activations, softmax, and the loss as a row"),
            ("04_build_backprop_yourself", "Build backpropagation yourself"),
            ("05_backprop_is_a_product", "Backpropagation is a product of Jacobians"),
            ("06_symbolic_vs_numeric", "Symbolic vs numeric vs finite differences"),
            ("07_accumulation_order", "Accumulation order: why backpropagation multiplies from the left"),
            ("08_training_with_jacobians", "Training with explicit Jacobians"),
            ("09_blocks_and_paths", "Blocks and paths: residuals, concatenation, shared weights"),
            ("10_convolution_and_pooling", "Convolution and pooling"),
            ("11_layernorm_and_attention", "LayerNorm and attention"),
            ("12_depth_and_initialisation", "Depth and initialisation"),
            ("13_curvature", "Curvature: Hessians, Gauss–Newton and the loss spike"),
            ("14_digits_capstone", "Capstone: handwritten digits"),
        ],
        start=1,
    )
)
"""The 14 lessons, in order: ``LESSONS[k - 1].number == k``."""


def lesson_info(number: int) -> LessonInfo:
    """The lesson numbered ``number`` (1-based), or a ``ValueError`` naming the range.

    >>> lesson_info(4).stem
    '04_build_backprop_yourself'
    """
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(LESSONS):
        raise ValueError(f"lesson number must be an integer from 1 to {len(LESSONS)}, got {number!r}")
    return LESSONS[number - 1]


def read_minutes(path: Path) -> int:
    """The minutes a lesson announces in its first cell ("About N minutes"), read from its notebook at ``path``.

    Raises ``ValueError`` naming the file when it is not a notebook (:func:`read_notebook`) or
    its first cell announces no minutes.

    >>> read_minutes(lesson_info(1).path()) > 0
    True
    """
    path = Path(path)
    cells = read_notebook(path, "read_minutes")["cells"]
    found = TOTAL_MINUTES.search(cell_source(cells[0]) if cells else "")
    if not found:
        raise ValueError(f"read_minutes: {path.name}: its first cell announces no 'About N minutes'")
    return int(found.group(1))


def cell_source(cell: dict) -> str:
    """A (checked) cell's source as one string (nbformat allows a string or a list of lines)."""
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def read_notebook(path: Path, who: str) -> dict:
    """The notebook at ``path`` as JSON, checked cell by cell; a ``ValueError`` naming ``who``, the file and what is wrong.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "bad.ipynb"
    >>> _ = bad.write_text('{"cells": [{"cell_type": "code", "source": 5}]}')
    >>> read_notebook(bad, "read_minutes")
    Traceback (most recent call last):
    ...
    ValueError: read_minutes: bad.ipynb, cell 0 is not a notebook cell ('source' must be a string or a list of strings, got int)
    """
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
    """What the course reads of a notebook is what nbformat 4 says it is, or a ``ValueError`` naming it."""
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
