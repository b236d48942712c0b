"""Coded iterative computing: power iteration and PageRank, one coded ``A @ x`` per round.

The matrix is encoded once (:meth:`~coded.scheduler.runtime.Runtime.place`, an MDS code by
default) and stays resident on the workers; every iteration is one coded round that ends
at the first decodable set of answers, its stragglers cancelled and its failed workers
erased. The decoded product is ``A @ x`` to rounding, so the iterates are those of the
plain method, and the run records, per round, what converges (:class:`History`).

* :func:`power_iteration`: ``y = A x``, ``λ = xᵀy`` (the Rayleigh quotient, ``‖x‖ = 1``),
  residual ``‖y − λx‖``, then ``x ← y / ‖y‖``; it stops once ``‖Ax − λx‖ ≤ tol·‖Ax‖``.
* :func:`pagerank`: ``r ← d·(P r + (Σ_dangling r)/N·1) + (1 − d)/N·1``, ``P r`` the coded
  round; it stops once ``‖r_new − r‖₁ ≤ tol``.

Sparse matrices: the codes encode dense arrays, so a ``scipy.sparse`` input is densified
(N² numbers; each worker holds N²/k). Densifying loses little that coding would keep: a
non-systematic MDS share is a combination of all k row blocks of ``A``, as dense as ``A``
itself even where ``A`` is sparse, so a worker would multiply by about ``nnz(A)`` entries
against ``nnz(A)/k`` for an uncoded block. A systematic code
(``MDSCode(n, k, systematic=True)``) leaves the first k shares plain, but its n − k parity
shares are such combinations still.

>>> import numpy as np, coded
>>> from coded.scheduler.pool import InProcessPool
>>> A = np.diag([3.0, 1.0, 0.5, 0.25]) + 0.01
>>> with coded.Runtime(4, pool=InProcessPool(4)) as rt:
...     result = coded.power_iteration(A, code=coded.MDSCode(4, 2), runtime=rt)
>>> bool(abs(result.eigenvalue - np.linalg.eigvalsh(A)[-1]) < 1e-12), result.converged
(True, True)

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673 (coded
    matrix-vector rounds for iterative algorithms, PageRank among them).
    L. Page, S. Brin, R. Motwani, T. Winograd, "The PageRank citation ranking: bringing
    order to the web", Stanford InfoLab 1999.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from coded import Code, RealField
from coded.checks import check_bool, check_int, check_number, describe

from .api import DEFAULT_N
from .runtime import (
    CodedOperator,
    Runtime,
    check_code,
    check_runtime_options,
    default_code,
    operand_count,
    runtime_for,
)
from .training.history import History, Progress, Record

__all__ = [
    "power_iteration",
    "pagerank",
    "PowerResult",
    "PageRankResult",
    "check_square",
    "check_adjacency",
    "check_iterative_code",
    "link_matrix",
]


@dataclass
class PowerResult:
    """The dominant eigenpair found by :func:`power_iteration`, and the run's history.

    ``eigenvalue`` is the Rayleigh quotient of ``eigenvector`` (unit norm), the pair whose
    residual the last record holds; ``converged`` says whether that residual met ``tol``.
    """

    eigenvalue: float
    eigenvector: np.ndarray
    converged: bool
    history: History


@dataclass
class PageRankResult:
    """The ranks found by :func:`pagerank` (they sum to 1), and the run's history."""

    ranks: np.ndarray
    converged: bool
    history: History


