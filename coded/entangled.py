"""Entangled polynomial codes for ``A @ B``: split rows, inner dimension and columns.

``A`` is cut into ``a × c`` blocks and ``B`` into ``c × b`` (``c = inner_blocks``); each
worker holds 1/(ac) of ``A`` and 1/(cb) of ``B``, and any ``c a b + c − 1`` products decode
(construction in :mod:`coded.polynomial`). Over GF(p) this is exact for every shape.

Over the reals the cases ``c = 1`` (a polynomial code) and ``a = b = 1`` (a MatDot code)
use the stable roots-of-unity constructions of :class:`~coded.PolynomialCode` and
:class:`~coded.MatDotCode`. No such construction is known for the general case: the
complex packing either folds exponents ``±t`` together or misaligns the inner sums. The
general case therefore evaluates the monomial construction at the Chebyshev points
``x_i = cos((2i + 1)π / 2n)``, whose decoding systems are real Vandermonde matrices with
a condition number that grows exponentially with the threshold K = c a b + c − 1.
Measured worst case over every set of K responses: 3.4e2 for K = 5 of n = 8, 2.2e5 for
K = 15 of n = 16, 2.9e11 for K = 31 of n = 32, i.e. about (1 + √2)^{K−1}; exponential
growth is unavoidable for real points (Gautschi & Inglese, Numer. Math. 1988), Chebyshev
points only keep the base small. The relative error is about ``cond · eps`` (float64:
1e-11 at K = 15, 2e-4 at K = 31). Decoding refuses, with :class:`~coded.IllConditionedError`,
any system whose error bound ``cond · eps`` exceeds the code's ``accuracy``, 1e-3 by default
(:mod:`coded.conditioning`; float64: cond > 4.5e12; float32:
cond > 8.4e3, i.e. K ≳ 9) rather than return garbage: use the exact field, or a polynomial
or MatDot code, beyond.

References:
    Q. Yu, M. A. Maddah-Ali, A. S. Avestimehr, "Straggler mitigation in distributed matrix
    multiplication: fundamental limits and optimal coding", IEEE T-IT 2020, arXiv:1801.07487.
    M. Fahim, V. Cadambe, "Numerically stable polynomially coded computing",
    IEEE T-IT 2021, arXiv:1903.08326 (why real points: Chebyshev grids).
"""

from __future__ import annotations

import numpy as np

from .matdot import _Trigonometric
from .polynomial import _Monomial, _Paired, _ProductCode

__all__ = ["EntangledPolynomialCode"]


class EntangledPolynomialCode(_ProductCode):
    """Entangled polynomial code for ``A @ B``: any ``c a b + c − 1`` products decode.

    Args:
        n: number of workers.
        a_blocks: row blocks of ``A`` (``a``).
        b_blocks: column blocks of ``B`` (``b``).
        inner_blocks: blocks of the inner dimension (``c``).
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    >>> import numpy as np
    >>> code = EntangledPolynomialCode(n=10, a_blocks=2, b_blocks=2, inner_blocks=2, field=65537)
    >>> A, B = np.arange(12).reshape(3, 4), np.arange(20).reshape(4, 5)
    >>> pairs = code.encode(A, B)
    >>> C = code.decode({i: pairs[i][0] @ pairs[i][1] % 65537 for i in range(1, 10)})
    >>> bool((C == A @ B).all())
    True

    References:
        Q. Yu, M. A. Maddah-Ali, A. S. Avestimehr, IEEE T-IT 2020, arXiv:1801.07487.
    """

    _params = ("n", "a_blocks", "b_blocks", "inner_blocks", "field")

    def __init__(self, n: int, a_blocks: int, b_blocks: int, inner_blocks: int, field="real"):
        super().__init__(n, field, a_blocks=a_blocks, b_blocks=b_blocks, inner_blocks=inner_blocks)

    def _real_scheme(self):
        if self._inner == 1:
            return _Paired(self.n, self._a, self._b)
        if self._a == self._b == 1:
            return _Trigonometric(self.n, self._inner)
        points = np.cos((2 * np.arange(self.n) + 1) * np.pi / (2 * self.n))
        return _Monomial(self.field, points, self._a, self._b, self._inner)
