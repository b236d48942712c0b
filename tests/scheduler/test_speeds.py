"""Per-worker speed estimates: the EWMA and its censored bounds, their convergence to the
injected factors on the in-process pool, and the hysteresis of the slow set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coded import MDSCode
from coded.scheduler.metrics import RoundMetrics, metrics_to_json
from coded.scheduler.pool import InProcessPool
from coded.scheduler.recoding import Adapt, Recoding, SlowWorkers, predicted_round
from coded.scheduler.runtime import Runtime
from coded.scheduler.speeds import SpeedEstimate, ewma_speeds, round_rates
from coded.workers.delays import PersistentSlow
from coded.workers.emulation import Emulation

NAN = np.nan


def test_a_censored_bound_only_lowers_an_estimate():
    speeds = np.array([1.0, 1.0, 2.0])
    bounds = np.array([0.5, 3.0, NAN])
    after = ewma_speeds(speeds, np.full(3, NAN), bounds, smoothing=0.5)
    assert after.tolist() == [0.75, 1.0, 2.0]


def test_round_rates_time_the_answers_and_bound_the_cancelled():
    metrics = RoundMetrics(0, 0, "MDS", n=4, needed=2, cancelled=(2,), excluded=(3,))
    metrics.started, metrics.finished = {0: 0.01, 1: 0.03}, {0: 0.11, 1: 0.53}
    metrics.failures, metrics.dispatch_s, metrics.wait_s = {2: "cancelled"}, 0.02, 0.5
    observed, censored = round_rates(metrics, np.array([1.0, 1.0, 1.0, 1.0]))
    assert np.allclose(observed[:2], [10.0, 2.0]) and np.isnan(observed[2:]).all()
    # L: from the answers' median start, 0.02, to the end of the wait, 0.52
    assert np.isnan(censored[[0, 1, 3]]).all() and censored[2] == pytest.approx(1 / 0.5)


def test_estimates_converge_to_the_injected_factors_and_are_recorded():
    slow = PersistentSlow([1, 4], factor=5.0)
    A, x = np.ones((120, 50)), np.ones(50)
    pool = InProcessPool(6, delays=slow, emulate=Emulation(0.04 / (20 * 50)))  # 40 ms a share
    with Runtime(6, pool=pool) as rt:
        assert np.isnan(rt.speeds).all()
        op = rt.place(A, code=MDSCode(6, 6))  # every worker answers: every time observed
        for _ in range(4):
            op @ x
        relative = rt.speeds / np.median(rt.speeds)
        recorded = [m.speeds for m in rt.history]
    # sleeps overshoot by a few ms on a loaded machine, the fast workers' relatively more
    assert relative == pytest.approx([1, 0.2, 1, 1, 0.2, 1], rel=0.15)
    assert len(recorded) == 4 and np.allclose(recorded[-1], rt.speeds)
    assert json.loads(metrics_to_json(list(rt.history)))[-1]["speeds"] == list(recorded[-1])


def test_a_worker_turns_slow_and_back_with_hysteresis():
    slow = SlowWorkers(Adapt(threshold=2.0, recover=1.5, rounds=2), n=4)
    fast, lagging, middling = [1.0, 1.0, 1.0], 0.3, 0.6  # 3.3x and 1.7x the median's time
    assert slow.update([*fast, lagging]) == set()
    assert slow.update([*fast, 1.0]) == set()  # one fast round resets the count
    assert slow.update([*fast, lagging]) == set() and slow.update([*fast, lagging]) == {3}
    for _ in range(3):  # between recover and threshold: stays slow
        assert slow.update([*fast, middling]) == {3}
    assert slow.update([*fast, 0.9]) == {3} and slow.update([*fast, 0.9]) == set()


def test_unobserved_workers_are_not_judged():
    slow = SlowWorkers(Adapt(rounds=1), n=3)
    assert slow.update([1.0, NAN, 0.1]) == {2}
    assert np.isnan(slow.ratios(np.full(3, NAN))).all()


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"threshold": 1.0}, ValueError, "Argument 'threshold' must be greater than 1"),
        ({"threshold": 2.0, "recover": 2.0}, ValueError, "Argument 'recover' must be less than 2"),
        ({"rounds": 0}, ValueError, "Argument 'rounds' must be at least 1"),
        ({"rounds": 1.5}, TypeError, "Argument 'rounds' must be an integer"),
    ],
)
def test_bad_policies_are_refused_with_their_names(options, error, message):
    with pytest.raises(error, match=message):
        Adapt(**options)


def test_k_follows_the_fast_workers():
    policy = Adapt()
    assert [policy.k_for(6, 8, s) for s in (0, 1, 3, 8)] == [6, 5, 4, 1]
    with pytest.raises(ValueError, match="Argument 'smoothing'"):
        SpeedEstimate(4, smoothing=0.0)


def test_a_switch_is_made_only_when_it_pays_for_itself():
    slow, fast = np.array([1.0, 1.0, 1.0, 0.1, 0.1]), np.ones(5)
    # MDS(5, 4) waits for a 10x slow worker: T(4) = (1/4)·10; k′ = round(4·3/5) = 2: T = 1/2
    costly = Recoding(Adapt(rounds=1, horizon=1), n=5, k=4, cost=2.5)
    costly.observe(slow)
    assert costly.choose(slow, work=1.0) is None  # saves 2.0 a round, costs 2.5
    assert costly.choose(slow, work=2.0) == 2  # twice the work: saves 4.0
    assert predicted_round(slow, 2.0, 4) == pytest.approx(5.0)
    costly.switched(2, cost=100.0)
    costly.observe(fast)
    assert costly.choose(fast, work=2.0) == 4  # back to a kept placement: free
    assert costly.switched(4) == [] and costly.cost == 100.0 and list(costly.kept) == [2, 4]
