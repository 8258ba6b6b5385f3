"""jacobnet's gradient against plain NumPy, HIPS autograd, PyTorch and JAX; materialisation against the copy bound.

One table of ratios to a plain NumPy backprop of the same tanh MLP with
softmax-cross-entropy (written below, the textbook loop), for the networks and
batches of issue 14:

    8→16→4, 64→32→10, 784→128→10 and 32→(32×10)→10 (ten hidden layers of 32),
    at B = 1 (a 1-D sample ``x.shape == (n,)`` and a ``(1, n)`` batch), 32 and 256.

Every cell is measured in a fresh process (a subprocess of this script), so that
one library's imports and allocator settings never flatter or slow another: the
jacobnet and autograd cells run in a process that has imported neither torch nor
JAX. Inside a cell the peer and the NumPy reference alternate, round after round
(interleaved repetitions, each round ~``--round-ms`` of calls), and the ratio is
the median over the rounds of peer time / NumPy time: both in the same process,
at the same moment. Times are CPU times of the process (``time.process_time``:
user + system, page faults included) with one BLAS thread (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` = 1; torch ``set_num_threads(1)``;
XLA without its thread pool), medians of the rounds. Each peer's gradient is
checked against the NumPy one (≤ 1e-12 relative) before it is timed.

Columns
    NumPy µs        the reference's median time per call (measured in the jacobnet cell)
    jacobnet        ``Network.gradient(X, Y)`` (structured, forward pass and validation included)
    faults          minor page faults per call of ``Network.gradient`` (``getrusage``)
    materialised    ``Network.gradient(X, Y, mode="materialised")``: every dense Jacobian built
                    (rows that would write more than ``--mat-cap`` bytes per call are left out)
    autograd, torch, JAX    ``autograd.grad``; ``torch.autograd.grad`` (CPU); ``jax.jit(jax.grad)``
                    (x64), each on a list of ``(W, b)``, the result flattened into one vector

The second table is materialisation against the copy bound: the bytes a call
writes divided by the bandwidth of a 256 MiB ``np.copyto`` between two resident
arrays, timed in the same rounds. Rows: ``Dense(784, 128).jacobian_params(x)``
(103 MB), fresh and into a preallocated ``out=``; every layer's ``J_x`` and
``J_θ`` of each network (``Layer.jacobian_input`` / ``jacobian_params``, fresh and
into ``out=`` buffers), where they hold at least 1 MB (below that a call is
overhead, not bandwidth); and the materialised gradient (factors and products).

At the end, each target of issue 14 with ✓ or ✗ for this run (a ✗ is
information, never a failure: the script always exits 0 when it could measure),
the page faults and time of a 1-D sample against its ``(1, n)`` batch, and the
CPU time of ``python -m jacobnet demo`` in a fresh process (median of three).

Peers that are not importable by this interpreter can run under another one:
``--python torch=/path/to/python`` (that interpreter needs NumPy; jacobnet is put
on its ``PYTHONPATH``). Run: ``python benchmarks/bench_gradient.py``
(``--quick`` for a smoke run; ``--networks``/``--batches`` to choose cells).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread, set before NumPy loads (not when imported by a test)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

Array = np.ndarray
ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ["8,16,4", "64,32,10", "784,128,10", "32," + "32," * 10 + "10"]
BATCHES = ["1-D", "1", "32", "256"]
PEERS = ("jacobnet", "materialised", "autograd", "torch", "jax")
IMPORTS = {"autograd": "autograd", "torch": "torch", "jax": "jax"}  # what a peer's interpreter must import
COPY_BYTES = 256 * 2**20
MIN_MAT_BYTES = 2**20
TARGET_STRUCTURED = 1.3  # × plain NumPy
TARGET_BOUND = 1.3  # × the copy bound
TARGET_DEMO_S = 2.0  # CPU seconds of `jacobnet demo`


def label(sizes: str) -> str:
    """``784→128→10``; ``32→(32×10)→10`` for a deep one."""
    n = sizes.split(",")
    hidden = n[1:-1]
    if len(hidden) > 2 and len(set(hidden)) == 1:
        return f"{n[0]}→({hidden[0]}×{len(hidden)})→{n[-1]}"
    return "→".join(n)


# --- the references, written plainly -------------------------------------------------
def numpy_gradient(params: list[tuple[Array, Array]]) -> Callable[[Array, Array], Array]:
    """A plain NumPy backprop of the mean softmax-cross-entropy of the tanh MLP ``params`` (a list of ``(W, b)``).

    The textbook loop, lean: each layer's ``∂L/∂W = Gᵀ A`` and ``∂L/∂b = Σ_b G`` written
    straight into its slice of one flat gradient (``θ = [vec_r(W_1), b_1, …]``, as jacobnet),
    ``tanh' = 1 − a²`` from the stored activation.
    """
    ends = np.cumsum([0] + [n for W, b in params for n in (W.size, b.size)]).tolist()
    blocks = [(W, ends[2 * l], ends[2 * l + 1], ends[2 * l + 2]) for l, (W, b) in enumerate(params)]
    L = len(params)

    def grad(X: Array, Y: Array) -> Array:
        X, Y = np.atleast_2d(X), np.atleast_2d(Y)
        acts = [X]
        for W, b in params[:-1]:
            acts.append(np.tanh(acts[-1] @ W.T + b))
        z = acts[-1] @ params[-1][0].T + params[-1][1]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        g = (e / e.sum(axis=1, keepdims=True) - Y) / X.shape[0]  # ∂L/∂z
        out = np.empty(ends[-1])
        for l in range(L - 1, -1, -1):
            W, w0, b0, end = blocks[l]
            a = acts[l]
            np.dot(g.T, a, out=out[w0:b0].reshape(W.shape))
            np.add.reduce(g, axis=0, out=out[b0:end])
            if l:
                g = (g @ W) * (1.0 - a * a)
        return out

    return grad


def autograd_gradient(params: list[tuple[Array, Array]]) -> Callable[[Array, Array], Array]:
    """HIPS autograd's reverse mode of the same loss, on the list of ``(W, b)``."""
    import autograd.numpy as anp
    from autograd import grad

    def loss(ps: list, X: Array, Y: Array):
        a = anp.atleast_2d(X)
        for W, b in ps[:-1]:
            a = anp.tanh(anp.dot(a, W.T) + b)
        z = anp.dot(a, ps[-1][0].T) + ps[-1][1]
        m = anp.max(z, axis=1, keepdims=True)
        log_s = z - m - anp.log(anp.sum(anp.exp(z - m), axis=1, keepdims=True))
        return -anp.mean(anp.sum(anp.atleast_2d(Y) * log_s, axis=1))

    g = grad(loss)
    ps = [list(p) for p in params]
    return lambda X, Y: np.concatenate([v.ravel() for W, b in g(ps, X, Y) for v in (W, b)])


