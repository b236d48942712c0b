"""The arithmetic a code works in: the reals (float64 / float32) or a prime field GF(p).

Real codes encode over the complex numbers with evaluation points on the unit circle
(see :mod:`coded._complex`), so every system a real decoder solves is a submatrix of a
DFT-like matrix and stays well-conditioned. Prime-field codes are exact: matrix products
run as float64 BLAS on chunks whose sums cannot exceed 2^53, then reduce mod p,

    inner · (p − 1)² ≤ 2^53,

and primes too large for that are split into 16-bit limbs first.
"""

from __future__ import annotations

import functools
import numbers
import sys
from collections.abc import Collection

import numpy as np

from .checks import check_array, check_int, describe

__all__ = ["RealField", "PrimeField", "as_field", "gf_matmul"]

_EXACT = 2**53
_MAX_PRIME = 2**31  # limb products are recombined in int64: (p − 1)² must fit


class RealField:
    """Floating-point arithmetic; float32 operands stay float32 on the workers."""

    name = "real"
    exact = False

    def spec(self):
        """The value of a code's ``field`` argument that rebuilds this field."""
        return "real"

    def validate(
        self, x, name: str, ndim: Collection[int] | None = None, *, finite: bool = True
    ) -> np.ndarray:
        """Return ``x`` as a float32/float64 array, rejecting non-numbers, the wrong number
        of dimensions, an empty array (:func:`~coded.checks.check_array`) and, if ``finite``,
        NaN and Inf.

        >>> RealField().validate([1.0, float("nan")], "x")
        Traceback (most recent call last):
        ...
        ValueError: Argument 'x' must be finite, not nan at index (1,).
        """
        array = check_array(x, name, ndim)
        if np.iscomplexobj(array):
            raise TypeError(f"Argument {name!r} must be real-valued, not {array.dtype}.")
        if array.dtype not in (np.float32, np.float64):
            array = array.astype(np.float64)
        if finite and not np.isfinite(array).all():
            raise ValueError(
                f"Argument {name!r} must be finite, not {_first(array, ~np.isfinite(array))}."
            )
        return array

    def result_dtype(self, *arrays) -> np.dtype:
        return np.result_type(*arrays)

    def combine(self, matrix: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """``out[i] = Σ_j matrix[i, j] · blocks[j]`` (complex arithmetic)."""
        return np.tensordot(matrix, blocks, axes=1)

    def inverse(self, matrix: np.ndarray) -> np.ndarray:
        return np.linalg.inv(matrix)

    def __repr__(self):
        return "RealField()"

    def __eq__(self, other):
        return isinstance(other, RealField)

    def __hash__(self):
        return hash("real")


_INT64_COMBINE_COLUMNS = 32  # beyond, a few BLAS passes beat k int64 passes


class PrimeField:
    """Exact arithmetic modulo a prime ``p < 2^31``; operands are integers in [0, p)."""

    exact = True

    def __init__(self, p: int):
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise TypeError(
                f"Argument 'field' must be 'real', a prime or a galois GF(p), not {describe(p)}."
            )
        p = int(p)
        import galois  # imported on first use: real-only work (and every Ray worker) skips it

        if p < 2 or not galois.is_prime(p):
            raise ValueError(f"Argument 'field' must be a prime number, not {p}.")
        if p >= _MAX_PRIME:
            raise ValueError(f"Argument 'field' must be a prime below 2^31, not {p}.")
        self.p = p
        self.name = f"GF({p})"

    def spec(self):
        return self.p

    @property
    def galois_field(self):
        """The galois ``GF(p)`` class, the independent oracle for inverses."""
        return _galois_field(self.p)

    def validate(
        self, x, name: str, ndim: Collection[int] | None = None, *, finite: bool = True
    ) -> np.ndarray:
        """Return ``x`` as an int64 array with entries in [0, p) (always finite).

        >>> PrimeField(7).validate([[3, 9]], "A")
        Traceback (most recent call last):
        ...
        ValueError: Argument 'A' must have entries in [0, 7) for GF(7), not 9 at index (0, 1).
        """
        return _residues(x, name, self.p, self.name, ndim)

    def result_dtype(self, *arrays) -> np.dtype:
        return np.dtype(np.int64)

    def combine(self, matrix: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """``out[i] = Σ_j matrix[i, j] · blocks[j] mod p``, exactly.

        A code's generator has a few columns. When one float GEMM of them is not exact
        (``k·(p − 1)² > 2^53``, large p), int64 (each product below 2^62, a sum of k reduced
        ones below k·p) beats BLAS on 16-bit limbs: p = 2^31 − 1, measured 0.34 s against
        2.4 s for an 8 × 4 matrix on 2M entries, 0.92 s against 2.3 s for 16 × 12 on 1M,
        even at 32 × 28.
        """
        p, k = self.p, blocks.shape[0]
        flat = blocks.reshape(k, -1)
        if k * (p - 1) ** 2 <= 2**53 or k > _INT64_COMBINE_COLUMNS:
            out = gf_matmul(matrix, flat, p, check=False)
        else:
            flat = flat.astype(np.int64, copy=False)
            out = np.empty((len(matrix), flat.shape[1]), np.int64)
            for i, row in enumerate(np.asarray(matrix, np.int64) % p):
                out[i] = (row[:, None] * flat % p).sum(axis=0) % p
        return out.reshape((matrix.shape[0],) + blocks.shape[1:])

    def inverse(self, matrix: np.ndarray) -> np.ndarray:
        GF = self.galois_field
        return np.linalg.inv(GF(np.asarray(matrix) % self.p)).view(np.ndarray).astype(np.int64)

    def __repr__(self):
        return f"PrimeField({self.p})"

    def __eq__(self, other):
        return isinstance(other, PrimeField) and other.p == self.p

    def __hash__(self):
        return hash(("GF", self.p))


@functools.cache
def _galois_field(p: int):
    import galois

    return galois.GF(p)


def as_field(field) -> RealField | PrimeField:
    """Turn a code's ``field`` argument into a field object.

    Accepts ``"real"``, a prime ``p``, a galois ``GF(p)`` class or a field object.

    >>> as_field("real"), as_field(65537)
    (RealField(), PrimeField(65537))
    """
    if isinstance(field, (RealField, PrimeField)):
        return field
    if isinstance(field, str):
        if field.lower() in ("real", "float", "float64", "float32"):
            return RealField()
        raise ValueError(
            f"Argument 'field' must be 'real', a prime or a galois GF(p), not {field!r}."
        )
    galois = sys.modules.get("galois")  # a galois class can only come from an imported galois
    if galois is not None and isinstance(field, type) and issubclass(field, galois.FieldArray):
        if field.degree != 1:
            raise ValueError(f"Argument 'field' must be a prime field GF(p), not {field.name}.")
        return PrimeField(int(field.characteristic))
    return PrimeField(field)


def gf_matmul(a, b, p: int, *, check: bool = True) -> np.ndarray:
    """Exact ``a @ b mod p`` for integer arrays with entries in [0, p), via float BLAS.

    Every float partial sum must be an exact integer: the inner dimension is cut into
    chunks with ``chunk · (p − 1)² ≤ 2^53`` (float32 when the sums stay below 2^24).
    When that leaves chunks too short to be efficient, the operands are split into 16-bit
    limbs ``a = a₀ + 2^16·a₁`` and the four limb products recombined mod p in int64.

    ``check`` (the default) refuses what the arithmetic cannot take: a modulus outside
    [2, 2^31), operands that are not 1-D or 2-D integer arrays with entries in [0, p), or
    shapes that do not multiply. Callers whose operands are already reduced (the codes, a
    worker's product kernel) pass ``check=False``.

    >>> gf_matmul(np.array([[3, 4]]), np.array([[5], [6]]), 7)
    array([[4]])
    >>> gf_matmul(np.array([[0.5]]), np.array([[1]]), 7)
    Traceback (most recent call last):
    ...
    TypeError: Argument 'a' must be an integer array over GF(7), not an array of dtype float64.
    """
    if check:
        p = check_int(p, "p", minimum=2, maximum=_MAX_PRIME - 1)
        a = _residues(a, "a", p, f"GF({p})", (1, 2))
        b = _residues(b, "b", p, f"GF({p})", (1, 2))
        if a.shape[-1] != b.shape[0]:
            raise ValueError(
                f"Arguments 'a' and 'b' must have matching inner dimensions, "
                f"not shapes {a.shape} and {b.shape}."
            )
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    inner = a.shape[-1]
    if _EXACT // (p - 1) ** 2 >= min(inner, _MIN_CHUNK):
        return _matmul_exact(a, b, p, p - 1)
    out = np.int64(0)
    for i, low_a in enumerate(_limbs(a)):
        for j, low_b in enumerate(_limbs(b)):
            partial = _matmul_exact(low_a, low_b, p, _LIMB - 1)
            out = (out + partial * pow(_LIMB, i + j, p)) % p
    return out


def _residues(x, name: str, p: int, field: str, ndim: Collection[int] | None) -> np.ndarray:
    """``x`` as an int64 array with entries in [0, p), or an error naming the argument."""
    array = check_array(x, name, ndim)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"Argument {name!r} must be an integer array over {field}, "
            f"not an array of dtype {array.dtype}."
        )
    outside = (array < 0) | (array >= p)  # before the cast: a huge uint64 would wrap
    if outside.any():
        raise ValueError(
            f"Argument {name!r} must have entries in [0, {p}) for {field}, "
            f"not {_first(array, outside)}."
        )
    return array.astype(np.int64, copy=False)


def _first(array: np.ndarray, bad: np.ndarray) -> str:
    """The first entry of ``array`` where ``bad`` holds, and its index."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return repr(array[index].item()) + (f" at index {index}" if index else "")


_LIMB = 2**16
_MIN_CHUNK = 1024  # below this many inner terms per BLAS call, limbs are faster


def _limbs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x % _LIMB, x // _LIMB


def _matmul_exact(a: np.ndarray, b: np.ndarray, p: int, bound: int) -> np.ndarray:
    """``a @ b mod p`` when every entry is at most ``bound`` and ``bound² ≤ 2^53``."""
    inner = a.shape[-1]
    chunk = max(1, _EXACT // max(bound * bound, 1))
    dtype = np.float32 if inner * bound * bound <= 2**24 else np.float64
    af, bf = a.astype(dtype), b.astype(dtype)
    if inner <= chunk:
        return (af @ bf).astype(np.int64) % p
    out = np.int64(0)
    for start in range(0, inner, chunk):
        out = (
            out + (af[..., start : start + chunk] @ bf[start : start + chunk]).astype(np.int64)
        ) % p
    return out
