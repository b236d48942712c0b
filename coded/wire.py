"""The wire of training messages: what worker i sends for its message, what the master rebuilds.

Worker i's message is ``m_i = [g_i, ℓ_i]``: a gradient part of ``d`` floats (a gradient
code's combination of its partitions' gradients) and its loss. :class:`Uplink` turns it
into bytes (a ``uint8`` array, the answer that really travels) and back:

==================== ============================================================ ==========
compressor           worker i sends                                               state
==================== ============================================================ ==========
None                 ``m_i`` as floats of the model's dtype: ``(d + 1)·itemsize``  none
QSGD, NUQSGD, ALQ    ``Q(g_i)`` (:meth:`~coded.compression.QuantizedMessage.to_bytes`), none
                     then ``ℓ_i`` as a float32
Diana(Q, α)          ``Q(g_i − h_i)``, its count ``c_i`` and ``ℓ_i``; both sides keep  shifts
                     ``h_i ← h_i + α Q(g_i − h_i)`` and the master rebuilds
                     ``h_i + Q(g_i − h_i)``
ErrorFeedback(C)     ``C(g_i + e_i)``, ``c_i`` and ``ℓ_i``; the worker keeps            residuals
                     ``e_i ← g_i + e_i − C(g_i + e_i)``
==================== ============================================================ ==========

Every rebuilt message is an unbiased estimate of ``m_i`` (error feedback: of ``m_i`` plus
what it owes), so a linear decode ``Σ a_i m̂_i`` is an unbiased gradient for DIANA and the
quantisers, with any decoding coefficients. With full gradients DIANA's shifts converge
to the messages at the optimum, so its noise vanishes there and gradient descent
converges exactly.

**Acknowledgements.** A gradient code decodes from the first answers that suffice and
never reads the stragglers', so a stateful sender must not update its state for a message
the master did not read. The master counts the messages it read from each worker
(:meth:`Uplink.acks`) and the next round carries the counts; worker i commits its last
message's update when its count says that message was read, and drops it otherwise. The
message carries the worker's count ``c_i``: a restarted worker (count 0, state lost) is
recognised and the master resets its copy too.

**The broadcast** (:class:`Downlink`, optional): the master keeps ``x̂``, the model every
worker holds, and sends ``Q(w − x̂)``; both ends add ``γ`` of it, ``x̂ ← x̂ + γ Q(w − x̂)``,
so the workers hold the same ``x̂`` (the gradient is taken at ``x̂``). With ``δ = w − x̂``,
``E‖w − x̂'‖² = ((1 − γ)² + γ² ω) ‖δ‖²`` for a quantiser of variance ``ω``: ``γ = 1``
would let the error grow by ``ω`` a round whenever ``ω > 1`` (QSGD(7) in buckets of 512
has ``ω = 3.2``, and training diverges), while ``γ = 1 / (1 + ω)`` contracts it by
``ω / (1 + ω)`` a round; as the steps vanish, ``x̂ → w``. Every
:data:`KEYFRAME_EVERY` updates, and first, the model goes whole (in the model's dtype), so
a worker that missed an update (a restarted one) is back in step at the next keyframe; until
then its answers are erasures with the reason.

>>> import numpy as np
>>> from coded.compression import QSGD
>>> link = Uplink(QSGD(levels=7), dimension=3)
>>> data = link.send(0, 0, np.array([3.0, -4.0, 0.0, 2.5]))
>>> data.dtype, data.nbytes, link.message_bytes   # norm + ⌈3 · 4 / 8⌉ + loss
(dtype('uint8'), 10, 10)
>>> link.receive(0, data)
array([ 2.85714286, -4.28571429,  0.        ,  2.5       ])
"""

from __future__ import annotations

import copy

import numpy as np

from .checks import check_int, check_number, describe
from .compression import NUQSGD, QSGD, AdaptiveQuantizer, Diana, ErrorFeedback, TopK

__all__ = [
    "Uplink",
    "Downlink",
    "KEYFRAME_EVERY",
    "check_compressor",
    "check_broadcast_compressor",
]

_QUANTIZERS = (QSGD, NUQSGD, AdaptiveQuantizer)
_COUNT = np.dtype(">u4")  # a worker's message count, in the stateful formats
_LOSS = np.dtype(">f4")
KEYFRAME_EVERY = 50  # broadcast updates between whole models


