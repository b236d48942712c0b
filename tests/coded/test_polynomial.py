"""PolynomialCode, MatDotCode, EntangledPolynomialCode: contract, numerics, argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded import EntangledPolynomialCode, MatDotCode, PolynomialCode

from .contract import Case, contract_tests, relative_error, subsets

P = 65537
THRESHOLD = "Argument 'n' must be at least the recovery threshold"
GF = coded.PrimeField(P).galois_field


def _operands(code, rng, shape, dtype=np.float64):
    m, k, c = shape
    if code.field.exact:
        return rng.integers(0, P, (m, k)), rng.integers(0, P, (k, c))
    return rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, c)).astype(dtype)


def _worker_products(code, A, B):
    """Every worker's plain product, and the uncoded answer (galois ``@`` over GF(p))."""
    pairs = code.encode(A, B)
    if code.field.exact:
        products = {i: coded.gf_matmul(a, b, P) for i, (a, b) in enumerate(pairs)}
        return products, (GF(A) @ GF(B)).view(np.ndarray)
    return {i: a @ b for i, (a, b) in enumerate(pairs)}, A.astype(float) @ B.astype(float)


def _product(shape):
    def run(code, rng):
        return _worker_products(code, *_operands(code, rng, shape))

    return run


def _case(code, shape=(13, 11, 7), rtol=1e-9):
    field = "real" if code.is_real else f"GF({code.field.p})"
    params = ",".join(str(v) for k, v in code.get_config().items() if k not in ("type", "field"))
    return Case(f"{type(code).__name__}({params})-{field}", code, _product(shape), rtol)


CODES = [
    lambda f: PolynomialCode(1, 1, 1, field=f),
    lambda f: PolynomialCode(6, 2, 2, field=f),
    lambda f: PolynomialCode(11, 3, 3, field=f),
    lambda f: PolynomialCode(32, 4, 7, field=f),
    lambda f: MatDotCode(1, 1, field=f),
    lambda f: MatDotCode(5, 2, field=f),
    lambda f: MatDotCode(32, 14, field=f),
    lambda f: EntangledPolynomialCode(10, 2, 2, 2, field=f),
    lambda f: EntangledPolynomialCode(16, 2, 2, 3, field=f),
    lambda f: EntangledPolynomialCode(8, 2, 3, 1, field=f),  # the polynomial construction
    lambda f: EntangledPolynomialCode(7, 1, 1, 3, field=f),  # the MatDot construction
]
CASES = [_case(make(f)) for make in CODES for f in ("real", P)]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


def _worst_error(code, dtype, shape, limit, seed):
    rng = np.random.default_rng(seed)
    products, exact = _worker_products(code, *_operands(code, rng, shape, dtype))
    decoded = (
        code.decode({i: products[i] for i in s})
        for s in subsets(code.n, code.recovery_threshold, rng, limit=limit)
    )
    return max(relative_error(got, exact) for got in decoded)


# float32 bounds: the worst case measured over every decodable set (also for n = 32) + ~30 %.
@pytest.mark.parametrize(
    "n,a,b,float32_bound",
    [
        (8, 1, 7, 1.7e-7),
        (8, 2, 2, 9e-7),
        (16, 2, 7, 6.5e-7),
        (16, 3, 4, 7e-6),
        (32, 1, 31, 1.7e-7),
        (32, 4, 7, 6.6e-5),
    ],
)
def test_polynomial_numerics_targets(n, a, b, float32_bound):
    """Worst relative (Frobenius) error, all (n <= 16) or 500 random sets of s <= 4 stragglers."""
    code = PolynomialCode(n, a, b)
    shape = (8 * a, 24, 6 * b)
    assert _worst_error(code, np.float64, shape, 500, n + a) <= 1e-10
    assert _worst_error(code, np.float32, shape, 500, n + a) <= float32_bound


@pytest.mark.parametrize("n,p,float32_bound", [(8, 4, 1e-7), (16, 7, 1.8e-6), (32, 15, 7e-6)])
def test_matdot_numerics(n, p, float32_bound):
    code = MatDotCode(n, p)
    shape = (20, 8 * p, 12)
    assert _worst_error(code, np.float64, shape, 500, n) <= 1e-10
    assert _worst_error(code, np.float32, shape, 500, n) <= float32_bound


