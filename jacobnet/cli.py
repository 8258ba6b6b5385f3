"""The ``jacobnet`` command.

Every command that takes a network reads it through one spec parser
(:mod:`jacobnet.net.spec`). Bad input prints one line on stderr and exits 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from jacobnet import __version__
from jacobnet.check.report import GradientReport, compare_gradients
from jacobnet.net.network import Network
from jacobnet.net.spec import build_network, demo_sample
from jacobnet.symbolic.guard import SymbolicSizeError

EXIT_DISAGREE = 1
EXIT_BAD_INPUT = 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def add_spec_args(p: argparse.ArgumentParser, layers: str = "3,4,2") -> None:
    """The network spec shared by every command: ``--layers --activation --loss --seed``."""
    p.add_argument("--layers", default=layers, help=f"layer sizes, input first (default {layers})")
    p.add_argument("--activation", default="tanh", help="sigmoid, tanh, relu, leaky-relu, softplus (default tanh)")
    p.add_argument("--loss", default="softmax-ce", help="mse, ce, softmax-ce (default softmax-ce)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the weights and the sample (default 0)")


def _seed(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer."""
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return int(text)


def cmd_demo(args: argparse.Namespace) -> int:
    """Build a small non-square network, print its trace and its checked gradient."""
    with np.printoptions(precision=4, suppress=True):  # local: never leak global print state
        return _demo(args)


def _demo(args: argparse.Namespace) -> int:
    out = _out_dir(args.out)
    net = _checkable_network(args)
    x, y = demo_sample(net.input_size, net.sizes[-1], args.seed)
    print(f"network: {net!r}")
    print(f"x = {x}, y = {y}" if x.size <= 12 else f"x: a sample of shape {x.shape}, y: one-hot of shape {y.shape}")
    print(f"\n{net.trace(x, y)}\n")
    report = _three_way(net, x, y, symbolic="per-layer")
    if net.n_params <= MAX_TABLE_ROWS:
        entries = report.entries()
        entries.title = "dL/dθ by each method, parameter by parameter:"
        print(f"{entries}\n")
    else:
        print(f"({net.n_params} parameters: the per-parameter table is left out; the summary follows)\n")
    print(report)
    print_paths(f"\nheatmaps of every factor, in {out}/:", _write_heatmaps(args, net, x, y))
    return 0 if report.ok else EXIT_DISAGREE


MAX_TABLE_ROWS = 60
MAX_FD_PARAMS = 20_000  # 2 forward passes per parameter: seconds, not minutes


def _checkable_network(args: argparse.Namespace) -> Network:
    """The spec's network, refused if a finite-difference check of it would take minutes."""
    net = build_network(args.layers, args.activation, args.loss, seed=args.seed)
    if net.n_params > MAX_FD_PARAMS:
        raise ValueError(
            f"{net.n_params} parameters is too many to check by finite differences "
            f"(limit {MAX_FD_PARAMS}, two forward passes each): use smaller --layers"
        )
    return net


def _out_dir(text: str) -> str:
    """Check ``--out`` up front (a directory, or creatable and writable) without creating it,
    so a bad path fails before any work and nothing is written on failure."""
    if not text.strip():
        raise ValueError("--out must name a directory, got an empty string")
    path = Path(text).absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {text} exists and is not a directory")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {text}: cannot write there ({existing} is not a writable directory)")
    return text


def _three_way(net: Network, x: np.ndarray, y: np.ndarray, symbolic: str) -> GradientReport:
    """The gradient by the Jacobian product, SymPy and central differences (SymPy dropped, and
    said so, for a network over the symbolic size limit). ``symbolic``: the derivation, see
    :func:`jacobnet.check.report.symbolic_derivation`; the report says which one it used."""
    try:
        return compare_gradients(net, x, y, symbolic=symbolic)
    except SymbolicSizeError as err:
        print(f"(no symbolic gradient: {err}; comparing the Jacobian product with finite differences only)\n")
        return compare_gradients(net, x, y, methods=("jacobian", "finite-difference"))


def add_out_arg(p: argparse.ArgumentParser) -> None:
    """``--out DIR``: where figures go (default ``figures``)."""
    p.add_argument("--out", default="figures", metavar="DIR", help="directory for the PNG files (default figures)")


def add_demo_args(p: argparse.ArgumentParser) -> None:
    """The demo's options: the network spec and ``--out``."""
    add_spec_args(p)
    add_out_arg(p)


