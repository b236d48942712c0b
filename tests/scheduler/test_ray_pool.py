"""RayPool's per-worker recovery record, without a cluster."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")

from coded.scheduler.ray_pool import WorkerState  # noqa: E402


def test_a_dead_worker_waits_for_its_restart_and_gets_each_lost_shard_once():
    state = WorkerState()
    state.lose({0, 2}, died=True)
    assert state.restarting and not state.gave_up
    assert [state.take_reload(job) for job in (2, 2, 1, 0)] == [True, False, False, True]
    assert state.lost_jobs == set()


def test_an_unseen_restart_is_not_waited_for_and_a_given_up_worker_never_again():
    unseen = WorkerState()
    unseen.lose({1}, died=False)  # it answered NotLoaded: alive, shards gone
    assert not unseen.restarting and unseen.lost_jobs == {1}
    given_up = WorkerState(gave_up=True)
    given_up.lose({1}, died=True)
    assert not given_up.restarting and given_up.lost_jobs == {1}
