"""Polynomial codes for ``A @ B``, and the machinery every product code shares.

``A`` is cut into ``a × c`` blocks and ``B`` into ``c × b`` blocks (rows of A, the inner
dimension, columns of B; zero padding; ``c`` is ``inner_blocks``). Each worker receives one
encoded pair ``(A_i, B_i)``, computes the plain product ``A_i @ B_i``, and any
recovery-threshold many products give ``A @ B``. The exact construction (entangled
polynomial codes, of which polynomial and MatDot codes are the cases ``c = 1`` and
``a = b = 1``) is

    Ã(x) = Σ_{r<a, j<c} A_{r,j} x^{j + c r},      B̃(x) = Σ_{j<c, s<b} B_{j,s} x^{c−1−j + c a s},

and block ``(r, s)`` of ``A @ B`` is the coefficient of ``x^{c−1 + c r + c a s}`` of
``Ã(x) B̃(x)``, a polynomial of degree ``c a b + c − 2``. Over GF(p) the points are
``0..n−1`` and decoding inverts the Vandermonde matrix of the points that arrived.

Over the reals a monomial Vandermonde at real points is hopeless by n ≈ 15, so polynomial
codes evaluate at the n-th roots of unity and pack pairs of real blocks into complex ones
(:mod:`coded._blocks`). For ``PolynomialCode`` (``c = 1``), with ``C_j = A_{2j} + i A_{2j+1}``
(row blocks) and ``D_l = B_{2l} + i B_{2l+1}`` (column blocks), worker i holds
``Ã(x_i) = Σ_j C_j x_i^j`` as ``[Re; Im]`` and ``B̃(x_i) = Σ_l D_l x_i^{a l}`` as ``[Re, Im]``; its
real product is the block matrix ``[[RR, RI], [IR, II]]``, from which

    P(x_i) = Ã B̃ = (RR − II) + i (RI + IR),     Q(x_i) = Ã conj(B̃) = (RR + II) + i (IR − RI).

On the unit circle ``conj(x) = 1/x``, so ``P(x) = Σ C_j D_l x^{j + a l}`` and
``x^{a(b−1)} Q(x) = Σ C_j conj(D_l) x^{j + a(b−1−l)}`` share one ``ab × ab`` Vandermonde
system, and ``C_j B_{2l} = (C_j D_l + C_j conj D_l)/2``,
``C_j B_{2l+1} = (C_j D_l − C_j conj D_l)/2i`` give all four real products of each pair.
Storage, work and threshold are those of the real code.

No complex arrays are formed. The real blocks ``A_0, A_1, …`` already are the interleaved
real and imaginary parts of the ``C_j`` (likewise for B and the ``D_l``), so the shares of
each operand are one real GEMM with the rotation embedding of its complex encoding matrix
(:func:`coded._blocks.encode_paired`, as in :class:`~coded.MDSCode`), and decoding is one
real GEMM with the ``4ab × 4k`` matrix of the complex decoding map.

References:
    Q. Yu, M. A. Maddah-Ali, A. S. Avestimehr, "Polynomial codes: an optimal design for
    high-dimensional coded matrix multiplication", NeurIPS 2017, arXiv:1705.10464.
    A. Ramamoorthy, L. Tang, "Numerically stable coded matrix computations via circulant
    and rotation matrix embeddings", IEEE T-IT 2022, arXiv:1910.06515.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import _blocks
from ._code import Code
from .byzantine import Linear
from .checks import check_int

__all__ = ["PolynomialCode"]


@dataclass(frozen=True)
class _Layout:
    rows: int  # rows of A
    cols: int  # columns of B
    response: tuple[int, int]  # shape of one worker's product
    dtype: np.dtype


class _ProductCode(Code):
    """Shared base: A split ``a × c``, B split ``c × b``, threshold ``c a b + c − 1``
    (``c = inner_blocks``).

    Subclasses choose the real construction in ``_real_scheme``; the exact one is common.
    A scheme has ``system(used)`` (the square decoding matrix of those workers),
    ``encode(A, B) -> (shares of A, shares of B, response shape)`` and
    ``decode(results, used, inverse) -> blocks`` of shape (row blocks, column blocks, ., .).
    """

    operands = 2

    def __init__(self, n: int, field, a_blocks: int = 1, b_blocks: int = 1, inner_blocks: int = 1):
        super().__init__(n, field)
        self._a = check_int(a_blocks, "a_blocks", minimum=1)
        self._b = check_int(b_blocks, "b_blocks", minimum=1)
        self._inner = check_int(inner_blocks, "inner_blocks", minimum=1)
        threshold = self.recovery_threshold
        if threshold > self.n:
            raise ValueError(
                f"Argument 'n' must be at least the recovery threshold {threshold}, not {self.n}."
            )
        if self.field.exact and self.n > self.field.p:
            raise ValueError(
                f"Argument 'n' must be at most p={self.field.p} over {self.field.name}, "
                f"not {self.n}."
            )

    @functools.cached_property
    def _scheme(self):  # built on first use: a code's figures cost nothing
        if self.field.exact:
            return _Monomial(self.field, np.arange(self.n), self._a, self._b, self._inner)
        return self._real_scheme()

    def _real_scheme(self):
        raise NotImplementedError

    @property
    def a_blocks(self) -> int:
        """Row blocks of ``A``: each worker holds 1/a of its rows."""
        return self._a

    @property
    def b_blocks(self) -> int:
        """Column blocks of ``B``: each worker holds 1/b of its columns."""
        return self._b

    @property
    def inner_blocks(self) -> int:
        """Blocks of the inner dimension (``c``): each worker holds 1/c of it."""
        return self._inner

    @property
    def recovery_threshold(self) -> int:
        return self._inner * self._a * self._b + self._inner - 1

    @property
    def work_share(self) -> float:
        """1/(a·b·c): a worker multiplies one block of ``A`` (1/a of its rows, 1/c of the inner
        dimension) by one of ``B`` (1/c of the inner dimension, 1/b of its columns)."""
        return 1 / (self._a * self._b * self._inner)

    @property
    def storage(self) -> tuple[float, float]:
        """``(1/(a·c), 1/(c·b))``: one block of the a × c grid of ``A`` and of the c × b
        grid of ``B`` (over the reals too: a complex share packs two real blocks of a grid
        twice as fine)."""
        return (1 / (self._a * self._inner), 1 / (self._inner * self._b))

    def encode(self, A, B) -> list[tuple[np.ndarray, np.ndarray]]:
        """Encode ``A`` (m × inner) and ``B`` (inner × q): worker i gets the pair ``(A_i, B_i)``.

        Worker i computes ``A_i @ B_i``; :meth:`decode` turns any recovery-threshold many
        of these products into ``A @ B``. Real shares keep their operand's dtype.
        """
        A, B = self.field.validate(A, "A", ndim=(2,)), self.field.validate(B, "B", ndim=(2,))
        if A.shape[1] != B.shape[0]:
            raise ValueError(
                f"Arguments 'A' and 'B' must have matching inner dimensions: "
                f"A has shape {A.shape}, B has shape {B.shape}."
            )
        shares_a, shares_b, response = self._scheme.encode(A, B)
        self.layout_ = _Layout(A.shape[0], B.shape[1], response, self.field.result_dtype(A, B))
        return list(zip(shares_a, shares_b, strict=True))

    def _select(self, indices):
        if self.field.exact:
            return indices[: self.recovery_threshold]
        return _blocks.best_conditioned(indices, self.recovery_threshold, self._scheme.system)

    def _decoding_system(self, used):
        """The square system of the scheme at ``used`` (a DFT-like or Vandermonde matrix)."""
        return self._scheme.system(used)

    def _response_shape(self):
        """The shape of one worker's product ``A_i @ B_i``."""
        return self.layout_.response

    def _linear(self, used):
        return (self._scheme.linear(used),)

    def _decode(self, responses):
        layout = self.layout_
        results = self._stack(responses)
        if results.ndim != 3:
            raise ValueError(
                f"responses must be 2-D products of shape {layout.response}, "
                f"not {results.ndim - 1}-D"
            )
        used = tuple(responses)
        if not self.field.exact:
            results = results.astype(np.float64, copy=False)
        inverse = self._decoder(used, self._scheme.system)
        blocks = self._scheme.decode(results, used, inverse)
        rows, cols, block_rows, block_cols = blocks.shape
        product = blocks.transpose(0, 2, 1, 3).reshape(rows * block_rows, cols * block_cols)
        return product[: layout.rows, : layout.cols].astype(layout.dtype, copy=False)


