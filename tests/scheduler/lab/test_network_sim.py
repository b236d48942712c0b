"""The simulator on a network: analytic rounds, the master-link queue, communication reported
apart, the same transfer times as injected delays, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from coded import GradientCode
from coded.scheduler.jobs.schema import ConfigError
from coded.scheduler.lab import Strategy, sample_delays, simulate
from coded.scheduler.lab.scenarios import load_scenarios, results_to_dict, run_scenarios
from coded.workers.delays import (
    Delays,
    Network,
    NetworkDelay,
    NoDelay,
    ShiftedExponential,
    WorkerDelays,
)

GBIT = 1e9


def test_one_worker_round_is_download_compute_upload():
    net = Network(latency=0.001, bandwidth=GBIT)
    (result,) = simulate(
        [Strategy.uncoded(1)],
        NoDelay(),
        rounds=3,
        work=0.5,
        network=net,
        message_bytes=1e6,
        broadcast_bytes=2e6,
    )
    transfer = (0.001 + 16e6 / GBIT) + (0.001 + 8e6 / GBIT)
    assert result.latency == pytest.approx([0.5 + transfer] * 3)
    assert result.communication == pytest.approx([transfer] * 3)
    assert result.communication_share == pytest.approx(transfer / (0.5 + transfer))


@pytest.mark.parametrize("n, k", [(4, 4), (8, 5), (16, 15), (16, 1)])
def test_the_kth_answer_through_a_fifo_master_link(n, k):
    b, B, latency = 1e6, GBIT, 0.002
    net = Network(latency=latency, bandwidth=100 * GBIT, master_bandwidth=B)
    (result,) = simulate(
        [Strategy.threshold(n, k, share=1 / k)], NoDelay(), rounds=2, network=net, message_bytes=b
    )
    communication = latency + k * (8 * b / B)  # the k-th of n answers ready at once
    assert result.latency == pytest.approx([1 / k + communication] * 2, rel=1e-3)
    assert result.communication == pytest.approx([communication] * 2, rel=1e-3)


def test_the_broadcast_then_the_answers_queue_on_the_master_link():
    n = 4  # a byte per second on the master link, twice that on the workers'
    net = Network(latency=0.0, bandwidth=16.0, master_bandwidth=8.0)
    (result,) = simulate(
        [Strategy.uncoded(n)],
        NoDelay(),
        rounds=1,
        work=n * 10.0,  # 10 s of compute each
        network=net,
        message_bytes=1,
        broadcast_bytes=1,
    )
    # everyone has the model at n s (fair share), answers at 10 + n + 1, ..., 10 + 2n
    assert result.latency.tolist() == [10.0 + 2 * n]
    assert result.communication.tolist() == [2.0 * n]


def test_an_ideal_network_changes_nothing():
    delays = ShiftedExponential(1.0)
    strategies = [Strategy.uncoded(8), Strategy.coded(GradientCode(8, 2))]
    plain = simulate(strategies, delays, rounds=2000, seed=4)
    free = simulate(strategies, delays, rounds=2000, seed=4, network=Network(bandwidth=1e30))
    for a, b in zip(plain, free, strict=True):
        assert b.latency == pytest.approx(a.latency)
        assert b.wasted == pytest.approx(a.wasted)
        assert np.allclose(b.communication, 0.0)
        assert a.communication is None and a.communication_share == 0.0
        assert "communication_share" in b.summary() and "communication_share" not in a.summary()


def test_waiting_for_fewer_answers_queues_fewer_messages():
    net = Network(latency=1e-4, bandwidth=10 * GBIT, master_bandwidth=GBIT)
    uncoded, coded = simulate(
        [Strategy.uncoded(16), Strategy.coded(GradientCode(16, 2))],
        ShiftedExponential(1.0),
        rounds=3000,
        work=0.1,
        network=net,
        message_bytes=4e6,
    )
    assert coded.communication.mean() < uncoded.communication.mean()
    assert np.all(coded.communication >= 1e-4)


@pytest.mark.parametrize("heterogeneity", [0.0, 0.7])
def test_the_same_model_as_simulated_links_and_as_injected_delays(heterogeneity):
    """Without a master bottleneck the simulator's per-worker transfer time is exactly the
    extra a real worker injects for the same network, seed and round."""
    n, rounds, up, down = 8, 500, 3e6, 1e6
    net = Network(latency=5e-4, bandwidth=GBIT, heterogeneity=heterogeneity, seed=2)
    injected = NetworkDelay(net, bytes_up=up, bytes_down=down)
    compute = sample_delays(ShiftedExponential(2.0), n, rounds, seed=6)
    streams = [WorkerDelays(injected, w, n, seed=6) for w in range(n)]
    extra = np.array([[s.at(r)[1] for s in streams] for r in range(rounds)])
    strategies = [Strategy.uncoded(n), Strategy.coded(GradientCode(n, 2))]
    as_links = simulate(
        strategies, compute, work=0.2, network=net, message_bytes=up, broadcast_bytes=down
    )
    as_delays = simulate(strategies, Delays(compute.factor, compute.extra + extra), work=0.2)
    for a, b in zip(as_links, as_delays, strict=True):
        assert a.latency == pytest.approx(b.latency)
    transfer = net.download_times(n, down) + net.upload_times(n, up)
    assert extra == pytest.approx(np.broadcast_to(transfer, (rounds, n)))


def test_bad_network_arguments_of_simulate():
    strategies = [Strategy.uncoded(3)]
    with pytest.raises(TypeError, match="Argument 'network' must be a coded.workers.delays"):
        simulate(strategies, NoDelay(), rounds=1, network=1e9)
    with pytest.raises(ValueError, match="Argument 'message_bytes' must be at least 0"):
        simulate(strategies, NoDelay(), rounds=1, network=Network(), message_bytes=-1)
    with pytest.raises(ValueError, match="must list n=3 links, not 2"):
        simulate(strategies, NoDelay(), rounds=1, network=Network(bandwidth=[1e9, 1e9]))


def test_a_scenario_with_a_network_section():
    config = {
        "rounds": 50,
        "scenarios": {
            "links": {
                "n": 4,
                "delays": {"type": "NoDelay"},
                "network": {"latency": 0.0, "bandwidth": 16.0, "master_bandwidth": 8.0},
                "message_bytes": 1,
                "broadcast_bytes": 1,
                "work": 40,
                "strategies": {"uncoded": {"type": "uncoded"}},
            }
        },
    }
    _, (scenario,) = load_scenarios(config)
    assert scenario.network == Network(bandwidth=16.0, master_bandwidth=8.0)
    (result,) = scenario.run().results
    assert result.latency.tolist() == [18.0] * 50  # as in the test above
    assert results_to_dict(run_scenarios([scenario], progress=False))  # JSON-ready
    bad = {"bandwidth": [1.0, 2.0]}
    config["scenarios"]["links"]["network"] = bad
    with pytest.raises(ConfigError, match="scenarios.links.network: .*must list n=4 links"):
        load_scenarios(config)
    config["scenarios"]["links"]["network"] = {"bandwidth": 0}
    with pytest.raises(ConfigError, match="scenarios.links.network: Argument 'bandwidth'"):
        load_scenarios(config)
