"""The worker: resident operands, one kernel per job, injected straggling, tagged results.

A :class:`Worker` is a plain object (no Ray): the Ray actor in :mod:`coded.workers.actor` and
the in-process pool of :mod:`coded.scheduler.pool` both wrap it. It holds each job's operands
resident (moved once to its backend's device, or kept on the host for a host kernel) with
the job's kernel (:mod:`coded.workers.kernels`), and for a round computes

    kernel(index, operands, args, cancelled, backend)     e.g. left @ right, in row chunks

where the kernel asks ``cancelled()`` (and so whether the master cancelled every round up
to this one, :meth:`Worker.cancel_through`) between chunks. A straggler is injected afterwards:
for the round's ``(factor, extra)`` from :class:`~coded.workers.delays.WorkerDelays` it waits a
further ``(factor − 1)·c + extra`` seconds (``c`` the measured compute time) in short
slices, still asking ``cancelled()``; ``factor = ∞`` is a fail-stop crash
(:class:`WorkerCrash`, which the actor turns into the death of its process). A wrong answer
is injected too when the delay model holds a :class:`~coded.workers.delays.Corrupt`: the
result is corrupted after computing, seeded per (worker, round). A
:class:`~coded.workers.delays.NetworkDelay` whose message sizes are None adds the modelled
transfer time of the round's measured arguments (down) and answer (up) to ``extra``.

With ``emulate`` (an :class:`~coded.workers.emulation.Emulation`), the kernel is not run:
the worker sleeps its calibrated single-core time ``c`` for the round's cost (in slices
that ask ``cancelled()``) and answers zeros of the kernel's output shape. The delays then
apply as above. Emulation measures the control plane; its values are not the product. An
emulated worker sleeps (compute and delay) on an event that :meth:`Worker.cancel_through`
sets, asking ``cancelled()`` only every :data:`EMULATED_SLICE`: n sleeping workers on a few
cores must not spend them waking up to poll.

Every outcome carries its :class:`Tag` (job, round, worker), so the master can discard
results of stale rounds. Exceptions never escape ``compute``: they come back as a
:class:`Failed` record with the worker index and the traceback text.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import math
import os
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .backend import Backend, NumpyBackend
from .delays import DelayModel, WorkerDelays, corruptions, transfers
from .emulation import Emulation
from .kernels import check_kernel

__all__ = [
    "Tag",
    "Done",
    "Failed",
    "Cancelled",
    "Piece",
    "Worker",
    "WorkerCrash",
    "NotLoaded",
    "SLEEP_SLICE",
    "EMULATED_SLICE",
]

SLEEP_SLICE = 0.005  # seconds between cancellation checks while an injected delay runs
EMULATED_SLICE = 0.05  # the same for an emulated worker, which cancel_through wakes at once


@dataclass(frozen=True)
class Tag:
    """Which job, round and worker a task belongs to."""

    job: int
    round: int
    worker: int


@dataclass(frozen=True)
class Done:
    """A finished task: its tag and timing (``started_at``, ``finished_at``: ``time.time()``)."""

    tag: Tag
    compute_s: float
    injected_s: float
    started_at: float
    finished_at: float


@dataclass(frozen=True)
class Piece:
    """One piece of a round's answer, reported as soon as it was done (:meth:`Worker.stream`):
    its ``number`` among the kernel's pieces, in the order the worker computes them, and
    when it finished (``time.time()``, its injected delay included)."""

    tag: Tag
    number: int
    finished_at: float


@dataclass(frozen=True)
class Failed:
    """A task that raised on the worker: the exception's type, message and traceback text."""

    tag: Tag
    error: str
    message: str
    traceback: str = ""

    @property
    def reason(self) -> str:
        return f"{self.error}: {self.message}"


@dataclass(frozen=True)
class Cancelled:
    """A task that saw its cancellation flag and stopped early."""

    tag: Tag


