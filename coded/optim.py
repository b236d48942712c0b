"""Optimisers for coded training, and the mini-batch sampler every replica of a partition shares.

An optimiser is a small parameter holder (its config is its whole public state) with a
functional step, so coded and uncoded runs started alike follow the same iterates:

    point(w, state)          where the gradient is evaluated (Nesterov looks ahead)
    step(w, g, state)        the new model and state from the mean gradient g at that point

With momentum β and step size η (Sutskever et al.'s form of Nesterov's method):

    gradient descent   w ← w − η g(w)
    momentum           v ← β v + g(w),             w ← w − η v
    Nesterov           v ← β v + g(w − η β v),     w ← w − η v
    Adam               m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,
                       w ← w − η λ w − η m̂ / (√v̂ + ε),  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)

Weight decay λ (``weight_decay``) is an L2 penalty ``½ λ ‖w‖²`` added to the loss for
gradient descent, momentum, Nesterov and SGD (``g ← g + λ w`` at the point where the
gradient is taken, as ``torch.optim.SGD`` does), and decoupled from the gradient for Adam
(``w ← w − η λ w``, AdamW, as ``torch.optim.AdamW`` does): Adam's per-coordinate scaling
would otherwise shrink the penalty where gradients are large.

Newton-type optimisers (:class:`NewtonCG`, :class:`SketchedNewton`) take no step from a
gradient alone: they need curvature and loss values, so the trainer runs them through its
Newton driver (:mod:`coded.scheduler.training.newton`), which hands them the gradient, the
curvature at the point (Hessian-vector products, or a sketched square-root Hessian) and a
loss to search along; each is a coded round.

Mini-batch SGD draws, in iteration t, a batch of rows from each partition j with the
generator ``np.random.default_rng([seed, t, j])``. Every worker holding a replica of j draws
the same rows, so the coded messages still combine into the exact sum of the partitions'
batch gradients, and the decoded gradient equals the uncoded mini-batch gradient.

>>> import numpy as np
>>> opt = Nesterov(lr=0.1, momentum=0.9)
>>> w, state = np.ones(2), opt.init(np.ones(2))
>>> w, state = opt.step(w, 2 * opt.point(w, state), state)   # gradient of ‖w‖²
>>> w
array([0.8, 0.8])

References:
    I. Sutskever, J. Martens, G. Dahl, G. Hinton, "On the importance of initialization and
    momentum in deep learning", ICML 2013.
    D. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR 2015,
    arXiv:1412.6980.
    I. Loshchilov, F. Hutter, "Decoupled weight decay regularization", ICLR 2019,
    arXiv:1711.05101.
    J. Nocedal, S. Wright, "Numerical Optimization", 2nd ed., Springer 2006, §3.1, §7.1.
    V. Gupta, S. Kadhe, T. Courtade, M. Mahoney, K. Ramchandran, "OverSketched Newton: fast
    convex optimization for serverless systems", IEEE BigData 2020, arXiv:1903.08857.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .checks import check_int, check_number, describe
from .config import Configurable, registered, registry

__all__ = [
    "Optimizer",
    "GD",
    "Momentum",
    "Nesterov",
    "SGD",
    "Adam",
    "NewtonCG",
    "SketchedNewton",
    "minibatch",
    "count_sketch",
    "as_optimizer",
    "optimizer_from_config",
    "OPTIMIZERS",
]


def minibatch(seed: int, iteration: int, partition: int, rows: int, batch_size: int) -> np.ndarray:
    """The sorted rows of ``partition`` in the mini-batch of ``iteration``.

    Drawn without replacement from ``np.random.default_rng([seed, iteration, partition])``,
    so any worker holding the partition draws the same rows; all rows when
    ``batch_size ≥ rows``.

    >>> minibatch(seed=0, iteration=3, partition=1, rows=10, batch_size=4)
    array([0, 4, 6, 8])
    """
    if batch_size >= rows:
        return np.arange(rows)
    rng = np.random.default_rng([seed, iteration, partition])
    return np.sort(rng.choice(rows, size=batch_size, replace=False))


def count_sketch(A: np.ndarray, size: int, seed) -> np.ndarray:
    """``S A`` for a count sketch ``S`` (``size`` × rows of ``A``) drawn from ``seed``.

    Every row of ``A`` goes, with a random sign, into one of ``size`` buckets drawn from
    ``np.random.default_rng(seed)``: ``S`` has one ±1 per column, so ``E[SᵀS] = I`` and
    ``S A`` costs one pass over ``A``. Count sketches of disjoint row blocks with
    independent seeds add up to a count sketch of the stacked rows.

    >>> count_sketch(np.eye(3), size=2, seed=0).shape
    (2, 3)

    References:
        K. Clarkson, D. Woodruff, "Low rank approximation and regression in input sparsity
        time", STOC 2013, arXiv:1207.6365.
    """
    rng = np.random.default_rng(seed)
    buckets = rng.integers(0, size, A.shape[0])
    signed = A * rng.choice((-1.0, 1.0), A.shape[0])[:, None]
    order = np.argsort(buckets, kind="stable")
    filled, first = np.unique(buckets[order], return_index=True)
    sketch = np.zeros((size, A.shape[1]))
    if A.shape[0]:
        sketch[filled] = np.add.reduceat(signed[order], first, axis=0)
    return sketch


class Optimizer(Configurable, family="optimizer"):
    """Base class: ``init``, ``point``, ``step`` and the rows each partition contributes."""

    name = "abstract"
    stochastic = False  # whether iterations use mini-batches (see :meth:`batch`)
    second_order = False  # whether it runs through the Newton driver (needs curvature)
    methods: tuple[str, ...] | None = None  # the training methods it can run on (None: all)
    _params: tuple[str, ...] = ("lr", "weight_decay")
    weight_decay = 0.0  # λ ≥ 0 (Newton-type optimisers have none)

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = check_number(lr, "lr", minimum=0, above=True)
        self.weight_decay = check_number(weight_decay, "weight_decay", minimum=0)

    def get_config(self) -> dict:
        config = super().get_config()
        if config.get("weight_decay") == 0:
            del config["weight_decay"]  # the default, left out: configs read as they did
        return config

    def _decayed(self, w, gradient, state):
        """``g + λ p`` at the point ``p`` where ``g`` was taken (the L2 penalty's gradient)."""
        if not self.weight_decay:
            return gradient
        return gradient + self.weight_decay * self.point(w, state)

    def init(self, w: np.ndarray):
        """The optimiser's state for the initial model ``w``."""
        return None

    def point(self, w: np.ndarray, state) -> np.ndarray:
        """Where the gradient of this iteration is evaluated."""
        return w

    def step(self, w: np.ndarray, gradient: np.ndarray, state):
        """``(w_next, state_next)`` from the mean gradient at :meth:`point`."""
        raise NotImplementedError

    def batch(self, iteration: int, partition: int, rows: int) -> np.ndarray | None:
        """The rows of ``partition`` used in ``iteration``; None means all of them."""
        return None

    def batch_rows(self, rows: int) -> int:
        """How many of a partition's ``rows`` one iteration uses (to average the gradient)."""
        return rows


class GD(Optimizer):
    """Full-batch gradient descent with step size ``lr``: ``w ← w − lr · (g(w) + λ w)``.

    >>> import numpy as np
    >>> GD(lr=0.5).step(np.array([1.0]), np.array([2.0]), None)
    (array([0.]), None)
    >>> GD(lr=0.5, weight_decay=0.1)
    GD(lr=0.5, weight_decay=0.1)
    """

    name = "gd"

    def step(self, w, gradient, state):
        return w - self.lr * self._decayed(w, gradient, state), state


class Momentum(Optimizer):
    """Heavy-ball momentum: ``v ← β v + g(w)``, ``w ← w − lr · v`` with ``β = momentum``.

    >>> import numpy as np
    >>> opt = Momentum(lr=1.0, momentum=0.5)
    >>> w, v = opt.step(np.zeros(1), np.ones(1), opt.init(np.zeros(1)))
    >>> opt.step(w, np.ones(1), v)[0]
    array([-2.5])
    """

    name = "momentum"
    _params = ("lr", "momentum", "weight_decay")

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self.momentum = check_number(momentum, "momentum", minimum=0, maximum=1, below=True)

    def init(self, w):
        return np.zeros_like(w, dtype=np.result_type(w, np.float64))

    def step(self, w, gradient, velocity):
        velocity = self.momentum * velocity + self._decayed(w, gradient, velocity)
        return w - self.lr * velocity, velocity


class Nesterov(Momentum):
    """Nesterov momentum: the gradient is taken at the look-ahead point ``w − lr · β v``.

    >>> import numpy as np
    >>> opt = Nesterov(lr=1.0, momentum=0.5)
    >>> opt.point(np.zeros(1), np.ones(1))
    array([-0.5])
    """

    name = "nesterov"

    def point(self, w, velocity):
        return w - self.lr * self.momentum * velocity


class SGD(Momentum):
    """Mini-batch SGD: each partition contributes ``batch_size`` rows drawn by :func:`minibatch`.

    Args:
        lr: step size.
        batch_size: rows drawn from each partition per iteration (all rows when larger).
        seed: seed of the batches; replicas of a partition draw the same rows.
        momentum: heavy-ball momentum (0 for plain SGD).
        weight_decay: L2 penalty λ, ``g ← g + λ w``.

    >>> SGD(lr=0.1, batch_size=32, seed=7).batch(iteration=0, partition=2, rows=40).size
    32
    """

    name = "sgd"
    stochastic = True
    _params = ("lr", "batch_size", "seed", "momentum", "weight_decay")

    def __init__(
        self,
        lr: float,
        batch_size: int,
        seed: int = 0,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, momentum, weight_decay)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.seed = check_int(seed, "seed", minimum=0)

    def batch(self, iteration, partition, rows):
        return minibatch(self.seed, iteration, partition, rows, self.batch_size)

    def batch_rows(self, rows):
        return min(rows, self.batch_size)


class Adam(Optimizer):
    """Adam with decoupled weight decay (AdamW when ``weight_decay`` > 0), full batch or
    mini-batch.

    With the mean gradient g of step t = 1, 2, …:

        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,
        w ← w − lr λ w − lr m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)

    the update of ``torch.optim.AdamW`` (of ``torch.optim.Adam`` when λ = 0). Mini-batches as
    :class:`SGD` draws them when ``batch_size`` is given.

    Args:
        lr: step size.
        betas: decay rates (β₁, β₂) of the moments, each in [0, 1).
        eps: ε > 0 added to √v̂.
        weight_decay: decoupled decay λ ≥ 0.
        batch_size: rows drawn from each partition per iteration (None: all rows).
        seed: seed of the batches.

    >>> import numpy as np
    >>> opt = Adam(lr=0.1)
    >>> w, state = opt.step(np.array([1.0, 1.0]), np.array([2.0, -0.5]), opt.init(np.ones(2)))
    >>> w    # the first step moves every coordinate by lr against the gradient's sign
    array([0.9, 1.1])
    """

    name = "adam"
    _params = ("lr", "betas", "eps", "weight_decay", "batch_size", "seed")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        batch_size: int | None = None,
        seed: int = 0,
    ):
        super().__init__(lr, weight_decay)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"Argument 'betas' must be a pair (β₁, β₂), not {describe(betas)}.")
        self.betas = tuple(
            check_number(b, f"betas[{i}]", minimum=0, maximum=1, below=True)
            for i, b in enumerate(betas)
        )
        self.eps = check_number(eps, "eps", minimum=0, above=True)
        self.batch_size = None if batch_size is None else check_int(batch_size, "batch_size", 1)
        self.seed = check_int(seed, "seed", minimum=0)
        self.stochastic = self.batch_size is not None

    def get_config(self) -> dict:
        config = super().get_config()
        if config["batch_size"] is None:
            del config["batch_size"], config["seed"]  # full batch: no sampling to describe
        return config

    def init(self, w):
        zeros = np.zeros_like(w, dtype=np.result_type(w, np.float64))
        return zeros, zeros.copy(), 0

    def step(self, w, gradient, state):
        m, v, t = state
        (beta1, beta2), t = self.betas, t + 1
        m = beta1 * m + (1 - beta1) * gradient
        v = beta2 * v + (1 - beta2) * np.square(gradient)
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        w = w * (1 - self.lr * self.weight_decay) - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return w, (m, v, t)

    def batch(self, iteration, partition, rows):
        if self.batch_size is None:
            return None
        return minibatch(self.seed, iteration, partition, rows, self.batch_size)

    def batch_rows(self, rows):
        return rows if self.batch_size is None else min(rows, self.batch_size)


