"""One partial-work round: the master decodes from the chunks the workers have finished so far.

For a code with :attr:`~coded.Code.pieces` (:class:`~coded.ChunkedMDSCode`), a worker's
answer comes in ``c`` chunks and every finished chunk counts, the stragglers' too:

    dispatch   every worker i streams its round (``pool.stream``, a Ray streaming
               generator): chunk j of ``share_i @ x`` as soon as it is done, which is
               piece ``i·c + j`` of ``code.pieces``; then the worker's outcome
    screen     the pieces decoding would use: one that is not a result (NaN, the wrong
               shape, ...) is an erasure and its worker faulty; others take its place, or
               the round waits for more
    decode     once the pieces decode (any K of them for ChunkedMDSCode): cancel the
               stragglers and decode. A real decode the conditioning guard would refuse
               waits for one more piece instead, while any can still come
    fail       at once when the pieces that arrived and those still to come cannot decode (a
               failure erases a worker's unfinished chunks, never its finished ones); a
               worker whose process restarted is sent the round again, once; the deadline
               bounds everything else

A ``ray.wait`` on streams returns at most one item per stream, and costs about a
millisecond for 32 streams on a busy 2-core machine: waking on every piece would cost a
round K of them. So the master waits for as many streams as pieces are missing (and
wakes the moment they suffice), and otherwise looks again every half of the shortest
time a worker has taken for a piece, so that no stream holds two unread pieces: a few
tens of wakes a round (``benchmarks/chunk_reports.py`` measures the reporting itself).

Byzantine correction and approximate policies do not apply here (the runtime refuses
them with a partial-work code).
"""

from __future__ import annotations

import time
from collections import Counter

from coded import Code
from coded.conditioning import error_bound, response_dtype
from coded.workers.worker import Done, Failed, Piece, Tag

from .errors import RoundFailedError, RoundTimeoutError, WorkerError
from .metrics import RoundMetrics
from .pool import Pool, Task

__all__ = ["PartialRound", "POLL"]

POLL = 0.002  # seconds: the shortest wait between looks while pieces stream in


