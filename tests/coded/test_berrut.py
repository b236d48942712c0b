"""BerrutCode: the contract (errors within the code's own bound), the approximation's trend
in the number of responses, exact cases, the interpolants against direct formulas, errors."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

import coded
from coded import BerrutCode
from coded.berrut import berrut_matrix

from .contract import Case, contract_tests, relative_error

W = np.random.default_rng(99).standard_normal((3, 2)) / np.sqrt(3)
FUNCTIONS = {
    "tanh": lambda X: np.tanh(X @ W),
    "exp": lambda X: np.exp(0.5 * X),
    "square": lambda X: X * X + X,
    "identity": lambda X: X,
}
GRID = np.linspace(-1.0, 1.0, 4001)


def _derivative_bounds(code, blocks, f) -> tuple[float, float]:
    """Bounds on ``|g′|`` and ``|g″|`` over every entry of ``g = f∘u`` on [−1, 1]: finite
    differences on a fine grid, times 1.1 for what the grid misses."""
    u = np.tensordot(berrut_matrix(GRID, code.betas), np.stack(blocks), axes=1)
    g = np.stack([f(x) for x in u]).reshape(len(GRID), -1)
    h = GRID[1] - GRID[0]
    slope = np.abs(np.diff(g, axis=0)).max() / h
    curvature = np.abs(np.diff(g, 2, axis=0)).max() / h**2
    return 1.1 * slope, 1.1 * curvature


def _case(n: int, k: int, name: str) -> Case:
    """A case on fixed data (its ``f∘u`` derivatives are measured once), allowed the code's
    own :meth:`~coded.BerrutCode.error_estimate` for those derivatives."""
    f, code = FUNCTIONS[name], BerrutCode(n, k)
    blocks = list(np.random.default_rng(10 * n + k).standard_normal((k, 4, 3)))
    slope, curvature = _derivative_bounds(code, blocks, f)

    def run(code, rng):
        shares = code.encode(blocks)
        return {i: f(s) for i, s in enumerate(shares)}, [f(b) for b in blocks]

    def bound(code, used):
        return code.error_estimate(used, slope=slope, curvature=curvature)

    return Case(f"Berrut({n},{k})-{name}", code, run, rtol=1e-12, bound=bound)


CASES = [
    _case(n, k, name)
    for n, k, name in [
        (1, 1, "tanh"),
        (2, 1, "exp"),
        (3, 1, "square"),  # α_1 = β_0 = cos(π/2)
        (5, 2, "identity"),
        (8, 4, "tanh"),
        (9, 4, "exp"),  # α_1 = β_0 = cos(π/8)
        (4, 6, "square"),  # more blocks than workers
        (16, 4, "tanh"),
        (32, 8, "exp"),
    ]
]


@contract_tests(CASES)
def test_contract(case, check):
    check(case)


def _problem(code, rng, shape=(6, 5)):
    """Responses ``tanh(share @ V)`` of every worker and the exact ``tanh(X_j @ V)``."""
    V = rng.standard_normal((shape[1], 3)) / np.sqrt(shape[1])
    blocks = [rng.standard_normal(shape) for _ in range(code.k)]
    shares = code.encode(blocks)
    return {i: np.tanh(s @ V) for i, s in enumerate(shares)}, [np.tanh(b @ V) for b in blocks]


def _ranks(x) -> np.ndarray:
    return np.argsort(np.argsort(x)).astype(float)


def _spearman(x, y) -> float:
    return float(np.corrcoef(_ranks(x), _ranks(y))[0, 1])


def _assert_falls(means):
    """``means[s − 1]`` falls with s within each parity, and overall: an odd number of
    responses leaves one slope term unpaired (:meth:`~coded.BerrutCode.error_estimate`), so
    odd s trail the even s around them."""
    sizes, means = np.arange(1, len(means) + 1), np.asarray(means)
    for parity in (0, 1):
        assert _spearman(sizes[parity::2], means[parity::2]) < -0.9, means
    assert _spearman(sizes, means) < -0.8, means


@pytest.mark.parametrize(
    "n,k,per_size,fall",
    [(8, 2, None, 10), (8, 4, None, 5), (16, 2, 200, 10), (16, 4, 200, 10)],
)
def test_error_falls_with_the_number_of_responses(n, k, per_size, fall):
    """Mean relative error over every subset (n = 8) or 200 random ones of each size s.
    Measured (3 seeds): from s = 1 to s = n it falls 40–70× (8, 2), 9× (8, 4), 88–97×
    (16, 2), 18–19× (16, 4); Spearman −1 within each parity, −0.86 to −0.99 overall."""
    code, rng = BerrutCode(n, k), np.random.default_rng(n + k)
    responses, exact = _problem(code, rng)
    means = []
    for size in range(1, n + 1):
        sets = (
            list(itertools.combinations(range(n), size))
            if per_size is None
            else [tuple(rng.choice(n, size, replace=False)) for _ in range(per_size)]
        )
        errors = [relative_error(code.decode({i: responses[i] for i in s}), exact) for s in sets]
        means.append(np.mean(errors))
    _assert_falls(means)
    assert means[-1] * fall < means[0], means


def test_error_estimate_falls_with_the_number_of_responses():
    """Measured: Spearman −1 within each parity, −0.87 to −0.91 overall; all 16 responses
    narrow the bound of their first two at least 6.6×."""
    code, rng = BerrutCode(16, 4), np.random.default_rng(5)
    _assert_falls(
        [
            np.mean([code.error_estimate(rng.choice(16, s, replace=False)) for _ in range(100)])
            for s in range(1, 17)
        ]
    )
    for _ in range(20):
        order = rng.permutation(16)
        assert code.error_estimate(order) < code.error_estimate(order[:2]) / 4


def test_one_response_is_copied_to_every_block():
    code, rng = BerrutCode(8, 4), np.random.default_rng(0)
    responses, _ = _problem(code, rng)
    for i, response in responses.items():
        decoded = code.decode({i: response.astype(np.float32)})
        assert all(
            d.dtype == np.float32 and np.array_equal(d, response.astype(np.float32))
            for d in decoded
        )


def test_one_response_errs_by_its_distance_times_the_slope():
    """k = 2: u is the line through (β_0, X_0), (β_1, X_1); for f = identity the bound
    ``slope · max_j |α − β_j|`` is attained."""
    code = BerrutCode(8, 2)
    X = [np.array([1.0, -2.0]), np.array([3.0, 0.5])]
    shares = code.encode(X)
    slope = np.abs(X[0] - X[1]).max() / (code.betas[0] - code.betas[1])
    for i in range(8):
        error = max(
            np.abs(d - x).max() for d, x in zip(code.decode({i: shares[i]}), X, strict=True)
        )
        assert error == pytest.approx(code.error_estimate([i], slope=slope, curvature=0))


@pytest.mark.parametrize("workers", [(0, 1), (2, 5), (0, 3, 4, 7), range(8)])
def test_an_even_number_of_responses_decodes_a_line_exactly(workers):
    """Σ_m (−1)^m vanishes for even r, so Berrut reproduces linear functions of z: with
    k = 2 (u linear) f = identity decodes exactly, and the bound (curvature 0) says so."""
    code = BerrutCode(8, 2)
    X = [np.arange(6.0).reshape(2, 3), np.ones((2, 3))]
    shares = code.encode(X)
    decoded = code.decode({i: shares[i] for i in workers})
    np.testing.assert_allclose(decoded, X, rtol=1e-13, atol=1e-13)
    assert code.error_estimate(workers, slope=5.0, curvature=0.0) == 0


def test_constants_decode_exactly_from_every_set():
    code = BerrutCode(8, 3)
    code.encode([np.zeros((2, 2))] * 3)
    constant = np.array([[1.5, -2.0], [0.25, 3.0]])
    for size in range(1, 9):
        for workers in itertools.combinations(range(8), size):
            for decoded in code.decode(dict.fromkeys(workers, constant)):
                np.testing.assert_allclose(decoded, constant, rtol=1e-14)


def _berrut(t, nodes, values):
    """Berrut's interpolant at t, term by term (nodes in order along the line)."""
    if t in nodes:
        return values[list(nodes).index(t)]
    weights = [(-1) ** m / (t - x) for m, x in enumerate(nodes)]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def test_shares_and_decodes_match_the_formulas():
    code, rng = BerrutCode(7, 3), np.random.default_rng(1)
    X = [rng.standard_normal(4) for _ in range(3)]
    np.testing.assert_allclose(code.alphas, np.cos(np.arange(7) * np.pi / 6))
    np.testing.assert_allclose(code.betas, np.cos(np.array([1, 3, 5]) * np.pi / 6))
    shares = code.encode(X)
    for alpha, share in zip(code.alphas, shares, strict=True):
        np.testing.assert_allclose(share, _berrut(alpha, code.betas, X), rtol=1e-13)
    for workers in [(0,), (1, 4), (0, 2, 3, 6), range(7)]:
        points, values = code.alphas[list(workers)], [np.sin(shares[i]) for i in workers]
        decoded = code.decode(dict(zip(workers, values, strict=True)))
        for beta, d in zip(code.betas, decoded, strict=True):
            np.testing.assert_allclose(d, _berrut(beta, points, values), rtol=1e-12)


