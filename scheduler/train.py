"""Coded training: gradient descent on resident data shards, never waiting for stragglers.

The rows of ``(X, y)`` are cut into n partitions and placed once: worker i keeps the s + 1
partitions ``GradientCode(n, s).assignment[i]``. Each iteration broadcasts the model once
(``ray.put``), every worker sends the coded combination of its partitions' gradients (and
losses), and the round ends at the first decodable set of answers; the stragglers are
cancelled. The decoded sum is the full gradient, so the iterates are those of uncoded
gradient descent, to floating-point rounding.

Methods, all on the same runtime and round machinery (:func:`scheduler.round.run_round`):

=========== ============================================================= ========
method      what an iteration does                                        exact
=========== ============================================================= ========
coded       gradient code (n, s): first decodable set of answers          yes
uncoded     one partition per worker, wait for all n (DDP, Horovod)       yes
ignore      one partition per worker, sum the first k = n − s answers and  no
            rescale by rows in all / rows arrived (backup workers)
mds         linear models: two coded matrix-vector rounds, ``z = X w``      yes
            then ``Xᵀ r`` with ``r = ∂ℓ/∂z`` (MDS (n, n − s) codes)
=========== ============================================================= ========

>>> import numpy as np, coded
>>> from scheduler.pool import InProcessPool
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

from coded import Code, GradientCode, MDSCode
from coded._code import check_int
from coded.losses import Loss, as_loss
from coded.optim import Optimizer, as_optimizer
from workers.tasks import GradientTask, partition_operands

from .history import History, Progress, Record
from .runtime import Runtime

__all__ = ["train", "TrainResult", "METHODS", "make_plan"]

METHODS = {
    "coded": "gradient code: exact full gradient from the first decodable set of workers",
    "uncoded": "one partition per worker, waits for all n workers",
    "ignore": "one partition per worker, sums the first k responses and rescales by the rows "
    "they cover: NOT the exact gradient (what backup-worker schemes do)",
    "mds": "two coded matrix-vector rounds per iteration (X·w, then Xᵀ·r) with MDS codes",
}


@dataclass
class TrainResult:
    """The trained model and the run's :class:`~scheduler.history.History`."""

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
    method: str = "coded",
    s: int = 1,
    scheme: str = "cyclic",
    k: int | None = None,
    w0=None,
    target_loss: float | None = None,
    runtime: Runtime | None = None,
    n: int | None = None,
    progress: bool | None = None,
    callback: Callable[[int, np.ndarray, Record], None] | None = None,
    **runtime_options,
) -> TrainResult:
    """Train a model on ``(X, y)`` with n workers that tolerate s stragglers per iteration.

    Every argument is checked before anything is placed or dispatched.

    Args:
        X, y: the data (rows are samples); labels as the loss expects.
        loss: a :class:`~coded.losses.Loss`, a name (``"least_squares"``, ``"logistic"``,
            ``"softmax"``) or a config mapping.
        optimizer: a :class:`~coded.optim.Optimizer` or config mapping; default ``GD(lr)``.
        lr: step size of the default optimizer.
        iterations: number of iterations (fewer if ``target_loss`` is reached).
        method: ``"coded"``, ``"uncoded"``, ``"ignore"`` or ``"mds"`` (see the module doc).
        s: stragglers tolerated (coded: each worker holds s + 1 partitions; ignore and mds
            wait for ``n − s`` workers unless ``k`` is given).
        scheme: the gradient code's scheme, ``"cyclic"`` or ``"fractional"``.
        k: responses waited for by ``ignore`` and ``mds`` (default ``n − s``).
        w0: initial model (default zeros; required for a custom loss).
        target_loss: stop once the mean loss is at most this.
        runtime: a :class:`~scheduler.runtime.Runtime` to run on; by default one is started
            with ``n`` workers (default 8) and ``runtime_options`` and closed afterwards.
        progress: a progress bar: None shows it once a run lasts 3 s, True always, False never.
        callback: ``callback(iteration, w, record)`` after every iteration.

    Returns:
        :class:`TrainResult` with the final model and the history (mean loss at the point
        where each gradient was taken, wall time, workers used).
    """
    loss = as_loss(loss)
    X, y = loss.validate(X, y)
    optimizer = as_optimizer(optimizer, lr)
    iterations = check_int(iterations, "iterations", minimum=1)
    if runtime is not None and n is not None and n != runtime.n:
        raise ValueError(f"Argument 'n' must equal the runtime's n={runtime.n}, not {n}.")
    n = runtime.n if runtime is not None else check_int(8 if n is None else n, "n", minimum=1)
    plan = make_plan(method, loss, optimizer, n, s, scheme, k)
    if X.shape[0] < n:
        raise ValueError(
            f"Argument 'X' must have at least n={n} rows (one partition per worker), "
            f"not {X.shape[0]}."
        )
    w = loss.init_weights(X, y) if w0 is None else loss.check_weights(w0, X, y)
    if target_loss is not None and not np.isfinite(target_loss):
        raise ValueError(f"Argument 'target_loss' must be a finite number, not {target_loss!r}.")

    owned = runtime is None
    if owned:
        runtime = Runtime(n, **runtime_options)
    elif runtime_options:
        raise TypeError(
            f"runtime options {sorted(runtime_options)} apply only when no 'runtime' is given"
        )
    try:
        plan.place(runtime, X, y)
        history = History(
            method,
            exact=method != "ignore",
            note=METHODS[method],
            config=_config(plan, loss, optimizer, X, iterations, n),
        )
        w = _loop(plan, optimizer, w, iterations, target_loss, history, progress, callback)
    finally:
        plan.close()
        if owned:
            runtime.close()
    return TrainResult(w, history)


