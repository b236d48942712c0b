"""Plans: how one training iteration becomes coded rounds on the runtime.

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

A plan has ``place(runtime, X, y)``, ``gradient(point, t) -> (gradient, loss, workers)``,
``close()`` and ``config()``; after each ``gradient``, ``traffic`` holds the bytes of that
iteration: ``bytes_up``, the answers that arrived at the master (all of them, used or not),
and ``bytes_down``, the model (and for mds the residual) broadcast, one copy of each.

The model is broadcast, and messages travel, in the loss's ``wire_dtype`` (a torch model's
parameters' dtype, float64 otherwise): ``(d + 1) · itemsize`` bytes. With a ``compressor``
(coded, uncoded, ignore; :func:`coded.wire.check_compressor`) each worker returns its
message's bytes (:class:`coded.wire.Uplink`: a quantiser, DIANA or error feedback on the
gradient part, the loss as a float32), which the master rebuilds before decoding; every
message of a format has the same size, ``Uplink.message_bytes``, and that is what is
counted. With a ``broadcast_compressor`` the model goes down as quantised updates of the
workers' copy (:class:`coded.wire.Downlink`), whose bytes are counted.

The plans that Newton-type optimisers run on (:mod:`.newton`) add ``value(point)`` (the
mean loss), ``curvature(point)`` (what the optimiser's ``direction`` takes) and count their
coded rounds (``rounds``) and the workers they used (``used``):

================ ========= ================================================================
optimizer        method    curvature at a point, in coded rounds
================ ========= ================================================================
NewtonCG         mds       ``v ↦ H v = Xᵀ D (X v) / m``: two rounds per product (forward,
                           backward), D from the point's cached scores
SketchedNewton   coded     ``S A / √m``, a count sketch of the square-root Hessian, decoded
                           with the gradient and loss in the same gradient-coded round
================ ========= ================================================================
"""

from __future__ import annotations

import math

import numpy as np

from coded import Code, GradientCode, MDSCode
from coded.checks import check_int
from coded.compression import Diana
from coded.ignore import IgnoreStragglers
from coded.losses import Loss
from coded.optim import Optimizer
from coded.wire import Downlink, Uplink, check_broadcast_compressor, check_compressor
from coded.workers.kernels import Gradient, SketchedHessian, partition_operands

from ..runtime import Runtime, check_code

__all__ = ["METHODS", "check_byzantine", "make_plan"]

METHODS = {
    "coded": "gradient code: exact full gradient from the first decodable set of workers",
    "uncoded": "one partition per worker, waits for all n workers",
    "ignore": "one partition per worker, sums the first k responses and rescales by the rows "
    "they cover: NOT the exact gradient (what backup-worker schemes do)",
    "mds": "two coded matrix-vector rounds per iteration (X·w, then Xᵀ·r) with MDS codes",
}


def make_plan(
    method: str,
    loss: Loss,
    optimizer: Optimizer,
    n: int,
    s: int,
    scheme: str,
    k,
    compressor=None,
    compression_seed: int = 0,
    broadcast_compressor=None,
):
    """Check a method's arguments (no data needed); return the object that runs it.

    Raises ValueError naming the argument, as :func:`train` does, so job files can be
    checked before anything starts.
    """
    fixed = method == "uncoded" or (method == "coded" and (scheme == "fractional" or s == 0))
    check_compressor(compressor, fixed_coefficients=fixed)
    if isinstance(compressor, Diana) and compressor.n != n:
        raise ValueError(
            f"Argument 'compressor' must be a Diana for the n={n} workers, not {compressor!r}."
        )
    compression_seed = check_int(compression_seed, "compression_seed", minimum=0)
    check_broadcast_compressor(broadcast_compressor)
    for name, value in (("compressor", compressor), ("broadcast_compressor", broadcast_compressor)):
        if value is not None and (method == "mds" or optimizer.second_order):
            raise ValueError(
                f"Argument '{name}' needs a first-order method that sends gradients "
                f"('coded', 'uncoded' or 'ignore'), not method {method!r} with "
                f"{type(optimizer).__name__}."
            )
    if method not in METHODS:
        raise ValueError(f"Argument 'method' must be one of {list(METHODS)}, not {method!r}.")
    s = check_int(s, "s", minimum=0)
    if s >= n:
        raise ValueError(f"Argument 's' must be less than n={n}, not {s}.")
    k = n - s if k is None else check_int(k, "k", minimum=1, maximum=n, maximum_name="n")
    if optimizer.methods is not None and method not in optimizer.methods:
        raise ValueError(
            f"Argument 'method' must be one of {list(optimizer.methods)} for "
            f"{type(optimizer).__name__}, not {method!r}."
        )
    if optimizer.second_order and not loss.linear:
        raise ValueError(
            f"Argument 'optimizer' {type(optimizer).__name__} needs a linear model "
            f"(least_squares, logistic, softmax), not {type(loss).__name__}."
        )
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
    if optimizer.second_order:
        return _SketchedRounds(loss, optimizer, worker_code, master_code, k)
    compression = (compressor, compression_seed, broadcast_compressor)
    return _GradientRounds(loss, optimizer, worker_code, master_code, k, *compression)


