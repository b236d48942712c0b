"""The ``saddle`` job of ``coded run``: a saddle problem solved by coded extra-gradient.

    job: saddle
    n: 8
    delays: {type: FixedDelay, seconds: 0.5, workers: [3]}    # injected stragglers (optional)
    problem: {type: bilinear}            # bilinear | robust_least_squares | dr_logistic
                                         # (+ lam, nu, radius: coded.saddle's parameters)
    data:
      synthetic: {rows: 64, features: 8, seed: 0}
      # or path: problem.npz: arrays A, b, c (bilinear); A, b (robust_least_squares);
      #                       X, y (dr_logistic)
    algorithm: extragradient             # extragradient | gda
    method: coded                        # coded | uncoded
    s: 1
    step: 0.4                            # a number, or a non-increasing list, one per iteration
    iterations: 500
    tol: 1.0e-8                          # stop once the distance to the solution is at most this
    output:
      history: results/saddle/history.json
      solution: results/saddle/solution.npy
      plot: results/saddle/distance.png  # needs matplotlib

Synthetic data (:func:`synthetic_problem`): a bilinear game with a rows × rows matrix whose
singular values lie in [1, 2]; robust least squares and DR logistic regression on Gaussian
features (rows × features) with targets or labels from a random linear model. Every value
is checked, with its key path, before a worker starts: the problem is built (so its
arrays' shapes and values are checked), the step sizes, n against the problem's rows.

>>> config = validate_saddle_job({"job": "saddle", "n": 4, "step": 0.4,
...     "data": {"synthetic": {"rows": 6}}})
>>> config["problem"], config["steps"][:2]
(BilinearGame(dims=(6, 6), rows=6), array([0.4, 0.4]))
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from coded.saddle import BilinearGame, DRLogistic, RobustLeastSquares, check_steps

from ..training.history import plot
from ..training.saddle import ALGORITHMS, METHODS, saddle_code, solve_saddle
from .data import check_array, check_outputs, data_file, output_file, read_archive
from .schema import (
    RUNTIME_FIELDS,
    ConfigError,
    Field,
    at_least,
    errors_at,
    runtime_options,
    validate,
    validate_runtime_fields,
)

__all__ = [
    "SADDLE_SCHEMA",
    "PROBLEMS",
    "validate_saddle_job",
    "synthetic_problem",
    "run_saddle_job",
]

#: problem type -> (class, the arrays it is built from, the parameters it takes)
PROBLEMS = {
    "bilinear": (BilinearGame, ("A", "b", "c"), ("radius",)),
    "robust_least_squares": (RobustLeastSquares, ("A", "b"), ("lam",)),
    "dr_logistic": (DRLogistic, ("X", "y"), ("lam", "nu", "radius")),
}


def _steps(value) -> str | None:
    numbers_only = all(
        isinstance(v, numbers.Real) and not isinstance(v, bool)
        for v in (value if isinstance(value, list) else [value])
    )
    return None if numbers_only else f"must be a number or a list of numbers, got {value!r}"


SADDLE_SCHEMA = {
    "job": Field(("saddle",), doc="the job type"),
    **RUNTIME_FIELDS,  # n: default 8
    "problem": Field(
        {
            "type": Field(tuple(PROBLEMS), "bilinear"),
            "lam": Field(float, None, doc="robust_least_squares (> 1), dr_logistic (> 0)"),
            "nu": Field(float, None, doc="dr_logistic: the weights' penalty (> 0)"),
            "radius": Field(float, None, doc="bilinear, dr_logistic: the gap's ball"),
        },
        {},
    ),
    "data": Field(
        {
            "path": Field(str, None, doc="an .npz file of the problem's arrays"),
            "synthetic": Field(
                {
                    "rows": Field(int, check=at_least(1)),
                    "features": Field(int, 8, check=at_least(1), doc="not for bilinear"),
                    "seed": Field(int, 0, check=at_least(0)),
                },
                None,
            ),
        },
        doc="an .npz file or synthetic data",
    ),
    "algorithm": Field(tuple(ALGORITHMS), "extragradient"),
    "method": Field(tuple(METHODS), "coded"),
    "s": Field(int, 1, check=at_least(0), doc="stragglers tolerated"),
    "scheme": Field(("cyclic", "fractional"), "cyclic"),
    "step": Field(None, check=_steps, doc="a step size, or a non-increasing list of them"),
    "iterations": Field(int, 100, check=at_least(1)),
    "tol": Field(float, None, check=at_least(0), doc="stop at this distance to the solution"),
    "limit": Field(float, 1e10, doc="iterates larger than this in norm have diverged"),
    "progress": Field(bool, None, doc="progress bar: default shown on runs longer than 3 s"),
    "output": Field(
        {
            "history": Field(str, "results/saddle/history.json"),
            "solution": Field(str, "results/saddle/solution.npy"),
            "plot": Field(str, None),
        },
        {},
    ),
}


def validate_saddle_job(data: Mapping) -> dict:
    """Check a saddle job (a parsed YAML mapping); return it with defaults, the built
    ``problem``, its ``arrays``, the ``steps`` and ``delays``. Errors name the key path."""
    config = validate(data, SADDLE_SCHEMA)
    config["output"] = config["output"] or validate({}, SADDLE_SCHEMA["output"].kind, "output")
    config["problem"] = config["problem"] or validate({}, SADDLE_SCHEMA["problem"].kind, "problem")
    config["n"] = 8 if config["n"] is None else config["n"]
    validate_runtime_fields(config)
    with errors_at(""):
        saddle_code(config["method"], config["n"], config["s"], config["scheme"])
    with errors_at("step"):
        config["steps"] = check_steps(config["step"], config["iterations"])
    section = config["problem"]
    kind = section["type"]
    arrays = _arrays(config["data"], kind)
    config["arrays"] = list(arrays.values())  # what `coded validate` lists
    where = "data.path" if config["data"]["path"] is not None else "data.synthetic"
    parameters = {k: v for k, v in section.items() if k != "type" and v is not None}
    cls, _, known = PROBLEMS[kind]
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ConfigError(f"problem.{unknown[0]}", f"is not a parameter of {kind}: {list(known)}")
    with errors_at(where):
        config["problem"] = cls(*arrays.values(), **parameters)
    if config["problem"].rows < config["n"]:
        raise ConfigError(
            where,
            f"the problem has {config['problem'].rows} rows, fewer than n={config['n']} "
            f"(one partition per worker)",
        )
    check_outputs(config["output"])
    return config


def _arrays(section: Mapping, kind: str) -> dict[str, np.ndarray]:
    """The problem's arrays from ``data:``: an .npz file, or :func:`synthetic_problem`."""
    if (section["path"] is None) == (section["synthetic"] is None):
        raise ConfigError("data", "give exactly one of 'path' (an .npz file) and 'synthetic'")
    if section["synthetic"] is not None:
        return synthetic_problem(kind, **section["synthetic"])
    path = data_file(section["path"], "data.path", (".npz",))
    archive = read_archive(path, "data.path")
    names = PROBLEMS[kind][1]
    missing = [name for name in names if name not in archive]
    if missing:
        raise ConfigError(
            "data.path", f"{path} has no array {missing[0]!r}; a {kind} needs {list(names)}"
        )
    return {
        name: check_array(
            archive[name], "data.path", f"{name!r} in {path.name}", ndims=(2,) if i == 0 else (1,)
        )
        for i, name in enumerate(names)
    }


