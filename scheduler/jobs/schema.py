"""Reading YAML job files: every error names the key path (``job.code.n``) and what it expected.

A schema is a plain dict ``key -> Field``; nested sections are dicts too. Unknown keys are
rejected, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = [
    "RUNTIME_FIELDS",
    "runtime_options",
    "validate_runtime_fields",
    "ConfigError",
    "Field",
    "load_yaml",
    "existing_file",
    "validate",
    "at_least",
    "positive",
    "typed_section",
    "errors_at",
    "code_field",
    "delay_field",
]

_MISSING = object()


class ConfigError(ValueError):
    """A job file is malformed; the message, one line, starts with the key path."""

    def __init__(self, path: str, message: str):
        self.path = path
        message = " ".join(str(message).split())
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True)
class Field:
    """One key of a schema: its type, default (``_MISSING`` means required) and a check.

    ``kind`` is a Python type (``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``), a
    tuple of allowed literal values, or a nested schema dict.
    """

    kind: Any
    default: Any = _MISSING
    check: Callable[[Any], str | None] | None = None  # returns an error message or None
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def existing_file(path: str | Path, where: str, what: str = "file") -> Path:
    """``path`` as a :class:`~pathlib.Path`, checked to be an existing file (not a directory)."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(where, f"{str(path)!r} is a directory, not a {what}")
    if not path.is_file():
        raise ConfigError(where, f"{what} {str(path)!r} does not exist")
    return path


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping from ``path`` (errors name the file)."""
    path = existing_file(path, "", "job file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigError(
            "", f"{path} must contain a mapping at the top level, not {type(data).__name__}"
        )
    return dict(data)


def validate(data: Any, schema: Mapping[str, Field], path: str = "") -> dict:
    """Check ``data`` against ``schema``; return a dict with defaults filled in."""
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(where, f"unknown key; expected one of {sorted(schema)}")
    out = {}
    for key, field in schema.items():
        where = f"{path}.{key}" if path else key
        if key not in data:
            if field.required:
                raise ConfigError(where, "required key is missing")
            out[key] = field.default
            continue
        out[key] = _check_value(data[key], field, where)
    return out


def _check_value(value, field: Field, where: str):
    kind = field.kind
    if isinstance(kind, Mapping):
        value = validate(value, kind, where)
    elif isinstance(kind, tuple):
        if value not in kind:
            raise ConfigError(where, f"must be one of {list(kind)}, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(where, f"must be a number, got {value!r}")
        value = float(value)
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(where, f"must be an integer, got {value!r}")
    elif kind is not None and not isinstance(value, kind):
        raise ConfigError(where, f"must be of type {kind.__name__}, got {value!r}")
    if field.check is not None:
        problem = field.check(value)
        if problem:
            raise ConfigError(where, problem)
    return value


def at_least(minimum) -> Callable[[Any], str | None]:
    """A :attr:`Field.check`: the value must be at least ``minimum``."""
    return lambda value: None if value >= minimum else f"must be at least {minimum}, got {value!r}"


def positive(value) -> str | None:
    """A :attr:`Field.check`: the value must be positive."""
    return None if value > 0 else f"must be positive, got {value!r}"


@contextmanager
def errors_at(where: str) -> Iterator[None]:
    """Re-raise a TypeError or ValueError of the block as a :class:`ConfigError` at ``where``.

    >>> with errors_at("data.A"):
    ...     raise ValueError("Argument 'A' must be finite.")
    Traceback (most recent call last):
    ...
    coded.scheduler.jobs.schema.ConfigError: data.A: Argument 'A' must be finite.
    """
    try:
        yield
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, str(exc)) from exc


def typed_section(value, where: str, build: Callable[[Mapping], Any]):
    """Build an object from a ``{type: ...}`` section, re-raising its errors with the key path."""
    if not isinstance(value, Mapping):
        raise ConfigError(where, f"expected a mapping with a 'type' key, got {value!r}")
    with errors_at(where):
        return build(value)


def code_field(value, where: str):
    """Build a code from a ``code:`` section, re-raising its errors with the key path."""
    from coded import code_from_config

    return typed_section(value, where, code_from_config)


def delay_field(value, where: str):
    """Build a delay model from a ``delays:`` section, re-raising its errors with the key path."""
    from coded.workers.delays import delay_from_config

    return typed_section(value, where, delay_from_config)


#: The fields every job kind shares: how many workers, where they run, what slows them.
RUNTIME_FIELDS = {
    "n": Field(int, None, check=at_least(1), doc="number of workers"),
    "workers": Field(
        {
            "num_cpus": Field(float, None, check=at_least(0)),
            "num_gpus": Field(float, 0.0, check=at_least(0)),
            "backend": Field(("numpy", "cupy", "torch"), None),
        },
        None,
        doc="resources of each worker actor",
    ),
    "address": Field(str, None, doc="Ray cluster address (default $RAY_ADDRESS, else a local Ray)"),
    "delays": Field(dict, None, doc="injected straggler model (coded.workers.delays)"),
    "seed": Field(int, 0, check=at_least(0), doc="seed of the injected delays"),
    "deadline": Field(float, 60.0, check=positive, doc="seconds a round may take"),
    "byzantine": Field(
        int, 0, check=at_least(0), doc="wrong answers each round corrects (Runtime(byzantine=))"
    ),
}


def validate_runtime_fields(config: dict) -> dict:
    """Build the shared sections of a validated job in place (``delays`` as a model).

    ``config["n"]`` must be settled: the delay model is checked to fit n workers.
    """
    if config["delays"] is not None:
        config["delays"] = delay_field(config["delays"], "delays")
        with errors_at("delays"):  # sampling no rounds runs the model's check of n (worker 99 of 8)
            config["delays"].sample(0, config["n"], 0, np.random.default_rng(0))
    return config


def runtime_options(config: Mapping) -> dict:
    """The :class:`~coded.scheduler.runtime.Runtime` keyword arguments of a validated job.

    >>> job = validate({"workers": {"num_cpus": 0.5}}, RUNTIME_FIELDS)
    >>> runtime_options(job)["num_cpus_per_worker"], runtime_options(job)["deadline"]
    (0.5, 60.0)
    """
    workers = config["workers"] or {}
    return {
        "num_cpus_per_worker": workers.get("num_cpus"),
        "num_gpus_per_worker": workers.get("num_gpus", 0.0),
        "backend": workers.get("backend"),
        "delays": config["delays"],
        "seed": config["seed"],
        "deadline": config["deadline"],
        "address": config["address"],
        "byzantine": config["byzantine"],
    }
