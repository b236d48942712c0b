"""The Ray actor: responsive control group, cancellation of running and queued rounds, restarts."""

from __future__ import annotations

import time

import numpy as np
import pytest

from coded.workers.delays import FailStop, FixedDelay
from coded.workers.kernels import Product
from coded.workers.worker import Cancelled, Done

pytestmark = pytest.mark.ray


@pytest.fixture
def make_actor(ray_cluster):
    from coded.workers.actor import start_workers

    actors = []

    def make(delays=None):
        (actor,) = start_workers(1, num_cpus=0.1, delays=delays)
        ray_cluster.get(actor.ping.remote(), timeout=60)
        actors.append(actor)
        return actor

    yield make
    for actor in actors:
        ray_cluster.kill(actor)


def _compute(actor, round, shard_ref, x):
    return actor.compute.remote(0, round, x, reload=[shard_ref, Product()])


def test_control_calls_answer_while_a_round_computes(ray_cluster, make_actor):
    actor = make_actor(FixedDelay(5.0))
    ref = ray_cluster.put((np.eye(3),))
    status, _ = _compute(actor, 0, ref, np.ones(3))
    deadline = time.perf_counter() + 10
    while ray_cluster.get(actor.health.remote(), timeout=5)["jobs"] != [0]:  # loaded from the ref
        assert time.perf_counter() < deadline
        time.sleep(0.05)
    start = time.perf_counter()  # the round is now in its 5 s of injected delay
    assert ray_cluster.get(actor.ping.remote(), timeout=5) == 0
    assert time.perf_counter() - start < 2.0
    assert ray_cluster.wait([status], timeout=0)[1] == [status]  # still computing
    actor.cancel_through.remote(0)


def test_ray_cancel_stops_a_running_round(ray_cluster, make_actor):
    from ray.exceptions import TaskCancelledError

    actor = make_actor(FixedDelay(5.0))
    ref = ray_cluster.put((np.eye(3),))
    status, _ = _compute(actor, 0, ref, np.ones(3))
    time.sleep(0.3)
    start = time.perf_counter()
    ray_cluster.cancel(status)
    try:
        outcome = ray_cluster.get(status, timeout=10)
        assert isinstance(outcome, Cancelled)
    except TaskCancelledError:
        pass
    assert time.perf_counter() - start < 2.0  # not the 5 s of injected delay


def test_cancelled_queued_rounds_are_skipped(ray_cluster, make_actor):
    actor = make_actor(FixedDelay(1.0))
    ref, x = ray_cluster.put((np.eye(3),)), ray_cluster.put(np.ones(3))  # refs, as the pool sends
    start = time.perf_counter()
    for r in range(8):
        _compute(actor, r, ref, x)
    actor.cancel_through.remote(7)  # what RayPool.cancel does
    status, value = _compute(actor, 8, ref, x)
    assert isinstance(ray_cluster.get(status, timeout=30), Done)
    np.testing.assert_allclose(ray_cluster.get(value), np.ones(3))
    assert time.perf_counter() - start < 5.0  # running the 8 stale rounds would take 8 s more


def test_a_killed_actor_restarts_and_reloads_its_shard(ray_cluster, make_actor):
    actor = make_actor()
    shard = np.arange(6.0).reshape(2, 3)
    ref = ray_cluster.put((shard,))
    status, value = _compute(actor, 0, ref, np.ones(3))
    np.testing.assert_allclose(ray_cluster.get(value, timeout=30), shard @ np.ones(3))
    pid = ray_cluster.get(actor.health.remote())["pid"]
    ray_cluster.kill(actor, no_restart=False)
    deadline = time.perf_counter() + 60
    while True:  # calls fail while the actor restarts
        try:
            health = ray_cluster.get(actor.health.remote(), timeout=30)
            if health["pid"] != pid:
                break
        except ray_cluster.exceptions.RayActorError:
            pass
        assert time.perf_counter() < deadline
        time.sleep(0.2)
    assert health["jobs"] == []  # a fresh process: the shard is gone ...
    status, value = _compute(actor, 1, ref, np.ones(3))
    np.testing.assert_allclose(
        ray_cluster.get(value, timeout=30), shard @ np.ones(3)
    )  # ... and reloaded


def test_fail_stop_kills_the_process_for_that_round_only(ray_cluster, make_actor):
    actor = make_actor(FailStop([0], round=1))
    ref = ray_cluster.put((np.eye(2),))
    assert isinstance(ray_cluster.get(_compute(actor, 0, ref, np.ones(2))[0], timeout=30), Done)
    with pytest.raises(ray_cluster.exceptions.RayActorError):
        ray_cluster.get(_compute(actor, 1, ref, np.ones(2))[0], timeout=30)
    deadline = time.perf_counter() + 60
    while True:
        try:
            outcome = ray_cluster.get(_compute(actor, 2, ref, np.ones(2))[0], timeout=30)
            break
        except ray_cluster.exceptions.RayActorError:
            assert time.perf_counter() < deadline
            time.sleep(0.2)
    assert isinstance(outcome, Done)
