"""Kernels: the product (real and GF(p), chunked, cancellable) and the gradient-code message."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from coded import GradientCode, gf_matmul
from coded.losses import CustomLoss, LeastSquaresLoss, LogisticLoss, SoftmaxLoss
from coded.optim import GD, SGD
from coded.workers import kernels
from coded.workers.kernels import Gradient, Product, partition_operands

P = 65537


@pytest.mark.parametrize("p", [None, P], ids=["real", "GF(p)"])
def test_product_in_chunks_equals_the_whole_product(monkeypatch, p):
    monkeypatch.setattr(kernels, "CHUNK_WORK", 16)
    rng = np.random.default_rng(0)
    left, right = rng.integers(0, 100, (13, 4)), rng.integers(0, 100, (4, 2))
    expected = left @ right if p is None else gf_matmul(left, right, P)
    np.testing.assert_array_equal(Product(p)(0, (left,), (right,)), expected)
    np.testing.assert_array_equal(Product(p)(0, (left, right), ()), expected)  # both resident
    kernel = pickle.loads(pickle.dumps(Product(p)))
    assert kernel == Product(p) and kernel.on_host == (p is not None)


def test_product_stops_between_chunks_and_checks_its_operands(monkeypatch):
    monkeypatch.setattr(kernels, "CHUNK_WORK", 4)  # one row per chunk
    checks = []

    def cancelled():
        checks.append(1)
        return len(checks) > 2

    assert Product()(0, (np.ones((10, 4)),), (np.ones(4),), cancelled) is None
    assert len(checks) == 3
    with pytest.raises(ValueError, match="a round multiplies two operands, got 3"):
        Product()(0, (np.eye(2),), (np.eye(2), np.eye(2)))


def _problem(loss, rng, rows=45, cols=4):
    X = rng.standard_normal((rows, cols))
    if isinstance(loss, LogisticLoss):
        y = (rng.random(rows) < 0.4).astype(float)
    elif isinstance(loss, SoftmaxLoss):
        y = rng.integers(0, 3, rows).astype(float)
    else:
        y = rng.standard_normal(rows)
    w = rng.standard_normal(loss.init_weights(X, y).shape)
    return X, y, w


def _messages(task, code, partitions, w, iteration=0):
    return {
        i: task(i, partition_operands(partitions, code.assignment[i]), (w, iteration))
        for i in range(code.n)
    }


def _decodable_sets(code):
    for size in range(1, code.n + 1):
        for subset in itertools.combinations(range(code.n), size):
            if code.can_decode(subset):
                yield subset


@pytest.mark.parametrize(
    "loss",
    [LeastSquaresLoss(), LogisticLoss(), SoftmaxLoss(classes=3)],
    ids=["least_squares", "logistic", "softmax"],
)
@pytest.mark.parametrize(
    "n, s, scheme",
    [
        (5, 2, "cyclic"),
        (6, 1, "fractional"),
        (6, 2, "cyclic"),
        (4, 0, "fractional"),
        (4, 0, "cyclic"),
    ],
)
def test_every_decodable_set_gives_the_full_gradient(loss, n, s, scheme):
    rng = np.random.default_rng(n * 10 + s)
    X, y, w = _problem(loss, rng)
    code = GradientCode(n, s, scheme)
    partitions = [(X[r], y[r]) for r in np.array_split(np.arange(len(X)), n)]
    messages = _messages(Gradient(loss, code), code, partitions, w)
    # numpy's full gradient and loss, computed directly on the whole data set
    expected = np.append(loss.gradient(w, X, y).ravel(), loss.value(w, X, y))
    count = 0
    for subset in _decodable_sets(code):
        got = code.decode({i: messages[i] for i in subset})
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())
        count += 1
    assert count >= 1


def test_minibatches_decode_to_the_uncoded_minibatch_gradient():
    rng = np.random.default_rng(7)
    loss, n = LeastSquaresLoss(), 6
    X, y, w = _problem(loss, rng, rows=60)
    code = GradientCode(n, 2)
    parts = np.array_split(np.arange(len(X)), n)
    partitions = [(X[r], y[r]) for r in parts]
    opt = SGD(lr=0.1, batch_size=4, seed=11)
    for iteration in (0, 5):
        rows = np.concatenate([r[opt.batch(iteration, p, len(r))] for p, r in enumerate(parts)])
        expected = np.append(loss.gradient(w, X[rows], y[rows]), loss.value(w, X[rows], y[rows]))
        messages = _messages(Gradient(loss, code, opt), code, partitions, w, iteration)
        for subset in [(0, 1, 2, 3), (2, 3, 4, 5), (0, 2, 4, 5)]:
            np.testing.assert_allclose(
                code.decode({i: messages[i] for i in subset}), expected, rtol=1e-10
            )
    assert len(rows) == n * 4


def test_custom_loss_sends_a_zero_loss_slot_without_loss_fn():
    code = GradientCode(2, 1)
    task = Gradient(CustomLoss(lambda w, X, y: X.T @ (X @ w - y)), code, GD(0.1))
    X, y = np.eye(2), np.array([1.0, 2.0])
    message = task(
        1,
        partition_operands([(X[:1], y[:1]), (X[1:], y[1:])], code.assignment[1]),
        (np.zeros(2), 0),
    )
    np.testing.assert_allclose(code.decode({1: message}), [-1.0, -2.0, 0.0])


def test_cancellation_between_partitions_and_pickling():
    code = GradientCode(3, 1)
    task = Gradient(LeastSquaresLoss(), code)
    operands = partition_operands([(np.eye(2), np.ones(2))] * 3, code.assignment[0])
    assert task(0, operands, (np.zeros(2), 0), cancelled=lambda: True) is None
    clone = pickle.loads(pickle.dumps(task))
    np.testing.assert_array_equal(
        clone(0, operands, (np.zeros(2), 0)), task(0, operands, (np.zeros(2), 0))
    )


def test_wrong_operands_are_reported():
    code = GradientCode(3, 1)
    task = Gradient(LeastSquaresLoss(), code)
    with pytest.raises(
        ValueError, match=r"worker 0 holds 2 operands; .* partitions \[0, 1\], which need 4"
    ):
        task(0, (np.eye(2), np.ones(2)), (np.zeros(2), 0))
