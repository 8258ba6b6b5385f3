"""``Stack(layers, loss)``: the composition ``L(f_L(… f_1(x)), y)`` — layers, names, parameters, values.

What every part of jacobnet that multiplies Jacobians needs to know about a
network, and nothing about how its derivatives are computed: the layers in
order and their names (:mod:`jacobnet.core.labels`: ``Dense 1, Tanh 1, Dense 2``),
the sizes that chain, the flat parameter vector ``θ`` (each layer's
``get_params()``, in layer order), the activations ``[a_0 = x, a_1, …, a_L]`` and
the loss. :class:`jacobnet.net.Network` is a ``Stack`` with doors into the
backward pass (:mod:`jacobnet.chain`), SymPy (:mod:`jacobnet.symbolic`) and
finite differences.

Blocks (:mod:`jacobnet.core.blocks`) are walked into: every layer inside one
has a :class:`Position` with a unique name (``Residual 1 › Dense 2``), its
input and output variables, and its slice of ``θ``; one layer object may sit at
several positions (shared weights), its parameters once in ``θ``.

A stack refuses what it cannot be built from, with errors that say why: a
list of :class:`~jacobnet.core.layer.Layer` instances (not one layer, not a
class) and a :class:`~jacobnet.core.losses.Loss` instance that fits the output
(:meth:`~jacobnet.core.losses.Loss.check_fits`).

>>> from jacobnet.core.layers import Dense, Tanh
>>> from jacobnet.core.losses import MSE
>>> s = Stack([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
>>> s.names, s.sizes, s.n_params
(['Dense 1', 'Tanh 1', 'Dense 2'], [4, 4, 2], 26)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from jacobnet.core.blocks import Block, chain_sizes, kind_of
from jacobnet.core.labels import Labels
from jacobnet.core.layer import Layer
from jacobnet.core.losses import Loss, PredictionError
from jacobnet.core.validate import all_finite, as_input, as_params

Array = np.ndarray


@dataclass(eq=False)
class Position:
    """One use of a layer in a network: where it sits, what it is called, what it reads and writes.

    Attributes:
        layer: the layer (the same object may sit at several positions: shared weights).
        name: unique and readable, ``Dense 2``, ``Residual 1 › Dense 2``, ``Dense 1 (use 2)``.
        out: its output variable, ``a3`` at the top, ``a2.1`` inside block ``a2`` (``a2.b.j``
            for branch ``b`` of a block with several).
        inp: its input variable (``a0`` = ``x``); a branch's first layer reads the block's input.
        index: its place in the order the forward pass runs (and the activations are stored).
        k: ``k`` of ``W^{(k)}`` of its layer (1-based among the distinct layers with parameters), or ``None``.
        params: its layer's slice of ``θ`` (empty without parameters; ``None`` for a block).
        use: ``1`` for the first use of its layer, ``2`` for the second, …
        branches: for a block, its branches' positions; ``None`` for a layer.
        top: the 0-based index in ``net.layers`` of the top-level layer it belongs to.
        via: the name of the row at its input in the backward pass's products: its input
            variable, or for a branch's first layer the branch's entry (``a2.0``, ``a3.2.0``).
        parent, branch, slot: the block it sits in (``None`` at the top), the 0-based branch,
            and its 0-based place in that branch (at the top: in ``net.layers``).
        stems: for a block, each branch's variable stem (``a2``; ``a3.1``, ``a3.2``).
    """

    layer: Layer
    name: str
    out: str
    inp: str
    index: int
    k: int | None = None
    params: slice | None = None
    use: int = 1
    branches: list[list[Position]] | None = None
    top: int = 0
    via: str = ""
    parent: Position | None = None
    branch: int = 0
    slot: int = 0
    stems: list[str] | None = None

    @property
    def is_block(self) -> bool:
        return self.branches is not None

    def branch_out(self, b: int) -> str:
        """The variable of branch ``b``'s output (``a2.1.0``, the block's input, for an empty branch)."""
        assert self.branches is not None and self.stems is not None
        return f"{self.stems[b]}.{len(self.branches[b])}"

    def walk(self) -> Iterator[Position]:
        """This position and every position inside it, in the order the forward pass runs them."""
        yield self
        for branch in self.branches or ():
            for p in branch:
                yield from p.walk()


class _LossValue:
    """``net.loss``: called, the loss's value ``net.loss(x, y)``; asked for an attribute of the loss object, where it is.

    The loss object a network was built with is ``net.loss_fn`` (PyTorch's name for it);
    ``net.loss`` computes with it. A newcomer's first guess, ``net.loss.name``, gets an
    error that names ``net.loss_fn``, not a puzzle about a bound method.
    """

    __slots__ = ("_net",)

    def __init__(self, net: Stack):
        self._net = net

    def __call__(self, x: Array, y: Array) -> float:
        return self._net.loss_value(x, y)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"net.loss is the method net.loss(x, y), the loss's value; the loss object is net.loss_fn: net.loss_fn.{name}")

    def __repr__(self) -> str:
        return f"net.loss(x, y): the value of net.loss_fn = {self._net.loss_fn!r} at the output"


class _LossDoor:
    """The descriptor behind ``Stack.loss`` (see :class:`_LossValue`); on the class, it documents itself."""

    __doc__ = "``net.loss(x, y)``: the loss's value, a float (the mean over a batch); the loss object is ``net.loss_fn``."

    def __get__(self, net: Stack | None, owner: type | None = None) -> object:
        return self if net is None else _LossValue(net)


class Stack:
    """A stack of layers followed by a loss.

    Args:
        layers: the layers ``f_1 … f_L``, applied in order (blocks among them:
            :mod:`jacobnet.core.blocks`).
        loss: the loss applied to the last layer's output.

    Raises:
        TypeError: ``layers`` is not a list of :class:`Layer` instances (a single
            layer, a class instead of an instance), or the loss not a :class:`Loss` instance.
        ValueError: consecutive sizes do not chain (names both layers and both
            sizes); a softmax twice (``Softmax`` then ``SoftmaxCrossEntropy``) or over one class.

    Names (:mod:`jacobnet.core.labels`): ``names`` numbers the layers per type
    (``Dense 1, Tanh 1, Dense 2``), counting the layers inside blocks too; a
    layer inside a block is named by its path (``Residual 1 › Dense 2``).
    Parameter labels number the distinct layers with parameters
    (:meth:`param_layer_index`); ``a_l`` is the output of ``layers[l − 1]``.

    Shared weights: one layer object may sit at several positions (in the list
    or inside blocks). Its parameters appear once in ``θ``, at its first use;
    its gradient is the sum of its uses' contributions.

    The loss: ``net.loss_fn`` is the :class:`~jacobnet.core.losses.Loss` object given
    as ``loss``; ``net.loss(x, y)`` (also :meth:`loss_value`) is its value at the output.
    """

    loss = _LossDoor()

    def __init__(self, layers: Sequence[Layer], loss: Loss | None = None):
        self.layers = checked_layers(layers)
        if loss is None:
            raise TypeError(f"{type(self).__name__}(layers, loss): the loss is missing, e.g. jn.MSE() or jn.SoftmaxCrossEntropy()")
        self.loss_fn = checked_loss(loss)
        self._plan()
        self.input_size, self.sizes = chain_sizes(self.layers, self.names, None, "the input")
        self.loss_fn.check_fits(self.layers[-1], self.names[-1], self.sizes[-1])
        # who input errors name: the first layer with a fixed input size (and what that size is made of)
        first = next((i for i, l in enumerate(self.layers) if l.n_in is not None), 0)
        self._input_name, self._input_makeup = self.names[first], self.layers[first].input_makeup()

    def _plan(self) -> None:
        """Name every position, number the distinct layers, lay out ``θ`` (each layer once, at its first use)."""
        numbers: dict[int, str] = {}  # id(layer) → "Dense 2"
        counts: dict[str, int] = {}
        uses: dict[int, int] = {}
        self.param_layers: list[Layer] = []
        """The distinct layers with parameters, in the order of ``θ`` (first use)."""
        ks: dict[int, int] = {}  # id(layer) → k, while planning
        order: list[Position] = []
        taken: dict[str, int] = {}  # name → id of its layer

        def position(layer: Layer, prefix: str, out: str, inp: str, top: int, via: str) -> Position:
            if id(layer) not in numbers:
                if getattr(layer, "title", None) is not None:  # a block or a Select given a name
                    numbers[id(layer)] = layer.title
                else:
                    kind = type(layer).__name__
                    counts[kind] = counts.get(kind, 0) + 1
                    numbers[id(layer)] = f"{kind} {counts[kind]}"
            uses[id(layer)] = use = uses.get(id(layer), 0) + 1
            base = name = prefix + numbers[id(layer)]
            if taken.get(name) == id(layer):  # the same layer met again where it was: a use
                name = f"{base} (use {use})"
            extra = 1
            while name in taken:  # another layer of that name (two blocks of one title, a title "Dense 1"): RNN (2), …
                extra += 1
                name = f"{base} ({extra})"
            taken[name] = id(layer)
            pos = Position(layer, name, out, inp, len(order), use=use, top=top, via=via)
            order.append(pos)
            if isinstance(layer, Block):
                several = sum(1 for b in layer.branches if b) > 1 or layer.concatenates
                pos.branches, pos.stems = [], []
                for b, branch in enumerate(layer.branches, start=1):
                    stem, source, seq = f"{out}.{b}" if several else out, inp, []
                    pos.stems.append(stem)
                    for j, inner in enumerate(branch, start=1):
                        # (one branch, nothing to add: its first layer's input row is the block's own)
                        entry = via if len(layer.branches) == 1 and j == 1 else f"{stem}.{j - 1}"
                        seq.append(position(inner, f"{name} › ", f"{stem}.{j}", source, top, entry))
                        seq[-1].parent, seq[-1].branch, seq[-1].slot = pos, b - 1, j - 1
                        source = seq[-1].out
                    pos.branches.append(seq)
            elif layer.n_params:
                if id(layer) not in ks:
                    self.param_layers.append(layer)
                    ks[id(layer)] = len(self.param_layers)
                pos.k = ks[id(layer)]
            else:
                pos.k = None
            return pos

        self.positions = [position(layer, "", f"a{l}", f"a{l - 1}", l - 1, f"a{l - 1}") for l, layer in enumerate(self.layers, start=1)]
        for j, pos in enumerate(self.positions):
            pos.slot = j
        self.all_positions = order
        self.names = [p.name for p in self.positions]
        ends = np.cumsum([0, *(layer.n_params for layer in self.param_layers)]).tolist()
        self._slices = [slice(a, b) for a, b in zip(ends, ends[1:])]  # (by place in param_layers: ids change on a copy)
        for p in order:
            if not p.is_block:
                p.params = self._slices[p.k - 1] if p.k else slice(0, 0)
        self._n_params = ends[-1]
        self.shared = any(p.use > 1 for p in order)
        """Whether some layer sits at more than one position."""

    # --- values -----------------------------------------------------------
    def check_input(self, x: object, copy: bool = True) -> Array:
        """``x`` as float64 ``(n_in,)`` or ``(B, n_in)``; errors name the first sized layer (``copy``: see :func:`as_input`)."""
        return as_input(x, self._input_name, self.input_size, makeup=self._input_makeup, copy=copy)

    def run(self, x: object, outputs: list[Array] | None = None, copy: bool = True) -> tuple[list[Array], list[Array]]:
        """The forward pass: ``[a_0 = x, a_1, …, a_L]`` and every position's input (by ``Position.index``).

        ``x`` is validated here, once per call. Each layer's output is checked against the
        shape it must have the first time the stack sees an input of ``x``'s shape (the sizes
        depend on nothing else); later runs at that shape only apply the layers. (The doors
        look into an output with NaN or inf: :meth:`activations`, :meth:`explain`.)
        ``outputs``: a list that receives every position's output too, by ``Position.index``
        (what the backward pass of a gradient hands each layer,
        :meth:`~jacobnet.core.layer.Layer.vjp_input`). ``copy=False`` keeps a float64 ``x``
        itself as ``a_0`` (for a caller that keeps nothing after it returns).

        >>> from jacobnet import Dense, Tanh, Residual, MSE
        >>> net = Stack([Dense(3, 2, seed=0), Residual([Tanh()])], MSE())
        >>> outs = []
        >>> acts, inputs = net.run(np.ones((4, 3)), outputs=outs)
        >>> [a.shape for a in acts], len(outs), outs[1] is acts[2], np.array_equal(outs[2], np.tanh(inputs[2]))  # the block's, its Tanh's
        ([(4, 3), (4, 2), (4, 2)], 3, True, True)
        """
        a = self.check_input(x, copy)
        n = len(self.all_positions)
        inputs: list[Array] = [None] * n  # type: ignore[list-item]
        if outputs is not None:
            outputs[:] = inputs
        seen = self.__dict__.get("_shapes_checked")
        if seen is None:
            seen = self.__dict__["_shapes_checked"] = set()
        check = a.shape not in seen
        acts = [a]
        for pos in self.positions:
            acts.append(_run(pos, acts[-1], inputs, outputs, check))
        if check:
            if len(seen) >= MAX_SHAPES_CHECKED:
                seen.clear()
            seen.add(a.shape)
        return acts, inputs

    def activations(self, x: Array) -> list[Array]:
        """``[a_0 = x, a_1, …, a_L]``: the input and every layer's output.

        An output with NaN or inf is looked into: a parameter written into in place raises,
        named (:meth:`check_params`); an overflow of the forward pass is returned as it is
        (for a loss to refuse, :meth:`explain`, and training to call a divergence).
        """
        acts = self.run(x)[0]
        if not all_finite(acts[-1]):  # NaN/inf out of a finite input: a parameter, or overflow
            self.check_params()
        return acts

    def forward(self, x: Array) -> Array:
        """The network's output ``a_L``: ``(n_out,)`` or ``(B, n_out)``."""
        return self.activations(x)[-1]

    def loss_value(self, x: Array, y: Array) -> float:
        """``L(f(x), y)``, or its mean over a batch: a float; ``net.loss(x, y)`` is the same (the loss object is :attr:`loss_fn`).

        ``y``: a target of the output's shape, or class indices for the cross-entropy losses.
        A prediction the loss cannot take raises, naming the layer that made it (:meth:`explain`);
        a loss beyond float64 is ``inf``, without NumPy's warnings (what training takes for a
        divergence; the loss object called directly raises instead).

        >>> from jacobnet import Dense, SoftmaxCrossEntropy
        >>> net = Stack([Dense(3, 2, seed=0)], SoftmaxCrossEntropy())
        >>> net.loss(np.ones(3), 1) == net.loss_value(np.ones(3), [0.0, 1.0])
        True
        >>> net.loss_fn, net.loss
        (SoftmaxCrossEntropy(), net.loss(x, y): the value of net.loss_fn = SoftmaxCrossEntropy() at the output)
        >>> net.loss.name
        Traceback (most recent call last):
        ...
        AttributeError: net.loss is the method net.loss(x, y), the loss's value; the loss object is net.loss_fn: net.loss_fn.name
        """
        yhat = self.forward(x)
        try:
            yhat, y = self.loss_fn.checked_target(yhat, y)
        except PredictionError as err:
            raise self.explain(err, x) from None
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.mean(self.loss_fn.apply(yhat, y)))

    def check_params(self) -> None:
        """Raise ``ValueError`` naming the layer and the entry (``Dense 1: the parameter W^{(1)}_{1,1} (W[0, 0]) is nan``)
        if a parameter is NaN or inf: ``layer.W`` is the layer's own array, and writing into it skips the check on assignment.

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Stack([Dense(3, 4, seed=0), Tanh(), Dense(4, 2, seed=1)], MSE())
        >>> net.layers[2].b[1] = np.nan
        >>> net.forward(np.ones(3))
        Traceback (most recent call last):
        ...
        ValueError: Dense 2: the parameter b^{(2)}_{2} (b[1]) is nan; parameters must be finite (layer.b is the layer's own array: writing into it in place skips the check made on assignment; assign finite values with layer.b = … or set_params)
        """
        for k, (layer, name) in enumerate(zip(self.param_layers, self.param_names()), start=1):
            layer.check_params(name, k)

    def explain(self, err: PredictionError, x: object) -> ValueError:
        """``err`` (the loss refused the network's output ``ŷ``), completed with where ``ŷ`` comes from.

        A non-finite ``ŷ``: a parameter written into in place (raised by :meth:`check_params`),
        else the first layer whose output overflowed float64 from a finite input. Any other:
        the layer whose output ``ŷ`` is.
        """
        if getattr(err, "explained", False):  # (explained already, by a door inside this one)
            return err
        if err.kind != "non-finite":
            return _explained(f"{err}; ŷ is the output of {self.names[-1]}", err.kind)
        self.check_params()
        outputs: list[Array] = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _, inputs = self.run(x, outputs)
        for pos in self.all_positions:  # (in the order the forward pass runs: the first to overflow)
            out = outputs[pos.index]
            if not pos.is_block and not all_finite(out):
                where = tuple(int(i) for i in np.argwhere(~np.isfinite(out))[0])
                largest = np.max(np.abs(inputs[pos.index]))
                return _explained(
                    f"{err}: the forward pass overflows float64 in {pos.name} ({pos.layer!r}), whose output is {out[where]} "
                    f"at index {where} from a finite input (up to |{pos.inp}| = {largest:.3g}); scale the input or the weights down",
                    "non-finite")
        return err

    # --- parameters -------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Total number of parameters (a shared layer's once)."""
        return self._n_params

    def param_slices(self) -> list[slice]:
        """For each of ``layers``, the parameters first used there (its own; a block's inner ones), as a slice of ``θ``."""
        out, start = [], 0
        for pos in self.positions:
            stop = max((p.params.stop for p in pos.walk() if not p.is_block and p.k and p.use == 1), default=start)
            out.append(slice(start, max(start, stop)))
            start = max(start, stop)
        return out

    def _leaf(self, layer: Layer) -> int:
        """The place of ``layer`` in :attr:`param_layers` (by identity)."""
        return next(i for i, l in enumerate(self.param_layers) if l is layer)

    def layer_slice(self, layer: Layer) -> slice:
        """Where ``layer``'s parameters sit in ``θ``."""
        return self._slices[self._leaf(layer)]

    def get_params(self) -> Array:
        """All parameters as one flat copy, each layer once: shape ``(n_params,)``."""
        if not self.param_layers:
            return np.zeros(0)
        return np.concatenate([layer.get_params() for layer in self.param_layers])

    def set_params(self, theta: Array) -> None:
        """Set all parameters from a flat vector in ``get_params()`` order."""
        theta = as_params(theta, "Network", self.n_params)
        for layer, block in zip(self.param_layers, self._slices):
            layer.set_params(theta[block])

    def param_layer_index(self, i: int) -> int | None:
        """``k`` of ``W^{(k)}`` for ``layers[i]``: 1-based among the layers with parameters, else ``None``.

        The one numbering of parameter labels (counting the distinct layers inside blocks too).

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Stack([Dense(3, 4), Tanh(), Dense(4, 2)], MSE())
        >>> [net.param_layer_index(i) for i in range(3)]
        [1, None, 2]
        """
        pos = self.positions[i]
        if pos.is_block:
            ks = [p.k for p in pos.walk() if p.k is not None]
            return min(ks) if ks else None
        return pos.k

    def theta_index(self, i: int) -> Array:
        """The entries of ``θ`` that ``layers[i].get_params()`` holds, in its order (a block's layers, each once).

        >>> from jacobnet import Dense, Tanh, Residual, MSE
        >>> d = Dense(2, 2)
        >>> net = Stack([d, Residual([Dense(2, 2), Tanh()]), Residual([Dense(2, 2), d])], MSE())   # d: used twice
        >>> net.theta_index(2)                      # the new Dense's θ, then d's (first used in layers[0])
        array([12, 13, 14, 15, 16, 17,  0,  1,  2,  3,  4,  5])
        """
        parts = [np.arange(self.layer_slice(l).start, self.layer_slice(l).stop) for l in self.layers[i].param_layers()]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def position_param_labels(self, pos: Position) -> Sequence[str]:
        """The labels of the parameters of the layer at ``pos``."""
        return pos.layer.param_labels(pos.k)

    def param_labels(self) -> Labels:
        """A readable name per parameter, e.g. ``W^{(1)}_{2,3}``, in ``θ`` order; layers with parameters numbered from 1.

        A :class:`~jacobnet.core.labels.Labels` sequence made on demand, each layer's
        labels in turn: a 5000 → 5000 layer has 25 million, and naming them costs nothing
        until they are read (indexing, slicing, iterating, ``==`` a list; ``list()`` for a list).

        >>> from jacobnet import Dense, Tanh, MSE
        >>> labels = Stack([Dense(3, 1), Tanh(), Dense(1, 2)], MSE()).param_labels()
        >>> len(labels), labels[2:]
        (8, ['W^{(1)}_{1,3}', 'b^{(1)}_{1}', 'W^{(2)}_{1,1}', 'W^{(2)}_{2,1}', 'b^{(2)}_{1}', 'b^{(2)}_{2}'])
        """
        parts = [layer.param_labels(k) for k, layer in enumerate(self.param_layers, start=1)]
        starts = np.cumsum([0, *(len(p) for p in parts)]).tolist()

        def label(j: int) -> str:
            a = bisect_right(starts, j) - 1
            return parts[a][j - starts[a]]

        return Labels(starts[-1], label)

    def param_names(self) -> list[str]:
        """The name of each distinct layer with parameters (its first position's), in ``θ`` order."""
        first: dict[int, str] = {}
        for p in self.all_positions:
            if p.k is not None:
                first.setdefault(p.k, p.name)
        return [first[k] for k in range(1, len(self.param_layers) + 1)]

    def layer_index(self, layer: int | str) -> int:
        """The 0-based position in ``layers`` of ``layer``: an index (negative counts from the end) or a name.

        >>> from jacobnet import Dense, Tanh, MSE
        >>> net = Stack([Dense(3, 4), Tanh(), Dense(4, 2)], MSE())
        >>> net.layer_index("Dense 2"), net.layer_index(-1), net.layer_index(1)
        (2, 2, 1)
        """
        L = len(self.layers)
        if isinstance(layer, str):
            if layer not in self.names:
                raise ValueError(f"no layer named {layer!r}; the layers are {', '.join(self.names)}")
            return self.names.index(layer)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -L <= layer < L:
            raise ValueError(
                f"layer must be a 0-based index into the {L} layers or a name ({', '.join(self.names)}), got {layer!r}"
            )
        return int(layer) % L

    def position(self, layer: int | str) -> Position:
        """The position of ``layer``: an index into ``layers`` or any position's name (``"Residual 1 › Dense 2"``).

        >>> from jacobnet import Dense, Tanh, Residual, MSE
        >>> net = Stack([Dense(3, 2), Residual([Dense(2, 2), Tanh()])], MSE())
        >>> p = net.position("Residual 1 › Dense 2")
        >>> p.out, p.inp, p.k, p.params, p.parent.name
        ('a2.1', 'a1', 2, slice(8, 14, None), 'Residual 1')
        """
        if isinstance(layer, str):
            for p in self.all_positions:
                if p.name == layer:
                    return p
            raise ValueError(f"no layer named {layer!r}; the layers are {', '.join(p.name for p in self.all_positions)}")
        return self.positions[self.layer_index(layer)]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}([{inner}], {self.loss_fn!r})"


