"""The LCC paper's least-squares gradient on real data quantised into GF(p), 2 of 12 workers slow.

    python examples/lagrange_gradient.py            # a local Ray with 12 workers, ~10 s

The gradient of ``½‖Xw − y‖²`` is ``Σ_j X_jᵀ(X_j w − y_j)`` over data blocks ``[X_j | y_j]``:
degree 2 in the data, so Lagrange coded computing (``LagrangeCode(12, 5, degree=2)``) lets
each of 12 workers compute it on one coded block of 1/5 of the rows, and any
(5 − 1)·2 + 1 = 9 answers give all five block gradients: 3 stragglers tolerated.

Data: scikit-learn's diabetes set (442 patients, 10 features), standardised. LCC is exact
over GF(p), p = 2^31 − 1, so the reals become fixed point: ``X_q = round(2^l X)``,
``w_q = round(2^l w)`` and ``y_q = round(2^{2l} y)`` (the scale of ``X w``), and each block's

    G_j = X_qᵀ(X_q w_q − y_q) ≈ 2^{3l} X_jᵀ(X_j w − y_j)

is an integer that GF(p) holds exactly as long as no entry can reach (p − 1)/2 in magnitude.
:func:`largest_scale` picks the largest ``l`` for which the bound

    |G_j[c]| ≤ Σ_i |X_q[i, c]| · (Σ_c' |X_q[i, c']| |w_q[c']| + |y_q[i]|) ≤ (p − 1)/2

holds for every block and column (and :func:`quantise` refuses any larger ``l``). The
workers compute ``G_j`` mod p on their coded blocks; the master decodes, lifts the residues
to (−p/2, p/2), divides by 2^{3l} and sums the blocks. Its error against numpy's exact
gradient comes from the rounding of the inputs alone.

Compared on the same data and the same 12 workers, two of them answering ``--delay``
seconds late every round: gradient coding (``GradientCode(12, s=3)``, cyclic: each
worker holds 4 of 12 partitions, any 9 answers) and uncoded (one partition per worker,
waits for all 12), both in float64 through the runtime's gradient kernel. Each method's
latency is its second round (the first ships the function and the kernel to the workers).

References:
    Q. Yu, S. Li, N. Raviv, S. M. M. Kalan, M. Soltanolkotabi, S. Avestimehr, "Lagrange
    coded computing: optimal design for resiliency, security and privacy", AISTATS 2019,
    arXiv:1806.00939.
    R. Tandon, Q. Lei, A. G. Dimakis, N. Karampatziakis, "Gradient coding: avoiding
    stragglers in distributed learning", ICML 2017, arXiv:1612.03301.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_diabetes

import coded
from coded.losses import LeastSquaresLoss
from coded.workers.delays import FixedDelay
from coded.workers.kernels import Gradient, partition_operands

P = 2**31 - 1


def lsq_gradient(block, w):
    """``X_qᵀ(X_q w_q − y_q) mod p`` of a block ``[X_q | y_q]`` of residues: degree 2 in it."""
    X, y = block[:, :-1], block[:, -1]
    return coded.gf_matmul(X.T, (coded.gf_matmul(X, w, P) + (P - y)) % P, P)


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """The diabetes set, every feature and the target standardised (mean 0, variance 1)."""
    X, y = load_diabetes(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()


def magnitude_bound(blocks, w, scale_bits: int) -> int:
    """The largest ``|G_j[c]|`` (and ``|y_q|``) can reach at ``scale_bits`` (module docstring)."""
    bound = 0
    for X, y in blocks:
        Xq, yq = np.abs(_fixed(X, scale_bits)), np.abs(_fixed(y, 2 * scale_bits))
        wq = np.abs(_fixed(w, scale_bits))
        bound = max(bound, int(yq.max()), int((Xq.T @ (Xq @ wq + yq)).max()))
    return bound


def largest_scale(blocks, w) -> int:
    """The largest ``l`` at which no block's gradient can wrap around mod p."""
    scale_bits = 0
    while magnitude_bound(blocks, w, scale_bits + 1) <= (P - 1) // 2:
        scale_bits += 1
    return scale_bits


