"""Adaptive operators: under persistent stragglers k is re-chosen, rounds speed up, results
stay exact, the decision is logged; recovered workers are taken back."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import coded
from coded import MDSCode
from coded.replication import Replication
from coded.scheduler.adapt import AdaptiveOperator
from coded.scheduler.pool import InProcessPool
from coded.scheduler.recoding import Adapt
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Compose, Slowdown, TraceReplay
from coded.workers.emulation import Emulation

P = 65537
SLOW = (0, 1, 2)  # three of eight: more than MDS(8, 6) tolerates


def _emulated(n: int, delays, share_s: float = 0.02, rows: int = 240, cols: int = 60):
    """An in-process pool whose workers sleep ``share_s`` for a share of MDS(n, 6)."""
    return InProcessPool(n, delays=delays, emulate=Emulation(share_s / (rows / 6 * cols)))


def test_rounds_speed_up_after_the_first_few_under_a_persistent_5x_straggler():
    A, x = np.ones((240, 60)), np.ones(60)
    with Runtime(8, pool=_emulated(8, Slowdown(5.0, workers=SLOW))) as rt:
        op = rt.place(A, code=MDSCode(8, 6), adapt=Adapt())
        for _ in range(12):
            op @ x
        times = np.array([m.total_s for m in rt.history])
    # static: the 6th answer is a slow one, 5 x 20 ms; after the decision (3 rounds),
    # MDS(8, 4): shares of 30 ms from the fast workers
    assert np.median(times[5:]) <= 0.6 * np.median(times[:3])
    assert rt.decisions[0].round >= 2 and op.code.k == 4 and op.slow == SLOW


@pytest.mark.parametrize("field", ["real", P], ids=["real", f"GF({P})"])
def test_results_stay_exact_and_the_decision_is_logged(field, caplog):
    rng = np.random.default_rng(0)
    if field == P:
        A, X = rng.integers(0, P, (240, 40)), rng.integers(0, P, (40, 4))
        expected = coded.gf_matmul(A, X, P)
    else:
        A, X = rng.standard_normal((240, 40)), rng.standard_normal((40, 4))
        expected = A @ X
    delays = Compose(Slowdown(10.0), Slowdown(5.0, workers=SLOW))  # a cluster 10x this machine
    caplog.set_level(logging.INFO, logger="coded.scheduler")
    with Runtime(8, pool=InProcessPool(8, delays=delays)) as rt:
        op = rt.place(A, code=MDSCode(8, 6, field=field), adapt=Adapt())
        results = [op @ X for _ in range(4)] + op.map([X] * 6, window=2)
        assert isinstance(op, AdaptiveOperator) and op.code.k < 6
    assert all(np.allclose(y, expected, rtol=1e-9, atol=1e-9) for y in results)
    # real compute on a shared machine is noisy: the slow workers may be found rounds apart
    first, last = rt.decisions[0], rt.decisions[-1]
    assert first.old.startswith("MDSCode(n=8, k=6") and first.round >= 2
    assert set(last.slow) <= set(SLOW) and all(ratio >= 2.0 for ratio in last.ratios)
    assert "persistently slow [" in first.reason and first.seconds > 0
    assert f"re-placed {first.old} as {first.new}" in caplog.text


def test_recovered_workers_are_taken_back():
    times = np.ones((40, 8))
    times[:6, list(SLOW)] = 5.0  # slow for six rounds, then as fast as the rest
    with Runtime(8, pool=_emulated(8, TraceReplay(times))) as rt:
        op = rt.place(np.ones((240, 60)), code=MDSCode(8, 6), adapt=Adapt())
        for _ in range(36):
            op @ np.ones(60)
            if op.code.k == 6 and rt.decisions:
                break
    # the slow workers may be found a round apart (ties at their finish), and a recovered
    # worker is seen at its speed when it answers among the first: one by one
    ks = [int(d.new.split(", ")[1].removeprefix("k=")) for d in rt.decisions]
    lowest = ks.index(4)
    assert ks[: lowest + 1] == sorted(ks[: lowest + 1], reverse=True)
    back = rt.decisions[lowest + 1 :]
    assert back and all("recovered [" in d.reason for d in back)
    assert back[0].round >= 6 + Adapt().rounds - 1  # fast from round 6, for 3 rounds at least
    assert op.code.k == 6 and op.slow == () and back[-1].kept  # k = 6 was kept placed
    assert not rt.decisions[0].kept and rt.decisions[0].seconds > 0


class _PlacingPool(InProcessPool):
    """An emulated in-process pool that tells which jobs it holds."""

    def __init__(self, n, delays):
        super().__init__(n, delays=delays, emulate=Emulation(0.01 / (40 * 60)))
        self.held: set[int] = set()

    def place(self, job, shards, kernel):
        super().place(job, shards, kernel)
        self.held.add(job)

    def drop(self, job):
        super().drop(job)
        self.held.discard(job)


@pytest.mark.parametrize("keep", [1, 2])
def test_only_the_last_placements_stay_resident(keep):
    times = np.ones((40, 8))
    times[:6, list(SLOW)] = 5.0
    pool = _PlacingPool(8, TraceReplay(times))
    with Runtime(8, pool=pool) as rt:
        op = rt.place(np.ones((240, 60)), code=MDSCode(8, 6), adapt=Adapt(keep=keep))
        for _ in range(30):
            op @ np.ones(60)
            assert op.id in pool.held and len(pool.held) <= keep
        assert len(rt.decisions) >= 2 and not rt.decisions[0].kept
        assert keep > 1 or not any(d.kept for d in rt.decisions)  # one kept: always re-placed
        op.close()
        assert pool.held == set()


def test_an_operator_without_slow_workers_never_moves():
    with Runtime(4, pool=InProcessPool(4)) as rt:
        op = rt.place(np.eye(4), code=MDSCode(4, 2), adapt=Adapt(rounds=1))
        for _ in range(3):
            assert np.allclose(op @ np.ones(4), np.ones(4))
        assert op.decisions == [] and op.code.k == 2 and len(op.history) == 3


@pytest.mark.parametrize(
    ("code", "adapt", "error", "message"),
    [
        (Replication(4, 2), Adapt(), ValueError, "re-chooses the k of an MDSCode, not of Repl"),
        (MDSCode(4, 2), "yes", TypeError, "Argument 'adapt' must be a coded.scheduler.recoding"),
    ],
)
def test_bad_adapt_arguments_are_refused_before_placing(code, adapt, error, message):
    with Runtime(4, pool=InProcessPool(4)) as rt:
        with pytest.raises(error, match=message):
            rt.place(np.eye(4), code=code, adapt=adapt)
        assert rt.rounds_run == 0


@pytest.mark.ray
def test_adaptive_operator_on_ray(ray_cluster):
    rng = np.random.default_rng(1)
    A, X = rng.standard_normal((300, 200)), rng.standard_normal((200, 4))
    delays = Compose(Slowdown(10.0), Slowdown(5.0, workers=(0, 1, 2)))
    with Runtime(6, delays=delays, num_cpus_per_worker=0.5) as rt:
        # rounds of a few ms against a first placement on fresh actors: switch even so
        op = rt.place(A, code=MDSCode(6, 4), adapt=Adapt(horizon=10_000))
        results = [op @ X for _ in range(8)]
        speeds = rt.speeds
    assert all(np.allclose(y, A @ X) for y in results)
    # real compute on a loaded machine: the slow workers may be found rounds apart, and a
    # further switch made only when it pays (k = round(4·3/6) = 2 once all three are found)
    assert rt.decisions and op.code.k < 4 and set(rt.decisions[-1].slow) <= {0, 1, 2}
    assert (speeds[:3] < 0.5 * np.median(speeds)).sum() >= 2
