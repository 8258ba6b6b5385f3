"""Heatmaps and chain figures: names, shapes, labels, centred colours, the drawn pattern.

Figures are rendered off-screen with the Agg canvas (no pyplot). Expected
shapes and labels are worked out by hand for the demo network 3 → 4 → 2
(tanh, softmax-cross-entropy): ``J_θ(Dense 1)`` is ``4 × (4·3 + 4) = 4 × 16``.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle

import jacobnet as jn
from jacobnet.chain.factor import Factor
from jacobnet.core.memory import JacobianMemoryError, memory_budget
from jacobnet.core.operators import Diagonal, Matrix
from jacobnet.net.spec import demo_sample
from jacobnet.viz import chain_figure, chain_step_figures, heatmap
from jacobnet.viz.figstyle import tex_label, tex_name

SHAPES = {  # 3 → 4 → 2, by hand
    "J_loss": (1, 2),
    "J_θ(Dense 2)": (2, 2 * 4 + 2),
    "J_x(Dense 2)": (2, 4),
    "J_x(Tanh 1)": (4, 4),
    "J_θ(Dense 1)": (4, 4 * 3 + 4),
    "J_x(Dense 1)": (4, 3),
}


@pytest.fixture(scope="module")
def demo():
    net = jn.build_network("3,4,2", "tanh", "softmax-ce", seed=0)
    x, y = demo_sample(3, 2, 0)
    factors = {f.name: f for f in net.trace(x, y).factors}
    return net, x, y, factors


def render(fig) -> np.ndarray:
    """Draw with Agg; the RGB pixels in [0, 1], row 0 at the top."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3] / 255.0


def cell_colour(pixels: np.ndarray, ax, i: int, j: int) -> np.ndarray:
    """The colour drawn at the centre of cell (row i, column j)."""
    x, y = ax.transData.transform((j, i))
    return pixels[int(pixels.shape[0] - y), int(x)]


def ticks(labels) -> list[str]:
    return [t.get_text() for t in labels]


# --- titles and labels ---------------------------------------------------------------------


def test_title_names_the_factor_and_its_shape(demo):
    _, _, _, factors = demo
    assert set(factors) == set(SHAPES)
    for name, f in factors.items():
        m, n = SHAPES[name]
        fig = heatmap(f)
        assert fig.get_label() == f"{name} ∈ ℝ^{{{m}×{n}}}"
        title = fig.axes[0].get_title()
        assert title.startswith(f"${tex_name(name)}") and title.endswith(rf"\in \mathbb{{R}}^{{{m}\times {n}}}$")
    assert heatmap(factors["J_θ(Dense 1)"]).get_label() == "J_θ(Dense 1) ∈ ℝ^{4×16}"
    assert r"J_{\theta}(\mathrm{Dense\ 1})" in heatmap(factors["J_θ(Dense 1)"]).axes[0].get_title()


def test_dense_parameter_jacobian_is_labelled_with_the_parameters(demo):
    net, _, _, factors = demo
    ax = heatmap(factors["J_θ(Dense 1)"]).axes[0]
    cols = ticks(ax.get_xticklabels())
    assert cols == [f"${label}$" for label in net.param_labels()[:16]]
    assert cols[5] == "$W^{(1)}_{2,3}$" and cols[12] == "$b^{(1)}_{1}$"  # row-major: W_{2,3} is entry 3 + 3
    rows = ticks(ax.get_yticklabels())
    assert rows == [f"${tex_label(r)}$" for r in factors["J_θ(Dense 1)"].row_labels] and len(rows) == 4
    cols2 = ticks(heatmap(factors["J_θ(Dense 2)"]).axes[0].get_xticklabels())
    assert cols2 == [f"${label}$" for label in net.param_labels()[16:]]


class MyDense(jn.Dense):
    """A Dense subclass: named "MyDense 1", but its parameters are still W^{(1)}, b^{(1)}."""


