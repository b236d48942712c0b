"""Pipelined rounds: throughput of ``op.map(xs, window)`` against ``op @ x`` one at a time.

    python benchmarks/pipeline.py [--rounds 200] [--json results/pipeline.json]

At sizes where a round's control latency (dispatch, the workers' turn-around, fetch and
decode) dominates its compute, keeping several independent rounds in flight overlaps them:
the master dispatches the next rounds while the workers compute and decodes each as it
completes. n = 8 workers, an (8, 6) MDS code, a small ``A @ x`` (default 960 x 320 @ 320 x 4:
a worker computes for well under a millisecond), no injected stragglers; each variant runs
the same ``--rounds`` products, best of ``--repeats``. Target: window 4 at least 1.5x the
sequential throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

from coded import MDSCode  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.runtime import Runtime  # noqa: E402

TARGET = 1.5  # window-4 throughput over sequential


def measure(op, xs, window: int | None, repeats: int) -> float:
    """Best wall seconds for all of ``xs`` (``window=None``: one ``op @ x`` after another)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        ys = [op @ x for x in xs] if window is None else op.map(xs, window=window)
        best = min(best, time.perf_counter() - start)
        assert len(ys) == len(xs)
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--rows", type=int, default=960)
    parser.add_argument("--cols", type=int, default=320)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--windows", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--json", default="results/pipeline.json")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    A = rng.standard_normal((args.rows, args.cols))
    xs = [rng.standard_normal((args.cols, args.width)) for _ in range(args.rounds)]
    started = connect()
    try:
        with Runtime(args.n) as rt:
            op = rt.place(A, code=MDSCode(args.n, args.k))
            for y, x in zip(op.map(xs[:8], window=4), xs[:8], strict=True):  # warm up, check
                np.testing.assert_allclose(y, A @ x, rtol=1e-8, atol=1e-8)
            sequential = measure(op, xs, None, args.repeats)
            rows = [{"mode": "sequential", "window": 1, "rounds/s": args.rounds / sequential}]
            for window in args.windows:
                seconds = measure(op, xs, window, args.repeats)
                rows.append({"mode": "map", "window": window, "rounds/s": args.rounds / seconds})
            cpu = 1e3 * float(np.median([m.master_cpu_s for m in list(op.history)[-args.rounds :]]))
    finally:
        disconnect(started)
    base = rows[0]["rounds/s"]
    for row in rows:
        row["speedup"] = row["rounds/s"] / base
    window4 = next((r["speedup"] for r in rows if r["window"] == 4 and r["mode"] == "map"), None)
    verdict = None if window4 is None else ("met" if window4 >= TARGET else "MISSED")
    print_table(
        f"A {A.shape} @ x {xs[0].shape}, n={args.n}, k={args.k}, {args.rounds} rounds, "
        f"best of {args.repeats}; {os.cpu_count()} CPUs here",
        rows,
    )
    print(f"window 4 / sequential: {window4:.2f}x (target >= {TARGET}x): {verdict}")
    print(f"master CPU per pipelined round (window {args.windows[-1]}): {cpu:.2f} ms")
    report = {"setup": vars(args), "rows": rows, "target": TARGET, "verdict": verdict}
    write_json(args.json, {**report, "master_cpu_ms": cpu})
    return report


if __name__ == "__main__":
    main()
