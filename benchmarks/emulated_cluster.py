"""The control plane at scale: coded vs plain-Ray peers on an emulated cluster of n machines.

    python benchmarks/emulated_cluster.py [--n 8 16 32 64] [--rounds 20]
                                          [--json results/emulated_cluster.json]

On a machine of a few cores, 8 to 64 workers computing for real fight over the CPU and
say nothing about a cluster. Here every worker *emulates* its compute
(:mod:`coded.workers.emulation`): it sleeps the single-core time of its share, calibrated
once in this process, and answers zeros of the right shape. So n actors behave like n
one-core machines, and what is measured is the control plane: dispatch, waiting,
cancellation, transfers and decoding. The values are not the product.

Weak scaling: ``A`` has ``rows · n`` rows, so an uncoded worker multiplies ``rows × cols``
by ``x`` (``cols × width``) whatever n, and a round takes a few hundred milliseconds at
every n. Stragglers: shifted exponential, ``factor = 1 + Exp(rate)`` per worker and round
(Lee et al.); every strategy sees the same factors (the peers get them from
:class:`~coded.workers.delays.WorkerDelays` evaluated here).

For each n, one strategy after another (never all their actors at once), on one local Ray:

* ``coded``: MDS(n, k), k minimising the expected round time of the shifted-exponential
  model, ``(1/k)(1 + (H_n − H_{n−k})/rate)`` (:func:`coded.scheduler.lab.theory.
  shifted_exponential_mean`; the decode cost, which grows with k, is left out);
* ``uncoded``, 2-way ``replication`` and Spark-style ``speculation`` on plain Ray actors
  (``peers.py``, which imports nothing from coded);
* ``bare round trip``: n calls that do nothing on the peers' plain actors, until k of
  them returned (``ray.wait``): the least a round can cost on this Ray.

Reported per n: median latencies, coded / best peer (replication or speculation), coded's
control overhead per round (median of total − oracle, the oracle being when the first
decodable set had finished on the workers' clocks, plus decode) against the bare round
trip, the master's CPU per round (``RoundMetrics.master_cpu_s`` where recorded, and this
process's CPU time per round, Ray's driver threads included), and per-actor memory (RSS
of the coded workers' processes; PSS totals count shared pages once).

A second table says where coded's time goes: the ``ideal`` of each strategy is its median
round on the same delays with a free control plane (emulated compute and injected delays
alone); ``dispatch`` is the master submitting n calls; ``start lag`` is from the start of
dispatch to a worker starting its round (median and latest worker). The oracle counts the
start lag (it is on the workers' clocks); the overhead (total − oracle) does not. The
round's operand ``x`` travels by value with each call (Ray inlines it up to 1 MiB), here
and in the peers, so the default keeps it at 128 KiB: a larger one makes dispatch a
broadcast.

Targets: at n = 32, coded <= 0.8x the best peer; control overhead <= 1.0x the bare round
trip at every n; master CPU <= 15 ms per round at n = 8.

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402
from peers import Peers  # noqa: E402

from coded import MDSCode  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.lab.theory import shifted_exponential_mean  # noqa: E402
from coded.scheduler.runtime import Runtime  # noqa: E402
from coded.workers.delays import ShiftedExponential, WorkerDelays  # noqa: E402
from coded.workers.emulation import Emulation, Placeholder  # noqa: E402
from coded.workers.kernels import Product  # noqa: E402

PEERS = ("uncoded", "replication", "speculation")
TARGETS = {
    "coded / best peer at n=32": 0.8,
    "overhead / bare round trip": 1.0,
    "master CPU ms per round at n=8": 15.0,
}
CALIBRATION_BYTES = 64 << 20  # the calibration block: this much of a worker's rows


def choose_k(n: int, rate: float) -> int:
    """The k of MDS(n, k) with the least expected round time under ``ShiftedExponential(rate)``.

    >>> choose_k(8, 1.0), choose_k(32, 1.0)
    (6, 22)
    """
    return min(range(1, n + 1), key=lambda k: shifted_exponential_mean(k, n, rate))


def calibrate(args) -> Emulation:
    """Seconds per multiply-add of one core on an uncoded worker's product (a slice of its
    columns when the whole block would be large: a product this size runs at the same rate)."""
    cols = int(min(args.cols, max(1, CALIBRATION_BYTES // (8 * args.rows))))
    rng = np.random.default_rng(args.seed)
    block, x = rng.standard_normal((args.rows, cols)), rng.standard_normal((cols, args.width))
    return Emulation.calibrate(Product(), (block,), (x,))


def delays(model, n: int, seed: int, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Every worker's ``(factor, extra)`` per round: ``factors[round, worker]``."""
    streams = [WorkerDelays(model, i, n, seed) for i in range(n)]
    table = np.array([[stream.at(r) for stream in streams] for r in range(rounds)])
    return table[..., 0], table[..., 1]


