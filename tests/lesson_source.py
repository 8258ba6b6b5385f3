"""The committed lessons as the lesson tests read them: cells, a cell's text and tags, the code (one reader)."""

from __future__ import annotations

from jacobnet.course.lessons import lesson_info, read_notebook


def cells(number: int) -> list[dict]:
    """Lesson ``number``'s cells, read and checked by the package's own notebook reader."""
    return read_notebook(lesson_info(number).path(), f"lesson {number}")["cells"]


def text(cell: dict) -> str:
    """A cell's source as one string (a notebook stores it as a string or a list of lines)."""
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code(number: int) -> str:
    """Every code cell of lesson ``number``, joined: where a test looks for the lines it recomputes."""
    return "\n".join(text(c) for c in cells(number) if c["cell_type"] == "code")
