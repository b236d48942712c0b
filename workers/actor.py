"""The Ray actor around :class:`~.worker.Worker`, the one module of ``workers`` using Ray.

Two concurrency groups of one thread each: ``compute`` runs rounds one at a time and
``control`` answers ping / health / load / drop / cancel_through while a round computes.
``ray.cancel`` cannot interrupt a running actor task, so the compute loop polls between
chunks and sleep slices: the worker's own flag, set by ``cancel_through(round)`` on the
control group (every round up to ``round`` is stale), and
``ray.get_runtime_context().is_canceled()``. A stale round still queued behind a straggler
returns at once when its turn comes, so no backlog builds up. The master uses the flag
rather than ``ray.cancel``, which on Ray 2.60 can miss a fresh task or leave the actor's
queue stuck (see :mod:`coded.scheduler.ray_pool`).

The actor restarts forever (``max_restarts=-1``) and never retries a task
(``max_task_retries=0``): the master decides what a death means for the round in flight
(:mod:`coded.scheduler.ray_pool`). ``__init__`` re-runs on restart with its small
constructor arguments (index, delay model, seed); a round of a job the restarted worker no
longer holds fails with ``NotLoaded``, and the master sends the round again with the
shard's ObjectRef (``reload``).
"""

from __future__ import annotations

import os
import time

import ray

from .backend import select_backend
from .delays import DelayModel
from .emulation import Emulation
from .worker import Tag, Worker, WorkerCrash

__all__ = ["WorkerActor", "start_workers"]


def _is_canceled() -> bool:
    return ray.get_runtime_context().is_canceled()


def _crash() -> None:
    """An injected fail-stop crash: the actor kills itself, Ray restarts it, the master sees
    the round fail. ``ray.kill`` rather than ``os._exit``, which Ray reports to the driver as
    an unexpected death ("A worker died ... OOM killer")."""
    ray.kill(ray.get_runtime_context().current_actor, no_restart=False)
    time.sleep(30)  # the kill ends this process within milliseconds
    os._exit(1)


class _WorkerActor:
    """A :class:`Worker` hosted by a Ray actor process."""

    def __init__(
        self,
        index: int,
        n: int,
        delays: DelayModel | None,
        seed: int,
        backend: str | None,
        emulate: Emulation | None = None,
    ):
        self._worker = Worker(
            index,
            n=n,
            delays=delays,
            seed=seed,
            backend=select_backend(backend, ray.get_gpu_ids()),
            emulate=emulate,
        )

    @ray.method(concurrency_group="compute", num_returns=2)
    def compute(self, job: int, round: int, *args, reload: list | None = None):
        """Round ``round`` of ``job`` on ``args`` (top-level, so Ray resolves their refs).

        Plain integers and no nested references: each one would cost the master's submit
        path (see :mod:`coded.scheduler.ray_pool`). ``reload`` is ``[ref, kernel]``, sent only
        when the master knows this worker lost the job's shard (a restart); nested, so Ray
        leaves the ref alone unless it is needed.
        """
        if reload is not None and not self._worker.has(job):
            ref, kernel = reload
            self._worker.load(job, ray.get(ref), kernel)
        try:
            return self._worker.compute(Tag(job, round, self._worker.index), args, _is_canceled)
        except WorkerCrash:
            _crash()

    @ray.method(concurrency_group="compute", num_returns="streaming")
    def stream(self, job: int, round: int, *args, reload: list | None = None):
        """Round ``round`` of ``job`` piece by piece, a streaming generator: ``(Piece, value)``
        as each piece is done, then ``(outcome, None)`` (:meth:`Worker.stream`); arguments
        as :meth:`compute`."""
        if reload is not None and not self._worker.has(job):
            ref, kernel = reload
            self._worker.load(job, ray.get(ref), kernel)
        try:
            yield from self._worker.stream(Tag(job, round, self._worker.index), args, _is_canceled)
        except WorkerCrash:
            _crash()

    @ray.method(concurrency_group="control")
    def load(self, job: int, operands: tuple, kernel) -> int:
        self._worker.load(job, operands, kernel)
        return self._worker.index

    @ray.method(concurrency_group="control")
    def cancel_through(self, round: int) -> None:
        self._worker.cancel_through(round)

    @ray.method(concurrency_group="control")
    def drop(self, job: int) -> None:
        self._worker.drop(job)

    @ray.method(concurrency_group="control")
    def ping(self) -> int:
        return self._worker.ping()

    @ray.method(concurrency_group="control")
    def health(self) -> dict:
        return self._worker.health()


WorkerActor = ray.remote(
    concurrency_groups={"compute": 1, "control": 1}, max_restarts=-1, max_task_retries=0
)(_WorkerActor)


def start_workers(
    n: int,
    *,
    num_cpus: float,
    num_gpus: float = 0.0,
    delays: DelayModel | None = None,
    seed: int = 0,
    backend: str | None = None,
    scheduling_strategy: str = "SPREAD",
    emulate: Emulation | None = None,
) -> list:
    """Create ``n`` worker actors (not waiting for them: ``ping`` them before timing anything).

    GPU workers ask for a fraction of a GPU (``num_gpus=0.125`` puts eight on one device).
    With ``emulate`` they sleep their calibrated compute time instead of computing
    (:mod:`coded.workers.emulation`).
    """
    return [
        WorkerActor.options(
            num_cpus=num_cpus, num_gpus=num_gpus, scheduling_strategy=scheduling_strategy
        ).remote(i, n, delays, seed, backend, emulate)
        for i in range(n)
    ]
