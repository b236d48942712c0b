"""The ``coded`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

coded run job.yaml        run a job (matmul or training) locally or on a Ray cluster
coded validate job.yaml   check a job file without running it
coded simulate cfg.yaml   straggler simulator scenarios (virtual time)
coded bench cfg.yaml      the same scenarios on real Ray workers
coded recommend ...       pick the code and k that minimise expected latency
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..jobs.schema import ConfigError

__all__ = ["main", "SUBCOMMANDS"]

SUBCOMMANDS = ("run", "validate", "simulate", "bench", "recommend")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coded", description="Coded distributed computing on Ray."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coded`` script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"coded {args.command}: invalid job: {exc}", file=sys.stderr)
        return 2
