"""How a Ray worker can report finished chunks as it goes, and what each way costs the master.

    python benchmarks/chunk_reports.py [--n 8] [--chunks 8] [--rounds 20]
                                       [--json results/chunk_reports.json]

Plain Ray actors (this script imports nothing from coded) shaped like the runtime's
workers: one thread computes rounds (``compute`` group), one answers control calls
(``control`` group: ``cancel_through``). A round is ``chunks`` chunks per worker, each a
sleep of ``--chunk-ms`` (0: pure reporting overhead) that returns ``--values`` float64s,
the size of a matrix-vector chunk. Three ways to get the chunks to the master as they
finish, and the baseline that sends them all at the end:

* ``stream``: a streaming generator task (``num_returns="streaming"``) per worker and
  round, one ``yield`` per chunk; the master waits on the generators with ``ray.wait``;
* ``tasks``: one actor task per chunk, ``chunks`` calls per worker and round;
* ``poll``: one task per round that appends each chunk to a record on the actor, and
  the master polls ``progress(round, seen)`` on every actor every ``--poll-ms``;
* ``whole``: one task per round, all chunks returned at its end (today's runtime).

Reported per way: the round's wall time over the ideal ``chunks · chunk-ms``, the
master's CPU per round and per chunk (``time.process_time``, Ray's driver threads
included), the latency from a chunk finishing on its worker to the master holding its
value (median and 90th percentile), and cancellation: a round of slow chunks cancelled
once every worker reported two (``cancel_through`` on the control group), the chunks
computed after the cancel and how long the round took to wind down.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import ray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

WAYS = ("whole", "stream", "tasks", "poll")


class ChunkActor:
    """A worker that computes ``chunks`` chunks per round, however it reports them."""

    def __init__(self):
        self.cancelled_through = -1
        self.records: dict[int, list] = {}

    def _chunk(self, round: int, chunk: int, seconds: float, values: int):
        """One chunk: ``(chunk, finished_at, value)``, or None once the round is cancelled."""
        if round <= self.cancelled_through:
            return None
        if seconds:
            time.sleep(seconds)
        return chunk, time.time(), np.full(values, float(chunk))

    @ray.method(concurrency_group="compute")
    def whole(self, round, chunks, seconds, values):
        done = [self._chunk(round, j, seconds, values) for j in range(chunks)]
        return [d for d in done if d is not None]

    @ray.method(concurrency_group="compute", num_returns="streaming")
    def stream(self, round, chunks, seconds, values):
        for j in range(chunks):
            done = self._chunk(round, j, seconds, values)
            if done is None:
                return
            yield done

    @ray.method(concurrency_group="compute")
    def one(self, round, chunk, seconds, values):
        return self._chunk(round, chunk, seconds, values)

    @ray.method(concurrency_group="compute")
    def record(self, round, chunks, seconds, values):
        record = self.records.setdefault(round, [])
        for j in range(chunks):
            done = self._chunk(round, j, seconds, values)
            if done is None:
                break
            record.append(done)
        return len(record)

    @ray.method(concurrency_group="control")
    def progress(self, round, seen):
        return self.records.get(round, [])[seen:]

    @ray.method(concurrency_group="control")
    def cancel_through(self, round):
        self.cancelled_through = max(self.cancelled_through, round)

    @ray.method(concurrency_group="control")
    def ping(self):
        return True


_Actor = ray.remote(concurrency_groups={"compute": 1, "control": 1})(ChunkActor)


def run_round(way: str, actors, round: int, args, stop_after: int | None = None) -> dict:
    """One round; per chunk seen, the delay from its finishing to the master holding it.

    ``stop_after``: cancel the round once every worker reported that many chunks.
    """
    chunks, seconds, values = args.chunks, args.chunk_ms / 1e3, args.values
    counts = [0] * len(actors)
    latencies: list[float] = []
    cancelled_at = None

    def take(worker: int, item) -> None:
        if item is None:
            return
        latencies.append(time.time() - item[1])
        counts[worker] += 1

    def maybe_cancel() -> None:
        nonlocal cancelled_at
        if stop_after is not None and cancelled_at is None and min(counts) >= stop_after:
            cancelled_at = time.perf_counter()
            ray.get([a.cancel_through.remote(round) for a in actors])

    start = time.perf_counter()
    if way == "whole":
        for worker, items in enumerate(ray.get([a.whole.remote(round, *_a(args)) for a in actors])):
            for item in items:
                take(worker, item)
    elif way == "stream":
        generators = {a.stream.remote(round, *_a(args)): i for i, a in enumerate(actors)}
        while generators:
            ready, _ = ray.wait(list(generators), num_returns=1, fetch_local=False)
            news = []
            for generator in ready:
                try:
                    news.append((generators[generator], next(generator)))
                except StopIteration:
                    del generators[generator]
            for (worker, _), item in zip(news, ray.get([ref for _, ref in news]), strict=True):
                take(worker, item)
            maybe_cancel()
    elif way == "tasks":
        refs = {
            a.one.remote(round, j, seconds, values): i
            for i, a in enumerate(actors)
            for j in range(chunks)
        }
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, fetch_local=False)
            for ref, item in zip(ready, ray.get(ready), strict=True):
                take(refs.pop(ref), item)
            maybe_cancel()
    else:  # poll
        tasks = [a.record.remote(round, *_a(args)) for a in actors]
        while True:
            finished, _ = ray.wait(tasks, num_returns=len(tasks), timeout=args.poll_ms / 1e3)
            news = ray.get([a.progress.remote(round, counts[i]) for i, a in enumerate(actors)])
            for worker, items in enumerate(news):
                for item in items:
                    take(worker, item)
            maybe_cancel()
            if len(finished) == len(tasks) and sum(counts) >= sum(ray.get(tasks)):
                break
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "latencies": latencies,
        "chunks": sum(counts),
        "wind_down": None if cancelled_at is None else end - cancelled_at,
    }


def _a(args) -> tuple:
    return args.chunks, args.chunk_ms / 1e3, args.values


def measure(way: str, actors, args, first_round: int) -> dict:
    """``args.rounds`` rounds of ``way`` after two warm-up ones, and one cancelled round."""
    for r in range(2):
        run_round(way, actors, first_round + r, args)
    walls, cpus, latencies = [], [], []
    for r in range(2, 2 + args.rounds):
        cpu = time.process_time()
        result = run_round(way, actors, first_round + r, args)
        cpus.append(time.process_time() - cpu)
        walls.append(result["seconds"])
        latencies += result["latencies"]
    slow = argparse.Namespace(**{**vars(args), "chunk_ms": args.cancel_chunk_ms})
    cancelled = run_round(way, actors, first_round + 2 + args.rounds, slow, stop_after=2)
    n, chunks, wind_down = len(actors), args.chunks, cancelled["wind_down"]
    ideal = chunks * args.chunk_ms / 1e3
    return {
        "way": way,
        "round ms": 1e3 * float(np.median(walls)),
        "over ideal ms": 1e3 * (float(np.median(walls)) - ideal),
        "cpu ms/round": 1e3 * float(np.median(cpus)),
        "cpu us/chunk": 1e6 * float(np.median(cpus)) / (n * chunks),
        "latency ms p50": 1e3 * float(np.median(latencies)),
        "latency ms p90": 1e3 * float(np.percentile(latencies, 90)),
        "after cancel": "-" if wind_down is None else cancelled["chunks"] - 2 * n,
        "wind-down ms": "-" if wind_down is None else 1e3 * wind_down,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8, help="actors")
    parser.add_argument("--chunks", type=int, default=8, help="chunks per worker and round")
    parser.add_argument("--chunk-ms", type=float, nargs="+", default=[0.0, 5.0])
    parser.add_argument("--cancel-chunk-ms", type=float, default=50.0)
    parser.add_argument("--values", type=int, default=2048, help="float64s per chunk")
    parser.add_argument("--poll-ms", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=WAYS)
    parser.add_argument("--json", default="results/chunk_reports.json")
    args = parser.parse_args(argv)

    ray.init(num_cpus=args.n, include_dashboard=False, log_to_driver=False)
    try:
        actors = [_Actor.options(num_cpus=1).remote() for _ in range(args.n)]
        ray.get([a.ping.remote() for a in actors])
        rows, first = [], 0
        for chunk_ms in args.chunk_ms:
            setting = argparse.Namespace(**{**vars(args), "chunk_ms": chunk_ms})
            for way in args.ways:
                row = {"chunk ms": chunk_ms, **measure(way, actors, setting, first)}
                first += args.rounds + 3
                print(row, flush=True)
                rows.append(row)
    finally:
        ray.shutdown()
    print_table(
        f"Reporting {args.chunks} chunks per worker from {args.n} actors "
        f"({args.values} float64 each; {ray.__version__})",
        rows,
    )
    report = {"setup": vars(args), "ray": ray.__version__, "rows": rows}
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
