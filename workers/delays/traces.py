"""Trace replay: measured per-round, per-worker times, and their CSV format."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coded.checks import check_number

from .base import DelayModel

__all__ = ["TraceReplay", "read_trace", "write_trace"]


class TraceReplay(DelayModel):
    """Replays measured per-round, per-worker times (rows = rounds, columns = workers).

    Worker w's factor in round r is ``times[r mod rounds, w] / scale``: the trace's
    slowdowns relative to ``scale`` (default: its fastest finite time), so a trace recorded
    on one workload replays on another. ``inf`` in the trace is a worker that never
    answered (a crash). ``times`` is an array or the path of a CSV (see :func:`read_trace`).

    >>> model = TraceReplay([[1.0, 2.0], [1.5, np.inf]])
    >>> model.sample(1, n=2, rounds=3, rng=np.random.default_rng(0)).factor
    array([ 2., inf,  2.])
    """

    _params = ("times", "scale")

    def __init__(self, times, scale: float | None = None):
        self._path = str(times) if isinstance(times, str | Path) else None
        array = read_trace(times) if self._path is not None else _check_times(times, "times")
        array.setflags(write=False)
        self._times = array
        finite = array[np.isfinite(array)]
        if scale is None:
            if finite.size == 0:
                raise ValueError("Argument 'times' must contain at least one finite time.")
            scale = float(finite.min())
        self._scale = check_number(scale, "scale", minimum=0, above=True)
        if finite.size and finite.min() < self._scale:
            raise ValueError(
                f"Argument 'scale' must be at most the fastest time in the trace, "
                f"{finite.min():g}, not {self._scale:g} (factors must be >= 1)."
            )

    @property
    def times(self) -> np.ndarray:
        """The trace (read-only), shape ``(rounds, workers)``, seconds."""
        return self._times

    @property
    def scale(self) -> float:
        return self._scale

    def _check_n(self, n):
        if n > self._times.shape[1]:
            raise ValueError(
                f"Argument 'n' must be at most the trace's {self._times.shape[1]} workers, not {n}."
            )

    def _sample(self, worker, n, rounds, rng):
        column = self._times[:, worker] / self._scale
        return np.resize(column, rounds), 0.0

    # config hooks: ``times`` is a path or a (long) array
    def _config_value(self, name):
        if name == "times":
            return self._path if self._path is not None else self._times.tolist()
        return super()._config_value(name)

    def _key(self):  # the same trace, from a file or an array
        return (self._times.shape, self._times.tobytes(), self._scale)

    def _repr_args(self):
        source = repr(self._path) if self._path else "array"
        rounds, workers = self._times.shape
        return [source, f"rounds={rounds}", f"workers={workers}", f"scale={self._scale:g}"]

    def __reduce__(self):
        return (TraceReplay, (np.array(self._times), self._scale))


def write_trace(path: str | Path, times) -> None:
    """Write per-round, per-worker times (seconds) as CSV: a header ``worker_0,...``, then one
    row per round. ``inf`` marks a worker that never answered.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "trace.csv")
    >>> write_trace(path, [[0.1, 0.25], [0.12, np.inf]])
    >>> read_trace(path)
    array([[0.1 , 0.25],
           [0.12,  inf]])
    """
    times = _check_times(times, "times")
    header = ",".join(f"worker_{w}" for w in range(times.shape[1]))
    np.savetxt(path, times, delimiter=",", header=header, comments="", fmt="%.17g")


def read_trace(path: str | Path) -> np.ndarray:
    """Read a CSV trace (rows = rounds, columns = workers, seconds; an optional header row)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Argument 'path' must name an existing trace file, not {str(path)!r}.")
    lines = path.read_text().splitlines()
    first = lines[0].split(",") if lines else []
    try:
        [float(cell) for cell in first]
        skip = 0
    except ValueError:
        skip = 1
    try:
        times = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"trace {str(path)!r} is not a CSV of numbers: {exc}") from exc
    return _check_times(times, f"trace {str(path)!r}")


def _check_times(times, name: str) -> np.ndarray:
    try:
        array = np.array(times, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Argument {name!r} must be a 2-D array of seconds, not {times!r}."
        ) from exc
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"Argument {name!r} must be a non-empty 2-D array (rounds × workers), "
            f"not shape {array.shape}."
        )
    if np.isnan(array).any() or (array <= 0).any():
        bad = array[np.isnan(array) | (array <= 0)][0]
        raise ValueError(
            f"Argument {name!r} must hold positive times (inf for no answer), not {bad}."
        )
    return array
