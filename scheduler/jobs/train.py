"""The ``train`` job of ``coded run``: a YAML file in, a model and its history out.

    job: train
    n: 8
    delays: {type: Slowdown, factor: 5.0, workers: [3]}     # injected stragglers (optional)
    data:
      path: data.csv              # .npy (labels in a column), .npz (arrays X and y) or .csv
      label_column: -1
      # or: synthetic: {rows: 20000, features: 50, seed: 0}
    loss: {type: logistic}
    # or a PyTorch model (coded.nn.TorchLoss): {type: torch, loss_fn: cross_entropy,
    #     model: {type: mlp, inputs: 64, outputs: 10, hidden: [64]}}
    optimizer: {type: nesterov, lr: 0.5, momentum: 0.9}
    # or: {type: adam, lr: 1.0e-3, weight_decay: 1.0e-4}, {type: newton_cg, cg_tol: 0.5},
    #     {type: sketched_newton, sketch_size: 500}
    method: coded                 # coded | uncoded | ignore | stale | mds (newton_cg: mds)
    s: 1
    staleness: 2                  # method stale: a partition's gradient may be 2 iterations old
    compressor: {type: qsgd, levels: 7, bucket_size: 512}  # messages on the wire (optional)
    # qsgd | nuqsgd | alq, or {type: diana, alpha: 0.2, compressor: {type: qsgd, levels: 7}},
    #     {type: error_feedback, compressor: {type: topk, k: 1000}} (uncoded or fractional)
    broadcast_compressor: {type: qsgd, levels: 7, bucket_size: 512}  # the model, quantised
    iterations: 200
    target_gradient_norm: 1.0e-6  # stop there (optional; target_loss likewise)
    output:
      model: results/model.npy
      history: results/history.json
      plot: results/loss.png      # needs matplotlib

Every value is checked (with its key path in the message) before a worker starts: the data
are read (or drawn) and checked (numbers, finite, at least n rows, labels the loss accepts),
and the output paths must be writable (missing folders are created).

>>> config = validate_train_job({"job": "train", "data": {"synthetic": {"rows": 64, "features": 3}},
...                              "optimizer": {"type": "gd", "lr": 0.5}, "n": 4})
>>> X, y = config["arrays"]
>>> X.shape, sorted(set(y.tolist()))
((64, 3), [0.0, 1.0])
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from coded.compression import NUQSGD, QSGD, AdaptiveQuantizer, Diana, ErrorFeedback, TopK
from coded.losses import Loss, as_loss, loss_from_config
from coded.optim import optimizer_from_config

from ..training.history import plot
from ..training.plans import check_byzantine, make_plan
from ..training.train import train
from .data import check_array, check_outputs, data_file, output_file, read_archive, read_array
from .schema import (
    RUNTIME_FIELDS,
    ConfigError,
    Field,
    at_least,
    errors_at,
    runtime_options,
    typed_section,
    validate,
    validate_runtime_fields,
)

__all__ = [
    "TRAIN_SCHEMA",
    "validate_train_job",
    "compressor_from_config",
    "load_data",
    "synthetic_data",
    "run_train_job",
]


_SYNTHETIC = {
    "rows": Field(int, check=at_least(1), doc="samples"),
    "features": Field(int, check=at_least(1), doc="columns of X"),
    "classes": Field(int, 3, check=at_least(2), doc="classes (softmax)"),
    "noise": Field(float, 0.1, check=at_least(0), doc="label noise"),
    "seed": Field(int, 0, check=at_least(0)),
}

TRAIN_SCHEMA = {
    "job": Field(("train",), doc="the job type"),
    **RUNTIME_FIELDS,  # n: default 8; deadline: seconds an iteration may take
    "data": Field(
        {
            "path": Field(str, None),
            "label_column": Field(int, -1),
            "x_key": Field(str, "X"),
            "y_key": Field(str, "y"),
            "synthetic": Field(_SYNTHETIC, None),
        },
        doc="a data file or synthetic data",
    ),
    "loss": Field(dict, {"type": "logistic"}, doc="loss section (coded.losses)"),
    "optimizer": Field(dict, doc="optimizer section (coded.optim), e.g. {type: gd, lr: 0.5}"),
    "method": Field(
        ("coded", "uncoded", "ignore", "stale", "mds"),
        None,
        doc="default: the optimizer's first method (mds for newton_cg), else coded",
    ),
    "s": Field(int, 1, check=at_least(0), doc="stragglers tolerated"),
    "scheme": Field(("cyclic", "fractional"), "cyclic"),
    "k": Field(int, None, doc="responses waited for by ignore, stale and mds (default n - s)"),
    "staleness": Field(
        int, None, doc="method stale: the most iterations old a partition's gradient may be"
    ),
    "compressor": Field(
        dict,
        None,
        doc="messages on the wire, e.g. {type: qsgd, levels: 7} (qsgd, nuqsgd, alq, topk, "
        "diana, error_feedback)",
    ),
    "compression_seed": Field(int, 0, check=at_least(0), doc="seed of the quantisers"),
    "broadcast_compressor": Field(
        dict, None, doc="the model's broadcast quantised, e.g. {type: qsgd, levels: 7}"
    ),
    "iterations": Field(int, 100, check=at_least(1)),
    "target_loss": Field(float, None, doc="stop once the mean loss is at most this"),
    "target_gradient_norm": Field(
        float, None, check=at_least(0), doc="stop once the gradient's norm is at most this"
    ),
    "progress": Field(bool, None, doc="progress bar: default shown on runs longer than 3 s"),
    "output": Field(
        {
            "model": Field(str, "results/train/model.npy"),
            "history": Field(str, "results/train/history.json"),
            "plot": Field(str, None),
        },
        {},
    ),
}


def validate_train_job(data: Mapping) -> dict:
    """Check a train job (a parsed YAML mapping); return it with defaults and built sections.

    ``loss``, ``optimizer`` and ``delays`` come back as objects, the checked data as
    ``arrays``, ``(X, y)``; errors name the key path.
    """
    config = validate(data, TRAIN_SCHEMA)
    config["output"] = config["output"] or validate({}, TRAIN_SCHEMA["output"].kind, "output")
    data_section = config["data"]
    if (data_section["path"] is None) == (data_section["synthetic"] is None):
        raise ConfigError(
            "data", "give exactly one of 'path' (a .npy, .npz or .csv file) and 'synthetic'"
        )
    config["loss"] = typed_section(config["loss"], "loss", loss_from_config)
    config["optimizer"] = typed_section(config["optimizer"], "optimizer", optimizer_from_config)
    config["n"] = 8 if config["n"] is None else config["n"]
    if config["method"] is None:
        methods = config["optimizer"].methods
        config["method"] = methods[0] if methods else "coded"
    for key in ("compressor", "broadcast_compressor"):
        if config[key] is not None:
            config[key] = typed_section(
                config[key], key, lambda section: compressor_from_config(section, n=config["n"])
            )
    validate_runtime_fields(config)
    with errors_at(""):
        plan = make_plan(
            *(config[key] for key in ("method", "loss", "optimizer", "n", "s", "scheme", "k")),
            config["compressor"],
            config["compression_seed"],
            config["broadcast_compressor"],
            config["staleness"],
        )
    with errors_at("byzantine"):
        check_byzantine(plan, config["n"], config["byzantine"])
    config["arrays"] = _checked_data(data_section, config["loss"], config["n"])
    check_outputs(config["output"])
    return config


_COMPRESSORS = {
    "qsgd": QSGD,
    "nuqsgd": NUQSGD,
    "alq": AdaptiveQuantizer,
    "topk": TopK,
    "diana": Diana,
    "error_feedback": ErrorFeedback,
}


def compressor_from_config(config: Mapping, n: int | None = None):
    """A compressor from a job's ``compressor:`` section: ``{type: qsgd | nuqsgd | alq,
    levels: s}`` (``bucket_size`` optional; ``alq`` also takes ``refit_every``),
    ``{type: topk, k}``, or a wrapper of another section: ``{type: diana, alpha,
    compressor: {...}}`` (its ``n`` is the job's) and ``{type: error_feedback,
    compressor: {...}}``.

    >>> compressor_from_config({"type": "alq", "levels": 3, "refit_every": 5})
    AdaptiveQuantizer(levels=3, refit_every=5)
    >>> compressor_from_config({"type": "diana", "alpha": 0.2,
    ...                         "compressor": {"type": "qsgd", "levels": 7}}, n=8)
    Diana(QSGD(levels=7), alpha=0.2, n=8)
    >>> compressor_from_config({"type": "qsgd", "bits": 4})
    Traceback (most recent call last):
    ...
    ValueError: unknown parameter 'bits' for QSGD; expected one of ['levels', 'bucket_size']
    """
    kind = config.get("type")
    if kind not in _COMPRESSORS:
        raise ValueError(
            f"Argument 'compressor' must be one of {list(_COMPRESSORS)}, not {kind!r}."
        )
    cls, params = _COMPRESSORS[kind], {k: v for k, v in config.items() if k != "type"}
    if cls in (Diana, ErrorFeedback):
        inner = params.get("compressor")
        if not isinstance(inner, Mapping):
            raise ValueError(f"{cls.__name__} needs a 'compressor' section, not {inner!r}")
        params["compressor"] = compressor_from_config(inner)
        if cls is Diana:
            params.setdefault("n", n)
    signature = inspect.signature(cls).parameters
    for key in params:
        if key not in signature:
            raise ValueError(
                f"unknown parameter {key!r} for {cls.__name__}; expected one of {list(signature)}"
            )
    for key, parameter in signature.items():
        if parameter.default is inspect.Parameter.empty and key not in params:
            raise ValueError(f"missing parameter {key!r} for {cls.__name__}")
    return cls(**params)


def _checked_data(section: Mapping, loss: Loss, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`load_data`, with at least ``n`` rows (one partition per worker) and labels ``loss``
    accepts."""
    synthetic = section["synthetic"]
    if synthetic is not None and synthetic["rows"] < n:
        raise ConfigError(
            "data.synthetic.rows",
            f"must be at least n={n} (one partition per worker), not {synthetic['rows']}",
        )
    X, y = load_data(section, loss)
    if X.shape[0] < n:
        raise ConfigError(
            "data.path",
            f"must hold at least n={n} rows (one partition per worker), not {X.shape[0]}",
        )
    with errors_at("data.path" if synthetic is None else "data.synthetic"):
        return loss.validate(X, y)