def quantise(blocks, w, scale_bits: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The blocks ``[X_q | y_q]`` and ``w_q`` as residues mod p; refuses a scale that could wrap."""
    bound = magnitude_bound(blocks, w, scale_bits)
    if bound > (P - 1) // 2:
        raise ValueError(
            f"Argument 'scale_bits' must be at most {largest_scale(blocks, w)} for this data "
            f"in GF({P}): at {scale_bits} a gradient entry could reach {bound} > (p − 1)/2."
        )
    quantised = [
        np.column_stack([_fixed(X, scale_bits), _fixed(y, 2 * scale_bits)]) % P for X, y in blocks
    ]
    return quantised, _fixed(w, scale_bits) % P


def dequantise(gradients, scale_bits: int) -> np.ndarray:
    """The sum over blocks of the decoded residues, lifted to (−p/2, p/2) and over 2^{3l}."""
    total = sum(np.where(g > (P - 1) // 2, g - P, g) for g in gradients)
    return np.ldexp(np.asarray(total, dtype=np.float64), -3 * scale_bits)


def _fixed(x, scale_bits: int) -> np.ndarray:
    return np.rint(np.ldexp(x, scale_bits)).astype(np.int64)


def compare(rt, X, y, w, k: int = 5, s: int = 3) -> list[dict]:
    """One round of each method on ``rt``'s workers: the rows of the comparison table."""
    n, exact = rt.n, X.T @ (X @ w - y)
    pad = -len(y) % k  # zero rows, which add nothing to a gradient, make k equal blocks
    padded = np.vstack([X, np.zeros((pad, X.shape[1]))]), np.concatenate([y, np.zeros(pad)])
    blocks = list(zip(*(np.split(a, k) for a in padded), strict=True))
    scale_bits = largest_scale(blocks, w)
    shares, w_q = quantise(blocks, w, scale_bits)
    code = coded.LagrangeCode(n, k, degree=2, field=P)
    with rt.place_map(lsq_gradient, shares, code=code) as job:
        job.run(w_q)  # the first round ships f to the workers: time the second
        lcc = dequantise(job.run(w_q), scale_bits)
        rows = [_row(f"Lagrange GF(p), l={scale_bits}", code, f"1/{k}", job.metrics, lcc, exact)]
    partitions = [(X[r], y[r]) for r in np.array_split(np.arange(len(y)), n)]
    for name, gc in (
        (f"gradient code s={s}", coded.GradientCode(n, s)),
        ("uncoded", coded.GradientCode(n, 0, "fractional")),
    ):
        shards = [partition_operands(partitions, held) for held in gc.assignment]
        with rt.place_job(shards, Gradient(LeastSquaresLoss(), gc), gc) as job:
            job.run(w, 0)
            gradient = job.run(w, 0)[:-1]  # [gradient, loss]: the loss rides along
            rows.append(_row(name, gc, f"{gc.s + 1}/{n}", job.metrics, gradient, exact))
    return rows


def _row(method: str, code, work: str, metrics, gradient, exact) -> dict:
    return {
        "method": method,
        "tolerates": code.n - code.recovery_threshold,
        "work/worker": work,
        "latency ms": 1e3 * metrics.total_s,
        "answers used": len(metrics.used),
        "max rel. error": float(np.abs(gradient - exact).max() / np.abs(exact).max()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--k", type=int, default=5, help="Lagrange data blocks")
    parser.add_argument("--s", type=int, default=3, help="stragglers the gradient code tolerates")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds the 2 slow workers lag")
    args = parser.parse_args(argv)

    X, y = load_data()
    w = 0.5 * np.linalg.lstsq(X, y, rcond=None)[0]  # halfway to the fit: a gradient far from 0
    slow = (2, args.n // 2 + 1)
    with coded.Runtime(args.n, delays=FixedDelay(args.delay, workers=slow)) as rt:
        rows = compare(rt, X, y, w, k=args.k, s=args.s)
    print(
        f"\nleast-squares gradient on the diabetes data ({X.shape[0]} × {X.shape[1]}), "
        f"n={args.n} workers, {slow} answer {args.delay:g} s late"
    )
    width = {c: max(len(c), *(len(_cell(r[c])) for r in rows)) for c in rows[0]}
    print("  ".join(c.rjust(width[c]) for c in rows[0]))
    for row in rows:
        print("  ".join(_cell(v).rjust(width[c]) for c, v in row.items()))
    print(
        "Lagrange's error is the fixed-point rounding of X, y and w (GF(p) arithmetic is "
        "exact); the others' is float64 rounding."
    )
    return 0


def _cell(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    raise SystemExit(main())
