"""examples/lagrange_gradient.py runs end to end on the session's local Ray."""

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
