"""Code recommendation: brute force over real code objects, theory, traces, errors, the CLI."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from coded import code_from_config
from coded.scheduler.cli import main
from coded.scheduler.lab import recommend as recommend_module
from coded.scheduler.lab import (
    sample_delays,
    shifted_exponential_mean,
    shifted_exponential_variance,
)
from coded.scheduler.lab.recommend import FAMILIES, Candidate, Workload, candidates, recommend
from coded.workers.delays import (
    Bimodal,
    Compose,
    Exponential,
    FailStop,
    ShiftedExponential,
    Slowdown,
    write_trace,
)

ROUNDS = 1500
WORKLOAD = Workload(60, 40, 30, compute_time=1.0, master_flops=2e7, bandwidth=1e5)


def _brute_force_mean(code, times_of_share, workload):
    """Mean latency of a real code object: per round, walk the arrivals until it decodes,
    then add fetching its responses and decoding, priced from the code's own threshold."""
    if hasattr(code, "inner_blocks"):
        a, b, p = code.a_blocks, code.b_blocks, code.inner_blocks
        share, response = 1 / (a * b * p), 1 / (a * b)
    else:
        share = response = 1 / code.k
    times = times_of_share(share)
    latencies = []
    for row in times:
        arrived = []
        for w in np.argsort(row, kind="stable"):
            arrived.append(int(w))
            if code.can_decode(arrived):
                break
        latencies.append(row[arrived[-1]])
    needed = code.recovery_threshold
    size = workload.m * workload.q
    transfer = needed * response * size * workload.itemsize / workload.bandwidth
    decode = 2 * needed * size / workload.master_flops
    return np.mean(latencies) + transfer + decode


def _brute_force_baseline(n, r, times_of_share, workload):
    times = times_of_share(r / n)
    groups = n // r
    first = np.min([times[:, g::groups] for g in range(groups)], axis=2)
    transfer = workload.m * workload.q * workload.itemsize / workload.bandwidth
    return first.max(axis=0).mean() + transfer


@pytest.mark.parametrize("n", [5, 6])
@pytest.mark.parametrize(
    "delays",
    [
        Compose(ShiftedExponential(1.0), Exponential(0.05)),
        Bimodal(0.2, 6.0),
        Compose(Bimodal(0.2, 4.0), FailStop([0], round=3, duration=None)),
    ],
    ids=["shifted-exp+jitter", "bimodal", "bimodal+crash"],
)
def test_matches_brute_force_over_real_codes(n, delays):
    ranking = recommend(n, delays, WORKLOAD, families=FAMILIES, rounds=ROUNDS, seed=2)
    sampled = sample_delays(delays, n, ROUNDS, seed=2)

    def times_of_share(share):
        return sampled.time(WORKLOAD.compute * share)

    brute = {}
    for c in ranking:
        if c.code is not None:
            code = code_from_config(c.code)
            assert code.recovery_threshold == c.threshold
            brute[c.label] = _brute_force_mean(code, times_of_share, WORKLOAD)
        else:
            r = c.params.get("r", 1)
            brute[c.label] = _brute_force_baseline(n, r, times_of_share, WORKLOAD)
    for c in ranking:
        assert c.mean == pytest.approx(brute[c.label], rel=1e-12), c.label
    best = min(brute.values())
    assert ranking[0].mean == pytest.approx(best, rel=1e-12)
    assert [c.mean for c in ranking] == sorted(c.mean for c in ranking)
    # every code that fits on n workers was considered
    assert {
        "mds(k=1)",
        f"mds(k={n})",
        "matdot(inner_blocks=3)",
        "polynomial(a_blocks=2, b_blocks=2)",
    } <= set(brute)


