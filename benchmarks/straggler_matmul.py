"""Coded matmul against what a Ray user writes without coded, under injected stragglers.

    python benchmarks/straggler_matmul.py [--rounds 30] [--json results/straggler_matmul.json]

One local Ray for the whole run (unless RAY_ADDRESS is set). Per scenario, each round
runs every strategy in turn on the same ``A @ x``:

* ``coded``: the runtime with an (n, k) MDS code (any k of n workers decode);
* ``rt-uncoded``, ``rt-replication``: the runtime's own baselines (``Replication(n, 1)``,
  ``Replication(n, 2)``), which pay whatever the runtime costs;
* ``peer-uncoded``, ``peer-replication``, ``peer-speculation``: the independent baselines
  of ``benchmarks/peers.py``, plain Ray actors that import nothing from this project
  (uncoded; 2-way replication, first copy wins; Spark-style speculation after 75% of the
  tasks), on n actors too.

Every strategy sees the same injected delays in a round (worker i's factor and extra of
the coded round's number, from the same seeded model), with the same semantics,
compute-then-sleep (see peers.py). The ``same-work`` scenario races the runtime with
``MDSCode(n, n, systematic=True)`` (the same n row blocks as the peers) against plain
uncoded actors, no stragglers: what the runtime costs over plain Ray.

Reported per scenario: median latency of each strategy, coded over each peer, coded over
the oracle (when the k-th fastest worker finished, on the workers' clocks, plus the
decode), the control overhead (coded minus oracle) and the master's CPU per round. With
8 workers on 2 cores this measures compute-bound contention, not a cluster (see
``emulated_cluster.py`` for that).

Targets (printed with met / missed): same work, coded <= 1.10x plain Ray; two fixed 5x
stragglers, coded <= 0.5x plain uncoded and <= 1.0x plain 2-replication, coded / oracle
<= 1.05, master CPU <= 15 ms per round.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import ray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402
from peers import Peers  # noqa: E402

from coded import MDSCode, Replication  # noqa: E402
from coded.scheduler.cluster import INLINE_BYTES, connect, disconnect  # noqa: E402
from coded.scheduler.runtime import Runtime  # noqa: E402
from coded.workers.delays import (  # noqa: E402
    Bimodal,
    NoDelay,
    PersistentSlow,
    ShiftedExponential,
    Slowdown,
    WorkerDelays,
)

SCENARIOS = {
    "same-work": NoDelay(),  # k = n systematic against plain uncoded actors
    "fixed-2x5": Slowdown(5.0, workers=(1, 6)),  # the same two workers 5x slow every round
    "bimodal-5x": Bimodal(0.15, 5.0),  # each worker 5x slow w.p. 0.15: one or two a round
    "shifted-exp": ShiftedExponential(1.0),  # Lee et al.: factor 1 + Exp(1)
    "persistent-1x5": PersistentSlow(1, factor=5.0),  # one randomly chosen worker, always 5x
}
PEERS = ("peer-uncoded", "peer-replication", "peer-speculation")
TARGETS = {
    "same-work": {"coded / peer-uncoded": 1.10},
    "fixed-2x5": {
        "coded / peer-uncoded": 0.5,
        "coded / peer-replication": 1.0,
        "coded / oracle": 1.05,
        "master CPU ms": 15.0,
    },
}


def _codes(scenario: str, n: int, k: int) -> dict:
    if scenario == "same-work":
        return {"coded": MDSCode(n, n, systematic=True)}
    return {
        "coded": MDSCode(n, k),
        "rt-uncoded": Replication(n, 1),
        "rt-replication": Replication(n, 2),
    }


def run_scenario(name, model, peers, args, A, x) -> dict:
    """Race the strategies round by round; return each one's latencies and the coded metrics."""
    n = args.n
    streams = [WorkerDelays(model, i, n, args.seed) for i in range(n)]
    racing = {"peer-uncoded": peers["peer-uncoded"]} if name == "same-work" else peers
    expected = A @ x
    with Runtime(
        n, num_cpus_per_worker=args.cpus, delays=model, seed=args.seed, deadline=120
    ) as rt:
        operators = {s: rt.place(A, code=code) for s, code in _codes(name, n, args.k).items()}
        times: dict[str, list[float]] = {s: [] for s in [*operators, *racing]}
        for _ in range(args.warmup + args.rounds):
            for strategy, op in operators.items():
                y = op @ x
                _check(strategy, y, expected)
                times[strategy].append(op.metrics.total_s)
            delays = [s.at(operators["coded"].metrics.round) for s in streams]
            factors, extras = zip(*delays, strict=True)
            for strategy, peer in racing.items():
                start = time.perf_counter()
                y = peer.round(x, factors, extras)
                times[strategy].append(time.perf_counter() - start)
                _check(strategy, y, expected)
        coded = list(operators["coded"].history)[args.warmup :]
        for op in operators.values():
            op.close()
    medians = {s: 1e3 * float(np.median(t[args.warmup :])) for s, t in times.items()}
    oracle = 1e3 * float(np.median([m.oracle_s for m in coded]))
    result = {
        "model": model.get_config(),
        "median_ms": medians,
        "oracle_ms": oracle,
        "overhead_ms": 1e3 * float(np.median([m.overhead_s for m in coded])),
        "master_cpu_ms": 1e3 * float(np.median([m.master_cpu_s for m in coded])),
        "phases_ms": {
            phase: 1e3 * float(np.median([getattr(m, phase) for m in coded]))
            for phase in ("dispatch_s", "wait_s", "cancel_s", "fetch_s", "decode_s")
        },
        "ratios": {f"coded / {s}": medians["coded"] / medians[s] for s in racing},
    }
    result["ratios"]["coded / oracle"] = medians["coded"] / oracle
    result["ratios"]["master CPU ms"] = result["master_cpu_ms"]
    result["targets"] = {
        key: {"bound": bound, "value": result["ratios"][key], "met": result["ratios"][key] <= bound}
        for key, bound in TARGETS.get(name, {}).items()
    }
    print_table(
        f"{name}: {model!r}",
        [{"strategy": s, "median ms": m} for s, m in medians.items()],
    )
    print(
        f"oracle {oracle:.1f} ms; coded / oracle {result['ratios']['coded / oracle']:.2f}; "
        f"overhead {result['overhead_ms']:.1f} ms; master CPU {result['master_cpu_ms']:.1f} ms "
        f"per round; phases (ms) "
        + ", ".join(f"{k[:-2]} {v:.1f}" for k, v in result["phases_ms"].items())
    )
    return result