def synthetic_problem(kind: str, rows: int, features: int = 8, seed: int = 0) -> dict:
    """Random arrays of a problem, by name, from ``np.random.default_rng(seed)``.

    >>> sorted(synthetic_problem("dr_logistic", rows=5, features=2))
    ['X', 'y']
    """
    rng = np.random.default_rng(seed)
    if kind == "bilinear":
        U, V = (np.linalg.qr(rng.standard_normal((rows, rows)))[0] for _ in range(2))
        A = U @ np.diag(np.linspace(1.0, 2.0, rows)) @ V.T
        return {"A": A, "b": rng.standard_normal(rows), "c": rng.standard_normal(rows)}
    X = rng.standard_normal((rows, features))
    scores = X @ rng.standard_normal(features) + 0.5 * rng.standard_normal(rows)
    if kind == "robust_least_squares":
        return {"A": X / np.sqrt(rows), "b": scores / np.sqrt(rows)}
    return {"X": X, "y": (scores > 0).astype(float)}


def run_saddle_job(config: Mapping) -> dict:
    """Run a validated saddle job: solve, write the history (JSON), the solution (.npy),
    maybe a plot of the distance to the solution; return a summary."""
    problem = config["problem"]
    result = solve_saddle(
        problem,
        step=config["steps"],
        iterations=config["iterations"],
        n=config["n"],
        s=config["s"],
        method=config["method"],
        algorithm=config["algorithm"],
        scheme=config["scheme"],
        tol=config["tol"],
        limit=config["limit"],
        progress=config["progress"],
        **runtime_options(config),
    )
    output, history = config["output"], result.history
    history.to_json(output_file(output["history"]))
    np.save(output_file(output["solution"]), result.solution)
    written = [output["history"], output["solution"]]
    if output["plot"] is not None:
        try:
            plot([history], output_file(output["plot"]), quantity="distance")
            written.append(output["plot"])
        except ImportError as exc:
            print(f"coded run: no plot ({exc})")
    return {
        "problem": repr(problem),
        "method": history.method,
        "iterations": len(history.records),
        "distance": float(history.series("distance")[-1]),
        "gap": float(history.series("gap")[-1]),
        "seconds": float(history.times[-1]),
        "written": written,
    }
