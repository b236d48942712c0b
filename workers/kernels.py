"""What a worker computes for coded training: a gradient-code message from its partitions.

Worker i holds the partitions ``code.assignment[i] = (p_0, …, p_s)`` resident, as the
operands ``(X_{p_0}, y_{p_0}, …, X_{p_s}, y_{p_s})``. Each round the master broadcasts the
model ``w`` and the iteration number t; the worker computes, for every partition it holds,

    g_p = [ ∇L(w; X_p[B_p], y_p[B_p]),  L(w; X_p[B_p], y_p[B_p]) ]     (gradient, then loss)

on the rows ``B_p = optimizer.batch(t, p, rows)`` (all rows for full-batch methods; the same
rows on every replica of p for SGD), and returns ``code.combine(i, {p: g_p})``. The loss
rides along as one more coordinate, so decoding the gradient decodes the loss with it.

The task is a small picklable object (a few hundred bytes: loss, code and optimizer
parameters) that travels with the job, so a restarted worker rebuilds it; cancellation is
checked between partitions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from coded.gradient import GradientCode
from coded.losses import Loss
from coded.optim import Optimizer

__all__ = ["GradientTask", "partition_operands"]


@dataclass(frozen=True)
class GradientTask:
    """Compute worker ``index``'s coded message ``[gradient, loss]`` for a round ``(w, t)``.

    Args:
        loss: the loss, summed over rows.
        code: the gradient code whose ``assignment`` placed the partitions and whose
            ``combine`` makes the message.
        optimizer: chooses each partition's rows (mini-batches); ``None`` means all rows.

    >>> import numpy as np
    >>> from coded import GradientCode
    >>> from coded.losses import LeastSquaresLoss
    >>> code, X, y = GradientCode(n=2, s=1), np.eye(2), np.array([1.0, 2.0])
    >>> task = GradientTask(LeastSquaresLoss(), code)
    >>> operands = partition_operands([(X[:1], y[:1]), (X[1:], y[1:])], code.assignment[0])
    >>> message = task(0, operands, (np.zeros(2), 0))
    >>> np.allclose(code.decode({0: message}), [-1.0, -2.0, 2.5])
    True
    """

    loss: Loss
    code: GradientCode
    optimizer: Optimizer | None = None

    def __call__(
        self,
        index: int,
        operands: Sequence[np.ndarray],
        args: Sequence,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> np.ndarray | None:
        """The message of worker ``index``, or None if ``cancelled()`` turned true on the way."""
        w, iteration = args
        partitions = self.code.assignment[index]
        if len(operands) != 2 * len(partitions):
            raise ValueError(
                f"worker {index} holds {len(operands)} operands; the code assigns it "
                f"partitions {list(partitions)}, which need {2 * len(partitions)} (X and y each)"
            )
        partials = {}
        for slot, partition in enumerate(partitions):
            if cancelled():
                return None
            X, y = operands[2 * slot], operands[2 * slot + 1]
            if self.optimizer is not None:
                rows = self.optimizer.batch(iteration, partition, X.shape[0])
                if rows is not None:
                    X, y = X[rows], y[rows]
            value, gradient = self.loss.value_and_gradient(w, X, y)
            partials[partition] = np.append(
                np.ravel(gradient), value if self.loss.has_value else 0.0
            )
        return self.code.combine(index, partials)


def partition_operands(
    partitions: Sequence[tuple[np.ndarray, np.ndarray]], held: Sequence[int]
) -> tuple[np.ndarray, ...]:
    """The resident operands ``(X_p, y_p, …)`` of a worker holding partitions ``held``."""
    return tuple(array for p in held for array in partitions[p])
