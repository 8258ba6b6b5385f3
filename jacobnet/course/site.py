"""The HTML edition of the course: every lesson executed into one self-contained site that works offline.

:func:`build_site` runs each lesson as committed (the solutions edition) in a fresh ``python3`` kernel
with ``JACOBNET_STATIC=1`` (:data:`jacobnet.core.progress.STATIC_ENV`), so ``viz.chain_stepper`` returns
its all-steps gallery and progress bars draw text. It then keeps what a terminal shows of each stream
(the final state of every ``\\r``-redrawn line, so a progress bar by its final line), drops widget views
that have no static form, and shows an exception a cell expects (tag ``raises-exception``) as its
one-line message. It writes::

    out/index.html        the lessons (:data:`~jacobnet.course.lessons.LESSONS`): headings, minutes, links
    out/NN_name.html      one page per lesson, figures embedded as data URIs
    out/style.css         JupyterLab's light theme, shared by every page
    out/mathjax/          MathJax 2 from jupyter_server_mathjax: TeX input, HTML-CSS output, STIX-Web fonts

No page loads anything from outside the site: a link to the web becomes its text and its address, a
link to another lesson's notebook points at that lesson's page. The site is built in a temporary
folder next to ``out`` and renamed into place when complete, so an interrupted build (Ctrl-C: a
``KeyboardInterrupt``, the kernel stopped) leaves nothing behind, and an old site stays as it was.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jacobnet.core.progress import STATIC_ENV, progress_bar
from jacobnet.core.validate import flag
from jacobnet.course.lessons import LESSONS, NOTEBOOKS, read_minutes

if TYPE_CHECKING:
    from nbformat import NotebookNode

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"
MATHJAX_PARTS = ("MathJax.js", "LICENSE", f"config/{MATHJAX_CONFIG}.js", "jax/input", "jax/element", "jax/output/HTML-CSS",
                 "fonts/HTML-CSS/STIX-Web/woff", "extensions/*.js", "extensions/TeX", "extensions/HTML-CSS")
"""The parts of jupyter_server_mathjax's MathJax the pages use: the SVG output, the a11y explorer and the languages
other than English are left out (the pages' MathJax menu offers no language or renderer to switch to)."""

MATHJAX_HEAD = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
            processEscapes: true, processEnvironments: true},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null, linebreaks: {automatic: true}},
  MathMenu: {showLocale: false, showRenderer: false},
  displayAlign: "center", messageStyle: "none"
});
</script>
<script src="mathjax/MathJax.js?config=""" + MATHJAX_CONFIG + '"></script>'

TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block notebook_css -%}<link rel="stylesheet" href="style.css">{%- endblock notebook_css -%}
{%- block html_head_js_mathjax -%}{{ resources.jn_mathjax }}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block body_header -%}{{ super() }}{{ resources.jn_nav }}{%- endblock body_header -%}
{%- block body_footer -%}{{ resources.jn_nav }}{{ super() }}{%- endblock body_footer -%}
"""

SITE_CSS = """
a.anchor-link { display: none; }
.jp-InputArea, .jp-InputArea-editor { overflow: hidden; }
.cm-editor.cm-s-jupyter .highlight pre { padding: var(--jp-code-padding) 4px; margin: 0; font: inherit; color: inherit; }
.jp-OutputArea-output pre { line-height: inherit; font-family: inherit; }
.jp-RenderedText pre { color: var(--jp-content-font-color1); font-size: var(--jp-code-font-size); }
.jp-Collapser { display: none; }
nav.jn-nav { max-width: 60rem; margin: 0.5rem auto; padding: 0.5rem 1rem; font-family: var(--jp-ui-font-family); }
nav.jn-nav a { margin-right: 1.5rem; }
main.jn-index { max-width: 48rem; margin: 2rem auto; font-family: var(--jp-content-font-family); line-height: 1.6; }
main.jn-index li { margin: 0.3rem 0; }
main.jn-index .jn-minutes { color: var(--jp-content-font-color2); margin-left: 0.5rem; }
"""

_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_DOLLAR = "JACOBNETESCAPEDDOLLAR"  # stands for the markdown's ``\\$`` while the markdown is rendered
_CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+(?!url\()['"]?)([^'")\s;]+)""")


