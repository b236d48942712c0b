"""Coded vs uncoded vs replication latency under named straggler scenarios, with the oracle.

    python benchmarks/straggler_matmul.py [--rounds 40] [--json results/straggler_matmul.json]

For each scenario a fresh set of n Ray workers (a private local Ray unless RAY_ADDRESS is
set) runs the three strategies of :mod:`coded.scheduler.lab.compare` in turn. It reports, per
scenario, each strategy's median and p90 latency, the ratio coded / uncoded, and the
oracle: when the k-th fastest worker had finished (worker clocks) plus the decode time,
i.e. a master with no control overhead. ``overhead`` is the coded latency minus the
oracle, per round (median). The same product in local numpy (this process, every core,
no stragglers) is timed too, as the baseline a distributed run has to justify itself
against.

Targets (n = 8 CPU workers on 2 cores, one or two 5x stragglers per round, i.e. the
scenarios fixed-2x5 and persistent-1x5): coded median <= 0.5x uncoded, <= 10% above the
oracle, overhead <= 6 ms. The default product (9600 x 3200 @ 3200 x 32: a coded worker
multiplies 1600 x 3200 @ 3200 x 32, about 60 ms with eight workers on two cores) makes
compute the bulk of a round. A Ray round has a fixed cost of about 8 ms here (dispatch
and every worker starting); with a product four times smaller (``--rows 4800 --cols
1600``) that fixed cost is a third of the round, and it bounds coded / uncoded from below.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from coded.scheduler.cluster import INLINE_BYTES, connect, disconnect
from coded.scheduler.lab.compare import compare, latency_table, strategies
from coded.scheduler.metrics import summarize
from coded.scheduler.runtime import Runtime
from coded.workers.delays import Bimodal, PersistentSlow, ShiftedExponential, Slowdown

TARGETS = {"coded_over_uncoded": 0.5, "coded_over_oracle": 1.10, "overhead_ms": 6.0}
TARGET_SCENARIOS = ("fixed-2x5", "persistent-1x5")  # one or two 5x stragglers per round
SCENARIOS = {
    "fixed-2x5": Slowdown(5.0, workers=(1, 6)),  # the same two workers 5x slow every round
    "bimodal-5x": Bimodal(0.15, 5.0),  # each worker 5x slow w.p. 0.15: one or two a round
    "shifted-exp": ShiftedExponential(1.0),  # Lee et al.: factor 1 + Exp(1)
    "persistent-1x5": PersistentSlow(1, factor=5.0),  # one randomly chosen worker, always 5x
}


def run_scenario(name, model, args, A, x) -> dict:
    start = time.perf_counter()
    with Runtime(args.n, delays=model, seed=args.seed) as rt:
        ready = time.perf_counter() - start
        results = compare(rt, A, x, strategies(args.n, args.k), args.rounds)
    print(f"\n== {name}: {model!r} (workers ready in {ready:.1f} s)")
    print(latency_table(results))
    coded = summarize(results["coded"])
    medians = {s: float(np.median([m.total_s for m in r])) for s, r in results.items()}
    report = {
        "model": model.get_config(),
        "strategies": {s: summarize(r) for s, r in results.items()},
        "coded_over_uncoded": medians["coded"] / medians["uncoded"],
        "coded_over_oracle": medians["coded"] / coded["oracle_s"]["median"],
        "overhead_ms": 1e3 * coded["overhead_s"]["median"],
        "phases_ms": {
            phase: 1e3 * float(np.median([getattr(m, phase) for m in results["coded"]]))
            for phase in ("dispatch_s", "wait_s", "cancel_s", "fetch_s", "decode_s")
        },
        "notice_ms": 1e3 * float(np.median([_notice(m) for m in results["coded"]])),
    }
    print(
        f"oracle {1e3 * coded['oracle_s']['median']:.1f} ms; coded/oracle "
        f"{report['coded_over_oracle']:.2f}; overhead {report['overhead_ms']:.1f} ms per round; "
        f"phases (ms) "
        + ", ".join(f"{k[:-2]} {v:.1f}" for k, v in report["phases_ms"].items())
        + f"; the master saw the decisive worker {report['notice_ms']:.1f} ms after it finished"
    )
    return report


def _notice(m) -> float:
    """Seconds from the worker that completed the first decodable set finishing to the master
    seeing it (worker clock vs master clock, same machine)."""
    decisive = max(m.used, key=m.finished.get)
    return m.latency[decisive] - m.finished[decisive]


def _local_numpy_ms(A, x, repeats: int = 20) -> float:
    """Median milliseconds of ``A @ x`` right here: the no-distribution baseline."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        A @ x
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds per strategy")
    parser.add_argument("--rows", type=int, default=9600)
    parser.add_argument("--cols", type=int, default=3200)
    parser.add_argument("--width", type=int, default=32, help="columns of x")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument(
        "--inline-bytes",
        type=int,
        default=INLINE_BYTES,
        help="objects a local Ray passes by value (Ray's default: 102400)",
    )
    parser.add_argument("--json", default="results/straggler_matmul.json")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    A, x = rng.standard_normal((args.rows, args.cols)), rng.standard_normal((args.cols, args.width))
    print(
        f"A {A.shape} @ x {x.shape}; n={args.n}, k={args.k}; {args.rounds} rounds per strategy; "
        f"{os.cpu_count()} CPUs here"
    )
    started = connect(inline_bytes=args.inline_bytes)  # one Ray for every scenario
    try:
        report = {
            "setup": {**vars(args), "cpus": os.cpu_count()},
            "local_numpy_ms": _local_numpy_ms(A, x),
            "targets": {**TARGETS, "scenarios": list(TARGET_SCENARIOS)},
            "scenarios": {
                name: run_scenario(name, SCENARIOS[name], args, A, x) for name in args.scenarios
            },
        }
    finally:
        disconnect(started)
    print("\nscenario          coded/uncoded  coded/oracle  overhead ms  targets")
    for name, result in report["scenarios"].items():
        met = all(result[key] <= bound for key, bound in TARGETS.items())
        result["targets_met"] = met
        verdict = ("met" if met else "MISSED") if name in TARGET_SCENARIOS else "-"
        print(
            f"{name:<18}{result['coded_over_uncoded']:>13.2f}{result['coded_over_oracle']:>14.2f}"
            f"{result['overhead_ms']:>13.1f}  {verdict}"
        )
    print(
        f"local numpy A @ x in this process (all {os.cpu_count()} CPUs, no stragglers): "
        f"{report['local_numpy_ms']:.1f} ms"
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"\nwritten: {args.json}")
    return report


if __name__ == "__main__":
    main()
