"""Recording per-worker times of real runs as CSV traces, and replaying them in the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from coded.replication import Replication
from coded.scheduler.lab import Strategy, sample_delays, simulate
from coded.scheduler.lab.traces import record_trace, worker_times
from coded.scheduler.metrics import RoundMetrics
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Compose, Exponential, FixedDelay, TraceReplay, read_trace


def test_worker_times_censor_cancelled_and_mark_failed_workers():
    rounds = [
        RoundMetrics(0, 0, "c", 3, 2, cancelled=(2,), finished={0: 0.1, 1: 0.2}, wait_s=0.3),
        RoundMetrics(0, 1, "c", 3, 2, failures={0: "crash"}, finished={1: 0.2, 2: 0.4}),
    ]
    assert worker_times(rounds).tolist() == [[0.1, 0.2, 0.3], [np.inf, 0.2, 0.4]]
    with pytest.raises(ValueError, match="'metrics' must hold rounds of one worker count"):
        worker_times([*rounds, RoundMetrics(0, 2, "c", 2, 1, finished={0: 0.1, 1: 0.1})])


@pytest.mark.ray
def test_recorded_trace_replays_in_the_simulator(ray_cluster, tmp_path):
    """Record a real uncoded run (every worker answers), replay it: the simulator's rounds
    are the real rounds' worker-side latencies, and the injected straggler shows."""
    n, rounds = 4, 6
    delays = Compose(FixedDelay(0.1, workers=[1]), Exponential(0.02))
    A, x = np.random.default_rng(0).standard_normal((40, 8)), np.ones(8)
    with Runtime(n, delays=delays, seed=5) as rt:
        op = rt.place(A, code=Replication(n, 1))
        for _ in range(rounds):
            op @ x
    path = record_trace(tmp_path / "trace.csv", op.history)

    times = read_trace(path)
    assert np.array_equal(times, worker_times(op.history))  # the CSV keeps every digit
    assert times.shape == (rounds, n) and np.isfinite(times).all()
    assert (times[:, 1] >= 0.1).all()  # worker 1's injected 100 ms
    injected = sample_delays(delays, n, rounds, seed=5).extra
    assert (times >= injected).all()

    model = TraceReplay(path)
    replay = sample_delays(model, n, rounds, seed=0)
    np.testing.assert_allclose(replay.factor * model.scale, times, rtol=1e-12)
    (uncoded,) = simulate([Strategy.uncoded(n)], model, rounds=rounds, work=n * model.scale)
    worker_side = [m.oracle_s - m.decode_s for m in op.history]  # last worker's finish
    np.testing.assert_allclose(uncoded.latency, worker_side, rtol=1e-9)
