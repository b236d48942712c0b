"""The plain Worker (no Ray): products, chunks, cancellation, injected delays, errors as values."""

from __future__ import annotations

import time

import numpy as np
import pytest

import coded
from coded.workers import kernels
from coded.workers.backend import NumpyBackend, select_backend
from coded.workers.delays import FailStop, FixedDelay, ShiftedExponential, Slowdown
from coded.workers.kernels import Product
from coded.workers.worker import Cancelled, Done, Failed, Tag, Worker, WorkerCrash

P = 65537


def _tag(round=0, worker=0, job=0):
    return Tag(job=job, round=round, worker=worker)


def test_real_product_is_tagged_and_timed():
    rng = np.random.default_rng(0)
    share, x = rng.standard_normal((30, 7)), rng.standard_normal((7, 3))
    worker = Worker(2, n=4)
    worker.load(job=5, operands=(share,), kernel=Product())
    outcome, value = worker.compute(_tag(round=3, worker=2, job=5), (x,))
    assert isinstance(outcome, Done)
    assert outcome.tag == Tag(5, 3, 2)
    assert outcome.compute_s >= 0 and outcome.injected_s >= 0
    assert outcome.finished_at >= outcome.started_at
    np.testing.assert_allclose(value, share @ x)


def test_gf_product_is_exact():
    rng = np.random.default_rng(1)
    share, x = rng.integers(0, P, (9, 40)), rng.integers(0, P, (40, 2))
    worker = Worker(0, n=1)
    worker.load(0, (share,), Product(P))
    _, value = worker.compute(_tag(), (x,))
    np.testing.assert_array_equal(value, coded.gf_matmul(share, x, P))


def test_two_resident_operands_and_no_arguments():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 6))
    worker = Worker(0, n=1)
    worker.load(0, (a, b), Product())
    _, value = worker.compute(_tag())
    np.testing.assert_allclose(value, a @ b)


def test_chunks_check_cancellation(monkeypatch):
    monkeypatch.setattr(kernels, "CHUNK_WORK", 10)  # one row per chunk
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 3

    worker = Worker(0, n=1)
    worker.load(0, (np.ones((50, 10)),), Product())
    outcome, value = worker.compute(_tag(), (np.ones(10),), cancelled)
    assert isinstance(outcome, Cancelled) and value is None
    assert len(calls) == 4  # stopped at the 4th check, not after all 50 rows


def test_chunked_product_equals_whole(monkeypatch):
    monkeypatch.setattr(kernels, "CHUNK_WORK", 64)
    rng = np.random.default_rng(3)
    share, x = rng.standard_normal((37, 8)), rng.standard_normal((8, 2))
    worker = Worker(0, n=1)
    worker.load(0, (share,), Product())
    np.testing.assert_allclose(worker.compute(_tag(), (x,))[1], share @ x)


def test_fixed_delay_is_injected_on_chosen_workers_only():
    slow, fast = (Worker(i, n=2, delays=FixedDelay(0.2, workers=[0])) for i in (0, 1))
    for w in (slow, fast):
        w.load(0, (np.eye(2),), Product())
    start = time.perf_counter()
    outcome, _ = slow.compute(_tag(), (np.ones(2),))
    assert time.perf_counter() - start >= 0.2
    assert outcome.injected_s == pytest.approx(0.2, abs=0.1)
    assert fast.compute(_tag(worker=1), (np.ones(2),))[0].injected_s < 0.05


def test_slowdown_scales_the_measured_compute_time():
    worker = Worker(0, n=1, delays=Slowdown(5.0))
    rng = np.random.default_rng(4)
    worker.load(0, (rng.standard_normal((400, 400)),), Product())
    outcome, _ = worker.compute(_tag(), (rng.standard_normal((400, 50)),))
    assert outcome.injected_s == pytest.approx(4 * outcome.compute_s, rel=0.5, abs=0.01)


def test_cancellation_interrupts_the_injected_sleep():
    worker = Worker(0, n=1, delays=FixedDelay(10.0))
    worker.load(0, (np.eye(2),), Product())
    deadline = time.perf_counter() + 0.1
    start = time.perf_counter()
    outcome, _ = worker.compute(_tag(), (np.ones(2),), lambda: time.perf_counter() > deadline)
    assert isinstance(outcome, Cancelled)
    assert time.perf_counter() - start < 1.0


def test_fail_stop_raises_worker_crash_in_its_round():
    worker = Worker(1, n=3, delays=FailStop([1], round=2))
    worker.load(0, (np.eye(2),), Product())
    assert isinstance(worker.compute(_tag(round=1, worker=1), (np.ones(2),))[0], Done)
    with pytest.raises(WorkerCrash, match="worker 1 fail-stop crash in round 2"):
        worker.compute(_tag(round=2, worker=1), (np.ones(2),))


def test_delays_are_reproducible_per_worker_and_round():
    model = ShiftedExponential(rate=1.0)
    first, restarted = Worker(3, n=8, delays=model, seed=7), Worker(3, n=8, delays=model, seed=7)
    assert first._delays.at(11) == restarted._delays.at(11)


