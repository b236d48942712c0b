"""PyTorch models trained with gradient codes: exact iterates, per-partition gradients,
checks before dispatch, a YAML job, and a Ray run."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")

import coded  # noqa: E402
from coded.nn import TorchLoss, mlp  # noqa: E402
from coded.optim import SGD, Adam, Nesterov  # noqa: E402
from coded.scheduler.jobs.schema import ConfigError  # noqa: E402
from coded.scheduler.jobs.train import run_train_job, validate_train_job  # noqa: E402
from coded.workers.delays import FixedDelay  # noqa: E402

from .runs import train_local  # noqa: E402


def _data(rows=60, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    y = np.argmax(X @ rng.standard_normal((features, classes)), axis=1)
    return X, y


def _loss(dtype="float64", hidden=(8,)):
    return TorchLoss(mlp(5, 3, hidden=hidden, dtype=dtype, seed=1), "cross_entropy")


def _relative(a, b):
    return float(np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)))


@pytest.mark.parametrize(
    "dtype, optimizer, tolerance",
    [
        ("float64", Nesterov(0.5, 0.9, weight_decay=1e-3), 1e-10),
        ("float64", Adam(0.05, weight_decay=1e-2), 1e-10),
        ("float64", SGD(0.5, batch_size=4, seed=2, momentum=0.5), 1e-10),
        ("float32", Nesterov(0.5, 0.9), 1e-5),
    ],
    ids=["float64-nesterov", "float64-adamw", "float64-sgd", "float32-nesterov"],
)
def test_coded_iterates_equal_uncoded_ones_with_a_straggler_cancelled(dtype, optimizer, tolerance):
    X, y = _data()
    kwargs = dict(loss=_loss(dtype), optimizer=optimizer, iterations=12)
    slow = FixedDelay(0.3, workers=[2])
    coded_run, coded_iterates = train_local(X, y, delays=slow, method="coded", s=1, **kwargs)
    uncoded_run, uncoded_iterates = train_local(X, y, method="uncoded", **kwargs)
    assert _relative(coded_iterates, uncoded_iterates) < tolerance
    assert all(2 not in record.workers for record in coded_run.history.records)
    assert coded_run.history.losses[-1] < coded_run.history.losses[0]
    assert coded_run.history.config["loss"]["model"] == "torch.nn.modules.container:Sequential"
    # messages travel in the model's dtype: (d + 1) floats of 4 or 8 bytes from each worker
    d, itemsize = coded_iterates.shape[1], np.dtype(dtype).itemsize
    arrived = coded_run.history.series("bytes_up") / ((d + 1) * itemsize)
    np.testing.assert_array_equal(arrived, arrived.round())
    assert np.all((arrived >= 5) & (arrived <= 6))  # n = 6: float64 would count 10-12


def test_partition_gradients_add_up_to_autograd_on_the_full_batch():
    X, y = _data(rows=30)
    loss = _loss()
    X, y = loss.validate(X, y)
    w = loss.init_weights(X, y) + 0.1
    parts = np.array_split(np.arange(len(X)), 4)
    summed = sum(loss.value_and_gradient(w, X[p], y[p])[1] for p in parts)

    module = mlp(5, 3, hidden=(8,), seed=1)
    torch.nn.utils.vector_to_parameters(torch.tensor(w), module.parameters())
    value = torch.nn.functional.cross_entropy(
        module(torch.tensor(X)), torch.tensor(y), reduction="sum"
    )
    value.backward()
    expected = torch.nn.utils.parameters_to_vector(p.grad for p in module.parameters())
    np.testing.assert_allclose(summed, expected.numpy(), rtol=1e-12, atol=1e-12)
    assert loss.value(w, X, y) == pytest.approx(value.item(), rel=1e-12)


class _IntegerParameter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(5, 3)
        self.counts = torch.nn.Parameter(torch.zeros(2, dtype=torch.int64), requires_grad=False)

    def forward(self, x):
        return self.linear(x)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (
            lambda: TorchLoss(_IntegerParameter()),
            ValueError,
            r"Argument 'model' must have parameters of one real float dtype .*int64",
        ),
        (
            lambda: TorchLoss(torch.nn.Linear(5, 3, dtype=torch.complex128)),
            ValueError,
            r"Argument 'model' must have parameters of one real float dtype .*complex128",
        ),
        (
            lambda: TorchLoss(torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Dropout())),
            ValueError,
            "Argument 'model' must compute each row's output from that row alone.*Dropout",
        ),
        (lambda: TorchLoss("mlp"), TypeError, "Argument 'model' must be a torch.nn.Module"),
        (
            lambda: coded.train(
                *_data(), loss=TorchLoss(mlp(5, 3), lambda out, y: (out - 1) ** 2), lr=0.1, n=4
            ),
            ValueError,
            r"Argument 'loss_fn' must return a scalar tensor \(a sum over rows\), not a tensor "
            r"of shape \(1, 3\)\.",
        ),
        (
            lambda: coded.train(*_data(), loss=TorchLoss(mlp(5, 3), "module:missing"), lr=0.1, n=4),
            ValueError,
            "loss_fn",
        ),
        (
            lambda: coded.train(
                *_data(),
                loss=TorchLoss(mlp(5, 3), torch.nn.CrossEntropyLoss()),  # the mean
                lr=0.1,
                n=4,
            ),
            ValueError,
            r"Argument 'loss_fn' must sum over rows \(reduction='sum'\)",
        ),
        (
            lambda: coded.train(*_data(), loss=TorchLoss(mlp(4, 3)), lr=0.1, n=4),
            ValueError,
            r"Argument 'model' failed on the first rows of 'X' \(an array of shape \(2, 5\)",
        ),
        (
            lambda: coded.train(X=_data()[0], y=np.full(60, 0.5), loss=_loss(), lr=0.1, n=4),
            ValueError,
            "Argument 'y' must be a vector of integer class labels",
        ),
    ],
    ids=[
        "integer-parameter",
        "complex",
        "dropout",
        "not-a-module",
        "non-scalar-loss",
        "unknown-loss",
        "mean-loss",
        "wrong-inputs",
        "fractional-labels",
    ],
)
def test_bad_models_and_losses_are_refused_before_any_worker_starts(build, error, match):
    with pytest.raises(error, match=match):
        build()  # coded.train with n=4 and no runtime would start Ray workers: it never does


def test_adam_matches_torch_adamw_on_the_same_gradients():
    rng = np.random.default_rng(0)
    gradients = rng.standard_normal((6, 4))
    w0 = rng.standard_normal(4)
    ours = Adam(0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)
    w, state = w0.copy(), ours.init(w0)
    parameter = torch.nn.Parameter(torch.tensor(w0))
    theirs = torch.optim.AdamW([parameter], 0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)
    for g in gradients:
        w, state = ours.step(w, g, state)
        parameter.grad = torch.tensor(g)
        theirs.step()
        np.testing.assert_allclose(w, parameter.detach().numpy(), rtol=1e-13)
    assert Adam.from_config(ours.get_config()) == ours
    assert coded.optim.optimizer_from_config({"type": "adam", "lr": 1e-3}) == Adam()


def test_l2_weight_decay_matches_torch_sgd():
    w0, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    ours = Nesterov(0.1, 0.9, weight_decay=0.1)
    parameter = torch.nn.Parameter(torch.tensor(w0))
    theirs = torch.optim.SGD([parameter], 0.1, momentum=0.9, weight_decay=0.1)
    w, state = ours.step(w0, g, ours.init(w0))
    parameter.grad = torch.tensor(g)
    theirs.step()
    np.testing.assert_allclose(w, parameter.detach().numpy(), rtol=1e-14)


def _job(tmp_path):
    X, y = _data(rows=48)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    return yaml.safe_load(
        f"""
        job: train
        n: 4
        delays: {{type: FixedDelay, seconds: 0.5, workers: [1]}}
        data: {{path: {tmp_path / "data.npz"}}}
        loss:
          type: torch
          model: {{type: mlp, inputs: 5, outputs: 3, hidden: [8], seed: 0}}
          loss_fn: cross_entropy
        optimizer: {{type: adam, lr: 0.05, weight_decay: 1.0e-4}}
        iterations: 4
        progress: false
        output:
          model: {tmp_path / "model.npy"}
          history: {tmp_path / "history.json"}
        """
    )


def test_a_torch_job_from_yaml_validates(tmp_path):
    job = _job(tmp_path)
    config = validate_train_job(job)
    loss, (X, y) = config["loss"], config["arrays"]
    assert isinstance(loss, TorchLoss) and loss.get_config()["model"]["hidden"] == [8]
    assert config["optimizer"] == Adam(0.05, weight_decay=1e-4)
    assert X.dtype == np.float64 and y.dtype == np.int64
    bad = {**job, "loss": {**job["loss"], "model": {"type": "mlp", "inputs": 4, "outputs": 3}}}
    with pytest.raises(ConfigError, match=r"data.path: Argument 'model' failed on the first rows"):
        validate_train_job(bad)
    bad = {**job, "loss": {**job["loss"], "model": {"type": "cnn"}}}
    with pytest.raises(
        ConfigError, match=r"loss: Argument 'model.type' must be one of \['mlp'\] or"
    ):
        validate_train_job(bad)


def test_importing_coded_and_the_trainer_does_not_import_torch():
    script = (
        "import sys, coded, coded.nn, coded.scheduler.training.train, coded.scheduler.jobs.train;"
        " coded.TorchLoss; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.ray
def test_a_torch_job_trains_on_ray_workers_as_in_process(ray_cluster, tmp_path):
    config = validate_train_job(_job(tmp_path))
    summary = run_train_job(config)
    assert summary["exact"] and summary["iterations"] == 4
    X, y = config["arrays"]
    local, _ = train_local(
        X, y, n=4, s=1, loss=config["loss"], optimizer=config["optimizer"], iterations=4
    )
    np.testing.assert_allclose(np.load(tmp_path / "model.npy"), local.weights, rtol=1e-10)
    history = json.loads((tmp_path / "history.json").read_text())
    assert all(1 not in record["workers"] for record in history["records"])


def test_a_model_config_round_trips_and_builds_the_same_module():
    config = {"type": "torch", "model": {"type": "mlp", "inputs": 5, "outputs": 3, "seed": 4}}
    loss = coded.losses.loss_from_config(config)
    again = coded.losses.loss_from_config(loss.get_config())
    assert again == loss and loss.get_config()["loss_fn"] == "cross_entropy"
    X, y = loss.validate(*_data(rows=8))
    np.testing.assert_array_equal(loss.init_weights(X, y), again.init_weights(X, y))
    with pytest.raises(ValueError, match="Argument 'activation' must be one of"):
        mlp(5, 3, activation="gelu")


def test_a_cnn_takes_images_as_rows():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 2 * 2, 3)
    ).double()
    loss = TorchLoss(model, "cross_entropy")
    X, y = loss.validate(np.random.default_rng(0).random((12, 1, 4, 4)), np.arange(12) % 3)
    result, _ = train_local(X, y, n=4, loss=loss, optimizer=Adam(0.05), iterations=5)
    assert result.weights.shape == (2 * 9 + 2 + 8 * 3 + 3,)
    assert result.history.losses[-1] < result.history.losses[0]
