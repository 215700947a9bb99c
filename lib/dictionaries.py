r"""Dictionaries at a controlled coherence behind one interface, with fast products.

Theorem 3.2 is a statement about :math:`h\to\infty` at a fixed incoherence parameter :math:`\mu`
(coherence :math:`\mu/\sqrt n`).  Gaussian dictionaries cannot hold :math:`\mu` fixed (their
coherence grows like :math:`\sqrt{\log h}`); the frames here do (the chapter book/04b_fixed_coherence):

* :func:`identity_hadamard`: :math:`A^* = [I_n, H_n/\sqrt n]` (:math:`h = 2n`, :math:`\mu = 1`);
* :func:`kerdock`: real mutually unbiased bases from the Kerdock set, :math:`n = 2^{m+1}` with
  :math:`m` odd, any number of whole bases up to :math:`n/2+1` (:math:`h\le n(n+2)/2`), every
  cross-basis inner product :math:`\pm1/\sqrt n`, so :math:`\mu = 1` exactly;
* :meth:`StructuredDictionary.randomized`: :math:`A^*\mapsto QA^*PD` with random column signs
  :math:`D`, a random permutation :math:`P` and the structured rotation
  :math:`Q = H D_1 H D_2/n`; the Gram matrix is unchanged up to order and sign;
* :class:`DenseDictionary`: any explicit dictionary, e.g. the Gaussian family of
  :func:`lib.model.random_dictionary` (:func:`gaussian`).

Every block of a structured frame is :math:`\operatorname{diag}(\pm1)\,H/\sqrt n`, so the products
:math:`A^*x` (:meth:`~StructuredDictionary.matvec`) and :math:`A^{*\top}y`
(:meth:`~StructuredDictionary.rmatvec`) go through the Walsh–Hadamard transform :func:`fwht`
(two small BLAS products per vector, :math:`O(h\sqrt n)`) instead of a product with a dense
:math:`n\times h` matrix, and rows of :math:`A^{*\top}` are generated on demand
(:meth:`~StructuredDictionary.rows`).  Gram entries are exact
(:meth:`~StructuredDictionary.gram`): a pair of blocks meets in the Walsh spectrum of the product
of their sign patterns, integers divided by :math:`n`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from lib import _validate as check
from lib import model

__all__ = [
    "fwht",
    "kerdock_signs",
    "max_bases",
    "StructuredDictionary",
    "DenseDictionary",
    "identity_hadamard",
    "kerdock",
    "gaussian",
]

ROW_ENTRIES = 1 << 22  # entries of a block of rows generated at once (32 MB)

# x^m + ... (bit i = coefficient of x^i), irreducible over GF(2), for the odd m of n = 2^(m+1) <= 2^14
IRREDUCIBLE = {1: 0b11, 3: 0b1011, 5: 0b100101, 7: 0b10000011, 9: 0b1000010001, 11: 0b100000000101,
               13: 0b10000000011011}


def _sylvester(n: int) -> np.ndarray:
    r"""Sylvester's :math:`H_n` (:math:`n` a power of 2) as floats, built by Kronecker doubling."""
    H = np.ones((1, 1))
    while H.shape[0] < n:
        H = np.block([[H, H], [H, -H]])
    return H


