"""Delay models: the shared contract, the distributions, streams, traces, argument errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
import yaml

from coded.config import registry
from coded.workers import delays
from coded.workers.delays import (
    Bimodal,
    Compose,
    DelayModel,
    Exponential,
    FailStop,
    FixedDelay,
    MarkovStragglers,
    NoDelay,
    Pareto,
    PersistentSlow,
    ShiftedExponential,
    Slowdown,
    TraceReplay,
    WorkerDelays,
    delay_from_config,
    read_trace,
    write_trace,
)

N = 6
TRACE = np.random.default_rng(1).uniform(0.1, 1.0, size=(7, N))
TRACE[3, 2] = np.inf

MODELS = [
    NoDelay(),
    FixedDelay(0.25, workers=[1, 3]),
    Slowdown(3.0),
    ShiftedExponential(2.0),
    Exponential(0.5),
    Pareto(1.5, scale=2.0),
    Bimodal(0.2, 8.0),
    PersistentSlow(2, factor=5.0, seed=3),
    PersistentSlow([1, 4], factor=2.0),
    MarkovStragglers(0.05, 0.3, 6.0),
    FailStop([0, 4], round=5, duration=3),
    TraceReplay(TRACE),
    Compose(ShiftedExponential(1.0), MarkovStragglers(0.1, 0.5, 3.0), FixedDelay(0.1, [2])),
]
IDS = [type(m).__name__ for m in MODELS]


def _sample(model, worker, rounds, seed=11):
    return model.sample(worker, N, rounds, np.random.default_rng([seed, worker]))


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_contract(model):
    # every model is registered, rebuilds from YAML, pickles, and shows its parameters
    config = model.get_config()
    assert config["type"] == type(model).__name__
    assert delay_from_config(yaml.safe_load(yaml.safe_dump(config))) == model
    assert pickle.loads(pickle.dumps(model)) == model
    assert hash(pickle.loads(pickle.dumps(model))) == hash(model)
    assert type(model).__name__ in repr(model)
    for worker in range(N):
        d = _sample(model, worker, 300)
        assert d.factor.shape == d.extra.shape == (300,)
        assert (d.factor >= 1).all() and (d.extra >= 0).all() and np.isfinite(d.extra).all()
        # same seed, same delays; another seed, other delays (for random models)
        again = _sample(model, worker, 300)
        np.testing.assert_array_equal(d.factor, again.factor)
        np.testing.assert_array_equal(d.extra, again.extra)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@pytest.mark.parametrize("short", [0, 1, 17, 1024])
def test_prefix_consistent(model, short):
    long = _sample(model, 2, 3000)
    prefix = _sample(model, 2, short)
    np.testing.assert_array_equal(prefix.factor, long.factor[:short])
    np.testing.assert_array_equal(prefix.extra, long.extra[:short])


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_worker_stream_matches_sample(model):
    stream = WorkerDelays(model, worker=2, n=N, seed=11)
    reference = _sample(model, 2, 5000)
    for r in (0, 5, 1023, 1024, 4999, 3, 2500):  # out of order: forces re-generation
        assert stream.at(r) == (reference.factor[r], reference.extra[r])
    restarted = pickle.loads(pickle.dumps(stream))
    assert restarted.at(4321) == (reference.factor[4321], reference.extra[4321])


def test_random_models_differ_across_workers_and_seeds():
    model = ShiftedExponential(1.0)
    a, b = _sample(model, 0, 50), _sample(model, 1, 50)
    c = _sample(model, 0, 50, seed=12)
    assert not np.array_equal(a.factor, b.factor)
    assert not np.array_equal(a.factor, c.factor)


# -- distributions (CLT tolerances, fixed seeds) --------------------------------------------------

R = 200_000


def _within(samples, expected, sigma):
    assert abs(samples.mean() - expected) <= 4 * sigma / np.sqrt(samples.size)


def test_shifted_exponential_mean():
    f = _sample(ShiftedExponential(4.0), 0, R).factor
    assert f.min() >= 1
    _within(f, 1.25, 0.25)


def test_exponential_mean():
    e = _sample(Exponential(0.3), 0, R).extra
    _within(e, 0.3, 0.3)


def test_pareto_tail():
    f = _sample(Pareto(2.5, scale=1.5), 0, R).factor
    assert f.min() >= 1.5
    for x in (2.0, 4.0, 8.0):
        p = (1.5 / x) ** 2.5
        _within((f > x).astype(float), p, np.sqrt(p * (1 - p)))


def test_bimodal_fraction():
    f = _sample(Bimodal(0.1, 5.0), 0, R).factor
    assert set(np.unique(f)) == {1.0, 5.0}
    _within((f > 1).astype(float), 0.1, 0.3)


def test_markov_stationary_fraction_and_persistence():
    model = MarkovStragglers(0.02, 0.2, 4.0)
    slow = np.concatenate([_sample(model, w, R // N).factor > 1 for w in range(N)])
    # fraction: correlated samples, so a loose bound (spells of ~5 rounds)
    assert abs(slow.mean() - model.slow_fraction) < 0.01
    chains = [_sample(model, w, R).factor > 1 for w in range(2)]
    stay = np.mean([np.mean(c[1:][c[:-1]]) for c in chains])
    turn = np.mean([np.mean(c[1:][~c[:-1]]) for c in chains])
    assert abs(stay - 0.8) < 0.02 and abs(turn - 0.02) < 0.003


def test_persistent_slow_set_is_shared():
    model = PersistentSlow(2, factor=7.0, seed=5)
    slow = model.slow_workers(N)
    assert len(slow) == 2
    for w in range(N):
        expected = 7.0 if w in slow else 1.0
        assert (_sample(model, w, 10).factor == expected).all()


def test_fail_stop_window_and_forever():
    window = _sample(FailStop([1], round=2, duration=2), 1, 6).factor
    assert window.tolist() == [1, 1, np.inf, np.inf, 1, 1]
    forever = _sample(FailStop([1], round=3, duration=None), 1, 6).factor
    assert forever.tolist() == [1, 1, 1, np.inf, np.inf, np.inf]
    assert (_sample(FailStop([1], round=0), 0, 6).factor == 1).all()
    assert _sample(FailStop(None, round=1), 3, 3).factor.tolist() == [1, np.inf, 1]  # all fail


def test_compose_multiplies_and_adds():
    model = Compose(Slowdown(2.0, [0]), Slowdown(3.0), FixedDelay(0.5), FixedDelay(0.25, [0]))
    d = _sample(model, 0, 3)
    assert d.factor.tolist() == [6.0] * 3 and d.extra.tolist() == [0.75] * 3
    assert d.time(2.0).tolist() == [12.75] * 3


# -- traces ---------------------------------------------------------------------------------


def test_trace_round_trip(tmp_path):
    path = tmp_path / "trace.csv"
    write_trace(path, TRACE)
    assert path.read_text().splitlines()[0] == ",".join(f"worker_{w}" for w in range(N))
    np.testing.assert_array_equal(read_trace(path), TRACE)
    model = TraceReplay(str(path))
    assert model == TraceReplay(TRACE)
    assert model.get_config()["times"] == str(path)
    assert delay_from_config(model.get_config()) == model
    # headerless CSVs of measured times read too
    path.write_text("0.5,1.0\n0.75,2.0\n")
    np.testing.assert_array_equal(read_trace(path), [[0.5, 1.0], [0.75, 2.0]])


def test_trace_replay_factors_wrap_around():
    model = TraceReplay(TRACE, scale=0.05)
    d = _sample(model, 2, 2 * TRACE.shape[0] + 1)
    expected = np.concatenate([TRACE[:, 2]] * 3)[: d.factor.size] / 0.05
    np.testing.assert_allclose(d.factor, expected)
    assert TraceReplay(TRACE).scale == TRACE.min()


@pytest.mark.parametrize(
    "times, message",
    [
        ([1.0, 2.0], "non-empty 2-D"),
        ([[1.0, np.nan]], "positive times"),
        ([[1.0, -1.0]], "positive times"),
        ([["a"]], "2-D array of seconds"),
        ([[np.inf]], "at least one finite"),
    ],
)
def test_trace_rejects_bad_times(times, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TraceReplay(times)


def test_trace_file_errors(tmp_path):
    with pytest.raises(ValueError, match="existing trace file"):
        read_trace(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("worker_0,worker_1\n1.0,oops\n")
    with pytest.raises(ValueError, match="not a CSV of numbers"):
        read_trace(bad)


# -- argument errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: FixedDelay(-1.0), "Argument 'seconds' must be at least 0, not -1"),
        (lambda: Slowdown(0.5), "Argument 'factor' must be at least 1, not 0.5"),
        (lambda: Slowdown(2.0, workers="01"), "Argument 'workers' must be a list"),
        (lambda: Slowdown(2.0, workers=[-1]), "Argument 'workers' must be at least 0, not -1"),
        (lambda: ShiftedExponential(0), "Argument 'rate' must be greater than 0, not 0"),
        (lambda: Exponential(float("inf")), "Argument 'mean' must be a finite number"),
        (lambda: Pareto(2.0, scale=0.5), "Argument 'scale' must be at least 1, not 0.5"),
        (lambda: Bimodal(1.5, 2.0), "Argument 'probability' must be at most 1, not 1.5"),
        (lambda: PersistentSlow(1.5, 2.0), "Argument 'workers' must be a list"),
        (lambda: PersistentSlow([-1], 2.0), "Argument 'workers' must be at least 0, not -1"),
        (lambda: MarkovStragglers(0.0, 0.5, 2.0), "Argument 'p_slow' must be greater than 0"),
        (lambda: FailStop([1], round=-2), "Argument 'round' must be at least 0, not -2"),
        (lambda: FailStop([1], round=0, duration=0), "Argument 'duration' must be at least 1"),
        (lambda: TraceReplay([[1.0, 2.0]], scale=1.5), "Argument 'scale' must be at most"),
        (lambda: Compose(NoDelay(), "x"), r"Argument 'models\[1\]' must be a DelayModel"),
        (lambda: WorkerDelays("x", 0, 1, 0), "Argument 'model' must be a DelayModel"),
        (lambda: WorkerDelays(NoDelay(), 4, 4, 0), "'worker' must be at most n-1=3, not 4"),
    ],
)
def test_argument_errors(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


@pytest.mark.parametrize(
    "model, n, message",
    [
        (Slowdown(2.0, workers=[0, 7]), 4, "must name workers 0..n-1=3, not 7"),
        (PersistentSlow(5, 2.0), 4, "'workers' of PersistentSlow must be at most n=4, not 5"),
        (PersistentSlow([1, 4], 2.0), 4, "must name workers 0..n-1=3, not 4"),
        (TraceReplay(TRACE), N + 1, f"Argument 'n' must be at most the trace's {N} workers"),
        (Compose(FixedDelay(1.0, [9])), 4, "not 9"),
    ],
)
def test_models_reject_too_few_workers(model, n, message):
    with pytest.raises(ValueError, match=message):
        model.sample(0, n, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        WorkerDelays(model, 0, n, 0)
    with pytest.raises(ValueError, match=message):
        model.check_n(n)  # what Runtime asks before any worker starts


def test_sample_argument_errors():
    model = NoDelay()
    with pytest.raises(ValueError, match="Argument 'rounds' must be at least 0, not -1"):
        model.sample(0, 2, -1, np.random.default_rng(0))
    with pytest.raises(TypeError, match="Argument 'rng' must be a numpy Generator"):
        model.sample(0, 2, 1, 0)
    with pytest.raises(ValueError, match="Argument 'round' must be at least 0"):
        WorkerDelays(model, 0, 2, 0).at(-1)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"factor": 2}, "with a 'type' key"),
        ({"type": "Nope"}, "Argument 'delays' must be one of .*, not 'Nope'"),
        (
            {"type": "Slowdown", "factr": 2},
            r"unknown parameter 'factr' for Slowdown; .*\['factor', 'workers'\]",
        ),
        ({"type": "Bimodal", "probability": 0.5}, "missing parameter 'factor' for Bimodal"),
        (
            {
                "type": "Compose",
                "models": [{"type": "NoDelay"}, {"type": "Exponential", "mean": 0}],
            },
            r"models\[1\]: Argument 'mean' must be greater than 0",
        ),
        ({"type": "Compose", "models": "x"}, "must be a list of configs"),
        ({"type": "Compose", "model": []}, "unknown parameter 'model' for Compose"),
    ],
)
def test_config_errors(config, message):
    with pytest.raises(ValueError, match=message):
        delay_from_config(config)


def test_registry_and_public_names():
    registered = {
        name
        for name in delays.__all__
        if isinstance(getattr(delays, name), type) and issubclass(getattr(delays, name), DelayModel)
    }
    assert registered - {"DelayModel"} == set(registry("delays"))


def test_no_ray_import():
    code = "import sys, coded.workers.delays; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