def check_compressor(compressor, *, fixed_coefficients: bool = True) -> None:
    """``compressor`` can compress training messages: None, an unbiased quantiser, DIANA
    over one, or error feedback (which needs decoding coefficients that do not change with
    the arrived set: ``fixed_coefficients``).

    >>> check_compressor(TopK(3))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'compressor' must be ... not TopK(k=3): top-k is biased ...
    """
    if compressor is None or isinstance(compressor, (*_QUANTIZERS, Diana)):
        return
    if isinstance(compressor, ErrorFeedback):
        if fixed_coefficients:
            return
        reason = (
            "error feedback carries what a worker did not send to its later messages, which "
            "the decode weighs with coefficients that change with the arrived set (cyclic "
            "codes, ignore), so what is owed never adds up; use method 'uncoded' or "
            "scheme 'fractional'"
        )
    elif isinstance(compressor, TopK):
        reason = (
            "top-k is biased (E C(m) ≠ m), so the decode is not the gradient in "
            "expectation; wrap it in ErrorFeedback"
        )
    else:
        reason = None
    what = repr(compressor) if reason else describe(compressor)
    raise ValueError(
        "Argument 'compressor' must be None, an unbiased quantiser (QSGD, NUQSGD, "
        f"AdaptiveQuantizer), Diana or ErrorFeedback, not {what}"
        + (f": {reason}." if reason else ".")
    )


def check_broadcast_compressor(compressor) -> None:
    """``compressor`` can compress the broadcast model: None or an unbiased quantiser.

    >>> check_broadcast_compressor(TopK(2))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'broadcast_compressor' must be None or an unbiased quantiser ...
    """
    if compressor is not None and not isinstance(compressor, _QUANTIZERS):
        raise ValueError(
            "Argument 'broadcast_compressor' must be None or an unbiased quantiser (QSGD, "
            f"NUQSGD, AdaptiveQuantizer), not {describe(compressor)}."
        )


