"""Injected wrong answers: seeded per (worker, round), configurable, composed with delays."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from coded.workers.delays import Compose, Corrupt, FixedDelay, corruptions, delay_from_config
from coded.workers.delays.corruption import KINDS
from coded.workers.kernels import Product
from coded.workers.worker import Done, Tag, Worker


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_every_kind_changes_the_result_reproducibly(kind, dtype):
    result = np.arange(1, 13, dtype=dtype).reshape(4, 3)
    lie = Corrupt(kind, workers=[1], count=4)
    wrong = lie.apply(result, worker=1, round=3, seed=5)
    assert not np.array_equal(wrong, result) and wrong.shape == result.shape
    np.testing.assert_array_equal(wrong, lie.apply(result, worker=1, round=3, seed=5))
    assert np.array_equal(lie.apply(result, worker=0, round=3, seed=5), result)  # not chosen
    assert np.array_equal(result, np.arange(1, 13, dtype=dtype).reshape(4, 3))  # a copy


def test_a_probability_per_round_is_seeded_per_worker_and_round():
    lie = Corrupt("nan", probability=0.3)
    rounds = [[lie.lies(w, r, seed=1) for r in range(400)] for w in range(3)]
    assert rounds == [[lie.lies(w, r, seed=1) for r in range(400)] for w in range(3)]
    assert rounds[0] != rounds[1] and 0.2 < np.mean(rounds) < 0.4
    assert rounds != [[lie.lies(w, r, seed=2) for r in range(400)] for w in range(3)]


def test_yaml_config_composes_with_delays():
    text = """
    type: Compose
    models:
      - {type: FixedDelay, seconds: 0.0, workers: [0]}
      - {type: Corrupt, kind: scale, scale: -3, workers: [1]}
    """
    model = delay_from_config(yaml.safe_load(text))
    assert corruptions(model) == (Corrupt("scale", workers=[1], scale=-3.0),)
    assert delay_from_config(model.get_config()) == model
    d = model.sample(1, n=2, rounds=2, rng=np.random.default_rng(0))
    assert d.factor.tolist() == [1.0, 1.0] and d.extra.tolist() == [0.0, 0.0]
    assert corruptions(FixedDelay(1.0)) == () and corruptions(None) == ()


def test_the_worker_applies_it_to_its_result_after_computing():
    model = Compose(FixedDelay(0.0), Corrupt("sign", workers=[1]))
    for index, sign in [(0, 1), (1, -1)]:
        worker = Worker(index, n=2, delays=model, seed=0)
        worker.load(0, (np.eye(2),), Product())
        outcome, value = worker.compute(Tag(0, 0, index), (np.ones(2),))
        assert isinstance(outcome, Done) and value.tolist() == [sign, sign]


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"kind": "lies"}, r"Argument 'kind' must be one of \['random', 'sign'"),
        ({"kind": "nan", "probability": 1.5}, r"Argument 'probability' must be at most 1"),
        ({"kind": "bits", "count": 0}, r"Argument 'count' must be at least 1, not 0"),
        ({"kind": "scale", "scale": float("inf")}, r"Argument 'scale' must be a finite number"),
        ({"kind": "nan", "workers": "0"}, r"Argument 'workers' must be a list of worker"),
    ],
)
def test_bad_parameters_are_refused_naming_them(kwargs, error):
    with pytest.raises((ValueError, TypeError), match=error):
        Corrupt(**kwargs)
