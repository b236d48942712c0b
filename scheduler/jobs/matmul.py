"""The ``matmul`` job of ``coded run``: a YAML file in, ``A @ B`` and per-round metrics out.

    job: matmul
    n: 8
    code: {type: MDSCode, n: 8, k: 6}         # optional: default code for n; Replication too
    workers: {num_cpus: 0.25, num_gpus: 0}    # resources of each worker actor (optional)
    delays: {type: FixedDelay, seconds: 2.0, workers: [0, 3]}   # injected stragglers (optional)
    seed: 0
    deadline: 60
    byzantine: 0                              # wrong answers each round corrects (optional)
    adapt: {threshold: 2.0, horizon: 10}      # MDS only: re-choose k while workers stay slow
    data:
      A: {shape: [4000, 1000], seed: 0}       # random operand, or {path: A.npy}
      B: {shape: [1000, 32], seed: 1}
    rounds: 10                                # products A @ B, shards of A placed once
    output:
      result: results/C.npy
      metrics: results/metrics.json

Every value is checked, with its key path in the message, before a worker starts: the
operands are read (or drawn) and checked (numbers, finite, in the code's field, shapes that
multiply), and the output paths must be writable (missing folders are created).

>>> config = validate_matmul_job({"job": "matmul", "code": {"type": "MDSCode", "n": 4, "k": 2},
...                               "data": {"A": {"shape": [6, 3]}, "B": {"shape": [3, 2]}}})
>>> config["code"], [x.shape for x in config["arrays"]]
(MDSCode(n=4, k=2, systematic=False, field='real'), [(6, 3), (3, 2)])
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import fields

import numpy as np

from coded import gf_matmul

from ..adapt import check_adapt
from ..metrics import summarize
from ..recoding import Adapt
from ..runtime import check_product, default_code, operand_count
from .data import OPERAND, check_outputs, load_operand, operand_source, write_outputs
from .schema import (
    RUNTIME_FIELDS,
    ConfigError,
    Field,
    at_least,
    code_field,
    errors_at,
    runtime_options,
    validate,
    validate_runtime_fields,
)

__all__ = ["MATMUL_SCHEMA", "validate_matmul_job", "load_operands", "run_matmul_job"]


MATMUL_SCHEMA = {
    "job": Field(("matmul",), doc="the job type"),
    **RUNTIME_FIELDS,  # n: default the code's n, else 8
    "code": Field(dict, None, doc="code section, e.g. {type: MDSCode, n: 8, k: 6}"),
    "data": Field({"A": Field(OPERAND), "B": Field(OPERAND)}),
    "rounds": Field(int, 1, check=at_least(1), doc="products A @ B, A placed once"),
    "adapt": Field(
        {f.name: Field(type(f.default), f.default) for f in fields(Adapt)},
        None,
        doc="re-choose an MDS code's k while workers stay slow (coded.scheduler.recoding.Adapt)",
    ),
    "output": Field({"result": Field(str, None), "metrics": Field(str, None)}, {}),
}


def validate_matmul_job(data: Mapping) -> dict:
    """Check a matmul job (a parsed YAML mapping); return it with defaults and built sections.

    ``code``, ``delays`` and ``adapt`` come back as objects; errors name the key path.
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
    code, byzantine = config["code"], config["byzantine"]
    if code.recovery_threshold + 2 * byzantine > config["n"]:
        raise ConfigError(
            "byzantine",
            f"must leave {code!r} enough workers to correct: recovery threshold "
            f"{code.recovery_threshold} + 2·{byzantine} > n={config['n']}",
        )
    if config["adapt"] is not None:
        with errors_at("adapt"):
            config["adapt"] = check_adapt(Adapt(**config["adapt"]), code)
    config["arrays"] = load_operands(config)
    check_outputs(config["output"])
    return config


def load_operands(config: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` of a job whose other sections are validated, read from .npy or random
    (integers mod p over GF(p)), and checked: numbers, finite, in the code's field, A 2-D,
    B 1-D or 2-D (2-D for codes that encode B too), B's rows A's columns."""
    code = config["code"]
    A = load_operand(config["data"]["A"], "A", code.field)
    if operand_count(code) == 2:
        purpose = f" for {type(code).__name__} (it encodes A and B)"
        B = load_operand(config["data"]["B"], "B", code.field, (2,), purpose)
    else:
        B = load_operand(config["data"]["B"], "B", code.field, (1, 2))
    with errors_at(operand_source(config["data"]["B"], "B")):
        check_product(A, B)
    return A, B


def run_matmul_job(config: Mapping) -> dict:
    """Run a validated matmul job on its checked ``arrays``; write the result (.npy) and
    metrics (JSON); return a summary."""
    from ..progress import progress
    from ..runtime import Runtime

    A, B = config["arrays"]
    code = config["code"]
    start = time.perf_counter()
    with Runtime(config["n"], **runtime_options(config)) as rt:
        started = time.perf_counter() - start
        if operand_count(code) == 1:
            op = rt.place(A, code=code, adapt=config["adapt"])
            for _ in progress(range(config["rounds"]), desc="rounds", unit="round"):
                C = op @ B
        else:
            for _ in progress(range(config["rounds"]), desc="rounds", unit="round"):
                C = rt.matmul(A, B, code=code)
        history, ray_used, decisions = rt.history, rt.ray, rt.decisions
    expected = gf_matmul(A, B, code.field.p) if code.field.exact else A @ B
    summary = {
        "code": repr(code),
        "n": config["n"],
        "rounds": config["rounds"],
        "start_s": started,
        "ray": ray_used,
        "latency": summarize(history),
        "decisions": [decision.to_dict() for decision in decisions],
        "relative_error": float(
            np.linalg.norm(C - expected) / max(np.linalg.norm(expected), 1e-300)
        ),
    }
    return write_outputs(config["output"], summary, C, history)
