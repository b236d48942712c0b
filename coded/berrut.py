"""Berrut approximate coded computing (BACC): ``f(X_1), …, f(X_k)`` for any real ``f``.

The k data blocks are the values at the Chebyshev points (first kind)
``β_j = cos((2j + 1)π / 2k)``, j = 0..k−1, of Berrut's rational interpolant

    u(z) = Σ_j (−1)^j X_j / (z − β_j)  /  Σ_j (−1)^j / (z − β_j),

and worker i holds ``u(α_i)`` at the Chebyshev points (second kind) ``α_i = cos(iπ/(n − 1))``
(for n = 1, ``α_0 = cos(π/2) = 0``, the middle of [−1, 1]). It returns ``g(α_i)`` where
``g = f∘u``, for any function ``f`` at all: no degree, no threshold. From any non-empty set
of responses, ordered along the line as ``α̃_0 > α̃_1 > …``, the decoder evaluates Berrut's
interpolant of g through them,

    r(z) = Σ_m (−1)^m g(α̃_m) / (z − α̃_m)  /  Σ_m (−1)^m / (z − α̃_m),

at the β: ``f̂(X_j) = r(β_j) = Σ_m D[j, m] g(α̃_m)``, a linear map whose rows sum to 1.
The result is an approximation whose error shrinks as responses grow (Berrut's interpolant
converges like the largest gap between the points for smooth g, Floater & Hormann), with an
a-priori bound per subset (:meth:`BerrutCode.error_estimate`); ``f`` constant is decoded
exactly, ``u`` interpolates (``u(β_j) = X_j``), and one response is copied to every block.

Berrut's interpolant has no real poles: for distinct nodes in order along the line, the
alternating denominator does not vanish on the real line (Berrut 1988), so every set of
responses decodes. A worker point equals a data point when ``i/(n − 1) = (2j + 1)/2k``:
never for even n (the right side has an odd numerator over an even denominator), but for
odd n it happens (n = 9, k = 4: ``α_1 = β_0``). Both points come from the same fraction, so
they are the same float, and :func:`berrut_matrix` gives a target equal to a node that
node's value: that worker holds ``X_j`` itself, and a decode it takes part in returns its
response for ``f(X_j)``.

References:
    M. Jahani-Nezhad, M. A. Maddah-Ali, "Berrut approximated coded computing: straggler
    resistance beyond polynomial computing", IEEE TPAMI 2022, arXiv:2009.08327.
    J.-P. Berrut, "Rational functions for guaranteed and experimentally well-conditioned
    global interpolation", Comput. Math. Appl. 1988.
    M. S. Floater, K. Hormann, "Barycentric rational interpolation with no poles and high
    rates of approximation", Numer. Math. 2007.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from . import _blocks
from ._code import BlockLayout, FunctionCode
from .checks import check_int, check_number

__all__ = ["BerrutCode", "berrut_matrix"]


def berrut_matrix(targets: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """``M[t, m]``: the weight of node m in Berrut's rational interpolant at target t.

    ``M @ y`` evaluates at the targets ``r(z) = Σ_m (−1)^m y_m/(z − x_m) / Σ_m (−1)^m/(z − x_m)``
    for distinct ``nodes`` in monotone order. Rows sum to 1; a target equal to a node gets
    that node's value (a unit row).

    >>> berrut_matrix(np.array([0.5, 1.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    array([[ 0.6,  0.6, -0.2],
           [ 0. ,  1. ,  0. ],
           [ 0.4, -0.6,  1.2]])
    """
    differences = np.subtract.outer(np.asarray(targets, float), np.asarray(nodes, float))
    hits = differences == 0
    with np.errstate(divide="ignore"):
        weights = (-1.0) ** np.arange(differences.shape[1]) / differences
    at_node = hits.any(axis=1)
    weights[at_node] = hits[at_node]
    return weights / weights.sum(axis=1, keepdims=True)


class BerrutCode(FunctionCode):
    """Berrut approximate coded computing of any real function ``f`` on k data blocks.

    Args:
        n: number of workers.
        k: number of data blocks ``X_1..X_k`` (any k ≥ 1, also above n: each block is then
            approximated from fewer points than there are blocks, and more coarsely).

    Any one response decodes (:attr:`recovery_threshold` is 1), and decoding uses every
    response that arrived: the more, the closer ``f̂(X_j)`` is to ``f(X_j)``
    (:meth:`error_estimate` bounds the gap). Over the reals only (the interpolant needs
    division and an order on the line). The decode's noise amplification is the Lebesgue
    constant of the arrived set (:meth:`condition_number`), guarded like every real code.
    :meth:`correct` is not supported: the responses carry no exact redundancy.

    >>> import numpy as np
    >>> code = BerrutCode(n=16, k=2)
    >>> X = [np.array([[0.2, -0.4]]), np.array([[0.5, 0.1]])]
    >>> shares = code.encode(X)
    >>> out = code.decode({i: np.tanh(shares[i]) for i in range(1, 16)})  # worker 0 is late
    >>> [round(float(np.abs(o - np.tanh(x)).max()), 3) for o, x in zip(out, X)]
    [0.01, 0.012]
    >>> np.array_equal(code.decode({3: np.tanh(shares[3])})[1], np.tanh(shares[3]))  # one: copied
    True
    """

    _params = ("n", "k")
    approximate = True

    def __init__(self, n: int, k: int):
        super().__init__(n)
        self._k = check_int(k, "k", minimum=1)
        fractions = np.arange(self._n) / (self._n - 1) if self._n > 1 else np.array([0.5])
        self._alphas = np.cos(np.pi * fractions)
        self._betas = np.cos(np.pi * (2 * np.arange(k) + 1) / (2 * k))
        self._encoder = berrut_matrix(self._alphas, self._betas)

    @property
    def recovery_threshold(self) -> int:
        """1: any one response decodes (to that response, in every block)."""
        return 1

    def encode(self, blocks: Sequence) -> list[np.ndarray]:
        """The n shares ``u(α_i)`` of k equally shaped real data blocks.

        Args:
            blocks: k arrays of one shape (or an array whose leading axis has length k).
        """
        data, dtype = _blocks.stack_blocks(blocks, self._k, self.field)
        shares = self.field.combine(self._encoder, data).astype(dtype, copy=False)
        self.layout_ = BlockLayout(data.shape[1:], dtype)
        return list(shares)

    def error_estimate(
        self, indices: Iterable[int], *, slope: float = 1.0, curvature: float = 1.0
    ) -> float:
        """A bound on every entry's error when decoding from ``indices``, for ``f∘u`` with
        ``|(f∘u)′| ≤ slope`` and ``|(f∘u)″| ≤ curvature`` on [−1, 1] (entrywise).

        With ``g = f∘u`` (so ``g(β_j) = f(X_j)``; response m is ``g(α_m)``, the arrived
        points ordered along the line) and ``g[a, b]`` its divided differences, Berrut's
        decode errs by

            f̂(X_j) − f(X_j) = −Σ_m (−1)^m g[α_m, β_j] / Σ_m (−1)^m / (β_j − α_m).

        Pairing the terms ``(0, 1), (2, 3), …`` gives ``g[α_m, β_j] − g[α_{m+1}, β_j] =
        (α_m − α_{m+1}) g[α_m, α_{m+1}, β_j]``, at most ``|α_m − α_{m+1}| · curvature / 2``,
        and with an odd number r of responses one term ``|g[α_{r−1}, β_j]| ≤ slope`` is left,
        so every entry of every decoded block is within

            max_j (slope · [r odd] + curvature · P / 2) / |Σ_m (−1)^m / (β_j − α_m)|

        of the truth, where P sums the gaps of the pairs; that is what this returns. The
        denominator grows as the points close in on the β, so the bound shrinks (on
        average, not with every response added) like the gaps between the arrived points.
        It depends only on which workers responded, never on the data. (A slope alone
        bounds nothing better than ``r · slope / |denominator|``, which does not shrink: an
        alternating sum of r slopes may add up.) Raises :class:`~coded.NotDecodableError`
        for no workers.

        >>> code = BerrutCode(16, 4)
        >>> round(code.error_estimate([0, 5]), 3), round(code.error_estimate(range(16)), 3)
        (1.37, 0.03)
        """
        slope = check_number(slope, "slope", minimum=0)
        curvature = check_number(curvature, "curvature", minimum=0)
        used = self.select(indices)
        points = self._alphas[list(used)]
        # 1/|denominator at β_j| = |D[j, m]|·|β_j − α_m| for any m (0 when β_j is a node)
        spread = np.abs(self._decoding_matrix(used)[:, 0] * (self._betas - points[0]))
        paired = np.abs(np.diff(points))[0::2].sum()
        return float(spread.max() * (slope * (len(used) % 2) + curvature * paired / 2))

    def _select(self, indices: tuple[int, ...]) -> tuple[int, ...]:
        return indices  # every response narrows the approximation

    def _condition(self, used: tuple[int, ...]) -> float:
        """The Lebesgue constant ``max_j Σ_m |D[j, m]|`` of ``used`` (cached per set): errors
        of relative size ε in the responses come out at most this many times ε (relative
        to the largest response), the role the condition number plays for the other real codes."""
        condition = self._conditions.get(used)
        if condition is None:
            condition = float(np.abs(self._decoding_matrix(used)).sum(axis=1).max())
            self._conditions[used] = condition
        return condition

    def _decoding_matrix(self, used: tuple[int, ...]) -> np.ndarray:
        """``D[j, m]``: the weight of worker ``used[m]``'s result in ``f̂(X_j)`` (cached).

        ``used`` is sorted, so its points decrease along the line, as Berrut's signs need."""
        matrix = self._decoders.get(used)
        if matrix is None:
            matrix = berrut_matrix(self._betas, self._alphas[list(used)])
            self._decoders[used] = matrix
        return matrix

    def _decode(self, responses):
        results = self._stack(responses)
        matrix = self._decoding_matrix(tuple(responses))
        dtype = np.result_type(results.dtype, np.float32)
        return list(self.field.combine(matrix, results).astype(dtype, copy=False))
