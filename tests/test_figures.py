"""The gallery and the figure commands: every file written, the same bytes twice, the committed PNGs current.

Byte identity is the contract on one machine (no timestamp or version stamp in
the PNGs). Across machines it holds for the same matplotlib (the Agg renderer
and the FreeType it ships are deterministic), so the committed-figure check
compares bytes when the committed PNG records the running renderer
(``figstyle.RENDERER`` in its ``Source`` chunk) and skips, saying why, when it
does not. A figure that draws round-off (``exact=False``) can differ in its last
bits between CPUs: for it the check is the same size and ≥ 99 % identical pixels.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jacobnet.cli import main
from jacobnet.viz.figstyle import RENDERER
from jacobnet.viz.gallery import FIGURES, render

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "figures"
DEMO_FILES = [  # the factors of 3 → 4 → 2 with tanh and softmax-cross-entropy, as the trace lists them
    f"heatmap_3-4-2_tanh_softmax-ce_{name}.png"
    for name in ("J_loss", "J_theta_Dense_2", "J_x_Dense_2", "J_x_Tanh_1", "J_theta_Dense_1", "J_x_Dense_1")
]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse usage errors
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    """``jacobnet figures --out DIR``, run once for the module."""
    out = tmp_path_factory.mktemp("gallery")
    code, stdout, stderr = run(["figures", "--out", str(out)])
    assert code == 0, stderr
    printed = [Path(line.strip()) for line in stdout.splitlines()[1:]]
    assert sorted(p.name for p in printed) == sorted(g.filename for g in FIGURES.values())
    assert all(p.is_file() for p in printed)
    return out


def test_registry_is_well_formed():
    assert len(FIGURES) >= 10
    for name, fig in FIGURES.items():
        assert fig.name == name and re.fullmatch(r"[A-Za-z0-9_-]+", name) and fig.caption
    assert set(DEMO_FILES) <= {g.filename for g in FIGURES.values()}


def test_figures_command_writes_every_gallery_file(gallery):
    assert sorted(p.name for p in gallery.iterdir()) == sorted(g.filename for g in FIGURES.values())
    for path in gallery.iterdir():
        image = Image.open(path)
        assert image.format == "PNG" and image.width > 200 and image.height > 100
        assert image.text.get("Source") == RENDERER and "Software" not in image.text


def test_second_run_gives_identical_bytes(gallery, tmp_path):
    paths = render(out=tmp_path)
    different = [p.name for p in paths if p.read_bytes() != (gallery / p.name).read_bytes()]
    assert different == []


ROUND_OFF_PIXELS = 0.05
"""The share of pixels a figure that draws round-off may change between CPUs: its
dots of 1e-17 move and appear or vanish with the BLAS kernel (1.8 % of
``gradient_comparison`` between two machines here); a stale figure changes more."""


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGBA"))


def test_committed_figures_are_what_the_command_makes_now(gallery):
    missing = [g.filename for g in FIGURES.values() if not (COMMITTED / g.filename).is_file()]
    assert missing == [], "run `jacobnet figures` and commit figures/"
    renderer = {Image.open(COMMITTED / g.filename).text.get("Source") for g in FIGURES.values()}
    if renderer != {RENDERER}:
        pytest.skip(f"figures/ was rendered by {sorted(map(str, renderer))}, this is {RENDERER}: bytes cannot match")
    stale = []
    for g in FIGURES.values():
        new, old = gallery / g.filename, COMMITTED / g.filename
        if g.exact:
            if new.read_bytes() != old.read_bytes():
                stale.append(g.filename)
        else:
            a, b = pixels(new), pixels(old)
            if a.shape != b.shape or np.mean(np.any(a != b, axis=-1)) > ROUND_OFF_PIXELS:
                stale.append(g.filename)
    assert stale == [], "figures/ is stale: run `jacobnet figures` and commit figures/"


def test_readme_shows_gallery_figures():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"\(figures/([^)\s]+\.png)\)", readme)
    assert len(shown) >= 3
    assert set(shown) <= {g.filename for g in FIGURES.values()}


def test_demo_writes_its_heatmaps_and_they_are_the_gallery_files(gallery, tmp_path):
    code, stdout, _ = run(["demo", "--out", str(tmp_path)])
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DEMO_FILES)
    for name in DEMO_FILES:
        assert str(tmp_path / name) in stdout
        assert (tmp_path / name).read_bytes() == (gallery / name).read_bytes()


def test_heatmap_command_draws_every_factor_of_the_spec(tmp_path):
    code, stdout, stderr = run(["heatmap", "--layers", "3,5,2", "--activation", "relu", "--loss", "ce", "--out", str(tmp_path)])
    assert code == 0, stderr
    expected = ["J_loss", "J_x_Softmax_1", "J_theta_Dense_2", "J_x_Dense_2", "J_x_ReLU_1", "J_theta_Dense_1", "J_x_Dense_1"]
    files = [f"heatmap_3-5-2_relu_ce_{e}.png" for e in expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    assert [Path(line.strip()).name for line in stdout.splitlines()[1:]] == files
    code, stdout, _ = run(["heatmap", "--layers", "2,3", "--spy", "--seed", "3", "--out", str(tmp_path / "spy")])
    assert code == 0 and [Path(line.strip()).name for line in stdout.splitlines()[1:]] == [
        "heatmap_2-3_tanh_softmax-ce_seed3_spy_J_loss.png",
        "heatmap_2-3_tanh_softmax-ce_seed3_spy_J_theta_Dense_1.png",
        "heatmap_2-3_tanh_softmax-ce_seed3_spy_J_x_Dense_1.png",
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["heatmap", "--layers", "3,x"], "--layers expects comma-separated positive integers"),
        (["heatmap", "--layers", "3"], "--layers expects"),
        (["heatmap", "--activation", "sin"], "unknown activation 'sin'"),
        (["heatmap", "--loss", "hinge"], "unknown loss 'hinge'"),
        (["figures", "--colour", "red"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path):
    code, stdout, stderr = run([*argv, "--out", str(tmp_path)] if argv[0] == "heatmap" else argv)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and message in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_file_is_one_line_and_exit_2(tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    code, _, stderr = run(["heatmap", "--out", str(target)])
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "taken" in stderr


def test_figures_render_headless_without_pyplot(tmp_path):
    script = (
        "import sys, numpy as np\n"
        "from jacobnet.viz import heatmap\n"
        "from jacobnet.viz.figstyle import save_png\n"
        f"save_png(heatmap(np.eye(2, 3)), {str(tmp_path / 'a.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
