"""The ``map`` job of ``coded run``: ``f`` of each of k data blocks, by coded workers.

    job: map
    code: {type: LagrangeCode, n: 12, k: 5, degree: 2, field: 2147483647}
    f: mymodule:gradient                   # 'module:function', imported on every worker
    data:
      X: {path: X.npy}                     # or {shape: [5000, 21], seed: 0}: k row blocks
      args: [{path: w.npy}]                # f's extra arguments (optional), broadcast
    rounds: 1                              # rounds on the same resident blocks
    verify: 0                              # extra answers that check an exact code's result
    policy: {responses: 10, wait: 0.5}     # approximate codes (BerrutCode) only
    delays: {type: Slowdown, factor: 5, workers: [0, 7]}
    output:
      result: results/fX.npy               # the k results, stacked
      metrics: results/metrics.json

``X``'s rows are split into k blocks of equal size (its row count must be a multiple of
k); worker i holds the code's share of them and applies ``f(share, *args)``. Every value is
checked, with its key path, before a worker starts: ``f`` must import, the code must be
one whose workers apply functions, the data must be numbers in the code's field.

>>> config = validate_map_job({"job": "map", "f": "numpy:square",
...     "code": {"type": "LagrangeCode", "n": 5, "k": 2, "degree": 2},
...     "data": {"X": {"shape": [4, 3]}}})
>>> [block.shape for block in config["blocks"]], config["policy"]
([(2, 3), (2, 3)], None)
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from ..mapping import check_function, check_map_code, check_verify
from ..metrics import summarize
from ..policy import Approximate, check_policy
from .data import OPERAND, check_outputs, load_operand, write_outputs
from .schema import (
    RUNTIME_FIELDS,
    ConfigError,
    Field,
    at_least,
    code_field,
    errors_at,
    positive,
    runtime_options,
    validate,
    validate_runtime_fields,
)

__all__ = ["MAP_SCHEMA", "validate_map_job", "run_map_job"]

MAP_SCHEMA = {
    "job": Field(("map",), doc="the job type"),
    **RUNTIME_FIELDS,  # n: default the code's n
    "code": Field(dict, doc="a code whose workers apply f: LagrangeCode or BerrutCode"),
    "f": Field(str, doc="'module:function', called as f(share, *args) on every worker"),
    "data": Field({"X": Field(OPERAND), "args": Field(list, [], doc="f's extra arguments")}),
    "rounds": Field(int, 1, check=at_least(1), doc="rounds on the same resident blocks"),
    "verify": Field(int, 0, check=at_least(0), doc="extra answers that check the result"),
    "policy": Field(
        {
            "responses": Field(int, None, check=at_least(1)),
            "wait": Field(float, None, check=positive),
            "tolerance": Field(float, None, check=positive),
        },
        None,
        doc="when an approximate code's round stops",
    ),
    "output": Field({"result": Field(str, None), "metrics": Field(str, None)}, {}),
}


def validate_map_job(data: Mapping) -> dict:
    """Check a map job (a parsed YAML mapping); return it with defaults, the built code,
    delays and policy, the k data ``blocks`` and f's ``args``. Errors name the key path."""
    config = validate(data, MAP_SCHEMA)
    config["output"] = config["output"] or validate({}, MAP_SCHEMA["output"].kind, "output")
    code = config["code"] = code_field(config["code"], "code")
    if config["n"] is not None and config["n"] != code.n:
        raise ConfigError("code.n", f"must equal n={config['n']}, got {code.n}")
    config["n"] = code.n
    validate_runtime_fields(config)
    with errors_at("code"):
        check_map_code(code, byzantine=config["byzantine"])
    with errors_at("f"):
        check_function(config["f"])
    with errors_at("verify"):
        check_verify(config["verify"], code, config["byzantine"])
    with errors_at("policy"):
        policy = config["policy"]
        config["policy"] = check_policy(None if policy is None else Approximate(**policy), code)
    X = load_operand(config["data"]["X"], "X", code.field, (1, 2))
    config["blocks"] = _blocks(X, code)
    config["args"] = [
        load_operand(
            validate(section, OPERAND, f"data.args[{i}]"), f"args[{i}]", code.field, (1, 2)
        )
        for i, section in enumerate(config["data"]["args"])
    ]
    config["arrays"] = [X, *config["args"]]  # what `coded validate` lists
    check_outputs(config["output"])
    return config


def _blocks(X: np.ndarray, code) -> list[np.ndarray]:
    """``X``'s rows in k equal blocks."""
    if len(X) % code.k:
        raise ConfigError(
            "data.X",
            f"must have a multiple of k={code.k} rows to split into the code's k blocks, "
            f"not {len(X)}",
        )
    return np.split(X, code.k)


def run_map_job(config: Mapping) -> dict:
    """Run a validated map job; write the stacked results (.npy) and metrics (JSON);
    return a summary."""
    from ..progress import progress
    from ..runtime import Runtime

    code = config["code"]
    start = time.perf_counter()
    with Runtime(config["n"], **runtime_options(config)) as rt:
        started = time.perf_counter() - start
        job = rt.place_map(
            config["f"],
            config["blocks"],
            code=code,
            policy=config["policy"],
            verify=config["verify"],
        )
        for _ in progress(range(config["rounds"]), desc="rounds", unit="round"):
            results = job.run(*config["args"])
        history, ray_used = list(job.history), rt.ray
    summary = {
        "code": repr(code),
        "f": config["f"],
        "n": config["n"],
        "rounds": config["rounds"],
        "start_s": started,
        "ray": ray_used,
        "latency": summarize(history),
    }
    if code.approximate:
        summary["policy"] = history[-1].policy
        summary["error_estimate"] = history[-1].error_estimate
    return write_outputs(config["output"], summary, np.stack(results), history)