@dataclass(frozen=True)
class _Lesson:
    notebook: Path
    title: str
    minutes: int

    @property
    def page(self) -> str:
        return self.notebook.stem + ".html"


def build_site(out: Path, *, source: Path | None = None, overwrite: bool = False, progress: bool = True,
               timeout: int = 300) -> list[Path]:
    """Execute every lesson and write the course as a static, offline HTML site in ``out``.

    Args:
        out: the site's folder; it must not exist or be empty unless ``overwrite``.
        source: the folder of the lessons (default :data:`~jacobnet.course.lessons.NOTEBOOKS`); the lessons of
            :data:`~jacobnet.course.lessons.LESSONS` found there are built, in order.
        overwrite: replace an existing ``out`` (only once the new site is complete).
        progress: one progress line per lesson (its cells) on stderr.
        timeout: seconds any one cell may run.

    Returns:
        ``[out/index.html, out/01_….html, …]``, the index first, then the lessons in order.

    Raises:
        FileExistsError: ``out`` is not empty and ``overwrite`` is False (checked before any work).
        FileNotFoundError: no lesson in ``source``.
        nbclient.exceptions.CellExecutionError: a cell raised; the note names the lesson.
        RuntimeError: an output shows a Traceback (e.g. printed by a lesson); it names the lesson and the cell.
        KeyboardInterrupt: Ctrl-C or SIGTERM (during a lesson, nbclient's own handler stops its kernel first).

    >>> import jacobnet
    >>> build_site(Path(jacobnet.__file__).parent)  # a folder that is not empty
    Traceback (most recent call last):
    ...
    FileExistsError: ... exists and is not empty: pass overwrite=True to replace it
    """
    overwrite, progress = flag(overwrite, "overwrite"), flag(progress, "progress")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout must be a whole number of seconds ≥ 1 (for each cell), got {timeout!r}")
    out = Path(out)
    source = NOTEBOOKS if source is None else Path(source)
    _check_target(out, source.resolve(), overwrite)
    lessons = _lessons(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        tmp.chmod(0o755)
        _write_site(tmp, lessons, progress, timeout)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / "index.html", *(out / lesson.page for lesson in lessons)]


def _check_target(out: Path, source: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out must be a folder for the site, got the file {out}")
    if source == out.resolve() or out.resolve() in source.parents:
        raise ValueError(f"out must not contain the lessons' folder: out={out}, source={source}")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty: pass overwrite=True to replace it")


def _lessons(source: Path) -> list[_Lesson]:
    """The lessons of :data:`~jacobnet.course.lessons.LESSONS` found in ``source``, in order, with heading and minutes."""
    found = [(info, info.path(source)) for info in LESSONS if info.path(source).is_file()]
    if not found:
        raise FileNotFoundError(f"no lesson of the course ({LESSONS[0].filename}, …) in {source}: pass source= the folder of the course notebooks")
    return [_Lesson(path, info.heading, read_minutes(path)) for info, path in found]


def _write_site(site: Path, lessons: list[_Lesson], progress: bool, timeout: int) -> None:
    import nbformat

    exporter = _exporter()
    pages = {lesson.notebook.name: lesson.page for lesson in lessons}
    for k, lesson in enumerate(lessons):
        nb = nbformat.read(lesson.notebook, as_version=4)
        _execute(nb, lesson, progress, timeout)
        _static_outputs(nb, lesson)
        nav = _nav(lessons[k - 1] if k else None, lessons[k + 1] if k + 1 < len(lessons) else None)
        body = _render(exporter, nb, lesson, nav)
        (site / lesson.page).write_text(_offline(body, pages, lesson.notebook.name), encoding="utf-8")
    (site / "index.html").write_text(_index(lessons), encoding="utf-8")
    env = exporter.environment
    css = "\n".join(env.loader.get_source(env, f"static/{name}.css")[0] for name in ("index", "theme-light"))
    (site / "style.css").write_text(re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL) + SITE_CSS, encoding="utf-8")
    _copy_mathjax(site / "mathjax")


