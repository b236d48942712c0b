"""Losses for coded training: value and gradient *summed* over the rows of a data partition.

A gradient code decodes the sum of the n partial gradients, so every loss here is a sum
over samples, ``L(w; X, y) = Σ_j ℓ(w; x_j, y_j)``, and the gradient of the whole data set
is the sum of the partitions' gradients. The trainer divides by the number of rows.

The three built-in losses are generalised linear models: ``ℓ`` depends on ``x_j`` only
through the score ``z_j = x_j · w`` (a row of ``Z = X W`` for softmax), so

    ∇L(w) = Xᵀ · r,    r_j = ∂ℓ/∂z_j (the *residual*),

which is what the MDS alternative of Lee et al. computes in two coded rounds (``Z = X w``,
then ``Xᵀ r``). The Hessian has the same shape, ``∇²L(w) = Xᵀ D X`` with ``D`` the
per-sample curvature ``∂²ℓ/∂z²``, so a Hessian-vector product is two coded rounds too:
``u = X v``, then ``Xᵀ (D u)`` (:meth:`Loss.curvature`). Per sample, with σ the logistic
function and p = softmax(z):

=============== ====================== ====================== =================== ==========
loss            ℓ(z, y)                r = ∂ℓ/∂z              D = ∂²ℓ/∂z²         labels
=============== ====================== ====================== =================== ==========
least squares   ½ (z − y)²             z − y                  1                   real
logistic        log(1 + eᶻ) − y z      σ(z) − y               σ(z) (1 − σ(z))     0 or 1
softmax         logsumexp(z) − z_y     p − onehot(y)          diag(p) − p pᵀ      0 .. C−1
=============== ====================== ====================== =================== ==========

:class:`CustomLoss` wraps a user gradient ``grad_fn(w, X_part, y_part)`` that must sum over
the rows it is given (so partitions add up); it is shipped to the workers as is.
A PyTorch module is a loss too: :class:`coded.nn.TorchLoss`, whose weights are the
module's flattened parameters.

>>> import numpy as np
>>> loss = LogisticLoss()
>>> X, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([1.0, 0.0])
>>> w = np.zeros(2)
>>> bool(np.isclose(loss.value(w, X, y), 2 * np.log(2)))
True
>>> loss.gradient(w, X, y)
array([-0.25, -1.5 ])

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .checks import check_int, resolve_function
from .config import Configurable, registered, registry
from .fields import RealField

__all__ = [
    "Loss",
    "LeastSquaresLoss",
    "LogisticLoss",
    "SoftmaxLoss",
    "CustomLoss",
    "as_loss",
    "loss_from_config",
    "LOSSES",
]

_REAL = RealField()


class Loss(Configurable, family="loss"):
    """A loss summed over rows: ``value``, ``gradient`` and both at once on one partition.

    Subclasses that are generalised linear models set ``linear = True`` and implement
    ``_value_at_scores(z, y)``, ``_residual(z, y)`` and ``_curvature_root(z, y)``; the rest
    follows.
    """

    name = "abstract"
    linear = False
    has_value = True  # whether value() is known (a CustomLoss may give only the gradient)
    rows_of_arrays = False  # whether a sample may be an array (X of any ndim ≥ 2), not a row
    wire_dtype = np.dtype(np.float64)  # the floats of the model and its gradients on the wire
    _params: tuple[str, ...] = ()

    # -- data --------------------------------------------------------------------------
    def validate(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """Check a data set before anything is dispatched; return float arrays.

        ``X`` must be a finite 2-D array (or more, for a loss whose samples are arrays,
        ``rows_of_arrays``) and ``y`` have one entry (or row) per row of ``X``.
        """
        X = _REAL.validate(X, "X")
        if X.ndim != 2 and not (self.rows_of_arrays and X.ndim > 2):
            raise ValueError(
                f"Argument 'X' must be a 2-D array (samples × features), not {X.ndim}-D."
            )
        y = _REAL.validate(y, "y")
        if y.ndim == 0 or y.shape[0] != X.shape[0]:
            rows = y.shape[0] if y.ndim else "a scalar"
            raise ValueError(
                f"Arguments 'X' and 'y' must have the same number of rows, "
                f"not {X.shape[0]} and {rows}."
            )
        return X, self._check_labels(y)

    def _check_labels(self, y: np.ndarray) -> np.ndarray:
        return y

    def init_weights(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The zero model for this data (its shape is what the gradient must have)."""
        raise NotImplementedError

    def check_weights(self, w, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return ``w`` as a finite float array of the shape this loss expects for ``X``, ``y``."""
        w = _REAL.validate(w, "w0")
        expected = self.init_weights(X, y).shape
        if w.shape != expected:
            raise ValueError(f"Argument 'w0' must have shape {expected}, not {w.shape}.")
        return w

    # -- value and gradient --------------------------------------------------------------
    def value(self, w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        """``Σ_j ℓ(w; x_j, y_j)`` over the rows of ``X``."""
        return self.value_and_gradient(w, X, y)[0]

    def gradient(self, w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``Σ_j ∇ℓ(w; x_j, y_j)``, an array shaped like ``w``."""
        return self.value_and_gradient(w, X, y)[1]

    def value_and_gradient(self, w, X, y) -> tuple[float, np.ndarray]:
        """Both sums in one pass (what a worker computes for each partition it holds)."""
        z = X @ w
        return float(self._value_at_scores(z, y)), X.T @ self._residual(z, y)

    # -- generalised linear models -------------------------------------------------------
    def value_at_scores(self, z: np.ndarray, y: np.ndarray) -> float:
        """``Σ_j ℓ(z_j, y_j)`` from the scores ``z = X w`` (linear losses only)."""
        self._require_linear()
        return float(self._value_at_scores(z, y))

    def residual(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``r_j = ∂ℓ/∂z_j``, so that the gradient is ``Xᵀ r`` (linear losses only)."""
        self._require_linear()
        return self._residual(z, y)

    def curvature(self, z: np.ndarray, y: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``D u``: the second derivative of ``ℓ`` in score space at ``z``, applied to the
        direction's scores ``u = X v`` (linear losses only).

        Row by row, ``(D u)_j = ∂²ℓ(z_j, y_j)/∂z_j² · u_j``, a number for least squares and
        logistic, the C × C matrix ``diag(p_j) − p_j p_jᵀ`` for softmax. So the Hessian-vector
        product of the summed loss is ``∇²L(w) v = Xᵀ · curvature(X w, y, X v)``. It is
        ``Rᵀ (R u)`` with the root ``R`` of :meth:`curvature_root`.

        >>> import numpy as np
        >>> LogisticLoss().curvature(np.zeros(2), np.array([0.0, 1.0]), np.array([1.0, 2.0]))
        array([0.25, 0.5 ])
        """
        self._require_linear()
        root = self._curvature_root(z, y)  # (m, q, c): D_j = R_jᵀ R_j
        u = np.asarray(u, dtype=float)
        applied = np.einsum("jqc,jqe,je->jc", root, root, u.reshape(root.shape[0], -1))
        return applied.reshape(u.shape)

    def curvature_root(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-sample square roots ``R_j`` of the score-space curvature, ``D_j = R_jᵀ R_j``:
        an array of shape (m, q, c) (linear losses only).

        ``c`` is the number of scores per sample (1, or C for softmax), ``q`` the rows of each
        root: ``R_j = √(σ(z_j)(1 − σ(z_j)))`` for logistic, 1 for least squares and
        ``diag(√p_j) − √p_j p_jᵀ`` for softmax, since ``(I − p 1ᵀ) diag(p) (I − 1 pᵀ) =
        diag(p) − p pᵀ`` when ``Σ p = 1``. The Hessian of the summed loss is then ``AᵀA``
        with the rows of ``A`` the ``x_j ⊗ R_j[r]``: the square-root Hessian that sketched
        Newton methods sketch.

        >>> import numpy as np
        >>> LogisticLoss().curvature_root(np.zeros(1), np.zeros(1))
        array([[[0.5]]])
        """
        self._require_linear()
        return self._curvature_root(z, y)

    def _require_linear(self):
        if not self.linear:
            raise ValueError(
                f"{type(self).__name__} is not a linear model: the two-round MDS method needs "
                f"one of {[name for name, cls in LOSSES.items() if cls.linear]}"
            )

    def _value_at_scores(self, z, y):
        raise NotImplementedError

    def _residual(self, z, y):
        raise NotImplementedError

    def _curvature_root(self, z, y):
        raise NotImplementedError


class LeastSquaresLoss(Loss):
    """``½ ‖X w − y‖²``; ``y`` of shape (m,) fits a vector ``w``, (m, c) a matrix ``W``.

    >>> import numpy as np
    >>> LeastSquaresLoss().gradient(np.zeros(1), np.array([[2.0]]), np.array([3.0]))
    array([-6.])
    """

    name = "least_squares"
    linear = True

    def init_weights(self, X, y):
        return np.zeros((X.shape[1],) + y.shape[1:])

    def _value_at_scores(self, z, y):
        return 0.5 * np.sum((z - y) ** 2)

    def _residual(self, z, y):
        return z - y

    def _curvature_root(self, z, y):
        scores = z.reshape(z.shape[0], -1).shape[1]
        return np.broadcast_to(np.eye(scores), (z.shape[0], scores, scores))


class LogisticLoss(Loss):
    """Binary logistic regression, labels 0 or 1: ``Σ log(1 + e^{z}) − y z`` with ``z = X w``.

    >>> import numpy as np
    >>> float(LogisticLoss().value(np.zeros(1), np.ones((3, 1)), np.array([0, 1, 1])))
    2.0794415416798357
    """

    name = "logistic"
    linear = True

    def _check_labels(self, y):
        if y.ndim != 1 or not np.isin(y, (0.0, 1.0)).all():
            raise ValueError(
                f"Argument 'y' must be a vector of labels 0 or 1 for {self.name}, "
                f"not values {np.unique(y)[:5].tolist()} of shape {y.shape}."
            )
        return y

    def init_weights(self, X, y):
        return np.zeros(X.shape[1])

    def _value_at_scores(self, z, y):
        return np.sum(np.logaddexp(0.0, z) - y * z)

    def _residual(self, z, y):
        return _sigmoid(z) - y

    def _curvature_root(self, z, y):
        sigma = _sigmoid(z)
        return np.sqrt(sigma * (1.0 - sigma))[:, None, None]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z), stable for any z


class SoftmaxLoss(Loss):
    """Multinomial logistic regression over ``classes`` classes (labels 0..C−1); ``W`` is d × C.

    Args:
        classes: number of classes C; by default one more than the largest label in ``y``.

    >>> import numpy as np
    >>> loss = SoftmaxLoss(classes=3)
    >>> bool(np.isclose(loss.value(np.zeros((2, 3)), np.ones((1, 2)), np.array([2])), np.log(3)))
    True
    """

    name = "softmax"
    linear = True
    _params = ("classes",)

    def __init__(self, classes: int | None = None):
        self.classes = None if classes is None else check_int(classes, "classes", minimum=2)

    def _check_labels(self, y):
        top = self.classes - 1 if self.classes is not None else None
        if (
            y.ndim != 1
            or (y != np.round(y)).any()
            or (y < 0).any()
            or (top is not None and (y > top).any())
        ):
            bound = f"0..{top}" if top is not None else "0, 1, 2, ..."
            raise ValueError(
                f"Argument 'y' must be a vector of integer class labels {bound}, "
                f"not values {np.unique(y)[:5].tolist()} of shape {y.shape}."
            )
        return y

    def init_weights(self, X, y):
        classes = self.classes or max(2, int(y.max()) + 1 if y.size else 2)
        return np.zeros((X.shape[1], classes))

    def _value_at_scores(self, z, y):
        rows = np.arange(z.shape[0])
        return np.sum(_logsumexp(z) - z[rows, y.astype(np.intp)])

    def _residual(self, z, y):
        probabilities = _softmax(z)
        probabilities[np.arange(z.shape[0]), y.astype(np.intp)] -= 1.0
        return probabilities

    def _curvature_root(self, z, y):
        p = _softmax(z)
        root = np.sqrt(p)
        return root[:, :, None] * (np.eye(p.shape[1]) - p[:, None, :])  # diag(√p) − √p pᵀ


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _logsumexp(z: np.ndarray) -> np.ndarray:
    top = z.max(axis=1)
    return top + np.log(np.exp(z - top[:, None]).sum(axis=1))


class CustomLoss(Loss):
    """A user gradient ``grad_fn(w, X_part, y_part)`` summed over the rows it is given.

    Args:
        grad_fn: the gradient, a callable or an import path ``"module:function"`` (YAML jobs).
            It must return an array shaped like ``w``, and ``grad_fn`` on the concatenation
            of two partitions must equal the sum of its values on each (a sum over rows).
        loss_fn: optional ``loss_fn(w, X_part, y_part)`` summed over rows likewise, for the
            history; without it the history records NaN.

    The functions travel to the workers (Ray pickles them with cloudpickle); the model's
    shape cannot be guessed, so training needs ``w0``.

    >>> import numpy as np
    >>> loss = CustomLoss(lambda w, X, y: X.T @ (X @ w - y))
    >>> loss.gradient(np.zeros(1), np.array([[2.0]]), np.array([3.0]))
    array([-6.])
    """

    name = "custom"
    _params = ("grad_fn", "loss_fn")

    def __init__(self, grad_fn: Callable | str, loss_fn: Callable | str | None = None):
        resolve_function(grad_fn, "grad_fn")  # fail now, naming it, rather than on a worker
        if loss_fn is not None:
            resolve_function(loss_fn, "loss_fn")
        self.grad_fn, self.loss_fn = grad_fn, loss_fn

    @property
    def has_value(self) -> bool:
        return self.loss_fn is not None

    def init_weights(self, X, y):
        raise ValueError(
            "CustomLoss cannot guess the model's shape: pass the initial model as 'w0'."
        )

    def check_weights(self, w, X, y):
        return _REAL.validate(w, "w0")

    def value_and_gradient(self, w, X, y):
        gradient = np.asarray(resolve_function(self.grad_fn, "grad_fn")(w, X, y))
        if gradient.shape != np.shape(w):
            raise ValueError(
                f"grad_fn returned an array of shape {gradient.shape}; "
                f"it must have the model's shape {np.shape(w)}"
            )
        value = (
            np.nan
            if self.loss_fn is None
            else float(resolve_function(self.loss_fn, "loss_fn")(w, X, y))
        )
        return value, gradient


#: The registered losses by name (read-only; a public subclass of :class:`Loss` adds itself).
LOSSES: Mapping[str, type[Loss]] = registry("loss")


def loss_from_config(config: Mapping) -> Loss:
    """Build a loss from ``{"type": name, **parameters}`` (a YAML job's ``loss:`` section).

    >>> loss_from_config({"type": "softmax", "classes": 10})
    SoftmaxLoss(classes=10)
    """
    return registered(config, "loss").from_config(config)


def as_loss(loss) -> Loss:
    """A :class:`Loss` from a loss object, a name (``"logistic"``) or a config mapping.

    >>> as_loss("least_squares")
    LeastSquaresLoss()
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        return registered({"type": loss}, "loss")()
    if isinstance(loss, Mapping):
        return loss_from_config(loss)
    raise TypeError(f"Argument 'loss' must be a Loss, a name or a config mapping, not {loss!r}.")
