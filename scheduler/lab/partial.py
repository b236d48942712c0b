"""Strategies that use the stragglers' partial work, and the load-balanced ideal.

A worker's share of the job (``work·share·factor_w`` seconds) is split into ``c`` equal
chunks computed in order, each reported as it is done, so its chunk j (1..c) is done at

    t_w(j) = extra_w + factor_w · work · share · j / c,

``extra`` acting as a start offset (``t_w(c)`` is the simulator's whole-answer time T_w).
For :func:`~.simulator.simulate` these are :class:`~.simulator.Strategy` objects:

* :func:`chunked_mds`: the job is ``K = k·c`` symbols, encoded by one ``(n·c, K)`` MDS code
  over chunks, c coded chunks per worker (each worker computes 1/k of the job: the
  storage of MDS(n, k)). Any K chunks decode, so a round ends at the K-th smallest of the
  n·c chunk times, or the ``⌈K(1+ε)⌉``-th for a rateless (LT) code with reception
  overhead ε. Decoding solves one K × K system.
* :func:`rotated_mds`: c independent MDS(n, k) groups; worker i holds one coded chunk of
  each and computes them from group ``i mod c`` on, cyclically, so that partial progress
  covers different groups. Group g decodes at the k-th smallest time of its chunks and the
  round ends when all have: c systems of k × k.
* :func:`load_balanced`: the ideal, with no storage constraint (any worker computes any
  part). With rates ``r_w = 1/(work·factor_w)`` jobs per second after ``e_w = extra_w``,
  the round ends at the T solving ``Σ_w r_w (T − e_w)_+ = 1``. For the workers sorted by
  extra, the left side is at least its prefix sum ``Σ_{i≤m} r_i (T − e_i)``, with equality
  for the prefix that is computing at T, so

      T = min_m (1 + Σ_{i≤m} r_i e_i) / Σ_{i≤m} r_i,

  which without extras is ``1/Σ_w r_w = work / Σ_w (1/factor_w)``: the job over the sum
  of the speeds.

On the same delays (ε = 0): ideal ≤ chunked ≤ rotated ≤ MDS(n, k), since k whole answers
hold k chunks of every group, which are K chunks, which are the whole job.

References:
    A. Mallick, M. Chaudhari, U. Sheth, G. Palanikumar, G. Joshi, "Rateless codes for
    near-perfect load balancing in distributed matrix-vector multiplication",
    SIGMETRICS 2020, arXiv:1804.10331.
    N. Ferdinand, S. Draper, "Hierarchical coded computation", ISIT 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from coded.checks import check_int, check_number

from .simulator import _CHUNK_CELLS, Strategy, _PartialRule, _seconds

__all__ = ["chunked_mds", "load_balanced", "rotated_mds"]


def chunked_mds(
    n: int,
    k: int,
    chunks: int,
    *,
    epsilon: float = 0.0,
    overhead: float = 0.0,
    name: str | None = None,
) -> Strategy:
    """One ``(n·c, k·c)`` MDS code over chunks (``epsilon > 0``: a rateless code that
    needs ``⌈k·c·(1+ε)⌉`` of them): the round ends when that many chunks are done.

    >>> s = chunked_mds(32, 16, 8)
    >>> s.name, s.redundancy, s.config["symbols"], s.config["decode"]
    ('chunked-16-of-32-c8', 2.0, 128, [1, 128])
    """
    n, k, chunks = _check(n, k, chunks)
    epsilon = check_number(epsilon, "epsilon", minimum=0)
    needed = math.ceil(k * chunks * (1 + epsilon) - 1e-9)
    if needed > n * chunks:
        raise ValueError(
            f"Argument 'epsilon' must leave at most n·c={n * chunks} chunks to wait for, "
            f"not ⌈k·c·(1+ε)⌉={needed}."
        )
    eps = f"-eps{epsilon:g}" if epsilon else ""
    config = {
        "type": "chunked-MDS",
        "n": n,
        "k": k,
        "chunks": chunks,
        "epsilon": epsilon,
        "symbols": needed,
        "decode": [1, k * chunks],
    }
    return Strategy(
        name or f"chunked-{k}-of-{n}-c{chunks}{eps}",
        n,
        1 / k,
        _AnyChunks(chunks, needed),
        _seconds(overhead, "overhead"),
        config,
    )


def rotated_mds(
    n: int, k: int, chunks: int, *, overhead: float = 0.0, name: str | None = None
) -> Strategy:
    """``c`` MDS(n, k) groups, worker i computing its chunks from group ``i mod c`` on; the
    round ends when every group has k chunks.

    >>> s = rotated_mds(32, 16, 8)
    >>> s.name, s.config["symbols"], s.config["decode"]
    ('rotated-16-of-32-c8', 128, [8, 16])
    """
    n, k, chunks = _check(n, k, chunks)
    config = {
        "type": "rotated-MDS",
        "n": n,
        "k": k,
        "chunks": chunks,
        "symbols": k * chunks,
        "decode": [chunks, k],
    }
    return Strategy(
        name or f"rotated-{k}-of-{n}-c{chunks}",
        n,
        1 / k,
        _RotatedGroups(k, chunks),
        _seconds(overhead, "overhead"),
        config,
    )


def load_balanced(n: int, *, name: str = "ideal") -> Strategy:
    """The load-balanced ideal: the job spread over the ``n`` workers in proportion to
    each round's speeds, all finishing together (``share`` 1: any worker may compute all).

    >>> from coded.scheduler.lab import simulate
    >>> from coded.workers.delays import Slowdown
    >>> (ideal,) = simulate([load_balanced(4)], Slowdown(2.0, workers=[0, 1]), rounds=3)
    >>> ideal.mean   # 1 / (1 + 1 + 1/2 + 1/2)
    0.3333333333333333
    """
    n = check_int(n, "n", minimum=1)
    return Strategy(name, n, 1.0, _Balanced(), 0.0, {"type": "load-balanced", "n": n})


def _check(n, k, chunks) -> tuple[int, int, int]:
    n = check_int(n, "n", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=n, maximum_name="n")
    return n, k, check_int(chunks, "chunks", minimum=1)


# -- the rules ---------------------------------------------------------------------------------


def _by_blocks(finish, times, start, cells_per_round: int):
    """``finish`` over blocks of rounds whose temporaries stay near ``_CHUNK_CELLS`` floats."""
    latency, used = np.empty(len(times)), np.empty(len(times))
    step = max(1, _CHUNK_CELLS // cells_per_round)
    for a in range(0, len(times), step):
        block = slice(a, a + step)
        latency[block], used[block] = finish(times[block], start[block])
    return latency, used


def _used(mask: np.ndarray, times: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Worker-seconds decoding used: the start and the chunks ``mask`` (rounds, n, c) of
    every worker with a chunk used."""
    count = mask.sum(axis=2)
    with np.errstate(invalid="ignore"):
        seconds = start + count * (times - start) / mask.shape[2]
    return np.where(count > 0, seconds, 0.0).sum(axis=1)


