"""Ignoring stragglers: sum the first k of n partial results and rescale. NOT exact.

Worker i holds data partition i, which contributes ``counts[i]`` rows, and sends its plain
partial sum ``m_i`` (e.g. the gradient summed over its rows). From any set S of at least k
workers the estimate of ``Σ_i m_i`` is

    (Σ_j counts_j / Σ_{i∈S} counts_i) · Σ_{i∈S} m_i,

the rows that arrived scaled up to all rows, where S is the k workers decoding uses. It
equals ``Σ_i m_i`` when k = n, or when every ``m_i`` is ``counts_i`` times one common mean;
otherwise it is an estimate whose error depends on how the partitions differ. This is what
backup-worker schemes do (Chen et al.): they trade exactness for waiting on k of n workers
without any redundancy. The codes of this package are exact; this rule is the baseline they beat.

References:
    J. Chen, X. Pan, R. Monga, S. Bengio, R. Jozefowicz, "Revisiting distributed
    synchronous SGD", ICLR 2016 workshop, arXiv:1604.00981.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._code import Code
from .checks import check_int

__all__ = ["IgnoreStragglers"]


class IgnoreStragglers(Code):
    """The rescaled sum of the first k of n partial results: an estimate, NOT exact.

    Args:
        n: number of workers; worker i holds partition i.
        k: responses to wait for.
        counts: rows each partition contributes (default: one each, i.e. equal partitions).

    ``can_decode`` accepts any k workers, but the "decoded" value is the estimate
    ``(Σ counts / Σ_{i∈S} counts_i) · Σ_{i∈S} m_i`` over k of them (module docstring), exact
    only when k = n or the partitions' results are proportional to their rows. No ``encode``:
    the messages are the workers' plain partial results.

    >>> import numpy as np
    >>> rule = IgnoreStragglers(4, k=3, counts=[10, 10, 10, 10])
    >>> rule.decode({0: np.array([1.0]), 1: np.array([2.0]), 3: np.array([3.0])})
    array([8.])
    """

    _params = ("n", "k", "counts")

    def __init__(self, n: int, k: int, counts: Sequence[int] | None = None):
        super().__init__(n)
        self._k = check_int(k, "k", minimum=1, maximum=self.n, maximum_name="n")
        if counts is None:
            counts = (1,) * self.n
        if isinstance(counts, str | bytes) or not isinstance(counts, Sequence | np.ndarray):
            raise TypeError(f"Argument 'counts' must be a list of row counts, not {counts!r}.")
        if len(counts) != self.n:
            raise ValueError(
                f"Argument 'counts' must have one entry per worker, n={self.n}, not {len(counts)}."
            )
        self._counts = tuple(check_int(c, "counts", minimum=0) for c in counts)
        if not any(self._counts):
            raise ValueError("Argument 'counts' must have a positive total, not 0.")

    @property
    def k(self) -> int:
        return self._k

    @property
    def counts(self) -> tuple[int, ...]:
        """Rows each worker's partition contributes."""
        return self._counts

    @property
    def recovery_threshold(self) -> int:
        return self._k

    @property
    def work_share(self) -> float:
        """1/n: a worker computes one of n partitions (equal sizes up to a row)."""
        return 1 / self.n

    @property
    def storage(self) -> tuple[float]:
        """``(1/n,)``: one of the n data partitions."""
        return (1 / self.n,)

    def _check_encoded(self):
        """Nothing to check: the messages are the workers' plain partial results."""

    def _decode(self, responses):
        covered = sum(self._counts[i] for i in responses)
        summed = self._stack(responses).sum(axis=0)
        if covered == 0:  # only empty partitions answered: nothing to scale up
            return summed
        return summed * (sum(self._counts) / covered)
