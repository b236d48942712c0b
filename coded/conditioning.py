"""The one guard every real decode passes: its error bound against the code's accuracy.

A real code decodes by solving a linear system built from the evaluation points of the
workers that responded. Rounding errors of relative size ε in the responses (ε the unit
roundoff of their dtype: 1.2e-7 for float32, 2.2e-16 for float64) come out of the decode
amplified by at most about the system's condition number κ, so

    error bound = κ · ε.

:meth:`coded.Code.decode` computes κ once per worker set (cached, like the decoding
matrix) and refuses, with :class:`~coded.IllConditionedError`, any decode whose bound
exceeds the code's ``accuracy`` (default 1e-3; set it on a code or a subclass) instead of
returning a result that may be wrong in every digit. Measured over the straggler sets of
``benchmarks/codes.py`` and ``benchmarks/lagrange_stability.py``, the error of an accepted
decode stays below the bound in float32 and within 3× of it in float64.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .errors import IllConditionedError

__all__ = ["error_bound", "response_dtype", "check_conditioning"]


def response_dtype(responses: Iterable[np.ndarray]) -> np.dtype:
    """The least precise dtype among real ``responses`` (integers count as float64: exact).

    >>> response_dtype([np.zeros(2, np.float64), np.zeros(2, np.float32), np.zeros(2, int)])
    dtype('float32')
    """
    dtypes = [
        a.dtype if np.issubdtype(a.dtype, np.floating) else np.dtype(np.float64) for a in responses
    ]
    return max(dtypes, key=lambda dtype: np.finfo(dtype).eps)


def error_bound(condition: float, dtype) -> float:
    """``condition · ε(dtype)``: the relative error a decode with this condition number risks.

    >>> error_bound(1e4, np.float32)
    0.0011920928955078125
    """
    return float(condition) * float(np.finfo(dtype).eps)


def check_conditioning(code, used: tuple[int, ...], condition: float, dtype) -> float:
    """The error bound of decoding ``code`` from workers ``used``; raise above its accuracy.

    Raises :class:`~coded.IllConditionedError`, naming the code, the workers, the
    condition number and the bound, when ``error_bound(condition, dtype) > code.accuracy``.

    >>> from coded import LagrangeCode
    >>> code = LagrangeCode(32, 8, 2)
    >>> check_conditioning(code, (0, 1, 2), 1e6, np.float64) < code.accuracy
    True
    >>> check_conditioning(code, (0, 1, 2), 1e6, np.float32)
    Traceback (most recent call last):
    ...
    coded.errors.IllConditionedError: LagrangeCode(n=32, ...) cannot decode workers [0, 1, 2] ...
    """
    bound = error_bound(condition, dtype)
    if bound > code.accuracy:
        raise IllConditionedError(
            repr(code), used, condition, bound, code.accuracy, np.dtype(dtype).name
        )
    return bound
