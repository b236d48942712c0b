"""Newton-type training: coded Hessian-vector products, Newton-CG and sketched Newton."""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded.losses import LogisticLoss, SoftmaxLoss
from coded.optim import NewtonCG, SketchedNewton
from coded.scheduler.pool import InProcessPool
from coded.scheduler.training.plans import make_plan
from coded.workers.delays import FixedDelay


def _logistic(rows=400, cols=6, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, cols))
    y = (X @ rng.standard_normal(cols) + noise * rng.standard_normal(rows) > 0).astype(float)
    return X, y


def _train(X, y, n=6, delays=None, **kwargs):
    with coded.Runtime(n, pool=InProcessPool(n, delays=delays)) as rt:
        return coded.train(X, y, runtime=rt, progress=False, **kwargs)


def test_newton_cg_reaches_1e_8_in_few_outer_iterations():
    X, y = _logistic()
    result = _train(X, y, loss="logistic", optimizer=NewtonCG(), s=2, target_gradient_norm=1e-8)
    history = result.history
    norms = history.series("gradient_norm")
    assert norms[-1] <= 1e-8 and len(norms) <= 15
    assert history.method == "mds" and history.exact
    assert np.all(np.diff(history.losses) <= 1e-15)  # the line search never goes up
    assert history.time_to(1e-8, "gradient_norm") == history.times[-1]
    gradient = LogisticLoss().gradient(result.weights, X, y) / len(X)
    assert np.linalg.norm(gradient) <= 1e-8
    cg = history.series("cg_iterations")[:-1]
    assert np.all(cg >= 1) and np.all(history.series("rounds")[:-1] >= 2 * cg + 2)


@pytest.mark.parametrize(
    "loss, shape", [("logistic", (6,)), ("softmax", (6, 3)), ("least_squares", (6,))]
)
def test_coded_hessian_vector_products_equal_numpy(loss, shape):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 6))
    y = {
        "logistic": (rng.random(120) < 0.5).astype(float),
        "softmax": rng.integers(0, 3, 120).astype(float),
        "least_squares": rng.standard_normal(120),
    }[loss]
    loss = coded.losses.as_loss(loss)
    w, v = rng.standard_normal(shape), rng.standard_normal(shape)
    plan = make_plan("mds", loss, NewtonCG(), 6, 2, "cyclic", None)
    with coded.Runtime(6, pool=InProcessPool(6)) as rt:
        plan.place(rt, X, y)
        got = plan.hvp(w, v)
        plan.close()
    z = X @ w
    expected = X.T @ loss.curvature(z, y, X @ v) / len(X)
    assert np.linalg.norm(got - expected) <= 1e-10 * np.linalg.norm(expected)
    if loss.name == "logistic":  # the dense Hessian, independently
        s = 1 / (1 + np.exp(-z))
        hessian = X.T @ (X * (s * (1 - s))[:, None]) / len(X)
        np.testing.assert_allclose(got, hessian @ v, rtol=1e-10)


def test_every_hessian_vector_product_is_a_coded_round_that_cancels_stragglers():
    X, y = _logistic(rows=120)
    slow = FixedDelay(0.3, workers=[1, 4])
    plan = make_plan("mds", LogisticLoss(), NewtonCG(), 6, 2, "cyclic", None)
    w, v = np.full(6, 0.1), np.arange(6.0)
    with coded.Runtime(6, pool=InProcessPool(6, delays=slow)) as rt:
        plan.place(rt, X, y)
        before = rt.rounds_run
        plan.scores(w)
        got = plan.hvp(w, v)
        assert rt.rounds_run - before == 3  # scores, then X v and Xᵀ(D u)
        for metrics in list(rt.history)[-2:]:
            assert not {1, 4} & set(metrics.used) and len(metrics.used) == 4
        plan.close()
    z = X @ w
    s = 1 / (1 + np.exp(-z))
    expected = X.T @ (s * (1 - s) * (X @ v)) / len(X)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_a_singular_hessian_gives_the_minimum_norm_least_squares_solution():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((90, 3))
    X = np.hstack([base, base[:, :1]])  # a duplicated column: XᵀX is singular
    y = rng.standard_normal(90)
    result = _train(
        X,
        y,
        loss="least_squares",
        optimizer=NewtonCG(cg_tol=1e-6),
        s=1,
        target_gradient_norm=1e-10,
    )
    np.testing.assert_allclose(result.weights, np.linalg.pinv(X) @ y, atol=1e-8)
    assert len(result.history.records) <= 4


