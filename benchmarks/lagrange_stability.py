"""Stability of real Lagrange codes: the worst case over straggler sets, before and after.

    python benchmarks/lagrange_stability.py           # the README table (about a minute)
    python benchmarks/lagrange_stability.py --quick   # n <= 16, a few seconds

For each (n, k, d) and construction, every set of workers that may arrive with s
stragglers, for s the most stragglers the construction tolerates (and, for the Chebyshev
constructions, also the trigonometric code's s): all sets when there are at most 3000,
else adversarial ones (every cyclically consecutive set, a greedy search that drops the
worker whose loss leaves the worst-conditioned system, then swaps that make it worse) plus
200 random sets. Per construction: the worst condition number of the system decoded (the
best-conditioned K of the arrived, as the codes select) and the worst relative Frobenius
error of f(X) = XᵀX on 12 × 6 blocks, workers in float64 and in float32, against the
float64 product. Constructions:

* ``chebyshev`` (before): polynomial LCC at the n Chebyshev points of the first kind on
  [-1, 1], β on the grid between them, barycentric decoding (coded's real code before);
* ``chebyshev-2``: α at the n Chebyshev points of the second kind, β at k of the first kind;
* ``berrut``: the ``chebyshev`` responses decoded by Berrut's rational interpolant through
  all arrived points (an approximation: BACC's decoder, no κ);
* ``trigonometric`` (after): ``coded.LagrangeCode``, decoded by ``code.decode`` with its
  conditioning guard on.

Verdicts at the default accuracy 1e-3: ``ok`` (worst error within it), ``silent`` (a result
off by more, returned without a word), ``refuses a/b, rest ≤ e`` (the guard refused a of
the b sets; the worst accepted error is e). The errors in the ``err`` columns are those of
every set, refused ones included (decoded with the guard off), so before and after
compare; ``err/bound`` is the largest ratio of a set's error to its bound κ · eps.
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
from coded.lagrange import lagrange_matrix, trigonometric_basis  # noqa: E402

CASES = [(8, 3, 2), (12, 4, 2), (16, 4, 2), (20, 5, 2), (24, 6, 2), (32, 8, 2), (32, 14, 2)]
CASES += [(16, 3, 3), (32, 5, 3)]
QUICK = [(8, 3, 2), (12, 4, 2), (16, 3, 3)]
EXHAUSTIVE = 15000  # every arrival set when there are at most this many
RANDOM = 500
SHAPE = (12, 6)
ACCURACY = coded.LagrangeCode.accuracy


class Chebyshev:
    """Polynomial LCC on [-1, 1], decoded from the best-conditioned K of the arrived."""

    name = "chebyshev"

    def __init__(self, n, k, d, second_kind=False):
        self.n, self.k, self.degree_f, self.threshold = n, k, d, (k - 1) * d + 1
        if second_kind:
            self.name = "chebyshev-2"
            self.alphas = np.cos(np.pi * np.arange(n) / (n - 1))
            self.betas = np.cos(np.pi * (np.arange(k) + 0.5) / k)
        else:
            self.alphas = np.cos(np.pi * (np.arange(n) + 0.5) / n)
            self.betas = np.cos(np.pi * np.floor((np.arange(k) + 0.5) * n / k) / n)
        self.encoder = lagrange_matrix(self.alphas, self.betas, coded.RealField())

    def system(self, workers):
        return np.polynomial.chebyshev.chebvander(self.alphas[list(workers)], self.threshold - 1)

    def used(self, arrived):
        if len(arrived) == self.threshold:
            return tuple(arrived)
        subsets = itertools.combinations(arrived, self.threshold)
        return min(subsets, key=lambda s: np.linalg.cond(self.system(s)))

    def condition(self, arrived):
        return float(np.linalg.cond(self.system(self.used(arrived))))

    def encode(self, blocks):
        shares = np.tensordot(self.encoder, np.stack(blocks).astype(np.float64), axes=1)
        return list(shares.astype(blocks[0].dtype))

    def decode(self, responses):
        used = self.used(tuple(sorted(responses)))
        matrix = lagrange_matrix(self.betas, self.alphas[list(used)], coded.RealField())
        return list(np.tensordot(matrix, np.stack([responses[i] for i in used]), axes=1))


class Berrut(Chebyshev):
    """The Chebyshev responses through Berrut's rational interpolant on all arrived points."""

    name = "berrut"

    def condition(self, arrived):
        return math.nan

    def decode(self, responses):
        workers = sorted(responses, key=lambda i: self.alphas[i])
        signs = (-1.0) ** np.arange(len(workers))
        weights = signs / (self.betas[:, None] - self.alphas[workers][None, :])
        weights /= weights.sum(axis=1, keepdims=True)
        return list(np.tensordot(weights, np.stack([responses[i] for i in workers]), axes=1))


