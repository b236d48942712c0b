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
    :class:`Bimodal` (p, factor)                  slow by ``factor`` with probability p
    :class:`PersistentSlow` (workers, factor)     chosen or random workers slow every round
    :class:`MarkovStragglers` (p_slow, ...)       two-state chain per worker, across rounds
    :class:`FailStop` (workers, round)            crash (factor = inf) in a round (or more)
    :class:`TraceReplay` (times)                  measured per-round, per-worker times
    :class:`Compose` (models...)                  factors multiply, extras add
    ============================================  ===========================================

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
    A. Severinson, E. Rosnes, S. El Rouayheb, A. Graell i Amat, "DSAG: a mixed
    synchronous-asynchronous iterative method for straggler-resilient learning",
    IEEE T-Comm 2023, arXiv:2111.06852 (stragglers persist across iterations).
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coded._code import check_int
from coded._config import registered

__all__ = [
    "Bimodal",
    "Compose",
    "DelayModel",
    "Delays",
    "Exponential",
    "FailStop",
    "FixedDelay",
    "MarkovStragglers",
    "NoDelay",
    "Pareto",
    "PersistentSlow",
    "ShiftedExponential",
    "Slowdown",
    "TraceReplay",
    "WorkerDelays",
    "delay_from_config",
    "read_trace",
    "write_trace",
]

_REGISTRY: dict[str, type[DelayModel]] = {}


@dataclass(frozen=True)
class Delays:
    """Per-round delays of one worker: arrays of shape ``(rounds,)``.

    Attributes:
        factor: multiplies the worker's compute time (``>= 1``; ``inf`` = crash).
        extra: seconds added after the compute (``>= 0``).
    """

    factor: np.ndarray
    extra: np.ndarray

    def time(self, compute) -> np.ndarray:
        """Round times ``factor · compute + extra`` for a compute time (seconds or array)."""
        return self.factor * compute + self.extra


class DelayModel:
    """Base class of the delay models: ``sample``, config round trip, registry.

    Subclasses are frozen dataclasses whose fields are the whole public state; they check
    their parameters in ``__post_init__`` and implement ``_sample(worker, n, rounds, rng)``
    returning ``(factor, extra)`` (arrays of shape ``(rounds,)`` or scalars).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            _REGISTRY[cls.__name__] = cls

    def sample(self, worker: int, n: int, rounds: int, rng: np.random.Generator) -> Delays:
        """The delays of ``worker`` (one of ``n``) for rounds ``0..rounds−1``.

        ``rng`` should be fresh, ``np.random.default_rng([seed, worker])``; the result
        is prefix-consistent in ``rounds`` for such a generator.

        >>> d = Slowdown(3.0, workers=[1]).sample(1, n=4, rounds=2, rng=np.random.default_rng(0))
        >>> d.factor.tolist(), d.extra.tolist()
        ([3.0, 3.0], [0.0, 0.0])
        """
        n = check_int(n, "n", minimum=1)
        worker = check_int(worker, "worker", minimum=0, maximum=n - 1, maximum_name="n-1")
        rounds = check_int(rounds, "rounds", minimum=0)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"Argument 'rng' must be a numpy Generator, not {type(rng).__name__}.")
        self._check_n(n)
        factor, extra = self._sample(worker, n, rounds, rng)
        return Delays(_full(factor, rounds), _full(extra, rounds))

    def _sample(self, worker: int, n: int, rounds: int, rng: np.random.Generator):
        raise NotImplementedError

    def _check_n(self, n: int) -> None:
        """Reject a number of workers the parameters do not fit (e.g. worker 9 of 8)."""
        workers = getattr(self, "workers", None)
        if isinstance(workers, tuple) and workers and workers[-1] >= n:
            raise ValueError(
                f"Argument 'workers' of {type(self).__name__} must name workers 0..n-1={n - 1}, "
                f"not {workers[-1]}."
            )

    def get_config(self) -> dict:
        """Constructor arguments plus ``type`` (YAML-ready); ``delay_from_config`` inverts it."""
        config = {"type": type(self).__name__}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            config[field.name] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config: Mapping) -> DelayModel:
        params = {k: v for k, v in config.items() if k != "type"}
        known = list(inspect.signature(cls).parameters)
        for key in params:
            if key not in known:
                raise ValueError(
                    f"unknown parameter {key!r} for {cls.__name__}; expected one of {known}"
                )
        return cls(**params)


def delay_from_config(config: Mapping) -> DelayModel:
    """Build a delay model from its config dict (e.g. a YAML ``delays:`` section).

    >>> delay_from_config({"type": "Bimodal", "p": 0.1, "factor": 5})
    Bimodal(p=0.1, factor=5.0)
    """
    if isinstance(config, DelayModel):
        return config
    cls = registered(config, _REGISTRY, "delays")
    try:
        return cls.from_config(config)
    except TypeError as exc:  # unknown or missing constructor arguments
        raise ValueError(f"bad arguments for delay type {config['type']!r}: {exc}") from exc


# -- parameter checks -----------------------------------------------------------------------


def _number(
    value,
    name: str,
    minimum: float | None = None,
    *,
    above: bool = False,
    maximum: float | None = None,
) -> float:
    """``value`` as a finite float within bounds, or an error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"Argument {name!r} must be a finite number, not {value!r}.")
    value = float(value)
    if minimum is not None and (value <= minimum if above else value < minimum):
        relation = "greater than" if above else "at least"
        raise ValueError(f"Argument {name!r} must be {relation} {minimum:g}, not {value:g}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Argument {name!r} must be at most {maximum:g}, not {value:g}.")
    return value


