"""Coded maps of a general function against plain-Ray peers, with injected 5× stragglers.

    python benchmarks/general.py [--rounds 9] [--json results/general.json]

Sections (one function each, sharing one local Ray; ``--sections`` picks some):

* ``inference``: Berrut coded inference of a digits MLP, 2 of 16 workers 5× slow
  (:mod:`inference`: its docstring has the set-up, baselines and targets).
* ``lagrange``: Lagrange coded computing of the LCC paper's least-squares gradient
  ``f([X | y], w) = Xᵀ(Xw − y)`` (degree 2 in the data) on n = 12 workers, k = 5 blocks,
  ``LagrangeCode(12, 5, degree=2, field=2^31 − 1)`` (threshold (k − 1)·2 + 1 = 9: any 3
  stragglers) and the real-field ``LagrangeCode(12, 5, 2)`` (threshold 9 too, k odd).

Every worker's compute stands for one dedicated core: ``f`` computes its result, then
sleeps ``SECONDS_PER_ROW`` per row of its block or share (12 workers on the 2 cores of a
laptop would otherwise measure CPU contention, not a cluster). The same ``f`` (over the
reals; over GF(p) a second definition computes mod p with ``coded.gf_matmul``) runs in
our workers and in the baselines, ``benchmarks/peers.py``'s plain Ray actors, which import
nothing from this project:

* ``plain map``: the data in 12 blocks, one per actor, wait for all 12;
* ``plain 2-replication``: the data in 6 blocks, block b on actors b and b + 6, the first
  answer per block wins and the other copy is cancelled.

Stragglers: 2 of the 12 workers 5× slow, the same workers in every strategy's round, with
one rule coded twice: after computing, a slow worker sleeps (5 − 1)× its measured compute
time (``coded.workers.delays.Slowdown``'s rule; the runtime replays the rounds' slow pairs
with a :class:`~coded.workers.delays.TraceReplay` of factors 1 and 5). Two scenarios:
(a) a random pair per round; (b) the worst pair for replication, both copies of block 1.

Theory (full data ``W`` seconds of work): LCC waits for 9 workers of ``W/5`` each, the
plain map for a 5× straggler of ``W/12``, so LCC / plain = 12/25 = 0.48; replication
takes ``W/6`` unless both copies of a block are slow (``5W/6``): LCC / replication = 1.2,
or 0.24 in case (b).

Targets (met / missed per scenario and field): ours ≤ 0.5× the plain map's median
latency and ≤ 1.0× plain 2-replication's. Also reported: encode time, decode time and the
master's CPU per round (``RoundMetrics.master_cpu_s``). Every round of ours is checked
exact against numpy (GF(p): integer arithmetic; reals: to 1e-6).

References:
    Q. Yu, S. Li, N. Raviv, S. M. M. Kalan, M. Soltanolkotabi, S. Avestimehr, "Lagrange
    coded computing: optimal design for resiliency, security and privacy", AISTATS 2019,
    arXiv:1806.00939.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import ray
from ray import cloudpickle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402
from peers import Peers  # noqa: E402

from coded import LagrangeCode, gf_matmul  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.runtime import Runtime  # noqa: E402
from coded.workers.delays import TraceReplay  # noqa: E402

N, K, DEGREE, SLOW = 12, 5, 2, 5.0
P = 2**31 - 1
SECONDS_PER_ROW = 2.5e-4  # emulated single-core seconds per row of a block: 6000 rows = 1.5 s
TARGETS = {"ours / plain map": 0.5, "ours / plain 2-replication": 1.0}


def _emulate(rows: int) -> None:
    """The rest of a dedicated core's compute time for ``rows`` rows: a sleep."""
    time.sleep(SECONDS_PER_ROW * rows)


def lsq_gradient(block, w):
    """``Xᵀ(Xw − y)`` of a block ``[X | y]`` in float numpy, then its emulated compute time."""
    X, y = block[:, :-1], block[:, -1]
    gradient = X.T @ (X @ w - y)
    _emulate(len(block))
    return gradient


def lsq_gradient_gf(block, w):
    """``Xᵀ(Xw − y) mod p`` of a block ``[X | y]`` over GF(p), then its emulated compute time."""
    X, y = block[:, :-1], block[:, -1]
    gradient = gf_matmul(X.T, (gf_matmul(X, w, P, check=False) + (P - y)) % P, P, check=False)
    _emulate(len(block))
    return gradient