def test_the_encoder_interpolates_the_data():
    """u(β_j) = X_j; for n = 9, k = 4 worker 1 sits on β_0 and holds X_0 itself."""
    betas = BerrutCode(4, 5).betas
    np.testing.assert_array_equal(berrut_matrix(betas, betas), np.eye(5))
    code = BerrutCode(9, 4)
    assert code.alphas[1] == code.betas[0]
    X = [np.full((2, 2), float(j)) for j in range(4)]
    shares = code.encode(X)
    np.testing.assert_array_equal(shares[1], X[0])
    f = FUNCTIONS["exp"]
    assert np.array_equal(code.decode({i: f(s) for i, s in enumerate(shares)})[0], f(X[0]))


def test_one_worker_sits_in_the_middle():
    code = BerrutCode(1, 3)
    assert code.alphas == pytest.approx([0.0]) and code.alphas[0] == code.betas[1]
    shares = code.encode([np.zeros(2), np.ones(2), np.full(2, 2.0)])
    np.testing.assert_array_equal(shares[0], np.ones(2))


def test_parameters_config_and_condition_number():
    code = BerrutCode(8, 4)
    assert (code.n, code.k, code.recovery_threshold) == (8, 4, 1)
    assert code.work_share == 1 / 4 and code.storage == (1 / 4,) and code.operands is None
    assert repr(code) == "BerrutCode(n=8, k=4)"
    assert code.get_config() == {"type": "BerrutCode", "n": 8, "k": 4}
    assert coded.code_from_config({"type": "BerrutCode", "n": 8, "k": 4}) == code
    assert pickle.loads(pickle.dumps(code)) == code and not code.field.exact
    assert code.select([5, 1, 3]) == (1, 3, 5)  # every response
    assert (code.decoding_margin([]), code.decoding_margin([2, 6, 7])) == (-1, 2)
    assert code.condition_number([3]) == 1.0
    lebesgue = np.abs(code._decoding_matrix((0, 1))).sum(axis=1).max()
    assert code.condition_number([0, 1]) == lebesgue > 1
    np.testing.assert_allclose(code._decoding_matrix(tuple(range(8))).sum(axis=1), 1.0)


