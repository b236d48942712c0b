"""The Newton driver: second-order optimisers on a plan's coded rounds.

One outer iteration at the model ``w_t``, every quantity from coded rounds on resident data:

    g = ∇L(w_t)                          plan.gradient   (mds: the backward round only, the
                                                          forward one came with the line search)
    p = optimizer.direction(g, C)        C = plan.curvature(w_t): Hessian-vector products
                                         (NewtonCG, two rounds each) or a sketched root
    α = optimizer.line_search(L, ...)    each trial L(w_t + α p) is a forward round (mds) or
                                         a gradient-and-sketch round (sketched)
    w_{t+1} = w_t + α p

The history records, per outer iteration, the mean loss at ``w_t``, ``gradient_norm``
(‖g‖), the optimiser's own values (``cg_iterations``), the step ``step`` (α) and the coded
``rounds`` the iteration took. The run stops once ``‖g‖ ≤ target_gradient_norm`` or the
loss is at most ``target_loss`` (that iteration is recorded, with no step), after
``iterations`` outer iterations, or when the line search finds no decrease (the loss is
flat to rounding: α = 0 is recorded).

>>> import numpy as np, coded
>>> from coded.scheduler.pool import InProcessPool
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((200, 3))
>>> y = (X @ [1.0, -2.0, 0.5] + rng.standard_normal(200) > 0).astype(float)
>>> with coded.Runtime(4, pool=InProcessPool(4)) as rt:
...     result = coded.train(X, y, loss="logistic", optimizer=coded.NewtonCG(), s=1,
...                          target_gradient_norm=1e-10, runtime=rt)
>>> norms = result.history.series("gradient_norm")
>>> bool(norms[-1] <= 1e-10), len(norms) <= 8, result.history.method
(True, True, 'mds')
"""

from __future__ import annotations

import time

import numpy as np

from coded.errors import DivergedError

from .history import History, Progress

__all__ = ["newton_loop", "reached"]


def newton_loop(
    plan,
    optimizer,
    w: np.ndarray,
    iterations: int,
    targets: tuple[float | None, float | None],
    history: History,
    progress: bool | None,
    callback,
) -> np.ndarray:
    """Run a Newton-type ``optimizer`` (:class:`~coded.optim.NewtonCG`,
    :class:`~coded.optim.SketchedNewton`) from ``w`` on ``plan``'s rounds; return the model.

    ``targets`` are the target loss and gradient norm (None: none). Raises
    :class:`~coded.DivergedError` if the loss or the gradient at an iterate is
    non-finite (the line search never accepts a non-finite loss, so only the start can be).
    """
    with Progress(iterations, history.method, progress) as bar:
        for t in range(iterations):
            start, rounds = time.perf_counter(), plan.rounds
            plan.used.clear()
            gradient, value, _ = plan.gradient(w, t)
            _check_finite(value, t, "the loss")
            _check_finite(gradient, t, "the gradient")
            norm = float(np.linalg.norm(gradient))
            if reached(targets, value, norm):
                _record(history, bar, callback, t, w, value, start, plan, rounds, norm)
                break
            p, values = optimizer.direction(gradient, plan.curvature(w))
            alpha, _, _ = optimizer.line_search(plan.value, w, value, gradient, p)
            w = w + alpha * p
            _record(history, bar, callback, t, w, value, start, plan, rounds, norm, alpha, values)
            if alpha == 0:
                break
    return w


def _record(history, bar, callback, t, w, value, start, plan, rounds, norm, alpha=0.0, values=()):
    record = history.append(
        value,
        time.perf_counter() - start,
        sorted(plan.used),
        gradient_norm=norm,
        step=alpha,
        rounds=plan.rounds - rounds,
        **dict(values),
    )
    bar.update(value)
    if callback is not None:
        callback(t, w, record)


def reached(targets: tuple[float | None, float | None], value: float, gradient_norm: float) -> bool:
    """Whether the loss or the gradient norm is down to its target ``targets = (loss,
    gradient norm)``, None meaning no target (both training loops stop on it).

    >>> reached((None, 1e-6), value=0.3, gradient_norm=1e-7)
    True
    """
    target_loss, target_gradient_norm = targets
    return (target_loss is not None and value <= target_loss) or (
        target_gradient_norm is not None and gradient_norm <= target_gradient_norm
    )


def _check_finite(values, iteration: int, what: str) -> None:
    if not np.isfinite(values).all():
        raise DivergedError(iteration, what, None)
