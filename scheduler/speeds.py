"""How fast each worker is: per-worker speed estimates, and when a worker counts as slow.

A worker's *speed* is the work it does per second: multiply-adds per second for a kernel
that declares its cost (:meth:`~coded.workers.kernels.Product.cost`), rounds per second
(one unit a round) for one that does not. From a round the master learns, for a worker
whose answer arrived, its time ``t_w`` on its own clock (from starting the round to
finishing it, injected delays included), so it saw the rate ``ŝ_w = work_w / t_w``. For a
worker cancelled or lost it learns only that it had not finished by the end ``L`` of the
round: its time is censored, ``t_w > L``, which bounds its rate by ``work_w / L``. The
estimate is an exponentially weighted moving average,

    s_w ← (1 − α) s_w + α ŝ_w        (censored: ŝ_w = min(s_w, work_w / L)),

started at a worker's first observation (NaN before it); a round that says nothing of a
worker leaves it. A censored bound only ever lowers an estimate, so a persistent
straggler that is always cancelled is estimated no faster than the rounds it misses
allow, and one that recovers is seen at its true rate the first time it answers. The
simulator's adaptive policies use the same update (:mod:`coded.scheduler.lab.adaptive`).

The estimate is the runtime's, over the rounds of all its jobs: in multiply-adds per
second when every kernel declares its cost. Jobs that do not mix in their own unit, which
leaves the ratios between workers (what :class:`~.recoding.SlowWorkers` reads) as they
were, every worker seeing the same rounds, but not the absolute values.

:mod:`~.recoding` turns the estimates into decisions (the persistently slow workers, the
k of an MDS code), which :mod:`~.adapt` carries out.

References:
    A. Severinson, E. Rosnes, S. El Rouayheb, A. Graell i Amat, "DSAG: a mixed
    synchronous-asynchronous iterative method for straggler-resilient learning",
    IEEE T-Comm 2023, arXiv:2111.06852 (stragglers persist; track them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from coded.checks import check_int, check_number
from coded.workers.emulation import Emulation

from .metrics import RoundMetrics

__all__ = ["SpeedEstimate", "ewma_speeds", "job_work", "round_rates"]


def ewma_speeds(
    speeds: np.ndarray, observed: np.ndarray, censored: np.ndarray, smoothing: float
) -> np.ndarray:
    """One EWMA step of the speed estimates ``speeds`` (NaN: none yet), from the rates a
    round ``observed`` (NaN: none) and, for the workers it did not observe, the upper
    bounds ``censored`` on their rates (NaN: none).

    >>> ewma_speeds(np.array([1.0, 1.0, np.nan, 2.0]), np.array([2.0, np.nan, 3.0, np.nan]),
    ...             np.array([np.nan, 0.5, np.nan, np.nan]), 0.5).tolist()
    [1.5, 0.75, 3.0, 2.0]
    """
    speeds = np.asarray(speeds, dtype=float)
    bounded = np.where(np.isnan(speeds), censored, np.fmin(speeds, censored))
    seen = np.where(np.isnan(observed), bounded, observed)
    seen = np.where(np.isnan(seen), speeds, seen)  # nothing learnt: unchanged
    return np.where(np.isnan(speeds), seen, (1 - smoothing) * speeds + smoothing * seen)


def round_rates(metrics: RoundMetrics, work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rates a round observed, ``work_w / t_w`` for the workers that answered, and the
    bounds ``work_w / L`` of those cancelled or failed, as arrays of ``metrics.n`` (NaN
    where the round says nothing: excluded workers, or answers that took no time).

    ``L`` runs from the median start of the workers that answered (a cancelled worker's own
    start is unknown) to the cancellation: ``dispatch_s + wait_s + fetch_s`` after the
    round started.
    """
    observed, censored = np.full(metrics.n, np.nan), np.full(metrics.n, np.nan)
    for worker, finished in metrics.finished.items():
        seconds = finished - metrics.started[worker]
        if seconds > 0:
            observed[worker] = work[worker] / seconds
    lost = set(metrics.cancelled) | set(metrics.failures)
    lost -= set(metrics.finished)
    if lost and metrics.started:
        end = metrics.dispatch_s + metrics.wait_s + metrics.fetch_s
        seconds = end - float(np.median(list(metrics.started.values())))
        if seconds > 0:
            for worker in lost:
                censored[worker] = work[worker] / seconds
    return observed, censored


def job_work(kernel: Callable, shards: Sequence[tuple], n: int) -> Callable[[tuple], np.ndarray]:
    """``work(args)``: each worker's work in a round of a job with these ``shards``, from the
    kernel's declared cost (its shapes alone; computed once per shape of ``args``), else
    one unit per worker (also for arguments the cost cannot read: the round reports them).

    >>> from coded.workers.kernels import Product
    >>> work = job_work(Product(), [(np.ones((4, 3)),), (np.ones((2, 3)),)], 2)
    >>> work((np.ones(3),)).tolist()
    [12.0, 6.0]
    """
    if not callable(getattr(kernel, "cost", None)) or len(shards) != n:
        return lambda args: np.ones(n)
    shapes = [Emulation.placeholders(shard) for shard in shards]
    known: dict[tuple, np.ndarray] = {}

    def work(args: tuple) -> np.ndarray:
        if not isinstance(args, tuple):  # per-worker arguments: one unit each
            return np.ones(n)
        key = tuple((np.shape(arg), str(getattr(arg, "dtype", type(arg)))) for arg in args)
        if key not in known:
            try:
                known[key] = np.array([float(kernel.cost(s, args).work) for s in shapes])
            except (TypeError, ValueError):
                known[key] = np.ones(n)
        return known[key]

    return work


class SpeedEstimate:
    """The runtime's speed estimate of each of ``n`` workers (module docstring): ``speeds``,
    work per second, NaN for a worker never observed.

    >>> from coded.scheduler.metrics import RoundMetrics
    >>> metrics = RoundMetrics(0, 0, "MDS", n=2, needed=1, cancelled=(1,), wait_s=0.5)
    >>> metrics.started, metrics.finished = {0: 0.0}, {0: 0.25}
    >>> SpeedEstimate(2).observe(metrics, np.array([1.0, 1.0])).tolist()   # 1/0.25, ≤ 1/0.5
    [4.0, 2.0]
    """

    def __init__(self, n: int, smoothing: float = 0.5):
        self.n = check_int(n, "n", minimum=1)
        self.smoothing = check_number(smoothing, "smoothing", minimum=0, above=True, maximum=1)
        self.speeds = np.full(self.n, np.nan)

    def observe(self, metrics: RoundMetrics, work: np.ndarray) -> np.ndarray:
        """Update from one round's metrics, each worker having been given ``work``; the
        estimates after it (a copy)."""
        observed, censored = round_rates(metrics, work)
        self.speeds = ewma_speeds(self.speeds, observed, censored, self.smoothing)
        return self.speeds.copy()

    def __repr__(self):
        return f"SpeedEstimate(n={self.n}, smoothing={self.smoothing:g})"
