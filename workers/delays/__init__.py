"""Straggler delay models: seeded, reproducible per-worker delays for real runs and simulation.

One model object serves both sides. A real worker that took ``c`` seconds to compute round
``r`` waits a further ``(factor − 1)·c + extra`` seconds, so its round takes

    T = factor · c + extra,

and ``factor = inf`` means it crashes in that round (fail-stop). The simulator uses the
same formula in virtual time, with ``c`` the worker's share of the work. Both draw worker
``w``'s delays from ``np.random.default_rng([seed, w])``, so a simulated scenario and a
real run with the same seed see the same stragglers.

Every model is *prefix-consistent*: the first ``r`` rounds of ``sample(..., rounds=R)`` do
not depend on ``R``. Models draw uniforms ``rng.random((rounds, m))`` and transform them by
inverse CDFs, which is what makes :class:`WorkerDelays` answer ``at(round)`` identically
whatever its block size, and after a restart.

Models:
    ============================================  ===========================================
    :class:`NoDelay`                              factor 1, extra 0
    :class:`FixedDelay` (seconds, workers)        extra seconds on chosen workers
    :class:`Slowdown` (factor, workers)           a constant slowdown on chosen workers
    :class:`ShiftedExponential` (rate)            factor = 1 + Exp(rate) (Lee et al.)
    :class:`Exponential` (mean)                   extra = Exp with that mean (seconds)
    :class:`Pareto` (alpha, scale)                factor ~ Pareto(alpha), minimum ``scale``
    :class:`Bimodal` (probability, factor)        slow by ``factor`` with ``probability``
    :class:`PersistentSlow` (workers, factor)     chosen or random workers slow every round
    :class:`MarkovStragglers` (p_slow, ...)       two-state chain per worker, across rounds
    :class:`FailStop` (workers, round)            crash (factor = inf) in a round (or more)
    :class:`TraceReplay` (times)                  measured per-round, per-worker times
    :class:`Compose` (models...)                  factors multiply, extras add
    :class:`NetworkDelay` (network, bytes...)     extra = modelled transfer time of the
                                                  round's messages (:class:`Network`)
    :class:`Corrupt` (kind, workers, probability) a wrong answer: no delay, the worker
                                                  corrupts its result (random, sign, scale,
                                                  constant, nan, bits)
    ============================================  ===========================================

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
    A. Severinson, E. Rosnes, S. El Rouayheb, A. Graell i Amat, "DSAG: a mixed
    synchronous-asynchronous iterative method for straggler-resilient learning",
    IEEE T-Comm 2023, arXiv:2111.06852 (stragglers persist across iterations).
"""

from __future__ import annotations

from .base import Compose, DelayModel, Delays, WorkerDelays, delay_from_config
from .correlated import MarkovStragglers, PersistentSlow
from .corruption import Corrupt, corruptions
from .faults import FailStop
from .iid import Bimodal, Exponential, FixedDelay, NoDelay, Pareto, ShiftedExponential, Slowdown
from .network import Network, NetworkDelay, transfers
from .traces import TraceReplay, read_trace, write_trace

__all__ = [
    "Bimodal",
    "Compose",
    "Corrupt",
    "DelayModel",
    "Delays",
    "Exponential",
    "FailStop",
    "FixedDelay",
    "MarkovStragglers",
    "Network",
    "NetworkDelay",
    "NoDelay",
    "Pareto",
    "PersistentSlow",
    "ShiftedExponential",
    "Slowdown",
    "TraceReplay",
    "WorkerDelays",
    "corruptions",
    "delay_from_config",
    "read_trace",
    "transfers",
    "write_trace",
]
