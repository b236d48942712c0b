"""LagrangeCode: the contract, polynomials of degree 1–3, privacy masks, numerics, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded import LagrangeCode
from coded.lagrange import barycentric_weights, lagrange_matrix, trigonometric_basis

from .contract import Case, contract_tests, relative_error, subsets

P = 65537


# Polynomials f of total degree 1, 2 and 3, each as (real version, GF(p) version).
def _mul(a, b):
    return a * b % P


POLYNOMIALS = {
    1: (lambda X: 2.0 * X - X[::-1], lambda X: (2 * X + (P - 1) * X[::-1]) % P),
    2: (lambda X: X.T @ X, lambda X: coded.gf_matmul(X.T, X, P)),
    "2-elementwise": (lambda X: X * X + X, lambda X: (_mul(X, X) + X) % P),
    3: (lambda X: X @ X.T @ X, lambda X: coded.gf_matmul(coded.gf_matmul(X, X.T, P), X, P)),
    "3-elementwise": (
        lambda X: X * X * X - 3.0 * X,
        lambda X: (_mul(_mul(X, X), X) + (P - 3) * X) % P,
    ),
}


def _runner(f_key, shape=(5, 4), seed=None):
    real, exact = POLYNOMIALS[f_key]

    def run(code, rng):
        if code.field.exact:
            blocks = [rng.integers(0, P, shape) for _ in range(code.k)]
            shares = code.encode(blocks, rng=seed)
            return {i: exact(x) for i, x in enumerate(shares)}, [exact(x) for x in blocks]
        blocks = [rng.standard_normal(shape) for _ in range(code.k)]
        shares = code.encode(blocks)
        return {i: real(x) for i, x in enumerate(shares)}, [real(x) for x in blocks]

    return run


def _id(n, k, d, t, field):
    return f"Lagrange({n},{k},deg{d},T{t})-{'real' if field == 'real' else f'GF({field})'}"


CASES = [
    Case(_id(n, k, d, t, f), LagrangeCode(n, k, d, privacy=t, field=f), _runner(d), rtol)
    for (n, k, d, t, fields, rtol) in [
        (2, 1, 1, 0, ("real", P), 1e-12),
        (8, 3, 2, 0, ("real", P), 1e-12),
        (9, 2, 3, 0, ("real", P), 1e-10),
        (16, 4, 2, 0, ("real", P), 1e-8),
        (32, 8, 2, 0, ("real", P), 1e-5),
        (8, 2, 2, 1, (P,), 0),
        (12, 2, 3, 1, (P,), 0),
        (32, 8, 2, 2, (P,), 0),
    ]
    for f in fields
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


@pytest.mark.parametrize("field", ["real", P], ids=["real", "GF"])
@pytest.mark.parametrize("f_key", list(POLYNOMIALS))
def test_polynomials_of_each_degree(f_key, field):
    degree = int(str(f_key)[0])
    code = LagrangeCode(10, 3, degree, field=field)
    responses, expected = _runner(f_key, shape=(4, 4))(code, np.random.default_rng(7))
    for subset in subsets(10, code.recovery_threshold, np.random.default_rng(8), limit=30):
        got = code.decode({i: responses[i] for i in subset})
        assert len(got) == 3
        for g, e in zip(got, expected, strict=True):
            if code.field.exact:
                np.testing.assert_array_equal(g, e)
            else:
                np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-9)


def test_too_low_a_declared_degree_is_not_decoded_by_luck():
    """f(X) = X*X*X on a code declared for degree 2: the threshold is too small, results differ."""
    code = LagrangeCode(8, 2, 2, field=P)
    blocks = [np.arange(1, 7).reshape(2, 3), np.arange(7, 13).reshape(2, 3)]
    shares = code.encode(blocks)
    cube = lambda X: X * X % P * X % P  # noqa: E731
    got = code.decode({i: cube(s) for i, s in enumerate(shares)})
    assert not all(np.array_equal(g, cube(b)) for g, b in zip(got, blocks, strict=True))


def test_privacy_masks_change_shares_not_results():
    code = LagrangeCode(12, 3, 2, privacy=2, field=P)
    assert code.recovery_threshold == (3 + 2 - 1) * 2 + 1
    rng = np.random.default_rng(0)
    blocks = [rng.integers(0, P, (3, 3)) for _ in range(3)]
    f = POLYNOMIALS[2][1]
    first, second = code.encode(blocks, rng=1), code.encode(blocks, rng=2)
    assert all(not np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    np.testing.assert_array_equal(code.encode(blocks, rng=1)[5], first[5])
    workers = tuple(range(3, 12))
    for shares in (first, second):
        got = code.decode({i: f(shares[i]) for i in workers})
        for g, b in zip(got, blocks, strict=True):
            np.testing.assert_array_equal(g, f(b))


def test_privacy_no_share_equals_a_data_block():
    code = LagrangeCode(6, 2, 1, privacy=1, field=P)
    blocks = [np.full((2, 2), 5), np.full((2, 2), 9)]
    assert not set(code.alphas) & set(code.betas)
    for share in code.encode(blocks, rng=3):
        assert not any(np.array_equal(share, b) for b in blocks)


@pytest.mark.parametrize(
    "n,k,degree,float64_target,float32_target",
    [(8, 3, 2, 1e-13, 1e-6), (16, 4, 2, 1e-11, 2e-4), (32, 8, 2, 1e-7, None)],
)
def test_real_numerics_targets(n, k, degree, float64_target, float32_target):
    """Worst relative error over all (n <= 16) / 500 random sets of threshold size, f = X^T X
    (the Chebyshev construction before: 2e-14 / 8e-6, 5e-11 / 1e-2, 5e-3 / silent 6e5)."""
    for dtype, target in [(np.float64, float64_target), (np.float32, float32_target)]:
        rng = np.random.default_rng(n + k)
        code = LagrangeCode(n, k, degree)
        blocks = [rng.standard_normal((12, 6)).astype(dtype) for _ in range(k)]
        responses = {i: s.T @ s for i, s in enumerate(code.encode(blocks))}
        exact = [b.astype(np.float64).T @ b.astype(np.float64) for b in blocks]
        assert code.decode(responses)[0].dtype == dtype
        assert relative_error(code.decode(responses), exact) <= (
            1e-12 if dtype == np.float64 else 1e-5
        )
        if target is None:
            continue
        worst = max(
            relative_error(code.decode({i: responses[i] for i in subset}), exact)
            for subset in subsets(n, code.recovery_threshold, rng, limit=500)
        )
        assert worst <= target


def test_best_conditioned_subset_is_used():
    code = LagrangeCode(16, 4, 2)
    chosen = code.select(range(16))
    assert len(chosen) == code.recovery_threshold
    assert code.condition_number(range(16)) <= code.condition_number(range(code.recovery_threshold))


@pytest.mark.parametrize("k", [5, 8])
def test_real_points_are_angles_on_the_circle(k):
    """Workers at 2π(i + δ)/n, data at 2πj/k: equispaced, and no worker holds a data block."""
    code = LagrangeCode(32, k, 2)
    alphas, betas = code.alphas, code.betas
    np.testing.assert_allclose(np.diff(alphas), 2 * np.pi / 32)
    np.testing.assert_allclose(betas, 2 * np.pi * np.arange(k) / k)
    assert 0 < alphas[0] < 2 * np.pi / 32 and alphas[-1] < 2 * np.pi
    assert np.abs(alphas[:, None] - betas[None, :]).min() > 1e-3


@pytest.mark.parametrize(
    "k,degree,real,exact",
    [(1, 3, 1, 1), (2, 1, 2, 2), (2, 2, 4, 3), (3, 2, 5, 5), (4, 3, 12, 10), (8, 2, 16, 15)],
)
def test_real_threshold_is_the_trigonometric_dimension(k, degree, real, exact):
    """(k − 1)·d + 1 for odd k, as LCC; k·d for even k (the top frequency is cos alone)."""
    assert LagrangeCode(32, k, degree).recovery_threshold == real
    assert LagrangeCode(32, k, degree, field=P).recovery_threshold == exact
    if real > 1:
        with pytest.raises(ValueError, match=rf"threshold .* = {real}, not {real - 1}\."):
            LagrangeCode(real - 1, k, degree)


@pytest.mark.parametrize("n,k", [(12, 3), (16, 5), (20, 5)])
def test_odd_k_decodes_as_well_as_roots_of_unity(n, k):
    """Odd k: the real system has the condition number of the Vandermonde at the same K of
    the n-th roots of unity (the real form of the complex construction, no complex data)."""
    code = LagrangeCode(n, k, 2)
    K = code.recovery_threshold
    rng = np.random.default_rng(n)
    for workers in [range(K), rng.choice(n, K, replace=False), rng.choice(n, K, replace=False)]:
        workers = tuple(sorted(int(i) for i in workers))
        roots = np.exp(2j * np.pi * np.array(workers) / n)
        ideal = np.linalg.cond(roots[:, None] ** np.arange(K))
        assert code.condition_number(workers) == pytest.approx(ideal, rel=1e-8)


@pytest.mark.parametrize("n,k,degree,worst", [(10, 2, 2, 250), (12, 4, 2, 600), (14, 6, 2, 150)])
def test_even_k_has_no_singular_worker_set(n, k, degree, worst):
    """Even k: sets of 2D angles whose sum hits the top frequency's phase are singular; the
    offset keeps every set half a step away (exhaustive; without it: condition number 1e17)."""
    code = LagrangeCode(n, k, degree)
    K = code.recovery_threshold
    assert max(code.condition_number(s) for s in itertools.combinations(range(n), K)) < worst


def test_trigonometric_basis_is_orthogonal_at_equispaced_angles():
    angles = 2 * np.pi * (np.arange(11) + 0.3) / 11
    basis = trigonometric_basis(angles, 5)
    np.testing.assert_allclose(basis.T @ basis, 11 * np.eye(11), atol=1e-12)
    assert trigonometric_basis(angles, 5, top_sine=False).shape == (11, 10)


def test_lagrange_kernels_match_galois_oracle():
    GF = coded.PrimeField(P).galois_field
    nodes, targets = np.array([2, 5, 11, 40]), np.array([0, 1, 7])
    values = GF.Random(4, seed=4)
    powers = np.arange(4)
    coefficients = np.linalg.solve(
        GF(nodes)[:, None] ** powers, values
    )  # monomial solve: exact here
    matrix = lagrange_matrix(targets, nodes, coded.PrimeField(P))
    expected = (GF(targets)[:, None] ** powers) @ coefficients
    np.testing.assert_array_equal((GF(matrix) @ values).view(np.ndarray), expected.view(np.ndarray))
    weights = barycentric_weights(nodes, coded.PrimeField(P))
    assert int((GF(weights) * values).sum()) == int(coefficients[3])


def test_real_kernels_match_numpy_interpolation():
    nodes = np.cos(np.pi * (np.arange(6) + 0.5) / 6)
    values = np.random.default_rng(5).standard_normal(6)
    coefficients = np.polynomial.chebyshev.chebfit(nodes, values, 5)
    targets = np.array([-1.0, 0.3, 1.0])
    matrix = lagrange_matrix(targets, nodes, coded.RealField())
    np.testing.assert_allclose(
        matrix @ values,
        np.polynomial.chebyshev.chebval(targets, coefficients),
        rtol=1e-12,
        atol=1e-12,
    )
    leading = np.polynomial.chebyshev.cheb2poly(coefficients)[-1]
    np.testing.assert_allclose(
        barycentric_weights(nodes, coded.RealField()) @ values, leading, rtol=1e-10
    )


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 4),
    degree=st.integers(1, 3),
    extra=st.integers(0, 3),
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    exact=st.booleans(),
    float32=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_shapes_round_trip(k, degree, extra, shape, exact, float32, seed):
    key = {1: 1, 2: "2-elementwise", 3: "3-elementwise"}[degree]
    real, exact_f = POLYNOMIALS[key]
    threshold = (k - 1) * degree + 1 if exact or k % 2 else k * degree
    code = LagrangeCode(threshold + extra, k, degree, field=P if exact else "real")
    rng = np.random.default_rng(seed)
    subset = tuple(sorted(rng.choice(code.n, code.recovery_threshold, replace=False)))
    if exact:
        blocks = [rng.integers(0, P, shape) for _ in range(k)]
        shares = code.encode(np.stack(blocks))
        got = code.decode({i: exact_f(shares[i]) for i in subset})
        for g, b in zip(got, blocks, strict=True):
            np.testing.assert_array_equal(g, exact_f(b))
    else:
        dtype = np.float32 if float32 else np.float64
        blocks = [rng.standard_normal(shape).astype(dtype) for _ in range(k)]
        shares = code.encode(blocks)
        assert shares[0].dtype == dtype
        got = code.decode({i: real(shares[i]) for i in subset})
        tolerance = 2e-3 if float32 else 1e-9
        for g, b in zip(got, blocks, strict=True):
            assert g.dtype == dtype and g.shape == shape
            np.testing.assert_allclose(
                g, real(b.astype(np.float64)), rtol=tolerance, atol=tolerance
            )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (
            dict(n=4, k=3, degree=2),
            ValueError,
            r"Argument 'n' must be at least the recovery threshold .* = 5, not 4\.",
        ),
        (dict(n=8, k=0, degree=2), ValueError, r"Argument 'k' must be at least 1, not 0\."),
        (dict(n=8, k=2, degree=0), ValueError, r"Argument 'degree' must be at least 1, not 0\."),
        (
            dict(n=8, k=2, degree=2, privacy=-1),
            ValueError,
            r"Argument 'privacy' must be at least 0, not -1\.",
        ),
        (
            dict(n=8, k=2, degree=2, privacy=1),
            ValueError,
            r"Argument 'privacy' must be 0 over the reals .*not 1\.",
        ),
        (
            dict(n=8, k=2, degree=2, field=7),
            ValueError,
            r"Argument 'field' must have at least n \+ k \+ privacy = 10 elements, not p=7\.",
        ),
        (
            dict(n=8, k=2, degree=2.0),
            TypeError,
            r"Argument 'degree' must be an integer, not 2\.0 \(float\)\.",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        LagrangeCode(**kwargs)


def test_encode_rejects_bad_blocks():
    code = LagrangeCode(6, 2, 2)
    with pytest.raises(ValueError, match=r"Argument 'blocks' must hold k=2 arrays, not 3\."):
        code.encode([np.zeros(2)] * 3)
    with pytest.raises(
        ValueError,
        match=r"Argument 'blocks\[1\]' must have the shape \(2,\) of blocks\[0\], not \(3,\)\.",
    ):
        code.encode([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match=r"Argument 'blocks\[0\]' must be finite"):
        code.encode([np.array([np.inf]), np.zeros(1)])
    with pytest.raises(ValueError, match=r"entries in \[0, 65537\)"):
        LagrangeCode(6, 2, 2, field=P).encode([np.array([P]), np.array([0])])


def test_decode_before_encode():
    with pytest.raises(coded.NotEncodedError, match="call encode"):
        LagrangeCode(3, 1, 2).decode({0: np.zeros(2), 1: np.zeros(2), 2: np.zeros(2)})
