"""coded: straggler-tolerant coded computing.

The codes live here (numpy and galois only); the Ray runtime is loaded on first use of
``coded.matmul`` / ``coded.Runtime`` so that ``import coded`` stays fast and Ray-free.
"""

from __future__ import annotations

from ._code import Code, code_from_config
from .errors import CodedError, IllConditionedError, NotDecodableError, NotEncodedError
from .fields import PrimeField, RealField, as_field, gf_matmul
from .mds import MDSCode

__version__ = "0.1.0"

__all__ = [
    "Code",
    "CodedError",
    "IllConditionedError",
    "MDSCode",
    "NotDecodableError",
    "NotEncodedError",
    "PrimeField",
    "RealField",
    "as_field",
    "code_from_config",
    "gf_matmul",
]
