"""Benchmark: the cost of robustness (screening, Byzantine error correction).

    python benchmarks/robustness.py            # 4096 × 4096 products and 4096-vectors, n = 16, 32
    python benchmarks/robustness.py --quick    # small sizes, a few seconds

For an (n, n/2) MDS code over the reals and over GF(65537), and ``A`` wrong answers to
correct, it measures on the master's maths directly (no Ray):

* ``decode_s``: a plain decode of the first ``k`` answers (what a round does today;
  it includes ``screen_s``, the response checks: one ``np.isfinite`` pass per answer,
  or a min and max over GF(p));
* ``correct_s``: ``code.correct`` of ``k + 2A`` answers with no wrong one, and
  ``correct_bad_s`` with ``A`` wrong ones (random values) that it locates and skips;
* ``vote_s``: the independent baseline (numpy only, nothing from this project): 2A + 1
  replicas of the whole product, A of them wrong, and a majority vote; it costs ``2A + 1``
  times the job's work against the code's ``n / k`` (``work ×`` columns);
* ``wait``: the extra latency of waiting for ``k + 2A`` answers instead of ``k``, in
  theory (order statistics, Lee et al.'s shifted-exponential model with rate 1:
  ``(1 + E[X(k+2A:n)]) / (1 + E[X(k:n)])``; :mod:`coded.scheduler.lab.theory`).

The answers are the encoding of a random result ``C`` (``share_i @ B`` is the same linear
combination of the blocks of ``A @ B``), so no product is computed. Targets, each with a
met/missed verdict (:data:`TARGETS`): for matrix products, screening ≤ 10 % of a plain
decode and correcting (wrong answers present) ≤ 3× a plain decode; for vectors, whose
decode takes microseconds, the fixed costs: screening ≤ 0.1 ms, correcting ≤ 10 ms;
waiting ≤ 1.5× for A = 1. Writes JSON (default
results/robustness.json).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

import coded  # noqa: E402
from coded.scheduler.lab.theory import exponential_order_mean  # noqa: E402

P = 65537
TARGETS = {  # matrix products: relative to a plain decode; vectors: seconds (fixed costs)
    "screen / decode (matrix)": 0.10,
    "correct / decode (matrix)": 3.0,
    "screen_s (vector)": 1e-4,
    "correct_bad_s (vector)": 0.01,
    "wait_ratio (A = 1)": 1.5,
}


def _best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _answers(code, field, rows: int, cols: int | None, rng):
    """Every worker's answer for a random result C (rows × cols, or a vector)."""
    shape = (rows,) if cols is None else (rows, cols)
    C = rng.standard_normal(shape) if field == "real" else rng.integers(0, P, shape)
    return dict(enumerate(code.encode(C))), C


def _wrong(answers, workers, field, rng):
    out = dict(answers)
    for i in workers:
        shape = np.shape(out[i])
        out[i] = rng.standard_normal(shape) if field == "real" else rng.integers(0, P, shape)
    return out


def _majority(copies: list, exact: bool):
    """The replication peer: the copy that more than half of ``copies`` agree with."""
    for candidate in copies:
        same = sum(
            np.array_equal(candidate, c) if exact else np.allclose(candidate, c, rtol=1e-9, atol=0)
            for c in copies
        )
        if 2 * same > len(copies):
            return candidate
    raise ValueError("no majority")


def _wait(k: int, n: int, byzantine: int) -> float:
    return (1 + exponential_order_mean(k + 2 * byzantine, n)) / (1 + exponential_order_mean(k, n))


