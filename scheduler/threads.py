"""The master's thread budget: how many BLAS threads its own numeric work may use.

The master shares its node with workers (a Ray head runs the driver beside them). After a
multi-threaded BLAS call, OpenBLAS keeps its helper threads spin-waiting for the next one
(about 2^28 cycles, a tenth of a second), so a decode every round left a helper thread
burning a core while the workers computed. Measured on 2 cores, 8 workers, A 9600 × 3200
@ 3200 × 32, k = n (per-thread CPU from ``/proc/self/task``): one helper thread of the
master burnt 75 ms of CPU per 138 ms round; with one BLAS thread the master's CPU per
round fell from 98 ms to 29 ms (then to 11–15 ms on a quiet machine, ``master_cpu_s`` in
``benchmarks/straggler_matmul.py``) and the round matched plain Ray actors (1.08×).

:class:`ThreadBudget` limits the BLAS (and OpenMP) thread pools of this process with
threadpoolctl while the runtime encodes, validates, shares and decodes, and restores them
afterwards, so the user's own numpy keeps its threads between rounds.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from coded.checks import check_int

__all__ = ["ThreadBudget"]


class ThreadBudget:
    """A reusable context manager: at most ``threads`` BLAS/OpenMP threads inside it.

    ``threads=None`` leaves the pools alone.

    >>> budget = ThreadBudget(1)
    >>> with budget:
    ...     pass
    >>> ThreadBudget(0)
    Traceback (most recent call last):
    ...
    ValueError: Argument 'master_threads' must be at least 1, not 0.
    """

    def __init__(self, threads: int | None = 1):
        self.threads = None if threads is None else check_int(threads, "master_threads", minimum=1)
        self._controller = None
        self._active: list[AbstractContextManager] = []

    def __enter__(self):
        if self.threads is None:
            limiter: AbstractContextManager = nullcontext()
        else:
            if self._controller is None:  # inspecting the loaded libraries costs ~1 ms: once
                from threadpoolctl import ThreadpoolController

                self._controller = ThreadpoolController()
            limiter = self._controller.limit(limits=self.threads)
        self._active.append(limiter)
        limiter.__enter__()
        return self

    def __exit__(self, *exc):
        self._active.pop().__exit__(*exc)

    def __repr__(self):
        return f"ThreadBudget(threads={self.threads})"
