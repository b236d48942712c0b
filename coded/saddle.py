"""Smooth convex–concave saddle problems whose operator is a sum over data partitions.

A saddle problem ``min_x max_y L(x, y)`` is solved through its monotone operator

    F(z) = [∇ₓL(x, y); −∇ᵧL(x, y)],     z = [x; y],

on a convex feasible set Z (with Euclidean projection P): z* solves the variational
inequality ⟨F(z*), z − z*⟩ ≥ 0 for all z ∈ Z. Every problem here has ``F = Σ_p F_p``, one
term per data partition p, so F is gradient-coded exactly as a training gradient is
(:class:`coded.GradientCode`): each worker sends ``combine(i, {p: F_p(z)})`` for the
partitions it holds and the master decodes the sum. Extra-gradient (Korpelevich) iterates

    z½ = P(z − γ F(z)),     z⁺ = P(z − γ F(z½));

simultaneous gradient descent–ascent (GDA) iterates ``z⁺ = P(z − γ F(z))`` and diverges on
the simplest bilinear game, where extra-gradient converges.

=========================== ================================================= ==============
problem                     L(x, y)                                           Z
=========================== ================================================= ==============
:class:`BilinearGame`       xᵀAy + bᵀx − cᵀy                                  ℝᵈ × ℝᵈ
:class:`RobustLeastSquares` ½‖Ax − y‖² − (λ/2)‖y − b‖², λ > 1                 ℝᵈ × ℝᵐ
:class:`DRLogistic`         Σᵢ pᵢ ℓᵢ(w) − (ν/2)‖p − 𝟙/m‖² + (λ/2)‖w‖²         ℝᵈ × Δₘ
=========================== ================================================= ==============

A problem knows its partitions (``partitions(n)``: n tuples of arrays, rows in contiguous
blocks), the picklable function ``partial(z, data_p) = F_p(z)`` (a full-length vector; it
carries the problem's parameters but none of its data, so it travels to workers cheaply),
its projection, its solution, the distance to it and a gap (zero exactly at the solution).

>>> import numpy as np
>>> game = BilinearGame(np.array([[2.0, 1.0], [0.0, 1.0]]), b=np.array([1.0, -1.0]),
...                     c=np.array([0.5, 0.0]))
>>> z = np.arange(4.0)
>>> parts = game.partitions(2)
>>> np.allclose(sum(game.partial(z, part) for part in parts), game.operator(z))
True
>>> z_star = extragradient(game, step=0.4, iterations=400)[-1]
>>> bool(game.distance(z_star) < 1e-9), bool(abs(game.gap(z_star)) < 1e-8)
(True, True)

References:
    G. M. Korpelevich, "The extragradient method for finding saddle points and other
    problems", Ekonomika i Matematicheskie Metody 12, 1976.
    A. Nemirovski, "Prox-method with rate of convergence O(1/t) for variational
    inequalities with Lipschitz continuous monotone operators and smooth convex-concave
    saddle point problems", SIAM J. Optim. 2004 (restricted gaps).
    A. Ramezani-Kebrya, K. Antonakopoulos, I. Krawczuk, J. Deschenaux, V. Cevher,
    "Distributed extra-gradient with optimal complexity and communication guarantees",
    ICLR 2023, arXiv:2308.09187 (Q-GenX).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from .checks import check_array, check_int, check_number, describe

__all__ = [
    "SaddleProblem",
    "BilinearGame",
    "RobustLeastSquares",
    "DRLogistic",
    "project_simplex",
    "check_steps",
    "extragradient",
]


def project_simplex(v) -> np.ndarray:
    """The Euclidean projection of ``v`` onto the probability simplex {p ≥ 0, Σ p = 1}.

    Sort-and-threshold, O(m log m): ``p = max(v − θ, 0)`` with the θ that makes Σ p = 1.

    >>> project_simplex(np.array([0.5, 2.0, -1.0]))
    array([0., 1., 0.])
    >>> project_simplex(np.array([0.3, 0.5]))
    array([0.4, 0.6])

    References:
        J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra, "Efficient projections onto the
        l1-ball for learning in high dimensions", ICML 2008.
    """
    u = np.sort(v)[::-1]
    total = np.cumsum(u) - 1.0
    index = np.arange(1, len(u) + 1)
    last = np.nonzero(u - total / index > 0)[0][-1]
    return np.maximum(v - total[last] / (last + 1), 0.0)


def _blocks(count: int, n: int) -> list[np.ndarray]:
    """``0..count−1`` in n contiguous blocks (sizes differ by at most one; some may be empty)."""
    return np.array_split(np.arange(count), n)


class SaddleProblem:
    """A convex–concave saddle problem with ``F(z) = Σ_p partial(z, data_p)``.

    Subclasses set ``dims = (dim x, dim y)`` and ``rows`` (the data rows partitions split)
    and define ``_partition(rows, j, n)``, ``partial``, ``_solve`` and ``gap``.
    """

    dims: tuple[int, int]
    rows: int

    @property
    def dim(self) -> int:
        """The length of z = [x; y]."""
        return self.dims[0] + self.dims[1]

    def split(self, z) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)``: z's two blocks."""
        return z[: self.dims[0]], z[self.dims[0] :]

    def partitions(self, n: int) -> list[tuple[np.ndarray, ...]]:
        """The data of n partitions, rows in contiguous blocks: ``Σ_p partial(z, parts[p])``
        is F(z) exactly (every term of F belongs to one partition)."""
        n = check_int(n, "n", minimum=1, maximum=self.rows, maximum_name="the problem's rows")
        return [self._partition(rows, j, n) for j, rows in enumerate(_blocks(self.rows, n))]

    def operator(self, z) -> np.ndarray:
        """F(z), on all the data at once."""
        return self.partial(z, self.partitions(1)[0])

    def project(self, z) -> np.ndarray:
        """The Euclidean projection onto the feasible set (the identity when unconstrained)."""
        return z

    def initial(self) -> np.ndarray:
        """The default starting point (zeros; feasible)."""
        return np.zeros(self.dim)

    def check_point(self, z, name: str = "z0") -> np.ndarray:
        """``z`` as a finite float vector of length ``dim``, or an error naming ``name``."""
        z = check_array(z, name, ndim=(1,)).astype(float)
        if z.shape != (self.dim,):
            raise ValueError(f"Argument {name!r} must have length {self.dim}, not {z.shape[0]}.")
        if not np.isfinite(z).all():
            raise ValueError(f"Argument {name!r} must be finite.")
        return z

    @functools.cached_property
    def solution(self) -> np.ndarray:
        """The saddle point z* (computed once)."""
        return self._solve()

    def distance(self, z) -> float:
        """‖z − z*‖."""
        return float(np.linalg.norm(z - self.solution))

    def gap(self, z, operator=None) -> float:
        """A gap at z: non-negative, zero exactly at the saddle point (see the subclass).
        ``operator`` is F(z) if already at hand (else computed on all the data)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(dims={self.dims}, rows={self.rows})"


def _matrix(A, name: str) -> np.ndarray:
    A = check_array(A, name, ndim=(2,)).astype(float)
    if not np.isfinite(A).all():
        raise ValueError(f"Argument {name!r} must be finite.")
    return A


def _vector(v, name: str, length: int, of: str) -> np.ndarray:
    v = check_array(v, name, ndim=(1,)).astype(float)
    if v.shape[0] != length:
        raise ValueError(f"Argument {name!r} must have length {length} ({of}), not {v.shape[0]}.")
    if not np.isfinite(v).all():
        raise ValueError(f"Argument {name!r} must be finite.")
    return v


def _bilinear_partial(z, data) -> np.ndarray:
    """F_p of the bilinear game: rows R_p of A and b, coordinates C_p of c."""
    rows, A, b, columns, c = data
    x, y = z[: -A.shape[1]], z[-A.shape[1] :]
    out = np.zeros_like(z, dtype=np.result_type(z, A))
    out[rows] = A @ y + b
    out[len(x) :] = -(A.T @ x[rows])
    out[len(x) + columns] += c
    return out


class BilinearGame(SaddleProblem):
    """``min_x max_y xᵀAy + bᵀx − cᵀy`` for a square invertible A (unconstrained).

    ``F(z) = [Ay + b; c − Aᵀx]``; the saddle point solves ``Ay = −b``, ``Aᵀx = c``.
    Partition p holds the rows R_p of A and b (its terms of ``Ay + b`` and of ``Aᵀx``,
    ``Σ_p A_pᵀ x_{R_p}``) and a block of c's coordinates, so each term of F is in exactly
    one partition.

    Gap: the duality gap restricted to the ball of radius r around 0 in x and in y
    (Nemirovski 2004), ``bᵀx + cᵀy + r(‖Ay + b‖ + ‖Aᵀx − c‖)``, non-negative when the
    ball holds the saddle point: ``radius`` defaults to ``1 + 2 max(‖x*‖, ‖y*‖)``.

    >>> game = BilinearGame(np.eye(2), b=np.array([1.0, 0.0]), c=np.array([0.0, 2.0]))
    >>> game.solution
    array([ 0.,  2., -1., -0.])
    """

    def __init__(self, A, b=None, c=None, radius: float | None = None):
        self.A = _matrix(A, "A")
        if self.A.shape[0] != self.A.shape[1]:
            raise ValueError(f"Argument 'A' must be square, not of shape {self.A.shape}.")
        d = self.A.shape[0]
        if np.linalg.cond(self.A) * np.finfo(float).eps >= 1e-3:
            raise ValueError(f"Argument 'A' must be invertible (well conditioned), not {self.A}.")
        self.b = np.zeros(d) if b is None else _vector(b, "b", d, "A's rows")
        self.c = np.zeros(d) if c is None else _vector(c, "c", d, "A's columns")
        self.dims, self.rows = (d, d), d
        if radius is None:
            radius = 1.0 + 2.0 * max(np.linalg.norm(part) for part in self.split(self.solution))
        self.radius = check_number(radius, "radius", minimum=0, above=True)

    def _partition(self, rows, j, n):
        columns = _blocks(self.dims[1], n)[j]
        return (rows, self.A[rows], self.b[rows], columns, self.c[columns])

    @property
    def partial(self):
        return _bilinear_partial

    @property
    def lipschitz(self) -> float:
        """‖A‖₂, the Lipschitz constant of F (extra-gradient converges for steps below 1/L)."""
        return float(np.linalg.norm(self.A, 2))

    def _solve(self):
        return np.concatenate([np.linalg.solve(self.A.T, self.c), -np.linalg.solve(self.A, self.b)])

    def gap(self, z, operator=None) -> float:
        """Restricted duality gap ``bᵀx + cᵀy + r(‖Ay + b‖ + ‖Aᵀx − c‖)``."""
        F = self.operator(z) if operator is None else operator
        (x, y), (Fx, Fy) = self.split(z), self.split(F)
        norms = np.linalg.norm(Fx) + np.linalg.norm(Fy)
        return float(self.b @ x + self.c @ y + self.radius * norms)


def _robust_ls_partial(z, data, *, lam: float) -> np.ndarray:
    """F_p of robust least squares: rows R_p of A, b and y."""
    rows, A, b = data
    d = A.shape[1]
    x, y = z[:d], z[d:][rows]
    residual = A @ x - y
    out = np.zeros_like(z, dtype=np.result_type(z, A))
    out[:d] = A.T @ residual
    out[d + rows] = residual + lam * (y - b)
    return out


class RobustLeastSquares(SaddleProblem):
    """``min_x max_y ½‖Ax − y‖² − (λ/2)‖y − b‖²``: least squares against an adversary
    that moves the targets b, at a price λ > 1.

    Convex in x (strongly if A has full column rank), (λ − 1)-strongly concave in y. With
    ``r = Ax − b``: ``max_y L = λ/(2(λ − 1))·‖r‖²``, so x* is the least-squares solution
    and ``y* = (λb − Ax*)/(λ − 1)``. ``F(z) = [Aᵀ(Ax − y); Ax − y + λ(y − b)]``; the
    adversary's y lives with its rows, so partition p holds rows R_p of A, b (and y).

    Gap: the duality gap ``max_y' L(x, y') − min_x' L(x', y)``, both in closed form
    (the second with A's reduced QR factor Q: ``½‖y − QQᵀy‖² − (λ/2)‖y − b‖²``).

    >>> A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> problem = RobustLeastSquares(A, b=np.array([1.0, 1.0, 0.0]), lam=2.0)
    >>> np.round(problem.solution, 6)
    array([ 0.333333,  0.333333,  1.666667,  1.666667, -0.666667])

    References:
        J. Yang, N. Kiyavash, N. He, "Global convergence and variance reduction for a
        class of nonconvex-nonconcave minimax problems", NeurIPS 2020, arXiv:2002.09621
        (robust least squares as a minimax problem).
    """

    def __init__(self, A, b, lam: float = 2.0):
        self.A = _matrix(A, "A")
        m, d = self.A.shape
        self.b = _vector(b, "b", m, "A's rows")
        self.lam = check_number(lam, "lam", minimum=1, above=True)
        self._q, r = np.linalg.qr(self.A)
        if m < d or np.abs(np.diag(r)).min() <= 1e-10 * np.abs(np.diag(r)).max():
            raise ValueError(f"Argument 'A' must have full column rank, not shape {self.A.shape}.")
        self.dims, self.rows = (d, m), m

    def _partition(self, rows, j, n):
        return (rows, self.A[rows], self.b[rows])

    @property
    def partial(self):
        return functools.partial(_robust_ls_partial, lam=self.lam)

    @property
    def lipschitz(self) -> float:
        """An upper bound on F's Lipschitz constant: ``max(‖A‖², λ − 1) + ‖A‖``."""
        norm = float(np.linalg.norm(self.A, 2))
        return max(norm**2, self.lam - 1.0) + norm

    def _solve(self):
        x = np.linalg.lstsq(self.A, self.b, rcond=None)[0]
        return np.concatenate([x, (self.lam * self.b - self.A @ x) / (self.lam - 1.0)])

    def gap(self, z, operator=None) -> float:
        """The duality gap ``λ/(2(λ−1))‖Ax − b‖² − ½‖y − QQᵀy‖² + (λ/2)‖y − b‖²``."""
        F = self.operator(z) if operator is None else operator
        _, y = self.split(z)
        residual = self.split(F)[1] + (1.0 - self.lam) * (y - self.b)  # Ax − b, from F
        primal = self.lam / (2.0 * (self.lam - 1.0)) * (residual @ residual)
        outside = y - self._q @ (self._q.T @ y)
        dual = 0.5 * (outside @ outside) - 0.5 * self.lam * np.sum((y - self.b) ** 2)
        return float(primal - dual)


def _dr_logistic_partial(z, data, *, lam: float, nu: float, m: int) -> np.ndarray:
    """F_p of DR logistic regression: rows R_p of X, their labels and weights p."""
    rows, X, labels = data
    d = X.shape[1]
    w, p = z[:d], z[d:][rows]
    margins = labels * (X @ w)
    losses = np.logaddexp(0.0, -margins)
    slopes = -labels * np.exp(-np.logaddexp(0.0, margins))  # ∂ℓ/∂(Xw) = −y σ(−y xᵀw)
    out = np.zeros_like(z, dtype=np.result_type(z, X))
    out[:d] = X.T @ (p * slopes) + lam * (len(rows) / m) * w
    out[d + rows] = nu * (p - 1.0 / m) - losses
    return out


class DRLogistic(SaddleProblem):
    """Distributionally robust logistic regression: the worst reweighting p of the samples.

        min_w max_{p ∈ Δₘ} Σᵢ pᵢ ℓᵢ(w) − (ν/2)‖p − 𝟙/m‖² + (λ/2)‖w‖²,
        ℓᵢ(w) = log(1 + exp(−yᵢ xᵢᵀw)),  yᵢ ∈ {−1, +1} (0 is read as −1).

    The χ²-type penalty keeps p near uniform (ν large) or lets it pile on the worst samples
    (ν small); λ-strongly convex in w, ν-strongly concave in p, so the saddle point is
    unique. ``F(z) = [Σᵢ pᵢ∇ℓᵢ(w) + λw; ν(p − 𝟙/m) − ℓ(w)]``. Partition p holds its rows of
    X, their labels and weights, and the share ``|R_p|/m`` of the regulariser. Projection:
    w free, p onto the simplex (:func:`project_simplex`).

    The solution is computed by projected extra-gradient in numpy (:func:`extragradient`,
    step 1/(2L), F strongly monotone) until an iteration moves z by at most 1e-13.

    Gap: the VI gap restricted to the ball of radius ``radius`` around w (Auslender's gap
    function), ``sup ⟨F(z), z − z'⟩`` over ``‖w' − w‖ ≤ r, p' ∈ Δ``:
    ``r‖F_w‖ + ⟨F_p, p⟩ − minᵢ (F_p)ᵢ``, non-negative for p ∈ Δ, zero exactly at z*.

    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    >>> problem = DRLogistic(X, np.array([1, 0, 1, 0]), lam=0.5, nu=1.0)
    >>> _, p = problem.split(problem.solution)
    >>> bool(abs(p.sum() - 1) < 1e-12 and p.min() >= 0), bool(problem.gap(problem.solution) < 1e-9)
    (True, True)

    References:
        H. Namkoong, J. C. Duchi, "Stochastic gradient methods for distributionally robust
        optimization with f-divergences", NeurIPS 2016.
        D. Levy, Y. Carmon, J. C. Duchi, A. Sidford, "Large-scale methods for
        distributionally robust optimization", NeurIPS 2020, arXiv:2010.05893.
        A. Auslender, "Optimisation: méthodes numériques", Masson 1976 (gap function).
    """

    def __init__(self, X, y, lam: float = 0.1, nu: float = 1.0, radius: float = 1.0):
        self.X = _matrix(X, "X")
        m, d = self.X.shape
        labels = _vector(y, "y", m, "X's rows")
        if not np.isin(labels, (-1.0, 0.0, 1.0)).all():
            bad = labels[~np.isin(labels, (-1.0, 0.0, 1.0))][0]
            raise ValueError(f"Argument 'y' must hold labels in {{-1, 0, 1}}, not {bad!r}.")
        self.y = np.where(labels == 0.0, -1.0, labels)
        self.lam = check_number(lam, "lam", minimum=0, above=True)
        self.nu = check_number(nu, "nu", minimum=0, above=True)
        self.radius = check_number(radius, "radius", minimum=0, above=True)
        self.dims, self.rows = (d, m), m

    def _partition(self, rows, j, n):
        return (rows, self.X[rows], self.y[rows])

    @property
    def partial(self):
        return functools.partial(_dr_logistic_partial, lam=self.lam, nu=self.nu, m=self.rows)

    @property
    def lipschitz(self) -> float:
        """An upper bound on F's Lipschitz constant on the feasible set:
        ``max(λ + maxᵢ‖xᵢ‖²/4, ν) + ‖X‖₂``."""
        largest = float(np.max(np.sum(self.X**2, axis=1)))
        return max(self.lam + largest / 4.0, self.nu) + float(np.linalg.norm(self.X, 2))

    def project(self, z) -> np.ndarray:
        """w as is, p onto the simplex."""
        d = self.dims[0]
        return np.concatenate([z[:d], project_simplex(z[d:])])

    def initial(self) -> np.ndarray:
        """w = 0, p uniform."""
        return np.concatenate([np.zeros(self.dims[0]), np.full(self.rows, 1.0 / self.rows)])

    def _solve(self):
        z, step = self.initial(), 0.5 / self.lipschitz
        for _ in range(1_000_000):
            new = _extragradient_step(self, z, step)
            if np.linalg.norm(new - z) <= 1e-13 * (1.0 + np.linalg.norm(z)):
                return new
            z = new
        raise ArithmeticError("DRLogistic: extra-gradient did not reach its solution")

    def gap(self, z, operator=None) -> float:
        """``r‖F_w‖ + ⟨F_p, p⟩ − minᵢ (F_p)ᵢ``."""
        F = self.operator(z) if operator is None else operator
        (_, p), (Fw, Fp) = self.split(z), self.split(F)
        return float(self.radius * np.linalg.norm(Fw) + Fp @ p - Fp.min())


def check_steps(step, iterations: int) -> np.ndarray:
    """The step sizes γ₀ … γ_{T−1} of ``iterations`` iterations, checked: ``step`` is a
    positive number (constant), a sequence of at least ``iterations`` positive numbers, or a
    callable ``t -> γ_t``; a schedule must not increase (the analyses of extra-gradient
    need γ_t non-increasing, below 1/L).

    >>> check_steps(lambda t: 1 / (t + 1), 3)
    array([1.        , 0.5       , 0.33333333])
    >>> check_steps([0.1, 0.2], 2)
    Traceback (most recent call last):
    ...
    ValueError: Argument 'step' must not increase, not 0.1 then 0.2 at iteration 1.
    """
    iterations = check_int(iterations, "iterations", minimum=1)
    if callable(step):
        values = [step(t) for t in range(iterations)]
    elif isinstance(step, Sequence | np.ndarray) and not isinstance(step, str):
        values = list(step)
        if len(values) < iterations:
            raise ValueError(
                f"Argument 'step' must hold a step size for each of the {iterations} "
                f"iterations, not {len(values)}."
            )
        values = values[:iterations]
    else:
        values = [step] * iterations
    what = "a positive step size (a number, a sequence or a callable t -> step)"
    steps = np.array(
        [check_number(v, "step", minimum=0, above=True, what=what) for v in values], dtype=float
    )
    rising = np.nonzero(np.diff(steps) > 0)[0]
    if rising.size:
        t = int(rising[0]) + 1
        raise ValueError(
            f"Argument 'step' must not increase, not {steps[t - 1]:g} then {steps[t]:g} "
            f"at iteration {t}."
        )
    return steps


def _extragradient_step(problem: SaddleProblem, z, step: float) -> np.ndarray:
    half = problem.project(z - step * problem.operator(z))
    return problem.project(z - step * problem.operator(half))


def extragradient(
    problem: SaddleProblem, step: float | Sequence[float] | Callable, iterations: int, z0=None
) -> list[np.ndarray]:
    """Projected extra-gradient in numpy on all the data: the iterates z₁ … z_T.

    ``z½ = P(z − γ_t F(z))``, ``z⁺ = P(z − γ_t F(z½))`` with γ_t ``step`` (a number, or one
    per iteration). The reference that coded extra-gradient
    (:func:`coded.solve_saddle`) reproduces. Steps as :func:`check_steps`.

    >>> game = BilinearGame(np.array([[1.0]]), b=np.array([1.0]), c=np.array([1.0]))
    >>> [round(float(v), 6) for v in extragradient(game, 0.5, 200)[-1]]
    [1.0, -1.0]
    """
    if not isinstance(problem, SaddleProblem):
        raise TypeError(f"Argument 'problem' must be a SaddleProblem, not {describe(problem)}.")
    steps = check_steps(step, iterations)
    z = problem.initial() if z0 is None else problem.check_point(z0)
    iterates = []
    for gamma in steps:
        z = _extragradient_step(problem, z, gamma)
        iterates.append(z)
    return iterates