def test_separable_logistic_data_reach_the_gradient_tolerance_without_damping():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 3))
    y = (X @ [1.0, -1.0, 2.0] > 0).astype(float)  # separable: no minimiser
    result = _train(
        X,
        y,
        loss="logistic",
        optimizer=NewtonCG(),
        s=1,
        iterations=60,
        target_gradient_norm=1e-6,
    )
    history = result.history
    assert history.series("gradient_norm")[-1] <= 1e-6
    assert np.all(np.diff(history.losses) <= 1e-15)
    assert np.isfinite(result.weights).all()


def test_newton_cg_runs_on_mds_only():
    X, y = _logistic(rows=60)
    with pytest.raises(
        ValueError, match=r"Argument 'method' must be one of \['mds'\] for NewtonCG"
    ):
        _train(X, y, loss="logistic", optimizer=NewtonCG(), method="coded")
    with pytest.raises(ValueError, match=r"Argument 'optimizer' NewtonCG needs a linear model"):
        _train(
            X,
            y,
            loss=coded.CustomLoss(lambda w, X, y: X.T @ (X @ w - y)),
            optimizer=NewtonCG(),
            w0=np.zeros(6),
        )
    with pytest.raises(TypeError, match="needs curvature"):
        NewtonCG().step(np.zeros(2), np.ones(2), None)


def test_softmax_newton_cg_converges():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 4))
    y = np.argmax(X @ rng.standard_normal((4, 3)) + rng.standard_normal((300, 3)), axis=1)
    result = _train(
        X,
        y.astype(float),
        loss=SoftmaxLoss(classes=3),
        optimizer=NewtonCG(),
        s=1,
        target_gradient_norm=1e-8,
    )
    assert result.history.series("gradient_norm")[-1] <= 1e-8
    assert len(result.history.records) <= 15


def test_sketched_newton_converges_with_exact_gradients_despite_a_straggler():
    X, y = _logistic(rows=600, cols=5)
    result = _train(
        X,
        y,
        delays=FixedDelay(0.2, workers=[3]),
        loss="logistic",
        optimizer=SketchedNewton(sketch_size=100, seed=1),
        s=1,
        iterations=40,
        target_gradient_norm=1e-8,
    )
    history = result.history
    assert history.method == "coded" and history.series("gradient_norm")[-1] <= 1e-8
    assert len(history.records) <= 25
    assert all(3 not in record.workers for record in history.records)
    gradient = LogisticLoss().gradient(result.weights, X, y) / len(X)
    assert np.linalg.norm(gradient) <= 1e-8


def test_gradient_norm_is_recorded_and_stops_first_order_runs_too():
    X, y = _logistic(rows=120)
    result = _train(
        X,
        y,
        loss="logistic",
        optimizer=coded.GD(lr=2.0),
        iterations=500,
        target_gradient_norm=1e-3,
    )
    norms = result.history.series("gradient_norm")
    assert norms[-1] <= 1e-3 < norms[-2] and len(norms) < 500


@pytest.mark.ray
def test_on_ray_newton_cg_cancels_a_straggler_in_every_round(ray_cluster):
    X, y = _logistic(rows=300, cols=5)
    slow = FixedDelay(2.0, workers=[2])
    with coded.Runtime(6, num_cpus_per_worker=0.5, delays=slow, deadline=30) as rt:
        result = coded.train(
            X,
            y,
            loss="logistic",
            optimizer=NewtonCG(),
            s=1,
            runtime=rt,
            progress=False,
            target_gradient_norm=1e-8,
        )
        rounds = list(rt.history)
    assert result.history.series("gradient_norm")[-1] <= 1e-8
    assert all(2 not in metrics.used for metrics in rounds)
    assert len(rounds) == sum(result.history.series("rounds"))  # every round is accounted for
