"""The figure gallery: figures as files — fixed names, fixed bytes — above all the README's and the course's.

:data:`FIGURES` is the one list of them (file stem → how to build it and
what it shows); ``jacobnet figures`` writes them all into ``figures/``, the
tests check that the committed PNGs are exactly what it writes now, and the
README embeds them by name.

The files of ``jacobnet heatmap`` and ``jacobnet demo`` (:func:`write_trace_heatmaps`:
every factor of a spec's trace, named by :func:`spec_prefix` and :func:`slug`) live
here too, because for the demo's spec they *are* gallery files, byte for byte: one
naming rule and one writer (:func:`write_png`) serve both.

Same code, same bytes: fixed networks, seeds and samples; a fixed size and
dpi (:func:`jacobnet.viz.figstyle.save_png`); matplotlib's default style plus
jacobnet's (:data:`jacobnet.viz.figstyle.STYLE`), whatever the user's
``matplotlibrc`` says; no timestamp or version stamp in the files.

>>> FIGURES["chain_product"].filename
'chain_product.png'

"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from jacobnet.chain.factor import Factor
from jacobnet.net.network import Network
from jacobnet.net.spec import build_network, demo_sample
from jacobnet.viz.chains import chain_figure, chain_step_figures
from jacobnet.viz.figstyle import save_png
from jacobnet.viz.heatmaps import heatmap
from jacobnet.viz.plots import comparison_figure, order_cost_figure

DEFAULT_SPEC = ("3,4,2", "tanh", "softmax-ce", 0)  # the demo's network: layers, activation, loss, seed
MAX_PREFIX = 100
"""A spec's file prefix longer than this (a spec of many sizes) is cut and ends with a hash of the whole (:func:`spec_prefix`)."""
ORDER_WIDTHS, ORDER_DEPTHS = (8, 16, 32, 64, 128, 256), (1, 2, 3, 4, 5, 6)


@dataclass(frozen=True)
class GalleryFigure:
    """One gallery figure: its file stem, a one-line caption, and the function that draws it.

    ``exact``: the same bytes on every machine with the same matplotlib. A figure
    that draws round-off (errors of 1e-17) is only exact on one machine: the last
    bits of ``tanh`` or a matmul may differ between CPUs and NumPy builds.
    """

    name: str
    caption: str
    build: Callable[[], Figure]
    exact: bool = True

    @property
    def filename(self) -> str:
        """``name.png``."""
        return f"{self.name}.png"


def slug(text: str) -> str:
    """A file-name-safe form of a factor name.

    >>> slug("J_θ(Dense 1)"), slug("∂L/∂a2")
    ('J_theta_Dense_1', 'dL_da2')
    """
    return re.sub(r"[^A-Za-z0-9-]+", "_", text.replace("θ", "theta").replace("∂", "d")).strip("_")


def spec_prefix(layers: str, activation: str, loss: str, seed: int) -> str:
    """The file prefix of a spec's heatmaps (seed 0 is left out), at most :data:`MAX_PREFIX` characters.

    A longer one (a spec of hundreds of sizes) is cut, and ends with a hash of the whole,
    so that two specs never share a prefix and every file name fits the file system.

    >>> spec_prefix("3, 4,2", "Tanh", "softmax-ce", 0), spec_prefix("3,2", "relu", "mse", 7)
    ('heatmap_3-4-2_tanh_softmax-ce_', 'heatmap_3-2_relu_mse_seed7_')
    >>> p = spec_prefix(",".join(["20"] * 300), "tanh", "mse", 0)
    >>> len(p), p[-13:]
    (100, '-0fc0605904d_')
    """
    sizes = re.sub(r"\s+", "", layers).replace(",", "-")
    prefix = f"heatmap_{sizes}_{slug(activation.lower())}_{slug(loss.lower())}_" + (f"seed{seed}_" if seed else "")
    if len(prefix) <= MAX_PREFIX:
        return prefix
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:11]
    return f"{prefix[: MAX_PREFIX - 13]}-{digest}_"


def spec_case(layers: str, activation: str, loss: str, seed: int) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network of a spec and the sample the commands feed it (:func:`jacobnet.net.spec.demo_sample`)."""
    net = build_network(layers, activation, loss, seed=seed)
    x, y = demo_sample(net.input_size, net.sizes[-1], seed)
    return net, x, y


def trace_heatmaps(net: Network, x: np.ndarray, y: np.ndarray, *, spy: bool = False) -> dict[str, Figure]:
    """A heatmap of every factor of ``net.trace(x, y)``, by the factor's slug, structure outlined."""
    return {slug(f.name): heatmap(f, structure=True, spy=spy) for f in net.trace(x, y).factors}


