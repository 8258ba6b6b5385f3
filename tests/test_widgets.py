"""The chain stepper: a slider with ipywidgets, a static gallery without — never an import error by default."""

from __future__ import annotations

import io
import subprocess
import sys
import types

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.core.progress import STATIC_ENV, progress_bar, static_output
from jacobnet.viz import chain_step_figures
from jacobnet.viz.figstyle import save_png
from jacobnet.viz.widgets import StepGallery, chain_stepper

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def chain():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    return net.chain(np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0]))


@pytest.fixture
def no_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` raises ImportError


def test_importing_the_module_needs_no_ipywidgets():
    code = "import sys; sys.modules['ipywidgets'] = None; import jacobnet.viz.widgets, jacobnet.course.train"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_ipywidgets_a_gallery_of_every_step(no_ipywidgets, chain):
    gallery = chain_stepper(chain, "forward")
    assert isinstance(gallery, StepGallery) and "pip install 'jacobnet[notebooks]'" in gallery.note
    steps = list(chain.steps("forward"))
    assert len(gallery) == len(steps) == 3
    assert gallery.captions == [str(s) for s in steps]
    assert all(png.startswith(PNG_MAGIC) for png in gallery.pngs)
    page = gallery._repr_html_()
    assert page.count("<img src='data:image/png;base64,") == 3 and "∂L/∂θ(Dense 1)" in page


def test_gallery_pngs_are_saved_like_every_other_figure(no_ipywidgets, chain):
    # the one way to save (figstyle.save_png: fixed dpi, tight box, no timestamp), not a second savefig
    gallery = chain_stepper(chain, "reverse")
    for png, fig in zip(gallery.pngs, chain_step_figures(chain, "reverse")):
        buf = io.BytesIO()
        save_png(fig, buf)
        assert png == buf.getvalue()


def test_interactive_true_without_ipywidgets_says_how_to_install(no_ipywidgets, chain):
    with pytest.raises(ImportError, match=r"pip install 'jacobnet\[notebooks\]'"):
        chain_stepper(chain, interactive=True)


class _Widget:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)
        self.observers = []

    def observe(self, fn, names):
        self.observers.append((fn, names))


def _fake_ipywidgets() -> types.ModuleType:
    mod = types.ModuleType("ipywidgets")
    for name in ("IntSlider", "HTML", "Image"):
        setattr(mod, name, type(name, (_Widget,), {}))
    mod.VBox = lambda children: types.SimpleNamespace(children=children)
    return mod


def test_with_ipywidgets_the_slider_switches_the_figure(monkeypatch, chain):
    monkeypatch.setitem(sys.modules, "ipywidgets", _fake_ipywidgets())
    box = chain_stepper(chain, "reverse")
    slider, caption, image = box.children
    assert (slider.min, slider.max, slider.value) == (1, 3, 1)
    steps = list(chain.steps("reverse"))
    assert image.value.startswith(PNG_MAGIC) and steps[0].name in caption.value
    first = image.value
    (show, names), = slider.observers
    assert names == "value"
    show({"new": 3})
    assert "∂L/∂θ(Dense 1)" in caption.value and image.value != first and image.value.startswith(PNG_MAGIC)


def test_for_a_static_page_the_gallery_whatever_is_installed(monkeypatch, chain):
    monkeypatch.setitem(sys.modules, "ipywidgets", _fake_ipywidgets())
    monkeypatch.setenv(STATIC_ENV, "1")
    gallery = chain_stepper(chain, "forward", interactive=True)
    assert isinstance(gallery, StepGallery) and gallery.note == "", "a page has no kernel: no slider, no install hint"
    assert gallery.captions == [str(s) for s in chain.steps("forward")]
    monkeypatch.setenv(STATIC_ENV, "0")
    assert not isinstance(chain_stepper(chain, "forward"), StepGallery)


@pytest.mark.parametrize(("value", "static"), [("1", True), ("yes", True), ("0", False), ("", False)])
def test_static_output_reads_the_environment(monkeypatch, value, static):
    monkeypatch.setenv(STATIC_ENV, value)
    assert static_output() is static


def test_a_static_progress_bar_is_text_that_stays_and_draws_its_start_and_end_only(monkeypatch, capsys):
    monkeypatch.setenv(STATIC_ENV, "1")
    with progress_bar(50, "work", "item", True) as bar:  # leave=False is overridden: the page keeps the last line
        for _ in range(50):
            bar.update(1)
    err = capsys.readouterr().err
    assert type(bar).__module__ == "tqdm.std"
    assert err.count("\r") == 2 and err.endswith("\n"), "drawn twice: when it starts and when it ends"
    assert err.rsplit("\r", 1)[-1].startswith("work: 100%") and "50/50" in err.rsplit("\r", 1)[-1]
    with progress_bar(5, "hidden", "item", False) as bar:
        bar.update(5)
    assert capsys.readouterr().err == ""
