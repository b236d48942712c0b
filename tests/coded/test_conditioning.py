"""The conditioning guard: every real decode is within its code's accuracy or refused."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import coded
from coded.conditioning import check_conditioning, error_bound, response_dtype

from .contract import relative_error

FLOATS = [np.float32, np.float64]


def _problem(code, dtype, rng):
    """Every worker's response (computed in ``dtype``) and the float64 truth."""
    if isinstance(code, coded.GradientCode):
        partials = [rng.standard_normal(7).astype(dtype) for _ in range(code.n)]
        held = lambda i: {j: partials[j] for j in code.assignment[i]}  # noqa: E731
        responses = {i: code.combine(i, held(i)) for i in range(code.n)}
        return responses, np.sum(np.array(partials, dtype=np.float64), axis=0)
    if isinstance(code, coded.LagrangeCode):
        blocks = [rng.standard_normal((9, 5)).astype(dtype) for _ in range(code.k)]
        responses = {i: s.T @ s for i, s in enumerate(code.encode(blocks))}
        return responses, [b.astype(np.float64).T @ b.astype(np.float64) for b in blocks]
    if code.operands == 2:
        A, B = rng.standard_normal((10, 12)).astype(dtype), rng.standard_normal((12, 8))
        B = B.astype(dtype)
        responses = {i: a @ b for i, (a, b) in enumerate(code.encode(A, B))}
        return responses, A.astype(np.float64) @ B.astype(np.float64)
    A, X = rng.standard_normal((13, 5)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
    return {i: s @ X for i, s in enumerate(code.encode(A))}, A.astype(np.float64) @ X


def _arrival_sets(code, rng, count=30):
    """Every cyclic run of stragglers (the clustered worst case) and random sets, with up to
    two extra responses, that the code can decode."""
    n, threshold = code.n, code.recovery_threshold
    sets = [tuple(sorted((start + np.arange(threshold)) % n)) for start in range(n)]
    for _ in range(count):
        size = int(rng.integers(threshold, min(n, threshold + 2) + 1))
        sets.append(tuple(sorted(rng.choice(n, size, replace=False).tolist())))
    return [s for s in sets if code.can_decode(s)]


def _assert_names(error: coded.IllConditionedError, code, arrived, dtype):
    """The refusal names the code, the workers used and the bound, which is over the limit."""
    used = code.select(arrived)
    assert error.code == repr(code) and error.workers == used
    assert error.bound == pytest.approx(code.condition_number(arrived) * np.finfo(dtype).eps)
    assert error.bound > code.accuracy == error.accuracy
    assert error.dtype == np.dtype(dtype).name
    message = str(error)
    assert repr(code) in message and str(list(used)) in message
    assert f"{error.bound:.1e}" in message and np.dtype(dtype).name in message


REAL_CODES = [
    coded.MDSCode(12, 8),
    coded.MDSCode(16, 12, systematic=True),
    coded.PolynomialCode(12, 2, 3),
    coded.MatDotCode(12, 4),
    coded.EntangledPolynomialCode(16, 2, 2, 3),  # the general case: ill-conditioned
    coded.GradientCode(12, 3),
    coded.GradientCode(12, 2, scheme="fractional"),
    coded.LagrangeCode(20, 5, 2),
    coded.LagrangeCode(24, 6, 2),
    coded.LagrangeCode(32, 8, 2),
    coded.Replication(8, 2),
]


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
@pytest.mark.parametrize("code", REAL_CODES, ids=repr)
def test_every_real_decode_is_within_accuracy_or_refused(code, dtype):
    rng = np.random.default_rng(code.n)
    responses, exact = _problem(code, dtype, rng)
    for arrived in _arrival_sets(code, rng):
        try:
            got = code.decode({i: responses[i] for i in arrived})
        except coded.IllConditionedError as error:
            _assert_names(error, code, arrived, dtype)
            continue
        assert relative_error(got, exact) <= code.accuracy, arrived


@pytest.mark.parametrize(
    "code,dtype",
    [
        (coded.EntangledPolynomialCode(16, 2, 2, 3), np.float32),
        (coded.LagrangeCode(32, 8, 2), np.float32),
        (coded.LagrangeCode(24, 6, 2), np.float32),
    ],
    ids=repr,
)
def test_ill_conditioned_sets_are_refused(code, dtype):
    """The clustered worst case of these codes is beyond float32: refused, naming it."""
    responses, _ = _problem(code, dtype, np.random.default_rng(0))
    arrived = tuple(range(code.recovery_threshold))
    with pytest.raises(coded.IllConditionedError) as info:
        code.decode({i: responses[i] for i in arrived})
    _assert_names(info.value, code, arrived, dtype)


@pytest.mark.parametrize(
    "n,k,degree,dtype,stragglers",
    [(32, 8, 2, np.float32, 17), (32, 8, 2, np.float64, 17), (20, 5, 2, np.float32, 11)]
    + [(32, 14, 2, np.float32, 5)],
    ids=["32-8-2-float32", "32-8-2-float64", "20-5-2-float32", "32-14-2-float32"],
)
def test_issue_lagrange_cases_are_accurate_or_refused(n, k, degree, dtype, stragglers):
    """Issue #12's cases (relative errors 1.7e6, 1.7e-2, 3.0 and 8–15 before, silently):
    every run of that many consecutive stragglers, and of one fewer, now decodes within the
    code's accuracy or is refused (too few responses for the code's threshold, or too
    ill-conditioned)."""
    code = coded.LagrangeCode(n, k, degree)
    responses, exact = _problem(code, dtype, np.random.default_rng(12))
    decoded = 0
    for missing in (stragglers, stragglers - 1):
        for start in range(n):
            late = {(start + t) % n for t in range(missing)}
            arrived = {i: responses[i] for i in range(n) if i not in late}
            try:
                got = code.decode(arrived)
            except (coded.IllConditionedError, coded.NotDecodableError):
                continue
            assert relative_error(got, exact) <= code.accuracy
            decoded += 1
    assert relative_error(code.decode(responses), exact) <= 1e-5
    assert decoded or dtype == np.float32


def test_accuracy_is_a_documented_default_a_code_can_change():
    code = coded.MDSCode(8, 6)
    responses, exact = _problem(code, np.float32, np.random.default_rng(0))
    arrived = {i: responses[i] for i in range(6)}
    assert coded.Code.accuracy == code.accuracy == 1e-3
    assert relative_error(code.decode(arrived), exact) <= 1e-5
    code.accuracy = 1e-9  # float32 cannot promise that
    with pytest.raises(coded.IllConditionedError, match=r"above the code's accuracy 1e-09"):
        code.decode(arrived)
    assert coded.MDSCode(8, 6).accuracy == 1e-3
    strict = coded.LagrangeCode(32, 8, 2)
    strict.accuracy = math.inf  # the guard off: the caller takes the risk
    responses, _ = _problem(strict, np.float32, np.random.default_rng(0))
    strict.decode({i: responses[i] for i in range(16)})


def test_the_guard_uses_the_least_precise_response():
    code = coded.LagrangeCode(20, 5, 2)
    responses, _ = _problem(code, np.float64, np.random.default_rng(0))
    arrived = {i: responses[i] for i in range(9)}  # 11 consecutive stragglers: κ ≈ 8.9e3
    assert 1e3 < code.condition_number(arrived) < 1e4
    code.decode(arrived)
    arrived[3] = arrived[3].astype(np.float32)
    with pytest.raises(coded.IllConditionedError, match="with float32 responses"):
        code.decode(arrived)
    arrived[3] = np.rint(arrived[3]).astype(np.int64)  # integers are exact: float64 rules
    code.decode(arrived)


def test_condition_numbers_are_computed_once_per_worker_set(monkeypatch):
    code = coded.LagrangeCode(20, 5, 2)
    responses, _ = _problem(code, np.float64, np.random.default_rng(0))
    calls = []
    cond = np.linalg.cond
    monkeypatch.setattr(np.linalg, "cond", lambda m, *a: calls.append(m.shape) or cond(m, *a))
    for _ in range(3):
        code.decode({i: responses[i] for i in range(9)})
    assert calls == [(9, 9)]


def test_codes_without_a_system_have_condition_number_one():
    code = coded.Replication(4, r=2)
    assert code.condition_number([0, 1, 3]) == 1.0
    assert coded.MDSCode(5, 3, field=7).condition_number([0, 1, 2]) == 1.0  # exact: no error


def test_the_guard_function():
    code = coded.MatDotCode(8, 3)
    assert error_bound(1e3, np.float64) == 1e3 * np.finfo(np.float64).eps
    assert check_conditioning(code, (0, 1, 2, 3, 4), 1e3, np.float64) < 1e-12
    with pytest.raises(coded.IllConditionedError) as info:
        check_conditioning(code, (4, 1, 2, 3, 0), 1e5, np.float32)
    assert info.value.workers == (0, 1, 2, 3, 4) and info.value.condition == 1e5
    assert "float64 or an exact field" in str(info.value)
    assert response_dtype([np.zeros(1, np.float16), np.zeros(1)]) == np.float16


def test_ill_conditioned_error_pickles():
    error = coded.IllConditionedError("MDSCode(n=3, k=2)", [2, 0], 2e13, 4.4e-3, 1e-3, "float64")
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) and clone.workers == (0, 2) and clone.bound == 4.4e-3
    assert isinstance(clone, ArithmeticError) and "float64 or" not in str(clone)
