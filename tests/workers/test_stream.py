"""A worker's round piece by piece (partial work): the product's row blocks as each is done,
delays spread over them, cancellation between them, emulation per piece, errors as values."""

from __future__ import annotations

import time

import numpy as np
import pytest

from coded.workers.delays import Corrupt, FailStop, Slowdown
from coded.workers.emulation import Cost, Emulation, Placeholder, piece_bounds
from coded.workers.kernels import Product
from coded.workers.worker import Cancelled, Done, Failed, Piece, Tag, Worker, WorkerCrash

P = 65537


@pytest.mark.parametrize("p", [None, P], ids=["real", "GF(p)"])
def test_pieces_are_the_products_row_blocks(p):
    rng = np.random.default_rng(0)
    share = rng.integers(0, P, (12, 5)) if p else rng.standard_normal((12, 5))
    x = rng.integers(0, P, (5, 2)) if p else rng.standard_normal((5, 2))
    kernel = Product(p, pieces=3)
    pieces = list(kernel.stream(0, (share,), (x,)))
    assert [len(y) for y in pieces] == [4, 4, 4]
    np.testing.assert_array_equal(np.concatenate(pieces), kernel(0, (share,), (x,)))
    np.testing.assert_array_equal(kernel(0, (share,), (x,)), Product(p)(0, (share,), (x,)))


def test_a_cancelled_stream_stops_between_pieces(monkeypatch):
    monkeypatch.setattr("coded.workers.kernels.CHUNK_WORK", 5)  # one row per check
    asked = iter([False] * 5 + [True] * 100)
    pieces = list(Product(pieces=3).stream(0, (np.ones((6, 5)),), (np.ones(5),), asked.__next__))
    assert len(pieces) == 2  # rows 0–1 and 2–3; the check before row 5 stops the third
    assert Product(pieces=3)(0, (np.ones((6, 5)),), (np.ones(5),), lambda: True) is None


def test_worker_stream_reports_each_piece_then_done():
    worker = Worker(1, n=2)
    worker.load(0, (np.arange(12.0).reshape(6, 2),), Product(pieces=3))
    items = list(worker.stream(Tag(0, 4, 1), (np.ones(2),)))
    records = [record for record, _ in items]
    assert [r.number for r in records[:3]] == [0, 1, 2] and isinstance(records[3], Done)
    assert all(isinstance(r, Piece) and r.tag == Tag(0, 4, 1) for r in records[:3])
    assert records[0].finished_at <= records[1].finished_at <= records[3].finished_at
    np.testing.assert_array_equal(np.concatenate([v for _, v in items[:3]]), [1, 5, 9, 13, 17, 21])


def test_a_slow_worker_is_slow_on_every_piece():
    """Slowdown(4): each piece is held 3x its compute time, so the pieces spread out."""
    worker = Worker(0, n=1, delays=Slowdown(4.0), emulate=Emulation(0.02 / 100))
    worker.load(0, (Placeholder((4, 100)),), Product(pieces=4))  # 4 pieces of 20 ms each
    start = time.perf_counter()
    items = list(worker.stream(Tag(0, 0, 0), (np.ones(100),)))
    times = [record.finished_at for record, _ in items[:4]]
    assert 0.3 < time.perf_counter() - start < 1.0  # 4 × 80 ms
    assert all(b - a > 0.06 for a, b in zip(times, times[1:], strict=False))
    assert isinstance(items[-1][0], Done) and not items[0][1].any()  # emulated: zeros


def test_cancel_through_stops_a_stream_and_stale_rounds_skip():
    worker = Worker(0, n=1, emulate=Emulation(0.05 / 100))
    worker.load(0, (Placeholder((4, 100)),), Product(pieces=4))
    stream = worker.stream(Tag(0, 2, 0), (np.ones(100),))
    first, _ = next(stream)
    worker.cancel_through(2)
    assert isinstance(first, Piece) and isinstance(next(stream)[0], Cancelled)
    assert [type(r) for r, _ in worker.stream(Tag(0, 1, 0), (np.ones(100),))] == [Cancelled]


def test_errors_come_home_as_values_and_crashes_raise():
    worker = Worker(0, n=1, delays=FailStop([0], round=1))
    worker.load(0, (np.ones((4, 3)),), Product(pieces=2))
    (failed, _), *_ = worker.stream(Tag(0, 0, 0), (np.ones(7),))  # wrong shape
    assert isinstance(failed, Failed) and failed.error == "ValueError"
    (failed, _), *_ = worker.stream(Tag(9, 0, 0), (np.ones(3),))  # no such job
    assert failed.error == "NotLoaded"
    with pytest.raises(WorkerCrash):
        list(worker.stream(Tag(0, 1, 0), (np.ones(3),)))


def test_wrong_answers_corrupt_every_piece():
    worker = Worker(0, n=1, delays=Corrupt("nan"))
    worker.load(0, (np.ones((4, 3)),), Product(pieces=2))
    values = [v for r, v in worker.stream(Tag(0, 0, 0), (np.ones(3),)) if isinstance(r, Piece)]
    assert len(values) == 2 and all(np.isnan(v).all() for v in values)


def test_a_kernel_without_pieces_is_one_piece():
    worker = Worker(0, n=1)
    worker.load(0, (np.ones((4, 3)),), lambda i, operands, args, cancelled, backend: args[0])
    items = list(worker.stream(Tag(0, 0, 0), ("answer",)))
    assert items[0][1] == "answer" and isinstance(items[1][0], Done) and len(items) == 2


def test_costs_split_like_the_rows():
    assert piece_bounds(10, 4) == [0, 2, 5, 7, 10]
    costs = Cost(work=100, shape=(10, 2)).split(4)
    assert [c.shape for c in costs] == [(2, 2), (3, 2), (2, 2), (3, 2)]
    assert sum(c.work for c in costs) == 100
