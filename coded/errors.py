"""Exceptions raised by :mod:`coded`.

Every exception subclasses a builtin, so ``except ValueError`` keeps working::

    CodedError
    ├── NotDecodableError(CodedError, ValueError)   too few (or unusable) responses
    ├── NotEncodedError(CodedError, ValueError, AttributeError)   decode() before encode()
    └── IllConditionedError(CodedError, ArithmeticError)   a real decoding system is too unstable
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["CodedError", "NotDecodableError", "NotEncodedError", "IllConditionedError"]


class CodedError(Exception):
    """Base class of every error raised on purpose by :mod:`coded`."""


class NotDecodableError(CodedError, ValueError):
    """The responses at hand do not determine the result.

    Attributes:
        available: the worker indices that responded, sorted.
        needed: how many responses the code needs (its recovery threshold).
    """

    def __init__(self, available: Iterable[int], needed: int, detail: str = ""):
        self.available = tuple(sorted(available))
        self.needed = int(needed)
        message = (
            f"cannot decode from {len(self.available)} responses {list(self.available)}: "
            f"the code needs {self.needed}"
        )
        super().__init__(message + (f" ({detail})" if detail else ""))

    def __reduce__(self):
        return (type(self), (self.available, self.needed))


class NotEncodedError(CodedError, ValueError, AttributeError):
    """``decode`` was called on a code that has not encoded anything yet."""


class IllConditionedError(CodedError, ArithmeticError):
    """The real-valued decoding system is too ill-conditioned to trust its result."""
