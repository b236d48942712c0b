"""Stale-but-recent gradients (DSAG): each partition's latest gradient, at most τ iterations old.

Worker i holds data partition i (as for method ``ignore``). The master keeps a table of
each partition's latest message ``G_i = [∇L_i(w_{t_i}), L_i(w_{t_i})]`` (summed over the
partition's rows) and the iteration ``t_i`` it was computed at. Iteration t broadcasts
``w_t``, and its round ends once

* at least ``k`` workers answered, and
* every partition whose entry would otherwise be more than τ iterations old
  (``t − t_i > τ``; one never received is infinitely old) answered,

so iteration 0 waits for all n. The arrived messages replace their entries (``t_i = t``),
the late workers are cancelled, and the gradient is the SAG estimate over the table,

    g_t = (1/m) Σ_i G_i = ∇L(w_t) + (1/m) Σ_i (∇L_i(w_{t_i}) − ∇L_i(w_t)),

``m`` the rows in all: the full gradient plus an error from the stale entries, at most
``(1/m) Σ_i β_i ‖w_{t_i} − w_t‖`` for β_i-smooth partitions, so it vanishes as the iterates
settle and gradient descent with a small enough step still converges to the optimum
(unlike ``ignore``, which drops the late partitions' gradients every iteration). The loss
recorded is the same estimate of the mean loss. Each iteration records ``staleness``,
``max_i (t − t_i)`` (never above τ), and ``stale``, how many entries are older than t.
With τ = 0 every partition answers every iteration: the exact gradient, as ``uncoded``.

References:
    A. Severinson, E. Rosnes, S. El Rouayheb, A. Graell i Amat, "DSAG: a mixed
    synchronous-asynchronous iterative method for straggler-resilient learning",
    IEEE T-Comm 2023, arXiv:2111.06852.
    N. Le Roux, M. Schmidt, F. Bach, "A stochastic gradient method with an exponential
    convergence rate for finite training sets", NeurIPS 2012 (the table of latest gradients).
"""

from __future__ import annotations

import numpy as np

from coded import Code, GradientCode
from coded.checks import check_int
from coded.losses import Loss
from coded.optim import Optimizer
from coded.workers.kernels import Gradient, partition_operands

from ..runtime import Runtime

__all__ = ["StaleGradients"]


class _FreshPartitions(Code):
    """A stale-gradient round's rule: at least ``k`` answers, every worker in ``required``
    among them; decoding hands back every arrived answer, ``{worker: message}``.

    >>> rule = _FreshPartitions(4, 2, required=(3,))
    >>> rule.can_decode([0, 1]), rule.can_decode([0, 3]), rule.decoding_margin([0])
    (False, True, -1)
    """

    _params = ("n", "k", "required")

    def __init__(self, n: int, k: int, required=()):
        super().__init__(n)
        self._k = check_int(k, "k", minimum=1, maximum=self.n, maximum_name="n")
        self._required = self._check_indices(required)

    @property
    def k(self) -> int:
        return self._k

    @property
    def required(self) -> tuple[int, ...]:
        return self._required

    @property
    def recovery_threshold(self) -> int:
        return max(self._k, len(self._required))

    @property
    def work_share(self) -> float:
        return 1 / self.n

    @property
    def storage(self) -> tuple[float]:
        return (1 / self.n,)

    def can_decode(self, indices) -> bool:
        return self.decoding_margin(indices) >= 0

    def decoding_margin(self, indices) -> int:
        """Decodable: how many may be lost whichever they are (0 once one is required);
        else minus the answers still needed, the missing required ones first."""
        indices = set(self._check_indices(indices))
        missing = len(set(self._required) - indices)
        if missing:
            return -max(missing, self._k - len(indices))
        if len(indices) < self._k:
            return len(indices) - self._k
        return 0 if self._required else len(indices) - self._k

    def _select(self, indices):
        return indices  # every arrived answer refreshes its entry

    def _check_encoded(self):
        """Nothing to check: the messages are the workers' plain partial gradients."""

    def _decode(self, responses):
        return dict(responses)


class StaleGradients:
    """Method ``stale``: a plan (:mod:`.plans`) whose gradient is the SAG estimate over each
    partition's latest gradient, at most ``staleness`` iterations old (module docstring),
    waiting for at least ``k`` fresh answers an iteration."""

    master_code = None  # nothing to correct wrong answers with

    def __init__(self, loss: Loss, optimizer: Optimizer, n: int, k: int, staleness: int):
        self.loss, self.optimizer, self.k = loss, optimizer, k
        self.staleness = check_int(staleness, "staleness", minimum=0)
        self.worker_code = GradientCode(n, 0, "fractional")  # worker i holds partition i
        self.job, self.traffic = None, {}

    def place(self, runtime: Runtime, X, y, w=None):
        n = self.worker_code.n
        partitions = [(X[rows], y[rows]) for rows in np.array_split(np.arange(X.shape[0]), n)]
        self.total = float(sum(self.optimizer.batch_rows(len(part[0])) for part in partitions))
        shards = [partition_operands(partitions, held) for held in self.worker_code.assignment]
        kernel = Gradient(self.loss, self.worker_code, self.optimizer)
        self.job = runtime.place_job(shards, kernel, _FreshPartitions(n, self.k, range(n)))
        self.table, self.at = None, np.full(n, -np.inf)  # latest messages, their iterations

    def gradient(self, point, t):
        n, shape = self.worker_code.n, point.shape
        point = point.astype(self.loss.wire_dtype, copy=False)
        required = np.flatnonzero(t - self.at > self.staleness)
        self.job.code = _FreshPartitions(n, self.k, required.tolist())
        fresh = self.job.run(point, t)
        if self.table is None:
            self.table = np.zeros((n, point.size + 1))
        for i, message in fresh.items():
            self.table[i], self.at[i] = message, t
        mean = self.table.sum(axis=0) / self.total
        value = mean[-1] if self.loss.has_value else np.nan
        age = t - self.at
        self.traffic = {
            "bytes_up": len(self.job.metrics.arrived) * (point.size + 1) * point.itemsize,
            "bytes_down": point.nbytes,
            "staleness": float(age.max()),
            "stale": float(np.count_nonzero(age)),
        }
        return mean[:-1].reshape(shape), float(value), tuple(sorted(fresh))

    def close(self):
        if self.job is not None:
            self.job.close()

    def config(self) -> dict:
        return {"code": repr(self.worker_code), "k": self.k, "staleness": self.staleness}
