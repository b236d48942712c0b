"""Closed forms the simulator must reproduce: order statistics of exponential delays.

If ``X_1..X_n`` are i.i.d. exponential with mean 1/μ, the gaps between consecutive order
statistics are independent exponentials of rates nμ, (n−1)μ, ... (Rényi), so

    E[X(k:n)]   = (1/μ)  · Σ_{i=n−k+1}^{n} 1/i,
    Var[X(k:n)] = (1/μ²) · Σ_{i=n−k+1}^{n} 1/i².

Lee et al.'s shifted-exponential model gives a worker with 1/k of the work the time
``(1/k)(1 + Exp(μ))``, so the MDS latency (k-th of n) has mean and variance

    E[T] = (1/k) · (1 + (H_n − H_{n−k}) / μ),     Var[T] = Var[X(k:n)] / k².

References:
    K. Lee, M. Lam, R. Pedarsani, D. Papailiopoulos, K. Ramchandran, "Speeding up
    distributed machine learning using codes", IEEE T-IT 2018, arXiv:1512.02673.
    H. A. David, H. N. Nagaraja, "Order Statistics", 3rd ed., Wiley 2003 (Rényi's
    representation).
"""

from __future__ import annotations

import numpy as np

from coded.checks import check_int

__all__ = [
    "exponential_order_mean",
    "exponential_order_variance",
    "shifted_exponential_mean",
    "shifted_exponential_variance",
]


def _inverse_powers(k: int, n: int, power: int) -> float:
    n = check_int(n, "n", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=n, maximum_name="n")
    return float(np.sum(1.0 / np.arange(n - k + 1, n + 1, dtype=np.float64) ** power))


def exponential_order_mean(k: int, n: int, rate: float = 1.0) -> float:
    """``E[X(k:n)]`` for i.i.d. exponential delays of rate μ.

    >>> round(exponential_order_mean(1, 4, rate=2.0), 4)   # minimum of 4: rate 8
    0.125
    """
    return _inverse_powers(k, n, 1) / rate


def exponential_order_variance(k: int, n: int, rate: float = 1.0) -> float:
    """``Var[X(k:n)]`` for i.i.d. exponential delays of rate μ.

    >>> exponential_order_variance(1, 1, rate=2.0)
    0.25
    """
    return _inverse_powers(k, n, 2) / rate**2


def shifted_exponential_mean(k: int, n: int, rate: float = 1.0) -> float:
    """Expected latency of an (n, k) MDS code under Lee et al.'s model (unit total work).

    >>> round(shifted_exponential_mean(10, 10), 3)   # uncoded: (1 + H_10) / 10
    0.393
    """
    return (1.0 + exponential_order_mean(k, n, rate)) / k


def shifted_exponential_variance(k: int, n: int, rate: float = 1.0) -> float:
    """Variance of that latency: ``Var[X(k:n)] / k²``.

    >>> shifted_exponential_variance(1, 1)
    1.0
    """
    return exponential_order_variance(k, n, rate) / k**2
