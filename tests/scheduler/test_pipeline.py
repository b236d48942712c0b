"""Pipelined rounds (``Job.map``) on the in-process pool: order, per-round cancellation,
failures at once, and the master's thread budget and CPU accounting."""

from __future__ import annotations

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from coded import MDSCode
from coded.scheduler.errors import RoundFailedError
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.scheduler.threads import ThreadBudget
from coded.workers.delays import FailStop, FixedDelay


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_map_returns_every_product_in_order_and_cancels_each_rounds_straggler():
    rng = np.random.default_rng(0)
    A, xs = rng.standard_normal((24, 5)), [rng.standard_normal((5, 2)) for _ in range(7)]
    pool = InProcessPool(4, delays=FixedDelay(2.0, workers=[1]))
    with Runtime(4, pool=pool) as rt:
        op = rt.place(A, code=MDSCode(4, 3))
        start = time.perf_counter()
        ys = op.map(xs, window=3)
        assert time.perf_counter() - start < 2.0  # no round waited for worker 1
        rounds = list(op.history)
    for y, x in zip(ys, xs, strict=True):
        np.testing.assert_allclose(y, A @ x)
    assert [m.round for m in rounds] == list(range(7))
    assert all(m.cancelled == (1,) and 1 not in m.used for m in rounds)
    assert all(m.master_cpu_s > 0 for m in rounds)


def test_map_equals_sequential_rounds_and_accepts_a_window_of_one():
    rng = np.random.default_rng(1)
    A, xs = rng.standard_normal((12, 4)), [rng.standard_normal(4) for _ in range(4)]
    with Runtime(4, pool=InProcessPool(4)) as rt:
        op = rt.place(A, code=MDSCode(4, 2))
        sequential = [op @ x for x in xs]
        for window in (1, 2, 8):
            for y, z in zip(op.map(xs, window=window), sequential, strict=True):
                np.testing.assert_allclose(y, z)
        assert op.map([], window=2) == []
        with pytest.raises(ValueError, match="Argument 'window' must be at least 1, not 0"):
            op.map(xs, window=0)
        with pytest.raises(ValueError, match=r"Argument 'xs\[0\]' must have 4 rows"):
            op.map([np.ones(3)])


def test_a_round_that_cannot_decode_fails_the_map_at_once():
    A = np.ones((12, 3))
    pool = InProcessPool(4, delays=FailStop([0, 2], round=2))
    with Runtime(4, pool=pool, deadline=30) as rt:
        op = rt.place(A, code=MDSCode(4, 3))
        start = time.perf_counter()
        with pytest.raises(RoundFailedError) as info:
            op.map([np.ones(3)] * 6, window=3)
        assert time.perf_counter() - start < 5 and info.value.round == 2
        np.testing.assert_allclose(op @ np.ones(3), A @ np.ones(3))  # nothing left in flight


def test_the_thread_budget_limits_blas_inside_and_restores_it_outside():
    before = _blas_threads()
    budget = ThreadBudget(1)
    with budget:
        assert set(_blas_threads()) <= {1}
        with budget:  # re-entrant
            assert set(_blas_threads()) <= {1}
        assert set(_blas_threads()) <= {1}
    assert _blas_threads() == before
    with ThreadBudget(None):
        assert _blas_threads() == before


def test_the_runtime_encodes_and_decodes_within_its_thread_budget(monkeypatch):
    seen = []
    code = MDSCode(4, 2)
    original = type(code)._decode

    def spy(self, responses):
        seen.append(_blas_threads())
        return original(self, responses)

    monkeypatch.setattr(type(code), "_decode", spy)
    with Runtime(4, pool=InProcessPool(4), master_threads=1) as rt:
        rt.place(np.ones((8, 3)), code=code) @ np.ones(3)
    assert seen and all(set(threads) <= {1} for threads in seen)
    with pytest.raises(ValueError, match="Argument 'master_threads' must be at least 1"):
        Runtime(4, pool=InProcessPool(4), master_threads=0)
