"""Logistic regression on 8 workers, one of them 5× slow: coded and uncoded reach the same loss.

    python examples/train_logistic.py            # a local Ray with 8 workers
    coded run examples/train.yaml                # the same kind of run from a job file

Both runs take the same gradient steps from the same start; the uncoded run waits for the
slow worker in every iteration, the coded one (gradient code, s = 1) never does. With
matplotlib installed, the loss-against-time plot is written next to the histories.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import coded
from coded.scheduler.training.history import plot
from coded.workers.delays import Slowdown


def make_data(rows: int, features: int, seed: int):
    """Separable-ish synthetic data: labels from a random hyperplane with 5% flipped."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    y = (X @ rng.standard_normal(features) > 0).astype(float)
    flip = rng.random(rows) < 0.05
    y[flip] = 1.0 - y[flip]
    return X, y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=160_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--s", type=int, default=1)
    parser.add_argument("--slowdown", type=float, default=5.0)
    parser.add_argument("--output", default="results/train")
    args = parser.parse_args(argv)

    X, y = make_data(args.rows, args.features, seed=0)
    delays = Slowdown(args.slowdown, workers=[args.n // 2])
    results = {}
    with coded.Runtime(args.n, delays=delays) as rt:
        for method in ("uncoded", "coded"):
            results[method] = coded.train(
                X,
                y,
                loss="logistic",
                optimizer=coded.GD(lr=2.0),
                iterations=args.iterations,
                method=method,
                s=args.s,
                runtime=rt,
            )

    output = Path(args.output)
    print(
        f"{args.n} workers, worker {args.n // 2} {args.slowdown:g}x slow, "
        f"{args.rows} x {args.features} data"
    )
    for method, result in results.items():
        history = result.history
        history.to_json(output / f"{method}.json")
        print(
            f"  {method:8s} final loss {history.losses[-1]:.10f}   "
            f"wall time {history.times[-1]:6.2f} s"
            f"   median iteration {1e3 * np.median(history.round_times):6.1f} ms"
        )
    same = np.allclose(results["coded"].weights, results["uncoded"].weights, rtol=1e-10, atol=0)
    speedup = results["uncoded"].history.times[-1] / results["coded"].history.times[-1]
    print(f"  same iterates: {same}; coded is {speedup:.2f}x faster")
    try:
        plot([r.history for r in results.values()], output / "loss.png")
        print(f"  plot: {output / 'loss.png'}")
    except ImportError as exc:
        print(f"  (no plot: {exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
