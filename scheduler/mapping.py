"""Checks for coded maps: a user's function ``f`` that workers apply to coded shares.

:meth:`~coded.scheduler.runtime.Runtime.map` places k data blocks as the shares of a code
whose workers apply a function (:class:`~coded.LagrangeCode`: exact for polynomials of the
declared degree; :class:`~coded.BerrutCode`: approximate, any ``f``), and each round asks
every worker for ``f(share, *args)`` (:class:`~coded.workers.kernels.Apply`). What is
checked here, before any worker starts: that ``f`` can reach the workers, that the code is
one whose workers apply functions, and the extra answers a round may wait for.
"""

from __future__ import annotations

from collections.abc import Callable

from coded import Code
from coded.checks import check_int, describe, resolve_function

from .runtime import check_code

__all__ = ["check_function", "check_map_code", "check_verify"]


def check_function(f) -> Callable | str:
    """``f`` if the workers can run it: a callable that pickles (Ray ships it with
    cloudpickle, so a lambda or closure will do, a lock or an open file will not), or a
    ``"module:function"`` string that imports here.

    >>> check_function("numpy:nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Argument 'f' names 'numpy:nonexistent', which cannot be imported: ...
    """
    resolve_function(f)
    if callable(f):
        from ray import cloudpickle

        try:
            cloudpickle.dumps(f)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same
            raise TypeError(
                f"Argument 'f' must pickle to reach the workers (a module-level function, a "
                f"picklable callable object, or 'module:function'), not {describe(f)}: {exc}"
            ) from exc
    return f


def check_map_code(code, n: int | None = None, byzantine: int = 0) -> Code:
    """``code`` if its workers apply a function to a coded share (Lagrange, Berrut), fits
    ``n`` workers and can correct ``byzantine`` wrong answers (approximate codes cannot)."""
    check_code(code)
    if not code.maps:
        raise TypeError(
            f"Argument 'code' must be a code whose workers apply f to a coded share "
            f"(coded.LagrangeCode, coded.BerrutCode), not {code!r}."
        )
    if byzantine and code.approximate:
        raise ValueError(
            f"Argument 'byzantine' must be 0 with {code!r}: an approximate code's answers "
            f"carry no redundancy to tell a wrong one from an approximation, not {byzantine}."
        )
    return check_code(code, n, byzantine)


def check_verify(verify, code: Code, byzantine: int = 0) -> int:
    """``verify`` if ``code`` has that many answers to spare beyond its quorum.

    >>> from coded import LagrangeCode
    >>> check_verify(3, LagrangeCode(6, 2, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Argument 'verify' must be at most n − threshold − 2·byzantine = 6 − 4 − 0 = 2, ...
    """
    verify = check_int(verify, "verify", minimum=0)
    if verify and code.approximate:
        raise ValueError(
            f"Argument 'verify' must be 0 with {code!r}: approximate answers never agree "
            f"exactly, not {verify}."
        )
    spare = code.n - code.recovery_threshold - 2 * byzantine
    if verify > spare:
        raise ValueError(
            f"Argument 'verify' must be at most n − threshold − 2·byzantine = {code.n} − "
            f"{code.recovery_threshold} − {byzantine} = {spare}, not {verify}."
        )
    return verify
