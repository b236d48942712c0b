"""Session-wide fixtures: one small local Ray for every test that asks for it."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray started once per test session (8 logical CPUs, 256 MB object store)."""
    ray = pytest.importorskip("ray")
    from coded.scheduler.cluster import quiet_ray

    if ray.is_initialized():
        ray.shutdown()
    quiet_ray()  # as connect() does: a worker's death is one logged line, not raylet output
    ray.init(
        address="local",
        num_cpus=8,
        include_dashboard=False,
        object_store_memory=256 * 1024**2,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()
