"""Exceptions raised by the master (:mod:`scheduler`).

Every exception subclasses a builtin, so ``except RuntimeError`` / ``except TimeoutError``
keep working::

    SchedulerError
    ├── RoundFailedError(SchedulerError, RuntimeError)   failures left too few workers to decode
    ├── RoundTimeoutError(SchedulerError, TimeoutError)  the round's deadline passed first
    ├── WorkerError(SchedulerError, RuntimeError)        a worker raised: its index, traceback
    └── ClosedError(SchedulerError, RuntimeError)        the job or its runtime was closed

A :class:`RoundFailedError` caused by worker exceptions is raised ``from`` the first
:class:`WorkerError`, so the worker's traceback text travels with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["SchedulerError", "RoundFailedError", "RoundTimeoutError", "WorkerError", "ClosedError"]


class SchedulerError(Exception):
    """Base class of every error raised on purpose by the scheduler."""


class RoundFailedError(SchedulerError, RuntimeError):
    """So many workers failed that the round can no longer be decoded.

    Raised as soon as the failures make decoding impossible, not at the deadline.

    Attributes:
        failures: worker index → why it failed (e.g. ``"ActorDiedError: ..."``).
        needed: the code's recovery threshold.
        n: number of workers.
    """

    def __init__(self, failures: Mapping[int, str], needed: int, n: int, round: int = -1):
        self.failures = dict(sorted(failures.items()))
        self.needed = int(needed)
        self.n = int(n)
        self.round = round
        reasons = "; ".join(f"worker {i}: {why}" for i, why in self.failures.items())
        super().__init__(
            f"round {round} cannot be decoded: {len(self.failures)} of {n} workers failed "
            f"({reasons}), and the workers left cannot form a decodable set (the code needs "
            f"at least {needed} responses)"
        )

    def __reduce__(self):
        return (type(self), (self.failures, self.needed, self.n, self.round))


class RoundTimeoutError(SchedulerError, TimeoutError):
    """The round's deadline passed before a decodable set of responses arrived.

    Attributes:
        arrived: the workers that answered in time.
        pending: the workers still computing.
        deadline: the deadline in seconds.
    """

    def __init__(
        self, arrived: Iterable[int], pending: Iterable[int], deadline: float, round: int = -1
    ):
        self.arrived = tuple(sorted(arrived))
        self.pending = tuple(sorted(pending))
        self.deadline = float(deadline)
        self.round = round
        super().__init__(
            f"round {round} missed its deadline of {self.deadline:g} s: workers "
            f"{list(self.arrived)} answered, workers {list(self.pending)} did not"
        )

    def __reduce__(self):
        return (type(self), (self.arrived, self.pending, self.deadline, self.round))


class WorkerError(SchedulerError, RuntimeError):
    """An exception raised on worker ``worker``, re-raised at the master.

    Attributes:
        worker: the worker's index.
        error: the exception's type name on the worker.
        traceback: the worker-side traceback text.
    """

    def __init__(self, worker: int, error: str, message: str, traceback: str = ""):
        self.worker = int(worker)
        self.error = error
        self.message = message
        self.traceback = traceback
        super().__init__(
            f"worker {worker} raised {error}: {message}"
            + (f"\n--- worker {worker} traceback ---\n{traceback}" if traceback else "")
        )

    def __reduce__(self):
        return (type(self), (self.worker, self.error, self.message, self.traceback))


class ClosedError(SchedulerError, RuntimeError):
    """A job, or the runtime it was placed on, was used after it was closed."""
