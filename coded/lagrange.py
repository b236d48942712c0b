"""Lagrange coded computing: ``f(X_1), …, f(X_k)`` for a polynomial ``f`` of degree d.

The k data blocks are the values at points ``β_1..β_k`` of the polynomial

    u(z) = Σ_j X_j ℓ_j(z) + Σ_t Z_t ℓ_{k+t}(z),    deg u = k + T − 1,

where ``ℓ`` is the Lagrange basis on ``β_1..β_{k+T}`` and ``Z_1..Z_T`` are uniformly random
masks (T-privacy, finite fields only). Worker i holds ``u(α_i)`` and returns ``f(u(α_i))``,
a value of the polynomial ``f∘u`` of degree ``(k + T − 1)·d``: any ``(k + T − 1)·d + 1``
results interpolate it, and evaluating the interpolant at ``β_j`` gives ``f(X_j)``.

Over the reals (T = 0) the points are well spread on [−1, 1]: ``α`` are the n Chebyshev
points and ``β`` sit on the grid halfway between them, so no point coincides and every
interpolation runs in the barycentric (Lagrange-basis) form, never a monomial solve. Over
GF(p) the points are 0, 1, …: ``β`` first, then ``α``.

Real decoding still extrapolates when the stragglers are clustered: worst relative error in
float64 from exactly the threshold (f = XᵀX) is 2e-14 for (n, k, d) = (8, 3, 2), 5e-11 for
(16, 4, 2), and for (32, 8, 2) 1e-9 over random sets but 6e-3 when the 17 stragglers are
consecutive (float32: 8e-6, 3e-2, 0.35). Extra responses fix it: decoding uses the
best-conditioned subset of those that arrived (6e-16 with all n).

References:
    Q. Yu, S. Li, N. Raviv, S. M. M. Kalan, M. Soltanolkotabi, S. Avestimehr, "Lagrange
    coded computing: optimal design for resiliency, security and privacy", AISTATS 2019,
    arXiv:1806.00939.
    J.-P. Berrut, L. N. Trefethen, "Barycentric Lagrange interpolation", SIAM Review 2004.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _blocks
from ._code import Code
from .byzantine import Linear
from .checks import check_int

__all__ = ["LagrangeCode", "barycentric_weights", "lagrange_matrix"]


@dataclass(frozen=True)
class _Layout:
    shape: tuple[int, ...]  # shape of one data block
    dtype: np.dtype


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


def _one(field):
    return field.galois_field(1) if field.exact else 1.0


def _plain(values) -> np.ndarray:
    """A galois array as plain int64, a real array unchanged."""
    return values.view(np.ndarray).astype(np.int64) if type(values) is not np.ndarray else values


class LagrangeCode(Code):
    """Lagrange coded computing of a polynomial ``f`` on k data blocks, with optional privacy.

    Args:
        n: number of workers.
        k: number of data blocks ``X_1..X_k``.
        degree: total degree of the polynomial ``f`` the workers apply to their share.
        privacy: T, the number of colluding workers that learn nothing about the data
            (random masks; needs a prime field).
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    Any ``(k + T − 1)·degree + 1`` results decode; over the reals the best-conditioned
    subset of the arrived ones is used.

    >>> import numpy as np
    >>> code = LagrangeCode(n=6, k=2, degree=2)
    >>> X = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.eye(2)]
    >>> shares = code.encode(X)
    >>> out = code.decode({i: shares[i].T @ shares[i] for i in (0, 2, 3)})
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
            raise ValueError(
                f"Argument 'n' must be at least the recovery threshold "
                f"(k + privacy - 1) * degree + 1 = {threshold}, not {self.n}."
            )
        points = self.n + self._k + self._privacy
        if self.field.exact and points > self.field.p:
            raise ValueError(
                f"Argument 'field' must have at least n + k + privacy = {points} elements, "
                f"not p={self.field.p}."
            )
        self._alphas, self._betas = self._points()
        self._encoder = lagrange_matrix(self._alphas, self._betas, self.field)

    @property
    def k(self) -> int:
        return self._k

    @property
    def degree(self) -> int:
        return self._degree

    @property
    def privacy(self) -> int:
        return self._privacy

    @property
    def recovery_threshold(self) -> int:
        return (self._k + self._privacy - 1) * self._degree + 1

    @property
    def work_share(self) -> float:
        """1/k: a worker applies ``f`` to one share, the size of one of the k data blocks,
        where the job is ``f`` on all k blocks (privacy masks add no work per worker)."""
        return 1 / self._k

    @property
    def storage(self) -> tuple[float]:
        """``(1/k,)``: a share has the size of one of the k data blocks."""
        return (1 / self._k,)

    @property
    def alphas(self) -> np.ndarray:
        """The n evaluation points of the workers' shares."""
        return self._alphas.copy()

    @property
    def betas(self) -> np.ndarray:
        """The k data points followed by the T mask points."""
        return self._betas.copy()

    def _points(self) -> tuple[np.ndarray, np.ndarray]:
        m = self._k + self._privacy
        if self.field.exact:
            return np.arange(m, m + self.n, dtype=np.int64), np.arange(m, dtype=np.int64)
        # α: Chebyshev angles π(i + ½)/n; β: whole multiples of π/n, spread like k Chebyshev points.
        alphas = np.cos(np.pi * (np.arange(self.n) + 0.5) / self.n)
        grid = np.floor((np.arange(self._k) + 0.5) * self.n / self._k)
        return alphas, np.cos(np.pi * grid / self.n)

    def encode(self, blocks: Sequence, rng=None) -> list[np.ndarray]:
        """The n shares ``u(α_i)`` of k equally shaped data blocks.

        Args:
            blocks: k arrays of one shape (or an array whose leading axis has length k).
            rng: seed or ``numpy.random.Generator`` for the privacy masks (T > 0 only).
        """
        if isinstance(blocks, np.ndarray):
            blocks = list(blocks)
        if not isinstance(blocks, Sequence) or len(blocks) != self._k:
            got = len(blocks) if isinstance(blocks, Sequence) else type(blocks).__name__
            raise ValueError(f"Argument 'blocks' must hold k={self._k} arrays, not {got}.")
        arrays = [self.field.validate(b, f"blocks[{j}]") for j, b in enumerate(blocks)]
        for j, array in enumerate(arrays):
            if array.shape != arrays[0].shape:
                raise ValueError(
                    f"Argument 'blocks[{j}]' must have the shape {arrays[0].shape} of blocks[0], "
                    f"not {array.shape}."
                )
        data = np.stack(arrays)
        if self._privacy:
            masks = np.random.default_rng(rng).integers(
                0, self.field.p, (self._privacy,) + data.shape[1:]
            )
            data = np.concatenate([data, masks])
        dtype = self.field.result_dtype(*arrays)
        shares = self.field.combine(self._encoder, data).astype(dtype, copy=False)
        self.layout_ = _Layout(data.shape[1:], dtype)
        return list(shares)

    def _decoding_system(self, used: tuple[int, ...]) -> np.ndarray:
        """Chebyshev–Vandermonde matrix at ``α_used``: the interpolation in a stable basis."""
        return np.polynomial.chebyshev.chebvander(
            self._alphas[list(used)], self.recovery_threshold - 1
        )

    def _select(self, indices):
        if self.field.exact:
            return indices[: self.recovery_threshold]
        return _blocks.best_conditioned(indices, self.recovery_threshold, self._decoding_system)

    def _linear(self, used):
        """A result is ``(f∘u)(α_i)``, a polynomial of degree < threshold at ``α_i``."""
        if self.field.exact:
            return (Linear.reed_solomon(used, self._alphas[list(used)], self.recovery_threshold),)
        return (Linear(used, self._decoding_system(used)[:, None, :]),)

    def condition_number(self, indices) -> float:
        """Condition number of the interpolation (Chebyshev basis) decoding ``indices`` uses."""
        return float(np.linalg.cond(self._decoding_system(self.select(indices))))

    def _decode(self, responses):
        results = self._stack(responses)
        used = tuple(responses)
        matrix = self._decoders.get(used)
        if matrix is None:
            matrix = lagrange_matrix(self._betas[: self._k], self._alphas[list(used)], self.field)
            self._decoders[used] = matrix
        if self.field.exact:
            return list(self.field.combine(matrix, results % self.field.p))
        dtype = np.result_type(results.dtype, np.float32)
        return list(self.field.combine(matrix, results).astype(dtype, copy=False))
