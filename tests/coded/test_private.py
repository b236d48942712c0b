"""PrivatePolynomialCode and private_matmul: contract, exact decoding against galois, the
threshold formula, and T-privacy (structurally, and statistically over the masks)."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coded
from coded import PrivatePolynomialCode, private_matmul
from coded.scheduler.pool import InProcessPool

from .contract import Case, contract_tests

P = 65537


def _oracle(A, B, p):
    """``A @ B`` over GF(p) by galois, independent of gf_matmul."""
    GF = coded.PrimeField(p).galois_field
    return (GF(A) @ GF(B)).view(np.ndarray).astype(np.int64)


def _product(shape):
    def run(code, rng):
        p = code.field.p
        A, B = rng.integers(0, p, shape[:2]), rng.integers(0, p, shape[1:])
        pairs = code.encode(A, B, rng=rng)
        return {i: coded.gf_matmul(a, b, p) for i, (a, b) in enumerate(pairs)}, _oracle(A, B, p)

    return run


def _case(n, a, b, t, p=P, shape=(13, 11, 7)):
    code = PrivatePolynomialCode(n, a, b, t, field=p)
    return Case(f"Private({n},{a},{b},T={t})-GF({p})", code, _product(shape))


CASES = [
    _case(3, 1, 1, 1),
    _case(6, 1, 1, 2),
    _case(8, 2, 1, 2),
    _case(9, 2, 2, 1),
    _case(15, 3, 2, 2),
    _case(16, 1, 3, 4),
    _case(5, 2, 2, 0),
    _case(10, 2, 1, 2, p=11),
    _case(12, 2, 2, 1, p=257, shape=(4, 30, 5)),
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


def _gasp_big(a, b, t):
    """Number of servers of GASP_big (D'Oliveira, El Rouayheb, Karpuk, Theorem 3)."""
    if t == 0:
        return a * b
    K, L = max(a, b), min(a, b)
    return (K + t) * (L + 1) - 1 if t < K else 2 * K * L + 2 * t - 1


@pytest.mark.parametrize("a,b", [(a, b) for a in range(1, 6) for b in range(1, 6)])
def test_threshold_and_exponents(a, b):
    """Every wanted sum α_j + β_l is reached by no other pair; masks sit at consecutive
    exponents; the threshold is GASP_big's and every power below it may occur."""
    for t in range(7):
        threshold = _gasp_big(a, b, t)
        code = PrivatePolynomialCode(threshold, a, b, t, field=P)
        assert code.recovery_threshold == threshold
        alpha, beta = code.exponents
        assert len(alpha) == a + t and len(beta) == b + t
        sums = [x + y for x in alpha for y in beta]
        assert max(sums) == threshold - 1
        wanted = [alpha[j] + beta[k] for j in range(a) for k in range(b)]
        assert all(sums.count(w) == 1 for w in wanted), (a, b, t)
        for masks in (alpha[a:], beta[b:]) if t else ():
            assert list(masks) == list(range(masks[0], masks[0] + t))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_any_t_workers_hold_an_invertible_mask_system(case):
    """The exact privacy criterion: at any T workers, the shares are ``data + M · masks`` with
    M (T × T, the mask columns of the generator) invertible over GF(p) — checked by galois —
    so for each data the shares are a bijection of the uniform masks."""
    code = case.code
    t, p = code.privacy, code.field.p
    if t == 0:
        pytest.skip("no privacy asked")
    GF = code.field.galois_field
    points = GF(code.points % p)
    for exponents, data in zip(code.exponents, (code.a_blocks, code.b_blocks), strict=True):
        mask_exponents = exponents[data:]
        for workers in itertools.islice(itertools.combinations(range(code.n), t), 500):
            M = np.stack([points[list(workers)] ** e for e in mask_exponents], axis=1)
            assert np.linalg.matrix_rank(M) == t, (workers, mask_exponents)


# -- statistical privacy ------------------------------------------------------------------
def _chi2_critical(df: int, alpha: float = 1e-6) -> float:
    """Upper alpha-quantile of chi-square(df), Wilson–Hilferty (accurate for df ≳ 30)."""
    z = {1e-6: 4.7534}[alpha]
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def _cells(view: np.ndarray, p: int) -> np.ndarray:
    """Counts of each row of ``view`` (samples × values in [0, p)) among the p^width cells."""
    index = view @ (p ** np.arange(view.shape[1]))
    return np.bincount(index, minlength=p ** view.shape[1])


def _uniformity(counts: np.ndarray) -> float:
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum())


def _homogeneity(first: np.ndarray, second: np.ndarray) -> float:
    """Two-sample chi-square statistic (equal sample sizes), df = cells − 1."""
    total = first + second
    seen = total > 0
    return float(((first - second)[seen] ** 2 / total[seen]).sum())


