"""Partial-work codes: every chunk a worker finishes counts, stragglers' too.

``A``'s rows are cut into ``K = k·c`` row blocks, the symbols ``S_0 … S_{K−1}`` (``c`` =
``chunks``). Worker i holds ``c`` coded chunks and computes them in order, reporting each
as it finishes; chunk j of worker i is piece ``t = i·c + j`` of one ``(N, K)`` code over
the symbols, ``N = n·c``, with ``q = j·n + i`` its place in the order "every worker's
first chunk, then every worker's second, …":

    piece (i, j) = S_q                         if q < K        (systematic)
                 = Σ_s P[q − K, s] · S_s       otherwise        (parity)

Any K finished pieces, from any workers, determine every ``S_s @ X``. A round therefore
ends once the workers *together* have finished K chunks of 1/K of the job each: perfect
load balance up to one chunk per worker,

    T = min { t : Σ_i min(⌊t / τ_i⌋, c) ≥ K }        (τ_i: worker i's time per chunk),

where an (n, k) MDS code waits for the k-th fastest worker to finish all of its share.

Over GF(p), ``P`` is the Cauchy matrix ``1 / (x_a − y_s)``, ``x_a = K + a``, ``y_s = s``.
Any K pieces decode, exactly: with ``U`` the symbols missing among them, decoding solves
the square submatrix ``P[parities, U]`` of a Cauchy matrix, which is itself Cauchy and
invertible (needs ``N ≤ p``). Over the reals, ``P`` is Gaussian, seeded by ``(N, K, c)``
and scaled by ``1/√K``: any K pieces decode with probability one over the draw, and the
conditioning guard (:mod:`coded.conditioning`) checks each decode's system. Square
Gaussian systems have a heavy tail (worst condition numbers of 7e3 to 2e4 over 200
straggler patterns at n = 32, k = 22, c = 8: ``benchmarks/partial_work_ray.py``), so real
decodes also use up to ``⌈|U|/4⌉`` extra parities when they arrived, in least squares:
with four chunks beyond K the worst was 51.

A decode copies the systematic pieces and solves for ``U`` only: ``|U|·m`` multiply-adds
per row of a piece's product, ``m`` the pieces used. With no stragglers every symbol
arrives as itself and decoding is a copy.

References:
    A. Mallick, M. Chaudhari, U. Sheth, G. Palanikumar, G. Joshi, "Rateless codes for
    near-perfect load balancing in distributed matrix-vector multiplication",
    SIGMETRICS 2020.
    A. Subramaniam, A. Heidarzadeh, K. Narayanan, "Random Khatri-Rao-product codes for
    numerically-stable distributed matrix multiplication", Allerton 2019.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import _blocks
from ._code import Code
from .checks import check_int

__all__ = ["ChunkedMDSCode", "PieceCode"]


@dataclass(frozen=True)
class _Layout:
    rows: int  # rows of A
    block_rows: int  # rows of one symbol
    dtype: np.dtype


@dataclass(frozen=True)
class _Solver:
    """How one set of pieces decodes: which symbols it misses, and the matrix that maps the
    used parities and known symbols (in that order) to them."""

    used: tuple[int, ...]
    unknown: tuple[int, ...]
    inputs: tuple[int, ...]  # the pieces the decoder reads: parities, then known symbols
    decoder: np.ndarray | None
    condition: float


class PieceCode(Code):
    """The code over chunks behind :class:`ChunkedMDSCode`, seen piece by piece: ``n``
    pieces (``chunks`` per worker, piece ``i·chunks + j`` being worker i's j-th), any ``k``
    of which decode. The runtime decodes a partial-work round with it
    (:attr:`ChunkedMDSCode.pieces`).

    Args:
        n: number of pieces, ``workers · chunks``.
        k: pieces any decode needs (the symbols ``A`` is cut into).
        chunks: pieces per worker.
        field: ``"real"`` or a prime p.

    >>> import numpy as np
    >>> code = PieceCode(n=6, k=3, chunks=2)
    >>> A, x = np.arange(12.0).reshape(6, 2), np.array([1.0, -1.0])
    >>> pieces = code.encode(A)
    >>> np.allclose(code.decode({t: pieces[t] @ x for t in (1, 4, 5)}), A @ x)
    True
    """

    _params = ("n", "k", "chunks", "field")
    operands = 1

    def __init__(self, n: int, k: int, chunks: int, field="real"):
        super().__init__(n, field)
        self._chunks = check_int(chunks, "chunks", minimum=1, maximum=self.n, maximum_name="n")
        if self.n % self._chunks:
            raise ValueError(f"Argument 'n' must be a multiple of chunks={chunks}, not {n}.")
        self._k = check_int(k, "k", minimum=1, maximum=self.n, maximum_name="n")
        if self.field.exact and self.n > self.field.p:
            raise ValueError(
                f"Argument 'n' must be at most p={self.field.p} over {self.field.name}, not {n}."
            )
        self._solved: _Solver | None = None  # the last decode's: decode reuses select's

    @property
    def k(self) -> int:
        return self._k

    @property
    def chunks(self) -> int:
        """Pieces per worker."""
        return self._chunks

    @property
    def workers(self) -> int:
        return self.n // self._chunks

    @property
    def recovery_threshold(self) -> int:
        return self._k

    @property
    def work_share(self) -> float:
        """1/k: a piece has 1/k of the rows of ``A``."""
        return 1 / self._k

    @property
    def storage(self) -> tuple[float]:
        return (1 / self._k,)

    def rank(self, piece: int) -> int:
        """``q = j·workers + i`` of piece ``i·chunks + j``: the symbol it is when ``q < k``,
        else parity ``q − k``.

        >>> [PieceCode(6, 3, chunks=2).rank(t) for t in range(6)]
        [0, 3, 1, 4, 2, 5]
        """
        worker, j = divmod(piece, self._chunks)
        return j * self.workers + worker

    @functools.cached_property
    def _parity(self) -> np.ndarray:
        """The ``(n − k) × k`` parity matrix: Cauchy over GF(p), Gaussian over the reals."""
        n, k = self.n, self._k
        if self.is_real:
            rng = np.random.default_rng([n, k, self._chunks])
            return rng.standard_normal((n - k, k)) / np.sqrt(k)
        p = self.field.p
        inverses = np.array([0] + [pow(d, p - 2, p) for d in range(1, n)], dtype=np.int64)
        return inverses[k + np.arange(n - k)[:, None] - np.arange(k)[None, :]]

    def encode(self, A) -> list[np.ndarray]:
        """Cut ``A`` (m × d) into k row blocks (zero-padded) and return the n pieces."""
        A = self.field.validate(A, "A", ndim=(2,))
        symbols = _blocks.split(A, self._k, axis=0)
        if self.is_real:
            parities = np.tensordot(self._parity, symbols, axes=1).astype(A.dtype, copy=False)
        else:
            parities = self.field.combine(self._parity, symbols)
        self.layout_ = _Layout(A.shape[0], symbols.shape[1], A.dtype)
        self._solved = None
        ranks = [self.rank(t) for t in range(self.n)]
        return [symbols[q] if q < self._k else parities[q - self._k] for q in ranks]

    def _split(self, indices) -> tuple[list[int], list[int], tuple[int, ...]]:
        """The systematic pieces among ``indices``, the parities, and the symbols missing."""
        known = [t for t in indices if self.rank(t) < self._k]
        parities = [t for t in indices if self.rank(t) >= self._k]
        unknown = tuple(sorted(set(range(self._k)) - {self.rank(t) for t in known}))
        return known, parities, unknown

    def _select(self, indices):
        """Every systematic piece, and as many parities as symbols are missing (over the
        reals up to a quarter more, for least squares)."""
        known, parities, unknown = self._split(indices)
        take = len(unknown) if self.field.exact else len(unknown) + -(-len(unknown) // 4)
        return tuple(sorted(known + parities[:take]))

    def _decoding_system(self, used):
        """``P[parities used, symbols missing]``: what a decode from ``used`` solves."""
        known, parities, unknown = self._split(used)
        if not unknown:
            return None
        rows = [self.rank(t) - self._k for t in parities]
        return self._parity[np.ix_(rows, unknown)]

    def _condition(self, used):
        return 1.0 if self.field.exact else self._solver(used).condition

    def _solver(self, used: tuple[int, ...]) -> _Solver:
        """The decoder of ``used`` (the last one is kept: select, guard and decode share it)."""
        if self._solved is not None and self._solved.used == used:
            return self._solved
        known, parities, unknown = self._split(used)
        system, condition, decoder = self._decoding_system(used), 1.0, None
        if system is not None:
            rows = [self.rank(t) - self._k for t in parities]
            cols = [self.rank(t) for t in known]
            mixing = self._parity[np.ix_(rows, cols)]
            if self.is_real:
                u, s, vt = np.linalg.svd(system, full_matrices=False)
                condition = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
                pinv = (vt.T / s) @ u.T if s[-1] > 0 else np.zeros(system.T.shape)
                decoder = np.hstack([pinv, -pinv @ mixing])
            else:
                p = self.field.p
                inverse = self.field.inverse(system)
                decoder = np.hstack([inverse, self.field.combine(inverse, (p - mixing) % p)])
        self._solved = _Solver(used, unknown, tuple(parities + known), decoder, condition)
        return self._solved

    def _response_shape(self):
        return (self.layout_.block_rows,)

    def _decode(self, responses):
        layout, solver = self.layout_, self._solver(tuple(responses))
        first = next(iter(responses.values()))
        if self.is_real:
            dtype = np.result_type(*(r.dtype for r in responses.values()), np.float32)
        else:
            dtype = np.dtype(np.int64)
        symbols = np.empty((self._k,) + first.shape, dtype)
        for t, value in responses.items():
            if self.rank(t) < self._k:
                symbols[self.rank(t)] = value
        if solver.unknown:
            inputs = np.stack([responses[t] for t in solver.inputs])
            if self.is_real:
                solved = np.tensordot(solver.decoder, inputs.astype(np.float64), axes=1)
            else:
                solved = self.field.combine(solver.decoder, inputs % self.field.p)
            symbols[list(solver.unknown)] = solved
        return symbols.reshape((-1,) + first.shape[1:])[: layout.rows]


class ChunkedMDSCode(Code):
    """An (n, k) partial-work code for ``A @ X``: each worker holds ``chunks`` coded chunks
    of 1/(k·chunks) of ``A``, computes them in order and reports each as it finishes; any
    ``k·chunks`` finished chunks, from any workers, decode (see the module docstring).

    Whole answers decode like an (n, k) MDS code's: any k workers. The runtime decodes a
    round from its workers' finished chunks with :attr:`pieces` as soon as they suffice,
    and cancels the rest (``Runtime.place(A, code=ChunkedMDSCode(...))``).

    Args:
        n: number of workers.
        k: any k whole answers decode; each worker holds 1/k of ``A``.
        chunks: chunks per worker (the granularity of its reports).
        field: ``"real"`` or a prime p with ``n·chunks ≤ p`` for exact arithmetic.

    >>> import numpy as np
    >>> code = ChunkedMDSCode(n=4, k=2, chunks=3)
    >>> A, x = np.arange(24.0).reshape(12, 2), np.array([1.0, -1.0])
    >>> pieces = code.pieces.encode(A)   # or code.encode(A): the pieces, per worker
    >>> done = {0: 3, 1: 1, 2: 2, 3: 0}   # chunks each worker finished, in its order
    >>> finished = {i * 3 + j: pieces[i * 3 + j] @ x for i, m in done.items() for j in range(m)}
    >>> np.allclose(code.pieces.decode(finished), A @ x)
    True
    """

    _params = ("n", "k", "chunks", "field")
    operands = 1

    def __init__(self, n: int, k: int, chunks: int = 8, field="real"):
        super().__init__(n, field)
        self._k = check_int(k, "k", minimum=1, maximum=self.n, maximum_name="n")
        self._chunks = check_int(chunks, "chunks", minimum=1)
        if self.field.exact and self.n * self._chunks > self.field.p:
            raise ValueError(
                f"Argument 'chunks' must keep n·chunks at most p={self.field.p} over "
                f"{self.field.name}, not {self.n}·{self._chunks} = {self.n * self._chunks}."
            )
        self._pieces = PieceCode(self.n * self._chunks, self._k * self._chunks, self._chunks, field)

    @property
    def k(self) -> int:
        return self._k

    @property
    def chunks(self) -> int:
        """Chunks per worker: the pieces its answer comes in."""
        return self._chunks

    @property
    def pieces(self) -> PieceCode:
        """The code over the ``n·chunks`` pieces (worker i's j-th is ``i·chunks + j``)."""
        return self._pieces

    @property
    def layout_(self):
        return getattr(self._pieces, "layout_", None)

    @layout_.setter
    def layout_(self, layout):
        self._pieces.layout_ = layout

    @property
    def recovery_threshold(self) -> int:
        return self._k

    @property
    def work_share(self) -> float:
        """1/k: ``chunks`` chunks of 1/(k·chunks) of ``A``."""
        return 1 / self._k

    @property
    def storage(self) -> tuple[float]:
        return (1 / self._k,)

    def encode(self, A) -> list[np.ndarray]:
        """The n shares of ``A`` (m × d): worker i's chunks stacked in the order it
        computes them."""
        pieces, c = self._pieces.encode(A), self._chunks
        return [np.concatenate(pieces[i * c : (i + 1) * c]) for i in range(self.n)]

    def _pieces_of(self, workers) -> tuple[int, ...]:
        c = self._chunks
        return tuple(t for i in workers for t in range(i * c, (i + 1) * c))

    def _select(self, indices):
        used = self._pieces._select(self._pieces_of(indices))
        return tuple(sorted({t // self._chunks for t in used}))

    def _condition(self, used):
        return self._pieces._condition(self._pieces._select(self._pieces_of(used)))

    def _response_shape(self):
        return (self.layout_.block_rows * self._chunks,)

    def _decode(self, responses):
        values = {}
        for i, answer in responses.items():
            for j, piece in enumerate(np.split(answer, self._chunks)):
                values[i * self._chunks + j] = piece
        used = self._pieces._select(tuple(sorted(values)))
        return self._pieces._decode({t: values[t] for t in used})
