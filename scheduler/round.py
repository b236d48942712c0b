"""One coded round, the master's hot path: dispatch → wait for decodable → fetch → screen →
cancel → decode.

    dispatch   every worker i starts ``kernel(i, shard_i, args)``, e.g. ``shard_i @ x``
               (tag: job, round, i); blocklisted workers (``exclude``) are not sent it
    wait       ready outcomes arrive (``ray.wait(..., fetch_local=False)``) until
               ``code.can_decode(arrived)`` (and, with ``byzantine=A``, at least
               ``recovery_threshold + 2A`` arrived); a failure (dead actor, worker
               exception, cancelled task) is an erasure, except that a worker whose
               process restarted is sent the round again, once, with its shards
    fetch      only the values ``code.select(arrived)`` names (all arrived, with A > 0)
    screen     ``code.screen`` each fetched value: one that is not a result (NaN or Inf,
               complex, outside GF(p), the wrong shape) is an erasure, recorded as a
               failure and as faulty; if the rest still decode, select again and fetch
               what is missing, else go back to waiting (with A > 0 each such answer was
               one of the A wrong ones, now a known erasure: the quorum drops by two)
    cancel     the stragglers, so their queues never build up a backlog
    decode     ``code.decode({i: value_i}, screened=True)``, or with A > 0
               ``code.correct(values, byzantine=A)`` (before the cancel), whose located
               workers are faulty; when the answers disagree beyond A wrong ones and two
               more answers can still arrive, the round assumes A + 1 and waits for them
               (else :class:`~coded.UncorrectableError`)

An approximate code (:class:`~coded.BerrutCode`) decodes from any answers, so its round
stops when its policy says (:mod:`~.policy`: r answers, a wait, or an error estimate), not at
the first decodable set; ``verify=v`` makes an exact code's round wait for v answers beyond
its quorum and check them (:meth:`coded.Code.correct` with nothing to correct), so answers
that agree with no allowed result are refused rather than decoded.

The stragglers are cancelled once the fetched values passed the screen (a bad one may
need them), before decoding, so they stop as early as possible.

Waiting for ``recovery_threshold + 2A`` responses is what error correction needs to both
locate and decode; a cheaper check (decode from ``recovery_threshold + 1`` and stop when
they agree) would save waiting only while no worker lies, and then cost a second wait
once one does: the plain rule keeps every round's latency the same whoever lies.
:func:`run_rounds` keeps up to ``window`` rounds in flight (each worker runs its rounds in
order) and finishes them in order, each as soon as it is decodable: round r's stragglers
are cancelled once every round before it has finished, so cancelling never touches a round
still in flight.
Results whose tag is not this round's are discarded (counted as stale). When the failures
leave no decodable set among the workers still computing, :class:`RoundFailedError` is
raised at once, naming each failed worker and why; the deadline bounds everything else.

The master asks the pool for several completions at a time, so that it wakes rarely:
as many as could make the first round decodable, but no more than the fewest failures
that could leave a round in flight undecodable (:meth:`coded.Code.decoding_margin`). A
round that can no longer decode is therefore seen as soon as the failure that decides it
arrives, however slow the workers still computing are.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from coded import Code, UncorrectableError
from coded.workers.worker import Done, Failed, Tag

from .errors import RoundFailedError, RoundTimeoutError, WorkerError
from .metrics import RoundMetrics
from .partial import PartialRound
from .policy import Approximate
from .pool import Pool, Task

__all__ = ["Round", "PerWorker", "run_round", "run_rounds"]


@dataclass(frozen=True)
class PerWorker:
    """A round's arguments that differ per worker: worker i gets ``(values[i], *shared)``.

    What a one-shot map sends: each worker's coded share travels with the round instead of
    being placed first (one round trip to every worker saved), and ``shared`` are the
    arguments every worker receives.

    >>> PerWorker(["a", "b"], (1,)).of(1)
    ('b', 1)
    """

    values: Sequence
    shared: tuple = ()

    def of(self, worker: int) -> tuple:
        return (self.values[worker], *self.shared)


class Round:
    """One round in flight: its tasks, the outcomes that arrived, and its metrics.

    Created dispatched (every worker starts ``kernel(i, shard_i, args)``); :meth:`absorb`
    takes ready outcomes, :meth:`check` raises once the round can no longer decode or its
    deadline passed, and :meth:`finish` cancels the stragglers, fetches and decodes.
    """

    def __init__(
        self,
        pool: Pool,
        code: Code,
        job: int,
        number: int,
        args: tuple,
        deadline,
        byzantine: int = 0,
        exclude: Iterable[int] = (),
        verify: int = 0,
        policy: Approximate | None = None,
        receive: Callable | None = None,
    ):
        self.pool, self.code, self.number, self.deadline = pool, code, number, deadline
        self._receive = receive
        self._byzantine, self._verify, self.policy = byzantine, verify, policy
        quorum = code.recovery_threshold + 2 * byzantine + verify
        self.metrics = RoundMetrics(job, number, repr(code), code.n, quorum)
        self.metrics.excluded = tuple(sorted(exclude))
        self.metrics.policy = "" if policy is None else repr(policy)
        self.start, self._start_wall = time.perf_counter(), time.time()
        self.end = self.start + deadline
        self._soft_end = policy.deadline(self.start) if policy else self.end
        self.args = args.of if isinstance(args, PerWorker) else lambda worker: args
        workers = [i for i in range(code.n) if i not in self.metrics.excluded]
        self.pending = [pool.submit(i, Tag(job, number, i), self.args(i)) for i in workers]
        self.metrics.dispatch_s = time.perf_counter() - self.start
        self.arrived: dict[int, Task] = {}
        self.values: dict[int, object] = {}  # fetched and screened
        self._outcomes: dict[int, Done] = {}
        self._errors: list[WorkerError] = []

    @property
    def wake(self) -> float:
        """When to look again without news: the policy's ``wait``, then the deadline."""
        now = time.perf_counter()
        return min(self._soft_end, self.end) if now < self._soft_end else self.end

    @property
    def byzantine(self) -> int:
        """Wrong answers still to correct: each answer screened out as not a result was one
        of them, and is now a known erasure."""
        return max(self._byzantine - len(self.metrics.faulty), 0)

    @property
    def quorum(self) -> int:
        """The fewest good answers that decode, correct ``byzantine`` wrong ones and leave
        ``verify`` more to check them with."""
        return self.code.recovery_threshold + 2 * self.byzantine + self._verify

    @property
    def _checked(self) -> bool:
        """Whether decoding checks the answers against each other (:meth:`Code.correct`)."""
        return bool(self.byzantine or self._verify)

    def _margin(self, workers) -> int:
        """:meth:`~coded.Code.decoding_margin` of ``workers``; when checked, also how many
        they are beyond the quorum :meth:`~coded.Code.correct` needs."""
        workers = list(workers)
        margin = self.code.decoding_margin(workers)
        return min(margin, len(workers) - self.quorum) if self._checked else margin

    def _stopped_by(self) -> str:
        """Why the policy of an approximate code stops the round now ("" if it does not)."""
        arrived = len(self.arrived)
        return self.policy.stop(
            self.code,
            arrived,
            arrived + len(self.pending),
            time.perf_counter() - self.start,
            lambda: self.code.error_estimate(list(self.arrived)),
        )

    @property
    def decodable(self) -> bool:
        if self.policy is not None:
            return bool(self._stopped_by())
        return self._margin(self.arrived) >= 0

    @property
    def needed(self) -> int:
        """The fewest completions that could make the round decodable (or, for an
        approximate code, end it)."""
        if self.policy is not None:
            return self.policy.needed(len(self.arrived), len(self.arrived) + len(self.pending))
        return -self._margin(self.arrived)

    def absorb(self, task: Task, outcome) -> None:
        """Record one ready task's outcome (stale, done, or an erasure with its reason); a
        worker that failed because its process restarted is sent the round again, once."""
        self.pending.remove(task)
        metrics = self.metrics
        if outcome.tag != task.tag:
            metrics.stale += 1
        elif isinstance(outcome, Done):
            self.arrived[task.worker], self._outcomes[task.worker] = task, outcome
            metrics.seen[task.worker] = time.perf_counter() - self.start
        elif not self._resend(task, outcome):
            failed = isinstance(outcome, Failed)
            metrics.failures[task.worker] = outcome.reason if failed else "cancelled"
            if failed and outcome.traceback:
                self._errors.append(
                    WorkerError(task.worker, outcome.error, outcome.message, outcome.traceback)
                )

    def _resend(self, task: Task, outcome) -> bool:
        """Send the round again to a worker that failed because its process restarted (its
        shards lost), once; whether it was sent."""
        worker, retried = task.worker, self.metrics.retried
        if not isinstance(outcome, Failed) or worker in retried or not self.pool.restarted(task):
            return False
        retried[worker] = outcome.reason
        self.pending.append(self.pool.submit(worker, task.tag, self.args(worker)))
        return True

    def check(self) -> int:
        """Raise (cancelling what is left) once no decodable set can still arrive, or past the
        deadline; else return the fewest failures that could leave none."""
        margin = self._margin([*self.arrived, *(t.worker for t in self.pending)])
        if margin < 0:
            self.pool.cancel(self.pending)
            cause = self._errors[0] if self._errors else None
            failures = self.metrics.failures
            raise RoundFailedError(failures, self.quorum, self.code.n, self.number) from cause
        if time.perf_counter() >= self.end:
            self.pool.cancel(self.pending)
            pending = [t.worker for t in self.pending]
            raise RoundTimeoutError(self.arrived, pending, self.deadline, self.number)
        return margin + 1

    def _expect_one_more_wrong(self) -> bool:
        """The answers disagree beyond ``byzantine`` wrong ones: assume one more (so wait for
        two more answers) when enough can still arrive; False when they cannot."""
        self._byzantine += 1
        if self._margin([*self.arrived, *(t.worker for t in self.pending)]) >= 0:
            self.metrics.needed = self.quorum
            return True
        self._byzantine -= 1
        return False

    def _received(self, fetched: dict) -> tuple[dict, dict]:
        """``fetched`` through the job's ``receive`` (the master's side of its wire format):
        the values it accepts, and why it refused the others."""
        if self._receive is None:
            return fetched, {}
        values, refused = {}, {}
        for i, value in fetched.items():
            try:
                values[i] = self._receive(i, value)
            except (ValueError, TypeError) as error:
                refused[i] = f"could not be received: {error}"
        return values, refused

    def finish(self):
        """Fetch and screen the values decoding uses; if bad ones leave the round undecodable,
        None (wait for more); else cancel the stragglers and decode: ``(result, metrics)``."""
        code, metrics, pool = self.code, self.metrics, self.pool
        waited = time.perf_counter()
        while True:
            wanted = tuple(sorted(self.arrived)) if self._checked else code.select(self.arrived)
            missing = [i for i in wanted if i not in self.values]
            if not missing:
                break
            fetching = time.perf_counter()
            timeout = max(self.end - fetching, 0.5)
            fetched = pool.fetch([self.arrived[i] for i in missing], timeout=timeout)
            fetched, refused = self._received(dict(zip(missing, fetched, strict=True)))
            self.values, bad = code.screen({**self.values, **fetched})
            bad.update(refused)
            metrics.fetch_s += time.perf_counter() - fetching
            for i, reason in bad.items():  # an erasure: the round goes on without it
                del self.arrived[i]
                metrics.failures[i] = metrics.faulty[i] = reason
            if not self.decodable:
                return None
        metrics.wait_s = waited - self.start - metrics.dispatch_s
        if self.policy is not None:
            metrics.stopped_by = self._stopped_by()
        values = {i: self.values[i] for i in wanted}
        correcting = time.perf_counter()
        correction = None
        if self._checked:  # before cancelling: more wrong answers than assumed need more
            try:
                correction = code.correct(values, byzantine=self.byzantine)
            except UncorrectableError:
                if not self._expect_one_more_wrong():
                    raise
                return None
            metrics.faulty.update(correction.reasons)
        cancelling = time.perf_counter()
        pool.cancel(self.pending)
        metrics.cancelled = tuple(sorted(t.worker for t in self.pending))
        decoding = time.perf_counter()
        metrics.cancel_s = decoding - cancelling
        if correction is None:
            result, used = code.decode(values, screened=True), wanted
        else:
            result, used = correction.result, correction.used
        metrics.decode_s = cancelling - correcting + time.perf_counter() - decoding
        metrics.total_s = time.perf_counter() - self.start

        metrics.used, metrics.arrived = used, tuple(sorted(self.arrived))
        if code.approximate:
            metrics.error_estimate = float(code.error_estimate(used))
        for i, outcome in self._outcomes.items():
            metrics.started[i] = outcome.started_at - self._start_wall
            metrics.finished[i] = outcome.finished_at - self._start_wall
            metrics.compute[i] = outcome.compute_s
        good = [i for i in metrics.finished if i not in metrics.faulty]
        order = sorted(good, key=metrics.finished.get)  # worker-side finish order
        if self.policy is None:
            first = code.first_decodable(order)
        else:  # the policy's count of answers, or all that came
            first = min(self.policy.responses or len(order), len(order)) or None
        decodable_at = metrics.finished[order[first - 1]] if first else float("nan")
        metrics.oracle_s = decodable_at + metrics.decode_s
        return result, metrics


