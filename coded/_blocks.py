"""Splitting operands into equal blocks (zero padding) and the complex packing of real blocks.

Real codes pair real blocks into complex ones, ``C_j = X_{2j} + i·X_{2j+1}``, encode those
at points on the unit circle, and hand each worker its complex share as a real array
with the real and imaginary parts stacked. A worker's real product of stacked shares
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

__all__ = [
    "split",
    "pair",
    "unpair",
    "stack_complex",
    "unstack_complex",
    "unit_circle",
    "rotation_embedding",
    "best_conditioned",
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


def pair(blocks: np.ndarray) -> np.ndarray:
    """``C_j = blocks[2j] + i·blocks[2j+1]`` along the leading axis (its length must be even)."""
    return blocks[0::2] + 1j * blocks[1::2]


def unpair(symbols: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pair`: interleave real and imaginary parts along the leading axis."""
    out = np.empty((2 * symbols.shape[0],) + symbols.shape[1:], dtype=symbols.real.dtype)
    out[0::2], out[1::2] = symbols.real, symbols.imag
    return out


def stack_complex(z: np.ndarray, axis: int, dtype) -> np.ndarray:
    """The real array ``[Re z, Im z]`` concatenated along ``axis``, cast to ``dtype``."""
    return np.concatenate([z.real, z.imag], axis=axis).astype(dtype, copy=False)


def unstack_complex(x: np.ndarray, axis: int) -> np.ndarray:
    """Inverse of :func:`stack_complex` (result in complex128)."""
    re, im = np.split(np.asarray(x, dtype=np.float64), 2, axis=axis)
    return re + 1j * im


def unit_circle(n: int) -> np.ndarray:
    """The n-th roots of unity ``exp(2πi·j/n)``, j = 0..n−1: the evaluation points of real codes."""
    return np.exp(2j * np.pi * np.arange(n) / n)


def rotation_embedding(matrix: np.ndarray) -> np.ndarray:
    """The real ``2p × 2q`` matrix acting on interleaved (Re, Im) pairs as ``matrix`` does.

    Entry ``m = a + ib`` becomes the 2 × 2 block ``[[a, −b], [b, a]]`` (a scaled rotation), so
    ``y = M z`` over the complex numbers is ``ỹ = R(M) z̃`` with ``z̃ = (Re z₀, Im z₀, Re z₁, …)``:
    one real GEMM, no complex arrays.

    >>> rotation_embedding(np.array([[1j]]))
    array([[ 0., -1.],
           [ 1.,  0.]])
    """
    p, q = matrix.shape
    out = np.empty((2 * p, 2 * q))
    out[0::2, 0::2] = out[1::2, 1::2] = matrix.real
    out[1::2, 0::2] = matrix.imag
    out[0::2, 1::2] = -matrix.imag
    return out


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
