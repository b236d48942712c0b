"""Reports of simulated (or measured) scenarios: a table of ratios and figures.

:func:`report_figure` (the PNG of ``coded simulate``) has one panel per scenario with
decodable rounds, the empirical CDF of each strategy's round latency, and one panel of
speed-ups over the baseline: the median and the p99 per strategy, as paired markers on
either side of the 1× line. :func:`bench_figure` (the PNG of ``coded bench``) draws, per
scenario, each strategy's measured ECDF (solid, broad and pale) and the calibrated
simulator's prediction of the same rounds (thin, dashed, the same colour, on top).

Time axes are in ms when a panel's slowest round is under a second, else in s. They are
logarithmic when the panel's latencies span a factor of :data:`LOG_SPAN` or more: heavy
tails and strategies far apart then keep their shape, and the horizontal gap between two
curves reads as a ratio, the speed-up at that quantile; on a narrower span a log axis looks
linear anyway and plain ticks read better. A strategy keeps its colour in every panel;
legends sit beside the axes, and a curve that coincides with an earlier one is dashed over
it and says so in its label. matplotlib is an optional extra, imported only here and only
when a figure is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .scenarios import ScenarioResult
from .simulator import SimulationResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .bench import BenchResult

__all__ = [
    "LOG_SPAN",
    "PlotUnavailableError",
    "bench_figure",
    "format_table",
    "markdown_table",
    "plot_bench",
    "plot_report",
    "report_figure",
]

INSTALL_HINT = "pip install 'coded-runtime[plot]'"
LOG_SPAN = 3.0  # a time axis is logarithmic when max / min latency reaches this
_SAME = 0.01  # curves whose quantiles all agree within 1% coincide on the plot
_CURVE_POINTS = 2000  # an ECDF of more rounds is drawn through this many of them
_PANEL = (4.4, 3.6)  # inches of one ECDF panel, its legend beside it not counted
# log-axis ticks by the span (max / min) of the data: (least span, multiples of each decade)
_TICKS = (
    (1e4, (1.0,)),
    (300.0, (1.0, 3.0)),
    (30.0, (1.0, 2.0, 5.0)),
    (3.0, (1.0, 2.0, 3.0, 5.0, 7.0)),
    (0.0, (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)),
)


class PlotUnavailableError(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def format_table(results: list[ScenarioResult]) -> str:
    """A Markdown table: latency figures, wasted work and speed-ups over the baseline.

    Latencies are in the units of ``work`` (seconds); speed-up = baseline / strategy.
    """
    header = (
        "scenario",
        "strategy",
        "redundancy",
        "mean",
        "median",
        "p99",
        "wasted",
        "speed-up mean",
        "speed-up median",
        "speed-up p99",
    )
    rows = []
    for result in results:
        speedups = result.speedups()
        for r in result.results:
            name = _name(r, result.scenario.baseline)
            up = speedups[r.strategy.name]
            rows.append(
                (
                    result.scenario.name,
                    name,
                    f"{r.strategy.redundancy:.2f}",
                    _seconds(r.mean),
                    _seconds(r.median),
                    _seconds(r.p99),
                    f"{100 * r.wasted_fraction:.1f}%",
                    f"{up['mean']:.2f}x",
                    f"{up['median']:.2f}x",
                    f"{up['p99']:.2f}x",
                )
            )
    return markdown_table(header, rows)


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Rows of strings as an aligned Markdown table.

    >>> print(markdown_table(("a", "bb"), [("1", "2")]))
    | a | bb |
    |---|----|
    | 1 | 2  |
    """
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in [header, *rows]
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _name(result: SimulationResult, baseline: str) -> str:
    return result.strategy.name + (" (baseline)" if result.strategy.name == baseline else "")


def _seconds(value: float) -> str:
    return "inf" if not math.isfinite(value) else f"{value:.4g}"


def report_figure(results: Sequence[ScenarioResult]) -> Figure:
    """The figure of ``coded simulate``: latency ECDFs per scenario, and the speed-ups.

    Only panels with data are laid out: a scenario whose rounds are all undecodable has
    none, and the speed-up panel needs a strategy besides a baseline.
    """
    shown = [r for r in results if _has_rounds(r.results)]
    compared = [r for r in shown if len(r.results) > 1]
    fig, panels, side = _figure(len(shown), sum(len(r.results) for r in compared))
    colours = _colours(shown)
    for ax, result in zip(panels, shown, strict=True):
        scenario = result.scenario
        curves = [
            (r, _name(r, scenario.baseline) + note, {"color": colours[r.strategy.name], **style})
            for r, style, note in _coinciding(result.results)
        ]
        _ecdf_panel(ax, f"{scenario.name}: n={scenario.n}, {scenario.rounds} rounds", curves)
    if side is not None:
        _speedup_panel(side, compared, colours)
    return fig


