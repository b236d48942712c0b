"""The train job of ``coded run``: schema errors with key paths, data files, and a run on Ray."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from coded.losses import LogisticLoss, SoftmaxLoss
from coded.optim import Nesterov, NewtonCG
from coded.scheduler.cli import main
from coded.scheduler.jobs.schema import ConfigError
from coded.scheduler.jobs.train import load_data, synthetic_data, validate_train_job
from coded.workers.delays import Slowdown

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "train.yaml"
NEWTON_EXAMPLE = EXAMPLE.with_name("train_newton.yaml")
COMPRESSED_EXAMPLE = EXAMPLE.with_name("train_compressed.yaml")
BASE = {
    "job": "train",
    "n": 4,
    "data": {"synthetic": {"rows": 80, "features": 3}},
    "optimizer": {"type": "gd", "lr": 1.0},
}


def _job(**changes):
    job = {**BASE, **changes}
    return {k: v for k, v in job.items() if v is not None}


def test_defaults_and_built_sections():
    config = validate_train_job(
        _job(
            optimizer={"type": "nesterov", "lr": 0.5},
            delays={"type": "Slowdown", "factor": 5, "workers": [1]},
        )
    )
    assert config["loss"] == LogisticLoss() and config["optimizer"] == Nesterov(0.5)
    assert config["delays"] == Slowdown(5.0, workers=[1])
    assert config["method"] == "coded" and config["s"] == 1 and config["iterations"] == 100
    assert config["output"]["history"].endswith("history.json") and config["output"]["plot"] is None


@pytest.mark.parametrize(
    "changes, path, message",
    [
        (dict(lr=0.1), "lr", "unknown key"),
        (dict(optimizer=None), "optimizer", "required key is missing"),
        (dict(optimizer={"type": "adagrad", "lr": 1}), "optimizer", "must be one of"),
        (
            dict(optimizer={"type": "gd", "lr": -1}),
            "optimizer",
            "Argument 'lr' must be greater than 0, not -1",
        ),
        (dict(loss={"type": "hinge"}), "loss", "Argument 'loss' must be one of"),
        (dict(method="async"), "method", "must be one of"),
        (dict(n=0), "n", "must be at least 1"),
        (dict(data={}), "data", "exactly one of 'path'"),
        (
            dict(data={"path": "x.npy", "synthetic": {"rows": 3, "features": 1}}),
            "data",
            "exactly one",
        ),
        (
            dict(data={"synthetic": {"rows": 3}}),
            "data.synthetic.features",
            "required key is missing",
        ),
        (dict(data={"path": "no/such/file.csv"}), "data.path", "does not exist"),
        (dict(s=4), "", "Argument 's' must be less than n=4, not 4."),
        (
            dict(method="mds", optimizer={"type": "sgd", "lr": 0.1, "batch_size": 4}),
            "",
            "'mds' needs a full-batch optimizer",
        ),
        (dict(delays={"type": "Nope"}), "delays", "Argument .delays. must be one of"),
        (dict(output={"modle": "m.npy"}), "output.modle", "unknown key"),
    ],
)
def test_errors_name_the_key_path(changes, path, message):
    with pytest.raises(ConfigError, match=message) as info:
        validate_train_job(_job(**changes))
    assert info.value.path == path


def _section(**keys):
    return {"path": None, "label_column": -1, "x_key": "X", "y_key": "y", "synthetic": None, **keys}


def test_data_files(tmp_path):
    X, y = synthetic_data("logistic", rows=20, features=3, seed=1)
    np.save(tmp_path / "table.npy", np.column_stack([y, X]))
    np.savez(tmp_path / "arrays.npz", features=X, labels=y)
    np.savetxt(
        tmp_path / "with_header.csv",
        np.column_stack([X, y]),
        delimiter=",",
        header="a,b,c,label",
        comments="",
    )
    np.savetxt(tmp_path / "plain.csv", np.column_stack([X, y]), delimiter=",")
    cases = [
        _section(path=str(tmp_path / "table.npy"), label_column=0),
        _section(path=str(tmp_path / "arrays.npz"), x_key="features", y_key="labels"),
        _section(path=str(tmp_path / "with_header.csv")),
        _section(path=str(tmp_path / "plain.csv")),
    ]
    for section in cases:
        got_X, got_y = load_data(section)
        np.testing.assert_allclose(got_X, X, rtol=1e-15)
        np.testing.assert_array_equal(got_y, y)


def test_data_file_errors(tmp_path):
    np.savez(tmp_path / "arrays.npz", X=np.ones((3, 2)))
    np.save(tmp_path / "vector.npy", np.ones(4))
    (tmp_path / "data.txt").write_text("1,2\n")
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    with pytest.raises(ConfigError, match="does not exist"):
        load_data(_section(path=str(tmp_path / "missing.npy")))
    with pytest.raises(ConfigError, match="expected a .npy, .npz or .csv file"):
        load_data(_section(path=str(tmp_path / "data.txt")))
    with pytest.raises(ConfigError, match=r"has no array 'y'; it holds \['X'\]") as info:
        load_data(_section(path=str(tmp_path / "arrays.npz")))
    assert info.value.path == "data.y_key"
    with pytest.raises(ConfigError, match=r"must be a 2-D array \(features and a label\), not 1-D"):
        load_data(_section(path=str(tmp_path / "vector.npy")))
    np.save(tmp_path / "column.npy", np.ones((4, 1)))
    with pytest.raises(ConfigError, match=r"at least two columns .*, not shape \(4, 1\)"):
        load_data(_section(path=str(tmp_path / "column.npy")))
    with pytest.raises(ConfigError, match="cannot read"):
        load_data(_section(path=str(tmp_path / "bad.csv")))
    np.save(tmp_path / "table.npy", np.ones((3, 2)))
    with pytest.raises(ConfigError, match="must index one of the 2 columns, got 5"):
        load_data(_section(path=str(tmp_path / "table.npy"), label_column=5))


def test_synthetic_data_fits_each_loss():
    X, y = synthetic_data("least_squares", rows=50, features=4, seed=3)
    assert X.shape == (50, 4) and len(np.unique(y)) == 50
    _, y = synthetic_data(LogisticLoss(), rows=50, features=4)
    assert set(np.unique(y)) == {0.0, 1.0}
    _, y = synthetic_data(SoftmaxLoss(classes=5), rows=200, features=4)
    assert set(np.unique(y)) <= set(range(5)) and len(np.unique(y)) > 2
    first, again = (
        synthetic_data("logistic", 10, 2, seed=4),
        synthetic_data("logistic", 10, 2, seed=4),
    )
    np.testing.assert_array_equal(first[0], again[0])


def test_cli_validates_the_example_and_rejects_bad_jobs(tmp_path, capsys):
    assert main(["validate", str(EXAMPLE)]) == 0
    assert "valid train job" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_job(optimizer={"type": "gd", "lr": 0})))
    assert main(["validate", str(bad)]) == 2
    assert "optimizer: Argument 'lr' must be greater than 0" in capsys.readouterr().err


@pytest.mark.ray
def test_coded_run_writes_model_and_history(ray_cluster, tmp_path, capsys):
    out = tmp_path / "out"
    job = _job(
        iterations=15,
        progress=False,
        workers={"num_cpus": 0.5},
        output={
            "model": str(out / "model.npy"),
            "history": str(out / "history.json"),
            "plot": str(tmp_path / "plots" / "loss.png"),  # a folder the run must create
        },
    )
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(job))
    assert main(["run", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    model = np.load(out / "model.npy")
    history = json.loads((out / "history.json").read_text())
    assert model.shape == (3,) and summary["iterations"] == 15 == len(history["records"])
    assert history["method"] == "coded" and history["exact"] is True
    assert history["records"][-1]["loss"] < history["records"][0]["loss"]
    assert (tmp_path / "plots" / "loss.png").stat().st_size > 0


def test_a_newton_job_validates_and_defaults_to_mds():
    config = validate_train_job(
        _job(optimizer={"type": "newton_cg", "cg_tol": 0.1}, target_gradient_norm=1e-8)
    )
    assert config["optimizer"] == NewtonCG(cg_tol=0.1) and config["method"] == "mds"
    assert config["target_gradient_norm"] == 1e-8
    example = validate_train_job(yaml.safe_load(NEWTON_EXAMPLE.read_text()))
    assert example["optimizer"] == NewtonCG(cg_tol=0.5, max_cg=100)
    sketched = validate_train_job(_job(optimizer={"type": "sketched_newton", "sketch_size": 50}))
    assert sketched["method"] == "coded"
    for changes, message in [
        (dict(optimizer={"type": "newton_cg"}, method="coded"), "must be one of \\['mds'\\]"),
        (dict(optimizer={"type": "newton_cg", "cg_tol": 0}), "'cg_tol' must be greater than 0"),
        (dict(optimizer={"type": "newton_cg"}, target_gradient_norm=-1.0), "at least 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            validate_train_job(_job(**changes))


def test_compressor_section_builds_a_quantiser_and_bad_ones_name_the_key():
    from coded.compression import QSGD, Diana

    config = validate_train_job(_job(compressor={"type": "qsgd", "levels": 7}))
    assert repr(config["compressor"]) == repr(QSGD(7)) and config["compression_seed"] == 0
    assert validate_train_job(BASE)["compressor"] is None
    inner = {"type": "qsgd", "levels": 7, "bucket_size": 512}
    diana = validate_train_job(
        _job(compressor={"type": "diana", "alpha": 0.2, "compressor": inner})
    )
    assert repr(diana["compressor"]) == repr(Diana(QSGD(7, bucket_size=512), 0.2, diana["n"]))
    feedback = {"type": "error_feedback", "compressor": {"type": "topk", "k": 2}}
    fractional = validate_train_job(_job(compressor=feedback, scheme="fractional"))
    assert repr(fractional["compressor"]) == "ErrorFeedback(TopK(k=2))"
    cases = [
        (
            {"type": "topk", "k": 3},
            "",
            "Argument 'compressor' must .* not TopK\\(k=3\\): top-k is biased",
        ),
        ({"type": "pca"}, "compressor", "must be one of \\['qsgd', 'nuqsgd', 'alq', 'topk'"),
        (feedback, "", "coefficients that change with the arrived set"),
        ({"type": "diana", "alpha": 0.2}, "compressor", "Diana needs a 'compressor' section"),
        ({"type": "qsgd", "levels": 0}, "compressor", "'levels' must be at least 1, not 0"),
        ({"type": "qsgd"}, "compressor", "missing parameter 'levels' for QSGD"),
        ({"type": "nuqsgd", "levels": 2, "k": 1}, "compressor", "unknown parameter 'k'"),
    ]
    for section, path, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            validate_train_job(_job(compressor=section))
        assert info.value.path == path
    example = validate_train_job(yaml.safe_load(COMPRESSED_EXAMPLE.read_text()))
    quantiser = QSGD(7, bucket_size=128)
    assert repr(example["compressor"]) == repr(Diana(quantiser, 0.2, 8))
    assert repr(example["broadcast_compressor"]) == repr(quantiser)
    assert example["delays"].models[1].shared_uplink is True
    newton = {"type": "newton_cg"}
    with pytest.raises(ConfigError, match="'compressor' needs a first-order method"):
        validate_train_job(_job(compressor={"type": "qsgd", "levels": 2}, optimizer=newton))


@pytest.mark.parametrize(
    "changes",
    [dict(staleness=2), dict(method="stale"), dict(method="stale", staleness=-1)],
    ids=["without-stale", "without-staleness", "negative"],
)
def test_staleness_goes_exactly_with_method_stale(changes):
    with pytest.raises(ConfigError, match="Argument 'staleness' must") as info:
        validate_train_job(_job(**changes))
    assert info.value.path == ""


@pytest.mark.ray
def test_a_stale_job_runs_dsag_and_records_the_ages(ray_cluster, tmp_path, capsys):
    """Worker 3 is 0.3 s late every iteration: with k = 3 its gradient is reused, at most 2
    iterations old, and the history says the iterates are not exact."""
    job = _job(
        method="stale",
        staleness=2,
        k=3,
        iterations=8,
        progress=False,
        workers={"num_cpus": 0.25},
        delays={"type": "FixedDelay", "seconds": 0.3, "workers": [3]},
        output={"model": str(tmp_path / "m.npy"), "history": str(tmp_path / "h.json")},
    )
    path = tmp_path / "stale.yaml"
    path.write_text(yaml.safe_dump(job))
    assert main(["run", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    history = json.loads((tmp_path / "h.json").read_text())
    assert summary["method"] == "stale" and summary["exact"] is False
    assert history["config"]["staleness"] == 2
    ages = [record["values"]["staleness"] for record in history["records"]]
    assert len(ages) == 8 and max(ages) == 2  # worker 3's gradient, reused twice, then fetched
