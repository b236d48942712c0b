"""``coded run job.yaml``: run a job file (its ``job:`` key picks the type) and print a summary.

A job type is a module with ``validate_<type>_job(data) -> config`` and
``run_<type>_job(config) -> summary``; :data:`JOB_TYPES` names them. The run starts only
after the whole job has passed ``coded validate``'s checks (its data read and checked, its
output paths writable), so a bad job is refused before Ray starts.
"""

from __future__ import annotations

import importlib
import json
from types import ModuleType

from ..jobs.schema import ConfigError, load_yaml

__all__ = ["JOB_TYPES", "add_parser", "load_job", "run"]

JOB_TYPES = {
    "matmul": "coded.scheduler.jobs.matmul",
    "train": "coded.scheduler.jobs.train",
    "map": "coded.scheduler.jobs.map",
    "power": "coded.scheduler.jobs.power",
    "saddle": "coded.scheduler.jobs.saddle",
}


def load_job(path) -> tuple[str, ModuleType, dict]:
    """Read and validate a job file and its data: ``(type, its module, validated config)``."""
    data = load_yaml(path)
    kind = data.get("job")
    if kind not in JOB_TYPES:
        raise ConfigError("job", f"must be one of {sorted(JOB_TYPES)}, got {kind!r}")
    module = importlib.import_module(JOB_TYPES[kind])
    return kind, module, getattr(module, f"validate_{kind}_job")(data)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="run a job file (matmul, train, map, power or saddle)"
    )
    parser.add_argument("job", help="the job's YAML file")
    parser.set_defaults(handler=run)


def run(args) -> int:
    kind, module, config = load_job(args.job)
    summary = getattr(module, f"run_{kind}_job")(config)
    print(json.dumps(summary, indent=1, default=str))
    return 0
