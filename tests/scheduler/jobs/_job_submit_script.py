"""Run by test_job_submit.py in a fresh process: a YAML job submitted as a Ray job.

It starts a Ray head with its dashboard (the job server) on free ports, submits
``python -m coded.scheduler.cli run JOB`` with this checkout as the job's ``working_dir``, as
``ray job submit --working-dir . -- coded run JOB`` does, waits for the job and prints one
JSON line: its status, its logs' tail, and whether the driver joined the head's cluster.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

from ray.cluster_utils import Cluster
from ray.job_submission import JobStatus, JobSubmissionClient

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _submit(client: JobSubmissionClient, job: str, end: float) -> str:
    """Submit the job, retrying while the head's job agent is still starting (HTTP 500)."""
    while True:
        try:
            return client.submit_job(
                entrypoint=f"{sys.executable} -m coded.scheduler.cli run {job}",
                runtime_env={"working_dir": str(ROOT), "excludes": [".git", ".venv", "results"]},
            )
        except RuntimeError as exc:
            if "No available agent" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.5)


def main(job: str, timeout: float = 150.0) -> dict:
    dashboard_port, agent_port = _free_port(), _free_port()
    cluster = Cluster(  # its own ports: another local Ray (the test session's) holds the defaults
        initialize_head=True,
        head_node_args={
            "num_cpus": 4,
            "object_store_memory": 100 * 1024**2,
            "include_dashboard": True,
            "dashboard_host": "127.0.0.1",
            "dashboard_port": dashboard_port,
            "dashboard_agent_listen_port": agent_port,
        },
    )
    try:
        end = time.monotonic() + timeout
        client = JobSubmissionClient(f"http://127.0.0.1:{dashboard_port}")
        submission = _submit(client, job, end)
        status = client.get_job_status(submission)
        while not status.is_terminal() and time.monotonic() < end:
            time.sleep(0.5)
            status = client.get_job_status(submission)
        logs = client.get_job_logs(submission)
        return {
            "status": str(status),
            "succeeded": status == JobStatus.SUCCEEDED,
            "joined_cluster": f'"address": "{cluster.address}"' in logs
            and '"started_here": false' in logs,
            "logs": logs[-4000:],
        }
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