def torch_gradient(params: list[tuple[Array, Array]]) -> Callable[[Array, Array], Array]:
    """PyTorch CPU autograd of the same loss, float64, one thread."""
    import torch

    torch.set_num_threads(1)
    ps = [torch.tensor(v, requires_grad=True) for p in params for v in p]

    def grad(X: Array, Y: Array) -> Array:
        a = torch.from_numpy(np.atleast_2d(X))
        for l in range(0, len(ps) - 2, 2):
            a = torch.tanh(a @ ps[l].T + ps[l + 1])
        z = a @ ps[-2].T + ps[-1]
        loss = -(torch.from_numpy(np.atleast_2d(Y)) * torch.log_softmax(z, dim=1)).sum(dim=1).mean()
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, ps)]).numpy()

    return grad


def jax_gradient(params: list[tuple[Array, Array]]) -> Callable[[Array, Array], Array]:
    """``jax.jit(jax.grad)`` of the same loss in float64; the flat gradient brought back as a NumPy array."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def loss(ps: list, X, Y):
        a = jnp.atleast_2d(X)
        for W, b in ps[:-1]:
            a = jnp.tanh(a @ W.T + b)
        z = a @ ps[-1][0].T + ps[-1][1]
        return -jnp.mean(jnp.sum(jnp.atleast_2d(Y) * jax.nn.log_softmax(z, axis=1), axis=1))

    flat = jax.jit(lambda ps, X, Y: jnp.concatenate([v.ravel() for p in jax.grad(loss)(ps, X, Y) for v in p]))
    ps = [tuple(jnp.asarray(v) for v in p) for p in params]
    return lambda X, Y: np.asarray(flat(ps, X, Y))


# --- one cell, in its own process ------------------------------------------------------
def interleaved(fns: dict[str, Callable[[], object]], rounds: int, round_s: float) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Per-call CPU seconds of each function in each of ``rounds`` interleaved rounds, and its page faults per call."""
    clock, reps = time.process_time, {}
    for name, fn in fns.items():
        fn()  # warm up: first touch of memory, caches, compilation
        t0 = clock()
        fn()
        reps[name] = max(1, int(round_s / max(clock() - t0, 1e-7)))
    times: dict[str, list[float]] = {name: [] for name in fns}
    faults = dict.fromkeys(fns, 0)
    for _ in range(rounds):
        for name, fn in fns.items():
            f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, clock()
            for _ in range(reps[name]):
                fn()
            times[name].append((clock() - t0) / reps[name])
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    return times, {name: faults[name] / (rounds * reps[name]) for name in fns}


