"""Which code, and which k or partitioning, minimises the expected latency of ``A @ B``?

For ``A`` (m × inner) times ``B`` (inner × q) on n workers, each candidate is simulated on
the same delays (:mod:`coded.scheduler.lab`) with the cost model

    latency = T(threshold : n)  +  transfer  +  decode,
    T_w     = compute · share · factor_w + extra_w,

where ``compute`` is one worker's time for the whole product and, with ``S = m·q`` the
size of the result,

    ==========================  ========  ===========  ================  ===================
    family                      share     threshold    response size     decode flops
    ==========================  ========  ===========  ================  ===================
    uncoded                     1/n       n            S/n               0 (concatenate)
    replication (r | n)         r/n       first copy   S·r/n             0
    MDS (k)                     1/k       k            S/k               2·k·S
    polynomial (a, b)           1/(ab)    ab           S/(ab)            2·ab·S
    MatDot (c)                  1/c       2c − 1       S (full size)     2·(2c−1)·S
    entangled (a, b, c)         1/(abc)   cab + c − 1  S/(ab)            2·(cab+c−1)·S
    ==========================  ========  ===========  ================  ===================

Share, threshold and the operands a worker holds are asked of the code objects
(``work_share``, ``recovery_threshold``, ``storage``); the table restates them.
``transfer = threshold · response size · itemsize / bandwidth`` (responses the master
fetches), ``decode = decode flops / master_flops``. MatDot buys a lower share at the price
of full-size responses and a decode that grows with 2c − 1: it wins only when the master
is fast and the workers slow. Encoding and the distribution of operands are left out
(operands placed once, as ``Runtime.place`` does).

Scale: candidates with one (threshold, share) share their latencies and are simulated once.
Without additive delays, ``T_w = compute · share · factor_w`` and one sort of each round's
factors gives every threshold at once, exactly (n = 10 000 in seconds). Additive delays
cost a pass over the delays per share, so past ``SEARCH_CELLS`` worker-rounds the shares
are searched on a grid refined around the best; at most ``MAX_CELLS`` worker-rounds are
simulated. The ranking's ``notes`` say when either bound applied.

References:
    K. Lee et al., arXiv:1512.02673 (MDS, the optimal k under shifted-exponential delays);
    Q. Yu, M. A. Maddah-Ali, A. S. Avestimehr, arXiv:1705.10464 (polynomial codes) and
    arXiv:1801.07487 (entangled polynomial codes); S. Dutta et al., arXiv:1801.10292 (MatDot).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from coded import EntangledPolynomialCode, MatDotCode, MDSCode, PolynomialCode, Replication
from coded.checks import check_int
from coded.workers.delays import DelayModel, Delays, TraceReplay

from ..progress import progress as show_progress
from .reports import markdown_table
from .simulator import sample_delays

__all__ = [
    "FAMILIES",
    "Candidate",
    "Ranking",
    "Workload",
    "candidates",
    "format_ranking",
    "recommend",
]

FAMILIES = ("uncoded", "replication", "mds", "polynomial", "matdot", "entangled")
DEFAULT_FAMILIES = ("uncoded", "replication", "mds", "polynomial", "matdot")
MAX_CELLS = 20_000_000  # rounds x n simulated at most: 160 MB per array of delays
SEARCH_CELLS = 1_000_000_000  # additive delays: worker-rounds simulated in all, at most
MIN_PASSES = 64  # ... but at least this many shares, whatever n
_CHUNK_CELLS = 2_000_000  # rounds simulated at once: bounds the temporaries


@dataclass(frozen=True)
class Workload:
    """The product ``A (m × inner) @ B (inner × q)`` and the speeds that price it.

    Args:
        m, inner, q: the shapes.
        compute_time: seconds one undelayed worker needs for the whole product; default
            ``2·m·inner·q / flops``.
        flops: a worker's speed (flop/s), used when ``compute_time`` is not given.
        master_flops: the master's decoding speed (flop/s); ``None``: decoding is free.
        bandwidth: bytes/s into the master; ``None``: fetching responses is free.
        itemsize: bytes per element (8 for float64).

    >>> Workload(1000, 1000, 1000, flops=1e10).compute
    0.2
    """

    m: int
    inner: int
    q: int
    compute_time: float | None = None
    flops: float = 1e10
    master_flops: float | None = 1e10
    bandwidth: float | None = 1e9
    itemsize: int = 8

    def __post_init__(self):
        for name in ("m", "inner", "q", "itemsize"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, minimum=1))
        for name in ("compute_time", "flops", "master_flops", "bandwidth"):
            value = getattr(self, name)
            if name == "flops" or value is not None:
                _positive(value, name)

    @property
    def compute(self) -> float:
        """Seconds of one worker for the whole product."""
        if self.compute_time is not None:
            return float(self.compute_time)
        return 2.0 * self.m * self.inner * self.q / self.flops

    @property
    def result_size(self) -> int:
        return self.m * self.q

    def master_cost(self, threshold: int, response_fraction: float, decode: bool) -> float:
        """Seconds the master spends fetching ``threshold`` responses and decoding them."""
        transfer = 0.0
        if self.bandwidth is not None:
            size = threshold * response_fraction * self.result_size * self.itemsize
            transfer = size / self.bandwidth
        flops = 2.0 * threshold * self.result_size if decode else 0.0
        return transfer + (flops / self.master_flops if self.master_flops is not None else 0.0)


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise ValueError(f"Argument {name!r} must be a positive number, not {value!r}.")
    return float(value)


@dataclass(frozen=True)
class Candidate:
    """One code choice and its simulated cost (seconds)."""

    family: str
    params: dict
    threshold: int
    share: float
    response: float  # a response's size as a fraction of the result
    master: float = 0.0  # transfer + decode seconds
    worker_bytes: float = 0.0  # operand bytes one worker holds
    mean: float = math.nan
    median: float = math.nan
    p99: float = math.nan
    code: dict | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        if not self.params:
            return self.family
        return f"{self.family}(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"

    def to_dict(self) -> dict:
        return {
            "family": self.family,
            "params": self.params,
            "label": self.label,
            "threshold": self.threshold,
            "share": self.share,
            "master_s": self.master,
            "worker_bytes": self.worker_bytes,
            "mean": self.mean,
            "median": self.median,
            "p99": self.p99,
            "code": self.code,
        }


def candidates(
    n: int, workload: Workload, families: Iterable[str] = DEFAULT_FAMILIES
) -> list[Candidate]:
    """Every code of the allowed families that fits on n workers, priced but not simulated.

    >>> [c.label for c in candidates(3, Workload(4, 4, 4), ["mds", "matdot"])]
    ['mds(k=1)', 'mds(k=2)', 'mds(k=3)', 'matdot(inner_blocks=1)', 'matdot(inner_blocks=2)']
    """
    n = check_int(n, "n", minimum=1)
    if not isinstance(workload, Workload):
        raise TypeError(f"Argument 'workload' must be a Workload, not {workload!r}.")
    families = _families(families)
    out = []
    for family in families:
        for params, code, response in _family(family, n):
            baseline = isinstance(code, Replication)  # concatenates: no decode, no config
            threshold = code.recovery_threshold
            master = workload.master_cost(threshold, response, decode=not baseline)
            fa, fb = (*code.storage, 1.0)[:2]  # a one-operand code receives all of B (x)
            held = fa * workload.m * workload.inner + fb * workload.inner * workload.q
            config = None if baseline else {"type": type(code).__name__, "n": n, **params}
            out.append(
                Candidate(
                    family,
                    params,
                    threshold,
                    code.work_share,
                    response,
                    master,
                    held * workload.itemsize,
                    code=config,
                )
            )
    return out


def _families(families) -> tuple[str, ...]:
    if isinstance(families, str):
        families = [families]
    families = tuple(families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ValueError(
            f"Argument 'families' must be a non-empty list of {list(FAMILIES)}, "
            f"not {list(families)}."
        )
    return families


def _family(family: str, n: int):
    """(params, code, response fraction) of each member of a family that fits on n workers.

    The code says its threshold, work share and storage; a response is a block of the
    result: 1/k of it for MDS, 1/(ab) for polynomial and entangled codes, all of it for
    MatDot (and r/n for replication, whose blocks are n/r).
    """
    if family == "uncoded":
        yield {}, Replication(n, 1), 1 / n
    elif family == "replication":
        for r in range(2, n + 1):
            if n % r == 0:
                yield {"r": r}, Replication(n, r), r / n
    elif family == "mds":
        for k in range(1, n + 1):
            yield {"k": k}, MDSCode(n, k), 1 / k
    elif family == "polynomial":
        for a in range(1, n + 1):
            for b in range(1, n // a + 1):  # threshold ab ≤ n
                yield {"a_blocks": a, "b_blocks": b}, PolynomialCode(n, a, b), 1 / (a * b)
    elif family == "matdot":
        for c in range(1, (n + 1) // 2 + 1):  # threshold 2c − 1 ≤ n
            yield {"inner_blocks": c}, MatDotCode(n, c), 1.0
    else:  # entangled; c = 1 is the polynomial code and a = b = 1 is MatDot
        for c in range(2, n + 1):
            for a in range(1, n + 1):
                for b in range(1 if a > 1 else 2, n + 1):
                    if c * a * b + c - 1 > n:  # the threshold: larger b fit no better
                        break
                    params = {"a_blocks": a, "b_blocks": b, "inner_blocks": c}
                    yield params, EntangledPolynomialCode(n, **params), 1 / (a * b)


class Ranking(list):
    """The candidates, best first, and ``notes``: how the search was bounded, if it was."""

    def __init__(self, candidates: Iterable[Candidate] = (), notes: Iterable[str] = ()):
        super().__init__(candidates)
        self.notes = list(notes)


def recommend(
    n: int,
    delays,
    workload: Workload,
    *,
    families: Iterable[str] = DEFAULT_FAMILIES,
    rounds: int = 10_000,
    seed: int = 0,
    objective: str = "mean",
    progress: bool | None = False,
) -> Ranking:
    """Rank the codes for ``workload`` on n workers by simulated latency, best first.

    Args:
        delays: a :mod:`coded.workers.delays` model, or recorded latencies (a trace array or CSV
            path of per-round, per-worker times; replayed as slowdowns, see
            :class:`~coded.workers.delays.TraceReplay`).
        families: code families allowed (``FAMILIES``).
        rounds: rounds simulated, at most ``MAX_CELLS / n`` (a note says when fewer).
        objective: ``"mean"``, ``"median"`` or ``"p99"``.
        progress: progress bars (True, False, or None: on a terminal).

    Every candidate sees the same delays, so the ranking is not blurred by sampling noise
    between candidates. Candidates with the same threshold and share have the same
    latencies, so each such choice is simulated once. Without additive delays (``extra``)
    a worker's time is ``compute · share · factor``: one sort of the factors per round gives
    every threshold's latency, exactly, for any n. With additive delays each share costs a
    pass over the delays; beyond ``SEARCH_CELLS`` worker-rounds in all, the shares are
    searched on a grid refined around the best, and the ranking's ``notes`` say so.

    >>> from coded.workers.delays import ShiftedExponential
    >>> best = recommend(10, ShiftedExponential(1.0), Workload(100, 100, 100, compute_time=1.0,
    ...                  master_flops=None, bandwidth=None), families=["mds"], rounds=20_000)[0]
    >>> best.label    # Lee et al.: k* = 7 for n = 10, μ = 1
    'mds(k=7)'
    """
    if objective not in ("mean", "median", "p99"):
        raise ValueError(
            f"Argument 'objective' must be 'mean', 'median' or 'p99', not {objective!r}."
        )
    if not isinstance(delays, DelayModel):
        delays = TraceReplay(delays)
    n = check_int(n, "n", minimum=1)
    rounds = check_int(rounds, "rounds", minimum=1)
    families = _families(families)
    pool = [
        c
        for family in show_progress(families, desc="candidates", unit="family", enabled=progress)
        for c in candidates(n, workload, [family])
    ]
    notes = []
    simulated = min(rounds, max(1, MAX_CELLS // n))
    if simulated < rounds:
        notes.append(
            f"simulated {simulated} rounds, not {rounds}: rounds x n is capped at "
            f"{MAX_CELLS:,} worker-rounds"
        )
    sampled = sample_delays(delays, n, simulated, seed)
    master: dict[tuple, float] = {}  # the cheapest master of each (r, threshold, share)
    for c in pool:
        master[_key(c)] = min(master.get(_key(c), math.inf), c.master)
    score = {"mean": 0, "median": 1, "p99": 2}[objective]
    figures = _simulate(sampled, workload.compute, master, score, progress)
    ranked = [_priced(c, *figures[_key(c)]) for c in pool if _key(c) in figures]
    if len(figures) < len(master):
        notes.append(
            f"simulated {len(figures)} of {len(master)} (threshold, share) choices, "
            f"{len(ranked)} of {len(pool)} candidates: with additive delays each share costs "
            f"a pass over the delays, so the shares were searched on a grid refined around "
            f"the best"
        )
    # ties (e.g. MDS k = ab and polynomial a × b) go to the code that stores less per worker
    ranked.sort(key=lambda c: (getattr(c, objective), c.mean, c.worker_bytes))
    return Ranking(ranked, notes)


def _key(c: Candidate) -> tuple:
    """What decides a candidate's simulated latency: (r of replication or 0, threshold, share)."""
    return (c.params["r"] if c.family == "replication" else 0, c.threshold, c.share)


