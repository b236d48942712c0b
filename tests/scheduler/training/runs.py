"""Training runs for the tests: on the in-process pool, with every iterate kept; and a
Ray worker killed and restarted mid-run."""

from __future__ import annotations

import time

import numpy as np

import coded
from coded.scheduler.pool import InProcessPool


def train_local(X, y, n=6, delays=None, **kwargs):
    """``coded.train`` on n in-process workers: ``(result, iterates)``, the iterates stacked
    in one array (one row per iteration)."""
    iterates = []
    with coded.Runtime(n, pool=InProcessPool(n, delays=delays)) as rt:
        result = coded.train(
            X,
            y,
            runtime=rt,
            progress=False,
            callback=lambda t, w, record: iterates.append(w),
            **kwargs,
        )
    return result, np.array(iterates)


def kill_and_wait_for_restart(ray, actor, timeout=60.0):
    """Kill ``actor`` and return once Ray has restarted it in a new process (shards lost)."""
    pid = ray.get(actor.health.remote(), timeout=timeout)["pid"]
    ray.kill(actor, no_restart=False)
    end = time.monotonic() + timeout
    while True:
        try:
            if ray.get(actor.health.remote(), timeout=timeout)["pid"] != pid:
                return
        except ray.exceptions.RayError:
            pass
        assert time.monotonic() < end, "the killed worker did not restart"
        time.sleep(0.1)