def _views(code, A, B, workers, rng=None):
    """Sample s of the views of ``workers``: their shares of entry s of A's and B's blocks."""
    pairs = code.encode(A, B, rng=rng)
    columns = [pairs[i][0].ravel() for i in workers] + [pairs[i][1].ravel() for i in workers]
    return np.stack(columns, axis=1)


def _data(p, samples, a, b, kind, rng):
    """A (a·samples × 1) and B (1 × b·samples): every entry of a block is one sample."""
    if kind == "zero":
        return np.zeros((a * samples, 1), np.int64), np.zeros((1, b * samples), np.int64)
    if kind == "constant":
        return np.full((a * samples, 1), p - 1), np.full((1, b * samples), 3)
    return rng.integers(0, p, (a * samples, 1)), rng.integers(0, p, (1, b * samples))


@pytest.mark.parametrize(
    "n,a,b,p,samples",
    [(6, 1, 1, 7, 24010), (8, 2, 1, 11, 24010)],
    ids=["GF(7)-a1b1", "GF(11)-a2b1"],
)
def test_any_t_workers_shares_are_uniform_whatever_the_data(n, a, b, p, samples):
    """Chi-square (fixed seeds, significance 1e-6) over the masks: for every T-subset the joint
    shares of A and of B are uniform, and the same for three different data."""
    code = PrivatePolynomialCode(n, a, b, privacy=2, field=p)
    data_rng = np.random.default_rng(7)
    kinds = ("zero", "constant", "random")
    datasets = {kind: _data(p, samples, a, b, kind, data_rng) for kind in kinds}
    views = {
        kind: _views(code, *operands, range(n), rng=seed)
        for seed, (kind, operands) in enumerate(datasets.items())
    }
    for workers in itertools.combinations(range(n), 2):
        # the view of two workers: A-shares of both, B-shares of both (p^4 cells, or per operand)
        columns = [list(workers), [n + w for w in workers]]
        if p**4 * 5 <= samples:
            columns = [columns[0] + columns[1]]
        for cols in columns:
            counts = {kind: _cells(view[:, cols], p) for kind, view in views.items()}
            critical = _chi2_critical(p ** len(cols) - 1)
            for kind, count in counts.items():
                assert _uniformity(count) < critical, (workers, cols, kind)
            assert _homogeneity(counts["zero"], counts["random"]) < critical, (workers, cols)


def test_t_plus_one_workers_do_recover_the_data():
    """Sanity: the privacy is tight. T + 1 workers interpolate A (degree-T sharing), and the
    same chi-square statistic tells A = 0 from random A at once."""
    p, samples, n = 7, 24010, 6
    code = PrivatePolynomialCode(n, 1, 1, privacy=2, field=p)
    rng = np.random.default_rng(3)
    zero = _views(code, *_data(p, samples, 1, 1, "zero", rng), range(n), rng=5)
    A, B = _data(p, samples, 1, 1, "random", rng)
    random = _views(code, A, B, range(n), rng=6)
    workers = [0, 2, 5]
    assert code.exponents[0] == (0, 1, 2)  # Ã(x) = A + R_1 x + R_2 x^2: interpolate at x = 0
    GF = code.field.galois_field
    V = GF(code.points[workers][:, None] % p) ** np.arange(3)
    recovered = (np.linalg.inv(V)[0] @ GF(random[:, workers].T)).view(np.ndarray)
    np.testing.assert_array_equal(recovered, A.ravel())
    critical = _chi2_critical(p**3 - 1)
    assert _homogeneity(_cells(zero[:, workers], p), _cells(random[:, workers], p)) > critical


def test_masks_from_the_os_are_uniform_and_fresh(monkeypatch):
    """rng=None draws masks with os.urandom: fresh each call; words at or above the largest
    multiple of p are redrawn; the result is uniform (chi-square on a seeded stand-in)."""
    code = PrivatePolynomialCode(6, 1, 1, privacy=2, field=7)
    A, B = np.zeros((2000, 1), np.int64), np.zeros((1, 2000), np.int64)
    first, second = code.encode(A, B), code.encode(A, B)
    assert not np.array_equal(first[0][0], second[0][0])

    source = np.random.default_rng(0)
    calls = []

    def urandom(size):
        calls.append(size)
        if len(calls) == 1:  # the first draw: every word must be redrawn
            return b"\xff" * size
        return source.integers(0, 256, size, dtype=np.uint8).tobytes()

    monkeypatch.setattr(os, "urandom", urandom)
    view = _views(code, np.zeros((24010, 1), np.int64), np.zeros((1, 24010), np.int64), [1, 4])
    assert len(calls) >= 2 and calls[1] == calls[0]
    assert _uniformity(_cells(view, 7)) < _chi2_critical(7**4 - 1)