def _explained(message: str, kind: str) -> PredictionError:
    """A :class:`PredictionError` that says where the prediction came from (:meth:`Stack.explain` leaves it as it is)."""
    err = PredictionError(message, kind)
    err.explained = True  # type: ignore[attr-defined]
    return err


MAX_SHAPES_CHECKED = 64
"""The input shapes a stack remembers as checked (:meth:`Stack.run`); past that it starts again."""


def _run(pos: Position, x: Array, inputs: list[Array], outputs: list[Array] | None, check: bool = True) -> Array:
    """``pos``'s output at input ``x``, storing every position's input (and output, if ``outputs``) on the way.

    ``check``: each layer's input size and output shape are checked (the first run at an input shape).
    """
    inputs[pos.index] = x
    layer = pos.layer
    if check and layer.n_in is not None and x.shape[-1] != layer.n_in:  # (sizes a size-free block changed, known only now)
        raise ValueError(f"{pos.name} ({layer!r}) expects {layer.n_in} inputs, but its input has {x.shape[-1]} features")
    if pos.branches is None:
        a = layer.checked_output(layer.apply(x), x) if check else layer.apply(x)
    else:
        outs = []
        for branch in pos.branches:
            b = x
            for p in branch:
                b = _run(p, b, inputs, outputs, check)
            outs.append(b)
        a = layer.combine(outs, x.shape[-1])
        a = layer.checked_output(a, x) if check else a
    if outputs is not None:
        outputs[pos.index] = a
    return a


def checked_layers(layers: object) -> list[Layer]:
    """``layers`` as a list of :class:`Layer` instances, or a clear error (one object may sit at several positions).

    >>> from jacobnet.core.layers import Dense, Tanh
    >>> checked_layers(Dense(3, 2))
    Traceback (most recent call last):
    ...
    TypeError: Network: layers must be a list of Layer objects, got a Dense
    """
    if isinstance(layers, (Layer, type, str)) or not isinstance(layers, Iterable):
        raise TypeError(f"Network: layers must be a list of Layer objects, got {kind_of(layers)}")
    layers = list(layers)
    if not layers:
        raise ValueError("Network needs at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"Network: layer {i} must be a jacobnet Layer, got {kind_of(layer)}")
    return layers


def checked_loss(loss: object) -> Loss:
    """``loss`` if it is a :class:`Loss` instance; a class gets "pass an instance: MSE()"."""
    if isinstance(loss, type) and issubclass(loss, Loss):
        raise TypeError(f"Network: loss must be a Loss instance; pass an instance: {loss.__name__}()")
    if not isinstance(loss, Loss):
        raise TypeError(f"Network: loss must be a jacobnet Loss, got {kind_of(loss)}")
    return loss
