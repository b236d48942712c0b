"""Coded training: exact iterates, baselines, records, checks before dispatch, Ray runs."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

import coded
from coded.losses import CustomLoss, as_loss
from coded.optim import GD, SGD, Momentum, Nesterov, as_optimizer
from coded.scheduler.pool import InProcessPool
from coded.scheduler.training.history import History, plot
from coded.scheduler.training.train import train
from coded.workers.delays import Corrupt, FailStop, FixedDelay

from .runs import kill_and_wait_for_restart, train_local


def _data(loss: str, rows=96, cols=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, cols))
    if loss == "logistic":
        y = (X @ rng.standard_normal(cols) + 0.3 * rng.standard_normal(rows) > 0).astype(float)
    elif loss == "softmax":
        y = np.argmax(X @ rng.standard_normal((cols, 3)), axis=1).astype(float)
    else:
        y = X @ rng.standard_normal(cols) + 0.1 * rng.standard_normal(rows)
    return X, y


def _reference(X, y, loss, optimizer, iterations, n):
    """Plain numpy gradient descent on the whole data set (the optimiser's batches by partition)."""
    loss, optimizer = as_loss(loss), as_optimizer(optimizer)
    parts = np.array_split(np.arange(len(X)), n)
    w = loss.init_weights(X, y)
    state = optimizer.init(w)
    iterates = []
    for t in range(iterations):
        rows = np.concatenate(
            [
                r if optimizer.batch(t, p, len(r)) is None else r[optimizer.batch(t, p, len(r))]
                for p, r in enumerate(parts)
            ]
        )
        gradient = loss.gradient(optimizer.point(w, state), X[rows], y[rows]) / len(rows)
        w, state = optimizer.step(w, gradient, state)
        iterates.append(w)
    return iterates


def _relative(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize(
    "loss, optimizer",
    [
        ("logistic", GD(1.0)),
        ("softmax", Nesterov(0.5, 0.9)),
        ("least_squares", Momentum(0.05, 0.8)),
        ("logistic", SGD(0.5, batch_size=5, seed=3, momentum=0.5)),
    ],
    ids=["logistic-gd", "softmax-nesterov", "lsq-momentum", "logistic-sgd"],
)
@pytest.mark.parametrize(
    "method, s, scheme",
    [("coded", 2, "cyclic"), ("coded", 1, "fractional"), ("uncoded", 0, "cyclic")],
)
def test_iterates_equal_plain_gradient_descent(loss, optimizer, method, s, scheme):
    X, y = _data(loss)
    result, iterates = train_local(
        X, y, loss=loss, optimizer=optimizer, iterations=25, method=method, s=s, scheme=scheme
    )
    expected = _reference(X, y, loss, optimizer, 25, n=6)
    assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert len(result.history.records) == 25 and result.history.exact


def test_coded_and_uncoded_give_the_same_iterates_with_a_straggler():
    X, y = _data("logistic", rows=120)
    kwargs = dict(loss="logistic", optimizer=Nesterov(1.0, 0.5), iterations=30)
    slow = FixedDelay(0.5, workers=[2])
    coded_run, coded_iterates = train_local(X, y, delays=slow, method="coded", s=1, **kwargs)
    uncoded_run, uncoded_iterates = train_local(X, y, method="uncoded", **kwargs)
    assert (
        max(_relative(a, b) for a, b in zip(coded_iterates, uncoded_iterates, strict=True)) < 1e-10
    )
    assert all(2 not in record.workers for record in coded_run.history.records)
    assert all(record.workers == tuple(range(6)) for record in uncoded_run.history.records)


def test_mds_method_follows_the_same_iterates():
    X, y = _data("softmax")
    result, iterates = train_local(
        X, y, loss="softmax", optimizer=GD(0.5), iterations=15, method="mds", s=2
    )
    expected = _reference(X, y, "softmax", GD(0.5), 15, n=6)
    assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert result.history.config["k"] == 4 and result.history.exact


def test_ignore_stragglers_is_an_approximation_and_says_so():
    X, y = _data("least_squares", rows=120)
    slow = FixedDelay(0.5, workers=[0])
    result, iterates = train_local(
        X,
        y,
        delays=slow,
        loss="least_squares",
        optimizer=GD(0.1),
        iterations=10,
        method="ignore",
        s=1,
    )
    expected = _reference(X, y, "least_squares", GD(0.1), 10, n=6)
    history = result.history
    assert not history.exact and "NOT the exact gradient" in history.note
    assert all(record.workers == (1, 2, 3, 4, 5) for record in history.records)
    assert _relative(iterates[-1], expected[-1]) > 1e-6  # partition 0 never counted
    assert history.losses[-1] < history.losses[0]
    assert json.loads(history.to_json())["exact"] is False


def test_target_loss_stops_early_and_history_round_trips(tmp_path):
    X, y = _data("least_squares")
    result, _ = train_local(X, y, loss="least_squares", lr=0.5, iterations=200, target_loss=0.01)
    history = result.history
    assert len(history.records) < 200 and history.losses[-1] <= 0.01 < history.losses[-2]
    assert np.all(np.diff(history.times) > 0)
    history.to_json(tmp_path / "history.json")
    loaded = History.load(tmp_path / "history.json")
    assert loaded.records == history.records and loaded.config == history.config
    assert history.time_to(0.01) == history.times[-1] and history.time_to(-1.0) is None


def squared_gradient(w, X, y):
    return X.T @ (X @ w - y)


def test_custom_loss_needs_w0_and_trains():
    X, y = _data("least_squares")
    with pytest.raises(ValueError, match="pass the initial model as 'w0'"):
        train_local(X, y, loss=CustomLoss(squared_gradient), lr=0.1)
    result, iterates = train_local(
        X, y, loss=CustomLoss(squared_gradient), lr=0.1, w0=np.zeros(5), iterations=10
    )
    expected = _reference(X, y, "least_squares", GD(0.1), 10, n=6)
    assert _relative(iterates[-1], expected[-1]) < 1e-10
    assert np.isnan(result.history.losses).all()
    assert result.history.config["loss"]["grad_fn"] == f"{__name__}:squared_gradient"


def test_progress_bar_shows_loss_and_rate(capsys):
    X, y = _data("least_squares")
    with coded.Runtime(4, pool=InProcessPool(4)) as rt:
        train(X, y, lr=0.1, iterations=5, runtime=rt, progress=True)
    err = capsys.readouterr().err
    assert "5/5" in err and "loss=" in err and "it/s" in err


def test_byzantine_training_corrects_a_lying_worker_exactly():
    """Worker 2 flips the sign of its gradients; with byzantine=1 (s = 2 = 2A) every step is
    the honest one: the same losses as a run with no liar, and the liar is blocklisted."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 5))
    y = X @ np.ones(5)
    runs = {}
    for name, delays in (("honest", None), ("liar", Corrupt("sign", workers=[2]))):
        pool = InProcessPool(6, delays=delays)
        with coded.Runtime(6, pool=pool, byzantine=1) as rt:
            result = train(X, y, lr=0.1, iterations=10, s=2, runtime=rt, progress=False)
            runs[name] = result.history.losses, rt.blocklist
    np.testing.assert_allclose(runs["liar"][0], runs["honest"][0], rtol=1e-12)
    assert runs["honest"][1] == {} and list(runs["liar"][1]) == [2]


def test_plot(tmp_path, monkeypatch):
    history = History("coded")
    for loss in (1.0, 0.5, 0.25):
        history.append(loss, 0.01, (0, 1))
    pytest.importorskip("matplotlib")
    figure = plot(
        [history, History("uncoded", records=history.records)], tmp_path / "loss.png", target=0.3
    )
    assert (tmp_path / "loss.png").stat().st_size > 0 and len(figure.axes[0].lines) == 3
    coded, uncoded, _ = figure.axes[0].lines  # equal histories: both stay visible
    assert coded.get_linestyle() != uncoded.get_linestyle()
    assert figure.axes[0].xaxis.get_major_formatter().get_offset() == ""


def test_plot_without_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'coded-runtime\[plot\]'"):
        plot([History("coded")])


# -- bad inputs are rejected before anything is placed or dispatched --------------------


class _SpyPool(InProcessPool):
    calls = 0

    def place(self, *args, **kwargs):
        type(self).calls += 1
        return super().place(*args, **kwargs)

    def submit(self, *args, **kwargs):
        type(self).calls += 1
        return super().submit(*args, **kwargs)


_X, _Y = _data("logistic", rows=40)
_NAN = _X.copy()
_NAN[3, 1] = np.nan


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(X=_X, y=_Y[:-1]),
            ValueError,
            "Arguments 'X' and 'y' must have the same number of rows, not 40 and 39.",
        ),
        (dict(X=_NAN), ValueError, "Argument 'X' must be finite"),
        (dict(s=4), ValueError, "Argument 's' must be less than n=4, not 4."),
        (dict(loss="hinge"), ValueError, "Argument 'loss' must be one of .*, not 'hinge'."),
        (dict(method="async"), ValueError, "Argument 'method' must be one of"),
        (
            dict(method="mds", loss=CustomLoss(squared_gradient)),
            ValueError,
            "'mds' needs a linear model",
        ),
        (
            dict(method="mds", optimizer=SGD(0.1, 4), lr=None),
            ValueError,
            "'mds' needs a full-batch optimizer",
        ),
        (dict(w0=np.zeros(3)), ValueError, r"Argument 'w0' must have shape \(5,\), not \(3,\)."),
        (dict(X=_X[:3], y=_Y[:3]), ValueError, "Argument 'X' must have at least n=4 rows"),
        (dict(iterations=0), ValueError, "Argument 'iterations' must be at least 1, not 0."),
        (dict(scheme="fractional", s=2), ValueError, "s \\+ 1 dividing n=4"),
        (dict(method="ignore", k=5), ValueError, "Argument 'k' must be at most n=4, not 5."),
        (dict(n=5), ValueError, "Argument 'n' must equal the runtime's n=4, not 5."),
        (
            dict(target_loss=float("nan")),
            ValueError,
            "Argument 'target_loss' must be a finite number",
        ),
        (dict(lr=None), ValueError, "Argument 'lr' is needed"),
        (
            dict(optimizer=GD(1.0)),
            ValueError,
            r"Arguments 'optimizer' and 'lr' conflict: GD\(lr=1.0\) has its own step size, "
            r"so 'lr' \(0.1\) would be ignored",
        ),
        (dict(target_loss="0.1"), TypeError, r"'target_loss' must be a finite number, not '0.1'"),
        (dict(callback=5), TypeError, r"'callback' must be callable or None, not 5 \(int\)"),
        (dict(n="4"), TypeError, r"Argument 'n' must be an integer, not '4' \(str\)"),
    ],
    ids=[
        "rows",
        "nan",
        "s>=n",
        "loss",
        "method",
        "mds-custom",
        "mds-sgd",
        "w0",
        "few-rows",
        "iterations",
        "fractional",
        "k",
        "n",
        "target",
        "lr",
        "optimizer-and-lr",
        "target-str",
        "callback",
        "n-str",
    ],
)
def test_bad_inputs_are_rejected_before_any_dispatch(kwargs, error, match):
    arguments = dict(X=_X, y=_Y, loss="logistic", lr=0.1, iterations=3)
    arguments.update(kwargs)
    X, y = arguments.pop("X"), arguments.pop("y")
    _SpyPool.calls = 0
    with coded.Runtime(4, pool=_SpyPool(4)) as rt:
        with pytest.raises(error, match=match):
            train(X, y, runtime=rt, progress=False, **arguments)
    assert _SpyPool.calls == 0


@pytest.mark.parametrize("method", ["coded", "uncoded", "mds"])
def test_divergence_blames_the_learning_rate_before_the_next_round(method):
    X, y = _data("least_squares", rows=40)
    with coded.Runtime(4, pool=InProcessPool(4)) as rt, np.errstate(all="ignore"):
        with pytest.raises(
            coded.DivergedError,
            match=r"training diverged at iteration \d+: the loss became non-finite; "
            r"lower the learning rate 'lr' \(now 10.0\)",
        ) as info:
            train(X * 10, y, lr=10.0, iterations=500, method=method, runtime=rt, progress=False)
    error = info.value
    assert isinstance(error, ValueError) and error.lr == 10.0 and error.what == "the loss"
    rounds = 2 * error.iteration + 1 if method == "mds" else error.iteration + 1
    assert rt.rounds_run == rounds  # nothing dispatched after the diverged round (mds: half)
    assert all(not metrics.failures for metrics in rt.history)  # the workers are not blamed


# -- on Ray -----------------------------------------------------------------------------


@pytest.mark.ray
def test_on_ray_coded_equals_uncoded_and_a_killed_worker_loses_no_iteration(ray_cluster):
    X, y = _data("logistic", rows=400, cols=8)
    kwargs = dict(loss="logistic", optimizer=Nesterov(1.0, 0.5), iterations=40, progress=False)
    expected = _reference(X, y, "logistic", Nesterov(1.0, 0.5), 40, n=6)
    iterates = []

    def kill_one(t, w, record):
        iterates.append(w)
        if t == 5:  # round 6 meets a fresh process: it must reload its partitions and task
            kill_and_wait_for_restart(ray_cluster, rt.pool.actors[3])

    with coded.Runtime(6, num_cpus_per_worker=0.5, deadline=30) as rt:
        result = train(X, y, method="coded", s=2, runtime=rt, callback=kill_one, **kwargs)
        rounds = list(rt.history)
    records = result.history.records
    assert [r.iteration for r in records] == list(range(40))
    assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert len(rounds) == 40
    assert 3 not in rounds[6].arrived  # its shards went with its process: an erasure
    later = rounds[20:]
    assert not any(m.failures for m in later) and any(3 in m.arrived for m in later)


@pytest.mark.ray
def test_on_ray_crash_injected_by_the_delay_model(ray_cluster):
    X, y = _data("least_squares", rows=200)
    iterates = []
    with coded.Runtime(
        4, num_cpus_per_worker=0.5, delays=FailStop([1], round=3), deadline=30
    ) as rt:
        result = train(
            X,
            y,
            loss="least_squares",
            lr=0.1,
            iterations=8,
            s=1,
            runtime=rt,
            progress=False,
            callback=lambda t, w, r: iterates.append(w),
        )
    expected = _reference(X, y, "least_squares", GD(0.1), 8, n=4)
    assert len(result.history.records) == 8
    assert max(_relative(a, b) for a, b in zip(iterates, expected, strict=True)) < 1e-10
    assert 1 not in result.history.records[3].workers


@pytest.mark.ray
@pytest.mark.slow
def test_on_ray_1000_iterations_with_a_persistent_straggler_stay_flat(ray_cluster):
    X, y = _data("least_squares", rows=64, cols=4)
    with coded.Runtime(
        3, num_cpus_per_worker=0.5, delays=FixedDelay(1.0, workers=[0]), deadline=30
    ) as rt:
        start = time.perf_counter()
        result = train(
            X, y, loss="least_squares", lr=0.1, iterations=1000, s=1, runtime=rt, progress=False
        )
        elapsed = time.perf_counter() - start
    rounds = result.history.round_times
    first, last = np.median(rounds[50:150]), np.median(rounds[-100:])
    assert last < 2 * first + 0.005, (first, last)
    assert np.percentile(rounds, 99) < 0.5  # never waited for the 1 s straggler
    assert all(0 not in r.workers for r in result.history.records[10:])  # after warm-up
    assert elapsed < 60


def test_history_records_named_values_per_iteration(tmp_path):
    history = History("newton")
    history.append(0.5, 0.01, (0, 1), gradient_norm=1e-2)
    history.append(0.4, 0.01, (0, 2), gradient_norm=1e-7)
    assert history.series("gradient_norm").tolist() == [1e-2, 1e-7]
    assert history.time_to(1e-6, "gradient_norm") == history.records[1].time
    assert History.from_dict(history.to_dict()).records == history.records
    figure = plot([history], tmp_path / "g.png", quantity="gradient_norm")
    assert figure.axes[0].get_ylabel() == "gradient norm" and (tmp_path / "g.png").exists()
