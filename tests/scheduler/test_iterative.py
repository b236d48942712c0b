"""Power iteration and PageRank on coded rounds: numpy's answers, stragglers never waited
for, histories and plots; most on the in-process pool, one on the session's Ray."""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded import MDSCode
from coded.scheduler.iterative import link_matrix
from coded.scheduler.pool import InProcessPool
from coded.scheduler.runtime import Runtime
from coded.scheduler.training.history import History, plot
from coded.workers.delays import FixedDelay

STRAGGLE = 2.0  # seconds the injected stragglers take; a round takes milliseconds


def symmetric(size: int, ratio: float = 0.5, seed: int = 0) -> np.ndarray:
    """Q diag(λ) Qᵀ with λ₁ = 4 and every other |λ| ≤ 4·ratio: a clear spectral gap."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    spectrum = np.concatenate([[4.0], 4 * ratio * rng.uniform(-1, 1, size - 1)])
    return (Q * spectrum) @ Q.T


def dominant(A: np.ndarray) -> float:
    """numpy's eigenvalue of largest magnitude of a symmetric ``A`` (the oracle)."""
    eigenvalues = np.linalg.eigh(A)[0]
    return float(eigenvalues[np.argmax(np.abs(eigenvalues))])


def exact_pagerank(adjacency: np.ndarray, damping: float) -> np.ndarray:
    """PageRank solved directly: (I − d·G) r = (1 − d)/N·1, G the link matrix with each
    dangling node's column uniform. Written from the definition, not from the module."""
    size = len(adjacency)
    out = adjacency.sum(axis=1)
    G = np.where(out[:, None] > 0, adjacency / np.maximum(out, 1)[:, None], 1 / size).T
    r = np.linalg.solve(np.eye(size) - damping * G, np.full(size, (1 - damping) / size))
    return r / r.sum()


def graph(size: int = 40, seed: int = 0) -> np.ndarray:
    """A random directed graph with weighted links and four dangling nodes."""
    rng = np.random.default_rng(seed)
    adjacency = (rng.random((size, size)) < 0.15) * rng.integers(1, 4, (size, size))
    np.fill_diagonal(adjacency, 0)
    adjacency[[3, 10, 11, 30]] = 0
    return adjacency.astype(float)


@pytest.fixture
def rt():
    with Runtime(6, pool=InProcessPool(6)) as runtime:
        yield runtime


def test_power_iteration_matches_eigh_to_1e_8(rt):
    A = symmetric(60)
    result = coded.power_iteration(A, code=MDSCode(6, 4), tol=1e-10, runtime=rt)
    assert result.converged and len(result.history.records) < 100
    assert abs(result.eigenvalue - dominant(A)) < 1e-8
    x = result.eigenvector
    assert np.linalg.norm(x) == pytest.approx(1.0)
    assert np.linalg.norm(A @ x - result.eigenvalue * x) <= 1e-10 * abs(result.eigenvalue) * 1.01


def test_a_negative_dominant_eigenvalue_and_a_given_start(rt):
    A = -symmetric(30, seed=1)
    result = coded.power_iteration(A, x0=np.ones(30), runtime=rt)
    assert result.converged and abs(result.eigenvalue - dominant(A)) < 1e-8 < -result.eigenvalue


def test_a_non_symmetric_matrix_gives_its_real_dominant_eigenvalue(rt):
    rng = np.random.default_rng(2)
    V = rng.standard_normal((20, 20))
    A = V @ np.diag([5.0, *rng.uniform(-2, 2, 19)]) @ np.linalg.inv(V)
    result = coded.power_iteration(A, tol=1e-12, runtime=rt)
    assert result.converged and not result.history.config["symmetric"]
    assert result.eigenvalue == pytest.approx(5.0, rel=1e-9)


def test_a_complex_dominant_pair_is_reported_as_not_converged(rt):
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    result = coded.power_iteration(np.kron(np.eye(3), rotation), iterations=5, runtime=rt)
    assert not result.converged and len(result.history.records) == 5


def test_rounds_return_before_the_stragglers_and_the_result_is_unchanged():
    A = symmetric(48, seed=3)
    with Runtime(6, pool=InProcessPool(6)) as rt:
        plain = coded.power_iteration(A, code=MDSCode(6, 4), reference=dominant(A), runtime=rt)
    delays = FixedDelay(STRAGGLE, workers=[1, 4])
    with Runtime(6, pool=InProcessPool(6, delays=delays)) as rt:
        slow = coded.power_iteration(A, code=MDSCode(6, 4), reference=dominant(A), runtime=rt)
        cancelled = [set(m.cancelled) for m in rt.history]
    assert slow.converged and len(slow.history.records) == len(plain.history.records)
    assert slow.history.round_times.max() < STRAGGLE / 4
    assert all(1 not in r.workers and 4 not in r.workers for r in slow.history.records)
    assert all({1, 4} <= c for c in cancelled)
    assert abs(slow.eigenvalue - plain.eigenvalue) < 1e-12
    np.testing.assert_allclose(slow.eigenvector, plain.eigenvector, atol=1e-10)


def test_pagerank_matches_the_direct_solution_with_dangling_nodes(rt):
    adjacency = graph()
    expected = exact_pagerank(adjacency, 0.85)
    result = coded.pagerank(adjacency, tol=1e-13, reference=expected, runtime=rt)
    assert result.converged and result.history.config["dangling"] == 4
    np.testing.assert_allclose(result.ranks, expected, rtol=0, atol=1e-10)
    assert result.ranks.sum() == pytest.approx(1.0, abs=1e-12)
    errors = result.history.series("error")
    assert errors[-1] < 1e-11 < errors[0]


def test_pagerank_takes_a_sparse_matrix_and_other_damping(rt):
    sparse = pytest.importorskip("scipy.sparse")
    adjacency = graph(seed=4)
    result = coded.pagerank(sparse.csr_matrix(adjacency), damping=0.5, tol=1e-13, runtime=rt)
    np.testing.assert_allclose(result.ranks, exact_pagerank(adjacency, 0.5), atol=1e-12)


def test_the_link_matrix_is_column_stochastic_but_for_dangling_nodes():
    P, dangling = link_matrix(graph())
    np.testing.assert_allclose(P.sum(axis=0), np.where(dangling, 0.0, 1.0))
    assert dangling.nonzero()[0].tolist() == [3, 10, 11, 30]


def test_the_history_plots_and_round_trips(rt, tmp_path):
    pytest.importorskip("matplotlib")
    A = symmetric(24, seed=5)
    seen = []
    result = coded.power_iteration(
        A,
        reference=dominant(A),
        runtime=rt,
        callback=lambda t, x, record: seen.append((t, record.values["residual"])),
    )
    history = result.history
    assert [t for t, _ in seen] == list(range(len(history.records)))
    np.testing.assert_array_equal(history.series("residual"), history.losses)
    error = history.series("eigenvalue_error")
    assert error[-1] < 1e-10 < error[0] and history.time_to(1e-8, "eigenvalue_error") is not None
    assert History.from_dict(history.to_dict()).records == history.records
    for quantity in ("residual", "eigenvalue_error"):
        figure = plot([history], tmp_path / f"{quantity}.png", quantity=quantity)
        assert figure.axes[0].get_ylabel() == quantity.replace("_", " ")
        assert (tmp_path / f"{quantity}.png").stat().st_size > 0


class _ClosingPool(InProcessPool):
    closed = False

    def close(self):
        self.closed = True
        super().close()


def test_a_runtime_started_here_is_closed_after_the_run():
    pool = _ClosingPool(4)
    result = coded.power_iteration(symmetric(8), n=4, pool=pool, progress=False)
    assert result.converged and result.history.config["n"] == 4 and pool.closed


@pytest.mark.ray
def test_on_ray_the_rounds_never_wait_for_the_stragglers(ray_cluster):
    A = symmetric(80, seed=6)
    delays = FixedDelay(STRAGGLE, workers=[0, 5])
    result = coded.power_iteration(
        A, n=8, num_cpus_per_worker=0.25, delays=delays, reference=dominant(A), progress=False
    )
    assert result.converged and abs(result.eigenvalue - dominant(A)) < 1e-8
    assert result.history.round_times.max() < STRAGGLE / 2
    assert all(not {0, 5} & set(r.workers) for r in result.history.records)
