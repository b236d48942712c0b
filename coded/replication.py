"""The baselines coded computing is measured against, as codes on the same pool.

:class:`Replication` with ``r = 1`` is the uncoded product (split ``A`` in n row blocks,
wait for all n, as Dask and DDP do); with ``r = 2`` every block is computed twice and the
first copy wins (Spark / Hadoop speculation decided up front).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._blocks import split
from ._code import Code
from .checks import check_int

__all__ = ["Replication"]


@dataclass(frozen=True)
class _Layout:
    rows: int  # rows of A
    block_rows: int  # rows of one block


class Replication(Code):
    """``A`` in n/r row blocks, each held by r workers; decodable once every block arrived.

    Worker i holds block ``i mod (n/r)``, so the copies of a block sit on workers n/r apart.

    Args:
        n: number of workers.
        r: copies of each block; must divide n. ``r = 1`` is uncoded.

    >>> import numpy as np
    >>> code = Replication(4, r=2)
    >>> A, x = np.arange(8.0).reshape(4, 2), np.ones(2)
    >>> shares = code.encode(A)
    >>> code.can_decode([0, 2]), code.can_decode([0, 1])
    (False, True)
    >>> code.decode({i: shares[i] @ x for i in (1, 2)}).tolist()
    [1.0, 5.0, 9.0, 13.0]
    """

    _params = ("n", "r", "field")
    operands = 1

    def __init__(self, n: int, r: int = 1, field="real"):
        super().__init__(n, field)
        self._r = check_int(r, "r", minimum=1, maximum=self.n, maximum_name="n")
        if self.n % self._r:
            raise ValueError(f"Argument 'r' must divide n={self.n}, not {self._r}.")

    @property
    def r(self) -> int:
        return self._r

    @property
    def blocks(self) -> int:
        """Number of distinct blocks, n / r."""
        return self.n // self._r

    @property
    def recovery_threshold(self) -> int:
        return self.blocks

    @property
    def work_share(self) -> float:
        """r/n: a worker multiplies one of the n/r row blocks of ``A``."""
        return self._r / self.n

    @property
    def storage(self) -> tuple[float]:
        """``(r/n,)``: one of the n/r row blocks of ``A``."""
        return (self._r / self.n,)

    @property
    def assignment(self) -> tuple[tuple[int, ...], ...]:
        """``assignment[i]``: the block worker i holds, ``(i mod (n/r),)`` (as gradient codes
        list partitions)."""
        return tuple((i % self.blocks,) for i in range(self.n))

    def can_decode(self, indices) -> bool:
        return len({i % self.blocks for i in self._check_indices(indices)}) == self.blocks

    def decoding_margin(self, indices) -> int:
        """Copies of the scarcest block beyond the first (minus the blocks missing)."""
        return self._cover_margin(
            (i % self.blocks for i in self._check_indices(indices)), self.blocks
        )

    def _select(self, indices):
        first = {}
        for i in indices:
            first.setdefault(i % self.blocks, i)
        return tuple(sorted(first.values()))

    def encode(self, A) -> list[np.ndarray]:
        """The n shares: block ``i mod (n/r)`` of ``A``'s rows for worker i."""
        A = self.field.validate(A, "A", ndim=(1, 2))
        blocks = split(A, self.blocks, axis=0)
        self.layout_ = _Layout(A.shape[0], blocks.shape[1])
        return [blocks[i % self.blocks] for i in range(self.n)]

    def _response_shape(self):
        """The rows of one block of ``A``."""
        return (self.layout_.block_rows,)

    def _decode(self, responses):
        ordered = sorted(responses, key=lambda i: i % self.blocks)
        stacked = self._stack({i: responses[i] for i in ordered})
        return stacked.reshape((-1,) + stacked.shape[2:])[: self.layout_.rows]