def _loop(plan, optimizer, w, iterations, target_loss, history, progress, callback) -> np.ndarray:
    """Iterate: gradient at ``optimizer.point`` (one round, two for mds) → step → record."""
    state = optimizer.init(w)
    with Progress(iterations, history.method, progress) as bar:
        for t in range(iterations):
            start = time.perf_counter()
            point = optimizer.point(w, state)
            gradient, value, workers = plan.gradient(point, t)
            w, state = optimizer.step(w, gradient, state)
            record = history.append(value, time.perf_counter() - start, workers)
            bar.update(value)
            if callback is not None:
                callback(t, w, record)
            if target_loss is not None and value <= target_loss:
                break
    return w


def make_plan(method: str, loss: Loss, optimizer: Optimizer, n: int, s: int, scheme: str, k):
    """Check a method's arguments (no data needed); return the object that runs it.

    Raises ValueError naming the argument, as :func:`train` does, so job files can be
    checked before anything starts.
    """
    if method not in METHODS:
        raise ValueError(f"Argument 'method' must be one of {list(METHODS)}, not {method!r}.")
    s = check_int(s, "s", minimum=0)
    if s >= n:
        raise ValueError(f"Argument 's' must be less than n={n}, not {s}.")
    k = n - s if k is None else check_int(k, "k", minimum=1, maximum=n, maximum_name="n")
    if method == "mds":
        if not loss.linear:
            raise ValueError(
                f"Argument 'method' 'mds' needs a linear model (least_squares, logistic, "
                f"softmax), not {type(loss).__name__}."
            )
        if optimizer.stochastic:
            raise ValueError(
                f"Argument 'method' 'mds' needs a full-batch optimizer, not {optimizer!r}."
            )
        return _TwoRoundMDS(loss, MDSCode(n, k))
    if method == "coded":
        worker_code = master_code = GradientCode(n, s, scheme)
    else:
        worker_code = GradientCode(n, 0, "fractional")  # worker i holds partition i, as is
        master_code = worker_code if method == "uncoded" else None
    return _GradientRounds(loss, optimizer, worker_code, master_code, k)


