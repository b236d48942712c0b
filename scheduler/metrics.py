"""What one coded round cost, and where the time went; exportable as JSON.

Times are seconds; ``total_s`` runs from storing the round's operand (``share_s``, one
``ray.put``) to the decoded result. Per worker i, from the start of dispatch:
``started[i]`` and ``finished[i]`` are when the worker itself began and finished the round
(its clock: the per-worker latency), ``compute[i]`` how long its kernel ran, and ``seen[i]``
when the master saw its answer. The master reads answers in batches (one ``ray.wait`` for
several), so the workers of one batch share one ``seen`` time. ``oracle_s`` is the
earliest moment a decodable set had finished on the workers plus the decode time: the
latency of a master with no control overhead, the yardstick of the benchmark.
``speeds`` is the runtime's estimate of each worker's speed after the round
(:mod:`~coded.scheduler.speeds`: work per second, NaN for a worker not yet observed).
``master_cpu_s`` is the CPU time of the master's process over the round, every thread
counted (``time.process_time``): the master shares its node with workers, so what it burns
they lose. Rounds run in a pipeline (:meth:`~coded.scheduler.runtime.Job.map`) overlap;
each gets the mean over the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["RoundMetrics", "metrics_to_json", "summarize"]


@dataclass
class RoundMetrics:
    """One round: workers used, when each finished and when the master saw it, phase times,
    cancellations, failures, and the workers sent the round again after a restart
    (``retried``: what their first try answered; the second try's fate is in ``arrived``,
    ``cancelled`` or ``failures``).

    ``faulty`` names the workers whose answers were wrong, with why: not a result at all
    (screened: NaN, a wrong shape, ...; these are in ``failures`` too, as erasures) or
    located by error correction (``Runtime(byzantine=A)``). ``excluded`` lists the
    blocklisted workers the round was not sent to.

    A partial-work round (:mod:`~coded.scheduler.partial`) records, per worker, the chunks
    the decode used (``chunks``) and those it had reported by then (``chunks_seen``);
    ``used`` and ``arrived`` name the workers with any.

    An approximate code's round (:mod:`~coded.scheduler.policy`) records its ``policy``,
    the rule that ``stopped_by`` it (``"6 responses"``, ``"wait 0.05 s"``,
    ``"tolerance 0.01"``) and the ``error_estimate`` of the answers it decoded from."""

    job: int
    round: int
    strategy: str
    n: int
    needed: int
    used: tuple[int, ...] = ()
    arrived: tuple[int, ...] = ()
    cancelled: tuple[int, ...] = ()
    failures: dict[int, str] = field(default_factory=dict)
    retried: dict[int, str] = field(default_factory=dict)
    faulty: dict[int, str] = field(default_factory=dict)
    excluded: tuple[int, ...] = ()
    stale: int = 0
    seen: dict[int, float] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)
    finished: dict[int, float] = field(default_factory=dict)
    compute: dict[int, float] = field(default_factory=dict)
    encode_s: float = 0.0
    share_s: float = 0.0
    dispatch_s: float = 0.0
    wait_s: float = 0.0
    cancel_s: float = 0.0
    fetch_s: float = 0.0
    decode_s: float = 0.0
    total_s: float = 0.0
    oracle_s: float = float("nan")
    master_cpu_s: float = float("nan")
    policy: str = ""
    stopped_by: str = ""
    error_estimate: float = float("nan")
    speeds: tuple[float, ...] = ()
    chunks: dict[int, int] = field(default_factory=dict)
    chunks_seen: dict[int, int] = field(default_factory=dict)

    @property
    def overhead_s(self) -> float:
        """Time the master spent beyond the oracle (control overhead of the round)."""
        return self.total_s - self.oracle_s

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (worker indices become string keys in JSON)."""
        out = asdict(self)
        out["overhead_s"] = self.overhead_s
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)


def metrics_to_json(metrics: Iterable[RoundMetrics], **kwargs) -> str:
    """A JSON list of rounds.

    >>> text = metrics_to_json([RoundMetrics(job=0, round=0, strategy="MDS", n=3, needed=2)])
    >>> json.loads(text)[0]["needed"]
    2
    """
    return json.dumps([m.to_dict() for m in metrics], **kwargs)


def summarize(metrics: Iterable[RoundMetrics]) -> dict:
    """Medians and 90th percentiles of a run's rounds, and totals of cancellations, failures
    and faulty answers."""
    metrics = list(metrics)
    if not metrics:
        return {"rounds": 0}

    def stats(values):
        values = np.asarray(list(values), dtype=float)
        return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90))}

    return {
        "rounds": len(metrics),
        "total_s": stats(m.total_s for m in metrics),
        "oracle_s": stats(m.oracle_s for m in metrics),
        "overhead_s": stats(m.overhead_s for m in metrics),
        "wait_s": stats(m.wait_s for m in metrics),
        "decode_s": stats(m.decode_s for m in metrics),
        "master_cpu_s": stats(m.master_cpu_s for m in metrics),
        "cancelled": sum(len(m.cancelled) for m in metrics),
        "failures": sum(len(m.failures) for m in metrics),
        "faulty": sum(len(m.faulty) for m in metrics),
    }