def test_errors_come_back_as_values_with_the_worker_index():
    worker = Worker(2, n=4)
    outcome, value = worker.compute(_tag(job=9, worker=2), (np.ones(2),))
    assert isinstance(outcome, Failed) and value is None
    assert outcome.error == "NotLoaded"
    assert "worker 2 holds no operands for job 9" in outcome.message
    assert "Traceback" in outcome.traceback
    worker.load(0, (np.ones((3, 4)),), Product())
    outcome, _ = worker.compute(_tag(worker=2), (np.ones(5),))
    assert outcome.error == "ValueError" and outcome.reason.startswith("ValueError: ")


def test_control_calls():
    worker = Worker(1, n=2)
    worker.load(4, (np.eye(2),), Product())
    assert worker.ping() == 1 and worker.has(4)
    assert worker.health()["jobs"] == [4] and worker.health()["backend"] == "numpy"
    worker.drop(4)
    assert not worker.has(4)


def test_index_must_be_a_worker():
    with pytest.raises(ValueError, match=r"Argument 'index' must be in 0..n-1=3, not 4."):
        Worker(4, n=4)


def test_backend_selection():
    assert isinstance(select_backend(gpu_ids=[]), NumpyBackend)
    assert select_backend("numpy").name == "numpy"
    with pytest.raises(ValueError, match="Argument 'name' must be one of"):
        select_backend("jax")


def test_gpu_without_a_gpu_library_is_a_clear_error():
    try:
        select_backend(gpu_ids=[0])
    except ImportError as exc:
        assert "neither cupy nor torch" in str(exc)
    else:
        pytest.skip("a GPU array library is installed")


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["cupy", "torch"])
def test_gpu_backends_compute_on_the_device(name):
    pytest.importorskip(name)
    backend = select_backend(name)
    try:
        device_array = backend.to_device(np.eye(3))
    except Exception as exc:  # noqa: BLE001 - no usable GPU here
        pytest.skip(f"{name} has no usable GPU: {exc}")
    worker = Worker(0, n=1, backend=backend)
    worker.load(0, (np.arange(9.0).reshape(3, 3),), Product())
    assert type(device_array).__module__.split(".")[0] == name
    np.testing.assert_allclose(worker.compute(_tag(), (np.ones(3),))[1], [3.0, 12.0, 21.0])


def test_every_round_calls_the_job_kernel():
    seen = []

    def kernel(index, operands, args, cancelled, backend):
        seen.append((index, len(operands), args, cancelled(), backend.name))
        return operands[0].sum() * args[0]

    worker = Worker(1, n=2)
    worker.load(0, (np.ones((2, 2)),), kernel)
    outcome, value = worker.compute(_tag(worker=1), (3.0,))
    assert isinstance(outcome, Done) and value == 12.0
    assert seen == [(1, 1, (3.0,), False, "numpy")]
    assert not hasattr(worker, "_product")  # one compute path: the kernel


class _OnDevice(np.ndarray):
    """An array the test backend has "moved to its device"."""


class _TestDevice(NumpyBackend):
    name = "test-device"

    def to_device(self, x):
        return np.asarray(x).view(_OnDevice)


def _where(index, operands, args, cancelled, backend):
    """A kernel reporting where its operands live and which backend it was given."""
    return isinstance(operands[0], _OnDevice), backend.name


class _DeviceKernel:
    on_host = False
    __call__ = staticmethod(_where)


def test_load_puts_operands_where_the_kernel_runs():
    worker = Worker(0, n=1, backend=_TestDevice())
    worker.load(0, (np.eye(2),), _DeviceKernel())
    worker.load(1, (np.eye(2),), _where)  # a plain function runs on the host
    assert worker.compute(_tag(job=0))[1] == (True, "test-device")
    assert worker.compute(_tag(job=1))[1] == (False, "numpy")
    assert Product().on_host is False and Product(P).on_host is True
    worker.load(2, (np.eye(2),), Product())  # the real product computes on the device
    np.testing.assert_array_equal(worker.compute(_tag(job=2), (np.ones(2),))[1], np.ones(2))


def test_a_kernel_must_be_callable():
    with pytest.raises(TypeError, match=r"Argument 'kernel' must be callable, not 3 \(int\)\."):
        Worker(0, n=1).load(0, (np.eye(2),), 3)


def test_rounds_cancelled_through_are_skipped_even_a_crash():
    worker = Worker(0, n=1, delays=FailStop([0], round=3))
    worker.load(0, (np.eye(2),), Product())
    worker.cancel_through(3)
    assert isinstance(worker.compute(_tag(round=2), (np.ones(2),))[0], Cancelled)
    assert isinstance(worker.compute(_tag(round=3), (np.ones(2),))[0], Cancelled)  # no crash
    assert isinstance(worker.compute(_tag(round=4), (np.ones(2),))[0], Done)


def test_a_skipped_round_still_reaches_a_kernel_that_keeps_state():
    """A compressed broadcast changes the worker's model every round, computed or not."""

    class Counting(Product):
        def skipped(self, index, args):
            seen.append((index, args))

    seen = []
    worker = Worker(1, n=2)
    worker.load(0, (np.eye(2),), Counting())
    worker.cancel_through(3)
    assert isinstance(worker.compute(_tag(round=2, worker=1), (np.ones(2),))[0], Cancelled)
    assert len(seen) == 1 and seen[0][0] == 1 and np.array_equal(seen[0][1][0], np.ones(2))
    worker.compute(_tag(round=2, worker=1, job=7), (np.ones(2),))  # a job it does not hold
    assert len(seen) == 1
