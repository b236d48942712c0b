"""Optimisers: the recurrences, convergence, shared mini-batches, config and argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coded.optim import (
    GD,
    OPTIMIZERS,
    SGD,
    Momentum,
    Nesterov,
    NewtonCG,
    SketchedNewton,
    as_optimizer,
    count_sketch,
    minibatch,
    optimizer_from_config,
)

A = np.diag([1.0, 10.0])  # f(w) = ½ wᵀ A w, minimum at 0


def _run(opt, steps=200, w=(1.0, 1.0)):
    w = np.array(w)
    state = opt.init(w)
    for _ in range(steps):
        w, state = opt.step(w, A @ opt.point(w, state), state)
    return w


@pytest.mark.parametrize(
    "opt", [GD(0.1), Momentum(0.05, 0.5), Nesterov(0.05, 0.5)], ids=["gd", "momentum", "nesterov"]
)
def test_converges_on_a_quadratic(opt):
    assert np.linalg.norm(_run(opt)) < 1e-6


def test_momentum_and_nesterov_recurrences():
    lr, beta = 0.05, 0.7
    w_m = w_n = np.array([1.0, -2.0])
    v_m = v_n = np.zeros(2)
    momentum, nesterov = Momentum(lr, beta), Nesterov(lr, beta)
    sm, sn = momentum.init(w_m), nesterov.init(w_n)
    got_m, got_n = w_m, w_n
    for _ in range(20):
        v_m = beta * v_m + A @ w_m
        w_m = w_m - lr * v_m
        v_n = beta * v_n + A @ (w_n - lr * beta * v_n)
        w_n = w_n - lr * v_n
        got_m, sm = momentum.step(got_m, A @ momentum.point(got_m, sm), sm)
        got_n, sn = nesterov.step(got_n, A @ nesterov.point(got_n, sn), sn)
    np.testing.assert_allclose(got_m, w_m, rtol=1e-14)
    np.testing.assert_allclose(got_n, w_n, rtol=1e-14)
    assert not np.allclose(w_m, w_n)


def test_momentum_zero_is_gradient_descent():
    np.testing.assert_allclose(_run(Momentum(0.1, 0.0), 15), _run(GD(0.1), 15), rtol=1e-15)


def test_full_batch_optimisers_use_every_row():
    assert GD(0.1).batch(3, 1, 10) is None
    assert not Nesterov(0.1).stochastic and SGD(0.1, batch_size=4).stochastic
    assert GD(0.1).batch_rows(10) == 10
    assert SGD(0.1, batch_size=4).batch_rows(10) == 4
    assert SGD(0.1, batch_size=40).batch_rows(10) == 10


def test_minibatches_are_shared_by_replicas_and_vary():
    opt = SGD(0.1, batch_size=5, seed=3)
    first = opt.batch(iteration=7, partition=2, rows=20)
    replica = SGD(0.1, batch_size=5, seed=3).batch(iteration=7, partition=2, rows=20)
    np.testing.assert_array_equal(first, replica)
    others = [opt.batch(8, 2, 20), opt.batch(7, 3, 20), SGD(0.1, 5, seed=4).batch(7, 2, 20)]
    assert all(not np.array_equal(first, other) for other in others)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    iteration=st.integers(0, 10**6),
    partition=st.integers(0, 64),
    rows=st.integers(1, 50),
    batch=st.integers(1, 60),
)
def test_minibatch_rows_are_distinct_sorted_and_in_range(seed, iteration, partition, rows, batch):
    chosen = minibatch(seed, iteration, partition, rows, batch)
    assert len(chosen) == min(rows, batch)
    assert (np.diff(chosen) > 0).all() and chosen.min() >= 0 and chosen.max() < rows


def test_minibatch_follows_the_documented_generator():
    expected = np.sort(np.random.default_rng([5, 9, 1]).choice(30, 6, replace=False))
    np.testing.assert_array_equal(minibatch(5, 9, 1, 30, 6), expected)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: GD(0), ValueError, r"Argument 'lr' must be greater than 0, not 0."),
        (lambda: GD(-1.0), ValueError, "Argument 'lr' must be greater than 0, not -1."),
        (lambda: GD("0.1"), TypeError, "Argument 'lr' must be a finite number"),
        (lambda: GD(float("nan")), ValueError, "Argument 'lr' must be a finite number, not nan."),
        (
            lambda: Momentum(0.1, 1.0),
            ValueError,
            r"Argument 'momentum' must be less than 1, not 1.",
        ),
        (lambda: Nesterov(0.1, -0.1), ValueError, "Argument 'momentum' must be at least 0"),
        (
            lambda: SGD(0.1, batch_size=0),
            ValueError,
            "Argument 'batch_size' must be at least 1, not 0.",
        ),
        (lambda: SGD(0.1, batch_size=2.5), TypeError, "Argument 'batch_size' must be an integer"),
        (lambda: SGD(0.1, 4, seed=-1), ValueError, "Argument 'seed' must be at least 0, not -1."),
        (
            lambda: optimizer_from_config({"type": "adagrad", "lr": 0.1}),
            ValueError,
            "Argument 'optimizer' must be one of .*, not 'adagrad'.",
        ),
        (lambda: as_optimizer(None), ValueError, "Argument 'lr' is needed"),
        (lambda: as_optimizer("gd"), TypeError, "Argument 'optimizer' must be an Optimizer"),
    ],
)
def test_argument_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize(
    "opt",
    [GD(0.1), Momentum(0.1, 0.8), Nesterov(0.2), SGD(0.1, 8, seed=2, momentum=0.5)],
    ids=lambda o: o.name,
)
def test_config_round_trip_and_repr(opt):
    assert optimizer_from_config(opt.get_config()) == opt
    assert as_optimizer(opt.get_config()) == opt
    assert eval(repr(opt), {cls.__name__: cls for cls in OPTIMIZERS.values()}) == opt
    assert as_optimizer(None, lr=0.3) == GD(0.3)


def test_newton_cg_solves_a_positive_definite_system_and_guards_against_bad_curvature():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 5))
    H, g = M @ M.T + np.eye(5), rng.standard_normal(5)
    p, info = NewtonCG(cg_tol=1e-12).direction(g, lambda v: H @ v)
    np.testing.assert_allclose(H @ p, -g, atol=1e-9)
    assert info["cg_iterations"] <= 5
    damped, _ = NewtonCG(cg_tol=1e-12, damping=2.0).direction(g, lambda v: H @ v)
    np.testing.assert_allclose((H + 2 * np.eye(5)) @ damped, -g, atol=1e-9)
    flat, info = NewtonCG().direction(g, lambda v: 0 * v)  # zero curvature: steepest descent
    np.testing.assert_array_equal(flat, -g)
    assert info == {"cg_iterations": 1}
    loose, info = NewtonCG(cg_tol=0.9, max_cg=1).direction(g, lambda v: H @ v)
    assert info["cg_iterations"] == 1 and np.vdot(loose, g) < 0


def test_the_forcing_term_shrinks_with_the_gradient():
    H = np.diag(np.linspace(1.0, 100.0, 30))
    iterations = [
        NewtonCG(cg_tol=0.5).direction(scale * np.ones(30), lambda v: H @ v)[1]["cg_iterations"]
        for scale in (1.0, 1e-6)
    ]
    assert iterations[0] < iterations[1]


def test_line_search_backtracks_and_gives_up_on_no_decrease():
    f = lambda w: float(w @ w)  # noqa: E731
    w = np.ones(2)
    alpha, value, evaluations = NewtonCG().line_search(f, w, 2.0, 2 * w, -4 * w)
    assert alpha == 0.25 and value == 0.0 and evaluations == 3
    assert NewtonCG(max_backtracks=3).line_search(f, w, 2.0, 2 * w, w) == (0.0, 2.0, 4)


def test_count_sketches_are_unbiased_and_shared_by_replicas():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((300, 4))
    np.testing.assert_array_equal(count_sketch(A, 20, [0, 1, 2]), count_sketch(A, 20, [0, 1, 2]))
    mean = np.mean([(S.T @ S) for S in (count_sketch(A, 20, [s]) for s in range(400))], axis=0)
    assert np.linalg.norm(mean - A.T @ A) < 0.05 * np.linalg.norm(A.T @ A)
    S = count_sketch(np.eye(300), 20, [5])  # the sketch itself: one ±1 per column
    assert np.array_equal(np.abs(S).sum(axis=0), np.ones(300)) and set(np.unique(S)) == {-1, 0, 1}


def test_sketched_newton_solves_with_the_sketched_hessian():
    root = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    p, _ = SketchedNewton(sketch_size=3, damping=1.0).direction(np.array([2.0, 5.0]), root)
    np.testing.assert_allclose(p, [-1.0, -1.0])
    singular = np.array([[1.0, 0.0]])  # b < d: Ĥ singular, the least-squares step
    p, _ = SketchedNewton(sketch_size=1).direction(np.array([2.0, 5.0]), singular)
    np.testing.assert_allclose(p, [-2.0, 0.0])
    p, _ = SketchedNewton(sketch_size=1).direction(np.array([0.0, 5.0]), singular)
    np.testing.assert_allclose(p, [0.0, -5.0])  # no descent: steepest descent


@pytest.mark.parametrize(
    "opt",
    [NewtonCG(cg_tol=0.1, max_cg=20, damping=1e-3), SketchedNewton(sketch_size=64, seed=3)],
    ids=["newton_cg", "sketched_newton"],
)
def test_newton_optimisers_round_trip_their_config(opt):
    assert optimizer_from_config(opt.get_config()) == opt
    assert opt.second_order and OPTIMIZERS[opt.name] is type(opt)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: NewtonCG(cg_tol=0), r"Argument 'cg_tol' must be greater than 0, not 0\."),
        (lambda: NewtonCG(cg_tol=1.5), r"Argument 'cg_tol' must be less than 1, not 1\.5\."),
        (lambda: NewtonCG(max_cg=0), r"Argument 'max_cg' must be at least 1, not 0\."),
        (lambda: NewtonCG(damping=-1), r"Argument 'damping' must be at least 0, not -1\."),
        (lambda: NewtonCG(armijo=0.7), r"Argument 'armijo' must be less than 0\.5, not 0\.7\."),
        (lambda: NewtonCG(backtrack=1), r"Argument 'backtrack' must be less than 1, not 1\."),
        (lambda: SketchedNewton(0), r"Argument 'sketch_size' must be at least 1, not 0\."),
    ],
)
def test_newton_arguments_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()
