"""MatDot codes for ``A @ B``: the inner dimension is split, any ``2c − 1`` products decode.

With ``c = inner_blocks``, each worker holds 1/c of the columns of ``A`` and of the rows of
``B``; every product is full size (m × q for ``A`` m × inner and ``B`` inner × q), and
``A @ B = Σ_j A_j B_j`` is the middle coefficient of ``Ã(x) B̃(x)`` with
``Ã(x) = Σ_j A_j x^j``, ``B̃(x) = Σ_j B_j x^{c−1−j}``.

Over the reals the blocks are paired, ``C_j = A_{2j} + i A_{2j+1}`` (columns of A) and
``E_j = B_{2j} + i B_{2j+1}`` (rows of B), and worker i holds ``Ã(x_i) = Σ_j C_j x_i^j`` as
``[Re, Im]`` and ``B̃(x_i) = Σ_j E_j x_i^j`` as ``[Re; Im]`` at the root of unity
``x_i = e^{iθ_i}``, ``θ_i = 2π i/n``. Its real product is

    Re Ã Re B̃ + Im Ã Im B̃ = Re F(x_i),   F(x) = Ã(x) conj(B̃(x)) = Σ_{j,l} C_j conj(E_l) x^{j−l},

and ``Re F_0 = Re Σ_j C_j conj(E_j) = A @ B``. As a function of θ,
``Re F = Re F_0 + Σ_{t=1}^{c−1} (α_t cos tθ + β_t sin tθ)``: a real trigonometric
interpolation with ``2c − 1`` unknowns (the MatDot threshold), whose system rows
``[1, cos θ_i, sin θ_i, …, cos (c−1)θ_i, sin (c−1)θ_i]`` are a DFT submatrix in disguise.
Decoding needs only the first row of its inverse.

References:
    S. Dutta, M. Fahim, F. Haddadpour, H. Jeong, V. Cadambe, P. Grover, "On the optimal
    recovery threshold of coded matrix multiplication", IEEE T-IT 2020, arXiv:1801.10292.
"""

from __future__ import annotations

import numpy as np

from . import _blocks
from .byzantine import Linear
from .polynomial import _ProductCode

__all__ = ["MatDotCode"]


class MatDotCode(_ProductCode):
    """MatDot code for ``A @ B``: any ``2c − 1`` of n workers' products give the result.

    Args:
        n: number of workers.
        inner_blocks: blocks of the inner dimension (``c``); each worker holds 1/c of the
            columns of ``A`` and of the rows of ``B``.
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    >>> import numpy as np
    >>> code = MatDotCode(n=5, inner_blocks=2)
    >>> A, B = np.arange(15.0).reshape(3, 5), np.arange(10.0).reshape(5, 2)
    >>> pairs = code.encode(A, B)
    >>> C = code.decode({i: pairs[i][0] @ pairs[i][1] for i in (1, 3, 4)})
    >>> np.allclose(C, A @ B)
    True

    References:
        S. Dutta et al., IEEE T-IT 2020, arXiv:1801.10292.
    """

    _params = ("n", "inner_blocks", "field")

    def __init__(self, n: int, inner_blocks: int, field="real"):
        super().__init__(n, field, inner_blocks=inner_blocks)

    def _real_scheme(self):
        return _Trigonometric(self.n, self._inner)


class _Trigonometric:
    """MatDot at the roots of unity with complex-paired blocks (module docstring)."""

    def __init__(self, n: int, c: int):
        self.c = c
        self._generator = _blocks.unit_circle(n)[:, None] ** np.arange(c)
        angles = 2 * np.pi * (np.outer(np.arange(n), np.arange(1, c)) % n) / n
        waves = np.stack([np.cos(angles), np.sin(angles)], axis=2).reshape(n, 2 * (c - 1))
        self._system = np.hstack([np.ones((n, 1)), waves])

    def system(self, used):
        return self._system[list(used)]

    def linear(self, used):
        """A product is ``Re F(x_i)``: the trigonometric system's row times the coefficients."""
        return Linear(used, self.system(used)[:, None, :])

    def encode(self, A, B):
        shares_a = _blocks.encode_paired(self._generator, A, axis=1)  # Σ_j C_j x^j, columns of A
        shares_b = _blocks.encode_paired(self._generator, B, axis=0)  # Σ_j E_j x^j, rows of B
        return shares_a, shares_b, (A.shape[0], B.shape[1])

    def decode(self, results, used, inverse):
        return np.tensordot(inverse[:1], results, axes=1)[None]
