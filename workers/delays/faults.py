"""Faults: workers that crash (factor = inf) and are replaced by the runtime."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coded.checks import check_int

from .base import DelayModel, check_workers, chosen, set_field

__all__ = ["FailStop"]


@dataclass(frozen=True, eq=False, repr=False)
class FailStop(DelayModel):
    """``workers`` (``None``: every worker) crash (factor = inf) in round ``round`` and stay
    down for ``duration`` rounds (``None``: for good). The runtime replaces a crashed worker,
    so ``duration=1`` is one lost response; a longer duration models a node whose
    replacements fail too.

    >>> FailStop([1], round=2).sample(1, n=2, rounds=4, rng=np.random.default_rng(0)).factor
    array([ 1.,  1., inf,  1.])
    """

    workers: tuple[int, ...] | None
    round: int
    duration: int | None = 1

    def __post_init__(self):
        set_field(self, "workers", check_workers(self.workers))
        set_field(self, "round", check_int(self.round, "round", minimum=0))
        if self.duration is not None:
            set_field(self, "duration", check_int(self.duration, "duration", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        factor = np.ones(rounds)
        if chosen(self.workers, worker):
            end = None if self.duration is None else self.round + self.duration
            factor[self.round : end] = np.inf
        return factor, 0.0
