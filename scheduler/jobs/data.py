"""A job's files, read and checked before any worker starts: one reader per format, one checker
for every array, one for every output path. Errors name the job's key path (``data.A.path``).

>>> check_array(np.array([[1.0, np.nan]]), "data.A.path", "A")
Traceback (most recent call last):
...
coded.scheduler.jobs.schema.ConfigError: data.A.path: A must be finite, not nan at [0, 1] (1 of ...
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from coded import PrimeField, RealField

from .schema import ConfigError, Field, at_least, errors_at, existing_file

__all__ = [
    "OPERAND",
    "load_operand",
    "operand_source",
    "data_file",
    "read_array",
    "read_archive",
    "check_array",
    "check_outputs",
    "output_file",
    "write_outputs",
]

_UNREADABLE = (OSError, ValueError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile)


def data_file(path: str, where: str, suffixes: tuple[str, ...]) -> Path:
    """``path`` checked to be an existing file with one of ``suffixes``."""
    path = existing_file(path, where)
    if path.suffix.lower() not in suffixes:
        expected = ", ".join(suffixes[:-1]) + " or " + suffixes[-1] if suffixes[1:] else suffixes[0]
        raise ConfigError(where, f"expected a {expected} file, got {path.name!r}")
    return path


def read_array(path: Path, where: str) -> np.ndarray:
    """The array of a ``.npy`` file, or the numbers of a ``.csv`` file (an optional header line)."""
    try:
        with warnings.catch_warnings():  # loadtxt warns on an empty file: check_array refuses it
            warnings.simplefilter("ignore", UserWarning)
            array = _load(path) if path.suffix.lower() == ".npy" else _read_csv(path)
        if not isinstance(array, np.ndarray):
            with array:
                raise ValueError(f"it is an .npz archive of {array.files}, not one array")
    except _UNREADABLE as exc:
        raise ConfigError(where, f"cannot read {path} as an array: {exc}") from exc
    return array


def read_archive(path: Path, where: str) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` archive, by name."""
    try:
        archive = _load(path)
        if isinstance(archive, np.ndarray):
            raise ValueError(f"it is one array of shape {archive.shape}, not an .npz archive")
        with archive:
            return {key: archive[key] for key in archive.files}
    except _UNREADABLE as exc:
        raise ConfigError(where, f"cannot read {path} as an .npz archive: {exc}") from exc


def _load(path: Path):
    """``np.load`` of a .npy or .npz file; anything else is refused (np.load would unpickle)."""
    with open(path, "rb") as f:
        start = f.read(6)
    if not start.startswith((b"\x93NUMPY", b"PK")):
        raise ValueError(f"not a NumPy .npy or .npz file (it starts with {start!r})")
    return np.load(path)


def _read_csv(path: Path) -> np.ndarray:
    with open(path) as f:
        first = f.readline()
    try:
        [float(cell) for cell in first.split(",")]
        header = 0
    except ValueError:
        header = 1
    return np.loadtxt(path, delimiter=",", skiprows=header, ndmin=2)


def check_array(
    array: np.ndarray,
    where: str,
    name: str,
    field: RealField | PrimeField | None = None,
    ndims: tuple[int, ...] = (2,),
    purpose: str = "",
) -> np.ndarray:
    """``array`` checked as the run needs it, and converted by ``field`` (default real).

    Numbers (not objects or strings), ``ndims`` dimensions, not empty, finite, and valid in
    ``field`` (integers in [0, p) over GF(p)). ``name`` says what the array is in messages;
    ``purpose`` why it needs its dimensions.
    """
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ConfigError(where, f"{name} must hold numbers, not dtype {array.dtype}")
    if array.ndim not in ndims:
        expected = " or ".join(f"{d}-D" for d in ndims)
        raise ConfigError(
            where,
            f"{name} must be a {expected} array{purpose}, not {array.ndim}-D (shape {array.shape})",
        )
    if array.size == 0:
        raise ConfigError(where, f"{name} must not be empty, not shape {array.shape}")
    if np.issubdtype(array.dtype, np.inexact):
        bad = ~np.isfinite(array)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ConfigError(
                where,
                f"{name} must be finite, not {array[index]} at {list(index)} "
                f"({int(bad.sum())} of {array.size} entries not finite)",
            )
    with errors_at(where):
        return (field or RealField()).validate(array, name)


def check_outputs(section: Mapping[str, str | None], where: str = "output") -> None:
    """Refuse output paths the run could not write: a directory, a path under a file, a folder
    without write permission. A missing parent folder is fine: :func:`output_file` makes it."""
    for key, path in section.items():
        if path is not None:
            _check_output(Path(path), f"{where}.{key}")


def _check_output(path: Path, where: str) -> None:
    if path.is_dir():
        raise ConfigError(where, f"{str(path)!r} is a directory, not a file")
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            where, f"cannot create the directory {str(path.parent)!r}: {str(existing)!r} is a file"
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ConfigError(where, f"cannot write in {str(existing)!r}: {exc.strerror}") from exc
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(where, f"cannot overwrite {str(path)!r}: permission denied")


def output_file(path: str | Path) -> Path:
    """``path``, its parent folder created if missing (checked by :func:`check_outputs`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _shape(value):
    if not 1 <= len(value) <= 2 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value
    ):
        return f"must be a list of 1 or 2 positive integers, got {value!r}"
    return None


#: The schema of an operand section: a .npy file, or random data of a shape.
OPERAND = {
    "shape": Field(list, None, check=_shape, doc="random operand of this shape"),
    "seed": Field(int, 0, check=at_least(0)),
    "dtype": Field(("float64", "float32"), "float64", doc="random real operands"),
    "path": Field(str, None, doc="a .npy file"),
}


def operand_source(section: Mapping, name: str) -> str:
    """The key path an operand comes from: its file or its random shape."""
    return f"data.{name}.path" if section["path"] is not None else f"data.{name}.shape"


def load_operand(section: Mapping, name: str, field, ndims=(2,), purpose: str = "") -> np.ndarray:
    """The operand of a validated :data:`OPERAND` section ``data.<name>``: read from its .npy
    file or drawn at random (integers mod p over GF(p)), checked by :func:`check_array`."""
    if (section["shape"] is None) == (section["path"] is None):
        raise ConfigError(
            f"data.{name}", "give exactly one of 'shape' (random data) and 'path' (.npy)"
        )
    where = operand_source(section, name)
    if section["path"] is not None:
        array = read_array(data_file(section["path"], where, (".npy",)), where)
    elif field.exact:
        array = np.random.default_rng(section["seed"]).integers(0, field.p, section["shape"])
    else:
        rng = np.random.default_rng(section["seed"])
        array = rng.standard_normal(section["shape"]).astype(section["dtype"])
    return check_array(array, where, name, field, ndims, purpose)


def write_outputs(output: Mapping, summary: dict, result, rounds) -> dict:
    """Write a job's ``result`` (.npy) and its ``summary`` with the per-round metrics
    (JSON, ``{"summary": ..., "rounds": [...]}``) where its ``output`` section names;
    return the summary, with the paths written in ``summary["written"]``."""
    summary["written"] = []
    if output["result"] is not None:
        np.save(output_file(output["result"]), result)
        summary["written"].append(output["result"])
    if output["metrics"] is not None:
        text = json.dumps({"summary": summary, "rounds": [m.to_dict() for m in rounds]}, indent=1)
        output_file(output["metrics"]).write_text(text)
        summary["written"].append(output["metrics"])
    return summary
