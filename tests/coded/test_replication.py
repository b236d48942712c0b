"""Replication (r = 1: the uncoded split): the contract, its decodable sets, argument errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coded import Replication

from .contract import Case, contract_tests, matvec_responses

P = 65537


# Any n − r + 1 workers hold every block; n/r (one per block) is the smallest decodable set.
CASES = [
    Case(
        f"Replication({n},{r})-{'real' if f == 'real' else f'GF({f})'}",
        Replication(n, r, field=f),
        matvec_responses,
        guaranteed=n - r + 1,
    )
    for (n, r) in [(1, 1), (4, 1), (4, 2), (6, 3), (8, 2), (8, 8), (12, 4)]
    for f in ("real", P)
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


@pytest.mark.parametrize("n, r", [(4, 2), (6, 3), (6, 2)])
def test_decodable_exactly_when_every_block_arrived(n, r):
    code = Replication(n, r)
    for size in range(n + 1):
        for subset in itertools.combinations(range(n), size):
            assert code.can_decode(subset) == ({i % (n // r) for i in subset} == set(range(n // r)))
    assert code.assignment == tuple((i % (n // r),) for i in range(n))


def test_decode_uses_one_copy_per_block():
    code = Replication(6, 2)
    A = np.arange(12.0).reshape(6, 2)
    shares = code.encode(A)
    assert code.select([5, 0, 3, 1, 4]) == (0, 1, 5)
    np.testing.assert_array_equal(code.decode({i: shares[i] for i in (3, 4, 2)}), A)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: Replication(6, 4), ValueError, r"Argument 'r' must divide n=6, not 4\."),
        (lambda: Replication(4, 5), ValueError, r"Argument 'r' must be at most n=4, not 5\."),
        (lambda: Replication(4, 0), ValueError, r"Argument 'r' must be at least 1, not 0\."),
        (lambda: Replication(4, 1.5), TypeError, r"Argument 'r' must be an integer"),
        (
            lambda: Replication(4).encode(np.ones((2, 2, 2))),
            ValueError,
            r"Argument 'A' must be a 1-D or 2-D array, not 3-D \(shape \(2, 2, 2\)\)\.",
        ),
    ],
)
def test_argument_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()