# -- exact decoding -----------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)),
    blocks=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    privacy=st.integers(0, 3),
    p=st.sampled_from([11, 257, 65537, 2**31 - 1]),
    extra=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_decodes_exactly_as_galois(shape, blocks, privacy, p, extra, seed):
    a, b = blocks
    threshold = _gasp_big(a, b, privacy)
    if threshold + extra > p - 1:
        return
    code = PrivatePolynomialCode(threshold + extra, a, b, privacy, field=p)
    rng = np.random.default_rng(seed)
    m, k, q = shape
    A, B = rng.integers(0, p, (m, k)), rng.integers(0, p, (k, q))
    pairs = code.encode(A, B, rng=rng)
    arrived = rng.choice(code.n, threshold + rng.integers(0, extra + 1), replace=False)
    got = code.decode({int(i): coded.gf_matmul(*pairs[int(i)], p) for i in arrived})
    assert got.dtype == np.int64 and got.shape == (m, q)
    np.testing.assert_array_equal(got, _oracle(A, B, p))


def test_work_and_storage():
    code = PrivatePolynomialCode(16, 2, 3, privacy=2, field=P)
    assert code.work_share == pytest.approx(1 / 6) and code.storage == (0.5, pytest.approx(1 / 3))
    (share_a, share_b), *_ = code.encode(np.ones((40, 9), int), np.ones((9, 30), int), rng=0)
    assert share_a.shape == (20, 9) and share_b.shape == (9, 10)


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: PrivatePolynomialCode(8, 1, 1, 1, field="real"), ValueError, "must be a prime p"),
        (
            lambda: PrivatePolynomialCode(11, 1, 1, 1, field=11),
            ValueError,
            r"Argument 'n' must be at most p - 1 = 10 over GF\(11\) .*, not 11",
        ),
        (
            lambda: PrivatePolynomialCode(10, 2, 2, 2),
            ValueError,
            "Argument 'n' must be at least the recovery threshold 11, not 10",
        ),
        (lambda: PrivatePolynomialCode(8, 1, 1, -1), ValueError, "'privacy' must be at least 0"),
        (lambda: PrivatePolynomialCode(8, 0, 1, 1), ValueError, "'a_blocks' must be at least 1"),
        (lambda: PrivatePolynomialCode(8, 1, 1, 1.5), TypeError, "'privacy' must be an integer"),
        (lambda: private_matmul(np.ones((2, 2)), np.ones((2, 2)), privacy=1), ValueError, "'n'"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_operands():
    code = PrivatePolynomialCode(5, 1, 1, 2, field=11)
    with pytest.raises(ValueError, match=r"Argument 'A' must have entries in \[0, 11\)"):
        code.encode(np.full((2, 2), 11), np.ones((2, 2), int))
    with pytest.raises(TypeError, match="Argument 'B' must be an integer array"):
        code.encode(np.ones((2, 2), int), np.ones((2, 2)))
    with pytest.raises(ValueError, match="matching inner dimensions"):
        code.encode(np.ones((2, 3), int), np.ones((2, 2), int))


# -- on the runtime (in-process workers) ----------------------------------------------------
def test_runs_on_the_runtime_in_process():
    rng = np.random.default_rng(0)
    code = PrivatePolynomialCode(8, 2, 1, privacy=2, field=P)
    A, B = rng.integers(0, P, (30, 20)), rng.integers(0, P, (20, 10))
    X, Y = rng.uniform(-1, 1, (30, 20)), rng.uniform(-1, 1, (20, 10))
    with coded.Runtime(8, pool=InProcessPool(8)) as rt:
        C, metrics = rt.matmul(A, B, code=code, return_metrics=True)
        out = private_matmul(X, Y, privacy=2, a_blocks=2, runtime=rt)
        with pytest.raises(ValueError, match="Argument 'rng' must be None with a runtime"):
            private_matmul(X, Y, privacy=2, runtime=rt, rng=0)
    np.testing.assert_array_equal(C, _oracle(A, B, P))
    assert len(metrics.used) == code.recovery_threshold == 7
    assert out.code == PrivatePolynomialCode(8, 2, 1, 2, field=2**31 - 1)
    assert len(out.metrics.used) == 7
    assert np.abs(out.value - X @ Y).max() <= out.error_bound < 1e-2


def test_private_matmul_in_process_states_its_error():
    rng = np.random.default_rng(1)
    X, Y = rng.uniform(-4, 4, (17, 33)), rng.uniform(-1, 1, (33, 9))
    out = private_matmul(X, Y, n=12, privacy=2, a_blocks=2, b_blocks=2, rng=2)
    assert out.code.recovery_threshold == 11 and out.metrics is None
    assert out.value.shape == (17, 9) and out.value.dtype == np.float64
    assert np.abs(out.value - X @ Y).max() <= out.error_bound
    coarse = private_matmul(X, Y, n=12, privacy=2, a_blocks=2, b_blocks=2, scale_bits=2, rng=2)
    assert coarse.scale_bits == 2 and coarse.error_bound > 100 * out.error_bound
    assert np.abs(coarse.value - X @ Y).max() <= coarse.error_bound