@dataclass(frozen=True)
class _AnyChunks(_PartialRule):
    """Any ``needed`` of the n·c chunks decode."""

    chunks: int
    needed: int

    def finish(self, times, start):
        return _by_blocks(self._finish, times, start, times.shape[1] * self.chunks)

    def _finish(self, times, start):
        steps = np.arange(1, self.chunks + 1) / self.chunks
        done = start[..., None] + (times - start)[..., None] * steps  # (rounds, n, c)
        flat = done.reshape(len(done), -1)
        pick = np.argpartition(flat, self.needed - 1, axis=1)[:, : self.needed]
        latency = np.take_along_axis(flat, pick[:, -1:], axis=1)[:, 0]
        mask = np.zeros(flat.shape, dtype=bool)
        np.put_along_axis(mask, pick, True, axis=1)
        return latency, _used(mask.reshape(done.shape), times, start)


@dataclass(frozen=True)
class _RotatedGroups(_PartialRule):
    """``chunks`` MDS(n, k) groups; worker i computes group g as its chunk (g − i) mod c."""

    k: int
    chunks: int

    def finish(self, times, start):
        return _by_blocks(self._finish, times, start, times.shape[1] * self.chunks)

    def _finish(self, times, start):
        n, c = times.shape[1], self.chunks
        position = (np.arange(c)[None, :] - np.arange(n)[:, None]) % c + 1  # (n, groups)
        done = start[..., None] + (times - start)[..., None] * (position / c)
        pick = np.argpartition(done, self.k - 1, axis=1)[:, : self.k, :]  # (rounds, k, c)
        groups = np.take_along_axis(done, pick[:, -1:, :], axis=1)[:, 0, :]
        mask = np.zeros(done.shape, dtype=bool)
        np.put_along_axis(mask, pick, True, axis=1)
        return groups.max(axis=1), _used(mask, times, start)


@dataclass(frozen=True)
class _Balanced(_PartialRule):
    """Water-filling: ``T = min_m (1 + Σ_{i≤m} r_i e_i) / Σ_{i≤m} r_i`` (module docstring);
    a worker with no compute (work 0) ends the round when it starts."""

    def finish(self, times, start):
        order = np.argsort(start, axis=1, kind="stable")
        extra = np.take_along_axis(start, order, axis=1)
        compute = np.take_along_axis(times - start, order, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(compute > 0, 1.0 / compute, 0.0)  # a crash (inf): rate 0
            total = np.cumsum(rate, axis=1)
            ends = np.where(total > 0, (1 + np.cumsum(rate * extra, axis=1)) / total, np.inf)
        instant = np.where(compute == 0, extra, np.inf)
        latency = np.minimum(ends.min(axis=1), instant.min(axis=1))
        capped = np.minimum(times, latency[:, None])  # everyone computes until the end
        return latency, np.where(np.isfinite(capped), capped, 0.0).sum(axis=1)
