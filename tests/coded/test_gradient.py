"""GradientCode: the contract, exact decodability, numerics targets, and argument errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded import GradientCode

from .contract import Case, contract_tests, relative_error, subsets

P = 65537


def _partials(code, rng, shape=(4, 3), dtype=np.float64):
    if code.field.exact:
        return rng.integers(0, code.field.p, (code.n,) + shape)
    return rng.standard_normal((code.n,) + shape).astype(dtype)


def _messages(code, grads):
    return {i: code.combine(i, {j: grads[j] for j in code.assignment[i]}) for i in range(code.n)}


def _gradients(code, rng):
    grads = _partials(code, rng)
    expected = grads.sum(axis=0) % code.field.p if code.field.exact else grads.sum(axis=0)
    return _messages(code, grads), expected


def _id(n, s, scheme, field):
    return f"Gradient({n},{s})-{scheme}-{'real' if field == 'real' else f'GF({field})'}"


CASES = [
    Case(_id(n, s, scheme, f), GradientCode(n, s, scheme, field=f), _gradients)
    for scheme, params in [
        ("cyclic", [(3, 0), (4, 1), (8, 2), (9, 3), (16, 4), (32, 4)]),
        ("fractional", [(2, 1), (6, 2), (8, 1), (20, 3), (32, 1)]),
    ]
    for (n, s) in params
    for f in ("real", P)
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


def _really_decodable(code, subset) -> bool:
    """Whether ``1`` lies in the row span of B_subset (rank test, independent of can_decode)."""
    rows = code.matrix[list(subset)]
    if not subset:
        return False
    if code.field.exact:
        GF = code.field.galois_field
        return np.linalg.matrix_rank(
            GF(np.vstack([rows, np.ones(code.n, dtype=np.int64)]))
        ) == np.linalg.matrix_rank(GF(rows))
    coefficients = np.linalg.lstsq(rows.T, np.ones(code.n), rcond=None)[0]
    return bool(np.abs(coefficients @ rows - 1).max() < 1e-8)


@pytest.mark.parametrize("field", ["real", P], ids=["real", "GF"])
@pytest.mark.parametrize(
    "n,s,scheme",
    [
        (6, 2, "fractional"),
        (8, 1, "fractional"),
        (6, 2, "cyclic"),
        (7, 3, "cyclic"),
        (8, 2, "cyclic"),
    ],
)
def test_can_decode_is_exact_and_sum_matches_numpy(n, s, scheme, field):
    """Every subset: can_decode iff 1 is in the row span of B_subset, and then decode = sum."""
    code = GradientCode(n, s, scheme, field=field)
    rng = np.random.default_rng(n + s)
    grads = _partials(code, rng)
    messages = _messages(code, grads)
    expected = grads.sum(axis=0) % P if code.field.exact else grads.sum(axis=0)
    smaller = 0
    for size in range(n + 1):
        for subset in itertools.combinations(range(n), size):
            assert code.can_decode(subset) == _really_decodable(code, subset), subset
            if not code.can_decode(subset):
                with pytest.raises(coded.NotDecodableError):
                    code.decode({i: messages[i] for i in subset})
                continue
            smaller += size < code.recovery_threshold
            got = code.decode({i: messages[i] for i in subset})
            if code.field.exact:
                np.testing.assert_array_equal(got, expected)
            else:
                np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    assert (smaller > 0) == (scheme == "fractional")


def test_fractional_stops_waiting_at_one_worker_per_group():
    code = GradientCode(6, 2, "fractional")
    assert code.assignment == ((0, 1, 2),) * 3 + ((3, 4, 5),) * 3
    assert code.can_decode([2, 3]) and not code.can_decode([0, 1, 2])
    assert code.select([1, 2, 4, 5]) == (1, 4)


def test_cyclic_assignment_and_support():
    code = GradientCode(5, 2)
    assert code.assignment == ((0, 1, 2), (1, 2, 3), (2, 3, 4), (0, 3, 4), (0, 1, 4))
    for field in ("real", P):
        matrix = GradientCode(5, 2, field=field).matrix
        holds = np.zeros((5, 5), dtype=bool)
        for i, parts in enumerate(code.assignment):
            holds[i, list(parts)] = True
        assert (matrix[~holds] == 0).all() and (matrix[holds] != 0).all()


def _tandon_random(n, s, rng):
    """Tandon et al.'s random cyclic construction (Algorithm 2), for comparison."""
    H = rng.standard_normal((s, n))
    H[:, -1] = -H[:, :-1].sum(axis=1)
    B = np.zeros((n, n))
    for i in range(n):
        others = [(i + t) % n for t in range(1, s + 1)]
        B[i, i] = 1.0
        B[i, others] = np.linalg.solve(H[:, others], -H[:, i])
    return B / np.linalg.norm(B, axis=1, keepdims=True)


@pytest.mark.parametrize("n,bound", [(8, 40), (16, 700), (32, 1e4)])
def test_cyclic_conditioning_targets(n, bound):
    """Worst condition number over all (n <= 16) / 500 random straggler sets, s = 1..4.

    The (nega)cyclic MDS construction stays within ``bound``; Tandon's random construction
    (one draw) does worse for some s at every n.
    """
    rng = np.random.default_rng(n)
    ours, random = [], []
    for s in range(1, 5):
        code, tandon = GradientCode(n, s), _tandon_random(n, s, rng)
        sets = subsets(n, n - s, rng, limit=500)
        ours.append(max(code.condition_number(subset) for subset in sets))
        random.append(max(np.linalg.cond(tandon[list(subset)]) for subset in sets))
    assert max(ours) <= bound
    assert max(random) > max(ours)


