"""Benchmark: how fast faults and hangs end (issue #11, "Hardening").

    python benchmarks/hardening.py            # about a minute; a private local Ray
    python benchmarks/hardening.py --quick    # the 10 s deadline only, one slow round

Each figure is measured on a local Ray this script starts itself (``connect(num_cpus=...)``),
never on a cluster that happens to be running:

* ``round failed``: MDS(8, 6); workers 1, 4 and 6 crash at once in round 0 (``FailStop``)
  while 0, 2, 5 and 7 carry a 15 s delay, so only five of eight can answer. Seconds from the
  product to ``RoundFailedError`` in a fresh runtime's first round, at a deadline of 60 s
  and of 10 s (shorter than the survivors' delay: a timeout there would hide the failure).
  On Ray (8 actors of 0.25 CPU) and on the in-process pool (``InProcessPool``, threads).
* ``killed worker``: ``ray.kill(actor, no_restart=False)`` of worker 1 between rounds; the
  rounds after it that worker 1 is not in ``metrics.arrived`` (a failed round counts as
  missing). With MDS(4, 4) and every worker 3 s slow, the next round needs it: two rounds
  (``--quick``: one). With MDS(4, 3) and no delay, rounds of a few milliseconds run until
  it is back (at most ``--max-rounds``): the count is how many rounds go by while its
  process restarts, and when it was back (informative, no target). ``restart`` is that
  floor: seconds from a kill until the actor answers a health call from a new process.
* ``infeasible``: ``Runtime(4, num_cpus_per_worker=3)`` on a local Ray of 2 CPUs (a second
  private Ray, started after the first is shut down); seconds to the error, Ray's start not
  counted.
* ``unreachable``: ``coded run`` (a subprocess, what a user sees) of a job with
  ``address: "127.0.0.1:1"``; seconds to its exit, the interpreter's start included.

Targets (:data:`TARGETS`), each with a met/missed verdict: a failed round ends in under 5 s
on Ray and 1 s in process (the survivors' delay is 15 s); a worker killed between rounds
misses no round that waits for it; the infeasible resources are refused in under 5 s (Ray
waited 122 s, its start timeout); the unreachable address in under 30 s. Writes JSON
(default results/hardening.json).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import print_table, write_json  # noqa: E402

from coded import MDSCode, RoundFailedError, RoundTimeoutError, Runtime  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.pool import InProcessPool  # noqa: E402
from coded.workers.delays import Compose, FailStop, FixedDelay  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CPUS = 0.25  # per actor: 8 actors fit on any machine
SURVIVORS = 15.0  # seconds of delay on the workers that do not crash
TARGETS = {  # seconds, or rounds missing
    "round failed, ray (s)": 5.0,
    "round failed, in process (s)": 1.0,
    "killed worker, slow rounds (rounds missing)": 0,
    "infeasible resources (s)": 5.0,
    "unreachable address (s)": 30.0,
}
JOB = """\
job: matmul
n: 4
code: {type: MDSCode, n: 4, k: 3}
address: "127.0.0.1:1"
data:
  A: {shape: [40, 8], seed: 0}
  B: {shape: [8, 2], seed: 1}
rounds: 2
"""


def _row(case: str, setting: str, value, unit: str, target: str | None, error="") -> dict:
    """A table row; ``target``: the bound's key in :data:`TARGETS` (None: informative);
    ``value`` None: the expected outcome did not happen; ``error``: the exception, or a note."""
    row = {"case": case, "setting": setting, "value": "-" if value is None else value}
    row.update(unit=unit, target="-", verdict="-")
    if target is not None:
        bound = TARGETS[target]
        row["target"] = f"{'<=' if unit == 'rounds' else '<'} {bound:g}"
        row["verdict"] = "met" if value is not None and value <= bound else "missed"
    if isinstance(error, BaseException):
        row["outcome"], row["message"] = type(error).__name__, str(error)
    else:
        row["outcome"] = error
    return row


def round_failed(pool: str, deadline: float) -> dict:
    """Seconds to ``RoundFailedError`` when workers 1, 4 and 6 crash in round 0 and the others
    take 15 s (a fresh runtime: its first round)."""
    delays = Compose(FailStop([1, 4, 6], round=0), FixedDelay(SURVIVORS, workers=[0, 2, 5, 7]))
    if pool == "ray":
        runtime = Runtime(8, num_cpus_per_worker=CPUS, delays=delays, deadline=deadline)
    else:
        runtime = Runtime(8, pool=InProcessPool(8, delays=delays), deadline=deadline)
    with runtime as rt:
        op = rt.place(np.ones((12, 3)), code=MDSCode(8, 6))
        start = time.perf_counter()
        try:
            op @ np.ones(3)
            error = "none: the round succeeded"
        except (RoundFailedError, RoundTimeoutError) as exc:
            error = exc
        elapsed = time.perf_counter() - start
    failed = isinstance(error, RoundFailedError)
    target = "round failed, ray (s)" if pool == "ray" else "round failed, in process (s)"
    setting = f"MDS(8,6), {pool}, deadline {deadline:g} s"
    row = _row("round failed", setting, elapsed if failed else None, "s", target, error)
    if failed:
        row["failures"] = sorted(error.failures)
    return row


def _after_kill(rt, op, x, rounds: int, until_back: bool) -> dict:
    """Kill worker 1's actor, then run up to ``rounds`` rounds (``until_back``: until worker 1
    is in ``metrics.arrived`` again); the rounds it missed, when it was back, each round."""
    ray.kill(rt.pool.actors[1], no_restart=False)
    killed = time.perf_counter()
    out = {"missing": 0, "back_s": None, "rounds": []}
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            op @ x
            m = op.metrics
            seen = {"arrived": m.arrived, "retried": list(m.retried), "failures": m.failures}
        except (RoundFailedError, RoundTimeoutError) as exc:
            seen = {"arrived": (), "error": f"{type(exc).__name__}: {exc}"}
        seen["seconds"] = time.perf_counter() - start
        out["rounds"].append(seen)
        if out["back_s"] is None and 1 in seen["arrived"]:
            out["back_s"] = time.perf_counter() - killed
        elif out["back_s"] is None:
            out["missing"] += 1
        if until_back and out["back_s"] is not None:
            break
    return out


def _restart_s(rt, worker: int) -> float:
    """Seconds from killing ``worker``'s actor until a new process answers its health call."""
    actor = rt.pool.actors[worker]
    pid = ray.get(actor.health.remote())["pid"]
    start = time.perf_counter()
    ray.kill(actor, no_restart=False)
    while time.perf_counter() - start < 60:
        try:
            if ray.get(actor.health.remote(), timeout=30)["pid"] != pid:
                break
        except ray.exceptions.RayActorError:
            time.sleep(0.01)
    return time.perf_counter() - start


