"""coded: straggler-tolerant coded computing.

The codes, losses and optimisers live here (numpy and galois only); the Ray runtime is
loaded on first use of ``coded.matmul`` / ``coded.Runtime`` / ``coded.train``, so that
``import coded`` stays fast and Ray-free.
"""

from __future__ import annotations

from ._code import Code, code_from_config
from .entangled import EntangledPolynomialCode
from .errors import CodedError, IllConditionedError, NotDecodableError, NotEncodedError
from .fields import PrimeField, RealField, as_field, gf_matmul
from .gradient import GradientCode
from .lagrange import LagrangeCode
from .losses import CustomLoss, LeastSquaresLoss, LogisticLoss, SoftmaxLoss
from .matdot import MatDotCode
from .mds import MDSCode
from .optim import GD, SGD, Momentum, Nesterov
from .polynomial import PolynomialCode

__version__ = "0.1.0"

# the Ray runtime, loaded on first use
_LAZY = {"matmul": "scheduler.api", "Runtime": "scheduler.api", "train": "scheduler.train"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'coded' has no attribute {name!r}")


__all__ = [
    "Code",
    "CodedError",
    "CustomLoss",
    "EntangledPolynomialCode",
    "GD",
    "GradientCode",
    "IllConditionedError",
    "LagrangeCode",
    "LeastSquaresLoss",
    "LogisticLoss",
    "MDSCode",
    "MatDotCode",
    "Momentum",
    "Nesterov",
    "NotDecodableError",
    "NotEncodedError",
    "PolynomialCode",
    "PrimeField",
    "Runtime",
    "RealField",
    "SGD",
    "SoftmaxLoss",
    "as_field",
    "code_from_config",
    "gf_matmul",
    "matmul",
    "train",
]
