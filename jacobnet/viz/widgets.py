"""Step through a chain product with a slider (ipywidgets), or without one.

:func:`chain_stepper` draws every multiplication of ``chain.steps(order)``
(:func:`jacobnet.viz.chain_step_figures`) and returns

* with ``ipywidgets`` installed (``pip install 'jacobnet[notebooks]'``): a slider
  over the steps above the current step's figure;
* without it: a :class:`StepGallery` that Jupyter shows as all the steps, one
  below the other — so a notebook that calls it runs either way;
* for a static page (``JACOBNET_STATIC=1``, :func:`jacobnet.core.progress.static_output`, set by the
  HTML edition): the :class:`StepGallery`, whatever is installed.

``ipywidgets`` is imported only inside :func:`chain_stepper`, never at import time.

>>> import numpy as np
>>> from jacobnet import build_network
>>> chain = build_network("3,4,2", "tanh", "softmax-ce").chain(np.ones(3), np.array([0.0, 1.0]))
>>> gallery = chain_stepper(chain, "reverse", interactive=False)
>>> len(gallery), gallery.captions[0]
(3, 'step 1: ∂L/∂a2 (1, 4) = J_loss (1, 2) · J_x(Dense 2) (2, 4)   [matmul: 8 FLOPs, 32 B]')
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jacobnet.core.progress import static_output
from jacobnet.viz.figstyle import png_bytes

if TYPE_CHECKING:
    from ipywidgets import VBox

    from jacobnet.chain.product import Chain, Order


@dataclass
class StepGallery:
    """The steps of a product as captioned PNGs; Jupyter renders them as HTML, one below the other."""

    captions: list[str]
    pngs: list[bytes]
    note: str = ""

    def __len__(self) -> int:
        return len(self.pngs)

    def _repr_html_(self) -> str:
        parts = [f"<p><i>{html.escape(self.note)}</i></p>"] if self.note else []
        for caption, png in zip(self.captions, self.pngs):
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<p><b>{html.escape(caption)}</b></p><img src='data:image/png;base64,{data}'/>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return "\n".join([f"StepGallery of {len(self)} steps", *self.captions])


def step_gallery(chain: Chain, order: Order = "reverse", mode: str = "materialised", note: str = "") -> StepGallery:
    """Every multiplication of ``chain`` in ``order`` as a captioned figure."""
    from jacobnet.viz.chains import chain_step_figures

    figures = chain_step_figures(chain, order, mode=mode)
    captions = [str(s) for s in chain.steps(order, mode)]
    return StepGallery(captions, [png_bytes(f) for f in figures], note)


def chain_stepper(
    chain: Chain, order: Order = "reverse", *, mode: str = "materialised", interactive: bool | None = None
) -> StepGallery | VBox:
    """A slider through the steps of ``chain`` in ``order``, or a :class:`StepGallery` without ipywidgets.

    Args:
        chain: the product to step through (e.g. ``net.chain(x, y)``).
        order: ``"reverse"``, ``"forward"``, ``"optimal"`` or nested index pairs.
        mode: ``"structured"`` multiplies through the factors' structure (same values, other cost).
        interactive: ``None`` = a slider if ipywidgets is installed; ``False`` = always the gallery;
            ``True`` = a slider, raising ``ImportError`` with the install command if ipywidgets is missing.
            Under :func:`~jacobnet.core.progress.static_output` it is always the gallery (a page has no kernel).
    """
    if static_output():
        return step_gallery(chain, order, mode)
    ipywidgets = None
    if interactive is not False:
        try:
            import ipywidgets
        except ImportError:
            if interactive:
                raise ImportError("chain_stepper needs ipywidgets: pip install 'jacobnet[notebooks]'") from None
    if ipywidgets is None:
        note = "" if interactive is False else "(install ipywidgets — pip install 'jacobnet[notebooks]' — for a slider)"
        return step_gallery(chain, order, mode, note)
    gallery = step_gallery(chain, order, mode)
    slider = ipywidgets.IntSlider(value=1, min=1, max=len(gallery), description="step")
    caption = ipywidgets.HTML(value=html.escape(gallery.captions[0]))
    image = ipywidgets.Image(value=gallery.pngs[0], format="png")

    def show(change: dict) -> None:
        k = change["new"] - 1
        caption.value = html.escape(gallery.captions[k])
        image.value = gallery.pngs[k]

    slider.observe(show, names="value")
    return ipywidgets.VBox([slider, caption, image])
