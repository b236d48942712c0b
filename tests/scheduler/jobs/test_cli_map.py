"""``coded run`` / ``coded validate`` on map jobs: key-path errors, the examples, real runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coded.scheduler.cli import main

from .jobfiles import changed, write_job

EXAMPLES = Path(__file__).parents[3] / "examples"
GOOD = {
    "job": "map",
    "code": {"type": "LagrangeCode", "n": 6, "k": 2, "degree": 2},
    "f": "numpy:multiply",
    "workers": {"num_cpus": 0.25},
    "delays": {"type": "FixedDelay", "seconds": 3.0, "workers": [4]},
    "data": {"X": {"shape": [10, 3], "seed": 0}, "args": [{"shape": [3], "seed": 1}]},
    "rounds": 2,
}


def _with(**change) -> dict:
    return changed(GOOD, **change)


@pytest.mark.parametrize("name", ["map.yaml", "map_berrut.yaml"])
def test_example_jobs_are_valid(name, capsys):
    assert main(["validate", str(EXAMPLES / name)]) == 0
    assert "valid map job" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"f": "numpy:no_such"}, "f: Argument 'f' names 'numpy:no_such', which cannot be"),
        ({"f": "tanh"}, "f: Argument 'f' must name a function as 'module:function', not"),
        ({"code": {"type": "MDSCode", "n": 6, "k": 3}}, "code: Argument 'code' must be a code"),
        ({"data__X": {"shape": [9, 3]}}, "data.X: must have a multiple of k=2 rows"),
        ({"data__X": {"shape": [10, 3], "path": "x.npy"}}, "data.X: give exactly one of"),
        ({"verify": 4}, "verify: Argument 'verify' must be at most"),
        ({"policy": {"responses": 3}}, "policy: Argument 'policy' applies to approximate codes"),
        ({"policy": {"wait": -1.0}}, "policy.wait: must be"),
        ({"n": 5}, "code.n: must equal n=5, got 6"),
        ({"byzantine": 1, "code": {"type": "BerrutCode", "n": 6, "k": 2}}, "code: Argument 'byz"),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else None,
)
def test_bad_map_jobs_are_rejected_with_the_key_path(tmp_path, capsys, change, message):
    assert main(["validate", write_job(tmp_path, _with(**change))]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.ray
def test_run_writes_f_of_each_block_and_metrics(ray_cluster, tmp_path, capsys):
    output = {"result": str(tmp_path / "fX.npy"), "metrics": str(tmp_path / "m.json")}
    assert main(["run", write_job(tmp_path, _with(output=output, verify=1))]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["latency"]["rounds"] == 2 and summary["latency"]["total_s"]["median"] < 3.0
    X = np.random.default_rng(0).standard_normal((10, 3))
    w = np.random.default_rng(1).standard_normal(3)
    np.testing.assert_allclose(np.load(tmp_path / "fX.npy"), np.split(X * w, 2), atol=1e-9)
    rounds = json.loads((tmp_path / "m.json").read_text())["rounds"]
    assert all(4 in r["cancelled"] for r in rounds)
