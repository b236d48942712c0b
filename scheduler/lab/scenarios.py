"""Named straggler scenarios from YAML: what ``coded simulate`` (and later ``coded bench``) runs.

A scenario holds exactly what a real run needs too: the number of workers, the delay model
and its seed (the same :mod:`coded.workers.delays` config the runtime takes, drawn per worker
from ``default_rng([seed, worker])``), the strategies as code configs, and the rounds::

    seed: 0
    rounds: 100000
    output: simulate.json          # optional: JSON results (the CLI's --output wins)
    plot: simulate.png             # optional: PNG report, needs matplotlib
    scenarios:
      shifted-exponential:
        n: 10
        work: 1.0                  # seconds one worker needs for the whole job
        delays: {type: ShiftedExponential, rate: 1.0}
        baseline: uncoded          # ratios are against this strategy
        strategies:
          mds: {type: MDSCode, k: 7}          # any code config; n defaults to the scenario's
          uncoded: {type: uncoded}
          replication: {type: replication, r: 2}

An optional ``network:`` section per scenario puts the messages on links
(:class:`~coded.workers.delays.Network`; results then report their communication)::

        network: {latency: 1.0e-4, bandwidth: 1.0e+10, master_bandwidth: 1.0e+10}
        message_bytes: 4.0e+7      # each worker's answer
        broadcast_bytes: 4.0e+7    # sent to every worker at the start of a round

An optional ``workload:`` section (top level, or per scenario) gives the data shapes and
rounds of real runs; only ``coded bench`` reads it (see :mod:`.real`).

``{type: uncoded}`` and ``{type: replication, r: 2}`` are aliases of the codes
``{type: Replication, r: 1}`` and ``{type: Replication, r: 2}``. Every strategy also takes
``overhead`` (seconds per round, e.g. decoding); code strategies take ``share`` (the
fraction of the job one worker computes) to override the code's ``work_share``. Errors
name the key path (``scenarios.shifted-exponential.strategies.mds.k``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from coded import Code
from coded.workers.delays import DelayModel, Network

from ..jobs.schema import ConfigError, Field, code_field, delay_field, typed_section, validate
from ..progress import progress as progress_bar
from .simulator import SimulationResult, Strategy, simulate

__all__ = ["Scenario", "ScenarioResult", "load_scenarios", "run_scenarios", "results_to_dict"]

_CDF_POINTS = 201


def _positive(value):
    return None if value >= 1 else f"must be at least 1, got {value}"


def _not_negative(value):
    return None if value >= 0 else f"must be at least 0, got {value}"


def _non_empty(value):
    return None if value else "must not be empty"


SCHEMA = {
    "seed": Field(int, 0, _not_negative, "seed of the delays (per worker: [seed, worker])"),
    "rounds": Field(int, 10_000, _positive, "rounds per scenario"),
    "output": Field(str, None, doc="JSON results path"),
    "plot": Field(str, None, doc="PNG report path (needs matplotlib)"),
    "scenarios": Field(dict, check=_non_empty, doc="name -> scenario"),
    "workload": Field(dict, None, doc="data shapes of real runs (coded bench; sim.real)"),
}

SCENARIO = {
    "n": Field(int, check=_positive, doc="number of workers"),
    "delays": Field(dict, {"type": "NoDelay"}, doc="a coded.workers.delays model config"),
    "strategies": Field(dict, check=_non_empty, doc="name -> code config, uncoded or replication"),
    "work": Field(float, 1.0, _not_negative, "seconds one worker needs for the whole job"),
    "rounds": Field(int, None, _positive, "overrides the top-level rounds"),
    "seed": Field(int, None, _not_negative, "overrides the top-level seed"),
    "baseline": Field(str, None, doc="strategy the ratios compare against"),
    "workload": Field(dict, None, doc="overrides the top-level workload (coded bench)"),
    "network": Field(dict, None, doc="a coded.workers.delays.Network config: links"),
    "message_bytes": Field(float, 0.0, _not_negative, "bytes of each worker's answer"),
    "broadcast_bytes": Field(float, 0.0, _not_negative, "bytes sent to every worker a round"),
}

_OVERHEAD = Field(float, 0.0, _not_negative, "seconds added to every round")
_CODE_OPTIONS = {
    "overhead": _OVERHEAD,
    "share": Field(
        float,
        None,
        lambda v: None if 0 < v <= 1 else f"must be in (0, 1], got {v}",
        "fraction of the job one worker computes",
    ),
}
# YAML aliases of coded.Replication: what each accepts, and the code config it stands for
_BASELINES = {
    "uncoded": {"type": Field(("uncoded",)), "overhead": _OVERHEAD},
    "replication": {
        "type": Field(("replication",)),
        "r": Field(int, check=_positive, doc="copies of each task"),
        "overhead": _OVERHEAD,
    },
}


@dataclass(frozen=True)
class Scenario:
    """One named scenario: n workers, a delay model, strategies, rounds and seed; optionally
    a network and the sizes of its messages."""

    name: str
    n: int
    delays: DelayModel
    strategies: tuple[Strategy, ...]
    work: float
    rounds: int
    seed: int
    baseline: str
    network: Network | None = None
    message_bytes: float = 0.0
    broadcast_bytes: float = 0.0

    def run(self, progress: Callable[[int], object] | None = None) -> ScenarioResult:
        """Simulate every strategy on the same delays."""
        results = simulate(
            self.strategies,
            self.delays,
            rounds=self.rounds,
            seed=self.seed,
            work=self.work,
            network=self.network,
            message_bytes=self.message_bytes,
            broadcast_bytes=self.broadcast_bytes,
            progress=progress,
        )
        return ScenarioResult(self, tuple(results))


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    results: tuple[SimulationResult, ...]

    @property
    def baseline(self) -> SimulationResult:
        return next(r for r in self.results if r.strategy.name == self.scenario.baseline)

    def speedups(self) -> dict[str, dict[str, float]]:
        """Baseline latency over each strategy's: mean, median and p99 (> 1 is faster)."""
        base = self.baseline
        return {
            r.strategy.name: {
                q: _ratio(getattr(base, q), getattr(r, q)) for q in ("mean", "median", "p99")
            }
            for r in self.results
        }


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 and np.isfinite(b) else 0.0


