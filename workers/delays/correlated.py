"""Correlated models: stragglers that persist across rounds (DSAG measured them on clouds)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from coded.checks import check_int, check_number

from .base import DelayModel, check_workers, set_field

__all__ = ["PersistentSlow", "MarkovStragglers"]


@dataclass(frozen=True, eq=False, repr=False)
class PersistentSlow(DelayModel):
    """Workers slow by ``factor`` in every round: the persistent stragglers measured on
    clouds (DSAG). ``workers`` is either a list of indices or a count: that many of the n
    workers, chosen at random once from ``seed`` (a choice every worker agrees on, as it
    depends only on ``(workers, seed, n)``).

    >>> model = PersistentSlow(2, factor=10)
    >>> model.slow_workers(8)
    (2, 4)
    >>> model.sample(4, n=8, rounds=3, rng=np.random.default_rng(0)).factor.tolist()
    [10.0, 10.0, 10.0]
    >>> PersistentSlow([0, 5], factor=3).slow_workers(8)
    (0, 5)
    """

    workers: int | tuple[int, ...]
    factor: float
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.workers, numbers.Integral) and not isinstance(self.workers, bool):
            set_field(self, "workers", check_int(self.workers, "workers", minimum=0))
        else:
            set_field(self, "workers", check_workers(self.workers))
        set_field(self, "factor", check_number(self.factor, "factor", minimum=1))
        set_field(self, "seed", check_int(self.seed, "seed", minimum=0))

    def slow_workers(self, n: int) -> tuple[int, ...]:
        """The indices of the slow workers among ``n``."""
        n = check_int(n, "n", minimum=1)
        self._check_n(n)
        if isinstance(self.workers, tuple):
            return self.workers
        chosen = np.random.default_rng(self.seed).permutation(n)[: self.workers]
        return tuple(sorted(int(w) for w in chosen))

    def _check_n(self, n):
        if isinstance(self.workers, tuple):
            super()._check_n(n)
        elif self.workers > n:
            raise ValueError(
                f"Argument 'workers' of PersistentSlow must be at most n={n}, not {self.workers}."
            )

    def _sample(self, worker, n, rounds, rng):
        return self.factor if worker in self.slow_workers(n) else 1.0, 0.0


@dataclass(frozen=True, eq=False, repr=False)
class MarkovStragglers(DelayModel):
    """Stragglers correlated across rounds: a two-state Markov chain per worker.

    A fast worker turns slow with probability ``p_slow`` per round, a slow one recovers with
    probability ``p_recover``; a slow worker's factor is ``factor``. The chain starts in its
    stationary law, so a worker is slow in a fraction ``p_slow / (p_slow + p_recover)`` of
    the rounds, in spells of mean length ``1 / p_recover``. Spell lengths are geometric and
    drawn by inverse CDF, so sampling is vectorised over rounds.

    >>> f = MarkovStragglers(0.01, 0.1, 5).sample(0, 1, 200_000, np.random.default_rng(0)).factor
    >>> round(float((f > 1).mean()), 2)
    0.09
    """

    p_slow: float
    p_recover: float
    factor: float

    def __post_init__(self):
        set_field(
            self, "p_slow", check_number(self.p_slow, "p_slow", minimum=0, above=True, maximum=1)
        )
        set_field(
            self,
            "p_recover",
            check_number(self.p_recover, "p_recover", minimum=0, above=True, maximum=1),
        )
        set_field(self, "factor", check_number(self.factor, "factor", minimum=1))

    @property
    def slow_fraction(self) -> float:
        """Stationary probability that a worker is slow."""
        return self.p_slow / (self.p_slow + self.p_recover)

    def _sample(self, worker, n, rounds, rng):
        if rounds == 0:
            return 1.0, 0.0
        starts_slow = rng.random() < self.slow_fraction
        u = rng.random((rounds, 2))  # one spell per state per row: at least 2·rounds rounds
        rates = [self.p_slow, self.p_recover]
        leave = np.array(rates[::-1] if starts_slow else rates)
        spells = np.floor(np.log1p(-u) / np.log1p(-leave)) + 1  # geometric(leave) ≥ 1
        spells = np.minimum(spells, rounds).astype(np.int64).ravel()
        used = int(np.searchsorted(np.cumsum(spells), rounds)) + 1
        slow = np.arange(used) % 2 == (0 if starts_slow else 1)
        states = np.repeat(slow, spells[:used])[:rounds]
        return np.where(states, self.factor, 1.0), 0.0
