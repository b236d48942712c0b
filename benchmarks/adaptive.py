"""Adaptive vs static MDS under persistent stragglers, on an emulated cluster, beside the simulator.

    python benchmarks/adaptive.py                  # n = 32 on Ray, 40 rounds: a few minutes
    python benchmarks/adaptive.py --quick --pool inprocess --json results/adaptive.json

What is measured. Every worker *emulates* its compute (:mod:`coded.workers.emulation`): it
sleeps the time one core takes for its share of a matrix–vector product ``A x`` at
``--seconds-per-op`` (``--job-ms``: the whole product on one worker), then the injected
delay applies (``factor · c + extra``). So n actors on a machine of a few cores behave like
n one-core machines. The master's side is real: dispatch, waiting, cancellation, decoding
(of zeros: emulated values are not the product; exactness is checked by
``tests/scheduler/test_adapt.py``), the speed estimates, and every re-placement
(re-encoding ``A`` and placing n shares, on Ray one ``ray.put`` each), whose time counts in
the round after which it was decided. A round's time is the wall time of ``op @ x``.

Scenarios (``--n`` workers, the default code MDS(n, k) with k = 22 at n = 32, the best k
for i.i.d. ``ShiftedExponential(1)`` as in ``partial_work.py``, ``round(22·n/32)`` else):

* ``persistent``: 3/8 of the workers (12 of 32) 5× slow every round, on top of
  ``ShiftedExponential(4)`` noise: more stragglers than the code tolerates;
* ``markov``: two-state chains, 5× slow with ``p_slow = 0.05``, ``p_recover = 0.1``
  (slow a third of the time, in spells of 10 rounds on average).

For each, ``--rounds`` rounds of the static code and of the same code placed with
``adapt=Adapt()`` (:mod:`coded.scheduler.adapt`: k re-chosen for the workers not
persistently slow), each on a fresh runtime with the same seed, so both see the same
stragglers, round by round. Reported: the mean round after ``--warmup`` rounds, adaptive /
static, the mean start lag (dispatch to a worker starting its round, the median worker: a
cost of the control plane the simulator leaves out), the decisions and the seconds they
took; beside them the simulator's prediction on
the same delays (:mod:`coded.scheduler.lab`: ``simulate`` for the static code,
``simulate_recoded`` for the policy: the same speed estimates and decisions in virtual
time, with a free control plane and free re-encoding) and real / simulated.

Verdicts: adaptive ≤ 0.6× static MDS after the warm-up (issue 14), and the real means
within 15% of the simulated ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

from coded import MDSCode  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.lab import Strategy, sample_delays, simulate, simulate_recoded  # noqa: E402
from coded.scheduler.pool import InProcessPool  # noqa: E402
from coded.scheduler.runtime import Runtime  # noqa: E402
from coded.scheduler.speeds import Adapt  # noqa: E402
from coded.workers.delays import (  # noqa: E402
    Compose,
    MarkovStragglers,
    PersistentSlow,
    ShiftedExponential,
)
from coded.workers.emulation import Emulation  # noqa: E402

TARGETS = {"adaptive / static": 0.6, "real / simulated": 0.15}


def scenarios(n: int) -> dict:
    return {
        "persistent": Compose(ShiftedExponential(4.0), PersistentSlow(3 * n // 8, 5.0)),
        "markov": MarkovStragglers(0.05, 0.1, 5.0),
    }


def run(n: int, k: int, model, adapt: Adapt | None, args) -> dict:
    """``args.rounds`` rounds of MDS(n, k) (adapted or not) on a fresh runtime."""
    A, x = np.zeros((args.rows, args.cols)), np.zeros(args.cols)
    emulation = Emulation(args.job_ms / 1e3 / (args.rows * args.cols))
    if args.pool == "ray":
        options = {"delays": model, "seed": args.seed, "emulate": emulation}
        runtime = Runtime(n, num_cpus_per_worker=args.num_cpus, **options)
    else:
        pool = InProcessPool(n, delays=model, seed=args.seed, emulate=emulation)
        runtime = Runtime(n, pool=pool)
    with runtime as rt:
        op = rt.place(A, code=MDSCode(n, k), adapt=adapt)
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            op @ x
            times.append(time.perf_counter() - start)
        decisions = [d.to_dict() for d in rt.decisions]
        overhead = [m.overhead_s for m in rt.history]
        lag = [float(np.median(list(m.started.values()))) for m in rt.history]
    return {"times": times, "decisions": decisions, "overhead": overhead, "lag": lag}


def scenario_row(name: str, model, n: int, k: int, args) -> dict:
    """Static and adaptive, real and simulated, on one scenario's delays."""
    work = args.job_ms / 1e3
    delays = sample_delays(model, n, args.rounds, args.seed)
    simulated = {
        "static": simulate([Strategy.coded(MDSCode(n, k))], delays, work=work)[0].latency,
        "adaptive": simulate_recoded(Adapt(), delays, n, k, work=work).latency,
    }
    real = {
        "static": run(n, k, model, None, args),
        "adaptive": run(n, k, model, Adapt(), args),
    }
    after = slice(args.warmup, None)
    mean = {s: 1e3 * float(np.mean(real[s]["times"][after])) for s in real}
    sim = {s: 1e3 * float(np.mean(simulated[s][after])) for s in simulated}
    decisions = real["adaptive"]["decisions"]
    ratio, sim_ratio = mean["adaptive"] / mean["static"], sim["adaptive"] / sim["static"]
    agreement = max(abs(mean[s] / sim[s] - 1) for s in mean)
    row = {
        "scenario": name,
        "n": n,
        "k": k,
        "static ms": mean["static"],
        "adaptive ms": mean["adaptive"],
        "adaptive/static": ratio,
        "sim static ms": sim["static"],
        "sim adaptive ms": sim["adaptive"],
        "sim adaptive/static": sim_ratio,
        "real/sim static": mean["static"] / sim["static"],
        "real/sim adaptive": mean["adaptive"] / sim["adaptive"],
        "start lag ms": 1e3 * float(np.mean([real[s]["lag"][after] for s in real])),
        "decisions": len(decisions),
        "replace ms": 1e3 * sum(d["seconds"] for d in decisions),
        "last k": int(decisions[-1]["new"].split("k=")[1].split(",")[0]) if decisions else k,
        "<= 0.6 static": _verdict(ratio, TARGETS["adaptive / static"]),
        "sim within 15%": _verdict(agreement, TARGETS["real / simulated"]),
    }
    print(f"{name}: {row}", flush=True)
    detail = {
        "real_ms": {s: (1e3 * np.asarray(real[s]["times"])).tolist() for s in real},
        "simulated_ms": {s: (1e3 * simulated[s]).tolist() for s in simulated},
        "overhead_ms": {s: (1e3 * np.asarray(real[s]["overhead"])).tolist() for s in real},
        "start_lag_ms": {s: (1e3 * np.asarray(real[s]["lag"])).tolist() for s in real},
        "decisions": decisions,
    }
    return {"row": row, "detail": detail}


