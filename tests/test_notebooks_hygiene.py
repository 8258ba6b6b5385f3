"""The course notebooks stay reviewable and follow the course API: committed without outputs, they only narrate.

Policy (README, "Course"): the course is exactly the lessons of
:data:`jacobnet.course.lessons.LESSONS`, each a notebook ``notebooks/<stem>.ipynb``
titled ``# N · <its registered title>``. Notebooks are committed with outputs stripped and
``execution_count`` null, so a diff shows only what a person wrote. They
import the installed package (no ``sys.path``), define no functions or
classes (everything a user needs lives in ``jacobnet``) — a named ``lambda``
only for a function under study, declared with its signature (``# ℝ² → ℝ³``) —
and draw with jacobnet's figures. A lesson declares its exercises once,
``lesson = Lesson("N · <its registered title>", exercises=K)`` (2 to 4 of them, headed
``### Exercise k``), checks every one with ``lesson.check(k, <a packaged checker>)``
from a code cell tagged ``answer`` that binds each answer once, at its top level
(``answer… = value``), and reads it only as the answer of a packaged checker (so the
student edition, which replaces exactly those values by ``...``, holds no answer and
still runs), holds no ``assert`` (the facts a lesson states are asserted in ``tests/test_lesson_NN.py``),
and ends with a "What this lesson showed" section and the cell ``lesson.summary()``.
The minutes of a lesson's sections add up to the total announced at the top.
A blank student edition runs top to bottom and ends with "0 of K exercises done"
(executed here for a few representative lessons; ``make test`` executes every
lesson with nbmake).
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from jacobnet.course.handout import ANSWER_TAG, SOLUTION_TAG, strip_answers
from jacobnet.course.lessons import LESSONS, NOTEBOOKS, LessonInfo, read_minutes

DEFINITION = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)
NAMED_LAMBDA = re.compile(r"^\s*[\w, ]+=\s*lambda\b.*$", re.MULTILINE)
SIGNATURE = re.compile(r"#\s*ℝ\S*\s*→\s*ℝ")  # "# ℝ² → ℝ³": the function is the subject, not a helper
MINUTES = re.compile(r"\((\d+) min\)")
CHECKER = re.compile(r"\b(?:exercises|feedback)\.check_\w+\(")  # the packaged checkers (jacobnet.course)
EXERCISE = re.compile(r"^#+ Exercise (\d+)\b", re.MULTILINE)
SHOWED = re.compile(r"^## What this lesson showed", re.MULTILINE)
BLANK_RUN = ("01_chain_rule_as_matrices", "04_build_backprop_yourself", "11_layernorm_and_attention")
"""The lessons whose blank student edition is executed here: the first, the build-it-yourself one, one of the new layers."""


def load(name: str) -> dict:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def python(code: str) -> str:
    """A cell's code without its IPython magics (``%matplotlib inline``), so that ``ast`` can read it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def code_cells(nb: dict) -> list[str]:
    return [source(c) for c in nb["cells"] if c["cell_type"] == "code"]


def trees(nb: dict) -> list[ast.Module]:
    return [ast.parse(python(code)) for code in code_cells(nb)]


def test_the_course_is_exactly_the_registered_lessons():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [info.stem for info in LESSONS]


@pytest.fixture(params=LESSONS, ids=[info.stem for info in LESSONS])
def lesson(request) -> LessonInfo:
    info = request.param
    if not info.path().is_file():
        pytest.fail(f"{info.filename} is a lesson of jacobnet.course.lessons.LESSONS but is missing from {NOTEBOOKS}")
    return info


@pytest.fixture
def nb(lesson: LessonInfo) -> dict:
    return load(lesson.stem)


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


def test_minutes_add_up(nb, lesson):
    total = read_minutes(lesson.path())
    sections = [int(m) for c in nb["cells"] if c["cell_type"] == "markdown" for m in MINUTES.findall(source(c))]
    assert len(sections) >= 3 and sum(sections) == total, (sections, total)


def test_starts_with_its_registered_title_and_numbered_sections(nb, lesson):
    """The title is written once, in the registry: the notebook's first line and its Lesson(...) say the same."""
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and source(first).splitlines()[0] == f"# {lesson.heading}", source(first)[:80]
    sections = [c for c in nb["cells"] if c["cell_type"] == "markdown" and re.match(r"## \d+\. ", source(c))]
    assert len(sections) >= 3