def bench_figure(results: Sequence[BenchResult]) -> Figure:
    """The figure of ``coded bench``: per scenario, each strategy's measured ECDF (solid,
    broad and pale) and the calibrated simulator's prediction of the same rounds (dashed,
    thin, the same colour: visible where the two coincide); the legend gives the predicted
    median's difference from the measured one."""
    shown = [r for r in results if _has_rounds(r.measured.results)]
    fig, panels, _ = _figure(len(shown), 0)
    colours = _colours([r.measured for r in shown])
    for ax, result in zip(panels, shown, strict=True):
        curves = []
        for real, sim in zip(result.measured.results, result.predicted.results, strict=True):
            name, colour = real.strategy.name, colours[real.strategy.name]
            change = round((sim.median - real.median) / real.median, 3) + 0.0  # no "-0.0%"
            measured = {"color": colour, "linestyle": "-", "linewidth": 3.0, "alpha": 0.45}
            predicted = {"color": colour, "linestyle": "--", "linewidth": 1.3}
            curves.append((real, f"{name} measured", measured))
            curves.append((sim, f"{name} predicted (median {change:+.1%})", predicted))
        scenario = result.measured.scenario
        title = f"{scenario.name}: n={scenario.n}, {scenario.rounds} measured rounds"
        _ecdf_panel(ax, title, curves)
    return fig


def plot_report(results: Sequence[ScenarioResult], path: str | Path) -> Path:
    """Save :func:`report_figure` to ``path`` (PNG, or PDF / SVG by the suffix)."""
    return _save(report_figure(results), path)


def plot_bench(results: Sequence[BenchResult], path: str | Path) -> Path:
    """Save :func:`bench_figure` to ``path`` (PNG, or PDF / SVG by the suffix)."""
    return _save(bench_figure(results), path)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def _has_rounds(results: Sequence[SimulationResult]) -> bool:
    return any(np.isfinite(r.latency).any() for r in results)


def _figure(count: int, side_rows: int) -> tuple[Figure, list[Axes], Axes | None]:
    """A figure of ``count`` ECDF panels in rows of two (a last odd one centred) and, if
    ``side_rows``, a speed-up panel of that many rows to their right, all rows high."""
    if count == 0:
        raise ValueError("nothing to plot: no scenario has a decodable round")
    try:
        import matplotlib.figure  # the package first: a cached submodule is not enough
    except ImportError as exc:
        raise PlotUnavailableError(
            f"plots need matplotlib, which is not installed: {INSTALL_HINT}"
        ) from exc
    columns = min(2, count)
    rows = -(-count // columns)
    width = columns * (_PANEL[0] + 2.2)  # the legend beside each panel
    side = 5.5 if side_rows else 0.0
    height = max(rows * _PANEL[1], 0.3 * side_rows + 1.2)
    fig = matplotlib.figure.Figure(figsize=(width + side, height), layout="constrained")
    outer = fig.add_gridspec(1, 2, width_ratios=[width, side]) if side else fig.add_gridspec(1, 1)
    grid = outer[0].subgridspec(rows, 2 * columns)
    panels = []
    for i in range(count):
        row, column = divmod(i, columns)
        start = 2 * column + (columns * (row + 1) - count if row == rows - 1 else 0)
        panels.append(fig.add_subplot(grid[row, start : start + 2]))
    return fig, panels, fig.add_subplot(outer[1]) if side_rows else None


def _colours(results: Sequence[ScenarioResult]) -> dict[str, tuple]:
    """One colour per strategy name, the same in every panel."""
    from matplotlib import colormaps

    names = list(dict.fromkeys(r.strategy.name for s in results for r in s.results))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _coinciding(results: Sequence[SimulationResult]):
    """Each result with its line's style and a label note: a curve on top of earlier ones
    (every quantile within :data:`_SAME`) is dashed (dotted for a third) over them, so that
    every one stays visible, and says which it coincides with."""
    styles = ("-", (0, (4, 3)), (0, (1, 2)), "-.")
    levels = np.linspace(0.0, 1.0, 101)
    quantiles = [r.quantile(levels) for r in results]
    for i, r in enumerate(results):
        same = [
            e.strategy.name
            for e, q in zip(results[:i], quantiles[:i], strict=True)
            if np.allclose(q, quantiles[i], rtol=_SAME, atol=0.0)
        ]
        note = f" (coincides with {same[0]})" if same else ""
        yield r, {"linestyle": styles[min(len(same), len(styles) - 1)]}, note


def _ecdf_panel(ax: Axes, title: str, curves) -> None:
    """Empirical CDFs of ``(result, label, line style)`` over all rounds (undecodable ones
    keep a curve below 1), in ms or s, on a log axis for a wide span."""
    latencies = [r.latency[np.isfinite(r.latency)] for r, *_ in curves]
    finite = np.concatenate(latencies)
    scale, unit = (1e3, "ms") if finite.max() < 1.0 else (1.0, "s")
    for (result, label, style), latency in zip(curves, latencies, strict=True):
        if result.undecodable:
            label += f", {result.undecodable:.1%} undecodable"
        x, y = _ecdf(np.sort(latency) * scale, result.latency.size)
        ax.plot(x, y, drawstyle="steps-post", label=label, **style)
    span = finite.max() / finite.min() if finite.min() > 0 else 0.0
    log = span >= LOG_SPAN
    if log:
        _log_axis(ax, span)
    ax.set_xlabel(f"round latency t ({unit}{', log scale' if log else ''})")
    ax.set_ylabel("fraction of rounds done by t")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3, which="both" if log else "major")
    _legend(ax)


