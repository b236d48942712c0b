"""Losses: gradients against finite differences, additivity over partitions, argument errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coded.losses import (
    LOSSES,
    CustomLoss,
    LeastSquaresLoss,
    LogisticLoss,
    SoftmaxLoss,
    as_loss,
    loss_from_config,
)


def _data(loss, rng, rows=30, cols=4):
    X = rng.standard_normal((rows, cols))
    if isinstance(loss, LogisticLoss):
        y = (rng.random(rows) < 0.5).astype(float)
    elif isinstance(loss, SoftmaxLoss):
        y = rng.integers(0, 3, rows).astype(float)
    else:
        y = rng.standard_normal(rows)
    X, y = loss.validate(X, y)
    return X, y, rng.standard_normal(loss.init_weights(X, y).shape)


LINEAR = [LeastSquaresLoss(), LogisticLoss(), SoftmaxLoss(classes=3)]
IDS = [loss.name for loss in LINEAR]


def _finite_difference(f, w, h=1e-6):
    grad = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        step = np.zeros_like(w)
        step[index] = h
        grad[index] = (f(w + step) - f(w - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("loss", LINEAR, ids=IDS)
def test_gradient_matches_finite_differences(loss):
    X, y, w = _data(loss, np.random.default_rng(0))
    expected = _finite_difference(lambda v: loss.value(v, X, y), w)
    np.testing.assert_allclose(loss.gradient(w, X, y), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("loss", LINEAR, ids=IDS)
def test_value_and_gradient_add_up_over_partitions(loss):
    X, y, w = _data(loss, np.random.default_rng(1), rows=31)
    cuts = [0, 7, 8, 20, 31]
    parts = [
        loss.value_and_gradient(w, X[a:b], y[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)
    ]
    value, gradient = loss.value_and_gradient(w, X, y)
    assert sum(v for v, _ in parts) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(sum(g for _, g in parts), gradient, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("loss", LINEAR, ids=IDS)
def test_residual_gives_the_gradient_and_the_value(loss):
    X, y, w = _data(loss, np.random.default_rng(2))
    z = X @ w
    np.testing.assert_allclose(X.T @ loss.residual(z, y), loss.gradient(w, X, y), rtol=1e-12)
    assert loss.value_at_scores(z, y) == pytest.approx(loss.value(w, X, y), rel=1e-12)


def test_reference_values():
    X = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert LeastSquaresLoss().value(np.array([1.0, 1.0]), X, np.array([0.0, 0.0])) == 2.5
    # logistic at w = 0: log 2 per row, gradient Xᵀ(½ − y)
    y = np.array([1.0, 0.0])
    np.testing.assert_allclose(LogisticLoss().gradient(np.zeros(2), X, y), [-0.5, 1.0])
    # softmax at W = 0: log C per row, gradient Xᵀ(1/C − onehot)
    grad = SoftmaxLoss(classes=2).gradient(np.zeros((2, 2)), X, np.array([0.0, 1.0]))
    np.testing.assert_allclose(grad, [[-0.5, 0.5], [1.0, -1.0]])


@pytest.mark.parametrize(
    "loss, w, y",
    [
        (LogisticLoss(), np.array([1.0]), [0.0, 1.0]),
        (SoftmaxLoss(classes=2), np.array([[1.0, 0.0]]), [1, 0]),
    ],
    ids=["logistic", "softmax"],
)
def test_large_scores_stay_finite(loss, w, y):
    X = np.array([[1000.0], [-1000.0]])  # both rows confidently wrong: loss 1000 each
    value, gradient = loss.value_and_gradient(w, X, np.array(y))
    assert value == pytest.approx(2000.0)
    assert np.isfinite(gradient).all()


def test_multi_output_least_squares():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    loss = LeastSquaresLoss()
    W = rng.standard_normal(loss.init_weights(X, Y).shape)
    assert W.shape == (3, 2)
    np.testing.assert_allclose(loss.gradient(W, X, Y), X.T @ (X @ W - Y))


def test_softmax_infers_classes():
    X, y = np.zeros((4, 2)), np.array([0, 1, 4, 1])
    assert SoftmaxLoss().init_weights(X, y).shape == (2, 5)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 12),
    cols=st.integers(1, 5),
    seed=st.integers(0, 1000),
    name=st.sampled_from(IDS),
)
def test_gradient_has_the_model_shape(rows, cols, seed, name):
    loss = as_loss({"type": name, "classes": 3} if name == "softmax" else name)
    X, y, w = _data(loss, np.random.default_rng(seed), rows, cols)
    assert loss.gradient(w, X, y).shape == w.shape


# -- custom losses -----------------------------------------------------------------------


def squared_gradient(w, X, y):
    return X.T @ (X @ w - y)


def squared_value(w, X, y):
    return 0.5 * float(np.sum((X @ w - y) ** 2))


def test_custom_loss_from_callables_and_import_paths():
    rng = np.random.default_rng(4)
    X, y, w = rng.standard_normal((8, 3)), rng.standard_normal(8), rng.standard_normal(3)
    reference = LeastSquaresLoss().value_and_gradient(w, X, y)
    for loss in (
        CustomLoss(squared_gradient, squared_value),
        CustomLoss(f"{__name__}:squared_gradient", f"{__name__}:squared_value"),
        loss_from_config(
            {
                "type": "custom",
                "grad_fn": f"{__name__}:squared_gradient",
                "loss_fn": f"{__name__}:squared_value",
            }
        ),
    ):
        value, gradient = loss.value_and_gradient(w, X, y)
        assert value == pytest.approx(reference[0])
        np.testing.assert_allclose(gradient, reference[1])


def test_custom_loss_without_value():
    loss = CustomLoss(squared_gradient)
    assert not loss.has_value
    assert np.isnan(loss.value(np.zeros(1), np.ones((1, 1)), np.ones(1)))


def test_custom_loss_errors():
    with pytest.raises(TypeError, match="Argument 'grad_fn' must be callable or a 'module:fun"):
        CustomLoss(42)
    with pytest.raises(ValueError, match="'grad_fn' names 'no_such_module:f', which cannot be"):
        CustomLoss("no_such_module:f")
    with pytest.raises(ValueError, match="'grad_fn' must name a function as 'module:function'"):
        CustomLoss("numpy")
    with pytest.raises(ValueError, match="pass the initial model as 'w0'"):
        CustomLoss(squared_gradient).init_weights(np.ones((2, 2)), np.ones(2))
    loss = CustomLoss(lambda w, X, y: np.zeros(7))
    with pytest.raises(ValueError, match=r"grad_fn returned an array of shape \(7,\)"):
        loss.gradient(np.zeros(2), np.ones((3, 2)), np.ones(3))


# -- data and argument checks ------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, X, y, match",
    [
        (
            LeastSquaresLoss(),
            np.ones((5, 2)),
            np.ones(4),
            "Arguments 'X' and 'y' must have the same number of rows, not 5 and 4.",
        ),
        (LeastSquaresLoss(), np.ones(5), np.ones(5), "Argument 'X' must be a 2-D array"),
        (
            LeastSquaresLoss(),
            np.array([[1.0], [np.nan]]),
            np.ones(2),
            "Argument 'X' must be finite",
        ),
        (
            LeastSquaresLoss(),
            np.ones((2, 1)),
            np.array([1.0, np.inf]),
            "Argument 'y' must be finite",
        ),
        (LogisticLoss(), np.ones((2, 1)), np.array([0.0, 2.0]), "labels 0 or 1"),
        (SoftmaxLoss(classes=3), np.ones((2, 1)), np.array([0, 3]), r"integer class labels 0\.\.2"),
        (SoftmaxLoss(), np.ones((2, 1)), np.array([0.5, 1.0]), "integer class labels"),
    ],
    ids=["rows", "1-D X", "NaN X", "Inf y", "logistic labels", "softmax range", "softmax integers"],
)
def test_validate_rejects(loss, X, y, match):
    with pytest.raises(ValueError, match=match):
        loss.validate(X, y)


def test_validate_rejects_strings():
    with pytest.raises(TypeError, match="Argument 'X' must be an array of numbers"):
        LeastSquaresLoss().validate(np.array([["a"]]), np.ones(1))


def test_check_weights():
    X, y = np.ones((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match=r"Argument 'w0' must have shape \(2,\), not \(3,\)."):
        LogisticLoss().check_weights(np.zeros(3), X, y)


def test_unknown_loss_and_bad_arguments():
    with pytest.raises(ValueError, match="Argument 'loss' must be one of .*, not 'hinge'."):
        as_loss("hinge")
    with pytest.raises(TypeError, match="Argument 'loss' must be a Loss"):
        as_loss(3)
    with pytest.raises(ValueError, match="Argument 'classes' must be at least 2, not 1."):
        SoftmaxLoss(classes=1)
    with pytest.raises(ValueError, match="not a linear model"):
        CustomLoss(squared_gradient).residual(np.zeros(1), np.zeros(1))


@pytest.mark.parametrize("loss", LINEAR, ids=IDS)
def test_config_round_trip_and_repr(loss):
    assert loss_from_config(loss.get_config()) == loss
    assert as_loss(loss.get_config()) == loss
    assert repr(loss).startswith(type(loss).__name__ + "(")
    assert set(LOSSES) == {"least_squares", "logistic", "softmax", "custom", "torch"}


@pytest.mark.parametrize("loss", LINEAR, ids=IDS)
def test_curvature_matches_finite_differences_of_the_residual(loss):
    rng = np.random.default_rng(5)
    X, y, w = _data(loss, rng)
    z = X @ w
    u = rng.standard_normal(z.shape)
    h = 1e-6
    expected = (loss.residual(z + h * u, y) - loss.residual(z - h * u, y)) / (2 * h)
    np.testing.assert_allclose(loss.curvature(z, y, u), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", LINEAR, ids=IDS)
def test_the_square_root_hessian_squares_to_the_hessian(loss):
    X, y, w = _data(loss, np.random.default_rng(6))
    root = loss.curvature_root(X @ w, y)
    A = np.einsum("jd,jqc->jqdc", X, root).reshape(-1, w.size)
    hessian = np.column_stack(
        [(X.T @ loss.curvature(X @ w, y, X @ e.reshape(w.shape))).ravel() for e in np.eye(w.size)]
    )
    np.testing.assert_allclose(A.T @ A, hessian, atol=1e-12)


def test_curvature_needs_a_linear_model():
    with pytest.raises(ValueError, match="not a linear model"):
        CustomLoss(lambda w, X, y: w).curvature(np.zeros(2), np.zeros(2), np.zeros(2))