def power_iteration(
    A,
    *,
    iterations: int = 1000,
    tol: float = 1e-10,
    code: Code | None = None,
    n: int | None = None,
    x0=None,
    start_seed: int = 0,
    reference: float | None = None,
    runtime: Runtime | None = None,
    progress: bool | None = None,
    callback: Callable[[int, np.ndarray, Record], None] | None = None,
    **runtime_options,
) -> PowerResult:
    """The dominant eigenvalue of a square ``A`` and its eigenvector, one coded round per
    iteration.

    Each round computes ``y = A x`` (``‖x‖ = 1``), the Rayleigh quotient ``λ = xᵀy`` and the
    residual ``‖y − λx‖``, then ``x ← y / ‖y‖``; the run stops once the residual is at most
    ``tol·‖y‖``. It finds the eigenvalue largest in magnitude when it is strictly
    dominant, ``|λ₁| > |λ₂|``. For a symmetric ``A`` the residual shrinks as ``|λ₂/λ₁|^t``
    and the eigenvalue's error, at most ``residual²/gap``, as its square. For a
    non-symmetric ``A`` the same quotient estimates a real dominant eigenvalue, with an
    error that shrinks as ``|λ₂/λ₁|^t`` only; a complex dominant pair (or ``λ₂ = −λ₁``)
    never meets ``tol``, and the result says ``converged=False``.

    Every argument is checked before anything is placed or dispatched (or Ray started).

    Args:
        A: a square real matrix (a ``scipy.sparse`` matrix is densified: see the module doc).
        iterations: rounds at most.
        tol: the relative residual ``‖Ax − λx‖ / ‖Ax‖`` to stop at (0: run every iteration).
        code: a real matrix-product code that encodes ``A`` alone (default
            :func:`~coded.scheduler.runtime.default_code` for n workers).
        n: number of workers (default the code's, the runtime's, else 8).
        x0: the starting vector (default a random one drawn with ``start_seed``).
        start_seed: seed of the random starting vector (``seed``, among the runtime
            options, seeds the injected delays as for :class:`Runtime`).
        reference: the true eigenvalue, when known: each record then holds its error too.
        runtime: a :class:`~coded.scheduler.runtime.Runtime` to run on; by default one is
            started with ``n`` workers and ``runtime_options`` and closed afterwards.
        progress: a progress bar: None shows it once a run lasts 3 s, True always, False never.
        callback: ``callback(iteration, x, record)`` after every round, ``x`` the next iterate.

    Returns:
        :class:`PowerResult`; its history records per round the residual (as the loss and as
        ``"residual"``), the ``"eigenvalue"`` estimate and, given ``reference``,
        ``"eigenvalue_error"``.

    >>> import numpy as np, coded
    >>> from coded.scheduler.pool import InProcessPool
    >>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> with coded.Runtime(3, pool=InProcessPool(3)) as rt:
    ...     result = coded.power_iteration(A, reference=3.0, runtime=rt)
    >>> round(result.eigenvalue, 12), result.history.series("eigenvalue_error")[-1] < 1e-12
    (3.0, np.True_)
    """
    A = check_square(A)
    iterations = check_int(iterations, "iterations", minimum=1)
    tol = check_number(tol, "tol", minimum=0)
    start_seed = check_int(start_seed, "start_seed", minimum=0)
    x = _start_vector(x0, len(A), start_seed)
    if reference is not None:
        reference = check_number(reference, "reference")
    n, code = _settle(runtime, n, code, runtime_options)
    _check_hooks(progress, callback)
    history = History(
        "power",
        note="Rayleigh quotient of the iterate; residual ‖Ax − λx‖",
        config=_config(code, n, A, iterations, tol, symmetric=bool(np.allclose(A, A.T))),
    )

    def update(x, y):
        eigenvalue, scale = float(x @ y), float(np.linalg.norm(y))
        residual = float(np.linalg.norm(y - eigenvalue * x))
        values = {"eigenvalue": eigenvalue}
        if reference is not None:
            values["eigenvalue_error"] = abs(eigenvalue - reference)
        return residual, values, residual <= tol * scale, y / scale if scale else x

    with _placed(A, runtime, n, code, runtime_options) as op:
        x, _, converged = _iterate(op, x, update, iterations, history, progress, callback)
    return PowerResult(history.records[-1].values["eigenvalue"], x, converged, history)


