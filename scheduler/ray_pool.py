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

A dead actor is an erasure for the round in flight. Ray restarts it (a fresh process: its
shards are gone). The pool keeps every placed shard's ObjectRef alive and notes which
workers lost their shards: seen dying (in a round, or among the cancelled leftovers it
reads before the next round), or answering ``NotLoaded`` (died unseen). Before such a
worker's next round the pool waits until it answers a ping again and sends the shard's
ref with that round, so the next round has n workers. A worker that does not come back
within ``control_timeout`` (say, no node has room for it) is not waited for again: it
stays an erasure until Ray brings it back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from coded.workers.actor import start_workers
from coded.workers.delays import DelayModel
from coded.workers.emulation import Emulation
from coded.workers.worker import Failed, NotLoaded

from .cluster import check_resources, inline_bytes
from .pool import Pool, Task, check_shards

__all__ = ["RayPool", "WorkerState"]

_EVERY_ROUND = 1 << 62  # cancel_through(_EVERY_ROUND) cancels any round


@dataclass
class WorkerState:
    """What the pool knows of one worker's recovery.

    >>> state = WorkerState()
    >>> state.lose({0, 1}, died=True)
    >>> state.restarting, state.take_reload(1), state.take_reload(1), sorted(state.lost_jobs)
    (True, True, False, [0])
    """

    restarting: bool = False  # seen dying: wait until it answers before its next round
    gave_up: bool = False  # did not come back within control_timeout: never waited for again
    lost_jobs: set[int] = field(default_factory=set)  # jobs whose shards it must be sent again

    def lose(self, jobs, *, died: bool) -> None:
        """The worker lost its shards of ``jobs`` (a restarted process)."""
        self.lost_jobs = set(jobs)
        if died and not self.gave_up:
            self.restarting = True

    def take_reload(self, job: int) -> bool:
        """Whether ``job``'s shard must go with the worker's next round (asked once)."""
        if job not in self.lost_jobs:
            return False
        self.lost_jobs.discard(job)
        return True


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
        control_timeout: seconds a placement, or a restarted worker's first ping, may take.
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
        self._states = [WorkerState() for _ in range(n)]
        self._leftovers: list[Task] = []  # cancelled tasks, read before the next submit
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
        for state in self._states:
            state.lost_jobs.discard(job)
        for actor in self._actors:
            actor.drop.remote(job)

    def share(self, x):
        """``x`` itself when Ray passes it by value (see :mod:`coded.scheduler.cluster`), else one
        ``ray.put`` that every worker reads (Ray would otherwise store it once per call)."""
        return x if getattr(x, "nbytes", 0) <= self._inline_bytes else ray.put(x)

    def submit(self, worker, tag, args):
        if self._leftovers:
            self._settle()
        state = self._states[worker]
        if state.restarting:
            self._await_restart(worker)
        reload = {}
        if state.take_reload(tag.job):
            refs, kernel = self._placed[tag.job]
            reload["reload"] = [refs[worker], kernel]
        status, value = self._actors[worker].compute.remote(tag.job, tag.round, *args, **reload)
        return Task(worker, tag, status, value)

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
            if isinstance(exc, RayActorError):
                self._lose(task.worker, died=True)
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return Failed(task.tag, type(exc).__name__, first_line)
        if isinstance(outcome, Failed) and outcome.error == NotLoaded.__name__:
            self._lose(task.worker, died=False)
        return outcome

    def outcomes(self, tasks):
        try:
            outcomes = ray.get([task.handle for task in tasks])
        except RayError:  # one of them failed: read them one by one
            return [self.outcome(task) for task in tasks]
        for task, outcome in zip(tasks, outcomes, strict=True):
            if isinstance(outcome, Failed) and outcome.error == NotLoaded.__name__:
                self._lose(task.worker, died=False)
        return outcomes

    def _lose(self, worker: int, *, died: bool) -> None:
        """``worker`` lost its shards (a restarted process): send them with its next rounds."""
        self._states[worker].lose(self._placed, died=died)

    def _settle(self) -> None:
        """Read the cancelled leftovers that are over, to notice workers that died meanwhile."""
        leftovers, self._leftovers = self._leftovers, []
        self.outcomes(self.wait(leftovers, len(leftovers), 0.0))

    def _await_restart(self, worker: int) -> None:
        """Wait until a worker seen dying answers again (or give up: it stays an erasure)."""
        state, end = self._states[worker], time.perf_counter() + self.control_timeout
        while time.perf_counter() < end:
            try:
                ray.get(self._actors[worker].ping.remote(), timeout=end - time.perf_counter())
                break
            except RayActorError:
                time.sleep(0.05)
            except GetTimeoutError:
                state.gave_up = True
                break
        else:
            state.gave_up = True
        state.restarting = False

    def fetch(self, tasks, timeout):
        return ray.get([task.extra for task in tasks], timeout=timeout)

    def cancel(self, tasks):
        for task in tasks:  # no ray.cancel: see the module docstring
            self._actors[task.worker].cancel_through.remote(task.tag.round)
        self._leftovers.extend(tasks)

    def close(self, grace: float = 2.0):
        """Stop the workers: cancel every round, let the cancelled rounds return and each
        actor exit (``__ray_terminate__``), and kill what is left after ``grace`` seconds."""
        end = time.perf_counter() + grace
        for actor in self._actors:
            actor.cancel_through.remote(_EVERY_ROUND)
        if self._leftovers:  # they stop at their next check: a few milliseconds
            self.wait(self._leftovers, len(self._leftovers), grace)
            self._leftovers = []
        exits = {actor.__ray_terminate__.remote(): actor for actor in self._actors}
        if exits:
            left = max(end - time.perf_counter(), 0.0)
            _, staying = ray.wait(list(exits), num_returns=len(exits), timeout=left)
            for ref in staying:  # only these: a kill racing an exit can abort the process
                ray.kill(exits[ref], no_restart=True)
        self._actors = []
        self._placed.clear()

    def __repr__(self):
        return f"RayPool(n={self.n})"