def _verdict(value: float, bound: float) -> str:
    return "met" if value <= bound else "MISSED"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=20, help="rounds left out of the means")
    parser.add_argument("--rows", type=int, default=2048, help="rows of A (encoded for real)")
    parser.add_argument("--cols", type=int, default=512)
    parser.add_argument("--job-ms", type=float, default=2000.0, help="A x on one worker")
    parser.add_argument("--pool", choices=("ray", "inprocess"), default="ray")
    parser.add_argument("--scenarios", nargs="+", default=["persistent", "markov"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="n = 8, 16 rounds, 8 warm-up")
    parser.add_argument("--json", default="results/adaptive.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds, args.warmup, args.job_ms = 8, 16, 8, 400.0
    n, k = args.n, max(1, round(22 * args.n / 32))
    print(
        f"n={n}, MDS(n, {k}); {args.rows}x{args.cols} A, the whole product {args.job_ms:g} ms "
        f"on one emulated worker; {args.rounds} rounds, means after {args.warmup}; "
        f"{args.pool} pool",
        flush=True,
    )
    started = connect(num_cpus=n) if args.pool == "ray" else False
    try:
        if args.pool == "ray":
            import ray

            args.num_cpus = min(1.0, ray.cluster_resources().get("CPU", 1.0) / n)
        models = scenarios(n)
        results = {s: scenario_row(s, models[s], n, k, args) for s in args.scenarios}
    finally:
        disconnect(started)
    rows = [r["row"] for r in results.values()]
    print_table(
        f"Persistent stragglers: mean round (ms) after {args.warmup}, real (emulated, "
        f"{args.pool}) and simulated on the same delays",
        rows,
    )
    report = {
        "setup": vars(args),
        "thresholds": TARGETS,
        "rows": rows,
        "detail": {s: r["detail"] for s, r in results.items()},
    }
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
