"""Which workers the runtime still trusts: a blocklist fed by each round's faulty workers.

A worker is *faulty* in a round when its answer was not a result at all (screened: NaN,
a wrong shape, ...) or error correction located it as wrong (``Runtime(byzantine=A)``).
The rule: a worker found faulty in ``strikes`` of the last ``rounds`` rounds it was sent
is blocklisted. A blocklisted worker

* is re-placed at once (:meth:`~coded.scheduler.pool.Pool.replace`: a fresh process or
  worker object, its shards sent again), so a corrupted shard or a bad process is gone;
* stays excluded from then on: it is sent no rounds, and its answers are never decoded.
  Excluding it is an erasure the code knows of, so correction then needs one fewer good
  worker: ``Runtime(byzantine=A)`` corrects ``A − len(blocklist)`` wrong answers per round
  (at least 0), i.e. the runtime assumes at most A faulty workers in all;
* is reported: a warning in the log (``coded.scheduler``), ``rt.blocklist`` (worker →
  the reason of its last fault) and each round's ``metrics.excluded``.

A re-placed worker is not trusted again by itself: a node that corrupts results may do
so after a restart as well, and a worker that is let back in only to be caught again
costs a wrong-answer budget every time. ``Runtime.pardon(worker)`` lets it back in (say,
after the node was repaired); its strikes start afresh.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping

from coded.checks import check_int

__all__ = ["Blocklist"]

log = logging.getLogger("coded.scheduler")


class Blocklist:
    """Workers found faulty in ``strikes`` of the last ``rounds`` rounds they were sent.

    >>> blocklist = Blocklist(4, strikes=2, rounds=3)
    >>> blocklist.record(sent=range(4), faulty={1: "NaN or Inf"})
    []
    >>> blocklist.record(sent=range(4), faulty={1: "NaN or Inf"})
    [1]
    >>> dict(blocklist.blocked)
    {1: 'NaN or Inf'}
    """

    def __init__(self, n: int, strikes: int = 2, rounds: int = 5):
        self.n = check_int(n, "n", minimum=1)
        self.rounds = check_int(rounds, "rounds", minimum=1)
        self.strikes = check_int(
            strikes, "strikes", minimum=1, maximum=self.rounds, maximum_name="rounds"
        )
        self.blocked: dict[int, str] = {}
        self._seen = [deque(maxlen=self.rounds) for _ in range(self.n)]

    def record(self, sent: Iterable[int], faulty: Mapping[int, str]) -> list[int]:
        """Count one round (sent to ``sent``; ``faulty``: worker → reason); return the
        workers it blocklists."""
        newly = []
        for worker in sent:
            seen = self._seen[worker]
            seen.append(worker in faulty)
            if worker not in self.blocked and sum(seen) >= self.strikes:
                self.blocked[worker] = faulty[worker]
                newly.append(worker)
                log.warning(
                    "worker %d blocklisted: faulty in %d of its last %d rounds (last: %s); "
                    "its shards are re-placed and it is excluded from decoding",
                    worker,
                    sum(seen),
                    len(seen),
                    faulty[worker],
                )
        return newly

    def pardon(self, worker: int) -> None:
        """Trust ``worker`` again, with no strikes."""
        worker = check_int(worker, "worker", minimum=0, maximum=self.n - 1, maximum_name="n-1")
        self.blocked.pop(worker, None)
        self._seen[worker].clear()

    def __repr__(self):
        return f"Blocklist(n={self.n}, strikes={self.strikes}, rounds={self.rounds})"