def write_png(fig: Figure, path: Path) -> Path:
    """Save ``fig`` to ``path`` atomically (a reader never sees half a file); return the path.

    The PNG is written to a temporary file beside ``path`` and renamed onto it. Ctrl-C
    (an exception) removes the temporary file; SIGTERM and SIGHUP, which end a process that
    does not handle them at once, are held back while the file is written and renamed
    (:func:`signals_held`), then acted on: a library user's process that is told to stop
    leaves either the whole new file or the old one, and never a ``.tmp``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with signals_held():
        try:
            with open(tmp, "wb") as fh:
                save_png(fig, fh)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals :func:`write_png` holds back while a file is written (those whose default ends the process at once)."""


@contextmanager
def signals_held() -> Iterator[None]:
    """Within: :data:`HELD_SIGNALS` are caught and remembered, then, on leaving, handled as they would have been.

    A signal mask would not do: NumPy's BLAS threads would take the signal and end the process.
    Instead each signal gets a handler that notes it; on leaving, the previous handlers come back
    and every noted signal is raised again (the default ends the process, now that the file is
    whole; the ``jacobnet`` command's handler stops the run). A signal that is ignored stays
    ignored; outside the main thread (where Python cannot set handlers) nothing changes.

    >>> with signals_held():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for s in HELD_SIGNALS:
        if signal.getsignal(s) not in (signal.SIG_IGN, None):  # (None: a handler not set from Python, left alone)
            previous[s] = signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(caught):
            signal.raise_signal(s)


def write_trace_heatmaps(net: Network, x: np.ndarray, y: np.ndarray, out: str | os.PathLike, prefix: str, *, spy: bool = False) -> list[Path]:
    """Render the heatmap of every factor of ``net.trace(x, y)`` into ``out/<prefix><factor>.png``.

    With the demo's spec and :func:`spec_prefix`, these are the gallery's files, byte for byte.
    """
    prefix += "spy_" if spy else ""
    with mpl.rc_context():
        mpl.rcdefaults()
        figs = trace_heatmaps(net, x, y, spy=spy)
        return [write_png(fig, Path(out) / f"{prefix}{name}.png") for name, fig in figs.items()]


# --- the gallery ------------------------------------------------------------------------


def _demo_case() -> tuple[Network, np.ndarray, np.ndarray]:
    return spec_case(*DEFAULT_SPEC)


def _factor(name: str, layers: str = DEFAULT_SPEC[0], activation: str = DEFAULT_SPEC[1], loss: str = DEFAULT_SPEC[2]) -> Factor:
    """The factor ``name`` of the trace of a spec (default the demo's) on its demo sample."""
    net, x, y = spec_case(layers, activation, loss, 0)
    return net.trace(x, y).factor(name)


def _spy() -> Figure:
    return heatmap(_factor("J_θ(Dense 1)", "6,8,3", "relu", "softmax-ce"), spy=True, structure=True)


def _batch_block() -> Figure:
    net = build_network(*DEFAULT_SPEC[:3], seed=DEFAULT_SPEC[3])
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(3, 3)), np.eye(2)[[0, 1, 1]]
    return heatmap(net.trace(X, Y).factor("J_x(Tanh 1)"), sample="block", structure=True)


def _chain() -> Figure:
    net, x, y = _demo_case()
    return chain_figure(net.chain(x, y), order="reverse")


def _steps() -> list[GalleryFigure]:
    net, x, y = _demo_case()
    n = len(net.chain(x, y).factors) - 1
    return [
        GalleryFigure(f"chain_step_{k + 1}", f"step {k + 1} of {n} of the reverse order", lambda k=k: _step(k))
        for k in range(n)
    ]


def _step(k: int) -> Figure:
    net, x, y = _demo_case()
    return chain_step_figures(net.chain(x, y), "reverse")[k]


def _comparison() -> Figure:
    from jacobnet.check.report import compare_gradients

    return comparison_figure(compare_gradients(*_demo_case()))


def _order_costs() -> Figure:
    from jacobnet.net.sweeps import order_cost_sweep

    return order_cost_figure(order_cost_sweep(widths=ORDER_WIDTHS, depths=ORDER_DEPTHS))


def _trace_entries() -> list[GalleryFigure]:
    net, x, y = _demo_case()
    prefix = spec_prefix(*DEFAULT_SPEC)
    return [
        GalleryFigure(prefix + slug(f.name), f"`{f.name}` of the demo network, {f.kind}", lambda n=f.name: heatmap(_factor(n), structure=True))
        for f in net.trace(x, y).factors
    ]


def _resnet() -> tuple[Network, np.ndarray, np.ndarray]:
    """The README's residual network: Dense, two residual blocks, Dense; its sample."""
    from jacobnet.core.blocks import Residual
    from jacobnet.core.layers import Dense, Tanh
    from jacobnet.core.losses import SoftmaxCrossEntropy

    layers = [Dense(3, 4, seed=0), Residual([Dense(4, 4, seed=1), Tanh()]), Residual([Dense(4, 4, seed=2), Tanh()]), Dense(4, 2, seed=3)]
    return Network(layers, SoftmaxCrossEntropy()), np.array([0.5, -1.0, 2.0]), np.array([0.0, 1.0])


