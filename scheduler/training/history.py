"""What a training run records: per-iteration loss, wall time and workers used; progress and plots.

A :class:`History` is returned by every training run, exports to JSON and loads back.
:func:`plot` draws loss against wall time for several runs (coded vs uncoded) when
matplotlib is installed (``pip install 'coded-runtime[plot]'``); :class:`Progress` is a tqdm bar
that appears only once a run has lasted a few seconds.

>>> history = History("coded", exact=True)
>>> _ = history.append(loss=0.69, round_s=0.01, workers=(0, 1, 3))
>>> _ = history.append(loss=0.52, round_s=0.01, workers=(0, 2, 3))
>>> history.losses, history.time_to(0.6) is not None
(array([0.69, 0.52]), True)
>>> History.from_dict(history.to_dict()).records == history.records
True
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..progress import quiet

__all__ = ["Record", "History", "Progress", "plot"]


@dataclass(frozen=True)
class Record:
    """One iteration: the mean loss at the point the gradient was taken, and its timing.

    ``time`` is the wall time since training started, at the end of this iteration;
    ``workers`` are the workers whose messages made the gradient (for the two-round MDS
    method, those of either round). ``values`` holds any further quantities a method
    tracks per iteration (a gradient norm, a distance to the solution, ...), by name.
    """

    iteration: int
    loss: float
    time: float
    round_s: float
    workers: tuple[int, ...]
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class History:
    """Per-iteration records of one training run.

    Attributes:
        method: ``"coded"``, ``"uncoded"``, ``"ignore"`` or ``"mds"``.
        exact: whether every gradient was the exact full gradient (false for ``"ignore"``).
        note: what the method does, in words (e.g. why it is not exact).
        config: the run's parameters (n, s, loss, optimizer, ...).
    """

    method: str
    exact: bool = True
    note: str = ""
    config: dict = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    _start: float = field(default_factory=time.perf_counter, repr=False, compare=False)

    def append(self, loss: float, round_s: float, workers: Sequence[int], **values) -> Record:
        """Record the next iteration (its wall time is measured now), with any further
        named ``values`` (e.g. ``gradient_norm=1e-3``; see :meth:`series`)."""
        record = Record(
            len(self.records),
            float(loss),
            time.perf_counter() - self._start,
            float(round_s),
            tuple(int(i) for i in workers),
            {name: float(value) for name, value in values.items()},
        )
        self.records.append(record)
        return record

    @property
    def losses(self) -> np.ndarray:
        return np.array([r.loss for r in self.records])

    @property
    def times(self) -> np.ndarray:
        return np.array([r.time for r in self.records])

    @property
    def round_times(self) -> np.ndarray:
        return np.array([r.round_s for r in self.records])

    def series(self, name: str) -> np.ndarray:
        """One quantity per iteration: ``"loss"``, or a named value given to :meth:`append`
        (NaN where an iteration did not record it)."""
        if name == "loss":
            return self.losses
        return np.array([r.values.get(name, math.nan) for r in self.records])

    def time_to(self, target: float, quantity: str = "loss") -> float | None:
        """Wall time at the first iteration whose ``quantity`` (:meth:`series`) is at most
        ``target`` (None if never)."""
        for record, value in zip(self.records, self.series(quantity), strict=True):
            if value <= target:
                return record.time
        return None

    # -- export -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "exact": self.exact,
            "note": self.note,
            "config": self.config,
            "records": [
                {
                    **asdict(r),
                    "workers": list(r.workers),
                    "loss": r.loss if math.isfinite(r.loss) else None,
                    "values": {k: v if math.isfinite(v) else None for k, v in r.values.items()},
                }
                for r in self.records
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        records = [
            Record(
                r["iteration"],
                math.nan if r["loss"] is None else r["loss"],
                r["time"],
                r["round_s"],
                tuple(r["workers"]),
                {k: math.nan if v is None else v for k, v in r.get("values", {}).items()},
            )
            for r in data["records"]
        ]
        return cls(
            data["method"], data["exact"], data.get("note", ""), data.get("config", {}), records
        )

    def to_json(self, path: str | Path | None = None) -> str:
        """The history as JSON text, also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
        return text

    @classmethod
    def load(cls, path: str | Path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __repr__(self):
        last = (
            f", last loss {self.records[-1].loss:.6g} at {self.records[-1].time:.3g} s"
            if self.records
            else ""
        )
        count = len(self.records)
        return f"History(method={self.method!r}, exact={self.exact}, {count} iterations{last})"


class Progress:
    """A tqdm bar with the loss and iterations per second, shown once a run passes ``delay`` s.

    Args:
        total: number of iterations.
        desc: label (the method).
        enabled: False for no bar at all, True to show it at once, None to show it only
            if the run lasts more than ``delay`` seconds.
        quantity: what :meth:`update` is given, as the bar names it (``"residual"``, ...).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        enabled: bool | None = None,
        delay: float = 3.0,
        quantity: str = "loss",
    ):
        self._bar = None
        self._quantity = quantity
        if enabled is False or quiet():  # coded --quiet hides every bar
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total,
            desc=desc,
            unit="it",
            delay=0.0 if enabled else delay,
            dynamic_ncols=True,
            leave=True,
        )

    def update(self, loss: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix({self._quantity: f"{loss:.6g}"}, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_LINE_STYLES = ("-", "--", "-.", ":")


def plot(
    histories: Sequence[History],
    path: str | Path | None = None,
    target: float | None = None,
    title: str | None = None,
    quantity: str = "loss",
):
    """``quantity`` (:meth:`History.series`: the loss, or a named value such as
    ``"gradient_norm"``) against wall time for several runs, one line each, on a log scale;
    saved to ``path`` if given.

    Returns the matplotlib figure. Needs matplotlib: ``pip install 'coded-runtime[plot]'``.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import EngFormatter
    except ImportError as exc:
        raise ImportError("plotting needs matplotlib: pip install 'coded-runtime[plot]'") from exc
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.add_subplot()
    for index, history in enumerate(histories):  # a later line dashed over an equal earlier one
        label = history.method + ("" if history.exact else " (not exact)")
        style = _LINE_STYLES[index % len(_LINE_STYLES)]
        values = history.series(quantity)
        axes.plot(history.times, values, style, label=label, linewidth=2.4 - 0.4 * index)
    if target is not None:
        axes.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    axes.set_xlabel("wall time")
    axes.set_ylabel("mean loss" if quantity == "loss" else quantity.replace("_", " "))
    axes.set_yscale("log")
    axes.xaxis.set_major_formatter(EngFormatter(unit="s"))  # 20 ms, 1.5 s: no "1e-5" offset
    axes.grid(alpha=0.3)
    axes.set_title(
        title or f"{'loss' if quantity == 'loss' else quantity.replace('_', ' ')} against wall time"
    )
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    if path is not None:
        figure.savefig(path, dpi=150)
    return figure