def _execute(nb: NotebookNode, lesson: _Lesson, progress: bool, timeout: int) -> None:
    """Run ``nb`` top to bottom in a fresh ``python3`` kernel started in the lesson's folder, static forms on.

    The kernel is the one named ``python3`` where the build runs (the venv's); the progress line counts its cells.
    """
    from nbclient import NotebookClient

    cells = sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip())
    with progress_bar(cells, lesson.notebook.stem, "cell", progress, leave=True) as bar:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", on_cell_executed=lambda **_: bar.update(1),
                                resources={"metadata": {"path": str(lesson.notebook.parent)}})
        try:
            with _signal_handlers_kept():
                client.execute(env={**os.environ, STATIC_ENV: "1"}, stderr=subprocess.DEVNULL)  # (the kernel's own log, not the cells')
        except Exception as error:
            if getattr(client, "_async_cleanup_kernel_future", None) is not None:  # nbclient's Ctrl-C/SIGTERM handler stopped the kernel
                raise KeyboardInterrupt from error
            error.add_note(f"(building the HTML edition of the course: lesson {lesson.notebook.name})")
            raise


@contextlib.contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """Restore the SIGINT and SIGTERM handlers afterwards (nbclient's event loop leaves Python's defaults in their place)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in handlers.items():
            if handler is not None:  # (None: a handler not set from Python, which Python cannot put back)
                signal.signal(s, handler)


def _final_text(text: str) -> str:
    r"""What a terminal shows of ``text``: every line from its last ``\r`` on (a redrawn bar's final state).

    >>> _final_text("train:  50%|█   | 1/2\rtrain: 100%|████| 2/2\nloss 0.1\r\n")
    'train: 100%|████| 2/2\nloss 0.1\n'
    """
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))


def _static_outputs(nb: NotebookNode, lesson: _Lesson) -> None:
    """Streams merged and cut to their final text, widget views without a static form dropped, errors in one line."""
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = [out for out in _merged(cell.outputs) if _shown(out)]
            if any("Traceback" in _text(out) for out in cell.outputs):
                raise RuntimeError(f"lesson {lesson.notebook.name}, cell {index + 1}: an output shows a Traceback, which a page must not")


def _merged(outputs: list) -> list:
    """Consecutive streams of one name joined and cut to what a terminal shows; an error as ``Name: message``."""
    import nbformat

    merged: list = []
    for out in outputs:
        if out.output_type == "error":
            out = nbformat.v4.new_output("stream", name="stderr", text=f"{out.ename}: {out.evalue}\n")
        if out.output_type == "stream" and merged and merged[-1].output_type == "stream" and merged[-1].name == out.name:
            merged[-1].text += out.text
        else:
            merged.append(out)
    for out in merged:
        if out.output_type == "stream":
            out.text = _final_text(out.text)
    return merged


def _shown(out) -> bool:
    """False for a stream of blanks and for a widget view with nothing else to show (its static form is missing)."""
    if out.output_type == "stream":
        return bool(out.text.strip())
    out.get("data", {}).pop(WIDGET_VIEW, None)
    return bool(out.get("data"))


def _text(out) -> str:
    data = out.get("data", {})
    return str(out.get("text", "")) + str(data.get("text/plain", "")) + str(data.get("text/html", ""))


def _exporter():
    import logging

    import jinja2
    from nbconvert import HTMLExporter

    log = logging.getLogger("jacobnet.course.site")
    log.setLevel(logging.ERROR)  # nbconvert warns of every figure without alternative text
    return HTMLExporter(template_name="lab", template_file="jacobnet_lesson.html.j2", embed_images=True, theme="light",
                        extra_loaders=[jinja2.DictLoader({"jacobnet_lesson.html.j2": TEMPLATE})], log=log)


def _render(exporter, nb: NotebookNode, lesson: _Lesson, nav: str) -> str:
    """``nb`` as a page; an escaped dollar ``\\$`` of the markdown stays ``\\$``, for MathJax (``processEscapes``) to show as ``$``.

    (The markdown renderer alone would turn it into a bare ``$``, which MathJax would pair with the next one.)
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"(?<!\\)\\\$", _DOLLAR, cell.source)
    nb.metadata["title"] = lesson.title
    resources = {"metadata": {"name": lesson.title, "path": str(lesson.notebook.parent)}, "jn_mathjax": MATHJAX_HEAD, "jn_nav": nav}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body.replace(_DOLLAR, "\\$")


