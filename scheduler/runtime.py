"""The runtime: n workers owned for repeated coded work, and jobs whose shards stay resident.

    with Runtime(8) as rt:
        op = rt.place(A, code=MDSCode(8, 6))   # encode once, ray.put each shard once
        y = op @ x                              # one coded round: any 6 of 8 answers decode
        C = rt.matmul(A, B, code=PolynomialCode(8, 2, 3))   # two-operand codes, one round
        job = rt.place_job(shards, kernel, code)   # any kernel: job.run(*args) is one round
        ys = rt.map(f, blocks, code=LagrangeCode(8, 3, degree=2))   # [f(X_1), ..., f(X_3)]

A :class:`Job` is shards resident on the workers, the kernel their rounds compute
(:mod:`coded.workers.kernels`) and the code the master decodes with; a
:class:`CodedOperator` is a job whose kernel is the product, with ``op @ x``.

Rounds are numbered across the runtime (round r selects each worker's injected delay);
jobs are numbered in the order they are placed. The last ``history_size`` rounds'
:class:`~coded.scheduler.metrics.RoundMetrics` are kept in ``rt.history`` (and a job's in
``job.history``, its last one in ``job.metrics``), so a long job's memory stays flat.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from coded import Code, MDSCode
from coded.checks import check_choice, check_instance, check_int, check_number
from coded.workers.backend import BACKENDS
from coded.workers.delays import DelayModel
from coded.workers.emulation import Emulation
from coded.workers.kernels import Apply, Product, check_kernel

from .errors import ClosedError
from .metrics import RoundMetrics
from .policy import Approximate, check_policy
from .pool import Pool
from .recoding import Adapt
from .round import PerWorker, run_rounds
from .speeds import SpeedEstimate, job_work
from .threads import ThreadBudget
from .trust import Blocklist

__all__ = [
    "Runtime",
    "check_runtime_options",
    "runtime_for",
    "settle_workers",
    "Job",
    "CodedOperator",
    "default_code",
    "operand_count",
    "check_code",
    "check_product",
    "check_operands",
]


def default_code(n: int) -> MDSCode:
    """The code used when none is given: an (n, k) MDS code tolerating about a quarter of n.

    >>> default_code(8)
    MDSCode(n=8, k=6, systematic=False, field='real')
    """
    n = check_int(n, "n", minimum=1)
    return MDSCode(n, max(1, n - -(-n // 4)))


def check_code(code, n: int | None = None, byzantine: int = 0) -> Code:
    """``code`` if it is a :class:`~coded.Code` (for ``n`` workers, when given, with room to
    correct ``byzantine`` wrong answers), else an error naming the argument.

    >>> check_code("mds")
    Traceback (most recent call last):
    ...
    TypeError: Argument 'code' must be a coded.Code, e.g. coded.MDSCode(n=8, k=6), not 'mds' (str).
    """
    check_instance(code, "code", Code, "a coded.Code, e.g. coded.MDSCode(n=8, k=6)")
    if n is not None and code.n != n:
        raise ValueError(
            f"Argument 'code' must have n={n} workers like the runtime, not n={code.n} ({code!r})."
        )
    if byzantine and code.pieces is not None:
        raise ValueError(
            f"Argument 'byzantine' must be 0 with a partial-work code, which decodes from "
            f"chunks and corrects none ({code!r}), not {byzantine}."
        )
    quorum = code.recovery_threshold + 2 * byzantine
    if byzantine and quorum > code.n:
        raise ValueError(
            f"Argument 'byzantine' must leave {code!r} enough workers to correct: recovery "
            f"threshold {code.recovery_threshold} + 2·{byzantine} = {quorum} > n={code.n}."
        )
    return code


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
        delays: injected straggler model (:mod:`coded.workers.delays`), for experiments;
            it must fit n workers.
        seed: seed of the injected delays (an integer >= 0).
        deadline: seconds a round may take before :class:`~.errors.RoundTimeoutError`.
        address: Ray cluster address (default ``$RAY_ADDRESS``; a local Ray otherwise).
        connect_timeout: seconds to reach ``address`` before a ``ConnectionError``
            (default :data:`~coded.scheduler.cluster.CONNECT_TIMEOUT`, 30 s).
        pool: use this pool instead of starting Ray actors (e.g. an
            :class:`~coded.scheduler.pool.InProcessPool`); the runtime closes it.
        history_size: rounds of metrics kept in ``history`` (the latest; None keeps all).
        master_threads: BLAS threads the master's own numeric work (encode, decode) may use,
            so it leaves the cores to co-located workers (:mod:`~.threads`); None: no limit.
        emulate: the Ray workers sleep their calibrated compute time instead of computing
            (:mod:`coded.workers.emulation`: it measures the control plane; the results
            are zeros, not the product). Give an emulating ``pool`` instead when you pass one.
        byzantine: wrong answers each round corrects (:meth:`coded.Code.correct`): a round
            waits for ``recovery_threshold + 2·byzantine`` answers (see
            :mod:`~coded.scheduler.round` for why no cheaper agreement check), decodes
            despite up to that many wrong ones, and names them in ``metrics.faulty``.
            Answers that are not results at all (NaN, a wrong shape, ...) are erasures
            whatever ``byzantine`` is.
        blocklist: ``(strikes, rounds)``: a worker found faulty in ``strikes`` of the last
            ``rounds`` rounds it was sent is blocklisted (:mod:`~coded.scheduler.trust`:
            re-placed, then excluded, logged; ``rt.blocklist``); None: never.

    Every round updates the runtime's speed estimate of each worker (:mod:`~.speeds`:
    ``rt.speeds``, and each round's ``metrics.speeds``); an operator placed with
    ``adapt=Adapt()`` re-chooses its code when workers stay slow (:mod:`~.adapt`, its
    decisions in ``rt.decisions``).

    Every argument is checked before Ray starts (a ValueError or TypeError naming it); the
    options of the Ray workers (resources, delays, seed, address, backend, emulate) are
    refused with a ``pool``, which has its own.

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
        connect_timeout: float | None = None,
        backend: str | None = None,
        pool: Pool | None = None,
        history_size: int | None = 10_000,
        master_threads: int | None = 1,
        emulate: Emulation | None = None,
        byzantine: int = 0,
        blocklist: tuple[int, int] | None = (2, 5),
    ):
        self.n = check_int(n, "n", minimum=1)
        self.byzantine = check_int(byzantine, "byzantine", minimum=0)
        self._trust = _check_blocklist(blocklist, self.n)
        self.threads = ThreadBudget(master_threads)
        if history_size is not None:
            history_size = check_int(history_size, "history_size", minimum=1)
        self.deadline = check_number(
            deadline, "deadline", minimum=0, above=True, what="a positive number of seconds"
        )
        options = dict(
            num_cpus_per_worker=num_cpus_per_worker,
            num_gpus_per_worker=num_gpus_per_worker,
            delays=delays,
            seed=seed,
            address=address,
            connect_timeout=connect_timeout,
            backend=backend,
            emulate=emulate,
        )
        given = _check_worker_options(self.n, **options)
        self._started_ray = False
        self._on_ray = pool is None
        if pool is None:
            pool = self._start_ray_pool(**options)
        else:
            check_instance(pool, "pool", Pool, "a coded.scheduler.pool.Pool or None")
            if pool.n != self.n:
                raise ValueError(f"Argument 'pool' must have n={self.n} workers, not {pool.n}.")
            if given:
                names = ", ".join(repr(name) for name in given)
                label, verb = ("Argument", "applies") if len(given) == 1 else ("Arguments", "apply")
                raise ValueError(
                    f"{label} {names} {verb} to the Ray workers a Runtime starts; give the pool "
                    f"its own (e.g. InProcessPool(n, {given[0]}=...))."
                )
        self.pool = pool
        self.history: deque[RoundMetrics] = deque(maxlen=history_size)
        self._speeds = SpeedEstimate(self.n)
        self._work: dict[int, Callable] = {}  # job -> each worker's work in a round of it
        self.decisions: list = []  # adaptive operators' re-placements (:mod:`~.adapt`)
        self.rounds_run = 0  # rounds started so far; the next round's number
        self._jobs = itertools.count()
        self._functions: dict[object, tuple[object, int]] = {}  # f -> (f, its job)
        self._closed = False

    def _start_ray_pool(
        self, *, address, connect_timeout, num_cpus_per_worker, num_gpus_per_worker, **workers
    ) -> Pool:
        import ray

        from .cluster import connect, disconnect
        from .ray_pool import RayPool

        timeout = {} if connect_timeout is None else {"timeout": connect_timeout}
        self._started_ray = connect(address, **timeout)
        num_cpus = num_cpus_per_worker
        if num_cpus is None:  # GPU workers need no CPU of their own
            cpus = ray.cluster_resources().get("CPU", 1.0)
            num_cpus = 0.0 if num_gpus_per_worker else min(1.0, cpus / self.n)
        try:
            return RayPool(
                self.n,
                num_cpus_per_worker=num_cpus,
                num_gpus_per_worker=num_gpus_per_worker,
                **workers,
            )
        except BaseException:
            disconnect(self._started_ray)
            raise

    # -- work ---------------------------------------------------------------------------
    def place_job(
        self,
        shards: Sequence[tuple],
        kernel: Callable,
        code: Code,
        *,
        receive: Callable | None = None,
    ) -> Job:
        """Make ``shards[i]`` resident on worker i; each round of the job computes ``kernel``.

        Args:
            shards: n tuples of arrays, one per worker.
            kernel: what worker i returns for a round's ``args`` (see
                :mod:`coded.workers.kernels`), e.g. :class:`~coded.workers.kernels.Product`.
            code: the code the master decodes each round's answers with; it need not be
                the one that laid out the shards.
            receive: the master's side of a wire format, ``receive(i, answer) -> array``,
                applied to each answer fetched (e.g. a compressed message, unpacked), before
                it is screened and decoded; an answer it refuses (ValueError, TypeError)
                is an erasure with that reason.

        >>> import numpy as np
        >>> from coded.scheduler.pool import InProcessPool
        >>> from coded.workers.kernels import Product
        >>> code, A = MDSCode(4, 2), np.arange(8.0).reshape(4, 2)
        >>> with Runtime(4, pool=InProcessPool(4)) as rt:
        ...     job = rt.place_job([(s,) for s in code.encode(A)], Product(), code)
        ...     np.allclose(job.run(np.ones(2)), A @ np.ones(2))
        True
        """
        check_code(code, self.n, self.byzantine)
        _check_shards(shards, self.n)
        _check_pieces(kernel, code)
        start = time.perf_counter()
        job = self._new_job(shards, kernel)
        return Job(self, job, code, time.perf_counter() - start, receive=receive)

    def place(self, A, code: Code | None = None, *, adapt: Adapt | None = None) -> CodedOperator:
        """Encode ``A`` once, keep its shards resident on the workers; ``op @ x`` runs a round.

        With ``adapt`` (an :class:`~coded.scheduler.recoding.Adapt`, for an MDS code), the
        operator keeps ``A`` and re-encodes it with a re-chosen k while workers stay slow
        (:class:`~coded.scheduler.adapt.AdaptiveOperator`).
        """
        code = self._check_code(code if code is not None else default_code(self.n))
        if adapt is not None:
            from .adapt import AdaptiveOperator, check_adapt

            check_adapt(adapt, code)
        if operand_count(code) == 2:
            raise TypeError(
                f"Argument 'code' must encode A alone to be placed; {code!r} encodes (A, B): "
                f"use Runtime.matmul(A, B, code=...)"
            )
        start = time.perf_counter()
        with self.threads:
            shares = code.encode(A)
        job = self._new_job([(s,) for s in shares], _product(code))
        encode_s = time.perf_counter() - start
        if adapt is not None:
            return AdaptiveOperator(self, job, code, A, encode_s, adapt)
        return CodedOperator(self, job, code, np.shape(A), encode_s)

    def matmul(self, A, B, code: Code | None = None, return_metrics: bool = False):
        """``A @ B`` in one coded round; with ``return_metrics`` also its :class:`RoundMetrics`.

        MDS-type codes encode ``A`` and send ``B`` to every worker; polynomial-type codes
        (``encode(A, B)``) give worker i the pair ``(A_i, B_i)``.
        """
        code = self._check_code(code if code is not None else default_code(self.n))
        A, B = check_operands(A, B, code)  # B too before placing A
        if operand_count(code) == 1:
            with self.place(A, code) as op:
                result = op @ B
            return (result, op.metrics) if return_metrics else result
        start = time.perf_counter()
        with self.threads:
            pairs = code.encode(A, B)
        job_id = self._new_job([tuple(pair) for pair in pairs], _product(code))
        with Job(self, job_id, code, time.perf_counter() - start) as job:
            result = job.run()
        return (result, job.metrics) if return_metrics else result

    def place_map(
        self, f, blocks, *, code: Code, policy: Approximate | None = None, verify: int = 0
    ) -> Job:
        """Encode k data blocks once as ``code``'s shares, resident on the workers; each
        round ``job.run(*args)`` then returns ``[f(X_1, *args), …, f(X_k, *args)]``.

        Every worker applies ``f`` to its share (:class:`~coded.workers.kernels.Apply`),
        so repeated rounds move only their ``args``, broadcast to every worker like the
        model in gradient rounds. Stragglers are cancelled, failures are erasures, as in
        every round.

        Args:
            f: the function: a picklable callable or ``"module:function"``. With a
                :class:`~coded.LagrangeCode` it must be a polynomial of at most the code's
                ``degree`` in the share's entries (over GF(p), computed mod p); with a
                :class:`~coded.BerrutCode` any smooth function.
            blocks: the k data blocks ``X_j``, of one shape (or an array with k rows).
            code: a code whose workers apply functions (``code.maps``).
            policy: when an approximate code's round stops (:class:`~.policy.Approximate`;
                default :func:`~.policy.default_policy`); None for exact codes.
            verify: answers beyond the quorum to wait for and check the others against: a
                polynomial of higher degree than declared (or a wrong answer beyond
                ``byzantine``) then raises :class:`~coded.UncorrectableError` instead of
                decoding to a wrong result.

        >>> import numpy as np
        >>> from coded import LagrangeCode
        >>> from coded.scheduler.pool import InProcessPool
        >>> blocks = [np.eye(2), 2 * np.eye(2), np.ones((2, 2))]
        >>> with Runtime(6, pool=InProcessPool(6)) as rt:
        ...     job = rt.place_map("numpy:square", blocks, code=LagrangeCode(6, 3, degree=2))
        ...     squares = job.run()
        >>> all(np.allclose(y, X * X) for y, X in zip(squares, blocks)), len(job.metrics.used)
        (True, 5)
        """
        f, code, options = self._check_map(f, code, policy, verify)
        start = time.perf_counter()
        with self.threads:
            shares = code.encode(blocks)
        job = self._new_job([(share,) for share in shares], Apply(f))
        return Job(self, job, code, time.perf_counter() - start, **options)

    def map(
        self,
        f,
        blocks,
        *,
        code: Code,
        args: Sequence = (),
        policy: Approximate | None = None,
        verify: int = 0,
        return_metrics: bool = False,
    ):
        """``[f(X_1, *args), …, f(X_k, *args)]`` in one coded round; with ``return_metrics``
        also its :class:`RoundMetrics` (arguments as in :meth:`place_map`).

        Each worker's share travels with the round (:class:`~.round.PerWorker`) rather than
        being placed first, and ``f`` is placed once per runtime: a stream of fresh batches
        (inference) costs one round each. To map over the same blocks again, place them
        with :meth:`place_map`.
        """
        check_instance(args, "args", tuple | list, "a tuple of f's extra arguments")
        f, code, options = self._check_map(f, code, policy, verify)
        start = time.perf_counter()
        with self.threads:
            shares = code.encode(blocks)
        job = Job(self, self._function_job(f), code, time.perf_counter() - start, **options)
        result = job._batch([PerWorker(shares, tuple(args))], window=1)[0]
        return (result, job.metrics) if return_metrics else result

    def _check_map(self, f, code, policy, verify) -> tuple:
        """``(f, a copy of code, {policy, verify})`` of a map, checked (:mod:`~.mapping`)."""
        from .mapping import check_function, check_map_code, check_verify

        f = check_function(f)
        code = check_map_code(code, self.n, self.byzantine)
        options = {
            "policy": check_policy(policy, code),
            "verify": check_verify(verify, code, self.byzantine),
        }
        return f, _copy(code), options

    def _function_job(self, f) -> int:
        """The job, placed once per ``f`` on this runtime, whose workers apply ``f`` to the
        share each round brings."""
        key = f if isinstance(f, str) else id(f)  # the entry keeps f, and so its id, alive
        if key not in self._functions:
            self._functions[key] = (f, self._new_job([()] * self.n, Apply(f)))
        return self._functions[key][1]

    @property
    def speeds(self) -> np.ndarray:
        """Each worker's estimated speed (:mod:`~.speeds`: work per second, an EWMA over
        the rounds; NaN for a worker not observed yet): a copy."""
        return self._speeds.speeds.copy()

    def _observe(self, metrics: RoundMetrics, work: np.ndarray) -> None:
        """Update the speed estimates from a round whose workers were given ``work``."""
        metrics.speeds = tuple(self._speeds.observe(metrics, work).tolist())

    @property
    def blocklist(self) -> dict[int, str]:
        """The blocklisted workers (:mod:`~coded.scheduler.trust`), with the reason each was
        last found faulty."""
        return {} if self._trust is None else dict(self._trust.blocked)

    def pardon(self, worker: int) -> None:
        """Trust a blocklisted ``worker`` again (its strikes start afresh)."""
        if self._trust is not None:
            self._trust.pardon(worker)

    def _trusted(self) -> tuple[int, tuple[int, ...]]:
        """The wrong answers a round corrects, and the workers it excludes: each blocklisted
        worker is a known erasure, so it uses up one of ``byzantine``."""
        blocked = tuple(sorted(self.blocklist))
        return max(self.byzantine - len(blocked), 0), blocked

    def _judge(self, metrics: RoundMetrics) -> None:
        """Count a round's faulty workers; re-place those it blocklists."""
        if self._trust is None:
            return
        sent = [i for i in range(self.n) if i not in metrics.excluded]
        for worker in self._trust.record(sent, metrics.faulty):
            self.pool.replace(worker)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (no job can run any more)."""
        return self._closed

    @property
    def ray(self) -> dict | None:
        """The Ray the workers run on (:func:`~.cluster.ray_in_use`: its GCS ``address`` and
        whether it was ``started_here``); None with a pool of your own."""
        if not self._on_ray or self._closed:
            return None
        from .cluster import ray_in_use

        return ray_in_use()

    def close(self) -> None:
        """Stop the workers (and Ray, if this runtime started it)."""
        self._closed = True
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
        """A matrix-product code for this runtime, copied (:func:`_copy`)."""
        check_code(code, self.n, self.byzantine)
        operand_count(code)
        return _copy(code)

    def _new_job(self, shards: Sequence[tuple], kernel: Callable) -> int:
        """Place a job's shards on the pool; its number."""
        if self._closed:
            raise ClosedError("the runtime is closed: start a new Runtime to place jobs")
        check_kernel(kernel)
        job = next(self._jobs)
        self.pool.place(job, shards, kernel)
        self._work[job] = job_work(kernel, shards, self.n)
        return job


