"""Exceptions raised by :mod:`coded`.

Every exception subclasses a builtin, so ``except ValueError`` keeps working::

    CodedError
    ├── NotDecodableError(CodedError, ValueError)   too few (or unusable) responses
    │   └── UncorrectableError   the responses disagree beyond what ``byzantine=A`` corrects
    ├── BadResponseError(CodedError, ValueError)    a response that is not a result: which worker
    ├── NotEncodedError(CodedError, ValueError, AttributeError)   decode() before encode()
    ├── IllConditionedError(CodedError, ArithmeticError)   a real decoding system is too unstable
    └── DivergedError(CodedError, ValueError)       iterates or loss blew up (training, saddle)
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
    """A real decode whose error bound exceeds the code's accuracy: refused, not returned.

    The bound is the condition number of the system the workers' responses are decoded
    with times the unit roundoff of the responses' dtype (:mod:`coded.conditioning`).

    Attributes:
        code: the code's repr.
        workers: the worker indices the decode would use, sorted.
        condition: the condition number of their decoding system.
        bound: the error bound, relative.
        accuracy: the largest bound the code accepts (its ``accuracy``).
        dtype: the name of the responses' dtype the bound was computed for.

    >>> error = IllConditionedError("MDSCode(n=3, k=2)", [2, 0], 2e13, 4.4e-3, 1e-3, "float64")
    >>> error.workers, str(error)[:64]
    ((0, 2), 'MDSCode(n=3, k=2) cannot decode workers [0, 2] accurately: their')
    """

    def __init__(
        self,
        code: str,
        workers: Iterable[int],
        condition: float,
        bound: float,
        accuracy: float,
        dtype: str,
    ):
        self.code, self.workers = str(code), tuple(sorted(int(i) for i in workers))
        self.condition, self.bound = float(condition), float(bound)
        self.accuracy, self.dtype = float(accuracy), str(dtype)
        super().__init__(
            f"{self.code} cannot decode workers {list(self.workers)} accurately: their "
            f"decoding system has condition number {self.condition:.2e}, so with {self.dtype} "
            f"responses the error bound is {self.bound:.1e}, above the code's accuracy "
            f"{self.accuracy:g}. Wait for more responses, use "
            f"{'float64 or ' if self.dtype != 'float64' else ''}an exact field, or raise the "
            f"code's accuracy."
        )

    def __reduce__(self):
        args = (self.code, self.workers, self.condition, self.bound, self.accuracy, self.dtype)
        return (type(self), args)


class DivergedError(CodedError, ValueError):
    """Training diverged: the loss, the gradient or the model became non-finite.

    For a first-order method the step size is too large for the data (the workers are
    not at fault); a second-order method (``lr`` None) chose its steps by line search, so
    the data or the curvature overflowed (try ``damping``).

    Attributes:
        iteration: the iteration (0-based) whose values were non-finite.
        what: which values, e.g. ``"the loss"``.
        lr: the optimiser's step size (None for second-order methods).
        argument: the name of the step-size argument to lower (``"lr"``; ``"step"`` for
            :func:`coded.solve_saddle`).
        became: what became of the values (``"non-finite"``, or e.g. ``"larger than 1e+10"``).

    >>> error = DivergedError(3, "the iterate", 0.5, argument="step", became="larger than 1e+10")
    >>> str(error).split("; ")[1]
    "lower the step size 'step' (now 0.5)"
    """

    def __init__(
        self,
        iteration: int,
        what: str,
        lr: float | None,
        argument: str = "lr",
        became: str = "non-finite",
    ):
        self.iteration, self.what = int(iteration), what
        self.lr = None if lr is None else float(lr)
        self.argument, self.became = argument, became
        if self.lr is None:
            hint = "the data or the curvature overflowed (try a positive 'damping')"
        else:
            size = "learning rate" if argument == "lr" else "step size"
            hint = f"lower the {size} {argument!r} (now {self.lr!r})"
        super().__init__(
            f"{'training ' if argument == 'lr' else ''}diverged at iteration {self.iteration}: "
            f"{what} became {became}; {hint}"
        )

    def __reduce__(self):
        return (type(self), (self.iteration, self.what, self.lr, self.argument, self.became))