def pagerank(
    adjacency,
    *,
    damping: float = 0.85,
    tol: float = 1e-10,
    iterations: int = 1000,
    code: Code | None = None,
    n: int | None = None,
    reference=None,
    runtime: Runtime | None = None,
    progress: bool | None = None,
    callback: Callable[[int, np.ndarray, Record], None] | None = None,
    **runtime_options,
) -> PageRankResult:
    """PageRank of a directed graph, the link matrix's product one coded round per iteration.

    ``adjacency[i, j]`` is the weight of the link i → j (0 for none). ``P``, the
    column-stochastic :func:`link_matrix`, sends each node's rank along its out-links in
    proportion to their weights; a dangling node (no out-link) spreads its rank over every
    node. From ``r = 1/N``, each round computes ``P r`` coded and

        r ← d·(P r + (Σ_dangling r)/N·1) + (1 − d)/N·1,

    the power iteration of the Google matrix, which converges as ``d^t``; the run stops
    once ``‖r_new − r‖₁ ≤ tol`` (then ``‖r − r*‖₁ ≤ tol·d/(1 − d)``).

    Every argument is checked before anything is placed or dispatched (or Ray started).

    Args:
        adjacency: a square matrix of non-negative link weights (numpy or ``scipy.sparse``,
            densified: see the module doc).
        damping: ``d``, the probability of following a link, in [0, 1).
        tol: the change ``‖r_new − r‖₁`` to stop at (0: run every iteration).
        iterations: rounds at most.
        code, n, runtime, progress, runtime_options: as for :func:`power_iteration`.
        reference: the true ranks, when known: each record then holds ``"error"``,
            ``‖r − reference‖₁``.
        callback: ``callback(iteration, r, record)`` after every round.

    Returns:
        :class:`PageRankResult`; its history records per round the change ``‖r_new − r‖₁``
        (as the loss and as ``"residual"``) and, given ``reference``, ``"error"``.

    >>> import numpy as np, coded
    >>> from coded.scheduler.pool import InProcessPool
    >>> links = np.array([[0, 1, 1], [0, 0, 1], [1, 0, 0]])
    >>> with coded.Runtime(3, pool=InProcessPool(3)) as rt:
    ...     result = coded.pagerank(links, runtime=rt)
    >>> result.ranks.round(4), result.converged
    (array([0.3878, 0.2148, 0.3974]), True)
    """
    adjacency = check_adjacency(adjacency)
    damping = check_number(damping, "damping", minimum=0, maximum=1, below=True)
    tol = check_number(tol, "tol", minimum=0)
    iterations = check_int(iterations, "iterations", minimum=1)
    size = len(adjacency)
    if reference is not None:
        reference = _vector(reference, "reference", size)
    n, code = _settle(runtime, n, code, runtime_options)
    _check_hooks(progress, callback)
    P, dangling = link_matrix(adjacency)
    history = History(
        "pagerank",
        note="‖r_new − r‖₁ per round",
        config=_config(code, n, P, iterations, tol, damping=damping, dangling=int(dangling.sum())),
    )

    def update(r, Pr):
        r_new = damping * (Pr + r[dangling].sum() / size) + (1 - damping) / size
        change = float(np.abs(r_new - r).sum())
        values = {} if reference is None else {"error": float(np.abs(r_new - reference).sum())}
        return change, values, change <= tol, r_new

    with _placed(P, runtime, n, code, runtime_options) as op:
        start = np.full(size, 1 / size)
        _, ranks, converged = _iterate(op, start, update, iterations, history, progress, callback)
    return PageRankResult(ranks, converged, history)