def check_runtime_options(runtime: Runtime | None, options: dict) -> None:
    """Options to start a runtime with make sense only when no ``runtime`` is given.

    >>> check_runtime_options(None, {"deadline": 3})
    """
    if runtime is not None:
        check_instance(runtime, "runtime", Runtime, "a coded.Runtime or None")
        if options:
            raise TypeError(
                f"runtime options {sorted(options)} apply only when no 'runtime' is given"
            )


def settle_workers(runtime: Runtime | None, n, default: int = 8) -> int:
    """How many workers a driver runs on: the ``runtime``'s, ``n`` (which must agree with
    it), else ``default``; checked.

    >>> settle_workers(None, None), settle_workers(None, 4)
    (8, 4)
    """
    if runtime is not None:
        check_instance(runtime, "runtime", Runtime, "a coded.Runtime or None")
    if n is not None:
        n = check_int(n, "n", minimum=1)
    if runtime is not None and n is not None and n != runtime.n:
        raise ValueError(f"Argument 'n' must equal the runtime's n={runtime.n}, not {n}.")
    return runtime.n if runtime is not None else (default if n is None else n)


@contextmanager
def runtime_for(runtime: Runtime | None, n: int, **options) -> Iterator[Runtime]:
    """``runtime`` itself, or one of ``n`` workers started with ``options`` and closed on
    exit: how a driver (training, saddle problems, power iteration) borrows or owns one."""
    check_runtime_options(runtime, options)
    if runtime is not None:
        yield runtime
        return
    with Runtime(n, **options) as owned:
        yield owned