def _residual_paths() -> Figure:
    net, x, y = _resnet()
    return chain_figure(net.chain(x, y, layer="Dense 1"))


def _residual_jacobian() -> Figure:
    net, x, y = _resnet()
    return heatmap(net.trace(x, y).factor("J_x(Residual 1)"), structure=True)


def _conv1d_kernel() -> Figure:
    from jacobnet.core.conv import Conv1d
    from jacobnet.viz.conv import kernel_figure

    conv = Conv1d(2, 3, 3, 7, stride=2, padding=1, seed=0)
    return kernel_figure(conv, np.random.default_rng(0).normal(size=conv.n_in))


def _layernorm_jacobian() -> Figure:
    from jacobnet.core.norm import LayerNorm

    rng = np.random.default_rng(1)
    norm = LayerNorm(4, tokens=3)
    norm.gamma = 1.0 + 0.3 * rng.normal(size=4)
    return heatmap(norm.jacobian_input_op(rng.normal(size=12)), name="J_x(LayerNorm 1)", structure=True)


def _attention_causal() -> Figure:
    from jacobnet.core.attention import SelfAttention

    att = SelfAttention(3, 4, 4, causal=True, seed=0)
    return heatmap(att.jacobian_input_op(np.random.default_rng(2).normal(size=12)), name="J_x(SelfAttention 1)", structure=True)


def _maxpool_selection() -> Figure:
    from jacobnet.core.pool import MaxPool2d

    pool = MaxPool2d(2, 1, 4, 6)
    return heatmap(pool.jacobian_input_op(np.random.default_rng(3).normal(size=24)), name="J_x(MaxPool2d 1)", structure=True)


FIGURES: dict[str, GalleryFigure] = {
    g.name: g
    for g in [
        GalleryFigure("softmax_jacobian", "J_x(Softmax 1) = diag(s) − s sᵀ: dense, rows sum to 0", lambda: heatmap(_factor("J_x(Softmax 1)", "3,4", "tanh", "ce"), structure=True)),
        GalleryFigure("dense_jacobian_params_spy", "sparsity of J_θ(Dense 1) for a 6→8 layer", _spy),
        GalleryFigure("batch_block_diagonal", "a batch of 3: the block-diagonal Jacobian of Tanh 1", _batch_block),
        GalleryFigure("chain_product", "∂L/∂θ(Dense 1) as the product of its factors, reverse order", _chain),
        *_steps(),
        GalleryFigure("gradient_comparison", "the gradient by Jacobian product, SymPy and finite differences; their errors", _comparison, exact=False),
        GalleryFigure("order_costs", "FLOPs and bytes of forward, reverse and optimal order as networks grow", _order_costs),
        *_trace_entries(),
        GalleryFigure("residual_paths", "∂L/∂θ(Dense 1) through two residual blocks: the sum of its 4 path products", _residual_paths),
        GalleryFigure("residual_jacobian", "J_x(Residual 1) = I + J_g: the skip path's identity on the diagonal", _residual_jacobian),
        GalleryFigure("conv1d_kernel", "J_x of a Conv1d (stride 2, padding 1): a Toeplitz band per channel pair, the kernel beside it", _conv1d_kernel),
        GalleryFigure("layernorm_jacobian", "J_x of LayerNorm over 3 tokens: one projection (γ/σ̂)(I − 11ᵀ/n − x̂x̂ᵀ/n) per token", _layernorm_jacobian),
        GalleryFigure("attention_causal", "J_x of causal self-attention: 3 × 3 token blocks, zero above the diagonal", _attention_causal),
        GalleryFigure("maxpool_selection", "J_x of a 2×2 max pool: one 1 per row, at the arg-max of its window", _maxpool_selection),
    ]
}


def render(names: Iterable[str] | None = None, out: str | os.PathLike = "figures", progress: bool | None = None) -> list[Path]:
    """Write the gallery (or the figures ``names``) into ``out`` as PNG; return the paths.

    Rendered under matplotlib's defaults (each figure adds :data:`~jacobnet.viz.figstyle.STYLE`),
    so a user's ``matplotlibrc`` cannot change the bytes. ``progress``: a tqdm bar on stderr
    (default: when stderr is a terminal).
    """
    from tqdm import tqdm

    chosen = list(FIGURES) if names is None else list(names)
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; the gallery has {', '.join(FIGURES)}")
    paths = []
    with mpl.rc_context():
        mpl.rcdefaults()
        for name in tqdm(chosen, desc="figures", unit="fig", disable=None if progress is None else not progress):
            paths.append(write_png(FIGURES[name].build(), Path(out) / FIGURES[name].filename))
    return paths
