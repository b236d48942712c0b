"""The contract every code must satisfy, run on every code family (scikit-learn style).

A family's test module builds :class:`Case` objects, each holding a code and a way to
produce every worker's response plus the uncoded answer, and parametrizes the checks here
with :func:`contract_tests`. The checks:

* every decodable set (all of them for small n, 300 random ones above) decodes to the
  uncoded answer, exactly in GF(p) and to ``rtol`` over the reals (approximate codes: every
  entry within ``Case.bound`` of the workers used, plus ``rtol`` for rounding); every set of
  ``recovery_threshold`` workers is decodable, unless the case says from which size on
  every set is (``Case.guaranteed``: replication's threshold n/r is its smallest decodable
  set, and only sets of n − r + 1 always cover every block);
* a set for which ``can_decode`` is false raises ``NotDecodableError`` with what it had and
  needed, and some set of ``recovery_threshold - 1`` workers is not decodable;
* ``decoding_margin`` is exact: a decodable set survives the loss of any ``margin`` of its
  workers but not of some ``margin + 1``; an undecodable one decodes with some ``-margin``
  more workers but with no ``-margin - 1``;
* pickle and config round-trips, repr, unknown worker indices and malformed responses.
"""

from __future__ import annotations

import itertools
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import coded

EXHAUSTIVE_LIMIT = 5000  # enumerate every subset when there are at most this many


@dataclass
class Case:
    """A code plus a recipe: ``run(code, rng) -> (responses of all n workers, expected)``."""

    id: str
    code: coded.Code
    run: Callable[[coded.Code, np.random.Generator], tuple[dict, object]]
    rtol: float = 1e-9  # relative error (Frobenius) allowed over the reals
    guaranteed: int | None = None  # every set this large decodes (default: the threshold)
    # Approximate codes (BerrutCode): the largest error of an entry when decoding from the
    # workers used, ``bound(code, used)``; rtol times the largest entry is added for rounding.
    bound: Callable[[coded.Code, tuple[int, ...]], float] | None = None

    def responses(self, seed: int = 0):
        return self.run(self.code, np.random.default_rng(seed))


def subsets(n: int, size: int, rng: np.random.Generator, limit: int = 300):
    """All subsets of ``range(n)`` of this size when few, else ``limit`` random ones."""
    if math.comb(n, size) <= EXHAUSTIVE_LIMIT:
        return list(itertools.combinations(range(n), size))
    return _random(n, size, rng, limit)


def _random(n: int, size: int, rng: np.random.Generator, count: int = 10):
    return [tuple(sorted(rng.choice(n, size, replace=False))) for _ in range(count)]


def matvec_responses(code, rng, rows=13, cols=5, width=3):
    """Every worker's ``share @ X`` for a one-operand code, and the expected ``A @ X``."""
    if code.field.exact:
        p = code.field.p
        A, X = rng.integers(0, p, (rows, cols)), rng.integers(0, p, (cols, width))
        shares = code.encode(A)
        return {i: coded.gf_matmul(s, X, p) for i, s in enumerate(shares)}, coded.gf_matmul(A, X, p)
    A, X = rng.standard_normal((rows, cols)), rng.standard_normal((cols, width))
    return {i: s @ X for i, s in enumerate(code.encode(A))}, A @ X


def relative_error(got, expected) -> float:
    got, expected = _flatten(got), _flatten(expected)
    scale = np.linalg.norm(expected)
    return float(np.linalg.norm(got - expected) / (scale if scale else 1.0))


def _flatten(x) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in x])
    return np.asarray(x, dtype=np.float64).ravel()


def assert_matches(case: Case, got, expected, workers):
    """``got``, decoded from the responses of ``workers``, is ``expected`` (see :class:`Case`)."""
    if case.code.field.exact:
        got_list = got if isinstance(got, (list, tuple)) else [got]
        exp_list = expected if isinstance(expected, (list, tuple)) else [expected]
        assert len(got_list) == len(exp_list)
        for g, e in zip(got_list, exp_list, strict=True):
            assert np.asarray(g).shape == np.asarray(e).shape
            np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
    else:
        if not isinstance(got, list):
            assert np.shape(got) == np.shape(expected)
        if case.bound is None:
            assert relative_error(got, expected) <= case.rtol
        else:
            got, expected = _flatten(got), _flatten(expected)
            assert got.shape == expected.shape
            allowed = case.bound(case.code, case.code.select(workers))
            allowed += case.rtol * np.abs(expected).max()
            assert np.abs(got - expected).max() <= allowed, (workers, allowed)


# -- the checks ------------------------------------------------------------------------
def check_every_decodable_set(case: Case):
    code = case.code
    responses, expected = case.responses()
    rng = np.random.default_rng(1)
    guaranteed = case.guaranteed or code.recovery_threshold
    tried = 0
    for size in range(code.recovery_threshold, code.n + 1):
        exhaustive = size in (code.recovery_threshold, guaranteed)
        for subset in (
            subsets(code.n, size, rng, limit=300) if exhaustive else _random(code.n, size, rng)
        ):
            if size < guaranteed and not code.can_decode(subset):
                continue
            assert code.can_decode(subset), f"{subset} should be decodable"
            got = code.decode({i: responses[i] for i in subset})
            assert_matches(case, got, expected, subset)
            tried += 1
    assert tried > 0


