"""PyTorch models as losses: the weights are the module's parameters, flattened.

:class:`TorchLoss` is a :class:`~coded.losses.Loss` whose model ``w`` is the vector of a
``torch.nn.Module``'s trainable parameters (``torch.nn.utils.parameters_to_vector`` order),
so the whole training machinery (plans, the gradient kernel, gradient codes, optimisers,
history, YAML jobs) runs it unchanged. On a worker, for each partition ``p`` it holds,

    L_p(w) = Σ_{j ∈ p} ℓ(f_w(x_j), y_j),     ∇L_p(w) by one forward and one backward pass,

with ``f_w`` the module evaluated at ``w`` by :func:`torch.func.functional_call`. That
call swaps the module's parameters while it runs, so each thread works on its own copy of
the module (threads of an in-process pool share the loss). The
gradient code combines the partitions' flattened gradients; the master decodes their sum,
steps its optimiser on the flat vector and broadcasts it once per iteration.

The loss must be a *sum* over rows (``reduction="sum"``), and a row's output must depend
on that row alone, so that partitions add up and every replica of a partition computes
the same gradient: batch normalisation (statistics of the batch) and dropout (random
masks) are refused. Workers compute in the parameters' dtype (float32 or float64); the
data are converted to it once, before placement.

>>> import numpy as np, torch
>>> loss = TorchLoss(torch.nn.Linear(2, 1, bias=False, dtype=torch.float64), "mse")
>>> X, y = loss.validate(np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([1.0, 0.0]))
>>> w = np.array([1.0, 0.0])
>>> value, gradient = loss.value_and_gradient(w, X, y)
>>> value, gradient    # Σ (x·w − y)² and its gradient 2 Xᵀ(Xw − y)
(0.25, array([ 0.5, -1. ]))
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .checks import describe, resolve_function
from .losses import Loss

__all__ = ["TorchLoss", "mlp", "MODELS", "LOSS_FUNCTIONS"]

#: Named sums over rows, ``loss_fn(output, target)``.
LOSS_FUNCTIONS = ("cross_entropy", "mse")


def _torch():
    """torch, imported on first use (it is an optional dependency)."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ImportError(
            "TorchLoss needs PyTorch: pip install 'coded-runtime[torch]' (or torch itself)"
        ) from exc


