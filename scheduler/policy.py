"""When a round of an approximate code returns: the policy of :class:`Approximate`.

An exact code's round returns at its first decodable set of answers; there is no choice to
make. An approximate code (:class:`coded.BerrutCode`) decodes from any non-empty set, more
accurately the more answers it has, so the round must be told when to stop waiting:

* at the first ``responses`` answers (or, once failures leave fewer, at all that can come);
* ``wait`` seconds after dispatch, with whatever arrived (at least one answer);
* as soon as ``code.error_estimate(arrived) <= tolerance``;

whichever comes first. Each round's :class:`~coded.scheduler.metrics.RoundMetrics` states
which rule ended it (``stopped_by``) and the error estimate of the set decoded from
(``error_estimate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coded import Code
from coded.checks import check_instance, check_int, check_number

__all__ = ["Approximate", "check_policy", "default_policy"]


@dataclass(frozen=True)
class Approximate:
    """Stop an approximate code's round at ``responses`` answers, after ``wait`` seconds, or
    once its error estimate is at most ``tolerance``, whichever comes first (None: that rule
    is off; at least one must be on).

    >>> Approximate(responses=6)
    Approximate(responses=6, wait=None, tolerance=None)
    >>> Approximate()
    Traceback (most recent call last):
    ...
    ValueError: Argument 'policy' must set one of 'responses', 'wait' and 'tolerance', not none.
    """

    responses: int | None = None
    wait: float | None = None
    tolerance: float | None = None

    def __post_init__(self):
        if self.responses is not None:
            check_int(self.responses, "responses", minimum=1)
        if self.wait is not None:
            check_number(self.wait, "wait", minimum=0, above=True, what="a number of seconds")
        if self.tolerance is not None:
            check_number(self.tolerance, "tolerance", minimum=0, above=True)
        if self.responses is None and self.wait is None and self.tolerance is None:
            raise ValueError(
                "Argument 'policy' must set one of 'responses', 'wait' and 'tolerance', not none."
            )

    def stop(self, code: Code, arrived: int, possible: int, elapsed: float, estimate) -> str:
        """Why a round with ``arrived`` answers (of ``possible`` that can still come),
        ``elapsed`` seconds in, stops now; "" to go on waiting. ``estimate()`` is the
        error estimate of the arrived set (asked only with a tolerance)."""
        if arrived == 0:
            return ""
        target = min(self.responses or possible, possible)
        if arrived >= target:
            return f"{arrived} responses"
        if self.wait is not None and elapsed >= self.wait:
            return f"wait {self.wait:g} s"
        if self.tolerance is not None and estimate() <= self.tolerance:
            return f"tolerance {self.tolerance:g}"
        return ""

    def needed(self, arrived: int, possible: int) -> int:
        """Answers to wait for before asking :meth:`stop` again."""
        if self.tolerance is not None or arrived == 0:
            return 1
        return max(min(self.responses or possible, possible) - arrived, 1)

    def deadline(self, start: float) -> float:
        """When the ``wait`` rule fires, from the round's start (inf without one)."""
        return math.inf if self.wait is None else start + self.wait


def default_policy(code: Code) -> Approximate:
    """The policy when none is given: the first n − ⌈n/4⌉ answers (a quarter of the workers
    may straggle, as :func:`~coded.scheduler.runtime.default_code` tolerates).

    >>> from coded import BerrutCode
    >>> default_policy(BerrutCode(8, 3))
    Approximate(responses=6, wait=None, tolerance=None)
    """
    return Approximate(responses=code.n - -(-code.n // 4))


def check_policy(policy, code: Code) -> Approximate | None:
    """The policy a round of ``code`` follows: None for exact codes (their rounds stop at the
    first decodable set), ``policy`` or :func:`default_policy` for approximate ones."""
    if not code.approximate:
        if policy is not None:
            raise ValueError(
                f"Argument 'policy' applies to approximate codes (BerrutCode); {code!r} "
                f"decodes exactly at its first decodable set, so give policy=None."
            )
        return None
    if policy is None:
        return default_policy(code)
    check_instance(policy, "policy", Approximate, "a coded.Approximate or None")
    if policy.responses is not None and policy.responses > code.n:
        raise ValueError(
            f"Argument 'policy' must ask for at most n={code.n} responses, not {policy.responses}."
        )
    return policy
