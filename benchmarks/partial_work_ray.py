"""Partial work on an emulated cluster: chunked coded rounds vs MDS rounds vs plain Ray actors.

    python benchmarks/partial_work_ray.py [--quick] [--n 32] [--chunks 4 8] [--rounds 20]
                                          [--cols 65536] [--json results/partial_work_ray.json]

Matrix-vector products ``A @ x`` on n emulated workers (:mod:`coded.workers.emulation`:
each worker sleeps the calibrated single-core time of its work and answers zeros of the
right shape, so n actors on a few cores behave like n one-core machines; what is
measured is the rounds' latency with a real control plane and real decoding, not the
values). Weak scaling as in ``emulated_cluster.py``: an uncoded worker's share is
``rows × cols`` whatever n. Per delay model (``ShiftedExponential(1)``, and
``Bimodal(0.15, 5)``: each worker 5x slow with probability 0.15), one scheme after
another on one local Ray, every scheme seeing the same factors per round:

* ``chunked``: :class:`coded.ChunkedMDSCode` ``(n, k, chunks)``; workers stream their
  chunks (Ray streaming generators) and the master decodes from the first ``k·chunks``
  finished, whoever computed them (the slow workers' too);
* ``MDS``: :class:`coded.MDSCode` ``(n, k)``, today's runtime: the k-th whole share;
* ``uncoded``: plain Ray actors, one block each, all n awaited (``peers.py``, which
  imports nothing from coded).

Both codes use the same k, the one that minimises MDS's expected round under the delay
model (sampled): equal storage (1/k of A per worker) and equal redundancy. The delays
slow a worker throughout: a chunk that computes in ``c`` seconds takes ``factor·c``.

Yardsticks from the same factors, with a free control plane: the **MDS oracle** (the
k-th order statistic of the whole-share times), the **load-balanced ideal** (the job's
work over the sum of the workers' speeds, ``n·c_u / Σ_i 1/factor_i`` for the uncoded
share time ``c_u``), and the chunked ideal (the moment the ``k·chunks``-th chunk is
done). Measured per scheme: median round, its own oracle (when a decodable set had
finished on the workers' clocks, plus decode), the decode time, the CPU per round of the
master and of all the worker processes together, and the chunks (workers, for MDS) the
decode used. Decoding cost is reported against the gain it buys: chunked decodes only
the symbols its systematic chunks missed. First, in process: the real decodes' errors
and condition numbers from the first pieces to finish under each model.

On a machine of few cores the emulated workers' own reporting costs CPU the n one-core
machines would each have had (every chunk is a Ray message, about 2 ms of a busy
2-core machine's CPU): the "workers cpu" column says how much.

Targets (n = 32): chunked <= 0.75x the MDS oracle, and <= 1.15x the load-balanced ideal,
under both delay models. "LB/MDS ideal" is the load-balanced ideal over the MDS oracle
with a free control plane: the best any scheme can do against MDS under that model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402
from emulated_cluster import calibrate, delays  # noqa: E402
from peers import Peers  # noqa: E402

from coded import ChunkedMDSCode, IllConditionedError, MDSCode  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.runtime import Runtime  # noqa: E402
from coded.workers.delays import Bimodal, ShiftedExponential  # noqa: E402
from coded.workers.emulation import Emulation, Placeholder  # noqa: E402
from coded.workers.kernels import Product  # noqa: E402

MODELS = {"shifted-exp": ShiftedExponential(1.0), "bimodal": Bimodal(0.15, 5.0)}
TARGETS = {"chunked / MDS oracle": 0.75, "chunked / load-balanced ideal": 1.15}


def best_k(model, n: int, seed: int, samples: int = 400) -> int:
    """The k of MDS(n, k) with the least mean k-th order statistic of sampled rounds."""
    factors, extras = delays(model, n, seed + 1, samples)
    return min(
        range(1, n + 1),
        key=lambda k: float(np.mean(np.sort(factors * n / k + extras, axis=1)[:, k - 1])),
    )


def ideals(factors, extras, n: int, k: int, chunks: int, c_u: float) -> dict[str, np.ndarray]:
    """Per round, each yardstick's latency with a free control plane (seconds)."""
    share = factors * c_u * n / k + extras  # a worker's whole coded share
    steps = np.arange(1, chunks + 1) / chunks  # worker i's chunk j is done at (j+1)/c of it
    pieces = np.sort((share[:, :, None] * steps).reshape(len(share), -1), axis=1)
    return {
        "MDS oracle": np.sort(share, axis=1)[:, k - 1],
        "chunked ideal": pieces[:, k * chunks - 1],
        "load-balanced ideal": n * c_u / np.sum(1.0 / factors, axis=1) + extras.mean(axis=1),
        "uncoded ideal": np.max(factors * c_u + extras, axis=1),
    }