class _GradientRounds:
    """coded / uncoded / ignore: one round per iteration, each worker sends ``[gradient, loss]``."""

    def __init__(
        self,
        loss: Loss,
        optimizer: Optimizer,
        worker_code: GradientCode,
        master_code: Code | None,
        k: int,
    ):
        self.loss, self.optimizer = loss, optimizer
        self.worker_code, self.master_code, self.k = worker_code, master_code, k
        self.runtime = self.job = None

    def place(self, runtime: Runtime, X, y):
        n = self.worker_code.n
        partitions = [(X[rows], y[rows]) for rows in np.array_split(np.arange(X.shape[0]), n)]
        counts = [self.optimizer.batch_rows(len(part[0])) for part in partitions]
        self.total = float(sum(counts))
        if self.master_code is None:
            self.master_code = _FirstK(n, self.k, counts)
        shards = [partition_operands(partitions, held) for held in self.worker_code.assignment]
        self.runtime = runtime
        self.job = runtime._place(
            self.worker_code, shards, task=GradientTask(self.loss, self.worker_code, self.optimizer)
        )

    def gradient(self, point, t):
        message, metrics = self.runtime._run(
            self.master_code, self.job, (self.runtime.pool.share(point), t)
        )
        mean = message / self.total
        value = mean[-1] if self.loss.has_value else np.nan
        return mean[:-1].reshape(point.shape), float(value), metrics.used

    def close(self):
        if self.job is not None:
            self.runtime.pool.drop(self.job)

    def config(self) -> dict:
        return {"code": repr(self.worker_code), "decoder": repr(self.master_code), "k": self.k}


class _TwoRoundMDS:
    """Lee et al.'s linear-model gradient: ``z = X w`` and ``g = Xᵀ r`` as two MDS-coded rounds."""

    def __init__(self, loss: Loss, code: MDSCode):
        self.loss, self.code = loss, code
        self.forward = self.backward = None

    def place(self, runtime: Runtime, X, y):
        self.y, self.total = y, float(X.shape[0])
        self.forward = runtime.place(X, code=self.code)
        self.backward = runtime.place(np.ascontiguousarray(X.T), code=self.code)

    def gradient(self, point, t):
        z = self.forward @ point
        gradient = self.backward @ self.loss.residual(z, self.y)
        workers = sorted(set(self.forward.metrics.used) | set(self.backward.metrics.used))
        return gradient / self.total, self.loss.value_at_scores(z, self.y) / self.total, workers

    def close(self):
        for op in (self.forward, self.backward):
            if op is not None:
                op.close()

    def config(self) -> dict:
        return {"code": repr(self.code), "k": self.code.k}


class _FirstK(Code):
    """Ignore stragglers: the sum of the first k messages, scaled by all rows / rows they cover.

    Worker i holds partition i, which contributes ``counts[i]`` rows; the estimate is
    ``(Σ_j counts_j / Σ_{i∈S} counts_i) · Σ_{i∈S} m_i``. It is not the full gradient.
    """

    _params = ("n", "k", "counts")

    def __init__(self, n: int, k: int, counts):
        super().__init__(n)
        self.k = check_int(k, "k", minimum=1, maximum=self.n, maximum_name="n")
        self.counts = tuple(counts)

    @property
    def recovery_threshold(self) -> int:
        return self.k

    def _check_encoded(self):
        """Nothing to check: the messages are the workers' plain partial gradients."""

    def _decode(self, responses):
        covered = sum(self.counts[i] for i in responses)
        return self._stack(responses, None).sum(axis=0) * (sum(self.counts) / covered)

    def __repr__(self):
        return f"IgnoreStragglers(n={self.n}, k={self.k})"


def _config(plan, loss: Loss, optimizer: Optimizer, X, iterations: int, n: int) -> dict:
    """The run's parameters, JSON-ready (a custom loss's functions appear by name)."""

    def named(value):
        return f"{value.__module__}:{value.__qualname__}" if callable(value) else value

    return {
        "n": n,
        "rows": X.shape[0],
        "features": X.shape[1],
        "iterations": iterations,
        "loss": {key: named(v) for key, v in loss.get_config().items()},
        "optimizer": optimizer.get_config(),
        **plan.config(),
    }
