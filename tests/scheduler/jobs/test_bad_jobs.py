"""Bad YAML jobs: ``coded validate`` and ``coded run`` refuse each in one line, before Ray starts.

Each row is a job (its data files written to ``tmp_path``) and a regex that the one-line error
must match: the job field, what it expected and what it got. ``coded.scheduler.cluster.connect``
and ``ray.init`` raise if called, so a row passes only if the job is refused before Ray.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass

import numpy as np
import pytest
import yaml

import coded.scheduler.cluster
from coded.scheduler.cli import main

MATMUL = {
    "job": "matmul",
    "n": 4,
    "code": {"type": "MDSCode", "n": 4, "k": 3},
    "data": {"A": {"shape": [8, 3]}, "B": {"shape": [3, 2]}},
}
TRAIN = {
    "job": "train",
    "n": 4,
    "data": {"synthetic": {"rows": 80, "features": 3}},
    "optimizer": {"type": "gd", "lr": 1.0},
}
GF = {"type": "MDSCode", "n": 4, "k": 3, "field": 65537}
POLYNOMIAL = {"type": "PolynomialCode", "n": 4, "a_blocks": 1, "b_blocks": 2}


@dataclass(frozen=True)
class File:
    """A file the row writes to ``tmp_path``; the job names it by path.

    ``content``: an array (.npy), a dict of arrays (an .npz archive), text, or None for a directory
    (suffix ``/``), or for a file that stands where the output's directory would be
    (suffix ``/sub/out.png``: the job names a path under it).
    """

    suffix: str
    content: object = None

    def write(self, path) -> str:
        if self.suffix == "/":
            path.mkdir()
            return str(path)
        if self.suffix.startswith("/"):
            path.write_text("")
            return str(path) + self.suffix
        path = path.with_name(path.name + self.suffix)
        if isinstance(self.content, dict):
            with open(path, "wb") as f:
                np.savez(f, **self.content)
        elif isinstance(self.content, np.ndarray):
            np.save(path, self.content, allow_pickle=True)
        else:
            path.write_text(self.content)
        return str(path)


DIR = File("/")
UNDER_A_FILE = File("/sub/out.png")


def npy(array) -> File:
    return File(".npy", np.asarray(array))


def csv(text: str) -> File:
    return File(".csv", text)


def ones(shape=(8, 3), at=(1, 2), value=1.0, dtype=float) -> np.ndarray:
    array = np.ones(shape, dtype=dtype)
    array[at] = value
    return array


def table(rows=8, at=None, value=np.nan) -> str:
    """CSV text: two features and a 0/1 label per row, one cell replaced when ``at`` is given."""
    cells = [[f"{r}", f"{r % 3}", f"{r % 2}"] for r in range(rows)]
    if at is not None:
        cells[at[0]][at[1]] = str(value)
    return "".join(",".join(row) + "\n" for row in cells)


def job(base: dict, **changes) -> dict:
    """``base`` with dotted keys changed (``data__A`` is ``data.A``)."""
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        section = out
        for parent in parents:
            section = section[parent]
        section[key] = value
    return out


def matmul(**changes) -> dict:
    return job(MATMUL, **changes)


def train(**changes) -> dict:
    return job(TRAIN, **changes)


# (id, command, job, regex): the job is a dict or a File written as the job itself.
ROWS = [
    # -- byzantine: a count, and one the code can correct on n workers ----------------------
    ("byzantine-negative", "validate", matmul(byzantine=-1), r"byzantine: must be at least 0"),
    ("byzantine-too-many", "validate", matmul(byzantine=1),
     r"byzantine: must leave MDSCode\(n=4, k=3.*recovery threshold 3 \+ 2·1 > n=4"),
    # -- matmul data files: NaN / Inf, dtype, dimensions, GF range, shapes ------------------
    ("npy-nan", "validate", matmul(data__A={"path": npy(ones(value=np.nan))}),
     r"data\.A\.path: A must be finite, not nan at \[1, 2\] \(1 of 24 entries not finite\)"),
    ("npy-inf-in-B", "validate", matmul(data__B={"path": npy(ones((3, 2), (2, 0), np.inf))}),
     r"data\.B\.path: B must be finite, not inf at \[2, 0\]"),
    ("gf-float", "validate", matmul(code=GF, data__A={"path": npy(ones(value=0.5))}),
     r"data\.A\.path: Argument .A. must be an integer array over GF\(65537\), "
     r"not an array of dtype float64"),
    ("gf-negative", "validate",
     matmul(code=GF, data__A={"path": npy(ones(value=-1, dtype=int))}),
     r"data\.A\.path: .*entries in \[0, 65537\) for GF\(65537\), not -1 at index \(1, 2\)"),
    ("gf-too-large", "validate",
     matmul(code=GF, data__B={"path": npy(ones((3, 2), (0, 0), 70000, int))}),
     r"data\.B\.path: .*entries in \[0, 65537\) for GF\(65537\), not 70000 at index \(0, 0\)"),
    ("object-array", "validate",
     matmul(data__A={"path": npy(np.array([[1, "a"]], dtype=object))}),
     r"data\.A\.path: cannot read .*data\.A\.path\.npy as an array: .*[Oo]bject arrays"),
    ("garbage-npy", "validate", matmul(data__A={"path": File(".npy", "not an array\n")}),
     r"data\.A\.path: cannot read .*\.npy as an array: not a NumPy \.npy or \.npz file \(it"),
    ("npz-named-npy", "validate", matmul(data__A={"path": File(".npy", {"A": ones()})}),
     r"data\.A\.path: cannot read .*: it is an \.npz archive of \['A'\], not one array"),
    ("string-array", "validate", matmul(data__A={"path": npy(np.full((8, 3), "x"))}),
     r"data\.A\.path: A must hold numbers, not dtype <U1"),
    ("3-d-array", "validate", matmul(data__A={"path": npy(np.ones((2, 3, 4)))}),
     r"data\.A\.path: A must be a 2-D array, not 3-D \(shape \(2, 3, 4\)\)"),
    ("1-d-A", "validate", matmul(data__A={"shape": [8]}),
     r"data\.A\.shape: A must be a 2-D array, not 1-D \(shape \(8,\)\)"),
    ("empty-A", "validate", matmul(data__A={"path": npy(np.ones((0, 3)))}),
     r"data\.A\.path: A must not be empty, not shape \(0, 3\)"),
    ("B-rows-mismatch", "validate", matmul(data__B={"path": npy(np.ones((4, 2)))}),
     r"data\.B\.path: Argument 'B' must have 3 rows to multiply A of shape \(8, 3\), not 4"),
    ("B-vector-for-two-operand-code", "validate", matmul(code=POLYNOMIAL, data__B={"shape": [3]}),
     r"data\.B\.shape: B must be a 2-D array for PolynomialCode.*, not 1-D \(shape \(3,\)\)"),
    ("A-path-is-a-directory", "validate", matmul(data__A={"path": DIR}),
     r"data\.A\.path: .*data\.A\.path' is a directory, not a file"),
    ("A-path-wrong-suffix", "validate", matmul(data__A={"path": csv("1,2,3\n")}),
     r"data\.A\.path: expected a \.npy file, got 'data\.A\.path\.csv'"),
    # -- runtime fields ----------------------------------------------------------------------
    ("delays-worker-99", "validate",
     matmul(n=8, code=None, delays={"type": "FixedDelay", "seconds": 1, "workers": [99]}),
     r"delays: Argument 'workers' of FixedDelay must name workers 0\.\.n-1=7, not 99"),
    ("train-delays-worker-99", "validate",
     train(n=8, delays={"type": "Slowdown", "factor": 2, "workers": [3, 99]}),
     r"delays: Argument 'workers' of Slowdown must name workers 0\.\.n-1=7, not 99"),
    ("negative-cpus", "validate", matmul(workers={"num_cpus": -1}),
     r"workers\.num_cpus: must be at least 0, got -1\.0"),
    ("train-byzantine-uncoded", "validate", train(method="uncoded", byzantine=1),
     r"byzantine: Argument .byzantine. must leave GradientCode\(n=4, s=0.* = 6 > n=4\."),
    ("negative-gpus", "validate", train(workers={"num_gpus": -0.5}),
     r"workers\.num_gpus: must be at least 0, got -0\.5"),
    # -- train data: CSV / npy / npz, rows >= n, labels --------------------------------------
    ("csv-nan", "validate", train(data={"path": csv(table(at=(2, 1)))}),
     r"data\.path: data\.path\.csv must be finite, not nan at \[2, 1\] \(1 of 24 entries"),
    ("csv-text-cell", "validate", train(data={"path": csv(table(at=(3, 0), value="abc"))}),
     r"data\.path: cannot read .*data\.path\.csv as an array: .*abc"),
    ("synthetic-rows-below-n", "validate",
     train(n=8, data={"synthetic": {"rows": 5, "features": 3}}),
     r"data\.synthetic\.rows: must be at least n=8 \(one partition per worker\), not 5"),
    ("real-rows-below-n", "validate", train(n=8, data={"path": csv(table(rows=3))}),
     r"data\.path: must hold at least n=8 rows \(one partition per worker\), not 3"),
    ("npz-nan", "validate",
     train(data={"path": File(".npz", {"X": ones((8, 2), (7, 1), np.nan), "y": np.ones(8)})}),
     r"data\.path: 'X' in data\.path\.npz must be finite, not nan at \[7, 1\]"),
    ("npz-not-an-archive", "validate", train(data={"path": File(".npz", "x,y\n1,0\n")}),
     r"data\.path: cannot read .*\.npz as an \.npz archive: not a NumPy \.npy or \.npz file"),
    ("npy-3-d-table", "validate", train(data={"path": npy(np.ones((8, 3, 2)))}),
     r"data\.path: data\.path\.npy must be a 2-D array \(features and a label\), not 3-D"),
    ("logistic-labels", "validate", train(data={"path": npy(ones((8, 3), (0, 2), 7.0))}),
     r"data\.path: Argument 'y' must be a vector of labels 0 or 1 for logistic, not values"),
    # -- files: the job itself, outputs ------------------------------------------------------
    ("job-is-a-directory", "validate", DIR, r"'.*/job' is a directory, not a job file"),
    ("output-is-a-directory", "validate", matmul(output={"result": DIR}),
     r"output\.result: .*output\.result' is a directory, not a file"),
    ("output-under-a-file", "validate", train(output={"plot": UNDER_A_FILE}),
     r"output\.plot: cannot create the directory .*sub': .*output\.plot' is a file"),
    ("output-not-writable", "validate", matmul(output={"metrics": "/sys/metrics.json"}),
     r"output\.metrics: cannot write in '/sys': Permission denied"),
    # -- coded run refuses the same jobs the same way, before Ray ---------------------------
    ("run-npy-nan", "run", matmul(data__A={"path": npy(ones(value=np.nan))}),
     r"data\.A\.path: A must be finite, not nan at \[1, 2\]"),
    ("run-gf-float", "run", matmul(code=GF, data__A={"path": npy(ones(value=0.5))}),
     r"data\.A\.path: Argument 'A' must be an integer array over GF\(65537\)"),
    ("run-delays-worker-99", "run",
     matmul(n=8, code=None, delays={"type": "FixedDelay", "seconds": 1, "workers": [99]}),
     r"delays: Argument 'workers' of FixedDelay must name workers 0\.\.n-1=7, not 99"),
    ("run-csv-nan", "run", train(data={"path": csv(table(at=(2, 1)))}),
     r"data\.path: data\.path\.csv must be finite, not nan at \[2, 1\]"),
    ("run-synthetic-rows-below-n", "run",
     train(n=8, data={"synthetic": {"rows": 5, "features": 3}}),
     r"data\.synthetic\.rows: must be at least n=8"),
    ("run-output-is-a-directory", "run", matmul(output={"metrics": DIR}),
     r"output\.metrics: .* is a directory, not a file"),
]  # fmt: skip


def _materialize(value, tmp_path, where=""):
    """The job with every :class:`File` written under ``tmp_path`` and replaced by its path."""
    if isinstance(value, File):
        return value.write(tmp_path / where)
    if isinstance(value, dict):
        return {
            key: _materialize(item, tmp_path, f"{where}.{key}" if where else key)
            for key, item in value.items()
            if item is not None
        }
    return value


@pytest.fixture
def no_ray(monkeypatch):
    """Make starting Ray, directly or through the cluster module, an error."""
    ray = pytest.importorskip("ray")

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(coded.scheduler.cluster, "connect", refuse)
    monkeypatch.setattr(ray, "init", refuse)


@pytest.mark.parametrize(
    ("command", "bad", "error"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_bad_job_is_refused_in_one_line_before_ray(tmp_path, capsys, no_ray, command, bad, error):
    if isinstance(bad, File):
        path = bad.write(tmp_path / "job")
    else:
        path = tmp_path / "job.yaml"
        path.write_text(yaml.safe_dump(_materialize(bad, tmp_path)))
    start = time.perf_counter()
    status = main([command, str(path)])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status != 0, f"accepted; stderr: {err!r}"
    assert len(lines) == 1, err
    assert re.search(error, lines[0]), lines[0]
    assert elapsed < 1.0, f"refused after {elapsed:.2f} s"


def test_the_table_is_big_enough():
    assert len(ROWS) >= 20 and len({r[0] for r in ROWS}) == len(ROWS)


def test_missing_output_directories_are_fine(tmp_path, capsys, no_ray):
    """A missing parent is created by the run, so validation accepts it."""
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(matmul(output={"result": str(tmp_path / "new" / "C.npy")})))
    assert main(["validate", str(path)]) == 0
    assert "valid matmul job" in capsys.readouterr().out
    assert not (tmp_path / "new").exists()
