"""Wrong answers: a worker that computes, then returns a corrupted result.

:class:`Corrupt` is a delay model that delays nothing (factor 1, extra 0), so it lives in
the same registry, YAML ``delays:`` section and :class:`~coded.workers.delays.Compose`
as the stragglers; the worker applies it to its result after computing
(:meth:`Corrupt.apply`). Whether worker ``w`` lies in round ``r``, and how, is drawn from
``np.random.default_rng([seed, w, r, 1])``: reproducible per (worker, round), the same
after a restart, and independent of the delay stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coded.checks import check_choice, check_int, check_number

from .base import Compose, DelayModel, check_workers, chosen, set_field

__all__ = ["Corrupt", "KINDS", "corruptions"]

#: What a corrupted result is: ``random`` values (normal with the result's spread; integers
#: up to its maximum), its ``sign`` flipped, times ``scale``, a ``constant`` everywhere,
#: ``nan`` everywhere, or ``bits`` flipped (one random bit in each of ``count`` entries).
KINDS = ("random", "sign", "scale", "constant", "nan", "bits")


@dataclass(frozen=True, eq=False, repr=False)
class Corrupt(DelayModel):
    """``workers`` (None: every worker) return a corrupted result in a round, each with
    ``probability``; ``kind`` (one of :data:`KINDS`) says how. ``scale`` is the factor of
    ``kind="scale"``, ``value`` the constant of ``kind="constant"``, ``count`` the entries
    whose bits ``kind="bits"`` flips.

    >>> lie = Corrupt("sign", workers=[1])
    >>> lie.apply(np.array([1.0, 2.0]), worker=1, round=0, seed=0)
    array([-1., -2.])
    >>> lie.apply(np.array([1.0, 2.0]), worker=0, round=0, seed=0)
    array([1., 2.])
    >>> from coded.workers.delays import delay_from_config
    >>> delay_from_config({"type": "Corrupt", "kind": "nan", "probability": 0.5})
    Corrupt(kind='nan', workers=None, probability=0.5, scale=2.0, value=0.0, count=1)
    """

    kind: str
    workers: tuple[int, ...] | None = None
    probability: float = 1.0
    scale: float = 2.0
    value: float = 0.0
    count: int = 1

    def __post_init__(self):
        check_choice(self.kind, "kind", KINDS)
        set_field(self, "workers", check_workers(self.workers))
        probability = check_number(self.probability, "probability", minimum=0, maximum=1)
        set_field(self, "probability", float(probability))
        set_field(self, "scale", float(check_number(self.scale, "scale")))
        set_field(self, "value", float(check_number(self.value, "value")))
        set_field(self, "count", check_int(self.count, "count", minimum=1))

    def _sample(self, worker, n, rounds, rng):
        return 1.0, 0.0  # it delays nothing: it changes the answer (apply)

    def lies(self, worker: int, round: int, seed: int) -> bool:
        """Whether ``worker`` corrupts its result in ``round``."""
        if not chosen(self.workers, worker):
            return False
        return bool(_rng(seed, worker, round).random() < self.probability)

    def apply(self, result, worker: int, round: int, seed: int) -> np.ndarray:
        """``result``, corrupted if :meth:`lies` says so in this round (a new array)."""
        result = np.asarray(result)
        if not self.lies(worker, round, seed):
            return result
        rng = _rng(seed, worker, round)
        rng.random()  # the draw that decided it
        return _CORRUPTIONS[self.kind](self, result, rng)


def corruptions(model: DelayModel | None) -> tuple[Corrupt, ...]:
    """The :class:`Corrupt` parts of a delay model (itself, or inside a ``Compose``).

    >>> from coded.workers.delays import FixedDelay
    >>> corruptions(Compose(FixedDelay(1.0), Corrupt("nan", workers=[2])))
    (Corrupt(kind='nan', workers=[2], probability=1.0, scale=2.0, value=0.0, count=1),)
    """
    if isinstance(model, Corrupt):
        return (model,)
    if isinstance(model, Compose):
        return tuple(part for inner in model.models for part in corruptions(inner))
    return ()


def _rng(seed: int, worker: int, round: int) -> np.random.Generator:
    return np.random.default_rng([seed, worker, round, 1])


def _random(model: Corrupt, result: np.ndarray, rng) -> np.ndarray:
    if np.issubdtype(result.dtype, np.integer):
        top = max(int(result.max(initial=0)) + 1, 2)
        return rng.integers(0, top, result.shape).astype(result.dtype)
    spread = float(np.std(result)) or 1.0
    return (rng.standard_normal(result.shape) * spread).astype(result.dtype)


def _bits(model: Corrupt, result: np.ndarray, rng) -> np.ndarray:
    out = np.array(result)  # a copy, as raw unsigned words of the same width
    words = out.reshape(-1).view(f"u{out.dtype.itemsize}")
    entries = rng.choice(words.size, size=min(model.count, words.size), replace=False)
    bits = rng.integers(0, 8 * out.dtype.itemsize, len(entries))
    words[entries] ^= np.left_shift(1, bits).astype(words.dtype)
    return out


_CORRUPTIONS = {
    "random": _random,
    "sign": lambda model, result, rng: -result,
    "scale": lambda model, result, rng: (result * model.scale).astype(result.dtype),
    "constant": lambda model, result, rng: np.full(result.shape, model.value, result.dtype),
    "nan": lambda model, result, rng: np.full(result.shape, np.nan),
    "bits": _bits,
}
