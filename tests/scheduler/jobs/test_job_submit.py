"""A YAML job submitted to a Ray cluster as a Ray job (``ray job submit ... -- coded run``).

The head (a local Ray with its dashboard, which serves job submissions) runs in a
subprocess (``_job_submit_script.py``), leaving the session's ``ray_cluster`` alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytestmark = [pytest.mark.ray, pytest.mark.slow]

JOB = {
    "job": "matmul",
    "n": 4,
    "code": {"type": "PolynomialCode", "n": 4, "a_blocks": 1, "b_blocks": 3},
    "workers": {"num_cpus": 0.25},
    "delays": {"type": "FixedDelay", "seconds": 5.0, "workers": [1]},
    "data": {"A": {"shape": [30, 8], "seed": 0}, "B": {"shape": [8, 6], "seed": 1}},
    "rounds": 3,
}


def test_a_yaml_job_runs_as_a_ray_job_on_the_cluster(tmp_path):
    pytest.importorskip("ray.job_submission")
    result, metrics = tmp_path / "C.npy", tmp_path / "metrics.json"  # same machine as the head
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump({**JOB, "output": {"result": str(result), "metrics": str(metrics)}})
    )
    script = Path(__file__).with_name("_job_submit_script.py")
    done = subprocess.run(
        [sys.executable, str(script), str(job)], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["succeeded"], out["logs"]
    assert out["joined_cluster"], out["logs"]  # the job's driver used the head, no new Ray
    A = np.random.default_rng(0).standard_normal((30, 8))
    B = np.random.default_rng(1).standard_normal((8, 6))
    np.testing.assert_allclose(np.load(result), A @ B, rtol=1e-10, atol=1e-12)
    latency = json.loads(metrics.read_text())["summary"]["latency"]
    assert latency["rounds"] == 3 and latency["cancelled"] == 3, latency
    assert latency["total_s"]["p90"] < 2.5, latency  # never waited for the 5 s straggler
