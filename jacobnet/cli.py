"""The ``jacobnet`` command.

Every command that takes a network reads it through one spec parser
(:mod:`jacobnet.net.spec`). Bad input — the spec, an option, the output
directory, work over the cost limit or the memory budget — prints one line on
stderr and exits 2, before any work and never with a traceback; a message
quotes at most :data:`MAX_QUOTED` characters of what was typed, and gives
command-line advice (``--max-work``, ``--max-size``, ``--layers``), not Python.

Ctrl-C at any moment after start-up prints one line and exits 130 (a second
Ctrl-C changes nothing); SIGTERM the same with 143. Both stop the work by an
exception, so a file being written is removed (``finally``), never left half
written. Only the standard library and :mod:`jacobnet.core.cost` are imported
with this module: everything else loads inside :func:`main`, once Ctrl-C is handled.

Files go to ``--out`` (``demo`` and ``heatmap``: ``jacobnet-figures/`` in the
current directory by default, never the repository's committed ``figures/``),
checked before any work: it must be a directory that can be made and written
(tried with a file that is removed again), and every file name must fit the
file system (a spec of many sizes gets a shortened, hashed prefix).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from jacobnet.core.cost import shorten

if TYPE_CHECKING:
    import numpy as np

    from jacobnet.check.report import GradientReport
    from jacobnet.net.network import Network

EXIT_DISAGREE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
DEFAULT_OUT = "jacobnet-figures"
"""Where ``demo`` and ``heatmap`` write by default (``figures`` writes the gallery into ``figures``)."""
MAX_QUOTED = 80
"""At most this many characters of a typed value are quoted back in a message."""
MAX_MESSAGE = 600
FIGURE_OPS = 3 * 10**8
"""The cost of drawing and saving one heatmap, in operations (~0.3 s), for the cost guard of ``heatmap`` and ``demo``."""
CELL_OPS = 400
"""The cost of one matrix entry in a heatmap, in operations (a 300 × 90 300 ``J_θ`` takes ~10 s)."""
VALUE_OPTIONS = ("--layers", "--activation", "--loss", "--seed", "--out", "--methods", "--max-size", "--max-work")
_NUMBERS = re.compile(r"-[0-9.,\s+-]*")  # what a negative size list or number looks like: `--layers -1,2`, `--seed -1`


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's ``KeyboardInterrupt``, so that ``finally`` blocks clean up."""


def _say(message: str) -> None:
    """One line on stderr, cut to :data:`MAX_MESSAGE`; if stderr cannot be written (``2>/dev/full``), nothing."""
    try:
        print(shorten(message.replace("\n", " "), MAX_MESSAGE), file=sys.stderr, flush=True)
    except (OSError, ValueError):  # (a full disk, a closed stream: the exit status still says it)
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 — and Python's flush at exit stays quiet


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (typed values cut to a readable length) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _say(f"{self.prog}: error: {message}")
        raise SystemExit(EXIT_BAD_INPUT)


def _quoted(text: object) -> str:
    return shorten(repr(text), MAX_QUOTED)


# --- option values --------------------------------------------------------------------------
def _seed(text: str) -> int:
    """argparse type of ``--seed``: a non-negative integer of at most 18 digits."""
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {_quoted(text)}")
    if len(text) > 18:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer of at most 18 digits, got {len(text)} digits")
    return int(text)


def _positive(text: str) -> float:
    """argparse type of ``--max-size`` and ``--max-work``: a positive number such as ``1e6`` (``inf``: no limit)."""
    try:
        value = float(text) if text.isascii() else float("nan")
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number such as 1e6 (inf: no limit), got {_quoted(text)}")
    return value


def _methods(text: str) -> tuple[str, ...]:
    """argparse type of ``--methods``: two or more distinct gradient methods, comma-separated."""
    from jacobnet.net.network import GRADIENT_METHODS

    names = tuple(t.strip() for t in text.split(",", 10))
    choices = ", ".join(GRADIENT_METHODS)
    unknown = [n for n in names if n not in GRADIENT_METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown method {_quoted(unknown[0])}; choose two or more of {choices}")
    if len(names) < 2 or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"needs two or more different methods of {choices}, comma-separated, got {_quoted(text)}")
    return names