def link_matrix(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The column-stochastic link matrix ``P[j, i] = adjacency[i, j] / Σ_j adjacency[i, j]``
    of a checked adjacency matrix, and the mask of its dangling nodes (their columns zero).

    >>> P, dangling = link_matrix(np.array([[0.0, 1.0], [0.0, 0.0]]))
    >>> P.tolist(), dangling.tolist()
    ([[0.0, 0.0], [1.0, 0.0]], [False, True])
    """
    out = adjacency.sum(axis=1)
    dangling = out == 0
    return (adjacency / np.where(dangling, 1.0, out)[:, None]).T, dangling


# -- checks --------------------------------------------------------------------------------
def check_square(A, name: str = "A") -> np.ndarray:
    """``A`` as a finite float64 square matrix (a ``scipy.sparse`` one densified), or an error
    naming it.

    >>> check_square(np.ones((3, 4)))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'A' must be a square matrix, not of shape (3, 4).
    """
    sparse = sys.modules.get("scipy.sparse")  # not imported: A cannot be a scipy matrix
    if sparse is not None and sparse.issparse(A):
        A = A.toarray()
    A = RealField().validate(A, name, ndim=(2,)).astype(np.float64, copy=False)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"Argument {name!r} must be a square matrix, not of shape {A.shape}.")
    return A


def check_adjacency(adjacency, name: str = "adjacency") -> np.ndarray:
    """``adjacency`` as a square matrix of non-negative link weights, or an error naming it.

    >>> check_adjacency([[0, 1], [-1, 0]])
    Traceback (most recent call last):
    ...
    ValueError: Argument 'adjacency' must hold non-negative link weights, not -1.0 at index (1, 0).
    """
    adjacency = check_square(adjacency, name)
    negative = np.argwhere(adjacency < 0)
    if len(negative):
        index = tuple(int(i) for i in negative[0])
        raise ValueError(
            f"Argument {name!r} must hold non-negative link weights, not {adjacency[index]} "
            f"at index {index}."
        )
    return adjacency


def check_iterative_code(code, n: int | None = None, byzantine: int = 0) -> Code:
    """``code`` if it can run the rounds of an iterative method (a matrix-product code that
    encodes ``A`` alone, over the reals, for ``n`` workers), else an error naming it.

    >>> from coded import MDSCode
    >>> check_iterative_code(MDSCode(4, 2, field=7))
    Traceback (most recent call last):
    ...
    ValueError: Argument 'code' must compute over the reals for an iterative method, not GF(7).
    """
    check_code(code, n, byzantine)
    if operand_count(code) != 1:
        raise TypeError(
            f"Argument 'code' must encode A alone, e.g. coded.MDSCode(n=8, k=6), not {code!r}."
        )
    if code.field.exact:
        raise ValueError(
            f"Argument 'code' must compute over the reals for an iterative method, "
            f"not {code.field.name}."
        )
    return code


def _settle(runtime, n, code, runtime_options) -> tuple[int, Code]:
    """The run's number of workers and its code, checked against each other and a runtime."""
    check_runtime_options(runtime, runtime_options)
    if n is not None:
        n = check_int(n, "n", minimum=1)
    settled = runtime.n if runtime is not None else code.n if code is not None else None
    if n is not None and settled is not None and n != settled:
        owner = "runtime" if runtime is not None else "code"
        raise ValueError(f"Argument 'n' must equal the {owner}'s n={settled}, not {n}.")
    n = settled if settled is not None else DEFAULT_N if n is None else n
    if runtime is not None:
        byzantine = runtime.byzantine
    else:
        byzantine = check_int(runtime_options.get("byzantine", 0), "byzantine", minimum=0)
    code = default_code(n) if code is None else code
    return n, check_iterative_code(code, n, byzantine)


def _start_vector(x0, size: int, seed: int) -> np.ndarray:
    """``x0`` (default random with ``seed``), scaled to unit norm."""
    if x0 is None:
        x = np.random.default_rng(seed).standard_normal(size)
    else:
        x = _vector(x0, "x0", size)
    norm = np.linalg.norm(x)
    if norm == 0:
        raise ValueError("Argument 'x0' must not be zero.")
    return x / norm


def _vector(x, name: str, size: int) -> np.ndarray:
    x = RealField().validate(x, name, ndim=(1,)).astype(np.float64, copy=False)
    if len(x) != size:
        raise ValueError(f"Argument {name!r} must have {size} entries, one per row, not {len(x)}.")
    return x


def _check_hooks(progress, callback) -> None:
    if progress is not None:
        check_bool(progress, "progress")
    if callback is not None and not callable(callback):
        raise TypeError(f"Argument 'callback' must be callable or None, not {describe(callback)}.")


# -- the run -------------------------------------------------------------------------------
@contextmanager
def _placed(A, runtime, n, code, runtime_options):
    """``A`` placed with ``code`` on ``runtime`` (by default one started here and closed)."""
    with runtime_for(runtime, n, **runtime_options) as runtime, runtime.place(A, code=code) as op:
        yield op


def _iterate(op: CodedOperator, x, update, iterations, history, progress, callback):
    """Rounds ``y = op @ x``; ``update(x, y)`` gives ``(residual, values, converged, next x)``.

    Returns the last round's ``x``, the next iterate, and whether it converged.
    """
    following = x
    with Progress(iterations, history.method, progress, quantity="residual") as bar:
        for t in range(iterations):
            start, x = time.perf_counter(), following
            y = op @ x
            residual, values, converged, following = update(x, y)
            record = history.append(
                residual,
                time.perf_counter() - start,
                op.metrics.used,
                residual=residual,
                **values,
            )
            bar.update(residual)
            if callback is not None:
                callback(t, following, record)
            if converged:
                break
    return x, following, converged


def _config(code: Code, n: int, A: np.ndarray, iterations: int, tol: float, **more) -> dict:
    return {
        "n": n,
        "code": repr(code),
        "size": len(A),
        "iterations": iterations,
        "tol": tol,
        **more,
    }
