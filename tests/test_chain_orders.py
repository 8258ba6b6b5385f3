"""Parenthesisations: every order of a random structured chain gives the same matrix,
and the dynamic programme finds the cheapest one (checked by brute force).

Chains are drawn from every structured operator in any order (dense, shared
``W``, diagonal, diag − rank-1, ``[I ⊗ xᵀ | I]``), so every kernel pair —
structured · structured included — is evaluated and costed. Agreement is
measured against ``max |F_0|⋯|F_k|``, the scale rounding errors of any order
are bounded by (a norm-wise relative error that cancellation cannot inflate).
"""

from __future__ import annotations

from math import comb

import numpy as np
from chain_strategies import abs_product, operator_chains
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST

from jacobnet.chain import Chain
from jacobnet.chain.factor import Factor
from jacobnet.chain.orders import all_trees, forward_tree, leaves, reverse_tree
from jacobnet.core.operators import Diagonal, Matrix
from jacobnet.core.validate import MODES

TOL = 1e-12


def catalan(n: int) -> int:
    return comb(2 * n, n) // (n + 1)


def brute_force(chain: Chain, mode: str) -> int:
    return min(chain.flops(t, mode) for t in all_trees(len(chain.factors)))


def test_all_trees_are_the_catalan_number_of_distinct_parenthesisations():
    for n in range(1, 8):
        trees = list(all_trees(n))
        assert len(trees) == catalan(n - 1) == len(set(trees))
        assert all(leaves(t) == list(range(n)) for t in trees)
    assert reverse_tree(1) == forward_tree(1) == 0


@FAST
@given(operator_chains(max_len=6, batch=None))
def test_every_parenthesisation_gives_the_same_matrix(chain):
    ref = chain.evaluate("reverse")
    scale = abs_product(chain)
    for tree in all_trees(len(chain.factors)):
        for mode in ("materialised", "structured"):
            out = chain.evaluate(tree, mode=mode)
            assert out.shape == ref.shape
            assert np.max(np.abs(out - ref)) <= TOL * scale


@FAST
@given(operator_chains(max_len=6, batch=None), st.sampled_from(MODES))
def test_dynamic_programme_matches_brute_force(chain, mode):
    best = brute_force(chain, mode)
    assert chain.flops("optimal", mode) == best
    assert best <= min(chain.flops("reverse", mode), chain.flops("forward", mode))


@FAST
@given(operator_chains(max_len=6), st.sampled_from(MODES))
def test_steps_cost_what_flops_and_bytes_count(chain, mode):
    steps = list(chain.steps("optimal", mode))
    assert len(steps) == len(chain.factors) - 1
    assert sum(s.flops for s in steps) == chain.flops("optimal", mode)
    assert sum(s.bytes for s in steps) == chain.bytes("optimal", mode)


def test_dense_dp_on_the_textbook_example():
    """CLRS 15.2: dimensions 30,35,15,5,10,20,25 — optimum 15 125 scalar multiplications."""
    dims = [30, 35, 15, 5, 10, 20, 25]
    chain = Chain.from_matrices([np.ones((a, b)) for a, b in zip(dims, dims[1:])])
    assert chain.flops("optimal") == 15125
    assert chain.tree("optimal") == ((0, (1, 2)), ((3, 4), 5))


def test_structure_changes_which_order_is_cheapest():
    """diag · diag stays diagonal: with structure, pairing the two diagonals first wins."""
    rng = np.random.default_rng(0)
    n = 50
    factors = [
        Factor("W", Matrix(rng.normal(size=(40, n)))),
        Factor("D1", Diagonal(rng.normal(size=n))),
        Factor("D2", Diagonal(rng.normal(size=n))),
        Factor("V", Matrix(rng.normal(size=(n, 60)))),
    ]
    chain = Chain("P", factors)
    dense_tree, structured_tree = chain.tree("optimal"), chain.tree("optimal", mode="structured")
    assert dense_tree == (((0, 1), 2), 3)
    assert structured_tree == ((0, (1, 2)), 3)  # the two diagonals together
    # dense: 40·50·50 + 40·50·50 + 40·50·60 against 50·50·50 + 40·50·50 + 40·50·60
    assert (chain.flops(dense_tree), chain.flops(structured_tree)) == (320_000, 345_000)
    # structured: 40·50 + 40·50 + 40·50·60 (two column scalings) against 50 + 40·50 + 40·50·60
    assert chain.flops(dense_tree, mode="structured") == 124_000
    assert chain.flops(structured_tree, mode="structured") == 122_050
    assert np.allclose(chain.evaluate(structured_tree, mode="structured"), chain.evaluate(dense_tree), rtol=1e-12, atol=0)
