"""``coded run`` / ``coded validate`` on power jobs: key-path errors, the example, real runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from coded.scheduler.cli import main
from coded.scheduler.jobs.power import load_edges, random_symmetric

from .jobfiles import changed, write_job

EXAMPLES = Path(__file__).parents[3] / "examples"
GOOD = {
    "job": "power",
    "code": {"type": "MDSCode", "n": 6, "k": 4},
    "workers": {"num_cpus": 0.25},
    "delays": {"type": "FixedDelay", "seconds": 3.0, "workers": [2]},
    "data": {"random": {"size": 40, "seed": 1}},
    "progress": False,
}
EDGES = "source,target\n0,1\n0,2\n1,2\n2,0\n3,2\n3,3\n1,2\n"  # node 4 dangling


def _with(**change) -> dict:
    return changed(GOOD, **change)


def test_the_example_job_is_valid(capsys):
    assert main(["validate", str(EXAMPLES / "power.yaml")]) == 0
    assert "valid power job (n=8; data checked: (1000, 1000) float64)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"code": {"type": "MDSCode", "n": 6, "k": 4, "field": 7}}, "code: Argument 'code' must c"),
        (
            {"code": {"type": "MatDotCode", "n": 6, "inner_blocks": 2}},
            "code: Argument 'code' must encode A alone, e.g. coded.MDSCode(n=8, k=6), not MatDot",
        ),
        ({"n": 5}, "code.n: must equal n=5, got 6"),
        ({"data": {}}, "data: give exactly one of 'random', 'path' and 'edges', not []"),
        ({"data__edges": "e.csv"}, "data: give exactly one of 'random', 'path' and 'edges'"),
        ({"data": {"edges": "e.csv"}}, "data.edges: is a graph for problem 'pagerank'"),
        ({"problem": "pagerank"}, "data.random: is for problem 'eigen'"),
        ({"data": {"random": {"size": 4}, "nodes": 3}}, "data.nodes: applies to 'edges' only"),
        ({"data__random": {"size": 4, "ratio": 1.0}}, "data.random.ratio: must be in [0, 1)"),
        ({"damping": 1.5}, "damping: must be in [0, 1), got 1.5"),
        ({"tol": -1}, "tol: must be at least 0, got -1.0"),
        ({"problem": "svd"}, "problem: must be one of ['eigen', 'pagerank'], got 'svd'"),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else None,
)
def test_bad_power_jobs_are_rejected_with_the_key_path(tmp_path, capsys, change, message):
    assert main(["validate", write_job(tmp_path, _with(**change))]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("problem", "array", "message"),
    [
        ("eigen", np.ones((3, 4)), "data.path: Argument 'A' must be a square matrix, not of sh"),
        ("pagerank", -np.eye(3), "data.path: Argument 'adjacency' must hold non-negative link"),
    ],
)
def test_a_bad_matrix_file_is_refused(tmp_path, capsys, problem, array, message):
    np.save(tmp_path / "m.npy", array)
    job = _with(problem=problem, data={"path": str(tmp_path / "m.npy")})
    assert main(["validate", write_job(tmp_path, job)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "nodes", "message"),
    [
        ("0,1,2\n", None, "must hold rows of two node numbers (integers from 0), not shape (1, 3)"),
        ("0,1.5\n", None, "must hold rows of two node numbers"),
        ("0,4\n", 3, "data.nodes: must exceed every node number, up to 4"),
    ],
)
def test_a_bad_edge_list_is_refused(tmp_path, capsys, text, nodes, message):
    (tmp_path / "e.csv").write_text(text)
    data = {"edges": str(tmp_path / "e.csv")} | ({} if nodes is None else {"nodes": nodes})
    assert main(["validate", write_job(tmp_path, _with(problem="pagerank", data=data))]) == 2
    assert message in capsys.readouterr().err


def test_an_edge_list_becomes_a_weighted_adjacency(tmp_path):
    (tmp_path / "e.csv").write_text(EDGES)
    adjacency = load_edges(str(tmp_path / "e.csv"), nodes=5)
    assert adjacency.shape == (5, 5) and adjacency[1, 2] == 2 and adjacency[3, 3] == 1
    assert adjacency.sum() == 7 and not adjacency[4].any()


def test_the_random_matrix_has_the_promised_spectrum():
    eigenvalues = np.linalg.eigvalsh(random_symmetric(30, ratio=0.3, seed=2))
    assert eigenvalues[-1] == pytest.approx(1.0) and np.abs(eigenvalues[:-1]).max() <= 0.3


@pytest.mark.ray
def test_run_finds_the_eigenvalue_past_a_straggler(ray_cluster, tmp_path, capsys):
    output = {
        "vector": str(tmp_path / "x.npy"),
        "history": str(tmp_path / "h.json"),
        "plot": str(tmp_path / "p.png"),
    }
    assert main(["run", write_job(tmp_path, _with(output=output))]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["converged"] and abs(summary["eigenvalue_error"]) < 1e-8
    assert summary["eigenvalue"] == pytest.approx(1.0) and summary["median_round_ms"] < 1500
    records = json.loads((tmp_path / "h.json").read_text())["records"]
    assert all(2 not in r["workers"] for r in records)
    x = np.load(tmp_path / "x.npy")
    A = random_symmetric(40, seed=1)
    np.testing.assert_allclose(np.abs(x), np.abs(np.linalg.eigh(A)[1][:, -1]), atol=1e-6)
    if importlib.util.find_spec("matplotlib") is not None:
        assert summary["written"][-1] == output["plot"] and (tmp_path / "p.png").stat().st_size


@pytest.mark.ray
def test_run_pagerank_on_an_edge_list(ray_cluster, tmp_path, capsys):
    (tmp_path / "e.csv").write_text(EDGES)
    job = _with(
        problem="pagerank",
        data={"edges": str(tmp_path / "e.csv"), "nodes": 5},
        tol=1e-13,
        output={"vector": str(tmp_path / "r.npy"), "history": str(tmp_path / "h.json")},
    )
    assert main(["run", write_job(tmp_path, job)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["converged"] and summary["error"] < 1e-10
    ranks = np.load(tmp_path / "r.npy")
    assert ranks.sum() == pytest.approx(1.0) and ranks[2] == ranks.max()
