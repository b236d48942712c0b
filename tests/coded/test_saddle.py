"""Saddle problems: operators against finite differences of L, sums over partitions, solutions
against independent solvers, gaps, projections, step schedules and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from coded.saddle import (
    BilinearGame,
    DRLogistic,
    RobustLeastSquares,
    check_steps,
    extragradient,
    project_simplex,
)


def _bilinear(d=5, seed=0):
    """A game whose A has singular values in [1, 2]: extra-gradient converges fast."""
    rng = np.random.default_rng(seed)
    U, V = (np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(2))
    A = U @ np.diag(np.linspace(1.0, 2.0, d)) @ V.T
    return BilinearGame(A, b=rng.standard_normal(d), c=rng.standard_normal(d))


def _robust(m=30, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return RobustLeastSquares(rng.standard_normal((m, d)) / np.sqrt(m), rng.standard_normal(m), 3.0)


def _dro(m=30, d=4, seed=0, nu=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d))
    y = (X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(m) > 0).astype(float)
    return DRLogistic(X, y, lam=0.2, nu=nu)


def _lagrangian(problem, x, y):
    """L(x, y), written from the formulas, as the oracle for F."""
    if isinstance(problem, BilinearGame):
        return x @ problem.A @ y + problem.b @ x - problem.c @ y
    if isinstance(problem, RobustLeastSquares):
        residual = problem.A @ x - y
        return 0.5 * residual @ residual - 0.5 * problem.lam * np.sum((y - problem.b) ** 2)
    losses = np.log1p(np.exp(-problem.y * (problem.X @ x)))
    m = problem.rows
    return y @ losses - 0.5 * problem.nu * np.sum((y - 1 / m) ** 2) + 0.5 * problem.lam * x @ x


PROBLEMS = [_bilinear, _robust, _dro]
IDS = ["bilinear", "robust-ls", "dr-logistic"]


@pytest.mark.parametrize("make", PROBLEMS, ids=IDS)
def test_operator_is_the_gradient_field_of_l(make):
    problem = make()
    rng = np.random.default_rng(1)
    z = problem.project(rng.standard_normal(problem.dim))
    F = problem.operator(z)
    sign = np.r_[np.ones(problem.dims[0]), -np.ones(problem.dims[1])]
    for k in range(problem.dim):
        e = np.zeros(problem.dim)
        e[k] = 1e-6
        up, down = problem.split(z + e), problem.split(z - e)
        derivative = (_lagrangian(problem, *up) - _lagrangian(problem, *down)) / 2e-6
        assert F[k] == pytest.approx(sign[k] * derivative, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("make", PROBLEMS, ids=IDS)
@pytest.mark.parametrize("n", [1, 3, 5])
def test_partial_operators_sum_to_the_operator(make, n):
    problem = make()
    z = problem.project(np.random.default_rng(2).standard_normal(problem.dim))
    parts = problem.partitions(n)
    assert len(parts) == n
    total = sum(problem.partial(z, part) for part in parts)
    np.testing.assert_allclose(total, problem.operator(z), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("make", PROBLEMS, ids=IDS)
def test_the_solution_solves_the_vi_and_the_gap_vanishes_only_there(make):
    problem = make()
    z_star = problem.solution
    assert np.allclose(problem.project(z_star), z_star)
    # z* is a fixed point of the projected operator step: the natural residual is zero
    residual = z_star - problem.project(z_star - 0.1 * problem.operator(z_star))
    assert np.linalg.norm(residual) < 1e-9
    assert abs(problem.gap(z_star)) < 1e-9
    rng = np.random.default_rng(3)
    for _ in range(5):
        z = problem.project(z_star + 0.3 * rng.standard_normal(problem.dim))
        assert problem.gap(z) > 1e-6 and problem.distance(z) > 0


def test_bilinear_solution_and_robust_ls_solution_solve_f_equal_zero():
    for problem in (_bilinear(), _robust()):
        # F is affine: F(z) = M z + F(0); solve M z = −F(0) from F's values alone
        F0 = problem.operator(np.zeros(problem.dim))
        M = np.column_stack([problem.operator(e) - F0 for e in np.eye(problem.dim)])
        np.testing.assert_allclose(problem.solution, np.linalg.solve(M, -F0), atol=1e-10)


def test_dr_logistic_solution_matches_a_quasi_newton_solver_on_the_primal():
    optimize = pytest.importorskip("scipy.optimize")
    problem = _dro(nu=0.5)
    m = problem.rows

    def primal(w):  # max over p in closed form: p = Π_Δ(1/m + ℓ/ν)
        losses = np.log1p(np.exp(-problem.y * (problem.X @ w)))
        p = project_simplex(1 / m + losses / problem.nu)
        return p @ losses - 0.5 * problem.nu * np.sum((p - 1 / m) ** 2) + 0.5 * problem.lam * w @ w

    w = optimize.minimize(primal, np.zeros(problem.dims[0]), method="BFGS", tol=1e-12).x
    np.testing.assert_allclose(problem.split(problem.solution)[0], w, atol=1e-5)


def test_project_simplex_is_the_nearest_point_of_the_simplex():
    rng = np.random.default_rng(4)
    for _ in range(20):
        v = 2 * rng.standard_normal(7)
        p = project_simplex(v)
        assert p.min() >= 0 and p.sum() == pytest.approx(1.0)
        for q in rng.dirichlet(np.ones(7), size=50):
            assert np.linalg.norm(v - p) <= np.linalg.norm(v - q) + 1e-12


def test_numpy_extragradient_converges_and_gda_diverges_on_the_bilinear_game():
    game = _bilinear()
    step = 0.9 / game.lipschitz
    assert game.distance(extragradient(game, step, 300)[-1]) < 1e-8
    z, distances = game.initial(), []
    for _ in range(200):
        z = z - step * game.operator(z)
        distances.append(game.distance(z))
    assert np.all(np.diff(distances) > 0) and distances[-1] > 10 * distances[0]


def test_step_schedules():
    assert check_steps(0.5, 3).tolist() == [0.5, 0.5, 0.5]
    assert check_steps([0.3, 0.2, 0.2, 9.0], 3).tolist() == [0.3, 0.2, 0.2]
    assert check_steps(np.array([1.0, 0.5]), 2).tolist() == [1.0, 0.5]


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        ([0.1, 0.2, 0.1], ValueError, r"'step' must not increase, not 0.1 then 0.2 at iteration 1"),
        (lambda t: 0.1 * (t + 1), ValueError, r"'step' must not increase"),
        (0.0, ValueError, r"Argument 'step' must be greater than 0, not 0\."),
        (-1.0, ValueError, r"Argument 'step' must be greater than 0, not -1\."),
        ([0.1, 0.1], ValueError, r"'step' must hold a step size for each of the 3 iterations"),
        (float("nan"), ValueError, r"Argument 'step' must be a positive step size"),
        ("0.1", TypeError, r"Argument 'step' must be a positive step size .*, not '0.1' \(str\)"),
        (None, TypeError, r"Argument 'step' must be a positive step size"),
    ],
    ids=["increasing", "increasing-callable", "zero", "negative", "short", "nan", "str", "none"],
)
def test_bad_steps_are_refused(step, error, message):
    with pytest.raises(error, match=message):
        check_steps(step, 3)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: BilinearGame(np.ones((2, 3))), ValueError, r"'A' must be square, not of shape"),
        (lambda: BilinearGame(np.ones((2, 2))), ValueError, r"'A' must be invertible"),
        (lambda: BilinearGame(np.eye(2), b=np.ones(3)), ValueError, r"'b' must have length 2"),
        (lambda: BilinearGame(np.eye(2), c=[[1.0]]), ValueError, r"'c' must be a 1-D array"),
        (lambda: BilinearGame(np.eye(2), radius=0), ValueError, r"'radius' must be greater"),
        (lambda: BilinearGame([[np.nan]]), ValueError, r"Argument 'A' must be finite"),
        (lambda: RobustLeastSquares(np.eye(3), np.ones(3), lam=1.0), ValueError, r"'lam' must"),
        (lambda: RobustLeastSquares(np.ones((3, 2)), np.ones(3)), ValueError, r"full column"),
        (lambda: RobustLeastSquares(np.ones((1, 2)), np.ones(1)), ValueError, r"full column"),
        (lambda: RobustLeastSquares(np.eye(2), "ab"), TypeError, r"'b' must be an array of"),
        (lambda: DRLogistic(np.eye(2), [0, 2]), ValueError, r"'y' must hold labels in"),
        (lambda: DRLogistic(np.eye(2), [0, 1], nu=0), ValueError, r"'nu' must be greater"),
        (lambda: DRLogistic(np.eye(2), [0, 1], lam=-1), ValueError, r"'lam' must be greater"),
        (lambda: _bilinear().partitions(6), ValueError, r"'n' must be at most the problem's"),
        (lambda: _bilinear().check_point(np.ones(3)), ValueError, r"'z0' must have length 10"),
        (lambda: extragradient(None, 0.1, 2), TypeError, r"'problem' must be a SaddleProblem"),
    ],
    ids=lambda v: None,
)
def test_bad_problems_are_refused(build, error, message):
    with pytest.raises(error, match=message):
        build()