def _offline(page: str, pages: dict[str, str], where: str) -> str:
    """``page`` with links to lessons' notebooks sent to their pages and links to the web turned into text."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    for a in soup.find_all("a", href=True):
        href = a["href"]
        target, _, anchor = href.partition("#")
        if _EXTERNAL.match(href):
            if a.get_text().strip() != href.strip():
                a.insert_after(f" ({href})")
            a.unwrap()
        elif Path(target).name in pages and "/" not in target.removeprefix("./"):
            a["href"] = pages[Path(target).name] + (f"#{anchor}" if anchor else "")
    for tag in soup.find_all(["img", "script", "link", "style", "iframe", "source", "video", "audio", "embed", "object"]):
        urls = [str(tag.get(attr, "")) for attr in ("src", "href", "data")] + _CSS_URL.findall(tag.get_text())
        if any(_EXTERNAL.match(url) for url in urls):
            raise ValueError(f"{where}: a <{tag.name}> loads {next(u for u in urls if _EXTERNAL.match(u))} from the web; an offline page cannot")
    return str(soup)


def _nav(previous: _Lesson | None, following: _Lesson | None) -> str:
    import html

    links = ['<a href="index.html">Contents</a>']
    links += [f'<a href="{previous.page}">← {html.escape(previous.title)}</a>'] if previous else []
    links += [f'<a href="{following.page}">{html.escape(following.title)} →</a>'] if following else []
    return f'<nav class="jn-nav">{"".join(links)}</nav>'


def _index(lessons: list[_Lesson]) -> str:
    import html

    items = "\n".join(f'<li><a href="{lesson.page}">{html.escape(lesson.title)}</a><span class="jn-minutes">{lesson.minutes} min</span></li>'
                      for lesson in lessons)
    total = sum(lesson.minutes for lesson in lessons)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>jacobnet — the course</title>
<link rel="stylesheet" href="style.css">
{MATHJAX_HEAD}
</head>
<body class="jp-Notebook" data-jp-theme-light="true">
<main class="jn-index">
<h1>jacobnet — the course</h1>
<p>Backpropagation as a product of explicit Jacobian matrices: {len(lessons)} lessons, {total} minutes.
Every page was executed when this site was built (the solutions edition); the site needs no network.</p>
<ul>
{items}
</ul>
</main>
</body>
</html>
"""


def _copy_mathjax(dest: Path) -> None:
    import jupyter_server_mathjax

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    for part in MATHJAX_PARTS:
        for found in sorted(glob.glob(str(static / part))):
            target = dest / Path(found).relative_to(static)
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if Path(found).is_dir() else shutil.copy2)(found, target)


def _swap(tmp: Path, out: Path) -> None:
    """Rename the finished site ``tmp`` to ``out``, replacing what was there only now."""
    old = tmp.with_name(tmp.name.removesuffix(".partial") + ".old") if out.exists() else None
    if old is not None:
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old)