def check_too_few_raise(case: Case):
    code = case.code
    responses, _ = case.responses()
    rng = np.random.default_rng(2)
    size = code.recovery_threshold - 1
    undecodable = [s for s in subsets(code.n, size, rng) if not code.can_decode(s)]
    assert undecodable, "some set of recovery_threshold - 1 workers must be undecodable"
    subset = undecodable[0]
    with pytest.raises(coded.NotDecodableError) as info:
        code.decode({i: responses[i] for i in subset})
    assert info.value.available == tuple(sorted(subset))
    assert info.value.needed == code.recovery_threshold
    assert isinstance(info.value, ValueError)


def check_round_trips(case: Case):
    code = case.code
    responses, expected = case.responses()
    clone = pickle.loads(pickle.dumps(code))
    assert clone == code and repr(clone) == repr(code)
    first = tuple(range(code.n))[: code.n]
    assert_matches(case, clone.decode({i: responses[i] for i in first}), expected, first)
    rebuilt = coded.code_from_config(code.get_config())
    assert rebuilt == code
    assert type(code).__name__ in repr(code) and f"n={code.n}" in repr(code)
    assert len(pickle.dumps(coded.code_from_config(code.get_config()))) < 4096


def check_bad_responses(case: Case):
    """A response that is not a result is an erasure: decoding uses the others, or names it
    (BadResponseError) when the others do not decode."""
    code = case.code
    responses, expected = case.responses()
    with pytest.raises(ValueError, match="unknown worker index"):
        code.decode({**responses, code.n: responses[0]})
    with pytest.raises(ValueError, match="unknown worker index"):
        code.can_decode([-1])
    used = code.select(responses)
    last = used[-1]
    sample = np.asarray(responses[last])
    kind = "integer array" if code.field.exact else "array of real numbers"
    bads = [
        (np.zeros((1,) * max(1, sample.ndim) + (3,), sample.dtype), "shape"),
        (None, rf"{kind}, not None \(NoneType\)"),
        ("oops", rf"{kind}, not 'oops' \(str\)"),
        (sample + 0.5j, rf"{kind}, not an array of .* dtype complex128"),
        (np.full(sample.shape, np.nan), "NaN or Inf" if not code.field.exact else kind),
    ]
    for bad, reason in bads:
        spoiled = {**responses, last: bad}
        minimal = {i: spoiled[i] for i in used}
        for given in (spoiled, minimal):
            unfixed = reason == "shape" and code._response_shape() is None
            if unfixed and len(given) == 1:
                continue  # one response, and the code fixes no shape: nothing to compare with
            if unfixed and len(given) == 2:  # a tie: nothing says which shape is right
                with pytest.raises(ValueError, match=f"one shape, not .*worker {last}"):
                    code.decode(given)
            elif len(given) == 1 and reason == "NaN or Inf":  # none finite: the data overflowed
                assert np.isnan(_flatten(code.decode(given))).all()
            elif code.can_decode(set(given) - {last}):  # the others decode: never the bad one
                assert_matches(case, code.decode(given), expected, set(given) - {last})
            else:
                blamed = f"worker {last} is bad: .*{reason}"
                with pytest.raises(coded.BadResponseError, match=blamed):
                    code.decode(given)


def check_decoding_margin(case: Case):
    code, rng = case.code, np.random.default_rng(3)
    sets = [()] + [s for size in range(1, code.n + 1) for s in _random(code.n, size, rng, 1)]
    for workers in sets:
        margin = code.decoding_margin(workers)
        assert (margin >= 0) == code.can_decode(workers), (workers, margin)
        if margin >= 0:  # any len - margin of them decode, and (exact) some one fewer do not
            kept = len(workers) - margin
            assert all(map(code.can_decode, _combinations(workers, kept, rng))), (workers, margin)
            fewer = _combinations(workers, kept - 1, rng, exhaustive=True)
            assert fewer is None or not all(map(code.can_decode, fewer)), (workers, margin)
        else:  # no -margin - 1 more workers make them decode, and (exact) some -margin do
            others = [i for i in range(code.n) if i not in workers]
            fewer = _combinations(others, -margin - 1, rng)
            assert not any(code.can_decode(workers + more) for more in fewer), (workers, margin)
            enough = _combinations(others, -margin, rng, exhaustive=True)
            assert enough is None or any(code.can_decode(workers + more) for more in enough)


def _combinations(pool, size: int, rng, limit: int = 300, exhaustive: bool = False):
    """Every ``size``-subset of ``pool`` when at most ``limit``, else ``limit`` random ones
    (None when ``exhaustive``: a search for one witness needs them all)."""
    if math.comb(len(pool), size) <= limit:
        return list(itertools.combinations(pool, size))
    return (
        None if exhaustive else [tuple(rng.choice(pool, size, replace=False)) for _ in range(limit)]
    )


CHECKS = [
    check_every_decodable_set,
    check_too_few_raise,
    check_decoding_margin,
    check_round_trips,
    check_bad_responses,
]


def contract_tests(cases: list[Case]):
    """Parametrize a test over every (case, check) pair, with readable ids."""
    params = [
        pytest.param(case, check, id=f"{case.id}-{check.__name__[6:]}")
        for case in cases
        for check in CHECKS
    ]
    return pytest.mark.parametrize("case,check", params)
