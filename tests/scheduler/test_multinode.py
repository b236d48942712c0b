"""A two-node Ray cluster (``ray.cluster_utils.Cluster``) loses a node in the middle of a job.

The cluster runs in a subprocess (``_multinode_script.py``): a second Ray in this process
would mean shutting down the session's ``ray_cluster`` and starting it again, which other
modules' tests would notice. The subprocess leaves the session Ray untouched.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_losing_a_node_mid_round_is_an_erasure_and_the_workers_come_back():
    pytest.importorskip("ray")
    root = Path(__file__).parents[2]  # run as a module from here: it imports this checkout
    done = subprocess.run(
        [sys.executable, "-m", "tests.scheduler._multinode_script"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    lost = out["on_lost_node"]
    assert lost, f"SPREAD placed no worker on the second node: {out}"
    assert out["error"] < 1e-9, out  # the round in flight still decoded ...
    assert set(out["failures"]) <= set(lost), out  # ... the lost workers were erasures
    assert not set(out["used"]) & set(lost), out
    assert out["round_s"] < 12, out  # the 3 s round, not the 60 s deadline
    assert out.get("next_error", 1.0) < 1e-9, out  # the next round had all n workers again