def test_parameter_labels_come_from_the_network_not_from_the_factor_name():
    # names are numbered per type (MyDense 1, Tanh 1, Dense 1), parameters per parameterised layer (1, 2)
    net = jn.Network([MyDense(3, 4, seed=0), jn.Tanh(), jn.Dense(4, 2, seed=1)], jn.MSE())
    factors = {f.name: f for f in net.trace(np.ones(3), np.zeros(2)).factors}
    first = ticks(heatmap(factors["J_θ(MyDense 1)"]).axes[0].get_xticklabels())
    second = ticks(heatmap(factors["J_θ(Dense 1)"]).axes[0].get_xticklabels())
    assert first == [f"${label}$" for label in net.param_labels()[:16]] and first[0] == "$W^{(1)}_{1,1}$"
    assert second == [f"${label}$" for label in net.param_labels()[16:]] and second[0] == "$W^{(2)}_{1,1}$"


def test_input_jacobian_and_loss_labels(demo):
    _, _, _, factors = demo
    f = factors["J_x(Dense 1)"]  # non-square 4 × 3
    ax = heatmap(f).axes[0]
    assert ticks(ax.get_xticklabels()) == [f"${tex_label(c)}$" for c in f.col_labels] and len(f.col_labels) == 3
    assert ticks(ax.get_yticklabels()) == [f"${tex_label(r)}$" for r in f.row_labels] and len(f.row_labels) == 4
    assert f.col_labels != f.row_labels[:3]  # inputs and outputs are different variables
    ax = heatmap(factors["J_loss"]).axes[0]
    assert ticks(ax.get_yticklabels()) == ["$L$"]
    assert ticks(ax.get_xticklabels()) == [f"${tex_label(c)}$" for c in factors["J_loss"].col_labels]


@pytest.mark.parametrize("loss, letter", [("mse", r"\hat{y}"), ("ce", r"\hat{y}"), ("softmax-ce", "z")])
def test_loss_columns_name_the_loss_input(loss, letter):
    # SoftmaxCrossEntropy takes the logits z, MSE and CrossEntropy the prediction ŷ
    net = jn.build_network("3,2", "tanh", loss, seed=0)
    J = next(f for f in net.trace(np.ones(3), np.array([0.0, 1.0])).factors if f.name == "J_loss")
    cols = ticks(heatmap(J).axes[0].get_xticklabels())
    assert len(cols) == 2 and all(c.startswith(f"${letter}") and c.endswith(f"{{{j + 1}}}$") for j, c in enumerate(cols))


def test_factor_without_labels_and_bare_arrays_get_indices():
    A = np.arange(6.0).reshape(2, 3)
    for J in (A, Factor("J_θ(Dense 7)", Matrix(A))):  # no name parsing: no W^{(7)} made up from the name
        ax = heatmap(J).axes[0]
        assert ticks(ax.get_xticklabels()) == ["$1$", "$2$", "$3$"] and ticks(ax.get_yticklabels()) == ["$1$", "$2$"]


def test_ticks_are_thinned_at_a_regular_step_when_labels_do_not_fit():
    ax = heatmap(np.ones((3, 200)), name="A").axes[0]
    pos = ax.get_xticks()
    assert 2 < len(pos) < 200
    step = pos[1] - pos[0]
    assert step in (2, 5, 10, 20, 50) and np.all(np.diff(pos) == step)
    assert ticks(ax.get_xticklabels()) == [f"${int(p) + 1}$" for p in pos]  # 1-based indices
    assert len(ax.get_yticks()) == 3  # the rows fit


@pytest.mark.parametrize("case", ["kron", "wide", "square"])
def test_tick_labels_do_not_overlap(demo, case):
    matrix = {
        "kron": demo[3]["J_θ(Dense 1)"],
        "wide": np.arange(3 * 200.0).reshape(3, 200),
        "square": np.diag(np.arange(1.0, 61.0)),
    }[case]
    fig = heatmap(matrix)
    render(fig)
    for labels in (fig.axes[0].get_xticklabels(), fig.axes[0].get_yticklabels()):
        boxes = [t.get_window_extent() for t in labels if t.get_text()]
        assert len(boxes) >= 2
        for a, b in zip(boxes, boxes[1:]):
            assert not a.overlaps(b), (case, a, b)


