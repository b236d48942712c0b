"""Kernels: what a worker computes each round from its resident operands and the round's arguments.

A kernel is a small picklable callable that travels with its job (a restarted worker gets
it back with the job's shard)::

    kernel(index, operands, args, cancelled, backend) -> value, or None once cancelled

``index`` is the worker's, ``operands`` the job's resident operands, ``args`` the round's
arguments, ``cancelled()`` says whether to stop (ask it between chunks of work) and
``backend`` (:mod:`coded.workers.backend`) is where the operands live. A kernel whose
``on_host`` attribute is true (the default for a plain function) gets its operands as numpy
arrays on the host; otherwise they sit on the worker's device (a GPU, where it has one).

* :class:`Product`: ``left @ right`` in row chunks, real or exact over GF(p).
* :class:`Gradient`: a gradient-code message ``code.combine(i, {p: [∇L_p, L_p]})``.
* :class:`SketchedHessian`: the same with a count sketch of the square-root Hessian,
  ``code.combine(i, {p: [∇L_p, L_p, S_p A_p]})`` (sketched Newton).
* :class:`SaddleOperator`: a gradient-code message ``code.combine(i, {p: F_p(z)})`` of a
  saddle problem's operator (:mod:`coded.saddle`).
* :class:`Apply`: a user's function ``f(share, *args)`` of the worker's coded share
  (Lagrange and Berrut codes, :meth:`~coded.scheduler.runtime.Runtime.map`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from coded.checks import check_int, describe, resolve_function
from coded.fields import gf_matmul
from coded.gradient import GradientCode
from coded.losses import Loss
from coded.optim import Optimizer, SketchedNewton
from coded.wire import Downlink, Uplink

from .backend import Backend, NumpyBackend
from .emulation import Cost, piece_bounds

__all__ = [
    "Product",
    "Gradient",
    "SketchedHessian",
    "SaddleOperator",
    "Apply",
    "partition_operands",
    "check_kernel",
    "CHUNK_WORK",
]

CHUNK_WORK = 1 << 22  # multiply-adds per chunk: a few milliseconds on one core


def _never() -> bool:
    return False


def check_kernel(kernel) -> Callable:
    """``kernel`` itself if it can be called as a kernel, else a TypeError naming it."""
    if not callable(kernel):
        raise TypeError(f"Argument 'kernel' must be callable, not {describe(kernel)}.")
    return kernel


@dataclass(frozen=True)
class Product:
    """``left @ right`` of the resident operands and the round's arguments (two in all).

    Over the reals it multiplies with the worker's backend (on its device); with a prime
    ``p`` it computes exactly mod p on the host (:func:`coded.gf_matmul`). Rows go in chunks
    of about :data:`CHUNK_WORK` multiply-adds, with ``cancelled()`` asked before each.

    With ``pieces > 1`` the product is ``pieces`` row blocks (:func:`~.emulation.piece_bounds`)
    that :meth:`stream` yields one by one as each is done: how a worker reports partial work
    (:class:`coded.ChunkedMDSCode`, whose shares are ``chunks`` coded blocks).

    >>> import numpy as np
    >>> Product()(0, (np.eye(2),), (np.array([1.0, 2.0]),))
    array([1., 2.])
    >>> Product(p=7)(0, (np.array([[3, 4]]),), (np.array([[5], [6]]),))
    array([[4]])
    >>> [y.tolist() for y in Product(pieces=2).stream(0, (np.eye(4),), (np.arange(4.0),))]
    [[0.0, 1.0], [2.0, 3.0]]
    """

    p: int | None = None
    pieces: int = 1

    def __post_init__(self):
        if self.p is not None:
            check_int(self.p, "p", minimum=2)
        check_int(self.pieces, "pieces", minimum=1)

    @property
    def on_host(self) -> bool:
        """Exact products run on the host; real ones on the worker's device."""
        return self.p is not None

    def __call__(
        self,
        index: int,
        operands: Sequence,
        args: Sequence,
        cancelled: Callable[[], bool] = _never,
        backend: Backend | None = None,
    ) -> np.ndarray | None:
        backend = backend if backend is not None else NumpyBackend()
        left, right = self._operands(operands, args, backend)
        if left.ndim < 2:
            return None if cancelled() else backend.to_host(self._multiply(backend)(left, right))
        parts = list(self._blocks(left, right, cancelled, backend))
        if len(parts) < self.pieces:
            return None
        return np.concatenate(parts) if len(parts) != 1 else parts[0]

    def stream(
        self,
        index: int,
        operands: Sequence,
        args: Sequence,
        cancelled: Callable[[], bool] = _never,
        backend: Backend | None = None,
    ) -> Iterator[np.ndarray]:
        """The product's ``pieces`` row blocks, each as soon as it is done; stops once
        ``cancelled()`` (asked before each chunk of :data:`CHUNK_WORK`)."""
        backend = backend if backend is not None else NumpyBackend()
        left, right = self._operands(operands, args, backend)
        if left.ndim < 2:
            raise ValueError(
                f"a product streams row blocks of a 2-D resident operand, not of shape {left.shape}"
            )
        yield from self._blocks(left, right, cancelled, backend)

    def _operands(self, operands, args, backend) -> tuple:
        operands = tuple(operands) + tuple(backend.to_device(x) for x in args)
        if len(operands) != 2:
            raise ValueError(
                f"a round multiplies two operands, got {len(operands)} (resident + arguments)"
            )
        return operands

    def _blocks(self, left, right, cancelled, backend) -> Iterator[np.ndarray]:
        """``left @ right``'s row blocks in order, each computed in chunks of rows."""
        multiply = self._multiply(backend)
        width = right.shape[1] if right.ndim == 2 else 1
        step = max(1, CHUNK_WORK // max(1, left.shape[1] * width))
        bounds = piece_bounds(left.shape[0], self.pieces)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            chunks = []
            for row in range(start, max(stop, start + 1), step):
                if cancelled():
                    return
                chunks.append(backend.to_host(multiply(left[row : min(row + step, stop)], right)))
            yield np.concatenate(chunks) if len(chunks) != 1 else chunks[0]

    def _multiply(self, backend) -> Callable:
        return backend.matmul if self.p is None else self._gf_matmul

    def _gf_matmul(self, a, b):
        return gf_matmul(a, b, self.p, check=False)  # the master validated the operands

    def cost(self, operands: Sequence, args: Sequence = ()) -> Cost:
        """Multiply-adds, shape and dtype of a round, from the operands' shapes alone (so an
        emulated worker, :mod:`coded.workers.emulation`, can stand in for it).

        >>> import numpy as np
        >>> Product().cost((np.ones((4, 3)),), (np.ones((3, 2)),))
        Cost(work=24, shape=(4, 2), dtype='float64')
        """
        operands = tuple(operands) + tuple(args)
        if len(operands) != 2:
            raise ValueError(
                f"a round multiplies two operands, got {len(operands)} (resident + arguments)"
            )
        left, right = (np.shape(x) for x in operands)
        rows, width = left[:-1], right[1:]
        work = int(np.prod(left, dtype=np.int64)) * int(np.prod(width, dtype=np.int64))
        if self.p is not None:
            dtype = np.dtype(np.int64)
        else:
            dtype = np.result_type(*(_dtype(x) for x in operands))
        return Cost(work, tuple(rows) + tuple(width), dtype.name)


@dataclass(frozen=True)
class Gradient:
    """Worker ``index``'s gradient-code message ``[gradient, loss]`` for a round ``(w, t)``.

    Worker i holds the partitions ``code.assignment[i] = (p_0, …, p_s)`` resident, as the
    operands ``(X_{p_0}, y_{p_0}, …, X_{p_s}, y_{p_s})``. For every partition it computes

        g_p = [ ∇L(w; X_p[B_p], y_p[B_p]),  L(w; X_p[B_p], y_p[B_p]) ]     (gradient, then loss)

    on the rows ``B_p = optimizer.batch(t, p, rows)`` (all rows for full-batch methods; the
    same rows on every replica of p for SGD), and returns ``code.combine(i, {p: g_p})``.
    The loss rides along as one more coordinate, so decoding the gradient decodes the loss
    with it. Runs on the host; ``cancelled()`` is asked between partitions.

    The message is in the loss's ``wire_dtype`` (a float32 torch model sends float32). With an
    ``uplink`` (:class:`coded.wire.Uplink`: a compressor on the wire) the worker returns
    the message's bytes instead, ``uplink.send(index, t, message, acks)``; the master
    rebuilds it with ``uplink.receive`` before decoding, and the round's arguments are
    ``(w, t, acks)`` for a stateful format (DIANA, error feedback). With a ``downlink``
    (:class:`coded.wire.Downlink`) ``w`` is the broadcast's bytes: the worker updates its
    copy of the model and computes at it; a round it skips (stale in its queue) still
    updates it (:meth:`skipped`).

    Args:
        loss: the loss, summed over rows.
        code: the gradient code whose ``assignment`` placed the partitions and whose
            ``combine`` makes the message.
        optimizer: chooses each partition's rows (mini-batches); ``None`` means all rows.
        uplink: the wire format of compressed messages, or ``None`` (floats, exact).
        downlink: the wire format of a compressed broadcast, or ``None`` (``w`` as is).

    >>> import numpy as np
    >>> from coded import GradientCode
    >>> from coded.losses import LeastSquaresLoss
    >>> code, X, y = GradientCode(n=2, s=1), np.eye(2), np.array([1.0, 2.0])
    >>> kernel = Gradient(LeastSquaresLoss(), code)
    >>> operands = partition_operands([(X[:1], y[:1]), (X[1:], y[1:])], code.assignment[0])
    >>> message = kernel(0, operands, (np.zeros(2), 0))
    >>> np.allclose(code.decode({0: message}), [-1.0, -2.0, 2.5])
    True

    References:
        R. Tandon, Q. Lei, A. G. Dimakis, N. Karampatziakis, "Gradient coding: avoiding
        stragglers in distributed learning", ICML 2017, arXiv:1612.03301.
    """

    loss: Loss
    code: GradientCode
    optimizer: Optimizer | None = None
    uplink: Uplink | None = None
    downlink: Downlink | None = None
    on_host = True  # a class attribute, not a field: losses compute with numpy

    def __call__(
        self,
        index: int,
        operands: Sequence[np.ndarray],
        args: Sequence,
        cancelled: Callable[[], bool] = _never,
        backend: Backend | None = None,
    ) -> np.ndarray | None:
        w, iteration, *acks = args
        if self.downlink is not None:
            w = self.downlink.receive(index, w)
        partitions = self.code.assignment[index]
        if len(operands) != 2 * len(partitions):
            raise ValueError(
                f"worker {index} holds {len(operands)} operands; the code assigns it "
                f"partitions {list(partitions)}, which need {2 * len(partitions)} (X and y each)"
            )
        partials = {}
        for slot, partition in enumerate(partitions):
            if cancelled():
                return None
            X, y = operands[2 * slot], operands[2 * slot + 1]
            partials[partition] = self._partial(w, iteration, partition, X, y)
        message = self.code.combine(index, partials)
        if self.uplink is not None:
            return self.uplink.send(index, iteration, message, *acks)
        return message.astype(self.loss.wire_dtype, copy=False)

    def skipped(self, index: int, args: Sequence) -> None:
        """A round worker ``index`` skips still brings its broadcast: keep the model in step."""
        if self.downlink is not None:
            try:
                self.downlink.receive(index, args[0])
            except ValueError:  # it missed one before: its next keyframe puts it back
                pass

    def _partial(self, w, iteration: int, partition: int, X, y) -> np.ndarray:
        """``[∇L_p, L_p]`` of one partition, on its rows of this iteration."""
        if self.optimizer is not None:
            rows = self.optimizer.batch(iteration, partition, X.shape[0])
            if rows is not None:
                X, y = X[rows], y[rows]
        value, gradient = self.loss.value_and_gradient(w, X, y)
        return np.append(np.ravel(gradient), value if self.loss.has_value else 0.0)


@dataclass(frozen=True)
class SketchedHessian(Gradient):
    """Worker ``index``'s gradient-code message ``[gradient, loss, sketch]`` for ``(w, r)``.

    For each partition p it holds, with scores ``z = X_p w`` and the loss's curvature roots
    ``R_j`` (:meth:`coded.losses.Loss.curvature_root`, ``∂²ℓ/∂z_j² = R_jᵀ R_j``), the rows
    ``x_j ⊗ R_j[q]`` of the square-root Hessian ``A_p`` (``A_pᵀ A_p = ∇²L_p(w)``), and

        g_p = [ ∇L_p(w),  L_p(w),  S_p A_p ]     (S_p = optimizer.sketch(r, p, ·))

    so ``code.combine`` codes the sketch exactly like the gradient and the master decodes
    ``Σ_p S_p A_p = S A``. ``r`` is the round's number: a fresh sketch each round, the same
    on every replica of p. Linear losses only (the plan checks).

    >>> import numpy as np
    >>> from coded import GradientCode
    >>> from coded.losses import LeastSquaresLoss
    >>> from coded.optim import SketchedNewton
    >>> code, X, y = GradientCode(n=2, s=1), np.eye(2), np.array([1.0, 2.0])
    >>> kernel = SketchedHessian(LeastSquaresLoss(), code, SketchedNewton(sketch_size=3))
    >>> operands = partition_operands([(X[:1], y[:1]), (X[1:], y[1:])], code.assignment[0])
    >>> decoded = code.decode({0: kernel(0, operands, (np.zeros(2), 0))})
    >>> root = decoded[3:].reshape(3, 2)
    >>> np.diag(root.T @ root)   # Ĥ ≈ XᵀX = I: a collision of the 2 rows adds cross terms
    array([1., 1.])

    References:
        V. Gupta, S. Kadhe, T. Courtade, M. Mahoney, K. Ramchandran, "OverSketched Newton:
        fast convex optimization for serverless systems", arXiv:1903.08857.
    """

    optimizer: SketchedNewton | None = None

    def _partial(self, w, iteration, partition, X, y):
        z = X @ w
        value, gradient = self.loss.value_at_scores(z, y), X.T @ self.loss.residual(z, y)
        root = self.loss.curvature_root(z, y)  # (rows, q, c)
        rows = np.einsum("jd,jqc->jqdc", X, root).reshape(-1, X.shape[1] * root.shape[2])
        sketch = self.optimizer.sketch(iteration, partition, rows)
        return np.concatenate([np.ravel(gradient), [value], np.ravel(sketch)])


@dataclass(frozen=True)
class SaddleOperator:
    """Worker ``index``'s gradient-code message of a saddle operator for a round ``(z,)``.

    Worker i holds the data of the partitions ``code.assignment[i] = (p_0, …, p_s)``
    resident, the arrays of each partition in turn (:func:`partition_operands`); it
    computes every ``F_p(z) = partial(z, data_p)`` and returns ``code.combine(i, {p: F_p})``,
    so decoding gives ``F(z) = Σ_p F_p(z)``. Runs on the host; ``cancelled()`` is asked
    between partitions.

    Args:
        partial: ``partial(z, data_p) -> F_p(z)``, a saddle problem's
            :attr:`~coded.saddle.SaddleProblem.partial` (picklable, without the data).
        code: the gradient code whose ``assignment`` placed the partitions.

    >>> import numpy as np
    >>> from coded import GradientCode
    >>> from coded.saddle import BilinearGame
    >>> game, code = BilinearGame(np.array([[1.0, 2.0], [0.0, 1.0]])), GradientCode(n=2, s=1)
    >>> operands = partition_operands(game.partitions(2), code.assignment[1])
    >>> message = SaddleOperator(game.partial, code)(1, operands, (np.ones(4),))
    >>> np.allclose(code.decode({1: message}), game.operator(np.ones(4)))
    True
    """

    partial: Callable
    code: GradientCode
    on_host = True  # a class attribute, not a field: problems compute with numpy

    def __call__(
        self,
        index: int,
        operands: Sequence[np.ndarray],
        args: Sequence,
        cancelled: Callable[[], bool] = _never,
        backend: Backend | None = None,
    ) -> np.ndarray | None:
        (z,) = args
        partitions = self.code.assignment[index]
        size, extra = divmod(len(operands), len(partitions))
        if extra or not size:
            raise ValueError(
                f"worker {index} holds {len(operands)} operands, not the same number for each "
                f"of its partitions {list(partitions)}"
            )
        partials = {}
        for slot, partition in enumerate(partitions):
            if cancelled():
                return None
            partials[partition] = self.partial(z, tuple(operands[slot * size : (slot + 1) * size]))
        return self.code.combine(index, partials)


@dataclass(frozen=True)
class Apply:
    """``f(share, *args)``: a function of worker ``index``'s resident coded share.

    The share is the worker's one resident operand (:meth:`coded.LagrangeCode.encode`'s
    ``u(α_i)``), ``args`` the round's broadcast arguments. ``f`` is a picklable callable or
    a ``"module:function"`` string, imported on the worker
    (:func:`coded.checks.resolve_function`). What
    it returns must be an array of real numbers (integers over GF(p)), all finite: anything
    else raises here, so the worker's answer is an erasure with a reason that names the
    worker, never a value to decode. Runs on the host; ``cancelled()`` is asked before ``f``
    (``f`` itself cannot be interrupted).

    >>> Apply(np.square)(0, (np.array([1.0, 2.0]),), ())
    array([1., 4.])
    >>> Apply("numpy:add")(3, (np.array([1.0]),), (np.array([np.inf]),))
    Traceback (most recent call last):
    ...
    ValueError: f returned NaN or Inf on worker 3's share
    """

    f: Callable | str
    on_host = True  # a class attribute, not a field: f computes with numpy

    def __call__(
        self,
        index: int,
        operands: Sequence[np.ndarray],
        args: Sequence,
        cancelled: Callable[[], bool] = _never,
        backend: Backend | None = None,
    ) -> np.ndarray | None:
        f = resolve_function(self.f)
        if cancelled():
            return None
        value = f(*operands, *args)
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):  # a ragged nested sequence
            array = np.asarray(None)
        kind = array.dtype.kind
        if kind not in "biuf" or array.size == 0:
            raise TypeError(
                f"f must return a non-empty array of real numbers, not {describe(value)}, "
                f"on worker {index}'s share"
            )
        if kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"f returned NaN or Inf on worker {index}'s share")
        return array


def _dtype(x) -> np.dtype:
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def partition_operands(
    partitions: Sequence[tuple[np.ndarray, ...]], held: Sequence[int]
) -> tuple[np.ndarray, ...]:
    """The resident operands ``(X_p, y_p, …)`` of a worker holding partitions ``held``: the
    arrays of each partition in turn."""
    return tuple(array for p in held for array in partitions[p])
