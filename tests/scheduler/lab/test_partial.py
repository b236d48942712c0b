"""Partial work and adaptation in the simulator: closed forms (two speeds, water-filling),
the order ideal ≤ chunked ≤ rotated ≤ MDS round by round, speculation, and rebalancing that
converges to loads in proportion to the speeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coded import MDSCode
from coded.scheduler.lab import (
    Rebalance,
    Strategy,
    chunked_mds,
    load_balanced,
    rotated_mds,
    sample_delays,
    simulate,
    simulate_adaptive,
)
from coded.workers.delays import (
    Bimodal,
    Compose,
    Delays,
    Exponential,
    FailStop,
    MarkovStragglers,
    Network,
    PersistentSlow,
    ShiftedExponential,
    Slowdown,
)

# -- closed forms --------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k, c", [(4, 2, 3), (8, 4, 8), (10, 6, 5), (32, 16, 16)])
def test_chunked_latency_matches_two_speeds_in_closed_form(n, k, c):
    """Half the workers at speed 1, half at 1/2: by t chunk-times (1/(kc) each) the fast did
    t chunks and the slow ⌊t/2⌋, so n/2·⌊3t/2⌋ ≥ K = kc first at t = ⌈2·⌈2K/n⌉/3⌉ (≤ c)."""
    K = k * c
    t = math.ceil(2 * math.ceil(2 * K / n) / 3)
    assert t <= c  # no worker runs out of chunks
    work = 3.0
    (result,) = simulate(
        [chunked_mds(n, k, c)], Slowdown(2.0, workers=range(n // 2, n)), rounds=2, work=work
    )
    assert result.latency == pytest.approx([work * t / K] * 2)


def test_two_speeds_reach_the_ideal_when_the_chunks_fall_on_it():
    """n = 4, k = 2, c = 3: chunks of 1/6; by 2/6 the fast did 2 each and the slow 1 each,
    6 = K, which is the job over the sum of speeds, 1/(1 + 1 + 1/2 + 1/2) = 1/3."""
    delays = Slowdown(2.0, workers=[2, 3])
    results = simulate(
        [chunked_mds(4, 2, 3), load_balanced(4), Strategy.coded(MDSCode(4, 2))], delays, rounds=1
    )
    assert [r.mean for r in results] == pytest.approx([1 / 3, 1 / 3, 1 / 2])
    assert results[0].wasted == pytest.approx([0.0])  # the 6 chunks done are the 6 used


def test_ideal_is_the_job_over_the_sum_of_speeds_without_extras():
    delays = sample_delays(ShiftedExponential(1.0), n=16, rounds=500, seed=3)
    (ideal,) = simulate([load_balanced(16)], delays, work=2.0)
    np.testing.assert_allclose(ideal.latency, 2.0 / (1.0 / delays.factor).sum(axis=1))
    assert ideal.wasted.max() == pytest.approx(0.0, abs=1e-12)


def test_ideal_with_extras_fills_the_workers_to_exactly_the_job():
    """Σ_w (T − e_w)_+ / (work·f_w) = 1 at the water-filling T, with crashes (rate 0)."""
    model = Compose(ShiftedExponential(1.0), Exponential(0.3), FailStop([0], round=1))
    delays = sample_delays(model, n=8, rounds=300, seed=5)
    work = 1.5
    (ideal,) = simulate([load_balanced(8)], delays, work=work)
    T = ideal.latency[:, None]
    done = np.maximum(T - delays.extra, 0.0) / (work * delays.factor)
    np.testing.assert_allclose(done.sum(axis=1), 1.0)


# -- orders between strategies on the same delays ------------------------------------------------

MODELS = {
    "shifted-exponential": ShiftedExponential(1.0),
    "bimodal": Bimodal(0.2, 5.0),
    "extras-and-crashes": Compose(
        ShiftedExponential(2.0), Exponential(0.05), FailStop([1, 2], round=3, duration=4)
    ),
    "markov": MarkovStragglers(0.05, 0.1, 5.0),
}


@pytest.mark.parametrize("model", MODELS.values(), ids=MODELS)
@pytest.mark.parametrize("n, k, c", [(12, 8, 4), (16, 8, 16), (7, 7, 3)])
def test_ideal_chunked_rotated_mds_are_ordered_round_by_round(model, n, k, c):
    delays = sample_delays(model, n, rounds=400, seed=n + c)
    ideal, chunked, rotated, mds = simulate(
        [
            load_balanced(n),
            chunked_mds(n, k, c),
            rotated_mds(n, k, c),
            Strategy.coded(MDSCode(n, k)),
        ],
        delays,
        work=2.0,
    )
    tol = 1e-12
    assert np.all(ideal.latency <= chunked.latency * (1 + tol))
    assert np.all(chunked.latency <= rotated.latency * (1 + tol))
    assert np.all(rotated.latency <= mds.latency * (1 + tol))
    for result in (ideal, chunked, rotated):
        assert np.all(result.wasted <= result.busy * (1 + tol))


def test_one_chunk_is_the_mds_code_and_overhead_waits_for_more_chunks():
    delays = sample_delays(ShiftedExponential(1.0), n=10, rounds=300, seed=1)
    mds, one, rotated_one, lt = simulate(
        [
            Strategy.coded(MDSCode(10, 6)),
            chunked_mds(10, 6, 1),
            rotated_mds(10, 6, 1),
            chunked_mds(10, 6, 1, epsilon=0.2),  # ⌈6·1.2⌉ = 8 answers
        ],
        delays,
    )
    np.testing.assert_allclose(one.latency, mds.latency)
    np.testing.assert_allclose(rotated_one.latency, mds.latency)
    np.testing.assert_allclose(lt.latency, np.sort(delays.factor / 6, axis=1)[:, 7])


def test_speculation_copies_a_late_block_to_its_done_neighbour():
    times = np.array([[1.0, 1.0, 1.0, 5.0], [1.0, 1.0, 1.0, 1.5], [4.0, 1.0, 1.0, 1.0]])
    latency, _ = Strategy.speculation(4).finish(times)
    # block 3: copy on worker 2 at 1 + 1; block 3 done at 1.5 first; block 0's backup is
    # worker 3 (done at 1): 1 + 1
    assert latency.tolist() == [2.0, 1.5, 2.0]
    delays = sample_delays(Bimodal(0.2, 5.0), n=16, rounds=500, seed=2)
    speculation, uncoded = simulate([Strategy.speculation(16), Strategy.uncoded(16)], delays)
    assert np.all(speculation.latency <= uncoded.latency) and speculation.mean < uncoded.mean


# -- adaptation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, first",
    [
        (Rebalance(1.0, tolerance=0.01), 5 / 8),  # equal loads wait for a slow worker
        (Rebalance(2.0, smoothing=1.0, tolerance=0.01, chunks=16), 1 / 6.4),  # chunks: ideal
    ],
    ids=["uncoded", "chunked-rho2"],
)
def test_adaptive_loads_converge_to_the_speeds_under_persistent_slowness(policy, first):
    n, model = 8, PersistentSlow([1, 6], factor=5.0)
    result = simulate_adaptive(policy, model, n, rounds=40)
    speed = np.where(np.isin(np.arange(n), [1, 6]), 1 / 5, 1.0)
    np.testing.assert_allclose(result.loads[-1], policy.redundancy * speed / speed.sum(), rtol=0.02)
    np.testing.assert_allclose(result.speeds[-1], speed, rtol=0.02)
    ideal = 1 / speed.sum()  # 1/6.4: the rounds end there once the loads follow the speeds
    assert result.latency[0] == pytest.approx(first)
    assert result.latency[20:] == pytest.approx([ideal] * 20, rel=0.02)
    first_decision = result.decisions[0]
    assert first_decision["round"] == 1 and first_decision["old"] == [policy.redundancy / n] * n
    assert sum(first_decision["new"]) == pytest.approx(policy.redundancy)


def test_a_policy_that_never_rebalances_is_the_static_code():
    delays = sample_delays(Compose(ShiftedExponential(1.0), Exponential(0.1)), 12, 200, seed=4)
    mds, chunked = simulate([Strategy.coded(MDSCode(12, 8)), chunked_mds(12, 8, 4)], delays)
    for chunks, static in ((1, mds), (4, chunked)):
        policy = Rebalance(12 / 8, tolerance=1e9, chunks=chunks)
        result = simulate_adaptive(policy, delays, 12)
        assert result.decisions == []
        np.testing.assert_allclose(result.latency, static.latency)


def test_adaptive_sees_only_what_the_master_sees():
    """Whole answers with redundancy: a straggler cancelled when the fast ones are done
    looks as fast as they do (the bound it gives is their speed), so it is never learnt;
    its reported chunks reveal it."""
    model = PersistentSlow([0], factor=5.0)
    whole = simulate_adaptive(Rebalance(2.0), model, 4, rounds=10)
    chunks = simulate_adaptive(Rebalance(2.0, chunks=8), model, 4, rounds=10)
    assert whole.speeds[-1].tolist() == [1.0] * 4 and whole.decisions == []
    assert chunks.speeds[-1, 0] == pytest.approx(0.2, rel=0.01)


def test_a_crashed_worker_loses_its_load_only_from_rounds_that_end():
    crash = FailStop([0, 1], round=2, duration=None)
    stuck = simulate_adaptive(Rebalance(1.0, smoothing=1.0), crash, 4, rounds=8)
    assert np.isinf(stuck.latency[2:]).all() and stuck.decisions == []  # no answer, no bound
    coded = simulate_adaptive(Rebalance(2.0, smoothing=1.0, chunks=4), crash, 4, rounds=8)
    assert np.isfinite(coded.latency).all()
    assert coded.loads[-1, :2].max() < 0.01 * coded.loads[0, 0]  # bounds shrink it each round


# -- errors --------------------------------------------------------------------------------------


def test_bad_arguments_are_refused_with_their_names():
    with pytest.raises(ValueError, match="Argument 'k' must be at most n=4, not 5"):
        chunked_mds(4, 5, 2)
    with pytest.raises(ValueError, match="Argument 'epsilon' must leave at most n·c=8"):
        chunked_mds(4, 3, 2, epsilon=0.5)
    with pytest.raises(ValueError, match="Argument 'chunks' must be"):
        rotated_mds(4, 2, 0)
    with pytest.raises(ValueError, match="Argument 'network' must be None"):
        simulate([chunked_mds(4, 2, 2)], Bimodal(0.1, 2.0), rounds=2, network=Network())
    with pytest.raises(ValueError, match="Argument 'start' must have the shape"):
        chunked_mds(4, 2, 2).finish(np.ones((2, 4)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="Argument 'redundancy' must be at least 1"):
        Rebalance(0.5)
    with pytest.raises(ValueError, match="Argument 'smoothing' must be greater than 0"):
        Rebalance(smoothing=0)
    with pytest.raises(ValueError, match="redundancy at most n=4, not 5"):
        simulate_adaptive(Rebalance(5.0), Bimodal(0.1, 2.0), 4)
    with pytest.raises(ValueError, match="Argument 'delays' must hold arrays of shape"):
        simulate_adaptive(Rebalance(), Delays(np.ones((3, 2)), np.zeros((3, 2))), 4)
    with pytest.raises(ValueError, match="Argument 'quantile' must be a number in"):
        Strategy.speculation(4, quantile=0)