def add_spec_args(p: argparse.ArgumentParser, layers: str = "3,4,2") -> None:
    """The network spec shared by every command: ``--layers --activation --loss --seed``."""
    p.add_argument("--layers", default=layers, help=f"layer sizes, input first (default {layers})")
    p.add_argument("--activation", default="tanh", help="after each hidden layer: one of sigmoid, tanh, relu, leaky-relu, "
                   "softplus, or one per hidden layer such as relu,tanh (default tanh)")
    p.add_argument("--loss", default="softmax-ce", help="mse, ce, softmax-ce (default softmax-ce)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the weights and the sample (default 0)")


def add_compare_args(p: argparse.ArgumentParser) -> None:
    """How the gradient is checked: ``--methods --max-size --max-work``."""
    p.add_argument("--methods", type=_methods, default=None, metavar="M1,M2[,M3]",
                   help="the gradient methods to compare: two or more of jacobian, symbolic, finite-difference "
                   "(default all three, the symbolic one left out and said so when it is over --max-size)")
    p.add_argument("--max-size", type=_positive, default=None, metavar="NODES",
                   help="the symbolic size limit in expression nodes (default 2.5e5, a few seconds)")
    p.add_argument("--max-work", type=_positive, default=None, metavar="OPS",
                   help="the cost limit in operations, ~1e9 a second (default 3e10, about half a minute)")


def add_out_arg(p: argparse.ArgumentParser, default: str = DEFAULT_OUT) -> None:
    """``--out DIR``: where the PNG files go."""
    p.add_argument("--out", default=default, metavar="DIR", help=f"directory for the PNG files (default {default})")


def add_entries_arg(p: argparse.ArgumentParser) -> None:
    """``--entries``: every parameter's gradient by each method, one row each."""
    p.add_argument("--entries", action="store_true", help="also print every parameter's gradient by each method")


def add_demo_args(p: argparse.ArgumentParser) -> None:
    """The demo's options: the network spec, how it is checked, ``--out``, ``--entries``."""
    add_spec_args(p)
    add_compare_args(p)
    add_out_arg(p)
    add_entries_arg(p)


def add_heatmap_args(p: argparse.ArgumentParser) -> None:
    """``heatmap``: the network spec, ``--out``, ``--spy`` and ``--max-work``."""
    add_spec_args(p)
    add_out_arg(p)
    p.add_argument("--spy", action="store_true", help="draw the sparsity pattern instead of the values")
    p.add_argument("--max-work", type=_positive, default=None, metavar="OPS",
                   help="the cost limit in operations, ~1e9 a second (default 3e10, about half a minute)")


def add_check_args(p: argparse.ArgumentParser) -> None:
    """``check``: the network spec, how it is checked, and ``--entries``."""
    add_spec_args(p)
    add_compare_args(p)
    add_entries_arg(p)


def add_figures_args(p: argparse.ArgumentParser) -> None:
    """``figures``: ``--out`` (default ``figures``, the gallery's own folder)."""
    add_out_arg(p, "figures")


# --- the output, checked before the work ------------------------------------------------------
def add_course_args(p: argparse.ArgumentParser) -> None:
    """``course``: ``--out DIR`` (the hand-out, ``--solutions`` for the teacher's) or ``--html DIR``; ``--overwrite``."""
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="write the student edition (answers blank, no solution cells) into DIR")
    where.add_argument("--html", metavar="DIR", help="execute every lesson and write the course as an offline site into DIR")
    p.add_argument("--solutions", action="store_true", help="with --out: the teacher's edition, answers filled in")
    p.add_argument("--overwrite", action="store_true", help="replace the lessons (or the site) already in DIR")


def _out_dir(text: str) -> Path:
    """``--out`` checked before any work: a directory that can be made and written, tried by making it (and
    its missing parents), writing a file in it and removing them all again; a ``ValueError`` naming ``--out``."""
    shown = _quoted(text)
    if not text.strip():
        raise ValueError("--out must name a directory, got an empty string")
    if text.startswith("-"):
        raise ValueError(f"--out {shown} looks like an option, not a directory (for a directory whose name starts with '-', write ./{shorten(text, 40)})")
    if "\0" in text:
        raise ValueError(f"--out {shown}: a path cannot contain a NUL character")
    path = Path(text)
    try:
        if path.is_symlink() and not path.exists():
            raise ValueError(f"--out {shown} is a symbolic link that loops or points nowhere")
        if path.exists() and not path.is_dir():
            raise ValueError(f"--out {shown} exists and is not a directory")
        _try_writing(path)
    except OSError as err:
        raise ValueError(f"--out {shown}: cannot write there ({err.strerror or err})") from None
    return path


