"""``coded run`` / ``coded validate`` on saddle jobs: key-path errors, the example, a Ray run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coded.saddle import DRLogistic, RobustLeastSquares
from coded.scheduler.cli import main
from coded.scheduler.jobs.saddle import validate_saddle_job

from .jobfiles import changed, write_job

EXAMPLE = Path(__file__).parents[3] / "examples" / "saddle.yaml"
GOOD = {
    "job": "saddle",
    "n": 4,
    "workers": {"num_cpus": 0.25},
    "delays": {"type": "FixedDelay", "seconds": 3.0, "workers": [2]},
    "data": {"synthetic": {"rows": 8, "seed": 0}},
    "step": 0.45,
    "iterations": 300,
    "tol": 1e-8,
}


def _with(**change) -> dict:
    return changed(GOOD, **change)


def test_the_example_job_is_valid(capsys):
    assert main(["validate", str(EXAMPLE)]) == 0
    assert "valid saddle job (n=8; data checked: (64, 64) float64" in capsys.readouterr().out


def test_problems_from_synthetic_data_and_from_an_npz_file(tmp_path):
    config = validate_saddle_job(
        _with(problem={"type": "robust_least_squares", "lam": 3.0}, step=[0.2, 0.1], iterations=2)
    )
    assert isinstance(config["problem"], RobustLeastSquares) and config["problem"].lam == 3.0
    assert config["steps"].tolist() == [0.2, 0.1] and config["problem"].rows == 8
    path = tmp_path / "p.npz"
    np.savez(path, X=np.eye(5), y=np.array([0, 1, 1, 0, 1]))
    config = validate_saddle_job(
        _with(problem={"type": "dr_logistic", "nu": 2.0}, data={"path": str(path)}, n=5)
    )
    assert isinstance(config["problem"], DRLogistic) and config["problem"].nu == 2.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step": [0.2, 0.3]}, "step: Argument 'step' must hold a step size for each of the 300"),
        ({"iterations": 2, "step": [0.2, 0.3]}, "step: Argument 'step' must not increase"),
        ({"step": 0}, "step: Argument 'step' must be greater than 0, not 0."),
        ({"step": "fast"}, "step: must be a number or a list of numbers, got 'fast'"),
        ({"algorithm": "adam"}, "algorithm: must be one of ['extragradient', 'gda']"),
        ({"method": "ignore"}, "method: must be one of ['coded', 'uncoded']"),
        ({"s": 4}, "Argument 's' must be less than n=4, not 4."),
        ({"problem": {"type": "lasso"}}, "problem.type: must be one of ['bilinear', 'robust_"),
        ({"problem": {"type": "bilinear", "nu": 1.0}}, "problem.nu: is not a parameter of bil"),
        (
            {"problem": {"type": "robust_least_squares", "lam": 0.5}},
            "data.synthetic: Argument 'lam' must be greater than 1, not 0.5.",
        ),
        ({"data": {}}, "data: give exactly one of 'path' (an .npz file) and 'synthetic'"),
        ({"data": {"synthetic": {"rows": 3}}}, "data.synthetic: the problem has 3 rows, fewer"),
        ({"data": {"path": "missing.npz"}}, "data.path: file 'missing.npz' does not exist"),
        ({"data__synthetic": {"rows": 8, "colour": 1}}, "data.synthetic.colour: unknown key"),
        ({"tol": -1.0}, "tol: must be at least 0"),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else None,
)
def test_bad_saddle_jobs_are_rejected_with_the_key_path(tmp_path, capsys, change, message):
    assert main(["validate", write_job(tmp_path, _with(**change))]) == 2
    assert message in capsys.readouterr().err


def test_an_npz_without_the_problem_arrays_is_rejected(tmp_path, capsys):
    path = tmp_path / "p.npz"
    np.savez(path, A=np.eye(4), b=np.ones(4))
    assert main(["validate", write_job(tmp_path, _with(data={"path": str(path)}))]) == 2
    assert "has no array 'c'; a bilinear needs ['A', 'b', 'c']" in capsys.readouterr().err


@pytest.mark.ray
def test_run_converges_past_a_straggler_and_writes_its_outputs(ray_cluster, tmp_path, capsys):
    output = {
        "history": str(tmp_path / "h.json"),
        "solution": str(tmp_path / "z.npy"),
    }
    assert main(["run", write_job(tmp_path, _with(output=output))]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["distance"] <= 1e-8 and summary["seconds"] < 60
    history = json.loads((tmp_path / "h.json").read_text())
    assert all(2 not in record["workers"] for record in history["records"])
    assert np.load(tmp_path / "z.npy").shape == (16,)