def _check_blocklist(blocklist, n: int) -> Blocklist | None:
    """The blocklist for a ``(strikes, rounds)`` rule, or None, or an error naming it."""
    if blocklist is None:
        return None
    check_instance(blocklist, "blocklist", tuple | list, "(strikes, rounds), e.g. (2, 5), or None")
    if len(blocklist) != 2:
        raise ValueError(
            f"Argument 'blocklist' must be (strikes, rounds), e.g. (2, 5), not {blocklist!r}."
        )
    return Blocklist(n, *blocklist)


def _check_worker_options(n: int, **options) -> list[str]:
    """Check the options of the Ray workers a Runtime starts, before Ray starts; return the
    names of those not at their defaults."""
    cpus, delays = options["num_cpus_per_worker"], options["delays"]
    if cpus is not None:
        check_number(cpus, "num_cpus_per_worker", minimum=0)
    check_number(options["num_gpus_per_worker"], "num_gpus_per_worker", minimum=0)
    check_int(options["seed"], "seed", minimum=0)
    if delays is not None:
        check_instance(
            delays,
            "delays",
            DelayModel,
            "a coded.workers.delays model or None (for a config mapping, use "
            "delay_from_config(config))",
        )
        try:
            delays.check_n(n)
        except ValueError as exc:
            raise ValueError(f"Argument 'delays' must fit the n={n} workers: {exc}") from exc
    if options["connect_timeout"] is not None:
        check_number(
            options["connect_timeout"],
            "connect_timeout",
            minimum=0,
            above=True,
            what="a positive number of seconds",
        )
    if options["address"] is not None:
        check_instance(options["address"], "address", str, "a Ray address ('auto', 'host:6379')")
    if options["backend"] is not None:
        check_choice(options["backend"], "backend", BACKENDS)
    if options["emulate"] is not None:
        check_instance(options["emulate"], "emulate", Emulation, "an Emulation or None")
    defaults = inspect.signature(Runtime).parameters
    return [name for name, value in options.items() if value != defaults[name].default]


