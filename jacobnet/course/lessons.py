"""The course's lessons, once: their numbers, notebook files and titles, in order.

:data:`LESSONS` is the one list of the course. The hand-outs
(:func:`jacobnet.course.handout.write_handout`), the HTML edition's index and
the notebook tests all read it; a lesson's minutes are read from its notebook
(:func:`read_minutes`: the "About N minutes" of its first cell), so they are
written in one place too.

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

NOTEBOOKS = Path(__file__).resolve().parent.parent.parent / "notebooks"
"""Where the course notebooks are in a checkout of the repository (``notebooks/`` next to the package)."""
TOTAL_MINUTES = re.compile(r"About (\d+) minutes")


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

    Raises ``ValueError`` naming the file when the first cell announces none.
    """
    path = Path(path)
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells") or [{}]
    src = cells[0].get("source", "")
    found = TOTAL_MINUTES.search(src if isinstance(src, str) else "".join(src))
    if not found:
        raise ValueError(f"{path.name}: its first cell announces no 'About N minutes'")
    return int(found.group(1))
