"""Benchmark of the codes library: speed, numerical stability, exact GF(p) throughput.

    python benchmarks/codes.py            # full run (4096 × 4096 products, n = 8, 16, 32)
    python benchmarks/codes.py --quick    # small sizes, a few seconds

Prints three tables and writes JSON (default results/codes.json):

1. encode / one worker's product / decode time against the uncoded product A @ B;
2. worst-case condition number of the decoding system and worst relative (Frobenius)
   error in float64 and float32, per code, for n = 8, 16, 32 and s = 1..4 stragglers,
   over every decodable set when there are at most 40000, else 500 random sets plus
   every set missing s cyclically consecutive workers (the worst case of roots of unity);
3. GF(p) matrix products: coded.gf_matmul against galois's ``@`` and float64 BLAS.
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


# -- the code families: how to build one for (n, s) and what its workers compute ----------
def _mds(n, s):
    return coded.MDSCode(n, n - s)


def _polynomial(n, s):
    k = n - s
    a = max(d for d in range(1, int(math.isqrt(k)) + 1) if k % d == 0)
    return coded.PolynomialCode(n, a, k // a)


def _matdot(n, s):
    return coded.MatDotCode(n, (n - s + 1) // 2)


def _entangled(n, s):
    # the largest p·a·b + p − 1 ≤ n − s with a = 2, b = 1 (needs 3p − 1 ≤ n − s)
    p = (n - s + 1) // 3
    return coded.EntangledPolynomialCode(n, 2, 1, p) if p >= 1 else None


def _gradient(n, s):
    return coded.GradientCode(n, s, scheme="cyclic")


def _lagrange(n, s):
    k = (n - s - 1) // 2 + 1  # degree-2 f: threshold 2(k − 1) + 1 ≤ n − s for odd k,
    if k % 2 == 0 and 2 * k > n - s:  # 2k for even k (real codes)
        k -= 1
    return coded.LagrangeCode(n, k, degree=2)


FAMILIES = {
    "MDSCode": _mds,
    "PolynomialCode": _polynomial,
    "MatDotCode": _matdot,
    "EntangledPolynomialCode": _entangled,
    "GradientCode": _gradient,
    "LagrangeCode": _lagrange,
}


def _run(code, rng, dtype, size):
    """Every worker's response and the exact answer, for one random problem."""
    m = size
    if isinstance(code, coded.MDSCode):
        A, X = rng.standard_normal((m, m)).astype(dtype), rng.standard_normal((m, 8)).astype(dtype)
        return {i: s @ X for i, s in enumerate(code.encode(A))}, A.astype(float) @ X.astype(float)
    if isinstance(code, getattr(coded, "GradientCode", ())):
        partials = [rng.standard_normal(m).astype(dtype) for _ in range(code.n)]
        responses = {
            i: code.combine(i, {j: partials[j] for j in code.assignment[i]}) for i in range(code.n)
        }
        return responses, np.sum(np.array(partials, dtype=float), axis=0)
    if isinstance(code, getattr(coded, "LagrangeCode", ())):
        blocks = [rng.standard_normal((m, 4)).astype(dtype) for _ in range(code.k)]
        f = lambda x: x.T @ x  # noqa: E731  (degree 2)
        return {i: f(s) for i, s in enumerate(code.encode(blocks))}, [
            f(b.astype(float)) for b in blocks
        ]
    A, B = rng.standard_normal((m, m)).astype(dtype), rng.standard_normal((m, m)).astype(dtype)
    return {i: a @ b for i, (a, b) in enumerate(code.encode(A, B))}, A.astype(float) @ B.astype(
        float
    )


def _flat(x) -> np.ndarray:
    return np.concatenate([np.ravel(v) for v in x]) if isinstance(x, list) else np.ravel(x)


def _error(got, expected) -> float:
    g, e = _flat(got).astype(float), _flat(expected).astype(float)
    return float(np.linalg.norm(g - e) / np.linalg.norm(e))


def _straggler_sets(n, s, rng, samples):
    k = n - s
    if math.comb(n, k) <= 40000:
        return list(itertools.combinations(range(n), k))
    consecutive = [tuple(sorted(set(range(n)) - {(j + t) % n for t in range(s)})) for j in range(n)]
    randoms = [tuple(sorted(rng.choice(n, k, replace=False))) for _ in range(samples)]
    return consecutive + randoms


def _worst_error(code, sets, dtype, size):
    """Worst relative error over ``sets``; "refused" if the code raises IllConditionedError."""
    responses, exact = _run(code, np.random.default_rng(1), dtype, size)
    try:
        return max(_error(code.decode({i: responses[i] for i in S}), exact) for S in sets)
    except coded.IllConditionedError:
        return "refused"