def _share(pool: Pool, args: tuple | PerWorker) -> tuple | PerWorker:
    """A round's arguments, each stored once for the workers that read it (``pool.share``)."""
    if isinstance(args, PerWorker):
        shared = tuple(pool.share(arg) for arg in args.shared)
        return PerWorker([pool.share(value) for value in args.values], shared)
    return tuple(pool.share(arg) for arg in args)


def _copy(code: Code) -> Code:
    """A fresh copy of ``code``, whose ``layout_`` will be one job's (its ``accuracy`` is
    the caller's)."""
    copy = type(code).from_config(code.get_config())
    copy.accuracy = code.accuracy
    return copy


def _product(code: Code) -> Product:
    """The product kernel in ``code``'s field (exact mod p on the host for GF(p)), in the
    pieces a partial-work code decodes from."""
    return Product(code.field.p if code.field.exact else None, _chunks(code))


def _chunks(code: Code) -> int:
    """The pieces each worker's answer comes in (1 unless the code decodes partial work)."""
    return 1 if code.pieces is None else code.pieces.n // code.n


def _check_pieces(kernel, code: Code) -> None:
    """A partial-work code needs a kernel that streams its chunks, or an error naming it."""
    chunks = _chunks(code)
    if chunks > 1 and (
        getattr(kernel, "pieces", 1) != chunks or not callable(getattr(kernel, "stream", None))
    ):
        raise ValueError(
            f"Argument 'kernel' must stream the {chunks} chunks per worker that {code!r} "
            f"decodes from (e.g. Product(pieces={chunks})), not {kernel!r}."
        )


