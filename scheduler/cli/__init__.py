"""The ``coded`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

coded run job.yaml        run a job (matmul or training) locally or on a Ray cluster
coded validate job.yaml   check a job file without running it
coded simulate cfg.yaml   straggler simulator scenarios (virtual time)
coded bench cfg.yaml      the same scenarios on real Ray workers
coded recommend ...       pick the code and k that minimise expected latency

Global options (before or after the subcommand): ``--debug`` shows the traceback of an
error, ``--quiet`` hides progress bars. An error prints one line,
``coded: error: <Type>: <message>``, and exits with 1 (2 for an invalid job or usage);
Ctrl-C stops the command, shuts down the Ray it started and exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from ..jobs.schema import ConfigError
from ..progress import set_quiet

__all__ = ["main", "SUBCOMMANDS"]

SUBCOMMANDS = ("run", "validate", "simulate", "bench", "recommend")
INTERRUPTED = 130  # the shell's exit status for a command ended by SIGINT
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coded", description="Coded distributed computing on Ray."
    )
    _add_global_options(parser, default=False)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    for subparser in subparsers.choices.values():  # also after the subcommand
        _add_global_options(subparser, default=argparse.SUPPRESS)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks of errors"
    )
    parser.add_argument("--quiet", action="store_true", default=default, help="no progress bars")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coded`` script; returns the exit status."""
    args = build_parser().parse_args(argv)
    set_quiet(args.quiet)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"coded {args.command}: invalid job: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _shutdown_ray()
        print(f"coded {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:
        _shutdown_ray()
        if args.debug:
            raise
        print(f"coded: error: {error_line(exc)}", file=sys.stderr)
        return 1
    finally:
        set_quiet(False)


def error_line(exc: BaseException) -> str:
    """``<Type>: <first line of the message>``, noting when lines were left out.

    >>> error_line(ValueError("Argument 'k' must be at most n=8, not 9."))
    "ValueError: Argument 'k' must be at most n=8, not 9."
    >>> error_line(RuntimeError("worker 3 failed\\nTraceback ..."))
    'RuntimeError: worker 3 failed (more with --debug)'
    """
    text = _ANSI.sub("", str(exc))  # Ray colours some of its messages
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    more = " (more with --debug)" if len(lines) > 1 else ""
    return f"{type(exc).__name__}: {lines[0]}{more}"


def _shutdown_ray() -> None:
    """Shut down the Ray this process started, if the command did not get to it."""
    cluster = sys.modules.get(__name__.rsplit(".", 1)[0] + ".cluster")  # imported: Ray was used
    if cluster is not None:
        cluster.shutdown()