def run_code(code, args, emulation, model) -> dict:
    """``code`` on emulated Ray workers: per-round metrics after the warm-up rounds."""
    shares = code.encode(np.zeros((args.rows * args.n, 1)))  # the layout; shards stay shapes
    shards = [(Placeholder((len(share), args.cols)),) for share in shares]
    pieces = 1 if code.pieces is None else code.pieces.n // code.n
    x = np.zeros(args.cols)
    with Runtime(
        args.n, num_cpus_per_worker=args.num_cpus, delays=model, seed=args.seed, emulate=emulation
    ) as rt:
        with rt.place_job(shards, Product(pieces=pieces), code) as job:
            for _ in range(args.warmup):
                job.run(x)
            workers_cpu = actors_cpu(rt.pool.actors)
            for _ in range(args.rounds):
                job.run(x)
            workers_cpu = actors_cpu(rt.pool.actors) - workers_cpu
            rounds = list(job.history)[args.warmup :]
    return {
        "median_ms": _ms([m.total_s for m in rounds]),
        "oracle_ms": _ms([m.oracle_s for m in rounds]),
        "decode_ms": _ms([m.decode_s for m in rounds]),
        "master_cpu_ms": _ms([m.master_cpu_s for m in rounds]),
        "workers_cpu_ms": 1e3 * workers_cpu / args.rounds,
        "used": float(np.mean([sum(m.chunks.values()) or len(m.used) for m in rounds])),
        "total_s": [m.total_s for m in rounds],
    }