def _workers(value, name: str = "workers") -> tuple[int, ...] | None:
    """A sorted tuple of distinct worker indices (``None`` stays ``None``: all workers)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"Argument {name!r} must be a list of worker indices, not {value!r}.")
    return tuple(sorted({check_int(w, name, minimum=0) for w in value}))


def _set(model, name: str, value) -> None:
    object.__setattr__(model, name, value)


def _full(value, rounds: int) -> np.ndarray:
    out = np.empty(rounds)
    out[...] = value
    return out


def _exponential(u: np.ndarray) -> np.ndarray:
    """Standard exponential samples from uniforms on [0, 1) (inverse CDF)."""
    return -np.log1p(-u)


def _chosen(workers: tuple[int, ...] | None, worker: int) -> bool:
    return workers is None or worker in workers


# -- the models -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoDelay(DelayModel):
    """No injected delay: factor 1, extra 0.

    >>> NoDelay().sample(0, n=2, rounds=3, rng=np.random.default_rng(0)).factor.tolist()
    [1.0, 1.0, 1.0]
    """

    def _sample(self, worker, n, rounds, rng):
        return 1.0, 0.0


@dataclass(frozen=True)
class FixedDelay(DelayModel):
    """``seconds`` of extra delay every round on ``workers`` (``None``: all workers).

    >>> FixedDelay(0.5, workers=[0]).sample(0, n=3, rounds=2, rng=np.random.default_rng(0)).extra
    array([0.5, 0.5])
    """

    seconds: float
    workers: tuple[int, ...] | None = None

    def __post_init__(self):
        _set(self, "seconds", _number(self.seconds, "seconds", minimum=0))
        _set(self, "workers", _workers(self.workers))

    def _sample(self, worker, n, rounds, rng):
        return 1.0, self.seconds if _chosen(self.workers, worker) else 0.0


@dataclass(frozen=True)
class Slowdown(DelayModel):
    """A constant slowdown ``factor`` every round on ``workers`` (``None``: all workers).

    >>> Slowdown(4, workers=[2]).sample(1, n=3, rounds=2, rng=np.random.default_rng(0)).factor
    array([1., 1.])
    """

    factor: float
    workers: tuple[int, ...] | None = None

    def __post_init__(self):
        _set(self, "factor", _number(self.factor, "factor", minimum=1))
        _set(self, "workers", _workers(self.workers))

    def _sample(self, worker, n, rounds, rng):
        return self.factor if _chosen(self.workers, worker) else 1.0, 0.0


@dataclass(frozen=True)
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
        _set(self, "rate", _number(self.rate, "rate", minimum=0, above=True))

    def _sample(self, worker, n, rounds, rng):
        return 1.0 + _exponential(rng.random(rounds)) / self.rate, 0.0


@dataclass(frozen=True)
class Exponential(DelayModel):
    """Exponentially distributed extra seconds with the given ``mean`` (rate μ = 1/mean).

    With no compute time, the k-th of n finish times has ``E = mean · Σ_{i=n−k+1}^{n} 1/i``.

    >>> e = Exponential(0.2).sample(0, n=1, rounds=100_000, rng=np.random.default_rng(0)).extra
    >>> round(float(e.mean()), 2)
    0.2
    """

    mean: float

    def __post_init__(self):
        _set(self, "mean", _number(self.mean, "mean", minimum=0, above=True))

    def _sample(self, worker, n, rounds, rng):
        return 1.0, self.mean * _exponential(rng.random(rounds))


@dataclass(frozen=True)
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
        _set(self, "alpha", _number(self.alpha, "alpha", minimum=0, above=True))
        _set(self, "scale", _number(self.scale, "scale", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        return self.scale * (1.0 - rng.random(rounds)) ** (-1.0 / self.alpha), 0.0


@dataclass(frozen=True)
class Bimodal(DelayModel):
    """Each round, each worker independently is slow by ``factor`` with probability ``p``.

    >>> f = Bimodal(0.25, 10).sample(0, n=1, rounds=100_000, rng=np.random.default_rng(0)).factor
    >>> sorted(set(f.tolist())), round(float((f > 1).mean()), 2)
    ([1.0, 10.0], 0.25)
    """

    p: float
    factor: float

    def __post_init__(self):
        _set(self, "p", _number(self.p, "p", minimum=0, maximum=1))
        _set(self, "factor", _number(self.factor, "factor", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        return np.where(rng.random(rounds) < self.p, self.factor, 1.0), 0.0


@dataclass(frozen=True)
class PersistentSlow(DelayModel):
    """Workers slow by ``factor`` in every round: the persistent stragglers measured on
    clouds (DSAG). ``workers`` is either a list of indices or a count: that many of the n
    workers, chosen at random once from ``seed`` (a choice every worker agrees on, as it
    depends only on ``(workers, seed, n)``).

    >>> model = PersistentSlow(2, factor=10)
    >>> model.slow_workers(8)
    (2, 4)
    >>> model.sample(4, n=8, rounds=3, rng=np.random.default_rng(0)).factor.tolist()
    [10.0, 10.0, 10.0]
    >>> PersistentSlow([0, 5], factor=3).slow_workers(8)
    (0, 5)
    """

    workers: int | tuple[int, ...]
    factor: float
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.workers, numbers.Integral) and not isinstance(self.workers, bool):
            _set(self, "workers", check_int(self.workers, "workers", minimum=0))
        else:
            _set(self, "workers", _workers(self.workers))
        _set(self, "factor", _number(self.factor, "factor", minimum=1))
        _set(self, "seed", check_int(self.seed, "seed", minimum=0))

    def slow_workers(self, n: int) -> tuple[int, ...]:
        """The indices of the slow workers among ``n``."""
        n = check_int(n, "n", minimum=1)
        self._check_n(n)
        if isinstance(self.workers, tuple):
            return self.workers
        chosen = np.random.default_rng(self.seed).permutation(n)[: self.workers]
        return tuple(sorted(int(w) for w in chosen))

    def _check_n(self, n):
        if isinstance(self.workers, tuple):
            super()._check_n(n)
        elif self.workers > n:
            raise ValueError(
                f"Argument 'workers' of PersistentSlow must be at most n={n}, not {self.workers}."
            )

    def _sample(self, worker, n, rounds, rng):
        return self.factor if worker in self.slow_workers(n) else 1.0, 0.0


@dataclass(frozen=True)
class MarkovStragglers(DelayModel):
    """Stragglers correlated across rounds: a two-state Markov chain per worker.

    A fast worker turns slow with probability ``p_slow`` per round, a slow one recovers with
    probability ``p_recover``; a slow worker's factor is ``factor``. The chain starts in its
    stationary law, so a worker is slow in a fraction ``p_slow / (p_slow + p_recover)`` of
    the rounds, in spells of mean length ``1 / p_recover``. Spell lengths are geometric and
    drawn by inverse CDF, so sampling is vectorised over rounds.

    >>> f = MarkovStragglers(0.01, 0.1, 5).sample(0, 1, 200_000, np.random.default_rng(0)).factor
    >>> round(float((f > 1).mean()), 2)
    0.09
    """

    p_slow: float
    p_recover: float
    factor: float

    def __post_init__(self):
        _set(self, "p_slow", _number(self.p_slow, "p_slow", minimum=0, above=True, maximum=1))
        _set(
            self,
            "p_recover",
            _number(self.p_recover, "p_recover", minimum=0, above=True, maximum=1),
        )
        _set(self, "factor", _number(self.factor, "factor", minimum=1))

    @property
    def slow_fraction(self) -> float:
        """Stationary probability that a worker is slow."""
        return self.p_slow / (self.p_slow + self.p_recover)

    def _sample(self, worker, n, rounds, rng):
        if rounds == 0:
            return 1.0, 0.0
        starts_slow = rng.random() < self.slow_fraction
        u = rng.random((rounds, 2))  # one spell per state per row: at least 2·rounds rounds
        rates = [self.p_slow, self.p_recover]
        leave = np.array(rates[::-1] if starts_slow else rates)
        spells = np.floor(np.log1p(-u) / np.log1p(-leave)) + 1  # geometric(leave) ≥ 1
        spells = np.minimum(spells, rounds).astype(np.int64).ravel()
        used = int(np.searchsorted(np.cumsum(spells), rounds)) + 1
        slow = np.arange(used) % 2 == (0 if starts_slow else 1)
        states = np.repeat(slow, spells[:used])[:rounds]
        return np.where(states, self.factor, 1.0), 0.0


@dataclass(frozen=True)
class FailStop(DelayModel):
    """``workers`` crash (factor = inf) in round ``round`` and stay down for ``duration``
    rounds (``None``: for good). The runtime replaces a crashed worker, so ``duration=1``
    is one lost response; a longer duration models a node whose replacements fail too.

    >>> FailStop([1], round=2).sample(1, n=2, rounds=4, rng=np.random.default_rng(0)).factor
    array([ 1.,  1., inf,  1.])
    """

    workers: tuple[int, ...]
    round: int
    duration: int | None = 1

    def __post_init__(self):
        _set(self, "workers", _workers(self.workers))
        _set(self, "round", check_int(self.round, "round", minimum=0))
        if self.duration is not None:
            _set(self, "duration", check_int(self.duration, "duration", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        factor = np.ones(rounds)
        if worker in self.workers:
            end = None if self.duration is None else self.round + self.duration
            factor[self.round : end] = np.inf
        return factor, 0.0


class TraceReplay(DelayModel):
    """Replays measured per-round, per-worker times (rows = rounds, columns = workers).

    Worker w's factor in round r is ``times[r mod rounds, w] / scale``: the trace's
    slowdowns relative to ``scale`` (default: its fastest finite time), so a trace recorded
    on one workload replays on another. ``inf`` in the trace is a worker that never
    answered (a crash). ``times`` is an array or the path of a CSV (see :func:`read_trace`).

    >>> model = TraceReplay([[1.0, 2.0], [1.5, np.inf]])
    >>> model.sample(1, n=2, rounds=3, rng=np.random.default_rng(0)).factor
    array([ 2., inf,  2.])
    """

    def __init__(self, times, scale: float | None = None):
        self._path = str(times) if isinstance(times, str | Path) else None
        array = read_trace(times) if self._path is not None else _check_times(times, "times")
        array.setflags(write=False)
        self._times = array
        finite = array[np.isfinite(array)]
        if scale is None:
            if finite.size == 0:
                raise ValueError("Argument 'times' must contain at least one finite time.")
            scale = float(finite.min())
        self._scale = _number(scale, "scale", minimum=0, above=True)
        if finite.size and finite.min() < self._scale:
            raise ValueError(
                f"Argument 'scale' must be at most the fastest time in the trace, "
                f"{finite.min():g}, not {self._scale:g} (factors must be >= 1)."
            )

    @property
    def times(self) -> np.ndarray:
        """The trace (read-only), shape ``(rounds, workers)``, seconds."""
        return self._times

    @property
    def scale(self) -> float:
        return self._scale

    def _check_n(self, n):
        if n > self._times.shape[1]:
            raise ValueError(
                f"Argument 'n' must be at most the trace's {self._times.shape[1]} workers, not {n}."
            )

    def _sample(self, worker, n, rounds, rng):
        column = self._times[:, worker] / self._scale
        return np.resize(column, rounds), 0.0

    def get_config(self) -> dict:
        times = self._path if self._path is not None else self._times.tolist()
        return {"type": "TraceReplay", "times": times, "scale": self._scale}

    def __repr__(self):
        source = repr(self._path) if self._path else "array"
        rounds, workers = self._times.shape
        return f"TraceReplay({source}, rounds={rounds}, workers={workers}, scale={self._scale:g})"

    def __eq__(self, other):
        return (
            type(other) is TraceReplay
            and self._scale == other._scale
            and np.array_equal(self._times, other._times)
        )

    def __hash__(self):
        return hash((self._times.shape, self._scale, self._times.tobytes()))

    def __reduce__(self):
        return (TraceReplay, (np.array(self._times), self._scale))


class Compose(DelayModel):
    """Several models at once: factors multiply and extras add.

    Each part draws from its own generator, seeded from ``rng`` by a fixed number of draws,
    so the composition stays prefix-consistent.

    >>> model = Compose(Slowdown(2.0), FixedDelay(0.1))
    >>> model
    Compose(Slowdown(factor=2.0, workers=None), FixedDelay(seconds=0.1, workers=None))
    >>> d = model.sample(0, n=1, rounds=1, rng=np.random.default_rng(0))
    >>> d.factor.tolist(), d.extra.tolist()
    ([2.0], [0.1])
    """

    def __init__(self, *models: DelayModel):
        for i, model in enumerate(models):
            if not isinstance(model, DelayModel):
                raise TypeError(f"Argument 'models[{i}]' must be a DelayModel, not {model!r}.")
        self._models = tuple(models)

    @property
    def models(self) -> tuple[DelayModel, ...]:
        return self._models

    def _check_n(self, n):
        for model in self._models:
            model._check_n(n)

    def _sample(self, worker, n, rounds, rng):
        seeds = rng.integers(0, 2**63, size=len(self._models))
        factor, extra = np.ones(rounds), np.zeros(rounds)
        for model, seed in zip(self._models, seeds, strict=True):
            part = model._sample(worker, n, rounds, np.random.default_rng(seed))
            factor *= part[0]
            extra += part[1]
        return factor, extra

    def get_config(self) -> dict:
        return {"type": "Compose", "models": [m.get_config() for m in self._models]}

    @classmethod
    def from_config(cls, config):
        for key in config:
            if key not in ("type", "models"):
                raise ValueError(f"unknown parameter {key!r} for Compose; expected ['models']")
        models = config.get("models")
        if not isinstance(models, Sequence) or isinstance(models, str):
            raise ValueError(
                f"Argument 'models' of Compose must be a list of configs, not {models!r}."
            )
        parts = []
        for i, model in enumerate(models):
            try:
                parts.append(delay_from_config(model))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"models[{i}]: {exc}") from exc
        return cls(*parts)

    def __repr__(self):
        return f"Compose({', '.join(map(repr, self._models))})"

    def __eq__(self, other):
        return type(other) is Compose and other._models == self._models

    def __hash__(self):
        return hash(self._models)

    def __reduce__(self):
        return (Compose, self._models)


# -- per-worker streams and traces ---------------------------------------------------------------


class WorkerDelays:
    """The reproducible delay stream of one worker: ``at(round) -> (factor, extra)``.

    Samples come in blocks from ``np.random.default_rng([seed, worker])`` and are cached;
    as models are prefix-consistent, the answer for a round never depends on the block
    size, so a restarted worker (or the simulator) sees the same delays.

    >>> stream = WorkerDelays(Bimodal(0.5, 4.0), worker=3, n=8, seed=7)
    >>> stream.at(5000) == WorkerDelays(Bimodal(0.5, 4.0), 3, 8, 7).at(5000)
    True
    >>> d = Bimodal(0.5, 4.0).sample(3, n=8, rounds=1, rng=np.random.default_rng([7, 3]))
    >>> stream.at(0) == (d.factor[0], d.extra[0])
    True
    """

    block = 1024

    def __init__(self, model: DelayModel, worker: int, n: int, seed: int):
        if not isinstance(model, DelayModel):
            raise TypeError(f"Argument 'model' must be a DelayModel, not {model!r}.")
        self.model = model
        self.n = check_int(n, "n", minimum=1)
        self.worker = check_int(worker, "worker", minimum=0, maximum=self.n - 1, maximum_name="n-1")
        self.seed = check_int(seed, "seed", minimum=0)
        model._check_n(self.n)
        self._cache = Delays(np.empty(0), np.empty(0))

    def at(self, round: int) -> tuple[float, float]:
        """``(factor, extra)`` of this worker in round ``round`` (0-based)."""
        round = check_int(round, "round", minimum=0)
        if round >= self._cache.factor.size:
            rounds = max(self.block, 2 * self._cache.factor.size, round + 1)
            rng = np.random.default_rng([self.seed, self.worker])
            self._cache = self.model.sample(self.worker, self.n, rounds, rng)
        return float(self._cache.factor[round]), float(self._cache.extra[round])

    def __repr__(self):
        return f"WorkerDelays({self.model!r}, worker={self.worker}, n={self.n}, seed={self.seed})"

    def __reduce__(self):
        return (WorkerDelays, (self.model, self.worker, self.n, self.seed))


def write_trace(path: str | Path, times) -> None:
    """Write per-round, per-worker times (seconds) as CSV: a header ``worker_0,...``, then one
    row per round. ``inf`` marks a worker that never answered.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "trace.csv")
    >>> write_trace(path, [[0.1, 0.25], [0.12, np.inf]])
    >>> read_trace(path)
    array([[0.1 , 0.25],
           [0.12,  inf]])
    """
    times = _check_times(times, "times")
    header = ",".join(f"worker_{w}" for w in range(times.shape[1]))
    np.savetxt(path, times, delimiter=",", header=header, comments="", fmt="%.17g")


def read_trace(path: str | Path) -> np.ndarray:
    """Read a CSV trace (rows = rounds, columns = workers, seconds; an optional header row)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Argument 'path' must name an existing trace file, not {str(path)!r}.")
    lines = path.read_text().splitlines()
    first = lines[0].split(",") if lines else []
    try:
        [float(cell) for cell in first]
        skip = 0
    except ValueError:
        skip = 1
    try:
        times = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"trace {str(path)!r} is not a CSV of numbers: {exc}") from exc
    return _check_times(times, f"trace {str(path)!r}")


def _check_times(times, name: str) -> np.ndarray:
    try:
        array = np.array(times, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Argument {name!r} must be a 2-D array of seconds, not {times!r}."
        ) from exc
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"Argument {name!r} must be a non-empty 2-D array (rounds × workers), "
            f"not shape {array.shape}."
        )
    if np.isnan(array).any() or (array <= 0).any():
        bad = array[np.isnan(array) | (array <= 0)][0]
        raise ValueError(
            f"Argument {name!r} must hold positive times (inf for no answer), not {bad}."
        )
    return array