# --- colours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "matrix, v",
    [([[0.5, -3.0, 1.0], [1.0, 2.0, 0.0]], 3.0), ([[1.0, 2.0, 4.0]], 4.0), ([[-1e-200, 0.0]], 1e-200), (np.zeros((2, 3)), 1.0)],
)
def test_colour_scale_is_centred_at_zero(matrix, v):
    fig = heatmap(np.array(matrix))
    assert fig.axes[0].images[0].get_clim() == (-v, v)
    assert fig.axes[1].get_ylim() == (-v, v)  # the colorbar
    render(fig)  # draws without a warning (warnings are errors)


def test_diagonal_jacobian_is_drawn_only_on_the_diagonal():
    d = np.array([0.5, -1.0, 2.0, 0.0, 1.5])  # a zero on the diagonal, as at a ReLU kink
    fig = heatmap(Factor("J_x(Tanh 1)", Diagonal(d)), values=False)
    ax = fig.axes[0]
    im = ax.images[0]
    data = np.asarray(im.get_array())
    assert np.array_equal(np.diag(data), d) and np.count_nonzero(data - np.diag(d)) == 0
    pixels = render(fig)
    white = np.array(im.cmap(im.norm(0.0))[:3])
    assert np.all(white > 0.9)  # the centre of the colormap is (near) white
    for i in range(5):
        for j in range(5):
            want = np.array(im.cmap(im.norm(d[i]))[:3]) if i == j else white
            assert np.allclose(cell_colour(pixels, ax, i, j), want, atol=2 / 255), (i, j)


def test_non_square_matrix_is_drawn_rows_down_columns_across():
    A = np.array([[1.0, -2.0, 3.0], [0.0, 4.0, -4.0]])
    fig = heatmap(A, values=False)
    ax, im = fig.axes[0], fig.axes[0].images[0]
    pixels = render(fig)
    for (i, j), v in np.ndenumerate(A):
        assert np.allclose(cell_colour(pixels, ax, i, j), im.cmap(im.norm(v))[:3], atol=2 / 255), (i, j)


# --- structure, sparsity, batches -----------------------------------------------------------


def rectangles(ax) -> list[tuple[float, float, float, float]]:
    return sorted((r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in ax.patches if isinstance(r, Rectangle))


def test_structure_outlines_the_kronecker_blocks(demo):
    ax = heatmap(demo[3]["J_θ(Dense 1)"], structure=True).axes[0]
    blocks = [(3.0 * i - 0.5, i - 0.5, 3, 1) for i in range(4)]  # row i: xᵀ in columns 3i … 3i+2
    assert rectangles(ax) == sorted(blocks + [(11.5, -0.5, 4, 4)])  # and the bias block I_4
    assert {t.get_text() for t in ax.texts} >= {r"$I_{4} \otimes x^T$", "$I_{4}$"}
    assert rectangles(heatmap(demo[3]["J_θ(Dense 1)"]).axes[0]) == []


def test_structure_outlines_the_diagonal():
    ax = heatmap(Factor("J_x(ReLU 1)", Diagonal(np.array([1.0, 0.0, 1.0]))), structure=True).axes[0]
    assert rectangles(ax) == [(i - 0.5, i - 0.5, 1, 1) for i in range(3)]


def test_spy_mode_shows_the_sparsity_pattern(demo):
    f = demo[3]["J_θ(Dense 1)"]
    fig = heatmap(f, spy=True)
    data = np.asarray(fig.axes[0].images[0].get_array())
    assert np.array_equal(data, f.dense() != 0)
    assert "nonzeros: 16 of 64 (25%)" in fig.axes[0].get_title()  # 4 rows × (3 x-entries + 1 bias)
    assert len(fig.axes) == 1  # no colorbar


def test_batch_sample_and_block_diagonal(demo):
    net = demo[0]
    X = np.random.default_rng(3).normal(size=(3, 3))
    Y = np.eye(2)[[0, 1, 1]]
    f = next(f for f in net.trace(X, Y).factors if f.name == "J_x(Tanh 1)")
    stack = f.dense()
    assert np.array_equal(heatmap(f, sample=1).axes[0].images[0].get_array(), stack[1])
    fig = heatmap(f, sample="block", structure=True)
    block = np.asarray(fig.axes[0].images[0].get_array())
    assert block.shape == (12, 12) and "12×12" in fig.get_label()
    for b in range(3):
        assert np.array_equal(block[4 * b : 4 * b + 4, 4 * b : 4 * b + 4], stack[b])
        block[4 * b : 4 * b + 4, 4 * b : 4 * b + 4] = 0
    assert not block.any()
    assert rectangles(fig.axes[0]) == [(4.0 * b - 0.5, 4.0 * b - 0.5, 4, 4) for b in range(3)]
    for bad in (3, -4, True, "all"):
        with pytest.raises(ValueError, match="batch of 3"):
            heatmap(f, sample=bad)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.array([[1.0, np.nan]]), ValueError, "NaN"),
        (np.ones(3), ValueError, r"shape \(3,\)"),
        (np.zeros((3, 0)), ValueError, r"no entries \(shape \(3, 0\)\)"),
        (np.ones((2, 2, 2, 2)), ValueError, r"shape \(2, 2, 2, 2\)"),
        (np.ones((2, 2), dtype=complex), TypeError, "complex"),
        (np.array([["a", "b"]]), TypeError, "dtype"),
    ],
)
def test_bad_input_is_refused_clearly(bad, error, message):
    with pytest.raises(error, match=message):
        heatmap(bad)