def load_data(section: Mapping, loss: Loss | str = "logistic") -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from a job's ``data:`` section (already validated), read and checked by
    :func:`~coded.scheduler.jobs.data.check_array` (numbers, finite, not empty).

    * ``.npy``: one 2-D array; ``label_column`` (default the last) is ``y``, the rest ``X``.
    * ``.npz``: arrays named ``x_key`` and ``y_key`` (default ``X`` and ``y``).
    * ``.csv``: numbers separated by commas, an optional header line, labels in ``label_column``.
    * ``synthetic``: :func:`synthetic_data` for the loss.
    """
    if section.get("synthetic") is not None:
        return synthetic_data(loss, **section["synthetic"])
    path = data_file(section["path"], "data.path", (".npy", ".npz", ".csv"))
    if path.suffix.lower() != ".npz":
        table = read_array(path, "data.path")
        table = check_array(table, "data.path", path.name, purpose=" (features and a label)")
        return _split_label(table, section["label_column"], path)
    arrays = read_archive(path, "data.path")
    for key in ("x_key", "y_key"):
        if section[key] not in arrays:
            raise ConfigError(
                f"data.{key}", f"{path} has no array {section[key]!r}; it holds {sorted(arrays)}"
            )
    X, y = arrays[section["x_key"]], arrays[section["y_key"]]
    X = check_array(X, "data.path", f"{section['x_key']!r} in {path.name}")
    return X, check_array(y, "data.path", f"{section['y_key']!r} in {path.name}", ndims=(1, 2))


def _split_label(table: np.ndarray, column: int, path):
    if table.shape[1] < 2:
        raise ConfigError(
            "data.path",
            f"{path} must hold at least two columns (features and a label), "
            f"not shape {table.shape}",
        )
    if not -table.shape[1] <= column < table.shape[1]:
        raise ConfigError(
            "data.label_column", f"must index one of the {table.shape[1]} columns, got {column}"
        )
    column %= table.shape[1]
    return np.delete(table, column, axis=1), table[:, column]


def synthetic_data(
    loss: Loss | str, rows: int, features: int, classes: int = 3, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features and labels from a random linear model, fit for ``loss``.

    Least squares: ``y = X w + noise``; logistic: ``y = [X w + noise > 0]``; softmax: the
    class with the largest noisy score.

    >>> X, y = synthetic_data("softmax", rows=5, features=2, classes=4)
    >>> X.shape, y.dtype, bool(y.max() < 4)
    ((5, 2), dtype('float64'), True)
    """
    loss = as_loss(loss)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    if loss.name == "softmax":
        classes = loss.classes or classes
        scores = X @ rng.standard_normal((features, classes)) + noise * rng.standard_normal(
            (rows, classes)
        )
        return X, np.argmax(scores, axis=1).astype(float)
    scores = X @ rng.standard_normal(features) + noise * rng.standard_normal(rows)
    return X, (scores > 0).astype(float) if loss.name == "logistic" else scores


