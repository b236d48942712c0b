"""Operators that follow their stragglers: an MDS code's k re-chosen while workers stay slow.

``op = rt.place(A, code=MDSCode(n, k), adapt=Adapt())`` keeps a copy of ``A`` on the
master. After each of its rounds the runtime's speed estimates (:mod:`~.speeds`) go to the
policy (:mod:`~.recoding`): with s workers persistently slow the operator should run
MDS(n, k′), ``k′ = max(1, round(k·(n − s)/n))``, and it switches before its next round when
the predicted saving over ``Adapt.horizon`` rounds covers the switch's cost: free to a
placement of MDS(n, k′) it still keeps (the last ``Adapt.keep``), else a re-placement
(re-encoding ``A`` and placing it as a new job), whose cost is the last one measured.
Kept placements cost storage: each worker holds ``Σ_j 1/k_j`` of ``A`` over the kept
k_j. Workers that recover leave the slow set (hysteresis), and k goes back up the same way.

Why a re-chosen k over all n workers rather than moving rows away from the slow ones: an
MDS(n, k′) round decodes from *any* k′ answers, so it needs no knowledge of which workers
are slow (a new straggler costs nothing) and the slow ones, still sent every round and
cancelled when late, are observed: a recovered worker answers among the first and is
seen at its true speed. Results stay exact: every round decodes one MDS code
(:class:`~coded.MDSCode`), checked as any other.

Each switch is a :class:`Decision` in ``op.decisions`` and ``rt.decisions`` (the last
round before it, the slow workers and how many times slower than the median they were,
the old and new code, the reason with the predicted round times, whether the new one was
kept, the seconds re-encoding and placing took, which the call that made the decision
pays), and an INFO record on the ``coded.scheduler`` logger. The rounds of a batch
(:meth:`~coded.scheduler.runtime.Job.map`) run ``window`` at a time so that a decision can
fall between them.

>>> import numpy as np
>>> from coded import MDSCode
>>> from coded.scheduler.runtime import Runtime
>>> from coded.scheduler.pool import InProcessPool
>>> A = np.arange(24.0).reshape(8, 3)
>>> with Runtime(4, pool=InProcessPool(4)) as rt:
...     op = rt.place(A, code=MDSCode(4, 2), adapt=Adapt())
...     np.allclose(op @ np.ones(3), A.sum(axis=1)), op.decisions
(True, [])
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import numpy as np

from coded import Code, MDSCode
from coded.checks import check_instance

from .recoding import Adapt, Recoding, predicted_round
from .runtime import CodedOperator, Runtime

__all__ = ["AdaptiveOperator", "Decision", "check_adapt"]

log = logging.getLogger("coded.scheduler")


def check_adapt(adapt, code: Code) -> Adapt:
    """``adapt`` if it is an :class:`~.recoding.Adapt` and ``code`` an MDS code, else an error
    naming the argument.

    >>> from coded import Replication
    >>> check_adapt(Adapt(), Replication(4, 2))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'adapt' re-chooses the k of an MDSCode, not of Replication(n=4, ...).
    """
    check_instance(adapt, "adapt", Adapt, "a coded.scheduler.recoding.Adapt or None")
    if not isinstance(code, MDSCode):
        raise ValueError(f"Argument 'adapt' re-chooses the k of an MDSCode, not of {code!r}.")
    return adapt


@dataclass(frozen=True)
class Decision:
    """One switch: after round ``round`` the ``slow`` workers (each ``ratios`` times slower
    than the median) made job ``job`` (code ``old``) give way to ``new_job`` (code ``new``),
    a placement ``kept`` from before or re-encoded and placed in ``seconds``, for
    ``reason``."""

    round: int
    job: int
    new_job: int
    slow: tuple[int, ...]
    ratios: tuple[float, ...]
    old: str
    new: str
    reason: str
    kept: bool
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class AdaptiveOperator(CodedOperator):
    """A :class:`~coded.scheduler.runtime.CodedOperator` whose MDS code's k follows the
    persistently slow workers (module docstring); made by ``Runtime.place(..., adapt=)``.

    Attributes:
        placed: the code ``A`` was first placed with (its k is the one adapted).
        adapt: the :class:`~.recoding.Adapt` policy.
        slow: the workers now persistently slow.
        decisions: this operator's switches (:class:`Decision`).
    """

    def __init__(self, runtime: Runtime, id: int, code: MDSCode, A, encode_s: float, adapt):
        super().__init__(runtime, id, code, np.shape(A), encode_s)
        self._A = np.array(A, copy=True)  # re-encoded at each decision: the caller's may change
        self.placed, self.adapt = code, adapt
        self._recoding = Recoding(adapt, runtime.n, code.k, cost=encode_s)
        self._kept = {code.k: CodedOperator(runtime, id, code, self.shape, encode_s)}
        self._at_switch: set[int] = set()  # the slow workers at the last switch
        self.decisions: list[Decision] = []

    @property
    def slow(self) -> tuple[int, ...]:
        return tuple(sorted(self._recoding.slow.slow))

    def _batch(self, argsets: list[tuple], window: int) -> list:
        """The rounds, ``window`` at a time, each group followed by the policy's decision."""
        results = []
        for start in range(0, len(argsets), window):
            group = argsets[start : start + window]
            results += super()._batch(group, window)
            for metrics in list(self.history)[-len(group) :]:
                speeds = np.array(metrics.speeds)
                self._recoding.observe(speeds)
            x = group[-1][0]
            work = self.shape[0] * self.shape[1] * (x.shape[1] if np.ndim(x) == 2 else 1)
            k = self._recoding.choose(speeds, work)
            if k is not None:
                self._switch(k, speeds, work)
        return results

    def _switch(self, k: int, speeds: np.ndarray, work: float) -> None:
        """Run MDS(n, k) from the next round on: a kept placement, or ``A`` re-placed."""
        runtime, n = self._runtime, self._runtime.n
        start, old, old_id = time.perf_counter(), self.code, self.id
        chosen = self._kept.get(k)
        kept = chosen is not None
        if not kept:
            chosen = runtime.place(self._A, type(old).from_config({**old.get_config(), "k": k}))
            self._kept[k] = chosen
        self.id, self.code = chosen.id, chosen.code
        seconds = time.perf_counter() - start
        for released in self._recoding.switched(k, None if kept else seconds):
            self._kept.pop(released).close()  # its shards are released
        slow = set(self.slow)
        joined, left = sorted(slow - self._at_switch), sorted(self._at_switch - slow)
        self._at_switch = slow
        changes = (("persistently slow", joined), ("recovered", left))
        reason = "; ".join(f"{label} {workers}" for label, workers in changes if workers)
        before, after = (predicted_round(speeds, work, j) for j in (old.k, k))
        ratios = self._recoding.slow.ratios(speeds)
        decision = Decision(
            self.metrics.round,
            old_id,
            self.id,
            self.slow,
            tuple(round(float(ratios[w]), 3) for w in self.slow),
            repr(old),
            repr(self.code),
            f"{reason or 'slow workers unchanged'}: {len(slow)} of {n} workers slow, "
            f"k = round({self.placed.k}·{n - len(slow)}/{n}) = {k}, predicted round "
            f"{before:.4g} s -> {after:.4g} s",
            kept,
            seconds,
        )
        self.decisions.append(decision)
        runtime.decisions.append(decision)
        log.info(
            "job %d after round %d: %s; %s %s as %s (job %d, %.3f s)",
            decision.job,
            decision.round,
            decision.reason,
            "switched from" if kept else "re-placed",
            decision.old,
            decision.new,
            decision.new_job,
            decision.seconds,
        )

    def close(self) -> None:
        """Release the shards of every placement kept (again: nothing)."""
        for placement in self._kept.values():
            placement.close()
        self._closed = True

    def __repr__(self):
        return (
            f"AdaptiveOperator(shape={self.shape}, code={self.code!r}, placed={self.placed!r}, "
            f"id={self.id})"
        )
