"""Argument checks shared by every package: one message form, naming the argument, what it
must be and what it was.

>>> check_int(9, "k", maximum=8, maximum_name="n")
Traceback (most recent call last):
...
ValueError: Argument 'k' must be at most n=8, not 9.
>>> check_number("10", "deadline", minimum=0, above=True, what="a positive number of seconds")
Traceback (most recent call last):
...
TypeError: Argument 'deadline' must be a positive number of seconds, not '10' (str).
>>> check_array([[1, 2], [3]], "A")
Traceback (most recent call last):
...
ValueError: Argument 'A' must be a rectangular array of numbers, not [[1, 2], [3]] (list), ...
"""

from __future__ import annotations

import importlib
import numbers
import reprlib
from collections.abc import Callable, Collection, Sequence

import numpy as np

__all__ = [
    "resolve_function",
    "check_blocks",
    "describe",
    "check_int",
    "check_number",
    "check_bool",
    "check_choice",
    "check_instance",
    "check_array",
]

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40


def describe(value) -> str:
    """An actual value as messages show it: a short repr and its type (an array: its shape
    and dtype).

    >>> describe("10"), describe(None), describe(np.zeros((4, 2)))
    ("'10' (str)", 'None (NoneType)', 'an array of shape (4, 2) and dtype float64')
    """
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"{_REPR.repr(value)} ({type(value).__name__})"


def check_int(
    value,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    maximum_name: str | None = None,
) -> int:
    """Return ``value`` as an int, or raise naming the argument and the bound it broke."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument {name!r} must be an integer, not {describe(value)}.")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"Argument {name!r} must be at least {minimum}, not {value}.")
    if maximum is not None and value > maximum:
        bound = f"{maximum_name}={maximum}" if maximum_name else str(maximum)
        raise ValueError(f"Argument {name!r} must be at most {bound}, not {value}.")
    return value


def check_number(
    value,
    name: str,
    minimum: float | None = None,
    *,
    above: bool = False,
    maximum: float | None = None,
    below: bool = False,
    what: str = "a finite number",
) -> float:
    """``value`` as a finite float within bounds (``> minimum`` if ``above``, ``< maximum``
    if ``below``), or an error naming the argument: TypeError for a non-number, ValueError
    for NaN, Inf or a bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument {name!r} must be {what}, not {describe(value)}.")
    if not np.isfinite(value):
        raise ValueError(f"Argument {name!r} must be {what}, not {value!r}.")
    value = float(value)
    if minimum is not None and (value <= minimum if above else value < minimum):
        relation = "greater than" if above else "at least"
        raise ValueError(f"Argument {name!r} must be {relation} {minimum:g}, not {value:g}.")
    if maximum is not None and (value >= maximum if below else value > maximum):
        relation = "less than" if below else "at most"
        raise ValueError(f"Argument {name!r} must be {relation} {maximum:g}, not {value:g}.")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` if it is True or False (a numpy bool too), else a TypeError naming it."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"Argument {name!r} must be True or False, not {describe(value)}.")
    return bool(value)


def check_choice(value, name: str, choices: Collection):
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    try:
        known = value in choices
    except TypeError:  # an unhashable value cannot be a key of a dict of choices
        known = False
    if not known:
        raise ValueError(
            f"Argument {name!r} must be one of {list(choices)}, not {describe(value)}."
        )
    return value


def check_instance(value, name: str, cls: type | tuple[type, ...], what: str):
    """``value`` if it is an instance of ``cls``, else a TypeError saying it must be ``what``."""
    if not isinstance(value, cls):
        raise TypeError(f"Argument {name!r} must be {what}, not {describe(value)}.")
    return value


def check_blocks(blocks, k: int, field, name: str = "blocks") -> list[np.ndarray]:
    """``blocks`` as ``k`` arrays of one shape, each validated by ``field`` (a
    :class:`~coded.fields.RealField` or :class:`~coded.fields.PrimeField`), or an error
    naming them: the k data blocks that Lagrange and Berrut codes encode.

    >>> from coded.fields import RealField
    >>> check_blocks([np.ones(2), np.ones(3)], 2, RealField())
    Traceback (most recent call last):
    ...
    ValueError: Argument 'blocks[1]' must have the shape (2,) of blocks[0], not (3,).
    """
    if isinstance(blocks, np.ndarray):
        blocks = list(blocks)
    if not isinstance(blocks, Sequence) or isinstance(blocks, str) or len(blocks) != k:
        got = len(blocks) if isinstance(blocks, Sequence) else describe(blocks)
        raise ValueError(f"Argument {name!r} must hold k={k} arrays, not {got}.")
    arrays = [field.validate(b, f"{name}[{j}]") for j, b in enumerate(blocks)]
    for j, array in enumerate(arrays):
        if array.shape != arrays[0].shape:
            raise ValueError(
                f"Argument '{name}[{j}]' must have the shape {arrays[0].shape} of {name}[0], "
                f"not {array.shape}."
            )
    return arrays


def check_array(x, name: str, ndim: Collection[int] | None = None) -> np.ndarray:
    """``x`` as a non-empty numpy array of numbers (bool, integer, float or complex) with
    ``ndim`` dimensions (any when None), or an error naming the argument: ragged nested
    lists, strings, objects, the wrong number of dimensions, a zero-length axis."""
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as exc:  # numpy refuses ragged nested sequences
        raise ValueError(
            f"Argument {name!r} must be a rectangular array of numbers, not {describe(x)}, "
            f"whose rows differ in length."
        ) from exc
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"Argument {name!r} must be an array of numbers, not {describe(x)}.")
    if ndim is not None and array.ndim not in ndim:
        dims = " or ".join(f"{d}-D" for d in sorted(ndim))
        raise ValueError(
            f"Argument {name!r} must be a {dims} array, not {array.ndim}-D (shape {array.shape})."
        )
    if array.size == 0:
        raise ValueError(f"Argument {name!r} must not be empty, not of shape {array.shape}.")
    return array


def resolve_function(f, name: str = "f") -> Callable:
    """``f`` itself if callable; for ``"module:function"`` (a YAML job's spelling, dots
    allowed after the colon) the function it names, imported; else an error naming the
    argument ``name``.

    >>> resolve_function("numpy:tanh") is np.tanh
    True
    >>> resolve_function("numpy", "grad_fn")
    Traceback (most recent call last):
    ...
    ValueError: Argument 'grad_fn' must name a function as 'module:function', not 'numpy'.
    """
    if callable(f):
        return f
    if not isinstance(f, str):
        raise TypeError(
            f"Argument {name!r} must be callable or a 'module:function' string, not {describe(f)}."
        )
    module_name, _, attribute = f.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise ValueError(f"Argument {name!r} must name a function as 'module:function', not {f!r}.")
    try:
        value = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"Argument {name!r} names {f!r}, which cannot be imported: {exc}") from exc
    if not callable(value):
        raise ValueError(
            f"Argument {name!r} names {f!r}, which is not callable but {describe(value)}."
        )
    return value