@lru_cache(maxsize=16)
def _factors(n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Sylvester factors :math:`H_a, H_b` with :math:`H_n = H_a\otimes H_b`, :math:`ab = n`, :math:`a\le b\approx\sqrt n`."""
    a = 1 << ((n.bit_length() - 1) // 2)
    return _sylvester(a), _sylvester(n // a)


def fwht(x: np.ndarray) -> np.ndarray:
    r"""Unnormalised fast Walsh–Hadamard transform along the last axis: :math:`x\mapsto xH_n`.

    :math:`H_n` is Sylvester's :math:`\pm1` Hadamard matrix (:func:`scipy.linalg.hadamard`,
    symmetric, :math:`H_n^2 = nI`), :math:`n` a power of 2.  With :math:`H_n = H_a\otimes H_b`
    (:math:`ab = n`, both :math:`\approx\sqrt n`) a vector reshaped to an :math:`a\times b` matrix
    :math:`X` maps to :math:`H_aXH_b`: two small matrix products (BLAS), :math:`O(n\sqrt n)` per
    vector but far faster than :math:`\log_2 n` butterfly passes in numpy at the book's sizes, and
    exact on integer inputs (every partial sum is an integer).  Vectorised over the leading axes.
    Returns a new float array.
    """
    y = check.real_array(x, "x", ndim=(1, 2, 3)).astype(np.float64, copy=False)
    n = y.shape[-1]
    if n < 1 or n & (n - 1):
        raise ValueError(f"x must have a power-of-2 length along its last axis, got {n}")
    Ha, Hb = _factors(n)
    X = (y.reshape(-1, Hb.shape[0]) @ Hb).reshape(-1, Ha.shape[0], Hb.shape[0])  # X H_b, one product
    return np.einsum("ij,ljk->lik", Ha, X, optimize=True).reshape(y.shape)  # H_a (X H_b), one product


def _gf_mul(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """Products in GF(2^m) (elements as integers < 2^m), elementwise."""
    poly = IRREDUCIBLE[m]
    a, b = np.asarray(a, dtype=np.int64).copy(), np.asarray(b, dtype=np.int64).copy()
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.int64)
    for _ in range(m):
        out ^= np.where(b & 1, a, 0)
        b >>= 1
        a <<= 1
        a = np.where(a >> m, a ^ poly, a)
    return out


def _trace(z: np.ndarray, m: int) -> np.ndarray:
    r""":math:`\mathrm{Tr}(z) = z + z^2 + \dots + z^{2^{m-1}}\in GF(2)`, as 0/1 integers."""
    total, power = np.zeros_like(z), z
    for _ in range(m):
        total ^= power
        power = _gf_mul(power, power, m)
    return total & 1


def max_bases(n: int) -> int:
    """Number of orthonormal bases of the Kerdock frame in dimension ``n`` (identity included): ``n/2 + 1``."""
    n = check.integer(n, "n", minimum=4)
    m = n.bit_length() - 2
    if n & (n - 1) or m % 2 == 0 or m not in IRREDUCIBLE:
        raise ValueError(f"n must be 2^(m+1) with m odd, 4 <= n <= 16384 (4, 16, 64, 256, 1024, 4096, 16384), got {n}")
    return n // 2 + 1


def kerdock_signs(n: int, s: int) -> np.ndarray:
    r"""The sign pattern :math:`(-1)^{Q_s(v)}` of the Kerdock basis :math:`B_s = \operatorname{diag}((-1)^{Q_s})H_n/\sqrt n`.

    With :math:`n = 2^{m+1}`, :math:`m` odd, :math:`v = (x, e)\in GF(2^m)\times GF(2)` (bits
    ``x = v mod 2^m``, ``e = v >> m``) and
    :math:`Q_s(x, e) = \sum_{j=1}^{(m-1)/2}\mathrm{Tr}((sx)^{2^j+1}) + e\,\mathrm{Tr}(sx)`;
    ``s`` in ``[0, 2^m)`` (``s = 0``: all signs +1, the plain Hadamard basis).
    """
    n = check.integer(n, "n", minimum=4)
    max_bases(n)  # validates n
    m = n.bit_length() - 2
    s = check.integer(s, "s", minimum=0, maximum=2**m - 1)
    v = np.arange(n, dtype=np.int64)
    z = _gf_mul(np.full(n, s, dtype=np.int64), v & (2**m - 1), m)
    q = (v >> m) * _trace(z, m)
    power = z
    for _ in range((m - 1) // 2):
        power = _gf_mul(power, power, m)  # z^(2^j)
        q ^= _trace(_gf_mul(power, z, m), m)
    return np.where(q & 1, -1.0, 1.0)


def _indices(value: object, name: str, h: int) -> np.ndarray:
    """Atom indices: an integer array (integral floats accepted) with entries in ``[0, h)``; empty allowed."""
    array = np.asarray(value) if not isinstance(value, (str, bytes)) else value
    if not (isinstance(array, np.ndarray) and array.dtype.kind in "iu"):
        array = check.real_array(value, name, empty=True)
        if np.any(array != np.round(array)):
            raise ValueError(f"{name} must hold integer indices")
    if array.size and (array.min() < 0 or array.max() >= h):
        raise ValueError(f"{name} must hold indices in [0, {h - 1}]")
    return array.astype(np.int64, copy=False)


def _pair(i: object, j: object, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``i`` and ``j`` of :meth:`gram`, broadcast together."""
    i, j = _indices(i, "i", h), _indices(j, "j", h)
    try:
        return np.broadcast_arrays(i, j)
    except ValueError as exc:
        raise ValueError(f"i and j must broadcast together, got shapes {i.shape} and {j.shape}") from exc


def _operand(value: object, name: str, rows: int) -> np.ndarray:
    """A vector ``(rows,)`` or a matrix ``(rows, c)`` for :meth:`matvec`/:meth:`rmatvec`."""
    array = check.real_array(value, name, ndim=(1, 2))
    if array.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} rows, got shape {array.shape}")
    return array


