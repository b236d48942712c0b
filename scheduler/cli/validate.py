"""``coded validate job.yaml``: check a job file, and read and check the data it names, without
starting anything (exit 2 if invalid)."""

from __future__ import annotations

from .run import load_job

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a job file without running it")
    parser.add_argument("job", help="the job's YAML file")
    parser.set_defaults(handler=run)


def run(args) -> int:
    kind, _, config = load_job(args.job)
    shapes = ", ".join(f"{a.shape} {a.dtype}" for a in config["arrays"])
    print(f"{args.job}: valid {kind} job (n={config['n']}; data checked: {shapes})")
    return 0
