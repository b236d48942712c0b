"""Real matrices multiplied exactly in GF(p) on fixed-point inputs, with the error stated.

A real ``x`` becomes the integer ``round(2^l x)`` (``l = scale_bits``), held in GF(p) as itself
when it is non-negative and as ``p − |x|`` when it is negative. The product of quantised
matrices is the integer matrix ``A_q @ B_q`` as long as no entry reaches p/2 in magnitude:
lifting its residues back to ``(−p/2, p/2)`` and dividing by ``2^{2l}`` gives ``A @ B`` up to
the rounding of the inputs.

**Overflow (checked, not assumed).** Every entry of ``A_q @ B_q`` is at most

    M = min(max_i ‖A_q[i, :]‖₁ · max|B_q|,  max|A_q| · max_k ‖B_q[:, k]‖₁)
      ≤ inner · max|A_q| · max|B_q|

in magnitude. :class:`QuantizedProduct` refuses a scale at which ``M``, ``max|A_q|`` or
``max|B_q|`` exceeds ``(p − 1)/2``.

**Error.** With ``A_q = 2^l A + E_A`` and ``B_q = 2^l B + E_B`` (rounding errors, entries at most
``e_A = max|E_A| ≤ ½`` and ``e_B = max|E_B| ≤ ½``),

    Ĉ = A_q B_q / 2^{2l} = A B + (E_A B + A E_B) / 2^l + E_A E_B / 2^{2l},

so every entry of ``Ĉ − A B`` is at most

    ε = (e_A · max_k ‖B[:, k]‖₁ + e_B · max_i ‖A[i, :]‖₁) / 2^l + inner · e_A e_B / 2^{2l}
      ≤ inner · (max|A| + max|B|) · 2^{−(l+1)} + inner · 2^{−(2l+2)}.

Dequantising adds no error: ``|A_q B_q| < 2^31`` is exact in float64 and is divided by a
power of two. Inputs that are multiples of ``2^{−l}`` (integers, for ``l ≥ 0``) give ε = 0.
"""

from __future__ import annotations

import numpy as np

from .checks import check_int
from .fields import PrimeField, RealField, as_field

__all__ = ["QuantizedProduct"]

_SCALES = (-64, 128)  # the scale_bits searched (and accepted)


