"""Blocks: layers made of layers — ``Residual``, ``Concat``, ``Sum``, ``Sequential`` — and ``Select``.

A block reads one input ``x`` with several *branches* (each a list of layers,
applied in order; an empty branch is the identity) and combines their outputs:

=================  ==============================  ===========================================
block              function                        input Jacobian
=================  ==============================  ===========================================
``Residual(g)``    ``y = x + g(x)``                ``J_x = I + J_{g_k} ⋯ J_{g_1}``
``Concat(gs)``     ``y = [g_1(x); g_2(x); …]``     ``J_x = [J_{g_1}; J_{g_2}; …]`` (stacked)
``Sum(gs)``        ``y = g_1(x) + g_2(x) + …``     ``J_x = J_{g_1} + J_{g_2} + …``
``Sequential(g)``  ``y = g(x)``                    ``J_x = J_{g_k} ⋯ J_{g_1}``
=================  ==============================  ===========================================

Each branch's Jacobian is the product of its layers' (a
:class:`~jacobnet.core.compose.Composition` of their operators); a block's
``J_θ`` holds, for each of its layers with parameters, that layer's ``J_θ``
carried through the rest of its branch (``J_{g_k} ⋯ J_{g_{j+1}} J_θ(g_j)``)
and placed in the block's output (``[0; I; 0]`` for a concatenation). A layer
object may sit at several positions (shared weights): its parameters appear
once, and its columns of ``J_θ`` are the sum of its uses' contributions.

Blocks nest and sit anywhere in a network; a network does not treat them as
opaque layers but walks into their branches (:mod:`jacobnet.core.stack`), so
that a backward pass shows every path. Standing alone, a block is a layer like
any other: ``forward``, ``jacobian_input``, ``jacobian_params``, its SymPy
forward and closed forms (composed from its parts').

>>> import numpy as np
>>> from jacobnet.core.layers import Dense, Tanh
>>> r = Residual([Dense(3, 3, seed=0), Tanh()])
>>> x = np.array([0.5, -1.0, 2.0])
>>> r.jacobian_input_op(x).kind
'I + [diagonal · dense]'
>>> J = r.jacobian_input(x)
>>> bool(np.allclose(J - np.eye(3), Tanh().jacobian_input(r.layers[0].forward(x)) @ r.layers[0].W))
True
>>> c = Concat([Dense(3, 2, seed=1), [Dense(3, 4, seed=2), Tanh()]])
>>> c.out_size(3), c.n_params, c.jacobian_params(x).shape
(6, 24, (6, 24))
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Sequence

import numpy as np

from jacobnet.core.compose import Composition, Identity, OperatorSum, RowBlock, VStack
from jacobnet.core.labels import Labels
from jacobnet.core.layer import Layer
from jacobnet.core.operator import Operator
from jacobnet.core.operators import Empty, HStack
from jacobnet.core.selection import Selection
from jacobnet.core.validate import as_params, positive_int

Array = np.ndarray


def kind_of(obj: object) -> str:
    """``"a Dense"``, ``"the class Tanh (pass an instance: Tanh())"``, ``"an int"``: for error messages.

    >>> kind_of("tanh"), kind_of(7), kind_of(None), kind_of(np.tanh)
    ('a str', 'an int', 'a NoneType', 'a ufunc')
    """
    if isinstance(obj, type):
        return f"the class {obj.__name__} (pass an instance: {obj.__name__}())"
    name = type(obj).__name__
    spoken_vowel = name[:1].lower() in "aeio" or name.startswith("nd")  # (an int, an ndarray; a ufunc)
    return f"{'an' if spoken_vowel else 'a'} {name}"


def chain_sizes(layers: Sequence[Layer], names: Sequence[str], n: int | None, source: str, who: str = "") -> tuple[int | None, list[int | None]]:
    """The input size the layers need and each one's output size, starting from ``n`` (``None``: any).

    Raises a ``ValueError`` naming both layers (and ``who``, the block) where the sizes do not chain.
    After a size-free layer that changes the size (a concatenation of elementwise branches)
    the input size is not inferred: ``None``, checked when the layers run.

    >>> from jacobnet.core.layers import Dense, Tanh
    >>> chain_sizes([Tanh(), Dense(3, 2)], ["Tanh 1", "Dense 1"], None, "the input")
    (3, [None, 2])
    >>> chain_sizes([Concat([[Tanh()], []]), Dense(6, 2)], ["Concat 1", "Dense 1"], None, "the input")
    (None, [None, 2])
    """
    input_size, sizes, size, known = None, [], n, True
    for name, layer in zip(names, layers):
        if size is None and layer.n_in is None and _changes_size(layer):
            known = False  # a size-free layer that changes the size: what comes before it is unknown until run
        if layer.n_in is not None:
            if size is None:
                input_size = layer.n_in if known else None
            elif size != layer.n_in:
                raise ValueError(f"{who}sizes do not chain: {source} outputs {size} features but {name} ({layer!r}) expects {layer.n_in} inputs")
            size = layer.n_in
        if size is not None:
            size = layer.out_size(size)
            if layer.n_in is not None:
                source = f"{name} ({layer!r})"
        sizes.append(size)
    return (n if n is not None else input_size), sizes


def _changes_size(layer: Layer) -> bool:
    """Whether a size-free layer's output size may differ from its input's (probed at a few sizes; one it refuses counts)."""
    for k in (1, 2, 3):
        try:
            if layer.out_size(k) != k:
                return True
        except ValueError:  # valid at some sizes only (a block whose later layers fix one)
            return True
    return False


def layer_list(obj: object, who: str, what: str) -> list[Layer]:
    """``obj`` as a list of :class:`Layer` instances (one layer is a list of one), or a ``TypeError`` naming ``who``."""
    if isinstance(obj, Layer):
        return [obj]
    if isinstance(obj, (type, str, bytes)) or not isinstance(obj, Iterable):
        raise TypeError(f"{who}: {what} must be a layer or a list of layers, got {kind_of(obj)}")
    items = list(obj)
    for i, item in enumerate(items):
        if not isinstance(item, Layer):
            raise TypeError(f"{who}: {what}, item {i + 1}, must be a jacobnet Layer, got {kind_of(item)}")
    return items


def branch_lists(branches: object, who: str) -> list[list[Layer]]:
    """``branches`` (each a layer or a list of layers) as lists of layers, or a ``TypeError`` naming ``who``."""
    if isinstance(branches, (Layer, str, bytes)) or not isinstance(branches, Iterable):
        raise TypeError(f"{who}: branches must be a list of branches (each a layer or a list of layers), got {kind_of(branches)}")
    return [layer_list(b, who, f"branch {i}") for i, b in enumerate(branches, start=1)]


class Block(Layer):
    """Branches that read the same input, combined by adding (``concatenates = False``) or stacking their outputs.

    Subclasses set ``concatenates`` and check their own shape rules in
    :meth:`check_sizes`; everything else — forward, Jacobians, parameters,
    symbolic forms, the key — is here, built from the branches' layers.

    Attributes:
        branches: the branches, each a list of layers (``[]`` is the identity).
        title: a display name that replaces ``Residual 1`` in a network's names (or ``None``).
    """

    concatenates: bool = False

    def __init__(self, branches: Sequence[Sequence[Layer]], name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 60):
            raise ValueError(f"{type(self).__name__}: name must be a short non-empty string, got {name!r}")
        self.branches = [list(b) for b in branches]
        self.title = name
        if not self.branches or self.branches == [[]]:  # (two empty branches are well defined: [x; x], x + x)
            raise ValueError(f"{self.name}: the block is empty: give it at least one layer")
        self.n_in = self._input_size()
        if self.n_in is not None:
            self.out_size(self.n_in)

    @property
    def name(self) -> str:
        return self.title or type(self).__name__

    # --- sizes ----------------------------------------------------------------------
    def _input_size(self) -> int | None:
        """The input size the branches need (one for all), or ``None`` if none fixes it."""
        found: list[tuple[int, int]] = []
        for b, branch in enumerate(self.branches, start=1):
            n, _ = chain_sizes(branch, self._item_names(branch), None, "the block's input", self._who(b - 1))
            if n is not None:
                found.append((b, n))
        if len({n for _, n in found}) > 1:
            parts = ", ".join(f"branch {b} expects {n}" for b, n in found)
            raise ValueError(f"{self.name}: its branches read the same input but expect different sizes: {parts}")
        return found[0][1] if found else None

    def branch_sizes(self, n_in: int) -> list[int]:
        """Each branch's output size for an input of size ``n_in``."""
        out = []
        for b, branch in enumerate(self.branches, start=1):
            _, sizes = chain_sizes(branch, self._item_names(branch), n_in, "the block's input", self._who(b - 1))
            out.append(sizes[-1] if sizes else n_in)
        return out

    def out_size(self, n_in: int) -> int:
        sizes = self.branch_sizes(n_in)
        self.check_sizes(n_in, sizes)
        return sum(sizes) if self.concatenates else sizes[0]

    def check_sizes(self, n_in: int, sizes: list[int]) -> None:
        """Raise a ``ValueError`` naming the block and the sizes if the branches cannot be combined."""
        if not self.concatenates and len(set(sizes)) > 1:
            parts = ", ".join(f"branch {b} gives {n}" for b, n in enumerate(sizes, start=1))
            raise ValueError(f"{self.name}: adds its branches' outputs, which must have one size, but {parts}")

    @staticmethod
    def _item_names(branch: Sequence[Layer]) -> list[str]:
        return [f"layer {j}" for j in range(1, len(branch) + 1)]

    def _who(self, b: int) -> str:
        return f"{self.name} ({self.branch_name(b)}): " if len(self.branches) > 1 else f"{self.name}: "

    @property
    def outputs_probabilities(self) -> bool:  # type: ignore[override]
        """A block of one branch outputs what its last layer outputs (a ``Softmax``: probabilities)."""
        return len(self.branches) == 1 and bool(self.branches[0]) and self.branches[0][-1].outputs_probabilities

    def input_makeup(self) -> str | None:
        """What its first layer with a fixed input size says its input is made of."""
        for branch in self.branches:
            for layer in branch:
                if layer.n_in is not None:
                    return layer.input_makeup()
        return None

    # --- values -----------------------------------------------------------------------
    def combine(self, outputs: Sequence[Array], n_in: int) -> Array:
        """The block's output from its branches' outputs (input size ``n_in``): their sum, or their concatenation."""
        self.check_sizes(n_in, [o.shape[-1] for o in outputs])
        if self.concatenates:
            return np.concatenate(outputs, axis=-1)
        out = outputs[0].copy() if len(outputs) > 1 else outputs[0]
        for o in outputs[1:]:
            out += o
        return out

    def branch_row(self, g: Array, b: int, sizes: Sequence[int]) -> Array:
        """The part of a row ``g = ∂L/∂y`` that reaches branch ``b``'s output: ``g`` itself, or its columns of branch ``b``."""
        if not self.concatenates:
            return g
        start = sum(sizes[:b])
        return g[..., start : start + sizes[b]]

    def placement(self, b: int, sizes: Sequence[int], batch: int | None) -> Operator | None:
        """``∂y/∂y_b``, where branch ``b``'s output sits in the block's: ``[0; I; 0]``, or ``None`` (the identity) for a sum."""
        if not self.concatenates:
            return None
        return RowBlock(sizes[b], sum(sizes[:b]), sum(sizes), batch)

    def branch_name(self, b: int) -> str:
        """How a path through branch ``b`` (0-based) is called: ``skip`` (an empty branch), else ``branch b + 1``."""
        return "skip" if not self.branches[b] else f"branch {b + 1}"

    def branch_activations(self, x: Array) -> list[list[Array]]:
        """For each branch, ``[x, a_1, …, a_k]``: its input and each of its layers' outputs."""
        out = []
        for branch in self.branches:
            acts = [x]
            for layer in branch:
                acts.append(layer.checked_output(layer.apply(acts[-1]), acts[-1]))
            out.append(acts)
        return out

    def apply(self, x: Array) -> Array:
        return self.combine([acts[-1] for acts in self.branch_activations(x)], x.shape[-1])

    # --- Jacobians ----------------------------------------------------------------------
    def jacobian_input_op(self, x: Array) -> Operator:
        """``I + J_g`` (a sum), ``[J_{g_1}; J_{g_2}; …]`` (a concatenation): each branch the product of its layers' ``J_x``."""
        batch = x.shape[0] if x.ndim == 2 else None
        ops = []
        for branch, acts in zip(self.branches, self.branch_activations(x)):
            parts = [layer.jacobian_op(a, "input") for layer, a in zip(reversed(branch), reversed(acts[:-1]))]
            ops.append(_product(parts) if parts else Identity(x.shape[-1], batch))
        if len(ops) == 1:
            return ops[0]
        return VStack(ops) if self.concatenates else OperatorSum(ops)

    def param_parts(self, x: Array) -> dict[int, list[Operator]]:
        """For each of the block's layers with parameters (by ``id``): its uses' ``J_θ``, each carried to the block's output."""
        parts: dict[int, list[Operator]] = {}
        batch = x.shape[0] if x.ndim == 2 else None
        acts_all = self.branch_activations(x)
        sizes = [acts[-1].shape[-1] for acts in acts_all]
        for b, (branch, acts) in enumerate(zip(self.branches, acts_all)):
            place = self.placement(b, sizes, batch)
            carry: list[Operator] = [] if place is None else [place]  # ∂y/∂a_j, leftmost first
            for j in range(len(branch) - 1, -1, -1):
                layer, a = branch[j], acts[j]
                if isinstance(layer, Block):
                    for key, ops in layer.param_parts(a).items():
                        parts.setdefault(key, []).extend(_product([*carry, op]) for op in ops)
                elif layer.n_params:
                    parts.setdefault(id(layer), []).append(_product([*carry, layer.jacobian_op(a, "params")]))
                if j:
                    carry.append(layer.jacobian_op(a, "input"))
        return parts

    def jacobian_params_op(self, x: Array) -> Operator:
        """``[Σ_uses J_{…} J_θ(layer) | …]``: one block of columns per layer with parameters, in ``get_params()`` order."""
        layers = self.param_layers()
        if not layers:
            return Empty(self.out_size(x.shape[-1]), x.shape[0] if x.ndim == 2 else None)
        parts = self.param_parts(x)
        cols = [parts[id(layer)][0] if len(parts[id(layer)]) == 1 else OperatorSum(parts[id(layer)]) for layer in layers]
        return cols[0] if len(cols) == 1 else HStack(cols)

    # --- parameters: those of its layers, each layer once ---------------------------------------
    def param_layers(self) -> list[Layer]:
        """The distinct layers with parameters inside the block (nested blocks included), in order of first use."""
        seen: dict[int, Layer] = {}
        for branch in self.branches:
            for layer in branch:
                for leaf in layer.param_layers():
                    seen.setdefault(id(leaf), leaf)
        return list(seen.values())

    @property
    def n_params(self) -> int:
        return sum(layer.n_params for layer in self.param_layers())

    def get_params(self) -> Array:
        layers = self.param_layers()
        return np.concatenate([layer.get_params() for layer in layers]) if layers else np.zeros(0)

    def set_params(self, theta: object) -> None:
        theta, start = as_params(theta, self.name, self.n_params), 0
        for layer in self.param_layers():
            layer.set_params(theta[start : start + layer.n_params])
            start += layer.n_params

    def param_labels(self, layer_index: int | None = None) -> Sequence[str]:
        """Its layers' labels, numbered ``k, k + 1, …`` from ``layer_index`` (from 1 without it)."""
        k = 1 if layer_index is None else layer_index
        return concat_labels([layer.param_labels(k + i) for i, layer in enumerate(self.param_layers())])

    # --- symbolic forms, composed from the parts' ------------------------------------------------
    def _thetas(self, theta: Sequence[Any]) -> dict[int, list[Any]]:
        out, start = {}, 0
        for layer in self.param_layers():
            out[id(layer)] = list(theta[start : start + layer.n_params])
            start += layer.n_params
        return out

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        """The branches' SymPy forwards composed and combined; a shared layer uses its one set of symbols."""
        return self._sympy_run(list(x), self._thetas(theta))[0]

    def _sympy_run(self, x: list[Any], thetas: dict[int, list[Any]]) -> tuple[list[Any], list[list[list[Any]]]]:
        outs, acts_all = [], []
        for branch in self.branches:
            acts = [x]
            for layer in branch:
                if isinstance(layer, Block):
                    acts.append(layer._sympy_run(acts[-1], thetas)[0])
                else:
                    acts.append(list(layer.sympy_forward(acts[-1], thetas.get(id(layer), []))))
            outs.append(acts[-1])
            acts_all.append(acts)
        if self.concatenates:
            return [e for o in outs for e in o], acts_all
        return [sum(es[1:], es[0]) for es in zip(*outs)], acts_all

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J_x`` and ``J_θ`` composed from the parts' closed forms (never from SymPy's derivative of the block)."""
        import sympy as sp

        thetas = self._thetas(theta)
        J_x, cols = self._sympy_jacobians(list(x), thetas)
        blocks = [cols[id(layer)] for layer in self.param_layers()]
        return J_x, sp.Matrix.hstack(*blocks) if blocks else sp.zeros(J_x.shape[0], 0)

    def _sympy_jacobians(self, x: list[Any], thetas: dict[int, list[Any]]) -> tuple[Any, dict[int, Any]]:
        import sympy as sp

        out, acts_all = self._sympy_run(x, thetas)
        sizes = [len(acts[-1]) for acts in acts_all]
        J_branches, cols = [], {}
        for b, (branch, acts) in enumerate(zip(self.branches, acts_all)):
            offset = sum(sizes[:b])
            carry = sp.eye(sizes[b])
            for j in range(len(branch) - 1, -1, -1):
                layer, a = branch[j], acts[j]
                if isinstance(layer, Block):
                    J_xj, sub = layer._sympy_jacobians(a, thetas)
                else:
                    J_xj, J_tj = layer.closed_form(a, thetas.get(id(layer), []))
                    sub = {id(layer): J_tj} if layer.n_params else {}
                for key, J_t in sub.items():
                    part = carry * J_t
                    if self.concatenates:
                        part = sp.Matrix.vstack(sp.zeros(offset, part.shape[1]), part, sp.zeros(sum(sizes) - offset - sizes[b], part.shape[1]))
                    cols[key] = cols[key] + part if key in cols else part
                carry = carry * J_xj
            J_branches.append(carry)
        J_x = sp.Matrix.vstack(*J_branches) if self.concatenates else sum(J_branches[1:], J_branches[0])
        return J_x, cols

    # --- identity ----------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, object]:
        return {"branches": self.branches}

    def key(self) -> tuple:
        """The class, and each branch's layers' keys; a layer met again is keyed by where it was first met."""
        return (type(self).__module__, type(self).__qualname__, self._structure({}))

    def _structure(self, seen: dict[int, int]) -> tuple:
        out = []
        for branch in self.branches:
            items = []
            for layer in branch:
                if id(layer) in seen:
                    items.append(("shared", seen[id(layer)]))
                    continue
                seen[id(layer)] = len(seen)
                items.append(layer._structure(seen) if isinstance(layer, Block) else layer.key())
            out.append(tuple(items))
        return (self.concatenates, tuple(out))

    def __repr__(self) -> str:
        inner = ", ".join(_branch_repr(b) for b in self.branches)
        name = "" if self.title is None else f", name={self.title!r}"
        return f"{type(self).__name__}([{inner}]{name})"


def _branch_repr(branch: list[Layer]) -> str:
    return "[" + ", ".join(repr(layer) for layer in branch) + "]"


def _product(ops: list[Operator]) -> Operator:
    """``A_1 ⋯ A_k``, or the one operator itself."""
    return ops[0] if len(ops) == 1 else Composition(ops)


def concat_labels(parts: Sequence[Sequence[str]]) -> Sequence[str]:
    """The label sequences one after another, made on demand.

    >>> list(concat_labels([["a", "b"], ["c"]]))
    ['a', 'b', 'c']
    """
    starts = np.cumsum([0] + [len(p) for p in parts]).tolist()

    def label(j: int) -> str:
        i = int(np.searchsorted(starts, j, side="right")) - 1
        return parts[i][j - starts[i]]

    return Labels(starts[-1], label)


class _OneList(Block):
    """A block built from one list of layers, ``layers``: shown and keyed as it was built."""

    layers: list[Layer]

    def hyperparameters(self) -> dict[str, object]:
        return {"layers": self.layers}

    def __repr__(self) -> str:
        name = "" if self.title is None else f", name={self.title!r}"
        return f"{type(self).__name__}({_branch_repr(self.layers)}{name})"


class Residual(_OneList):
    """``y = x + g(x)``, ``g`` the composition of ``layers`` (it must map ``n → n``).

    ``J_x = I + J_x(g)`` (the identity is the skip path); ``J_θ`` is the inner
    layers' ``J_θ`` carried through the rest of the block. A chain through ``k``
    residual blocks is a sum of ``2^k`` path products.

    >>> import numpy as np
    >>> from jacobnet.core.layers import Dense, Tanh
    >>> Residual([Dense(2, 3)])
    Traceback (most recent call last):
    ...
    ValueError: Residual: y = x + g(x) needs g to map n → n, but g = [Dense(2, 3)] maps 2 → 3
    """

    def __init__(self, layers: Sequence[Layer], *, name: str | None = None):
        self.layers = layer_list(layers, name or "Residual", "layers")
        if not self.layers:
            raise ValueError(f"{name or 'Residual'}: the block is empty: give it at least one layer")
        super().__init__([[], self.layers], name=name)

    def branch_name(self, b: int) -> str:
        """``skip`` (the identity) or ``inner`` (``g``)."""
        return "inner" if b else "skip"

    def check_sizes(self, n_in: int, sizes: list[int]) -> None:
        if sizes[1] != n_in:
            raise ValueError(f"{self.name}: y = x + g(x) needs g to map n → n, but g = {_branch_repr(self.layers)} maps {n_in} → {sizes[1]}")




class Concat(Block):
    """``y = [g_1(x); g_2(x); …]``: branches reading the same ``x``, outputs stacked.

    ``J_x = [J_{g_1}; J_{g_2}; …]``; the backward row ``∂L/∂x`` is the sum over
    branches of the row's slice for that branch times the branch's Jacobian.

    >>> from jacobnet.core.layers import Dense, Tanh
    >>> Concat([Dense(3, 2), [Dense(3, 1), Tanh()]]).out_size(3)
    3
    >>> Concat([Dense(3, 2), "tanh"])
    Traceback (most recent call last):
    ...
    TypeError: Concat: branch 2 must be a layer or a list of layers, got a str
    """

    concatenates = True

    def __init__(self, branches: Sequence[Layer | Sequence[Layer]], *, name: str | None = None):
        super().__init__(branch_lists(branches, name or type(self).__name__), name=name)


class Sum(Block):
    """``y = g_1(x) + g_2(x) + …``: branches reading the same ``x``, outputs added (one size for all).

    >>> from jacobnet.core.layers import Dense
    >>> Sum([Dense(3, 2), Dense(3, 2)]).jacobian_input_op(np.ones(3)).kind
    'dense + dense'
    """

    def __init__(self, branches: Sequence[Layer | Sequence[Layer]], *, name: str | None = None):
        super().__init__(branch_lists(branches, name or type(self).__name__), name=name)


class Sequential(_OneList):
    """``y = f_k(⋯ f_1(x))``: layers in order, as one block (``J_x = J_{f_k} ⋯ J_{f_1}``).

    >>> from jacobnet.core.layers import Dense, Tanh
    >>> Sequential([Dense(3, 2), Tanh()]).jacobian_input_op(np.ones(3)).kind
    '[diagonal · dense]'
    """

    def __init__(self, layers: Sequence[Layer], *, name: str | None = None):
        self.layers = layer_list(layers, name or "Sequential", "layers")
        super().__init__([self.layers], name=name)




class Select(Layer):
    """``y_i = x_{index_i}`` (``0`` where ``index_i = −1``): entries picked, repeated, reordered or padded.

    ``J_x`` is a selection matrix: one 1 per row, at the picked entry (a zero
    row for a padded one). Parameter-free.

    >>> import numpy as np
    >>> s = Select(3, [2, -1, 0])
    >>> s.forward(np.array([1.0, 2.0, 3.0])), s.jacobian_input(np.zeros(3))
    (array([3., 0., 1.]), array([[0., 0., 1.],
           [0., 0., 0.],
           [1., 0., 0.]]))
    """

    def __init__(self, n_in: int, index: Sequence[int], *, name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 60):
            raise ValueError(f"Select: name must be a short non-empty string, got {name!r}")
        self.title = name
        """A display name that replaces ``Select 1`` in a network's names (``x_2``: which part it picks), or ``None``."""
        self.n_in = positive_int(n_in, "Select: n_in")
        idx = np.asarray(index)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(f"Select: index must be a non-empty list of integers, got {np.asarray(index).dtype} of shape {idx.shape}")
        if ((idx < -1) | (idx >= self.n_in)).any():
            bad = idx[(idx < -1) | (idx >= self.n_in)][0]
            raise ValueError(f"Select: index {bad} is out of range for an input of {self.n_in} (0 … {self.n_in - 1}, or −1 for a zero)")
        self.index = idx.astype(np.int64)

    @property
    def name(self) -> str:
        return self.title or type(self).__name__

    def out_size(self, n_in: int) -> int:
        return len(self.index)

    def apply(self, x: Array) -> Array:
        out = x[..., np.maximum(self.index, 0)]
        out[..., self.index < 0] = 0.0
        return out

    def jacobian_input_op(self, x: Array) -> Operator:
        return Selection(self.index, self.n_in, batch=x.shape[0] if x.ndim == 2 else None)

    def vjp_tangent(self, x: Array, g: Array, dx: Array, dtheta: Array) -> tuple[Array, Array]:
        """``R{J_x} = 0``: ``(0, ·)`` — ``(…, p, n_in)`` and ``(p, 0)``. Picking entries is linear: ``J_x`` is constant.

        >>> import numpy as np
        >>> gx, gt = Select(3, [2, -1]).vjp_tangent(np.ones(3), np.ones(2), np.ones((4, 3)), np.zeros((4, 0)))
        >>> gx.shape, gt.shape, bool((gx == 0).all())
        ((4, 3), (4, 0), True)
        """
        return np.zeros(dx.shape), np.zeros((dtheta.shape[0], 0))

    def sympy_forward(self, x: Sequence[Any], theta: Sequence[Any]) -> list[Any]:
        import sympy as sp

        return [x[i] if i >= 0 else sp.Integer(0) for i in self.index.tolist()]

    def closed_form(self, x: Sequence[Any], theta: Sequence[Any]) -> tuple[Any, Any]:
        """``J[i, index_i] = 1`` (a zero row where ``index_i = −1``); ``J_θ`` ``(m, 0)``."""
        import sympy as sp

        J = sp.zeros(len(self.index), len(x))
        for i, j in enumerate(self.index.tolist()):
            if j >= 0:
                J[i, j] = 1
        return J, sp.zeros(len(self.index), 0)

    def hyperparameters(self) -> dict[str, object]:
        return {"n_in": self.n_in, "index": self.index}  # (not the display name)

    def __repr__(self) -> str:
        name = "" if self.title is None else f", name={self.title!r}"
        return f"Select({self.n_in}, {self.index.tolist()}{name})"