class PolynomialCode(_ProductCode):
    """Polynomial code for ``A @ B``: any ``a·b`` of n workers' products give the result.

    Each worker holds 1/a of the rows of ``A`` and 1/b of the columns of ``B`` and does
    1/(ab) of the work; the threshold ``a·b`` is optimal. Over the reals the decoding
    system is an ``ab × ab`` submatrix of the n-point DFT matrix (see the module docstring).

    Args:
        n: number of workers.
        a_blocks: row blocks of ``A`` (``a``).
        b_blocks: column blocks of ``B`` (``b``).
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    >>> import numpy as np
    >>> code = PolynomialCode(n=6, a_blocks=2, b_blocks=2)
    >>> A, B = np.arange(15.0).reshape(5, 3), np.arange(12.0).reshape(3, 4)
    >>> pairs = code.encode(A, B)
    >>> C = code.decode({i: pairs[i][0] @ pairs[i][1] for i in (0, 2, 3, 5)})
    >>> np.allclose(C, A @ B)
    True

    References:
        Q. Yu, M. A. Maddah-Ali, A. S. Avestimehr, NeurIPS 2017, arXiv:1705.10464.
    """

    _params = ("n", "a_blocks", "b_blocks", "field")

    def __init__(self, n: int, a_blocks: int, b_blocks: int, field="real"):
        super().__init__(n, field, a_blocks=a_blocks, b_blocks=b_blocks)

    def _real_scheme(self):
        return _Paired(self.n, self._a, self._b)


