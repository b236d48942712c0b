"""Accuracy of Berrut approximate coded computing against the number of responses.

    python benchmarks/berrut_accuracy.py     # the README table (a few seconds)

For n = 8, 16, 32 workers and k = n/4 data blocks of shape 32 × 16, and smooth functions
f (``tanh(X W)`` with W of shape 16 × 8, the elementwise polynomial ``X∘X + X``, and the
elementwise ``exp(X)`` on data scaled by 1/2), ``coded.BerrutCode`` decodes from r of
the n responses, 300 random sets of each size r (every set when fewer). Per row: the median
and 90th percentile of the relative Frobenius error over all k blocks, the median largest
error of an entry, and the median of the code's a-priori bound on it,
``error_estimate(used, slope, curvature)`` with the slope and curvature of ``f∘u``
measured on a fine grid (finite differences, times 1.1). r runs over k, n/2, 3n/4, n − 1
and n: an odd r leaves one slope term unpaired in Berrut's error, so n − 1 responses can
do worse than fewer.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

import coded  # noqa: E402
from coded.berrut import berrut_matrix  # noqa: E402

SIZES = (8, 16, 32)
SHAPE = (32, 16)
SETS = 300
GRID = np.linspace(-1.0, 1.0, 2001)
_W = np.random.default_rng(0).standard_normal((SHAPE[1], 8)) / np.sqrt(SHAPE[1])
FUNCTIONS = {  # name -> (f, data scale)
    "tanh(XW)": (lambda X: np.tanh(X @ _W), 1.0),
    "X*X+X": (lambda X: X * X + X, 1.0),
    "exp(X)": (np.exp, 0.5),
}


def derivative_bounds(code, blocks, f) -> tuple[float, float]:
    """The largest ``|g′|`` and ``|g″|`` over the entries of ``g = f∘u`` on [−1, 1], by finite
    differences on ``GRID``, times 1.1 for what the grid misses."""
    u = np.tensordot(berrut_matrix(GRID, code.betas), np.stack(blocks), axes=1)
    g = np.stack([f(x) for x in u]).reshape(len(GRID), -1)
    h = GRID[1] - GRID[0]
    slope = np.abs(np.diff(g, axis=0)).max() / h
    return 1.1 * slope, 1.1 * np.abs(np.diff(g, 2, axis=0)).max() / h**2


def arrival_sets(n: int, r: int, rng) -> list[tuple[int, ...]]:
    """Every set of r of the n workers when at most ``SETS``, else ``SETS`` random ones."""
    if math.comb(n, r) <= SETS:
        return list(itertools.combinations(range(n), r))
    return [tuple(sorted(rng.choice(n, r, replace=False).tolist())) for _ in range(SETS)]


def measure(n: int, name: str, rng) -> list[dict]:
    f, scale = FUNCTIONS[name]
    k = n // 4
    code = coded.BerrutCode(n, k)
    blocks = [scale * rng.standard_normal(SHAPE) for _ in range(k)]
    responses = {i: f(s) for i, s in enumerate(code.encode(blocks))}
    exact = np.stack([f(b) for b in blocks])
    slope, curvature = derivative_bounds(code, blocks, f)
    rows = []
    for r in sorted({k, n // 2, 3 * n // 4, n - 1, n}):
        relative, largest, bounds = [], [], []
        for used in arrival_sets(n, r, rng):
            error = np.stack(code.decode({i: responses[i] for i in used})) - exact
            relative.append(np.linalg.norm(error) / np.linalg.norm(exact))
            largest.append(np.abs(error).max())
            bounds.append(code.error_estimate(used, slope=slope, curvature=curvature))
        rows.append(
            {
                "n": n,
                "k": k,
                "f": name,
                "r": r,
                "sets": len(relative),
                "rel err median": float(np.median(relative)),
                "rel err p90": float(np.percentile(relative, 90)),
                "max err median": float(np.median(largest)),
                "bound median": float(np.median(bounds)),
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/berrut_accuracy.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = [
        row
        for n in SIZES
        for name in FUNCTIONS
        for row in measure(n, name, np.random.default_rng(n))
    ]
    print_table(
        f"BerrutCode(n, k = n/4), blocks {SHAPE[0]}×{SHAPE[1]}: error against r responses "
        f"(median / 90th percentile over up to {SETS} sets of r)",
        rows,
    )
    print(f"\n{time.perf_counter() - start:.1f} s")
    write_json(args.out, {"shape": SHAPE, "sets": SETS, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
