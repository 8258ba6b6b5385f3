"""``jacobnet course``: the student's and the teacher's notebooks (``--out``), the HTML edition (``--html``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jacobnet.course.site as site
from jacobnet.cli import EXIT_BAD_INPUT, main
from jacobnet.course.exercises import ANSWER_TAG, SOLUTION_TAG
from jacobnet.course.lessons import LESSONS, NOTEBOOKS


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # (argparse's usage errors)
        return int(exc.code)


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_the_student_edition_has_every_lesson_without_answers_or_solutions(tmp_path, capsys) -> None:
    out = tmp_path / "students"
    assert run(["course", "--out", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(info.filename for info in LESSONS)
    assert f"in {out}/" in capsys.readouterr().out
    for info in LESSONS:
        cells = json.loads((out / info.filename).read_text(encoding="utf-8"))["cells"]
        assert not any(SOLUTION_TAG in tags(c) for c in cells)
        answers = [c for c in cells if ANSWER_TAG in tags(c)]
        assert answers and all("= ..." in "".join(c["source"]) for c in answers), info.stem


def test_the_teachers_edition_is_the_committed_notebooks(tmp_path) -> None:
    out = tmp_path / "teachers"
    assert run(["course", "--out", str(out), "--solutions"]) == 0
    for info in LESSONS:
        assert (out / info.filename).read_bytes() == (NOTEBOOKS / info.filename).read_bytes()


def test_nothing_is_overwritten_without_overwrite(tmp_path, capsys) -> None:
    out = tmp_path / "students"
    assert run(["course", "--out", str(out)]) == 0
    first = out / LESSONS[0].filename
    first.write_text("mine", encoding="utf-8")
    capsys.readouterr()
    assert run(["course", "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "exists" in err and err.count("\n") == 1 and first.read_text(encoding="utf-8") == "mine"
    assert run(["course", "--out", str(out), "--overwrite"]) == 0 and first.read_text(encoding="utf-8") != "mine"


@pytest.mark.parametrize("argv, message", [
    (["course"], "one of the arguments --out --html is required"),
    (["course", "--out", "a", "--html", "b"], "argument --html: not allowed with argument --out"),
    (["course", "--html", "b", "--solutions"], "--solutions goes with --out DIR"),
])
def test_bad_course_arguments_are_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_html_builds_the_site_where_asked(tmp_path, monkeypatch, capsys) -> None:
    """The command hands its folder and --overwrite to build_site (the site itself: tests/test_course_site.py)."""
    calls = []

    def fake_build_site(out: Path, *, overwrite: bool = False) -> list[Path]:
        calls.append((out, overwrite))
        return [out / "index.html"]

    monkeypatch.setattr(site, "build_site", fake_build_site)
    assert run(["course", "--html", str(tmp_path / "site"), "--overwrite"]) == 0
    assert calls == [(tmp_path / "site", True)]
    assert f"open {tmp_path / 'site' / 'index.html'}" in capsys.readouterr().out