def check_byzantine(plan, n: int, byzantine) -> None:
    """Before any worker starts: the plan's decoder can correct ``byzantine`` wrong answers."""
    if not byzantine:
        return
    byzantine = check_int(byzantine, "byzantine", minimum=0)
    if plan.master_code is None:
        raise ValueError(
            "Argument 'byzantine' needs an exact method that decodes ('coded', 'uncoded' or "
            "'mds'), not 'ignore'."
        )
    check_code(plan.master_code, n, byzantine)


class _GradientRounds:
    """coded / uncoded / ignore: one round per iteration, each worker sends ``[gradient, loss]``."""

    def __init__(
        self,
        loss: Loss,
        optimizer: Optimizer,
        worker_code: GradientCode,
        master_code: Code | None,
        k: int,
        compressor=None,
        compression_seed: int = 0,
        broadcast_compressor=None,
    ):
        self.loss, self.optimizer = loss, optimizer
        self.worker_code, self.master_code, self.k = worker_code, master_code, k
        self.compressor, self.compression_seed = compressor, compression_seed
        self.broadcast_compressor = broadcast_compressor
        self.job, self.uplink, self.downlink, self.traffic = None, None, None, {}

    def place(self, runtime: Runtime, X, y, w=None):
        n = self.worker_code.n
        partitions = [(X[rows], y[rows]) for rows in np.array_split(np.arange(X.shape[0]), n)]
        counts = [self.optimizer.batch_rows(len(part[0])) for part in partitions]
        self.total = float(sum(counts))
        if self.master_code is None:
            self.master_code = IgnoreStragglers(n, self.k, counts)
        shards = [partition_operands(partitions, held) for held in self.worker_code.assignment]
        size = (self.loss.init_weights(X, y) if w is None else w).size
        dtype, seed = self.loss.wire_dtype, self.compression_seed
        if self.compressor is not None:
            self.uplink = Uplink(self.compressor, size, dtype, seed)
        if self.broadcast_compressor is not None:
            self.downlink = Downlink(self.broadcast_compressor, size, dtype, seed)
        receive = None if self.uplink is None else self.uplink.receive
        self.job = runtime.place_job(shards, self._kernel(), self.master_code, receive=receive)

    def _kernel(self) -> Gradient:
        return Gradient(self.loss, self.worker_code, self.optimizer, self.uplink, self.downlink)

    def gradient(self, point, t):
        shape, point = point.shape, point.astype(self.loss.wire_dtype, copy=False)
        sent = point if self.downlink is None else self.downlink.send(point)
        args = (sent, t)
        if self.uplink is not None and self.uplink.stateful:
            args += (self.uplink.acks(self.worker_code.n),)
        decoded = self.job.run(*args)
        message = (point.size + 1) * point.itemsize
        if self.uplink is not None:
            message = self.uplink.message_bytes
        self.traffic = {
            "bytes_up": len(self.job.metrics.arrived) * message,
            "bytes_down": sent.nbytes,
        }
        mean = decoded / self.total
        value = mean[-1] if self.loss.has_value else np.nan
        return mean[:-1].reshape(shape), float(value), self.job.metrics.used

    def close(self):
        if self.job is not None:
            self.job.close()

    def config(self) -> dict:
        config = {"code": repr(self.worker_code), "decoder": repr(self.master_code), "k": self.k}
        if self.compressor is not None:
            config.update(compressor=repr(self.compressor), compression_seed=self.compression_seed)
        if self.broadcast_compressor is not None:
            config.update(broadcast_compressor=repr(self.broadcast_compressor))
        return config


