"""Byzantine error correction: decode despite wrong responses, and name the workers that sent them.

Every code here is linear in its responses: for each entry ``e`` of the result, the arrived
workers' responses are the codeword ``G m_e`` of one linear code (generator rows ``G_i``,
message ``m_e``), so a faulty worker sits at the same position in every entry. Decoding
therefore *locates* the faulty workers once, on a few random linear combinations of the
entries, and then erasure-decodes from the others with the code's own ``decode``.

A response that is not a valid result at all (wrong shape, NaN or Inf, complex, fractional
or out of range in GF(p)) is an erasure: dropped and named at once (:func:`screen`; when
no answer is finite, the data overflowed and the result is decoded as it is, non-finite).
The rest are located:

* **GF(p)**, Reed–Solomon structure (worker i's symbol is ``P(α_i)``, ``deg P < K``):
  Berlekamp–Welch on each combination, with arbitrary points ``α``. Uniform random
  coefficients hide a wrong worker with probability 1/p per combination, so
  ``ceil(40 / log2 p)`` independent ones are used (a miss below 2^−40) and their findings
  united.
* **Reals**: the syndrome (left null space of the arrived generator rows, in float64) of
  8 combinations with coefficients uniform on [−1, 1). Candidate sets of 0, 1, …, A
  workers are ranked by the syndrome residual they leave (all sets of a size when there
  are at most 2^16, else the 64 best of the size below grown by one worker: a beam that
  may refuse a correctable round, never accept an inconsistent one); the best of the
  smallest size whose removal leaves the rest consistent wins. Consistency is checked on
  the punctured code directly: the least-squares residual of the rest must stay below
  ``(tolerance + 16 eps₆₄ cond) · scale · √r``, where ``scale`` is the (A+1)-th largest
  response (some honest worker is that large), ``r`` the dimension of the residual space
  and ``tolerance`` by default 2^6 · eps of the dtype most responses have (honest float32
  and float64 responses measure about 1 eps). A response whose rounding swamps the
  others' (say 1e20 times larger) is erased first when nothing else fits; one beyond
  2^500 after combining is wrong outright.

With at most A wrong responses among ``recovery_threshold + 2A`` the located set is exact
over GF(p) (up to the 2^−40 above). Over the reals it is exact above a floor set by the
tolerance. Measured (every family, A = 1 and 2, 200 trials per size): every error of
relative size ‖e_i‖/‖r_i‖ ≥ 1e-3 (float32) or ≥ 1e-11 (float64) is located, and smaller
ones, when missed, move the result by at most about twice their size (float32: ≤ 2e-4
relative, float64: ≤ 2e-12). Past the bound, the responses usually contradict every
choice of A workers and :class:`~coded.UncorrectableError` says what was seen; no decoder
catches A + 1 errors that together look like another codeword (e.g. A + 1 equal
responses in a fractional gradient group of 2A + 1).

References:
    L. R. Welch, E. R. Berlekamp, "Error correction for algebraic block codes", US patent
    4,633,470 (1986); the decoder as in Gemmell & Sudan, IPL 1992.
    Q. Yu et al., "Lagrange coded computing", AISTATS 2019, arXiv:1806.00939.
    E. J. Candès, T. Tao, "Decoding by linear programming", IEEE T-IT 2005 (the real view).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .checks import check_int, describe
from .errors import NotDecodableError, UncorrectableError
from .fields import gf_matmul

__all__ = ["Correction", "Linear", "correct", "screen"]

_MISS_BITS = 40  # GF(p): a wrong worker hides in every combination with probability < 2^−40
_REAL_COMBINATIONS = 8
_EPS64 = float(np.finfo(np.float64).eps)
_EXHAUSTIVE = 2**16  # reals: candidate sets of one size searched exhaustively, at most
_BEAM = 64  # beyond that, the best sets of the size below that are grown by one worker
_LARGE = 2.0**500  # a combined response beyond this is wrong: its square nears float64's limit


@dataclass(frozen=True, eq=False)  # the result may be an array: no field-wise equality
class Correction:
    """What :meth:`~coded.Code.correct` found.

    Attributes:
        result: what ``decode`` returns, decoded from responses found good.
        faulty: the workers whose responses were wrong, sorted.
        used: the workers the result was decoded from (``code.select`` of the good ones).
        reasons: worker → why it is faulty (``"inconsistent with the others"``, ``"NaN or
            Inf"``, a shape, …).
    """

    result: object
    faulty: tuple[int, ...]
    used: tuple[int, ...]
    reasons: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Linear:
    """The responses of ``workers`` (in that order) as one linear code, for locating errors.

    Over the reals, ``generator`` is (N, b, K): for every entry position ``e``,
    ``symbols(stacked)[i, :, e] = generator[i] @ m_e``, where ``stacked`` holds the
    workers' responses along a new first axis; ``symbols`` defaults to
    ``stacked.reshape(N, b, -1)``. Any full-rank basis of the code will do.

    Over GF(p), use :meth:`reed_solomon`: worker i's response entries are values
    ``P_e(points[i])`` of polynomials of degree below ``dimension``.
    """

    workers: tuple[int, ...]
    generator: np.ndarray | None = None
    symbols: Callable[[np.ndarray], np.ndarray] | None = None
    points: np.ndarray | None = None
    dimension: int = 0

    @classmethod
    def reed_solomon(cls, workers, points, dimension: int) -> Linear:
        """Entries of worker ``workers[i]`` are ``P(points[i])`` with ``deg P < dimension``."""
        return cls(tuple(workers), points=np.asarray(points, dtype=np.int64), dimension=dimension)

    @property
    def threshold(self) -> int:
        """How many of these workers determine the message."""
        if self.points is not None:
            return self.dimension
        rows, columns = self.generator.shape[1:]
        return -(-columns // rows)

    def values(self, stacked: np.ndarray) -> np.ndarray:
        """The responses as (N, b, entries) symbols."""
        if self.symbols is not None:
            return self.symbols(stacked)
        rows = 1 if self.generator is None else self.generator.shape[1]
        return stacked.reshape(len(stacked), rows, -1)


class _Beyond(Exception):
    """More disagreement than the budget explains (turned into UncorrectableError)."""


def correct(code, responses: Mapping, byzantine: int, *, rng=None, tolerance=None) -> Correction:
    """Decode ``responses`` despite up to ``byzantine`` wrong ones; see :meth:`Code.correct`."""
    if not isinstance(responses, Mapping):
        raise TypeError(
            f"Argument 'responses' must be a mapping of worker index to result, "
            f"not {type(responses).__name__}."
        )
    budget = check_int(byzantine, "byzantine", minimum=0)
    if tolerance is not None and not 0 < tolerance < 1:
        raise ValueError(f"Argument 'tolerance' must be in (0, 1), not {tolerance!r}.")
    code._check_encoded()
    indices = code._check_indices(responses.keys())
    needed = code.recovery_threshold + 2 * budget
    if len(indices) < needed:
        raise NotDecodableError(
            indices,
            needed,
            f"to correct byzantine={budget} wrong responses: recovery threshold "
            f"{code.recovery_threshold} + 2·{budget}",
        )
    arrays, reasons = code.screen(responses)
    valid = tuple(sorted(arrays))
    if valid and code.can_decode(valid) and not np.isfinite(arrays[valid[0]]).all():
        # screen passes non-finite answers only when none is finite: the data overflowed
        used = code.select(valid)
        result = code.decode({i: arrays[i] for i in used}, screened=True)
        return Correction(result, (), used, reasons)
    if tolerance is None and valid and not code.field.exact:
        tolerance = _default_tolerance([arrays[i].dtype for i in valid])
    rng = np.random.default_rng(rng)
    try:
        for linear in code._linear(valid) if valid else ():
            combined = _combine(code.field, linear, [arrays[i] for i in linear.workers], rng)
            for position in _locate(code.field, linear, combined, budget, tolerance):
                reasons[linear.workers[position]] = "inconsistent with the other responses"
    except _Beyond as beyond:
        raise UncorrectableError(indices, needed, budget, str(beyond)) from None
    good = [i for i in valid if i not in reasons]
    if not code.can_decode(good):
        detail = f"{len(reasons)} responses are wrong ({_listed(reasons)})"
        raise UncorrectableError(indices, needed, budget, detail)
    used = code.select(good)
    result = code.decode({i: arrays[i] for i in used}, screened=True)
    return Correction(result, tuple(sorted(reasons)), used, reasons)


def _listed(reasons: Mapping[int, str]) -> str:
    return "; ".join(f"worker {i}: {reason}" for i, reason in sorted(reasons.items()))


# -- screening -------------------------------------------------------------------------
def screen(field, responses: Mapping, shape: tuple[int, ...] | None = None):
    """Split ``responses`` into valid arrays and the reasons the others are not results.

    Returns ``(arrays, reasons)``: worker → array for the valid responses, worker → reason
    for the rest. A response is not a result when it is not a non-empty array of real
    numbers (integers over GF(p); so complex, NaN or a fractional value there is out), its
    shape does not start with ``shape`` (when given) or differs from the shape most
    responses have (a tie between shapes is a ValueError: nothing says which is right),
    or, over GF(p), it has values outside ``[0, p)``. Over the reals a NaN or Inf response
    is not a result while some other response is finite; when none is, the computation
    itself overflowed (say, a diverging model) and the values pass, to decode as
    non-finite. The cost: one dtype check and one ``np.isfinite`` pass (min and max over
    GF(p)) per response.

    >>> from coded.fields import as_field
    >>> arrays, reasons = screen(as_field("real"), {0: [1.0, 2.0], 1: [np.nan, 0.0], 2: "x"})
    >>> sorted(arrays), reasons
    ([0], {1: 'NaN or Inf', 2: "it must be a non-empty array of real numbers, not 'x' (str)"})
    """
    exact, reasons, arrays = field.exact, {}, {}
    kind = "integer array" if exact else "array of real numbers"
    for i, response in responses.items():
        try:
            array = np.asarray(response)
        except (ValueError, TypeError):  # a ragged nested sequence
            array = np.asarray(None)
        dtype = array.dtype
        numeric = np.issubdtype(dtype, np.integer) or (
            not exact and (np.issubdtype(dtype, np.floating) or dtype == np.bool_)
        )
        if not numeric or array.size == 0:
            reasons[int(i)] = f"it must be a non-empty {kind}, not {describe(response)}"
        elif shape is not None and array.shape[: len(shape)] != shape:
            reasons[int(i)] = (
                f"its shape {array.shape} must start with {shape} like every response's"
            )
        else:
            arrays[int(i)] = array
    _screen_shapes(arrays, reasons)
    if exact:
        for i, array in arrays.items():
            if array.min() < 0 or array.max() >= field.p:
                reasons[i] = f"values outside [0, {field.p}) for {field.name}"
    else:
        infinite = [
            i for i, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()
        ]
        if len(infinite) < len(arrays):  # some response is finite: the others are wrong
            reasons.update(dict.fromkeys(infinite, "NaN or Inf"))
    return {i: a for i, a in arrays.items() if i not in reasons}, dict(sorted(reasons.items()))


def _screen_shapes(arrays: dict[int, np.ndarray], reasons: dict[int, str]) -> None:
    """Name (in ``reasons``) the arrays whose shape is not the one most of them have."""
    counts = Counter(array.shape for array in arrays.values()).most_common()
    if len(counts) < 2:
        return
    (common, count), (_, runner_up) = counts[:2]
    if count == runner_up:
        shapes = ", ".join(f"worker {i}: {a.shape}" for i, a in arrays.items())
        raise ValueError(f"the responses must all have one shape, not {shapes}")
    for i, array in arrays.items():
        if array.shape != common:
            reasons[i] = (
                f"its shape {array.shape} must be {common} like {count} of the "
                f"{len(arrays)} responses"
            )


def _default_tolerance(dtypes: list[np.dtype]) -> float:
    """2^6 · eps of the dtype most responses have (one odd response cannot move it)."""
    precisions = [np.result_type(dtype, np.float32) for dtype in dtypes]
    return 2**6 * float(np.finfo(max(set(precisions), key=precisions.count)).eps)


# -- locating --------------------------------------------------------------------------
def _combine(field, linear: Linear, responses: list[np.ndarray], rng) -> np.ndarray:
    """Each worker's symbols times one random matrix: (N, b, L), the entries mixed.

    Worker by worker (no stacked copy of every response), in float64 over the reals.
    """
    out = []
    for response in responses:
        if field.exact:
            symbols = linear.values(response[None].astype(np.int64, copy=False))[0]
        else:
            symbols = linear.values(response[None])[0].astype(np.float64, copy=False)
        if not out:  # the mixing matrix, once the number of entries is known
            if field.exact:
                count = max(2, math.ceil(_MISS_BITS / math.log2(field.p)))
                mixing = rng.integers(0, field.p, (symbols.shape[1], count))
            else:  # uniform on [−1, 1): continuous, so no error vanishes; cheap to draw
                uniform = rng.random((symbols.shape[1], _REAL_COMBINATIONS), dtype=np.float32)
                mixing = (2 * uniform - 1).astype(np.float64)
        if field.exact:
            out.append(gf_matmul(symbols, mixing, field.p))
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                out.append(symbols @ mixing)
    return np.stack(out)


def _locate(field, linear: Linear, combined, budget, tolerance) -> tuple[int, ...]:
    """Positions (in ``linear.workers``) of the wrong responses, from their combinations."""
    count = len(linear.workers)
    if count < linear.threshold:
        raise _Beyond(f"only {count} usable responses where the code needs {linear.threshold}")
    budget = min(budget, (count - linear.threshold) // 2)
    if field.exact:
        points = linear.points % field.p
        return _welch(points, linear.dimension, combined[:, 0], budget, field.p)
    # values whose squares would overflow float64 cannot be fitted: erased, they are wrong
    overflow = np.flatnonzero(~(np.abs(combined) < _LARGE).all(axis=(1, 2)))
    if len(overflow) > budget:
        raise _Beyond(f"{len(overflow)} responses are too large to check, more than {budget}")
    keep = np.delete(np.arange(count), overflow)
    generator = linear.generator[keep].astype(np.float64)
    found = _syndrome(generator, combined[keep], budget - len(overflow), tolerance)
    return tuple(sorted((*(int(i) for i in overflow), *(int(keep[i]) for i in found))))


# -- GF(p): Berlekamp–Welch ------------------------------------------------------------
def _welch(points, dimension, combined, budget, p) -> tuple[int, ...]:
    """Berlekamp–Welch on each column of ``combined`` (N × L), batched over the columns.

    Unknowns: Q of degree < K + t and a monic error locator E of degree t with
    ``Q(α_i) = y_i E(α_i)`` for every i. With at most t errors any solution has
    ``Q = P·E`` for the message polynomial P; the wrong workers are where ``P(α_i) ≠ y_i``.
    """
    n, k, t = len(points), dimension, budget
    powers = _powers(points, k + t + 1, p)  # α_i^j
    y = combined.T  # (L, N)
    system = np.empty((y.shape[0], n, k + 2 * t + 1), dtype=np.int64)
    system[:, :, : k + t] = powers[:, : k + t]
    system[:, :, k + t : k + 2 * t] = (p - y[:, :, None]) * powers[:, :t] % p
    system[:, :, -1] = y * powers[:, t] % p
    solution, solvable = _solve_mod(system, p)
    if not solvable.all():
        raise _Beyond(f"no error locator of degree {t} fits: over {t} of {n} responses disagree")
    locator = np.concatenate([solution[:, k + t :], np.ones((len(y), 1), np.int64)], axis=1)
    message, remainder = _divide(solution[:, : k + t], locator, p)
    if remainder.any():
        raise _Beyond(f"the error locator does not divide: over {t} of {n} responses disagree")
    wrong = np.flatnonzero((_evaluate(message, points, p) != y).any(axis=0))
    if len(wrong) > t:
        raise _Beyond(f"{len(wrong)} of {n} responses disagree, more than the {t} correctable")
    return tuple(int(i) for i in wrong)


def _powers(x: np.ndarray, count: int, p: int) -> np.ndarray:
    out = np.ones((len(x), count), dtype=np.int64)
    for j in range(1, count):
        out[:, j] = out[:, j - 1] * x % p
    return out


def _solve_mod(system: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Any solution of each augmented system ``[A | b]`` (L, N, U + 1) mod p (free unknowns 0).

    Gauss–Jordan elimination, batched over L. Returns the solutions (L, U) and whether
    each system is consistent.
    """
    a = system % p
    batch, rows, width = a.shape
    systems = np.arange(batch)
    rank = np.zeros(batch, dtype=np.int64)
    pivot_row = np.full((batch, width - 1), -1)
    unfilled = np.arange(rows)[None, :] >= np.arange(rows + 1)[:, None]  # [r, i]: i ≥ r
    for column in range(width - 1):
        candidates = (a[:, :, column] != 0) & unfilled[rank]
        pick = candidates.argmax(axis=1)
        has = candidates[systems, pick]
        if not has.any():
            continue
        which, top, pick = systems[has], rank[has], pick[has]
        pivot = a[which, pick]
        a[which, pick] = a[which, top]
        inverse = np.array([pow(int(v), -1, p) for v in pivot[:, column]], dtype=np.int64)
        pivot = pivot * inverse[:, None] % p
        factors = a[which, :, column]
        factors[np.arange(len(which)), top] = 0
        a[which] = (a[which] - factors[:, :, None] * pivot[:, None, :]) % p
        a[which, top] = pivot
        pivot_row[which, column] = top
        rank[which] += 1
    stray = (a[:, :, -1] != 0) & unfilled[rank]
    solution = np.zeros((batch, width - 1), dtype=np.int64)
    which, column = np.nonzero(pivot_row >= 0)
    solution[which, column] = a[which, pivot_row[which, column], -1]
    return solution, ~stray.any(axis=1)


def _divide(numerator: np.ndarray, divisor: np.ndarray, p: int):
    """Quotient and remainder of polynomials mod p (coefficients low to high, divisor monic)."""
    t = divisor.shape[1] - 1
    remainder = numerator.copy()
    quotient = np.zeros((len(numerator), numerator.shape[1] - t), dtype=np.int64)
    for degree in range(numerator.shape[1] - 1, t - 1, -1):
        lead = remainder[:, degree]
        quotient[:, degree - t] = lead
        span = slice(degree - t, degree + 1)
        remainder[:, span] = (remainder[:, span] - lead[:, None] * divisor) % p
    return quotient, remainder[:, :t]


def _evaluate(coefficients: np.ndarray, x: np.ndarray, p: int) -> np.ndarray:
    """Each row's polynomial at every point (Horner), (L, N)."""
    out = np.zeros((len(coefficients), len(x)), dtype=np.int64)
    for j in range(coefficients.shape[1] - 1, -1, -1):
        out = (out * x + coefficients[:, j, None]) % p
    return out


# -- reals: syndrome and punctured fits -----------------------------------------------
def _syndrome(generator, combined, budget, tolerance) -> tuple[int, ...]:
    """The smallest set of at most ``budget`` workers whose removal leaves the rest consistent.

    Candidates of each size are ranked by the syndrome residual (one batched QR); the best
    is accepted if the punctured code fits the rest. When nothing fits, a response so large
    that its rounding swamps the others' is erased and the search repeats without it.
    """
    count, rows, k = generator.shape
    norms = np.linalg.norm(combined, axis=(1, 2))
    scale = np.sort(norms)[-(budget + 1)]
    u, singular, _ = np.linalg.svd(generator.reshape(count * rows, k))
    parity = u[:, k:].T  # rows span the left null space of the generator
    syndrome = parity @ combined.reshape(count * rows, -1)
    ranked = np.empty((1, 0), dtype=np.int64)  # candidate sets of the last size, best first
    for size in range(budget + 1):
        sets = _candidates(count, size, ranked[:_BEAM])
        ranked = sets[np.argsort(_residuals(parity, syndrome, sets, rows))]
        best = tuple(int(i) for i in ranked[0])
        misfit = _misfit(generator, combined, best, scale, tolerance)
        if misfit <= 1:
            return best
    if budget and norms.max() > scale:
        largest = int(np.argmax(norms))
        keep = np.delete(np.arange(count), largest)
        try:
            rest = _syndrome(generator[keep], combined[keep], budget - 1, tolerance)
            return tuple(sorted((largest, *(int(keep[i]) for i in rest))))
        except _Beyond:
            pass
    raise _Beyond(
        f"the {count} responses disagree beyond any {budget} wrong ones: without the "
        f"{budget} that explain most, the rest still miss the code by {misfit:.1e}× the "
        f"tolerance"
    )


def _candidates(count: int, size: int, beam: np.ndarray) -> np.ndarray:
    """Every set of ``size`` workers, or, when there are over 2^16, each set of ``beam``
    (the best of the size below) plus one more worker."""
    if math.comb(count, size) <= _EXHAUSTIVE:
        sets = np.array(list(itertools.combinations(range(count), size)), dtype=np.int64)
        return sets.reshape(math.comb(count, size), size)
    grown = [sorted((*kept, i)) for kept in beam.tolist() for i in range(count) if i not in kept]
    return np.unique(np.array(grown, dtype=np.int64), axis=0)


def _residuals(parity, syndrome, sets, rows) -> np.ndarray:
    """Syndrome residual left after errors on each set of workers, for every set (batched)."""
    if sets.shape[1] == 0:
        return np.array([np.linalg.norm(syndrome)])
    columns = (sets[:, :, None] * rows + np.arange(rows)).reshape(len(sets), -1)
    basis = np.linalg.qr(parity[:, columns].transpose(1, 0, 2))[0]  # (sets, M − K, t·b)
    left = syndrome - basis @ (basis.transpose(0, 2, 1) @ syndrome)
    return np.linalg.norm(left, axis=(1, 2))


def _misfit(generator, combined, erased, scale, tolerance) -> float:
    """Least-squares residual of the workers outside ``erased``, over the tolerated one."""
    keep = np.delete(np.arange(len(generator)), list(erased))
    rows = generator[keep].reshape(-1, generator.shape[2])
    values = combined[keep].reshape(len(rows), -1)
    u, singular, _ = np.linalg.svd(rows, full_matrices=False)
    left = values - u @ (u.T @ values)
    cond = singular[0] / singular[-1]
    redundancy = max(len(rows) - generator.shape[2], 1)  # dimension of the residual space
    limit = (tolerance + 16 * _EPS64 * cond) * scale * math.sqrt(redundancy)
    residual = float(np.linalg.norm(left))
    return residual / limit if limit > 0 else (math.inf if residual else 0.0)
