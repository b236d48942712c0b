"""Progress bars for long work: tqdm on stderr, shown on a terminal only, and never under
``coded --quiet``.

A bar wraps an iterable, or is a context manager counting ``update(k)`` calls:

>>> list(progress(range(3), desc="rounds", enabled=False))
[0, 1, 2]
>>> with progress(total=2, desc="passes", enabled=False) as bar:
...     bar.update(2)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["progress", "set_quiet", "quiet"]

_quiet = False  # coded --quiet


def set_quiet(quiet: bool) -> None:
    """Hide every bar :func:`progress` makes from now on (``True``), or show them again."""
    global _quiet
    _quiet = bool(quiet)


def quiet() -> bool:
    """Whether ``coded --quiet`` hid every progress bar (:func:`set_quiet`)."""
    return _quiet


def progress(
    iterable: Iterable | None = None,
    *,
    total: float | None = None,
    desc: str | None = None,
    unit: str = "it",
    enabled: bool | None = None,
):
    """A tqdm bar on stderr that clears itself when done.

    Args:
        iterable: what to iterate over (None: call ``update`` yourself).
        total: the count expected (default: ``len(iterable)``).
        desc: what is counted, before the bar.
        unit: the name of one step.
        enabled: True always shows the bar, False never; None shows it when stderr is a
            terminal. :func:`set_quiet` hides it whatever this says.
    """
    from tqdm.auto import tqdm

    disable = True if _quiet or enabled is False else (None if enabled is None else False)
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=disable,  # None: tqdm shows it only on a terminal
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        delay=0.5,  # nothing for work that ends at once
    )
