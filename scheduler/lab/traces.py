"""Traces: a run's per-round, per-worker times, recorded so that
:class:`~coded.workers.delays.TraceReplay` can replay them in the simulator or on real workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from coded.workers.delays import write_trace

from ..metrics import RoundMetrics

__all__ = ["worker_times", "record_trace"]


def worker_times(metrics: Iterable[RoundMetrics]) -> np.ndarray:
    """Per-round, per-worker times of a run, shape ``(rounds, n)``: the trace format of
    :func:`coded.workers.delays.read_trace`.

    Worker i's time in a round is ``finished[i]``, seconds from the start of dispatch to the
    end of its task on its own clock; ``inf`` for a worker that failed. A cancelled
    straggler's time is only known to exceed the moment it was cancelled
    (``dispatch_s + wait_s``), which is what it gets: record with a strategy that waits for
    every worker (uncoded) for a complete trace.

    >>> m = RoundMetrics(job=0, round=0, strategy="MDS", n=3, needed=2, cancelled=(2,),
    ...                  failures={1: "crash"}, finished={0: 0.1}, dispatch_s=0.01, wait_s=0.2)
    >>> worker_times([m]).tolist()
    [[0.1, inf, 0.21000000000000002]]
    """
    rows = []
    for m in metrics:
        censored = m.dispatch_s + m.wait_s
        row = np.full(m.n, censored)
        row[list(m.failures)] = np.inf
        for worker, finished in m.finished.items():
            row[worker] = finished
        rows.append(row)
    if len({row.size for row in rows}) > 1:
        raise ValueError("Argument 'metrics' must hold rounds of one worker count n.")
    return np.array(rows)


def record_trace(path: str | Path, metrics: Iterable[RoundMetrics]) -> Path:
    """Write a run's :func:`worker_times` as a CSV trace that
    :class:`~coded.workers.delays.TraceReplay` replays (``op.history``, or one strategy of
    :func:`~coded.scheduler.lab.compare.compare`); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_trace(path, worker_times(metrics))
    return path