def test_figure_shows_itself_as_png_in_jupyter():
    png = heatmap(np.eye(2, 3))._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# --- the product as a picture -------------------------------------------------------------


def inches(ax) -> tuple[float, float]:
    w, h = ax.figure.get_size_inches()
    box = ax.get_position()
    return box.width * w, box.height * h


def panels(fig) -> list:
    """The matrices of a product figure (the colour bars hold no image)."""
    return [ax for ax in fig.axes if ax.images]


def colorbars(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_chain_figure_draws_the_product_with_matching_shapes(demo):
    net, x, y, _ = demo
    chain = net.chain(x, y)
    fig = chain_figure(chain)
    axes = panels(fig)
    names = ["J_loss", "J_x(Dense 2)", "J_x(Tanh 1)", "J_θ(Dense 1)", "∂L/∂θ(Dense 1)"]
    assert [ax.get_title() for ax in axes] == [f"${tex_name(n)}$" for n in names]
    assert [ax.get_xlabel() for ax in axes] == [r"$1\times 2$", r"$2\times 4$", r"$4\times 4$", r"$4\times 16$", r"$1\times 16$"]
    for left, right in zip(axes[:3], axes[1:4]):  # columns of each factor = rows of the next, drawn
        assert inches(left)[0] == pytest.approx(inches(right)[1], rel=1e-12)
    assert inches(axes[4])[0] == pytest.approx(inches(axes[3])[0], rel=1e-12)
    assert inches(axes[4])[1] == pytest.approx(inches(axes[0])[1], rel=1e-12)
    assert len({round(ax.get_position().y0 + ax.get_position().height / 2, 9) for ax in axes}) == 1  # one row
    result = np.asarray(axes[4].images[0].get_array())
    np.testing.assert_allclose(result[0], net.gradient(x, y)[:16], rtol=1e-12, atol=1e-15)
    signs = [t.get_text() for t in fig.texts]
    assert signs.count(r"$\times$") == 3 and signs.count("$=$") == 1
    assert fig.get_label() == "∂L/∂θ(Dense 1) = J_loss · J_x(Dense 2) · J_x(Tanh 1) · J_θ(Dense 1)"
    # (1×2)(2×4): 8, (1×4)(4×4): 16, (1×4)(4×16): 64 multiply-adds
    assert any("88 multiply-adds dense" in t for t in signs)
    assert any("416 multiply-adds dense" in t.get_text() for t in chain_figure(chain, "forward").texts)
    render(fig)


def test_each_panel_has_its_own_colour_bar_or_all_share_one(demo):
    net, x, y, _ = demo
    chain = net.chain(x, y)
    fig = chain_figure(chain)
    axes, bars = panels(fig), colorbars(fig)
    assert len(bars) == len(axes) == 5
    for ax, bar in zip(axes, bars):
        v = float(np.max(np.abs(ax.images[0].get_array())))
        assert ax.images[0].get_clim() == (-v, v) and bar.get_xlim() == (-v, v)
        assert bar.get_position().y1 < ax.get_position().y0  # below its matrix
    clims = {ax.images[0].get_clim() for ax in axes}
    assert len(clims) > 1  # J_θ holds x (up to 2), J_loss ŷ − y (below 1): different scales
    shared = chain_figure(chain, scale="shared")
    v = max(float(np.max(np.abs(ax.images[0].get_array()))) for ax in panels(shared))
    assert {ax.images[0].get_clim() for ax in panels(shared)} == {(-v, v)}
    assert [b.get_xlim() for b in colorbars(shared)] == [(-v, v)]
    render(shared)
    with pytest.raises(ValueError, match="unknown scale 'log'; choose one of panel, shared"):
        chain_figure(chain, scale="log")


def test_a_long_chain_wraps_instead_of_shrinking_its_cells():
    # 8 → 16 → 16 → 4: J_θ(Dense 1) is 16 × 144; on one 15-inch row every cell would be 0.03 in
    net = jn.build_network("8,16,16,4", "tanh", "softmax-ce", seed=0)
    chain = net.chain(np.linspace(-1.0, 1.0, 8), np.eye(4)[1])
    fig = chain_figure(chain)
    axes = panels(fig)
    assert len(axes) == 7
    cells = [inches(ax)[0] / ax.images[0].get_array().shape[1] for ax in axes]
    cells += [inches(ax)[1] / ax.images[0].get_array().shape[0] for ax in axes]
    assert min(cells) == pytest.approx(max(cells), rel=1e-9) and min(cells) >= 0.1 - 1e-12  # equal, readable cells
    assert inches(axes[0])[0] >= 0.4  # J_loss (1 × 4) is no sliver
    for ax in axes:
        x0, y0, x1, y1 = ax.get_position().extents
        assert 0 <= x0 and x1 <= 1 and 0 <= y0 and y1 <= 1, ax.get_title()  # nothing drawn off the page
    assert fig.get_size_inches()[0] <= 16.5
    rows = {round(ax.get_position().y0 + ax.get_position().height / 2, 6) for ax in axes}
    assert len(rows) >= 2
    signs = [t.get_text() for t in fig.texts]
    assert signs.count(r"$\times$") == 5 and signs.count("$=$") == 1
    np.testing.assert_allclose(axes[-1].images[0].get_array()[0], net.gradient(np.linspace(-1.0, 1.0, 8), np.eye(4)[1])[:144], rtol=1e-12)
    render(fig)


def test_chain_step_figures_multiply_one_pair_at_a_time(demo):
    net, x, y, _ = demo
    figs = chain_step_figures(net.chain(x, y), "reverse")
    assert [f.get_label() for f in figs] == [
        "∂L/∂a2 = J_loss · J_x(Dense 2)",
        "∂L/∂a1 = ∂L/∂a2 · J_x(Tanh 1)",
        "∂L/∂θ(Dense 1) = ∂L/∂a1 · J_θ(Dense 1)",
    ]
    for fig, flops in zip(figs, (8, 16, 64)):
        left, right, out = (np.asarray(ax.images[0].get_array()) for ax in panels(fig))
        np.testing.assert_allclose(out, left @ right, rtol=1e-13, atol=1e-15)
        assert any("step" in t.get_text() and f" {flops} multiply-adds" in t.get_text() for t in fig.texts)
    np.testing.assert_allclose(panels(figs[-1])[2].images[0].get_array()[0], net.gradient(x, y)[:16], rtol=1e-12)
    forward = chain_step_figures(net.chain(x, y), "forward")
    assert [ax.get_xlabel() for ax in panels(forward[0])] == [r"$4\times 4$", r"$4\times 16$", r"$4\times 16$"]


def test_chain_figure_of_a_batch_draws_one_sample(demo):
    net = demo[0]
    X = np.random.default_rng(5).normal(size=(2, 3))
    chain = net.chain(X, np.eye(2)[[1, 0]])
    fig = chain_figure(chain, sample=1)
    np.testing.assert_allclose(panels(fig)[-1].images[0].get_array(), chain.evaluate()[1], rtol=1e-13)
    np.testing.assert_array_equal(panels(fig)[-2].images[0].get_array(), chain.factors[-1].dense()[1])
    assert np.array_equal(panels(chain_figure(chain, sample=-1))[-1].images[0].get_array(), panels(fig)[-1].images[0].get_array())
    with pytest.raises(ValueError, match="batch of 2"):
        chain_figure(chain, sample=2)


def test_one_sample_of_a_big_batch_is_drawn_within_a_small_memory_budget():
    # 100 → 32 → 10, B = 32: one sample's J_θ(Dense 1) is 32 × 3232 (0.8 MiB), the batch's 25 MiB
    net = jn.build_network("100,32,10", "tanh", "softmax-ce", seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 100)), np.eye(10)[rng.integers(0, 10, size=32)]
    chain = net.chain(X, Y)
    theta = chain.factors[-1]
    expected = theta.op.batch_slice(5, 6).dense()[0]
    grad = chain.evaluate(mode="structured")[5]
    with memory_budget(4 * 2**20):
        with pytest.raises(JacobianMemoryError):
            theta.dense()  # the budget is real: the whole batch does not fit
        np.testing.assert_array_equal(heatmap(theta, sample=5).axes[0].images[0].get_array(), expected)
        fig = chain_figure(chain, sample=5)
        np.testing.assert_allclose(panels(fig)[-1].images[0].get_array(), grad, rtol=1e-12)
        assert len(chain_step_figures(chain, sample=5)) == 3
        with pytest.raises(JacobianMemoryError, match="the stacked batch Jacobian of J_θ"):
            heatmap(theta, sample="block")  # nor does the batch J_θ, stacked (25 MiB)