def test_holds_no_assert(nb):
    """The facts a lesson states are asserted in tests/test_lesson_NN.py; a student's notebook never stops at an assert."""
    for code, tree in zip(code_cells(nb), trees(nb)):
        assert not any(isinstance(node, ast.Assert) for node in ast.walk(tree)), f"an assert in a lesson (move it to tests/):\n{code}"


def declarations(nb: dict) -> list[ast.Call]:
    return [node for tree in trees(nb) for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) == "Lesson" or getattr(node.func, "attr", None) == "Lesson")]


def lesson_checks(nb: dict) -> list[ast.Call]:
    """Every ``lesson.check(…)`` call of the notebook."""
    return [node for tree in trees(nb) for node in ast.walk(tree) if is_lesson_check(node)]


def is_lesson_check(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "check"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "lesson")


def declared_exercises(nb: dict, lesson: LessonInfo) -> int:
    calls = declarations(nb)
    assert len(calls) == 1, f"declare the lesson once: lesson = Lesson('{lesson.heading}', exercises=K); found {len(calls)}"
    call = calls[0]
    title = call.args[0] if call.args else None
    assert isinstance(title, ast.Constant) and title.value == lesson.heading, f"Lesson({lesson.heading!r}, …), not {ast.unparse(call)}"
    count = [k.value for k in call.keywords if k.arg == "exercises"]
    assert count and isinstance(count[0], ast.Constant) and isinstance(count[0].value, int), f"exercises=K as a number: {ast.unparse(call)}"
    return count[0].value


def test_declares_its_exercises_and_checks_every_one(nb, lesson):
    n = declared_exercises(nb, lesson)
    assert 2 <= n <= 4, f"a lesson has 2 to 4 exercises, {lesson.filename} declares {n}"
    numbers = []
    for call in lesson_checks(nb):
        assert len(call.args) == 2 and isinstance(call.args[0], ast.Constant), f"lesson.check(k, feedback): {ast.unparse(call)}"
        assert CHECKER.match(ast.unparse(call.args[1])), f"check with a packaged checker (exercises./feedback.check_…): {ast.unparse(call)}"
        numbers.append(call.args[0].value)
    assert set(numbers) == set(range(1, n + 1)), f"exercises 1 to {n} are declared, lesson.check is called for {sorted(numbers)}"


def test_the_exercise_headings_count_as_declared(nb, lesson):
    headings = [int(k) for c in nb["cells"] if c["cell_type"] == "markdown" for k in EXERCISE.findall(source(c))]
    assert headings == list(range(1, declared_exercises(nb, lesson) + 1)), headings


def test_ends_with_what_it_showed_and_the_summary(nb):
    last = nb["cells"][-1]
    assert last["cell_type"] == "code" and source(last).strip() == "lesson.summary()", source(last)[-200:]
    markdown = [source(c) for c in nb["cells"] if c["cell_type"] == "markdown"]
    showed = [i for i, text in enumerate(markdown) if SHOWED.search(text)]
    sections = [i for i, text in enumerate(markdown) if re.match(r"## \d+\. ", text)]
    assert showed and showed[-1] > max(sections, default=-1), "a '## What this lesson showed' section after the last numbered one"


def assigned_names(code: str) -> set[str]:
    tree = ast.parse(python(code))
    targets = [t for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
               for t in (node.targets if isinstance(node, ast.Assign) else [node.target])]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def read_names(code: str, checks: bool = False) -> set[str]:
    """The names a cell reads — outside ``lesson.check(…)`` (checking an answer is not using it) unless ``checks``."""
    tree = ast.parse(python(code))
    inside = set() if checks else {id(n) for node in ast.walk(tree) if is_lesson_check(node) for n in ast.walk(node)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and id(n) not in inside}


