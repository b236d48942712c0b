"""``make demo``: coded matmul against plain Ray actors on a local Ray, with injected stragglers.

Eight workers multiply A @ x. In every round each worker is, independently with
probability 0.15, five times slower than its compute (about one or two stragglers a
round). The coded strategy, an (8, 6) MDS code, returns once any 6 workers answered and
cancels the other two. It races, round by round on the same delays, what a Ray user writes
without coded (``benchmarks/peers.py``: plain actors, one row block each): waiting for all
8, 2-way replication (first copy wins), and Spark-style speculation; and the runtime's own
uncoded and replication baselines. Needs no cluster: a private local Ray starts and stops
with it. The product is the straggler benchmark's (a coded worker computes for about 60 ms).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from peers import Peers  # noqa: E402
from straggler_matmul import run_scenario  # noqa: E402

from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.workers.delays import Bimodal  # noqa: E402

N, K = 8, 6


def main() -> None:
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((9600, 3200)), rng.standard_normal((3200, 32))
    print(
        f"A @ x with A {A.shape}, x {x.shape} on {N} workers; each worker is 5x slow "
        f"with probability 0.15 per round. Starting a local Ray ...",
        flush=True,
    )
    start = time.perf_counter()
    started = connect(num_cpus=4 * N)
    try:
        args = argparse.Namespace(n=N, k=K, seed=0, warmup=2, rounds=20, cpus=1.0)
        peers = {
            "peer-uncoded": Peers(A, N, "uncoded"),
            "peer-replication": Peers(A, N, "replication", r=2),
            "peer-speculation": Peers(A, N, "speculation"),
        }
        print(f"workers ready in {time.perf_counter() - start:.1f} s; 20 rounds each ...")
        result = run_scenario("bimodal-5x", Bimodal(0.15, 5.0), peers, args, A, x)
        for peer in peers.values():
            peer.close()
    finally:
        disconnect(started)
    ratios = result["ratios"]
    print(
        f"\ncoded (any {K} of {N}) takes {ratios['coded / peer-uncoded']:.2f}x the time of plain "
        f"Ray actors waiting for all {N}, {ratios['coded / peer-replication']:.2f}x 2-way "
        f"replication and {ratios['coded / peer-speculation']:.2f}x speculation; "
        f"every product checked against A @ x."
    )


if __name__ == "__main__":
    main()