class _Newton(Optimizer):
    """Newton-type optimisers: a direction from the curvature, then an Armijo line search.

    The trainer's Newton driver calls :meth:`direction` with the mean gradient ``g`` and the
    curvature its plan provides, then :meth:`line_search` with a loss it evaluates in coded
    rounds. ``lr`` is the first step the line search tries: 1, the Newton step.
    """

    second_order = True
    lr = 1.0

    def __init__(self, damping, armijo, backtrack, max_backtracks):
        self.damping = check_number(damping, "damping", minimum=0)
        self.armijo = check_number(armijo, "armijo", minimum=0, above=True, maximum=0.5, below=True)
        self.backtrack = check_number(
            backtrack, "backtrack", minimum=0, above=True, maximum=1, below=True
        )
        self.max_backtracks = check_int(max_backtracks, "max_backtracks", minimum=0)

    def step(self, w, gradient, state):
        raise TypeError(
            f"{type(self).__name__} needs curvature, not a gradient alone: train with "
            f"coded.train(..., optimizer={self!r}), whose Newton driver runs it."
        )

    def direction(self, gradient: np.ndarray, curvature) -> tuple[np.ndarray, dict]:
        """The step ``p`` from the mean gradient and the plan's curvature, and named
        values to record (e.g. CG iterations)."""
        raise NotImplementedError

    def line_search(self, value, w: np.ndarray, loss: float, gradient: np.ndarray, p):
        """Backtracking from the step 1 until ``value(w + α p) ≤ loss + c α gᵀp`` (Armijo).

        ``c = armijo``, α shrinks by ``backtrack`` at most ``max_backtracks`` times. A
        slack of ``8 ε |loss|`` (ε the float64 precision) absorbs rounding: near the
        minimum the decrease ``c α gᵀp ≈ ‖g‖²`` falls below what a float can tell.
        A non-finite value counts as no decrease.

        Returns ``(α, value(w + α p), evaluations)``, with α = 0 (and ``loss``) when no
        step decreased the loss.

        >>> import numpy as np
        >>> w, g = np.ones(2), 2 * np.ones(2)   # at w of f(w) = ‖w‖², along −w
        >>> NewtonCG().line_search(lambda v: float(v @ v), w, 2.0, g, -w)
        (1.0, 0.0, 1)
        """
        slope = float(np.vdot(gradient, p))
        slack = 8 * np.finfo(float).eps * abs(loss)
        alpha = 1.0
        for evaluations in range(1, self.max_backtracks + 2):
            trial = value(w + alpha * p)
            if np.isfinite(trial) and trial <= loss + self.armijo * alpha * slope + slack:
                return alpha, float(trial), evaluations
            alpha *= self.backtrack
        return 0.0, loss, self.max_backtracks + 1


