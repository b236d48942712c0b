"""Partial-work rounds in process: a round decodes from the chunks finished so far, its
stragglers' included, and cancels the rest; failures erase chunks; deadlines hold.

Delays are injected, spread over each worker's chunks: with ``FixedDelay(0.4)`` on every
worker and 1.6 s more on worker 1, a fast worker finishes a chunk every 40 ms of its 10
and worker 1 every 200 ms (5x slow). ``k = 2`` of 4 needs 20 chunks: the fast workers
have 18 at 240 ms and 21 at 280 ms, so the round ends then, with worker 1's first chunk
(at 200 ms) among those it decodes from, and worker 1 cancelled long before its 2 s.
"""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded import ChunkedMDSCode, MDSCode
from coded.scheduler.errors import RoundFailedError, RoundTimeoutError
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Compose, Corrupt, FailStop, FixedDelay
from coded.workers.emulation import Emulation, Placeholder
from coded.workers.kernels import Product

P = 65537
SLOW = Compose(FixedDelay(0.4), FixedDelay(1.6, workers=[1]))
coded.PrimeField(P).inverse(np.eye(2, dtype=np.int64))  # galois compiles here, not in a round


def _operands(field, rng, rows=120, cols=9):
    if field == "real":
        A, x = rng.standard_normal((rows, cols)), rng.standard_normal(cols)
        return A, x, A @ x
    A, x = rng.integers(0, P, (rows, cols)), rng.integers(0, P, cols)
    return A, x, coded.gf_matmul(A, x[:, None], P)[:, 0]


@pytest.mark.parametrize("field", ["real", P], ids=["real", f"GF({P})"])
def test_a_slow_workers_finished_chunks_are_used(field):
    rng = np.random.default_rng(0)
    A, x, expected = _operands(field, rng)
    with Runtime(4, pool=InProcessPool(4, delays=SLOW)) as rt:
        op = rt.place(A, code=ChunkedMDSCode(4, 2, chunks=10, field=field))
        y = op @ x
    metrics = op.metrics
    if field == "real":
        np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)
    else:
        np.testing.assert_array_equal(y, expected)
    assert metrics.chunks[1] >= 1 and metrics.chunks_seen[1] < 10  # some, not all, of its chunks
    assert 1 in metrics.cancelled and metrics.total_s < 1.0  # its whole share takes 2 s
    assert sum(metrics.chunks.values()) >= 20 and metrics.needed == 20
    assert metrics.oracle_s <= metrics.total_s + 1e-3


def test_rounds_pipeline_and_repeat():
    rng = np.random.default_rng(1)
    A, x, expected = _operands(P, rng)
    xs = [x, (2 * x) % P, (3 * x) % P]
    with Runtime(4, pool=InProcessPool(4)) as rt:
        op = rt.place(A, code=ChunkedMDSCode(4, 3, chunks=2, field=P))
        ys = op.map(xs, window=2)
        assert len(rt.history) == 3
    for y, scale in zip(ys, (1, 2, 3), strict=True):
        np.testing.assert_array_equal(y, expected * scale % P)


def test_failed_workers_are_erasures():
    rng = np.random.default_rng(2)
    A, x, expected = _operands(P, rng)
    crash = Compose(FailStop([0, 2], round=0), FixedDelay(0.2))  # the crashes come first
    with Runtime(4, pool=InProcessPool(4, delays=crash)) as rt:
        op = rt.place(A, code=ChunkedMDSCode(4, 2, chunks=3, field=P))
        np.testing.assert_array_equal(op @ x, expected)  # workers 1 and 3: 6 = k·chunks chunks
        assert sorted(op.metrics.failures) == [0, 2] and op.metrics.chunks == {1: 3, 3: 3}


def test_chunks_that_are_not_results_are_erasures_and_their_worker_faulty():
    rng = np.random.default_rng(3)
    A, x, expected = _operands("real", rng)
    with Runtime(4, pool=InProcessPool(4, delays=Corrupt("nan", workers=[0]))) as rt:
        op = rt.place(A, code=ChunkedMDSCode(4, 2, chunks=2))
        np.testing.assert_allclose(op @ x, expected, rtol=1e-10, atol=1e-10)
    assert 0 in op.metrics.faulty and "NaN" in op.metrics.faulty[0]
    assert 0 not in op.metrics.chunks


def test_too_many_failures_fail_fast_and_name_them():
    with Runtime(4, pool=InProcessPool(4, delays=FailStop([0, 1, 2], round=0)), deadline=30) as rt:
        op = rt.place(np.ones((8, 2)), code=ChunkedMDSCode(4, 2, chunks=2))
        with pytest.raises(RoundFailedError) as info:
            op @ np.ones(2)
    assert sorted(info.value.failures) == [0, 1, 2] and info.value.needed == 4


def test_the_deadline_holds():
    pool = InProcessPool(4, delays=FixedDelay(5.0))
    with Runtime(4, pool=pool, deadline=0.3) as rt:
        op = rt.place(np.ones((8, 2)), code=ChunkedMDSCode(4, 2, chunks=2))
        with pytest.raises(RoundTimeoutError):
            op @ np.ones(2)


def test_emulated_workers_report_each_chunks_share_of_the_time():
    """Emulated: worker i sleeps c_r·factor per chunk; the round ends once 2·4 = 8 chunks
    are in, i.e. after about 8/4 = 2 chunk times, not the k-th whole share (4 chunk times)."""
    code, chunk_s = ChunkedMDSCode(4, 2, chunks=4), 0.05
    shards = [(Placeholder((4 * 25, 40)),) for _ in range(4)]  # 25 rows of 40 per chunk
    emulate = Emulation(chunk_s / (25 * 40))
    code.encode(np.zeros((200, 40)))  # the layout: 8 symbols of 25 rows
    with Runtime(4, pool=InProcessPool(4, emulate=emulate)) as rt:
        with rt.place_job(shards, Product(pieces=4), code) as job:
            job.run(np.zeros(40))
            metrics = job.metrics
    assert sum(metrics.chunks.values()) >= 8
    assert 1.5 * chunk_s < metrics.total_s < 3.5 * chunk_s


def test_whole_answer_codes_are_unchanged():
    with Runtime(4, pool=InProcessPool(4)) as rt:
        op = rt.place(np.ones((8, 2)), code=MDSCode(4, 2))
        np.testing.assert_allclose(op @ np.ones(2), np.full(8, 2.0))
        assert op.metrics.chunks == {} and len(op.metrics.used) == 2