def _check(strategy: str, y, expected) -> None:
    if not np.allclose(y, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max()):
        raise ArithmeticError(f"{strategy} returned a wrong product")


def _local_numpy_ms(A, x, repeats: int = 20) -> float:
    """Median milliseconds of ``A @ x`` right here: the no-distribution baseline."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        A @ x
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def verdicts(report: dict) -> list[dict]:
    """One row per target: scenario, what, bound, value, met / MISSED."""
    rows = []
    for name, result in report["scenarios"].items():
        for key, target in result["targets"].items():
            rows.append(
                {
                    "scenario": name,
                    "target": key,
                    "bound": target["bound"],
                    "measured": target["value"],
                    "verdict": "met" if target["met"] else "MISSED",
                }
            )
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds per strategy")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured first rounds")
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
    # logical CPUs enough for every actor at once (each still one BLAS thread): the
    # machine's cores are what they share
    started = connect(num_cpus=4 * args.n, inline_bytes=args.inline_bytes)
    try:
        # every actor of the 4 strategy sets alive at once, one logical CPU each at most
        args.cpus = min(1.0, ray.cluster_resources()["CPU"] / (4 * args.n))
        peers = {
            "peer-uncoded": Peers(A, args.n, "uncoded", num_cpus=args.cpus),
            "peer-replication": Peers(A, args.n, "replication", r=2, num_cpus=args.cpus),
            "peer-speculation": Peers(A, args.n, "speculation", num_cpus=args.cpus),
        }
        report = {
            "setup": {**vars(args), "cpus": os.cpu_count()},
            "local_numpy_ms": _local_numpy_ms(A, x),
            "scenarios": {
                name: run_scenario(name, SCENARIOS[name], peers, args, A, x)
                for name in args.scenarios
            },
        }
        for peer in peers.values():
            peer.close()
    finally:
        disconnect(started)
    ratios = [{"scenario": name, **r["ratios"]} for name, r in report["scenarios"].items()]
    columns = list(dict.fromkeys(key for row in ratios for key in row))
    print_table("coded against the peers (median latency ratios)", ratios, columns)
    print_table("targets", verdicts(report))
    print(
        f"local numpy A @ x in this process (all {os.cpu_count()} CPUs, no stragglers): "
        f"{report['local_numpy_ms']:.1f} ms"
    )
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