def _ecdf(latency: np.ndarray, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps of the empirical CDF of sorted ``latency`` over ``rounds`` (the missing ones
    undecodable), from 0, through at most :data:`_CURVE_POINTS` of them.

    >>> _ecdf(np.array([1.0, 2.0, 4.0]), 4)
    (array([1., 1., 2., 4.]), array([0.  , 0.25, 0.5 , 0.75]))
    """
    if latency.size == 0:
        return latency, latency
    points = np.unique(np.linspace(0, latency.size - 1, _CURVE_POINTS).astype(int))
    return np.concatenate([latency[:1], latency[points]]), np.append(0.0, (points + 1) / rounds)


def _speedup_panel(ax: Axes, results: Sequence[ScenarioResult], colours) -> None:
    """Per strategy, a row with its median (filled) and p99 (open) speed-up over its
    scenario's baseline, on a log axis around the 1× line; scenario names head the rows."""
    labels, headers, values = [], [], [1.0]
    for result in results:
        if labels:
            ax.axhline(len(labels) - 0.5, color="0.8", lw=0.8)
        headers.append(len(labels))
        labels.append(f"{result.scenario.name} (vs {result.scenario.baseline})")
        speedups = result.speedups()
        for r in result.results:
            if r.strategy.name != result.scenario.baseline:
                up = {q: speedups[r.strategy.name][q] for q in ("median", "p99")}
                labels.append(_speedup_row(ax, len(labels), r, up, colours[r.strategy.name]))
                values += [v for v in up.values() if 0 < v < math.inf]
    ax.axvline(1.0, color="black", lw=1)
    ax.set_yticks(range(len(labels)), labels, fontsize="small")
    for i in headers:
        ax.get_yticklabels()[i].set_fontweight("bold")
    ax.set_ylim(len(labels) - 0.5, -0.5)
    _log_axis(ax, max(values) / min(values), "×")
    ax.set_xlabel("speed-up over the baseline (×, log scale)")
    ax.set_title("speed-up: median and p99 per strategy", fontsize="medium")
    ax.grid(alpha=0.3, axis="x", which="both")
    from matplotlib.lines import Line2D

    _legend(
        ax,
        [
            Line2D([], [], marker="o", color="0.3", linestyle="", label="median"),
            Line2D([], [], marker="D", color="0.3", mfc="white", linestyle="", label="p99"),
            Line2D([], [], color="black", lw=1, label="1× = the baseline"),
        ],
    )


def _speedup_row(ax: Axes, y: int, result: SimulationResult, up: dict, colour) -> str:
    """Draw one strategy's median and p99 speed-up at height ``y``; return its row label,
    which names a speed-up that cannot be drawn (0: undecodable, inf: the baseline is)."""
    shown = {q: v for q, v in up.items() if 0 < v < math.inf}
    ax.plot(list(shown.values()), [y] * len(shown), color=colour, alpha=0.5, lw=2)
    for q, marker, face in (("median", "o", colour), ("p99", "D", "white")):
        if q in shown:
            ax.plot(shown[q], y, marker, color=colour, mfc=face, ms=7, mew=1.5)
    notes = [f"redundancy {result.strategy.redundancy:.3g}"]
    notes += [
        f"{q} {'baseline undecodable' if v == math.inf else 'undecodable'}"
        for q, v in up.items()
        if q not in shown
    ]
    return f"{result.strategy.name} ({'; '.join(notes)})"


def _log_axis(ax: Axes, span: float, suffix: str = "") -> None:
    """A log x axis with plain tick labels (``0.2``, ``5×``), more of them on a short span."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    subs = next(subs for least, subs in _TICKS if span >= least)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}{suffix}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend(ax: Axes, handles=None) -> None:
    """The legend beside the axes, clear of the data."""
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        frameon=False,
    )
