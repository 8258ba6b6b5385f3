"""A progress bar on long work: ``tqdm.auto`` (a widget in Jupyter, text on stderr elsewhere).

When the lessons run for a static page (the HTML edition sets ``JACOBNET_STATIC=1`` in the
kernel's environment, :func:`static_output`), every bar is plain text and stays on screen, so its
final line is the record the page keeps.

>>> with progress_bar(3, "finite differences", "column", enabled=False) as bar:
...     bar.total, bar.disable
(3, True)
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm

STATIC_ENV = "JACOBNET_STATIC"
"""The environment variable that asks widgets and progress bars for their static forms (``1``)."""


def static_output() -> bool:
    """True when ``JACOBNET_STATIC`` is set to anything but ``""`` or ``"0"``: draw for a static page.

    >>> import os
    >>> os.environ.get(STATIC_ENV, "") in ("", "0") or static_output()
    True
    """
    return os.environ.get(STATIC_ENV, "") not in ("", "0")


def progress_bar(total: int, desc: str, unit: str, enabled: bool, leave: bool = False) -> tqdm:
    """A ``tqdm.auto`` bar of ``total`` ``unit``\\ s, drawn on stderr (hidden when not ``enabled``).

    ``leave=True`` keeps the finished bar on screen (training: the last line shows the run).

    In Jupyter it is a widget when ipywidgets is installed; without it ``tqdm.auto``
    falls back to text, which is what we want, so its warning about that is silenced.
    Under :func:`static_output` it is text (``tqdm.std``), drawn when it starts and when it
    finishes only, and always left on screen.
    """
    from tqdm import TqdmWarning

    if static_output():
        from tqdm.std import tqdm as text_tqdm

        return text_tqdm(total=total, disable=not enabled, desc=desc, unit=unit, leave=True, mininterval=float("inf"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

        return tqdm(total=total, disable=not enabled, desc=desc, unit=unit, leave=leave)
