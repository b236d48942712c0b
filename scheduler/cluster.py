"""Connecting the master to Ray: the one place that calls ``ray.init``.

* Ray already initialised (a test fixture, a ``ray job`` driver that called ``ray.init``):
  use it.
* ``address`` given, or ``RAY_ADDRESS`` set (``ray job submit`` sets it): join that cluster,
  with no resource arguments (Ray rejects them when connecting).
* Otherwise: start a private local Ray with explicit ``num_cpus``, never a bare
  ``ray.init()``, which would silently attach to whatever local cluster is running.
"""

from __future__ import annotations

import os

import ray

__all__ = ["connect", "disconnect"]


def connect(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
) -> bool:
    """Make sure Ray is initialised; return True when this call started it (then ``disconnect`` it).

    Args:
        address: a cluster address (``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``);
            defaults to ``$RAY_ADDRESS``.
        num_cpus: logical CPUs of a local Ray (default: this machine's count).
        object_store_memory: bytes of a local Ray's object store (default: Ray's).
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count() or 1,
            object_store_memory=object_store_memory,
            include_dashboard=False,
            log_to_driver=False,
        )
    return True


def disconnect(started: bool) -> None:
    """Shut Ray down if :func:`connect` started it."""
    if started and ray.is_initialized():
        ray.shutdown()