def test_answer_cells_are_tagged_and_nothing_else_reads_answers(nb):
    """So that a blank lesson (the student edition) runs to its summary, whatever the student has written so far."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = source(cell)
        answers = {n for n in assigned_names(code) if n.startswith("answer")}
        tags = cell["metadata"].get("tags", [])
        tagged = ANSWER_TAG in tags
        assert bool(answers) == tagged, f"tag {ANSWER_TAG!r} must mark exactly the cells that assign answer…:\n{code}"
        if not tagged and SOLUTION_TAG not in tags:
            assert not {n for n in read_names(code) if n.startswith("answer")}, f"reads an answer outside its cell:\n{code}"


def bound_names(code: str) -> set[str]:
    """Every name a cell binds: assignments, loop and ``with`` targets, imports."""
    tree = ast.parse(python(code))
    names = assigned_names(code)
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)):
            names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            names |= {n.id for n in ast.walk(node.optional_vars) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_the_student_edition_needs_no_solution_cell(nb):
    """A name bound only in a cell tagged "solution" (left out of the hand-out) is not read by a later cell."""
    kept: set[str] = set()
    only_in_solutions: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = source(cell)
        if SOLUTION_TAG in cell["metadata"].get("tags", []):
            only_in_solutions |= bound_names(code) - kept
            continue
        missing = (read_names(code, checks=True) & only_in_solutions) - bound_names(code)
        assert not missing, f"reads {sorted(missing)}, bound only in a {SOLUTION_TAG!r} cell the student edition leaves out:\n{code}"
        kept |= bound_names(code)
        only_in_solutions -= kept


def is_checker_call(node: ast.AST) -> bool:
    """``exercises.check_…(…)`` or ``feedback.check_…(…)``: a packaged checker, which takes a blank answer (``...``)."""
    return isinstance(node, ast.Call) and bool(CHECKER.match(ast.unparse(node)))


def answer_assignments(tree: ast.Module) -> list[ast.Assign]:
    """The top-level ``answer… = value`` statements (one target: a name, or a tuple of names, all ``answer…``)."""
    def names(target: ast.expr) -> list[ast.expr]:
        return target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]

    return [node for node in tree.body if isinstance(node, ast.Assign) and len(node.targets) == 1
            and all(isinstance(n, ast.Name) and n.id.startswith("answer") for n in names(node.targets[0]))]


def answer_rule_breaks(code: str) -> list[str]:
    """What an answer cell does with its answers that a blank copy (every answer ``...``) could not survive, or that
    would leave an answer's value in it: the rule is that each ``answer…`` name is bound once, at the top level
    (``answer… = value``), and read only as the answer argument (the first) of a packaged checker, or inside the
    value of a later answer (blanked with it)."""
    tree = ast.parse(python(code))
    answers = answer_assignments(tree)
    targets = {id(n) for node in answers for n in ast.walk(node.targets[0])}
    blanked = {id(n) for node in answers for n in ast.walk(node.value)}
    as_answer = {id(call.args[0]) for call in ast.walk(tree) if is_checker_call(call) and call.args}
    bound_at: dict[str, int] = {}
    breaks = []
    for node in answers:
        for n in ast.walk(node.targets[0]):
            if isinstance(n, ast.Name):
                if n.id in bound_at:
                    breaks.append(f"line {node.lineno}: {n.id} is bound twice")
                bound_at.setdefault(n.id, node.lineno)
    for n in ast.walk(tree):
        if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            base = n.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name) and base.id.startswith("answer"):
                breaks.append(f"line {n.lineno}: {base.id} is changed in place")
        if not (isinstance(n, ast.Name) and n.id.startswith("answer")) or id(n) in targets:
            continue
        if not isinstance(n.ctx, ast.Load):
            breaks.append(f"line {n.lineno}: {n.id} is bound other than by a top-level `{n.id} = value`")
        elif n.id not in bound_at or n.lineno < bound_at[n.id]:
            breaks.append(f"line {n.lineno}: {n.id} is read before this cell binds it")
        elif id(n) not in blanked | as_answer:
            breaks.append(f"line {n.lineno}: {n.id} is read other than as the answer of a packaged checker")
    for n in ast.walk(tree):  # bindings that are not Name nodes: imports, definitions, except … as, match captures
        for name in _bound_strings(n):
            if name.startswith("answer"):
                breaks.append(f"line {n.lineno}: {name} is bound by {type(n).__name__}")
    return breaks


def _bound_strings(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
        return [node.name] if node.name else []
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return list(node.names)
    return []


@pytest.mark.parametrize("code, words", [
    ("answer_a = 1; answer_b = 2\nlesson.check(1, feedback.check_number(answer_a, 1))", ""),
    ("answer = 3\nanswer_2 = answer * 2\nlesson.check(1, exercises.check_flops(answer_2, c))", ""),
    ("answer = np.zeros(3)\nanswer[0] = 3.0", "changed in place"),
    ("answer = 80\nanswer += 8", "bound other than"),
    ("answer_J = 1\nanswer_row: float = 88.0", "bound other than"),
    ("answer = 1\nif True:\n    answer = 88", "bound other than"),
    ("answer = np.eye(2)\nprint(answer.T)", "read other than as the answer"),
    ("answer = 3\nlesson.check(1, feedback.check_number(float(answer) * 2, 6))", "read other than as the answer"),
    ("answer = 3\nlesson.check(1, feedback.check_number(6, answer))", "read other than as the answer"),
    ("answer = 1\nanswer = 2", "bound twice"),
    ("print(answer)\nanswer = 1", "read before"),
    ("answer = 1\nprint(answer_x := 88)", "bound other than"),
    ("answer = 1\nfor answer_i in range(3): pass", "bound other than"),
    ("answer = 1\nimport numpy as answer_np", "bound by Import"),
])
def test_the_answer_rule_itself(code, words):
    breaks = answer_rule_breaks(code)
    assert (words in " ".join(breaks)) if words else not breaks, breaks


def test_answer_cells_follow_the_answer_rule(nb):
    """Every answer cell binds each answer once, at its top level, and reads it only as a checker's answer: so that the
    student edition, which blanks exactly those values, holds no answer and runs whatever is (not) filled in."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and ANSWER_TAG in cell["metadata"].get("tags", []):
            assert not answer_rule_breaks(source(cell)), (answer_rule_breaks(source(cell)), source(cell))
        assert cell["cell_type"] == "code" or ANSWER_TAG not in cell["metadata"].get("tags", []), source(cell)[:80]


