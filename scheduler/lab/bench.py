"""Scenarios on real workers, next to the simulator's prediction of them: what ``coded bench`` runs.

A scenario of :mod:`.scenario` runs on a :class:`~coded.scheduler.runtime.Runtime` of ``n``
workers with the scenario's delay model and seed injected; its strategies take rounds in
turn (:func:`.compare.compare`), each round one product ``A @ x`` with the shapes
of the scenario's ``workload:`` section (top level, or per scenario)::

    workload:
      rows: 2400        # A is rows × cols, random normal
      cols: 400
      rhs: 0            # columns of x; 0: x is a vector
      rounds: 30        # measured rounds per strategy (`rounds` of a scenario is the simulator's)
      warmup: 2         # first rounds of each strategy, run and dropped

Worker w of round m draws ``(factor, extra)`` from ``default_rng([seed, w])`` at index
``m`` (rounds are numbered across the runtime), so the simulator can replay exactly the
delays the real rounds drew. It is calibrated from the run, per strategy:

* ``base``: the median of the workers' uninjected compute times ``c`` (``RoundMetrics.compute``),
  the simulator's ``work · share``;
* ``overheads``: each round's control overhead ``total_s − (f_j·c_j + e_j)``, where worker
  j's answer completed the first decodable set (in the order the workers finished) and
  ``(f_j, e_j)`` is its injected delay: all that the round cost beyond that worker's own
  time (dispatch, queueing, the master noticing, cancelling, fetching and decoding);

and then predicts a round's latency as the policy's latency on ``T_w = f_w·base + e_w``
plus an overhead independent of it, drawn from the measured ones (the distribution of the
sum is every simulated latency plus every measured overhead: on a loaded machine the
overhead varies from round to round, and the median of a sum is not the sum of the
medians). The prediction's median is set against the measured one. The
calibrated simulator also runs the scenario's own ``rounds`` fresh rounds of the delay
model: how far the few measured rounds sit from the law they sample.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from coded import Code, code_from_config

from ..jobs.schema import ConfigError, Field, validate
from ..metrics import RoundMetrics
from ..runtime import Runtime, operand_count
from .compare import compare
from .scenarios import Scenario, ScenarioResult
from .simulator import SimulationResult, Strategy, sample_delays, simulate
from .traces import worker_times

__all__ = ["Workload", "Calibration", "BenchResult", "load_workloads", "runnable_code", "bench"]


def _at_least(minimum):
    return lambda value: None if value >= minimum else f"must be at least {minimum}, got {value}"


WORKLOAD = {
    "rows": Field(int, 2400, _at_least(1), "rows of A"),
    "cols": Field(int, 400, _at_least(1), "columns of A (rows of x)"),
    "rhs": Field(int, 0, _at_least(0), "columns of x; 0: a vector"),
    "rounds": Field(int, 30, _at_least(1), "measured rounds per strategy"),
    "warmup": Field(int, 2, _at_least(0), "first rounds per strategy, run and dropped"),
}


@dataclass(frozen=True)
class Workload:
    """Data shapes and rounds of a real run (defaults: :data:`WORKLOAD`)."""

    rows: int = 2400
    cols: int = 400
    rhs: int = 0
    rounds: int = 30
    warmup: int = 2

    def operands(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Random normal ``A`` (rows × cols) and ``x`` (cols, or cols × rhs)."""
        rng = np.random.default_rng(seed)
        shape = (self.cols, self.rhs) if self.rhs else (self.cols,)
        return rng.standard_normal((self.rows, self.cols)), rng.standard_normal(shape)


def load_workloads(
    data: Mapping, scenarios: list[Scenario], rounds: int | None = None
) -> dict[str, Workload]:
    """Each scenario's workload: its own ``workload:`` over the top level's over the defaults;
    ``rounds`` (the command line's) overrides all. Errors name the key path.

    >>> load_workloads({"workload": {"rows": 8}, "scenarios": {"a": {"workload": {"cols": 2}}}},
    ...                [Scenario("a", 2, None, (), 1.0, 1, 0, "x")])["a"]
    Workload(rows=8, cols=2, rhs=0, rounds=30, warmup=2)
    """
    top = data.get("workload") or {}
    validate(top, WORKLOAD, "workload")
    sections = {str(name): value or {} for name, value in data["scenarios"].items()}
    out = {}
    for scenario in scenarios:
        own = sections[scenario.name].get("workload") or {}
        values = validate({**top, **own}, WORKLOAD, f"scenarios.{scenario.name}.workload")
        if rounds is not None:
            values["rounds"] = validate({"rounds": rounds}, WORKLOAD, "command line")["rounds"]
        out[scenario.name] = Workload(**values)
    return out


def runnable_code(strategy: Strategy, where: str = "strategy") -> Code:
    """The code a real run of ``strategy`` places, built from its config.

    >>> runnable_code(Strategy.replication(4, 2))
    Replication(n=4, r=2, field='real')
    """
    try:
        code = code_from_config(strategy.config or {})
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, f"cannot run on real workers: {exc}") from exc
    if operand_count(code) != 1:
        raise ConfigError(
            where,
            f"real runs place A once and multiply by x each round, so the code must encode A "
            f"alone (MDS, replication); {code!r} encodes (A, B)",
        )
    return code


@dataclass(frozen=True)
class Calibration:
    """What the simulator takes from a real run of one strategy (seconds)."""

    base: float  # median uninjected compute time of a worker: work · share
    overheads: tuple[float, ...]  # per round: time beyond the deciding worker's own time

    @property
    def overhead(self) -> float:
        """The median control overhead of a round."""
        return float(np.median(self.overheads))


