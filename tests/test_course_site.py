"""The HTML edition: two tiny lessons built into a site that works offline, then every page checked."""

from __future__ import annotations

import base64
import re
import signal
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbclient.exceptions import CellExecutionError

import jacobnet.course.site as site
from jacobnet.course.lessons import LESSONS
from jacobnet.course.site import MATHJAX_CONFIG, WIDGET_VIEW, build_site

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NOT_TYPESET = {"script", "noscript", "style", "textarea", "pre", "code", "annotation", "annotation-xml"}  # MathJax 2's skipTags
WIDGET = {"model_id": "0123", "version_major": 2, "version_minor": 0}

FORMULAS = r"""## 1. Formulas (4 min)

Inline $J_{ij} = \partial y_i / \partial x_j$, with emphasis-like stars \\(a_1*b_2*c_3\\), an inequality $x < y$ and
$a_1*b_2 + c_3*d_4$; a code span `$not math$`, a price of \$5.

$$\begin{pmatrix} a_1 & b_2 \\ c_3 & d_4 \end{pmatrix} = W^\top, \qquad \|x\|_2 = \sqrt{x^\top x}$$

\\[ \frac{\partial L}{\partial \theta} = \delta\, x^\top \\]

\begin{align} y &= W x + b \\ z &= \tanh(y) \end{align}

See [the next lesson](02_dense_layer.ipynb#The-end), [HIPS autograd](https://github.com/HIPS/autograd) and <https://example.org/a>.
"""

CODE = [
    "import numpy as np\nimport matplotlib.pyplot as plt\nimport jacobnet as jn\nfrom jacobnet.core.progress import progress_bar\n"
    "from jacobnet.viz.widgets import chain_stepper",
    "fig, ax = plt.subplots(figsize=(2, 1.5))\nax.plot([0, 1, 2], [1, 0, 1])\nplt.show()",
    'chain = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0).chain(np.ones(3), np.array([0.0, 1.0]))\n'
    'chain_stepper(chain, "reverse")',
    'with progress_bar(40, "tiny work", "item", True) as bar:\n    for _ in range(40):\n        bar.update(1)\n'
    'print("step 1 of 3\\rstep 2 of 3\\rall 3 steps done")',
    "from IPython.display import Math, display\n"
    f"display({{{WIDGET_VIEW!r}: {WIDGET!r}}}, raw=True)\n"
    f"display({{{WIDGET_VIEW!r}: {WIDGET!r}, 'text/plain': 'the static form of a widget'}}, raw=True)\n"
    'Math(r"\\frac{\\partial L}{\\partial x} = J^\\top")',
]


def _lesson_one() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 1 · A tiny lesson\n\nAbout 6 minutes."), nbformat.v4.new_markdown_cell(FORMULAS)]
    nb.cells += [nbformat.v4.new_code_cell(code) for code in CODE]
    nb.cells.append(nbformat.v4.new_code_cell('raise ValueError("an expected error, in one line")'))
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    nb.cells.append(nbformat.v4.new_markdown_cell("## 2. Done (2 min)\n\nThe end."))
    return nb


def _lesson_two(code: str = "print(2 + 2)") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 2 · Another\n\nAbout 3 minutes."), nbformat.v4.new_code_cell(code),
                nbformat.v4.new_markdown_cell("## The end (3 min)\n\nBack to [lesson 1](01_chain_rule_as_matrices.ipynb).")]
    return nb


def _write(folder: Path, *notebooks: nbformat.NotebookNode) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for info, nb in zip(LESSONS, notebooks):
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nbformat.write(nb, info.path(folder))
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    source = _write(root / "lessons", _lesson_one(), _lesson_two())
    paths = build_site(root / "site", source=source, progress=False, timeout=120)
    return root / "site", paths, source


