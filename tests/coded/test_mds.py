"""MDSCode: the contract, numerics targets, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded import MDSCode

from .contract import Case, contract_tests, matvec_responses, relative_error, subsets

P = 65537


CASES = [
    Case(
        f"MDS({n},{k}){'-sys' if sysm else ''}-{'real' if f == 'real' else f'GF({f})'}",
        MDSCode(n, k, systematic=sysm, field=f),
        matvec_responses,
    )
    for (n, k) in [(1, 1), (5, 3), (8, 6), (12, 9), (32, 28)]
    for sysm in (False, True)
    for f in ("real", P)
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


@pytest.mark.parametrize("n,s", [(8, 1), (8, 4), (16, 2), (16, 4), (32, 1), (32, 4)])
@pytest.mark.parametrize("dtype,target", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_real_numerics_targets(n, s, dtype, target):
    """Worst relative (Frobenius) error over all (n <= 16) or 500 random decodable sets."""
    rng = np.random.default_rng(n * 10 + s)
    code = MDSCode(n, n - s)
    A = rng.standard_normal((4 * n, 24)).astype(dtype)
    X = rng.standard_normal((24, 6)).astype(dtype)
    exact = A.astype(np.float64) @ X.astype(np.float64)
    responses = {i: share @ X for i, share in enumerate(code.encode(A))}
    worst = max(
        relative_error(code.decode({i: responses[i] for i in subset}), exact)
        for subset in subsets(n, n - s, rng, limit=500)
    )
    assert worst <= target
    assert code.decode(responses).dtype == dtype


def test_matches_galois_oracle():
    GF = coded.PrimeField(P).galois_field
    rng = np.random.default_rng(3)
    code = MDSCode(7, 4, field=GF)
    A, x = GF.Random((9, 5), seed=1), GF.Random(5, seed=2)
    shares = code.encode(A)
    got = code.decode({i: (GF(shares[i]) @ x).view(np.ndarray) for i in (6, 2, 5, 0)})
    np.testing.assert_array_equal(got, (A @ x).view(np.ndarray))
    assert rng is not None


def test_vector_in_vector_out():
    code = MDSCode(4, 2)
    A, x = np.arange(15.0).reshape(5, 3), np.array([1.0, 2.0, 3.0])
    shares = code.encode(A)
    y = code.decode({0: shares[0] @ x, 3: shares[3] @ x})
    assert y.shape == (5,)
    np.testing.assert_allclose(y, A @ x)


def test_best_conditioned_subset_is_used():
    code = MDSCode(16, 12)
    chosen = code.select(range(16))
    assert len(chosen) == 12
    assert code.condition_number(chosen) <= code.condition_number(range(12))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 40),
    cols=st.integers(1, 7),
    k=st.integers(1, 6),
    extra=st.integers(0, 3),
    exact=st.booleans(),
    vector=st.booleans(),
    float32=st.booleans(),
)
def test_shapes_round_trip(rows, cols, k, extra, exact, vector, float32):
    rng = np.random.default_rng(rows * 100 + cols)
    code = MDSCode(k + extra, k, field=P if exact else "real")
    if exact:
        A = rng.integers(0, P, (rows, cols))
        x = rng.integers(0, P, cols) if vector else rng.integers(0, P, (cols, 2))
        shares = code.encode(A)

        def mul(a, b):
            return coded.gf_matmul(a, b.reshape(len(b), -1), P).reshape(a.shape[:1] + b.shape[1:])

        got = code.decode({i: mul(shares[i], x) for i in range(extra, k + extra)})
        np.testing.assert_array_equal(got, mul(A, x))
    else:
        dtype = np.float32 if float32 else np.float64
        A = rng.standard_normal((rows, cols)).astype(dtype)
        x = (rng.standard_normal(cols) if vector else rng.standard_normal((cols, 2))).astype(dtype)
        shares = code.encode(A)
        got = code.decode({i: shares[i] @ x for i in range(extra, k + extra)})
        assert got.shape == (A @ x).shape and got.dtype == dtype
        np.testing.assert_allclose(
            got,
            A.astype(float) @ x.astype(float),
            rtol=1e-3 if float32 else 1e-9,
            atol=1e-3 if float32 else 1e-9,
        )


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=8, k=9), "Argument 'k' must be at most n=8, not 9"),
        (dict(n=0, k=1), "Argument 'n' must be at least 1, not 0"),
        (dict(n=8, k=0), "Argument 'k' must be at least 1, not 0"),
        (dict(n=8, k=4, field=65536), "Argument 'field' must be a prime number, not 65536"),
        (dict(n=8, k=4, field=7), "Argument 'n' must be at most p=7"),
        (dict(n=8, k=4, field="complex"), "Argument 'field'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MDSCode(**kwargs)


@pytest.mark.parametrize("bad", [np.array([[np.nan, 1.0]]), np.array([[np.inf, 1.0]])])
def test_rejects_non_finite(bad):
    with pytest.raises(ValueError, match="Argument 'A' must be finite"):
        MDSCode(3, 2).encode(bad)


def test_rejects_out_of_field_entries():
    with pytest.raises(ValueError, match=r"entries in \[0, 65537\)"):
        MDSCode(3, 2, field=P).encode(np.array([[P, 1]]))
    with pytest.raises(TypeError, match="integer array"):
        MDSCode(3, 2, field=P).encode(np.array([[1.5, 1.0]]))


def test_decode_before_encode():
    with pytest.raises(coded.NotEncodedError, match="call encode"):
        MDSCode(3, 2).decode({0: np.zeros(2), 1: np.zeros(2)})
