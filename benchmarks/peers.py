"""What a Ray user writes without coded: plain actors, one row block of ``A`` each.

This module imports nothing from ``coded``: it is the independent baseline the runtime is
raced against. Three strategies, each on ``n`` actors (equal worker count):

* ``uncoded``: ``A`` in n row blocks, one per actor; ``ray.get`` of all n.
* ``replication`` (r-way): n/r blocks, block b on actors b, b + n/r, ...; the first copy
  of each block wins and the others are cancelled (``ray.cancel``).
* ``speculation`` (Spark-style): n blocks, actor i holds blocks i and i + 1 (mod n) and
  computes block i; once a fraction ``quantile`` of the tasks finished, each unfinished
  block is re-issued to the idle actor holding its copy (actor b − 1); first copy wins.

Injected delays have the runtime's semantics, compute-then-sleep: a task that took ``c``
seconds to compute sleeps a further ``(factor − 1)·c + extra`` seconds before returning,
so its round takes ``factor·c + extra``. The factor scales the measured compute time,
which is known only once computed, and the result is held back as a slow machine would
deliver it late. The sleep checks ``ray.get_runtime_context().is_canceled()`` every 5 ms,
so a cancelled straggler stops, as the runtime's workers do.

A map (``f``): each task returns ``f(block, x)`` instead of ``block @ x``, and ``round``
stacks the blocks' results, one row per block. ``f`` is any function the actors can
unpickle (a function of the ``__main__`` script travels by value).

Emulated mode (``seconds_per_op``, the calibrated single-core seconds per multiply-add):
the compute itself is a sleep of ``rows · cols · width · seconds_per_op`` for the task's
block, in the same cancellable slices, and the task returns zeros of the block's result
shape, so n actors on a few cores behave like n one-core machines. The actors then hold
only their blocks' shapes; the values are not the product. ``round_trip(k)`` times the
bare Ray control plane on the same actors: n calls that do nothing, until k returned.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import ray
from ray import cloudpickle

__all__ = ["PeerActor", "Peers"]

SLEEP_SLICE = 0.005


class PeerActor:
    """Holds row blocks of ``A`` (or, emulating, their shapes); multiplies one by ``x`` (or
    applies ``f`` to it, or sleeps its calibrated time) per task, then sleeps its injected
    delay."""

    def __init__(self, blocks: dict, seconds_per_op: float | None = None, f=None):
        self.blocks = blocks
        self.seconds_per_op = seconds_per_op
        self.f = f

    def ping(self) -> bool:
        return True

    def noop(self) -> None:
        return None

    def compute(self, block: int, x, factor: float, extra: float):
        start = time.perf_counter()
        context = ray.get_runtime_context()
        if self.f is not None:
            y = self.f(self.blocks[block], x)
        elif self.seconds_per_op is None:
            y = self.blocks[block] @ x
        else:
            rows, cols = self.blocks[block]
            width = int(np.prod(np.shape(x)[1:], dtype=np.int64))
            if not _sleep(rows * cols * width * self.seconds_per_op, context):
                return None
            y = np.zeros((rows,) + np.shape(x)[1:])
        compute_s = time.perf_counter() - start
        if not _sleep((factor - 1.0) * compute_s + extra, context):
            return None
        return block, y


def _sleep(seconds: float, context) -> bool:
    """Sleep in slices; False as soon as the task is cancelled."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if context.is_canceled():
            return False
        time.sleep(min(SLEEP_SLICE, max(end - time.perf_counter(), 0.0)))
    return True


# Ship this module's code to the workers by value: benchmarks/ is not a package they can import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
_Remote = ray.remote(max_restarts=0, max_task_retries=0)(PeerActor)


class Peers:
    """``n`` plain actors set up for one strategy; ``round(x, factors, extras)`` returns ``A @ x``.

    ``factors[i]``, ``extras[i]``: actor i's injected delay this round. With
    ``seconds_per_op`` the actors emulate their compute (see the module docstring) and ``A``
    may be anything with a ``shape`` (say ``np.broadcast_to(0.0, shape)``): only the blocks'
    shapes travel. With ``f`` the actors apply ``f(block, x)`` instead of multiplying, and
    ``round`` returns the blocks' results stacked, one row per block.
    """

    def __init__(
        self,
        A: np.ndarray,
        n: int,
        strategy: str,
        *,
        r: int = 2,
        quantile: float = 0.75,
        num_cpus: float = 1.0,
        seconds_per_op: float | None = None,
        f=None,
    ):
        if strategy not in ("uncoded", "replication", "speculation"):
            raise ValueError(f"unknown strategy {strategy!r}")
        if strategy == "replication" and n % r:
            raise ValueError(f"r={r} must divide n={n}")
        self.n, self.strategy, self.quantile = n, strategy, quantile
        self.count = n // r if strategy == "replication" else n  # distinct blocks
        blocks = np.array_split(A, self.count)
        if seconds_per_op is not None:
            blocks = [tuple(b.shape) for b in blocks]
        self.owner = [i % self.count for i in range(n)]  # the block actor i computes first
        held = [
            {self.owner[i]: blocks[self.owner[i]]}
            | ({(i + 1) % n: blocks[(i + 1) % n]} if strategy == "speculation" else {})
            for i in range(n)
        ]
        self.stack = np.concatenate if f is None else np.stack
        self.actors = [
            _Remote.options(num_cpus=num_cpus).remote(h, seconds_per_op, f) for h in held
        ]
        ray.get([a.ping.remote() for a in self.actors])

    def round(self, x, factors, extras) -> np.ndarray:
        def submit(actor: int, block: int):
            return self.actors[actor].compute.remote(
                block, x, float(factors[actor]), float(extras[actor])
            )

        pending = {submit(i, self.owner[i]): i for i in range(self.n)}
        if self.strategy == "uncoded":
            return self.stack([y for _, y in ray.get(list(pending))])
        results: dict[int, np.ndarray] = {}
        idle: set[int] = set()
        speculated = self.strategy != "speculation"
        while len(results) < self.count:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                idle.add(pending.pop(ref))
                block, y = ray.get(ref)
                results.setdefault(block, y)
            if not speculated and len(idle) >= self.quantile * self.n:
                speculated = True
                for block in set(range(self.count)) - set(results):
                    backup = (block - 1) % self.n  # holds block as its second one
                    if backup in idle:
                        idle.discard(backup)
                        pending[submit(backup, block)] = backup
        for ref in pending:  # the losing copies and stragglers
            ray.cancel(ref)
        return self.stack([results[b] for b in range(self.count)])

    def round_trip(self, k: int) -> float:
        """Seconds for n calls that do nothing until k of them returned: Ray's bare round."""
        start = time.perf_counter()
        refs = [actor.noop.remote() for actor in self.actors]
        ray.wait(refs, num_returns=k, fetch_local=False)
        elapsed = time.perf_counter() - start
        ray.wait(refs, num_returns=len(refs))  # no backlog into the next measurement
        return elapsed

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
