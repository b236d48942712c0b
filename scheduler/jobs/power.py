"""The ``power`` job of ``coded run``: power iteration or PageRank on a coded matrix.

    job: power
    problem: eigen                 # eigen: dominant eigenpair of A | pagerank: ranks of a graph
    code: {type: MDSCode, n: 8, k: 6}   # optional: default code for n; a real code encoding A
    delays: {type: FixedDelay, seconds: 0.5, workers: [2]}   # injected stragglers (optional)
    data:
      random: {size: 1000, ratio: 0.5, seed: 0}   # eigen: symmetric, λ₁ = 1, other |λ| ≤ ratio
      # or path: A.npy               (.npy or .csv: A, or pagerank's adjacency matrix)
      # or edges: edges.csv          (pagerank: rows 'source, target'; nodes: how many)
    iterations: 1000               # rounds at most
    tol: 1.0e-10                   # eigen: ‖Ax − λx‖/‖Ax‖; pagerank: ‖r_new − r‖₁
    damping: 0.85                  # pagerank
    reference: true                # also solve with numpy and record the error per round
    output:
      vector: results/power/vector.npy       # the eigenvector, or the ranks
      history: results/power/history.json
      plot: results/power/convergence.png    # error (or residual) against wall time

Every value is checked, with its key path, before a worker starts: the matrix is read (or
drawn) and checked (square, finite; non-negative link weights for PageRank), the code must
be a real code that encodes ``A`` alone, and the output paths must be writable.

>>> config = validate_power_job({"job": "power", "n": 4, "data": {"random": {"size": 6}}})
>>> config["code"], config["arrays"][0].shape
(MDSCode(n=4, k=3, systematic=False, field='real'), (6, 6))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..iterative import (
    check_adjacency,
    check_iterative_code,
    check_square,
    link_matrix,
    pagerank,
    power_iteration,
)
from ..runtime import default_code
from ..training.history import plot
from .data import check_array, check_outputs, data_file, output_file, read_array
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

__all__ = [
    "POWER_SCHEMA",
    "validate_power_job",
    "random_symmetric",
    "load_edges",
    "run_power_job",
]


def _fraction(value) -> str | None:
    return None if 0 <= value < 1 else f"must be in [0, 1), got {value!r}"


_RANDOM = {
    "size": Field(int, check=at_least(1), doc="rows and columns"),
    "ratio": Field(float, 0.5, check=_fraction, doc="|λ₂/λ₁| at most: rounds shrink it so"),
    "seed": Field(int, 0, check=at_least(0)),
}

POWER_SCHEMA = {
    "job": Field(("power",), doc="the job type"),
    **RUNTIME_FIELDS,  # n: default the code's n, else 8
    "problem": Field(("eigen", "pagerank"), "eigen", doc="dominant eigenpair, or PageRank"),
    "code": Field(dict, None, doc="code section, e.g. {type: MDSCode, n: 8, k: 6}"),
    "data": Field(
        {
            "random": Field(_RANDOM, None, doc="eigen: a random symmetric matrix"),
            "path": Field(str, None, doc="a .npy or .csv square matrix (pagerank: adjacency)"),
            "edges": Field(str, None, doc="pagerank: a .npy or .csv of (source, target) rows"),
            "nodes": Field(int, None, check=at_least(1), doc="with edges: the node count"),
        },
        doc="one of random, path and edges",
    ),
    "iterations": Field(int, 1000, check=at_least(1), doc="rounds at most"),
    "tol": Field(float, 1e-10, check=at_least(0), doc="residual to stop at"),
    "damping": Field(float, 0.85, check=_fraction, doc="pagerank: probability of a link"),
    "reference": Field(bool, True, doc="solve with numpy too; record the error per round"),
    "progress": Field(bool, None, doc="progress bar: default shown on runs longer than 3 s"),
    "output": Field(
        {
            "vector": Field(str, "results/power/vector.npy"),
            "history": Field(str, "results/power/history.json"),
            "plot": Field(str, None),
        },
        {},
    ),
}


def validate_power_job(data: Mapping) -> dict:
    """Check a power job (a parsed YAML mapping); return it with defaults, the built code
    and delays, and the checked matrix as ``arrays``; errors name the key path."""
    config = validate(data, POWER_SCHEMA)
    config["output"] = config["output"] or validate({}, POWER_SCHEMA["output"].kind, "output")
    if config["code"] is not None:
        config["code"] = code_field(config["code"], "code")
        if config["n"] is not None and config["n"] != config["code"].n:
            raise ConfigError("code.n", f"must equal n={config['n']}, got {config['code'].n}")
        config["n"] = config["code"].n
    else:
        config["n"] = 8 if config["n"] is None else config["n"]
        config["code"] = default_code(config["n"])
    validate_runtime_fields(config)
    with errors_at("code"):
        check_iterative_code(config["code"], config["n"], config["byzantine"])
    config["arrays"] = [_matrix(config["data"], config["problem"])]
    check_outputs(config["output"])
    return config


def _matrix(section: Mapping, problem: str) -> np.ndarray:
    """The job's matrix: ``A`` for eigen, the adjacency for pagerank, read and checked."""
    given = [key for key in ("random", "path", "edges") if section[key] is not None]
    if len(given) != 1:
        raise ConfigError("data", f"give exactly one of 'random', 'path' and 'edges', not {given}")
    if section["nodes"] is not None and section["edges"] is None:
        raise ConfigError("data.nodes", "applies to 'edges' only")
    if problem == "eigen" and section["edges"] is not None:
        raise ConfigError("data.edges", "is a graph for problem 'pagerank'; give eigen a matrix")
    if problem == "pagerank" and section["random"] is not None:
        raise ConfigError("data.random", "is for problem 'eigen'; give pagerank 'path' or 'edges'")
    if section["random"] is not None:
        return random_symmetric(**section["random"])
    if section["edges"] is not None:
        return load_edges(section["edges"], section["nodes"])
    path = data_file(section["path"], "data.path", (".npy", ".csv"))
    array = check_array(read_array(path, "data.path"), "data.path", path.name)
    with errors_at("data.path"):
        return check_adjacency(array) if problem == "pagerank" else check_square(array)


