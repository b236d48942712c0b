"""Delay models: the base class (config and registry from :mod:`coded.config`), parameter
checks, per-worker streams.

See :mod:`coded.workers.delays` for the model list and the formula ``T = factor · c + extra``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from coded.checks import check_int, describe
from coded.config import Configurable, registered

__all__ = [
    "Compose",
    "DelayModel",
    "Delays",
    "WorkerDelays",
    "check_workers",
    "chosen",
    "delay_from_config",
    "exponential",
    "set_field",
]


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


class DelayModel(Configurable, family="delays"):
    """Base class of the delay models: ``sample``; config round trip, repr and equality from
    :class:`~coded.config.Configurable`.

    Subclasses are frozen dataclasses, declared ``@dataclass(frozen=True, eq=False,
    repr=False)`` so that the base protocol applies, whose fields are the whole public
    state; they check their parameters in ``__post_init__`` and implement
    ``_sample(worker, n, rounds, rng)`` returning ``(factor, extra)`` (arrays of shape
    ``(rounds,)`` or scalars).
    """

    def sample(self, worker: int, n: int, rounds: int, rng: np.random.Generator) -> Delays:
        """The delays of ``worker`` (one of ``n``) for rounds ``0..rounds−1``.

        ``rng`` should be fresh, ``np.random.default_rng([seed, worker])``; the result
        is prefix-consistent in ``rounds`` for such a generator.

        >>> from coded.workers.delays import Slowdown
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

    def check_n(self, n: int) -> None:
        """Raise unless the model fits ``n`` workers (say, it names worker 99 of 8).

        >>> from coded.workers.delays import FixedDelay
        >>> FixedDelay(1.0, workers=[99]).check_n(8)
        Traceback (most recent call last):
        ...
        ValueError: Argument 'workers' of FixedDelay must name workers 0..n-1=7, not 99.
        """
        self._check_n(check_int(n, "n", minimum=1))

    def _check_n(self, n: int) -> None:
        """Reject a number of workers the parameters do not fit (e.g. worker 9 of 8)."""
        workers = getattr(self, "workers", None)
        if isinstance(workers, tuple) and workers and workers[-1] >= n:
            raise ValueError(
                f"Argument 'workers' of {type(self).__name__} must name workers 0..n-1={n - 1}, "
                f"not {workers[-1]}."
            )


def delay_from_config(config: Mapping) -> DelayModel:
    """Build a delay model from its config dict (e.g. a YAML ``delays:`` section).

    >>> delay_from_config({"type": "Bimodal", "probability": 0.1, "factor": 5})
    Bimodal(probability=0.1, factor=5.0)
    """
    if isinstance(config, DelayModel):
        return config
    cls = registered(config, "delays")
    try:
        return cls.from_config(config)
    except TypeError as exc:  # a parameter of the wrong type
        raise ValueError(f"bad arguments for delay type {config['type']!r}: {exc}") from exc


# -- parameter checks -----------------------------------------------------------------------


def check_workers(value, name: str = "workers") -> tuple[int, ...] | None:
    """A sorted tuple of distinct worker indices (``None`` stays ``None``: all workers)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(
            f"Argument {name!r} must be a list of worker indices, not {describe(value)}."
        )
    return tuple(sorted({check_int(w, name, minimum=0) for w in value}))


def set_field(model, name: str, value) -> None:
    object.__setattr__(model, name, value)


def _full(value, rounds: int) -> np.ndarray:
    out = np.empty(rounds)
    out[...] = value
    return out


def exponential(u: np.ndarray) -> np.ndarray:
    """Standard exponential samples from uniforms on [0, 1) (inverse CDF)."""
    return -np.log1p(-u)


def chosen(workers: tuple[int, ...] | None, worker: int) -> bool:
    return workers is None or worker in workers


# -- the models -----------------------------------------------------------------------------


class Compose(DelayModel):
    """Several models at once: factors multiply and extras add.

    Each part draws from its own generator, seeded from ``rng`` by a fixed number of draws,
    so the composition stays prefix-consistent.

    >>> from coded.workers.delays import FixedDelay, Slowdown
    >>> model = Compose(Slowdown(2.0), FixedDelay(0.1))
    >>> model
    Compose(Slowdown(factor=2.0, workers=None), FixedDelay(seconds=0.1, workers=None))
    >>> d = model.sample(0, n=1, rounds=1, rng=np.random.default_rng(0))
    >>> d.factor.tolist(), d.extra.tolist()
    ([2.0], [0.1])
    """

    _params = ("models",)

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

    # the parameter ``models`` is positional and holds models: config hooks
    def _config_value(self, name):
        return [m.get_config() for m in self._models]

    def _repr_args(self):
        return [repr(m) for m in self._models]

    @classmethod
    def _from_params(cls, params):
        models = params["models"]
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


# -- per-worker streams and traces ---------------------------------------------------------------


class WorkerDelays:
    """The reproducible delay stream of one worker: ``at(round) -> (factor, extra)``.

    Samples come in blocks from ``np.random.default_rng([seed, worker])`` and are cached;
    as models are prefix-consistent, the answer for a round never depends on the block
    size, so a restarted worker (or the simulator) sees the same delays.

    >>> from coded.workers.delays import Bimodal
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