def test_mds_choice_matches_lee_et_al():
    free = Workload(100, 100, 100, compute_time=1.0, master_flops=None, bandwidth=None)
    ranking = recommend(10, ShiftedExponential(1.0), free, families=["mds"], rounds=20_000)
    assert ranking[0].label == "mds(k=7)"  # argmin_k (1 + H_10 − H_{10−k}) / k
    for c in ranking:
        k = c.params["k"]
        variance = shifted_exponential_variance(k, 10)
        assert abs(c.mean - shifted_exponential_mean(k, 10)) <= 4 * np.sqrt(variance / 20_000)


def test_costly_master_penalises_matdot_and_ties_prefer_less_storage():
    slow_master = Workload(500, 500, 500, compute_time=1.0, master_flops=1e8, bandwidth=1e8)
    ranking = recommend(8, ShiftedExponential(1.0), slow_master, rounds=2000)
    matdot = next(c for c in ranking if c.label == "matdot(inner_blocks=4)")
    poly = next(c for c in ranking if c.label == "polynomial(a_blocks=2, b_blocks=3)")
    # 7 full-size responses vs 6 of a sixth: 7x the transfer, 7/6 of the decode flops
    assert matdot.master == pytest.approx(7 * 2e6 / 1e8 + 2 * 7 * 250_000 / 1e8)
    assert poly.master == pytest.approx(2e6 / 1e8 + 2 * 6 * 250_000 / 1e8)
    ties = [c for c in ranking if c.threshold == 6 and c.family in ("mds", "polynomial")]
    assert ties[0].label in (
        "polynomial(a_blocks=2, b_blocks=3)",
        "polynomial(a_blocks=3, b_blocks=2)",
    )
    assert ties[0].worker_bytes < next(c for c in ties if c.family == "mds").worker_bytes


def test_recorded_trace_replays_like_the_model(tmp_path):
    times = np.full((50, 6), 0.2)
    times[:, 0] = 2.0  # worker 0 is always 10x slower than the fastest time in the trace
    path = tmp_path / "trace.csv"
    write_trace(path, times)
    from_trace = recommend(6, str(path), WORKLOAD, rounds=200)
    from_model = recommend(6, Slowdown(10.0, [0]), WORKLOAD, rounds=200)
    assert [c.label for c in from_trace] == [c.label for c in from_model]
    np.testing.assert_allclose([c.mean for c in from_trace], [c.mean for c in from_model])
    assert recommend(6, times, WORKLOAD, rounds=200)[0].label == from_trace[0].label


