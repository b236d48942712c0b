"""The demo / benchmark comparison on the in-process pool."""

from __future__ import annotations

import numpy as np

from coded.scheduler.lab.compare import compare, latency_table, strategies
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.workers.delays import FixedDelay


def test_coded_beats_waiting_for_a_slow_worker():
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((48, 6)), rng.standard_normal((6, 2))
    with Runtime(4, pool=InProcessPool(4, delays=FixedDelay(0.2, workers=[1]))) as rt:
        results = compare(rt, A, x, strategies(4, 3), rounds=3, warmup=1)
    assert list(results) == ["coded", "uncoded", "replication"]
    assert all(len(rounds) == 3 for rounds in results.values())
    assert max(m.total_s for m in results["coded"]) < 0.2  # never waited for worker 1
    assert min(m.total_s for m in results["uncoded"]) >= 0.2  # always did
    table = latency_table(results).splitlines()
    assert table[0].split() == ["strategy", "median", "ms", "p90", "ms", "vs", "uncoded"]
    assert table[2].startswith("uncoded") and table[2].endswith("1.00x")
