"""The straggler simulator: the master's policy in virtual time, vectorised over rounds.

A round gives worker w the finish time

    T_w = work · share · factor_w + extra_w        (factor = inf: the worker never answers)

where ``work`` is the seconds one worker needs for the whole job, ``share`` the fraction of
it a strategy gives each worker (the code's ``work_share``: MDS 1/k, uncoded 1/n, r-way
replication r/n), and
``(factor, extra)`` come from a :mod:`coded.workers.delays` model, drawn exactly as real workers
draw them (``np.random.default_rng([seed, w])``). The master waits for the first
decodable set of responses and cancels the rest, so a round's latency is

* the k-th order statistic of ``T`` for codes where any k responses decode (MDS,
  polynomial, MatDot, Lagrange): one ``np.partition`` over all rounds;
* ``max_g min_{w ∈ g} T_w`` when the workers form replica groups and one answer per group
  decodes (uncoded, replication, fractional-repetition gradient codes);
* otherwise the shortest prefix of the arrival order that ``code.can_decode`` accepts,
  found by bisection per round (decodability is monotone in the set of responses);
* for strategies that use the stragglers' partial work (:mod:`.partial`), a rule that
  also sees when each worker started: its chunk j of c is done at
  ``extra_w + (T_w − extra_w)·j/c``, ``extra`` acting as a start offset.

Wasted work is the worker-seconds spent on responses decoding did not use, up to the
moment the round decoded and the rest were cancelled: ``Σ_w min(T_w, L) − Σ_{w used} T_w``.

With a :class:`~coded.workers.delays.Network`, worker w starts computing when the master's
broadcast of ``broadcast_bytes`` reaches it (``Network.download_times``: copies sharing the
master link fairly) and its answer of ``message_bytes`` queues FIFO on the master's link
(``Network.arrivals``); ``T_w`` is then the answer's arrival, which
busy and wasted work count too. The result's ``communication`` is what the network adds to
each round's latency: the latency minus that of the same round on an ideal network.

References:
    K. Lee et al., "Speeding up distributed machine learning using codes", IEEE T-IT 2018,
    arXiv:1512.02673 (the model ``T = share · X``, X shifted exponential).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from coded import Code, Replication
from coded.checks import check_int, check_number
from coded.workers.delays import DelayModel, Delays, Network

__all__ = ["SimulationResult", "Strategy", "sample_delays", "simulate", "work_share"]

# Rounds evaluated at once: bounds the temporaries to ~ _CHUNK_CELLS floats per array.
_CHUNK_CELLS = 2_000_000


def sample_delays(model: DelayModel, n: int, rounds: int, seed: int) -> Delays:
    """Delays of all ``n`` workers over ``rounds`` rounds: arrays of shape ``(rounds, n)``.

    Column w is ``model.sample(w, n, rounds, np.random.default_rng([seed, w]))``, the
    stream a real worker w with the same seed replays.

    >>> from coded.workers.delays import Bimodal
    >>> sample_delays(Bimodal(0.5, 3.0), n=4, rounds=2, seed=1).factor.shape
    (2, 4)
    """
    if not isinstance(model, DelayModel):
        raise TypeError(f"Argument 'model' must be a DelayModel, not {model!r}.")
    n = check_int(n, "n", minimum=1)
    rounds = check_int(rounds, "rounds", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    factor, extra = np.empty((rounds, n)), np.empty((rounds, n))
    for w in range(n):
        d = model.sample(w, n, rounds, np.random.default_rng([seed, w]))
        factor[:, w], extra[:, w] = d.factor, d.extra
    return Delays(factor, extra)


def work_share(code: Code) -> float:
    """Fraction of the whole job one worker of ``code`` computes: ``code.work_share``.

    >>> from coded import MDSCode
    >>> work_share(MDSCode(10, 4))
    0.25
    """
    try:
        return float(code.work_share)
    except NotImplementedError as exc:
        raise ValueError(
            f"no work model for {type(code).__name__}: pass share= (the fraction of the job "
            f"one worker computes)"
        ) from exc


# -- when is a round done? -------------------------------------------------------------------


@dataclass(frozen=True)
class _Threshold:
    """Any ``k`` responses decode."""

    k: int

    def finish(self, times):
        part = np.partition(times, self.k - 1, axis=1)
        return part[:, self.k - 1], part[:, : self.k].sum(axis=1)


@dataclass(frozen=True)
class _Groups:
    """One response from every group decodes; ``groups`` is a (groups × size) index array."""

    groups: np.ndarray

    def finish(self, times):
        first = times[:, self.groups].min(axis=2)
        return first.max(axis=1), first.sum(axis=1)


class _Prefix:
    """Any code: the shortest prefix of the arrival order that ``can_decode`` accepts."""

    def __init__(self, can_decode: Callable[[Iterable[int]], bool]):
        self._can_decode = can_decode
        self._cache: dict[bytes, bool] = {}

    def _decodable(self, workers: np.ndarray) -> bool:
        key = np.sort(workers).astype(np.int16).tobytes()
        answer = self._cache.get(key)
        if answer is None:
            if len(self._cache) > 200_000:
                self._cache.clear()
            answer = self._cache[key] = bool(self._can_decode(workers.tolist()))
        return answer

    def finish(self, times):
        order = np.argsort(times, axis=1, kind="stable")
        arrived = np.take_along_axis(times, order, axis=1)
        answered = np.isfinite(arrived).sum(axis=1)
        latency, used = np.full(len(times), np.inf), np.zeros(len(times))
        for i in range(len(times)):
            lo, hi = 1, int(answered[i])  # find the least m with prefix m decodable
            if hi == 0 or not self._decodable(order[i, :hi]):
                continue
            while lo < hi:
                mid = (lo + hi) // 2
                if self._decodable(order[i, :mid]):
                    hi = mid
                else:
                    lo = mid + 1
            latency[i], used[i] = arrived[i, lo - 1], arrived[i, :lo].sum()
        return latency, used


@dataclass(frozen=True)
class _Speculation:
    """Spark-style: worker b computes block b; once ``launch`` workers are done, a block
    still running is given again to worker b − 1 if that one is done; first copy wins."""

    launch: int

    def finish(self, times):
        launch = np.partition(times, self.launch - 1, axis=1)[:, self.launch - 1 : self.launch]
        done = times <= launch
        backed = ~done & np.roll(done, 1, axis=1)  # worker b − 1 holds block b as well
        copy = launch + np.roll(times, 1, axis=1)  # the same factor and extra again
        first = np.where(backed, np.minimum(times, copy), times)
        return first.max(axis=1), np.where(first == times, times, 0.0).sum(axis=1)


class _PartialRule:
    """A rule that uses partial work: ``finish(times, start)`` also gets the seconds
    ``start`` (rounds, n) each worker waited before computing (its ``extra``)."""

    def finish(self, times, start):
        raise NotImplementedError


# -- strategies ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Strategy:
    """How a round's work is split over ``n`` workers and when the round is done.

    Build with :meth:`coded` (any code, :class:`~coded.Replication` for the baselines),
    :meth:`uncoded` and :meth:`replication` (shorthands for ``Replication(n, 1)`` and
    ``Replication(n, r)``), :meth:`speculation` (the peers' baseline), or
    :meth:`threshold` (a cost model, no code); partial-work strategies come from
    :mod:`.partial`.

    Attributes:
        name: label in reports.
        n: number of workers.
        share: fraction of the whole job each worker computes.
        overhead: seconds added to every round (e.g. the master's decode time).
        config: the code's config (or a threshold model's): enough to run it on real workers.
    """

    name: str
    n: int
    share: float
    rule: _Threshold | _Groups | _Prefix | _Speculation | _PartialRule
    overhead: float = 0.0
    config: dict | None = None

    @property
    def redundancy(self) -> float:
        """Total work over the work of the job: ``n · share`` (1 for uncoded)."""
        return self.n * self.share

    @classmethod
    def coded(
        cls,
        code: Code,
        *,
        share: float | None = None,
        overhead: float = 0.0,
        name: str | None = None,
    ) -> Strategy:
        """Wait for the first set of responses ``code`` can decode.

        >>> from coded import MDSCode
        >>> round(Strategy.coded(MDSCode(10, 7)).redundancy, 3)
        1.429
        """
        if not isinstance(code, Code):
            raise TypeError(f"Argument 'code' must be a coded.Code, not {code!r}.")
        share = work_share(code) if share is None else _fraction(share, "share")
        overhead = _seconds(overhead, "overhead")
        return cls(name or repr(code), code.n, share, _rule(code), overhead, code.get_config())

    @classmethod
    def threshold(
        cls, n: int, k: int, share: float, *, overhead: float = 0.0, name: str | None = None
    ) -> Strategy:
        """Any ``k`` of ``n`` responses decode and each worker computes ``share`` of the job:
        the cost model of an MDS-like code, without building the code.

        >>> Strategy.threshold(10, 7, share=1 / 7).name
        'threshold-7-of-10'
        """
        n = check_int(n, "n", minimum=1)
        k = check_int(k, "k", minimum=1, maximum=n, maximum_name="n")
        share = _fraction(share, "share")
        config = {"type": "threshold", "k": k, "share": share}
        name = name or f"threshold-{k}-of-{n}"
        return cls(name, n, share, _Threshold(k), _seconds(overhead, "overhead"), config)

    @classmethod
    def uncoded(cls, n: int, *, overhead: float = 0.0, name: str = "uncoded") -> Strategy:
        """``Replication(n, 1)``: each worker computes 1/n of the job; the round waits for all n.

        >>> Strategy.uncoded(4).config
        {'type': 'Replication', 'n': 4, 'r': 1, 'field': 'real'}
        """
        return cls.coded(Replication(n, 1), overhead=overhead, name=name)

    @classmethod
    def replication(
        cls, n: int, r: int, *, overhead: float = 0.0, name: str | None = None
    ) -> Strategy:
        """``Replication(n, r)``: n/r tasks, each on r workers (worker i runs task
        ``i mod (n/r)``); the first copy of each wins."""
        return cls.coded(Replication(n, r), overhead=overhead, name=name or f"replication-{r}")

    @classmethod
    def speculation(
        cls, n: int, quantile: float = 0.75, *, overhead: float = 0.0, name: str = "speculation"
    ) -> Strategy:
        """Spark-style speculation, as the peer baseline runs it: worker i computes block i
        of n (and holds block i + 1); once ``⌈quantile·n⌉`` are done, each block still
        running is re-issued to worker b − 1 if done, and its copy takes that worker's
        ``factor·c + extra`` again; the first copy wins. Busy and wasted time count each
        worker's own block only.

        >>> times = np.array([[1.0, 1.0, 1.0, 5.0]])
        >>> Strategy.speculation(4).finish(times)[0]   # the copy of block 3: 1 + 1
        array([2.])
        """
        n = check_int(n, "n", minimum=1)
        quantile = _fraction(quantile, "quantile")
        config = {"type": "speculation", "n": n, "quantile": quantile}
        launch = _Speculation(math.ceil(quantile * n - 1e-9))
        return cls(name, n, 1 / n, launch, _seconds(overhead, "overhead"), config)

    @property
    def partial(self) -> bool:
        """Whether the strategy uses the stragglers' partial work (needs ``start``)."""
        return isinstance(self.rule, _PartialRule)

    def finish(
        self, times: np.ndarray, start: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latency of each round and the worker-seconds of the responses decoding used.

        ``times`` has shape ``(rounds, n)``: when each worker's whole share is done; an
        undecodable round has latency ``inf``. ``start``, of the same shape, is when each
        worker began computing (its ``extra``; None: 0), which only partial-work rules read.
        """
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 2 or times.shape[1] != self.n:
            raise ValueError(
                f"Argument 'times' must have shape (rounds, n={self.n}), not {times.shape}."
            )
        if self.partial:
            start = np.zeros_like(times) if start is None else np.asarray(start, np.float64)
            if start.shape != times.shape:
                raise ValueError(
                    f"Argument 'start' must have the shape of times, {times.shape}, "
                    f"not {start.shape}."
                )
            latency, used = self.rule.finish(times, start)
        else:
            latency, used = self.rule.finish(times)
        return latency + self.overhead, np.where(np.isfinite(latency), used, 0.0)

    def __repr__(self):
        return f"Strategy({self.name!r}, n={self.n}, share={self.share:g})"


def _rule(code: Code):
    if type(code).can_decode is Code.can_decode:
        return _Threshold(code.recovery_threshold)
    groups = _replica_groups(code)
    if groups is None:
        return _Prefix(code.can_decode)
    if groups.shape[1] == 1:  # no replicas: every worker is needed
        return _Threshold(code.n)
    return _Groups(groups)


def _replica_groups(code: Code) -> np.ndarray | None:
    """Workers with identical assignments, if one answer per such group decodes exactly."""
    assignment = getattr(code, "assignment", None)
    if assignment is None:
        return None
    groups: dict[tuple, list[int]] = {}
    for worker, parts in enumerate(assignment):
        groups.setdefault(tuple(sorted(parts)), []).append(worker)
    members = list(groups.values())
    if len({len(g) for g in members}) != 1:
        return None
    everyone = set(range(code.n))
    if not code.can_decode([g[0] for g in members]) or any(
        code.can_decode(everyone - set(g)) for g in members
    ):
        return None
    return np.array(members)


def _fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"Argument {name!r} must be a number in (0, 1], not {value!r}.")
    return float(value)


def _seconds(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ValueError(
            f"Argument {name!r} must be a finite number of seconds >= 0, not {value!r}."
        )
    return float(value)


# -- results and the driver ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Per-round outcomes of one strategy: ``latency`` (inf: undecodable), ``busy`` and
    ``wasted`` worker-seconds, all arrays of shape ``(rounds,)``; with a network,
    ``communication``: the seconds it added to each round's latency (else None)."""

    strategy: Strategy
    latency: np.ndarray
    busy: np.ndarray
    wasted: np.ndarray
    communication: np.ndarray | None = None

    @property
    def communication_share(self) -> float:
        """Mean communication over mean latency of the decodable rounds (0 without a network)."""
        ok = np.isfinite(self.latency)
        if self.communication is None or not ok.any():
            return 0.0
        return float(self.communication[ok].mean() / self.latency[ok].mean())

    @property
    def mean(self) -> float:
        return float(self.latency.mean())

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)

    def quantile(self, q):
        """Latency quantile(s), an observed value (no interpolation, so inf stays inf)."""
        value = np.quantile(self.latency, q, method="inverted_cdf")
        return float(value) if np.ndim(value) == 0 else value

    @property
    def undecodable(self) -> float:
        """Fraction of rounds that never became decodable (too many crashes)."""
        return float(np.mean(~np.isfinite(self.latency)))

    @property
    def wasted_fraction(self) -> float:
        """Wasted over busy worker-seconds, all rounds together."""
        busy = self.busy.sum()
        return float(self.wasted.sum() / busy) if busy else 0.0

    def summary(self) -> dict:
        """The headline figures as a JSON-ready dict."""
        return {
            "strategy": self.strategy.name,
            "config": self.strategy.config,
            "n": self.strategy.n,
            "share": self.strategy.share,
            "redundancy": self.strategy.redundancy,
            "rounds": int(self.latency.size),
            "mean": self.mean,
            "median": self.median,
            "p99": self.p99,
            "wasted_fraction": self.wasted_fraction,
            "wasted_mean": float(self.wasted.mean()),
            "undecodable": self.undecodable,
            **(
                {}
                if self.communication is None
                else {
                    "communication_mean": float(self.communication.mean()),
                    "communication_share": self.communication_share,
                }
            ),
        }


def simulate(
    strategies: Sequence[Strategy],
    delays: DelayModel | Delays,
    *,
    rounds: int = 10_000,
    seed: int = 0,
    work: float = 1.0,
    network: Network | None = None,
    message_bytes: float = 0.0,
    broadcast_bytes: float = 0.0,
    progress=None,
) -> list[SimulationResult]:
    """Run ``rounds`` rounds of each strategy on the same delays (common random numbers).

    Args:
        strategies: what to compare; all on the same ``n`` workers.
        delays: a delay model (sampled with ``seed`` for ``rounds`` rounds), or delays of
            shape ``(rounds, n)`` from :func:`sample_delays` (``rounds`` and ``seed`` unused).
        work: seconds one worker needs for the whole job, undelayed.
        network: a :class:`~coded.workers.delays.Network` the messages cross, or None (free);
            not with partial-work strategies (their chunks' messages are not modelled).
        message_bytes: bytes of each worker's answer (with ``network``), for every strategy.
        broadcast_bytes: bytes the master sends every worker at the start of a round.
        progress: a callable called with the number of rounds finished per chunk
            (e.g. ``tqdm.update``), or None.

    >>> from coded import MDSCode
    >>> from coded.workers.delays import ShiftedExponential
    >>> mds, uncoded = simulate([Strategy.coded(MDSCode(10, 7)), Strategy.uncoded(10)],
    ...                         ShiftedExponential(1.0), rounds=20_000)
    >>> round(uncoded.mean / mds.mean, 1)   # Lee et al.: (1 + H_10)/10 vs (1 + H_10 − H_3)/7
    1.3

    With a network, 16 answers of 1 MB ready at once queue 0.128 s on a 1 Gbit/s master link:

    >>> from coded.workers.delays import NoDelay
    >>> (slow,) = simulate([Strategy.uncoded(16)], NoDelay(), rounds=10,
    ...                    network=Network(bandwidth=10e9, master_bandwidth=1e9),
    ...                    message_bytes=1e6)
    >>> round(float(slow.communication.min()), 3), round(slow.communication_share, 2)
    (0.128, 0.67)
    """
    strategies = list(strategies)
    if not strategies or not all(isinstance(s, Strategy) for s in strategies):
        raise TypeError("Argument 'strategies' must be a non-empty list of Strategy objects.")
    n = strategies[0].n
    for s in strategies:
        if s.n != n:
            raise ValueError(
                f"Argument 'strategies' must share n={n} workers, not {s.n} ({s.name})."
            )
    work = _seconds(work, "work")
    if network is not None and any(s.partial for s in strategies):
        raise ValueError(
            "Argument 'network' must be None with partial-work strategies "
            f"({', '.join(s.name for s in strategies if s.partial)}), not {network!r}."
        )
    if isinstance(delays, Delays):
        if np.shape(delays.factor) != np.shape(delays.extra) or np.shape(delays.factor)[1:] != (n,):
            raise ValueError(f"Argument 'delays' must hold arrays of shape (rounds, n={n}).")
    else:
        delays = sample_delays(delays, n, rounds, seed)
    total = delays.factor.shape[0]
    has_extra = bool(delays.extra.any())
    links = _Links(network, n, message_bytes, broadcast_bytes)
    outcomes = [([], [], [], []) for _ in strategies]
    step = max(1, _CHUNK_CELLS // n)
    for start in range(0, total, step):
        factor = delays.factor[start : start + step]
        extra = delays.extra[start : start + step]
        for strategy, (latencies, busies, wasted, comm) in zip(strategies, outcomes, strict=True):
            times = (work * strategy.share) * factor
            if has_extra:
                times += extra
            if links.network is not None:
                ideal, _ = strategy.finish(times)
                times = links.arrivals(times)
            latency, used = strategy.finish(times, extra)
            busy = _busy(times, latency - strategy.overhead)
            latencies.append(latency)
            busies.append(busy)
            wasted.append(np.maximum(busy - used, 0.0))  # ≥ 0 up to rounding
            if links.network is not None:
                comm.append(np.where(np.isfinite(latency), latency - ideal, 0.0))
        if progress is not None:
            progress(len(factor))
    return [
        SimulationResult(
            s,
            *(np.concatenate(parts) for parts in outcome[:3]),
            np.concatenate(outcome[3]) if links.network is not None else None,
        )
        for s, outcome in zip(strategies, outcomes, strict=True)
    ]


class _Links:
    """A round's messages on a network: the broadcast before computing, answers after."""

    def __init__(self, network, n: int, message_bytes, broadcast_bytes):
        if network is not None and not isinstance(network, Network):
            raise TypeError(
                f"Argument 'network' must be a coded.workers.delays.Network or None, "
                f"not {network!r}."
            )
        self.network = network
        self.up = check_number(message_bytes, "message_bytes", minimum=0)
        down = check_number(broadcast_bytes, "broadcast_bytes", minimum=0)
        if network is not None:
            network.check_n(n)
            self.start = network.download_times(n, down) if down else np.zeros(n)

    def arrivals(self, computed: np.ndarray) -> np.ndarray:
        """When each answer reaches the master, for compute times ``computed`` (rounds, n)."""
        ready = computed + self.start
        return self.network.arrivals(ready, self.up) if self.up else ready


def _busy(times: np.ndarray, latency: np.ndarray) -> np.ndarray:
    """Worker-seconds until each worker answered or was cancelled (crashes count until then)."""
    capped = np.minimum(times, latency[:, None])
    capped[~np.isfinite(capped)] = 0.0
    return capped.sum(axis=1)