@pytest.mark.parametrize("n,s", [(8, 2), (16, 3), (32, 4)])
@pytest.mark.parametrize("dtype,target", [(np.float64, 1e-11), (np.float32, 1e-3)])
def test_real_numerics_targets(n, s, dtype, target):
    rng = np.random.default_rng(n * 10 + s)
    code = GradientCode(n, s)
    grads = rng.standard_normal((n, 64)).astype(dtype)
    messages = _messages(code, grads)
    exact = grads.astype(np.float64).sum(axis=0)
    worst = max(
        relative_error(code.decode({i: messages[i] for i in subset}), exact)
        for subset in subsets(n, n - s, rng, limit=200)
    )
    assert worst <= target
    assert messages[0].dtype == dtype and code.decode(messages).dtype == dtype


def test_best_conditioned_subset_is_used():
    code = GradientCode(12, 3)
    chosen = code.select(range(12))
    assert len(chosen) == 9
    assert code.condition_number(range(12)) <= min(
        code.condition_number(subset) for subset in [tuple(range(9)), tuple(range(3, 12))]
    )


def test_single_worker_returns_its_gradient():
    """n = 1 (left out of the contract: one response of any shape is well formed)."""
    code = GradientCode(1, 0)
    assert code.assignment == ((0,),) and code.recovery_threshold == 1
    np.testing.assert_allclose(
        code.decode({0: code.combine(0, {0: np.arange(3.0)})}), np.arange(3.0)
    )


def test_decode_needs_no_encode():
    code = GradientCode(3, 1, field=P)
    messages = _messages(code, np.array([[1], [2], [P - 1]]))
    np.testing.assert_array_equal(code.decode({0: messages[0], 2: messages[2]}), [2])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 10),
    s_fraction=st.floats(0, 0.99),
    fractional=st.booleans(),
    shape=st.lists(st.integers(1, 4), max_size=3).map(tuple),
    exact=st.booleans(),
    float32=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_shapes_and_subsets(n, s_fraction, fractional, shape, exact, float32, seed):
    s = int(s_fraction * n)
    if fractional:
        s = max(d for d in range(1, s + 2) if n % d == 0) - 1
    code = GradientCode(
        n, s, "fractional" if fractional else "cyclic", field=P if exact else "real"
    )
    rng = np.random.default_rng(seed)
    grads = _partials(code, rng, shape, np.float32 if float32 else np.float64)
    messages = _messages(code, grads)
    subset = tuple(sorted(rng.choice(n, n - s, replace=False)))
    got = code.decode({i: messages[i] for i in subset})
    assert got.shape == shape
    if exact:
        np.testing.assert_array_equal(got, grads.sum(axis=0) % P)
    else:
        assert got.dtype == grads.dtype
        tolerance = 1e-3 if float32 else 1e-10
        np.testing.assert_allclose(
            got, grads.astype(np.float64).sum(axis=0), rtol=tolerance, atol=tolerance
        )


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(n=8, s=8), ValueError, r"Argument 's' must be less than n=8, not 8\."),
        (dict(n=8, s=-1), ValueError, r"Argument 's' must be at least 0, not -1\."),
        (dict(n=0, s=0), ValueError, r"Argument 'n' must be at least 1, not 0\."),
        (
            dict(n=8, s=2, scheme="fractional"),
            ValueError,
            r"Argument 's' must have s \+ 1 dividing n=8 .*not 2\.",
        ),
        (
            dict(n=8, s=1, scheme="random"),
            ValueError,
            r"Argument 'scheme' must be one of \['cyclic', 'fractional'\], not 'random' \(str\)\.",
        ),
        (
            dict(n=8, s=1, field=7),
            ValueError,
            r"Argument 'n' must be at most p=7 over GF\(7\), not 8\.",
        ),
        (dict(n=8, s=1.5), TypeError, r"Argument 's' must be an integer, not 1\.5 \(float\)\."),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        GradientCode(**kwargs)


def test_combine_rejects_bad_partials():
    code = GradientCode(4, 1)
    with pytest.raises(
        ValueError,
        match=r"Argument 'partials' must hold the partitions \[1, 2\] of worker 1, not \[0, 1\]\.",
    ):
        code.combine(1, {0: np.zeros(2), 1: np.zeros(2)})
    with pytest.raises(
        ValueError,
        match=r"Argument 'partials\[2\]' must have the shape \(2,\) of partials\[1\], not \(3,\)\.",
    ):
        code.combine(1, {1: np.zeros(2), 2: np.zeros(3)})
    with pytest.raises(ValueError, match=r"Argument 'i' must be a worker index in 0\.\.3, not 4\."):
        code.combine(4, {0: np.zeros(2), 1: np.zeros(2)})
    with pytest.raises(TypeError, match="Argument 'partials' must be a mapping"):
        code.combine(0, [np.zeros(2), np.zeros(2)])
    with pytest.raises(TypeError, match=r"Argument 'partials\[0\]' must be an array of numbers"):
        code.combine(0, {0: None, 1: np.zeros(1)})
    # a diverging model's NaN is passed on, for the master's training driver to report
    assert np.isnan(code.combine(0, {0: np.array([np.nan]), 1: np.zeros(1)})).all()
    with pytest.raises(ValueError, match=r"entries in \[0, 65537\)"):
        GradientCode(4, 1, field=P).combine(0, {0: np.array([P]), 1: np.array([0])})