def blanked(code: str) -> str:
    """The teacher's answer cell as the student edition must hold it, derived from the syntax tree (not from strip_answers'
    text splicing): every top-level answer's value ``...`` and every other statement unchanged — as ``ast.dump``."""
    tree = ast.parse(code)
    for node in answer_assignments(tree):
        target = node.targets[0]
        k = len(target.elts) if isinstance(target, (ast.Tuple, ast.List)) else 1
        node.value = ast.Constant(...) if k == 1 else ast.Tuple([ast.Constant(...)] * k, ast.Load())
    return ast.dump(tree)


def test_strip_answers_blanks_every_answer_and_nothing_else(nb, tmp_path):
    src = tmp_path / "lesson.ipynb"
    src.write_text(json.dumps(nb), encoding="utf-8")
    blank = json.loads(strip_answers(src).read_text(encoding="utf-8"))
    kept = [c for c in nb["cells"] if SOLUTION_TAG not in c["metadata"].get("tags", [])]
    assert len(blank["cells"]) == len(kept)
    for before, after in zip(kept, blank["cells"]):
        assert after["cell_type"] == before["cell_type"] and after["metadata"] == before["metadata"]
        if ANSWER_TAG not in before["metadata"].get("tags", []):
            assert after["source"] == before["source"]
            continue
        assert ast.dump(ast.parse(source(after))) == blanked(source(before)), source(after)
        assert answer_assignments(ast.parse(source(before))) and after["outputs"] == []


def test_draws_with_jacobnet_figures(nb):
    code = "\n".join(code_cells(nb))
    assert re.search(r"\bviz\.\w+\(", code)
    assert "plt.show" not in code


# --- a blank student edition runs to its summary ----------------------------------------------------------
def final_text(nb: dict) -> str:
    """What the last cell of an executed notebook shows (its result, or what it printed)."""
    outputs = nb["cells"][-1].get("outputs", [])
    texts = [o.get("data", {}).get("text/plain", "") if o["output_type"] == "execute_result" else o.get("text", "") for o in outputs]
    return "".join(t if isinstance(t, str) else "".join(t) for t in texts)


@pytest.mark.parametrize("stem", BLANK_RUN)
def test_a_blank_lesson_runs_to_its_summary(stem, tmp_path):
    import nbformat  # (the test extra's: executing a lesson needs a kernel, so these load only here)
    from nbclient import NotebookClient

    info = next(info for info in LESSONS if info.stem == stem)
    if not info.path().is_file():
        pytest.fail(f"{info.filename} is a lesson of jacobnet.course.lessons.LESSONS but is missing from {NOTEBOOKS}")
    n = declared_exercises(load(stem), info)
    student = nbformat.read(strip_answers(info.path(), tmp_path / info.filename), as_version=4)
    NotebookClient(student, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = final_text(student)
    assert text.startswith(f"Lesson {info.number}: 0 of {n} exercises done"), text
    assert all(f"exercise {k}: not answered yet" in text for k in range(1, n + 1)), text