# --- plots ---------------------------------------------------------------------------------


def test_order_cost_ratio_labels_cover_no_line():
    from jacobnet.net.sweeps import order_cost_sweep
    from jacobnet.viz import order_cost_figure

    fig = order_cost_figure(order_cost_sweep(widths=(8, 16, 32, 64, 128, 256), depths=(1, 2, 3, 4, 5, 6)))
    render(fig)
    labels = 0
    for ax in fig.axes:
        for text in (t for t in ax.texts if "reverse" in t.get_text()):
            labels += 1
            box = text.get_window_extent().padded(2)
            for line in ax.get_lines():
                xy = ax.transData.transform(line.get_xydata())
                for (x0, y0), (x1, y1) in zip(xy, xy[1:]):  # points along every segment, in pixels
                    t = np.linspace(0, 1, 200)[:, None]
                    pts = (1 - t) * np.array([x0, y0]) + t * np.array([x1, y1])
                    inside = (box.x0 <= pts[:, 0]) & (pts[:, 0] <= box.x1) & (box.y0 <= pts[:, 1]) & (pts[:, 1] <= box.y1)
                    assert not inside.any(), (ax.get_title(), text.get_text(), line.get_label())
                marks = ax.transData.transform(line.get_xydata())
                assert not any(box.contains(x, y) for x, y in marks), (text.get_text(), line.get_label())
            assert box.x1 <= ax.get_window_extent().x1  # and stays inside its axes
    assert labels == 4


