"""Job files for the CLI tests: a job written as YAML, and a job with some keys changed."""

from __future__ import annotations

import json

import yaml


def write_job(tmp_path, job) -> str:
    """``job`` as ``tmp_path/job.yaml``; its path."""
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return str(path)


def changed(base: dict, **change) -> dict:
    """A copy of ``base`` with keys replaced; ``section__key`` reaches into a section."""
    job = json.loads(json.dumps(base))
    for key, value in change.items():
        section, _, name = key.rpartition("__")
        (job[section] if section else job)[name] = value
    return job