def _try_writing(path: Path) -> None:
    """Make ``path`` and its missing parents, write a file in it, then remove what was made."""
    missing, p = [], path.absolute()
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    made: list[Path] = []
    try:
        for d in reversed(missing):
            os.mkdir(d)
            made.append(d)
        fd, name = tempfile.mkstemp(prefix=".jacobnet-probe-", dir=path)
        os.close(fd)
        os.unlink(name)
    finally:
        for d in reversed(made):
            try:
                os.rmdir(d)
            except OSError:  # (something else wrote into it meanwhile: leave it)
                break


def _limit(out: Path, name: str, default: int) -> int:
    """The file system's limit ``name`` (``PC_NAME_MAX``, ``PC_PATH_MAX``) at the nearest existing ancestor of ``out``."""
    p = out.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(os.pathconf(p, name))
    except (OSError, ValueError, AttributeError):  # (not every system says)
        return default


def check_file_names(out: Path, names: Sequence[str]) -> None:
    """Every ``out/name`` fits the file system (``NAME_MAX`` bytes a name, ``PATH_MAX`` a path), or a ``ValueError``."""
    longest = max(names, key=lambda n: len(os.fsencode(n)))
    name_max, path_max = _limit(out, "PC_NAME_MAX", 255), _limit(out, "PC_PATH_MAX", 4096)
    if len(os.fsencode(longest)) > name_max:
        raise ValueError(f"the file name {shorten(longest, 60)!r} has {len(os.fsencode(longest))} bytes, over this file "
                         f"system's limit of {name_max}: use fewer --layers")
    full = len(os.fsencode(str(out.absolute() / longest)))
    if full >= path_max:
        raise ValueError(f"--out {_quoted(str(out))}: the files' paths would have {full} bytes, over this system's limit of {path_max}")


# --- the commands -----------------------------------------------------------------------------
def _network(args: argparse.Namespace) -> Network:
    from jacobnet.net.spec import build_network

    return build_network(args.layers, args.activation, args.loss, seed=args.seed)


