"""The shapes the issue promises of a convolution's J_x, and the size errors between the layers of a network.

* Conv1d: block ``(o, c)`` of ``J_x`` is (strided) Toeplitz — entry ``(t, i)`` depends on ``i − t·s`` only,
  and equals ``W[o, c, i + p − t·s]`` there — on random geometries (stride, padding, windows in the padding);
* Conv2d: block ``(o, c)`` is doubly block-Toeplitz — a grid of ``H_out × H`` blocks, each ``W_out × W``,
  block ``(i, u)`` depending on ``u − i·s_h`` only (the kernel's row ``u + p_h − i·s_h``) and each block
  itself Toeplitz in ``v − j·s_w``; checked against the kernel rows, not against jacobnet's own matrix;
* a row-major input read column-major breaks the pattern (the check can fail);
* ``d_model`` or ``tokens`` that do not match the layer before, in a network: both sizes and both layers named.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import FAST

import jacobnet as jn


def toeplitz_1d(w: np.ndarray, n_out: int, n_in: int, stride: int, padding: int) -> np.ndarray:
    """``T[t, i] = w[i + padding − t·stride]`` where that is a kernel offset, else 0: written by its definition."""
    T = np.zeros((n_out, n_in))
    for t in range(n_out):
        for i in range(n_in):
            k = i + padding - t * stride
            if 0 <= k < len(w):
                T[t, i] = w[k]
    return T


def blocks(J: np.ndarray, c_out: int, c_in: int) -> np.ndarray:
    """``J`` ``(C_out·m, C_in·n)`` as its channel blocks ``(C_out, C_in, m, n)``."""
    m, n = J.shape[0] // c_out, J.shape[1] // c_in
    return J.reshape(c_out, m, c_in, n).transpose(0, 2, 1, 3)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 8), st.integers(1, 3), st.integers(0, 2),
       st.integers(0, 2**32 - 1))
@FAST
def test_conv1d_blocks_are_the_toeplitz_matrices_of_the_kernels(c_in, c_out, k, length, stride, padding, seed):
    assume(k <= length + 2 * padding)
    layer = jn.Conv1d(c_in, c_out, k, length, stride=stride, padding=padding, seed=seed)
    J = blocks(layer.jacobian_input(np.zeros(layer.n_in)), c_out, c_in)
    L_out = layer.output_shape[1]
    for o in range(c_out):
        for c in range(c_in):
            np.testing.assert_array_equal(J[o, c], toeplitz_1d(layer.W[o, c], L_out, length, stride, padding))


@given(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5),
       st.integers(1, 2), st.integers(1, 3), st.integers(0, 1), st.integers(0, 2), st.integers(0, 2**32 - 1))
@FAST
def test_conv2d_blocks_are_doubly_block_toeplitz(c_in, c_out, kh, kw, h, w, sh, sw, ph, pw, seed):
    assume(kh <= h + 2 * ph and kw <= w + 2 * pw)
    layer = jn.Conv2d(c_in, c_out, (kh, kw), h, w, stride=(sh, sw), padding=(ph, pw), seed=seed)
    _, H_out, W_out = layer.output_shape
    J = blocks(layer.jacobian_input(np.zeros(layer.n_in)), c_out, c_in)
    for o in range(c_out):
        for c in range(c_in):
            grid = J[o, c].reshape(H_out, W_out, h, w).transpose(0, 2, 1, 3)  # block (i, u) of shape (W_out, W)
            for i in range(H_out):
                for u in range(h):
                    r = u + ph - i * sh  # the kernel row this block holds, if any
                    row = layer.W[o, c, r] if 0 <= r < kh else np.zeros(kw)
                    np.testing.assert_array_equal(grid[i, u], toeplitz_1d(row, W_out, w, sw, pw))


def test_a_column_major_reading_is_not_doubly_block_toeplitz():
    """The check can fail: J_x with its input columns permuted to (C, W, H) order breaks the block pattern."""
    layer = jn.Conv2d(1, 1, (2, 3), 4, 5, seed=0)
    J = layer.jacobian_input(np.zeros(20))
    permuted = J[:, np.arange(20).reshape(4, 5).T.ravel()].reshape(3, 3, 4, 5).transpose(0, 2, 1, 3)
    want = [[toeplitz_1d(layer.W[0, 0, u - i] if 0 <= u - i < 2 else np.zeros(3), 3, 5, 1, 0) for u in range(4)] for i in range(3)]
    assert any(not np.array_equal(permuted[i, u], want[i][u]) for i in range(3) for u in range(4))


@pytest.mark.parametrize("layers, message", [
    ([jn.LayerNorm(4, tokens=3), jn.SelfAttention(3, 5, 5)],
     "LayerNorm 1 (LayerNorm(4, tokens=3)) outputs 12 features but SelfAttention 1 (SelfAttention(3, 5, 5)) expects 15 inputs"),
    ([jn.SelfAttention(3, 4, 2), jn.LayerNorm(4, tokens=3)],
     "SelfAttention 1 (SelfAttention(3, 4, 2)) outputs 6 features but LayerNorm 1 (LayerNorm(4, tokens=3)) expects 12 inputs"),
    ([jn.Dense(3, 5, tokens=4), jn.LayerNorm(5, tokens=3)],
     "Dense 1 (Dense(3, 5, tokens=4)) outputs 20 features but LayerNorm 1 (LayerNorm(5, tokens=3)) expects 15 inputs"),
    ([jn.Conv1d(2, 3, 3, 9, stride=2), jn.MaxPool1d(3, channels=3, length=6)],
     "Conv1d 1 (Conv1d(2, 3, 3, 9, stride=2, padding=0)) outputs 12 features but MaxPool1d 1 "
     "(MaxPool1d(kernel_size=3, channels=3, length=6)) expects 18 inputs"),
])
def test_sizes_that_do_not_chain_name_both_layers_and_both_sizes(layers, message):
    with pytest.raises(ValueError, match=f"^sizes do not chain: {re.escape(message)}$"):
        jn.Network(layers, jn.MSE())


@pytest.mark.parametrize("layer, x, message", [
    (jn.SelfAttention(3, 4, 2), np.ones(10), "SelfAttention: the input has 10 features, but tokens=3 × d_model=4 = 12"),
    (jn.LayerNorm(4, tokens=3), np.ones((2, 10)), "LayerNorm: the input has 10 features, but tokens=3 × n=4 = 12"),
])
def test_an_input_that_tokens_do_not_divide_names_both_sizes(layer, x, message):
    for call in (layer.forward, layer.jacobian_input, layer.jacobian_params):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            call(x)
