"""Exceptions raised by :mod:`coded`.

Every exception subclasses a builtin, so ``except ValueError`` keeps working::

    CodedError
    ├── NotDecodableError(CodedError, ValueError)   too few (or unusable) responses
    │   └── UncorrectableError   the responses disagree beyond what ``byzantine=A`` corrects
    ├── BadResponseError(CodedError, ValueError)    a response that is not a result: which worker
    ├── NotEncodedError(CodedError, ValueError, AttributeError)   decode() before encode()
    ├── IllConditionedError(CodedError, ArithmeticError)   a real decoding system is too unstable
    └── DivergedError(CodedError, ValueError)       training's loss or model became non-finite
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CodedError",
    "NotDecodableError",
    "BadResponseError",
    "NotEncodedError",
    "IllConditionedError",
    "DivergedError",
    "UncorrectableError",
]


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


class BadResponseError(CodedError, ValueError):
    """A worker's response cannot be decoded: not an array of numbers, or of the wrong shape.

    Attributes:
        worker: the index of the worker whose response is bad.
        reason: what is wrong with it.

    >>> str(BadResponseError(3, "it must be an array of numbers, not None (NoneType)"))
    'the response of worker 3 is bad: it must be an array of numbers, not None (NoneType)'
    """

    def __init__(self, worker: int, reason: str):
        self.worker, self.reason = int(worker), reason
        super().__init__(f"the response of worker {self.worker} is bad: {reason}")

    def __reduce__(self):
        return (type(self), (self.worker, self.reason))


class UncorrectableError(NotDecodableError):
    """The responses disagree in more ways than ``byzantine`` faulty workers explain.

    Raised by :meth:`~coded.Code.correct`. Attributes as :class:`NotDecodableError`, plus:

    Attributes:
        byzantine: how many faulty workers the caller allowed for.
        detail: what the decoder saw (how many workers disagree, the residual).
    """

    def __init__(self, available: Iterable[int], needed: int, byzantine: int, detail: str):
        self.available = tuple(sorted(available))
        self.needed = int(needed)
        self.byzantine = int(byzantine)
        self.detail = detail
        CodedError.__init__(
            self,
            f"cannot correct the {len(self.available)} responses {list(self.available)} "
            f"with byzantine={self.byzantine}: {detail}",
        )

    def __reduce__(self):
        return (type(self), (self.available, self.needed, self.byzantine, self.detail))


class NotEncodedError(CodedError, ValueError, AttributeError):
    """``decode`` was called on a code that has not encoded anything yet."""


class IllConditionedError(CodedError, ArithmeticError):
    """The real-valued decoding system is too ill-conditioned to trust its result."""


class DivergedError(CodedError, ValueError):
    """Training diverged: the loss, the gradient or the model became non-finite.

    The step size is too large for the data (the workers are not at fault).

    Attributes:
        iteration: the iteration (0-based) whose values were non-finite.
        what: which values, e.g. ``"the loss"``.
        lr: the optimiser's step size.
    """

    def __init__(self, iteration: int, what: str, lr: float):
        self.iteration, self.what, self.lr = int(iteration), what, float(lr)
        super().__init__(
            f"training diverged at iteration {self.iteration}: {what} became non-finite; "
            f"lower the learning rate 'lr' (now {self.lr!r})"
        )

    def __reduce__(self):
        return (type(self), (self.iteration, self.what, self.lr))