@pytest.fixture(scope="module")
def soups(built):
    out, paths, _ = built
    return {p.name: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser") for p in paths}


def test_the_index_comes_first_then_the_lessons_in_order(built):
    out, paths, _ = built
    assert [p.name for p in paths] == ["index.html", f"{LESSONS[0].stem}.html", f"{LESSONS[1].stem}.html"]
    assert all(p.is_file() and p.parent == out for p in paths)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "the temporary folder is gone"


def test_the_index_links_every_lesson_with_its_heading_and_minutes(soups):
    items = soups["index.html"].find_all("li")
    assert [li.a["href"] for li in items] == [f"{LESSONS[0].stem}.html", f"{LESSONS[1].stem}.html"]
    assert [li.a.get_text() for li in items] == [LESSONS[0].heading, LESSONS[1].heading]
    assert [li.find(class_="jn-minutes").get_text() for li in items] == ["6 min", "3 min"]
    assert "2 lessons, 9 minutes" in soups["index.html"].get_text()


def _references(soup: BeautifulSoup) -> list[str]:
    return [tag[attr] for attr in ("src", "href", "data", "srcset", "poster", "action") for tag in soup.find_all(attrs={attr: True})]


def test_nothing_on_any_page_points_at_the_web(built, soups):
    out, _, _ = built
    for name, soup in soups.items():
        for ref in _references(soup):
            assert "//" not in ref.split("?")[0][:12], f"{name}: {ref[:80]}"
        for tag in soup.find_all(["script", "style"]):
            assert not re.search(r"https?://|@import", tag.get_text()), f"{name}: a <{tag.name}> names a URL"
    assert not re.search(r"https?:|@import", (out / "style.css").read_text(encoding="utf-8"))


def test_links_to_the_web_stay_as_text(soups):
    text = soups[f"{LESSONS[0].stem}.html"].get_text()
    assert "HIPS autograd (https://github.com/HIPS/autograd)" in text and "https://example.org/a" in text


def test_every_local_reference_is_a_file_of_the_site(built, soups):
    out, _, _ = built
    for name, soup in soups.items():
        for ref in _references(soup):
            if not ref.startswith(("data:", "#")):
                assert (out / ref.split("#")[0].split("?")[0]).is_file(), f"{name} refers to {ref}, not in the site"
    page = soups[f"{LESSONS[0].stem}.html"]
    assert page.find("a", href=f"{LESSONS[1].stem}.html#The-end"), "a link to a lesson's notebook points at its page"
    assert soups[f"{LESSONS[1].stem}.html"].find("a", href=f"{LESSONS[0].stem}.html")


def test_every_page_loads_the_sites_mathjax(built, soups):
    out, _, _ = built
    for name, soup in soups.items():
        src = [s["src"] for s in soup.find_all("script", src=True)]
        assert src == [f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"], name
        assert (out / "mathjax" / "config" / f"{MATHJAX_CONFIG}.js").is_file()
        config = soup.find("script", type="text/x-mathjax-config").get_text()
        assert re.search(r'inlineMath: \[\["\$", "\$"\], \["\\\\\(", "\\\\\)"\]\]', config), name
        assert re.search(r'displayMath: \[\["\$\$", "\$\$"\], \["\\\\\[", "\\\\\]"\]\]', config), name
        assert "processEscapes: true" in config and 'webFont: "STIX-Web"' in config


def _formulas(markdown: str) -> list[str]:
    """Every formula of ``markdown`` as MathJax gets it: ``$$…$$``, ``$…$``, ``\\[…\\]`` → ``$$…$$``, ``\\(…\\)`` → ``$…$``.

    Code spans, fenced code and escaped dollars hold none; environments (``\begin{align}…``) are kept whole.
    """
    text = re.sub(r"^```.*?^```|`[^`\n]*`", " ", markdown, flags=re.DOTALL | re.MULTILINE).replace(r"\$", " ")
    found = []
    for pattern, template in ((r"\$\$(.+?)\$\$", "$${}$$"), (r"\\\\\[(.+?)\\\\\]", "$${}$$"), (r"\$([^$]+?)\$", "${}$"),
                              (r"\\\\\((.+?)\\\\\)", "${}$"), (r"\\begin\{(\w+\*?)\}.+?\\end\{\1\}", None)):
        found += [m.group(0) if template is None else template.format(m.group(1)) for m in re.finditer(pattern, text, re.DOTALL)]
        text = re.sub(pattern, " ", text, flags=re.DOTALL)
    return found


def _typeset_texts(soup: BeautifulSoup) -> list[str]:
    """The page's text nodes MathJax 2 looks into (not in a skipped tag, not in a ``tex2jax_ignore`` element)."""
    texts = []
    for node in soup.body.find_all(string=True):
        if not any(p.name in NOT_TYPESET or "tex2jax_ignore" in (p.get("class") or []) for p in node.parents):
            texts.append(str(node))
    return texts


def _check_formulas(nb: nbformat.NotebookNode, soup: BeautifulSoup, name: str) -> int:
    """Every formula of ``nb``'s markdown is whole in a text node MathJax reads; every such node has its dollars paired."""
    texts = _typeset_texts(soup)
    formulas = [f for cell in nb.cells if cell.cell_type == "markdown" for f in _formulas(cell.source)]
    for formula in formulas:
        assert any(formula in t for t in texts), f"{name}: {formula!r} is broken up or sits where MathJax does not look"
    for t in texts:
        assert len(re.findall(r"(?<!\\)\$", t)) % 2 == 0, f"{name}: an unpaired $ in {t[:120]!r}"
    return len(formulas)


def test_every_formula_reaches_mathjax_whole_and_in_a_typeset_element(built, soups):
    _, _, source = built
    nb = nbformat.read(LESSONS[0].path(source), as_version=4)
    assert _check_formulas(nb, soups[f"{LESSONS[0].stem}.html"], "lesson 1") == 7
    texts = _typeset_texts(soups[f"{LESSONS[0].stem}.html"])
    assert "$a_1*b_2*c_3$" in _formulas(FORMULAS) and r"$$ \frac{\partial L}{\partial \theta} = \delta\, x^\top $$" in _formulas(FORMULAS)
    output = r"\frac{\partial L}{\partial x} = J^\top"  # the text/latex output of a cell
    assert any(re.search(r"\$\\displaystyle " + re.escape(output) + r"\$", t) for t in texts)
    assert not any("$not math$" in t for t in texts), "a code span is not typeset"
    assert any(r"\$5" in t for t in texts), "an escaped dollar stays escaped (processEscapes)"


@pytest.fixture(scope="module")
def exporter():
    return site._exporter()


@pytest.mark.parametrize("info", LESSONS, ids=[info.stem for info in LESSONS])
def test_every_formula_of_the_course_reaches_mathjax_whole(info, exporter):
    # the committed lessons' markdown cells through the site's own renderer (no kernel: the formulas are in the markdown)
    if not info.path().is_file():
        pytest.skip(f"{info.filename} is not in the checkout")
    nb = nbformat.read(info.path(), as_version=4)
    nb.cells = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    body = site._render(exporter, nbformat.from_dict(nb), site._Lesson(info.path(), info.heading, 0), "")
    assert _check_formulas(nb, BeautifulSoup(body, "html.parser"), info.filename) > 0


def test_figures_are_embedded_pngs(soups):
    images = soups[f"{LESSONS[0].stem}.html"].find_all("img")
    assert len(images) == 1 + 3, "the plot and the three steps of the stepper's gallery"
    for img in images:
        head, _, data = img["src"].partition(",")
        assert head == "data:image/png;base64" and base64.b64decode(data).startswith(PNG_MAGIC)


def _outputs(soup: BeautifulSoup) -> list:
    return soup.find_all(class_="jp-Cell-outputWrapper")


def test_widgets_are_in_their_static_form_and_no_output_is_empty(soups):
    page = soups[f"{LESSONS[0].stem}.html"]
    outputs = "".join(str(o) for o in _outputs(page))
    assert WIDGET_VIEW not in outputs and "jupyter-widgets" not in str(page.head)
    assert "step 1: ∂L/∂a2 (1, 4) = J_loss (1, 2) · J_x(Dense 2) (2, 4)" in outputs, "the stepper's gallery"
    assert "pip install" not in outputs, "a static page does not ask for ipywidgets"
    assert "the static form of a widget" in outputs
    for area in page.find_all(class_="jp-OutputArea-output"):
        assert area.get_text().strip() or area.find("img"), f"an empty output: {str(area)[:200]}"


def test_progress_bars_and_redrawn_lines_keep_their_final_state(built, soups):
    out, _, _ = built
    text = "".join(o.get_text() for o in _outputs(soups[f"{LESSONS[0].stem}.html"]))
    assert re.search(r"tiny work: 100%\|█+\| 40/40", text)
    assert " 0/40" not in text and "step 1 of 3" not in text and "all 3 steps done" in text
    assert "\r" not in (out / f"{LESSONS[0].stem}.html").read_text(encoding="utf-8")


def test_no_traceback_and_an_expected_error_in_one_line(built, soups):
    for name, soup in soups.items():
        assert "Traceback" not in str(soup), name
    outputs = [o.get_text().strip() for o in _outputs(soups[f"{LESSONS[0].stem}.html"])]
    assert "ValueError: an expected error, in one line" in outputs


def test_the_sites_mathjax_has_every_file_its_scripts_ask_for(built):
    mathjax = built[0] / "mathjax"
    config = (mathjax / "config" / f"{MATHJAX_CONFIG}.js").read_text(encoding="utf-8")
    preloaded = set(re.findall(r'"(\[MathJax\]/[^"]+)"', config.split("MathJax.Ajax.Preloading(", 1)[1].split(")", 1)[0]))
    assert "[MathJax]/jax/output/HTML-CSS/jax.js" in preloaded
    asked = set()
    for js in mathjax.rglob("*.js"):
        asked |= set(re.findall(r"\[MathJax\]/[\w./-]+\.js", js.read_text(encoding="utf-8", errors="replace")))
    missing = {ref for ref in asked - preloaded if not (mathjax / ref.removeprefix("[MathJax]/")).is_file()}
    assert missing == set()
    assert (mathjax / "jax/output/HTML-CSS/fonts/STIX-Web/fontdata.js").is_file()
    assert len(list((mathjax / "fonts/HTML-CSS/STIX-Web/woff").glob("*.woff"))) >= 20
    assert not (mathjax / "jax/output/SVG").exists() and not (mathjax / "localization").exists()


def test_a_non_empty_out_is_refused_before_any_work(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"site exists and is not empty: pass overwrite=True"):
        build_site(out, source=tmp_path / "nowhere")
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(NotADirectoryError, match="keep.txt"):
        build_site(out / "keep.txt", source=tmp_path)
    with pytest.raises(ValueError, match="out must not contain the lessons' folder"):
        build_site(tmp_path, source=out, overwrite=True)
    with pytest.raises(FileNotFoundError, match=r"no lesson of the course \(01_chain_rule_as_matrices.ipynb, …\)"):
        build_site(tmp_path / "new", source=tmp_path)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"timeout": 0}, ValueError, r"timeout must be a whole number of seconds ≥ 1 \(for each cell\), got 0"),
    ({"timeout": 2.5}, ValueError, "got 2.5"),
    ({"timeout": True}, ValueError, "got True"),
    ({"overwrite": "yes"}, TypeError, "overwrite must be True or False, got 'yes'"),
    ({"progress": 1}, TypeError, "progress must be True or False, got 1"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        build_site(tmp_path / "site", source=tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch):
    source = _write(tmp_path / "lessons", _lesson_two())
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "old.html").write_text("the old site")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(site, "_execute", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_site(tmp_path / "site", source=source, overwrite=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lessons", "site"]
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["old.html"]


def test_overwrite_replaces_the_old_site_once_the_new_one_is_complete(tmp_path, monkeypatch):
    source = _write(tmp_path / "lessons", _lesson_two())
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "old.html").write_text("the old site")
    monkeypatch.setattr(site, "_execute", lambda *args, **kwargs: None)  # the lesson as it is, unexecuted: no kernel
    paths = build_site(tmp_path / "site", source=source, overwrite=True, progress=False)
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [f"{LESSONS[0].stem}.html", "index.html", "mathjax", "style.css"]
    assert paths == [tmp_path / "site" / "index.html", tmp_path / "site" / f"{LESSONS[0].stem}.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lessons", "site"]


def test_a_lesson_that_raises_stops_the_build_and_is_named(tmp_path):
    source = _write(tmp_path / "lessons", _lesson_two('raise RuntimeError("a broken lesson")'))
    handler = lambda signum, frame: None  # e.g. the CLI's: nbclient's event loop must not leave Python's default in its place
    old = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(CellExecutionError, match="a broken lesson") as caught:
            build_site(tmp_path / "site", source=source, progress=False, timeout=60)
        assert signal.getsignal(signal.SIGTERM) is handler
    finally:
        signal.signal(signal.SIGTERM, old)
    assert any(LESSONS[0].filename in note for note in caught.value.__notes__)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lessons"]


def test_streams_keep_their_order_around_other_outputs():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    stream = lambda name, text: nbformat.v4.new_output("stream", name=name, text=text)
    image = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
    cell.outputs = [stream("stdout", "a 10%\r"), stream("stdout", "a 100%\n"), image, stream("stdout", "b\n"),
                    stream("stderr", "   \r"), nbformat.v4.new_output("display_data", data={WIDGET_VIEW: WIDGET})]
    nb.cells = [cell]
    site._static_outputs(nb, site._Lesson(Path("01_x.ipynb"), "1 · x", 1))
    assert [(o.output_type, o.get("text")) for o in cell.outputs] == [("stream", "a 100%\n"), ("display_data", None), ("stream", "b\n")]


@pytest.mark.parametrize("tag", ['<img src="https://example.org/a.png">', '<script src="//cdn.example.org/x.js"></script>',
                                 '<link rel="stylesheet" href="http://example.org/s.css">',
                                 "<style>@import url(https://example.org/font.css);</style>"])
def test_a_page_that_would_load_from_the_web_is_refused(tag):
    with pytest.raises(ValueError, match=r"01_x.ipynb: a <\w+> loads (https?:)?//\S*example.org\S* from the web"):
        site._offline(f"<html><head>{tag}</head><body></body></html>", {}, "01_x.ipynb")
