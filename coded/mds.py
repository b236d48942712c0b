"""MDS codes for ``A @ X``: any k of n workers' results give the product.

``A`` is cut into row blocks and worker i holds ``share_i = Σ_j G[i, j] · A_j``; it computes
``share_i @ X`` for whatever ``X`` the master sends. Any k rows of the generator ``G`` are
invertible, so any k results determine every ``A_j @ X``.

Over GF(p), ``G`` is the Vandermonde matrix at the points 0..n−1. Over the reals, ``A``
is cut into 2k blocks paired into k complex blocks ``C_j = A_{2j} + i·A_{2j+1}``, ``G`` is
the Vandermonde matrix at the n-th roots of unity (a DFT submatrix, condition number in the
tens where a Vandermonde at 1..n is singular by n = 20), and each complex share travels as a
real array of 1/k of the rows of A with its real and imaginary parts stacked. Encoding and
decoding never form complex arrays: each is one real GEMM with the rotation embedding of
``G`` (or of the inverse of its arrived rows), 2k × 2k blocks of 2 × 2 rotations.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import _blocks
from ._code import Code
from .byzantine import Linear
from .checks import check_bool, check_int

__all__ = ["MDSCode"]


@dataclass(frozen=True)
class _Layout:
    rows: int  # rows of A
    block_rows: int  # rows of one real block of A
    dtype: np.dtype


class MDSCode(Code):
    """An (n, k) MDS code for matrix-vector and matrix-matrix products ``A @ X``.

    Args:
        n: number of workers.
        k: recovery threshold; each worker holds 1/k of ``A``.
        systematic: if true, workers 0..k−1 hold the plain blocks of ``A``.
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    >>> import numpy as np
    >>> code = MDSCode(n=5, k=3)
    >>> A, x = np.arange(12.0).reshape(6, 2), np.array([1.0, -1.0])
    >>> shares = code.encode(A)
    >>> y = code.decode({i: shares[i] @ x for i in (0, 2, 4)})
    >>> np.allclose(y, A @ x)
    True
    """

    _params = ("n", "k", "systematic", "field")
    operands = 1

    def __init__(self, n: int, k: int, systematic: bool = False, field="real"):
        super().__init__(n, field)
        self._k = check_int(k, "k", minimum=1, maximum=self.n, maximum_name="n")
        self._systematic = check_bool(systematic, "systematic")
        if self.field.exact and self.n > self.field.p:
            raise ValueError(
                f"Argument 'n' must be at most p={self.field.p} over {self.field.name}, not {n}."
            )

    @property
    def k(self) -> int:
        return self._k

    @property
    def systematic(self) -> bool:
        return self._systematic

    @property
    def recovery_threshold(self) -> int:
        return self._k

    @property
    def work_share(self) -> float:
        """1/k: a share has 1/k of the rows of ``A`` (over the reals, 2 of its 2k real
        blocks), so ``share_i @ X`` costs 1/k of ``A @ X``."""
        return 1 / self._k

    @property
    def storage(self) -> tuple[float]:
        """``(1/k,)``: a share is 1/k of ``A``."""
        return (1 / self._k,)

    @property
    def generator(self) -> np.ndarray:
        """The n × k generator matrix (complex for real codes, integers mod p otherwise)."""
        return self._generator.copy()

    @functools.cached_property
    def _generator(self) -> np.ndarray:  # built on first use: a code's figures cost nothing
        if self.is_real:
            points = _blocks.unit_circle(self.n)
            if self.systematic:  # systematic rows spread around the circle: G[:k] well conditioned
                points = points[_spread_order(self.n)]
            vandermonde = points[:, None] ** np.arange(self.k)
        else:
            p = self.field.p
            vandermonde = np.array(
                [[pow(x, j, p) for j in range(self.k)] for x in range(self.n)], dtype=np.int64
            )
        if not self.systematic:
            return vandermonde
        top_inverse = self.field.inverse(vandermonde[: self.k])
        if self.is_real:
            generator = vandermonde @ top_inverse
            generator[: self.k] = np.eye(self.k)
            return generator
        return self.field.combine(vandermonde, top_inverse)

    def encode(self, A) -> list[np.ndarray]:
        """Split ``A`` (m × d, or a vector) into k row blocks and return the n worker shares."""
        A = self.field.validate(A, "A", ndim=(1, 2))
        if self.is_real:
            blocks = _blocks.split(A, 2 * self.k, axis=0)
            encoder = _blocks.rotation_embedding(self._generator)  # float64: one rounding only
            stacked = np.tensordot(encoder, blocks, axes=1)  # rows: (Re S_0, Im S_0, Re S_1, …)
            out = list(stacked.reshape((self.n, -1) + A.shape[1:]).astype(A.dtype, copy=False))
        else:
            blocks = _blocks.split(A, self.k, axis=0)
            out = list(self.field.combine(self._generator, blocks))
        self.layout_ = _Layout(A.shape[0], blocks.shape[1], A.dtype)
        return out

    def _select(self, indices):
        if not self.is_real:
            return indices[: self.k]
        return _blocks.best_conditioned(indices, self.k, self._decoding_system)

    def _decoding_system(self, used):
        """The k × k rows of the generator at ``used``."""
        return self._generator[list(used)]

    def _response_shape(self):
        """A share's rows: one real block's, twice over the reals (Re and Im stacked)."""
        return (self.layout_.block_rows * (2 if self.is_real else 1),)

    def _linear(self, used):
        """Points 0..n−1 over GF(p); over the reals the rotation embedding of ``G``'s rows,
        acting on a response's (Re, Im) halves."""
        if not self.is_real:
            return (Linear.reed_solomon(used, used, self._k),)
        rows = _blocks.rotation_embedding(self._generator[list(used)])
        return (Linear(used, rows.reshape(len(used), 2, 2 * self._k)),)

    def _decode(self, responses):
        layout = self.layout_
        results = self._stack(responses)
        used = tuple(responses)
        inverse = self._decoder(used, self._decoding_system)
        if self.is_real:
            halves = results.reshape((2 * len(used), layout.block_rows) + results.shape[2:])
            decoder = _blocks.rotation_embedding(inverse)  # float64 even for float32 results
            blocks = np.tensordot(decoder, halves, axes=1)  # rows: A_0 X, A_1 X, …
            dtype = np.result_type(results.dtype, np.float32)
        else:
            blocks = self.field.combine(inverse, results % self.field.p)
            dtype = np.int64
        product = blocks.reshape((-1,) + blocks.shape[2:])[: layout.rows]
        return product.astype(dtype, copy=False)


def _spread_order(n: int) -> np.ndarray:
    """Indices 0..n−1 in bit-reversed order of their position, so every prefix is spread out."""
    order = sorted(range(n), key=lambda j: _van_der_corput(j, n))
    return np.array(order)


def _van_der_corput(j: int, n: int) -> float:
    """Position of j in a low-discrepancy ordering: the binary digits of j mirrored."""
    bits = max(1, (n - 1).bit_length())
    return int(format(j, f"0{bits}b")[::-1], 2) / 2**bits