class Uplink:
    """Workers' messages on the wire, both ends (module docstring).

    The worker's end (:meth:`send`) and the master's (:meth:`receive`, :meth:`acks`) keep
    separate state, so one object may serve both in one process; on a cluster each worker
    holds a copy and uses its end only.

    Args:
        compressor: None, a quantiser, :class:`~coded.compression.Diana` or
            :class:`~coded.compression.ErrorFeedback` (:func:`check_compressor`).
        dimension: ``d``, the gradient part's length (the message has ``d + 1`` floats).
        dtype: the floats of an uncompressed message (the model's dtype).
        seed: the quantisers draw from ``np.random.default_rng([seed, worker, iteration])``.
    """

    def __init__(self, compressor, dimension: int, dtype=np.float64, seed: int = 0):
        check_compressor(compressor, fixed_coefficients=True)
        self.compressor = compressor
        self.dimension = check_int(dimension, "dimension", minimum=1)
        self.dtype = np.dtype(dtype)
        self.seed = check_int(seed, "seed", minimum=0)
        self._quantizer = getattr(compressor, "compressor", compressor)
        self._alpha = compressor.alpha if isinstance(compressor, Diana) else None
        self._workers: dict[int, _WorkerEnd] = {}  # the worker's end, by worker
        self._shifts: dict[int, np.ndarray] = {}  # the master's copy of DIANA's h_i
        self._counts: dict[int, int] = {}  # the master's count of messages read

    @property
    def stateful(self) -> bool:
        """Whether messages carry counts and rounds must carry :meth:`acks`."""
        return isinstance(self.compressor, Diana | ErrorFeedback)

    @property
    def message_bytes(self) -> int:
        """Bytes of every message (they depend on ``d`` and the format only)."""
        if self.compressor is None:
            return (self.dimension + 1) * self.dtype.itemsize
        body = -(-self._quantizer.message_bits(self.dimension) // 8)
        return body + _LOSS.itemsize + (_COUNT.itemsize if self.stateful else 0)

    # -- the worker's end ------------------------------------------------------------
    def send(self, worker: int, iteration: int, message: np.ndarray, acks=None) -> np.ndarray:
        """Worker ``worker``'s bytes for ``message = [g, ℓ]`` at ``iteration``; ``acks``: the
        master's counts (:meth:`acks`) for a stateful format."""
        if self.compressor is None:
            return np.ascontiguousarray(message, dtype=self.dtype).view(np.uint8)
        rng = np.random.default_rng([self.seed, worker, int(iteration)])
        gradient, loss = message[:-1], np.array([message[-1]], dtype=_LOSS).view(np.uint8)
        end = self._workers.get(worker)
        if end is None:  # each worker its own quantiser: adaptive levels fit its messages
            end = self._workers[worker] = _WorkerEnd(copy.deepcopy(self._quantizer))
        if not self.stateful:
            return np.concatenate([end.quantizer.compress(gradient, rng).to_bytes(), loss])
        end.acknowledge(None if acks is None else int(acks[worker]))
        base = end.base(gradient)
        sent = end.quantizer.compress(gradient - base if self._alpha else gradient + base, rng)
        estimate = end.quantizer.decompress(sent)
        if self._alpha:  # DIANA: h_i ← h_i + α Δ
            end.pending = base + self._alpha * estimate
        else:  # error feedback: e_i ← g + e_i − C(g + e_i)
            end.pending = gradient + base - estimate
        count = np.array([end.count], dtype=_COUNT).view(np.uint8)
        return np.concatenate([count, sent.to_bytes(), loss])

    # -- the master's end ------------------------------------------------------------
    def receive(self, worker: int, data) -> np.ndarray:
        """The master's ``m̂_i`` (float64, ``d + 1``) from worker ``worker``'s bytes.

        Raises ValueError for bytes that are not a message of this format (an erasure).
        """
        data = _bytes(data, self.message_bytes)
        if self.compressor is None:
            return data.view(self.dtype).astype(np.float64)
        loss = data[-_LOSS.itemsize :].view(_LOSS).astype(np.float64)
        if not self.stateful:
            body = self._quantizer.vector_from_bytes(data[: -_LOSS.itemsize], self.dimension)
            return np.concatenate([body, loss])
        count = int(data[: _COUNT.itemsize].view(_COUNT)[0])
        body = data[_COUNT.itemsize : -_LOSS.itemsize]
        estimate = self._quantizer.vector_from_bytes(body, self.dimension)
        expected = self._counts.get(worker, 0)
        if count != expected:
            if count:  # only a restart (count 0) may put a worker behind the master
                raise ValueError(
                    f"worker {worker} counts {count} messages read, the master {expected}"
                )
            self._shifts.pop(worker, None)
        gradient = estimate
        if self._alpha:
            shift = self._shifts.get(worker, np.zeros(self.dimension))
            gradient = shift + estimate
            if np.isfinite(estimate).all():
                self._shifts[worker] = shift + self._alpha * estimate
        self._counts[worker] = count + 1
        return np.concatenate([gradient, loss])

    def acks(self, n: int) -> np.ndarray:
        """The master's count of messages read from each of ``n`` workers (int64)."""
        return np.array([self._counts.get(i, 0) for i in range(n)], dtype=np.int64)

    def __repr__(self):
        return f"Uplink({self.compressor!r}, dimension={self.dimension}, dtype={self.dtype})"


class _WorkerEnd:
    """A worker's quantiser and state: committed (``state``, ``count``) and its last
    message's ``pending`` update."""

    def __init__(self, quantizer):
        self.quantizer = quantizer
        self.state, self.count, self.pending = None, 0, None

    def acknowledge(self, ack: int | None) -> None:
        """Commit the last message's update if the master read it (its count is one more)."""
        if self.pending is not None and ack == self.count + 1:
            self.state, self.count = self.pending, self.count + 1
        self.pending = None

    def base(self, gradient: np.ndarray) -> np.ndarray:
        """DIANA's shift ``h_i`` or error feedback's residual ``e_i`` (zeros at first)."""
        return np.zeros(len(gradient)) if self.state is None else self.state


class Downlink:
    """The broadcast model on the wire, both ends (module docstring): quantised updates of
    the workers' copy ``x̂``, and a whole model every ``keyframe_every`` updates.

    Args:
        compressor: an unbiased quantiser (QSGD, NUQSGD, AdaptiveQuantizer).
        dimension: the model's number of parameters.
        dtype: the floats of the workers' model (and of a keyframe).
        seed: the quantiser draws from ``np.random.default_rng([seed, count])``.
        keyframe_every: updates between whole models (1: every broadcast is whole).
        step: ``γ``; default ``1 / (1 + ω)``, ``ω`` the quantiser's
            :meth:`~coded.compression.QSGD.variance_bound` at ``dimension`` (the module
            docstring: the error of ``x̂`` contracts).

    >>> link = Downlink(QSGD(levels=7), dimension=4, keyframe_every=10)
    >>> first = link.send(np.array([1.0, 2.0, 3.0, 4.0]))       # a keyframe: 4 · 8 bytes
    >>> update = link.send(np.array([1.5, 2.0, 3.0, 4.0]))      # Q(w − x̂): norm + 4 · 4 bits
    >>> first.nbytes, update.nbytes
    (37, 11)
    >>> round(link.step, 4)                                    # 1 / (1 + min(4/49, 2/7))
    0.9245
    >>> [link.receive(0, data) for data in (first, update)][-1]  # x̂ + γ · (0.5, 0, 0, 0)
    array([1.46226415, 2.        , 3.        , 4.        ])
    """

    def __init__(
        self,
        compressor,
        dimension: int,
        dtype=np.float64,
        seed: int = 0,
        keyframe_every: int = KEYFRAME_EVERY,
        step: float | None = None,
    ):
        check_broadcast_compressor(compressor)
        if compressor is None:
            raise ValueError("Argument 'compressor' of a Downlink must be a quantiser, not None.")
        self.compressor = compressor
        self.dimension = check_int(dimension, "dimension", minimum=1)
        self.dtype = np.dtype(dtype)
        self.seed = check_int(seed, "seed", minimum=0)
        self.keyframe_every = check_int(keyframe_every, "keyframe_every", minimum=1)
        omega = compressor.variance_bound(self.dimension)
        self.step = (
            1 / (1 + omega)
            if step is None
            else check_number(step, "step", 0, above=True, maximum=1)
        )
        self.model: np.ndarray | None = None  # the master's x̂: what the workers hold
        self.count = 0  # updates sent
        self._workers: dict[int, tuple[int, np.ndarray]] = {}  # the worker's end: (count, x̂)

    def send(self, w) -> np.ndarray:
        """The master's bytes for the model ``w``: ``[count, kind, body]``; updates ``x̂``."""
        w = np.asarray(w, dtype=np.float64).ravel()
        keyframe = self.count % self.keyframe_every == 0
        if keyframe:
            self.model = w.astype(self.dtype).astype(np.float64)
            body = np.ascontiguousarray(self.model, dtype=self.dtype).view(np.uint8)
        else:
            rng = np.random.default_rng([self.seed, self.count])
            message = self.compressor.compress(w - self.model, rng)
            self.model = self.model + self.step * self.compressor.decompress(message)
            body = message.to_bytes()
        head = np.array([self.count], dtype=_COUNT).view(np.uint8)
        self.count += 1
        return np.concatenate([head, np.array([keyframe], dtype=np.uint8), body])

    def receive(self, worker: int, data) -> np.ndarray:
        """Worker ``worker``'s model after the broadcast ``data`` (float64, a copy).

        Raises ValueError if it missed an update since its last keyframe.
        """
        data = np.asarray(data)
        if data.dtype != np.uint8 or data.ndim != 1 or data.size < 6:
            raise ValueError(f"a broadcast must be bytes (uint8), not {data.dtype} {data.shape}")
        count, keyframe, body = int(data[:4].view(_COUNT)[0]), bool(data[4]), data[5:]
        held = self._workers.get(worker)
        if keyframe:
            model = _bytes(body, self.dimension * self.dtype.itemsize).view(self.dtype)
            model = model.astype(np.float64)
        elif held is not None and held[0] == count - 1:
            model = held[1] + self.step * self.compressor.vector_from_bytes(body, self.dimension)
        else:
            raise ValueError(
                f"worker {worker} missed a model update (it holds update "
                f"{'none' if held is None else held[0]}, the broadcast is {count}); it is back "
                f"in step at the next whole model, every {self.keyframe_every} updates"
            )
        self._workers[worker] = (count, model)
        return model.copy()

    def __repr__(self):
        return f"Downlink({self.compressor!r}, dimension={self.dimension}, dtype={self.dtype})"


def _bytes(data, expected: int) -> np.ndarray:
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 1 or data.size != expected:
        raise ValueError(
            f"a message must be {expected} bytes (uint8), not {data.dtype} of shape {data.shape}"
        )
    return data
