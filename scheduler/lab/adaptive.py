"""Adapting to stragglers that persist: per-worker speed estimates and rebalanced loads.

Worker w holds a load ``ℓ_w`` (a fraction of the job, ``Σ_w ℓ_w = ρ``, the redundancy) of
coded rows of a rate-1/ρ MDS code over rows, in ``c`` equal chunks it reports as it goes
(:mod:`.partial`), so in a round its chunk j of c is done at

    t_w(j) = extra_w + work · ℓ_w · factor_w · j / c,

and the round ends when the rows of the chunks done reach the job:
``L = min {t : Σ_w (ℓ_w / c) · #{j : t_w(j) ≤ t} ≥ 1}``. With c = 1 (whole answers),
ρ = 1 is uncoded (every worker needed) and equal loads 1/k are MDS(n, k), the k-th answer;
equal loads 1/k in c chunks are :func:`~.partial.chunked_mds`. The master sees only these
times: for a worker whose last chunk by L is its m-th it observes the speed
``ŝ_w = work · ℓ_w · (m/c) / t_w(m)`` (1/factor without extras), and for one with none
only the bound ``work · ℓ_w / (c · L)`` (none if the round never ends). Its estimate is
an EWMA,

    s_w ← (1 − α) s_w + α · ŝ_w        (no chunk: ŝ_w = min(s_w, work · ℓ_w / (c · L))),

and once any load would move by more than ``tolerance`` of itself, it rebalances the
next round to loads in proportion to the estimates, ``ℓ_w = ρ · s_w / Σ_v s_v``, and logs
the decision. With all speeds known and no extras, every worker is then a fraction t/ρ·I
through its load at time t, for ``I = work / Σ_w (1/factor_w)`` the load-balanced ideal:
whole answers end the round at ρ·I, chunks at I (up to a chunk).

Rebalancing is free here: a real runtime moves or re-encodes rows unless each worker
stores more than it computes (``AdaptiveResult.loads`` shows how much more).

References:
    A. Severinson, E. Rosnes, S. El Rouayheb, A. Graell i Amat, "DSAG: a mixed
    synchronous-asynchronous iterative method for straggler-resilient learning",
    IEEE T-Comm 2023, arXiv:2111.06852.
    A. Reisizadeh, S. Prakash, R. Pedarsani, A. S. Avestimehr, "Coded computation over
    heterogeneous clusters", IEEE T-IT 2019, arXiv:1701.05973 (loads by speed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coded.checks import check_int, check_number
from coded.workers.delays import DelayModel, Delays

from .simulator import sample_delays

__all__ = ["AdaptiveResult", "Rebalance", "simulate_adaptive"]

_EXACT = 1e-9  # loads that reach the job up to rounding


@dataclass(frozen=True)
class Rebalance:
    """The policy: redundancy ``ρ = Σ_w ℓ_w`` in [1, n], EWMA weight ``smoothing`` α in
    (0, 1], the relative change of a load that triggers a rebalance, and the ``chunks``
    each worker reports its load in (1: whole answers).

    >>> Rebalance(redundancy=2.0, chunks=16)
    Rebalance(redundancy=2.0, smoothing=0.5, tolerance=0.1, chunks=16)
    """

    redundancy: float = 1.0
    smoothing: float = 0.5
    tolerance: float = 0.1
    chunks: int = 1

    def __post_init__(self):
        check_int(self.chunks, "chunks", minimum=1)
        check_number(self.redundancy, "redundancy", minimum=1)
        check_number(self.smoothing, "smoothing", minimum=0, above=True, maximum=1)
        check_number(self.tolerance, "tolerance", minimum=0)


@dataclass(frozen=True, eq=False)
class AdaptiveResult:
    """Per-round outcomes: ``latency`` (rounds,), the ``loads`` each round ran with and the
    ``speeds`` estimated after it (rounds, n), and the ``decisions`` (a dict per rebalance:
    the first ``round`` with the ``new`` loads, and the ``old`` ones)."""

    policy: Rebalance
    latency: np.ndarray
    loads: np.ndarray
    speeds: np.ndarray
    decisions: list[dict]

    def mean_after(self, warmup: int) -> float:
        """Mean latency of the rounds after the first ``warmup``."""
        warmup = check_int(warmup, "warmup", minimum=0, maximum=self.latency.size - 1)
        return float(self.latency[warmup:].mean())


def simulate_adaptive(
    policy: Rebalance,
    delays: DelayModel | Delays,
    n: int,
    *,
    rounds: int = 200,
    seed: int = 0,
    work: float = 1.0,
) -> AdaptiveResult:
    """Run ``rounds`` rounds of ``policy`` from equal loads ``ρ/n`` and speeds 1, one
    round after the other (each round's loads depend on the last), vectorised over workers.

    ``delays`` is a model (sampled as :func:`~.simulator.simulate` does, so the same seed
    gives the same stragglers) or delays of shape ``(rounds, n)``.

    >>> from coded.workers.delays import PersistentSlow
    >>> policy = Rebalance(tolerance=0.01)
    >>> result = simulate_adaptive(policy, PersistentSlow([0], factor=4.0), n=4, rounds=30)
    >>> [round(float(x), 3) for x in result.loads[-1]]   # speeds 1/4, 1, 1, 1
    [0.077, 0.308, 0.308, 0.308]
    >>> round(float(result.latency[0]), 2), round(float(result.latency[-1]), 3)  # 1/(3 + 1/4)
    (1.0, 0.308)
    """
    if not isinstance(policy, Rebalance):
        raise TypeError(f"Argument 'policy' must be a Rebalance, not {policy!r}.")
    n = check_int(n, "n", minimum=1)
    if policy.redundancy > n:
        raise ValueError(
            f"Argument 'policy' must have redundancy at most n={n}, not {policy.redundancy:g}."
        )
    work = check_number(work, "work", minimum=0, above=True)
    if not isinstance(delays, Delays):
        delays = sample_delays(delays, n, rounds, seed)
    factor, extra = np.asarray(delays.factor), np.asarray(delays.extra)
    if factor.ndim != 2 or factor.shape[1] != n or extra.shape != factor.shape:
        raise ValueError(f"Argument 'delays' must hold arrays of shape (rounds, n={n}).")
    total = len(factor)
    loads, speeds = np.empty((total, n)), np.empty((total, n))
    latency = np.empty(total)
    load, speed = np.full(n, policy.redundancy / n), np.ones(n)
    decisions = []
    steps = np.arange(1, policy.chunks + 1) / policy.chunks
    for r in range(total):
        done = extra[r, :, None] + (work * load * factor[r])[:, None] * steps  # (n, c)
        latency[r] = _round_end(done, load)
        loads[r] = load
        speed = _estimate(speed, work * load, done, latency[r], policy.smoothing)
        speeds[r] = speed
        target = policy.redundancy * speed / speed.sum()
        if np.max(np.abs(target - load) / load) > policy.tolerance:
            decisions.append({"round": r + 1, "old": load.tolist(), "new": target.tolist()})
            load = target
    return AdaptiveResult(policy, latency, loads, speeds, decisions)


def _round_end(done: np.ndarray, load: np.ndarray) -> float:
    """The first time the rows of the chunks ``done`` (n, c) reach the job (inf: never)."""
    times = done.ravel()
    rows = np.repeat(load / done.shape[1], done.shape[1])
    order = np.argsort(times, kind="stable")
    reached = np.cumsum(rows[order]) >= 1 - _EXACT
    return float(times[order][np.argmax(reached)]) if reached.any() else np.inf


def _estimate(speed, seconds, done, latency, smoothing) -> np.ndarray:
    """The EWMA update from what the master saw: each worker's last chunk by the end of the
    round, or a bound for one with none (none from a round that never ended), so the
    estimates stay positive."""
    c = done.shape[1]
    m = ((done <= latency) & np.isfinite(done)).sum(axis=1)  # chunks done, the first ones
    last = done[np.arange(len(done)), np.maximum(m, 1) - 1]
    bound = np.minimum(speed, seconds / (c * latency)) if np.isfinite(latency) else speed
    with np.errstate(divide="ignore", invalid="ignore"):
        seen = np.where(m > 0, seconds * m / (c * last), bound)
    return (1 - smoothing) * speed + smoothing * seen
