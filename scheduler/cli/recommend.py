"""``coded recommend``: the code and k (or partitioning) with the lowest expected latency.

    coded recommend --n 10 --shape 4000 4000 4000 --delays "{type: ShiftedExponential, rate: 1}"
    coded recommend --n 8 --shape 2000 2000 1 --trace measured.csv --families mds --top 5

``--delays`` takes a delay config inline (YAML) or the path of a YAML file holding one;
``--trace`` a CSV of recorded per-round, per-worker times (replayed as slowdowns).
A progress bar shows on a terminal (``coded --quiet`` hides it); when the search is bounded
(large n; additive delays), a ``note:`` line says how.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from ..jobs.schema import ConfigError, delay_field
from ..lab.recommend import DEFAULT_FAMILIES, FAMILIES, Workload, format_ranking, recommend

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "recommend",
        help="pick the code and k that minimise expected latency",
        description="Rank codes for A (m x inner) @ B (inner x q) on n workers by latency.",
    )
    parser.add_argument("--n", type=int, required=True, help="number of workers")
    parser.add_argument(
        "--shape",
        type=int,
        nargs=3,
        required=True,
        metavar=("M", "INNER", "Q"),
        help="A is M x INNER, B is INNER x Q",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--delays", help="delay model: inline YAML or a YAML file")
    source.add_argument("--trace", help="CSV of recorded per-round, per-worker times (seconds)")
    parser.add_argument(
        "--families",
        nargs="+",
        default=list(DEFAULT_FAMILIES),
        choices=FAMILIES,
        help="code families to consider",
    )
    parser.add_argument(
        "--compute-time",
        type=float,
        help="seconds one worker needs for the whole product (default: from --flops)",
    )
    parser.add_argument("--flops", type=float, default=1e10, help="worker speed, flop/s")
    parser.add_argument(
        "--master-flops",
        type=_optional_float,
        default=1e10,
        help="master's decoding speed, flop/s ('none': free)",
    )
    parser.add_argument(
        "--bandwidth",
        type=_optional_float,
        default=1e9,
        help="bytes/s into the master ('none': free)",
    )
    parser.add_argument("--objective", choices=("mean", "median", "p99"), default="mean")
    parser.add_argument("--rounds", type=int, default=10_000, help="simulated rounds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the delays")
    parser.add_argument("--top", type=int, default=10, help="rows to print (0: all)")
    parser.add_argument("--json", help="write the full ranking to this JSON file")
    parser.set_defaults(handler=run)
    return parser


def _optional_float(text: str) -> float | None:
    return None if text.lower() == "none" else float(text)


def run(args: argparse.Namespace) -> int:
    delays = _delays(args.delays) if args.delays is not None else args.trace
    try:
        workload = Workload(
            *args.shape,
            compute_time=args.compute_time,
            flops=args.flops,
            master_flops=args.master_flops,
            bandwidth=args.bandwidth,
        )
        ranking = recommend(
            args.n,
            delays,
            workload,
            families=args.families,
            rounds=args.rounds,
            seed=args.seed,
            objective=args.objective,
            progress=None,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError("", str(exc)) from exc
    best = ranking[0]
    print(format_ranking(ranking, args.top or None))
    for note in ranking.notes:
        print(f"note: {note}")
    print(f"\nrecommended: {best.label} ({args.objective} {getattr(best, args.objective):.4g} s)")
    if best.code is not None:
        print(f"code config: {json.dumps(best.code)}")
    if args.json:
        Path(args.json).write_text(json.dumps([c.to_dict() for c in ranking], indent=1))
        print(f"wrote {args.json}")
    return 0


def _delays(text: str):
    path = Path(text)
    try:
        data = yaml.safe_load(path.read_text() if path.is_file() else text)
    except yaml.YAMLError as exc:
        raise ConfigError("delays", f"not valid YAML: {exc}") from exc
    return delay_field(data, "delays")
