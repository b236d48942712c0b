"""``coded simulate config.yaml``: run named straggler scenarios in virtual time.

Writes the results as JSON (summary, latency CDF and speed-ups per strategy), the table of
ratios as Markdown next to it, and a PNG report (latency ECDFs per scenario, median and p99
speed-ups per strategy; see :func:`coded.scheduler.lab.reports.report_figure`; needs
matplotlib). The config format is described in :mod:`coded.scheduler.lab.scenarios`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..jobs.schema import load_yaml
from ..lab.reports import PlotUnavailableError, format_table, plot_report
from ..lab.scenarios import load_scenarios, results_to_dict, run_scenarios
from .scenario_args import add_scenario_args

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate straggler scenarios (virtual time)",
        description="Run the scenarios of a YAML config in virtual time and report latencies.",
    )
    add_scenario_args(
        parser,
        example="simulate.yaml",
        rounds="rounds per scenario (overrides the config)",
        output="JSON results path (default: config's, or <config>.json)",
        plot="PNG report path (default: next to --output, else config's, else next to the JSON)",
    )
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    config, scenarios = load_scenarios(
        load_yaml(args.config), rounds=args.rounds, seed=args.seed, only=args.only
    )
    results = run_scenarios(scenarios, progress=False if args.no_progress else None)
    output = Path(args.output or config["output"] or Path(args.config).with_suffix(".json").name)
    output.parent.mkdir(parents=True, exist_ok=True)
    payload = {"config": str(args.config), "scenarios": results_to_dict(results)}
    output.write_text(json.dumps(payload, indent=1))
    table = format_table(results)
    output.with_suffix(".md").write_text(table + "\n")
    print(table)
    print(f"\nwrote {output} and {output.with_suffix('.md')}")
    if args.no_plot:
        return 0
    default = output.with_suffix(".png")
    plot = Path(args.plot or (default if args.output else config["plot"] or default))
    try:
        plot_report(results, plot)
    except (PlotUnavailableError, ValueError) as exc:  # no matplotlib; nothing to plot
        print(f"coded simulate: no PNG report: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {plot}")
    return 0
