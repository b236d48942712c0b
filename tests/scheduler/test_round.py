"""The round logic on the in-process pool: wait-for-decodable, cancellation, erasures, errors."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from coded import GradientCode, MDSCode
from coded.replication import Replication
from coded.scheduler.errors import RoundFailedError, RoundTimeoutError, WorkerError
from coded.scheduler.pool import InProcessPool
from coded.scheduler.round import run_round
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Compose, FailStop, FixedDelay
from coded.workers.kernels import Product
from coded.workers.worker import Done

STRAGGLE = 3.0  # seconds of injected delay, far beyond a round


def test_every_code_decodes_without_its_stragglers(product):
    rng = np.random.default_rng(0)
    A, B = product.operands(rng)
    pool = InProcessPool(product.code.n, delays=FixedDelay(STRAGGLE, workers=product.stragglers))
    with Runtime(product.code.n, pool=pool) as rt:
        for _ in range(3):  # a straggler's leftover work would delay the next round
            C, metrics = rt.matmul(A, B, code=product.code, return_metrics=True)
            np.testing.assert_allclose(C, product.expected(A, B), rtol=1e-9, atol=1e-9)
            assert not set(metrics.used) & set(product.stragglers)
            assert set(product.stragglers) <= set(metrics.cancelled)
            assert metrics.wait_s < STRAGGLE / 3  # (decode may JIT-compile on first use)


def test_uncoded_waits_for_every_worker():
    rng = np.random.default_rng(1)
    A, x = rng.standard_normal((16, 4)), rng.standard_normal(4)
    with Runtime(4, pool=InProcessPool(4, delays=FixedDelay(0.3, workers=[2]))) as rt:
        start = time.perf_counter()
        y = rt.matmul(A, x, code=Replication(4))
        assert time.perf_counter() - start >= 0.3
    np.testing.assert_allclose(y, A @ x)


def test_too_many_failures_raise_at_once_naming_the_workers():
    A, x = np.ones((12, 3)), np.ones(3)
    with Runtime(4, pool=InProcessPool(4, delays=FailStop([0, 2], round=0)), deadline=30) as rt:
        op = rt.place(A, code=MDSCode(4, 3))
        start = time.perf_counter()
        with pytest.raises(RoundFailedError) as info:
            op @ x
        assert time.perf_counter() - start < 5  # not the 30 s deadline
        assert sorted(info.value.failures) == [0, 2]
        message = str(info.value)
        assert "worker 0: WorkerCrash" in message and "needs at least 3 responses" in message
        np.testing.assert_allclose(op @ x, A @ x)  # crashed workers were replaced


SLOW = 6.0  # seconds the survivors take: a round decided by failures must not wait for them


@pytest.mark.parametrize("deadline", [60.0, SLOW / 2], ids=["long-deadline", "short-deadline"])
def test_failures_end_the_round_at_once_however_slow_the_survivors(deadline):
    """MDS(8,6): 1, 4 and 6 crash at once and 0, 2, 5, 7 take 6 s; five of eight can remain.
    Waiting for 6 − 1 completions before looking saw the failures only after 6 s (or at the
    deadline)."""
    delays = Compose(FailStop([1, 4, 6], round=0), FixedDelay(SLOW, workers=[0, 2, 5, 7]))
    with Runtime(8, pool=InProcessPool(8, delays=delays), deadline=deadline) as rt:
        op = rt.place(np.ones((12, 3)), code=MDSCode(8, 6))
        start = time.perf_counter()
        with pytest.raises(RoundFailedError) as info:
            op @ np.ones(3)
        assert time.perf_counter() - start < SLOW / 4
    assert sorted(info.value.failures) == [1, 4, 6]


def test_a_code_with_small_decodable_sets_stops_at_the_first_one():
    """Fractional gradient code (4, 1): one worker of each pair {0, 1}, {2, 3} decodes; the
    recovery threshold, 3, is what every set of that size guarantees, not what is needed."""
    code = GradientCode(4, 1, scheme="fractional")
    with InProcessPool(4, delays=FixedDelay(SLOW, workers=[1, 3])) as pool:
        pool.place(0, [(np.eye(2),)] * 4, Product())
        start = time.perf_counter()
        y, metrics = run_round(pool, code, 0, 0, (np.ones(2),), deadline=60)
        assert time.perf_counter() - start < SLOW / 4
    np.testing.assert_allclose(y, [2.0, 2.0])
    assert metrics.used == (0, 2) and metrics.cancelled == (1, 3)


def test_deadline():
    with Runtime(
        3, pool=InProcessPool(3, delays=FixedDelay(5.0, workers=[1, 2])), deadline=0.3
    ) as rt:
        op = rt.place(np.ones((6, 2)), code=MDSCode(3, 2))
        start = time.perf_counter()
        with pytest.raises(
            RoundTimeoutError, match=r"deadline of 0.3 s: workers \[0\] answered"
        ) as info:
            op @ np.ones(2)
        assert info.value.pending == (1, 2)
        assert time.perf_counter() - start < 2


def test_a_worker_exception_comes_home_with_its_index():
    code = MDSCode(4, 4)
    shares = code.encode(np.ones((8, 3)))
    with InProcessPool(4) as pool:
        shards = [(s,) for s in shares[:3]] + [(np.ones((2, 5)),)]  # worker 3: bad shape
        pool.place(0, shards, Product())
        with pytest.raises(RoundFailedError, match="worker 3: ValueError") as info:
            run_round(pool, code, 0, 0, (np.ones(3),), deadline=10)
    cause = info.value.__cause__
    assert isinstance(cause, WorkerError) and cause.worker == 3 and "Traceback" in cause.traceback


def test_a_failed_worker_is_an_erasure_when_the_rest_decode():
    code = MDSCode(4, 3)
    A = np.arange(24.0).reshape(8, 3)
    shares = code.encode(A)
    with InProcessPool(4) as pool:
        pool.place(0, [(s,) for s in shares[:3]] + [(np.ones((2, 5)),)], Product())
        y, metrics = run_round(pool, code, 0, 0, (np.ones(3),), deadline=10)
    np.testing.assert_allclose(y, A @ np.ones(3))
    assert 3 not in metrics.used


class _StalePool(InProcessPool):
    """Answers worker 0's outcome with the tag of an older round."""

    def outcome(self, task):
        outcome = super().outcome(task)
        if task.worker == 0 and isinstance(outcome, Done):
            old = type(task.tag)(task.tag.job, task.tag.round - 1, 0)
            return Done(
                old, outcome.compute_s, outcome.injected_s, outcome.started_at, outcome.finished_at
            )
        return outcome


