"""Compressed gradients: quantisers, sparsifiers, error feedback and DIANA, with exact wire bits.

A compressor turns a vector ``v ∈ R^d`` into a message (what goes on the wire) and back into
an estimate of ``v``. The receiver knows ``d`` and the compressor's parameters; everything
else travels in the message, and ``message.bits`` counts it exactly (a float32 costs 32 bits).

**Quantisers** (:class:`QSGD`, :class:`NUQSGD`, :class:`AdaptiveQuantizer`) share one scheme:
with levels ``0 = ℓ_0 < ℓ_1 < … < ℓ_m = 1`` and ``r_i = |v_i| / ‖v‖₂ ∈ [ℓ_j, ℓ_{j+1}]``,
coordinate ``i`` is sent as ``ℓ_{j+1}`` with probability ``(r_i − ℓ_j) / (ℓ_{j+1} − ℓ_j)`` and
as ``ℓ_j`` otherwise, so ``Q(v)_i = ‖v‖₂ · sign(v_i) · ℓ_{J_i}`` is unbiased, with variance

    E‖Q(v) − v‖² = ‖v‖² Σ_i (ℓ_{j+1} − r_i)(r_i − ℓ_j).

With ``bucket_size=b`` (QSGD's buckets) the vector is cut into ``⌈d/b⌉`` consecutive
buckets, each normalised by its own norm: the variance bound is then that of dimension
``b`` (``min(b/s², √b/s)`` for QSGD instead of ``min(d/s², √d/s)``), for 32 bits a bucket.

Encoding (fixed length): the bucket norms as float32, an adaptive quantiser's interior levels
``ℓ_1, …, ℓ_{m−1}`` as float32, then per coordinate one sign bit and the level index in
``⌈log₂(m + 1)⌉`` bits. So ``bits = 32 ⌈d/b⌉ [+ 32 (m − 1)] + d (1 + ⌈log₂(m + 1)⌉)``
against ``32 d`` for the float32 vector, and :meth:`QuantizedMessage.to_bytes` writes
exactly ``⌈bits / 8⌉`` bytes, which the compressor's ``from_bytes`` reads back. (QSGD's
Elias coding would send fewer; it is not used here.)

**Sparsifier** :class:`TopK`: the ``k`` largest coordinates in magnitude, each sent as a
``⌈log₂ d⌉``-bit index and a float32 value: ``bits = k (⌈log₂ d⌉ + 32)``. It is biased;
:class:`ErrorFeedback` keeps what was not sent (per worker) and adds it to the next vector.

**DIANA** (:class:`Diana`) compresses differences ``g_i − h_i`` against learned shifts, so
that with full gradients the compression noise vanishes at the optimum.

>>> import numpy as np
>>> q = QSGD(levels=4)
>>> message = q.compress([3.0, -4.0, 0.0, 1e-3], rng=0)
>>> message.bits, 32 * 4  # 32 + 4 · (1 + 3)
(48, 128)
>>> q.decompress(message)
array([ 2.5 , -3.75,  0.  ,  0.  ])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .checks import check_instance, check_int, check_number
from .fields import RealField

__all__ = [
    "QuantizedMessage",
    "SparseMessage",
    "QSGD",
    "NUQSGD",
    "AdaptiveQuantizer",
    "TopK",
    "ErrorFeedback",
    "Diana",
]

_FLOAT_BITS = 32
_SWEEPS = 10  # coordinate-descent passes per refit of the adaptive levels


def _vector(vector) -> np.ndarray:
    """``vector`` as a finite 1-D float64 array, or an error naming it."""
    return RealField().validate(vector, "vector", ndim=(1,)).astype(np.float64, copy=False)


def _bin(r: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``j`` with ``ℓ_j ≤ r_i ≤ ℓ_{j+1}`` for each ``r_i ∈ [0, 1]`` (the last bin holds 1)."""
    return np.minimum(np.searchsorted(levels, r, side="right") - 1, len(levels) - 2)


def _index_bits(count: int) -> int:
    """Bits of a fixed-length index into ``count`` values (at least 1)."""
    return max(1, math.ceil(math.log2(count)))