def test_entangled_general_case_is_refused_when_ill_conditioned():
    code = EntangledPolynomialCode(16, 2, 2, 3)  # threshold 14 at Chebyshev points
    products, exact = _worker_products(code, *_operands(code, np.random.default_rng(0), (9, 10, 8)))
    subset = {i: products[i] for i in range(14)}
    assert 1e4 < code.condition_number(range(14)) < 1e7
    assert relative_error(code.decode(subset), exact) <= 1e-9
    products32, _ = _worker_products(
        code, *_operands(code, np.random.default_rng(0), (9, 10, 8), np.float32)
    )
    with pytest.raises(coded.IllConditionedError, match="condition number .* float32"):
        code.decode({i: products32[i] for i in range(14)})


@pytest.mark.parametrize(
    "entangled,plain",
    [
        (EntangledPolynomialCode(9, 2, 3, 1), PolynomialCode(9, 2, 3)),
        (EntangledPolynomialCode(9, 1, 1, 4), MatDotCode(9, 4)),
    ],
)
def test_entangled_reuses_stable_constructions(entangled, plain):
    A, B = np.ones((7, 9)), np.ones((9, 5))
    for (ea, eb), (pa, pb) in zip(entangled.encode(A, B), plain.encode(A, B), strict=True):
        np.testing.assert_array_equal(ea, pa)
        np.testing.assert_array_equal(eb, pb)
    subset = tuple(range(1, plain.recovery_threshold + 1))
    assert entangled.condition_number(subset) == plain.condition_number(subset) < 100