def test_results_of_stale_rounds_are_discarded():
    code = MDSCode(4, 3)
    A = np.arange(12.0).reshape(6, 2)
    with _StalePool(4) as pool:
        pool.place(0, [(s,) for s in code.encode(A)], Product())
        y, metrics = run_round(pool, code, 0, 5, (np.ones(2),), deadline=10)
    np.testing.assert_allclose(y, A @ np.ones(2))
    assert metrics.stale == 1 and 0 not in metrics.used


def test_metrics_are_consistent_and_export_as_json():
    rng = np.random.default_rng(2)
    A, x = rng.standard_normal((40, 6)), rng.standard_normal(6)
    with Runtime(5, pool=InProcessPool(5, delays=FixedDelay(1.0, workers=[4]))) as rt:
        op = rt.place(A, code=MDSCode(5, 3))
        op @ x
        metrics = op.metrics
    assert len(metrics.used) == 3 and 4 in metrics.cancelled
    assert set(metrics.seen) == set(metrics.arrived) >= set(metrics.used)
    assert 0 < metrics.oracle_s <= metrics.total_s + 1e-3
    assert metrics.encode_s > 0 and metrics.decode_s > 0
    data = json.loads(metrics.to_json())
    assert data["strategy"] == "MDSCode(n=5, k=3, systematic=False, field='real')"
    assert data["needed"] == 3 and data["overhead_s"] == pytest.approx(
        metrics.total_s - metrics.oracle_s
    )
    assert list(rt.history) == [metrics]