def random_symmetric(size: int, ratio: float = 0.5, seed: int = 0) -> np.ndarray:
    """``Q diag(λ) Qᵀ`` with ``Q`` a random orthogonal matrix, ``λ₁ = 1`` and the other
    eigenvalues uniform in ``[−ratio, ratio]``: power iteration's residual shrinks by at
    least ``ratio`` a round.

    >>> A = random_symmetric(5, ratio=0.25)
    >>> np.allclose(A, A.T), np.linalg.eigvalsh(A).round(12)[-1]
    (True, np.float64(1.0))
    """
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((size, size)))
    spectrum = np.concatenate([[1.0], rng.uniform(-ratio, ratio, size - 1)])
    return (Q * spectrum) @ Q.T


def load_edges(path: str, nodes: int | None = None) -> np.ndarray:
    """The adjacency matrix of an edge list (a .npy or .csv file of ``source, target`` rows,
    nodes numbered from 0; a repeated edge adds weight), with ``nodes`` nodes (default the
    largest index + 1)."""
    where = "data.edges"
    edges = read_array(data_file(path, where, (".npy", ".csv")), where)
    edges = check_array(edges, where, "the edge list", purpose=" of (source, target) rows")
    if edges.shape[1] != 2 or (edges != np.round(edges)).any() or (edges < 0).any():
        raise ConfigError(
            where,
            f"must hold rows of two node numbers (integers from 0), not shape {edges.shape} "
            f"with values in [{edges.min():g}, {edges.max():g}]",
        )
    edges = edges.astype(np.int64)
    largest = int(edges.max())
    if nodes is None:
        nodes = largest + 1
    elif largest >= nodes:
        raise ConfigError("data.nodes", f"must exceed every node number, up to {largest}")
    adjacency = np.zeros((nodes, nodes))
    np.add.at(adjacency, (edges[:, 0], edges[:, 1]), 1.0)
    return adjacency


def _reference(matrix: np.ndarray, config: Mapping):
    """numpy's answer: the dominant eigenvalue (None if it is complex or not unique in
    magnitude), or the ranks solved directly."""
    if config["problem"] == "pagerank":
        P, dangling = link_matrix(matrix)
        size, damping = len(matrix), config["damping"]
        google = P + np.outer(np.ones(size), dangling) / size
        r = np.linalg.solve(np.eye(size) - damping * google, np.full(size, (1 - damping) / size))
        return r / r.sum()
    symmetric = np.allclose(matrix, matrix.T)
    eigenvalues = np.linalg.eigvalsh(matrix) if symmetric else np.linalg.eigvals(matrix)
    order = np.argsort(-np.abs(eigenvalues))
    top = eigenvalues[order[0]]
    second = abs(eigenvalues[order[1]]) if len(matrix) > 1 else 0.0
    if (np.iscomplexobj(top) and top.imag != 0) or np.isclose(abs(top), second):
        return None
    return float(np.real(top))


def run_power_job(config: Mapping) -> dict:
    """Run a validated power job on its checked matrix; write the vector (.npy), the history
    (JSON) and maybe a plot; return a summary."""
    from ..runtime import Runtime

    matrix = config["arrays"][0]
    eigen = config["problem"] == "eigen"
    reference = _reference(matrix, config) if config["reference"] else None
    options = dict(
        iterations=config["iterations"],
        tol=config["tol"],
        code=config["code"],
        reference=reference,
        progress=config["progress"],
    )
    with Runtime(config["n"], **runtime_options(config)) as rt:
        if eigen:
            result = power_iteration(matrix, runtime=rt, **options)
            vector = result.eigenvector
        else:
            result = pagerank(matrix, damping=config["damping"], runtime=rt, **options)
            vector = result.ranks
    history, output = result.history, config["output"]
    np.save(output_file(output["vector"]), vector)
    history.to_json(output_file(output["history"]))
    written = [output["vector"], output["history"]]
    error = "eigenvalue_error" if eigen else "error"
    quantity = "residual" if reference is None else error
    if output["plot"] is not None:
        try:
            plot([history], output_file(output["plot"]), quantity=quantity)
            written.append(output["plot"])
        except ImportError as exc:
            print(f"coded run: no plot ({exc})")
    summary = {
        "problem": config["problem"],
        "code": repr(config["code"]),
        "n": config["n"],
        "size": len(matrix),
        "iterations": len(history.records),
        "converged": result.converged,
        "residual": float(history.series("residual")[-1]),
        "seconds": float(history.times[-1]),
        "median_round_ms": 1e3 * float(np.median(history.round_times)),
        "written": written,
    }
    if eigen:
        summary["eigenvalue"] = result.eigenvalue
        summary["reference"] = reference
    if reference is not None:
        summary[error] = float(history.series(error)[-1])
    return summary
