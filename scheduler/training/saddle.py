"""Coded extra-gradient: saddle problems and monotone VIs, never waiting for stragglers.

A saddle problem's data (:mod:`coded.saddle`) is cut into n partitions and placed once:
worker i keeps the s + 1 partitions ``GradientCode(n, s).assignment[i]``. A round
broadcasts the point z, every worker sends the coded combination of its partitions'
operators ``F_p(z)``, and the round ends at the first decodable set of answers (the
stragglers are cancelled, failed workers are erasures). The decoded sum is F(z), so the
iterates are those of uncoded extra-gradient, to floating-point rounding.

================ ============================================================= ==========
algorithm        one iteration                                                 rounds
================ ============================================================= ==========
extragradient    z½ = P(z − γ_t F(z)),  z⁺ = P(z − γ_t F(z½))   (Korpelevich)     2
gda              z⁺ = P(z − γ_t F(z))   (simultaneous descent–ascent)              1
================ ============================================================= ==========

Each iteration t records, in the :class:`~coded.scheduler.training.history.History`,
``gap`` (the problem's gap at z_t, from the F(z_t) its first round decoded; it is also
the record's ``loss``, a saddle problem having none) and ``distance`` (‖z_{t+1} − z*‖, of
the iterate it produced). Compressed messages (quantised extra-gradient, Q-GenX) are not
available: the compression work is a separate issue, not in the code base.

>>> import numpy as np, coded
>>> from coded.saddle import BilinearGame
>>> from coded.scheduler.pool import InProcessPool
>>> game = BilinearGame(np.eye(4) + 0.3 * np.diag(np.ones(3), 1), b=np.ones(4), c=-np.ones(4))
>>> with coded.Runtime(4, pool=InProcessPool(4)) as rt:
...     result = coded.solve_saddle(game, step=0.7, iterations=300, s=1, tol=1e-8, runtime=rt)
>>> bool(game.distance(result.solution) <= 1e-8), result.history.exact
(True, True)

References:
    G. M. Korpelevich, "The extragradient method for finding saddle points and other
    problems", Ekonomika i Matematicheskie Metody 12, 1976.
    R. Tandon, Q. Lei, A. G. Dimakis, N. Karampatziakis, "Gradient coding: avoiding
    stragglers in distributed learning", ICML 2017, arXiv:1612.03301.
    A. Ramezani-Kebrya, K. Antonakopoulos, I. Krawczuk, J. Deschenaux, V. Cevher,
    "Distributed extra-gradient with optimal complexity and communication guarantees",
    ICLR 2023, arXiv:2308.09187.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coded import GradientCode
from coded.checks import check_bool, check_choice, check_instance, check_int, check_number, describe
from coded.errors import DivergedError
from coded.saddle import SaddleProblem, check_steps
from coded.workers.kernels import SaddleOperator, partition_operands

from ..runtime import Runtime, check_code, check_runtime_options, runtime_for, settle_workers
from .history import History, Progress, Record

__all__ = ["solve_saddle", "SaddleResult", "saddle_code", "METHODS", "ALGORITHMS"]

METHODS = {
    "coded": "gradient code (n, s): the exact operator from the first decodable set of workers",
    "uncoded": "one partition per worker, waits for all n workers",
}
ALGORITHMS = {
    "extragradient": "extra-gradient (Korpelevich): two coded rounds per iteration",
    "gda": "simultaneous gradient descent-ascent: one round per iteration",
}


@dataclass
class SaddleResult:
    """The last iterate and the run's :class:`~coded.scheduler.training.history.History`."""

    solution: np.ndarray
    history: History