def test_a_batch_jacobian_by_the_parameters_is_stacked_not_block_diagonal():
    """θ is shared by every sample, so the batch J_θ is [J_θ,1; …; J_θ,B], (B·m, n_params)."""
    net = jn.build_network("3,2", "tanh", "mse", seed=0)
    X, Y = np.arange(12.0).reshape(4, 3) / 10, np.zeros((4, 2))
    f = net.trace(X, Y).factor("J_θ(Dense 1)")
    fig = heatmap(f, sample="block", structure=True)
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (8, 8) and "stacked over a batch of 4" in fig.get_label() + ax.get_title()
    assert rectangles(ax) == [(-0.5, 2.0 * b - 0.5, 8, 2) for b in range(4)]
    np.testing.assert_array_equal(ax.images[0].get_array()[2:4], f.dense()[1])


def test_batch_jacobians_outline_their_samples_blocks():
    from jacobnet.chain.batch import BlockDiagonal, StackedRows

    op = Diagonal(np.arange(6.0).reshape(2, 3))  # two samples' diag, (3, 3) each
    assert [(b.row, b.col, b.rows, b.cols) for b in BlockDiagonal(op, 2).outline()] == [(0, 0, 3, 3), (3, 3, 3, 3)]
    assert [(b.row, b.col, b.rows, b.cols) for b in StackedRows(op, 2).outline()] == [(0, 0, 3, 3), (3, 0, 3, 3)]
