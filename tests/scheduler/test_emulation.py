"""Emulated pools and runtimes (no Ray): refusal at placement, placeholders end to end."""

from __future__ import annotations

import numpy as np
import pytest

from coded import MDSCode
from coded.gradient import GradientCode
from coded.losses import LeastSquaresLoss
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.workers.delays import FixedDelay
from coded.workers.emulation import Cost, Emulation, Placeholder
from coded.workers.kernels import Gradient, Product
from coded.workers.worker import Worker

EMULATION = Emulation(seconds_per_op=1e-9)


def test_an_emulated_pool_refuses_a_kernel_without_a_cost_at_placement():
    kernel = Gradient(LeastSquaresLoss(), GradientCode(n=2, s=1))
    with InProcessPool(2, emulate=EMULATION) as pool:
        with pytest.raises(TypeError, match="cannot be emulated"):
            pool.place(0, [(np.eye(2),)] * 2, kernel)
        with Runtime(2, pool=pool) as rt, pytest.raises(TypeError, match="cannot be emulated"):
            rt.place_job([(np.eye(2),)] * 2, kernel, GradientCode(n=2, s=1))


def test_emulation_arguments():
    with pytest.raises(ValueError, match="'seconds_per_op' must be greater than 0"):
        Emulation(0.0)
    with pytest.raises(TypeError, match="'seconds_per_op' must be a finite number"):
        Emulation("fast")
    with pytest.raises(TypeError, match="'emulate' must be an Emulation or None"):
        Worker(0, n=1, emulate=1e-9)
    with pytest.raises(ValueError, match="'emulate' applies to the Ray workers"):
        Runtime(2, pool=InProcessPool(2), emulate=EMULATION)
    assert Placeholder([3, 2], np.float32) == Placeholder((3, 2), "float32")
    assert Cost(1, (2,)).output().dtype == np.float64


def test_an_emulated_runtime_decodes_zeros_of_the_product_shape_from_placeholders():
    n, k, rows, cols = 4, 2, 1000, 50_000
    code = MDSCode(n, k)
    shards = [(Placeholder((len(s), cols)),) for s in code.encode(np.zeros((rows, 1)))]
    with Runtime(n, pool=InProcessPool(n, emulate=EMULATION)) as rt:
        job = rt.place_job(shards, Product(), code)
        y = job.run(np.ones(cols))
    assert y.shape == (rows,) and not y.any()
    # each worker emulates rows/k · cols ops: 25 ms
    assert job.metrics.oracle_s == pytest.approx(0.025, abs=0.02)
    assert job.metrics.total_s >= 0.025


@pytest.mark.ray
def test_emulated_ray_workers_sleep_cancel_and_refuse_a_kernel_without_a_cost(ray_cluster):
    n, k, rows, cols = 4, 2, 200, 1_000_000  # each worker emulates 100 · 10⁶ ops: 0.1 s
    code = MDSCode(n, k)
    shards = [(Placeholder((len(s), cols)),) for s in code.encode(np.zeros((rows, 1)))]
    slow = FixedDelay(30.0, workers=[3])  # cancelled, or the runtime would not close quickly
    with Runtime(n, num_cpus_per_worker=0.25, delays=slow, emulate=EMULATION) as rt:
        with pytest.raises(TypeError, match="cannot be emulated"):
            rt.place_job(shards, Gradient(LeastSquaresLoss(), GradientCode(n, 1)), code)
        job = rt.place_job(shards, Product(), code)
        y = job.run(np.ones(cols))
        assert y.shape == (rows,) and not y.any()
        assert 3 not in job.metrics.used and 3 in job.metrics.cancelled
        assert all(0.1 <= job.metrics.compute[i] < 0.3 for i in job.metrics.used)
        assert job.metrics.total_s < 1.0
        health = ray_cluster.get(rt.pool.actors[0].health.remote())
        assert health["emulate"] == EMULATION
