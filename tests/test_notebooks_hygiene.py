"""The course notebooks stay reviewable: committed without outputs, and they only narrate.

Policy (README, "Course"): notebooks are committed with outputs stripped and
``execution_count`` null, so a diff shows only what a person wrote. They
import the installed package (no ``sys.path``), define no functions or
classes (everything a user needs lives in ``jacobnet``), check answers with
``jacobnet.exercises``, draw with jacobnet's figures, and end with a cell that
asserts what they taught. ``make test`` executes them all with nbmake.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
COURSE = [
    "01_chain_rule_as_matrices",
    "02_dense_layer",
    "03_activations_and_softmax",
    "04_backprop_is_a_product",
    "05_symbolic_vs_numeric",
    "06_accumulation_order",
    "07_training_with_jacobians",
]
DEFINITION = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)
CHECKER = re.compile(r"\bexercises\.check_\w+\(")


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def code_cells(nb: dict) -> list[str]:
    return [source(c) for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_course_is_exactly_these_notebooks():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == COURSE


@pytest.fixture(params=COURSE)
def nb(request) -> dict:
    return load(request.param)


def test_valid_nbformat_4_with_python3_kernel(nb):
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    assert "widgets" not in nb["metadata"]  # no saved widget state


def test_outputs_are_stripped(nb):
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], source(cell)[:60]
            assert cell["execution_count"] is None, source(cell)[:60]
        assert "attachments" not in cell


def test_imports_the_package_and_never_touches_sys_path(nb):
    code = "\n".join(code_cells(nb))
    assert re.search(r"^\s*(import jacobnet|from jacobnet)", code, re.MULTILINE)
    assert "sys.path" not in code and "site.addsitedir" not in code
    assert "PYTHONPATH" not in code


def test_optional_dependencies_stay_optional(nb):
    code = "\n".join(code_cells(nb))
    assert not re.search(r"^\s*(import|from)\s+(ipywidgets|tqdm|torch)\b", code, re.MULTILINE)


def test_defines_no_functions_or_classes(nb):
    for cell in code_cells(nb):
        assert not DEFINITION.search(cell), f"a definition in a notebook cell:\n{cell}"


def test_has_exercises_with_the_packaged_checker(nb):
    code = "\n".join(code_cells(nb))
    assert len(CHECKER.findall(code)) >= 2
    exercises = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.search(r"^#+ .*Exercise", source(c), re.M)]
    assert 2 <= len(exercises) <= 4


def test_draws_with_jacobnet_figures(nb):
    code = "\n".join(code_cells(nb))
    assert re.search(r"\b(viz|coursefigs)\.\w+_?\w*\(", code)
    assert "plt.show" not in code


def test_starts_with_a_title_and_numbered_lessons(nb):
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and source(first).startswith("# ")
    lessons = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.match(r"## \d+\. ", source(c))]
    assert len(lessons) >= 3


def test_ends_with_an_assert_cell(nb):
    last = nb["cells"][-1]
    assert last["cell_type"] == "code" and re.search(r"^assert ", source(last), re.MULTILINE)
