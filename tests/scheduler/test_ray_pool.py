"""RayPool's recovery on the session's local Ray: a restarted worker answers the round it
was sent, whether it died before the round, during it, or restarted unseen.

Every worker is slow (seconds), longer than an actor takes to restart, so a worker that
answers the round proves it was waited for rather than counted out.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from coded import MDSCode
from coded.scheduler.runtime import Runtime
from coded.workers.delays import FixedDelay

pytestmark = pytest.mark.ray

CPUS = 0.25
A, X = np.arange(60.0).reshape(20, 3), np.ones(3)


def test_a_worker_killed_between_rounds_answers_the_next_round(ray_cluster):
    """Its round's call failed (the actor was restarting) and the round failed, or it
    answered NotLoaded; now the call is sent again with its shard and answers."""
    with Runtime(4, num_cpus_per_worker=CPUS, delays=FixedDelay(3.0)) as rt:
        op = rt.place(A, code=MDSCode(4, 4))  # needs every worker
        np.testing.assert_allclose(op @ X, A @ X)
        ray_cluster.kill(rt.pool.actors[1], no_restart=False)
        np.testing.assert_allclose(op @ X, A @ X)
        assert op.metrics.used == (0, 1, 2, 3) and list(op.metrics.retried) == [1]
        assert not op.metrics.failures
        np.testing.assert_allclose(op @ X, A @ X)  # and the next one without a retry
        assert op.metrics.used == (0, 1, 2, 3) and not op.metrics.retried


def test_a_worker_killed_mid_round_is_sent_the_round_again(ray_cluster):
    with Runtime(4, num_cpus_per_worker=CPUS, delays=FixedDelay(2.5)) as rt:
        op, op_all = rt.place(A, code=MDSCode(4, 3)), rt.place(A, code=MDSCode(4, 4))
        victim = rt.pool.actors[1]
        threading.Timer(0.3, ray_cluster.kill, args=(victim,), kwargs={"no_restart": False}).start()
        np.testing.assert_allclose(op @ X, A @ X)
        assert list(op.metrics.retried) == [1] and "Actor" in op.metrics.retried[1]
        assert 1 in op.metrics.cancelled  # restarting, it was the slowest: not waited for
        np.testing.assert_allclose(op_all @ X, A @ X)  # the next round has all n workers
        assert op_all.metrics.used == (0, 1, 2, 3)


def test_a_worker_restarted_unseen_answers_not_loaded_then_the_round_with_its_shard(
    ray_cluster,
):
    with Runtime(4, num_cpus_per_worker=CPUS, delays=FixedDelay(0.5)) as rt:
        op, op_all = rt.place(A, code=MDSCode(4, 3)), rt.place(A, code=MDSCode(4, 4))
        np.testing.assert_allclose(op @ X, A @ X)
        pid = ray_cluster.get(rt.pool.actors[2].health.remote())["pid"]
        ray_cluster.kill(rt.pool.actors[2], no_restart=False)  # between rounds: no call fails
        deadline = time.perf_counter() + 60
        while True:
            try:
                if ray_cluster.get(rt.pool.actors[2].health.remote(), timeout=30)["pid"] != pid:
                    break
            except ray_cluster.exceptions.RayActorError:
                pass
            assert time.perf_counter() < deadline
            time.sleep(0.1)
        np.testing.assert_allclose(op_all @ X, A @ X)  # worker 2 lost its shards: NotLoaded
        assert "NotLoaded" in op_all.metrics.retried[2] and op_all.metrics.used == (0, 1, 2, 3)
        np.testing.assert_allclose(op @ X, A @ X)  # and it gets the other job's shard too
        assert not op.metrics.retried and not op.metrics.failures
