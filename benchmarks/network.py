"""Gradient coding on a network: time per iteration and its communication share (simulated).

    python benchmarks/network.py                      # about 10 seconds
    python benchmarks/network.py --rounds 500 --json results/network.json

Data-parallel training with a parameter server on n = 16 workers: every iteration the master
broadcasts the model (d float32) and each worker answers a gradient message, which queues
on the master's link (:class:`coded.workers.delays.Network`, a FIFO server). Compared:

* ``uncoded``: each worker computes 1/16 of the batch; the iteration waits for all 16;
* ``gc-s1``, ``gc-s2``: cyclic gradient codes, each worker (s+1)/16 of the batch; the
  iteration decodes from the first 16 − s answers.

Models of 1M, 10M and 100M parameters, every link (workers' and master's) at 1, 10 and
100 Gbit/s with ``--latency`` per message, answers in float32 (4·d bytes) or compressed to
4 bits (d/2 bytes plus a ``--header``; the broadcast stays float32). A worker's whole-batch
compute is ``6·d·batch / flops`` seconds (forward and backward; by default 65536 samples
at 10 TFLOP/s, 0.25 s per worker uncoded for 100M parameters), slowed per round by a
shifted exponential (``1 + Exp(rate)``, Lee et al.). Compute and messages both grow with d,
so the rows of one link differ only by the latency. The simulator only: no workers run.

Columns: mean seconds per iteration of each strategy, the communication share of its
iteration time (what the network adds over an ideal one, over the iteration), and the
speedup of the best gradient code over uncoded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

from coded import GradientCode  # noqa: E402
from coded.scheduler.lab import Strategy, simulate  # noqa: E402
from coded.workers.delays import Network, ShiftedExponential  # noqa: E402

N = 16
PARAMETERS = (1_000_000, 10_000_000, 100_000_000)
LINKS_GBIT = (1, 10, 100)


def strategies(n: int) -> list[Strategy]:
    return [Strategy.uncoded(n)] + [
        Strategy.coded(GradientCode(n, s), name=f"gc-s{s}") for s in (1, 2)
    ]


def message_bytes(d: int, bits: int, header: int) -> float:
    """Bytes of a gradient of ``d`` parameters: float32, or ``bits`` per entry plus a header."""
    return 4.0 * d if bits == 32 else d * bits / 8 + header


def run(args) -> list[dict]:
    rows = []
    for d in PARAMETERS:
        work = 6 * d * args.batch / args.flops
        for gbit in LINKS_GBIT:
            network = Network(
                latency=args.latency,
                bandwidth=gbit * 1e9,
                master_bandwidth=gbit * 1e9,
                heterogeneity=args.heterogeneity,
                seed=args.seed,
            )
            for bits in (32, 4):
                results = simulate(
                    strategies(N),
                    ShiftedExponential(args.rate),
                    rounds=args.rounds,
                    seed=args.seed,
                    work=work,
                    network=network,
                    message_bytes=message_bytes(d, bits, args.header),
                    broadcast_bytes=4.0 * d,
                )
                row = {"params": f"{d / 1e6:g}M", "Gbit/s": gbit, "message": f"{bits}-bit"}
                for result in results:
                    row[result.strategy.name] = result.mean
                    row[f"comm {result.strategy.name}"] = result.communication_share
                best = min(r.mean for r in results[1:])
                row["speedup"] = results[0].mean / best
                rows.append(row)
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=65536, help="samples (tokens) per step")
    parser.add_argument("--flops", type=float, default=1e13, help="per worker, effective")
    parser.add_argument("--rate", type=float, default=2.0, help="shifted exponential rate")
    parser.add_argument("--latency", type=float, default=50e-6, help="seconds per message")
    parser.add_argument("--heterogeneity", type=float, default=0.0, help="lognormal σ")
    parser.add_argument("--header", type=int, default=64, help="bytes of a 4-bit message")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="results/network.json")
    args = parser.parse_args(argv)
    rows = run(args)
    print_table(
        f"seconds per iteration and communication share, n={N}, "
        f"ShiftedExponential({args.rate:g}), {args.rounds} rounds",
        rows,
    )
    report = {"config": vars(args), "iterations": rows}
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
