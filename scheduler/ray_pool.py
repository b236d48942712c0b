"""The pool on Ray: one :mod:`coded.workers.actor` per worker, shards placed once with ``ray.put``.

Each compute call returns two objects, a small outcome record and the value. The master
waits on the records with ``ray.wait(..., fetch_local=False)``, reads them (a few hundred
bytes) and gets only the values decoding uses. A value Ray passes by value (up to
:func:`coded.scheduler.cluster.inline_bytes`: 1 MiB on a local Ray started by
:mod:`coded.scheduler.cluster`, 100 KiB by Ray's default) arrives with its task's reply; a
larger one stays in the object store unless it is used.

The submit path is kept lean, since the master pays it n times a round: a call carries two
integers (job, round) and the round's operand (by value when Ray would inline it, else one
shared ref), nothing nested. Measured on Ray 2.60 (2 cores), one submit costs about
0.23 ms that way, 0.40 ms with a small dataclass tag and 0.87 ms with the shard's ref
nested in a list.

Cancelling a straggler is one call on its actor's control group, ``cancel_through(round)``:
the running round stops at its next check and stale rounds still queued return at once.
The pool does not call ``ray.cancel``. Measured on Ray 2.60, cancelling actor tasks whose
arguments are ObjectRefs soon after submission leaves the actor's next task stuck for good
in 3 of 8 trials (ray-project/ray#60850, "actor task queue blocked after cancelling head
task"); ``ray.cancel`` also misses tasks cancelled within milliseconds of submission.

A streamed round (:meth:`RayPool.stream`, for partial work) is one streaming generator
task (``num_returns="streaming"``): the worker yields ``(Piece, value)`` per chunk as it
finishes it, then its outcome. The master waits on the generators with ``ray.wait`` and
:meth:`RayPool.news` reads one item from each ready one (``next``, then one ``ray.get``
for all). Of the ways to report chunks as they go, it was the cheapest measured
(``benchmarks/chunk_reports.py``, Ray 2.60, 8 actors, 8 chunks of 16 KiB each, 2 busy
cores): 0.32 to 0.46 ms of the master's CPU per chunk and 1.3 to 2.9 ms from a chunk's
end to the master holding it, where one task per chunk cost 0.46 to 0.55 ms (its submit
on top) and a progress record polled every 5 ms cost 0.16 to 0.37 ms per chunk at n = 8
(n calls per poll, whatever arrived) with 14 to 26 ms of latency. All three stop at the
chunk in flight once ``cancel_through`` reaches the worker. A dead worker's stream ends
with the error, read as a :class:`Failed` record; the chunks it reported stay.

Ray restarts a dead actor (a fresh process: its shards are gone). The pool keeps every
placed shard's ObjectRef alive and notes which workers lost their shards: those seen dying
or answering ``NotLoaded`` (restarted unseen), in a round or in the cancelled rounds it
reads before the first dispatch after a cancel (a cancelled round not over yet is read at
a later one, up to ``control_timeout`` after its cancel). Such a worker's next task
carries the shard's ref (``reload``).

A task that failed that way is sent again at once, with the shard (:meth:`RayPool.restarted`, once
per round; the master never blocks on it), so a worker killed between rounds or during
one still answers that round if its deadline allows. Measured on Ray 2.60 (2 cores): a
call to an actor killed a moment before fails with ``ActorUnavailableError`` when the new
process is up, 1.5 to 1.8 s later, and the call sent again then answers. On a loaded node
the restart can take longer and the call sent again fail the same way, so a call that
carries a restarted worker's shards may be retried by Ray (``max_task_retries``, up to 20
times: 4 ran out with two busy loops beside 2 cores); the round's deadline bounds the
master's wait, and a worker that dies at every try is an erasure after as many restarts. A
death that the injected delays cause (a fail-stop crash, ``factor = inf``) is neither sent
again nor retried, as it would crash again: it stays the round's erasure.
"""