class _SketchedRounds(_GradientRounds):
    """Sketched Newton: one gradient-coded round gives the loss, the gradient and ``S A``.

    Each evaluation at a new point is one round of :class:`SketchedHessian` (numbered by
    ``rounds``, so every round draws a fresh sketch); the last one is cached, so the line
    search's accepted point brings its gradient and sketch along.
    """

    def __init__(self, *args):
        super().__init__(*args)
        self.rounds, self.used, self._cached = 0, set(), None

    def _kernel(self) -> SketchedHessian:
        return SketchedHessian(self.loss, self.worker_code, self.optimizer)

    def _evaluate(self, point):
        if self._cached is None or not np.array_equal(self._cached[0], point):
            decoded = self.job.run(point, self.rounds)
            self.rounds += 1
            self.used.update(self.job.metrics.used)
            size = point.size
            gradient = decoded[:size].reshape(point.shape) / self.total
            root = decoded[size + 1 :].reshape(self.optimizer.sketch_size, size)
            self._cached = (point.copy(), decoded[size] / self.total, gradient, root)
        return self._cached[1:]

    def value(self, point) -> float:
        return float(self._evaluate(point)[0])

    def gradient(self, point, t):
        value, gradient, _ = self._evaluate(point)
        return gradient, float(value), self.job.metrics.used

    def curvature(self, point) -> np.ndarray:
        return self._evaluate(point)[2] / np.sqrt(self.total)


class _TwoRoundMDS:
    """Lee et al.'s linear-model gradient: ``z = X w`` and ``g = Xᵀ r`` as two MDS-coded rounds."""

    def __init__(self, loss: Loss, code: MDSCode):
        self.loss, self.code = loss, code
        self.master_code = code  # both rounds decode with it
        self.forward = self.backward = None
        self.rounds, self.used, self._scores = 0, set(), None
        self.traffic, self._sent = {}, {"bytes_up": 0, "bytes_down": 0}

    def place(self, runtime: Runtime, X, y, w=None):
        self.y, self.total = y, float(X.shape[0])
        self.forward = runtime.place(X, code=self.code)
        self.backward = runtime.place(np.ascontiguousarray(X.T), code=self.code)

    def _product(self, operator, x) -> np.ndarray:
        """``operator @ x``: one coded round, counted."""
        result = operator @ x
        self.rounds += 1
        self.used.update(operator.metrics.used)
        rows = math.ceil(len(result) / self.code.k)  # one worker's share of the rows
        share = rows * (result.size // len(result)) * result.itemsize
        self._sent["bytes_up"] += len(operator.metrics.arrived) * share
        self._sent["bytes_down"] += x.nbytes
        return result

    def scores(self, point) -> np.ndarray:
        """``z = X w``: one forward round, or none if ``point`` is the last one asked."""
        if self._scores is None or not np.array_equal(self._scores[0], point):
            self._scores = (point.copy(), self._product(self.forward, point))
        return self._scores[1]

    def value(self, point) -> float:
        return self.loss.value_at_scores(self.scores(point), self.y) / self.total

    def gradient(self, point, t):
        z = self.scores(point)
        value = self.loss.value_at_scores(z, self.y) / self.total
        if not np.isfinite(value):  # diverged: the driver says so, without a second round
            return np.full(point.shape, np.nan), value, self.forward.metrics.used
        gradient = self._product(self.backward, self.loss.residual(z, self.y))
        workers = sorted(set(self.forward.metrics.used) | set(self.backward.metrics.used))
        self.traffic, self._sent = self._sent, {"bytes_up": 0, "bytes_down": 0}
        return gradient / self.total, value, workers

    def hvp(self, point, v) -> np.ndarray:
        """``∇²L(point) v / m = Xᵀ D (X v) / m``: two coded rounds (D from the point's scores)."""
        u = self._product(self.forward, v)
        curved = self.loss.curvature(self.scores(point), self.y, u)
        return self._product(self.backward, curved) / self.total

    def curvature(self, point):
        """The Hessian at ``point`` as a product ``v ↦ H v`` (:meth:`hvp`)."""
        return lambda v: self.hvp(point, v)

    def close(self):
        for op in (self.forward, self.backward):
            if op is not None:
                op.close()

    def config(self) -> dict:
        return {"code": repr(self.code), "k": self.code.k}
