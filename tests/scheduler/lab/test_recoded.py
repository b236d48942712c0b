"""The runtime's adaptive policy in the simulator: k re-chosen once workers stay slow."""

from __future__ import annotations

import numpy as np
import pytest

from coded import MDSCode
from coded.scheduler.lab import Strategy, sample_delays, simulate, simulate_recoded
from coded.scheduler.recoding import Adapt
from coded.workers.delays import Compose, MarkovStragglers, PersistentSlow, ShiftedExponential


def test_a_persistent_group_is_left_out_after_the_policy_rounds():
    result = simulate_recoded(Adapt(rounds=2), PersistentSlow([0, 1, 2], 5.0), 8, 6, rounds=6)
    assert [(d["round"], d["old"], d["new"], d["slow"]) for d in result.decisions] == [
        (2, 6, 4, [0, 1, 2])
    ]
    assert result.latency.tolist() == pytest.approx([5 / 6, 5 / 6, 1 / 4, 1 / 4, 1 / 4, 1 / 4])
    assert result.speeds[-1] / np.median(result.speeds[-1]) == pytest.approx([0.2] * 3 + [1] * 5)


@pytest.mark.parametrize(
    "model",
    [ShiftedExponential(1.0), Compose(ShiftedExponential(2.0), PersistentSlow(4, 1.5))],
    ids=["iid", "mild"],
)
def test_without_slow_workers_it_is_the_static_code(model):
    delays = sample_delays(model, 12, 50, seed=3)
    static = simulate([Strategy.coded(MDSCode(12, 8))], delays)[0]
    adaptive = simulate_recoded(Adapt(threshold=50.0, recover=2.0), delays, 12, 8)
    assert adaptive.decisions == [] and np.allclose(adaptive.latency, static.latency)


def test_markov_stragglers_are_followed_both_ways():
    result = simulate_recoded(Adapt(), MarkovStragglers(0.05, 0.1, 5.0), 32, 22, rounds=200)
    ks = [d["new"] for d in result.decisions]
    assert min(ks) < 22 and any(b > a for a, b in zip(ks, ks[1:], strict=False))


def test_bad_arguments_are_refused_with_their_names():
    with pytest.raises(TypeError, match="Argument 'policy' must be an Adapt"):
        simulate_recoded("adapt", PersistentSlow([0], 5.0), 4, 2)
    with pytest.raises(ValueError, match="Argument 'k' must be at most n=4"):
        simulate_recoded(Adapt(), PersistentSlow([0], 5.0), 4, 5)
