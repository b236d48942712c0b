"""Method ``stale`` (DSAG): bounded, reported staleness; convergence to the optimum; τ = 0 is
the exact gradient; checks before dispatch."""

from __future__ import annotations

import numpy as np
import pytest

import coded
from coded.optim import GD
from coded.workers.delays import Compose, FixedDelay, PersistentSlow

from .runs import train_local


def _least_squares(rows=240, cols=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, cols))
    y = X @ rng.standard_normal(cols) + 0.1 * rng.standard_normal(rows)
    return X, y, np.linalg.lstsq(X, y, rcond=None)[0]


def test_staleness_never_exceeds_tau_and_least_squares_converges():
    X, y, optimum = _least_squares()
    slow = PersistentSlow([1, 4], factor=5.0)  # on top of FixedDelay: 5x slow every round
    delays = Compose(FixedDelay(0.004), slow)
    result, iterates = train_local(
        X, y, n=6, delays=delays, method="stale", staleness=2, s=2, lr=0.5, iterations=80
    )
    history = result.history
    staleness = history.series("staleness")
    assert staleness.max() <= 2 and staleness[0] == 0 and staleness.max() > 0
    assert history.records[0].workers == tuple(range(6))  # iteration 0 waits for all
    assert (history.series("stale") <= 6).all() and not history.exact
    assert np.linalg.norm(result.weights - optimum) <= 1e-6 * np.linalg.norm(optimum)
    assert history.config["staleness"] == 2 and "NOT the exact gradient" in history.note


def test_no_staleness_is_the_uncoded_gradient():
    X, y, _ = _least_squares(rows=96, cols=5)
    options = {"n": 4, "lr": 0.3, "iterations": 10, "delays": FixedDelay(0.002, workers=[2])}
    stale, stale_iterates = train_local(X, y, method="stale", staleness=0, **options)
    _, uncoded_iterates = train_local(X, y, method="uncoded", **options)
    assert stale.history.exact and (stale.history.series("staleness") == 0).all()
    assert np.allclose(stale_iterates, uncoded_iterates, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "coded", "staleness": 2}, "Argument 'staleness' must be given exactly with"),
        ({"method": "stale"}, "Argument 'staleness' must be given exactly with method 'stale'"),
        ({"method": "stale", "staleness": -1}, "Argument 'staleness' must be at least 0"),
    ],
)
def test_bad_staleness_is_refused_before_anything_starts(options, message):
    X, y, _ = _least_squares(rows=40, cols=3)
    with pytest.raises(ValueError, match=message):
        coded.train(X, y, optimizer=GD(lr=0.1), n=4, pool="not reached", **options)
