"""The course notebooks stay reviewable: committed without outputs, and they only narrate.

Policy (README, "Course"): notebooks are committed with outputs stripped and
``execution_count`` null, so a diff shows only what a person wrote. They
import the installed package (no ``sys.path``), define no functions or
classes (everything a user needs lives in ``jacobnet``) — a named ``lambda``
only for a function under study, declared with its signature (``# ℝ² → ℝ³``) —
check answers with ``jacobnet.course.exercises`` from answer cells tagged ``answer``
(so :func:`jacobnet.course.exercises.strip_answers` can blank them), draw with
jacobnet's figures, and end with a cell that asserts what they taught. The
minutes of the lessons add up to the total announced at the top. ``make test``
executes them all with nbmake.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from jacobnet.course.exercises import ANSWER_TAG, strip_answers

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
NAMED_LAMBDA = re.compile(r"^\s*[\w, ]+=\s*lambda\b.*$", re.MULTILINE)
SIGNATURE = re.compile(r"#\s*ℝ\S*\s*→\s*ℝ")  # "# ℝ² → ℝ³": the function is the subject, not a helper
MINUTES = re.compile(r"\((\d+) min\)")
TOTAL = re.compile(r"About (\d+) minutes")
CHECKER = re.compile(r"\b(?:exercises|feedback)\.check_\w+\(")  # the packaged checkers (jacobnet.course)


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


def test_named_lambdas_are_functions_under_study(nb):
    """``norm = lambda chain, name: …`` is a helper (it belongs in the package); ``f = lambda x: …  # ℝ² → ℝ³`` is the lesson."""
    for cell in code_cells(nb):
        for line in NAMED_LAMBDA.findall(cell):
            assert SIGNATURE.search(line), f"a helper defined as a lambda (put it in jacobnet, or declare ℝⁿ → ℝᵐ):\n{line}"


@pytest.mark.parametrize("line, helper", [
    ("norm = lambda chain, name: float(np.linalg.norm(chain))", True),
    ("f = lambda x: np.sin(x)   # ℝ² → ℝ²", False),
    ("g = jacobian_fd(lambda v: v ** 2, x0)", False),  # anonymous, inline: fine
])
def test_the_lambda_rule_itself(line, helper):
    flagged = any(not SIGNATURE.search(m) for m in NAMED_LAMBDA.findall(line))
    assert flagged == helper


def test_minutes_add_up(nb):
    top = source(nb["cells"][0])
    total = TOTAL.search(top)
    assert total, "the first cell announces 'About N minutes'"
    lessons = [int(m) for c in nb["cells"] if c["cell_type"] == "markdown" for m in MINUTES.findall(source(c))]
    assert len(lessons) >= 3 and sum(lessons) == int(total.group(1)), (lessons, total.group(0))


def assigned_names(code: str) -> set[str]:
    tree = ast.parse(code)
    targets = [t for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def read_names(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def test_answer_cells_are_tagged_and_nothing_else_reads_answers(nb):
    """So that a blanked notebook (strip_answers) still runs, up to the final checks, with "not answered yet"."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or source(cell).lstrip().startswith("%"):
            continue
        code = source(cell)
        answers = {n for n in assigned_names(code) if n.startswith("answer")}
        tagged = ANSWER_TAG in cell["metadata"].get("tags", [])
        assert bool(answers) == tagged, f"tag {ANSWER_TAG!r} must mark exactly the cells that assign answer…:\n{code}"
        if not tagged:
            assert not {n for n in read_names(code) if n.startswith("answer")}, f"reads an answer outside its cell:\n{code}"


def test_strip_answers_blanks_every_answer(nb, tmp_path):
    src = tmp_path / "lesson.ipynb"
    src.write_text(json.dumps(nb), encoding="utf-8")
    blank = json.loads(strip_answers(src).read_text(encoding="utf-8"))
    for before, after in zip(nb["cells"], blank["cells"]):
        if ANSWER_TAG not in before["metadata"].get("tags", []):
            assert after["source"] == before["source"]
            continue
        assigns = [node for node in ast.parse(source(after)).body if isinstance(node, ast.Assign)]
        answers = [a.value for a in assigns if any(n.startswith("answer") for n in assigned_names(ast.unparse(a)))]
        parts = [p for v in answers for p in (v.elts if isinstance(v, ast.Tuple) else [v])]
        assert parts and all(isinstance(p, ast.Constant) and p.value is ... for p in parts), source(after)
        assert source(after) != source(before) and after["outputs"] == []


def test_has_exercises_with_the_packaged_checker(nb):
    code = "\n".join(code_cells(nb))
    assert len(CHECKER.findall(code)) >= 2
    exercises = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.search(r"^#+ .*Exercise", source(c), re.M)]
    assert 2 <= len(exercises) <= 4


def test_draws_with_jacobnet_figures(nb):
    code = "\n".join(code_cells(nb))
    assert re.search(r"\bviz\.\w+\(", code)
    assert "plt.show" not in code


def test_starts_with_a_title_and_numbered_lessons(nb):
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and source(first).startswith("# ")
    lessons = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.match(r"## \d+\. ", source(c))]
    assert len(lessons) >= 3


def test_ends_with_an_assert_cell(nb):
    last = nb["cells"][-1]
    assert last["cell_type"] == "code" and re.search(r"^assert ", source(last), re.MULTILINE)
