"""QuantizedProduct: fixed-point inputs in GF(p), the overflow bound checked, the error bound
stated and held (checked in exact rational arithmetic)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded import QuantizedProduct

BIG = 2**31 - 1


def _exact(A, B) -> np.ndarray:
    """``A @ B`` of float matrices in exact rational arithmetic."""
    fa = np.vectorize(Fraction, otypes=[object])(A)
    fb = np.vectorize(Fraction, otypes=[object])(B)
    return fa @ fb


def _error(q, A, B) -> Fraction:
    """The largest |entry| of (dequantised exact GF(p) product) − A @ B, exactly."""
    got = q.dequantize(coded.gf_matmul(q.a, q.b, q.field.p))
    return max(abs(Fraction(g) - e) for g, e in zip(got.ravel(), _exact(A, B).ravel(), strict=True))


@settings(max_examples=60, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 8), st.integers(1, 40), st.integers(1, 8)),
    scales=st.tuples(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3)),
    p=st.sampled_from([65537, 1000003, BIG]),
    fixed=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_error_bound_holds_exactly(shape, scales, p, fixed, seed):
    rng = np.random.default_rng(seed)
    m, k, q_ = shape
    A = rng.uniform(-scales[0], scales[0], (m, k))
    B = rng.uniform(-scales[1], scales[1], (k, q_))
    try:
        largest = QuantizedProduct(A, B, field=p).scale_bits
    except ValueError:
        return  # no scale fits (checked in test_no_scale_fits)
    scale_bits = int(rng.integers(largest - 6, largest + 1)) if fixed else None
    q = QuantizedProduct(A, B, field=p, scale_bits=scale_bits)
    assert _error(q, A, B) <= Fraction(q.error_bound)
    scale, inner = 2.0**-q.scale_bits, k  # the a-priori bound of the module docstring is weaker
    a_priori = inner * (abs(A).max() + abs(B).max()) * scale / 2 + inner * scale**2 / 4
    assert q.error_bound <= a_priori * (1 + 1e-9)
    with pytest.raises(ValueError, match="Argument 'scale_bits' is too large"):
        QuantizedProduct(A, B, field=p, scale_bits=largest + 1)


def test_negatives_map_to_p_minus_their_magnitude():
    q = QuantizedProduct([[-1.0, 2.0, -0.5]], [[1.0], [1.0], [1.0]], field=101, scale_bits=1)
    np.testing.assert_array_equal(q.a, [[99, 4, 100]])
    np.testing.assert_array_equal(q.dequantize(np.array([[99, 50, 51]])), [[-0.5, 12.5, -12.5]])


def test_the_bound_is_tight_at_the_edge_and_the_edge_decodes():
    """At scale 6 the product 8 · 64 · 64 = (p − 1)/2 exactly: it fits and lifts right, with
    either sign; one bit more is refused, naming the scale, the bound, p and the fix."""
    p, ones = 65537, np.ones((1, 8))
    for sign in (1, -1):
        q = QuantizedProduct(ones, sign * ones.T, field=p, scale_bits=6)
        assert q.magnitude_bound == (p - 1) // 2
        C = coded.gf_matmul(q.a, q.b, p)
        assert q.dequantize(C).item() == 8 * sign and q.error_bound == 0
    assert QuantizedProduct(ones, ones.T, field=p).scale_bits == 6
    message = (
        r"Argument 'scale_bits' is too large for A @ B in GF\(65537\): at scale_bits=7 the "
        r"entries of A_q, B_q or A_q @ B_q could reach 131072 in magnitude, above "
        r"\(p - 1\)/2 = 32768. Use scale_bits at most 6 or a larger p."
    )
    with pytest.raises(ValueError, match=message):
        QuantizedProduct(ones, ones.T, field=p, scale_bits=7)


def test_the_tighter_norm_bound_is_used():
    """A sparse A: max row-norm(A_q) · max|B_q| fits where inner · max|A_q| · max|B_q| would not."""
    A = np.vstack([np.full((1, 100), 0.01), np.eye(100)[:1]])  # rows of A_q: 100 ones; 128 e_1
    q = QuantizedProduct(A, np.ones((100, 3)), field=65537, scale_bits=7)
    assert q.magnitude_bound == 128 * 128 < (65537 - 1) // 2 < 100 * 128 * 128


def test_exact_inputs_are_exact():
    rng = np.random.default_rng(0)
    A, B = rng.integers(-50, 50, (6, 9)).astype(float), rng.integers(-50, 50, (9, 4)) / 4
    q = QuantizedProduct(A, B, field=BIG, scale_bits=2)
    assert q.error_bound == 0
    np.testing.assert_array_equal(q.dequantize(coded.gf_matmul(q.a, q.b, BIG)), A @ B)


def test_large_inputs_take_a_negative_scale():
    A, B = np.full((2, 4), 3e6), np.full((4, 2), -2e6)
    q = QuantizedProduct(A, B, field=BIG)
    assert q.scale_bits < 0
    assert _error(q, A, B) <= Fraction(q.error_bound)


def test_no_scale_fits():
    with pytest.raises(ValueError, match=r"cannot be computed in GF\(65537\) at any scale_bits"):
        QuantizedProduct(np.full((1, 2), 1e40), np.full((2, 1), 1e40), field=65537)
    with pytest.raises(ValueError, match="No scale fits: use a larger p, or smaller inputs"):
        QuantizedProduct(np.full((1, 2), 1e40), np.full((2, 1), 1e40), field=65537, scale_bits=0)
    with pytest.raises(ValueError, match="could reach inf in magnitude"):  # 2^128 · 1e300 = inf
        QuantizedProduct(np.full((1, 2), 1e300), np.zeros((2, 1)), field=65537, scale_bits=128)


@pytest.mark.parametrize(
    "args,error,match",
    [
        (([[np.nan]], [[1.0]]), ValueError, "Argument 'A' must be finite"),
        (([[1.0]], [[1j]]), TypeError, "Argument 'B' must be real-valued"),
        (([[1.0, 2.0]], [[1.0, 2.0]]), ValueError, "matching inner dimensions"),
        (([1.0], [[1.0]]), ValueError, "Argument 'A' must be a 2-D array"),
        (([[1.0]], [[1.0]], "real"), ValueError, "Argument 'field' must be a prime p"),
        (([[1.0]], [[1.0]], 12), ValueError, "Argument 'field' must be a prime number"),
        (([[1.0]], [[1.0]], BIG, 2.5), TypeError, "Argument 'scale_bits' must be an integer"),
        (([[1.0]], [[1.0]], BIG, 129), ValueError, "'scale_bits' must be at most 128, not 129"),
    ],
)
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        QuantizedProduct(*args)
    assert "scale_bits=" in repr(QuantizedProduct([[1.0]], [[1.0]]))