def run_round(
    pool: Pool,
    code: Code,
    job: int,
    round: int,
    args: tuple,
    *,
    deadline: float,
    byzantine: int = 0,
    exclude: Iterable[int] = (),
    verify: int = 0,
    policy: Approximate | None = None,
    receive: Callable | None = None,
):
    """Run round ``round`` of ``job`` on every worker of ``pool``; return ``(result, metrics)``.

    Args:
        pool: the workers; ``job``'s shards must be placed (``pool.place``).
        code: the code the master decodes with (``code.n == pool.n``).
        job: the job's id.
        round: the round number (selects each worker's injected delay).
        args: the round's operands, the same for every worker (e.g. ``(pool.share(x),)``),
            or a :class:`PerWorker` of each worker's own and the shared ones.
        deadline: seconds the round may take in all.
        byzantine: wrong answers to correct (:meth:`coded.Code.correct`); the round then
            waits for ``recovery_threshold + 2·byzantine`` answers.
        exclude: workers not sent the round (blocklisted).
        verify: answers beyond the quorum to wait for and check the others against
            (:meth:`coded.Code.correct`): responses that disagree, with no wrong worker to
            blame, raise :class:`~coded.UncorrectableError` instead of decoding.
        policy: when a round of an approximate code stops (:mod:`~.policy`); None for
            exact codes.
        receive: ``receive(i, answer) -> array``, the master's side of the kernel's wire
            format, applied to each fetched answer before it is screened; one it refuses
            (ValueError, TypeError) is an erasure.

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
    rounds = [(round, args)]
    options = {"byzantine": byzantine, "exclude": exclude, "verify": verify, "policy": policy}
    options["receive"] = receive
    return next(run_rounds(pool, code, job, rounds, window=1, deadline=deadline, **options))


def run_rounds(
    pool: Pool,
    code: Code,
    job: int,
    rounds: Iterable[tuple[int, tuple]],
    *,
    window: int,
    deadline: float,
    byzantine: int = 0,
    exclude: Iterable[int] = (),
    verify: int = 0,
    policy: Approximate | None = None,
    receive: Callable | None = None,
) -> Iterator[tuple]:
    """Run ``(number, args)`` rounds with up to ``window`` in flight; yield ``(result, metrics)``
    in order, each as soon as its round and every round before it are decodable
    (``byzantine``, ``exclude``, ``verify``, ``policy`` and ``receive`` as in
    :func:`run_round`). A code with :attr:`~coded.Code.pieces` runs partial-work rounds
    (:class:`~.partial.PartialRound`: the workers stream their chunks; only ``exclude``
    applies).

    >>> import numpy as np
    >>> from coded import MDSCode
    >>> from coded.scheduler.pool import InProcessPool
    >>> from coded.workers.kernels import Product
    >>> code, A = MDSCode(4, 2), np.arange(8.0).reshape(4, 2)
    >>> xs = [np.full(2, float(i)) for i in range(5)]
    >>> with InProcessPool(4) as pool:
    ...     pool.place(0, [(s,) for s in code.encode(A)], Product())
    ...     rounds = enumerate((x,) for x in xs)
    ...     out = list(run_rounds(pool, code, 0, rounds, window=3, deadline=10))
    >>> all(np.allclose(y, A @ x) for (y, _), x in zip(out, xs))
    True
    """
    source, options = iter(rounds), (byzantine, tuple(exclude), verify)
    partial = code.pieces is not None  # workers stream their chunks (PartialRound)
    read = pool.news if partial else pool.outcomes
    flight: deque[Round | PartialRound] = deque()
    try:
        while True:
            while len(flight) < window and (item := next(source, None)) is not None:
                number, args = item
                if partial:
                    each = PartialRound(pool, code, job, number, args, deadline, options[1])
                else:
                    each = Round(
                        pool,
                        code,
                        job,
                        number,
                        args,
                        deadline,
                        *options,
                        policy=policy,
                        receive=receive,
                    )
                flight.append(each)
            if not flight:
                return
            if flight[0].decodable and (done := flight[0].finish()) is not None:
                flight.popleft()
                yield done
                continue
            # wake once the first round may decode, or once failures may undo any round
            wanted = min([flight[0].needed] + [each.check() for each in flight])
            tasks = [task for each in flight for task in each.pending]
            ready = pool.wait(tasks, wanted, flight[0].wake - time.perf_counter())
            by_number = {each.number: each for each in flight}  # a task's tag names its round
            for task, outcome in zip(ready, read(ready), strict=True):
                by_number[task.tag.round].absorb(task, outcome)
    finally:  # an error, or the caller stopped early: nothing keeps computing
        for each in flight:
            pool.cancel(each.pending)
