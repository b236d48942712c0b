"""Coded training: gradient descent on resident data shards, never waiting for stragglers.

The rows of ``(X, y)`` are cut into n partitions and placed once: worker i keeps the s + 1
partitions ``GradientCode(n, s).assignment[i]``. Each iteration broadcasts the model once
(``ray.put``), every worker sends the coded combination of its partitions' gradients (and
losses), and the round ends at the first decodable set of answers; the stragglers are
cancelled. The decoded sum is the full gradient, so the iterates are those of uncoded
gradient descent, to floating-point rounding.

The methods (coded, uncoded, ignore, mds) are the plans of
:mod:`coded.scheduler.training.plans`, all on the same runtime and round machinery.
Newton-type optimisers (:class:`~coded.optim.NewtonCG`, :class:`~coded.optim.SketchedNewton`)
run through the Newton driver, :mod:`coded.scheduler.training.newton`.

>>> import numpy as np, coded
>>> from coded.scheduler.pool import InProcessPool
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((64, 3))
>>> y = (X @ [1.0, -2.0, 0.5] > 0).astype(float)
>>> with coded.Runtime(4, pool=InProcessPool(4)) as rt:
...     result = coded.train(X, y, loss="logistic", optimizer=coded.GD(lr=1.0),
...                          iterations=20, s=1, runtime=rt)
>>> history = result.history
>>> bool(history.losses[-1] < history.losses[0]), history.exact, len(history.records[0].workers)
(True, True, 3)

References:
    R. Tandon, Q. Lei, A. G. Dimakis, N. Karampatziakis, "Gradient coding: avoiding
    stragglers in distributed learning", ICML 2017, arXiv:1612.03301.
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coded.checks import check_bool, check_int, check_number, describe
from coded.errors import DivergedError
from coded.losses import Loss, as_loss
from coded.optim import Optimizer, as_optimizer

from ..runtime import Runtime, runtime_for, settle_workers
from .history import History, Progress, Record
from .newton import newton_loop, reached
from .plans import METHODS, check_byzantine, make_plan

__all__ = ["train", "TrainResult"]


@dataclass
class TrainResult:
    """The trained model and the run's :class:`~coded.scheduler.training.history.History`."""

    weights: np.ndarray
    history: History


