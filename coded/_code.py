"""The contract every code follows, and the bookkeeping they share.

A code is built from a few parameters (``n`` is always the number of workers) and
rebuilds from them: ``type(code).from_config(code.get_config())``. ``encode`` records
the operand layout it needs to undo padding (attributes ending in ``_``, as in
scikit-learn), so ``decode(responses)`` takes only the mapping *worker index → result*.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .byzantine import Correction, Linear
from .byzantine import correct as _correct
from .byzantine import screen as _screen
from .checks import check_int
from .conditioning import check_conditioning, response_dtype
from .config import Configurable, registered
from .errors import BadResponseError, NotDecodableError, NotEncodedError
from .fields import RealField, as_field

__all__ = ["Code", "FunctionCode", "BlockLayout", "code_from_config"]


class Code(Configurable, family="code"):
    """Base class: ``n``, ``recovery_threshold``, ``work_share``, ``storage``, ``can_decode``,
    ``decode``; config round trip, repr and equality from :class:`~coded.config.Configurable`.

    Subclasses set ``_params`` (constructor argument names, in order), implement
    ``recovery_threshold``, ``work_share``, ``storage`` and ``_decode(responses)``, and may
    refine ``can_decode`` and ``select`` (which of the arrived responses decoding will use).
    """

    _params: tuple[str, ...] = ("n", "field")
    #: Matrices ``encode`` takes: 1 for ``encode(A)`` (a round multiplies the shares by an
    #: operand ``x``), 2 for ``encode(A, B)`` (a worker multiplies its pair), None when the
    #: code is not a matrix-product code (gradient and Lagrange codes).
    operands: int | None = None
    #: Whether a worker applies a user's function ``f`` to its coded share (Lagrange,
    #: Berrut): such codes encode k data blocks and decode ``f`` of each
    #: (:meth:`coded.scheduler.runtime.Runtime.map`).
    maps: bool = False
    #: Whether decoding approximates (Berrut): any non-empty set of responses decodes, more
    #: accurately the more there are, and ``error_estimate(indices)`` says how accurately.
    approximate: bool = False
    #: Largest relative error bound a real decode may have (:mod:`coded.conditioning`): a
    #: decode whose condition number times the responses' unit roundoff exceeds it raises
    #: :class:`~coded.IllConditionedError`. Set it on a code (``code.accuracy = 1e-9``) or a
    #: subclass; it is not part of the config.
    accuracy: float = 1e-3

    def __init__(self, n: int, field="real"):
        self._n = check_int(n, "n", minimum=1)
        self._field = as_field(field)
        self._decoders: dict[tuple[int, ...], np.ndarray] = {}
        self._conditions: dict[tuple[int, ...], float] = {}

    # -- parameters ------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of workers."""
        return self._n

    @property
    def field(self):
        """The arithmetic: :class:`~coded.fields.RealField` or :class:`~coded.fields.PrimeField`."""
        return self._field

    @property
    def is_real(self) -> bool:
        return isinstance(self._field, RealField)

    @property
    def recovery_threshold(self) -> int:
        """Size of every decodable set of responses (the smallest one, for gradient codes)."""
        raise NotImplementedError

    @property
    def work_share(self) -> float:
        """Fraction of the whole job's work one worker does.

        The job is the uncoded computation (``A @ X``, ``A @ B``, the full gradient, ``f`` on
        every data block); ``n · work_share`` is the code's total work over the job's (its
        redundancy: 1 for the uncoded split, n/k for an (n, k) MDS code).
        """
        raise NotImplementedError(f"{type(self).__name__} declares no work share")

    @property
    def storage(self) -> tuple[float, ...]:
        """Fraction of each input one worker holds: ``(A,)`` for ``encode(A)``, ``(A, B)`` for
        ``encode(A, B)``, ``(data,)`` for gradient and Lagrange codes. Operands sent with
        every round (the ``X`` of ``A @ X``, a model) are not counted."""
        raise NotImplementedError(f"{type(self).__name__} declares no storage")

    @property
    def pieces(self) -> Code | None:
        """The code over the pieces the workers report as they compute them, for codes that
        decode from partial work (:class:`~coded.ChunkedMDSCode`); None: a worker's answer
        is one piece."""
        return None

    # -- decodability ----------------------------------------------------------------
    def can_decode(self, indices: Iterable[int]) -> bool:
        """Whether the responses of these workers determine the result."""
        return len(self._check_indices(indices)) >= self.recovery_threshold

    def decoding_margin(self, indices: Iterable[int]) -> int:
        """How far these workers' responses are from the edge of decodability.

        When they decode: how many of them may be lost, whichever they are, with the rest
        still decoding (0: any loss is fatal). When they do not: minus the fewest further
        responses that could make them decode. The master waits for at most
        ``-margin(arrived)`` completions, and at most ``margin(arrived + running) + 1``,
        before it looks again: so that it sees at once when a round decodes, or when
        failures leave no decodable set.

        Exact for codes where any ``recovery_threshold`` responses decode,
        ``len(indices) - recovery_threshold``; a code that refines :meth:`can_decode` refines
        this too (else it gets the cautious 0 or -1).

        >>> from coded import MDSCode, Replication
        >>> MDSCode(8, 6).decoding_margin(range(8)), MDSCode(8, 6).decoding_margin([0, 1])
        (2, -4)
        >>> Replication(4, r=2).decoding_margin([0, 1, 2]), Replication(4, r=2).decoding_margin([0])
        (0, -1)
        """
        indices = self._check_indices(indices)
        if type(self).can_decode is Code.can_decode:  # any recovery_threshold responses decode
            return len(indices) - self.recovery_threshold
        return 0 if self.can_decode(indices) else -1

    @staticmethod
    def _cover_margin(groups: Iterable[int], count: int) -> int:
        """:meth:`decoding_margin` of a code that decodes once each of ``count`` groups has a
        response, given the group of each response."""
        sizes = Counter(groups)
        missing = count - len(sizes)
        return min(sizes.values()) - 1 if not missing else -missing

    def first_decodable(self, order: Iterable[int]) -> int | None:
        """Length of the shortest prefix of ``order`` that :meth:`can_decode` accepts, or None
        when all of ``order`` does not decode.

        ``order`` lists workers as their responses arrived. A set that contains a decodable
        set decodes, so the prefixes are bisected: O(log n) calls of :meth:`can_decode`.

        >>> from coded import MDSCode
        >>> order = [4, 0, 2, 1, 3]
        >>> MDSCode(5, 3).first_decodable(order), MDSCode(5, 3).first_decodable(order[:2])
        (3, None)
        """
        order = list(order)
        self._check_indices(order)
        if not self.can_decode(order):
            return None
        lo, hi = 0, len(order)  # the prefix of length hi decodes
        while lo < hi:
            mid = (lo + hi) // 2
            if self.can_decode(order[:mid]):
                hi = mid
            else:
                lo = mid + 1
        return hi

    def select(self, indices: Iterable[int]) -> tuple[int, ...]:
        """The responses ``decode`` will use out of those available (sorted).

        Real codes pick the best-conditioned subset; exact codes the first ones.
        """
        indices = self._check_indices(indices)
        if not self.can_decode(indices):
            raise NotDecodableError(indices, self.recovery_threshold)
        return self._select(indices)

    def _select(self, indices: tuple[int, ...]) -> tuple[int, ...]:
        return indices[: self.recovery_threshold]

    def decode(self, responses: Mapping[int, np.ndarray], *, screened: bool = False):
        """Recover the result from ``responses`` (worker index → that worker's result).

        Responses that are not results (:meth:`screen`: not an array of real numbers,
        integers in ``[0, p)`` over GF(p), the wrong shape, NaN or Inf among finite ones)
        are erasures: decoding uses only the others. Raises :class:`~coded.NotDecodableError`
        when the responses do not suffice, and :class:`~coded.BadResponseError`, naming the
        first bad worker, when the good ones alone do not. ``screened=True`` says the
        responses are arrays :meth:`screen` accepted (the runtime screens what it fetches),
        so they are not screened twice. Real codes raise :class:`~coded.IllConditionedError`
        when the decode's error bound exceeds :attr:`accuracy` (:mod:`coded.conditioning`).

        >>> import numpy as np
        >>> from coded import MDSCode
        >>> code, A, x = MDSCode(4, 2), np.arange(8.0).reshape(4, 2), np.ones(2)
        >>> responses = {i: share @ x for i, share in enumerate(code.encode(A))}
        >>> responses[0] = np.full(2, np.nan)  # never selected while two good ones arrived
        >>> np.allclose(code.decode({i: responses[i] for i in (0, 1, 2)}), A @ x)
        True
        """
        if not isinstance(responses, Mapping):
            raise TypeError(
                f"Argument 'responses' must be a mapping of worker index to result, "
                f"not {type(responses).__name__}."
            )
        self._check_encoded()
        self._check_indices(responses)
        arrays, reasons = (dict(responses), {}) if screened else self.screen(responses)
        if reasons and not self.can_decode(arrays):
            worker = min(reasons)
            raise BadResponseError(worker, reasons[worker])
        used = self.select(arrays)
        if not self._field.exact:
            dtype = response_dtype(arrays[i] for i in used)
            check_conditioning(self, used, self._condition(used), dtype)
        return self._decode({i: arrays[i] for i in used})

    def screen(self, responses: Mapping[int, np.ndarray]):
        """``(arrays, reasons)``: the responses that are results, as arrays, and why the
        others are not (worker → reason); see :func:`coded.byzantine.screen`. Every decode
        screens first; the runtime screens what it fetched, to erase the bad ones.

        >>> from coded import MDSCode
        >>> code = MDSCode(3, 2, field=7)
        >>> _ = code.encode([[1, 2], [3, 4]])
        >>> arrays, reasons = code.screen({0: [1], 1: [7], 2: [1.5]})
        >>> sorted(arrays), reasons[1]
        ([0], 'values outside [0, 7) for GF(7)')
        """
        return _screen(self._field, responses, self._response_shape())

    def condition_number(self, indices: Iterable[int]) -> float:
        """Condition number of the system that decoding from ``indices`` solves (real codes).

        The relative error of a real decode is about ``condition_number · eps`` of the
        responses' dtype; :meth:`decode` refuses sets where that exceeds :attr:`accuracy`.
        1 where nothing amplifies errors: exact fields, codes that only copy responses.
        """
        return self._condition(self.select(indices))

    def _condition(self, used: tuple[int, ...]) -> float:
        """:meth:`condition_number` of the worker set ``used`` (cached per set)."""
        condition = self._conditions.get(used)
        if condition is None:
            system = None if self._field.exact else self._decoding_system(used)
            condition = 1.0 if system is None else float(np.linalg.cond(system))
            self._conditions[used] = condition
        return condition

    def _decoding_system(self, used: tuple[int, ...]) -> np.ndarray | None:
        """The matrix whose conditioning decoding from ``used`` inherits; None: none."""
        return None

    def _response_shape(self) -> tuple[int, ...] | None:
        """The leading dimensions every response has (from the encoded layout); None: any."""
        return None

    def _decode(self, responses: dict[int, np.ndarray]):
        raise NotImplementedError

    def correct(
        self, responses: Mapping[int, np.ndarray], byzantine: int, *, rng=None, tolerance=None
    ) -> Correction:
        """Decode despite up to ``byzantine`` wrong responses, and name who sent them.

        Needs at least ``recovery_threshold + 2·byzantine`` responses (else
        :class:`~coded.NotDecodableError`). With at most ``byzantine`` wrong ones the result
        is what ``decode`` gives from the good ones, and ``faulty`` names exactly the wrong
        workers; over the reals, "wrong" means off by more than ``tolerance`` (relative;
        default 2^6 · eps of the responses' dtype). Responses that contradict every choice
        of ``byzantine`` wrong workers raise :class:`~coded.UncorrectableError`. Method:
        :mod:`coded.byzantine`; ``rng`` seeds its random combinations.

        >>> import numpy as np
        >>> from coded import MDSCode
        >>> code = MDSCode(n=7, k=3, field=65537)
        >>> A, x = np.arange(12).reshape(6, 2), np.array([1, 2])
        >>> responses = {i: share @ x for i, share in enumerate(code.encode(A))}
        >>> responses[4] = responses[4] + 1  # one worker lies
        >>> fixed = code.correct(responses, byzantine=2)
        >>> fixed.faulty, bool((fixed.result == A @ x).all())
        ((4,), True)
        """
        return _correct(self, responses, byzantine, rng=rng, tolerance=tolerance)

    def _linear(self, used: tuple[int, ...]) -> tuple[Linear, ...]:
        """The arrived responses as linear codes (:class:`~coded.byzantine.Linear`), for
        :meth:`correct`: one, or one per independent part (fractional gradient codes)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support correct(): its responses are not a "
            f"linear code with redundancy to locate wrong ones"
        )

    def _check_indices(self, indices: Iterable[int]) -> tuple[int, ...]:
        checked, n = set(), self.n
        for i in indices:
            if type(i) is not int:  # the master's hot path passes plain ints: checked at once
                if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                    raise ValueError(f"unknown worker index {i!r}: workers are numbered 0..{n - 1}")
                i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"unknown worker index {i!r}: workers are numbered 0..{n - 1}")
            checked.add(i)
        return tuple(sorted(checked))

    def _check_encoded(self):
        if getattr(self, "layout_", None) is None:
            name = type(self).__name__
            raise NotEncodedError(
                f"{name} has not encoded anything yet: call encode() before decode()."
            )

    # -- shared helpers for decoders ----------------------------------------------------
    def _decoder(self, used: tuple[int, ...], system) -> np.ndarray:
        """Inverse of the decoding system for the worker set ``used`` (cached per set)."""
        inverse = self._decoders.get(used)
        if inverse is None:
            inverse = self._field.inverse(system(used))
            self._decoders[used] = inverse
        return inverse

    @staticmethod
    def _stack(responses: dict[int, np.ndarray]) -> np.ndarray:
        """Stack responses (of one shape: :meth:`decode` checked) in worker order."""
        return np.stack(list(responses.values()))

    # -- configuration (coded.config.Configurable) ------------------------------------------
    def _config_value(self, name: str):
        value = super()._config_value(name)
        return value.spec() if name == "field" else value

    def __reduce__(self):
        return (_restore, (type(self), self.get_config(), getattr(self, "layout_", None)))


@dataclass(frozen=True)
class BlockLayout:
    """What a function code's ``encode`` saw: the shape of one data block, the shares' dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype


class FunctionCode(Code):
    """Base of the codes whose workers apply a function ``f`` to one coded share of k data
    blocks (:class:`~coded.LagrangeCode`, :class:`~coded.BerrutCode`).

    Subclasses set ``_k``, ``_alphas`` (the workers' points) and ``_betas`` (the data's).
    """

    maps = True

    @property
    def k(self) -> int:
        """Number of data blocks ``X_1..X_k``."""
        return self._k

    @property
    def work_share(self) -> float:
        """1/k: a worker applies ``f`` to one share, the size of one of the k data blocks,
        where the job is ``f`` on all k blocks."""
        return 1 / self._k

    @property
    def storage(self) -> tuple[float]:
        """``(1/k,)``: a share has the size of one of the k data blocks."""
        return (1 / self._k,)

    @property
    def alphas(self) -> np.ndarray:
        """The n points of the workers' shares."""
        return self._alphas.copy()

    @property
    def betas(self) -> np.ndarray:
        """The points of the data blocks (and, with privacy, of the masks)."""
        return self._betas.copy()


def _restore(cls, config, layout):
    code = cls.from_config(config)
    if layout is not None:
        code.layout_ = layout
    return code


def code_from_config(config: Mapping) -> Code:
    """Build a code from its config dict (e.g. a YAML job's ``code:`` section).

    >>> code_from_config({"type": "MDSCode", "n": 8, "k": 6})
    MDSCode(n=8, k=6, systematic=False, field='real')
    """
    return registered(config, "code").from_config(config)