class PartialRound:
    """One partial-work round in flight; the interface of :class:`~.round.Round` that
    :func:`~.round.run_rounds` uses (``absorb`` takes a stream's news).

    >>> import numpy as np
    >>> from coded import ChunkedMDSCode
    >>> from coded.scheduler.pool import InProcessPool
    >>> from coded.workers.kernels import Product
    >>> code, A, x = ChunkedMDSCode(4, 2, chunks=3), np.arange(24.0).reshape(12, 2), np.ones(2)
    >>> with InProcessPool(4) as pool:
    ...     pool.place(0, [(s,) for s in code.encode(A)], Product(pieces=3))
    ...     round = PartialRound(pool, code, job=0, number=0, args=(x,), deadline=10)
    ...     while not round.decodable:
    ...         ready = pool.wait(round.pending, 1, timeout=10)
    ...         for task, items in zip(ready, pool.news(ready)):
    ...             round.absorb(task, items)
    ...     y, metrics = round.finish()
    >>> np.allclose(y, A @ x), sum(metrics.chunks.values())
    (True, 6)
    """

    def __init__(
        self,
        pool: Pool,
        code: Code,
        job: int,
        number: int,
        args: tuple,
        deadline: float,
        exclude=(),
    ):
        self.pool, self.code, self.number, self.deadline = pool, code, number, deadline
        self.pieces = code.pieces
        self.chunks = self.pieces.n // code.n
        self.metrics = RoundMetrics(job, number, repr(code), code.n, self.pieces.recovery_threshold)
        self.metrics.excluded = tuple(sorted(exclude))
        self.start, self._start_wall = time.perf_counter(), time.time()
        self.end = self.start + deadline
        self.args = args
        workers = [i for i in range(code.n) if i not in self.metrics.excluded]
        self.pending = [pool.stream(i, Tag(job, number, i), args) for i in workers]
        self.metrics.dispatch_s = time.perf_counter() - self.start
        self.values: dict[int, object] = {}  # piece -> its screened value
        self.reported: dict[int, int] = {}  # worker -> pieces it reported
        self._finished: dict[int, float] = {}  # piece -> when it was done (worker's clock)
        self._last: dict[int, float] = {}  # worker -> when its latest piece was done
        self._gap = float("inf")  # the shortest time a worker took for a piece
        self._more = 0  # pieces beyond a decodable set that the conditioning guard asked for
        self._hopeful = False  # the pieces at hand and to come decode, as of the last erasure
        self._errors: list[WorkerError] = []

    @property
    def wake(self) -> float:
        """When to look again without news: half the shortest time a worker took for a
        piece after the round's first piece (so no stream holds two unread pieces), at
        least :data:`POLL`; the deadline before any piece."""
        if not self._finished:
            return self.end
        return min(self.end, time.perf_counter() + max(self._gap / 2, POLL))

    @property
    def needed(self) -> int:
        """The streams whose news could make the round decodable: 1 before any piece (to
        learn the workers' pace), then as many as pieces are missing, at most those running."""
        if not self._finished:
            return 1
        missing = self.pieces.recovery_threshold + self._more - len(self.values)
        return max(1, min(missing, len(self.pending)))

    @property
    def decodable(self) -> bool:
        if len(self.values) < self.pieces.recovery_threshold + self._more:
            return False  # no set smaller than the threshold decodes: spare the check
        return self.pieces.decoding_margin(self.values) >= self._more

    def absorb(self, task: Task, items: list[tuple]) -> None:
        """Record what a stream reported: pieces, then (once) its outcome."""
        for record, value in items:
            if isinstance(record, Piece):
                self._piece(task.worker, record, value)
                continue
            self.pending.remove(task)  # the stream is over
            self._hopeful = False
            if isinstance(record, Done):
                self.metrics.started[task.worker] = record.started_at - self._start_wall
                self.metrics.finished[task.worker] = record.finished_at - self._start_wall
                self.metrics.compute[task.worker] = record.compute_s
            elif not self._resend(task, record):
                failed = isinstance(record, Failed)
                self.metrics.failures[task.worker] = record.reason if failed else "cancelled"
                if failed and record.traceback:
                    self._errors.append(
                        WorkerError(task.worker, record.error, record.message, record.traceback)
                    )

    def _piece(self, worker: int, record: Piece, value) -> None:
        piece = worker * self.chunks + record.number
        self.values[piece] = value
        self._finished[piece] = done = record.finished_at - self._start_wall
        self._gap = min(self._gap, done - self._last.get(worker, 0.0))
        self._last[worker] = done
        self.reported[worker] = max(self.reported.get(worker, 0), record.number + 1)
        self.metrics.seen[worker] = time.perf_counter() - self.start

    def _screened(self) -> tuple[int, ...] | None:
        """The pieces decoding will use, screened (:meth:`coded.Code.screen`: one that is
        not a result is an erasure and its worker faulty; others are chosen instead); None
        when those left do not decode."""
        while True:
            used = self.pieces.select(self.values)
            arrays, bad = self.pieces.screen({t: self.values[t] for t in used})
            self.values.update(arrays)
            if not bad:
                return used
            for piece, reason in bad.items():
                worker, number = divmod(piece, self.chunks)
                del self.values[piece], self._finished[piece]
                self.metrics.failures[worker] = f"chunk {number}: {reason}"
                self.metrics.faulty[worker] = self.metrics.failures[worker]
            self._hopeful = False
            if not self.decodable:
                return None

    def _resend(self, task: Task, outcome) -> bool:
        """Stream the round again to a worker whose process restarted, once."""
        worker, retried = task.worker, self.metrics.retried
        if not isinstance(outcome, Failed) or worker in retried or not self.pool.restarted(task):
            return False
        retried[worker] = outcome.reason
        self.pending.append(self.pool.stream(worker, task.tag, self.args))
        return True

    def check(self) -> int:
        """Raise (cancelling what is left) once the pieces that arrived and those still to
        come cannot decode, or past the deadline; else the streams running (a failure needs
        no wake of its own: the round looks again within :attr:`wake`). A piece arriving
        leaves that union as it was: it is looked at again after an erasure."""
        if not self._hopeful:
            self._hope()
        if time.perf_counter() >= self.end:
            self.pool.cancel(self.pending)
            pending = [t.worker for t in self.pending]
            raise RoundTimeoutError(self.reported, pending, self.deadline, self.number)
        return max(1, len(self.pending))

    def _hope(self) -> None:
        """Raise, cancelling what is left, if the pieces at hand and to come cannot decode."""
        c = self.chunks
        coming = {
            t.worker * c + j for t in self.pending for j in range(self.reported.get(t.worker, 0), c)
        }
        if self.pieces.decoding_margin([*self.values, *coming]) < self._more:
            self.pool.cancel(self.pending)
            cause = self._errors[0] if self._errors else None
            needed = self.pieces.recovery_threshold
            raise RoundFailedError(
                self.metrics.failures, needed, self.code.n, self.number
            ) from cause
        self._hopeful = True

    def finish(self):
        """Cancel the stragglers and decode: ``(result, metrics)``; None when the guard
        refuses the pieces at hand and more can come (the round then waits for one more)."""
        metrics, pieces = self.metrics, self.pieces
        waited = time.perf_counter()
        used = self._screened()
        if used is None:
            return None
        if not pieces.field.exact and self.pending:
            dtype = response_dtype(self.values[t] for t in used)
            if error_bound(pieces.condition_number(used), dtype) > pieces.accuracy:
                self._more, self._hopeful = self._more + 1, False
                return None
        metrics.wait_s = waited - self.start - metrics.dispatch_s
        cancelling = time.perf_counter()
        self.pool.cancel(self.pending)
        metrics.cancelled = tuple(sorted(t.worker for t in self.pending))
        decoding = time.perf_counter()
        metrics.cancel_s = decoding - cancelling
        result = pieces.decode({t: self.values[t] for t in used}, screened=True)
        metrics.decode_s = time.perf_counter() - decoding
        metrics.total_s = time.perf_counter() - self.start
        c = self.chunks
        metrics.used = tuple(sorted({t // c for t in used}))
        metrics.arrived = tuple(sorted(self.reported))
        metrics.chunks = dict(sorted(Counter(t // c for t in used).items()))
        metrics.chunks_seen = dict(sorted(self.reported.items()))
        order = sorted(self._finished, key=self._finished.get)  # worker-side finish order
        first = pieces.first_decodable(order)
        decodable_at = self._finished[order[first - 1]] if first else float("nan")
        metrics.oracle_s = decodable_at + metrics.decode_s
        return result, metrics