# Ship these functions by value: benchmarks/ is not a package the workers can import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def slow_pairs(rounds: int, seed: int) -> dict[str, list[tuple[int, int]]]:
    """Each scenario's pair of slow workers, round by round."""
    rng = np.random.default_rng(seed)
    random_pairs = [
        tuple(sorted(int(i) for i in rng.choice(N, 2, replace=False))) for _ in range(rounds)
    ]
    return {
        "(a) random pair": random_pairs,
        "(b) both copies of a block": [(1, 1 + N // 2)] * rounds,
    }


def factors(pair) -> np.ndarray:
    row = np.ones(N)
    row[list(pair)] = SLOW
    return row


def theory_s(strategy: str, pair, work_s: float) -> float:
    """A round's time with a free control plane: the compute and the injected delays."""
    slow = set(pair)
    if strategy.startswith("LCC"):  # any 9 of 12; 10 are fast
        return work_s / K
    if strategy == "plain map":
        return work_s / N * (SLOW if slow else 1.0)
    half = N // 2  # block b on workers b and b + 6
    both = any(b in slow and b + half in slow for b in range(half))
    return work_s / half * (SLOW if both else 1.0)


def _exact_gf(block, w) -> np.ndarray:
    """The GF(p) gradient in Python integers (numpy object arrays): the independent check."""
    X, y = block[:, :-1].astype(object), block[:, -1].astype(object)
    return np.array((X.T @ ((X @ w.astype(object) - y) % P)) % P, dtype=np.int64)


def lagrange_section(args) -> dict:
    """Race LCC (GF(p) and real) against the plain map and 2-replication; the section's report."""
    rng = np.random.default_rng(args.seed)
    rows = args.rows
    data = rng.standard_normal((rows, args.features + 1))
    w = rng.standard_normal(args.features)
    data_gf = rng.integers(0, P, (rows, args.features + 1))
    w_gf = rng.integers(0, P, args.features)
    blocks, blocks_gf = np.array_split(data, K), np.array_split(data_gf, K)
    exact_real = [b[:, :-1].T @ (b[:, :-1] @ w - b[:, -1]) for b in blocks]
    exact_gf = [_exact_gf(b, w_gf) for b in blocks_gf]
    full = sum(exact_real)
    work_s = rows * SECONDS_PER_ROW

    pairs = slow_pairs(args.rounds, args.seed)
    schedule = [(name, pair) for name, ps in pairs.items() for pair in ps]
    # runtime rounds: 2 warm-up rounds, then per round of the schedule one GF, one real
    trace = np.array([np.ones(N)] * 2 + [factors(p) for _, p in schedule for _ in range(2)])
    strategies = ("LCC GF(2^31-1)", "LCC real", "plain map", "plain 2-replication")
    times = {(name, s): [] for name in pairs for s in strategies}
    theories = {(name, s): [] for name in pairs for s in strategies}
    history = {s: [] for s in strategies[:2]}
    codes = {
        strategies[0]: LagrangeCode(N, K, degree=DEGREE, field=P),
        strategies[1]: LagrangeCode(N, K, degree=DEGREE),
    }
    peers = {
        "plain map": Peers(data, N, "uncoded", num_cpus=args.cpus, f=lsq_gradient),
        "plain 2-replication": Peers(
            data, N, "replication", r=2, num_cpus=args.cpus, f=lsq_gradient
        ),
    }
    with Runtime(
        N, num_cpus_per_worker=args.cpus, delays=TraceReplay(trace, scale=1.0), deadline=120
    ) as rt:
        jobs = {
            strategies[0]: rt.place_map(lsq_gradient_gf, blocks_gf, code=codes[strategies[0]]),
            strategies[1]: rt.place_map(lsq_gradient, blocks, code=codes[strategies[1]]),
        }
        arguments = {strategies[0]: w_gf, strategies[1]: w}
        for job, arg in zip(jobs.values(), arguments.values(), strict=True):
            job.run(arg)  # warm-up: no stragglers, not timed
        for peer in peers.values():
            peer.round(w, np.ones(N), np.zeros(N))
        for name, pair in schedule:
            for strategy, job in jobs.items():
                result = job.run(arguments[strategy])
                _check(strategy, result, exact_gf if strategy == strategies[0] else exact_real)
                times[name, strategy].append(job.metrics.total_s)
                history[strategy].append(job.metrics)
            for strategy, peer in peers.items():
                start = time.perf_counter()
                result = peer.round(w, factors(pair), np.zeros(N))
                times[name, strategy].append(time.perf_counter() - start)
                if not np.allclose(result.sum(axis=0), full, rtol=1e-9, atol=1e-9):
                    raise ArithmeticError(f"{strategy} returned a wrong gradient")
            for strategy in strategies:
                theories[name, strategy].append(theory_s(strategy, pair, work_s))
        encode_ms = {s: 1e3 * job.encode_s for s, job in jobs.items()}
        for job in jobs.values():
            job.close()
    for peer in peers.values():
        peer.close()
    return _lagrange_report(args, pairs, strategies, times, theories, history, encode_ms, codes)


def _check(strategy: str, result, expected) -> None:
    """Each decoded block's gradient against numpy's: equal over GF(p), close over the reals."""
    for got, want in zip(result, expected, strict=True):
        ok = (
            np.array_equal(got, want)
            if strategy.startswith("LCC GF")
            else np.allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
        )
        if not ok:
            raise ArithmeticError(f"{strategy} decoded a wrong gradient")


def _lagrange_report(args, pairs, strategies, times, theories, history, encode_ms, codes):
    work = {
        strategies[0]: f"1/{K}",
        strategies[1]: f"1/{K}",
        "plain map": f"1/{N}",
        "plain 2-replication": f"1/{N // 2}",
    }
    latency, verdicts = [], []
    for name in pairs:
        median = {s: float(np.median(times[name, s])) for s in strategies}
        theory = {s: float(np.median(theories[name, s])) for s in strategies}
        for s in strategies:
            latency.append(
                {
                    "scenario": name,
                    "strategy": s,
                    "work/worker": work[s],
                    "median ms": 1e3 * median[s],
                    "mean ms": 1e3 * float(np.mean(times[name, s])),
                    "theory ms": 1e3 * theory[s],
                    "over theory ms": 1e3 * (median[s] - theory[s]),
                }
            )
        for ours in strategies[:2]:
            for (target, bound), peer in zip(TARGETS.items(), strategies[2:], strict=True):
                value = median[ours] / median[peer]
                expected = theory[ours] / theory[peer]
                met = value <= bound
                verdicts.append(
                    {
                        "scenario": name,
                        "ours": ours,
                        "target": target,
                        "bound": bound,
                        "measured": value,
                        "theory": expected,
                        "verdict": "met" if met else "MISSED",
                        "cause": "" if met else _cause(ours, peer, median, theory, bound),
                    }
                )
    costs = [
        {
            "code": f"{s}: {codes[s]!r}",
            "threshold": codes[s].recovery_threshold,
            "encode ms": encode_ms[s],
            "decode ms": 1e3 * float(np.median([m.decode_s for m in history[s]])),
            "master CPU ms/round": 1e3 * float(np.median([m.master_cpu_s for m in history[s]])),
            "over oracle ms": 1e3 * float(np.median([m.total_s - m.oracle_s for m in history[s]])),
        }
        for s in strategies[:2]
    ]
    title = (
        f"Lagrange map of Xᵀ(Xw − y), n={N}, k={K}, {args.rows} × {args.features + 1} data, "
        f"2 workers {SLOW:g}× slow; compute emulated at {SECONDS_PER_ROW * 1e3:g} ms per row "
        f"of a block (f computes, then sleeps SECONDS_PER_ROW × rows); {args.rounds} rounds "
        f"per scenario"
    )
    print_table(title, latency)
    print_table("Lagrange targets (median latency ratios)", verdicts)
    print_table("Lagrange master costs (per round, medians)", costs)
    return {
        "setup": {
            "n": N,
            "k": K,
            "degree": DEGREE,
            "p": P,
            "slow_factor": SLOW,
            "seconds_per_row": SECONDS_PER_ROW,
            "rows": args.rows,
            "features": args.features,
            "rounds": args.rounds,
            "slow_pairs": pairs,
        },
        "latency": latency,
        "targets": verdicts,
        "costs": costs,
        "times_s": {f"{name} | {s}": times[name, s] for name, s in times},
    }


def _cause(ours, peer, median, theory, bound) -> str:
    """Why a ratio missed its bound: the theory already does, or the measured overheads."""
    if theory[ours] / theory[peer] > bound:
        return (
            f"theory {theory[ours] / theory[peer]:.2f}: 1/{K} of the data per worker "
            f"({1e3 * theory[ours]:.0f} ms) against {1e3 * theory[peer]:.0f} ms"
        )
    margin = bound * theory[peer] - theory[ours]
    return (
        f"overheads: ours {1e3 * (median[ours] - theory[ours]):.0f} ms over theory, "
        f"{peer} {1e3 * (median[peer] - theory[peer]):.0f} ms; the theory leaves "
        f"{1e3 * margin:.1f} ms"
    )


def inference_section(args) -> dict:
    """The Berrut half: coded inference of a digits MLP against plain Ray
    (``benchmarks/inference.py``, which runs alone too)."""
    import inference

    options = argparse.Namespace(
        rounds=5, k=[6, 8, 10, 12], seconds_per_row=inference.SECONDS_PER_ROW
    )
    rows = inference.run(options)
    print_table(inference.title(options), rows)
    return {"rows": rows}


SECTIONS = {"lagrange": lagrange_section, "inference": inference_section}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds per scenario")
    parser.add_argument("--rows", type=int, default=6000, help="rows of the data (all blocks)")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="results/general.json")
    args = parser.parse_args(argv)
    # logical CPUs for our 12 workers and both peers' 12 actors at once; the machine's
    # cores are what they share, and the emulated compute is a sleep
    started = connect(num_cpus=3 * N)
    try:
        args.cpus = min(1.0, ray.cluster_resources()["CPU"] / (3 * N))
        report = {
            "setup": {"cpus": os.cpu_count(), "seed": args.seed},
            "sections": {name: SECTIONS[name](args) for name in args.sections},
        }
    finally:
        disconnect(started)
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
