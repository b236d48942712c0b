"""Lagrange coded computing: ``f(X_1), …, f(X_k)`` for a polynomial ``f`` of degree d.

The k data blocks are the values at points ``β_1..β_k`` of

    u(z) = Σ_j X_j ℓ_j(z) + Σ_t Z_t ℓ_{k+t}(z),

where the ``ℓ`` interpolate at ``β_1..β_{k+T}`` and ``Z_1..Z_T`` are uniformly random masks
(T-privacy, finite fields only). Worker i holds ``u(α_i)`` and returns ``f(u(α_i))``, a value
of ``f∘u``; any recovery-threshold many results interpolate it, and evaluating the
interpolant at ``β_j`` gives ``f(X_j)``.

Over GF(p), ``ℓ`` is the Lagrange basis of polynomials of degree ``k + T − 1`` and the
points are 0, 1, …: ``β`` first, then ``α``; ``f∘u`` has degree ``(k + T − 1)·d``, so the
threshold is ``(k + T − 1)·d + 1``.

Over the reals (T = 0) polynomials on a line are hopeless: interpolating from clustered
responses extrapolates, and at Chebyshev points on [−1, 1] the worst condition number over
straggler sets reaches 8e13 for (n, k, d) = (32, 8, 2). The real code lives on the unit
circle instead, the real form of evaluating at roots of unity (as
:class:`~coded.MDSCode` does with its rotation embedding): angles ``β_j = 2πj/k`` carry the
data, ``θ_i = 2π(i + δ)/n`` the workers, and with ``m = ⌊k/2⌋`` the ``ℓ_j`` are the
trigonometric Lagrange basis of

    V = span{1, cos tθ, sin tθ (0 < t < m), cos mθ, and sin mθ if k is odd},   dim V = k.

A product of d functions of V lies in the space W of the same form with ``D = d·m`` in
place of m (the top frequency of V is ``cos mθ`` alone when k is even, so that of W is
``cos Dθ`` alone), so ``f∘u ∈ W`` for every ``f`` of degree at most d, and

    K = dim W = d(k − 1) + 1 (k odd: LCC's threshold),    K = d·k (k even)

results decode. Interpolating in W from K of the n angles is a real DFT-like system, the
real form of a Vandermonde at K of the n-th roots of unity (for odd k it has exactly that
condition number, with real shares and real work), so clustered stragglers cost orders of
magnitude less: the worst condition number at (32, 8, 2) is 4e7 with 16 stragglers, where
Chebyshev points give 3e12 with 16 and 8e13 with 17. An even k costs d − 1 responses more
than LCC's threshold (with fewer, some decoding system must extrapolate a polynomial on a
line). For even k the top frequency ``cos Dθ`` makes a set of 2D angles singular when
their sum hits one residue modulo 2π/n; the offset ``δ = 1/(4D)`` puts every sum half a
step away, within 5× of the complex Vandermonde's condition number. For odd k, ``δ = ½``.

Every real decode is guarded (:mod:`coded.conditioning`): a set whose condition number times
the responses' unit roundoff exceeds the code's ``accuracy`` raises
:class:`~coded.IllConditionedError`. When more than K responses arrived, decoding uses the
best-conditioned K of them. Measured by ``benchmarks/lagrange_stability.py`` (worst case
over straggler sets, f = XᵀX): see the README's Conditioning table.

References:
    Q. Yu, S. Li, N. Raviv, S. M. M. Kalan, M. Soltanolkotabi, S. Avestimehr, "Lagrange
    coded computing: optimal design for resiliency, security and privacy", AISTATS 2019,
    arXiv:1806.00939.
    A. Ramamoorthy, L. Tang, "Numerically stable coded matrix computations via circulant
    and rotation matrix embeddings", IEEE T-IT 2022, arXiv:1910.06515.
    J.-P. Berrut, L. N. Trefethen, "Barycentric Lagrange interpolation", SIAM Review 2004.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _blocks
from ._code import BlockLayout, FunctionCode
from .byzantine import Linear
from .checks import check_int
from .errors import UncorrectableError

__all__ = ["LagrangeCode", "barycentric_weights", "lagrange_matrix", "trigonometric_basis"]


def _as_field_array(values: np.ndarray, field):
    """``values`` as galois GF(p) elements over a prime field, unchanged over the reals."""
    return field.galois_field(np.asarray(values) % field.p) if field.exact else values


def barycentric_weights(nodes: np.ndarray, field) -> np.ndarray:
    """``w_i = 1 / Π_{l≠i} (x_i − x_l)`` for distinct ``nodes`` (float64, or integers mod p).

    ``Σ_i w_i y_i`` is the leading coefficient of the polynomial of degree ``len(nodes) − 1``
    through the points ``(x_i, y_i)``.

    >>> from coded.fields import RealField
    >>> barycentric_weights(np.array([0.0, 1.0, 2.0]), RealField())
    array([ 0.5, -1. ,  0.5])
    """
    x = _as_field_array(nodes, field)
    differences = x[:, None] - x[None, :] + _as_field_array(np.eye(len(x), dtype=np.int64), field)
    return _plain(_one(field) / np.prod(differences, axis=1))


def lagrange_matrix(targets: np.ndarray, nodes: np.ndarray, field) -> np.ndarray:
    """``M[j, i] = ℓ_i(t_j)``: the Lagrange basis on ``nodes`` evaluated at ``targets``.

    Barycentric form ``ℓ_i(t) = ℓ(t) · w_i / (t − x_i)`` with ``ℓ(t) = Π_l (t − x_l)``,
    backward stable over the reals (Higham 2004); no target may equal a node.
    ``M @ y`` evaluates at the targets the polynomial through ``(x_i, y_i)``.

    >>> from coded.fields import PrimeField
    >>> lagrange_matrix(np.array([3]), np.array([0, 1, 2]), PrimeField(7))
    array([[1, 4, 3]])
    """
    t, x = _as_field_array(targets, field), _as_field_array(nodes, field)
    differences = t[:, None] - x[None, :]
    node_poly = np.prod(differences, axis=1)
    weights = _as_field_array(barycentric_weights(nodes, field), field)
    return _plain(node_poly[:, None] * weights[None, :] / differences)


def trigonometric_basis(angles: np.ndarray, degree: int, top_sine: bool = True) -> np.ndarray:
    """Columns ``1, √2 cos θ, √2 sin θ, …, √2 cos Dθ, √2 sin Dθ`` at ``angles`` (D = degree).

    Without ``top_sine`` the last column, ``√2 sin Dθ``, is left out. At n > 2D equispaced
    angles the columns are orthogonal, each of norm √n: the real form of the n-point DFT.

    >>> trigonometric_basis(np.array([0.0, np.pi / 2]), 1).round(3)
    array([[1.   , 1.414, 0.   ],
           [1.   , 0.   , 1.414]])
    """
    phases = np.outer(np.asarray(angles, dtype=np.float64), np.arange(1, degree + 1))
    basis = np.empty((len(phases), 2 * degree + 1))
    basis[:, 0] = 1.0
    basis[:, 1::2], basis[:, 2::2] = np.sqrt(2) * np.cos(phases), np.sqrt(2) * np.sin(phases)
    return basis if top_sine else basis[:, :-1]


def _one(field):
    return field.galois_field(1) if field.exact else 1.0


def _plain(values) -> np.ndarray:
    """A galois array as plain int64, a real array unchanged."""
    return values.view(np.ndarray).astype(np.int64) if type(values) is not np.ndarray else values


class LagrangeCode(FunctionCode):
    """Lagrange coded computing of a polynomial ``f`` on k data blocks, with optional privacy.

    Args:
        n: number of workers.
        k: number of data blocks ``X_1..X_k``.
        degree: total degree of the polynomial ``f`` the workers apply to their share.
        privacy: T, the number of colluding workers that learn nothing about the data
            (random masks; needs a prime field).
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    Over GF(p) any ``(k + T − 1)·degree + 1`` results decode. Over the reals the code is
    trigonometric (module docstring): any ``(k − 1)·degree + 1`` results decode for odd k,
    any ``k·degree`` for even k; the best-conditioned subset of the arrived ones is used,
    and a decode whose error bound exceeds :attr:`accuracy` raises
    :class:`~coded.IllConditionedError`.

    >>> import numpy as np
    >>> code = LagrangeCode(n=6, k=3, degree=2)
    >>> X = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2), np.ones((2, 2))]
    >>> shares = code.encode(X)
    >>> out = code.decode({i: shares[i].T @ shares[i] for i in (0, 2, 3, 4, 5)})
    >>> np.allclose(out[0], X[0].T @ X[0]) and np.allclose(out[1], np.eye(2))
    True
    """

    _params = ("n", "k", "degree", "privacy", "field")

    def __init__(self, n: int, k: int, degree: int, privacy: int = 0, field="real"):
        super().__init__(n, field)
        self._k = check_int(k, "k", minimum=1)
        self._degree = check_int(degree, "degree", minimum=1)
        self._privacy = check_int(privacy, "privacy", minimum=0)
        if self._privacy and not self.field.exact:
            raise ValueError(
                f"Argument 'privacy' must be 0 over the reals (random masks need a prime "
                f"field, e.g. field=65537), not {self._privacy}."
            )
        threshold = self.recovery_threshold
        if self.n < threshold:
            formula = (
                "(k + privacy - 1) * degree + 1"
                if self.field.exact or self._k % 2
                else "k * degree (real codes, even k)"
            )
            raise ValueError(
                f"Argument 'n' must be at least the recovery threshold "
                f"{formula} = {threshold}, not {self.n}."
            )
        points = self.n + self._k + self._privacy
        if self.field.exact and points > self.field.p:
            raise ValueError(
                f"Argument 'field' must have at least n + k + privacy = {points} elements, "
                f"not p={self.field.p}."
            )
        self._alphas, self._betas = self._points()
        if self.field.exact:
            self._encoder = lagrange_matrix(self._alphas, self._betas, self.field)
        else:  # ℓ_j(θ_i): the basis of V at the workers' angles over its values at the β
            at_data = self._basis(self._betas, self._k // 2)
            at_workers = self._basis(self._alphas, self._k // 2)
            self._encoder = np.linalg.solve(at_data.T, at_workers.T).T

    @property
    def degree(self) -> int:
        return self._degree

    @property
    def privacy(self) -> int:
        return self._privacy

    @property
    def recovery_threshold(self) -> int:
        """``(k + T − 1)·degree + 1`` over GF(p); over the reals the dimension of the
        trigonometric space of ``f∘u``: ``(k − 1)·degree + 1`` for odd k, ``k·degree`` for
        even k."""
        if self.field.exact or self._k % 2:
            return (self._k + self._privacy - 1) * self._degree + 1
        return self._k * self._degree

    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        m = self._k + self._privacy
        if self.field.exact:
            return np.arange(m, m + self.n, dtype=np.int64), np.arange(m, dtype=np.int64)
        top = self._degree * (self._k // 2)  # D: the degree of f∘u
        offset = 0.5 if self._k % 2 else 1 / (4 * top)
        alphas = 2 * np.pi * (np.arange(self.n) + offset) / self.n
        return alphas, 2 * np.pi * np.arange(self._k) / self._k

    def _basis(self, angles: np.ndarray, degree: int) -> np.ndarray:
        """The trigonometric basis of degree ``degree``, without ``sin`` on top for even k."""
        return trigonometric_basis(angles, degree, top_sine=bool(self._k % 2))

    def encode(self, blocks: Sequence, rng=None) -> list[np.ndarray]:
        """The n shares ``u(α_i)`` of k equally shaped data blocks.

        Args:
            blocks: k arrays of one shape (or an array whose leading axis has length k).
            rng: seed or ``numpy.random.Generator`` for the privacy masks (T > 0 only).
        """
        data, dtype = _blocks.stack_blocks(blocks, self._k, self.field)
        if self._privacy:
            masks = np.random.default_rng(rng).integers(
                0, self.field.p, (self._privacy,) + data.shape[1:]
            )
            data = np.concatenate([data, masks])
        shares = self.field.combine(self._encoder, data).astype(dtype, copy=False)
        self.layout_ = BlockLayout(data.shape[1:], dtype)
        return list(shares)

    def _decoding_system(self, used: tuple[int, ...]) -> np.ndarray | None:
        """Real codes: the K × K trigonometric system at ``θ_used`` (response i is its row i
        times the coefficients of ``f∘u``); None over GF(p)."""
        if self.field.exact:
            return None
        return self._basis(self._alphas[list(used)], self._degree * (self._k // 2))

    def _select(self, indices):
        if self.field.exact:
            return indices[: self.recovery_threshold]
        return _blocks.best_conditioned(indices, self.recovery_threshold, self._decoding_system)

    def _linear(self, used):
        """A result is ``(f∘u)(α_i)``, a polynomial of degree < threshold at ``α_i``."""
        if self.field.exact:
            return (Linear.reed_solomon(used, self._alphas[list(used)], self.recovery_threshold),)
        return (Linear(used, self._decoding_system(used)[:, None, :]),)

    def correct(self, responses, byzantine, *, rng=None, tolerance=None):
        """:meth:`Code.correct`; when the responses disagree beyond ``byzantine`` wrong
        ones, the error says the other explanation too: ``f`` may have a higher degree than
        the declared ``degree`` (then no set of responses agrees with any polynomial the
        code allows, and decoding from ``recovery_threshold`` of them would be wrong).

        >>> import numpy as np
        >>> code = LagrangeCode(6, 2, degree=1, field=65537)
        >>> shares = code.encode([np.array([2]), np.array([3])])
        >>> code.correct({i: s**3 % 65537 for i, s in enumerate(shares)}, byzantine=0)
        Traceback (most recent call last):
        ...
        coded.errors.UncorrectableError: cannot correct ... or f has a degree above degree=1
        """
        try:
            return super().correct(responses, byzantine, rng=rng, tolerance=tolerance)
        except UncorrectableError as exc:
            raise UncorrectableError(
                exc.available,
                exc.needed,
                exc.byzantine,
                f"{exc.detail}; either more than {exc.byzantine} responses are wrong or f "
                f"has a degree above degree={self._degree}",
            ) from None

    def _decoding_matrix(self, used: tuple[int, ...]) -> np.ndarray:
        """``M[j, i]``: the weight of worker ``used[i]``'s result in ``f(X_j)`` (cached)."""
        matrix = self._decoders.get(used)
        if matrix is None:
            if self.field.exact:
                matrix = lagrange_matrix(
                    self._betas[: self._k], self._alphas[list(used)], self.field
                )
            else:  # the basis of W at the β, times the inverse of the system
                at_data = self._basis(self._betas, self._degree * (self._k // 2))
                matrix = np.linalg.solve(self._decoding_system(used).T, at_data.T).T
            self._decoders[used] = matrix
        return matrix

    def _decode(self, responses):
        results = self._stack(responses)
        matrix = self._decoding_matrix(tuple(responses))
        if self.field.exact:
            return list(self.field.combine(matrix, results % self.field.p))
        dtype = np.result_type(results.dtype, np.float32)
        return list(self.field.combine(matrix, results).astype(dtype, copy=False))
