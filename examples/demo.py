"""``make demo``: coded vs uncoded vs 2-way replication on a local Ray, with injected stragglers.

Eight workers multiply A @ x. In every round each worker is, independently with
probability 0.15, five times slower than its compute (about one or two stragglers a
round). The coded strategy, an (8, 6) MDS code, returns once any 6 workers answered and
cancels the other two; uncoded waits for all 8; replication computes each block twice and
takes the first copy. Needs no cluster: a private local Ray starts and stops with it.
The product is the straggler benchmark's (a coded worker computes for about 60 ms), large
enough that compute, not Ray's fixed cost per round, is what the stragglers delay.
"""

from __future__ import annotations

import time

import numpy as np

import coded
from coded.scheduler.lab.compare import compare, latency_table, strategies
from coded.workers.delays import Bimodal

N, K, ROUNDS = 8, 6, 30


def main() -> None:
    rng = np.random.default_rng(0)
    A, x = rng.standard_normal((9600, 3200)), rng.standard_normal((3200, 32))
    print(
        f"A @ x with A {A.shape}, x {x.shape} on {N} workers; each worker is 5x slow "
        f"with probability 0.15 per round. Starting a local Ray ...",
        flush=True,
    )
    start = time.perf_counter()
    with coded.Runtime(N, delays=Bimodal(0.15, 5.0), seed=0) as rt:
        print(
            f"{N} workers ready in {time.perf_counter() - start:.1f} s; "
            f"{ROUNDS} rounds per strategy ...\n",
            flush=True,
        )
        results = compare(rt, A, x, strategies(N, K), ROUNDS)
    print(latency_table(results))
    coded_rounds = results["coded"]
    print(
        f"\ncoded: decoded from {K} of {N} workers; {sum(len(m.cancelled) for m in coded_rounds)} "
        f"straggler tasks cancelled over {ROUNDS} rounds; every product checked against A @ x."
    )


if __name__ == "__main__":
    main()
