"""The user-facing entry points, exposed lazily as ``coded.matmul``, ``coded.map`` and
``coded.Runtime``.

``import coded`` stays free of Ray: ``coded.__getattr__`` imports this module on first use.
"""

from __future__ import annotations

from collections.abc import Sequence

from coded import Code
from coded.checks import check_blocks, check_bool, check_instance, check_int
from coded.workers.delays import DelayModel

from .mapping import check_function, check_map_code, check_verify
from .policy import Approximate, check_policy
from .runtime import Runtime, check_code, check_operands, default_code, operand_count

__all__ = ["matmul", "map", "Runtime", "DEFAULT_N"]

DEFAULT_N = 8


def matmul(
    A,
    B,
    *,
    code: Code | None = None,
    n: int | None = None,
    delays: DelayModel | None = None,
    seed: int = 0,
    deadline: float = 60.0,
    address: str | None = None,
    num_cpus_per_worker: float | None = None,
    num_gpus_per_worker: float = 0.0,
    byzantine: int = 0,
    return_metrics: bool = False,
):
    """``A @ B`` computed by n coded workers, tolerating stragglers and failed workers.

    Starts the workers (and a local Ray, unless Ray is initialised or ``address`` /
    ``$RAY_ADDRESS`` names a cluster), runs one coded round, and stops them. For repeated
    products keep the workers with :class:`Runtime`.

    Args:
        A, B: the operands (``A`` 2-D; ``B`` 1-D or 2-D), real or integers mod p for GF(p) codes.
        code: the code; default :func:`~coded.scheduler.runtime.default_code` for ``n`` workers.
        n: number of workers (default ``code.n``, else 8).
        delays, seed: injected straggler model and its seed (experiments).
        deadline: seconds the round may take.
        address: Ray cluster address.
        num_cpus_per_worker, num_gpus_per_worker: resources of each worker actor.
        byzantine: wrong answers to correct (the round waits for ``recovery_threshold +
            2·byzantine`` answers and names the faulty workers in its metrics).
        return_metrics: also return the round's :class:`~coded.scheduler.metrics.RoundMetrics`.

    >>> import numpy as np, coded
    >>> A, B = np.arange(12.0).reshape(4, 3), np.ones((3, 2))
    >>> C = coded.matmul(A, B, code=coded.MDSCode(4, 2))
    >>> np.allclose(C, A @ B)
    True
    """
    # Every argument is checked here, before any worker (or Ray) starts.
    if n is not None:
        n = check_int(n, "n", minimum=1)
    if code is not None:
        check_code(code)
        operand_count(code)
        if n is not None and code.n != n:
            raise ValueError(f"Argument 'n' must equal the code's n={code.n}, not {n}.")
        n = code.n
    n = DEFAULT_N if n is None else n
    byzantine = check_int(byzantine, "byzantine", minimum=0)
    check_code(code if code is not None else default_code(n), n, byzantine)
    A, B = check_operands(A, B, code if code is not None else default_code(n))
    check_bool(return_metrics, "return_metrics")
    with Runtime(
        n,
        num_cpus_per_worker=num_cpus_per_worker,
        num_gpus_per_worker=num_gpus_per_worker,
        delays=delays,
        seed=seed,
        deadline=deadline,
        address=address,
        byzantine=byzantine,
    ) as rt:
        return rt.matmul(A, B, code=code, return_metrics=return_metrics)


def map(  # noqa: A001 - coded.map, the counterpart of coded.matmul
    f,
    blocks,
    *,
    code: Code,
    args: Sequence = (),
    policy: Approximate | None = None,
    verify: int = 0,
    delays: DelayModel | None = None,
    seed: int = 0,
    deadline: float = 60.0,
    address: str | None = None,
    num_cpus_per_worker: float | None = None,
    byzantine: int = 0,
    return_metrics: bool = False,
):
    """``[f(X_1, *args), …, f(X_k, *args)]`` computed by ``code.n`` coded workers.

    The k data blocks are encoded with ``code`` (:class:`~coded.LagrangeCode`: exact for
    a polynomial ``f`` of its ``degree``; :class:`~coded.BerrutCode`: approximate, any
    ``f``), every worker applies ``f`` to its share, and the master decodes from the first
    answers that suffice (``policy`` says when for approximate codes; ``verify`` extra
    answers check exact ones). Starts the workers, runs one round and stops them; for
    repeated maps over the same blocks keep them with :meth:`Runtime.place_map`.

    Args:
        f: a picklable callable or ``"module:function"``, called as ``f(share, *args)``.
        blocks: the k data blocks, of one shape.
        code: a code whose workers apply functions (its ``n`` workers are started).
        args: extra arguments of ``f``, the same for every worker.
        policy, verify: see :meth:`Runtime.place_map`.
        delays, seed, deadline, address, num_cpus_per_worker, byzantine: as for
            :func:`matmul`.
        return_metrics: also return the round's :class:`~coded.scheduler.metrics.RoundMetrics`.

    Every argument is checked before a worker (or Ray) starts.

    >>> import numpy as np, coded
    >>> blocks = [np.ones(2), np.full(2, 2.0)]
    >>> ys = coded.map("numpy:square", blocks, code=coded.LagrangeCode(5, 2, degree=2))
    >>> [y.round(9).tolist() for y in ys]
    [[1.0, 1.0], [4.0, 4.0]]
    """
    f = check_function(f)
    byzantine = check_int(byzantine, "byzantine", minimum=0)
    code = check_map_code(code, byzantine=byzantine)
    check_blocks(blocks, code.k, code.field)
    check_instance(args, "args", tuple | list, "a tuple of f's extra arguments")
    check_policy(policy, code)
    check_verify(verify, code, byzantine)
    check_bool(return_metrics, "return_metrics")
    options = dict(delays=delays, seed=seed, deadline=deadline, address=address)
    with Runtime(
        code.n, num_cpus_per_worker=num_cpus_per_worker, byzantine=byzantine, **options
    ) as rt:
        return rt.map(
            f,
            blocks,
            code=code,
            args=args,
            policy=policy,
            verify=verify,
            return_metrics=return_metrics,
        )