def run_train_job(config: Mapping) -> dict:
    """Run a validated train job on its checked ``arrays``: train, write the model (.npy) and
    history (JSON), maybe a plot.

    Returns a summary (final loss, wall time, iterations, paths written).
    """
    X, y = config["arrays"]
    result = train(
        X,
        y,
        loss=config["loss"],
        optimizer=config["optimizer"],
        iterations=config["iterations"],
        method=config["method"],
        s=config["s"],
        scheme=config["scheme"],
        k=config["k"],
        compressor=config["compressor"],
        compression_seed=config["compression_seed"],
        broadcast_compressor=config["broadcast_compressor"],
        staleness=config["staleness"],
        target_loss=config["target_loss"],
        target_gradient_norm=config["target_gradient_norm"],
        n=config["n"],
        progress=config["progress"],
        **runtime_options(config),
    )
    output = config["output"]
    np.save(output_file(output["model"]), result.weights)
    result.history.to_json(output_file(output["history"]))
    written = [output["model"], output["history"]]
    if output["plot"] is not None:
        try:
            plot([result.history], output_file(output["plot"]))
            written.append(output["plot"])
        except ImportError as exc:
            print(f"coded run: no plot ({exc})")
    history = result.history
    return {
        "method": history.method,
        "exact": history.exact,
        "iterations": len(history.records),
        "final_loss": float(history.losses[-1]),
        "seconds": float(history.times[-1]),
        "written": written,
    }
