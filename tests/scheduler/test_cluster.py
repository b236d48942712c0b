"""Connecting to Ray fails fast: an address nobody answers, workers the cluster cannot hold."""

from __future__ import annotations

import socket
import time

import pytest

from coded.scheduler.cluster import check_reachable
from coded.scheduler.runtime import Runtime


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_an_address_nobody_answers_fails_at_once(address):
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"could not reach a Ray cluster at '{address}'"):
        check_reachable(address, timeout=5)
    assert time.perf_counter() - start < 5


def test_an_address_that_does_not_answer_fails_within_the_timeout():
    with socket.socket() as server:  # a full backlog: the next handshake gets no answer
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        host, port = server.getsockname()
        with socket.create_connection((host, port), timeout=5):
            start = time.perf_counter()
            with pytest.raises(ConnectionError, match=f"{host}:{port}' within 2 s: timed out"):
                check_reachable(f"{host}:{port}", timeout=2)
    assert 2 <= time.perf_counter() - start < 2 + 3


@pytest.mark.parametrize("address", ["auto", "localhost"])
def test_addresses_without_a_port_are_left_to_ray(address):
    assert check_reachable(address, timeout=1) is None


@pytest.mark.parametrize(
    "address, timeout, error, message",
    [
        ("127.0.0.1:1", 0, ValueError, "Argument 'timeout' must be a positive number"),
        ("127.0.0.1:1", "30", ValueError, "Argument 'timeout'"),
        (6379, 30, TypeError, "Argument 'address' must be a string"),
    ],
)
def test_bad_arguments(address, timeout, error, message):
    with pytest.raises(error, match=message):
        check_reachable(address, timeout=timeout)


@pytest.mark.ray
@pytest.mark.parametrize(
    "n, options, figures",
    [
        (1, {"num_cpus_per_worker": 9}, "1 workers × 9 CPUs = 9 CPUs asked"),
        (5, {"num_cpus_per_worker": 2}, "5 workers × 2 CPUs = 10 CPUs asked"),
        (2, {"num_gpus_per_worker": 0.5}, "2 workers × 0.5 GPUs = 1 GPUs asked"),
    ],
    ids=["one-worker-beyond-any-node", "all-workers-beyond-the-cluster", "no-gpu"],
)
def test_workers_the_cluster_cannot_hold_fail_in_seconds(ray_cluster, n, options, figures):
    start = time.perf_counter()
    with pytest.raises(ValueError) as caught:
        Runtime(n, **options)
    assert time.perf_counter() - start < 5  # not the 120 s start timeout
    message = str(caught.value)
    assert figures in message and "the largest node has" in message
    if "num_cpus_per_worker" in options:
        assert "the largest node has 8 CPUs, the cluster 8" in message
    assert f"not n={n}" in message and "lower 'num_" in message
