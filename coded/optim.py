"""Optimisers for coded training, and the mini-batch sampler every replica of a partition shares.

An optimiser is a small parameter holder (its config is its whole public state) with a
functional step, so coded and uncoded runs started alike follow the same iterates:

    point(w, state)          where the gradient is evaluated (Nesterov looks ahead)
    step(w, g, state)        the new model and state from the mean gradient g at that point

With momentum β and step size η (Sutskever et al.'s form of Nesterov's method):

    gradient descent   w ← w − η g(w)
    momentum           v ← β v + g(w),             w ← w − η v
    Nesterov           v ← β v + g(w − η β v),     w ← w − η v

Mini-batch SGD draws, in iteration t, a batch of rows from each partition j with the
generator ``np.random.default_rng([seed, t, j])``. Every worker holding a replica of j draws
the same rows, so the coded messages still combine into the exact sum of the partitions'
batch gradients, and the decoded gradient equals the uncoded mini-batch gradient.

>>> import numpy as np
>>> opt = Nesterov(lr=0.1, momentum=0.9)
>>> w, state = np.ones(2), opt.init(np.ones(2))
>>> w, state = opt.step(w, 2 * opt.point(w, state), state)   # gradient of ‖w‖²
>>> w
array([0.8, 0.8])

References:
    I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of initialization and
    momentum in deep learning", ICML 2013.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .checks import check_int, check_number, describe
from .config import Configurable, registered, registry

__all__ = [
    "Optimizer",
    "GD",
    "Momentum",
    "Nesterov",
    "SGD",
    "minibatch",
    "as_optimizer",
    "optimizer_from_config",
    "OPTIMIZERS",
]


def minibatch(seed: int, iteration: int, partition: int, rows: int, batch_size: int) -> np.ndarray:
    """The sorted rows of ``partition`` in the mini-batch of ``iteration``.

    Drawn without replacement from ``np.random.default_rng([seed, iteration, partition])``,
    so any worker holding the partition draws the same rows; all rows when
    ``batch_size ≥ rows``.

    >>> minibatch(seed=0, iteration=3, partition=1, rows=10, batch_size=4)
    array([0, 4, 6, 8])
    """
    if batch_size >= rows:
        return np.arange(rows)
    rng = np.random.default_rng([seed, iteration, partition])
    return np.sort(rng.choice(rows, size=batch_size, replace=False))


class Optimizer(Configurable, family="optimizer"):
    """Base class: ``init``, ``point``, ``step`` and the rows each partition contributes."""

    name = "abstract"
    stochastic = False  # whether iterations use mini-batches (see :meth:`batch`)
    _params: tuple[str, ...] = ("lr",)

    def __init__(self, lr: float):
        self.lr = check_number(lr, "lr", minimum=0, above=True)

    def init(self, w: np.ndarray):
        """The optimiser's state for the initial model ``w``."""
        return None

    def point(self, w: np.ndarray, state) -> np.ndarray:
        """Where the gradient of this iteration is evaluated."""
        return w

    def step(self, w: np.ndarray, gradient: np.ndarray, state):
        """``(w_next, state_next)`` from the mean gradient at :meth:`point`."""
        raise NotImplementedError

    def batch(self, iteration: int, partition: int, rows: int) -> np.ndarray | None:
        """The rows of ``partition`` used in ``iteration``; None means all of them."""
        return None

    def batch_rows(self, rows: int) -> int:
        """How many of a partition's ``rows`` one iteration uses (to average the gradient)."""
        return rows


class GD(Optimizer):
    """Full-batch gradient descent with step size ``lr``: ``w ← w − lr · g(w)``.

    >>> import numpy as np
    >>> GD(lr=0.5).step(np.array([1.0]), np.array([2.0]), None)
    (array([0.]), None)
    """

    name = "gd"

    def step(self, w, gradient, state):
        return w - self.lr * gradient, state