def _complex_shares(x, generator, axis):
    """The complex formula: ``[Re S_i, Im S_i]``, ``S_i = Σ_j G[i, j] (X_{2j} + i X_{2j+1})``."""
    parts = 2 * generator.shape[1]
    widths = [(0, 0), (0, 0)]
    widths[axis] = (0, -x.shape[axis] % parts)
    blocks = np.split(np.pad(x.astype(np.float64), widths), parts, axis=axis)
    symbols = [blocks[2 * j] + 1j * blocks[2 * j + 1] for j in range(parts // 2)]
    shares = [sum(g * c for g, c in zip(row, symbols, strict=True)) for row in generator]
    return [np.concatenate([s.real, s.imag], axis=axis).astype(x.dtype) for s in shares]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    "code,inner",  # inner: the MatDot construction (A split by columns, B by rows)
    [
        (PolynomialCode(1, 1, 1), False),
        (PolynomialCode(6, 2, 2), False),
        (PolynomialCode(13, 3, 4), False),
        (EntangledPolynomialCode(8, 2, 3, 1), False),
        (MatDotCode(1, 1), True),
        (MatDotCode(7, 3), True),
        (EntangledPolynomialCode(7, 1, 1, 3), True),
    ],
    ids=lambda v: repr(v) if isinstance(v, coded.Code) else None,
)
def test_real_shares_are_the_complex_encoding(code, inner, dtype):
    """The real-GEMM encode gives the complex shares, stacked, to float rounding."""
    rng = np.random.default_rng(5)
    A, B = _operands(code, rng, (13, 11, 9), dtype)
    x = np.exp(2j * np.pi * np.arange(code.n) / code.n)[:, None]
    a, b, p = code.a_blocks, code.b_blocks, code.inner_blocks
    if inner:  # C_j from columns of A, E_j from rows of B, both at x^j
        expected_a = _complex_shares(A, x ** np.arange(p), axis=1)
        expected_b = _complex_shares(B, x ** np.arange(p), axis=0)
    else:  # C_j from rows of A at x^j, D_l from columns of B at x^{a l}
        expected_a = _complex_shares(A, x ** np.arange(a), axis=0)
        expected_b = _complex_shares(B, x ** (a * np.arange(b)), axis=1)
    eps = np.finfo(dtype).eps
    for (share_a, share_b), want_a, want_b in zip(
        code.encode(A, B), expected_a, expected_b, strict=True
    ):
        for got, want, operand in ((share_a, want_a, A), (share_b, want_b, B)):
            assert got.dtype == dtype and got.shape == want.shape and got.flags.c_contiguous
            bound = 2 * max(a, b, p) * eps * np.abs(operand).max()
            np.testing.assert_allclose(got, want, rtol=0, atol=bound)


def test_best_conditioned_subset_is_used():
    code = PolynomialCode(16, 3, 4)
    chosen = code.select(range(16))
    assert len(chosen) == 12
    assert code.condition_number(chosen) < code.condition_number(range(12)) / 10


def test_shares_have_the_sizes_of_the_real_code():
    A, B = np.ones((40, 36)), np.ones((36, 30))
    (a_share, b_share), *_ = EntangledPolynomialCode(20, 2, 3, 2).encode(A, B)
    assert a_share.shape == (20, 18) and b_share.shape == (18, 10)
    (a_share, b_share), *_ = PolynomialCode(8, 2, 3).encode(A, B)
    assert a_share.shape == (20, 36) and b_share.shape == (36, 10)
    (a_share, b_share), *_ = MatDotCode(8, 3).encode(A, B)
    assert a_share.shape == (40, 12) and b_share.shape == (12, 30)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 17), st.integers(1, 17), st.integers(1, 17)),
    blocks=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    family=st.sampled_from(["polynomial", "matdot", "entangled"]),
    extra=st.integers(0, 3),
    kind=st.sampled_from(["float64", "float32", "gf"]),
    seed=st.integers(0, 2**16),
)
def test_shapes_round_trip(shape, blocks, family, extra, kind, seed):
    a, b, p = blocks
    field = P if kind == "gf" else "real"
    if family == "polynomial":
        code = PolynomialCode(a * b + extra, a, b, field=field)
    elif family == "matdot":
        code = MatDotCode(2 * p - 1 + extra, p, field=field)
    else:
        code = EntangledPolynomialCode(p * a * b + p - 1 + extra, a, b, p, field=field)
    rng = np.random.default_rng(seed)
    dtype = np.float32 if kind == "float32" else np.float64
    products, exact = _worker_products(code, *_operands(code, rng, shape, dtype))
    arrived = rng.choice(
        code.n, code.recovery_threshold + rng.integers(0, extra + 1), replace=False
    )
    try:
        got = code.decode({int(i): products[int(i)] for i in arrived})
    except coded.IllConditionedError:
        assert kind == "float32" and family == "entangled" and min(a, b) * p > 1
        return
    assert got.shape == exact.shape
    if kind == "gf":
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, exact)
    else:
        assert got.dtype == dtype
        cond = code.condition_number(arrived)  # the error is about cond · eps (see the report)
        assert relative_error(got, exact) <= np.finfo(dtype).eps * (20 * cond + 100)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: PolynomialCode(4, 2, 3), THRESHOLD + " 6, not 4"),
        (lambda: MatDotCode(4, 3), THRESHOLD + " 5, not 4"),
        (lambda: EntangledPolynomialCode(8, 2, 2, 2), THRESHOLD + " 9, not 8"),
        (lambda: PolynomialCode(8, 0, 2), "Argument 'a_blocks' must be at least 1, not 0"),
        (lambda: PolynomialCode(8, 2, 0), "Argument 'b_blocks' must be at least 1, not 0"),
        (lambda: MatDotCode(8, 0), "Argument 'inner_blocks' must be at least 1, not 0"),
        (
            lambda: PolynomialCode(8, 2, 2, field=7),
            r"Argument 'n' must be at most p=7 over GF\(7\), not 8",
        ),
        (lambda: MatDotCode(8, 2, field=12), "Argument 'field' must be a prime number, not 12"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_operands():
    code = PolynomialCode(4, 2, 2)
    with pytest.raises(
        ValueError, match=r"inner dimensions: A has shape \(3, 4\), B has shape \(5, 2\)"
    ):
        code.encode(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="Argument 'B' must be a 2-D array, not 1-D"):
        code.encode(np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match="Argument 'A' must be a 2-D array, not 3-D"):
        code.encode(np.ones((3, 4, 1)), np.ones((4, 2)))
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="Argument 'B' must be finite"):
            code.encode(np.ones((3, 4)), np.full((4, 2), bad))
    exact = MatDotCode(3, 2, field=P)
    with pytest.raises(ValueError, match=r"Argument 'A' must have entries in \[0, 65537\)"):
        exact.encode(np.full((2, 2), P), np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"Argument 'B' must have entries in \[0, 65537\)"):
        exact.encode(np.ones((2, 2), dtype=int), np.full((2, 2), -1))
    with pytest.raises(TypeError, match="Argument 'A' must be an integer array"):
        exact.encode(np.ones((2, 2)), np.ones((2, 2), dtype=int))


def test_bad_responses_and_order():
    code = MatDotCode(5, 2)
    with pytest.raises(coded.NotEncodedError, match="call encode"):
        code.decode({0: np.zeros((2, 2)), 1: np.zeros((2, 2)), 2: np.zeros((2, 2))})
    products, _ = _worker_products(code, *_operands(code, np.random.default_rng(0), (3, 4, 2)))
    with pytest.raises(ValueError, match="shape"):
        code.decode({0: products[0], 1: products[1], 2: products[2][:, :1]})
    with pytest.raises(ValueError, match="2-D products"):
        code.decode({i: products[i][..., None] for i in range(3)})
