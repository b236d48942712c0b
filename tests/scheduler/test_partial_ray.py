"""Partial-work rounds on the session's local Ray: workers stream their chunks (Ray
streaming generators), a 5x slow worker's finished chunks count, the result is exact, and
the cancelled straggler does not hold up the next round.

Delays as in ``test_partial.py``: ``FixedDelay(0.4)`` on every worker, 1.6 s more on
worker 1, spread over 10 chunks each (40 ms per chunk, 200 ms on worker 1); the round
ends near 280 ms, with worker 1's first chunk (200 ms) among those decoded.
"""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded import ChunkedMDSCode
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Compose, FixedDelay

pytestmark = pytest.mark.ray

P = 65537
coded.PrimeField(P).inverse(np.eye(2, dtype=np.int64))  # galois compiles here, not in a round


def test_a_slow_workers_finished_chunks_count_on_ray(ray_cluster):
    rng = np.random.default_rng(0)
    A, x = rng.integers(0, P, (120, 9)), rng.integers(0, P, 9)
    expected = coded.gf_matmul(A, x[:, None], P)[:, 0]
    slow = Compose(FixedDelay(0.4), FixedDelay(1.6, workers=[1]))
    with Runtime(4, num_cpus_per_worker=0.25, delays=slow) as rt:
        op = rt.place(A, code=ChunkedMDSCode(4, 2, chunks=10, field=P))
        for _ in range(2):  # the second round is not held up by the first one's straggler
            np.testing.assert_array_equal(op @ x, expected)
            metrics = op.metrics
            assert metrics.chunks[1] >= 1 and metrics.chunks_seen[1] < 10
            assert 1 in metrics.cancelled and metrics.total_s < 1.5, metrics  # worker 1: 2 s
            assert sum(metrics.chunks.values()) >= 20
