"""The pool boundary: n workers the master can place shards on, dispatch to, wait on and cancel.

One small abstract :class:`Pool` and two implementations with the same behaviour:
:class:`~coded.scheduler.ray_pool.RayPool` (Ray actors) and :class:`InProcessPool` (one thread
per worker, real time), so the round logic and most scheduler tests run without Ray.

Each worker runs its rounds one at a time, in order, like the actor's one-thread compute
group: a cancelled task still queued is skipped, a running one stops at its next check.

A round may also be *streamed* (:meth:`Pool.stream`, for partial work): the worker reports
each piece of its answer as soon as it is done, and the task is ready whenever it has
reported something the master has not read (:meth:`Pool.news`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from coded.workers.delays import DelayModel
from coded.workers.emulation import Emulation
from coded.workers.worker import Cancelled, Done, Failed, Tag, Worker, WorkerCrash

__all__ = ["Pool", "Task", "InProcessPool", "check_shards"]


@dataclass(eq=False)
class Task:
    """One dispatched round on one worker; ``handle`` is what the pool waits on."""

    worker: int
    tag: Tag
    handle: object
    extra: object = field(default=None, repr=False)  # pool-specific (e.g. the value's ref)


class Pool(ABC):
    """n workers holding resident shards per job.

    Shards placed with :meth:`place` stay referenced by the pool until :meth:`drop`, so a
    worker that restarts reloads them. What a round computes is the job's kernel
    (:mod:`coded.workers.kernels`); the pool knows nothing of codes or fields.
    """

    n: int

    @abstractmethod
    def place(self, job: int, shards: Sequence[tuple], kernel: Callable) -> None:
        """Make ``shards[i]`` (a tuple of arrays) resident on worker i for ``job``; waits.

        Each round of ``job`` on worker i returns ``kernel(i, shards[i], args, cancelled,
        backend)`` (see :meth:`coded.workers.worker.Worker.load`).
        """

    @abstractmethod
    def drop(self, job: int) -> None:
        """Forget ``job``'s shards on every worker and in the pool."""

    def share(self, x):
        """A per-round operand every worker receives, stored once (``ray.put``)."""
        return x

    @abstractmethod
    def submit(self, worker: int, tag: Tag, args: tuple) -> Task:
        """Start round ``tag`` on ``worker`` with the round's arguments."""

    def stream(self, worker: int, tag: Tag, args: tuple) -> Task:
        """Start round ``tag`` on ``worker`` piece by piece
        (:meth:`~coded.workers.worker.Worker.stream`): the task is ready whenever it reported
        something not yet read with :meth:`news`."""
        raise NotImplementedError(f"{type(self).__name__} cannot stream a round's pieces")

    def news(self, tasks: Sequence[Task]) -> list[list[tuple]]:
        """What each ready streamed task reported since it was last read: ``(Piece, value)``
        items, the last one ``(outcome, None)``; a dead worker's stream ends ``(Failed, None)``."""
        raise NotImplementedError(f"{type(self).__name__} cannot stream a round's pieces")

    @abstractmethod
    def wait(self, tasks: Sequence[Task], num_returns: int, timeout: float) -> list[Task]:
        """Wait until ``num_returns`` of ``tasks`` are ready or ``timeout`` seconds pass."""

    @abstractmethod
    def outcome(self, task: Task) -> Done | Failed | Cancelled:
        """The outcome of a ready task; a dead worker becomes :class:`Failed`, never raises."""

    def outcomes(self, tasks: Sequence[Task]) -> list[Done | Failed | Cancelled]:
        """:meth:`outcome` of several ready tasks (one round trip where the pool can)."""
        return [self.outcome(task) for task in tasks]

    def restarted(self, task: Task) -> bool:
        """Whether failed ``task`` failed because its worker's process restarted and lost its
        shards (sent again, the round can still answer), not because of its round: an
        injected crash, say, would crash again. The in-process pool replaces a crashed worker
        with its shards before the next task, so never."""
        return False

    @abstractmethod
    def replace(self, worker: int) -> None:
        """Start ``worker`` afresh with its shards (re-placed from the pool's copy), as for a
        worker found faulty: whatever state made it answer wrong is gone."""

    @abstractmethod
    def fetch(self, tasks: Sequence[Task], timeout: float) -> list[np.ndarray]:
        """The values of finished tasks (only these are transferred to the master)."""

    @abstractmethod
    def cancel(self, tasks: Sequence[Task]) -> None:
        """Ask these tasks to stop (queued ones are skipped)."""

    def ping(self) -> list[int]:
        """Barrier: returns once every worker answers (their indices)."""
        return list(range(self.n))

    @abstractmethod
    def close(self) -> None:
        """Release the workers."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InProcessPool(Pool):
    """Workers as threads in this process: one single-thread executor per worker.

    An injected fail-stop crash kills the worker object; the pool replaces it with a
    fresh one that reloads its shards, as Ray restarts a dead actor. With ``emulate`` the
    workers sleep their calibrated compute time instead of computing
    (:mod:`coded.workers.emulation`).

    >>> import numpy as np
    >>> from coded.workers.kernels import Product
    >>> with InProcessPool(2) as pool:
    ...     pool.place(job=0, shards=[(np.eye(2),), (2 * np.eye(2),)], kernel=Product())
    ...     task = pool.submit(1, Tag(0, 0, 1), (np.ones(2),))
    ...     _ = pool.wait([task], 1, timeout=5)
    ...     pool.fetch([task], timeout=5)
    [array([2., 2.])]
    """

    def __init__(
        self,
        n: int,
        *,
        delays: DelayModel | None = None,
        seed: int = 0,
        emulate: Emulation | None = None,
    ):
        self.n = n
        self._delays = delays
        self._seed = seed
        self.emulate = emulate
        self._workers = [self._new_worker(i) for i in range(n)]
        self._threads = [ThreadPoolExecutor(1, thread_name_prefix=f"worker{i}") for i in range(n)]
        self._placed: dict[int, tuple] = {}
        self._lock = threading.Lock()
        self._news = threading.Condition()  # notified when a task finishes or reports

    def _new_worker(self, index: int) -> Worker:
        return Worker(index, n=self.n, delays=self._delays, seed=self._seed, emulate=self.emulate)

    def place(self, job, shards, kernel):
        check_shards(shards, self.n)
        if self.emulate is not None:
            self.emulate.check(kernel)
        self._placed[job] = (shards, kernel)
        for worker, shard in zip(self._workers, shards, strict=True):
            worker.load(job, shard, kernel)

    def drop(self, job):
        self._placed.pop(job, None)
        for worker in self._workers:
            worker.drop(job)

    def submit(self, worker, tag, args):
        flag = threading.Event()
        future = self._threads[worker].submit(self._run, worker, tag, args, flag)
        future.add_done_callback(self._notify)
        return Task(worker, tag, future, flag)

    def stream(self, worker, tag, args):
        flag, items = threading.Event(), deque()
        self._threads[worker].submit(self._stream, worker, tag, args, flag, items)
        return Task(worker, tag, items, flag)

    def _notify(self, *_) -> None:
        with self._news:
            self._news.notify_all()

    def _stream(self, index: int, tag: Tag, args: tuple, flag: threading.Event, items: deque):
        """Run a streamed round on worker ``index``, handing each item to ``items``."""

        def report(item) -> None:
            with self._news:
                items.append(item)
                self._news.notify_all()

        with self._lock:
            worker = self._workers[index]
        if flag.is_set():
            report((Cancelled(tag), None))
            return
        try:
            for item in worker.stream(tag, args, flag.is_set):
                report(item)
        except WorkerCrash as crash:
            self.replace(index)
            report((Failed(tag, "WorkerCrash", str(crash)), None))

    def _run(self, index: int, tag: Tag, args: tuple, flag: threading.Event):
        with self._lock:
            worker = self._workers[index]
        if flag.is_set():
            return Cancelled(tag), None
        try:
            return worker.compute(tag, args, flag.is_set)
        except WorkerCrash as crash:
            self.replace(index)
            return Failed(tag, "WorkerCrash", str(crash)), None

    def replace(self, worker: int) -> None:
        fresh = self._new_worker(worker)
        for job, (shards, kernel) in self._placed.items():
            fresh.load(job, shards[worker], kernel)
        with self._lock:
            self._workers[worker] = fresh

    def wait(self, tasks, num_returns, timeout):
        end = time.perf_counter() + timeout
        with self._news:
            while True:
                ready = [task for task in tasks if _ready(task)]
                left = end - time.perf_counter()
                if len(ready) >= num_returns or left <= 0:
                    return ready
                self._news.wait(left)

    def news(self, tasks):
        with self._news:
            out = [list(task.handle) for task in tasks]
            for task in tasks:
                task.handle.clear()
        return out

    def outcome(self, task):
        return task.handle.result()[0]

    def fetch(self, tasks, timeout):
        return [task.handle.result(timeout=timeout)[1] for task in tasks]

    def cancel(self, tasks):
        for task in tasks:
            task.extra.set()

    def close(self):
        for executor in self._threads:
            executor.shutdown(wait=False, cancel_futures=True)

    def __repr__(self):
        return f"InProcessPool(n={self.n}, delays={self._delays!r}, seed={self._seed})"


def _ready(task: Task) -> bool:
    """Whether an in-process task finished (a streamed one: reported something unread)."""
    return task.handle.done() if isinstance(task.handle, Future) else bool(task.handle)


def check_shards(shards: Sequence[tuple], n: int) -> None:
    if len(shards) != n:
        raise ValueError(f"Argument 'shards' must hold n={n} shards, not {len(shards)}.")