def _bucket_count(dimension: int, bucket_size: int | None) -> int:
    return 1 if bucket_size is None else -(-dimension // bucket_size)


def _expand(norms: np.ndarray, dimension: int, bucket_size: int | None) -> np.ndarray:
    """Each of ``dimension`` coordinates' bucket norm, float64."""
    norms = norms.astype(np.float64)
    if bucket_size is None:
        return np.full(dimension, norms[0])
    return np.repeat(norms, bucket_size)[:dimension]


def _scaled(values: np.ndarray, norms: np.ndarray, bucket_size: int | None) -> np.ndarray:
    """``values`` (float64, a fresh array) times each coordinate's bucket norm, in place."""
    if bucket_size is None:
        values *= np.float64(norms[0])
        return values
    whole = len(values) // bucket_size * bucket_size
    head = values[:whole].reshape(-1, bucket_size)
    head *= norms[: len(head), None].astype(np.float64)
    if whole < len(values):
        values[whole:] *= np.float64(norms[-1])
    return values


def _pack(codes: np.ndarray, width: int) -> np.ndarray:
    """Unsigned ``codes`` of ``width`` bits each, most significant bit first, as bytes."""
    if 8 % width == 0:  # whole codes per byte: shift and add, no bit array
        per = 8 // width
        padded = np.zeros(-(-len(codes) // per) * per, dtype=np.uint8)
        padded[: len(codes)] = codes
        packed = np.zeros(len(padded) // per, dtype=np.uint8)
        for j, column in enumerate(padded.reshape(-1, per).T):
            packed |= column << np.uint8(8 - width * (j + 1))
        return packed
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint32)
    bits = (codes.astype(np.uint32)[:, None] >> shifts) & 1
    return np.packbits(bits.astype(np.uint8).ravel())


def _unpack(data: np.ndarray, count: int, width: int) -> np.ndarray:
    """The ``count`` codes of ``width`` bits that :func:`_pack` wrote."""
    if 8 % width == 0:
        shifts = (8 - width * np.arange(1, 8 // width + 1)).astype(np.uint8)
        mask = np.uint8((1 << width) - 1)
        return ((data[:, None] >> shifts) & mask).reshape(-1)[:count].astype(np.intp)
    bits = np.unpackbits(data, count=count * width).reshape(count, width)
    codes = np.zeros(count, dtype=np.intp)
    for column in bits.T:
        codes = (codes << 1) | column
    return codes


def _floats(data: np.ndarray, start: int, count: int) -> tuple[np.ndarray, int]:
    """``count`` big-endian float32 from byte ``start`` of ``data``, and the next offset."""
    end = start + 4 * count
    return np.frombuffer(data[start:end].tobytes(), dtype=">f4"), end


def _wire(data, expected: int, what: str) -> np.ndarray:
    """``data`` as a 1-D uint8 array of ``expected`` bytes, or a ValueError naming ``what``."""
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 1 or len(data) != expected:
        raise ValueError(
            f"Argument 'data' must be the {expected} bytes of {what} (uint8), not "
            f"{data.dtype} of shape {data.shape}."
        )
    return data


@dataclass(frozen=True, eq=False)
class QuantizedMessage:
    """A quantised vector as sent: its float32 bucket norms, sign bits and level indices.

    Attributes:
        norms: ``‖v_B‖₂`` of each bucket, float32 (one bucket: the whole vector).
        negative: one bool per coordinate, True where ``v_i < 0``.
        indices: the level index ``J_i`` of each coordinate, in ``[0, len(levels))``.
        levels: ``ℓ_0 = 0 < … < ℓ_m = 1``.
        sends_levels: whether the interior levels travel with the message (adaptive levels).
        bucket_size: coordinates per bucket (None: one bucket).
    """

    norms: np.ndarray
    negative: np.ndarray
    indices: np.ndarray
    levels: np.ndarray
    sends_levels: bool
    bucket_size: int | None = None

    @property
    def bits(self) -> int:
        """``32 ⌈d/b⌉ + d (1 + ⌈log₂(m + 1)⌉)``, plus ``32 (m − 1)`` if the levels are sent."""
        return _quantized_bits(
            len(self.indices), len(self.levels), self.sends_levels, self.bucket_size
        )

    def scales(self) -> np.ndarray:
        """Each coordinate's bucket norm, float64."""
        return _expand(self.norms, len(self.indices), self.bucket_size)

    def values(self) -> np.ndarray:
        """``‖v_B‖ · sign · ℓ_J``, float64: the vector this message stands for."""
        magnitude = self.levels[self.indices]
        np.negative(magnitude, out=magnitude, where=self.negative)
        return _scaled(magnitude, self.norms, self.bucket_size)

    def to_bytes(self) -> np.ndarray:
        """The wire: ``⌈bits / 8⌉`` bytes (uint8), norms and levels first, then the codes.

        >>> message = QSGD(levels=7).compress([3.0, -4.0], rng=0)
        >>> message.to_bytes().nbytes, message.bits   # 4 + ⌈2 · 4 / 8⌉ bytes for 40 bits
        (5, 40)
        """
        width = _index_bits(len(self.levels))
        codes = (self.negative.astype(np.intp) << width) | self.indices
        table = self.levels[1:-1] if self.sends_levels else np.zeros(0)
        head = np.concatenate([self.norms, table]).astype(">f4").view(np.uint8)
        return np.concatenate([head, _pack(codes, 1 + width)])


def _quantized_bits(
    dimension: int, count: int, sends_levels: bool, bucket_size: int | None = None
) -> int:
    """Bits of a quantised ``dimension``-vector with ``count`` levels (the module docstring)."""
    table = _FLOAT_BITS * (count - 2) if sends_levels else 0
    norms = _FLOAT_BITS * _bucket_count(dimension, bucket_size)
    return norms + table + dimension * (1 + _index_bits(count))


@dataclass(frozen=True, eq=False)
class SparseMessage:
    """A sparse vector as sent: ``k`` indices into ``[0, dimension)`` and float32 values."""

    dimension: int
    indices: np.ndarray
    values: np.ndarray

    @property
    def bits(self) -> int:
        """``k (⌈log₂ d⌉ + 32)``."""
        return len(self.indices) * (_index_bits(self.dimension) + _FLOAT_BITS)

    def to_bytes(self) -> np.ndarray:
        """The wire: ``⌈bits / 8⌉`` bytes, the float32 values, then the packed indices."""
        values = self.values.astype(">f4").view(np.uint8)
        return np.concatenate([values, _pack(self.indices, _index_bits(self.dimension))])


class _Quantizer:
    """Unbiased stochastic rounding of ``|v_i| / ‖v_B‖₂`` to ``self._levels`` (module docstring)."""

    _sends_levels = False

    def __init__(self, levels: int, bucket_size: int | None = None):
        self._s = check_int(levels, "levels", minimum=1)
        if bucket_size is not None:
            bucket_size = check_int(bucket_size, "bucket_size", minimum=1)
        self._bucket = bucket_size

    @property
    def levels(self) -> int:
        """``s``: the number of levels, as the paper counts them."""
        return self._s

    @property
    def bucket_size(self) -> int | None:
        """Coordinates normalised together (None: the whole vector)."""
        return self._bucket

    @property
    def points(self) -> np.ndarray:
        """The normalised levels ``0 = ℓ_0 < … < ℓ_m = 1``."""
        return self._levels.copy()

    def compress(self, vector, rng=None) -> QuantizedMessage:
        """The message for ``vector``; ``rng``: a numpy Generator or a seed."""
        v = _vector(vector)
        return self._quantize(v, self._levels, np.random.default_rng(rng))

    def decompress(self, message: QuantizedMessage) -> np.ndarray:
        """``‖v_B‖ · sign · ℓ_J``: an unbiased estimate of the vector."""
        return message.values()

    def message_bits(self, dimension: int) -> int:
        """Bits of the message of any vector of length ``d``: they depend on ``d``, the
        number of levels and the bucket size only, so a receiver can count them without
        the message.

        >>> QSGD(levels=7).message_bits(1000)  # 32 + 1000 · (1 + 3)
        4032
        >>> QSGD(levels=7, bucket_size=512).message_bits(1000)  # 2 buckets
        4064
        """
        d = check_int(dimension, "dimension", minimum=1)
        return _quantized_bits(d, len(self._levels), self._sends_levels, self._bucket)

    def from_bytes(self, data, dimension: int) -> QuantizedMessage:
        """The message of a ``dimension``-vector back from its :meth:`QuantizedMessage.to_bytes`.

        >>> q = QSGD(levels=7)
        >>> q.decompress(q.from_bytes(q.compress([3.0, -4.0], rng=0).to_bytes(), 2))
        array([ 2.85714286, -4.28571429])
        """
        norms, levels, codes, width = self._read(data, dimension)
        indices = codes & ((1 << width) - 1)
        negative = (codes >> width).astype(bool)
        return QuantizedMessage(norms, negative, indices, levels, self._sends_levels, self._bucket)

    def vector_from_bytes(self, data, dimension: int) -> np.ndarray:
        """``decompress(from_bytes(data, dimension))`` in one pass (a table of the signed
        levels indexed by each coordinate's code): what a receiver does per message.

        >>> q = QSGD(levels=7, bucket_size=1)
        >>> q.vector_from_bytes(q.compress([3.0, -4.0], rng=0).to_bytes(), 2)
        array([ 3., -4.])
        """
        norms, levels, codes, width = self._read(data, dimension)
        table = np.zeros(2 << width)
        table[: len(levels)], table[1 << width :][: len(levels)] = levels, -levels
        return _scaled(table[codes], norms, self._bucket)

    def _read(self, data, dimension: int):
        """``(norms, levels, codes, index bits)`` of a message's bytes, the codes checked."""
        d = check_int(dimension, "dimension", minimum=1)
        count = len(self._levels)
        data = _wire(data, -(-self.message_bits(d) // 8), f"a {d}-vector's message")
        norms, offset = _floats(data, 0, _bucket_count(d, self._bucket))
        levels = self._levels
        if self._sends_levels:
            table, offset = _floats(data, offset, count - 2)
            levels = np.concatenate([[0.0], table.astype(np.float64), [1.0]])
        width = _index_bits(count)
        codes = _unpack(data[offset:], d, 1 + width)
        if count < 1 << width and np.any((codes & ((1 << width) - 1)) >= count):
            raise ValueError(f"Argument 'data' holds a level index above {count - 1}.")
        return norms, levels, codes, width

    def variance(self, vector) -> float:
        """``E‖Q(v) − v‖² = Σ_B ‖v_B‖² Σ_{i∈B} (ℓ_{j+1} − r_i)(r_i − ℓ_j)`` exactly, at the
        current levels and the float32 norms the message carries.

        >>> QSGD(levels=2).variance([3.0, 4.0])  # r = (0.6, 0.8): (1 − .6)(.6 − .5) + (.2)(.3)
        2.5
        """
        v = _vector(vector)
        scale = _expand(self._norms(v), len(v), self._bucket)
        ell = self._levels
        safe = np.where(scale > 0, scale, 1.0)
        r = np.minimum(np.abs(v) / safe, 1.0)
        lower = self._bin(r, ell)
        return float(np.sum(scale**2 * (ell[lower + 1] - r) * (r - ell[lower])))

    def variance_bound(self, dimension: int) -> float:
        """``ε`` with ``E‖Q(v) − v‖² ≤ ε ‖v‖²`` for every ``v ∈ R^d``, from the levels:

        ``ε = (τ − 1)² / (4τ) + min(ℓ_1 √b, b ℓ_1² / 4)``, ``τ = max_{j≥1} ℓ_{j+1} / ℓ_j``,
        ``b = min(d, bucket_size)``.

        A coordinate in ``[ℓ_j, ℓ_{j+1}]``, ``j ≥ 1``, adds at most ``(τ − 1)²/(4τ) r_i²``
        (the maximum of ``(ℓ_{j+1} − r)(r − ℓ_j) / r²``); one in ``[0, ℓ_1]`` at most
        ``min(ℓ_1 r_i, ℓ_1² / 4)``; and within a bucket ``Σ r_i² = 1``, ``Σ r_i ≤ √b``.
        """
        b = self._dimension(dimension)
        ell = self._levels
        tau = float(np.max(ell[2:] / ell[1:-1])) if len(ell) > 2 else 1.0
        small = min(ell[1] * math.sqrt(b), b * ell[1] ** 2 / 4)
        return float((tau - 1) ** 2 / (4 * tau) + small)

    def _dimension(self, dimension: int) -> int:
        """The coordinates normalised together in a ``dimension``-vector: ``min(d, b)``."""
        d = check_int(dimension, "dimension", minimum=1)
        return d if self._bucket is None else min(d, self._bucket)

    def _norms(self, v: np.ndarray) -> np.ndarray:
        """The float32 norm of each bucket of ``v``."""
        if self._bucket is None:
            return np.array([np.linalg.norm(v)], dtype=np.float32)
        pad = -len(v) % self._bucket
        blocks = np.concatenate([v, np.zeros(pad)]).reshape(-1, self._bucket)
        return np.sqrt(np.einsum("ij,ij->i", blocks, blocks)).astype(np.float32)

    @staticmethod
    def _bin(r: np.ndarray, levels: np.ndarray) -> np.ndarray:
        return _bin(r, levels)

    def _quantize(self, v, levels, rng) -> QuantizedMessage:
        norms = self._norms(v)
        u = rng.random(v.shape)  # drawn even for a zero vector: the stream does not depend on v
        inverse = np.divide(1.0, norms, out=np.ones(len(norms)), where=norms > 0)
        r = np.minimum(_scaled(np.abs(v), inverse, self._bucket), 1.0)
        indices = self._round(r, u, levels)
        negative = v < 0
        return QuantizedMessage(norms, negative, indices, levels, self._sends_levels, self._bucket)

    def _round(self, r: np.ndarray, u: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """The level index of each ``r_i``: up with probability ``(r − ℓ_j) / (ℓ_{j+1} − ℓ_j)``
        (``u`` uniform draws)."""
        lower = self._bin(r, levels)
        low, width = levels[lower], levels[lower + 1] - levels[lower]
        # an empty bin (a float32 tie of adaptive levels) holds only r = low: round down
        return lower + (u < (r - low) / np.where(width > 0, width, 1.0))

    def _repr_extra(self) -> str:
        return "" if self._bucket is None else f", bucket_size={self._bucket}"

    def __repr__(self):
        return f"{type(self).__name__}(levels={self._s}{self._repr_extra()})"


class QSGD(_Quantizer):
    """QSGD: stochastic rounding of ``|v_i| / ‖v‖₂`` to ``s`` uniform levels ``j / s``.

    Unbiased, with ``E‖Q(v) − v‖² ≤ min(d / s², √d / s) ‖v‖²`` (Lemma 3.1), attained up to
    ``‖v‖²`` by the all-equal vector when ``d ≥ s²``. A message costs
    ``32 + d (1 + ⌈log₂(s + 1)⌉)`` bits. With ``bucket_size=b`` (the paper's buckets, 512 in
    its experiments) ``d`` becomes ``b`` in the bound, for 32 bits per bucket.

    >>> q = QSGD(levels=1)  # sign and a Bernoulli bit: the 1-bit QSGD of the paper
    >>> message = q.compress([1.0, 1.0, 1.0, 1.0], rng=1)
    >>> q.decompress(message), message.bits, q.variance_bound(4)
    (array([0., 0., 2., 0.]), 40, 2.0)
    >>> QSGD(levels=0)
    Traceback (most recent call last):
    ...
    ValueError: Argument 'levels' must be at least 1, not 0.

    References:
        D. Alistarh, D. Grubic, J. Li, R. Tomioka, M. Vojnovic, "QSGD: Communication-efficient
        SGD via gradient quantization and encoding", NeurIPS 2017 (arXiv:1610.02132).
    """

    def __init__(self, levels: int, bucket_size: int | None = None):
        super().__init__(levels, bucket_size)
        self._levels = np.arange(self._s + 1) / self._s

    def variance_bound(self, dimension: int) -> float:
        """``min(b / s², √b / s)``, ``b = min(d, bucket_size)`` (QSGD's Lemma 3.1, per bucket).

        >>> QSGD(levels=7).variance_bound(1_000_000), QSGD(7, bucket_size=512).variance_bound(10**6)
        (142.85714285714286, 3.2324881425670746)
        """
        b, s = self._dimension(dimension), self._s
        return min(b / s**2, math.sqrt(b) / s)

    def _bin(self, r: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Uniform levels: ``⌊r s⌋`` (``s − 1`` for ``r = 1``), without a search."""
        return np.minimum((r * self._s).astype(np.intp), self._s - 1)

    def _round(self, r: np.ndarray, u: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Uniform levels: ``⌊r s⌋ + [u < r s − ⌊r s⌋]``."""
        x = r * self._s
        lower = np.minimum(x.astype(np.intp), self._s - 1)
        x -= lower
        return lower + (u < x)


class NUQSGD(_Quantizer):
    """NUQSGD: stochastic rounding of ``|v_i| / ‖v‖₂`` to the exponential levels
    ``{0, 2^{−s}, …, 1/2, 1}``.

    Unbiased, with ``E‖Q(v) − v‖² ≤ ε ‖v‖²``, ``ε = 1/8 + min(2^{−s} √d, d 2^{−2s} / 4)``
    (the level-ratio bound of :meth:`variance_bound` at ``τ = 2``, of the form of the
    paper's: 1/8 plus a term that vanishes as ``2^{−s} √d``). The levels are dense where
    normalised gradients concentrate, near 0. A message costs
    ``32 + d (1 + ⌈log₂(s + 2)⌉)`` bits.

    >>> q = NUQSGD(levels=2)
    >>> q.points, q.variance_bound(16)
    (array([0.  , 0.25, 0.5 , 1.  ]), 0.375)
    >>> q.decompress(q.compress([0.6, -0.8], rng=0))
    array([ 0.5, -1. ])

    References:
        A. Ramezani-Kebrya, F. Faghri, I. Markov, V. Aksenov, D. Alistarh, D. M. Roy,
        "NUQSGD: Provably communication-efficient data-parallel SGD via nonuniform
        quantization", JMLR 22 (2021) (arXiv:1908.06077).
    """

    def __init__(self, levels: int, bucket_size: int | None = None):
        super().__init__(levels, bucket_size)
        self._levels = np.concatenate([[0.0], 2.0 ** np.arange(-self._s, 1)])


class AdaptiveQuantizer(_Quantizer):
    """ALQ: stochastic rounding to levels fitted to the normalised coordinates seen so far.

    Starts from NUQSGD's levels ``{0, 2^{−s}, …, 1/2, 1}`` (``s`` interior levels) and, every
    ``refit_every`` calls of :meth:`compress`, refits them to the ``r_i = |v_i| / ‖v‖₂`` of
    those calls by coordinate descent on the empirical variance
    ``V(ℓ) = Σ_i (ℓ_{j+1} − r_i)(r_i − ℓ_j)``. ``V`` is convex and piecewise linear in each
    ``ℓ_j`` (neighbours ``a < ℓ_j < b`` fixed), minimised at ``r_(⌊N⌋)``, the ``r`` in
    ``(a, b)`` sorted and counted from 0, ``N = Σ_{a<r<b} (b − r) / (b − a)`` (ALQ's update
    on the empirical distribution). Unbiased at any levels, with :meth:`variance_bound` for
    the current ones. The levels change, so the messages carry them (float32, ``32 s`` bits).

    >>> q = AdaptiveQuantizer(levels=2, refit_every=2)
    >>> q.points
    array([0.  , 0.25, 0.5 , 1.  ])
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(2):
    ...     message = q.compress(rng.standard_normal(100), rng)
    >>> message.bits, q.points.round(3)  # 32 + 100 · (1 + 2) + 2 · 32
    (396, array([0.   , 0.097, 0.246, 1.   ]))

    References:
        F. Faghri, I. Tabrizian, I. Markov, D. Alistarh, D. M. Roy, A. Ramezani-Kebrya,
        "Adaptive gradient quantization for data-parallel SGD", NeurIPS 2020
        (arXiv:2010.12460).
    """

    _sends_levels = True

    def __init__(self, levels: int, refit_every: int = 10, bucket_size: int | None = None):
        super().__init__(levels, bucket_size)
        self._refit_every = check_int(refit_every, "refit_every", minimum=1)
        self._levels = np.concatenate([[0.0], 2.0 ** np.arange(-self._s, 1)])
        self._seen: list[np.ndarray] = []

    @property
    def refit_every(self) -> int:
        return self._refit_every

    def compress(self, vector, rng=None) -> QuantizedMessage:
        """The message for ``vector`` at the current levels; then, every ``refit_every``
        calls, the levels are refitted (they take effect from the next call)."""
        v = _vector(vector)
        message = self._quantize(v, self._levels, np.random.default_rng(rng))
        scale = message.scales()
        if np.any(scale > 0):
            self._seen.append(np.abs(v[scale > 0]) / scale[scale > 0])
        if len(self._seen) >= self._refit_every:
            self._levels = _fit_levels(np.sort(np.concatenate(self._seen)), self._levels)
            self._seen = []
        return message

    def __repr__(self):
        extra = self._repr_extra()
        return f"AdaptiveQuantizer(levels={self._s}, refit_every={self._refit_every}{extra})"


def _fit_levels(r: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Coordinate descent on the empirical variance of sorted ``r``; levels kept float32."""
    levels = levels.copy()
    for _ in range(_SWEEPS):
        for j in range(1, len(levels) - 1):
            a, b = levels[j - 1], levels[j + 1]
            inside = r[np.searchsorted(r, a, side="right") : np.searchsorted(r, b, side="left")]
            if len(inside):
                levels[j] = inside[int(np.sum(b - inside) / (b - a))]
    levels = levels.astype(np.float32).astype(np.float64)  # what the message carries
    return np.maximum.accumulate(levels)  # a float32 tie leaves an empty bin, never a reversal


class TopK:
    """The ``k`` coordinates largest in magnitude (ties to the lower index); the rest are 0.

    Biased (``E C(v) ≠ v``) but contractive: ``‖C(v) − v‖² ≤ (1 − k/d) ‖v‖²``. Wrap it in
    :class:`ErrorFeedback` to train with it. A message costs ``k (⌈log₂ d⌉ + 32)`` bits.

    >>> top = TopK(2)
    >>> message = top.compress([0.5, -3.0, 2.0, 1.0])
    >>> top.decompress(message), message.bits  # 2 · (2 + 32)
    (array([ 0., -3.,  2.,  0.]), 68)
    >>> top.compress([1.0])
    Traceback (most recent call last):
    ...
    ValueError: Argument 'k' must be at most the dimension d=1, not 2.
    """

    def __init__(self, k: int):
        self._k = check_int(k, "k", minimum=1)

    @property
    def k(self) -> int:
        return self._k

    def compress(self, vector, rng=None) -> SparseMessage:
        """The message for ``vector`` (``rng`` is unused: top-k is deterministic)."""
        v = _vector(vector)
        check_int(self._k, "k", maximum=len(v), maximum_name="the dimension d")
        indices = np.sort(np.argsort(-np.abs(v), kind="stable")[: self._k])
        return SparseMessage(len(v), indices, v[indices].astype(np.float32))

    def message_bits(self, dimension: int) -> int:
        """``k (⌈log₂ d⌉ + 32)``: the bits of any ``d``-vector's message."""
        d = check_int(dimension, "dimension", minimum=1)
        check_int(self._k, "k", maximum=d, maximum_name="the dimension d")
        return self._k * (_index_bits(d) + _FLOAT_BITS)

    def from_bytes(self, data, dimension: int) -> SparseMessage:
        """The message of a ``dimension``-vector back from its :meth:`SparseMessage.to_bytes`.

        >>> top = TopK(2)
        >>> top.decompress(top.from_bytes(top.compress([0.5, -3.0, 2.0]).to_bytes(), 3))
        array([ 0., -3.,  2.])
        """
        d = check_int(dimension, "dimension", minimum=1)
        data = _wire(data, -(-self.message_bits(d) // 8), f"a {d}-vector's top-{self._k}")
        values, offset = _floats(data, 0, self._k)
        indices = _unpack(data[offset:], self._k, _index_bits(d))
        if indices.max(initial=0) >= d:
            raise ValueError(f"Argument 'data' holds an index above d - 1 = {d - 1}.")
        return SparseMessage(d, indices, values)

    def vector_from_bytes(self, data, dimension: int) -> np.ndarray:
        """``decompress(from_bytes(data, dimension))``."""
        return self.decompress(self.from_bytes(data, dimension))

    def decompress(self, message: SparseMessage) -> np.ndarray:
        out = np.zeros(message.dimension)
        out[message.indices] = message.values
        return out

    def __repr__(self):
        return f"TopK(k={self._k})"


_COMPRESSORS = (_Quantizer, TopK)


class ErrorFeedback:
    """Error feedback around a compressor: each worker adds what it has not yet sent.

    Worker ``i`` keeps a residual ``e_i`` (0 at first), sends ``C(v + e_i)`` and keeps
    ``e_i ← v + e_i − C(v + e_i)``: the sum of what it sent trails the sum of its vectors by
    ``e_i`` only, which is how a biased compressor (top-k) still converges. Feed it the
    step-scaled gradients ``γ_t g_i`` (with a constant step, the gradients do as well). With
    workers whose gradients differ at the optimum, a constant step ends in an ``O(γ)``
    neighbourhood of it; decreasing steps converge.

    >>> ef = ErrorFeedback(TopK(1))
    >>> [ef.compressor.decompress(ef.compress(0, [1.0, 0.75])) for _ in range(3)]
    [array([1., 0.]), array([0. , 1.5]), array([2., 0.])]
    >>> ef.residual(0)
    array([0.  , 0.75])

    References:
        S. U. Stich, J.-B. Cordonnier, M. Jaggi, "Sparsified SGD with memory", NeurIPS 2018.
        S. P. Karimireddy, Q. Rebjock, S. U. Stich, M. Jaggi, "Error feedback fixes SignSGD
        and other gradient compression schemes", ICML 2019.
    """

    def __init__(self, compressor):
        what = "a compressor (QSGD, NUQSGD, AdaptiveQuantizer or TopK)"
        self._compressor = check_instance(compressor, "compressor", _COMPRESSORS, what)
        self._residuals: dict[int, np.ndarray] = {}

    @property
    def compressor(self):
        return self._compressor

    def compress(self, worker: int, vector, rng=None):
        """Worker ``worker``'s message for ``vector`` plus its residual; updates the residual."""
        worker = check_int(worker, "worker", minimum=0)
        corrected = _vector(vector) + self._residuals.get(worker, 0.0)
        message = self._compressor.compress(corrected, rng)
        self._residuals[worker] = corrected - self._compressor.decompress(message)
        return message

    def residual(self, worker: int) -> np.ndarray:
        """Worker ``worker``'s residual ``e_i`` (what it owes; empty before its first call)."""
        residual = self._residuals.get(check_int(worker, "worker", minimum=0))
        return np.zeros(0) if residual is None else residual.copy()

    def __repr__(self):
        return f"ErrorFeedback({self._compressor!r})"


class Diana:
    """DIANA: each worker compresses its gradient's difference from a learned shift.

    Worker ``i`` holds ``h_i`` (0 at first), sends ``m_i = Q(g_i − h_i)`` and updates
    ``h_i ← h_i + α Q(g_i − h_i)`` (:meth:`compress`). The master holds ``h = mean_i h_i``
    and, from all ``n`` messages, estimates ``ĝ = h + mean_i Q(g_i − h_i)`` and updates
    ``h ← h + α mean_i Q(g_i − h_i)`` (:meth:`aggregate`). ``ĝ`` is unbiased for an unbiased
    ``Q``, and with full gradients ``h_i → ∇f_i(x*)``, so the noise vanishes at the optimum
    and gradient descent converges to it exactly (for ``α ≤ 1 / (ω + 1)``, ``ω`` the
    compressor's :meth:`variance_bound`). The messages are the compressor's, bit for bit.

    >>> diana = Diana(QSGD(levels=1), alpha=0.5, n=2)
    >>> g = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    >>> messages = {i: diana.compress(i, g[i], rng=i) for i in range(2)}
    >>> diana.aggregate(messages), diana.shift
    (array([0.5, 0.5]), array([0.25, 0.25]))

    References:
        K. Mishchenko, E. Gorbunov, M. Takáč, P. Richtárik, "Distributed learning with
        compressed gradient differences" (arXiv:1901.09269).
    """

    def __init__(self, compressor, alpha: float, n: int):
        what = "an unbiased quantiser (QSGD, NUQSGD or AdaptiveQuantizer)"
        self._compressor = check_instance(compressor, "compressor", _Quantizer, what)
        self._alpha = check_number(alpha, "alpha", 0, above=True, maximum=1)
        self._n = check_int(n, "n", minimum=1)
        self._shifts: dict[int, np.ndarray] = {}
        self._shift: np.ndarray | None = None

    @property
    def compressor(self):
        return self._compressor

    @property
    def alpha(self) -> float:
        return self._alpha

    @property
    def n(self) -> int:
        return self._n

    @property
    def shift(self) -> np.ndarray:
        """The master's ``h = mean_i h_i`` (empty before the first round)."""
        return np.zeros(0) if self._shift is None else self._shift.copy()

    def worker_shift(self, worker: int) -> np.ndarray:
        """Worker ``worker``'s ``h_i`` (empty before its first message)."""
        shift = self._shifts.get(self._worker(worker))
        return np.zeros(0) if shift is None else shift.copy()

    def compress(self, worker: int, gradient, rng=None) -> QuantizedMessage:
        """Worker side: ``Q(g_i − h_i)``, then ``h_i ← h_i + α Q(g_i − h_i)``."""
        worker, g = self._worker(worker), RealField().validate(gradient, "gradient", ndim=(1,))
        shift = self._shifts.get(worker, np.zeros(len(g)))
        if len(g) != len(shift):
            raise ValueError(
                f"Argument 'gradient' must have the length {len(shift)} of worker {worker}'s "
                f"earlier gradients, not {len(g)}."
            )
        message = self._compressor.compress(g - shift, rng)
        self._shifts[worker] = shift + self._alpha * self._compressor.decompress(message)
        return message

    def aggregate(self, messages: Mapping[int, QuantizedMessage]) -> np.ndarray:
        """Master side: ``ĝ = h + mean_i Q(g_i − h_i)``, then ``h ← h + α mean_i Q(g_i − h_i)``."""
        if not isinstance(messages, Mapping) or sorted(messages) != list(range(self._n)):
            got = sorted(messages) if isinstance(messages, Mapping) else messages
            raise ValueError(
                f"Argument 'messages' must map each worker 0..{self._n - 1} to its message, "
                f"not {got!r}."
            )
        delta = np.mean([self._compressor.decompress(messages[i]) for i in range(self._n)], 0)
        shift = np.zeros(len(delta)) if self._shift is None else self._shift
        self._shift = shift + self._alpha * delta
        return shift + delta

    def _worker(self, worker) -> int:
        return check_int(worker, "worker", minimum=0, maximum=self._n - 1, maximum_name="n - 1")

    def __repr__(self):
        return f"Diana({self._compressor!r}, alpha={self._alpha:g}, n={self._n})"
