"""Argument checks shared by every package: one message form, naming the argument.

>>> check_int(9, "k", maximum=8, maximum_name="n")
Traceback (most recent call last):
...
ValueError: Argument 'k' must be at most n=8, not 9.
"""

from __future__ import annotations

import numbers

__all__ = ["check_int"]


def check_int(
    value,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    maximum_name: str | None = None,
) -> int:
    """Return ``value`` as an int, or raise naming the argument and the bound it broke."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument {name!r} must be an integer, not {value!r}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"Argument {name!r} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        bound = f"{maximum_name}={maximum}" if maximum_name else str(maximum)
        raise ValueError(f"Argument {name!r} must be at most {bound}, not {value}.")
    return value
