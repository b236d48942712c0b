"""One coded round, the master's hot path: dispatch → wait for decodable → cancel → fetch → decode.

    dispatch   every worker i starts ``kernel(i, shard_i, args)``, e.g. ``shard_i @ x``
               (tag: job, round, i)
    wait       ready outcomes arrive (``ray.wait(..., fetch_local=False)``) until
               ``code.can_decode(arrived)``; a failure (dead actor, worker exception,
               cancelled task) is an erasure
    cancel     the stragglers, at once, so their queues never build up a backlog
    fetch      only the values ``code.select(arrived)`` names
    decode     ``code.decode({i: value_i})``

The stragglers are cancelled before the fetch and decode so they stop as early as possible.
Results whose tag is not this round's are discarded (counted as stale). When the failures
leave no decodable set among the workers still computing, :class:`RoundFailedError` is
raised at once, naming each failed worker and why; the deadline bounds everything else.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import time

from coded import Code
from coded.workers.worker import Done, Failed, Tag

from .errors import RoundFailedError, RoundTimeoutError, WorkerError
from .metrics import RoundMetrics
from .pool import Pool, Task

__all__ = ["run_round"]


def run_round(pool: Pool, code: Code, job: int, round: int, args: tuple, *, deadline: float):
    """Run round ``round`` of ``job`` on every worker of ``pool``; return ``(result, metrics)``.

    Args:
        pool: the workers; ``job``'s shards must be placed (``pool.place``).
        code: the code the shards were encoded with (``code.n == pool.n``).
        job: the job's id.
        round: the round number (selects each worker's injected delay).
        args: the round's operands, the same for every worker (e.g. ``(pool.share(x),)``).
        deadline: seconds the round may take in all.

    >>> import numpy as np
    >>> from coded import MDSCode
    >>> from coded.scheduler.pool import InProcessPool
    >>> from coded.workers.kernels import Product
    >>> code, A, x = MDSCode(4, 2), np.arange(8.0).reshape(4, 2), np.ones(2)
    >>> with InProcessPool(4) as pool:
    ...     pool.place(0, [(s,) for s in code.encode(A)], Product())
    ...     y, metrics = run_round(pool, code, job=0, round=0, args=(x,), deadline=10)
    >>> np.allclose(y, A @ x), len(metrics.used)
    (True, 2)
    """
    metrics = RoundMetrics(job, round, repr(code), code.n, code.recovery_threshold)
    start, start_wall = time.perf_counter(), time.time()
    end = start + deadline
    pending = [pool.submit(i, Tag(job, round, i), args) for i in range(code.n)]
    metrics.dispatch_s = time.perf_counter() - start

    arrived: dict[int, Task] = {}
    outcomes: dict[int, Done] = {}
    errors: list[WorkerError] = []
    while not code.can_decode(arrived):
        if not code.can_decode(list(arrived) + [t.worker for t in pending]):
            pool.cancel(pending)
            cause = errors[0] if errors else None
            raise RoundFailedError(
                metrics.failures, code.recovery_threshold, code.n, round
            ) from cause
        left = end - time.perf_counter()
        if left <= 0:
            pool.cancel(pending)
            raise RoundTimeoutError(arrived, [t.worker for t in pending], deadline, round)
        ready = pool.wait(pending, max(1, code.recovery_threshold - len(arrived)), left)
        seen = time.perf_counter() - start
        for task, outcome in zip(ready, pool.outcomes(ready), strict=True):
            pending.remove(task)
            if outcome.tag != task.tag:
                metrics.stale += 1
            elif isinstance(outcome, Done):
                arrived[task.worker], outcomes[task.worker] = task, outcome
                metrics.latency[task.worker] = seen
            else:
                reason = outcome.reason if isinstance(outcome, Failed) else "cancelled"
                metrics.failures[task.worker] = reason
                if isinstance(outcome, Failed) and outcome.traceback:
                    errors.append(
                        WorkerError(task.worker, outcome.error, outcome.message, outcome.traceback)
                    )
    waited = time.perf_counter()
    metrics.wait_s = waited - start - metrics.dispatch_s

    pool.cancel(pending)
    metrics.cancelled = tuple(sorted(t.worker for t in pending))
    fetching = time.perf_counter()
    metrics.cancel_s = fetching - waited

    used = code.select(arrived)
    values = pool.fetch([arrived[i] for i in used], timeout=max(end - fetching, 0.5))
    decoding = time.perf_counter()
    metrics.fetch_s = decoding - fetching
    result = code.decode(dict(zip(used, values, strict=True)))
    metrics.decode_s = time.perf_counter() - decoding
    metrics.total_s = time.perf_counter() - start

    metrics.used, metrics.arrived = used, tuple(sorted(arrived))
    for i, outcome in outcomes.items():
        metrics.started[i] = outcome.started_at - start_wall
        metrics.finished[i] = outcome.finished_at - start_wall
        metrics.compute[i] = outcome.compute_s
    order = sorted(metrics.finished, key=metrics.finished.get)  # worker-side finish order
    first = code.first_decodable(order)
    decodable_at = metrics.finished[order[first - 1]] if first else float("nan")
    metrics.oracle_s = decodable_at + metrics.decode_s
    return result, metrics
