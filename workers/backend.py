"""Array backends a worker computes with: numpy on CPU, CuPy or torch on a GPU.

The backend follows what the worker was given (GPU ids assigned to its actor), never a
global flag. GPU libraries are imported only when a GPU backend is built, so a CPU
worker never pays for them. Shards move to the device once (``to_device`` at load);
results come back to the host as numpy arrays.

>>> backend = select_backend(gpu_ids=[])
>>> backend.name
'numpy'
>>> a, b = backend.to_device([[1.0, 2.0]]), backend.to_device([[3.0], [4.0]])
>>> backend.to_host(backend.matmul(a, b))
array([[11.]])
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import numpy as np

__all__ = ["Backend", "NumpyBackend", "CupyBackend", "TorchBackend", "select_backend", "BACKENDS"]


class Backend:
    """Where a worker's operands live and how it multiplies them."""

    name = "abstract"

    def to_device(self, x):
        """Move a host array to the backend's device (once per shard)."""
        raise NotImplementedError

    def matmul(self, a, b):
        raise NotImplementedError

    def to_host(self, x) -> np.ndarray:
        """Bring a result back as a numpy array (waits for the device)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class NumpyBackend(Backend):
    name = "numpy"

    def to_device(self, x):
        return np.asarray(x)

    def matmul(self, a, b):
        return a @ b

    def to_host(self, x) -> np.ndarray:
        return np.asarray(x)


class CupyBackend(Backend):
    """CuPy on the GPU Ray assigned to the actor (it sees only that device)."""

    name = "cupy"

    def __init__(self):
        self._cp = importlib.import_module("cupy")

    def to_device(self, x):
        return self._cp.asarray(x)

    def matmul(self, a, b):
        return a @ b

    def to_host(self, x) -> np.ndarray:
        return self._cp.asnumpy(x)


class TorchBackend(Backend):
    """torch on ``cuda`` (the GPU Ray assigned to the actor)."""

    name = "torch"

    def __init__(self, device: str = "cuda"):
        self._torch = importlib.import_module("torch")
        self._device = device

    def to_device(self, x):
        return self._torch.as_tensor(np.asarray(x), device=self._device)

    def matmul(self, a, b):
        return a @ b

    def to_host(self, x) -> np.ndarray:
        return x.detach().cpu().numpy()


BACKENDS = {"numpy": NumpyBackend, "cupy": CupyBackend, "torch": TorchBackend}


def select_backend(name: str | None = None, gpu_ids: Sequence = ()) -> Backend:
    """The backend for a worker: ``name`` if given, else CuPy or torch when it has GPUs, else numpy.

    Args:
        name: ``"numpy"``, ``"cupy"``, ``"torch"``, or None to choose from ``gpu_ids``.
        gpu_ids: the GPUs assigned to the worker (``ray.get_gpu_ids()`` in an actor).
    """
    if name is not None:
        if name not in BACKENDS:
            raise ValueError(f"Argument 'name' must be one of {sorted(BACKENDS)}, not {name!r}.")
        return BACKENDS[name]()
    if not gpu_ids:
        return NumpyBackend()
    for candidate in ("cupy", "torch"):
        try:
            return BACKENDS[candidate]()
        except ImportError:
            continue
    raise ImportError(
        f"the worker was given GPUs {list(gpu_ids)} but neither cupy nor torch is installed; "
        f"install coded-runtime[gpu] or coded-runtime[torch], or ask for num_gpus_per_worker=0"
    )
