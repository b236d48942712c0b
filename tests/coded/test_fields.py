"""Fields: exact GF(p) products against galois, limb splitting for large p, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded.fields import PrimeField, RealField, as_field, gf_matmul

PRIMES = [2, 7, 65537, 2**26 - 5, 2**31 - 1]  # small, 16-bit, chunked, limbs


@pytest.mark.parametrize("p", PRIMES, ids=[f"GF({p})" for p in PRIMES])
def test_gf_matmul_matches_galois(p):
    GF = PrimeField(p).galois_field
    a, b = GF.Random((17, 23), seed=1), GF.Random((23, 9), seed=2)
    got = gf_matmul(a.view(np.ndarray), b.view(np.ndarray), p)
    np.testing.assert_array_equal(got, (a @ b).view(np.ndarray))


def test_gf_matmul_chunks_long_inner_dimension(monkeypatch):
    """Force tiny chunks so the chunked accumulation path is exercised and still exact."""
    import coded.fields as fields

    monkeypatch.setattr(fields, "_EXACT", 50 * 65536**2)
    monkeypatch.setattr(fields, "_MIN_CHUNK", 1)
    GF = PrimeField(65537).galois_field
    a, b = GF.Random((3, 400), seed=3), GF.Random((400, 2), seed=4)
    np.testing.assert_array_equal(
        gf_matmul(a.view(np.ndarray), b.view(np.ndarray), 65537), (a @ b).view(np.ndarray)
    )


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 6), inner=st.integers(1, 40), q=st.integers(1, 6), big=st.booleans())
def test_gf_matmul_worst_case_entries(m, inner, q, big):
    """All entries p−1: the largest sums the kernel must keep exact."""
    p = 2**31 - 1 if big else 65537
    a = np.full((m, inner), p - 1)
    b = np.full((inner, q), p - 1)
    expected = (inner * pow(p - 1, 2, p)) % p
    np.testing.assert_array_equal(gf_matmul(a, b, p), np.full((m, q), expected))


@pytest.mark.parametrize("k", [4, 40])  # int64 rows; beyond 32 columns, gf_matmul
def test_combine_is_exact_for_the_largest_prime(k):
    """At p = 2^31 − 1 one float GEMM is not exact: combine takes its int64 path (k ≤ 32)
    or gf_matmul's limbs; both agree with galois, worst-case entries included."""
    import galois

    p = 2**31 - 1
    rng = np.random.default_rng(k)
    matrix = rng.integers(0, p, (6, k))
    blocks = rng.integers(0, p, (k, 5, 3))
    matrix[0], blocks[:, 0] = p - 1, p - 1
    GF = galois.GF(p)
    expected = (GF(matrix) @ GF(blocks.reshape(k, -1))).view(np.ndarray).reshape(6, 5, 3)
    np.testing.assert_array_equal(PrimeField(p).combine(matrix, blocks), expected)


def test_as_field_accepts_the_documented_forms():
    assert as_field("real") == RealField()
    assert as_field(65537) == PrimeField(65537)
    assert as_field(PrimeField(7).galois_field) == PrimeField(7)
    assert as_field(np.int64(13)) == PrimeField(13)


@pytest.mark.parametrize(
    "spec,error,match",
    [
        (65536, ValueError, "must be a prime number, not 65536"),
        (2**31 + 11, ValueError, "below 2\\^31"),
        ("complex", ValueError, "must be 'real', a prime or a galois GF"),
        (2.5, TypeError, "must be 'real', a prime or a galois GF"),
    ],
)
def test_bad_field(spec, error, match):
    with pytest.raises(error, match=match):
        as_field(spec)


def test_extension_fields_are_rejected():
    import galois

    with pytest.raises(ValueError, match="prime field"):
        as_field(galois.GF(2**8))


@pytest.mark.parametrize(
    "a, b, p, error, match",
    [
        (np.full((2, 2), 0.5), np.ones((2, 2), int), 7, TypeError, r"'a' must be an integer array"),
        (
            np.ones((2, 2), int),
            np.full((2, 2), 9),
            7,
            ValueError,
            r"'b' .* not 9 at index \(0, 0\)",
        ),
        (np.full((1, 1), -1), np.ones((1, 1), int), 7, ValueError, r"'a' .* \[0, 7\) .* not -1"),
        (np.full((1, 1), 2**40 + 3), np.ones((1, 1), int), 65537, ValueError, r"not 1099511627779"),
        (np.ones((2, 3), int), np.ones((2, 2), int), 7, ValueError, r"matching inner dimensions"),
        (
            np.ones((2, 2), int),
            np.ones((2, 2), int),
            1,
            ValueError,
            r"'p' must be at least 2, not 1",
        ),
        (np.ones((2, 2), int), np.ones((2, 2), int), 7.0, TypeError, r"'p' must be an integer"),
        (np.ones((0, 2), int), np.ones((2, 2), int), 7, ValueError, r"'a' must not be empty"),
    ],
    ids=["float", "above-p", "negative", "huge", "inner", "p=1", "p-float", "empty"],
)
def test_gf_matmul_refuses_what_it_cannot_compute_exactly(a, b, p, error, match):
    with pytest.raises(error, match=match):
        gf_matmul(a, b, p)


def test_real_validation():
    field = RealField()
    assert field.validate(np.arange(3), "A").dtype == np.float64
    assert field.validate(np.ones(3, np.float32), "A").dtype == np.float32
    with pytest.raises(TypeError, match="real-valued"):
        field.validate(np.ones(2, complex), "A")
    with pytest.raises(TypeError, match="array of numbers"):
        field.validate(np.array(["a"]), "A")
    with pytest.raises(ValueError, match=r"'A' must be finite, not inf at index \(1, 0\)"):
        field.validate([[1.0], [np.inf]], "A")
    with pytest.raises(ValueError, match=r"'A' must be a rectangular array of numbers, not \["):
        field.validate([[1.0], [2.0, 3.0]], "A")
    with pytest.raises(ValueError, match=r"'A' must be a 1-D or 2-D array, not 3-D"):
        field.validate(np.ones((1, 1, 1)), "A", ndim=(1, 2))
    with pytest.raises(ValueError, match=r"'A' must not be empty, not of shape \(0,\)"):
        field.validate([], "A")
    assert np.isnan(field.validate([np.nan], "A", finite=False)).all()


def test_exported_members():
    """The public names of the package are deliberate (httpx's test_exported_members)."""
    for name in coded.__all__:
        assert hasattr(coded, name), name
    assert {"MDSCode", "NotDecodableError", "code_from_config", "gf_matmul"} <= set(coded.__all__)


def test_real_codes_import_neither_ray_nor_galois():
    """``import coded`` and real-valued coding stay light: every Ray worker pays this import."""
    import subprocess
    import sys

    script = (
        "import sys, numpy as np, coded; c = coded.MDSCode(4, 2); c.encode(np.eye(4)); "
        "print('ray' in sys.modules, 'galois' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