def ideal_ms(strategy: str, n: int, k: int, args, factors, extras) -> float:
    """Median round time of ``strategy`` on the same delays with a free control plane: what
    the emulated compute and the injected delays alone take (uncoded share ``c``)."""
    c = args.rows * args.cols * args.width * args.seconds_per_op
    times = factors * c + extras  # one uncoded share on each worker, per round
    if strategy == "coded":  # a share of n/k blocks; any k of n decode
        rounds = np.sort(factors * c * n / k + extras, axis=1)[:, k - 1]
    elif strategy == "uncoded":
        rounds = times.max(axis=1)
    elif strategy == "replication":  # block b on workers b and b + n/2, of 2 shares each
        half, doubled = n // 2, 2 * factors * c + extras
        rounds = np.minimum(doubled[:, :half], doubled[:, half:]).max(axis=1)
    else:
        rounds = np.array([_speculation(t, args.quantile) for t in times])
    return 1e3 * float(np.median(rounds[args.warmup :]))


def _speculation(times: np.ndarray, quantile: float) -> float:
    """One round of peers.py's speculation with no control cost: once a ``quantile`` of the
    blocks are done, block b is also given to worker b − 1 if it is done by then."""
    n = len(times)
    launch = np.sort(times)[int(np.ceil(quantile * n)) - 1]
    done = times <= launch
    finish = times.copy()
    for block in np.flatnonzero(~done):
        backup = (block - 1) % n
        if done[backup]:
            finish[block] = min(finish[block], launch + times[backup])
    return float(finish.max())


def run_coded(n: int, k: int, args, emulation, model) -> dict:
    """MDS(n, k) on emulated workers: medians, overhead, CPU per round and actor memory."""
    code = MDSCode(n, k)
    shares = code.encode(np.zeros((args.rows * n, 1)))  # the layout; the shards stay shapes
    shards = [(Placeholder((len(share), args.cols)),) for share in shares]
    x = np.zeros((args.cols, args.width))
    cpu = []
    with Runtime(
        n, num_cpus_per_worker=args.num_cpus, delays=model, seed=args.seed, emulate=emulation
    ) as rt:
        memory = actor_memory(rt.pool.actors)
        with rt.place_job(shards, Product(), code) as job:
            for _ in range(args.warmup):
                job.run(x)
            for _ in range(args.rounds):
                start = time.process_time()
                job.run(x)
                cpu.append(time.process_time() - start)
            rounds = list(job.history)[args.warmup :]
    master_cpu = [getattr(m, "master_cpu_s", None) for m in rounds]
    starts = [sorted(m.started.values()) for m in rounds]
    return {
        "k": k,
        "median_ms": _ms_median([m.total_s for m in rounds]),
        "oracle_ms": _ms_median([m.oracle_s for m in rounds]),
        "overhead_ms": _ms_median([m.overhead_s for m in rounds]),
        "decode_ms": _ms_median([m.decode_s for m in rounds]),
        "dispatch_ms": _ms_median([m.dispatch_s for m in rounds]),
        "start_lag_ms": _ms_median([np.median(s) for s in starts]),  # dispatch -> worker start
        "start_lag_max_ms": _ms_median([s[-1] for s in starts]),
        "master_cpu_ms": None if None in master_cpu else _ms_median(master_cpu),
        "driver_cpu_ms": _ms_median(cpu),
        "memory": memory,
    }