def _simulate(sampled: Delays, work: float, master: dict, score: int, progress) -> dict:
    """(mean, median, p99) latency of the (r, threshold, share) choices in ``master``: all of
    them, or with additive delays beyond the budget, those the search visits."""
    replicated = [key for key in master if key[0]]
    coded = {}  # share -> its (0, threshold, share) choices
    for key in master:
        if not key[0]:
            coded.setdefault(key[2], []).append(key)
    additive = bool(sampled.extra.any())
    limit = max(MIN_PASSES, SEARCH_CELLS // sampled.factor.size - len(replicated))
    total = len(replicated) + (min(len(coded), limit) if additive else 1)
    with show_progress(total=total, desc="simulating", enabled=progress) as bar:
        out = {}
        for key in replicated:
            out[key] = _replicated(sampled, work, *key)
            bar.update(1)
        if not additive:  # times = work · share · factor: one sort serves every threshold
            order = np.sort(sampled.factor, axis=1)
            column = np.vstack([order.mean(axis=0), _quantiles(order)])
            for share, keys in coded.items():
                for key in keys:
                    out[key] = tuple(float(x) for x in work * share * column[:, key[1] - 1])
            bar.update(1)
            return out
        shares = sorted(coded, reverse=True)  # thresholds ascending, roughly

        def visit(i: int) -> float:  # one pass over the delays: the best total of a share
            keys = coded[shares[i]]
            kth = [threshold - 1 for _, threshold, _ in keys]
            times = _times(sampled, work * shares[i])
            latencies = np.concatenate([np.partition(t, kth, axis=1)[:, kth] for t in times])
            for key, latency in zip(keys, latencies.T, strict=True):
                out[key] = _figures(latency)
            bar.update(1)
            return min(out[key][score] + master[key] for key in keys)

        _coarse_to_fine(len(shares), visit, limit)
    return out


def _replicated(sampled: Delays, work: float, r: int, threshold: int, share: float) -> tuple:
    """Replication's figures: a round ends with the first copy of its slowest block, the
    blocks placed as ``Replication(n, r).assignment`` says."""
    n = sampled.factor.shape[1]
    block = np.array([parts[0] for parts in Replication(n, r).assignment])
    order = np.argsort(block, kind="stable")  # the r holders of each block side by side
    latency = [
        t[:, order].reshape(len(t), threshold, r).min(axis=2).max(axis=1)
        for t in _times(sampled, work * share)
    ]
    return _figures(np.concatenate(latency))


def _times(sampled: Delays, compute: float):
    """Round times ``compute · factor + extra``, a block of rounds at a time."""
    step = max(1, _CHUNK_CELLS // sampled.factor.shape[1])
    for start in range(0, len(sampled.factor), step):
        yield compute * sampled.factor[start : start + step] + sampled.extra[start : start + step]


def _quantiles(latency: np.ndarray) -> np.ndarray:
    """Median and p99 along the first axis, observed values (inf stays inf), as the simulator."""
    return np.quantile(latency, [0.5, 0.99], axis=0, method="inverted_cdf")


def _figures(latency: np.ndarray) -> tuple[float, float, float]:
    median, p99 = _quantiles(latency)
    return float(latency.mean()), float(median), float(p99)


def _coarse_to_fine(count: int, score, limit: int, width: int = 16) -> dict[int, float]:
    """Minimise ``score(i)`` over ``0 ≤ i < count`` with at most ``limit`` calls: every index if
    ``limit`` allows, else ``width`` indices spread over the range, then over the range
    between the neighbours of the best, and so on. Returns the scores of the indices visited.

    >>> calls = []
    >>> visited = _coarse_to_fine(1000, lambda i: calls.append(i) or abs(i - 617), limit=60)
    >>> min(visited, key=visited.get), len(calls) <= 60
    (617, True)
    """
    scores: dict[int, float] = {}
    lo, hi = 0, count - 1
    while count and len(scores) < limit:
        grid = range(count) if count <= limit else np.linspace(lo, hi, width).round()
        for i in dict.fromkeys(int(i) for i in grid):
            if i not in scores and len(scores) < limit:
                scores[i] = score(i)
        span = [i for i in scores if lo <= i <= hi]
        best = min(span, key=scores.get)
        if count <= limit or all(i in scores for i in range(lo, hi + 1)):
            break
        gap = math.ceil((hi - lo) / (width - 1))
        lo, hi = max(lo, best - gap), min(hi, best + gap)
    return scores


def _priced(c: Candidate, mean: float, median: float, p99: float) -> Candidate:
    return dataclasses.replace(
        c, mean=mean + c.master, median=median + c.master, p99=p99 + c.master
    )


def format_ranking(ranking: list[Candidate], top: int | None = 10) -> str:
    """A Markdown table of the best ``top`` candidates (seconds), with their ratio to the best."""
    rows = ranking[:top] if top else ranking
    best = rows[0].mean if rows else 1.0
    header = (
        "rank",
        "code",
        "threshold",
        "share",
        "MB/worker",
        "master s",
        "mean s",
        "median s",
        "p99 s",
        "mean / best",
    )
    body = [
        (
            str(i + 1),
            c.label,
            str(c.threshold),
            f"{c.share:.3g}",
            f"{c.worker_bytes / 1e6:.3g}",
            f"{c.master:.3g}",
            f"{c.mean:.4g}",
            f"{c.median:.4g}",
            f"{c.p99:.4g}",
            f"{c.mean / best:.3f}",
        )
        for i, c in enumerate(rows)
    ]
    return markdown_table(header, body)