def load_scenarios(
    data: Mapping,
    *,
    rounds: int | None = None,
    seed: int | None = None,
    only: list[str] | None = None,
) -> tuple[dict, list[Scenario]]:
    """Validate a ``coded simulate`` config; return it (defaults filled) and its scenarios.

    ``rounds`` / ``seed`` (the command line's) override every scenario's; ``only`` keeps the
    scenarios named.

    >>> config, (s,) = load_scenarios({"scenarios": {"a": {"n": 4, "strategies": {
    ...     "mds": {"type": "MDSCode", "k": 3}, "uncoded": {"type": "uncoded"}}}}})
    >>> s.name, s.baseline, [x.name for x in s.strategies]
    ('a', 'uncoded', ['mds', 'uncoded'])
    """
    config = validate(data, SCHEMA)
    overrides = {"rounds": rounds, "seed": seed}
    for key, value in overrides.items():
        if value is not None:
            validate({key: value}, {key: SCHEMA[key]}, "command line")
    names = list(config["scenarios"])
    for name in only or []:
        if name not in names:
            raise ConfigError("scenarios", f"no scenario named {name!r}; expected one of {names}")
    scenarios = [
        _scenario(str(name), value, config, overrides)
        for name, value in config["scenarios"].items()
        if not only or name in only
    ]
    return config, scenarios