def test_objective_and_candidates():
    ranking = recommend(6, Bimodal(0.3, 10.0), WORKLOAD, objective="p99", rounds=1000)
    assert [c.p99 for c in ranking] == sorted(c.p99 for c in ranking)
    labels = [c.label for c in candidates(7, WORKLOAD, ["entangled"])]
    # entangled codes with p = 1 are polynomial codes and a = b = 1 MatDot: not repeated
    assert labels == [
        "entangled(a_blocks=1, b_blocks=2, inner_blocks=2)",
        "entangled(a_blocks=1, b_blocks=3, inner_blocks=2)",
        "entangled(a_blocks=2, b_blocks=1, inner_blocks=2)",
        "entangled(a_blocks=3, b_blocks=1, inner_blocks=2)",
    ]
    c = ranking[0]
    assert isinstance(c, Candidate) and json.dumps(c.to_dict())


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: candidates(4, WORKLOAD, ["lrc"]), "Argument 'families' must be a non-empty list"),
        (lambda: candidates(4, (1, 2, 3)), "Argument 'workload' must be a Workload"),
        (lambda: candidates(0, WORKLOAD), "Argument 'n' must be at least 1"),
        (
            lambda: recommend(4, Bimodal(0.1, 2.0), WORKLOAD, objective="max"),
            "Argument 'objective'",
        ),
        (lambda: Workload(0, 1, 1), "Argument 'm' must be at least 1, not 0"),
        (lambda: Workload(1, 1, 1, flops=0), "Argument 'flops' must be a positive number"),
        (
            lambda: Workload(1, 1, 1, bandwidth=-1.0),
            "Argument 'bandwidth' must be a positive number",
        ),
        (lambda: recommend(4, [[1.0, 2.0]], WORKLOAD), "at most the trace's 2 workers"),
    ],
)
def test_argument_errors(build, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_cli_recommend(tmp_path, capsys):
    out = tmp_path / "ranking.json"
    args = [
        "recommend",
        "--n",
        "10",
        "--shape",
        "200",
        "200",
        "200",
        "--compute-time",
        "1",
        "--master-flops",
        "none",
        "--bandwidth",
        "none",
        "--families",
        "mds",
        "uncoded",
        "--delays",
        "{type: ShiftedExponential, rate: 1.0}",
        "--rounds",
        "20000",
        "--top",
        "3",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "recommended: mds(k=7)" in printed and '"type": "MDSCode"' in printed
    assert sum(line.startswith("| ") for line in printed.splitlines()) == 4  # header + 3 rows
    ranking = json.loads(out.read_text())
    assert len(ranking) == 11 and ranking[0]["code"] == {"n": 10, "type": "MDSCode", "k": 7}


def test_cli_recommend_reads_delay_files_and_traces(tmp_path, capsys):
    delays = tmp_path / "delays.yaml"
    delays.write_text("type: Bimodal\nprobability: 0.2\nfactor: 5.0\n")
    trace = tmp_path / "trace.csv"
    write_trace(trace, np.random.default_rng(0).uniform(0.1, 1.0, (40, 6)))
    base = ["recommend", "--n", "6", "--shape", "50", "50", "50", "--rounds", "300"]
    assert main([*base, "--delays", str(delays)]) == 0
    assert main([*base, "--trace", str(trace)]) == 0
    assert capsys.readouterr().out.count("recommended:") == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--delays", "{type: Bimodal, probability: 2, factor: 3}"],
            "delays: Argument 'probability' must be at most 1",
        ),
        (["--delays", "{type: Bimodal, q: 2}"], "delays: unknown parameter 'q' for Bimodal"),
        (["--delays", "[1, 2"], "delays: not valid YAML"),
        (["--trace", "missing.csv"], "must name an existing trace file"),
        (["--delays", "{type: NoDelay}", "--flops", "0"], "Argument 'flops'"),
    ],
)
def test_cli_recommend_rejects_bad_input(extra, message, capsys):
    assert main(["recommend", "--n", "4", "--shape", "5", "5", "5", *extra]) == 2
    assert message in capsys.readouterr().err


def test_additive_delays_beyond_the_budget_search_a_grid_and_say_so(monkeypatch):
    delays = Compose(ShiftedExponential(1.0), Exponential(0.3))
    workload = Workload(2000, 500, 50, compute_time=1.0)
    full = recommend(300, delays, workload, rounds=400)
    monkeypatch.setattr(recommend_module, "SEARCH_CELLS", 0)
    monkeypatch.setattr(recommend_module, "MIN_PASSES", 40)
    bounded = recommend(300, delays, workload, rounds=400)
    assert full.notes == [] and len(bounded) < len(full)
    assert bounded[0] == full[0]  # the same best code, with the same figures
    by_label = {c.label: c for c in full}
    assert all(by_label[c.label] == c for c in bounded)  # a subset, with the same figures
    (note,) = bounded.notes
    choices = {(c.family == "replication", c.threshold, c.share) for c in bounded}
    assert note.startswith(f"simulated {len(choices)} of ")
    assert "searched on a grid refined around the best" in note


@pytest.mark.slow
def test_cli_recommend_scales_to_ten_thousand_workers(capsys):
    start = time.perf_counter()
    args = ["recommend", "--n", "10000", "--shape", "4000", "1000", "16"]
    assert main([*args, "--delays", "{type: ShiftedExponential, rate: 1.0}"]) == 0
    assert time.perf_counter() - start < 60  # seconds on an idle core; minutes before
    printed = capsys.readouterr().out
    assert "note: simulated 2000 rounds, not 10000: rounds x n is capped" in printed
    assert "recommended: " in printed
