"""Coded power iteration against plain Ray actors, with one worker always late.

    python benchmarks/power.py [--size 1200] [--delay 0.05] [--json results/power.json]
                               [--plot results/power.png]

A symmetric ``A`` (``λ₁ = 1``, every other ``|λ| ≤ 0.5``) on n = 8 workers of a local Ray;
worker 0 is ``--delay`` seconds late every round. Both runs iterate ``x ← Ax/‖Ax‖`` with
the Rayleigh quotient from the same start and stop at the same relative residual:

* ``coded``: :func:`coded.power_iteration`, ``A`` placed once as (8, 6) MDS shares; each
  round decodes from the first 6 answers and cancels the straggler;
* ``plain Ray``: :class:`peers.Peers` (imports nothing from coded), ``A`` in 8 row blocks on
  8 actors; each round waits for all of them.

numpy's ``eigh`` is the reference. Verdicts: the coded eigenvalue matches ``eigh`` to 1e-8;
no coded round waits for the straggler (it is never among the workers a round decodes
from, and the median round is shorter than its delay); the coded run is faster than the
plain one. The coded run's clock starts before ``A`` is encoded and placed.
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

import coded  # noqa: E402
from coded.scheduler.cluster import connect, disconnect  # noqa: E402
from coded.scheduler.jobs.power import random_symmetric  # noqa: E402
from coded.scheduler.training.history import History, plot  # noqa: E402
from coded.workers.delays import FixedDelay  # noqa: E402

STRAGGLER = 0
SHOWN_ROUNDS = (1, 5, 10, 20, 30)


def plain_power(peers: Peers, x, n: int, delay: float, tol: float, iterations: int, reference):
    """The same iteration as ``coded.power_iteration``, each round on plain actors."""
    history = History("plain Ray (waits for all)")
    extras = [delay if i == STRAGGLER else 0.0 for i in range(n)]
    for _ in range(iterations):
        start = time.perf_counter()
        y = peers.round(x, np.ones(n), extras)
        eigenvalue, scale = float(x @ y), float(np.linalg.norm(y))
        residual = float(np.linalg.norm(y - eigenvalue * x))
        history.append(
            residual,
            time.perf_counter() - start,
            range(n),
            residual=residual,
            eigenvalue=eigenvalue,
            eigenvalue_error=abs(eigenvalue - reference),
        )
        if residual <= tol * scale:
            break
        x = y / scale
    return history


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--size", type=int, default=1200)
    parser.add_argument("--ratio", type=float, default=0.5)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--json", default="results/power.json")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args(argv)

    A = random_symmetric(args.size, args.ratio, seed=0)
    start = time.perf_counter()
    reference = float(np.linalg.eigh(A)[0][-1])
    eigh_s = time.perf_counter() - start
    x0 = np.random.default_rng(1).standard_normal(args.size)
    x0 /= np.linalg.norm(x0)
    started = connect(num_cpus=args.n)
    try:
        delays = FixedDelay(args.delay, workers=[STRAGGLER])
        with coded.Runtime(args.n, num_cpus_per_worker=0.5, delays=delays) as rt:
            result = coded.power_iteration(
                A,
                code=coded.MDSCode(args.n, args.k),
                x0=x0,
                tol=args.tol,
                iterations=args.iterations,
                reference=reference,
                runtime=rt,
                progress=False,
            )
        coded_history = result.history
        coded_history.method = f"coded MDS({args.n}, {args.k})"
        peers = Peers(A, args.n, "uncoded", num_cpus=0.5)
        try:
            plain = plain_power(peers, x0, args.n, args.delay, args.tol, args.iterations, reference)
        finally:
            peers.close()
    finally:
        disconnect(started)

    histories = {"coded": coded_history, "plain Ray": plain}
    rows = []
    for name, history in histories.items():
        rounds = history.round_times
        rows.append(
            {
                "method": name,
                "rounds": len(rounds),
                "median round ms": 1e3 * float(np.median(rounds)),
                "max round ms": 1e3 * float(rounds.max()),
                "total s": float(history.times[-1]),
                "eigenvalue error": float(history.series("eigenvalue_error")[-1]),
            }
        )
    accuracy = [
        {
            "round": t,
            **{
                name: float(h.series("eigenvalue_error")[t - 1])
                for name, h in histories.items()
                if t <= len(h.records)
            },
        }
        for t in SHOWN_ROUNDS
    ]
    coded_row, plain_row = rows
    verdicts = {
        "matches eigh to 1e-8": coded_row["eigenvalue error"] <= 1e-8,
        "rounds never wait for the straggler": all(
            STRAGGLER not in record.workers for record in coded_history.records
        ),
        "median coded round shorter than the delay": coded_row["median round ms"]
        < 1e3 * args.delay,
        "coded faster than plain Ray": coded_row["total s"] < plain_row["total s"],
    }
    title = (
        f"power iteration, A {args.size}x{args.size} (|λ₂/λ₁| ≤ {args.ratio}), n={args.n}, "
        f"worker {STRAGGLER} {1e3 * args.delay:g} ms late every round; eigh: {eigh_s:.2f} s"
    )
    print_table(title, rows)
    print_table("eigenvalue error |λ_t − λ_eigh| by round", accuracy)
    print_table(
        "verdicts", [{"check": c, "verdict": "met" if v else "MISSED"} for c, v in verdicts.items()]
    )
    if args.plot is not None:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot(list(histories.values()), args.plot, quantity="eigenvalue_error")
        print(f"wrote {args.plot}")
    report = {
        "title": title,
        "setup": vars(args),
        "rows": rows,
        "accuracy": accuracy,
        "verdicts": verdicts,
        "eigenvalue": result.eigenvalue,
        "reference": reference,
    }
    write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
