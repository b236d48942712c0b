"""Byzantine error correction (``code.correct``): randomised trials per family at
``n = recovery_threshold + 2A``, past the bound, malformed responses, refusals, oracle."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pytest

import coded
from coded import (
    EntangledPolynomialCode,
    GradientCode,
    LagrangeCode,
    MatDotCode,
    MDSCode,
    PolynomialCode,
)

from .contract import relative_error

P = 65537
TRIALS = 1000  # per family, spread evenly over its (field, A, variant) settings


def _data(code, rng, shape):
    if code.field.exact:
        return rng.integers(0, code.field.p, shape)
    return rng.standard_normal(shape)


def _multiply(code, a, b):
    return coded.gf_matmul(a, b, code.field.p) if code.field.exact else a @ b


def _matvec(code, rng):
    A, X = _data(code, rng, (8, 5)), _data(code, rng, (5, 3))
    return {i: _multiply(code, s, X) for i, s in enumerate(code.encode(A))}, _multiply(code, A, X)


def _product(code, rng):
    A, B = _data(code, rng, (6, 4)), _data(code, rng, (4, 5))
    pairs = code.encode(A, B)
    return {i: _multiply(code, a, b) for i, (a, b) in enumerate(pairs)}, _multiply(code, A, B)


def _gram(code, rng):
    blocks = [_data(code, rng, (4, 3)) for _ in range(code.k)]
    shares = code.encode(blocks)
    return (
        {i: _multiply(code, s.T, s) for i, s in enumerate(shares)},
        [_multiply(code, x.T, x) for x in blocks],
    )


def _gradients(code, rng):
    partials = {j: _data(code, rng, 6) for j in range(code.n)}
    total = sum(partials.values())
    messages = {
        i: code.combine(i, {j: partials[j] for j in code.assignment[i]}) for i in range(code.n)
    }
    return messages, total % code.field.p if code.field.exact else total


@dataclass
class Family:
    """A code family at ``n = threshold + 2A`` for each field, and how to run it."""

    name: str
    make: list  # (field, A) -> code, one per variant
    run: object

    def settings(self):
        return [(f, a, make) for f in (P, "real") for a in (1, 2) for make in self.make]


FAMILIES = [
    Family("MDS", [lambda f, a: MDSCode(3 + 2 * a, 3, systematic=a == 2, field=f)], _matvec),
    Family("polynomial", [lambda f, a: PolynomialCode(4 + 2 * a, 2, 2, field=f)], _product),
    Family("MatDot", [lambda f, a: MatDotCode(3 + 2 * a, 2, field=f)], _product),
    Family(
        "entangled", [lambda f, a: EntangledPolynomialCode(5 + 2 * a, 2, 1, 2, field=f)], _product
    ),
    Family("Lagrange", [lambda f, a: LagrangeCode(5 + 2 * a, 3, 2, field=f)], _gram),
    Family(
        "gradient",
        [
            lambda f, a: GradientCode(4 + 2 * a, 2 * a, field=f),
            lambda f, a: GradientCode(2 * (2 * a + 1), 2 * a, "fractional", field=f),
        ],
        _gradients,
    ),
]


def _corrupt(response, exact: bool, rng, kinds: int = 5) -> np.ndarray:
    """A wrong response: random values, one entry changed, sign flip, scaling or zeros
    (the first ``kinds`` of these, drawn at random)."""
    kind = rng.integers(kinds)
    if exact:
        wrong = rng.integers(0, P, response.shape) if kind < 2 else response.copy()
        wrong.flat[rng.integers(wrong.size)] += rng.integers(1, P)
        return wrong % P
    size = np.linalg.norm(response) * 10.0 ** rng.uniform(-6, 6)
    noise = rng.standard_normal(response.shape)
    if kind == 0:
        return response + noise * size / np.linalg.norm(noise)
    if kind == 1:
        wrong = response.copy()
        wrong.flat[rng.integers(wrong.size)] += size
        return wrong
    return [-response, response * 3.0, np.zeros_like(response)][kind - 2]


def _matches(code, got, expected) -> bool:
    if code.field.exact:
        return np.array_equal(np.asarray(got), np.asarray(expected))
    return relative_error(got, expected) <= 1e-9


def _trials(family, count, bad_count, rng, kinds=5):
    """Per setting: (code, A, outcomes) with outcome (faulty found, wrong workers, matches)."""
    for field, budget, make in family.settings():
        code = make(field, budget)
        assert code.n == code.recovery_threshold + 2 * budget, code
        responses, expected = family.run(code, rng)
        outcomes = []
        for trial in range(count // len(family.settings())):
            tampered = dict(responses)
            for i in rng.choice(code.n, bad_count(budget), replace=False):
                tampered[i] = _corrupt(responses[i], code.field.exact, rng, kinds)
            wrong = tuple(i for i in range(code.n) if not np.array_equal(tampered[i], responses[i]))
            try:
                fixed = code.correct(tampered, byzantine=budget, rng=trial)
            except coded.UncorrectableError:
                outcomes.append((None, wrong, None))
                continue
            outcomes.append((fixed.faulty, wrong, _matches(code, fixed.result, expected)))
        yield code, budget, outcomes


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_up_to_A_wrong_responses_are_corrected_and_named(family):
    rng = np.random.default_rng(1)
    done = 0
    for code, budget, outcomes in _trials(family, TRIALS, lambda a: rng.integers(a + 1), rng):
        for faulty, wrong, matches in outcomes:
            assert faulty == wrong and matches, (code, budget, faulty, wrong)
        done += len(outcomes)
    assert done >= 0.99 * TRIALS


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_one_wrong_response_past_the_bound_never_gives_a_silent_wrong_result(family):
    """A + 1 responses with random errors. (Identical ones can fool any decoder: A + 1
    equal zeros in a fractional group of 2A + 1 outvote the truth.)"""
    rng = np.random.default_rng(2)
    counts = {"refused": 0, "correct": 0, "wrong": 0}
    for _, _, outcomes in _trials(family, TRIALS // 4, lambda a: a + 1, rng, kinds=2):
        for faulty, _, matches in outcomes:
            counts["refused" if faulty is None else "correct" if matches else "wrong"] += 1
    assert counts["wrong"] == 0, counts
    assert counts["refused"] > 0, counts


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_clean_responses_name_nobody(family):
    rng = np.random.default_rng(3)
    for field, budget, make in family.settings():
        code = make(field, budget)
        responses, expected = family.run(code, rng)
        fixed = code.correct(responses, byzantine=budget)
        assert fixed.faulty == () and fixed.reasons == {}
        assert _matches(code, fixed.result, expected)
        assert fixed.used == code.select(responses)


def test_matches_galois_oracle():
    import galois

    GF = galois.GF(P)
    rng = np.random.default_rng(4)
    for code in (MDSCode(9, 4, field=P), PolynomialCode(10, 2, 3, field=P)):
        A, X = GF.Random((12, 7), seed=rng), GF.Random((7, 6), seed=rng)
        if code.operands == 1:
            shares = code.encode(A.view(np.ndarray))
            responses = {i: (GF(s) @ X).view(np.ndarray) for i, s in enumerate(shares)}
        else:
            pairs = code.encode(A.view(np.ndarray), X.view(np.ndarray))
            responses = {i: (GF(a) @ GF(b)).view(np.ndarray) for i, (a, b) in enumerate(pairs)}
        responses[2] = (responses[2] + 1) % P
        responses[7] = GF.Random(responses[7].shape, seed=rng).view(np.ndarray)
        fixed = code.correct(responses, byzantine=2)
        assert fixed.faulty == (2, 7)
        np.testing.assert_array_equal(fixed.result, (A @ X).view(np.ndarray))


@pytest.mark.parametrize("p", [7, 11])
def test_small_fields_still_find_one_changed_entry(p):
    """A single changed entry hides from a random combination with probability 1/p: the
    combinations are repeated until that is below 2^-40."""
    rng = np.random.default_rng(5)
    code = MDSCode(5, 3, field=p)
    A, X = rng.integers(0, p, (6, 4)), rng.integers(0, p, (4, 5))
    responses = {i: coded.gf_matmul(s, X, p) for i, s in enumerate(code.encode(A))}
    for trial in range(200):
        wrong = int(rng.integers(5))
        tampered = dict(responses)
        tampered[wrong] = responses[wrong].copy()
        tampered[wrong].flat[rng.integers(responses[wrong].size)] += rng.integers(1, p)
        tampered[wrong] %= p
        fixed = code.correct(tampered, byzantine=1, rng=trial)
        assert fixed.faulty == (wrong,)
        np.testing.assert_array_equal(fixed.result, coded.gf_matmul(A, X, p))


@pytest.mark.parametrize("dtype,size", [(np.float32, 1e-3), (np.float64, 1e-9)])
def test_real_corruptions_above_the_measured_floor_are_located(dtype, size):
    rng = np.random.default_rng(6)
    code = MDSCode(16, 12)
    A, X = rng.standard_normal((48, 64)).astype(dtype), rng.standard_normal((64, 16)).astype(dtype)
    responses = {i: s @ X for i, s in enumerate(code.encode(A))}
    for trial in range(20):
        wrong = tuple(sorted(rng.choice(16, 2, replace=False)))
        tampered = dict(responses)
        for i in wrong:
            noise = rng.standard_normal(responses[i].shape)
            step = size * np.linalg.norm(responses[i]) / np.linalg.norm(noise)
            tampered[i] = (responses[i] + step * noise).astype(dtype)
        fixed = code.correct(tampered, byzantine=2, rng=trial)
        assert fixed.faulty == wrong
        assert relative_error(fixed.result, A.astype(np.float64) @ X) <= 100 * np.finfo(dtype).eps


@pytest.mark.parametrize(
    "field,bad,reason",
    [
        ("real", lambda r: np.full_like(r, np.nan), "NaN or Inf"),
        ("real", lambda r: np.full_like(r, -np.inf), "NaN or Inf"),
        ("real", lambda r: r * 1j, "complex"),
        ("real", lambda r: r[1:], "shape"),
        ("real", lambda r: np.full(r.shape, "x"), "real numbers"),
        ("real", lambda r: np.full_like(r, 1e300), "inconsistent"),
        (P, lambda r: r + 0.5, "integer array"),
        (P, lambda r: r + P, "outside"),
        (P, lambda r: r - P, "outside"),
    ],
    ids=["nan", "inf", "complex", "shape", "text", "huge", "fraction", "above-p", "negative"],
)
def test_malformed_responses_are_named_and_never_decoded(field, bad, reason):
    rng = np.random.default_rng(7)
    code = MDSCode(7, 3, field=field)
    responses, expected = _matvec(code, rng)
    responses[4] = bad(responses[4])
    fixed = code.correct(responses, byzantine=2)
    assert fixed.faulty == (4,) and reason in fixed.reasons[4]
    assert _matches(code, fixed.result, expected)


def test_fewer_than_threshold_plus_2A_responses_are_refused():
    code = MDSCode(8, 3)
    responses, _ = _matvec(code, np.random.default_rng(8))
    with pytest.raises(coded.NotDecodableError, match=r"byzantine=2.*recovery threshold 3") as info:
        code.correct({i: responses[i] for i in range(6)}, byzantine=2)
    assert info.value.needed == 7 and info.value.available == tuple(range(6))


def test_uncorrectable_error_says_what_it_saw_and_pickles():
    code = MDSCode(7, 3, field=P)
    responses, _ = _matvec(code, np.random.default_rng(9))
    for i in (0, 3, 5):
        responses[i] = (responses[i] + 1) % P
    with pytest.raises(coded.UncorrectableError, match="byzantine=2.*disagree") as info:
        code.correct(responses, byzantine=2)
    error = info.value
    assert isinstance(error, coded.NotDecodableError) and isinstance(error, ValueError)
    assert error.byzantine == 2 and error.needed == 7 and error.available == tuple(range(7))
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) and clone.detail == error.detail


def test_byzantine_zero_detects_disagreement():
    code = MDSCode(5, 3)
    responses, expected = _matvec(code, np.random.default_rng(10))
    assert relative_error(code.correct(responses, byzantine=0).result, expected) < 1e-12
    responses[1] = responses[1] + 1
    with pytest.raises(coded.UncorrectableError):
        code.correct(responses, byzantine=0)


def test_bad_arguments():
    code = MDSCode(5, 3)
    responses, _ = _matvec(code, np.random.default_rng(11))
    with pytest.raises(ValueError, match="Argument 'byzantine' must be at least 0, not -1"):
        code.correct(responses, byzantine=-1)
    with pytest.raises(TypeError, match="Argument 'byzantine' must be an integer"):
        code.correct(responses, byzantine=1.5)
    with pytest.raises(TypeError, match="Argument 'responses' must be a mapping"):
        code.correct(list(responses.values()), byzantine=1)
    with pytest.raises(ValueError, match="Argument 'tolerance' must be in"):
        code.correct(responses, byzantine=1, tolerance=2.0)
    with pytest.raises(coded.NotEncodedError):
        MDSCode(5, 3).correct(responses, byzantine=1)
    replication = coded.Replication(4, r=2)
    replication.encode(np.ones((4, 2)))
    with pytest.raises(NotImplementedError, match="Replication does not support correct"):
        replication.correct({i: np.ones((2, 2)) for i in range(4)}, byzantine=1)


def test_a_huge_response_does_not_hide_a_small_error():
    """1e20 × a response swamps float64 syndromes: it is erased first, then the rest located."""
    rng = np.random.default_rng(12)
    code = MDSCode(16, 12)
    responses, expected = _matvec(code, rng)
    responses[1] = responses[1] * 1e20
    responses[5] = responses[5] * (1 + 1e-6)
    fixed = code.correct(responses, byzantine=2)
    assert fixed.faulty == (1, 5)
    assert relative_error(fixed.result, expected) < 1e-12


def test_one_float64_response_does_not_tighten_a_float32_tolerance():
    rng = np.random.default_rng(13)
    code = MDSCode(9, 5)
    A, X = rng.standard_normal((40, 64)).astype(np.float32), rng.standard_normal((64, 8))
    responses = {i: s @ X.astype(np.float32) for i, s in enumerate(code.encode(A))}
    responses[3] = responses[3].astype(np.float64)
    assert code.correct(responses, byzantine=2).faulty == ()


def test_large_searches_grow_the_best_smaller_sets():
    """C(40, 4) candidate sets is over 2^16: a fourth worker joins the 64 best threes."""
    rng = np.random.default_rng(14)
    code = MDSCode(40, 32)
    responses, expected = _matvec(code, rng)
    for trial in range(4):
        wrong = tuple(sorted(rng.choice(40, 4, replace=False)))
        tampered = dict(responses)
        for i in wrong:
            tampered[i] = responses[i] + rng.standard_normal(responses[i].shape)
        fixed = code.correct(tampered, byzantine=4, rng=trial)
        assert fixed.faulty == wrong
        assert relative_error(fixed.result, expected) < 1e-12
