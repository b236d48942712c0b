"""Quantised gradient-code messages: how much the decoding coefficients amplify the noise.

    python benchmarks/compressed_gradients.py            # d = 1000, n = 8 (a few seconds)
    python benchmarks/compressed_gradients.py --quick    # d = 200

A gradient code's master decodes ``ĝ = Σ_{i∈S} a_i Q(m_i)`` from the quantised messages
``m_i = Σ_p B_ip g_p`` of the first ``n − s`` workers ``S``. The decode is linear and each
``Q`` unbiased and independent, so exactly

    E‖ĝ − g‖² = Σ_{i∈S} a_i² Var Q(m_i),    Var Q(v) = ‖v‖² Σ_j (ℓ_{j+1} − r_j)(r_j − ℓ_j)

(``QSGD.variance``). Uncoded compression (each worker quantises its own partition's
gradient ``g_p`` and the master sums all ``n``) has ``Σ_p Var Q(g_p)``. Both send messages
of the same length ``d``, hence the same bits per message; the table gives the ratio of
the two expectations (the mean and the worst over every set ``S`` of ``n − s`` workers:
the sets differ, some decode with large coefficients), at the start of least-squares
training (``w = 0``) and at the optimum (the noise floor), and checks the formula against a
Monte Carlo estimate on the first set, ``{0, …, n − s − 1}``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

from coded import GradientCode  # noqa: E402
from coded.compression import NUQSGD, QSGD  # noqa: E402

N = 8
QUANTIZERS = {"QSGD(7)": QSGD(7), "QSGD(2)": QSGD(2), "NUQSGD(3)": NUQSGD(3)}


def partition_gradients(w, X, y, n: int) -> list[np.ndarray]:
    """``g_p = X_pᵀ (X_p w − y_p)`` of each of the ``n`` row partitions."""
    parts = np.array_split(np.arange(len(X)), n)
    return [X[p].T @ (X[p] @ w - y[p]) for p in parts]


def decoding_coefficients(code: GradientCode, used: tuple[int, ...]) -> np.ndarray:
    """``a`` with ``Σ_i a_i m_i = Σ_p g_p`` for the workers ``used`` (decoding unit vectors)."""
    eye = np.eye(len(used))
    return code.decode({i: eye[slot] for slot, i in enumerate(used)})


def expected_errors(quantizer, code: GradientCode, gradients) -> tuple[np.ndarray, float]:
    """``E‖ĝ − g‖²`` exactly: coded, for each set of ``n − s`` workers (the first set
    first), and uncoded."""
    n = code.n
    messages = [code.combine(i, {p: gradients[p] for p in code.assignment[i]}) for i in range(n)]
    variances = np.array([quantizer.variance(m) for m in messages])
    coded = [
        float(decoding_coefficients(code, used) ** 2 @ variances[list(used)])
        for used in itertools.combinations(range(n), code.recovery_threshold)
    ]
    return np.array(coded), sum(quantizer.variance(g) for g in gradients)


def measured_error(quantizer, code: GradientCode, gradients, draws: int) -> float:
    """Monte Carlo ``E‖ĝ − g‖²`` on the first ``n − s`` workers."""
    used = tuple(range(code.recovery_threshold))
    a, g = decoding_coefficients(code, used), sum(gradients)
    messages = [code.combine(i, {p: gradients[p] for p in code.assignment[i]}) for i in used]
    rng = np.random.default_rng(0)
    errors = [
        np.sum(
            (
                sum(
                    ai * quantizer.decompress(quantizer.compress(m, rng))
                    for ai, m in zip(a, messages, strict=True)
                )
                - g
            )
            ** 2
        )
        for _ in range(draws)
    ]
    return float(np.mean(errors))


def run(d: int, draws: int) -> list[dict]:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20 * d, d))
    y = X @ rng.standard_normal(d) + rng.standard_normal(20 * d)
    optimum = np.linalg.lstsq(X, y, rcond=None)[0]
    rows = []
    for point, w in (("start", np.zeros(d)), ("optimum", optimum)):
        gradients = partition_gradients(w, X, y, N)
        for s in (1, 2):
            code = GradientCode(N, s)
            for name, quantizer in QUANTIZERS.items():
                coded, uncoded = expected_errors(quantizer, code, gradients)
                bits = quantizer.message_bits(d)
                rows.append(
                    {
                        "point": point,
                        "s": s,
                        "quantizer": name,
                        "bits_per_message": bits,
                        "vs_float32": bits / (32 * d),
                        "uncoded_E_err": uncoded,
                        "ratio_mean": coded.mean() / uncoded,
                        "ratio_worst": coded.max() / uncoded,
                        "first_set_exact": coded[0],
                        "first_set_measured": measured_error(quantizer, code, gradients, draws),
                        "coded_bytes_iter": (N - s) * bits / 8,
                        "uncoded_bytes_iter": N * bits / 8,
                    }
                )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="d = 200, fewer draws")
    parser.add_argument("--out", default="results/compressed_gradients.json")
    args = parser.parse_args(argv)
    d, draws = (200, 100) if args.quick else (1000, 200)
    rows = run(d, draws)
    print_table(f"E‖ĝ − g‖², coded (cyclic, n = {N}) against uncoded, same bits per message", rows)
    write_json(args.out, {"d": d, "n": N, "draws": draws, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
