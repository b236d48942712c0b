"""Splitting operands into equal blocks (zero padding) and the complex packing of real blocks.

Real codes pair real blocks into complex ones, ``C_j = X_{2j} + i·X_{2j+1}``, encode those
at points on the unit circle, and hand each worker its complex share as a real array
with the real and imaginary parts stacked (:func:`encode_paired`: one real GEMM with the
:func:`rotation_embedding` of the complex generator). A worker's real product of stacked shares
is then a complex product in disguise, so it does exactly the work of a real code
while the decoder solves DFT-like systems (Ramamoorthy & Tang's rotation embedding).

References:
    A. Ramamoorthy, L. Tang, "Numerically stable coded matrix computations via circulant
    and rotation matrix embeddings", IEEE T-IT 2022, arXiv:1910.06515.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from .checks import check_blocks

__all__ = [
    "split",
    "unpair",
    "unit_circle",
    "rotation_embedding",
    "encode_paired",
    "best_conditioned",
    "stack_blocks",
]


def split(x: np.ndarray, parts: int, axis: int) -> np.ndarray:
    """Cut ``x`` into ``parts`` equal blocks along ``axis`` (zero-padding the end).

    Returns an array with a new leading axis of length ``parts``.
    """
    size = x.shape[axis]
    block = -(-size // parts)
    pad = block * parts - size
    if pad:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (0, pad)
        x = np.pad(x, widths)
    return np.stack(np.split(x, parts, axis=axis))


def unpair(symbols: np.ndarray) -> np.ndarray:
    """Real and imaginary parts of ``symbols`` interleaved along the leading axis."""
    out = np.empty((2 * symbols.shape[0],) + symbols.shape[1:], dtype=symbols.real.dtype)
    out[0::2], out[1::2] = symbols.real, symbols.imag
    return out


def unit_circle(n: int) -> np.ndarray:
    """The n-th roots of unity ``exp(2πi·j/n)``, j = 0..n−1: the evaluation points of real codes."""
    return np.exp(2j * np.pi * np.arange(n) / n)


def rotation_embedding(matrix: np.ndarray) -> np.ndarray:
    """The real ``2·rows × 2·cols`` matrix acting on interleaved (Re, Im) pairs as ``matrix`` does.

    Entry ``m = a + ib`` becomes the 2 × 2 block ``[[a, −b], [b, a]]`` (a scaled rotation), so
    ``y = M z`` over the complex numbers is ``ỹ = R(M) z̃`` with ``z̃ = (Re z₀, Im z₀, Re z₁, …)``:
    one real GEMM, no complex arrays.

    >>> rotation_embedding(np.array([[1j]]))
    array([[ 0., -1.],
           [ 1.,  0.]])
    """
    rows, cols = matrix.shape
    out = np.empty((2 * rows, 2 * cols))
    out[0::2, 0::2] = out[1::2, 1::2] = matrix.real
    out[1::2, 0::2] = matrix.imag
    out[0::2, 1::2] = -matrix.imag
    return out


def encode_paired(generator: np.ndarray, x: np.ndarray, axis: int) -> list[np.ndarray]:
    """The shares ``[Re S_i, Im S_i]`` (along ``axis``) of ``S_i = Σ_j G[i, j] C_j``.

    ``x`` is cut into ``2q`` blocks along ``axis`` (``q`` = columns of ``generator``),
    paired into ``C_j = X_{2j} + i·X_{2j+1}``. As the blocks are already interleaved
    (Re C_0, Im C_0, Re C_1, …), all shares are one real GEMM with
    :func:`rotation_embedding` of ``G`` in float64 (one rounding to ``x.dtype``); no complex
    arrays. Share i is C-contiguous, of the shape of ``x`` but two blocks long on ``axis``.

    >>> x = np.arange(4.0)[:, None]  # C_0 = 0 + 1i, C_1 = 2 + 3i
    >>> encode_paired(np.array([[1, 1j]]), x, axis=0)[0].ravel()  # C_0 + i·C_1 = −3 + 3i
    array([-3.,  3.])
    """
    n, q = generator.shape
    blocks = split(x, 2 * q, axis)
    encoder = rotation_embedding(generator).reshape(n, 2, 2 * q)  # share i, Re / Im, block
    shares = np.tensordot(encoder, blocks, axes=1)  # (n, 2, ...) with the block axis at axis + 2
    shares = np.moveaxis(shares, 1, axis + 1).astype(x.dtype, order="C", copy=False)
    return list(shares.reshape((n,) + x.shape[:axis] + (-1,) + x.shape[axis + 1 :]))


def best_conditioned(
    indices: tuple[int, ...], k: int, system: Callable[[tuple[int, ...]], np.ndarray]
) -> tuple[int, ...]:
    """The ``k`` of ``indices`` whose decoding system ``system(subset)`` is best conditioned.

    Exhaustive when there are at most 64 candidate subsets, otherwise greedy: drop, one at
    a time, the response whose removal leaves the best-conditioned (rectangular) system.
    """
    if len(indices) <= k:
        return indices
    if math.comb(len(indices), k) <= 64:
        return min(itertools.combinations(indices, k), key=lambda s: np.linalg.cond(system(s)))
    chosen = list(indices)
    while len(chosen) > k:
        drop = min(
            range(len(chosen)),
            key=lambda j: np.linalg.cond(system(tuple(chosen[:j] + chosen[j + 1 :]))),
        )
        del chosen[drop]
    return tuple(chosen)


def stack_blocks(blocks, k: int, field) -> tuple[np.ndarray, np.dtype]:
    """``k`` equally shaped data blocks, checked by ``field``, stacked along a new leading
    axis; and the dtype their shares take.

    ``blocks`` is a sequence of k arrays, or an array whose leading axis has length k.

    >>> from coded.fields import RealField
    >>> data, dtype = stack_blocks([[1.0, 2.0], [3.0, 4.0]], 2, RealField())
    >>> data.shape, dtype
    ((2, 2), dtype('float64'))
    """
    arrays = check_blocks(blocks, k, field)
    return np.stack(arrays), field.result_dtype(*arrays)
