"""kernel_figure: a convolution's J_x beside its kernel, rendered off-screen (Agg) and saved.

The kernel is drawn in J_x's own colours, so the pixel at a weight's kernel cell is the pixel at
every J_x cell that holds that weight; the kernel's image sits right of J_x's colourbar, top-aligned.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

import jacobnet as jn
from jacobnet.core.conv import Conv1d, Conv2d
from jacobnet.viz.conv import entry_names, kernel_figure, kernel_tiles
from jacobnet.viz.figstyle import save_png


def render(fig) -> np.ndarray:
    """RGB pixels in [0, 1], row 0 at the top."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3] / 255.0


def colour_at(pixels: np.ndarray, ax, i: int, j: int) -> np.ndarray:
    """The colour drawn in cell (row i, column j) of ``ax``, near its corner (away from a value written at its centre)."""
    x, y = ax.transData.transform((j + 0.3, i + 0.3))
    return pixels[int(pixels.shape[0] - y), int(x)]


@pytest.mark.parametrize(
    "layer",
    [Conv1d(2, 3, 3, 7, stride=2, padding=1, seed=0), Conv2d(2, 2, (2, 3), 3, 4, stride=(1, 2), padding=1, seed=1)],
    ids=repr,
)
def test_the_kernel_is_drawn_beside_j_x_in_its_colours(layer, tmp_path):
    fig = kernel_figure(layer, np.ones(layer.n_in))
    matrix, bar, kernel = fig.axes
    J = layer.jacobian_input(np.ones(layer.n_in))
    np.testing.assert_array_equal(matrix.images[0].get_array(), J)
    np.testing.assert_array_equal(kernel.images[0].get_array(), kernel_tiles(layer.W))
    assert kernel.images[0].get_clim() == matrix.images[0].get_clim() == (-np.abs(layer.W).max(), np.abs(layer.W).max())
    assert kernel.get_title().startswith("kernel $W \\in") and "beside its kernel W ∈ ℝ^{" in fig.get_label()
    pixels = render(fig)
    m, k = matrix.get_position(), kernel.get_position()
    assert k.x0 > bar.get_position().x1 > m.x1 and abs(k.y1 - m.y1) < 1e-9  # right of the colourbar, tops aligned
    g, T = layer.geometry, layer.geometry.positions
    taps = np.prod(g.kernel)
    for o, c, j in [(0, 0, 0), (layer.out_channels - 1, layer.in_channels - 1, 1)]:  # a weight: its kernel cell, its J_x cells
        t, tap, i = (a[g.taps[1] == j][0] for a in g.taps)
        kr, kc = np.unravel_index(tap, g.kernel) if len(g.kernel) == 2 else (0, tap)
        kernel_cell = colour_at(pixels, kernel, o * (taps // g.kernel[-1]) + kr, c * g.kernel[-1] + kc)
        J_cell = colour_at(pixels, matrix, o * T + t, c * np.prod(g.size) + i)
        assert J[o * T + t, c * np.prod(g.size) + i] == layer.W.reshape(layer.out_channels, layer.in_channels, -1)[o, c, j]
        np.testing.assert_allclose(kernel_cell, J_cell, atol=2 / 255)
    tiles = [p for p in kernel.patches if p.get_linestyle() == "solid"]
    assert len(tiles) == layer.out_channels * layer.in_channels
    assert [t.get_text() for t in kernel.texts if t.get_text().startswith("$c=")] == [f"$c={c + 1}$" for c in range(layer.in_channels)]
    path = tmp_path / "kernel.png"
    save_png(fig, path)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > png.size[1] > 100


def test_rows_and_columns_name_the_flattened_entries():
    layer = Conv1d(2, 1, 2, 3, seed=0)
    matrix = kernel_figure(layer).axes[0]
    assert [t.get_text() for t in matrix.get_xticklabels()] == ["$x_{1,1}$", "$x_{1,2}$", "$x_{1,3}$", "$x_{2,1}$", "$x_{2,2}$", "$x_{2,3}$"]
    assert [t.get_text() for t in matrix.get_yticklabels()] == ["$y_{1,1}$", "$y_{1,2}$"]
    assert entry_names("y", (1, 2, 2))[-1] == "y_{1,2,2}"


def test_the_figure_refuses_what_is_not_a_convolution():
    with pytest.raises(TypeError, match=r"kernel_figure: expects a Conv1d or Conv2d layer, got Dense\(3, 2\)"):
        kernel_figure(jn.Dense(3, 2))
    with pytest.raises(ValueError, match=r"Conv1d\(2→1, K=2\) expects input of shape \(6,\)"):
        kernel_figure(Conv1d(2, 1, 2, 3), np.ones(5))
