"""The arguments ``coded simulate`` and ``coded bench`` share: one scenario file, overrides,
and where the reports go."""

from __future__ import annotations

import argparse

__all__ = ["add_scenario_args"]


def add_scenario_args(
    parser: argparse.ArgumentParser, *, example: str, rounds: str, output: str, plot: str
) -> None:
    """Add the scenario file, ``--rounds/--seed/--only``, the report paths and ``--no-progress``.

    ``example``, ``rounds``, ``output`` and ``plot`` are the help texts that differ.

    >>> parser = argparse.ArgumentParser()
    >>> add_scenario_args(parser, example="x.yaml", rounds="r", output="o", plot="p")
    >>> vars(parser.parse_args(["x.yaml", "--only", "a", "b", "--no-plot"]))["only"]
    ['a', 'b']
    """
    parser.add_argument("config", help=f"YAML scenario file (see examples/{example})")
    parser.add_argument("--rounds", type=int, help=rounds)
    parser.add_argument("--seed", type=int, help="seed of the delays (overrides the config)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    parser.add_argument("--output", help=output)
    parser.add_argument("--plot", help=plot)
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG report")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
