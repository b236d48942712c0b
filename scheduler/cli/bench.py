"""``coded bench config.yaml``: run ``coded simulate`` scenarios on real Ray workers.

The same YAML files as ``coded simulate`` (see :mod:`coded.scheduler.lab.scenarios`), plus an
optional ``workload:`` section with the data shapes and measured rounds (see
:mod:`coded.scheduler.lab.bench`). Each scenario's strategies run on n Ray workers with the
scenario's delays injected; the simulator, calibrated from the run, predicts the same
rounds. Writes the JSON results (measured summary, CDF and speed-ups per strategy, the
prediction next to them), the measured table of ratios and the predicted-vs-measured table
as Markdown, a PNG of the measured latency CDFs with the predicted ones drawn over them
(needs matplotlib), and, with
``--trace DIR``, each strategy's recorded per-worker times as CSV traces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..jobs.schema import load_yaml
from ..lab.bench import bench, load_workloads
from ..lab.reports import PlotUnavailableError, format_table, markdown_table, plot_bench
from ..lab.scenarios import load_scenarios, results_to_dict
from ..lab.traces import record_trace
from ..progress import progress
from .scenario_args import add_scenario_args

__all__ = ["add_parser", "run", "prediction_table"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "bench",
        help="run straggler scenarios on real Ray workers, next to the simulator's prediction",
        description="Run the scenarios of a YAML config on Ray workers with injected delays.",
    )
    add_scenario_args(
        parser,
        example="bench.yaml",
        rounds="measured rounds per strategy (overrides)",
        output="JSON results path (default: the config's output, or <config>, as .bench.json)",
        plot="PNG report path (default: next to the JSON)",
    )
    parser.add_argument("--trace", metavar="DIR", help="write each strategy's trace CSV here")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..cluster import connect, disconnect

    data = load_yaml(args.config)
    config, scenarios = load_scenarios(data, seed=args.seed, only=args.only)
    workloads = load_workloads(data, scenarios, rounds=args.rounds)
    total = sum(w.rounds + w.warmup for w in workloads.values())
    results = []
    started = connect()  # one Ray for every scenario's workers
    try:
        with progress(
            total=total, unit="round", enabled=False if args.no_progress else None
        ) as bar:
            for scenario in scenarios:
                bar.set_description(scenario.name)
                results.append(bench(scenario, workloads[scenario.name], progress=bar.update))
    finally:
        disconnect(started)

    default = Path(config["output"] or Path(args.config).name)  # next to coded simulate's
    output = Path(args.output or default.with_name(default.stem + ".bench.json"))
    output.parent.mkdir(parents=True, exist_ok=True)
    measured = results_to_dict([r.measured for r in results])
    for result in results:
        entry = measured[result.scenario.name]
        del entry["work"]  # the workload sets it; see each strategy's calibration
        entry["workload"] = vars(result.workload)
        for name, figures in result.comparison().items():
            entry["strategies"][name]["prediction"] = figures
    output.write_text(json.dumps({"config": str(args.config), "scenarios": measured}, indent=1))
    table, prediction = format_table([r.measured for r in results]), prediction_table(results)
    report = output.with_suffix(".md")
    report.write_text(f"## Measured\n\n{table}\n\n## Predicted vs measured\n\n{prediction}\n")
    print(f"measured (seconds):\n{table}\n\npredicted vs measured (ms):\n{prediction}")
    print(f"\nwrote {output} and {report}")
    if args.trace:
        for result in results:
            for name, rounds in result.metrics.items():
                path = record_trace(Path(args.trace) / f"{result.scenario.name}-{name}.csv", rounds)
                print(f"wrote {path}")
    if args.no_plot:
        return 0
    plot = Path(args.plot or output.with_suffix(".png"))
    try:
        plot_bench(results, plot)
    except (PlotUnavailableError, ValueError) as exc:  # no matplotlib; nothing to plot
        print(f"coded bench: no PNG report: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {plot}")
    return 0


def prediction_table(results) -> str:
    """Markdown: per scenario and strategy, the calibration, the predicted (same rounds) and
    measured median latency (ms) with their relative difference, and the calibrated
    simulator's median over the scenario's fresh rounds."""
    header = (
        "scenario",
        "strategy",
        "base ms",
        "overhead ms",
        "predicted median",
        "measured median",
        "difference",
        "model median",
    )
    rows = [
        (
            result.scenario.name,
            name,
            f"{1e3 * c['base']:.2f}",
            f"{1e3 * c['overhead']:.2f}",
            f"{1e3 * c['predicted_median']:.1f}",
            f"{1e3 * c['measured_median']:.1f}",
            f"{100 * c['relative_difference']:+.1f}%",
            f"{1e3 * c['model_median']:.1f} ({c['model_rounds']} rounds)",
        )
        for result in results
        for name, c in result.comparison().items()
    ]
    return markdown_table(header, rows)
