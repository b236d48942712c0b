"""``coded run`` / ``coded validate`` on matmul jobs: key-path errors, examples, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coded.scheduler.cli import main

from .jobfiles import write_job

EXAMPLES = Path(__file__).parents[3] / "examples"
GOOD = {
    "job": "matmul",
    "n": 4,
    "code": {"type": "MDSCode", "n": 4, "k": 3},
    "workers": {"num_cpus": 0.25},
    "delays": {"type": "FixedDelay", "seconds": 3.0, "workers": [2]},
    "data": {"A": {"shape": [30, 8], "seed": 0}, "B": {"shape": [8, 2], "seed": 1}},
    "rounds": 2,
}


_DELETE = object()


def _with(change: dict, base=GOOD) -> dict:
    job = json.loads(json.dumps(base))
    for dotted, value in change.items():
        *parents, key = dotted.split(".")
        section = job
        for parent in parents:
            section = section[parent]
        if value is _DELETE:
            del section[key]
        else:
            section[key] = value
    return job


@pytest.mark.parametrize("name", ["matmul.yaml", "matmul_polynomial.yaml", "matmul_adapt.yaml"])
def test_example_jobs_are_valid(name, capsys):
    assert main(["validate", str(EXAMPLES / name)]) == 0
    assert "valid matmul job" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data.A.shap": [3, 3]}, "data.A.shap: unknown key"),
        ({"rounds": 0}, "rounds: must be at least 1, got 0"),
        ({"code.k": 5}, "code: Argument 'k' must be at most n=4, not 5."),
        ({"n": 6}, "code.n: must equal n=6, got 4"),
        ({"code.type": "Nope"}, "code: Argument 'code' must be one of ['BerrutCode', 'Chunked"),
        ({"delays.seconds": -1}, "delays: "),
        ({"workers.num_gpus": "one"}, "workers.num_gpus: must be a number"),
        ({"data.B.shape": [9, 2]}, "data.B.shape: Argument 'B' must have 8 rows"),
        ({"data.A.path": "missing.npy"}, "data.A: give exactly one of 'shape'"),
        (
            {"data.A.shape": _DELETE, "data.A.path": "missing.npy"},
            "data.A.path: file 'missing.npy' does not exist",
        ),
        ({"data.A.shape": [0, 3]}, "data.A.shape: must be a list of 1 or 2 positive integers"),
        (
            {"job": "sort"},
            "job: must be one of ['map', 'matmul', 'power', 'saddle', 'train'], got 'sort'",
        ),
        ({"job": _DELETE}, "job: must be one of"),
        ({"adapt": {"horizon": 0}}, "adapt: Argument 'horizon' must be at least 1, not 0."),
        ({"adapt": {"thresh": 2}}, "adapt.thresh: unknown key"),
        (
            {"code": {"type": "Replication", "n": 4, "r": 2}, "adapt": {}},
            "adapt: Argument 'adapt' re-chooses the k of an MDSCode, not of Replication",
        ),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else None,
)
def test_bad_jobs_are_rejected_with_the_key_path(tmp_path, capsys, change, message):
    assert main(["validate", write_job(tmp_path, _with(change))]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_file_is_reported(capsys):
    assert main(["run", "no-such-job.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.ray
def test_run_writes_the_product_and_metrics(ray_cluster, tmp_path, capsys):
    job = _with(
        {"output": {"result": str(tmp_path / "C.npy"), "metrics": str(tmp_path / "m.json")}}
    )
    assert main(["run", write_job(tmp_path, job)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["relative_error"] < 1e-12 and summary["latency"]["rounds"] == 2
    assert summary["latency"]["total_s"]["median"] < 3.0  # the 3 s straggler was not awaited
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(1)
    expected = rng_a.standard_normal((30, 8)) @ rng_b.standard_normal((8, 2))
    np.testing.assert_allclose(np.load(tmp_path / "C.npy"), expected)
    rounds = json.loads((tmp_path / "m.json").read_text())["rounds"]
    assert [r["round"] for r in rounds] == [0, 1] and all(2 in r["cancelled"] for r in rounds)


@pytest.mark.ray
def test_an_adaptive_job_switches_k_away_from_its_slow_workers(ray_cluster, tmp_path, capsys):
    """Workers 2 and 3 are 0.3 s late every round, so MDS(4, 3) waits for one of them; the
    adaptive operator switches to MDS(4, 2) and its later rounds wait for neither."""
    job = _with(
        {
            "delays": {"type": "FixedDelay", "seconds": 0.3, "workers": [2, 3]},
            "adapt": {"rounds": 2},
            "rounds": 10,
            "output": {"metrics": str(tmp_path / "m.json")},
        }
    )
    assert main(["run", write_job(tmp_path, job)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["relative_error"] < 1e-12
    (decision,) = summary["decisions"]
    assert decision["slow"] == [2, 3] and "k=2" in decision["new"]
    rounds = json.loads((tmp_path / "m.json").read_text())["rounds"]
    assert all(r["total_s"] < 0.3 for r in rounds[decision["round"] + 1 :])
    assert all(r["total_s"] >= 0.3 for r in rounds[:2])