def actors_cpu(actors) -> float:
    """CPU seconds the actors' processes have used (``/proc``; NaN where unreadable)."""
    import os

    import ray

    total = 0.0
    for health in ray.get([actor.health.remote() for actor in actors]):
        try:
            fields = Path(f"/proc/{health['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not on this node, or not Linux
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_uncoded(args, factors, extras) -> dict:
    """Plain Ray actors (peers.py), one emulated block each, every one awaited."""
    A = np.broadcast_to(np.float64(0.0), (args.rows * args.n, args.cols))  # a shape, no data
    peers = Peers(A, args.n, "uncoded", num_cpus=args.num_cpus, seconds_per_op=args.seconds_per_op)
    try:
        times = []
        for r in range(args.warmup + args.rounds):
            start = time.perf_counter()
            peers.round(np.zeros(args.cols), factors[r], extras[r])
            times.append(time.perf_counter() - start)
    finally:
        peers.close()
    return {"median_ms": _ms(times[args.warmup :])}


def _ms(values) -> float:
    return 1e3 * float(np.median(np.asarray(values, dtype=float)))


def accuracy(args, chunks: int, trials: int = 200) -> list[dict]:
    """Real decodes of ChunkedMDSCode(n, k, chunks) from the first ``k·chunks`` pieces to
    finish (and with 2% more, as a poll may bring) under each delay model's speeds: worst
    relative error against the float64 product, worst condition number, and how many
    decodes the conditioning guard refused (float32). In process, no Ray."""
    rows = []
    for name, model in MODELS.items():
        n, k, c = args.n, best_k(model, args.n, args.seed), chunks
        code = ChunkedMDSCode(n, k, c)
        rng = np.random.default_rng(args.seed)
        A, x = rng.standard_normal((n * k * 4, 64)), rng.standard_normal(64)
        exact = A @ x
        factors, _ = delays(model, n, args.seed + 2, trials)
        for dtype in (np.float64, np.float32):
            pieces = code.pieces.encode(A.astype(dtype))
            values = {t: piece @ x.astype(dtype) for t, piece in enumerate(pieces)}
            for extra in (0, -(-k * c // 50)):
                errors, conditions, refused = [], [], 0
                for f in factors:
                    done = [(t % c + 1) * f[t // c] for t in range(n * c)]
                    used = sorted(range(n * c), key=done.__getitem__)[: k * c + extra]
                    conditions.append(code.pieces.condition_number(used))
                    try:
                        y = code.pieces.decode({t: values[t] for t in used})
                    except IllConditionedError:
                        refused += 1
                        continue
                    errors.append(np.linalg.norm(y - exact) / np.linalg.norm(exact))
                rows.append(
                    {
                        "delays": name,
                        "code": f"({n},{k},{c})",
                        "dtype": np.dtype(dtype).name,
                        "pieces": f"K+{extra}",
                        "median cond": float(np.median(conditions)),
                        "worst cond": float(np.max(conditions)),
                        "worst error": float(np.max(errors)) if errors else float("nan"),
                        "median error": float(np.median(errors)) if errors else float("nan"),
                        "refused": f"{refused}/{trials}",
                    }
                )
    return rows


def run_model(name: str, model, args) -> dict:
    """MDS, uncoded and chunked (for each chunk count) under one delay model."""
    n = args.n
    k = best_k(model, n, args.seed)
    factors, extras = delays(model, n, args.seed, args.warmup + args.rounds)
    c_u = args.rows * args.cols * args.seconds_per_op
    emulation = Emulation(args.seconds_per_op)
    start = time.perf_counter()
    mds = run_code(MDSCode(n, k), args, emulation, model)
    uncoded = run_uncoded(args, factors, extras)
    rows, costs, chunked = [], [], {}
    for chunks in args.chunks:
        ideal = {
            key: 1e3 * float(np.median(v[args.warmup :]))
            for key, v in ideals(factors, extras, n, k, chunks, c_u).items()
        }
        result = chunked[chunks] = run_code(ChunkedMDSCode(n, k, chunks), args, emulation, model)
        rows.append(
            {
                "delays": name,
                "n": n,
                "k": k,
                "chunks": chunks,
                "chunked ms": result["median_ms"],
                "MDS ms": mds["median_ms"],
                "uncoded ms": uncoded["median_ms"],
                "MDS oracle ms": mds["oracle_ms"],
                "LB ideal ms": ideal["load-balanced ideal"],
                "chunked/MDS oracle": result["median_ms"] / mds["oracle_ms"],
                "chunked/MDS": result["median_ms"] / mds["median_ms"],
                "chunked/LB": result["median_ms"] / ideal["load-balanced ideal"],
                "LB/MDS ideal": ideal["load-balanced ideal"] / ideal["MDS oracle"],
            }
        )
        for scheme, measured, key in ((f"chunked c={chunks}", result, "chunked ideal"),) + (
            (("MDS", mds, "MDS oracle"),) if chunks == args.chunks[0] else ()
        ):
            costs.append(
                {
                    "delays": name,
                    "scheme": scheme,
                    "median ms": measured["median_ms"],
                    "own oracle ms": measured["oracle_ms"],
                    "free-plane ideal ms": ideal[key],
                    "decode ms": measured["decode_ms"],
                    "gain vs MDS ms": mds["median_ms"] - measured["median_ms"],
                    "master cpu ms": measured["master_cpu_ms"],
                    "workers cpu ms": measured["workers_cpu_ms"],
                    "used": measured["used"],
                }
            )
        print(f"{name}: {rows[-1]}", flush=True)
    return {
        "rows": rows,
        "costs": costs,
        "chunked": chunked,
        "mds": mds,
        "uncoded": uncoded,
        "seconds": time.perf_counter() - start,
    }


def verdicts(results: dict) -> list[dict]:
    out = []
    for row in (row for result in results.values() for row in result["rows"]):
        for target, value in (
            ("chunked / MDS oracle", row["chunked/MDS oracle"]),
            ("chunked / load-balanced ideal", row["chunked/LB"]),
        ):
            bound = TARGETS[target]
            out.append(
                {
                    "delays": row["delays"],
                    "chunks": row["chunks"],
                    "target": target,
                    "value": value,
                    "bound": bound,
                    "verdict": "met" if value <= bound else "MISSED",
                }
            )
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n=8, 4 rounds, small shares")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--chunks", type=int, nargs="+", default=[8])
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds per scheme")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rows", type=int, default=16_384, help="rows of A per uncoded worker")
    parser.add_argument("--cols", type=int, default=16_384)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds-per-op", type=float, default=None, help="skip calibration")
    parser.add_argument("--json", default="results/partial_work_ray.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rounds, args.warmup, args.rows, args.cols = 8, 4, 1, 2048, 4096
    args.width = 1  # a matrix-vector product

    if args.seconds_per_op is None:
        args.seconds_per_op = calibrate(args).seconds_per_op
    c_u = args.rows * args.cols * args.seconds_per_op
    print(
        f"emulated: {args.seconds_per_op:.3g} s per multiply-add; an uncoded worker's share "
        f"{args.rows} x {args.cols} takes {1e3 * c_u:.0f} ms; n={args.n}, {args.chunks} "
        f"chunks per worker; {args.rounds} rounds per scheme",
        flush=True,
    )
    errors = [row for chunks in args.chunks for row in accuracy(args, chunks)]
    print_table("Real decodes from the first pieces to finish (in process)", errors)
    started = connect(num_cpus=args.n)
    try:
        import ray

        args.num_cpus = min(1.0, ray.cluster_resources().get("CPU", 1.0) / args.n)
        results = {name: run_model(name, MODELS[name], args) for name in args.models}
    finally:
        disconnect(started)
    print_table(
        "Partial work, emulated cluster: median round (ms) and ratios",
        [row for r in results.values() for row in r["rows"]],
    )
    print_table(
        "Decoding cost against gain (ms per round; ideal: the same delays, free control plane; "
        "cpu: the master's and all the workers' processes'; used: chunks for chunked, workers "
        "for MDS)",
        [cost for r in results.values() for cost in r["costs"]],
    )
    checks = verdicts(results)
    print_table("Targets", checks)
    report = {"setup": vars(args), "accuracy": errors, "results": results, "targets": checks}
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
