"""Issue 15, the figures: heatmaps of huge matrices, hostile names, wrong arguments, files that a stop cannot half-write.

2. a matrix with more entries than pixels is drawn block-averaged (or as a block spy plot), said so in the
   title, and drawing it costs memory bounded by the figure, not by the matrix;
4. ``write_png`` under SIGTERM in a library user's process: the whole file or none, never a ``.tmp``;
6. a backslash or ``$`` in a name never crashes mathtext; ``chain_figure("x")`` is a ``TypeError``;
   ``jn.viz`` shows functions, not layout constants; a spec's file prefix is bounded where it is made.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import jacobnet as jn
from jacobnet.viz.figstyle import DPI, png_bytes, tex_name
from jacobnet.viz.gallery import MAX_PREFIX, spec_prefix, write_png
from jacobnet.viz.heatmaps import block_reduce, image_size, pixel_blocks

MiB = 2**20


# --- 2. huge matrices ---------------------------------------------------------------------------
def naive_blocks(A: np.ndarray, k: tuple[int, int], how) -> np.ndarray:
    rows, cols = range(0, A.shape[0], k[0]), range(0, A.shape[1], k[1])
    return np.array([[how(A[i:i + k[0], j:j + k[1]]) for j in cols] for i in rows], dtype=np.float64)


@pytest.mark.parametrize("shape, k", [((7, 10), (3, 4)), ((5, 9), (1, 2)), ((12, 3), (5, 1)), ((4, 4), (4, 4))])
def test_block_reduce_is_the_mean_of_each_block_and_spy_any_nonzero(shape, k) -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=shape) * (rng.random(shape) < 0.3)
    np.testing.assert_allclose(block_reduce(A, k), naive_blocks(A, k, np.mean), rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(block_reduce(A, k, spy=True), naive_blocks(A, k, lambda b: float(np.any(b != 0))))


def test_a_matrix_with_more_entries_than_pixels_is_drawn_block_averaged_and_says_so() -> None:
    m, n = 300, 5001  # (non-square, and neither axis a multiple of its block)
    A = np.random.default_rng(1).normal(size=(m, n))
    fig = jn.viz.heatmap(A, name="J_θ(Dense 1)")
    ax = fig.axes[0]
    k = pixel_blocks((m, n), image_size((m, n)))
    assert k[1] > 1 and m * n > np.prod([int(v * DPI) for v in image_size((m, n))])
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown, block_reduce(A, k), rtol=1e-14)  # the block means, not every k-th column
    assert shown.shape == (-(-m // k[0]), -(-n // k[1]))
    assert ax.get_xlim() == (-0.5, n - 0.5) and ax.get_ylim() == (m - 0.5, -0.5)  # the matrix's own coordinates: labels fit
    assert f"each cell is a block of {k[0]} × {k[1]} entries, the mean of its entries" in ax.get_title()
    assert fig.get_label() == "J_θ(Dense 1) ∈ ℝ^{300×5001}" and not ax.texts  # no value written into 1.5 M entries
    spy = jn.viz.heatmap(np.eye(3000), spy=True)
    assert "dark where any entry is nonzero" in spy.axes[0].get_title() and "nonzeros: 3000 of 9000000" in spy.axes[0].get_title()
    np.testing.assert_array_equal(np.diag(spy.axes[0].images[0].get_array()), 1)


def test_a_small_matrix_is_still_drawn_cell_by_cell() -> None:
    A = np.arange(12.0).reshape(3, 4) - 5
    fig = jn.viz.heatmap(A, name="A")
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), A)
    assert "block" not in fig.axes[0].get_title() and len(fig.axes[0].texts) == 11  # (values in the cells, zero left blank)


def drawing_peak(make) -> int:
    """Peak memory (tracemalloc) of building and saving a figure, beyond what ``make`` had when it started."""
    tracemalloc.start()
    try:
        png_bytes(make())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_drawing_a_huge_matrix_costs_the_figure_not_the_matrix() -> None:
    """Before: viz.heatmap of an 808 MB factor peaked at 5.8 GiB (matplotlib's copies of every entry). Now the copies are the pixels'."""
    for shape in [(2000, 6000), (128, 100480)]:  # 92 and 98 MiB: before, a 6000 × 6000 one peaked at 2.8 GiB
        A = np.random.default_rng(2).normal(size=shape)
        peak = drawing_peak(lambda A=A: jn.viz.heatmap(A, name="A"))  # (its blocks' sums, then matplotlib's ~1 M drawn cells)
        assert peak < 80 * MiB, f"{peak / MiB:.0f} MiB to draw a {A.nbytes / MiB:.0f} MiB matrix"


def test_the_batch_jacobian_of_a_big_batch_is_drawn_block_averaged() -> None:
    """Before: sample="block" on 968 MB died with a raw ``MemoryError: Unable to allocate 3.61 GiB``."""
    net = jn.build_network("120,120,2", seed=0)
    X, Y = np.random.default_rng(3).normal(size=(20, 120)), np.eye(2)[np.arange(20) % 2]
    factor = net.trace(X, Y, mode="structured").factor("J_x(Tanh 1)")
    tracemalloc.start()
    try:
        fig = jn.viz.heatmap(factor, sample="block", structure=True)
        png_bytes(fig)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    title = fig.axes[0].get_title()
    assert "block-diagonal over a batch of 20" in title and "each cell is a block of" in title
    assert peak < 1.6 * 8 * 2400**2  # the (2400, 2400) batch Jacobian once, and its blocks: not matplotlib's copies of it


# --- 6. names, arguments, the public namespace -------------------------------------------------------
HOSTILE_NAMES = ["\\", "$", "a$b", "J_x(a\\b)", "J_x($1)", "∂L/∂θ(x$)", "my #1", "x^2", "{", "}", "%", "&", "~", "^", "_",
                 "\\alpha", "J_x(\\)", "J_$(a)", "\\$", "$$", "\\mathrm{x}", "}{", "J_x(})", "∂L/∂θ(\\)", "A · B$", "a\\\\b"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_backslash_or_dollar_in_a_name_never_crashes_mathtext(name: str) -> None:
    fig = jn.viz.heatmap(np.eye(2), name=name)
    assert png_bytes(fig).startswith(b"\x89PNG")  # (mathtext parses at save time: this is where it crashed)
    assert fig.get_label().startswith(name)


def test_every_mix_of_mathtext_markup_in_a_name_draws() -> None:
    rng = np.random.default_rng(0)
    chars = list("\\$#^%_{}~& aJ1(·)∂θ/")
    for _ in range(60):
        name = "".join(rng.choice(chars, size=rng.integers(1, 9)))
        png_bytes(jn.viz.heatmap(np.eye(2), name=name))


def test_an_escaped_name_reads_as_itself() -> None:
    assert tex_name("J_x(a\\b)") == r"J_{x}(\mathrm{a\backslash{}b})"
    assert tex_name("my $1") == r"\mathrm{my\ \$1}"


@pytest.mark.parametrize("draw", ["chain_figure", "path_figures", "chain_step_figures"])
@pytest.mark.parametrize("bad", ["x", 3, None, np.eye(2)])
def test_a_figure_of_a_chain_refuses_what_is_not_one(draw: str, bad: object) -> None:
    with pytest.raises(TypeError, match=rf"{draw} expects a chain, net.chain\(x, y\)"):
        getattr(jn.viz, draw)(bad)


def test_chain_step_figures_of_a_path_sum_say_to_take_its_paths() -> None:
    net = jn.Network([jn.Dense(2, 3, seed=0), jn.Residual([jn.Dense(3, 3, seed=1), jn.Tanh()]), jn.Dense(3, 1, seed=2)], jn.MSE())
    paths = net.chain(np.ones(2), np.zeros(1))
    with pytest.raises(TypeError, match=re.escape("a Chain; a PathSum's paths are chain.paths()")):
        jn.viz.chain_step_figures(paths)
    assert len(jn.viz.chain_step_figures(paths.paths()[0])) == len(paths.paths()[0].factors) - 1


def test_jn_viz_shows_functions_not_layout_constants() -> None:
    public = [n for n in dir(jn.viz) if not n.startswith("_")]
    constants = [n for n in public if n.isupper() or re.fullmatch(r"[A-Z0-9_]+", n)]
    assert constants == [] and not any(n.isupper() for n in jn.viz.__all__)
    assert {"heatmap", "chain_figure", "Panel"} <= set(jn.viz.__all__)


def test_a_spec_prefix_is_bounded_where_it_is_made() -> None:
    long = spec_prefix(",".join(["20"] * 300), "tanh", "mse", 0)
    other = spec_prefix(",".join(["20"] * 299 + ["21"]), "tanh", "mse", 0)
    assert len(long) == len(other) == MAX_PREFIX and long != other and long.startswith("heatmap_20-20-")
    assert spec_prefix("3,4,2", "tanh", "softmax-ce", 0) == "heatmap_3-4-2_tanh_softmax-ce_"


# --- 4. a stop while a file is written -------------------------------------------------------------
WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import numpy as np
    import jacobnet as jn
    import jacobnet.viz.gallery as gallery
    from jacobnet.viz import figstyle

    real = figstyle.save_png
    def slow_save(fig, fh):  # half the file, then the stop arrives, then the rest
        data = figstyle.png_bytes(fig)
        fh.write(data[: len(data) // 2]); fh.flush()
        os.kill(os.getpid(), signal.SIGTERM)
        fh.write(data[len(data) // 2:])
    gallery.save_png = slow_save
    gallery.write_png(jn.viz.heatmap(np.eye(3), name="I"), Path(sys.argv[1]) / "eye.png")
    print("after the write")  # never reached: the held SIGTERM ends the process once the file is whole
""")


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_sigterm_in_a_library_users_process_leaves_the_whole_file_and_no_tmp(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGTERM and "after the write" not in proc.stdout, proc.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eye.png"]  # no .eye.png.<pid>.tmp
    data = (tmp_path / "eye.png").read_bytes()
    assert data.startswith(b"\x89PNG") and data.endswith(b"IEND\xaeB`\x82")  # whole


def test_the_signal_mask_is_restored_after_a_write(tmp_path: Path) -> None:
    if not hasattr(signal, "pthread_sigmask"):
        pytest.skip("POSIX signal masks")
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    write_png(jn.viz.heatmap(np.eye(2)), tmp_path / "a.png")
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"] and os.path.getsize(tmp_path / "a.png") > 0


def test_a_title_of_words_and_numbers_keeps_its_spaces():
    """``8 read as 1``: mathtext ignores spaces in math, so each space beside a word is written as one."""
    from jacobnet.viz.figstyle import tex_name

    assert tex_name("8 read as 1") == r"8\ \mathrm{read}\ \mathrm{as\ 1}"
    assert tex_name("x and y") == r"x\ \mathrm{and}\ y"
    assert tex_name("I ⊗ xᵀ") == r"I \otimes  x^{T}"  # (a formula's spaces are not words' spaces)
