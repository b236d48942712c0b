"""T-private polynomial codes for ``A @ B`` over GF(p): any T colluding workers learn nothing.

``A`` is cut into ``a`` row blocks and ``B`` into ``b`` column blocks; T uniformly random mask
blocks ``R_1..R_T`` (shaped like A's blocks) and ``S_1..S_T`` (like B's) join them, and worker i
(point ``x_i = i + 1``) receives

    Ã(x_i) = Σ_{j<a} A_j x_i^{α_j} + Σ_{t<T} R_t x_i^{α_{a+t}},
    B̃(x_i) = Σ_{l<b} B_l x_i^{β_l} + Σ_{t<T} S_t x_i^{β_{b+t}},

and returns ``Ã(x_i) B̃(x_i)``, a value of the product polynomial of degree ``max α + max β``.
The exponents make every ``α_j + β_l`` (j < a, l < b) a sum that no other pair of blocks or
masks reaches, so block ``(j, l)`` of ``A @ B`` is the coefficient of ``x^{α_j + β_l}``: any
``N = max α + max β + 1`` responses decode (an N × N Vandermonde system at distinct points).
Of the three layouts below the code takes the one of least degree:

* ``A`` at stride 1, ``B`` at stride ``a + T``: ``α = 0..a+T−1``,
  ``β = (0, a+T, …, (a+T)(b−1))`` then ``(a+T)(b−1) + a + t``: ``N = (a+T)(b+1) − 1``;
* the same with the roles of A and B swapped: ``N = (b+T)(a+1) − 1``;
* masks aligned past the data: ``α = (0..a−1, ab..ab+T−1)``, ``β = (0, a, …, a(b−1),
  ab..ab+T−1)``: ``N = 2ab + 2T − 1``.

With ``K = max(a, b)`` and ``L = min(a, b)``, and T ≥ 1, the threshold is therefore

    N = (K + T)(L + 1) − 1   if T < K,        N = 2KL + 2T − 1   if T ≥ K,

the number of servers of the GASP_big codes of D'Oliveira, El Rouayheb and Karpuk (Theorem 3
of the T-IT paper), here with exponents that fill 0..N−1 so that *every* set of N distinct
points decodes (the gaps of GASP's own exponents need chosen points); T = 0 is the polynomial
code of Yu et al., N = ab. (Their GASP_small codes need fewer servers when T < min(a, b),
with gaps; not implemented here.)

**Privacy.** The masks of each operand sit at T consecutive exponents ``e..e+T−1``, so the
shares of any T workers are ``data + M · masks`` with ``M[i, t] = x_i^{e+t}``; ``det M =
Π x_i^e · Vandermonde(x_i) ≠ 0`` for distinct nonzero points. For each data value, the T
workers' shares are thus a bijection of the uniformly random masks: uniform, and the same
for every A and B (the shapes are all they learn). Masks come from the operating system's
cryptographic generator (``os.urandom``) unless ``encode`` is given a seed (a reproducible
numpy generator, for tests).

Real matrices are quantised into GF(p) first (:class:`~coded.quantize.QuantizedProduct`);
:func:`private_matmul` does both and states the error.

References:
    R. G. L. D'Oliveira, S. El Rouayheb, D. Karpuk, "GASP codes for secure distributed
    matrix multiplication", IEEE T-IT 66(7), 2020, arXiv:1812.09962.
    Q. Yu, M. A. Maddah-Ali, A. S. Avestimehr, "Polynomial codes", NeurIPS 2017,
    arXiv:1705.10464; Q. Yu et al., "Lagrange coded computing", AISTATS 2019, arXiv:1806.00939.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import _blocks
from ._code import Code
from .checks import check_int
from .fields import gf_matmul
from .quantize import QuantizedProduct

__all__ = ["PrivatePolynomialCode", "PrivateProduct", "private_matmul"]


@dataclass(frozen=True)
class _Layout:
    rows: int  # rows of A
    cols: int  # columns of B
    response: tuple[int, int]  # shape of one worker's product


class PrivatePolynomialCode(Code):
    """Polynomial code for ``A @ B`` over GF(p) that keeps A and B private from any T workers.

    Each worker holds 1/a of the rows of ``A`` and 1/b of the columns of ``B`` (masked) and
    does 1/(ab) of the work; any ``recovery_threshold`` products decode (see the module
    docstring for the construction and the formula).

    Args:
        n: number of workers (at most p − 1: the points are 1..n).
        a_blocks: row blocks of ``A`` (``a``).
        b_blocks: column blocks of ``B`` (``b``).
        privacy: T, how many colluding workers learn nothing about ``A`` and ``B``.
        field: the prime p (or galois ``GF(p)``); operands are integers in [0, p).

    >>> import numpy as np
    >>> from coded import gf_matmul
    >>> code = PrivatePolynomialCode(n=8, a_blocks=2, b_blocks=1, privacy=2, field=65537)
    >>> code.recovery_threshold, code.exponents  # 2ab + 2T - 1 = (a + T)(b + 1) - 1 = 7
    (7, ((0, 1, 2, 3), (0, 2, 3)))
    >>> A, B = np.arange(12).reshape(4, 3), np.arange(6).reshape(3, 2)
    >>> pairs = code.encode(A, B, rng=0)
    >>> C = code.decode({i: gf_matmul(a, b, 65537) for i, (a, b) in enumerate(pairs) if i != 5})
    >>> bool((C == A @ B).all())
    True

    References:
        R. G. L. D'Oliveira, S. El Rouayheb, D. Karpuk, IEEE T-IT 2020, arXiv:1812.09962.
    """

    operands = 2
    _params = ("n", "a_blocks", "b_blocks", "privacy", "field")

    def __init__(self, n: int, a_blocks: int, b_blocks: int, privacy: int, field=65537):
        super().__init__(n, field)
        if not self.field.exact:
            raise ValueError(
                f"Argument 'field' must be a prime p (random masks need a finite field; "
                f"quantise real inputs with coded.QuantizedProduct), not {self.field.spec()!r}."
            )
        self._a = check_int(a_blocks, "a_blocks", minimum=1)
        self._b = check_int(b_blocks, "b_blocks", minimum=1)
        self._privacy = check_int(privacy, "privacy", minimum=0)
        p = self.field.p
        if self.n > p - 1:
            raise ValueError(
                f"Argument 'n' must be at most p - 1 = {p - 1} over {self.field.name} "
                f"(the points 1..n are distinct and nonzero), not {self.n}."
            )
        self._alpha, self._beta = _exponents(self._a, self._b, self._privacy)
        self._threshold = int(self._alpha.max() + self._beta.max()) + 1
        if self._threshold > self.n:
            raise ValueError(
                f"Argument 'n' must be at least the recovery threshold {self._threshold}, "
                f"not {self.n}."
            )
        points = np.arange(1, self.n + 1)
        self._generator_a = _powers(points, self._alpha, p)
        self._generator_b = _powers(points, self._beta, p)
        self._vandermonde = _powers(points, range(self._threshold), p)
        self._wanted = (np.add.outer(self._alpha[: self._a], self._beta[: self._b])).ravel()

    @property
    def a_blocks(self) -> int:
        """Row blocks of ``A``: each worker holds 1/a of its rows."""
        return self._a

    @property
    def b_blocks(self) -> int:
        """Column blocks of ``B``: each worker holds 1/b of its columns."""
        return self._b

    @property
    def privacy(self) -> int:
        """T: any T workers' shares are independent of ``A`` and ``B``."""
        return self._privacy

    @property
    def exponents(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(α, β)``: the exponents of A's a blocks then its T masks, and of B's b blocks
        then its T masks (the degree table of the GASP paper is ``α_j + β_l``)."""
        return tuple(self._alpha.tolist()), tuple(self._beta.tolist())

    @property
    def points(self) -> np.ndarray:
        """The evaluation points ``x_i = i + 1`` of the n workers."""
        return np.arange(1, self.n + 1)

    @property
    def recovery_threshold(self) -> int:
        return self._threshold

    @property
    def work_share(self) -> float:
        """1/(a·b): a worker multiplies 1/a of the rows of ``A`` by 1/b of the columns of ``B``."""
        return 1 / (self._a * self._b)

    @property
    def storage(self) -> tuple[float, float]:
        """``(1/a, 1/b)``: one masked row block of ``A`` and one masked column block of ``B``."""
        return (1 / self._a, 1 / self._b)

    def encode(self, A, B, rng=None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Encode ``A`` (m × inner) and ``B`` (inner × q): worker i gets the pair ``(A_i, B_i)``.

        Args:
            A, B: integer matrices with entries in [0, p).
            rng: None (the masks come from ``os.urandom``), or a seed or numpy
                ``Generator`` for reproducible masks (tests: numpy's generators are not
                cryptographic).
        """
        A, B = self.field.validate(A, "A", ndim=(2,)), self.field.validate(B, "B", ndim=(2,))
        if A.shape[1] != B.shape[0]:
            raise ValueError(
                f"Arguments 'A' and 'B' must have matching inner dimensions: "
                f"A has shape {A.shape}, B has shape {B.shape}."
            )
        p, t = self.field.p, self._privacy
        blocks_a = _blocks.split(A, self._a, axis=0)  # (a, rows / a, inner)
        blocks_b = _blocks.split(B, self._b, axis=1)  # (b, inner, cols / b)
        generator = None if rng is None else np.random.default_rng(rng)
        masks_a = _uniform(generator, p, (t,) + blocks_a.shape[1:])
        masks_b = _uniform(generator, p, (t,) + blocks_b.shape[1:])
        shares_a = self.field.combine(self._generator_a, np.concatenate([blocks_a, masks_a]))
        shares_b = self.field.combine(self._generator_b, np.concatenate([blocks_b, masks_b]))
        response = (blocks_a.shape[1], blocks_b.shape[2])
        self.layout_ = _Layout(A.shape[0], B.shape[1], response)
        return list(zip(shares_a, shares_b, strict=True))

    def _response_shape(self):
        """The shape of one worker's product ``A_i @ B_i``."""
        return self.layout_.response

    def _decode(self, responses):
        layout = self.layout_
        results = self._stack(responses)
        if results.ndim != 3:
            raise ValueError(
                f"responses must be 2-D products of shape {layout.response}, "
                f"not {results.ndim - 1}-D"
            )
        used = tuple(responses)
        inverse = self._decoder(used, lambda workers: self._vandermonde[list(workers)])
        blocks = self.field.combine(inverse[self._wanted], results % self.field.p)
        rows, cols = layout.response
        product = blocks.reshape(self._a, self._b, rows, cols).transpose(0, 2, 1, 3)
        return product.reshape(self._a * rows, self._b * cols)[: layout.rows, : layout.cols]


def _exponents(a: int, b: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """``(α, β)`` of the layout of least degree (module docstring), data before masks."""

    def strided(k: int, m: int):  # k blocks at stride 1, m blocks at stride k + t
        first = list(range(k + t))
        second = [(k + t) * j for j in range(m)] + [(k + t) * (m - 1) + k + s for s in range(t)]
        return first, second

    aligned = (
        list(range(a)) + [a * b + s for s in range(t)],
        [a * j for j in range(b)] + [a * b + s for s in range(t)],
    )
    layouts = [strided(a, b), strided(b, a)[::-1], aligned]
    alpha, beta = min(layouts, key=lambda layout: max(layout[0]) + max(layout[1]))
    return np.array(alpha, dtype=np.int64), np.array(beta, dtype=np.int64)


def _powers(points: np.ndarray, exponents, p: int) -> np.ndarray:
    """``out[i, e] = points[i] ** exponents[e] mod p``."""
    return np.array([[pow(int(x), int(e), p) for e in exponents] for x in points], np.int64)


def _uniform(generator: np.random.Generator | None, p: int, shape: tuple[int, ...]) -> np.ndarray:
    """A uniform array over [0, p) from ``generator``, or, when None, from ``os.urandom``:
    32-bit words at or above the largest multiple of p below 2^32 are redrawn (probability
    below p / 2^32 each), the rest reduced mod p."""
    if generator is not None:
        return generator.integers(0, p, shape, dtype=np.int64)
    size = int(np.prod(shape))
    limit = (2**32 // p) * p
    words = np.frombuffer(os.urandom(4 * size), dtype=np.uint32).astype(np.int64)
    while (redraw := words >= limit).any():
        words[redraw] = np.frombuffer(os.urandom(4 * int(redraw.sum())), dtype=np.uint32)
    return (words % p).reshape(shape)


@dataclass(frozen=True)
class PrivateProduct:
    """What :func:`private_matmul` returns.

    Attributes:
        value: the de-quantised ``A @ B`` (float64).
        error_bound: every entry of ``value`` is within it of the exact ``A @ B``
            (:class:`~coded.quantize.QuantizedProduct`'s ``ε``).
        scale_bits: the fixed-point scale ``l`` the inputs were multiplied by (``2^l``).
        code: the code the product ran with.
        metrics: the round's :class:`~coded.RoundMetrics` on a runtime, else None.
    """

    value: np.ndarray
    error_bound: float
    scale_bits: int
    code: PrivatePolynomialCode
    metrics: object = None


def private_matmul(
    A,
    B,
    *,
    privacy: int,
    n: int | None = None,
    a_blocks: int = 1,
    b_blocks: int = 1,
    field=2**31 - 1,
    scale_bits: int | None = None,
    runtime=None,
    rng=None,
) -> PrivateProduct:
    """``A @ B`` of real matrices on n workers of which no T colluding ones learn anything.

    The inputs are quantised into GF(p) (:class:`~coded.quantize.QuantizedProduct`: the
    overflow bound is checked, the error bound returned), encoded with a
    :class:`PrivatePolynomialCode` and multiplied on the workers of ``runtime`` in one coded
    round, or, without one, by ``recovery_threshold`` simulated workers in this process.
    For operands already in GF(p), run the code itself: ``runtime.matmul(A, B, code=code)``.

    Args:
        A, B: real matrices (finite).
        privacy: T.
        n: number of workers (default: the runtime's).
        a_blocks, b_blocks: row blocks of ``A``, column blocks of ``B``.
        field: the prime p; ``2^31 − 1`` (the default, the largest supported) leaves the
            most room for the fixed-point scale.
        scale_bits: ``l`` (inputs scaled by ``2^l``); None: the largest that cannot overflow.
        runtime: a :class:`~coded.Runtime` of n workers; None computes in this process.
        rng: seed for the masks of the in-process path (tests); None: ``os.urandom``.

    >>> import numpy as np
    >>> A, B = np.array([[0.5, -0.25], [1.0, 2.0]]), np.array([[0.1], [-3.0]])
    >>> out = private_matmul(A, B, n=6, privacy=2)
    >>> out.code.recovery_threshold, out.scale_bits
    (5, 13)
    >>> bool(np.abs(out.value - A @ B).max() <= out.error_bound < 1e-4)
    True
    """
    if n is None:
        if runtime is None:
            raise ValueError("Argument 'n' must be given when there is no runtime.")
        n = runtime.n
    code = PrivatePolynomialCode(n, a_blocks, b_blocks, privacy, field)
    product = QuantizedProduct(A, B, field=code.field, scale_bits=scale_bits)
    metrics = None
    if runtime is None:
        pairs = code.encode(product.a, product.b, rng=rng)
        p = code.field.p
        workers = range(code.recovery_threshold)
        C = code.decode({i: gf_matmul(*pairs[i], p, check=False) for i in workers})
    else:
        if rng is not None:
            raise ValueError(
                f"Argument 'rng' must be None with a runtime (its masks come from os.urandom), "
                f"not {rng!r}."
            )
        C, metrics = runtime.matmul(product.a, product.b, code=code, return_metrics=True)
    return PrivateProduct(
        product.dequantize(C), product.error_bound, product.scale_bits, code, metrics
    )
