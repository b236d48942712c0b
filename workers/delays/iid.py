"""Independent models: every round, every worker draws afresh (or is fixed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coded.checks import check_number

from .base import DelayModel, check_workers, chosen, exponential, set_field

__all__ = [
    "NoDelay",
    "FixedDelay",
    "Slowdown",
    "ShiftedExponential",
    "Exponential",
    "Pareto",
    "Bimodal",
]


@dataclass(frozen=True, eq=False, repr=False)
class NoDelay(DelayModel):
    """No injected delay: factor 1, extra 0.

    >>> NoDelay().sample(0, n=2, rounds=3, rng=np.random.default_rng(0)).factor.tolist()
    [1.0, 1.0, 1.0]
    """

    def _sample(self, worker, n, rounds, rng):
        return 1.0, 0.0


@dataclass(frozen=True, eq=False, repr=False)
class FixedDelay(DelayModel):
    """``seconds`` of extra delay every round on ``workers`` (``None``: all workers).

    >>> FixedDelay(0.5, workers=[0]).sample(0, n=3, rounds=2, rng=np.random.default_rng(0)).extra
    array([0.5, 0.5])
    """

    seconds: float
    workers: tuple[int, ...] | None = None

    def __post_init__(self):
        set_field(self, "seconds", check_number(self.seconds, "seconds", minimum=0))
        set_field(self, "workers", check_workers(self.workers))

    def _sample(self, worker, n, rounds, rng):
        return 1.0, self.seconds if chosen(self.workers, worker) else 0.0


@dataclass(frozen=True, eq=False, repr=False)
class Slowdown(DelayModel):
    """A constant slowdown ``factor`` every round on ``workers`` (``None``: all workers).

    >>> Slowdown(4, workers=[2]).sample(1, n=3, rounds=2, rng=np.random.default_rng(0)).factor
    array([1., 1.])
    """

    factor: float
    workers: tuple[int, ...] | None = None

    def __post_init__(self):
        set_field(self, "factor", check_number(self.factor, "factor", minimum=1))
        set_field(self, "workers", check_workers(self.workers))

    def _sample(self, worker, n, rounds, rng):
        return self.factor if chosen(self.workers, worker) else 1.0, 0.0


@dataclass(frozen=True, eq=False, repr=False)
class ShiftedExponential(DelayModel):
    """Lee et al.'s model: ``factor = 1 + Exp(rate)``, so a worker with 1/k of the work takes
    ``(1/k)·(1 + Exp(μ))``. The expected k-th of n finish times is then

        E[T(k:n)] = (1/k) · (1 + (H_n − H_{n−k}) / μ).

    >>> d = ShiftedExponential(2.0).sample(0, n=1, rounds=100_000, rng=np.random.default_rng(0))
    >>> bool(d.factor.min() >= 1) and round(float(d.factor.mean()), 2)
    1.5

    References:
        K. Lee et al., "Speeding up distributed machine learning using codes", arXiv:1512.02673.
    """

    rate: float = 1.0

    def __post_init__(self):
        set_field(self, "rate", check_number(self.rate, "rate", minimum=0, above=True))

    def _sample(self, worker, n, rounds, rng):
        return 1.0 + exponential(rng.random(rounds)) / self.rate, 0.0


@dataclass(frozen=True, eq=False, repr=False)
class Exponential(DelayModel):
    """Exponentially distributed extra seconds with the given ``mean`` (rate μ = 1/mean).

    With no compute time, the k-th of n finish times has ``E = mean · Σ_{i=n−k+1}^{n} 1/i``.

    >>> e = Exponential(0.2).sample(0, n=1, rounds=100_000, rng=np.random.default_rng(0)).extra
    >>> round(float(e.mean()), 2)
    0.2
    """

    mean: float

    def __post_init__(self):
        set_field(self, "mean", check_number(self.mean, "mean", minimum=0, above=True))

    def _sample(self, worker, n, rounds, rng):
        return 1.0, self.mean * exponential(rng.random(rounds))


@dataclass(frozen=True, eq=False, repr=False)
class Pareto(DelayModel):
    """Heavy-tailed slowdowns: ``factor`` ~ Pareto type I with shape ``alpha`` and minimum
    ``scale``, ``P(factor > x) = (scale / x)^alpha`` for ``x >= scale``.

    The mean ``alpha·scale/(alpha−1)`` is finite only for ``alpha > 1``.

    >>> f = Pareto(3.0).sample(0, n=1, rounds=100_000, rng=np.random.default_rng(0)).factor
    >>> round(float(f.mean()), 1)
    1.5
    """

    alpha: float
    scale: float = 1.0

    def __post_init__(self):
        set_field(self, "alpha", check_number(self.alpha, "alpha", minimum=0, above=True))
        set_field(self, "scale", check_number(self.scale, "scale", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        return self.scale * (1.0 - rng.random(rounds)) ** (-1.0 / self.alpha), 0.0


@dataclass(frozen=True, eq=False, repr=False)
class Bimodal(DelayModel):
    """Each round, each worker independently is slow by ``factor`` with ``probability``.

    >>> f = Bimodal(0.25, 10).sample(0, n=1, rounds=100_000, rng=np.random.default_rng(0)).factor
    >>> sorted(set(f.tolist())), round(float((f > 1).mean()), 2)
    ([1.0, 10.0], 0.25)
    """

    probability: float
    factor: float

    def __post_init__(self):
        probability = check_number(self.probability, "probability", minimum=0, maximum=1)
        set_field(self, "probability", probability)
        set_field(self, "factor", check_number(self.factor, "factor", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        return np.where(rng.random(rounds) < self.probability, self.factor, 1.0), 0.0