class Momentum(Optimizer):
    """Heavy-ball momentum: ``v ← β v + g(w)``, ``w ← w − lr · v`` with ``β = momentum``.

    >>> import numpy as np
    >>> opt = Momentum(lr=1.0, momentum=0.5)
    >>> w, v = opt.step(np.zeros(1), np.ones(1), opt.init(np.zeros(1)))
    >>> opt.step(w, np.ones(1), v)[0]
    array([-2.5])
    """

    name = "momentum"
    _params = ("lr", "momentum")

    def __init__(self, lr: float, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = check_number(momentum, "momentum", minimum=0, maximum=1, below=True)

    def init(self, w):
        return np.zeros_like(w, dtype=np.result_type(w, np.float64))

    def step(self, w, gradient, velocity):
        velocity = self.momentum * velocity + gradient
        return w - self.lr * velocity, velocity


class Nesterov(Momentum):
    """Nesterov momentum: the gradient is taken at the look-ahead point ``w − lr · β v``.

    >>> import numpy as np
    >>> opt = Nesterov(lr=1.0, momentum=0.5)
    >>> opt.point(np.zeros(1), np.ones(1))
    array([-0.5])
    """

    name = "nesterov"

    def point(self, w, velocity):
        return w - self.lr * self.momentum * velocity


class SGD(Momentum):
    """Mini-batch SGD: each partition contributes ``batch_size`` rows drawn by :func:`minibatch`.

    Args:
        lr: step size.
        batch_size: rows drawn from each partition per iteration (all rows when larger).
        seed: seed of the batches; replicas of a partition draw the same rows.
        momentum: heavy-ball momentum (0 for plain SGD).

    >>> SGD(lr=0.1, batch_size=32, seed=7).batch(iteration=0, partition=2, rows=40).size
    32
    """

    name = "sgd"
    stochastic = True
    _params = ("lr", "batch_size", "seed", "momentum")

    def __init__(self, lr: float, batch_size: int, seed: int = 0, momentum: float = 0.0):
        super().__init__(lr, momentum)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.seed = check_int(seed, "seed", minimum=0)

    def batch(self, iteration, partition, rows):
        return minibatch(self.seed, iteration, partition, rows, self.batch_size)

    def batch_rows(self, rows):
        return min(rows, self.batch_size)


#: The registered optimisers by name (read-only; a public subclass of :class:`Optimizer` adds
#: itself).
OPTIMIZERS: Mapping[str, type[Optimizer]] = registry("optimizer")


def optimizer_from_config(config: Mapping) -> Optimizer:
    """Build an optimiser from ``{"type": name, **parameters}`` (a YAML job's ``optimizer:``).

    >>> optimizer_from_config({"type": "nesterov", "lr": 0.1})
    Nesterov(lr=0.1, momentum=0.9)
    """
    return registered(config, "optimizer").from_config(config)


def as_optimizer(optimizer, lr: float | None = None) -> Optimizer:
    """An :class:`Optimizer` from an optimiser, a config mapping, or ``None`` (``GD(lr)``).

    ``lr`` is the step size of the default optimiser only: with an optimiser, which has its
    own, it is refused rather than silently ignored.

    >>> as_optimizer(None, lr=0.5)
    GD(lr=0.5)
    >>> as_optimizer(GD(lr=1.0), lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: Arguments 'optimizer' and 'lr' conflict: GD(lr=1.0) has its own step size, ...
    """
    if optimizer is None:
        if lr is None:
            raise ValueError("Argument 'lr' is needed when no optimizer is given.")
        return GD(lr)
    if isinstance(optimizer, Mapping):
        optimizer = optimizer_from_config(optimizer)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"Argument 'optimizer' must be an Optimizer or a config mapping, "
            f"not {describe(optimizer)}."
        )
    if lr is not None:
        raise ValueError(
            f"Arguments 'optimizer' and 'lr' conflict: {optimizer!r} has its own step size, "
            f"so 'lr' ({lr!r}) would be ignored; give the step size in one place."
        )
    return optimizer
