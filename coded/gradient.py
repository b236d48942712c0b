"""Gradient codes: the sum of n partial gradients from any n − s of n workers.

The data is cut into n partitions; worker i holds the s + 1 partitions ``assignment[i]``,
computes their partial gradients ``g_j`` and sends one coded message

    m_i = Σ_{j ∈ assignment[i]} B[i, j] · g_j.

For every set S of n − s workers some vector ``a`` has ``aᵀ B_S = 1ᵀ``, so
``Σ_{i∈S} a_i m_i = Σ_j g_j``.

* ``fractional``: (s + 1) | n; workers form n/(s+1) groups of s + 1 that hold the same
  s + 1 partitions and send their plain sum. One worker of every group suffices.
* ``cyclic``: any n > s; worker i holds partitions i, i+1, …, i+s (mod n).
  Over the reals the rows of B are the shifts of the generator ``g(x)`` of a cyclic MDS code
  with s consecutive spectral zeros centred on n/2 (real because they are conjugate-symmetric;
  a negacyclic code, zeros at half-integer frequencies, when n − s is even), with its columns
  divided by the codeword ``v`` nearest to ``1`` so that ``1`` lies in the code. Every
  decoding system is then DFT-like: worst condition number over straggler sets ≤ 31 (n = 8),
  ≤ 5.3e2 (n = 16), ≤ 8.4e3 (n = 32) for s ≤ 4, within 1.6× of complex DFT coefficients,
  where one draw of Tandon's random construction reaches 4.7e3, 2.1e5 and 2.0e5.
  Over GF(p) column j of B is the monic polynomial vanishing at the points of the workers
  that lack partition j, evaluated at the points 0..n−1; a message is then a value of a
  polynomial of degree n − s − 1 whose leading coefficient is the sum of the gradients.

References:
    R. Tandon, Q. Lei, A. G. Dimakis, N. Karampatziakis, "Gradient coding: avoiding
    stragglers in distributed learning", ICML 2017, arXiv:1612.03301.
    N. Raviv, I. Tamo, R. Tandon, A. G. Dimakis, "Gradient coding from cyclic MDS codes and
    expander graphs", ICML 2018, arXiv:1707.03858.
    W. Halbawi, N. Azizan, F. Salehi, B. Hassibi, "Improving distributed gradient descent
    using Reed-Solomon codes", ISIT 2018, arXiv:1706.05436.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

from . import _blocks
from ._code import Code
from .byzantine import Linear
from .checks import check_choice, check_int
from .lagrange import barycentric_weights

__all__ = ["GradientCode"]

_SCHEMES = ("cyclic", "fractional")


class GradientCode(Code):
    """An (n, s) gradient code: the sum of n partial gradients from any n − s workers.

    Args:
        n: number of workers, and of data partitions.
        s: number of stragglers tolerated; each worker holds s + 1 partitions.
        scheme: ``"cyclic"`` (any n > s) or ``"fractional"`` (needs (s + 1) | n).
        field: ``"real"`` or a prime p (or galois ``GF(p)``) for exact arithmetic.

    No ``encode``: each worker turns its own partial gradients into its message with
    :meth:`combine`.

    >>> import numpy as np
    >>> code = GradientCode(n=4, s=1)
    >>> grads = {j: np.full(3, float(j)) for j in range(4)}
    >>> held = lambda i: {j: grads[j] for j in code.assignment[i]}
    >>> messages = {i: code.combine(i, held(i)) for i in (0, 1, 3)}
    >>> np.allclose(code.decode(messages), sum(grads.values()))
    True
    """

    _params = ("n", "s", "scheme", "field")

    def __init__(self, n: int, s: int, scheme: str = "cyclic", field="real"):
        super().__init__(n, field)
        self._s = check_int(s, "s", minimum=0)
        if self._s >= self.n:
            raise ValueError(f"Argument 's' must be less than n={self.n}, not {self._s}.")
        self._scheme = check_choice(scheme, "scheme", _SCHEMES)
        if scheme == "fractional" and self.n % (self._s + 1):
            raise ValueError(
                f"Argument 's' must have s + 1 dividing n={self.n} for the fractional scheme, "
                f"not {self._s}."
            )
        if self.field.exact and self.n > self.field.p:
            field = self.field
            raise ValueError(
                f"Argument 'n' must be at most p={field.p} over {field.name}, not {n}."
            )
        self._assignment = tuple(self._partitions(i) for i in range(self.n))
        self._matrix = self._build_matrix()

    @property
    def s(self) -> int:
        return self._s

    @property
    def scheme(self) -> str:
        return self._scheme

    @property
    def recovery_threshold(self) -> int:
        """n − s: every set of that many workers decodes (fractional codes may need fewer)."""
        return self.n - self._s

    @property
    def work_share(self) -> float:
        """(s + 1)/n: a worker computes the partial gradients of s + 1 of the n partitions."""
        return (self._s + 1) / self.n

    @property
    def storage(self) -> tuple[float]:
        """``((s + 1)/n,)``: s + 1 of the n data partitions."""
        return ((self._s + 1) / self.n,)

    @property
    def assignment(self) -> tuple[tuple[int, ...], ...]:
        """``assignment[i]``: the s + 1 data partitions worker i holds, sorted."""
        return self._assignment

    @property
    def matrix(self) -> np.ndarray:
        """The n × n encoding matrix B: ``m_i = Σ_j B[i, j] · g_j``."""
        return self._matrix.copy()

    def _partitions(self, i: int) -> tuple[int, ...]:
        if self._scheme == "fractional":
            first = i - i % (self._s + 1)
            return tuple(range(first, first + self._s + 1))
        return tuple(sorted((i + t) % self.n for t in range(self._s + 1)))

    def _build_matrix(self) -> np.ndarray:
        n = self.n
        holds = np.zeros((n, n), dtype=bool)
        for i, parts in enumerate(self._assignment):
            holds[i, list(parts)] = True
        if self._scheme == "fractional":
            return holds.astype(np.float64 if self.is_real else np.int64)
        if self.is_real:
            return _cyclic_real(n, self._s)
        # B[i, j] = Π_{l lacks j} (i − l) mod p: a factor 1 for the workers that hold j.
        differences = (np.arange(n)[:, None] - np.arange(n)[None, :]) % self.field.p
        GF = self.field.galois_field
        columns = [np.prod(GF(np.where(holds[:, j], 1, differences)), axis=1) for j in range(n)]
        return np.stack(columns, axis=1).view(np.ndarray).astype(np.int64)

    # -- decodability ----------------------------------------------------------------
    def can_decode(self, indices) -> bool:
        indices = self._check_indices(indices)
        if self._scheme == "fractional":
            return len(self._groups(indices)) == self.n // (self._s + 1)
        return len(indices) >= self.recovery_threshold

    def decoding_margin(self, indices) -> int:
        """Fractional: responses of the scarcest group beyond the first (minus the groups
        missing); cyclic: ``len(indices) - (n - s)``."""
        indices = self._check_indices(indices)
        if self._scheme == "fractional":
            groups = (i // (self._s + 1) for i in indices)
            return self._cover_margin(groups, self.n // (self._s + 1))
        return len(indices) - self.recovery_threshold

    def _groups(self, indices: tuple[int, ...]) -> dict[int, int]:
        """Group of s + 1 workers → its first worker among ``indices``."""
        first: dict[int, int] = {}
        for i in indices:
            first.setdefault(i // (self._s + 1), i)
        return first

    def _select(self, indices):
        if self._scheme == "fractional":
            return tuple(sorted(self._groups(indices).values()))
        if not self.is_real:
            return indices[: self.recovery_threshold]
        return _blocks.best_conditioned(indices, self.recovery_threshold, self._decoding_system)

    def _decoding_system(self, used: tuple[int, ...]) -> np.ndarray:
        """The rows ``B_S`` of the system ``aᵀ B_S = 1ᵀ`` decoding from ``used`` solves."""
        return self._matrix[list(used)]

    def _linear(self, used):
        """Fractional: each group repeats one message. Cyclic over GF(p): a message is a
        value at i of a polynomial of degree n − s − 1; over the reals it lies in the
        (n − s)-dimensional column space of B (its leading left singular vectors)."""
        if self._scheme == "fractional":
            groups = {}
            for i in used:
                groups.setdefault(i // (self._s + 1), []).append(i)
            if self.field.exact:
                return tuple(Linear.reed_solomon(g, g, 1) for g in groups.values())
            return tuple(Linear(tuple(g), np.ones((len(g), 1, 1))) for g in groups.values())
        if self.field.exact:
            return (Linear.reed_solomon(used, used, self.recovery_threshold),)
        basis = np.linalg.svd(self._matrix)[0][:, : self.recovery_threshold]
        return (Linear(used, basis[list(used)][:, None, :]),)

    def _check_encoded(self):
        """Nothing to check: workers encode their own gradients with :meth:`combine`."""

    # -- the worker's side -------------------------------------------------------------
    def combine(self, i: int, partials: Mapping[int, np.ndarray]) -> np.ndarray:
        """Worker i's coded message ``Σ_j B[i, j] · g_j`` from its partial gradients.

        Args:
            i: the worker index.
            partials: partition index → partial gradient, for exactly ``assignment[i]``;
                all of one shape (float32 stays float32 over the reals). NaN or Inf is passed
                on: a diverging model is for the master to report, not the worker.
        """
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < self.n:
            raise ValueError(f"Argument 'i' must be a worker index in 0..{self.n - 1}, not {i!r}.")
        if not isinstance(partials, Mapping):
            raise TypeError(
                f"Argument 'partials' must be a mapping of partition index to gradient, "
                f"not {type(partials).__name__}."
            )
        parts = self._assignment[i]
        if sorted(partials) != list(parts):
            raise ValueError(
                f"Argument 'partials' must hold the partitions {list(parts)} of worker {i}, "
                f"not {sorted(partials)}."
            )
        # non-finite partials give a non-finite message: training's divergence, for the master
        arrays = [self.field.validate(partials[j], f"partials[{j}]", finite=False) for j in parts]
        for j, array in zip(parts, arrays, strict=True):
            if array.shape != arrays[0].shape:
                raise ValueError(
                    f"Argument 'partials[{j}]' must have the shape {arrays[0].shape} of "
                    f"partials[{parts[0]}], not {array.shape}."
                )
        coefficients = self._matrix[i, list(parts)][None, :]
        message = self.field.combine(coefficients, np.stack(arrays))[0]
        return message.astype(self.field.result_dtype(*arrays), copy=False)

    # -- the master's side -------------------------------------------------------------
    def _decoding_vector(self, used: tuple[int, ...]) -> np.ndarray:
        """``a`` with ``aᵀ B_used = 1ᵀ`` (cached per worker set)."""
        vector = self._decoders.get(used)
        if vector is None:
            if self._scheme == "fractional":
                vector = np.ones(len(used), dtype=self._matrix.dtype)
            elif self.is_real:
                system = self._decoding_system(used).T
                vector = np.linalg.lstsq(system, np.ones(self.n), rcond=None)[0]
            else:
                vector = barycentric_weights(np.array(used, dtype=np.int64), self.field)
            self._decoders[used] = vector
        return vector

    def _decode(self, responses):
        messages = self._stack(responses)
        vector = self._decoding_vector(tuple(responses))[None, :]
        if self.field.exact:
            return self.field.combine(vector, messages % self.field.p)[0]
        dtype = np.result_type(messages.dtype, np.float32)
        return self.field.combine(vector, messages)[0].astype(dtype, copy=False)


def _cyclic_real(n: int, s: int) -> np.ndarray:
    """Real B for the cyclic scheme: shifts of a (nega)cyclic MDS generator, columns ÷ v.

    The s spectral zeros ``z_t = (n − s + 1)/2 + t`` are centred on n/2 and consecutive, so
    the code is MDS (BCH bound) and any n − s shifts of ``g`` span it; they are integers
    (cyclic code, ``x^n − 1``) when n − s is odd and half-integers (negacyclic, ``x^n + 1``)
    otherwise. The columns of B are divided by the codeword v closest to ``1`` so that ``1``
    is in every span; rows are normalised to unit length.
    """
    negacyclic = (n - s) % 2 == 0
    zeros = (n - s + 1) / 2 + np.arange(s)
    g = np.atleast_1d(np.poly(np.exp(2j * np.pi * zeros / n)))[::-1].real
    B = np.zeros((n, n))
    for i in range(n):
        columns = (i + np.arange(s + 1)) % n
        wrapped = i + np.arange(s + 1) >= n
        B[i, columns] = g * np.where(wrapped & negacyclic, -1.0, 1.0)
    B /= _projected_ones(n, zeros)[None, :]
    return B / np.linalg.norm(B, axis=1, keepdims=True)


def _projected_ones(n: int, zeros: np.ndarray) -> np.ndarray:
    """The orthogonal projection of ``1`` onto the code: ``1`` minus its spectrum at the zeros.

    ``e_z(t) = exp(2πi z t/n)`` for the n (half-)integer frequencies z are orthogonal with
    ``|e_z|² = n``, and the code is the span of those off the zeros, so
    ``v = 1 − Σ_{z∈Z} ⟨1, e_z⟩ e_z / n``. The removed part is small (``|⟨1, e_z⟩| =
    1/|sin(πz/n)| ≈ 1`` near n/2): ``v = 1`` for cyclic codes, and over every n ≤ 256,
    s < n, ``min |v_t| ≥ max |v_t| / n``.
    """
    spectrum = np.exp(2j * np.pi * np.outer(np.arange(n), zeros) / n)
    return 1.0 - (spectrum @ spectrum.conj().sum(axis=0)).real / n
