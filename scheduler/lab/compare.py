"""Coded vs uncoded vs replication on the same workers: what ``make demo`` and the benchmark run.

The three strategies share one :class:`~coded.scheduler.runtime.Runtime` and take rounds in
turn, so persistent stragglers hit them alike and i.i.d. ones follow the same law. Each
strategy's worker does different work (1/k of ``A`` coded, 1/n uncoded, r/n replicated):
that trade-off is the point of the comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from coded import Code, MDSCode
from coded.replication import Replication

from ..metrics import RoundMetrics
from ..runtime import Runtime

__all__ = ["strategies", "compare", "latency_table"]


def strategies(n: int, k: int, r: int = 2) -> dict[str, Code]:
    """``coded`` (an (n, k) MDS code), ``uncoded`` (wait for all n), ``replication`` (r copies).

    >>> list(strategies(8, 6))
    ['coded', 'uncoded', 'replication']
    """
    return {"coded": MDSCode(n, k), "uncoded": Replication(n, 1), "replication": Replication(n, r)}


def compare(
    runtime: Runtime,
    A,
    x,
    codes: Mapping[str, Code],
    rounds: int,
    warmup: int = 2,
    progress: Callable[[int], object] | None = None,
) -> dict[str, list[RoundMetrics]]:
    """Run ``rounds`` products ``A @ x`` per strategy, in turn; return each one's round metrics.

    The first ``warmup`` rounds of each strategy (first-use costs) are run but not returned.
    Every result is checked against ``A @ x``. ``progress`` (e.g. ``tqdm.update``) is called
    with 1 after each turn of all strategies.
    """
    operators = {name: runtime.place(A, code=code) for name, code in codes.items()}
    expected = A @ x
    for _ in range(warmup + rounds):
        for op in operators.values():
            y = op @ x
            if not np.allclose(y, expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max()):
                raise ArithmeticError(f"{op.code!r} returned a wrong product")
        if progress is not None:
            progress(1)
    for op in operators.values():
        op.close()
    return {name: list(op.history)[warmup:] for name, op in operators.items()}


def latency_table(results: Mapping[str, list[RoundMetrics]], baseline: str = "uncoded") -> str:
    """Median / p90 latency of each strategy and its ratio to ``baseline``, as aligned text."""
    medians = {
        name: float(np.median([m.total_s for m in rounds])) for name, rounds in results.items()
    }
    lines = [f"{'strategy':<13}{'median ms':>11}{'p90 ms':>9}{'vs ' + baseline:>14}"]
    for name, rounds in results.items():
        p90 = float(np.percentile([m.total_s for m in rounds], 90))
        lines.append(
            f"{name:<13}{1e3 * medians[name]:>11.1f}{1e3 * p90:>9.1f}"
            f"{medians[name] / medians[baseline]:>13.2f}x"
        )
    return "\n".join(lines)