def _random_signs(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=size)


def _hadamard_rows(n: int, index: np.ndarray) -> np.ndarray:
    r"""Rows ``index`` of Sylvester's :math:`H_n`, shape ``(len, n)``: with :math:`H_n = H_a\otimes H_b`, row
    :math:`r = r_a b + r_b` is the outer product of rows :math:`r_a` of :math:`H_a` and :math:`r_b` of :math:`H_b`."""
    Ha, Hb = _factors(n)
    high, low = np.divmod(np.asarray(index, dtype=np.int64), Hb.shape[0])
    return (Ha[high][:, :, None] * Hb[low][:, None, :]).reshape(-1, n)


@dataclass(frozen=True, eq=False)
class StructuredDictionary:
    r"""A frame of whole orthonormal bases :math:`[B_0, B_1, \dots]`, each the identity or :math:`\operatorname{diag}(\sigma_b)H_n/\sqrt n`.

    Atom :math:`c` of :math:`A^*` is :math:`d_c\,Q\,B_{b}[:, r]` with
    ``(b, r) = divmod(order[c], n)``, column signs :math:`d_c` and the rotation
    :math:`Q = HD_1HD_2/n` (identity when ``rotation`` is None).

    Attributes
    ----------
    n : int
        Signal dimension, a power of 2.
    signs : tuple of numpy.ndarray or None
        One entry per basis: ``None`` for the identity, else the ``(n,)`` sign pattern :math:`\sigma_b`.
    order : numpy.ndarray
        ``(h,)`` permutation of the atoms (atom ``c`` is the frame's atom ``order[c]``).
    column_signs : numpy.ndarray
        ``(h,)`` signs :math:`d_c`.
    rotation : tuple of numpy.ndarray or None
        ``(D1, D2)`` sign vectors of :math:`Q`, or None.
    """

    n: int
    signs: tuple
    order: np.ndarray
    column_signs: np.ndarray
    rotation: tuple | None = None
    _spectra: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def h(self) -> int:
        """Number of atoms."""
        return self.n * len(self.signs)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, h)``."""
        return self.n, self.h

    def _rotate(self, y: np.ndarray, transpose: bool) -> np.ndarray:
        """:math:`Qy` (or :math:`Q^\\top y`) along the last axis."""
        if self.rotation is None:
            return y
        d1, d2 = self.rotation
        if transpose:
            return d2 * fwht(d1 * fwht(y)) / self.n
        return fwht(d1 * fwht(d2 * y)) / self.n

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        r""":math:`A^{*\top}y` for ``y`` of shape ``(n,)`` or ``(n, c)``: shape ``(h,)`` or ``(h, c)``; :math:`O(h\sqrt n)` per column.

        The Hadamard-type bases are transformed together, :math:`(\sigma_b\odot y)H_n/\sqrt n` for all
        :math:`b` in one :func:`fwht` call.
        """
        y = _operand(y, "y", self.n)
        rows = np.atleast_2d(self._rotate(y.T, transpose=True))  # (c, n): one row per column of y
        frame = np.empty((rows.shape[0], len(self.signs), self.n))
        hadamard = [b for b, s in enumerate(self.signs) if s is not None]
        if hadamard:
            frame[:, hadamard] = fwht(rows[:, None, :] * self._scaled_signs)
        frame[:, [b for b, s in enumerate(self.signs) if s is None]] = rows[:, None, :]
        out = np.take(frame.reshape(rows.shape[0], self.h), self.order, axis=1)
        out *= self.column_signs
        return out.T if y.ndim == 2 else out[0]

    @cached_property
    def _scaled_signs(self) -> np.ndarray:
        r"""The sign patterns :math:`\sigma_b/\sqrt n` of the Hadamard-type bases, ``(bases, n)``."""
        return np.array([s for s in self.signs if s is not None]).reshape(-1, self.n) / np.sqrt(self.n)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        r""":math:`A^*x` for ``x`` of shape ``(h,)`` or ``(h, c)``: shape ``(n,)`` or ``(n, c)``."""
        x = _operand(x, "x", self.h)
        frame = np.empty(x.T.shape)
        frame[..., self.order] = x.T * self.column_signs
        total = 0.0
        for b, s in enumerate(self.signs):
            part = frame[..., b * self.n:(b + 1) * self.n]
            total = total + (part if s is None else s * fwht(part) / np.sqrt(self.n))
        return self._rotate(np.asarray(total), transpose=False).T

    def rows(self, index: np.ndarray) -> np.ndarray:
        r"""Rows ``index`` of :math:`A^{*\top}` (the atoms as rows), shape ``(len(index), n)``, generated without forming :math:`A^*`.

        Atom :math:`c` in block :math:`b` at row :math:`r` is :math:`d_cQ(\sigma_b\odot H_n[r])/\sqrt n`
        (or :math:`d_cQe_r`): :math:`O(n)` per atom without the rotation, :math:`O(n\sqrt n)` with it.
        """
        index = _indices(index, "index", self.h)
        if index.ndim != 1:
            raise ValueError(f"index must be a 1-d array, got shape {index.shape}")
        block, row = np.divmod(self.order[index], self.n)
        out = np.zeros((index.size, self.n))
        for b, s in enumerate(self.signs):
            here = np.flatnonzero(block == b)
            if s is None:
                out[here, row[here]] = 1.0
            else:
                out[here] = _hadamard_rows(self.n, row[here]) * (s / np.sqrt(self.n))
        out *= self.column_signs[index, None]
        return self._rotate(out, transpose=False)

    def columns(self, index: np.ndarray) -> np.ndarray:
        """The atoms ``index`` as an ``(n, len(index))`` array (:meth:`rows` transposed)."""
        return self.rows(index).T

    def dense(self) -> np.ndarray:
        """:math:`A^*` as an ``(n, h)`` array (small sizes)."""
        return self.rmatvec(np.eye(self.n)).T

    @cached_property
    def At(self) -> np.ndarray:
        r""":math:`A^{*\top}` ``(h, n)``, C-contiguous, by blocks of :meth:`rows`, computed once."""
        out = np.empty((self.h, self.n))
        step = max(1, ROW_ENTRIES // self.n)
        for start in range(0, self.h, step):
            out[start:start + step] = self.rows(np.arange(start, min(start + step, self.h)))
        return out

    def _spectrum(self, a: int, b: int) -> np.ndarray:
        r""":math:`n\langle B_a[:, r], B_b[:, r']\rangle` as a function of ``r ^ r'`` (Walsh spectrum of :math:`\sigma_a\sigma_b`)."""
        key = (min(a, b), max(a, b))
        if key not in self._spectra:
            sa, sb = self.signs[key[0]], self.signs[key[1]]
            self._spectra[key] = fwht(sa * sb)
        return self._spectra[key]

    def gram(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        r"""Exact Gram entries :math:`\langle A^*_i, A^*_j\rangle` for the index pairs ``(i, j)`` (broadcast).

        Two atoms of one basis meet in 0 or 1; an identity atom :math:`e_r` and an atom of
        :math:`B_b` in :math:`\sigma_b[r]H[r, r']/\sqrt n`; atoms of two Hadamard-type blocks in
        the Walsh spectrum of :math:`\sigma_a\sigma_b` at :math:`r\oplus r'`, divided by :math:`n`.
        The rotation :math:`Q` is orthogonal and drops out.
        """
        i, j = _pair(i, j, self.h)
        (bi, ri), (bj, rj) = np.divmod(self.order[i.ravel()], self.n), np.divmod(self.order[j.ravel()], self.n)
        out = np.zeros(bi.size)
        code = bi * len(self.signs) + bj
        order = np.argsort(code, kind="stable")
        pairs, starts = np.unique(code[order], return_index=True)
        for pair, part in zip(pairs, np.split(order, starts[1:])):
            a, b = divmod(int(pair), len(self.signs))
            out[part] = self._block_gram(a, b, ri[part], rj[part])
        out = out.reshape(i.shape)
        return out * self.column_signs[i] * self.column_signs[j]

    def _block_gram(self, a: int, b: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gram entries between atoms ``x`` of basis ``a`` and atoms ``y`` of basis ``b`` (before column signs)."""
        sa, sb = self.signs[a], self.signs[b]
        if a == b:
            return (x == y).astype(float)
        if sa is None or sb is None:
            r, c, s = (x, y, sb) if sa is None else (y, x, sa)
            return s[r] * np.where(np.bitwise_count(r & c) & 1, -1.0, 1.0) / np.sqrt(self.n)
        return self._spectrum(a, b)[x ^ y] / self.n

    @cached_property
    def coherence(self) -> float:
        r"""Exact :math:`\max_{i\ne j}|\langle A^*_i, A^*_j\rangle|` from the block spectra (0 for one basis)."""
        best = 0.0
        for a in range(len(self.signs)):
            for b in range(a + 1, len(self.signs)):
                if self.signs[a] is None or self.signs[b] is None:
                    best = max(best, 1.0 / np.sqrt(self.n))
                else:
                    best = max(best, float(np.max(np.abs(self._spectrum(a, b)))) / self.n)
        return best

    def randomized(self, rng: np.random.Generator, *, rotate: bool = True) -> "StructuredDictionary":
        r"""The same frame with random column signs, a random column order and (``rotate``) :math:`Q = HD_1HD_2/n`.

        The Gram matrix is unchanged up to the order and the signs of the atoms, so the coherence is too.
        """
        rng = check.generator(rng)
        rotate = check.flag(rotate, "rotate")
        rotation = (_random_signs(rng, self.n), _random_signs(rng, self.n)) if rotate else self.rotation
        return StructuredDictionary(self.n, self.signs, rng.permutation(self.order),
                                    self.column_signs * _random_signs(rng, self.h), rotation)


@dataclass(frozen=True, eq=False)
class DenseDictionary:
    r"""An explicit dictionary :math:`A^*` ``(n, h)`` with unit columns behind the interface of :class:`StructuredDictionary`."""

    A: np.ndarray

    def __post_init__(self) -> None:
        check.matrix(self.A, "A")

    @property
    def n(self) -> int:
        """Signal dimension."""
        return self.A.shape[0]

    @property
    def h(self) -> int:
        """Number of atoms."""
        return self.A.shape[1]

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, h)``."""
        return self.A.shape

    def matvec(self, x: np.ndarray) -> np.ndarray:
        r""":math:`A^*x`."""
        return self.A @ _operand(x, "x", self.h)

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        r""":math:`A^{*\top}y`."""
        return self.A.T @ _operand(y, "y", self.n)

    def rows(self, index: np.ndarray) -> np.ndarray:
        r"""Rows ``index`` of :math:`A^{*\top}` (the atoms as rows), ``(len(index), n)``."""
        return self.columns(index).T

    def columns(self, index: np.ndarray) -> np.ndarray:
        """The atoms ``index``, ``(n, len(index))``."""
        index = _indices(index, "index", self.h)
        if index.ndim != 1:
            raise ValueError(f"index must be a 1-d array, got shape {index.shape}")
        return self.A[:, index]

    def dense(self) -> np.ndarray:
        """:math:`A^*` itself."""
        return self.A

    @cached_property
    def At(self) -> np.ndarray:
        r""":math:`A^{*\top}` ``(h, n)``, C-contiguous."""
        return np.ascontiguousarray(self.A.T)

    def gram(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        r"""Gram entries :math:`\langle A^*_i, A^*_j\rangle` for the index pairs ``(i, j)`` (broadcast)."""
        i, j = _pair(i, j, self.h)
        return np.einsum("np,np->p", self.A[:, i.ravel()], self.A[:, j.ravel()]).reshape(i.shape)

    @cached_property
    def coherence(self) -> float:
        r""":math:`\max_{i\ne j}|\langle A^*_i, A^*_j\rangle|` (:func:`lib.model.coherence`)."""
        return model.coherence(self.A)


def identity_hadamard(n: int) -> StructuredDictionary:
    r""":math:`A^* = [I_n, H_n/\sqrt n]`, ``n`` a power of 2: :math:`h = 2n`, coherence exactly :math:`1/\sqrt n`."""
    n = check.integer(n, "n", minimum=2)
    if n & (n - 1):
        raise ValueError(f"n must be a power of 2, got {n}")
    check.allocation("n", 2 * n * 16.0)  # the order and column signs, (2n,) each
    return StructuredDictionary(n, (None, np.ones(n)), np.arange(2 * n), np.ones(2 * n))


def kerdock(n: int, bases: int) -> StructuredDictionary:
    r"""The identity and the first ``bases - 1`` Kerdock bases :math:`B_0, B_1, \dots` (:func:`kerdock_signs`): :math:`h = n\cdot` ``bases``.

    ``n = 2^(m+1)`` with ``m`` odd (4, 16, 64, 256, 1024, 4096, 16384) and
    ``1 <= bases <= n/2 + 1``; with two or more bases the coherence is exactly :math:`1/\sqrt n`
    (:math:`\mu = 1`).  ``kerdock(n, 4)`` is the book's family :math:`h = 4n`.
    """
    n = check.integer(n, "n", minimum=4)
    most = max_bases(n)
    bases = check.integer(bases, "bases", minimum=1, maximum=most)
    signs = (None,) + tuple(kerdock_signs(n, s) for s in range(bases - 1))
    return StructuredDictionary(n, signs, np.arange(n * bases), np.ones(n * bases))


def gaussian(n: int, h: int, rng: np.random.Generator) -> DenseDictionary:
    """The Gaussian family of :func:`lib.model.random_dictionary` behind the same interface."""
    return DenseDictionary(model.random_dictionary(n, h, rng))