class Trigonometric:
    """``coded.LagrangeCode`` itself, guard on."""

    name = "trigonometric"

    def __init__(self, n, k, d):
        self.code = coded.LagrangeCode(n, k, d)
        self.unguarded = coded.LagrangeCode(n, k, d)
        self.unguarded.accuracy = math.inf
        self.n, self.k, self.degree_f = n, k, d
        self.threshold = self.code.recovery_threshold
        self.degree, self.top_sine = d * (k // 2), bool(k % 2)

    def system(self, workers):
        angles = self.code.alphas[list(workers)]
        return trigonometric_basis(angles, self.degree, top_sine=self.top_sine)

    def condition(self, arrived):
        return self.code.condition_number(arrived)

    def encode(self, blocks):
        shares = self.code.encode(blocks)
        self.unguarded.layout_ = self.code.layout_
        return shares

    def decode(self, responses):
        return self.code.decode(responses)


# -- straggler sets ------------------------------------------------------------------------
def arrival_sets(construction, size, rng):
    """Every set of ``size`` workers when few, else adversarial and random ones."""
    n = construction.n
    if math.comb(n, size) <= EXHAUSTIVE:
        return list(itertools.combinations(range(n), size)), "all"
    cond = lambda s: np.linalg.cond(construction.system(s))  # noqa: E731
    sets = [tuple(sorted((start + np.arange(size)) % n)) for start in range(n)]
    sets.append(_greedy_worst(cond, n, size))
    sets += [tuple(sorted(rng.choice(n, size, replace=False))) for _ in range(RANDOM)]
    sets += [_swaps(cond, start, n) for start in sorted(sets, key=cond)[-8:]]
    return sets, "adversarial + random"


def _greedy_worst(cond, n, size):
    """From all n workers, drop one at a time the one whose loss leaves the worst system."""
    chosen = list(range(n))
    while len(chosen) > size:
        drop = max(range(len(chosen)), key=lambda j: cond(chosen[:j] + chosen[j + 1 :]))
        del chosen[drop]
    return tuple(chosen)


def _swaps(cond, workers, n, passes=4):
    """Swap one worker for an absent one while that makes the system worse (a few passes)."""
    workers, worst = list(workers), cond(workers)
    for _ in range(passes):
        before = worst
        for position, other in itertools.product(range(len(workers)), range(n)):
            if other in workers:
                continue
            trial = sorted(workers[:position] + [other] + workers[position + 1 :])
            if (value := cond(trial)) > worst:
                workers, worst = trial, value
        if worst == before:
            break
    return tuple(workers)


# -- measurement -----------------------------------------------------------------------------
def _f(degree):
    """XᵀX for degree 2, X Xᵀ X for degree 3."""
    return (lambda x: x.T @ x) if degree == 2 else (lambda x: x @ x.T @ x)


def _problem(construction, dtype, rng):
    f = _f(construction.degree_f)
    blocks = [rng.standard_normal(SHAPE).astype(dtype) for _ in range(construction.k)]
    responses = {i: f(s) for i, s in enumerate(construction.encode(blocks))}
    exact = np.concatenate([f(b.astype(np.float64)).ravel() for b in blocks])
    return responses, exact


def _error(outputs, exact) -> float:
    got = np.concatenate([np.asarray(o, dtype=np.float64).ravel() for o in outputs])
    return float(np.linalg.norm(got - exact) / np.linalg.norm(exact))


def _worst(construction, sets, dtype):
    """Worst error over ``sets``, the sets refused, the worst error of those accepted, and
    the worst ratio of a set's error to its bound κ · eps."""
    responses, exact = _problem(construction, dtype, np.random.default_rng(1))
    worst = accepted = ratio = 0.0
    refused = 0
    for workers in sets:
        arrived = {i: responses[i] for i in workers}
        try:
            error = _error(construction.decode(arrived), exact)
            accepted = max(accepted, error)
        except coded.IllConditionedError:
            refused += 1
            error = _error(construction.unguarded.decode(arrived), exact)
        worst = max(worst, error)
        bound = construction.condition(workers) * float(np.finfo(dtype).eps)
        ratio = max(ratio, error / bound)
    return worst, refused, accepted, ratio


def _verdict(refused, accepted, total) -> str:
    if accepted > ACCURACY:
        return "silent"
    return f"refuses {refused}/{total}, rest ≤ {accepted:.1e}" if refused else "ok"


def measure(n, k, d, rng) -> list[dict]:
    constructions = [
        Chebyshev(n, k, d),
        Chebyshev(n, k, d, second_kind=True),
        Berrut(n, k, d),
        Trigonometric(n, k, d),
    ]
    thresholds = {c.threshold for c in constructions}
    rows = []
    for construction in constructions:
        for size in sorted(t for t in thresholds if t >= construction.threshold):
            search = construction if not isinstance(construction, Berrut) else constructions[0]
            sets, how = arrival_sets(search, size, rng)
            cond = max(construction.condition(s) for s in sets)
            row = dict(n=n, k=k, d=d, construction=construction.name)
            row.update(threshold=construction.threshold, stragglers=n - size, sets=len(sets))
            row.update(search=how, worst_cond=cond)
            for dtype in (np.float64, np.float32):
                worst, refused, accepted, ratio = _worst(construction, sets, dtype)
                bits = np.finfo(dtype).bits
                row[f"err_f{bits}"] = worst
                row[f"verdict_f{bits}"] = _verdict(refused, accepted, len(sets))
                row[f"err/bound_f{bits}"] = ratio
            rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n <= 16 only (a few seconds)")
    parser.add_argument("--out", default="results/lagrange_stability.json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = []
    for n, k, d in QUICK if args.quick else CASES:
        rows += measure(n, k, d, np.random.default_rng(n * 100 + k * 10 + d))
    print_table(
        "Real Lagrange codes, f(X) = X^T X (d = 2) or X X^T X (d = 3): worst case over "
        "straggler sets",
        rows,
    )
    print(f"\n{time.perf_counter() - start:.0f} s")
    write_json(args.out, {"accuracy": ACCURACY, "shape": SHAPE, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