def solve_saddle(
    problem: SaddleProblem,
    *,
    step,
    iterations: int = 100,
    n: int | None = None,
    s: int = 1,
    method: str = "coded",
    algorithm: str = "extragradient",
    scheme: str = "cyclic",
    tol: float | None = None,
    limit: float = 1e10,
    z0=None,
    runtime: Runtime | None = None,
    progress: bool | None = None,
    callback: Callable[[int, np.ndarray, Record], None] | None = None,
    **runtime_options,
) -> SaddleResult:
    """Solve a saddle problem with n workers that tolerate s stragglers per round.

    Every argument is checked before anything is placed or dispatched.

    Args:
        problem: a :class:`~coded.saddle.SaddleProblem` (e.g.
            :class:`~coded.saddle.BilinearGame`).
        step: the step size γ: a positive number, a non-increasing sequence (one per
            iteration) or a callable ``t -> γ_t`` (:func:`~coded.saddle.check_steps`).
            Extra-gradient converges for γ < 1/L (``problem.lipschitz``).
        iterations: number of iterations (fewer if ``tol`` is reached).
        n: workers (default the runtime's, else 8); at most the problem's rows.
        s: stragglers tolerated per round (coded: each worker holds s + 1 partitions).
        method: ``"coded"`` or ``"uncoded"`` (one partition per worker, waits for all).
        algorithm: ``"extragradient"`` or ``"gda"`` (see the module doc).
        scheme: the gradient code's scheme, ``"cyclic"`` or ``"fractional"``.
        tol: stop once ‖z_{t+1} − z*‖ is at most this.
        limit: the iterates diverge once ‖z‖ exceeds this (or turns non-finite).
        z0: the starting point (default ``problem.initial()``).
        runtime: a :class:`~coded.scheduler.runtime.Runtime` to run on; by default one is
            started with ``n`` workers and ``runtime_options`` and closed afterwards.
        progress: a progress bar: None shows it once a run lasts 3 s, True always, False never.
        callback: ``callback(iteration, z, record)`` after every iteration.

    Returns:
        :class:`SaddleResult`: the last iterate and the history (gap, distance, wall
        time and workers used per iteration).

    Raises:
        DivergedError: an operator or iterate became non-finite, or an iterate larger than
            ``limit`` in norm (GDA on a bilinear game does); raised before the next round,
            with the run's history so far attached as its ``history`` attribute.
    """
    check_instance(problem, "problem", SaddleProblem, "a coded.saddle.SaddleProblem")
    iterations = check_int(iterations, "iterations", minimum=1)
    steps = check_steps(step, iterations)
    check_choice(algorithm, "algorithm", ALGORITHMS)
    n = settle_workers(runtime, n)
    check_int(n, "n", maximum=problem.rows, maximum_name="the problem's rows")
    worker_code = master_code = saddle_code(method, n, s, scheme)
    byzantine = runtime.byzantine if runtime is not None else runtime_options.get("byzantine")
    if byzantine:
        check_code(master_code, n, check_int(byzantine, "byzantine", minimum=0))
    if tol is not None:
        tol = check_number(tol, "tol", minimum=0)
    limit = check_number(limit, "limit", minimum=0, above=True)
    z = problem.initial() if z0 is None else problem.check_point(z0)
    if progress is not None:
        check_bool(progress, "progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"Argument 'callback' must be callable or None, not {describe(callback)}.")
    problem.solution  # noqa: B018 -- computed now, not in the first iteration's time

    check_runtime_options(runtime, runtime_options)
    history = History(
        f"{method} {algorithm}",
        exact=True,
        note=f"{METHODS[method]}; {ALGORITHMS[algorithm]}",
        config={
            "problem": repr(problem),
            "n": n,
            "s": worker_code.s,
            "code": repr(worker_code),
            "algorithm": algorithm,
            "iterations": iterations,
            "step": steps[0] if np.all(steps == steps[0]) else steps.tolist(),
        },
    )
    parts = problem.partitions(n)
    shards = [partition_operands(parts, held) for held in worker_code.assignment]
    kernel = SaddleOperator(problem.partial, worker_code)
    with runtime_for(runtime, n, **runtime_options) as runtime:
        try:
            with runtime.place_job(shards, kernel, master_code) as job:
                options = (tol, limit, history, progress, callback)
                z = _loop(job, problem, algorithm, z, steps, *options)
        except DivergedError as error:
            error.history = history
            raise
    return SaddleResult(z, history)


def saddle_code(method: str, n: int, s: int, scheme: str = "cyclic") -> GradientCode:
    """The gradient code a method places the partitions with and decodes each round with:
    ``GradientCode(n, s, scheme)`` for ``"coded"``; for ``"uncoded"`` worker i holds
    partition i alone and every round waits for all n (``GradientCode(n, 0)``).

    >>> saddle_code("coded", 4, 1), saddle_code("uncoded", 4, 1).s
    (GradientCode(n=4, s=1, scheme='cyclic', field='real'), 0)
    """
    check_choice(method, "method", METHODS)
    if method == "uncoded":
        s = check_int(s, "s", minimum=0)  # checked alike, though every worker is waited for
        return GradientCode(n, 0, "fractional")
    return GradientCode(n, s, scheme)


def _loop(job, problem, algorithm, z, steps, tol, limit, history, progress, callback):
    """Iterate: F(z) (one round) → extrapolate → F(z½) (a second round) → update → record."""
    with Progress(len(steps), history.method, progress) as bar:
        for t, gamma in enumerate(steps):
            start = time.perf_counter()
            operator = _round(job, z, t, gamma, "the operator F(z)")
            workers = set(job.metrics.used)
            gap = problem.gap(z, operator)
            new = problem.project(z - gamma * operator)
            if algorithm == "extragradient":
                operator = _round(job, new, t, gamma, "the operator F(z½)")
                workers |= set(job.metrics.used)
                new = problem.project(z - gamma * operator)
            distance = problem.distance(new)
            record = history.append(
                gap, time.perf_counter() - start, sorted(workers), distance=distance, gap=gap
            )
            bar.update(gap)
            size = float(np.linalg.norm(new))
            if not np.isfinite(size):
                raise DivergedError(t, "the iterate", gamma, argument="step")
            if size > limit:
                became = f"larger than limit={limit:g} in norm ({size:.3g})"
                raise DivergedError(t, "the iterate", gamma, argument="step", became=became)
            z = new
            if callback is not None:
                callback(t, z, record)
            if tol is not None and distance <= tol:
                break
    return z


def _round(job, point, t: int, gamma: float, what: str) -> np.ndarray:
    """One coded round: F(point), or DivergedError if it is non-finite."""
    operator = job.run(point)
    if not np.isfinite(operator).all():
        raise DivergedError(t, what, gamma, argument="step")
    return operator