def copier(nbytes: int = COPY_BYTES) -> Callable[[], None]:
    """``np.copyto`` of ``nbytes`` between two resident arrays: the bandwidth reference."""
    src = np.ones(nbytes // 8)
    dst = np.zeros_like(src)
    dst[:] = 2.0
    return lambda: np.copyto(dst, src)


def sample(net, batch: str, seed: int = 0) -> tuple[Array, Array]:
    """Inputs ``N(0, 1)`` and one-hot targets: ``(n,)`` for ``"1-D"``, else ``(B, n)``."""
    rng = np.random.default_rng(seed)
    n_in, n_out = net.input_size, net.sizes[-1]
    B = 1 if batch == "1-D" else int(batch)
    X, Y = rng.normal(size=(B, n_in)), np.eye(n_out)[rng.integers(0, n_out, B)]
    return (X[0], Y[0]) if batch == "1-D" else (X, Y)


def materialised_bytes(net, X: Array, Y: Array) -> int:
    """Bytes ``mode="materialised"`` writes per call: every dense factor but the loss row, and every product."""
    from jacobnet.chain.backward import backward

    trace = backward(net, X, Y, mode="structured", to_input=False)
    B = X.shape[0] if X.ndim == 2 else 1
    return sum(f.nbytes_dense for f in trace.factors[1:]) + sum(B * p.shape[0] * p.shape[1] * 8 for p in trace.products[1:])


def gradient_cell(peer: str, sizes: str, batch: str, rounds: int, round_s: float) -> dict:
    """One cell of the gradient table: the peer and the NumPy reference, interleaved in this process."""
    import jacobnet as jn
    from jacobnet.check import rel_error

    net = jn.build_network(sizes, "tanh", "softmax-ce", seed=0)
    X, Y = sample(net, batch)
    params = [(l.W, l.b) for l in net.layers if isinstance(l, jn.Dense)]
    if peer in ("jacobnet", "materialised"):
        mode = "structured" if peer == "jacobnet" else "materialised"
        fn = lambda: net.gradient(X, Y, mode=mode)  # noqa: E731
    else:
        g = {"autograd": autograd_gradient, "torch": torch_gradient, "jax": jax_gradient}[peer](params)
        fn = lambda: g(X, Y)  # noqa: E731
    numpy_grad = numpy_gradient(params)
    ref = lambda: numpy_grad(X, Y)  # noqa: E731
    err = rel_error(fn(), ref())
    if not err <= 1e-12:
        return {"error": f"{peer} disagrees with NumPy: relative error {err:.2e}"}
    fns = {"peer": fn, "numpy": ref}
    if peer == "materialised":
        fns["copy"] = copier()
    times, faults = interleaved(fns, rounds, round_s)
    out = {
        "peer_s": statistics.median(times["peer"]), "numpy_s": statistics.median(times["numpy"]),
        "ratio": statistics.median(p / n for p, n in zip(times["peer"], times["numpy"])),
        "faults": faults["peer"], "numpy_faults": faults["numpy"], "err": err,
    }
    if peer == "materialised":
        written = materialised_bytes(net, X, Y)
        bandwidth = COPY_BYTES / statistics.median(times["copy"])
        out.update(bytes=written, bound_ratio=out["peer_s"] / (written / bandwidth))
    return out


def jacobian_calls(net, X: Array, out: bool) -> tuple[Callable[[], object], int]:
    """Every layer's ``J_x`` and ``J_θ`` at its input (the checked doors), fresh or into ``out=`` buffers; bytes written."""
    _, inputs = net.run(X)
    jobs = [(p.layer.jacobian_input, a) for p, a in zip(net.positions, inputs)]
    jobs += [(p.layer.jacobian_params, a) for p, a in zip(net.positions, inputs) if p.layer.n_params]
    first = [f(a) for f, a in jobs]
    nbytes = sum(J.nbytes for J in first)
    if not out:
        return lambda: [f(a) for f, a in jobs], nbytes
    buffers = [np.empty_like(J) for J in first]
    return lambda: [f(a, out=o) for (f, a), o in zip(jobs, buffers)], nbytes


def materialise_cell(networks: list[str], batches: list[str], rounds: int, round_s: float, cap: int) -> dict:
    """The rows of the materialisation table, each timed interleaved with the copy reference."""
    import jacobnet as jn

    dense = jn.Dense(784, 128, seed=0)
    x = np.random.default_rng(0).normal(size=784)
    buf = np.empty((128, 128 * 785))
    jobs = {
        "J_θ(Dense 784→128), fresh": (lambda: dense.jacobian_params(x), buf.nbytes),
        "J_θ(Dense 784→128), out=": (lambda: dense.jacobian_params(x, out=buf), buf.nbytes),
    }
    for sizes in networks:
        net = jn.build_network(sizes, "tanh", "softmax-ce", seed=0)
        for batch in batches:
            X, _ = sample(net, batch)
            B = 1 if X.ndim == 1 else X.shape[0]
            per = sum(8 * p.layer.out_size(n) * (n + p.layer.n_params) for p, n in zip(net.positions, [net.input_size, *net.sizes]))
            if not MIN_MAT_BYTES <= B * per <= cap or batch == "1":
                continue
            for out in (False, True):
                fn, nbytes = jacobian_calls(net, X, out)
                jobs[f"every J_x, J_θ of {label(sizes)}, B={batch}, {'out=' if out else 'fresh'}"] = (fn, nbytes)
    rows = {}
    for name, (fn, nbytes) in jobs.items():  # each row with its own copy reference, interleaved
        times, _ = interleaved({"fn": fn, "copy": copier()}, rounds, round_s)
        bandwidth = COPY_BYTES / statistics.median(times["copy"])
        t = statistics.median(times["fn"])
        rows[name] = {"s": t, "bytes": nbytes, "bound_ratio": t / (nbytes / bandwidth)}
    return rows


def child(spec: dict) -> dict:
    """Run one cell described by ``spec`` (a JSON object from the parent)."""
    if spec["kind"] == "materialise":
        return materialise_cell(spec["networks"], spec["batches"], spec["rounds"], spec["round_s"], spec["cap"])
    return gradient_cell(spec["peer"], spec["sizes"], spec["batch"], spec["rounds"], spec["round_s"])


# --- the parent: one process per cell -------------------------------------------------
def interpreters(extra: list[str]) -> dict[str, str | None]:
    """For each peer, an interpreter that imports it (this one first, then ``--python peer=PATH``), or ``None``."""
    given = dict(e.split("=", 1) for e in extra)
    found: dict[str, str | None] = {"jacobnet": sys.executable, "materialised": sys.executable}
    for peer, module in IMPORTS.items():
        found[peer] = None
        for python in (sys.executable, given.get(peer)):
            if python and subprocess.run([python, "-c", f"import {module}, numpy"], capture_output=True).returncode == 0:
                found[peer] = python
                break
    return found


def run_child(python: str, spec: dict) -> dict:
    """``spec`` run by ``python`` in a fresh process with one BLAS thread; its JSON answer."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", JAX_PLATFORMS="cpu",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    done = subprocess.run([python, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def ratio(cell: dict | None) -> str:
    if cell is None:
        return "n/a"
    if "error" in cell:
        return "error"
    return f"{cell['ratio']:.2f}"


def gradient_table(cells: dict, networks: list[str], batches: list[str], found: dict) -> str:
    """The first table: one row per (network, B), ratios to NumPy."""
    from jacobnet.core.table import Table

    rows = []
    for sizes in networks:
        for batch in batches:
            get = lambda peer, s=sizes, b=batch: cells.get((peer, s, b))  # noqa: E731
            ours = get("jacobnet") or {}
            rows.append({
                "network": label(sizes), "B": batch if batch == "1-D" else f"({batch}, n)" if batch == "1" else batch,
                "NumPy µs": f"{ours['numpy_s'] * 1e6:,.1f}" if "numpy_s" in ours else "—",
                "jacobnet": ratio(get("jacobnet")), "faults": f"{ours['faults']:.0f}" if "faults" in ours else "—",
                "materialised": ratio(get("materialised")) if get("materialised") else "—",
                **{peer: ratio(get(peer)) if found[peer] else "n/a" for peer in ("autograd", "torch", "jax")},
            })
    title = "gradient time / plain NumPy's (median of interleaved rounds, one process per cell, float64, 1 thread)"
    return str(Table(title, list(rows[0]), rows))


def materialise_table(rows: dict, cells: dict) -> str:
    """The second table: materialisation time over the copy bound."""
    from jacobnet.core.memory import format_bytes
    from jacobnet.core.table import Table

    out = [{"what": name, "bytes": format_bytes(r["bytes"]), "ms": f"{r['s'] * 1e3:,.2f}", "× bound": f"{r['bound_ratio']:.2f}"}
           for name, r in rows.items()]
    for (peer, sizes, batch), cell in cells.items():
        if peer == "materialised" and "bound_ratio" in cell:
            out.append({"what": f"materialised gradient {label(sizes)}, B={batch}", "bytes": format_bytes(cell["bytes"]),
                        "ms": f"{cell['peer_s'] * 1e3:,.2f}", "× bound": f"{cell['bound_ratio']:.2f}"})
    return str(Table("materialising: time / copy bound (bytes written / a 256 MiB np.copyto's bandwidth)", list(out[0]), out))


def verdicts(cells: dict, mat: dict) -> list[str]:
    """Each target of issue 14 this script measures, with ✓ or ✗ for this run."""
    tick = lambda ok: "✓" if ok else "✗"  # noqa: E731
    ours = {k: c for k, c in cells.items() if k[0] == "jacobnet" and "ratio" in c}
    lines = []
    if ours:
        worst_key, worst = max(ours.items(), key=lambda kv: kv[1]["ratio"])
        lines.append(f"{tick(worst['ratio'] <= TARGET_STRUCTURED)} structured gradient ≤ {TARGET_STRUCTURED}× plain NumPy on every row "
                     f"(worst {worst['ratio']:.2f}×: {label(worst_key[1])}, B={worst_key[2]}; "
                     f"{sum(c['ratio'] <= TARGET_STRUCTURED for c in ours.values())}/{len(ours)} rows)")
    # JAX's time over jacobnet's, each as its ratio to the NumPy reference timed in its own process beside it
    jax = [(k, c["ratio"] / ours[("jacobnet", *k[1:])]["ratio"]) for k, c in cells.items()
           if k[0] == "jax" and "ratio" in c and k[2] not in ("1-D", "1") and ("jacobnet", *k[1:]) in ours]
    if jax:
        slow = [(k, r) for k, r in jax if r < 1]
        lines.append(f"{tick(not slow)} not slower than JAX jit at B ≥ 32 ({len(jax) - len(slow)}/{len(jax)} rows"
                     + (f"; behind on {', '.join(f'{label(k[1])} B={k[2]}' for k, _ in slow)})" if slow else ")"))
    if mat:
        fresh = [r["bound_ratio"] for r in mat.values()]
        lines.append(f"{tick(max(fresh) <= TARGET_BOUND)} materialised J_θ and per-layer Jacobians ≤ {TARGET_BOUND}× the copy bound "
                     f"(worst {max(fresh):.2f}×)")
    one_d = [(k, c) for k, c in ours.items() if k[2] == "1-D"]
    for k, c in one_d:
        two_d = ours.get(("jacobnet", k[1], "1"))
        if two_d:
            lines.append(f"  1-D sample on {label(k[1])}: {c['peer_s'] * 1e6:,.1f} µs, {c['faults']:.0f} page faults per call "
                         f"(the (1, n) batch: {two_d['peer_s'] * 1e6:,.1f} µs, {two_d['faults']:.0f})")
    return lines


def demo_cpu(runs: int = 3) -> float:
    """Median CPU seconds (user + system) of ``python -m jacobnet demo`` in a fresh process, one BLAS thread."""
    import tempfile

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-m", "jacobnet", "demo", "--out", out], env=env, capture_output=True, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke run)")
    parser.add_argument("--networks", nargs="*", default=NETWORKS, help="layer sizes, e.g. 64,32,10")
    parser.add_argument("--batches", nargs="*", default=BATCHES, help="1-D, 1, 32, 256")
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS)
    parser.add_argument("--python", action="append", default=[], metavar="PEER=PATH", help="an interpreter for a peer")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per cell (default 15; --quick 5)")
    parser.add_argument("--round-ms", type=float, default=None, help="calls per round, in ms (default 20; --quick 5)")
    parser.add_argument("--mat-cap", type=float, default=512, help="MiB a materialised call may write (default 512)")
    parser.add_argument("--no-demo", action="store_true", help="skip timing `jacobnet demo`")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    rounds = args.rounds or (5 if args.quick else 15)
    round_s = (args.round_ms or (5 if args.quick else 20)) / 1e3
    cap = int(args.mat_cap * 2**20)
    found = interpreters(args.python)
    cells = {}
    for sizes in args.networks:
        for batch in args.batches:
            for peer in args.peers:
                if found[peer] is None or (peer == "materialised" and not _fits(sizes, batch, cap)):
                    continue
                spec = {"kind": "gradient", "peer": peer, "sizes": sizes, "batch": batch, "rounds": rounds, "round_s": round_s}
                cells[(peer, sizes, batch)] = run_child(found[peer], spec)
                print(f"  {label(sizes):>16} {batch:>4} {peer:<12} {ratio(cells[(peer, sizes, batch)])}", file=sys.stderr, flush=True)
    spec = {"kind": "materialise", "networks": args.networks, "batches": args.batches, "rounds": rounds, "round_s": round_s, "cap": cap}
    mat = run_child(sys.executable, spec)
    mat = {} if "error" in mat else mat
    print(gradient_table(cells, args.networks, args.batches, found))
    print()
    if mat:
        print(materialise_table(mat, cells))
        print()
    for line in verdicts(cells, mat):
        print(line)
    if not args.no_demo:
        cpu = demo_cpu(1 if args.quick else 3)
        print(f"{'✓' if cpu < TARGET_DEMO_S else '✗'} `jacobnet demo` under {TARGET_DEMO_S:g} s of CPU ({cpu:.2f} s, median of fresh runs)")
    print("(the symbolic targets: benchmarks/bench_symbolic.py)")
    missing = [p for p in args.peers if found[p] is None]
    if missing:
        print(f"(not installed here: {', '.join(missing)}; pass --python PEER=PATH for an interpreter that has it)")
    errors = [f"{k}: {c['error']}" for k, c in cells.items() if "error" in c]
    for e in errors:
        print(f"error in {e}")


def _fits(sizes: str, batch: str, cap: int) -> bool:
    """Whether a materialised gradient of this cell writes at most ``cap`` bytes (its dense J_θ dominate)."""
    n = [int(s) for s in sizes.split(",")]
    B = 1 if batch == "1-D" else int(batch)
    return B * sum(8 * m * (m * k + m + k) for k, m in zip(n, n[1:])) <= cap


if __name__ == "__main__":
    main()