class WorkerCrash(BaseException):
    """An injected fail-stop crash: the process hosting the worker should exit.

    A ``BaseException`` so that ``except Exception`` in the compute path cannot swallow it.
    """


class NotLoaded(KeyError):
    """The worker holds no operands for the round's job (say, its process was restarted).

    It comes home as a :class:`Failed` record with ``error == "NotLoaded"``: the master
    sends the round again with the shard.
    """


@dataclass(frozen=True)
class _Job:
    operands: tuple  # resident operands, where ``backend`` keeps them
    kernel: Callable  # what a round computes (see coded.workers.kernels)
    backend: Backend  # the worker's backend, or the host's for a host kernel


def _never() -> bool:
    return False


class Worker:
    """One worker of ``n``: resident operands and a kernel per job, injected delays.

    Args:
        index: this worker's index, 0..n−1.
        n: number of workers (delay models may depend on it).
        delays: a :class:`~coded.workers.delays.DelayModel`, or None for no injection.
        seed: seed of the delay stream; worker ``index`` draws the same delays after a restart.
        backend: where operands live (default numpy).
        emulate: sleep each round's calibrated compute time instead of running the kernel,
            and answer zeros of its shape (:mod:`coded.workers.emulation`); None computes.

    >>> import numpy as np
    >>> from coded.workers.kernels import Product
    >>> worker = Worker(0, n=4)
    >>> worker.load(job=1, operands=(np.eye(3),), kernel=Product())
    >>> outcome, value = worker.compute(Tag(job=1, round=0, worker=0), args=(np.ones(3),))
    >>> type(outcome).__name__, value
    ('Done', array([1., 1., 1.]))
    """

    def __init__(
        self,
        index: int,
        *,
        n: int,
        delays: DelayModel | None = None,
        seed: int = 0,
        backend: Backend | None = None,
        emulate: Emulation | None = None,
    ):
        if not 0 <= index < n:
            raise ValueError(f"Argument 'index' must be in 0..n-1={n - 1}, not {index}.")
        self.index = index
        self.n = n
        self.backend = backend if backend is not None else NumpyBackend()
        self._delays = None if delays is None else WorkerDelays(delays, index, n, seed)
        self._corruptions, self._seed = corruptions(delays), seed
        self._transfers = transfers(delays)  # network delays of measured message sizes
        self._jobs: dict[int, _Job] = {}
        self._host = NumpyBackend()
        self._cancelled_through = -1
        if emulate is not None and not isinstance(emulate, Emulation):
            raise TypeError(f"Argument 'emulate' must be an Emulation or None, not {emulate!r}.")
        self.emulate = emulate
        self._woken = threading.Event()  # set by cancel_through: an emulated sleep ends early

    # -- control -----------------------------------------------------------------------
    def load(self, job: int, operands: Sequence, kernel: Callable) -> None:
        """Keep ``operands`` resident for ``job``, whose rounds compute ``kernel``.

        The operands move once to the worker's device, or stay on the host when
        ``kernel.on_host`` is true (the default for a kernel that does not say).
        An emulated worker keeps only their shapes, and refuses a kernel that declares no
        cost (TypeError).
        """
        check_kernel(kernel)
        if self.emulate is not None:
            self.emulate.check(kernel)
            self._jobs[job] = _Job(self.emulate.placeholders(operands), kernel, self._host)
            return
        backend = self._host if getattr(kernel, "on_host", True) else self.backend
        self._jobs[job] = _Job(tuple(backend.to_device(x) for x in operands), kernel, backend)

    def has(self, job: int) -> bool:
        return job in self._jobs

    def drop(self, job: int) -> None:
        self._jobs.pop(job, None)

    def cancel_through(self, round: int) -> None:
        """Treat every round up to ``round`` as cancelled (the master has moved on from them).

        The master finishes rounds in order (pipelined ones too), so one number covers a
        running round and any stale rounds still queued behind it, never a later round in
        flight; it does not depend on when Ray delivers a cancel.
        """
        self._cancelled_through = max(self._cancelled_through, round)
        self._woken.set()

    def ping(self) -> int:
        return self.index

    def health(self) -> dict:
        """What this worker holds and where it runs, and the BLAS threads its products use
        (Ray sets ``OMP_NUM_THREADS`` to an actor's whole CPUs, at least 1, and OpenBLAS
        follows it, so fractional-CPU workers never oversubscribe their node)."""
        from threadpoolctl import threadpool_info

        return {
            "worker": self.index,
            "pid": os.getpid(),
            "backend": self.backend.name,
            "jobs": sorted(self._jobs),
            "blas_threads": max(
                (pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"),
                default=0,
            ),
            "emulate": self.emulate,
        }

    # -- compute -----------------------------------------------------------------------
    def compute(self, tag: Tag, args: Sequence = (), cancelled: Callable[[], bool] = _never):
        """Run one round: ``(outcome, value)`` with ``value`` a numpy array, or None unless Done.

        ``outcome`` is :class:`Done`, :class:`Failed` or :class:`Cancelled`; only an injected
        fail-stop crash raises (:class:`WorkerCrash`).
        """
        started_at, start = time.time(), time.perf_counter()

        def stop() -> bool:
            return tag.round <= self._cancelled_through or cancelled()

        if stop():  # a stale round that waited in the queue: skip it, crash or not
            self._skip(tag, args)
            return Cancelled(tag), None
        try:
            factor, extra = self._delays.at(tag.round) if self._delays is not None else (1.0, 0.0)
            if math.isinf(factor):
                raise WorkerCrash(f"worker {self.index} fail-stop crash in round {tag.round}")
            job = self._job(tag.job)
            value = self._run(job, tuple(args), stop)
            if value is None:
                return Cancelled(tag), None
            for corruption in self._corruptions:  # injected wrong answers
                value = corruption.apply(value, self.index, tag.round, self._seed)
            compute_s = time.perf_counter() - start
            injected = (factor - 1.0) * compute_s + extra
            for network in self._transfers:  # the round's arguments down, its answer up
                injected += network.measured(self.index, self.n, args, value)
            if not self._sleep(injected, stop):
                return Cancelled(tag), None
            finished = time.perf_counter()
            return Done(
                tag,
                compute_s,
                finished - start - compute_s,
                started_at,
                started_at + finished - start,
            ), value
        except Exception as exc:  # noqa: BLE001 - every error goes home as a value
            return Failed(tag, type(exc).__name__, str(exc), traceback.format_exc()), None

    def stream(self, tag: Tag, args: Sequence = (), cancelled: Callable[[], bool] = _never):
        """Run one round piece by piece (partial work): yield ``(Piece, value)`` as each of the
        kernel's pieces is done, then ``(outcome, None)`` with ``outcome`` :class:`Done`,
        :class:`Failed` or :class:`Cancelled`; only an injected fail-stop crash raises.

        The kernel's ``stream`` gives the pieces (a kernel without one is a single piece);
        an emulated worker sleeps each piece's share of the calibrated time. The injected
        delay is spread over the pieces, so a slow worker is slow throughout: a piece that
        took ``c_r`` seconds is held a further ``(factor − 1)·c_r + extra / pieces`` (plus,
        with a measuring :class:`~coded.workers.delays.NetworkDelay`, its own transfer; the
        round's arguments count with the first piece). Injected wrong answers corrupt
        every piece.
        """
        started_at, start = time.time(), time.perf_counter()

        def stop() -> bool:
            return tag.round <= self._cancelled_through or cancelled()

        if stop():
            yield Cancelled(tag), None
            return
        try:
            factor, extra = self._delays.at(tag.round) if self._delays is not None else (1.0, 0.0)
            if math.isinf(factor):
                raise WorkerCrash(f"worker {self.index} fail-stop crash in round {tag.round}")
            job = self._job(tag.job)
            count = getattr(job.kernel, "pieces", 1)
            compute_s, mark, done = 0.0, time.perf_counter(), 0
            for number, value in enumerate(self._pieces(job, tuple(args), stop)):
                spent = time.perf_counter() - mark
                compute_s += spent
                for corruption in self._corruptions:
                    value = corruption.apply(value, self.index, tag.round, self._seed)
                injected = (factor - 1.0) * spent + extra / count
                for network in self._transfers:
                    injected += network.measured(
                        self.index, self.n, args if not number else (), value
                    )
                if not self._sleep(injected, stop):
                    break
                done = number + 1
                yield Piece(tag, number, started_at + time.perf_counter() - start), value
                mark = time.perf_counter()
            finished = time.perf_counter()
            if done < count:
                yield Cancelled(tag), None
                return
            yield (
                Done(
                    tag,
                    compute_s,
                    finished - start - compute_s,
                    started_at,
                    started_at + finished - start,
                ),
                None,
            )
        except Exception as exc:  # noqa: BLE001 - every error goes home as a value
            yield Failed(tag, type(exc).__name__, str(exc), traceback.format_exc()), None

    def _pieces(self, job: _Job, args: tuple, stop: Callable[[], bool]):
        """The kernel's pieces as each is done (emulated: zeros of each piece's shape after
        its calibrated time); they stop once ``stop()``."""
        kernel = job.kernel
        if self.emulate is not None:
            for cost in kernel.cost(job.operands, args).split(getattr(kernel, "pieces", 1)):
                if not self._sleep(self.emulate.seconds(cost), stop):
                    return
                yield cost.output()
        elif callable(getattr(kernel, "stream", None)):
            yield from kernel.stream(self.index, job.operands, args, stop, job.backend)
        else:
            value = kernel(self.index, job.operands, args, stop, job.backend)
            if value is not None:
                yield value

    def _run(self, job: _Job, args: tuple, stop: Callable[[], bool]):
        """The kernel's value, or (emulated) zeros of its shape after its calibrated time."""
        if self.emulate is None:
            return job.kernel(self.index, job.operands, args, stop, job.backend)
        cost = job.kernel.cost(job.operands, args)
        return cost.output() if self._sleep(self.emulate.seconds(cost), stop) else None

    def _sleep(self, seconds: float, stop: Callable[[], bool]) -> bool:
        """Sleep ``seconds``; False once ``stop()``. Emulated: woken by ``cancel_through``."""
        if self.emulate is None:
            return _sleep(seconds, stop)
        end = time.perf_counter() + seconds
        while True:
            self._woken.clear()  # before asking: a cancel_through after it sets it again
            if stop():
                return False
            left = end - time.perf_counter()
            if left <= 0:
                return True
            self._woken.wait(min(EMULATED_SLICE, left))

    def _skip(self, tag: Tag, args: Sequence) -> None:
        """Tell a kernel that keeps state across rounds (``kernel.skipped(index, args)``,
        e.g. a compressed broadcast's model) about a round it will not compute."""
        job = self._jobs.get(tag.job)
        skipped = getattr(job.kernel, "skipped", None) if job is not None else None
        if skipped is not None:
            skipped(self.index, tuple(args))

    def _job(self, job: int) -> _Job:
        if job not in self._jobs:
            raise NotLoaded(
                f"worker {self.index} holds no operands for job {job}; held: {sorted(self._jobs)}"
            )
        return self._jobs[job]


def _sleep(seconds: float, cancelled: Callable[[], bool]) -> bool:
    """Sleep ``seconds`` in slices; False as soon as ``cancelled()`` says so."""
    end = time.perf_counter() + seconds
    while True:
        if cancelled():
            return False
        left = end - time.perf_counter()
        if left <= 0:
            return True
        time.sleep(min(SLEEP_SLICE, left))
