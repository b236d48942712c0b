"""coded: straggler-tolerant coded computing.

The codes, losses and optimisers live here (numpy and galois only); the Ray runtime is
loaded on first use of ``coded.matmul`` / ``coded.Runtime`` / ``coded.train`` /
``coded.solve_saddle``, so that ``import coded`` stays fast and Ray-free.
"""

from __future__ import annotations

from pathlib import Path as _Path

# Installed, ``coded.workers`` and ``coded.scheduler`` are subpackages: setuptools maps the
# repository's top-level workers/ and scheduler/ folders there. In a source checkout that is
# not installed (a Ray job's working_dir on a node without coded), those folders sit beside
# this one, and the package's search path takes them in.
_checkout = _Path(__file__).resolve().parent.parent
if (
    not (_checkout / "coded" / "workers").is_dir()
    and (_checkout / "workers" / "worker.py").is_file()
):
    __path__.append(str(_checkout))
del _Path, _checkout

from ._code import Code, code_from_config
from .berrut import BerrutCode
from .byzantine import Correction
from .chunked import ChunkedMDSCode
from .compression import (
    NUQSGD,
    QSGD,
    AdaptiveQuantizer,
    Diana,
    ErrorFeedback,
    QuantizedMessage,
    SparseMessage,
    TopK,
)
from .entangled import EntangledPolynomialCode
from .errors import (
    BadResponseError,
    CodedError,
    DivergedError,
    IllConditionedError,
    NotDecodableError,
    NotEncodedError,
    UncorrectableError,
)
from .fields import PrimeField, RealField, as_field, gf_matmul
from .gradient import GradientCode
from .ignore import IgnoreStragglers
from .lagrange import LagrangeCode
from .losses import CustomLoss, LeastSquaresLoss, LogisticLoss, Loss, SoftmaxLoss
from .matdot import MatDotCode
from .mds import MDSCode
from .nn import TorchLoss
from .optim import GD, SGD, Adam, Momentum, Nesterov, NewtonCG, Optimizer, SketchedNewton
from .polynomial import PolynomialCode
from .private import PrivatePolynomialCode, PrivateProduct, private_matmul
from .quantize import QuantizedProduct
from .replication import Replication

__version__ = "0.1.0"

# The runtime and what it hands back, loaded on first use (name -> module).
_LAZY = {
    "matmul": "coded.scheduler.api",
    "map": "coded.scheduler.api",
    "Approximate": "coded.scheduler.policy",
    "Runtime": "coded.scheduler.runtime",
    "CodedOperator": "coded.scheduler.runtime",
    "Job": "coded.scheduler.runtime",
    "ClosedError": "coded.scheduler.errors",
    "RoundMetrics": "coded.scheduler.metrics",
    "SchedulerError": "coded.scheduler.errors",
    "RoundFailedError": "coded.scheduler.errors",
    "RoundTimeoutError": "coded.scheduler.errors",
    "WorkerError": "coded.scheduler.errors",
    "train": "coded.scheduler.training.train",
    "TrainResult": "coded.scheduler.training.train",
    "History": "coded.scheduler.training.history",
    "power_iteration": "coded.scheduler.iterative",
    "pagerank": "coded.scheduler.iterative",
    "solve_saddle": "coded.scheduler.training.saddle",
    "SaddleResult": "coded.scheduler.training.saddle",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'coded' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Adam",
    "AdaptiveQuantizer",
    "Approximate",
    "BadResponseError",
    "BerrutCode",
    "ChunkedMDSCode",
    "ClosedError",
    "Code",
    "CodedError",
    "CodedOperator",
    "Correction",
    "CustomLoss",
    "Diana",
    "DivergedError",
    "EntangledPolynomialCode",
    "ErrorFeedback",
    "GD",
    "GradientCode",
    "History",
    "IgnoreStragglers",
    "IllConditionedError",
    "Job",
    "LagrangeCode",
    "LeastSquaresLoss",
    "LogisticLoss",
    "Loss",
    "MDSCode",
    "MatDotCode",
    "Momentum",
    "NUQSGD",
    "Nesterov",
    "NewtonCG",
    "NotDecodableError",
    "NotEncodedError",
    "Optimizer",
    "PolynomialCode",
    "PrimeField",
    "PrivatePolynomialCode",
    "PrivateProduct",
    "QSGD",
    "QuantizedMessage",
    "QuantizedProduct",
    "RealField",
    "Replication",
    "RoundFailedError",
    "RoundMetrics",
    "RoundTimeoutError",
    "Runtime",
    "SGD",
    "SaddleResult",
    "SchedulerError",
    "SketchedNewton",
    "SoftmaxLoss",
    "SparseMessage",
    "TopK",
    "TorchLoss",
    "TrainResult",
    "UncorrectableError",
    "WorkerError",
    "as_field",
    "code_from_config",
    "gf_matmul",
    "map",
    "matmul",
    "pagerank",
    "power_iteration",
    "private_matmul",
    "solve_saddle",
    "train",
]
