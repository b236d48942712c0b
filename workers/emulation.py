"""Emulated compute: a worker sleeps its calibrated single-core time instead of computing.

**Emulation measures the control plane; the values are not the product.** An emulated
worker answers every round with zeros of the right shape and dtype, after sleeping as
long as one core of the calibration machine takes for the kernel's work:

    c = cost.work · seconds_per_op          (cost = kernel.cost(operands, args))

in short slices that ask ``cancelled()``, like an injected delay. Injected delays apply on
top exactly as for real compute: the round takes ``factor·c + extra``. So n workers on a
machine of a few cores behave like n machines of one core each: the master's dispatch,
waiting, cancellation, transfers and decoding are real (results have their real size);
only the workers' arithmetic is replaced by time.

A kernel supports emulation by declaring its cost, ``kernel.cost(operands, args) ->``
:class:`Cost` (multiply-adds, output shape and dtype), from shapes alone; a kernel without
one is refused when its job is placed. An emulated worker keeps only the shapes of its
operands (:class:`Placeholder`), so its memory stays small whatever the job's size, and a
job can be placed from placeholders without ever building the operands.

>>> import numpy as np
>>> from coded.workers.kernels import Product
>>> emulation = Emulation(seconds_per_op=1e-9)
>>> cost = Product().cost((Placeholder((1000, 500)),), (np.ones((500, 4)),))
>>> cost.work, cost.shape, emulation.seconds(cost)
(2000000, (1000, 4), 0.002)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from coded.checks import check_number

__all__ = ["Emulation", "Cost", "Placeholder", "piece_bounds"]


@dataclass(frozen=True)
class Cost:
    """What one round of a kernel costs and returns: ``work`` multiply-adds, an output of
    ``shape`` and ``dtype``.

    >>> Cost(work=6, shape=(2, 1), dtype="float64").output()
    array([[0.],
           [0.]])
    """

    work: int
    shape: tuple[int, ...]
    dtype: str = "float64"

    def output(self) -> np.ndarray:
        """Zeros standing for the kernel's value (not the value: see the module docstring)."""
        return np.zeros(self.shape, self.dtype)

    def split(self, pieces: int) -> list[Cost]:
        """The costs of the kernel's ``pieces`` row blocks (:func:`piece_bounds`), work
        shared in proportion to rows: what a worker reporting partial work emulates.

        >>> [c.work for c in Cost(work=12, shape=(6, 1)).split(3)]
        [4, 4, 4]
        """
        if pieces == 1 or not self.shape:
            return [self]
        rows, bounds = self.shape[0], piece_bounds(self.shape[0], pieces)
        return [
            Cost(
                self.work * (stop - start) // max(rows, 1),
                (stop - start,) + self.shape[1:],
                self.dtype,
            )
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
        ]


def piece_bounds(rows: int, pieces: int) -> list[int]:
    """Where ``rows`` rows are cut into ``pieces`` row blocks: ``pieces + 1`` boundaries,
    equal blocks when ``pieces`` divides ``rows``.

    >>> piece_bounds(6, 3), piece_bounds(5, 2)
    ([0, 2, 4, 6], [0, 2, 5])
    """
    return [rows * r // pieces for r in range(pieces + 1)]


@dataclass(frozen=True)
class Placeholder:
    """An array's shape and dtype without its data: an operand of an emulated worker.

    >>> Placeholder.like(np.ones((3, 2), dtype=np.float32))
    Placeholder(shape=(3, 2), dtype='float32')
    """

    shape: tuple[int, ...]
    dtype: str = "float64"

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)

    @classmethod
    def like(cls, array) -> Placeholder:
        """The placeholder of ``array`` (any object with ``shape`` and ``dtype``)."""
        if isinstance(array, Placeholder):
            return array
        dtype = array.dtype if hasattr(array, "dtype") else np.asarray(array).dtype
        return cls(np.shape(array), np.dtype(dtype).name)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """0: a placeholder holds no data (and travels by value)."""
        return 0


@dataclass(frozen=True)
class Emulation:
    """Emulate each worker's compute as a sleep of ``seconds_per_op`` per multiply-add.

    Args:
        seconds_per_op: one core's seconds per multiply-add of the kernel, measured once by
            the caller (:meth:`calibrate`).
    """

    seconds_per_op: float

    def __post_init__(self):
        seconds = check_number(self.seconds_per_op, "seconds_per_op", minimum=0, above=True)
        object.__setattr__(self, "seconds_per_op", seconds)

    def seconds(self, cost: Cost) -> float:
        """The emulated compute time of a round that costs ``cost``."""
        return cost.work * self.seconds_per_op

    @staticmethod
    def check(kernel: Callable) -> Callable:
        """``kernel`` if it declares its cost, else a TypeError naming it."""
        if not callable(getattr(kernel, "cost", None)):
            raise TypeError(
                f"kernel {kernel!r} cannot be emulated: it declares no "
                f"cost(operands, args) -> Cost (see coded.workers.emulation)"
            )
        return kernel

    @staticmethod
    def placeholders(operands: Sequence) -> tuple[Placeholder, ...]:
        """What an emulated worker keeps of its operands: their shapes."""
        return tuple(Placeholder.like(x) for x in operands)

    @classmethod
    def calibrate(
        cls, kernel: Callable, operands: Sequence, args: Sequence = (), *, repeats: int = 5
    ) -> Emulation:
        """Time ``kernel(0, operands, args)`` on one core (median of ``repeats``), per op.

        BLAS is held to one thread (threadpoolctl). Calibrate on a shard of the real size:
        small products run below the BLAS's full speed.

        >>> import numpy as np
        >>> from coded.workers.kernels import Product
        >>> emulation = Emulation.calibrate(Product(), (np.ones((200, 100)),), (np.ones(100),))
        >>> 0 < emulation.seconds_per_op < 1e-6
        True
        """
        cls.check(kernel)
        work = kernel.cost(operands, args).work
        times = []
        with threadpool_limits(1):
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                kernel(0, operands, args)
                times.append(time.perf_counter() - start)
        return cls(float(np.median(times)) / max(1, work))