def mlp(
    inputs: int,
    outputs: int,
    hidden: Sequence[int] = (64,),
    activation: str = "relu",
    dtype: str = "float64",
    seed: int = 0,
):
    """A multilayer perceptron ``Linear → activation → … → Linear`` (``torch.nn.Sequential``).

    Its initial weights are drawn from ``torch.Generator().manual_seed(seed)``'s stream (the
    global one is left as it was), so a YAML job that names it starts from the same model
    every time.

    >>> mlp(4, 3, hidden=[8])
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    torch = _torch()
    activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
    if activation not in activations:
        raise ValueError(
            f"Argument 'activation' must be one of {sorted(activations)}, not {activation!r}."
        )
    if dtype not in ("float32", "float64"):
        raise ValueError(f"Argument 'dtype' must be 'float32' or 'float64', not {dtype!r}.")
    sizes = [inputs, *hidden, outputs]
    layers = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if i:
                layers.append(activations[activation]())
            layers.append(torch.nn.Linear(a, b, dtype=getattr(torch, dtype)))
    return torch.nn.Sequential(*layers)


#: Model builders a config may name by ``type`` (or give ``"module:function"``).
MODELS: Mapping[str, Callable] = {"mlp": mlp}


class TorchLoss(Loss):
    """A ``torch.nn.Module`` and a loss summed over rows, as a :class:`~coded.losses.Loss`.

    Args:
        model: a ``torch.nn.Module``, or a config ``{type: mlp, inputs: 64, outputs: 10,
            hidden: [32]}`` whose ``type`` is a builder of :data:`MODELS` or a
            ``"module:function"`` path, called with the other keys (YAML jobs).
        loss_fn: ``"cross_entropy"`` (integer class labels), ``"mse"`` (squared error), or a
            callable / ``"module:function"`` ``loss_fn(output, target)`` that returns a
            scalar tensor summed over the rows.

    The weights ``w`` are the trainable parameters flattened (:meth:`init_weights` gives
    the module's current ones); they must all be real floats of one dtype. The module
    travels to the workers with the kernel (Ray pickles it), and each round sets its
    parameters from the broadcast vector.

    >>> import numpy as np
    >>> loss = TorchLoss({"type": "mlp", "inputs": 3, "outputs": 2, "hidden": [4]},
    ...                  "cross_entropy")
    >>> X, y = loss.validate(np.ones((5, 3)), np.array([0, 1, 1, 0, 1]))
    >>> loss.init_weights(X, y).shape, loss.predict(loss.init_weights(X, y), X).shape
    ((26,), (5, 2))
    """

    name = "torch"
    rows_of_arrays = True
    _params = ("model", "loss_fn")

    def __init__(self, model, loss_fn: str | Callable = "cross_entropy"):
        torch = _torch()
        self.model, self.loss_fn = model, loss_fn
        self.module = _build(model)
        if isinstance(loss_fn, str) and loss_fn in LOSS_FUNCTIONS:
            self._loss = None
        else:
            self._loss = resolve_function(loss_fn, "loss_fn")
        for sub in self.module.modules():
            if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm | torch.nn.Dropout):
                raise ValueError(
                    f"Argument 'model' must compute each row's output from that row alone and "
                    f"deterministically, so that partitions add up and replicas agree; "
                    f"{type(sub).__name__} does not."
                )
        dtypes = {p.dtype for p in self.module.parameters()}
        if not dtypes or not all(d.is_floating_point for d in dtypes) or len(dtypes) > 1:
            raise ValueError(
                f"Argument 'model' must have parameters of one real float dtype (float32 "
                f"or float64), not {sorted(str(d) for d in dtypes) or 'none'}."
            )
        (self.dtype,) = dtypes
        self._names = [n for n, p in self.module.named_parameters() if p.requires_grad]
        if not self._names:
            raise ValueError("Argument 'model' must have at least one trainable parameter.")
        self._local = threading.local()

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state):
        self.__dict__.update(state, _local=threading.local())

    def _own_module(self):
        """This thread's copy of the module (functional_call swaps its parameters)."""
        if not hasattr(self._local, "module"):
            self._local.module = copy.deepcopy(self.module)
        return self._local.module

    def _config_value(self, name):
        return getattr(self, name)  # a module or a config mapping, kept as given

    # -- data ------------------------------------------------------------------------------
    @property
    def _classes(self) -> bool:
        return self.loss_fn == "cross_entropy"

    def validate(self, X, y):
        """Finite arrays with a row per sample (a row may be an array, an image, say),
        ``X`` and real ``y`` in the parameters' dtype, class labels (cross_entropy, or
        integer ``y`` for a custom ``loss_fn``) as int64; then one
        forward and backward pass on the first two rows, which must give a scalar loss that
        adds up over rows, so a wrong model or loss fails here, before any worker starts."""
        integers = np.asarray(y).dtype.kind in "biu"
        X, y = super().validate(X, y)
        X = X.astype(self._numpy_dtype)
        if not self._classes:  # a custom loss_fn gets integer labels as int64, as given
            y = y.astype(np.int64 if integers and self._loss is not None else self._numpy_dtype)
        self._probe(X[:2], y[:2])
        return X, y

    def _probe(self, X, y):
        w = self.init_weights(X, y)
        try:
            values = [
                self.value_and_gradient(w, X[i : i + 1], y[i : i + 1])[0] for i in range(len(X))
            ]
            both = self.value_and_gradient(w, X, y)[0]
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - torch's own error, named for the user
            raise ValueError(
                f"Argument 'model' failed on the first rows of 'X' ({describe(X)}) and 'y': {exc}"
            ) from exc
        if len(X) == 2 and not np.isclose(both, sum(values), rtol=1e-4, atol=1e-6):
            raise ValueError(
                f"Argument 'loss_fn' must sum over rows (reduction='sum'): on the first two "
                f"rows it gives {both:.6g}, not the sum {values[0]:.6g} + {values[1]:.6g}."
            )

    def _check_labels(self, y):
        if self._classes:
            if y.ndim != 1 or (y != np.round(y)).any() or (y < 0).any():
                raise ValueError(
                    f"Argument 'y' must be a vector of integer class labels 0, 1, 2, ... for "
                    f"cross_entropy, not values {np.unique(y)[:5].tolist()} of shape {y.shape}."
                )
            return y.astype(np.int64)
        return y

    @property
    def _numpy_dtype(self):
        return np.dtype(str(self.dtype).removeprefix("torch."))

    @property
    def wire_dtype(self) -> np.dtype:
        """The parameters' dtype: the broadcast model and the messages travel in it."""
        return self._numpy_dtype

    def init_weights(self, X, y):
        """The module's trainable parameters, flattened (a copy)."""
        torch = _torch()
        with torch.no_grad():
            params = dict(self.module.named_parameters())
            return torch.cat([params[n].reshape(-1) for n in self._names]).numpy().copy()

    # -- value, gradient, predictions -------------------------------------------------------
    def _parameters(self, w, requires_grad: bool):
        """A leaf tensor of ``w`` in the model's dtype and views of it shaped as parameters."""
        torch = _torch()
        flat = torch.tensor(np.asarray(w), dtype=self.dtype, requires_grad=requires_grad)
        params = dict(self.module.named_parameters())
        views, start = {}, 0
        for name in self._names:
            size = params[name].numel()
            views[name] = flat[start : start + size].view_as(params[name])
            start += size
        return flat, views

    def _forward(self, views, X):
        torch = _torch()
        return torch.func.functional_call(self._own_module(), views, (torch.as_tensor(X),))

    def _sum(self, output, y):
        torch = _torch()
        target = torch.as_tensor(y)
        if self._loss is not None:
            return self._loss(output, target)
        if self._classes:
            return torch.nn.functional.cross_entropy(output, target, reduction="sum")
        return torch.nn.functional.mse_loss(output.reshape(target.shape), target, reduction="sum")

    def value_and_gradient(self, w, X, y):
        """``Σ_j ℓ(f_w(x_j), y_j)`` and its gradient in ``w``: one forward and one backward
        pass (an array in the parameters' dtype)."""
        torch = _torch()
        flat, views = self._parameters(w, requires_grad=True)
        value = self._sum(self._forward(views, X), y)
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else None
            raise ValueError(
                f"Argument 'loss_fn' must return a scalar tensor (a sum over rows), not "
                f"{f'a tensor of shape {shape}' if shape is not None else describe(value)}."
            )
        (gradient,) = torch.autograd.grad(value, flat)
        return float(value.detach()), gradient.numpy()

    def predict(self, w, X) -> np.ndarray:
        """The module's output on the rows of ``X`` at the weights ``w`` (no gradient)."""
        torch = _torch()
        with torch.no_grad():
            _, views = self._parameters(w, requires_grad=False)
            X = np.asarray(X, dtype=self._numpy_dtype)
            return self._forward(views, X).numpy()


def _build(model):
    torch = _torch()
    if isinstance(model, torch.nn.Module):
        return model
    if isinstance(model, Mapping) and "type" in model:
        kind = model["type"]
        if kind not in MODELS and ":" not in str(kind):
            raise ValueError(
                f"Argument 'model.type' must be one of {sorted(MODELS)} or a "
                f"'module:function' path, not {kind!r}."
            )
        builder = MODELS[kind] if kind in MODELS else resolve_function(kind, "model.type")
        module = builder(**{k: v for k, v in model.items() if k != "type"})
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"Argument 'model' builder {kind!r} must return a torch.nn.Module, "
                f"not {describe(module)}."
            )
        return module
    raise TypeError(
        f"Argument 'model' must be a torch.nn.Module or a config mapping with a 'type' "
        f"({sorted(MODELS)} or 'module:function'), not {describe(model)}."
    )