def train(
    X,
    y,
    *,
    loss="least_squares",
    optimizer: Optimizer | dict | None = None,
    lr: float | None = None,
    iterations: int = 100,
    method: str | None = None,
    s: int = 1,
    scheme: str = "cyclic",
    k: int | None = None,
    w0=None,
    target_loss: float | None = None,
    target_gradient_norm: float | None = None,
    runtime: Runtime | None = None,
    n: int | None = None,
    progress: bool | None = None,
    callback: Callable[[int, np.ndarray, Record], None] | None = None,
    compressor=None,
    compression_seed: int = 0,
    broadcast_compressor=None,
    **runtime_options,
) -> TrainResult:
    """Train a model on ``(X, y)`` with n workers that tolerate s stragglers per iteration.

    Every argument is checked before anything is placed or dispatched.

    Args:
        X, y: the data (rows are samples); labels as the loss expects.
        loss: a :class:`~coded.losses.Loss`, a name (``"least_squares"``, ``"logistic"``,
            ``"softmax"``) or a config mapping.
        optimizer: a :class:`~coded.optim.Optimizer` or config mapping; default ``GD(lr)``.
        lr: step size of the default optimizer (refused with an ``optimizer``, which has its own).
        iterations: number of iterations (fewer if a target is reached).
        method: ``"coded"``, ``"uncoded"``, ``"ignore"`` or ``"mds"`` (see the module doc);
            default ``"mds"`` for :class:`~coded.optim.NewtonCG` (the only one it runs on:
            its Hessian-vector products are coded rounds on MDS-coded ``X`` and ``Xᵀ``),
            ``"coded"`` otherwise.
        s: stragglers tolerated (coded: each worker holds s + 1 partitions; ignore and mds
            wait for ``n − s`` workers unless ``k`` is given).
        scheme: the gradient code's scheme, ``"cyclic"`` or ``"fractional"``.
        k: responses waited for by ``ignore`` and ``mds`` (default ``n − s``).
        w0: initial model (default zeros; required for a custom loss).
        target_loss: stop once the mean loss is at most this.
        target_gradient_norm: stop once the gradient's norm is at most this (recorded for
            every iteration as ``gradient_norm``, see :meth:`History.series`): the
            stopping test of Newton methods, here for every optimiser so that runs compare
            on one criterion.
        runtime: a :class:`~coded.scheduler.runtime.Runtime` to run on; by default one is started
            with ``n`` workers (default 8) and ``runtime_options`` and closed afterwards.
        progress: a progress bar: None shows it once a run lasts 3 s, True always, False never.
        callback: ``callback(iteration, w, record)`` after every iteration.
        compressor: what each worker's message goes through on the wire (first-order
            methods coded, uncoded, ignore; :mod:`coded.wire`): an unbiased quantiser of
            :mod:`coded.compression` (``QSGD``, ``NUQSGD``, ``AdaptiveQuantizer``; the
            decoded gradient is unbiased, not exact, and training stalls at a noise floor
            set by the levels), ``Diana(quantiser, alpha, n)`` (compressed differences
            against per-worker shifts: with full gradients the noise vanishes at the
            optimum) or ``ErrorFeedback(TopK(k) | quantiser)`` (method uncoded or scheme
            fractional only: its residuals need decoding coefficients that do not change
            with the arrived set). Workers send bytes, the master rebuilds the messages.
        compression_seed: seed of the quantisers, drawn per (seed, worker, iteration): a
            run repeats given the workers decoded from (with stragglers, the first
            decodable set depends on who finishes first).
        broadcast_compressor: an unbiased quantiser for the model's broadcast
            (:class:`coded.wire.Downlink`): the workers hold ``x̂``, updated by
            ``Q(w − x̂)`` each iteration (the whole model every 50), and the gradient is
            taken at ``x̂``; None sends the model whole.

    Returns:
        :class:`TrainResult` with the final model and the history (mean loss at the point
        where each gradient was taken, wall time, workers used; for first-order optimisers
        also ``bytes_up``, the messages that arrived, and ``bytes_down``, the model
        broadcast, per iteration, see :mod:`~coded.scheduler.training.plans`).

    Raises:
        DivergedError: the loss, the gradient or the model became non-finite (the step
            size is too large); raised before the next round is dispatched.
    """
    loss = as_loss(loss)
    X, y = loss.validate(X, y)
    optimizer = as_optimizer(optimizer, lr)
    if method is None:
        method = optimizer.methods[0] if optimizer.methods else "coded"
    iterations = check_int(iterations, "iterations", minimum=1)
    n = settle_workers(runtime, n)
    compression = (compressor, compression_seed, broadcast_compressor)
    plan = make_plan(method, loss, optimizer, n, s, scheme, k, *compression)
    check_byzantine(
        plan, n, runtime.byzantine if runtime is not None else runtime_options.get("byzantine")
    )
    if X.shape[0] < n:
        raise ValueError(
            f"Argument 'X' must have at least n={n} rows (one partition per worker), "
            f"not {X.shape[0]}."
        )
    w = loss.init_weights(X, y) if w0 is None else loss.check_weights(w0, X, y)
    if target_loss is not None:
        check_number(target_loss, "target_loss")
    if target_gradient_norm is not None:
        check_number(target_gradient_norm, "target_gradient_norm", minimum=0)
    if progress is not None:
        check_bool(progress, "progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"Argument 'callback' must be callable or None, not {describe(callback)}.")

    with runtime_for(runtime, n, **runtime_options) as runtime:
        try:
            plan.place(runtime, X, y, w)
            history = History(
                method,
                exact=method != "ignore" and compressor is None and broadcast_compressor is None,
                note=METHODS[method],
                config=_config(plan, loss, optimizer, X, iterations, n),
            )
            loop = newton_loop if optimizer.second_order else _loop
            targets = (target_loss, target_gradient_norm)
            w = loop(plan, optimizer, w, iterations, targets, history, progress, callback)
        finally:
            plan.close()
    return TrainResult(w, history)


def _loop(plan, optimizer, w, iterations, targets, history, progress, callback) -> np.ndarray:
    """Iterate: gradient at ``optimizer.point`` (one round, two for mds) → step → record,
    until ``iterations`` or a target ``(loss, gradient norm)`` is reached.

    Raises :class:`~coded.DivergedError` as soon as the point, the loss, the gradient or the
    model is non-finite, before the next round is dispatched.
    """
    target_loss, target_gradient_norm = targets
    state = optimizer.init(w)
    with Progress(iterations, history.method, progress) as bar:
        for t in range(iterations):
            start = time.perf_counter()
            point = optimizer.point(w, state)
            _check_finite(point, t, "the point where the gradient is taken", optimizer)
            gradient, value, workers = plan.gradient(point, t)
            if plan.loss.has_value:
                _check_finite(value, t, "the loss", optimizer)
            _check_finite(gradient, t, "the gradient", optimizer)
            w, state = optimizer.step(w, gradient, state)
            _check_finite(w, t, "the model", optimizer)
            norm = float(np.linalg.norm(gradient))
            round_s = time.perf_counter() - start
            record = history.append(value, round_s, workers, gradient_norm=norm, **plan.traffic)
            bar.update(value)
            if callback is not None:
                callback(t, w, record)
            if reached(targets, value, norm):
                break
    return w


def _check_finite(values, iteration: int, what: str, optimizer: Optimizer) -> None:
    if not np.isfinite(values).all():
        raise DivergedError(iteration, what, optimizer.lr)


def _config(plan, loss: Loss, optimizer: Optimizer, X, iterations: int, n: int) -> dict:
    """The run's parameters, JSON-ready (a custom loss's functions, and a torch model,
    appear by name)."""

    def named(value):
        if not callable(value):
            return value
        named = value if hasattr(value, "__qualname__") else type(value)  # a module: its class
        return f"{named.__module__}:{named.__qualname__}"

    return {
        "n": n,
        "rows": X.shape[0],
        "features": X.shape[1],
        "iterations": iterations,
        "loss": {key: named(v) for key, v in loss.get_config().items()},
        "optimizer": optimizer.get_config(),
        **plan.config(),
    }
