"""The course's registry and its hand-outs: the student edition (answers blank, solution cells out) and the teacher's."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from test_notebooks_hygiene import blanked

from jacobnet.course import LESSONS, write_handout
from jacobnet.course.handout import ANSWER_TAG, SOLUTION_TAG, strip_answers
from jacobnet.course.lessons import NOTEBOOKS, LessonInfo, lesson_info, read_minutes

# The course's final numbering (the contract): the registry must say exactly this.
STEMS = [
    "01_chain_rule_as_matrices", "02_dense_layer", "03_activations_and_softmax", "04_build_backprop_yourself",
    "05_backprop_is_a_product", "06_symbolic_vs_numeric", "07_accumulation_order", "08_training_with_jacobians",
    "09_blocks_and_paths", "10_convolution_and_pooling", "11_layernorm_and_attention", "12_depth_and_initialisation",
    "13_curvature", "14_digits_capstone",
]


def test_the_registry_is_the_course_in_order():
    assert [info.stem for info in LESSONS] == STEMS
    assert [info.number for info in LESSONS] == list(range(1, 15))
    assert all(info.stem.startswith(f"{info.number:02d}_") and info.title and "·" not in info.title for info in LESSONS)
    assert lesson_info(4) == LessonInfo(4, "04_build_backprop_yourself", "Build backpropagation yourself")
    assert lesson_info(4).heading == "4 · Build backpropagation yourself" and lesson_info(4).filename == "04_build_backprop_yourself.ipynb"


@pytest.mark.parametrize("number", [0, 15, True, "4", 4.0])
def test_a_lesson_number_outside_the_course_is_refused(number):
    with pytest.raises(ValueError, match="lesson number must be an integer from 1 to 14"):
        lesson_info(number)


def test_the_default_source_is_the_repository_s_notebooks_folder():
    assert NOTEBOOKS == Path(__file__).resolve().parent.parent / "notebooks"
    assert lesson_info(1).path() == NOTEBOOKS / "01_chain_rule_as_matrices.ipynb"


# --- a small course of 14 lessons in tmp_path -------------------------------------------------------------
def cell(kind: str, source: str, tags: list[str] | None = None) -> dict:
    c = {"cell_type": kind, "metadata": {"tags": tags} if tags else {}, "source": source}
    if kind == "code":
        c |= {"execution_count": 3, "outputs": [{"output_type": "stream", "name": "stdout", "text": "88"}]}
    return c


def lesson_notebook(info: LessonInfo) -> dict:
    cells = [
        cell("markdown", f"# {info.heading}\n\nAbout {info.number + 10} minutes."),
        cell("code", "from jacobnet.course import Lesson, feedback\nlesson = Lesson('x', exercises=1)"),
        cell("code", f"answer = {info.number} * 8\nlesson.check(1, feedback.check_number(answer, {info.number * 8}))", [ANSWER_TAG]),
        cell("code", f"print('the answer is', {info.number * 8})", [SOLUTION_TAG]),
        cell("code", "lesson.summary()"),
    ]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def course(tmp_path) -> Path:
    src = tmp_path / "notebooks"
    src.mkdir()
    for info in LESSONS:
        (src / info.filename).write_text(json.dumps(lesson_notebook(info), indent=1), encoding="utf-8")
    return src


def tree(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_student_edition_blanks_answers_and_leaves_out_solutions(course, tmp_path):
    out = tmp_path / "students"
    files = write_handout(out, source=course)
    assert files == [out / info.filename for info in LESSONS] and tree(out) == sorted(info.filename for info in LESSONS)
    for info, path in zip(LESSONS, files):
        nb = json.loads(path.read_text(encoding="utf-8"))
        sources = ["".join(c["source"]) for c in nb["cells"]]
        assert len(sources) == 4 and not any("the answer is" in s for s in sources)
        assert sources[2].startswith("answer = ...\n") and f"answer = {info.number} * 8" not in path.read_text(encoding="utf-8")
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in nb["cells"] if c["cell_type"] == "code")
        assert read_minutes(path) == info.number + 10


def test_the_teacher_s_edition_is_the_notebooks_byte_for_byte(course, tmp_path):
    files = write_handout(tmp_path / "teachers", solutions=True, source=course)
    assert all(f.read_bytes() == (course / f.name).read_bytes() for f in files) and len(files) == 14


def test_an_existing_file_is_replaced_only_when_asked(course, tmp_path):
    out = tmp_path / "students"
    out.mkdir()
    mine = out / LESSONS[6].filename
    mine.write_text("a student's work", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"write_handout: {mine} exists; pass overwrite=True to replace it")):
        write_handout(out, source=course)
    assert tree(out) == [mine.name] and mine.read_text(encoding="utf-8") == "a student's work"  # nothing written
    write_handout(out, source=course, overwrite=True)
    assert "answer = ..." in mine.read_text(encoding="utf-8") and len(tree(out)) == 14  # and no temporary file left


def test_nothing_is_written_when_one_lesson_is_not_a_notebook(course, tmp_path):
    (course / LESSONS[9].filename).write_text("not json", encoding="utf-8")
    out = tmp_path / "students"
    with pytest.raises(ValueError, match=f"write_handout: {LESSONS[9].filename} is not a Jupyter notebook"):
        write_handout(out, source=course)
    assert not out.exists()


def test_a_missing_lesson_is_named(course, tmp_path):
    (course / LESSONS[12].filename).unlink()
    with pytest.raises(FileNotFoundError, match=f"lacks 1 of the 14 lessons: {LESSONS[12].filename}"):
        write_handout(tmp_path / "out", source=course)


def test_a_missing_source_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"write_handout: source .*nowhere does not exist — an installed jacobnet \(a wheel\)"):
        write_handout(tmp_path / "out", source=tmp_path / "nowhere")


def test_the_notebooks_themselves_are_never_overwritten(course, tmp_path):
    before = {p.name: p.read_bytes() for p in course.iterdir()}
    for solutions in (False, True):
        with pytest.raises(ValueError, match="out must differ from .*it is the same file"):
            write_handout(course, solutions=solutions, overwrite=True, source=course)
    assert {p.name: p.read_bytes() for p in course.iterdir()} == before


def test_out_must_be_a_folder_and_flags_booleans(course, tmp_path):
    file = tmp_path / "file"
    file.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        write_handout(file, source=course)
    with pytest.raises(TypeError, match="write_handout: solutions must be True or False"):
        write_handout(tmp_path / "out", solutions="yes", source=course)


def test_the_real_course_hands_out_without_answers(tmp_path):
    """Every registered lesson, as the students get it: each answer's value blank and every other statement as the teacher
    wrote it (compared as syntax trees), no solution cell (fails while a lesson is missing)."""
    files = write_handout(tmp_path / "students")
    for path in files:
        teacher = json.loads((NOTEBOOKS / path.name).read_text(encoding="utf-8"))
        student = json.loads(path.read_text(encoding="utf-8"))
        kept = [c for c in teacher["cells"] if SOLUTION_TAG not in c["metadata"].get("tags", [])]
        assert len(student["cells"]) == len(kept) < len(teacher["cells"]) + 1
        answers = 0
        for before, after in zip(kept, student["cells"]):
            if ANSWER_TAG in before["metadata"].get("tags", []):
                answers += 1
                assert ast.dump(ast.parse("".join(after["source"]))) == blanked("".join(before["source"])), (path.name, after["source"])
            else:
                assert after["source"] == before["source"]
        assert answers >= 2, path.name


# --- what strip_answers blanks, and what it refuses ------------------------------------------------------
def one_cell(tmp_path: Path, source: str, kind: str = "code", tags: tuple[str, ...] = (ANSWER_TAG,)) -> Path:
    c = cell(kind, source, list(tags))
    path = tmp_path / "lesson.ipynb"
    path.write_text(json.dumps({"cells": [c], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def stripped(path: Path) -> str:
    return "".join(json.loads(strip_answers(path).read_text(encoding="utf-8"))["cells"][0]["source"])


@pytest.mark.parametrize("teacher, student", [
    ("answer_a = 1; answer_b = 2\nlesson.check(1, f(answer_a, answer_b))", "answer_a = ...; answer_b = ...\nlesson.check(1, f(answer_a, answer_b))"),
    ("x = 5; answer = x * 2\nprint(x)", "x = 5; answer = ...\nprint(x)"),
    ("answer = 88; print(answer)", "answer = ...; print(answer)"),
    ("answer = 88  # 8 × 11\nprint(answer)", "answer = ...\nprint(answer)"),  # (a comment ending the answer's line goes with it)
    ("answer = 1  # a\x0cb\nanswer_2 = 2", "answer = ...\nanswer_2 = ..."),  # (\f and \u2028 are not line breaks for Python)
    ("answer = 'é'  # a\u2028b\nanswer_2 = 2", "answer = ...\nanswer_2 = ..."),
    ("answer = 88\r\nlesson.check(1, x)", "answer = ...\r\nlesson.check(1, x)"),
    ("answer_J, answer_row = (4, 16), (1, 4)", "answer_J, answer_row = ..., ..."),
    ("(answer_J, answer_row) = [4, 16], [1, 4]", "(answer_J, answer_row) = ..., ..."),
    ("answer_path = (a.dense() @ b.dense()\n               @ c.dense())\nnext_line = 1", "answer_path = ...\nnext_line = 1"),
    ("answer = np.array([[1.0, 2.0],  # the row of x_1\n                   [3.0, 4.0]])", "answer = ..."),
    ("é = 'ü'; answer = 'ß' * 3; z = 1", "é = 'ü'; answer = ...; z = 1"),  # (ast's offsets count UTF-8 bytes)
    ("answer = 1\nself.answer = 88", "answer = ...\nself.answer = 88"),  # (an attribute named answer is not an answer)
])
def test_only_the_answers_values_are_blanked(tmp_path, teacher, student):
    assert stripped(one_cell(tmp_path, teacher)) == student


@pytest.mark.parametrize("source, line, name", [
    ("answer = np.zeros((2, 3))\nanswer[0, 1] = 3.0", 2, "answer"),
    ("answer = 80\nanswer += 8", 2, "answer"),
    ("answer_J = 1\nanswer_row: float = 88.0", 2, "answer_row"),
    ("answer = 1\nif True:\n    answer = 88", 3, "answer"),
    ("for answer in range(3):\n    pass", 1, "answer"),
    ("answer = 1\nprint(answer_x := 88)", 2, "answer_x"),
    ("answer_a = answer_b = 88", 1, "answer_a"),
    ("answer, *rest = 1, 2, 3", 1, "answer"),
    ("x, answer = 1, 2", 1, "answer"),
    ("answer = 1\nwith open('f') as answer_f:\n    pass", 2, "answer_f"),
    ("answer = 1\nimport numpy as answer_np", 2, "answer_np"),
    ("answer = 1\ndel answer", 2, "answer"),
])
def test_an_answer_bound_any_other_way_is_refused_with_its_line(tmp_path, source, line, name):
    with pytest.raises(ValueError, match=re.escape(f"strip_answers: lesson.ipynb, cell 0, line {line}: `") +
                       f".*` binds {name} in a way the student edition cannot blank; .* as `{name} = value`"):
        strip_answers(one_cell(tmp_path, source))
    assert tree(tmp_path) == ["lesson.ipynb"]


@pytest.mark.parametrize("kind", ["markdown", "raw"])
def test_a_text_cell_tagged_answer_is_refused(tmp_path, kind):
    with pytest.raises(ValueError, match=f"strip_answers: lesson.ipynb, cell 0 is a {kind} cell tagged 'answer'; only a code cell"):
        strip_answers(one_cell(tmp_path, "The answer is **88**.", kind=kind))


def test_a_missing_folder_for_out_is_named_and_nothing_is_left_behind(tmp_path):
    src = one_cell(tmp_path, "answer = 1")
    with pytest.raises(FileNotFoundError, match=re.escape(f"strip_answers: the folder of out, {tmp_path / 'nodir'}, does not exist")):
        strip_answers(src, tmp_path / "nodir" / "x.ipynb")
    assert tree(tmp_path) == ["lesson.ipynb"]


def test_a_folder_in_the_way_of_a_lesson_is_named_as_such(course, tmp_path):
    out = tmp_path / "students"
    (out / LESSONS[2].filename).mkdir(parents=True)
    with pytest.raises(ValueError, match=re.escape(f"write_handout: {out / LESSONS[2].filename} is a directory, where the notebook")):
        write_handout(out, source=course, overwrite=True)
    with pytest.raises(ValueError, match=f"strip_answers: .* is a directory, where the notebook {LESSONS[0].filename} would be written"):
        strip_answers(course / LESSONS[0].filename, tmp_path, overwrite=True)


@pytest.mark.parametrize("text, words", [
    ('{"cells": [1]}', "cell 0 is not a notebook cell (expected an object, got int)"),
    ("[1]", "is not a Jupyter notebook (expected an object with a list 'cells', got a JSON list)"),
    ("not json", "is not a Jupyter notebook (Expecting value"),
    ('{"cells": "abc"}', "got 'cells' str"),
    ('{"cells": [{"cell_type": "markdown", "source": "# 1 · x"}]}', "its first cell announces no 'About N minutes'"),
])
def test_read_minutes_names_the_file_it_cannot_read(tmp_path, text, words):
    path = tmp_path / "m.ipynb"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape("read_minutes: m.ipynb") + ".*" + re.escape(words)):
        read_minutes(path)
