"""IgnoreStragglers: an approximate rule, and what the code contract means for it.

The rule's "decoded" value from a set S is ``(Σ counts / Σ_S counts) · Σ_S m_i``: the exact
sum ``Σ_i m_i`` only when k = n or the messages are proportional to the rows they
cover. The contract therefore runs on messages ``m_i = counts_i · g`` (every row has the
same partial result ``g``): on those, every set of k workers must give the exact sum, and
everything else (refusals, round trips, malformed responses) holds as for any code.
Separate tests pin down that it is NOT exact otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded.ignore import IgnoreStragglers

from .contract import Case, contract_tests


def _proportional(code, rng):
    g = rng.standard_normal((3, 2))
    messages = {i: code.counts[i] * g for i in range(code.n)}
    return messages, sum(code.counts) * g


CASES = [
    Case(f"IgnoreStragglers({n},{k})", IgnoreStragglers(n, k, counts), _proportional)
    for n, k, counts in [
        (2, 1, None),
        (5, 3, [4, 4, 4, 3, 3]),
        (8, 6, [10, 10, 9, 9, 9, 9, 9, 9]),
        (12, 12, None),
    ]
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


def test_not_exact_for_unequal_partitions():
    code = IgnoreStragglers(4, 3, counts=[1, 1, 1, 1])
    messages = {i: np.array([float(i)]) for i in range(4)}  # exact sum: 6
    assert code.decode({i: messages[i] for i in (0, 1, 2)}).tolist() == [4.0]
    assert code.decode(messages).tolist() == [4.0]  # decoding uses k of them
    assert IgnoreStragglers(4, 4).decode(messages).tolist() == [6.0]  # k = n: exact


def test_config_repr_and_shares():
    code = IgnoreStragglers(4, 3, counts=(5, 5, 5, 4))
    assert repr(code) == "IgnoreStragglers(n=4, k=3, counts=[5, 5, 5, 4])"
    assert code.get_config() == {"type": "IgnoreStragglers", "n": 4, "k": 3, "counts": [5, 5, 5, 4]}
    assert coded.code_from_config(code.get_config()) == code
    assert code.work_share == 0.25 and code.storage == (0.25,) and code.operands is None
    assert IgnoreStragglers(3, 2).counts == (1, 1, 1)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: IgnoreStragglers(4, 5), ValueError, r"Argument 'k' must be at most n=4, not 5\."),
        (lambda: IgnoreStragglers(3, 2, [1, 1]), ValueError, r"one entry per worker, n=3, not 2"),
        (lambda: IgnoreStragglers(2, 1, [1, -1]), ValueError, r"'counts' must be at least 0"),
        (lambda: IgnoreStragglers(2, 1, [0, 0]), ValueError, r"positive total"),
        (lambda: IgnoreStragglers(2, 1, "ab"), TypeError, r"list of row counts"),
    ],
)
def test_argument_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()
