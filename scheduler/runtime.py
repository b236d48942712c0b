"""The runtime: n workers owned for repeated coded work, and operators whose shards stay resident.

    with Runtime(8) as rt:
        op = rt.place(A, code=MDSCode(8, 6))   # encode once, ray.put each shard once
        y = op @ x                              # one coded round: any 6 of 8 answers decode
        C = rt.matmul(A, B, code=PolynomialCode(8, 2, 3))   # two-operand codes, one round

Rounds are numbered across the runtime (round r selects each worker's injected delay);
jobs are numbered per placed operator. The last ``history_size`` rounds'
:class:`~coded.scheduler.metrics.RoundMetrics` are kept in ``rt.history`` (and an operator's in
``op.history``, its last one in ``op.metrics``), so a long job's memory stays flat.
"""

from __future__ import annotations

import itertools
import time
from collections import deque

import numpy as np

from coded import Code, MDSCode
from coded.checks import check_int
from coded.workers.delays import DelayModel
from coded.workers.kernels import Product

from .metrics import RoundMetrics
from .pool import Pool
from .round import run_round

__all__ = ["Runtime", "CodedOperator", "default_code", "operand_count", "check_product"]


def default_code(n: int) -> MDSCode:
    """The code used when none is given: an (n, k) MDS code tolerating about a quarter of n.

    >>> default_code(8)
    MDSCode(n=8, k=6, systematic=False, field='real')
    """
    n = check_int(n, "n", minimum=1)
    return MDSCode(n, max(1, n - -(-n // 4)))


def operand_count(code: Code) -> int:
    """1 for codes that encode ``A`` (MDS, replication), 2 for those that encode ``(A, B)``.

    >>> operand_count(MDSCode(4, 2))
    1
    """
    count = getattr(code, "operands", None)
    if count not in (1, 2):
        raise TypeError(
            f"Argument 'code' must be a matrix-product code (encode(A) or encode(A, B)), "
            f"not {code!r}."
        )
    return count


class Runtime:
    """n coded workers on Ray (or on any :class:`~coded.scheduler.pool.Pool`), as a context manager.

    Args:
        n: number of workers.
        num_cpus_per_worker: logical CPUs per actor; default: a fair share of the cluster, <= 1.
        num_gpus_per_worker: GPU fraction per actor (workers then compute with CuPy or torch).
        delays: injected straggler model (:mod:`coded.workers.delays`), for experiments.
        seed: seed of the injected delays.
        deadline: seconds a round may take before :class:`~.errors.RoundTimeoutError`.
        address: Ray cluster address (default ``$RAY_ADDRESS``; a local Ray otherwise).
        pool: use this pool instead of starting Ray actors (e.g. an
            :class:`~coded.scheduler.pool.InProcessPool`); the runtime closes it.
        history_size: rounds of metrics kept in ``history`` (the latest; None keeps all).

    >>> import numpy as np
    >>> from coded.scheduler.pool import InProcessPool
    >>> A, x = np.arange(12.0).reshape(4, 3), np.ones(3)
    >>> with Runtime(4, pool=InProcessPool(4)) as rt:
    ...     op = rt.place(A, code=MDSCode(4, 2))
    ...     np.allclose(op @ x, A @ x), len(op.metrics.used)
    (True, 2)
    """

    def __init__(
        self,
        n: int,
        *,
        num_cpus_per_worker: float | None = None,
        num_gpus_per_worker: float = 0.0,
        delays: DelayModel | None = None,
        seed: int = 0,
        deadline: float = 60.0,
        address: str | None = None,
        backend: str | None = None,
        pool: Pool | None = None,
        history_size: int | None = 10_000,
    ):
        self.n = check_int(n, "n", minimum=1)
        if history_size is not None:
            history_size = check_int(history_size, "history_size", minimum=1)
        if not deadline > 0:
            raise ValueError(f"Argument 'deadline' must be positive, not {deadline!r}.")
        self.deadline = float(deadline)
        self._started_ray = False
        if pool is None:
            pool = self._start_ray_pool(
                address, num_cpus_per_worker, num_gpus_per_worker, delays, seed, backend
            )
        elif pool.n != self.n:
            raise ValueError(f"Argument 'pool' must have n={self.n} workers, not {pool.n}.")
        self.pool = pool
        self.history: deque[RoundMetrics] = deque(maxlen=history_size)
        self.rounds_run = 0  # rounds started so far; the next round's number
        self._jobs = itertools.count()

    def _start_ray_pool(self, address, num_cpus, num_gpus, delays, seed, backend) -> Pool:
        import ray

        from .cluster import connect, disconnect
        from .ray_pool import RayPool

        self._started_ray = connect(address)
        if num_cpus is None:  # GPU workers need no CPU of their own
            cpus = ray.cluster_resources().get("CPU", 1.0)
            num_cpus = 0.0 if num_gpus else min(1.0, cpus / self.n)
        try:
            return RayPool(
                self.n,
                num_cpus_per_worker=num_cpus,
                num_gpus_per_worker=num_gpus,
                delays=delays,
                seed=seed,
                backend=backend,
            )
        except BaseException:
            disconnect(self._started_ray)
            raise

    # -- work ---------------------------------------------------------------------------
    def place(self, A, code: Code | None = None) -> CodedOperator:
        """Encode ``A`` once, keep its shards resident on the workers; ``op @ x`` runs a round."""
        code = self._check_code(code if code is not None else default_code(self.n))
        if operand_count(code) == 2:
            raise TypeError(
                f"Argument 'code' must encode A alone to be placed; {code!r} encodes (A, B): "
                f"use Runtime.matmul(A, B, code=...)"
            )
        start = time.perf_counter()
        shares = code.encode(A)
        job = self._place([(s,) for s in shares], _product(code))
        return CodedOperator(self, code, job, np.shape(A), time.perf_counter() - start)

    def matmul(self, A, B, code: Code | None = None, return_metrics: bool = False):
        """``A @ B`` in one coded round; with ``return_metrics`` also its :class:`RoundMetrics`.

        MDS-type codes encode ``A`` and send ``B`` to every worker; polynomial-type codes
        (``encode(A, B)``) give worker i the pair ``(A_i, B_i)``.
        """
        code = self._check_code(code if code is not None else default_code(self.n))
        check_product(A, B)
        if operand_count(code) == 1:
            B = code.field.validate(B, "B")  # before placing A
            op = self.place(A, code)
            try:
                result = op @ B
            finally:
                op.close()
            return (result, op.metrics) if return_metrics else result
        start = time.perf_counter()
        pairs = code.encode(A, B)
        job = self._place([tuple(pair) for pair in pairs], _product(code))
        encode_s = time.perf_counter() - start
        try:
            result, metrics = self._run(code, job, ())
        finally:
            self.pool.drop(job)
        metrics.encode_s = encode_s
        return (result, metrics) if return_metrics else result

    def close(self) -> None:
        """Stop the workers (and Ray, if this runtime started it)."""
        self.pool.close()
        if self._started_ray:
            from .cluster import disconnect

            disconnect(True)
            self._started_ray = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Runtime(n={self.n}, deadline={self.deadline:g}, pool={self.pool!r})"

    # -- internals ----------------------------------------------------------------------
    def _check_code(self, code: Code) -> Code:
        if not isinstance(code, Code):
            raise TypeError(f"Argument 'code' must be a coded.Code, not {type(code).__name__}.")
        if code.n != self.n:
            raise ValueError(
                f"Argument 'code' must have n={self.n} workers like the runtime, "
                f"not n={code.n} ({code!r})."
            )
        operand_count(code)
        return type(code).from_config(code.get_config())  # a fresh copy: its layout_ is this job's

    def _place(self, shards: list[tuple], kernel) -> int:
        """Place a job's shards; each round computes ``kernel`` (see coded.workers.kernels)."""
        job = next(self._jobs)
        self.pool.place(job, shards, kernel)
        return job

    def _run(self, code: Code, job: int, args: tuple):
        number, self.rounds_run = self.rounds_run, self.rounds_run + 1
        result, metrics = run_round(self.pool, code, job, number, args, deadline=self.deadline)
        self.history.append(metrics)
        return result, metrics


def _product(code: Code) -> Product:
    """The product kernel in ``code``'s field (exact mod p on the host for GF(p))."""
    return Product(code.field.p if code.field.exact else None)


class CodedOperator:
    """``A`` placed on the workers as coded shards; ``op @ x`` is one coded round.

    Attributes:
        code: the code (fitted to ``A``'s layout).
        shape: ``A``'s shape.
        encode_s: seconds spent encoding and placing ``A``.
        metrics: the last round's :class:`RoundMetrics` (None before the first).
        history: this operator's rounds, the last ``history_size`` of the runtime.
    """

    def __init__(self, runtime: Runtime, code: Code, job: int, shape: tuple, encode_s: float):
        self._runtime = runtime
        self.code = code
        self.job = job
        self.shape = tuple(shape)
        self.encode_s = encode_s
        self.metrics: RoundMetrics | None = None
        self.history: deque[RoundMetrics] = deque(maxlen=runtime.history.maxlen)

    def __matmul__(self, x):
        x = self.code.field.validate(x, "x")
        if self.shape[-1:] != x.shape[:1] or x.ndim not in (1, 2):
            raise ValueError(
                f"Argument 'x' must be 1-D or 2-D with {self.shape[-1]} rows to multiply "
                f"A of shape {self.shape}, not shape {x.shape}."
            )
        start = time.perf_counter()
        shared = self._runtime.pool.share(x)
        share_s = time.perf_counter() - start
        result, metrics = self._runtime._run(self.code, self.job, (shared,))
        metrics.share_s = share_s
        metrics.total_s += share_s
        if self.metrics is None:
            metrics.encode_s = self.encode_s
        self.metrics = metrics
        self.history.append(metrics)
        return result

    def close(self) -> None:
        """Release the shards on the workers."""
        self._runtime.pool.drop(self.job)

    def __repr__(self):
        return f"CodedOperator(shape={self.shape}, code={self.code!r}, job={self.job})"


def check_product(A, B) -> None:
    """Reject operands whose shapes cannot be multiplied, naming the argument."""
    a_shape, b_shape = np.shape(A), np.shape(B)
    if len(a_shape) != 2 or len(b_shape) not in (1, 2):
        raise ValueError(
            f"Arguments 'A' and 'B' must be a 2-D and a 1-D or 2-D array, "
            f"not shapes {a_shape} and {b_shape}."
        )
    if a_shape[1] != b_shape[0]:
        raise ValueError(
            f"Argument 'B' must have {a_shape[1]} rows to multiply A of shape {a_shape}, "
            f"not {b_shape[0]} (shape {b_shape})."
        )