def killed_worker(slow_rounds: int, max_rounds: int) -> tuple[list[dict], dict]:
    """Rounds a worker killed between rounds is missing: slow rounds, then fast ones."""
    A, x = np.arange(60.0).reshape(20, 3), np.ones(3)
    with Runtime(4, num_cpus_per_worker=CPUS, delays=FixedDelay(3.0)) as rt:
        op = rt.place(A, code=MDSCode(4, 4))  # needs every worker
        op @ x
        slow = _after_kill(rt, op, x, slow_rounds, until_back=False)
    retried = ", then ".join(str(r.get("retried", "-")) for r in slow["rounds"])
    setting = f"MDS(4,4), every worker 3 s, {slow_rounds} round(s)"
    target = "killed worker, slow rounds (rounds missing)"
    rows = [_row("killed worker", setting, slow["missing"], "rounds", target, f"retried {retried}")]
    with Runtime(4, num_cpus_per_worker=CPUS) as rt:
        op = rt.place(A, code=MDSCode(4, 3))
        for _ in range(3):  # warm
            op @ x
        fast = _after_kill(rt, op, x, max_rounds, until_back=True)
        restart = _restart_s(rt, 2)
    round_ms = 1e3 * float(np.median([r["seconds"] for r in fast["rounds"]]))
    setting = f"MDS(4,3), no delay, {round_ms:.3g} ms rounds"
    back = "never" if fast["back_s"] is None else f"back {fast['back_s']:.3g} s after the kill"
    rows.append(_row("killed worker", setting, fast["missing"], "rounds", None, back))
    rows.append(_row("restart", "ray.kill to a new process's health call", restart, "s", None))
    return rows, {"slow": slow, "fast": fast}


def infeasible() -> dict:
    """Seconds to refuse 4 workers of 3 CPUs on a 2-CPU local Ray (Ray's start not counted)."""
    started = connect(num_cpus=2)
    try:
        start = time.perf_counter()
        try:
            Runtime(4, num_cpus_per_worker=3).close()
            error = "none: the workers were created"
        except ValueError as exc:
            error = exc
        elapsed = time.perf_counter() - start
    finally:
        disconnect(started)
    value = elapsed if isinstance(error, ValueError) else None
    setting = "Runtime(4, num_cpus_per_worker=3), 2 CPUs"
    return _row("infeasible", setting, value, "s", "infeasible resources (s)", error)


def unreachable() -> dict:
    """Seconds for ``coded run`` of a job whose address nobody answers to exit with an error."""
    with tempfile.TemporaryDirectory() as folder:
        job = Path(folder) / "unreachable.yaml"
        job.write_text(JOB)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "coded.scheduler.cli", "run", str(job)],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's coded
            capture_output=True,
            text=True,
            timeout=150,
        )
        elapsed = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    value = elapsed if done.returncode != 0 else None
    setting = 'coded run, address "127.0.0.1:1"'
    row = _row("unreachable", setting, value, "s", "unreachable address (s)")
    row["outcome"] = f"exit status {done.returncode}"
    row["message"] = lines[-1] if lines else "nothing on stderr"
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="the 10 s deadline, one slow round after the kill"
    )
    parser.add_argument(
        "--max-rounds", type=int, default=1000, help="fast rounds after the kill, at most"
    )
    parser.add_argument("--out", default="results/hardening.json")
    args = parser.parse_args(argv)
    if args.max_rounds < 1:
        parser.error(f"argument --max-rounds must be at least 1, not {args.max_rounds}")
    deadlines = (10.0,) if args.quick else (60.0, 10.0)
    start = time.perf_counter()
    rows = [round_failed("in process", deadline) for deadline in deadlines]
    started = connect(num_cpus=8)  # a private local Ray: 8 logical CPUs
    try:
        rows += [round_failed("ray", deadline) for deadline in deadlines]
        killed, detail = killed_worker(1 if args.quick else 2, args.max_rounds)
        rows += killed
    finally:
        disconnect(started)
    rows.append(infeasible())
    rows.append(unreachable())
    wall = time.perf_counter() - start
    columns = ["case", "setting", "value", "unit", "target", "verdict", "outcome"]
    title = f"hardening: time to an error, rounds a killed worker misses (whole run {wall:.0f} s)"
    print_table(title, rows, columns)
    for row in rows:
        if row.get("message"):
            message = row["message"]
            message = message if len(message) <= 240 else message[:239] + "…"
            print(f"{row['case']}, {row['setting']}: {message}")
    write_json(args.out, {"targets": TARGETS, "rows": rows, "killed": detail, "wall_s": wall})
    return 0


if __name__ == "__main__":
    sys.exit(main())