class NewtonCG(_Newton):
    """Inexact Newton: conjugate gradients on ``(H + λI) p = −g``, then an Armijo line search.

    CG (Nocedal–Wright Algorithm 7.1) starts at ``p = 0`` and stops once the residual is
    ``‖r‖ ≤ η ‖g‖`` with the forcing term ``η = min(cg_tol, √‖g‖)`` (superlinear
    convergence, quadratic near the minimum), after ``max_cg`` iterations, or when it meets
    a direction ``d`` of curvature ``dᵀ(H + λI)d ≤ ε·‖d‖²·h`` (``h`` the largest Rayleigh
    quotient seen): it then returns its iterate, or ``−g`` on the first iteration.

    Each CG iteration is one Hessian-vector product, ``H v = Xᵀ D (X v) / m`` for the
    generalised linear losses (:meth:`coded.losses.Loss.curvature`): two coded rounds on the
    resident MDS-coded ``X`` and ``Xᵀ`` (training method ``mds``), with ``D`` from the
    scores of the current point.

    A singular Hessian needs no damping: for these losses ``g = Xᵀ r / m`` lies in the
    range of ``Xᵀ``, which is the range of ``H = Xᵀ D X / m`` (``D > 0``), so ``H p = −g``
    is consistent and CG, whose iterates stay in the Krylov space of ``(H, g)``, returns its
    minimum-norm solution (duplicated or collinear features). On separable logistic data
    the loss has no minimiser; the iterates grow, as gradient descent's do, until the
    gradient tolerance. ``damping`` λ > 0 (Levenberg–Marquardt) shortens steps.

    Args:
        cg_tol: cap of the forcing term, in (0, 1).
        max_cg: CG iterations per outer iteration, at least 1.
        damping: λ ≥ 0 added to the Hessian.
        armijo: sufficient-decrease constant c of the line search, in (0, ½).
        backtrack: factor the step shrinks by, in (0, 1).
        max_backtracks: step shrinks before giving up (the driver then stops).

    >>> import numpy as np
    >>> H, g = np.diag([1.0, 4.0]), np.array([1.0, 2.0])
    >>> p, info = NewtonCG(cg_tol=1e-3).direction(g, lambda v: H @ v)
    >>> p, info
    (array([-1. , -0.5]), {'cg_iterations': 2})

    References:
        J. Nocedal, S. Wright, "Numerical Optimization", 2nd ed., Springer 2006, Algorithm 7.1.
        S. Eisenstat, H. Walker, "Choosing the forcing terms in an inexact Newton method",
        SIAM J. Sci. Comput. 17(1), 1996.
    """

    name = "newton_cg"
    methods = ("mds",)
    _params = ("cg_tol", "max_cg", "damping", "armijo", "backtrack", "max_backtracks")

    def __init__(
        self,
        cg_tol: float = 0.5,
        max_cg: int = 100,
        damping: float = 0.0,
        armijo: float = 1e-4,
        backtrack: float = 0.5,
        max_backtracks: int = 30,
    ):
        self.cg_tol = check_number(cg_tol, "cg_tol", minimum=0, above=True, maximum=1, below=True)
        self.max_cg = check_int(max_cg, "max_cg", minimum=1)
        super().__init__(damping, armijo, backtrack, max_backtracks)

    def direction(self, gradient, curvature):
        """Truncated CG on ``(H + λI) p = −g`` with ``curvature(v) = H v``; the step and
        ``{"cg_iterations": j}``."""
        g_norm = float(np.linalg.norm(gradient))
        tolerance = min(self.cg_tol, np.sqrt(g_norm)) * g_norm
        p = np.zeros_like(gradient)
        r, d = gradient.copy(), -gradient
        rr, largest = float(np.vdot(r, r)), 0.0
        for j in range(self.max_cg):
            Hd = curvature(d) + self.damping * d
            dd = float(np.vdot(d, d))
            dHd = float(np.vdot(d, Hd))
            if dHd <= np.finfo(float).eps * dd * largest or dHd <= 0:
                return (-gradient if j == 0 else p), {"cg_iterations": j + 1}
            largest = max(largest, dHd / dd)
            alpha = rr / dHd
            p = p + alpha * d
            r = r + alpha * Hd
            rr, previous = float(np.vdot(r, r)), rr
            if np.sqrt(rr) <= tolerance:
                return p, {"cg_iterations": j + 1}
            d = -r + (rr / previous) * d
        return p, {"cg_iterations": self.max_cg}