def add_heatmap_args(p: argparse.ArgumentParser) -> None:
    """``heatmap``: the network spec, ``--out`` and ``--spy``."""
    add_demo_args(p)
    p.add_argument("--spy", action="store_true", help="draw the sparsity pattern instead of the values")


def print_paths(header: str, paths: Sequence[object]) -> None:
    """A header line, then one path per line."""
    print(header)
    for path in paths:
        print(f"  {path}")


def _write_heatmaps(args: argparse.Namespace, net: object, x: np.ndarray, y: np.ndarray) -> list:
    from jacobnet.viz.gallery import spec_prefix, write_trace_heatmaps

    prefix = spec_prefix(args.layers, args.activation, args.loss, args.seed)
    return write_trace_heatmaps(net, x, y, args.out, prefix, spy=getattr(args, "spy", False))


def cmd_heatmap(args: argparse.Namespace) -> int:
    """Render the heatmap of every factor of a spec's trace into ``--out`` and print the paths."""
    _out_dir(args.out)
    net = build_network(args.layers, args.activation, args.loss, seed=args.seed)
    x, y = demo_sample(net.input_size, net.sizes[-1], args.seed)
    print_paths(f"heatmaps of the factors of {net!r}:", _write_heatmaps(args, net, x, y))
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """Regenerate every gallery figure (:data:`jacobnet.viz.gallery.FIGURES`) into ``--out``."""
    from jacobnet.viz.gallery import render

    print_paths(f"figures written to {args.out}/:", render(out=_out_dir(args.out)))
    return 0



def add_check_args(p: argparse.ArgumentParser) -> None:
    """``check``: the network spec and ``--entries``."""
    add_spec_args(p)
    p.add_argument("--entries", action="store_true", help="also print every parameter's three gradients")


def cmd_check(args: argparse.Namespace) -> int:
    """Compare the symbolic, Jacobian and finite-difference gradients; exit 1 when they disagree.

    The symbolic one is SymPy's derivative of the whole loss for tiny networks (the
    strongest check of the chain rule), each layer's SymPy Jacobians composed as the
    chain otherwise (``symbolic="auto"``); the report says which.
    """
    net = _checkable_network(args)
    x, y = demo_sample(net.input_size, net.sizes[-1], args.seed)
    report = _three_way(net, x, y, symbolic="auto")
    print(report)
    if args.entries:
        print(f"\n{report.entries()}")
    return 0 if report.ok else EXIT_DISAGREE


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str, Callable[[argparse.ArgumentParser], None]]] = {
    "demo": (cmd_demo, "trace and check the gradient of a small network", add_demo_args),
    "heatmap": (cmd_heatmap, "draw every Jacobian of a network given by a spec into PNG files", add_heatmap_args),
    "check": (cmd_check, "compare symbolic, Jacobian and finite-difference gradients (exit 1 if they disagree)", add_check_args),
    "figures": (cmd_figures, "regenerate every figure of the README and the course (the gallery)", add_out_arg),
}


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _OneLineParser(prog="jacobnet", description="Backpropagation as a product of explicit Jacobians.")
    parser.add_argument("--version", action="version", version=f"jacobnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for name, (_, help_text, add_args) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def _glue_option_values(argv: list[str]) -> list[str]:
    """``--layers -1,2`` → ``--layers=-1,2``, so argparse does not take ``-1,2`` for an option
    and the spec parser can say what is wrong with it."""
    out: list[str] = []
    for token in argv:
        if out and out[-1] in ("--layers", "--activation", "--loss", "--seed", "--out") and token.startswith("-"):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jacobnet``; return the exit status.

    0: done (``check``: the methods agree); 1: the gradient methods disagree;
    2: bad input, one line on stderr and never a traceback; 130: interrupted.
    """
    parser = make_parser()
    args = parser.parse_args(_glue_option_values(list(sys.argv[1:] if argv is None else argv)))
    if args.command is None:
        print(f"jacobnet: error: choose a command: {', '.join(COMMANDS)} (jacobnet --help)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return COMMANDS[args.command][0](args)
    except MemoryError as err:
        print(f"jacobnet {args.command}: error: {err}; on the command line, use smaller --layers", file=sys.stderr)
    except (ValueError, TypeError, KeyError, OSError) as err:
        if isinstance(err, BrokenPipeError):  # the reader went away (`jacobnet demo | head`): not an error
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — swallow Python's flush at exit
            return 0
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"jacobnet {args.command}: error: {message}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"jacobnet {args.command}: interrupted", file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT
