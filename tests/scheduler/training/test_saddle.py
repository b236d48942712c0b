"""Coded extra-gradient: converges where GDA diverges, iterates equal numpy's under stragglers,
robust least squares and DR logistic regression converge, arguments checked before dispatch."""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded.saddle import BilinearGame, DRLogistic, RobustLeastSquares, extragradient
from coded.scheduler.pool import InProcessPool
from coded.scheduler.training.history import History
from coded.workers.delays import FixedDelay


def _game(d=6, seed=0):
    rng = np.random.default_rng(seed)
    U, V = (np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(2))
    A = U @ np.diag(np.linspace(1.0, 2.0, d)) @ V.T
    return BilinearGame(A, b=rng.standard_normal(d), c=rng.standard_normal(d))


def _solve(problem, n=4, delays=None, **kwargs):
    iterates = []
    with coded.Runtime(n, pool=InProcessPool(n, delays=delays)) as rt:
        result = coded.solve_saddle(
            problem,
            runtime=rt,
            progress=False,
            callback=lambda t, z, record: iterates.append(z),
            **kwargs,
        )
        rounds = list(rt.history)
    return result, iterates, rounds


def _relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_extragradient_converges_on_the_bilinear_game_where_gda_diverges():
    game = _game()
    step = 0.9 / game.lipschitz
    with coded.Runtime(4, pool=InProcessPool(4)) as rt:
        result = coded.solve_saddle(
            game, step=step, iterations=400, s=1, tol=1e-7, runtime=rt, progress=False
        )
        with pytest.raises(coded.DivergedError, match=r"lower the step size 'step'") as info:
            coded.solve_saddle(
                game, step=step, iterations=400, s=1, algorithm="gda", runtime=rt, limit=1e6
            )
    assert game.distance(result.solution) <= 1e-6
    assert result.history.series("distance")[-1] <= 1e-7 < result.history.series("distance")[-2]
    gaps = result.history.series("gap")
    assert gaps[-1] < 1e-5 * gaps[0] and np.all(gaps >= -1e-12)
    diverged = info.value.history
    distances = diverged.series("distance")
    assert diverged.method == "coded gda" and np.all(np.diff(distances) > 0)
    assert distances[-1] > 1e5 * distances[0] and "larger than limit=1e+06" in str(info.value)


def test_coded_iterates_equal_numpy_extragradient_with_a_straggler_cancelled():
    game = _game()
    steps = [0.8 / game.lipschitz] * 10 + [0.5 / game.lipschitz] * 20  # non-increasing
    result, iterates, rounds = _solve(
        game, n=4, delays=FixedDelay(0.5, workers=[2]), step=steps, iterations=30, s=1
    )
    expected = extragradient(game, steps, 30)
    assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert np.array_equal(result.solution, iterates[-1])
    assert len(rounds) == 60 and all(2 not in m.used for m in rounds)
    assert sum(2 in m.cancelled for m in rounds) >= 50  # the straggler's work was cancelled
    assert all(2 not in record.workers for record in result.history.records)


def test_uncoded_and_fractional_follow_the_same_iterates():
    game = _game()
    expected = extragradient(game, 0.3, 12)
    uncoded, uncoded_iterates, _ = _solve(game, method="uncoded", step=0.3, iterations=12)
    _, fractional_iterates, _ = _solve(game, scheme="fractional", step=0.3, iterations=12)
    for iterates in (uncoded_iterates, fractional_iterates):
        assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert all(record.workers == (0, 1, 2, 3) for record in uncoded.history.records)


def test_robust_least_squares_converges():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((40, 5)) / np.sqrt(40)
    problem = RobustLeastSquares(A, A @ rng.standard_normal(5) + rng.standard_normal(40), lam=2.0)
    result, _, _ = _solve(
        problem, n=5, step=0.5 / problem.lipschitz, iterations=2000, s=2, tol=1e-8
    )
    history = result.history
    gaps, distances = history.series("gap"), history.series("distance")
    assert distances[-1] <= 1e-8 and gaps[-1] < 1e-6 * gaps[0]
    assert np.all(np.diff(distances) <= 1e-12)  # Fejér-monotone on a strongly monotone problem
    assert history.losses.tolist() == gaps.tolist()


def test_dr_logistic_converges_with_weights_on_the_simplex():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 3))
    y = (X @ rng.standard_normal(3) + 0.5 * rng.standard_normal(40) > 0).astype(float)
    problem = DRLogistic(X, y, lam=0.5, nu=2.0)
    result, iterates, _ = _solve(
        problem, n=4, step=0.5 / problem.lipschitz, iterations=1500, s=1, tol=1e-8
    )
    _, p = problem.split(result.solution)
    assert p.min() >= 0 and p.sum() == pytest.approx(1.0, abs=1e-12)
    gaps = result.history.series("gap")
    assert result.history.series("distance")[-1] <= 1e-8 and gaps[-1] < 1e-6 * gaps[0]
    assert np.all(gaps >= -1e-12)


def test_history_round_trips_and_a_step_schedule_is_recorded():
    game = _game()
    result, _, _ = _solve(game, step=lambda t: 0.5 / (1 + t / 100), iterations=5)
    history = History.from_dict(result.history.to_dict())
    assert history.records == result.history.records
    assert len(history.config["step"]) == 5 and history.config["algorithm"] == "extragradient"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"step": [0.1, 0.2, 0.2]}, ValueError, r"'step' must not increase, not 0.1 then 0.2"),
        ({"step": 0.0}, ValueError, r"Argument 'step' must be greater than 0, not 0\."),
        ({"step": -0.1}, ValueError, r"Argument 'step' must be greater than 0"),
        ({"iterations": 0}, ValueError, r"Argument 'iterations' must be at least 1, not 0\."),
        ({"z0": np.ones(5)}, ValueError, r"Argument 'z0' must have length 12, not 5\."),
        ({"z0": np.ones((12, 1))}, ValueError, r"Argument 'z0' must be a 1-D array"),
        ({"method": "ignore"}, ValueError, r"Argument 'method' must be one of \['coded'"),
        ({"algorithm": "adam"}, ValueError, r"Argument 'algorithm' must be one of"),
        ({"s": 4}, ValueError, r"Argument 's' must be less than n=4, not 4\."),
        ({"scheme": "fractional", "s": 2}, ValueError, r"s \+ 1 dividing n=4"),
        ({"tol": -1.0}, ValueError, r"Argument 'tol' must be at least 0"),
        ({"limit": 0}, ValueError, r"Argument 'limit' must be greater than 0"),
        ({"n": 5}, ValueError, r"Argument 'n' must equal the runtime's n=4, not 5\."),
        ({"progress": "yes"}, TypeError, r"Argument 'progress' must be True or False"),
        ({"callback": 3}, TypeError, r"Argument 'callback' must be callable or None"),
        ({"problem": np.eye(2)}, TypeError, r"Argument 'problem' must be a coded.saddle.Saddle"),
        ({"deadline": 3.0}, TypeError, r"runtime options \['deadline'\] apply only when no"),
    ],
    ids=lambda v: str(v)[:24] if isinstance(v, dict) else None,
)
def test_bad_arguments_are_refused_before_any_round(change, error, message):
    arguments = {"problem": _game(), "step": 0.1, "iterations": 3, "progress": False, **change}
    problem = arguments.pop("problem")
    with coded.Runtime(4, pool=InProcessPool(4)) as rt:
        with pytest.raises(error, match=message):
            coded.solve_saddle(problem, runtime=rt, **arguments)
        assert rt.rounds_run == 0


def test_more_workers_than_rows_are_refused_before_a_runtime_starts():
    with pytest.raises(ValueError, match=r"Argument 'n' must be at most the problem's rows=6"):
        coded.solve_saddle(_game(), step=0.1, n=8)


@pytest.mark.ray
def test_on_ray_a_persistent_straggler_is_cancelled_and_iterates_stay_exact(ray_cluster):
    game = _game()
    step = 0.8 / game.lipschitz
    iterates = []
    with coded.Runtime(
        4, num_cpus_per_worker=0.5, delays=FixedDelay(1.0, workers=[1]), deadline=30
    ) as rt:
        result = coded.solve_saddle(
            game,
            step=step,
            iterations=10,
            s=1,
            runtime=rt,
            progress=False,
            callback=lambda t, z, record: iterates.append(z),
        )
        rounds = list(rt.history)
    expected = extragradient(game, step, 10)
    assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert len(rounds) == 20 and all(1 not in m.used for m in rounds)
    assert result.history.times[-1] < 10.0  # 20 rounds, each would wait 1 s for worker 1