class SketchedNewton(_Newton):
    """Newton steps with a count-sketched Hessian (after OverSketched Newton), exact gradients.

    The Hessian of a generalised linear loss is ``H = AᵀA`` for the square-root Hessian
    ``A = [x_j ⊗ R_j] / √m`` (:meth:`coded.losses.Loss.curvature_root`). Each worker sketches
    the rows of its partitions with a count sketch seeded by ``(seed, round, partition)``,
    so every replica of a partition draws the same one, and sends the gradient-coded sum
    of ``[∇L_p, L_p, S_p A_p]`` (:class:`coded.workers.kernels.SketchedHessian`): the master
    decodes the exact gradient and ``S A = Σ_p S_p A_p``, a count sketch of all ``A``'s rows
    into ``sketch_size`` = b buckets, in one round, and solves

        (Ĥ + λI) p = −g,   Ĥ = (S A)ᵀ(S A)

    (d × d, small; by least squares when singular). The line search's evaluations are the
    same rounds, so an accepted step brings the next gradient and sketch with it.

    Accuracy: ``E[Ĥ] = H`` and ``E‖Ĥ − H‖_F² ≤ (2/b)·tr(H)²``, so ``‖Ĥ − H‖₂ ≤
    √(2/(bδ))·tr(H)`` with probability 1 − δ; with b = O(d²/ε²) buckets ``S`` is an
    ε-subspace embedding of ``A``'s columns and ``(1 − ε)H ⪯ Ĥ ⪯ (1 + ε)H``. As the gradient is
    exact, the iterates converge to the true minimiser, linearly with a rate of order ε
    (quadratic-linear in the Newton-sketch analysis), not to a sketch-dependent point: b
    of several d (10 d to 50 d) is a practical choice, b < d leaves Ĥ singular.

    Args:
        sketch_size: b, the buckets of the count sketch (rows of ``S A``).
        seed: seed of the sketches.
        damping, armijo, backtrack, max_backtracks: as for :class:`NewtonCG`.

    >>> import numpy as np
    >>> opt = SketchedNewton(sketch_size=4)
    >>> p, info = opt.direction(np.array([1.0, 2.0]), np.array([[1.0, 0.0], [0.0, 2.0]]))
    >>> p
    array([-1. , -0.5])

    References:
        V. Gupta, S. Kadhe, T. Courtade, M. Mahoney, K. Ramchandran, "OverSketched Newton:
        fast convex optimization for serverless systems", arXiv:1903.08857.
        M. Pilanci, M. Wainwright, "Newton sketch", SIAM J. Optim. 27(1), 2017.
        D. Woodruff, "Sketching as a tool for numerical linear algebra", 2014, §2.1.
    """

    name = "sketched_newton"
    methods = ("coded", "uncoded")
    _params = ("sketch_size", "seed", "damping", "armijo", "backtrack", "max_backtracks")

    def __init__(
        self,
        sketch_size: int,
        seed: int = 0,
        damping: float = 0.0,
        armijo: float = 1e-4,
        backtrack: float = 0.5,
        max_backtracks: int = 30,
    ):
        self.sketch_size = check_int(sketch_size, "sketch_size", minimum=1)
        self.seed = check_int(seed, "seed", minimum=0)
        super().__init__(damping, armijo, backtrack, max_backtracks)

    def sketch(self, round: int, partition: int, A: np.ndarray) -> np.ndarray:
        """``S_p A`` for ``partition``'s rows ``A`` in ``round``: the same on every replica."""
        return count_sketch(A, self.sketch_size, [self.seed, round, partition])

    def direction(self, gradient, curvature):
        """``p = −(Ĥ + λI)⁺ g`` for the sketched root ``curvature = S A``; ``−g`` if that is
        no descent direction."""
        hessian = curvature.T @ curvature + self.damping * np.eye(curvature.shape[1])
        p = np.linalg.lstsq(hessian, -gradient.ravel(), rcond=None)[0].reshape(gradient.shape)
        return (p if np.vdot(p, gradient) < 0 else -gradient), {}