class QuantizedProduct:
    """``A @ B`` of real matrices through GF(p): quantised operands, overflow check, error bound.

    Args:
        A, B: real matrices (finite; ``A`` m × inner, ``B`` inner × q).
        field: the prime p (or galois ``GF(p)``) the product is computed in; the largest
            supported, ``2^31 − 1``, leaves the most room.
        scale_bits: ``l``: the inputs are scaled by ``2^l`` and rounded (may be negative for
            large inputs). None: the largest ``l`` in [−64, 128] at which nothing can overflow.

    Attributes:
        a, b: the quantised operands as residues in [0, p): give them to any GF(p) product
            code, e.g. ``code.encode(q.a, q.b)``.
        scale_bits: the scale used.
        magnitude_bound: ``max(M, max|A_q|, max|B_q|)`` of the module docstring: no entry of
            ``A_q``, ``B_q`` or ``A_q @ B_q`` exceeds it in magnitude, and it is at most (p − 1)/2.
        error_bound: ``ε``: every entry of :meth:`dequantize` of the exact product is within
            ε of ``A @ B`` (rounded up for the float arithmetic of its own evaluation).

    Raises ValueError, naming the scale, the bound and p, when the product could overflow.

    >>> import numpy as np
    >>> A, B = np.array([[0.5, -1.25]]), np.array([[2.0], [0.1]])
    >>> q = QuantizedProduct(A, B, field=65537, scale_bits=4)
    >>> q.a, q.b.ravel(), q.magnitude_bound
    (array([[    8, 65517]]), array([32,  2]), 680)
    >>> from coded import gf_matmul
    >>> C = q.dequantize(gf_matmul(q.a, q.b, 65537))  # (8·32 − 20·2) / 2^8
    >>> C, (A @ B).item(), q.error_bound  # 0.1 rounds to 2/16: ε = 0.4 · 1.75 / 16
    (array([[0.84375]]), 0.875, 0.04375...)
    >>> QuantizedProduct(A, B, field=65537, scale_bits=8)
    Traceback (most recent call last):
    ...
    ValueError: Argument 'scale_bits' is too large for A @ B in GF(65537): at scale_bits=8 ...
    """

    def __init__(self, A, B, field=2**31 - 1, scale_bits: int | None = None):
        self.field = _prime_field(field)
        real = RealField()
        A = real.validate(A, "A", ndim=(2,)).astype(np.float64, copy=False)
        B = real.validate(B, "B", ndim=(2,)).astype(np.float64, copy=False)
        if A.shape[1] != B.shape[0]:
            raise ValueError(
                f"Arguments 'A' and 'B' must have matching inner dimensions: "
                f"A has shape {A.shape}, B has shape {B.shape}."
            )
        half = (self.field.p - 1) // 2
        if scale_bits is None:
            scale_bits = _largest_scale(A, B, half)
            if scale_bits is None:
                raise ValueError(
                    f"A @ B cannot be computed in {self.field.name} at any scale_bits >= "
                    f"{_SCALES[0]}: use a larger p, or smaller inputs."
                )
        scale_bits = check_int(scale_bits, "scale_bits", minimum=_SCALES[0], maximum=_SCALES[1])
        a, b = _scaled(A, scale_bits), _scaled(B, scale_bits)
        magnitude = _magnitude(a, b)
        if magnitude > half:
            best = _largest_scale(A, B, half)
            fix = (
                f"Use scale_bits at most {best} or a larger p."
                if best is not None
                else "No scale fits: use a larger p, or smaller inputs."
            )
            raise ValueError(
                f"Argument 'scale_bits' is too large for A @ B in {self.field.name}: at "
                f"scale_bits={scale_bits} the entries of A_q, B_q or A_q @ B_q could reach "
                f"{magnitude:.6g} in magnitude, above (p - 1)/2 = {half}. {fix}"
            )
        self.scale_bits = scale_bits
        self.magnitude_bound = int(magnitude)
        self.error_bound = _error_bound(A, B, a, b, scale_bits)
        p = self.field.p
        self.a, self.b = a.astype(np.int64) % p, b.astype(np.int64) % p

    def dequantize(self, C) -> np.ndarray:
        """The real product from the residues of ``A_q @ B_q`` (lifted to (−p/2, p/2), / 2^{2l})."""
        C = self.field.validate(C, "C")
        p = self.field.p
        lifted = np.where(C > (p - 1) // 2, C - p, C)
        return np.ldexp(lifted.astype(np.float64), -2 * self.scale_bits)

    def __repr__(self):
        return (
            f"QuantizedProduct(field={self.field.p}, scale_bits={self.scale_bits}, "
            f"error_bound={self.error_bound:.3g})"
        )


def _prime_field(field) -> PrimeField:
    field = as_field(field)
    if not isinstance(field, PrimeField):
        raise ValueError(
            f"Argument 'field' must be a prime p (quantised products are exact in GF(p)), "
            f"not {field.spec()!r}."
        )
    return field


def _scaled(x: np.ndarray, scale_bits: int) -> np.ndarray:
    """``round(2^l x)`` as floats (exact: scaling by a power of two, then rounding); an
    overflow gives inf, which the magnitude check refuses."""
    with np.errstate(over="ignore"):
        return np.rint(np.ldexp(x, scale_bits))


def _magnitude(a: np.ndarray, b: np.ndarray) -> float:
    """``max(M, max|a|, max|b|)``: the largest magnitude in ``a``, ``b`` and ``a @ b``."""
    abs_a, abs_b = np.abs(a), np.abs(b)
    max_a, max_b = float(abs_a.max()), float(abs_b.max())
    rows, cols = float(abs_a.sum(axis=1).max()), float(abs_b.sum(axis=0).max())
    # largest first: an infinite entry (then 0 · inf = nan in the products) stays infinite
    return max(max(max_a, max_b), min(rows * max_b, max_a * cols))


def _largest_scale(A: np.ndarray, B: np.ndarray, half: int) -> int | None:
    """The largest scale in ``_SCALES`` at which no magnitude exceeds ``half`` (None: none).

    Bisection: ``|round(2^l x)|`` never decreases as ``l`` grows, nor do the magnitudes.
    """
    lo, hi = _SCALES
    if _magnitude(_scaled(A, lo), _scaled(B, lo)) > half:
        return None
    while lo < hi:  # lo fits; the answer is in [lo, hi]
        mid = (lo + hi + 1) // 2
        if _magnitude(_scaled(A, mid), _scaled(B, mid)) <= half:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _error_bound(A, B, a, b, scale_bits: int) -> float:
    """``ε`` of the module docstring, rounded up for its own float evaluation."""
    inner = A.shape[1]
    e_a = float(np.abs(a - np.ldexp(A, scale_bits)).max())
    e_b = float(np.abs(b - np.ldexp(B, scale_bits)).max())
    rows, cols = float(np.abs(A).sum(axis=1).max()), float(np.abs(B).sum(axis=0).max())
    bound = np.ldexp(e_a * cols + e_b * rows, -scale_bits) + np.ldexp(
        inner * e_a * e_b, -2 * scale_bits
    )
    return float(bound * (1 + 4 * (inner + 2) * np.finfo(np.float64).eps))