def _sample(net: Network, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from jacobnet.net.spec import demo_sample

    return demo_sample(net.input_size, net.sizes[-1], seed)


class _Heatmaps:
    """The heatmaps of a spec's trace, planned before any is drawn: file names checked, the work and memory guarded."""

    def __init__(self, args: argparse.Namespace, net: Network, x: np.ndarray, y: np.ndarray, out: Path):
        from jacobnet.core.cost import check_cost
        from jacobnet.core.memory import check_budget
        from jacobnet.viz.gallery import slug, spec_prefix

        self.net, self.x, self.y, self.out, self.spy = net, x, y, out, getattr(args, "spy", False)
        factors = net.trace(x, y, mode="structured").factors  # names and shapes, nothing dense
        self.prefix = spec_prefix(args.layers, args.activation, args.loss, args.seed)  # (bounded: a spec of many sizes is hashed)
        check_file_names(out, [f"{self.prefix}{'spy_' if self.spy else ''}{slug(f.name)}.png" for f in factors])
        check_budget(sum(f.nbytes_dense for f in factors), f"the {len(factors)} dense factors of the trace of {shorten(repr(net))}",
                     "use smaller --layers")
        cells = sum(f.shape[0] * f.shape[1] * (f.batch or 1) for f in factors)
        check_cost(len(factors) * FIGURE_OPS + CELL_OPS * cells, f"drawing {len(factors)} heatmaps ({cells} entries)",
                   "use smaller --layers", args.max_work)

    def write(self) -> list[Path]:
        from jacobnet.viz.gallery import write_trace_heatmaps

        return write_trace_heatmaps(self.net, self.x, self.y, self.out, self.prefix, spy=self.spy)


def _write_heatmaps(heatmaps: _Heatmaps) -> list[Path]:
    """Draw the planned heatmaps; return their paths."""
    return heatmaps.write()


def cmd_demo(args: argparse.Namespace) -> int:
    """Build a small non-square network, print its trace and its checked gradient, draw its factors."""
    import numpy as np

    with np.printoptions(precision=4, suppress=True):  # local: never leak global print state
        return _demo(args)


MAX_TABLE_ROWS = 60


def _demo(args: argparse.Namespace) -> int:
    net = _network(args)
    x, y = _sample(net, args.seed)
    out = _out_dir(args.out)
    heatmaps = _Heatmaps(args, net, x, y, out)
    _check_compare_cost(net, x, args)
    print(f"network: {shorten(repr(net), 300)} (its Dense layers seeded {args.seed}, {args.seed + 1}, … from --seed)")
    where = f"demo_sample({net.input_size}, {net.sizes[-1]}, seed={args.seed}): x ~ N(0, 1), y one-hot, drawn from --seed"
    print(f"sample: x = {x}, y = {y} ({where})" if x.size <= 12 else f"sample: x of shape {x.shape}, y of shape {y.shape} ({where})")
    print(f"\n{net.trace(x, y)}\n")
    report = _compare(net, x, y, args, symbolic="per-layer")
    if not args.entries:
        print(f"(--entries prints dL/dθ by each method, parameter by parameter: {net.n_params} rows)\n")
    elif net.n_params <= MAX_TABLE_ROWS:
        entries = report.entries()
        entries.title = "dL/dθ by each method, parameter by parameter:"
        print(f"{entries}\n")
    else:
        print(f"({net.n_params} parameters: the per-parameter table is left out; the summary follows)\n")
    print(report)
    print_paths(f"\nheatmaps of every factor, in {_where(out)}:", _write_heatmaps(heatmaps))
    return 0 if report.ok else EXIT_DISAGREE


def _where(out: Path) -> str:
    """``out/`` as given, and where that is when it is relative."""
    return f"{out}/" if out.is_absolute() else f"{out}/ ({out.absolute()})"


def _check_compare_cost(net: Network, x: np.ndarray, args: argparse.Namespace) -> None:
    from jacobnet.core.finite import check_fd_cost

    if "finite-difference" in (args.methods or ("finite-difference",)):
        check_fd_cost(net, x, args.max_work)


def _compare(net: Network, x: np.ndarray, y: np.ndarray, args: argparse.Namespace, symbolic: str) -> GradientReport:
    """The gradient by the chosen methods (default: the Jacobian product, SymPy and central differences,
    SymPy left out — and said so — for a network over ``--max-size``). ``symbolic``: the derivation,
    see :func:`jacobnet.check.report.symbolic_derivation`; the report says which one it used."""
    from jacobnet.check.report import compare_gradients
    from jacobnet.net.network import GRADIENT_METHODS
    from jacobnet.symbolic.guard import SymbolicSizeError

    limits = {"max_size": args.max_size, "max_work": args.max_work}
    try:
        return compare_gradients(net, x, y, methods=args.methods or GRADIENT_METHODS, symbolic=symbolic, **limits)
    except SymbolicSizeError as err:
        if args.methods is not None:  # asked for by name: an error, not a silent change
            raise
        print(f"(no symbolic gradient: {_symbolic_reason(err)}; raise --max-size to derive it anyway; "
              "comparing the Jacobian product with finite differences only)\n")
        return compare_gradients(net, x, y, methods=("jacobian", "finite-difference"), **limits)


def _symbolic_reason(err: Exception) -> str:
    """The size guard's message without its Python advice: what, the estimate, the limit (``--max-size``)."""
    text = str(err).split(" (jacobnet.symbolic.guard", 1)[0]
    return f"{text} nodes (--max-size)" if text != str(err) else text


def print_paths(header: str, paths: Sequence[object]) -> None:
    """A header line, then one path per line."""
    print(header)
    for path in paths:
        print(f"  {path}")


def cmd_heatmap(args: argparse.Namespace) -> int:
    """Render the heatmap of every factor of a spec's trace into ``--out`` and print the paths."""
    net = _network(args)
    x, y = _sample(net, args.seed)
    out = _out_dir(args.out)
    heatmaps = _Heatmaps(args, net, x, y, out)
    print_paths(f"heatmaps of the factors of {shorten(repr(net), 300)}, in {_where(out)}:", _write_heatmaps(heatmaps))
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """Regenerate every gallery figure (:data:`jacobnet.viz.gallery.FIGURES`) into ``--out``."""
    out = _out_dir(args.out)
    from jacobnet.viz.gallery import render

    print_paths(f"figures written to {args.out}/:", render(out=out))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Compare the symbolic, Jacobian and finite-difference gradients; exit 1 when they disagree.

    The symbolic one is SymPy's derivative of the whole loss for tiny networks (the
    strongest check of the chain rule), each layer's SymPy Jacobians composed as the
    chain otherwise (``symbolic="auto"``); the report says which.
    """
    net = _network(args)
    x, y = _sample(net, args.seed)
    report = _compare(net, x, y, args, symbolic="auto")
    print(report)
    if args.entries:
        print(f"\n{report.entries()}")
    return 0 if report.ok else EXIT_DISAGREE


def cmd_course(args: argparse.Namespace) -> int:
    """Write the course: the student's or the teacher's notebooks (``--out``), or the HTML edition (``--html``)."""
    if args.html is not None:
        if args.solutions:
            raise ValueError("--solutions goes with --out DIR; the HTML edition always shows the solutions")
        from jacobnet.course.site import build_site

        pages = build_site(Path(args.html), overwrite=args.overwrite)
        print(f"the course as a site of {len(pages)} pages in {_where(Path(args.html))}: open {pages[0]}")
        return 0
    from jacobnet.course.handout import write_handout

    edition = "teacher's edition (answers filled in)" if args.solutions else "student edition (answers blank)"
    out = Path(args.out)
    print_paths(f"the course's {edition}, in {_where(out)}:", write_handout(out, solutions=args.solutions, overwrite=args.overwrite))
    return 0


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str, Callable[[argparse.ArgumentParser], None]]] = {
    "demo": (cmd_demo, "trace and check the gradient of a small network, and draw its Jacobians", add_demo_args),
    "heatmap": (cmd_heatmap, "draw every Jacobian of a network given by a spec into PNG files", add_heatmap_args),
    "check": (cmd_check, "compare symbolic, Jacobian and finite-difference gradients (exit 1 if they disagree)", add_check_args),
    "figures": (cmd_figures, "regenerate every figure of the README and the course (the gallery)", add_figures_args),
    "course": (cmd_course, "write the course's lessons for students (--out, --solutions) or as an offline site (--html)", add_course_args),
}


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    from jacobnet import __version__

    parser = _OneLineParser(prog="jacobnet", description="Backpropagation as a product of explicit Jacobians.")
    parser.add_argument("--version", action="version", version=f"jacobnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for name, (_, help_text, add_args) in COMMANDS.items():
        add_args(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def _glue_option_values(argv: list[str]) -> list[str]:
    """``--layers -1,2`` → ``--layers=-1,2``: a value that looks like a negative number is taken as the value, so the
    spec parser can say what is wrong with it. Anything else that starts with ``-`` stays an option
    (``--out --spy`` is ``--out`` without a value: a usage error, not a directory named ``--spy``)."""
    out: list[str] = []
    for token in argv:
        if out and out[-1] in VALUE_OPTIONS and _NUMBERS.fullmatch(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


# --- running, interrupted or not -----------------------------------------------------------------
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_stopping: list[int] = []  # the signal that is stopping this run, once one came


def _raise_stop(signum: int) -> None:
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated


def _stop(signum: int, frame: Any) -> None:
    """Ctrl-C or SIGTERM: from now on both are ignored (a second one changes nothing), and the work stops by an exception."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
    _stopping[:] = [signum]
    _raise_stop(signum)