def run_peer(strategy: str, n: int, k: int, args, factors, extras) -> dict:
    """One plain-Ray strategy on emulated actors; for ``uncoded``, the bare round trip too."""
    A = np.broadcast_to(np.float64(0.0), (args.rows * n, args.cols))  # a shape, no data
    x = np.zeros((args.cols, args.width))
    peers = Peers(
        A,
        n,
        strategy,
        quantile=args.quantile,
        num_cpus=args.num_cpus,
        seconds_per_op=args.seconds_per_op,
    )
    try:
        times = []
        for r in range(args.warmup + args.rounds):
            start = time.perf_counter()
            peers.round(x, factors[r], extras[r])
            times.append(time.perf_counter() - start)
        result = {"median_ms": _ms_median(times[args.warmup :])}
        if strategy == "uncoded":
            trips = [peers.round_trip(k) for _ in range(args.warmup + args.rounds)]
            result["round_trip_ms"] = _ms_median(trips[args.warmup :])
        return result
    finally:
        peers.close()


def actor_memory(actors) -> dict:
    """RSS of each worker actor's process (``/proc``; the pid from ``health``), and PSS."""
    import ray

    pids = [health["pid"] for health in ray.get([a.health.remote() for a in actors])]
    rss = [_proc_kib(f"/proc/{pid}/status", "VmRSS:") for pid in pids]
    pss = [_proc_kib(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids]
    return {
        "rss_mib_median": float(np.median(rss)) / 1024,
        "rss_mib_total": float(np.sum(rss)) / 1024,
        "pss_mib_total": float(np.sum(pss)) / 1024,
    }


def _proc_kib(path: str, key: str) -> float:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return float(line.split()[1])
    except OSError:  # not on this node, or not Linux
        pass
    return float("nan")


def _ms_median(values) -> float:
    return 1e3 * float(np.median(np.asarray(values, dtype=float)))


def run_n(n: int, args, model) -> dict:
    k = choose_k(n, args.rate)
    factors, extras = delays(model, n, args.seed, args.warmup + args.rounds)
    start = time.perf_counter()
    coded = run_coded(n, k, args, Emulation(args.seconds_per_op), model)
    peers = {s: run_peer(s, n, k, args, factors, extras) for s in PEERS}
    ideal = {s: ideal_ms(s, n, k, args, factors, extras) for s in ("coded", *PEERS)}
    best = min(("replication", "speculation"), key=lambda s: peers[s]["median_ms"])
    round_trip = peers["uncoded"]["round_trip_ms"]
    cpu = coded["master_cpu_ms"]
    row = {
        "n": n,
        "k": k,
        "coded ms": coded["median_ms"],
        **{f"{s} ms": peers[s]["median_ms"] for s in PEERS},
        "coded/best": coded["median_ms"] / peers[best]["median_ms"],
        "best": best,
        "overhead ms": coded["overhead_ms"],
        "round trip ms": round_trip,
        "overhead/rt": coded["overhead_ms"] / round_trip,
        "master cpu ms": "-" if cpu is None else cpu,
        "driver cpu ms": coded["driver_cpu_ms"],
        "actor rss MiB": coded["memory"]["rss_mib_median"],
        "seconds": time.perf_counter() - start,
    }
    print(f"n={n}: {row}", flush=True)
    detail = {
        "n": n,
        "coded ms": coded["median_ms"],
        "coded ideal": ideal["coded"],
        "oracle ms": coded["oracle_ms"],
        "dispatch ms": coded["dispatch_ms"],
        "start lag ms": coded["start_lag_ms"],
        "start lag max": coded["start_lag_max_ms"],
        "decode ms": coded["decode_ms"],
        **{f"{s} ideal": ideal[s] for s in PEERS},
        "ideal coded/best": ideal["coded"] / min(ideal["replication"], ideal["speculation"]),
    }
    return {"row": row, "detail": detail, "coded": coded, "peers": peers, "ideal_ms": ideal}


def verdicts(results: dict) -> list[dict]:
    """The three targets, each met or missed (or "-" where its n was not run)."""
    rows = {r["row"]["n"]: r["row"] for r in results.values()}
    at32, at8 = rows.get(32), rows.get(8)
    worst = max(rows.values(), key=lambda r: r["overhead/rt"])
    checks = [
        ("coded / best peer at n=32", None if at32 is None else at32["coded/best"], "medians"),
        ("overhead / bare round trip", worst["overhead/rt"], f"worst n={worst['n']}"),
    ]
    if at8 is None:
        checks.append(("master CPU ms per round at n=8", None, "-"))
    elif at8["master cpu ms"] != "-":
        checks.append(("master CPU ms per round at n=8", at8["master cpu ms"], "master_cpu_s"))
    else:  # not recorded by RoundMetrics: this process's CPU time, Ray's threads included
        checks.append(("master CPU ms per round at n=8", at8["driver cpu ms"], "driver CPU"))
    return [
        {
            "target": name,
            "value": "-" if value is None else value,
            "bound": TARGETS[name],
            "measured as": how,
            "verdict": "-" if value is None else ("met" if value <= TARGETS[name] else "MISSED"),
        }
        for name, value, how in checks
    ]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds per strategy")
    parser.add_argument("--warmup", type=int, default=3, help="rounds run before measuring")
    parser.add_argument("--rows", type=int, default=16_384, help="rows of A per worker")
    parser.add_argument("--cols", type=int, default=16_384)
    parser.add_argument("--width", type=int, default=1, help="columns of x")
    parser.add_argument("--rate", type=float, default=1.0, help="ShiftedExponential rate")
    parser.add_argument(
        "--quantile", type=float, default=0.75, help="speculation: done fraction that launches"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seconds-per-op", type=float, default=None, help="skip calibration: use this"
    )
    parser.add_argument("--json", default="results/emulated_cluster.json")
    args = parser.parse_args(argv)

    if args.seconds_per_op is None:
        args.seconds_per_op = calibrate(args).seconds_per_op
    model = ShiftedExponential(args.rate)
    single_ms = 1e3 * args.rows * args.cols * args.width * args.seconds_per_op
    print(
        f"emulated: {args.seconds_per_op:.3g} s per multiply-add (one core); an uncoded "
        f"worker's share {args.rows} x {args.cols} @ {args.cols} x {args.width} takes "
        f"{single_ms:.0f} ms; {model!r}; {args.rounds} rounds per strategy",
        flush=True,
    )
    started = connect(num_cpus=max(args.n))  # one Ray for the whole run, room for every actor
    try:
        import ray

        args.num_cpus = min(1.0, ray.cluster_resources().get("CPU", 1.0) / max(args.n))
        results = {str(n): run_n(n, args, model) for n in args.n}
    finally:
        disconnect(started)
    table = [r["row"] for r in results.values()]
    print_table("Emulated cluster: median round (ms), control overhead vs Ray's bare round", table)
    checks = verdicts(results)
    print_table(
        "Where coded's time goes (ms; ideal: the same delays with a free control plane; start "
        "lag: dispatch began -> a worker started, median and latest)",
        [r["detail"] for r in results.values()],
    )
    print_table("Targets", checks)
    memory = results[str(max(args.n))]["coded"]["memory"]
    print(
        f"\nn={max(args.n)} coded workers: RSS {memory['rss_mib_total'] / 1024:.2f} GiB in all "
        f"({memory['rss_mib_median']:.0f} MiB each), PSS {memory['pss_mib_total'] / 1024:.2f} "
        f"GiB; fits 24 GiB: {memory['rss_mib_total'] < 24 * 1024}"
    )
    report = {"setup": vars(args), "results": results, "targets": checks}
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
