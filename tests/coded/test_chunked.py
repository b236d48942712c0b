"""ChunkedMDSCode and its PieceCode: the contract (whole answers and single pieces), partial
work decoded in any arrival order, the galois oracle, conditioning and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded import ChunkedMDSCode
from coded.chunked import PieceCode

from .contract import Case, contract_tests, matvec_responses, relative_error

P = 65537
SHAPES = [(1, 1, 1), (4, 2, 2), (5, 3, 2), (6, 4, 3), (8, 6, 4), (12, 9, 2)]


def _id(n, k, c, field):
    return f"({n},{k},{c})-{'real' if field == 'real' else f'GF({field})'}"


CASES = [
    Case(f"Chunked{_id(n, k, c, f)}", ChunkedMDSCode(n, k, c, field=f), matvec_responses)
    for (n, k, c) in SHAPES
    for f in ("real", P)
] + [
    Case(f"Pieces{_id(n, k, c, f)}", ChunkedMDSCode(n, k, c, field=f).pieces, matvec_responses)
    for (n, k, c) in SHAPES[:-1]
    for f in ("real", P)
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


def _operands(field, rng, rows=61, cols=7, width=2):
    if field == "real":
        A, X = rng.standard_normal((rows, cols)), rng.standard_normal((cols, width))
        return A, X, A @ X, lambda a: a @ X
    A, X = rng.integers(0, P, (rows, cols)), rng.integers(0, P, (cols, width))
    return A, X, coded.gf_matmul(A, X, P), lambda a: coded.gf_matmul(a, X, P)


def _arrival(code, rng) -> list[int]:
    """Pieces in a random arrival order: each worker reports its chunks in its own order,
    at a random speed (or never, for a few)."""
    c = code.chunks
    times = []
    for i in range(code.n):
        speed = rng.exponential() if rng.random() > 0.2 else np.inf
        times += [((j + 1) * (1 + speed), i * c + j) for j in range(c)]
    return [t for when, t in sorted(times) if np.isfinite(when)]


@pytest.mark.parametrize("field", ["real", P], ids=["real", f"GF({P})"])
def test_partial_work_decodes_in_any_arrival_order(field):
    """1000 random arrival orders: the first decodable prefix of pieces (each worker's chunks
    in its order) decodes to the product, exactly over GF(p), within the guard over the reals."""
    rng = np.random.default_rng(14)
    code = ChunkedMDSCode(8, 5, 4, field=field)
    A, _, expected, multiply = _operands(field, rng)
    values = {t: multiply(piece) for t, piece in enumerate(code.pieces.encode(A))}
    worst, trials = 0.0, 0
    while trials < 1000:
        order = _arrival(code, rng)
        first = code.pieces.first_decodable(order)
        if first is None:  # too many workers never answered: nothing to decode
            with pytest.raises(coded.NotDecodableError):
                code.pieces.decode({t: values[t] for t in order})
            continue
        assert first == code.k * code.chunks
        got = code.pieces.decode({t: values[t] for t in order[:first]})
        if field == "real":
            worst = max(worst, relative_error(got, expected))
        else:
            np.testing.assert_array_equal(got, expected)
        trials += 1
    assert worst < 1e-10


def test_any_k_chunks_decode_whoever_sent_them():
    """Arbitrary sets of K pieces (not only per-worker prefixes) decode exactly over GF(p)."""
    rng = np.random.default_rng(3)
    code = ChunkedMDSCode(6, 4, 3, field=P)
    A, _, expected, multiply = _operands(P, rng)
    values = {t: multiply(piece) for t, piece in enumerate(code.pieces.encode(A))}
    for _ in range(200):
        chosen = rng.choice(code.pieces.n, code.pieces.k, replace=False)
        got = code.pieces.decode({int(t): values[int(t)] for t in chosen})
        np.testing.assert_array_equal(got, expected)


def test_matches_galois_oracle():
    GF = coded.PrimeField(P).galois_field
    code = ChunkedMDSCode(5, 3, 2, field=GF)
    A, x = GF.Random((13, 4), seed=1), GF.Random(4, seed=2)
    pieces = code.pieces.encode(A)
    chosen = (9, 0, 3, 4, 7, 8)  # worker 0's and 4's chunks, 1 and 3's second ones, 2's first
    got = code.pieces.decode({t: (GF(pieces[t]) @ x).view(np.ndarray) for t in chosen})
    np.testing.assert_array_equal(got, (A @ x).view(np.ndarray))


def test_parity_is_cauchy_over_gf_p():
    """Every piece is its symbols' combination with the Cauchy row 1/(x_a − y_s) (galois)."""
    GF = coded.PrimeField(P).galois_field
    code = ChunkedMDSCode(4, 2, 2, field=P).pieces
    A = GF.Random((4, 3), seed=5)
    pieces, k = code.encode(A), code.k
    symbols = A.reshape(k, -1, 3)
    for t, piece in enumerate(pieces):
        q = code.rank(t)
        if q < k:
            np.testing.assert_array_equal(piece, symbols[q].view(np.ndarray))
        else:
            row = GF([1]) / (GF(q) - GF(np.arange(k)))
            want = GF.Zeros(symbols[0].shape)
            for s in range(k):
                want += row[s] * symbols[s]
            np.testing.assert_array_equal(piece, want.view(np.ndarray))