from __future__ import annotations

import math
import time

import ray
from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError, RayError

from coded.workers.actor import start_workers
from coded.workers.delays import DelayModel, WorkerDelays
from coded.workers.emulation import Emulation
from coded.workers.worker import Failed, NotLoaded, Tag

from .cluster import check_resources, inline_bytes
from .pool import Pool, Task, check_shards

__all__ = ["RayPool"]

_EVERY_ROUND = 1 << 62  # cancel_through(_EVERY_ROUND) cancels any round
_RETRIES_WHILE_RESTARTING = 20  # Ray's retries of a call to a restarted worker (docstring)
_KILL_TIMEOUT = 2.0  # for close's kills to be seen done


class RayPool(Pool):
    """n Ray actors (Ray must be initialised; see :func:`coded.scheduler.cluster.connect`).

    Args:
        n: number of workers.
        num_cpus_per_worker: logical CPUs each actor asks for (fractions allowed).
        num_gpus_per_worker: GPU fraction per actor (0.125 puts eight on one GPU).
        delays: injected straggler model (see :mod:`coded.workers.delays`), or None.
        seed: seed of the delay streams.
        backend: force ``"numpy"`` / ``"cupy"`` / ``"torch"``; None chooses from the GPUs given.
        start_timeout: seconds to wait for every actor to answer a ping.
        control_timeout: seconds a placement may take, and how long a cancelled round is
            watched for news of its worker (a death, a restart).
        emulate: workers sleep their calibrated compute time instead of computing
            (:mod:`coded.workers.emulation`: it measures the control plane, not the values).
    """

    def __init__(
        self,
        n: int,
        *,
        num_cpus_per_worker: float = 1.0,
        num_gpus_per_worker: float = 0.0,
        delays: DelayModel | None = None,
        seed: int = 0,
        backend: str | None = None,
        start_timeout: float = 120.0,
        control_timeout: float = 60.0,
        emulate: Emulation | None = None,
    ):
        self.n = n
        self.emulate = emulate
        self.control_timeout = control_timeout
        self._crashes = (
            None if delays is None else [WorkerDelays(delays, i, n, seed) for i in range(n)]
        )
        self._lost: list[set[int]] = [set() for _ in range(n)]  # jobs to send again, per worker
        self._leftovers: list[tuple[float, Task]] = []  # (when cancelled, task): read later
        self._unread = False  # leftovers cancelled since the last read
        check_resources(n, num_cpus_per_worker, num_gpus_per_worker)
        self._actors = start_workers(
            n,
            num_cpus=num_cpus_per_worker,
            num_gpus=num_gpus_per_worker,
            delays=delays,
            seed=seed,
            backend=backend,
            emulate=emulate,
        )
        self._placed: dict[int, tuple] = {}  # job -> (shard refs, kernel)
        self._inline_bytes = inline_bytes()
        try:
            self.ping(timeout=start_timeout)
        except GetTimeoutError as exc:
            self.close()
            raise TimeoutError(
                f"{n} workers asking for num_cpus={num_cpus_per_worker}, "
                f"num_gpus={num_gpus_per_worker} "
                f"each did not all start within {start_timeout:g} s; the cluster has "
                f"{ray.cluster_resources()}"
            ) from exc
        except RayActorError as exc:
            self.close()
            raise RuntimeError(f"a worker actor failed to start: {exc}") from exc

    @property
    def actors(self) -> list:
        """The actor handles, by worker index."""
        return list(self._actors)

    def ping(self, timeout: float = 60.0) -> list[int]:
        return ray.get([actor.ping.remote() for actor in self._actors], timeout=timeout)

    def place(self, job, shards, kernel):
        check_shards(shards, self.n)
        if self.emulate is not None:  # refuse here, not in n actors
            self.emulate.check(kernel)
        refs = [ray.put(tuple(shard)) for shard in shards]
        self._placed[job] = (refs, kernel)
        ray.get(
            [
                actor.load.remote(job, ref, kernel)
                for actor, ref in zip(self._actors, refs, strict=True)
            ],
            timeout=self.control_timeout,
        )

    def drop(self, job):
        self._placed.pop(job, None)
        for lost in self._lost:
            lost.discard(job)
        for actor in self._actors:
            actor.drop.remote(job)

    def share(self, x):
        """``x`` itself when Ray passes it by value (see :mod:`coded.scheduler.cluster`), else one
        ``ray.put`` that every worker reads (Ray would otherwise store it once per call)."""
        return x if getattr(x, "nbytes", 0) <= self._inline_bytes else ray.put(x)

    def submit(self, worker, tag, args):
        reload = self._reload(worker, tag)
        compute = self._actors[worker].compute
        if reload and not self._crashes_in(worker, tag.round):
            compute = compute.options(max_task_retries=_RETRIES_WHILE_RESTARTING)
        status, value = compute.remote(tag.job, tag.round, *args, **reload)
        return Task(worker, tag, status, value)

    def _reload(self, worker: int, tag: Tag) -> dict:
        """``{"reload": [shard ref, kernel]}`` for a worker known to have lost ``tag``'s
        job (else nothing), after reading the cancelled rounds that are over."""
        if self._unread:
            self._settle()
        if tag.job not in self._lost[worker]:
            return {}
        self._lost[worker].discard(tag.job)
        refs, kernel = self._placed[tag.job]
        return {"reload": [refs[worker], kernel]}

    def stream(self, worker, tag, args):
        """The round as a streaming generator task (one item per piece, then the outcome);
        not watched after a cancel, unlike :meth:`submit`'s (a restart shows at the
        worker's next round, which answers ``NotLoaded`` and is sent again)."""
        reload = self._reload(worker, tag)
        stream = self._actors[worker].stream.remote(tag.job, tag.round, *args, **reload)
        return Task(worker, tag, stream)

    def news(self, tasks):
        refs = [next(task.handle) for task in tasks]  # ready: next() does not block
        try:
            items = ray.get(refs)
        except RayError:  # one of them failed: read them one by one
            items = [self._item(task, ref) for task, ref in zip(tasks, refs, strict=True)]
        for task, (record, _) in zip(tasks, items, strict=True):
            if isinstance(record, Failed) and record.error == NotLoaded.__name__:
                self._lose(task.worker)
        return [[item] for item in items]

    def _item(self, task: Task, ref) -> tuple:
        """One streamed item; an error (a dead worker) ends the stream as a failure."""
        try:
            return ray.get(ref)
        except RayError as exc:
            return self._failed(task, exc), None

    def wait(self, tasks, num_returns, timeout):
        by_ref = {task.handle: task for task in tasks}
        ready, _ = ray.wait(
            list(by_ref),
            num_returns=min(num_returns, len(by_ref)),
            timeout=max(timeout, 0.0),
            fetch_local=False,
        )
        return [by_ref[ref] for ref in ready]

    def outcome(self, task):
        try:
            outcome = ray.get(task.handle)
        except RayError as exc:
            return self._failed(task, exc)
        if isinstance(outcome, Failed) and outcome.error == NotLoaded.__name__:
            self._lose(task.worker)
        return outcome

    def outcomes(self, tasks):
        try:
            outcomes = ray.get([task.handle for task in tasks])
        except RayError:  # one of them failed: read them one by one
            return [self.outcome(task) for task in tasks]
        for task, outcome in zip(tasks, outcomes, strict=True):
            if isinstance(outcome, Failed) and outcome.error == NotLoaded.__name__:
                self._lose(task.worker)
        return outcomes

    def _failed(self, task: Task, exc: RayError) -> Failed:
        """What a task that Ray failed (its worker dead, say) comes home as."""
        if isinstance(exc, RayActorError):
            self._lose(task.worker)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return Failed(task.tag, type(exc).__name__, first_line)

    def _lose(self, worker: int) -> None:
        """``worker`` lost its shards (a restarted process): send them with its next tasks."""
        self._lost[worker] = set(self._placed)

    def replace(self, worker):
        """Kill ``worker``'s actor; Ray restarts it in a fresh process, and its next tasks
        carry its shards (as after any restart)."""
        ray.kill(self._actors[worker], no_restart=False)
        self._lose(worker)

    def restarted(self, task):
        worker, tag = task.worker, task.tag
        return tag.job in self._lost[worker] and not self._crashes_in(worker, tag.round)

    def _crashes_in(self, worker: int, round: int) -> bool:
        """Whether the injected delays crash ``worker`` in ``round``."""
        crashes = self._crashes
        return crashes is not None and math.isinf(crashes[worker].at(round)[0])

    def _settle(self) -> None:
        """Read the cancelled rounds that are over, to notice workers that died or restarted
        meanwhile; keep the others, for up to ``control_timeout``."""
        tasks = [task for _, task in self._leftovers]
        over = set(self.wait(tasks, len(tasks), 0.0))
        self.outcomes(list(over))
        kept_since = time.perf_counter() - self.control_timeout
        self._leftovers = [
            (at, t) for at, t in self._leftovers if t not in over and at > kept_since
        ]
        self._unread = False

    def fetch(self, tasks, timeout):
        return ray.get([task.extra for task in tasks], timeout=timeout)

    def cancel(self, tasks):
        now = time.perf_counter()
        for task in tasks:  # no ray.cancel: see the module docstring
            self._actors[task.worker].cancel_through.remote(task.tag.round)
            if task.extra is not None:  # a streamed round is not watched (see stream)
                self._leftovers.append((now, task))
                self._unread = True

    def close(self, grace: float = 2.0):
        """Stop the workers: cancel every round, let the cancelled rounds return and each
        actor exit (``__ray_terminate__``), and kill what is left after ``grace`` seconds;
        return once the killed ones are seen dead (or a few seconds later)."""
        end = time.perf_counter() + grace
        for actor in self._actors:
            actor.cancel_through.remote(_EVERY_ROUND)
        if self._leftovers:  # they stop at their next check: a few milliseconds
            self.wait([task for _, task in self._leftovers], len(self._leftovers), grace)
            self._leftovers = []
        exits = {actor.__ray_terminate__.remote(): actor for actor in self._actors}
        if exits:
            left = max(end - time.perf_counter(), 0.0)
            answered, staying = ray.wait(list(exits), num_returns=len(exits), timeout=left)
            # Only these: a kill racing an exit can abort the process. An actor still in a
            # task that ignores cancellation answers its exit at once (ActorUnavailableError),
            # yet lives until the task ends: only ActorDiedError means it is gone.
            alive = [exits[ref] for ref in staying + [r for r in answered if not _died(r)]]
            _kill(alive, timeout=_KILL_TIMEOUT)
        self._actors = []
        self._placed.clear()

    def __repr__(self):
        return f"RayPool(n={self.n})"


def _died(ref) -> bool:
    """Whether ``ref``, a call on an actor, failed because the actor is dead."""
    try:
        ray.get(ref)
    except ActorDiedError:
        return True
    except RayError:
        pass
    return False


def _kill(actors: list, timeout: float) -> None:
    """Kill ``actors`` and return once each is seen dead (a call on it fails with
    ``ActorDiedError``), or after ``timeout``: a kill lands asynchronously, and a call sent
    meanwhile can still run."""
    end = time.perf_counter() + timeout
    while actors:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        pings = {actor.ping.remote(): actor for actor in actors}
        ready, _ = ray.wait(list(pings), num_returns=len(pings), timeout=end - time.perf_counter())
        if len(ready) < len(pings):
            return
        actors = [pings[ref] for ref in ready if not _died(ref)]