def conditioning(ns, stragglers, samples, size):
    rows = []
    for name, build in FAMILIES.items():
        if not hasattr(coded, name):
            print(f"(skipping {name}: not in this version of coded)")
            continue
        for n, s in itertools.product(ns, stragglers):
            code = build(n, s)
            if code is None or code.recovery_threshold > n - s or not code.is_real:
                continue
            rng = np.random.default_rng(n * 7 + s)
            sets = [S for S in _straggler_sets(n, s, rng, samples) if code.can_decode(S)]
            cond = max(code.condition_number(S) for S in sets)
            err64 = _worst_error(code, sets, np.float64, size)
            err32 = _worst_error(code, sets, np.float32, size)
            rows.append(
                dict(
                    code=repr(code).split("(")[0],
                    n=n,
                    s=s,
                    threshold=code.recovery_threshold,
                    sets=len(sets),
                    worst_cond=cond,
                    worst_err_f64=err64,
                    worst_err_f32=err32,
                )
            )
    print_table("Worst case over straggler sets (relative Frobenius error)", rows)
    return rows


def _best_of(fn, repeat):
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _time_code(code, A, B, repeat) -> dict:
    """Encode, one worker's product, and decode (cold: first time for this worker set; warm)."""
    two = not isinstance(code, coded.MDSCode)
    operands = (A, B) if two else (A,)
    t_encode = _best_of(lambda: code.encode(*operands), repeat)
    shares = code.encode(*operands)
    products = [a @ b for a, b in shares] if two else [share @ B for share in shares]
    t_worker = _best_of(lambda: shares[0][0] @ shares[0][1] if two else shares[0] @ B, repeat)
    used = {i: products[i] for i in range(code.n - code.recovery_threshold, code.n)}
    t_cold = _best_of(lambda: code.decode(used), 1)  # builds and caches this set's decoder
    t_warm = _best_of(lambda: code.decode(used), repeat)
    return dict(
        code=repr(code),
        encode_s=t_encode,
        worker_product_s=t_worker,
        decode_cold_s=t_cold,
        decode_s=t_warm,
        decode_over_worker=t_warm / t_worker,
    )


def speed(size, repeat):
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    uncoded = _best_of(lambda: A @ B, repeat)
    codes = [
        coded.MDSCode(8, 6),
        coded.PolynomialCode(8, 2, 3),
        coded.MatDotCode(8, 3),
        coded.EntangledPolynomialCode(8, 2, 1, 2),
    ]
    rows = [dict(_time_code(code, A, B, repeat), uncoded_s=uncoded) for code in codes]
    print_table(f"Speed, {size} x {size} @ {size} x {size} (best of {repeat})", rows)
    return rows


def _gf_row(p, size, repeat) -> dict:
    GF = coded.PrimeField(p).galois_field
    a, b = GF.Random((size, size), seed=1), GF.Random((size, size), seed=2)
    a_np, b_np = a.view(np.ndarray).astype(np.int64), b.view(np.ndarray).astype(np.int64)
    af, bf = a_np.astype(float), b_np.astype(float)
    t_ours = _best_of(lambda: coded.gf_matmul(a_np, b_np, p), repeat)
    slow = p > 2**26  # galois falls back to int64 matmul: minutes at 2048, timed up to 1024
    t_galois = _best_of(lambda: a @ b, 1 if slow else repeat) if size <= 1024 or not slow else None
    t_blas = _best_of(lambda: af @ bf, repeat)
    check = slice(None, 256)  # the oracle on a corner keeps the check cheap for large p
    expected = (a[check] @ b).view(np.ndarray)
    if not np.array_equal(coded.gf_matmul(a_np[check], b_np, p), expected):
        raise AssertionError(f"gf_matmul disagrees with galois for p={p}")
    return dict(
        p=p,
        size=size,
        gf_matmul_s=t_ours,
        galois_s=t_galois if t_galois else "n/a",
        float64_blas_s=t_blas,
        gf_matmul_gflops=2 * size**3 / 1e9 / t_ours,
        speedup_vs_galois=t_galois / t_ours if t_galois else "n/a",
        slowdown_vs_blas=t_ours / t_blas,
    )


def gf_throughput(sizes, primes, repeat):
    rows = [_gf_row(p, size, repeat) for p, size in itertools.product(primes, sizes)]
    print_table("Exact GF(p) products: coded.gf_matmul vs galois vs float64 BLAS", rows)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    parser.add_argument("--out", default="results/codes.json")
    args = parser.parse_args(argv)
    if args.quick:
        speed_rows = speed(256, 2)
        cond_rows = conditioning([8, 16], [1, 2], 50, 16)
        gf_rows = gf_throughput([128], [65537, 2**31 - 1], 2)
    else:
        speed_rows = speed(4096, 3)
        cond_rows = conditioning([8, 16, 32], [1, 2, 3, 4], 500, 64)
        gf_rows = gf_throughput([512, 1024, 2048], [65537, 2**31 - 1], 3)
    write_json(args.out, {"speed": speed_rows, "conditioning": cond_rows, "gf_matmul": gf_rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