def measure(n: int, byzantine: int, field, rows: int, cols: int | None, repeat: int) -> dict:
    rng = np.random.default_rng(n * 10 + byzantine)
    k = n // 2
    code = coded.MDSCode(n, k, field=field)
    answers, C = _answers(code, field, rows, cols, rng)
    quorum = k + 2 * byzantine
    first = {i: answers[i] for i in range(k)}
    clean = {i: answers[i] for i in range(quorum)}
    liars = tuple(int(i) for i in rng.choice(quorum, byzantine, replace=False))
    spoiled = _wrong(clean, liars, field, rng)
    fixed = code.correct(spoiled, byzantine=byzantine, rng=0)
    exact = field != "real"
    error = 0.0 if exact else float(np.linalg.norm(fixed.result - C) / np.linalg.norm(C))
    assert fixed.faulty == tuple(sorted(liars)) and (
        np.array_equal(fixed.result, C) if exact else error < 1e-8
    ), (fixed.faulty, liars, error)
    decode_s = _best_of(lambda: code.decode(first), repeat)
    screen_s = _best_of(lambda: code.screen(first), repeat)
    correct_s = _best_of(lambda: code.correct(clean, byzantine=byzantine, rng=0), repeat)
    bad_s = _best_of(lambda: code.correct(spoiled, byzantine=byzantine, rng=0), repeat)
    replicas = [_wrong({0: C}, [0], field, rng)[0] for _ in range(byzantine)]  # liars first
    replicas += [C.copy() for _ in range(byzantine + 1)]
    assert _majority(replicas, exact) is replicas[byzantine]
    vote_s = _best_of(lambda: _majority(replicas, exact), repeat)
    return {
        "product": "matrix" if cols is not None else "vector",
        "field": "real" if field == "real" else f"GF({P})",
        "n": n,
        "k": k,
        "A": byzantine,
        "waits_for": quorum,
        "wait_ratio": _wait(k, n, byzantine),
        "decode_s": decode_s,
        "screen_s": screen_s,
        "correct_s": correct_s,
        "correct_bad_s": bad_s,
        "screen / decode": screen_s / decode_s,
        "correct / decode": bad_s / decode_s,
        "vote_s": vote_s,
        "work × coded": n / k,
        "work × vote": 2 * byzantine + 1,
        "rel_error": error,
    }


def _verdicts(row: dict) -> dict:
    if row["product"] == "matrix":
        screen = row["screen / decode"] <= TARGETS["screen / decode (matrix)"]
        correct = row["correct / decode"] <= TARGETS["correct / decode (matrix)"]
    else:
        screen = row["screen_s"] <= TARGETS["screen_s (vector)"]
        correct = row["correct_bad_s"] <= TARGETS["correct_bad_s (vector)"]
    out = {"screen?": screen, "correct?": correct}
    if row["A"] == 1:
        out["wait?"] = row["wait_ratio"] <= TARGETS["wait_ratio (A = 1)"]
    return {name: "met" if ok else "missed" for name, ok in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    parser.add_argument("--size", type=int, default=4096, help="rows and columns of A @ B")
    parser.add_argument("--out", default="results/robustness.json")
    args = parser.parse_args(argv)
    size, repeat = (256, 2) if args.quick else (args.size, 3)
    rows = []
    for cols in (size, None):  # a matrix product, then a matrix-vector product
        for field in ("real", P):
            for n in (16, 32):
                for byzantine in sorted({1, 2, n // 8}):
                    row = measure(n, byzantine, field, size, cols, repeat)
                    row.update(_verdicts(row))
                    rows.append(row)
                    print(".", end="", flush=True)
    columns = [
        "product",
        "field",
        "n",
        "A",
        "waits_for",
        "wait_ratio",
        "decode_s",
        "screen_s",
        "correct_s",
        "correct_bad_s",
        "screen / decode",
        "correct / decode",
        "vote_s",
        "work × coded",
        "work × vote",
        "screen?",
        "correct?",
        "wait?",
    ]
    title = f"cost of robustness: MDS(n, n/2), {size}² products and {size}-vectors"
    print_table(title, rows, columns)
    print("targets:", ", ".join(f"{name} ≤ {bound:g}" for name, bound in TARGETS.items()))
    write_json(args.out, {"size": size, "targets": TARGETS, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
