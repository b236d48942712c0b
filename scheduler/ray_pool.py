"""The pool on Ray: one :mod:`workers.actor` per worker, shards placed once with ``ray.put``.

Each compute call returns two objects, a small outcome record and the value. The master
waits on the records with ``ray.wait(..., fetch_local=False)``, reads them (a few hundred
bytes), and transfers only the values decoding uses. The pool keeps every placed shard's
ObjectRef alive, so an actor that Ray restarts reloads its shard on its next round.

Cancelling a straggler is one call on its actor's control group, ``cancel_through(round)``:
the running round stops at its next check and stale rounds still queued return at once.
The pool does not call ``ray.cancel``. Measured on Ray 2.60, cancelling actor tasks whose
arguments are ObjectRefs soon after submission leaves the actor's next task stuck for good
in 3 of 8 trials (ray-project/ray#60850, "actor task queue blocked after cancelling head
task"); ``ray.cancel`` also misses tasks cancelled within milliseconds of submission.

A dead actor is an erasure for the round in flight. Ray restarts it; the pool remembers
which workers it saw die (also among the leftovers it cancels) and, before their next
round, waits until they answer a ping again, so the next round has n workers. A worker that
does not come back within ``control_timeout`` (say, no node has room for it) is not waited
for again: it stays an erasure until Ray brings it back.
"""

from __future__ import annotations

import time

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from workers.actor import start_workers
from workers.delays import DelayModel
from workers.worker import Failed

from .pool import Pool, Task, check_shards

__all__ = ["RayPool"]


class RayPool(Pool):
    """n Ray actors (Ray must be initialised; see :func:`scheduler.cluster.connect`).

    Args:
        n: number of workers.
        num_cpus_per_worker: logical CPUs each actor asks for (fractions allowed).
        num_gpus_per_worker: GPU fraction per actor (0.125 puts eight on one GPU).
        delays: injected straggler model (see :mod:`workers.delays`), or None.
        seed: seed of the delay streams.
        backend: force ``"numpy"`` / ``"cupy"`` / ``"torch"``; None chooses from the GPUs given.
        start_timeout: seconds to wait for every actor to answer a ping.
        control_timeout: seconds a placement, or a restarted worker's first ping, may take.
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
    ):
        self.n = n
        self.control_timeout = control_timeout
        self._restarting: set[int] = set()  # seen dying: wait for them before their next round
        self._gave_up: set[int] = (
            set()
        )  # did not come back within control_timeout: never wait again
        self._actors = start_workers(
            n,
            num_cpus=num_cpus_per_worker,
            num_gpus=num_gpus_per_worker,
            delays=delays,
            seed=seed,
            backend=backend,
        )
        self._placed: dict[int, list] = {}  # job -> [shard refs, p, task]
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

    def place(self, job, shards, p=None, task=None):
        check_shards(shards, self.n)
        refs = [ray.put(tuple(shard)) for shard in shards]
        self._placed[job] = [refs, p, task]
        ray.get(
            [
                actor.load.remote(job, ref, p, task)
                for actor, ref in zip(self._actors, refs, strict=True)
            ],
            timeout=self.control_timeout,
        )

    def drop(self, job):
        self._placed.pop(job, None)
        for actor in self._actors:
            actor.drop.remote(job)

    def share(self, x):
        return ray.put(x)

    def submit(self, worker, tag, args):
        if worker in self._restarting:
            self._await_restart(worker)
        refs, p, task = self._placed[tag.job]
        status, value = self._actors[worker].compute.remote(tag, [refs[worker], p, task], *args)
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
            return ray.get(task.handle)
        except RayError as exc:
            if isinstance(exc, RayActorError) and task.worker not in self._gave_up:
                self._restarting.add(task.worker)
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return Failed(task.tag, type(exc).__name__, first_line)

    def outcomes(self, tasks):
        try:
            return ray.get([task.handle for task in tasks])
        except RayError:  # one of them failed: read them one by one
            return [self.outcome(task) for task in tasks]

    def _await_restart(self, worker: int) -> None:
        """Wait until a worker seen dying answers again (or give up: it stays an erasure)."""
        end = time.perf_counter() + self.control_timeout
        while time.perf_counter() < end:
            try:
                ray.get(self._actors[worker].ping.remote(), timeout=end - time.perf_counter())
                break
            except RayActorError:
                time.sleep(0.05)
            except GetTimeoutError:
                self._gave_up.add(worker)
                break
        else:
            self._gave_up.add(worker)
        self._restarting.discard(worker)

    def fetch(self, tasks, timeout):
        return ray.get([task.extra for task in tasks], timeout=timeout)

    def cancel(self, tasks):
        if tasks:  # those already over: only notes workers that died unseen
            self.outcomes(self.wait(tasks, len(tasks), 0.0))
        for task in tasks:  # no ray.cancel: see the module docstring
            self._actors[task.worker].cancel_through.remote(task.tag.round)

    def close(self):
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._actors = []
        self._placed.clear()

    def __repr__(self):
        return f"RayPool(n={self.n})"