#: The registered optimisers by name (read-only; a public subclass of :class:`Optimizer` adds
#: itself).
OPTIMIZERS: Mapping[str, type[Optimizer]] = registry("optimizer")


def optimizer_from_config(config: Mapping) -> Optimizer:
    """Build an optimiser from ``{"type": name, **parameters}`` (a YAML job's ``optimizer:``).

    >>> optimizer_from_config({"type": "nesterov", "lr": 0.1})
    Nesterov(lr=0.1, momentum=0.9)
    """
    return registered(config, "optimizer").from_config(config)


def as_optimizer(optimizer, lr: float | None = None) -> Optimizer:
    """An :class:`Optimizer` from an optimiser, a config mapping, or ``None`` (``GD(lr)``).

    ``lr`` is the step size of the default optimiser only: with an optimiser, which has its
    own, it is refused rather than silently ignored.

    >>> as_optimizer(None, lr=0.5)
    GD(lr=0.5)
    >>> as_optimizer(GD(lr=1.0), lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: Arguments 'optimizer' and 'lr' conflict: GD(lr=1.0) has its own step size, ...
    """
    if optimizer is None:
        if lr is None:
            raise ValueError("Argument 'lr' is needed when no optimizer is given.")
        return GD(lr)
    if isinstance(optimizer, Mapping):
        optimizer = optimizer_from_config(optimizer)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"Argument 'optimizer' must be an Optimizer or a config mapping, "
            f"not {describe(optimizer)}."
        )
    if lr is not None:
        raise ValueError(
            f"Arguments 'optimizer' and 'lr' conflict: {optimizer!r} has its own step size, "
            f"so 'lr' ({lr!r}) would be ignored; give the step size in one place."
        )
    return optimizer
