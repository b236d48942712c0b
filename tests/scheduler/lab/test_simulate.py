"""The simulator: agreement with theory, the policy on every decodability rule, wasted work,
the real-run delay streams, scenario configs (key-path errors) and ``coded simulate``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import coded
from coded import Code, MDSCode
from coded.scheduler.cli import main
from coded.scheduler.jobs.schema import ConfigError, load_yaml
from coded.scheduler.lab import (
    Strategy,
    exponential_order_mean,
    exponential_order_variance,
    sample_delays,
    shifted_exponential_mean,
    shifted_exponential_variance,
    simulate,
)
from coded.scheduler.lab.scenarios import load_scenarios
from coded.scheduler.lab.simulator import _Groups, _Prefix, _Threshold
from coded.workers.delays import (
    Bimodal,
    Compose,
    Exponential,
    FailStop,
    FixedDelay,
    MarkovStragglers,
    PersistentSlow,
    ShiftedExponential,
    Slowdown,
    WorkerDelays,
)

ROUNDS = 20_000
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "simulate.yaml"


def _clt(samples: np.ndarray, expected: float, variance: float) -> None:
    """|mean − E| ≤ 4σ/√R: fails by chance with probability 6e-5 (and the seeds are fixed)."""
    assert abs(samples.mean() - expected) <= 4 * np.sqrt(variance / samples.size)


# -- theory ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k", [(1, 1), (10, 1), (10, 7), (10, 10), (100, 80), (100, 100)])
def test_kth_response_matches_exponential_order_statistic(n, k):
    mean = 0.5  # rate μ = 2
    (result,) = simulate(
        [Strategy.threshold(n, k, share=1.0)],
        Exponential(mean),
        rounds=ROUNDS,
        seed=n + k,
        work=0.0,
    )
    _clt(result.latency, exponential_order_mean(k, n, 2.0), exponential_order_variance(k, n, 2.0))


@pytest.mark.parametrize("n, k, rate", [(10, 7, 1.0), (10, 10, 1.0), (20, 14, 0.5), (100, 69, 1.0)])
def test_mds_latency_matches_lee_et_al(n, k, rate):
    (result,) = simulate(
        [Strategy.coded(MDSCode(n, k))], ShiftedExponential(rate), rounds=ROUNDS, seed=k
    )
    _clt(
        result.latency,
        shifted_exponential_mean(k, n, rate),
        shifted_exponential_variance(k, n, rate),
    )


def test_uncoded_is_the_maximum_and_scales_with_work():
    (result,) = simulate([Strategy.uncoded(10)], ShiftedExponential(1.0), rounds=ROUNDS, work=3.0)
    _clt(
        result.latency,
        3.0 * shifted_exponential_mean(10, 10),
        9.0 * shifted_exponential_variance(10, 10),
    )


def test_theory_argument_errors():
    with pytest.raises(ValueError, match="Argument 'k' must be at most n=4, not 5"):
        exponential_order_mean(5, 4)


# -- the policy on every rule -----------------------------------------------------------------


def _brute_force(times: np.ndarray, can_decode) -> np.ndarray:
    """Per round: walk the arrivals in order until the set decodes."""
    out = np.full(len(times), np.inf)
    for i, row in enumerate(times):
        arrived = []
        for w in np.argsort(row, kind="stable"):
            if not np.isfinite(row[w]):
                break
            arrived.append(int(w))
            if can_decode(arrived):
                out[i] = row[w]
                break
    return out


class _Spelled(MDSCode):
    """An MDS code whose can_decode is overridden: forces the generic prefix search."""

    def can_decode(self, indices):
        return len(self._check_indices(indices)) >= self.k


class _Pairs(Code):
    """Replica pairs {0,1}, {2,3}, ... described by an ``assignment`` like gradient codes."""

    _params = ("n",)

    @property
    def recovery_threshold(self):
        return self.n // 2

    @property
    def work_share(self):
        return 2 / self.n

    @property
    def assignment(self):
        return tuple((i // 2,) for i in range(self.n))

    def can_decode(self, indices):
        return len({i // 2 for i in self._check_indices(indices)}) == self.n // 2


DELAYS = Compose(ShiftedExponential(1.0), Bimodal(0.2, 4.0), FailStop([3], round=5, duration=20))


@pytest.mark.parametrize(
    "code, rule",
    [
        (MDSCode(8, 5), _Threshold),
        (_Spelled(8, 5), _Prefix),
        (_Pairs(8), _Groups),
        (coded.PolynomialCode(8, 2, 3), _Threshold),
        (coded.MatDotCode(8, 3), _Threshold),
        (coded.GradientCode(8, 1, scheme="fractional"), _Groups),
        (coded.GradientCode(8, 2, scheme="cyclic"), _Prefix),
        (coded.LagrangeCode(8, 3, 2), _Threshold),
    ],
    ids=lambda x: type(x).__name__,
)
def test_policy_matches_brute_force(code, rule):
    strategy = Strategy.coded(code)
    assert isinstance(strategy.rule, rule)
    times = sample_delays(DELAYS, 8, 400, seed=3).time(strategy.share)
    latency, _ = strategy.finish(times)
    np.testing.assert_array_equal(latency, _brute_force(times, code.can_decode))


@pytest.mark.parametrize("r", [1, 2, 4])
def test_replication_matches_brute_force(r):
    strategy = Strategy.replication(8, r)
    times = sample_delays(DELAYS, 8, 400, seed=4).time(strategy.share)
    latency, _ = strategy.finish(times)
    groups = 8 // r
    expected = _brute_force(times, lambda s: len({w % groups for w in s}) == groups)
    np.testing.assert_array_equal(latency, expected)
    assert strategy.redundancy == r


def test_baselines_are_replication_codes():
    assert Strategy.uncoded(4).config == coded.Replication(4, 1).get_config()
    assert isinstance(Strategy.uncoded(4).rule, _Threshold)  # no replicas: wait for all
    assert isinstance(Strategy.replication(4, 2).rule, _Groups)
    assert Strategy.replication(8, 4).share == coded.Replication(8, 4).work_share == 0.5
    strategies = {
        "u": {"type": "uncoded"},
        "r": {"type": "replication", "r": 2},
        "R": {"type": "Replication", "r": 2, "overhead": 0.1},
    }
    _, (scenario,) = load_scenarios({"scenarios": {"a": {"n": 4, "strategies": strategies}}})
    configs = [s.config for s in scenario.strategies]
    assert configs == [coded.Replication(4, r).get_config() for r in (1, 2, 2)]
    assert [s.overhead for s in scenario.strategies] == [0.0, 0.0, 0.1]


def test_prefix_search_equals_threshold_rule():
    a, b = simulate(
        [Strategy.coded(MDSCode(12, 7)), Strategy.coded(_Spelled(12, 7))],
        DELAYS,
        rounds=2000,
        seed=5,
    )
    np.testing.assert_array_equal(a.latency, b.latency)
    np.testing.assert_allclose(a.wasted, b.wasted)


def test_wasted_work_by_hand():
    # worker 0 is 3x slow: MDS(4, 3) decodes at 1/3 from workers 1..3 and cancels worker 0
    (mds, rep) = simulate(
        [Strategy.coded(MDSCode(4, 3)), Strategy.replication(4, 2)], Slowdown(3.0, [0]), rounds=3
    )
    np.testing.assert_allclose(mds.latency, 1 / 3)
    np.testing.assert_allclose(mds.busy, 4 / 3)
    np.testing.assert_allclose(mds.wasted, 1 / 3)
    # replication: tasks {0, 2} and {1, 3}, share 1/2: worker 2 wins at 0.5 and cancels worker 0;
    # workers 1 and 3 both finish at 0.5, one of them wasted
    np.testing.assert_allclose(rep.latency, 0.5)
    np.testing.assert_allclose(rep.wasted, 1.0)
    assert rep.wasted_fraction == pytest.approx(0.5)
    (uncoded,) = simulate([Strategy.uncoded(4)], Slowdown(3.0, [0]), rounds=3)
    assert uncoded.wasted_fraction == 0 and uncoded.mean == pytest.approx(0.75)


def test_fail_stop_rounds_are_undecodable():
    model = FailStop([0, 1], round=2, duration=3)
    fails, copes = simulate(
        [Strategy.coded(MDSCode(4, 3)), Strategy.coded(MDSCode(4, 2))], model, rounds=10
    )
    assert np.isinf(fails.latency[2:5]).all() and np.isfinite(fails.latency[[0, 1, 5]]).all()
    assert fails.undecodable == pytest.approx(0.3) and fails.mean == np.inf
    assert fails.p99 == np.inf and fails.median == pytest.approx(1 / 3)
    assert copes.undecodable == 0
    assert fails.summary()["undecodable"] == pytest.approx(0.3)


def test_extra_seconds_and_overhead_add():
    (result,) = simulate(
        [Strategy.uncoded(3, overhead=0.25)], FixedDelay(0.5, [1]), rounds=2, work=3.0
    )
    np.testing.assert_allclose(result.latency, 1.0 + 0.5 + 0.25)


def test_simulator_sees_the_delays_real_workers_inject():
    model = Compose(MarkovStragglers(0.05, 0.2, 5.0), PersistentSlow(1, 3.0), Exponential(0.01))
    sampled = sample_delays(model, n=5, rounds=3000, seed=42)
    for w in range(5):
        stream = WorkerDelays(model, w, 5, seed=42)
        for r in (0, 1, 1500, 2999):
            assert stream.at(r) == (sampled.factor[r, w], sampled.extra[r, w])


def test_presampled_delays_and_common_random_numbers():
    sampled = sample_delays(ShiftedExponential(1.0), 6, 500, seed=9)
    (a,) = simulate([Strategy.coded(MDSCode(6, 4))], sampled)
    (b,) = simulate([Strategy.coded(MDSCode(6, 4))], ShiftedExponential(1.0), rounds=500, seed=9)
    np.testing.assert_array_equal(a.latency, b.latency)


def test_quantiles_and_summary():
    (result,) = simulate([Strategy.threshold(1, 1, 1.0)], Exponential(1.0), rounds=ROUNDS, work=0)
    assert result.median == pytest.approx(np.log(2), rel=0.03)
    assert result.p99 == pytest.approx(np.log(100), rel=0.05)
    summary = result.summary()
    assert set(summary) >= {"mean", "median", "p99", "wasted_fraction", "redundancy", "rounds"}
    assert result.quantile([0.5, 0.99]).tolist() == [result.median, result.p99]


@pytest.mark.slow
def test_throughput_n100_1e5_rounds():
    start = time.perf_counter()
    results = simulate(
        [Strategy.coded(MDSCode(100, 80)), Strategy.uncoded(100), Strategy.replication(100, 2)],
        ShiftedExponential(1.0),
        rounds=100_000,
    )
    elapsed = time.perf_counter() - start
    assert elapsed < 20, f"10^5 rounds x n=100 x 3 strategies took {elapsed:.1f} s"
    _clt(
        results[0].latency, shifted_exponential_mean(80, 100), shifted_exponential_variance(80, 100)
    )


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Strategy.coded("MDS"), "Argument 'code' must be a coded.Code"),
        (
            lambda: Strategy.coded(MDSCode(4, 2), share=1.5),
            r"Argument 'share' must be a number in \(0, 1\]",
        ),
        (lambda: Strategy.uncoded(4, overhead=-1), "Argument 'overhead' must be a finite number"),
        (lambda: Strategy.replication(6, 4), "Argument 'r' must divide n=6, not 4"),
        (lambda: Strategy.threshold(4, 5, 0.5), "Argument 'k' must be at most n=4, not 5"),
        (lambda: simulate([], Exponential(1.0)), "non-empty list of Strategy"),
        (
            lambda: simulate([Strategy.uncoded(4), Strategy.uncoded(5)], Exponential(1.0)),
            "must share n=4 workers, not 5",
        ),
        (lambda: simulate([Strategy.uncoded(4)], Exponential(1.0), work=-1), "Argument 'work'"),
        (
            lambda: Strategy.uncoded(4).finish(np.ones((2, 3))),
            r"shape \(rounds, n=4\), not \(2, 3\)",
        ),
        (lambda: sample_delays(Exponential(1.0), 4, 0, 0), "Argument 'rounds' must be at least 1"),
    ],
)
def test_argument_errors(build, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build()


# -- scenario configs and the CLI ----------------------------------------------------------

BASIC = {
    "seed": 1,
    "rounds": 500,
    "scenarios": {
        "se": {
            "n": 6,
            "delays": {"type": "ShiftedExponential", "rate": 1.0},
            "strategies": {
                "uncoded": {"type": "uncoded"},
                "rep": {"type": "replication", "r": 2},
                "mds": {"type": "MDSCode", "k": 4},
                "grad": {"type": "GradientCode", "s": 1, "scheme": "fractional", "share": 0.5},
            },
        },
        "persistent": {
            "n": 4,
            "rounds": 300,
            "delays": {"type": "PersistentSlow", "workers": 1, "factor": 10.0},
            "baseline": "mds",
            "strategies": {"mds": {"type": "MDSCode", "k": 3, "overhead": 0.01}},
        },
    },
}


def _with(path: str, value):
    """BASIC with the value at a dotted path replaced (None deletes the key)."""
    config = yaml.safe_load(yaml.safe_dump(BASIC))
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return config


def test_load_scenarios():
    config, (se, persistent) = load_scenarios(BASIC)
    assert (se.rounds, se.seed, se.baseline) == (500, 1, "uncoded")
    assert [s.name for s in se.strategies] == ["uncoded", "rep", "mds", "grad"]
    assert se.strategies[3].share == 0.5
    assert (persistent.rounds, persistent.baseline, persistent.strategies[0].overhead) == (
        300,
        "mds",
        0.01,
    )
    _, (only,) = load_scenarios(BASIC, rounds=7, seed=3, only=["persistent"])
    assert (only.name, only.rounds, only.seed) == ("persistent", 7, 3)


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("rouns", 5, "^rouns: unknown key"),
        ("scenarios", {}, "^scenarios: must not be empty"),
        ("scenarios.se.n", None, "^scenarios.se.n: required key is missing"),
        ("scenarios.se.n", 0, "^scenarios.se.n: must be at least 1"),
        (
            "scenarios.se.delays",
            {"type": "Nope"},
            "^scenarios.se.delays: Argument 'delays' must be one of",
        ),
        (
            "scenarios.se.delays",
            {"type": "Bimodal", "probability": 2, "factor": 3},
            "^scenarios.se.delays: Argument 'probability'",
        ),
        (
            "scenarios.se.delays",
            {"type": "Slowdown", "factor": 2, "workers": [9]},
            "^scenarios.se.delays: .*not 9",
        ),
        (
            "scenarios.se.strategies.mds.k",
            7,
            "^scenarios.se.strategies.mds: Argument 'k' must be at most n=6",
        ),
        (
            "scenarios.se.strategies.mds.n",
            5,
            "^scenarios.se.strategies.mds.n: must equal the scenario's n=6",
        ),
        (
            "scenarios.se.strategies.mds.share",
            2.0,
            "^scenarios.se.strategies.mds.share: must be in",
        ),
        (
            "scenarios.se.strategies.mds.overhead",
            -1.0,
            "^scenarios.se.strategies.mds.overhead: must be at least 0",
        ),
        ("scenarios.se.strategies.rep.r", 4, "^scenarios.se.strategies.rep.r: must divide n=6"),
        (
            "scenarios.se.strategies.rep.copies",
            2,
            "^scenarios.se.strategies.rep.copies: unknown key",
        ),
        (
            "scenarios.se.strategies.uncoded",
            "yes",
            "^scenarios.se.strategies.uncoded: expected a mapping",
        ),
        ("scenarios.se.baseline", "nope", "^scenarios.se.baseline: must name a strategy"),
        ("scenarios.se.work", -1.0, "^scenarios.se.work: must be at least 0"),
    ],
)
def test_bad_configs_name_the_key_path(path, value, message):
    with pytest.raises(ConfigError, match=message):
        load_scenarios(_with(path, value))


def test_unknown_scenario_and_bad_overrides():
    with pytest.raises(ConfigError, match="no scenario named 'x'"):
        load_scenarios(BASIC, only=["x"])
    with pytest.raises(ConfigError, match="^command line.rounds: must be at least 1"):
        load_scenarios(BASIC, rounds=0)
    with pytest.raises(ConfigError, match="^command line.seed: must be at least 0"):
        load_scenarios(BASIC, seed=-1)


def test_cli_simulate_writes_json_table_and_png(tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(BASIC))
    output = tmp_path / "out" / "res.json"
    assert main(["simulate", str(config), "--output", str(output), "--no-progress"]) == 0
    data = json.loads(output.read_text())["scenarios"]
    se = data["se"]["strategies"]
    assert set(se) == {"uncoded", "rep", "mds", "grad"}
    assert se["uncoded"]["speedup"]["mean"] == 1.0
    # each strategy carries what a real run needs to rebuild it
    assert coded.code_from_config(se["mds"]["config"]) == MDSCode(6, 4)
    # the YAML aliases {type: replication, r: 2} and {type: uncoded} are coded.Replication
    assert coded.code_from_config(se["rep"]["config"]) == coded.Replication(6, 2)
    assert coded.code_from_config(se["uncoded"]["config"]) == coded.Replication(6, 1)
    assert se["mds"]["speedup"]["median"] == pytest.approx(
        se["uncoded"]["median"] / se["mds"]["median"]
    )
    assert len(se["mds"]["cdf"]["latency"]) == len(se["mds"]["cdf"]["p"]) == 201
    assert data["persistent"]["delays"] == {
        "type": "PersistentSlow",
        "workers": 1,
        "factor": 10.0,
        "seed": 0,
    }
    table = output.with_suffix(".md").read_text()
    assert "| se " in table and "uncoded (baseline)" in table
    assert "speed-up median" in capsys.readouterr().out
    pytest.importorskip("matplotlib")
    png = output.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_simulate_without_matplotlib_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(_with("scenarios.persistent", None)))
    status = main(["simulate", str(config), "--output", str(tmp_path / "r.json"), "--no-progress"])
    assert status == 1
    assert "pip install 'coded-runtime[plot]'" in capsys.readouterr().err
    assert (tmp_path / "r.json").is_file()
    assert (
        main(
            [
                "simulate",
                str(config),
                "--output",
                str(tmp_path / "s.json"),
                "--no-progress",
                "--no-plot",
            ]
        )
        == 0
    )


def test_cli_simulate_says_when_no_round_can_be_plotted(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    config = tmp_path / "down.yaml"
    down = {"type": "FailStop", "workers": [0, 1, 2, 3, 4, 5], "round": 0, "duration": None}
    config.write_text(yaml.safe_dump(_with("scenarios.se.delays", down)))
    argv = ["simulate", str(config), "--only", "se", "--output", str(tmp_path / "r.json")]
    assert main([*argv, "--no-progress"]) == 1
    assert "no PNG report: nothing to plot: no scenario has a decodable round" in (
        capsys.readouterr().err
    )
    assert (tmp_path / "r.json").is_file() and not (tmp_path / "r.png").exists()


def test_cli_simulate_rejects_bad_config(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(_with("scenarios.se.strategies.rep.r", 4)))
    assert main(["simulate", str(config), "--no-progress"]) == 2
    assert "scenarios.se.strategies.rep.r: must divide n=6" in capsys.readouterr().err


def test_example_config_is_valid():
    _, scenarios = load_scenarios(load_yaml(EXAMPLE), rounds=50)
    assert {s.name for s in scenarios} >= {"shifted-exponential", "persistent"}
    for scenario in scenarios:
        assert len(scenario.run().results) == len(scenario.strategies)
