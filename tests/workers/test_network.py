"""The network model: analytic transfer times, the master-link FIFO queue, heterogeneous
links, injected transfer delays (declared and measured sizes), bad inputs, config."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import yaml

from coded.workers.delays import (
    Compose,
    FixedDelay,
    Network,
    NetworkDelay,
    WorkerDelays,
    delay_from_config,
    transfers,
)
from coded.workers.kernels import Product
from coded.workers.worker import Tag, Worker

GBIT = 1e9


# -- transfer times -----------------------------------------------------------------------------


def test_one_message_costs_latency_plus_bytes_over_the_slower_link():
    net = Network(latency=0.002, bandwidth=10 * GBIT, master_bandwidth=GBIT)
    assert net.upload_times(1, 1e6) == pytest.approx([0.002 + 8e6 / GBIT])
    assert net.arrivals([3.0], 1e6) == pytest.approx([3.0 + 0.002 + 8e6 / GBIT])
    assert net.download_times(1, 1e6) == pytest.approx([0.002 + 8e6 / GBIT])
    free = Network(latency=0.002, bandwidth=GBIT)  # no master bottleneck
    assert free.upload_times(3, 1e6) == pytest.approx([0.010] * 3)


@pytest.mark.parametrize("n", [1, 4, 16])
def test_simultaneous_uploads_arrive_one_service_time_apart_fifo(n):
    b, B, latency = 1e6, GBIT, 0.001
    net = Network(latency=latency, bandwidth=10 * GBIT, master_bandwidth=B)
    arrivals = net.arrivals(np.zeros(n), b)
    k = np.arange(1, n + 1)
    assert np.sort(arrivals) == pytest.approx(latency + k * 8 * b / B)
    assert arrivals.max() - latency >= n * 8 * b / B * (1 - 1e-12)  # the link's capacity


def test_the_queue_serves_in_order_of_readiness_and_idles_between():
    net = Network(latency=1.0, bandwidth=8.0, master_bandwidth=8.0)  # 1 byte/s: 1 s per byte
    # ready at 5, 0, 0.5, 10: served 0→1, 0.5→(1..2), 5→6, 10→11; + 1 s latency
    assert net.arrivals([5.0, 0.0, 0.5, 10.0], 1).tolist() == [7.0, 2.0, 3.0, 12.0]
    rounds = net.arrivals([[5.0, 0.0, 0.5, 10.0], [0.0, 0.0, 0.0, np.inf]], 1)
    assert rounds.tolist() == [[7.0, 2.0, 3.0, 12.0], [2.0, 3.0, 4.0, np.inf]]


def test_slow_worker_links_under_a_fast_master_link_arrive_together():
    net = Network(latency=0.0, bandwidth=GBIT, master_bandwidth=10 * GBIT)
    arrivals = net.arrivals(np.zeros(10), 1e6)
    assert arrivals == pytest.approx(np.full(10, 8e6 / GBIT))  # a fair share's answer


def test_a_broadcast_is_n_copies_sharing_the_master_link_fairly():
    net = Network(latency=0.5, bandwidth=16.0, master_bandwidth=8.0)
    assert net.download_times(4, 1).tolist() == [4.5] * 4  # 4 copies at 2 bits/s each
    assert Network(latency=0.5, bandwidth=16.0).download_times(4, 1).tolist() == [1.0] * 4
    # capped links keep their rate; the others split what is left: λ = (20 − 2 − 4) / 2
    uneven = Network(latency=0.0, bandwidth=[2.0, 4.0, 100.0, 100.0], master_bandwidth=20.0)
    assert uneven.download_times(4, 1).tolist() == [4.0, 2.0, 8 / 7, 8 / 7]
    fast = Network(latency=0.0, bandwidth=[2.0, 4.0], master_bandwidth=20.0)  # no bottleneck
    assert fast.download_times(2, 1).tolist() == [4.0, 2.0]


# -- heterogeneous links ------------------------------------------------------------------------


def test_heterogeneous_links_are_seeded_lognormal_and_independent_of_n():
    net = Network(bandwidth=GBIT, heterogeneity=0.5, seed=3)
    links = net.bandwidths(200)
    assert np.array_equal(links, Network(bandwidth=GBIT, heterogeneity=0.5, seed=3).bandwidths(200))
    assert np.array_equal(links[:5], net.bandwidths(5))
    assert not np.array_equal(
        links, Network(bandwidth=GBIT, heterogeneity=0.5, seed=4).bandwidths(200)
    )
    logs = np.log(links / GBIT)
    assert abs(logs.mean()) < 4 * 0.5 / np.sqrt(200)
    assert 0.35 < logs.std() < 0.65
    times = net.upload_times(200, 1e6)
    assert times == pytest.approx(8e6 / links)  # each worker on its own link


def test_explicit_per_worker_links():
    net = Network(latency=0.0, bandwidth=[8.0, 16.0, 4.0])
    assert net.upload_times(3, 2).tolist() == [2.0, 1.0, 4.0]
    # the slow worker 2 finishes computing first, but its 4 s link keeps it last
    assert net.arrivals([0.0, 1.0, 0.0], 2).tolist() == [2.0, 2.0, 4.0]


# -- injected delays ---------------------------------------------------------------------------


def test_declared_sizes_give_the_models_times_as_extra_every_round():
    net = Network(latency=0.001, bandwidth=GBIT, master_bandwidth=4 * GBIT, heterogeneity=0.3)
    model = NetworkDelay(net, bytes_up=1e6, bytes_down=5e5)
    for w in range(6):
        stream = WorkerDelays(model, worker=w, n=6, seed=9)
        expected = net.download_times(6, 5e5)[w] + net.upload_times(6, 1e6)[w]
        assert stream.at(0) == pytest.approx((1.0, expected))
        assert stream.at(700) == stream.at(0)
    assert transfers(model) == ()  # nothing measured


def test_a_worker_adds_the_transfer_of_its_measured_answer():
    net = Network(latency=0.01, bandwidth=8e6)  # 1 MB/s
    model = Compose(FixedDelay(0.02), NetworkDelay(net, bytes_down=0))
    assert transfers(model) == (model.models[1],)
    worker = Worker(1, n=2, delays=model)
    worker.load(job=0, operands=(np.ones((5000, 2)),), kernel=Product())
    outcome, value = worker.compute(Tag(0, 0, 1), args=(np.ones(2),))
    assert value.nbytes == 40_000
    modelled = 0.02 + net.upload_times(2, value.nbytes)[1]  # 0.07 s
    assert modelled == pytest.approx(0.07)
    assert modelled <= outcome.injected_s < modelled + 0.5


def test_measured_download_counts_the_rounds_arguments():
    model = NetworkDelay(Network(latency=0.0, bandwidth=8.0, master_bandwidth=8.0), bytes_up=0)
    # worker 1 of 2 waits for two 16-byte copies: 32 s at 1 byte/s
    assert model.measured(1, 2, (np.ones(2), 3), np.ones(100)) == 32.0
    assert model.sample(1, 2, 1, np.random.default_rng(0)).extra.tolist() == [0.0]


# -- errors and config --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"bandwidth": 0}, ValueError, "Argument 'bandwidth' must be greater than 0, not 0."),
        ({"bandwidth": -1e9}, ValueError, "Argument 'bandwidth' must be greater than 0"),
        ({"bandwidth": [1e9, 0]}, ValueError, "Argument 'bandwidth[1]' must be greater than 0"),
        ({"bandwidth": []}, ValueError, "Argument 'bandwidth' must list at least one link"),
        ({"bandwidth": "fast"}, TypeError, "Argument 'bandwidth' must be a finite number"),
        ({"latency": -0.1}, ValueError, "Argument 'latency' must be at least 0, not -0.1."),
        ({"master_bandwidth": 0}, ValueError, "Argument 'master_bandwidth' must be greater"),
        ({"heterogeneity": -1}, ValueError, "Argument 'heterogeneity' must be at least 0"),
        ({"bandwidth": [1.0], "heterogeneity": 1}, ValueError, "must be 0 with a per-worker"),
        ({"seed": -1}, ValueError, "Argument 'seed' must be at least 0"),
    ],
)
def test_bad_network_arguments(kwargs, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        Network(**kwargs)


def test_bad_sizes_and_shapes():
    net = Network(bandwidth=[1.0, 2.0])
    with pytest.raises(ValueError, match="must list n=3 links, not 2"):
        net.upload_times(3, 1)
    with pytest.raises(ValueError, match="Argument 'nbytes' must be at least 0"):
        net.upload_times(2, -1)
    with pytest.raises(ValueError, match="Argument 'ready' must have shape"):
        net.arrivals(np.zeros((1, 1, 2)), 1)
    with pytest.raises(ValueError, match="not NaN"):
        net.arrivals([0.0, np.nan], 1)
    with pytest.raises(ValueError, match="Argument 'bytes_up' must be at least 0"):
        NetworkDelay(net, bytes_up=-5)
    with pytest.raises(TypeError, match="Argument 'network' must be a Network"):
        NetworkDelay(1e9)
    with pytest.raises(ValueError, match="must fit|must list n=3"):
        WorkerDelays(NetworkDelay(net), worker=0, n=3, seed=0)


def test_config_round_trip_through_yaml_and_pickle():
    model = NetworkDelay(
        Network(latency=1e-4, bandwidth=[1e9, 2e9], master_bandwidth=1e10), bytes_up=1e6
    )
    config = yaml.safe_load(yaml.safe_dump(model.get_config()))
    assert config["network"]["bandwidth"] == [1e9, 2e9]
    assert delay_from_config(config) == model
    assert pickle.loads(pickle.dumps(model)) == model
    net = Network(heterogeneity=0.2, seed=5)
    assert Network.from_config(net.get_config()) == net
    assert "heterogeneity=0.2" in repr(net)