class Job:
    """Shards resident on the workers and the kernel they compute; ``job.run(*args)`` is a round.

    Made by :meth:`Runtime.place_job`; a context manager that releases the shards on exit.

    Attributes:
        id: the job's number on its runtime.
        code: the code the master decodes each round with.
        encode_s: seconds spent encoding and placing the shards (in the first round's metrics).
        policy: when a round of an approximate code stops (None for exact codes).
        verify: answers each round checks the others against (:meth:`Runtime.place_map`).
        receive: the master's side of the kernel's wire format (:meth:`Runtime.place_job`).
        metrics: the last round's :class:`RoundMetrics` (None before the first).
        history: this job's rounds, the last ``history_size`` of the runtime.
    """

    def __init__(
        self,
        runtime: Runtime,
        id: int,
        code: Code,
        encode_s: float = 0.0,
        *,
        policy: Approximate | None = None,
        verify: int = 0,
        receive: Callable | None = None,
    ):
        self._runtime = runtime
        self.id = id
        self.code = code
        self.encode_s = encode_s
        self.policy, self.verify, self.receive = policy, verify, receive
        self.metrics: RoundMetrics | None = None
        self.history: deque[RoundMetrics] = deque(maxlen=runtime.history.maxlen)
        self._closed = False

    def run(self, *args):
        """One coded round on ``args`` (each stored once for all workers): the decoded result.

        Every worker computes the kernel; the round ends at the first decodable set of
        answers, the stragglers are cancelled, and the round's metrics are appended to
        ``metrics`` / ``history`` here and on the runtime.
        """
        return self._batch([args], window=1)[0]

    def map(self, argsets: Iterable[tuple], window: int = 4) -> list:
        """One round per tuple of ``argsets``, up to ``window`` in flight: the results, in order.

        Rounds are independent: while the workers compute one, the master dispatches the
        next and decodes the last, so a batch of small rounds finishes sooner than the same
        rounds run one by one. Each round still ends at its first decodable set and cancels
        its own stragglers (once every earlier round has finished).

        >>> import numpy as np
        >>> from coded.scheduler.pool import InProcessPool
        >>> A = np.arange(12.0).reshape(4, 3)
        >>> with Runtime(4, pool=InProcessPool(4)) as rt:
        ...     op = rt.place(A, code=MDSCode(4, 2))
        ...     ys = op.map([np.ones(3), np.zeros(3), np.arange(3.0)], window=2)
        >>> [np.round(y, 9).tolist() for y in ys]
        [[3.0, 12.0, 21.0, 30.0], [0.0, 0.0, 0.0, 0.0], [5.0, 14.0, 23.0, 32.0]]
        """
        window = check_int(window, "window", minimum=1)
        check_instance(argsets, "argsets", Iterable, "an iterable of argument tuples")
        argsets = list(argsets)
        for i, args in enumerate(argsets):
            check_instance(args, f"argsets[{i}]", tuple | list, "a tuple of one round's arguments")
        return self._batch([tuple(args) for args in argsets], window)

    def _batch(self, argsets: list[tuple], window: int) -> list:
        """Run one round per tuple of ``argsets`` within the master's thread budget; record
        each round's metrics here and on the runtime; return the results in order."""
        runtime = self._runtime
        if self._closed or runtime.closed:
            closed = "this job" if self._closed else "its runtime"
            raise ClosedError(f"job {self.id} cannot run: {closed} is closed")
        start, cpu = time.perf_counter(), time.process_time()
        results, finished = [], []
        work = [runtime._work[self.id](args) for args in argsets]
        with runtime.threads:
            shared = [_share(runtime.pool, args) for args in argsets]
            share_s = (time.perf_counter() - start) / max(len(argsets), 1)
            numbers = range(runtime.rounds_run, runtime.rounds_run + len(argsets))
            runtime.rounds_run += len(argsets)
            rounds = zip(numbers, shared, strict=True)
            byzantine, excluded = runtime._trusted()  # for the whole batch
            for result, metrics in run_rounds(
                runtime.pool,
                self.code,
                self.id,
                rounds,
                window=window,
                deadline=runtime.deadline,
                byzantine=byzantine,
                exclude=excluded,
                verify=self.verify,
                policy=self.policy,
                receive=self.receive,
            ):
                runtime._judge(metrics)
                runtime._observe(metrics, work[len(finished)])
                metrics.share_s = share_s
                metrics.total_s += share_s
                if self.metrics is None:
                    metrics.encode_s = self.encode_s
                runtime.history.append(metrics)
                self.metrics = metrics
                self.history.append(metrics)
                results.append(result)
                finished.append(metrics)
        cpu = time.process_time() - cpu
        for metrics in finished:  # the batch's CPU, shared out evenly
            metrics.master_cpu_s = cpu / len(finished)
        return results

    def close(self) -> None:
        """Release the shards on the workers (again: nothing)."""
        if not self._closed:
            self._closed = True
            self._runtime._work.pop(self.id, None)
            if not self._runtime.closed:
                self._runtime.pool.drop(self.id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"{type(self).__name__}(id={self.id}, code={self.code!r})"


class CodedOperator(Job):
    """``A`` placed on the workers as coded shards; ``op @ x`` is one coded round.

    Made by :meth:`Runtime.place`; a :class:`Job` whose kernel is the product, with ``shape``,
    ``A``'s shape.
    """

    def __init__(self, runtime: Runtime, id: int, code: Code, shape: tuple, encode_s: float):
        super().__init__(runtime, id, code, encode_s)
        self.shape = tuple(shape)

    def __matmul__(self, x):
        return self.run(x)

    def run(self, *args):
        """``A @ x`` in one coded round for ``run(x)``, as ``op @ x``."""
        if len(args) != 1:
            raise TypeError(f"CodedOperator.run takes one operand x (op @ x), not {len(args)}.")
        return super().run(self._check_operand(args[0]))

    def map(self, xs: Iterable, window: int = 4) -> list:
        """``[A @ x for x in xs]`` with up to ``window`` rounds in flight (see :meth:`Job.map`)."""
        check_instance(xs, "xs", Iterable, "an iterable of operands x")
        return super().map(
            [(self._check_operand(x, f"xs[{i}]"),) for i, x in enumerate(xs)], window
        )

    def _check_operand(self, x, name: str = "x"):
        x = self.code.field.validate(x, name, ndim=(1, 2))
        if x.shape[0] != self.shape[-1]:
            raise ValueError(
                f"Argument {name!r} must have {self.shape[-1]} rows to multiply A of shape "
                f"{self.shape}, not {x.shape[0]} (shape {x.shape})."
            )
        return x

    def __repr__(self):
        return f"CodedOperator(shape={self.shape}, code={self.code!r}, id={self.id})"


def check_product(A, B) -> None:
    """Reject operands whose shapes cannot be multiplied, or are empty, naming the argument.

    Only the shapes are read (``np.empty(shape)`` checks a job file's declared shapes).

    >>> check_product(np.empty((0, 3)), np.empty(3))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'A' must not be empty, not of shape (0, 3).
    """
    a_shape, b_shape = np.shape(A), np.shape(B)
    if len(a_shape) != 2 or len(b_shape) not in (1, 2):
        raise ValueError(
            f"Arguments 'A' and 'B' must be a 2-D and a 1-D or 2-D array, "
            f"not shapes {a_shape} and {b_shape}."
        )
    for name, shape in (("A", a_shape), ("B", b_shape)):
        if 0 in shape:
            raise ValueError(f"Argument {name!r} must not be empty, not of shape {shape}.")
    if a_shape[1] != b_shape[0]:
        raise ValueError(
            f"Argument 'B' must have {a_shape[1]} rows to multiply A of shape {a_shape}, "
            f"not {b_shape[0]} (shape {b_shape})."
        )


def check_operands(A, B, code: Code) -> tuple[np.ndarray, np.ndarray]:
    """``A`` and ``B`` as arrays of ``code``'s field that ``code`` can multiply, or an error
    naming the argument: non-numbers, ragged lists, NaN or Inf, entries outside GF(p),
    empty or mismatched shapes (a 2-D ``B`` for codes that encode ``(A, B)``).

    >>> check_operands([[1.0, 2.0]], [[1.0], [2.0], [3.0]], MDSCode(2, 1))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'B' must have 2 rows to multiply A of shape (1, 2), not 3 (shape (3, 1)).
    """
    A = code.field.validate(A, "A", ndim=(2,))
    B = code.field.validate(B, "B", ndim=(1, 2) if operand_count(code) == 1 else (2,))
    check_product(A, B)
    return A, B


def _check_shards(shards, n: int) -> None:
    """One tuple (or list) of operands per worker, or an error naming ``shards``."""
    check_instance(shards, "shards", Sequence, f"a list of n={n} tuples of operands")
    if len(shards) != n:
        raise ValueError(f"Argument 'shards' must hold n={n} shards, not {len(shards)}.")
    for i, shard in enumerate(shards):
        check_instance(shard, f"shards[{i}]", tuple | list, f"a tuple of worker {i}'s operands")