_alarm: list[Any] = []  # SIGALRM's handler before a stop was delivered again, while one may be pending


def _again(signum: int, frame: Any) -> None:
    _disarm()
    _raise_stop(_stopping[0])


def _disarm() -> None:
    if _alarm:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, _alarm.pop())


def _unraisable(hook: Any) -> None:
    """The stop landed where Python ignores exceptions (a destructor, a weakref callback: "Exception ignored in …"):
    deliver it again a millisecond later, out of there, so that the run still stops, with its one line."""
    if _stopping and isinstance(hook.exc_value, (KeyboardInterrupt, Terminated)):
        if hasattr(signal, "setitimer") and not _alarm:  # (not on Windows: there the run goes on)
            _alarm.append(signal.signal(signal.SIGALRM, _again))
            signal.setitimer(signal.ITIMER_REAL, 0.001)
        return
    sys.__unraisablehook__(hook)


def _catch_signals() -> dict[int, Any]:
    """Handle Ctrl-C and SIGTERM with :func:`_stop` (not where they are ignored, nor outside the main thread); return the old handlers."""
    old = {}
    for s in STOP_SIGNALS:
        try:
            if signal.getsignal(s) is not signal.SIG_IGN:  # (a background job's ignored Ctrl-C stays ignored)
                old[s] = signal.signal(s, _stop)
        except ValueError:  # (not the main thread: Python's own handling)
            break
    return old


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jacobnet``; return the exit status.

    0: done (``check``: the methods agree); 1: the gradient methods disagree;
    2: bad input, one line on stderr and never a traceback (argparse's usage
    errors raise ``SystemExit(2)``); 130: interrupted by Ctrl-C; 143: by SIGTERM.
    Run as the command (``argv`` ``None``), an interrupted run keeps ignoring
    Ctrl-C until the process has exited; called with ``argv``, the signal
    handlers are restored whatever happens.
    """
    who = ["jacobnet"]
    old, hook = _catch_signals(), sys.unraisablehook
    sys.unraisablehook = _unraisable
    status = None
    try:
        status = _run(list(sys.argv[1:] if argv is None else argv), who)
        if _stopping:  # the stop's exception was swallowed on the way (a library's broad except): stop as asked anyway
            _raise_stop(_stopping[0])
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
        _say(f"{who[0]}: interrupted")
    except Terminated:
        status = EXIT_TERMINATED
        _say(f"{who[0]}: terminated")
    finally:
        _disarm()
        if argv is not None or status not in (EXIT_INTERRUPTED, EXIT_TERMINATED):
            for s, handler in old.items():
                signal.signal(s, handler)
            sys.unraisablehook = hook
            _stopping.clear()
    return status


def _run(argv: list[str], who: list[str]) -> int:
    args = make_parser().parse_args(_glue_option_values(argv))
    if args.command is None:
        _say(f"jacobnet: error: choose a command: {', '.join(COMMANDS)} (jacobnet --help)")
        return EXIT_BAD_INPUT
    who[0] = f"jacobnet {args.command}"
    try:
        status = COMMANDS[args.command][0](args)
        sys.stdout.flush()  # (here, so that a full disk is an error message, not a complaint at exit)
        return status
    except BrokenPipeError:  # the reader went away (`jacobnet demo | head`): not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — swallow Python's flush at exit
        return 0
    except (ValueError, TypeError, KeyError, OSError, MemoryError, RecursionError) as err:
        if isinstance(err, OSError) and err.errno is not None and not getattr(err, "filename", None):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 — the output itself failed (`> /dev/full`)
        _say(f"{who[0]}: error: {message(err)}")
        return EXIT_BAD_INPUT


def message(err: BaseException) -> str:
    """What the command says about ``err``: the library's message, its Python advice replaced by the command's.

    >>> from jacobnet.core.cost import CostError
    >>> message(CostError("…", "finite differences of dL/dθ", 6e10, 3e10, "use method='jacobian'"))
    'finite differences of dL/dθ would take about 6e+10 operations (~60 s), over the cost limit of 3e+10 operations; use smaller --layers, leave finite-difference out of --methods, or raise --max-work'
    """
    from jacobnet.core.cost import CostError, format_work
    from jacobnet.core.memory import JacobianMemoryError

    if isinstance(err, CostError):
        return (f"{err.what} would take about {format_work(err.work)}, over the cost limit of {err.limit:.2g} operations; "
                f"use smaller --layers{', leave finite-difference out of --methods' if 'finite differences' in err.what else ''}, "
                "or raise --max-work")
    if isinstance(err, JacobianMemoryError):
        return f"{str(err).split('; ', 1)[0]}; on the command line, use smaller --layers"
    if isinstance(err, (MemoryError, RecursionError)):
        return f"out of memory ({type(err).__name__}{': ' if str(err) else ''}{err}); on the command line, use smaller --layers"
    if type(err).__name__ == "SymbolicSizeError":
        return f"{_symbolic_reason(err)}; raise --max-size, or leave symbolic out of --methods"
    if isinstance(err, KeyError) and err.args:
        return str(err.args[0])
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}{': ' + shorten(str(err.filename), MAX_QUOTED) if err.filename else ''}"
    return str(err)