def _scenario(name: str, data, config: dict, overrides: dict) -> Scenario:
    where = f"scenarios.{name}"
    values = validate(data, SCENARIO, where)
    n = values["n"]
    delays = delay_field(values["delays"], f"{where}.delays")
    try:
        delays.sample(0, n, 1, np.random.default_rng(0))  # parameters that do not fit n
    except ValueError as exc:
        raise ConfigError(f"{where}.delays", str(exc)) from exc
    network = None
    if values["network"] is not None:
        network = typed_section(values["network"], f"{where}.network", Network.from_config)
        try:
            network.check_n(n)
        except ValueError as exc:
            raise ConfigError(f"{where}.network", str(exc)) from exc
    strategies = tuple(
        _strategy(str(key), spec, n, f"{where}.strategies.{key}")
        for key, spec in values["strategies"].items()
    )
    names = [s.name for s in strategies]
    baseline = values["baseline"]
    if baseline is None:
        baseline = "uncoded" if "uncoded" in names else names[0]
    elif baseline not in names:
        raise ConfigError(
            f"{where}.baseline", f"must name a strategy, one of {names}, got {baseline!r}"
        )
    return Scenario(
        name=name,
        n=n,
        delays=delays,
        strategies=strategies,
        work=values["work"],
        rounds=_first(overrides["rounds"], values["rounds"], config["rounds"]),
        seed=_first(overrides["seed"], values["seed"], config["seed"]),
        baseline=baseline,
        network=network,
        message_bytes=values["message_bytes"],
        broadcast_bytes=values["broadcast_bytes"],
    )


def _strategy(name: str, spec, n: int, where: str) -> Strategy:
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(where, f"expected a mapping with a 'type' key, got {spec!r}")
    kind = spec["type"]
    if kind in _BASELINES:
        values = validate(spec, _BASELINES[kind], where)
        r = values.get("r", 1)
        if n % r:
            raise ConfigError(f"{where}.r", f"must divide n={n}, got {r}")
        spec = {"type": "Replication", "r": r, "overhead": values["overhead"]}
    options = validate({k: v for k, v in spec.items() if k in _CODE_OPTIONS}, _CODE_OPTIONS, where)
    config = {k: v for k, v in spec.items() if k not in _CODE_OPTIONS}
    config.setdefault("n", n)
    code: Code = code_field(config, where)
    if code.n != n:
        raise ConfigError(f"{where}.n", f"must equal the scenario's n={n}, got {code.n}")
    try:
        return Strategy.coded(code, share=options["share"], overhead=options["overhead"], name=name)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}.share", str(exc)) from exc


def _first(*values):
    """The first value that is not None: command line, then scenario, then top level."""
    return next(v for v in values if v is not None)


def run_scenarios(
    scenarios: list[Scenario], *, progress: bool | None = None
) -> list[ScenarioResult]:
    """Run scenarios with a progress bar over rounds (``None``: only on a terminal; hidden
    under ``coded --quiet``)."""
    total = sum(s.rounds for s in scenarios)
    with progress_bar(total=total, unit="round", enabled=progress) as bar:
        out = []
        for scenario in scenarios:
            bar.set_description(scenario.name)
            out.append(scenario.run(progress=bar.update))
    return out


def results_to_dict(results: list[ScenarioResult]) -> dict:
    """JSON-ready results: per scenario, its settings, each strategy's summary, latency
    quantiles (the CDF at evenly spaced probabilities) and the speed-ups over the baseline."""
    levels = np.linspace(0.0, 1.0, _CDF_POINTS)
    out = {}
    for result in results:
        s = result.scenario
        speedups = result.speedups()
        out[s.name] = {
            "n": s.n,
            "delays": s.delays.get_config(),
            "work": s.work,
            "rounds": s.rounds,
            "seed": s.seed,
            "baseline": s.baseline,
            "strategies": {
                r.strategy.name: {
                    **{k: _finite(v) for k, v in r.summary().items()},
                    "speedup": speedups[r.strategy.name],
                    "cdf": {
                        "p": levels.tolist(),
                        "latency": [_finite(v) for v in r.quantile(levels)],
                    },
                }
                for r in result.results
            },
        }
    return out


def _finite(value):
    """JSON has no inf: latencies of undecodable rounds become null."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value
