"""The Python examples run end to end on the session's local Ray, with small settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    """The example as a module whose functions travel to Ray workers by value."""
    from ray import cloudpickle

    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)
    return module


@pytest.fixture(scope="module")
def example():
    pytest.importorskip("sklearn")
    yield _load("lagrange_gradient")
    sys.modules.pop("lagrange_gradient", None)


def test_a_scale_that_could_wrap_around_is_refused(example):
    X, y = example.load_data()
    blocks, w = [(X[:90], y[:90])], np.ones(X.shape[1])
    largest = example.largest_scale(blocks, w)
    assert example.magnitude_bound(blocks, w, largest) <= (example.P - 1) // 2
    with pytest.raises(ValueError, match=f"must be at most {largest} for this data"):
        example.quantise(blocks, w, largest + 1)


@pytest.mark.ray
def test_the_lagrange_gradient_example_prints_its_comparison(ray_cluster, example, capsys):
    assert example.main(["--n", "6", "--k", "2", "--s", "2", "--delay", "0.3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.split()[:1]}
    lagrange, coded_, uncoded = rows["Lagrange"], rows["gradient"], rows["uncoded"]
    assert lagrange[-2] == "3" and float(lagrange[-1]) < 0.1  # any 3 answers; quantised
    assert float(coded_[-1]) < 1e-9 and float(uncoded[-1]) < 1e-9
    assert float(uncoded[-3]) >= 300 > float(lagrange[-3])  # waits for the slow workers


@pytest.mark.ray
def test_coded_inference_decodes_predictions_from_the_fast_workers(ray_cluster, capsys):
    pytest.importorskip("sklearn")
    example = _load("coded_inference")
    try:
        assert example.main(["--seconds-per-row", "1e-4"]) == 0
    finally:
        sys.modules.pop("coded_inference", None)
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[lines.index("") + 2 :]]
    table = {(int(r[0]), " ".join(r[1:-4])): (float(r[-4]), float(r[-3])) for r in rows}
    assert {s for s, _ in table} == {0, 1, 2, 4} and len(table) == 16
    exact = float(lines[0].split("accuracy ")[1].rstrip("%"))
    for s in (0, 1, 2, 4):
        assert table[s, "wait for all"] == table[s, "2-replication"] == (exact, 100.0)
        accuracy, agreement = table[s, "Berrut coded"]
        assert accuracy >= exact - 3 and agreement >= 95  # approximate, but close
    assert table[4, "drop stragglers"][0] < table[4, "Berrut coded"][0] - 10  # 4/16 lost


def test_the_torch_digits_example_trains_both_models_alike(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    example = _load("torch_digits")
    try:
        argv = ["--local", "--n", "4", "--iterations", "12", "--lr", "0.02"]
        assert example.main([*argv, "--output", str(tmp_path)]) == 0
    finally:
        sys.modules.pop("torch_digits", None)
    lines = capsys.readouterr().out.splitlines()
    accuracies = {
        tuple(line.split()[:2]): float(line.split("accuracy")[1].split("%")[0])
        for line in lines
        if "test accuracy" in line
    }
    assert set(accuracies) == {(m, r) for m in ("mlp", "cnn") for r in ("uncoded", "coded")}
    for model in ("mlp", "cnn"):
        assert accuracies[model, "coded"] == accuracies[model, "uncoded"] > 70
    gaps = [float(line.split(": ")[1].split()[0]) for line in lines if "largest difference" in line]
    assert len(gaps) == 2 and max(gaps) < 1e-5  # float32 rounding only (measured 2.7e-7)
    assert {p.name for p in tmp_path.iterdir()} >= {"mlp_loss.png", "cnn_accuracy.png"}
