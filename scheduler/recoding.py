"""When to re-choose an MDS code's k: persistently slow workers, and whether a switch pays.

Pure decisions from the speed estimates (:mod:`~.speeds`), the same in a real run
(:mod:`~.adapt`) and in the simulator (:func:`coded.scheduler.lab.simulate_recoded`).

*Persistently slow* (:class:`SlowWorkers`): a worker joins once its estimate has been
``threshold`` times below the median worker's for ``rounds`` rounds in a row, and leaves
once it has been at most ``recover`` times below for ``rounds`` rounds in a row
(``recover < threshold``: hysteresis).

*Which k* (:class:`Recoding`): with s of n workers persistently slow, an operator placed
with MDS(n, k) should run MDS(n, k′), the same rate on the n − s others,

    k′ = max(1, round(k · (n − s) / n)),

so that a round waits for k′ answers, which the fast workers give.

*Whether to switch*: with speed estimates ``s_w`` (work per second) and ``W`` the work of
the whole product, a round of MDS(n, k) is predicted to take ``T(k) = (W/k) · t_(k)``,
``t_(k)`` the k-th smallest of the ``1/s_w`` (a worker not yet estimated counts as the
median). A switch to k′ is made when it saves at least its cost over ``horizon`` rounds,

    (T(k) − T(k′)) · horizon ≥ C,

``C`` the seconds a re-placement (re-encoding ``A`` and placing n shares) took last (at
first, the first placement's), or 0 when a placement of MDS(n, k′) is still kept: the
last ``keep`` placements (one per k) stay resident, so switching back to one is free.
Stragglers that come and go (Markov chains) otherwise move k by one or two every few
rounds, each move a re-placement that can cost more than it saves.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from coded.checks import check_int, check_number

__all__ = ["Adapt", "Recoding", "SlowWorkers", "predicted_round"]


@dataclass(frozen=True)
class Adapt:
    """The adaptive policy of an MDS-coded operator (module docstring):
    ``rt.place(A, code=MDSCode(n, k), adapt=Adapt())``.

    >>> Adapt().k_for(22, 32, 12)
    14
    """

    threshold: float = 2.0
    recover: float = 1.5
    rounds: int = 3
    keep: int = 3
    horizon: int = 10

    def __post_init__(self):
        check_number(self.threshold, "threshold", minimum=1, above=True)
        check_number(self.recover, "recover", minimum=1, maximum=self.threshold, below=True)
        check_int(self.rounds, "rounds", minimum=1)
        check_int(self.keep, "keep", minimum=1)
        check_int(self.horizon, "horizon", minimum=1)

    def k_for(self, k: int, n: int, slow: int) -> int:
        """The k′ of an operator placed with MDS(n, k) while ``slow`` workers are slow."""
        return max(1, round(k * (n - slow) / n))


def predicted_round(speeds: np.ndarray, work: float, k: int) -> float:
    """``T(k) = (W/k) · t_(k)``: a round of MDS(n, k) on workers of these ``speeds`` (NaN:
    not estimated, counted as the median), ``W = work``.

    >>> predicted_round(np.array([1.0, 1.0, 0.5, np.nan]), work=4.0, k=3)   # (4/3) · 1/1
    1.3333333333333333
    """
    speeds = np.asarray(speeds, dtype=float)
    if not np.isfinite(speeds).any():
        return np.nan
    speeds = np.where(np.isnan(speeds), np.nanmedian(speeds), speeds)
    with np.errstate(divide="ignore"):
        return float(work / k * np.sort(1 / speeds)[k - 1])


class SlowWorkers:
    """The persistently slow workers under a policy (:class:`Adapt`), from one speed
    estimate per round, with hysteresis.

    >>> slow = SlowWorkers(Adapt(rounds=2), n=4)
    >>> [sorted(slow.update(np.array([1.0, 1.0, 1.0, 0.2]))) for _ in range(3)]
    [[], [3], [3]]
    >>> [sorted(slow.update(np.array([1.0, 1.0, 1.0, 0.9]))) for _ in range(2)]
    [[3], []]
    """

    def __init__(self, policy: Adapt, n: int):
        self.policy = policy
        self.n = check_int(n, "n", minimum=1)
        self.slow: set[int] = set()
        self._streak = np.zeros(self.n, dtype=int)  # rounds in a row against the current state

    def ratios(self, speeds: np.ndarray) -> np.ndarray:
        """How many times slower than the median worker each is (NaN if not estimated)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nanmedian(speeds) / speeds if np.isfinite(speeds).any() else speeds

    def update(self, speeds: np.ndarray) -> set[int]:
        """Count one round's estimates; the persistently slow workers after it."""
        ratio = self.ratios(np.asarray(speeds, dtype=float))
        slow = np.isin(np.arange(self.n), list(self.slow))
        against = np.where(slow, ratio <= self.policy.recover, ratio >= self.policy.threshold)
        self._streak = np.where(against, self._streak + 1, 0)
        flip = self._streak >= self.policy.rounds
        self.slow ^= {int(w) for w in np.flatnonzero(flip)}
        self._streak[flip] = 0
        return set(self.slow)


class Recoding:
    """The k an operator placed with MDS(n, ``k``) runs, under ``policy``: the slow set
    after each round (:meth:`observe`), the switch worth making (:meth:`choose`), and the
    placements kept (:meth:`switched`). ``cost``: what a re-placement is believed to
    take, in the seconds of ``work / speeds``.

    >>> recoding = Recoding(Adapt(rounds=1), n=4, k=3, cost=0.1)
    >>> slow = np.array([1.0, 1.0, 0.1, 0.1])
    >>> sorted(recoding.observe(slow)), recoding.choose(slow, work=1.0)  # T(3)=10/3, T(2)=1/2
    ([2, 3], 2)
    >>> fast = np.ones(4)
    >>> recoding.switched(2, cost=0.2), recoding.observe(fast), recoding.choose(fast, work=1.0)
    ([], set(), 3)
    """

    def __init__(self, policy: Adapt, n: int, k: int, cost: float):
        self.policy, self.n, self.placed = policy, n, k
        self.k, self.cost = k, cost
        self.slow = SlowWorkers(policy, n)
        self.kept: OrderedDict[int, None] = OrderedDict({k: None})  # the most recent last

    def observe(self, speeds: np.ndarray) -> set[int]:
        """Count one round's estimates; the persistently slow workers after it."""
        return self.slow.update(speeds)

    def choose(self, speeds: np.ndarray, work: float) -> int | None:
        """The k to switch to now, or None (stay): the policy's k′ for the slow workers, if
        the switch pays for itself (module docstring)."""
        k = self.policy.k_for(self.placed, self.n, len(self.slow.slow))
        if k == self.k:
            return None
        cost = 0.0 if k in self.kept else self.cost
        saving = predicted_round(speeds, work, self.k) - predicted_round(speeds, work, k)
        return k if saving * self.policy.horizon >= cost else None

    def switched(self, k: int, cost: float | None = None) -> list[int]:
        """Record a switch to ``k`` (a re-placement that took ``cost``, or None for a kept
        one); the k whose placements are no longer kept."""
        self.k = k
        if cost is not None:
            self.cost = cost
        self.kept.pop(k, None)
        self.kept[k] = None
        released = []
        while len(self.kept) > self.policy.keep:
            released.append(self.kept.popitem(last=False)[0])
        return released