@dataclass(frozen=True)
class BenchResult:
    """A scenario measured on real workers and predicted by the calibrated simulator.

    ``measured`` and ``predicted`` are :class:`ScenarioResult` objects over the same rounds
    (the report's tables and plots take either), ``model`` the calibrated simulator on the
    scenario's ``rounds`` fresh rounds; ``metrics`` holds each strategy's rounds.
    """

    scenario: Scenario
    workload: Workload
    metrics: dict[str, list[RoundMetrics]]
    calibration: dict[str, Calibration]
    measured: ScenarioResult
    predicted: ScenarioResult
    model: ScenarioResult

    def comparison(self) -> dict[str, dict[str, float]]:
        """Per strategy: predicted and measured median and mean latency, the relative
        difference of the medians ``(predicted − measured) / measured``, the median of the
        model's fresh rounds, and the calibration."""
        out = {}
        results = (self.measured.results, self.predicted.results, self.model.results)
        for real, sim, model in zip(*results, strict=True):
            cal = self.calibration[real.strategy.name]
            out[real.strategy.name] = {
                "predicted_median": sim.median,
                "measured_median": real.median,
                "relative_difference": (sim.median - real.median) / real.median,
                "predicted_mean": sim.mean,
                "measured_mean": real.mean,
                "model_median": model.median,
                "model_rounds": self.model.scenario.rounds,
                "base": cal.base,
                "overhead": cal.overhead,
            }
        return out


def bench(
    scenario: Scenario,
    workload: Workload,
    *,
    runtime: Callable[..., Runtime] = Runtime,
    progress: Callable[[int], object] | None = None,
) -> BenchResult:
    """Run ``scenario`` on real workers and predict it with the calibrated simulator.

    Args:
        scenario: n, delay model, seed and strategies (their ``work`` and ``overhead``
            are not used: the run measures them).
        workload: data shapes and measured rounds.
        runtime: builds the workers, called as ``runtime(n, delays=..., seed=...)``
            (default: :class:`Runtime` on Ray; a function returning a runtime on an
            :class:`~coded.scheduler.pool.InProcessPool` with those delays runs without Ray).
        progress: called with 1 after each turn of all strategies (e.g. ``tqdm.update``).
    """
    codes = {
        s.name: runnable_code(s, f"scenarios.{scenario.name}.strategies.{s.name}")
        for s in scenario.strategies
    }
    A, x = workload.operands(scenario.seed)
    with runtime(scenario.n, delays=scenario.delays, seed=scenario.seed) as rt:
        metrics = compare(rt, A, x, codes, workload.rounds, workload.warmup, progress)
    last = max(m.round for rounds in metrics.values() for m in rounds)
    delays = sample_delays(scenario.delays, scenario.n, last + 1, scenario.seed)
    calibration, measured, predicted, model = {}, [], [], []
    for configured in scenario.strategies:
        strategy = dataclasses.replace(configured, overhead=0.0)  # measured instead
        rounds = metrics[strategy.name]
        cal = calibration[strategy.name] = _calibrate(codes[strategy.name], rounds, delays)
        work = cal.base / strategy.share
        rows = [m.round for m in rounds]
        same = type(delays)(delays.factor[rows], delays.extra[rows])
        (sim,) = simulate([strategy], same, work=work)
        predicted.append(_plus_overhead(sim, cal.overheads))
        (sim,) = simulate(
            [strategy], scenario.delays, rounds=scenario.rounds, seed=scenario.seed, work=work
        )
        model.append(_plus_overhead(sim, cal.overheads))
        measured.append(_measured(strategy, rounds))
    real = dataclasses.replace(scenario, rounds=workload.rounds)
    return BenchResult(
        scenario,
        workload,
        metrics,
        calibration,
        ScenarioResult(real, tuple(measured)),
        ScenarioResult(real, tuple(predicted)),
        ScenarioResult(scenario, tuple(model)),
    )


def _calibrate(code: Code, rounds: list[RoundMetrics], delays) -> Calibration:
    base = float(np.median([c for m in rounds for c in m.compute.values()]))
    overheads = []
    for m in rounds:
        j = _deciding_worker(code, m)
        own = delays.factor[m.round, j] * m.compute[j] + delays.extra[m.round, j]
        overheads.append(m.total_s - own)
    return Calibration(base, tuple(overheads))


def _plus_overhead(result: SimulationResult, overheads) -> SimulationResult:
    """The distribution of ``latency + overhead`` for independent overheads: every pair."""
    overheads = np.asarray(overheads)
    latency = (result.latency[:, None] + overheads[None, :]).ravel()
    repeat = len(overheads)
    return SimulationResult(
        result.strategy, latency, np.repeat(result.busy, repeat), np.repeat(result.wasted, repeat)
    )


def _deciding_worker(code: Code, m: RoundMetrics) -> int:
    """The worker whose finish completed the first decodable set (worker-side order)."""
    order = sorted(m.finished, key=m.finished.get)
    length = code.first_decodable(order)
    if length is None:
        raise ValueError(f"round {m.round} of {m.strategy} finished no decodable set")
    return order[length - 1]


def _measured(strategy: Strategy, rounds: list[RoundMetrics]) -> SimulationResult:
    """Measured rounds in the simulator's result form: latency ``total_s``; busy and wasted
    worker-seconds as the simulator counts them, from the recorded worker times."""
    times = worker_times(rounds)
    decided = np.array([m.dispatch_s + m.wait_s for m in rounds])
    capped = np.minimum(times, decided[:, None])
    busy = np.where(np.isfinite(capped), capped, 0.0).sum(axis=1)
    used = np.array([sum(m.finished[i] for i in m.used) for m in rounds])
    latency = np.array([m.total_s for m in rounds])
    return SimulationResult(strategy, latency, busy, np.maximum(busy - used, 0.0))
