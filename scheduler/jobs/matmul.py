"""The ``matmul`` job of ``coded run``: a YAML file in, ``A @ B`` and per-round metrics out.

    job: matmul
    n: 8
    code: {type: MDSCode, n: 8, k: 6}         # optional: default code for n; Replication too
    workers: {num_cpus: 0.25, num_gpus: 0}    # resources of each worker actor (optional)
    delays: {type: FixedDelay, seconds: 2.0, workers: [0, 3]}   # injected stragglers (optional)
    seed: 0
    deadline: 60
    data:
      A: {shape: [4000, 1000], seed: 0}       # random operand, or {path: A.npy}
      B: {shape: [1000, 32], seed: 1}
    rounds: 10                                # products A @ B, shards of A placed once
    output:
      result: results/C.npy
      metrics: results/metrics.json

Every value is checked, with its key path in the message, before a worker starts.

>>> config = validate_matmul_job({"job": "matmul", "code": {"type": "MDSCode", "n": 4, "k": 2},
...                               "data": {"A": {"shape": [6, 3]}, "B": {"shape": [3, 2]}}})
>>> config["code"], [x.shape for x in load_operands(config)]
(MDSCode(n=4, k=2, systematic=False, field='real'), [(6, 3), (3, 2)])
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from coded import gf_matmul

from ..metrics import summarize
from ..runtime import check_product, default_code, operand_count
from .schema import (
    RUNTIME_FIELDS,
    ConfigError,
    Field,
    at_least,
    code_field,
    runtime_options,
    validate,
    validate_runtime_fields,
)

__all__ = ["MATMUL_SCHEMA", "validate_matmul_job", "load_operands", "run_matmul_job"]


def _shape(value):
    if not 1 <= len(value) <= 2 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value
    ):
        return f"must be a list of 1 or 2 positive integers, got {value!r}"
    return None


_OPERAND = {
    "shape": Field(list, None, check=_shape, doc="random operand of this shape"),
    "seed": Field(int, 0, check=at_least(0)),
    "dtype": Field(("float64", "float32"), "float64", doc="random real operands"),
    "path": Field(str, None, doc="a .npy file"),
}

MATMUL_SCHEMA = {
    "job": Field(("matmul",), doc="the job type"),
    **RUNTIME_FIELDS,  # n: default the code's n, else 8
    "code": Field(dict, None, doc="code section, e.g. {type: MDSCode, n: 8, k: 6}"),
    "data": Field({"A": Field(_OPERAND), "B": Field(_OPERAND)}),
    "rounds": Field(int, 1, check=at_least(1), doc="products A @ B, A placed once"),
    "output": Field({"result": Field(str, None), "metrics": Field(str, None)}, {}),
}


def validate_matmul_job(data: Mapping) -> dict:
    """Check a matmul job (a parsed YAML mapping); return it with defaults and built sections.

    ``code`` and ``delays`` come back as objects; errors name the key path.
    """
    config = validate(data, MATMUL_SCHEMA)
    config["output"] = config["output"] or validate({}, MATMUL_SCHEMA["output"].kind, "output")
    if config["code"] is not None:
        config["code"] = code_field(config["code"], "code")
        if config["n"] is not None and config["n"] != config["code"].n:
            raise ConfigError("code.n", f"must equal n={config['n']}, got {config['code'].n}")
        config["n"] = config["code"].n
    else:
        config["n"] = config["n"] if config["n"] is not None else 8
        config["code"] = default_code(config["n"])
    validate_runtime_fields(config)
    for name in ("A", "B"):
        section = config["data"][name]
        if (section["shape"] is None) == (section["path"] is None):
            raise ConfigError(
                f"data.{name}", "give exactly one of 'shape' (random data) and 'path' (.npy)"
            )
        if section["path"] is not None and not Path(section["path"]).is_file():
            raise ConfigError(f"data.{name}.path", f"file {section['path']!r} does not exist")
    shapes = [config["data"][name]["shape"] for name in ("A", "B")]
    if None not in shapes:
        try:
            check_product(np.empty(shapes[0]), np.empty(shapes[1]))
        except ValueError as exc:
            raise ConfigError("data.B.shape", str(exc)) from exc
    return config


def load_operands(config: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` from a validated job: read from .npy, or random (integers mod p over GF(p))."""
    field = config["code"].field
    out = []
    for name in ("A", "B"):
        section = config["data"][name]
        if section["path"] is not None:
            out.append(np.load(section["path"]))
            continue
        rng = np.random.default_rng(section["seed"])
        if field.exact:
            out.append(rng.integers(0, field.p, section["shape"]))
        else:
            out.append(rng.standard_normal(section["shape"]).astype(section["dtype"]))
    return out[0], out[1]


def run_matmul_job(config: Mapping) -> dict:
    """Run a validated matmul job; write the result (.npy) and metrics (JSON); return a summary."""
    from ..runtime import Runtime

    A, B = load_operands(config)
    check_product(A, B)
    code = config["code"]
    start = time.perf_counter()
    with Runtime(config["n"], **runtime_options(config)) as rt:
        started = time.perf_counter() - start
        if operand_count(code) == 1:
            op = rt.place(A, code=code)
            for _ in range(config["rounds"]):
                C = op @ B
        else:
            for _ in range(config["rounds"]):
                C = rt.matmul(A, B, code=code)
        history = rt.history
    expected = gf_matmul(A, B, code.field.p) if code.field.exact else A @ B
    summary = {
        "code": repr(code),
        "n": config["n"],
        "rounds": config["rounds"],
        "start_s": started,
        "latency": summarize(history),
        "relative_error": float(
            np.linalg.norm(C - expected) / max(np.linalg.norm(expected), 1e-300)
        ),
        "written": [],
    }
    output = config["output"]
    if output["result"] is not None:
        Path(output["result"]).parent.mkdir(parents=True, exist_ok=True)
        np.save(output["result"], C)
        summary["written"].append(output["result"])
    if output["metrics"] is not None:
        Path(output["metrics"]).parent.mkdir(parents=True, exist_ok=True)
        rounds = [m.to_dict() for m in history]
        Path(output["metrics"]).write_text(
            json.dumps({"summary": summary, "rounds": rounds}, indent=1)
        )
        summary["written"].append(output["metrics"])
    return summary
