"""Reports of simulated (or measured) scenarios: a table of ratios and a PNG.

The PNG has one panel of latency CDFs per scenario (one curve per strategy) and a last
panel of speed-up over the baseline against redundancy (total work over the job's work:
``n · share``), one point per strategy and scenario. matplotlib is an optional extra,
imported only here and only when a plot is asked for.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .scenarios import ScenarioResult

__all__ = ["PlotUnavailableError", "format_table", "markdown_table", "plot_report"]

INSTALL_HINT = "pip install 'coded-runtime[plot]'"


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
            name = r.strategy.name + (
                " (baseline)" if r.strategy.name == result.scenario.baseline else ""
            )
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


def _seconds(value: float) -> str:
    return "inf" if not math.isfinite(value) else f"{value:.4g}"


def plot_report(results: list[ScenarioResult], path: str | Path) -> Path:
    """Write the PNG report to ``path``; raises :class:`PlotUnavailableError` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailableError(
            f"plots need matplotlib, which is not installed: {INSTALL_HINT}"
        ) from exc
    panels = len(results) + 1
    columns = min(3, panels)
    rows = -(-panels // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, result in zip(flat, results, strict=False):
        _cdf_panel(ax, result)
    _speedup_panel(flat[len(results)], results)
    for ax in flat[panels:]:
        ax.set_visible(False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _cdf_panel(ax, result: ScenarioResult) -> None:
    for r in result.results:
        latency = np.sort(r.latency[np.isfinite(r.latency)])
        if latency.size == 0:
            continue
        step = max(1, latency.size // 2000)  # a few thousand points draw the curve
        probability = np.arange(1, latency.size + 1) / r.latency.size
        ax.plot(latency[::step], probability[::step], label=r.strategy.name)
    finite = np.concatenate([r.latency[np.isfinite(r.latency)] for r in result.results])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
        ax.set_xscale("log")  # heavy tails
    ax.set_title(f"{result.scenario.name} (n={result.scenario.n})")
    ax.set_xlabel("round latency")
    ax.set_ylabel("P(latency ≤ t)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def _speedup_panel(ax, results: list[ScenarioResult]) -> None:
    for result in results:
        speedups = result.speedups()
        redundancy = [r.strategy.redundancy for r in result.results]
        median = [speedups[r.strategy.name]["median"] for r in result.results]
        ax.scatter(redundancy, median, label=result.scenario.name)
        for x, y, r in zip(redundancy, median, result.results, strict=True):
            ax.annotate(
                r.strategy.name,
                (x, y),
                fontsize="x-small",
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_title("speed-up against redundancy")
    ax.set_xlabel("redundancy (total work / job)")
    ax.set_ylabel("median speed-up over baseline")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
