"""A small table: rows of data that print as aligned text and render as HTML in Jupyter.

Every table jacobnet shows (the trace of a backward pass, the memory of a
chain's factors, the cost of its accumulation orders) is one of these, so it
is at once printable and usable from code (``table.rows``, ``table.column``).

>>> t = Table("two rows", ["name", "flops"], [{"name": "a", "flops": 1200}, {"name": "bb", "flops": 3}])
>>> print(t)
two rows
name  flops
────  ─────
a     1,200
bb        3
>>> t.column("flops")
[1200, 3]
>>> Table("", ["x"], [{"x": -0.0}, {"x": -1e-5}])._cells()    # no "-0"
[['0'], ['-1e-05']]
"""

from __future__ import annotations

import html
import unicodedata
from typing import Any, Callable, Mapping, Sequence


def _default_format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value + 0.0:.3g}"  # (+ 0.0 turns −0.0 into 0.0: no "-0" in a table)
    return str(value)


class Table:
    """Rows of data with a title; ``str()`` aligns them (numbers to the right).

    Args:
        title: the line printed above the table.
        columns: the keys of each row to show, in order.
        rows: one mapping per row (the data, kept as given).
        formats: optional per-column formatters ``value → str``.
    """

    def __init__(
        self,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        formats: Mapping[str, Callable[[Any], str]] | None = None,
        footer: str = "",
    ):
        self.title, self.columns, self.rows = title, list(columns), [dict(r) for r in rows]
        self.formats = dict(formats or {})
        self.footer = footer

    def column(self, name: str) -> list[Any]:
        """The values of one column, top to bottom."""
        return [r.get(name) for r in self.rows]

    def _cells(self) -> list[list[str]]:
        fmt = [self.formats.get(c, _default_format) for c in self.columns]
        return [[f(r.get(c)) for f, c in zip(fmt, self.columns)] for r in self.rows]

    def __str__(self) -> str:
        cells = self._cells()
        width = [max([visible(c)] + [visible(row[i]) for row in cells]) for i, c in enumerate(self.columns)]
        numeric = [all(isinstance(r.get(c), (int, float)) for r in self.rows) and self.rows for c in self.columns]
        just = [(_rjust if num else _ljust) for num in numeric]
        lines = [self.title] if self.title else []
        lines.append("  ".join(j(c, w) for j, c, w in zip(just, self.columns, width)).rstrip())
        lines.append("  ".join("─" * w for w in width))
        lines += ["  ".join(j(v, w) for j, v, w in zip(just, row, width)).rstrip() for row in cells]
        return "\n".join(lines + ([self.footer] if self.footer else []))

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in self._cells())
        foot = f"<p>{html.escape(self.footer)}</p>" if self.footer else ""
        return f"<p>{html.escape(self.title)}</p><table><tr>{head}</tr>{body}</table>{foot}"

    def __repr__(self) -> str:
        return f"Table({self.title!r}, {len(self.rows)} rows)"


def visible(text: str) -> int:
    """How many columns ``text`` takes: combining marks (the hat of ``x̂``) take none.

    >>> len("x̂"), visible("x̂")
    (2, 1)
    """
    return sum(not unicodedata.combining(c) for c in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * (width - visible(text))


def _rjust(text: str, width: int) -> str:
    return " " * (width - visible(text)) + text
