"""Injected transfer delays in a real (in-process) run: a round's latency grows with the size
of the workers' answers as the network model says."""

from __future__ import annotations

import numpy as np

import coded
from coded import MDSCode
from coded.scheduler.pool import InProcessPool
from coded.workers.delays import Network, NetworkDelay


def _round_seconds(rows: int, model: NetworkDelay) -> tuple[float, int]:
    A = np.random.default_rng(0).standard_normal((rows, 2))
    with (
        coded.Runtime(4, pool=InProcessPool(4, delays=model)) as rt,
        rt.place(A, MDSCode(4, 2)) as op,
    ):
        assert np.allclose(op @ np.ones(2), A.sum(axis=1))
        return op.metrics.total_s, rows // 2 * 8  # each answer: rows/k float64


def test_round_latency_grows_with_the_measured_answer_size():
    net = Network(latency=0.005, bandwidth=8e6)  # 1 MB/s links
    model = NetworkDelay(net, bytes_down=0)  # answers measured, the 16-byte x not modelled
    small, small_bytes = _round_seconds(40, model)
    large, large_bytes = _round_seconds(40_000, model)
    modelled = net.upload_times(4, large_bytes)[0]  # 5 ms + 0.16 s
    assert modelled == 0.005 + large_bytes * 8 / 8e6
    assert large >= modelled
    assert small < modelled  # 5 ms modelled, and the round's own overhead
    assert large - small > 0.5 * (modelled - net.upload_times(4, small_bytes)[0])
