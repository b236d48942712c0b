"""Emulated compute: the calibrated sleep, its shape, cancellation, delays on top, refusal."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from coded.gradient import GradientCode
from coded.losses import LeastSquaresLoss
from coded.workers.delays import Slowdown
from coded.workers.emulation import Emulation, Placeholder
from coded.workers.kernels import Gradient, Product
from coded.workers.worker import EMULATED_SLICE, Cancelled, Done, Tag, Worker

P = 65537
EMULATION = Emulation(seconds_per_op=1e-9)


def _worker(shape=(1000, 100_000), delays=None) -> Worker:
    """A worker whose round of ``Placeholder(shape) @ x`` (x a vector) emulates 0.1 s."""
    worker = Worker(0, n=2, delays=delays, emulate=EMULATION)
    worker.load(0, (Placeholder(shape),), Product())
    return worker


def test_the_emulated_worker_sleeps_its_calibrated_time_and_answers_zeros_of_the_shape():
    worker = _worker()
    start = time.perf_counter()
    outcome, value = worker.compute(Tag(0, 0, 0), (np.ones((100_000, 3)),))
    elapsed = time.perf_counter() - start
    assert isinstance(outcome, Done)
    assert outcome.compute_s == pytest.approx(0.3, abs=0.1)  # 1000·100000·3 ops of 1 ns
    assert 0.3 <= elapsed < 0.6
    assert value.shape == (1000, 3) and value.dtype == np.float64 and not value.any()


def test_an_emulated_worker_keeps_only_shapes_and_never_computes():
    worker = Worker(0, n=1, emulate=EMULATION)
    worker.load(0, (np.ones((4, 3), dtype=np.float32),), Product())
    assert worker.health()["emulate"] == EMULATION
    _, value = worker.compute(Tag(0, 0, 0), (np.ones(3, dtype=np.float32),))
    np.testing.assert_array_equal(value, np.zeros(4, dtype=np.float32))  # not the product


def test_delays_multiply_the_emulated_time():
    worker = _worker(delays=Slowdown(3.0))
    outcome, _ = worker.compute(Tag(0, 0, 0), (np.ones(100_000),))
    assert outcome.compute_s == pytest.approx(0.1, abs=0.05)
    assert outcome.injected_s == pytest.approx(2 * outcome.compute_s, rel=0.2)


def test_cancel_through_wakes_an_emulated_worker_at_once():
    worker = _worker(shape=(10_000_000, 1000))  # 10 s
    threading.Timer(0.05, worker.cancel_through, args=(0,)).start()
    start = time.perf_counter()
    outcome, value = worker.compute(Tag(0, 0, 0), (np.ones(1000),))
    assert isinstance(outcome, Cancelled) and value is None
    assert time.perf_counter() - start < 0.05 + EMULATED_SLICE / 2


def test_a_cancelled_flag_stops_an_emulated_worker_within_a_slice():
    worker = _worker(shape=(10_000_000, 1000), delays=Slowdown(2.0))
    deadline = time.perf_counter() + 0.05
    start = time.perf_counter()
    outcome, _ = worker.compute(
        Tag(0, 0, 0), (np.ones(1000),), lambda: time.perf_counter() > deadline
    )
    assert isinstance(outcome, Cancelled)
    assert time.perf_counter() - start < 0.05 + 2 * EMULATED_SLICE


def test_a_kernel_without_a_cost_refuses_emulation():
    def kernel(index, operands, args, cancelled, backend):
        return operands[0]

    worker = Worker(0, n=1, emulate=EMULATION)
    with pytest.raises(TypeError, match="cannot be emulated: it declares no cost"):
        worker.load(0, (np.eye(2),), kernel)
    with pytest.raises(TypeError, match=r"kernel Gradient\(.*\) cannot be emulated"):
        worker.load(0, (np.eye(2),), Gradient(LeastSquaresLoss(), GradientCode(n=2, s=1)))
    Worker(0, n=1).load(0, (np.eye(2),), kernel)  # computing: fine


@pytest.mark.parametrize(
    ("left", "right", "p"),
    [((5, 4), (4,), None), ((5, 4), (4, 3), None), ((4,), (4, 3), None), ((5, 4), (4, 2), P)],
    ids=["matvec", "matmat", "vecmat", f"GF({P})"],
)
def test_the_product_cost_matches_the_product(left, right, p):
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 9, left), rng.integers(0, 9, right).astype(np.float32)
    if p is None:
        a = a.astype(np.float64)
    kernel = Product(p)
    cost = kernel.cost((Placeholder.like(a),), (b,))
    value = kernel(0, (a,), (b,))
    assert (cost.shape, cost.dtype) == (value.shape, value.dtype.name)
    assert cost.work == np.prod(left) * (right[1] if len(right) == 2 else 1)
    assert cost.output().shape == value.shape