def _quadrants(results: np.ndarray) -> np.ndarray:
    """Stacked (2r × 2c) products as (workers, 4, r·c): the quadrants RR, RI, IR, II."""
    count, rows, cols = results.shape[0], results.shape[1] // 2, results.shape[2] // 2
    quadrants = results.reshape(count, 2, rows, 2, cols).transpose(0, 1, 3, 2, 4)
    return quadrants.reshape(count, 4, rows * cols)


def _grid(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``x`` cut into ``rows × cols`` blocks (zero padding): shape (rows, cols, ., .)."""
    return _blocks.split(_blocks.split(x, rows, axis=0), cols, axis=2).swapaxes(0, 1)


def _vandermonde(points: np.ndarray, size: int, field) -> np.ndarray:
    """``V[i, e] = points[i]^e`` for e < size, modulo p over GF(p)."""
    if not field.exact:
        return points[:, None] ** np.arange(size)
    powers = np.ones((len(points), size), dtype=np.int64)
    for e in range(1, size):
        powers[:, e] = powers[:, e - 1] * points % field.p
    return powers


class _Monomial:
    """The entangled construction in the monomial basis, at any points of any field."""

    def __init__(self, field, points: np.ndarray, a: int, b: int, c: int):
        self.field, self.a, self.b, self.c = field, a, b, c
        self._points = points
        self._vandermonde = _vandermonde(points, c * a * b + c - 1, field)
        j, s = np.meshgrid(np.arange(c), np.arange(b), indexing="ij")
        r, s_out = np.meshgrid(np.arange(a), np.arange(b), indexing="ij")
        self._exponents_b = (c - 1 - j + c * a * s).ravel()  # of B_{j,s}; A_{r,j} has j + c r
        self._wanted = (c - 1 + c * r + c * a * s_out).ravel()  # the coefficient of C_{r,s}

    def system(self, used):
        return self._vandermonde[list(used)]

    def linear(self, used):
        """A product is ``Ã(x_i) B̃(x_i)``: values of one polynomial of degree < threshold."""
        if self.field.exact:
            return Linear.reed_solomon(used, self._points[list(used)], self._vandermonde.shape[1])
        return Linear(used, self.system(used)[:, None, :])

    def encode(self, A, B):
        a, b, c = self.a, self.b, self.c
        blocks_a, blocks_b = _grid(A, a, c), _grid(B, c, b)
        flat_a = blocks_a.reshape((a * c,) + blocks_a.shape[2:])
        flat_b = blocks_b.reshape((c * b,) + blocks_b.shape[2:])
        shares_a = self.field.combine(self._vandermonde[:, : a * c], flat_a).astype(A.dtype)
        generator_b = self._vandermonde[:, self._exponents_b]
        shares_b = self.field.combine(generator_b, flat_b).astype(B.dtype)
        return list(shares_a), list(shares_b), (blocks_a.shape[2], blocks_b.shape[3])

    def decode(self, results, used, inverse):
        if self.field.exact:
            results = results % self.field.p
        blocks = self.field.combine(inverse[self._wanted], results)
        return blocks.reshape((self.a, self.b) + results.shape[1:])


class _Paired:
    """Polynomial code at the roots of unity with complex-paired blocks (module docstring)."""

    def __init__(self, n: int, a: int, b: int):
        self.a, self.b = a, b
        self._points = _blocks.unit_circle(n)
        self._vandermonde = self._points[:, None] ** np.arange(a * b)
        self._matrices: dict[tuple[int, ...], np.ndarray] = {}

    def system(self, used):
        return self._vandermonde[list(used)]

    def linear(self, used):
        """A product's quadrants ``(RR, RI, IR, II)`` give ``P(x_i) = V_i p`` and
        ``Q(x_i) = x_i^{−a(b−1)} V_i q`` (module docstring): the rotation embeddings of
        those two rows, block-diagonal over the real message ``(p, q)``, mapped back to the
        quadrants by ``RR = (Re P + Re Q)/2``, ``RI = (Im P − Im Q)/2``, ``IR = (Im P + Im Q)/2``,
        ``II = (Re Q − Re P)/2``."""
        rows = self.system(used)
        shift = (self._points[list(used)] ** -(self.a * (self.b - 1)))[:, None]
        size = 2 * self.a * self.b
        generator = np.zeros((len(used), 4, 2 * size))  # per worker: (Re P, Im P, Re Q, Im Q)
        generator[:, :2, :size] = _blocks.rotation_embedding(rows).reshape(len(used), 2, size)
        generator[:, 2:, size:] = _blocks.rotation_embedding(shift * rows).reshape(-1, 2, size)
        to_quadrants = np.array([[1, 0, 1, 0], [0, 1, 0, -1], [0, 1, 0, 1], [-1, 0, 1, 0]]) / 2
        return Linear(used, to_quadrants @ generator, symbols=_quadrants)

    def encode(self, A, B):
        """Two real GEMMs, no complex arrays (:func:`coded._blocks.encode_paired`)."""
        a, b = self.a, self.b
        generator_a, generator_b = self._vandermonde[:, :a], self._vandermonde[:, : a * b : a]
        shares_a = _blocks.encode_paired(generator_a, A, axis=0)  # Ã(x_i) = Σ_j C_j x_i^j
        shares_b = _blocks.encode_paired(generator_b, B, axis=1)  # B̃(x_i) = Σ_l D_l x_i^{a l}
        return shares_a, shares_b, (shares_a[0].shape[0], shares_b[0].shape[1])

    def decode(self, results, used, inverse):
        """One real GEMM: the decoding map, linear in the four quadrants of every response."""
        matrix = self._matrices.get(used)
        if matrix is None:
            matrix = self._matrices[used] = self._linear_map(used, inverse)
        k, rows, cols = results.shape[0], results.shape[1] // 2, results.shape[2] // 2
        quadrants = results.reshape(k, 2, rows, 2, cols).transpose(0, 1, 3, 2, 4)
        blocks = matrix @ quadrants.reshape(4 * k, rows * cols)
        return blocks.reshape(2 * self.a, 2 * self.b, rows, cols)

    def _linear_map(self, used, inverse):
        """The (4ab × 4k) real matrix of :meth:`_decode_complex`, read off unit responses."""
        k = len(used)
        units = np.zeros((k, 2, 2, 4 * k))  # response i, quadrant (qr, qc), column = its index
        units.reshape(4 * k, 4 * k)[np.arange(4 * k), np.arange(4 * k)] = 1.0
        probes = units.reshape(k, 2, 2 * 4 * k)  # quadrant (qr, qc): row qr, columns qc·4k + t
        blocks = self._decode_complex(probes, used, inverse)  # (2a, 2b, 1, 4k)
        return blocks.reshape(4 * self.a * self.b, 4 * k)

    def _decode_complex(self, results, used, inverse):
        a, b = self.a, self.b
        rows, cols = results.shape[1] // 2, results.shape[2] // 2
        rr, ri = results[:, :rows, :cols], results[:, :rows, cols:]
        ir, ii = results[:, rows:, :cols], results[:, rows:, cols:]
        shift = self._points[list(used)] ** (a * (b - 1))
        values = np.stack(
            [(rr - ii) + 1j * (ri + ir), shift[:, None, None] * ((rr + ii) + 1j * (ir - ri))],
            axis=1,
        )
        # coefficient e = j + a·l of P is C_j D_l; e = j + a(b−1−l) of x^{a(b−1)} Q is C_j conj(D_l)
        coefficients = np.tensordot(inverse, values, axes=1).reshape((b, a, 2, rows, cols))
        direct = coefficients[:, :, 0].swapaxes(0, 1)
        mirrored = coefficients[::-1, :, 1].swapaxes(0, 1)
        blocks = np.empty((2 * a, 2 * b, rows, cols))
        blocks[:, 0::2] = _blocks.unpair((direct + mirrored) / 2)  # C_j B_{2l}
        blocks[:, 1::2] = _blocks.unpair((direct - mirrored) / 2j)  # C_j B_{2l+1}
        return blocks
