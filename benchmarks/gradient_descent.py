"""Coded gradient descent against its baselines: time to a target loss under injected stragglers.

    python benchmarks/gradient_descent.py            # the full run (about 10 minutes on 2 cores)
    python benchmarks/gradient_descent.py --quick    # smaller data, fewer iterations

Logistic regression on n = 8 CPU workers of a local Ray, under the scenarios of the
straggler benchmark (``benchmarks/straggler_matmul.py``). In every scenario the same
runtime runs, side by side, for s = 1 and s = 2:

* ``coded``: gradient code (cyclic): the exact gradient from the first 8 − s workers;
* ``uncoded``: one partition per worker, every iteration waits for all 8;
* ``ignore``: one partition per worker, the first 8 − s answers rescaled (not exact);
* ``mds``: Lee et al.'s two coded rounds per iteration (``X w``, then ``Xᵀ r``), MDS(8, 8 − s).

The target loss is what exact gradient descent reaches after the run's iterations, so the
exact methods reach it at their last iteration; the time to target of ``ignore`` is read
from the true loss of its iterates (it may never get there). A second part measures the
master's overhead per iteration beyond compute (iteration time minus the moment the first
decodable set had finished on the workers) without stragglers, and the driver's memory and
the object store over 1000 iterations.

Targets: with one 5× straggler, coded ≤ 0.6× uncoded; overhead ≤ 6 ms per iteration; no
growth of memory or object-store use over 1000 iterations.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402
from straggler_matmul import SCENARIOS  # noqa: E402

import coded  # noqa: E402
from coded.losses import LogisticLoss  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402

N = 8
LR = 2.0
ONE_STRAGGLER = "persistent-1x5"  # the scenario of the target: one worker always 5x slow
RUNS = [("uncoded", 0)] + [(method, s) for s in (1, 2) for method in ("coded", "ignore", "mds")]


def make_data(rows: int, features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    y = (X @ rng.standard_normal(features) + 0.5 * rng.standard_normal(rows) > 0).astype(float)
    return X, y


def exact_losses(X, y, iterations: int) -> np.ndarray:
    """Mean loss of the iterates of plain gradient descent, computed with numpy alone."""
    loss, w, out = LogisticLoss(), np.zeros(X.shape[1]), []
    for _ in range(iterations):
        w = w - LR * loss.gradient(w, X, y) / len(X)
        out.append(loss.value(w, X, y) / len(X))
    return np.array(out)


def run_method(rt, X, y, method: str, iterations: int, s: int = 1):
    """One training run; returns its history, the true loss of each iterate, and round metrics."""
    iterates = []
    first_round = rt.rounds_run
    result = coded.train(
        X,
        y,
        loss="logistic",
        optimizer=coded.GD(lr=LR),
        iterations=iterations,
        method=method,
        s=s,
        runtime=rt,
        progress=False,
        callback=lambda t, w, record: iterates.append(w),
    )
    loss = LogisticLoss()
    true = np.array([loss.value(w, X, y) / len(X) for w in iterates])
    return result.history, true, [m for m in rt.history if m.round >= first_round]


def time_to(history, true_losses, target: float):
    hit = np.nonzero(true_losses <= target * (1 + 1e-9))[0]
    return float(history.times[hit[0]]) if hit.size else None


def scenarios(X, y, iterations: int, repeats: int) -> list[dict]:
    """Each run ``repeats`` times per scenario, in rotated order; medians over the repeats."""
    target = float(exact_losses(X, y, iterations)[-1])
    rows = []
    for name, delays in SCENARIOS.items():
        measured = {run: [] for run in RUNS}
        with coded.Runtime(N, delays=delays, seed=1) as rt:
            for repeat in range(repeats):
                shift = repeat % len(RUNS)
                for method, s in RUNS[shift:] + RUNS[:shift]:
                    history, true, _ = run_method(rt, X, y, method, iterations, s)
                    measured[method, s].append((history, true))
        uncoded = _median(time_to(h, true, target) for h, true in measured["uncoded", 0])
        for (method, s), runs in measured.items():
            reach = _median(time_to(h, true, target) for h, true in runs)
            rows.append(
                {
                    "scenario": name,
                    "method": method,
                    "s": s,
                    "exact": runs[0][0].exact,
                    "time_to_target_s": reach,
                    "vs_uncoded": None if reach is None else reach / uncoded,
                    "median_iteration_ms": 1e3 * _median(np.median(h.round_times) for h, _ in runs),
                    "final_true_loss": float(runs[0][1][-1]),
                    "target_loss": target,
                }
            )
    return rows


def _median(values):
    """Median of values where None means "never" (so the median may be None)."""
    value = float(np.median([np.inf if v is None else v for v in values]))
    return None if np.isinf(value) else value


def overhead(X, y, iterations: int) -> list[dict]:
    """Iteration time beyond the oracle (first decodable set finished on the workers + decode)."""
    rows = []
    with coded.Runtime(N) as rt:
        for method in ("coded", "uncoded"):
            history, _, rounds = run_method(rt, X, y, method, iterations, s=1)
            skip = min(5, iterations // 5)  # first iterations warm up the workers
            iteration_s = history.round_times[skip:]
            oracle = np.array([m.oracle_s for m in rounds[skip:]])
            compute = np.array([max(m.compute[i] for i in m.used) for m in rounds[skip:]])
            round_total = np.array([m.total_s for m in rounds[skip:]])
            rows.append(
                {
                    "method": method,
                    "median_iteration_ms": 1e3 * float(np.median(iteration_s)),
                    "median_compute_ms": 1e3 * float(np.median(compute)),
                    "median_oracle_ms": 1e3 * float(np.median(oracle)),
                    "overhead_ms": 1e3 * float(np.median(iteration_s - oracle)),
                    "overhead_p90_ms": 1e3 * float(np.percentile(iteration_s - oracle, 90)),
                    "outside_round_ms": 1e3 * float(np.median(iteration_s - round_total)),
                }
            )
    return rows


def _plasma_mib() -> float:
    import ray
    from ray._private.internal_api import memory_summary

    summary = memory_summary(address=ray.get_runtime_context().gcs_address, stats_only=True)
    match = re.search(r"Plasma memory usage (\d+) MiB", summary)
    return float(match.group(1)) if match else float("nan")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def memory(iterations: int) -> dict:
    """Driver RSS and object-store use after 100 iterations and at the end of a long run."""
    X, y = make_data(4000, 20, seed=2)
    samples = {}

    def sample(t, w, record):
        if t + 1 in (100, iterations // 2, iterations):
            samples[t + 1] = {"rss_mib": _rss_mib(), "plasma_mib": _plasma_mib()}

    with coded.Runtime(N, delays=SCENARIOS[ONE_STRAGGLER], seed=1) as rt:
        start = time.perf_counter()
        coded.train(
            X,
            y,
            loss="logistic",
            optimizer=coded.GD(lr=LR),
            iterations=iterations,
            s=1,
            runtime=rt,
            progress=False,
            callback=sample,
        )
        elapsed = time.perf_counter() - start
    first, last = samples[100], samples[iterations]
    out = {"iterations": iterations, "seconds": elapsed}
    for t, sample in sorted(samples.items()):
        out.update({f"{key}_at_{t}": value for key, value in sample.items()})
    out["rss_growth_mib"] = last["rss_mib"] - first["rss_mib"]
    out["plasma_growth_mib"] = last["plasma_mib"] - first["plasma_mib"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, few iterations")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method and scenario")
    parser.add_argument("--output", default="results/gradient_descent.json")
    args = parser.parse_args(argv)
    rows, features, iterations, long_run = (
        (40_000, 50, 15, 300) if args.quick else (320_000, 100, 30, 1000)
    )

    started = connect()
    try:
        X, y = make_data(rows, features)
        table = scenarios(X, y, iterations, args.repeats)
        print_table(
            f"time to the target loss ({rows} x {features} logistic, n={N}, "
            f"{iterations} iterations)",
            table,
            [
                "scenario",
                "method",
                "s",
                "exact",
                "time_to_target_s",
                "vs_uncoded",
                "median_iteration_ms",
                "final_true_loss",
            ],
        )
        costs = overhead(*make_data(8_000, 20, seed=1), iterations=200 if not args.quick else 60)
        print_table("overhead per iteration beyond compute (no stragglers, 8 CPU workers)", costs)
        usage = memory(long_run)
        print_table(f"memory over {long_run} iterations (coded s=1, {ONE_STRAGGLER})", [usage])
    finally:
        disconnect(started)

    straggler = next(
        r for r in table if r["scenario"] == ONE_STRAGGLER and (r["method"], r["s"]) == ("coded", 1)
    )
    targets = {
        f"coded_vs_uncoded_{ONE_STRAGGLER}": straggler["vs_uncoded"],
        "coded_overhead_ms": next(c["overhead_ms"] for c in costs if c["method"] == "coded"),
        "rss_growth_mib": usage["rss_growth_mib"],
        "plasma_growth_mib": usage["plasma_growth_mib"],
    }
    print_table("targets (coded/uncoded <= 0.6, overhead <= 6 ms, no growth)", [targets])
    write_json(
        args.output,
        {
            "scenarios": table,
            "overhead": costs,
            "memory": usage,
            "targets": targets,
            "config": {
                "n": N,
                "runs": RUNS,
                "repeats": args.repeats,
                "lr": LR,
                "rows": rows,
                "features": features,
                "iterations": iterations,
            },
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