def test_the_conditioning_guard_uses_the_lebesgue_constant():
    code, rng = BerrutCode(16, 4), np.random.default_rng(2)
    responses, exact = _problem(code, rng)
    arrived = {i: responses[i].astype(np.float32) for i in (0, 1)}  # extrapolates to the β
    code.decode(arrived)
    code.accuracy = 0.5 * code.condition_number(arrived) * np.finfo(np.float32).eps
    with pytest.raises(coded.IllConditionedError, match="with float32 responses"):
        code.decode(arrived)
    code.decode({i: responses[i] for i in (0, 1)})  # float64 is within it


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Argument 'n' must be at least 1, not 0\."):
        BerrutCode(0, 2)
    with pytest.raises(ValueError, match=r"Argument 'k' must be at least 1, not 0\."):
        BerrutCode(4, 0)
    with pytest.raises(TypeError, match=r"Argument 'k' must be an integer"):
        BerrutCode(4, 2.5)
    with pytest.raises(TypeError, match="field"):
        BerrutCode(4, 2, field=7)  # real only: no field argument
    with pytest.raises(ValueError, match="unknown parameter 'field' for BerrutCode"):
        coded.code_from_config({"type": "BerrutCode", "n": 4, "k": 2, "field": "real"})
    code = BerrutCode(4, 2)
    with pytest.raises(coded.NotEncodedError):
        code.decode({0: np.ones(2)})
    with pytest.raises(ValueError, match=r"Argument 'blocks' must hold k=2 arrays, not 3\."):
        code.encode([np.ones(2)] * 3)
    with pytest.raises(ValueError, match=r"Argument 'blocks\[1\]' must have the shape \(2,\)"):
        code.encode([np.ones(2), np.ones(3)])
    with pytest.raises(TypeError, match=r"Argument 'blocks\[0\]' must be real-valued"):
        code.encode([np.ones(2) * 1j, np.ones(2)])
    with pytest.raises(coded.NotDecodableError, match="cannot decode from 0 responses"):
        code.error_estimate([])
    with pytest.raises(ValueError, match="unknown worker index 4"):
        code.error_estimate([0, 4])
    with pytest.raises(ValueError, match=r"Argument 'slope' must be at least 0, not -1\."):
        code.error_estimate([0], slope=-1)
    shares = code.encode([np.ones(2), np.zeros(2)])
    with pytest.raises(NotImplementedError, match="does not support correct"):
        code.correct(dict(enumerate(shares)), byzantine=1)