def test_every_worker_starts_with_plain_symbols():
    code = ChunkedMDSCode(8, 6, 4)
    first_chunks = [code.pieces.rank(i * 4) for i in range(8)]
    assert first_chunks == list(range(8))  # S_0..S_7, one per worker


@pytest.mark.parametrize("dtype,target", [(np.float64, 1e-11), (np.float32, 1e-4)])
def test_real_errors_at_n32_under_stragglers(dtype, target):
    """n = 32, k = 22, 8 chunks: the first K pieces under shifted-exponential speeds decode
    within the target (float32 responses: within the guard's bound, else refused)."""
    rng = np.random.default_rng(32)
    code = ChunkedMDSCode(32, 22, 8)
    A = rng.standard_normal((32 * 22, 16)).astype(dtype)
    X = rng.standard_normal((16, 2)).astype(dtype)
    exact = A.astype(np.float64) @ X.astype(np.float64)
    values = {t: piece @ X for t, piece in enumerate(code.pieces.encode(A))}
    errors = []
    for _ in range(40):
        factors = 1 + rng.exponential(size=32)
        order = sorted(range(256), key=lambda t: (t % 8 + 1) * factors[t // 8])
        used = order[: 176 + 4]  # a few pieces beyond K arrive with the K-th
        try:
            errors.append(relative_error(code.pieces.decode({t: values[t] for t in used}), exact))
        except coded.IllConditionedError:
            assert dtype == np.float32
    assert len(errors) >= 36 and max(errors) <= target


def test_decode_uses_extra_parities_over_the_reals_only():
    real, exact = ChunkedMDSCode(4, 2, 2).pieces, ChunkedMDSCode(4, 2, 2, field=P).pieces
    every = range(8)  # pieces 0, 2, 4, 6 are the symbols S_0..S_3 (k·chunks = 4)
    assert real.select(every) == exact.select(every) == (0, 2, 4, 6)
    without = [1, 3, 5, 7, 2, 4, 6]  # S_0 missing: 1 parity needed; reals take 1 + 1
    assert len(exact.select(without)) == 4 and len(real.select(without)) == 5


def test_work_share_storage_and_config():
    code = ChunkedMDSCode(8, 6, 4, field=P)
    assert code.work_share == pytest.approx(1 / 6) and code.storage == pytest.approx((1 / 6,))
    assert code.pieces == PieceCode(32, 24, 4, field=P)
    assert coded.code_from_config(code.get_config()) == code
    assert coded.code_from_config(code.pieces.get_config()) == code.pieces
    assert coded.MDSCode(8, 6).pieces is None


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: ChunkedMDSCode(8, 9), "Argument 'k' must be at most n=8, not 9"),
        (lambda: ChunkedMDSCode(8, 4, 0), "Argument 'chunks' must be at least 1, not 0"),
        (lambda: ChunkedMDSCode(8, 0, 2), "Argument 'k' must be at least 1, not 0"),
        (lambda: ChunkedMDSCode(4, 2, 2, field=7), r"n·chunks at most p=7 over GF\(7\)"),
        (lambda: PieceCode(9, 3, 2), "Argument 'n' must be a multiple of chunks=2, not 9"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_rejects_vectors_and_decode_before_encode():
    with pytest.raises(ValueError, match="Argument 'A'"):
        ChunkedMDSCode(3, 2, 2).encode(np.ones(6))
    with pytest.raises(coded.NotEncodedError, match="call encode"):
        ChunkedMDSCode(3, 2, 2).pieces.decode({0: np.zeros(2), 1: np.zeros(2)})
