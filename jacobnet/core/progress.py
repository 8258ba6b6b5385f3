"""A progress bar on long work: ``tqdm.auto`` (a widget in Jupyter, text on stderr elsewhere).

>>> with progress_bar(3, "finite differences", "column", enabled=False) as bar:
...     bar.total, bar.disable
(3, True)
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tqdm import tqdm


def progress_bar(total: int, desc: str, unit: str, enabled: bool, leave: bool = False) -> tqdm:
    """A ``tqdm.auto`` bar of ``total`` ``unit``\\ s, drawn on stderr (hidden when not ``enabled``).

    ``leave=True`` keeps the finished bar on screen (training: the last line shows the run).

    In Jupyter it is a widget when ipywidgets is installed; without it ``tqdm.auto``
    falls back to text, which is what we want, so its warning about that is silenced.
    """
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm

        return tqdm(total=total, disable=not enabled, desc=desc, unit=unit, leave=leave)
