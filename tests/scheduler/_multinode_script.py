"""Run by test_multinode.py in a fresh process: a two-node Ray cluster loses a node mid-job.

It prints one JSON line of observations. It runs in its own process so that the test
session's local Ray (the ``ray_cluster`` fixture) is neither shut down nor disturbed.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import ray
from ray.cluster_utils import Cluster

from coded import MDSCode
from coded.scheduler.runtime import Runtime
from coded.workers.delays import FixedDelay

MB = 1024**2


def main() -> dict:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 4,
            "object_store_memory": 80 * MB,
            "include_dashboard": False,
            # notice the lost node within ~1.5 s instead of Ray's default ~30 s
            "_system_config": {
                "health_check_period_ms": 500,
                "health_check_failure_threshold": 3,
                "health_check_initial_delay_ms": 0,
            },
        },
    )
    node = cluster.add_node(num_cpus=2, object_store_memory=80 * MB)
    ray.init(address=cluster.address, log_to_driver=False)
    out = {}
    A, x = np.random.default_rng(0).standard_normal((64, 16)), np.ones(16)
    try:
        with Runtime(4, num_cpus_per_worker=1, delays=FixedDelay(3.0), deadline=60) as rt:
            nodes = ray.get(
                [
                    a.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id())
                    for a in rt.pool.actors
                ]
            )
            out["on_lost_node"] = [i for i, node_id in enumerate(nodes) if node_id == node.node_id]
            op, op_all = rt.place(A, code=MDSCode(4, 2)), rt.place(A, code=MDSCode(4, 4))
            threading.Timer(0.3, cluster.remove_node, args=(node,)).start()
            start = time.perf_counter()
            y = op @ x
            out["round_s"] = time.perf_counter() - start
            out["error"] = float(np.abs(y - A @ x).max())
            out["failures"] = sorted(op.metrics.failures)
            out["used"] = list(op.metrics.used)
            start = time.perf_counter()
            try:  # needs all four workers: the lost ones were restarted on the head
                y = op_all @ x
                out["next_error"] = float(np.abs(y - A @ x).max())
            except Exception as exc:  # noqa: BLE001 - reported to the test
                out["next_failure"] = f"{type(exc).__name__}: {exc}"
            out["next_round_s"] = time.perf_counter() - start
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
